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
from streambridge.testing import conditions


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def governor(clock: Clock, outage: float = 10.0) -> Governor:
    return Governor(concurrency=4, outage=outage, clock=clock)


def test_unpaced_until_throttled_then_cut_from_the_measured_rate() -> None:
    clock = Clock()
    pace = Pace(clock)
    for _ in range(100):  # 100 requests in 0.5 s: 200 per second
        pace.take()
        clock.now += 0.005
    assert pace.wait() == 0.0
    pace.throttled(sent_at=clock.now)
    assert pace.rate == pytest.approx(200 * Pace.BETA, rel=0.05)
    pace.take()
    assert pace.wait() == pytest.approx(1 / pace.rate)


def test_a_run_younger_than_the_window_is_measured_over_its_age() -> None:
    # GIVEN 16 requests sent at once, the first answered 20 ms later: a rate of 800 per second
    clock = Clock()
    pace = Pace(clock)
    for _ in range(16):
        pace.take()
    clock.now = 0.02
    # WHEN it is throttled
    pace.throttled(sent_at=0.0)
    # THEN the rate is cut from 800/s (the old pace measured over at least 0.1 s: 160/s, cut to 112/s)
    assert pace.rate == pytest.approx(800 * Pace.BETA)


def throttled_episode(clock: Clock, pace: Pace) -> float:
    """50 requests a second for a second, then a throttle; returns the rate the API refused (W_max)."""
    for _ in range(50):
        pace.take()
        clock.now += 0.02
    pace.throttled(sent_at=clock.now - 0.02)
    return pace.rate / Pace.BETA


def test_a_burst_of_throttles_cuts_once() -> None:
    # GIVEN a cut, and requests retried after it that are throttled again and again (a burst throttles all)
    clock = Clock()
    pace = Pace(clock)
    w_max = throttled_episode(clock, pace)
    for _ in range(35):  # a second of retries, throttled each time
        clock.now += 0.03
        pace.take()
        pace.throttled(sent_at=clock.now)
        # THEN the rate is not cut again: it climbs from the one cut (the old pace cut at each round, from a
        # rate the backoff had shrunk, down to 1 request per second)
        assert pace.rate >= Pace.BETA * w_max
    # AND a second after the cut it is back at the rate the API refused
    assert pace.rate >= w_max


def test_an_unthrottled_answer_ends_the_episode_and_a_new_throttle_cuts_again() -> None:
    # GIVEN a cut
    clock = Clock()
    pace = Pace(clock)
    w_max = throttled_episode(clock, pace)
    cut_at = clock.now
    clock.now += 0.1
    # WHEN an attempt sent before the cut is answered, the episode goes on: throttles do not cut
    pace.answered(sent_at=cut_at - 0.01)
    before = pace.rate
    pace.throttled(sent_at=clock.now)
    assert pace.rate == before
    # WHEN an attempt sent after it is answered, then another one is throttled
    pace.take()
    pace.answered(sent_at=clock.now)
    pace.throttled(sent_at=clock.now)
    # THEN that is a new episode: cut again, from the rate allowed then (a throttled API is converged on)
    assert pace.rate == pytest.approx(Pace.BETA * before, rel=0.01)
    assert pace.rate < Pace.BETA * w_max


def test_the_rate_climbs_back_along_a_cubic_and_then_beyond() -> None:
    clock = Clock()
    pace = Pace(clock)
    w_max = throttled_episode(clock, pace)
    cut_at = clock.now
    k = Pace.RECOVERY

    def rate_at(since: float) -> float:
        clock.now = cut_at + since
        return pace.rate

    assert rate_at(0.0) == pytest.approx(Pace.BETA * w_max)
    # concave: most of the way back within the first half (the old pace climbed linearly, by 15% of the rate
    # refused per second: 85% of it after a second)
    assert rate_at(k / 2) == pytest.approx(w_max * (1 - (1 - Pace.BETA) / 8))
    assert rate_at(k) == pytest.approx(w_max)
    # convex past it: a limit that has moved up is found again
    assert rate_at(2 * k) == pytest.approx(w_max * (2 - Pace.BETA))
    assert rate_at(3 * k) > 3 * w_max


def test_the_rate_never_falls_under_the_floor() -> None:
    clock = Clock()
    pace = Pace(clock)
    for _ in range(50):  # 50 episodes of one request each, 0.1 s apart: each cuts again
        clock.now += 0.1
        pace.take()
        pace.answered(sent_at=clock.now)
        pace.throttled(sent_at=clock.now)
        assert pace.rate >= Pace.FLOOR
    assert pace.rate == Pace.FLOOR


def test_the_pace_converges_on_a_throttled_api() -> None:
    # GIVEN an API that takes 50 requests a second (a token bucket), answering each 20 ms after it is sent,
    # and a sender with 16 requests going and always more to send (800 a second unpaced)
    clock = Clock()
    g = governor(clock)
    bucket = conditions.TokenBucket(rate=50)
    going: list[tuple[float, bool]] = []  # (sent at, taken)
    outcomes: list[tuple[float, bool]] = []
    # WHEN it sends for 30 s as fast as the pace lets it
    while clock.now < 30.0:
        for sent_at, taken in [request for request in going if request[0] + 0.02 <= clock.now]:
            going.remove((sent_at, taken))
            g.observe(Answer() if taken else Answer(ThrottledError("429")), sent_at)
            outcomes.append((sent_at, taken))
        while len(going) < 16 and g.wait() == 0.0:
            sent_at = g.sending()
            going.append((sent_at, bucket(sent_at) is None))
        clock.now = round(clock.now + 0.001, 3)
    # THEN after the first seconds it sends at about the limit, and few requests are throttled
    settled = [taken for sent_at, taken in outcomes if sent_at >= 10.0]
    assert 0.8 * 50 * 20 <= sum(settled) <= 50 * 20 + 50
    assert settled.count(False) < 0.1 * len(settled)


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


def test_throttled_fields_slow_the_sender_when_most_items_are() -> None:
    # GIVEN a request of 2 items, one of them throttled by its data source
    clock = Clock()
    g = governor(clock)
    g.observe(Answer(errors={1: ThrottledError("TooManyRequestsException")}), g.sending(), 2)
    # THEN half the items answered were throttled: the rate is cut
    assert g.pace.rate < float("inf")


def test_one_hot_item_throttled_in_accepted_requests_does_not_slow_the_sender() -> None:
    # GIVEN requests of 5 items answered over a second, one item of each throttled (a hot DynamoDB item)
    clock = Clock()
    g = governor(clock)
    for _ in range(10):
        g.observe(Answer(), g.sending(), 5)
        g.observe(Answer(errors={0: ThrottledError("ProvisionedThroughputExceeded")}), g.sending(), 5)
        clock.now += 0.1
    # THEN a fifth of the items were throttled: the pace stays off
    assert g.pace.rate == float("inf")
    # AND once most items of the last second are throttled (the whole table), it is cut
    clock.now += 0.5
    for _ in range(10):
        g.observe(Answer(errors=dict.fromkeys(range(5), ThrottledError("x"))), g.sending(), 5)
    assert g.pace.rate < float("inf")


def test_a_throttled_request_slows_the_sender_whatever_the_share() -> None:
    clock = Clock()
    g = governor(clock)
    for _ in range(20):
        g.observe(Answer(), g.sending(), 5)
    g.observe(ThrottledError("HTTP 429"), g.sending(), 5)
    assert g.pace.rate < float("inf")


def test_refused_credentials_halt_at_once() -> None:
    clock = Clock()
    g = governor(clock)
    refused = AuthorizationError("HTTP 401")
    g.observe(refused, g.sending())
    assert g.halted is refused
    assert g.wait() is None
