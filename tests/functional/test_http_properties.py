"""Property: whatever a server does with each request, a post through one HttpTransport (its connections
kept alive and reused) returns that request's own answer, whole, or raises a retryable
``ConnectionFailedError`` / ``RequestTimeoutError``: never another request's answer, never a cut body
as a success, never another exception; a post the server answers properly always succeeds, whatever failed
before it; the transport never holds more than ``max_connections`` connections; nothing leaks.

A raw asyncio server on 127.0.0.1 reads each request's id from its body and meets it with a random plan:
framing (``content-length``; chunked, chunks of random sizes, maybe a trailer; ``connection: close`` with a
length; no length, the end of the body being the connection's), a 200/400/429/500 status, extra headers,
``100 Continue`` answers first, the answer written in random pieces with or without a millisecond between
them, maybe a stray second answer in the same write as its end; or a fault: a close (before the answer, or
part way through it), a reset (``SO_LINGER`` 0, then abort), or a stall past the client's timeout. The
answer's body and its ``x-id`` header carry the id, so an answer given to the wrong post is seen. Between
posts the server may close, reset, or send a 408 on (and maybe then close) every connection it holds idle;
some posts have a timeout short enough to expire anywhere in the exchange; some run 2-4 at once, through
pools of 1-3 connections; in some runs every reuse first gives the loop its turns (as after an idle second).
The server counts the connections that carried a request and are not yet closed (on its side: it marks a
close when its transport sees it), and reports any error of its own.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import socket
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from streambridge._errors import ConnectionFailedError, RequestTimeoutError
from streambridge._io import http
from streambridge._io.http import HttpTransport
from streambridge._io.transport import HttpResponse

PATIENT = 5.0
"""The timeout of a post the server answers: never reached."""
STALL_TIMEOUT = 0.05
"""The timeout of a post the server stalls: it is reached."""
TIGHT = (1e-9, 1e-9, 0.001, 0.005, 0.02)
"""Timeouts that may expire at any point of an exchange: connecting, writing, waiting for a slot, reading;
1e-9 expires at the post's first pause (often the turns of the loop given before reusing a connection)."""
REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}
EXTRA_NAMES = ("X-Amzn-RequestId", "x-amzn-ErrorType", "Retry-After", "Server", "Cache-Control", "x-extra")
IDLE_ACTIONS = ("close", "reset", "408", "408 and close")
"""What the server may do, between posts, to every connection it holds idle."""
STRAY = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nx-id: stray\r\n"
    b'content-length: 11\r\n\r\n{"id":null}'
)
"""Bytes that answer no request."""


@dataclass(frozen=True)
class Plan:
    """One post, and what the server does with it."""

    status: int
    framing: str
    """"length", "chunked", "close" (``connection: close`` and a length) or "eof" (no length)."""
    padding: int
    """Bytes of padding in the answer's body."""
    continues: int
    """``100 Continue`` answers before the answer."""
    headers: tuple[tuple[str, str], ...]
    chunks: tuple[int, ...]
    """Chunk boundaries, in thousandths of the body (chunked framing)."""
    trailer: bool
    pieces: tuple[int, ...]
    """Where the server's writes split what it sends, in thousandths of it."""
    pauses: bool
    """A millisecond between pieces (else one turn of the event loop)."""
    fault: str | None
    """None, "close", "reset" or "stall"."""
    cut: int
    """Where a fault strikes, in thousandths of the bytes it may cut."""
    tight: float | None
    """A timeout that may expire anywhere, or None."""
    request_padding: int
    stray: bool
    """A stray answer right after the answer (with a length: the connection stays open)."""

    @property
    def timeout(self) -> float:
        if self.tight is not None:
            return self.tight
        return STALL_TIMEOUT if self.fault == "stall" else PATIENT

    def request(self, number: int) -> bytes:
        return json.dumps({"id": number, "pad": "q" * self.request_padding}).encode()

    def body(self, number: int) -> bytes:
        return b'{"id":%d,"pad":"%s"}' % (number, b"x" * self.padding)

    def joined_headers(self) -> dict[str, str]:
        """The extra headers as the client reports them: lower-case names, repeated fields joined."""
        joined: dict[str, list[str]] = {}
        for name, value in self.headers:
            joined.setdefault(name.lower(), []).append(value)
        return {name: ", ".join(values) for name, values in joined.items()}

    def answer(self, number: int) -> tuple[bytes, int]:
        """The whole answer, and how many of its first bytes come before the body."""
        body = self.body(number)
        lines = [f"HTTP/1.1 {self.status} {REASONS[self.status]}", "content-type: application/json"]
        lines += [f"x-id: {number}", *(f"{name}: {value}" for name, value in self.headers)]
        if self.framing in ("length", "close"):
            lines.append(f"content-length: {len(body)}")
        if self.framing == "close":
            lines.append("connection: close")
        if self.framing == "chunked":
            lines.append("transfer-encoding: chunked")
            parts = [body[a:b] for a, b in _spans(len(body), self.chunks)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part)
            body += b"0\r\nx-trailer: 1\r\n\r\n" if self.trailer else b"0\r\n\r\n"
        head = b"HTTP/1.1 100 Continue\r\n\r\n" * self.continues + ("\r\n".join(lines) + "\r\n\r\n").encode()
        return head + body, len(head)

    def sent(self, number: int) -> tuple[bytes, bytes, bool]:
        """What the server writes, the stray bytes it adds to the last write, and whether it keeps the
        connection for the next request."""
        answer, head = self.answer(number)
        if self.fault is None:
            stray = STRAY if self.stray and self.framing != "eof" else b""  # no length: it would be body
            return answer, stray, self.framing in ("length", "chunked")
        # a close or a reset cuts the answer before its end; with no length that means in its head, since
        # a body framed by the close is whole wherever it ends. A stall may stop anywhere before the end.
        room = head if self.framing == "eof" and self.fault != "stall" else len(answer)
        return answer[: room * self.cut // 1000], b"", False


def _spans(size: int, thousandths: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    cuts = sorted({size * t // 1000 for t in thousandths} | {0, size})
    return itertools.pairwise(cuts)


THOUSANDTHS = st.lists(st.integers(1, 999), max_size=4).map(tuple)
PLANS = st.builds(
    Plan,
    status=st.sampled_from(sorted(REASONS)),
    framing=st.sampled_from(["length", "length", "chunked", "chunked", "close", "eof"]),  # mostly kept alive
    padding=st.sampled_from([0, 7, 300, 4000, 70_000]),  # 70 kB: more than one read of the client's
    continues=st.sampled_from([0, 0, 1, 2]),
    headers=st.lists(
        st.tuples(st.sampled_from(EXTRA_NAMES), st.text("abcXYZ0189-=/.", min_size=1, max_size=12)),
        max_size=4,
    ).map(tuple),
    chunks=THOUSANDTHS,
    trailer=st.booleans(),
    pieces=THOUSANDTHS,
    pauses=st.booleans(),
    fault=st.sampled_from([None] * 8 + ["close", "reset", "stall"]),
    cut=st.one_of(st.just(0), st.integers(0, 999)),
    tight=st.sampled_from([None] * 12 + list(TIGHT)),
    request_padding=st.sampled_from([0, 40, 20_000]),
    stray=st.sampled_from([False, False, False, True]),
)
STEPS = st.lists(
    st.one_of(
        st.lists(PLANS, min_size=1, max_size=1),
        st.lists(PLANS, min_size=1, max_size=1),
        st.lists(PLANS, min_size=2, max_size=4),  # at once
        st.sampled_from(IDLE_ACTIONS),
    ),
    min_size=2,
    max_size=8,
)


class _Counted(asyncio.StreamReaderProtocol):
    """The server's side of a connection: counts as open from its first request until its transport sees
    it closed (a close the client makes counts at once, not when the handler next reads)."""

    def __init__(self, server: PlannedServer, reader: asyncio.StreamReader) -> None:
        super().__init__(reader, server.handle)
        self.server = server
        self.gone = False
        """Closed by either side: a request read after (sent before the close) does not count it again."""

    def eof_received(self) -> bool | None:
        self.server.closed(self)
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.closed(self)
        super().connection_lost(exc)


class PlannedServer:
    """Meets each request with the plan of the id in its body."""

    def __init__(self) -> None:
        self.plans: dict[int, Plan] = {}
        self.open: set[_Counted] = set()
        self.peak = 0
        self.idle: dict[asyncio.StreamWriter, _Counted] = {}
        self.handlers: set[asyncio.Task[None]] = set()
        self.served: list[int] = []
        """Requests answered on each connection."""
        self.errors: list[BaseException] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Counted(self, asyncio.StreamReader(limit=2**20)), "127.0.0.1", 0
        )
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/graphql"

    def closed(self, protocol: _Counted) -> None:
        protocol.gone = True
        self.open.discard(protocol)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        protocol: Any = writer.transport.get_protocol()
        served, keep = 0, True
        try:
            while keep:
                self.idle[writer] = protocol
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                finally:
                    self.idle.pop(writer, None)
                if not protocol.gone and protocol not in self.open:
                    self.open.add(protocol)
                    self.peak = max(self.peak, len(self.open))
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                number = json.loads(await reader.readexactly(length))["id"]
                keep = await self.answer(self.plans[number], number, reader, writer)
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed, or gave up
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.errors.append(e)
        finally:
            self.served.append(served)
            self.closed(protocol)
            writer.close()

    async def answer(
        self, plan: Plan, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        data, stray, keep = plan.sent(number)
        for start, end in _spans(len(data), plan.pieces):
            if start:
                await asyncio.sleep(0.001 if plan.pauses else 0)
            # the stray bytes in the same write as the answer's end: already there when the client reads
            # that end (later, a client could not tell them from an answer to its next request)
            writer.write(data[start:end] + (stray if end == len(data) else b""))
            await writer.drain()
        if plan.fault == "reset":
            self.reset(writer)
        elif plan.fault == "stall":
            await reader.read()  # until the client gives up and closes
        return keep

    def reset(self, writer: asyncio.StreamWriter) -> None:
        self.closed(writer.transport.get_protocol())  # type: ignore[arg-type]
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        writer.transport.abort()

    def act_on_idle(self, action: str) -> int:
        """Do ``action`` to every connection waiting for a request; how many there were."""
        idle = list(self.idle.items())
        for writer, protocol in idle:
            if action.startswith("408"):
                writer.write(STRAY)
            if action == "reset":
                self.reset(writer)
            elif action.endswith("close"):
                self.closed(protocol)
                writer.close()
        return len(idle)

    async def stop(self) -> list[asyncio.Task[None]]:
        """Stop listening; the handlers still running 2 s after (connections the client left open)."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        if not self.handlers:
            return []
        _, pending = await asyncio.wait(self.handlers, timeout=2)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return list(pending)


def outcome(plan: Plan, number: int, result: object) -> str:
    """Check one post's result against its plan; name the outcome."""
    if isinstance(result, HttpResponse):
        assert plan.fault is None, f"post {number}: the server's {plan.fault} came back as {result!r}"
        assert result.status == plan.status, f"post {number}: {result!r} for {plan}"
        assert result.body == plan.body(number), f"post {number}: another or a cut body {result.body[:80]!r}"
        assert result.headers["x-id"] == str(number)
        for name, value in plan.joined_headers().items():
            assert result.headers[name] == value
        return "answered, a stray answer after it" if plan.sent(number)[1] else "answered"
    allowed: tuple[type[BaseException], ...] = ()
    if plan.fault in ("close", "reset"):
        allowed += (ConnectionFailedError,)
    if plan.fault == "stall" or plan.tight is not None:
        allowed += (RequestTimeoutError,)
    assert isinstance(result, allowed), f"post {number} ({plan}) ended with {result!r}, expected {allowed}"
    assert result.retryable
    return type(result).__name__


async def run(max_connections: int, steps: list[Any]) -> list[str]:
    """Post the steps through one transport; return the outcomes, after checking each of them."""
    problems: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: problems.append(context))
    server = PlannedServer()
    await server.start()
    transport = HttpTransport(max_connections=max_connections)
    outcomes: list[str] = []
    left_open: list[asyncio.Task[None]] = []
    try:
        for step in steps:
            if isinstance(step, str):
                if server.act_on_idle(step):
                    outcomes.append(f"{step} on idle connections")
                await asyncio.sleep(0.005)  # the client's loop sees it before the next post
                continue
            numbers = [len(server.plans) + i for i in range(len(step))]
            server.plans.update(zip(numbers, step, strict=True))
            results = await asyncio.gather(
                *(
                    transport.post(server.url, plan.request(n), {}, plan.timeout)
                    for n, plan in zip(numbers, step, strict=True)
                ),
                return_exceptions=True,
            )
            outcomes += [
                outcome(plan, n, result) for n, plan, result in zip(numbers, step, results, strict=True)
            ]
    finally:
        await transport.close()
        left_open = await server.stop()
    # THEN the server never held more connections from the transport than its pool may open
    assert server.peak <= max_connections, f"{server.peak} connections open at once, max {max_connections}"
    # AND the transport's close left none open, and neither side met an error it did not handle
    assert left_open == [], f"{len(left_open)} connections still open after the transport was closed"
    assert server.errors == []
    assert problems == []
    if any(served > 1 for served in server.served):
        outcomes.append("a connection carried several requests")
    return outcomes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(max_connections=st.integers(1, 3), steps=STEPS, pause_before_reuse=st.booleans())
def test_every_post_gets_its_own_whole_answer_or_a_retryable_error(
    max_connections: int, steps: list[Any], pause_before_reuse: bool
) -> None:
    # GIVEN a server meeting each request with its plan, one transport with a pool of 1-3 connections, and
    # maybe the turns of the loop given before every reuse (as to a connection idle over _QUIET, 1 s)
    quiet = 0.0 if pause_before_reuse else http._QUIET
    with warnings.catch_warnings(record=True) as caught, mock.patch.object(http, "_QUIET", quiet):
        warnings.simplefilter("always")
        # WHEN the steps are posted, one at a time or several at once, with idle connections acted on between
        outcomes = asyncio.run(run(max_connections, steps))  # THEN each result is checked against its plan
        gc.collect()
    for name in set(outcomes):
        event(name)
    event(f"pause before reuse: {pause_before_reuse}")
    # AND no socket, transport or stream was left for the garbage collector to close
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
