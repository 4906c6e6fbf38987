"""EventBridge Pipes batches: a JSON array of the source's records, read by the same decorators.

The sample records are those of the EventBridge user guide's source pages ("Amazon Kinesis stream as a
source", "Amazon DynamoDB stream as a source", "Amazon Simple Queue Service as a source"), with their
values; the guide's Kinesis sample misses two commas, so it is written out here rather than copied.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import pytest

from streambridge import DynamoDBRecord, KinesisRecord, SQSRecord
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES
from streambridge._sources._common import aws_service_event, batch_records, describe_event, pipe_batch
from streambridge.testing import events

SEQ_1 = "49590338271490256608559692538361571095921575989136588898"
SEQ_2 = "49590338271490256608559692540925702759324208523137515618"


def _kinesis_pipe_record(sequence: str, data: str, arrival: float) -> dict[str, Any]:
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "1",
        "sequenceNumber": sequence,
        "data": data,
        "approximateArrivalTimestamp": arrival,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000006:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
    }


def kinesis_pipe_sample() -> list[dict[str, Any]]:
    """The user guide's Kinesis pipe event: two flat records of one shard."""
    return [
        _kinesis_pipe_record(SEQ_1, "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==", 1545084650.987),
        _kinesis_pipe_record(SEQ_2, "VGhpcyBpcyBvbmx5IGEgdGVzdC4=", 1545084711.166),
    ]


def dynamodb_pipe_sample() -> list[dict[str, Any]]:
    """The user guide's DynamoDB pipe event: an INSERT then a MODIFY of item 101."""
    arn = "arn:aws:dynamodb:us-east-1:111122223333:table/EventSourceTable"
    return [
        {
            "eventID": "1",
            "eventVersion": "1.0",
            "dynamodb": {
                "Keys": {"Id": {"N": "101"}},
                "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES",
                "SequenceNumber": "111",
                "SizeBytes": 26,
            },
            "awsRegion": "us-west-2",
            "eventName": "INSERT",
            "eventSourceARN": arn,
            "eventSource": "aws:dynamodb",
        },
        {
            "eventID": "2",
            "eventVersion": "1.0",
            "dynamodb": {
                "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "SequenceNumber": "222",
                "Keys": {"Id": {"N": "101"}},
                "SizeBytes": 59,
                "NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "awsRegion": "us-west-2",
            "eventName": "MODIFY",
            "eventSourceARN": arn,
            "eventSource": "aws:dynamodb",
        },
    ]


def sqs_fifo_pipe_sample() -> list[dict[str, Any]]:
    """The user guide's FIFO queue pipe event: one message of group 1."""
    return [
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


# -- Kinesis -----------------------------------------------------------------------------------------


def test_kinesis_pipe_sample_reads_like_a_mapping_record() -> None:
    # GIVEN the user guide's Kinesis pipe event (flat records, no "kinesis" object)
    # WHEN the Kinesis decorator's parser reads it
    first, second = SOURCES["kinesis"].parse(kinesis_pipe_sample())

    # THEN every property reads from the top level of the record
    assert isinstance(first, KinesisRecord)
    assert first.data == b"Hello, this is a test."
    assert first.text() == "Hello, this is a test."
    assert first.partition_key == first.default_partition_key == "1"
    assert first.sequence_number == SEQ_1
    assert first.event_id == f"shardId-000000000006:{SEQ_1}"
    assert first.shard_id == "shardId-000000000006"
    assert first.event_source_arn == "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
    assert first.approximate_arrival_time == datetime(2018, 12, 17, 22, 10, 50, 987000, tzinfo=timezone.utc)
    assert second.data == b"This is only a test."
    # AND a pipe names a Kinesis record in batchItemFailures by its eventID (user guide, batching page)
    assert (first.item_identifier, second.item_identifier) == (
        first.event_id,
        f"shardId-000000000006:{SEQ_2}",
    )


def test_every_property_but_the_identifier_matches_the_mapping_shape() -> None:
    # GIVEN one batch as an event source mapping delivers it and as a pipe delivers it
    mapping_event = events.kinesis([{"t": 1}, {"data": b"\x00\xff", "partition_key": "dev-2"}, "text"])
    mapped = SOURCES["kinesis"].parse(mapping_event)
    piped = SOURCES["kinesis"].parse(events.pipe(mapping_event))

    # THEN the views agree on everything the mapping function reads
    names = ["data", "sequence_number", "partition_key", "shard_id", "approximate_arrival_time", "event_id"]
    names += ["event_source_arn", "default_partition_key", "index"]
    for left, right in zip(mapped, piped, strict=True):
        assert isinstance(left, KinesisRecord)
        assert isinstance(right, KinesisRecord)
        assert {name: getattr(left, name) for name in names} == {name: getattr(right, name) for name in names}
        assert left.item_identifier == left.sequence_number
        assert right.item_identifier == right.event_id
    assert piped[0].json() == {"t": 1}  # type: ignore[attr-defined]


def test_harness_pipe_kinesis_record_has_the_user_guides_fields_in_order() -> None:
    # GIVEN a Kinesis event of the harness / WHEN turned into a pipe's batch
    (record,) = events.pipe(events.kinesis([b"x"]))

    # THEN its keys are those of the guide's sample, in the same order
    assert list(record) == list(kinesis_pipe_sample()[0])


def test_a_batch_of_one_is_still_an_array() -> None:
    # GIVEN a pipe's batch of one record (a pipe never unwraps it) / WHEN parsed
    (record,) = SOURCES["kinesis"].parse(kinesis_pipe_sample()[:1])

    # THEN it is that record
    assert record.item_identifier == f"shardId-000000000006:{SEQ_1}"


def test_a_mapping_record_inside_an_array_is_named_by_its_event_id() -> None:
    # GIVEN a pipe's array whose record still nests its stream fields (an enrichment that kept them)
    records = events.kinesis([b"x"])["Records"]

    # WHEN parsed / THEN it reads, and the pipe's identifier is used
    (record,) = SOURCES["kinesis"].parse(records)
    assert record.data == b"x"
    assert record.item_identifier == records[0]["eventID"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventID": ""}, r"without eventID \(record #0\)"),
        ({"eventID": None}, r"without eventID \(record #0\); a partial-batch answer needs it"),
        ({"sequenceNumber": None}, r"without sequenceNumber \(record #0, eventID shardId-"),
    ],
)
def test_a_pipe_record_that_batch_item_failures_cannot_name_fails_the_batch(
    change: dict[str, Any], message: str
) -> None:
    # GIVEN a pipe's Kinesis record without its identifier
    records = kinesis_pipe_sample()
    records[0].update(change)

    # WHEN parsed / THEN the whole batch is refused, naming the field
    with pytest.raises(EventShapeError, match=message):
        SOURCES["kinesis"].parse(records)


def test_errors_in_a_flat_record_name_the_flat_field() -> None:
    # GIVEN a pipe's Kinesis record whose data is not base64, another without a partition key
    records = kinesis_pipe_sample()
    records[0]["data"] = "not base64!"
    del records[1]["partitionKey"]
    first, second = SOURCES["kinesis"].parse(records)

    # WHEN read / THEN the errors name the fields where the pipe puts them
    with pytest.raises(
        RecordError, match=r"Kinesis record #0 \(shardId-000000000006:\d+\): data is not valid base64"
    ):
        _ = first.data
    with pytest.raises(RecordError, match=r": partitionKey is missing$"):
        _ = second.partition_key


def test_a_mapping_record_without_its_kinesis_object_still_says_so() -> None:
    # GIVEN an event source mapping's record that lost its "kinesis" object
    event = events.kinesis([b"x"])
    del event["Records"][0]["kinesis"]

    # WHEN parsed / THEN the error names the nested field, as before pipes were read
    with pytest.raises(EventShapeError, match=r"without kinesis\.sequenceNumber"):
        SOURCES["kinesis"].parse(event)


# -- DynamoDB ----------------------------------------------------------------------------------------


def test_dynamodb_pipe_sample_reads_and_is_named_by_event_id() -> None:
    # GIVEN the user guide's DynamoDB pipe event / WHEN parsed
    insert, modify = SOURCES["dynamodb"].parse(dynamodb_pipe_sample())

    # THEN the records read as a mapping's do
    assert isinstance(insert, DynamoDBRecord)
    assert isinstance(modify, DynamoDBRecord)
    assert (insert.event_name, modify.event_name) == ("INSERT", "MODIFY")
    assert insert.keys == {"Id": 101}
    assert modify.old_image == {"Message": "New item!", "Id": 101}
    assert modify.new_image == {"Message": "This item has changed", "Id": 101}
    assert insert.default_partition_key == modify.default_partition_key
    assert (insert.sequence_number, modify.sequence_number) == ("111", "222")
    assert insert.table_name == "EventSourceTable"
    # AND a pipe names them by eventID, a mapping by sequence number
    assert (insert.item_identifier, modify.item_identifier) == ("1", "2")
    (mapped,) = SOURCES["dynamodb"].parse({"Records": dynamodb_pipe_sample()[:1]})
    assert mapped.item_identifier == "111"


def test_dynamodb_pipe_record_without_event_id_fails_the_batch() -> None:
    # GIVEN a pipe's DynamoDB record without eventID
    records = dynamodb_pipe_sample()
    del records[1]["eventID"]

    # WHEN parsed / THEN refused: batchItemFailures could not name it
    with pytest.raises(
        EventShapeError, match=r"^dynamodb handler received a record without eventID \(record #1\)"
    ):
        SOURCES["dynamodb"].parse(records)


def test_harness_pipe_keeps_dynamodb_records_unchanged() -> None:
    # GIVEN a DynamoDB event of the harness / WHEN turned into a pipe's batch
    event = events.dynamodb([{"new_image": {"id": "o-1"}}, {"old_image": {"id": "o-1"}}])
    piped = events.pipe(event)

    # THEN the records are the same, unwrapped, and the input is untouched (a copy)
    assert piped == event["Records"]
    piped[0]["eventName"] = "changed"
    assert event["Records"][0]["eventName"] == "INSERT"


# -- SQS ---------------------------------------------------------------------------------------------


def test_sqs_fifo_pipe_sample_keeps_its_group_and_message_id() -> None:
    # GIVEN the user guide's FIFO pipe event / WHEN parsed
    (record,) = SOURCES["sqs"].parse(sqs_fifo_pipe_sample())

    # THEN it reads as a mapping's message: same identifier, same ordering group
    assert isinstance(record, SQSRecord)
    assert record.item_identifier == record.message_id == "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5"
    assert record.ordering_group == record.default_partition_key == "1"
    assert record.body == "Test message."


def test_harness_sqs_batch_reads_the_same_in_both_shapes() -> None:
    # GIVEN an SQS FIFO batch in both shapes
    event = events.sqs([{"o": 1}, {"o": 2}], fifo=True, group_id="g")
    mapped = SOURCES["sqs"].parse(event)
    piped = SOURCES["sqs"].parse(events.pipe(event))

    # THEN the views agree, identifier included
    assert [(r.item_identifier, r.default_partition_key) for r in mapped] == [
        (r.item_identifier, r.default_partition_key) for r in piped
    ]


# -- the array itself --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["dynamodb", "kinesis", "sqs"])
def test_an_empty_array_is_an_empty_batch(source: str) -> None:
    # GIVEN an empty array (a pipe does not send one, but it is a batch of nothing) / THEN no records
    assert list(SOURCES[source].parse([])) == []


def test_another_sources_record_in_a_pipe_names_the_pipe_not_a_mapping() -> None:
    # GIVEN an SQS pipe's batch sent to the Kinesis decorator
    with pytest.raises(EventShapeError) as caught:
        SOURCES["kinesis"].parse(sqs_fifo_pipe_sample())

    # THEN the hint points at the pipe (its source, enrichment, input transformer)
    text = str(caught.value)
    assert text.startswith("kinesis handler received an aws:sqs record (record #0, messageId 11d6ee51")
    assert "check the pipe's source" in text
    assert "event source mapping" not in text


def test_an_enrichment_output_that_is_not_records_is_refused_with_the_pipe_hint() -> None:
    # GIVEN an array of plain objects (an enrichment or input transformer replaced the records)
    with pytest.raises(
        EventShapeError, match=r"a record without eventSource \(record #0\); check the pipe's"
    ):
        SOURCES["dynamodb"].parse([{"id": "o-1"}])
    # AND an array of scalars
    with pytest.raises(EventShapeError, match=r"a record that is a JSON str, not an object \(record #0\)"):
        SOURCES["sqs"].parse(["text"])


def test_pipe_batch_tells_the_shapes_apart() -> None:
    assert pipe_batch([])
    assert pipe_batch(kinesis_pipe_sample())
    assert pipe_batch(())
    assert not pipe_batch({"Records": []})
    assert not pipe_batch("[]")
    assert not pipe_batch(None)
    records = kinesis_pipe_sample()
    assert batch_records(records, "kinesis") is records


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (kinesis_pipe_sample(), "an EventBridge Pipes batch of 2 aws:kinesis records (Kinesis)"),
        (
            dynamodb_pipe_sample()[:1],
            "an EventBridge Pipes batch of 1 aws:dynamodb record (DynamoDB Streams)",
        ),
        (sqs_fifo_pipe_sample(), "an EventBridge Pipes batch of 1 aws:sqs record (SQS)"),
        ([], "an empty JSON array"),
        ([1, 2], "a JSON array of 2 items ([1, 2])"),
    ],
)
def test_describe_event_names_a_pipes_batch(event: Any, expected: str) -> None:
    assert describe_event(event) == expected


def test_single_event_decorators_refuse_a_pipes_batch() -> None:
    # GIVEN a pipe's Kinesis batch / WHEN the Aurora decorator (a payload of any JSON) gets it
    assert aws_service_event(kinesis_pipe_sample()) == describe_event(kinesis_pipe_sample())
    with pytest.raises(EventShapeError, match=r"^aurora handler received an EventBridge Pipes batch of 2"):
        SOURCES["aurora"].parse(kinesis_pipe_sample())
    # AND an Aurora payload that is a plain array still passes
    assert aws_service_event([{"id": 1}]) is None
    assert aws_service_event([]) is None


def test_kinesis_data_that_is_json_is_read_from_a_flat_record() -> None:
    # GIVEN a flat record whose data is base64 JSON
    records = kinesis_pipe_sample()[:1]
    records[0]["data"] = base64.b64encode(b'{"City": "Seattle"}').decode()

    # WHEN read / THEN json() works as for a mapping's record
    (record,) = SOURCES["kinesis"].parse(records)
    assert record.json() == {"City": "Seattle"}  # type: ignore[attr-defined]
