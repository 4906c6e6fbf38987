"""The stale guard through the handler: every source with a version of its own, moto's DynamoDB as the store.

A change strictly older than the newest published for its key is skipped (not failed); an equal or newer
one is published; a store that cannot be read fails the records it guards (never skipped, never published
unguarded); a version function that raises fails its record and holds its key back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from streambridge import (
    Bridge,
    ConfigurationError,
    DeliveryFailedError,
    DynamoDBIdempotencyStore,
    DynamoDBVersionStore,
    HeldBackError,
    MappingError,
    Mutation,
    Status,
    TransientError,
)
from streambridge.testing import FakeAppSync, events, lambda_context
from streambridge.testing.events import KinesisInput, SQSInput

from .conftest import PUBLISH, dynamodb_table

EPOCH = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(aws: None) -> DynamoDBVersionStore:
    return DynamoDBVersionStore(dynamodb_table("versions"))


def statuses(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


# -- one case per source: an event of one change of a key, at a version -----------------------------------


@dataclass(frozen=True)
class Case:
    source: str
    event: Callable[[str, int, str], Any]
    """(key, version step, status) -> the Lambda event of one change."""
    decorate: Callable[[Bridge], Callable[[Callable[[Any], Any]], Any]]
    order: Callable[[Any], dict[str, Any]]
    """The record -> the order it publishes."""


def dynamodb_event(key: str, step: int, status: str) -> Any:
    return events.dynamodb([{"new_image": {"id": key, "status": status}}], start_sequence=step)


def kinesis_event(key: str, step: int, status: str) -> Any:
    return events.kinesis(
        [KinesisInput({"id": key, "status": status}, partition_key=key)], start_sequence=step
    )


def sqs_fifo_event(key: str, step: int, status: str) -> Any:
    message = SQSInput({"id": key, "status": status}, group_id=key, deduplication_id=f"{key}{step}")
    event = events.sqs([message], fifo=True)
    event["Records"][0]["attributes"]["SequenceNumber"] = str(18_000_000_000_000_000_000 + step)
    return event


def kinesis_dynamodb_event(key: str, step: int, status: str) -> Any:
    change = {"new_image": {"id": key, "status": status}}
    return events.kinesis_dynamodb(
        [change], created=[EPOCH + timedelta(microseconds=step)], start_sequence=step
    )


def alarm_event(via: str) -> Callable[[str, int, str], Any]:
    def build(key: str, step: int, status: str) -> Any:
        state = "ALARM" if status != "OK" else "OK"
        return events.cloudwatch_alarm(key, state=state, via=via, time=EPOCH + timedelta(seconds=step),  # type: ignore[arg-type]
                                       description=status)  # fmt: skip

    return build


def eventbridge_event(key: str, step: int, status: str) -> Any:
    return events.eventbridge({"orderId": key, "status": status}, time=EPOCH + timedelta(seconds=step))


def alarm_order(alarm: Any) -> dict[str, Any]:
    description = alarm.sns_message["AlarmDescription"] if alarm.delivery == "sns" else (
        alarm.configuration["description"])  # fmt: skip
    return {"id": alarm.alarm_name, "status": description}


CASES = [
    Case("dynamodb", dynamodb_event, lambda b: b.dynamodb(PUBLISH), lambda r: dict(r.new_image)),
    Case("kinesis", kinesis_event, lambda b: b.kinesis(PUBLISH), lambda r: r.json()),
    Case(
        "kinesis_dynamodb",
        kinesis_dynamodb_event,
        lambda b: b.kinesis_dynamodb(PUBLISH),
        lambda r: {"id": r.new_image["id"], "status": r.new_image["status"]},
    ),
    Case("sqs_fifo", sqs_fifo_event, lambda b: b.sqs(PUBLISH), lambda r: r.json()),
    Case("alarm_action", alarm_event("lambda"), lambda b: b.cloudwatch_alarm(PUBLISH), alarm_order),
    Case("alarm_sns", alarm_event("sns"), lambda b: b.cloudwatch_alarm(PUBLISH), alarm_order),
    Case(
        "eventbridge",
        eventbridge_event,
        lambda b: b.eventbridge(PUBLISH, partition_key=lambda e: e.detail["orderId"]),
        lambda e: {"id": e.detail["orderId"], "status": e.detail["status"]},
    ),
]


def handler_for(case: Case, bridge: Bridge) -> Any:
    return case.decorate(bridge)(lambda record: {"input": case.order(record)})


def outcome(handler: Any, event: Any) -> tuple[Status, str | None]:
    result = handler.process(event)
    assert len(result.outcomes) == 1
    assert result.lambda_response() == {"batchItemFailures": []} or not handler.source.batch
    return result.outcomes[0].status, result.outcomes[0].note


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.source)
def test_an_older_change_is_skipped_an_equal_or_newer_one_published(
    case: Case, make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN a guarded handler that published change 20 of key a
    handler = handler_for(case, make_bridge(stale_guard=store))
    assert outcome(handler, case.event("a", 20, "PAID")) == (Status.PUBLISHED, None)
    # WHEN an older change of a arrives late (a re-delivery, a retry, a reordered record)
    status, note = outcome(handler, case.event("a", 10, "NEW"))
    # THEN it is skipped, not failed, and says why
    assert status is Status.SKIPPED
    assert note is not None
    assert note.startswith("stale: version ")
    assert "older than version" in note
    # AND a change of another key at that old version, the same change again, and a newer one, publish
    assert outcome(handler, case.event("b", 10, "NEW"))[0] is Status.PUBLISHED
    assert outcome(handler, case.event("a", 20, "PAID"))[0] is Status.PUBLISHED
    assert outcome(handler, case.event("a", 30, "SHIPPED"))[0] is Status.PUBLISHED
    assert statuses(appsync) == [("a", "PAID"), ("b", "NEW"), ("a", "PAID"), ("a", "SHIPPED")]


def test_a_single_event_skipped_as_stale_does_not_raise(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    case = CASES[-1]
    handler = handler_for(case, make_bridge(stale_guard=store))
    handler(case.event("a", 20, "PAID"))
    # WHEN Lambda's asynchronous queue delivers an older event late THEN the entry point returns normally
    assert handler(case.event("a", 5, "NEW")) == {"published": 0, "skipped": 1}


def test_eventbridge_events_of_one_second_are_equal_and_both_published(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN EventBridge's time, in whole seconds: two changes of one order within a second
    handler = handler_for(CASES[-1], make_bridge(stale_guard=store))
    second = "2026-03-01T10:00:00Z"
    paid = events.eventbridge({"orderId": "a", "status": "PAID"}, time=second)
    new = events.eventbridge({"orderId": "a", "status": "NEW"}, time=second)
    # WHEN they arrive in either order THEN neither is "older": both publish (the guard cannot tell them)
    assert handler(paid) == {"published": 1, "skipped": 0}
    assert handler(new) == {"published": 1, "skipped": 0}


def test_within_a_batch_a_keys_records_keep_source_order_and_the_newest_is_stored(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN a batch with three changes of a and one of b
    handler = make_bridge(stale_guard=store).dynamodb(PUBLISH)(lambda r: {"input": r.new_image})
    event = events.dynamodb([{"new_image": {"id": k, "status": s}} for k, s in
                             [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("a", "SHIPPED")]])  # fmt: skip
    # WHEN published
    result = handler.process(event)
    # THEN all go, in order, and the store holds the newest sequence number of each key
    assert result.published == 4
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]
    table = boto3.client("dynamodb").scan(TableName="versions")["Items"]
    assert sorted(int(item["version"]["S"][3:]) for item in table) == [sequence[1], sequence[3]]
    # AND a re-delivery of the whole batch (Lambda after a timeout) skips nothing older than the newest
    # but the older changes of a: subscribers end on SHIPPED, never back at NEW
    again = handler.process(event)
    assert [o.status for o in again.outcomes] == [Status.SKIPPED, Status.PUBLISHED, Status.SKIPPED,
                                                  Status.PUBLISHED]  # fmt: skip
    assert statuses(appsync)[-1] == ("a", "SHIPPED")


# -- the store down or slow: fail, never skip, never publish unguarded ------------------------------------


class Unreachable:
    """A version store whose every call raises, as boto3 does when DynamoDB cannot be reached."""

    def __init__(self) -> None:
        self.advanced: list[Mapping[str, int]] = []

    def newest(self, keys: Sequence[str]) -> Mapping[str, int]:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    def advance(self, versions: Mapping[str, int]) -> None:
        self.advanced.append(versions)


def test_a_store_that_cannot_be_read_fails_the_records_it_guards(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a guarded DynamoDB handler whose version store is unreachable
    handler = make_bridge(stale_guard=Unreachable()).dynamodb(PUBLISH)(lambda r: {"input": r.new_image})
    event = events.dynamodb([{"new_image": {"id": k}} for k in ("a", "b", "a")])
    # WHEN a batch arrives
    with caplog.at_level(logging.WARNING, "streambridge"):
        result = handler.process(event)
    # THEN nothing is published and every record is reported failed, for Lambda to re-deliver
    assert appsync.published == []
    assert [o.status for o in result.outcomes] == [Status.FAILED] * 3
    assert len(result.lambda_response()["batchItemFailures"]) == 3
    first = result.outcomes[0].error
    assert isinstance(first, TransientError)
    assert "stale guard: the version store could not be read (EndpointConnectionError)" in str(first)
    assert "never published unguarded" in str(first)
    assert "version store unreadable" in caplog.text  # with the traceback, once


def test_a_missing_table_fails_a_single_event_so_lambda_retries_it(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, aws: None
) -> None:
    # GIVEN a guarded alarm handler whose table does not exist
    bridge = make_bridge(stale_guard=DynamoDBVersionStore("no-such-table"))
    handler = bridge.cloudwatch_alarm(PUBLISH)(lambda a: {"input": {"id": a.alarm_name, "status": a.state}})
    # WHEN an alarm fires THEN the entry point raises, naming the store's error code
    with pytest.raises(DeliveryFailedError, match=r"could not be read \(ResourceNotFoundException\)"):
        handler(events.cloudwatch_alarm("HighCpu"))
    assert appsync.published == []


class Garbled:
    """A version store of the user's own whose answer is not versions (text where ints belong)."""

    def newest(self, keys: Sequence[str]) -> Mapping[str, Any]:
        return dict.fromkeys(keys, "12")

    def advance(self, versions: Mapping[str, int]) -> None:
        raise AssertionError("nothing was published")


def test_a_store_answering_something_else_than_versions_fails_the_records_not_the_invocation(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    handler = make_bridge(stale_guard=Garbled()).dynamodb(PUBLISH)(lambda r: {"input": r.new_image})
    result = handler.process(events.dynamodb([{"new_image": {"id": "a"}}, {"new_image": {"id": "b"}}]))
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.FAILED]
    assert "could not be read (VersionStoreError)" in str(result.outcomes[0].error)
    assert appsync.published == []


class Slow:
    """A version store that takes ``seconds`` to answer."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def newest(self, keys: Sequence[str]) -> Mapping[str, int]:
        time.sleep(self.seconds)
        return {}

    def advance(self, versions: Mapping[str, int]) -> None:
        raise AssertionError("nothing was published")


def test_a_store_slower_than_half_the_time_left_fails_the_records(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN 1 s left in the invocation and a store that answers in 2 s
    handler = make_bridge(stale_guard=Slow(2.0), deadline_margin=0.1).eventbridge(
        PUBLISH, partition_key=lambda e: e.detail["orderId"]
    )(lambda e: {"input": {"id": e.detail["orderId"], "status": "NEW"}})
    started = time.monotonic()
    # WHEN an event arrives THEN it fails once half the time is spent, without waiting for the store
    with pytest.raises(DeliveryFailedError, match="did not answer in time"):
        handler(events.eventbridge({"orderId": "a"}), lambda_context(timeout_ms=1_000))
    assert time.monotonic() - started < 0.9
    assert appsync.published == []


def test_records_the_guard_does_not_apply_to_go_on_while_the_store_is_down(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a standard SQS queue (no ordering, no version) behind a guarded bridge whose store is down
    handler = make_bridge(stale_guard=Unreachable()).sqs(PUBLISH)(lambda r: {"input": r.json()})
    # WHEN messages arrive THEN they publish: the guard applies to none of them, so it reads nothing
    result = handler.process(events.sqs([{"id": "a", "status": "NEW"}, {"id": "b", "status": "NEW"}]))
    assert result.published == 2


def test_a_store_down_after_publishing_leaves_the_records_published_with_a_warning(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore,
    caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    # GIVEN a store that reads but cannot write (its writes throttled for good)
    def refuse(**_: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                          "UpdateItem")  # fmt: skip

    store.client.update_item = refuse
    handler = make_bridge(stale_guard=store).dynamodb(PUBLISH)(lambda r: {"input": r.new_image})
    # WHEN a batch is published
    with caplog.at_level(logging.WARNING, "streambridge"):
        result = handler.process(events.dynamodb([{"new_image": {"id": "a"}}, {"new_image": {"id": "b"}}]))
    # THEN its records count as published (they reached AppSync: at least once holds), and a warning says
    # that their keys' versions were not written
    assert result.published == 2
    assert "2 published keys' versions not written (VersionStoreError)" in caplog.text


# -- the version function ------------------------------------------------------------------------------


def test_a_version_function_that_raises_fails_its_record_and_holds_its_key_back(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN versions read from the item, one of which has none
    def version(record: Any) -> int:
        return int(record.new_image["version"])

    handler = make_bridge(stale_guard=store).dynamodb(PUBLISH, version=version)(
        lambda r: {"input": {"id": r.new_image["id"], "status": r.new_image["status"]}}
    )
    changes = [("a", "NEW", 1), ("a", "PAID", None), ("a", "SHIPPED", 3), ("b", "NEW", 1)]
    event = events.dynamodb([{"new_image": {"id": k, "status": s, **({"version": v} if v else {})}}
                             for k, s, v in changes])  # fmt: skip
    # WHEN published
    result = handler.process(event)
    # THEN that record fails, saying why, and the later change of its key is held back; b goes on
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.FAILED, Status.FAILED,
                                                   Status.PUBLISHED]  # fmt: skip
    error = result.outcomes[1].error
    assert isinstance(error, MappingError)
    assert str(error).startswith("DynamoDB Streams record #1 (")
    assert "version function raised KeyError: 'version'" in str(error)
    assert isinstance(result.outcomes[2].error, HeldBackError)
    assert statuses(appsync) == [("a", "NEW"), ("b", "NEW")]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (1.5, r"returned 1.5 \(a float"),
        (-1, "a version is an int >= 0"),
        (True, "returned True"),
        ("7", "returned str"),
        (datetime(2026, 1, 1), "naive datetime"),  # naive: the point
    ],
)
def test_a_version_that_is_not_an_int_fails_its_record(
    returned: Any, message: str, make_bridge: Callable[..., Bridge], store: DynamoDBVersionStore
) -> None:
    handler = make_bridge(stale_guard=store).dynamodb(PUBLISH, version=lambda _: returned)(
        lambda r: {"input": r.new_image}
    )
    result = handler.process(events.dynamodb([{"new_image": {"id": "a"}}]))
    assert result.outcomes[0].status is Status.FAILED
    assert isinstance(result.outcomes[0].error, MappingError)
    assert re.search(message, str(result.outcomes[0].error))


def test_a_version_of_none_is_not_guarded_and_an_aware_datetime_is_one(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN versions from the item's updatedAt (ISO text), absent on some items
    def version(record: Any) -> datetime | None:
        text = record.new_image.get("updatedAt")
        return None if text is None else datetime.fromisoformat(text)

    handler = make_bridge(stale_guard=store).dynamodb(PUBLISH, version=version)(
        lambda r: {"input": {"id": r.new_image["id"], "status": r.new_image["status"]}}
    )
    late = "2026-03-01T10:00:00+00:00"
    newer = "2026-03-01T10:00:01+00:00"
    handler.process(events.dynamodb([{"new_image": {"id": "a", "status": "PAID", "updatedAt": newer}}]))
    # WHEN an older one and one without a version arrive
    result = handler.process(events.dynamodb([
        {"new_image": {"id": "a", "status": "NEW", "updatedAt": late}},
        {"new_image": {"id": "a", "status": "NOTE"}},
    ]))  # fmt: skip
    # THEN the older is skipped; the one without a version is not guarded and publishes
    assert [o.status for o in result.outcomes] == [Status.SKIPPED, Status.PUBLISHED]


def test_an_aurora_payload_is_guarded_by_its_version_and_key_functions(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN an Aurora handler (lambda_async: retried by Lambda, in no order) keyed and versioned by the row
    handler = make_bridge(stale_guard=store).aurora(
        PUBLISH, partition_key=lambda p: p.get("id"), version=lambda p: p.get("revision")
    )(lambda p: {"input": {"id": p.get("id"), "status": p.get("status")}})
    handler(events.aurora({"id": "a", "status": "PAID", "revision": 2}))
    # WHEN the retry of an older call comes after it THEN it is skipped
    assert handler(events.aurora({"id": "a", "status": "NEW", "revision": 1})) == {
        "published": 0,
        "skipped": 1,
    }
    assert statuses(appsync) == [("a", "PAID")]


def test_an_event_that_maps_to_several_mutations_is_guarded_as_one_change(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN an EventBridge handler whose mapping makes two mutations per event
    def two(event: Any) -> list[Mutation]:
        order = {"id": event.detail["orderId"], "status": event.detail["status"]}
        return [Mutation(PUBLISH, {"input": order}), Mutation(PUBLISH, {"input": {**order, "id": "audit"}})]

    handler = make_bridge(stale_guard=store).eventbridge(
        PUBLISH, partition_key=lambda e: e.detail["orderId"]
    )(two)
    handler(eventbridge_event("a", 20, "PAID"))
    # WHEN an older event of the same order arrives
    result = handler.process(eventbridge_event("a", 10, "NEW"))
    # THEN both of its mutations are skipped, and the store holds one item, under the event's own key
    assert [o.status for o in result.outcomes] == [Status.SKIPPED, Status.SKIPPED]
    (item,) = boto3.client("dynamodb").scan(TableName="versions")["Items"]
    assert item["id"]["S"] == "eventbridge||a"
    # AND an older event of another order is not stale: each order has its own version
    assert handler.process(eventbridge_event("b", 10, "NEW")).published == 2


# -- with the idempotency store -------------------------------------------------------------------------


def test_with_the_idempotency_store_too_a_redelivery_skips_both_kinds(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN both stores, and an event published (remembered by both)
    idempotency = DynamoDBIdempotencyStore(dynamodb_table("published"))
    handler = make_bridge(stale_guard=store, idempotency=idempotency).eventbridge(
        PUBLISH, partition_key=lambda e: e.detail["orderId"]
    )(lambda e: {"input": {"id": e.detail["orderId"], "status": e.detail["status"]}})
    paid = eventbridge_event("a", 20, "PAID")
    handler(paid)
    # WHEN the same event is delivered again, then an older one of the same order
    again = handler.process(paid)
    older = handler.process(eventbridge_event("a", 10, "NEW"))
    # THEN the first is skipped as already published (the idempotency store), the second as stale
    assert again.outcomes[0].note == "already published (idempotency store)"
    assert (older.outcomes[0].note or "").startswith("stale: ")
    assert statuses(appsync) == [("a", "PAID")]


# -- many invocations at once: the conditional write -----------------------------------------------------


def test_a_newer_version_written_meanwhile_by_another_invocation_is_kept(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN another invocation that publishes version 90 of a while this one publishes version 50
    other = DynamoDBVersionStore("versions")

    def publish_while_another_does(event: Any) -> dict[str, Any]:
        other.advance({_only_key(): 90})
        return {"input": {"id": event.detail["orderId"], "status": "NEW"}}

    handler = make_bridge(stale_guard=store).eventbridge(
        PUBLISH, partition_key=lambda e: e.detail["orderId"], version=lambda _: 50
    )(publish_while_another_does)
    handler.process(eventbridge_event("a", 0, "NEW"))  # stores a's key, so that _only_key finds it
    # WHEN this invocation writes its version after the other one's
    handler.process(eventbridge_event("a", 1, "NEW"))
    # THEN the stored version is still the newer one
    assert store.newest([_only_key()]) == {_only_key(): 90}


def _only_key() -> str:
    items = boto3.client("dynamodb").scan(TableName="versions")["Items"]
    return str(items[0]["id"]["S"]) if items else "eventbridge||a"


# -- what it costs: reads and writes per batch ------------------------------------------------------------


class Counting(DynamoDBVersionStore):
    """The DynamoDB store on moto, counting its calls and the items each read and wrote."""

    def __init__(self) -> None:
        super().__init__("versions")
        self.calls: dict[str, int] = {"BatchGetItem": 0, "UpdateItem": 0}
        self.keys_read = 0
        client = boto3.client("dynamodb")
        counting = self

        class Client:
            def batch_get_item(self, **request: Any) -> Any:
                counting.calls["BatchGetItem"] += 1
                counting.keys_read += len(request["RequestItems"]["versions"]["Keys"])
                return client.batch_get_item(**request)

            def update_item(self, **request: Any) -> Any:
                counting.calls["UpdateItem"] += 1
                return client.update_item(**request)

        self._client = Client()


@pytest.mark.parametrize(("keys", "reads", "writes"), [(10, 1, 10), (100, 1, 100), (250, 3, 250)])
def test_a_batch_costs_one_read_per_100_keys_and_one_write_per_key(
    keys: int, reads: int, writes: int, make_bridge: Callable[..., Bridge], aws: None
) -> None:
    # GIVEN a guarded Kinesis handler and a batch of changes spread over ``keys`` keys
    dynamodb_table("versions")
    store = Counting()
    handler = make_bridge(stale_guard=store).kinesis(PUBLISH)(lambda r: {"input": r.json()})
    count = max(100, keys)
    changes = [({"id": f"k{i % keys}", "status": "NEW"}, f"k{i % keys}") for i in range(count)]
    batch = events.kinesis([KinesisInput(order, partition_key=key) for order, key in changes])
    # WHEN it is published
    result = handler.process(batch)
    # THEN the store was read once per 100 keys (not per change) and written once per key
    assert result.published == count
    assert store.calls == {"BatchGetItem": reads, "UpdateItem": writes}
    assert store.keys_read == keys


# -- settings refused at cold start ----------------------------------------------------------------------


def test_settings_the_guard_cannot_serve_are_refused_at_cold_start(
    make_bridge: Callable[..., Bridge], store: DynamoDBVersionStore
) -> None:
    guarded, plain = make_bridge(stale_guard=store), make_bridge()
    with pytest.raises(ConfigurationError, match=r"version= needs a version store"):
        plain.dynamodb(PUBLISH, version=lambda r: 1)
    with pytest.raises(ConfigurationError, match=r"version= must be a function"):
        guarded.dynamodb(PUBLISH, version=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"eventbridge decorator needs partition_key="):
        guarded.eventbridge(PUBLISH)
    with pytest.raises(ConfigurationError, match=r"aurora decorator needs version= and partition_key="):
        guarded.aurora(PUBLISH, version=lambda p: 1)
    with pytest.raises(ConfigurationError, match=r"kinesis decorator needs version= too"):
        guarded.kinesis(PUBLISH, partition_key=lambda r: r.json()["customer"])
    with pytest.raises(ConfigurationError, match=r"stale_guard=\.\.\.\) must have newest"):
        make_bridge(stale_guard=DynamoDBIdempotencyStore("t"))
    # and what it can serve is taken
    guarded.kinesis(PUBLISH, partition_key=lambda r: r.json()["customer"], version=lambda r: 1)
    guarded.sqs(PUBLISH)


def test_kinesis_for_dynamodb_with_a_wider_key_needs_a_version_of_its_own(
    make_bridge: Callable[..., Bridge], store: DynamoDBVersionStore
) -> None:
    # GIVEN the guard, and a key wider than the item (a customer's orders)
    guarded = make_bridge(stale_guard=store)
    # THEN creation times, which order one item's changes, are refused as the key's versions: another
    # item's late first change would be skipped for being older than this item's newest
    with pytest.raises(ConfigurationError, match=r"kinesis_dynamodb decorator needs version= too"):
        guarded.kinesis_dynamodb(PUBLISH, partition_key=lambda r: r.new_image["customer"])
    # AND a version of the user's own is taken
    guarded.kinesis_dynamodb(PUBLISH, partition_key=lambda r: r.new_image["customer"], version=lambda r: 1)


def test_the_store_key_names_the_stream_so_two_tables_never_share_a_version(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN one function on two tables' streams, whose items have the same key
    handler = make_bridge(stale_guard=store).dynamodb(PUBLISH)(lambda r: {"input": r.new_image})
    handler.process(events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}], table="Orders",
                                    start_sequence=900))  # fmt: skip
    # WHEN the other table's change has a lower sequence number THEN it is not stale: another stream
    result = handler.process(events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}], table="Returns",
                                             start_sequence=1))  # fmt: skip
    assert result.published == 1
    ids = sorted(item["id"]["S"] for item in boto3.client("dynamodb").scan(TableName="versions")["Items"])
    assert [i.split("|")[1].split(":", 5)[5].split("/")[1] for i in ids] == ["Orders", "Returns"]
    assert all(i.endswith('|{"id":{"S":"a"}}') for i in ids)


def test_kinesis_for_dynamodb_compares_creation_times_not_the_streams_sequence_numbers(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    # GIVEN a change of item a made at 10:00:00.000002, delivered with a low Kinesis sequence number
    handler = make_bridge(stale_guard=store).kinesis_dynamodb(PUBLISH)(
        lambda r: {"input": {"id": r.new_image["id"], "status": r.new_image["status"]}}
    )
    newer = {"new_image": {"id": "a", "status": "PAID"}}
    older = {"new_image": {"id": "a", "status": "NEW"}}
    handler.process(
        events.kinesis_dynamodb([newer], created=[EPOCH + timedelta(microseconds=2)], start_sequence=1)
    )
    # WHEN the change made a microsecond before it arrives later, on a higher sequence number (another shard,
    # or a duplicate: the stream keeps neither the item's order nor its once)
    late = events.kinesis_dynamodb([older], created=[EPOCH + timedelta(microseconds=1)], start_sequence=900)
    result = handler.process(late)
    # THEN it is skipped as stale: subscribers keep PAID
    assert result.outcomes[0].status is Status.SKIPPED
    assert statuses(appsync) == [("a", "PAID")]


def test_the_eventbridge_example_never_takes_a_shipment_back_to_an_older_status(
    monkeypatch: pytest.MonkeyPatch, aws: None
) -> None:
    from streambridge import ApiKeyAuth

    from .test_examples import URL, import_handler

    # GIVEN the EventBridge example, deployed with its version table, on a fake AppSync
    monkeypatch.setenv("SHIPMENT_VERSIONS_TABLE", dynamodb_table("shipment-versions"))
    module = import_handler("eventbridge", monkeypatch)
    appsync = FakeAppSync()
    bridge = module.bridge.replace(url=URL, auth=ApiKeyAuth("da2-test"), transport=appsync)
    handler = module.handler.with_bridge(bridge)

    def change(status: str, minute: int) -> Any:
        detail = {"shipmentId": "s-1", "orderId": "o-1", "status": status}
        return events.eventbridge(detail, source="com.example.shipping", detail_type="ShipmentStatusChanged",
                                  time=EPOCH + timedelta(minutes=minute))  # fmt: skip

    try:
        # WHEN DELIVERED (10:05) is published, then Lambda's retry of IN_TRANSIT (10:00) comes
        delivered = handler(change("DELIVERED", 5))
        late = handler(change("IN_TRANSIT", 0))
    finally:
        bridge.close()
    # THEN the late change is skipped: the order page stays at DELIVERED
    assert (delivered, late) == ({"published": 1, "skipped": 0}, {"published": 0, "skipped": 1})
    assert [p.arguments["input"]["status"] for p in appsync.published] == ["DELIVERED"]


def test_an_http_item_older_than_the_published_one_is_skipped_and_a_store_down_asks_for_a_retry(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, store: DynamoDBVersionStore
) -> None:
    import json

    # GIVEN a webhook whose items carry an order id and a revision
    def order(item: Any) -> dict[str, Any]:
        return {"input": {"id": item.json()["id"], "status": item.json()["status"]}}

    def guarded(bridge: Bridge) -> Any:
        return bridge.http(
            PUBLISH, partition_key=lambda i: i.json()["id"], version=lambda i: i.json()["revision"]
        )(order)

    handler = guarded(make_bridge(stale_guard=store))
    first = handler(events.http({"id": "a", "status": "PAID", "revision": 2}))
    # WHEN a sender's retry of an older revision comes after it
    late = handler(
        events.http(
            [{"id": "a", "status": "NEW", "revision": 1}, {"id": "b", "status": "NEW", "revision": 1}]
        )
    )
    # THEN the request succeeds: the older item is skipped, the other published
    assert (first["statusCode"], late["statusCode"]) == (200, 200)
    assert json.loads(late["body"])["skipped"] == 1
    assert statuses(appsync) == [("a", "PAID"), ("b", "NEW")]
    # AND with the version table unreachable the answer is 503, for the sender to retry, nothing published
    down = guarded(make_bridge(stale_guard=Unreachable()))(
        events.http({"id": "c", "status": "NEW", "revision": 1})
    )
    assert down["statusCode"] == 503
    assert statuses(appsync)[-1] == ("b", "NEW")
    # AND without version= or partition_key= the http decorator is refused at cold start
    with pytest.raises(ConfigurationError, match=r"http decorator needs version= and partition_key="):
        make_bridge(stale_guard=store).http(PUBLISH, partition_key=lambda i: i.json()["id"])
