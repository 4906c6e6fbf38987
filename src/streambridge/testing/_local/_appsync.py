"""LocalAppSync itself: its options, endpoints and records, and the server thread it starts and stops.

The public face of the package. The server runs in a background thread with its own event loop
(``_server``); the test's thread talks to it through the thread-safe records here (``mutations``,
``requests``, ``active_subscriptions``) and by scheduling coroutines on that loop (``subscribe``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambridge.testing._fake import ReceivedRequest, Resolver
from streambridge.testing._local._auth import (
    ALL_MODES,
    DEFAULT_API_KEY,
    DEFAULT_CREDENTIALS,
    TOKEN_MODES,
    AuthMode,
    Authorizer,
    TokenMode,
    check_credentials,
)
from streambridge.testing._local._engine import Engine, Executed
from streambridge.testing._local._realtime import LocalSink
from streambridge.testing._local._schema import schema_text
from streambridge.testing._local._server import Service
from streambridge.testing._local._thread import START_TIMEOUT, ServerThread
from streambridge.testing._local._tls import LocalTls

if TYPE_CHECKING:
    from types import TracebackType

logger = logging.getLogger("streambridge.testing")


@dataclass(frozen=True)
class RecordedMutation:
    """One top-level mutation field that LocalAppSync executed (or refused), in execution order.

    Attributes:
        field: the schema field name (``publishOrder``).
        alias: the response key it was sent under (``m0`` in an aliased batch, else the field name).
        arguments: the coerced arguments the resolver received.
        result: the field's value in the response (restricted to the mutation's selection set, inner
            aliases included: this is what its subscriptions are offered), or None when it failed.
        error: the AppSync error object for this field (``path``, ``errorType``, ``message``...), or None.
        auth_mode: the request's authorization mode (``API_KEY``, ``AWS_IAM``, or the token mode).
        timestamp: when it ran (UTC).
    """

    field: str
    alias: str
    arguments: dict[str, Any]
    result: Any
    error: dict[str, Any] | None
    auth_mode: str
    timestamp: datetime

    @property
    def ok(self) -> bool:
        """True when the field succeeded (and was therefore offered to its subscriptions)."""
        return self.error is None


class LocalSubscription:
    """An in-process subscription made by ``LocalAppSync.subscribe``; collects what it is sent.

    Use it as a context manager, or call ``close``; ``LocalAppSync.stop`` ends it too.
    """

    def __init__(self, appsync: LocalAppSync, sink: LocalSink, subscription_id: str) -> None:
        self._appsync = appsync
        self._sink = sink
        self.id = subscription_id

    def __repr__(self) -> str:
        return f"LocalSubscription({self.id!r}, messages={len(self._sink.payloads)})"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``data`` of every message received so far, in order (like gql's subscription results)."""
        return [payload.get("data") or {} for payload in self.payloads]

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """The full message payloads (``data``, and ``errors`` when the selection could not be answered)."""
        with self._sink.condition:
            return list(self._sink.payloads)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` messages arrived; return all the messages. ``TimeoutError`` otherwise."""
        sink = self._sink
        with sink.condition:
            if not sink.condition.wait_for(lambda: len(sink.payloads) >= count, timeout=timeout):
                raise TimeoutError(
                    f"expected {count} subscription message(s) within {timeout} s, got {len(sink.payloads)}: "
                    + json.dumps(sink.payloads)
                )
        return self.messages

    def close(self) -> None:
        """Unsubscribe. Idempotent."""
        self._appsync._unsubscribe(self._sink, self.id)

    def __enter__(self) -> LocalSubscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalAppSync(ServerThread[Service]):
    """An in-process AppSync endpoint for tests: HTTP GraphQL and the real-time WebSocket protocol.

    Args:
        schema: the path of the API's ``schema.graphql`` (a ``Path``, or a ``str`` path), or the schema text
            itself (a ``str`` containing ``{``). AppSync's scalars and directives are added unless defined.
        resolvers: ``{"Mutation.publishOrder": fn, "Query.ping": fn}``; ``fn(field_name, arguments)``
            returns the field's result or raises ``FieldError(message, error_type)``. Mutation fields
            without one resolve like a NONE data source (``pass_through``); query fields return null.
        api_key: the accepted ``x-api-key`` (None: no API_KEY mode).
        credentials: the IAM identities whose SigV4 signatures are verified, as ``(access key id, secret
            access key)`` or ``(access key id, secret access key, session token)``; empty: no AWS_IAM mode.
        region: the region signatures must be scoped to.
        tokens: accepted ``Authorization`` tokens (a collection, or a predicate ``token -> bool``) for the
            token mode; None: no token mode.
        token_mode: which AppSync mode a valid token stands for (``AWS_LAMBDA``, ``AMAZON_COGNITO_USER_POOLS``
            or ``OPENID_CONNECT``), hence which auth directive it satisfies.
        default_auth: the API's default mode, applied to types and fields without auth directives.
        host: the interface to listen on.
        port: the port (0: any free port).
        keep_alive: seconds between the real-time ``ka`` messages.
        clock: returns the current time (aware) for the SigV4 freshness check and the records; for tests.
        mute_aliased_mutations: model a failure of the real service that one user reported and nobody
            has verified (https://github.com/dillonkearns/elm-graphql/issues/106): a top-level mutation
            field sent under an alias (``m0: publishOrder(...)``) runs and answers normally but fires no
            subscription. A field without an alias, or aliased to its own name, still fires. Off by
            default (the Amplify simulator fires every aliased field, in order); turn it on to check
            that a publisher still reaches subscribers if the service behaves so (``batch_size=1`` sends
            unaliased requests).
        tls: serve ``https``/``wss`` with a certificate from an authority made on this machine (trustme):
            ``True`` for a new one, or another server's ``.tls`` to share its authority (one trust step).
            Clients trust it with ``client_ssl_context()``, or the PEM from ``write_ca_pem(path)`` in
            ``NODE_EXTRA_CA_CERTS`` (Node, Amplify JS) or ``SSL_CERT_FILE`` (Python, OpenSSL). Off by
            default: plain ``http``/``ws`` needs no trust step (Amplify JS needs ``tls=True``: it always
            opens ``wss://`` for real time).
    """

    def __init__(
        self,
        schema: str | Path,
        *,
        resolvers: Mapping[str, Resolver] | None = None,
        api_key: str | None = DEFAULT_API_KEY,
        credentials: Iterable[tuple[str, str] | tuple[str, str, str | None]] = DEFAULT_CREDENTIALS,
        region: str = "us-east-1",
        tokens: Collection[str] | Callable[[str], bool] | None = None,
        token_mode: TokenMode = "AWS_LAMBDA",  # noqa: S107 - a mode name, not a secret
        default_auth: AuthMode = "API_KEY",
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: float = 60.0,
        clock: Callable[[], datetime] | None = None,
        mute_aliased_mutations: bool = False,
        tls: bool | LocalTls = False,
    ) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens must be a collection of tokens or a predicate, not a single str")
        if token_mode not in TOKEN_MODES:
            raise ValueError(f"token_mode must be one of {', '.join(TOKEN_MODES)}, got {token_mode!r}")
        if keep_alive <= 0:
            raise ValueError(f"keep_alive must be > 0, got {keep_alive!r}")
        self._clock: Callable[[], datetime] = clock or _utc_now
        self._authorizer = Authorizer(
            api_key=api_key,
            credentials=check_credentials(credentials),
            region=region,
            tokens=tokens,
            token_mode=token_mode,
            clock=self._clock,
        )
        if default_auth not in self._authorizer.modes:
            enabled = ", ".join(self._authorizer.modes) or "none"
            raise ValueError(f"default_auth {default_auth!r} is not an enabled mode (enabled: {enabled})")
        text, source_name = schema_text(schema)
        self._engine = Engine(text, source_name, dict(resolvers or {}), default_auth)
        super().__init__(host, port, tls)
        self._keep_alive = keep_alive
        self._mute_aliased_mutations = mute_aliased_mutations
        self._lock = threading.Condition()
        self._mutations: list[RecordedMutation] = []
        self._requests: list[ReceivedRequest] = []
        self._active_subscriptions = 0

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"LocalAppSync({where})"

    # -- endpoints -------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (raises before ``start``)."""
        if self._port is None:
            raise RuntimeError("LocalAppSync is not started: call start() or use it as a context manager")
        return self._port

    @property
    def host(self) -> str:
        """``HOST:PORT``: the API host clients sign for and put in the real-time ``host`` header."""
        host = f"[{self._bind_host}]" if ":" in self._bind_host else self._bind_host  # IPv6 literal
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The GraphQL endpoint, ``http://HOST:PORT/graphql`` (``https`` with ``tls``)."""
        return f"{self.scheme}://{self.host}/graphql"

    @property
    def realtime_url(self) -> str:
        """The real-time endpoint, ``ws://HOST:PORT/graphql/realtime`` (``wss`` with ``tls``).

        It is the GraphQL URL with ``/realtime`` appended, where Amplify JS looks for a custom domain's.
        """
        return f"{self.ws_scheme}://{self.host}/graphql/realtime"

    @property
    def api_key(self) -> str | None:
        """The accepted API key (None when API_KEY mode is off)."""
        return self._authorizer.api_key

    @property
    def region(self) -> str:
        """The region SigV4 signatures must be scoped to."""
        return self._authorizer.region

    @property
    def credentials(self) -> list[tuple[str, str, str | None]]:
        """The accepted IAM test credentials, ``(access key id, secret access key, session token)``."""
        return list(self._authorizer.credentials.values())

    # -- what happened -----------------------------------------------------------------------------------

    @property
    def mutations(self) -> list[RecordedMutation]:
        """Every top-level mutation field executed (successful or not), in order."""
        with self._lock:
            return list(self._mutations)

    def published(self, field: str | None = None) -> list[Any]:
        """The results of the successful mutation fields (optionally only ``field``), in order.

        These are the values offered to the subscriptions of each mutation: each subscriber gets its own
        selection of one, unless its filters, ``mute_aliased_mutations`` or the 240 kB limit keep it out.
        """
        return [m.result for m in self.mutations if m.ok and (field is None or m.field == field)]

    @property
    def requests(self) -> list[ReceivedRequest]:
        """The HTTP GraphQL requests that arrived (rejected ones included), in order, as ``FakeAppSync``'s."""
        with self._lock:
            return list(self._requests)

    @property
    def active_subscriptions(self) -> int:
        """How many real-time subscriptions are registered (acknowledged with ``start_ack``) right now."""
        with self._lock:
            return self._active_subscriptions

    def wait_for_subscriptions(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until at least ``count`` subscriptions are registered; raise ``TimeoutError`` otherwise."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._active_subscriptions >= count, timeout=timeout):
                raise TimeoutError(
                    f"{self._active_subscriptions} subscription(s) registered after {timeout} s, "
                    f"expected {count}"
                )

    def reset(self) -> None:
        """Forget the recorded mutations and the request count (subscriptions stay)."""
        with self._lock:
            self._mutations.clear()
            self._requests.clear()

    def subscribe(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        auth_mode: AuthMode = "API_KEY",
    ) -> LocalSubscription:
        """Subscribe in process, without a WebSocket: the messages a real subscriber would receive.

        Delivery is the same as for WebSocket subscribers (``@aws_subscribe``, the mutation's selection set,
        argument filters, auth directives checked for ``auth_mode``). Raises ``ValueError`` with AppSync's
        errors when the subscription would be refused (invalid document or variables, unauthorized field).
        """
        import asyncio

        loop, service = self._loop, self._service
        if loop is None or service is None or not self.running:
            raise RuntimeError("LocalAppSync is not started: call start() or use it as a context manager")
        if auth_mode not in ALL_MODES:
            raise ValueError(f"auth_mode must be one of {', '.join(ALL_MODES)}, got {auth_mode!r}")
        sink = LocalSink()
        request = {"query": document, "variables": dict(variables or {})}
        future = asyncio.run_coroutine_threadsafe(
            service.realtime.subscribe_locally(sink, request, auth_mode), loop
        )
        subscription_id = future.result(timeout=START_TIMEOUT)
        return LocalSubscription(self, sink, subscription_id)

    def _unsubscribe(self, sink: LocalSink, subscription_id: str) -> None:
        import asyncio

        loop, service = self._loop, self._service
        if loop is None or service is None or not self.running:
            return  # stopped: stop() already dropped every subscription
        future = asyncio.run_coroutine_threadsafe(
            service.realtime.stop_subscription(sink, subscription_id), loop
        )
        future.result(timeout=START_TIMEOUT)

    # -- lifecycle -------------------------------------------------------------------------------------

    def _new_service(self) -> Service:
        return Service(self)

    def _stopped(self) -> None:
        with self._lock:
            self._active_subscriptions = 0

    # -- called from the server thread -----------------------------------------------------------------

    def _count_request(self, body: bytes, headers: Mapping[str, str]) -> None:
        with self._lock:
            self._requests.append(ReceivedRequest(body, dict(headers), 0.0))

    def _record(self, executed: list[Executed], auth_mode: str) -> None:
        now = self._clock()
        records = [
            RecordedMutation(e.field, e.alias, e.arguments, e.result, e.error, auth_mode, now)
            for e in executed
        ]
        with self._lock:
            self._mutations.extend(records)

    def _subscriptions_changed(self, delta: int) -> None:
        with self._lock:
            self._active_subscriptions += delta
            self._lock.notify_all()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
