"""Variables are written by orjson when it can, by json otherwise: the two must never disagree."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streambridge import MappingError
from streambridge._sources import SOURCES
from streambridge._targets.values import _ENCODER
from streambridge._targets.values import to_json as _to_json
from streambridge.testing import events

RECORD = SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": {"id": "a"}}]))[0]


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


def written(value: Any) -> Any:
    return json.loads(_to_json(RECORD, "input", value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"amount": decimal.Decimal("12.50"), "qty": decimal.Decimal(3)}, {"amount": 12.5, "qty": 3}),
        ({"at": datetime.datetime(2026, 11, 25, 14, 0, 1, 5)}, {"at": "2026-11-25T14:00:01.000005"}),
        ({"on": datetime.date(2026, 11, 25)}, {"on": "2026-11-25"}),
        ({"color": Color.RED}, {"color": "red"}),
        ({"id": uuid.UUID(int=1)}, {"id": "00000000-0000-0000-0000-000000000001"}),
        ({"tags": {"b", "a"}}, {"tags": ["a", "b"]}),
        ({"blob": b"\x00\x01"}, {"blob": "AAE="}),
        ({"big": 2**70, "neg": -(2**65)}, {"big": 2**70, "neg": -(2**65)}),  # beyond orjson's 64 bits
        ({1: "one", None: "none"}, {"1": "one", "null": "none"}),  # keys as json writes them
        ({True: "yes"}, {"true": "yes"}),
        ({"missing": None, "text": "null"}, {"missing": None, "text": "null"}),
        ({"name": "Zoë ☃ \u2028"}, {"name": "Zoë ☃ \u2028"}),
    ],
)
def test_values_a_mapping_function_commonly_returns_are_written(value: Any, expected: Any) -> None:
    assert written(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"amount": math.nan},  # orjson would write null: it must be refused, as json refuses it
        {"amount": math.inf},
        [-math.inf],
        {"point": Point(1)},
        {"thing": object()},
    ],
)
def test_values_json_cannot_carry_are_refused_with_the_record_and_variable_named(value: Any) -> None:
    with pytest.raises(MappingError, match=r"record #0.*variable 'input' cannot be sent as JSON"):
        _to_json(RECORD, "input", value)


def test_a_circular_value_is_refused() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(MappingError, match="cannot be sent as JSON"):
        _to_json(RECORD, "input", loop)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()  # NaN and infinities included
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_orjson_and_json_agree_on_every_plain_value(value: Any) -> None:
    # GIVEN the json module's answer: its text, or its refusal
    try:
        expected: Any = json.loads(_ENCODER.encode(value))
    except ValueError:
        expected = MappingError
    # WHEN the variables writer writes it
    try:
        actual: Any = written(value)
    except MappingError:
        actual = MappingError
    # THEN both say the same (floats compare by value: the two may spell them differently)
    assert actual == expected
