"""The DynamoDB attribute-value converter, checked against boto3's own TypeDeserializer."""

from __future__ import annotations

import base64
import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streambridge._errors import RecordError
from streambridge._sources._attributes import deserialize_map, deserialize_value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _dynamodb_number(d: Decimal) -> bool:
    # What boto3's DYNAMODB_CONTEXT accepts: 38 digits as written, bounded exponent.
    return len(d.as_tuple().digits) <= 38 and (d.is_zero() or -128 <= d.adjusted() <= 125)


numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).filter(_dynamodb_number).map(str),
    # Text forms str(Decimal) never writes: leading zeros, bare fraction, trailing point, lower-case e.
    st.builds(
        lambda sign, whole, frac, exp: f"{sign}{whole}{frac}{exp}",
        st.sampled_from(["", "-"]),
        st.from_regex(r"[0-9]{1,12}", fullmatch=True),
        st.sampled_from(["", ".", ".5", ".000", ".25"]),
        st.sampled_from(["", "e3", "E-2", "e+0"]),
    ),
)
binaries = st.binary(max_size=24)
scalars = st.one_of(
    st.text(max_size=12).map(lambda s: {"S": s}),
    numbers.map(lambda n: {"N": n}),
    binaries.map(lambda b: {"B": _b64(b)}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True).map(lambda v: {"SS": v}),
    st.lists(numbers, min_size=1, max_size=5, unique_by=Decimal).map(lambda v: {"NS": v}),
    st.lists(binaries, min_size=1, max_size=5, unique=True).map(lambda v: {"BS": [_b64(b) for b in v]}),
)
attribute_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(st.text(max_size=8), children, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=16,
)
images = st.dictionaries(st.text(min_size=1, max_size=8), attribute_values, max_size=6)


def _as_botocore_sends(value: dict[str, Any]) -> dict[str, Any]:
    """The low-level client hands TypeDeserializer bytes for B/BS; the stream JSON has base64 text."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": base64.b64decode(inner)}
    if tag == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if tag == "M":
        return {"M": {k: _as_botocore_sends(v) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [_as_botocore_sends(v) for v in inner]}
    return value


def _plain(value: Any) -> Any:  # noqa: PLR0911
    """boto3's Decimal / set / Binary, converted the way streambridge promises."""
    from boto3.dynamodb.types import Binary

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):
        return _b64(bytes(value.value))
    if isinstance(value, set):
        items = list(value)
        if items and isinstance(items[0], Binary):
            return [_b64(b) for b in sorted(bytes(i.value) for i in items)]
        return sorted(_plain(i) for i in items)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(image=images)
def test_matches_boto3_type_deserializer(image: dict[str, Any]) -> None:
    from boto3.dynamodb.types import TypeDeserializer

    # GIVEN an attribute map as a DynamoDB stream delivers it
    deserializer = TypeDeserializer()
    expected = {k: _plain(deserializer.deserialize(_as_botocore_sends(v))) for k, v in image.items()}

    # WHEN streambridge converts it
    converted = deserialize_map(image, "NewImage")

    # THEN it equals boto3's result, type for type (1 is not 1.0), and is valid JSON
    assert json.dumps(converted, sort_keys=True, allow_nan=False) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("101", 101),
        ("-7", -7),
        ("0", 0),
        ("-0", 0),
        ("1.0", 1),
        ("1E+2", 100),
        ("12.5", 12.5),
        ("12.50", 12.5),
        ("007.50", 7.5),
        ("12.000", 12),
        ("-12.0", -12),
        ("-0.001", -0.001),
        ("99999999999999999999999999999999999999", 99999999999999999999999999999999999999),
        ("1E-130", 1e-130),
        ("9.9999999999999999999999999999999999999E+125", 99999999999999999999999999999999999999 * 10**88),
    ],
)
def test_numbers_are_int_when_integral_else_float(text: str, expected: float) -> None:
    # GIVEN a DynamoDB number / WHEN converted
    value = deserialize_value({"N": text})

    # THEN integral values are exact ints, the rest floats
    assert value == expected
    assert type(value) is type(expected)


def test_sets_become_sorted_lists() -> None:
    # GIVEN string, number and binary sets in no particular order
    image = {
        "tags": {"SS": ["b", "a", "c"]},
        "sizes": {"NS": ["10", "-1.5", "2"]},
        "blobs": {"BS": [_b64(b"\x02"), _b64(b"\x01\xff"), _b64(b"\x01")]},
    }

    # WHEN converted
    converted = deserialize_map(image)

    # THEN each is a sorted list (binary sets by their bytes, kept as base64 text)
    assert converted == {
        "tags": ["a", "b", "c"],
        "sizes": [-1.5, 2, 10],
        "blobs": [_b64(b"\x01"), _b64(b"\x01\xff"), _b64(b"\x02")],
    }


def test_binary_stays_base64_text() -> None:
    # GIVEN a B value as the stream JSON carries it / WHEN converted / THEN the text is kept as is
    assert deserialize_value({"B": "AAEC/w=="}) == "AAEC/w=="


@pytest.mark.parametrize(
    ("image", "path", "cause"),
    [
        ({"price": {"N": "abc"}}, "NewImage.price", "is not a decimal number"),
        ({"price": {"N": "NaN"}}, "NewImage.price", "is not a decimal number"),
        ({"price": {"N": "1E+999"}}, "NewImage.price", "outside DynamoDB's number range"),
        ({"price": {"N": 12}}, "NewImage.price", "expected a number as a string"),
        ({"name": {"S": 5}}, "NewImage.name", "expected a string"),
        ({"blob": {"B": "not base64!"}}, "NewImage.blob", "is not base64 text"),
        ({"blob": {"B": "abc"}}, "NewImage.blob", "is not base64 text"),
        ({"flag": {"BOOL": "true"}}, "NewImage.flag", "expected true or false"),
        ({"gone": {"NULL": False}}, "NewImage.gone", "expected true"),
        ({"x": {"X": 1}}, "NewImage.x", "unknown type tag 'X'"),
        ({"x": {}}, "NewImage.x", "expected one type tag"),
        ({"x": {"S": "a", "N": "1"}}, "NewImage.x", "expected one type tag"),
        ({"x": "plain"}, "NewImage.x", "expected one type tag"),
        ({"m": {"M": []}}, "NewImage.m", "expected an attribute map"),
        ({"l": {"L": {}}}, "NewImage.l", "expected a list of attribute values"),
        ({"tags": {"SS": ["a", 1]}}, "NewImage.tags", "expected a list of strings"),
        ({"sizes": {"NS": ["1", "x"]}}, "NewImage.sizes[1]", "is not a decimal number"),
        ({"blobs": {"BS": ["AA==", "!"]}}, "NewImage.blobs[1]", "is not base64 text"),
        (
            {"address": {"M": {"lines": {"L": [{"S": "ok"}, {"N": "x"}]}}}},
            "NewImage.address.lines[1]",
            "is not a decimal number",
        ),
        ({"a b": {"N": "x"}}, "NewImage['a b']", "is not a decimal number"),
        (
            {"lines": {"L": [{"M": {"qty": {"N": "1"}}}, {"S": "a"}, {"M": {"qty": {"N": "1", "S": "1"}}}]}},
            "NewImage.lines[2].qty",
            "expected one type tag",
        ),
        ({"ok": {"S": "a"}, "n": {"N": "1"}, "name": {"S": None}}, "NewImage.name", "expected a string"),
    ],
)
def test_malformed_value_names_path_and_cause(image: dict[str, Any], path: str, cause: str) -> None:
    # GIVEN an image with one malformed value
    # WHEN converted
    with pytest.raises(RecordError) as caught:
        deserialize_map(image, "NewImage", lambda: "DynamoDB Streams record #3 (seq 42)")

    # THEN the error names the record, the attribute path and the cause
    message = str(caught.value)
    assert message.startswith("DynamoDB Streams record #3 (seq 42): attribute ")
    assert f"attribute {path}: " in message
    assert cause in message


def test_image_that_is_not_a_map_is_a_record_error() -> None:
    # GIVEN an image that is a list / WHEN converted / THEN RecordError, not TypeError
    with pytest.raises(RecordError, match="attribute OldImage: expected an attribute map"):
        deserialize_map([{"S": "x"}], "OldImage")


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["S", "N", "B", "M", "L", "SS", "NS", "BS", "x"]), children, max_size=2
        ),
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(image=st.dictionaries(st.text(max_size=3), json_values, max_size=4))
def test_any_json_gives_a_value_or_a_record_error(image: dict[str, Any]) -> None:
    # GIVEN any JSON at all in place of an image
    # WHEN converted
    # THEN the only failure is RecordError (never a bare KeyError, TypeError or binascii.Error)
    with contextlib.suppress(RecordError):
        json.dumps(deserialize_map(image), allow_nan=False)
