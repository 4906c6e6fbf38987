"""Every examples/*/template.yaml: cfn-lint clean, and wired the way streambridge needs it.

Stream event source mappings report batch item failures and give up somewhere; single-event functions
have an on-failure destination; each publisher runs the example's handler with the API's URL and may
call exactly the mutation field its handler publishes (GraphQL examples) or publish to exactly its channel
namespace (Event API examples); the deployed schema is the tested schema.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cfnlint.decode import decode
from graphql import FieldNode, OperationDefinitionNode, parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TEMPLATES = sorted(EXAMPLES.glob("*/template.yaml"))
NAMES = [path.parent.name for path in TEMPLATES]
# Examples publishing GraphQL mutations (a schema.graphql) and examples publishing to AppSync Events channels
GRAPHQL_NAMES = [name for name in NAMES if (EXAMPLES / name / "schema.graphql").is_file()]
CHANNEL_NAMES = [name for name in NAMES if name not in GRAPHQL_NAMES]
URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
STREAM_TYPES = ("DynamoDB", "Kinesis")


def load(name: str) -> dict[str, Any]:
    """The template as cfn-lint reads it (short-form tags become Fn:: mappings)."""
    template, matches = decode(str(EXAMPLES / name / "template.yaml"))
    assert not matches, matches
    assert template is not None
    return template


def resources(template: Mapping[str, Any], kind: str) -> dict[str, Mapping[str, Any]]:
    """``{logical id: Properties}`` of the resources of one type."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Serverless functions with the template's Globals applied."""
    defaults = template.get("Globals", {}).get("Function", {})
    return {
        fid: {**defaults, **props} for fid, props in resources(template, "AWS::Serverless::Function").items()
    }


def publisher(template: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one function that runs the example's streambridge handler (its code is the example folder)."""
    (found,) = [(fid, props) for fid, props in functions(template).items() if props.get("CodeUri") == "."]
    return found


def get_att(value: Any) -> tuple[str, str]:
    """``!GetAtt A.B`` as read by cfn-lint -> ("A", "B")."""
    assert isinstance(value, Mapping), value
    assert list(value) == ["Fn::GetAtt"], value
    target = value["Fn::GetAtt"]
    resource, attribute = target.split(".", 1) if isinstance(target, str) else target
    return resource, attribute


def handler_module(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's handler module, imported for this test only (what was imported before comes back)."""
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", URL)
    package = importlib.import_module(f"examples.{name}")
    module = f"{package.__name__}.handler"
    monkeypatch.setitem(sys.modules, module, None)  # type: ignore[arg-type]  # recorded, then dropped
    del sys.modules[module]
    monkeypatch.setattr(package, "handler", None, raising=False)
    delattr(package, "handler")
    return importlib.import_module(module)


def published_field(module: ModuleType) -> str:
    """The top-level mutation field of the handler's document."""
    document = parse(module.handler.document)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    (top,) = operation.selection_set.selections
    assert isinstance(top, FieldNode)
    return top.name.value


def stream_events() -> Iterator[tuple[str, str, str]]:
    for name in NAMES:
        for fid, props in functions(load(name)).items():
            for event_id, event in props.get("Events", {}).items():
                if event["Type"] in STREAM_TYPES:
                    yield name, fid, event_id


STREAM_EVENTS = list(stream_events())
# Examples whose publisher an EventBridge pipe invokes (synchronously, with a batch): checked by
# tests/functional/test_pipes_example.py, not as a stream mapping nor as a single-event function.
PIPE_NAMES = [name for name in NAMES if resources(load(name), "AWS::Pipes::Pipe")]
# Examples whose publisher API Gateway invokes (synchronously, one request: it answers an HTTP response):
# checked by test_webhook_* below and tests/functional/test_webhook_example.py, not as async single events.
HTTP_NAMES = [
    name
    for name in NAMES
    if any(e["Type"] == "HttpApi" for e in publisher(load(name))[1].get("Events", {}).values())
]
SINGLE_EVENT_NAMES = [
    name
    for name in NAMES
    if name not in {n for n, _, _ in STREAM_EVENTS} and name not in PIPE_NAMES and name not in HTTP_NAMES
]


# --------------------------------------------------------------------------------------------------


INTEGRATIONS = {"powertools"}
"""Examples of streambridge with another library (a handler deployed like the orders example's): no
template of their own."""


def test_every_example_is_complete() -> None:
    # GIVEN the example folders (each with a handler.py)
    examples = sorted(path.parent.name for path in EXAMPLES.glob("*/handler.py"))

    # THEN each one is a package with a SAM template and a README, and every template has one; a GraphQL
    # example has its schema, an Event API example its subscriber; an integration example its README
    assert [name for name in examples if name not in INTEGRATIONS] == NAMES
    for name in INTEGRATIONS:
        for file in ("__init__.py", "handler.py", "README.md", "requirements.txt"):
            assert (EXAMPLES / name / file).is_file(), f"examples/{name}/{file} is missing"
    examples = NAMES
    assert {"aurora", "cloudwatch_alarms", "eventbridge", "kinesis_telemetry", "orders"} <= set(GRAPHQL_NAMES)
    assert {"chat_rooms"} <= set(CHANNEL_NAMES)
    for name in examples:
        kind = "schema.graphql" if name in GRAPHQL_NAMES else "subscriber.py"
        for file in ("__init__.py", "handler.py", kind, "template.yaml", "README.md"):
            assert (EXAMPLES / name / file).is_file(), f"examples/{name}/{file} is missing"


def test_templates_lint_clean() -> None:
    # GIVEN every example template; WHEN cfn-lint checks them all in one run (errors, warnings and
    # informational findings alike)
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]
    linted = subprocess.run(
        [*command, "--format", "parseable", *map(str, TEMPLATES)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )

    # THEN it finds nothing
    assert (linted.returncode, linted.stdout) == (0, ""), linted.stdout + linted.stderr


def test_the_stream_examples_are_the_ones_checked_below() -> None:
    assert {name for name, _, _ in STREAM_EVENTS} == {
        "orders",
        "kinesis_telemetry",
        "chat_rooms",
        "kinesis_dynamodb",
    }


# Examples whose handler keeps an order wider than Lambda's (chat_rooms: a room's messages, several items;
# kinesis_dynamodb: an item's changes, under Kinesis partition keys that are not the item's) read one batch
# per shard at a time; the others let Lambda read a shard with 2 to 10 batches at once.
ONE_BATCH_PER_SHARD = {"chat_rooms", "kinesis_dynamodb"}


@pytest.mark.parametrize(("name", "function", "event"), STREAM_EVENTS)
def test_stream_event_source_mapping_is_set_right(name: str, function: str, event: str) -> None:
    # GIVEN a DynamoDB Streams or Kinesis event source of an example
    template = load(name)
    mapping = functions(template)[function]["Events"][event]["Properties"]

    # THEN Lambda reads batchItemFailures, bisects a failing batch, gives up after a bounded number of
    # retries into an SQS queue of the stack, and reads shards in parallel from the newest record
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 <= mapping["MaximumRetryAttempts"] <= 10
    assert mapping["MaximumRecordAgeInSeconds"] >= 60
    on_failure = mapping["DestinationConfig"]["OnFailure"]
    queue, attribute = get_att(on_failure["Destination"])
    assert (on_failure["Type"], attribute) == ("SQS", "Arn")
    assert queue in resources(template, "AWS::SQS::Queue")
    if name in ONE_BATCH_PER_SHARD:
        assert mapping["ParallelizationFactor"] == 1
    else:
        assert 1 < mapping["ParallelizationFactor"] <= 10
    assert mapping["StartingPosition"] == "LATEST"
    assert 0 < mapping["MaximumBatchingWindowInSeconds"] <= 5
    stream_source, _ = get_att(mapping["Stream"])
    assert stream_source in template["Resources"]


@pytest.mark.parametrize("name", SINGLE_EVENT_NAMES)
def test_a_single_event_publisher_has_an_on_failure_destination(name: str) -> None:
    # GIVEN an example whose publisher is invoked asynchronously (no stream event source)
    template = load(name)
    _, props = publisher(template)

    # THEN DeliveryFailedError is retried a bounded number of times, then kept in an SQS queue of the stack
    config = props["EventInvokeConfig"]
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    on_failure = config["DestinationConfig"]["OnFailure"]
    queue, _ = get_att(on_failure["Destination"])
    assert on_failure["Type"] == "SQS"
    assert queue in resources(template, "AWS::SQS::Queue")


@pytest.mark.parametrize("name", GRAPHQL_NAMES)
def test_the_publisher_runs_the_example_handler_against_the_stack_api(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the example's publisher function and the mutation field its handler publishes
    template = load(name)
    _, props = publisher(template)
    field = published_field(handler_module(name, monkeypatch))

    # THEN it runs handler.handler of the example folder on Python 3.12, with the stack's API URL
    assert (props["Handler"], props["Runtime"]) == ("handler.handler", "python3.12")
    api, attribute = get_att(props["Environment"]["Variables"]["STREAMBRIDGE_APPSYNC_URL"])
    assert attribute == "GraphQLUrl"
    graphql_api = resources(template, "AWS::AppSync::GraphQLApi")[api]
    assert graphql_api["AuthenticationType"] == "API_KEY"  # subscribers
    assert {"AuthenticationType": "AWS_IAM"} in graphql_api["AdditionalAuthenticationProviders"]  # publisher

    # AND its role may call appsync:GraphQL on that one mutation field, nothing wider
    statements = [s for policy in props["Policies"] if "Statement" in policy for s in policy["Statement"]]
    grants = [s for s in statements if s["Action"] == "appsync:GraphQL"]
    assert grants == [
        {
            "Sid": grants[0].get("Sid"),
            "Effect": "Allow",
            "Action": "appsync:GraphQL",
            "Resource": {"Fn::Sub": f"${{{api}.Arn}}/types/Mutation/fields/{field}"},
        }
    ]


@pytest.mark.parametrize("name", GRAPHQL_NAMES)
def test_the_stack_api_serves_the_example_schema_and_resolves_the_mutation(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the example's AppSync resources
    template = load(name)
    field = published_field(handler_module(name, monkeypatch))
    (schema,) = resources(template, "AWS::AppSync::GraphQLSchema").values()
    resolvers = resources(template, "AWS::AppSync::Resolver")
    sources = resources(template, "AWS::AppSync::DataSource")

    # THEN the deployed schema is the tested schema.graphql (sam deploy uploads the local file)
    assert schema["DefinitionS3Location"] == "schema.graphql"
    assert len(resources(template, "AWS::AppSync::ApiKey")) == 1

    # AND the mutation has a resolver on a NONE data source, after the schema exists
    (resolver_id,) = [
        rid for rid, r in resolvers.items() if (r["TypeName"], r["FieldName"]) == ("Mutation", field)
    ]
    source, _ = get_att(resolvers[resolver_id]["DataSourceName"])
    assert sources[source]["Type"] == "NONE"
    assert template["Resources"][resolver_id]["DependsOn"] in resources(
        template, "AWS::AppSync::GraphQLSchema"
    )

    # AND every local file the template names exists
    for props in resolvers.values():
        for key in ("RequestMappingTemplateS3Location", "ResponseMappingTemplateS3Location"):
            if key in props:
                assert (EXAMPLES / name / props[key]).is_file(), props[key]


@pytest.mark.parametrize(
    "name",
    NAMES,
)
def test_sam_build_installs_streambridge_with_the_example(name: str) -> None:
    # GIVEN the example folder, which is the function's CodeUri
    requirements = EXAMPLES / name / "requirements.txt"

    # THEN sam build finds streambridge in its requirements.txt
    assert requirements.is_file()
    assert any(line.strip().startswith("streambridge") for line in requirements.read_text().splitlines())


# --------------------------------------------------------------------------------------------------
# Per example


def test_orders_table_expires_orders_and_streams_both_images() -> None:
    # GIVEN the orders table and the publisher
    template = load("orders")
    ((table_id, table),) = resources(template, "AWS::DynamoDB::Table").items()
    _, props = publisher(template)

    # THEN Time to Live reads expiresAt, the stream has both images, and the publisher reads that stream
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (event,) = props["Events"].values()
    assert get_att(event["Properties"]["Stream"]) == (table_id, "StreamArn")


def test_orders_writes_come_through_an_iam_authorized_http_api() -> None:
    # GIVEN the writer function and its HTTP API
    template = load("orders")
    writer = functions(template)["OrdersWriterFunction"]
    (event,) = writer["Events"].values()
    (api,) = resources(template, "AWS::Serverless::HttpApi").values()

    # THEN PUT /orders/{id} needs SigV4, and the function sets the TTL attribute
    assert event["Type"] == "HttpApi"
    assert (event["Properties"]["Method"], event["Properties"]["Path"]) == ("PUT", "/orders/{id}")
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    assert "expiresAt" in writer["InlineCode"]


def test_kinesis_readings_come_from_the_stack_stream() -> None:
    # GIVEN the telemetry publisher
    template = load("kinesis_telemetry")
    _, props = publisher(template)
    (event,) = props["Events"].values()

    # THEN it reads the stack's Kinesis stream
    assert event["Type"] == "Kinesis"
    stream, _ = get_att(event["Properties"]["Stream"])
    assert stream in resources(template, "AWS::Kinesis::Stream")


def test_kinesis_dynamodb_table_streams_its_changes_to_the_stream_the_publisher_reads() -> None:
    # GIVEN the Kinesis Data Streams for DynamoDB example
    template = load("kinesis_dynamodb")
    ((_, table),) = resources(template, "AWS::DynamoDB::Table").items()
    _, props = publisher(template)
    (event,) = props["Events"].values()

    # THEN the table streams to the stack's Kinesis stream, with microsecond creation times, and the
    # publisher reads that stream (a Kinesis event source, not DynamoDB Streams)
    spec = table["KinesisStreamSpecification"]
    assert spec["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    stream, _ = get_att(spec["StreamArn"])
    assert stream in resources(template, "AWS::Kinesis::Stream")
    assert event["Type"] == "Kinesis"
    assert get_att(event["Properties"]["Stream"]) == (stream, "Arn")
    assert "StreamSpecification" not in table


def test_webhook_requests_come_through_an_iam_authorized_http_api_answered_in_time() -> None:
    # GIVEN the webhook example's publisher and its HTTP API
    template = load("webhook")
    _, props = publisher(template)
    (event,) = props["Events"].values()
    ((api_id, api),) = resources(template, "AWS::Serverless::HttpApi").items()

    # THEN POST /orders/status of that API invokes it with payload format 2.0, behind SigV4
    assert HTTP_NAMES == ["webhook"]
    assert event["Type"] == "HttpApi"
    assert event["Properties"]["ApiId"] == {"Ref": api_id}
    assert (event["Properties"]["Method"], event["Properties"]["Path"]) == ("POST", "/orders/status")
    assert event["Properties"]["PayloadFormatVersion"] == "2.0"
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    # AND it answers before the HTTP API's 30 s integration timeout (API Gateway quotas for HTTP APIs)
    assert props["Timeout"] < 30
    # AND its idempotency table expires keys, and the function may read and write it, nothing more
    ((table_id, table),) = resources(template, "AWS::DynamoDB::Table").items()
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["Environment"]["Variables"]["IDEMPOTENCY_TABLE"] == {"Ref": table_id}
    statements = [s for policy in props["Policies"] for s in policy["Statement"]]
    (grant,) = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}]
    assert grant["Action"] == ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"]


def test_alarms_invoke_the_publisher_directly_and_through_sns() -> None:
    # GIVEN the alarms example
    template = load("cloudwatch_alarms")
    fid, props = publisher(template)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    (permission,) = resources(template, "AWS::Lambda::Permission").values()

    # THEN CloudWatch may invoke the function for the account's alarms ...
    assert permission["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert get_att(permission["FunctionName"]) == (fid, "Arn")
    assert permission["SourceArn"]["Fn::Sub"].endswith(":alarm:*")
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}

    # AND one alarm names the function in its actions, another notifies the topic the function reads
    actions = {aid: alarm["AlarmActions"] for aid, alarm in alarms.items()}
    assert [aid for aid, acts in actions.items() if {"Fn::GetAtt": [fid, "Arn"]} in acts]
    (sns_event,) = [e for e in props["Events"].values() if e["Type"] == "SNS"]
    assert [aid for aid, acts in actions.items() if sns_event["Properties"]["Topic"] in acts]


def test_the_aurora_cluster_role_may_invoke_the_publisher() -> None:
    # GIVEN the role for the DB cluster
    template = load("aurora")
    fid, _ = publisher(template)
    (role,) = resources(template, "AWS::IAM::Role").values()

    # THEN RDS may assume it, it may invoke the publisher and nothing else, and the stack says both ARNs
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "rds.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Fn::GetAtt": [fid, "Arn"]}}
    ]
    assert {"InventoryFunctionArn", "DbClusterLambdaRoleArn"} <= set(template["Outputs"])


def test_the_eventbridge_rule_matches_what_the_handler_publishes(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the rule, its permission and the handler's constants
    template = load("eventbridge")
    fid, _ = publisher(template)
    module = handler_module("eventbridge", monkeypatch)
    ((rule_id, rule),) = resources(template, "AWS::Events::Rule").items()
    (permission,) = resources(template, "AWS::Lambda::Permission").values()

    # THEN the rule matches the handler's source and detail-type and targets the publisher ...
    assert rule["EventPattern"] == {"source": [module.SOURCE], "detail-type": [module.DETAIL_TYPE]}
    assert [get_att(target["Arn"]) for target in rule["Targets"]] == [(fid, "Arn")]

    # AND EventBridge may invoke it for that rule only
    assert permission["Principal"] == "events.amazonaws.com"
    assert get_att(permission["FunctionName"]) == (fid, "Arn")
    assert get_att(permission["SourceArn"]) == (rule_id, "Arn")


# --------------------------------------------------------------------------------------------------
# Event API examples (AppSync Events channels)


def module_constant(name: str, constant: str) -> Any:
    """A constant of the example's handler.py, read from its source (no import: no Bridge is built)."""
    tree = ast.parse((EXAMPLES / name / "handler.py").read_text())
    (value,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [constant]
    ]
    return ast.literal_eval(value)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_the_publisher_publishes_to_the_stack_event_api_namespace(name: str) -> None:
    # GIVEN the example's publisher, its Event API and the channel namespace its handler publishes to
    template = load(name)
    _, props = publisher(template)
    ((api_id, api),) = resources(template, "AWS::AppSync::Api").items()
    namespaces = resources(template, "AWS::AppSync::ChannelNamespace")
    published = module_constant(name, "NAMESPACE")
    (namespace_id,) = [nid for nid, ns in namespaces.items() if ns["Name"] == published]

    # THEN it runs handler.handler of the example folder on Python 3.12, with the API's HTTP endpoint
    # (https://<Dns.Http>/event, where AppSync Events takes publish requests)
    assert (props["Handler"], props["Runtime"]) == ("handler.handler", "python3.12")
    assert props["Environment"]["Variables"]["STREAMBRIDGE_APPSYNC_URL"] == {
        "Fn::Sub": f"https://${{{api_id}.Dns.Http}}/event"
    }
    assert get_att(namespaces[namespace_id]["ApiId"]) == (api_id, "ApiId")

    # AND the API takes IAM (the publisher) and API keys (subscribers); the namespace lets only IAM publish
    config = api["EventConfig"]
    assert {p["AuthType"] for p in config["AuthProviders"]} == {"AWS_IAM", "API_KEY"}
    assert {"AuthType": "API_KEY"} in config["ConnectionAuthModes"]
    assert namespaces[namespace_id]["PublishAuthModes"] == [{"AuthType": "AWS_IAM"}]
    assert namespaces[namespace_id]["SubscribeAuthModes"] == [{"AuthType": "API_KEY"}]
    (key,) = resources(template, "AWS::AppSync::ApiKey").values()
    assert get_att(key["ApiId"]) == (api_id, "ApiId")

    # AND its role may publish to that one namespace, nothing wider (no connect, no subscribe, no GraphQL)
    statements = [s for policy in props["Policies"] if "Statement" in policy for s in policy["Statement"]]
    appsync = [s for s in statements if str(s["Action"]).startswith("appsync:")]
    assert appsync == [
        {
            "Sid": appsync[0].get("Sid"),
            "Effect": "Allow",
            "Action": "appsync:EventPublish",
            "Resource": {"Fn::GetAtt": [namespace_id, "ChannelNamespaceArn"]},
        }
    ]


def test_chat_rooms_table_keys_messages_by_room_and_streams_both_images() -> None:
    # GIVEN the messages table and the publisher
    template = load("chat_rooms")
    ((table_id, table),) = resources(template, "AWS::DynamoDB::Table").items()
    _, props = publisher(template)

    # THEN a room's messages share its roomId (the handler's channel and ordering key), sorted by messageId;
    # the stream has both images (an edit is told by the old text); Time to Live reads expiresAt
    assert table["KeySchema"] == [
        {"AttributeName": "roomId", "KeyType": "HASH"},
        {"AttributeName": "messageId", "KeyType": "RANGE"},
    ]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    (event,) = props["Events"].values()
    assert event["Type"] == "DynamoDB"
    assert get_att(event["Properties"]["Stream"]) == (table_id, "StreamArn")


def test_chat_rooms_outputs_what_the_subscribers_need() -> None:
    # GIVEN the stack's outputs
    outputs = load("chat_rooms")["Outputs"]

    # THEN subscriber.py and subscriber.html find the HTTP domain (the auth header's host), the real-time
    # domain and the API key there
    assert outputs["HttpDomain"]["Value"] == {"Fn::GetAtt": ["ChatEventApi", "Dns.Http"]}
    assert outputs["RealtimeDomain"]["Value"] == {"Fn::GetAtt": ["ChatEventApi", "Dns.Realtime"]}
    assert outputs["ApiKey"]["Value"] == {"Fn::GetAtt": ["ChatApiKey", "ApiKey"]}
