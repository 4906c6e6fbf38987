"""AppSync's real-time endpoint: the ``graphql-ws`` WebSocket protocol, the subscriptions, their messages.

``GET /graphql/realtime`` speaks AppSync's protocol: the connection is authorized by its headers, sent as
the ``header-<base64url>`` subprotocol (amplify-js) or the base64 ``header`` query parameter (gql), see
``_handshake`` (``host`` must be this API's), then ``connection_init`` -> ``connection_ack`` (with
``connectionTimeoutMs``) and ``ka`` every ``keep_alive`` seconds, ``start`` (authorized again by its own
``extensions.authorization``) -> ``start_ack`` or ``error``, ``data`` messages, ``stop`` -> ``complete``,
``connection_error`` for a refused connection. In-process subscriptions (``LocalAppSync.subscribe``) are
registered here too and receive the same messages through a ``LocalSink``. Every socket has one writer
task, so messages leave in the order they were published.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from streambridge.testing._local._delivery import MAX_MESSAGE_BYTES, Subscription, matches, message_size
from streambridge.testing._local._errors import RejectedError, StartError, appsync_error
from streambridge.testing._local._handshake import (
    decode_headers,
    offered_protocols,
    query_auth,
    subprotocol_auth,
)

if TYPE_CHECKING:
    import asyncio

    from aiohttp import web

    from streambridge.testing._local._appsync import LocalAppSync
    from streambridge.testing._local._auth import Authorizer
    from streambridge.testing._local._engine import Engine

logger = logging.getLogger("streambridge.testing")

SUBPROTOCOL: Final = "graphql-ws"
_CONNECTION_TIMEOUT_MS: Final = 300_000
_WS_CLOSE_TIMEOUT: Final = 2.0


class Connection:
    """One real-time WebSocket: an outgoing queue (one writer task) and its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        import asyncio

        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subscriptions: dict[str, Subscription] = {}
        self.auth_mode: str | None = None
        self.rejection: RejectedError | None = None
        self.keep_alive: asyncio.Task[None] | None = None
        self.writer: asyncio.Task[None] | None = None

    def send(self, message: Mapping[str, Any]) -> None:
        """Queue a message for the writer task."""
        self.queue.put_nowait(json.dumps(message, separators=(",", ":")))

    def close_soon(self) -> None:
        """Close the socket once the messages queued so far are sent."""
        self.queue.put_nowait(None)


class LocalSink:
    """The receiving end of an in-process subscription (thread-safe: filled by the server's loop)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.payloads: list[dict[str, Any]] = []
        self.subscriptions: dict[str, Subscription] = {}

    def send(self, message: Mapping[str, Any]) -> None:
        """Keep the payload of a ``data`` message (the other messages are the protocol's)."""
        if message.get("type") == "data":
            with self.condition:
                self.payloads.append(message["payload"])
                self.condition.notify_all()


class Realtime:
    """The real-time endpoint and the registry of subscriptions; runs on the server thread's event loop."""

    def __init__(self, owner: LocalAppSync, engine: Engine, authorizer: Authorizer) -> None:
        self.owner = owner
        self.engine = engine
        self.authorizer = authorizer
        self.connections: set[Connection] = set()
        self.subscriptions: dict[str, list[Subscription]] = {}
        self.local_sinks: set[LocalSink] = set()
        self.local_ids = 0

    async def publish(self, mutation_field: str, response: Any) -> None:
        """Push a mutation field's response to the subscriptions listening to it whose filters match."""
        for field_name in self.engine.subscribers_of.get(mutation_field, ()):
            for subscription in list(self.subscriptions.get(field_name, ())):
                if not matches(subscription.filters, response):
                    continue
                message = await self.engine.event(subscription, response)
                size = message_size(field_name, response, message)
                if size > MAX_MESSAGE_BYTES:
                    logger.warning(
                        "LocalAppSync: dropped the %s message of subscription %s: %d bytes, over AppSync's "
                        "240 kB subscription payload limit (%d bytes here); AppSync drops it silently, the "
                        "mutation %s still succeeds",
                        field_name,
                        subscription.id,
                        size,
                        MAX_MESSAGE_BYTES,
                        mutation_field,
                    )
                    continue
                subscription.connection.send({"id": subscription.id, "type": "data", "payload": message})

    # -- the WebSocket ----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /graphql/realtime``: one WebSocket connection, until it closes."""
        import asyncio

        from aiohttp import WSMsgType, web

        offered = offered_protocols(request.headers.get("Sec-WebSocket-Protocol", ""))
        if SUBPROTOCOL not in offered:
            error = appsync_error(
                "UnsupportedOperation", f"the real-time endpoint needs the {SUBPROTOCOL!r} subprotocol"
            )
            return web.json_response({"errors": [error]}, status=400)
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), timeout=_WS_CLOSE_TIMEOUT)
        await ws.prepare(request)
        connection = Connection(ws)
        try:
            connection.auth_mode = self._authorize_connection(offered, request.rel_url.raw_query_string)
        except RejectedError as rejected:
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

    def _authorize_connection(self, offered: list[str], raw_query: str) -> str:
        # amplify-js sends the subprotocol form, gql the query form: the subprotocol wins when both come.
        encoded = subprotocol_auth(offered) or query_auth(raw_query)
        if not encoded:
            raise RejectedError(401, "UnauthorizedException", "UnauthorizedException: Missing authorization")
        lowered = decode_headers(encoded)
        if lowered is None:
            raise RejectedError(
                400,
                "MalformedMessage",
                "the 'header' query parameter or header- subprotocol is not base64 of a JSON object",
            )
        host = lowered.get("host")
        if host != self.owner.host:
            raise RejectedError(
                401,
                "UnauthorizedException",
                f"the 'host' connection header must be this API's host {self.owner.host!r}, got {host!r}",
            )
        return self.authorizer.authorize(lowered, url=f"https://{host}/graphql/connect", body=b"{}")

    async def _on_message(self, connection: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            connection.send(_error_message(None, "MalformedMessage", "messages must be JSON objects"))
            return
        kind = message.get("type")
        if connection.rejection is not None:
            error = connection.rejection.with_code()
            connection.send({"type": "connection_error", "payload": {"errors": [error]}})
            connection.close_soon()
        elif kind == "connection_init":
            connection.send(
                {"type": "connection_ack", "payload": {"connectionTimeoutMs": _CONNECTION_TIMEOUT_MS}}
            )
            if connection.keep_alive is None:
                import asyncio

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

    async def _start(self, connection: Connection, message: Mapping[str, Any]) -> None:
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
        except RejectedError as rejected:
            error = rejected.with_code()
            connection.send({"id": subscription_id, "type": "error", "payload": {"errors": [error]}})
            return
        try:
            request = json.loads(data)
        except ValueError:
            connection.send(_error_message(subscription_id, "MalformedMessage", "payload.data is not JSON"))
            return
        try:
            subscription = await self.engine.subscribe(request, mode, subscription_id, connection)
        except StartError as refused:
            connection.send({"id": subscription_id, "type": "error", "payload": {"errors": refused.errors}})
            return
        self._register(connection, subscription)
        connection.send({"id": subscription_id, "type": "start_ack"})

    async def _keep_alive(self, connection: Connection) -> None:
        import asyncio

        while True:
            connection.send({"type": "ka"})
            await asyncio.sleep(self.owner._keep_alive)

    @staticmethod
    async def _write(connection: Connection) -> None:
        """The connection's only writer: sends queued messages in order; None closes the socket."""
        from aiohttp import WSCloseCode

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

    # -- the registry -----------------------------------------------------------------------------------

    def _register(self, connection: Connection | LocalSink, subscription: Subscription) -> None:
        self._stop(connection, subscription.id, acknowledge=False)  # a reused id replaces its subscription
        connection.subscriptions[subscription.id] = subscription
        self.subscriptions.setdefault(subscription.field, []).append(subscription)
        self.owner._subscriptions_changed(+1)

    async def subscribe_locally(self, sink: LocalSink, request: Mapping[str, Any], auth_mode: str) -> str:
        """Register an in-process subscription; return its id, or raise ``ValueError`` with the errors."""
        self.local_ids += 1
        subscription_id = f"local-{self.local_ids}"
        try:
            subscription = await self.engine.subscribe(request, auth_mode, subscription_id, sink)
        except StartError as refused:
            raise ValueError(f"subscription refused: {json.dumps(refused.errors)}") from None
        self._register(sink, subscription)
        self.local_sinks.add(sink)
        return subscription_id

    async def stop_subscription(self, sink: LocalSink, subscription_id: str) -> None:
        """End an in-process subscription."""
        self._stop(sink, subscription_id, acknowledge=False)

    def _stop(
        self, connection: Connection | LocalSink, subscription_id: Any, *, acknowledge: bool = True
    ) -> None:
        subscription = connection.subscriptions.pop(subscription_id, None)
        if subscription is not None:
            self.subscriptions[subscription.field].remove(subscription)
            self.owner._subscriptions_changed(-1)
        if acknowledge:
            connection.send({"id": subscription_id, "type": "complete"})

    def _forget(self, connection: Connection) -> None:
        for subscription_id in list(connection.subscriptions):
            self._stop(connection, subscription_id, acknowledge=False)
        if connection.keep_alive is not None:
            connection.keep_alive.cancel()
        self.connections.discard(connection)

    async def close_connections(self) -> None:
        """Drop every subscription and close every WebSocket (server stopping)."""
        import asyncio

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
    answer: dict[str, Any] = {"type": "error", "payload": {"errors": [appsync_error(error_type, message)]}}
    if subscription_id is not None:
        answer["id"] = subscription_id
    return answer


def _lower(headers: Mapping[str, Any]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}
