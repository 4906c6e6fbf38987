"""HTTP requests (API Gateway, function URLs) against the AWS Amplify AppSync simulator: real subscribers.

A request's items reach a real-time subscriber in the order of the body; an item the resolver refuses
stops the items after it and the client is told which (422); a repeated request under an
Idempotency-Key reaches subscribers once. Both request shapes: aliased batches and one mutation each.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from botocore.credentials import Credentials

from streambridge import Bridge, HttpItem, IAMAuth
from streambridge.testing import events, lambda_context
from tests.integration.simulator import AmplifySimulator
from tests.integration.subscriber import SubscriberFactory
from tests.memory_store import MemoryStore

pytestmark = pytest.mark.integration

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status seq } }"
SUBSCRIBE = "subscription { onPublishOrder { id status seq } }"
# Order b's second change is POISON: the simulator's resolver refuses it (tests/integration/simulator).
CHANGES = [("a", "NEW"), ("b", "NEW"), ("b", "POISON"), ("a", "PAID"), ("c", "NEW")]


@pytest.fixture(params=[50, 1], ids=["aliased", "unaliased"])
def bridge(appsync_simulator: AmplifySimulator, request: pytest.FixtureRequest) -> Iterator[Bridge]:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    bridge = Bridge(
        appsync_simulator.url,
        IAMAuth(region="us-east-1", credentials=credentials),
        batch_size=request.param,
        per_key=1,
        idempotency=MemoryStore(),
    )
    yield bridge
    bridge.close()


def body(prefix: str, changes: Sequence[tuple[str, str]] = CHANGES) -> list[dict[str, str]]:
    return [{"id": prefix + key, "status": status, "seq": str(n)} for n, (key, status) in enumerate(changes)]


def mine(messages: list[dict[str, Any]], prefix: str) -> list[tuple[str, str]]:
    orders = [m["onPublishOrder"] for m in messages]
    return [(o["id"].removeprefix(prefix), o["status"]) for o in orders if o["id"].startswith(prefix)]


@pytest.mark.parametrize("form", [{"api": "http"}, {"api": "rest"}, {"api": "function-url"}])
def test_a_request_reaches_a_subscriber_in_the_order_of_its_body(
    form: dict[str, Any], bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber, and a POST whose third item the resolver refuses
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)

    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> dict[str, Any]:
        return {"input": item.json()}

    # WHEN API Gateway or the function URL invokes the handler
    response = handler(events.http(body(prefix), path="/orders", **form), lambda_context())

    # THEN 422 naming the refused item and the two held back behind it (one key: the request)
    assert response["statusCode"] == 422
    reply = json.loads(response["body"])
    assert [(f["index"], f["error"]) for f in reply["failures"]] == [
        (2, "GraphQLError"),
        (3, "HeldBackError"),
        (4, "HeldBackError"),
    ]
    # AND the subscriber got the two before it, in the order of the body
    assert mine(subscriber.wait_for(2), prefix) == [("a", "NEW"), ("b", "NEW")]


def test_with_a_partition_key_other_orders_go_on_and_each_stays_in_order(
    bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)

    @bridge.http(PUBLISH, partition_key=lambda item: item.get("id"))
    def handler(item: HttpItem) -> dict[str, Any]:
        return {"input": item.json()}

    changes = [*CHANGES, ("b", "PAID"), ("a", "SHIPPED")]
    response = handler(events.http(body(prefix, changes)), lambda_context())
    assert response["statusCode"] == 422
    assert [f["index"] for f in json.loads(response["body"])["failures"]] == [2, 5]
    received = mine(subscriber.wait_for(5), prefix)
    assert sorted(received) == sorted(
        [("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("c", "NEW"), ("a", "SHIPPED")]
    )
    assert [s for k, s in received if k == "a"] == ["NEW", "PAID", "SHIPPED"]


def test_a_repeated_request_reaches_subscribers_once(
    bridge: Bridge, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a request under an Idempotency-Key, published whole
    prefix = uuid.uuid4().hex[:8] + "-"
    subscriber = subscriber_factory(SUBSCRIBE)

    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> dict[str, Any]:
        return {"input": item.json()}

    event = events.http(body(prefix, [("a", "NEW"), ("a", "PAID")]), idempotency_key=prefix)
    assert handler(event, lambda_context())["statusCode"] == 200
    # WHEN the client sends it again, and then a third, new request
    again = json.loads(handler(event, lambda_context())["body"])
    later = events.http(body(prefix, [("a", "SHIPPED")]), idempotency_key=prefix + "2")
    assert handler(later, lambda_context())["statusCode"] == 200
    # THEN the repeat published nothing, and the subscriber saw each change once, in order
    assert (again["published"], again["skipped"]) == (0, 2)
    assert mine(subscriber.wait_for(3), prefix) == [("a", "NEW"), ("a", "PAID"), ("a", "SHIPPED")]
