"""LocalEventApi itself: its options, endpoints and records, the server thread, and in-process subscribers."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from streambridge.testing._local._auth import (
    DEFAULT_API_KEY,
    DEFAULT_CREDENTIALS,
    TOKEN_MODES,
    Authorizer,
    TokenMode,
    check_credentials,
)
from streambridge.testing._local._thread import START_TIMEOUT, ServerThread
from streambridge.testing._local._tls import LocalTls
from streambridge.testing._local_events._rules import Oversize, PublishedEvent, Rules
from streambridge.testing._local_events._server import LocalSink, Service

if TYPE_CHECKING:
    from types import TracebackType

logger = logging.getLogger("streambridge.testing")


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


class LocalEventApi(ServerThread[Service]):
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
        tls: serve ``https``/``wss`` with a certificate from an authority made on this machine (trustme):
            ``True`` for a new one, or another server's ``.tls`` to share its authority (one trust step).
            Clients trust it with ``client_ssl_context()``, or the PEM from ``write_ca_pem(path)`` in
            ``NODE_EXTRA_CA_CERTS`` (Node, Amplify JS) or ``SSL_CERT_FILE`` (Python, OpenSSL). Off by
            default: plain ``http``/``ws`` needs no trust step (Amplify JS needs ``tls=True``: it always
            opens ``wss://`` for real time).
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
        tls: bool | LocalTls = False,
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
        super().__init__(host, port, tls)
        self._ids = itertools.count(1)
        self._subscribers = threading.Condition()
        self._active_subscriptions = 0

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
        """The HTTP publish endpoint, ``http://HOST:PORT/event`` (``https`` with ``tls``)."""
        return f"{self.scheme}://{self.host}/event"

    @property
    def realtime_url(self) -> str:
        """The real-time endpoint, ``ws://HOST:PORT/event/realtime`` (``wss`` with ``tls``)."""
        return f"{self.ws_scheme}://{self.host}/event/realtime"

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

    @property
    def active_subscriptions(self) -> int:
        """How many WebSocket subscriptions are registered (acknowledged with ``subscribe_success``) now."""
        with self._subscribers:
            return self._active_subscriptions

    def wait_for_subscriptions(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until at least ``count`` WebSocket subscriptions are registered; ``TimeoutError`` otherwise.

        A client's subscribe call may return before the server has its ``subscribe`` message (Amplify's
        does): wait here before publishing what it must receive.
        """
        with self._subscribers:
            if not self._subscribers.wait_for(lambda: self._active_subscriptions >= count, timeout=timeout):
                raise TimeoutError(
                    f"{self._active_subscriptions} subscription(s) registered after {timeout} s, "
                    f"expected {count}"
                )

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
        asyncio.run_coroutine_threadsafe(work(service), loop).result(timeout=START_TIMEOUT)

    # -- lifecycle -------------------------------------------------------------------------------------

    def _new_service(self) -> Service:
        return Service(self)

    # -- called from the server thread -----------------------------------------------------------------

    def _subscriptions_changed(self, delta: int | None) -> None:
        """Count WebSocket subscriptions: ``delta`` more or fewer, or None when the server stops (none)."""
        with self._subscribers:
            self._active_subscriptions = 0 if delta is None else self._active_subscriptions + delta
            self._subscribers.notify_all()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
