"""Lanes: the steps of one partition key, in source order, and where the publisher stands with them.

A lane's life, every transition a method of ``Lane`` named for what happens:

    IDLE --offer--> READY --take--> IN_FLIGHT --succeed--> READY, or IDLE when nothing is left
      ^               |               |  |  '--retry----> IN_FLIGHT (only the step to try again)
      '------rest-----'               |  '--give_back---> READY (a batch failed as a whole: alone next)
                                      '--fail_for_good--> BROKEN (the later steps held back; for good)

A lane is READY exactly while it waits in the publisher's ready queue: the transitions that make it ready
put it there, ``take_batch`` takes it out. Only an IN_FLIGHT lane has steps in ``flight``, held by one
request (or by the dead-letter sink); the next step of its key waits until they are settled, which is what
keeps a key's changes in order, retries included. Apart from these states, ``refuse_after`` closes a lane
behind a record whose mapping failed: records of the key planned later are held back, while the steps
planned before it still go.

Pure: no I/O. A ``Step`` is built for every record and a lane's transitions run for every request: plain
classes with slots, no dataclass (the module costs ~5 ms of import, and builds slower).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from streambridge._errors import HeldBackError, StreambridgeError

if TYPE_CHECKING:
    from streambridge._engine.result import Ledger
    from streambridge._sources._base import SourceRecord
    from streambridge._targets.base import Item


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


class LaneState(enum.Enum):
    """Where the publisher stands with a lane."""

    IDLE = "idle"
    """The publisher does not hold it: no steps, or new steps not offered yet."""
    READY = "ready"
    """In the ready queue: its head may go out in the next request."""
    IN_FLIGHT = "in flight"
    """A request, or the dead-letter sink, holds its steps in ``flight``."""
    BROKEN = "broken"
    """A step failed for good: the later steps of the key were held back, and none will be sent."""


IDLE, READY, IN_FLIGHT, BROKEN = LaneState  # module names: no class attribute lookup on the hot path


def held_back(record: SourceRecord, culprit: SourceRecord, *, sent: bool = False) -> HeldBackError:
    """The failure of ``record``, behind ``culprit`` of its key, which failed for good.

    ``sent``: it went out in the request with ``culprit`` (packing), so it may have run.
    """
    what = "reported failed" if sent else "not sent"
    return HeldBackError(
        f"{record.describe()}: {what} because {culprit.describe()} of the same partition key failed"
    )


class Lane:
    """The steps of one partition key, in source order, and the lane's state (see the module)."""

    __slots__ = ("culprit", "flight", "key", "solo", "state", "steps")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.steps: deque[Step] = deque()
        """The steps not sent yet, in source order."""
        self.state = IDLE
        self.flight: Sequence[Step] = ()
        """The steps a request (or the dead-letter sink) holds, while IN_FLIGHT; else an empty tuple (no list
        made per request: the garbage collector would have more to walk)."""
        self.solo = False
        """Send the head alone: a batched request it was in failed as a whole (cleared by a success)."""
        self.culprit: SourceRecord | None = None
        """The record of this key that failed for good: no record of the key planned later is sent."""

    def __repr__(self) -> str:
        return f"Lane({self.key!r}, {self.state.name}, steps={len(self.steps)}, flight={len(self.flight)})"

    # -- planning -------------------------------------------------------------------------------------

    def plan(self, step: Step) -> None:
        """Queue ``step`` after the others (an idle lane waits until it is offered)."""
        self.steps.append(step)

    def refuse_after(self, culprit: SourceRecord) -> None:
        """``culprit``'s mapping failed for good: records of the key planned from now on are held back.

        The steps planned before it still go; the lane's state does not change.
        """
        self.culprit = culprit

    def supersede(self, ledger: Ledger, note: str) -> None:
        """Skip the records waiting in the lane, superseded by a newer change (coalescing).

        A step bound for the dead-letter sink stays: its mapping failed, and that is reported, not hidden.
        Coalescing plans every record before the first request, so no step of the lane is in flight yet.
        """
        kept = [step for step in self.steps if step.error is not None]
        for record in dict.fromkeys(step.record for step in self.steps if step.error is None):
            ledger.skip(record, note=note)
        self.steps.clear()
        self.steps.extend(kept)

    # -- dispatching ----------------------------------------------------------------------------------

    def offer(self, ready: deque[Lane]) -> None:
        """IDLE -> READY, into ``ready``, when it has steps; a lane held already stays where it is."""
        if self.state is IDLE and self.steps:
            self.state = READY
            ready.append(self)

    def settle_skips(self, ledger: Ledger) -> None:
        """Settle the skipped records at the head: nothing to send for them."""
        steps = self.steps
        while steps and steps[0].item is None and steps[0].error is None:
            ledger.skip(steps.popleft().record)

    def rest(self) -> None:
        """READY -> IDLE: it left the ready queue with nothing to send (new steps offer it again)."""
        self.state = IDLE

    def take(self, count: int) -> list[Step]:
        """READY -> IN_FLIGHT: the first ``count`` steps go out, in a request or to the dead-letter sink."""
        popleft = self.steps.popleft
        taken = [popleft() for _ in range(count)]
        self.flight = taken
        self.state = IN_FLIGHT
        return taken

    def succeed(self, ready: deque[Lane], dead_lettered: int | None = None) -> None:
        """IN_FLIGHT -> READY (into ``ready``) or IDLE: the steps in flight are settled, the key goes on.

        ``dead_lettered``: a record handed whole to the dead-letter sink; its steps not sent yet are dropped.
        """
        steps = self.steps
        while dead_lettered is not None and steps and steps[0].record == dead_lettered:
            steps.popleft()
        self.flight = ()
        self.solo = False
        if steps:
            self.state = READY
            ready.append(self)
        else:
            self.state = IDLE

    def retry(self, step: Step) -> None:
        """IN_FLIGHT stays: ``step``, the last in flight, is to be tried again; the ones before it settled."""
        self.flight = (step,)

    def give_back(self, ready: deque[Lane], *, alone: bool) -> None:
        """IN_FLIGHT -> READY (into ``ready``): the steps in flight go back to the head, unsettled.

        ``alone``: the head goes in a request of its own next (a batch it was in failed as a whole).
        """
        self.steps.extendleft(reversed(self.flight))
        self.flight = ()
        self.solo = alone
        self.state = READY
        ready.append(self)

    def holds(self, step: Step) -> bool:
        """True while ``step`` is in flight and not settled."""
        return self.state is IN_FLIGHT and any(held is step for held in self.flight)

    def fail_for_good(self, ledger: Ledger, culprit: SourceRecord) -> None:
        """-> BROKEN: ``culprit`` failed for good; every later step of the key is held back, never sent."""
        self.culprit = culprit
        self.flight = ()
        self.state = BROKEN
        records = ledger.records
        while self.steps:
            step = self.steps.popleft()
            ledger.fail(step.record, held_back(records[step.record], culprit))

    def abandon(self, ledger: Ledger, error: StreambridgeError) -> None:
        """The run ends (the deadline, refused credentials): the steps never sent fail with ``error``."""
        while self.steps:
            ledger.fail(self.steps.popleft().record, error)
