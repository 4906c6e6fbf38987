"""The dispatcher's edges: callables that raise mid-retry, the circuit breaker's probe, the retry budget's
start. Each on virtual time, through the whole handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streambridge import (
    Bridge,
    CredentialsUnavailableError,
    HttpResponse,
    InvocationResult,
    RetryPolicy,
    Status,
    TokenAuth,
)
from streambridge._engine import governor, publish
from streambridge.testing import FakeAppSync, VirtualTimeLoop, events, lambda_context

URL = "https://x.appsync-api.us-east-1.amazonaws.com/graphql"
PUBLISH = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }"
SECRET = "tok-secret-123"


def run(
    appsync: FakeAppSync, keys: int, token: Callable[[], str], *, timeout_ms: int = 60_000, **settings: Any
) -> tuple[InvocationResult, float]:
    """One invocation of ``keys`` orders (one per key) on virtual time; its result and virtual seconds."""
    loop = VirtualTimeLoop()
    bridge = Bridge(URL, TokenAuth(token), transport=appsync, **settings)
    handler = bridge.dynamodb(PUBLISH)(lambda record: {"input": record.new_image})
    images = [{"new_image": {"id": f"k{n}", "status": "NEW"}} for n in range(keys)]

    async def invoke() -> tuple[InvocationResult, float]:
        context = lambda_context(timeout_ms=timeout_ms, clock=loop.time)
        return await handler.process_async(events.dynamodb(images), context), loop.time()

    try:
        return loop.run_until_complete(invoke())
    finally:
        loop.close()


class FailingOnce:
    """A token callable that raises once, on its first call after ``at`` virtual seconds."""

    def __init__(self, at: float = 0.0) -> None:
        self.at, self.raised, self.calls = at, False, 0

    def __call__(self) -> str:
        import asyncio

        self.calls += 1
        if not self.raised and asyncio.get_running_loop().time() >= self.at:
            self.raised = True
            raise RuntimeError(f"token service hiccup; last token was {SECRET}")
        return SECRET


def test_a_probe_whose_token_callable_raises_does_not_stall_the_breaker() -> None:
    # GIVEN AppSync down for 1 s (the breaker opens), and the token callable raising once when the
    # breaker's first probe is about to go out
    appsync = FakeAppSync(latency=0.02)
    appsync.fail_for(1.0, HttpResponse(503, {}, b"busy"))
    token = FailingOnce(at=0.3)
    # WHEN 40 orders of 40 keys are published with a minute left
    result, seconds = run(appsync, 40, token)
    # THEN AppSync's return is noticed within seconds and everything is published
    assert token.raised
    assert result.published == 40
    assert seconds < 5.0


def test_a_token_callable_that_raises_once_is_retried() -> None:
    appsync = FakeAppSync()
    result, _ = run(appsync, 3, FailingOnce())
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED] * 3


def test_a_token_callable_that_keeps_raising_fails_the_records_for_redelivery_without_its_message() -> None:
    # GIVEN a token callable that always raises, with the token in its message
    def broken() -> str:
        raise RuntimeError(f"cannot refresh {SECRET}")

    appsync = FakeAppSync()
    # WHEN published with a 2 s retry budget
    result, seconds = run(appsync, 2, broken, retry=RetryPolicy(budget=2.0), poison="skip")
    # THEN after the budget each record is reported failed (transient: never skipped), nothing was sent,
    # and no error text holds what the callable's message held
    assert [o.status for o in result.outcomes] == [Status.FAILED] * 2
    error = result.outcomes[0].error
    assert isinstance(error, CredentialsUnavailableError)
    assert "RuntimeError" in str(error)
    assert SECRET not in str(error)
    assert appsync.requests == []
    assert seconds < 3.0


def test_a_transport_that_raises_a_foreign_error_is_retried_as_a_failed_connection() -> None:
    class Flaky(FakeAppSync):
        failed = False

        async def post(self, url: str, body: bytes, headers: Any, timeout: float) -> HttpResponse:
            if not self.failed:
                self.failed = True
                raise OSError("socket went away")
            return await super().post(url, body, headers, timeout)

    appsync = Flaky()
    result, _ = run(appsync, 1, lambda: SECRET)
    assert result.published == 1
    assert result.retries == 1


def test_the_retry_budget_counts_from_the_first_try_not_the_wait_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a governor that holds the first attempt back 3 s (a pace or breaker wait), and AppSync that
    # fails that first attempt with a 503
    class Holding(governor.Governor):
        held = False

        def wait(self) -> float | None:
            if not self.held:
                self.held = True
                return 3.0
            return super().wait()

    monkeypatch.setattr(publish, "Governor", Holding)
    appsync = FakeAppSync()
    appsync.fail_next(HttpResponse(503, {}, b"busy"))
    # WHEN one order is published with a 2 s retry budget
    result, seconds = run(appsync, 1, lambda: SECRET, retry=RetryPolicy(budget=2.0))
    # THEN the 503 is retried: the 3 s before the first try did not use up the budget
    assert result.published == 1
    assert seconds >= 3.0
