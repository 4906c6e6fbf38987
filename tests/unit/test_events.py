"""streambridge.testing.events: fake events held against the shapes AWS really sends.

The references are AWS's own sample events (shipped in the aws-sam-cli wheel, rendered from their
mustache templates with the defaults of ``event-mapping.json``) and, where no sample exists, literal
examples from the AWS documentation pages named next to them.
"""

from __future__ import annotations

import base64
import doctest
import hashlib
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import given, settings
from hypothesis import strategies as st

from streambridge.testing import events
from streambridge.testing.events import (
    Change,
    KinesisInput,
    SQSInput,
    aurora,
    cloudwatch_alarm,
    dynamodb,
    eventbridge,
    kinesis,
    lambda_context,
    sqs,
)
from tests.aws_samples import METRIC_ALARM_EVENT, load_sam_event


def sam_event(service: str, filename: str) -> dict[str, Any]:
    """The sample event ``events/<service>/<filename>.json`` with its placeholders rendered."""
    return load_sam_event(f"{service}/{filename}")


# ------------------------------------------------------------------------------------------------
# Shape comparison: same keys at every level, same JSON types


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def shape_differences(
    actual: Any,
    expected: Any,
    *,
    free_form: frozenset[str] = frozenset(),
    optional: frozenset[str] = frozenset(),
    path: str = "$",
) -> list[str]:
    """Where ``actual`` and ``expected`` differ in keys or JSON types (arrays: every item vs the first).

    ``free_form`` paths are maps whose keys are data (only their type is compared); ``optional`` paths
    are keys that may be present on one side only. Array items are written ``[]`` in paths.
    """
    if json_type(actual) != json_type(expected):
        return [f"{path}: {json_type(actual)} where AWS has {json_type(expected)}"]
    problems: list[str] = []
    if isinstance(expected, dict) and path not in free_form:
        for key in sorted(set(actual) ^ set(expected)):
            if f"{path}.{key}" not in optional:
                side = "extra" if key in actual else "missing"
                problems.append(f"{path}.{key}: {side}")
        for key in sorted(set(actual) & set(expected)):
            problems += shape_differences(
                actual[key], expected[key], free_form=free_form, optional=optional, path=f"{path}.{key}"
            )
    elif isinstance(expected, list) and expected:
        for item in actual:
            problems += shape_differences(
                item, expected[0], free_form=free_form, optional=optional, path=f"{path}[]"
            )
    return problems


# ------------------------------------------------------------------------------------------------
# DynamoDB Streams


SAMPLE_CHANGES = [
    {"new_image": {"Message": "New item!", "Id": 101}},
    {
        "old_image": {"Message": "New item!", "Id": 101},
        "new_image": {"Message": "This item has changed", "Id": 101},
    },
    {"old_image": {"Message": "This item has changed", "Id": 101}},
]


def test_dynamodb_event_has_the_shape_and_content_of_the_aws_sample() -> None:
    # GIVEN AWS's sample (INSERT, MODIFY, REMOVE of item Id=101) and the same changes as plain values
    sample = sam_event("dynamodb", "DynamoDBUpdate")
    arn = sample["Records"][0]["eventSourceARN"]

    # WHEN the builder writes them
    event = dynamodb(
        SAMPLE_CHANGES,
        key_names=("Id",),
        region="us-east-1",
        event_source_arn=arn,
        approximate_creation_time=1428537600,
    )

    # THEN every record has AWS's keys and JSON types, and the same content except ids
    assert event.keys() == sample.keys()
    assert len(event["Records"]) == len(sample["Records"])
    for ours, theirs in zip(event["Records"], sample["Records"], strict=True):
        assert shape_differences(ours, theirs) == []
        assert ours["eventName"] == theirs["eventName"]
        for field in (
            "Keys",
            "NewImage",
            "OldImage",
            "SizeBytes",
            "StreamViewType",
            "ApproximateCreationDateTime",
        ):
            assert ours["dynamodb"].get(field) == theirs["dynamodb"].get(field), field
        assert {k: v for k, v in ours.items() if k not in ("eventID", "dynamodb")} == {
            k: v for k, v in theirs.items() if k not in ("eventID", "dynamodb")
        }


@pytest.mark.parametrize(
    ("view_type", "expected"),
    [
        ("KEYS_ONLY", [set(), set(), set()]),
        ("NEW_IMAGE", [{"NewImage"}, {"NewImage"}, set()]),
        ("OLD_IMAGE", [set(), {"OldImage"}, {"OldImage"}]),
        ("NEW_AND_OLD_IMAGES", [{"NewImage"}, {"NewImage", "OldImage"}, {"OldImage"}]),
    ],
)
def test_dynamodb_images_follow_the_stream_view_type(view_type: Any, expected: list[set[str]]) -> None:
    # GIVEN an INSERT, a MODIFY and a REMOVE
    changes = [
        Change.insert({"id": "o-1", "status": "NEW"}),
        Change.modify({"id": "o-1", "status": "NEW"}, {"id": "o-1", "status": "PAID"}),
        Change.remove({"id": "o-1", "status": "PAID"}),
    ]

    # WHEN the stream's view type is set
    records = dynamodb(changes, stream_view_type=view_type)["Records"]

    # THEN images are kept exactly as DynamoDB keeps them, and Keys are always there
    for record, images in zip(records, expected, strict=True):
        assert record["dynamodb"]["StreamViewType"] == view_type
        assert record["dynamodb"]["Keys"] == {"id": {"S": "o-1"}}
        assert {part for part in ("NewImage", "OldImage") if part in record["dynamodb"]} == images


def test_dynamodb_sequence_numbers_and_event_ids() -> None:
    # GIVEN many changes
    changes = [{"new_image": {"id": n}} for n in range(250)]

    # WHEN they are written from a start sequence
    records = dynamodb(changes, start_sequence=990)["Records"]

    # THEN sequence numbers look like DynamoDB's (21 to 40 digits) and strictly increase, as numbers and
    # as strings; event ids are 32 distinct hex digits
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert all(re.fullmatch(r"[1-9][0-9]{20,39}", s) for s in sequences)
    assert [int(s) for s in sequences] == sorted({int(s) for s in sequences})
    assert sequences == sorted(set(sequences))
    assert int(sequences[1]) - int(sequences[0]) == 1
    ids = [r["eventID"] for r in records]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_dynamodb_event_name_and_keys_default_from_the_images() -> None:
    # GIVEN dict changes without event names or keys, on a table with a composite key
    changes: list[dict[str, Any]] = [
        {"new_image": {"pk": "c-1", "sk": 1, "v": "a"}},
        {"old_image": {"pk": "c-1", "sk": 1, "v": "a"}, "new_image": {"pk": "c-1", "sk": 1, "v": "b"}},
        {"old_image": {"pk": "c-1", "sk": 1, "v": "b"}},
        {"event_name": "REMOVE", "keys": {"pk": "c-2", "sk": 7}},
    ]

    # WHEN they are written
    records = dynamodb(changes, key_names=("pk", "sk"))["Records"]

    # THEN names are INSERT, MODIFY, REMOVE as the images imply, keys come from the key attributes
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE", "REMOVE"]
    assert records[0]["dynamodb"]["Keys"] == {"pk": {"S": "c-1"}, "sk": {"N": "1"}}
    assert records[3]["dynamodb"]["Keys"] == {"pk": {"S": "c-2"}, "sk": {"N": "7"}}
    assert dynamodb([{"new_image": {"sku": "s-1"}}], key_names="sku")["Records"][0]["dynamodb"]["Keys"] == {
        "sku": {"S": "s-1"}
    }
    assert set(records[3]["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }


def test_dynamodb_ttl_deletion_carries_the_service_user_identity() -> None:
    # GIVEN an item deleted by Time to Live
    # WHEN it is written
    (record,) = dynamodb([Change.remove({"id": "o-1"}, ttl=True)])["Records"]

    # THEN the record names DynamoDB as the principal, as AWS documents for TTL deletions
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in dynamodb([Change.remove({"id": "o-1"})])["Records"][0]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"event_name": "INSERT", "new_image": {"id": 1}, "old_image": {"id": 1}}, ValueError, "INSERT"),
        ({"event_name": "REMOVE", "new_image": {"id": 1}}, ValueError, "REMOVE"),
        ({"event_name": "UPSERT", "new_image": {"id": 1}}, ValueError, "INSERT, MODIFY or REMOVE"),
        ({"newImage": {"id": 1}}, ValueError, "unknown field"),
        ({}, ValueError, "needs new_image"),
        ({"new_image": {"sku": 1}}, ValueError, "key attribute"),
        ({"new_image": {"id": 1, "tags": set()}}, ValueError, "empty sets"),
        ({"new_image": {"id": 1, "x": float("nan")}}, ValueError, "cannot be nan"),
        ({"new_image": {"id": 1, "x": object()}}, TypeError, "no DynamoDB attribute type"),
        ({"new_image": {"id": 1}, "ttl": True}, ValueError, "REMOVE"),
        ("INSERT", TypeError, "Change or a dict"),
    ],
)
def test_dynamodb_refuses_changes_aws_could_not_send(
    change: Any, error: type[Exception], message: str
) -> None:
    # GIVEN a change DynamoDB would never stream
    # WHEN it is written THEN a clear error names the problem
    with pytest.raises(error, match=message):
        dynamodb([change])


def _binary_to_bytes(attribute: dict[str, Any]) -> dict[str, Any]:
    # Stream JSON carries binaries as base64 text; boto3's deserializer expects the decoded bytes.
    ((tag, value),) = attribute.items()
    if tag == "B":
        return {"B": base64.b64decode(value)}
    if tag == "BS":
        return {"BS": [base64.b64decode(item) for item in value]}
    if tag == "L":
        return {"L": [_binary_to_bytes(item) for item in value]}
    if tag == "M":
        return {"M": {k: _binary_to_bytes(v) for k, v in value.items()}}
    return attribute


def _as_deserialized(value: Any) -> Any:
    # What TypeDeserializer gives back for a plain value: numbers as Decimal, tuples as lists.
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _as_deserialized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_deserialized(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_as_deserialized(v) for v in value}
    return value


def _dynamodb_float(value: float) -> bool:
    return value == 0 or 1e-120 < abs(value) < 1e120


scalars = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False).filter(_dynamodb_float),
    st.booleans(),
    st.none(),
    st.binary(max_size=8),
)
sets = st.one_of(
    st.frozensets(st.text(max_size=5), min_size=1, max_size=4),
    st.frozensets(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=4),
    st.frozensets(st.binary(min_size=1, max_size=5), min_size=1, max_size=4),
)
attribute_values = st.recursive(
    scalars | sets,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(min_size=1, max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
images = st.dictionaries(st.text(min_size=1, max_size=8), attribute_values, max_size=6)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(new_image=images, old_image=images)
def test_dynamodb_images_round_trip_through_boto3_type_deserializer(
    new_image: dict[str, Any], old_image: dict[str, Any]
) -> None:
    # GIVEN any plain item images (strings, ints, floats, bools, None, bytes, sets, lists, maps)
    new_image, old_image = {**new_image, "id": "k"}, {**old_image, "id": "k"}

    # WHEN they are written as a MODIFY and read back by boto3's own TypeDeserializer
    (record,) = dynamodb([Change.modify(old_image, new_image)])["Records"]
    deserializer = TypeDeserializer()
    read = {
        part: {
            name: deserializer.deserialize(_binary_to_bytes(v))  # type: ignore[arg-type]
            for name, v in record["dynamodb"][part].items()
        }
        for part in ("NewImage", "OldImage")
    }

    # THEN the plain values come back (numbers as Decimal, tuples as lists), and the JSON is JSON
    assert read["NewImage"] == _as_deserialized(new_image)
    assert read["OldImage"] == _as_deserialized(old_image)
    assert json.loads(json.dumps(record)) == record


def test_dynamodb_sets_and_binaries_are_written_like_the_stream_json() -> None:
    # GIVEN sets (whose iteration order depends on hashing) and binary values
    image = {
        "id": "k",
        "tags": {"b", "c", "a"},
        "nums": {10, 9.5, -1},
        "blobs": {b"\x02", b"\x01"},
        "raw": b"hi",
    }

    # WHEN they are written
    new = dynamodb([Change.insert(image)])["Records"][0]["dynamodb"]["NewImage"]

    # THEN sets are sorted (so the output is reproducible) and binaries are base64 text
    assert new["tags"] == {"SS": ["a", "b", "c"]}
    assert new["nums"] == {"NS": ["-1", "9.5", "10"]}
    assert new["blobs"] == {"BS": ["AQ==", "Ag=="]}
    assert new["raw"] == {"B": "aGk="}


# ------------------------------------------------------------------------------------------------
# Kinesis


def test_kinesis_event_has_the_shape_and_content_of_the_aws_sample() -> None:
    # GIVEN AWS's sample and the same data and partition key
    sample = sam_event("kinesis", "Kinesis")

    # WHEN the builder writes them
    event = kinesis([b"Hello, this is a test 123."], partition_key="partitionKey-03")

    # THEN the keys and JSON types are AWS's, and the payload fields are identical
    assert shape_differences(event, sample) == []
    (ours,), (theirs,) = event["Records"], sample["Records"]
    for field in ("data", "partitionKey", "kinesisSchemaVersion"):
        assert ours["kinesis"][field] == theirs["kinesis"][field]
    for field in ("eventSource", "eventVersion", "eventName", "awsRegion"):
        assert ours[field] == theirs[field]
    assert len(ours["kinesis"]["sequenceNumber"]) == len(theirs["kinesis"]["sequenceNumber"])


def test_kinesis_data_is_base64_of_bytes_text_or_json() -> None:
    # GIVEN bytes, text, JSON values, a wrapper dict and a KinesisInput
    records = [
        b"\x00\xff",
        "héllo",
        {"temp": 21.5, "unit": "C"},
        [1, 2],
        {"data": {"a": 1}, "partition_key": "dev-9"},
        KinesisInput({"data": "a payload with a data key"}),
    ]

    # WHEN they are written with a partition key computed from the data
    event = kinesis(records, partition_key=lambda data: f"pk-{type(data).__name__}")
    decoded = [base64.b64decode(r["kinesis"]["data"], validate=True) for r in event["Records"]]
    keys = [r["kinesis"]["partitionKey"] for r in event["Records"]]

    # THEN the data decodes to exactly what a producer would have put, keys are as given or computed
    assert decoded[0] == b"\x00\xff"
    assert decoded[1] == "héllo".encode()
    assert json.loads(decoded[2]) == {"temp": 21.5, "unit": "C"}
    assert json.loads(decoded[3]) == [1, 2]
    assert json.loads(decoded[4]) == {"a": 1}
    assert json.loads(decoded[5]) == {"data": "a payload with a data key"}
    assert keys == ["pk-bytes", "pk-str", "pk-dict", "pk-list", "dev-9", "pk-dict"]


def test_kinesis_sequence_numbers_event_ids_and_arrival_times_increase() -> None:
    # GIVEN many records on one shard
    event = kinesis(
        [f"r{n}" for n in range(120)], shard_id="shardId-000000000007", stream="s", region="eu-west-1"
    )
    records = event["Records"]

    # THEN sequence numbers are 56 digits and strictly increase as numbers and strings
    sequences = [r["kinesis"]["sequenceNumber"] for r in records]
    assert all(re.fullmatch(r"[1-9][0-9]{55}", s) for s in sequences)
    assert [int(s) for s in sequences] == sorted({int(s) for s in sequences})
    assert sequences == sorted(set(sequences))
    # AND the event id is "<shard>:<sequence>", arrival times grow, the ARN names the stream
    assert all(r["eventID"] == f"shardId-000000000007:{r['kinesis']['sequenceNumber']}" for r in records)
    times = [r["kinesis"]["approximateArrivalTimestamp"] for r in records]
    assert all(isinstance(t, float) for t in times)
    assert times == sorted(set(times))
    assert records[0]["eventSourceARN"] == "arn:aws:kinesis:eu-west-1:123456789012:stream/s"
    assert records[0]["awsRegion"] == "eu-west-1"


def test_kinesis_refuses_data_that_is_not_json() -> None:
    # GIVEN data a producer could not have serialized
    # WHEN it is written THEN TypeError says so
    with pytest.raises(TypeError, match="JSON-serializable"):
        kinesis([{1, 2}])
    with pytest.raises(ValueError, match="partition key"):
        kinesis(["x"], partition_key="")


# ------------------------------------------------------------------------------------------------
# SQS


def test_sqs_event_has_the_shape_and_content_of_the_aws_sample() -> None:
    # GIVEN AWS's sample and the same body and queue
    sample = sam_event("sqs", "Sqs")

    # WHEN the builder writes them
    event = sqs(["Hello from SQS!"], queue="MyQueue")

    # THEN the keys and JSON types are AWS's, and body, md5 and ARN are identical
    assert shape_differences(event, sample) == []
    (ours,), (theirs,) = event["Records"], sample["Records"]
    for field in ("body", "md5OfBody", "eventSourceARN", "awsRegion", "eventSource", "messageAttributes"):
        assert ours[field] == theirs[field]
    assert ours["attributes"].keys() == theirs["attributes"].keys()


def test_sqs_fifo_messages_carry_group_deduplication_and_sequence() -> None:
    # GIVEN order messages for a FIFO queue, grouped by order id, one with its own group and dedup id
    bodies: list[Any] = [
        {"orderId": "o-1", "n": 1},
        {"orderId": "o-2", "n": 1},
        {"orderId": "o-1", "n": 2},
        SQSInput({"orderId": "o-3"}, group_id="vip", deduplication_id="dedup-1"),
    ]

    # WHEN they are written
    event = sqs(bodies, queue="orders", fifo=True, group_id=lambda body: body["orderId"])
    records = event["Records"]

    # THEN the queue is a .fifo queue and every message has AWS's FIFO attributes
    sample = sam_event("sqs", "Sqs")["Records"][0]
    fifo_only = frozenset(
        f"$.attributes.{a}" for a in ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber")
    )
    for record in records:
        assert shape_differences(record, sample, optional=fifo_only) == []
        assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    groups = [r["attributes"]["MessageGroupId"] for r in records]
    assert groups == ["o-1", "o-2", "o-1", "vip"]
    # AND deduplication ids are content-based (SHA-256 of the body) unless given
    dedup = [r["attributes"]["MessageDeduplicationId"] for r in records]
    assert dedup[:3] == [hashlib.sha256(r["body"].encode()).hexdigest() for r in records[:3]]
    assert dedup[3] == "dedup-1"
    # AND sequence numbers are 20-digit strings that strictly increase as numbers and as strings
    sequences = [r["attributes"]["SequenceNumber"] for r in records]
    assert all(re.fullmatch(r"[1-9][0-9]{19}", s) for s in sequences)
    assert [int(s) for s in sequences] == sorted({int(s) for s in sequences})
    assert sequences == sorted(set(sequences))


def test_sqs_fifo_without_groups_uses_one_default_group() -> None:
    # GIVEN a FIFO queue name and no group id
    # WHEN messages are written
    event = sqs(["a", "b"], queue="jobs.fifo", fifo=True)

    # THEN they share one group and the name is not doubled
    assert {r["attributes"]["MessageGroupId"] for r in event["Records"]} == {"default"}
    assert event["Records"][0]["eventSourceARN"].endswith(":jobs.fifo")


def test_sqs_standard_queue_has_no_fifo_attributes_unless_fair_queue_groups() -> None:
    # GIVEN a standard queue
    plain = sqs(["a"])["Records"][0]["attributes"]
    fair = sqs(["a"], group_id="tenant-1")["Records"][0]["attributes"]

    # THEN no FIFO attributes; a group id (SQS fair queues) adds MessageGroupId only
    assert set(plain) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert set(fair) - set(plain) == {"MessageGroupId"}
    with pytest.raises(ValueError, match="fifo=True"):
        sqs(["a"], queue="orders.fifo")


def test_sqs_bodies_md5_and_message_ids() -> None:
    # GIVEN text (with non-ASCII characters) and JSON bodies
    event = sqs(["plain text", "naïve ☕", {"k": [1, 2]}], queue="q")
    records = event["Records"]

    # THEN bodies are the text or compact JSON, md5OfBody is the real MD5 of the UTF-8 body
    assert [r["body"] for r in records] == ["plain text", "naïve ☕", '{"k":[1,2]}']
    for record in records:
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
    # AND message ids are distinct version-4 UUIDs, reproducible, and seed-dependent
    ids = [r["messageId"] for r in records]
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert len(set(ids)) == len(ids)
    assert [r["messageId"] for r in sqs(["plain text"], queue="q")["Records"]] == ids[:1]
    assert sqs(["plain text"], queue="q", seed=1)["Records"][0]["messageId"] != ids[0]
    # AND the attributes are strings, as AWS sends them
    assert all(isinstance(v, str) for r in records for v in r["attributes"].values())


# ------------------------------------------------------------------------------------------------
# CloudWatch alarms

# The Message of an SNS alarm notification as CloudWatch publishes it today (the field list of the
# CloudWatch user guide's "Amazon SNS notifications" of alarm state changes; values illustrative).
DOCUMENTED_SNS_ALARM_MESSAGE = {
    "AlarmName": "Production-EC2-HighCPU",
    "AlarmDescription": "EC2 instance CPU usage above 80%",
    "AWSAccountId": "123456789012",
    "AlarmConfigurationUpdatedTimestamp": "2025-07-01T10:00:00.000+0000",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 2 datapoints [85.0, 90.0] were greater than the threshold (80.0).",
    "StateChangeTime": "2025-07-01T10:10:00.000+0000",
    "Region": "US East (N. Virginia)",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Production-EC2-HighCPU",
    "OldStateValue": "OK",
    "OKActions": [],
    "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:alerts"],
    "InsufficientDataActions": [],
    "Trigger": {
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/EC2",
        "StatisticType": "Statistic",
        "Statistic": "AVERAGE",
        "Unit": None,
        "Dimensions": [{"value": "i-1234567890abcdef0", "name": "InstanceId"}],
        "Period": 300,
        "EvaluationPeriods": 2,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 80.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    },
}


def test_alarm_lambda_action_event_has_the_documented_shape() -> None:
    # GIVEN an alarm that went from OK to ALARM, delivered by its Lambda action
    # WHEN the builder writes it
    event = cloudwatch_alarm("HighCpu", state="ALARM", previous_state="OK", via="lambda", region="eu-west-1")

    # THEN it has the documented keys and types (the documented state was set by hand, so it has no
    # reasonData; the documented metric names a unit, which is optional)
    optional = frozenset(
        {"$.alarmData.state.reasonData", "$.alarmData.configuration.metrics[].metricStat.unit"}
    )
    assert shape_differences(event, METRIC_ALARM_EVENT, optional=optional) == []
    assert event["alarmData"]["state"]["value"] == "ALARM"
    assert event["alarmData"]["previousState"]["value"] == "OK"
    assert event["alarmArn"] == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:HighCpu"
    assert event["region"] == "eu-west-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", event["time"])
    json.loads(event["alarmData"]["state"]["reasonData"])


def test_alarm_sns_notification_has_the_shape_of_the_sns_sample_and_documented_message() -> None:
    # GIVEN AWS's SNS sample event and an alarm back to OK, delivered through SNS
    sample = sam_event("sns", "Sns")

    # WHEN the builder writes it
    event = cloudwatch_alarm(
        "HighCpu",
        state="OK",
        previous_state="ALARM",
        reason="back to normal",
        via="sns",
        time=datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc),
    )

    # THEN the envelope is SNS's (MessageAttributes is a free-form map) and the message is CloudWatch's
    assert shape_differences(event, sample, free_form=frozenset({"$.Records[].Sns.MessageAttributes"})) == []
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    assert shape_differences(message, DOCUMENTED_SNS_ALARM_MESSAGE) == []
    assert (message["NewStateValue"], message["OldStateValue"], message["NewStateReason"]) == (
        "OK",
        "ALARM",
        "back to normal",
    )
    assert message["StateChangeTime"] == "2026-03-04T05:06:07.890+0000"
    assert message["Region"] == "US East (N. Virginia)"
    assert sns["Subject"] == 'OK: "HighCpu" in US East (N. Virginia)'
    assert event["Records"][0]["EventSource"] == "aws:sns"
    assert uuid.UUID(sns["MessageId"]).version == 4


def test_alarm_sns_subject_is_cut_at_100_characters_like_sns() -> None:
    # GIVEN an alarm with a very long name
    event = cloudwatch_alarm("A" * 150, via="sns", region="eu-south-1")

    # THEN the subject fits SNS's limit and still names the state and region
    subject = event["Records"][0]["Sns"]["Subject"]
    assert len(subject) <= 100
    assert subject.startswith('ALARM: "AAAA')
    assert subject.endswith('..." in EU (Milan)')


def test_alarm_refuses_unknown_states() -> None:
    with pytest.raises(ValueError, match="state"):
        cloudwatch_alarm(state="FIRING")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="via"):
        cloudwatch_alarm(via="eventbridge")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# EventBridge

# The envelope of "State change for a single-metric alarm" in "Alarm events and EventBridge"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
DOCUMENTED_EVENTBRIDGE_ENVELOPE = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2019-10-02T17:04:40Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
    "detail": {},
}


def test_eventbridge_event_has_the_shape_of_the_aws_sample() -> None:
    # GIVEN AWS's scheduled-event sample (which leaves out "version") and the documented envelope
    sample = sam_event("cloudwatch", "ScheduledEvent")

    # WHEN the builder writes an event with resources
    event = eventbridge(
        {"orderId": "o-1", "status": "PAID"},
        resources=["arn:aws:events:us-east-1:123456789012:rule/ExampleRule"],
    )

    # THEN its keys and types are AWS's; detail is the caller's object
    free = frozenset({"$.detail"})
    assert shape_differences(event, sample, free_form=free, optional=frozenset({"$.version"})) == []
    assert shape_differences(event, DOCUMENTED_EVENTBRIDGE_ENVELOPE, free_form=free) == []
    assert event["time"] == "2026-01-01T00:00:00Z"
    assert event["version"] == "0"
    assert uuid.UUID(event["id"]).version == 4


def test_eventbridge_ids_times_and_details() -> None:
    # GIVEN two events that differ only in their detail, and one with a given id and time
    first = eventbridge({"n": 1})
    second = eventbridge({"n": 2})
    given_event = eventbridge({"n": 1}, id="my-id", time=datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc))

    # THEN ids differ by content, given values are used, and detail must be a JSON object
    assert first["id"] != second["id"]
    assert eventbridge({"n": 1})["id"] == first["id"]
    assert (given_event["id"], given_event["time"]) == ("my-id", "2026-05-06T07:08:09Z")
    assert eventbridge({}, time="2026-01-02T03:04:05Z")["time"] == "2026-01-02T03:04:05Z"
    with pytest.raises(TypeError, match="JSON object"):
        eventbridge(["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        eventbridge({}, time=datetime(2026, 1, 1))


# ------------------------------------------------------------------------------------------------
# Aurora

# Payloads of the Aurora user guide's examples: lambda_sync('arn...', '{"operation": "ping"}') in
# "Invoking a Lambda function with an Aurora MySQL native function"
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Integrating.NativeLambda.html)
# and aws_lambda.invoke(..., '{"body": "Hello from Postgres!"}'::json) in "Examples: Invoking Lambda
# functions from your Aurora PostgreSQL DB cluster"
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/PostgreSQL-Lambda-examples.html).
DOCUMENTED_MYSQL_PAYLOAD_TEXT = '{"operation": "ping"}'
DOCUMENTED_POSTGRES_PAYLOAD_TEXT = '{"body": "Hello from Postgres!"}'


@pytest.mark.parametrize("text", [DOCUMENTED_MYSQL_PAYLOAD_TEXT, DOCUMENTED_POSTGRES_PAYLOAD_TEXT])
def test_aurora_event_is_the_payload_itself(text: str) -> None:
    # GIVEN the JSON text a documented SQL statement sends
    payload = json.loads(text)

    # WHEN the builder writes the event
    event = aurora(payload)

    # THEN the function gets that document itself, with no envelope, as a copy
    assert event == payload
    assert event is not payload


def test_aurora_payload_may_be_any_json_value_but_only_json() -> None:
    # GIVEN arrays, scalars and nested values (tuples are JSON arrays)
    # THEN they come back as the JSON the function would receive
    assert aurora([1, ("a", None)]) == [1, ["a", None]]
    assert aurora("text") == "text"
    assert aurora(None) is None
    with pytest.raises(TypeError, match="JSON-serializable"):
        aurora({"when": datetime(2026, 1, 1, tzinfo=timezone.utc)})


# ------------------------------------------------------------------------------------------------
# Lambda context


def test_lambda_context_counts_down_with_the_injected_clock() -> None:
    # GIVEN a context built at t=1000 s with a 3 s timeout
    now = [1000.0]
    context = lambda_context(timeout_ms=3_000, clock=lambda: now[0])

    # THEN the remaining time follows the clock and never goes below zero
    assert context.get_remaining_time_in_millis() == 3_000
    now[0] += 0.25
    assert context.get_remaining_time_in_millis() == 2_750
    now[0] += 2.7501
    assert context.get_remaining_time_in_millis() == 0
    now[0] += 10
    assert context.get_remaining_time_in_millis() == 0


def test_lambda_context_counts_down_in_real_time_and_has_the_runtime_attributes() -> None:
    # GIVEN a context on the real monotonic clock
    context = lambda_context(timeout_ms=60_000, function_name="orders-publisher", region="eu-west-1")

    # THEN it counts down from the timeout, and carries the Python runtime's attributes
    remaining = context.get_remaining_time_in_millis()
    assert isinstance(remaining, int)
    assert 59_000 < remaining <= 60_000
    assert context.function_name == "orders-publisher"
    assert context.function_version == "$LATEST"
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:orders-publisher"
    assert context.memory_limit_in_mb == "128"  # a str in the runtime: it comes from an env variable
    assert uuid.UUID(context.aws_request_id).version == 4
    assert context.log_group_name == "/aws/lambda/orders-publisher"
    assert context.log_stream_name.startswith("2026/01/01/[$LATEST]")
    assert context.identity.cognito_identity_id is None
    assert context.client_context is None


# ------------------------------------------------------------------------------------------------
# Every builder


BUILDERS: list[tuple[str, Callable[[], Any]]] = [
    ("dynamodb", lambda: dynamodb(SAMPLE_CHANGES, key_names=("Id",))),
    ("kinesis", lambda: kinesis([{"data": {"a": 1}, "partition_key": "k"}, b"\x00"])),
    ("sqs", lambda: sqs(["a", {"b": 2}])),
    ("sqs fifo", lambda: sqs(["a", {"b": 2}], fifo=True, group_id="g")),
    ("aurora", lambda: aurora({"op": "insert", "row": {"id": 1}})),
    ("alarm lambda", cloudwatch_alarm),
    ("alarm sns", lambda: cloudwatch_alarm(via="sns")),
    ("eventbridge", lambda: eventbridge({"a": [1, 2]})),
]


@pytest.mark.parametrize(("name", "build"), BUILDERS, ids=[name for name, _ in BUILDERS])
def test_every_builder_is_json_safe_and_deterministic(name: str, build: Callable[[], Any]) -> None:
    # GIVEN a builder
    # WHEN it is called twice with the same inputs
    first, second = build(), build()

    # THEN the outputs are equal plain JSON (what Lambda would decode from the wire)
    assert first == second, name
    assert json.loads(json.dumps(first, allow_nan=False)) == first


def test_docstring_examples_run() -> None:
    # GIVEN the examples in the module's docstrings
    # WHEN doctest runs them THEN they all pass
    result = doctest.testmod(events, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


def test_importing_the_events_module_does_not_import_boto3() -> None:
    # GIVEN a fresh interpreter
    code = (
        "import sys, streambridge.testing.events; "
        "print(sorted(m for m in sys.modules if m.startswith('boto')))"
    )

    # WHEN it imports the fake events
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    # THEN boto3/botocore stay unloaded until a DynamoDB event is built
    assert result.stdout.strip() == "[]"
