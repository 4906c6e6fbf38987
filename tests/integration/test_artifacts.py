"""What `make dist` and `make layer` ship installs where it goes, and a handler imports from it.

The wheel is built once (as `make dist` does: hatchling without isolation). It goes into a new virtual
environment with its dependencies from the package index (pip's cache serves them after `make test`'s own
install). The slim layer is built for this interpreter and machine (packaging/build_layer.py, as `make layer`
does for Lambda's), unpacked, and its python/ folder put first on sys.path of a new interpreter that has
boto3 and botocore from this environment, as the Lambda runtime does.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"

HANDLER = textwrap.dedent(
    """
    import importlib.util, json, sys
    import streambridge
    from streambridge import ApiKeyAuth, Bridge

    URL = "https://example.appsync-api.us-east-1.amazonaws.com/graphql"
    bridge = Bridge(url=URL, auth=ApiKeyAuth("da2-k"))

    @bridge.dynamodb("mutation P($input: I!) { publish(input: $input) { id } }")
    def handler(record):
        return {"input": record.new_image}

    assert callable(handler)
    print(json.dumps({
        "streambridge": streambridge.__file__,
        "h11": importlib.util.find_spec("h11").origin,
        "gql": importlib.util.find_spec("gql") is not None,
    }))
    """
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--wheel",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    return dist


def _run(python: Path | str, code: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_the_wheel_installs_into_a_new_virtual_environment_and_a_handler_imports(
    built: Path, tmp_path: Path
) -> None:
    # GIVEN the wheel and a new virtual environment
    (wheel,) = built.glob("streambridge-*-py3-none-any.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"

    # WHEN the wheel is installed with its dependencies
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )

    # THEN a handler imports from it, without the testing extra's gql
    found = _run(python, HANDLER)
    assert str(found["streambridge"]).startswith(str(tmp_path / "venv"))
    assert found["gql"] is False


def test_the_wheel_and_sdist_carry_the_license_and_the_typing_marker(built: Path) -> None:
    (wheel,) = built.glob("streambridge-*-py3-none-any.whl")
    (sdist,) = built.glob("streambridge-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    assert "streambridge/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any("__pycache__" in n for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert b"Classifier: Typing :: Typed" in metadata
    assert b"Project-URL: " in metadata
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(m.endswith("/LICENSE") for m in members)
    assert any(m.endswith("/src/streambridge/py.typed") for m in members)
    assert not any("__pycache__" in m or "node_modules" in m for m in members)


@pytest.mark.timeout(300)
def test_the_slim_layer_imports_with_the_runtimes_boto3(built: Path, tmp_path: Path) -> None:
    # GIVEN the slim layer for this interpreter and machine
    machine = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build_layer.py"), "--python", PYTHON_VERSION,
         "--arch", machine, "--dist", str(built), "--variants", "slim"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (layer,) = built.glob(f"streambridge-*-layer-slim-py{PYTHON_VERSION}-{machine}.zip")
    with zipfile.ZipFile(layer) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "opt")  # noqa: S202 (our own zip, names checked below)
    assert all(name.startswith("python/") for name in names)
    assert not any(name.startswith(("python/botocore/", "python/boto3/")) for name in names)
    # the test harness and the command line never run in Lambda: the layer leaves them (and their entry
    # points) out, the wheel keeps them
    assert not any(
        name.startswith(("python/streambridge/testing/", "python/streambridge/_tools/")) for name in names
    )
    assert not any(name.endswith(".dist-info/entry_points.txt") and "streambridge" in name for name in names)
    with zipfile.ZipFile(next(built.glob("streambridge-*.whl"))) as wheel:
        assert {"streambridge/testing/__init__.py", "streambridge/_tools/cli.py"} <= set(wheel.namelist())

    # WHEN a new interpreter has the layer first on its path and boto3/botocore from elsewhere (the runtime)
    import boto3
    import botocore

    runtime = {str(Path(boto3.__file__).parents[1]), str(Path(botocore.__file__).parents[1])}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "opt" / "python"), *sorted(runtime)])}
    # (this environment's site-packages stays on the path after the layer's: the layer must win)
    env["PYTHONDONTWRITEBYTECODE"] = "1"

    # THEN a handler imports, streambridge and h11 from the layer
    found = _run(sys.executable, HANDLER, env=env)
    assert str(found["streambridge"]).startswith(str(tmp_path / "opt" / "python"))
    assert str(found["h11"]).startswith(str(tmp_path / "opt" / "python"))
    # AND the layer carries no HTTP client beyond h11 (aiohttp is the test harness's, not the function's)
    other_clients = ("python/aiohttp/", "python/yarl/", "python/multidict/")
    assert not any(name.startswith(other_clients) for name in names)
