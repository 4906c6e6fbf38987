"""The opt-in idempotency store and dead-letter queue against moto's DynamoDB and SQS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from streambridge import ConfigurationError, GraphQLError
from streambridge._errors import (
    AuthorizationError,
    DeadlineExceededError,
    HeldBackError,
    ServerError,
    can_dead_letter,
)
from streambridge._sources import SOURCES
from streambridge._stores.deadletter import DeadLetter, SQSDeadLetterQueue
from streambridge._stores.idempotency import DynamoDBIdempotencyStore, idempotency_key
from streambridge.testing import events

from .conftest import dynamodb_table


@pytest.fixture
def table(aws: None) -> str:
    return dynamodb_table("streambridge-idempotency")


def records(count: int) -> list[Any]:
    return list(
        SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": {"id": str(i)}} for i in range(count)]))
    )


def test_keys_name_a_record_across_deliveries_and_streams() -> None:
    first, second = records(2)
    again = records(1)[0]
    assert idempotency_key("dynamodb", first) == idempotency_key("dynamodb", again)
    assert idempotency_key("dynamodb", first) != idempotency_key("dynamodb", second)
    assert first.raw["eventSourceARN"] in idempotency_key("dynamodb", first)


def test_the_store_remembers_published_keys_over_many_chunks(table: str) -> None:
    # GIVEN 260 keys remembered (more than one BatchWriteItem and BatchGetItem chunk)
    store = DynamoDBIdempotencyStore(table)
    keys = [f"dynamodb|arn|{i}" for i in range(260)]
    store.remember(keys[:130])
    # WHEN all are looked up
    found = store.published(keys)
    # THEN exactly the remembered ones are found
    assert found == set(keys[:130])


def test_expired_keys_count_as_unseen(table: str) -> None:
    store = DynamoDBIdempotencyStore(table, ttl=1)
    boto3.client("dynamodb").put_item(TableName=table, Item={"id": {"S": "old"}, "expiresAt": {"N": "1000"}})
    store.remember(["fresh"])
    assert store.published(["old", "fresh"]) == {"fresh"}


def test_store_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="table name"):
        DynamoDBIdempotencyStore("")
    with pytest.raises(ConfigurationError, match="ttl"):
        DynamoDBIdempotencyStore("t", ttl=0)


@pytest.fixture
def queue(aws: None) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="streambridge-dlq")["QueueUrl"])


def received(queue_url: str) -> list[dict[str, Any]]:
    client = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(json.loads(m["Body"]) for m in batch)
        for message in batch:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_dead_letters_carry_the_record_and_the_error(queue: str) -> None:
    # GIVEN 12 records that failed for good (more than one SendMessageBatch)
    letters = [
        DeadLetter("dynamodb", r, GraphQLError("rejected", error_type="ValidationError")) for r in records(12)
    ]
    # WHEN sent
    unsent = SQSDeadLetterQueue(queue).send(letters)
    # THEN all arrived, each with its record as delivered and the error
    assert unsent == set()
    messages = sorted(received(queue), key=lambda m: m["itemIdentifier"])
    assert len(messages) == 12
    assert messages[0]["record"] == dict(letters[0].record.raw)
    assert messages[0]["error"] == {"type": "GraphQLError", "message": "rejected"}


def test_an_oversized_record_is_dead_lettered_without_its_body() -> None:
    record = SOURCES["dynamodb"].parse(events.dynamodb([{"new_image": {"id": "1", "blob": "x" * 300_000}}]))[
        0
    ]
    message = json.loads(DeadLetter("dynamodb", record, GraphQLError("too big")).message())
    assert message["record"] is None
    assert message["recordTruncated"] is True
    assert message["itemIdentifier"] == record.item_identifier


def test_an_unreachable_queue_reports_every_letter_unsent(aws: None) -> None:
    sink = SQSDeadLetterQueue("https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    letters = [DeadLetter("dynamodb", r, GraphQLError("x")) for r in records(3)]
    assert sink.send(letters) == {0, 1, 2}


@pytest.mark.parametrize(
    ("error", "dead_letter"),
    [
        (GraphQLError("rejected"), True),
        (ServerError("503"), False),
        (AuthorizationError("401"), False),
        (DeadlineExceededError("late"), False),
        (HeldBackError("behind"), False),
    ],
)
def test_only_failures_a_retry_cannot_cure_are_dead_lettered(error: Any, dead_letter: bool) -> None:
    assert can_dead_letter(error) is dead_letter
