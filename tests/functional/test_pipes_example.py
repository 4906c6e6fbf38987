"""examples/pipes: the parcel handler on a pipe's batches, end to end on LocalAppSync, and its stack's pipe.

The handler runs against a LocalAppSync serving the example's own schema, signed with IAM as deployed, and
an in-process subscriber receives what tracking pages would. The template's pipe is checked for what
streambridge needs of it (docs/sources/pipes.md): a synchronous Lambda target, no bisecting, bounded
retries into a queue of the stack, a role that can do only its job.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cfnlint.decode import decode

from streambridge import EventShapeError, Status
from streambridge._tools.cli import main
from streambridge.testing import DEFAULT_CREDENTIALS, FieldError, LocalAppSync, events, lambda_context

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipes"
SCHEMA = EXAMPLE / "schema.graphql"
URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
ON_PARCEL = "subscription S($id: ID) { onParcel(id: $id) { id status location updatedAt seq } }"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example's handler module, imported for this test only."""
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", URL)
    monkeypatch.chdir(ROOT)
    module = importlib.import_module("examples.pipes.handler")
    yield module
    module.bridge.close()
    for name in [name for name in sys.modules if name.startswith("examples.pipes")]:
        del sys.modules[name]


def lost_parcels(_field: str, arguments: dict[str, Any]) -> Any:
    """publishParcel's NONE resolver, except that it refuses a parcel reported LOST (a poison record)."""
    parcel = arguments["input"]
    if parcel["status"] == "LOST":
        raise FieldError("parcel reported lost: not published", "LostParcel")
    return parcel


def parcel_changes(*rows: tuple[str, str]) -> dict[str, Any]:
    return events.dynamodb(
        [
            {"new_image": {"id": parcel, "status": status, "location": f"hub {n}"}}
            for n, (parcel, status) in enumerate(rows)
        ]
    )


def test_a_pipes_batch_reaches_tracking_pages_in_order_per_parcel(
    example: ModuleType, local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN the example's API on LocalAppSync, a tracking page subscribed to every parcel, and the handler
    appsync: LocalAppSync = local_appsync_factory(SCHEMA, resolvers={"Mutation.publishParcel": lost_parcels})
    page = appsync.subscribe(ON_PARCEL)
    handler = local_handler(example.handler, appsync)
    # AND a pipe's batch in which p-2 is reported lost, then found again
    batch = events.pipe(
        parcel_changes(
            ("p-1", "LABEL_CREATED"),
            ("p-2", "LABEL_CREATED"),
            ("p-1", "IN_TRANSIT"),
            ("p-2", "LOST"),
            ("p-1", "DELIVERED"),
            ("p-2", "IN_TRANSIT"),
        )
    )

    # WHEN the pipe invokes the function
    answer = handler(batch, lambda_context())

    # THEN the page saw p-1's three states in order and p-2 only up to the refused one
    messages = page.wait_for(4)
    seen = [(m["onParcel"]["id"], m["onParcel"]["status"]) for m in messages]
    assert [s for s in seen if s[0] == "p-1"] == [
        ("p-1", "LABEL_CREATED"),
        ("p-1", "IN_TRANSIT"),
        ("p-1", "DELIVERED"),
    ]
    assert [s for s in seen if s[0] == "p-2"] == [("p-2", "LABEL_CREATED")]
    assert messages[0]["onParcel"]["seq"] == batch[0]["dynamodb"]["SequenceNumber"]
    # AND the pipe is told the refused change and the one held back behind it, by eventID
    assert answer == {
        "batchItemFailures": [
            {"itemIdentifier": batch[3]["eventID"]},
            {"itemIdentifier": batch[5]["eventID"]},
        ]
    }
    # AND every mutation was signed with IAM, as the deployed function signs
    assert {m.auth_mode for m in appsync.mutations} == {"AWS_IAM"}


def test_a_removal_that_passes_the_filter_publishes_nothing(
    example: ModuleType, local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN a pipe's batch whose only change is a deletion (the template's filter would drop it)
    appsync: LocalAppSync = local_appsync_factory(SCHEMA)
    handler = local_handler(example.handler, appsync)
    batch = events.pipe(events.dynamodb([{"old_image": {"id": "p-1", "status": "DELIVERED"}}]))

    # WHEN handled / THEN it is skipped: nothing is sent, nothing failed
    result = handler.process(batch, lambda_context())
    assert [o.status for o in result.outcomes] == [Status.SKIPPED]
    assert appsync.mutations == []


def test_a_batch_an_enrichment_replaced_fails_before_anything_is_published(
    example: ModuleType, local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN an enrichment that returned the parcels instead of the stream records
    appsync: LocalAppSync = local_appsync_factory(SCHEMA)
    handler = local_handler(example.handler, appsync)

    # WHEN the pipe invokes the function with them / THEN it fails the invocation, naming the cause
    with pytest.raises(EventShapeError, match=r"check the pipe's source, and that its enrichment"):
        handler([{"id": "p-1", "status": "LOST"}], lambda_context())
    assert appsync.mutations == []


def test_events_pipe_into_invoke_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], local_appsync_factory: Any
) -> None:
    # GIVEN LocalAppSync with the example's schema, and the exports `streambridge local` prints
    appsync: LocalAppSync = local_appsync_factory(SCHEMA)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", appsync.url)
    access_key, secret_key, _ = DEFAULT_CREDENTIALS[0]  # long-term keys: no session token
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("AWS_REGION", appsync.region)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    # AND a pipe's batch of three changes of one parcel from `streambridge events --pipe`
    argv = ["events", "dynamodb", "--new-image", '{"id": "p-1", "status": "IN_TRANSIT"}', "--count", "3"]
    assert main([*argv, "--pipe", "--compact"]) == 0
    batch = json.loads(capsys.readouterr().out)
    assert isinstance(batch, list)
    assert len(batch) == 3

    # WHEN `streambridge invoke` runs the example's handler on it from stdin
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(batch)))
    try:
        code = main(["invoke", "examples.pipes.handler:handler", "--event", "-", "--json"])
    finally:
        for name in [name for name in sys.modules if name.startswith("examples.pipes")]:
            del sys.modules[name]
    report = json.loads(capsys.readouterr().out)

    # THEN all three are published, in order, and the answer is a pipe's success
    assert code == 0, report
    assert report["summary"]["published"] == 3
    assert [o["itemIdentifier"] for o in report["outcomes"]] == [record["eventID"] for record in batch]
    assert report["response"] == {"batchItemFailures": []}
    assert [m.arguments["input"]["seq"] for m in appsync.mutations] == [
        record["dynamodb"]["SequenceNumber"] for record in batch
    ]


# --------------------------------------------------------------------------------------------------
# The stack


def template() -> dict[str, Any]:
    loaded, matches = decode(str(EXAMPLE / "template.yaml"))
    assert matches == []
    assert loaded is not None
    return loaded


def of_type(resources: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {rid: r["Properties"] for rid, r in resources.items() if r["Type"] == kind}


def get_att(value: Any) -> tuple[str, str]:
    assert list(value) == ["Fn::GetAtt"], value
    target = value["Fn::GetAtt"]
    resource, attribute = target.split(".", 1) if isinstance(target, str) else target
    return resource, attribute


def test_the_pipe_reads_the_table_stream_and_invokes_the_publisher_synchronously() -> None:
    # GIVEN the stack's pipe
    resources = template()["Resources"]
    ((_, pipe),) = of_type(resources, "AWS::Pipes::Pipe").items()
    functions = of_type(resources, "AWS::Serverless::Function")
    (publisher_id,) = [fid for fid, f in functions.items() if f["CodeUri"] == "."]

    # THEN it reads the parcels table's stream and targets the example's handler, waiting for its answer
    table, attribute = get_att(pipe["Source"])
    assert (resources[table]["Type"], attribute) == ("AWS::DynamoDB::Table", "StreamArn")
    assert of_type(resources, "AWS::DynamoDB::Table")[table]["StreamSpecification"] == {
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    }
    assert get_att(pipe["Target"]) == (publisher_id, "Arn")
    assert functions[publisher_id]["Handler"] == "handler.handler"
    assert pipe["TargetParameters"] == {"LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}}
    # AND within the 5 minutes a pipe execution may last
    assert functions[publisher_id]["Timeout"] < 300


def test_the_pipe_retries_what_the_function_reports_a_bounded_number_of_times() -> None:
    # GIVEN the pipe's source parameters
    resources = template()["Resources"]
    ((_, pipe),) = of_type(resources, "AWS::Pipes::Pipe").items()
    stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]

    # THEN the answer is used as given (no bisecting), retries and age are bounded, and what the pipe gives
    # up on goes to a queue of the stack; one batch per shard at a time
    assert "OnPartialBatchItemFailure" not in stream
    assert 0 <= stream["MaximumRetryAttempts"] <= 10
    assert 60 <= stream["MaximumRecordAgeInSeconds"] <= 86400
    queue, attribute = get_att(stream["DeadLetterConfig"]["Arn"])
    assert (resources[queue]["Type"], attribute) == ("AWS::SQS::Queue", "Arn")
    assert stream["ParallelizationFactor"] == 1
    assert stream["StartingPosition"] == "LATEST"


def test_the_filter_passes_inserts_and_updates_only() -> None:
    # GIVEN the pipe's filter
    resources = template()["Resources"]
    ((_, pipe),) = of_type(resources, "AWS::Pipes::Pipe").items()
    (rule,) = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
    pattern = json.loads(rule["Pattern"])

    # THEN it matches on eventName alone (a field a pipe lets filters read), with the stream's values
    assert pattern == {"eventName": ["INSERT", "MODIFY"]}
    names = {
        r["eventName"]
        for r in events.pipe(events.dynamodb([{"new_image": {"id": "p"}}, {"old_image": {"id": "p"}}]))
    }
    assert names == {"INSERT", "REMOVE"}


def test_the_pipe_role_can_read_the_stream_invoke_the_publisher_and_send_dead_letters_only() -> None:
    # GIVEN the pipe and its role
    resources = template()["Resources"]
    ((_, pipe),) = of_type(resources, "AWS::Pipes::Pipe").items()
    role_id, _ = get_att(pipe["RoleArn"])
    role = resources[role_id]["Properties"]

    # THEN only EventBridge Pipes of this account may assume it
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # AND it grants exactly the stream reads, the invocation and the dead-letter send, each on its resource
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    grants = {
        (tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],)): get_att(s["Resource"])
        for s in statements
    }
    stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
    assert grants == {
        (
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ): get_att(pipe["Source"]),
        ("lambda:InvokeFunction",): get_att(pipe["Target"]),
        ("sqs:SendMessage",): get_att(stream["DeadLetterConfig"]["Arn"]),
    }
