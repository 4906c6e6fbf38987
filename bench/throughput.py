"""Throughput: 10,000 DynamoDB stream records (about 1 KB each) over 100 and 1,000 keys, against the local
endpoint (its own process) with 0, 20 and 50 ms of latency: streambridge (batched, and with
``batch_size=1``: one unaliased mutation per request, the fallback for APIs whose subscriptions stay silent
under aliases) vs (a) ordered per-record publishing with gql vs (b) Powertools' BatchProcessor with a gql
call per record.

(a) and (b) send one request per record, one after the other: at 50 ms, 10,000 records would take over
500 s. They run on the first 500 records of the same event and their time is extrapolated to 10,000
(x20: sequential, so linear); the table says which rows are extrapolated. Records/s, requests per record
and CPU per record are measured, never extrapolated. Every case runs in a fresh interpreter (one process
per case) after a one-record warm-up invocation; peak memory is measured (tracemalloc, a second
invocation) at 0 ms.

    python -m bench.throughput [--quick]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import _report, _server, _workload

RECORDS = 10_000
SLICE = 500
KEYS = (100, 1000)
LATENCIES_MS = (0, 20, 50)
BATCH_SIZE, CONCURRENCY = 50, 16  # Bridge defaults
SINGLE = "streambridge batch_size=1"
CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    # (row label, implementation, Bridge settings)
    ("streambridge", "streambridge", {}),
    (SINGLE, "streambridge", {"batch_size": 1}),
    *((name, name, {}) for name in _workload.IMPLEMENTATIONS if name != "streambridge"),
)
ROOT = Path(__file__).resolve().parent.parent
PER_KEY_5 = {"channel": "per-key", "per_key": 5}
TARGETS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    # The same job on both targets (``--targets``): GraphQL mutations, and AppSync Events channels
    ("GraphQL mutations (batches of 50)", "streambridge", {}),
    (
        "Event API, one channel /orders/all (5 events a publish)",
        "streambridge-channels",
        {"channel": "shared"},
    ),
    ("Event API, a channel per order /orders/<id>", "streambridge-channels", {"channel": "per-key"}),
    (
        "Event API, a channel per order, per_key=5",
        "streambridge-channels",
        {"channel": "per-key", "per_key": 5},
    ),
)


def case(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in a fresh interpreter; return its figures."""
    env = {**os.environ, **_workload.CREDENTIALS_ENV, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench._case", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark case {spec['implementation']} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def floor_s(records: int, keys: int, latency_ms: int, batch_size: int = BATCH_SIZE) -> float:
    """The least time that latency allows: round trips on the longest key chain (one pending change per
    key per request), or requests over the concurrency limit, whichever is more."""
    chain = math.ceil(records / keys)
    rounds = math.ceil(math.ceil(records / batch_size) / CONCURRENCY)
    return max(chain, rounds) * latency_ms / 1000


def run(quick: bool = False) -> dict[str, Any]:
    records, part = (1000, 100) if quick else (RECORDS, SLICE)
    rows: list[dict[str, Any]] = []
    with _server.endpoint() as base, tempfile.TemporaryDirectory() as tmp:
        for keys in KEYS:
            event = _workload.dynamodb_event(records, keys)
            size = _workload.event_bytes(event)
            files = {}
            for name, subset in (("full", event), ("slice", {"Records": event["Records"][:part]})):
                files[name] = str(Path(tmp, f"{keys}-{name}.json"))
                Path(files[name]).write_text(json.dumps(subset))
            del event
            for latency in LATENCIES_MS:
                for label, implementation, settings in CASES:
                    sliced = implementation != "streambridge"
                    spec = {
                        "implementation": implementation,
                        "settings": settings,
                        "url": _server.url_for(base, latency),
                        "base": base,
                        "event_file": files["slice" if sliced else "full"],
                        "memory": latency == 0,
                    }
                    print(f"  throughput: {keys} keys, {latency} ms, {label}...", file=sys.stderr)
                    figures = case(spec)
                    measured = figures["records"]
                    if figures["failed"] != 0 or figures["mutations"] != measured:
                        raise RuntimeError(f"{label} did not publish every record: {figures}")
                    batch_size = settings.get("batch_size", BATCH_SIZE)
                    rows.append(
                        {
                            "implementation": label,
                            "keys": keys,
                            "latency_ms": latency,
                            "records": records,
                            "measured_records": measured,
                            "event_bytes": size if not sliced else size * measured // records,
                            "wall_s": figures["wall_s"] * records / measured,
                            "extrapolated": sliced,
                            "records_per_s": measured / figures["wall_s"],
                            "requests_per_record": figures["requests"] / measured,
                            "cpu_us_per_record": figures["cpu_s"] / measured * 1e6,
                            "peak_bytes": figures.get("peak_bytes"),
                            "maxrss_bytes": figures["maxrss_bytes"],
                            "floor_s": None if sliced else floor_s(records, keys, latency, batch_size),
                        }
                    )
    return {"records": records, "slice": part, "rows": rows}


def targets(keys: int = 1000, latency: int = 20) -> str:
    """The same 10,000 records published to a GraphQL API and to an Event API, side by side."""
    rows = []
    with _server.endpoint() as base, tempfile.TemporaryDirectory() as tmp:
        event_file = str(Path(tmp, "event.json"))
        Path(event_file).write_text(json.dumps(_workload.dynamodb_event(RECORDS, keys)))
        for label, implementation, settings in TARGETS:
            print(f"  targets: {label}...", file=sys.stderr)
            spec = {
                "implementation": implementation,
                "settings": settings,
                "url": _server.url_for(base, latency),
                "base": base,
                "event_file": event_file,
                "memory": False,
            }
            figures = case(spec)
            if figures["failed"] != 0 or figures["mutations"] != figures["records"]:
                raise RuntimeError(f"{label} did not publish every record: {figures}")
            rows.append(
                [
                    label,
                    f"{figures['wall_s']:.2f}",
                    figures["records"] / figures["wall_s"],
                    figures["requests"] / figures["records"],
                    figures["cpu_s"] / figures["records"] * 1e6,
                ]
            )
    return _report.table(
        f"Targets: {RECORDS:,} DynamoDB records of ~1 KB, {keys:,} keys, {latency} ms a request",
        ["target", "time s", "records/s", "requests/record", "CPU µs/record"],
        rows,
        "An Event API publish takes at most 5 events, of one channel: a channel per key sends one event a "
        "request unless per_key packs a key's changes.",
    )


def report(results: dict[str, Any]) -> str:
    rows = results["rows"]
    by = {(r["implementation"], r["keys"], r["latency_ms"]): r for r in rows}
    out = []
    table = []
    for r in rows:
        ours = by[("streambridge", r["keys"], r["latency_ms"])]
        floor = r["floor_s"]
        table.append(
            [
                r["keys"],
                r["latency_ms"],
                r["implementation"],
                f"{r['wall_s']:.2f}" + (" *" if r["extrapolated"] else ""),
                r["records_per_s"],
                r["requests_per_record"],
                r["cpu_us_per_record"],
                _report.mb(r["peak_bytes"]),
                f"{r['wall_s'] / floor:.2f}x" if floor else None,
                f"{r['wall_s'] / ours['wall_s']:.1f}x" if r is not ours else "1x",
            ]
        )
    out.append(
        _report.table(
            f"Throughput: {results['records']:,} DynamoDB records of ~1 KB",
            [
                "keys",
                "latency ms",
                "implementation",
                "time s",
                "records/s",
                "requests/record",
                "CPU µs/record",
                "peak MB",
                "vs floor",
                "time vs streambridge",
            ],
            table,
            f"* extrapolated from the first {results['slice']} records (one sequential request per record, "
            "so time grows linearly); records/s, requests and CPU are measured on that slice. "
            "Peak memory: tracemalloc during one invocation at 0 ms (slice for (a) and (b)). "
            "floor = round trips of the longest key chain or requests/concurrency (16), whichever is more "
            f"(for {SINGLE}: one request per record).",
        )
    )
    return "\n".join(out)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="streambridge throughput benchmark")
    parser.add_argument("--quick", action="store_true", help="1,000 records, 100-record slices")
    parser.add_argument("--targets", action="store_true", help="only GraphQL against Event API channels")
    arguments = parser.parse_args()
    print(targets() if arguments.targets else report(run(arguments.quick)))


if __name__ == "__main__":
    main()
