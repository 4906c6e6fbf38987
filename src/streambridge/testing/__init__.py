"""Testing helpers for streambridge users: fake events for every source and local AppSync endpoints.

``events`` builds Lambda events shaped exactly like AWS's; ``FakeAppSync`` answers like AppSync in memory
(a transport, for fault injection: ``conditions`` has brown-outs, throttling and outages);
``LocalAppSync`` is a real HTTP and WebSocket endpoint running your schema in-process (also as the
``local_appsync`` pytest fixture).
"""

from streambridge.testing import conditions, events
from streambridge.testing._fake import (
    FakeAppSync,
    FieldError,
    Published,
    ReceivedRequest,
    RequestRejectedError,
    pass_through,
)
from streambridge.testing._local import (
    DEFAULT_API_KEY,
    DEFAULT_CREDENTIALS,
    LocalAppSync,
    LocalSubscription,
    RecordedMutation,
)
from streambridge.testing.events import lambda_context

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CREDENTIALS",
    "FakeAppSync",
    "FieldError",
    "LocalAppSync",
    "LocalSubscription",
    "Published",
    "ReceivedRequest",
    "RecordedMutation",
    "RequestRejectedError",
    "conditions",
    "events",
    "lambda_context",
    "pass_through",
]
