"""The pure core, part 1: records -> the user's mapping -> planned mutations in per-key lanes.

No I/O here. A lane holds, in source order, the steps of one partition key; the publisher sends the head
of each lane and moves on only after it succeeded, which is what keeps a key's changes in order.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from streambridge._engine.result import Ledger
from streambridge._errors import (
    HeldBackError,
    MappingError,
    PayloadTooLargeError,
    StreambridgeError,
)
from streambridge._sources._base import SourceRecord
from streambridge._stores.deadletter import can_dead_letter
from streambridge._targets.graphql.document import CompiledDocument, compile_document

logger = logging.getLogger("streambridge")

MAX_SUBSCRIPTION_PAYLOAD = 240_000
"""AppSync silently drops a subscription message over 240 kB, so such a mutation is failed up front.

Whether AppSync's kB is 1,000 or 1,024 bytes is unknown (its quotas page says "240 kB"): the stricter
reading, so that no record passes this check only to be dropped by AppSync (or by LocalAppSync)."""


class Mutation(NamedTuple):
    """One GraphQL mutation to publish: a document with exactly one mutation operation, and its variables."""

    document: str
    variables: Mapping[str, Any] = MappingProxyType({})
    """The operation's variables by name; by default none (an empty, read-only mapping)."""


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


# PlannedMutation and Step are built for every record and never changed. Plain classes with slots and
# their own __init__ build as fast as a slots dataclass (~0.1 µs), a NamedTuple takes ~1.6x as long,
# a frozen dataclass ~4x; and the dataclasses module costs ~5 ms of import (it loads inspect).


class PlannedMutation(_Value):
    """A mutation ready to batch: compiled document, variables already serialized to JSON."""

    __slots__ = ("record", "document", "variables", "size")  # noqa: RUF023 - the repr's order

    def __init__(
        self, record: int, document: CompiledDocument, variables: tuple[tuple[str, str], ...], size: int
    ) -> None:
        self.record = record
        self.document = document
        self.variables = variables
        self.size = size
        """Bytes this mutation adds to a request (fields plus variables), an estimate good to a few bytes."""


class Step(_Value):
    """One step of a lane: a record's mutation, a skipped record, or one bound for the dead-letter sink.

    A skip has no mutation; a record whose mapping failed for good has no mutation and an ``error``.
    """

    __slots__ = ("record", "mutation", "last", "error")  # noqa: RUF023 - the repr's order

    def __init__(
        self,
        record: int,
        mutation: PlannedMutation | None,
        last: bool,
        error: StreambridgeError | None = None,
    ) -> None:
        self.record = record
        self.mutation = mutation
        self.last = last
        """True on the record's last mutation: when it succeeds, the record is published."""
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
    """How records become lanes."""

    document: str | None = None
    """The decorator's mutation: a mapping function may then return just the variables."""
    partition_key: Callable[[Any], Hashable] | None = None
    coalesce: bool = False
    max_payload_bytes: int = MAX_SUBSCRIPTION_PAYLOAD


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
            mutations = _planned_mutations(record, self.mapper, planning)
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
        _append(lane, index, mutations)
        return lane


def plan(
    records: Sequence[SourceRecord],
    mapper: Callable[[Any], Any],
    planning: Planning,
    ledger: Ledger,
    *,
    dead_letter: bool = False,
) -> list[Lane]:
    """Plan every record at once; return the lanes with steps, in the order their keys first appear."""
    return Planner(records, mapper, planning, ledger, dead_letter=dead_letter).plan()


def _append(lane: Lane, index: int, mutations: list[PlannedMutation]) -> None:
    if len(mutations) == 1:  # the common case first
        lane.steps.append(Step(index, mutations[0], last=True))
    elif not mutations:  # a skip: settled when it reaches the head of its lane
        lane.steps.append(Step(index, None, last=True))
    else:
        for position, mutation in enumerate(mutations, 1):
            lane.steps.append(Step(index, mutation, last=position == len(mutations)))


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


def _planned_mutations(
    record: SourceRecord, mapper: Callable[[Any], Any], planning: Planning
) -> list[PlannedMutation]:
    try:
        result = mapper(record)
    except StreambridgeError as error:  # e.g. a RecordError from a lazy property: names the record
        raise type(error)(f"{record.describe()}: {error}") from error
    except Exception as error:
        raise MappingError(
            f"{record.describe()}: mapping function raised {type(error).__name__}: {error}"
        ) from error
    if type(result) is dict and planning.document is not None:  # the usual case: the decorator's variables
        return [_prepare(record, planning.document, result, planning)]
    return [
        _prepare(record, m.document, m.variables, planning)
        for m in _as_mutations(record, result, planning.document)
    ]


def _as_mutations(record: SourceRecord, result: Any, document: str | None) -> list[Mutation]:
    if result is None:
        return []
    if isinstance(result, Mutation):
        return [result]
    if isinstance(result, Mapping):
        if document is None:
            raise MappingError(
                f"{record.describe()}: mapping function returned variables, but the decorator has no "
                "mutation document; pass one to the decorator or return Mutation(document, variables)"
            )
        return [Mutation(document, result)]
    if isinstance(result, (list, tuple)):
        return [m for item in result for m in _as_mutations(record, item, document)]
    raise MappingError(
        f"{record.describe()}: mapping function returned {type(result).__name__}; expected None (skip), "
        "a dict of variables, a Mutation, or a list of Mutations"
    )


def _prepare(
    record: SourceRecord, document: str, variables: Mapping[str, Any], planning: Planning
) -> PlannedMutation:
    try:
        compiled = compile_document(document)
    except StreambridgeError as error:
        raise type(error)(f"{record.describe()}: {error}") from error
    if type(variables) is not dict and not isinstance(variables, Mapping):
        raise MappingError(f"{record.describe()}: Mutation.variables must be a dict")
    defined = compiled.variable_names
    if not defined.issuperset(variables):
        unknown = [name for name in variables if name not in defined]
        raise MappingError(
            f"{record.describe()}: variables {sorted(unknown)} are not defined by the mutation "
            f"(it defines {sorted(defined) or 'none'})"
        )
    for name in compiled.required_names:
        if variables.get(name) is None:
            missing = [n for n in compiled.required_names if variables.get(n) is None]
            raise MappingError(f"{record.describe()}: required mutation variables missing or null: {missing}")
    texts: list[tuple[str, str]] = []
    payload = 0
    for name, value in variables.items():
        text = _to_json(record, name, value)
        payload += len(text) if text.isascii() else len(text.encode())
        texts.append((name, text))
    if payload > planning.max_payload_bytes:
        raise PayloadTooLargeError(
            f"{record.describe()}: mutation variables are {payload} bytes, over the "
            f"{planning.max_payload_bytes}-byte limit; AppSync would drop the subscription message "
            "silently, so the record is failed instead"
        )
    size = payload + compiled.fields_size + 24 * len(texts)
    return PlannedMutation(record.index, compiled, tuple(texts), size)


def _json_default(value: Any) -> Any:  # noqa: PLR0911 - one flat dispatch
    """Values a mapping function commonly returns that json does not know."""
    # Imported here, each just before its check (cold start counts; Decimal, boto3's numbers, comes first
    # and pays one cached import, not three).
    import decimal  # noqa: PLC0415

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    import datetime  # noqa: PLC0415

    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):  # as orjson writes them natively: both writers must agree
        return value.value
    if type(value).__module__ == "uuid":  # uuid.UUID, without importing uuid to check
        return str(value)
    if isinstance(value, Mapping):  # e.g. record.raw, a read-only view
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        import base64  # noqa: PLC0415

        return base64.b64encode(value).decode()
    msg = f"{type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


# Built once: json.dumps with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)


@functools.cache
def _fast_dumps() -> Callable[[Any], bytes]:
    """orjson, about 10x faster than json on a 1 KB item; imported on first use (it loads uuid)."""
    import orjson  # noqa: PLC0415 - lazy: cold start

    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # as json: via the default
    return functools.partial(orjson.dumps, default=_json_default, option=options)


def _to_json(record: SourceRecord, name: str, value: Any) -> str:
    try:
        text = _fast_dumps()(value)
    except TypeError:  # e.g. an int over 64 bits or a non-str key: json below writes it or says why
        pass
    else:
        if b"null" not in text:  # orjson writes NaN and infinity as null, which json refuses below
            return text.decode()
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as error:
        raise MappingError(
            f"{record.describe()}: variable {name!r} cannot be sent as JSON: {error}"
        ) from error


def _log_failure(error: StreambridgeError) -> None:
    if isinstance(error, PayloadTooLargeError):
        logger.error("streambridge: %s", error)
