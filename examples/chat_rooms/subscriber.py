"""Watch chat rooms live, like a client app: subscribe to ``/rooms/*`` (or one room) with the API key.

It speaks the AppSync Events real-time protocol over a WebSocket, with aiohttp (installed by
``pip install 'streambridge[testing]'``, not by streambridge itself):

1. connect to ``wss://<realtime domain>/event/realtime`` offering two subprotocols:
   ``aws-appsync-event-ws`` and ``header-<base64url of the JSON authorization header>``
   (``{"host": <HTTP domain>, "x-api-key": ...}``);
2. send ``{"type": "connection_init"}``, wait for ``connection_ack`` (its ``connectionTimeoutMs`` is the
   longest silence allowed: the service sends ``ka`` keep-alives within it);
3. send ``{"type": "subscribe", "id", "channel", "authorization"}``; wait for ``subscribe_success``;
4. print each ``data`` message: its ``event`` is the published JSON, as text.

Source: "Understanding the Event API WebSocket protocol", AWS AppSync Events developer guide,
https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html

Delivery is at least once: when Lambda re-delivers a stream batch, events published the first time are
published again. Each event carries ``seq``, the stream sequence number of its change; the feed keeps the
highest ``seq`` applied per message and drops an event that is not newer (a duplicate, or a stale one).

    python -m examples.chat_rooms.subscriber --http-domain xxxx.appsync-api.eu-west-1.amazonaws.com \\
        --api-key da2-xxxx [--room lobby]
    python -m examples.chat_rooms.subscriber --url http://127.0.0.1:20003/event \\
        --api-key da2-localappsync-test-key      # against `streambridge local --namespace rooms`

Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

SUBPROTOCOL = "aws-appsync-event-ws"
NAMESPACE = "rooms"


def realtime_domain_of(http_domain: str) -> str:
    """The real-time domain AWS gives an Event API next to its HTTP domain (``appsync-realtime-api``).

    Only for the API's own domains; with a custom domain, pass ``--realtime-domain`` (the stack's
    ``RealtimeDomain`` output).
    """
    return http_domain.replace(".appsync-api.", ".appsync-realtime-api.", 1)


def realtime_url(http_url: str) -> str:
    """The real-time endpoint of an Event API's HTTP endpoint (``.../event``), as AppSync derives it.

    AppSync's own domain: ``https://ID.appsync-api.REGION.amazonaws.com/event`` ->
    ``wss://ID.appsync-realtime-api.REGION.amazonaws.com/event/realtime``; a custom domain or a local
    server (``streambridge local``): the same host, ``/event/realtime``, and ``http`` -> ``ws``.
    """
    parts = urlsplit(http_url)
    scheme = "ws" if parts.scheme == "http" else "wss"
    host = parts.netloc.replace(".appsync-api.", ".appsync-realtime-api.", 1)
    return f"{scheme}://{host}{parts.path.rstrip('/')}/realtime"


def authorization(http_domain: str, api_key: str) -> dict[str, str]:
    """The API-key authorization header: the HTTP domain as ``host``, and the key."""
    return {"host": http_domain, "x-api-key": api_key}


def auth_subprotocol(header: Mapping[str, str]) -> str:
    """``header-`` + the header as JSON, base64url without padding: how the WebSocket carries auth."""
    encoded = base64.urlsafe_b64encode(json.dumps(header, separators=(",", ":")).encode()).decode()
    return "header-" + encoded.rstrip("=")


def channel_for(room: str | None) -> str:
    """``/rooms/<room>``, or every room: ``/rooms/*``."""
    return f"/{NAMESPACE}/{room or '*'}"


def subscribe_message(channel: str, header: Mapping[str, str], subscription_id: str) -> dict[str, Any]:
    return {"type": "subscribe", "id": subscription_id, "channel": channel, "authorization": dict(header)}


def events_of(message: Mapping[str, Any]) -> Iterator[Any]:
    """The published values in one ``data`` message (each event is JSON text; be lenient with a list)."""
    event = message.get("event")
    for text in event if isinstance(event, list) else [event]:
        yield json.loads(text) if isinstance(text, str) else text


@dataclass
class RoomFeed:
    """What the client shows: each room's messages by id, and the highest ``seq`` applied per message."""

    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    latest: dict[tuple[str, str], int] = field(default_factory=dict)

    def apply(self, event: Mapping[str, Any]) -> str:
        """Apply one event; the line to print (a dropped duplicate or stale event says so)."""
        key = (str(event.get("roomId")), str(event.get("messageId")))
        kind = event.get("type")
        if event.get("seq") is not None:
            seq, last = int(event["seq"]), self.latest.get(key)
            if last is not None and seq <= last:
                return f"  (dropped {'duplicate' if seq == last else 'stale'}: {describe(event)})"
            self.latest[key] = seq
        if kind == "deleted":
            self.messages.pop(key, None)
        elif kind in ("message", "edited"):
            self.messages[key] = dict(event)
        return describe(event)

    def room(self, room_id: str) -> list[dict[str, Any]]:
        """A room's messages as a client lists them: by messageId (time-ordered ids), not by arrival."""
        return [m for (r, mid), m in sorted(self.messages.items()) if r == room_id]


def describe(event: Mapping[str, Any]) -> str:
    """One line for an event."""
    where = f"#{event.get('roomId')} {event.get('messageId')}"
    kind = event.get("type")
    if kind == "deleted":
        return f"{where} (deleted)"
    mark = " (edited)" if kind == "edited" else ""
    return f"{where} {event.get('author')}: {event.get('text')}{mark}"


class SubscriptionError(RuntimeError):
    """The service refused the connection or the subscription."""


async def watch(
    http_domain: str,
    api_key: str,
    room: str | None = None,
    *,
    realtime_domain: str | None = None,
    url: str | None = None,
    out: Callable[[str], None] = print,
) -> None:
    """Subscribe and print every event until cancelled (``url``: the real-time URL, when not derived)."""
    import aiohttp  # only the script needs it

    header = authorization(http_domain, api_key)
    endpoint = url or f"wss://{realtime_domain or realtime_domain_of(http_domain)}/event/realtime"
    channel = channel_for(room)
    feed = RoomFeed()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(endpoint, protocols=(SUBPROTOCOL, auth_subprotocol(header))) as ws,
    ):
        await ws.send_json({"type": "connection_init"})
        ack = await _receive(ws, 10.0)
        if ack.get("type") != "connection_ack":
            raise SubscriptionError(f"connection refused: {ack}")
        silence = int(ack.get("connectionTimeoutMs", 300_000)) / 1000
        subscription_id = str(uuid.uuid4())
        await ws.send_json(subscribe_message(channel, header, subscription_id))
        while True:
            message = await _receive(ws, silence)
            kind = message.get("type")
            if kind == "subscribe_success":
                out(f"subscribed to {channel}")
            elif kind in ("subscribe_error", "error", "connection_error"):
                raise SubscriptionError(f"{kind}: {message.get('errors')}")
            elif kind == "data" and message.get("id") == subscription_id:
                for event in events_of(message):
                    out(feed.apply(event) if isinstance(event, Mapping) else repr(event))
            # "ka" (keep-alive): nothing to do; the timeout restarts with every message


async def _receive(ws: Any, timeout: float) -> dict[str, Any]:
    """The next JSON message; a closed socket or a silence longer than ``timeout`` ends the watch."""
    import aiohttp

    try:
        frame = await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        raise SubscriptionError(f"no message (not even a keep-alive) in {timeout:.0f} s") from None
    if frame.type != aiohttp.WSMsgType.TEXT:
        raise SubscriptionError(f"connection closed ({frame.type.name}, {frame.extra})")
    message: dict[str, Any] = json.loads(frame.data)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--http-domain", help="the stack's HttpDomain output")
    where.add_argument(
        "--url",
        help="the Event API's HTTP endpoint instead, e.g. http://127.0.0.1:20003/event (streambridge local)",
    )
    parser.add_argument("--api-key", required=True, help="the stack's ApiKey output")
    parser.add_argument("--room", help="one room (default: every room, /rooms/*)")
    parser.add_argument("--realtime-domain", help="the stack's RealtimeDomain output (default: derived)")
    args = parser.parse_args(argv)
    http_domain = args.http_domain or urlsplit(args.url).netloc
    url = realtime_url(args.url) if args.url else None
    try:
        asyncio.run(
            watch(http_domain, args.api_key, args.room, realtime_domain=args.realtime_domain, url=url)
        )
    except KeyboardInterrupt:
        return 0
    except SubscriptionError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
