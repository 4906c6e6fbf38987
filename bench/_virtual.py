"""An in-memory AppSync and an event loop on virtual time: latency without waiting for it.

``VirtualTimeLoop`` is an asyncio loop whose clock jumps forward whenever every task is waiting on a
timer, so ``asyncio.sleep(0.02)`` costs no real time while the order of events, the concurrency limit and
the round trips stay exactly those of a real run at that latency. With ``InstantAppSync`` (a transport
answering each aliased mutation after ``latency`` of virtual time) it gives the time an invocation would
take at that latency, while CPU (``process_time``) and memory (``tracemalloc``) are real.
"""

from __future__ import annotations

import asyncio
import json
import re
import selectors
from collections.abc import Mapping
from typing import Any

from streambridge import HttpResponse

_ALIAS = re.compile(rb"\b(m\d+(?:_\d+)?):")
_FIELD = re.compile(rb"\{\s*(\w+)")  # a request of one mutation: the document as written, unaliased


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready:
            return ready
        if timeout is None:  # waiting on I/O that an in-memory run never does: a bug, not a wait
            ready = super().select(5.0)
            if not ready:
                raise RuntimeError("virtual-time loop: nothing scheduled and no I/O ready")
            return ready
        self.clock.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` advances only by the timeouts it would have waited."""

    def __init__(self) -> None:
        self._clock = _Clock()
        super().__init__(_VirtualSelector(self._clock))

    def time(self) -> float:
        return self._clock.now


class InstantAppSync:
    """A ``Transport`` that answers every mutation with success after ``latency`` seconds."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._answers: dict[tuple[bytes, ...], HttpResponse] = {}

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            end = body.find(b'"variables"')
            aliases = tuple(_ALIAS.findall(body, 0, end))
            if not aliases:
                field = _FIELD.search(body, body.find(b"{", 1), end)
                aliases = (field.group(1),) if field else ()
            answer = self._answers.get(aliases)
            if answer is None:
                data = {alias.decode(): {"id": "x", "status": "ok"} for alias in aliases}
                answer = HttpResponse(200, {}, json.dumps({"data": data}).encode())
                self._answers[aliases] = answer
            return answer
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        """Nothing to release."""


def run_on_virtual_time(coroutine: Any) -> tuple[Any, float]:
    """Run ``coroutine`` to completion on a fresh virtual-time loop; return its result and virtual seconds."""
    loop = VirtualTimeLoop()
    try:
        start = loop.time()
        result = loop.run_until_complete(coroutine)
        return result, loop.time() - start
    finally:
        loop.close()
