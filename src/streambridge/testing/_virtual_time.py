"""An event loop on virtual time: backoff, throttling, outages and latency without waiting for them.

``VirtualTimeLoop`` is an asyncio loop whose clock jumps forward whenever every task is waiting on a
timer, so ``asyncio.sleep(20)`` costs no real time while the order of events, the concurrency limit, the
retry budget and the Lambda deadline stay exactly those of a real run. streambridge reads time from the
running loop, so a whole invocation can run on it, against an in-memory endpoint (``FakeAppSync``; real
sockets would not wait on virtual time)::

    appsync = FakeAppSync(latency=0.02, conditions=conditions.Down())
    result, seconds = run_on_virtual_time(handler.process_async(event, lambda_context(timeout_ms=60_000)))
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Clock:
    __slots__ = ("now", "threads")

    def __init__(self) -> None:
        self.now = 0.0
        self.threads = 0
        """Calls running on executor threads (a store's boto3 call): real work, on real time."""


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready:
            return ready
        clock = self.clock
        if clock.threads:  # a thread is working: wait for it (its end wakes the loop) as real time passes
            started = time.monotonic()
            ready = super().select(timeout)
            clock.now += time.monotonic() - started
            return ready
        if timeout is None:  # waiting on I/O that an in-memory run never does: a bug, not a wait
            ready = super().select(5.0)
            if not ready:
                raise RuntimeError("virtual-time loop: nothing scheduled and no I/O ready")
            return ready
        clock.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` advances only by the timeouts it would have waited.

    While a call runs on an executor thread (``run_in_executor``: a store's boto3 call), time is real:
    the clock does not jump past work that takes time, so a store is not "too slow" for a deadline that
    was never near.
    """

    def __init__(self) -> None:
        self._clock = _Clock()
        super().__init__(_VirtualSelector(self._clock))

    def time(self) -> float:
        """Virtual seconds since the loop was made."""
        return self._clock.now

    def run_in_executor(  # type: ignore[override]  # typeshed's TypeVarTuple form, called alike
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        """As asyncio's, counting the call as running until its future is done."""
        future = super().run_in_executor(executor, func, *args)
        clock = self._clock
        clock.threads += 1

        def done(_: asyncio.Future[T]) -> None:
            clock.threads -= 1

        future.add_done_callback(done)
        return future


def run_on_virtual_time(coroutine: Coroutine[Any, Any, T]) -> tuple[T, float]:
    """Run ``coroutine`` to completion on a fresh virtual-time loop; return its result and virtual seconds."""
    loop = VirtualTimeLoop()
    try:
        start = loop.time()
        result = loop.run_until_complete(coroutine)
        return result, loop.time() - start
    finally:
        loop.close()
