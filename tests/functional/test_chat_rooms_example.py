"""examples/chat_rooms: its handler on AWS-shaped DynamoDB Streams events and a fake Event API, and its
Python subscriber against a local Event API's real-time WebSocket.

What the handler publishes to which room, skips and fails; the per-room order it keeps; what
subscriber.py does with the Event API WebSocket protocol and with re-delivered events.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from streambridge import ApiKeyAuth, Bridge, IAMAuth, RetryPolicy, Status
from streambridge.testing import EventRejectedError, FakeEventApi, events
from streambridge.testing.events import Change

from .test_examples import import_handler as import_example_handler

URL = "https://example123.appsync-api.us-east-1.amazonaws.com/event"
KEYS = ("roomId", "messageId")


def import_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import examples.chat_rooms.handler anew, like a cold start, with the Event API's URL."""
    return import_example_handler("chat_rooms", monkeypatch, URL)


@dataclass
class Harness:
    """The example's handler module, publishing to a fake Event API."""

    module: ModuleType
    api: FakeEventApi

    @property
    def handler(self) -> Any:
        return self.module.handler


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    """``chat(on_publish=None)``: the handler with its Bridge swapped for one on a FakeEventApi."""
    made: list[Bridge] = []

    def load(on_publish: Callable[[str, Any], None] | None = None) -> Harness:
        module = import_handler(monkeypatch)
        api = FakeEventApi(["rooms"], on_publish=on_publish)
        bridge = Bridge(
            URL,
            ApiKeyAuth("da2-test"),
            transport=api,
            retry=RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.002),
        )
        made.append(bridge)
        monkeypatch.setattr(module.handler, "bridge", bridge)
        return Harness(module, api)

    yield load
    for bridge in made:
        bridge.close()


def message(room: str, message_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """A messages table item as a writer puts it."""
    return {
        "roomId": room,
        "messageId": message_id,
        "author": "ada",
        "text": text,
        "sentAt": "2026-11-29T10:00:00Z",
        "expiresAt": 1_767_000_000,  # the table's TTL attribute: never shown to clients
        **fields,
    }


def stream(changes: list[Change]) -> dict[str, Any]:
    return events.dynamodb(changes, table="Messages", key_names=KEYS)


def sequence_numbers(event: dict[str, Any]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]


# --------------------------------------------------------------------------------------------------
# The handler


def test_the_example_builds_its_bridge_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the Event API's HTTP endpoint in STREAMBRIDGE_APPSYNC_URL, as the template sets it
    # WHEN the Lambda runtime imports the handler module (a cold start)
    module = import_handler(monkeypatch)

    # THEN its one Bridge publishes there with the Lambda role's credentials, the handler uses it, and
    # the decorator was given the room's channel and the room as the ordering key
    assert module.bridge.url == URL
    assert isinstance(module.bridge.auth, IAMAuth)
    assert module.handler.bridge is module.bridge
    assert module.handler.channel is not None
    assert module.handler.partition_key is not None
    assert module.channel_of("lobby") == "/rooms/lobby"


def test_each_change_becomes_the_event_of_its_room(chat: Callable[..., Harness]) -> None:
    # GIVEN a stream batch: a message in lobby, its edit, a reaction on it (text unchanged), a message in
    # ops, the lobby message deleted by a moderator, and an old ops message expired by Time to Live
    harness = chat()
    hello = message("lobby", "m1", "hello")
    edited = {**hello, "text": "hello, world", "editedAt": "2026-11-29T10:01:00Z"}
    reacted = {**edited, "reactions": 3}
    old = message("ops", "m0", "yesterday")
    event = stream(
        [
            Change.insert(hello),
            Change.modify(hello, edited),
            Change.modify(edited, reacted),
            Change.insert(message("ops", "m2", "deploying")),
            Change.remove(reacted),
            Change.remove(old, ttl=True),
        ]
    )
    seq = sequence_numbers(event)

    # WHEN the handler runs
    result = harness.handler.process(event, events.lambda_context())

    # THEN the reaction and the TTL deletion are skipped, the rest published to each message's room
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED,
        Status.PUBLISHED,
        Status.SKIPPED,
        Status.PUBLISHED,
        Status.PUBLISHED,
        Status.SKIPPED,
    ]
    assert harness.api.values("/rooms/lobby") == [
        {
            "type": "message",
            "roomId": "lobby",
            "messageId": "m1",
            "author": "ada",
            "text": "hello",
            "sentAt": "2026-11-29T10:00:00Z",
            "editedAt": None,
            "seq": seq[0],
        },
        {
            "type": "edited",
            "roomId": "lobby",
            "messageId": "m1",
            "author": "ada",
            "text": "hello, world",
            "sentAt": "2026-11-29T10:00:00Z",
            "editedAt": "2026-11-29T10:01:00Z",
            "seq": seq[1],
        },
        {"type": "deleted", "roomId": "lobby", "messageId": "m1", "seq": seq[4]},
    ]
    assert [(v["type"], v["text"]) for v in harness.api.values("/rooms/ops")] == [("message", "deploying")]

    # AND no table-only attribute reaches subscribers
    assert all("expiresAt" not in v and "reactions" not in v for v in harness.api.values())


def test_a_rejected_message_holds_back_the_later_messages_of_its_room_only(
    chat: Callable[..., Harness],
) -> None:
    # GIVEN lobby m1, lobby m2 (the Event API rejects it), lobby m3, ops m4
    def reject_m2(_channel: str, value: Any) -> None:
        if value.get("messageId") == "m2":
            raise EventRejectedError("message refused", "400")

    harness = chat(on_publish=reject_m2)
    event = stream(
        [
            Change.insert(message("lobby", "m1", "one")),
            Change.insert(message("lobby", "m2", "two")),
            Change.insert(message("lobby", "m3", "three")),
            Change.insert(message("ops", "m4", "four")),
        ]
    )
    seq = sequence_numbers(event)

    # WHEN Lambda calls the entry point
    response = harness.handler(event, events.lambda_context())

    # THEN Lambda re-delivers from m2 with m3 (another message of its room, held back), and ops went out
    assert response == {"batchItemFailures": [{"itemIdentifier": seq[1]}, {"itemIdentifier": seq[2]}]}
    assert [v["messageId"] for v in harness.api.values("/rooms/lobby")] == ["m1"]
    assert [v["messageId"] for v in harness.api.values("/rooms/ops")] == ["m4"]


# --------------------------------------------------------------------------------------------------
# The Python subscriber


def test_the_subscriber_carries_its_authorization_in_the_subprotocol() -> None:
    from examples.chat_rooms import subscriber

    # GIVEN the API-key authorization header of a subscriber
    header = subscriber.authorization("abc.appsync-api.eu-west-1.amazonaws.com", "da2-key")

    # WHEN it becomes the WebSocket subprotocol
    protocol = subscriber.auth_subprotocol(header)

    # THEN it is "header-" and the JSON header in base64url, without padding (the real-time domain is
    # the API's own, next to its HTTP domain)
    assert protocol.startswith("header-")
    assert "=" not in protocol
    assert "+" not in protocol
    assert "/" not in protocol
    encoded = protocol.removeprefix("header-")
    decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert json.loads(decoded) == {"host": "abc.appsync-api.eu-west-1.amazonaws.com", "x-api-key": "da2-key"}
    assert (
        subscriber.realtime_domain_of("abc.appsync-api.eu-west-1.amazonaws.com")
        == "abc.appsync-realtime-api.eu-west-1.amazonaws.com"
    )
    assert subscriber.channel_for(None) == "/rooms/*"
    assert subscriber.channel_for("lobby") == "/rooms/lobby"


def test_the_feed_drops_re_delivered_events_and_lists_a_room_by_message_id() -> None:
    from examples.chat_rooms.subscriber import RoomFeed

    # GIVEN a feed
    feed = RoomFeed()
    lobby = {"type": "message", "roomId": "lobby"}
    m2 = {**lobby, "messageId": "m2", "author": "bo", "text": "two", "seq": "12"}
    m1 = {**lobby, "messageId": "m1", "author": "ada", "text": "one", "seq": "11"}
    m1_edit = {**m1, "type": "edited", "text": "one!", "seq": "13"}

    # WHEN events arrive out of order across messages, one twice (a re-delivery), one stale
    lines = [feed.apply(e) for e in (m2, m1, m1_edit, m1_edit, m1)]

    # THEN the duplicate and the stale one are dropped, and the room lists by messageId
    assert lines[3].startswith("  (dropped duplicate")
    assert lines[4].startswith("  (dropped stale")
    assert [(m["messageId"], m["text"]) for m in feed.room("lobby")] == [("m1", "one!"), ("m2", "two")]

    # AND a deletion takes its message off the room; numbers compare as numbers, not text
    feed.apply({"type": "deleted", "roomId": "lobby", "messageId": "m2", "seq": "100"})
    assert [m["messageId"] for m in feed.room("lobby")] == ["m1"]
    assert feed.apply({**m1_edit, "seq": "99"}).startswith("#lobby m1")  # 99 > 13


def test_the_subscriber_receives_what_the_handler_publishes_through_a_local_event_api(
    local_event_api_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples.chat_rooms import subscriber

    # GIVEN a local Event API with the rooms namespace, the handler publishing to it, and the subscriber
    # watching every room over the real-time WebSocket
    local = local_event_api_factory(namespaces=("rooms",))
    module = import_handler(monkeypatch)
    bridge = Bridge(local.url, ApiKeyAuth(local.api_key))
    monkeypatch.setattr(module.handler, "bridge", bridge)
    hello = message("lobby", "m1", "hello")
    first = stream([Change.insert(hello), Change.insert(message("ops", "m2", "deploying"))])
    again = stream([Change.insert(hello)])  # Lambda re-delivers the first record (same sequence number)
    lines: list[str] = []

    async def scenario() -> None:
        watching = asyncio.create_task(
            subscriber.watch(local.host, local.api_key, url=local.realtime_url, out=lines.append)
        )
        try:
            await _until(lambda: "subscribed to /rooms/*" in lines)
            # WHEN the handler publishes a batch, then Lambda re-delivers its first record
            assert await module.handler.process_async(first) is not None
            assert await module.handler.process_async(again) is not None
            await _until(lambda: len(lines) >= 4)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        bridge.close()

    # THEN the subscriber showed both messages once, and dropped the re-delivered one
    assert lines[0] == "subscribed to /rooms/*"
    assert sorted(lines[1:3]) == ["#lobby m1 ada: hello", "#ops m2 ada: deploying"]
    assert lines[3].startswith("  (dropped duplicate: #lobby m1")


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
