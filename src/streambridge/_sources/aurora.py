"""Payloads sent by Aurora / RDS: MySQL ``lambda_sync``/``lambda_async``, PostgreSQL ``aws_lambda.invoke``.

The database sends whatever JSON the SQL statement built (an object, an array or a scalar), with no
envelope, so there is one record per invocation and no identifier of AWS's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from streambridge._errors import EventShapeError, RecordError
from streambridge._sources._base import Source, SourceRecord
from streambridge._sources._common import aws_service_event

__all__ = ["SOURCE", "AuroraEvent", "parse"]

_IDENTIFIER = "aurora-event"


class AuroraEvent(SourceRecord):
    """The JSON payload of one invocation from an Aurora MySQL or PostgreSQL statement."""

    source_title: ClassVar[str] = "Aurora"

    def __init__(self, payload: Any, index: int = 0) -> None:
        # Unlike other sources the payload may be a list or a scalar; the base class only stores it.
        super().__init__(payload, index)
        self._payload = payload

    @property
    def raw(self) -> Any:  # the payload need not be an object
        """The payload exactly as delivered: read-only when it is an object, else the value itself."""
        payload = self._payload
        return MappingProxyType(payload) if isinstance(payload, dict) else payload

    @property
    def item_identifier(self) -> str:
        """Always ``aurora-event``: the database sends no id, and a failure raises for the whole call."""
        return _IDENTIFIER

    @property
    def default_partition_key(self) -> None:
        """None: one invocation carries one payload, so there is nothing to order."""
        return None

    @property
    def payload(self) -> Any:
        """The JSON value the SQL statement sent (object, array, string, number, boolean or null).

        Plain JSON types, ready to go into mutation variables; treat it as read-only.
        """
        return self._payload

    def get(self, key: str, default: Any = None) -> Any:
        """``payload.get(key, default)`` for object payloads; RecordError for arrays and scalars."""
        if not isinstance(self._payload, Mapping):
            raise RecordError(
                f"{self.describe()}: the payload is a JSON {type(self._payload).__name__}, not an object, "
                f"so it has no key {key!r}; use .payload"
            )
        return self._payload.get(key, default)


def parse(event: Any) -> list[AuroraEvent]:
    """One record holding the whole payload. Events an AWS service produced are refused."""
    service_event = aws_service_event(event)
    if service_event is not None:
        raise EventShapeError(
            f"aurora handler received {service_event}, not a payload from an Aurora/RDS database "
            "(lambda_sync, lambda_async or aws_lambda.invoke); check the function's trigger"
        )
    return [AuroraEvent(event, 0)]


SOURCE = Source(name="aurora", title="Aurora / RDS", batch=False, parse=parse)
