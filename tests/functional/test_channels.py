"""Publishing to AppSync Events channels through the whole handler: order, failures, limits, subscribers."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.credentials import Credentials

from streambridge import (
    ApiKeyAuth,
    Bridge,
    ChannelEvent,
    ChannelEventError,
    ConfigurationError,
    DeliveryFailedError,
    HttpResponse,
    IAMAuth,
    MappingError,
    PayloadTooLargeError,
    SchemaMismatchError,
    Status,
    TokenAuth,
    WrongEndpointError,
)
from streambridge.testing import (
    DEFAULT_CREDENTIALS,
    EventRejectedError,
    FakeEventApi,
    LocalEventApi,
    events,
    lambda_context,
)
from tests.memory_store import MemoryStore

URL = "https://abc.appsync-api.us-east-1.amazonaws.com/event"


def messages(*rows: tuple[str, str]) -> dict[str, Any]:
    """A DynamoDB stream batch of chat messages, (room, text) each."""
    return events.dynamodb(
        [
            {"keys": {"roomId": room, "n": n}, "new_image": {"roomId": room, "n": n, "text": text}}
            for n, (room, text) in enumerate(rows)
        ]
    )


def room_handler(api: FakeEventApi, **settings: Any) -> Any:
    bridge = Bridge(URL, ApiKeyAuth("da2-test"), transport=api, **settings)

    @bridge.dynamodb(
        channel=lambda record: f"/rooms/{record.new_image['roomId']}",
        partition_key=lambda record: record.new_image["roomId"],
    )
    def handler(record: Any) -> Any:
        return {"n": record.new_image["n"], "text": record.new_image["text"]}

    return handler


def test_events_go_to_their_channels_in_order_at_most_five_a_request() -> None:
    # GIVEN 12 messages over two rooms, and a bridge that packs several changes of a key in a request
    api = FakeEventApi(namespaces=("rooms",))
    rows = [("r1", f"a{n}") for n in range(8)] + [("r2", f"b{n}") for n in range(4)]
    handler = room_handler(api, per_key=50)
    # WHEN handled
    result = handler.process(messages(*rows), lambda_context())
    handler.bridge.close()
    # THEN every message reached its room's channel, in order, never more than 5 events to a publish and
    # each publish to one channel
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED] * 12
    assert [v["text"] for v in api.values("/rooms/r1")] == [f"a{n}" for n in range(8)]
    assert [v["text"] for v in api.values("/rooms/r2")] == [f"b{n}" for n in range(4)]
    assert all(len(request.body) and request.body.count(b'"events"') == 1 for request in api.requests)
    assert max(len(_events(request.body)) for request in api.requests) == 5


def test_a_rejected_event_fails_its_record_and_holds_back_its_key() -> None:
    # GIVEN an onPublish rule that rejects one message of room r1
    def on_publish(_channel: str, value: Any) -> None:
        if value["text"] == "spam":
            raise EventRejectedError("no spam", 400)

    api = FakeEventApi(namespaces=("rooms",), on_publish=on_publish)
    handler = room_handler(api)
    # WHEN r1 sends hello, spam, bye and r2 sends hi
    result = handler.process(
        messages(("r1", "hello"), ("r1", "spam"), ("r1", "bye"), ("r2", "hi")), lambda_context()
    )
    handler.bridge.close()
    # THEN spam fails, bye is held back behind it (reported for re-delivery), r2 goes on
    statuses = [o.status for o in result.outcomes]
    assert statuses == [Status.PUBLISHED, Status.FAILED, Status.FAILED, Status.PUBLISHED]
    assert isinstance(result.outcomes[1].error, ChannelEventError)
    assert "no spam" in str(result.outcomes[1].error)
    assert [f["itemIdentifier"] for f in result.batch_item_failures()] == [
        result.outcomes[1].record.item_identifier,
        result.outcomes[2].record.item_identifier,
    ]
    assert [v["text"] for v in api.values()] == ["hello", "hi"]


def test_throttling_and_server_errors_are_retried() -> None:
    api = FakeEventApi(namespaces=("rooms",))
    api.fail_next(HttpResponse(429, {}, b'{"errors":[{"errorType":"TooManyRequests","message":"slow"}]}'),
                  HttpResponse(503, {}, b"<html>busy</html>"), ConnectionResetError("reset"))  # fmt: skip
    handler = room_handler(api)
    result = handler.process(messages(("r1", "hello"), ("r1", "bye")), lambda_context())
    handler.bridge.close()
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED] * 2
    assert [v["text"] for v in api.values()] == ["hello", "bye"]


def test_bad_channels_and_oversize_events_fail_only_their_record() -> None:
    api = FakeEventApi(namespaces=("rooms",))
    bridge = Bridge(URL, ApiKeyAuth("da2-test"), transport=api)

    @bridge.dynamodb()
    def handler(record: Any) -> Any:
        room = record.new_image["roomId"]
        if room == "big":
            return ChannelEvent("/rooms/big", "x" * 250_000)
        return ChannelEvent(f"/rooms/{room}", record.new_image["text"])

    result = handler.process(
        messages(("ok", "1"), ("bad_room", "2"), ("big", "3"), ("ok2", "4")), lambda_context()
    )
    bridge.close()
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED,
        Status.FAILED,
        Status.FAILED,
        Status.PUBLISHED,
    ]
    assert isinstance(result.outcomes[1].error, MappingError)
    assert "bad_room" in str(result.outcomes[1].error)
    assert isinstance(result.outcomes[2].error, PayloadTooLargeError)


def test_the_target_follows_the_url_and_the_decorator() -> None:
    graphql = Bridge(
        "https://abc.appsync-api.us-east-1.amazonaws.com/graphql", ApiKeyAuth("k"), transport=FakeEventApi()
    )
    with pytest.raises(ConfigurationError, match="Event API"):
        graphql.process("dynamodb", messages(("r1", "a")), lambda r: 1, channel="/rooms/r1")
    event_api = Bridge(URL, ApiKeyAuth("k"), transport=FakeEventApi())
    with pytest.raises(ConfigurationError, match="channel="):
        event_api.process("dynamodb", messages(("r1", "a")), lambda r: {}, document="mutation M { m }")
    with pytest.raises(ConfigurationError, match="segment"):
        event_api.dynamodb(channel="/rooms/not valid")
    with pytest.raises(ConfigurationError, match="not both"):
        event_api.dynamodb("mutation M { m }", channel="/rooms/r1")
    graphql.close()
    event_api.close()


@pytest.mark.parametrize("auth", ["api_key", "iam", "token"])
def test_subscribers_of_a_local_event_api_receive_each_room_in_order(auth: str) -> None:
    # GIVEN a local Event API with a subscriber on every room (a Lambda authorizer's token accepted too)
    with LocalEventApi(namespaces=("rooms",), tokens=["secret-token"]) as api:
        everything = api.subscribe("/rooms/*")
        credentials = {
            "api_key": ApiKeyAuth(api.api_key or ""),
            "iam": IAMAuth(region=api.region, credentials=Credentials(*DEFAULT_CREDENTIALS[0][:2])),
            "token": TokenAuth("secret-token"),
        }[auth]
        bridge = Bridge(api.url, credentials)

        @bridge.dynamodb(channel=lambda record: f"/rooms/{record.new_image['roomId']}")
        def handler(record: Any) -> Any:
            return {"room": record.new_image["roomId"], "text": record.new_image["text"]}

        rows = [("r1", "hello"), ("r2", "hi"), ("r1", "how are you"), ("r2", "bye")]
        # WHEN the batch is handled
        result = handler.process(messages(*rows), lambda_context())
        bridge.close()
        # THEN the subscriber received every message, each room's in order
        assert result.ok
        received = everything.wait_for(4)
        for room in ("r1", "r2"):
            assert [e["text"] for e in received if e["room"] == room] == [t for r, t in rows if r == room]


def _events(body: bytes) -> list[str]:
    import json

    return list(json.loads(body)["events"])


def test_a_single_event_that_maps_to_several_events_gets_an_outcome_per_event() -> None:
    # GIVEN an EventBridge event mapped to two channel events, the second rejected by the API
    def on_publish(_channel: str, value: Any) -> None:
        if value == "second":
            raise EventRejectedError("rejected", 400)

    api = FakeEventApi(namespaces=("shipments",), on_publish=on_publish)
    bridge = Bridge(URL, ApiKeyAuth("da2-test"), transport=api)

    @bridge.eventbridge(channel=lambda event: f"/shipments/{event.detail['id']}")
    def handler(_event: Any) -> Any:
        return ["first", "second"]

    event = events.eventbridge({"id": "s-1"}, source="com.example", detail_type="Shipped")
    # WHEN Lambda calls the entry point THEN it raises, saying which of the event's two events ran
    with pytest.raises(DeliveryFailedError, match="1 of 2") as raised:
        handler(event)
    bridge.close()
    result = raised.value.result
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.FAILED]
    assert api.values("/shipments/s-1") == ["first"]


class MemorySink:
    def __init__(self) -> None:
        self.letters: list[Any] = []

    def send(self, letters: Any) -> set[int]:
        self.letters.extend(letters)
        return set()


def test_the_dead_letter_sink_and_the_idempotency_store_work_for_channels() -> None:
    # GIVEN a sink for rejected events and an idempotency store
    def on_publish(_channel: str, value: Any) -> None:
        if value["text"] == "spam":
            raise EventRejectedError("no spam", 400)

    api = FakeEventApi(namespaces=("rooms",), on_publish=on_publish)
    sink, store = MemorySink(), MemoryStore()
    handler = room_handler(api, dead_letter=sink, idempotency=store)
    batch = messages(("r1", "hello"), ("r1", "spam"), ("r1", "bye"))
    # WHEN the batch is handled twice (a re-delivery)
    first = handler.process(batch, lambda_context())
    second = handler.process(batch, lambda_context())
    handler.bridge.close()
    # THEN spam went to the sink and its key went on; the re-delivery published nothing again
    assert [o.status for o in first.outcomes] == [Status.PUBLISHED, Status.DEAD_LETTERED, Status.PUBLISHED]
    assert [letter.error.code for letter in sink.letters] == ["400"]
    assert [o.status for o in second.outcomes] == [Status.SKIPPED] * 3
    assert [v["text"] for v in api.values()] == ["hello", "bye"]


def test_credentials_an_event_api_echoes_never_reach_an_error() -> None:
    api = FakeEventApi(namespaces=("rooms",))
    echoed = (
        b'{"errors":[{"errorType":"InvalidSignatureException","message":"x-amz-security-token:SECRETTOKEN"}]}'
    )
    api.fail_next(HttpResponse(403, {}, echoed))
    handler = room_handler(api)
    result = handler.process(messages(("r1", "hello")), lambda_context())
    handler.bridge.close()
    assert [o.status for o in result.outcomes] == [Status.FAILED]
    assert "SECRETTOKEN" not in str(result.outcomes[0].error)


def test_events_of_different_keys_on_one_channel_share_publishes_even_when_channels_interleave() -> None:
    # GIVEN 140 messages, each its own key, over 7 rooms in turn (r0, r1, ..., r6, r0, ...)
    api = FakeEventApi(namespaces=("rooms",))
    bridge = Bridge(URL, ApiKeyAuth("da2-test"), transport=api)

    @bridge.dynamodb(channel=lambda record: f"/rooms/{record.new_image['roomId']}")
    def handler(record: Any) -> Any:
        return {"n": record.new_image["n"]}

    result = handler.process(messages(*[(f"r{n % 7}", str(n)) for n in range(140)]), lambda_context())
    bridge.close()
    # THEN each publish carries 5 events of one room: 28 publishes, not one per message
    assert result.ok
    assert len(api.requests) == 140 // 5
    for room in range(7):
        assert [v["n"] for v in api.values(f"/rooms/r{room}")] == list(range(room, 140, 7))


def test_a_wrong_endpoint_fails_every_event_never_skips_it() -> None:
    # GIVEN a URL whose publishes answer 404 (a path that is not /event, say), and poison="skip"
    api = FakeEventApi(namespaces=("rooms",))
    api.fail_next(*[HttpResponse(404, {}, b'{"message":"Not Found"}')] * 20)
    handler = room_handler(api, poison="skip")
    # WHEN messages of three rooms are published
    result = handler.process(messages(("r1", "a"), ("r2", "b"), ("r3", "c")), lambda_context())
    handler.bridge.close()
    # THEN each is reported failed with the URL named, none skipped; no event reached a channel
    assert [o.status for o in result.outcomes] == [Status.FAILED] * 3
    assert all(isinstance(o.error, WrongEndpointError) for o in result.outcomes)
    assert URL in str(result.outcomes[0].error)
    assert api.values() == []


@pytest.mark.parametrize("rooms", [7, 65, 100, 200])
def test_events_share_publishes_however_many_channels_interleave(rooms: int) -> None:
    # GIVEN 5 messages per room, each its own key, over many rooms in turn (more than take_batch looks ahead)
    api = FakeEventApi(namespaces=("rooms",))
    bridge = Bridge(URL, ApiKeyAuth("da2-test"), transport=api)

    @bridge.dynamodb(channel=lambda record: f"/rooms/{record.new_image['roomId']}")
    def handler(record: Any) -> Any:
        return {"n": record.new_image["n"]}

    count = 5 * rooms
    result = handler.process(messages(*[(f"r{n % rooms}", str(n)) for n in range(count)]), lambda_context())
    bridge.close()
    # THEN publishes stay near one per room (5 events each), not one per message past the look-ahead
    assert result.ok
    assert len(api.requests) <= rooms + 2
    for room in range(0, rooms, 13):
        assert [v["n"] for v in api.values(f"/rooms/r{room}")] == list(range(room, count, rooms))


def test_a_namespace_the_api_does_not_have_fails_every_event_never_skips_it() -> None:
    # GIVEN an Event API with the namespace "rooms" only, and a decorator publishing to "/room/..."
    api = FakeEventApi(namespaces=("rooms",))
    bridge = Bridge(URL, ApiKeyAuth("da2-test"), transport=api, poison="skip")
    handler = bridge.dynamodb(channel=lambda record: f"/room/{record.new_image['roomId']}")(
        lambda record: {"text": record.new_image["text"]}
    )
    # WHEN messages of three rooms are published
    result = handler.process(messages(("r1", "a"), ("r2", "b"), ("r3", "c")), lambda_context())
    bridge.close()
    # THEN each is reported failed for the setting, none skipped
    assert [o.status for o in result.outcomes] == [Status.FAILED] * 3
    assert all(isinstance(o.error, SchemaMismatchError) for o in result.outcomes)
    assert "namespace" in str(result.outcomes[0].error)


def test_a_channel_per_key_with_per_key_5_sends_each_key_in_full_publishes() -> None:
    # GIVEN 200 messages over 20 rooms, interleaved, each room its own channel and key, 5 of a key a publish
    api = FakeEventApi(namespaces=("rooms",))
    handler = room_handler(api, per_key=5)
    rooms, count = 20, 200
    # WHEN the handler publishes them while it is still mapping the later ones
    result = handler.process(messages(*[(f"r{n % rooms}", str(n)) for n in range(count)]), lambda_context())
    handler.bridge.close()
    # THEN a room's first publish waits for its later messages: 10 per room is 2 publishes, not 3 or 4
    assert result.ok
    assert len(api.requests) <= 44, len(api.requests)
    for room in range(rooms):
        assert [v["n"] for v in api.values(f"/rooms/r{room}")] == list(range(room, count, rooms))
