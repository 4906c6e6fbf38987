"""The examples/ handlers on AWS-shaped fake events and a fake AppSync.

For each example: what its handler publishes, skips and fails; its mutation document checked against
its own schema.graphql (with AppSync's scalars and directives); every request it sent valid against that
schema, variables included; and subscriptions that can only receive what the mutation selects.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_directive_values,
    get_named_type,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from streambridge import ApiKeyAuth, Bridge, DeliveryFailedError, IAMAuth, RetryPolicy, Status
from streambridge.testing import FakeAppSync, FieldError, events, pass_through
from streambridge.testing.events import Change

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = sorted(path.parent.name for path in EXAMPLES.glob("*/handler.py"))
GRAPHQL_EXAMPLES = sorted(path.parent.name for path in EXAMPLES.glob("*/schema.graphql"))
"""Examples publishing mutations (the others publish to AppSync Events channels: no schema, no document)."""
URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
UTC = timezone.utc

# What AppSync adds to every schema: its scalars and its auth / subscription directives.
APPSYNC_DEFINITIONS = """
scalar AWSDate
scalar AWSTime
scalar AWSDateTime
scalar AWSTimestamp
scalar AWSJSON
scalar AWSEmail
scalar AWSURL
scalar AWSPhone
scalar AWSIPAddress
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
directive @aws_iam on OBJECT | FIELD_DEFINITION
directive @aws_api_key on OBJECT | FIELD_DEFINITION
directive @aws_cognito_user_pools(cognito_groups: [String]) on OBJECT | FIELD_DEFINITION
directive @aws_oidc on OBJECT | FIELD_DEFINITION
directive @aws_lambda on OBJECT | FIELD_DEFINITION
"""

# AWSDateTime as AppSync documents it: extended ISO 8601, optional seconds and 1-9 fraction digits,
# and a compulsory zone (Z or +hh:mm[:ss]).
AWS_DATETIME = re.compile(r"-?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)")


def _parse_aws_datetime(value: Any) -> str:
    if not isinstance(value, str) or not AWS_DATETIME.fullmatch(value):
        raise ValueError(f"AWSDateTime must be an ISO 8601 date-time with a zone, got {value!r}")
    return value


@functools.cache
def appsync_schema(example: str) -> GraphQLSchema:
    """The example's schema.graphql as AppSync reads it, AWSDateTime checked like AppSync does."""
    schema = build_schema(APPSYNC_DEFINITIONS + (EXAMPLES / example / "schema.graphql").read_text())
    schema.type_map["AWSDateTime"].parse_value = _parse_aws_datetime  # type: ignore[attr-defined]
    return schema


def import_handler(example: str, monkeypatch: pytest.MonkeyPatch, url: str = URL) -> ModuleType:
    """Import the example's handler module anew, like a cold start, with the URL in the environment.

    Whatever was imported before comes back after the test (and nothing is left behind), so that other
    tests importing the example see the module they would have seen without this one.
    """
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", url)
    package = importlib.import_module(f"examples.{example}")
    name = f"{package.__name__}.handler"
    # set-then-delete: monkeypatch records the previous entry (or its absence) and restores it
    monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    del sys.modules[name]
    monkeypatch.setattr(package, "handler", None, raising=False)
    delattr(package, "handler")
    return importlib.import_module(name)


@dataclass
class Harness:
    """An example's handler module, publishing to a fake AppSync."""

    module: ModuleType
    appsync: FakeAppSync
    schema: GraphQLSchema

    @property
    def handler(self) -> Any:
        return self.module.handler

    def inputs(self, key: str | None = None, value: Any = None) -> list[dict[str, Any]]:
        """The ``input`` of each published mutation, in publish order (optionally where key == value)."""
        published = [p.arguments["input"] for p in self.appsync.published]
        return [i for i in published if key is None or i.get(key) == value]

    def invalid_requests(self) -> list[str]:
        """Why each request the handler sent would not pass AppSync's validation of this schema."""
        problems = []
        for request in self.appsync.requests:
            body = json.loads(request.body)
            document = parse(body["query"])
            errors = validate(self.schema, document)
            if not errors:
                operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
                coerced = get_variable_values(
                    self.schema, operation.variable_definitions or (), body.get("variables") or {}
                )
                errors = coerced if isinstance(coerced, list) else []
            problems += [error.message for error in errors]
        return problems


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    """``example(name, resolver)``: the example's handler with its Bridge swapped for one on a FakeAppSync.

    The example builds its Bridge at import (as a Lambda module should); the decorated handler keeps
    it as ``handler.bridge``, which the test replaces for the test's duration.
    """
    made: list[Bridge] = []

    def load(name: str, resolver: Callable[[str, dict[str, Any]], Any] = pass_through) -> Harness:
        module = import_handler(name, monkeypatch)
        appsync = FakeAppSync(resolver)
        bridge = Bridge(
            URL,
            ApiKeyAuth("da2-test"),
            transport=appsync,
            retry=RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.002),
        )
        made.append(bridge)
        monkeypatch.setattr(module.handler, "bridge", bridge)
        return Harness(module, appsync, appsync_schema(name))

    yield load
    for bridge in made:
        bridge.close()


def sequence_numbers(event: dict[str, Any]) -> list[str]:
    return [
        r["dynamodb"]["SequenceNumber"] if "dynamodb" in r else r["kinesis"]["sequenceNumber"]
        for r in event["Records"]
    ]


# --------------------------------------------------------------------------------------------------
# Every example


def mutation_selection(document: str) -> tuple[str, set[str]]:
    """The one top-level mutation field of a document and the names of the fields it selects."""
    operation = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    (top,) = operation.selection_set.selections
    assert isinstance(top, FieldNode)
    assert top.selection_set is not None
    return top.name.value, {s.name.value for s in top.selection_set.selections if isinstance(s, FieldNode)}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_example_builds_its_bridge_from_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the URL in STREAMBRIDGE_APPSYNC_URL, as the template sets it
    # WHEN the Lambda runtime imports the handler module (a cold start)
    module = import_handler(name, monkeypatch)

    # THEN its one Bridge publishes there with the Lambda role's credentials, and the handler uses it
    assert module.bridge.url == URL
    assert isinstance(module.bridge.auth, IAMAuth)
    assert module.handler.bridge is module.bridge


@pytest.mark.parametrize("name", GRAPHQL_EXAMPLES)
def test_the_example_mutation_is_valid_against_its_schema(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the example's mutation document and its schema.graphql with AppSync's definitions
    document = import_handler(name, monkeypatch).handler.document
    schema = appsync_schema(name)

    # WHEN graphql-core validates the document
    errors = validate(schema, parse(document))

    # THEN it is valid, and publishes exactly one field of the schema's Mutation type
    assert errors == []
    field, _ = mutation_selection(document)
    assert schema.mutation_type is not None
    assert field in schema.mutation_type.fields


@pytest.mark.parametrize("name", GRAPHQL_EXAMPLES)
def test_subscribers_can_only_ask_for_what_the_mutation_selects(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the example's mutation and the subscriptions that list it in @aws_subscribe
    field, selected = mutation_selection(import_handler(name, monkeypatch).handler.document)
    schema = appsync_schema(name)
    assert schema.subscription_type is not None
    aws_subscribe = schema.get_directive("aws_subscribe")
    assert aws_subscribe is not None
    subscriptions = {
        sub_name: sub
        for sub_name, sub in schema.subscription_type.fields.items()
        if field in ((get_directive_values(aws_subscribe, sub.ast_node) or {}).get("mutations") or ())  # type: ignore[arg-type]
    }
    assert subscriptions, f"no subscription of {name} lists {field} in @aws_subscribe"

    for sub_name, subscription in subscriptions.items():
        # THEN every field a subscriber may select, and every argument it may filter on, is in the
        # mutation's selection set (AppSync sends subscribers the mutation's selection, nothing more)
        returned = get_named_type(subscription.type)
        assert set(returned.fields) <= selected, (sub_name, set(returned.fields) - selected)  # type: ignore[union-attr]
        assert set(subscription.args) <= selected, (sub_name, set(subscription.args) - selected)


# --------------------------------------------------------------------------------------------------
# orders: DynamoDB Streams


def orders_resolver(_field: str, arguments: dict[str, Any]) -> Any:
    """Like resolvers/Mutation.publishOrder.req.vtl: a negative amount is a ValidationError."""
    order = arguments["input"]
    if order.get("amount") is not None and order["amount"] < 0:
        raise FieldError("amount must not be negative", "ValidationError")
    return order


def test_the_fake_orders_resolver_rejects_what_the_real_one_rejects() -> None:
    # GIVEN the deployed request template of publishOrder
    vtl = (EXAMPLES / "orders" / "resolvers" / "Mutation.publishOrder.req.vtl").read_text()
    # THEN it rejects what orders_resolver rejects, the same way
    assert "$ctx.args.input.amount < 0" in vtl
    assert '$util.error("amount must not be negative", "ValidationError")' in vtl


STATUS_MINUTE = {"NEW": 0, "PAID": 1, "SHIPPED": 2, "DELIVERED": 3}


def order(order_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """An orders table item as the API writes it."""
    return {
        "id": order_id,
        "status": status,
        "customer": "c-1",
        "amount": 12.5,
        "updatedAt": f"2026-01-01T10:0{STATUS_MINUTE[status]}:00Z",
        "expiresAt": 1_769_904_000,  # the table's TTL attribute, not a field of the schema
        **fields,
    }


def test_orders_publishes_inserts_and_updates_in_order_and_skips_ttl_deletions(
    example: Callable[..., Harness],
) -> None:
    # GIVEN a stream batch: o-1 created then paid, o-2 deleted by Time to Live, o-3 created; the items
    # carry the table's TTL attribute expiresAt, which the schema does not have
    harness = example("orders", orders_resolver)
    new, paid = order("o-1", "NEW"), order("o-1", "PAID")
    expired = order("o-2", "DELIVERED", expiresAt=1_767_000_000)
    event = events.dynamodb(
        [
            Change.insert(new),
            Change.modify(new, paid),
            Change.remove(expired, ttl=True),
            Change.insert(order("o-3", "NEW")),
        ]
    )
    seq = sequence_numbers(event)

    # WHEN the handler runs
    result = harness.handler.process(event, events.lambda_context())

    # THEN the REMOVE made by TTL is skipped and the rest is published, o-1 in stream order, with seq
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED,
        Status.PUBLISHED,
        Status.SKIPPED,
        Status.PUBLISHED,
    ]
    assert harness.inputs("id", "o-1") == [
        {
            "id": "o-1",
            "status": "NEW",
            "customer": "c-1",
            "amount": 12.5,
            "updatedAt": new["updatedAt"],
            "seq": seq[0],
        },
        {
            "id": "o-1",
            "status": "PAID",
            "customer": "c-1",
            "amount": 12.5,
            "updatedAt": paid["updatedAt"],
            "seq": seq[1],
        },
    ]
    assert [i["seq"] for i in harness.inputs("id", "o-3")] == [seq[3]]
    assert all("expiresAt" not in i for i in harness.inputs())
    assert harness.invalid_requests() == []


def test_orders_a_rejected_change_holds_back_the_later_changes_of_its_order(
    example: Callable[..., Harness],
) -> None:
    # GIVEN o-1 NEW, o-1 PAID with a negative amount (the resolver rejects it), o-1 SHIPPED, o-2 NEW
    harness = example("orders", orders_resolver)
    new, bad, shipped = order("o-1", "NEW"), order("o-1", "PAID", amount=-5.0), order("o-1", "SHIPPED")
    event = events.dynamodb(
        [
            Change.insert(new),
            Change.modify(new, bad),
            Change.modify(bad, shipped),
            Change.insert(order("o-2", "NEW")),
        ]
    )
    seq = sequence_numbers(event)

    # WHEN Lambda calls the entry point
    response = harness.handler(event, events.lambda_context())

    # THEN Lambda re-delivers from o-1's rejected change (SHIPPED was held back), and o-2 went out
    assert response == {"batchItemFailures": [{"itemIdentifier": seq[1]}, {"itemIdentifier": seq[2]}]}
    assert sorted((i["id"], i["status"]) for i in harness.inputs()) == [("o-1", "NEW"), ("o-2", "NEW")]
    assert harness.invalid_requests() == []


class FakeTable:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, Item: dict[str, Any]) -> None:  # noqa: N803 - boto3's argument name
        self.items.append(Item)


def load_writer(monkeypatch: pytest.MonkeyPatch) -> tuple[Callable[..., dict[str, Any]], FakeTable]:
    """The template's inline API function (PUT /orders/{id}), on a fake DynamoDB table."""
    import boto3
    from cfnlint.decode import decode

    template, matches = decode(str(EXAMPLES / "orders" / "template.yaml"))
    assert not matches
    assert template is not None
    code = template["Resources"]["OrdersWriterFunction"]["Properties"]["InlineCode"]
    table = FakeTable()
    monkeypatch.setattr(boto3, "resource", lambda _service: SimpleNamespace(Table=lambda _name: table))
    monkeypatch.setenv("TABLE_NAME", "Orders")
    monkeypatch.setenv("ORDER_TTL_DAYS", "30")
    namespace: dict[str, Any] = {}
    exec(compile(code, "OrdersWriterFunction.InlineCode", "exec"), namespace)  # noqa: S102 - our template's code
    return namespace["handler"], table


def test_orders_api_writes_the_ttl_attribute_and_the_publisher_leaves_it_out(
    example: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the template's API function and the publisher
    writer, table = load_writer(monkeypatch)
    harness = example("orders")
    body = {"status": "NEW", "customer": "c-9", "amount": 19.99, "extra": "not stored"}

    # WHEN an order is PUT through the HTTP API, and its INSERT reaches the publisher
    response = writer(
        {"pathParameters": {"id": "o-9"}, "body": json.dumps(body), "isBase64Encoded": False}, None
    )
    result = harness.handler.process(events.dynamodb([Change.insert(table.items[0])]))

    # THEN the item expires 30 days from now, and the published order has every schema field but that one
    assert response["statusCode"] == 200
    item = table.items[0]
    assert abs(item["expiresAt"] - (time.time() + 30 * 86400)) < 60
    assert "extra" not in item
    assert result.published == 1
    (published,) = harness.inputs()
    assert published["id"] == "o-9"
    assert published["amount"] == 19.99
    assert published["updatedAt"] == item["updatedAt"]
    assert "expiresAt" not in published
    assert harness.invalid_requests() == []


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"customer": "no status"}'])
def test_orders_api_refuses_a_body_without_a_status(monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    # GIVEN the template's API function
    writer, table = load_writer(monkeypatch)

    # WHEN the body is not a JSON object with a status
    response = writer({"pathParameters": {"id": "o-9"}, "body": body}, None)

    # THEN it answers 400 and stores nothing
    assert response["statusCode"] == 400
    assert table.items == []


# --------------------------------------------------------------------------------------------------
# orders: the subscriber script


def test_orders_subscriber_drops_redelivered_and_stale_changes() -> None:
    from examples.orders.subscriber import OrderFeed

    # GIVEN what a client receives when Lambda re-delivers a batch: o-1's first two changes again.
    # Sequence numbers differ in length: "1000" is newer than "105".
    feed = OrderFeed()
    received = [
        ("o-1", "100"),
        ("o-1", "105"),
        ("o-2", "101"),
        ("o-1", "100"),
        ("o-1", "105"),
        ("o-1", "1000"),
    ]

    # WHEN each change arrives
    verdicts = [feed.receive({"id": order_id, "seq": seq}) for order_id, seq in received]

    # THEN only changes newer than the last one shown for their order are kept
    assert verdicts == ["new", "new", "new", "stale", "duplicate", "new"]
    assert feed.latest == {"o-1": 1000, "o-2": 101}


def test_orders_subscriber_prints_changes_from_the_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    import gql
    from examples.orders import subscriber

    # GIVEN an AppSync endpoint that pushes two changes, then both again (a re-delivered batch)
    changes = [
        {"onOrderChanged": {"id": "o-1", "status": "NEW", "amount": 1.0, "seq": "7"}},
        {"onOrderChanged": {"id": "o-1", "status": "PAID", "amount": 1.0, "seq": "8"}},
    ]
    messages = changes + changes
    seen: dict[str, Any] = {}

    class FakeSession:
        async def subscribe(self, request: Any) -> AsyncIterator[dict[str, Any]]:
            seen["request"] = request
            for message in messages:
                yield message

    class FakeClient:
        def __init__(self, *, transport: Any, fetch_schema_from_transport: bool) -> None:
            seen["transport"] = transport

        async def __aenter__(self) -> FakeSession:
            return FakeSession()

        async def __aexit__(self, *_: object) -> None:
            return None

    monkeypatch.setattr(gql, "Client", FakeClient)
    lines: list[str] = []

    # WHEN the subscriber watches one order
    asyncio.run(subscriber.watch(URL, "da2-key", "o-1", out=lines.append))

    # THEN it connected to the real-time endpoint, filtered on the order, and dropped the copies
    assert seen["transport"].url.startswith("wss://example123.appsync-realtime-api.us-east-1.amazonaws.com/")
    assert seen["request"].variable_values == {"id": "o-1"}
    assert "onOrderChanged(id: $id)" in seen["request"].payload["query"]
    assert [line.split()[:2] for line in lines[1:3]] == [["o-1", "NEW"], ["o-1", "PAID"]]
    assert lines[3].startswith("  (dropped stale: o-1            NEW")
    assert lines[4].startswith("  (dropped duplicate: o-1            PAID")


def test_orders_subscriber_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from examples.orders import subscriber

    # GIVEN the script, its subscription replaced by a recorder
    calls: list[tuple[str, str, str | None]] = []

    async def fake_watch(url: str, api_key: str, order_id: str | None = None) -> None:
        calls.append((url, api_key, order_id))

    monkeypatch.setattr(subscriber, "watch", fake_watch)

    # WHEN it runs with a URL and a key THEN it watches every order
    assert subscriber.main(["--url", URL, "--api-key", "da2-key"]) == 0
    assert calls == [(URL, "da2-key", None)]
    # AND without either, or with a URL that is not one, it stops with a usage error
    for argv in (["--url", URL], ["--api-key", "k"], ["--url", "example.com", "--api-key", "k"]):
        with pytest.raises(SystemExit) as stopped:
            subscriber.parse_args(argv)
        assert stopped.value.code == 2


def test_orders_subscription_document_is_valid_against_the_schema() -> None:
    from examples.orders.subscriber import SUBSCRIBE

    # THEN the subscriber asks only for what the schema (and so publishOrder's selection) has
    assert validate(appsync_schema("orders"), parse(SUBSCRIBE)) == []


# --------------------------------------------------------------------------------------------------
# kinesis_telemetry


def reading(device: str, value: Any, minute: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "deviceId": device,
        "metric": "temperature",
        "value": value,
        "unit": "C",
        "recordedAt": f"2026-01-01T10:{minute:02d}:00Z",
        **fields,
    }


def test_kinesis_readings_stay_in_order_per_device_and_malformed_ones_are_skipped(
    example: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN readings of two devices (partition key = device id), two of them malformed
    harness = example("kinesis_telemetry")
    missing_value = reading("dev-1", None)
    del missing_value["value"]
    event = events.kinesis(
        [
            {"data": reading("dev-1", 20.5, 0), "partition_key": "dev-1"},
            {"data": b"\xff not json", "partition_key": "dev-2"},
            {"data": reading("dev-2", 30, 0), "partition_key": "dev-2"},
            {"data": missing_value, "partition_key": "dev-1"},
            {"data": reading("dev-1", 21.0, 1), "partition_key": "dev-1"},
        ]
    )
    seq = sequence_numbers(event)

    # WHEN Lambda calls the entry point
    with caplog.at_level(logging.WARNING, logger="examples.kinesis_telemetry.handler"):
        response = harness.handler(event, events.lambda_context())

    # THEN nothing is re-delivered: malformed readings are skipped with a warning naming the record
    assert response == {"batchItemFailures": []}
    assert [i["value"] for i in harness.inputs("deviceId", "dev-1")] == [20.5, 21.0]
    assert [i["seq"] for i in harness.inputs("deviceId", "dev-1")] == [seq[0], seq[4]]
    assert harness.inputs("deviceId", "dev-2") == [reading("dev-2", 30.0, 0) | {"seq": seq[2]}]
    warnings = [r.getMessage() for r in caplog.records if r.name == "examples.kinesis_telemetry.handler"]
    assert len(warnings) == 2
    assert "Kinesis record #1" in warnings[0]
    assert "Kinesis record #3" in warnings[1]
    assert "value must be a finite number" in warnings[1]
    assert harness.invalid_requests() == []


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"[20.5]", "JSON object"),
        (reading("", 1.0), "deviceId"),
        (reading("dev-1", "20.5"), "finite number"),
        (reading("dev-1", True), "finite number"),
        (b'{"deviceId": "dev-1", "metric": "t", "value": NaN, "recordedAt": "2026-01-01T10:00:00Z"}', "NaN"),
        (reading("dev-1", 1.0, recordedAt="2026-01-01T10:00:00"), "recordedAt"),
        (reading("dev-1", 1.0, recordedAt="yesterday"), "recordedAt"),
        (reading("dev-1", 1.0, metric=7), "metric"),
    ],
)
def test_kinesis_malformed_reading_is_skipped(
    example: Callable[..., Harness], caplog: pytest.LogCaptureFixture, data: Any, why: str
) -> None:
    # GIVEN one malformed reading
    harness = example("kinesis_telemetry")

    # WHEN the handler runs
    with caplog.at_level(logging.WARNING, logger="examples.kinesis_telemetry.handler"):
        result = harness.handler.process(events.kinesis([{"data": data, "partition_key": "dev-1"}]))

    # THEN it is skipped (not retried), nothing is sent, and the warning says why
    assert result.skipped == 1
    assert harness.appsync.requests == []
    assert why in caplog.text


def test_kinesis_a_reading_appsync_rejects_holds_back_only_its_device(
    example: Callable[..., Harness],
) -> None:
    # GIVEN an API whose resolver rejects dev-2's implausible reading
    def resolver(_field: str, arguments: dict[str, Any]) -> Any:
        if arguments["input"]["value"] > 1000:
            raise FieldError("implausible reading", "ValidationError")
        return arguments["input"]

    harness = example("kinesis_telemetry", resolver)
    event = events.kinesis(
        [
            {"data": reading("dev-2", 5000.0, 0), "partition_key": "dev-2"},
            {"data": reading("dev-1", 20.0, 0), "partition_key": "dev-1"},
            {"data": reading("dev-2", 25.0, 1), "partition_key": "dev-2"},
        ]
    )
    seq = sequence_numbers(event)

    # WHEN Lambda calls the entry point
    response = harness.handler(event)

    # THEN dev-2's later reading waits behind the rejected one (Lambda re-delivers both); dev-1 went out
    assert response == {"batchItemFailures": [{"itemIdentifier": seq[0]}, {"itemIdentifier": seq[2]}]}
    assert [i["deviceId"] for i in harness.inputs()] == ["dev-1"]


# --------------------------------------------------------------------------------------------------
# cloudwatch_alarms


@pytest.mark.parametrize("via", ["lambda", "sns"])
def test_cloudwatch_alarm_change_is_published_from_either_delivery(
    example: Callable[..., Harness], via: str
) -> None:
    # GIVEN an alarm state change delivered by the alarm's Lambda action, or through SNS
    harness = example("cloudwatch_alarms")
    event = events.cloudwatch_alarm(
        "HighCpu",
        state="ALARM",
        previous_state="OK",
        via=via,  # type: ignore[arg-type]
        region="eu-west-1",
        time=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
    )

    # WHEN Lambda calls the entry point
    answer = harness.handler(event, events.lambda_context())

    # THEN the dashboard gets the same change either way
    assert answer == {"published": 1, "skipped": 0}
    (published,) = harness.inputs()
    assert published.pop("reason").startswith("Threshold Crossed")
    assert published == {
        "name": "HighCpu",
        "state": "ALARM",
        "previousState": "OK",
        "changedAt": "2026-03-01T12:30:00.000Z",
        "region": "eu-west-1",
        "accountId": "123456789012",
        "delivery": via,
    }
    assert harness.invalid_requests() == []


def test_cloudwatch_alarm_not_published_raises_so_lambda_retries(example: Callable[..., Harness]) -> None:
    # GIVEN an API that rejects the change
    def resolver(_field: str, _arguments: dict[str, Any]) -> Any:
        raise FieldError("not authorized", "Unauthorized")

    harness = example("cloudwatch_alarms", resolver)

    # WHEN Lambda calls the entry point THEN it raises: Lambda retries the asynchronous invocation,
    # then sends it to the on-failure destination
    with pytest.raises(DeliveryFailedError, match=r"CloudWatch alarm .* was not published") as raised:
        harness.handler(events.cloudwatch_alarm("HighCpu", state="OK", previous_state="ALARM"))
    assert raised.value.result.failed == 1


# --------------------------------------------------------------------------------------------------
# aurora


def test_aurora_trigger_payload_is_published_as_an_inventory_level(example: Callable[..., Harness]) -> None:
    # GIVEN the JSON object trigger.sql builds for an updated row
    harness = example("aurora")
    payload = events.aurora(
        json.loads(
            '{"sku": "sku-1", "warehouse": "berlin", "quantity": 41, "version": 7,'
            ' "updated_at": "2026-01-01T10:00:00Z"}'
        )
    )

    # WHEN Lambda calls the entry point
    answer = harness.handler(payload, events.lambda_context())

    # THEN the new stock level is published
    assert answer == {"published": 1, "skipped": 0}
    assert harness.inputs() == [
        {
            "sku": "sku-1",
            "warehouse": "berlin",
            "quantity": 41,
            "version": 7,
            "updatedAt": "2026-01-01T10:00:00Z",
        }
    ]
    assert harness.invalid_requests() == []


@pytest.mark.parametrize("payload", [{"warehouse": "berlin", "quantity": 1, "version": 1}, [1, 2]])
def test_aurora_payload_the_trigger_does_not_build_fails_loudly(
    example: Callable[..., Harness], payload: Any
) -> None:
    # GIVEN a payload that is not the object trigger.sql builds
    harness = example("aurora")

    # WHEN Lambda calls the entry point THEN it raises, naming the record (the on-failure destination
    # keeps it; a lambda_sync caller gets the message), and nothing is sent
    with pytest.raises(DeliveryFailedError, match="Aurora record #0"):
        harness.handler(events.aurora(payload))

    assert harness.appsync.requests == []


def sql_call_arguments(sql: str, function: str) -> str:
    """The text between the parentheses of the first call of ``function`` (balanced)."""
    start = sql.index(f"{function}(") + len(function) + 1
    depth = 1
    for position in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[position], 0)
        if depth == 0:
            return sql[start:position]
    raise AssertionError(f"unbalanced call of {function}")


def sql_arguments(arguments: str) -> list[str]:
    """Split a call's argument text at its top-level commas (not inside parentheses or quotes)."""
    parts, depth, quoted, start = [], 0, False, 0
    for position, char in enumerate(arguments):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == ",":
            parts.append(arguments[start:position].strip())
            start = position + 1
    return [*parts, arguments[start:].strip()]


@pytest.mark.parametrize(
    ("dialect", "invoke", "build_payload"),
    [
        ("Aurora MySQL", "lambda_async", "JSON_OBJECT"),
        ("Aurora PostgreSQL", "aws_lambda.invoke", "json_build_object"),
    ],
)
def test_aurora_trigger_sql_sends_the_keys_the_handler_reads(
    monkeypatch: pytest.MonkeyPatch, dialect: str, invoke: str, build_payload: str
) -> None:
    # GIVEN the trigger of one dialect in trigger.sql, comments left out
    text = (EXAMPLES / "aurora" / "trigger.sql").read_text()
    part = text[text.index(f"-- {dialect}") :]
    sql = re.sub(r"--[^\n]*", "", part)

    # WHEN its Lambda call is read
    call = sql_call_arguments(sql, invoke)
    keys = sql_arguments(sql_call_arguments(call, build_payload))[::2]  # key, value, key, value...

    # THEN it invokes asynchronously with exactly the keys the handler maps
    assert keys == [f"'{key}'" for key in import_handler("aurora", monkeypatch).FIELDS]
    if invoke == "aws_lambda.invoke":
        assert "aws_commons.create_lambda_function_arn(" in call
        assert call.rstrip().endswith("'Event'")
    else:
        assert "CALL mysql.lambda_async" not in sql  # the deprecated procedure, absent from version 3
        assert re.search(r"SELECT lambda_async\(", sql)


# --------------------------------------------------------------------------------------------------
# eventbridge


def test_eventbridge_shipment_change_is_published_and_other_events_skipped(
    example: Callable[..., Harness],
) -> None:
    # GIVEN a ShipmentStatusChanged event as the rule delivers it, and an event of another type
    harness = example("eventbridge")
    shipment = {
        "shipmentId": "s-1",
        "orderId": "o-1",
        "status": "IN_TRANSIT",
        "carrier": "DHL",
        "trackingNumber": "JD0001",
        "eta": "2026-01-03T18:00:00Z",
    }
    event = events.eventbridge(
        shipment,
        source="com.example.shipping",
        detail_type="ShipmentStatusChanged",
        time=datetime(2026, 1, 2, 9, 15, tzinfo=UTC),
    )
    other = events.eventbridge(
        {"shipmentId": "s-1"}, source="com.example.shipping", detail_type="LabelPrinted"
    )

    # WHEN Lambda calls the entry point with each
    answers = [harness.handler(event, events.lambda_context()), harness.handler(other)]

    # THEN the shipment change is published with the event's id and time; the other is skipped
    assert answers == [{"published": 1, "skipped": 0}, {"published": 0, "skipped": 1}]
    assert harness.inputs() == [
        {
            "id": "s-1",
            "orderId": "o-1",
            "status": "IN_TRANSIT",
            "carrier": "DHL",
            "trackingNumber": "JD0001",
            "eta": "2026-01-03T18:00:00Z",
            "updatedAt": "2026-01-02T09:15:00Z",
            "eventId": event["id"],
        }
    ]
    assert harness.invalid_requests() == []


def test_eventbridge_shipment_event_without_its_ids_raises(example: Callable[..., Harness]) -> None:
    # GIVEN a ShipmentStatusChanged event without shipmentId and orderId
    harness = example("eventbridge")
    event = events.eventbridge(
        {"status": "DELIVERED"}, source="com.example.shipping", detail_type="ShipmentStatusChanged"
    )

    # WHEN Lambda calls the entry point THEN it raises, naming the missing key, and nothing is sent
    with pytest.raises(DeliveryFailedError, match="shipmentId"):
        harness.handler(event)

    assert harness.appsync.requests == []


def test_the_outages_example_rides_out_the_brown_out_and_fails_fast_when_down(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from examples import outages

    # WHEN the example runs its three scenarios on virtual time
    outages.main()
    lines = capsys.readouterr().out.splitlines()
    # THEN the brown-out and the throttled API publish every change, and the outage reports them all
    report = dict(zip(lines[0::3], lines[1::3], strict=False))
    assert "{'published': 2000}" in report["brown-out (429, 500, 503, reset, 502, then 30% faults):"]
    assert "{'published': 2000}" in report["throttled to 50 requests/s, 5 changes a request:"]
    assert "{'failed': 2000}" in report["down (every request 503):"]
    assert "EndpointDownError" in lines[-1]
    assert "batchItemFailures: 2000" in lines[-1]
