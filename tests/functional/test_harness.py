"""The test harness a new user reaches for (issue 14, section 5): fault windows and rates, local_handler."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest

from streambridge import ApiKeyAuth, Bridge, DeadLetter, Handler, RetryPolicy, SQSRecord, Status
from streambridge.testing import FakeAppSync, FieldError, ReceivedRequest, conditions, events, lambda_context
from streambridge.testing import run_on_virtual_time as on_virtual_time

URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"
SCHEMA = """
type Order @aws_api_key @aws_iam { id: ID! status: String! }
input OrderInput { id: ID! status: String! }
type Query { order(id: ID!): Order }
type Mutation { publishOrder(input: OrderInput!): Order @aws_iam }
type Subscription @aws_api_key { onPublishOrder: Order @aws_subscribe(mutations: ["publishOrder"]) }
"""

bridge = Bridge(URL, ApiKeyAuth("da2-test"), batch_size=1)


@bridge.sqs(PUBLISH)
def handler(record: SQSRecord) -> dict:
    return {"input": record.json()}


def _on(appsync: FakeAppSync, **settings: object) -> tuple[Handler[SQSRecord], Bridge]:
    faulty = bridge.replace(transport=appsync, **settings)
    return handler.with_bridge(faulty), faulty


def test_throttled_for_two_seconds_then_published() -> None:
    # GIVEN an AppSync that throttles every request for 2 seconds, and a retry policy that outlasts it:
    # bounded by time (20 s), not by a count, since ten full-jitter waits can add up to less than 2 s (about
    # 1 run in 100 failed that way)
    appsync = FakeAppSync()
    appsync.fail_for(2.0)
    local, faulty = _on(appsync, retry=RetryPolicy(backoff=0.2, max_backoff=1.0))
    event = events.sqs([{"id": "o-1", "status": "NEW"}])

    # WHEN handled on virtual time
    try:
        result, seconds = on_virtual_time(local.process_async(event, lambda_context(timeout_ms=60_000)))
    finally:
        faulty.close()

    # THEN it was throttled for about 2 seconds, then published
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED]
    assert result.retries >= 2
    assert 2.0 <= seconds < 10
    assert appsync.published_values() == ["o-1"]


def test_a_window_longer_than_the_retries_fails_the_record() -> None:
    appsync = FakeAppSync()
    appsync.fail_for(30.0, conditions.UNAVAILABLE)
    local, faulty = _on(appsync, retry=RetryPolicy(attempts=2, backoff=0.1, max_backoff=0.1))
    try:
        result, _ = on_virtual_time(
            local.process_async(events.sqs([{"id": "o-1", "status": "NEW"}]), lambda_context())
        )
    finally:
        faulty.close()
    assert [o.status for o in result.outcomes] == [Status.FAILED]
    assert appsync.published == []


def test_thirty_percent_of_requests_fail() -> None:
    # GIVEN a brown-out failing 30% of the requests at random (seeded), nothing listed first
    brown_out = conditions.BrownOut(first=(), rate=0.3, seed=7)
    appsync = FakeAppSync(conditions=brown_out)
    local, faulty = _on(appsync, retry=RetryPolicy(attempts=8, backoff=0.01, max_backoff=0.05))
    event = events.sqs([{"id": f"o-{n}", "status": "NEW"} for n in range(100)])
    try:
        result, _ = on_virtual_time(local.process_async(event, lambda_context(timeout_ms=120_000)))
    finally:
        faulty.close()
    seen = sum(brown_out.counts.values())
    assert 0.15 < (seen - brown_out.counts["ok"]) / seen < 0.45
    assert result.published == 100


def test_requests_are_a_list_of_what_the_fake_received() -> None:
    appsync = FakeAppSync()
    local, faulty = _on(appsync)
    try:
        local.process(events.sqs([{"id": "o-1", "status": "NEW"}]), lambda_context())
    finally:
        faulty.close()
    assert len(appsync.requests) == 1
    assert isinstance(appsync.requests[0], ReceivedRequest)
    assert b"publishOrder" in appsync.requests[0].body


def test_local_handler_publishes_to_the_local_appsync_fixture(local_appsync, local_handler) -> None:
    subscriber = local_appsync.subscribe("subscription { onPublishOrder { id status } }")
    response = local_handler(handler)(events.sqs([{"id": "o-1", "status": "NEW"}]), lambda_context())
    assert response == {"batchItemFailures": []}
    assert subscriber.wait_for(1) == [{"onPublishOrder": {"id": "o-1", "status": "NEW"}}]
    assert [m.auth_mode for m in local_appsync.mutations] == ["AWS_IAM"]


def test_local_handler_with_its_own_schema_and_api_key(local_handler, local_appsync_factory) -> None:
    appsync = local_appsync_factory(SCHEMA)
    result = local_handler(handler, appsync, auth="api_key").process(
        events.sqs([{"id": "o-2", "status": "PAID"}]), lambda_context()
    )
    # publishOrder is @aws_iam only: the API key is refused field by field, as AppSync does
    assert [o.status for o in result.outcomes] == [Status.FAILED]
    assert [m.auth_mode for m in appsync.mutations] == ["API_KEY"]
    assert (
        local_handler(handler, schema=SCHEMA)
        .process(events.sqs([{"id": "o-3", "status": "NEW"}]), lambda_context())
        .published
        == 1
    )


@pytest.fixture
def streambridge_schema() -> str:
    """The schema the local_appsync fixture serves in this module."""
    return SCHEMA


def test_a_store_working_on_its_thread_is_waited_for_on_virtual_time() -> None:
    # GIVEN a dead-letter sink that takes 50 ms of real time (a real SendMessageBatch takes tens of ms),
    # and a record AppSync rejects for good
    class SlowSink:
        def __init__(self) -> None:
            self.letters: list[DeadLetter] = []

        def send(self, letters: Sequence[DeadLetter]) -> set[int]:
            time.sleep(0.05)
            self.letters.extend(letters)
            return set()

    def reject(_field: str, _arguments: dict[str, Any]) -> Any:
        raise FieldError("bad", "ValidationError")

    sink = SlowSink()
    bridge = Bridge(URL, ApiKeyAuth("k"), transport=FakeAppSync(reject), dead_letter=sink)
    handler = bridge.kinesis(PUBLISH)(lambda record: {"input": record.json()})
    event = events.kinesis([{"data": {"id": "1", "status": "NEW"}, "partition_key": "A"}])
    # WHEN handled on virtual time
    result, _ = on_virtual_time(handler.process_async(event, lambda_context()))
    bridge.close()
    # THEN the clock did not jump past the sink's work: the record is dead-lettered, as on a real loop
    assert [o.status for o in result.outcomes] == [Status.DEAD_LETTERED]
    assert len(sink.letters) == 1


def test_local_handler_publishes_over_https_to_a_tls_server(local_handler, local_appsync_factory) -> None:
    # GIVEN a LocalAppSync serving https with its own local authority
    appsync = local_appsync_factory(SCHEMA, tls=True)
    assert appsync.url.startswith("https://")
    # WHEN the fixture binds the handler to it (IAM)
    result = local_handler(handler, appsync).process(
        events.sqs([{"id": "o-4", "status": "NEW"}]), lambda_context()
    )
    # THEN the bridge trusts that authority (verification on) and publishes
    assert result.published == 1
    assert [m.auth_mode for m in appsync.mutations] == ["AWS_IAM"]


@pytest.mark.parametrize("poison", ["report", "skip"])
def test_an_untrusted_certificate_fails_every_record_at_once_never_skips_them(
    local_appsync_factory: Any, poison: str
) -> None:
    # GIVEN a LocalAppSync on https whose local authority the bridge's transport does not trust
    appsync = local_appsync_factory(SCHEMA, tls=True)
    bridged = handler.with_bridge(
        handler.bridge.replace(url=appsync.url, auth=ApiKeyAuth(appsync.api_key), poison=poison)
    )
    # WHEN three orders are published
    started = time.monotonic()
    result = bridged.process(
        events.sqs([{"id": f"o-{n}", "status": "NEW"} for n in range(3)]), lambda_context()
    )
    bridged.bridge.close()
    # THEN each is reported failed for the certificate, with the fix, none skipped, and without retrying
    assert result.failed == 3
    assert "cannot be verified" in str(result.failures[0].error)
    assert "ssl_context" in str(result.failures[0].error)
    assert time.monotonic() - started < 5
    assert appsync.mutations == []
