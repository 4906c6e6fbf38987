"""LocalEventApi itself: its options, endpoints and records, the server thread, and in-process subscribers."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

from streambridge.testing._local._auth import (
    DEFAULT_API_KEY,
    DEFAULT_CREDENTIALS,
    TOKEN_MODES,
    Authorizer,
    TokenMode,
    check_credentials,
)
from streambridge.testing._local_events._rules import Oversize, PublishedEvent, Rules
from streambridge.testing._local_events._server import LocalSink, Service

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    from types import TracebackType

logger = logging.getLogger("streambridge.testing")

_START_TIMEOUT: Final = 10.0


class EventSubscription:
    """An in-process subscriber made by ``LocalEventApi.subscribe``: collects the events it receives.

    Use it as a context manager, or call ``close``; ``LocalEventApi.stop`` ends it too.
    """

    def __init__(self, api: LocalEventApi, sink: LocalSink, channel: str, subscription_id: str) -> None:
        self._api = api
        self._sink = sink
        self.channel = channel
        self.id = subscription_id

    def __repr__(self) -> str:
        return f"EventSubscription({self.channel!r}, events={len(self.texts)})"

    @property
    def texts(self) -> list[str]:
        """The ``event`` text of every ``data`` message received so far, in order."""
        with self._sink.condition:
            return list(self._sink.events)

    @property
    def events(self) -> list[Any]:
        """The events received so far, parsed, in order."""
        return [json.loads(text) for text in self.texts]

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """Block until ``count`` events arrived; return them all (parsed). ``TimeoutError`` otherwise."""
        sink = self._sink
        with sink.condition:
            if not sink.condition.wait_for(lambda: len(sink.events) >= count, timeout=timeout):
                raise TimeoutError(
                    f"expected {count} event(s) on {self.channel} within {timeout} s, "
                    f"got {len(sink.events)}: " + json.dumps(sink.events)
                )
        return self.events

    def close(self) -> None:
        """Unsubscribe. Idempotent."""
        self._api._call(lambda service: service.unsubscribe_locally(self._sink, self.id), missing_ok=True)

    def __enter__(self) -> EventSubscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalEventApi:
    """An in-process AWS AppSync Events API for tests: ``POST /event`` and the real-time WebSocket.

    ::

        with LocalEventApi(namespaces=("default", "rooms")) as api:
            room = api.subscribe("/rooms/*")
            ...  # publish to api.url with the x-api-key api.api_key
            assert room.wait_for(2) == [{"text": "hi"}, {"text": "bye"}]
            assert api.values("/rooms/r-1") == [{"text": "hi"}, {"text": "bye"}]

    Args:
        namespaces: the API's channel namespaces (a channel's first segment must be one).
        api_key: the accepted ``x-api-key`` (None: no API_KEY mode).
        credentials: IAM test identities whose SigV4 signatures (service ``appsync``) are recomputed and
            checked, ``(access key id, secret[, session token])``; empty: no AWS_IAM mode.
        region: the region signatures must be scoped to.
        tokens: accepted ``Authorization`` values (a collection, or a verifier ``token -> bool``) for
            ``token_mode`` (Cognito, OIDC or a Lambda authorizer); None: no token mode.
        token_mode: which mode a valid token stands for.
        on_publish: ``fn(channel, value)`` called for each event; raise ``EventRejectedError(message,
            code)`` to list the event in ``failed`` (like an onPublish handler's error).
        oversize: what an event over 240 KB gets: ``"failed"`` or ``"dropped"`` (acknowledged, never
            delivered: the silent drop reported for AppSync's subscription payloads).
        host: the interface to listen on; port: the port (0: any free one).
        keep_alive: seconds between ``ka`` messages.
        clock: the current time (aware) for the SigV4 freshness check.
    """

    def __init__(
        self,
        namespaces: Sequence[str] = ("default",),
        *,
        api_key: str | None = DEFAULT_API_KEY,
        credentials: Iterable[tuple[str, str] | tuple[str, str, str | None]] = DEFAULT_CREDENTIALS,
        region: str = "us-east-1",
        tokens: Collection[str] | Callable[[str], bool] | None = None,
        token_mode: TokenMode = "AWS_LAMBDA",  # noqa: S107 - a mode name, not a secret
        on_publish: Callable[[str, Any], None] | None = None,
        oversize: Oversize = "failed",
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: float = 60.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens must be a collection of tokens or a predicate, not a single str")
        if token_mode not in TOKEN_MODES:
            raise ValueError(f"token_mode must be one of {', '.join(TOKEN_MODES)}, got {token_mode!r}")
        if keep_alive <= 0:
            raise ValueError(f"keep_alive must be > 0, got {keep_alive!r}")
        self.rules = Rules(namespaces, on_publish=on_publish, oversize=oversize)
        self._authorizer = Authorizer(
            api_key=api_key,
            credentials=check_credentials(credentials),
            region=region,
            tokens=tokens,
            token_mode=token_mode,
            clock=clock or _utc_now,
        )
        self.keep_alive = keep_alive
        self._bind_host = host
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._service: Service | None = None
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"LocalEventApi({self.url if self._port is not None else 'not started'})"

    # -- endpoints -------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (raises before ``start``)."""
        if self._port is None:
            raise RuntimeError("LocalEventApi is not started: call start() or use it as a context manager")
        return self._port

    @property
    def host(self) -> str:
        """``HOST:PORT``: the host clients sign for and put in the real-time ``host`` header."""
        host = f"[{self._bind_host}]" if ":" in self._bind_host else self._bind_host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The HTTP publish endpoint, ``http://HOST:PORT/event``."""
        return f"http://{self.host}/event"

    @property
    def realtime_url(self) -> str:
        """The real-time endpoint, ``ws://HOST:PORT/event/realtime``."""
        return f"ws://{self.host}/event/realtime"

    @property
    def api_key(self) -> str | None:
        """The accepted API key (None when API_KEY mode is off)."""
        return self._authorizer.api_key

    @property
    def region(self) -> str:
        """The region SigV4 signatures must be scoped to."""
        return self._authorizer.region

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The channel namespaces."""
        return self.rules.namespaces

    # -- what happened ---------------------------------------------------------------------------------

    @property
    def published(self) -> list[PublishedEvent]:
        """Every event delivered to its channel (HTTP or WebSocket), in publish order."""
        with self.rules.lock:
            return list(self.rules.published)

    def values(self, channel: str | None = None) -> list[Any]:
        """The JSON values published (optionally to ``channel`` only, leading slash optional), in order."""
        path = None if channel is None else channel if channel.startswith("/") else f"/{channel}"
        return [event.value for event in self.published if path is None or event.channel == path]

    def wait_for_published(self, count: int, timeout: float = 5.0) -> list[PublishedEvent]:
        """Block until ``count`` events were published; ``TimeoutError`` otherwise."""
        with self.rules.lock:
            if not self.rules.lock.wait_for(lambda: len(self.rules.published) >= count, timeout=timeout):
                raise TimeoutError(
                    f"{len(self.rules.published)} event(s) published after {timeout} s, expected {count}"
                )
            return list(self.rules.published)

    def reset(self) -> None:
        """Forget the published events (subscriptions stay)."""
        with self.rules.lock:
            self.rules.published.clear()

    def subscribe(self, channel: str) -> EventSubscription:
        """Subscribe in process to a channel or a wildcard (``/rooms/*``): what a WebSocket subscriber gets.

        Raises ``ValueError`` if the channel would be refused (unknown namespace, bad path).
        """
        sink = LocalSink()
        subscription_id = f"local-{next(self._ids)}"
        self._call(lambda service: service.subscribe_locally(sink, channel, subscription_id))
        return EventSubscription(self, sink, channel, subscription_id)

    def _call(self, work: Callable[[Service], Any], *, missing_ok: bool = False) -> None:
        import asyncio

        loop, service = self._loop, self._service
        if loop is None or service is None or not self.running:
            if missing_ok:
                return
            raise RuntimeError("LocalEventApi is not started: call start() or use it as a context manager")
        asyncio.run_coroutine_threadsafe(work(service), loop).result(timeout=_START_TIMEOUT)

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LocalEventApi:
        """Start serving in a background thread; return once the port is bound."""
        import asyncio
        import concurrent.futures

        if self._thread is not None:
            raise RuntimeError("LocalEventApi already started")
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._thread_main, args=(self._loop, ready), name="LocalEventApi", daemon=True
        )
        self._thread.start()
        try:
            self._port = ready.result(timeout=_START_TIMEOUT)
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
        thread.join(timeout=_START_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("LocalEventApi's server thread did not stop")
        self._thread = self._loop = self._stop_event = None
        self._service = None
        self._port = None

    def __enter__(self) -> LocalEventApi:
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
                logger.exception("LocalEventApi: the server thread failed")
        finally:
            try:
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _serve(self, ready: concurrent.futures.Future[int]) -> None:
        import asyncio

        self._stop_event = asyncio.Event()
        self._service = Service(self)
        await self._service.serve(self._bind_host, self._requested_port, ready, self._stop_event)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
