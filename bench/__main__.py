"""`make bench`: run every benchmark, print the figures, save them and draw the plot.

    python -m bench                     # everything (~8 minutes on 2 cores), then the plot
    python -m bench --only cpu,scaling  # some sections (the others keep their saved figures)
    python -m bench --quick             # smaller sizes, to try the harness (figures not comparable)
    python -m bench --plot              # only redraw docs/img/performance.png from bench/results.json
    python -m bench --against HEAD~3    # add CPU per record of the package at that git ref (before/after)

Figures go to bench/results.json; the plot to docs/img/performance.png (needs matplotlib: the `bench`
extra). Benchmarks print figures; they assert nothing but that every record was published.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import coldstart, cpu, scaling, throughput

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PLOT = ROOT / "docs" / "img" / "performance.png"
SECTIONS = {"cpu": cpu, "coldstart": coldstart, "scaling": scaling, "throughput": throughput}


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores{', ' + model if model else ''}, Python {platform.python_version()}"


def versions() -> dict[str, str]:
    names = (
        "streambridge",
        "botocore",
        "aiohttp",
        "tenacity",
        "orjson",
        "gql",
        "graphql-core",
        "aws-lambda-powertools",
    )
    return {name: _version(name) for name in names}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def plot(results: dict[str, Any]) -> None:
    try:
        from bench import _plot

        print(f"\nplot: {_plot.draw(results, PLOT).relative_to(ROOT)}")
    except ImportError:
        print("\nplot skipped: matplotlib is not installed (pip install -e '.[bench]')")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: try the harness quickly")
    parser.add_argument("--plot", action="store_true", help="only redraw the plot from the saved figures")
    parser.add_argument(
        "--against", metavar="GIT_REF", help="CPU section: also measure the package at GIT_REF"
    )
    arguments = parser.parse_args()
    saved: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if arguments.plot:
        plot(saved)
        return
    names = arguments.only.split(",") if arguments.only else list(SECTIONS)
    unknown = set(names) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    results = {
        **saved,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "versions": versions(),
    }
    print(f"streambridge benchmarks, {results['date']}, {results['machine']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    for name in names:
        started = time.perf_counter()
        print(f"\n## {name}", flush=True)
        section = SECTIONS[name]
        if name == "cpu" and arguments.against:
            before = cpu.against(arguments.against, arguments.quick)
            results[name] = cpu.run(arguments.quick)
            results["cpu_before"] = before
            print(cpu.report(results[name]))
            print(cpu.compare(before, results[name]))
        else:
            results[name] = section.run(arguments.quick)  # type: ignore[attr-defined]
            print(section.report(results[name]))  # type: ignore[attr-defined]
        print(f"({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    if not arguments.quick:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nfigures: {RESULTS.relative_to(ROOT)}")
        plot(results)


if __name__ == "__main__":
    main()
