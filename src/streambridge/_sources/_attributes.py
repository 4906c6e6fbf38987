"""DynamoDB attribute-value maps to plain, JSON-safe Python values.

This is the hot path of every DynamoDB record, so it is hand-written instead of going through
``boto3.dynamodb.types.TypeDeserializer`` (which also costs the boto3 import at cold start and returns
``Decimal``, ``set`` and ``Binary`` that ``json`` cannot write), and its map and list loops decode the
common tags inline rather than through one call per value. What each type tag becomes:

- ``S`` ``str``; ``BOOL`` ``bool``; ``NULL`` ``None``; ``M`` ``dict``; ``L`` ``list``
- ``N`` ``int`` when the value is integral (decided exactly through ``Decimal``), else the nearest ``float``
- ``B`` the base64 text exactly as the stream JSON carries it (validated, not decoded)
- ``SS`` ``NS`` ``BS`` a sorted, de-duplicated ``list`` (``BS`` ordered by the decoded bytes)

A malformed value raises ``RecordError`` naming the attribute path (``NewImage.address.lines[2]``) and
the cause.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streambridge._errors import RecordError
from streambridge._sources._common import short

__all__ = ["deserialize_map", "deserialize_value"]

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.99...E+125.
_MAX_DIGITS = 38
_MAX_EXPONENT = 125
_MIN_EXPONENT = -130


class _BadValueError(Exception):
    """Internal: a malformed value. ``path`` grows from the bad value up to the image on the way out."""

    __slots__ = ("cause", "path")

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause
        self.path: list[str | int] = []


def deserialize_map(image: Any, root: str = "", owner: Callable[[], str] | None = None) -> dict[str, Any]:
    """Convert an attribute map (``Keys``, ``NewImage``, ``OldImage``) into a plain ``dict``.

    ``root`` starts the attribute path in error messages; ``owner`` (called only on error) names the
    record, e.g. ``record.describe``.
    """
    if type(image) is not dict:
        raise _record_error(owner, root, f"expected an attribute map, got {short(image)}")
    try:
        return _map(image)
    except _BadValueError as e:
        raise _record_error(owner, _format_path(root, e.path), e.cause) from None


def deserialize_value(value: Any, root: str = "value", owner: Callable[[], str] | None = None) -> Any:
    """Convert one attribute value such as ``{"N": "42"}``."""
    try:
        return _value(value)
    except _BadValueError as e:
        raise _record_error(owner, _format_path(root, e.path), e.cause) from None


def _record_error(owner: Callable[[], str] | None, path: str, cause: str) -> RecordError:
    where = f"attribute {path}" if path else "attribute map"
    return RecordError(f"{owner()}: {where}: {cause}" if owner else f"{where}: {cause}")


def _format_path(root: str, segments: list[str | int]) -> str:
    parts = [root]
    for segment in reversed(segments):
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif segment.isidentifier():
            parts.append(f".{segment}" if parts[-1] else segment)
        else:
            parts.append(f"[{segment!r}]")
    return "".join(parts)


# The loops decode the well-formed ``S``, ``N``, ``M`` and ``L`` values inline (one Python call per value
# costs more than decoding it) and hand everything else, every malformed value included, to ``_value``; the
# inline tests accept exactly what ``_value`` accepts and return the same, so results and errors are its own.
# On error the loop variable still names the failing element, so one try around the loop is enough.


def _map(attributes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = ""
    try:
        for name, value in attributes.items():
            if type(value) is dict and len(value) == 1:
                if "S" in value:
                    inner = value["S"]
                    if type(inner) is str:
                        out[name] = inner
                        continue
                elif "N" in value:
                    inner = value["N"]
                    if (
                        type(inner) is str
                        and inner.isdigit()
                        and inner.isascii()
                        and len(inner) <= _MAX_DIGITS
                    ):
                        out[name] = int(inner)
                    else:
                        out[name] = _number(inner)
                    continue
                elif "M" in value:
                    inner = value["M"]
                    if type(inner) is dict:
                        out[name] = _map(inner)
                        continue
                elif "L" in value:
                    inner = value["L"]
                    if type(inner) is list:
                        out[name] = _list(inner)
                        continue
            out[name] = _value(value)
    except _BadValueError as e:
        e.path.append(name)
        raise
    return out


def _list(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    try:
        for value in values:
            # Lists of maps first: that is what lists mostly hold.
            if type(value) is dict and len(value) == 1:
                if "M" in value:
                    inner = value["M"]
                    if type(inner) is dict:
                        append(_map(inner))
                        continue
                elif "S" in value:
                    inner = value["S"]
                    if type(inner) is str:
                        append(inner)
                        continue
                elif "N" in value:
                    inner = value["N"]
                    if (
                        type(inner) is str
                        and inner.isdigit()
                        and inner.isascii()
                        and len(inner) <= _MAX_DIGITS
                    ):
                        append(int(inner))
                    else:
                        append(_number(inner))
                    continue
            append(_value(value))
    except _BadValueError as e:
        e.path.append(len(out))  # one element appended per element decoded: the failing index
        raise
    return out


def _number_set(values: list[Any]) -> list[int | float]:
    out = set()
    index = 0
    try:
        for index, value in enumerate(values):  # noqa: B007 - index is read in the except clause
            out.add(_number(value))
    except _BadValueError as e:
        e.path.append(index)
        raise
    return sorted(out)


def _binary_set(values: list[Any]) -> list[str]:
    by_bytes = {}
    index = 0
    try:
        for index, value in enumerate(values):  # noqa: B007 - index is read in the except clause
            by_bytes[_decode(value)] = value
    except _BadValueError as e:
        e.path.append(index)
        raise
    return [by_bytes[key] for key in sorted(by_bytes)]


def _value(value: Any) -> Any:  # noqa: PLR0911, PLR0912 - one flat dispatch is the fast shape
    try:
        ((tag, inner),) = value.items()
    except (AttributeError, TypeError, ValueError):
        raise _BadValueError(
            f"expected one type tag and its value, such as {{'S': ...}}, got {short(value)}"
        ) from None
    # Ordered by how often each tag shows up in real tables.
    if tag == "S":
        if type(inner) is str:
            return inner
    elif tag == "N":
        # Inlined fast path: non-negative integers are most numbers in practice.
        if type(inner) is str and inner.isdigit() and inner.isascii() and len(inner) <= _MAX_DIGITS:
            return int(inner)
        return _number(inner)
    elif tag == "M":
        if type(inner) is dict:
            return _map(inner)
    elif tag == "BOOL":
        if type(inner) is bool:
            return inner
    elif tag == "L":
        if type(inner) is list:
            return _list(inner)
    elif tag == "NULL":
        if inner is True:
            return None
    elif tag == "SS":
        if type(inner) is list and all(type(item) is str for item in inner):
            return sorted(set(inner))
    elif tag == "NS":
        if type(inner) is list:
            return _number_set(inner)
    elif tag == "B":
        return _binary(inner)
    elif tag == "BS":
        if type(inner) is list:
            return _binary_set(inner)
    else:
        raise _BadValueError(f"unknown type tag {tag!r} (expected S, N, B, BOOL, NULL, M, L, SS, NS or BS)")
    raise _BadValueError(f"{tag} value is {short(inner)}, {_EXPECTED[tag]}")


_EXPECTED = {
    "S": "expected a string",
    "M": "expected an attribute map",
    "BOOL": "expected true or false",
    "L": "expected a list of attribute values",
    "NULL": "expected true",
    "SS": "expected a list of strings",
    "NS": "expected a list of numbers as strings",
    "BS": "expected a list of base64 strings",
}


def _number(text: Any) -> int | float:  # noqa: PLR0911 - each fast path returns early
    if type(text) is not str:
        raise _BadValueError(f"N value is {short(text)}, expected a number as a string")
    # Fast path: non-negative plain decimals such as prices ("12.50"), most of what reaches here (the loops
    # decode plain integers themselves). The same test and values as the signed decimal path below.
    whole, dot, fraction = text.partition(".")
    if fraction.isdigit() and whole.isdigit() and text.isascii() and len(text) <= _MAX_DIGITS:
        return float(text) if fraction.strip("0") else int(whole)
    # Fast path: plain integers (the negative ones, and all of those in number sets).
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit() and digits.isascii() and len(digits) <= _MAX_DIGITS:
        return int(text)
    # Fast path: plain decimals, by now the negative ones ("-12.50"). Short enough to be in range; the same
    # values as through Decimal below (float(Decimal) converts the decimal's own text, so it rounds the same).
    whole, dot, fraction = digits.partition(".")
    if dot and whole.isdigit() and fraction.isdigit() and digits.isascii() and len(digits) <= _MAX_DIGITS:
        if fraction.strip("0"):
            return float(text)
        return int(whole) if text[0] != "-" else -int(whole)
    if _NUMBER.fullmatch(text) is None:
        raise _BadValueError(f"N value {short(text)} is not a decimal number")
    from decimal import Decimal  # lazy: rare numbers only, and cold start counts

    number = Decimal(text)
    if number.is_zero():
        return 0
    exponent = number.adjusted()
    if not _MIN_EXPONENT <= exponent <= _MAX_EXPONENT:
        raise _BadValueError(f"N value {short(text)} is outside DynamoDB's number range (1E-130 .. 1E+126)")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _binary(text: Any) -> str:
    if type(text) is str and len(text) % 4 == 0 and _BASE64.fullmatch(text) is not None:
        return text
    raise _BadValueError(f"B value {short(text)} is not base64 text")


def _decode(text: Any) -> bytes:
    import base64  # lazy: binary sets only, and cold start counts
    import binascii

    _binary(text)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:  # unreachable after _binary; kept so no binascii.Error escapes
        raise _BadValueError(f"B value {short(text)} is not base64 text ({e})") from None
