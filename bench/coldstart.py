"""Cold start: ``import streambridge`` time, and process start to the end of the first handler call,
against the same for Powertools + gql.

Bytecode caching is on for every run here (``PYTHONDONTWRITEBYTECODE`` unset, ``PYTHONPYCACHEPREFIX`` in a
temporary folder warmed by one uncounted run), because a Lambda package has its ``.pyc`` files. Each
figure is the median of several fresh interpreters, the two implementations taking turns.

- import: ``python -X importtime -c "import ..."``, the cumulative time of the imported top-level
  packages (modules Python loads at startup are left out), and the wall time of the import statements.
- first invocation: a fresh ``python`` runs the handler module (the code below, as a user writes it),
  then calls the handler once with a DynamoDB event, against the local endpoint (0 ms latency, plain
  HTTP: no TLS handshake, which a real AppSync endpoint adds to both). The time is taken by the parent
  from spawning the process to the line the child prints after the handler returned.

    python -m bench.coldstart [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _report, _server, _workload

IMPORTS = {
    "streambridge": "import streambridge",
    "powertools+gql": (
        "import aws_lambda_powertools.utilities.batch\n"
        "import gql\nimport gql.transport.aiohttp\nimport gql.transport.appsync_auth"
    ),
}

# The Lambda function modules whose first invocation is timed: what a user of each would write.
STREAMBRIDGE_MODULE = """
import os
from streambridge import Bridge

bridge = Bridge(os.environ["APPSYNC_URL"])  # IAMAuth() with the default credential chain

@bridge.dynamodb("%(publish)s")
def handler(record):
    return {"input": record.new_image}
"""

POWERTOOLS_MODULE = """
import asyncio, decimal, json, os
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from gql import Client, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.appsync_auth import AppSyncIAMAuthentication

URL = os.environ["APPSYNC_URL"]

def _number(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
loop = asyncio.new_event_loop()
auth = AppSyncIAMAuthentication(host=URL.split("/")[2], region_name=os.environ["AWS_REGION"])
transport = AIOHTTPTransport(url=URL, auth=auth, json_serialize=lambda v: json.dumps(v, default=_number))
client = Client(transport=transport)
session = loop.run_until_complete(client.connect_async())
document = gql("%(publish)s")

def record_handler(record):
    variables = {"input": record.dynamodb.new_image}
    loop.run_until_complete(session.execute(GraphQLRequest(document, variable_values=variables)))

def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
"""

MODULES = {"streambridge": STREAMBRIDGE_MODULE, "powertools+gql": POWERTOOLS_MODULE}

# Runs the module as Lambda's runtime would (init, then one invocation) and reports when it is done.
HARNESS = """
import sys, time
_started = time.perf_counter()
sys.path.insert(0, sys.argv[1].rpartition("/")[0])
handler = __import__(sys.argv[1].rpartition("/")[2].removesuffix(".py")).handler
_initialized = time.perf_counter()
import json
with open(sys.argv[2]) as f:
    event = json.load(f)
answer = handler(event, None)
_done = time.perf_counter()
print(json.dumps({"init_s": _initialized - _started, "call_s": _done - _initialized,
                  "failed": len(answer["batchItemFailures"])}), flush=True)
"""

HEAVY = (
    "asyncio",
    "botocore",
    "boto3",
    "aiohttp",
    "yarl",
    "tenacity",
    "graphql",
    "gql",
    "aws_lambda_powertools",
)


def _env(pycache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(_workload.CREDENTIALS_ENV)
    env["PYTHONPYCACHEPREFIX"] = pycache
    env.pop("PYTHONPATH", None)  # the installed package, as in a deployment, not the bench folder
    return env


def _python(
    code: str, env: dict[str, str], *args: str, importtime: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)


def _importtime_ms(stderr: str, startup: set[str]) -> float:
    """Sum of the cumulative times of top-level imports, modules loaded at interpreter startup excluded."""
    total = 0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        top_level = name.startswith(" ") and not name.startswith("  ")
        if top_level and name.strip() not in startup and cumulative.strip().isdigit():
            total += int(cumulative)
    return total / 1000


def _top_level(stderr: str) -> set[str]:
    return {line.split("|")[2].strip() for line in stderr.splitlines() if line.count("|") == 2}


RUNTIME_PRELOADED = "import concurrent.futures, decimal, importlib, json, logging, math, os, time, traceback"
"""What Lambda's Python runtime has imported before the function's module (awslambdaric's bootstrap.py,
lambda_runtime_client.py and lambda_runtime_marshaller.py), so a function's own import does not pay for it."""


def measure_import_in_runtime(env: dict[str, str], runs: int) -> float:
    """Median wall ms of ``import streambridge`` after the modules Lambda's runtime has already loaded."""
    timed = "_t = time.perf_counter()\nimport streambridge\nprint((time.perf_counter() - _t) * 1000)"
    code = f"{RUNTIME_PRELOADED}\n{timed}"
    _python(code, env)  # warm the bytecode cache
    return statistics.median(float(_python(code, env).stdout) for _ in range(runs))


def measure_imports(env: dict[str, str], runs: int) -> dict[str, Any]:
    startup = _top_level(_python("pass", env, importtime=True).stderr)
    results: dict[str, Any] = {}
    samples: dict[str, dict[str, list[float]]] = {n: {"importtime_ms": [], "wall_ms": []} for n in IMPORTS}
    timed = "import time\n_t = time.perf_counter()\n%s\nprint((time.perf_counter() - _t) * 1000)"
    for code in IMPORTS.values():  # warm the bytecode cache
        _python(code, env)
    for _ in range(runs):
        for name, code in IMPORTS.items():
            samples[name]["importtime_ms"].append(
                _importtime_ms(_python(code, env, importtime=True).stderr, startup)
            )
            samples[name]["wall_ms"].append(float(_python(timed % code, env).stdout))
    probe = "import sys\n%s\nprint(len(sys.modules)); print(','.join(m for m in %r if m in sys.modules))"
    for name, code in IMPORTS.items():
        count, heavy = _python(probe % (code, HEAVY), env).stdout.splitlines()
        results[name] = {
            "importtime_ms": statistics.median(samples[name]["importtime_ms"]),
            "wall_ms": statistics.median(samples[name]["wall_ms"]),
            "modules": int(count),
            "heavy": heavy.split(",") if heavy else [],
        }
    # What `import streambridge` spends most on (self time), for the docs.
    tree = _python(IMPORTS["streambridge"], env, importtime=True).stderr
    own = []
    for line in tree.splitlines():
        if line.count("|") == 2 and line.split("|")[2].strip() not in startup:
            self_us, _, module = line.removeprefix("import time:").split("|")
            if self_us.strip().isdigit():
                own.append((int(self_us) / 1000, module.strip()))
    results["streambridge"]["top"] = sorted(own, reverse=True)[:8]
    return results


def measure_first_call(
    env: dict[str, str], base: str, runs: int, sizes: tuple[int, ...]
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        modules = {}
        for name, source in MODULES.items():
            modules[name] = str(Path(tmp, f"{name.replace('+', '_')}_function.py"))
            Path(modules[name]).write_text(source % {"publish": _workload.PUBLISH})
        for size in sizes:
            event_file = str(Path(tmp, f"event-{size}.json"))
            Path(event_file).write_text(json.dumps(_workload.dynamodb_event(size, size)))
            child_env = {**env, "APPSYNC_URL": _server.url_for(base, 0)}
            for name in MODULES:  # warm the bytecode cache of everything the first call loads
                _python(HARNESS, child_env, modules[name], event_file)
            samples: dict[str, list[dict[str, float]]] = {n: [] for n in MODULES}
            for _ in range(runs):
                for name in MODULES:
                    started = time.perf_counter()
                    child = subprocess.Popen(
                        [sys.executable, "-c", HARNESS, modules[name], event_file],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=child_env,
                    )
                    assert child.stdout is not None
                    line = child.stdout.readline()
                    total = time.perf_counter() - started
                    _, stderr = child.communicate(timeout=120)
                    if not line:
                        raise RuntimeError(f"first invocation of {name} failed:\n{stderr[-3000:]}")
                    figures = json.loads(line)
                    if figures["failed"]:
                        raise RuntimeError(f"{name}: {figures['failed']} records failed on the first call")
                    samples[name].append({"total_s": total, **figures})
            rows.extend(
                {
                    "implementation": name,
                    "records": size,
                    **{
                        key: statistics.median(s[key] for s in runs)
                        for key in ("total_s", "init_s", "call_s")
                    },
                }
                for name, runs in samples.items()
            )
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    runs = 3 if quick else 11
    with tempfile.TemporaryDirectory(prefix="streambridge-bench-pyc-") as pycache, _server.endpoint() as base:
        env = _env(pycache)
        print("  cold start: imports...", file=sys.stderr)
        imports = measure_imports(env, runs)
        print("  cold start: first invocations...", file=sys.stderr)
        first = measure_first_call(env, base, max(3, runs // 2 + 1), (1, 100))
    return {"runs": runs, "imports": imports, "first_call": first, "python": sys.version.split()[0]}


def report(results: dict[str, Any]) -> str:
    imports = results["imports"]
    ours = imports["streambridge"]
    rows = [
        [
            name,
            r["importtime_ms"],
            r["wall_ms"],
            f"{r['importtime_ms'] / ours['importtime_ms']:.1f}x",
            r["modules"],
            ", ".join(r["heavy"]) or "none",
        ]
        for name, r in imports.items()
    ]
    out = [
        _report.table(
            "Cold start: imports (bytecode cached)",
            [
                "imports",
                "-X importtime ms",
                "wall ms",
                "vs streambridge",
                "modules loaded",
                "heavy modules loaded",
            ],
            rows,
            f"Median of {results['runs']} fresh interpreters. Top self times under `import streambridge`: "
            + ", ".join(f"{module} {ms:.1f} ms" for ms, module in ours["top"]),
        )
    ]
    first = {(r["implementation"], r["records"]): r for r in results["first_call"]}
    rows = []
    for r in results["first_call"]:
        mine = first[("streambridge", r["records"])]
        rows.append(
            [
                r["records"],
                r["implementation"],
                r["total_s"] * 1000,
                r["init_s"] * 1000,
                r["call_s"] * 1000,
                f"{r['total_s'] / mine['total_s']:.2f}x",
            ]
        )
    out.append(
        _report.table(
            "Cold start: process start to the end of the first handler call",
            ["records", "implementation", "total ms", "module init ms", "first call ms", "vs streambridge"],
            rows,
            "total: from spawning the interpreter to the handler's return, seen by the parent (includes "
            "Python's own startup, the same for both). Local endpoint, 0 ms latency, plain HTTP.",
        )
    )
    return "\n".join(out)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="streambridge cold-start benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    print(report(run(parser.parse_args().quick)))


if __name__ == "__main__":
    main()
