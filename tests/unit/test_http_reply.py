"""The HTTP answer to a request's outcomes: which status wins, what the body says, what it never says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streambridge._engine.http_reply import RETRY_AFTER, reply
from streambridge._engine.result import InvocationResult, RecordOutcome, Status
from streambridge._errors import (
    AuthorizationError,
    ConfigurationError,
    DeadlineExceededError,
    GraphQLError,
    HeldBackError,
    MappingError,
    PayloadTooLargeError,
    PublishError,
    StreambridgeError,
    ThrottledError,
    WrongEndpointError,
)
from streambridge._sources.http import read
from streambridge.testing import events


def outcomes(*errors: StreambridgeError | None) -> InvocationResult:
    """One item per error (None: published), each error about its item as the engine attaches it."""
    items = read(events.http([{"i": n} for n in range(len(errors))])).items
    settled = []
    for item, error in zip(items, errors, strict=True):
        if error is None:
            settled.append(RecordOutcome(item, Status.PUBLISHED))
        else:
            settled.append(RecordOutcome(item, Status.FAILED, error.about(item)))
    return InvocationResult("http", tuple(settled), 1, 0, 0.01)


def status_and_body(result: InvocationResult) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = reply(result)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


REJECTED = "AppSync rejected the mutation: PoisonError: poison record"
REFUSED = GraphQLError(REJECTED)
HELD = HeldBackError("not sent because HTTP record #0 (item-0) of the same partition key failed")
HELD_TEXT = "not sent because item 0 of the same partition key failed"


@pytest.mark.parametrize(
    ("errors", "status"),
    [
        ((None, None), 200),
        ((REFUSED, HELD), 422),
        ((MappingError("mapping function raised KeyError: 'id'"), None), 422),
        ((PayloadTooLargeError("over 240 KB"),), 422),
        ((REFUSED, ThrottledError("throttled")), 503),
        ((DeadlineExceededError("not sent: the Lambda deadline was too near"),), 503),
        ((HELD,), 503),  # behind no failure of its own request: sending again may work
        ((REFUSED, ThrottledError("throttled"), AuthorizationError("HTTP 401")), 500),
        ((WrongEndpointError("HTTP 404", status=404),), 500),
        ((ConfigurationError("no credentials"),), 500),
        ((PublishError("internal error: record left unsettled"),), 500),
    ],
)
def test_the_most_serious_failure_decides_the_status(errors: tuple[Any, ...], status: int) -> None:
    got, body, headers = status_and_body(outcomes(*errors))
    assert got == status
    assert ("retry-after" in headers) == (status == 503)
    if status != 200:
        assert body["error"] == "not_published"
        assert [f["index"] for f in body["failures"]] == [i for i, e in enumerate(errors) if e is not None]


def test_retry_after_is_appsyncs_longest_rounded_up_else_the_default() -> None:
    assert status_and_body(outcomes(ThrottledError("t", retry_after=0.2)))[2]["retry-after"] == "1"
    both = outcomes(ThrottledError("t", retry_after=2.5), ThrottledError("t", retry_after=1.0))
    assert status_and_body(both)[2]["retry-after"] == "3"
    assert status_and_body(outcomes(ThrottledError("t")))[2]["retry-after"] == str(RETRY_AFTER)


def test_an_items_own_failure_says_why_without_naming_the_record_twice() -> None:
    _, body, _ = status_and_body(outcomes(REFUSED, HELD))
    assert body["failures"] == [
        {"index": 0, "error": "GraphQLError", "message": REJECTED},
        {
            "index": 1,
            "error": "HeldBackError",
            "message": "not sent because item 0 of the same partition key failed",
        },
    ]
    assert body["message"] == "2 of 2 items were not published"


def test_the_functions_own_failures_are_told_in_general_words() -> None:
    secret = "x-api-key: da2-abcdef from https://abc.appsync-api.eu-west-1.amazonaws.com/graphql"
    _, body, _ = status_and_body(outcomes(AuthorizationError(secret), ThrottledError(secret)))
    text = json.dumps(body)
    assert "da2-abcdef" not in text
    assert "appsync-api" not in text
    assert [f["message"] for f in body["failures"]] == [
        "the function could not publish it (its configuration or credentials); its log says why",
        "AppSync throttled the publishing; retry later",
    ]


def test_an_items_message_is_redacted_and_cut() -> None:
    leaky = MappingError("raised ValueError: Authorization: Bearer eyJ.secret")
    long = MappingError("raised ValueError: " + "x" * 1000)
    _, body, _ = status_and_body(outcomes(leaky, long))
    first, second = (f["message"] for f in body["failures"])
    assert first == "raised ValueError: Authorization: ***"
    assert len(second) == 300
    assert second.endswith("...")


def test_dead_letters_answer_202_and_are_listed() -> None:
    (item,) = read(events.http({"i": 0})).items
    letter = RecordOutcome(item, Status.DEAD_LETTERED, REFUSED.about(item))
    status, body, _ = status_and_body(InvocationResult("http", (letter,), 1, 0, 0.01))
    assert status == 202
    assert body["deadLetters"] == [
        {
            "index": 0,
            "error": "GraphQLError",
            "message": "AppSync rejected the mutation: PoisonError: poison record",
        }
    ]
