"""examples/kinesis_dynamodb: the orders handler on Kinesis Data Streams for DynamoDB batches (LocalAppSync).

The handler runs against a LocalAppSync serving the example's own schema (AWSDateTime checked as AppSync
does), signed with IAM as deployed, and a subscriber receives what clients would: each order's changes in
the order they were made, once, whatever order and how many times Kinesis delivered them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streambridge import Status
from streambridge.testing import FieldError, events, lambda_context
from streambridge.testing.events import Change

from .test_examples import import_handler

SCHEMA = Path(__file__).resolve().parents[2] / "examples" / "kinesis_dynamodb" / "schema.graphql"
ON_ORDER = "subscription S($id: ID) { onOrderChanged(id: $id) { id status changedAt } }"
T0 = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return import_handler("kinesis_dynamodb", monkeypatch)


@pytest.fixture
def subscribed(local_appsync_factory: Callable[..., Any]) -> tuple[Any, Any]:
    """``(LocalAppSync serving the example's schema, a subscriber to every order's changes)``."""
    appsync = local_appsync_factory(SCHEMA)
    subscriber = appsync.subscribe(ON_ORDER)
    appsync.wait_for_subscriptions(1)
    return appsync, subscriber


def order(key: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"id": key, "status": status, **fields}


def received(subscriber: Any, count: int) -> list[tuple[str, str, str]]:
    return [(m["onOrderChanged"]["id"], m["onOrderChanged"]["status"], m["onOrderChanged"]["changedAt"])
            for m in subscriber.wait_for(count)]  # fmt: skip


def test_clients_see_each_orders_changes_in_creation_order_once(
    example: ModuleType, subscribed: tuple[Any, Any], local_handler: Callable[..., Any]
) -> None:
    # GIVEN a subscriber, and two orders' changes made 250 microseconds apart, delivered shuffled with
    # duplicates under Kinesis partition keys that are not the orders' keys
    appsync, subscriber = subscribed
    handler = local_handler(example.handler, appsync)
    changes = [
        Change.insert(order("o-1", "NEW", customer="c-1", amount=12.5)),
        Change.insert(order("o-2", "NEW")),
        Change.modify(order("o-1", "NEW", customer="c-1", amount=12.5), order("o-1", "PAID", amount=12.5)),
        Change.modify(order("o-1", "PAID", amount=12.5), order("o-1", "SHIPPED", amount=12.5)),
    ]
    created = [T0 + timedelta(microseconds=250 * n) for n in range(len(changes))]
    event = events.kinesis_dynamodb(changes, created=created, arrival=[3, 2, 1, 3, 0, 2])

    # WHEN Lambda calls the entry point
    result = handler.process(event, lambda_context())

    # THEN every change is published once; the copies are skipped as duplicates, nothing fails
    assert (result.published, result.skipped, result.failed) == (4, 2, 0)
    assert result.lambda_response() == {"batchItemFailures": []}
    # AND the subscriber sees order o-1's changes in the order made, with their creation times
    seen = received(subscriber, 4)
    assert [(key, status) for key, status, _ in seen if key == "o-1"] == [
        ("o-1", "NEW"),
        ("o-1", "PAID"),
        ("o-1", "SHIPPED"),
    ]
    # (fixed-width text: it sorts like the times, so a client can compare it as it comes)
    assert [at for key, _, at in seen if key == "o-1"] == [
        "2026-01-01T10:00:00.000000Z",
        "2026-01-01T10:00:00.000500Z",
        "2026-01-01T10:00:00.000750Z",
    ]
    assert ("o-2", "NEW", "2026-01-01T10:00:00.000250Z") in seen
    assert [m.auth_mode for m in appsync.mutations] == ["AWS_IAM"] * len(appsync.mutations)


def test_an_application_deletion_is_published_and_an_expiry_is_not(
    example: ModuleType, subscribed: tuple[Any, Any], local_handler: Callable[..., Any]
) -> None:
    # GIVEN an order deleted by the application and another expired by Time to Live
    appsync, subscriber = subscribed
    event = events.kinesis_dynamodb(
        [Change.remove(order("o-1", "PAID")), Change.remove(order("o-2", "NEW"), ttl=True)],
        precision="MILLISECOND",
    )

    # WHEN handled
    result = local_handler(example.handler, appsync).process(event, lambda_context())

    # THEN clients learn of the deletion, with its time to the millisecond; the expiry is skipped
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.SKIPPED]
    assert received(subscriber, 1) == [("o-1", "DELETED", "2026-01-01T00:00:00.000000Z")]


def test_a_rejected_change_holds_back_its_orders_later_changes_wherever_they_arrived(
    example: ModuleType, local_appsync_factory: Callable[..., Any], local_handler: Callable[..., Any]
) -> None:
    # GIVEN an API that rejects o-1's PAID change, which Kinesis delivers after o-1's SHIPPED change
    def publish_order(_field: str, arguments: dict[str, Any]) -> Any:
        if arguments["input"]["status"] == "PAID":
            raise FieldError("payment not confirmed", "ValidationError")
        return arguments["input"]

    appsync = local_appsync_factory(SCHEMA, resolvers={"Mutation.publishOrder": publish_order})
    changes = [
        Change.insert(order("o-1", "NEW")),
        Change.modify(order("o-1", "NEW"), order("o-1", "PAID")),
        Change.modify(order("o-1", "PAID"), order("o-1", "SHIPPED")),
        Change.insert(order("o-2", "NEW")),
    ]
    event = events.kinesis_dynamodb(changes, arrival=[0, 2, 3, 1])
    seq = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]

    # WHEN Lambda calls the entry point
    answer = local_handler(example.handler, appsync)(event, lambda_context())

    # THEN SHIPPED (made after PAID) was not sent, and both are reported: Lambda's retry starts at the
    # lower sequence number, SHIPPED's, and brings both back
    assert answer == {"batchItemFailures": [{"itemIdentifier": seq[1]}, {"itemIdentifier": seq[3]}]}
    assert sorted(
        (m.arguments["input"]["id"], m.arguments["input"]["status"])
        for m in appsync.mutations
        if m.error is None
    ) == [
        ("o-1", "NEW"),
        ("o-2", "NEW"),
    ]
