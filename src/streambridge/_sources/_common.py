"""Helpers shared by the source views: shape errors, batch checks, timestamps, JSON text."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar, overload

from streambridge._errors import EventShapeError, RecordError

if TYPE_CHECKING:
    from datetime import datetime

    from streambridge._sources._base import SourceRecord

_T = TypeVar("_T")

# Friendly names for the eventSource values Lambda puts on batch records.
_SOURCE_TITLES = {
    "aws:dynamodb": "DynamoDB Streams",
    "aws:kinesis": "Kinesis",
    "aws:sqs": "SQS",
    "aws:sns": "SNS",
    "aws:s3": "S3",
    "aws:kafka": "MSK",
    "aws:mq": "Amazon MQ",
}

# The identifying field of each kind of batch record, to name a record in messages.
_ID_FIELDS = ("eventID", "messageId", "EventSubscriptionArn")


def short(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters, for error messages that must stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pipe_batch(event: Any) -> TypeGuard[Sequence[Any]]:
    """True for the JSON array an EventBridge pipe invokes a Lambda target with (no ``Records`` wrapper).

    The one place the two shapes of a batch are told apart: a pipe sends an array even for one record
    (EventBridge user guide, "Amazon EventBridge Pipes batching and concurrency").
    """
    return isinstance(event, (list, tuple))


def describe_event(event: Any) -> str:  # noqa: PLR0911 - one return per kind of event
    """Guess what kind of Lambda event this is, for messages such as ``handler received <this>``."""
    if pipe_batch(event):
        return _describe_array(event)
    if not isinstance(event, Mapping):
        return f"a JSON {type(event).__name__} ({short(event, 60)})"
    records = event.get("Records")
    if isinstance(records, list):
        if not records:
            return "an event with an empty 'Records' list"
        first = records[0]
        if isinstance(first, Mapping):
            source = first.get("eventSource", first.get("EventSource"))
            if isinstance(source, str):
                return f"an {source} event ({_SOURCE_TITLES.get(source, source)})"
        return "an event whose 'Records' are of no known source"
    if "detail-type" in event and "source" in event:
        return (
            f"an EventBridge event (source {event.get('source')!r}, detail-type {event.get('detail-type')!r})"
        )
    if event.get("source") == "aws.cloudwatch" and "alarmData" in event:
        return "a CloudWatch alarm action event"
    keys = ", ".join(sorted(str(k) for k in event)[:8])
    return f"an event with keys [{keys}]" if keys else "an empty event"


def aws_service_event(event: Any) -> str | None:
    """Describe ``event`` when an AWS service produced it (batch, EventBridge, alarm); else None."""
    if pipe_batch(event):
        return describe_event(event) if _record_source(event[0] if event else None) is not None else None
    if not isinstance(event, Mapping):
        return None
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource", records[0].get("EventSource"))
        if isinstance(source, str) and source.startswith("aws:"):
            return describe_event(event)
    if ("detail-type" in event and "source" in event and "detail" in event) or (
        event.get("source") == "aws.cloudwatch" and "alarmData" in event
    ):
        return describe_event(event)
    return None


def _record_source(raw: Any) -> str | None:
    """The ``aws:...`` eventSource of a batch record; None for anything else."""
    if not isinstance(raw, Mapping):
        return None
    source = raw.get("eventSource", raw.get("EventSource"))
    return source if isinstance(source, str) and source.startswith("aws:") else None


def _describe_array(event: Sequence[Any]) -> str:
    if not event:
        return "an empty JSON array"
    source = _record_source(event[0])
    if source is None:
        return f"a JSON array of {len(event)} item{'' if len(event) == 1 else 's'} ({short(event, 60)})"
    count = f"{len(event)} {source} record" + ("" if len(event) == 1 else "s")
    return f"an EventBridge Pipes batch of {count} ({_SOURCE_TITLES.get(source, source)})"


def batch_records(event: Any, handler: str) -> Sequence[Any]:
    """The records of a batch: an event source mapping's ``Records`` list, or a pipe's JSON array.

    EventShapeError when the event is neither.
    """
    if pipe_batch(event):
        return event
    records = event.get("Records") if isinstance(event, Mapping) else None
    if isinstance(records, list):
        return records
    raise EventShapeError(
        f"{handler} handler received {describe_event(event)}, not a batch with a 'Records' list "
        "(nor an EventBridge Pipes array of records); check the function's trigger"
    )


def _record_name(raw: Any, index: int) -> str:
    if isinstance(raw, Mapping):
        for field in _ID_FIELDS:
            value = raw.get(field)
            if isinstance(value, str) and value:
                return f"record #{index}, {field} {value}"
    return f"record #{index}"


PIPE_HINT = "check the pipe's source, and that its enrichment and target input transformer keep the records"
"""The hint of a wrong record in a pipe's batch: an enrichment's output replaces the source's records."""


def wrong_source(
    handler: str, raw: Any, index: int, hint: str = "check the event source mapping"
) -> EventShapeError:
    """Build the error for a record that another kind of trigger delivered."""
    if not isinstance(raw, Mapping):
        return EventShapeError(
            f"{handler} handler received a record that is a JSON {type(raw).__name__}, not an object "
            f"(record #{index}); {hint}"
        )
    source = raw.get("eventSource", raw.get("EventSource"))
    what = f"an {source} record" if isinstance(source, str) else "a record without eventSource"
    return EventShapeError(f"{handler} handler received {what} ({_record_name(raw, index)}); {hint}")


def missing_identifier(handler: str, field: str, raw: Any, index: int) -> EventShapeError:
    """Build the error for a record that ``batchItemFailures`` could not name."""
    return EventShapeError(
        f"{handler} handler received a record without {field} ({_record_name(raw, index)}); "
        "a partial-batch answer needs it, so the whole batch fails"
    )


def epoch_time(value: Any, unit: str, record: SourceRecord, path: str) -> datetime:
    """UTC datetime from an epoch number or numeric text; ``unit`` is ``seconds`` or ``milliseconds``."""
    from datetime import datetime, timedelta, timezone

    number: float
    if isinstance(value, str):
        try:
            number = int(value) if value.isdigit() else float(value)
        except ValueError:
            raise RecordError(f"{record.describe()}: {path} {short(value)} is not a number") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif value is None:
        raise RecordError(f"{record.describe()}: {path} is missing")
    else:
        raise RecordError(f"{record.describe()}: {path} is {short(value)}, not an epoch number")
    try:
        # A timedelta from the epoch stays UTC and exact to the microsecond (no local-time detour).
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(**{unit: number})
    except (OverflowError, ValueError):
        raise RecordError(f"{record.describe()}: {path} {short(value)} is out of range") from None


# ISO 8601 as AWS writes it: "2019-10-02T17:04:40Z", "2023-08-04T12:36:15.490+0000" (alarms).
# Python 3.10's datetime.fromisoformat reads neither "Z" nor "+0000".
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d\d(?::?\d\d)?)?",
    re.ASCII,
)


def iso_time(value: Any, record: SourceRecord, path: str) -> datetime:
    """Timezone-aware datetime from the ISO 8601 variants AWS sends; no zone means UTC."""
    from datetime import datetime, timedelta, timezone

    match = _ISO.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        if value is None:
            raise RecordError(f"{record.describe()}: {path} is missing")
        raise RecordError(f"{record.describe()}: {path} {short(value)} is not an ISO 8601 timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone is None or zone in ("Z", "z"):
        tz = timezone.utc
    else:
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        tz = timezone(-offset if zone[0] == "-" else offset)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError as e:  # day 31 in April, hour 25, offset of 24h...
        raise RecordError(f"{record.describe()}: {path} {short(value)} is not a valid time ({e})") from None


def load_json(text: str | bytes, record: SourceRecord, what: str) -> Any:
    """``json.loads`` whose failure is a RecordError naming the record and the cause."""
    try:
        return parse_json(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RecordError(f"{record.describe()}: {what} is not valid JSON ({e})") from e


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` of strict JSON (no NaN or Infinity); ValueError or RecursionError when it is not."""
    if not isinstance(text, str):  # as json.loads reads bytes: UTF-8, -16 or -32, told by the first bytes
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return _DECODER.decode(text)


def _not_json(constant: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and AppSync could not take them either.
    raise ValueError(f"{constant} is not a JSON number")


# Built once: json.loads with an option builds a new decoder on every call (1.8 µs of a 3 µs small record).
_DECODER = json.JSONDecoder(parse_constant=_not_json)


def _wants_bool(kind: type | tuple[type, ...]) -> bool:
    # bool is an int subclass: a JSON true must not pass where a number is expected
    return kind is bool or (isinstance(kind, tuple) and bool in kind)


@overload
def field(raw: Any, key: str, kind: type[_T], record: SourceRecord, path: str) -> _T: ...
@overload
def field(raw: Any, key: str, kind: tuple[type, ...], record: SourceRecord, path: str) -> Any: ...
def field(raw: Any, key: str, kind: type | tuple[type, ...], record: SourceRecord, path: str) -> Any:
    """``raw[key]`` checked for type; otherwise a RecordError naming the record and ``path``."""
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if isinstance(value, kind) and (type(value) is not bool or _wants_bool(kind)):
        return value
    if value is None:
        raise RecordError(f"{record.describe()}: {path} is missing")
    names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
    raise RecordError(f"{record.describe()}: {path} is {short(value)}, expected {names}")


def optional_field(raw: Any, key: str, kind: type[_T], record: SourceRecord, path: str) -> _T | None:
    """Like ``field`` but None when the key is absent or null."""
    if not isinstance(raw, Mapping) or raw.get(key) is None:
        return None
    return field(raw, key, kind, record, path)


def arn_resource(arn: str, record: SourceRecord, path: str) -> str:
    """Return the resource part of an ARN (after the 5th colon): ``table/T/stream/...``, ``MyQueue``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[5]:
        raise RecordError(f"{record.describe()}: {path} {short(arn)} is not an ARN")
    return parts[5]


def sequence_version(text: str, record: SourceRecord, path: str) -> int:
    """A sequence number as the int the stale guard compares (``Bridge(stale_guard=...)``)."""
    if not (text.isascii() and text.isdigit()):
        raise RecordError(f"{record.describe()}: {path} {short(text)} is not a sequence number")
    return int(text)


def time_version(moment: datetime) -> int:
    """A timezone-aware time as the stale guard's version: microseconds since the epoch, exactly."""
    from datetime import datetime, timedelta, timezone

    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
