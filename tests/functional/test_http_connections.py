"""HttpTransport's connections against raw servers on 127.0.0.1: every way HTTP/1.1 frames an answer, what a
server's close does to the next request, idle limits, timeouts mid-answer, TLS, and headers that cannot be
sent. The signature and status contract is in test_http_transport.py."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import trustme

from streambridge._errors import ConfigurationError, ConnectionFailedError, RequestTimeoutError
from streambridge._io import http
from streambridge._io.http import HttpTransport

BODY = b'{"query":"mutation { m }"}'


class RawServer:
    """Answers each request with the bytes a test gives, and counts connections and requests."""

    def __init__(self, answer: Callable[[int], bytes], close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests = 0
        self.url = ""
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.requests += 1
                writer.write(self.answer(self.requests))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    servers: list[tuple[asyncio.Server, RawServer]] = []

    async def start(answer: Callable[[int], bytes], **options: Any) -> RawServer:
        raw = RawServer(answer, **options)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append((server, raw))
        raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/graphql"
        return raw

    yield start
    for server, raw in servers:
        server.close()
        await server.wait_closed()
        for writer in raw.writers:  # a handler still waiting for a next request: its socket, closed now
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def holding_an_idle_connection(url: str) -> tuple[HttpTransport, Any]:
    """A new transport that posted once to ``url``, and the idle connection it kept."""
    transport = HttpTransport()
    await transport.post(url, BODY, {}, timeout=5)
    pool = transport._pool
    assert pool is not None
    [connection] = pool.idle[next(iter(pool.idle))]
    return transport, connection


async def listen(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, str]:
    """A server of the test's own handler, and the URL to post to."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/graphql"


def answer(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "content-type: application/json", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


@pytest_asyncio.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    transport = HttpTransport(max_connections=4)
    yield transport
    await transport.close()


# --- framing -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_chunked_answer_is_read_whole_and_the_connection_reused(
    serve: Any, transport: HttpTransport
) -> None:
    # GIVEN a server answering in chunks
    server = await serve(
        lambda n: answer(chunked(b'{"data":', b'{"n":%d}}' % n), "transfer-encoding: chunked")
    )
    # WHEN posting twice
    first = await transport.post(server.url, BODY, {}, timeout=5)
    second = await transport.post(server.url, BODY, {}, timeout=5)
    # THEN each body is whole, and both went over one connection
    assert (first.body, second.body) == (b'{"data":{"n":1}}', b'{"data":{"n":2}}')
    assert (server.connections, server.requests) == (1, 2)


@pytest.mark.asyncio
async def test_a_large_answer_is_read_whole(serve: Any, transport: HttpTransport) -> None:
    # GIVEN an answer of 1 MB, more than one read
    payload = b'{"data":"' + b"x" * 1_000_000 + b'"}'
    server = await serve(lambda _: answer(payload))
    # WHEN posting THEN every byte arrives
    assert (await transport.post(server.url, BODY, {}, timeout=5)).body == payload


@pytest.mark.asyncio
async def test_connection_close_is_honoured(serve: Any, transport: HttpTransport) -> None:
    # GIVEN a server that says Connection: close and closes after each answer
    server = await serve(lambda _: answer(b"{}", "connection: close"), close_after=True)
    # WHEN posting twice
    for _ in range(2):
        assert (await transport.post(server.url, BODY, {}, timeout=5)).status == 200
    # THEN the second went over a new connection, and neither failed
    assert (server.connections, server.requests) == (2, 2)


@pytest.mark.asyncio
async def test_an_answer_framed_by_closing_is_read_to_the_end(serve: Any, transport: HttpTransport) -> None:
    # GIVEN a server whose answer has no length: its end is the connection's end
    server = await serve(
        lambda _: b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{}", close_after=True
    )
    # WHEN posting twice THEN both are read whole, each over its own connection
    for _ in range(2):
        assert (await transport.post(server.url, BODY, {}, timeout=5)).body == b"{}"
    assert server.connections == 2


@pytest.mark.asyncio
async def test_an_informational_answer_is_skipped(serve: Any, transport: HttpTransport) -> None:
    # GIVEN a 100 Continue before the answer
    server = await serve(lambda _: b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b'{"data":{}}'))
    # WHEN posting THEN the final answer is returned
    response = await transport.post(server.url, BODY, {}, timeout=5)
    assert (response.status, response.body) == (200, b'{"data":{}}')


@pytest.mark.asyncio
async def test_headers_are_found_in_any_case_and_repeated_ones_joined(
    serve: Any, transport: HttpTransport
) -> None:
    # GIVEN an answer with a repeated header
    server = await serve(lambda _: answer(b"{}", "Retry-After: 3", "X-Seen: a", "x-seen: b"))
    # WHEN posting
    headers = (await transport.post(server.url, BODY, {}, timeout=5)).headers
    # THEN names are lower case, found in any case, and a repeated field reads as one list
    assert headers["Retry-After"] == headers["retry-after"] == "3"
    assert "RETRY-AFTER" in headers
    assert headers["x-seen"] == "a, b"
    assert set(headers) == {"content-type", "retry-after", "x-seen", "content-length"}


@pytest.mark.asyncio
async def test_an_answer_that_is_not_http_is_a_connection_failure(
    serve: Any, transport: HttpTransport
) -> None:
    # GIVEN a server that answers garbage
    server = await serve(lambda _: b"SSH-2.0-OpenSSH\r\n\r\n", close_after=True)
    # WHEN posting THEN a retryable ConnectionFailedError (no answer was read)
    with pytest.raises(ConnectionFailedError, match=r"127\.0\.0\.1") as caught:
        await transport.post(server.url, BODY, {}, timeout=5)
    assert caught.value.retryable


@pytest.mark.asyncio
async def test_a_close_before_the_answer_is_a_connection_failure(
    serve: Any, transport: HttpTransport
) -> None:
    # GIVEN a server that reads the request and closes without a word
    server = await serve(lambda _: b"", close_after=True)
    # WHEN posting THEN ConnectionFailedError
    with pytest.raises(ConnectionFailedError):
        await transport.post(server.url, BODY, {}, timeout=5)


# --- reuse -------------------------------------------------------------------------------------------------


@pytest.fixture
def closing_server() -> Iterator[tuple[str, list[int]]]:
    """A server in its own thread that answers one request per connection and closes it 50 ms later,
    without saying Connection: close: a keep-alive connection the server drops while the client idles."""
    accepted: list[int] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with peer:
                data = b""
                while not data.endswith(BODY):
                    data += peer.recv(65536)
                peer.sendall(answer(b"{}"))
                time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/graphql", accepted
    listener.close()
    thread.join(timeout=5)


@pytest.mark.asyncio
async def test_a_connection_the_server_closed_while_frozen_is_not_written_into(
    closing_server: tuple[str, list[int]], transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a connection the server closes while the event loop is not running (a Lambda freeze)
    monkeypatch.setattr(http, "_QUIET", 0.0)
    url, accepted = closing_server
    assert (await transport.post(url, BODY, {}, timeout=5)).status == 200
    time.sleep(0.2)  # noqa: ASYNC251 - the loop must not run: the close waits unread in the socket
    # WHEN the next invocation posts
    response = await transport.post(url, BODY, {}, timeout=5)
    # THEN it goes over a new connection instead of failing on the closed one
    assert response.status == 200
    assert len(accepted) == 2


@pytest.mark.asyncio
async def test_a_connection_idle_too_long_is_not_reused(
    serve: Any, transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN connections may idle for 50 ms
    monkeypatch.setattr(http, "IDLE_TIMEOUT", 0.05)
    server = await serve(lambda _: answer(b"{}"))
    await transport.post(server.url, BODY, {}, timeout=5)
    await transport.post(server.url, BODY, {}, timeout=5)
    assert server.connections == 1
    # WHEN the next post comes after longer than that
    await asyncio.sleep(0.1)
    await transport.post(server.url, BODY, {}, timeout=5)
    # THEN it opens a new connection
    assert server.connections == 2


@pytest.mark.asyncio
async def test_a_timeout_mid_answer_drops_the_connection(serve: Any, transport: HttpTransport) -> None:
    # GIVEN a server that sends half an answer, then nothing, on its first connection only
    stalled: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(len(BODY))
        if not stalled:
            stalled.append(writer)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{")
            await writer.drain()
            await reader.read()  # until the client gives up
        else:
            writer.write(answer(b"{}"))
            await writer.drain()
        writer.close()

    server, url = await listen(handle)
    async with server:
        # WHEN the first post times out mid-answer
        with pytest.raises(RequestTimeoutError):
            await transport.post(url, BODY, {}, timeout=0.2)
        # THEN the next post is not read from the half-read connection: it gets its own answer
        response = await transport.post(url, BODY, {}, timeout=5)
    assert (response.status, response.body) == (200, b"{}")


@pytest.mark.asyncio
async def test_connections_of_a_closed_transport_are_closed(serve: Any) -> None:
    # GIVEN a transport holding an idle connection
    server = await serve(lambda _: answer(b"{}"))
    transport, connection = await holding_an_idle_connection(server.url)
    # WHEN it is closed
    await transport.close()
    # THEN the connection is closing
    assert connection.writer.transport.is_closing()


# --- headers that cannot be sent ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [{"x-api-key": "da2-secret\r\nx-evil: 1"}, {"x-api-key": "da2-sécret"}, {"bad name": "da2-secret"}],
)
async def test_a_header_that_cannot_be_sent_is_a_configuration_error_that_hides_it(
    serve: Any, transport: HttpTransport, headers: dict[str, str]
) -> None:
    # GIVEN a server, and a header with a line break, a non-ASCII value, or a space in its name
    server = await serve(lambda _: answer(b"{}"))
    # WHEN posting with it
    with pytest.raises(ConfigurationError) as caught:
        await transport.post(server.url, BODY, headers, timeout=5)
    # THEN nothing was sent and the message does not show the value
    assert "secret" not in str(caught.value)
    assert "sécret" not in str(caught.value)
    assert server.requests == 0


# --- TLS ---------------------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def tls_server() -> AsyncIterator[tuple[str, trustme.CA]]:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    raw = RawServer(lambda _: answer(b'{"data":{}}'))
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=context)
    yield f"https://localhost:{server.sockets[0].getsockname()[1]}/graphql", authority
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_tls_with_a_trusted_authority(tls_server: tuple[str, trustme.CA]) -> None:
    # GIVEN a transport trusting the server's authority
    url, authority = tls_server
    context = ssl.create_default_context()
    authority.configure_trust(context)
    transport = HttpTransport(ssl_context=context)
    try:
        # WHEN posting over https THEN the answer comes back
        assert (await transport.post(url, BODY, {}, timeout=5)).body == b'{"data":{}}'
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_tls_with_an_unknown_authority_fails_unless_verification_is_off(
    tls_server: tuple[str, trustme.CA],
) -> None:
    # GIVEN a server whose certificate no system authority signed
    url, _ = tls_server
    verifying, trusting_all = HttpTransport(), HttpTransport(verify_tls=False)
    try:
        # WHEN posting with verification THEN it fails as a setting no retry cures, saying why and what to do
        with pytest.raises(
            ConfigurationError, match=r"certificate of localhost:\d+ cannot be verified"
        ) as caught:
            await verifying.post(url, BODY, {}, timeout=5)
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
        assert "ssl_context" in str(caught.value)
        assert not caught.value.retryable
        # AND with verification off it goes through
        assert (await trusting_all.post(url, BODY, {}, timeout=5)).status == 200
    finally:
        await verifying.close()
        await trusting_all.close()


# --- bytes that answer no request (the adversary's review of 2026-12-08) ----------------------------------


@pytest.mark.asyncio
async def test_a_second_answer_to_one_request_is_never_read_as_the_next_ones(
    serve: Any, transport: HttpTransport
) -> None:
    # GIVEN a server that answers the first request twice, in one write
    server = await serve(lambda n: answer(b"%d" % n) + (answer(b"1 again") if n == 1 else b""))
    # WHEN posting twice
    first = await transport.post(server.url, BODY, {}, timeout=5)
    second = await transport.post(server.url, BODY, {}, timeout=5)
    # THEN the second post gets its own answer, over a new connection: the stray answer would have said that
    # a mutation which never ran was published
    assert (first.body, second.body) == (b"1", b"2")
    assert server.connections == 2


@pytest.mark.asyncio
async def test_an_answer_sent_on_an_idle_connection_is_never_read_as_the_next_ones(
    transport: HttpTransport,
) -> None:
    # GIVEN a server that, after its answer, says 408 on the idle connection and closes it (some servers do
    # this to idle keep-alive connections)
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(len(BODY))
        writer.write(answer(b"%d" % len(connections)))
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server, url = await listen(handle)
    async with server:
        assert (await transport.post(url, BODY, {}, timeout=5)).body == b"1"
        await asyncio.sleep(0.2)  # the 408 arrives while the connection is idle
        # WHEN the next request is posted
        second = await transport.post(url, BODY, {}, timeout=5)
        await asyncio.sleep(0.2)  # the second connection's handler ends too
    # THEN it went over a new connection and got its own answer, not the 408
    assert (second.status, second.body) == (200, b"2")


@pytest.mark.asyncio
async def test_an_answer_with_both_framings_is_read_as_chunked_and_its_connection_dropped(
    serve: Any, transport: HttpTransport
) -> None:
    # GIVEN answers with Transfer-Encoding: chunked and a Content-Length (a sign of response splitting)
    server = await serve(
        lambda _: answer(chunked(b'{"data":{}}'), "transfer-encoding: chunked", "content-length: 3")
    )
    # WHEN posting twice
    first = await transport.post(server.url, BODY, {}, timeout=5)
    await transport.post(server.url, BODY, {}, timeout=5)
    # THEN the body is the chunked one (RFC 9112 6.3) and no connection served a second request
    assert first.body == b'{"data":{}}'
    assert server.connections == 2


@pytest.mark.asyncio
async def test_a_switch_of_protocols_fails_the_post_in_time(serve: Any, transport: HttpTransport) -> None:
    # GIVEN a server that agrees to a protocol switch a (custom) auth asked for
    server = await serve(
        lambda _: b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n"
    )
    # WHEN posting with Upgrade THEN a retryable connection failure, at once (it spun forever before)
    started = time.monotonic()
    with pytest.raises(ConnectionFailedError, match="not an HTTP answer"):
        await transport.post(server.url, BODY, {"upgrade": "x", "connection": "upgrade"}, timeout=2)
    assert time.monotonic() - started < 1


@pytest.mark.asyncio
async def test_a_caller_framing_header_is_dropped(transport: HttpTransport) -> None:
    # GIVEN a server that records the request head
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        await reader.readexactly(len(BODY))
        writer.write(answer(b"{}"))
        await writer.drain()
        writer.close()

    server, url = await listen(handle)
    async with server:
        # WHEN posting with a transfer-encoding and a wrong content-length of the caller's
        await transport.post(url, BODY, {"Transfer-Encoding": "chunked", "Content-Length": "1"}, timeout=5)
    # THEN the body is framed once, by its real length (RFC 9112 6.2 forbids sending both)
    head = heads[0].lower()
    assert b"transfer-encoding" not in head
    assert head.count(b"content-length") == 1
    assert b"content-length: %d\r\n" % len(BODY) in head


@pytest.mark.asyncio
async def test_a_close_instead_of_an_answer_says_so(serve: Any, transport: HttpTransport) -> None:
    # GIVEN a server that reads the request and closes
    server = await serve(lambda _: b"", close_after=True)
    # WHEN posting THEN the message says what happened
    with pytest.raises(ConnectionFailedError, match="closed the connection before answering"):
        await transport.post(server.url, BODY, {}, timeout=5)


@pytest.mark.asyncio
async def test_an_operating_system_timeout_is_a_connection_failure_not_ours(
    transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a connect that fails with the system's ETIMEDOUT long before the request's own limit
    async def timed_out(*_: Any, **__: Any) -> Any:
        raise TimeoutError(110, "Connection timed out")

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", timed_out)
    # WHEN posting with 30 s to spare THEN a connection failure, not "no answer within 30 s"
    with pytest.raises(ConnectionFailedError, match="Connection timed out"):
        await transport.post("http://127.0.0.1:9/graphql", BODY, {}, timeout=30)


@pytest.mark.asyncio
async def test_a_refused_header_leaves_no_trace_of_its_value(transport: HttpTransport) -> None:
    # GIVEN / WHEN a header value HTTP cannot carry
    with pytest.raises(ConfigurationError) as caught:
        await transport.post(
            "http://127.0.0.1:9/graphql", BODY, {"x-api-key": "da2-SECRET\x0bKEY"}, timeout=5
        )
    # THEN neither the message nor any chained exception holds it
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert "SECRET" not in repr(caught.value)


@pytest.mark.asyncio
async def test_a_post_cancelled_while_checking_an_idle_connection_closes_it(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an idle connection that is checked before reuse
    monkeypatch.setattr(http, "_QUIET", 0.0)
    server = await serve(lambda _: answer(b"{}"))
    transport, connection = await holding_an_idle_connection(server.url)
    # WHEN a post is cancelled during that check
    post = asyncio.ensure_future(transport.post(server.url, BODY, {}, timeout=5))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    post.cancel()
    with pytest.raises(asyncio.CancelledError):
        await post
    # THEN the connection it held is closed, not dropped open (a ResourceWarning later)
    assert connection.writer.transport.is_closing()
    await transport.close()
