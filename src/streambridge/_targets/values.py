"""A mapping function's values as JSON text, for every target: orjson first, json for what orjson cannot.

Values a mapping function commonly returns that JSON does not know (boto3's ``Decimal``, datetimes, enums,
UUIDs, sets, bytes, read-only mappings) are written the way a user expects; anything else fails the record
with a ``MappingError`` naming the variable.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from streambridge._errors import MappingError

if TYPE_CHECKING:
    from streambridge._sources._base import SourceRecord


def _json_default(value: Any) -> Any:  # noqa: PLR0911 - one flat dispatch
    """Values a mapping function commonly returns that json does not know."""
    # Imported here, each just before its check (cold start counts; Decimal, boto3's numbers, comes first
    # and pays one cached import, not three).
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    import datetime

    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):  # as orjson writes them natively: both writers must agree
        return value.value
    if type(value).__module__ == "uuid":  # uuid.UUID, without importing uuid to check
        return str(value)
    if isinstance(value, Mapping):  # e.g. record.raw, a read-only view
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    msg = f"{type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


# Built once: json.dumps with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)


@functools.cache
def _fast_dumps() -> Callable[[Any], bytes]:
    """orjson, about 10x faster than json on a 1 KB item; imported on first use (it loads uuid)."""
    import orjson

    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # as json: via the default
    return functools.partial(orjson.dumps, default=_json_default, option=options)


def to_json(record: SourceRecord, name: str, value: Any) -> str:
    """``value`` as compact JSON text; raises MappingError naming the record and ``name`` if it cannot be."""
    try:
        text = _fast_dumps()(value)
    except TypeError:  # e.g. an int over 64 bits or a non-str key: json below writes it or says why
        pass
    else:
        if b"null" not in text:  # orjson writes NaN and infinity as null, which json refuses below
            return text.decode()
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as error:
        raise MappingError(
            f"{record.describe()}: variable {name!r} cannot be sent as JSON: {error}"
        ) from error
