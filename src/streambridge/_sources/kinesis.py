"""Kinesis Data Streams records."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from streambridge._errors import RecordError
from streambridge._sources._base import Source, SourceRecord
from streambridge._sources._common import (
    batch_records,
    epoch_time,
    field,
    load_json,
    missing_identifier,
    short,
    wrong_source,
)

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SOURCE", "KinesisRecord", "parse"]

_EVENT_SOURCE = "aws:kinesis"
_UNSET: Any = object()


class KinesisRecord(SourceRecord):
    """One record of a Kinesis data stream shard; ``data`` is decoded from base64 on first access."""

    source_title: ClassVar[str] = "Kinesis"

    def __init__(self, raw: Mapping[str, Any], index: int) -> None:
        super().__init__(raw, index)
        kinesis = raw.get("kinesis")
        sequence = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
        if not isinstance(sequence, str) or not sequence:
            raise missing_identifier("kinesis", "kinesis.sequenceNumber", raw, index)
        self._kinesis: Mapping[str, Any] = kinesis  # type: ignore[assignment]  # a Mapping, checked above
        self._sequence_number = sequence
        self._json: Any = _UNSET

    @property
    def item_identifier(self) -> str:
        """The record's sequence number, as Lambda expects it in ``batchItemFailures``."""
        return self._sequence_number

    @property
    def default_partition_key(self) -> str:
        """The producer's partition key: records of one key stay in order."""
        return self.partition_key

    @property
    def sequence_number(self) -> str:
        """The record's sequence number within its shard (``kinesis.sequenceNumber``)."""
        return self._sequence_number

    @property
    def partition_key(self) -> str:
        """The partition key the producer gave (``kinesis.partitionKey``)."""
        return field(self._kinesis, "partitionKey", str, self, "kinesis.partitionKey")

    @cached_property
    def data(self) -> bytes:
        """The record's payload, base64-decoded."""
        import base64
        import binascii

        text = field(self._kinesis, "data", str, self, "kinesis.data")
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as e:
            raise RecordError(f"{self.describe()}: kinesis.data is not valid base64 ({e})") from e

    def text(self) -> str:
        """Decode the payload as UTF-8 text."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError(f"{self.describe()}: kinesis.data is not UTF-8 text ({e})") from e

    def json(self) -> Any:
        """Parse the payload as JSON (once: treat the result as read-only)."""
        if self._json is _UNSET:
            self._json = load_json(self.data, self, "kinesis.data")
        return self._json

    @property
    def event_id(self) -> str:
        """``shardId-<n>:<sequence number>`` (``eventID``)."""
        return field(self._raw, "eventID", str, self, "eventID")

    @cached_property
    def shard_id(self) -> str:
        """The shard the record came from, e.g. ``shardId-000000000006`` (from ``eventID``)."""
        shard, colon, _ = self.event_id.partition(":")
        if not colon or not shard.startswith("shardId-"):
            raise RecordError(f"{self.describe()}: eventID {short(self.event_id)} names no shard")
        return shard

    @cached_property
    def approximate_arrival_time(self) -> datetime:
        """When the stream accepted the record, in UTC (``kinesis.approximateArrivalTimestamp``)."""
        value = self._kinesis.get("approximateArrivalTimestamp")
        return epoch_time(value, "seconds", self, "kinesis.approximateArrivalTimestamp")

    @property
    def event_source_arn(self) -> str:
        """The ARN of the stream (``eventSourceARN``)."""
        return field(self._raw, "eventSourceARN", str, self, "eventSourceARN")


def parse(event: Mapping[str, Any]) -> list[KinesisRecord]:
    """Build the record views of a Kinesis batch; nothing is decoded yet."""
    records = batch_records(event, "kinesis")
    views = []
    for index, raw in enumerate(records):
        if not isinstance(raw, dict) or raw.get("eventSource") != _EVENT_SOURCE:
            raise wrong_source("kinesis", raw, index)
        views.append(KinesisRecord(raw, index))
    return views


SOURCE = Source(name="kinesis", title="Kinesis Data Streams", batch=True, parse=parse)
