"""CPU per record on the client path, phase by phase, and a profile of where the rest goes.

The phases are the pure core's own functions run one after the other on the same event, the way the
publisher uses them (no event loop, no transport):

- parse: the event into record views (``Source.parse``);
- decode: the mapping function's ``record.new_image`` (DynamoDB attribute values to plain Python);
- plan: partition keys, mutation checks, variables to JSON, lanes (``Planner.plan``, images already decoded);
- batch: requests built from the lanes' heads and their bodies rendered (``take_batch`` + ``render``);
- sign: SigV4 headers of every body (``IAMAuth.headers``);
- response: every answer read and mapped back to its records (``interpret``) and settled.

"end to end" is a warm call of the Lambda entry point, ``handler(event)``, against an in-memory endpoint
answering at once: the phases plus the asyncio publisher, retry policy, result and log line, with
the garbage collector as the entry point leaves it (paused, unless ``pause_gc=False``). Each figure is
the best of a few runs (the machine is shared: the minimum is the least disturbed).

    python -m bench.cpu [--quick] [--profile]
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bench import _report, _virtual, _workload

PHASES = ("parse", "decode", "plan", "batch", "sign", "response")
TARGET_PHASES = ("parse", "decode", "plan", "batch", "sign")
"""Planning, serialization and signing: the ≤ 30 µs/record target."""


def _best(runs: int, work: Callable[[], Any]) -> float:
    """Least CPU seconds of ``runs`` runs of ``work``, the garbage collector paused (it is counted apart)."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            work()
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
    return best


class GcTimer:
    """Wall time the cyclic garbage collector spends, by generation, while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.full += info["generation"] == 2

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


def phases(  # noqa: PLR0915 - one closure per phase, read from top to bottom
    event: dict[str, Any], settings: dict[str, Any], runs: int = 5
) -> dict[str, float]:
    """Seconds of CPU per phase for the whole event (best of ``runs``)."""
    from streambridge._engine.batch import Limits, render, take_batch
    from streambridge._engine.plan import Planner, Planning
    from streambridge._engine.result import Ledger
    from streambridge._sources import SOURCES
    from streambridge._targets.graphql.target import GraphQLTarget

    source = SOURCES["dynamodb"]
    bridge_handler = _handler(settings)
    bridge = bridge_handler.bridge
    auth, url = bridge.auth, bridge.url
    limits = Limits(max_mutations=bridge.limits.max_mutations, max_bytes=bridge.limits.max_bytes,
                    per_key=bridge.limits.per_key)  # fmt: skip
    target = GraphQLTarget(_workload.PUBLISH, bridge.max_payload_bytes)
    planning = Planning(target, None, bridge.coalesce)
    mapper = bridge_handler.mapper
    auth.headers(url, b"{}")  # credentials resolved, signer built: a warm invocation

    def fresh() -> tuple[Any, Any]:
        records = source.parse(event)
        return records, Ledger(records)

    def do_decode() -> None:
        records = source.parse(event)
        for record in records:
            mapper(record)

    def do_plan() -> None:
        records, ledger = fresh()
        for record in records:
            mapper(record)
        state["lanes"], state["ledger"] = Planner(records, mapper, planning, ledger).plan(), ledger

    def do_batch() -> None:
        ready = deque(lane for lane in state["lanes"] if lane.steps)
        requests = []
        while ready:
            batch = take_batch(ready, state["ledger"], limits)
            requests.append(render(target, [(lane, step) for lane, steps in batch for step in steps]))
            ready.extend(lane for lane, _ in batch if lane.steps)
        state["requests"] = requests

    def do_sign() -> None:
        for request in state["requests"]:
            auth.headers(url, request.body)

    def do_response() -> None:
        ledger = state["ledger"]
        for request, response in zip(state["requests"], state["responses"], strict=True):
            answer = target.interpret(response, request.keys)
            if answer.errors or answer.request_error is not None:
                raise RuntimeError(f"unexpected error in a canned answer: {answer}")
            for _, step in request.entries:
                if step.last:
                    ledger.publish(step.record)

    state: dict[str, Any] = {}
    figures = {"parse": _best(runs, lambda: source.parse(event))}
    decode_and_parse = _best(runs, do_decode)
    figures["decode"] = decode_and_parse - figures["parse"]
    figures["plan"] = _best(runs, do_plan) - decode_and_parse
    batch = []
    for _ in range(runs):  # take_batch consumes the lanes: plan again before each run, untimed
        do_plan()
        batch.append(_best(1, do_batch))
    figures["batch"] = min(batch)
    figures["sign"] = _best(runs, do_sign)
    state["responses"] = [_answer(request.keys) for request in state["requests"]]
    response = []
    for _ in range(runs):
        do_plan()
        do_batch()
        response.append(_best(1, do_response))
    figures["response"] = min(response)
    figures["requests"] = len(state["requests"])
    return figures


def _answer(aliases: dict[str, int]) -> Any:
    import json

    from streambridge._io.transport import HttpResponse

    body = json.dumps({"data": {alias: {"id": "x", "status": "ok"} for alias in aliases}}).encode()
    return HttpResponse(200, {}, body)


def _handler(settings: dict[str, Any], transport: Any = None) -> Any:
    from botocore.credentials import Credentials

    from streambridge import Bridge, IAMAuth

    env = _workload.CREDENTIALS_ENV
    credentials = Credentials(
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]
    )
    bridge = Bridge(
        "https://example123.appsync-api.us-east-1.amazonaws.com/graphql",
        IAMAuth(credentials=credentials),
        transport=transport or _virtual.InstantAppSync(),
        **settings,
    )

    @bridge.dynamodb(_workload.PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    return handler


def end_to_end(event: dict[str, Any], settings: dict[str, Any], runs: int = 5) -> dict[str, float]:
    """CPU of a warm call of the entry point, and the garbage collector's share of it."""
    handler = _handler(settings)
    handler.process(_workload.warm_event())
    best: dict[str, float] = {"end_to_end": float("inf")}
    for _ in range(runs):
        gc.collect()
        with GcTimer() as collector:
            started = time.process_time()
            answer = handler(event)
            cpu = time.process_time() - started
        if answer["batchItemFailures"]:  # a figure of failed records measures the wrong thing
            raise RuntimeError(f"{len(answer['batchItemFailures'])} records failed: {settings}")
        if cpu < best["end_to_end"]:
            best = {"end_to_end": cpu, "gc": collector.seconds, "full_collections": collector.full}
    handler.bridge.close()
    return best


def profile(event: dict[str, Any], settings: dict[str, Any], lines: int = 25) -> str:
    """cProfile of one warm end-to-end invocation, by own time."""
    handler = _handler(settings)
    handler.process(_workload.warm_event())
    profiler = cProfile.Profile()
    profiler.enable()
    handler(event)
    profiler.disable()
    handler.bridge.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(lines)
    return text.getvalue()


COUNTS = ("requests", "full_collections")
CASES = (
    ("~1 KB records, 1,000 keys, default", "1k", 1000, "default"),
    ("~60 B records, 1,000 keys, default", "small", 1000, "default"),
    ("~1 KB records, 1,000 keys, batch_size=1", "1k", 1000, "batch_size=1"),
    ("~1 KB records, 1,000 keys, pause_gc=False", "1k", 1000, "pause_gc=False"),
)
EXTRA_MODES = {"pause_gc=False": {"pause_gc": False}}
"""Settings measured here only (not a batching mode of the scaling section)."""


def run(quick: bool = False, with_profile: bool = False) -> dict[str, Any]:
    records = 2000 if quick else 10_000
    rows = []
    for title, size, keys, mode in CASES:
        settings = EXTRA_MODES[mode] if mode in EXTRA_MODES else _workload.MODES[mode]
        if not _accepted(settings):  # measuring an older version (--against) without that setting
            continue
        print(f"  cpu: {title}...", file=sys.stderr)
        event = _workload.dynamodb_event(records, keys, size)
        figures = phases(event, settings, runs=3 if mode == "batch_size=1" else 5)
        figures.update(end_to_end(event, settings, runs=2 if mode == "batch_size=1" else 5))
        row: dict[str, Any] = {"case": title, "records": records, "mode": mode, "size": size}
        row.update({k: v / records * 1e6 if k not in COUNTS else v for k, v in figures.items()})
        if with_profile:
            row["profile"] = profile(event, settings)
        rows.append(row)
    return {"records": records, "rows": rows}


def _accepted(settings: dict[str, Any]) -> bool:
    import inspect

    from streambridge import Bridge

    return set(settings) <= set(inspect.signature(Bridge).parameters)


def report(results: dict[str, Any]) -> str:
    rows = []
    for r in results["rows"]:
        target = sum(r[p] for p in TARGET_PHASES)
        rest = r["end_to_end"] - target - r["response"] - r["gc"]
        rows.append(
            [r["case"], r["requests"], *(r[p] for p in PHASES), target, r["gc"], rest, r["end_to_end"]]
        )
    out = [
        _report.table(
            f"CPU µs per record, by phase ({results['records']:,} records, warm)",
            ["case", "requests", *PHASES, "parse..sign", "GC", "rest", "end to end"],
            rows,
            "parse..sign = parse + decode + plan + batch + sign: planning, serialization and signing "
            "(target ≤ 30 µs/record). Phases are timed with the garbage collector paused; GC is the "
            "collector's time in the end-to-end run (the entry point pauses it; pause_gc=False shows it "
            "on); rest = end to end - phases - GC: the asyncio publisher, tenacity, the result and its "
            "log line. "
            "Best of several runs.",
        )
    ]
    out.extend(f"\nProfile, {r['case']}:\n{r['profile']}" for r in results["rows"] if "profile" in r)
    return "\n".join(out)


def against(ref: str, quick: bool = False) -> dict[str, Any]:
    """The same measurement with the package as it was at git ``ref`` (for before/after figures)."""
    import json
    import os
    import subprocess
    import tarfile
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref, "src/streambridge"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        # The harness's virtual-time loop, not code under measurement: older refs lack it.
        virtual = Path(tmp, "src/streambridge/testing/_virtual_time.py")
        if not virtual.exists():
            virtual.write_text(Path(root, "src/streambridge/testing/_virtual_time.py").read_text())
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(tmp, "src")), str(root)])}
        command = [sys.executable, "-m", "bench.cpu", "--json", *(["--quick"] if quick else [])]
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    result["ref"] = ref
    return result


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    rows = []
    earlier = {row["case"]: row for row in before["rows"]}
    for new in after["rows"]:
        old = earlier.get(new["case"])
        if old is None:
            continue
        for column in ("parse..sign", "gc", "end_to_end"):
            was, now = _total(old, column), _total(new, column)
            rows.append([old["case"], column, was, now, f"{was / now:.2f}x" if now else "-"])
    return _report.table(
        f"CPU µs per record, before ({before['ref']}) and after",
        ["case", "figure", "before", "after", "speed-up"],
        rows,
        "Same measurement, same run, the package taken from git for the 'before' column.",
    )


def _total(row: dict[str, Any], column: str) -> float:
    return sum(row[p] for p in TARGET_PHASES) if column == "parse..sign" else float(row[column])


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="streambridge CPU per record, by phase")
    parser.add_argument("--quick", action="store_true", help="2,000 records")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of each case")
    parser.add_argument("--against", metavar="GIT_REF", help="also measure the package at this git ref")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    arguments = parser.parse_args()
    before = against(arguments.against, arguments.quick) if arguments.against else None
    results = run(arguments.quick, arguments.profile)
    if arguments.json:
        print(json.dumps(results))
        return
    print(report(results))
    if before is not None:
        print(
            report(before).replace("CPU µs per record", f"Before ({arguments.against}): CPU µs per record", 1)
        )
        print(compare(before, results))


if __name__ == "__main__":
    main()
