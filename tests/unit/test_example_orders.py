"""The orders example's mapping function, alone (the whole example runs in tests/integration/test_demo)."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from streambridge.testing import events
from streambridge.testing.events import Change


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", "https://abc.appsync-api.eu-west-1.amazonaws.com/graphql")
    return importlib.import_module("examples.orders.handler")


def test_updates_become_order_inputs_with_the_sequence_number(orders: ModuleType) -> None:
    event = events.dynamodb(
        [Change.modify({"id": "o1", "status": "NEW"}, {"id": "o1", "status": "PAID", "amount": 12.5})]
    )
    record = orders.handler.source.parse(event)[0]
    assert orders.handler.mapper(record) == {
        "input": {"id": "o1", "status": "PAID", "customer": None, "amount": 12.5, "updatedAt": None,
                  "seq": event["Records"][0]["dynamodb"]["SequenceNumber"]}
    }  # fmt: skip


def test_deletions_are_skipped(orders: ModuleType) -> None:
    event = events.dynamodb([Change.remove({"id": "o1", "status": "PAID"})])
    assert orders.handler.mapper(orders.handler.source.parse(event)[0]) is None
