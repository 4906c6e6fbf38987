"""What SQSDeadLetterQueue asks SQS to do, against a fake that keeps SQS's documented rules
(tests/fake_sqs.py): one message group per source on FIFO, a deduplication id per letter, batches within
10 entries and 1 MiB."""

from __future__ import annotations

import json
import logging
import string
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from streambridge import GraphQLError, SQSDeadLetterQueue
from streambridge._errors import ConfigurationError
from streambridge._sources import SOURCES
from streambridge._sources._base import MutationOf, SourceRecord
from streambridge._stores.deadletter import DeadLetter
from streambridge.testing import events
from tests.fake_sqs import MIB, RuleKeepingSQS, message_bytes

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/streambridge-dlq"
FIFO = QUEUE + ".fifo"
ID_CHARACTERS = set(string.ascii_letters + string.digits + string.punctuation)


def dynamodb_letters(*images: dict[str, Any]) -> list[DeadLetter]:
    records = SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": image} for image in images]))
    return [DeadLetter("dynamodb", record, GraphQLError("rejected")) for record in records]


def letters() -> list[DeadLetter]:
    """Dead letters of three records of two different keys."""
    return dynamodb_letters({"id": "a", "n": 1}, {"id": "b", "n": 1}, {"id": "a", "n": 2})


def aurora_event(payload: Any) -> SourceRecord:
    (record,) = SOURCES["aurora"].parse(events.aurora(payload))
    return record


def alarm_event(name: str) -> SourceRecord:
    (record,) = SOURCES["cloudwatch_alarm"].parse(events.cloudwatch_alarm(name))
    return record


def delivered_bodies(sqs: RuleKeepingSQS) -> list[dict[str, Any]]:
    return [json.loads(entry["MessageBody"]) for entry in sqs.delivered]


# -- FIFO: one message group per source, one deduplication id per letter ----------------------------------


def test_a_fifo_queue_gets_one_message_group_per_source_and_valid_ids() -> None:
    # GIVEN a FIFO dead-letter queue
    sqs = RuleKeepingSQS(fifo=True)
    sink = SQSDeadLetterQueue(FIFO, client=sqs)
    # WHEN records of two keys are dead-lettered
    assert sink.send(letters()) == set()
    # THEN all three are delivered, in the order they failed, in the source's group, each with its own id
    assert [body["record"]["dynamodb"]["NewImage"]["n"]["N"] for body in delivered_bodies(sqs)] == [
        "1",
        "1",
        "2",
    ]
    assert [entry["MessageGroupId"] for entry in sqs.delivered] == ["dynamodb"] * 3
    ids = [entry["MessageDeduplicationId"] for entry in sqs.delivered]
    assert len(set(ids)) == 3
    assert all(len(i) <= 128 and set(i) <= ID_CHARACTERS for i in ids)


def test_three_aurora_events_are_three_letters() -> None:
    # GIVEN three Aurora events (the database sends no id: every one has the identifier "aurora-event")
    sqs = RuleKeepingSQS(fifo=True)
    sink = SQSDeadLetterQueue(FIFO, client=sqs)
    sent = [DeadLetter("aurora", aurora_event({"id": n}), GraphQLError("rejected")) for n in range(3)]
    # WHEN each is dead-lettered, in an invocation of its own
    unsent = [sink.send([letter]) for letter in sent]
    # THEN SQS delivers three messages, not one (the same deduplication id dropped two)
    assert unsent == [set(), set(), set()]
    assert [body["record"] for body in delivered_bodies(sqs)] == [{"id": 0}, {"id": 1}, {"id": 2}]


def test_the_mutations_of_one_event_are_letters_of_their_own() -> None:
    # GIVEN an EventBridge event whose mapping returned two mutations, both refused for good
    (event,) = SOURCES["eventbridge"].parse(events.eventbridge({"id": "o1"}))
    parts = [MutationOf(event, {"input": {"n": n}}, n, 2, "key") for n in range(2)]
    sent = [
        DeadLetter("eventbridge", part, GraphQLError(f"mutation {n + 1} rejected"))
        for n, part in enumerate(parts)
    ]
    sqs = RuleKeepingSQS(fifo=True)
    # WHEN both are dead-lettered
    assert SQSDeadLetterQueue(FIFO, client=sqs).send(sent) == set()
    # THEN both are delivered, each saying which mutation it is
    assert [body["error"]["message"] for body in delivered_bodies(sqs)] == [
        "mutation 1 rejected",
        "mutation 2 rejected",
    ]


def test_alarms_with_long_names_holding_spaces_are_letters_of_their_own() -> None:
    # GIVEN two alarms whose names (with spaces) push their identifiers past 128 characters
    name = "Orders service p99 latency above the agreed threshold for the checkout flow in production " * 2
    sent = [DeadLetter("cloudwatch_alarm", alarm_event(name + suffix), GraphQLError("x")) for suffix in "AB"]
    assert len(sent[0].record.item_identifier) > 128
    sqs = RuleKeepingSQS(fifo=True)
    # WHEN both are dead-lettered
    assert SQSDeadLetterQueue(FIFO, client=sqs).send(sent) == set()
    # THEN both are delivered, with deduplication ids SQS accepts
    assert [body["itemIdentifier"] for body in delivered_bodies(sqs)] == [
        letter.record.item_identifier for letter in sent
    ]


def test_a_letter_sent_again_is_deduplicated_by_sqs() -> None:
    # GIVEN letters already sent (e.g. Lambda re-delivers a batch the bridge dead-lettered a record of)
    sqs = RuleKeepingSQS(fifo=True)
    sink = SQSDeadLetterQueue(FIFO, client=sqs)
    event = {"id": 7}
    assert sink.send([*letters(), DeadLetter("aurora", aurora_event(event), GraphQLError("x"))]) == set()
    # WHEN the same records are dead-lettered again within SQS's deduplication window
    again = [*letters(), DeadLetter("aurora", aurora_event(event), GraphQLError("x"))]
    # THEN SQS takes them (they count as sent) and delivers none a second time
    assert sink.send(again) == set()
    assert len(sqs.delivered) == 4


def test_an_aurora_event_is_the_same_letter_only_within_one_invocation() -> None:
    # GIVEN the same Aurora payload in two invocations, and a retry (Lambda keeps the request id)
    sqs = RuleKeepingSQS(fifo=True)
    sink = SQSDeadLetterQueue(FIFO, client=sqs)

    def letter(request_id: str) -> DeadLetter:
        return DeadLetter("aurora", aurora_event({"op": "same"}), GraphQLError("x"), request_id)

    # WHEN each is dead-lettered
    for request_id in ("request-1", "request-2", "request-2"):
        assert sink.send([letter(request_id)]) == set()
    # THEN each invocation's letter is delivered once; the retry's is deduplicated
    assert [body["requestId"] for body in delivered_bodies(sqs)] == ["request-1", "request-2"]


def test_deduplication_ids_are_stable_across_processes() -> None:
    # GIVEN the letter of one DynamoDB record: its id is a digest of what names it, not of Python's hash
    (letter,) = dynamodb_letters({"id": "a"})
    # THEN its deduplication id is the same every time it is computed
    assert letter.deduplication_id() == dynamodb_letters({"id": "a"})[0].deduplication_id()
    assert letter.deduplication_id().startswith("dynamodb-")


# -- batches within SQS's limits -----------------------------------------------------------------------


def big_letters(count: int, size: int) -> list[DeadLetter]:
    return dynamodb_letters(*({"id": str(n), "blob": "x" * size} for n in range(count)))


@pytest.mark.parametrize("fifo", [False, True])
def test_ten_letters_of_120_kb_are_all_sent(fifo: bool) -> None:
    # GIVEN 10 poison records of ~120 KB: more than SendMessageBatch's 1 MiB together
    sqs = RuleKeepingSQS(fifo=fifo)
    sent = big_letters(10, 120_000)
    # WHEN dead-lettered
    unsent = SQSDeadLetterQueue(FIFO if fifo else QUEUE, client=sqs).send(sent)
    # THEN every one is delivered whole, in several batches, none over the limits
    assert unsent == set()
    assert len(sqs.delivered) == 10
    assert all(body["record"] is not None for body in delivered_bodies(sqs))
    assert all(sum(message_bytes(entry) for entry in request) <= MIB for request in sqs.requests)
    assert len(sqs.requests) > 1


def test_batches_count_bytes_as_sqs_does_not_characters() -> None:
    # GIVEN letters whose records are mostly non-ASCII: JSON escapes them, the bytes are what count
    sqs = RuleKeepingSQS(fifo=False)
    sent = dynamodb_letters(*({"id": str(n), "text": "é" * 40_000} for n in range(10)))
    # WHEN dead-lettered
    assert SQSDeadLetterQueue(QUEUE, client=sqs).send(sent) == set()
    # THEN all are delivered and no request was over 1 MiB
    assert len(sqs.delivered) == 10
    assert all(sum(message_bytes(entry) for entry in request) <= MIB for request in sqs.requests)


def test_a_record_over_the_message_limit_is_dead_lettered_without_its_body() -> None:
    # GIVEN a record larger than the letters' limit (256 KiB by default)
    sqs = RuleKeepingSQS(fifo=False, maximum_message_size=256 * 1024)
    (letter,) = big_letters(1, 300_000)
    # WHEN dead-lettered
    assert SQSDeadLetterQueue(QUEUE, client=sqs).send([letter]) == set()
    # THEN the letter says how to find it, without it
    (body,) = delivered_bodies(sqs)
    assert body["record"] is None
    assert body["recordTruncated"] is True
    assert body["itemIdentifier"] == letter.record.item_identifier


def test_a_queue_that_takes_1_mib_messages_gets_the_large_record_whole() -> None:
    sqs = RuleKeepingSQS(fifo=False)
    (letter,) = big_letters(1, 300_000)
    assert SQSDeadLetterQueue(QUEUE, client=sqs, max_message_bytes=MIB).send([letter]) == set()
    (body,) = delivered_bodies(sqs)
    assert body["record"] == dict(letter.record.raw)


def test_a_huge_error_message_is_cut_and_the_record_kept() -> None:
    # GIVEN a record refused with an error message of 500,000 characters (e.g. a mapping echoing its input)
    sqs = RuleKeepingSQS(fifo=False, maximum_message_size=256 * 1024)
    (record,) = SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": {"id": "a"}}]))
    letter = DeadLetter("dynamodb", record, GraphQLError("bad input " + "y" * 500_000))
    # WHEN dead-lettered
    assert SQSDeadLetterQueue(QUEUE, client=sqs).send([letter]) == set()
    # THEN the letter keeps the record and the start of the error
    (body,) = delivered_bodies(sqs)
    assert body["record"] == dict(record.raw)
    assert body["error"]["message"].startswith("bad input yyy")
    assert body["errorTruncated"] is True


def test_a_letter_that_cannot_fit_fails_its_record_and_the_others_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a queue whose messages take 1 KiB at most, a letter that needs more even without its record
    # (its error says 2,000 characters), then a small letter
    sqs = RuleKeepingSQS(fifo=False, maximum_message_size=1024)
    (record,) = SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": {"id": "a"}}]))
    big = DeadLetter("dynamodb", record, GraphQLError("refused: " + "z" * 2000))
    (small,) = dynamodb_letters({"id": "b"})
    # WHEN both are dead-lettered
    with caplog.at_level(logging.ERROR, "streambridge"):
        unsent = SQSDeadLetterQueue(QUEUE, client=sqs, max_message_bytes=1024).send([big, small])
    # THEN the big one is reported unsent (its record fails, it is not lost), with a line that says why
    assert unsent == {0}
    assert [body["itemIdentifier"] for body in delivered_bodies(sqs)] == [small.record.item_identifier]
    assert "too large for the dead-letter queue" in caplog.text
    assert record.describe() in caplog.text


@pytest.mark.parametrize("size", [1023, MIB + 1, 2.5, "256"])
def test_the_message_limit_must_be_what_sqs_allows(size: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_message_bytes"):
        SQSDeadLetterQueue(QUEUE, max_message_bytes=size)


# -- only what SQS accepted counts as sent ---------------------------------------------------------------


def test_letters_sqs_refuses_one_by_one_are_the_only_ones_unsent() -> None:
    # GIVEN a FIFO queue that refuses the second and fifth letters (the Failed list)
    sqs = RuleKeepingSQS(fifo=True)
    sent = big_letters(6, 300_000)  # 300 KB each with a 1 MiB limit: three batches
    refused = {sent[1].record.item_identifier, sent[4].record.item_identifier}
    sqs.refuse_entries = lambda entry: json.loads(entry["MessageBody"])["itemIdentifier"] in refused
    # WHEN sent
    unsent = SQSDeadLetterQueue(FIFO, client=sqs, max_message_bytes=MIB).send(sent)
    # THEN exactly those two are unsent
    assert unsent == {1, 4}
    assert len(sqs.delivered) == 4


def test_a_batch_that_raises_leaves_only_its_own_letters_unsent() -> None:
    # GIVEN letters in three batches (by bytes), the second of which fails as a whole
    sqs = RuleKeepingSQS(fifo=True)
    sent = big_letters(6, 300_000)
    sqs.fail_requests = [
        EndpointConnectionError(endpoint_url=QUEUE),
    ]
    sink = SQSDeadLetterQueue(FIFO, client=sqs, max_message_bytes=MIB)
    first = sink.send(sent[:3])  # the first request raises
    # THEN only the failed request's letters are unsent; the next letters still go
    second = sink.send(sent[3:])
    assert first == {0, 1, 2}
    assert second == set()
    assert len(sqs.delivered) == 3


def test_a_letter_missing_from_the_answer_is_not_counted_as_sent() -> None:
    # GIVEN an answer that lists one entry neither as successful nor as failed
    sqs = RuleKeepingSQS(fifo=True)
    sqs.forget_in_answer = {"1"}
    # WHEN three letters are sent
    unsent = SQSDeadLetterQueue(FIFO, client=sqs).send(letters())
    # THEN the letter SQS did not say it accepted is reported unsent (its record fails, Lambda retries it)
    assert unsent == {1}


def test_a_refused_request_is_reported_unsent() -> None:
    sqs = RuleKeepingSQS(fifo=True)
    sqs.fail_requests = [
        ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")
    ]
    assert SQSDeadLetterQueue(FIFO, client=sqs).send(letters()) == {0, 1, 2}


def test_a_standard_queue_gets_neither_group_nor_deduplication_id() -> None:
    sqs = RuleKeepingSQS(fifo=False)
    assert SQSDeadLetterQueue(QUEUE, client=sqs).send(letters()) == set()
    assert [set(entry) for entry in sqs.delivered] == [{"Id", "MessageBody"}] * 3
