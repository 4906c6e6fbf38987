"""HTTP requests (API Gateway REST and HTTP APIs, function URLs): the request view, the items, refusals.

Read from AWS SAM's and Powertools' own sample events, and from the harness builder, whose output is
checked against Powertools' data classes and parser models.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES
from streambridge._sources.http import (
    HttpItem,
    ReadRequest,
    RequestLimits,
    RequestRefusedError,
    parse,
    read,
    store_key,
)
from streambridge.testing import events
from tests.unit.sources.mangling import paths, replace

SamEvent = Callable[[str], dict[str, Any]]
POWERTOOLS = Path(__file__).resolve().parents[2] / "powertools_events"
FORMATS = [
    pytest.param({"api": "http"}, id="http-api-2.0"),
    pytest.param({"api": "http", "payload_version": "1.0"}, id="http-api-1.0"),
    pytest.param({"api": "rest"}, id="rest-api"),
    pytest.param({"api": "function-url"}, id="function-url"),
]


def powertools_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((POWERTOOLS / f"{name}.json").read_text())
    return event


def refused(event: Any, limits: RequestLimits | None = None) -> RequestRefusedError:
    with pytest.raises(RequestRefusedError) as caught:
        read(event, limits or RequestLimits())
    return caught.value


# --- the request view, the same in every format ---------------------------------------------------------


@pytest.mark.parametrize("form", FORMATS)
def test_every_format_reads_the_same_request(form: dict[str, Any]) -> None:
    # GIVEN the same request in each format API Gateway and function URLs deliver
    event = events.http(
        [{"id": "o-1"}, {"id": "o-2"}],
        method="post",
        path="/orders/7",
        route="/orders/{id}",
        headers={"X-Tenant": "t-1"},
        query={"tag": ["a", "b"], "page": "2"},
        path_parameters={"id": "7"},
        source_ip="198.51.100.7",
        time=datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc),
        request_id="req-1",
        **form,
    )

    # WHEN it is read
    request = read(event).request

    # THEN every property reads alike: repeated query values joined with commas as payload 2.0 joins them
    assert request.method == "POST"
    assert request.path == "/orders/7"
    assert request.headers["x-tenant"] == request.headers["X-TENANT"] == "t-1"
    assert "Content-Type" in request.headers
    assert request.query == {"tag": "a,b", "page": "2"}
    assert request.path_parameters == ({} if form["api"] == "function-url" else {"id": "7"})
    assert request.request_id == "req-1"
    assert request.source_ip == "198.51.100.7"
    assert request.time == datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)
    assert request.api == form["api"]
    assert request.payload_version == form.get("payload_version", "1.0" if form["api"] == "rest" else "2.0")
    assert json.loads(request.body) == [{"id": "o-1"}, {"id": "o-2"}]
    assert request.authorizer == {}


def test_payload_1_0_joins_repeated_headers_as_2_0_does() -> None:
    # GIVEN a REST API event with a header sent twice (multiValueHeaders keeps both)
    event = events.http({"id": 1}, api="rest")
    event["multiValueHeaders"]["Accept"] = ["text/plain", "application/json"]
    event["headers"]["Accept"] = "application/json"
    # THEN the view joins them, as payload 2.0 delivers them
    assert read(event).request.headers["accept"] == "text/plain,application/json"


def test_a_function_url_time_epoch_given_as_text_is_read() -> None:
    # GIVEN the function URL guide's example, where timeEpoch is a string
    event = events.http({"id": 1}, api="function-url")
    event["requestContext"]["timeEpoch"] = "1631055022677"
    assert read(event).request.time == datetime(2021, 9, 7, 22, 50, 22, 677000, tzinfo=timezone.utc)


def test_malformed_request_fields_fail_only_when_read() -> None:
    # GIVEN an event whose request context lacks what the view reads lazily
    event = events.http({"id": 1})
    del event["requestContext"]["requestId"]
    event["requestContext"]["timeEpoch"] = True
    event["headers"] = None
    request = read(event).request
    # THEN the headers are empty, and the lazy properties raise RecordError, naming the field
    assert dict(request.headers) == {}
    with pytest.raises(RecordError, match=r"requestContext\.requestId"):
        _ = request.request_id
    with pytest.raises(RecordError, match=r"requestContext\.timeEpoch"):
        _ = request.time


def test_the_authorizer_context_is_read_as_sent() -> None:
    event = powertools_event("apiGatewayProxyV2Event")
    assert read(event).request.authorizer == {
        "jwt": {"claims": {"claim1": "value1", "claim2": "value2"}, "scopes": ["scope1", "scope2"]}
    }


# --- items ----------------------------------------------------------------------------------------------


def test_an_object_body_is_one_item_and_an_array_one_per_object() -> None:
    one = parse(events.http({"id": "o-1"}))
    several = parse(events.http([{"id": "a"}, {"id": "b"}, {"id": "c"}]))
    assert [item.json() for item in one] == [{"id": "o-1"}]
    assert [item.json() for item in several] == [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    assert [item.item_identifier for item in several] == ["item-0", "item-1", "item-2"]
    assert [item.index for item in several] == [0, 1, 2]
    # every item of a request is under one key: published in the order of the body
    assert {item.default_partition_key for item in several} == {"request"}
    assert several[1].get("id") == "b"
    assert several[1].get("missing", 7) == 7
    assert several[1].request is several[0].request
    assert repr(several[1]) == "<HttpItem #1 item-1>"
    assert several[1].describe() == "HTTP record #1 (item-1)"


def test_an_empty_array_is_no_item() -> None:
    assert parse(events.http([])) == []


def test_numbers_stay_ints_and_floats() -> None:
    (item,) = parse(events.http({"n": 10, "x": 1.5, "big": 12345678901234567890}))
    assert item.json() == {"n": 10, "x": 1.5, "big": 12345678901234567890}
    assert isinstance(item.json()["n"], int)


@pytest.mark.parametrize("form", FORMATS)
def test_a_base64_body_is_decoded(form: dict[str, Any]) -> None:
    event = events.http([{"id": "é"}], base64=True, **form)
    assert event["isBase64Encoded"] is True
    (item,) = parse(event)
    assert item.json() == {"id": "é"}


def test_the_registered_source_reads_a_request_or_what_was_read() -> None:
    # GIVEN the registry's http source, which loads its module on first use
    event = events.http([{"id": 1}, {"id": 2}])
    source = SOURCES["http"]
    assert source.batch is True
    # THEN it reads an event, and passes on a request read already (the handler's, with its limits)
    assert [r.item_identifier for r in source.parse(event)] == ["item-0", "item-1"]
    already = read(event)
    assert isinstance(already, ReadRequest)
    assert source.parse(already) == already.items


# --- refusals: the client's fault, with the status it gets ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "empty_body"),
        ("", "empty_body"),
        ("Hello from Lambda!", "invalid_json"),
        ('{"a": NaN}', "invalid_json"),
        ('{"a": 1', "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, "invalid_json"),
        ("42", "invalid_items"),
        ('"text"', "invalid_items"),
        ("null", "invalid_items"),
        ('[{"a": 1}, 2]', "invalid_items"),
        ('[{"a": 1}, [{"b": 2}]]', "invalid_items"),
    ],
)
def test_a_body_that_is_not_an_object_or_array_of_objects_is_refused_400(body: str | None, code: str) -> None:
    error = refused(events.http(body))
    assert (error.status, error.code) == (400, code)
    assert isinstance(error, EventShapeError)  # for callers of process(): the event as a whole is wrong


def test_a_body_that_is_not_utf8_is_refused_400() -> None:
    error = refused(events.http(b'{"id": "\xff"}'))
    assert (error.status, error.code) == (400, "invalid_json")
    assert "not UTF-8" in str(error)


def test_base64_that_does_not_decode_is_refused_400() -> None:
    event = events.http({"id": 1})
    event["body"], event["isBase64Encoded"] = "not base64!", True
    assert (refused(event).status, refused(event).code) == (400, "invalid_base64")


def test_a_body_that_is_not_text_is_refused_400() -> None:
    event = events.http({"id": 1})
    event["body"] = {"id": 1}  # a hand-made event: API Gateway always sends text
    assert (refused(event).status, refused(event).code) == (400, "invalid_body")


def test_over_the_byte_limit_is_refused_413_before_reading() -> None:
    limits = RequestLimits(max_body_bytes=100, max_items=100)
    big = [{"id": "x" * 40}, {"id": "y" * 40}, {"id": "z"}]
    assert len(json.dumps(big, separators=(",", ":"))) > 100
    for event in (events.http(big), events.http(big, base64=True)):
        error = refused(event, limits)
        assert (error.status, error.code) == (413, "body_too_large")
    # multi-byte characters count as bytes
    error = refused(events.http([{"id": "é" * 60}]), limits)
    assert (error.status, error.code) == (413, "body_too_large")
    # exactly at the limit passes
    exact = events.http("x" * 96, content_type="text/plain")
    exact["body"] = '["' + "x" * 96 + '"]'
    assert len(exact["body"]) == 100
    assert refused(exact, limits).code == "invalid_items"  # read, then refused for its shape


def test_over_the_item_limit_is_refused_413() -> None:
    limits = RequestLimits(max_items=3)
    error = refused(events.http([{"i": i} for i in range(4)]), limits)
    assert (error.status, error.code) == (413, "too_many_items")
    assert len(read(events.http([{"i": i} for i in range(3)]), limits).items) == 3


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/cloudevents+json",
        "application/vnd.api+json",
        "text/plain; charset=UTF-8",
        None,
        "",
    ],
)
def test_json_media_types_and_none_are_read(content_type: str | None) -> None:
    assert len(parse(events.http({"id": 1}, content_type=content_type))) == 1


@pytest.mark.parametrize(
    ("content_type", "code"),
    [
        ("application/x-www-form-urlencoded", "unsupported_media_type"),
        ("multipart/form-data; boundary=x", "unsupported_media_type"),
        ("application/xml", "unsupported_media_type"),
        ("application/octet-stream", "unsupported_media_type"),
        ("application/json; charset=iso-8859-1", "unsupported_charset"),
    ],
)
def test_other_media_types_are_refused_415(content_type: str, code: str) -> None:
    error = refused(events.http({"id": 1}, content_type=content_type))
    assert (error.status, error.code) == (415, code)


def test_a_compressed_body_is_refused_415() -> None:
    error = refused(events.http({"id": 1}, headers={"Content-Encoding": "gzip"}))
    assert (error.status, error.code) == (415, "unsupported_content_encoding")
    assert parse(events.http({"id": 1}, headers={"Content-Encoding": "identity"}))


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "naïve", "two words", '""'])
def test_a_malformed_idempotency_key_is_refused_400(key: str) -> None:
    error = refused(events.http({"id": 1}, idempotency_key=key))
    assert (error.status, error.code) == (400, "invalid_idempotency_key")


# --- not an HTTP request at all: the trigger is wrong ---------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        events.sqs([{"id": 1}]),
        events.eventbridge({"id": 1}),
        events.dynamodb([{"new_image": {"id": "1"}}]),
        [events.http({"id": 1})],
        None,
        "text",
        {},
        {"version": "2.0", "requestContext": {}},
        {"httpMethod": "POST"},
    ],
)
def test_an_event_that_is_no_http_request_is_an_event_shape_error(event: Any) -> None:
    with pytest.raises(EventShapeError, match="not an API Gateway or Lambda function URL request") as caught:
        read(event)
    assert not isinstance(caught.value, RequestRefusedError)


def test_an_application_load_balancer_request_is_refused_as_another_trigger() -> None:
    event = events.http({"id": 1}, api="rest")
    event["requestContext"] = {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:..."}}
    with pytest.raises(EventShapeError, match="Application Load Balancer") as caught:
        read(event)
    assert not isinstance(caught.value, RequestRefusedError)


# --- AWS's and Powertools' own sample events --------------------------------------------------------------


def test_sam_rest_api_sample_event_reads_its_base64_body(sam_event: SamEvent) -> None:
    # GIVEN `sam local generate-event apigateway aws-proxy`: a REST API event, body base64-encoded
    event = sam_event("apigateway/AwsProxy")
    request = read(event)
    assert request.request.api == "rest"
    assert request.request.method == "POST"
    assert [item.json() for item in request.items] == [{"test": "body"}]


def test_sam_http_api_sample_event_reads_its_base64_body(sam_event: SamEvent) -> None:
    request = read(sam_event("apigateway/HttpApi"))
    assert (request.request.api, request.request.payload_version) == ("http", "2.0")
    assert [item.json() for item in request.items] == [{"test": "body"}]


def test_powertools_http_api_v2_sample_is_one_item() -> None:
    request = read(powertools_event("apiGatewayProxyV2Event"))
    assert (request.request.api, request.request.method, request.request.path) == ("http", "POST", "/my/path")
    assert [item.json() for item in request.items] == [{"message": "hello world", "username": "tom"}]
    assert request.request.query == {"parameter1": "value1,value2", "parameter2": "value"}
    assert request.request.path_parameters == {"parameter1": "value1"}


def test_powertools_proxy_v1_sample_has_a_body_that_is_not_json() -> None:
    # GIVEN Powertools' payload 1.0 sample: a GET whose body is "Hello from Lambda!"
    error = refused(powertools_event("apiGatewayProxyEvent"))
    assert (error.status, error.code) == (400, "invalid_json")


def test_powertools_function_url_sample_has_no_body() -> None:
    event = powertools_event("lambdaFunctionUrlEvent")
    error = refused(event)
    assert (error.status, error.code) == (400, "empty_body")
    assert HttpRequestOf(event).api == "function-url"


def HttpRequestOf(event: dict[str, Any]) -> Any:  # noqa: N802 - reads like the class it builds
    from streambridge._sources.http import HttpRequest

    return HttpRequest(event)


# --- idempotency keys -------------------------------------------------------------------------------------


def test_without_the_header_items_are_not_deduplicated() -> None:
    request = read(events.http([{"id": 1}]))
    assert request.markers is None
    assert store_key(request.items[0]) is None


def test_item_keys_name_the_client_key_route_body_and_position() -> None:
    def keys(**kwargs: Any) -> list[str | None]:
        arguments: dict[str, Any] = {"body": [{"id": 1}, {"id": 2}], "idempotency_key": "k-1", "path": "/o"}
        return [store_key(item) for item in read(events.http(**{**arguments, **kwargs})).items]

    first = keys()
    assert all(key is not None and key.startswith("http|") for key in first)
    assert first[0] != first[1]
    assert first == keys()  # the same request again: the same keys
    assert first == keys(api="rest")  # whatever the format
    assert first == keys(idempotency_key='"k-1"')  # the draft's quoted form is the same key
    assert first[0] != keys(body=[{"id": 9}, {"id": 2}])[0]  # another body: other keys
    assert first[0] != keys(idempotency_key="k-2")[0]
    assert first[0] != keys(path="/other")[0]
    assert first[0] != keys(method="PUT")[0]


def test_markers_tell_a_repeat_from_a_reused_key() -> None:
    first = read(events.http([{"id": 1}], idempotency_key="k")).markers
    again = read(events.http([{"id": 1}], idempotency_key="k")).markers
    other = read(events.http([{"id": 2}], idempotency_key="k")).markers
    assert first is not None
    assert other is not None
    assert first == again
    assert first[0] == other[0]  # the key was used...
    assert first[1] != other[1]  # ...with another body


def test_a_key_of_unbounded_length_stays_short_in_the_store() -> None:
    (item,) = read(events.http({"id": 1}, idempotency_key="k" * 255, path="/" + "p" * 5000)).items
    key = store_key(item)
    assert key is not None
    assert len(key) < 100


def test_store_key_of_another_record_is_none() -> None:
    (sqs,) = SOURCES["sqs"].parse(events.sqs([{"id": 1}]))
    assert store_key(sqs) is None


# --- the harness builder, checked against Powertools' models ---------------------------------------------


@pytest.mark.parametrize("form", FORMATS)
def test_builder_events_read_with_powertools_data_classes(form: dict[str, Any]) -> None:
    from aws_lambda_powertools.utilities.data_classes import (
        APIGatewayProxyEvent,
        APIGatewayProxyEventV2,
        LambdaFunctionUrlEvent,
    )

    event = events.http({"id": "o-1"}, path="/orders", query={"a": "1"}, idempotency_key="k-1", **form)
    if form["api"] == "function-url":
        view: Any = LambdaFunctionUrlEvent(event)
        assert view.request_context.http.method == "POST"
        assert view.request_context.domain_name.endswith(".lambda-url.us-east-1.on.aws")
    elif event.get("version") == "2.0":
        view = APIGatewayProxyEventV2(event)
        assert view.route_key == "POST /orders"
        assert view.request_context.http.source_ip == "203.0.113.10"
        assert view.raw_query_string == "a=1"
    else:
        view = APIGatewayProxyEvent(event)
        assert view.http_method == "POST"
        assert view.request_context.identity.source_ip == "203.0.113.10"
        assert view.multi_value_query_string_parameters == {"a": ["1"]}
    assert view.json_body == {"id": "o-1"}
    assert view.path == "/orders"
    assert view.headers.get("Idempotency-Key") == "k-1"  # Powertools reads headers in any case
    assert view.query_string_parameters == {"a": "1"}


@pytest.mark.parametrize("form", FORMATS)
def test_builder_events_validate_with_powertools_parser_models(form: dict[str, Any]) -> None:
    pytest.importorskip("pydantic", reason="Powertools' parser models need pydantic")
    from aws_lambda_powertools.utilities.parser.models import (
        APIGatewayProxyEventModel,
        APIGatewayProxyEventV2Model,
        LambdaFunctionUrlModel,
    )

    event = events.http([{"id": "o-1"}], path="/orders", path_parameters={"id": "o-1"}, **form)
    if form["api"] == "function-url":
        model: Any = LambdaFunctionUrlModel.model_validate(event)
        assert model.requestContext.http.method == "POST"
    elif event.get("version") == "2.0":
        model = APIGatewayProxyEventV2Model.model_validate(event)
        assert model.routeKey == "POST /orders"
    else:
        model = APIGatewayProxyEventModel.model_validate(event)
        assert model.httpMethod == "POST"
    assert json.loads(model.body) == [{"id": "o-1"}]


def test_builder_refuses_what_no_service_sends() -> None:
    with pytest.raises(ValueError, match=r"payload format 1\.0"):
        events.http({}, api="rest", payload_version="2.0")
    with pytest.raises(ValueError, match=r"payload format 2\.0"):
        events.http({}, api="function-url", payload_version="1.0")
    with pytest.raises(ValueError, match="api must be"):
        events.http({}, api="alb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path must start"):
        events.http({}, path="orders")
    with pytest.raises(TypeError, match="header 'X-A'"):
        events.http({}, headers={"X-A": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="JSON-serializable"):
        events.http({"when": datetime.now(timezone.utc)})


def test_builder_is_deterministic_and_bytes_arrive_base64() -> None:
    assert events.http({"id": 1}) == events.http({"id": 1})
    assert (
        events.http({"id": 1})["requestContext"]["requestId"]
        != events.http({"id": 2})["requestContext"]["requestId"]
    )
    event = events.http(b"\x00\x01")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01"
    assert "body" not in events.http(None)  # payload 2.0 leaves out what the request lacks
    assert events.http(None, api="rest")["body"] is None
    # a test's header replaces the builder's, whatever its case
    assert events.http({}, headers={"content-type": "text/plain"})["headers"]["content-type"] == "text/plain"


# --- never a bare exception; nothing loaded at import -----------------------------------------------------

garbage = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=8),
        st.sampled_from(["", "2.0", "1.0", "POST", "e30=", "{}", "[]", "true", "application/json"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), form=st.sampled_from([{"api": "http"}, {"api": "rest"}, {"api": "function-url"}]))
def test_mangled_events_raise_only_streambridge_errors(data: st.DataObject, form: dict[str, Any]) -> None:
    # GIVEN a request with a few fields replaced by arbitrary JSON
    event = events.http([{"id": 1}], idempotency_key="k", query={"a": "1"}, **form)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        replace(event, data.draw(st.sampled_from(paths(event))), data.draw(garbage))

    # WHEN read, and every property of the request and its items read
    try:
        request = read(event)
    except EventShapeError:
        return
    view = request.request
    for name in ("api", "path", "headers", "query", "path_parameters", "authorizer", "request_id",
                 "source_ip", "time", "body", "raw"):  # fmt: skip
        with contextlib.suppress(RecordError):
            getattr(view, name)
    for item in request.items:
        assert isinstance(item, HttpItem)
        item.json()
        store_key(item)
    # THEN nothing but EventShapeError (the request) or RecordError (one property) came out


def test_importing_streambridge_loads_no_http_module() -> None:
    code = (
        "import sys, streambridge\n"
        "print(sorted(m for m in sys.modules if m in "
        "('streambridge._sources.http', 'streambridge._engine.http_reply')))\n"
        "from streambridge import HttpItem\n"
        "print(HttpItem.__module__, 'streambridge._sources.http' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[]", "streambridge True"]
