"""The SOURCES registry, the import cost of the views, and the never-a-bare-exception promise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Hashable
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge import AlarmEvent, AuroraEvent, DynamoDBRecord, EventBridgeEvent, KinesisRecord, SQSRecord
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES, Source, SourceName, SourceRecord
from tests.unit.sources.mangling import paths, replace

SamEvent = Callable[[str], dict[str, Any]]


def test_sources_are_registered_by_decorator_name() -> None:
    # GIVEN the registry / WHEN read / THEN six sources, batch ones first, keyed by their own name
    assert {name: source.batch for name, source in SOURCES.items()} == {
        "dynamodb": True,
        "kinesis": True,
        "kinesis_dynamodb": True,
        "sqs": True,
        "aurora": False,
        "cloudwatch_alarm": False,
        "eventbridge": False,
        "http": True,
    }
    assert all(isinstance(s, Source) and s.name == name and s.title for name, s in SOURCES.items())


def test_the_source_name_type_names_exactly_the_registered_sources() -> None:
    # GIVEN the Literal that type-checks source names / THEN it lists every registered source, no other
    assert get_args(SourceName) == tuple(SOURCES)


@pytest.mark.parametrize(
    ("name", "sample", "view"),
    [
        ("dynamodb", "dynamodb/DynamoDBUpdate", DynamoDBRecord),
        ("kinesis", "kinesis/Kinesis", KinesisRecord),
        ("sqs", "sqs/Sqs", SQSRecord),
        ("cloudwatch_alarm", "sns/Sns", AlarmEvent),
        ("eventbridge", "cloudwatch/ScheduledEvent", EventBridgeEvent),
        ("aurora", None, AuroraEvent),
    ],
)
def test_every_view_has_identifier_and_hashable_key(
    sam_event: SamEvent, name: str, sample: str | None, view: type[SourceRecord]
) -> None:
    # GIVEN a sample event of each source (Aurora: any JSON object)
    event = sam_event(sample) if sample else {"id": 1}

    # WHEN parsed by its own source
    records = SOURCES[name].parse(event)

    # THEN each view has a non-empty identifier and, unless it is the alarm whose SNS message is
    # not an alarm in the SAM sample, a hashable default key
    assert records
    for record in records:
        assert isinstance(record, view)
        assert isinstance(record.item_identifier, str)
        assert record.item_identifier
        if name != "cloudwatch_alarm":
            assert isinstance(record.default_partition_key, (Hashable, type(None)))


def test_importing_the_sources_imports_neither_boto3_nor_botocore() -> None:
    # GIVEN a fresh interpreter / WHEN the source views are imported
    code = (
        "import sys, streambridge._sources; "
        "print(json.dumps(sorted(m for m in ('boto3', 'botocore') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )

    # THEN boto3 and botocore stay unloaded (cold start)
    assert json.loads(result.stdout) == []


# --- never a bare KeyError / TypeError / binascii.Error -----------------------------------------------

SAMPLES = {
    "dynamodb": "dynamodb/DynamoDBUpdate",
    "kinesis": "kinesis/Kinesis",
    "sqs": "sqs/Sqs",
    "cloudwatch_alarm": "sns/Sns",
    "eventbridge": "cloudwatch/ScheduledEvent",
}
garbage = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.sampled_from(["", "aws:dynamodb", "aws:sns", "SGVsbG8=", "1.5", "2019-10-02T17:04:40Z"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


def _read_everything(record: SourceRecord) -> None:
    for name in dir(type(record)):
        if name.startswith("_") or name in {"raw", "index", "source_title"}:
            continue
        try:
            member = getattr(record, name)
            if callable(member):
                member(*(("key",) if name == "get" else ()))
        except RecordError:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), source=st.sampled_from(sorted(SAMPLES)))
def test_mangled_events_raise_only_streambridge_errors(
    sam_event: SamEvent, data: st.DataObject, source: str
) -> None:
    # GIVEN a sample event with a few fields replaced by arbitrary JSON
    event = sam_event(SAMPLES[source])
    if source == "cloudwatch_alarm":
        event["Records"][0]["Sns"]["Message"] = json.dumps({"AlarmName": "a", "NewStateValue": "OK"})
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        inside = paths(event)
        if not inside:
            break
        replace(event, data.draw(st.sampled_from(inside)), data.draw(garbage))

    # WHEN parsed and every property read
    try:
        records = SOURCES[source].parse(event)
    except EventShapeError:
        return
    for record in records:
        _read_everything(record)
    # THEN nothing but EventShapeError (whole event) or RecordError (one property) came out
