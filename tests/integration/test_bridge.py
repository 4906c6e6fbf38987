"""The bridge against the AWS Amplify AppSync simulator: IAM-signed requests reach real subscribers.

Every test runs in both request shapes: aliased batches, and one mutation per request as the user wrote it.
"""

from __future__ import annotations

import uuid

import pytest

from streambridge import Bridge, DynamoDBRecord, Status
from streambridge.testing import events
from tests.integration.subscriber import SubscriberFactory

pytestmark = pytest.mark.integration

PUBLISH = (
    "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status seq amount updatedAt } }"
)
SUBSCRIBE = "subscription { onPublishOrder { id status seq } }"


def mine(messages: list[dict], prefix: str) -> list[tuple[str, str]]:
    """This test's messages (the simulator does not filter subscriptions), as (key, status)."""
    orders = [m["onPublishOrder"] for m in messages]
    return [(o["id"].removeprefix(prefix), o["status"]) for o in orders if o["id"].startswith(prefix)]


def test_iam_signed_records_reach_a_subscriber_in_order_per_key(
    bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber and 30 changes of 5 orders
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)
    changes = [(f"o{i % 5}", f"S{i}") for i in range(30)]
    event = events.dynamodb(
        [{"new_image": {"id": prefix + key, "status": status}} for key, status in changes]
    )

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": {**record.new_image, "seq": record.sequence_number}}

    # WHEN the handler runs
    assert handler(event) == {"batchItemFailures": []}

    # THEN the subscriber got every change, each key's changes in source order
    received = mine(subscriber.wait_for(30), prefix)
    assert sorted(received) == sorted(changes)
    for key in {k for k, _ in changes}:
        assert [s for k, s in received if k == key] == [s for k, s in changes if k == key]


def test_a_resolver_error_stops_its_key_and_reports_exact_identifiers(
    bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a poison change in the middle of order b's changes
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)
    changes = [
        ("a", "NEW"),
        ("b", "NEW"),
        ("b", "POISON"),
        ("a", "PAID"),
        ("b", "PAID"),
        ("c", "NEW"),
        ("b", "SHIPPED"),
        ("a", "SHIPPED"),
    ]
    event = events.dynamodb(
        [{"new_image": {"id": prefix + key, "status": status}} for key, status in changes]
    )

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN the handler runs
    response = handler(event)

    # THEN Lambda is told exactly the poison record and the later changes of b
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence[i]} for i in (2, 4, 6)]}
    # AND subscribers saw a and c complete, b only up to the poison record
    received = mine(subscriber.wait_for(5), prefix)
    assert sorted(received) == sorted(
        [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("c", "NEW"), ("a", "SHIPPED")]
    )
    assert [s for k, s in received if k == "a"] == ["NEW", "PAID", "SHIPPED"]


def test_requests_per_record_follow_the_batch_size(bridge: Bridge) -> None:
    # GIVEN 500 changes of 100 orders
    prefix = uuid.uuid4().hex[:8] + "-"
    event = events.dynamodb(
        [{"new_image": {"id": f"{prefix}o{i % 100}", "status": f"S{i}"}} for i in range(500)]
    )

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN published
    result = handler.process(event)

    # THEN all are published, with about one request per 50 records when batching, else one per record
    assert all(o.status is Status.PUBLISHED for o in result.outcomes)
    if bridge.limits.max_mutations > 1:
        assert result.requests <= 20
    else:
        assert result.requests == 500
