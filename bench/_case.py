"""One measured case, in a fresh interpreter: so that peak memory and CPU belong to that case alone.

    python -m bench._case '{"implementation": "streambridge", "url": ..., "event_file": ..., ...}'

Loads the event as Lambda's runtime does (JSON text -> dicts), warms the handler with a one-record event
(connections, lazy imports: a warm Lambda), then times one invocation: wall time (``perf_counter``) and
this process's CPU (``process_time``; the endpoint runs in another process). With ``"memory": true`` a
second invocation runs under ``tracemalloc`` for its peak. Prints one JSON line of figures.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
from typing import Any

from bench import _server, _workload


def _failures(answer: Any) -> int:
    return len(answer.get("batchItemFailures", ())) if isinstance(answer, dict) else -1


def run(spec: dict[str, Any]) -> dict[str, Any]:
    _workload.use_test_credentials()
    with open(spec["event_file"]) as file:
        event = json.load(file)
    records = len(event["Records"])
    handler, close = _workload.build(spec["implementation"], spec["url"], **spec.get("settings", {}))
    handler(_workload.warm_event(), None)
    gc.collect()
    _server.stats(spec["base"], reset=True)
    wall, cpu = time.perf_counter(), time.process_time()
    answer = handler(event, None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    served = _server.stats(spec["base"], reset=True)
    figures: dict[str, Any] = {
        "records": records,
        "wall_s": wall,
        "cpu_s": cpu,
        "requests": served["requests"],
        "mutations": served["mutations"],
        "failed": _failures(answer),
    }
    if spec.get("memory"):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        handler(event, None)
        figures["peak_bytes"] = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
    figures["maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    close()
    return figures


def main() -> None:
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)


if __name__ == "__main__":
    main()
