"""When a request may go out: the concurrency limit, the send rate throttling sets, and the circuit breaker.

The dispatcher asks ``Governor.wait`` before every attempt (first try or retry) and tells it how each one
went (``observe``). Three rules, each a small class here:

- **Concurrency**: at most ``concurrency`` requests going; a request keeps its place through its retries.
- **Pace** (the AWS SDKs' adaptive retry mode: a cut, then a CUBIC climb): unpaced until AppSync
  throttles; then the send rate drops to 70% of the rate it refused and climbs back to it within a second,
  and beyond. A burst of throttles cuts once, so one stray 429 or a second of throttling costs about that
  long, while a throttled API, refused again each time the rate climbs back, is converged on.
- **Breaker**: after 5 attempts in a row fail with a 5xx, a reset connection or a timeout, no request
  goes out until a cool-off ends; then one probe goes. An answer closes the breaker; a failed probe
  doubles the cool-off. When every attempt has failed for ``outage`` seconds (counted from the first
  one's start, so a request that timed out counts its wait) the endpoint is taken as down:
  sending halts and the records left are reported failed for Lambda to re-deliver, long before the
  deadline and after a handful of requests.

Sending also halts for good on a failure every request would share: credentials refused
(``AuthorizationError``) or an auth setting that cannot work (``ConfigurationError``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from streambridge._engine.observe import THROTTLED, outcome_of
from streambridge._errors import (
    AuthorizationError,
    ConfigurationError,
    EndpointDownError,
    StreambridgeError,
    ThrottledError,
    TransientError,
)
from streambridge._targets.base import Answer

Clock = Callable[[], float]


class Governor:
    """Says whether a request may start and when an attempt may go out; learns from every attempt."""

    __slots__ = ("breaker", "halted", "in_flight", "limit", "pace", "shares")

    def __init__(self, concurrency: int, outage: float, clock: Clock) -> None:
        self.limit = concurrency
        self.in_flight = 0
        self.halted: StreambridgeError | None = None
        """The failure that stopped all sending; once set, no request starts and none is retried."""
        self.pace = Pace(clock)
        self.breaker = Breaker(outage, clock)
        self.shares = ThrottledShare(clock)

    def may_start(self) -> bool:
        """True when a new request may start (it then waits for ``wait`` before going out)."""
        return self.halted is None and self.in_flight < self.limit

    def started(self) -> None:
        """A request started (it holds its place until ``finished``)."""
        self.in_flight += 1

    def finished(self) -> None:
        """A request ended: every step it carried is settled."""
        self.in_flight -= 1

    def wait(self) -> float | None:
        """Seconds before an attempt may go out (0: now); None once sending has halted."""
        if self.halted is not None:
            return None
        return max(self.breaker.wait(), self.pace.wait())

    def sending(self) -> float:
        """An attempt goes out now; returns its start time (to tell ``observe``)."""
        self.pace.take()
        return self.breaker.sending()

    def observe(self, answer: Answer | StreambridgeError, sent_at: float, items: int = 1) -> None:
        """Learn how the attempt of ``items`` sent at ``sent_at`` went: an answer, or why it failed whole."""
        error = answer if isinstance(answer, StreambridgeError) else answer.request_error
        if isinstance(error, (AuthorizationError, ConfigurationError)):
            self.halted = error
            return
        throttled = outcome_of(answer)[0] == THROTTLED
        if throttled and error is None:  # items throttled by their data source (a hot DynamoDB item?)
            assert isinstance(answer, Answer)  # noqa: S101 - a request error is set on every other kind
            throttled = self.shares.most(
                items, sum(isinstance(e, ThrottledError) for e in answer.errors.values())
            )
        elif error is None:
            self.shares.add(items, 0)
        if throttled:
            self.pace.throttled(sent_at)
        elif not isinstance(error, TransientError):  # AppSync took the request: the rate is no longer refused
            self.pace.answered(sent_at)
        if isinstance(error, TransientError) and not throttled:  # 5xx, reset, timeout: maybe down
            self.breaker.failed(sent_at)
            if self.breaker.down():
                self.halted = self.breaker.verdict(error)
            return
        self.breaker.answered()  # an answer, even a throttled one, shows the endpoint is up


class ThrottledShare:
    """The share of the items answered over the last second that were throttled one by one.

    AppSync's own rate limit throttles a request whole (HTTP 429). A mutation throttled alone in an
    accepted request was refused by its data source, as a hot DynamoDB item is: slowing every other key
    would not help it (its request's backoff does), unless most items are (the whole table is throttled).
    """

    __slots__ = ("_answered", "_clock", "_items", "_throttled")

    WINDOW = 1.0

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._answered: deque[tuple[float, int, int]] = deque()
        self._items = self._throttled = 0

    def add(self, items: int, throttled: int) -> None:
        """Count an accepted request's items, ``throttled`` of them throttled."""
        now = self._clock()
        answered = self._answered
        answered.append((now, items, throttled))
        self._items += items
        self._throttled += throttled
        while now - answered[0][0] > self.WINDOW:
            _, old_items, old_throttled = answered.popleft()
            self._items -= old_items
            self._throttled -= old_throttled

    def most(self, items: int, throttled: int) -> bool:
        """Count an answer; True when at least half the items answered in the window were throttled."""
        self.add(items, throttled)
        return 2 * self._throttled >= self._items


class Pace:
    """The send rate: none until AppSync throttles; then one cut per throttling episode and a CUBIC climb.

    As the AWS SDKs' adaptive retry mode (botocore ``retries/adaptive.py`` and ``throttling.py``): a throttle
    sets ``W_max``, the rate that was too much, cuts the rate to ``BETA`` of it, and the rate climbs back
    along a cubic, concave up to ``W_max``, then convex beyond it to find a limit that has moved. Two
    changes make a short burst cheap: the climb reaches ``W_max`` in ``RECOVERY`` seconds whatever the rate
    (botocore's constant takes 8 s at 800 requests/s), and an episode, from a cut until an attempt sent
    after it is answered unthrottled, cuts once. Within an episode every request is backing off already, so
    the rate it sends at says nothing about the API; cutting again from it (as each retry round did) took
    the rate to 1 request/s for a one-second burst.
    """

    __slots__ = ("_clock", "_cut_at", "_first_at", "_next_at", "_sent", "_throttling", "_w_max")

    BETA = 0.7
    """The share of ``W_max`` kept at a cut (botocore's ``CubicCalculator._BETA``)."""
    RECOVERY = 1.0
    """Seconds from a cut back to ``W_max`` (CUBIC's K): a burst costs about its length, and a throttled API
    sees the rate that was too much again a second later, so it converges on the API's limit."""
    FLOOR = 1.0
    """The lowest rate, in requests per second: a request's retry budget ends a throttle that never lifts."""
    WINDOW = 1.0
    """Seconds of sends the measured rate is taken over."""
    SHORTEST = 0.01
    """The shortest span a rate is measured over: sends in the same instant are not an infinite rate."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._w_max = math.inf
        """The rate when the last episode began; infinite until the first throttle."""
        self._cut_at = -math.inf
        self._throttling = False
        """True from a cut until an attempt sent after it is answered unthrottled."""
        self._next_at = -math.inf
        self._first_at: float | None = None
        self._sent: deque[float] = deque()

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        w_max = self._w_max
        if w_max == math.inf:
            return w_max
        since = (self._clock() - self._cut_at) / self.RECOVERY
        return max(self.FLOOR, w_max * (1.0 + (1.0 - self.BETA) * (since - 1.0) ** 3))

    def measured(self) -> float:
        """Requests per second sent over the last ``WINDOW`` (or since the first, when that is shorter)."""
        now = self._clock()
        self._forget(now)
        if self._first_at is None:
            return self.FLOOR
        # A run younger than the window is measured over its age: 16 requests in the first 20 ms are 800/s.
        return len(self._sent) / max(min(now - self._first_at, self.WINDOW), self.SHORTEST)

    def _forget(self, now: float) -> None:
        sent = self._sent
        while sent and now - sent[0] > self.WINDOW:
            sent.popleft()

    def wait(self) -> float:
        return 0.0 if self._w_max == math.inf else max(0.0, self._next_at - self._clock())

    def take(self) -> None:
        now = self._clock()
        if self._first_at is None:
            self._first_at = now
        self._sent.append(now)
        self._forget(now)
        if self._w_max != math.inf:
            self._next_at = max(self._next_at, now) + 1.0 / self.rate

    def throttled(self, sent_at: float) -> None:
        """Cut once per episode, from the rate the API refused: the lower of the allowed and the measured."""
        if self._throttling or sent_at < self._cut_at:  # backing off already, or sent at the old rate
            return
        self._w_max = max(self.FLOOR, min(self.rate, self.measured()))
        self._cut_at = self._clock()
        self._throttling = True

    def answered(self, sent_at: float) -> None:
        """An attempt was answered unthrottled: sent after the cut, it ends the episode."""
        if sent_at >= self._cut_at:
            self._throttling = False


class Breaker:
    """Stops sending to an endpoint that fails every attempt; probes it; declares it down after ``outage``."""

    __slots__ = ("_clock", "_cool_off", "_failures", "_open_until", "_probe_at", "_since", "outage")

    THRESHOLD = 5
    """Attempts in a row that fail with a 5xx, a reset or a timeout before the breaker opens."""
    COOL_OFF = 0.5
    """Seconds before the first probe; doubled after each failed probe, up to ``MAX_COOL_OFF``."""
    MAX_COOL_OFF = 4.0
    POLL = 0.05
    """Seconds between two looks at the breaker while a probe is out."""

    def __init__(self, outage: float, clock: Clock) -> None:
        self.outage = outage
        self._clock = clock
        self._failures = 0
        self._since = math.inf
        """When the first attempt of the current run of failures was sent."""
        self._open_until: float | None = None
        self._probe_at: float | None = None
        """When the probe out now was sent; None when none is."""
        self._cool_off = self.COOL_OFF

    def wait(self) -> float:
        if self._open_until is None:
            return 0.0
        if self._probe_at is not None:
            return self.POLL
        return max(0.0, self._open_until - self._clock())

    def sending(self) -> float:
        now = self._clock()
        if self._open_until is not None and self._probe_at is None:
            self._probe_at = now  # the cool-off is over: this attempt is the probe
        return now

    def failed(self, sent_at: float) -> None:
        self._failures += 1
        self._since = min(self._since, sent_at)
        probe = self._probe_at
        if probe is not None and sent_at >= probe:  # the probe failed: a longer cool-off
            self._probe_at = None
            self._cool_off = min(self._cool_off * 2, self.MAX_COOL_OFF)
            self._open_until = self._clock() + self._cool_off
        elif self._open_until is None and self._failures >= self.THRESHOLD:
            self._open_until = self._clock() + self._cool_off

    def answered(self) -> None:
        self._failures = 0
        self._since = math.inf
        self._open_until = self._probe_at = None
        self._cool_off = self.COOL_OFF

    def down(self) -> bool:
        """True when every attempt failed for ``outage`` seconds, or will have before the next probe."""
        if not self._failures:
            return False
        now = self._clock()
        return max(self._open_until or now, now) - self._since >= self.outage

    def verdict(self, last: StreambridgeError) -> EndpointDownError:
        down = EndpointDownError(
            f"AppSync failed every request for {self._clock() - self._since:.1f} s ({self._failures} in a "
            f"row; last: {last}): taken as down, reported failed for Lambda to re-deliver"
        )
        down.__cause__ = last
        return down
