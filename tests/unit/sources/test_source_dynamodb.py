"""DynamoDB Streams records, read from AWS's own sample event (sam local generate-event)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from streambridge import DynamoDBRecord
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES
from streambridge.testing.events import Change, dynamodb

SamEvent = Callable[[str], dict[str, Any]]
parse = SOURCES["dynamodb"].parse


def _records(event: dict[str, Any]) -> list[DynamoDBRecord]:
    records = parse(event)
    assert all(isinstance(r, DynamoDBRecord) for r in records)
    return records  # type: ignore[return-value]


def test_sample_event_reads_as_plain_values(sam_event: SamEvent) -> None:
    # GIVEN AWS's sample DynamoDB stream event: INSERT, MODIFY, REMOVE of item Id=101
    event = sam_event("dynamodb/DynamoDBUpdate")

    # WHEN parsed
    insert, modify, remove = _records(event)

    # THEN every documented property reads as plain Python
    assert [r.event_name for r in (insert, modify, remove)] == ["INSERT", "MODIFY", "REMOVE"]
    assert insert.keys == {"Id": 101}
    assert insert.new_image == {"Message": "New item!", "Id": 101}
    assert insert.old_image is None
    assert modify.new_image == {"Message": "This item has changed", "Id": 101}
    assert modify.old_image == {"Message": "New item!", "Id": 101}
    assert remove.new_image is None
    assert remove.old_image == {"Message": "This item has changed", "Id": 101}
    assert insert.sequence_number == "4421584500000000017450439091"
    assert insert.item_identifier == insert.sequence_number
    assert insert.event_id == "c4ca4238a0b923820dcc509a6f75849b"
    assert insert.approximate_creation_time == datetime(2015, 4, 9, tzinfo=timezone.utc)
    assert insert.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert (insert.size_bytes, modify.size_bytes, remove.size_bytes) == (26, 59, 38)
    assert insert.event_source_arn == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"
    )
    assert insert.table_name == "ExampleTableWithStream"
    assert [r.index for r in (insert, modify, remove)] == [0, 1, 2]
    assert insert.raw["eventID"] == "c4ca4238a0b923820dcc509a6f75849b"
    assert "record #0" in insert.describe()
    assert "4421584500000000017450439091" in insert.describe()


def test_changes_of_one_item_share_the_default_partition_key(sam_event: SamEvent) -> None:
    # GIVEN three changes of the same item
    records = _records(sam_event("dynamodb/DynamoDBUpdate"))

    # WHEN their default ordering keys are read
    keys = {r.default_partition_key for r in records}

    # THEN it is one hashable key: the raw Keys map in canonical form
    assert keys == {'{"Id":{"N":"101"}}'}


def test_default_partition_key_ignores_attribute_order(sam_event: SamEvent) -> None:
    # GIVEN two records of a composite-key item, Keys written in different orders, and another item
    event = sam_event("dynamodb/DynamoDBUpdate")
    a, b, c = event["Records"]
    a["dynamodb"]["Keys"] = {"pk": {"S": "user#1"}, "sk": {"S": "order#2"}}
    b["dynamodb"]["Keys"] = {"sk": {"S": "order#2"}, "pk": {"S": "user#1"}}
    c["dynamodb"]["Keys"] = {"pk": {"S": "user#1"}, "sk": {"S": "order#3"}}

    # WHEN parsed
    first, second, third = _records(event)

    # THEN the same item gives the same key and another item a different one
    assert first.default_partition_key == second.default_partition_key
    assert first.default_partition_key != third.default_partition_key


def test_decoded_images_are_cached(sam_event: SamEvent) -> None:
    # GIVEN a record
    record = _records(sam_event("dynamodb/DynamoDBUpdate"))[1]

    # WHEN an image is read twice / THEN it is decoded once
    assert record.new_image is record.new_image
    assert record.keys is record.keys


def test_raw_is_read_only(sam_event: SamEvent) -> None:
    # GIVEN a record / WHEN someone writes to raw / THEN it is refused
    record = _records(sam_event("dynamodb/DynamoDBUpdate"))[0]
    with pytest.raises(TypeError):
        record.raw["eventName"] = "REMOVE"  # type: ignore[index]


def test_empty_batch_is_an_empty_list() -> None:
    # GIVEN an event with no records / WHEN parsed / THEN no views, no error
    assert parse({"Records": []}) == []


def test_kinesis_event_sent_to_dynamodb_handler_names_both(sam_event: SamEvent) -> None:
    # GIVEN a Kinesis event
    event = sam_event("kinesis/Kinesis")

    # WHEN the DynamoDB handler parses it
    with pytest.raises(EventShapeError) as caught:
        parse(event)

    # THEN the message names the handler, what it got, the record and the likely fix
    assert str(caught.value) == (
        "dynamodb handler received an aws:kinesis record (record #0, eventID "
        "shardId-000000000000:49545115243490985018280067714973144582180062593244200961); "
        "check the event source mapping"
    )


def test_wrong_source_in_a_later_record_is_reported_with_its_index(sam_event: SamEvent) -> None:
    # GIVEN a DynamoDB batch whose third record is from SQS
    event = sam_event("dynamodb/DynamoDBUpdate")
    event["Records"][2] = sam_event("sqs/Sqs")["Records"][0]

    # WHEN parsed / THEN the error points at record #2
    with pytest.raises(EventShapeError, match=r"aws:sqs record \(record #2, messageId 19dd0b57"):
        parse(event)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": None},
        {"Records": {"eventSource": "aws:dynamodb"}},
        "text",
        None,
    ],
)
def test_event_without_records_list_is_an_event_shape_error(event: Any) -> None:
    # GIVEN something that is not a batch / WHEN parsed / THEN EventShapeError naming the handler
    with pytest.raises(EventShapeError, match=r"^dynamodb handler received .*'Records' list"):
        parse(event)


def test_eventbridge_event_sent_to_dynamodb_handler_says_what_it_is(sam_event: SamEvent) -> None:
    # GIVEN an EventBridge scheduled event / WHEN the DynamoDB handler parses it
    with pytest.raises(EventShapeError) as caught:
        parse(sam_event("cloudwatch/ScheduledEvent"))

    # THEN the message says it looks like an EventBridge event
    assert "an EventBridge event (source 'aws.events', detail-type 'Scheduled Event')" in str(caught.value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r["dynamodb"].pop("SequenceNumber"),
        lambda r: r["dynamodb"].update(SequenceNumber=""),
        lambda r: r["dynamodb"].update(SequenceNumber=42),
        lambda r: r.pop("dynamodb"),
        lambda r: r.update(dynamodb="oops"),
    ],
)
def test_record_without_sequence_number_fails_the_batch(
    sam_event: SamEvent, mutate: Callable[[dict[str, Any]], Any]
) -> None:
    # GIVEN a batch where one record has no usable SequenceNumber
    event = sam_event("dynamodb/DynamoDBUpdate")
    mutate(event["Records"][1])

    # WHEN parsed / THEN the whole event is refused: that record cannot be reported alone
    with pytest.raises(EventShapeError, match=r"without dynamodb\.SequenceNumber \(record #1, eventID c81e7"):
        parse(event)


def test_non_object_record_is_an_event_shape_error() -> None:
    # GIVEN a batch with a record that is a string / WHEN parsed / THEN EventShapeError
    with pytest.raises(EventShapeError, match=r"record that is a JSON str, not an object \(record #0\)"):
        parse({"Records": ["nope"]})


def test_parse_decodes_nothing(sam_event: SamEvent) -> None:
    # GIVEN a record whose images, keys and times are all garbage
    event = sam_event("dynamodb/DynamoDBUpdate")
    stream = event["Records"][0]["dynamodb"]
    stream.update(Keys="x", NewImage={"a": {"N": "x"}}, ApproximateCreationDateTime="soon")

    # WHEN parsed / THEN views are built anyway: decoding waits for the properties
    assert len(parse(event)) == 3


def test_malformed_record_fails_lazily_with_record_error(sam_event: SamEvent) -> None:
    # GIVEN records with a bad number in NewImage, no Keys, a bad time and a foreign ARN
    event = sam_event("dynamodb/DynamoDBUpdate")
    event["Records"][0]["dynamodb"]["NewImage"]["Id"] = {"N": "one hundred"}
    del event["Records"][1]["dynamodb"]["Keys"]
    event["Records"][2]["dynamodb"]["ApproximateCreationDateTime"] = "yesterday"
    event["Records"][2]["eventSourceARN"] = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    del event["Records"][2]["eventName"]
    bad_image, no_keys, bad_time = _records(event)

    # WHEN the broken properties are read
    # THEN each raises RecordError naming the record and the cause; the rest still reads
    with pytest.raises(RecordError) as caught:
        _ = bad_image.new_image
    assert str(caught.value) == (
        "DynamoDB Streams record #0 (4421584500000000017450439091): attribute NewImage.Id: "
        "N value 'one hundred' is not a decimal number"
    )
    assert bad_image.keys == {"Id": 101}
    with pytest.raises(RecordError, match=r"record #1 .*dynamodb\.Keys is missing"):
        _ = no_keys.keys
    with pytest.raises(RecordError, match=r"record #1 .*dynamodb\.Keys is None"):
        _ = no_keys.default_partition_key
    with pytest.raises(
        RecordError, match=r"record #2 .*ApproximateCreationDateTime 'yesterday' is not a number"
    ):
        _ = bad_time.approximate_creation_time
    with pytest.raises(RecordError, match=r"record #2 .*names no table"):
        _ = bad_time.table_name
    with pytest.raises(RecordError, match=r"record #2 .*eventName is missing"):
        _ = bad_time.event_name


def test_keys_only_stream_has_no_images(sam_event: SamEvent) -> None:
    # GIVEN a KEYS_ONLY stream record (no images at all)
    event = sam_event("dynamodb/DynamoDBUpdate")
    record = copy.deepcopy(event["Records"][1])
    record["dynamodb"].pop("NewImage")
    record["dynamodb"].pop("OldImage")
    record["dynamodb"]["StreamViewType"] = "KEYS_ONLY"

    # WHEN parsed
    (view,) = _records({"Records": [record]})

    # THEN both images are None and the keys still read
    assert (view.new_image, view.old_image, view.keys) == (None, None, {"Id": 101})
    assert view.stream_view_type == "KEYS_ONLY"


def test_fractional_creation_time_keeps_microseconds(sam_event: SamEvent) -> None:
    # GIVEN an ApproximateCreationDateTime with a fraction of a second
    event = sam_event("dynamodb/DynamoDBUpdate")
    event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] = 1428537600.25

    # WHEN read / THEN the fraction is kept, in UTC
    record = _records(event)[0]
    assert record.approximate_creation_time == datetime(2015, 4, 9, 0, 0, 0, 250000, tzinfo=timezone.utc)


def test_a_ttl_expiry_is_told_apart_from_an_application_delete() -> None:
    # GIVEN one REMOVE by Time to Live and one by the application
    event = dynamodb([Change.remove({"id": "a"}, ttl=True), Change.remove({"id": "b"})])
    # WHEN parsed
    expired, deleted = SOURCES["dynamodb"].parse(event)
    # THEN only the first says it expired
    assert isinstance(expired, DynamoDBRecord)
    assert isinstance(deleted, DynamoDBRecord)
    assert expired.expired_by_ttl
    assert not deleted.expired_by_ttl
