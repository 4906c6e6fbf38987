"""When to try again, and when time is up: the retry policy and the Lambda deadline.

The policy is tenacity's composable stop and wait objects; what is retryable is decided by exception class
(``_errors``). The dispatcher (``publish``) asks both after every failed attempt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from streambridge._engine.checks import kind, seconds, whole
from streambridge._errors import ConfigurationError

if TYPE_CHECKING:
    import tenacity

    from streambridge._errors import StreambridgeError


class RetryPolicy(NamedTuple):
    """How transient failures (throttling, 5xx, connection errors, timeouts) are retried.

    A request is tried again, with exponential backoff and full jitter between ``backoff`` and
    ``max_backoff`` seconds (never shorter than an HTTP ``Retry-After``), until ``budget`` seconds have
    passed since its first try, or ``attempts`` tries when set (None: as many as the budget allows).
    Whatever the policy, a retry never outlives the Lambda deadline. Pass tenacity ``stop`` / ``wait``
    objects to replace them (``stop`` then replaces both the budget and ``attempts``).

    ``outage``: when every request has failed (5xx, resets, timeouts, no answer at all) for that many
    seconds, the endpoint is taken as down and the records left are reported failed at once, instead of
    each request spending its budget against it (see docs/reliability.md).
    """

    attempts: int | None = None
    backoff: float = 0.05
    max_backoff: float = 2.0
    stop: Any = None
    wait: Any = None
    # Added after the fields above, so that positional arguments keep their meaning.
    budget: float = 20.0
    outage: float = 10.0


def checked_policy(policy: object) -> RetryPolicy:
    """``Bridge(retry=...)``: a ``RetryPolicy`` whose fields can work (a NamedTuple cannot check itself).

    Raises:
        ConfigurationError: naming the field, e.g. ``RetryPolicy(attempts=...) must be an int >= 1``.
    """
    if policy is None:
        return RetryPolicy()
    if not isinstance(policy, RetryPolicy):
        raise ConfigurationError(f"Bridge(retry=...) must be a RetryPolicy(...) or None, got {kind(policy)}")
    if policy.attempts is not None:
        whole("RetryPolicy(attempts=...)", policy.attempts, or_none=True)
    for name in ("backoff", "max_backoff", "budget", "outage"):
        seconds(f"RetryPolicy({name}=...)", getattr(policy, name))
    if policy.max_backoff < policy.backoff:
        raise ConfigurationError(
            f"RetryPolicy(max_backoff={policy.max_backoff!r}) is shorter than its "
            f"backoff={policy.backoff!r}: the longest wait must be at least the first"
        )
    # tenacity's stop and wait are callables of its RetryCallState (``stop_after_attempt(3)``...).
    for name, example in (("stop", "stop_after_delay(5)"), ("wait", "wait_fixed(0.5)")):
        value = getattr(policy, name)
        if value is not None and not callable(value):
            raise ConfigurationError(
                f"RetryPolicy({name}=...) must be a tenacity {name} such as tenacity.{example}, "
                f"got {kind(value)}"
            )
    return policy


class Backoff:
    """A ``RetryPolicy`` at work for one invocation; ``tries()`` follows one request's attempts.

    tenacity is imported, and its stop and wait built, on the first failed attempt: most invocations
    never retry. Each request's clock starts at its first try; the time it spends waiting, for its backoff
    or for the governor, counts against its budget.
    """

    __slots__ = ("_built", "clock", "policy")

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._built: tuple[Any, Any] | None = None

    def tries(self, started: float | None = None) -> Tries:
        """The attempts of a request first tried at ``started`` (default: now)."""
        return Tries(self, self.clock() if started is None else started)

    def strategies(self) -> tuple[Any, Any]:
        """The stop and wait (tenacity's) of this policy, built once per invocation (building costs)."""
        if self._built is None:
            import tenacity

            policy = self.policy
            stop = policy.stop
            if stop is None:
                # "before": a wait that would end past the budget is not waited at all.
                stop = tenacity.stop_before_delay(policy.budget)
                if policy.attempts is not None:
                    stop |= tenacity.stop_after_attempt(policy.attempts)
            wait = policy.wait or tenacity.wait_random_exponential(
                multiplier=policy.backoff, max=policy.max_backoff
            )
            self._built = (stop, wait)
        return self._built


class Tries:
    """One request's attempts under the policy: after a failed one, whether and when to try again.

    It keeps tenacity's own ``RetryCallState`` (the attempt number, the time since the first try, the last
    failure, the time slept), so that any stop and wait, the user's own included, decide as tenacity would.
    """

    __slots__ = ("_backoff", "_started", "_state")

    def __init__(self, backoff: Backoff, started: float) -> None:
        self._backoff = backoff
        self._started = started
        self._state: tenacity.RetryCallState | None = None

    def next_wait(self, errors: Sequence[StreambridgeError]) -> float | None:
        """Seconds to wait before trying again after an attempt failed with ``errors``; None: give up.

        The first error is the attempt's outcome for the policy; an HTTP ``Retry-After`` on any of them
        is a floor for the wait.
        """
        stop, wait = self._backoff.strategies()
        state = self._state
        if state is None:
            state = self._state = _call_state(self._started)
        else:
            state.prepare_for_next_attempt()
        first = errors[0]
        state.set_exception((type(first), first, first.__traceback__))
        state.outcome_timestamp = self._backoff.clock()  # the run's clock (a test's may be virtual)
        after = max((getattr(error, "retry_after", None) or 0.0 for error in errors), default=0.0)
        state.upcoming_sleep = seconds = max(float(wait(state)), after)
        if stop(state):
            return None
        state.idle_for += seconds
        return seconds


def loop_clock() -> Callable[[], float]:
    """The running event loop's clock (``time.monotonic``, or a test's virtual time); else monotonic."""
    import asyncio  # lazy: loaded with the publisher anyway

    try:
        return asyncio.get_running_loop().time
    except RuntimeError:
        return time.monotonic


def _call_state(started: float) -> tenacity.RetryCallState:
    """A tenacity call state whose clock started at the request's first try."""
    import tenacity  # lazy: loaded by the first failure already

    # No retrying controller: the loop is the dispatcher's; stop and wait read the state alone.
    state = tenacity.RetryCallState(cast("tenacity.BaseRetrying", None), None, (), {})
    state.start_time = started
    return state


class Deadline:
    """The time left in the invocation, minus a safety margin kept for reporting the outcome.

    ``budget`` is the one rule every request obeys: a request starts, first try or retry, only when a
    minimal one still fits before the deadline, and then it may take what is left.
    """

    def __init__(
        self,
        remaining_ms: Callable[[], int] | None,
        margin: float,
        minimum_request: float = 0.05,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._remaining_ms = remaining_ms
        self.clock = clock = clock or loop_clock()
        self._start = clock()
        self._initial = remaining_ms() / 1000 if remaining_ms else math.inf
        self.margin = margin
        self.minimum_request = minimum_request

    def remaining(self) -> float:
        """Seconds left for work (the margin already taken off)."""
        if self._remaining_ms is None:
            return math.inf
        # Derived from one reading and the monotonic clock: no context call on the hot path.
        return self._initial - (self.clock() - self._start) - self.margin

    def budget(self, wait: float = 0.0) -> float | None:
        """Seconds a request starting after ``wait`` seconds may take; None when it must not start."""
        left = self.remaining() - wait
        return left if left >= self.minimum_request else None

    def hard_stop(self) -> float | None:
        """Seconds until requests still in flight are cancelled; None without a deadline.

        Half the margin after the working time: ``budget`` bounds every request well before it.
        """
        left = self.remaining()
        return None if left == math.inf else max(left + self.margin / 2, 0.0)
