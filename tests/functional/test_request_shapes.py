"""Both request shapes through the whole handler: one mutation as the user wrote it, or an aliased batch.

``batch_size=1`` is the fallback for an API whose subscriptions stay silent under top-level aliases
(whether AppSync fires them is unknown: docs/semantics.md), so every guarantee must hold in both shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from streambridge import (
    ApiKeyAuth,
    Bridge,
    DynamoDBRecord,
    GraphQLError,
    HeldBackError,
    HttpResponse,
    PayloadTooLargeError,
    Status,
)
from streambridge.testing import FakeAppSync, LocalAppSync, events

from .conftest import PUBLISH

SHAPES = pytest.mark.parametrize("batch_size", [1, 50], ids=["unaliased", "aliased"])

SCHEMA = """
input OrderInput { id: ID! status: String }
type Order { id: ID! status: String }
type Mutation { publishOrder(input: OrderInput!): Order }
type Query { ping: String }
type Subscription { onPublishOrder: Order @aws_subscribe(mutations: ["publishOrder"]) }
"""


def orders(*changes: tuple[str, str]) -> dict:
    return events.dynamodb([{"new_image": {"id": key, "status": status}} for key, status in changes])


def publishing(bridge: Bridge) -> Callable[..., dict]:
    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    return handler


def queries(appsync: FakeAppSync) -> list[str]:
    return [json.loads(request.body)["query"] for request in appsync.requests]


def test_batch_size_1_sends_the_users_document_unaliased(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a bridge sending one mutation per request
    handler = publishing(make_bridge(batch_size=1))
    # WHEN four changes of two keys are published
    result = handler.process(orders(("a", "1"), ("b", "1"), ("a", "2"), ("b", "2")))
    # THEN each request is the user's document with the user's variable names, and all four published
    assert result.published == 4
    assert queries(appsync) == [PUBLISH] * 4
    assert all(set(json.loads(r.body)["variables"]) == {"input"} for r in appsync.requests)
    assert [r.aliases for r in appsync.requests] == [["publishOrder"]] * 4
    assert appsync.published_values("status") == ["1", "1", "2", "2"]


def test_a_lone_record_of_a_batching_bridge_goes_unaliased_and_a_full_batch_aliased(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    handler = publishing(bridge)
    # GIVEN a bridge that batches; WHEN an event of one record, then one of three keys, is published
    handler.process(orders(("a", "1")))
    handler.process(orders(("a", "2"), ("b", "1"), ("c", "1")))
    # THEN the lone record went as written, the three as one aliased request
    assert queries(appsync)[0] == PUBLISH
    assert appsync.requests[1].aliases == ["m0", "m1", "m2"]


@SHAPES
def test_a_rejected_mutation_fails_its_record_and_holds_back_its_key_in_both_shapes(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, batch_size: int
) -> None:
    # GIVEN a poison change of key a, followed by another change of a
    handler = publishing(make_bridge(batch_size=batch_size))
    # WHEN published
    result = handler.process(orders(("a", "POISON"), ("b", "1"), ("a", "2")))
    # THEN the poison record failed with AppSync's error, its key's later change was held back, b went out
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED, Status.FAILED]
    assert isinstance(result.outcomes[0].error, GraphQLError)
    assert result.outcomes[0].error.error_type == "PoisonError"
    assert isinstance(result.outcomes[2].error, HeldBackError)
    assert appsync.published_values("status") == ["1"]
    # ... and Lambda is told to re-deliver from the poison record's sequence number
    event = orders(("a", "POISON"))
    sequence_number = event["Records"][0]["dynamodb"]["SequenceNumber"]
    assert handler(event) == {"batchItemFailures": [{"itemIdentifier": sequence_number}]}


@SHAPES
def test_a_transient_failure_is_retried_in_order_in_both_shapes(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, batch_size: int
) -> None:
    # GIVEN AppSync answers the first request with a 503
    appsync.fail_next(HttpResponse(503, {}, b"<html>busy</html>"))
    handler = publishing(make_bridge(batch_size=batch_size))
    # WHEN three changes of one key are published
    result = handler.process(orders(("a", "1"), ("a", "2"), ("a", "3")))
    # THEN all three are published once each, in source order, after one retry
    assert result.published == 3
    assert appsync.published_values("status") == ["1", "2", "3"]
    assert result.retries == 1


@SHAPES
def test_the_payload_guard_fails_an_oversize_record_before_sending_in_both_shapes(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, batch_size: int
) -> None:
    # GIVEN a change over AppSync's 240 KB subscription limit, and one under it
    handler = publishing(make_bridge(batch_size=batch_size))
    # WHEN published
    result = handler.process(orders(("a", "x" * 250_000), ("b", "1")))
    # THEN the large one is failed up front, never sent; the other one is published
    assert isinstance(result.outcomes[0].error, PayloadTooLargeError)
    assert appsync.published_values("status") == ["1"]
    assert all(len(r.body) < 10_000 for r in appsync.requests)


@pytest.fixture
def local_appsync() -> Iterator[LocalAppSync]:
    with LocalAppSync(SCHEMA) as appsync:
        yield appsync


@SHAPES
def test_both_shapes_reach_a_subscriber_in_order_per_key(
    local_appsync: LocalAppSync, batch_size: int
) -> None:
    # GIVEN a subscriber of onPublishOrder and a bridge of either shape
    bridge = Bridge(local_appsync.url, ApiKeyAuth(local_appsync.api_key or ""), batch_size=batch_size)
    handler = publishing(bridge)
    changes = [(f"k{i % 3}", str(i)) for i in range(9)]
    with local_appsync.subscribe("subscription { onPublishOrder { id status } }") as subscription:
        # WHEN nine changes of three keys are published
        result = handler.process(orders(*changes))
        messages = subscription.wait_for(9)
    bridge.close()
    # THEN every change reached the subscriber, each key's changes in source order
    assert result.published == 9
    received = [(m["onPublishOrder"]["id"], m["onPublishOrder"]["status"]) for m in messages]
    for key in ("k0", "k1", "k2"):
        assert [s for k, s in received if k == key] == [s for k, s in changes if k == key]
    # ... and the mutations ran under the shape asked for (the field's own name, or the batch's aliases)
    keys = {m.alias for m in local_appsync.mutations}
    assert keys == ({"publishOrder"} if batch_size == 1 else {f"m{i}" for i in range(3)})


@SHAPES
def test_a_mutation_answered_null_is_published_with_a_note_and_a_warning(
    make_bridge: Callable[..., Bridge], batch_size: int, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a resolver that returns null for order b (AppSync pushes that null to subscribers)
    appsync = FakeAppSync(
        lambda _field, arguments: None if arguments["input"]["id"] == "b" else arguments["input"]
    )
    handler = publishing(make_bridge(batch_size=batch_size, transport=appsync))
    # WHEN a and b are published
    result = handler.process(orders(("a", "1"), ("b", "1")))
    # THEN both count as published (the mutation ran), b with a note saying its result was null, and a warning
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.PUBLISHED]
    assert result.outcomes[0].note is None
    assert "null" in (result.outcomes[1].note or "")
    assert "answered null" in caplog.text
