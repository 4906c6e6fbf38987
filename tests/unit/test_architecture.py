"""The rooms of the house and who may import whom (docs/architecture.md), pinned.

Imports are read from the source with ``ast``: module-level, function-level (the lazy ones) and type-only
imports all count, because what a room depends on is its design, not only what happens to run first.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest

import streambridge

PACKAGE = Path(streambridge.__file__).parent

ROOMS = ("_sources", "_engine", "_targets", "_io", "_stores", "_tools", "testing")
TOP_LEVEL = {"__init__", "_bridge", "_errors", "_lambda_types"}
"""The modules outside the rooms: the front door, the exception tree, the public API, Lambda's shapes."""

PURE_CORE_ROOMS = ("streambridge._targets",)
PURE_CORE_MODULES = (
    "streambridge._engine.lanes",
    "streambridge._engine.plan",
    "streambridge._engine.batch",
    "streambridge._engine.result",
)
IO_TYPES = "streambridge._io.transport"
"""The one module of ``_io`` the pure core may import: the Transport and Auth protocols, HttpResponse."""
NOT_IN_THE_PURE_CORE = (
    "streambridge._io",
    "streambridge._stores",
    "streambridge._tools",
    "streambridge.testing",
    "aiohttp",
    "botocore",
    "boto3",
    "gql",
    "graphql",
)
_LIBRARY = {
    "__init__",
    "_bridge",
    "_errors",
    "_lambda_types",
    "_sources",
    "_engine",
    "_targets",
    "_io",
    "_stores",
}
MAY_IMPORT = {
    "_errors": set(),
    "_lambda_types": set(),
    "_sources": {"_errors"},
    "_io": {"_errors"},
    "_stores": {"_errors", "_sources"},
    "_targets": {"_errors", "_sources", "_io.transport"},
    "_engine": {"_errors", "_lambda_types", "_sources", "_targets", "_io.transport"},
    "_bridge": _LIBRARY - {"__init__"},
    "__init__": _LIBRARY,
    "testing": _LIBRARY,
    "_tools": _LIBRARY | {"testing"},
}
"""Room -> what else of streambridge it may import: rooms, or single modules (docs/architecture.md)."""
MAY_IMPORT_FOR_TYPES = {"_errors": {"_sources"}}
"""Room -> rooms it may import only under ``if TYPE_CHECKING:``: an error names the record it is about."""
OFF_THE_LAMBDA_PATH = ("streambridge._tools", "streambridge.testing")
NOT_ON_THE_LAMBDA_PATH = ("graphql", "gql")
"""graphql-core alone costs ~80 ms of cold start: the harness, ``check`` and ``doctor`` only."""

OPTIONAL_IMPORTS = {
    "idna": "used when installed (yarl, aiohttp's URL library, requires it), else the stdlib's IDNA 2003",
}
"""Third-party modules the Lambda path imports without declaring them, each with why."""

KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}
"""(rule, module) -> why, for a break of a rule not fixed yet; rule: "rooms", "pure core", "library" or
"lambda path". Its case is expected to fail, strictly: once fixed, it fails until its entry goes."""


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, not ``__init__``)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = module_files()


def imports_of(source: str, module: str, *, is_package: bool) -> dict[str, bool]:
    """The absolute names ``source`` imports anywhere in it -> whether it is imported at run time (False:
    only under ``if TYPE_CHECKING:``). ``from a import b`` is ``a.b`` if that is a module of the package,
    else ``a``."""
    tree = ast.parse(source)
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per dot after the first
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            found[name] = found.get(name, False) or id(node) not in typing_only
    return found


def imports(module: str) -> dict[str, bool]:
    path = MODULES[module]
    return imports_of(path.read_text(), module, is_package=path.name == "__init__.py")


def cases(test: str, modules: list[str]) -> list[object]:
    """One case per module; a known violation is expected to fail."""
    return [
        pytest.param(
            module,
            id=module.removeprefix("streambridge."),
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_VIOLATIONS[test, module])]
            if (test, module) in KNOWN_VIOLATIONS
            else [],
        )
        for module in modules
    ]


def room(name: str) -> str | None:
    """The room of a module of streambridge (``__init__`` for the package itself); None for others."""
    parts = name.split(".")
    if parts[0] != "streambridge":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def may_import(allowed: set[str], name: str) -> bool:
    if name == "streambridge":
        return "__init__" in allowed
    return within(name, tuple(f"streambridge.{entry}" for entry in allowed if entry != "__init__"))


PURE_CORE = [m for m in MODULES if within(m, PURE_CORE_ROOMS) or m in PURE_CORE_MODULES]
LAMBDA_PATH = [m for m in MODULES if not within(m, OFF_THE_LAMBDA_PATH)]


# --- the rooms --------------------------------------------------------------------------------------------


def test_the_rooms_are_folders_and_nothing_else_lies_at_the_top() -> None:
    # GIVEN the package as a newcomer sees it in the tree
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    # THEN every room is a folder, and a module outside them is one of the few top-level ones
    assert folders == set(ROOMS)
    assert modules == TOP_LEVEL, "put a new module in its room, or name it in TOP_LEVEL and the docs"


def test_the_import_reader_sees_every_import() -> None:
    # GIVEN a module importing at module level, in a function, for type checking only, and relatively
    source = """
from typing import TYPE_CHECKING
import aiohttp.web
from streambridge._io import transport
from . import result
from .. import _errors
if TYPE_CHECKING:
    from botocore.credentials import Credentials
def lazy():
    import graphql
"""
    # WHEN read as a module of the engine
    found = imports_of(source, "streambridge._engine.plan", is_package=False)
    # THEN every one of them is found, by its absolute name, the type-only one as such
    assert found == {
        "typing": True,
        "aiohttp.web": True,
        "streambridge._io.transport": True,
        "streambridge._engine.result": True,
        "streambridge._errors": True,
        "botocore.credentials": False,
        "graphql": True,
    }


def test_the_rules_cover_the_modules_they_name() -> None:
    assert set(PURE_CORE_MODULES) <= set(PURE_CORE)
    assert len(PURE_CORE) > len(PURE_CORE_MODULES), "the _targets room has modules"
    assert "streambridge._bridge" in LAMBDA_PATH
    assert "streambridge._tools.cli" not in LAMBDA_PATH


# --- who may import whom ----------------------------------------------------------------------------------


def test_every_room_has_its_rule() -> None:
    assert set(MAY_IMPORT) == set(ROOMS) | TOP_LEVEL


@pytest.mark.parametrize("module", cases("rooms", list(MODULES)))
def test_a_room_imports_only_the_rooms_it_may(module: str) -> None:
    own = room(module)
    assert own is not None
    wrong = {
        name
        for name, at_run_time in imports(module).items()
        if room(name) not in (None, own)
        and not may_import(MAY_IMPORT[own], name)
        and (at_run_time or not may_import(MAY_IMPORT_FOR_TYPES.get(own, set()), name))
    }
    assert not wrong, f"{module} ({own}) imports {sorted(wrong)}; see docs/architecture.md"


@pytest.mark.parametrize("module", cases("pure core", PURE_CORE))
def test_the_pure_core_does_no_io(module: str) -> None:
    # GIVEN a module of the pure core (records -> planned, ordered, batched requests; answers -> outcomes)
    # THEN it imports no I/O, store, tool or harness, only the transport's types
    wrong = {name for name in imports(module) if within(name, NOT_IN_THE_PURE_CORE) and name != IO_TYPES}
    assert not wrong, f"{module} imports {sorted(wrong)}"


@pytest.mark.parametrize("module", cases("library", LAMBDA_PATH))
def test_the_library_never_imports_the_tools_or_the_harness(module: str) -> None:
    wrong = {name for name in imports(module) if within(name, OFF_THE_LAMBDA_PATH)}
    assert not wrong, f"{module} imports {sorted(wrong)}"


@pytest.mark.parametrize("module", cases("lambda path", LAMBDA_PATH))
def test_the_lambda_path_never_imports_graphql_core_or_gql(module: str) -> None:
    # GIVEN a module that `import streambridge` or a decorated handler's invocation can reach
    wrong = {name for name in imports(module) if within(name, NOT_ON_THE_LAMBDA_PATH)}
    assert not wrong, f"{module} imports {sorted(wrong)}"


def test_what_the_lambda_path_imports_is_declared_as_a_dependency() -> None:
    # GIVEN the third-party packages the Lambda path imports
    stdlib = sys.stdlib_module_names
    third_party = {
        name.partition(".")[0]
        for module in LAMBDA_PATH
        for name in imports(module)
        if name.partition(".")[0] not in stdlib and not name.startswith("streambridge")
    } - set(OPTIONAL_IMPORTS)
    # WHEN compared with the runtime dependencies streambridge declares (extras are for tools and tests)
    declared = {
        _normalized(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])
        for requirement in requires("streambridge") or []
        if "extra ==" not in requirement
    }
    distributions = packages_distributions()
    # THEN each is declared directly, not only through another package (gql[aiohttp] is not aiohttp)
    undeclared = {
        name
        for name in third_party
        if not declared.intersection(_normalized(d) for d in distributions.get(name, [name]))
    }
    assert not undeclared


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
