"""DynamoDBVersionStore against moto's DynamoDB: reads, conditional writes, the text encoding, failures."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from streambridge import ConfigurationError
from streambridge._stores.versions import DynamoDBVersionStore, VersionStoreError, _decode, _encode

from .conftest import dynamodb_table

TABLE = "streambridge-versions"


@pytest.fixture
def table(aws: None) -> str:
    return dynamodb_table(TABLE)


def stored(key: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"id": {"S": key}}, ConsistentRead=True)[
        "Item"
    ]


def test_a_version_only_ever_rises(table: str) -> None:
    # GIVEN a key at version 10
    store = DynamoDBVersionStore(table)
    store.advance({"k": 10})
    # WHEN an older, an equal and then a newer version are written
    store.advance({"k": 9})
    store.advance({"k": 10})
    assert store.newest(["k"]) == {"k": 10}
    store.advance({"k": 11})
    # THEN the older one changed nothing (a failed condition is not an error) and the newer one won
    assert store.newest(["k"]) == {"k": 11}


def test_versions_compare_as_numbers_beyond_dynamodbs_38_digits(table: str) -> None:
    # GIVEN Kinesis-sized sequence numbers (56 digits) and one of a different length
    store = DynamoDBVersionStore(table)
    big = 49545115243490985018280067714973144582180062593244200961
    store.advance({"kinesis": big, "short": 99})
    # WHEN a smaller number with more digits than 99, and a bigger one by one, are written
    store.advance({"short": 100, "kinesis": big - 1})
    store.advance({"kinesis": big + 1})
    # THEN DynamoDB's comparison of the stored text followed the numbers
    assert store.newest(["kinesis", "short"]) == {"kinesis": big + 1, "short": 100}
    assert stored("short")["version"] == {"S": "003100"}


@pytest.mark.parametrize("version", [0, 7, 10, 99, 10**38, 2**128 - 1, 10**129])
def test_the_encoding_sorts_like_the_numbers(version: int) -> None:
    encoded = _encode(version)
    assert _decode(encoded) == version
    for other in (version - 1, version + 1):
        if other >= 0:
            assert (_encode(other) < encoded) == (other < version)


@pytest.mark.parametrize("text", ["", "12", "0021", "002x1", "١٢٣٤", "003123 "])
def test_text_the_store_did_not_write_is_not_read_as_a_version(text: str) -> None:
    assert _decode(text) is None


def test_many_keys_are_read_in_chunks_of_100_and_unknown_keys_are_absent(table: str) -> None:
    # GIVEN 250 keys written (more than two BatchGetItem calls' worth)
    store = DynamoDBVersionStore(table)
    store.advance({f"k{i}": i for i in range(250)})
    # WHEN they and 10 unknown keys are read (and one twice)
    found = store.newest([*(f"k{i}" for i in range(250)), "k3", *(f"new{i}" for i in range(10))])
    # THEN exactly the written ones come back, with their versions
    assert found == {f"k{i}": i for i in range(250)}


class Recording:
    """A boto3 DynamoDB client (moto's) that records calls and can leave keys unprocessed."""

    def __init__(self, unprocessed_rounds: int = 0) -> None:
        self.client = boto3.client("dynamodb")
        self.unprocessed_rounds = unprocessed_rounds
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append(("BatchGetItem", request))
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            return {"Responses": {}, "UnprocessedKeys": request["RequestItems"]}
        return self.client.batch_get_item(**request)  # type: ignore[no-any-return]

    def update_item(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append(("UpdateItem", request))
        return self.client.update_item(**request)  # type: ignore[no-any-return]

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


def test_reads_are_consistent_and_unprocessed_keys_are_retried_with_backoff(table: str) -> None:
    # GIVEN a store whose first two reads come back unprocessed (throttled)
    client = Recording(unprocessed_rounds=2)
    store = DynamoDBVersionStore(table, client=client)
    store.advance({"k": 5})
    pauses: list[float] = []
    store._sleep = pauses.append
    # WHEN it reads
    found = store.newest(["k"])
    # THEN it tried three times, strongly consistent each time, backing off in between
    assert found == {"k": 5}
    assert client.count("BatchGetItem") == 3
    assert all(request["RequestItems"][table]["ConsistentRead"] for _, request in client.calls[1:])
    assert pauses == [0.05, 0.1]


def test_keys_still_unprocessed_raise_rather_than_read_as_absent(table: str) -> None:
    # GIVEN a store whose reads all come back unprocessed
    store = DynamoDBVersionStore(table, client=Recording(unprocessed_rounds=99))
    store._sleep = lambda _: None
    # WHEN it reads THEN it raises: a key it could not read must not look unguarded
    with pytest.raises(VersionStoreError, match="left 1 keys unread"):
        store.newest(["k"])


def test_a_missing_table_raises(aws: None) -> None:
    store = DynamoDBVersionStore("no-such-table")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        store.newest(["k"])
    with pytest.raises(VersionStoreError, match="1 of 1 versions not written") as raised:
        store.advance({"k": 1})
    assert isinstance(raised.value.__cause__, ClientError)


def test_a_value_the_store_did_not_write_is_refused_by_name(table: str) -> None:
    # GIVEN an item edited by hand: a number where the store writes text
    boto3.client("dynamodb").put_item(TableName=table, Item={"id": {"S": "k"}, "version": {"N": "5"}})
    # WHEN read THEN the error names the key and says what to do
    with pytest.raises(VersionStoreError, match=r"for key 'k'.*correct or delete the item"):
        DynamoDBVersionStore(table).newest(["k"])


def test_writes_go_one_conditional_update_per_key(table: str) -> None:
    # GIVEN 30 keys to advance at once
    client = Recording()
    store = DynamoDBVersionStore(table, client=client)
    # WHEN advanced
    store.advance({f"k{i}": i for i in range(30)})
    # THEN one UpdateItem per key, each conditional on the stored version being absent or older
    assert client.count("UpdateItem") == 30
    _, request = client.calls[0]
    assert request["ConditionExpression"] == "attribute_not_exists(#v) OR #v < :v"
    assert request["ExpressionAttributeNames"] == {"#v": "version"}
    assert store.newest([f"k{i}" for i in range(30)]) == {f"k{i}": i for i in range(30)}


def test_ttl_writes_an_expiry_time_with_each_version(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streambridge._stores.versions.time.time", lambda: 1_000.0)
    store = DynamoDBVersionStore(table, ttl=3600)
    store.advance({"k": 1})
    assert stored("k")["expiresAt"] == {"N": "4600"}


def test_custom_attribute_names(aws: None) -> None:
    store = DynamoDBVersionStore(
        dynamodb_table("custom", key="pk"), key_attribute="pk", version_attribute="v"
    )
    store.advance({"a": 3})
    store.advance({"a": 2})
    assert store.newest(["a", "b"]) == {"a": 3}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"table": ""}, "table name"),
        ({"table": "t", "key_attribute": " "}, "attribute name"),
        ({"table": "t", "version_attribute": "id"}, "must differ"),
        ({"table": "t", "ttl": 0}, "ttl"),
        ({"table": "t", "ttl": float("inf")}, "ttl"),
        ({"table": "t", "ttl": True}, "ttl"),
    ],
)
def test_store_configuration_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DynamoDBVersionStore(**settings)
