"""LocalAppSync: an in-process AWS AppSync endpoint for tests, with the real-time WebSocket protocol.

::

    with LocalAppSync("schema.graphql") as appsync:
        bridge = Bridge(appsync.url, ApiKeyAuth(appsync.api_key))
        ...  # run the handler
        assert appsync.published("publishOrder") == [{"id": "o-1", "status": "NEW"}]

It loads the user's real AppSync schema with graphql-core and serves it with aiohttp in a background thread
(its own event loop): ``POST /graphql`` and the real-time endpoint ``GET /graphql/realtime`` on one port.
What it does the way AppSync does:

- AppSync's scalars (``AWSDateTime``, ``AWSJSON``, ``AWSTimestamp``, ...) with their validation rules, and
  its directives (``@aws_subscribe``, ``@aws_api_key``, ``@aws_iam``, ``@aws_cognito_user_pools``, ...), added
  to the schema unless it defines them itself.
- Mutations resolve like a NONE data source (the result is the ``input`` argument, or all the arguments)
  unless a resolver is given; a resolver raises ``FieldError`` the way a template calls ``$util.error``.
  Top-level mutation fields run serially and a field error does not stop the fields after it.
- Auth: API key (``x-api-key``), SigV4 (the signature is recomputed with botocore from the bytes and
  headers received, for known test credentials), bearer tokens; then per type / field auth directives
  with a default mode, like AppSync.
- Errors: field errors with ``path``, ``errorType``, ``data``, ``errorInfo``, ``locations`` and partial
  ``data``; request errors (validation, variables) as ``{"data": null, "errors": [...]}`` without a path.
- Subscriptions: a successful mutation field is pushed to every subscription whose field lists it in
  ``@aws_subscribe``. The payload is the mutation's *response* (its selection set, its inner aliases), so a
  subscriber asking for a field the mutation did not select gets null; subscription arguments filter on
  the response's fields by equality. Both are AppSync behaviours the Amplify simulator does not reproduce.

graphql-core and aiohttp are imported when a LocalAppSync is built, not when this module is imported, so
that importing ``streambridge.testing`` (and loading the pytest plugin) stays cheap. The known differences
with the real AppSync and the Amplify simulator are listed in ``docs/testing.md``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import ipaddress
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from inspect import isawaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote, urlsplit

from streambridge._appsync import APPSYNC_DIRECTIVES, APPSYNC_SCALARS
from streambridge.testing._fake import FieldError, pass_through

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    from types import TracebackType

    from aiohttp import web
    from graphql import (
        ConstValueNode,
        DocumentNode,
        GraphQLError,
        GraphQLFieldResolver,
        GraphQLObjectType,
        GraphQLResolveInfo,
        GraphQLScalarType,
        GraphQLSchema,
        OperationDefinitionNode,
    )

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CREDENTIALS",
    "AuthMode",
    "LocalAppSync",
    "LocalSubscription",
    "RecordedMutation",
    "Resolver",
]

logger = logging.getLogger("streambridge.testing")

AuthMode = Literal["API_KEY", "AWS_IAM", "AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA"]
"""AppSync's authorization modes, as AppSync names them."""
TokenMode = Literal["AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA"]
Resolver = Callable[[str, dict[str, Any]], Any]
"""``resolver(field_name, arguments) -> result``: the same signature as ``FakeAppSync``'s resolvers."""

DEFAULT_API_KEY: Final = "da2-localappsync-test-key"
"""The API key a LocalAppSync accepts unless told otherwise."""
DEFAULT_CREDENTIALS: Final[tuple[tuple[str, str, str | None], ...]] = (
    # AWS's documentation example keys: long-term (no session token) and temporary (with one).
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ("ASIAEXAMPLETEMPORARY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example"),
)
"""The IAM test credentials ``(access key id, secret access key, session token)`` accepted by default."""

_SERVICE: Final = "appsync"
_SUBPROTOCOL: Final = "graphql-ws"
_CONNECTION_TIMEOUT_MS: Final = 300_000
_MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
_START_TIMEOUT: Final = 10.0
_WS_CLOSE_TIMEOUT: Final = 2.0
_SIGV4_TIME_FORMAT: Final = "%Y%m%dT%H%M%SZ"

_TOKEN_MODES: Final = ("AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA")
_ALL_MODES: Final = ("API_KEY", "AWS_IAM", *_TOKEN_MODES)
_DIRECTIVE_MODES: Final = {
    "aws_api_key": "API_KEY",
    "aws_iam": "AWS_IAM",
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_auth": "AMAZON_COGNITO_USER_POOLS",
    "aws_oidc": "OPENID_CONNECT",
    "aws_lambda": "AWS_LAMBDA",
}

_INVALID_SIGNATURE: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_UNRECOGNIZED_CLIENT: Final = "The security token included in the request is invalid."
_AUTHORIZATION_RE: Final = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>[^/,\s]+)/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/(?P<terminator>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-fA-F]+)",
)


# --- public records -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedMutation:
    """One top-level mutation field that LocalAppSync executed (or refused), in execution order.

    Attributes:
        field: the schema field name (``publishOrder``).
        alias: the response key it was sent under (``m0`` in an aliased batch, else the field name).
        arguments: the coerced arguments the resolver received.
        result: the field's value in the response (restricted to the mutation's selection set; this is
            also what subscribers were sent), or None when it failed.
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
        """True when the field succeeded (and was therefore published to its subscriptions)."""
        return self.error is None


class LocalSubscription:
    """An in-process subscription made by ``LocalAppSync.subscribe``; collects what it is sent.

    Use it as a context manager, or call ``close``; ``LocalAppSync.stop`` ends it too.
    """

    def __init__(self, appsync: LocalAppSync, sink: _LocalSink, subscription_id: str) -> None:
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


# --- the server ---------------------------------------------------------------------------------------------


class LocalAppSync:
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
    ) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens must be a collection of tokens or a predicate, not a single str")
        if token_mode not in _TOKEN_MODES:
            raise ValueError(f"token_mode must be one of {', '.join(_TOKEN_MODES)}, got {token_mode!r}")
        if keep_alive <= 0:
            raise ValueError(f"keep_alive must be > 0, got {keep_alive!r}")
        self._clock: Callable[[], datetime] = clock or _utc_now
        self._authorizer = _Authorizer(
            api_key=api_key,
            credentials=_check_credentials(credentials),
            region=region,
            tokens=tokens,
            token_mode=token_mode,
            clock=self._clock,
        )
        if default_auth not in self._authorizer.modes:
            enabled = ", ".join(self._authorizer.modes) or "none"
            raise ValueError(f"default_auth {default_auth!r} is not an enabled mode (enabled: {enabled})")
        text, source_name = _schema_text(schema)
        self._engine = _Engine(text, source_name, dict(resolvers or {}), default_auth)
        self._bind_host = host
        self._requested_port = port
        self._keep_alive = keep_alive
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._service: _Service | None = None
        self._lock = threading.Condition()
        self._mutations: list[RecordedMutation] = []
        self._requests = 0
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
        """The GraphQL endpoint, ``http://HOST:PORT/graphql``."""
        return f"http://{self.host}/graphql"

    @property
    def realtime_url(self) -> str:
        """The real-time endpoint, ``ws://HOST:PORT/graphql/realtime``."""
        return f"ws://{self.host}/graphql/realtime"

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

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._thread is not None and self._thread.is_alive()

    # -- what happened -----------------------------------------------------------------------------------

    @property
    def mutations(self) -> list[RecordedMutation]:
        """Every top-level mutation field executed (successful or not), in order."""
        with self._lock:
            return list(self._mutations)

    def published(self, field: str | None = None) -> list[Any]:
        """The results of the successful mutation fields (optionally only ``field``), in order.

        These are exactly the values pushed to the subscriptions of each mutation.
        """
        return [m.result for m in self.mutations if m.ok and (field is None or m.field == field)]

    @property
    def requests(self) -> int:
        """How many HTTP GraphQL requests arrived (rejected ones included)."""
        with self._lock:
            return self._requests

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
            self._requests = 0

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
        import asyncio  # noqa: PLC0415

        loop, service = self._loop, self._service
        if loop is None or service is None or not self.running:
            raise RuntimeError("LocalAppSync is not started: call start() or use it as a context manager")
        if auth_mode not in _ALL_MODES:
            raise ValueError(f"auth_mode must be one of {', '.join(_ALL_MODES)}, got {auth_mode!r}")
        sink = _LocalSink()
        request = {"query": document, "variables": dict(variables or {})}
        future = asyncio.run_coroutine_threadsafe(service.subscribe_locally(sink, request, auth_mode), loop)
        subscription_id = future.result(timeout=_START_TIMEOUT)
        return LocalSubscription(self, sink, subscription_id)

    def _unsubscribe(self, sink: _LocalSink, subscription_id: str) -> None:
        import asyncio  # noqa: PLC0415

        loop, service = self._loop, self._service
        if loop is None or service is None or not self.running:
            return  # stopped: stop() already dropped every subscription
        future = asyncio.run_coroutine_threadsafe(service.stop_subscription(sink, subscription_id), loop)
        future.result(timeout=_START_TIMEOUT)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> LocalAppSync:
        """Start serving in a background thread; return once the port is bound."""
        import asyncio  # noqa: PLC0415 - keep this module's import light
        import concurrent.futures  # noqa: PLC0415

        if self._thread is not None:
            raise RuntimeError("LocalAppSync already started")
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._thread_main, args=(loop, ready), name="LocalAppSync", daemon=True
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
            raise RuntimeError("LocalAppSync's server thread did not stop")
        self._thread = self._loop = self._stop_event = None
        self._service = None
        self._port = None
        with self._lock:
            self._active_subscriptions = 0

    def __enter__(self) -> LocalAppSync:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the server thread -----------------------------------------------------------------------------

    def _thread_main(self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[int]) -> None:
        import asyncio  # noqa: PLC0415

        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as error:  # handed to start(), which re-raises it
            if not ready.done():
                ready.set_exception(error)
            else:
                logger.exception("LocalAppSync: the server thread failed")
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
        import asyncio  # noqa: PLC0415

        from aiohttp import web  # noqa: PLC0415 - testing code, loaded on use

        self._stop_event = asyncio.Event()
        service = self._service = _Service(self)
        app = web.Application()
        app.router.add_post("/graphql", service.graphql)
        app.router.add_get("/graphql/realtime", service.realtime)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._bind_host, self._requested_port)
            await site.start()
            address = runner.addresses[0]
            ready.set_result(int(address[1]))
            await self._stop_event.wait()
            await service.close_connections()
        finally:
            await runner.cleanup()

    # -- called from the server thread -----------------------------------------------------------------

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def _record(self, records: list[RecordedMutation]) -> None:
        with self._lock:
            self._mutations.extend(records)

    def _subscriptions_changed(self, delta: int) -> None:
        with self._lock:
            self._active_subscriptions += delta
            self._lock.notify_all()


# --- schema and execution (graphql-core) --------------------------------------------------------------------


class _RejectedError(Exception):
    """A request refused before execution: an HTTP status, an AppSync errorType and a message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"errors": [{"errorType": self.error_type, "message": self.message}]}


class _UnauthorizedError(FieldError):
    """A field the request's auth mode may not access (AppSync's ``Unauthorized`` field error)."""

    def __init__(self, field_name: str, type_name: str) -> None:
        super().__init__(f"Not Authorized to access {field_name} on type {type_name}", "Unauthorized")


@dataclass
class _Context:
    """The execution context: the auth mode, and the root mutation/subscription fields as they ran."""

    auth_mode: str
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class _Executed:
    field: str
    alias: str
    arguments: dict[str, Any]
    result: Any
    error: dict[str, Any] | None


@dataclass
class _Subscription:
    id: str
    connection: _Connection | _LocalSink
    document: DocumentNode
    operation_name: str | None
    field: str
    variables: dict[str, Any]
    filters: dict[str, Any]
    auth_mode: str


class _Engine:
    """The schema with AppSync's additions, its resolvers, auth rules and subscription wiring."""

    def __init__(
        self, text: str, source_name: str, resolvers: dict[str, Resolver], default_auth: str
    ) -> None:
        import graphql  # noqa: PLC0415 - testing code, loaded on use

        if graphql.version_info < (3, 3):
            raise RuntimeError(f"LocalAppSync needs graphql-core >= 3.3 (gql >= 4), found {graphql.version}")
        self.schema = _build_schema(text, source_name)
        self.default_auth = default_auth
        query, mutation, subscription = (
            self.schema.query_type,
            self.schema.mutation_type,
            self.schema.subscription_type,
        )
        self.mutation_type = mutation.name if mutation else None
        self.subscription_type = subscription.name if subscription else None
        self._check_resolvers(resolvers, query, mutation)
        self.subscribers_of = _subscriptions_by_mutation(subscription, mutation)
        for type_ in self.schema.type_map.values():
            if isinstance(type_, graphql.GraphQLObjectType) and not type_.name.startswith("__"):
                self._guard_fields(type_, resolvers)

    @staticmethod
    def _check_resolvers(
        resolvers: Mapping[str, Resolver],
        query: GraphQLObjectType | None,
        mutation: GraphQLObjectType | None,
    ) -> None:
        roots = {t.name: t for t in (query, mutation) if t is not None}
        for key, resolver in resolvers.items():
            type_name, _, field_name = key.partition(".")
            root = roots.get(type_name)
            if root is None or field_name not in root.fields:
                known = sorted(f"{t.name}.{f}" for t in roots.values() for f in t.fields)
                raise ValueError(
                    f"resolvers: {key!r} is not a query or mutation field of the schema; known: {known}"
                )
            if not callable(resolver):
                raise TypeError(f"resolvers[{key!r}] is not callable")

    def _guard_fields(self, type_: GraphQLObjectType, resolvers: Mapping[str, Resolver]) -> None:
        type_modes = _auth_modes(type_.ast_node, *type_.extension_ast_nodes)
        for name, field_def in type_.fields.items():
            allowed = _auth_modes(field_def.ast_node) or type_modes or frozenset({self.default_auth})
            field_def.resolve = self._guarded(type_.name, name, field_def.resolve, allowed, resolvers)

    def _guarded(
        self,
        type_name: str,
        field_name: str,
        original: GraphQLFieldResolver | None,
        allowed: frozenset[str],
        resolvers: Mapping[str, Resolver],
    ) -> GraphQLFieldResolver:
        from graphql import default_field_resolver  # noqa: PLC0415

        is_query = self.schema.query_type is not None and type_name == self.schema.query_type.name
        is_mutation = type_name == self.mutation_type
        records = is_mutation or type_name == self.subscription_type
        user = resolvers.get(f"{type_name}.{field_name}")
        inner: GraphQLFieldResolver
        if is_mutation or (is_query and user is not None):
            inner = _calling(user or pass_through, field_name)
        elif is_query:
            inner = _resolve_null  # a query field without a resolver: null, like a field with no data
        else:
            inner = original or default_field_resolver

        def resolve(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
            context: _Context = info.context
            if records:
                context.calls.append((str(info.path.key), field_name, copy.deepcopy(arguments)))
            if context.auth_mode not in allowed:
                raise _UnauthorizedError(field_name, type_name)
            return inner(source, info, **arguments)

        return resolve

    # -- HTTP ------------------------------------------------------------------------------------------

    async def execute(
        self, query: str, variables: Mapping[str, Any], operation_name: str | None, auth_mode: str
    ) -> tuple[dict[str, Any], list[_Executed]]:
        """Run one HTTP request; return the response body and the root mutation fields it executed."""
        from graphql import GraphQLError, OperationType, execute, parse, validate  # noqa: PLC0415

        try:
            document = parse(query)
        except GraphQLError as syntax_error:  # the simulator's shape: not a GraphQL response at all
            return {"errorMessage": syntax_error.message}, []
        operation = _operation(document, operation_name)
        if operation is None:
            return {"errorMessage": "Could not get operation from the document"}, []
        errors = validate(self.schema, document)
        if errors:
            return {"data": None, "errors": [_format_error(e) for e in errors]}, []
        if operation.operation is OperationType.SUBSCRIPTION:
            message = "subscriptions are served on the real-time endpoint (/graphql/realtime), not over HTTP"
            return {"data": None, "errors": [{"errorType": "UnsupportedOperation", "message": message}]}, []
        context = _Context(auth_mode)
        result = execute(
            self.schema,
            document,
            variable_values=dict(variables),
            operation_name=operation_name,
            context_value=context,
        )
        if isawaitable(result):
            result = await result
        formatted = [_format_error(e) for e in result.errors or ()]
        body: dict[str, Any] = {"data": result.data}
        if formatted:
            body["errors"] = formatted
        executed = []
        if operation.operation is OperationType.MUTATION:
            data = result.data or {}
            for alias, field_name, arguments in context.calls:
                error = next((e for e in formatted if (e.get("path") or [None])[0] == alias), None)
                executed.append(_Executed(field_name, alias, arguments, data.get(alias), error))
        return body, executed

    # -- real-time ---------------------------------------------------------------------------------------

    async def subscribe(
        self, request: Any, auth_mode: str, subscription_id: str, connection: _Connection | _LocalSink
    ) -> _Subscription:
        """Check a ``start`` message's GraphQL request; return the subscription, or raise ``_StartError``."""
        from graphql import GraphQLError, OperationType, execute, parse, validate  # noqa: PLC0415

        if not isinstance(request, Mapping) or not isinstance(request.get("query"), str):
            raise _StartError([_error("MalformedMessage", "payload.data must be a JSON object with a query")])
        variables = request.get("variables") or {}
        operation_name = request.get("operationName")
        if not isinstance(variables, Mapping) or not isinstance(operation_name, (str, type(None))):
            raise _StartError([_error("MalformedMessage", "variables must be an object")])
        try:
            document = parse(request["query"])
        except GraphQLError as error:
            raise _StartError([_format_error(error)]) from None
        operation = _operation(document, operation_name)
        if operation is None:
            raise _StartError([_error("MalformedMessage", "Could not get operation from the document")])
        if operation.operation is not OperationType.SUBSCRIPTION:
            kind = operation.operation.value
            raise _StartError(
                [_error("UnsupportedOperation", f"{kind} not supported through the realtime channel")]
            )
        errors = validate(self.schema, document)
        if errors:
            raise _StartError([_format_error(e) for e in errors])
        # A dry run with no event: coerces the variables, applies the field's auth rule, captures arguments.
        context = _Context(auth_mode)
        result = execute(
            self.schema,
            document,
            variable_values=dict(variables),
            operation_name=operation_name,
            context_value=context,
        )
        if isawaitable(result):
            result = await result
        if result.errors:
            raise _StartError([_format_error(e) for e in result.errors])
        _, field_name, arguments = context.calls[0]
        return _Subscription(
            id=subscription_id,
            connection=connection,
            document=document,
            operation_name=operation_name,
            field=field_name,
            variables=dict(variables),
            filters=self._filters(field_name, arguments),
            auth_mode=auth_mode,
        )

    def _filters(self, field_name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The non-null subscription arguments, as the response values they must equal."""
        from graphql import get_named_type, is_leaf_type  # noqa: PLC0415

        assert self.schema.subscription_type is not None  # noqa: S101 - a subscription ran
        definitions = self.schema.subscription_type.fields[field_name].args
        filters = {}
        for name, value in arguments.items():
            if value is None:
                continue  # AppSync ignores null arguments
            named = get_named_type(definitions[name].type)
            leaf = is_leaf_type(named) and not isinstance(value, list)
            filters[name] = named.coerce_output_value(value) if leaf else value
        return filters

    async def event(self, subscription: _Subscription, payload: Any) -> dict[str, Any]:
        """The ``data`` message payload of one published mutation result for one subscription."""
        from graphql import execute  # noqa: PLC0415

        result = execute(
            self.schema,
            subscription.document,
            root_value={subscription.field: payload},
            variable_values=subscription.variables,
            operation_name=subscription.operation_name,
            context_value=_Context(subscription.auth_mode),
        )
        if isawaitable(result):
            result = await result
        message: dict[str, Any] = {"data": result.data}
        if result.errors:
            message["errors"] = [_format_error(e) for e in result.errors]
        return message


def _calling(resolver: Resolver, field_name: str) -> GraphQLFieldResolver:
    """Call a user resolver; its exceptions other than FieldError are marked as resolver crashes."""

    def resolve(_source: Any, _info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        try:
            result = resolver(field_name, arguments)
        except FieldError:
            raise
        except Exception as error:
            raise _ResolverCrashError(error) from error
        return _awaiting(result) if isawaitable(result) else result

    return resolve


async def _awaiting(result: Awaitable[Any]) -> Any:
    try:
        return await result
    except FieldError:
        raise
    except Exception as error:
        raise _ResolverCrashError(error) from error


class _ResolverCrashError(Exception):
    """A user resolver raised something other than FieldError (a bug in the test's resolver)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _resolve_null(_source: Any, _info: GraphQLResolveInfo[Any], **_arguments: Any) -> Any:
    return None


class _StartError(Exception):
    """A ``start`` message refused: the errors for the ``error`` message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "message": message}


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    from graphql import get_operation_ast  # noqa: PLC0415

    return get_operation_ast(document, operation_name)


def _format_error(error: GraphQLError) -> dict[str, Any]:
    """An error as AppSync shows it: request errors have no path; field errors carry errorType & co."""
    if error.path is None:  # syntax, validation and variable errors: {"message", "locations"}
        formatted: dict[str, Any] = {"message": error.message}
        if error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        return formatted
    locations = [
        {"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or ()
    ]
    original = error.original_error
    if isinstance(original, FieldError):
        return {
            "path": list(error.path),
            "data": getattr(original, "data", None),
            "errorType": original.error_type,
            "errorInfo": getattr(original, "error_info", None),
            "locations": locations,
            "message": error.message,
        }
    formatted = {"path": list(error.path), "locations": locations, "message": error.message}
    if isinstance(original, _ResolverCrashError):
        formatted["errorType"] = type(original.error).__name__
        logger.error(
            "LocalAppSync: the resolver of %s raised %s (raise FieldError for an AppSync field error)",
            ".".join(map(str, error.path)),
            type(original.error).__name__,
            exc_info=original.error,
        )
    return formatted


def _schema_text(schema: str | Path) -> tuple[str, str]:
    if isinstance(schema, str) and "{" in schema:
        return schema, "schema.graphql"
    path = Path(schema)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as error:
        raise FileNotFoundError(f"cannot read the AppSync schema {str(path)!r}: {error}") from error


def _build_schema(text: str, source_name: str) -> GraphQLSchema:
    """Parse the user's schema, add AppSync's scalars and directives it does not define, build it."""
    from graphql import (  # noqa: PLC0415
        DocumentNode,
        GraphQLError,
        GraphQLScalarType,
        Source,
        build_ast_schema,
        parse,
        validate_schema,
    )

    try:
        user = parse(Source(text, source_name))
    except GraphQLError as error:
        raise ValueError(f"the AppSync schema {source_name} does not parse: {error}") from error
    defined = {getattr(getattr(node, "name", None), "value", None) for node in user.definitions}
    prelude = [f"scalar {name}" for name in APPSYNC_SCALARS if name not in defined]
    prelude += [sdl for name, sdl in APPSYNC_DIRECTIVES.items() if name not in defined]
    added = parse("\n".join(prelude)).definitions if prelude else ()
    try:
        schema = build_ast_schema(DocumentNode(definitions=(*added, *user.definitions)))
    except (GraphQLError, TypeError) as error:
        raise ValueError(f"the AppSync schema {source_name} is not valid: {error}") from error
    problems = validate_schema(schema)
    if problems:
        raise ValueError(f"the AppSync schema {source_name} is not valid: " + "; ".join(map(str, problems)))
    for name in APPSYNC_SCALARS:
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            _implement_scalar(scalar)
    return schema


def _auth_modes(*nodes: Any) -> frozenset[str]:
    """The auth modes named by the AppSync auth directives on these AST nodes."""
    modes = set()
    for node in nodes:
        for directive in getattr(node, "directives", None) or ():
            mode = _DIRECTIVE_MODES.get(directive.name.value)
            if mode is not None:
                modes.add(mode)
    return frozenset(modes)


def _subscriptions_by_mutation(
    subscription: GraphQLObjectType | None, mutation: GraphQLObjectType | None
) -> dict[str, list[str]]:
    """``{mutation field: [subscription fields listing it in @aws_subscribe]}``; unknown names are errors."""
    from graphql import value_from_ast_untyped  # noqa: PLC0415

    wiring: dict[str, list[str]] = {}
    if subscription is None:
        return wiring
    for name, field_def in subscription.fields.items():
        for directive in getattr(field_def.ast_node, "directives", None) or ():
            if directive.name.value != "aws_subscribe":
                continue
            for argument in directive.arguments:
                if argument.name.value != "mutations":
                    continue
                listed = value_from_ast_untyped(argument.value) or []
                for mutation_name in listed if isinstance(listed, list) else [listed]:
                    if mutation is None or mutation_name not in mutation.fields:
                        raise ValueError(
                            f"@aws_subscribe on {subscription.name}.{name} names {mutation_name!r}, "
                            "which is not a mutation field of the schema"
                        )
                    wiring.setdefault(mutation_name, []).append(name)
    return wiring


# --- AppSync scalars ----------------------------------------------------------------------------------------

_OFFSET: Final = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)"
_TIME: Final = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?"
_DATE_RE: Final = re.compile(rf"(\d{{4}}-\d{{2}}-\d{{2}}){_OFFSET}?")
_TIME_RE: Final = re.compile(rf"{_TIME}{_OFFSET}?")
_DATETIME_RE: Final = re.compile(rf"(\d{{4}}-\d{{2}}-\d{{2}})T{_TIME}{_OFFSET}")
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE_RE: Final = re.compile(r"\+?\d(?:[ -]?\d){5,18}")
_INT32: Final = 2**31


def _check_date(text: str) -> None:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise ValueError("expected YYYY-MM-DD, optionally with a time zone offset (Z or ±hh:mm[:ss])")
    date.fromisoformat(match.group(1))  # a real calendar date


def _check_time(text: str) -> None:
    if _TIME_RE.fullmatch(text) is None:
        raise ValueError("expected hh:mm[:ss[.sss]], optionally with a time zone offset (Z or ±hh:mm[:ss])")


def _check_datetime(text: str) -> None:
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        raise ValueError("expected YYYY-MM-DDThh:mm[:ss[.sss]] with a time zone offset (Z or ±hh:mm[:ss])")
    date.fromisoformat(match.group(1))


def _check_email(text: str) -> None:
    if _EMAIL_RE.fullmatch(text) is None:
        raise ValueError("expected an email address local-part@domain")


def _check_url(text: str) -> None:
    parts = urlsplit(text)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or "") or any(c.isspace() for c in text):
        raise ValueError("expected a URL with a scheme, such as https://example.com/path or mailto:a@b.c")
    if not (parts.netloc or parts.path) or "//" in parts.path:
        raise ValueError("expected a URL with a host or a path, and no '//' inside the path")


def _check_phone(text: str) -> None:
    if _PHONE_RE.fullmatch(text.strip()) is None:
        raise ValueError("expected a phone number: digits, optionally +country code, spaces or hyphens")


def _check_ip(text: str) -> None:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError("expected an IPv4 or IPv6 address, optionally with a /prefix") from None


_STRING_CHECKS: Final[dict[str, Callable[[str], None]]] = {
    "AWSDate": _check_date,
    "AWSTime": _check_time,
    "AWSDateTime": _check_datetime,
    "AWSEmail": _check_email,
    "AWSURL": _check_url,
    "AWSPhone": _check_phone,
    "AWSIPAddress": _check_ip,
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


_Coercers = tuple[Callable[[Any], Any], Callable[["ConstValueNode"], Any], Callable[[Any], Any]]


def _implement_scalar(scalar: GraphQLScalarType) -> None:
    """Give one AppSync scalar its input, literal and output rules (AppSync validates both ways)."""
    if scalar.name == "AWSTimestamp":
        coercers = _timestamp_coercers()
    elif scalar.name == "AWSJSON":
        coercers = _json_coercers()
    else:
        coercers = _string_coercers(scalar.name, _STRING_CHECKS[scalar.name])
    scalar.coerce_input_value, scalar.coerce_input_literal, scalar.coerce_output_value = coercers


def _invalid(name: str, value: Any, reason: str) -> GraphQLError:
    from graphql import GraphQLError  # noqa: PLC0415

    return GraphQLError(f"{name} cannot represent {json.dumps(value, default=repr)}: {reason}")


def _timestamp_coercers() -> _Coercers:
    from graphql import GraphQLError, IntValueNode  # noqa: PLC0415

    def coerce_in(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid("AWSTimestamp", value, "expected an integer number of seconds since the epoch")
        return value

    def coerce_literal(node: ConstValueNode) -> Any:
        if not isinstance(node, IntValueNode):
            raise GraphQLError("AWSTimestamp cannot represent a non integer literal")
        return int(node.value)

    def coerce_out(value: Any) -> Any:
        if isinstance(value, datetime):
            return int(value.timestamp())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return coerce_in(value)

    return coerce_in, coerce_literal, coerce_out


def _json_coercers() -> _Coercers:
    from graphql import GraphQLError, StringValueNode  # noqa: PLC0415

    def coerce_in(value: Any) -> Any:
        if not isinstance(value, str):
            raise _invalid("AWSJSON", value, "expected a string holding JSON text")
        try:
            return _load_json(value)
        except ValueError as error:
            raise _invalid("AWSJSON", value, f"not valid JSON ({error})") from None

    def coerce_literal(node: ConstValueNode) -> Any:
        if not isinstance(node, StringValueNode):
            raise GraphQLError("AWSJSON cannot represent a non string literal: quote the JSON text")
        return coerce_in(node.value)

    def coerce_out(value: Any) -> Any:
        if isinstance(value, str):
            try:
                _load_json(value)
            except ValueError:
                return json.dumps(value)  # a plain string, not JSON text yet
            return value
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise _invalid("AWSJSON", repr(value), f"not JSON-serializable ({error})") from None

    return coerce_in, coerce_literal, coerce_out


def _string_coercers(name: str, check: Callable[[str], None]) -> _Coercers:
    from graphql import GraphQLError, StringValueNode  # noqa: PLC0415

    def coerce_in(value: Any) -> Any:
        if not isinstance(value, str):
            raise _invalid(name, value, "expected a string")
        try:
            check(value)
        except ValueError as error:
            raise _invalid(name, value, str(error)) from None
        return value

    def coerce_literal(node: ConstValueNode) -> Any:
        if not isinstance(node, StringValueNode):
            raise GraphQLError(f"{name} cannot represent a non string literal")
        return coerce_in(node.value)

    def coerce_out(value: Any) -> Any:
        if isinstance(value, datetime) and name == "AWSDateTime":
            if value.tzinfo is None:
                raise _invalid(name, value.isoformat(), "a datetime without a time zone")
            value = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, (date, time)) and name in ("AWSDate", "AWSTime"):
            value = value.isoformat().replace("+00:00", "Z")
        return coerce_in(value)

    return coerce_in, coerce_literal, coerce_out


# --- authorization ------------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _check_credentials(
    credentials: Iterable[tuple[str, str] | tuple[str, str, str | None]],
) -> dict[str, tuple[str, str, str | None]]:
    checked: dict[str, tuple[str, str, str | None]] = {}
    for entry in credentials:
        if not isinstance(entry, tuple) or len(entry) not in (2, 3):
            raise TypeError("credentials: each entry is (access key id, secret access key[, session token])")
        access_key, secret_key = entry[0], entry[1]
        token = entry[2] if len(entry) == 3 else None
        if not access_key or not secret_key:
            raise ValueError("credentials: empty access key id or secret access key")
        checked[access_key] = (access_key, secret_key, token or None)
    return checked


class _Authorizer:
    """Decides a request's auth mode from its headers the way AppSync does, or raises ``_RejectedError``."""

    def __init__(
        self,
        *,
        api_key: str | None,
        credentials: dict[str, tuple[str, str, str | None]],
        region: str,
        tokens: Collection[str] | Callable[[str], bool] | None,
        token_mode: str,
        clock: Callable[[], datetime],
    ) -> None:
        if api_key is not None and not api_key:
            raise ValueError("api_key is empty (pass None to turn API_KEY mode off)")
        if not re.fullmatch(r"[a-z0-9-]{1,63}", region):
            raise ValueError(f"region is not a valid AWS region name: {region!r}")
        self.api_key = api_key
        self.credentials = credentials
        self.region = region
        self.tokens = tokens
        self.token_mode = token_mode
        self.clock = clock
        self.modes: tuple[str, ...] = tuple(
            mode
            for mode, enabled in (
                ("API_KEY", api_key is not None),
                ("AWS_IAM", bool(credentials)),
                (token_mode, tokens is not None),
            )
            if enabled
        )

    def authorize(self, headers: Mapping[str, str], *, url: str, body: bytes) -> str:
        """The mode of a request with these (lower-cased) headers, signed for ``url`` and ``body``."""
        api_key = headers.get("x-api-key")
        if api_key is not None and self.api_key is not None:
            if hmac.compare_digest(api_key.encode(), self.api_key.encode()):
                return "API_KEY"
            raise _RejectedError(401, "UnauthorizedException", "UnauthorizedException: Invalid API key")
        authorization = headers.get("authorization")
        if authorization:
            if authorization.startswith("AWS4-HMAC-SHA256") and self.credentials:
                self._verify_sigv4(authorization, headers, url, body)
                return "AWS_IAM"
            if self._token_ok(authorization):
                return self.token_mode
            raise _RejectedError(401, "UnauthorizedException", "UnauthorizedException: Invalid token")
        raise _RejectedError(401, "UnauthorizedException", "UnauthorizedException: Missing authorization")

    def _token_ok(self, token: str) -> bool:
        tokens = self.tokens
        if tokens is None:
            return False
        if callable(tokens):
            return bool(tokens(token))
        return token in tokens

    def _verify_sigv4(self, authorization: str, headers: Mapping[str, str], url: str, body: bytes) -> None:
        match = _AUTHORIZATION_RE.fullmatch(authorization.strip())
        if match is None:
            raise _RejectedError(
                403,
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters: "
                "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/appsync/aws4_request, SignedHeaders=..., "
                "Signature=...",
            )
        credentials = self.credentials.get(match["key"])
        if credentials is None:
            raise _RejectedError(403, "UnrecognizedClientException", _UNRECOGNIZED_CLIENT)
        amz_date = headers.get("x-amz-date", "")
        self._check_date(amz_date, match["date"])
        self._check_scope(match["region"], match["service"], match["terminator"])
        _, secret_key, token = credentials
        if headers.get("x-amz-security-token") != token:
            raise _RejectedError(403, "UnrecognizedClientException", _UNRECOGNIZED_CLIENT)
        signed = match["signed"].lower().split(";")
        missing = [name for name in ("host", "x-amz-date") if name not in signed]
        if missing:
            raise _RejectedError(
                403, "InvalidSignatureException", f"{', '.join(missing)} must be signed headers"
            )
        expected, canonical = _signature(
            credentials=(match["key"], secret_key, token),
            region=self.region,
            url=url,
            body=body,
            headers=headers,
            signed=signed,
            amz_date=amz_date,
        )
        if not hmac.compare_digest(expected, match["signature"].lower()):
            message = f"{_INVALID_SIGNATURE}\n\nThe Canonical String for this request should have been:\n"
            message += f"'{canonical}'\n"
            raise _RejectedError(403, "InvalidSignatureException", message)

    def _check_date(self, amz_date: str, scope_date: str) -> None:
        if not amz_date:
            raise _RejectedError(
                403,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        try:
            signed_at = datetime.strptime(amz_date, _SIGV4_TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise _RejectedError(
                403,
                "IncompleteSignatureException",
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.",
            ) from None
        now = self.clock().astimezone(timezone.utc)
        stamp = now.strftime(_SIGV4_TIME_FORMAT)
        if signed_at < now - _MAX_CLOCK_SKEW:
            earliest = (now - _MAX_CLOCK_SKEW).strftime(_SIGV4_TIME_FORMAT)
            raise _RejectedError(
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)",
            )
        if signed_at > now + _MAX_CLOCK_SKEW:
            latest = (now + _MAX_CLOCK_SKEW).strftime(_SIGV4_TIME_FORMAT)
            raise _RejectedError(
                403,
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)",
            )
        if scope_date != amz_date[:8]:
            raise _RejectedError(
                403,
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )

    def _check_scope(self, region: str, service: str, terminator: str) -> None:
        if region != self.region:
            raise _RejectedError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}' (this API: '{self.region}').",
            )
        if service != _SERVICE:
            raise _RejectedError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{_SERVICE}'.",
            )
        if terminator != "aws4_request":
            raise _RejectedError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.",
            )


def _signature(
    *,
    credentials: tuple[str, str, str | None],
    region: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    signed: list[str],
    amz_date: str,
) -> tuple[str, str]:
    """Recompute a SigV4 signature with botocore from what was received; return it and the canonical form."""
    from botocore.auth import SigV4Auth  # noqa: PLC0415
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import ReadOnlyCredentials  # noqa: PLC0415

    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={name: headers.get(name, "") for name in signed},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(ReadOnlyCredentials(*credentials), _SERVICE, region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request), canonical


def _lower(headers: Mapping[str, Any]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


# --- the aiohttp side ---------------------------------------------------------------------------------------


class _Connection:
    """One real-time WebSocket: an outgoing queue (one writer task) and its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        import asyncio  # noqa: PLC0415

        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subscriptions: dict[str, _Subscription] = {}
        self.auth_mode: str | None = None
        self.rejection: _RejectedError | None = None
        self.keep_alive: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    def send(self, message: Mapping[str, Any]) -> None:
        self.queue.put_nowait(json.dumps(message, separators=(",", ":")))

    def close_soon(self) -> None:
        self.queue.put_nowait(None)


class _LocalSink:
    """The receiving end of an in-process subscription (thread-safe: filled by the server's loop)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.payloads: list[dict[str, Any]] = []
        self.subscriptions: dict[str, _Subscription] = {}

    def send(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "data":
            with self.condition:
                self.payloads.append(message["payload"])
                self.condition.notify_all()


class _Service:
    """The request handlers; everything here runs on the server thread's event loop."""

    def __init__(self, owner: LocalAppSync) -> None:
        self.owner = owner
        self.engine = owner._engine
        self.authorizer = owner._authorizer
        self.connections: set[_Connection] = set()
        self.subscriptions: dict[str, list[_Subscription]] = {}
        self.local_sinks: set[_LocalSink] = set()
        self.local_ids = 0

    # -- HTTP -------------------------------------------------------------------------------------------

    async def graphql(self, request: web.Request) -> web.Response:
        from aiohttp import web  # noqa: PLC0415

        body = await request.read()
        self.owner._count_request()
        headers = {name.lower(): ",".join(request.headers.getall(name)) for name in request.headers}
        try:
            mode = self.authorizer.authorize(
                headers, url=f"http://{headers.get('host', '')}{request.raw_path}", body=body
            )
            query, variables, operation_name = _parse_http_body(body)
        except _RejectedError as rejected:
            return web.json_response(rejected.body(), status=rejected.status)
        answer, executed = await self.engine.execute(query, variables, operation_name, mode)
        now = self.owner._clock()
        self.owner._record(
            [RecordedMutation(e.field, e.alias, e.arguments, e.result, e.error, mode, now) for e in executed]
        )
        for done in executed:
            if done.error is None and done.result is not None:
                await self.publish(done.field, done.result)
        return web.json_response(answer)

    async def publish(self, mutation_field: str, payload: Any) -> None:
        """Push one mutation result to the subscriptions that listen to it and whose filters match."""
        for field_name in self.engine.subscribers_of.get(mutation_field, ()):
            for subscription in list(self.subscriptions.get(field_name, ())):
                if _matches(subscription.filters, payload):
                    message = await self.engine.event(subscription, payload)
                    subscription.connection.send({"id": subscription.id, "type": "data", "payload": message})

    # -- real-time --------------------------------------------------------------------------------------

    async def realtime(self, request: web.Request) -> web.StreamResponse:
        import asyncio  # noqa: PLC0415

        from aiohttp import WSMsgType, web  # noqa: PLC0415

        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if _SUBPROTOCOL not in offered:
            error = _error(
                "UnsupportedOperation", f"the real-time endpoint needs the {_SUBPROTOCOL!r} subprotocol"
            )
            return web.json_response({"errors": [error]}, status=400)
        ws = web.WebSocketResponse(protocols=(_SUBPROTOCOL,), timeout=_WS_CLOSE_TIMEOUT)
        await ws.prepare(request)
        connection = _Connection(ws)
        try:
            connection.auth_mode = self._authorize_connection(request.rel_url.raw_query_string)
        except _RejectedError as rejected:
            connection.rejection = rejected
        self.connections.add(connection)
        writer = connection.writer = asyncio.create_task(self._write(connection))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_message(connection, message.data)
                else:
                    connection.send(_error_message(None, "MalformedMessage", "messages must be JSON text"))
        finally:
            self._forget(connection)
            connection.close_soon()
            await writer
        return ws

    def _authorize_connection(self, raw_query: str) -> str:
        encoded = _query_param(raw_query, "header")
        if not encoded:
            raise _RejectedError(401, "UnauthorizedException", "UnauthorizedException: Missing authorization")
        try:
            headers = json.loads(_b64decode(encoded))
        except (ValueError, binascii.Error):
            headers = None
        if not isinstance(headers, dict):
            raise _RejectedError(
                400, "MalformedMessage", "the 'header' query parameter is not base64 of a JSON object"
            )
        lowered = _lower(headers)
        host = lowered.get("host")
        if host != self.owner.host:
            raise _RejectedError(
                401,
                "UnauthorizedException",
                f"the 'host' connection header must be this API's host {self.owner.host!r}, got {host!r}",
            )
        return self.authorizer.authorize(lowered, url=f"https://{host}/graphql/connect", body=b"{}")

    async def _on_message(self, connection: _Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            connection.send(_error_message(None, "MalformedMessage", "messages must be JSON objects"))
            return
        kind = message.get("type")
        if connection.rejection is not None:
            rejected = connection.rejection
            error = {
                "errorType": rejected.error_type,
                "message": rejected.message,
                "errorCode": rejected.status,
            }
            connection.send({"type": "connection_error", "payload": {"errors": [error]}})
            connection.close_soon()
        elif kind == "connection_init":
            connection.send(
                {"type": "connection_ack", "payload": {"connectionTimeoutMs": _CONNECTION_TIMEOUT_MS}}
            )
            if connection.keep_alive is None:
                import asyncio  # noqa: PLC0415

                connection.keep_alive = asyncio.create_task(self._keep_alive(connection))
        elif kind == "start":
            await self._start(connection, message)
        elif kind == "stop":
            self._stop(connection, message.get("id"))
        elif kind == "connection_terminate":
            connection.close_soon()
        else:
            text = f"{kind!r} is not a message type of the AppSync real-time protocol"
            connection.send(_error_message(None, "UnsupportedOperation", text))

    async def _start(self, connection: _Connection, message: Mapping[str, Any]) -> None:
        subscription_id = message.get("id")
        if not isinstance(subscription_id, str) or not subscription_id:
            connection.send(_error_message(None, "MalformedMessage", "a start message needs a string id"))
            return
        payload = message.get("payload")
        data = payload.get("data") if isinstance(payload, Mapping) else None
        extensions = payload.get("extensions") if isinstance(payload, Mapping) else None
        authorization = extensions.get("authorization") if isinstance(extensions, Mapping) else None
        if not isinstance(data, str):
            connection.send(
                _error_message(subscription_id, "MalformedMessage", "payload.data must be JSON text")
            )
            return
        headers = _lower(authorization) if isinstance(authorization, Mapping) else {}
        try:
            mode = self.authorizer.authorize(
                headers, url=f"https://{headers.get('host', self.owner.host)}/graphql", body=data.encode()
            )
        except _RejectedError as rejected:
            error = {
                "errorType": rejected.error_type,
                "message": rejected.message,
                "errorCode": rejected.status,
            }
            connection.send({"id": subscription_id, "type": "error", "payload": {"errors": [error]}})
            return
        try:
            request = json.loads(data)
        except ValueError:
            connection.send(_error_message(subscription_id, "MalformedMessage", "payload.data is not JSON"))
            return
        try:
            subscription = await self.engine.subscribe(request, mode, subscription_id, connection)
        except _StartError as refused:
            connection.send({"id": subscription_id, "type": "error", "payload": {"errors": refused.errors}})
            return
        self._register(connection, subscription)
        connection.send({"id": subscription_id, "type": "start_ack"})

    def _register(self, connection: _Connection | _LocalSink, subscription: _Subscription) -> None:
        self._stop(connection, subscription.id, acknowledge=False)  # a reused id replaces its subscription
        connection.subscriptions[subscription.id] = subscription
        self.subscriptions.setdefault(subscription.field, []).append(subscription)
        self.owner._subscriptions_changed(+1)

    async def subscribe_locally(self, sink: _LocalSink, request: Mapping[str, Any], auth_mode: str) -> str:
        """Register an in-process subscription; return its id, or raise ``ValueError`` with the errors."""
        self.local_ids += 1
        subscription_id = f"local-{self.local_ids}"
        try:
            subscription = await self.engine.subscribe(request, auth_mode, subscription_id, sink)
        except _StartError as refused:
            raise ValueError(f"subscription refused: {json.dumps(refused.errors)}") from None
        self._register(sink, subscription)
        self.local_sinks.add(sink)
        return subscription_id

    async def stop_subscription(self, sink: _LocalSink, subscription_id: str) -> None:
        self._stop(sink, subscription_id, acknowledge=False)

    def _stop(
        self, connection: _Connection | _LocalSink, subscription_id: Any, *, acknowledge: bool = True
    ) -> None:
        subscription = connection.subscriptions.pop(subscription_id, None)
        if subscription is not None:
            self.subscriptions[subscription.field].remove(subscription)
            self.owner._subscriptions_changed(-1)
        if acknowledge:
            connection.send({"id": subscription_id, "type": "complete"})

    def _forget(self, connection: _Connection) -> None:
        for subscription_id in list(connection.subscriptions):
            self._stop(connection, subscription_id, acknowledge=False)
        if connection.keep_alive is not None:
            connection.keep_alive.cancel()
        self.connections.discard(connection)

    async def _keep_alive(self, connection: _Connection) -> None:
        import asyncio  # noqa: PLC0415

        while True:
            connection.send({"type": "ka"})
            await asyncio.sleep(self.owner._keep_alive)

    @staticmethod
    async def _write(connection: _Connection) -> None:
        """The connection's only writer: sends queued messages in order; None closes the socket."""
        from aiohttp import WSCloseCode  # noqa: PLC0415

        ws = connection.ws
        while (text := await connection.queue.get()) is not None:
            if ws.closed:
                continue
            try:
                await ws.send_str(text)
            except ConnectionError:  # the client went away; the reader loop ends on its own
                break
        if not ws.closed:
            await ws.close(code=WSCloseCode.GOING_AWAY if connection.rejection is None else WSCloseCode.OK)

    async def close_connections(self) -> None:
        """Close every WebSocket (server stopping)."""
        import asyncio  # noqa: PLC0415

        for sink in self.local_sinks:
            for subscription_id in list(sink.subscriptions):
                self._stop(sink, subscription_id, acknowledge=False)
        writers = []
        for connection in list(self.connections):
            self._forget(connection)
            connection.close_soon()
            if connection.writer is not None:
                writers.append(connection.writer)
        if writers:
            await asyncio.wait(writers, timeout=_WS_CLOSE_TIMEOUT * 2)


def _error_message(subscription_id: str | None, error_type: str, message: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"type": "error", "payload": {"errors": [_error(error_type, message)]}}
    if subscription_id is not None:
        answer["id"] = subscription_id
    return answer


def _matches(filters: Mapping[str, Any], payload: Any) -> bool:
    """AppSync's argument filtering: every non-null subscription argument equals the response field."""
    if not filters:
        return True
    if not isinstance(payload, Mapping):
        return False
    return all(name in payload and payload[name] == value for name, value in filters.items())


def _parse_http_body(body: bytes) -> tuple[str, Mapping[str, Any], str | None]:
    try:
        request = json.loads(body)
    except ValueError:
        raise _RejectedError(400, "MalformedHttpRequestException", "The request body is not JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise _RejectedError(400, "MalformedHttpRequestException", "The request body needs a 'query' string")
    variables = request.get("variables") or {}
    operation_name = request.get("operationName")
    if not isinstance(variables, dict):
        raise _RejectedError(400, "MalformedHttpRequestException", "'variables' must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _RejectedError(400, "MalformedHttpRequestException", "'operationName' must be a string")
    return request["query"], variables, operation_name


def _query_param(raw_query: str, name: str) -> str | None:
    """A query parameter, percent-decoded but with '+' kept (base64 is sent unescaped by AppSync clients)."""
    for part in raw_query.split("&"):
        key, _, value = part.partition("=")
        if unquote(key) == name:
            return unquote(value)
    return None


def _b64decode(text: str) -> bytes:
    text = text.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
