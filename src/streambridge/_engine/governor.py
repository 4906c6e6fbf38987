"""When a request may go out: the concurrency limit, the send rate throttling sets, and the circuit breaker.

The dispatcher asks ``Governor.wait`` before every attempt (first try or retry) and tells it how each one
went (``observe``). Three rules, each a small class here:

- **Concurrency**: at most ``concurrency`` requests going; a request keeps its place through its retries.
- **Pace** (AIMD, in the spirit of the AWS SDKs' adaptive retry mode): unpaced until AppSync throttles;
  then the send rate drops to 70% of the rate measured when it did and climbs back linearly (by half the
  cut rate per second), so a throttled API converges instead of a storm of retries, and one stray 429
  costs a moment.
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
    TransientError,
)
from streambridge._targets.base import Answer

Clock = Callable[[], float]


class Governor:
    """Says whether a request may start and when an attempt may go out; learns from every attempt."""

    __slots__ = ("breaker", "halted", "in_flight", "limit", "pace")

    def __init__(self, concurrency: int, outage: float, clock: Clock) -> None:
        self.limit = concurrency
        self.in_flight = 0
        self.halted: StreambridgeError | None = None
        """The failure that stopped all sending; once set, no request starts and none is retried."""
        self.pace = Pace(clock)
        self.breaker = Breaker(outage, clock)

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

    def observe(self, answer: Answer | StreambridgeError, sent_at: float) -> None:
        """Learn how the attempt sent at ``sent_at`` went: an answer, or why it failed as a whole."""
        error = answer if isinstance(answer, StreambridgeError) else answer.request_error
        if isinstance(error, (AuthorizationError, ConfigurationError)):
            self.halted = error
            return
        throttled = outcome_of(answer)[0] == THROTTLED
        if throttled:
            self.pace.throttled(sent_at)
        if isinstance(error, TransientError) and not throttled:  # 5xx, reset, timeout: maybe down
            self.breaker.failed(sent_at)
            if self.breaker.down():
                self.halted = self.breaker.verdict(error)
            return
        self.breaker.answered()  # an answer, even a throttled one, shows the endpoint is up


class Pace:
    """The send rate: none until AppSync throttles; then a multiplicative cut and a linear climb (AIMD)."""

    __slots__ = ("_base", "_clock", "_cut_at", "_next_at", "_sent")

    DECREASE = 0.7
    """The share of the measured rate kept after a throttle (AWS SDKs' adaptive mode uses 0.7 too)."""
    CLIMB = 0.5
    """After a cut, the rate climbs by this share of the rate it was cut to, per second: back where it was
    in under a second, so a throttle is met with a short slowdown, and a throttled API sees a cut again."""
    FLOOR = 1.0
    """The lowest rate, in requests per second: a request's retry budget ends a throttle that never lifts."""
    WINDOW = 1.0
    """Seconds of sends the measured rate is taken over."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._base = math.inf
        """The rate the last cut set; infinite until the first throttle."""
        self._cut_at = -math.inf
        self._next_at = -math.inf
        self._sent: deque[float] = deque()

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self._base * (1.0 + self.CLIMB * (self._clock() - self._cut_at))

    def wait(self) -> float:
        return 0.0 if self._base == math.inf else max(0.0, self._next_at - self._clock())

    def take(self) -> None:
        now = self._clock()
        sent = self._sent
        sent.append(now)
        while now - sent[0] > self.WINDOW:
            sent.popleft()
        if self._base != math.inf:
            self._next_at = max(self._next_at, now) + 1.0 / self.rate

    def throttled(self, sent_at: float) -> None:
        """Slow down, once per round: attempts sent before the last cut were sent at the old rate."""
        if sent_at < self._cut_at:
            return
        now = self._clock()
        sent = self._sent
        measured = len(sent) / max(now - sent[0], 0.1) if sent else self.FLOOR
        self._base = max(self.FLOOR, min(self.rate, measured) * self.DECREASE)
        self._cut_at = now


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
