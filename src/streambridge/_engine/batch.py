"""The pure core, part 2: lanes -> requests, bounded by count and bytes, one head per key by default.

A request takes the head of many lanes (at most ``per_key`` steps of each), in the order the lanes became
ready; the target renders it (``_targets``): for GraphQL, aliased top-level mutation fields, or the user's
own document when it carries one mutation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from streambridge._engine.lanes import Lane, Step
from streambridge._engine.result import Ledger

if TYPE_CHECKING:
    from streambridge._targets.base import Item, Target


LOOKAHEAD = 64
"""Ready lanes a request may pass over to find heads that share it (events of its channel): enough to group
a few dozen interleaved channels, bounded so that a request costs O(1) however many keys wait. Past it, the
ready lanes are put in order by channel once (``_group_by_shares``), and requests find them side by side."""

ENVELOPE = 64
"""Bytes of a request body beyond its items' sizes: a target counts all the rest in its items' sizes."""


class Limits(NamedTuple):
    """Bounds of one request."""

    max_mutations: int = 50
    max_bytes: int = 512 * 1024
    """Bytes of a request body; only an item alone may be larger."""
    per_key: int = 1
    """Mutations of one key per request. 1 keeps "a failed change is never overtaken" strict."""


class Request(NamedTuple):
    """One request: the steps it carries, in order, its body, and what the target reads its answer by."""

    entries: tuple[tuple[Lane, Step], ...]
    body: bytes
    keys: Any
    """The target's own (GraphQL: response key -> position in ``entries``)."""


def render(target: Target, entries: Sequence[tuple[Lane, Step]]) -> Request:
    """The request carrying ``entries`` (steps with an item), in this order."""
    # Positions must match ``entries``: the answer is read back by them. take_batch takes item steps only.
    rendered = target.render([cast("Item", step.item) for _, step in entries])
    return Request(tuple(entries), rendered.body, rendered.keys)


def take_batch(
    ready: deque[Lane], ledger: Ledger, limits: Limits, letters: list[tuple[Lane, Step]] | None = None
) -> list[tuple[Lane, list[Step]]]:
    """Take the heads of ready lanes for one request, front of the queue first; their lanes go in flight.

    Leading skip steps are settled on the way; a lane left empty leaves the queue and rests. A head bound
    for the dead-letter sink is taken into ``letters`` instead. A solo lane, or an item that cannot share
    a request, goes alone; items share a request only when their ``shares`` agree: lanes whose heads do
    not (another Event API channel) are passed over, up to ``LOOKAHEAD`` of them, and keep their place.
    Lanes left in ``ready`` keep their order.
    """
    batch: list[tuple[Lane, list[Step]]] = []
    passed: list[Lane] = []
    count = 0
    size = ENVELOPE
    shares: Hashable | None = None
    regrouped = False
    while ready and count < limits.max_mutations:
        if len(passed) == LOOKAHEAD:
            if regrouped:
                break
            # More channels interleave than the look-ahead spans: put the lanes in order by channel once,
            # this request's first (O(ready) now, then each request finds its channel's lanes in front).
            ready.extendleft(reversed(passed))
            passed.clear()
            _group_by_shares(ready, shares)
            regrouped = True
        lane = ready[0]
        lane.settle_skips(ledger)
        if not lane.steps:
            ready.popleft().rest()
            continue
        head = lane.steps[0].item
        if head is None:  # not a skip: a record for the dead-letter sink
            assert letters is not None  # noqa: S101 - such steps are only planned with a sink
            letters.append((lane, ready.popleft().take(1)[0]))
            continue
        alone = lane.solo or head.shares is None
        cost = head.size if count < 100 else _cost(head, count)
        if batch and size + cost > limits.max_bytes:
            break
        if batch and (alone or head.shares != shares):  # for a later request: the next may share
            passed.append(ready.popleft())
            continue
        shares = head.shares
        ready.popleft()
        taken = 0
        per_key = 1 if alone else limits.per_key
        for step in lane.steps:
            item = step.item
            # A skip or a dead-letter step behind a pending step settles only once that step succeeded.
            if taken == per_key or count == limits.max_mutations or item is None:
                break
            cost = item.size if count < 100 else _cost(item, count)
            if taken and (size + cost > limits.max_bytes or item.shares != shares):
                break
            taken += 1
            count += 1
            size += cost
        batch.append((lane, lane.take(taken)))
        if alone:
            break
    ready.extendleft(reversed(passed))
    return batch


def _group_by_shares(ready: deque[Lane], first: Hashable | None) -> None:
    """Order ``ready`` by what the lanes' heads share, ``first``'s lanes in front, then by first appearance.

    Lanes are different keys: their relative order is free, and within a group it is kept. A lane whose
    head shares nothing (it goes alone, or is a skip or a letter) is a group of its own.
    """
    groups: dict[Hashable, list[Lane]] = {first: []}
    for lane in ready:
        head = lane.steps[0].item if lane.steps else None
        shares = head.shares if head is not None and not lane.solo else None
        groups.setdefault(lane if shares is None else shares, []).append(lane)
    ready.clear()
    for group in groups.values():
        ready.extend(group)


def would_fill(ready: deque[Lane], limits: Limits) -> bool:
    """True when the ready lanes' heads would fill a request: ``max_mutations`` items that share the first's.

    While records are still being planned, a request waits until it can be full. Items are counted, not
    lanes: a lane gives up to ``per_key`` of its steps, so with a channel per key (a request takes one
    lane) a key's request waits for its later changes instead of leaving with the two already planned.
    For a target whose requests group by ``shares`` (an Event API channel), only lanes of the first one's
    count.
    """
    most, per_key = limits.max_mutations, limits.per_key
    if len(ready) * per_key < most:
        return False
    first: Hashable | None = None
    items = 0
    for position, lane in enumerate(ready):
        if position == LOOKAHEAD + most:
            return False
        head = lane.steps[0].item if lane.steps else None
        if head is None:  # a skip or a letter counts as one, as before: take_batch settles it
            items += 1
        else:
            if first is None:
                first = head.shares
            if head.shares != first:
                continue
            items += 1 if lane.solo or head.shares is None else _sharing(lane, per_key)
        if items >= most:
            return True
    return False


def _sharing(lane: Lane, per_key: int) -> int:
    """How many of ``lane``'s leading steps (``per_key`` at most) a request could take with its head."""
    shares = lane.steps[0].item.shares  # type: ignore[union-attr]  # the caller checked the head is an item
    taken = 0
    for step in lane.steps:
        if taken == per_key or step.item is None or step.item.shares != shares:
            break
        taken += 1
    return taken


def _cost(item: Item, position: int) -> int:
    """Bytes ``item`` adds at ``position`` (100 or more) in a request.

    Sizes hold for positions up to 99; an item that prints its position (a GraphQL alias, ``m120: ...``)
    says how many times in ``numbered``, each a byte longer per digit past the second.
    """
    numbered: int = getattr(item, "numbered", 0)  # not every target numbers its items
    return item.size + numbered * (len(str(position)) - 2)
