"""A fault-injecting AppSync-like HTTP server on 127.0.0.1, for tests through the real aiohttp transport.

Raw asyncio sockets rather than a web framework, so that it can also misbehave below HTTP: reset the
connection before reading the request or after reading it, or answer too late. Each request takes the next
fault of the schedule; with none left it answers like AppSync, running every aliased top-level mutation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from streambridge import HttpResponse

# A top-level field: its response key (the alias, or the field's name when the request holds one mutation
# as the user wrote it), its name, and the variable it takes its input from.
FIELD = re.compile(r"(?:\b(\w+) *: *)?\b(publish\w*) *\( *input *: *\$(\w+) *\)")


@dataclass(frozen=True)
class Fault:
    """What the server does with one request."""

    kind: str  # "status", "reset_before", "reset_after", "slow", "garbage", "field_errors"
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    failing: frozenset[str] = frozenset()  # positions to fail ("m0" is the first field), for "field_errors"


def status(code: int, body: bytes = b"", **headers: str) -> Fault:
    """Answer ``code`` with ``body`` (HTML, JSON, anything)."""
    return Fault("status", status=code, body=body, headers=tuple(headers.items()))


RESET_BEFORE = Fault("reset_before")
RESET_AFTER = Fault("reset_after")
GARBAGE = Fault("garbage")


def slow(delay: float) -> Fault:
    """Answer correctly, but only after ``delay`` seconds."""
    return Fault("slow", delay=delay)


def field_errors(*aliases: str) -> Fault:
    """Run the request, failing the fields at these positions (``m0``, ``m1``, ... whether the request
    aliases them or not) with a GraphQL error (partial data, like AppSync)."""
    return Fault("field_errors", failing=frozenset(aliases))


@dataclass
class FaultyAppSync:
    """The server's state: the fault schedule, what it executed, how many requests it saw."""

    faults: deque[Fault] = field(default_factory=deque)
    executed: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    reject: Callable[[dict[str, Any]], str | None] = lambda _order: None
    """A resolver rule: a message to fail an order with (like a VTL ``$util.error``), or None."""
    connections: set[asyncio.Task[None]] = field(default_factory=set)
    conditions: Callable[[float], Any] | None = None
    """A network condition (``streambridge.testing.conditions``) for requests the schedule leaves."""

    def schedule(self, *faults: Fault) -> None:
        """The next requests get these faults, in order."""
        self.faults.extend(faults)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection (keep-alive: several requests)."""
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
            task.add_done_callback(self.connections.discard)
        try:
            while True:
                if self.faults and self.faults[0].kind == "reset_before":
                    self.faults.popleft()
                    self.requests += 1
                    _abort(writer)
                    return
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests += 1
                fault = self.faults.popleft() if self.faults else self._condition()
                if fault.kind == "reset_after":
                    _abort(writer)
                    return
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
                writer.write(self.answer(fault, request))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _condition(self) -> Fault:
        """What the network condition says about this request, as a fault (``ok`` without one)."""
        outcome = self.conditions(asyncio.get_running_loop().time()) if self.conditions else None
        if outcome is None:
            return Fault("ok")
        if isinstance(outcome, HttpResponse):
            return status(outcome.status, outcome.body, **outcome.headers)
        if isinstance(outcome, TimeoutError):
            return slow(3600.0)  # never answers: the client's timeout ends it
        return RESET_AFTER

    def answer(self, fault: Fault, body: bytes) -> bytes:
        """The raw HTTP response for a request under ``fault``."""
        if fault.kind == "status":
            return _http(fault.status, fault.body, fault.headers)
        if fault.kind == "garbage":
            return _http(200, b"<html>not json")
        request = json.loads(body)
        data: dict[str, Any] = {}
        errors = []
        for position, (alias, field_name, variable) in enumerate(FIELD.findall(request["query"])):
            key = alias or field_name
            order = request["variables"].get(variable, {})
            rejected = self.reject(order)
            if f"m{position}" in fault.failing or rejected:
                data[key] = None
                errors.append({"path": [key], "errorType": "ValidationError",
                               "message": rejected or "rejected by the fault schedule"})  # fmt: skip
            else:
                data[key] = order
                self.executed.append({"field": field_name, **order})
        payload = {"data": data, "errors": errors} if errors else {"data": data}
        return _http(200, json.dumps(payload).encode(), (("content-type", "application/json"),))


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    return await reader.readexactly(length)


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if isinstance(transport, asyncio.Transport):
        transport.abort()  # an RST, not a graceful close


def _http(code: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {code} X", f"content-length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextmanager
def faulty_appsync() -> Iterator[FaultyAppSync]:
    """Run the server in a background thread for the duration of the block."""
    state = FaultyAppSync()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(state.handle, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}/graphql"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:

        async def shutdown() -> None:
            server.close()
            for connection in list(state.connections):  # e.g. a slow answer the client gave up on
                connection.cancel()
            await asyncio.gather(*state.connections, return_exceptions=True)
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
