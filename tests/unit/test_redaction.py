"""What a server echoes back never carries a credential into a log line or an exception."""

from __future__ import annotations

import json

import pytest

from streambridge._io.transport import HttpResponse
from streambridge._targets.answers import redact
from streambridge._targets.channels import interpret as interpret_events
from streambridge._targets.graphql.response import interpret

KEY = "da2-abcdefghijklmnop"
TOKEN = "IQoJb3JpZ2luX2VjEHsecrettoken=="
SIGNATURE = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "echo",
    [
        f"x-api-key:{KEY}",
        f"X-Api-Key: {KEY}",
        f'"x-api-key": "{KEY}"',
        f"'x-api-key': '{KEY}'",
        f'{{\\"x-api-key\\":\\"{KEY}\\"}}',
        f"x-amz-security-token:{TOKEN}\nhost:x",
        f'{{"x-amz-security-token":"{TOKEN}","host":"x"}}',
        f"X-Amz-Security-Token={TOKEN}&X-Amz-Date=20260101T000000Z",
        f'"authorization": "Bearer {TOKEN}"',
        f"Authorization=AWS4-HMAC-SHA256 Credential=AKIA/x, Signature={SIGNATURE}",
    ],
)
def test_a_header_echoed_in_any_quoting_is_redacted(echo: str) -> None:
    # WHEN text that echoes a credential header (plain, quoted JSON, escaped JSON, a query string) is redacted
    text = redact(f"The request signature we calculated does not match: {echo}")
    # THEN no credential is left
    for secret in (KEY, TOKEN, SIGNATURE):
        assert secret not in text


def test_an_answer_echoing_headers_as_json_reaches_no_error_text() -> None:
    # GIVEN AppSync and AppSync Events answers whose messages echo the request headers as JSON
    message = json.dumps({"x-api-key": KEY, "x-amz-security-token": TOKEN})
    graphql = HttpResponse(400, {}, json.dumps({"errors": [{"message": message}]}).encode())
    channels = HttpResponse(
        200, {}, json.dumps({"failed": [{"index": 0, "errorCode": 400, "errorMessage": message}]}).encode()
    )
    # WHEN read
    texts = [str(interpret(graphql, {"m0": 0}).request_error), str(interpret_events(channels, 1).errors[0])]
    # THEN neither error says the key or the token
    for text in texts:
        assert KEY not in text
        assert TOKEN not in text
