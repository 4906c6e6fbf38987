"""The shipped transport: pooled keep-alive HTTP/1.1 connections on asyncio streams, framed by h11.

Why not aiohttp: importing it costs more than the rest of a cold start's first call (its import builds a
TLS context and loads ~60 modules), and a publisher needs one thing from HTTP: POST a body, read the
answer. h11 (python-hyper's HTTP/1.1 state machine, the one under httpcore/httpx and uvicorn) does the
framing that is easy to get wrong: chunked and length-delimited bodies, ``Connection: close``, header
validation. This module only keeps connections: open, reuse, bound, time out, close.

h11, asyncio and ssl are imported on first use, never at module import: import time is Lambda cold-start
time.

A pool belongs to the event loop it was created on. The transport keeps it for as long as posts come from
that same loop (the bridge keeps one loop across warm invocations) and makes a new one when the loop
changed. So that connections never outlive their loop unclosed (``asyncio.run`` per invocation, pytest's
per-test loops), each pool is paired with a small async generator: asyncio closes every pending async
generator when the loop shuts down (``loop.shutdown_asyncgens()``, which ``asyncio.run`` and
``asyncio.Runner`` call), and closing that generator closes the pool on its own loop.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from streambridge._errors import ConfigurationError, ConnectionFailedError, RequestTimeoutError
from streambridge._io.transport import HttpResponse

if TYPE_CHECKING:
    import asyncio
    import ssl
    from collections.abc import AsyncGenerator, Iterator

    import h11

__all__ = ["HttpTransport"]

_JSON = "application/json"
_FRAMING = ("content-length", "transfer-encoding")
_READ_SIZE = 65536
IDLE_TIMEOUT = 15.0
"""Seconds a connection may stay idle and still be reused: aiohttp's keep-alive default. How long AppSync
keeps an idle connection open is not documented; a connection it closed is noticed before reuse when the
close has arrived, and otherwise fails as a connection error that the retry policy retries."""
_QUIET = 1.0
"""A connection idle longer than this is given a turn of the event loop before reuse, so that a close
the server sent meanwhile (after a Lambda freeze, say) is seen instead of written into."""


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit  # only on the error path

    try:
        return urlsplit(url).netloc.rpartition("@")[2] or "<no host>"
    except ValueError:
        return "<invalid URL>"


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Headers(Mapping[str, str]):
    """An answer's headers: names in lower case, looked up in any case; repeated fields joined by ", "."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"_Headers({self._fields!r})"


class _Origin:
    """Where a URL's requests go: the socket address, TLS, the Host header and the request target."""

    __slots__ = ("host", "hostname", "port", "target", "tls")

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        from streambridge._io.endpoint import split_endpoint

        try:
            self.host, self.hostname = split_endpoint(url)
            parts = urlsplit(url)
            port = parts.port
        except (ConfigurationError, ValueError) as e:
            raise ConfigurationError(f"cannot POST to this URL: {_describe(e)}") from None
        self.tls = parts.scheme == "https"
        self.port = port if port is not None else (443 if self.tls else 80)
        path = parts.path or "/"
        self.target = f"{path}?{parts.query}" if parts.query else path

    @property
    def key(self) -> tuple[str, int, bool]:
        return self.hostname, self.port, self.tls


class _Connection:
    """One HTTP/1.1 connection: asyncio streams, and h11's state of the exchange on it."""

    __slots__ = ("h11", "idle_since", "reader", "writer")

    def __init__(self, reader: _CountingReader, writer: asyncio.StreamWriter) -> None:
        import h11

        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = time.monotonic()

    @property
    def reusable(self) -> bool:
        """Ready for another request: its last answer read to the end and nothing since, no close seen.

        A byte that arrives on an idle connection answers no request of ours (a second answer, a 408 sent
        before closing): reading it as the next request's answer would report a mutation that never ran as
        published, so the connection is dropped instead.
        """
        import h11

        return (
            self.h11.our_state is h11.IDLE
            and self.reader.unread == 0
            and not self.reader.at_eof()
            and not self.writer.transport.is_closing()
        )

    async def exchange(self, request: h11.Request, body: bytes) -> HttpResponse:
        """Send one request and read its whole answer; afterwards the connection may serve the next."""
        import h11

        connection = self.h11
        head, data, end = (connection.send(e) for e in (request, h11.Data(data=body), h11.EndOfMessage()))
        self.writer.write(head + data + end)
        await self.writer.drain()
        status, headers, chunks = 0, dict[str, str](), []
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                received = await self.reader.read(_READ_SIZE)
                if not received and not status:  # b"": the server closed without a word
                    raise ConnectionResetError("the server closed the connection before answering")
                connection.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
                for name, value in event.headers:
                    text = value.decode("utf-8", "surrogateescape")  # as aiohttp reads them
                    key = name.decode("ascii")
                    headers[key] = f"{headers[key]}, {text}" if key in headers else text
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                continue  # 100 Continue, 103 Early Hints: the final answer follows
            else:  # 101 Switching Protocols (then PAUSED), ConnectionClosed: no answer to a POST
                raise ConnectionError(f"the server answered with {type(event).__name__}, not an HTTP answer")
        extra, closed = connection.trailing_data
        # Both framings at once may be an attempt at response splitting (RFC 9112 6.3): the body is read
        # as chunked, as h11 does, and the connection is not trusted with another request.
        both = "transfer-encoding" in headers and "content-length" in headers
        if connection.their_state is h11.DONE and not (extra or closed or both):
            connection.start_next_cycle()
            self.idle_since = time.monotonic()
        else:  # Connection: close, an answer framed by closing, or bytes past the answer's end
            self.close()
        return HttpResponse(status=status, headers=_Headers(headers), body=b"".join(chunks))

    def close(self) -> None:
        # abort, not close: an idle or broken HTTP/1.1 connection owes its peer nothing, and TLS's close
        # handshake would need turns of a loop that may be about to close (its socket left open)
        with contextlib.suppress(RuntimeError):  # its loop is closed: the socket goes with the transport
            self.writer.transport.abort()


if TYPE_CHECKING:

    class _CountingReader(asyncio.StreamReader):
        unread: int


@functools.cache
def _counting_reader() -> type[_CountingReader]:
    """A StreamReader that counts the bytes received and not yet read (asyncio loads on first use)."""
    import asyncio

    class CountingReader(asyncio.StreamReader):
        unread = 0

        def feed_data(self, data: Any) -> None:  # bytes, from asyncio's StreamReaderProtocol
            self.unread += len(data)
            super().feed_data(data)

        async def read(self, n: int = -1) -> bytes:
            data = await super().read(n)
            self.unread -= len(data)
            return data

    return cast("type[_CountingReader]", CountingReader)


class _Pool:
    """The connections of one event loop: at most ``size`` exchanges at once, on idle connections first."""

    __slots__ = ("closed", "idle", "slots")

    def __init__(self, size: int) -> None:
        import asyncio

        self.slots = asyncio.Semaphore(size)
        self.idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self.closed = False

    async def take(self, origin: _Origin) -> _Connection | None:
        """The most recently used idle connection to ``origin`` that is still reusable, or None."""
        idle = self.idle.get(origin.key)
        while idle:
            connection = idle.pop()
            age = time.monotonic() - connection.idle_since
            if age <= IDLE_TIMEOUT:
                if age > _QUIET:
                    import asyncio

                    try:  # the select that reads a pending close or stray bytes, then their callbacks
                        await asyncio.sleep(0)
                        await asyncio.sleep(0)
                    except BaseException:  # cancelled meanwhile: the connection is ours to close
                        connection.close()
                        raise
                if connection.reusable:
                    return connection
            connection.close()
        return None

    def give_back(self, origin: _Origin, connection: _Connection) -> None:
        if self.closed or not connection.reusable:
            connection.close()
        else:
            self.idle.setdefault(origin.key, []).append(connection)

    def close(self) -> None:
        self.closed = True
        for connections in self.idle.values():
            for connection in connections:
                connection.close()
        self.idle.clear()


async def _close_at_loop_shutdown(pool: _Pool) -> AsyncGenerator[None, None]:
    """Suspend until closed; closing it (by us, or by the loop's shutdown_asyncgens) closes ``pool``."""
    try:
        yield
    finally:
        pool.close()


@functools.cache
def _verified_context() -> ssl.SSLContext:
    """The system's trusted authorities, with hostname checks: built once (loading them takes ~20 ms)."""
    import ssl

    return ssl.create_default_context()


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    """TLS without checking the certificate (``verify_tls=False``): no authorities to load, built once."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class HttpTransport:
    """POST requests over pooled keep-alive HTTP/1.1 connections (asyncio streams, h11 framing).

    Safe to call concurrently from one event loop. HTTP error statuses are returned as an
    ``HttpResponse``, never raised; only a failure to get an answer raises. Response header names are in
    lower case.

    Args:
        max_connections: how many requests may be in flight at once, and so how many connections one
            endpoint gets (requests beyond it wait for a connection; the bridge sets its concurrency).
        verify_tls: verify server certificates. Turn off only for a local test endpoint.
        ssl_context: the certificates to trust instead of the system's, e.g. a local server's
            (``LocalAppSync(tls=True).client_ssl_context()``); verification stays on.
    """

    __slots__ = ("_guard", "_loop", "_max_connections", "_origins", "_pool", "_ssl", "_verify_tls")

    def __init__(
        self, *, max_connections: int = 32, verify_tls: bool = True, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ConfigurationError(f"max_connections must be a positive int, got {max_connections!r}")
        self._max_connections = max_connections
        self._verify_tls = verify_tls
        self._ssl = ssl_context
        self._pool: _Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: AsyncGenerator[None, None] | None = None
        self._origins: dict[str, _Origin] = {}

    def __repr__(self) -> str:
        return f"HttpTransport(max_connections={self._max_connections}, verify_tls={self._verify_tls})"

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url`` with ``headers`` (sent as given) and return status, headers and body.

        ``host`` and ``content-length`` are added unless given, ``content-type: application/json`` when
        ``headers`` has no content type. Redirects are not followed (they are returned), so authorization
        headers never go to another host.

        Raises:
            RequestTimeoutError: no complete answer within ``timeout`` seconds.
            ConnectionFailedError: the connection could not be made, or broke before the answer was read.
            ConfigurationError: ``url`` is not an http(s) URL, or a header cannot be sent.
        """
        import asyncio

        if timeout <= 0:
            raise RequestTimeoutError(f"no time left to POST to {_host_of(url)}")
        origin = self._origins.get(url)
        if origin is None:
            origin = self._origins[url] = _Origin(url)
        request = self._request(origin, body, headers)
        pool = await self._pool_for(asyncio.get_running_loop())
        limit = getattr(asyncio, "timeout", None)  # Python 3.11+
        scope = None
        try:
            if limit is None:  # 3.10: wait_for runs the exchange as a task of its own
                return await asyncio.wait_for(self._send(pool, origin, request, body), timeout)
            async with limit(timeout) as scope:  # the same limit without a task per request
                return await self._send(pool, origin, request, body)
        except ConfigurationError:
            raise
        except Exception as e:  # OSError, ssl.SSLError, h11.RemoteProtocolError: no usable answer
            # Our time limit, not an operating system's TimeoutError (a connect that timed out: ETIMEDOUT)
            ours = isinstance(e, asyncio.TimeoutError) and (scope.expired() if scope is not None else True)
            if ours:
                raise RequestTimeoutError(f"no answer from {origin.host} within {timeout:g} s") from e
            raise ConnectionFailedError(f"POST to {origin.host} failed: {_describe(e)}") from e

    def _request(self, origin: _Origin, body: bytes, headers: Mapping[str, str]) -> h11.Request:
        import h11

        names = {name.lower() for name in headers}
        # The body's framing is the transport's: a caller's content-length or transfer-encoding is dropped.
        fields = [(name, value) for name, value in headers.items() if name.lower() not in _FRAMING]
        if "host" not in names:
            fields.insert(0, ("host", origin.host))
        if "content-type" not in names:
            fields.append(("content-type", _JSON))
        fields.append(("content-length", str(len(body))))
        refused = None
        try:
            return h11.Request(method="POST", target=origin.target, headers=fields)
        except (h11.LocalProtocolError, UnicodeError, TypeError) as e:  # a line break, a non-ASCII value
            refused = type(e).__name__
        # Raised outside the except clause: h11's error holds the refused value, perhaps a secret, and
        # would stay reachable as __context__.
        raise ConfigurationError(
            f"cannot send this request to {origin.host}: its path or a header is not valid HTTP ({refused})"
        )

    async def _send(self, pool: _Pool, origin: _Origin, request: h11.Request, body: bytes) -> HttpResponse:
        async with pool.slots:
            connection = await pool.take(origin) or await self._connect(origin)
            try:
                response = await connection.exchange(request, body)
            except BaseException:  # a cancelled or broken exchange leaves the connection mid-message
                connection.close()
                raise
            pool.give_back(origin, connection)
            return response

    async def _connect(self, origin: _Origin) -> _Connection:
        import asyncio

        context = self._tls_context() if origin.tls else None
        loop = asyncio.get_running_loop()
        reader = _counting_reader()(limit=_READ_SIZE, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:  # asyncio.open_connection's own steps, with a reader that counts what is unread
            transport, _ = await loop.create_connection(
                lambda: protocol,
                origin.hostname,
                origin.port,
                ssl=context,
                server_hostname=origin.hostname if context is not None else None,
            )
        except OSError as e:
            if type(e).__name__ == "SSLCertVerificationError":  # no retry can cure it: say what will
                said = (getattr(e, "reason", None), getattr(e, "verify_message", None))
                reason = ": ".join(str(part) for part in said if part) or _describe(e)
                raise ConfigurationError(
                    f"the TLS certificate of {origin.host} cannot be verified ({reason}); an endpoint behind "
                    "a private certificate authority needs HttpTransport(ssl_context=...) trusting it"
                ) from e
            raise
        return _Connection(reader, asyncio.StreamWriter(transport, protocol, reader, loop))

    def _tls_context(self) -> ssl.SSLContext:
        if not self._verify_tls:
            return _unverified_context()
        return self._ssl if self._ssl is not None else _verified_context()

    async def close(self) -> None:
        """Close the connections; a later ``post`` opens a new pool. Connections in use close when done."""
        import asyncio

        pool, loop, guard = self._pool, self._loop, self._guard
        self._pool = self._loop = self._guard = None
        if pool is None or loop is None:
            return
        if loop is asyncio.get_running_loop():
            pool.close()
            if guard is not None:
                await guard.aclose()
        elif loop.is_closed():
            pool.close()  # nothing can run on a closed loop any more; this only drops what is left
        # else: the pool lives on another loop that is still open; its guard closes it when that loop
        # shuts down (or when the guard is garbage-collected, through the loop's finalizer hook).

    async def _pool_for(self, loop: asyncio.AbstractEventLoop) -> _Pool:
        pool = self._pool
        if pool is not None and self._loop is loop and not pool.closed:
            return pool
        await self.close()  # the loop changed, or the pool was closed by its loop's shutdown
        pool = _Pool(self._max_connections)
        guard = _close_at_loop_shutdown(pool)
        self._pool, self._loop, self._guard = pool, loop, guard
        await guard.__anext__()  # registers it with the loop's shutdown_asyncgens; never suspends
        return pool
