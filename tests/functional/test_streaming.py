"""Planning overlaps sending: later records are mapped while the first requests are in flight."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from streambridge import (
    Bridge,
    DeadlineExceededError,
    DynamoDBRecord,
    HeldBackError,
    Status,
)
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH


@pytest.fixture
def one_record_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan one record at a time between two looks at the network (the default is a few ms of CPU)."""
    monkeypatch.setattr("streambridge._engine.publish.SLICE_SECONDS", 0.0)


def orders(*changes: tuple[str, str]) -> dict[str, Any]:
    return events.dynamodb([{"new_image": {"id": key, "status": status}} for key, status in changes])


def published(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def sent(appsync: FakeAppSync) -> list[tuple[str, str]]:
    """Every order change AppSync received, published or not."""
    return [
        (order["id"], order["status"])
        for request in appsync.requests
        for order in json.loads(request.body)["variables"].values()
    ]


@pytest.mark.usefixtures("one_record_slices")
def test_the_first_requests_go_out_while_later_records_are_still_being_mapped(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN 60 changes over 20 orders, requests of 5, and an AppSync that answers after 5 ms
    appsync.latency = 0.005
    changes = [(f"o{i % 20}", f"S{i // 20}") for i in range(60)]
    requests_seen_while_mapping: list[int] = []

    @make_bridge(batch_size=5).dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        requests_seen_while_mapping.append(len(appsync.requests))
        time.sleep(0.0005)  # a mapping function that does some work
        return {"input": record.new_image}

    # WHEN the handler runs
    result = handler.process(orders(*changes))

    # THEN full requests were sent before the last record was mapped
    assert result.published == 60
    assert all(len(json.loads(r.body)["variables"]) == 5 for r in appsync.requests)
    assert requests_seen_while_mapping[0] == 0
    assert requests_seen_while_mapping[-1] > 0
    # AND each order's changes were published in source order
    for key in {key for key, _ in changes}:
        assert [s for k, s in published(appsync) if k == key] == ["S0", "S1", "S2"]


@pytest.mark.usefixtures("one_record_slices")
def test_a_record_planned_after_its_key_failed_is_held_back_and_never_sent(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN a's first change is poison, and a's next change comes after other records
    event = orders(("a", "POISON"), ("b", "NEW"), ("b", "PAID"), ("c", "NEW"), ("a", "PAID"))

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        return {"input": record.new_image}

    # WHEN the poison record fails while the later ones are still being planned
    result = handler.process(event)

    # THEN a's later change is reported held back and AppSync never received it
    assert [o.status for o in result.outcomes] == [
        Status.FAILED, Status.PUBLISHED, Status.PUBLISHED, Status.PUBLISHED, Status.FAILED,
    ]  # fmt: skip
    assert isinstance(result.outcomes[4].error, HeldBackError)
    assert ("a", "PAID") not in sent(appsync)
    assert sorted(published(appsync)) == [("b", "NEW"), ("b", "PAID"), ("c", "NEW")]


@pytest.mark.usefixtures("one_record_slices")
def test_a_key_whose_lane_went_idle_gets_its_later_records_in_order(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a published its first change before its second one is planned
    @make_bridge().dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        return {"input": record.new_image}

    # WHEN the handler runs
    event = orders(("a", "NEW"), ("b", "NEW"), ("c", "NEW"), ("a", "PAID"), ("a", "SHIPPED"))
    result = handler.process(event)

    # THEN all are published, a in order
    assert result.published == 5
    assert [s for k, s in published(appsync) if k == "a"] == ["NEW", "PAID", "SHIPPED"]


@pytest.mark.usefixtures("one_record_slices")
def test_coalescing_still_sees_every_change_of_a_key_before_sending(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    @make_bridge(coalesce=True).dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        return {"input": record.new_image}

    result = handler.process(orders(("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("a", "SHIPPED")))

    assert published(appsync) == [("a", "SHIPPED"), ("b", "NEW")]
    assert len(appsync.requests) == 1
    assert [o.status for o in result.outcomes] == [
        Status.SKIPPED, Status.PUBLISHED, Status.SKIPPED, Status.PUBLISHED,
    ]  # fmt: skip


def test_the_deadline_also_stops_a_slow_mapping_function(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a mapping function taking 20 ms per record, and 0.4 s of work time left
    mapped: list[int] = []

    @make_bridge(deadline_margin=0.2).dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        mapped.append(record.index)
        time.sleep(0.02)
        return {"input": record.new_image}

    # WHEN 100 records come (2 s of mapping)
    started = time.monotonic()
    result = handler.process(
        orders(*[(f"o{i}", "NEW") for i in range(100)]), events.lambda_context(timeout_ms=600)
    )

    # THEN the invocation ends before the deadline, with the unmapped records reported failed for retry
    assert time.monotonic() - started < 0.6
    assert len(mapped) < 100
    assert result.published + result.failed == 100
    unmapped = [o for o in result.outcomes if o.record.index not in mapped]
    assert unmapped
    assert all(isinstance(o.error, DeadlineExceededError) for o in unmapped)
    assert published(appsync) == [(f"o{i}", "NEW") for i in range(result.published)]
