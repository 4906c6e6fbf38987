"""examples/powertools: a streambridge handler with Powertools Logger, Metrics and Tracer, on FakeAppSync.

Powertools' JSON logs carry streambridge's summary; streambridge's EMF line and the function's own
Powertools metrics both reach stdout; batchItemFailures come back through Powertools' decorators.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools", reason="aws-lambda-powertools is not installed")

from streambridge import ApiKeyAuth
from streambridge.testing import FakeAppSync, events

from .conftest import URL, poison_resolver


class Context:
    """The Lambda context Powertools' Logger reads."""

    function_name = "orders-powertools"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-powertools"
    aws_request_id = "5bd5a1f4-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """examples.powertools.handler imported anew (a cold start), publishing to a FakeAppSync."""
    for name, value in {
        "STREAMBRIDGE_APPSYNC_URL": URL,
        "POWERTOOLS_SERVICE_NAME": "orders",
        "POWERTOOLS_METRICS_NAMESPACE": "shop",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    name = "examples.powertools.handler"
    monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module(name)
    fake = FakeAppSync(poison_resolver)
    bridge = module.bridge.replace(auth=ApiKeyAuth("da2-test"), transport=fake)
    monkeypatch.setattr(module, "handler", module.handler.with_bridge(bridge))
    module.appsync = fake
    yield module
    bridge.close()
    shared = logging.getLogger("streambridge")  # as it was: no Powertools handler left for other tests
    for added in list(shared.handlers):
        shared.removeHandler(added)
    shared.setLevel(logging.NOTSET)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_powertools_logs_metrics_and_answer(example: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN three order changes, the second one rejected by the resolver, the third one of the same order
    event = events.dynamodb(
        [
            {"keys": {"id": "a"}, "new_image": {"id": "a", "status": "NEW"}},
            {"keys": {"id": "b"}, "new_image": {"id": "b", "status": "POISON"}},
            {"keys": {"id": "b"}, "new_image": {"id": "b", "status": "PAID"}},
        ]
    )
    # (Powertools' Logger writes to the sys.stdout of the time it was made: make it the test's)
    example.logger.registered_handler.setStream(sys.stdout)
    assert example.logger.registered_handler in logging.getLogger("streambridge").handlers
    # WHEN Lambda invokes the Powertools-decorated handler
    answer = example.lambda_handler(event, Context())
    # THEN the answer names the failed record and the one held back behind it
    failed = [r["dynamodb"]["SequenceNumber"] for r in event["Records"][1:]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": n} for n in failed]}
    assert example.appsync.published_values() == ["a"]
    lines = json_lines(capsys.readouterr().out)
    # AND streambridge's summary is a Powertools JSON log line, with Powertools' keys beside it
    (summary,) = [line for line in lines if "streambridge" in line and "_aws" not in line]
    assert summary["service"] == "orders"
    assert summary["function_request_id"] == Context.aws_request_id
    assert summary["level"] == "INFO"
    assert summary["streambridge"]["published"] == 1
    assert summary["streambridge"]["failed"] == 2
    # AND the failures are JSON log lines too
    warnings = [line["message"] for line in lines if line.get("level") == "WARNING"]
    assert any("AppSync rejected the mutation" in message for message in warnings)
    # AND streambridge's EMF line and Powertools' metrics both went out
    emf = {line["_aws"]["CloudWatchMetrics"][0]["Namespace"]: line for line in lines if "_aws" in line}
    assert set(emf) == {"streambridge", "shop"}
    assert (emf["streambridge"]["Published"], emf["streambridge"]["HeldBack"]) == (1, 1)
    assert emf["streambridge"]["FunctionName"] == "orders-powertools"
    assert (emf["shop"]["OrdersPublished"], emf["shop"]["OrdersNotPublished"]) == ([1.0], [2.0])
