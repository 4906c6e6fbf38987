"""The orders example end to end on the AWS Amplify AppSync simulator (`python -m examples.demo`, needs Node).

`make demo` runs the same job on LocalAppSync, without Node (`streambridge demo`). This one starts the AWS
Amplify AppSync simulator with the example's schema and resolvers, subscribes to order
changes like a web client would, feeds a DynamoDB stream batch (orders moving NEW -> PAID -> SHIPPED, one
bad record) through the example's decorated handler with IAM signing, and prints what the subscriber
received, live, then the invocation summary and the batchItemFailures Lambda would get.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.simulator import AmplifySimulator
from tests.integration.subscriber import Subscriber

from streambridge import InvocationResult
from streambridge.testing import events

ORDERS = Path(__file__).parent / "orders"
SUBSCRIBE = "subscription OnOrderChanged { onOrderChanged { id status customer amount seq } }"
STATUSES = ("NEW", "PAID", "SHIPPED")
ORDER_COUNT = 12
BAD_ORDER = "order-07"  # its PAID change has a negative amount: the resolver rejects it


def order_stream() -> dict[str, Any]:
    """A stream batch: each order's changes in order, interleaved across orders like a busy table."""
    changes = []
    for step, status in enumerate(STATUSES):
        for number in range(1, ORDER_COUNT + 1):
            order_id = f"order-{number:02d}"
            amount = -5.0 if (order_id == BAD_ORDER and status == "PAID") else 10.0 * number
            image = {"id": order_id, "status": status, "customer": f"customer-{number % 4}", "amount": amount,
                     "updatedAt": f"2026-11-25T12:0{step}:00Z"}  # fmt: skip
            changes.append({"new_image": image, "old_image": None if step == 0 else {**image, "status": "?"}})
    return events.dynamodb(changes)


def show(message: dict[str, Any], started: float) -> None:
    order = message["onOrderChanged"]
    elapsed = (time.monotonic() - started) * 1000
    line = f"{order['id']}  {order['status']:<8} amount={order['amount']:<6} seq={order['seq']}"
    print(f"  {elapsed:7.1f} ms  {line}")


def main() -> int:
    """Run the demo; exit status 0 when everything behaved as expected."""
    logging.basicConfig(level=logging.WARNING, format="  log: %(message)s")
    print("streambridge demo: DynamoDB stream -> streambridge -> AppSync (simulator) -> subscriber\n")
    with AmplifySimulator(schema=ORDERS / "schema.graphql", resolvers=ORDERS / "resolvers.json") as simulator:
        print(f"AppSync simulator on {simulator.url} (started in {simulator.startup_seconds:.2f} s)")
        os.environ.update(
            STREAMBRIDGE_APPSYNC_URL=simulator.url,
            AWS_REGION="us-east-1",  # a local URL has no region in it: IAM signing takes it from here
            AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
            AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",  # noqa: S106 - AWS documentation example key
        )
        from examples.orders import handler as orders  # builds its Bridge from the env above

        with Subscriber(simulator.realtime_url, host=simulator.netloc, api_key=simulator.api_key,
                        document=SUBSCRIBE) as subscriber:  # fmt: skip
            event = order_stream()
            print(f"subscribed; publishing {len(event['Records'])} stream records of {ORDER_COUNT} orders\n")
            outcome: list[InvocationResult] = []
            started = time.monotonic()
            worker = threading.Thread(target=lambda: outcome.append(orders.handler.process(event)))
            worker.start()
            shown = 0
            while worker.is_alive() or shown < len(subscriber.messages):
                for message in subscriber.messages[shown:]:
                    show(message, started)
                    shown += 1
                time.sleep(0.005)
            result = outcome[0]
            for message in subscriber.wait_for(result.published, timeout=10)[shown:]:
                show(message, started)
        orders.bridge.close()

    print("\ninvocation summary:", json.dumps(result.summary()))
    print("batchItemFailures:", json.dumps(orders.handler.answer(result)["batchItemFailures"]))
    for failure in result.failures:
        print(f"  failed {failure.explain()}")
    expected_failures = 2  # order-07's PAID (rejected) and SHIPPED (held back to keep its order)
    return 0 if result.failed == expected_failures and result.published == len(event["Records"]) - 2 else 1


if __name__ == "__main__":
    sys.exit(main())
