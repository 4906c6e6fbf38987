"""`streambridge demo`: the main job end to end on local defaults, with no AWS account and no Node.

A DynamoDB stream batch of orders moving NEW -> PAID -> SHIPPED (one of them with a negative amount, which
the API rejects) goes through a decorated handler that signs its requests with IAM; the terminal shows what
a subscriber receives, live, then the invocation summary and the batchItemFailures Lambda would get. Two
targets: ``graphql`` (LocalAppSync serves the orders schema, the resolver rejects the bad change, the
subscriber listens to onOrderChanged) and ``channels`` (LocalEventApi, an on_publish rule rejects it, the
subscriber listens to ``/orders/*``; each customer's orders go to its channel, so orders share publishes).
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
TARGETS = ("graphql", "channels")
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
    from streambridge import Bridge, DynamoDBRecord, IAMAuth

    bridge = Bridge(url, IAMAuth(region="us-east-1", credentials=_credentials()))

    @bridge.dynamodb(PUBLISH_ORDER)
    def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
        if record.event_name == "REMOVE":
            return None
        order = record.new_image or {}
        return {"input": {**order, "seq": record.sequence_number}}

    return handler


def _credentials() -> Any:
    from botocore.credentials import Credentials

    from streambridge.testing import DEFAULT_CREDENTIALS

    access_key, secret_key, _ = DEFAULT_CREDENTIALS[0]
    return Credentials(access_key, secret_key)


def channels_handler_for(url: str) -> Any:
    """The orders handler for an Event API: each order's changes on its customer's channel."""
    from streambridge import Bridge, DynamoDBRecord, IAMAuth

    bridge = Bridge(url, IAMAuth(region="us-east-1", credentials=_credentials()))

    @bridge.dynamodb(channel=lambda record: f"/orders/{record.new_image['customer']}")
    def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
        if record.event_name == "REMOVE":
            return None
        order = record.new_image or {}
        return {**order, "seq": record.sequence_number}

    return handler


def reject_negative(_channel: str, order: Any) -> None:
    """The Event API's on_publish rule: like an onPublish handler refusing a negative amount."""
    from streambridge.testing import EventRejectedError

    if (order.get("amount") or 0) < 0:
        raise EventRejectedError("amount must not be negative")


def run(orders: int = 12, out: Callable[[str], None] = print, target: str = "graphql") -> int:
    """Run the demo; 0 when every order but the bad one arrived complete and the bad one was reported."""
    from streambridge.testing import LocalAppSync, LocalEventApi

    bad_order = f"order-{min(7, orders):03d}"
    event = order_stream(orders, bad_order)
    total = len(event["Records"])
    if target == "channels":
        out(
            "streambridge demo: DynamoDB stream -> streambridge -> AppSync Events (LocalEventApi) -> "
            "subscriber\n"
        )
        with LocalEventApi(namespaces=("orders",), on_publish=reject_negative) as api:
            out(f"LocalEventApi serving the orders namespace on {api.url}")
            handler = channels_handler_for(api.url)
            with api.subscribe("/orders/*") as subscription:
                out(f"subscribed to /orders/*; publishing {total} stream records of {orders} orders")
                out(f"({bad_order}'s PAID change has a negative amount: an on_publish rule rejects it)\n")
                result = _publish(handler, event, lambda: subscription.events, _event_line, out)
    else:
        out("streambridge demo: DynamoDB stream -> streambridge -> AppSync (LocalAppSync) -> subscriber\n")
        with LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": publish_order}) as appsync:
            out(f"LocalAppSync serving the orders schema on {appsync.url}")
            handler = handler_for(appsync.url)
            with appsync.subscribe(SUBSCRIBE) as subscription:
                out(f"subscribed to onOrderChanged; publishing {total} stream records of {orders} orders")
                out(f"({bad_order}'s PAID change has a negative amount: the resolver rejects it)\n")
                result = _publish(handler, event, lambda: subscription.messages, _message_line, out)
    out("\ninvocation summary: " + json.dumps(result.summary()))
    out("batchItemFailures: " + json.dumps(handler.answer(result)["batchItemFailures"]))
    for failure in result.failures:
        out(f"  failed {failure.explain()}")
    return 0 if result.failed == 2 and result.published == total - 2 else 1  # bad PAID + held-back SHIPPED


def _publish(
    handler: Any,
    event: dict[str, Any],
    received: Callable[[], list[Any]],
    line: Callable[[Any], str],
    out: Callable[[str], None],
) -> InvocationResult:
    """Process the event in a thread while showing what the subscriber receives, live; close the bridge."""
    from streambridge.testing import events

    total = len(event["Records"])
    outcome: list[InvocationResult] = []
    started = time.monotonic()
    worker = threading.Thread(
        target=lambda: outcome.append(handler.process(event, events.lambda_context(timeout_ms=60_000)))
    )
    worker.start()
    shown = 0
    while worker.is_alive():
        messages = received()
        _show(messages[shown:], started=started, shown=shown, total=total, line=line, out=out)
        shown = len(messages)
        time.sleep(0.01)
    worker.join()
    handler.bridge.close()
    result = outcome[0]
    deadline = time.monotonic() + 10  # the last messages may still be on their way
    while len(messages := received()) < result.published and time.monotonic() < deadline:
        time.sleep(0.01)
    _show(messages[shown:], started=started, shown=shown, total=total, line=line, out=out)
    return result


def _message_line(message: dict[str, Any]) -> str:
    order = message["onOrderChanged"]
    return f"{order['id']}  {order['status']:<8} amount={order['amount']:<7} seq={order['seq']}"


def _event_line(order: dict[str, Any]) -> str:
    channel = f"/orders/{order['customer']}"
    return f"{channel:<19} {order['id']}  {order['status']:<8} amount={order['amount']:<7} seq={order['seq']}"


def _show(
    messages: list[Any],
    *,
    started: float,
    shown: int,
    total: int,
    line: Callable[[Any], str],
    out: Callable[[str], None],
) -> None:
    for number, message in enumerate(messages, shown + 1):
        elapsed = (time.monotonic() - started) * 1000
        if total <= LIVE_LINES:
            out(f"  {elapsed:7.1f} ms  {line(message)}")
        elif number % max(1, total // 10) == 0:
            out(f"  {elapsed:7.1f} ms  received {number}/{total} messages")
