"""An in-memory AppSync, and the event loop on virtual time: latency without waiting for it.

``VirtualTimeLoop`` (``streambridge.testing``) is an asyncio loop whose clock jumps forward whenever every
task is waiting on a timer, so ``asyncio.sleep(0.02)`` costs no real time while the order of events, the
concurrency limit and the round trips stay exactly those of a real run at that latency. With
``InstantAppSync`` (a transport
answering each aliased mutation after ``latency`` of virtual time) it gives the time an invocation would
take at that latency, while CPU (``process_time``) and memory (``tracemalloc``) are real.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping

from streambridge import HttpResponse
from streambridge.testing._virtual_time import VirtualTimeLoop, run_on_virtual_time

__all__ = ["InstantAppSync", "VirtualTimeLoop", "run_on_virtual_time"]

_ALIAS = re.compile(rb"\b(m\d+(?:_\d+)?):")
_FIELD = re.compile(rb"\{\s*(\w+)")  # a request of one mutation: the document as written, unaliased


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
