"""AWS's own client: Amplify JS v6 (Node) subscribes through the local servers over wss (issue 19, item 3).

Each test starts a local server with ``tls=True`` in process, runs ``amplify/client.mjs`` with the server's
authority in ``NODE_EXTRA_CA_CERTS`` (the documented trust step, the only one a user takes) and reads its
JSON lines, while a decorated streambridge handler publishes. Amplify is configured with the endpoint as the
server prints it: it finds the real-time URL, the handshake and the auth itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from examples.chat_rooms.handler import handler as chat_handler
from examples.orders.handler import handler as orders_handler

from streambridge.testing import DEFAULT_CREDENTIALS, EventRejectedError, events, lambda_context
from streambridge.testing._local import LocalAppSync
from streambridge.testing._local_events import LocalEventApi
from tests.integration.node_script import NodeScript, node_package_installed
from tests.integration.simulator import REPO_ROOT

CLIENT = Path(__file__).resolve().parent / "amplify" / "client.mjs"
ORDERS_SCHEMA = REPO_ROOT / "examples" / "orders" / "schema.graphql"
KEY_ID, SECRET, _ = DEFAULT_CREDENTIALS[0]


@pytest.fixture
def amplify(tmp_path: Path) -> Iterator[Any]:
    """``amplify(server, job)`` -> a running Amplify client trusting ``server``'s authority."""
    node_package_installed("aws-amplify")
    started: list[NodeScript] = []

    def start(server: LocalAppSync | LocalEventApi, job: dict[str, Any]) -> NodeScript:
        ca_file = server.write_ca_pem(tmp_path / "ca.pem")
        auth = job.get("auth", "apiKey")
        job = {"endpoint": server.url, "region": server.region, "auth": auth, **job}
        if auth == "apiKey":
            job["apiKey"] = server.api_key
        else:
            job["credentials"] = {"accessKeyId": KEY_ID, "secretAccessKey": SECRET}
        env = {"NODE_EXTRA_CA_CERTS": str(ca_file)}
        client = NodeScript(CLIENT, job, env, tmp_path / f"node-{len(started)}.stderr")
        started.append(client)
        return client

    yield start
    for client in started:
        client.close()


# --- GraphQL: LocalAppSync ---------------------------------------------------------------------------------

# two orders, interleaved: each order's changes must arrive in its own order
CHANGES = [("o-1", "placed"), ("o-2", "placed"), ("o-1", "paid"), ("o-2", "paid"), ("o-1", "shipped")]


def _orders_batch() -> dict[str, Any]:
    return events.dynamodb(
        [{"new_image": {"id": i, "status": s, "customer": "c-9", "amount": 12.5}} for i, s in CHANGES]
    )


@pytest.fixture
def tls_orders(local_appsync_factory: Any) -> LocalAppSync:
    appsync: LocalAppSync = local_appsync_factory(ORDERS_SCHEMA, tls=True)
    return appsync


@pytest.mark.parametrize("auth", ["apiKey", "iam"])
def test_amplify_receives_every_order_change_in_order_with_only_the_fields_it_selected(
    tls_orders: LocalAppSync, amplify: Any, local_handler: Any, auth: str
) -> None:
    # GIVEN Amplify subscribed to every order change, selecting two fields, by API key or IAM
    subscription = "subscription { onOrderChanged { id status } }"
    client = amplify(tls_orders, {"api": "graphql", "auth": auth, "query": subscription, "count": 5})
    client.wait_until_subscribed(tls_orders)
    # WHEN the orders example's handler publishes a batch of changes of two orders
    result = local_handler(orders_handler, tls_orders)(_orders_batch(), lambda_context())
    assert result == {"batchItemFailures": []}
    # THEN Amplify receives every change, each order's in order, with only the selected fields
    received = [m["onOrderChanged"] for m in client.messages(len(CHANGES))]
    assert all(set(m) == {"id", "status"} for m in received)
    for order_id in ("o-1", "o-2"):
        assert [m["status"] for m in received if m["id"] == order_id] == [
            s for i, s in CHANGES if i == order_id
        ]
    assert sorted((m["id"], m["status"]) for m in received) == sorted(CHANGES)


def test_amplify_receives_only_the_order_its_subscription_argument_selects(
    tls_orders: LocalAppSync, amplify: Any, local_handler: Any
) -> None:
    # GIVEN Amplify subscribed to order o-2 only, through a variable
    subscription = "subscription($id: ID) { onOrderChanged(id: $id) { id status amount } }"
    job = {"api": "graphql", "query": subscription, "variables": {"id": "o-2"}, "count": 3}
    client = amplify(tls_orders, job)
    client.wait_until_subscribed(tls_orders)
    # WHEN the handler publishes changes of o-1 and o-2, then, once that batch is done, one more of o-2
    handler = local_handler(orders_handler, tls_orders)
    handler(_orders_batch(), lambda_context())
    last = {"new_image": {"id": "o-2", "status": "delivered", "amount": 12.5}}
    handler(events.dynamodb([last], start_sequence=200), lambda_context())
    # THEN Amplify receives o-2's changes only, in order: none of o-1's came before the last one
    assert [m["onOrderChanged"] for m in client.messages(3)] == [
        {"id": "o-2", "status": status, "amount": 12.5} for status in ("placed", "paid", "delivered")
    ]


# --- Channels: LocalEventApi -------------------------------------------------------------------------------

# chat messages in two rooms, interleaved: each room's must arrive in its own order
MESSAGES = [("r-1", "m-1", "hi"), ("r-2", "m-1", "hello"), ("r-1", "m-2", "how are you"), ("r-1", "m-3", "?")]


@pytest.fixture
def tls_rooms(local_event_api_factory: Any) -> LocalEventApi:
    api: LocalEventApi = local_event_api_factory(namespaces=("rooms",), tls=True, on_publish=_moderate)
    return api


def _moderate(channel: str, value: Any) -> None:
    """An onPublish handler's refusal, for events.post's answer."""
    if value == {"text": "spam"}:
        raise EventRejectedError("spam is not allowed", 400)


@pytest.mark.parametrize("auth", ["apiKey", "iam"])
def test_amplify_events_receives_every_chat_message_in_order_per_room(
    tls_rooms: LocalEventApi, amplify: Any, local_handler: Any, auth: str
) -> None:
    # GIVEN Amplify connected to /rooms/* by API key or IAM
    client = amplify(tls_rooms, {"api": "events", "auth": auth, "channel": "/rooms/*", "count": 4})
    assert client.next() == {"event": "subscribed"}
    client.wait_until_subscribed(tls_rooms)
    # WHEN the chat rooms example's handler publishes a batch of messages of two rooms, with the same mode
    changes = [
        {"new_image": {"roomId": room, "messageId": mid, "author": "ann", "text": text}}
        for room, mid, text in MESSAGES
    ]
    batch = events.dynamodb(changes, key_names=("roomId", "messageId"), table="Messages")
    bound = local_handler(chat_handler, tls_rooms, auth="api_key" if auth == "apiKey" else "iam")
    assert bound(batch, lambda_context()) == {"batchItemFailures": []}
    # THEN Amplify receives every message, each room's in order, as the handler shaped it
    received = [m["event"] for m in client.messages(len(MESSAGES))]  # Amplify's {id, type, event}
    for room in ("r-1", "r-2"):
        assert [m["text"] for m in received if m["roomId"] == room] == [
            t for r, _, t in MESSAGES if r == room
        ]
    assert all(m["type"] == "message" and m["author"] == "ann" for m in received)


@pytest.mark.parametrize("auth", ["apiKey", "iam"])
def test_amplify_events_post_answers_the_failed_events_and_delivers_the_others(
    tls_rooms: LocalEventApi, amplify: Any, auth: str
) -> None:
    # GIVEN Amplify connected to /rooms/*, WHEN it posts two events, one refused by onPublish
    post = {"channel": "/rooms/r-9", "events": [{"text": "spam"}, {"text": "hi"}]}
    job = {"api": "events", "auth": auth, "channel": "/rooms/*", "post": post, "count": 1}
    client = amplify(tls_rooms, job)
    assert client.next() == {"event": "subscribed"}
    client.wait_until_subscribed(tls_rooms)
    client.say("post")
    # THEN events.post returns the failed one as Amplify parses the answer
    posted = client.next()
    assert posted["event"] == "posted", posted
    [failed] = posted["answer"]
    assert (failed["index"], failed["errorCode"], failed["errorMessage"]) == (0, 400, "spam is not allowed")
    # AND the other one reaches the subscriber
    [message] = client.messages(1)
    assert (message["type"], message["event"]) == ("data", {"text": "hi"})
