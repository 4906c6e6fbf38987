"""Network conditions for ``FakeAppSync(conditions=...)``: a brown-out, a throttled API, a hard-down endpoint.

A condition is called with the time (the event loop's clock) before each request is answered and returns
what to answer instead (an ``HttpResponse``, or an exception to raise: ``ConnectionResetError`` for a reset,
``TimeoutError`` for no answer), or None to answer normally. Each counts what it did in ``counts``.

Run the handler on a virtual-time loop and minutes of backoff, throttling and outage cost milliseconds::

    appsync = FakeAppSync(latency=0.02, conditions=conditions.TokenBucket(rate=50))
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from streambridge._io.transport import HttpResponse

Outcome = HttpResponse | BaseException | None

THROTTLED = HttpResponse(
    429,
    {"content-type": "application/json"},
    b'{"errors": [{"errorType": "TooManyRequestsException", "message": "Rate exceeded"}]}',
)
"""AppSync's answer over its token rate (HTTP 429, ``TooManyRequestsException``)."""
INTERNAL = HttpResponse(500, {"content-type": "text/html"}, b"<html>Internal Server Error</html>")
UNAVAILABLE = HttpResponse(503, {"content-type": "text/html"}, b"<html>Service Unavailable</html>")
BAD_GATEWAY = HttpResponse(502, {"content-type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>")
RESET = ConnectionResetError("connection reset by peer")
TRANSIENT: tuple[Outcome, ...] = (THROTTLED, INTERNAL, UNAVAILABLE, RESET, BAD_GATEWAY)
"""The transient faults a brown-out draws from."""


class _Condition:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        """Requests seen by what they got: ``"ok"``, ``"429"``, ``"503"``, ``"ConnectionResetError"``..."""

    def _tell(self, outcome: Outcome) -> Outcome:
        if outcome is None:
            self.counts["ok"] += 1
        elif isinstance(outcome, HttpResponse):
            self.counts[str(outcome.status)] += 1
        else:
            self.counts[type(outcome).__name__] += 1
        return outcome


class BrownOut(_Condition):
    """The first answers fail as listed, then each request fails with probability ``rate``."""

    def __init__(
        self,
        first: Sequence[Outcome] = TRANSIENT,
        rate: float = 0.3,
        *,
        faults: Sequence[Outcome] = TRANSIENT,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self._first = list(first)
        self.rate = rate
        self._faults = list(faults)
        self._random = random.Random(seed)  # noqa: S311 - a test's fault schedule, not cryptography

    def __call__(self, _now: float) -> Outcome:
        """The next listed failure, then a random one at ``rate``."""
        if self._first:
            return self._tell(self._first.pop(0))
        if self._random.random() < self.rate:
            return self._tell(self._random.choice(self._faults))
        return self._tell(None)


class TokenBucket(_Condition):
    """Throttled like AppSync: ``rate`` requests per second, bursts of ``burst``; over it, HTTP 429."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        super().__init__()
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._tokens = self.burst
        self._at: float | None = None

    def __call__(self, now: float) -> Outcome:
        """A token if one is left (refilled at ``rate`` since the last request), else a 429."""
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return self._tell(None)
        return self._tell(THROTTLED)


class Down(_Condition):
    """Every request fails alike: a 503 by default, or ``ConnectionResetError()``, ``TimeoutError()``..."""

    def __init__(self, outcome: Outcome = UNAVAILABLE) -> None:
        super().__init__()
        self.outcome = outcome

    def __call__(self, _now: float) -> Outcome:
        """The same failure, every time."""
        return self._tell(self.outcome)
