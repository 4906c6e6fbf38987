"""What an HTTP client gets back for its request: a status, and a JSON body that says what became of it.

One response shape serves API Gateway's payload formats 1.0 and 2.0 and function URLs: ``statusCode``,
``headers``, ``body`` (JSON text) and ``isBase64Encoded`` (API Gateway developer guide, "Lambda function
response format"; Lambda developer guide, "Response payload format").

The status tells a sender what to do, and webhook senders act on it alone: they retry on anything but
2xx, some only on 429 and 5xx. So an item not published is never answered 2xx:

- 200: every item published, or skipped by the mapping function (or already published: idempotency).
  An item skipped as poison (``poison="skip"``) was not published: it counts as failed below.
- 202: none failed, but some were set aside in the dead-letter sink (``poison="dead-letter"``).
- 422: some failed because of what they carry (the mapping function raised, AppSync's resolver refused
  it, over 240 KB): resending them unchanged fails again.
- 503 with Retry-After: some failed on something passing (throttling, AppSync down, the deadline):
  resend; with an Idempotency-Key the items already published are skipped.
- 500: the function cannot publish (its URL, credentials, document): not the client's fault.

The most serious failure decides (500 over 503 over 422). The body lists every failed item by position
with its error's type and message; a failure of the function's own (500, 503) is described in general
words, for its message may name the AppSync endpoint: the full line is in the function's log. Messages
go through the library's redaction anyway.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from streambridge._engine.result import Status
from streambridge._errors import (
    AuthorizationError,
    ChannelEventError,
    ConfigurationError,
    ConnectionFailedError,
    CredentialsUnavailableError,
    DeadlineExceededError,
    EndpointDownError,
    GraphQLError,
    HeldBackError,
    MappingError,
    PayloadTooLargeError,
    RecordError,
    RequestTimeoutError,
    ServerError,
    StreambridgeError,
    ThrottledError,
    TransientError,
)
from streambridge._targets.answers import redact

if TYPE_CHECKING:
    from streambridge._engine.result import InvocationResult, RecordOutcome
    from streambridge._sources.http import RequestRefusedError

RETRY_AFTER = 5
"""Seconds a 503 asks the client to wait when AppSync gave no Retry-After of its own: the invocation
already retried with backoff, so what failed lasted seconds."""

_MESSAGE_CHARS = 300
_ITEM_NAME = re.compile(r"HTTP record #(\d+) \(item-\d+\)")
"""An item as the engine's messages name it (``SourceRecord.describe``); the client knows it by index."""

Fault = Literal["item", "passing", "function"]

# The general words for failures of the function's own: their messages may name its endpoint.
_PASSING = (
    (ThrottledError, "AppSync throttled the publishing; retry later"),
    (EndpointDownError, "AppSync is failing, publishing is paused; retry later"),
    (RequestTimeoutError, "AppSync did not answer in time; retry later"),
    (ConnectionFailedError, "AppSync could not be reached; retry later"),
    (ServerError, "AppSync failed; retry later"),
    (CredentialsUnavailableError, "the function's credentials were unavailable; retry later"),
    (DeadlineExceededError, "the function ran out of time before publishing it; retry later"),
)
_FUNCTION = "the function could not publish it (its configuration or credentials); its log says why"


def response(status: int, body: Mapping[str, Any], *, retry_after: int | None = None) -> dict[str, Any]:
    """An API Gateway (1.0, 2.0) and function URL response: ``body`` as JSON text."""
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return {
        "statusCode": status,
        "headers": headers,
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str),
        "isBase64Encoded": False,
    }


def refusal(error: RequestRefusedError) -> dict[str, Any]:
    """The answer to a request refused before anything was published (400, 413, 415, 422)."""
    return response(error.status, {"error": error.code, "message": redact(str(error))})


def misconfigured() -> dict[str, Any]:
    """The answer when the function's own setup stopped it before publishing (no URL...): 500."""
    return response(500, {"error": "misconfigured", "message": _FUNCTION.replace(" it ", " ")})


def reply(result: InvocationResult) -> dict[str, Any]:
    """The answer to a request whose items went through the engine."""
    body: dict[str, Any] = {
        "items": len(result.outcomes),
        "published": result.published,
        "skipped": result.skipped,
        "deadLettered": result.dead_lettered,
        "failed": result.failed,
    }
    # An item skipped as poison (``poison="skip"``) was not published either: the sender must hear of it.
    failures = tuple(sorted((*result.failures, *result.poison_skips), key=lambda o: o.record.index))
    if not failures:
        if not result.dead_lettered:
            return response(200, body)
        letters = [o for o in result.outcomes if o.status is Status.DEAD_LETTERED]
        return response(202, {**body, "deadLetters": [_entry(o) for o in letters]})
    faults = {_fault(o.error) for o in failures if not isinstance(o.error, HeldBackError)}
    body = {
        "error": "not_published",
        "message": f"{len(failures)} of {len(result.outcomes)} items were not published",
        **body,
        "failures": [_entry(o) for o in failures],
    }
    if "function" in faults:
        return response(500, body)
    if "passing" in faults or not faults:  # held back only: behind what was, for them, no failure of theirs
        return response(503, body, retry_after=_retry_after(failures))
    return response(422, body)


def _fault(error: StreambridgeError | None) -> Fault:
    """Whose failure it is: the item's (what it carries), a passing one's, or the function's setup."""
    if isinstance(error, (ConfigurationError, AuthorizationError)):
        return "function"
    if isinstance(error, (TransientError, DeadlineExceededError)):
        return "passing"
    if isinstance(error, (RecordError, MappingError, GraphQLError, ChannelEventError, PayloadTooLargeError)):
        return "item"
    return "function"  # anything else (an internal error) is ours, not the client's


def _entry(outcome: RecordOutcome) -> dict[str, Any]:
    """``{"index", "error", "message"}`` of a failed (or dead-lettered) item."""
    error = outcome.error
    return {
        "index": outcome.record.index,
        "error": type(error).__name__ if error is not None else "Error",
        "message": _message(outcome),
    }


def _message(outcome: RecordOutcome) -> str:
    error = outcome.error
    if error is None:
        return outcome.note or "not published"
    fault = "item" if isinstance(error, HeldBackError) else _fault(error)
    if fault == "passing":
        return next((text for kind, text in _PASSING if isinstance(error, kind)), "retry later")
    if fault == "function":
        return _FUNCTION
    text = str(error)
    name = outcome.record.describe()
    if text.startswith(name):  # the body names the item by its index already
        text = text[len(name) :].lstrip(": ")
    text = _ITEM_NAME.sub(r"item \1", redact(" ".join(text.split())))
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def _retry_after(failures: tuple[RecordOutcome, ...]) -> int:
    """Whole seconds to wait: the longest Retry-After AppSync asked for, else ``RETRY_AFTER``."""
    asked = [
        o.error.retry_after
        for o in failures
        if isinstance(o.error, TransientError) and o.error.retry_after is not None
    ]
    return max(1, math.ceil(max(asked))) if asked else RETRY_AFTER
