"""Build AWS Lambda layer zips of streambridge from the wheel in dist/ (``make layer``).

Two layers per Python version and architecture, both laid out as ``python/...`` (what Lambda puts on
``sys.path`` from ``/opt/python``):

- full: streambridge and every runtime dependency, boto3 and botocore included;
- slim: the same without boto3 and botocore (and what only they need: s3transfer, jmespath, urllib3,
  python-dateutil, six), which the Lambda Python runtime ships.

Only binary wheels for the target (pip's ``--platform``/``--python-version``/``--implementation cp``/
``--only-binary=:all:``), so the host's platform and Python never leak in. Nothing that costs speed is
removed: compiled speedups stay. Bytecode is compiled for the target Python when an interpreter of that
version is on the PATH (``/opt`` is read-only in Lambda, so a layer without it compiles every module it
imports on every cold start), with ``unchecked-hash`` pycs, which a zip's 2-second timestamps cannot make
stale. Removed: the DWARF debug sections of compiled extensions (``strip --strip-debug``: no code or
symbol changes, a debugger's data only; ``llvm-strip`` does both architectures, GNU strip the host's), pip's
RECORD and INSTALLER files and ``bin/`` (console scripts with the build host's interpreter), which nothing
reads at run time; and streambridge's test harness (``streambridge/testing``) and command line
(``streambridge/_tools``) with the entry points that name them, which never run in Lambda (the wheel keeps
them).

Usage: python packaging/build_layer.py --python 3.12 --arch x86_64 [--dist dist]
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

ARCHES = {"x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
BOTO = {"boto3", "botocore"}
"""What the slim layer leaves to the Lambda runtime; their own dependencies go with them."""
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
"""Every zip entry gets this time, so the same inputs give the same bytes."""


def main(argv: list[str] | None = None) -> int:
    """Build the full and the slim layer; print their sizes and what takes the space."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.12", help="the Lambda runtime's Python version, e.g. 3.12")
    parser.add_argument(
        "--arch", default="x86_64", choices=sorted(ARCHES), help="the function's architecture"
    )
    parser.add_argument("--dist", default="dist", type=Path, help="where the wheel is and the zips go")
    parser.add_argument("--top", default=12, type=int, help="rows of the space table")
    parser.add_argument("--variants", default="full,slim", help="which layers: full, slim or both")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"3\.\d+", args.python):
        parser.error(f"--python takes a version such as 3.12, not {args.python!r}")

    wheels = sorted(args.dist.glob("streambridge-*-py3-none-any.whl"))
    if len(wheels) != 1:
        parser.error(
            f"expected one streambridge wheel in {args.dist}/ (run `make dist`), found {len(wheels)}"
        )
    wheel = wheels[0]
    version = wheel.name.split("-")[1]
    runtime = _runtime_requirements(wheel)
    arch = "arm64" if ARCHES[args.arch] == "aarch64" else "x86_64"

    interpreter = _interpreter(args.python)
    if interpreter is None:
        print(
            f"warning: no python{args.python} on the PATH: the layers ship no bytecode, so each cold start "
            "compiles what it imports",
            file=sys.stderr,
        )
    built = []
    variants = {"full": runtime, "slim": [r for r in runtime if _name(r) not in BOTO]}
    for variant in args.variants.split(","):
        requirements = variants[variant]
        name = f"streambridge-{version}-layer-{variant}-py{args.python}-{arch}.zip"
        with tempfile.TemporaryDirectory(prefix="streambridge-layer-") as tmp:
            site = Path(tmp) / "python"
            _pip_install(site, args.python, ARCHES[args.arch], wheel, requirements)
            owners = _owners(site)
            _leave_out_development_tools(site)
            _tidy(site, ARCHES[args.arch])
            if interpreter:
                subprocess.run(
                    [interpreter, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash",
                     str(site)],
                    check=True,
                )  # fmt: skip
            rows = _zip(site, args.dist / name, owners)
        built.append((variant, args.dist / name, rows))

    for variant, path, rows in built:
        _report(variant, path, rows, args.top)
    return 0


def _interpreter(version: str) -> str | None:
    """A working ``python{version}``: on the PATH, or one that pyenv installed but does not select."""
    candidates = [shutil.which(f"python{version}")]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in root.glob(f"versions/{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def _runtime_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist without extras: what the function needs at run time."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.parser.Parser().parsestr(archive.read(metadata).decode())
    return [r for r in message.get_all("Requires-Dist") or [] if "extra ==" not in r]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _platforms(python: str, machine: str) -> list[str]:
    # python3.12 and later run on Amazon Linux 2023 (glibc 2.34), 3.10 and 3.11 on Amazon Linux 2 (2.26)
    platforms = [f"manylinux2014_{machine}"]
    if tuple(int(p) for p in python.split(".")) >= (3, 12):
        platforms.insert(0, f"manylinux_2_28_{machine}")
    return platforms


def _pip_install(site: Path, python: str, machine: str, wheel: Path, requirements: list[str]) -> None:
    target = [f"--python-version={python}", "--implementation=cp", "--only-binary=:all:", "--no-compile"]
    target.extend(f"--platform={platform}" for platform in _platforms(python, machine))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
    # The dependencies resolved for the target; streambridge itself without its own (the slim layer's
    # requirements leave boto3 and botocore out, and pip has no option to drop one dependency)
    subprocess.run([*pip, str(site), *target, *requirements], check=True)
    with tempfile.TemporaryDirectory(prefix="streambridge-wheel-") as alone:
        subprocess.run([*pip, alone, *target, "--no-deps", str(wheel)], check=True)
        shutil.copytree(alone, site, dirs_exist_ok=True)


def _owners(site: Path) -> dict[str, str]:
    """Installed path (relative to site) -> the distribution that owns it, read from each RECORD."""
    owners: dict[str, str] = {}
    for record in site.glob("*.dist-info/RECORD"):
        distribution = record.parent.name.split("-")[0].replace("_", "-").lower()
        for line in record.read_text().splitlines():
            path = line.split(",")[0]
            owners[os.path.normpath(path)] = distribution
        owners[os.path.normpath(record.parent.name)] = distribution
    return owners


DEVELOPMENT_ONLY = ("streambridge/testing", "streambridge/_tools")
"""Packages a Lambda function never imports: the test harness and the command line."""


def _leave_out_development_tools(site: Path) -> None:
    """Remove what only a developer's machine uses, and the entry points that would name it.

    A pytest run with the layer on its path must not try to load a plugin the layer does not carry.
    """
    for package in DEVELOPMENT_ONLY:
        shutil.rmtree(site / package)
    for entry_points in site.glob("streambridge-*.dist-info/entry_points.txt"):
        entry_points.unlink()


def _tidy(site: Path, machine: str) -> None:
    strip = shutil.which("llvm-strip") or (shutil.which("strip") if os.uname().machine == machine else None)
    unstripped = 0
    for extension in sorted(site.rglob("*.so")):
        if strip is None or subprocess.run([strip, "--strip-debug", str(extension)], check=False).returncode:
            unstripped += 1
    if unstripped:
        print(
            f"warning: {unstripped} compiled extensions keep their debug sections (no llvm-strip, or strip "
            f"for {machine}): larger, not slower",
            file=sys.stderr,
        )
    shutil.rmtree(site / "bin", ignore_errors=True)
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache)
    for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
        for path in site.glob(f"*.dist-info/{name}"):
            path.unlink()


def _zip(site: Path, destination: Path, owners: dict[str, str]) -> dict[str, list[int]]:
    """Write the zip (entries sorted, fixed times); return distribution -> [files, unpacked, zipped]."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".zip.partial")
    rows: dict[str, list[int]] = {}
    root = site.parent
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(relative, FIXED_TIME)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            archive.writestr(info, data, compresslevel=9)
            row = rows.setdefault(_owner(path.relative_to(site), owners), [0, 0, 0])
            row[0] += 1
            row[1] += len(data)
            row[2] += len(zlib.compress(data, 9))
    partial.replace(destination)
    return rows


def _owner(relative: Path, owners: dict[str, str]) -> str:
    key = os.path.normpath(relative)
    if key in owners:
        return owners[key]
    if relative.parent.name == "__pycache__":  # bytecode compiled after install: its source's owner
        source = relative.parent.parent / (relative.name.split(".")[0] + ".py")
        if os.path.normpath(source) in owners:
            return owners[os.path.normpath(source)]
    if relative.parts and relative.parts[0].endswith(".dist-info"):
        return owners.get(os.path.normpath(relative.parts[0]), "?")
    return "(other)"


def _report(variant: str, path: Path, rows: dict[str, list[int]], top: int) -> None:
    unpacked = sum(r[1] for r in rows.values())
    print(f"\n{path}: {_mb(path.stat().st_size)} zipped, {_mb(unpacked)} unpacked ({variant})")
    print(f"  {'distribution':<22} {'files':>6} {'unpacked':>10} {'zipped':>10}")
    ordered = sorted(rows.items(), key=lambda item: -item[1][2])
    for distribution, (files, size, packed) in ordered[:top]:
        print(f"  {distribution:<22} {files:>6} {_mb(size):>10} {_mb(packed):>10}")
    rest = ordered[top:]
    if rest:
        files, size, packed = (sum(r[1][i] for r in rest) for i in range(3))
        print(f"  {f'{len(rest)} others':<22} {files:>6} {_mb(size):>10} {_mb(packed):>10}")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


if __name__ == "__main__":
    sys.exit(main())
