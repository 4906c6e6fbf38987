"""EventBridge (CloudWatch Events) events delivered to a rule's Lambda target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from streambridge._errors import EventShapeError
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import describe_event, field, iso_time, optional_field, time_version

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SOURCE", "EventBridgeEvent", "parse"]

_HANDLER = "eventbridge"


class EventBridgeEvent(SourceRecord):
    """One EventBridge event: ``source`` and ``detail-type`` say what happened, ``detail`` the facts."""

    source_title: ClassVar[str] = "EventBridge"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        event_id, source, detail_type = raw.get("id"), raw.get("source"), raw.get("detail-type")
        if not (
            isinstance(event_id, str)
            and event_id
            and isinstance(source, str)
            and isinstance(detail_type, str)
        ):
            raise EventShapeError(
                f"{_HANDLER} handler received {describe_event(raw)}, not an EventBridge event "
                "(needs id, source and detail-type); check the rule target or trigger"
            )
        self._id, self._source, self._detail_type = event_id, source, detail_type

    @property
    def item_identifier(self) -> str:
        """The event id EventBridge assigned."""
        return self._id

    @property
    def default_partition_key(self) -> tuple[str, str]:
        """``(source, detail_type)``: events of one kind stay in order."""
        return (self._source, self._detail_type)

    @property
    def id(self) -> str:
        """The event id, unique per event (``id``)."""
        return self._id

    @property
    def source(self) -> str:
        """Who emitted the event, e.g. ``aws.events`` or ``com.example.orders`` (``source``)."""
        return self._source

    @property
    def detail_type(self) -> str:
        """What kind of event this is, e.g. ``Scheduled Event`` (``detail-type``)."""
        return self._detail_type

    @property
    def detail(self) -> dict[str, Any]:
        """The event's payload (``detail``); plain JSON types, treat it as read-only."""
        return field(self._raw, "detail", dict, self, "detail")

    @cached
    def time(self) -> datetime:
        """When the event happened (``time``), timezone-aware."""
        return iso_time(self._raw.get("time"), self, "time")

    def _change_version(self) -> int:
        """The event's ``time`` in microseconds (EventBridge writes whole seconds: one second's are equal)."""
        return time_version(self.time)

    @property
    def resources(self) -> list[str]:
        """ARNs of the resources involved (``resources``); empty when absent."""
        if self._raw.get("resources") is None:
            return []
        return field(self._raw, "resources", list, self, "resources")

    @property
    def account(self) -> str:
        """The AWS account the event came from (``account``)."""
        return field(self._raw, "account", str, self, "account")

    @property
    def region(self) -> str:
        """The region the event came from (``region``)."""
        return field(self._raw, "region", str, self, "region")

    @property
    def version(self) -> str | None:
        """The envelope version, ``0`` today (``version``); None when absent, as in some test events."""
        return optional_field(self._raw, "version", str, self, "version")


def parse(event: Any) -> list[EventBridgeEvent]:
    """One record per invocation: EventBridge invokes its Lambda target with one event."""
    if not isinstance(event, Mapping):
        raise EventShapeError(
            f"{_HANDLER} handler received {describe_event(event)}, not an EventBridge event"
        )
    return [EventBridgeEvent(event, 0)]


SOURCE = Source(name="eventbridge", title="EventBridge", batch=False, parse=parse)
