"""Every source through its decorator: default ordering keys, identifiers, single-event failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streambridge import (
    AlarmEvent,
    AuroraEvent,
    Bridge,
    DeliveryFailedError,
    EventBridgeEvent,
    EventShapeError,
    KinesisRecord,
    SQSRecord,
    Status,
)
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH

ALARM = "mutation Alarm($input: OrderInput!) { publishOrder(input: $input) { id status } }"


def statuses(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def test_kinesis_orders_by_partition_key_and_reports_sequence_numbers(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN telemetry of two devices where dev-2's second reading is poison
    readings = [("dev-1", "A"), ("dev-2", "A"), ("dev-2", "POISON"), ("dev-1", "B"), ("dev-2", "B")]
    event = events.kinesis([{"data": {"id": d, "status": s}, "partition_key": d} for d, s in readings])

    @bridge.kinesis(PUBLISH)
    def handler(record: KinesisRecord) -> dict[str, Any]:
        return {"input": record.json()}

    # WHEN the handler runs
    response = handler(event)

    # THEN dev-2 stops at the poison reading, and Lambda gets the Kinesis sequence numbers
    sequence = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert response == {
        "batchItemFailures": [{"itemIdentifier": sequence[2]}, {"itemIdentifier": sequence[4]}]
    }
    assert sorted(statuses(appsync)) == [("dev-1", "A"), ("dev-1", "B"), ("dev-2", "A")]


def test_kinesis_non_json_data_fails_only_that_record(bridge: Bridge, appsync: FakeAppSync) -> None:
    event = events.kinesis(
        [{"data": b"\xff not json", "partition_key": "a"}, {"data": {"id": "b", "status": "OK"}}]
    )

    @bridge.kinesis(PUBLISH)
    def handler(record: KinesisRecord) -> dict[str, Any]:
        return {"input": record.json()}

    result = handler.process(event)

    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED]
    assert "Kinesis" in str(result.outcomes[0].error)
    assert "#0" in str(result.outcomes[0].error)


def test_sqs_fifo_orders_by_message_group_and_reports_message_ids(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN a FIFO queue with two message groups, the first of group g1 poison
    bodies = [{"id": "g1", "status": "POISON"}, {"id": "g2", "status": "A"}, {"id": "g1", "status": "B"}]
    event = events.sqs(bodies, fifo=True, group_id=lambda body: body["id"])

    @bridge.sqs(PUBLISH)
    def handler(record: SQSRecord) -> dict[str, Any]:
        return {"input": record.json()}

    response = handler(event)

    # THEN the later g1 message is held back, reported by messageId
    ids = [r["messageId"] for r in event["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": ids[0]}, {"itemIdentifier": ids[2]}]}
    assert statuses(appsync) == [("g2", "A")]


def test_standard_sqs_is_unordered_so_a_failure_holds_back_nothing(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    event = events.sqs([{"id": "x", "status": "POISON"}, {"id": "x", "status": "B"}])

    @bridge.sqs(PUBLISH)
    def handler(record: SQSRecord) -> dict[str, Any]:
        return {"input": record.json()}

    response = handler(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert statuses(appsync) == [("x", "B")]


def test_aurora_payload_is_published_and_a_failure_raises(bridge: Bridge, appsync: FakeAppSync) -> None:
    @bridge.aurora(PUBLISH)
    def handler(event: AuroraEvent) -> dict[str, Any]:
        return {"input": {"id": str(event.get("order_id")), "status": event.get("status")}}

    assert handler(events.aurora({"order_id": 7, "status": "PAID"})) == {"published": 1, "skipped": 0}
    assert statuses(appsync) == [("7", "PAID")]

    # AND a failure raises so that Lambda's retry / MySQL's lambda_sync sees a useful error
    with pytest.raises(DeliveryFailedError, match="PoisonError: poison record") as raised:
        handler(events.aurora({"order_id": 8, "status": "POISON"}))
    assert raised.value.result.failed == 1


@pytest.mark.parametrize("via", ["lambda", "sns"])
def test_cloudwatch_alarm_direct_and_through_sns(bridge: Bridge, appsync: FakeAppSync, via: str) -> None:
    @bridge.cloudwatch_alarm(ALARM)
    def handler(alarm: AlarmEvent) -> dict[str, Any]:
        return {"input": {"id": alarm.alarm_name, "status": alarm.state}}

    handler(events.cloudwatch_alarm("HighCpu", state="ALARM", via=via))  # type: ignore[arg-type]

    assert statuses(appsync) == [("HighCpu", "ALARM")]


def test_eventbridge_event(bridge: Bridge, appsync: FakeAppSync) -> None:
    @bridge.eventbridge(PUBLISH)
    def handler(event: EventBridgeEvent) -> dict[str, Any] | None:
        if event.detail_type != "OrderUpdated":
            return None
        return {"input": {"id": event.detail["orderId"], "status": event.detail["status"]}}

    assert handler(events.eventbridge({"orderId": "o1", "status": "SHIPPED"})) == {
        "published": 1,
        "skipped": 0,
    }
    assert handler(events.eventbridge({}, detail_type="Other")) == {"published": 0, "skipped": 1}
    assert statuses(appsync) == [("o1", "SHIPPED")]


def test_a_wrong_event_for_the_decorator_is_a_clear_error(bridge: Bridge, appsync: FakeAppSync) -> None:
    @bridge.dynamodb(PUBLISH)
    def handler(_record: object) -> None:
        return None

    with pytest.raises(EventShapeError, match="kinesis"):
        handler(events.kinesis([b"x"]))
    assert appsync.requests == []


def test_an_empty_batch_answers_no_failures(bridge: Bridge) -> None:
    @bridge.dynamodb(PUBLISH)
    def handler(_record: object) -> None:
        return None

    assert handler({"Records": []}) == {"batchItemFailures": []}


@pytest.mark.asyncio
async def test_the_handler_works_inside_a_running_event_loop(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN code that already runs an event loop (an async test, a notebook)
    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    event = events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}])
    # WHEN the sync entry point and the async one are used
    assert handler(event) == {"batchItemFailures": []}
    result = await handler.process_async(event)
    # THEN both publish
    assert result.published == 1
    assert len(appsync.published) == 2
    await asyncio.sleep(0)
