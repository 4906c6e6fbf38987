"""The AppSync Events target: a record becomes events published to channels of an Event API.

What the service documents, and this module follows:

- Publishing over HTTP is ``POST https://HTTP_DOMAIN/event`` with ``{"channel": ..., "events": [...]}``,
  "up to 5 events in a batch", each "a stringified valid JSON value"
  (https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html).
- An event is at most 240 KB (https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-concepts.html).
- A channel's first segment is its namespace; "a channel namespace is made up of a maximum of five
  segments"; a namespace name is 1 to 50 letters, digits and dashes, not starting or ending with a dash
  (https://docs.aws.amazon.com/appsync/latest/eventapi/channel-namespaces.html,
  https://docs.aws.amazon.com/appsync/latest/APIReference/API_ChannelNamespace.html). The characters the
  other segments may hold are not documented: the namespace's rule is applied to every segment (stricter
  rather than sent to be refused).
- The answer lists ``successful`` and ``failed`` events, each with its ``identifier`` and its ``index`` in
  the request; a failed one carries an ``errorCode`` and an ``errorMessage`` (the shape Amplify's client
  reads; the HTTP publish page shows no answer).

Events of different keys share a request when they go to the same channel (``shares`` is the channel).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from streambridge._errors import (
    AuthorizationError,
    ChannelEventError,
    MappingError,
    PayloadTooLargeError,
    PublishError,
    SchemaMismatchError,
    ServerError,
    ThrottledError,
    said,
)
from streambridge._targets.answers import body_hint, parse_json, redact, status_failure, typed
from streambridge._targets.base import Answer, Item, Rendered
from streambridge._targets.values import to_json

if TYPE_CHECKING:
    from streambridge._io.transport import HttpResponse
    from streambridge._sources._base import SourceRecord

MAX_EVENTS = 5
"""Events in one publish (publish-http.html: "You can publish up to 5 events in a batch")."""
MAX_EVENT_BYTES = 240_000
"""240 KB per event (event-api-concepts.html); whether a KB is 1,000 or 1,024 bytes is unknown: the
stricter reading."""
MAX_SEGMENTS = 5
_SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
_FRAME = len('{"channel":"","events":[]}')

_quote = json.encoder.encode_basestring
_NO_NAMESPACE = re.compile(r"(?i)namespace\b.*\b(?:does not exist|doesn't exist|not found|unknown)")
"""A publish refused because its channel's namespace does not exist. What AppSync answers then is not
documented; this reads FakeEventApi's and LocalEventApi's answer and the likely wordings."""


class ChannelEvent(NamedTuple):
    """One event to publish: the channel (``/namespace/segment/...``) and its payload (any JSON value)."""

    channel: str
    payload: Any


Channel = str | Callable[[Any], str]
"""A decorator's ``channel=``: a fixed channel, or a function of the record."""


def check_channel(channel: object) -> str:
    """``channel`` as published (with its leading ``/``); ValueError saying what is wrong with it."""
    if not isinstance(channel, str):
        raise ValueError(f"a channel is a string like '/namespace/name', not {type(channel).__name__}")  # noqa: TRY004 - one error kind for every bad channel
    segments = channel.removeprefix("/").split("/")
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"channel {channel!r} has {len(segments)} segments; at most {MAX_SEGMENTS}")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(
                f"channel {channel!r}: segment {segment!r} must be 1 to 50 letters, digits or dashes, "
                "not starting or ending with a dash"
            )
    return "/" + "/".join(segments)


class PlannedEvent:
    """An event ready to batch: its channel, and its payload written as JSON text, quoted for the body."""

    __slots__ = ("channel", "quoted", "size")

    def __init__(self, channel: str, quoted: str, size: int) -> None:
        self.channel = channel
        self.quoted = quoted
        """The event's JSON text as a JSON string (the body's ``events`` hold strings)."""
        self.size = size
        """Bytes it adds to a body: its quoted text and separator, and the channel and frame (counted by
        each event of a request though printed once: an overcount that keeps the bound exact)."""

    @property
    def shares(self) -> Hashable:
        """Events share a request when they go to the same channel."""
        return self.channel

    def __repr__(self) -> str:
        return f"PlannedEvent({self.channel!r}, {self.quoted})"


class ChannelTarget:
    """Events of an AppSync Event API: the decorator's channel (if any) and the event size limit."""

    __slots__ = ("channel", "max_event_bytes")

    max_items: int | None = MAX_EVENTS

    def __init__(self, channel: Channel | None = None, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        """Raises ValueError for a fixed ``channel`` that cannot be published to."""
        self.channel = check_channel(channel) if isinstance(channel, str) else channel
        self.max_event_bytes = max_event_bytes

    def prepare(self, record: SourceRecord, result: Any) -> list[PlannedEvent]:
        """The events for a mapping result: None (skip), a payload, a ChannelEvent, or a list of them."""
        return [self._planned(record, event.channel, event.payload) for event in self.split(record, result)]

    def split(self, record: SourceRecord, result: Any) -> list[Any]:
        """The events of a mapping result, each a ``ChannelEvent`` (its channel resolved for ``record``).

        A list holds one event per item; an item that is itself a list is one event whose payload is that
        array (``[[1, 2]]`` publishes ``[1, 2]`` once), as docs/channels.md promises.
        """
        if isinstance(result, (list, tuple)) and not isinstance(result, ChannelEvent):
            return [self._event(record, item) for item in result if item is not None]
        return [] if result is None else [self._event(record, result)]

    def _event(self, record: SourceRecord, result: Any) -> ChannelEvent:
        """One event of a mapping result: a ``ChannelEvent``, or a payload for the decorator's channel."""
        if isinstance(result, ChannelEvent):
            return result
        if isinstance(result, (list, tuple)) and any(isinstance(item, ChannelEvent) for item in result):
            raise MappingError(
                f"{record.describe()}: mapping function returned a list of lists of ChannelEvent; "
                "return one flat list of ChannelEvent (a nested list is one event's array payload)"
            )
        channel = self.channel
        if channel is None:
            raise MappingError(
                f"{record.describe()}: mapping function returned {type(result).__name__}, but the decorator "
                "has no channel; pass channel= to the decorator or return ChannelEvent(channel, payload)"
            )
        if not isinstance(channel, str):
            try:
                channel = channel(record)
            except Exception as error:
                raise MappingError(f"{record.describe()}: channel function raised {said(error)}") from error
        return ChannelEvent(channel, result)

    def render(self, items: Sequence[Item]) -> Rendered:
        """``{"channel": ..., "events": ["<JSON text>", ...]}``; the answer is read by index."""
        events = cast("Sequence[PlannedEvent]", items)  # prepared by this target
        texts = ",".join(event.quoted for event in events)
        body = f'{{"channel":{_quote(events[0].channel)},"events":[{texts}]}}'.encode()
        return Rendered(body, len(events))

    def interpret(self, response: HttpResponse, keys: Any) -> Answer:
        """Each event's outcome, by its index in the answer's ``successful`` and ``failed`` lists."""
        return interpret(response, cast("int", keys))

    def _planned(self, record: SourceRecord, channel: object, payload: Any) -> PlannedEvent:
        try:
            channel = check_channel(channel)
        except ValueError as error:
            raise MappingError(f"{record.describe()}: {error}") from None
        text = to_json(record, "event payload", payload)
        size = len(text) if text.isascii() else len(text.encode())
        if size > self.max_event_bytes:
            raise PayloadTooLargeError(
                f"{record.describe()}: the event is {size} bytes, over the {self.max_event_bytes}-byte "
                "limit of AppSync Events (240 KB); the record is failed instead of sent"
            )
        quoted = _quote(text)
        quoted_size = len(quoted) if quoted.isascii() else len(quoted.encode())
        return PlannedEvent(channel, quoted, quoted_size + 1 + len(_quote(channel)) + _FRAME)


def interpret(response: HttpResponse, count: int) -> Answer:
    """Map an Event API answer to per-event outcomes, classifying each error as transient or not."""
    payload = parse_json(response.body)
    failed = _request_error(response, payload)
    if failed is not None:
        return Answer(failed)
    answer = Answer()
    succeeded = {
        index for entry in _entries(payload.get("successful")) if type(index := entry.get("index")) is int
    }
    for entry in _entries(payload.get("failed")):
        index = entry.get("index")
        if type(index) is int and 0 <= index < count and index not in succeeded:
            answer.errors.setdefault(index, _classify(entry))
    for index in range(count):  # an event neither answered nor blamed was not published: never count it
        if index not in succeeded and index not in answer.errors:
            answer.errors[index] = ServerError(f"AppSync's answer has no result for event {index}")
    return answer


def _request_error(response: HttpResponse, payload: Any) -> PublishError | None:
    """The whole publish's failure when the status or the body says it failed as a whole."""
    status, hint = response.status, body_hint(response.body)
    failed = status_failure(response, "publish", _detail(payload))
    if failed is not None:
        return failed
    if status == 200 and not isinstance(payload, dict):
        return ServerError(f"AppSync answered HTTP 200 with a body that is not JSON{hint}")
    if status != 200:  # e.g. 400: a channel or an event it will not take; nothing was published
        detail = _detail(payload) or hint
        if _NO_NAMESPACE.search(detail):  # the API has no such namespace: a setting, not a record
            return SchemaMismatchError(
                f"AppSync rejected the publish: HTTP {status}{detail}: create the channel namespace on the "
                "Event API, or publish to one it has; the records are reported failed, never skipped or "
                "dead-lettered"
            )
        return ChannelEventError(f"AppSync rejected the publish: HTTP {status}{detail}")
    return None


def _entries(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _classify(entry: dict[str, Any]) -> PublishError:
    """A failed event's error, from its ``errorCode`` (a status like 400, or a name) and ``errorMessage``."""
    code = str(next((entry[k] for k in ("errorCode", "code", "errorType") if entry.get(k) is not None), ""))
    message = redact(str(entry.get("errorMessage") or entry.get("message") or "no message"))
    text = typed(code, message)
    kind = code.lower()
    if kind == "429" or "throttl" in kind or "toomanyrequests" in kind or "limitexceeded" in kind:
        return ThrottledError(f"AppSync throttled the event: {text}")
    if kind in ("401", "403") or "unauthorized" in kind or "accessdenied" in kind or "forbidden" in kind:
        return AuthorizationError(f"AppSync refused the event: {text}")
    if kind.startswith("5") or "internal" in kind or "serviceunavailable" in kind:
        return ServerError(f"AppSync failed the event: {text}")
    return ChannelEventError(f"AppSync rejected the event: {text}", code=code or None)


def _detail(payload: Any) -> str:
    """`` (code: message)`` from an error body (``errors`` list, or ``message``/``errorType`` fields)."""
    if not isinstance(payload, dict):
        return ""
    errors = payload.get("errors")
    error = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else payload
    kind = error.get("errorType") or error.get("code") or error.get("__type")
    message = error.get("message") or error.get("errorMessage") or error.get("Message")
    if message is None:
        return ""
    return f" ({typed(kind, redact(str(message)))})"
