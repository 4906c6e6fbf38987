"""Faults below and above HTTP, through the real aiohttp transport: nothing lost, nothing reordered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge import (
    ApiKeyAuth,
    AuthorizationError,
    Bridge,
    HeldBackError,
    InvocationResult,
    RetryPolicy,
    ServerError,
    Status,
)
from streambridge.testing import events

from .conftest import PUBLISH
from .faulty_appsync import (
    GARBAGE,
    RESET_AFTER,
    RESET_BEFORE,
    Fault,
    FaultyAppSync,
    faulty_appsync,
    field_errors,
    slow,
    status,
)

HTML_500 = b"<html><head><title>500 Internal Server Error</title></head><body>oops</body></html>"
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.01)


@pytest.fixture
def server() -> Iterator[FaultyAppSync]:
    with faulty_appsync() as running:
        yield running


def publish(
    server: FaultyAppSync, changes: list[tuple[str, str]], context: Any = None, **settings: Any
) -> Any:
    settings.setdefault("retry", FAST_RETRY)
    bridge = Bridge(server.url, ApiKeyAuth("da2-key"), **settings)

    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    try:
        return handler.process(
            events.dynamodb([{"new_image": {"id": k, "status": s}} for k, s in changes]), context
        )
    finally:
        bridge.close()


def executed(server: FaultyAppSync, key: str) -> list[str]:
    return [e["status"] for e in server.executed if e["id"] == key]


@pytest.mark.parametrize(
    "fault",
    [
        status(429, b"", **{"Retry-After": "0"}),
        status(429, b'{"errors":[{"errorType":"ThrottlingException","message":"Rate exceeded"}]}'),
        status(500, HTML_500, **{"content-type": "text/html"}),
        status(502, b"<html>Bad Gateway</html>"),
        status(503, b"<html>Service Unavailable</html>"),
        RESET_BEFORE,
        RESET_AFTER,
        slow(1.0),
        GARBAGE,
    ],
    ids=[
        "429-retry-after",
        "429",
        "500-html",
        "502",
        "503",
        "reset-before-read",
        "reset-after-read",
        "slow",
        "malformed-json",
    ],
)
def test_a_transient_fault_is_retried_and_nothing_is_lost_or_reordered(
    server: FaultyAppSync, fault: Fault
) -> None:
    # GIVEN the first request meets a transient fault
    server.schedule(fault)
    # WHEN three changes of one order and one of another are published
    result = publish(server, [("a", "1"), ("b", "1"), ("a", "2"), ("a", "3")], request_timeout=0.3)
    # THEN everything is published, each order in source order, after one retry
    assert result.published == 4, [o.explain() for o in result.failures]
    assert result.retries == 1
    assert executed(server, "a") == ["1", "2", "3"]


@pytest.mark.parametrize("code", [401, 403])
def test_refused_credentials_are_not_retried(server: FaultyAppSync, code: int) -> None:
    server.schedule(status(code, b'{"errors":[{"errorType":"UnauthorizedException","message":"no"}]}'))
    result = publish(server, [("a", "1"), ("a", "2")])
    assert result.requests == 1
    assert isinstance(result.outcomes[0].error, AuthorizationError)
    assert isinstance(result.outcomes[1].error, HeldBackError)


def test_graphql_errors_on_some_aliases_fail_only_their_records(server: FaultyAppSync) -> None:
    # GIVEN AppSync fails the second mutation of the first request
    server.schedule(field_errors("m1"))
    # WHEN a, b, c are published, then a later change of b
    result = publish(server, [("a", "1"), ("b", "1"), ("c", "1"), ("b", "2")])
    # THEN only b's records fail (the second held back), with their exact identifiers
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED,
        Status.FAILED,
        Status.PUBLISHED,
        Status.FAILED,
    ]
    assert isinstance(result.outcomes[3].error, HeldBackError)
    assert executed(server, "b") == []


def test_exhausted_retries_fail_the_record_and_hold_back_its_key(server: FaultyAppSync) -> None:
    server.schedule(*[status(503, b"down")] * 4)
    result = publish(server, [("a", "1"), ("a", "2"), ("b", "1")], batch_size=1, concurrency=1)
    assert isinstance(result.outcomes[0].error, ServerError)
    assert isinstance(result.outcomes[1].error, HeldBackError)
    assert result.outcomes[2].status is Status.PUBLISHED
    identifiers = [f["itemIdentifier"] for f in result.batch_item_failures()]
    assert identifiers == [
        result.outcomes[0].record.item_identifier,
        result.outcomes[1].record.item_identifier,
    ]


def test_a_slow_appsync_never_makes_the_invocation_overrun(server: FaultyAppSync) -> None:
    # GIVEN every request answers after 0.4 s and the Lambda has 1 s left
    server.schedule(*[slow(0.4)] * 20)
    started = time.monotonic()
    result = publish(server, [("a", str(i)) for i in range(10)], events.lambda_context(timeout_ms=1000),
                     deadline_margin=0.2)  # fmt: skip
    # THEN it returns before the deadline, with what was not published reported failed
    assert time.monotonic() - started < 1.0
    assert result.failed >= 8
    assert result.published + result.failed == 10


FAULTS = st.sampled_from(
    [
        status(429, b"", **{"Retry-After": "0"}),
        status(503, b"<html>busy</html>"),
        status(500, HTML_500),
        RESET_BEFORE,
        RESET_AFTER,
        GARBAGE,
        field_errors("m0"),
        field_errors("m1", "m2"),
        slow(0.3),
    ]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.lists(st.integers(0, 4), min_size=1, max_size=25),
    poison=st.sets(st.integers(0, 24), max_size=3),
    faults=st.lists(FAULTS, max_size=5),
    per_key=st.sampled_from([1, 2]),
)
def test_random_fault_schedules_lose_and_reorder_nothing(
    keys: list[int], poison: set[int], faults: list[Fault], per_key: int
) -> None:
    # GIVEN random keys, poison records (rejected by the resolver) and a random fault schedule
    changes = [(f"k{key}", "POISON" if n in poison else str(n)) for n, key in enumerate(keys)]
    with faulty_appsync() as server:
        server.reject = lambda order: "poison" if order.get("status") == "POISON" else None
        server.schedule(*faults)
        started = time.monotonic()
        result: InvocationResult = publish(server, changes, events.lambda_context(timeout_ms=3000),
                                           request_timeout=0.2, per_key=per_key, batch_size=4,
                                           deadline_margin=0.3)  # fmt: skip
        elapsed = time.monotonic() - started
    # THEN every record ends once; per key, what ended well is a prefix of the input order
    assert [o.record.index for o in result.outcomes] == list(range(len(changes)))
    for key in {k for k, _ in changes}:
        ok = [
            o.status is Status.PUBLISHED
            for o, (k, _) in zip(result.outcomes, changes, strict=True)
            if k == key
        ]
        assert ok == sorted(ok, reverse=True)
        # AND AppSync executed that key's changes in input order (a retry may repeat one: at least once)
        seen = executed(server, key)
        order = [s for k, s in changes if k == key]
        firsts = [s for i, s in enumerate(seen) if s not in seen[:i]]
        assert [order.index(s) for s in firsts] == sorted(order.index(s) for s in firsts)
        published = [s for o, (k, s) in zip(result.outcomes, changes, strict=True)
                     if k == key and o.status is Status.PUBLISHED]  # fmt: skip
        assert firsts[: len(published)] == published
    # AND the poison records and only failed records are reported, never with an empty identifier
    assert all(
        o.status is Status.FAILED for o, (_, s) in zip(result.outcomes, changes, strict=True) if s == "POISON"
    )
    assert len(result.batch_item_failures()) == result.failed
    assert all(f["itemIdentifier"] for f in result.batch_item_failures())
    # AND the deadline is never overrun
    assert elapsed < 3.0
