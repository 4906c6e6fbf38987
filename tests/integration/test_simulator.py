"""Smoke tests of the AppSync simulator itself: they pin the exact answers streambridge has to handle.

Each test records the simulator's exact HTTP status and JSON body, so a simulator upgrade that changes
them fails here first, not somewhere inside the library's tests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.simulator import AmplifySimulator, SimulatorStartError
from tests.integration.subscriber import Subscriber, SubscriberError, SubscriberFactory

pytestmark = pytest.mark.integration

FIELDS = "id status seq amount updatedAt"
ON_PUBLISH = f"subscription OnPublishOrder {{ onPublishOrder {{ {FIELDS} }} }}"
PUBLISH = f"mutation Publish($input: OrderInput!) {{ publishOrder(input: $input) {{ {FIELDS} }} }}"
BATCH = (
    "mutation Batch($m0_input: OrderInput!, $m1_input: OrderInput!, $m2_input: OrderInput!) {"
    f" m0: publishOrder(input: $m0_input) {{ {FIELDS} }}"
    f" m1: publishOrder(input: $m1_input) {{ {FIELDS} }}"
    f" m2: publishOrder(input: $m2_input) {{ {FIELDS} }}"
    " }"
)
# Known test credentials (AWS documentation examples); the simulator reads only the access key id.
FAKE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def order(order_id: str, status: str = "NEW", **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "status": status, "seq": None, "amount": None, "updatedAt": None, **extra}


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST and return (status, parsed JSON body), for error statuses too."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def post_api_key(
    sim: AmplifySimulator, document: str, variables: dict[str, Any], api_key: str | None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if api_key is not None:
        headers["x-api-key"] = api_key
    return post(sim.url, json.dumps({"query": document, "variables": variables}).encode(), headers)


def post_sigv4(sim: AmplifySimulator, document: str, variables: dict[str, Any]) -> tuple[int, Any]:
    body = json.dumps({"query": document, "variables": variables}).encode()
    request = AWSRequest(method="POST", url=sim.url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(FAKE_CREDENTIALS, "appsync", "us-east-1").add_auth(request)
    return post(sim.url, body, dict(request.headers.items()))


def record(label: str, status: int, body: Any) -> None:
    print(f"\n[{label}] HTTP {status} {json.dumps(body, sort_keys=False)}")


def test_api_key_mutation_reaches_subscriber(
    appsync_simulator: AmplifySimulator, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber on onPublishOrder
    subscriber = subscriber_factory(ON_PUBLISH)
    # WHEN a mutation is published with the API key
    status, body = post_api_key(
        appsync_simulator, PUBLISH, {"input": order("a-1", amount=1.5)}, appsync_simulator.api_key
    )
    record("api key", status, body)
    # THEN it is answered and pushed to the subscriber
    assert (status, body) == (200, {"data": {"publishOrder": order("a-1", amount=1.5)}})
    assert subscriber.wait_for(1, timeout=5) == [{"onPublishOrder": order("a-1", amount=1.5)}]


def test_sigv4_signed_request_is_accepted_with_iam(
    appsync_simulator: AmplifySimulator, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber, and a request signed by botocore's SigV4Auth (fake credentials)
    subscriber = subscriber_factory(ON_PUBLISH)
    # WHEN it is posted with only the SigV4 headers (Authorization, X-Amz-Date), no API key
    status, body = post_sigv4(appsync_simulator, PUBLISH, {"input": order("b-1", seq="7")})
    record("sigv4", status, body)
    # THEN the simulator accepts it as AWS_IAM (signature not verified) and publishes it
    assert (status, body) == (200, {"data": {"publishOrder": order("b-1", seq="7")}})
    assert subscriber.wait_for(1, timeout=5) == [{"onPublishOrder": order("b-1", seq="7")}]


def test_aliased_batch_with_poison_record(
    appsync_simulator: AmplifySimulator, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber, and one request with three aliased mutations, the middle one poisoned
    subscriber = subscriber_factory(ON_PUBLISH)
    variables = {
        "m0_input": order("c-0", seq="1"),
        "m1_input": order("c-1", "POISON", seq="2"),
        "m2_input": order("c-2", seq="3"),
    }
    # WHEN it is posted
    status, body = post_api_key(appsync_simulator, BATCH, variables, appsync_simulator.api_key)
    record("batch with poison", status, body)
    # THEN HTTP 200, partial data, one error whose path is the alias; m2 still ran after m1 failed
    assert status == 200
    assert body == {
        "data": {"m0": order("c-0", seq="1"), "m1": None, "m2": order("c-2", seq="3")},
        "errors": [
            {
                "message": "poison record",
                "errorType": "PoisonError",
                "data": None,
                "errorInfo": None,
                "path": ["m1"],
                "locations": [{"line": 1, "column": BATCH.index("m1:") + 1, "sourceName": "GraphQL request"}],
            }
        ],
    }
    assert body["errors"][0]["path"] == ["m1"]
    assert body["errors"][0]["errorType"] == "PoisonError"
    # AND the subscriber got m0 then m2 (the simulator skips the null payload of m1)
    assert subscriber.wait_for(2, timeout=5) == [
        {"onPublishOrder": order("c-0", seq="1")},
        {"onPublishOrder": order("c-2", seq="3")},
    ]


def test_wrong_variable_type_rejects_whole_request(
    appsync_simulator: AmplifySimulator, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber, and a batch whose m1 variables carry a wrong type (amount: "abc")
    subscriber = subscriber_factory(ON_PUBLISH)
    variables = {
        "m0_input": order("d-0"),
        "m1_input": order("d-1", amount="abc"),
        "m2_input": order("d-2"),
    }
    # WHEN it is posted
    status, body = post_api_key(appsync_simulator, BATCH, variables, appsync_simulator.api_key)
    record("wrong variable type", status, body)
    # THEN HTTP 200 with data null and one error without path or errorType: nothing was executed
    assert (status, body) == (
        200,
        {
            "data": None,
            "errors": [
                {
                    "message": 'Variable "$m1_input" got invalid value "abc" at "m1_input.amount"; '
                    'Float cannot represent non numeric value: "abc"',
                    "locations": [{"line": 1, "column": BATCH.index("$m1_input") + 1}],
                }
            ],
        },
    )
    # AND no mutation of that request was published: the next message is a later sentinel
    post_api_key(appsync_simulator, PUBLISH, {"input": order("d-sentinel")}, appsync_simulator.api_key)
    assert subscriber.wait_for(1, timeout=5) == [{"onPublishOrder": order("d-sentinel")}]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "UnauthorizedException: Missing authorization"),
        ({"x-api-key": "da2-not-the-key"}, "UnauthorizedException: Invalid API key"),
        ({"Authorization": "not-a-sigv4-or-jwt"}, "UnauthorizedException: Invalid JWT token"),
    ],
    ids=["no-auth", "bad-api-key", "bad-authorization"],
)
def test_unauthorized_request(
    appsync_simulator: AmplifySimulator, headers: dict[str, str], message: str
) -> None:
    # WHEN a mutation is posted without credentials / with a wrong API key / a garbage Authorization
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("e-1")}}).encode()
    status, answer = post(appsync_simulator.url, body, {"Content-Type": "application/json", **headers})
    record(f"unauthorized {headers}", status, answer)
    # THEN HTTP 401 with AppSync's UnauthorizedException shape (no data key)
    assert (status, answer) == (
        401,
        {"errors": [{"errorType": "UnauthorizedException", "message": message}]},
    )


def test_syntax_error_is_not_graphql_shaped(appsync_simulator: AmplifySimulator) -> None:
    # WHEN the document does not parse
    status, body = post_api_key(appsync_simulator, "mutation {", {}, appsync_simulator.api_key)
    record("syntax error", status, body)
    # THEN the simulator answers 200 with {"errorMessage": ...}: no "errors", no "data" (a quirk)
    assert (status, body) == (200, {"errorMessage": "Syntax Error: Expected Name, found <EOF>."})


def test_subscription_payload_is_the_resolver_result_unfiltered(
    appsync_simulator: AmplifySimulator, subscriber_factory: SubscriberFactory
) -> None:
    # GIVEN a subscriber filtering on another id, selecting fields the mutation will not select
    subscriber = subscriber_factory(
        f"subscription On($id: ID) {{ onPublishOrder(id: $id) {{ {FIELDS} }} }}", {"id": "not-f-1"}
    )
    # WHEN the mutation selects only `id`
    status, body = post_api_key(
        appsync_simulator,
        "mutation P($input: OrderInput!) { publishOrder(input: $input) { id } }",
        {"input": order("f-1", amount=3.0)},
        appsync_simulator.api_key,
    )
    assert (status, body) == (200, {"data": {"publishOrder": {"id": "f-1"}}})
    # THEN unlike AppSync the simulator ignores the filter argument and sends every field of the
    # resolver's result: it cannot reproduce the "selection set" / "filter" pitfalls of DESIGN.md
    assert subscriber.wait_for(1, timeout=5) == [{"onPublishOrder": order("f-1", amount=3.0)}]


def test_subscriber_with_bad_api_key_fails_to_start(appsync_simulator: AmplifySimulator) -> None:
    # GIVEN a subscriber with a wrong API key, THEN start() fails (the simulator closes the socket, 1002)
    subscriber = Subscriber(
        appsync_simulator.realtime_url,
        host=appsync_simulator.netloc,
        api_key="da2-not-the-key",
        document=ON_PUBLISH,
    )
    with pytest.raises(SubscriberError, match="failed before start_ack"):
        subscriber.start(timeout=5)


@pytest.mark.usefixtures("appsync_simulator")  # same skip / CI-fail rule when node_modules is missing
def test_simulator_start_failure_carries_node_stderr(tmp_path: Path) -> None:
    # GIVEN a schema that does not parse, THEN start() fails fast with node's stderr in the message
    schema = tmp_path / "broken.graphql"
    schema.write_text("type Query {")
    with pytest.raises(SimulatorStartError, match=r"(?s)exited with status 1 before READY.*Syntax Error"):
        AmplifySimulator(schema=schema, startup_timeout=20).start()
