"""SQS messages: AWS's sample standard-queue event, and a FIFO event from the Lambda docs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from streambridge import SQSRecord
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES

SamEvent = Callable[[str], dict[str, Any]]
parse = SOURCES["sqs"].parse

# Example Amazon SQS FIFO queue message event, from the AWS Lambda Developer Guide, "Using Lambda with
# Amazon SQS" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
FIFO_EVENT: dict[str, Any] = {
    "Records": [
        {
            "messageId": "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
            "receiptHandle": "AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...",
            "body": "Test message.",
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1573251510774",
                "SequenceNumber": "18849496460467696128",
                "MessageGroupId": "1",
                "SenderId": "AIDAIO23YVJENQZJOL4VO",
                "MessageDeduplicationId": "1",
                "ApproximateFirstReceiveTimestamp": "1573251510774",
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:fifo.fifo",
            "awsRegion": "us-east-2",
        }
    ]
}


def _record(event: dict[str, Any]) -> SQSRecord:
    (record,) = parse(event)
    assert isinstance(record, SQSRecord)
    return record


def test_standard_queue_sample_event_reads(sam_event: SamEvent) -> None:
    # GIVEN AWS's sample SQS event (standard queue)
    event = sam_event("sqs/Sqs")

    # WHEN parsed
    record = _record(event)

    # THEN every property reads, and there is no ordering key
    assert record.message_id == "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"
    assert record.item_identifier == record.message_id
    assert record.body == "Hello from SQS!"
    assert record.receipt_handle == "MessageReceiptHandle"
    assert record.event_source_arn == "arn:aws:sqs:us-east-1:123456789012:MyQueue"
    assert record.queue_name == "MyQueue"
    assert record.is_fifo is False
    assert record.message_group_id is None
    assert record.message_deduplication_id is None
    assert record.sequence_number is None
    assert record.default_partition_key is None
    assert record.attributes["SenderId"] == "123456789012"
    assert record.message_attributes == {}
    assert record.sent_time == datetime(2018, 4, 9, tzinfo=timezone.utc)
    assert record.approximate_receive_count == 1


def test_fifo_queue_orders_by_message_group() -> None:
    # GIVEN the FIFO event from the Lambda docs
    event = copy.deepcopy(FIFO_EVENT)

    # WHEN parsed
    record = _record(event)

    # THEN the FIFO attributes read and the message group is the ordering key
    assert record.is_fifo is True
    assert record.queue_name == "fifo.fifo"
    assert record.message_group_id == "1"
    assert record.default_partition_key == "1"
    assert record.message_deduplication_id == "1"
    assert record.sequence_number == "18849496460467696128"
    assert record.sent_time == datetime(2019, 11, 8, 22, 18, 30, 774000, tzinfo=timezone.utc)
    assert record.item_identifier == "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5"


def test_group_id_on_a_standard_queue_does_not_order(sam_event: SamEvent) -> None:
    # GIVEN a standard (fair) queue message that carries a MessageGroupId
    event = sam_event("sqs/Sqs")
    event["Records"][0]["attributes"]["MessageGroupId"] = "tenant-1"

    # WHEN parsed / THEN the group id reads, but standard queues promise no order to keep
    record = _record(event)
    assert record.message_group_id == "tenant-1"
    assert record.default_partition_key is None


def test_json_body(sam_event: SamEvent) -> None:
    # GIVEN a JSON body / WHEN json() is called / THEN it is parsed once
    event = sam_event("sqs/Sqs")
    event["Records"][0]["body"] = '{"orderId": "o-1"}'
    record = _record(event)
    assert record.json() == {"orderId": "o-1"}
    assert record.json() is record.json()


def test_non_json_body_is_a_record_error(sam_event: SamEvent) -> None:
    # GIVEN the sample body (plain text) / WHEN json() is called / THEN RecordError naming the record
    record = _record(sam_event("sqs/Sqs"))
    with pytest.raises(RecordError, match=r"^SQS record #0 \(19dd0b57-.*\): body is not valid JSON"):
        record.json()


def test_malformed_attributes_fail_lazily(sam_event: SamEvent) -> None:
    # GIVEN a message with a non-numeric receive count, a bad timestamp and no ARN
    event = sam_event("sqs/Sqs")
    raw = event["Records"][0]
    raw["attributes"]["ApproximateReceiveCount"] = "many"
    raw["attributes"]["SentTimestamp"] = "noon"
    del raw["eventSourceARN"]
    record = _record(event)

    # WHEN read / THEN RecordErrors; is_fifo falls back on the FIFO-only SequenceNumber attribute
    with pytest.raises(RecordError, match="ApproximateReceiveCount 'many' is not a number"):
        _ = record.approximate_receive_count
    with pytest.raises(RecordError, match="SentTimestamp 'noon' is not a number"):
        _ = record.sent_time
    with pytest.raises(RecordError, match="eventSourceARN is missing"):
        _ = record.queue_name
    assert record.is_fifo is False


def test_sns_event_sent_to_sqs_handler(sam_event: SamEvent) -> None:
    # GIVEN an SNS event (it spells the key EventSource) / WHEN the SQS handler parses it
    with pytest.raises(EventShapeError) as caught:
        parse(sam_event("sns/Sns"))

    # THEN the message names what was received
    assert str(caught.value).startswith("sqs handler received an aws:sns record (record #0, ")


def test_message_without_id_fails_the_batch(sam_event: SamEvent) -> None:
    # GIVEN a message without messageId / WHEN parsed / THEN EventShapeError
    event = sam_event("sqs/Sqs")
    del event["Records"][0]["messageId"]
    with pytest.raises(
        EventShapeError, match=r"sqs handler received a record without messageId \(record #0\)"
    ):
        parse(event)


def test_empty_batch_is_an_empty_list() -> None:
    # GIVEN no records / WHEN parsed / THEN no views
    assert parse({"Records": []}) == []
