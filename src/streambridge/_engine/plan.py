"""The pure core, part 1: records -> the user's mapping -> the target's items in per-key lanes.

No I/O here. A lane holds, in source order, the steps of one partition key; the publisher sends the head
of each lane and moves on only after it succeeded, which is what keeps a key's changes in order. What a
mapping result means (mutations, events) is the target's to say (``_targets``); this module only orders it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from streambridge._engine.result import Ledger
from streambridge._errors import (
    HeldBackError,
    MappingError,
    PayloadTooLargeError,
    StreambridgeError,
    can_dead_letter,
)
from streambridge._sources._base import SourceRecord

if TYPE_CHECKING:
    from streambridge._targets.base import Item, Target

logger = logging.getLogger("streambridge")


class _Value:
    """Repr and equality by slots, as a dataclass has; the subclass writes its own ``__init__``."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({values})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        names: tuple[str, ...] = self.__slots__
        return all(getattr(self, name) == getattr(other, name) for name in names)

    __hash__ = None  # type: ignore[assignment]  # equal by value, not frozen: unhashable, as a dataclass


# Steps are built for every record. Plain classes with slots and their own __init__ build as fast as a
# slots dataclass (~0.1 µs), a NamedTuple takes ~1.6x as long, a frozen dataclass ~4x; and the dataclasses
# module costs ~5 ms of import (it loads inspect).


class Step(_Value):
    """One step of a lane: a record's item, a skipped record, or one bound for the dead-letter sink.

    A skip has no item; a record whose mapping failed for good has no item and an ``error``.
    """

    __slots__ = ("record", "item", "last", "error")  # noqa: RUF023 - the repr's order

    def __init__(
        self,
        record: int,
        item: Item | None,
        last: bool,
        error: StreambridgeError | None = None,
    ) -> None:
        self.record = record
        self.item = item
        self.last = last
        """True on the record's last item: when it succeeds, the record is published."""
        self.error = error


class Lane:
    """The steps of one partition key, in source order."""

    __slots__ = ("culprit", "key", "queued", "solo", "steps")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.steps: deque[Step] = deque()
        self.solo = False
        """Send this lane's head alone: a batched request it was in failed as a whole."""
        self.culprit: SourceRecord | None = None
        """The record of this key that failed for good: no later record of the key is sent."""
        self.queued = False
        """The publisher holds this lane (ready or in flight); a lane it does not hold is offered again."""

    def hold_back(self, ledger: Ledger, culprit: SourceRecord) -> None:
        """Fail the remaining steps, and every later record of the key: ``culprit`` failed for good."""
        self.culprit = culprit
        while self.steps:
            step = self.steps.pop()
            ledger.fail(step.record, held_back(ledger.records[step.record], culprit))

    def fail_all(self, ledger: Ledger, error: StreambridgeError) -> None:
        """Fail every remaining step with the same cause (deadline, refused credentials)."""
        while self.steps:
            ledger.fail(self.steps.popleft().record, error)


def held_back(record: SourceRecord, culprit: SourceRecord) -> HeldBackError:
    return HeldBackError(
        f"{record.describe()}: not sent because {culprit.describe()} of the same partition key failed"
    )


class Planning(NamedTuple):
    """How records become lanes: where they go, and how they are ordered."""

    target: Target
    partition_key: Callable[[Any], Hashable] | None = None
    coalesce: bool = False


class Planner:
    """Runs the mapping function on records and groups the results into lanes, in source order.

    Records are planned all at once or slice by slice (each slice after the previous one), so that the
    publisher can send the first lanes' heads while later records are still being planned. A record
    whose mapping fails is failed in the ledger, and so is every later record of its key. With
    ``dead_letter`` (a sink is set), a failure no retry can cure becomes a step of its own, handed to the
    sink when it reaches the head of its lane, and the key goes on.
    """

    def __init__(
        self,
        records: Sequence[SourceRecord],
        mapper: Callable[[Any], Any],
        planning: Planning,
        ledger: Ledger,
        *,
        dead_letter: bool = False,
    ) -> None:
        self.records = records
        self.mapper = mapper
        self.planning = planning
        self.ledger = ledger
        self.dead_letter = dead_letter
        self.lanes: dict[Hashable, Lane] = {}
        self.planned = 0
        """How many of ``records`` are planned."""

    @property
    def done(self) -> bool:
        """True when every record is planned."""
        return self.planned >= len(self.records)

    def plan(self, until: float = math.inf) -> list[Lane]:
        """Plan the next records, all of them or until ``time.monotonic()`` passes ``until``.

        Returns the lanes that got new steps, in the order they first got one.
        """
        touched: dict[Lane, None] = {}
        records, position = self.records, self.planned
        while position < len(records):
            record = records[position]
            position += 1
            lane = self._plan_one(record)
            if lane is not None:
                touched[lane] = None
            if until != math.inf and time.monotonic() > until:
                break
        self.planned = position
        return list(touched)

    def abandon(self, error: StreambridgeError) -> None:
        """Fail the records not planned yet (the deadline came, or credentials were refused)."""
        for record in self.records[self.planned :]:
            self.ledger.fail(record.index, error)
        self.planned = len(self.records)

    def _plan_one(self, record: SourceRecord) -> Lane | None:
        """Plan one record; return its lane if it got a step."""
        index, ledger, planning = record.index, self.ledger, self.planning
        try:
            key = _partition_key(record, planning.partition_key)
        except StreambridgeError as error:
            if self.dead_letter and can_dead_letter(error):  # its key is unknown: a lane of its own
                alone = self.lanes[_Unordered(index)] = Lane(None)
                alone.steps.append(Step(index, None, last=True, error=error))
                return alone
            ledger.fail(index, error)
            return None
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = Lane(key)
        elif lane.culprit is not None:
            ledger.fail(index, held_back(record, lane.culprit))
            return None
        try:
            items = _items(record, self.mapper, planning.target)
        except StreambridgeError as error:
            _log_failure(error)
            if self.dead_letter and can_dead_letter(error):
                lane.steps.append(Step(index, None, last=True, error=error))
                return lane
            ledger.fail(index, error)
            lane.culprit = record
            return None
        if planning.coalesce:
            _coalesce(lane, ledger, record)
        _append(lane, index, items)
        return lane


def _append(lane: Lane, index: int, items: Sequence[Item]) -> None:
    if len(items) == 1:  # the common case first
        lane.steps.append(Step(index, items[0], last=True))
    elif not items:  # a skip: settled when it reaches the head of its lane
        lane.steps.append(Step(index, None, last=True))
    else:
        for position, item in enumerate(items, 1):
            lane.steps.append(Step(index, item, last=position == len(items)))


def _coalesce(lane: Lane, ledger: Ledger, newer: SourceRecord) -> None:
    """Only the latest change of a key is published; the earlier ones are skipped as superseded.

    A record bound for the dead-letter sink stays: its mapping failed, and that is reported, not hidden.
    """
    kept = [step for step in lane.steps if step.error is not None]
    for record in dict.fromkeys(step.record for step in lane.steps if step.error is None):
        ledger.skip(record, note=f"coalesced into {newer.describe()}")
    lane.steps.clear()
    lane.steps.extend(kept)


class _Unordered:
    """Key of a record with no ordering (standard SQS): equal only to itself."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _partition_key(record: SourceRecord, chooser: Callable[[Any], Hashable] | None) -> Hashable:
    if chooser is None:
        key = record.default_partition_key
    else:
        try:
            key = chooser(record)
        except Exception as error:
            raise MappingError(
                f"{record.describe()}: partition_key function raised {type(error).__name__}: {error}"
            ) from error
    if key is None:
        return _Unordered(record.index)
    try:
        hash(key)
    except TypeError:  # a dict or list: order by its canonical JSON text
        return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return key


def _items(record: SourceRecord, mapper: Callable[[Any], Any], target: Target) -> Sequence[Item]:
    """Run the mapping function on ``record``; the target says what its result means."""
    try:
        result = mapper(record)
    except StreambridgeError as error:  # e.g. a RecordError from a lazy property: names the record
        raise error.about(record) from None
    except Exception as error:
        raise MappingError(
            f"{record.describe()}: mapping function raised {type(error).__name__}: {error}"
        ) from error
    return target.prepare(record, result)


def _log_failure(error: StreambridgeError) -> None:
    if isinstance(error, PayloadTooLargeError):
        logger.error("streambridge: %s", error)
