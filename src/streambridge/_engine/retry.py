"""Retry policy: tenacity's composable stop/wait objects; what is retryable is decided by exception class."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from streambridge._errors import is_retryable

if TYPE_CHECKING:
    import tenacity


class RetryPolicy(NamedTuple):
    """How transient failures (throttling, 5xx, connection errors, timeouts) are retried.

    ``attempts`` counts the first try. Backoff is exponential with full jitter between ``backoff`` and
    ``max_backoff`` seconds, and never shorter than an HTTP ``Retry-After``. Pass tenacity ``stop`` /
    ``wait`` objects to replace them. Whatever the policy, a retry never outlives the Lambda deadline.
    """

    attempts: int = 5
    backoff: float = 0.05
    max_backoff: float = 2.0
    stop: Any = None
    wait: Any = None

    def retrying(self, deadline: Deadline, on_retry: Callable[[], None]) -> tenacity.AsyncRetrying:
        """A tenacity controller for one request's attempts."""
        return controllers(self, deadline, on_retry)()


def controllers(
    policy: RetryPolicy, deadline: Deadline, on_retry: Callable[[], None]
) -> Callable[[], tenacity.AsyncRetrying]:
    """Make ``policy.retrying(deadline, on_retry)`` controllers, the strategies built once per invocation.

    A controller holds the state of one request's attempts, so each request needs its own; the stop,
    wait and retry objects hold none and are shared (building them, a class above all, costs more than
    a fast request's own CPU).
    """
    import tenacity  # noqa: PLC0415 - lazy: import cost counts in cold starts

    base_wait = policy.wait or tenacity.wait_random_exponential(
        multiplier=policy.backoff, max=policy.max_backoff
    )

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        after = getattr(error, "retry_after", None) or 0.0
        return max(float(base_wait(state)), after)

    stop = tenacity.stop_any(
        policy.stop or tenacity.stop_after_attempt(policy.attempts), _past_deadline_class()(deadline)
    )
    retry = tenacity.retry_if_exception(is_retryable)

    def before_sleep(_state: tenacity.RetryCallState) -> None:
        on_retry()

    def controller() -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            stop=stop, wait=wait, retry=retry, before_sleep=before_sleep, reraise=True
        )

    return controller


def replayable(policy: RetryPolicy) -> bool:
    """True when a request's first try may run outside tenacity and, if it fails, be handed to it.

    So it is with the default stop and wait, which read only attempt numbers and outcomes: tenacity then
    decides exactly as if it had run that try itself. Custom ``stop``/``wait`` objects may read the time
    since the first attempt, so with them every try runs inside tenacity.
    """
    return policy.stop is None and policy.wait is None


@cache
def _past_deadline_class() -> Callable[[Deadline], Any]:
    """Build (once) the stop that ends retries when the Lambda deadline is near (tenacity loads lazily)."""
    import tenacity  # noqa: PLC0415 - lazy: import cost counts in cold starts

    class past_deadline(tenacity.stop.stop_base):  # noqa: N801 - reads like tenacity's own stops
        """Stop when the next sleep and a minimal request would not fit before the deadline."""

        def __init__(self, deadline: Deadline) -> None:
            self.deadline = deadline

        def __call__(self, state: tenacity.RetryCallState) -> bool:
            deadline = self.deadline
            return deadline.remaining() < (state.upcoming_sleep or 0.0) + deadline.minimum_request

    return past_deadline


class Deadline:
    """The time left in the invocation, minus a safety margin kept for reporting the outcome."""

    def __init__(
        self, remaining_ms: Callable[[], int] | None, margin: float, minimum_request: float = 0.05
    ) -> None:
        self._remaining_ms = remaining_ms
        self._start = time.monotonic()
        self._initial = remaining_ms() / 1000 if remaining_ms else math.inf
        self.margin = margin
        self.minimum_request = minimum_request

    def remaining(self) -> float:
        """Seconds left for work (the margin already taken off)."""
        if self._remaining_ms is None:
            return math.inf
        # Derived from one reading and the monotonic clock: no context call on the hot path.
        return self._initial - (time.monotonic() - self._start) - self.margin

    def expired(self) -> bool:
        """True when no new request can finish in time."""
        return self.remaining() < self.minimum_request
