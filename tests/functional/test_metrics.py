"""Each invocation's counters as one CloudWatch Embedded Metric Format line; throttled answers counted."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from streambridge import Bridge, HttpResponse, Metrics
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH

METRIC_NAMES = [
    "Records", "Published", "Skipped", "PoisonSkipped", "Failed", "HeldBack", "DeadLettered", "Requests",
    "Retries", "Throttled", "Duration",
]  # fmt: skip
THROTTLED = HttpResponse(429, {}, b'{"errors":[{"errorType":"TooManyRequests","message":"slow down"}]}')


class Context:
    """What Lambda's context offers the metrics: the function's name and the request id."""

    function_name = "orders-to-appsync"
    aws_request_id = "8f5e3a2b-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def run(bridge: Bridge, changes: list[tuple[str, str]], context: Any = None) -> Any:
    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any] | None:
        if record.new_image["status"] == "SKIP":
            return None
        return {"input": record.new_image}

    event = events.dynamodb([{"new_image": {"id": key, "status": status}} for key, status in changes])
    return handler.process(event, context)


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_one_emf_line_per_invocation_with_every_counter(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN metrics on with one setting, and AppSync throttling the first request once
    bridge = make_bridge(metrics=True, batch_size=10)
    appsync.fail_next(THROTTLED)
    before = time.time() * 1000
    # WHEN an invocation publishes a, fails b (poison) so that b's next change is held back, skips c
    result = run(bridge, [("a", "NEW"), ("b", "POISON"), ("b", "PAID"), ("c", "SKIP")], Context())
    # THEN stdout carries exactly one EMF document
    (line,) = emf_lines(capsys.readouterr().out)
    directive = line["_aws"]["CloudWatchMetrics"]
    assert before <= line["_aws"]["Timestamp"] <= time.time() * 1000
    assert directive == [
        {
            "Namespace": "streambridge",
            "Dimensions": [["FunctionName", "Source"]],
            "Metrics": [
                {"Name": name, "Unit": "Milliseconds" if name == "Duration" else "Count"}
                for name in METRIC_NAMES
            ],
        }
    ]
    # AND the dimension values and every metric value at the top level, as the EMF specification wants
    assert line["FunctionName"] == "orders-to-appsync"
    assert line["Source"] == "dynamodb"
    assert line["RequestId"] == Context.aws_request_id
    values = {name: line[name] for name in METRIC_NAMES}
    assert values == {
        "Records": 4, "Published": 1, "Skipped": 1, "PoisonSkipped": 0, "Failed": 2, "HeldBack": 1,
        "DeadLettered": 0, "Requests": 2, "Retries": 1, "Throttled": 1, "Duration": values["Duration"],
    }  # fmt: skip
    assert values["Duration"] == pytest.approx(result.duration * 1000, abs=0.01)
    # AND the result and its summary line agree
    assert (result.throttled, result.held_back) == (1, 1)
    assert result.summary()["throttled"] == 1


def test_no_metrics_unless_asked(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    run(bridge, [("a", "NEW")])
    assert emf_lines(capsys.readouterr().out) == []


def test_namespace_dimensions_and_stream_are_settings(
    make_bridge: Callable[..., Bridge], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a namespace, only the Source dimension plus a fixed one, and a stream of our own
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "from-the-environment")
    stream = io.StringIO()
    metrics = Metrics(
        "shop/realtime", dimensions=["Source"], default_dimensions={"Stage": "prod"}, stream=stream
    )
    bridge = make_bridge(metrics=metrics)
    # WHEN an invocation runs without a Lambda context
    run(bridge, [("a", "NEW")])
    # THEN the line goes to that stream, with those dimensions only
    (line,) = emf_lines(stream.getvalue())
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "shop/realtime"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Source", "Stage"]]
    assert (line["Source"], line["Stage"]) == ("dynamodb", "prod")
    assert "FunctionName" not in line
    assert "RequestId" not in line


def test_function_name_comes_from_the_environment_without_a_context(
    make_bridge: Callable[..., Bridge], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "from-the-environment")
    stream = io.StringIO()
    run(make_bridge(metrics=Metrics(stream=stream)), [("a", "NEW")])
    (line,) = emf_lines(stream.getvalue())
    assert line["FunctionName"] == "from-the-environment"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName", "Source"]]


def test_a_stream_that_cannot_be_written_never_fails_the_invocation(
    make_bridge: Callable[..., Bridge], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(io.StringIO):
        def write(self, _text: str) -> int:
            raise OSError("closed")

    result = run(make_bridge(metrics=Metrics(stream=Broken())), [("a", "NEW")])
    assert result.published == 1
    assert "could not write the metrics line" in caplog.text


def test_replace_keeps_the_metrics_setting(make_bridge: Callable[..., Bridge]) -> None:
    metrics = Metrics(stream=io.StringIO())
    bridge = make_bridge(metrics=metrics)
    assert bridge.replace(batch_size=1).metrics is metrics
