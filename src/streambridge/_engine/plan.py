"""The pure core, part 1: records -> the user's mapping -> the target's items in per-key lanes.

No I/O here. A lane (``lanes``) holds, in source order, the steps of one partition key; the publisher sends
the head of each lane and moves on only after it succeeded, which is what keeps a key's changes in order.
What a mapping result means (mutations, events) is the target's to say (``_targets``); this module only
orders it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from streambridge._engine.lanes import Lane, Step, held_back
from streambridge._engine.result import Ledger
from streambridge._errors import MappingError, PayloadTooLargeError, StreambridgeError, can_dead_letter, said
from streambridge._sources._base import SourceRecord

if TYPE_CHECKING:
    from streambridge._targets.base import Item, Target

logger = logging.getLogger("streambridge")


COALESCED = "coalesced into "
"""How the note of a record skipped for a later change of its key (coalescing) begins."""


class Planning(NamedTuple):
    """How records become lanes: where they go, and how they are ordered."""

    target: Target
    partition_key: Callable[[Any], Hashable] | None = None
    """The user's ordering key, for records that name no ``ordering_group`` of their own (SQS FIFO)."""
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
            key = partition_key_of(record, planning.partition_key)
        except StreambridgeError as error:
            if self.dead_letter and can_dead_letter(error):  # its key is unknown: a lane of its own
                alone = self.lanes[Unordered(index)] = Lane(None)
                alone.plan(Step(index, None, last=True, error=error))
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
                lane.plan(Step(index, None, last=True, error=error))
                return lane
            ledger.fail(index, error)
            lane.refuse_after(record)
            return None
        if planning.coalesce and items:  # only the latest change that publishes: a skip replaces nothing
            lane.supersede(ledger, note=f"{COALESCED}{record.describe()}")
        _append(lane, index, items)
        return lane


def _append(lane: Lane, index: int, items: Sequence[Item]) -> None:
    if len(items) == 1:  # the common case first
        lane.plan(Step(index, items[0], last=True))
    elif not items:  # a skip: settled when it reaches the head of its lane
        lane.plan(Step(index, None, last=True))
    else:
        for position, item in enumerate(items, 1):
            lane.plan(Step(index, item, last=position == len(items)))


class Unordered:
    """Key of a record with no ordering (standard SQS): equal only to itself."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def partition_key_of(record: SourceRecord, chooser: Callable[[Any], Hashable] | None) -> Hashable:
    # A record that names its own ordering group (an SQS FIFO message group) is ordered by it: the source
    # guarantees order per group only, so ``partition_key=`` applies to records without one.
    group = record.ordering_group
    if group is not None:
        return group
    if chooser is None:
        key = record.default_partition_key
    else:
        try:
            key = chooser(record)
        except Exception as error:
            kind = getattr(record, "event_name", None)  # e.g. a REMOVE record has no new image
            raise MappingError(
                f"{record.describe()}{f' ({kind} event)' if kind else ''}: partition_key function raised "
                f"{said(error)}"
            ) from error
    if key is None:
        return Unordered(record.index)
    try:
        hash(key)
    except TypeError:  # a dict or list: order by its canonical JSON text
        try:
            return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
        except (TypeError, ValueError, RecursionError) as error:  # keys of mixed types cannot be sorted
            raise MappingError(
                f"{record.describe()}: partition_key function returned {type(key).__name__} that cannot be "
                f"an ordering key ({said(error)}); return a str, a number or a tuple"
            ) from error
    return key


def _items(record: SourceRecord, mapper: Callable[[Any], Any], target: Target) -> Sequence[Item]:
    """Run the mapping function on ``record``; the target says what its result means."""
    try:
        result = mapper(record)
    except StreambridgeError as error:  # e.g. a RecordError from a lazy property: names the record
        raise error.about(record) from None
    except Exception as error:
        raise MappingError(f"{record.describe()}: mapping function raised {said(error)}") from error
    try:
        return target.prepare(record, result)
    except StreambridgeError as error:
        raise error.about(record) from None
    except Exception as error:  # e.g. Decimal('Infinity'): one bad result must not fail the invocation
        raise MappingError(
            f"{record.describe()}: the mapping function's result cannot be published: {said(error)}"
        ) from error


def _log_failure(error: StreambridgeError) -> None:
    if isinstance(error, PayloadTooLargeError):
        logger.error("streambridge: %s", error)
