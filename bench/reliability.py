"""Reliability soak: random batches, keys, poison records and fault schedules; counts lost and reordered.

Prints the figures quoted in docs/reliability.md. Every invocation is checked: each record ends exactly
once (published, skipped, dead-lettered or failed), per key what AppSync executed follows the input order,
and what failed is exactly what Lambda is told.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

from streambridge import ApiKeyAuth, Bridge, HttpResponse, RetryPolicy, Status
from streambridge.testing import FakeAppSync, FieldError, events

URL = "https://x.appsync-api.us-east-1.amazonaws.com/graphql"
PUBLISH = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }"
FAULTS: list[Any] = [
    HttpResponse(429, {"Retry-After": "0"}, b""),
    HttpResponse(500, {}, b"<html>Internal Server Error</html>"),
    HttpResponse(502, {}, b"Bad Gateway"),
    HttpResponse(503, {}, b"<html>busy</html>"),
    HttpResponse(200, {}, b"{truncated"),
    HttpResponse(200, {}, b'{"data": null, "errors": [{"message": "Variable has an invalid value"}]}'),
    ConnectionResetError("reset"),
    TimeoutError(),
]


def resolver(_field: str, arguments: dict[str, Any]) -> Any:
    if arguments["input"]["status"] == "POISON":
        raise FieldError("poison record", "PoisonError")
    return arguments["input"]


def soak(invocations: int = 300, seed: int = 7) -> dict[str, int]:
    """Run the soak; return the counters."""
    rng = random.Random(seed)
    totals = {"invocations": 0, "records": 0, "faults_injected": 0, "poison_records": 0, "published": 0,
              "skipped": 0, "failed": 0, "lost": 0, "reordered": 0, "wrongly_reported": 0}  # fmt: skip
    for _ in range(invocations):
        keys = rng.randint(1, 20)
        changes = [(f"k{rng.randrange(keys)}", rng.random() < 0.05) for _ in range(rng.randint(1, 200))]
        images = [
            {"id": k, "status": "POISON" if poison else f"S{n}"} for n, (k, poison) in enumerate(changes)
        ]
        faults = [rng.choice(FAULTS) for _ in range(rng.randint(0, 6))]
        appsync = FakeAppSync(resolver)
        appsync.fail_next(*faults)
        bridge = Bridge(
            URL,
            ApiKeyAuth("k"),
            transport=appsync,
            per_key=rng.choice([1, 1, 5]),
            batch_size=rng.choice([1, 10, 50]),
            retry=RetryPolicy(attempts=3, backoff=0.0001, max_backoff=0.0005),
        )
        handler = bridge.dynamodb(PUBLISH)(lambda record: {"input": record.new_image})
        result = handler.process(events.dynamodb([{"new_image": image} for image in images]))
        bridge.close()
        totals["invocations"] += 1
        totals["records"] += len(images)
        totals["faults_injected"] += len(faults) - len(appsync._faults)
        totals["poison_records"] += sum(poison for _, poison in changes)
        for status in (Status.PUBLISHED, Status.SKIPPED, Status.FAILED):
            totals[status.value] += sum(o.status is status for o in result.outcomes)
        totals["lost"] += len(images) - len(result.outcomes)
        executed = [(p.result["id"], p.result["status"]) for p in appsync.published]
        for key in {k for k, _ in changes}:
            order = [image["status"] for image in images if image["id"] == key]
            seen = list(dict.fromkeys(s for k, s in executed if k == key))
            totals["reordered"] += [order.index(s) for s in seen] != sorted(order.index(s) for s in seen)
        reported = {f["itemIdentifier"] for f in result.batch_item_failures()}
        failed = {o.record.item_identifier for o in result.outcomes if o.status is Status.FAILED}
        totals["wrongly_reported"] += len(reported ^ failed)
    return totals


def main() -> None:
    """Print the soak's counters as one JSON line."""
    logging.disable(logging.CRITICAL)  # thousands of failure lines, all expected
    print(json.dumps(soak()))


if __name__ == "__main__":
    main()
