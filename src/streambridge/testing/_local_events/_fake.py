"""FakeEventApi: an in-memory transport that answers an HTTP publish like an AppSync Events API.

The answers come from the same rules as LocalEventApi (``_rules``); the faults (``fail_next``,
``conditions``, ``latency``) are FakeAppSync's own machinery, reused as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streambridge._io.transport import HttpResponse
from streambridge.testing._fake import FakeAppSync, ReceivedRequest
from streambridge.testing._local._errors import RejectedError
from streambridge.testing._local_events._rules import _NAME, Oversize, PublishedEvent, Rules


class _Faults(FakeAppSync):
    """FakeAppSync's fault handling with the Event API's answer in place of GraphQL execution."""

    def __init__(self, answer: Callable[[ReceivedRequest], HttpResponse], **options: Any) -> None:
        super().__init__(**options)
        self._answer = answer

    def _execute(self, received: ReceivedRequest) -> HttpResponse:
        return self._answer(received)


class FakeEventApi:
    """A ``Transport`` that answers ``POST /event`` like AppSync Events, without a network.

    Args:
        namespaces: the API's channel namespaces, enforced as AppSync does (a publish to another namespace
            is refused). None (the default): every validly named namespace a test publishes to exists.
        on_publish: ``fn(channel, value)`` called for every event; raise ``EventRejectedError(message,
            code)`` to list that event in ``failed`` (like an onPublish handler's error).
        oversize: what an event over 240 KB gets: ``"failed"`` (listed in ``failed``, errorCode 400) or
            ``"dropped"`` (listed as successful, delivered to no one).
        latency: seconds before each answer (a request whose timeout is shorter times out).
        conditions: ``conditions(now)`` decides each request's fate once the ``fail_next`` faults are
            used up (``streambridge.testing.conditions``: ``BrownOut``, ``TokenBucket``, ``Down``).
    """

    def __init__(
        self,
        namespaces: Sequence[str] | None = None,
        *,
        on_publish: Callable[[str, Any], None] | None = None,
        oversize: Oversize = "failed",
        latency: float = 0.0,
        conditions: Callable[[float], HttpResponse | BaseException | None] | None = None,
    ) -> None:
        # with none declared, a namespace comes into being on its first publish: a test that forgets to
        # declare "rooms" should not fail on a rule it is not testing
        self._open_namespaces = namespaces is None
        self.rules = Rules(
            ("default",) if namespaces is None else namespaces, on_publish=on_publish, oversize=oversize
        )
        self._faults = _Faults(self._answer, latency=latency, conditions=conditions)

    def fail_next(self, *faults: HttpResponse | BaseException) -> None:
        """The next requests get these answers instead (an HttpResponse, or an exception to raise)."""
        self._faults.fail_next(*faults)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The channel namespaces (with none declared: ``default`` and those published to so far)."""
        with self.rules.lock:
            return self.rules.namespaces

    @property
    def published(self) -> list[PublishedEvent]:
        """Every event delivered to its channel, in publish order."""
        with self.rules.lock:
            return list(self.rules.published)

    def values(self, channel: str | None = None) -> list[Any]:
        """The JSON values published (optionally to ``channel`` only, leading slash optional), in order."""
        path = None if channel is None else channel if channel.startswith("/") else f"/{channel}"
        return [event.value for event in self.published if path is None or event.channel == path]

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received, answered or failed."""
        return self._faults.requests

    @property
    def max_in_flight(self) -> int:
        """The most requests under way at once."""
        return self._faults.max_in_flight

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """Answer one publish (or fail it as told)."""
        return await self._faults.post(url, body, headers, timeout)

    async def close(self) -> None:
        """Nothing to release."""

    def _answer(self, received: ReceivedRequest) -> HttpResponse:
        try:
            channel, events = self.rules.parse_http(received.body)
            if self._open_namespaces:
                self._define_namespace_of(channel)
            outcome = self.rules.publish(channel, events)
        except RejectedError as rejected:
            return _json(rejected.status, rejected.body())
        return _json(200, outcome.body())

    def _define_namespace_of(self, channel: Any) -> None:
        namespace = channel.strip("/").split("/")[0] if isinstance(channel, str) else ""
        if _NAME.fullmatch(namespace):
            with self.rules.lock:
                if namespace not in self.rules.namespaces:
                    self.rules.namespaces += (namespace,)


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())
