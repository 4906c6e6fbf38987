"""Kinesis Data Streams for DynamoDB through the handler: per-item order, duplicates, hold-back, answers.

AWS documents that through Kinesis "the Kinesis data stream records might appear in a different sequence than
the item changes occurred" and "the same item notifications might also appear more than once" (DynamoDB
developer guide, "Using Kinesis Data Streams to capture changes to DynamoDB"). Lambda answers a Kinesis batch
from the lowest sequence number reported failed (Lambda developer guide, "Configuring partial batch response
with Kinesis Data Streams"): ``lambda_retry`` below models that, to check what a retry publishes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from streambridge import (
    ApiKeyAuth,
    Bridge,
    HeldBackError,
    KinesisDynamoDBRecord,
    Status,
)
from streambridge._sources import SOURCES
from streambridge._tools.cli import main
from streambridge.testing import FakeAppSync, FakeEventApi, FieldError, events, lambda_context
from tests.memory_store import MemoryStore

from .conftest import PUBLISH
from .test_harness import SCHEMA

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EVENT_URL = "https://abc.appsync-api.us-east-1.amazonaws.com/event"
POWERTOOLS_SAMPLE = Path(__file__).parents[1] / "powertools_events" / "kinesisDynamoDBStreamEvent.json"


def orders(bridge: Bridge) -> Any:
    @bridge.kinesis_dynamodb(PUBLISH)
    def handler(record: KinesisDynamoDBRecord) -> dict[str, Any] | None:
        if record.event_name == "REMOVE":
            return None
        return {"input": record.new_image}

    return handler


def history(*made: tuple[str, str]) -> list[dict[str, Any]]:
    """Changes of orders as made, in this order: an order's first status an INSERT, its next ones MODIFYs."""
    latest: dict[str, dict[str, Any]] = {}
    changes = []
    for key, status in made:
        image = {"id": key, "status": status}
        changes.append({"new_image": image, "old_image": latest.get(key)})
        latest[key] = image
    return changes


def published(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def per_order(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, status in pairs:
        out.setdefault(key, []).append(status)
    return out


def sequence(event: dict[str, Any]) -> list[str]:
    return [r["kinesis"]["sequenceNumber"] for r in event["Records"]]


def lambda_retry(event: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    """The batch Lambda sends after ``answer``: from the lowest failed sequence number on; None if none."""
    failed = [int(f["itemIdentifier"]) for f in answer["batchItemFailures"]]
    if not failed:
        return None
    return {"Records": [r for r in event["Records"] if int(r["kinesis"]["sequenceNumber"]) >= min(failed)]}


# --- order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [50, 1])
def test_each_orders_changes_are_published_in_creation_order_whatever_the_arrival(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, batch_size: int
) -> None:
    # GIVEN three orders' changes, delivered shuffled, each under its own Kinesis partition key
    made = [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("c", "NEW"), ("a", "SHIPPED"), ("b", "PAID")]
    event = events.kinesis_dynamodb(
        history(*made), arrival=[4, 5, 2, 0, 3, 1], partition_key=lambda position: f"pk-{position}"
    )
    assert len({r["kinesis"]["partitionKey"] for r in event["Records"]}) == len(made)
    handler = orders(make_bridge(batch_size=batch_size))

    # WHEN Lambda calls the entry point
    answer = handler(event, lambda_context())

    # THEN every change is published once, each order's in the order they were made
    assert answer == {"batchItemFailures": []}
    assert per_order(published(appsync)) == per_order(made)


@pytest.mark.parametrize("precision", ["MICROSECOND", "MILLISECOND"])
def test_either_precision_orders_the_same(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, precision: str
) -> None:
    # GIVEN changes of one order 400 microseconds apart (the same millisecond for two of them), delivered
    # backwards: with millisecond precision, only the arrival order tells the first two apart
    created = [T0 + timedelta(microseconds=us) for us in (100, 500, 1_300)]
    event = events.kinesis_dynamodb(
        history(("a", "NEW"), ("a", "PAID"), ("a", "SHIPPED")),
        created=created,
        precision=precision,
        arrival=[2, 1, 0],
    )

    # WHEN handled
    orders(make_bridge())(event, lambda_context())

    # THEN microseconds restore the order made; milliseconds restore it but for the tie, which keeps arrival
    expected = ["NEW", "PAID", "SHIPPED"] if precision == "MICROSECOND" else ["PAID", "NEW", "SHIPPED"]
    assert per_order(published(appsync)) == {"a": expected}


def test_a_wider_partition_key_still_orders_each_item_by_creation_time(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN orders of one customer published in one lane (partition_key=), their changes delivered shuffled
    bridge = make_bridge()

    @bridge.kinesis_dynamodb(PUBLISH, partition_key=lambda record: "customer-1")
    def handler(record: KinesisDynamoDBRecord) -> dict[str, Any]:
        return {"input": record.new_image}

    made = [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("b", "PAID")]
    event = events.kinesis_dynamodb(history(*made), arrival=[2, 3, 0, 1])

    # WHEN handled
    handler(event, lambda_context())

    # THEN each order's changes are in creation order; the lane keeps the places the stream gave each item
    assert published(appsync) == [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("b", "PAID")]


def test_coalescing_publishes_the_latest_created_change_not_the_latest_arrived(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN an order's last change arriving first
    event = events.kinesis_dynamodb(history(("a", "NEW"), ("a", "PAID"), ("a", "SHIPPED")), arrival=[2, 0, 1])

    # WHEN handled by a coalescing bridge
    result = orders(make_bridge(coalesce=True)).process(event, lambda_context())

    # THEN only the change made last is published; the others are coalesced into it
    assert published(appsync) == [("a", "SHIPPED")]
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.SKIPPED, Status.SKIPPED]


# --- duplicates -----------------------------------------------------------------------------------


def test_a_change_delivered_twice_is_published_once(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN order a's INSERT delivered three times, b's twice, around the other changes
    made = [("a", "NEW"), ("b", "NEW"), ("a", "PAID")]
    event = events.kinesis_dynamodb(history(*made), arrival=[0, 1, 0, 2, 1, 0])

    # WHEN handled
    result = orders(make_bridge()).process(event, lambda_context())

    # THEN each change is published once; the copies are skipped, each naming the copy published
    assert per_order(published(appsync)) == per_order(made)
    assert result.lambda_response() == {"batchItemFailures": []}
    assert (result.published, result.skipped, result.failed) == (3, 3, 0)
    seq = sequence(event)
    assert [(o.record.index, o.note) for o in result.outcomes if o.status is Status.SKIPPED] == [
        (2, f"duplicate of Kinesis DynamoDB record #0 ({seq[0]}): the same DynamoDB change, delivered again"),
        (4, f"duplicate of Kinesis DynamoDB record #1 ({seq[1]}): the same DynamoDB change, delivered again"),
        (5, f"duplicate of Kinesis DynamoDB record #0 ({seq[0]}): the same DynamoDB change, delivered again"),
    ]


def test_a_duplicate_of_a_failed_change_is_sent_again_by_lambda(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a poison change delivered twice
    event = events.kinesis_dynamodb(history(("a", "POISON"), ("b", "NEW")), arrival=[0, 1, 0])
    handler = orders(make_bridge())

    # WHEN handled
    answer = handler(event, lambda_context())

    # THEN the copy kept is reported; the skipped copy arrived after it, so Lambda's retry brings it again
    seq = sequence(event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": seq[0]}]}
    retry = lambda_retry(event, answer)
    assert retry is not None
    assert sequence(retry) == seq


# --- failures and hold-back -----------------------------------------------------------------------


def test_an_earlier_change_arriving_later_holds_back_the_later_change_when_it_fails(
    make_bridge: Callable[..., Bridge],
) -> None:
    # GIVEN order a's first change (rejected for now) arriving after its second, and order b's change
    rejected = {"a-NEW"}

    def resolver(_field: str, arguments: dict[str, Any]) -> Any:
        order = arguments["input"]
        if f"{order['id']}-{order['status']}" in rejected:
            raise FieldError("not yet", "PoisonError")
        return order

    appsync = FakeAppSync(resolver)
    handler = orders(make_bridge(transport=appsync))
    event = events.kinesis_dynamodb(history(("a", "NEW"), ("a", "PAID"), ("b", "NEW")), arrival=[1, 2, 0])
    seq = sequence(event)

    # WHEN handled
    result = handler.process(event, lambda_context())

    # THEN a's later change is held back behind the failed earlier one, and both are reported, by their
    # sequence numbers in the order they arrived; b is published
    assert result.lambda_response() == {
        "batchItemFailures": [{"itemIdentifier": seq[0]}, {"itemIdentifier": seq[2]}]
    }
    assert isinstance(result.outcomes[0].error, HeldBackError)
    assert "not yet" in str(result.outcomes[2].error)
    assert published(appsync) == [("b", "NEW")]

    # AND Lambda's retry (from the lowest failed sequence number) brings both back; once the first is
    # accepted, subscribers have seen a's changes in the order they were made, b's once more
    rejected.clear()
    retry = lambda_retry(event, result.lambda_response())
    assert retry is not None
    assert handler(retry, lambda_context()) == {"batchItemFailures": []}
    assert per_order(published(appsync)) == {"b": ["NEW", "NEW"], "a": ["NEW", "PAID"]}


def test_a_failed_later_change_is_reported_and_the_earlier_one_published(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN order a's second change (poison) arriving before its first
    event = events.kinesis_dynamodb(
        history(("a", "NEW"), ("a", "POISON"), ("a", "SHIPPED")), arrival=[1, 0, 2]
    )
    seq = sequence(event)

    # WHEN handled
    answer = orders(make_bridge())(event, lambda_context())

    # THEN the first change is published, the poison one and the one made after it reported
    assert published(appsync) == [("a", "NEW")]
    assert answer == {"batchItemFailures": [{"itemIdentifier": seq[0]}, {"itemIdentifier": seq[2]}]}
    # AND Lambda's retry starts at the poison record, which arrived first: nothing is lost
    retry = lambda_retry(event, answer)
    assert retry is not None
    assert sequence(retry) == seq


def test_partial_failures_name_exactly_the_failed_and_held_back_records(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN five orders, order c with a poison change in the middle, delivered in another order
    made = [
        ("a", "NEW"),
        ("c", "NEW"),
        ("b", "NEW"),
        ("c", "POISON"),
        ("d", "NEW"),
        ("c", "PAID"),
        ("e", "NEW"),
    ]
    event = events.kinesis_dynamodb(history(*made), arrival=[5, 0, 3, 1, 6, 2, 4])
    seq = sequence(event)

    # WHEN handled
    result = orders(make_bridge()).process(event, lambda_context())

    # THEN exactly c's poison change and the change made after it are reported, in arrival order
    assert result.lambda_response() == {
        "batchItemFailures": [{"itemIdentifier": seq[0]}, {"itemIdentifier": seq[2]}]
    }
    assert [o.record.new_image["status"] for o in result.failures] == ["PAID", "POISON"]  # type: ignore[attr-defined]
    assert result.held_back == 1
    assert per_order(published(appsync)) == {
        "a": ["NEW"],
        "b": ["NEW"],
        "c": ["NEW"],
        "d": ["NEW"],
        "e": ["NEW"],
    }


def test_a_record_whose_data_is_not_a_change_fails_alone(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a batch where one record's data is not a DynamoDB change (someone else wrote to the stream)
    event = events.kinesis_dynamodb(history(("a", "NEW"), ("b", "NEW")))
    stray = events.kinesis([{"temp": 21.5}], start_sequence=150)["Records"][0]
    event["Records"].insert(1, stray)

    # WHEN handled
    result = orders(make_bridge()).process(event, lambda_context())

    # THEN only that record fails, with a message naming it; the changes are published
    assert result.lambda_response() == {
        "batchItemFailures": [{"itemIdentifier": stray["kinesis"]["sequenceNumber"]}]
    }
    assert str(result.failures[0].error).startswith("Kinesis DynamoDB record #1 (")
    assert "not a DynamoDB change" in str(result.failures[0].error)
    assert published(appsync) == [("a", "NEW"), ("b", "NEW")]


def test_poison_skip_sets_a_record_that_is_not_a_change_aside(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    event = events.kinesis_dynamodb(history(("a", "NEW")))
    event["Records"].append(events.kinesis([b"\xff"], start_sequence=150)["Records"][0])
    result = orders(make_bridge(poison="skip")).process(event, lambda_context())
    assert result.lambda_response() == {"batchItemFailures": []}
    assert (result.published, result.poison_skipped) == (1, 1)


# --- shapes and stores ----------------------------------------------------------------------------


def test_powertools_sample_passes_through_the_decorator(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN Powertools' sample event (two INSERTs) and a handler publishing the new image
    event = json.loads(POWERTOOLS_SAMPLE.read_text())
    bridge = make_bridge()

    @bridge.kinesis_dynamodb(PUBLISH)
    def handler(record: KinesisDynamoDBRecord) -> dict[str, Any]:
        return {"input": {"id": record.keys["id"], "status": record.new_image["data"]}}  # type: ignore[index]

    # WHEN Lambda calls it / THEN both changes are published
    assert handler(event, lambda_context()) == {"batchItemFailures": []}
    assert published(appsync) == [
        ("record-1qit2y819gi", "data-x6aq7ckdpgk"),
        ("record-fvxn3q4q5jw", "data-4eompjs89n5"),
    ]


def test_a_pipes_batch_is_arranged_and_answered_by_event_id(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN the changes through an EventBridge pipe: out of order, one duplicated, one poison
    event = events.pipe(
        events.kinesis_dynamodb(history(("a", "NEW"), ("a", "PAID"), ("b", "POISON")), arrival=[1, 0, 2, 0])
    )

    # WHEN handled
    answer = orders(make_bridge())(event, lambda_context())

    # THEN the same order and once only; the poison record is named by its eventID, as a pipe expects
    assert published(appsync) == [("a", "NEW"), ("a", "PAID")]
    assert answer == {"batchItemFailures": [{"itemIdentifier": event[2]["eventID"]}]}


def test_the_idempotency_store_skips_a_redelivered_record(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a batch published once with an idempotency store
    store = MemoryStore()
    handler = orders(make_bridge(idempotency=store))
    event = events.kinesis_dynamodb(history(("a", "NEW"), ("a", "PAID")), arrival=[1, 0, 0])
    first = handler.process(event, lambda_context())
    assert (first.published, first.skipped) == (2, 1)

    # WHEN Lambda delivers the same Kinesis records again
    again = handler.process(event, lambda_context())

    # THEN nothing is published twice: the records are known by their changes' own eventID
    assert published(appsync) == [("a", "NEW"), ("a", "PAID")]
    assert [o.note for o in again.outcomes] == [
        "already published (idempotency store)",
        "already published (idempotency store)",
        first.outcomes[2].note,
    ]
    assert all(key.startswith("kinesis_dynamodb|arn:aws:kinesis:") for key in store.keys)


def test_changes_go_to_channels_in_creation_order_once() -> None:
    # GIVEN an Event API handler publishing each order's changes to its own channel
    api = FakeEventApi(namespaces=("orders",))
    bridge = Bridge(EVENT_URL, ApiKeyAuth("da2-test"), transport=api)

    @bridge.kinesis_dynamodb(channel=lambda record: f"/orders/{record.keys['id']}")
    def handler(record: KinesisDynamoDBRecord) -> dict[str, Any]:
        return {"status": record.new_image["status"]}  # type: ignore[index]

    made = [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("a", "SHIPPED")]
    event = events.kinesis_dynamodb(history(*made), arrival=[3, 2, 1, 0, 3])

    # WHEN handled
    try:
        answer = handler(event, lambda_context())
    finally:
        bridge.close()

    # THEN each channel got its order's changes in creation order, once
    assert answer == {"batchItemFailures": []}
    assert api.values("/orders/a") == [{"status": "NEW"}, {"status": "PAID"}, {"status": "SHIPPED"}]
    assert api.values("/orders/b") == [{"status": "NEW"}]


# --- local endpoints: LocalAppSync (GraphQL, real-time) and LocalEventApi (channels) ----------------


def test_local_appsync_subscribers_see_each_item_in_creation_order_once(
    local_appsync_factory: Callable[..., Any], local_handler: Callable[..., Any]
) -> None:
    # GIVEN LocalAppSync with a subscriber, and changes delivered out of order with duplicates
    appsync = local_appsync_factory(SCHEMA)
    subscriber = appsync.subscribe("subscription { onPublishOrder { id status } }")
    appsync.wait_for_subscriptions(1)
    handler = local_handler(orders(Bridge(batch_size=50)), appsync)
    made = [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("b", "PAID"), ("a", "SHIPPED")]
    event = events.kinesis_dynamodb(history(*made), arrival=[4, 3, 2, 2, 1, 0, 4])

    # WHEN handled
    assert handler(event, lambda_context()) == {"batchItemFailures": []}

    # THEN the subscriber got every change once, each order's in creation order
    received = [
        (m["onPublishOrder"]["id"], m["onPublishOrder"]["status"]) for m in subscriber.wait_for(len(made))
    ]
    assert per_order(received) == per_order(made)
    assert len(received) == len(made)


def test_local_event_api_channels_get_each_item_in_creation_order_once(
    local_event_api_factory: Callable[..., Any], local_handler: Callable[..., Any]
) -> None:
    # GIVEN LocalEventApi and a channel handler
    api = local_event_api_factory(namespaces=("orders",))
    bridge = Bridge(EVENT_URL)

    @bridge.kinesis_dynamodb(channel=lambda record: f"/orders/{record.keys['id']}")
    def handler(record: KinesisDynamoDBRecord) -> dict[str, Any]:
        return {"status": record.new_image["status"]}  # type: ignore[index]

    made = [("a", "NEW"), ("a", "PAID"), ("b", "NEW"), ("a", "SHIPPED")]
    event = events.kinesis_dynamodb(history(*made), arrival=[3, 0, 3, 2, 1, 0])

    # WHEN handled through the local endpoint (IAM-signed)
    assert local_handler(handler, api)(event, lambda_context()) == {"batchItemFailures": []}

    # THEN each channel got its order's changes in creation order, once
    assert api.values("/orders/a") == [{"status": "NEW"}, {"status": "PAID"}, {"status": "SHIPPED"}]
    assert api.values("/orders/b") == [{"status": "NEW"}]


# --- the command line -----------------------------------------------------------------------------


def cli_event(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(["events", "kinesis-dynamodb", *argv])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return json.loads(out)


def test_the_cli_sample_is_one_change_the_decorator_reads(capsys: pytest.CaptureFixture[str]) -> None:
    (record,) = SOURCES["kinesis_dynamodb"].parse(cli_event(capsys))
    assert isinstance(record, KinesisDynamoDBRecord)
    assert (record.event_name, record.new_image, record.creation_time_precision) == (
        "INSERT",
        {"id": "o-1", "status": "NEW", "amount": 10},
        "MICROSECOND",
    )


def test_the_cli_builds_out_of_order_and_duplicated_deliveries(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make_bridge: Callable[..., Bridge],
    appsync: FakeAppSync,
) -> None:
    # GIVEN three states of two orders in a JSON Lines file, delivered 2, 1, 0, 1 as a pipe would, in ms
    items = tmp_path / "changes.jsonl"
    items.write_text(
        '{"id": "a", "status": "NEW"}\n{"id": "a", "status": "PAID"}\n{"id": "b", "status": "NEW"}\n'
    )
    event = cli_event(
        capsys, "--items", str(items), "--arrival", "2,1,0,1", "--precision", "MILLISECOND", "--pipe"
    )

    # WHEN the decorator handles it
    result = orders(make_bridge()).process(event, lambda_context())

    # THEN a's changes go in the order made, the duplicate once
    assert [r.event_name for r in SOURCES["kinesis_dynamodb"].parse(event)] == [
        "INSERT",
        "MODIFY",
        "INSERT",
        "MODIFY",
    ]
    assert per_order(published(appsync)) == {"b": ["NEW"], "a": ["NEW", "PAID"]}
    assert (result.published, result.skipped) == (3, 1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--arrival", "1"], "--arrival lists positions of the changes, from 0 to 0; got 1"),
        (["--arrival", "0,x"], "argument --arrival: whole numbers from 0, comma-separated, got '0,x'"),
        (["--precision", "SECOND"], "invalid choice: 'SECOND'"),
    ],
)
def test_the_cli_says_what_is_wrong_in_its_own_words(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with contextlib.suppress(SystemExit):
        code = main(["events", "kinesis-dynamodb", *argv])
        assert code != 0
    assert message in capsys.readouterr().err
