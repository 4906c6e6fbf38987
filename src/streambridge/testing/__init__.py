"""Testing helpers for streambridge users: fake events for every source and fake AppSync endpoints."""

from streambridge.testing._fake import (
    FakeAppSync,
    FieldError,
    Published,
    ReceivedRequest,
    RequestRejectedError,
)

__all__ = ["FakeAppSync", "FieldError", "Published", "ReceivedRequest", "RequestRejectedError"]
