"""One exception tree. Each class says whether a retry can help (``retryable``).

Outside errors (aiohttp, botocore, json) are wrapped at the I/O edge with ``raise ... from e`` so callers
only ever handle these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class StreambridgeError(Exception):
    """Base class of every error streambridge raises or reports."""

    retryable: bool = False


class ConfigurationError(StreambridgeError):
    """The bridge is set up wrong (URL, auth, region, tuning); raised at cold start, never retried."""


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


class TransientError(PublishError):
    """A failure a retry may cure: throttling, 5xx, connection errors, timeouts."""

    retryable = True

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


class AuthorizationError(PublishError):
    """AppSync refused the credentials (401/403, Unauthorized error types). Never retried."""


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


class PayloadTooLargeError(PublishError):
    """A mutation's payload is over what AppSync will deliver to subscribers (checked before sending)."""


class DeadlineExceededError(PublishError):
    """The Lambda deadline came before the record could be published."""


class HeldBackError(PublishError):
    """An earlier record of the same partition key failed, so this one was not sent (ordering)."""


class DeliveryFailedError(StreambridgeError):
    """Raised by single-event handlers (Aurora, alarm, EventBridge) when the event was not published.

    Lambda's own retry and on-failure destination then apply. ``result`` holds the full outcome.
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result
