"""`streambridge demo`: the main job end to end on local defaults, with no AWS account and no Node.

A LocalAppSync serves the orders schema; a subscriber listens like a web client; a DynamoDB stream batch of
orders moving NEW -> PAID -> SHIPPED (one of them with a negative amount, which the resolver rejects) goes
through a decorated handler that signs its requests with IAM; the terminal shows what the subscriber
receives, live, then the invocation summary and the batchItemFailures Lambda would get.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from streambridge._engine.result import InvocationResult

SCHEMA = """
type Order @aws_api_key @aws_iam {
  id: ID!
  status: String!
  customer: String
  amount: Float
  updatedAt: AWSDateTime
  seq: String
}

input OrderInput {
  id: ID!
  status: String!
  customer: String
  amount: Float
  updatedAt: AWSDateTime
  seq: String
}

type Query @aws_api_key @aws_iam { ping: String }

type Mutation @aws_iam { publishOrder(input: OrderInput!): Order }

type Subscription @aws_api_key @aws_iam {
  onOrderChanged(id: ID): Order @aws_subscribe(mutations: ["publishOrder"])
}
"""

PUBLISH_ORDER = """
mutation PublishOrder($input: OrderInput!) {
  publishOrder(input: $input) { id status customer amount updatedAt seq }
}
"""

SUBSCRIBE = "subscription OnOrderChanged { onOrderChanged { id status amount seq } }"
STATUSES = ("NEW", "PAID", "SHIPPED")
LIVE_LINES = 60  # beyond this many messages, show progress instead of every message


def publish_order(_field: str, arguments: dict[str, Any]) -> Any:
    """The resolver: a NONE data source passing the order through, refusing a negative amount."""
    from streambridge.testing import FieldError

    order = arguments["input"]
    if (order.get("amount") or 0) < 0:
        raise FieldError("amount must not be negative", "ValidationError")
    return order


def order_stream(orders: int, bad_order: str) -> dict[str, Any]:
    """A DynamoDB stream batch: each order's changes in order, interleaved across orders."""
    from streambridge.testing import events

    changes = []
    for step, status in enumerate(STATUSES):
        for number in range(1, orders + 1):
            order_id = f"order-{number:03d}"
            amount = -5.0 if (order_id == bad_order and status == "PAID") else 10.0 * number
            image = {
                "id": order_id,
                "status": status,
                "customer": f"customer-{number % 7}",
                "amount": amount,
                "updatedAt": f"2026-11-25T12:0{step}:00Z",
            }
            changes.append({"new_image": image, "old_image": None if step == 0 else {**image, "status": "?"}})
    return events.dynamodb(changes)


def handler_for(url: str) -> Any:
    """The orders handler (as in examples/orders), signing with LocalAppSync's test IAM credentials."""
    from botocore.credentials import Credentials

    from streambridge import Bridge, DynamoDBRecord, IAMAuth
    from streambridge.testing import DEFAULT_CREDENTIALS

    access_key, secret_key, _ = DEFAULT_CREDENTIALS[0]
    bridge = Bridge(url, IAMAuth(region="us-east-1", credentials=Credentials(access_key, secret_key)))

    @bridge.dynamodb(PUBLISH_ORDER)
    def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
        if record.event_name == "REMOVE":
            return None
        order = record.new_image or {}
        return {"input": {**order, "seq": record.sequence_number}}

    return handler


def run(orders: int = 12, out: Callable[[str], None] = print) -> int:
    """Run the demo; 0 when every order but the bad one arrived complete and the bad one was reported."""
    from streambridge.testing import LocalAppSync, events

    bad_order = f"order-{min(7, orders):03d}"
    event = order_stream(orders, bad_order)
    total = len(event["Records"])
    out("streambridge demo: DynamoDB stream -> streambridge -> AppSync (LocalAppSync) -> subscriber\n")
    with LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": publish_order}) as appsync:
        out(f"LocalAppSync serving the orders schema on {appsync.url}")
        handler = handler_for(appsync.url)
        with appsync.subscribe(SUBSCRIBE) as subscription:
            out(f"subscribed to onOrderChanged; publishing {total} stream records of {orders} orders")
            out(f"({bad_order}'s PAID change has a negative amount: the resolver rejects it)\n")
            outcome: list[InvocationResult] = []
            started = time.monotonic()
            worker = threading.Thread(
                target=lambda: outcome.append(
                    handler.process(event, events.lambda_context(timeout_ms=60_000))
                )
            )
            worker.start()
            shown = _follow(subscription, worker, total, started, out)
            result = outcome[0]
            _show(subscription.wait_for(result.published, timeout=10)[shown:], started, shown, total, out)
        handler.bridge.close()
    out("\ninvocation summary: " + json.dumps(result.summary()))
    out("batchItemFailures: " + json.dumps(handler.answer(result)["batchItemFailures"]))
    for failure in result.failures:
        out(f"  failed {failure.explain()}")
    return 0 if result.failed == 2 and result.published == total - 2 else 1  # bad PAID + held-back SHIPPED


def _follow(subscription: Any, worker: threading.Thread, total: int, started: float, out: Any) -> int:
    shown = 0
    while worker.is_alive():
        messages = subscription.messages
        _show(messages[shown:], started, shown, total, out)
        shown = len(messages)
        time.sleep(0.01)
    worker.join()
    return shown


def _show(messages: list[dict[str, Any]], started: float, shown: int, total: int, out: Any) -> None:
    for number, message in enumerate(messages, shown + 1):
        elapsed = (time.monotonic() - started) * 1000
        if total <= LIVE_LINES:
            order = message["onOrderChanged"]
            line = f"{order['id']}  {order['status']:<8} amount={order['amount']:<7} seq={order['seq']}"
            out(f"  {elapsed:7.1f} ms  {line}")
        elif number % max(1, total // 10) == 0:
            out(f"  {elapsed:7.1f} ms  received {number}/{total} messages")
