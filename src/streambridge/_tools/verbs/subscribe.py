"""``streambridge subscribe``: a live subscriber to a GraphQL API or an Event API, one JSON line per message.

GraphQL (``--query``) speaks AppSync's real-time protocol through gql's ``AppSyncWebsocketsTransport``
(the testing extra), which carries the handshake's auth headers in the URL's ``?header=``; the subscriber
also offers them as the ``header-<base64url>`` subprotocol, the form AppSync expects from new clients and
that Amplify sends (amplify-js pull request 13726: "AppSync will continue to accept the auth token in query
params for existing APIs"). Channels (``--channel``) speak the Event API protocol (subprotocol
``aws-appsync-event-ws``) with aiohttp, signing with streambridge's own auth classes.

The real-time endpoint is derived from the API's HTTP endpoint, as AppSync and Amplify derive it
(``realtime_url``); the examples' subscribers derive it the same way.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from streambridge._bridge import URL_ENV
from streambridge._tools.common import (
    CommandError,
    _add_auth,
    _Formatter,
    _positive_int,
    _read_text,
    _region_in_command_words,
    _seconds,
    _Subparsers,
    errors_text,
    realtime_url,
)

if TYPE_CHECKING:
    import asyncio

    from streambridge._io.transport import Auth

EVENT_SUBPROTOCOL = "aws-appsync-event-ws"
GRAPHQL_SUBPROTOCOL = "graphql-ws"
_CONNECT_TIMEOUT = 10.0
_SILENCE = 300.0
"""The longest silence (not even a ``ka``) before the connection counts as lost, when the server's
``connection_ack`` names no ``connectionTimeoutMs``. With it, the client closes after that long without a
``ka`` (https://docs.aws.amazon.com/appsync/latest/devguide/real-time-websocket-client.html)."""


class SubscribeError(Exception):
    """The subscription could not start (exit status 2) or ended before it was asked to (exit status 1)."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    subscribe = verbs.add_parser(
        "subscribe",
        help="subscribe to a GraphQL API or an Event API and print each message as a JSON line",
        description="Open a real-time subscription, as a client app does, and print every message it "
        "receives as one JSON line on stdout: the subscription's data for --query (a GraphQL API), each "
        "event for --channel (an Event API). The real-time endpoint is derived from the API's HTTP "
        f"endpoint (--url, or env {URL_ENV}): https://ID.appsync-api.REGION.amazonaws.com/graphql -> "
        "wss://ID.appsync-realtime-api.REGION.amazonaws.com/graphql; .../event -> .../event/realtime on "
        "the real-time host; a custom domain or a local server (`streambridge local`) -> the same host, "
        "path + /realtime (http -> ws). Runs until Ctrl-C or SIGTERM (exit status 0), --count messages "
        "(0) or --timeout seconds (0; 1 when --count was not reached). A refused or lost connection: "
        "exit status 2 (1 once subscribed).",
        epilog="""\
examples:
  streambridge subscribe --url http://127.0.0.1:20002/graphql --api-key da2-localappsync-test-key \\
      --query 'subscription { onOrderChanged { id status } }'
  streambridge subscribe --url https://abc123.appsync-api.eu-west-1.amazonaws.com/graphql --iam \\
      --query @on_order_changed.graphql --variables '{"id": "order-1"}' --count 1
  streambridge subscribe --url http://127.0.0.1:20003/event --api-key da2-localappsync-test-key \\
      --channel '/rooms/*'
  streambridge subscribe --channel /rooms/lobby --token "$ID_TOKEN" --timeout 60 | jq .text

Status lines (subscribed, stopped, errors) go to stderr, so stdout is only the messages.""",
        formatter_class=_Formatter,
    )
    subscribe.set_defaults(command=subscribe.prog, run=_run_subscribe)
    what = subscribe.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--query",
        metavar="DOC",
        help="a GraphQL subscription document, or @FILE (- for stdin), on a GraphQL API (.../graphql)",
    )
    what.add_argument(
        "--channel",
        metavar="CHANNEL",
        help="an Event API channel, /namespace/... (a trailing /* takes every channel below)",
    )
    subscribe.add_argument(
        "--variables", metavar="JSON", help="the subscription's variables (its filter), as a JSON object"
    )
    subscribe.add_argument(
        "--url", help=f"the API's HTTP endpoint, .../graphql or .../event (default: env {URL_ENV})"
    )
    subscribe.add_argument(
        "--realtime-url",
        metavar="URL",
        help="the real-time endpoint, when it is not the one derived from --url (ws:// or wss://)",
    )
    _add_auth(subscribe, required=True)
    subscribe.add_argument(
        "--count", type=_positive_int, metavar="N", help="stop after N messages (exit status 0)"
    )
    subscribe.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="stop after S seconds (exit status 0, or 1 when --count messages did not all arrive)",
    )


# --------------------------------------------------------------------------------------------------
# The real-time endpoint


def _endpoint(args: argparse.Namespace) -> str:
    """The API's HTTP endpoint: --url or the environment, checked against the kind of subscription."""
    from streambridge._bridge import _check_url, _is_event_api, _likely_endpoint
    from streambridge._errors import ConfigurationError

    url: str | None = args.url or os.environ.get(URL_ENV)
    if not url:
        raise CommandError(f"no API URL: pass --url URL or set {URL_ENV}")
    try:
        _check_url(url)
    except ConfigurationError as error:
        parts = urlsplit(url)
        if parts.scheme in ("ws", "wss") or "realtime" in url:
            raise CommandError(
                f"{url} is a real-time endpoint: pass the API's HTTP endpoint, {_likely_endpoint(parts)} "
                "(the real-time one is derived from it; --realtime-url overrides it)"
            ) from None
        raise CommandError(str(error)) from None
    if args.channel is not None and not _is_event_api(url):
        raise CommandError(f"--channel subscribes on an Event API, .../event; {url} is not one")
    if args.query is not None and _is_event_api(url):
        raise CommandError(f"--query subscribes on a GraphQL API, .../graphql; {url} is an Event API")
    return url


# --------------------------------------------------------------------------------------------------
# The run


def _run_subscribe(args: argparse.Namespace) -> int:
    if args.region is not None and not args.iam:
        raise CommandError("--region goes with --iam")
    url = _endpoint(args)
    if args.channel is not None and not args.channel.startswith("/"):
        raise CommandError(f"--channel must start with /namespace, got {args.channel!r}")
    variables = _variables(args)
    document = (
        _read_text(args.query[1:], "--query") if args.query and args.query.startswith("@") else args.query
    )
    if variables is not None and document is None:
        raise CommandError("--variables goes with --query")
    if args.realtime_url is not None and urlsplit(args.realtime_url).scheme not in ("ws", "wss"):
        raise CommandError(f"--realtime-url must be a ws:// or wss:// URL, got {args.realtime_url!r}")
    target = args.realtime_url or realtime_url(url)
    source: _Source = (
        _GraphQLSource(url, target, document, variables, args)
        if document is not None
        else _ChannelSource(url, target, args.channel, _channel_auth(url, args))
    )
    import asyncio

    secrets = [s for s in (args.api_key, args.token) if s]
    try:
        return asyncio.run(_listen(source, args))
    except SubscribeError as error:
        sys.stderr.write(f"{args.command}: error: {_redact(str(error), secrets)}\n")
        return error.exit_code


def _variables(args: argparse.Namespace) -> dict[str, Any] | None:
    from streambridge._tools.common import _json_option

    if args.variables is None:
        return None
    value: dict[str, Any] = _json_option("--variables", args.variables, object_only=True)
    return value


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if len(secret) >= 6:  # a one-letter test key would blank that letter everywhere
            text = text.replace(secret, "***")
    return text


def _emit(value: Any) -> None:
    # One line per message, flushed: the reader is often a pipe (jq, a test) waiting for it.
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush does not hit the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _status(args: argparse.Namespace, text: str) -> None:
    sys.stderr.write(f"{args.command}: {text}\n")
    sys.stderr.flush()


async def _listen(source: _Source, args: argparse.Namespace) -> int:
    """Subscribe, print messages until stopped; the exit status."""
    import asyncio

    stop = asyncio.Event()
    signals: list[Callable[[], None]] = []
    received = 0
    reader_gone = False

    async def consume() -> None:
        nonlocal received, reader_gone
        async for value in source.messages():
            try:
                _emit(value)
            except BrokenPipeError:  # `| head -n 1` has what it wanted: stop, as after --count
                reader_gone = True
                _silence_stdout()
                return
            received += 1
            if args.count is not None and received >= args.count:
                return

    try:
        await source.open(_CONNECT_TIMEOUT)
        # Listening from here on: a Ctrl-C while connecting still interrupts (exit status 130).
        signals = _on_stop_signals(asyncio.get_running_loop(), stop.set)
        _status(args, f"subscribed to {source.label} at {source.realtime_url}")
        consumer = asyncio.create_task(consume())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({consumer, stopper}, timeout=args.timeout, return_when="FIRST_COMPLETED")
        for task in (consumer, stopper):
            task.cancel()
        await asyncio.gather(consumer, stopper, return_exceptions=True)
        if consumer in done:
            if consumer.exception() is not None:
                raise SubscribeError(source.lost(consumer.exception()), exit_code=1)
            if not reader_gone and (args.count is None or received < args.count):
                raise SubscribeError(f"{source.realtime_url} closed the subscription", exit_code=1)
        elif not done and args.count is not None:  # --timeout, with messages missing
            _status(args, f"timeout: {received} of {args.count} message(s) in {args.timeout:g} s")
            return 1
        elif stopper in done:
            _status(args, f"stopped after {received} message(s)")
        return 0
    finally:
        await source.close()
        for restore in signals:
            restore()


def _on_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> list[Callable[[], None]]:
    """Ctrl-C and SIGTERM end the subscription cleanly (exit status 0); the main thread only can listen."""
    if threading.current_thread() is not threading.main_thread():
        return []
    restores: list[Callable[[], None]] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop)
        except (NotImplementedError, RuntimeError):  # Windows' event loops have no signal handlers
            continue
        restores.append(functools.partial(_remove_signal_handler, loop, signum))
    return restores


def _remove_signal_handler(loop: asyncio.AbstractEventLoop, signum: int) -> None:
    loop.remove_signal_handler(signum)


class _Source:
    """One subscription: open it, yield its messages' values, close it."""

    label: str
    realtime_url: str

    async def open(self, timeout: float) -> None:
        raise NotImplementedError

    def messages(self) -> AsyncIterator[Any]:
        raise NotImplementedError

    def lost(self, error: BaseException | None) -> str:
        return f"the subscription at {self.realtime_url} ended: {type(error).__name__}: {error}"

    async def close(self) -> None:
        raise NotImplementedError


def _refused(realtime: str, reason: str) -> SubscribeError:
    return SubscribeError(f"{realtime} refused the subscription: {reason}")


def _unreachable(realtime: str, error: BaseException) -> SubscribeError:
    return SubscribeError(f"cannot connect to {realtime}: {_connect_error(error)}")


def _silence_of(ack_payload: Any) -> float:
    """The ack's ``connectionTimeoutMs`` in seconds: no message for that long means the connection is lost."""
    milliseconds = ack_payload.get("connectionTimeoutMs") if isinstance(ack_payload, dict) else None
    if isinstance(milliseconds, (int, float)) and not isinstance(milliseconds, bool) and milliseconds > 0:
        return float(milliseconds) / 1000
    return _SILENCE


def _silent(realtime: str, seconds: float) -> str:
    return f"no message (not even a keep-alive) from {realtime} in {seconds:g} s: the connection is lost"


def _header_subprotocol(header: dict[str, Any]) -> str:
    """``header-`` + the auth header as JSON in base64url without padding: the handshake's auth."""
    import base64

    encoded = base64.urlsafe_b64encode(json.dumps(header, separators=(",", ":")).encode()).decode()
    return "header-" + encoded.rstrip("=")


# --------------------------------------------------------------------------------------------------
# GraphQL: gql's AppSync transport


class _GraphQLSource(_Source):
    def __init__(
        self,
        url: str,
        realtime: str,
        document: str,
        variables: dict[str, Any] | None,
        args: argparse.Namespace,
    ) -> None:
        self.url = url
        self.realtime_url = realtime
        self.document = document
        self.variables = variables
        self.args = args
        self.label = _operation_label(document)
        self._transport: Any = None
        self._stream: AsyncIterator[Any] | None = None
        self._first: asyncio.Task[Any] | None = None

    async def open(self, timeout: float) -> None:
        import asyncio

        from gql import GraphQLRequest

        from streambridge._errors import ConfigurationError

        try:
            request = GraphQLRequest(self.document, variable_values=self.variables)
        except Exception as error:  # noqa: BLE001 - graphql-core's syntax errors: say where
            raise SubscribeError(f"--query is not a GraphQL document: {error}") from None
        try:
            auth = _graphql_auth(self.url, self.args)
        except ConfigurationError as error:
            raise SubscribeError(_region_in_command_words(str(error), iam=self.args.iam)) from None
        transport = self._transport = _transport_class()(self.realtime_url, auth=auth, timeout=timeout)
        try:
            await transport.connect()
        except Exception as error:  # noqa: BLE001 - gql's, websockets' (InvalidStatus...) and the OS's
            if transport.refusal or _handshake_status(error) is not None:
                raise _refused(self.realtime_url, transport.refusal or _connect_error(error)) from None
            raise _unreachable(self.realtime_url, error) from None
        self._stream = transport.subscribe(request)
        # The first message waits in a task, so that start_ack (or the refusal) can be awaited beside it.
        self._first = asyncio.create_task(self._next_result())
        acked = asyncio.create_task(transport.acked.wait())
        await asyncio.wait({self._first, acked}, timeout=timeout, return_when="FIRST_COMPLETED")
        acked.cancel()
        if transport.acked.is_set():
            return
        reason = transport.refusal
        if reason is None and self._first.done() and not self._first.cancelled():
            failure = self._first.exception()
            reason = _connect_error(failure) if failure is not None else None
        raise _refused(self.realtime_url, reason or f"no start_ack within {timeout:g} s")

    async def messages(self) -> AsyncIterator[Any]:
        assert self._first is not None  # noqa: S101 - open() ran
        result = await self._first
        while result is not None:
            if result.errors:
                _status(self.args, f"a message carries errors: {errors_text(result.errors)}")
            yield result.data
            result = await self._next_result()

    async def _next_result(self) -> Any:
        """The next ExecutionResult, or None when the server completed the subscription."""
        assert self._stream is not None  # noqa: S101 - open() ran
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            return None

    def lost(self, error: BaseException | None) -> str:
        transport = self._transport
        if transport is not None and "No keep-alive message" in str(error):  # gql's words for the silence
            return _silent(self.realtime_url, transport.keep_alive_timeout)
        refusal = transport.refusal if transport is not None else None
        return f"the subscription at {self.realtime_url} ended: {refusal or _connect_error(error)}"

    async def close(self) -> None:
        import asyncio

        if self._first is not None:  # its outcome is read (or it is cancelled): nothing left unretrieved
            self._first.cancel()
            await asyncio.gather(self._first, return_exceptions=True)
        if self._stream is not None:
            await self._stream.aclose()  # type: ignore[attr-defined]
        if self._transport is not None:
            await self._transport.close()


def _operation_label(document: str) -> str:
    """``onOrderChanged`` for a subscription document (its first field), for the status lines."""
    import re

    match = re.search(r"\{\s*(?:\w+\s*:\s*)?(\w+)", document)
    return match.group(1) if match else "the subscription"


def _connect_error(error: BaseException | None) -> str:
    """Why a connection failed, in the words of the error underneath gql's wrapper (refused, DNS, TLS)."""
    if error is None:
        return "the connection closed"
    status = _handshake_status(error)
    if status is not None:
        return f"HTTP {status} at the WebSocket handshake"
    while error.__cause__ is not None and type(error).__name__ == "TransportConnectionFailed":
        error = error.__cause__
    return f"{type(error).__name__}: {error}"


def _handshake_status(error: BaseException) -> int | None:
    """The HTTP status of a refused WebSocket handshake (websockets' InvalidStatus), if that is what it is."""
    for candidate in (error, error.__cause__):
        status = getattr(getattr(candidate, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _graphql_auth(url: str, args: argparse.Namespace) -> Any:
    """The gql auth for the API's host (AppSync authorizes the handshake for the HTTP endpoint's host)."""
    from gql.transport.appsync_auth import (
        AppSyncApiKeyAuthentication,
        AppSyncIAMAuthentication,
        AppSyncJWTAuthentication,
    )

    from streambridge._io.auth import IAMAuth

    host = urlsplit(url).netloc
    if args.api_key is not None:
        return AppSyncApiKeyAuthentication(host=host, api_key=args.api_key)
    if args.token is not None:
        return AppSyncJWTAuthentication(host=host, jwt=args.token)
    iam = IAMAuth(region=args.region)
    iam.validate(url)  # the region and credentials, with streambridge's messages
    return AppSyncIAMAuthentication(host=host, region_name=iam._endpoint(url)[1])


def _transport_class() -> type[Any]:
    """The gql AppSync transport, offering the auth subprotocol too and reporting start_ack and refusals."""
    import asyncio

    from gql.transport.appsync_websockets import AppSyncWebsocketsTransport

    class Transport(AppSyncWebsocketsTransport):
        def __init__(self, url: str, *, auth: Any, timeout: float) -> None:
            super().__init__(
                url,
                auth=auth,
                connect_timeout=int(timeout),
                ack_timeout=int(timeout),
                keep_alive_timeout=_SILENCE,
            )
            # Both handshake forms: the query (gql's, for existing APIs and older servers) and the
            # subprotocol (AppSync's current form, Amplify's only one).
            self.adapter.subprotocols = [GRAPHQL_SUBPROTOCOL, _header_subprotocol(auth.get_headers())]
            self.acked = asyncio.Event()
            self.refusal: str | None = None

        def _parse_answer(self, answer: str) -> Any:
            try:
                message = json.loads(answer)
            except ValueError:
                message = None
            if isinstance(message, dict):
                kind = message.get("type")
                if kind == "connection_ack":
                    self.keep_alive_timeout = _silence_of(message.get("payload"))
                elif kind == "start_ack":
                    self.acked.set()
                elif kind in ("connection_error", "error"):
                    payload = message.get("payload")
                    errors = payload.get("errors") if isinstance(payload, dict) else None
                    self.refusal = errors_text(errors) if errors else json.dumps(payload)
            return super()._parse_answer(answer)

    return Transport


# --------------------------------------------------------------------------------------------------
# Channels: the Event API protocol over aiohttp


def _channel_auth(url: str, args: argparse.Namespace) -> Auth:
    from streambridge._errors import ConfigurationError
    from streambridge._io.auth import ApiKeyAuth, IAMAuth, TokenAuth

    try:
        if args.api_key is not None:
            return ApiKeyAuth(args.api_key)
        if args.token is not None:
            return TokenAuth(args.token)
        auth = IAMAuth(region=args.region)
        auth.validate(url)
    except ConfigurationError as error:
        raise CommandError(_region_in_command_words(str(error), iam=args.iam)) from None
    return auth


class _ChannelSource(_Source):
    def __init__(self, url: str, realtime: str, channel: str, auth: Auth) -> None:
        self.url = url
        self.realtime_url = realtime
        self.label = channel
        self.auth = auth
        self._session: Any = None
        self._ws: Any = None
        self._id = ""
        self._silence = _SILENCE

    def _authorization(self, body: dict[str, Any]) -> dict[str, str]:
        """The headers authorizing ``body`` as a publish to the HTTP endpoint would be, with ``host``."""
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return {"host": urlsplit(self.url).netloc, **self.auth.headers(self.url, text)}

    async def open(self, timeout: float) -> None:
        import asyncio
        import uuid

        import aiohttp

        protocols = (EVENT_SUBPROTOCOL, _header_subprotocol(self._authorization({})))
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await asyncio.wait_for(
                self._session.ws_connect(self.realtime_url, protocols=protocols), timeout
            )
        except aiohttp.WSServerHandshakeError as error:
            raise _refused(self.realtime_url, f"HTTP {error.status} at the WebSocket handshake") from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
            raise _unreachable(self.realtime_url, error) from None
        await self._ws.send_str(json.dumps({"type": "connection_init"}))
        self._silence = _silence_of(await self._expect("connection_ack", timeout))
        self._id = str(uuid.uuid4())
        subscribe = {
            "type": "subscribe",
            "id": self._id,
            "channel": self.label,
            "authorization": self._authorization({"channel": self.label}),
        }
        await self._ws.send_str(json.dumps(subscribe))
        await self._expect("subscribe_success", timeout)

    async def _expect(self, wanted: str, timeout: float) -> dict[str, Any]:
        """The ``wanted`` answer; SubscribeError with the server's words when it refuses."""
        import asyncio

        while True:
            try:
                message = await asyncio.wait_for(self._next(), timeout)
            except asyncio.TimeoutError:
                raise _refused(self.realtime_url, f"no {wanted} within {timeout:g} s") from None
            kind = message.get("type")
            if kind == wanted:
                return message
            if kind in ("connection_error", "subscribe_error", "error"):
                raise _refused(self.realtime_url, f"{kind}: {errors_text(message.get('errors'))}")

    async def _next(self) -> dict[str, Any]:
        """The next message other than a keep-alive; SubscribeError when the server closes or goes silent."""
        import asyncio

        import aiohttp

        while True:
            try:
                frame = await asyncio.wait_for(self._ws.receive(), self._silence)
            except asyncio.TimeoutError:
                raise SubscribeError(_silent(self.realtime_url, self._silence), exit_code=1) from None
            if frame.type is not aiohttp.WSMsgType.TEXT:
                code = self._ws.close_code
                raise SubscribeError(f"{self.realtime_url} closed the connection (code {code})", exit_code=1)
            message = json.loads(frame.data)
            if isinstance(message, dict) and message.get("type") != "ka":
                return message

    async def messages(self) -> AsyncIterator[Any]:
        while True:
            message = await self._next()
            kind = message.get("type")
            if kind == "data" and message.get("id") == self._id:
                event = message.get("event")
                for text in event if isinstance(event, list) else [event]:
                    yield json.loads(text) if isinstance(text, str) else text
            elif kind in ("error", "subscribe_error", "connection_error"):
                raise SubscribeError(
                    f"{self.realtime_url} ended the subscription: {errors_text(message.get('errors'))}",
                    exit_code=1,
                )

    def lost(self, error: BaseException | None) -> str:
        return str(error) if isinstance(error, SubscribeError) else super().lost(error)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
