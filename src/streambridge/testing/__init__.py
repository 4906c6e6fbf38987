"""Testing helpers for streambridge users: fake events for every source and a fake AppSync transport.

``events`` builds Lambda events shaped exactly like AWS's; ``FakeAppSync`` answers like AppSync in memory.
"""

from streambridge.testing import events
from streambridge.testing._fake import (
    FakeAppSync,
    FieldError,
    Published,
    ReceivedRequest,
    RequestRejectedError,
    pass_through,
)
from streambridge.testing.events import lambda_context

__all__ = [
    "FakeAppSync",
    "FieldError",
    "Published",
    "ReceivedRequest",
    "RequestRejectedError",
    "events",
    "lambda_context",
    "pass_through",
]
