"""Kinesis Data Streams records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from streambridge._errors import RecordError
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import (
    PIPE_HINT,
    batch_records,
    epoch_time,
    field,
    load_json,
    missing_identifier,
    pipe_batch,
    sequence_version,
    short,
    wrong_source,
)

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SOURCE", "KinesisRecord", "parse", "shard_of"]

_EVENT_SOURCE = "aws:kinesis"
_UNSET: Any = object()


class KinesisRecord(SourceRecord):
    """One record of a Kinesis data stream shard; ``data`` is decoded from base64 on first access.

    Reads both shapes: an event source mapping's record, whose stream fields sit in a ``kinesis`` object,
    and an EventBridge pipe's, which has them at the top level (EventBridge user guide, "Amazon Kinesis
    stream as a source"). ``pipe=True`` says the record came in a pipe's batch; a flat record always did.
    """

    source_title: ClassVar[str] = "Kinesis"

    def __init__(self, raw: Mapping[str, Any], index: int, *, pipe: bool = False) -> None:
        super().__init__(raw, index)
        nested = raw.get("kinesis")
        if nested is None and (pipe or "sequenceNumber" in raw):  # a pipe's flat record
            self._kinesis: Mapping[str, Any] = raw
            self._prefix = ""
            pipe = True
        else:
            self._kinesis = nested if isinstance(nested, Mapping) else {}
            self._prefix = "kinesis."
        sequence = self._kinesis.get("sequenceNumber")
        if not isinstance(sequence, str) or not sequence:
            raise missing_identifier("kinesis", f"{self._prefix}sequenceNumber", raw, index)
        self._sequence_number = sequence
        self._identifier = sequence
        if pipe:
            # A pipe names a Kinesis record in batchItemFailures by its eventID (EventBridge user guide,
            # "Amazon EventBridge Pipes batching and concurrency", partial batch failure).
            event_id = raw.get("eventID")
            if not isinstance(event_id, str) or not event_id:
                raise missing_identifier("kinesis", "eventID", raw, index)
            self._identifier = event_id
        self._json: Any = _UNSET

    @property
    def item_identifier(self) -> str:
        """What ``batchItemFailures`` names the record by: its sequence number; in a pipe, its eventID."""
        return self._identifier

    @property
    def default_partition_key(self) -> str:
        """The producer's partition key: records of one key stay in order."""
        return self.partition_key

    @property
    def sequence_number(self) -> str:
        """The record's sequence number within its shard (``kinesis.sequenceNumber``; flat in a pipe)."""
        return self._sequence_number

    def _change_version(self) -> int:
        """The sequence number: those of a partition key grow over time (docs/semantics.md, stale guard)."""
        return sequence_version(self._sequence_number, self, f"{self._prefix}sequenceNumber")

    @property
    def partition_key(self) -> str:
        """The partition key the producer gave (``kinesis.partitionKey``)."""
        return field(self._kinesis, "partitionKey", str, self, f"{self._prefix}partitionKey")

    @cached
    def data(self) -> bytes:
        """The record's payload, base64-decoded."""
        import base64
        import binascii

        text = field(self._kinesis, "data", str, self, f"{self._prefix}data")
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as e:
            raise RecordError(f"{self.describe()}: {self._prefix}data is not valid base64 ({e})") from e

    def text(self) -> str:
        """Decode the payload as UTF-8 text."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError(f"{self.describe()}: {self._prefix}data is not UTF-8 text ({e})") from e

    def json(self) -> Any:
        """Parse the payload as JSON (once: treat the result as read-only)."""
        if self._json is _UNSET:
            self._json = load_json(self.data, self, f"{self._prefix}data")
        return self._json

    @property
    def event_id(self) -> str:
        """``shardId-<n>:<sequence number>`` (``eventID``)."""
        return field(self._raw, "eventID", str, self, "eventID")

    @cached
    def shard_id(self) -> str:
        """The shard the record came from, e.g. ``shardId-000000000006`` (from ``eventID``)."""
        return shard_of(self.event_id, self)

    @cached
    def approximate_arrival_time(self) -> datetime:
        """When the stream accepted the record, in UTC (``kinesis.approximateArrivalTimestamp``)."""
        value = self._kinesis.get("approximateArrivalTimestamp")
        return epoch_time(value, "seconds", self, f"{self._prefix}approximateArrivalTimestamp")

    @property
    def event_source_arn(self) -> str:
        """The ARN of the stream (``eventSourceARN``)."""
        return field(self._raw, "eventSourceARN", str, self, "eventSourceARN")


def shard_of(event_id: str, record: SourceRecord) -> str:
    """The shard a Kinesis ``eventID`` (``shardId-<n>:<sequence number>``) names."""
    shard, colon, _ = event_id.partition(":")
    if not colon or not shard.startswith("shardId-"):
        raise RecordError(f"{record.describe()}: eventID {short(event_id)} names no shard")
    return shard


def parse(event: Mapping[str, Any] | Sequence[Any]) -> list[KinesisRecord]:
    """Build the record views of a Kinesis batch (a mapping's or a pipe's); nothing is decoded yet."""
    records = batch_records(event, "kinesis")
    pipe = pipe_batch(event)
    hint = PIPE_HINT if pipe else "check the event source mapping"
    views = []
    for index, raw in enumerate(records):
        if not isinstance(raw, dict) or raw.get("eventSource") != _EVENT_SOURCE:
            raise wrong_source("kinesis", raw, index, hint)
        views.append(KinesisRecord(raw, index, pipe=pipe))
    return views


SOURCE = Source(name="kinesis", title="Kinesis Data Streams", batch=True, parse=parse)
