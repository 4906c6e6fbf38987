"""EventBridge Pipes batches against the AWS Amplify AppSync simulator: real subscribers, IAM-signed requests.

A pipe invokes its Lambda target with a JSON array of the source's records (EventBridge user guide,
"Amazon EventBridge Pipes batching and concurrency"). Each source's batch goes through its decorator in
that shape and must reach a real-time subscriber exactly as a mapping's batch does: every change, in
order per key, a key stopped at its poison change, the answer naming records as a pipe expects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from streambridge import Bridge, DynamoDBRecord, KinesisRecord, SQSRecord
from streambridge.testing import events
from tests.integration.subscriber import SubscriberFactory

pytestmark = pytest.mark.integration

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status seq } }"
SUBSCRIBE = "subscription { onPublishOrder { id status seq } }"
# Order b's second change is POISON: the simulator's resolver refuses it (tests/integration/simulator).
CHANGES = [
    ("a", "NEW"),
    ("b", "NEW"),
    ("b", "POISON"),
    ("a", "PAID"),
    ("b", "PAID"),
    ("c", "NEW"),
    ("a", "SHIPPED"),
]


def dynamodb_pipe(prefix: str) -> tuple[list[dict[str, Any]], Callable[[Bridge], Any]]:
    batch = events.pipe(events.dynamodb([{"new_image": {"id": prefix + k, "status": s}} for k, s in CHANGES]))

    def handler(bridge: Bridge) -> Any:
        @bridge.dynamodb(PUBLISH)
        def publish(record: DynamoDBRecord) -> dict[str, Any]:
            return {"input": {**record.new_image, "seq": record.sequence_number}}

        return publish

    return batch, handler


def kinesis_pipe(prefix: str) -> tuple[list[dict[str, Any]], Callable[[Bridge], Any]]:
    records = [{"data": {"id": prefix + k, "status": s}, "partition_key": k} for k, s in CHANGES]
    batch = events.pipe(events.kinesis(records))

    def handler(bridge: Bridge) -> Any:
        @bridge.kinesis(PUBLISH)
        def publish(record: KinesisRecord) -> dict[str, Any]:
            return {"input": {**record.json(), "seq": record.sequence_number}}

        return publish

    return batch, handler


def sqs_fifo_pipe(prefix: str) -> tuple[list[dict[str, Any]], Callable[[Bridge], Any]]:
    bodies = [{"id": prefix + k, "status": s} for k, s in CHANGES]
    batch = events.pipe(events.sqs(bodies, fifo=True, group_id=lambda body: body["id"]))

    def handler(bridge: Bridge) -> Any:
        @bridge.sqs(PUBLISH)
        def publish(record: SQSRecord) -> dict[str, Any]:
            return {"input": {**record.json(), "seq": record.message_id}}

        return publish

    return batch, handler


PIPES = {
    "dynamodb": (dynamodb_pipe, "eventID"),
    "kinesis": (kinesis_pipe, "eventID"),
    "sqs": (sqs_fifo_pipe, "messageId"),
}


@pytest.mark.parametrize("source", list(PIPES))
def test_a_pipes_batch_reaches_a_subscriber_in_order_and_stops_a_poisoned_key(
    source: str, bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber, and a pipe's batch of changes of three orders where b's second change is poison
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)
    build, identifier = PIPES[source]
    batch, make_handler = build(prefix)

    # WHEN the pipe invokes the decorated function
    answer = make_handler(bridge)(batch)

    # THEN the pipe is told exactly the poison change and the later change of b, by its identifier
    assert answer == {"batchItemFailures": [{"itemIdentifier": batch[i][identifier]} for i in (2, 4)]}
    # AND the subscriber got a and c complete and in order, b only up to the poison change
    orders = [m["onPublishOrder"] for m in subscriber.wait_for(5)]
    received = [(o["id"].removeprefix(prefix), o["status"]) for o in orders if o["id"].startswith(prefix)]
    assert sorted(received) == sorted(
        [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("c", "NEW"), ("a", "SHIPPED")]
    )
    assert [s for k, s in received if k == "a"] == ["NEW", "PAID", "SHIPPED"]
