"""What SQSDeadLetterQueue asks SQS to do, as its docstring says: one message group per source on FIFO."""

from __future__ import annotations

from typing import Any

from streambridge import GraphQLError, SQSDeadLetterQueue
from streambridge._sources import SOURCES
from streambridge._stores.deadletter import DeadLetter
from streambridge.testing import events

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/streambridge-dlq"


class RecordingSQS:
    """Takes every SendMessageBatch entry, as a boto3 SQS client that sends them all."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        self.entries.extend(entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in entries], "Failed": []}


def letters() -> list[DeadLetter]:
    """Dead letters of three records of two different keys."""
    images = [{"id": "a", "n": 1}, {"id": "b", "n": 1}, {"id": "a", "n": 2}]
    records = SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": image} for image in images]))
    return [DeadLetter("dynamodb", record, GraphQLError("rejected")) for record in records]


def test_a_fifo_queue_gets_one_message_group_per_source_deduplicated_by_record() -> None:
    # GIVEN a FIFO dead-letter queue
    sqs = RecordingSQS()
    sink = SQSDeadLetterQueue(QUEUE + ".fifo", client=sqs)
    # WHEN records of two keys are dead-lettered
    sent = letters()
    assert sink.send(sent) == set()
    # THEN they share the source's message group, in the order they failed, each deduplicated by its record
    assert [entry["MessageGroupId"] for entry in sqs.entries] == ["dynamodb"] * 3
    assert [entry["MessageDeduplicationId"] for entry in sqs.entries] == [
        f"dynamodb-{letter.record.item_identifier}" for letter in sent
    ]


def test_a_standard_queue_gets_neither_group_nor_deduplication_id() -> None:
    sqs = RecordingSQS()
    assert SQSDeadLetterQueue(QUEUE, client=sqs).send(letters()) == set()
    assert [set(entry) for entry in sqs.entries] == [{"Id", "MessageBody"}] * 3
