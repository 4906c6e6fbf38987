"""Every call streambridge makes to an idempotency store or a dead-letter sink runs under the deadline.

The stores are synchronous (boto3): a slow one must not make the invocation outlive Lambda's timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from streambridge import Bridge, GraphQLError, Status
from streambridge._stores.deadletter import DeadLetter
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH

TIMEOUT_MS = 1_500
SLOW = 2.5  # seconds a slow store takes: longer than the whole invocation may


class SlowStore:
    """An idempotency store that answers after ``SLOW`` seconds (or at once when told)."""

    def __init__(self, *, slow_lookup: bool = True, slow_remember: bool = True) -> None:
        self.slow_lookup = slow_lookup
        self.slow_remember = slow_remember
        self.released = threading.Event()  # set at the test's end so no thread outlives it by much
        self.remembered: list[str] = []

    def published(self, keys: Sequence[str]) -> set[str]:
        if self.slow_lookup:
            self.released.wait(SLOW)
        return set()

    def remember(self, keys: Sequence[str]) -> None:
        if self.slow_remember:
            self.released.wait(SLOW)
        self.remembered.extend(keys)


class SlowSink:
    def __init__(self) -> None:
        self.released = threading.Event()

    def send(self, letters: Sequence[DeadLetter]) -> set[int]:
        self.released.wait(SLOW)
        return set()


def orders(*changes: tuple[str, str]) -> dict[str, Any]:
    return events.dynamodb([{"new_image": {"id": k, "status": s}} for k, s in changes])


def run(bridge: Bridge, event: dict[str, Any]) -> tuple[Any, float]:
    handler = bridge.dynamodb(PUBLISH)(lambda record: {"input": record.new_image})
    context = events.lambda_context(timeout_ms=TIMEOUT_MS)
    started = time.monotonic()
    result = handler.process(event, context)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("lookup", "remember"), [(True, False), (False, True), (True, True)], ids=["lookup", "remember", "both"]
)
def test_a_slow_idempotency_store_does_not_outlive_the_deadline(
    make_bridge: Callable[..., Bridge],
    appsync: FakeAppSync,
    caplog: pytest.LogCaptureFixture,
    lookup: bool,
    remember: bool,
) -> None:
    # GIVEN an idempotency store slower than the whole Lambda timeout, and 1.5 s left
    store = SlowStore(slow_lookup=lookup, slow_remember=remember)
    bridge = make_bridge(idempotency=store)
    try:
        # WHEN an invocation publishes two records
        with caplog.at_level(logging.WARNING, logger="streambridge"):
            result, took = run(bridge, orders(("a", "NEW"), ("b", "NEW")))
    finally:
        store.released.set()
    # THEN it returns before the deadline, and the records are published at least once
    assert took < TIMEOUT_MS / 1000, took
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.PUBLISHED]
    assert sorted(appsync.published_values()) == ["a", "b"]
    assert "idempotency store" in caplog.text


def test_a_slow_dead_letter_sink_reports_its_letters_failed_before_the_deadline(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a dead-letter sink slower than the whole Lambda timeout
    sink = SlowSink()
    bridge = make_bridge(dead_letter=sink)
    try:
        # WHEN a poison record is to be dead-lettered
        result, took = run(bridge, orders(("a", "POISON"), ("b", "NEW")))
    finally:
        sink.released.set()
    # THEN the invocation returns before the deadline and nothing is lost: the letter is reported failed
    assert took < TIMEOUT_MS / 1000, took
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED]
    assert isinstance(result.outcomes[0].error, GraphQLError)  # its own reason, not the hard stop's
    assert result.batch_item_failures() == [{"itemIdentifier": result.outcomes[0].record.item_identifier}]
