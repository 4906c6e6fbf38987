"""The publish rules of an AppSync Events API, shared by LocalEventApi (HTTP and WebSocket) and FakeEventApi.

Pure: no I/O, no aiohttp. What is documented, and where:

- A publish names a channel and lists 1 to 5 events, each "a stringified valid JSON value"
  (https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html and
  https://docs.aws.amazon.com/appsync/latest/eventapi/publish-websocket.html; the docs' own HTTP example
  writes the channel without its leading slash, ``default/channel``).
- An event is at most 240 KB (https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-concepts.html).
- A channel's first segment is its namespace; only channels of a defined namespace can be used; at most
  five segments (https://docs.aws.amazon.com/appsync/latest/eventapi/channel-namespaces.html). A namespace
  name is 1 to 50 of ``A-Za-z0-9-``, not starting or ending with ``-``
  (https://docs.aws.amazon.com/appsync/latest/APIReference/API_ChannelNamespace.html).
- The answer lists ``successful`` and ``failed`` events by ``identifier`` and ``index``; a failed one also
  carries ``errorCode`` and ``errorMessage`` (Amplify's clients: amplify-js
  ``packages/api-graphql/src/internals/events/types.ts``, aws-appsync-events-swift
  ``Sources/AWSAppSyncEvents/Result/PublishResult.swift``).

Not documented, chosen here and listed in docs/testing.md: the status and errorType of a refused publish
(400 ``BadRequestException``, the shape Amplify's clients parse), the characters allowed in segments after
the namespace (the namespace's), the request size limit, and what an over-size event gets (``failed`` by
default; ``oversize="dropped"`` models the silent drop Powertools reports).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from streambridge.testing._local._delivery import MAX_MESSAGE_BYTES
from streambridge.testing._local._errors import RejectedError

MAX_EVENTS: Final = 5
MAX_EVENT_BYTES: Final = MAX_MESSAGE_BYTES
"""240 KB read as 240,000 bytes, the stricter reading (as LocalAppSync reads AppSync's 240 kB)."""
MAX_SEGMENTS: Final = 5
MAX_SEGMENT_CHARS: Final = 50
MAX_REQUEST_BYTES: Final = MAX_EVENTS * MAX_EVENT_BYTES + 64 * 1024
"""Not documented: room for five full events and the envelope."""

_NAME: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
_SEGMENT: Final = re.compile(r"[A-Za-z0-9-]{1,50}")

Oversize = Literal["failed", "dropped"]


class EventRejectedError(Exception):
    """Raise from an ``on_publish`` hook to fail one event, like an onPublish handler's error."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def bad_request(message: str) -> RejectedError:
    """A publish refused as a whole (not documented: Amplify's clients treat it as non-retryable)."""
    return RejectedError(400, "BadRequestException", message)


@dataclass(frozen=True)
class PublishedEvent:
    """One event that reached its channel's subscribers, in publish order."""

    channel: str
    """The channel path, with its leading slash (``/rooms/r-1``)."""
    value: Any
    """The event's JSON value (the text, parsed)."""
    text: str
    """The event exactly as published: what subscribers receive in ``data.event``."""
    identifier: str
    index: int


@dataclass
class PublishOutcome:
    """The answer to one publish, and the events to deliver (in order)."""

    successful: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[PublishedEvent] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """The HTTP answer (and the WebSocket ``publish_success`` fields)."""
        return {"failed": self.failed, "successful": self.successful}


def channel_path(channel: Any, namespaces: Iterable[str], *, wildcard: bool = False) -> str:
    """The channel's path with its leading slash; raise ``RejectedError`` if it is not a usable channel.

    ``wildcard`` allows ``*`` as the last segment (subscriptions only).
    """
    if not isinstance(channel, str) or not channel.strip("/"):
        raise bad_request("'channel' must be a non-empty channel path such as /namespace/channel")
    path = channel if channel.startswith("/") else f"/{channel}"
    segments = path[1:].split("/")
    if len(segments) > MAX_SEGMENTS:
        raise bad_request(f"Channel {path!r} has {len(segments)} segments; the maximum is {MAX_SEGMENTS}")
    for position, segment in enumerate(segments):
        if wildcard and segment == "*" and position == len(segments) - 1 and position > 0:
            continue
        if len(segment) > MAX_SEGMENT_CHARS:
            raise bad_request(f"Channel segment {segment!r} is longer than {MAX_SEGMENT_CHARS} characters")
        if not (_NAME if position == 0 else _SEGMENT).fullmatch(segment):
            raise bad_request(f"Channel {path!r} has an invalid segment {segment!r}")
    if segments[0] not in set(namespaces):
        raise bad_request(f"Channel namespace {segments[0]!r} does not exist on this API")
    return path


def matches(pattern: str, channel: str) -> bool:
    """Whether a subscription's channel (exact, or ending in ``/*``) receives events of ``channel``.

    ``/ns/*`` receives every channel under ``/ns`` at any depth, ``/ns/a/*`` every channel under ``/ns/a``
    (not ``/ns/a`` itself). How deep a wildcard reaches is not documented; this is the choice made here.
    """
    if pattern.endswith("/*"):
        return channel.startswith(pattern[:-1])
    return pattern == channel


class Rules:
    """One Event API's namespaces and publish rules, and the record of what was published (thread-safe)."""

    def __init__(
        self,
        namespaces: Sequence[str] = ("default",),
        *,
        on_publish: Callable[[str, Any], None] | None = None,
        oversize: Oversize = "failed",
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        if isinstance(namespaces, str):
            raise TypeError("namespaces must be a sequence of names, not a single str")
        for name in namespaces:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ValueError(f"not a valid channel namespace name: {name!r} (1-50 of A-Za-z0-9-)")
        if not namespaces:
            raise ValueError("an Event API needs at least one channel namespace")
        if oversize not in ("failed", "dropped"):
            raise ValueError(f"oversize must be 'failed' or 'dropped', got {oversize!r}")
        self.namespaces: tuple[str, ...] = tuple(namespaces)
        self.on_publish = on_publish
        self.oversize: Oversize = oversize
        self.max_request_bytes = max_request_bytes
        self.lock = threading.Condition()
        self.published: list[PublishedEvent] = []

    def parse_http(self, body: bytes) -> tuple[Any, Any]:
        """The ``channel`` and ``events`` of an HTTP publish body; ``RejectedError`` if it is not one."""
        if len(body) > self.max_request_bytes:
            raise RejectedError(
                413,
                "PayloadTooLargeException",
                f"The request is {len(body)} bytes; this API accepts at most {self.max_request_bytes}",
            )
        try:
            request = json.loads(body)
        except ValueError:
            raise bad_request("The request body is not JSON") from None
        if not isinstance(request, dict):
            raise bad_request("The request body must be a JSON object with 'channel' and 'events'")
        return request.get("channel"), request.get("events")

    def publish(self, channel: Any, events: Any) -> PublishOutcome:
        """Check and publish one batch; raise ``RejectedError`` if the whole publish is refused."""
        path = channel_path(channel, self.namespaces)
        if not isinstance(events, list) or not events:
            raise bad_request("'events' must be a non-empty list of JSON strings")
        if len(events) > MAX_EVENTS:
            raise bad_request(f"A publish carries at most {MAX_EVENTS} events, got {len(events)}")
        values = []
        for index, text in enumerate(events):
            if not isinstance(text, str):
                raise bad_request(
                    f"Event {index} must be a stringified JSON value, got {type(text).__name__}"
                )
            try:
                values.append(json.loads(text))
            except ValueError:
                raise bad_request(f"Event {index} is not a valid JSON value") from None
        outcome = PublishOutcome()
        for index, (text, value) in enumerate(zip(events, values, strict=True)):
            identifier = str(uuid.uuid4())
            entry = {"identifier": identifier, "index": index}
            size = len(text.encode())
            error: EventRejectedError | None = None
            if size > MAX_EVENT_BYTES and self.oversize == "failed":
                error = EventRejectedError(f"Event is {size} bytes, over the 240 KB limit")
            elif self.on_publish is not None:
                try:
                    self.on_publish(path, value)
                except EventRejectedError as rejected:
                    error = rejected
            if error is not None:
                outcome.failed.append({**entry, "errorCode": error.code, "errorMessage": str(error)})
                continue
            outcome.successful.append(entry)
            if size <= MAX_EVENT_BYTES:  # an over-size event "dropped": acknowledged, delivered to no one
                outcome.delivered.append(PublishedEvent(path, value, text, identifier, index))
        with self.lock:
            self.published.extend(outcome.delivered)
            self.lock.notify_all()
        return outcome
