"""LocalEventApi against raw clients: aiohttp for HTTP and the WebSocket, streambridge's IAMAuth for SigV4.

Every check is one rule of the AppSync Events API (docs/testing.md, "LocalEventApi", lists the sources and
what is not documented). Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from botocore.credentials import Credentials

from streambridge import IAMAuth
from streambridge.testing import DEFAULT_CREDENTIALS, EventRejectedError, LocalEventApi

KEY_ID, SECRET, _ = DEFAULT_CREDENTIALS[0]
pytestmark = pytest.mark.asyncio

TOKEN = "Bearer user-token"


@pytest.fixture
def api() -> Iterator[LocalEventApi]:
    with LocalEventApi(namespaces=("default", "rooms"), tokens={TOKEN}, keep_alive=0.05) as local:
        yield local


def key(api: LocalEventApi) -> dict[str, str]:
    return {"x-api-key": str(api.api_key)}


def body(channel: str, *values: Any) -> dict[str, Any]:
    return {"channel": channel, "events": [json.dumps(v) for v in values]}


async def post(api: LocalEventApi, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            api.url,
            data=io.BytesIO(data),
            headers={"content-type": "application/json", **(headers or key(api))},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


def subprotocols(api: LocalEventApi, auth: dict[str, str] | None = None) -> list[str]:
    header = {"host": api.host, **(auth or key(api))}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
    return ["aws-appsync-event-ws", f"header-{encoded}"]


class Client:
    """A raw Event API WebSocket client: sends messages, reads them (skipping ``ka``) with a timeout."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.keep_alives = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, timeout: float = 2.0) -> dict[str, Any]:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> dict[str, Any]:
        while True:
            message = json.loads(await self.ws.receive_str())
            if message["type"] != "ka":
                return dict(message)
            self.keep_alives += 1


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def connect(
    session: aiohttp.ClientSession, api: LocalEventApi, auth: dict[str, str] | None = None
) -> Client:
    ws = await session.ws_connect(api.realtime_url, protocols=subprotocols(api, auth))
    client = Client(ws)
    await client.send({"type": "connection_init"})
    return client


async def connected(session: aiohttp.ClientSession, api: LocalEventApi) -> Client:
    client = await connect(session, api)
    ack = await client.receive()
    assert ack == {"type": "connection_ack", "connectionTimeoutMs": 300_000}
    return client


async def subscribe(client: Client, api: LocalEventApi, channel: str, sub_id: str) -> dict[str, Any]:
    await client.send({"type": "subscribe", "id": sub_id, "channel": channel, "authorization": key(api)})
    return await client.receive()


# -- HTTP publish ------------------------------------------------------------------------------------------


async def test_http_publish_with_an_api_key_answers_each_event_by_identifier_and_index(
    api: LocalEventApi,
) -> None:
    # GIVEN two events for a channel written as the docs' example writes it (no leading slash)
    # WHEN they are published with the API key
    status, answer = await post(api, body("default/channel", {"a": 1}, [2]))
    # THEN both are successful, by index, each with its own identifier, and recorded in order
    assert status == 200
    assert answer["failed"] == []
    assert [entry["index"] for entry in answer["successful"]] == [0, 1]
    assert len({entry["identifier"] for entry in answer["successful"]}) == 2
    assert [(e.channel, e.value) for e in api.published] == [
        ("/default/channel", {"a": 1}),
        ("/default/channel", [2]),
    ]
    assert api.values("default/channel") == [{"a": 1}, [2]]


async def test_http_publish_with_sigv4_is_verified_by_recomputing_the_signature(api: LocalEventApi) -> None:
    # GIVEN a body signed by streambridge's IAMAuth with the known test credentials, service appsync
    auth = IAMAuth(region="us-east-1", credentials=Credentials(KEY_ID, SECRET))
    data = json.dumps(body("/rooms/r-1", "hi")).encode()
    # WHEN it is sent as signed, THEN it is accepted
    status, _ = await post(api, data, dict(auth.headers(api.url, data)))
    assert status == 200
    # WHEN the body changes after signing, or the secret is wrong, THEN AWS's signature errors answer
    status, answer = await post(api, data.replace(b"hi", b"ho"), dict(auth.headers(api.url, data)))
    assert (status, answer["errors"][0]["errorType"]) == (403, "InvalidSignatureException")
    wrong = IAMAuth(region="us-east-1", credentials=Credentials(KEY_ID, "not-the-secret"))
    status, answer = await post(api, data, dict(wrong.headers(api.url, data)))
    assert (status, answer["errors"][0]["errorType"]) == (403, "InvalidSignatureException")
    assert api.values() == ["hi"]


async def test_http_publish_with_a_token_goes_through_the_verifier(api: LocalEventApi) -> None:
    assert (await post(api, body("/rooms/r-1", 1), {"authorization": TOKEN}))[0] == 200
    status, answer = await post(api, body("/rooms/r-1", 2), {"authorization": "Bearer stolen"})
    assert (status, answer["errors"][0]["errorType"]) == (401, "UnauthorizedException")


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"x-api-key": "da2-wrong"}, 401)],
    ids=["missing", "wrong-key"],
)
async def test_http_publish_without_valid_auth_is_refused(
    api: LocalEventApi, headers: dict[str, str], status: int
) -> None:
    answer = await post(api, body("/default/a", 1), headers or {"content-type": "application/json"})
    assert answer[0] == status
    assert answer[1]["errors"][0]["errorType"] == "UnauthorizedException"
    assert api.published == []


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (body("/nowhere/a", 1), "namespace 'nowhere' does not exist"),
        (body("/default/1/2/3/4/5", 1), "6 segments"),
        (body("/default/" + "x" * 51, 1), "longer than 50"),
        (body("/default/a b", 1), "invalid segment"),
        (body("/default/*", 1), "invalid segment"),  # wildcards are for subscriptions only
        (body("/default/a", *range(6)), "at most 5 events"),
        ({"channel": "/default/a", "events": []}, "non-empty list"),
        ({"channel": "/default/a", "events": [{"a": 1}]}, "stringified JSON"),
        ({"channel": "/default/a", "events": ["{not json"]}, "not a valid JSON value"),
        (b"not json", "not JSON"),
    ],
    ids=[
        "namespace",
        "depth",
        "segment-length",
        "characters",
        "wildcard",
        "six-events",
        "no-events",
        "not-a-string",
        "invalid-json",
        "body-not-json",
    ],
)
async def test_http_publish_refuses_a_bad_publish_as_a_whole(
    api: LocalEventApi, payload: Any, fragment: str
) -> None:
    status, answer = await post(api, payload)
    assert status == 400
    assert answer["errors"][0]["errorType"] == "BadRequestException"
    assert fragment in answer["errors"][0]["message"]
    assert api.published == []


async def test_an_oversize_event_fails_alone_and_the_others_are_published(api: LocalEventApi) -> None:
    # GIVEN a batch whose middle event is over 240 KB
    status, answer = await post(api, body("/default/a", 1, "x" * 240_000, 3))
    # THEN only that one is listed failed, with an error code and message
    assert status == 200
    assert [entry["index"] for entry in answer["successful"]] == [0, 2]
    [failed] = answer["failed"]
    assert (failed["index"], failed["errorCode"]) == (1, 400)
    assert "240 KB" in failed["errorMessage"]
    assert api.values() == [1, 3]


async def test_the_request_size_limit_answers_413(api: LocalEventApi) -> None:
    status, answer = await post(api, body("/default/a", *["x" * 239_000] * 5) | {"pad": "y" * 100_000})
    assert (status, answer["errors"][0]["errorType"]) == (413, "PayloadTooLargeException")


async def test_oversize_dropped_is_acknowledged_but_delivered_to_no_one() -> None:
    with LocalEventApi(oversize="dropped") as api:
        room = api.subscribe("/default/*")
        status, answer = await post(api, body("/default/a", "x" * 240_000, 2))
        assert status == 200
        assert [entry["index"] for entry in answer["successful"]] == [0, 1]
        assert room.wait_for(1) == [2]
        assert api.values() == [2]


async def test_on_publish_fails_single_events_like_a_handler() -> None:
    def on_publish(channel: str, value: Any) -> None:
        if value == "bad":
            raise EventRejectedError("rejected by the handler", code=422)

    with LocalEventApi(on_publish=on_publish) as api:
        _, answer = await post(api, body("/default/a", "ok", "bad"))
    assert [e["index"] for e in answer["successful"]] == [0]
    assert [(e["index"], e["errorCode"], e["errorMessage"]) for e in answer["failed"]] == [
        (1, 422, "rejected by the handler")
    ]


# -- real time ---------------------------------------------------------------------------------------------


async def test_subscribers_get_data_in_publish_order_on_exact_and_wildcard_channels(
    api: LocalEventApi, session: aiohttp.ClientSession
) -> None:
    # GIVEN subscriptions to a channel, to its namespace's wildcard, to a deeper wildcard, and elsewhere
    client = await connected(session, api)
    for sub_id, channel in [
        ("exact", "/rooms/r-1"),
        ("all", "/rooms/*"),
        ("deep", "/rooms/r-1/*"),
        ("other", "/default/*"),
    ]:
        assert await subscribe(client, api, channel, sub_id) == {"type": "subscribe_success", "id": sub_id}
    # WHEN events are published over HTTP to /rooms/r-1 then /rooms/r-1/typing
    await post(api, body("/rooms/r-1", {"n": 1}, {"n": 2}))
    await post(api, body("/rooms/r-1/typing", {"n": 3}))
    # THEN each subscription gets the event text, in publish order; /ns/a/* does not match /ns/a itself
    received = [await client.receive() for _ in range(6)]
    assert all(message["type"] == "data" for message in received)
    by_id: dict[str, list[Any]] = {}
    for message in received:
        assert isinstance(message["event"], str)
        by_id.setdefault(message["id"], []).append(json.loads(message["event"]))
    assert by_id == {"exact": [{"n": 1}, {"n": 2}], "all": [{"n": 1}, {"n": 2}, {"n": 3}], "deep": [{"n": 3}]}


async def test_unsubscribe_stops_the_data(api: LocalEventApi, session: aiohttp.ClientSession) -> None:
    client = await connected(session, api)
    await subscribe(client, api, "/default/*", "s1")
    await client.send({"type": "unsubscribe", "id": "s1"})
    assert await client.receive() == {"type": "unsubscribe_success", "id": "s1"}
    await client.send({"type": "unsubscribe", "id": "s1"})
    answer = await client.receive()
    assert (answer["type"], answer["errors"][0]["errorType"]) == (
        "unsubscribe_error",
        "UnknownOperationError",
    )
    await post(api, body("/default/a", 1))
    with pytest.raises(asyncio.TimeoutError):
        await client.receive(timeout=0.2)


async def test_active_subscriptions_counts_websocket_subscriptions_until_they_end(
    api: LocalEventApi, session: aiohttp.ClientSession
) -> None:
    # GIVEN a connection with two subscriptions (an in-process subscriber does not count)
    api.subscribe("/rooms/*")
    client = await connected(session, api)
    await subscribe(client, api, "/default/*", "s1")
    await subscribe(client, api, "/rooms/*", "s2")
    await asyncio.to_thread(api.wait_for_subscriptions, 2)
    assert api.active_subscriptions == 2
    with pytest.raises(TimeoutError, match="2 subscription"):
        api.wait_for_subscriptions(3, timeout=0.05)
    # WHEN one is unsubscribed, THEN one is left; WHEN the connection closes, THEN none
    await client.send({"type": "unsubscribe", "id": "s1"})
    assert await client.receive() == {"type": "unsubscribe_success", "id": "s1"}
    assert api.active_subscriptions == 1
    await client.ws.close()
    for _ in range(100):
        if api.active_subscriptions == 0:
            break
        await asyncio.sleep(0.02)
    assert api.active_subscriptions == 0


async def test_publish_over_the_websocket(api: LocalEventApi, session: aiohttp.ClientSession) -> None:
    # GIVEN a connection subscribed to /rooms/* and a local subscriber
    client = await connected(session, api)
    local = api.subscribe("/rooms/r-2")
    await subscribe(client, api, "/rooms/*", "s1")
    # WHEN it publishes two events over the WebSocket
    await client.send(
        {
            "type": "publish",
            "id": "p1",
            "channel": "/rooms/r-2",
            "events": ["1", '"two"'],
            "authorization": key(api),
        }
    )
    # THEN it gets publish_success with the per-event answer, then the data, in order
    success = await client.receive()
    assert (success["type"], success["id"], success["failed"]) == ("publish_success", "p1", [])
    assert [e["index"] for e in success["successful"]] == [0, 1]
    assert [(await client.receive())["event"] for _ in range(2)] == ["1", '"two"']
    assert local.wait_for(2) == [1, "two"]
    # WHEN a publish breaks a rule or is not authorized, THEN publish_error, nothing published
    await client.send(
        {
            "type": "publish",
            "id": "p2",
            "channel": "/rooms/r-2",
            "events": ["1"] * 6,
            "authorization": key(api),
        }
    )
    error = await client.receive()
    assert (error["type"], error["id"], error["errors"][0]["errorType"]) == (
        "publish_error",
        "p2",
        "BadRequestException",
    )
    await client.send(
        {
            "type": "publish",
            "id": "p3",
            "channel": "/rooms/r-2",
            "events": ["1"],
            "authorization": {"x-api-key": "da2-wrong"},
        }
    )
    error = await client.receive()
    assert (error["type"], error["errors"][0]["errorType"]) == ("publish_error", "UnauthorizedException")
    assert len(api.published) == 2


async def test_sigv4_signed_subscribe_and_publish_messages(
    api: LocalEventApi, session: aiohttp.ClientSession
) -> None:
    # GIVEN headers signed over the compact JSON of each message, as amplify-js signs them
    auth = IAMAuth(region="us-east-1", credentials=Credentials(KEY_ID, SECRET))

    def signed(payload: dict[str, Any]) -> dict[str, str]:
        return dict(auth.headers(api.url, json.dumps(payload, separators=(",", ":")).encode()))

    ws = await session.ws_connect(
        api.realtime_url,
        protocols=subprotocols(api, dict(auth.headers(api.url, b"{}"))),
    )
    client = Client(ws)
    await client.send({"type": "connection_init"})
    assert (await client.receive())["type"] == "connection_ack"
    channel = "/default/signed"
    await client.send(
        {"type": "subscribe", "id": "s", "channel": channel, "authorization": signed({"channel": channel})}
    )
    assert (await client.receive())["type"] == "subscribe_success"
    events = ['{"a":1}']
    await client.send(
        {
            "type": "publish",
            "id": "p",
            "channel": channel,
            "events": events,
            "authorization": signed({"channel": channel, "events": events}),
        }
    )
    assert (await client.receive())["type"] == "publish_success"
    assert (await client.receive())["event"] == '{"a":1}'
    # WHEN the signature covers another channel, THEN subscribe_error
    await client.send(
        {
            "type": "subscribe",
            "id": "x",
            "channel": "/default/other",
            "authorization": signed({"channel": channel}),
        }
    )
    refused = await client.receive()
    assert (refused["type"], refused["errors"][0]["errorType"]) == (
        "subscribe_error",
        "InvalidSignatureException",
    )


async def test_subscribe_errors(api: LocalEventApi, session: aiohttp.ClientSession) -> None:
    client = await connected(session, api)
    for sub_id, channel, auth in [
        ("ns", "/nowhere/*", key(api)),
        ("mid", "/default/*/a", key(api)),
        ("auth", "/default/a", {"x-api-key": "da2-wrong"}),
    ]:
        await client.send({"type": "subscribe", "id": sub_id, "channel": channel, "authorization": auth})
        answer = await client.receive()
        assert (answer["type"], answer["id"]) == ("subscribe_error", sub_id)
        assert answer["errors"][0]["errorType"] in ("BadRequestException", "UnauthorizedException")
    await client.send({"type": "nonsense"})
    assert (await client.receive())["type"] == "error"


async def test_keep_alive_follows_the_ack(api: LocalEventApi, session: aiohttp.ClientSession) -> None:
    client = await connected(session, api)
    with pytest.raises(asyncio.TimeoutError):
        await client.receive(timeout=0.3)  # nothing but ka messages arrive
    assert client.keep_alives >= 2


async def test_a_refused_connection_gets_connection_error_and_is_closed(
    api: LocalEventApi, session: aiohttp.ClientSession
) -> None:
    client = await connect(session, api, {"x-api-key": "da2-wrong"})
    answer = await client.receive()
    assert answer == {
        "type": "connection_error",
        "errors": [
            {"errorType": "UnauthorizedException", "message": "UnauthorizedException: Invalid API key"}
        ],
    }
    closed = await client.ws.receive(timeout=2)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_the_subprotocol_is_required(api: LocalEventApi, session: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(api.realtime_url, protocols=["graphql-ws"])


async def test_local_subscriber_and_records_without_a_socket(local_event_api: LocalEventApi) -> None:
    # GIVEN the plugin's fixture (namespace "default") and an in-process subscriber
    room = local_event_api.subscribe("default/*")
    with pytest.raises(ValueError, match="does not exist"):
        local_event_api.subscribe("/rooms/*")
    # WHEN an event is published
    await post(local_event_api, body("/default/x", {"ok": True}))
    # THEN the subscriber and the records have it; closing the subscriber stops delivery
    assert room.wait_for(1) == [{"ok": True}]
    room.close()
    await post(local_event_api, body("/default/x", 2))
    assert local_event_api.wait_for_published(2)[-1].value == 2
    assert room.events == [{"ok": True}]
