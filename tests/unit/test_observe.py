"""Metrics settings, request tracing (a fake tracer, OpenTelemetry and X-Ray when installed), and errors
raised without unrelated context."""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from streambridge import (
    ApiKeyAuth,
    Bridge,
    ConfigurationError,
    GraphQLError,
    HttpResponse,
    IAMAuth,
    Metrics,
    RequestTrace,
    RetryPolicy,
    ServerError,
    ThrottledError,
)
from streambridge._engine.observe import outcome_of
from streambridge._targets.base import Answer
from streambridge.testing import FakeAppSync, FieldError, events

URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"


def resolver(_field: str, arguments: dict[str, Any]) -> object:
    if arguments["input"]["status"] == "POISON":
        raise FieldError("poison record", "PoisonError")
    return arguments["input"]


def publish(bridge: Bridge, *statuses: str) -> Any:
    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    changes = [{"new_image": {"id": str(n), "status": s}} for n, s in enumerate(statuses)]
    try:
        return handler.process(events.dynamodb(changes))
    finally:
        bridge.close()


# --- metrics settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"namespace": ""}, "non-empty ASCII"),
        ({"namespace": "AWS/Lambda"}, "not start with 'AWS/'"),
        ({"dimensions": ["Shard"]}, "fixed dimensions of your own go in default_dimensions"),
        ({"dimensions": "Source"}, "must be a sequence"),
        ({"default_dimensions": {"Stage": ""}}, "value must be a non-empty ASCII string"),
        ({"default_dimensions": {"Source": "x"}}, "is a dimension streambridge fills in"),
        ({"default_dimensions": {f"d{n}": "x" for n in range(29)}}, "at most 30 dimensions"),
    ],
)
def test_metrics_settings_that_cannot_work_fail_at_cold_start(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says.replace("(", r"\(")):
        Metrics(**settings)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("_aws", "the EMF metadata"),  # it would replace the metadata: no metric extracted at all
        ("RequestId", "the invocation's request id"),  # a new value each invocation: a metric each
        ("Records", "a metric"),
        ("Duration", "a metric"),
        ("FunctionName", "a dimension streambridge fills in"),
        ("Source", "a dimension streambridge fills in"),
    ],
)
def test_a_default_dimension_named_like_a_key_of_the_line_is_refused(name: str, why: str) -> None:
    # GIVEN a fixed dimension whose name the EMF line already uses for something else
    # WHEN metrics are configured with it THEN it is refused, saying what the name is
    with pytest.raises(ConfigurationError, match=rf"default_dimensions: {name!r} is {why}"):
        Metrics(default_dimensions={name: "x"})
    # AND it is refused even when streambridge's own dimensions are turned off
    with pytest.raises(ConfigurationError, match=rf"default_dimensions: {name!r} is {why}"):
        Metrics(dimensions=(), default_dimensions={name: "x"})


def test_every_key_of_the_line_is_a_reserved_name() -> None:
    # GIVEN a line written with every dimension and a request id
    class Context:
        function_name = "fn"
        aws_request_id = "req-1"

    result = publish(Bridge(URL, ApiKeyAuth("k"), transport=FakeAppSync(resolver)), "NEW")
    line = Metrics().document(result, Context())
    # THEN each of its keys is refused as a default dimension
    for key in line:
        with pytest.raises(ConfigurationError, match="default_dimensions"):
            Metrics(default_dimensions={key: "x"})


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"dimensions": None}, "Metrics dimensions must be a sequence"),
        ({"default_dimensions": "Stage=prod"}, "Metrics default_dimensions must be a mapping"),
        ({"stream": "metrics.log"}, r"Metrics stream must have write\(text\)"),
    ],
)
def test_metrics_settings_of_the_wrong_type_fail_at_cold_start(settings: dict[str, Any], says: str) -> None:
    # GIVEN settings of the wrong type (a TypeError at construction, or a line silently never written)
    with pytest.raises(ConfigurationError, match=says):
        Metrics(**settings)


def test_metrics_setting_of_the_bridge() -> None:
    assert Bridge(URL, ApiKeyAuth("k")).metrics is None
    assert Bridge(URL, ApiKeyAuth("k"), metrics=True).metrics.namespace == "streambridge"  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError, match=r"metrics must be True, False or Metrics\(...\)"):
        Bridge(URL, ApiKeyAuth("k"), metrics="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="tracing must be True, False or a callable"):
        Bridge(URL, ApiKeyAuth("k"), tracing="xray")  # type: ignore[arg-type]


# --- what a request's answer was ----------------------------------------------------------------------


def test_outcome_of_an_answer() -> None:
    throttled, server = ThrottledError("429"), ServerError("503")
    rejected = GraphQLError("bad", error_type="ValidationError")
    assert outcome_of(Answer()) == ("ok", None)
    assert outcome_of(Answer(errors={1: rejected})) == ("partial", rejected)
    assert outcome_of(Answer(errors={0: rejected, 1: throttled})) == ("throttled", throttled)
    assert outcome_of(Answer(request_error=throttled)) == ("throttled", throttled)
    assert outcome_of(Answer(request_error=server)) == ("error", server)
    assert outcome_of(server) == ("error", server)


# --- tracing ------------------------------------------------------------------------------------------


def test_a_tracer_of_your_own_sees_every_request_with_its_mutation_count_and_outcome() -> None:
    # GIVEN a fake tracer, and AppSync failing the first request with a 503
    traces: list[RequestTrace] = []
    appsync = FakeAppSync(resolver)
    appsync.fail_next(HttpResponse(503, {}, b"busy"))
    fast = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.005)
    bridge = Bridge(URL, ApiKeyAuth("k"), transport=appsync, tracing=traces.append, batch_size=2, retry=fast)
    # WHEN three records go out: two per request, one of them rejected
    publish(bridge, "NEW", "POISON", "NEW")
    # THEN each request sent is traced once (the last two run concurrently), with its outcome
    assert sorted((t.mutations, t.outcome) for t in traces) == [(1, "ok"), (2, "error"), (2, "partial")]
    errors = {t.outcome: type(t.error) for t in traces}
    assert errors == {"error": ServerError, "partial": GraphQLError, "ok": type(None)}
    assert all(t.start <= t.end for t in traces)


def test_a_failing_tracer_never_fails_the_invocation(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_trace: RequestTrace) -> None:
        raise RuntimeError("tracer down")

    result = publish(
        Bridge(URL, ApiKeyAuth("k"), transport=FakeAppSync(), tracing=broken, batch_size=1), "A", "B"
    )
    assert result.published == 2
    assert caplog.text.count("the request tracer failed") == 1


def test_tracing_off_or_absent_imports_nothing() -> None:
    # GIVEN a fresh interpreter: tracing on (the default), no tracer imported, Lambda's trace header set
    code = (
        "import os, sys\n"
        "os.environ['_X_AMZN_TRACE_ID'] = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1'\n"
        "import streambridge\n"
        "from streambridge.testing import FakeAppSync, events\n"
        f"b = streambridge.Bridge({URL!r}, streambridge.ApiKeyAuth('k'), transport=FakeAppSync())\n"
        f"h = b.dynamodb({PUBLISH!r})(lambda r: {{'input': r.new_image}})\n"
        "h.process(events.dynamodb([{'new_image': {'id': '1', 'status': 'NEW'}}]))\n"
        "import importlib.util\n"
        "xray = importlib.util.find_spec('aws_xray_sdk') is not None\n"
        "loaded = [m for m in ('aws_xray_sdk', 'opentelemetry') if m in sys.modules]\n"
        "print(xray, ','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    installed, _, loaded = out.strip().partition(" ")
    # THEN OpenTelemetry, never imported by the function, is not imported by streambridge either; the X-Ray
    # SDK is imported only when installed (the trace header says the invocation is traced)
    assert loaded == ("aws_xray_sdk" if installed == "True" else "")


def test_without_a_recording_span_or_trace_header_no_tracer_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from streambridge._engine.observe import request_tracer

    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    assert request_tracer(True) is None
    assert request_tracer(False) is None


@pytest.fixture
def otel_spans() -> Iterator[Any]:
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is not installed")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set once per process
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()


def test_opentelemetry_span_per_request_under_the_current_span(otel_spans: Any) -> None:
    from opentelemetry import trace

    # GIVEN a recording span around the invocation (as the ADOT layer or the function's code makes one)
    appsync = FakeAppSync(resolver)
    appsync.fail_next(HttpResponse(429, {}, b'{"errors":[{"errorType":"TooManyRequests","message":"slow"}]}'))
    bridge = Bridge(URL, ApiKeyAuth("k"), transport=appsync, batch_size=5)
    with trace.get_tracer("test").start_as_current_span("handler") as parent:
        publish(bridge, "NEW", "NEW")
    # THEN a client span per request, child of that span, says how many mutations and how it went
    spans = [s for s in otel_spans.get_finished_spans() if s.name == "streambridge request"]
    assert [
        (s.attributes["streambridge.mutations"], s.attributes["streambridge.outcome"]) for s in spans
    ] == [
        (2, "throttled"),
        (2, "ok"),
    ]
    assert all(s.parent.span_id == parent.get_span_context().span_id for s in spans)
    assert spans[0].status.status_code is trace.StatusCode.ERROR
    assert all(s.kind is trace.SpanKind.CLIENT for s in spans)


def test_opentelemetry_without_a_current_span_is_left_alone(otel_spans: Any) -> None:
    publish(Bridge(URL, ApiKeyAuth("k"), transport=FakeAppSync()), "NEW")
    assert [s for s in otel_spans.get_finished_spans() if s.name == "streambridge request"] == []


def test_xray_subsegment_per_request(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("aws_xray_sdk", reason="aws-xray-sdk is not installed")
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder

    # Powertools' Tracer disabled the SDK for the whole process if a test ran it with tracing off
    enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    request.addfinalizer(lambda: global_sdk_config.set_sdk_enabled(enabled))

    # No daemon here: segments go nowhere, and the UDP socket the SDK opened at import is closed, not
    # left for a ResourceWarning at exit.
    sent: list[Any] = []
    emitter = xray_recorder.emitter
    if not isinstance(emitter, _Discard):
        emitter._socket.close()
        xray_recorder.emitter = _Discard(sent)
    # GIVEN Lambda's trace header and an open segment (Lambda's facade segment, here a plain one)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    segment = xray_recorder.begin_segment("handler", sampling=1)
    try:
        appsync = FakeAppSync(resolver)
        publish(Bridge(URL, ApiKeyAuth("k"), transport=appsync, batch_size=5), "NEW", "POISON")
        subsegments = [s for s in segment.subsegments if s.name == "streambridge request"]
    finally:
        xray_recorder.end_segment()
    # THEN one subsegment per request, annotated with its mutation count and outcome
    assert [
        (s.annotations["streambridge_mutations"], s.annotations["streambridge_outcome"]) for s in subsegments
    ] == [(2, "partial")]
    assert subsegments[0].error
    assert subsegments[0].start_time <= subsegments[0].end_time


class _Discard:
    """An X-Ray emitter that keeps what it is given."""

    def __init__(self, sent: list[Any]) -> None:
        self.sent = sent

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity)

    def set_daemon_address(self, address: str | None) -> None:
        pass


# --- errors without unrelated context ------------------------------------------------------------------


def test_no_credentials_raises_the_configuration_error_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # GIVEN no AWS credentials anywhere: environment, files, container or instance metadata
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bridge = Bridge(URL, IAMAuth(), transport=FakeAppSync())
    # WHEN a handler runs, as a test without credentials would
    with pytest.raises(ConfigurationError) as raised:
        publish(bridge, "NEW")
    # THEN the error says what to set, and carries no "During handling of the above exception" noise
    assert "AWS_ACCESS_KEY_ID" in str(raised.value)
    assert not isinstance(raised.value.__context__, RuntimeError)
    assert not isinstance(raised.value.__cause__, RuntimeError)
    shown = "".join(traceback.format_exception(raised.value))
    assert "no running event loop" not in shown
    assert "During handling of the above exception" not in shown
