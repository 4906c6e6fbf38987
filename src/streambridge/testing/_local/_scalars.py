"""AppSync's scalars (``AWSDateTime``, ``AWSJSON``, ``AWSTimestamp``, ...) with their validation rules.

AppSync validates them both ways: variables and literals on the way in, resolver results on the way out.
``implement_scalar`` gives a scalar of the built schema its three coercions. ``AWSJSON`` is JSON *text*
for clients and a parsed value for resolvers, as on AppSync; the date scalars also accept Python
``datetime`` / ``date`` / ``time`` results.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from graphql import ConstValueNode, GraphQLError, GraphQLScalarType

_OFFSET: Final = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)"
_TIME: Final = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?"
_DATE_RE: Final = re.compile(rf"(\d{{4}}-\d{{2}}-\d{{2}}){_OFFSET}?")
_TIME_RE: Final = re.compile(rf"{_TIME}{_OFFSET}?")
_DATETIME_RE: Final = re.compile(rf"(\d{{4}}-\d{{2}}-\d{{2}})T{_TIME}{_OFFSET}")
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE_RE: Final = re.compile(r"\+?\d(?:[ -]?\d){5,18}")


def _check_date(text: str) -> None:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise ValueError("expected YYYY-MM-DD, optionally with a time zone offset (Z or ±hh:mm[:ss])")
    date.fromisoformat(match.group(1))  # a real calendar date


def _check_time(text: str) -> None:
    if _TIME_RE.fullmatch(text) is None:
        raise ValueError("expected hh:mm[:ss[.sss]], optionally with a time zone offset (Z or ±hh:mm[:ss])")


def _check_datetime(text: str) -> None:
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        raise ValueError("expected YYYY-MM-DDThh:mm[:ss[.sss]] with a time zone offset (Z or ±hh:mm[:ss])")
    date.fromisoformat(match.group(1))


def _check_email(text: str) -> None:
    if _EMAIL_RE.fullmatch(text) is None:
        raise ValueError("expected an email address local-part@domain")


def _check_url(text: str) -> None:
    parts = urlsplit(text)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or "") or any(c.isspace() for c in text):
        raise ValueError("expected a URL with a scheme, such as https://example.com/path or mailto:a@b.c")
    if not (parts.netloc or parts.path) or "//" in parts.path:
        raise ValueError("expected a URL with a host or a path, and no '//' inside the path")


def _check_phone(text: str) -> None:
    if _PHONE_RE.fullmatch(text.strip()) is None:
        raise ValueError("expected a phone number: digits, optionally +country code, spaces or hyphens")


def _check_ip(text: str) -> None:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError("expected an IPv4 or IPv6 address, optionally with a /prefix") from None


_STRING_CHECKS: Final[dict[str, Callable[[str], None]]] = {
    "AWSDate": _check_date,
    "AWSTime": _check_time,
    "AWSDateTime": _check_datetime,
    "AWSEmail": _check_email,
    "AWSURL": _check_url,
    "AWSPhone": _check_phone,
    "AWSIPAddress": _check_ip,
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


_Coercers = tuple[Callable[[Any], Any], Callable[["ConstValueNode"], Any], Callable[[Any], Any]]


def implement_scalar(scalar: GraphQLScalarType) -> None:
    """Give one AppSync scalar its input, literal and output rules (AppSync validates both ways)."""
    if scalar.name == "AWSTimestamp":
        coercers = _timestamp_coercers()
    elif scalar.name == "AWSJSON":
        coercers = _json_coercers()
    else:
        coercers = _string_coercers(scalar.name, _STRING_CHECKS[scalar.name])
    scalar.coerce_input_value, scalar.coerce_input_literal, scalar.coerce_output_value = coercers


def _invalid(name: str, value: Any, reason: str) -> GraphQLError:
    from graphql import GraphQLError

    return GraphQLError(f"{name} cannot represent {json.dumps(value, default=repr)}: {reason}")


def _timestamp_coercers() -> _Coercers:
    from graphql import GraphQLError, IntValueNode

    def coerce_in(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid("AWSTimestamp", value, "expected an integer number of seconds since the epoch")
        return value

    def coerce_literal(node: ConstValueNode) -> Any:
        if not isinstance(node, IntValueNode):
            raise GraphQLError("AWSTimestamp cannot represent a non integer literal")
        return int(node.value)

    def coerce_out(value: Any) -> Any:
        if isinstance(value, datetime):
            return int(value.timestamp())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return coerce_in(value)

    return coerce_in, coerce_literal, coerce_out


def _json_coercers() -> _Coercers:
    from graphql import GraphQLError, StringValueNode

    def coerce_in(value: Any) -> Any:
        if not isinstance(value, str):
            raise _invalid("AWSJSON", value, "expected a string holding JSON text")
        try:
            return _load_json(value)
        except ValueError as error:
            raise _invalid("AWSJSON", value, f"not valid JSON ({error})") from None

    def coerce_literal(node: ConstValueNode) -> Any:
        if not isinstance(node, StringValueNode):
            raise GraphQLError("AWSJSON cannot represent a non string literal: quote the JSON text")
        return coerce_in(node.value)

    def coerce_out(value: Any) -> Any:
        if isinstance(value, str):
            try:
                _load_json(value)
            except ValueError:
                return json.dumps(value)  # a plain string, not JSON text yet
            return value
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise _invalid("AWSJSON", repr(value), f"not JSON-serializable ({error})") from None

    return coerce_in, coerce_literal, coerce_out


def _string_coercers(name: str, check: Callable[[str], None]) -> _Coercers:
    from graphql import GraphQLError, StringValueNode

    def coerce_in(value: Any) -> Any:
        if not isinstance(value, str):
            raise _invalid(name, value, "expected a string")
        try:
            check(value)
        except ValueError as error:
            raise _invalid(name, value, str(error)) from None
        return value

    def coerce_literal(node: ConstValueNode) -> Any:
        if not isinstance(node, StringValueNode):
            raise GraphQLError(f"{name} cannot represent a non string literal")
        return coerce_in(node.value)

    def coerce_out(value: Any) -> Any:
        if isinstance(value, datetime) and name == "AWSDateTime":
            if value.tzinfo is None:
                raise _invalid(name, value.isoformat(), "a datetime without a time zone")
            value = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, (date, time)) and name in ("AWSDate", "AWSTime"):
            value = value.isoformat().replace("+00:00", "Z")
        return coerce_in(value)

    return coerce_in, coerce_literal, coerce_out
