"""examples/webhook: the order status handler behind an HTTP API, end to end on LocalAppSync.

The handler runs against a LocalAppSync serving the example's own schema (AWSDateTime checked as AppSync
checks it), signed with IAM as deployed, with events shaped as the HTTP API sends them (payload 2.0, the
IAM authorizer's caller in the request context); an in-process subscriber receives what order pages would.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streambridge.testing import LocalAppSync, events, lambda_context
from tests.memory_store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "examples" / "webhook" / "schema.graphql"
URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
ON_ORDER = "subscription S($id: ID) { onOrderStatus(orderId: $id) { orderId status amount at sender } }"
CALLER = "arn:aws:iam::123456789012:role/shop-backend"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example's handler module, imported for this test only (as a cold start, without the table)."""
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", URL)
    monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    module = importlib.import_module("examples.webhook.handler")
    yield module
    module.bridge.close()
    for name in [name for name in sys.modules if name.startswith("examples.webhook")]:
        del sys.modules[name]


def post(body: Any, **options: Any) -> dict[str, Any]:
    """POST /orders/status as the example's HTTP API delivers it: payload 2.0, the IAM caller included."""
    event = events.http(body, path="/orders/status", **options)
    event["requestContext"]["authorizer"] = {"iam": {"accountId": "123456789012", "userArn": CALLER}}
    return event


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response["statusCode"], json.loads(response["body"])


def test_order_status_changes_reach_the_order_page_in_order(
    example: ModuleType, local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN the example's API on LocalAppSync and the page of order o-1
    appsync: LocalAppSync = local_appsync_factory(SCHEMA)
    page = appsync.subscribe(ON_ORDER, {"id": "o-1"})
    handler = local_handler(example.handler, appsync)
    body = [
        {"orderId": "o-1", "status": "PAID", "amount": 42.5, "at": "2026-01-01T10:00:00Z"},
        {"orderId": "o-2", "status": "CREATED"},
        {"orderId": "o-1", "status": "SHIPPED"},
    ]

    # WHEN the backend POSTs three changes
    status, reply = answer(handler(post(body), lambda_context()))

    # THEN all are published, and the page saw o-1's two in order, with the sender and a default time
    assert (status, reply["published"]) == (200, 3)
    assert [m["onOrderStatus"] for m in page.wait_for(2)] == [
        {"orderId": "o-1", "status": "PAID", "amount": 42.5, "at": "2026-01-01T10:00:00Z", "sender": CALLER},
        {
            "orderId": "o-1",
            "status": "SHIPPED",
            "amount": None,
            "at": "2026-01-01T00:00:00Z",
            "sender": CALLER,
        },
    ]
    assert {m.auth_mode for m in appsync.mutations} == {"AWS_IAM"}


def test_changes_the_api_does_not_take_are_answered_422_and_other_orders_go_on(
    example: ModuleType, local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN changes the handler refuses (no orderId, an unknown status, an amount that is text) and one
    # AppSync refuses (a time that is no AWSDateTime), then a later change of that order and another order
    appsync: LocalAppSync = local_appsync_factory(SCHEMA)
    handler = local_handler(example.handler, appsync)
    body = [
        {"status": "PAID"},
        {"orderId": "o-1", "status": "LOST"},
        {"orderId": "o-2", "status": "PAID", "amount": "12"},
        {"orderId": "o-3", "status": "PAID", "at": "yesterday"},
        {"orderId": "o-3", "status": "SHIPPED"},
        {"orderId": "o-4", "status": "CREATED"},
    ]

    # WHEN handled
    status, reply = answer(handler(post(body), lambda_context()))

    # THEN 422 names each refused item and why, o-3's later change is held back, o-4 is published
    assert status == 422
    failures = {f["index"]: (f["error"], f["message"]) for f in reply["failures"]}
    assert "orderId must be a non-empty string" in failures[0][1]
    assert "status must be one of CANCELLED, CREATED, DELIVERED, PAID, SHIPPED" in failures[1][1]
    assert "amount must be a number" in failures[2][1]
    assert failures[3][0] == "GraphQLError"
    assert failures[4][0] == "HeldBackError"
    assert reply["published"] == 1
    assert [m.arguments["input"]["orderId"] for m in appsync.mutations if m.error is None] == ["o-4"]


def test_a_request_sent_again_under_its_idempotency_key_is_published_once(
    example: ModuleType, local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN the handler with an idempotency store (the stack's DynamoDB table, here in memory)
    appsync: LocalAppSync = local_appsync_factory(SCHEMA)
    handler = local_handler(example.handler, appsync)
    handler = handler.with_bridge(handler.bridge.replace(idempotency=MemoryStore()))
    event = post([{"orderId": "o-1", "status": "PAID"}], idempotency_key="5f0c9a2e")

    # WHEN the backend sends the same request twice (its connection dropped before the answer), then
    # the same key with another body
    first = answer(handler(event, lambda_context()))
    second = answer(handler(event, lambda_context()))
    other = answer(handler(post([{"orderId": "o-1", "status": "CANCELLED"}], idempotency_key="5f0c9a2e")))
    handler.bridge.close()

    # THEN it was published once, and the reused key was refused
    assert (first[0], second[0], second[1]["skipped"]) == (200, 200, 1)
    assert (other[0], other[1]["error"]) == (422, "idempotency_key_reused")
    assert [m.arguments["input"]["status"] for m in appsync.mutations] == ["PAID"]


def test_the_stack_table_is_the_idempotency_store_and_boto3_waits_for_the_first_request() -> None:
    # GIVEN the stack's environment: the table's name in IDEMPOTENCY_TABLE
    code = (
        "import sys, examples.webhook.handler as h\n"
        "print(type(h.bridge.idempotency).__name__, h.bridge.idempotency.table, 'boto3' in sys.modules)\n"
    )
    env = {"STREAMBRIDGE_APPSYNC_URL": URL, "IDEMPOTENCY_TABLE": "orders-idempotency", "PATH": "/usr/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    # THEN the handler keeps keys there, and importing it (the cold start) loaded no boto3
    assert out.stdout.split() == ["DynamoDBIdempotencyStore", "orders-idempotency", "False"]
