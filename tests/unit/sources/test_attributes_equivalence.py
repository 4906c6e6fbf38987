"""The attribute-value decoder against a plain reference decoder, on valid and malformed values alike.

The map and list loops of ``streambridge._sources._attributes`` decode the common tags inline for speed.
``_reference_map`` below is the decoder as it was before that (one ``_reference_value`` call per value):
every input must give the same value, type for type, or the same ``RecordError`` message.
"""

from __future__ import annotations

import base64
import binascii
import re
import types
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge._errors import RecordError
from streambridge._sources._attributes import (
    _BadValueError,
    _format_path,
    _record_error,
    deserialize_map,
    deserialize_value,
)
from streambridge._sources._common import short

# --- The reference: the decoder before the inlined fast paths, kept verbatim but for the names. ---

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MAX_DIGITS = 38
_MAX_EXPONENT = 125
_MIN_EXPONENT = -130
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


def _reference_deserialize_map(
    image: Any, root: str = "", owner: Callable[[], str] | None = None
) -> dict[str, Any]:
    if type(image) is not dict:
        raise _record_error(owner, root, f"expected an attribute map, got {short(image)}")
    try:
        return _reference_map(image)
    except _BadValueError as e:
        raise _record_error(owner, _format_path(root, e.path), e.cause) from None


def _reference_deserialize_value(value: Any, root: str = "value") -> Any:
    try:
        return _reference_value(value)
    except _BadValueError as e:
        raise _record_error(None, _format_path(root, e.path), e.cause) from None


def _reference_map(attributes: dict[str, Any]) -> dict[str, Any]:
    out = {}
    name = ""
    try:
        for name, value in attributes.items():
            out[name] = _reference_value(value)
    except _BadValueError as e:
        e.path.append(name)
        raise
    return out


def _reference_list(values: list[Any]) -> list[Any]:
    out = []
    index = 0
    try:
        for index, value in enumerate(values):  # noqa: B007 - index is read in the except clause
            out.append(_reference_value(value))
    except _BadValueError as e:
        e.path.append(index)
        raise
    return out


def _reference_number_set(values: list[Any]) -> list[int | float]:
    out = set()
    index = 0
    try:
        for index, value in enumerate(values):  # noqa: B007 - index is read in the except clause
            out.add(_reference_number(value))
    except _BadValueError as e:
        e.path.append(index)
        raise
    return sorted(out)


def _reference_binary_set(values: list[Any]) -> list[str]:
    by_bytes = {}
    index = 0
    try:
        for index, value in enumerate(values):  # noqa: B007 - index is read in the except clause
            by_bytes[_reference_decode(value)] = value
    except _BadValueError as e:
        e.path.append(index)
        raise
    return [by_bytes[key] for key in sorted(by_bytes)]


def _reference_value(value: Any) -> Any:  # noqa: PLR0911, PLR0912
    try:
        ((tag, inner),) = value.items()
    except (AttributeError, TypeError, ValueError):
        raise _BadValueError(
            f"expected one type tag and its value, such as {{'S': ...}}, got {short(value)}"
        ) from None
    if tag == "S":
        if type(inner) is str:
            return inner
    elif tag == "N":
        if type(inner) is str and inner.isdigit() and inner.isascii() and len(inner) <= _MAX_DIGITS:
            return int(inner)
        return _reference_number(inner)
    elif tag == "M":
        if type(inner) is dict:
            return _reference_map(inner)
    elif tag == "BOOL":
        if type(inner) is bool:
            return inner
    elif tag == "L":
        if type(inner) is list:
            return _reference_list(inner)
    elif tag == "NULL":
        if inner is True:
            return None
    elif tag == "SS":
        if type(inner) is list and all(type(item) is str for item in inner):
            return sorted(set(inner))
    elif tag == "NS":
        if type(inner) is list:
            return _reference_number_set(inner)
    elif tag == "B":
        return _reference_binary(inner)
    elif tag == "BS":
        if type(inner) is list:
            return _reference_binary_set(inner)
    else:
        raise _BadValueError(f"unknown type tag {tag!r} (expected S, N, B, BOOL, NULL, M, L, SS, NS or BS)")
    raise _BadValueError(f"{tag} value is {short(inner)}, {_EXPECTED[tag]}")


def _reference_number(text: Any) -> int | float:
    if type(text) is not str:
        raise _BadValueError(f"N value is {short(text)}, expected a number as a string")
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit() and digits.isascii() and len(digits) <= _MAX_DIGITS:
        return int(text)
    whole, dot, fraction = digits.partition(".")
    if dot and whole.isdigit() and fraction.isdigit() and digits.isascii() and len(digits) <= _MAX_DIGITS:
        if fraction.strip("0"):
            return float(text)
        return int(whole) if text[0] != "-" else -int(whole)
    if _NUMBER.fullmatch(text) is None:
        raise _BadValueError(f"N value {short(text)} is not a decimal number")
    number = Decimal(text)
    if number.is_zero():
        return 0
    exponent = number.adjusted()
    if not _MIN_EXPONENT <= exponent <= _MAX_EXPONENT:
        raise _BadValueError(f"N value {short(text)} is outside DynamoDB's number range (1E-130 .. 1E+126)")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _reference_binary(text: Any) -> str:
    if type(text) is str and len(text) % 4 == 0 and _BASE64.fullmatch(text) is not None:
        return text
    raise _BadValueError(f"B value {short(text)} is not base64 text")


def _reference_decode(text: Any) -> bytes:
    _reference_binary(text)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise _BadValueError(f"B value {short(text)} is not base64 text ({e})") from None


# --- Inputs: well-formed maps, and maps with every way of being malformed mixed in at any depth. ---

TAGS = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"]

names = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["id", "price", "a b", "lines", "ünïcode", "名前", "", "0x", "S", "N", "class"]),
)
plain_decimals = st.builds(
    lambda sign, whole, fraction: f"{sign}{whole}.{fraction}",
    st.sampled_from(["", "-"]),
    st.from_regex(r"[0-9]{1,18}", fullmatch=True),
    st.one_of(
        st.sampled_from(["0", "00", "5", "50", "25", "000"]), st.from_regex(r"[0-9]{1,18}", fullmatch=True)
    ),
)
valid_numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1).map(str),
    plain_decimals,
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.decimals(min_value=Decimal("-1E+100"), max_value=Decimal("1E+100"), allow_nan=False).map(str),
)
number_texts = st.one_of(
    valid_numbers,
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    # Near-plain numbers around the fast paths' edges: signs, zeros, 38 and 39 digits, dots, exponents.
    st.builds(
        lambda sign, whole, frac, exp: f"{sign}{whole}{frac}{exp}",
        st.sampled_from(["", "-", "+", "--", " "]),
        st.one_of(
            st.from_regex(r"[0-9]{0,6}", fullmatch=True), st.from_regex(r"[0-9]{35,40}", fullmatch=True)
        ),
        st.one_of(
            st.sampled_from(["", ".", ".0", ".00", ".5", ".50", ".000", ".25", ".5.5", "..5"]),
            st.from_regex(r"\.[0-9]{1,40}", fullmatch=True),
        ),
        st.sampled_from(["", "", "", "e3", "E-2", "e+0", "E126", "e-131", "E", "e+", "x"]),
    ),
    st.text(alphabet="0123456789.-+eE _\u0661\u00b2\u2070x", max_size=10),
    st.sampled_from(["", "-", ".", "-.", "NaN", "Infinity", "inf", " 1", "1 ", "+1", "1_0", "\u0661\u0662"]),
)
b64_texts = st.binary(max_size=9).map(lambda b: base64.b64encode(b).decode())
well_formed_scalars = st.one_of(
    st.text(max_size=8).map(lambda s: {"S": s}),
    valid_numbers.map(lambda n: {"N": n}),
    b64_texts.map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=4), max_size=4).map(lambda v: {"SS": v}),
    st.lists(valid_numbers, max_size=4).map(lambda v: {"NS": v}),
    st.lists(b64_texts, max_size=4).map(lambda v: {"BS": v}),
)
well_formed_values = st.recursive(
    well_formed_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6).map(lambda v: {"L": v}),
        st.dictionaries(names, children, max_size=6).map(lambda v: {"M": v}),
    ),
    max_leaves=30,
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    st.binary(max_size=3),
    st.just([]),
    st.just({}),
    st.lists(st.text(max_size=2), max_size=2),
)
bad_b64_texts = st.sampled_from(["", "abc", "not base64!", "AA=", "====", "A===", "AA==\n"])
malformed = st.one_of(
    # A known or unknown tag with a value of the wrong type, or a bad number or base64 text.
    st.builds(lambda tag, inner: {tag: inner}, st.sampled_from(TAGS), junk),
    st.builds(lambda tag, inner: {tag: inner}, st.sampled_from(["S", "N", "M", "L"]), junk),
    st.builds(lambda tag, inner: {tag: inner}, st.sampled_from(["X", "s", "n", "", "Ss"]), junk),
    number_texts.map(lambda n: {"N": n}),
    bad_b64_texts.map(lambda b: {"B": b}),
    # No tag, or several.
    st.just({}),
    st.dictionaries(st.sampled_from(TAGS), st.one_of(junk, st.text(max_size=3)), min_size=2, max_size=3),
    # Not a dict at all.
    junk,
    # Sets with one bad member.
    st.lists(st.one_of(st.text(max_size=3), junk), min_size=1, max_size=3).map(lambda v: {"SS": v}),
    st.lists(st.one_of(number_texts, junk), min_size=1, max_size=3).map(lambda v: {"NS": v}),
    st.lists(st.one_of(b64_texts, bad_b64_texts, junk), min_size=1, max_size=3).map(lambda v: {"BS": v}),
    # Mappings that are not plain dicts: the reference takes anything with a one-item ``items()``.
    well_formed_scalars.map(OrderedDict),
    well_formed_scalars.map(types.MappingProxyType),
)
any_values = st.recursive(
    st.one_of(well_formed_scalars, well_formed_scalars, malformed),
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda v: {"L": v}),
        st.dictionaries(names, children, max_size=5).map(lambda v: {"M": v}),
        # Containers of the wrong kind, and containers that are not plain dicts.
        st.dictionaries(names, children, max_size=2).map(lambda v: {"L": v}),
        st.lists(children, max_size=2).map(lambda v: {"M": v}),
        st.dictionaries(names, children, max_size=2).map(lambda v: OrderedDict(M=v)),
    ),
    max_leaves=20,
)


def _outcome(decode: Callable[..., Any], *args: Any) -> tuple[str, str]:
    """``("ok", repr)`` or ``("error", message)``; ``repr`` tells 1 from 1.0 from True, and keeps order."""
    try:
        return "ok", repr(decode(*args))
    except RecordError as e:
        return "error", str(e)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=st.dictionaries(names, well_formed_values, max_size=8))
def test_well_formed_map_decodes_exactly_as_the_reference(image: dict[str, Any]) -> None:
    # GIVEN a well-formed attribute map, nested at any depth
    # WHEN decoded by streambridge and by the reference
    new = _outcome(deserialize_map, image, "NewImage")

    # THEN it decodes, to the same values, type for type
    assert new[0] == "ok"
    assert new == _outcome(_reference_deserialize_map, image, "NewImage")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=st.dictionaries(names, any_values, max_size=6))
def test_any_map_decodes_exactly_as_the_reference(image: dict[str, Any]) -> None:
    # GIVEN an attribute map with malformed values anywhere in it (or none)
    # WHEN decoded by streambridge and by the reference
    new = _outcome(deserialize_map, image, "NewImage", lambda: "record #3")
    old = _outcome(_reference_deserialize_map, image, "NewImage", lambda: "record #3")

    # THEN both give the same value, type for type, or the same error message
    assert new == old


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(any_values, well_formed_values))
def test_value_decodes_exactly_as_the_reference(value: Any) -> None:
    # GIVEN any one attribute value / WHEN decoded by both / THEN the same value or the same error
    assert _outcome(deserialize_value, value) == _outcome(_reference_deserialize_value, value)


@settings(max_examples=100, deadline=None)
@given(image=st.one_of(junk, st.lists(any_values, max_size=2)))
def test_image_that_is_not_a_map_fails_as_the_reference(image: Any) -> None:
    # GIVEN an image that is not a dict / WHEN decoded by both / THEN the same error
    assert _outcome(deserialize_map, image, "OldImage") == _outcome(
        _reference_deserialize_map, image, "OldImage"
    )


# --- A fixed catalog: every fast path's edges and every kind of malformed value, in every position. ---

EDGE_NUMBERS = [
    *["0", "-0", "7", "-7", "42", "007", "-007", "9" * 38, "-" + "9" * 38, "9" * 39, "1" * 130],
    *["12.5", "12.50", "12.000", "-12.5", "-12.0", "0.0", "-0.0", "007.50", ".5", "5.", "-.5", "-5."],
    *[
        "1" * 36 + ".5",
        "1" * 37 + ".5",
        "1" * 37 + ".0",
        "1" * 38 + ".5",
        "1" * 130 + ".5",
        "0." + "0" * 130 + "1",
    ],
    *["1E+2", "1e2", "12.5e1", "1E-130", "1E-131", "1E+125", "1E+126", "9.99E+125", "-1E-130"],
    *["\u0661\u0662", "\u00b2", "1.\u0661", "\u0661.5", "1.5\u00b2", "\uff11", "1.\uff15"],
    *["", "-", ".", "-.", "+1", "+1.5", " 1", "1 ", "1_0", "1.5_0", "NaN", "inf", "Infinity", "0x10"],
    *["1.5.2", "--1", "1e", "1e+", "e5", "1.e5", ".e5"],
]
JUNK = [None, True, False, 0, 5, 1.5, "x", "", "12", b"x", [], {}, ["a"], [{"S": "a"}], {"S": "x"}]
CATALOG: list[Any] = [
    *({"N": text} for text in EDGE_NUMBERS),
    *({"NS": [text]} for text in EDGE_NUMBERS),
    *({tag: inner} for tag in [*TAGS, "X", "s", ""] for inner in JUNK),
    *[{}, {"S": "a", "N": "1"}, {"N": "1", "S": "a"}, {"M": {}, "L": []}, "S", ["S"], ("S", "x"), None, 5],
    *[OrderedDict(S="x"), OrderedDict(N="1"), types.MappingProxyType({"S": "x"})],
    types.MappingProxyType({"M": {"a": {"N": "1"}}}),
    *[{"S": "x"}, {"M": {}}, {"L": []}, {"BOOL": True}, {"NULL": True}, {"B": "AA=="}, {"SS": ["b", "a"]}],
]


def _positions(value: Any) -> list[dict[str, Any]]:
    """``value`` alone, behind fast-path values, in a nested map, and in lists (at index 0 and 2)."""
    return [
        {"v": value},
        {"ok": {"S": "x"}, "n": {"N": "1"}, "d": {"N": "2.5"}, "v": value, "after": {"N": "bad"}},
        {"m": {"M": {"a": {"N": "2.5"}, "v": value}}},
        {"l": {"L": [value]}},
        {"l": {"L": [{"S": "a"}, {"M": {"x": {"N": "1"}}}, value, {"N": "bad"}]}},
    ]


def test_catalog_decodes_exactly_as_the_reference() -> None:
    # GIVEN each catalog value in each position
    mismatches = []
    for value in CATALOG:
        for image in _positions(value):
            # WHEN decoded by streambridge and by the reference
            new = _outcome(deserialize_map, image, "NewImage")
            old = _outcome(_reference_deserialize_map, image, "NewImage")
            if new != old:
                mismatches.append((image, new, old))
        new = _outcome(deserialize_value, value)
        old = _outcome(_reference_deserialize_value, value)
        if new != old:
            mismatches.append((value, new, old))

    # THEN every outcome is the same
    assert mismatches == []
