"""The governor's rules alone, on a fake clock: the pace throttling sets, and the circuit breaker."""

from __future__ import annotations

import pytest

from streambridge import (
    AuthorizationError,
    ConnectionFailedError,
    EndpointDownError,
    GraphQLError,
    ServerError,
    ThrottledError,
)
from streambridge._engine.governor import Breaker, Governor, Pace
from streambridge._targets.base import Answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def governor(clock: Clock, outage: float = 10.0) -> Governor:
    return Governor(concurrency=4, outage=outage, clock=clock)


def test_unpaced_until_throttled_then_slower_than_measured() -> None:
    clock = Clock()
    pace = Pace(clock)
    for _ in range(100):  # 100 requests in 0.5 s: 200 per second
        pace.take()
        clock.now += 0.005
    assert pace.wait() == 0.0
    pace.throttled(sent_at=clock.now)
    assert pace.rate == pytest.approx(200 * Pace.DECREASE, rel=0.05)
    pace.take()
    assert pace.wait() == pytest.approx(1 / pace.rate)


def test_one_cut_per_round_of_throttles() -> None:
    # GIVEN 16 requests sent together, all throttled
    clock = Clock()
    pace = Pace(clock)
    for _ in range(16):
        pace.take()
    clock.now = 0.02
    for _ in range(16):
        pace.throttled(sent_at=0.0)
    # THEN the rate is cut once, not 16 times: they were all sent at the old rate
    assert pace.rate == pytest.approx(16 / 0.1 * Pace.DECREASE)
    # AND a throttle of a request sent after the cut cuts again
    before = pace.rate
    pace.throttled(sent_at=0.03)
    assert pace.rate < before


def test_the_rate_climbs_back_after_a_cut_and_never_falls_under_the_floor() -> None:
    clock = Clock()
    pace = Pace(clock)
    for _ in range(50):  # 50 requests in 1 s, then a throttle
        pace.take()
        clock.now += 0.02
    pace.throttled(sent_at=clock.now)
    cut = pace.rate
    assert cut == pytest.approx(50 * Pace.DECREASE, rel=0.05)
    clock.now += 1.0
    assert pace.rate == pytest.approx(cut * (1 + Pace.CLIMB))  # linear: half the cut rate per second
    for n in range(50):
        clock.now += 1
        pace.throttled(sent_at=clock.now)
        assert pace.rate >= Pace.FLOOR, n
    assert pace.rate == Pace.FLOOR


def test_the_breaker_opens_after_failures_in_a_row_and_probes_once() -> None:
    clock = Clock()
    breaker = Breaker(outage=10.0, clock=clock)
    for _ in range(Breaker.THRESHOLD - 1):
        breaker.failed(breaker.sending())
    assert breaker.wait() == 0.0  # not yet
    breaker.failed(breaker.sending())
    assert breaker.wait() == pytest.approx(Breaker.COOL_OFF)
    clock.now += Breaker.COOL_OFF
    assert breaker.wait() == 0.0
    probe = breaker.sending()
    assert breaker.wait() == Breaker.POLL  # the others wait for the probe's answer
    breaker.failed(probe)
    assert breaker.wait() == pytest.approx(2 * Breaker.COOL_OFF)  # a longer cool-off
    clock.now += 2 * Breaker.COOL_OFF
    breaker.answered()  # the next probe is answered: closed
    assert breaker.wait() == 0.0
    assert not breaker.down()


def test_the_breaker_declares_the_endpoint_down_after_the_outage() -> None:
    clock = Clock()
    g = governor(clock, outage=3.0)
    while g.halted is None:
        clock.now += g.wait() or 0.0
        g.observe(ServerError("HTTP 503"), g.sending())
        assert clock.now < 3.0
    assert isinstance(g.halted, EndpointDownError)
    assert isinstance(g.halted.__cause__, ServerError)
    assert g.wait() is None
    assert not g.may_start()


def test_a_timeout_as_long_as_the_outage_is_enough_to_call_it_down() -> None:
    clock = Clock()
    g = governor(clock, outage=10.0)
    sent = g.sending()
    clock.now = 10.0
    g.observe(ConnectionFailedError("no answer"), sent)
    assert isinstance(g.halted, EndpointDownError)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(),
        Answer(errors={0: GraphQLError("poison")}),
        ThrottledError("429"),
        Answer(ThrottledError("429")),
    ],
    ids=["answered", "field-error", "throttled", "throttled-answer"],
)
def test_any_answer_shows_the_endpoint_is_up(answer: Answer | ThrottledError) -> None:
    clock = Clock()
    g = governor(clock, outage=1.0)
    for _ in range(Breaker.THRESHOLD - 1):
        g.observe(ServerError("HTTP 500"), g.sending())
    g.observe(answer, g.sending())
    clock.now = 5.0
    g.observe(ServerError("HTTP 500"), g.sending())
    assert g.halted is None
    assert g.wait() == pytest.approx(g.pace.wait())  # the breaker is closed


def test_a_throttled_field_slows_the_sender_too() -> None:
    clock = Clock()
    g = governor(clock)
    g.observe(Answer(errors={1: ThrottledError("TooManyRequestsException")}), g.sending())
    assert g.pace.rate < float("inf")


def test_refused_credentials_halt_at_once() -> None:
    clock = Clock()
    g = governor(clock)
    refused = AuthorizationError("HTTP 401")
    g.observe(refused, g.sending())
    assert g.halted is refused
    assert g.wait() is None
