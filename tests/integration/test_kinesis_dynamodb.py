"""Kinesis Data Streams for DynamoDB against the AWS Amplify AppSync simulator: real subscribers, real VTL.

Changes arrive out of order and duplicated, as AWS documents they may (DynamoDB developer guide, "Using
Kinesis Data Streams to capture changes to DynamoDB"); subscribers must see each item's changes in the
order they were made, once. Every test runs in both request shapes: aliased batches, and one mutation per
request as the user wrote it.
"""

from __future__ import annotations

import random
import uuid

import pytest

from streambridge import Bridge, Handler, KinesisDynamoDBRecord
from streambridge.testing import events
from tests.integration.subscriber import SubscriberFactory

pytestmark = pytest.mark.integration

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"
SUBSCRIBE = "subscription { onPublishOrder { id status } }"


def handler_on(bridge: Bridge) -> Handler[KinesisDynamoDBRecord]:
    @bridge.kinesis_dynamodb(PUBLISH)
    def handler(record: KinesisDynamoDBRecord) -> dict:
        return {"input": record.new_image}

    return handler


def mine(messages: list[dict], prefix: str) -> list[tuple[str, str]]:
    """This test's changes (the simulator does not filter subscriptions), as (order, status)."""
    orders = [m["onPublishOrder"] for m in messages]
    return [(o["id"].removeprefix(prefix), o["status"]) for o in orders if o["id"].startswith(prefix)]


def test_shuffled_and_duplicated_changes_reach_a_subscriber_in_creation_order_once(
    bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN 30 changes of 5 orders, delivered shuffled, a third of them twice
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)
    made = [(f"o{i % 5}", f"S{i}") for i in range(30)]
    shuffle = random.Random(7)  # noqa: S311 - a reproducible test order, not a secret
    arrival = list(range(30)) + list(range(0, 30, 3))
    shuffle.shuffle(arrival)
    event = events.kinesis_dynamodb(
        [{"new_image": {"id": prefix + key, "status": status}} for key, status in made], arrival=arrival
    )

    # WHEN the handler runs
    result = handler_on(bridge).process(event)

    # THEN every change was published once, the copies skipped
    assert (result.published, result.skipped, result.failed) == (30, 10, 0)
    # AND the subscriber got each order's changes in the order they were made
    received = mine(subscriber.wait_for(30), prefix)
    assert sorted(received) == sorted(made)
    for key in {k for k, _ in made}:
        assert [s for k, s in received if k == key] == [s for k, s in made if k == key]


def test_a_resolver_error_holds_back_the_changes_made_after_it_and_names_them_exactly(
    bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN order b's poison change arriving after b's later change, and order a's changes around them
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)
    made = [("a", "NEW"), ("b", "NEW"), ("b", "POISON"), ("a", "PAID"), ("b", "SHIPPED"), ("c", "NEW")]
    event = events.kinesis_dynamodb(
        [{"new_image": {"id": prefix + key, "status": status}} for key, status in made],
        arrival=[0, 1, 4, 3, 2, 5],
    )
    seq = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]

    # WHEN Lambda calls the entry point
    answer = handler_on(bridge)(event)

    # THEN Lambda is told exactly b's poison change and b's SHIPPED (made after it, arrived before it)
    assert answer == {"batchItemFailures": [{"itemIdentifier": seq[2]}, {"itemIdentifier": seq[4]}]}
    # AND subscribers saw a and c complete, b only up to the poison change
    received = mine(subscriber.wait_for(4), prefix)
    assert sorted(received) == sorted([("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("c", "NEW")])
    assert [s for k, s in received if k == "a"] == ["NEW", "PAID"]
