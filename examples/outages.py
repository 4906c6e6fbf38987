"""The orders handler through a brown-out, a throttled API and an outage (`python -m examples.outages`).

No AppSync, no network, no waiting: the example's own decorated handler runs against ``FakeAppSync`` with
20 ms of latency under a network condition of ``streambridge.testing.conditions``, on an event loop whose
clock skips the waits (``run_on_virtual_time``), so a minute of backoff takes milliseconds while the
retry budget, the circuit breaker and the Lambda deadline act exactly as they would. Copy a scenario
into your own tests to see what your settings do. docs/reliability.md has the same scenarios measured in
real time against a fault-injecting server.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from examples.orders import handler as orders
from streambridge import ApiKeyAuth, InvocationResult
from streambridge.testing import FakeAppSync, conditions, events, lambda_context, run_on_virtual_time

URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"


def order_changes(orders_count: int = 100, changes: int = 20) -> dict[str, Any]:
    """A DynamoDB stream batch: each order moves through ``changes`` states, interleaved across orders."""
    images = [
        {"new_image": {"id": f"order-{order:02d}", "status": f"STEP-{step}", "amount": 10}}
        for step in range(changes)
        for order in range(orders_count)
    ]
    return events.dynamodb(images)


def invoke(condition: Any, event: dict[str, Any], **settings: Any) -> tuple[InvocationResult, float, int]:
    """One invocation of the orders handler under ``condition``: its result, virtual seconds, requests."""
    appsync = FakeAppSync(latency=0.02, conditions=condition)
    bridge = orders.bridge.replace(url=URL, auth=ApiKeyAuth("da2-example"), transport=appsync, **settings)
    handler = orders.handler.with_bridge(bridge)
    result, seconds = run_on_virtual_time(
        handler.process_async(event, lambda_context(timeout_ms=120_000))  # a 2-minute Lambda timeout
    )
    return result, seconds, len(appsync.requests)


SCENARIOS = {
    "brown-out (429, 500, 503, reset, 502, then 30% faults)": (lambda: conditions.BrownOut(rate=0.3), {}),
    "throttled to 50 requests/s, 5 changes a request": (
        lambda: conditions.TokenBucket(rate=50),
        {"batch_size": 5},
    ),
    "down (every request 503)": (lambda: conditions.Down(conditions.UNAVAILABLE), {}),
}


def main() -> None:
    """Print what each scenario did."""
    logging.disable(logging.WARNING)  # one warning per failed record in the outage: expected here
    try:
        event = order_changes()
        for name, (condition, settings) in SCENARIOS.items():
            counts = condition()
            result, seconds, requests = invoke(counts, event, **settings)
            outcome = Counter(o.status.value for o in result.outcomes)
            errors = sorted({type(o.error).__name__ for o in result.outcomes if o.error is not None})
            print(f"{name}:")
            print(f"  {dict(outcome)} in {seconds:.1f} s (virtual), {requests} requests")
            print(f"  AppSync's answers: {dict(counts.counts)}")
            if errors:
                failures = len(result.batch_item_failures())
                print(f"  errors: {', '.join(errors)}; batchItemFailures: {failures}")
    finally:
        logging.disable(logging.NOTSET)


if __name__ == "__main__":
    main()
