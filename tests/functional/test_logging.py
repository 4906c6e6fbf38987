"""One structured summary line per invocation; secrets never in logs, even at DEBUG."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.credentials import Credentials

from streambridge import ApiKeyAuth, Bridge, HttpResponse, IAMAuth, TokenAuth
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH, URL, poison_resolver

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"


def run(bridge: Bridge, changes: list[tuple[str, str]]) -> Any:
    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    return handler.process(events.dynamodb([{"new_image": {"id": k, "status": s}} for k, s in changes]))


def test_summary_line_with_counters(appsync: FakeAppSync, caplog: pytest.LogCaptureFixture) -> None:
    bridge = Bridge(URL, ApiKeyAuth("da2-key"), transport=appsync)
    with caplog.at_level(logging.INFO, logger="streambridge"):
        run(bridge, [("a", "NEW"), ("b", "POISON"), ("b", "PAID")])
    bridge.close()
    summaries = [r for r in caplog.records if hasattr(r, "streambridge")]
    assert len(summaries) == 1
    summary = summaries[0].streambridge  # type: ignore[attr-defined]
    assert summary == {
        "source": "dynamodb", "records": 3, "published": 1, "skipped": 0, "failed": 2, "dead_lettered": 0,
        "requests": 1, "retries": 0, "duration_ms": summary["duration_ms"],
    }  # fmt: skip
    assert "records=3 published=1 skipped=0 failed=2 dead_lettered=0 requests=1 retries=0 duration_ms=" in (
        summaries[0].getMessage()
    )


@pytest.mark.parametrize(
    ("auth", "secrets"),
    [
        (ApiKeyAuth("da2-supersecretapikey"), ["da2-supersecretapikey"]),
        (TokenAuth(lambda: "eyJhbGciOiJSUzI1NiJ9.secret.token"), ["eyJhbGciOiJSUzI1NiJ9.secret.token"]),
        (
            IAMAuth(region="us-east-1", credentials=Credentials("AKIDEXAMPLE", SECRET_KEY, SESSION_TOKEN)),
            [SECRET_KEY, SESSION_TOKEN],
        ),
    ],
    ids=["api-key", "token", "iam"],
)
def test_secrets_never_reach_the_logs(
    auth: Any, secrets: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a bridge whose first request is refused and retried, logging everything at DEBUG
    appsync = FakeAppSync(poison_resolver)
    appsync.fail_next(HttpResponse(503, {}, b"busy"))
    bridge = Bridge(URL, auth, transport=appsync)
    # WHEN it publishes
    with caplog.at_level(logging.DEBUG):
        result = run(bridge, [("a", "NEW"), ("a", "POISON")])
    bridge.close()
    # THEN no secret, and no signature sent, appears in any log line or error message
    sent = [r.headers.get("authorization", "") for r in appsync.requests]
    signatures = [h.split("Signature=")[1] for h in sent if "Signature=" in h]
    text = caplog.text + " ".join(str(o.error) for o in result.outcomes) + repr(auth) + repr(bridge)
    for secret in [*secrets, *signatures]:
        assert secret not in text
    assert (result.requests, result.retries, result.failed) == (3, 1, 1)
