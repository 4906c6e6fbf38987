"""Transient faults, refusals, the deadline and oversize payloads, through the whole handler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from streambridge import (
    AuthorizationError,
    Bridge,
    DeadlineExceededError,
    DynamoDBRecord,
    GraphQLError,
    HeldBackError,
    HttpResponse,
    PayloadTooLargeError,
    SchemaMismatchError,
    ServerError,
    Status,
    WrongEndpointError,
)
from streambridge.testing import FakeAppSync, RequestRejectedError, events

from .conftest import PUBLISH, ListSink


def orders(*changes: tuple[str, str]) -> dict:
    return events.dynamodb([{"new_image": {"id": key, "status": status}} for key, status in changes])


def publish_handler(bridge: Bridge) -> Callable[..., dict]:
    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    return handler


@pytest.mark.parametrize(
    "fault",
    [
        HttpResponse(503, {}, b"<html>Service Unavailable</html>"),
        HttpResponse(502, {}, b"Bad Gateway"),
        HttpResponse(500, {}, b"oops"),
        HttpResponse(429, {"Retry-After": "0"}, b""),
        HttpResponse(429, {}, b'{"errors":[{"errorType":"ThrottlingException","message":"slow down"}]}'),
        HttpResponse(200, {}, b"{truncated"),
        ConnectionResetError("reset by peer"),
        asyncio.TimeoutError(),
    ],
    ids=["503", "502", "500", "429-retry-after", "429", "malformed-json", "reset", "timeout"],
)
def test_transient_faults_are_retried_and_order_is_kept(
    bridge: Bridge, appsync: FakeAppSync, fault: object
) -> None:
    # GIVEN AppSync fails the first request transiently
    appsync.fail_next(fault)  # type: ignore[arg-type]
    handler = publish_handler(bridge)
    # WHEN three changes of one key are published
    result = handler.process(orders(("a", "NEW"), ("a", "PAID"), ("a", "SHIPPED")))
    # THEN all arrive, in order, after one retry
    assert result.published == 3
    assert result.retries == 1
    assert [p.result["status"] for p in appsync.published] == ["NEW", "PAID", "SHIPPED"]


def test_giving_up_reports_the_record_and_holds_back_its_key(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN AppSync answers 503 to every one of the three attempts
    appsync.fail_next(*[HttpResponse(503, {}, b"down")] * 3)
    handler = publish_handler(bridge)
    # WHEN two changes of one key are published
    result = handler.process(orders(("a", "NEW"), ("a", "PAID")))
    # THEN the first failed with the server error, the second is held back, 3 requests were sent
    assert isinstance(result.outcomes[0].error, ServerError)
    assert isinstance(result.outcomes[1].error, HeldBackError)
    assert result.requests == 3
    assert appsync.published == []


def test_refused_credentials_stop_the_invocation(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN AppSync refuses the API key
    refused = HttpResponse(401, {}, b'{"errors":[{"errorType":"UnauthorizedException","message":"x"}]}')
    appsync.fail_next(refused, refused)
    handler = publish_handler(make_bridge(concurrency=2))
    # WHEN 300 changes of 300 keys are due, in 6 batches of 50, two at a time
    result = handler.process(orders(*[(f"k{i}", "NEW") for i in range(300)]))
    # THEN at most the two requests in flight were sent, none retried, and every record is reported failed
    assert 1 <= result.requests <= 2
    assert result.retries == 0
    assert result.failed == 300
    assert all(isinstance(o.error, AuthorizationError) for o in result.outcomes)


def test_a_request_rejected_as_a_whole_is_split_to_find_the_culprit(
    make_bridge: Callable[..., Bridge],
) -> None:
    # GIVEN AppSync rejects any request carrying the bad order (like an invalid variable does)
    def validate(_field: str, arguments: dict) -> None:
        if arguments["input"]["status"] == "INVALID":
            raise RequestRejectedError('Variable "$m1_input" got invalid value')

    appsync = FakeAppSync(validate=validate)
    bridge = make_bridge(transport=appsync)
    handler = publish_handler(bridge)
    # WHEN three keys are published, one of them invalid, then more changes follow
    result = handler.process(
        orders(("a", "NEW"), ("b", "INVALID"), ("c", "NEW"), ("a", "PAID"), ("b", "PAID"))
    )
    # THEN only the invalid record and the later change of its key fail
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED,
        Status.FAILED,
        Status.PUBLISHED,
        Status.PUBLISHED,
        Status.FAILED,
    ]
    assert isinstance(result.outcomes[1].error, GraphQLError)
    assert isinstance(result.outcomes[4].error, HeldBackError)
    assert sorted((p.result["id"], p.result["status"]) for p in appsync.published) == [
        ("a", "NEW"),
        ("a", "PAID"),
        ("c", "NEW"),
    ]


def test_oversize_payload_fails_before_sending(
    bridge: Bridge, appsync: FakeAppSync, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN one order whose payload is over AppSync's 240 KB subscription limit
    event = events.dynamodb(
        [
            {"new_image": {"id": "big", "status": "NEW", "blob": "x" * 250_000}},
            {"new_image": {"id": "small", "status": "NEW"}},
        ]
    )
    handler = publish_handler(bridge)
    # WHEN published
    result = handler.process(event)
    # THEN it is failed with a clear log line and never sent; the other record is published
    assert isinstance(result.outcomes[0].error, PayloadTooLargeError)
    assert "over the 240000-byte limit" in str(result.outcomes[0].error)
    assert result.outcomes[1].status is Status.PUBLISHED
    assert all(b"xxxxxxxx" not in r.body for r in appsync.requests)
    assert "AppSync would drop the subscription message" in caplog.text


def test_the_deadline_is_respected(make_bridge: Callable[..., Bridge]) -> None:
    # GIVEN an AppSync that takes 200 ms per request and a Lambda with 1.2 s left
    appsync = FakeAppSync(latency=0.2)
    bridge = make_bridge(transport=appsync, deadline_margin=0.3, batch_size=1, concurrency=1)
    handler = publish_handler(bridge)
    context = events.lambda_context(timeout_ms=1200)
    started = time.monotonic()
    # WHEN 20 changes of one key need 20 sequential requests (4 s)
    result = handler.process(orders(*[("a", f"S{i}") for i in range(20)]), context)
    elapsed = time.monotonic() - started
    # THEN it stops before the deadline, and the rest are reported failed, in order
    assert elapsed < 1.2
    assert 2 <= result.published <= 5
    statuses = [o.status for o in result.outcomes]
    assert statuses == sorted(statuses, key=lambda s: s is Status.FAILED)
    first_failed = result.failures[0].error
    assert isinstance(first_failed, DeadlineExceededError | HeldBackError)
    assert result.published + result.failed == 20


def test_a_request_in_flight_at_the_deadline_is_cancelled_and_reported(
    make_bridge: Callable[..., Bridge],
) -> None:
    # GIVEN a request that would take 5 s and a Lambda with 1 s left
    appsync = FakeAppSync(latency=5.0)
    bridge = make_bridge(transport=appsync, deadline_margin=0.2, request_timeout=30)
    handler = publish_handler(bridge)
    started = time.monotonic()
    result = handler.process(orders(("a", "NEW")), events.lambda_context(timeout_ms=1000))
    # THEN the handler returns within the time left and reports the record failed
    assert time.monotonic() - started < 1.0
    assert result.failed == 1


class AppendingAppSync(FakeAppSync):
    """AppSync whose resolver for one order ran and returned data, then appended an error to its field."""

    def __init__(self, order: str, error_type: str) -> None:
        super().__init__()
        self.order, self.error_type = order, error_type

    async def post(self, url: str, body: bytes, headers: dict, timeout: float) -> HttpResponse:
        before = len(self.published)
        response = await super().post(url, body, headers, timeout)
        answer = json.loads(response.body)
        for position, done in enumerate(self.published[before:]):
            if done.arguments["input"]["id"] == self.order:  # fields run in order: the nth published alias
                alias = next(k for i, k in enumerate(answer["data"]) if i == position)
                error = {"path": [alias], "errorType": self.error_type, "message": "appended"}
                answer["errors"] = [error]
        return HttpResponse(response.status, response.headers, json.dumps(answer).encode())


@pytest.mark.parametrize("error_type", ["ThrottlingException", "PoisonError"])
@pytest.mark.parametrize("poison", ["report", "skip"])
def test_a_mutation_that_returned_data_and_an_error_is_published_once(
    make_bridge: Callable[..., Bridge], error_type: str, poison: str
) -> None:
    # GIVEN AppSync runs order b's resolver, returns its data, and appends an error to its field
    appsync = AppendingAppSync("b", error_type)
    handler = publish_handler(make_bridge(transport=appsync, poison=poison))
    # WHEN a batch of three orders is published
    result = handler.process(orders(("a", "NEW"), ("b", "NEW"), ("c", "NEW")))
    # THEN b ran once: published with a note, never sent again, nothing reported failed
    assert appsync.published_values() == ["a", "b", "c"]
    assert result.published == 3
    assert result.batch_item_failures() == []
    noted = [outcome for outcome in result.outcomes if outcome.note]
    assert len(noted) == 1
    assert "appended" in (noted[0].note or "")


@pytest.mark.parametrize("status", [404, 405, 301])
@pytest.mark.parametrize("poison", ["report", "skip", "dead-letter"])
def test_a_wrong_endpoint_fails_every_record_never_skips_or_dead_letters(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, status: int, poison: str
) -> None:
    # GIVEN a URL that answers like no AppSync endpoint (a missing path, the real-time host, a redirect)
    appsync.fail_for(60.0, HttpResponse(status, {}, b"<html>Not Found</html>"))
    sink = ListSink()
    settings = {"dead_letter": sink} if poison == "dead-letter" else {}
    handler = publish_handler(make_bridge(poison=poison, **settings))
    # WHEN ten orders of ten keys are published
    result = handler.process(orders(*[(f"o{n}", "NEW") for n in range(10)]))
    # THEN every record is reported failed with an error that names the URL and the fix, none is skipped or
    # dead-lettered, and sending stopped at the first answer instead of trying each record alone
    assert result.failed == 10
    assert sink.letters == []
    assert result.requests == 1
    error = result.failures[0].error
    assert isinstance(error, WrongEndpointError)
    assert f"HTTP {status}" in str(error)
    assert "example123.appsync-api.us-east-1.amazonaws.com/graphql" in str(error)
    assert "API id and region" in str(error)


def test_another_api_behind_the_url_fails_every_record_never_skips_them(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a URL whose API has no such mutation: AppSync answers every request 200, data null, and a pathless
    # validation error (the shape the AppSync team shows in graphql/graphql-over-http issue 81)
    refusal = "Validation error of type FieldUndefined: Field 'publishOrder' in type 'Mutation' is undefined"
    wrong_api = {"data": None, "errors": [{"path": None, "message": refusal}]}
    appsync.fail_for(60.0, HttpResponse(200, {}, json.dumps(wrong_api).encode()))
    handler = publish_handler(make_bridge(poison="skip"))
    # WHEN ten orders of ten keys are published
    result = handler.process(orders(*[(f"o{n}", "NEW") for n in range(10)]))
    # THEN every record is reported failed for the misconfiguration, none skipped, after one request
    assert result.failed == 10
    assert result.requests == 1
    assert isinstance(result.failures[0].error, SchemaMismatchError)
