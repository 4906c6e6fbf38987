"""`streambridge doctor` against LocalAppSync: real HTTP, real-time WebSocket, IAM signatures, filters.

LocalAppSync serves the orders example's schema; the orders handler publishes with IAM (the only mode its
Mutation type allows) and the doctor subscribes with the API key, as a deployed client does. With
``mute_aliased_mutations=True`` LocalAppSync runs aliased top-level mutations but fires no subscription:
the failure the doctor exists to catch on the real AppSync.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streambridge._tools.cli import main
from streambridge._tools.doctor import (
    Delivery,
    Received,
    RequestShape,
    Sent,
    Shape,
    ShapeReport,
    copies,
    judge,
    match,
    realtime_url,
)
from streambridge.testing import DEFAULT_CREDENTIALS, LocalAppSync
from streambridge.testing import events as testing_events

ROOT = Path(__file__).parents[2]
ORDERS_SCHEMA = ROOT / "examples" / "orders" / "schema.graphql"
HANDLER = "examples.orders.handler:handler"
WAIT = "0.3"  # seconds: only the runs where messages never come wait this long

LocalAppSyncFactory = Callable[..., LocalAppSync]


@pytest.fixture(autouse=True)
def iam_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """LocalAppSync's test identity in the default AWS credential chain, and nothing else of the machine's."""
    access_key, secret_key, _token = DEFAULT_CREDENTIALS[0]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture(autouse=True)
def forget_imported_handlers() -> Iterator[None]:
    """Modules a test's command imported (its own or the orders example) do not outlive the test."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        examples = ("examples.orders", "examples.kinesis_dynamodb", "examples.webhook", "examples.pipes")
        if name.startswith(("doctorapp", *examples)):
            del sys.modules[name]


@pytest.fixture
def orders_api(local_appsync_factory: LocalAppSyncFactory) -> LocalAppSync:
    return local_appsync_factory(ORDERS_SCHEMA)


@pytest.fixture
def muted_api(local_appsync_factory: LocalAppSyncFactory) -> LocalAppSync:
    """An API where aliased top-level mutations run but fire no subscription."""
    return local_appsync_factory(ORDERS_SCHEMA, mute_aliased_mutations=True)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory to run the command in (the repository stays importable for the example)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    return tmp_path


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def doctor(
    capsys: pytest.CaptureFixture[str], api: LocalAppSync, *options: str, handler: str = HANDLER
) -> tuple[int, str, str]:
    """Run the doctor on ``api`` as a deployed orders stack is checked: IAM publishes, API key listens."""
    argv = [
        "doctor", handler, "--url", api.url, "--schema", str(ORDERS_SCHEMA), "--wait", WAIT,
        *(options or ("--iam", "--region", "us-east-1", "--subscribe-api-key", str(api.api_key))),
    ]  # fmt: skip
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def doctor_json(capsys: pytest.CaptureFixture[str], api: LocalAppSync, *options: str, **kw: Any) -> Any:
    code, out, _err = doctor(capsys, api, *options, "--json", **kw)
    report = json.loads(out)
    assert report["verdict"]["exit_code"] == code
    return report


# --------------------------------------------------------------------------------------------------
# Against LocalAppSync: both shapes, and an API where aliased batches fire nothing


def test_both_shapes_reach_the_subscriber_so_a_batching_handler_passes(
    capsys: pytest.CaptureFixture[str], orders_api: LocalAppSync
) -> None:
    # GIVEN the orders handler (Bridge() batches up to 50) and an API where every mutation fires
    # WHEN the doctor probes it
    code, out, err = doctor(capsys, orders_api)

    # THEN both shapes delivered every message in order, and the handler's shape passes
    assert code == 0, out + err
    assert (
        "single requests: 3 requests of 1 unaliased mutation\n  onOrderChanged: 3/3 messages, in order" in out
    )
    assert (
        "aliased batches (the handler's Bridge): 1 request of 3 aliased mutations\n"
        "  onOrderChanged: 3/3 messages, in order"
    ) in out
    assert out.rstrip().endswith(
        "OK: aliased batches reach every subscription: all probe messages arrived, in order"
    )
    # ... and what was published really went through LocalAppSync, as IAM, six times
    assert [m.auth_mode for m in orders_api.mutations] == ["AWS_IAM"] * 6
    assert [m.alias for m in orders_api.mutations] == ["publishOrder"] * 3 + ["m0", "m1", "m2"]


def test_aliased_batches_that_fire_nothing_fail_a_batching_handler_with_the_setting_that_works(
    capsys: pytest.CaptureFixture[str], muted_api: LocalAppSync
) -> None:
    # GIVEN an API whose aliased mutations fire no subscription, and a handler that batches
    # WHEN the doctor probes it
    code, out, _err = doctor(capsys, muted_api)

    # THEN it fails with the one setting that works
    assert code == 1
    assert "single requests: 3 requests of 1 unaliased mutation\n  onOrderChanged: 3/3 messages" in out
    assert "  onOrderChanged: 0/3 messages (waited" in out
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("FAIL: aliased batches did not fire onOrderChanged (0 of 3 messages in ")
    assert last.endswith("(0 of 3 messages in 0.3 s); use Bridge(batch_size=1)")


def test_a_batch_size_1_handler_passes_where_aliased_batches_fire_nothing(
    capsys: pytest.CaptureFixture[str], app: Path, muted_api: LocalAppSync
) -> None:
    # GIVEN the orders handler on a Bridge(batch_size=1)
    write_module(app, "doctorapp", """
        from examples.orders.handler import handler as orders

        handler = orders.with_bridge(orders.bridge.replace(batch_size=1))
    """)  # fmt: skip

    # WHEN the doctor probes an API where aliased batches fire nothing
    code, out, _err = doctor(capsys, muted_api, handler="doctorapp:handler")

    # THEN the handler's shape (single requests) delivers: exit 0, and it is told to keep the setting
    assert code == 0, out
    assert "single requests (the handler's Bridge): 3 requests of 1 unaliased mutation" in out
    assert out.rstrip().endswith("all probe messages arrived, in order; keep batch_size=1")


def test_json_report_shows_the_request_shapes_filters_latency_and_payload(
    capsys: pytest.CaptureFixture[str], orders_api: LocalAppSync
) -> None:
    # GIVEN / WHEN the doctor reports as JSON
    report = doctor_json(
        capsys,
        orders_api,
        "--iam",
        "--region",
        "us-east-1",
        "--subscribe-api-key",
        "da2-localappsync-test-key",
    )

    # THEN the report carries every observation
    assert report["verdict"] == {
        "exit_code": 0,
        "reason": "aliased batches reach every subscription: all probe messages arrived, in order",
    }
    assert report["configured"] == {"batch_size": 50, "shape": "batch"}
    assert report["endpoint"] == {
        "url": orders_api.url,
        "auth": "IAMAuth",
        "realtime_url": orders_api.realtime_url,
        "realtime_auth": "API key",
    }
    (subscription,) = report["subscriptions"]
    probe_id = subscription["filters"]["id"]
    assert probe_id.startswith("streambridge-doctor-")
    single, batch = report["shapes"]["single"], report["shapes"]["batch"]
    assert [(r["fields"], r["aliased"]) for r in single["requests"]] == [(1, False)] * 3
    assert [(r["fields"], r["aliased"]) for r in batch["requests"]] == [(3, True)]
    assert batch["requests"][0]["query"].startswith("mutation Publish(")
    assert single["requests"][0]["query"] == textwrap.dedent("""
        mutation PublishOrder($input: OrderInput!) {
          publishOrder(input: $input) { id status customer amount updatedAt seq }
        }
    """)  # the user's own document, as written
    for shape in (single, batch):
        (delivery,) = shape["subscriptions"]
        assert delivery["expected"] == delivery["delivered"] == 3
        assert delivery["in_order"]
        assert delivery["distinguishable"]  # the copies differ by seq
        assert 0 < delivery["latency_ms"]["median"] <= delivery["latency_ms"]["max"]
    seqs = [r["variables"]["input"]["seq"] for r in single["requests"]]
    assert seqs == ["400000000000000000100", "400000000000000000101", "400000000000000000102"]
    assert 100 < report["payload"]["largest_bytes"] < 1000
    assert report["payload"]["limit_bytes"] == 240_000
    assert report["schema"] == {"file": str(ORDERS_SCHEMA), "findings": []}


FILTERED_SCHEMA = """
type Order @aws_api_key { id: ID! status: String! region: String }
input OrderInput { id: ID! status: String! region: String }
type Query { ping: String }
type Mutation { publishOrder(input: OrderInput!): Order publishInvoice(input: OrderInput!): Order }
type Subscription {
  onOrder(id: ID, status: String): Order @aws_subscribe(mutations: ["publishOrder"])
  onRegion(region: String): Order @aws_subscribe(mutations: ["publishOrder"])
  onSomethingElse: Order @aws_subscribe(mutations: ["publishInvoice"])
}
"""


def test_subscriptions_filter_on_the_probes_own_values(
    capsys: pytest.CaptureFixture[str], app: Path, local_appsync_factory: LocalAppSyncFactory
) -> None:
    # GIVEN a schema whose subscriptions filter on id and status (and on a field the mutation does not
    # select), an API-key handler, and a probe event made by `streambridge events`
    (app / "schema.graphql").write_text(FILTERED_SCHEMA)
    write_module(app, "doctorapp", """
        from streambridge import ApiKeyAuth, Bridge

        bridge = Bridge(auth=ApiKeyAuth("unused"))

        @bridge.dynamodb("mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }")
        def handler(record):
            return {"input": record.new_image}
    """)  # fmt: skip
    event = testing_events.dynamodb([{"new_image": {"id": "probe-7", "status": "TEST"}}])
    (app / "probe.json").write_text(json.dumps(event))
    api = local_appsync_factory(app / "schema.graphql")

    # WHEN the doctor probes with that event
    argv = ["doctor", "doctorapp:handler", "--url", api.url, "--schema", "schema.graphql"]
    code = main([*argv, "--api-key", str(api.api_key), "--event", "probe.json", "--wait", WAIT, "--json"])
    report = json.loads(capsys.readouterr().out)

    # THEN each subscription listing the mutation was opened with the probe's values as filters (LocalAppSync
    # filters like AppSync: a wrong value would deliver nothing), a filter without a value was left open
    assert code == 0, report["verdict"]
    assert [(s["field"], s["filters"], s["unfiltered"]) for s in report["subscriptions"]] == [
        ("onOrder", {"id": "probe-7", "status": "TEST"}, []),
        ("onRegion", {}, ["region"]),
    ]
    assert report["probe"] == {
        "record": "DynamoDB Streams record #0 (400000000000000000100)",
        "from": "probe.json",
        "copies_per_shape": 3,
    }
    deliveries = {d["field"]: d for d in report["shapes"]["batch"]["subscriptions"]}
    assert deliveries["onOrder"]["delivered"] == deliveries["onRegion"]["delivered"] == 3
    # the copies map to the same variables (the handler does not publish the sequence number)
    assert deliveries["onOrder"]["distinguishable"] is False
    # ... and the schema check's findings for this handler are in the report
    findings = report["schema"]["findings"]
    assert [f["level"] for f in findings] == ["error", "warning", "warning"]
    assert "filter argument `region` of onRegion" in findings[0]["message"]


def test_a_single_event_source_is_probed_as_single_requests_only(
    capsys: pytest.CaptureFixture[str], app: Path, orders_api: LocalAppSync
) -> None:
    # GIVEN an EventBridge handler: one record per event, so one mutation per request
    write_module(app, "doctorapp", """
        from streambridge import Bridge

        bridge = Bridge()

        @bridge.eventbridge(
            "mutation P($input: OrderInput!) "
            "{ publishOrder(input: $input) { id status customer amount updatedAt seq } }"
        )
        def handler(event):
            return {"input": {"id": event.detail["id"], "status": event.detail["status"]}}
    """)  # fmt: skip

    # WHEN the doctor probes it with the built-in sample
    code, out, _err = doctor(capsys, orders_api, handler="doctorapp:handler")

    # THEN the single shape is judged, and the batch is said not to apply
    assert code == 0, out
    assert "single requests (the handler's Bridge): 3 requests of 1 unaliased mutation" in out
    assert "aliased batches: not probed: a EventBridge event carries one record" in out


# --------------------------------------------------------------------------------------------------
# Refusals and usage errors: exit 2, AppSync's own words, never a secret


SECRET_KEY = "da2-very-secret-key-0123456789"


def test_a_refused_subscription_exits_2_with_appsyncs_error_and_publishes_nothing(
    capsys: pytest.CaptureFixture[str], orders_api: LocalAppSync
) -> None:
    # GIVEN a wrong API key for the subscription
    # WHEN the doctor runs
    code, out, err = doctor(
        capsys, orders_api, "--iam", "--region", "us-east-1", "--subscribe-api-key", SECRET_KEY
    )

    # THEN it stops before publishing, with AppSync's error, and the key appears nowhere
    assert (code, out) == (2, "")
    assert err.startswith("streambridge doctor: error: the real-time endpoint refused the subscription")
    assert err.rstrip().endswith("UnauthorizedException: Invalid API key")
    assert orders_api.mutations == []
    assert SECRET_KEY not in err


def test_refused_publishing_exits_2_with_appsyncs_error(
    capsys: pytest.CaptureFixture[str], local_appsync_factory: LocalAppSyncFactory
) -> None:
    # GIVEN an API whose key lets clients subscribe but not publish (Mutation is @aws_iam only)
    api = local_appsync_factory(ORDERS_SCHEMA, api_key=SECRET_KEY)

    # WHEN the doctor publishes with the API key
    code, out, err = doctor(capsys, api, "--api-key", SECRET_KEY)

    # THEN exit 2 with AppSync's own error, and the key appears nowhere
    assert (code, out) == (2, "")
    assert err.rstrip().endswith(
        "error: publishing with ApiKeyAuth was refused: AppSync refused the mutation: "
        "Unauthorized: Not Authorized to access publishOrder on type Mutation"
    )
    assert SECRET_KEY not in err


@pytest.mark.parametrize("output", [(), ("--json",)], ids=["text", "json"])
def test_no_secret_is_printed_when_the_probe_succeeds(
    capsys: pytest.CaptureFixture[str], local_appsync_factory: LocalAppSyncFactory, output: tuple[str, ...]
) -> None:
    # GIVEN an API with a recognizable key, and IAM credentials with a recognizable secret
    api = local_appsync_factory(ORDERS_SCHEMA, api_key=SECRET_KEY)
    _access_key, secret_access_key, _token = DEFAULT_CREDENTIALS[0]

    # WHEN the doctor runs to the end
    code, out, err = doctor(
        capsys, api, "--iam", "--region", "us-east-1", "--subscribe-api-key", SECRET_KEY, *output
    )

    # THEN neither secret is in what it printed
    assert code == 0, out + err
    for secret in (SECRET_KEY, secret_access_key):
        assert secret not in out + err


TOKEN_SCHEMA = """
type Order { id: ID! status: String! }
input OrderInput { id: ID! status: String! }
type Query { ping: String }
type Mutation { publishOrder(input: OrderInput!): Order }
type Subscription { onOrder(id: ID): Order @aws_subscribe(mutations: ["publishOrder"]) }
"""


def test_a_token_publishes_and_subscribes_without_being_printed(
    capsys: pytest.CaptureFixture[str], app: Path, local_appsync_factory: LocalAppSyncFactory
) -> None:
    # GIVEN an API authorized by a Lambda authorizer token only
    token = "lambda-authorizer-secret-token-42"
    (app / "schema.graphql").write_text(TOKEN_SCHEMA)
    write_module(app, "doctorapp", """
        from streambridge import Bridge, TokenAuth

        bridge = Bridge(auth=TokenAuth("replaced-by-the-command-line"))

        @bridge.sqs("mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }")
        def handler(record):
            return {"input": record.json()}
    """)  # fmt: skip
    api = local_appsync_factory(
        app / "schema.graphql", api_key=None, credentials=(), tokens=[token], default_auth="AWS_LAMBDA"
    )

    # WHEN the doctor publishes and subscribes with the token (the SQS sample)
    argv = ["doctor", "doctorapp:handler", "--url", api.url, "--schema", "schema.graphql", "--token", token]
    code = main([*argv, "--wait", WAIT])
    out, err = capsys.readouterr()

    # THEN both shapes went through on the token, which is printed nowhere
    assert code == 0, out + err
    assert "real-time  " + api.realtime_url + " (token): accepted" in out
    assert {m.auth_mode for m in api.mutations} == {"AWS_LAMBDA"}
    assert token not in out + err


def test_without_a_schema_it_says_why_one_is_needed(
    capsys: pytest.CaptureFixture[str], orders_api: LocalAppSync
) -> None:
    # GIVEN / WHEN the doctor runs without --schema
    code = main(["doctor", HANDLER, "--url", orders_api.url, "--iam", "--region", "us-east-1"])
    out, err = capsys.readouterr()

    # THEN exit 2, explaining that directives are not introspectable, and nothing was sent
    assert (code, out) == (2, "")
    assert "--schema FILE is needed" in err
    assert "introspection does not expose directives" in err
    assert "get-introspection-schema" in err
    assert orders_api.requests == []


LOCAL = ["--url", "http://127.0.0.1:1/graphql"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([*LOCAL, "--schema", "s"], "one of the arguments --api-key --token --iam is required"),
        ([*LOCAL, "--api-key", "k", "--count", "1"], "--count: must be at least 2, got 1"),
        ([*LOCAL, "--api-key", "k", "--wait", "0"], "--wait: must be more than 0"),
        ([*LOCAL, "--api-key", "k", "--region", "us-east-1"], "--region goes with --iam"),
        ([*LOCAL, "--api-key", "k", "--schema", "missing.graphql"], "--schema: cannot read missing.graphql"),
        (["--api-key", "k"], "the following arguments are required: --url"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], app: Path, options: list[str], message: str
) -> None:
    code = main(["doctor", HANDLER, *options])
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_mapping_function_that_rejects_the_built_in_sample_asks_for_an_event(
    capsys: pytest.CaptureFixture[str], app: Path, orders_api: LocalAppSync
) -> None:
    # GIVEN a handler that needs an attribute the built-in sample does not have
    write_module(app, "doctorapp", """
        from streambridge import Bridge

        bridge = Bridge()

        @bridge.dynamodb("mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }")
        def handler(record):
            return {"input": {"id": record.new_image["orderId"], "status": "X"}}
    """)  # fmt: skip

    # WHEN the doctor runs on the built-in sample
    code, out, err = doctor(capsys, orders_api, handler="doctorapp:handler")

    # THEN exit 2 before anything is sent, saying what to pass
    assert (code, out) == (2, "")
    assert "the mapping function failed on DynamoDB Streams record #0" in err
    assert "KeyError: 'orderId'; pass --event FILE with a record it publishes" in err
    assert orders_api.requests == []


def test_an_event_of_another_source_exits_2(
    capsys: pytest.CaptureFixture[str], app: Path, orders_api: LocalAppSync
) -> None:
    (app / "sqs.json").write_text(json.dumps(testing_events.sqs([{"id": "o-1"}])))
    code, _out, err = doctor(capsys, orders_api, "--api-key", "k", "--event", "sqs.json")
    assert code == 2
    assert "the event is not a DynamoDB Streams event" in err


# --------------------------------------------------------------------------------------------------
# The pure parts


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://abc123.appsync-api.eu-west-1.amazonaws.com/graphql",
            "wss://abc123.appsync-realtime-api.eu-west-1.amazonaws.com/graphql",
        ),
        ("https://api.example.com/graphql", "wss://api.example.com/graphql/realtime"),
        ("http://127.0.0.1:20002/graphql", "ws://127.0.0.1:20002/graphql/realtime"),
        ("http://localhost:4000/graphql", "ws://localhost:4000/graphql/realtime"),
    ],
)
def test_the_realtime_url_follows_appsyncs_documented_rules(url: str, expected: str) -> None:
    assert realtime_url(url) == expected


def sent(*answers: str) -> list[Sent]:
    return [
        Sent("publishOrder", {"id": answer}, at=float(position)) for position, answer in enumerate(answers)
    ]


def test_match_pairs_messages_with_answers_and_measures_latency() -> None:
    # GIVEN three answers sent at t=0, 1, 2 and messages arriving out of order, plus a stranger's
    expected = sent("a", "b", "c")
    received = [
        Received({"id": "a"}, 0.5),
        Received({"id": "x"}, 0.6),
        Received({"id": "c"}, 2.25),
        Received({"id": "b"}, 2.5),
    ]

    # WHEN matched
    delivery = match(expected, received)

    # THEN all three arrived, out of order, the stranger counted apart
    assert delivery == Delivery(
        expected=3, delivered=3, in_order=False, distinguishable=True, latencies=(0.5, 0.25, 1.5), others=1
    )
    assert not delivery.complete


def test_match_of_alike_copies_cannot_tell_order() -> None:
    delivery = match(sent("a", "a"), [Received({"id": "a"}, 1.0)])
    assert (delivery.delivered, delivery.in_order, delivery.distinguishable) == (1, True, False)
    assert not delivery.complete


def report(
    shape: Shape, *, delivered: int, requests: int = 1, fields: int = 3, failed: tuple[str, ...] = ()
) -> ShapeReport:
    aliased = shape is Shape.BATCH
    shapes = tuple(RequestShape(fields, aliased, "mutation", {}, 0.01) for _ in range(requests))
    delivery = Delivery(3, delivered, True, True, (0.01,) * delivered, 0)
    return ShapeReport(shape, shapes, 3, failed, {"onOrder": delivery}, waited=2.0)


SINGLE_OK = report(Shape.SINGLE, delivered=3, requests=3, fields=1)
SINGLE_SILENT = report(Shape.SINGLE, delivered=0, requests=3, fields=1)
BATCH_OK = report(Shape.BATCH, delivered=3)
BATCH_SILENT = report(Shape.BATCH, delivered=0)


@pytest.mark.parametrize(
    ("configured", "single", "batch", "exit_code", "reason"),
    [
        (Shape.BATCH, SINGLE_OK, BATCH_OK, 0, "aliased batches reach every subscription"),
        (Shape.BATCH, SINGLE_OK, BATCH_SILENT, 1,
         "aliased batches did not fire onOrder (0 of 3 messages in 2.0 s); use Bridge(batch_size=1)"),
        (Shape.BATCH, SINGLE_SILENT, BATCH_SILENT, 1, "no request shape reached the subscribers"),
        (Shape.SINGLE, SINGLE_OK, BATCH_SILENT, 0, "in order; keep batch_size=1"),
        (Shape.SINGLE, SINGLE_OK, BATCH_OK, 0, "aliased batches work too, so a larger batch_size is safe"),
        (Shape.SINGLE, SINGLE_SILENT, BATCH_OK, 1, "yet aliased batches did reach them"),
        (Shape.BATCH, SINGLE_OK, report(Shape.BATCH, delivered=3, requests=2), 1,
         "the probe's aliased batches did not travel as intended (2 requests of 3 aliased mutations)"),
        (Shape.BATCH, SINGLE_OK, report(Shape.BATCH, delivered=0, failed=("rejected: x",)), 1,
         "AppSync rejected the probe's aliased batches: rejected: x; use Bridge(batch_size=1)"),
    ],
)  # fmt: skip
def test_the_verdict_judges_the_configured_shape_and_names_what_works(
    configured: Shape, single: ShapeReport, batch: ShapeReport, exit_code: int, reason: str
) -> None:
    verdict = judge(configured, single, batch)
    assert verdict.exit_code == exit_code
    assert reason in verdict.reason


def test_copies_get_distinct_increasing_identities() -> None:
    record = testing_events.dynamodb([{"new_image": {"id": "o-1"}}])["Records"][0]
    event = copies("dynamodb", record, 3, 2)
    assert [r["dynamodb"]["SequenceNumber"] for r in event["Records"]] == [
        "400000000000000000103",
        "400000000000000000104",
    ]
    sqs = testing_events.sqs([{"id": "o-1"}])["Records"][0]
    assert [r["messageId"] for r in copies("sqs", sqs, 0, 2)["Records"]] == [
        sqs["messageId"],
        sqs["messageId"] + "-1",
    ]


def test_the_kinesis_dynamodb_example_is_probed_with_distinct_changes(
    capsys: pytest.CaptureFixture[str], local_appsync_factory: LocalAppSyncFactory
) -> None:
    # GIVEN the Kinesis Data Streams for DynamoDB example on LocalAppSync serving its schema
    schema = ROOT / "examples" / "kinesis_dynamodb" / "schema.graphql"
    api = local_appsync_factory(schema)

    # WHEN the doctor probes its handler: the copies of the probe change must be other changes, or the
    # decorator would publish one of them and skip the rest as duplicates
    code = main(
        ["doctor", "examples.kinesis_dynamodb.handler:handler", "--url", api.url, "--schema", str(schema),
         "--wait", WAIT, "--iam", "--region", "us-east-1", "--subscribe-api-key", str(api.api_key)]
    )  # fmt: skip
    out, err = capsys.readouterr()

    # THEN every probe message reached the subscription, in order, in both request shapes
    assert code == 0, out + err
    assert "onOrderChanged: 3/3 messages, in order" in out
    assert "OK: aliased batches reach every subscription" in out


def test_the_webhook_example_is_probed_with_an_http_request_of_its_items(
    capsys: pytest.CaptureFixture[str], local_appsync_factory: LocalAppSyncFactory, tmp_path: Path
) -> None:
    # GIVEN the API Gateway webhook example on LocalAppSync, and a request the backend would POST
    schema = ROOT / "examples" / "webhook" / "schema.graphql"
    api = local_appsync_factory(schema)
    request = testing_events.http({"orderId": "doctor-o-1", "status": "PAID", "amount": 1.5})
    event_file = tmp_path / "request.json"
    event_file.write_text(json.dumps(request))

    # WHEN the doctor probes its handler with it (an HTTP request has items, not Records)
    code = main(
        ["doctor", "examples.webhook.handler:handler", "--url", api.url, "--schema", str(schema),
         "--event", str(event_file), "--wait", WAIT, "--iam", "--region", "us-east-1",
         "--subscribe-api-key", str(api.api_key)]
    )  # fmt: skip
    out, err = capsys.readouterr()

    # THEN the probe's items reach the subscription in order, in both request shapes
    assert code == 0, out + err
    assert "onOrderStatus: 3/3 messages, in order" in out


@pytest.mark.parametrize("source", ["dynamodb", "kinesis"])
def test_a_pipe_batch_given_with_event_is_probed_like_a_mapping_batch(
    capsys: pytest.CaptureFixture[str], orders_api: LocalAppSync, tmp_path: Path, source: str
) -> None:
    # GIVEN a handler of the orders schema and the JSON array an EventBridge pipe delivers
    module = tmp_path / "doctorapp_pipe.py"
    module.write_text(
        textwrap.dedent(
            f"""
            from streambridge import Bridge

            bridge = Bridge()
            PUBLISH = "mutation P($input: OrderInput!) {{ publishOrder(input: $input) {{ id status }} }}"

            @bridge.{source}(PUBLISH)
            def handler(record):
                item = record.new_image if hasattr(record, "new_image") else record.json()
                return {{"input": {{"id": item["id"], "status": item["status"]}}}}
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    item = {"id": "doctor-o-2", "status": "PAID"}
    build = testing_events.dynamodb if source == "dynamodb" else testing_events.kinesis
    batch = build([{"new_image": item}] if source == "dynamodb" else [item])
    event_file = tmp_path / "pipe.json"
    event_file.write_text(json.dumps(testing_events.pipe(batch)))

    # WHEN the doctor probes it with that array
    try:
        code = main(
            ["doctor", "doctorapp_pipe:handler", "--url", orders_api.url, "--schema", str(ORDERS_SCHEMA),
             "--event", str(event_file), "--wait", WAIT, "--iam", "--region", "us-east-1",
             "--subscribe-api-key", str(orders_api.api_key)]
        )  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path))
    out, err = capsys.readouterr()

    # THEN its copies are published and reach the subscription as a mapping's batch would
    assert code == 0, out + err
    assert "3/3 messages, in order" in out
