"""A local server's life in a background thread: start, stop, the context manager.

Shared by LocalAppSync and LocalEventApi, which differ only in the service they run on the thread's loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from streambridge.testing._local._tls import LocalTls

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    import ssl
    from pathlib import Path
    from types import TracebackType

    from typing_extensions import Self

logger = logging.getLogger("streambridge.testing")

START_TIMEOUT = 10.0
"""Seconds to wait for the server to bind, to stop, or to answer a call from the test's thread."""


class Serving(Protocol):
    """What runs on the server thread: it binds, reports the port on ``ready`` and serves until ``stop``."""

    async def serve(
        self,
        host: str,
        port: int,
        ready: concurrent.futures.Future[int],
        stop: asyncio.Event,
        ssl_context: ssl.SSLContext | None,
    ) -> None: ...


S = TypeVar("S", bound=Serving)


class ServerThread(Generic[S]):
    """Runs ``_new_service()`` on its own event loop in a daemon thread, between ``start`` and ``stop``."""

    def __init__(self, host: str, port: int, tls: bool | LocalTls = False) -> None:
        if not isinstance(tls, (bool, LocalTls)):
            raise TypeError(f"tls must be True, False or another server's .tls, got {type(tls).__name__}")
        # The authority is made once, at construction: its PEM can be handed out before start, and it
        # stays the same across restarts.
        self._tls: LocalTls | None = LocalTls(host) if tls is True else tls or None
        self._bind_host = host
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._service: S | None = None

    def _new_service(self) -> S:
        """The service to run (built on the server thread)."""
        raise NotImplementedError

    def _stopped(self) -> None:
        """Forget what lived with the server (called by ``stop`` once the thread ended)."""

    @property
    def tls(self) -> LocalTls | None:
        """The certificate authority of an https/wss server (None: plain http/ws); ``tls=`` for another."""
        return self._tls

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "https" if self._tls is not None else "http"

    @property
    def ws_scheme(self) -> str:
        """``wss`` with TLS, else ``ws``."""
        return "wss" if self._tls is not None else "ws"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying ``ssl.SSLContext`` that trusts this server's authority (for aiohttp, gql...)."""
        return self._need_tls().client_ssl_context()

    @property
    def ca_pem(self) -> bytes:
        """The PEM certificate of the authority a client must trust."""
        return self._need_tls().ca_pem

    def write_ca_pem(self, path: str | Path) -> Path:
        """Write the authority's PEM to ``path`` (for ``NODE_EXTRA_CA_CERTS`` or ``SSL_CERT_FILE``)."""
        return self._need_tls().write_ca_pem(path)

    def _need_tls(self) -> LocalTls:
        if self._tls is None:
            raise RuntimeError(f"{type(self).__name__} serves plain http: construct it with tls=True")
        return self._tls

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Start serving in a background thread; return once the port is bound."""
        import asyncio
        import concurrent.futures

        name = type(self).__name__
        if self._thread is not None:
            raise RuntimeError(f"{name} already started")
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._thread_main, args=(loop, ready), name=name, daemon=True)
        self._thread.start()
        try:
            self._port = ready.result(timeout=START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every connection, stop the server and join its thread. Idempotent."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: the thread is finishing
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=START_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{type(self).__name__}'s server thread did not stop")
        self._thread = self._loop = self._stop_event = None
        self._service = None
        self._port = None
        self._stopped()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _thread_main(self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[int]) -> None:
        import asyncio

        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as error:  # handed to start(), which re-raises it
            if not ready.done():
                ready.set_exception(error)
            else:
                logger.exception("%s: the server thread failed", type(self).__name__)
        finally:
            try:
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _serve(self, ready: concurrent.futures.Future[int]) -> None:
        import asyncio

        self._stop_event = asyncio.Event()
        self._service = self._new_service()
        ssl_context = self._tls.server_ssl_context() if self._tls is not None else None
        await self._service.serve(self._bind_host, self._requested_port, ready, self._stop_event, ssl_context)
