"""What every target reads alike in an answer.

The statuses that fail a request whole, JSON bodies, Retry-After, body hints, and redaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streambridge._errors import AuthorizationError, ServerError, ThrottledError, WrongEndpointError

if TYPE_CHECKING:
    from streambridge._errors import PublishError
    from streambridge._io.transport import HttpResponse

# What a server may echo back that must never reach a log or an exception: AppSync's signature mismatch
# answer prints the canonical request, session token included.
_SECRETS = re.compile(
    # A header's name, then its value: after ``:`` (as sent) or ``=`` (a presigned query), each side maybe
    # quoted, JSON-escaped quotes included (``"x-api-key": "..."``, ``{\"x-api-key\":\"...\"}``).
    r"(?i)(x-amz-security-token|x-api-key|authorization)((?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)[^\n'\"\\&]+"
    r"|(Signature=|Credential=)[^,\s'\"\\&]+"
)

_WRONG_ENDPOINT = frozenset((404, 405, 410, 415))
"""Statuses that say the URL is not an AppSync endpoint (no such path, no POST there, gone, not JSON),
whatever a request carries: a misconfiguration, never a bad record. Redirects (3xx) say it too: AppSync
answers its own host's requests itself."""


def redact(text: str) -> str:
    """``text`` with credentials, tokens, API keys and signatures replaced by ``***``."""
    if "=" not in text and ":" not in text:
        return text
    return _SECRETS.sub(lambda m: f"{m.group(1)}{m.group(2)}***" if m.group(1) else f"{m.group(3)}***", text)


def parse_json(body: bytes) -> Any:
    """The body's JSON value; None when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None


def body_hint(body: bytes) -> str:
    """``: '<the first 120 characters, redacted>'`` for an error message; empty for an empty body."""
    text = redact(" ".join(body[:120].decode("utf-8", "replace").split()))
    return f": {text!r}" if text else ""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds an HTTP ``Retry-After`` asks to wait; None without one (or with an HTTP date)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None  # an HTTP date: fall back to our own backoff
    return None


def status_failure(response: HttpResponse, what: str, detail: str) -> PublishError | None:
    """The failure the HTTP status alone says: a wrong endpoint, credentials refused, throttled, 408 or 5xx.

    For a request of either target (``what``: "request", "publish"); ``detail``: the body's first error.
    """
    status = response.status
    if status in _WRONG_ENDPOINT or 300 <= status < 400:
        return WrongEndpointError(
            f"AppSync answered HTTP {status}{detail or body_hint(response.body)}", status=status
        )
    if status in (401, 403):
        return AuthorizationError(f"AppSync refused the credentials: HTTP {status}{detail}")
    if status == 429:
        wait = retry_after(response.headers)
        return ThrottledError(f"AppSync throttled the {what}: HTTP 429{detail}", retry_after=wait)
    if status >= 500 or status == 408:  # 408: the server gave up waiting for the request, which never ran
        wait = retry_after(response.headers)
        return ServerError(
            f"AppSync answered HTTP {status}{detail or body_hint(response.body)}", retry_after=wait
        )
    return None


def typed(error_type: Any, message: str) -> str:
    """``type: message``, naming the type once.

    Some servers' messages already start with it: the Amplify simulator's "UnauthorizedException: Invalid
    API key" (amplify-cli issue 3619), which LocalAppSync and LocalEventApi copy.
    """
    if not error_type or message.startswith(f"{error_type}:"):
        return message
    return f"{error_type}: {message}"
