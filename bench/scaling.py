"""Scaling: how time and memory grow from 100 to 10,000 records, and with 1, 10, 100 and 1,000 keys, in
each batching mode (default per_key=1, per_key=10 packing, coalesce=True, batch_size=1).

In-process, against an in-memory AppSync on a virtual-time event loop (``bench._virtual``): the time at
20 ms latency is what the run would take with that latency (same request order, concurrency limit and
round trips), computed without waiting for it; CPU (``process_time``) and peak memory (``tracemalloc``,
a second invocation) are real. The handler is warm (one invocation before), IAM signing included.

    python -m bench.scaling [--quick]
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from typing import Any

from bench import _report, _virtual, _workload
from bench.cpu import GcTimer

RECORDS = (100, 1000, 10_000)
KEYS = (1, 10, 100, 1000)
LATENCY = 0.020


def _handler(transport: _virtual.InstantAppSync, settings: dict[str, Any]) -> Any:
    from botocore.credentials import Credentials

    from streambridge import Bridge, IAMAuth

    credentials = Credentials(
        _workload.CREDENTIALS_ENV["AWS_ACCESS_KEY_ID"],
        _workload.CREDENTIALS_ENV["AWS_SECRET_ACCESS_KEY"],
        _workload.CREDENTIALS_ENV["AWS_SESSION_TOKEN"],
    )
    bridge = Bridge(
        "https://example123.appsync-api.us-east-1.amazonaws.com/graphql",
        IAMAuth(credentials=credentials),
        transport=transport,
        **settings,
    )

    @bridge.dynamodb(_workload.PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    return handler


def measure(event: dict[str, Any], settings: dict[str, Any], latency: float = LATENCY) -> dict[str, Any]:
    """One warm invocation on virtual time (modeled wall time, real CPU), then one under tracemalloc."""
    transport = _virtual.InstantAppSync(latency)
    handler = _handler(transport, settings)
    _virtual.run_on_virtual_time(handler.process_async(_workload.warm_event()))
    transport.requests = 0
    gc.collect()
    with GcTimer() as collector:
        cpu = time.process_time()
        result, modeled = _virtual.run_on_virtual_time(handler.process_async(event))
        cpu = time.process_time() - cpu
    settled = result.published + result.skipped
    if settled != len(event["Records"]) or result.failed:
        raise RuntimeError(f"not every record settled: {result.summary()}")
    requests, in_flight = transport.requests, transport.max_in_flight
    del result
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _virtual.run_on_virtual_time(handler.process_async(event))
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return {
        "modeled_s": modeled,
        "cpu_s": cpu,
        "gc_s": collector.seconds,
        "requests": requests,
        "max_in_flight": in_flight,
        "peak_bytes": peak,
    }


def run(quick: bool = False) -> dict[str, Any]:
    sizes = (100, 1000) if quick else RECORDS
    rows = []
    for records in sizes:
        for keys in KEYS:
            event = _workload.dynamodb_event(records, keys)
            size = _workload.event_bytes(event)
            for mode, settings in _workload.MODES.items():
                print(f"  scaling: {records} records, {keys} keys, {mode}...", file=sys.stderr)
                rows.append(
                    {
                        "mode": mode,
                        "records": records,
                        "keys": keys,
                        "event_bytes": size,
                        **measure(event, settings),
                    }
                )
    return {"latency_ms": LATENCY * 1000, "rows": rows}


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            r["mode"],
            r["records"],
            r["keys"],
            r["requests"],
            r["modeled_s"],
            r["cpu_s"] * 1000,
            r["gc_s"] * 1000,
            r["cpu_s"] / r["records"] * 1e6,
            _report.mb(r["peak_bytes"]),
            f"{r['peak_bytes'] / r['event_bytes']:.2f}x",
        ]
        for r in results["rows"]
    ]
    return _report.table(
        f"Scaling by batching mode: ~1 KB DynamoDB records, time at {results['latency_ms']:.0f} ms latency",
        [
            "mode",
            "records",
            "keys",
            "requests",
            f"time at {results['latency_ms']:.0f} ms, s",
            "CPU ms",
            "of which GC ms",
            "CPU µs/record",
            "peak MB",
            "peak / event JSON",
        ],
        rows,
        "In-memory endpoint on a virtual-time loop: the time is what the latency and the concurrency limit "
        "(16) make it, computed without waiting; CPU and memory are measured, one warm invocation each (a "
        "full garbage collection lands in some and not others: see the GC column). coalesce publishes one "
        "change per key (the others are skipped as superseded).",
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="streambridge scaling benchmark")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 records only")
    print(report(run(parser.parse_args().quick)))


if __name__ == "__main__":
    main()
