"""Kinesis Data Streams for DynamoDB: Kinesis records whose data is a JSON DynamoDB change.

A table streaming to a Kinesis data stream writes one Kinesis record per item change; its data is the
change as JSON (``eventName``, ``eventID``, ``tableName``, ``recordFormat``, ``userIdentity``, and a
``dynamodb`` object with ``Keys``, ``NewImage``, ``OldImage``, ``SizeBytes`` and
``ApproximateCreationDateTime``). Unlike DynamoDB Streams, "the Kinesis data stream records might appear in
a different sequence than the item changes occurred" and "the same item notifications might also appear
more than once"; ``ApproximateCreationDateTime`` tells the order and the duplicates (DynamoDB developer
guide, "Using Kinesis Data Streams to capture changes to DynamoDB"). So within a batch, ``arrange`` puts
each item's changes in creation order and drops exact duplicates before anything is planned.

This module loads on the first event of this source, not at ``import streambridge``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from streambridge._errors import EventShapeError, RecordError
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import (
    PIPE_HINT,
    batch_records,
    field,
    pipe_batch,
    short,
    wrong_source,
)
from streambridge._sources.dynamodb import DynamoDBChange
from streambridge._sources.kinesis import KinesisRecord, shard_of

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["KinesisDynamoDBRecord", "arrange", "parse"]

HANDLER = "kinesis_dynamodb"
_KINESIS = "aws:kinesis"
_CREATED = "dynamodb.ApproximateCreationDateTime"
_PRECISION = "dynamodb.ApproximateCreationDateTimePrecision"

Precision = Literal["MILLISECOND", "MICROSECOND"]

MICROSECONDS_FROM: int = 10**14
"""An ``ApproximateCreationDateTime`` without its precision is microseconds from here up, else milliseconds.

10**14 microseconds is 1973-03-03; 10**14 milliseconds is the year 5138: every time from 1973 to 5138 is
read right either way.
"""
# datetime's range (years 1 to 9999) in microseconds since the epoch
_MIN_MICROS = -62_135_596_800_000_000
_MAX_MICROS = 253_402_300_799_999_999


class KinesisDynamoDBRecord(DynamoDBChange, KinesisRecord):
    """One DynamoDB item change delivered by Kinesis Data Streams for DynamoDB.

    The DynamoDB view (``event_name``, ``keys``, ``new_image``, ``old_image``, ``event_id``,
    ``approximate_creation_time``, ``table_name``, ``size_bytes``, ``expired_by_ttl``) reads the Kinesis
    record's JSON data, decoded once on first access; the Kinesis view (``sequence_number``, the
    ``batchItemFailures`` identifier; ``partition_key``, ``shard_id``, ``approximate_arrival_time``,
    ``data``, ``json()``) reads the Kinesis record. The default ordering key is the item's key, as for
    DynamoDB Streams: the Kinesis partition key DynamoDB chooses is not the item's key.
    """

    source_title: ClassVar[str] = "Kinesis DynamoDB"

    @cached
    def _change(self) -> Mapping[str, Any]:
        """The DynamoDB change: the data as a JSON object with a ``dynamodb`` object holding ``Keys``."""
        change = self.json()
        stream = change.get("dynamodb") if isinstance(change, dict) else None
        if not isinstance(stream, dict) or "Keys" not in stream:
            what = "a JSON object without dynamodb.Keys" if isinstance(change, dict) else "not a JSON object"
            raise RecordError(f"{self.describe()}: the record's data is {what}: not a DynamoDB change")
        checked: Mapping[str, Any] = change
        return checked

    @cached
    def _stream(self) -> Mapping[str, Any]:
        stream: Mapping[str, Any] = self._change["dynamodb"]
        return stream

    @property
    def kinesis_event_id(self) -> str:
        """The Kinesis record's own ``eventID``, ``shardId-<n>:<sequence number>``.

        ``event_id`` is the DynamoDB change's, as for DynamoDB Streams.
        """
        kinesis_id: str = KinesisRecord.event_id.__get__(self)
        return kinesis_id

    @cached
    def shard_id(self) -> str:
        """The shard the record came from, e.g. ``shardId-000000000006`` (from the Kinesis ``eventID``)."""
        return shard_of(self.kinesis_event_id, self)

    @property
    def table_name(self) -> str:
        """The table the change is of (``tableName``)."""
        return field(self._change, "tableName", str, self, "tableName")

    @property
    def record_format(self) -> str:
        """How DynamoDB wrote the data (``recordFormat``): ``application/json``."""
        return field(self._change, "recordFormat", str, self, "recordFormat")

    @property
    def creation_time_precision(self) -> Precision:
        """``MICROSECOND`` or ``MILLISECOND``: the unit of ``ApproximateCreationDateTime``.

        The record says it in ``dynamodb.ApproximateCreationDateTimePrecision`` when it has that field (the
        table's setting, microseconds by default); without it, a number of 10**14 or more is microseconds
        and a smaller one milliseconds (see ``MICROSECONDS_FROM``).
        """
        stated = self._stream.get("ApproximateCreationDateTimePrecision")
        if stated is None:
            return "MICROSECOND" if self._created_number >= MICROSECONDS_FROM else "MILLISECOND"
        if stated not in ("MILLISECOND", "MICROSECOND"):
            raise RecordError(
                f"{self.describe()}: {_PRECISION} is {short(stated)}, expected MILLISECOND or MICROSECOND"
            )
        return stated  # type: ignore[no-any-return]  # one of the two, checked above

    @cached
    def approximate_creation_time(self) -> datetime:
        """When the change was made, in UTC, exact to the microsecond (``ApproximateCreationDateTime``)."""
        from datetime import datetime, timedelta, timezone

        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=self._created_micros)

    @cached
    def _created_number(self) -> int:
        value = self._stream.get("ApproximateCreationDateTime")
        if type(value) is int:
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit():  # a hand-written event
            return int(value)
        if value is None:
            raise RecordError(f"{self.describe()}: {_CREATED} is missing")
        raise RecordError(f"{self.describe()}: {_CREATED} is {short(value)}, expected a whole number")

    @cached
    def _created_micros(self) -> int:
        """``ApproximateCreationDateTime`` in microseconds since the epoch: what ``arrange`` sorts by."""
        number = self._created_number
        micros = number if self.creation_time_precision == "MICROSECOND" else number * 1000
        if not _MIN_MICROS <= micros <= _MAX_MICROS:
            raise RecordError(f"{self.describe()}: {_CREATED} {number} is out of range")
        return micros

    def _change_version(self) -> int:
        """The creation time in microseconds: the Kinesis sequence number follows the stream, not the item."""
        return self._created_micros

    def is_change(self) -> bool:
        """True when the data is a DynamoDB change (JSON with ``dynamodb.Keys``)."""
        try:
            self._change  # noqa: B018 - decoded and checked on first access
        except RecordError:
            return False
        return True


def parse(event: Any) -> list[KinesisDynamoDBRecord]:
    """Build the record views of a batch (an event source mapping's or a pipe's).

    EventShapeError when the event is of another source: DynamoDB Streams records, or Kinesis records none
    of whose data is a DynamoDB change. One record whose data is not a change fails alone (RecordError).
    """
    records = batch_records(event, HANDLER)
    pipe = pipe_batch(event)
    views = []
    for index, raw in enumerate(records):
        if not isinstance(raw, dict) or raw.get("eventSource") != _KINESIS:
            raise _wrong_source(raw, index, pipe)
        views.append(KinesisDynamoDBRecord(raw, index, pipe=pipe))
    if views and not any(view.is_change() for view in views):
        try:
            views[0]._change  # noqa: B018 - raises: none is a change
        except RecordError as error:
            cause = str(error).removeprefix(f"{views[0].describe()}: ")
        raise EventShapeError(
            f"{HANDLER} handler received {len(views)} Kinesis record{'s' if len(views) > 1 else ''} and "
            f"none is a DynamoDB change (record #0: {cause}); for a stream your own producers write to, "
            "use @bridge.kinesis"
        )
    return views


def _wrong_source(raw: Any, index: int, pipe: bool) -> EventShapeError:
    if isinstance(raw, Mapping) and raw.get("eventSource") == "aws:dynamodb":
        return wrong_source(
            HANDLER,
            raw,
            index,
            "that is a DynamoDB Streams event: decorate the function with @bridge.dynamodb, or trigger it "
            "with the Kinesis data stream the table streams to",
        )
    return wrong_source(HANDLER, raw, index, PIPE_HINT if pipe else "check the event source mapping")


def arrange(
    records: Sequence[SourceRecord],
) -> tuple[list[SourceRecord], list[tuple[SourceRecord, str]]]:
    """Each item's changes in creation order, exact duplicates set aside: ``(to plan, to skip with a note)``.

    An item's changes are sorted by ``ApproximateCreationDateTime`` (equal times keep arrival order) into
    the places the item's records held, so the other records do not move. A record whose change equals an
    earlier one's (same item, same time, same data: the same change delivered again) is skipped, naming
    the copy kept. A record whose key or creation time cannot be read stays where it arrived.

    Why this never loses a record, nor skips one wrongly, under Lambda's partial-batch answer. Lambda
    "uses the record with the lowest sequence number as the checkpoint" and "retries all records starting
    from that checkpoint" (Lambda developer guide, "Configuring partial batch response with Kinesis Data
    Streams and Lambda"), and a batch holds a shard's records in sequence order (Kinesis API reference,
    GetRecords). Every record the planner does not publish or skip is reported failed, whatever the order
    it was planned in. A later-created change planned after an earlier-created one that fails is held back
    and reported too, so both come again, from the lower of their sequence numbers, even when the later-
    created one arrived first. A skipped duplicate arrived after the copy kept: whenever that copy is
    reported failed, the retry starts at or before the duplicate, which comes again with it.
    """
    ordered: list[SourceRecord] = []
    skipped: list[tuple[SourceRecord, str]] = []
    kept: dict[tuple[str, int], list[KinesisDynamoDBRecord]] = {}  # (item, time) -> its changes kept
    placed: dict[str, list[tuple[int, KinesisDynamoDBRecord]]] = {}  # item -> (place in ordered, change)
    for record in records:
        change = _readable(record)
        if change is None:
            ordered.append(record)
            continue
        item = change.default_partition_key
        copies = kept.setdefault((item, change._created_micros), [])
        first = next((copy for copy in copies if copy._change == change._change), None)
        if first is not None:
            note = f"duplicate of {first.describe()}: the same DynamoDB change, delivered again"
            skipped.append((change, note))
            continue
        copies.append(change)
        placed.setdefault(item, []).append((len(ordered), change))
        ordered.append(change)
    for entries in placed.values():
        if len(entries) > 1:
            by_time = sorted((change for _, change in entries), key=_created)  # stable: ties keep arrival
            for (place, _), change in zip(entries, by_time, strict=True):
                ordered[place] = change
    return ordered, skipped


def _readable(record: SourceRecord) -> KinesisDynamoDBRecord | None:
    """The record as a change whose item key and creation time read; None for any other."""
    if not isinstance(record, KinesisDynamoDBRecord):
        return None
    try:
        record.default_partition_key  # noqa: B018 - read (and cached) here, or the record stays put
        record._created_micros  # noqa: B018
    except RecordError:
        return None
    return record


def _created(change: KinesisDynamoDBRecord) -> int:
    return change._created_micros


SOURCE = Source(
    name="kinesis_dynamodb",
    title="Kinesis Data Streams for DynamoDB",
    batch=True,
    parse=parse,
    arrange=arrange,
)
