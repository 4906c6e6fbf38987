"""Testing helpers for streambridge users: fake events for every source and local AppSync endpoints.

``events`` builds Lambda events shaped exactly like AWS's; ``FakeAppSync`` answers like AppSync in memory
(a transport, for fault injection: ``conditions`` has brown-outs, throttling and outages);
``LocalAppSync`` is a real HTTP and WebSocket endpoint running your schema in-process (also as the
``local_appsync`` pytest fixture); ``run_on_virtual_time`` runs an invocation on an event loop whose
clock skips the waits, so minutes of backoff and outage take milliseconds. ``LocalEventApi`` and
``FakeEventApi`` do the same for an AppSync Events API (channels): a local endpoint with the real-time
WebSocket (the ``local_event_api`` fixture), and an in-memory transport.
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
from streambridge.testing._local_events import (
    EventRejectedError,
    EventSubscription,
    FakeEventApi,
    LocalEventApi,
    PublishedEvent,
)
from streambridge.testing._virtual_time import VirtualTimeLoop, run_on_virtual_time
from streambridge.testing.events import lambda_context

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CREDENTIALS",
    "EventRejectedError",
    "EventSubscription",
    "FakeAppSync",
    "FakeEventApi",
    "FieldError",
    "LocalAppSync",
    "LocalEventApi",
    "LocalSubscription",
    "Published",
    "PublishedEvent",
    "ReceivedRequest",
    "RecordedMutation",
    "RequestRejectedError",
    "VirtualTimeLoop",
    "conditions",
    "events",
    "lambda_context",
    "pass_through",
    "run_on_virtual_time",
]
