"""The aiohttp service of a LocalEventApi: ``POST /event`` and the real-time WebSocket ``/event/realtime``.

The real-time protocol, as documented (https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html,
https://docs.aws.amazon.com/appsync/latest/eventapi/publish-websocket.html) and as AWS's clients speak it
(amplify-js ``AWSAppSyncEventProvider`` and ``AWSWebSocketProvider``, aws-appsync-events-swift):

- subprotocols ``aws-appsync-event-ws`` and ``header-<base64url of the auth headers JSON>``; the headers'
  ``host`` is the API's HTTP host; an IAM signature covers ``POST /event`` with body ``{}``;
- ``connection_init`` -> ``connection_ack`` with ``connectionTimeoutMs``, then ``ka`` messages; a refused
  connection gets ``connection_error`` with ``errors`` and is closed;
- ``subscribe`` (``id``, ``channel``, ``authorization``) -> ``subscribe_success`` / ``subscribe_error``;
  ``data`` messages (``id``, ``event``: the event's JSON text) in publish order;
- ``unsubscribe`` (``id``) -> ``unsubscribe_success`` / ``unsubscribe_error``;
- ``publish`` (``id``, ``channel``, ``events``, ``authorization``) -> ``publish_success`` with
  ``successful`` / ``failed``, or ``publish_error``; anything else -> ``error``. Errors are
  ``{"errorType", "message"}`` objects in a top-level ``errors`` list (no ``errorCode``: amplify-js notes
  the Event API sends none).

A subscribe or publish message is authorized by its own ``authorization`` headers; an IAM signature
covers ``POST /event`` with the compact JSON ``{"channel": ...}`` (subscribe) or
``{"channel": ..., "events": [...]}`` (publish), as amplify-js signs them. Everything here runs on the
LocalEventApi's server thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from streambridge.testing._local._errors import RejectedError
from streambridge.testing._local._handshake import decode_headers, offered_protocols, subprotocol_auth
from streambridge.testing._local_events._rules import PublishedEvent, channel_path, matches

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    import ssl

    from aiohttp import web

    from streambridge.testing._local_events._api import LocalEventApi

SUBPROTOCOL: Final = "aws-appsync-event-ws"
CONNECTION_TIMEOUT_MS: Final = 300_000
_CLOSE_TIMEOUT: Final = 2.0


class Sink:
    """Where a subscription's ``data`` goes: a WebSocket connection, or an in-process collector."""

    def send(self, message: Mapping[str, Any]) -> None:
        """Deliver one protocol message."""
        raise NotImplementedError


class Connection(Sink):
    """One WebSocket: an outgoing queue drained by one writer task, so messages keep their order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        import asyncio

        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subscriptions: dict[str, str] = {}  # id -> channel or wildcard
        self.rejection: RejectedError | None = None
        self.keep_alive: asyncio.Task[None] | None = None

    def send(self, message: Mapping[str, Any]) -> None:
        """Queue a message for the writer task."""
        self.queue.put_nowait(json.dumps(message, separators=(",", ":")))

    def close_soon(self) -> None:
        """Close the socket once the messages queued so far are sent."""
        self.queue.put_nowait(None)


class LocalSink(Sink):
    """The receiving end of ``LocalEventApi.subscribe`` (thread-safe: filled by the server's loop)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.events: list[str] = []

    def send(self, message: Mapping[str, Any]) -> None:
        """Keep the event text of a ``data`` message."""
        if message.get("type") == "data":
            with self.condition:
                self.events.append(message["event"])
                self.condition.notify_all()


class Service:
    """The HTTP endpoint, the real-time endpoint and the registry of subscriptions of one LocalEventApi."""

    def __init__(self, owner: LocalEventApi) -> None:
        self.owner = owner
        self.rules = owner.rules
        self.authorizer = owner._authorizer
        self.subscriptions: dict[tuple[Sink, str], str] = {}  # (sink, id) -> channel pattern
        self.connections: set[Connection] = set()
        self.writers: set[asyncio.Task[None]] = set()

    async def serve(
        self,
        host: str,
        port: int,
        ready: concurrent.futures.Future[int],
        stop: asyncio.Event,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        """Listen on ``host:port``, hand the bound port to ``ready``, serve until ``stop`` is set."""
        import asyncio

        from aiohttp import web

        from streambridge.testing._local._cors import cors

        app = web.Application(  # the rules answer 413 themselves
            client_max_size=self.rules.max_request_bytes * 4, middlewares=[cors()]
        )
        app.router.add_post("/event", self.http_publish)
        app.router.add_get("/event/realtime", self.realtime)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
            ready.set_result(int(runner.addresses[0][1]))
            await stop.wait()
            self.subscriptions.clear()
            self.owner._subscriptions_changed(None)
            for connection in list(self.connections):
                connection.close_soon()
            if self.writers:
                await asyncio.wait(self.writers, timeout=_CLOSE_TIMEOUT * 2)
        finally:
            await runner.cleanup()

    # -- publishing ------------------------------------------------------------------------------------

    async def http_publish(self, request: web.Request) -> web.Response:
        """``POST /event``: authorize, check, publish, answer ``{"failed": [...], "successful": [...]}``."""
        from aiohttp import web

        body = await request.read()
        headers = {name.lower(): ",".join(request.headers.getall(name)) for name in request.headers}
        try:
            self.authorizer.authorize(
                headers, url=f"http://{headers.get('host', '')}{request.raw_path}", body=body
            )
            channel, events = self.rules.parse_http(body)
            outcome = self.rules.publish(channel, events)
        except RejectedError as rejected:
            return web.json_response(rejected.body(), status=rejected.status)
        self.deliver(outcome.delivered)
        return web.json_response(outcome.body())

    def deliver(self, events: list[PublishedEvent]) -> None:
        """Push each event, in order, to every subscription whose channel matches."""
        for event in events:
            for (sink, subscription_id), pattern in list(self.subscriptions.items()):
                if matches(pattern, event.channel):
                    sink.send({"type": "data", "id": subscription_id, "event": event.text})

    # -- in-process subscriptions (LocalEventApi.subscribe) ----------------------------------------------

    async def subscribe_locally(self, sink: LocalSink, channel: str, subscription_id: str) -> None:
        """Register an in-process subscription; raise ``ValueError`` if the channel is refused."""
        try:
            pattern = channel_path(channel, self.rules.namespaces, wildcard=True)
        except RejectedError as rejected:
            raise ValueError(f"subscription refused: {rejected.message}") from None
        self.subscriptions[sink, subscription_id] = pattern

    async def unsubscribe_locally(self, sink: LocalSink, subscription_id: str) -> None:
        """End an in-process subscription."""
        self.subscriptions.pop((sink, subscription_id), None)

    # -- the WebSocket ---------------------------------------------------------------------------------

    async def realtime(self, request: web.Request) -> web.StreamResponse:
        """``GET /event/realtime``: one WebSocket connection, until it closes."""
        import asyncio

        from aiohttp import WSMsgType, web

        offered = offered_protocols(request.headers.get("Sec-WebSocket-Protocol", ""))
        if SUBPROTOCOL not in offered:
            error = _error(
                "UnsupportedOperation", f"the real-time endpoint needs the {SUBPROTOCOL!r} subprotocol"
            )
            return web.json_response({"errors": [error]}, status=400)
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), timeout=_CLOSE_TIMEOUT)
        await ws.prepare(request)
        connection = Connection(ws)
        try:
            self._authorize_connection(offered)
        except RejectedError as rejected:
            connection.rejection = rejected
        self.connections.add(connection)
        writer = asyncio.create_task(self._write(connection))
        self.writers.add(writer)
        writer.add_done_callback(self.writers.discard)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_message(connection, message.data)
                else:
                    connection.send(
                        {"type": "error", "errors": [_error("MalformedMessage", "messages are JSON text")]}
                    )
        finally:
            self._forget(connection)
            connection.close_soon()
            await writer
        return ws

    def _authorize_connection(self, offered: list[str]) -> None:
        encoded = subprotocol_auth(offered)  # the Event API documents only the subprotocol form
        if not encoded:
            raise RejectedError(401, "UnauthorizedException", "Missing the header-<base64url> subprotocol")
        lowered = decode_headers(encoded)
        if lowered is None:
            raise RejectedError(
                400, "BadRequestException", "The header subprotocol is not base64url of a JSON object"
            )
        if lowered.get("host") != self.owner.host:
            raise RejectedError(
                401,
                "UnauthorizedException",
                f"The 'host' header must be this API's host {self.owner.host!r}, got {lowered.get('host')!r}",
            )
        self.authorizer.authorize(lowered, url=f"http://{self.owner.host}/event", body=b"{}")

    def _on_message(self, connection: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            connection.send(
                {"type": "error", "errors": [_error("MalformedMessage", "messages are JSON objects")]}
            )
            return
        kind = message.get("type")
        if connection.rejection is not None:  # the handshake was refused: say why, then close
            error = _error(connection.rejection.error_type, connection.rejection.message)
            connection.send({"type": "connection_error", "errors": [error]})
            connection.close_soon()
        elif kind == "connection_init":
            connection.send({"type": "connection_ack", "connectionTimeoutMs": CONNECTION_TIMEOUT_MS})
            if connection.keep_alive is None:
                import asyncio

                connection.keep_alive = asyncio.create_task(self._keep_alive(connection))
        elif kind in ("subscribe", "publish", "unsubscribe"):
            operation_id = message.get("id")
            if not isinstance(operation_id, str) or not operation_id:
                error = _error("BadRequestException", f"a {kind} message needs a string 'id'")
                connection.send({"type": f"{kind}_error", "errors": [error]})
            elif kind == "subscribe":
                self._subscribe(connection, operation_id, message)
            elif kind == "publish":
                self._publish(connection, operation_id, message)
            else:
                self._unsubscribe(connection, operation_id)
        else:
            error = _error(
                "UnsupportedOperation", f"{kind!r} is not a message type of the Event API protocol"
            )
            connection.send({"type": "error", "errors": [error]})

    def _authorize(self, message: Mapping[str, Any], signed: Mapping[str, Any]) -> None:
        authorization = message.get("authorization")
        headers = _lower(authorization) if isinstance(authorization, Mapping) else {}
        body = json.dumps(signed, separators=(",", ":"), ensure_ascii=False).encode()
        self.authorizer.authorize(
            headers, url=f"http://{headers.get('host', self.owner.host)}/event", body=body
        )

    def _subscribe(self, connection: Connection, subscription_id: str, message: Mapping[str, Any]) -> None:
        channel = message.get("channel")
        try:
            self._authorize(message, {"channel": channel})
            pattern = channel_path(channel, self.rules.namespaces, wildcard=True)
        except RejectedError as rejected:
            error = _error(rejected.error_type, rejected.message)
            connection.send({"type": "subscribe_error", "id": subscription_id, "errors": [error]})
            return
        if subscription_id not in connection.subscriptions:
            self.owner._subscriptions_changed(+1)
        connection.subscriptions[subscription_id] = pattern
        self.subscriptions[connection, subscription_id] = pattern
        connection.send({"type": "subscribe_success", "id": subscription_id})

    def _unsubscribe(self, connection: Connection, subscription_id: str) -> None:
        if connection.subscriptions.pop(subscription_id, None) is None:
            error = _error("UnknownOperationError", f"Unknown operation id {subscription_id}")
            connection.send({"type": "unsubscribe_error", "id": subscription_id, "errors": [error]})
            return
        self.subscriptions.pop((connection, subscription_id), None)
        self.owner._subscriptions_changed(-1)
        connection.send({"type": "unsubscribe_success", "id": subscription_id})

    def _publish(self, connection: Connection, publish_id: str, message: Mapping[str, Any]) -> None:
        channel, events = message.get("channel"), message.get("events")
        try:
            self._authorize(message, {"channel": channel, "events": events})
            outcome = self.rules.publish(channel, events)
        except RejectedError as rejected:
            error = _error(rejected.error_type, rejected.message)
            connection.send({"type": "publish_error", "id": publish_id, "errors": [error]})
            return
        connection.send({"type": "publish_success", "id": publish_id, **outcome.body()})
        self.deliver(outcome.delivered)

    async def _keep_alive(self, connection: Connection) -> None:
        import asyncio

        while True:
            connection.send({"type": "ka"})
            await asyncio.sleep(self.owner.keep_alive)

    @staticmethod
    async def _write(connection: Connection) -> None:
        """The connection's only writer: sends queued messages in order; None closes the socket."""
        ws = connection.ws
        while (text := await connection.queue.get()) is not None:
            if ws.closed:
                continue
            try:
                await ws.send_str(text)
            except ConnectionError:  # the client went away; the reader loop ends on its own
                break
        if not ws.closed:
            await ws.close()

    def _forget(self, connection: Connection) -> None:
        for subscription_id in connection.subscriptions:
            self.subscriptions.pop((connection, subscription_id), None)
        if connection.subscriptions:
            self.owner._subscriptions_changed(-len(connection.subscriptions))
        connection.subscriptions.clear()
        if connection.keep_alive is not None:
            connection.keep_alive.cancel()
        self.connections.discard(connection)


def _error(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "message": message}


def _lower(headers: Mapping[str, Any]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}
