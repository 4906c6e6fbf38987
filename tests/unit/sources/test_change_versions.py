"""Each source's own version of a change (``_change_version``), which the stale guard compares."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from streambridge import RecordError
from streambridge._sources import SOURCES
from streambridge._sources._base import MutationOf
from streambridge._sources._common import time_version
from streambridge.testing import events
from streambridge.testing.events import KinesisInput, SQSInput

MOMENT = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
MICROS = 1_772_359_200_123_456
"""MOMENT in microseconds since the epoch."""


def one(source: str, event: Any) -> Any:
    return SOURCES[source].parse(event)[0]


def test_a_time_is_its_microseconds_since_the_epoch_exactly() -> None:
    assert time_version(MOMENT) == MICROS
    assert time_version(MOMENT.astimezone(timezone(timedelta(hours=-5)))) == MICROS
    assert time_version(datetime(1970, 1, 1, tzinfo=timezone.utc)) == 0


def test_stream_records_are_versioned_by_their_sequence_numbers() -> None:
    dynamodb = one("dynamodb", events.dynamodb([{"new_image": {"id": "a"}}], start_sequence=7))
    kinesis = one("kinesis", events.kinesis([b"x"], start_sequence=7))
    assert dynamodb._change_version() == int(dynamodb.sequence_number) == 400000000000000000007
    assert kinesis._change_version() == int(kinesis.sequence_number)
    assert len(str(kinesis._change_version())) == 56  # beyond any float, and DynamoDB's 38 digits


def test_a_pipes_flat_kinesis_record_has_the_same_version() -> None:
    event = events.kinesis([b"x"], start_sequence=7)
    assert one("kinesis", events.pipe(event))._change_version() == one("kinesis", event)._change_version()


def test_kinesis_for_dynamodb_is_versioned_by_creation_time_in_either_precision() -> None:
    change = {"new_image": {"id": "a"}}
    micro = one("kinesis_dynamodb", events.kinesis_dynamodb([change], created=[MOMENT], start_sequence=900))
    milli = one(
        "kinesis_dynamodb", events.kinesis_dynamodb([change], created=[MOMENT], precision="MILLISECOND")
    )
    assert micro._change_version() == MICROS
    assert milli._change_version() == MICROS - 456  # the stream kept whole milliseconds
    assert micro._change_version() != int(micro.sequence_number)


def test_sqs_fifo_messages_carry_their_sequence_number_and_standard_ones_none() -> None:
    fifo = one("sqs", events.sqs([SQSInput("x", group_id="g")], fifo=True))
    standard = one("sqs", events.sqs(["x"]))
    assert fifo._change_version() == int(fifo.sequence_number)
    assert standard._change_version() is None


@pytest.mark.parametrize("via", ["lambda", "sns"])
def test_an_alarm_is_versioned_by_its_state_change_time(via: str) -> None:
    alarm = one("cloudwatch_alarm", events.cloudwatch_alarm("HighCpu", via=via, time=MOMENT))  # type: ignore[arg-type]
    assert alarm._change_version() == time_version(alarm.state_change_time)
    assert alarm._change_version() == MICROS - 456  # CloudWatch writes milliseconds


def test_an_eventbridge_event_is_versioned_by_its_time_in_whole_seconds() -> None:
    event = one("eventbridge", events.eventbridge({}, time=MOMENT))
    assert event._change_version() == MICROS - 123456


def test_an_aurora_payload_has_no_version_of_its_own() -> None:
    assert one("aurora", events.aurora({"id": 1}))._change_version() is None


def test_an_events_mutations_share_its_version() -> None:
    event = one("eventbridge", events.eventbridge({}, time=MOMENT))
    parts = [MutationOf(event, {}, i, 2, "k") for i in range(2)]
    assert [part._change_version() for part in parts] == [event._change_version()] * 2


@pytest.mark.parametrize("sequence", ["12a4", "\uff11\uff12\uff13", "-5"])
def test_a_sequence_number_that_is_not_one_fails_its_record_by_name(sequence: str) -> None:
    event = events.kinesis([KinesisInput(b"x")])
    event["Records"][0]["kinesis"]["sequenceNumber"] = sequence
    record = one("kinesis", event)
    with pytest.raises(
        RecordError, match=r"Kinesis record #0 .*kinesis.sequenceNumber .* is not a sequence number"
    ):
        record._change_version()


def test_a_malformed_time_fails_its_record_by_name() -> None:
    with pytest.raises(RecordError, match="time"):
        one("eventbridge", events.eventbridge({}, time="yesterday"))._change_version()
