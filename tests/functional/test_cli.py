"""The `streambridge` command, run in-process through `main()` (plus one run of the installed script).

`invoke` publishes for real, over HTTP, to a small local GraphQL endpoint that executes each request with
graphql-core against the orders example's schema (so the batched documents are validated too).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from graphql import GraphQLError, graphql_sync

from streambridge._sources import SOURCES
from streambridge._tools.check import appsync_schema
from streambridge._tools.cli import main
from streambridge.testing import events as testing_events

ROOT = Path(__file__).parents[2]
ORDERS = ROOT / "examples" / "orders"
URL_ENV = "STREAMBRIDGE_APPSYNC_URL"
HANDLER = "examples.orders.handler:handler"


@dataclass
class Endpoint:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    api_keys: list[str | None] = field(default_factory=list)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    """A local AppSync stand-in on 127.0.0.1: runs the orders schema; status POISON fails its field."""
    schema = appsync_schema((ORDERS / "schema.graphql").read_text())

    def publish_order(_info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002 - the argument's name
        if input["status"] == "POISON":
            raise GraphQLError("poison record")
        return input

    async def graphql(request: web.Request) -> web.Response:
        body = await request.json()
        state.requests.append(body)
        state.api_keys.append(request.headers.get("x-api-key"))
        result = graphql_sync(
            schema, body["query"], {"publishOrder": publish_order}, variable_values=body.get("variables")
        )
        return web.json_response(result.formatted)

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/graphql", graphql)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state = Endpoint(f"http://127.0.0.1:{port}/graphql")
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@pytest.fixture(autouse=True)
def forget_imported_handlers() -> Iterator[None]:
    """Modules a test's command imported (its own or the orders example) do not outlive the test."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("cliapp", "examples.orders")):
            del sys.modules[name]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory to run the command in."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def events_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, "events", *argv)
    assert (code, err) == (0, "")
    return json.loads(out)


# --------------------------------------------------------------------------------------------------
# events: every source's output reads back through the library's own parser


def test_dynamodb_events_repeat_with_increasing_sequence_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    event = events_json(
        capsys,
        "dynamodb",
        "--old-image", '{"id": "o-1", "status": "NEW"}',
        "--new-image", '{"id": "o-1", "status": "PAID", "amount": 12.5}',
        "--count", "3",
    )  # fmt: skip
    records = SOURCES["dynamodb"].parse(event)
    assert [r.event_name for r in records] == ["MODIFY"] * 3  # type: ignore[attr-defined]
    assert records[0].new_image == {"id": "o-1", "status": "PAID", "amount": 12.5}  # type: ignore[attr-defined]
    assert records[0].old_image == {"id": "o-1", "status": "NEW"}  # type: ignore[attr-defined]
    sequence = [int(r.sequence_number) for r in records]  # type: ignore[attr-defined]
    assert sequence == sorted(set(sequence))


def test_dynamodb_events_take_key_names_event_name_and_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    image = tmp_path / "order.json"
    image.write_text('{"pk": "tenant-1", "sk": "order-9", "status": "PAID"}')
    event = events_json(
        capsys, "dynamodb", "--old-image", f"@{image}", "--keys", "pk,sk", "--ttl", "--table", "T"
    )
    (record,) = SOURCES["dynamodb"].parse(event)
    assert record.event_name == "REMOVE"  # type: ignore[attr-defined]
    assert record.keys == {"pk": "tenant-1", "sk": "order-9"}  # type: ignore[attr-defined]
    assert event["Records"][0]["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"
    assert ":table/T/" in event["Records"][0]["eventSourceARN"]


@pytest.mark.parametrize("source", [name.replace("_", "-") for name in SOURCES])
def test_every_source_prints_a_valid_sample_event_without_options(
    capsys: pytest.CaptureFixture[str], source: str
) -> None:
    # GIVEN no option at all, as `sam local generate-event SOURCE ...` takes none
    event = events_json(capsys, source)
    # THEN the sample parses as that source's event, one record
    assert len(SOURCES[source.replace("-", "_")].parse(event)) == 1


def test_the_dynamodb_sample_is_an_order_the_orders_example_publishes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    (record,) = SOURCES["dynamodb"].parse(events_json(capsys, "dynamodb"))
    assert record.event_name == "INSERT"  # type: ignore[attr-defined]
    assert record.new_image == {"id": "o-1", "status": "NEW", "amount": 10}  # type: ignore[attr-defined]


def test_dynamodb_events_over_several_keys_interleave_the_items(capsys: pytest.CaptureFixture[str]) -> None:
    event = events_json(
        capsys, "dynamodb", "--new-image", '{"id": "o-1", "status": "NEW"}', "--keys", "3", "--count", "2"
    )
    records = SOURCES["dynamodb"].parse(event)
    assert [r.keys["id"] for r in records] == ["o-1", "o-2", "o-3"] * 2  # type: ignore[attr-defined]
    sequence = [int(r.sequence_number) for r in records]  # type: ignore[attr-defined]
    assert sequence == sorted(set(sequence))
    # a key without a number gets one; a number counts up; the sort key stays
    event = events_json(
        capsys, "dynamodb", "--new-image", '{"pk": "tenant", "sk": 7}', "--key-names", "pk,sk", "--keys", "2"
    )
    keys = [r.keys for r in SOURCES["dynamodb"].parse(event)]  # type: ignore[attr-defined]
    assert keys == [{"pk": "tenant-1", "sk": 7}, {"pk": "tenant-2", "sk": 7}]


def test_dynamodb_events_from_json_lines_insert_then_modify_each_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(
        '{"id": "o-1", "status": "NEW"}\n{"id": "o-2", "status": "NEW"}\n\n'
        '{"id": "o-1", "status": "PAID"}\n{"id": "o-1", "status": "SHIPPED"}\n'
    )
    records = SOURCES["dynamodb"].parse(events_json(capsys, "dynamodb", "--items", str(items)))
    assert [(r.event_name, r.keys["id"]) for r in records] == [  # type: ignore[attr-defined]
        ("INSERT", "o-1"), ("INSERT", "o-2"), ("MODIFY", "o-1"), ("MODIFY", "o-1")
    ]  # fmt: skip
    assert records[3].old_image == {"id": "o-1", "status": "PAID"}  # type: ignore[attr-defined]
    removed = SOURCES["dynamodb"].parse(
        events_json(capsys, "dynamodb", "--items", str(items), "--event-name", "REMOVE")
    )
    assert {r.event_name for r in removed} == {"REMOVE"}  # type: ignore[attr-defined]
    # a line without the key, or not JSON, is refused with its line number
    items.write_text('{"id": "o-1"}\n{"sk": 1}\n')
    code, _, err = run(capsys, "events", "dynamodb", "--items", str(items))
    assert code == 2
    assert "--items line 2: key attribute(s) id not in the item" in err
    items.write_text("{nope\n")
    code, _, err = run(capsys, "events", "dynamodb", "--items", str(items))
    assert (code, "argument --items line 1: not valid JSON" in err) == (2, True)


def test_kinesis_and_sqs_events_over_several_keys_and_from_json_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kinesis = SOURCES["kinesis"].parse(
        events_json(capsys, "kinesis", "--partition-key", "dev-1", "--keys", "2")
    )
    assert [r.partition_key for r in kinesis] == ["dev-1", "dev-2"]  # type: ignore[attr-defined]
    fifo = SOURCES["sqs"].parse(events_json(capsys, "sqs", "--fifo", "--keys", "2", "--count", "2"))
    assert [r.message_group_id for r in fifo] == ["default-1", "default-2"] * 2  # type: ignore[attr-defined]
    lines = tmp_path / "readings.jsonl"
    lines.write_text('{"deviceId": "d-1", "value": 1}\n{"deviceId": "d-2", "value": 2}\n')
    kinesis = SOURCES["kinesis"].parse(
        events_json(capsys, "kinesis", "--items", str(lines), "--key-field", "deviceId")
    )
    assert [(r.partition_key, r.json()["value"]) for r in kinesis] == [("d-1", 1), ("d-2", 2)]  # type: ignore[attr-defined]
    fifo = SOURCES["sqs"].parse(
        events_json(capsys, "sqs", "--items", str(lines), "--fifo", "--key-field", "deviceId")
    )
    assert [r.message_group_id for r in fifo] == ["d-1", "d-2"]  # type: ignore[attr-defined]
    standard = SOURCES["sqs"].parse(events_json(capsys, "sqs", "--items", str(lines)))
    assert [json.loads(r.body)["value"] for r in standard] == [1, 2]  # type: ignore[attr-defined]


def test_kinesis_events(capsys: pytest.CaptureFixture[str]) -> None:
    event = events_json(
        capsys, "kinesis", "--data", '{"temp": 21.5}', "--partition-key", "dev-1", "--count", "2"
    )
    records = SOURCES["kinesis"].parse(event)
    assert [(r.partition_key, r.json()) for r in records] == [("dev-1", {"temp": 21.5})] * 2  # type: ignore[attr-defined]
    raw = events_json(capsys, "kinesis", "--data", "plain text", "--raw")
    assert SOURCES["kinesis"].parse(raw)[0].data == b"plain text"  # type: ignore[attr-defined]


def test_sqs_events_standard_and_fifo(capsys: pytest.CaptureFixture[str]) -> None:
    standard = events_json(capsys, "sqs", "--body", '{"orderId": "o-1"}', "--count", "2")
    assert [r.body for r in SOURCES["sqs"].parse(standard)] == ['{"orderId":"o-1"}'] * 2  # type: ignore[attr-defined]
    fifo = events_json(capsys, "sqs", "--body", '{"orderId": "o-1"}', "--fifo", "--group-id", "o-1")
    (record,) = SOURCES["sqs"].parse(fifo)
    assert record.default_partition_key == "o-1"
    assert fifo["Records"][0]["eventSourceARN"].endswith(":orders.fifo")
    # a FIFO queue would drop repeats with one deduplication id: --count gives each its own
    repeated = events_json(capsys, "sqs", "--body", "1", "--fifo", "--count", "3")
    ids = [r["attributes"]["MessageDeduplicationId"] for r in repeated["Records"]]
    assert len(set(ids)) == 3


def test_aurora_events(capsys: pytest.CaptureFixture[str]) -> None:
    event = events_json(capsys, "aurora", "--payload", '{"id": "o-1", "status": "PAID"}')
    assert SOURCES["aurora"].parse(event)[0].payload == {"id": "o-1", "status": "PAID"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("via", ["lambda", "sns"])
@pytest.mark.parametrize("verb", ["cloudwatch-alarm", "cloudwatch_alarm"])
def test_cloudwatch_alarm_events(capsys: pytest.CaptureFixture[str], via: str, verb: str) -> None:
    event = events_json(capsys, verb, "--name", "DiskFull", "--state", "ALARM", "--via", via)
    (alarm,) = SOURCES["cloudwatch_alarm"].parse(event)
    assert alarm.default_partition_key == "DiskFull"


def test_eventbridge_events(capsys: pytest.CaptureFixture[str]) -> None:
    event = events_json(
        capsys,
        "eventbridge",
        "--detail", '{"orderId": "o-1"}',
        "--source", "com.example.shop",
        "--detail-type", "OrderShipped",
        "--resource", "arn:aws:s3:::bucket",
    )  # fmt: skip
    (record,) = SOURCES["eventbridge"].parse(event)
    assert record.detail == {"orderId": "o-1"}  # type: ignore[attr-defined]
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "com.example.shop",
        "OrderShipped",
        ["arn:aws:s3:::bucket"],
    )


def test_compact_events_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "aurora", "--payload", '{"a": 1}', "--compact")
    assert (code, out) == (0, '{"a":1}\n')


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["dynamodb", "--new-image", '{"id": 1,}'],
            "argument --new-image: not valid JSON (",  # the decoder's words vary across Python versions
        ),
        (["dynamodb", "--new-image", "[1]"], "argument --new-image: must be a JSON object, got an array"),
        (
            ["dynamodb", "--new-image", '{"pk": 1}'],
            "key attribute(s) id not in the image; name the table's keys",
        ),
        (["dynamodb", "--keys", "0"], "argument --keys: must be at least 1"),
        (
            ["dynamodb", "--keys", "id", "--key-names", "id"],
            "give the key attribute names once, with --key-names",
        ),
        (["dynamodb", "--items", "x.jsonl", "--count", "2"], "--items gives every change: leave out"),
        (["dynamodb", "--items", "missing.jsonl"], "--items: cannot read missing.jsonl"),
        (["sqs", "--keys", "2"], "--keys spreads the messages over message groups: add --fifo"),
        (["kinesis", "--key-field", "deviceId"], "--key-field goes with --items"),
        (
            ["dynamodb", "--new-image", '{"id": 1.5}', "--keys", "2"],
            "--keys: cannot count up the key attribute",
        ),
        (
            ["dynamodb", "--new-image", '{"id": "1"}', "--event-name", "REMOVE"],
            "the record is a REMOVE with a --new-image; DynamoDB never sends that",
        ),
        (["dynamodb", "--old-image", "@missing.json"], "--old-image: cannot read missing.json"),
        (["kinesis", "--data", "hello"], "pass --raw to send the text as it is"),
        (["sqs", "--body", "{"], "argument --body: not valid JSON"),
        (["sqs", "--body", "1", "--queue", "q.fifo"], "queue 'q.fifo' is a FIFO queue name; pass --fifo"),
        (["aurora", "--payload", "nope"], "argument --payload: not valid JSON"),
        (["eventbridge", "--detail", '"text"'], "argument --detail: must be a JSON object, got a string"),
        (["dynamodb", "--new-image", "{}", "--count", "0"], "argument --count: must be at least 1, got 0"),
        (["cloudwatch-alarm", "--state", "RED"], "argument --state: invalid choice: 'RED'"),
        (["s3"], "argument SOURCE: invalid choice: 's3'"),
    ],
)
def test_bad_event_options_exit_2_and_name_the_problem(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "events", *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.startswith(("streambridge events", "usage: streambridge events"))


# --------------------------------------------------------------------------------------------------
# invoke


def orders_event(capsys: pytest.CaptureFixture[str], path: Path, *images: dict[str, Any]) -> Path:
    """Write a DynamoDB event with one INSERT per image (built by the command itself)."""
    records = []
    for number, image in enumerate(images):
        event = events_json(
            capsys, "dynamodb", "--new-image", json.dumps(image), "--start-sequence", str(100 + number)
        )
        records += event["Records"]
    path.write_text(json.dumps({"Records": records}))
    return path


def test_invoke_publishes_every_record_and_prints_the_lambda_response(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: Endpoint
) -> None:
    # GIVEN a stream batch of two orders
    event = orders_event(
        capsys, tmp_path / "event.json", {"id": "o-1", "status": "NEW"}, {"id": "o-2", "status": "PAID"}
    )
    before = len(endpoint.requests)
    # WHEN the orders example's handler runs on it against the local endpoint, with an API key
    code, out, _ = run(
        capsys, "invoke", HANDLER, "--event", str(event), "--url", endpoint.url, "--api-key", "da2-k"
    )
    # THEN both are published, the Lambda response has no failures, and the exit status is 0
    assert code == 0, out
    assert "  published  DynamoDB Streams record #0 (400000000000000000100)\n" in out
    assert "  published  DynamoDB Streams record #1 (400000000000000000101)\n" in out
    assert "summary: 2 published, 0 skipped, 0 failed;" in out
    assert f"endpoint  {endpoint.url} (ApiKeyAuth)" in out
    assert out.endswith('Lambda response:\n{\n  "batchItemFailures": []\n}\n')
    sent = endpoint.requests[before:]
    variables = {name: value for body in sent for name, value in body["variables"].items()}
    assert sorted(value["id"] for value in variables.values()) == ["o-1", "o-2"]
    assert all(name.startswith("m") and name.endswith("_input") for name in variables)  # renamed per alias
    assert set(endpoint.api_keys[before:]) == {"da2-k"}


def test_invoke_reports_a_poison_record_with_its_reason_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: Endpoint
) -> None:
    # GIVEN order o-1 changing NEW -> POISON -> PAID, and a healthy order o-2
    event = orders_event(
        capsys,
        tmp_path / "event.json",
        {"id": "o-1", "status": "NEW"},
        {"id": "o-1", "status": "POISON"},
        {"id": "o-1", "status": "PAID"},
        {"id": "o-2", "status": "NEW"},
    )
    code, out, _ = run(
        capsys, "invoke", HANDLER, "--event", str(event), "--url", endpoint.url, "--api-key", "k"
    )
    assert code == 1
    assert "  published  DynamoDB Streams record #0 (400000000000000000100)\n" in out
    assert (
        "  failed     DynamoDB Streams record #1 (400000000000000000101): "
        "AppSync rejected the mutation: poison record\n"
    ) in out
    assert "  failed     DynamoDB Streams record #2 (400000000000000000102): not sent because" in out
    assert "  published  DynamoDB Streams record #3 (400000000000000000103)\n" in out
    response = json.loads(out.split("Lambda response:\n", 1)[1])
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "400000000000000000101"},
            {"itemIdentifier": "400000000000000000102"},
        ]
    }


def test_invoke_json_output_reads_the_event_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint
) -> None:
    event = events_json(capsys, "dynamodb", "--new-image", '{"id": "o-9", "status": "POISON"}')
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(event)))
    code, out, _ = run(
        capsys, "invoke", HANDLER, "--event", "-", "--url", endpoint.url, "--api-key", "k", "--json"
    )
    report = json.loads(out)
    assert code == 1
    assert report["summary"]["failed"] == 1
    assert report["outcomes"] == [
        {
            "record": "DynamoDB Streams record #0 (400000000000000000100)",
            "itemIdentifier": "400000000000000000100",
            "status": "failed",
            "reason": "AppSync rejected the mutation: poison record",
        }
    ]
    assert report["response"] == {"batchItemFailures": [{"itemIdentifier": "400000000000000000100"}]}
    assert report["raises"] is None


USER_MODULE = """
from streambridge import Bridge

bridge = Bridge(batch_size=1)  # URL from STREAMBRIDGE_APPSYNC_URL
PUBLISH = '''mutation P($input: OrderInput!) {{
  publishOrder(input: $input) {{ id status customer amount updatedAt seq }}
}}'''

@bridge.{source}(PUBLISH)
def handler(record):
    data = record.payload if hasattr(record, "payload") else record.json()
    return {{"input": {{"id": data["id"], "status": data["status"]}}}}
"""


def test_invoke_a_single_event_handler_shows_that_lambda_gets_an_exception(
    capsys: pytest.CaptureFixture[str],
    app: Path,
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    fake_credentials: None,
) -> None:
    # GIVEN an Aurora handler configured from the environment, and a payload the endpoint rejects
    monkeypatch.setenv(URL_ENV, endpoint.url)
    write_module(app, "cliapp_aurora", USER_MODULE.format(source="aurora"))
    (app / "event.json").write_text('{"id": "o-1", "status": "POISON"}')
    # WHEN it runs with the handler's own bridge (no --url), but an API key
    code, out, _ = run(capsys, "invoke", "cliapp_aurora:handler", "--event", "event.json", "--api-key", "k")
    # THEN Lambda would get the DeliveryFailedError the handler raises
    assert code == 1
    assert (
        "  failed     Aurora record #0 (aurora-event): AppSync rejected the mutation: poison record\n" in out
    )
    assert "Lambda response: the handler raises DeliveryFailedError: streambridge: Aurora record #0" in out
    # AND with the handler's own bridge as configured (IAM), a good payload is published
    (app / "event.json").write_text('{"id": "o-1", "status": "PAID"}')
    code, out, _ = run(capsys, "invoke", "cliapp_aurora:handler", "--event", "event.json")
    assert code == 0, out
    assert f"endpoint  {endpoint.url} (IAMAuth)" in out
    assert out.endswith('Lambda response:\n{\n  "published": 1,\n  "skipped": 0\n}\n')


def test_invoke_with_url_keeps_the_bridge_tuning_and_auth(
    capsys: pytest.CaptureFixture[str],
    app: Path,
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    fake_credentials: None,
) -> None:
    # GIVEN a handler whose bridge sends one mutation per request, and no URL in the environment
    monkeypatch.delenv(URL_ENV, raising=False)
    write_module(app, "cliapp_tuned", USER_MODULE.format(source="sqs"))
    event = events_json(capsys, "sqs", "--body", '{"id": "o-1", "status": "NEW"}', "--count", "3")
    for number, record in enumerate(event["Records"]):
        record["body"] = json.dumps({"id": f"o-{number}", "status": "NEW"})
    (app / "event.json").write_text(json.dumps(event))
    # WHEN it runs with --url (the module imports with it as STREAMBRIDGE_APPSYNC_URL)
    code, out, _ = run(capsys, "invoke", "cliapp_tuned", "--event", "event.json", "--url", endpoint.url)
    # THEN the new bridge kept batch_size=1 (three records, three requests) and the IAM auth
    assert code == 0, out
    assert "summary: 3 published, 0 skipped, 0 failed; 3 request(s), 0 retries" in out
    assert f"endpoint  {endpoint.url} (IAMAuth)" in out


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # a local URL names no region


def test_invoke_iam_signs_for_the_given_region(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: Endpoint, fake_credentials: None
) -> None:
    event = orders_event(capsys, tmp_path / "event.json", {"id": "o-1", "status": "NEW"})
    argv = ["invoke", HANDLER, "--event", str(event), "--url", endpoint.url, "--iam", "--region", "eu-west-1"]
    code, out, _ = run(capsys, *argv)
    assert code == 0, out
    assert "(IAMAuth)" in out


def test_invoke_without_any_url_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    write_module(app, "cliapp_nourl", USER_MODULE.format(source="sqs"))
    (app / "event.json").write_text(json.dumps(testing_events.sqs(['{"id": "1", "status": "NEW"}'])))
    code, out, err = run(capsys, "invoke", "cliapp_nourl:handler", "--event", "event.json")
    assert (code, out) == (2, "")
    assert "streambridge invoke: error: no AppSync URL" in err
    assert err.endswith("; or pass --url URL\n")


def test_invoke_on_an_event_of_another_source_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: Endpoint
) -> None:
    event = tmp_path / "sqs.json"
    event.write_text(json.dumps(events_json(capsys, "sqs", "--body", "1")))
    code, out, err = run(
        capsys, "invoke", HANDLER, "--event", str(event), "--url", endpoint.url, "--api-key", "k"
    )
    assert (code, out) == (2, "")
    assert err.startswith("streambridge invoke: error: the event is not a DynamoDB Streams event: ")
    assert "aws:sqs" in err


def test_invoke_with_iam_on_a_local_url_says_which_region_to_give(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    event = tmp_path / "ddb.json"
    event.write_text(json.dumps(events_json(capsys, "dynamodb", "--new-image", '{"id": "1"}')))
    code, _, err = run(capsys, "invoke", HANDLER, "--event", str(event), "--url", endpoint.url)
    assert code == 2
    assert "cannot tell the AWS region" in err
    # the handler's own Bridge signs with IAM: the fix on the command line is --iam --region, not Python
    assert "pass --iam --region REGION (or set AWS_REGION)" in err
    assert "IAMAuth(region=...)" not in err


def test_invoke_iam_without_a_region_on_a_local_url_says_pass_region(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    endpoint: Endpoint,
    fake_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    event = orders_event(capsys, tmp_path / "event.json", {"id": "o-1", "status": "NEW"})
    code, out, err = run(capsys, "invoke", HANDLER, "--event", str(event), "--url", endpoint.url, "--iam")
    assert (code, out) == (2, "")
    assert "cannot tell the AWS region of the AppSync endpoint" in err
    assert err.rstrip().endswith("pass --region REGION (or set AWS_REGION)")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--event", "missing.json"], "streambridge invoke: error: --event: cannot read missing.json"),
        (["--event", "bad.json"], "streambridge invoke: error: argument --event: not valid JSON"),
        (["--event", "x", "--region", "eu-west-1"], "streambridge invoke: error: --region goes with --iam"),
        (["--event", "x", "--api-key", "k", "--iam"], "argument --iam: not allowed with argument --api-key"),
        ([], "the following arguments are required: --event"),
        (["--event", "x", "--timeout-ms", "soon"], "argument --timeout-ms: not a whole number: 'soon'"),
    ],
)
def test_bad_invoke_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], app: Path, argv: list[str], message: str
) -> None:
    (app / "bad.json").write_text("{")
    code, out, err = run(capsys, "invoke", HANDLER, *argv)
    assert (code, out) == (2, "")
    assert message in err


# --------------------------------------------------------------------------------------------------
# Bad module:handler targets (shared by invoke and check)


@pytest.mark.parametrize("verb", ["invoke", "check"])
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("cliapp_missing:handler", "module 'cliapp_missing' not found (looked in "),
        ("cliapp_user:nothing", "module 'cliapp_user' has no attribute 'nothing'; its handlers: handler"),
        ("cliapp_user:helper", "cliapp_user:helper is a function, not a streambridge handler: decorate"),
        ("cliapp_user:bridge", "cliapp_user:bridge is a Bridge, not a streambridge handler"),
        ("cliapp_broken:handler", "importing 'cliapp_broken' failed: ModuleNotFoundError: No module named"),
        ("cliapp_raises:handler", "importing 'cliapp_raises' failed: RuntimeError: boom at import"),
        ("cliapp_empty", "module 'cliapp_empty' defines no streambridge handler"),
        ("cliapp_user:", "'cliapp_user:' is not module:handler; write it like app:handler"),
    ],
)
def test_a_bad_target_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str],
    *,
    app: Path,
    monkeypatch: pytest.MonkeyPatch,
    verb: str,
    target: str,
    message: str,
) -> None:
    monkeypatch.setenv(URL_ENV, "https://abc.appsync-api.us-east-1.amazonaws.com/graphql")
    write_module(app, "cliapp_user", USER_MODULE.format(source="sqs") + "\ndef helper():\n    pass\n")
    write_module(app, "cliapp_broken", "import cliapp_no_such_dependency\n")
    write_module(app, "cliapp_raises", "raise RuntimeError('boom at import')\n")
    write_module(app, "cliapp_empty", "X = 1\n")
    (app / "event.json").write_text("{}")
    (app / "schema.graphql").write_text((ORDERS / "schema.graphql").read_text())
    extra = ["--event", "event.json"] if verb == "invoke" else ["--schema", "schema.graphql"]
    code, out, err = run(capsys, verb, target, *extra)
    assert (code, out) == (2, "")
    assert err.startswith(f"streambridge {verb}: error: ")
    assert message in err


def test_a_path_target_is_read_as_a_module(
    capsys: pytest.CaptureFixture[str], app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    (app / "cliapp_pkg").mkdir()
    (app / "cliapp_pkg" / "__init__.py").write_text("")
    write_module(app / "cliapp_pkg", "orders", USER_MODULE.format(source="dynamodb"))
    (app / "schema.graphql").write_text((ORDERS / "schema.graphql").read_text())
    code, out, _ = run(capsys, "check", "cliapp_pkg/orders.py:handler", "--schema", "schema.graphql")
    assert code == 0
    assert out.startswith("OK cliapp_pkg.orders:handler\n")


# --------------------------------------------------------------------------------------------------
# check


def test_check_passes_the_orders_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no AppSync URL at all: the check is offline
    monkeypatch.delenv(URL_ENV, raising=False)
    schema = str(ORDERS / "schema.graphql")
    code, out, _ = run(capsys, "check", HANDLER, "--schema", schema)
    assert code == 0
    assert out == (
        f"OK {HANDLER}\nchecked 1 document(s) against {schema}: 0 error(s), 0 warning(s), 0 note(s)\n"
    )


def test_check_fails_on_a_drifted_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # GIVEN the schema renamed Order.seq to sequence and made the subscription filter on `customer`
    text = (ORDERS / "schema.graphql").read_text()
    drifted = text.replace("  seq: String\n}\n\ninput", "  sequence: String\n}\n\ninput").replace(
        "onOrderChanged(id: ID)", "onOrderChanged(id: ID, region: String)"
    )
    assert drifted != text
    schema = tmp_path / "schema.graphql"
    schema.write_text(drifted)
    code, out, _ = run(capsys, "check", HANDLER, "--schema", str(schema))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"ERROR {HANDLER}: Cannot query field 'seq' on type 'Order'.")
    assert lines[1].startswith(f"ERROR {HANDLER}: filter argument `region` of onOrderChanged names no field")
    assert lines[2].startswith(f"WARNING {HANDLER}: subscribers of onOrderChanged asking for `sequence`")
    assert lines[3] == f"checked 1 document(s) against {schema}: 2 error(s), 1 warning(s), 0 note(s)"


def test_check_strict_fails_on_warnings_and_checks_loose_documents(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = tmp_path / "publish.graphql"
    document.write_text("mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }")
    schema = str(ORDERS / "schema.graphql")
    code, out, _ = run(capsys, "check", "--mutation-file", str(document), "--schema", schema)
    assert code == 0
    assert out.startswith(f"WARNING {document}: subscribers of onOrderChanged asking for `customer`")
    code, out, _ = run(capsys, "check", "--mutation-file", str(document), "--schema", schema, "--strict")
    assert code == 1
    assert out.endswith("1 warning(s), 0 note(s) (--strict: warnings count as errors)\n")


def test_check_notes_handlers_without_a_document_and_checks_every_handler_of_a_module(
    capsys: pytest.CaptureFixture[str], app: Path
) -> None:
    write_module(
        app,
        "cliapp_two",
        """
        from streambridge import Bridge, Mutation

        bridge = Bridge()
        FULL = '''mutation P($input: OrderInput!) {
          publishOrder(input: $input) { id status customer amount updatedAt seq }
        }'''

        @bridge.sqs(FULL)
        def documented(record):
            return {"input": record.json()}

        @bridge.eventbridge()
        def dynamic(event):
            return Mutation(FULL, {"input": event.detail})
        """,
    )
    (app / "schema.graphql").write_text((ORDERS / "schema.graphql").read_text())
    code, out, _ = run(capsys, "check", "cliapp_two", "--schema", "schema.graphql", "--strict")
    assert code == 0
    assert out.splitlines() == [
        "OK cliapp_two:documented",
        (
            "NOTE cliapp_two:dynamic: no mutation document in the decorator (the mapping function "
            "returns Mutation objects), so it cannot be checked statically; check those documents with "
            "--mutation-file"
        ),
        "checked 2 document(s) against schema.graphql: 0 error(s), 0 warning(s), 1 note(s)",
    ]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("type Query { a: Foo @model }", "schema.graphql is not a valid schema: Unknown type 'Foo'."),
        ("type Query {", "schema.graphql does not parse: Syntax Error"),
    ],
)
def test_check_with_a_bad_schema_exits_2(
    capsys: pytest.CaptureFixture[str], app: Path, schema: str, message: str
) -> None:
    (app / "schema.graphql").write_text(schema)
    code, out, err = run(capsys, "check", HANDLER, "--schema", "schema.graphql")
    assert (code, out) == (2, "")
    assert message in err


def test_check_needs_something_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--schema", "schema.graphql")
    assert code == 2
    assert "streambridge check: error: name at least one HANDLER or --mutation-file" in err


def test_check_reports_a_subscription_of_a_mutation_the_schema_lacks_once_against_the_schema(
    capsys: pytest.CaptureFixture[str], app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a schema whose subscription lists a misspelt mutation, and two documents to check against it
    monkeypatch.delenv(URL_ENV, raising=False)
    text = (ORDERS / "schema.graphql").read_text()
    (app / "schema.graphql").write_text(
        text.replace('mutations: ["publishOrder"]', 'mutations: ["publishOrdr"]')
    )
    (app / "publish.graphql").write_text(
        "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }"
    )
    # WHEN both are checked
    argv = ["check", HANDLER, "--mutation-file", "publish.graphql", "--schema", "schema.graphql"]
    code, out, _ = run(capsys, *argv)
    # THEN the schema's error is reported once, first, against the schema file, and fails the check
    assert code == 1
    assert out.splitlines() == [
        (
            "ERROR schema.graphql: @aws_subscribe on Subscription.onOrderChanged names 'publishOrdr', which "
            "is not a mutation field of the schema, so no mutation triggers onOrderChanged under that name; "
            "did you mean 'publishOrder'?"
        ),
        f"OK {HANDLER}",
        "OK publish.graphql",
        "checked 2 document(s) against schema.graphql: 1 error(s), 0 warning(s), 0 note(s)",
    ]


def test_check_shows_the_line_of_a_syntax_error_with_a_caret(
    capsys: pytest.CaptureFixture[str], app: Path
) -> None:
    # GIVEN a mutation file whose second line lacks an argument's value
    (app / "schema.graphql").write_text((ORDERS / "schema.graphql").read_text())
    (app / "publish.graphql").write_text(
        "mutation P($input: OrderInput!) {\n  publishOrder(input: ) { id status }\n}\n"
    )
    code, out, _ = run(capsys, "check", "--mutation-file", "publish.graphql", "--schema", "schema.graphql")
    # THEN it fails, saying where, with that line and a caret under the column
    assert code == 1
    assert out.splitlines()[:3] == [
        (
            "ERROR publish.graphql: the document does not parse: Syntax Error: Unexpected ')'. "
            "(at line 2, column 23)"
        ),
        "      publishOrder(input: ) { id status }",
        "                          ^",
    ]


# --------------------------------------------------------------------------------------------------
# help, version, the installed script


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["events"],
        ["events", "dynamodb"],
        ["events", "kinesis"],
        ["events", "sqs"],
        ["events", "aurora"],
        ["events", "cloudwatch-alarm"],
        ["events", "eventbridge"],
        ["invoke"],
        ["check"],
    ],
)
def test_help_of_the_command_and_every_verb_has_examples(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0
    assert out.startswith(f"usage: streambridge {' '.join(argv)}".rstrip())
    assert "example" in out
    assert "streambridge " + (argv[0] if argv else "events") in out.split("example", 1)[1]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["events"],
        *(["events", name.replace("_", "-")] for name in SOURCES),
        ["invoke"],
        ["check"],
        ["demo"],
        ["doctor"],
        ["local"],
    ],
)
def test_help_shows_each_default_once(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    # GIVEN the formatter, which appends "(default: X)" to every option that has a default
    # WHEN a verb's help is printed
    code, out, _ = run(capsys, *argv, "--help")
    # THEN no option says its default a second time in its own words
    assert code == 0
    assert not re.search(r"\(default[^)]*\) \(default", " ".join(out.split())), out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("streambridge ")


def test_no_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "the following arguments are required: VERB" in err


def test_the_installed_console_script_runs() -> None:
    script = shutil.which("streambridge") or str(Path(sys.executable).parent / "streambridge")
    completed = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: streambridge ")
    assert "events" in completed.stdout
    assert "invoke" in completed.stdout
    assert "check" in completed.stdout


# --------------------------------------------------------------------------------------------------
# demo


def test_demo_runs_the_main_job_and_reports_the_bad_order(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN the demo runs on its defaults
    code, out, err = run(capsys, "demo")
    # THEN the subscriber saw every order but the bad one complete, and Lambda gets the two failures
    assert (code, err) == (0, "")
    assert out.count(" SHIPPED ") == 11
    assert '"published": 34' in out
    assert "amount must not be negative" in out
    assert "not sent because DynamoDB Streams record #18" in out
    assert 'batchItemFailures: [{"itemIdentifier": "400000000000000000118"}' in out


def test_demo_shows_progress_on_long_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--orders", "100")
    assert code == 0
    assert "received 150/300 messages" in out
    assert " SHIPPED " not in out


def test_demo_refuses_a_non_positive_order_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "demo", "--orders", "0")
    assert code == 2
    assert "--orders must be at least 1" in err


def test_a_tool_missing_the_testing_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a Lambda-only install: doctor's gql is missing
    from streambridge._tools import cli
    from streambridge._tools.verbs import doctor

    def without_gql(_args: object) -> int:
        raise ModuleNotFoundError("No module named 'gql'", name="gql")

    monkeypatch.setattr(doctor, "_run_doctor", without_gql)
    # WHEN the tool runs THEN it exits 2 naming the extra to install
    url = "https://x.appsync-api.us-east-1.amazonaws.com/graphql"
    argv = ["doctor", "examples.orders.handler:handler", "--url", url, "--api-key", "k", "--schema", "s"]
    assert cli.main(argv) == 2
    assert "pip install 'streambridge[testing]'" in capsys.readouterr().err
