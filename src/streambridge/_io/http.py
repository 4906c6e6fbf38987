"""The shipped transport: one keep-alive ``aiohttp.ClientSession``, reused across warm Lambda invocations.

aiohttp (and asyncio) are imported inside the methods, never at module import: import time is Lambda
cold-start time.

A session belongs to the event loop it was created on. The transport keeps it for as long as posts come
from that same loop (the bridge keeps one loop across warm invocations) and makes a new one when the loop
changed or the session was closed. So that a session never outlives its loop unclosed (``asyncio.run``
per invocation, pytest's per-test loops), each session is paired with a small async generator: asyncio
closes every pending async generator when the loop shuts down (``loop.shutdown_asyncgens()``, which
``asyncio.run`` and ``asyncio.Runner`` call), and closing that generator closes the session on its own loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streambridge._errors import ConfigurationError, ConnectionFailedError, RequestTimeoutError
from streambridge._io.transport import HttpResponse

if TYPE_CHECKING:
    import asyncio
    import ssl
    from collections.abc import AsyncGenerator, Mapping

    import aiohttp

__all__ = ["AiohttpTransport"]

_JSON = "application/json"


async def _close_at_loop_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Suspend until closed; closing it (by us, or by the loop's shutdown_asyncgens) closes ``session``."""
    try:
        yield
    finally:
        await session.close()


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit  # only on the error path

    try:
        return urlsplit(url).netloc.rpartition("@")[2] or "<no host>"
    except ValueError:
        return "<invalid URL>"


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class AiohttpTransport:
    """POST requests over a pooled keep-alive aiohttp session.

    Safe to call concurrently from one event loop. HTTP error statuses are returned as an
    ``HttpResponse``, never raised; only a failure to get an answer raises.

    Args:
        max_connections: size of the connection pool (concurrent requests beyond it wait for a connection).
        verify_tls: verify server certificates. Turn off only for a local test endpoint.
        ssl_context: the certificates to trust instead of the system's, e.g. a local server's
            (``LocalAppSync(tls=True).client_ssl_context()``); verification stays on.
    """

    __slots__ = ("_guard", "_loop", "_max_connections", "_session", "_ssl", "_verify_tls")

    def __init__(
        self, *, max_connections: int = 32, verify_tls: bool = True, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ConfigurationError(f"max_connections must be a positive int, got {max_connections!r}")
        self._max_connections = max_connections
        self._verify_tls = verify_tls
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: AsyncGenerator[None, None] | None = None

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._max_connections}, verify_tls={self._verify_tls})"

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url`` with ``headers`` (sent as given) and return status, headers and body.

        ``content-type: application/json`` is added when ``headers`` has no content type. Redirects are
        not followed (they are returned), so authorization headers never go to another host.

        Raises:
            RequestTimeoutError: no complete answer within ``timeout`` seconds.
            ConnectionFailedError: the connection could not be made, or broke before the answer was read.
            ConfigurationError: ``url`` is not a URL aiohttp can send to.
        """
        import asyncio

        import aiohttp

        if timeout <= 0:
            raise RequestTimeoutError(f"no time left to POST to {_host_of(url)}")
        session = await self._session_for(asyncio.get_running_loop())
        if not any(name.lower() == "content-type" for name in headers):
            headers = {**headers, "content-type": _JSON}
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                result = HttpResponse(status=response.status, headers=response.headers, body=payload)
        except asyncio.TimeoutError as e:  # before OSError: TimeoutError is an OSError
            raise RequestTimeoutError(f"no answer from {_host_of(url)} within {timeout:g} s") from e
        except aiohttp.InvalidURL as e:
            raise ConfigurationError(f"cannot POST to this URL: {_describe(e)}") from e
        except (aiohttp.ClientError, OSError) as e:
            raise ConnectionFailedError(f"POST to {_host_of(url)} failed: {_describe(e)}") from e
        return result

    async def close(self) -> None:
        """Close the session and its connections; a later ``post`` opens a new one."""
        import asyncio

        session, loop, guard = self._session, self._loop, self._guard
        self._session = self._loop = self._guard = None
        if session is None or loop is None:
            return
        if loop is asyncio.get_running_loop():
            await session.close()
            if guard is not None:
                await guard.aclose()
        elif loop.is_closed():
            # Nothing can run on a closed loop any more; this only marks the session closed.
            await session.close()
        # else: the session lives on another loop that is still open; its guard closes it when that
        # loop shuts down (or when the guard is garbage-collected, through the loop's finalizer hook).

    async def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        while (session := self._session) is not None:
            if self._loop is loop and not session.closed:
                return session
            # The loop changed or the session was closed. Another post may reopen while we await.
            await self.close()
        return await self._open(loop)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            ttl_dns_cache=300,
            ssl=self._ssl if self._ssl is not None and self._verify_tls else self._verify_tls,
        )
        session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        guard = _close_at_loop_shutdown(session)
        self._session, self._loop, self._guard = session, loop, guard
        await guard.__anext__()  # registers it with the loop's shutdown_asyncgens; never suspends
        return session
