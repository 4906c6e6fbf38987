"""Kinesis Data Streams records, read from AWS's own sample event (sam local generate-event)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from streambridge import KinesisRecord
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES

SamEvent = Callable[[str], dict[str, Any]]
parse = SOURCES["kinesis"].parse
SEQUENCE = "49545115243490985018280067714973144582180062593244200961"


def _record(event: dict[str, Any]) -> KinesisRecord:
    (record,) = parse(event)
    assert isinstance(record, KinesisRecord)
    return record


def _with_data(sam_event: SamEvent, data: str) -> KinesisRecord:
    event = sam_event("kinesis/Kinesis")
    event["Records"][0]["kinesis"]["data"] = data
    return _record(event)


def test_sample_event_reads(sam_event: SamEvent) -> None:
    # GIVEN AWS's sample Kinesis event
    event = sam_event("kinesis/Kinesis")

    # WHEN parsed
    record = _record(event)

    # THEN the payload is decoded and every property reads
    assert record.data == b"Hello, this is a test 123."
    assert record.text() == "Hello, this is a test 123."
    assert record.partition_key == "partitionKey-03"
    assert record.default_partition_key == "partitionKey-03"
    assert record.sequence_number == SEQUENCE
    assert record.item_identifier == SEQUENCE
    assert record.event_id == f"shardId-000000000000:{SEQUENCE}"
    assert record.shard_id == "shardId-000000000000"
    assert record.approximate_arrival_time == datetime(2015, 4, 9, tzinfo=timezone.utc)
    assert record.event_source_arn == "arn:aws:kinesis:EXAMPLE"
    assert record.raw["eventName"] == "aws:kinesis:record"


def test_json_payload_is_parsed_once(sam_event: SamEvent) -> None:
    # GIVEN a record whose data is base64 JSON
    record = _with_data(sam_event, base64.b64encode(b'{"id": 7, "status": "paid"}').decode())

    # WHEN json() is called twice / THEN the same parsed object comes back
    assert record.json() == {"id": 7, "status": "paid"}
    assert record.json() is record.json()


def test_non_json_payload_is_a_record_error_naming_the_record(sam_event: SamEvent) -> None:
    # GIVEN the sample record (plain text, not JSON) / WHEN json() is called
    record = _record(sam_event("kinesis/Kinesis"))
    with pytest.raises(RecordError) as caught:
        record.json()

    # THEN the error names the record and the cause
    assert str(caught.value).startswith(f"Kinesis record #0 ({SEQUENCE}): kinesis.data is not valid JSON")


@pytest.mark.parametrize("data", ["not base64!", "abc", "SGVsbG8=extra", "ü"])
def test_bad_base64_is_a_record_error(sam_event: SamEvent, data: str) -> None:
    # GIVEN data that is not base64 / WHEN decoded / THEN RecordError, not binascii.Error
    record = _with_data(sam_event, data)
    with pytest.raises(RecordError, match=r"kinesis\.data is not valid base64"):
        _ = record.data


def test_non_utf8_payload_is_a_record_error(sam_event: SamEvent) -> None:
    # GIVEN binary data / WHEN read as text / THEN RecordError; data itself still reads
    record = _with_data(sam_event, base64.b64encode(b"\xff\xfe\x00").decode())
    assert record.data == b"\xff\xfe\x00"
    with pytest.raises(RecordError, match=r"kinesis\.data is not UTF-8 text"):
        record.text()


def test_missing_partition_key_fails_lazily(sam_event: SamEvent) -> None:
    # GIVEN a record without partitionKey
    event = sam_event("kinesis/Kinesis")
    del event["Records"][0]["kinesis"]["partitionKey"]

    # WHEN parsed / THEN it parses, and the key raises RecordError when asked for
    record = _record(event)
    with pytest.raises(RecordError, match=r"kinesis\.partitionKey is missing"):
        _ = record.default_partition_key


def test_odd_event_id_has_no_shard(sam_event: SamEvent) -> None:
    # GIVEN an eventID that is not shardId-...:seq / WHEN shard_id is read / THEN RecordError
    event = sam_event("kinesis/Kinesis")
    event["Records"][0]["eventID"] = "something-else"
    with pytest.raises(RecordError, match="names no shard"):
        _ = _record(event).shard_id


def test_dynamodb_event_sent_to_kinesis_handler(sam_event: SamEvent) -> None:
    # GIVEN a DynamoDB stream event / WHEN the Kinesis handler parses it / THEN EventShapeError
    with pytest.raises(EventShapeError) as caught:
        parse(sam_event("dynamodb/DynamoDBUpdate"))
    assert str(caught.value) == (
        "kinesis handler received an aws:dynamodb record (record #0, eventID "
        "c4ca4238a0b923820dcc509a6f75849b); check the event source mapping"
    )


def test_record_without_sequence_number_fails_the_batch(sam_event: SamEvent) -> None:
    # GIVEN a record without kinesis.sequenceNumber / WHEN parsed / THEN the batch is refused
    event = sam_event("kinesis/Kinesis")
    del event["Records"][0]["kinesis"]["sequenceNumber"]
    with pytest.raises(EventShapeError, match=r"without kinesis\.sequenceNumber \(record #0"):
        parse(event)


def test_empty_batch_is_an_empty_list() -> None:
    # GIVEN no records / WHEN parsed / THEN no views
    assert parse({"Records": []}) == []
