"""EventBridge Pipes through the whole handler: the same order, hold-back and outcomes as a mapping's batch.

A pipe invokes its Lambda target with a JSON array of the source's records (EventBridge user guide,
"Amazon EventBridge Pipes batching and concurrency"); the decorators tell it from ``{"Records": [...]}``
by shape. The only difference in the answer is how a record is named: a pipe's Kinesis and DynamoDB
records by their ``eventID`` (same page), SQS messages by ``messageId`` in both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from streambridge import (
    ApiKeyAuth,
    Bridge,
    DynamoDBRecord,
    EventShapeError,
    HeldBackError,
    KinesisRecord,
    SQSRecord,
    Status,
)
from streambridge.testing import (
    EventRejectedError,
    FakeAppSync,
    FakeEventApi,
    FieldError,
    LocalEventApi,
    events,
    lambda_context,
)

from .conftest import PUBLISH

EVENT_URL = "https://abc.appsync-api.us-east-1.amazonaws.com/event"

# (order id, status) changes over three orders; b's second change is poison (rejected for good)
CHANGES = [
    ("a", "NEW"),
    ("b", "NEW"),
    ("a", "PAID"),
    ("b", "POISON"),
    ("a", "SHIPPED"),
    ("b", "SHIPPED"),
    ("c", "NEW"),
]


def published(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def per_key(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, status in pairs:
        out.setdefault(key, []).append(status)
    return out


def dynamodb_changes() -> dict[str, Any]:
    return events.dynamodb([{"new_image": {"id": key, "status": status}} for key, status in CHANGES])


def kinesis_changes() -> dict[str, Any]:
    return events.kinesis(
        [{"data": {"id": key, "status": status}, "partition_key": key} for key, status in CHANGES]
    )


def sqs_changes() -> dict[str, Any]:
    return events.sqs(
        [{"id": key, "status": status} for key, status in CHANGES], fifo=True, group_id=lambda b: b["id"]
    )


def _dynamodb_handler(bridge: Bridge) -> Any:
    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        return {"input": record.new_image}

    return handler


def _kinesis_handler(bridge: Bridge) -> Any:
    @bridge.kinesis(PUBLISH)
    def handler(record: KinesisRecord) -> dict[str, Any]:
        return {"input": record.json()}

    return handler


def _sqs_handler(bridge: Bridge) -> Any:
    @bridge.sqs(PUBLISH)
    def handler(record: SQSRecord) -> dict[str, Any]:
        return {"input": record.json()}

    return handler


SOURCES: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[Bridge], Any], str]] = {
    # source: (event builder, handler factory, the field a pipe's answer names a record by)
    "dynamodb": (dynamodb_changes, _dynamodb_handler, "eventID"),
    "kinesis": (kinesis_changes, _kinesis_handler, "eventID"),
    "sqs": (sqs_changes, _sqs_handler, "messageId"),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_pipes_batch_is_published_and_held_back_exactly_as_a_mappings(
    source: str, make_bridge: Callable[..., Bridge]
) -> None:
    build, make_handler, identifier = SOURCES[source]
    mapping_event = build()
    pipe_event = events.pipe(mapping_event)
    answers = {}
    sent = {}
    # GIVEN the same changes once as an event source mapping delivers them, once as a pipe does
    for shape, event in (("mapping", mapping_event), ("pipe", pipe_event)):
        appsync = FakeAppSync(lambda _field, arguments: _poison(arguments["input"]))
        handler = make_handler(make_bridge(transport=appsync))
        # WHEN each is handled
        answers[shape] = handler(event, lambda_context())
        sent[shape] = published(appsync)

    # THEN both publish the same mutations in the same order per key: a and c all, b stops at the poison
    assert (
        per_key(sent["pipe"])
        == per_key(sent["mapping"])
        == {
            "a": ["NEW", "PAID", "SHIPPED"],
            "b": ["NEW"],
            "c": ["NEW"],
        }
    )
    # AND the pipe's answer names exactly the poison record and the one held back behind it, by the
    # pipe's identifier
    assert answers["pipe"] == {
        "batchItemFailures": [
            {"itemIdentifier": pipe_event[3][identifier]},
            {"itemIdentifier": pipe_event[5][identifier]},
        ]
    }
    assert len(answers["mapping"]["batchItemFailures"]) == 2


def _poison(order: dict[str, Any]) -> dict[str, Any]:
    if order["status"] == "POISON":
        raise FieldError("poison record", "PoisonError")
    return order


def test_outcomes_of_a_pipes_batch_say_why_each_record_failed(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN a pipe's Kinesis batch with a poison change of b
    event = events.pipe(kinesis_changes())
    handler = _kinesis_handler(bridge)

    # WHEN processed
    result = handler.process(event, lambda_context())

    # THEN the poison record failed with AppSync's error, the later b change was held back behind it
    statuses = [o.status for o in result.outcomes]
    assert statuses == [Status.PUBLISHED] * 3 + [
        Status.FAILED,
        Status.PUBLISHED,
        Status.FAILED,
        Status.PUBLISHED,
    ]
    assert "poison record" in str(result.outcomes[3].error)
    assert isinstance(result.outcomes[5].error, HeldBackError)
    assert [o.record.item_identifier for o in result.failures] == [event[3]["eventID"], event[5]["eventID"]]


def test_a_record_the_mapping_function_cannot_read_fails_alone(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN a pipe's Kinesis batch of three devices whose second record's data is not JSON
    event = events.pipe(
        events.kinesis(
            [{"id": "a", "status": "NEW"}, b"\xff not json", {"id": "c", "status": "NEW"}],
            partition_key=lambda data: data["id"] if isinstance(data, dict) else "b",
        )
    )
    handler = _kinesis_handler(bridge)

    # WHEN handled
    answer = handler(event, lambda_context())

    # THEN only that record is reported, by its eventID, and the others are published
    assert answer == {"batchItemFailures": [{"itemIdentifier": event[1]["eventID"]}]}
    assert published(appsync) == [("a", "NEW"), ("c", "NEW")]


def test_a_pipes_batch_of_one_record(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN a pipe's batch of one DynamoDB change (a pipe sends an array even then)
    event = events.pipe(events.dynamodb([{"new_image": {"id": "o-1", "status": "NEW"}}]))

    # WHEN handled / THEN it is published and nothing is reported
    assert _dynamodb_handler(bridge)(event, lambda_context()) == {"batchItemFailures": []}
    assert published(appsync) == [("o-1", "NEW")]


def test_an_empty_array_publishes_nothing_and_fails_nothing(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN an empty array / WHEN handled / THEN nothing is sent and the answer is a success
    assert _sqs_handler(bridge)([], lambda_context()) == {"batchItemFailures": []}
    assert appsync.requests == []


def test_an_enrichment_that_replaced_the_records_fails_the_invocation_with_a_clear_message(
    bridge: Bridge, appsync: FakeAppSync, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN what a pipe's enrichment might return instead of the records: the business objects alone
    event = [{"id": "o-1", "status": "NEW"}]

    # WHEN the DynamoDB handler gets it
    with caplog.at_level(logging.ERROR, logger="streambridge"), pytest.raises(EventShapeError) as caught:
        _dynamodb_handler(bridge)(event, lambda_context())

    # THEN the invocation fails (the pipe retries it, nothing is lost), and the message says what to check
    text = str(caught.value)
    assert text.startswith("dynamodb handler received a record without eventSource (record #0)")
    assert "enrichment" in text
    assert appsync.requests == []
    assert text in caplog.text


def test_a_pipes_sqs_batch_sent_to_the_kinesis_decorator_is_refused() -> None:
    # GIVEN a pipe from an SQS queue wired to a Kinesis handler
    bridge = Bridge(
        "https://example123.appsync-api.us-east-1.amazonaws.com/graphql",
        ApiKeyAuth("k"),
        transport=FakeAppSync(),
    )
    event = events.pipe(events.sqs(["x"]))

    # WHEN invoked / THEN the error names the record's source and the pipe
    with pytest.raises(
        EventShapeError, match=r"kinesis handler received an aws:sqs record \(record #0, messageId "
    ):
        _kinesis_handler(bridge)(event)
    bridge.close()


def test_a_pipes_batch_publishes_to_event_api_channels_in_order() -> None:
    # GIVEN an Event API that rejects one message of room r1, and a pipe's batch of chat messages
    def on_publish(_channel: str, value: Any) -> None:
        if value["text"] == "spam":
            raise EventRejectedError("no spam", 400)

    api = FakeEventApi(namespaces=("rooms",), on_publish=on_publish)
    bridge = Bridge(EVENT_URL, ApiKeyAuth("da2-test"), transport=api)

    @bridge.kinesis(channel=lambda record: f"/rooms/{record.partition_key}")
    def handler(record: KinesisRecord) -> Any:
        return record.json()

    rows = [("r1", "hello"), ("r2", "hi"), ("r1", "spam"), ("r1", "bye"), ("r2", "bye")]
    event = events.pipe(
        events.kinesis([{"data": {"text": text}, "partition_key": room} for room, text in rows])
    )

    # WHEN handled
    answer = handler(event, lambda_context())
    bridge.close()

    # THEN each room got its messages in order up to the rejected one; spam and the later r1 message are
    # reported by their eventIDs
    assert [v["text"] for v in api.values("/rooms/r1")] == ["hello"]
    assert [v["text"] for v in api.values("/rooms/r2")] == ["hi", "bye"]
    assert answer == {
        "batchItemFailures": [
            {"itemIdentifier": event[2]["eventID"]},
            {"itemIdentifier": event[3]["eventID"]},
        ]
    }


@pytest.mark.parametrize("source", ["kinesis", "sqs"])
def test_subscribers_of_a_local_event_api_receive_a_pipes_batch_in_order_per_room(
    source: str, local_event_api_factory: Any
) -> None:
    # GIVEN a local Event API (a real server) that refuses one message of room r1, a subscriber on every
    # room, and a pipe's batch of chat messages from a Kinesis stream or an SQS FIFO queue (group = room)
    def on_publish(_channel: str, value: Any) -> None:
        if value["text"] == "spam":
            raise EventRejectedError("no spam", 400)

    api: LocalEventApi = local_event_api_factory(namespaces=("rooms",), on_publish=on_publish)
    everything = api.subscribe("/rooms/*")
    bridge = Bridge(api.url, ApiKeyAuth(api.api_key or ""))
    rows = [
        ("r1", "hello"),
        ("r2", "hi"),
        ("r1", "how are you"),
        ("r1", "spam"),
        ("r2", "bye"),
        ("r1", "later"),
    ]
    messages = [{"room": room, "text": text} for room, text in rows]
    if source == "kinesis":
        batch = events.pipe(events.kinesis([{"data": m, "partition_key": m["room"]} for m in messages]))
        identifier = "eventID"

        @bridge.kinesis(channel=lambda record: f"/rooms/{record.partition_key}")
        def handler(record: Any) -> Any:
            return record.json()

    else:
        batch = events.pipe(events.sqs(messages, fifo=True, group_id=lambda m: m["room"]))
        identifier = "messageId"

        @bridge.sqs(channel=lambda record: f"/rooms/{record.message_group_id}")
        def handler(record: Any) -> Any:
            return record.json()

    # WHEN the pipe invokes the function
    answer = handler(batch, lambda_context())
    bridge.close()

    # THEN each room's subscriber got its messages in order up to the refused one, r2 all of them
    received = everything.wait_for(4)
    assert [e["text"] for e in received if e["room"] == "r1"] == ["hello", "how are you"]
    assert [e["text"] for e in received if e["room"] == "r2"] == ["hi", "bye"]
    # AND the pipe is told the refused message and the one held back behind it
    assert answer == {"batchItemFailures": [{"itemIdentifier": batch[i][identifier]} for i in (3, 5)]}
