"""The opt-in reliability features through the whole handler: a dead-letter queue that lets a key go on,
and an idempotency store that skips records already published (moto's SQS and DynamoDB)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import boto3
import pytest

from streambridge import Bridge, DynamoDBRecord, HttpResponse, Status
from streambridge._stores.deadletter import SQSDeadLetterQueue
from streambridge._stores.idempotency import DynamoDBIdempotencyStore, idempotency_key
from streambridge.testing import FakeAppSync, RequestRejectedError, events

from .conftest import PUBLISH, dynamodb_table, rejecting


@pytest.fixture
def queue(aws: None) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="poison")["QueueUrl"])


@pytest.fixture
def table(aws: None) -> str:
    return dynamodb_table("published")


def dead_letters(queue_url: str) -> list[dict[str, Any]]:
    client = boto3.client("sqs")
    out: list[dict[str, Any]] = []
    while batch := client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        out.extend(json.loads(m["Body"]) for m in batch)
        for message in batch:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return out


def orders(*changes: tuple[str, str]) -> dict[str, Any]:
    return events.dynamodb([{"new_image": {"id": k, "status": s}} for k, s in changes])


def handler_on(bridge: Bridge, mapper: Callable[[Any], Any] | None = None) -> Any:
    return bridge.dynamodb(PUBLISH)(mapper or (lambda record: {"input": record.new_image}))


def statuses(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def test_a_poison_record_is_dead_lettered_and_its_key_goes_on(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, queue: str
) -> None:
    # GIVEN a bridge with a dead-letter queue and a poison change in the middle of order a
    handler = handler_on(make_bridge(dead_letter=SQSDeadLetterQueue(queue)))
    # WHEN published
    result = handler.process(orders(("a", "NEW"), ("a", "POISON"), ("a", "PAID"), ("b", "NEW")))
    # THEN the poison record is in the queue with its error, and a's later change was published after it
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED, Status.DEAD_LETTERED, Status.PUBLISHED, Status.PUBLISHED]  # fmt: skip
    assert result.lambda_response() == {"batchItemFailures": []}
    assert statuses(appsync) == [("a", "NEW"), ("b", "NEW"), ("a", "PAID")]
    (letter,) = dead_letters(queue)
    assert letter["itemIdentifier"] == result.outcomes[1].record.item_identifier
    assert letter["error"]["type"] == "GraphQLError"
    assert "PoisonError" in letter["error"]["message"]
    assert result.summary()["dead_lettered"] == 1


def test_a_mapping_failure_is_dead_lettered_before_publishing(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, queue: str
) -> None:
    def mapper(record: Any) -> Any:
        if record.new_image["status"] == "BAD":
            raise ValueError("cannot map")
        return {"input": record.new_image}

    handler = handler_on(make_bridge(dead_letter=SQSDeadLetterQueue(queue)), mapper)
    result = handler.process(orders(("a", "BAD"), ("a", "PAID")))
    assert [o.status for o in result.outcomes] == [Status.DEAD_LETTERED, Status.PUBLISHED]
    assert "ValueError: cannot map" in dead_letters(queue)[0]["error"]["message"]


def test_without_a_reachable_queue_the_poison_record_is_reported_as_usual(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, aws: None
) -> None:
    # GIVEN a dead-letter queue that does not exist
    sink = SQSDeadLetterQueue("https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    handler = handler_on(make_bridge(dead_letter=sink))
    # WHEN a poison record is published
    result = handler.process(orders(("a", "POISON"), ("a", "PAID"), ("b", "NEW")))
    # THEN nothing is lost: it is reported failed and its key held back, like without a queue
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.FAILED, Status.PUBLISHED]
    assert len(result.batch_item_failures()) == 2


def test_transient_failures_are_never_dead_lettered(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, queue: str
) -> None:
    appsync.fail_next(*[HttpResponse(503, {}, b"down")] * 3)
    handler = handler_on(make_bridge(dead_letter=SQSDeadLetterQueue(queue)))
    result = handler.process(orders(("a", "NEW"), ("a", "PAID")))
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.FAILED]
    assert dead_letters(queue) == []


def test_a_request_rejected_as_a_whole_dead_letters_only_the_culprit(
    make_bridge: Callable[..., Bridge], queue: str
) -> None:
    def validate(_field: str, arguments: dict[str, Any]) -> None:
        if arguments["input"]["status"] == "INVALID":
            raise RequestRejectedError("Variable has an invalid value")

    appsync = FakeAppSync(validate=validate)
    handler = handler_on(make_bridge(transport=appsync, dead_letter=SQSDeadLetterQueue(queue)))
    result = handler.process(orders(("a", "NEW"), ("b", "INVALID"), ("b", "PAID")))
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.DEAD_LETTERED, Status.PUBLISHED]
    assert sorted(statuses(appsync)) == [("a", "NEW"), ("b", "PAID")]


def test_packing_keeps_the_changes_that_ran_after_a_dead_lettered_one(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, queue: str
) -> None:
    handler = handler_on(make_bridge(per_key=10, dead_letter=SQSDeadLetterQueue(queue)))
    result = handler.process(orders(("a", "NEW"), ("a", "POISON"), ("a", "PAID")))
    assert result.requests == 1
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.DEAD_LETTERED, Status.PUBLISHED]


def test_a_single_event_source_does_not_raise_once_its_event_is_dead_lettered(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, queue: str
) -> None:
    bridge = make_bridge(dead_letter=SQSDeadLetterQueue(queue))

    @bridge.eventbridge(PUBLISH)
    def handler(event: Any) -> dict[str, Any]:
        return {"input": event.detail}

    assert handler(events.eventbridge({"id": "s1", "status": "POISON"})) == {"published": 0, "skipped": 0}
    assert len(dead_letters(queue)) == 1


def test_a_redelivered_batch_publishes_only_what_was_not_published(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, table: str
) -> None:
    # GIVEN a bridge with an idempotency store, and AppSync failing once for good on b
    rejected = {"b"}
    appsync.resolver = rejecting(rejected)
    handler = handler_on(make_bridge(idempotency=DynamoDBIdempotencyStore(table)))
    event = orders(("a", "NEW"), ("b", "NEW"), ("c", "NEW"))
    # WHEN the batch is delivered, then re-delivered by Lambda after b's failure was fixed
    first = handler.process(event)
    rejected.clear()
    second = handler.process(event)
    # THEN the second delivery publishes b only; a and c are skipped as already published
    assert [o.status for o in first.outcomes] == [Status.PUBLISHED, Status.FAILED, Status.PUBLISHED]
    assert [o.status for o in second.outcomes] == [Status.SKIPPED, Status.PUBLISHED, Status.SKIPPED]
    assert second.outcomes[0].note == "already published (idempotency store)"
    assert statuses(appsync) == [("a", "NEW"), ("c", "NEW"), ("b", "NEW")]


class Remembering:
    """An idempotency store in memory; ``unread`` keys are left out of a lookup (DynamoDB's BatchGetItem
    returns them in UnprocessedKeys when throttled: API reference, BatchGetItem)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.unread: set[str] = set()

    def published(self, keys: Sequence[str]) -> set[str]:
        return {key for key in keys if key in self.keys and key not in self.unread}

    def remember(self, keys: Sequence[str]) -> None:
        self.keys.update(keys)


def test_a_change_whose_entry_is_unread_is_sent_again_with_the_later_changes_of_its_key(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN two changes of order a, both published and remembered by an earlier invocation
    store = Remembering()
    handler = handler_on(make_bridge(idempotency=store))
    event = orders(("a", "NEW"), ("a", "PAID"))
    handler.process(event)
    # WHEN Lambda re-delivers them and the lookup leaves the first one's entry unread
    store.unread = {idempotency_key("dynamodb", DynamoDBRecord(event["Records"][0], 0))}
    second = handler.process(event)
    # THEN the first is published again and so is the second after it: a never goes back to NEW
    assert [o.status for o in second.outcomes] == [Status.PUBLISHED, Status.PUBLISHED]
    assert statuses(appsync)[-1] == ("a", "PAID")


def test_a_coalesced_change_is_remembered_with_the_change_it_was_coalesced_into(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN coalescing and a store; b fails for good the first time
    rejected = {"b"}
    appsync.resolver = rejecting(rejected)
    handler = handler_on(make_bridge(idempotency=Remembering(), coalesce=True))
    event = orders(("b", "NEW"), ("a", "NEW"), ("a", "PAID"))
    # WHEN the batch is delivered (a NEW coalesced into a PAID), then re-delivered after b was fixed
    first = handler.process(event)
    rejected.clear()
    second = handler.process(event)
    # THEN the re-delivery publishes b only: a NEW is not published after a PAID, nor a PAID twice
    assert [o.status for o in first.outcomes] == [Status.FAILED, Status.SKIPPED, Status.PUBLISHED]
    assert [o.status for o in second.outcomes] == [Status.PUBLISHED, Status.SKIPPED, Status.SKIPPED]
    assert statuses(appsync) == [("a", "PAID"), ("b", "NEW")]


def test_an_unreachable_store_falls_back_to_at_least_once(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    handler = handler_on(make_bridge(idempotency=DynamoDBIdempotencyStore("no-such-table")))
    result = handler.process(orders(("a", "NEW")))
    assert result.published == 1
    assert "idempotency store unreachable" in caplog.text


# -- FIFO dead-letter queues and large letters (moto 5 models the FIFO deduplication window and the 1 MiB
# -- batch total; the id length and character rules are checked in tests/unit/test_dead_letter_queue.py) --


@pytest.fixture
def fifo_queue(aws: None) -> str:
    created = boto3.client("sqs").create_queue(QueueName="poison.fifo", Attributes={"FifoQueue": "true"})
    return str(created["QueueUrl"])


def aurora_to(make_bridge: Callable[..., Bridge], queue_url: str) -> Any:
    """An Aurora handler whose poison events are dead-lettered to ``queue_url``."""
    bridge = make_bridge(poison="dead-letter", dead_letter=SQSDeadLetterQueue(queue_url))
    return bridge.aurora(PUBLISH)(lambda event: {"input": event.payload})


def test_three_poison_aurora_events_are_three_dead_letters(
    make_bridge: Callable[..., Bridge], fifo_queue: str
) -> None:
    # GIVEN an Aurora handler dead-lettering to a FIFO queue
    handler = aurora_to(make_bridge, fifo_queue)
    # WHEN three poison events arrive, one invocation each
    results = [handler.process(events.aurora({"id": f"o{n}", "status": "POISON"})) for n in range(3)]
    # THEN all three are in the queue (Aurora sends no id: they must not share a deduplication id)
    assert [r.dead_lettered for r in results] == [1, 1, 1]
    assert sorted(letter["record"]["id"] for letter in dead_letters(fifo_queue)) == ["o0", "o1", "o2"]


def test_two_poison_mutations_of_one_event_are_two_dead_letters(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, fifo_queue: str
) -> None:
    # GIVEN an EventBridge handler whose mapping returns two mutations, both refused for good
    bridge = make_bridge(poison="dead-letter", dead_letter=SQSDeadLetterQueue(fifo_queue))

    @bridge.eventbridge(PUBLISH)
    def handler(event: Any) -> list[dict[str, Any]]:
        return [{"input": {"id": f"{event.detail['id']}-{n}", "status": "POISON"}} for n in range(2)]

    # WHEN the event is published
    result = handler.process(events.eventbridge({"id": "o1"}))
    # THEN both letters are in the queue, one per mutation, each saying which it is
    assert result.dead_lettered == 2
    assert [letter["mutation"] for letter in dead_letters(fifo_queue)] == [
        {"number": 1, "count": 2},
        {"number": 2, "count": 2},
    ]


def test_two_poison_alarms_with_long_names_are_two_dead_letters(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, fifo_queue: str
) -> None:
    # GIVEN alarms whose names (with spaces) push their identifiers past 128 characters
    bridge = make_bridge(poison="dead-letter", dead_letter=SQSDeadLetterQueue(fifo_queue))

    @bridge.cloudwatch_alarm(PUBLISH)
    def handler(alarm: Any) -> dict[str, Any]:
        return {"input": {"id": alarm.alarm_name, "status": "POISON"}}

    name = "Checkout p99 latency above the agreed threshold in production for the orders service "
    # WHEN both change state and are refused
    results = [handler.process(events.cloudwatch_alarm(name + suffix)) for suffix in ("A", "B")]
    # THEN both letters are in the queue
    assert [r.dead_lettered for r in results] == [1, 1]
    assert sorted(letter["record"]["alarmData"]["alarmName"] for letter in dead_letters(fifo_queue)) == [
        name + "A",
        name + "B",
    ]


def refuse_poison(record: Any) -> dict[str, Any]:
    if record.new_image["status"] == "POISON":
        raise ValueError("cannot map a poison order")
    return {"input": record.new_image}


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_ten_poison_records_of_120_kb_are_all_dead_lettered(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, queue: str, fifo_queue: str, fifo: bool
) -> None:
    # GIVEN 10 records of ~120 KB that the mapping refuses: their letters go to the queue together, more
    # than one SendMessageBatch takes (1 MiB)
    url = fifo_queue if fifo else queue
    handler = handler_on(
        make_bridge(poison="dead-letter", dead_letter=SQSDeadLetterQueue(url)), refuse_poison
    )
    event = events.dynamodb(
        [{"new_image": {"id": f"k{n}", "status": "POISON", "blob": "x" * 120_000}} for n in range(10)]
    )
    # WHEN published
    result = handler.process(event)
    # THEN all ten are dead-lettered, whole, and the stream goes on
    assert result.dead_lettered == 10
    assert result.lambda_response() == {"batchItemFailures": []}
    letters = dead_letters(url)
    assert len(letters) == 10
    assert all(letter["record"]["dynamodb"]["NewImage"]["blob"]["S"] == "x" * 120_000 for letter in letters)


def test_the_bridge_names_an_aurora_letter_by_its_invocation(
    make_bridge: Callable[..., Bridge], fifo_queue: str
) -> None:
    # GIVEN the same Aurora payload dead-lettered by two invocations, and a retry of the second (Lambda
    # keeps the request id of an asynchronous invocation across its retries)
    import asyncio

    from streambridge import GraphQLError
    from streambridge._engine.retry import Deadline
    from streambridge._sources import SOURCES

    bridge = make_bridge(poison="dead-letter", dead_letter=SQSDeadLetterQueue(fifo_queue))
    records = SOURCES["aurora"].parse(events.aurora({"id": "o1", "status": "POISON"}))
    for request_id in ("request-1", "request-2", "request-2"):
        send = bridge._dead_letterer("aurora", records, Deadline(None, 0.0), request_id=request_id)
        assert send is not None
        # WHEN its letter is sent
        assert asyncio.run(send([(0, GraphQLError("rejected"))])) == set()
    # THEN each invocation's letter is in the queue once
    assert sorted(letter["requestId"] for letter in dead_letters(fifo_queue)) == ["request-1", "request-2"]


def test_the_same_aurora_payload_in_two_invocations_is_two_dead_letters(
    make_bridge: Callable[..., Bridge], fifo_queue: str
) -> None:
    # GIVEN an Aurora handler dead-lettering to a FIFO queue
    handler = aurora_to(make_bridge, fifo_queue)
    # WHEN the same poison payload arrives in two invocations (two request ids)
    event = events.aurora({"id": "o1", "status": "POISON"})
    for request_id in ("request-1", "request-2"):
        handler.process(event, events.lambda_context(aws_request_id=request_id))
    # THEN both letters are in the queue
    assert len(dead_letters(fifo_queue)) == 2
