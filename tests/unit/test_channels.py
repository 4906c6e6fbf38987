"""The Event API target alone: channels, sizes, the request body, and reading the answer."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streambridge import (
    AuthorizationError,
    ChannelEvent,
    ChannelEventError,
    MappingError,
    PayloadTooLargeError,
    ServerError,
    ThrottledError,
)
from streambridge._errors import is_retryable
from streambridge._io.transport import HttpResponse
from streambridge._sources.dynamodb import DynamoDBRecord
from streambridge._targets.channels import MAX_EVENTS, ChannelTarget, check_channel, interpret
from streambridge.testing import events

RECORD = DynamoDBRecord(events.dynamodb([{"new_image": {"id": "r1"}}])["Records"][0], 0)


def answer(status: int, body: object) -> HttpResponse:
    return HttpResponse(status, {}, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("channel", "published"),
    [
        ("/rooms/r1", "/rooms/r1"),
        ("rooms/r1", "/rooms/r1"),
        ("/a/b/c/d/e", "/a/b/c/d/e"),
        ("/default", "/default"),
    ],
)
def test_a_channel_is_published_with_its_leading_slash(channel: str, published: str) -> None:
    assert check_channel(channel) == published


@pytest.mark.parametrize(
    "channel",
    [
        "",
        "/",
        "/rooms/",
        "/rooms//r1",
        "/a/b/c/d/e/f",
        "/rooms/r_1",
        "/rooms/r 1",
        "/rooms/-r1",
        "/rooms/*",
        "/" + "x" * 51,
    ],
)
def test_a_channel_the_service_would_refuse_is_refused_first(channel: str) -> None:
    with pytest.raises(ValueError, match="channel"):
        check_channel(channel)


def test_payloads_go_to_the_decorator_channel_or_their_own() -> None:
    target = ChannelTarget(lambda record: f"/rooms/{record.new_image['id']}")
    assert [e.channel for e in target.prepare(RECORD, {"text": "hi"})] == ["/rooms/r1"]
    assert [e.channel for e in target.prepare(RECORD, [1, ChannelEvent("/other/x", 2)])] == [
        "/rooms/r1",
        "/other/x",
    ]
    assert target.prepare(RECORD, None) == []
    with pytest.raises(MappingError, match="no channel"):
        ChannelTarget().prepare(RECORD, {"text": "hi"})
    with pytest.raises(MappingError, match="segment"):
        ChannelTarget("/rooms/r1").prepare(RECORD, ChannelEvent("/rooms/bad_id", 1))
    with pytest.raises(MappingError, match="channel function raised KeyError"):
        ChannelTarget(lambda record: record.new_image["room"]).prepare(RECORD, 1)


def test_an_event_over_240_kb_is_failed_before_sending() -> None:
    with pytest.raises(PayloadTooLargeError, match="240"):
        ChannelTarget("/rooms/r1").prepare(RECORD, "x" * 240_000)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.none() | st.text() | st.integers(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
        ),
        min_size=1,
        max_size=MAX_EVENTS,
    )
)
def test_the_body_is_the_documented_shape_and_sizes_bound_it(payloads: list[object]) -> None:
    target = ChannelTarget("/rooms/r1")
    items = [
        event for payload in payloads for event in target.prepare(RECORD, ChannelEvent("/rooms/r1", payload))
    ]
    rendered = target.render(items)
    body = json.loads(rendered.body)
    # THEN {"channel": ..., "events": ["<JSON text>", ...]}, each event the payload's JSON text
    assert body["channel"] == "/rooms/r1"
    assert [json.loads(text) for text in body["events"]] == payloads
    assert rendered.keys == len(items)
    assert len(rendered.body) <= 64 + sum(item.size for item in items)  # the batcher's bound holds


def test_the_answer_is_read_by_index() -> None:
    body = {
        "successful": [{"identifier": "a", "index": 0}, {"identifier": "c", "index": 2}],
        "failed": [{"identifier": "b", "index": 1, "errorCode": 400, "errorMessage": "bad event"}],
    }
    result = interpret(answer(200, body), 4)
    assert result.request_error is None
    assert isinstance(result.errors[1], ChannelEventError)
    assert not is_retryable(result.errors[1])
    assert isinstance(result.errors[3], ServerError)  # neither answered nor blamed: never counted published
    assert set(result.errors) == {1, 3}


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (401, AuthorizationError, False),
        (403, AuthorizationError, False),
        (429, ThrottledError, True),
        (500, ServerError, True),
        (503, ServerError, True),
        (408, ServerError, True),
        (400, ChannelEventError, False),
    ],
)
def test_request_level_statuses(status: int, kind: type[Exception], retryable: bool) -> None:
    result = interpret(answer(status, {"errors": [{"errorType": "X", "message": "no"}]}), 2)
    assert isinstance(result.request_error, kind)
    assert is_retryable(result.request_error) is retryable


def test_a_throttled_event_is_retryable() -> None:
    for code in (429, "TooManyRequestsException"):
        body = {"successful": [], "failed": [{"index": 0, "errorCode": code, "errorMessage": "slow"}]}
        assert isinstance(interpret(answer(200, body), 1).errors[0], ThrottledError)


@pytest.mark.parametrize(
    ("result", "payloads"),
    [
        ([[1, 2, 3]], [[1, 2, 3]]),
        ([["a", "b"]], [["a", "b"]]),
        ([[1], {"x": 1}, None], [[1], {"x": 1}]),
        ([1, 2], [1, 2]),
    ],
)
def test_a_list_in_a_list_is_one_event_whose_payload_is_that_array(result: object, payloads: list) -> None:
    # GIVEN a mapping result that is a list whose items may be lists (docs/channels.md: [[...]] is one event)
    target = ChannelTarget("/rooms/r1")
    # WHEN prepared
    planned = target.prepare(RECORD, result)
    # THEN each item of the outer list is one event, an inner list its payload whole
    assert [json.loads(json.loads(event.quoted)) for event in planned] == payloads


def test_a_list_of_lists_of_channel_events_is_refused_not_published_as_arrays() -> None:
    target = ChannelTarget("/rooms/r1")
    with pytest.raises(MappingError, match="flat list of ChannelEvent"):
        target.prepare(RECORD, [[ChannelEvent("/rooms/a", 1)]])


def test_an_answer_with_indexes_of_the_wrong_kind_is_read_without_raising() -> None:
    # GIVEN an answer whose indexes are a list, a string and a bool (no documented answer has them)
    body = {"successful": [{"index": [0]}, {"index": "1"}, {"index": True}], "failed": [{"index": [1]}]}
    # WHEN read
    result = interpret(answer(200, body), 2)
    # THEN no event counts as published on their word: each is tried again
    assert set(result.errors) == {0, 1}
    assert all(is_retryable(error) for error in result.errors.values())
