"""LocalAppSync: the in-process AppSync endpoint of ``streambridge.testing``, tested over real sockets.

Clients are the real ones: urllib for HTTP, streambridge's own ``IAMAuth`` for SigV4 (with an injected clock),
gql's ``AppSyncWebsocketsTransport`` for subscriptions (through the integration tier's ``Subscriber``, which
waits for ``start_ack``), aiohttp for the raw real-time protocol, and the Bridge end to end.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.credentials import Credentials
from gql.transport.appsync_auth import AppSyncIAMAuthentication

from streambridge import ApiKeyAuth, Bridge, DynamoDBRecord, IAMAuth, RetryPolicy, TokenAuth
from streambridge.testing import FieldError, events
from streambridge.testing._local import DEFAULT_API_KEY, DEFAULT_CREDENTIALS, LocalAppSync
from tests.integration.subscriber import Subscriber, SubscriberError

pytest_plugins = ["pytester"]  # the plugin's own tests run inner pytest sessions

SCHEMA = Path(__file__).resolve().parents[1] / "integration" / "simulator" / "schema.graphql"
FIELDS = "id status seq amount updatedAt"
PUBLISH = f"mutation Publish($input: OrderInput!) {{ publishOrder(input: $input) {{ {FIELDS} }} }}"
PUBLISH_ID_STATUS = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }"
ON_PUBLISH = f"subscription OnPublishOrder {{ onPublishOrder {{ {FIELDS} }} }}"
BATCH = (
    "mutation Batch($m0_input: OrderInput!, $m1_input: OrderInput!, $m2_input: OrderInput!) {"
    f" m0: publishOrder(input: $m0_input) {{ {FIELDS} }}"
    f" m1: publishOrder(input: $m1_input) {{ {FIELDS} }}"
    f" m2: publishOrder(input: $m2_input) {{ {FIELDS} }}"
    " }"
)
KEY_ID, SECRET, _ = DEFAULT_CREDENTIALS[0]
TEMP_KEY_ID, TEMP_SECRET, TEMP_TOKEN = DEFAULT_CREDENTIALS[1]

AUTH_SCHEMA = """
type Order @aws_api_key @aws_iam @aws_lambda {
  id: ID!
  status: String
  amount: Float
  internalNote: String @aws_iam
}
type Note {
  id: ID!
  text: String
}
input OrderInput {
  id: ID!
  status: String
  amount: Float
  internalNote: String
}
type Query {
  ping: String
}
type Mutation {
  publishOrder(input: OrderInput!): Order @aws_api_key @aws_iam @aws_lambda
  publishInternal(input: OrderInput!): Order @aws_iam
  note(id: ID!, text: String): Note
}
type Subscription {
  onPublishOrder(id: ID, status: String): Order
    @aws_subscribe(mutations: ["publishOrder", "publishInternal"])
    @aws_api_key
    @aws_iam
  onInternal: Order @aws_subscribe(mutations: ["publishInternal"]) @aws_iam
  onNote(id: ID): Note @aws_subscribe(mutations: ["note"])
}
"""

SCALARS_SCHEMA = """
type Event {
  id: ID!
  at: AWSDateTime
  day: AWSDate
  clock: AWSTime
  ts: AWSTimestamp
  email: AWSEmail
  meta: AWSJSON
  link: AWSURL
  phone: AWSPhone
  ip: AWSIPAddress
}
input EventInput {
  id: ID!
  at: AWSDateTime
  day: AWSDate
  clock: AWSTime
  ts: AWSTimestamp
  email: AWSEmail
  meta: AWSJSON
  link: AWSURL
  phone: AWSPhone
  ip: AWSIPAddress
}
type Query { ping: String }
type Mutation { record(input: EventInput!): Event }
"""
INVALID = 'mutation { publishOrder(input: {id: "1", status: "NEW"}) { id nope } }'
RECORD = (
    "mutation R($input: EventInput!) {"
    " record(input: $input) { id at day clock ts email meta link phone ip } }"
)


def poison_resolver(_field: str, arguments: dict[str, Any]) -> Any:
    """Pass-through, except status POISON: the same rule as the simulator's VTL resolver."""
    order = arguments["input"]
    if order.get("status") == "POISON":
        raise FieldError("poison record", "PoisonError")
    return order


def order(order_id: str, status: str = "NEW", **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "status": status, "seq": None, "amount": None, "updatedAt": None, **extra}


def post(url: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST and return (status, parsed JSON body), for error statuses too."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def graphql(
    appsync: LocalAppSync,
    document: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST a GraphQL request with the API key (unless headers are given)."""
    auth = {"x-api-key": str(appsync.api_key)} if headers is None else headers
    return post(appsync.url, {"query": document, "variables": variables or {}}, auth)


def signed(appsync: LocalAppSync, body: bytes, auth: IAMAuth) -> dict[str, str]:
    """streambridge's own SigV4 headers for a POST of ``body`` to the LocalAppSync."""
    return dict(auth.headers(appsync.url, body))


def iam(key: str = KEY_ID, secret: str = SECRET, token: str | None = None, **options: Any) -> IAMAuth:
    return IAMAuth(region="us-east-1", credentials=Credentials(key, secret, token), **options)


class IAMSubscriber(Subscriber):
    """The integration tier's Subscriber, signing with gql's AppSyncIAMAuthentication instead of a key."""

    def __init__(
        self, appsync: LocalAppSync, credentials: Credentials, document: str, variables: dict[str, Any] | None
    ) -> None:
        super().__init__(
            appsync.realtime_url, host=appsync.host, api_key="unused", document=document, variables=variables
        )
        self._auth = AppSyncIAMAuthentication(
            host=appsync.host, region_name=appsync.region, credentials=credentials
        )


SubscribeFactory = Callable[..., Subscriber]


@pytest.fixture
def appsync() -> Iterator[LocalAppSync]:
    with LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": poison_resolver}) as started:
        yield started


@pytest.fixture
def auth_appsync() -> Iterator[LocalAppSync]:
    with LocalAppSync(AUTH_SCHEMA, tokens={"allow-me"}) as started:
        yield started


@pytest.fixture
def subscribe() -> Iterator[SubscribeFactory]:
    """``subscribe(appsync, document, variables=None, *, api_key=None, credentials=None)`` -> started."""
    started: list[Subscriber] = []

    def factory(
        appsync: LocalAppSync,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        api_key: str | None = None,
        credentials: Credentials | None = None,
    ) -> Subscriber:
        subscriber: Subscriber
        if credentials is not None:
            subscriber = IAMSubscriber(appsync, credentials, document, variables)
        else:
            subscriber = Subscriber(
                appsync.realtime_url,
                host=appsync.host,
                api_key=api_key or str(appsync.api_key),
                document=document,
                variables=variables,
            )
        started.append(subscriber)
        return subscriber.start(timeout=5)

    yield factory
    for subscriber in reversed(started):
        subscriber.close()


def no_more_messages(subscriber: Subscriber, count: int) -> None:
    """Assert that ``subscriber`` has exactly ``count`` messages after a short grace period."""
    time.sleep(0.1)
    assert len(subscriber.messages) == count, subscriber.messages


# --- lifecycle ----------------------------------------------------------------------------------------------


def test_starts_fast_and_serves_on_one_port() -> None:
    # GIVEN a schema file WHEN LocalAppSync starts
    began = time.perf_counter()
    appsync = LocalAppSync(SCHEMA).start()
    try:
        elapsed = time.perf_counter() - began
        # THEN it is up in well under a second, with both endpoints on one port
        assert elapsed < 0.5
        assert appsync.running
        assert appsync.url == f"http://127.0.0.1:{appsync.port}/graphql"
        assert appsync.realtime_url == f"ws://127.0.0.1:{appsync.port}/graphql/realtime"
        assert appsync.host == f"127.0.0.1:{appsync.port}"
        assert appsync.api_key == DEFAULT_API_KEY
        assert graphql(appsync, "query { ping }") == (200, {"data": {"ping": None}})
    finally:
        appsync.stop()
    # AND stop is idempotent and really stops
    appsync.stop()
    assert not appsync.running


def test_importing_streambridge_testing_loads_neither_graphql_nor_aiohttp() -> None:
    # GIVEN a fresh interpreter WHEN streambridge.testing is imported (as the pytest plugin's users do)
    code = (
        "import sys, streambridge.testing\n"
        "print(','.join(m for m in ('graphql', 'aiohttp', 'gql', 'botocore') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # THEN LocalAppSync's heavy dependencies wait until one is built
    assert loaded.strip() == ""


def test_lifecycle_errors_are_clear() -> None:
    # GIVEN a LocalAppSync that is not started THEN its endpoints say so
    appsync = LocalAppSync(SCHEMA)
    with pytest.raises(RuntimeError, match="not started"):
        _ = appsync.url
    # WHEN started twice THEN the second start is refused
    with appsync, pytest.raises(RuntimeError, match="already started"):
        appsync.start()
    assert "not started" in repr(appsync)


def test_schema_given_as_text_gets_appsync_scalars_and_directives() -> None:
    # GIVEN a schema text using AppSync directives and scalars without defining them
    schema = (
        "type Query @aws_api_key { now: AWSDateTime } "
        "type Mutation { touch(input: AWSDateTime!): AWSDateTime @aws_api_key }"
    )
    # WHEN served
    with LocalAppSync(schema) as appsync:
        document = "mutation($at: AWSDateTime!) { touch(input: $at) }"
        ok = graphql(appsync, document, {"at": "2026-01-01T00:00:00Z"})
        bad = graphql(appsync, document, {"at": "2026-01-01"})
    # THEN it builds, the input passes through, and the scalar is validated
    assert ok == (200, {"data": {"touch": "2026-01-01T00:00:00Z"}})
    assert "AWSDateTime cannot represent" in bad[1]["errors"][0]["message"]


def test_a_schema_that_defines_an_appsync_scalar_itself_is_kept() -> None:
    # GIVEN a schema that already declares AWSJSON (some tools emit the declarations)
    with LocalAppSync(
        "scalar AWSJSON\ntype Query { x: AWSJSON }\ntype Mutation { m(v: AWSJSON): AWSJSON }"
    ) as a:
        # WHEN a JSON value goes through THEN it still behaves as AppSync's AWSJSON
        assert graphql(a, "mutation($v: AWSJSON) { m(v: $v) }", {"v": '{"a": 1}'}) == (
            200,
            {"data": {"m": '{"v":{"a":1}}'}},
        )


@pytest.mark.parametrize(
    ("schema", "error", "match"),
    [
        ("type Query {", ValueError, "does not parse"),
        ("type Query { a: Nope }", ValueError, "not valid"),
        (
            'type Query { a: Int } type Subscription { s: Int @aws_subscribe(mutations: ["x"]) }',
            ValueError,
            "'x', which is not a mutation field",
        ),
        (Path("/no/such/schema.graphql"), FileNotFoundError, "cannot read the AppSync schema"),
    ],
    ids=["syntax", "unknown-type", "aws-subscribe-unknown-mutation", "missing-file"],
)
def test_bad_schemas_fail_at_construction(schema: str | Path, error: type[Exception], match: str) -> None:
    # WHEN the schema is broken THEN LocalAppSync(...) says so before anything starts
    with pytest.raises(error, match=match):
        LocalAppSync(schema)


def test_bad_options_fail_at_construction() -> None:
    # WHEN a resolver names no schema field, tokens is a lone string, or the default mode is off
    with pytest.raises(ValueError, match=r"'Mutation\.nope' is not a query or mutation field"):
        LocalAppSync(SCHEMA, resolvers={"Mutation.nope": poison_resolver})
    with pytest.raises(TypeError, match="not a single str"):
        LocalAppSync(SCHEMA, tokens="abc")
    with pytest.raises(ValueError, match="default_auth 'AWS_LAMBDA' is not an enabled mode"):
        LocalAppSync(SCHEMA, default_auth="AWS_LAMBDA")
    with pytest.raises(TypeError, match="each entry is"):
        LocalAppSync(SCHEMA, credentials=[("only-a-key",)])  # type: ignore[list-item]


# --- execution ----------------------------------------------------------------------------------------------


def test_mutation_passes_its_input_through_and_is_recorded(appsync: LocalAppSync) -> None:
    # WHEN a mutation selecting only id and status is sent with an input carrying more
    status, body = graphql(appsync, PUBLISH_ID_STATUS, {"input": order("a-1", amount=2.5)})
    # THEN the answer is the input restricted to the selection set
    assert (status, body) == (200, {"data": {"publishOrder": {"id": "a-1", "status": "NEW"}}})
    # AND it is recorded with its field, alias, coerced arguments, result and auth mode
    (recorded,) = appsync.mutations
    assert recorded.field == recorded.alias == "publishOrder"
    assert recorded.arguments == {"input": order("a-1", amount=2.5)}
    assert recorded.result == {"id": "a-1", "status": "NEW"}
    assert recorded.ok
    assert recorded.error is None
    assert recorded.auth_mode == "API_KEY"
    assert recorded.timestamp.tzinfo is not None
    assert appsync.published() == appsync.published("publishOrder") == [{"id": "a-1", "status": "NEW"}]
    assert appsync.published("otherField") == []
    assert len(appsync.requests) == 1
    assert b"publishOrder" in appsync.requests[0].body
    assert appsync.requests[0].headers["x-api-key"] == appsync.api_key
    # AND reset() forgets it
    appsync.reset()
    assert (appsync.mutations, appsync.requests) == ([], [])


def test_resolver_error_gives_appsync_error_and_partial_data(appsync: LocalAppSync) -> None:
    # GIVEN three aliased mutations, the middle one poisoned
    variables = {
        "m0_input": order("c-0", seq="1"),
        "m1_input": order("c-1", "POISON", seq="2"),
        "m2_input": order("c-2", seq="3"),
    }
    # WHEN posted in one request
    status, body = graphql(appsync, BATCH, variables)
    # THEN AppSync's shape: HTTP 200, partial data, one error whose path is the alias
    assert status == 200
    assert body == {
        "data": {"m0": order("c-0", seq="1"), "m1": None, "m2": order("c-2", seq="3")},
        "errors": [
            {
                "path": ["m1"],
                "data": None,
                "errorType": "PoisonError",
                "errorInfo": None,
                "locations": [{"line": 1, "column": BATCH.index("m1:") + 1, "sourceName": None}],
                "message": "poison record",
            }
        ],
    }
    # AND m2 still ran after m1 failed, serially, in order
    assert [(m.alias, m.ok) for m in appsync.mutations] == [("m0", True), ("m1", False), ("m2", True)]
    assert appsync.mutations[1].error == body["errors"][0]
    assert [p["id"] for p in appsync.published()] == ["c-0", "c-2"]


def test_a_resolver_bug_is_a_field_error_named_after_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a resolver that raises something other than FieldError
    def broken(_field: str, _arguments: dict[str, Any]) -> Any:
        raise KeyError("oops")

    with (
        LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": broken}) as appsync,
        caplog.at_level(logging.ERROR, logger="streambridge.testing"),
    ):
        # WHEN it runs
        status, body = graphql(appsync, PUBLISH, {"input": order("x")})
    # THEN the field fails with the exception's class as errorType, and the traceback is logged
    assert status == 200
    assert body["data"] == {"publishOrder": None}
    assert body["errors"][0]["errorType"] == "KeyError"
    assert body["errors"][0]["path"] == ["publishOrder"]
    assert "raise FieldError" in caplog.text


def test_variable_error_rejects_the_whole_request(appsync: LocalAppSync) -> None:
    # GIVEN a batch whose m1 variables carry a wrong type
    variables = {"m0_input": order("d-0"), "m1_input": order("d-1", amount="abc"), "m2_input": order("d-2")}
    # WHEN posted
    status, body = graphql(appsync, BATCH, variables)
    # THEN HTTP 200, data null, one error without path or errorType, at the variable's definition
    assert status == 200
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Variable '$m1_input' has invalid value at .amount: "
                "Float cannot represent non numeric value: 'abc'",
                "locations": [{"line": 1, "column": BATCH.index("$m1_input") + 1}],
            }
        ],
    }
    # AND nothing was executed
    assert appsync.mutations == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            INVALID,
            {
                "data": None,
                "errors": [
                    {
                        "message": "Cannot query field 'nope' on type 'Order'.",
                        "locations": [{"line": 1, "column": INVALID.index("nope") + 1}],
                    }
                ],
            },
        ),
        ("mutation {", {"errorMessage": "Syntax Error: Expected Name, found <EOF>."}),
        ("query A { ping } query B { ping }", {"errorMessage": "Could not get operation from the document"}),
        (
            "subscription { onPublishOrder { id } }",
            {
                "data": None,
                "errors": [
                    {
                        "errorType": "UnsupportedOperation",
                        "message": "subscriptions are served on the real-time endpoint (/graphql/realtime), "
                        "not over HTTP",
                    }
                ],
            },
        ),
    ],
    ids=["validation", "syntax", "ambiguous-operation", "subscription-over-http"],
)
def test_request_errors_have_the_simulators_shapes(
    appsync: LocalAppSync, document: str, expected: dict[str, Any]
) -> None:
    # WHEN a request cannot run THEN it is answered 200 with the shape the simulator gives
    assert graphql(appsync, document) == (200, expected)
    assert appsync.mutations == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The request body is not JSON"),
        (b'{"variables": {}}', "The request body needs a 'query' string"),
        (b'{"query": "{ ping }", "variables": [1]}', "'variables' must be a JSON object"),
    ],
)
def test_malformed_http_bodies_are_400(appsync: LocalAppSync, body: bytes, message: str) -> None:
    # WHEN the body is not a GraphQL request THEN 400 with AppSync's MalformedHttpRequestException
    assert post(appsync.url, body, {"x-api-key": str(appsync.api_key)}) == (
        400,
        {"errors": [{"errorType": "MalformedHttpRequestException", "message": message}]},
    )


def test_query_fields_resolve_with_resolvers_or_null() -> None:
    # GIVEN a query resolver for ping
    with LocalAppSync(SCHEMA, resolvers={"Query.ping": lambda _f, _a: "pong"}) as appsync:
        # WHEN queried THEN it answers; queries are not recorded as mutations
        assert graphql(appsync, "{ ping }") == (200, {"data": {"ping": "pong"}})
        assert appsync.mutations == []


def test_async_resolvers_are_awaited() -> None:
    # GIVEN an async resolver
    async def publish(_field: str, arguments: dict[str, Any]) -> Any:
        return {**arguments["input"], "status": "ASYNC"}

    with LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": publish}) as appsync:
        # WHEN a mutation runs THEN its awaited result is the answer
        assert graphql(appsync, PUBLISH_ID_STATUS, {"input": order("z")}) == (
            200,
            {"data": {"publishOrder": {"id": "z", "status": "ASYNC"}}},
        )


# --- scalars ------------------------------------------------------------------------------------------------

VALID_EVENT = {
    "id": "e-1",
    "at": "2026-01-01T12:30:00.123Z",
    "day": "2026-02-28+05:30",
    "clock": "23:59",
    "ts": 1_767_225_600,
    "email": "ops@example.com",
    "meta": '{"a": [1, 2, {"b": null}]}',
    "link": "https://example.com/orders?id=1",
    "phone": "+1 206-555-0100",
    "ip": "2001:db8::1/64",
}


def test_appsync_scalars_accept_valid_values() -> None:
    # GIVEN every AppSync scalar with a valid value
    with LocalAppSync(SCALARS_SCHEMA) as appsync:
        # WHEN they go through a pass-through mutation
        status, body = graphql(appsync, RECORD, {"input": VALID_EVENT})
        # THEN they come back as sent, AWSJSON re-serialized compactly
        assert status == 200, body
        assert body == {"data": {"record": {**VALID_EVENT, "meta": '{"a":[1,2,{"b":null}]}'}}}
        # AND the resolver got AWSJSON parsed, as AppSync hands it to resolvers
        assert appsync.mutations[0].arguments["input"]["meta"] == {"a": [1, 2, {"b": None}]}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("at", "2026-01-01T12:30:00"),  # AWSDateTime needs an offset
        ("at", "2026-13-01T00:00:00Z"),
        ("day", "2026-02-30"),
        ("day", "01/02/2026"),
        ("clock", "24:00"),
        ("ts", "1767225600"),
        ("ts", 1.5),
        ("email", "not-an-email"),
        ("meta", "{not json}"),
        ("meta", {"a": 1}),  # AWSJSON variables are JSON *text*
        ("link", "example.com/no-scheme"),
        ("phone", "call me"),
        ("ip", "300.1.1.1"),
    ],
)
def test_appsync_scalars_reject_invalid_values(name: str, value: Any) -> None:
    # GIVEN one invalid scalar value
    with LocalAppSync(SCALARS_SCHEMA) as appsync:
        # WHEN sent as a variable
        status, body = graphql(appsync, RECORD, {"input": {"id": "e-2", name: value}})
    # THEN the request is rejected as a variable error, nothing runs
    assert status == 200
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"].startswith(f"Variable '$input' has invalid value at .{name}:"), error
    assert "path" not in error


def test_appsync_scalar_literals_are_checked_too() -> None:
    # GIVEN literals in the document: a valid AWSJSON string, then an AWSJSON object literal
    with LocalAppSync(SCALARS_SCHEMA) as appsync:
        ok = graphql(appsync, 'mutation { record(input: {id: "1", meta: "[1]", ts: 5}) { meta ts } }')
        bad = graphql(appsync, 'mutation { record(input: {id: "1", meta: {a: 1}}) { meta } }')
    # THEN the valid ones pass and the object literal is a validation error
    assert ok == (200, {"data": {"record": {"meta": "[1]", "ts": 5}}})
    assert bad[1]["data"] is None
    assert "AWSJSON" in bad[1]["errors"][0]["message"]


def test_resolver_outputs_are_validated_like_appsync() -> None:
    # GIVEN a resolver returning Python datetimes and an invalid email
    def record(_field: str, arguments: dict[str, Any]) -> Any:
        return {
            "id": arguments["input"]["id"],
            "at": datetime(2026, 1, 1, tzinfo=timezone.utc),
            "ts": datetime(2026, 1, 1, tzinfo=timezone.utc),
            "meta": {"k": "v"},
            "email": "nope",
        }

    with LocalAppSync(SCALARS_SCHEMA, resolvers={"Mutation.record": record}) as appsync:
        status, body = graphql(appsync, 'mutation { record(input: {id: "1"}) { at ts meta email } }')
    # THEN values are serialized as AppSync would, and the invalid one is a field error
    assert status == 200
    assert body["data"] == {
        "record": {"at": "2026-01-01T00:00:00Z", "ts": 1_767_225_600, "meta": '{"k":"v"}', "email": None}
    }
    assert body["errors"][0]["path"] == ["record", "email"]
    assert body["errors"][0]["message"].startswith("AWSEmail cannot represent")


# --- auth: API key, SigV4, tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "UnauthorizedException: Missing authorization"),
        ({"x-api-key": "da2-not-the-key"}, "UnauthorizedException: Invalid API key"),
        ({"Authorization": "not-a-sigv4-or-token"}, "UnauthorizedException: Invalid token"),
    ],
    ids=["no-auth", "bad-api-key", "unknown-token"],
)
def test_unauthorized_requests_are_401(appsync: LocalAppSync, headers: dict[str, str], message: str) -> None:
    # WHEN a request carries no or wrong credentials
    status, body = graphql(appsync, PUBLISH, {"input": order("e-1")}, headers)
    # THEN 401 with AppSync's UnauthorizedException shape, nothing executed, but the request counted
    assert (status, body) == (401, {"errors": [{"errorType": "UnauthorizedException", "message": message}]})
    assert appsync.mutations == []
    assert len(appsync.requests) == 1


@pytest.mark.parametrize(
    ("key", "secret", "token"),
    [(KEY_ID, SECRET, None), (TEMP_KEY_ID, TEMP_SECRET, TEMP_TOKEN)],
    ids=["long-term", "temporary"],
)
def test_sigv4_signed_by_iamauth_is_verified_and_accepted(
    appsync: LocalAppSync, key: str, secret: str, token: str | None
) -> None:
    # GIVEN streambridge's IAMAuth with known test credentials
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-1")}}).encode()
    # WHEN the signed request is posted
    status, answer = post(appsync.url, body, signed(appsync, body, iam(key, secret, token)))
    # THEN the recomputed signature matches and the mutation runs as AWS_IAM
    assert (status, answer) == (200, {"data": {"publishOrder": order("s-1")}})
    assert appsync.mutations[0].auth_mode == "AWS_IAM"


def _sigv4_rejection(appsync: LocalAppSync, body: bytes, headers: dict[str, str]) -> tuple[int, str, str]:
    status, answer = post(appsync.url, body, headers)
    (error,) = answer["errors"]
    return status, error["errorType"], error["message"]


def test_sigv4_wrong_signature_is_rejected(appsync: LocalAppSync) -> None:
    # GIVEN headers signed for one body, sent with another (same length, one byte changed)
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-2")}}).encode()
    headers = signed(appsync, body, iam())
    tampered = body.replace(b"s-2", b"s-3")
    # WHEN posted THEN 403 InvalidSignatureException, with the canonical request to debug it
    status, error_type, message = _sigv4_rejection(appsync, tampered, headers)
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert "The Canonical String for this request should have been" in message
    assert appsync.mutations == []


def test_sigv4_with_a_wrong_secret_is_rejected(appsync: LocalAppSync) -> None:
    # GIVEN a known access key id signed with the wrong secret
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-4")}}).encode()
    headers = signed(appsync, body, iam(KEY_ID, "not-the-secret"))
    # THEN the signature does not match
    assert _sigv4_rejection(appsync, body, headers)[:2] == (403, "InvalidSignatureException")


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        (timedelta(minutes=-10), "Signature expired: "),
        (timedelta(minutes=+10), "Signature not yet current: "),
    ],
    ids=["stale", "future"],
)
def test_sigv4_outside_five_minutes_is_rejected(
    appsync: LocalAppSync, shift: timedelta, expected: str
) -> None:
    # GIVEN a request signed with a clock 10 minutes off
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-5")}}).encode()
    auth = iam(clock=lambda: datetime.now(timezone.utc) + shift)
    # WHEN posted THEN 403 InvalidSignatureException about the time
    status, error_type, message = _sigv4_rejection(appsync, body, signed(appsync, body, auth))
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert message.startswith(expected)


def test_sigv4_with_a_clock_4_minutes_off_is_still_accepted(appsync: LocalAppSync) -> None:
    # GIVEN a signing clock 4 minutes behind (within AWS's 5 minutes)
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-6")}}).encode()
    auth = iam(clock=lambda: datetime.now(timezone.utc) - timedelta(minutes=4))
    # THEN the request is accepted
    assert post(appsync.url, body, signed(appsync, body, auth))[0] == 200


def test_sigv4_missing_session_token_is_rejected(appsync: LocalAppSync) -> None:
    # GIVEN temporary credentials (with a session token) used without their token
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-7")}}).encode()
    headers = signed(appsync, body, iam(TEMP_KEY_ID, TEMP_SECRET, None))
    # THEN AWS's answer for a missing or wrong token
    assert _sigv4_rejection(appsync, body, headers) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    # AND a wrong token is refused the same way
    headers = signed(appsync, body, iam(TEMP_KEY_ID, TEMP_SECRET, "another-token"))
    assert _sigv4_rejection(appsync, body, headers)[:2] == (403, "UnrecognizedClientException")


def test_sigv4_unknown_access_key_is_rejected(appsync: LocalAppSync) -> None:
    # GIVEN an access key id LocalAppSync does not know
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-8")}}).encode()
    headers = signed(appsync, body, iam("AKIAUNKNOWNKEY000000", SECRET))
    # THEN UnrecognizedClientException
    assert _sigv4_rejection(appsync, body, headers)[:2] == (403, "UnrecognizedClientException")


def test_sigv4_for_another_region_is_rejected(appsync: LocalAppSync) -> None:
    # GIVEN a signature scoped to eu-west-1 while the API is in us-east-1
    body = json.dumps({"query": PUBLISH, "variables": {"input": order("s-9")}}).encode()
    auth = IAMAuth(region="eu-west-1", credentials=Credentials(KEY_ID, SECRET))
    status, error_type, message = _sigv4_rejection(appsync, body, signed(appsync, body, auth))
    # THEN it is refused, naming both regions
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert "'eu-west-1'" in message
    assert "'us-east-1'" in message


def test_malformed_sigv4_header_is_rejected(appsync: LocalAppSync) -> None:
    # WHEN the Authorization header starts like SigV4 but lacks its parts
    status, body = graphql(
        appsync, PUBLISH, {"input": order("s-10")}, {"Authorization": "AWS4-HMAC-SHA256 x"}
    )
    # THEN 403 IncompleteSignatureException
    assert status == 403
    assert body["errors"][0]["errorType"] == "IncompleteSignatureException"


def test_bearer_tokens_are_checked(auth_appsync: LocalAppSync) -> None:
    # GIVEN a LocalAppSync accepting the token "allow-me" (as AWS_LAMBDA, the default token mode)
    publish = "mutation($i: OrderInput!) { publishOrder(input: $i) { id } }"
    # WHEN it is used, then another one
    ok = graphql(auth_appsync, publish, {"i": {"id": "t-1"}}, {"Authorization": "allow-me"})
    refused = graphql(auth_appsync, publish, {"i": {"id": "t-2"}}, {"Authorization": "deny-me"})
    # THEN the good token runs as AWS_LAMBDA and the other is a 401
    assert ok == (200, {"data": {"publishOrder": {"id": "t-1"}}})
    assert auth_appsync.mutations[0].auth_mode == "AWS_LAMBDA"
    assert refused == (
        401,
        {
            "errors": [
                {"errorType": "UnauthorizedException", "message": "UnauthorizedException: Invalid token"}
            ]
        },
    )


def test_token_predicate_and_mode() -> None:
    # GIVEN tokens checked by a predicate, standing for Cognito user pools
    with LocalAppSync(
        "type Query { me: String @aws_cognito_user_pools }",
        tokens=lambda token: token.startswith("eyJ"),
        token_mode="AMAZON_COGNITO_USER_POOLS",
    ) as appsync:
        # WHEN a matching token queries a Cognito-only field THEN it is authorized
        assert graphql(appsync, "{ me }", headers={"Authorization": "eyJhbGciOi"}) == (
            200,
            {"data": {"me": None}},
        )
        # AND the API key is not: the field allows Cognito only
        status, body = graphql(appsync, "{ me }")
        assert (status, body["errors"][0]["errorType"]) == (200, "Unauthorized")


def test_streambridge_tokenauth_works_against_it(auth_appsync: LocalAppSync) -> None:
    # GIVEN a Bridge publishing with TokenAuth
    bridge = Bridge(auth_appsync.url, TokenAuth("allow-me"))
    handler = bridge.eventbridge("mutation($input: OrderInput!) { publishOrder(input: $input) { id } }")(
        lambda event: {"input": {"id": event.id}}
    )
    try:
        # WHEN an EventBridge event is handled THEN it is published with the token's mode
        handler(events.eventbridge(source="orders", detail_type="Created", detail={}))
    finally:
        bridge.close()
    assert [m.auth_mode for m in auth_appsync.mutations] == ["AWS_LAMBDA"]


# --- auth directives ----------------------------------------------------------------------------------------


def test_field_directives_decide_who_may_call_a_mutation(auth_appsync: LocalAppSync) -> None:
    # GIVEN publishInternal allows @aws_iam only
    document = "mutation($i: OrderInput!) { publishInternal(input: $i) { id } }"
    body = json.dumps({"query": document, "variables": {"i": {"id": "p-1"}}}).encode()
    # WHEN an API-key client calls it, then an IAM client
    by_key = graphql(auth_appsync, document, {"i": {"id": "p-1"}})
    by_iam = post(auth_appsync.url, body, signed(auth_appsync, body, iam()))
    # THEN the API key gets AppSync's Unauthorized field error, IAM gets the data
    assert by_key == (
        200,
        {
            "data": {"publishInternal": None},
            "errors": [
                {
                    "path": ["publishInternal"],
                    "data": None,
                    "errorType": "Unauthorized",
                    "errorInfo": None,
                    "locations": [
                        {"line": 1, "column": document.index("publishInternal") + 1, "sourceName": None}
                    ],
                    "message": "Not Authorized to access publishInternal on type Mutation",
                }
            ],
        },
    )
    assert by_iam == (200, {"data": {"publishInternal": {"id": "p-1"}}})
    # AND the refused call is recorded with its error and mode
    refused, accepted = auth_appsync.mutations
    assert (refused.ok, refused.auth_mode, refused.error["errorType"]) == (False, "API_KEY", "Unauthorized")  # type: ignore[index]
    assert (accepted.ok, accepted.auth_mode) == (True, "AWS_IAM")


def test_fields_without_directives_take_the_default_mode(auth_appsync: LocalAppSync) -> None:
    # GIVEN note (no directive on the field nor on Mutation): the default mode, API_KEY, applies
    document = 'mutation { note(id: "n-1", text: "hi") { id text } }'
    body = json.dumps({"query": document}).encode()
    # WHEN called with the API key, then with IAM
    by_key = graphql(auth_appsync, document)
    by_iam = post(auth_appsync.url, body, signed(auth_appsync, body, iam()))
    # THEN only the API key may (a NONE data source returns all the arguments when there is no input)
    assert by_key == (200, {"data": {"note": {"id": "n-1", "text": "hi"}}})
    assert by_iam[1]["errors"][0]["message"] == "Not Authorized to access note on type Mutation"


def test_nested_field_directives_are_enforced_too(auth_appsync: LocalAppSync) -> None:
    # GIVEN Order.internalNote allows @aws_iam only
    document = "mutation($i: OrderInput!) { publishOrder(input: $i) { id internalNote } }"
    # WHEN an API-key client selects it
    status, body = graphql(auth_appsync, document, {"i": {"id": "q-1", "internalNote": "secret"}})
    # THEN that one field is null with an Unauthorized error, the rest is answered
    assert status == 200
    assert body["data"] == {"publishOrder": {"id": "q-1", "internalNote": None}}
    assert [(e["path"], e["errorType"]) for e in body["errors"]] == [
        (["publishOrder", "internalNote"], "Unauthorized")
    ]


def test_default_auth_can_be_iam() -> None:
    # GIVEN an API whose default mode is AWS_IAM, with a field without directives
    schema = "type Query { ping: String } type Mutation { touch(input: ID!): ID }"
    with LocalAppSync(schema, default_auth="AWS_IAM") as appsync:
        document = 'mutation { touch(input: "1") }'
        body = json.dumps({"query": document}).encode()
        # WHEN the API key calls it THEN it is refused; IAM is accepted
        assert graphql(appsync, document)[1]["errors"][0]["errorType"] == "Unauthorized"
        assert post(appsync.url, body, signed(appsync, body, iam())) == (200, {"data": {"touch": "1"}})


# --- subscriptions ------------------------------------------------------------------------------------------


def test_subscribers_get_mutations_in_order(appsync: LocalAppSync, subscribe: SubscribeFactory) -> None:
    # GIVEN a subscriber
    subscriber = subscribe(appsync, ON_PUBLISH)
    assert appsync.active_subscriptions == 1
    # WHEN five mutations are published, one per request
    for status in ("S0", "S1", "S2", "S3", "S4"):
        graphql(appsync, PUBLISH, {"input": order("o-1", status)})
    # THEN it receives all five, in order, with the mutation's fields
    assert subscriber.wait_for(5, timeout=5) == [{"onPublishOrder": order("o-1", f"S{i}")} for i in range(5)]


def test_aliased_batch_reaches_subscribers_in_order_without_the_failed_one(
    appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN a subscriber and a batch with a poisoned middle mutation
    subscriber = subscribe(appsync, ON_PUBLISH)
    variables = {"m0_input": order("b-0"), "m1_input": order("b-1", "POISON"), "m2_input": order("b-2")}
    # WHEN posted
    graphql(appsync, BATCH, variables)
    # THEN m0 then m2 are pushed; the failed m1 is not
    assert subscriber.wait_for(2, timeout=5) == [
        {"onPublishOrder": order("b-0")},
        {"onPublishOrder": order("b-2")},
    ]
    no_more_messages(subscriber, 2)


def test_subscribers_get_the_mutations_selection_set_not_theirs(
    appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN a subscriber asking for every field
    subscriber = subscribe(appsync, ON_PUBLISH)
    # WHEN the mutation selects only id and status (its input has an amount)
    graphql(appsync, PUBLISH_ID_STATUS, {"input": order("f-1", amount=3.0)})
    # THEN like AppSync, the subscriber gets null for what the mutation did not select
    assert subscriber.wait_for(1) == [{"onPublishOrder": order("f-1")}]


def test_subscription_arguments_filter_on_the_mutation_response(
    appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN a subscriber filtering on id "g-2", and one without filter
    filtered = subscribe(
        appsync, "subscription On($id: ID) { onPublishOrder(id: $id) { id status } }", {"id": "g-2"}
    )
    everything = subscribe(appsync, "subscription { onPublishOrder { id } }")
    # WHEN g-1 then g-2 are published
    graphql(appsync, PUBLISH, {"input": order("g-1")})
    graphql(appsync, PUBLISH, {"input": order("g-2")})
    # THEN the filtered subscriber gets g-2 only, the other both
    assert everything.wait_for(2) == [{"onPublishOrder": {"id": "g-1"}}, {"onPublishOrder": {"id": "g-2"}}]
    assert filtered.wait_for(1) == [{"onPublishOrder": {"id": "g-2", "status": "NEW"}}]
    no_more_messages(filtered, 1)


def test_a_filter_on_a_field_the_mutation_did_not_select_never_fires(
    auth_appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN a subscriber filtering on status, and a mutation that does not select status
    filtered = subscribe(auth_appsync, 'subscription { onPublishOrder(status: "NEW") { id status } }')
    witness = subscribe(auth_appsync, "subscription { onPublishOrder { id } }")
    # WHEN an order with status NEW is published selecting only id
    graphql(auth_appsync, 'mutation { publishOrder(input: {id: "h-1", status: "NEW"}) { id } }')
    # THEN AppSync's filter looks at the response, which has no status: the filtered one gets nothing
    assert witness.wait_for(1) == [{"onPublishOrder": {"id": "h-1"}}]
    no_more_messages(filtered, 0)


def test_inner_aliases_in_the_mutation_leave_subscribers_with_nulls(
    appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN a mutation aliasing an inner field (aws-appsync-community issue 160)
    subscriber = subscribe(appsync, "subscription { onPublishOrder { id amount } }")
    document = "mutation($i: OrderInput!) { publishOrder(input: $i) { id total: amount } }"
    graphql(appsync, document, {"i": order("i-1", amount=5.0)})
    # THEN the subscriber gets null for the aliased field, as on AppSync
    assert subscriber.wait_for(1) == [{"onPublishOrder": {"id": "i-1", "amount": None}}]


def test_a_non_null_field_the_mutation_did_not_select_fails_the_subscribers_message(
    appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN a subscriber selecting status (String!) and a mutation that selects only id
    subscriber = subscribe(appsync, "subscription { onPublishOrder { id status } }")
    graphql(appsync, "mutation($i: OrderInput!) { publishOrder(input: $i) { id } }", {"i": order("j-1")})
    # THEN the data message carries AppSync's non-null error (gql raises it): the subscriber gets no data
    # (gql's message escapes the quotes around the type names)
    appsync_words = r"non-nullable type: .*String.* within parent .*Order.* \(/onPublishOrder/status\)"
    with pytest.raises(SubscriberError, match=appsync_words):
        subscriber.wait_for(1)


def test_subscriptions_listen_only_to_the_mutations_they_name(
    auth_appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN onNote listens to note only; onPublishOrder to publishOrder and publishInternal
    notes = subscribe(auth_appsync, "subscription { onNote { id text } }")
    orders = subscribe(auth_appsync, "subscription { onPublishOrder { id } }")
    # WHEN a note and an order are published
    graphql(auth_appsync, 'mutation { note(id: "n-2", text: "x") { id text } }')
    graphql(auth_appsync, 'mutation { publishOrder(input: {id: "o-2"}) { id } }')
    # THEN each subscriber got only its own mutation's result
    assert notes.wait_for(1) == [{"onNote": {"id": "n-2", "text": "x"}}]
    assert orders.wait_for(1) == [{"onPublishOrder": {"id": "o-2"}}]
    no_more_messages(notes, 1)


def test_iam_subscriber_with_gql(auth_appsync: LocalAppSync, subscribe: SubscribeFactory) -> None:
    # GIVEN gql's AppSyncIAMAuthentication signing the connection ({} to /connect) and the start message
    subscriber = subscribe(
        auth_appsync, "subscription { onInternal { id } }", credentials=Credentials(KEY_ID, SECRET)
    )
    # WHEN an IAM publisher publishes to publishInternal
    document = 'mutation { publishInternal(input: {id: "iam-1"}) { id } }'
    body = json.dumps({"query": document}).encode()
    post(auth_appsync.url, body, signed(auth_appsync, body, iam()))
    # THEN the IAM subscriber receives it
    assert subscriber.wait_for(1) == [{"onInternal": {"id": "iam-1"}}]


def test_subscribing_to_a_field_the_mode_may_not_access_fails(
    auth_appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # WHEN an API-key client subscribes to the IAM-only onInternal THEN no start_ack: the start fails
    with pytest.raises(SubscriberError, match="Not Authorized to access onInternal on type Subscription"):
        subscribe(auth_appsync, "subscription { onInternal { id } }")
    assert auth_appsync.active_subscriptions == 0


@pytest.mark.parametrize(
    ("api_key", "message"),
    [("da2-not-the-key", "Invalid API key")],
)
def test_a_subscriber_with_a_bad_api_key_fails_to_connect(
    appsync: LocalAppSync, subscribe: SubscribeFactory, api_key: str, message: str
) -> None:
    # WHEN a subscriber connects with a wrong key THEN connection_error, and start() fails
    with pytest.raises(SubscriberError, match=message):
        subscribe(appsync, ON_PUBLISH, api_key=api_key)


def test_closing_a_subscriber_unregisters_it(appsync: LocalAppSync, subscribe: SubscribeFactory) -> None:
    # GIVEN two subscribers
    first = subscribe(appsync, ON_PUBLISH)
    subscribe(appsync, ON_PUBLISH)
    appsync.wait_for_subscriptions(2)
    # WHEN one closes (gql sends stop, LocalAppSync answers complete)
    first.close()
    # THEN one subscription remains
    deadline = time.monotonic() + 5
    while appsync.active_subscriptions != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert appsync.active_subscriptions == 1
    with pytest.raises(TimeoutError, match="expected 3"):
        appsync.wait_for_subscriptions(3, timeout=0.05)


def test_in_process_subscriptions_get_what_a_websocket_subscriber_gets(
    appsync: LocalAppSync, subscribe: SubscribeFactory
) -> None:
    # GIVEN an in-process subscription and a WebSocket one, same document and filter
    document = "subscription On($id: ID) { onPublishOrder(id: $id) { id status amount } }"
    local = appsync.subscribe(document, {"id": "l-1"})
    remote = subscribe(appsync, document, {"id": "l-1"})
    # WHEN two orders are published selecting id and status
    graphql(appsync, PUBLISH_ID_STATUS, {"input": order("l-0", amount=1.0)})
    graphql(appsync, PUBLISH_ID_STATUS, {"input": order("l-1", amount=1.0)})
    # THEN both received the same: the matching order, restricted to the mutation's selection set
    expected = [{"onPublishOrder": {"id": "l-1", "status": "NEW", "amount": None}}]
    assert local.wait_for(1) == remote.wait_for(1) == expected
    assert local.payloads == [{"data": expected[0]}]
    assert "messages=1" in repr(local)


def test_in_process_subscription_close_and_refusals(auth_appsync: LocalAppSync) -> None:
    # GIVEN an in-process subscription used as a context manager
    with auth_appsync.subscribe("subscription { onNote { id } }") as notes:
        assert auth_appsync.active_subscriptions == 1
    # THEN leaving it unsubscribes (synchronously)
    assert auth_appsync.active_subscriptions == 0
    graphql(auth_appsync, 'mutation { note(id: "n-9") { id } }')
    with pytest.raises(TimeoutError, match="expected 1 subscription message"):
        notes.wait_for(1, timeout=0.1)
    # AND a refused subscription raises ValueError with AppSync's errors
    with pytest.raises(ValueError, match="Not Authorized to access onInternal on type Subscription"):
        auth_appsync.subscribe("subscription { onInternal { id } }")
    with pytest.raises(ValueError, match="Cannot query field 'nope'"):
        auth_appsync.subscribe("subscription { onNote { nope } }")
    # AND auth_mode picks the subscriber's mode for the directives
    with auth_appsync.subscribe("subscription { onInternal { id } }", auth_mode="AWS_IAM") as internal:
        document = 'mutation { publishInternal(input: {id: "i-9"}) { id } }'
        body = json.dumps({"query": document}).encode()
        post(auth_appsync.url, body, signed(auth_appsync, body, iam()))
        assert internal.wait_for(1) == [{"onInternal": {"id": "i-9"}}]


def test_in_process_subscriptions_need_a_started_server() -> None:
    appsync = LocalAppSync(SCHEMA)
    with pytest.raises(RuntimeError, match="not started"):
        appsync.subscribe(ON_PUBLISH)
    with appsync:
        subscription = appsync.subscribe(ON_PUBLISH)
    # AND after stop, closing is a no-op
    subscription.close()
    assert appsync.active_subscriptions == 0


def test_a_port_in_use_fails_start_clearly() -> None:
    # GIVEN a running LocalAppSync
    with LocalAppSync(SCHEMA) as first:
        # WHEN another one wants the same port THEN start() raises the bind error, and nothing is left running
        second = LocalAppSync(SCHEMA, port=first.port)
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            second.start()
        assert not second.running


# --- the real-time protocol, message by message -------------------------------------------------------------


def realtime_url(appsync: LocalAppSync, headers: dict[str, str] | None = None) -> str:
    auth = headers if headers is not None else {"host": appsync.host, "x-api-key": str(appsync.api_key)}
    encoded = base64.b64encode(json.dumps(auth).encode()).decode()
    return f"{appsync.realtime_url}?header={encoded}&payload=e30="


def start_message(appsync: LocalAppSync, subscription_id: str, query: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": subscription_id,
        "type": "start",
        "payload": {
            "data": json.dumps({"query": query, "variables": {}, **extra}),
            "extensions": {"authorization": {"host": appsync.host, "x-api-key": str(appsync.api_key)}},
        },
    }


@pytest.mark.asyncio
async def test_realtime_protocol_messages(appsync: LocalAppSync) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(realtime_url(appsync), protocols=["graphql-ws"]) as ws,
    ):
        # GIVEN a connection with the graphql-ws subprotocol
        assert ws.protocol == "graphql-ws"
        # WHEN connection_init is sent THEN connection_ack with connectionTimeoutMs, then a ka
        await ws.send_json({"type": "connection_init"})
        assert await ws.receive_json(timeout=5) == {
            "type": "connection_ack",
            "payload": {"connectionTimeoutMs": 300_000},
        }
        assert await ws.receive_json(timeout=5) == {"type": "ka"}
        # WHEN a subscription starts THEN start_ack with its id
        await ws.send_json(start_message(appsync, "sub-1", "subscription { onPublishOrder { id } }"))
        assert await ws.receive_json(timeout=5) == {"id": "sub-1", "type": "start_ack"}
        # WHEN a mutation is published THEN a data message with the payload under "data"
        async with session.post(
            appsync.url,
            json={"query": PUBLISH, "variables": {"input": order("r-1")}},
            headers={"x-api-key": str(appsync.api_key)},
        ) as response:
            assert response.status == 200
        assert await ws.receive_json(timeout=5) == {
            "id": "sub-1",
            "type": "data",
            "payload": {"data": {"onPublishOrder": {"id": "r-1"}}},
        }
        # WHEN it stops THEN complete
        await ws.send_json({"id": "sub-1", "type": "stop"})
        assert await ws.receive_json(timeout=5) == {"id": "sub-1", "type": "complete"}
        # WHEN a mutation or an unknown message comes over the socket THEN errors, the socket stays open
        await ws.send_json(
            start_message(appsync, "m-1", 'mutation { publishOrder(input: {id: "1", status: "NEW"}) { id } }')
        )
        assert await ws.receive_json(timeout=5) == {
            "id": "m-1",
            "type": "error",
            "payload": {
                "errors": [
                    {
                        "errorType": "UnsupportedOperation",
                        "message": "mutation not supported through the realtime channel",
                    }
                ]
            },
        }
        await ws.send_json({"type": "what"})
        unknown = await ws.receive_json(timeout=5)
        assert unknown["type"] == "error"
        assert "id" not in unknown
        await ws.send_json(start_message(appsync, "v-1", "subscription { onPublishOrder { nope } }"))
        invalid = await ws.receive_json(timeout=5)
        assert (invalid["id"], invalid["type"]) == ("v-1", "error")
        assert invalid["payload"]["errors"][0]["message"] == "Cannot query field 'nope' on type 'Order'."


@pytest.mark.asyncio
async def test_realtime_start_with_bad_authorization_is_refused(appsync: LocalAppSync) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(realtime_url(appsync), protocols=["graphql-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init"})
        await ws.receive_json(timeout=5)
        # GIVEN a start message whose own authorization carries a wrong key
        message = start_message(appsync, "s-1", "subscription { onPublishOrder { id } }")
        message["payload"]["extensions"]["authorization"]["x-api-key"] = "da2-wrong"
        # WHEN sent THEN an error for that id, with AppSync's errorCode
        await ws.send_json(message)
        answers = [await ws.receive_json(timeout=5) for _ in range(2)]
        error = next(a for a in answers if a["type"] == "error")
        assert error == {
            "id": "s-1",
            "type": "error",
            "payload": {
                "errors": [
                    {
                        "errorType": "UnauthorizedException",
                        "message": "UnauthorizedException: Invalid API key",
                        "errorCode": 401,
                    }
                ]
            },
        }
    assert appsync.active_subscriptions == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"x-api-key": DEFAULT_API_KEY}, "the 'host' connection header must be this API's host"),
        ({"host": "elsewhere.example", "x-api-key": DEFAULT_API_KEY}, "must be this API's host"),
        (None, "Invalid API key"),
    ],
    ids=["no-host", "other-host", "bad-key"],
)
async def test_realtime_connection_with_bad_headers_gets_connection_error(
    appsync: LocalAppSync, headers: dict[str, str] | None, message: str
) -> None:
    auth = headers if headers is not None else {"host": appsync.host, "x-api-key": "da2-wrong"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(realtime_url(appsync, auth), protocols=["graphql-ws"]) as ws,
    ):
        # WHEN connection_init is sent on a connection whose header is wrong
        await ws.send_json({"type": "connection_init"})
        answer = await ws.receive_json(timeout=5)
        # THEN connection_error, then the server closes the socket
        assert answer["type"] == "connection_error"
        (error,) = answer["payload"]["errors"]
        assert message in error["message"]
        assert error["errorCode"] == 401
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


@pytest.mark.asyncio
async def test_realtime_requires_the_graphql_ws_subprotocol(appsync: LocalAppSync) -> None:
    async with aiohttp.ClientSession() as session:
        # WHEN a WebSocket is opened without the graphql-ws subprotocol THEN the handshake is refused (400)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(realtime_url(appsync))
        assert refused.value.status == 400


@pytest.mark.asyncio
async def test_keep_alive_messages_repeat() -> None:
    with LocalAppSync(SCHEMA, keep_alive=0.05) as appsync:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(realtime_url(appsync), protocols=["graphql-ws"]) as ws,
        ):
            await ws.send_json({"type": "connection_init"})
            # THEN after the ack, ka messages keep coming at the configured interval
            received = [await ws.receive_json(timeout=5) for _ in range(4)]
            assert received[0]["type"] == "connection_ack"
            assert [m["type"] for m in received[1:]] == ["ka", "ka", "ka"]


def test_stop_closes_open_subscriptions(subscribe: SubscribeFactory) -> None:
    # GIVEN a subscriber on a LocalAppSync
    appsync = LocalAppSync(SCHEMA).start()
    subscriber = subscribe(appsync, ON_PUBLISH)
    # WHEN the server stops
    began = time.perf_counter()
    appsync.stop()
    # THEN it stops promptly, closing the socket: the subscriber sees its subscription end
    assert time.perf_counter() - began < 2
    with pytest.raises((SubscriberError, TimeoutError)):
        subscriber.wait_for(1, timeout=5)


# --- the Bridge end to end ----------------------------------------------------------------------------------


def test_dynamodb_stream_through_a_decorated_handler_reaches_subscribers(subscribe: SubscribeFactory) -> None:
    began = time.perf_counter()
    # GIVEN the user's schema served by LocalAppSync, a subscriber, and a handler signing with IAM
    with LocalAppSync(SCHEMA, resolvers={"Mutation.publishOrder": poison_resolver}) as appsync:
        subscriber = subscribe(appsync, "subscription { onPublishOrder { id status seq } }")
        bridge = Bridge(
            appsync.url,
            IAMAuth(region=appsync.region, credentials=Credentials(TEMP_KEY_ID, TEMP_SECRET, TEMP_TOKEN)),
        )

        @bridge.dynamodb(PUBLISH)
        def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
            if record.event_name == "REMOVE":
                return None
            return {"input": {**record.new_image, "seq": record.sequence_number}}

        event = events.dynamodb(
            [
                {"new_image": {"id": "o-1", "status": "NEW"}},
                {"new_image": {"id": "o-2", "status": "NEW"}},
                {"event_name": "MODIFY", "new_image": {"id": "o-1", "status": "PAID"}},
                {"event_name": "REMOVE", "old_image": {"id": "o-2", "status": "NEW"}},
            ]
        )
        sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        try:
            # WHEN Lambda would call it
            response = handler(event, events.lambda_context())
        finally:
            bridge.close()
        # THEN no failure, and the subscriber received every change, each key in order
        assert response == {"batchItemFailures": []}
        received = [m["onPublishOrder"] for m in subscriber.wait_for(3, timeout=5)]
        assert sorted(received, key=lambda o: o["seq"]) == [
            {"id": "o-1", "status": "NEW", "seq": sequence[0]},
            {"id": "o-2", "status": "NEW", "seq": sequence[1]},
            {"id": "o-1", "status": "PAID", "seq": sequence[2]},
        ]
        assert [o["status"] for o in received if o["id"] == "o-1"] == ["NEW", "PAID"]
        assert {m.auth_mode for m in appsync.mutations} == {"AWS_IAM"}
        subscriber.close()
    # AND the whole test, server start included, takes well under a second
    assert time.perf_counter() - began < 1.0


def test_a_poison_record_is_reported_with_its_sequence_number(appsync: LocalAppSync) -> None:
    # GIVEN a handler publishing with the API key, and a poison change between two good ones of one key
    bridge = Bridge(appsync.url, ApiKeyAuth(str(appsync.api_key)), retry=RetryPolicy(attempts=1))
    handler = bridge.dynamodb(PUBLISH)(lambda record: {"input": record.new_image})
    event = events.dynamodb([{"new_image": {"id": "k", "status": s}} for s in ("NEW", "POISON", "PAID")])
    try:
        # WHEN handled
        response = handler(event, events.lambda_context())
    finally:
        bridge.close()
    # THEN the poison record and the later change of its key are reported, and only NEW was published
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert response == {
        "batchItemFailures": [{"itemIdentifier": sequence[1]}, {"itemIdentifier": sequence[2]}]
    }
    assert [p["status"] for p in appsync.published()] == ["NEW"]
    assert [m.error["errorType"] for m in appsync.mutations if m.error] == ["PoisonError"]


# --- the pytest plugin --------------------------------------------------------------------------------------

INNER_INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
{extra}
"""


def _plugin_installed() -> bool:
    """Whether the package's ``pytest11`` entry point ``streambridge`` is installed (then pytest loads it)."""
    return any(ep.name == "streambridge" for ep in importlib.metadata.entry_points(group="pytest11"))


# The inner sessions get the plugin the way users do (its entry point) once the package declares it;
# before that, by name.
INNER_ARGS = ("-p", "no:cacheprovider") + (
    () if _plugin_installed() else ("-p", "streambridge.testing._plugin")
)


def test_plugin_fixtures_serve_the_schema_from_the_ini_option_or_a_fixture(pytester: pytest.Pytester) -> None:
    # GIVEN a project whose ini names its schema, a sub-directory overriding it with a fixture,
    # and a resolvers fixture
    pytester.makeini(INNER_INI.format(extra="streambridge_schema = api/schema.graphql"))
    (pytester.path / "api").mkdir()
    (pytester.path / "api" / "schema.graphql").write_text(SCHEMA.read_text())
    pytester.makepyfile(
        test_ini="""
        def test_local_appsync_from_ini(local_appsync):
            import json, urllib.request
            body = json.dumps({"query": "{ ping }"}).encode()
            request = urllib.request.Request(
                local_appsync.url, data=body, headers={"x-api-key": local_appsync.api_key}
            )
            with urllib.request.urlopen(request) as response:
                assert json.loads(response.read()) == {"data": {"ping": "pong"}}

        def test_factory(local_appsync_factory):
            appsync = local_appsync_factory("type Query { a: Int }", api_key="da2-mine")
            assert appsync.running and appsync.api_key == "da2-mine"
        """,
        conftest="""
        import pytest

        @pytest.fixture
        def streambridge_resolvers():
            return {"Query.ping": lambda field, arguments: "pong"}
        """,
    )
    sub = pytester.mkpydir("other")
    (sub / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef streambridge_schema():\n"
        "    return 'type Query { other: String }'\n\n"
        "@pytest.fixture\ndef streambridge_resolvers():\n    return None\n"
    )
    (sub / "test_other.py").write_text(
        "def test_fixture_schema(local_appsync):\n"
        "    import json, urllib.request\n"
        "    body = json.dumps({'query': '{ other }'}).encode()\n"
        "    request = urllib.request.Request(local_appsync.url, data=body, "
        "headers={'x-api-key': local_appsync.api_key})\n"
        "    with urllib.request.urlopen(request) as response:\n"
        "        assert json.loads(response.read()) == {'data': {'other': None}}\n"
    )
    # WHEN pytest runs with the plugin THEN all three pass
    pytester.runpytest(*INNER_ARGS).assert_outcomes(passed=3)


def test_plugin_says_what_to_configure_when_no_schema_is_set(pytester: pytest.Pytester) -> None:
    # GIVEN a project with neither the ini option nor a streambridge_schema fixture
    pytester.makeini(INNER_INI.format(extra=""))
    pytester.makepyfile("def test_needs_schema(local_appsync):\n    pass\n")
    # WHEN the fixture is used
    result = pytester.runpytest(*INNER_ARGS)
    # THEN the test errors with a message naming both ways to configure it
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*local_appsync fixture needs your AppSync schema*streambridge_schema*"])


def test_plugin_reports_a_schema_path_that_does_not_exist(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI.format(extra="streambridge_schema = missing.graphql"))
    pytester.makepyfile("def test_needs_schema(local_appsync):\n    pass\n")
    result = pytester.runpytest(*INNER_ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*streambridge_schema ini option*missing.graphql*which is not a file*"])
