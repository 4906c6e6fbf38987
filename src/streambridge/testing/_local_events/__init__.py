"""LocalEventApi and FakeEventApi: an AWS AppSync Events API for tests, on a local port or in memory.

::

    with LocalEventApi(namespaces=("default", "rooms")) as api:
        room = api.subscribe("/rooms/*")
        ...  # publish with POST api.url, {"channel": "/rooms/r-1", "events": ["{...}"]}, x-api-key
        assert room.wait_for(1) == [{"text": "hi"}]

LocalEventApi serves ``POST /event`` and the real-time WebSocket ``/event/realtime`` with aiohttp in a
background thread, checking API keys, SigV4 signatures (recomputed for known test credentials, service
``appsync``) and tokens with LocalAppSync's authorizer. FakeEventApi is a ``Transport`` answering the same
publish in memory, with FakeAppSync's faults. Both apply one set of publish rules (``_rules``: namespaces,
channel paths, 1 to 5 events of valid JSON text, 240 KB per event, the answer's ``successful`` /
``failed`` lists). Sources are cited where each rule lives; what the documentation leaves open is listed
in docs/testing.md ("LocalEventApi").

The package's files: ``_api`` (LocalEventApi, EventSubscription), ``_server`` (the HTTP endpoint and the
real-time protocol), ``_rules`` (the publish rules), ``_fake`` (FakeEventApi). aiohttp is imported when a
LocalEventApi starts.
"""

from streambridge.testing._local_events._api import EventSubscription, LocalEventApi
from streambridge.testing._local_events._fake import FakeEventApi
from streambridge.testing._local_events._rules import EventRejectedError, PublishedEvent

__all__ = ["EventRejectedError", "EventSubscription", "FakeEventApi", "LocalEventApi", "PublishedEvent"]
