"""LocalAppSync behaves like the real AppSync where the service's behaviour is known (issue 10).

Each test names its source: AppSync's documentation, or the public reports that show the behaviour. The
subscribers are in-process (``LocalAppSync.subscribe``): the same delivery code as WebSocket subscribers.
A message that must not arrive is checked by publishing a sentinel after it: messages are delivered in
order, so once the sentinel arrived, anything before it would have too.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streambridge.testing import LocalAppSync

SCHEMA = Path(__file__).resolve().parents[1] / "integration" / "simulator" / "schema.graphql"
ON_ORDER = "subscription { onPublishOrder { id status } }"
PUBLISH = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }"


def graphql(appsync: LocalAppSync, document: str, variables: dict[str, Any] | None = None) -> Any:
    """POST a GraphQL request with the API key; return the parsed answer (HTTP 200 expected)."""
    body = json.dumps({"query": document, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        appsync.url,
        data=body,
        headers={"Content-Type": "application/json", "x-api-key": str(appsync.api_key)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def publish(appsync: LocalAppSync, order_id: str, status: str = "NEW") -> Any:
    """Publish one order the way a hand-written client does: one unaliased mutation."""
    return graphql(appsync, PUBLISH, {"input": {"id": order_id, "status": status}})


@pytest.fixture
def appsync() -> Iterator[LocalAppSync]:
    with LocalAppSync(SCHEMA) as started:
        yield started


@pytest.fixture
def muted() -> Iterator[LocalAppSync]:
    with LocalAppSync(SCHEMA, mute_aliased_mutations=True) as started:
        yield started


# --- aliased top-level mutations: status UNKNOWN on AppSync, one report against (elm-graphql 106) -----------

ALIASED = (
    "mutation B($a: OrderInput!, $b: OrderInput!) {"
    " m0: publishOrder(input: $a) { id status } m1: publishOrder(input: $b) { id status } }"
)
SELF_ALIASED = "mutation S($input: OrderInput!) { publishOrder: publishOrder(input: $input) { id status } }"


def test_aliased_mutations_fire_their_subscriptions_by_default(appsync: LocalAppSync) -> None:
    # GIVEN a subscriber, and the default LocalAppSync (the Amplify simulator also fires them, in order)
    subscriber = appsync.subscribe(ON_ORDER)
    # WHEN two aliased mutations are sent in one request
    graphql(appsync, ALIASED, {"a": {"id": "a-0", "status": "NEW"}, "b": {"id": "a-1", "status": "NEW"}})
    # THEN each fires, in order
    assert subscriber.wait_for(2) == [
        {"onPublishOrder": {"id": "a-0", "status": "NEW"}},
        {"onPublishOrder": {"id": "a-1", "status": "NEW"}},
    ]


def test_muted_aliased_mutations_answer_normally_but_fire_nothing(
    muted: LocalAppSync, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN mute_aliased_mutations=True, and a subscriber
    subscriber = muted.subscribe(ON_ORDER)
    variables = {"a": {"id": "m-0", "status": "NEW"}, "b": {"id": "m-1", "status": "NEW"}}
    # WHEN two aliased mutations are sent in one request
    with caplog.at_level(logging.DEBUG, logger="streambridge.testing"):
        answer = graphql(muted, ALIASED, variables)
    # THEN they ran and answered as usual, and are recorded as successful
    assert answer == {"data": {"m0": variables["a"], "m1": variables["b"]}}
    assert [(m.alias, m.ok) for m in muted.mutations] == [("m0", True), ("m1", True)]
    # AND the log says why no subscriber heard of them
    assert "m0: publishOrder ran but fired no subscription (mute_aliased_mutations=True)" in caplog.text
    # AND the subscriber received nothing of them: the next message is a later unaliased sentinel
    publish(muted, "sentinel")
    assert subscriber.wait_for(1) == [{"onPublishOrder": {"id": "sentinel", "status": "NEW"}}]


def test_muted_lets_unaliased_and_self_aliased_mutations_fire(muted: LocalAppSync) -> None:
    # GIVEN mute_aliased_mutations=True, and a subscriber
    subscriber = muted.subscribe(ON_ORDER)
    # WHEN one mutation is sent without an alias, then one aliased to its own field name
    publish(muted, "u-0")
    graphql(muted, SELF_ALIASED, {"input": {"id": "u-1", "status": "NEW"}})
    # THEN both fire: neither is an alias the service would have to map back
    assert subscriber.wait_for(2) == [
        {"onPublishOrder": {"id": "u-0", "status": "NEW"}},
        {"onPublishOrder": {"id": "u-1", "status": "NEW"}},
    ]


# --- what subscribers receive: the mutation's response ------------------------------------------------------


def test_inner_aliases_reach_subscribers_as_aliases_and_the_real_names_are_null(
    appsync: LocalAppSync,
) -> None:
    # GIVEN subscribers asking for amount, by its name and under the mutation's own alias
    # (aws-appsync-community 160: both get null)
    by_name = appsync.subscribe("subscription { onPublishOrder { id amount } }")
    by_alias = appsync.subscribe("subscription { onPublishOrder { id total: amount } }")
    # WHEN the mutation selects amount under an alias
    document = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id total: amount } }"
    answer = graphql(appsync, document, {"input": {"id": "i-1", "status": "NEW", "amount": 5.0}})
    # THEN its caller gets the alias, and the subscribers get null for amount either way
    assert answer == {"data": {"publishOrder": {"id": "i-1", "total": 5.0}}}
    assert appsync.published() == [{"id": "i-1", "total": 5.0}]
    assert by_name.wait_for(1) == [{"onPublishOrder": {"id": "i-1", "amount": None}}]
    assert by_alias.wait_for(1) == [{"onPublishOrder": {"id": "i-1", "total": None}}]


def test_filters_match_the_mutations_response_not_its_arguments() -> None:
    # GIVEN a resolver whose response id differs from the argument's (lesson 1 of purple-technology's
    # "Lessons learned: AWS AppSync Subscriptions"; amplify-cli 4601)
    def renumber(_field: str, arguments: dict[str, Any]) -> Any:
        return {**arguments["input"], "id": "stored-" + arguments["input"]["id"]}

    with LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": renumber}) as appsync:
        by_argument = appsync.subscribe('subscription { onPublishOrder(id: "f-1") { id } }')
        by_response = appsync.subscribe('subscription { onPublishOrder(id: "stored-f-1") { id } }')
        # WHEN the mutation is published with id f-1, then one that does not select id at all
        publish(appsync, "f-1")
        graphql(appsync, 'mutation { publishOrder(input: {id: "f-1", status: "NEW"}) { status } }')
        # THEN only the filter on the response's id matched, and only when the response had an id
        publish(appsync, "sentinel")
        assert by_response.wait_for(1) == [{"onPublishOrder": {"id": "stored-f-1"}}]
        assert by_argument.messages == []


def test_a_non_null_field_the_mutation_did_not_select_gives_appsyncs_error(appsync: LocalAppSync) -> None:
    # GIVEN a subscriber selecting status (String!), and a mutation that selects only id
    subscriber = appsync.subscribe("subscription { onPublishOrder { id status } }")
    graphql(appsync, 'mutation { publishOrder(input: {id: "n-1", status: "NEW"}) { id } }')
    # THEN its data message carries null data and the error AppSync is reported to send (amplify-category-api
    # 1338; "Event fields" in the GraphQL on AWS AppSync book): graphql-java's words, message and path only
    assert subscriber.wait_for(1) == [{"onPublishOrder": None}]
    assert subscriber.payloads == [
        {
            "data": {"onPublishOrder": None},
            "errors": [
                {
                    "message": "Cannot return null for non-nullable type: 'String' within parent 'Order' "
                    "(/onPublishOrder/status)",
                    "path": ["onPublishOrder", "status"],
                }
            ],
        }
    ]


# --- the 240 kB subscription payload limit (AppSync quotas; aws-appsync-community 33 and 175) ---------------

LIMIT = 240_000  # "240 kB" on AppSync's quotas page, read as 1,000-byte kB: the stricter reading


@pytest.fixture
def order_of_size() -> Callable[[int], dict[str, Any]]:
    """``order_of_size(n)``: an order whose subscription message ``{"data": {...}}`` is n bytes of UTF-8.

    Half of its padding is "é" (2 bytes in UTF-8, 1 character, 6 bytes as a JSON escape), so only a
    measure in UTF-8 bytes puts both sides of the limit where they belong.
    """

    def build(size: int) -> dict[str, Any]:
        empty = {"id": "big", "status": "NEW", "seq": ""}
        padding = size - len(json.dumps({"data": {"onPublishOrder": empty}}, separators=(",", ":")))
        wide = padding // 4  # 2 bytes each, half of the padding
        return {**empty, "seq": "é" * wide + "x" * (padding - 2 * wide)}

    return build


ON_BIG = "subscription { onPublishOrder { id status seq } }"
PUBLISH_BIG = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status seq } }"


def test_a_message_of_exactly_240_kb_is_delivered(
    appsync: LocalAppSync, order_of_size: Callable[[int], dict[str, Any]]
) -> None:
    # GIVEN a subscriber, and an order whose message is exactly at the limit
    subscriber = appsync.subscribe(ON_BIG)
    big = order_of_size(LIMIT)
    # WHEN it is published THEN it is delivered, and its size is what the limit was checked against
    graphql(appsync, PUBLISH_BIG, {"input": big})
    assert subscriber.wait_for(1) == [{"onPublishOrder": big}]
    assert (
        len(json.dumps(subscriber.payloads[0], separators=(",", ":"), ensure_ascii=False).encode()) == LIMIT
    )


def test_a_message_over_240_kb_is_dropped_silently_and_logged(
    appsync: LocalAppSync, order_of_size: Callable[[int], dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a subscriber, and an order whose message is one byte over the limit
    subscriber = appsync.subscribe(ON_BIG)
    big = order_of_size(LIMIT + 1)
    # WHEN it is published
    with caplog.at_level(logging.WARNING, logger="streambridge.testing"):
        answer = graphql(appsync, PUBLISH_BIG, {"input": big})
    # THEN the mutation succeeds as on AppSync, which does not tell the publisher
    assert answer == {"data": {"publishOrder": big}}
    assert [m.ok for m in appsync.mutations] == [True]
    # AND the log tells the test author why the subscriber got nothing
    assert "dropped the onPublishOrder message of subscription local-1: 240001 bytes" in caplog.text
    # AND the subscriber received nothing: the next message is a later sentinel
    publish(appsync, "sentinel")
    assert subscriber.wait_for(1) == [{"onPublishOrder": {"id": "sentinel", "status": "NEW", "seq": None}}]


def test_the_limit_applies_to_the_mutations_whole_response_too(
    appsync: LocalAppSync, order_of_size: Callable[[int], dict[str, Any]]
) -> None:
    # GIVEN a subscriber selecting only id, and an order whose full response is over the limit
    subscriber = appsync.subscribe("subscription { onPublishOrder { id } }")
    # WHEN it is published: the subscriber's own message would be tiny, but whether AppSync measures it or
    # the mutation's response is unknown, and LocalAppSync is never kinder than AppSync
    graphql(appsync, PUBLISH_BIG, {"input": order_of_size(LIMIT + 1)})
    # THEN it is dropped too
    publish(appsync, "sentinel")
    assert subscriber.wait_for(1) == [{"onPublishOrder": {"id": "sentinel"}}]
