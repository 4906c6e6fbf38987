"""Fake Lambda events, shaped exactly like the ones AWS sends, for unit tests.

Every builder is a pure function that returns a plain, JSON-safe ``dict`` (or list / scalar for Aurora)
with the same keys, nesting and JSON types as the real event, so a handler can be called with it as
Lambda would call it. Outputs are deterministic: ids and hashes derive from the inputs (and a ``seed``
where it matters), times default to 2026-01-01T00:00:00Z, and sequence numbers strictly increase within
one call, compared both as numbers and as strings (they are fixed-width).

Shapes were checked against AWS's own sample events (the ``aws-sam-cli`` wheel's generated sample
events) and the documentation pages named in each builder.

Builders: :func:`dynamodb`, :func:`kinesis`, :func:`sqs`, :func:`aurora`, :func:`cloudwatch_alarm`,
:func:`eventbridge`, :func:`pipe` (a batch as an EventBridge pipe delivers it), and :func:`lambda_context`
for the context argument.

>>> from streambridge.testing.events import dynamodb, lambda_context
>>> event = dynamodb([{"new_image": {"id": "o-1", "total": 12.5}}])
>>> event["Records"][0]["dynamodb"]["NewImage"]
{'id': {'S': 'o-1'}, 'total': {'N': '12.5'}}
>>> lambda_context(timeout_ms=3_000).get_remaining_time_in_millis() <= 3_000
True
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from time import monotonic
from typing import Any, Final, Literal, cast

__all__ = [
    "ACCOUNT",
    "REGION",
    "Change",
    "FakeLambdaContext",
    "KinesisInput",
    "SQSInput",
    "aurora",
    "cloudwatch_alarm",
    "dynamodb",
    "eventbridge",
    "http",
    "kinesis",
    "lambda_context",
    "pipe",
    "sqs",
]

ACCOUNT: Final = "123456789012"
"""The AWS account id every builder uses unless told otherwise."""
REGION: Final = "us-east-1"
"""The region every builder uses unless told otherwise."""

StreamViewType = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
EventName = Literal["INSERT", "MODIFY", "REMOVE"]
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

_EPOCH: Final = datetime(2026, 1, 1, tzinfo=timezone.utc)
_EPOCH_SECONDS: Final = 1_767_225_600  # _EPOCH as a Unix time
_STREAM_LABEL: Final = "2026-01-01T00:00:00.000"

# Sequence numbers are fixed-width so that they increase as strings too. DynamoDB Streams documents
# 21 to 40 digits (these have 21); Kinesis shard sequence numbers have 56 digits in practice; FIFO SQS
# sequence numbers 20.
_DYNAMODB_SEQUENCE_BASE: Final = 4 * 10**20
_DYNAMODB_SEQUENCE_LIMIT: Final = 10**21
_KINESIS_SEQUENCE_BASE: Final = 49545115243490985018280067714973144582180062593244200000
_KINESIS_SEQUENCE_LIMIT: Final = 10**56
_SQS_SEQUENCE_BASE: Final = 18849496460467696128

_EVENT_NAMES: Final = ("INSERT", "MODIFY", "REMOVE")
_VIEW_TYPES: Final = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
_ALARM_STATES: Final = ("OK", "ALARM", "INSUFFICIENT_DATA")
_CHANGE_FIELDS: Final = frozenset({"event_name", "keys", "new_image", "old_image", "ttl"})
_KINESIS_INPUT_FIELDS: Final = frozenset({"data", "partition_key"})
_SNS_SUBJECT_LIMIT: Final = 100

# The display names CloudWatch writes in the "Region" field of SNS alarm notifications.
_REGION_NAMES: Final = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


# --------------------------------------------------------------------------------------------------
# Small deterministic helpers


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.md5(text.encode(), usedforsecurity=False).digest()


def _fake_uuid(*parts: object) -> str:
    """Derive a version-4-shaped UUID from ``parts``: it looks random and is reproducible."""
    return str(uuid.UUID(bytes=_digest(*parts), version=4))


def _json_text(value: Any) -> str:
    """Compact JSON text, as most producers write it; NaN and infinities are refused like in JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _json_copy(value: Any, what: str) -> Any:
    """Copy ``value`` deeply into JSON types only (tuples become lists); TypeError if it is not JSON."""
    try:
        return json.loads(_json_text(value))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serializable: {e}") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _iso_millis(moment: datetime, zone: str) -> str:
    """``2026-01-01T00:00:00.000`` plus ``zone`` (``Z`` or ``+0000``), in UTC."""
    utc = _as_utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}{zone}"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"time must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(timezone.utc)


def _check_sequence_start(start: int, count: int, base: int, limit: int, what: str) -> None:
    if start < 0 or base + start + count > limit:
        raise ValueError(f"{what} start_sequence {start} is out of range for {count} record(s)")


# --------------------------------------------------------------------------------------------------
# DynamoDB Streams


@dataclass(frozen=True, kw_only=True)
class Change:
    """One item change for :func:`dynamodb`, with plain Python values.

    ``event_name`` defaults from the images: ``INSERT`` without an old image, ``MODIFY`` with both,
    ``REMOVE`` without a new image. ``keys`` defaults to the ``key_names`` attributes of the new image
    (else the old one). ``ttl=True`` marks a ``REMOVE`` done by DynamoDB's Time to Live: the record then
    carries ``userIdentity`` ``{"type": "Service", "principalId": "dynamodb.amazonaws.com"}``.

    >>> Change.modify({"id": "o-1", "status": "NEW"}, {"id": "o-1", "status": "PAID"}).event_name
    'MODIFY'
    """

    new_image: Mapping[str, Any] | None = None
    old_image: Mapping[str, Any] | None = None
    event_name: EventName | None = None
    keys: Mapping[str, Any] | None = None
    ttl: bool = False

    @classmethod
    def insert(cls, new_image: Mapping[str, Any], *, keys: Mapping[str, Any] | None = None) -> Change:
        """Describe an ``INSERT`` of ``new_image``."""
        return cls(event_name="INSERT", new_image=new_image, keys=keys)

    @classmethod
    def modify(
        cls,
        old_image: Mapping[str, Any],
        new_image: Mapping[str, Any],
        *,
        keys: Mapping[str, Any] | None = None,
    ) -> Change:
        """Describe a ``MODIFY`` from ``old_image`` to ``new_image``."""
        return cls(event_name="MODIFY", old_image=old_image, new_image=new_image, keys=keys)

    @classmethod
    def remove(
        cls,
        old_image: Mapping[str, Any],
        *,
        keys: Mapping[str, Any] | None = None,
        ttl: bool = False,
    ) -> Change:
        """Describe a ``REMOVE`` of ``old_image``; ``ttl=True`` when Time to Live deleted it."""
        return cls(event_name="REMOVE", old_image=old_image, keys=keys, ttl=ttl)


def dynamodb(
    changes: Iterable[Change | Mapping[str, Any]],
    *,
    table: str = "Orders",
    region: str = REGION,
    account: str = ACCOUNT,
    stream_view_type: StreamViewType = "NEW_AND_OLD_IMAGES",
    start_sequence: int = 100,
    key_names: Iterable[str] = ("id",),
    event_source_arn: str | None = None,
    approximate_creation_time: int = _EPOCH_SECONDS,
) -> dict[str, Any]:
    """Build a DynamoDB Streams event, as Lambda's event source mapping delivers it.

    ``changes`` holds :class:`Change` objects or dicts with the same fields (``event_name``, ``keys``,
    ``new_image``, ``old_image``, ``ttl``) holding plain Python values. They are written as DynamoDB
    attribute values by boto3's ``TypeSerializer``: ``float`` goes through ``Decimal(str(x))``, ``bytes``
    becomes base64 text under ``B`` as in the stream's JSON, ``set`` becomes ``SS``/``NS``/``BS`` (sorted,
    so the output does not depend on hash order), ``list``/``tuple`` ``L``, ``dict`` ``M``.

    Images are kept or dropped by ``stream_view_type`` as DynamoDB does (``KEYS_ONLY`` keeps only
    ``Keys``; ``NEW_IMAGE`` drops ``OldImage``; ``OLD_IMAGE`` drops ``NewImage``). ``SequenceNumber`` is
    ``400000000000000000000 + start_sequence + index`` (21 digits), ``SizeBytes`` is DynamoDB's item-size
    rule applied to the keys and images present, ``eventID`` 32 hex digits derived from the record.

    >>> event = dynamodb([Change.remove({"id": "o-1", "tags": {"b", "a"}})], stream_view_type="OLD_IMAGE")
    >>> record = event["Records"][0]
    >>> record["eventName"], record["dynamodb"]["SequenceNumber"], record["dynamodb"]["OldImage"]["tags"]
    ('REMOVE', '400000000000000000100', {'SS': ['a', 'b']})
    """
    if stream_view_type not in _VIEW_TYPES:
        raise ValueError(
            f"stream_view_type must be one of {', '.join(_VIEW_TYPES)}, got {stream_view_type!r}"
        )
    names = (key_names,) if isinstance(key_names, str) else tuple(key_names)
    resolved = [_resolve_change(change, names, index) for index, change in enumerate(changes)]
    _check_sequence_start(
        start_sequence, len(resolved), _DYNAMODB_SEQUENCE_BASE, _DYNAMODB_SEQUENCE_LIMIT, "DynamoDB"
    )
    arn = event_source_arn or f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{_STREAM_LABEL}"
    keep_new = stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    keep_old = stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    records = []
    for index, change in enumerate(resolved):
        sequence = str(_DYNAMODB_SEQUENCE_BASE + start_sequence + index)
        stream: dict[str, Any] = {"ApproximateCreationDateTime": approximate_creation_time}
        stream["Keys"] = _serialize_image(change.keys, f"changes[{index}].keys")
        if keep_new and change.new_image is not None:
            stream["NewImage"] = _serialize_image(change.new_image, f"changes[{index}].new_image")
        if keep_old and change.old_image is not None:
            stream["OldImage"] = _serialize_image(change.old_image, f"changes[{index}].old_image")
        sizes = (_item_size(stream[part]) for part in ("Keys", "NewImage", "OldImage") if part in stream)
        stream.update(SequenceNumber=sequence, SizeBytes=sum(sizes), StreamViewType=stream_view_type)
        record: dict[str, Any] = {
            "eventID": _digest(arn, sequence).hex(),
            "eventName": change.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "dynamodb": stream,
            "eventSourceARN": arn,
        }
        if change.ttl:
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        records.append(record)
    return {"Records": records}


@dataclass(frozen=True)
class _ResolvedChange:
    event_name: EventName
    keys: Mapping[str, Any]
    new_image: Mapping[str, Any] | None
    old_image: Mapping[str, Any] | None
    ttl: bool


def _resolve_change(
    change: Change | Mapping[str, Any], key_names: tuple[str, ...], index: int
) -> _ResolvedChange:
    where = f"changes[{index}]"
    if not isinstance(change, Change):
        if not isinstance(change, Mapping):
            raise TypeError(f"{where} must be a Change or a dict, got {type(change).__name__}")
        unknown = set(change) - _CHANGE_FIELDS
        if unknown:
            raise ValueError(f"{where} has unknown field(s) {sorted(unknown)}; use {sorted(_CHANGE_FIELDS)}")
        change = Change(**change)
    name = _event_name(change, where)
    keys = change.keys if change.keys is not None else _keys_from_image(change, key_names, where)
    if not keys:
        raise ValueError(f"{where} has empty keys")
    return _ResolvedChange(name, keys, change.new_image, change.old_image, ttl=change.ttl)


def _event_name(change: Change, where: str) -> EventName:
    new, old, name = change.new_image, change.old_image, change.event_name
    if name is None:
        if new is None and old is None:
            raise ValueError(f"{where} needs new_image, old_image or an event_name")
        name = "MODIFY" if new is not None and old is not None else "INSERT" if old is None else "REMOVE"
    if name not in _EVENT_NAMES:
        raise ValueError(f"{where}.event_name must be INSERT, MODIFY or REMOVE, got {name!r}")
    if name == "INSERT" and old is not None:
        raise ValueError(f"{where} is an INSERT with an old_image; DynamoDB never sends that")
    if name == "REMOVE" and new is not None:
        raise ValueError(f"{where} is a REMOVE with a new_image; DynamoDB never sends that")
    if change.ttl and name != "REMOVE":
        raise ValueError(f"{where}: ttl=True describes a deletion, so the change must be a REMOVE")
    return name


def _keys_from_image(change: Change, key_names: tuple[str, ...], where: str) -> dict[str, Any]:
    source = change.new_image if change.new_image is not None else change.old_image
    if source is None:
        raise ValueError(f"{where} has no image to take its keys from; pass keys=")
    missing = [key for key in key_names if key not in source]
    if missing:
        raise ValueError(f"{where}: key attribute(s) {missing} not in the image; pass keys= or key_names=")
    return {key: source[key] for key in key_names}


def _serialize_image(image: Mapping[str, Any], where: str) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    if not isinstance(image, Mapping):
        raise TypeError(f"{where} must be a dict of attribute values, got {type(image).__name__}")
    serializer = TypeSerializer()
    plain = _dynamodb_ready(dict(image), where)
    return {name: _stream_json(serializer.serialize(value)) for name, value in plain.items()}


def _dynamodb_ready(value: Any, where: str) -> Any:
    """Plain values as TypeSerializer wants them: floats as Decimal, str keys, no empty sets."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int, Decimal, bytes)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: DynamoDB numbers cannot be {value}")
        return Decimal(str(value))
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: map keys must be str, got {key!r}")
            result[key] = _dynamodb_ready(item, f"{where}.{key}")
        return result
    if isinstance(value, (list, tuple)):
        return [_dynamodb_ready(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        if not value:
            raise ValueError(f"{where}: DynamoDB has no empty sets")
        return {_dynamodb_ready(item, f"{where}{{}}") for item in value}
    raise TypeError(f"{where}: {type(value).__name__} has no DynamoDB attribute type")


def _stream_json(attribute: Mapping[str, Any]) -> dict[str, Any]:
    """Write TypeSerializer output as the stream's JSON carries it: base64 binaries, sorted sets."""
    ((tag, value),) = attribute.items()
    convert = _STREAM_JSON.get(tag)
    return {tag: convert(value) if convert else value}


_STREAM_JSON: Final[dict[str, Callable[[Any], Any]]] = {
    "B": lambda value: _b64(bytes(value)),
    "BS": lambda value: [_b64(item) for item in sorted(bytes(item) for item in value)],
    "SS": sorted,
    "NS": lambda value: sorted(value, key=Decimal),
    "L": lambda value: [_stream_json(item) for item in value],
    "M": lambda value: {name: _stream_json(item) for name, item in value.items()},
}


def _item_size(image: Mapping[str, Any]) -> int:
    """DynamoDB's item size rule: names plus values, numbers about one byte per two digits."""
    return sum(len(name.encode()) + _value_size(value) for name, value in image.items())


def _value_size(attribute: Mapping[str, Any]) -> int:  # noqa: PLR0911 - one branch per type tag
    ((tag, value),) = attribute.items()
    if tag == "S":
        return len(value.encode())
    if tag == "N":
        return _number_size(value)
    if tag == "B":
        return len(base64.b64decode(value))
    if tag == "SS":
        return sum(len(item.encode()) for item in value)
    if tag == "NS":
        return sum(_number_size(item) for item in value)
    if tag == "BS":
        return sum(len(base64.b64decode(item)) for item in value)
    if tag == "L":
        return 3 + sum(1 + _value_size(item) for item in value)
    if tag == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(item) for name, item in value.items())
    return 1  # BOOL, NULL


def _number_size(text: str) -> int:
    digits = len(Decimal(text).normalize().as_tuple().digits)
    return math.ceil(digits / 2) + 1


# --------------------------------------------------------------------------------------------------
# Kinesis Data Streams


@dataclass(frozen=True)
class KinesisInput:
    """One record for :func:`kinesis`: ``data`` (bytes, str, or a JSON-able value) and its partition key.

    Use it when a record's own partition key differs from the builder's, or when the data is a dict
    that could be mistaken for ``{"data": ..., "partition_key": ...}``.
    """

    data: Any
    partition_key: str | None = None


def kinesis(
    records: Iterable[Any],
    *,
    stream: str = "telemetry",
    shard_id: str = "shardId-000000000000",
    partition_key: str | Callable[[Any], str] = "partitionKey-1",
    region: str = REGION,
    account: str = ACCOUNT,
    start_sequence: int = 100,
    arrival_time: float = float(_EPOCH_SECONDS),
    event_source_arn: str | None = None,
) -> dict[str, Any]:
    """Build a Kinesis Data Streams event (one shard), as Lambda's event source mapping delivers it.

    Each item of ``records`` is the data itself (``bytes`` as is, ``str`` UTF-8, anything else compact
    JSON), a ``{"data": ..., "partition_key": ...}`` dict (exactly those keys, ``partition_key``
    optional), or a :class:`KinesisInput`. Records without their own partition key take
    ``partition_key``: a string, or a callable given the record's data as passed in (before encoding).

    ``sequenceNumber`` is 56 digits, ``49545...200000 + start_sequence + index``; the arrival timestamp
    grows by 1 ms per record from ``arrival_time``.

    >>> event = kinesis([{"data": {"temp": 21}, "partition_key": "dev-1"}, b"raw"])
    >>> [(r["kinesis"]["partitionKey"], r["kinesis"]["data"]) for r in event["Records"]]
    [('dev-1', 'eyJ0ZW1wIjoyMX0='), ('partitionKey-1', 'cmF3')]
    """
    inputs = [_kinesis_input(item) for item in records]
    _check_sequence_start(
        start_sequence, len(inputs), _KINESIS_SEQUENCE_BASE, _KINESIS_SEQUENCE_LIMIT, "Kinesis"
    )
    arn = event_source_arn or f"arn:aws:kinesis:{region}:{account}:stream/{stream}"
    result = []
    for index, item in enumerate(inputs):
        key = item.partition_key
        if key is None:
            key = partition_key(item.data) if callable(partition_key) else partition_key
        if not isinstance(key, str) or not key:
            raise ValueError(f"records[{index}]: the partition key must be a non-empty str, got {key!r}")
        sequence = str(_KINESIS_SEQUENCE_BASE + start_sequence + index)
        result.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": sequence,
                    "data": _b64(_encode_payload(item.data, f"records[{index}]")),
                    "approximateArrivalTimestamp": round(arrival_time + index / 1000, 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{account}:role/lambda-kinesis-role",
                "awsRegion": region,
                "eventSourceARN": arn,
            }
        )
    return {"Records": result}


def _kinesis_input(item: Any) -> KinesisInput:
    if isinstance(item, KinesisInput):
        return item
    if isinstance(item, Mapping) and "data" in item and set(item) <= _KINESIS_INPUT_FIELDS:
        return KinesisInput(item["data"], item.get("partition_key"))
    return KinesisInput(item)


def _encode_payload(data: Any, where: str) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    return _json_text(_json_copy(data, where)).encode()


# --------------------------------------------------------------------------------------------------
# SQS


@dataclass(frozen=True)
class SQSInput:
    """One message for :func:`sqs` with its own group id or deduplication id.

    ``body`` is a ``str`` (sent as is) or a JSON-able value (sent as compact JSON).
    """

    body: Any
    group_id: str | None = None
    deduplication_id: str | None = None


def sqs(
    bodies: Iterable[Any],
    *,
    queue: str = "orders",
    fifo: bool = False,
    group_id: str | Callable[[Any], str] | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
    seed: int = 0,
    sent_timestamp_ms: int = _EPOCH_SECONDS * 1000,
    receive_count: int = 1,
) -> dict[str, Any]:
    """Build an SQS event (standard or FIFO queue), as Lambda's event source mapping delivers it.

    Each item of ``bodies`` is a ``str`` (the body as is), a JSON-able value (compact JSON), or an
    :class:`SQSInput` carrying its own ``group_id`` / ``deduplication_id``.

    Message groups: ``group_id`` is one group for every message (a ``str``) or a callable given each
    body as passed in (before encoding), e.g. ``group_id=lambda body: body["orderId"]``; an
    ``SQSInput.group_id`` wins over both. FIFO queues (``fifo=True``: the queue name gets ``.fifo``)
    always carry ``MessageGroupId`` (default group ``"default"``), ``MessageDeduplicationId`` (default:
    the SHA-256 of the body, as content-based deduplication does) and an increasing 20-digit
    ``SequenceNumber``. A standard queue carries ``MessageGroupId`` only when a group is given, as SQS
    fair queues do.

    ``messageId`` values are UUIDs derived from the queue, ``seed`` and position: reproducible, and
    different across calls that use different seeds. ``md5OfBody`` is the real MD5 of the body.

    >>> event = sqs([{"orderId": "o-1"}, {"orderId": "o-2"}], fifo=True, group_id=lambda b: b["orderId"])
    >>> [(r["body"], r["attributes"]["MessageGroupId"]) for r in event["Records"]]
    [('{"orderId":"o-1"}', 'o-1'), ('{"orderId":"o-2"}', 'o-2')]
    >>> event["Records"][0]["eventSourceARN"]
    'arn:aws:sqs:us-east-1:123456789012:orders.fifo'
    """
    if fifo and not queue.endswith(".fifo"):
        queue = f"{queue}.fifo"
    elif not fifo and queue.endswith(".fifo"):
        raise ValueError(f"queue {queue!r} is a FIFO queue name; pass fifo=True")
    arn = f"arn:aws:sqs:{region}:{account}:{queue}"
    records = []
    for index, item in enumerate(bodies):
        message = item if isinstance(item, SQSInput) else SQSInput(item)
        where = f"bodies[{index}]"
        body = message.body if isinstance(message.body, str) else _json_text(_json_copy(message.body, where))
        group = message.group_id
        if group is None and group_id is not None:
            group = group_id(message.body) if callable(group_id) else group_id
        if group is None and fifo:
            group = "default"
        if group is not None and (not isinstance(group, str) or not group):
            raise ValueError(f"{where}: the message group id must be a non-empty str, got {group!r}")
        message_id = _fake_uuid("sqs", arn, seed, index)
        sent = sent_timestamp_ms + index
        attributes = {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": account,
            "ApproximateFirstReceiveTimestamp": str(sent + 1),
        }
        if fifo:
            attributes["SequenceNumber"] = str(_SQS_SEQUENCE_BASE + index)
            attributes["MessageDeduplicationId"] = (
                message.deduplication_id or hashlib.sha256(body.encode()).hexdigest()
            )
        if group is not None:
            attributes["MessageGroupId"] = group
        records.append(
            {
                "messageId": message_id,
                "receiptHandle": "AQEB" + _b64(hashlib.sha256(f"{message_id}:{seed}".encode()).digest() * 3),
                "body": body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


# --------------------------------------------------------------------------------------------------
# Aurora / RDS


def aurora(payload: Any) -> Any:
    """Return the event a function receives from Aurora/RDS: the JSON payload itself, no envelope.

    Aurora MySQL's ``lambda_sync(arn, payload)`` / ``lambda_async(arn, payload)`` and PostgreSQL's
    ``aws_lambda.invoke(function, payload::json, ...)`` pass the JSON document the SQL statement built
    as the invocation payload, and Lambda hands that document to the handler as ``event`` (see "Invoking
    a Lambda function with an Aurora MySQL native function" and "AWS Lambda function and parameter
    reference" for PostgreSQL in the Aurora user guide). So this returns a JSON-normalized deep copy of
    ``payload`` (an object, array, string, number, boolean or null); to mimic SQL that built JSON text,
    pass ``json.loads(text)``.

    >>> aurora({"operation": "ping"})
    {'operation': 'ping'}
    """
    return _json_copy(payload, "the Aurora payload")


# --------------------------------------------------------------------------------------------------
# CloudWatch alarms


def cloudwatch_alarm(
    name: str = "HighCpu",
    *,
    state: AlarmState = "ALARM",
    previous_state: AlarmState = "OK",
    reason: str | None = None,
    via: Literal["lambda", "sns"] = "lambda",
    region: str = REGION,
    account: str = ACCOUNT,
    time: datetime = _EPOCH,
    description: str | None = None,
    metric: str = "CPUUtilization",
    namespace: str = "AWS/EC2",
    dimensions: Mapping[str, str] | None = None,
    threshold: float = 80.0,
    topic: str = "alarms",
    alarm_rule: str | None = None,
) -> dict[str, Any]:
    """Build a CloudWatch alarm state change, delivered by the alarm's Lambda action or through SNS.

    ``alarm_rule="ALARM(HighCpu) OR ALARM(HighMemory)"`` makes it a composite alarm: the Lambda action's
    ``configuration`` holds ``alarmRule`` (and no metrics), its ``reasonData`` lists ``triggeringAlarms``;
    the SNS message holds ``AlarmRule`` and no ``Trigger``. ``metric``, ``namespace``, ``dimensions`` and
    ``threshold`` then do not apply.

    ``via="lambda"``: the event of an alarm action that invokes the function directly (CloudWatch user
    guide, "Invoke a Lambda function from an alarm"): ``source``, ``alarmArn``, ``accountId``, ``time``,
    ``region`` and ``alarmData`` with ``alarmName``, ``state`` / ``previousState`` (``value``,
    ``reason``, ``reasonData``, ``timestamp``) and ``configuration`` (``description``, ``metrics``).

    ``via="sns"``: an SNS notification (``Records[0].Sns``) whose ``Message`` is the JSON text CloudWatch
    publishes: ``AlarmName``, ``NewStateValue``, ``OldStateValue``, ``NewStateReason``,
    ``StateChangeTime``, ``Region`` (a display name such as ``US East (N. Virginia)``), ``AlarmArn``,
    ``AWSAccountId``, the action lists and ``Trigger``.

    >>> event = cloudwatch_alarm("HighCpu", state="OK", previous_state="ALARM", via="sns")
    >>> message = json.loads(event["Records"][0]["Sns"]["Message"])
    >>> message["AlarmName"], message["NewStateValue"], message["OldStateValue"], message["Region"]
    ('HighCpu', 'OK', 'ALARM', 'US East (N. Virginia)')
    """
    for label, value in (("state", state), ("previous_state", previous_state)):
        if value not in _ALARM_STATES:
            raise ValueError(f"{label} must be one of {', '.join(_ALARM_STATES)}, got {value!r}")
    if via not in ("lambda", "sns"):
        raise ValueError(f"via must be 'lambda' or 'sns', got {via!r}")
    if alarm_rule is not None and (not isinstance(alarm_rule, str) or not alarm_rule.strip()):
        raise ValueError(f"alarm_rule must be a non-empty rule expression, got {alarm_rule!r}")
    if reason is None and alarm_rule is not None:
        reason = _composite_reason(state, region, account, alarm_rule, time)
    alarm = _Alarm(
        name=name,
        arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        state=state,
        previous_state=previous_state,
        reason=reason if reason is not None else _threshold_reason(state, previous_state, threshold, time),
        time=_as_utc(time),
        description=description if description is not None else f"{name} (streambridge.testing)",
        metric=metric,
        namespace=namespace,
        dimensions=dict(dimensions) if dimensions is not None else {"InstanceId": "i-0123456789abcdef0"},
        threshold=float(threshold),
        rule=alarm_rule,
    )
    if via == "lambda":
        return _alarm_action_event(alarm, region, account)
    return _alarm_sns_event(alarm, region, account, topic)


@dataclass(frozen=True)
class _Alarm:
    name: str
    arn: str
    state: str
    previous_state: str
    reason: str
    time: datetime
    description: str
    metric: str
    namespace: str
    dimensions: dict[str, str]
    threshold: float
    rule: str | None = None


_PERIOD_SECONDS: Final = 300


def _threshold_reason(state: str, previous: str, threshold: float, moment: datetime) -> str:
    if state == "INSUFFICIENT_DATA":
        return "Insufficient Data: 1 datapoint was unknown."
    value, relation = (threshold + 7.5, "was") if state == "ALARM" else (threshold - 40.0, "was not")
    at = (_as_utc(moment) - timedelta(seconds=_PERIOD_SECONDS)).strftime("%d/%m/%y %H:%M:%S")
    return (
        f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({at})] {relation} greater than the "
        f"threshold ({threshold}) (minimum 1 datapoint for {previous} -> {state} transition)."
    )


_RULE_ALARM = re.compile(r"\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*\"?([^\")]+)\"?\s*\)")


def _rule_children(rule: str, region: str, account: str) -> list[str]:
    """The ARNs of the alarms a rule names (by name or ARN), in the rule's order."""
    arns = []
    for found in _RULE_ALARM.findall(rule):
        name = found.strip()
        arns.append(
            name if name.startswith("arn:") else f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
        )
    return list(dict.fromkeys(arns))


def _composite_reason(state: str, region: str, account: str, rule: str, moment: datetime) -> str:
    children = _rule_children(rule, region, account)
    if state == "INSUFFICIENT_DATA" or not children:
        return "Insufficient Data: the alarm was just created."
    at = _as_utc(moment).strftime("%A %d %B, %Y %H:%M:%S UTC")
    return f"{children[0]} transitioned to {state} at {at}"


def _reason_data(alarm: _Alarm, moment: datetime, value: float) -> str:
    start = moment - timedelta(seconds=_PERIOD_SECONDS)
    return _json_text(
        {
            "version": "1.0",
            "queryDate": _iso_millis(moment, "+0000"),
            "startDate": _iso_millis(start, "+0000"),
            "statistic": "Average",
            "period": _PERIOD_SECONDS,
            "recentDatapoints": [value],
            "threshold": alarm.threshold,
            "evaluatedDatapoints": [
                {"timestamp": _iso_millis(start, "+0000"), "sampleCount": 5.0, "value": value}
            ],
        }
    )


def _alarm_action_event(alarm: _Alarm, region: str, account: str) -> dict[str, Any]:
    now = _iso_millis(alarm.time, "+0000")
    before = alarm.time - timedelta(hours=1)
    breaching = alarm.state == "ALARM"
    if alarm.rule is not None:
        return _composite_action_event(alarm, region, account)
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.arn,
        "accountId": account,
        "time": now,
        "region": region,
        "alarmData": {
            "alarmName": alarm.name,
            "state": {
                "value": alarm.state,
                "reason": alarm.reason,
                "reasonData": _reason_data(
                    alarm, alarm.time, alarm.threshold + (7.5 if breaching else -40.0)
                ),
                "timestamp": now,
            },
            "previousState": {
                "value": alarm.previous_state,
                "reason": f"Alarm {alarm.name} was {alarm.previous_state} before this change.",
                "reasonData": _reason_data(alarm, before, alarm.threshold - (40.0 if breaching else -7.5)),
                "timestamp": _iso_millis(before, "+0000"),
            },
            "configuration": {
                "description": alarm.description,
                "metrics": [
                    {
                        "id": _fake_uuid("metric", alarm.arn),
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.namespace,
                                "name": alarm.metric,
                                "dimensions": dict(alarm.dimensions),
                            },
                            "period": _PERIOD_SECONDS,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def _composite_action_event(alarm: _Alarm, region: str, account: str) -> dict[str, Any]:
    """A composite alarm's action event, as in the CloudWatch user guide's composite example."""
    now = _iso_millis(alarm.time, "+0000")
    before = _iso_millis(alarm.time - timedelta(hours=1), "+0000")
    children = _rule_children(cast("str", alarm.rule), region, account)
    triggering = [{"arn": arn, "state": {"value": alarm.state, "timestamp": now}} for arn in children[:1]]
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.arn,
        "accountId": account,
        "time": now,
        "region": region,
        "alarmData": {
            "alarmName": alarm.name,
            "state": {
                "value": alarm.state,
                "reason": alarm.reason,
                "reasonData": _json_text({"triggeringAlarms": triggering}),
                "timestamp": now,
            },
            "previousState": {
                "value": alarm.previous_state,
                "reason": f"Alarm {alarm.name} was {alarm.previous_state} before this change.",
                "reasonData": _json_text({"triggeringAlarms": []}),
                "timestamp": before,
            },
            "configuration": {"description": alarm.description, "alarmRule": alarm.rule},
        },
    }


def _alarm_sns_event(alarm: _Alarm, region: str, account: str, topic: str) -> dict[str, Any]:
    topic_arn = f"arn:aws:sns:{region}:{account}:{topic}"
    display_region = _REGION_NAMES.get(region, region)
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso_millis(alarm.time - timedelta(days=1), "+0000"),
        "NewStateValue": alarm.state,
        "NewStateReason": alarm.reason,
        "StateChangeTime": _iso_millis(alarm.time, "+0000"),
        "Region": display_region,
        "AlarmArn": alarm.arn,
        "OldStateValue": alarm.previous_state,
        "OKActions": [topic_arn],
        "AlarmActions": [topic_arn],
        "InsufficientDataActions": [],
    }
    if alarm.rule is not None:  # a composite alarm: its rule instead of a metric trigger
        message["AlarmRule"] = alarm.rule
    else:
        message["Trigger"] = {
            "MetricName": alarm.metric,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": "AVERAGE",
            "Unit": None,
            "Dimensions": [{"value": value, "name": key} for key, value in alarm.dimensions.items()],
            "Period": _PERIOD_SECONDS,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": alarm.threshold,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        }
    message_id = _fake_uuid("sns", topic_arn, alarm.arn, alarm.state, alarm.time.isoformat())
    subscription_arn = f"{topic_arn}:{_fake_uuid('subscription', topic_arn)}"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": _alarm_subject(alarm.state, alarm.name, display_region),
                    "Message": _json_text(message),
                    "Timestamp": _iso_millis(alarm.time + timedelta(milliseconds=45), "Z"),
                    "SignatureVersion": "1",
                    "Signature": _b64(_digest("signature", message_id) * 16),
                    "SigningCertUrl": (
                        f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
                        f"{_digest('cert', region).hex()}.pem"
                    ),
                    "UnsubscribeUrl": (
                        f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
                    ),
                    "MessageAttributes": {},
                },
            }
        ]
    }


def _alarm_subject(state: str, name: str, display_region: str) -> str:
    """``ALARM: "name" in Region``; SNS subjects stop at 100 characters, so long names are cut."""
    subject = f'{state}: "{name}" in {display_region}'
    if len(subject) <= _SNS_SUBJECT_LIMIT:
        return subject
    room = _SNS_SUBJECT_LIMIT - len(f'{state}: "..." in {display_region}')
    return f'{state}: "{name[: max(room, 0)]}..." in {display_region}'


# --------------------------------------------------------------------------------------------------
# EventBridge / CloudWatch Events


def eventbridge(
    detail: Mapping[str, Any],
    *,
    source: str = "com.example.orders",
    detail_type: str = "OrderUpdated",
    resources: Iterable[str] = (),
    id: str | None = None,  # noqa: A002 - the event's own field name
    time: datetime | str | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """Build an EventBridge (CloudWatch Events) event, as a rule's Lambda target receives it.

    The envelope has ``version`` "0", ``id``, ``detail-type``, ``source``, ``account``, ``time``
    (``2026-01-01T00:00:00Z`` by default; a ``datetime`` is written in that format, a ``str`` kept as
    is), ``region``, ``resources`` and ``detail`` (a JSON object). ``id`` defaults to a UUID derived
    from the other fields, so equal inputs give equal events.

    >>> event = eventbridge({"orderId": "o-1"}, resources=["arn:aws:s3:::orders-bucket"])
    >>> event["detail-type"], event["source"], event["time"], event["detail"]
    ('OrderUpdated', 'com.example.orders', '2026-01-01T00:00:00Z', {'orderId': 'o-1'})
    """
    if not isinstance(detail, Mapping):
        raise TypeError(
            f"detail must be a dict (EventBridge details are JSON objects), got {type(detail).__name__}"
        )
    body = _json_copy(detail, "detail")
    if time is None:
        when = _EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(time, datetime):
        when = _as_utc(time).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        when = time
    resource_list = [str(resource) for resource in resources]
    return {
        "version": "0",
        "id": id or _fake_uuid("events", source, detail_type, when, account, region, _json_text(body)),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": when,
        "region": region,
        "resources": resource_list,
        "detail": body,
    }


# --------------------------------------------------------------------------------------------------
# Lambda context


@dataclass(frozen=True)
class _CognitoIdentity:
    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class FakeLambdaContext:
    """A stand-in for the Python runtime's ``LambdaContext``; build it with :func:`lambda_context`.

    ``get_remaining_time_in_millis()`` counts down from the timeout as ``clock`` advances (never below
    0). Like the real runtime, ``memory_limit_in_mb`` is a ``str`` (it comes from an environment
    variable there).
    """

    def __init__(
        self,
        *,
        timeout_ms: int,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: int,
        region: str,
        account: str,
        aws_request_id: str,
        clock: Callable[[], float],
    ) -> None:
        if timeout_ms < 0:
            raise ValueError(f"timeout_ms must be >= 0, got {timeout_ms}")
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"2026/01/01/[{function_version}]{_digest('stream', function_name).hex()}"
        self.identity = _CognitoIdentity()
        self.client_context = None
        self.timeout_ms = timeout_ms
        self._clock = clock
        self._started = clock()

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (fake) deadline: the timeout minus the time elapsed on ``clock``."""
        elapsed_ms = math.ceil(round((self._clock() - self._started) * 1000, 6))
        return max(0, self.timeout_ms - elapsed_ms)

    def __repr__(self) -> str:
        return (
            f"FakeLambdaContext(function_name={self.function_name!r}, "
            f"remaining_ms={self.get_remaining_time_in_millis()})"
        )


def lambda_context(
    *,
    timeout_ms: int = 30_000,
    function_name: str = "streambridge-test",
    clock: Callable[[], float] = monotonic,
    function_version: str = "$LATEST",
    memory_limit_in_mb: int = 128,
    region: str = REGION,
    account: str = ACCOUNT,
    aws_request_id: str | None = None,
) -> FakeLambdaContext:
    """Build a Lambda context whose remaining time counts down from ``timeout_ms`` once it is built.

    ``clock`` returns seconds (``time.monotonic`` by default); inject one to control time in tests.
    The other attributes are those of the Python runtime's context object.

    >>> now = [100.0]
    >>> context = lambda_context(timeout_ms=5_000, clock=lambda: now[0])
    >>> now[0] += 1.25
    >>> context.get_remaining_time_in_millis(), context.invoked_function_arn
    (3750, 'arn:aws:lambda:us-east-1:123456789012:function:streambridge-test')
    """
    return FakeLambdaContext(
        timeout_ms=timeout_ms,
        function_name=function_name,
        function_version=function_version,
        memory_limit_in_mb=memory_limit_in_mb,
        region=region,
        account=account,
        aws_request_id=aws_request_id or _fake_uuid("request", function_name, region, account),
        clock=clock,
    )


# --------------------------------------------------------------------------------------------------
# EventBridge Pipes

_PIPE_SOURCES: Final = ("aws:dynamodb", "aws:kinesis", "aws:sqs")


def pipe(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Turn a batch event of :func:`dynamodb`, :func:`kinesis` or :func:`sqs` into what a pipe delivers.

    An EventBridge pipe invokes a Lambda target with a JSON array of the source's records, without the
    ``Records`` wrapper, even for a batch of one (EventBridge user guide, "Amazon EventBridge Pipes
    batching and concurrency"). DynamoDB and SQS records keep their shape; a Kinesis record's
    ``kinesis`` object is flattened into the record ("Amazon Kinesis stream as a source"). The input is
    not changed.

    >>> [record] = pipe(kinesis([b"raw"]))
    >>> list(record)[:5], record["eventID"].startswith("shardId-")
    (['kinesisSchemaVersion', 'partitionKey', 'sequenceNumber', 'data', 'approximateArrivalTimestamp'], True)
    >>> pipe(sqs(["a"]))[0]["body"]
    'a'
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise TypeError(
            "pipe() takes a batch event with a 'Records' list, as dynamodb(), kinesis() or sqs() build"
        )
    result = []
    for index, record in enumerate(_json_copy(records, "Records")):
        source = record.get("eventSource") if isinstance(record, dict) else None
        if source not in _PIPE_SOURCES:
            raise ValueError(
                f"Records[{index}]: eventSource {source!r} is not a source of a pipe streambridge reads "
                f"({', '.join(_PIPE_SOURCES)})"
            )
        # A pipe's Kinesis record, in the user guide's order: the stream fields first, then the record's own.
        stream = (
            record.pop("kinesis")
            if source == "aws:kinesis" and isinstance(record.get("kinesis"), dict)
            else {}
        )
        result.append({**stream, **record})
    return result


# --------------------------------------------------------------------------------------------------
# Kinesis Data Streams for DynamoDB

CreationPrecision = Literal["MILLISECOND", "MICROSECOND"]


def kinesis_dynamodb(
    changes: Iterable[Change | Mapping[str, Any]],
    *,
    table: str = "Orders",
    key_names: Iterable[str] = ("id",),
    precision: CreationPrecision = "MICROSECOND",
    created: Iterable[datetime] | None = None,
    arrival: Iterable[int] | None = None,
    partition_key: str | Callable[[int], str] | None = None,
    stream: str = "orders-changes",
    shard_id: str = "shardId-000000000000",
    region: str = REGION,
    account: str = ACCOUNT,
    start_sequence: int = 100,
    arrival_time: float = float(_EPOCH_SECONDS),
) -> dict[str, Any]:
    """Build a Kinesis event of a table's changes (Kinesis Data Streams for DynamoDB), as Lambda delivers it.

    ``changes`` are the item changes in the order they were made, as for :func:`dynamodb`
    (:class:`Change` objects or dicts of ``event_name``, ``keys``, ``new_image``, ``old_image``, ``ttl``);
    both images are always there, as the stream carries them. ``created`` gives each change's creation
    time (timezone-aware); by default they are 1 ms apart from 2026-01-01T00:00:00Z.

    ``arrival`` lists the changes in the order Kinesis delivers them, by position in ``changes``: an order
    unlike the creation order, or a position twice (the same change again, in a new Kinesis record), is
    what AWS documents may happen (DynamoDB developer guide, "Using Kinesis Data Streams to capture changes
    to DynamoDB"). By default each change comes once, in order. Sequence numbers follow ``arrival``, as
    :func:`kinesis` numbers them.

    Each record's data is the change as compact JSON, shaped like Powertools' sample of this event
    (``packages/parser/tests/events/kinesis/dynamodb-stream.json`` of powertools-lambda-typescript):
    ``awsRegion``, ``eventID`` (a UUID), ``eventName``, ``userIdentity`` (null, or DynamoDB's service
    identity for a ``ttl`` removal), ``recordFormat``, ``tableName``, ``dynamodb``, ``eventSource``.
    ``ApproximateCreationDateTime`` is whole microseconds or milliseconds by ``precision``;
    ``ApproximateCreationDateTimePrecision`` is written with microseconds and left out with
    milliseconds, as in records people published from both settings (AWS does not document the field).
    The Kinesis ``partition_key`` is DynamoDB's choice, not the item's key: by default 32 hex digits
    derived from the change; else one string for every record, or a function of the change's position.

    >>> import base64, json
    >>> event = kinesis_dynamodb(
    ...     [{"new_image": {"id": "o-1"}}, {"new_image": {"id": "o-1", "n": 2}, "event_name": "MODIFY"}],
    ...     arrival=[1, 0, 0],
    ... )
    >>> [json.loads(base64.b64decode(r["kinesis"]["data"]))["eventName"] for r in event["Records"]]
    ['MODIFY', 'INSERT', 'INSERT']
    """
    if precision not in ("MILLISECOND", "MICROSECOND"):
        raise ValueError(f"precision must be MILLISECOND or MICROSECOND, got {precision!r}")
    names = (key_names,) if isinstance(key_names, str) else tuple(key_names)
    resolved = [_resolve_change(change, names, index) for index, change in enumerate(changes)]
    times = _creation_times(created, len(resolved))
    order = list(range(len(resolved))) if arrival is None else list(arrival)
    for position in order:
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(resolved):
            raise ValueError(
                f"arrival lists positions in changes, 0 to {len(resolved) - 1}; got {position!r}"
            )
    data = [
        _json_text(
            _kinesis_dynamodb_change(
                change, index, moment=times[index], table=table, region=region, precision=precision
            )
        )
        for index, change in enumerate(resolved)
    ]
    records = [
        KinesisInput(data[index].encode(), _change_partition_key(partition_key, index, data[index]))
        for index in order
    ]
    return kinesis(
        records,
        stream=stream,
        shard_id=shard_id,
        region=region,
        account=account,
        start_sequence=start_sequence,
        arrival_time=arrival_time,
    )


def _creation_times(created: Iterable[datetime] | None, count: int) -> list[datetime]:
    if created is None:
        return [_EPOCH + timedelta(milliseconds=index) for index in range(count)]
    times = [_as_utc(moment) for moment in created]
    if len(times) != count:
        raise ValueError(f"created gives {len(times)} time(s) for {count} change(s): give one per change")
    return times


def _kinesis_dynamodb_change(
    change: _ResolvedChange,
    index: int,
    *,
    moment: datetime,
    table: str,
    region: str,
    precision: CreationPrecision,
) -> dict[str, Any]:
    """The JSON data of one Kinesis record of Kinesis Data Streams for DynamoDB."""
    micros = (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    images = {"Keys": _serialize_image(change.keys, f"changes[{index}].keys")}
    for name, image in (("NewImage", change.new_image), ("OldImage", change.old_image)):
        if image is not None:
            images[name] = _serialize_image(image, f"changes[{index}].{name[:3].lower()}_image")
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": micros if precision == "MICROSECOND" else micros // 1000,
        **images,
        "SizeBytes": sum(_item_size(image) for image in images.values()),
    }
    if precision == "MICROSECOND":
        stream["ApproximateCreationDateTimePrecision"] = precision
    identity = {"type": "Service", "principalId": "dynamodb.amazonaws.com"} if change.ttl else None
    return {
        "awsRegion": region,
        "eventID": _fake_uuid("kinesis-dynamodb", table, index, micros),
        "eventName": change.event_name,
        "userIdentity": identity,
        "recordFormat": "application/json",
        "tableName": table,
        "dynamodb": stream,
        "eventSource": "aws:dynamodb",
    }


def _change_partition_key(chosen: str | Callable[[int], str] | None, index: int, data: str) -> str:
    if chosen is None:  # opaque, like the keys DynamoDB writes (the item's key is not one of them)
        return _digest(data).hex().upper()
    return chosen(index) if callable(chosen) else chosen


# --------------------------------------------------------------------------------------------------
# HTTP: API Gateway REST and HTTP APIs, Lambda function URLs

HttpApi = Literal["http", "rest", "function-url"]
"""Where a request comes from: an HTTP API, a REST API (Lambda proxy integration) or a function URL."""

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SOURCE_IP: Final = "203.0.113.10"  # TEST-NET-3 (RFC 5737): nobody's address
_USER_AGENT: Final = "streambridge-test"


def http(
    body: Any = None,
    *,
    api: HttpApi = "http",
    payload_version: Literal["1.0", "2.0"] | None = None,
    method: str = "POST",
    path: str = "/",
    route: str | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str | Iterable[str]] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    content_type: str | None = "application/json",
    base64: bool = False,
    source_ip: str = _SOURCE_IP,
    request_id: str | None = None,
    time: datetime | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """Build the event API Gateway or a Lambda function URL sends for one HTTP request.

    ``api``: ``"http"`` (an HTTP API; ``payload_version`` 2.0 by default, or 1.0), ``"rest"`` (a REST
    API's Lambda proxy integration: payload 1.0 without ``version``) or ``"function-url"`` (2.0).
    ``body``: a JSON value (sent as compact JSON text), ``str`` (sent as is), ``bytes`` (base64, as a
    binary body arrives) or None (no body). ``base64=True`` encodes a text body too, as API Gateway does
    for a binary media type and a function URL for a type it does not read as text. ``route``: the
    route's path (``/orders/{id}``; default ``path``). ``content_type`` and ``idempotency_key`` become
    headers (None: left out); ``headers`` adds others or replaces them, whatever the case of the name.

    Shapes: API Gateway developer guide, "Create AWS Lambda proxy integrations for HTTP APIs" (2.0
    lower-cases header names and joins repeated values with commas; 1.0 keeps multi-value maps) and the
    REST API's Lambda proxy input format; Lambda developer guide, "Invoking Lambda function URLs".
    Checked against Powertools' and AWS SAM's sample events, and Powertools' parser models.

    >>> event = http({"id": "o-1"}, path="/orders", idempotency_key="k-1")
    >>> event["version"], event["routeKey"], event["body"], event["headers"]["idempotency-key"]
    ('2.0', 'POST /orders', '{"id":"o-1"}', 'k-1')
    >>> http([{"id": "o-1"}], api="rest", path="/orders")["requestContext"]["path"]
    '/prod/orders'
    """
    version = _http_payload_version(api, payload_version)
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    text, encoded = _http_body(body, base64=base64)
    api_id = _digest("api", api, region, account).hex()[:10]
    host = f"{api_id}.lambda-url.{region}.on.aws" if api == "function-url" else _api_domain(api_id, region)
    names = _http_headers(
        headers, content_type if body is not None else None, idempotency_key, source_ip, host
    )
    moment = _as_utc(time) if time is not None else _EPOCH
    request = _HttpRequest(
        api=api,
        method=method.upper(),
        path=path,
        route=route or path,
        headers={name: [value] for name, value in names.items()},
        query={
            str(name): [value] if isinstance(value, str) else [str(v) for v in value]
            for name, value in (query or {}).items()
        },
        path_parameters={str(k): str(v) for k, v in (path_parameters or {}).items()},
        body=text,
        encoded=encoded,
        source_ip=source_ip,
        request_id=request_id
        or _fake_uuid("http", api, version, method, path, text, sorted(names.items()), region, account),
        api_id=api_id,
        time=f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000",
        epoch_ms=round(moment.timestamp() * 1000),
        region=region,
        account=account,
    )
    return _http_v1(request) if version == "1.0" else _http_v2(request)


@dataclass(frozen=True, kw_only=True)
class _HttpRequest:
    """What ``http`` was asked for, ready for either payload format."""

    api: str
    method: str
    path: str
    route: str
    headers: dict[str, list[str]]
    query: dict[str, list[str]]
    path_parameters: dict[str, str]
    body: str | None
    encoded: bool
    source_ip: str
    request_id: str
    api_id: str
    time: str
    epoch_ms: int
    region: str
    account: str

    @property
    def user_agent(self) -> str:
        return next((v[-1] for n, v in self.headers.items() if n.lower() == "user-agent"), _USER_AGENT)

    @property
    def api_domain(self) -> str:
        return _api_domain(self.api_id, self.region)


def _api_domain(api_id: str, region: str) -> str:
    return f"{api_id}.execute-api.{region}.amazonaws.com"


def _http_v2(request: _HttpRequest) -> dict[str, Any]:
    """Payload format 2.0: an HTTP API's event, or a function URL's."""
    function_url = request.api == "function-url"
    route_key = "$default" if function_url else f"{request.method} {request.route}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": _query_string(request.query),
        # lower-cased names, repeated values joined with commas
        "headers": {name.lower(): ",".join(values) for name, values in request.headers.items()},
    }
    if request.query:
        event["queryStringParameters"] = {name: ",".join(v) for name, v in request.query.items()}
    event["requestContext"] = {
        "accountId": "anonymous" if function_url else request.account,  # a URL of AuthType NONE
        "apiId": request.api_id,
        "domainName": f"{request.api_id}.lambda-url.{request.region}.on.aws"
        if function_url
        else request.api_domain,
        "domainPrefix": request.api_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": request.user_agent,
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": request.time,
        "timeEpoch": request.epoch_ms,
    }
    if request.body is not None:
        event["body"] = request.body
    if request.path_parameters and not function_url:  # a function URL has no routes
        event["pathParameters"] = dict(request.path_parameters)
    event["isBase64Encoded"] = request.encoded
    return event


def _http_v1(request: _HttpRequest) -> dict[str, Any]:
    """Payload format 1.0: a REST API's Lambda proxy event, or an HTTP API's with ``version`` 1.0."""
    rest = request.api == "rest"
    stage = "prod" if rest else "$default"
    headers, query = request.headers, request.query
    event: dict[str, Any] = {} if rest else {"version": "1.0"}
    event.update(
        {
            "resource": request.route,
            "path": request.path,
            "httpMethod": request.method,
            # the last value of each (single-value maps) and all of them (multi-value maps)
            "headers": {name: values[-1] for name, values in headers.items()} or None,
            "multiValueHeaders": {name: list(values) for name, values in headers.items()} or None,
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": {name: list(v) for name, v in query.items()} or None,
            "requestContext": {
                "accountId": request.account,
                "apiId": request.api_id,
                "domainName": request.api_domain,
                "domainPrefix": request.api_id,
                "extendedRequestId": _digest("extended", request.request_id).hex()[:16],
                "httpMethod": request.method,
                "identity": {
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "sourceIp": request.source_ip,
                    "user": None,
                    "userAgent": request.user_agent,
                    "userArn": None,
                },
                "path": f"/{stage}{request.path}" if rest else request.path,
                "protocol": "HTTP/1.1",
                "requestId": request.request_id,
                "requestTime": request.time,
                "requestTimeEpoch": request.epoch_ms,
                "resourceId": _digest("resource", request.route).hex()[:6] if rest else None,
                "resourcePath": request.route,
                "stage": stage,
            },
            "pathParameters": dict(request.path_parameters) or None,
            "stageVariables": None,
            "body": request.body,
            "isBase64Encoded": request.encoded,
        }
    )
    return event


def _http_payload_version(api: str, version: str | None) -> str:
    fixed = {"rest": "1.0", "function-url": "2.0"}
    if api not in ("http", *fixed):
        raise ValueError(f"api must be 'http', 'rest' or 'function-url', got {api!r}")
    if version is None:
        return fixed.get(api, "2.0")
    if version not in ("1.0", "2.0"):
        raise ValueError(f"payload_version must be '1.0' or '2.0', got {version!r}")
    if api in fixed and version != fixed[api]:
        raise ValueError(f"a {api} request has payload format {fixed[api]}, not {version}")
    return version


def _http_body(body: Any, *, base64: bool) -> tuple[str | None, bool]:
    """The event's ``body`` text and ``isBase64Encoded``."""
    if body is None:
        return None, False
    if isinstance(body, (bytes, bytearray)):
        return _b64(bytes(body)), True
    text = body if isinstance(body, str) else _json_text(_json_copy(body, "body"))
    return (_b64(text.encode()), True) if base64 else (text, False)


def _http_headers(
    headers: Mapping[str, str] | None,
    content_type: str | None,
    idempotency_key: str | None,
    source_ip: str,
    host: str,
) -> dict[str, str]:
    """The headers a client and API Gateway set, then the test's own (which replace any of the same name)."""
    names = {
        "Host": host,
        "User-Agent": _USER_AGENT,
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if content_type is not None:
        names["Content-Type"] = content_type
    if idempotency_key is not None:
        names["Idempotency-Key"] = idempotency_key
    for name, value in (headers or {}).items():
        if not isinstance(value, str):
            raise TypeError(f"header {name!r} must be a str, got {type(value).__name__}")
        for known in [n for n in names if n.lower() == name.lower()]:
            del names[known]
        names[name] = value
    return names


def _query_string(query: Mapping[str, list[str]]) -> str:
    from urllib.parse import urlencode

    return urlencode([(name, value) for name, values in query.items() for value in values])
