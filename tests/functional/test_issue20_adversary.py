"""Adversarial checks of issue 20's paths working together: arrange, idempotency, coalescing, stale guard."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streambridge import Bridge, KinesisDynamoDBRecord, Status
from streambridge.testing import FakeAppSync, events, lambda_context
from tests.memory_store import MemoryStore

from .conftest import PUBLISH


def orders(bridge: Bridge) -> Any:
    @bridge.kinesis_dynamodb(PUBLISH)
    def handler(record: KinesisDynamoDBRecord) -> dict[str, Any]:
        return {"input": record.new_image}

    return handler


def statuses(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def change(key: str, status: str, previous: str | None = None) -> dict[str, Any]:
    old = None if previous is None else {"id": key, "status": previous}
    return {"new_image": {"id": key, "status": status}, "old_image": old}


def lambda_retry(event: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """What Lambda re-delivers after ``answer``: the shard from the lowest failed sequence number on."""
    lowest = min(int(f["itemIdentifier"]) for f in answer["batchItemFailures"])
    return {"Records": [r for r in event["Records"] if int(r["kinesis"]["sequenceNumber"]) >= lowest]}


# -- Kinesis Data Streams for DynamoDB with an idempotency store ----------------------------------------


def test_a_duplicate_redelivered_without_its_published_copy_is_not_published_again(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN order a's change delivered twice around order b's POISON change (a then b then a's copy)
    store = MemoryStore()
    handler = orders(make_bridge(idempotency=store))
    event = events.kinesis_dynamodb([change("a", "NEW"), change("b", "POISON")], arrival=[0, 1, 0])
    answer = handler(event, lambda_context())
    assert statuses(appsync) == [("a", "NEW")]  # the copy was skipped as a duplicate of record #0

    # WHEN Lambda re-delivers from b's record: b, then the copy of a's change, now alone in its batch
    again = handler.process(lambda_retry(event, answer), lambda_context())

    # THEN a's change, published and remembered, is not published a second time
    assert statuses(appsync) == [("a", "NEW")]
    assert [o.status for o in again.outcomes] == [Status.FAILED, Status.SKIPPED]


def test_a_coalesced_change_that_arrived_after_the_one_published_is_remembered(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a coalescing bridge with an idempotency store, and an order's two changes arriving newest first
    store = MemoryStore()
    handler = orders(make_bridge(idempotency=store, coalesce=True))
    event = events.kinesis_dynamodb([change("a", "NEW"), change("a", "PAID", "NEW")], arrival=[1, 0])
    first = handler.process(event, lambda_context())
    assert statuses(appsync) == [("a", "PAID")]
    assert [o.status for o in first.outcomes] == [Status.PUBLISHED, Status.SKIPPED]

    # WHEN Lambda delivers the same batch again (e.g. after the invocation timed out)
    again = handler.process(event, lambda_context())

    # THEN nothing is published again: both changes are known to be done
    assert statuses(appsync) == [("a", "PAID")]
    assert [o.note for o in again.outcomes] == ["already published (idempotency store)"] * 2


# -- the stale guard's store failing in its own way ---------------------------------------------------------


class HttpClientError(Exception):
    """An HTTP client's error whose ``response`` may be None (requests' RequestException is one)."""

    def __init__(self, message: str, response: Any = None) -> None:
        super().__init__(message)
        self.response = response


class RemoteVersions:
    """A version store behind an HTTP service that cannot be reached."""

    def newest(self, keys: Sequence[str]) -> Mapping[str, int]:
        raise HttpClientError("connection refused")

    def advance(self, versions: Mapping[str, int]) -> None:
        raise AssertionError("nothing is published while the store cannot be read")


def test_a_store_error_without_a_response_fails_the_records_not_the_invocation(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a stream and a webhook guarded by a store whose client's error has response=None
    bridge = make_bridge(stale_guard=RemoteVersions())
    stream = bridge.dynamodb(PUBLISH)(lambda r: {"input": r.new_image})
    webhook = bridge.http(
        PUBLISH, partition_key=lambda i: i.json()["id"], version=lambda i: i.json()["revision"]
    )(lambda i: {"input": {"id": i.json()["id"], "status": i.json()["status"]}})

    # WHEN each is invoked
    batch = events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}])
    answer = stream(batch, lambda_context())
    reply = webhook(events.http({"id": "a", "status": "NEW", "revision": 1}), lambda_context())

    # THEN the records fail for Lambda (and the sender) to retry; nothing is published, nothing raised
    seq = batch["Records"][0]["dynamodb"]["SequenceNumber"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": seq}]}
    assert reply["statusCode"] == 503
    assert appsync.published == []
