"""The CLI finds a handler by file path anywhere, not only under the working folder (issue 19)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambridge._tools.common import load_handlers

APP = """
from streambridge import ApiKeyAuth, Bridge

bridge = Bridge("https://abc.appsync-api.us-east-1.amazonaws.com/event", ApiKeyAuth("da2-k"))


@bridge.sqs(channel="/rooms/r-1")
def handler(record):
    return record.json()
"""


@pytest.fixture(autouse=True)
def clean_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The modules and path entries a test adds do not outlive it."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("chatpaths", "roomspkg")):
            del sys.modules[name]


def test_a_file_beside_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the handler in ../chat/chatpaths_app.py, run from ./work
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "chatpaths_app.py").write_text(APP)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    # WHEN loaded by its relative path
    [(label, handler)] = load_handlers("../chat/chatpaths_app.py:handler")
    # THEN it is that module's handler
    assert label == "chatpaths_app:handler"
    assert handler.__module__ == "chatpaths_app"


def test_an_absolute_path_inside_a_package_keeps_its_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a package whose handler module imports a sibling relatively, outside the working folder
    package = tmp_path / "roomspkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mapping.py").write_text("def shape(record):\n    return record.json()\n")
    (package / "app.py").write_text(
        textwrap.dedent(APP).replace("return record.json()", "return shape(record)")
        + "\nfrom .mapping import shape\n"
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    # WHEN loaded by its absolute path
    [(label, _)] = load_handlers(f"{package / 'app.py'}:handler")
    # THEN it is imported as part of its package
    assert label == "roomspkg.app:handler"


def test_a_path_under_the_working_folder_is_still_a_dotted_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chatpaths").mkdir()
    (tmp_path / "chatpaths" / "__init__.py").write_text("")
    (tmp_path / "chatpaths" / "app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as the CLI makes the working folder importable
    [(label, _)] = load_handlers("./chatpaths/app.py:handler")
    assert label == "chatpaths.app:handler"
