"""Payloads sent by Aurora MySQL (lambda_sync / lambda_async) and PostgreSQL (aws_lambda.invoke)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streambridge import AuroraEvent
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES

SamEvent = Callable[[str], dict[str, Any]]
parse = SOURCES["aurora"].parse

# Aurora MySQL: SELECT lambda_sync('arn:aws:lambda:us-east-1:123456789012:function:BasicTestLambda',
#   '{"operation": "ping"}');  The Lambda event is the JSON payload itself, with no envelope.
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Integrating.NativeLambda.html
MYSQL_PAYLOAD: dict[str, Any] = {"operation": "ping"}

# Aurora PostgreSQL: SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('my-function',
#   'us-east-1'), '{"body": "Hello from Postgres!"}'::json);  Again the payload is the whole event.
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/PostgreSQL-Lambda.html
POSTGRES_PAYLOAD: dict[str, Any] = {"body": "Hello from Postgres!"}


def _event(payload: Any) -> AuroraEvent:
    (record,) = parse(payload)
    assert isinstance(record, AuroraEvent)
    return record


@pytest.mark.parametrize("payload", [MYSQL_PAYLOAD, POSTGRES_PAYLOAD])
def test_object_payload_is_one_record(payload: dict[str, Any]) -> None:
    # GIVEN the payload a database statement sent
    # WHEN parsed
    record = _event(payload)

    # THEN it is one record whose payload is that JSON, keyed by nothing
    assert record.payload == payload
    assert record.raw == payload
    assert record.item_identifier == "aurora-event"
    assert record.default_partition_key is None
    assert record.index == 0
    assert record.describe() == "Aurora record #0 (aurora-event)"


def test_get_reads_object_keys() -> None:
    # GIVEN a MySQL payload / WHEN keys are read / THEN dict.get semantics
    record = _event(MYSQL_PAYLOAD)
    assert record.get("operation") == "ping"
    assert record.get("missing") is None
    assert record.get("missing", "fallback") == "fallback"


def test_raw_of_an_object_payload_is_read_only() -> None:
    # GIVEN an object payload / WHEN raw is written / THEN refused
    record = _event({"id": 1})
    with pytest.raises(TypeError):
        record.raw["id"] = 2


@pytest.mark.parametrize("payload", [[1, 2, 3], "text", 42, 4.5, True, None])
def test_arrays_and_scalars_are_payloads_too(payload: Any) -> None:
    # GIVEN a payload that is not an object (PostgreSQL can send any json value)
    # WHEN parsed
    record = _event(payload)

    # THEN the payload reads as sent, and get() says why it cannot work
    assert record.payload == payload
    assert record.raw == payload
    with pytest.raises(RecordError, match=r"^Aurora record #0 \(aurora-event\): the payload is a JSON \w+"):
        record.get("id")


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("dynamodb/DynamoDBUpdate", "an aws:dynamodb event (DynamoDB Streams)"),
        ("sqs/Sqs", "an aws:sqs event (SQS)"),
        ("sns/Sns", "an aws:sns event (SNS)"),
        ("cloudwatch/ScheduledEvent", "an EventBridge event"),
    ],
)
def test_events_from_aws_services_are_refused(sam_event: SamEvent, name: str, what: str) -> None:
    # GIVEN an event an AWS service produced / WHEN the Aurora handler parses it
    with pytest.raises(EventShapeError) as caught:
        parse(sam_event(name))

    # THEN it is refused with what it looked like
    assert str(caught.value).startswith(f"aurora handler received {what}")


def test_payload_that_merely_has_records_key_is_accepted() -> None:
    # GIVEN a database payload that happens to use a "Records" key of its own
    payload = {"Records": [{"id": 1}, {"id": 2}]}

    # WHEN parsed / THEN it is just a payload
    assert _event(payload).get("Records") == [{"id": 1}, {"id": 2}]
