"""Kinesis Data Streams for DynamoDB: the record view, the event shape, and arrange (order and duplicates)."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge import DynamoDBRecord
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES, SourceRecord
from streambridge._sources.kinesis_dynamodb import MICROSECONDS_FROM, KinesisDynamoDBRecord
from streambridge.testing import events

SOURCE = SOURCES["kinesis_dynamodb"]
POWERTOOLS_SAMPLE = Path(__file__).parents[2] / "powertools_events" / "kinesisDynamoDBStreamEvent.json"
UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SamEvent = Callable[[str], dict[str, Any]]


def parse(event: Any) -> list[KinesisDynamoDBRecord]:
    records = SOURCE.parse(event)
    assert all(isinstance(r, KinesisDynamoDBRecord) for r in records)
    return records  # type: ignore[return-value]


def arrange(records: list[KinesisDynamoDBRecord]) -> tuple[list[int], list[tuple[int, str]]]:
    """``(indexes in planning order, (index, note) of each skipped record)``."""
    assert SOURCE.arrange is not None
    ordered, skipped = SOURCE.arrange(records)
    return [r.index for r in ordered], [(r.index, note) for r, note in skipped]


def change_of(event: dict[str, Any], position: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(event["Records"][position]["kinesis"]["data"]))
    return data


def with_change(event: dict[str, Any], position: int, change: Any) -> dict[str, Any]:
    """``event`` with the data of one record replaced (a JSON value, or bytes as they are)."""
    event = copy.deepcopy(event)
    data = change if isinstance(change, bytes) else json.dumps(change).encode()
    event["Records"][position]["kinesis"]["data"] = base64.b64encode(data).decode()
    return event


def powertools_sample() -> dict[str, Any]:
    sample: dict[str, Any] = json.loads(POWERTOOLS_SAMPLE.read_text())
    return sample


# --- the view -------------------------------------------------------------------------------------


def test_powertools_sample_reads_as_a_dynamodb_change_view() -> None:
    # GIVEN Powertools' own sample of this event (two INSERTs, milliseconds, no precision field)
    first, second = parse(powertools_sample())

    # THEN the DynamoDB view reads the change in the data, the Kinesis view the Kinesis record
    assert first.event_name == "INSERT"
    assert first.keys == {"id": "record-1qit2y819gi"}
    assert first.new_image == {"id": "record-1qit2y819gi", "data": "data-x6aq7ckdpgk"}
    assert first.old_image is None
    assert first.event_id == "d9428029-0f63-4056-86da-ce10d545b1b9"
    assert first.table_name == "PowertoolsEventsStack-DynamoDBTable59784FC0-8NKAMTERTAXY"
    assert first.record_format == "application/json"
    assert first.size_bytes == 60
    assert first.expired_by_ttl is False
    assert first.creation_time_precision == "MILLISECOND"
    assert first.approximate_creation_time == datetime(2024, 11, 18, 10, 9, 15, 370000, tzinfo=UTC)
    sequence = "49657828409187701520019995242508390119953358325192589314"
    assert first.sequence_number == first.item_identifier == sequence
    assert first.partition_key == "859F7C064A4818874FA67ABEC9BF2AF1"
    assert first.kinesis_event_id == f"shardId-000000000000:{sequence}"
    assert first.shard_id == "shardId-000000000000"
    assert first.approximate_arrival_time == datetime(2024, 11, 18, 10, 9, 15, 932000, tzinfo=UTC)
    assert first.describe() == f"Kinesis DynamoDB record #0 ({sequence})"
    # AND the default ordering key is the item's key, not the Kinesis partition key
    assert first.default_partition_key == '{"id":{"S":"record-1qit2y819gi"}}'
    assert second.keys == {"id": "record-fvxn3q4q5jw"}


def test_the_item_key_is_the_same_text_dynamodb_streams_orders_by() -> None:
    # GIVEN the same item's change through DynamoDB Streams and through Kinesis, with a composite key
    change = {"new_image": {"pk": "tenant-1", "sk": 7, "status": "NEW"}}
    (streams,) = SOURCES["dynamodb"].parse(events.dynamodb([change], key_names=("pk", "sk")))
    (kinesis,) = parse(events.kinesis_dynamodb([change], key_names=("pk", "sk")))

    # THEN both order by the same canonical key text
    assert isinstance(streams, DynamoDBRecord)
    assert (
        kinesis.default_partition_key
        == streams.default_partition_key
        == '{"pk":{"S":"tenant-1"},"sk":{"N":"7"}}'
    )
    assert kinesis.keys == streams.keys == {"pk": "tenant-1", "sk": 7}


def test_modify_and_ttl_removal_read_like_dynamodb_streams() -> None:
    # GIVEN a MODIFY and a REMOVE made by Time to Live
    old, new = {"id": "o-1", "status": "NEW", "tags": {"b", "a"}}, {"id": "o-1", "status": "PAID", "n": 1.5}
    event = events.kinesis_dynamodb(
        [events.Change.modify(old, new), events.Change.remove(new, ttl=True)], table="Orders"
    )
    modify, remove = parse(event)

    # THEN the images are plain values, and the TTL removal is told apart
    assert (modify.event_name, modify.old_image, modify.new_image) == (
        "MODIFY",
        {"id": "o-1", "status": "NEW", "tags": ["a", "b"]},
        {"id": "o-1", "status": "PAID", "n": 1.5},
    )
    assert (remove.event_name, remove.new_image, remove.expired_by_ttl) == ("REMOVE", None, True)
    assert modify.expired_by_ttl is False
    assert modify.table_name == "Orders"


@pytest.mark.parametrize("precision", ["MICROSECOND", "MILLISECOND"])
def test_creation_time_is_exact_in_either_precision(precision: str) -> None:
    # GIVEN changes made at times with microseconds
    times = [T0 + timedelta(microseconds=123_456), T0 + timedelta(seconds=1, microseconds=999)]
    event = events.kinesis_dynamodb(
        [{"new_image": {"id": "a"}}, {"new_image": {"id": "b"}}], created=times, precision=precision
    )

    # THEN the time reads exactly as the stream wrote it: microseconds, or milliseconds
    records = parse(event)
    assert [r.creation_time_precision for r in records] == [precision] * 2
    if precision == "MICROSECOND":
        assert [r.approximate_creation_time for r in records] == times
    else:
        assert [r.approximate_creation_time for r in records] == [
            T0 + timedelta(milliseconds=123),
            T0 + timedelta(seconds=1),
        ]


@pytest.mark.parametrize(
    ("stated", "number", "expected"),
    [
        ("MICROSECOND", 1_767_225_600_000_001, T0 + timedelta(microseconds=1)),
        ("MILLISECOND", 1_767_225_600_001, T0 + timedelta(milliseconds=1)),
        (None, 1_767_225_600_000_001, T0 + timedelta(microseconds=1)),  # 16 digits: microseconds
        (None, 1_767_225_600_001, T0 + timedelta(milliseconds=1)),  # 13 digits: milliseconds
        (None, MICROSECONDS_FROM, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),
        (None, MICROSECONDS_FROM - 1, datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=10**14 - 1)),
        ("MICROSECOND", "1767225600000001", T0 + timedelta(microseconds=1)),  # numeric text (hand-written)
    ],
)
def test_the_precision_field_is_honoured_and_else_inferred(
    stated: str | None, number: Any, expected: datetime
) -> None:
    # GIVEN a change whose time is stated with or without its precision
    event = events.kinesis_dynamodb([{"new_image": {"id": "a"}}])
    change = change_of(event, 0)
    change["dynamodb"]["ApproximateCreationDateTime"] = number
    change["dynamodb"].pop("ApproximateCreationDateTimePrecision", None)
    if stated is not None:
        change["dynamodb"]["ApproximateCreationDateTimePrecision"] = stated
    (record,) = parse(with_change(event, 0, change))

    # THEN it reads as the field says, else by its size
    assert record.approximate_creation_time == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ApproximateCreationDateTime", None, "dynamodb.ApproximateCreationDateTime is missing"),
        ("ApproximateCreationDateTime", 1.5, "is 1.5, expected a whole number"),
        ("ApproximateCreationDateTime", True, "is True, expected a whole number"),
        ("ApproximateCreationDateTime", "soon", "is 'soon', expected a whole number"),
        ("ApproximateCreationDateTime", 10**30, "is out of range"),
        ("ApproximateCreationDateTimePrecision", "NANOSECOND", "expected MILLISECOND or MICROSECOND"),
    ],
)
def test_an_unreadable_creation_time_is_a_record_error(field: str, value: Any, message: str) -> None:
    # GIVEN a change with a bad time
    event = events.kinesis_dynamodb([{"new_image": {"id": "a"}}])
    change = change_of(event, 0)
    if value is None:
        del change["dynamodb"][field]
    else:
        change["dynamodb"][field] = value
    (record,) = parse(with_change(event, 0, change))

    # THEN reading it raises RecordError naming the record; the rest of the view still reads
    with pytest.raises(RecordError, match=message) as caught:
        _ = record.approximate_creation_time
    assert str(caught.value).startswith(record.describe())
    assert record.keys == {"id": "a"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b'{"eventName": "INSERT"', "not valid JSON"),
        ([1, 2], "is not a JSON object: not a DynamoDB change"),
        (
            {"eventName": "INSERT", "dynamodb": {"NewImage": {}}},
            "without dynamodb.Keys: not a DynamoDB change",
        ),
        ({"temp": 21.5}, "without dynamodb.Keys"),
    ],
)
def test_a_record_whose_data_is_not_a_change_fails_alone(data: Any, message: str) -> None:
    # GIVEN a batch of two changes, the second replaced by data that is not a DynamoDB change
    event = events.kinesis_dynamodb([{"new_image": {"id": "a"}}, {"new_image": {"id": "b"}}])
    good, bad = parse(with_change(event, 1, data))

    # THEN the batch parses; the bad record's DynamoDB view raises RecordError naming it; the good one reads
    assert good.keys == {"id": "a"}
    for read in (lambda: bad.default_partition_key, lambda: bad.keys, lambda: bad.event_name):
        with pytest.raises(RecordError, match=message) as caught:
            read()
        assert str(caught.value).startswith(f"Kinesis DynamoDB record #1 ({bad.sequence_number})")
    # AND its Kinesis view still reads (to name it in batchItemFailures and logs)
    assert bad.item_identifier == event["Records"][1]["kinesis"]["sequenceNumber"]


def test_a_dynamodb_streams_event_is_refused_naming_its_decorator() -> None:
    with pytest.raises(
        EventShapeError, match=r"DynamoDB Streams event: decorate the function with @bridge\.dynamodb"
    ):
        parse(events.dynamodb([{"new_image": {"id": "a"}}]))


def test_plain_kinesis_records_are_refused_naming_the_kinesis_decorator() -> None:
    # GIVEN readings a producer put on a stream (JSON, but no DynamoDB change)
    event = events.kinesis([{"deviceId": "d-1", "temp": 21.5}, {"deviceId": "d-2", "temp": 3}])

    # THEN the whole event is refused: it is another source
    with pytest.raises(EventShapeError) as caught:
        parse(event)
    assert str(caught.value) == (
        "kinesis_dynamodb handler received 2 Kinesis records and none is a DynamoDB change (record #0: "
        "the record's data is a JSON object without dynamodb.Keys: not a DynamoDB change); for a stream "
        "your own producers write to, use @bridge.kinesis"
    )


@pytest.mark.parametrize(
    "event",
    [
        events.sqs([{"id": "a"}]),
        {"detail-type": "x", "source": "y", "detail": {}},
        {"Records": "nope"},
        {"Records": [["not", "a", "record"]]},
    ],
    ids=["sqs", "eventbridge", "records-not-a-list", "record-not-an-object"],
)
def test_other_events_are_refused(event: Any) -> None:
    with pytest.raises(EventShapeError, match="kinesis_dynamodb handler received"):
        parse(event)


def test_an_empty_batch_has_no_records() -> None:
    assert parse({"Records": []}) == []


def test_a_pipe_batch_reads_the_same_and_is_answered_by_event_id() -> None:
    # GIVEN the same changes as an EventBridge pipe delivers them (a JSON array of flat Kinesis records)
    event = events.kinesis_dynamodb(
        [{"new_image": {"id": "a"}}, {"new_image": {"id": "a", "n": 2}}], arrival=[1, 0]
    )
    piped = events.pipe(event)
    records = parse(piped)

    # THEN the view reads the same, and the pipe's identifier is the Kinesis eventID
    assert [r.new_image for r in records] == [{"id": "a", "n": 2}, {"id": "a"}]
    assert [r.item_identifier for r in records] == [r["eventID"] for r in piped]
    assert [r.kinesis_event_id for r in records] == [r["eventID"] for r in piped]
    assert arrange(records) == ([1, 0], [])


def test_this_source_loads_with_its_first_decorator_or_its_public_name() -> None:
    # GIVEN a fresh interpreter that imports the package, then names the view, then decorates a handler
    code = (
        "import sys, streambridge\n"
        "print('streambridge._sources.kinesis_dynamodb' in sys.modules)\n"
        "print(streambridge.KinesisDynamoDBRecord.__module__)\n"
        "print('streambridge._sources.kinesis_dynamodb' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    # THEN the module loads only when the public name is first asked for (or a decorator binds the source)
    assert out.split() == ["False", "streambridge", "True"]


# --- the harness builder against Powertools -------------------------------------------------------


@pytest.mark.parametrize("precision", ["MICROSECOND", "MILLISECOND"])
def test_the_builder_matches_powertools_sample_and_parser(precision: str) -> None:
    # GIVEN an INSERT built by the harness, and Powertools' sample INSERT
    built = events.kinesis_dynamodb(
        [{"new_image": {"id": "o-1", "data": "x"}}, events.Change.remove({"id": "o-1"}, ttl=True)],
        precision=precision,
    )
    sample = powertools_sample()

    # THEN it passes what Powertools' parser checks of this event, as its sample does
    assert powertools_schema_issues(sample) == []
    assert powertools_schema_issues(built) == []
    # AND the Kinesis records carry exactly the sample's fields, in its order, with the same JSON types
    assert _shape(built["Records"][0]) == _shape(sample["Records"][0])
    # AND so does the change in the data, but for the precision field the sample (milliseconds) has not
    change, sample_change = change_of(built, 0), change_of(sample, 0)
    precision_field = change["dynamodb"].pop("ApproximateCreationDateTimePrecision", None)
    assert precision_field == (precision if precision == "MICROSECOND" else None)
    assert _shape(change) == _shape(sample_change)
    assert change["recordFormat"] == "application/json"
    assert change["eventSource"] == "aws:dynamodb"
    assert len(built["Records"][0]["kinesis"]["partitionKey"]) == len(
        sample["Records"][0]["kinesis"]["partitionKey"]
    )
    # AND a TTL removal carries the identity Powertools' schema allows besides null
    assert change_of(built, 1)["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def powertools_schema_issues(event: dict[str, Any]) -> list[str]:
    """What Powertools' parser would refuse in ``event``, by its KinesisDynamoDBStreamSchema.

    Transcribed from powertools-lambda-typescript at 1e5fe1b (packages/parser/src/schemas/kinesis.ts and
    dynamodb.ts): the Python library has no model of this event, and the TypeScript one cannot run here.
    """
    issues = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            issues.append(what)

    for n, record in enumerate(event["Records"]):
        need(record.get("eventSource") == "aws:kinesis", f"{n}: eventSource")
        need(record.get("eventName") == "aws:kinesis:record", f"{n}: eventName")
        for name in ("eventVersion", "eventID", "awsRegion", "invokeIdentityArn", "eventSourceARN"):
            need(isinstance(record.get(name), str), f"{n}: {name}")
        kinesis = record["kinesis"]
        for name in ("kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data"):
            need(isinstance(kinesis.get(name), str), f"{n}: kinesis.{name}")
        need(isinstance(kinesis.get("approximateArrivalTimestamp"), (int, float)), f"{n}: arrival")
        change = json.loads(base64.b64decode(kinesis["data"]))
        need(isinstance(change.get("eventID"), str), f"{n}: data.eventID")
        need(change.get("eventName") in ("INSERT", "MODIFY", "REMOVE"), f"{n}: data.eventName")
        need(change.get("eventSource") == "aws:dynamodb", f"{n}: data.eventSource")
        need(isinstance(change.get("awsRegion"), str), f"{n}: data.awsRegion")
        need(change.get("recordFormat") == "application/json", f"{n}: data.recordFormat")
        need(isinstance(change.get("tableName"), str), f"{n}: data.tableName")
        need(
            change.get("userIdentity")
            in (None, {"type": "Service", "principalId": "dynamodb.amazonaws.com"}),
            f"{n}: data.userIdentity",
        )
        stream = change["dynamodb"]
        need(isinstance(stream.get("ApproximateCreationDateTime", 0), (int, float)), f"{n}: time")
        need(isinstance(stream.get("SizeBytes"), (int, float)), f"{n}: SizeBytes")
        for name in ("Keys", "NewImage", "OldImage"):
            image = stream.get(name, {})
            need(isinstance(image, dict) and all(isinstance(v, dict) for v in image.values()), f"{n}: {name}")
        need("Keys" in stream, f"{n}: Keys")
    return issues


def _shape(value: Any) -> Any:
    """Keys in order and JSON types, not values (images: their attribute type tags)."""
    if isinstance(value, dict):
        return [(key, _shape(inner)) for key, inner in value.items()]
    if isinstance(value, list):
        return [_shape(inner) for inner in value[:1]]
    if isinstance(value, str) and value.startswith("eyJ"):  # base64 JSON: the data, compared apart
        return "data"
    return type(value).__name__


def test_the_builder_delivers_in_the_arrival_order_asked() -> None:
    # GIVEN three changes made in order, delivered 2, 0, 0 (a duplicate), 1
    event = events.kinesis_dynamodb(
        [{"new_image": {"id": "a", "n": n}} for n in range(3)], arrival=[2, 0, 0, 1], partition_key="pk-1"
    )

    # THEN sequence numbers follow the arrival; the duplicate carries the very same data
    records = event["Records"]
    assert [change_of(event, i)["dynamodb"]["NewImage"]["n"] for i in range(4)] == [
        {"N": "2"},
        {"N": "0"},
        {"N": "0"},
        {"N": "1"},
    ]
    assert records[1]["kinesis"]["data"] == records[2]["kinesis"]["data"]
    sequence = [int(r["kinesis"]["sequenceNumber"]) for r in records]
    assert sequence == sorted(set(sequence))
    assert {r["kinesis"]["partitionKey"] for r in records} == {"pk-1"}
    # AND creation times are 1 ms apart in the order the changes were made
    assert [r.approximate_creation_time for r in parse(event)] == [
        T0 + timedelta(milliseconds=n) for n in (2, 0, 0, 1)
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"arrival": [0, 1]}, "arrival lists positions in changes, 0 to 0; got 1"),
        ({"arrival": [True]}, "arrival lists positions"),
        ({"created": []}, "created gives 0 time"),
        ({"created": [datetime(2026, 1, 1)]}, "timezone-aware"),
        ({"precision": "SECOND"}, "precision must be MILLISECOND or MICROSECOND"),
    ],
)
def test_the_builder_refuses_what_cannot_be(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        events.kinesis_dynamodb([{"new_image": {"id": "a"}}], **options)


# --- arrange: an item's changes in creation order, duplicates set aside --------------------------


def test_an_items_changes_are_sorted_in_the_places_its_records_held() -> None:
    # GIVEN a: 3 changes, b: 2 changes, delivered a2 b1 a0 b0 a1 (created a0 < a1 < a2, b0 < b1)
    changes = [
        {"new_image": {"id": key, "n": n}} for key, n in (("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1))
    ]
    records = parse(events.kinesis_dynamodb(changes, arrival=[2, 4, 0, 3, 1]))

    # WHEN arranged
    order, skipped = arrange(records)

    # THEN a's changes take a's places (#0, #2, #4) in creation order, b's take b's (#1, #3)
    assert order == [2, 3, 4, 1, 0]
    assert [(records[i].keys["id"], records[i].new_image["n"]) for i in order] == [  # type: ignore[index]
        ("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2)
    ]  # fmt: skip
    assert skipped == []


def test_equal_creation_times_keep_the_arrival_order() -> None:
    # GIVEN two different changes of one item made in the same millisecond, delivered in the other order
    changes = [{"new_image": {"id": "a", "n": 1}}, {"new_image": {"id": "a", "n": 2}}]
    records = parse(
        events.kinesis_dynamodb(changes, created=[T0, T0], precision="MILLISECOND", arrival=[1, 0])
    )

    # THEN neither moves (the stream gives nothing to tell them apart) and neither is a duplicate
    assert arrange(records) == ([0, 1], [])


def test_an_exact_duplicate_is_skipped_naming_the_copy_kept() -> None:
    # GIVEN a change delivered three times, the first copy arriving first
    records = parse(
        events.kinesis_dynamodb(
            [{"new_image": {"id": "a"}}, {"new_image": {"id": "b"}}], arrival=[0, 1, 0, 0]
        )
    )

    # WHEN arranged
    order, skipped = arrange(records)

    # THEN the earliest copy is kept, the others skipped with a note naming it
    assert order == [0, 1]
    note = (
        f"duplicate of Kinesis DynamoDB record #0 ({records[0].sequence_number}): the same DynamoDB change, "
        "delivered again"
    )
    assert skipped == [(2, note), (3, note)]


def test_a_change_is_a_duplicate_only_if_all_of_it_is_the_same() -> None:
    # GIVEN copies of one change that differ only in eventID, or only in an image
    event = events.kinesis_dynamodb([{"new_image": {"id": "a", "n": 1}}], arrival=[0, 0, 0])
    other_id = change_of(event, 1)
    other_id["eventID"] = "another-change"
    other_image = change_of(event, 2)
    other_image["dynamodb"]["NewImage"]["n"] = {"N": "2"}
    records = parse(with_change(with_change(event, 1, other_id), 2, other_image))

    # THEN none is skipped: skipping a change that is not the same would lose it
    assert arrange(records) == ([0, 1, 2], [])


def test_the_same_change_written_with_other_json_spacing_is_still_a_duplicate() -> None:
    # GIVEN a change delivered twice, the second copy's JSON indented and its keys in another order
    event = events.kinesis_dynamodb([{"new_image": {"id": "a"}}], arrival=[0, 0])
    again = change_of(event, 1)
    respaced = json.dumps(dict(reversed(list(again.items()))), indent=2).encode()
    records = parse(with_change(event, 1, respaced))
    assert records[0].data != records[1].data

    # THEN it is the same change: skipped
    order, skipped = arrange(records)
    assert order == [0]
    assert [index for index, _ in skipped] == [1]


def test_records_whose_key_or_time_cannot_be_read_stay_where_they_arrived() -> None:
    # GIVEN item a's changes around a record without a time, one without keys and one that is not a change
    event = events.kinesis_dynamodb(
        [{"new_image": {"id": "a", "n": n}} for n in range(5)], arrival=[4, 0, 1, 2, 3]
    )
    no_time = change_of(event, 1)
    del no_time["dynamodb"]["ApproximateCreationDateTime"]
    no_keys = change_of(event, 2)
    no_keys["dynamodb"]["Keys"] = {}
    event = with_change(with_change(with_change(event, 1, no_time), 2, no_keys), 3, b"not json")
    records = parse(event)

    # WHEN arranged
    order, skipped = arrange(records)

    # THEN those three keep their places and none is dropped; a's readable changes (#0 n=4, #4 n=3) swap
    assert order == [4, 1, 2, 3, 0]
    assert skipped == []


changes_strategy = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(min_value=0, max_value=4)), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    made=changes_strategy,
    data=st.data(),
    precision=st.sampled_from(["MICROSECOND", "MILLISECOND"]),
)
def test_arrange_plans_or_skips_every_record_once_and_orders_each_item(
    made: list[tuple[str, int]], data: st.DataObject, precision: str
) -> None:
    # GIVEN changes of a few items (times may tie), delivered in any order with any repeats
    count = len(made)
    created = [T0 + timedelta(milliseconds=tick) for _, tick in made]
    arrival = data.draw(
        st.lists(st.integers(min_value=0, max_value=count - 1), min_size=1, max_size=2 * count)
    )
    changes = [{"new_image": {"id": key, "n": n}} for n, (key, _) in enumerate(made)]
    records = parse(events.kinesis_dynamodb(changes, created=created, arrival=arrival, precision=precision))

    # WHEN arranged
    order, skipped = arrange(records)

    # THEN every record is planned or skipped, exactly once
    assert sorted(order + [i for i, _ in skipped]) == list(range(len(records)))
    # AND a skipped record is a later copy of a planned one
    planned_changes = {json.dumps(records[i]._change, sort_keys=True): i for i in order}
    for index, note in skipped:
        kept = planned_changes[json.dumps(records[index]._change, sort_keys=True)]
        assert kept < index
        assert note.startswith(f"duplicate of {records[kept].describe()}")
    # AND no change is planned twice, each item's changes go in creation order, ties in arrival order
    assert len({arrival[i] for i in order}) == len(order)
    for item in "abc":
        mine = [i for i in order if records[i].keys["id"] == item]
        assert mine == sorted(mine, key=lambda i: (records[i].approximate_creation_time, i))
    # AND other records keep their places: each item holds the places its planned records arrived in
    for item in "abc":
        places = [p for p, i in enumerate(order) if records[i].keys["id"] == item]
        assert places == [p for p, i in enumerate(sorted(order)) if records[i].keys["id"] == item]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    garbage=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)),
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=6,
    ),
    where=st.sampled_from(
        ["eventName", "eventID", "tableName", "userIdentity", "dynamodb", "dynamodb.Keys",
         "dynamodb.NewImage", "dynamodb.ApproximateCreationDateTime",
         "dynamodb.ApproximateCreationDateTimePrecision", "dynamodb.SizeBytes"]
    ),
)  # fmt: skip
def test_a_mangled_change_raises_only_record_errors_and_arrange_keeps_it(garbage: Any, where: str) -> None:
    # GIVEN a batch whose second change has one field replaced by arbitrary JSON
    event = events.kinesis_dynamodb([{"new_image": {"id": "a", "n": 1}}, {"new_image": {"id": "a", "n": 2}}])
    change = change_of(event, 1)
    *path, last = where.split(".")
    holder = change
    for step in path:
        holder = holder[step]
    holder[last] = garbage
    records = parse(with_change(event, 1, change))

    # WHEN every property is read and the batch arranged
    for name in dir(KinesisDynamoDBRecord):
        if name.startswith("_") or name in {"raw", "index", "source_title"}:
            continue
        try:
            member = getattr(records[1], name)
            if callable(member):
                member()
        except RecordError:
            pass
    order, skipped = arrange(records)

    # THEN only RecordError came out, and both records are still there
    assert sorted(order + [i for i, _ in skipped]) == [0, 1]


def test_arrange_leaves_records_of_other_sources_alone() -> None:
    # GIVEN views that are not this source's (arrange is only given its own, but must not fail on others)
    others: list[SourceRecord] = list(
        SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": {"id": "a"}}] * 2))
    )
    assert SOURCE.arrange is not None
    ordered, skipped = SOURCE.arrange(others)
    assert list(ordered) == others
    assert list(skipped) == []
