"""One exception tree. Each class says what can be done about it, and nothing else decides it.

``retryable``: a retry may cure it. ``dead_letterable``: no retry can, the record itself is at fault, so an
opt-in dead-letter sink may take it and let its key go on.

Outside errors (OSError, ssl, h11, botocore, json) are wrapped at the I/O edge with ``raise ... from e`` so
callers only ever handle these classes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

    from streambridge._sources._base import SourceRecord


class StreambridgeError(Exception):
    """Base class of every error streambridge raises or reports.

    ``record`` is the source record the error is about, when one is (attached, as httpx attaches the
    request to its errors, so that an error keeps its own class and fields); its message then names it.
    """

    retryable: bool = False
    dead_letterable: bool = True
    record: SourceRecord | None = None

    def __str__(self) -> str:
        text = super().__str__()
        if self.record is not None:
            name = self.record.describe()
            text = text if text.startswith(name) else f"{name}: {text}"
        return _named_once(text)

    def about(self, record: SourceRecord) -> Self:
        """Attach ``record`` (the first one attached stays) and return the same error, to raise."""
        if self.record is None:
            self.record = record
        return self


_LEADING_NAME = re.compile(
    r"(?P<name>[A-Z][\w ]* (?:record|event) #\d+ \([^)]*\)(?:, mutation \d+ of \d+)?): "
)
"""A record's name (``SourceRecord.describe``) at the head of a message, with its colon."""


def _named_once(text: str) -> str:
    """``NAME: ... raised RecordError: NAME: cause`` -> ``NAME: ... raised RecordError: cause``.

    An error about a record that wraps another error about the same record (a partition key function
    whose ``record.json()`` failed) would otherwise name the record twice.
    """
    match = _LEADING_NAME.match(text)
    if match is None:
        return text
    head = match.group(0)
    rest = text[len(head) :]
    return head + rest.replace(head, "") if head in rest else text


def is_retryable(error: BaseException) -> bool:
    """Only our transient errors are retried; validation and authorization errors never are."""
    return isinstance(error, StreambridgeError) and error.retryable


def said(error: BaseException) -> str:
    """``Type: message`` of an exception from user code, even one whose message cannot be written."""
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:  # noqa: BLE001 - a broken __str__ must not turn one bad record into a crash
        return f"{type(error).__name__} (its message could not be written)"


def can_dead_letter(error: StreambridgeError) -> bool:
    """Only failures of the record itself, which no retry can cure, go to the dead-letter sink."""
    return error.dead_letterable


class ConfigurationError(StreambridgeError):
    """The bridge is set up wrong (URL, auth, region, tuning); raised at cold start, never retried."""

    dead_letterable = False  # the setting is at fault, not the record: every record would fail alike


class EventShapeError(StreambridgeError):
    """The Lambda event as a whole is not what the decorator expects (wrong source, missing fields).

    Raised for the whole invocation because no record in it can be identified for a partial-batch answer.
    """


class RecordError(StreambridgeError):
    """One source record is malformed (bad base64, bad attribute value, non-JSON data, missing field)."""


class MappingError(StreambridgeError):
    """The user's mapping function raised, or returned something that is not a mutation."""


class DocumentError(StreambridgeError):
    """A mutation document does not parse or is not a single mutation operation."""


class PublishError(StreambridgeError):
    """Publishing to AppSync failed."""


class WrongEndpointError(ConfigurationError, PublishError):
    """The URL answers, but not as an AppSync endpoint does (HTTP 404, 405, a redirect...).

    Found while sending, so it is a configuration error every request shares: sending halts, and every
    record not published is reported failed (never skipped, never dead-lettered) for Lambda to re-deliver
    once the URL is fixed.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    def at(self, url: str) -> WrongEndpointError:
        """The same error, its message naming ``url`` (without credentials) and the likely fix."""
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        shown = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        path = parts.path.rstrip("/")
        if "appsync-realtime-api" in host:
            fix = "that is the real-time (WebSocket) host: publish to the appsync-api host of the same API"
        elif not path.endswith(("/graphql", "/event")):
            fix = "its path should be /graphql (a GraphQL API) or /event (an Event API)"
        else:
            fix = (
                "check the API id and region (https://<id>.appsync-api.<region>.amazonaws.com), or that a "
                "custom domain is associated with the API"
            )
        wrong = WrongEndpointError(
            f"{self} from {shown}: this URL is not an AppSync endpoint ({fix}); the records are reported "
            "failed, never skipped or dead-lettered",
            status=self.status,
        )
        wrong.__cause__ = self.__cause__
        return wrong


class SchemaMismatchError(ConfigurationError, PublishError):
    """AppSync refused the request for its document, not its variables (or a namespace it lacks).

    The schema has no such field, type or argument (the URL names another API), or the Event API has no
    such channel namespace.

    No record can cause it, so it is a configuration error every request shares: sending halts, and every
    record not published is reported failed (never skipped, never dead-lettered).
    """


class TransientError(PublishError):
    """A failure a retry may cure: throttling, 5xx, connection errors, timeouts."""

    retryable = True
    dead_letterable = False  # Lambda's re-delivery is the retry after ours

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThrottledError(TransientError):
    """AppSync answered 429 or a throttling error type."""


class ServerError(TransientError):
    """AppSync answered 5xx or a body that is not a GraphQL response."""


class ConnectionFailedError(TransientError):
    """The connection failed or was reset before an answer came."""


class RequestTimeoutError(TransientError):
    """No answer within the request timeout."""


class CredentialsUnavailableError(TransientError):
    """The auth could not make its headers: a ``TokenAuth`` callable or the credential chain raised.

    Nothing was sent. Retried within the retry budget like any transient failure (a token service's
    hiccup passes); if it lasts, the records are reported failed for Lambda to re-deliver. Its cause is
    what the callable raised.
    """


class EndpointDownError(TransientError):
    """AppSync failed every request for a while (5xx, resets, timeouts): the circuit breaker stopped sending.

    The records not published are reported failed, for Lambda to re-deliver once the endpoint is back; the
    last failure is the cause.
    """


class AuthorizationError(PublishError):
    """AppSync refused the credentials (401/403, Unauthorized error types). Never retried."""

    dead_letterable = False  # every record would be refused alike: the credentials are at fault


class GraphQLError(PublishError):
    """AppSync executed the request and returned an error for one mutation (resolver or validation)."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        path: tuple[str | int, ...] = (),
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.path = path
        self.raw = dict(raw or {})


class ChannelEventError(PublishError):
    """AppSync Events refused an event or a publish (its channel, its payload): no retry can cure it."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        """The error code AppSync gave, if any."""


class PayloadTooLargeError(PublishError):
    """A mutation's payload is over what AppSync will deliver to subscribers (checked before sending)."""


class DeadlineExceededError(PublishError):
    """The Lambda deadline came before the record could be published."""

    dead_letterable = False  # the clock is at fault: Lambda re-delivers the record


class HeldBackError(PublishError):
    """An earlier record of the same partition key failed, so this one was not sent (ordering)."""

    dead_letterable = False  # an earlier record is at fault: this one is re-delivered after it


class DeliveryFailedError(StreambridgeError):
    """Raised by single-event handlers (Aurora, alarm, EventBridge) when the event was not published.

    Lambda's own retry and on-failure destination then apply. ``result`` holds the full outcome.
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result
