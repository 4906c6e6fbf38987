"""EventBridge (CloudWatch Events) events, read from AWS's own sample scheduled event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from streambridge import EventBridgeEvent
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES

SamEvent = Callable[[str], dict[str, Any]]
parse = SOURCES["eventbridge"].parse

# An alarm state change routed by an EventBridge rule, from the CloudWatch User Guide, "Alarm events and
# EventBridge" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
ALARM_STATE_CHANGE: dict[str, Any] = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2019-10-02T17:04:40Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
    "detail": {
        "alarmName": "ServerCpuTooHigh",
        "state": {"value": "ALARM", "timestamp": "2019-10-02T17:04:40.985+0000"},
        "previousState": {"value": "OK", "timestamp": "2019-10-01T13:56:40.987+0000"},
    },
}


def _event(event: Any) -> EventBridgeEvent:
    (record,) = parse(event)
    assert isinstance(record, EventBridgeEvent)
    return record


def test_sample_scheduled_event_reads(sam_event: SamEvent) -> None:
    # GIVEN AWS's sample scheduled event
    event = sam_event("cloudwatch/ScheduledEvent")

    # WHEN parsed
    record = _event(event)

    # THEN every property reads
    assert record.id == "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c"
    assert record.item_identifier == record.id
    assert record.source == "aws.events"
    assert record.detail_type == "Scheduled Event"
    assert record.default_partition_key == ("aws.events", "Scheduled Event")
    assert record.detail == {}
    assert record.time == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert record.resources == ["arn:aws:events:us-east-1:123456789012:rule/ExampleRule"]
    assert record.account == "123456789012"
    assert record.region == "us-east-1"
    assert record.version is None  # the SAM sample omits it


def test_alarm_state_change_event() -> None:
    # GIVEN the alarm state change event from the CloudWatch docs / WHEN parsed
    record = _event(ALARM_STATE_CHANGE)

    # THEN detail holds the alarm and the envelope reads
    assert record.detail["alarmName"] == "ServerCpuTooHigh"
    assert record.version == "0"
    assert record.default_partition_key == ("aws.cloudwatch", "CloudWatch Alarm State Change")
    assert record.time == datetime(2019, 10, 2, 17, 4, 40, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-10-02T17:04:40Z", datetime(2019, 10, 2, 17, 4, 40, tzinfo=timezone.utc)),
        ("2019-10-02T17:04:40.985+0000", datetime(2019, 10, 2, 17, 4, 40, 985000, tzinfo=timezone.utc)),
        (
            "2019-10-02T17:04:40.123456789+05:30",
            datetime(2019, 10, 2, 17, 4, 40, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        ("2019-10-02T17:04:40-0800", datetime(2019, 10, 2, 17, 4, 40, tzinfo=timezone(timedelta(hours=-8)))),
        ("2019-10-02T17:04:40", datetime(2019, 10, 2, 17, 4, 40, tzinfo=timezone.utc)),
    ],
)
def test_time_reads_the_iso_variants_aws_writes(sam_event: SamEvent, text: str, expected: datetime) -> None:
    # GIVEN an event time in one of AWS's ISO 8601 spellings / WHEN read / THEN an aware datetime
    event = sam_event("cloudwatch/ScheduledEvent")
    event["time"] = text
    assert _event(event).time == expected


@pytest.mark.parametrize("text", ["yesterday", "2019-13-02T17:04:40Z", "", 1570035880])
def test_bad_time_is_a_record_error(sam_event: SamEvent, text: Any) -> None:
    # GIVEN an unreadable time / WHEN read / THEN RecordError naming the record
    event = sam_event("cloudwatch/ScheduledEvent")
    event["time"] = text
    with pytest.raises(RecordError, match=r"^EventBridge record #0 \(cdc73f9d-.*\): time "):
        _ = _event(event).time


def test_detail_that_is_not_an_object_is_a_record_error(sam_event: SamEvent) -> None:
    # GIVEN a detail that is a string / WHEN read / THEN RecordError
    event = sam_event("cloudwatch/ScheduledEvent")
    event["detail"] = "oops"
    with pytest.raises(RecordError, match="detail is 'oops', expected dict"):
        _ = _event(event).detail


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("dynamodb/DynamoDBUpdate", "an aws:dynamodb event (DynamoDB Streams)"),
        ("kinesis/Kinesis", "an aws:kinesis event (Kinesis)"),
        ("sns/Sns", "an aws:sns event (SNS)"),
    ],
)
def test_batch_events_are_refused(sam_event: SamEvent, name: str, what: str) -> None:
    # GIVEN a batch event / WHEN the EventBridge handler parses it / THEN EventShapeError saying what it is
    with pytest.raises(EventShapeError) as caught:
        parse(sam_event(name))
    assert str(caught.value).startswith(f"eventbridge handler received {what}, not an EventBridge event")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("id"),
        lambda e: e.update(id=""),
        lambda e: e.pop("source"),
        lambda e: e.pop("detail-type"),
    ],
)
def test_event_without_id_source_or_detail_type_is_refused(
    sam_event: SamEvent, mutate: Callable[[dict[str, Any]], Any]
) -> None:
    # GIVEN an event missing one of its identifying fields / WHEN parsed / THEN EventShapeError
    event = sam_event("cloudwatch/ScheduledEvent")
    mutate(event)
    with pytest.raises(EventShapeError, match="needs id, source and detail-type"):
        parse(event)


@pytest.mark.parametrize("event", [[1], "event", None, 3])
def test_non_object_event_is_refused(event: Any) -> None:
    # GIVEN an event that is not a JSON object / WHEN parsed / THEN EventShapeError
    with pytest.raises(EventShapeError, match=r"^eventbridge handler received a JSON \w+"):
        parse(event)
