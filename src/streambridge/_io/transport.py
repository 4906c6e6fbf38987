"""The transport is a small protocol: POST bytes, get status, headers and bytes back.

The bridge ships an HTTP/1.1 transport (``http.HttpTransport``) and tests use an in-memory one
(``streambridge.testing``). Transports wrap every outside error into ``ConnectionFailedError`` or
``RequestTimeoutError``; deciding what a status code means is the caller's job, not the transport's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol


class HttpResponse(NamedTuple):
    """What came back from one POST."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """Sends one GraphQL request. Implementations must be safe to call concurrently."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """POST ``body`` to ``url``; raise ConnectionFailedError or RequestTimeoutError on failure."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class Auth(Protocol):
    """Adds authorization headers to a request. Swappable: IAMAuth, ApiKeyAuth, TokenAuth or your own."""

    def check_endpoint(self, url: str) -> None:
        """Check the setting against the endpoint with no I/O and no heavy import; raise ConfigurationError.

        The Bridge calls it when it is built with a URL, so that a setting that cannot work fails at cold
        start, in Lambda's init phase.
        """
        ...

    def validate(self, url: str) -> None:
        """Check the setting fully (``check_endpoint`` and credentials), once, before the first request.

        Raise ConfigurationError if it cannot work.
        """
        ...

    def headers(self, url: str, body: bytes) -> Mapping[str, str]:
        """Headers to send with this exact body (called again for every retry, so signatures stay fresh)."""
        ...
