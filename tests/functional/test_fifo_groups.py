"""SQS FIFO: the message group holds whatever the ordering key (docs/sources/sqs.md, docs/semantics.md)."""

from __future__ import annotations

from typing import Any

from streambridge import Bridge, SQSRecord, Status
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH


def test_a_partition_key_override_does_not_split_a_fifo_message_group(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN one FIFO message group whose first message is rejected, ordered by order id by the user
    bodies = [{"id": "a", "status": "POISON"}, {"id": "b", "status": "B"}, {"id": "c", "status": "C"}]
    event = events.sqs([*bodies, {"id": "d", "status": "D"}], fifo=True, group_id="g1")
    event["Records"][3]["attributes"]["MessageGroupId"] = "g2"

    @bridge.sqs(PUBLISH, partition_key=lambda r: r.json()["id"])
    def handler(record: SQSRecord) -> dict[str, Any]:
        return {"input": record.json()}

    # WHEN the handler runs
    result = handler.process(event)

    # THEN the later messages of the group are held back and reported, as Lambda's FIFO contract requires;
    # the other group goes on
    failed, published = Status.FAILED, Status.PUBLISHED
    assert [o.status for o in result.outcomes] == [failed, failed, failed, published]
    ids = [r["messageId"] for r in event["Records"]]
    assert result.lambda_response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids[:3]]}
    assert [p.result["id"] for p in appsync.published] == ["d"]


def test_a_partition_key_still_orders_a_standard_queue(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN a standard queue ordered by order id, a fair-queue group id that promises no order
    bodies = [{"id": "a", "status": "POISON"}, {"id": "b", "status": "B"}, {"id": "a", "status": "A2"}]
    event = events.sqs(bodies, group_id="tenant-1")

    @bridge.sqs(PUBLISH, partition_key=lambda r: r.json()["id"])
    def handler(record: SQSRecord) -> dict[str, Any]:
        return {"input": record.json()}

    result = handler.process(event)

    # THEN the user's key orders: a's later message is held back, b goes on
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED, Status.FAILED]
    assert [p.result["id"] for p in appsync.published] == ["b"]
