"""AppSync's error shapes: refusals before execution, field errors, and how a GraphQL error is written out.

Kept apart because every other part raises or formats them: the authorizer and the SigV4 check refuse
requests (``RejectedError``), the auth directives fail fields (``UnauthorizedError``), the real-time
endpoint refuses ``start`` messages (``StartError``), and the engine writes every GraphQL error the way
AppSync shows it (``format_error``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from streambridge.testing._fake import FieldError

if TYPE_CHECKING:
    from graphql import GraphQLError

logger = logging.getLogger("streambridge.testing")


class RejectedError(Exception):
    """A request refused before execution: an HTTP status, an AppSync errorType and a message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> dict[str, Any]:
        """The HTTP answer's body."""
        return {"errors": [{"errorType": self.error_type, "message": self.message}]}

    def with_code(self) -> dict[str, Any]:
        """The error as the real-time protocol carries it: with the HTTP status as ``errorCode``."""
        return {"errorType": self.error_type, "message": self.message, "errorCode": self.status}


class UnauthorizedError(FieldError):
    """A field the request's auth mode may not access (AppSync's ``Unauthorized`` field error)."""

    def __init__(self, field_name: str, type_name: str) -> None:
        super().__init__(f"Not Authorized to access {field_name} on type {type_name}", "Unauthorized")


class ResolverCrashError(Exception):
    """A user resolver raised something other than FieldError (a bug in the test's resolver)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class StartError(Exception):
    """A ``start`` message refused: the errors for the ``error`` message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def appsync_error(error_type: str, message: str) -> dict[str, Any]:
    """An error object with only ``errorType`` and ``message``, as AppSync writes protocol errors."""
    return {"errorType": error_type, "message": message}


def format_error(error: GraphQLError) -> dict[str, Any]:
    """An error as AppSync shows it: request errors have no path; field errors carry errorType & co."""
    if error.path is None:  # syntax, validation and variable errors: {"message", "locations"}
        formatted: dict[str, Any] = {"message": error.message}
        if error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        return formatted
    locations = [
        {"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or ()
    ]
    original = error.original_error
    if isinstance(original, FieldError):
        return {
            "path": list(error.path),
            "data": getattr(original, "data", None),
            "errorType": original.error_type,
            "errorInfo": getattr(original, "error_info", None),
            "locations": locations,
            "message": error.message,
        }
    formatted = {"path": list(error.path), "locations": locations, "message": error.message}
    if isinstance(original, ResolverCrashError):
        formatted["errorType"] = type(original.error).__name__
        logger.error(
            "LocalAppSync: the resolver of %s raised %s (raise FieldError for an AppSync field error)",
            ".".join(map(str, error.path)),
            type(original.error).__name__,
            exc_info=original.error,
        )
    return formatted
