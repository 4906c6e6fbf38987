"""HTTP requests through the whole handler: every status, partial failures, order, idempotency, secrets.

The handler is API Gateway's or a function URL's Lambda integration: whatever the client sends, it
answers an HTTP response (``statusCode``, ``headers``, ``body``); only an event that is no HTTP request
raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge import (
    ApiKeyAuth,
    Bridge,
    ConfigurationError,
    EventShapeError,
    HttpHandler,
    HttpItem,
    HttpResponse,
    Mutation,
    RetryPolicy,
    Status,
)
from streambridge._sources.http import RequestRefusedError
from streambridge._tools.cli import main
from streambridge.testing import (
    EventRejectedError,
    FakeAppSync,
    FakeEventApi,
    conditions,
    events,
    lambda_context,
)
from tests.memory_store import MemoryStore

from .conftest import PUBLISH, URL, ListSink, rejecting

FORMATS = [
    pytest.param({"api": "http"}, id="http-api-2.0"),
    pytest.param({"api": "http", "payload_version": "1.0"}, id="http-api-1.0"),
    pytest.param({"api": "rest"}, id="rest-api"),
    pytest.param({"api": "function-url"}, id="function-url"),
]
POWERTOOLS = Path(__file__).resolve().parents[1] / "powertools_events"


def orders(*rows: tuple[str, str]) -> list[dict[str, str]]:
    return [{"id": key, "status": status} for key, status in rows]


def published(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and the JSON body; and every response is one API Gateway and function URLs take."""
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in response["headers"].items())
    body: dict[str, Any] = json.loads(response["body"])
    return response["statusCode"], body


def make_handler(bridge: Bridge, **options: Any) -> HttpHandler:
    @bridge.http(PUBLISH, **options)
    def handler(item: HttpItem) -> dict[str, Any]:
        return {"input": item.json()}

    return handler


@pytest.fixture
def handler(bridge: Bridge) -> HttpHandler:
    return make_handler(bridge)


# --- 200: every item published ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMATS)
def test_every_format_publishes_the_items_in_the_order_of_the_body(
    form: dict[str, Any], handler: HttpHandler, appsync: FakeAppSync
) -> None:
    # GIVEN a POST of three changes, two of them of order a
    body = orders(("a", "NEW"), ("b", "NEW"), ("a", "PAID"))
    # WHEN API Gateway or the function URL invokes the handler
    status, reply = answer(handler(events.http(body, path="/orders", **form), lambda_context()))
    # THEN 200, the counts, and the items reached AppSync in the order of the body
    assert status == 200
    assert reply == {"items": 3, "published": 3, "skipped": 0, "deadLettered": 0, "failed": 0}
    assert published(appsync) == [("a", "NEW"), ("b", "NEW"), ("a", "PAID")]


def test_one_object_is_one_item(handler: HttpHandler, appsync: FakeAppSync) -> None:
    assert answer(handler(events.http({"id": "a", "status": "NEW"})))[0] == 200
    assert published(appsync) == [("a", "NEW")]


def test_an_item_the_mapping_function_skips_counts_as_done(bridge: Bridge, appsync: FakeAppSync) -> None:
    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> Any:
        return None if item.get("status") == "IGNORED" else {"input": item.json()}

    status, reply = answer(handler(events.http(orders(("a", "NEW"), ("b", "IGNORED")))))
    assert (status, reply["published"], reply["skipped"]) == (200, 1, 1)


def test_an_item_may_map_to_several_mutations(bridge: Bridge, appsync: FakeAppSync) -> None:
    @bridge.http()
    def handler(item: HttpItem) -> list[Mutation]:
        return [Mutation(PUBLISH, {"input": {**item.json(), "status": s}}) for s in ("NEW", "PAID")]

    status, reply = answer(handler(events.http(orders(("a", "x"), ("b", "x")))))
    assert (status, reply["published"]) == (200, 2)
    assert published(appsync) == [("a", "NEW"), ("a", "PAID"), ("b", "NEW"), ("b", "PAID")]


def test_the_mapping_function_reads_the_request(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN a mapping function that takes the tenant from a header and the order id from the path
    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> dict[str, Any]:
        request = item.request
        return {"input": {"id": f"{request.headers['x-tenant']}/{request.path_parameters['id']}",
                          "status": item.get("status")}}  # fmt: skip

    event = events.http(
        {"status": "PAID"}, path="/orders/o-9", route="/orders/{id}", path_parameters={"id": "o-9"},
        headers={"X-Tenant": "t1"},
    )  # fmt: skip
    assert answer(handler(event))[0] == 200
    assert published(appsync) == [("t1/o-9", "PAID")]


# --- some items not published: 422, 503, 500 ---------------------------------------------------------------


def test_a_refused_item_answers_422_and_holds_back_the_items_after_it(
    handler: HttpHandler, appsync: FakeAppSync
) -> None:
    # GIVEN a body whose second item the resolver refuses (status POISON)
    body = orders(("a", "NEW"), ("b", "POISON"), ("c", "NEW"))
    # WHEN handled
    status, reply = answer(handler(events.http(body)))
    # THEN 422: the second item failed for what it carries, the third was not sent after it
    assert status == 422
    assert reply["error"] == "not_published"
    assert (reply["published"], reply["failed"]) == (1, 2)
    rejected = "AppSync rejected the mutation: PoisonError: poison record"
    held = "not sent because item 1 of the same partition key failed"
    assert reply["failures"] == [
        {"index": 1, "error": "GraphQLError", "message": rejected},
        {"index": 2, "error": "HeldBackError", "message": held},
    ]
    assert published(appsync) == [("a", "NEW")]


def test_with_a_partition_key_other_keys_go_on_past_a_failure(bridge: Bridge, appsync: FakeAppSync) -> None:
    handler = make_handler(bridge, partition_key=lambda item: item.get("id"))
    body = orders(("a", "NEW"), ("b", "POISON"), ("a", "PAID"), ("b", "PAID"), ("c", "NEW"))
    status, reply = answer(handler(events.http(body)))
    assert status == 422
    assert [(f["index"], f["error"]) for f in reply["failures"]] == [
        (1, "GraphQLError"),
        (3, "HeldBackError"),
    ]
    assert sorted(published(appsync)) == [("a", "NEW"), ("a", "PAID"), ("c", "NEW")]
    assert [s for k, s in published(appsync) if k == "a"] == ["NEW", "PAID"]


def test_a_mapping_function_that_raises_fails_its_item_422(bridge: Bridge, appsync: FakeAppSync) -> None:
    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> dict[str, Any]:
        return {"input": {"id": item.json()["orderId"], "status": "NEW"}}

    status, reply = answer(handler(events.http([{"orderId": "o-1"}, {"order": "o-2"}])))
    assert status == 422
    (failure,) = reply["failures"]
    assert failure["index"] == 1
    assert failure["error"] == "MappingError"
    assert "KeyError: 'orderId'" in failure["message"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (conditions.THROTTLED, "AppSync throttled the publishing; retry later"),
        (conditions.INTERNAL, "AppSync failed; retry later"),
        (conditions.RESET, "AppSync could not be reached; retry later"),
    ],
)
def test_a_passing_failure_answers_503_with_retry_after(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, fault: Any, message: str
) -> None:
    # GIVEN AppSync failing every attempt for longer than the retries last
    appsync.fail_for(3600, fault)
    handler = make_handler(make_bridge(retry=RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.002)))
    # WHEN a request comes
    response = handler(events.http(orders(("a", "NEW"), ("b", "NEW"))), lambda_context())
    status, reply = answer(response)
    # THEN 503 and a Retry-After: the client should send it again later
    assert status == 503
    assert response["headers"]["retry-after"] == "5"
    assert [f["message"] for f in reply["failures"]] == [
        message,
        "not sent because item 0 of the same partition key failed",
    ]


def test_retry_after_is_appsyncs_own_when_it_gives_one(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    throttled = HttpResponse(429, {"retry-after": "7.2"}, conditions.THROTTLED.body)
    appsync.fail_for(3600, throttled)
    handler = make_handler(make_bridge(retry=RetryPolicy(attempts=1, backoff=0.001, max_backoff=0.002)))
    response = handler(events.http({"id": "a", "status": "NEW"}))
    assert (response["statusCode"], response["headers"]["retry-after"]) == (503, "8")


def test_the_deadline_answers_503(handler: HttpHandler, appsync: FakeAppSync) -> None:
    # GIVEN an invocation with less time left than the bridge keeps for itself (deadline_margin 0.5 s)
    response = handler(events.http(orders(("a", "NEW"))), lambda_context(timeout_ms=100))
    status, reply = answer(response)
    assert status == 503
    assert reply["failures"][0]["error"] == "DeadlineExceededError"
    assert appsync.published == []


@pytest.mark.parametrize(
    ("answer_of_appsync", "error"),
    [
        (HttpResponse(404, {}, b"<html>Not Found</html>"), "WrongEndpointError"),
        (
            HttpResponse(401, {}, b'{"errors": [{"errorType": "UnauthorizedException"}]}'),
            "AuthorizationError",
        ),
    ],
)
def test_the_functions_own_failures_answer_500_in_general_words(
    handler: HttpHandler, appsync: FakeAppSync, answer_of_appsync: HttpResponse, error: str
) -> None:
    appsync.fail_next(answer_of_appsync)
    response = handler(events.http(orders(("a", "NEW"))))
    status, reply = answer(response)
    assert status == 500
    assert reply["failures"][0]["error"] == error
    assert "its log says why" in reply["failures"][0]["message"]
    assert "appsync-api" not in response["body"]  # the endpoint is named in the log only


def test_a_function_with_no_url_answers_500_not_the_clients_fault(appsync: FakeAppSync) -> None:
    bridge = Bridge(None, ApiKeyAuth("da2-test"), transport=appsync)
    response = make_handler(bridge)(events.http(orders(("a", "NEW"))))
    bridge.close()
    status, reply = answer(response)
    assert (status, reply["error"]) == (500, "misconfigured")
    assert reply["message"] == (
        "the function could not publish (its configuration or credentials); its log says why"
    )


# --- secrets never in the body ---------------------------------------------------------------------------


def test_secrets_in_errors_never_reach_the_body(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a resolver whose error echoes the request's credentials
    def leaky(_field: str, _arguments: dict[str, Any]) -> Any:
        from streambridge.testing import FieldError

        raise FieldError(
            "signature mismatch: x-api-key: da2-SECRETKEY authorization=AWS4 Credential=AKIDSECRET/x"
        )

    leaking = FakeAppSync(leaky)
    handler = make_handler(make_bridge(transport=leaking))
    body = handler(events.http(orders(("a", "NEW"))))["body"]
    assert "da2-SECRETKEY" not in body
    assert "AKIDSECRET" not in body
    assert "***" in body


def test_a_mapping_function_error_is_redacted_too(bridge: Bridge) -> None:
    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> Any:
        raise ValueError("upstream refused: Authorization: Bearer eyJSECRET.token")

    body = handler(events.http({"id": "a"}))["body"]
    assert "eyJSECRET" not in body
    assert "Authorization: ***" in body


# --- dead letters and poison policies ----------------------------------------------------------------------


def test_items_set_aside_in_the_dead_letter_sink_answer_202(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    sink = ListSink()
    handler = make_handler(make_bridge(dead_letter=sink))
    status, reply = answer(handler(events.http(orders(("a", "POISON"), ("b", "NEW")))))
    assert status == 202
    assert (reply["published"], reply["deadLettered"], reply["failed"]) == (1, 1, 0)
    assert reply["deadLetters"][0]["index"] == 0
    assert [letter.record.index for letter in sink.letters] == [0]


def test_items_skipped_as_poison_answer_422_naming_them(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN poison="skip": an item no retry can cure is set aside, not kept anywhere
    handler = make_handler(make_bridge(poison="skip"))
    # WHEN the resolver refuses one item of two
    status, reply = answer(handler(events.http(orders(("a", "POISON"), ("b", "NEW")))))
    # THEN the sender is told that item was not published and why: a 2xx would read as delivered
    assert (status, reply["published"], reply["skipped"]) == (422, 1, 1)
    [failure] = reply["failures"]
    assert (failure["index"], failure["error"]) == (0, "GraphQLError")


# --- refused before anything is published: 400, 413, 415 ----------------------------------------------------


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (events.http("not json", content_type="text/plain"), 400, "invalid_json"),
        (events.http(None), 400, "empty_body"),
        (events.http([{"id": "a"}, "b"]), 400, "invalid_items"),
        (events.http({"id": "a"}, idempotency_key="has space"), 400, "invalid_idempotency_key"),
        (events.http([{"id": str(i)} for i in range(101)]), 413, "too_many_items"),
        (events.http({"blob": "x" * (1024 * 1024)}), 413, "body_too_large"),
        (
            events.http({"id": "a"}, content_type="application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
    ],
)
def test_a_request_the_handler_cannot_take_is_refused_and_nothing_published(
    handler: HttpHandler, appsync: FakeAppSync, event: dict[str, Any], status: int, code: str
) -> None:
    got, reply = answer(handler(event))
    assert (got, reply["error"]) == (status, code)
    assert reply["message"]
    assert appsync.requests == []


def test_the_decorators_limits_apply(bridge: Bridge, appsync: FakeAppSync) -> None:
    handler = make_handler(bridge, max_items=2, max_body_bytes=100)
    assert (
        answer(handler(events.http(orders(("a", "1"), ("b", "2"), ("c", "3")))))[1]["error"]
        == "too_many_items"
    )
    assert answer(handler(events.http([{"id": "x" * 100}])))[1]["error"] == "body_too_large"
    assert answer(handler(events.http(orders(("a", "1")))))[0] == 200
    # AND another bridge keeps them
    other = bridge.replace()
    assert handler.with_bridge(other).limits == handler.limits
    other.close()


def test_limits_are_checked_at_cold_start(bridge: Bridge) -> None:
    with pytest.raises(ConfigurationError, match=r"max_items"):
        bridge.http(PUBLISH, max_items=0)
    with pytest.raises(ConfigurationError, match=r"max_body_bytes"):
        bridge.http(PUBLISH, max_body_bytes=1.5)  # type: ignore[arg-type]


def test_process_returns_the_outcomes_and_raises_a_refusal(handler: HttpHandler) -> None:
    result = handler.process(events.http(orders(("a", "NEW"), ("b", "POISON"))))
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.FAILED]
    with pytest.raises(RequestRefusedError) as caught:
        handler.process(events.http("nope", content_type="text/plain"))
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")


def test_an_event_that_is_no_http_request_raises(handler: HttpHandler) -> None:
    # GIVEN the function wired to an SQS queue by mistake: answering a dict would delete the messages
    with pytest.raises(EventShapeError, match="not an API Gateway or Lambda function URL request"):
        handler(events.sqs([{"id": "a", "status": "NEW"}]))


def test_the_generic_decorator_makes_an_http_handler(bridge: Bridge, appsync: FakeAppSync) -> None:
    handler = bridge.handler("http", PUBLISH)(lambda item: {"input": item.json()})
    assert isinstance(handler, HttpHandler)
    assert answer(handler(events.http(orders(("a", "NEW")))))[0] == 200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.text(max_size=60),
        st.binary(max_size=60),
        st.recursive(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=5),
            ),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    ),
    form=st.sampled_from([{"api": "http"}, {"api": "rest"}, {"api": "function-url", "base64": True}]),
)
def test_no_body_makes_the_handler_raise(body: Any, form: dict[str, Any], handler: HttpHandler) -> None:
    # GIVEN any body a client could send, WHEN handled, THEN an HTTP answer, never an exception
    response = handler(events.http(body, content_type=None, **form))
    status, reply = answer(response)
    assert status in (200, 400, 422)
    if status == 400:
        assert reply["error"] in ("invalid_json", "invalid_items", "empty_body")


# --- idempotency: the Idempotency-Key header ----------------------------------------------------------------


def test_a_repeated_request_publishes_once(make_bridge: Callable[..., Bridge], appsync: FakeAppSync) -> None:
    handler = make_handler(make_bridge(idempotency=MemoryStore()))
    event = events.http(orders(("a", "NEW"), ("b", "NEW")), idempotency_key="5f0c9a2e")
    assert answer(handler(event)) == (
        200,
        {"items": 2, "published": 2, "skipped": 0, "deadLettered": 0, "failed": 0},
    )
    # WHEN the client sends it again (its connection dropped before the answer)
    status, reply = answer(handler(event))
    # THEN success, and nothing published twice
    assert (status, reply["published"], reply["skipped"]) == (200, 0, 2)
    assert published(appsync) == [("a", "NEW"), ("b", "NEW")]


def test_a_retry_after_a_partial_failure_publishes_only_the_rest_in_order(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a resolver that refuses order b for now, and a request of a, b, c under a key
    refused = {"b"}
    appsync.resolver = rejecting(refused)
    handler = make_handler(make_bridge(idempotency=MemoryStore()))
    event = events.http(orders(("a", "NEW"), ("b", "NEW"), ("c", "NEW")), idempotency_key="k-1")
    assert answer(handler(event))[0] == 422
    # WHEN b is fixed on the server's side and the client retries the same request
    refused.clear()
    status, reply = answer(handler(event))
    # THEN a is skipped, b and c are published, in order: each exactly once
    assert (status, reply["published"], reply["skipped"]) == (200, 2, 1)
    assert published(appsync) == [("a", "NEW"), ("b", "NEW"), ("c", "NEW")]


def test_a_key_reused_with_another_body_answers_422(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    handler = make_handler(make_bridge(idempotency=MemoryStore()))
    assert answer(handler(events.http(orders(("a", "NEW")), idempotency_key="k-1")))[0] == 200
    status, reply = answer(handler(events.http(orders(("a", "PAID")), idempotency_key="k-1")))
    assert (status, reply["error"]) == (422, "idempotency_key_reused")
    assert published(appsync) == [("a", "NEW")]
    # AND the same body under a new key, or the same key on another path, is a new request
    assert answer(handler(events.http(orders(("a", "PAID")), idempotency_key="k-2")))[0] == 200
    assert answer(handler(events.http(orders(("a", "PAID")), idempotency_key="k-1", path="/v2")))[0] == 200


def test_a_key_whose_request_published_nothing_may_carry_another_body(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    handler = make_handler(make_bridge(idempotency=MemoryStore()))
    assert answer(handler(events.http(orders(("a", "POISON")), idempotency_key="k")))[0] == 422
    assert answer(handler(events.http(orders(("a", "NEW")), idempotency_key="k")))[0] == 200


def test_without_the_header_the_store_is_not_asked(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    store = MemoryStore()
    handler = make_handler(make_bridge(idempotency=store))
    event = events.http(orders(("a", "NEW")))
    assert answer(handler(event))[0] == answer(handler(event))[0] == 200
    assert store.calls == []
    assert published(appsync) == [("a", "NEW"), ("a", "NEW")]  # at least once, as asked


def test_a_store_that_is_down_means_at_least_once(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    store = MemoryStore()
    store.down = True
    handler = make_handler(make_bridge(idempotency=store))
    assert answer(handler(events.http(orders(("a", "NEW")), idempotency_key="k")))[0] == 200
    assert published(appsync) == [("a", "NEW")]


def test_dead_letters_of_an_http_item_are_named_apart(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a FIFO sink's view of letters: each needs a deduplication id of its own
    sink = ListSink()
    handler = make_handler(make_bridge(dead_letter=sink))
    context = lambda_context(aws_request_id="req-1")
    handler(events.http(orders(("a", "POISON"), ("b", "POISON"))), context)
    handler(events.http(orders(("a", "POISON")), idempotency_key="k"), context)
    ids = [letter.deduplication_id() for letter in sink.letters]
    assert len(set(ids)) == 3
    assert all(len(i) <= 128 for i in ids)


# --- channels (AppSync Events) -----------------------------------------------------------------------------


def test_items_go_to_an_event_api_channel_in_order() -> None:
    api = FakeEventApi(namespaces=("orders",))
    bridge = Bridge(
        "https://abc.appsync-api.us-east-1.amazonaws.com/event", ApiKeyAuth("da2-t"), transport=api
    )

    @bridge.http(channel=lambda item: f"/orders/{item.get('id')}")
    def handler(item: HttpItem) -> Any:
        return item.json()

    status, reply = answer(handler(events.http(orders(("a", "NEW"), ("a", "PAID"), ("b", "NEW")))))
    bridge.close()
    assert (status, reply["published"]) == (200, 3)
    assert [v["status"] for v in api.values("/orders/a")] == ["NEW", "PAID"]


# --- Powertools' sample events through the decorator --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [("apiGatewayProxyV2Event", 200), ("apiGatewayProxyEvent", 400), ("lambdaFunctionUrlEvent", 400)],
)
def test_powertools_sample_events_pass_through_the_decorator(
    name: str, status: int, bridge: Bridge, appsync: FakeAppSync
) -> None:
    @bridge.http(PUBLISH)
    def handler(item: HttpItem) -> dict[str, Any]:
        return {"input": {"id": item.get("username"), "status": item.get("message")}}

    event = json.loads((POWERTOOLS / f"{name}.json").read_text())
    assert answer(handler(event, lambda_context()))[0] == status
    assert published(appsync) == ([("tom", "hello world")] if status == 200 else [])


# --- the command line: events and invoke ---------------------------------------------------------------

APP = """
from streambridge import Bridge, HttpItem
bridge = Bridge()
PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"
@bridge.http(PUBLISH)
def handler(item: HttpItem):
    return {"input": item.json()}
"""


def test_events_http_prints_a_request_the_decorator_reads(capsys: pytest.CaptureFixture[str]) -> None:
    from streambridge._sources.http import read

    assert main(["events", "http", "--api", "rest", "--body", '[{"id": "a"}]', "--header", "X-A: b",
                 "--query", "q=1", "--idempotency-key", "k"]) == 0  # fmt: skip
    request = read(json.loads(capsys.readouterr().out))
    assert (request.request.api, request.request.headers["x-a"], request.request.query) == (
        "rest",
        "b",
        {"q": "1"},
    )
    assert [item.json() for item in request.items] == [{"id": "a"}]
    assert request.markers is not None
    assert main(["events", "http", "--header", "no-colon"]) == 2
    assert "NAME:VALUE" in capsys.readouterr().err


def test_invoke_prints_the_http_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "webhook_app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    refused = tmp_path / "refused.json"
    refused.write_text(json.dumps(events.http("nope", content_type="text/plain")))
    code = main(["invoke", "webhook_app:handler", "--event", str(refused), "--url",
                 "http://127.0.0.1:9/graphql", "--api-key", "da2-k"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "refused before publishing anything" in out
    assert "HTTP response: 400" in out
    assert '"error": "invalid_json"' in out
    code = main(["invoke", "webhook_app:handler", "--event", str(refused), "--url", "http://127.0.0.1:9/graphql",
                 "--api-key", "da2-k", "--json"])  # fmt: skip
    assert json.loads(capsys.readouterr().out)["response"]["statusCode"] == 400


# --- real local servers: LocalAppSync (GraphQL) and LocalEventApi (channels) ----------------------------

SCHEMA = """
type Order @aws_api_key @aws_iam { id: ID! status: String! }
input OrderInput { id: ID! status: String! }
type Query { order(id: ID!): Order }
type Mutation { publishOrder(input: OrderInput!): Order @aws_iam }
type Subscription @aws_api_key { onPublishOrder: Order @aws_subscribe(mutations: ["publishOrder"]) }
"""


@pytest.mark.parametrize("form", FORMATS)
def test_a_request_reaches_a_local_appsync_subscriber_in_order(
    form: dict[str, Any], local_appsync_factory: Any, local_handler: Any
) -> None:
    # GIVEN LocalAppSync serving a schema, a subscriber, and the handler signing with IAM
    appsync = local_appsync_factory(SCHEMA)
    subscriber = appsync.subscribe("subscription { onPublishOrder { id status } }")
    handler = local_handler(make_handler(Bridge(URL, ApiKeyAuth("da2-unused"))), appsync)
    # WHEN a request of three changes comes
    response = handler(
        events.http(orders(("a", "NEW"), ("b", "NEW"), ("a", "PAID")), **form), lambda_context()
    )
    # THEN 200, and the subscriber got them in the order of the body
    assert answer(response)[0] == 200
    assert [m["onPublishOrder"] for m in subscriber.wait_for(3)] == [
        {"id": "a", "status": "NEW"},
        {"id": "b", "status": "NEW"},
        {"id": "a", "status": "PAID"},
    ]
    assert {m.auth_mode for m in appsync.mutations} == {"AWS_IAM"}


def test_a_request_reaches_local_event_api_subscribers_up_to_a_refused_event(
    local_event_api_factory: Any,
) -> None:
    # GIVEN a local Event API that refuses one event, and a subscriber on every order's channel
    def on_publish(_channel: str, value: Any) -> None:
        if value["status"] == "SPAM":
            raise EventRejectedError("no spam", 400)

    api = local_event_api_factory(namespaces=("orders",), on_publish=on_publish)
    everything = api.subscribe("/orders/*")
    bridge = Bridge(api.url, ApiKeyAuth(api.api_key or ""))

    @bridge.http(channel=lambda item: f"/orders/{item.get('id')}")
    def handler(item: HttpItem) -> Any:
        return item.json()

    # WHEN a request whose third item the API refuses comes
    response = handler(
        events.http(orders(("a", "NEW"), ("b", "NEW"), ("a", "SPAM"), ("b", "PAID")), api="function-url"),
        lambda_context(),
    )
    bridge.close()
    # THEN 422 naming the refused event and the one held back behind it, and the subscriber got the rest
    status, reply = answer(response)
    assert status == 422
    assert [(f["index"], f["error"]) for f in reply["failures"]] == [
        (2, "ChannelEventError"),
        (3, "HeldBackError"),
    ]
    assert [(e["id"], e["status"]) for e in everything.wait_for(2)] == [("a", "NEW"), ("b", "NEW")]
