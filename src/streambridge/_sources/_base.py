"""What every source record view and every source has in common."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar, overload

_T = TypeVar("_T")


class cached(Generic[_T]):  # noqa: N801 - a decorator, named like property
    """A property computed on first access and kept: ``functools.cached_property`` without its lock.

    Python 3.10 and 3.11's takes a lock on every first access (0.6 µs against 0.2, twice per DynamoDB
    record); a record view is read by one thread, and a value computed twice would be the same.
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> _T | cached[_T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)  # found first from now on
        return value


class SourceRecord(ABC):
    """A thin, read-only view of one source record; properties decode lazily and cache."""

    source_title: ClassVar[str] = "source"

    def __init__(self, raw: Mapping[str, Any], index: int) -> None:
        self._raw = raw
        self._index = index

    @property
    def raw(self) -> Mapping[str, Any]:
        """The record exactly as Lambda delivered it (read-only)."""
        return (
            MappingProxyType(dict(self._raw))
            if not isinstance(self._raw, dict)
            else MappingProxyType(self._raw)
        )

    @property
    def index(self) -> int:
        """Position of the record in the Lambda event, from 0."""
        return self._index

    @property
    @abstractmethod
    def item_identifier(self) -> str:
        """The identifier Lambda expects in ``batchItemFailures`` (sequence number or message id)."""

    @property
    @abstractmethod
    def default_partition_key(self) -> Hashable | None:
        """The ordering key used when the decorator has no ``partition_key=``; None means unordered."""

    @property
    def ordering_group(self) -> Hashable | None:
        """A group the source keeps in order, which ``partition_key=`` cannot override; usually None.

        SQS FIFO's message group: Lambda's FIFO contract needs a group's later messages held back.
        """
        return None

    def _change_version(self) -> int | None:
        """The change's own version for ``Bridge(stale_guard=...)``: larger is newer; None: it has none."""
        return None

    def describe(self) -> str:
        """Name the record for logs and error messages, e.g. ``DynamoDB record #3 (seq 1200)``."""
        return f"{self.source_title} record #{self._index} ({self.item_identifier})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self._index} {self.item_identifier}>"


SourceName = Literal[
    "dynamodb", "kinesis", "kinesis_dynamodb", "sqs", "aurora", "cloudwatch_alarm", "eventbridge", "http"
]
"""Every source's short name, the name of its decorator (``Bridge.dynamodb``...)."""


Arrange = Callable[
    [Sequence[SourceRecord]], tuple[Sequence[SourceRecord], Sequence[tuple[SourceRecord, str]]]
]
"""A source's own order: records -> (the order to plan them in, records to skip with a note); every
record is in exactly one of the two."""


class Source(NamedTuple):
    """How to read one kind of Lambda event."""

    name: SourceName
    """Short name, the decorator's name: ``dynamodb``, ``kinesis``..."""
    title: str
    """Human name for messages: ``DynamoDB Streams``."""
    batch: bool
    """True: several records, each its own outcome (``batchItemFailures``; an HTTP request's items, an
    HTTP response). False: a single event, failures raise."""
    parse: Callable[[Any], Sequence[SourceRecord]]
    """Event (an object; a pipe's array for batches) -> record views. EventShapeError when it is wrong."""
    arrange: Arrange | None = None
    """Records in arrival order -> (the order to plan them in, records to skip with a note); None: plan them
    as they came. For a source whose arrival order is not its order (Kinesis Data Streams for DynamoDB)."""


class MutationOf(SourceRecord):
    """One mutation of a single event (Aurora, alarm, EventBridge) whose mapping returned several.

    Each gets an outcome of its own, in order under the event's key, so that the result counts the
    event's mutations: how many were published, and which failed.
    """

    def __init__(self, event: SourceRecord, mutation: Any, position: int, count: int, key: Hashable) -> None:
        super().__init__({}, position)
        self.event = event
        """The event, as the mapping function saw it."""
        self.mutation = mutation
        """What the mapping function returned for this mutation (a ``Mutation`` or variables)."""
        self.position = position
        """From 0, in the order the mapping function returned them."""
        self.count = count
        """How many mutations the event's mapping returned."""
        self._key = key

    @property
    def raw(self) -> Any:
        """The event exactly as delivered."""
        return self.event.raw

    @property
    def item_identifier(self) -> str:
        """The event's."""
        return self.event.item_identifier

    @property
    def default_partition_key(self) -> Hashable:
        """The event's key (never None: the event's mutations go out in order)."""
        return self._key

    def _change_version(self) -> int | None:
        """The event's: its mutations are one change."""
        return self.event._change_version()

    def describe(self) -> str:
        """E.g. ``Aurora record #0 (aurora-event), mutation 2 of 3``."""
        return f"{self.event.describe()}, mutation {self.position + 1} of {self.count}"
