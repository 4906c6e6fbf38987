"""DynamoDB Streams records."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from streambridge._errors import RecordError
from streambridge._sources._attributes import deserialize_map
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import (
    PIPE_HINT,
    arn_resource,
    batch_records,
    epoch_time,
    field,
    missing_identifier,
    pipe_batch,
    sequence_version,
    short,
    wrong_source,
)

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SOURCE", "DynamoDBChange", "DynamoDBRecord", "parse"]

_EVENT_SOURCE = "aws:dynamodb"
# Built once: json.dumps(..., sort_keys=True) would build a new encoder on every call.
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_quote = json.encoder.encode_basestring  # how that encoder writes a string (ensure_ascii=False)


class DynamoDBChange(SourceRecord):
    """What every view of a DynamoDB change shares, wherever the change came from.

    DynamoDB Streams delivers the change as the Lambda record itself; Kinesis Data Streams for DynamoDB as
    the JSON data of a Kinesis record. Either way ``_change`` holds ``eventName``, ``eventID`` and
    ``userIdentity``, and ``_stream`` its ``dynamodb`` object (``Keys``, ``NewImage``, ``OldImage``...).
    """

    if TYPE_CHECKING:  # an attribute of DynamoDBRecord, a lazily decoded property of the Kinesis view

        @property
        def _change(self) -> Mapping[str, Any]: ...

        @property
        def _stream(self) -> Mapping[str, Any]: ...

    @cached
    def default_partition_key(self) -> str:
        """The item's key attributes as canonical JSON text: changes to one item stay in order."""
        keys = self._stream.get("Keys")
        if not isinstance(keys, Mapping) or not keys:
            raise RecordError(f"{self.describe()}: dynamodb.Keys is {short(keys)}, expected the item's key")
        text = _key_text(keys)
        if text is not None:
            return text
        try:
            return _KEY_ENCODER.encode(keys)
        except (TypeError, ValueError) as e:  # only a hand-built event can hold non-JSON values here
            raise RecordError(f"{self.describe()}: dynamodb.Keys cannot be written as JSON ({e})") from e

    @property
    def event_name(self) -> str:
        """``INSERT``, ``MODIFY`` or ``REMOVE``."""
        return field(self._change, "eventName", str, self, "eventName")

    @property
    def event_id(self) -> str:
        """The unique id of this change (``eventID``)."""
        return field(self._change, "eventID", str, self, "eventID")

    @cached
    def keys(self) -> dict[str, Any]:
        """The item's key attributes as plain Python values."""
        if self._stream.get("Keys") is None:
            raise RecordError(f"{self.describe()}: dynamodb.Keys is missing")
        return deserialize_map(self._stream["Keys"], "Keys", self.describe)

    @cached
    def new_image(self) -> dict[str, Any] | None:
        """The item after the change; None for ``REMOVE`` or when the stream view type omits it."""
        image = self._stream.get("NewImage")
        return None if image is None else deserialize_map(image, "NewImage", self.describe)

    @cached
    def old_image(self) -> dict[str, Any] | None:
        """The item before the change; None for ``INSERT`` or when the stream view type omits it."""
        image = self._stream.get("OldImage")
        return None if image is None else deserialize_map(image, "OldImage", self.describe)

    @property
    def size_bytes(self) -> int:
        """The size of the change record in bytes (``dynamodb.SizeBytes``)."""
        return field(self._stream, "SizeBytes", int, self, "dynamodb.SizeBytes")

    @property
    def expired_by_ttl(self) -> bool:
        """True for a ``REMOVE`` made by DynamoDB's Time to Live, not by an application."""
        identity = self._change.get("userIdentity")
        return (
            isinstance(identity, Mapping)
            and identity.get("type") == "Service"
            and identity.get("principalId") == "dynamodb.amazonaws.com"
        )


class DynamoDBRecord(DynamoDBChange):
    """One change from a DynamoDB stream: an ``INSERT``, ``MODIFY`` or ``REMOVE`` of one item.

    Attribute values come out as plain, JSON-safe Python: numbers are ``int`` or ``float``, sets are
    sorted lists and binary values stay base64 text. Decoding happens on first access and is cached.
    """

    source_title: ClassVar[str] = "DynamoDB Streams"
    _change: Mapping[str, Any]
    _stream: Mapping[str, Any]

    def __init__(self, raw: Mapping[str, Any], index: int, *, pipe: bool = False) -> None:
        super().__init__(raw, index)
        stream = raw.get("dynamodb")
        sequence = stream.get("SequenceNumber") if isinstance(stream, Mapping) else None
        if not isinstance(sequence, str) or not sequence:
            raise missing_identifier("dynamodb", "dynamodb.SequenceNumber", raw, index)
        self._change = raw
        self._stream = stream  # type: ignore[assignment]  # a Mapping, checked above
        self._sequence_number = sequence
        self._identifier = sequence
        if pipe:
            # A pipe's record has the same shape, but a pipe names it in batchItemFailures by its eventID
            # (EventBridge user guide, "Amazon EventBridge Pipes batching and concurrency").
            event_id = raw.get("eventID")
            if not isinstance(event_id, str) or not event_id:
                raise missing_identifier("dynamodb", "eventID", raw, index)
            self._identifier = event_id

    @property
    def item_identifier(self) -> str:
        """What ``batchItemFailures`` names the record by: the sequence number; in a pipe, the eventID."""
        return self._identifier

    @property
    def sequence_number(self) -> str:
        """The stream sequence number (``dynamodb.SequenceNumber``)."""
        return self._sequence_number

    def _change_version(self) -> int:
        """The sequence number: an item's changes come in its order (docs/semantics.md, stale guard)."""
        return sequence_version(self._sequence_number, self, "dynamodb.SequenceNumber")

    @cached
    def approximate_creation_time(self) -> datetime:
        """When the change was made, in UTC (``ApproximateCreationDateTime``, epoch seconds)."""
        value = self._stream.get("ApproximateCreationDateTime")
        return epoch_time(value, "seconds", self, "dynamodb.ApproximateCreationDateTime")

    @property
    def stream_view_type(self) -> str:
        """``KEYS_ONLY``, ``NEW_IMAGE``, ``OLD_IMAGE`` or ``NEW_AND_OLD_IMAGES``."""
        return field(self._stream, "StreamViewType", str, self, "dynamodb.StreamViewType")

    @property
    def event_source_arn(self) -> str:
        """The ARN of the stream (``eventSourceARN``)."""
        return field(self._raw, "eventSourceARN", str, self, "eventSourceARN")

    @cached
    def table_name(self) -> str:
        """The table's name, read from the stream ARN (``...:table/<name>/stream/<label>``)."""
        resource = arn_resource(self.event_source_arn, self, "eventSourceARN")
        kind, _, rest = resource.partition("/")
        name = rest.partition("/")[0]
        if kind != "table" or not name:
            raise RecordError(
                f"{self.describe()}: eventSourceARN {short(self.event_source_arn)} names no table"
            )
        return name


def _key_text(keys: Mapping[str, Any]) -> str | None:
    """The canonical key text of the usual keys, written directly (the hot path of every record).

    Equal to ``_KEY_ENCODER.encode(keys)`` when the attribute names are strings and each value is one type
    tag of a string; None for anything else, which the encoder then handles.
    """
    names = list(keys)
    for name in names:
        if type(name) is not str:
            return None
    names.sort()
    parts = []
    for name in names:
        value = keys[name]
        if type(value) is not dict or len(value) != 1:
            return None
        ((tag, inner),) = value.items()
        if type(tag) is not str or type(inner) is not str:
            return None
        parts.append(f"{_quote(name)}:{{{_quote(tag)}:{_quote(inner)}}}")
    return "{" + ",".join(parts) + "}"


def parse(event: Mapping[str, Any] | Sequence[Any]) -> list[DynamoDBRecord]:
    """Build the record views of a DynamoDB Streams batch (a mapping's or a pipe's); nothing decoded yet."""
    records = batch_records(event, "dynamodb")
    pipe = pipe_batch(event)
    hint = PIPE_HINT if pipe else "check the event source mapping"
    views = []
    for index, raw in enumerate(records):
        if not isinstance(raw, dict) or raw.get("eventSource") != _EVENT_SOURCE:
            raise wrong_source("dynamodb", raw, index, hint)
        views.append(DynamoDBRecord(raw, index, pipe=pipe))
    return views


SOURCE = Source(name="dynamodb", title="DynamoDB Streams", batch=True, parse=parse)
