"""The guarantees, checked by a model: warm invocations of real handlers against model endpoints and stores.

A hypothesis ``RuleBasedStateMachine`` builds one world (a target: GraphQL mutations or Event API channels;
a source: DynamoDB, Kinesis, SQS standard or FIFO, Aurora, a CloudWatch alarm, EventBridge; an auth; the
batching, poison and store settings) and drives a sequence of WARM invocations of one decorated handler
(one ``Bridge``, one event loop: the way Lambda reuses a container), on virtual time, against:

- a model endpoint (``model_endpoint.py``) answering each request with something AppSync answers, and
  keeping the ground truth of what RAN (the side effect happened, subscribers were notified);
- store models (``model_stores.py``): the dead-letter queue as SQS documents it (FIFO dedup window, id
  length and characters, 10 entries and 1 MiB per SendMessageBatch), the idempotency table and the stale
  guard's version table as DynamoDB does (unprocessed keys and items when throttled, conditional writes);
  why not moto is said there;
- user callables that raise: the mapping function, ``partition_key=``, ``version=``, the ``TokenAuth``
  token provider, the channel function.

Between invocations the test re-delivers like Lambda: a stream (DynamoDB, Kinesis) from its lowest failed
sequence number on, SQS the failed messages, a single event (Aurora, alarm, EventBridge) that raised up to
twice more, before or after newer events (Lambda's asynchronous queue keeps no order). With the stale guard
on (``World.guard``: the sources' own versions, or a ``version=`` function), some changes come late (older
than one sent before them), and an EventBridge event's version is its time in whole seconds, so two changes
can share one. After every invocation it checks (``_check_*``):

1. each record has exactly one outcome; a failed one has its error;
2. ``batchItemFailures`` is exactly the failed records, never an empty identifier; a single event raises
   ``DeliveryFailedError`` exactly when one of its records failed;
3. nothing the endpoint showed as RAN is sent again in the invocation, reported anything but published
   (packing aside), or dead-lettered; a record reported published ran; a record published and remembered by
   the idempotency store is not sent again by a later invocation;
4. every record reported dead-lettered is a distinct message in the queue model; only a record that is
   poison (its mapping, key or channel raised; its payload too large; the API refused it for good) is
   dead-lettered or set aside;
5. subscribers (the endpoint's run log) see each key's changes in source order across invocations (the
   first run of each change; re-delivery replays);
6. no request starts after the Lambda deadline, none belongs to an earlier invocation, and the invocation
   returns before the deadline (virtual time);
7. no secret (API key, token, secret access key, session token, signature) in a log line, an exception, a
   metric line (``metrics=True``, stdout) or a trace (``tracing=`` a callable);
8. a calm invocation (``per_key=1``, 60 s, at most three transient faults, none of them a timeout, at most
   one token refresh failure, healthy stores) fails no record but a poison one (``poison="report"``) and those
   held back behind it;
9. with the stale guard: no change of a key runs that is older than the key's stored version when the
   invocation began (so subscribers never get a change older than one published and remembered by an
   earlier invocation); a change skipped as stale is strictly older than that version (equal is not
   stale); when the version table was healthy, it holds for each key at least the newest version reported
   published, and only versions that were; when it could not be read, no guarded change ran or was
   skipped as stale.

Two seams keep examples deterministic: ``Bridge._in_thread`` runs the store models on the loop's thread and
charges their ``delay`` in virtual time (a real thread's answer would race the virtual clock), and
``SLICE_SECONDS`` is fixed (planning slices measured on the real clock would differ from run to run).

Known bugs being fixed (issue 18) are narrowed out by ``KNOWN_OPEN``, so that the rest of the state space
keeps being explored; empty it once they are fixed (one line).

Profiles: ``make test`` runs the ``default`` below (about 30 s on two cores);
``STREAMBRIDGE_MODEL_PROFILE=long`` runs many more and longer sequences (``=ci`` is the default's size,
derandomized; ``=explore`` skips shrinking); ``STREAMBRIDGE_MODEL_EXAMPLES=N`` sets the number of sequences.
The planted-bug proofs (``test_the_model_catches_*``) run only with ``STREAMBRIDGE_MODEL_PLANTED=1``: each
puts a finding of issue 18 back with a monkeypatch and expects the machine to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
import math
import os
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from streambridge import (
    ApiKeyAuth,
    Bridge,
    DeliveryFailedError,
    DynamoDBIdempotencyStore,
    DynamoDBVersionStore,
    HeldBackError,
    IAMAuth,
    InvocationResult,
    Mutation,
    SQSDeadLetterQueue,
    Status,
    TokenAuth,
)
from streambridge.testing import VirtualTimeLoop, events, lambda_context
from streambridge.testing.events import KinesisInput, SQSInput

from .model_endpoint import FOR_GOOD_TYPES, THROTTLING_TYPES, Answer, ModelAppSync, ModelEventApi
from .model_stores import DynamoDBModel, SQSModel, VersionTableModel

KNOWN_OPEN: frozenset[str] = frozenset()
KNOWN_OPEN |= set(os.environ.get("STREAMBRIDGE_MODEL_KNOWN_OPEN", "").split(",")) - {
    ""
}  # to explore old code
"""Findings of issue 18 still open, each narrowing what the model draws; empty once they are fixed:
``data_and_errors`` (1: data and an error on one field, an error below a field), ``fifo_dedup`` (2: a FIFO
dead-letter queue), ``dlq_batch_bytes`` (3: large dead letters), ``wrong_endpoint`` (4: 404/405),
``probe_raises`` (5: a token provider that raises), ``echoed_headers`` (10: an answer quoting the request's
auth headers)."""

GRAPHQL_URL = "https://model123.appsync-api.us-east-1.amazonaws.com/graphql"
EVENT_URL = "https://model123.appsync-api.us-east-1.amazonaws.com/event"
DOCUMENT = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { rid part key } }"
API_KEY = "da2-modelsecretapikey0123456789ab"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYMODELSECRET"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEMODELSESSIONTOKEN0123456789"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/streambridge-dead-letters"
STREAMS = ("dynamodb", "kinesis", "sqs", "sqs_fifo")
SINGLE = ("aurora", "alarm", "eventbridge")
ORDERED = ("dynamodb", "kinesis", "sqs_fifo")
"""Sources whose records of a key come in order (standard SQS: none; single events: Lambda's own retries)."""
POISON = frozenset(
    ("raise", "poison", "oversize", "key_raises", "channel_raises", "pair_poison", "version_raises")
)
"""Behaviours no retry cures: the mapping, ``partition_key``, ``version`` or channel function raises; the API
refuses it; the payload is over 240 KB."""
BIG = 120_000
"""Bytes of a big record: a dead letter holds the record, nine are over SendMessageBatch's 1 MiB."""
MOST_PENDING = 16


# -- the world and the steps --------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What stays the same across the invocations: the function as deployed."""

    target: str
    source: str
    auth: str
    batch_size: int
    per_key: int
    concurrency: int
    poison: str
    fifo_queue: bool
    idempotency: bool
    metrics: bool
    partition_key: bool
    channel: str
    sliced: bool
    """Plan one record at a time between requests (else all at once); never by the real clock."""
    guard: str = "off"
    """The stale guard: ``off``, ``own`` (each source's own version) or ``function`` (``version=``)."""


@st.composite
def worlds(draw: st.DrawFn) -> World:
    target = draw(st.sampled_from(["graphql", "channels"]))
    poison = draw(st.sampled_from(["report", "skip", "dead-letter", "dead-letter"]))  # the queue's rules
    source = draw(st.sampled_from(STREAMS + SINGLE))
    partition_key = draw(st.booleans())
    guard = draw(st.sampled_from(["off", "off", "own", "function"]))
    if guard != "off" and source in ("aurora", "eventbridge"):
        partition_key = True  # what the guard needs there (refused at cold start otherwise)
    if guard == "own" and (source == "aurora" or (source in ("dynamodb", "kinesis") and partition_key)):
        guard = "function"  # Aurora has no version of its own; a user's key may span shards
    return World(
        target=target,
        source=source,
        auth=draw(st.sampled_from(["api_key", "token", "iam"])),
        batch_size=draw(st.sampled_from([1, 5, 50])),
        per_key=draw(st.sampled_from([1, 1, 3])),
        concurrency=draw(st.sampled_from([1, 4])),
        poison=poison,
        fifo_queue=poison == "dead-letter" and "fifo_dedup" not in KNOWN_OPEN and draw(st.integers(0, 2)) > 0,
        idempotency=draw(st.booleans()),
        metrics=draw(st.booleans()),
        partition_key=partition_key,
        channel="none" if target == "graphql" else draw(st.sampled_from(["fixed", "function"])),
        sliced=draw(st.booleans()),
        guard=guard,
    )


def behaviours(world: World) -> st.SearchStrategy[str]:
    rare = ["skip", "pair", "raise", "poison", "oversize", "pair_poison"]
    if world.partition_key:
        rare.append("key_raises")
    if world.channel == "function":
        rare.append("channel_raises")
    if world.guard == "function":
        rare.append("version_raises")
    late = world.guard == "function" or (world.guard == "own" and world.source in ("alarm", "eventbridge"))
    common = [st.just("ok")] * 3 + ([st.just("late")] if late else [])  # late: older than one sent before
    return st.one_of(*common, st.sampled_from(rare))


_HTTP = [400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504]


def answers(world: World) -> st.SearchStrategy[Answer]:
    statuses = [s for s in _HTTP if not ("wrong_endpoint" in KNOWN_OPEN and s in (404, 405))]
    common = [
        st.just(Answer("ok")),
        st.builds(
            Answer,
            st.just("http"),
            status=st.sampled_from(statuses),
            retry_after=st.sampled_from([None, None, "0", "1", "3"]),
            echo=st.just(False) if "echoed_headers" in KNOWN_OPEN else st.booleans(),
        ),
        st.sampled_from(
            [Answer("reset_before"), Answer("reset_after"), Answer("timeout"), Answer("garbage")]
        ),
        st.builds(Answer, st.just("slow"), latency=st.sampled_from([0.5, 3.0, 12.0])),
    ]
    if world.target == "channels":
        return st.one_of(
            *common,
            st.builds(
                Answer,
                st.just("failed"),
                mask=st.integers(0, 31),
                code=st.sampled_from([400, 429, 500]),
                swift=st.booleans(),
            ),
            st.builds(Answer, st.just("omitted"), mask=st.integers(0, 31)),
        )
    types = st.sampled_from(THROTTLING_TYPES + FOR_GOOD_TYPES)
    graphql = [
        st.builds(
            Answer, st.sampled_from(["field_error", "null_data"]), field=st.integers(0, 9), error_type=types
        ),
        st.sampled_from([Answer("pathless"), Answer("rejected")]),
    ]
    if "data_and_errors" not in KNOWN_OPEN:
        graphql.append(
            st.builds(
                Answer,
                st.sampled_from(["data_and_errors", "below"]),
                field=st.integers(0, 9),
                error_type=types,
                null_parent=st.booleans(),
            )
        )
    return st.one_of(*common, *graphql)


@dataclass(frozen=True)
class Step:
    """One invocation: new records, the endpoint's answers, the time, the stores' and callables' faults."""

    new: list[tuple[int, str]]
    answers: list[Answer]
    timeout_ms: int
    big: bool
    token_raises: frozenset[int]
    queue_fault: str | None
    queue_delay: float
    table_fault: str | None
    table_delay: float
    gap: float
    versions_fault: str | None = None
    versions_delay: float = 0.0
    retry_first: bool = True
    """A single event: Lambda retries a pending event before the next new one (else after it)."""


@functools.cache
def steps(world: World) -> st.SearchStrategy[Step]:
    """The steps of a world (built once per world: building strategies costs)."""
    return _steps(world)


@st.composite
def _steps(draw: st.DrawFn, world: World) -> Step:
    single = world.source in SINGLE
    big = not single and "dlq_batch_bytes" not in KNOWN_OPEN and draw(st.integers(0, 4)) == 0
    if big:  # a storm of large poison records: their letters fill SendMessageBatch's 1 MiB
        new = draw(
            st.lists(
                st.tuples(st.integers(0, 11), st.sampled_from(["raise", "raise", "poison", "ok"])),
                min_size=6,
                max_size=12,
            )
        )  # fmt: skip (many keys: many letters at once)
    else:
        new = draw(st.lists(st.tuples(st.integers(0, 3), behaviours(world)), min_size=1 if single else 0,
                            max_size=1 if single else 8))  # fmt: skip
    return Step(
        new=new,
        answers=draw(st.lists(answers(world), max_size=6)),
        timeout_ms=draw(st.sampled_from([60_000, 60_000, 60_000, 8_000, 1_500])),
        big=big,
        token_raises=frozenset()
        if world.auth != "token" or "probe_raises" in KNOWN_OPEN
        else draw(st.frozensets(st.integers(1, 6), max_size=2)),
        queue_fault=draw(st.sampled_from([None, None, None, "unreachable", "throttled", "partial"])),
        queue_delay=draw(st.sampled_from([0.0, 0.0, 0.0, 0.2, 40.0])),
        table_fault=draw(st.sampled_from([None, None, None, "unreachable", "throttled"])),
        table_delay=draw(st.sampled_from([0.0, 0.0, 0.0, 0.2, 40.0])),
        gap=draw(st.sampled_from([1.0, 30.0, 400.0])),
        versions_fault=None
        if world.guard == "off"
        else draw(st.sampled_from([None, None, None, None, "unreachable", "throttled"])),
        versions_delay=0.0 if world.guard == "off" else draw(st.sampled_from([0.0, 0.0, 0.0, 0.2, 40.0])),
        retry_first=draw(st.sampled_from([True, True, False])),
    )


# -- records as their sources deliver them ------------------------------------------------------------


@dataclass
class Rec:
    """One source record (or single event), kept whole so that a re-delivery is the same record."""

    rid: int
    key: int
    behaviour: str
    raw: Any
    identifier: str | None
    """What ``batchItemFailures`` must name (stream and SQS records)."""
    tries: int = 0
    version: int | None = None
    """The version the guard should read for it (the source's own or ``version=``'s); None: not guarded."""

    @property
    def parts(self) -> int:
        return 2 if self.behaviour in ("pair", "pair_poison") else 1


_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_ALARM_NAME = "Orders fleet CPU above 80 percent for five minutes in us-east-1 (page the on-call) "


def make_record(source: str, rid: int, key: int, behaviour: str, big: bool, *, guard: str = "off") -> Rec:
    late = behaviour == "late"
    step = max(0, rid - 3) if late else rid  # a late change: older than one sent before it
    meta: dict[str, Any] = {"rid": rid, "key": key, "b": behaviour, "v": step}
    if big:
        meta["blob"] = "x" * BIG
    own = guard == "own"
    version = step if guard == "function" and behaviour != "version_raises" else None
    if source == "dynamodb":
        raw = events.dynamodb([{"new_image": {"id": f"k{key}", **meta}}], start_sequence=rid)["Records"][0]
        sequence = raw["dynamodb"]["SequenceNumber"]
        return Rec(rid, key, behaviour, raw, sequence, version=int(sequence) if own else version)
    if source == "kinesis":
        raw = events.kinesis([KinesisInput(meta, partition_key=f"k{key}")], start_sequence=rid)["Records"][0]
        sequence = raw["kinesis"]["sequenceNumber"]
        return Rec(rid, key, behaviour, raw, sequence, version=int(sequence) if own else version)
    if source in ("sqs", "sqs_fifo"):
        fifo = source == "sqs_fifo"
        message = SQSInput(
            meta, group_id=f"k{key}" if fifo else None, deduplication_id=f"d{rid}" if fifo else None
        )
        raw = events.sqs([message], fifo=fifo, seed=rid)["Records"][0]
        if fifo:  # SQS numbers a group's messages in the order they were sent
            raw["attributes"]["SequenceNumber"] = str(int(raw["attributes"]["SequenceNumber"]) + rid)
            if own:
                version = int(raw["attributes"]["SequenceNumber"])
        return Rec(rid, key, behaviour, raw, raw["messageId"], version=version)
    if source == "aurora":
        return Rec(rid, key, behaviour, events.aurora(meta), None, version=version)
    if source == "alarm":  # a long name with spaces: the key; the rid in the description
        # a late change's time is its own (an alarm's changes are named by name and time: letters, ids)
        moment = (
            _EPOCH + timedelta(seconds=rid - 3, milliseconds=500) if late else _EPOCH + timedelta(seconds=rid)
        )
        raw = events.cloudwatch_alarm(name=f"{_ALARM_NAME}k{key}", description=json.dumps(meta), time=moment)
        return Rec(rid, key, behaviour, raw, None, version=_micros(moment) if own else version)
    moment = _EPOCH + timedelta(seconds=step // 2)  # whole seconds: two changes share each
    raw = events.eventbridge(meta, source=f"com.example.k{key}", detail_type="OrderChanged", time=moment)
    return Rec(rid, key, behaviour, raw, None, version=_micros(moment) if own else version)


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def meta_of(record: Any) -> dict[str, Any]:
    """The record's own fields (rid, key, behaviour), whatever its source."""
    from streambridge import (
        AlarmEvent,
        AuroraEvent,
        DynamoDBRecord,
        EventBridgeEvent,
        KinesisRecord,
        SQSRecord,
    )

    if isinstance(record, DynamoDBRecord):
        return dict(record.new_image)
    if isinstance(record, (KinesisRecord, SQSRecord)):
        return record.json()  # type: ignore[no-any-return]
    if isinstance(record, AuroraEvent):
        return dict(record.payload)
    if isinstance(record, AlarmEvent):
        return json.loads(record.raw["alarmData"]["configuration"]["description"])  # type: ignore[no-any-return]
    if isinstance(record, EventBridgeEvent):
        return dict(record.detail)
    raise AssertionError(f"unexpected record {record!r}")


def meta_of_raw(source: str, raw: Any) -> dict[str, Any] | None:  # noqa: PLR0911 - a return per source
    """The fields of a record as a dead letter carries it (None: the letter left the record out)."""
    if raw is None:
        return None
    try:
        if source == "dynamodb":
            image = raw["dynamodb"]["NewImage"]
            return {"rid": int(image["rid"]["N"]), "key": int(image["key"]["N"])}
        if source == "kinesis":
            import base64

            return json.loads(base64.b64decode(raw["kinesis"]["data"]))  # type: ignore[no-any-return]
        if source == "sqs":
            return json.loads(raw["body"])  # type: ignore[no-any-return]
        if source == "aurora":
            return raw  # type: ignore[no-any-return]
        if source == "cloudwatch_alarm":
            return json.loads(raw["alarmData"]["configuration"]["description"])  # type: ignore[no-any-return]
        if source == "eventbridge":
            return raw["detail"]  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError):
        return None
    return None


# -- logs, stdout, traces: where a secret could leak ----------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _exception_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


async def _in_thread_on_virtual_time(self: Bridge, call: Callable[[Any], Any], argument: Any, *,
                                     timeout: float | None) -> Any:  # fmt: skip
    """``Bridge._in_thread`` for store models on the loop's own thread: a real thread's answer would race the
    virtual clock (it jumps while the loop waits). The call happens at once, then takes the model's ``delay``
    of virtual time; past ``timeout`` the bridge gives up as it does on a slow thread (the call happened)."""
    if timeout is None:
        raise TimeoutError
    result = call(argument)
    delay = getattr(getattr(getattr(call, "__self__", None), "client", None), "delay", 0.0)
    if delay > timeout:
        await asyncio.sleep(timeout)
        raise TimeoutError
    await asyncio.sleep(delay)
    return result


# -- the machine -----------------------------------------------------------------------------------------


class WarmInvocations(RuleBasedStateMachine):
    """A Lambda function's warm container: one handler, invoked again and again, re-delivered like Lambda."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = VirtualTimeLoop()
        self.offset = 0.0
        self.world: World | None = None
        self.handler: Any = None
        self.bridge: Bridge | None = None
        self.endpoint: ModelAppSync | ModelEventApi | None = None
        self.queue: SQSModel | None = None
        self.table: DynamoDBModel | None = None
        self.versions: VersionTableModel | None = None
        self.published_versions: dict[int, set[int]] = defaultdict(set)
        """Model key -> the versions of its guarded changes reported published, across invocations."""
        self.pending: list[Rec] = []
        self.next_rid = 0
        self.remembered: set[tuple[int, int]] = set()
        """Items of records published and written to the idempotency table."""
        self.dead: dict[int, set[int]] = defaultdict(set)
        """rid -> the parts reported dead-lettered, across invocations."""
        self.token_calls = 0
        self.token_raises: frozenset[int] = frozenset()
        self.secrets: set[str] = {API_KEY, SECRET_KEY, SESSION_TOKEN}
        self.lines = _Lines()
        self.traces: list[str] = []
        self.steps = 0
        logger = logging.getLogger("streambridge")
        self._level, self._propagate = logger.level, logger.propagate
        logger.addHandler(self.lines)
        logger.setLevel(logging.DEBUG)
        logger.propagate = (
            False  # read here, line by line; pytest keeping every invocation's lines costs ~250 MB
        )

    def teardown(self) -> None:
        logger = logging.getLogger("streambridge")
        logger.removeHandler(self.lines)
        logger.setLevel(self._level)
        logger.propagate = self._propagate
        if self.bridge is not None:
            self.bridge.close()
        self.loop.close()

    def clock(self) -> float:
        """The stores' clock: the loop's virtual time plus the gaps between invocations."""
        return self.offset + self.loop.time()

    def token(self) -> str:
        self.token_calls += 1
        if self.token_calls in self.token_raises:
            raise RuntimeError("the token refresh failed (identity provider unavailable)")
        value = f"eyJhbGciOiJSUzI1NiJ9.model-secret-token-{self.token_calls}"
        self.secrets.add(value)
        return value

    @initialize(world=worlds())
    def deploy(self, world: World) -> None:
        """Build the function once, as its module does at cold start."""
        self.world = world
        _event(f"world: {world.target} {world.source} poison={world.poison} per_key={world.per_key}")
        auth: Any = {
            "api_key": lambda: ApiKeyAuth(API_KEY),
            "token": lambda: TokenAuth(self.token),
            "iam": lambda: IAMAuth(credentials=_credentials(), clock=lambda: _EPOCH),
        }[world.auth]()
        self.endpoint = ModelAppSync() if world.target == "graphql" else ModelEventApi()
        dead_letter = None
        if world.poison == "dead-letter":
            self.queue = SQSModel(self.clock, fifo=world.fifo_queue)
            dead_letter = SQSDeadLetterQueue(QUEUE + (".fifo" if world.fifo_queue else ""), client=self.queue)
        idempotency = None
        if world.idempotency:
            self.table = DynamoDBModel("published")
            idempotency = DynamoDBIdempotencyStore("published", client=self.table)
        stale_guard = None
        if world.guard != "off":
            self.versions = VersionTableModel("versions")
            stale_guard = DynamoDBVersionStore("versions", client=self.versions)
            stale_guard._sleep = lambda _: (
                None
            )  # its backoff, on virtual time: the model's delay stands for it
        self.bridge = Bridge(
            GRAPHQL_URL if world.target == "graphql" else EVENT_URL,
            auth,
            transport=self.endpoint,
            batch_size=world.batch_size,
            per_key=world.per_key,
            concurrency=world.concurrency,
            poison=world.poison,  # type: ignore[arg-type]
            dead_letter=dead_letter,
            idempotency=idempotency,
            stale_guard=stale_guard,
            metrics=world.metrics,
            tracing=lambda trace: self.traces.append(repr(trace)),
        )
        decorate = getattr(
            self.bridge, "cloudwatch_alarm" if world.source == "alarm" else world.source.removesuffix("_fifo")
        )
        partition_key = self._partition_key if world.partition_key else None
        version = self._version if world.guard == "function" else None
        if world.target == "graphql":
            self.handler = decorate(DOCUMENT, partition_key=partition_key, version=version)(self._mapper)
        else:
            channel: Any = "/rooms/lobby" if world.channel == "fixed" else self._channel
            self.handler = decorate(channel=channel, partition_key=partition_key, version=version)(
                self._mapper
            )

    # the user's callables

    def _to(self, key: int) -> str:
        assert self.world is not None
        return "/rooms/lobby" if self.world.channel == "fixed" else f"/rooms/k{key}"

    def _mapper(self, record: Any) -> Any:
        meta = meta_of(record)
        rid, key, behaviour = meta["rid"], meta["key"], meta["b"]
        if behaviour == "raise":
            raise ValueError(f"cannot map order {rid}")
        if behaviour == "skip":
            return None
        poison = behaviour in ("poison", "pair_poison")
        payloads = [{"rid": rid, "part": part, "key": key, "to": self._to(key), "poison": poison}
                    for part in range(2 if behaviour in ("pair", "pair_poison") else 1)]  # fmt: skip
        if behaviour == "oversize":
            payloads[0]["pad"] = "y" * 250_000
        assert self.world is not None
        if self.world.target == "channels":
            return payloads if len(payloads) > 1 else payloads[0]
        if len(payloads) > 1:
            return [Mutation(DOCUMENT, {"input": payload}) for payload in payloads]
        return {"input": payloads[0]}

    def _partition_key(self, record: Any) -> str:
        meta = meta_of(record)
        if meta["b"] == "key_raises":
            raise KeyError("region")
        return f"k{meta['key']}"

    def _version(self, record: Any) -> int:
        meta = meta_of(record)
        if meta["b"] == "version_raises":
            raise LookupError("this order has no revision")
        return int(meta["v"])

    def _channel(self, record: Any) -> str:
        meta = meta_of(record)
        if meta["b"] == "channel_raises":
            raise LookupError("no room for this order")
        return self._to(meta["key"])

    # one invocation

    @rule(data=st.data())
    def invoke(self, data: st.DataObject) -> None:
        """Lambda invokes the warm function with the re-delivered records and new ones."""
        world, endpoint = self.world, self.endpoint
        assert world is not None
        assert endpoint is not None
        step = data.draw(steps(world), label="step")
        self.steps += 1
        self.offset += step.gap
        recs = self._delivery(world, step)
        event_ = self._event(world, recs)
        endpoint.begin(step.answers)
        stored_before = self._faults(step)
        self.token_calls, self.token_raises = 0, step.token_raises
        refused_before = len(self.queue.refused) if self.queue else 0
        writes_before = self.table.writes if self.table else 0
        lines_before, traces_before = len(self.lines.lines), len(self.traces)  # 0, unless a check failed
        start = self.loop.time()
        deadline = start + step.timeout_ms / 1000
        context = lambda_context(timeout_ms=step.timeout_ms, clock=self.loop.time)
        out = io.StringIO()
        with (
            redirect_stdout(out),
            mock.patch.object(Bridge, "_in_thread", _in_thread_on_virtual_time),
            # planning slices measured on the real clock would make examples differ from run to run
            mock.patch("streambridge._engine.publish.SLICE_SECONDS", -1.0 if world.sliced else math.inf),
        ):
            result: InvocationResult = self.loop.run_until_complete(
                self.handler.process_async(event_, context)
            )
        end = self.loop.time()
        raised: DeliveryFailedError | None = None
        try:
            answer = self.handler.answer(result)
        except DeliveryFailedError as error:
            raised, answer = error, None
        for kind in {sent.kind for sent in endpoint.sent}:
            _event(f"answer: {kind}")
        _event(f"outcomes: {sorted({o.status.value for o in result.outcomes})}")

        story = _story(step, recs, result, endpoint)
        self._check_outcomes(world, recs, result, story)
        self._check_lambda_answer(world, recs, result, answer=answer, raised=raised, story=story)
        self._check_runs(world, recs, result, story)
        self._check_dead_letters(world, recs, result, story)
        self._check_order(world, recs, story)
        self._check_time(recs, start, deadline, end, story)
        texts = [*self.lines.lines[lines_before:], out.getvalue(), *self.traces[traces_before:]]
        texts += [_exception_text(o.error) for o in result.outcomes if o.error is not None]
        texts += [o.explain() for o in result.outcomes]
        if raised is not None:
            texts.append(_exception_text(raised))
        self._check_secrets(texts, story)
        self._check_calm(world, step, recs, result, story=story, refused_before=refused_before)
        if self.versions is not None:
            self._check_stale_guard(world, step, recs, result, stored_before, time_left=deadline - end,
                                    story=story)  # fmt: skip
        del self.lines.lines[:], self.traces[:]  # checked: keep no invocation's text for the next

        # what the idempotency table now holds for sure; and what Lambda re-delivers next
        published = [o for o in result.outcomes if o.status is Status.PUBLISHED]
        if (
            self.table is not None
            and step.table_fault is None
            and self.table.writes - writes_before >= len(published)
        ):
            self.remembered.update(item for o in published for item in self._items(world, recs, o))
        self.pending = self._redelivery(world, recs, result, raised)

    def _faults(self, step: Step) -> dict[str, int]:
        """Give the stores this step's faults; return the version table's contents before the invocation."""
        for store, fault, delay in ((self.queue, step.queue_fault, step.queue_delay),
                                    (self.table, step.table_fault, step.table_delay),
                                    (self.versions, step.versions_fault, step.versions_delay)):  # fmt: skip
            if store is not None:
                store.fault, store.delay = fault, delay
        return self.versions.versions() if self.versions is not None else {}

    def _delivery(self, world: World, step: Step) -> list[Rec]:
        if world.source in SINGLE:
            if self.pending and (step.retry_first or len(self.pending) >= 3):
                rec = self.pending.pop(0)
                rec.tries += 1
                return [rec]
            key, behaviour = step.new[0]
            rec = make_record(world.source, self.next_rid, key, behaviour, False, guard=world.guard)
            self.next_rid += 1
            return [rec]
        room = max(0, MOST_PENDING - len(self.pending))
        new = []
        for key, behaviour in step.new[:room]:
            new.append(make_record(world.source, self.next_rid, key, behaviour, step.big, guard=world.guard))
            self.next_rid += 1
        return [*self.pending, *new]

    def _event(self, world: World, recs: list[Rec]) -> Any:
        if world.source in SINGLE:
            return recs[0].raw
        return {"Records": [rec.raw for rec in recs]}

    def _rec_of(self, world: World, recs: list[Rec], outcome: Any) -> Rec:
        return recs[0] if world.source in SINGLE else recs[outcome.record.index]

    def _items(self, world: World, recs: list[Rec], outcome: Any) -> list[tuple[int, int]]:
        """The ``(rid, part)`` items an outcome stands for: one mutation of a single event, or a record's."""
        rec = self._rec_of(world, recs, outcome)
        if world.source in SINGLE and rec.parts > 1:
            return [(rec.rid, outcome.record.position)]
        return [(rec.rid, part) for part in range(rec.parts)]

    def _redelivery(self, world: World, recs: list[Rec], result: InvocationResult,
                    raised: DeliveryFailedError | None) -> list[Rec]:  # fmt: skip
        if world.source in SINGLE:  # Lambda retries an asynchronous event twice, among newer ones
            again = [recs[0]] if raised is not None and recs[0].tries < 2 else []
            return [*self.pending, *again]
        failed = [i for i, o in enumerate(result.outcomes) if o.status is Status.FAILED]
        if not failed:
            return []
        if world.source in ("dynamodb", "kinesis"):  # from the lowest failed sequence number on
            return recs[min(failed) :]
        return [recs[i] for i in failed]  # SQS: the failed messages become visible again

    # -- the checks ------------------------------------------------------------------------------------

    def _troubled(self, rec: Rec) -> bool:
        """Poison by its own doing, or refused for good by the API in this invocation."""
        assert self.endpoint is not None
        if rec.behaviour in POISON:
            return True
        return any(item[0] == rec.rid for sent in self.endpoint.sent for item in sent.condemned)

    def _check_outcomes(self, world: World, recs: list[Rec], result: InvocationResult, story: str) -> None:
        # 1. each record has exactly one outcome; a failed one says why
        if world.source in SINGLE:
            assert result.outcomes, story
            positions = [getattr(o.record, "position", 0) for o in result.outcomes]
            assert positions == list(range(len(positions))), f"the event's outcomes: {positions}\n{story}"
        else:
            indexes = [o.record.index for o in result.outcomes]
            assert indexes == list(range(len(recs))), f"outcomes of records {indexes}, not one each\n{story}"
        for outcome in result.outcomes:
            assert outcome.status in Status, story
            if outcome.status is Status.FAILED:
                assert outcome.error is not None, (
                    f"{outcome.record.describe()} failed without an error\n{story}"
                )
            assert "internal error" not in str(outcome.error), story

    def _check_lambda_answer(self, world: World, recs: list[Rec], result: InvocationResult, *, answer: Any,
                             raised: DeliveryFailedError | None, story: str) -> None:  # fmt: skip
        # 2. batchItemFailures is exactly the failed records; a single event raises exactly when one failed
        failed = [o.status is Status.FAILED for o in result.outcomes]
        if world.source in SINGLE:
            assert (raised is not None) == any(failed), f"raised={raised!r}\n{story}"
            return
        expected = [{"itemIdentifier": rec.identifier} for rec, bad in zip(recs, failed, strict=True) if bad]
        assert answer == {"batchItemFailures": expected}, f"{answer} != {expected}\n{story}"
        for entry in answer["batchItemFailures"]:
            assert isinstance(entry["itemIdentifier"], str), story
            assert entry["itemIdentifier"], story

    def _check_runs(self, world: World, recs: list[Rec], result: InvocationResult, story: str) -> None:
        # 3. what the endpoint showed as ran is not sent again, is published, is not dead-lettered
        endpoint = self.endpoint
        assert endpoint is not None
        shown_at: dict[tuple[int, int], int] = {}
        for number, sent in enumerate(endpoint.sent):
            for item in sent.items:
                if item in shown_at:
                    raise AssertionError(
                        f"{item} was sent again in request {number} after request {shown_at[item]} "
                        f"showed it ran\n{story}"
                    )
            for item in sent.shown:
                shown_at.setdefault(item, number)
        ran = Counter(item for sent in endpoint.sent for item in sent.ran)
        for outcome in result.outcomes:
            rec = self._rec_of(world, recs, outcome)
            items = self._items(world, recs, outcome)
            name = f"record {rec.rid} ({rec.behaviour})"
            if outcome.status is Status.PUBLISHED:
                assert all(ran[item] for item in items), f"{name} reported published but never ran\n{story}"
            if all(item in shown_at for item in items):
                held = (
                    outcome.status is Status.FAILED
                    and isinstance(outcome.error, HeldBackError)
                    and world.per_key > 1
                )
                assert outcome.status is Status.PUBLISHED or held, (
                    f"{name} ran (the answer showed it) but is {outcome.status.value}: "
                    f"{outcome.error}\n{story}"
                )
            if outcome.status is Status.DEAD_LETTERED:
                # (a record of several mutations may have some that ran: the others failed for good)
                assert not all(item in shown_at for item in items), (
                    f"{name} ran and was dead-lettered\n{story}"
                )
        self._check_remembered(world, recs, story)

    def _check_remembered(self, world: World, recs: list[Rec], story: str) -> None:
        # 3 (cont.): a record published and remembered by the idempotency store is not sent again
        endpoint = self.endpoint
        assert endpoint is not None
        if self.table is not None and self.table.fault is None and self.table.delay == 0:
            # a key's leading run of remembered records is skipped; once one of its records goes out, the
            # later ones follow it (or an older change would reach subscribers after a newer one)
            if world.source in SINGLE:  # each mutation of the event is remembered apart
                units = [[(rec.rid, p)] for rec in recs for p in range(rec.parts)]
            else:
                units = [[(rec.rid, p) for p in range(rec.parts)] for rec in recs]
            key_of = {rec.rid: rec.key for rec in recs}
            unordered = world.source == "sqs" and not world.partition_key  # each message its own group
            sent_items = {item for sent in endpoint.sent for item in sent.items}
            opened: set[int] = set()
            again = set()
            for unit in units:
                key = key_of[unit[0][0]] if not unordered else unit[0]
                if all(item in self.remembered for item in unit) and key not in opened:
                    again |= sent_items & set(unit)
                else:
                    opened.add(key)  # type: ignore[arg-type]
            assert not again, (
                f"sent again although published and remembered earlier: {sorted(again)}; the table's last "
                f"reads: {self.table.reads[-2:]}; it holds {sorted(self.table.items)}\n{story}"
            )

    def _check_dead_letters(
        self, world: World, recs: list[Rec], result: InvocationResult, story: str
    ) -> None:
        # 4. every dead letter is a distinct message in the queue; only poison is set aside or dead-lettered
        for outcome in result.outcomes:
            rec = self._rec_of(world, recs, outcome)
            set_aside = outcome.status is Status.DEAD_LETTERED or (
                outcome.status is Status.SKIPPED and outcome.error is not None
            )
            if set_aside:
                assert self._troubled(rec), (
                    f"record {rec.rid} ({rec.behaviour}) was {outcome.status.value} but is not poison: "
                    f"{outcome.error}\n{story}"
                )
            if outcome.status is Status.SKIPPED and outcome.error is None:
                stale = world.guard != "off" and (outcome.note or "").startswith("stale: ")
                assert rec.behaviour == "skip" or world.idempotency or stale, (
                    f"record {rec.rid} skipped\n{story}"
                )
            if outcome.status is Status.DEAD_LETTERED:
                self.dead[rec.rid].add(getattr(outcome.record, "position", 0))
        if self.queue is None:
            return
        by_identifier = {rec.identifier: rec.rid for rec in recs if rec.identifier}
        source = "cloudwatch_alarm" if world.source == "alarm" else world.source.removesuffix("_fifo")
        letters: Counter[int] = Counter()
        for letter in self.queue.letters():
            rid = by_identifier.get(letter.get("itemIdentifier"))
            if rid is None:
                meta = meta_of_raw(source, letter.get("record"))
                rid = None if meta is None else int(meta["rid"])
            if rid is not None:
                letters[rid] += 1
        for rid, parts in self.dead.items():
            if rid in {rec.rid for rec in recs}:
                assert letters[rid] >= len(parts), (
                    f"record {rid}: {len(parts)} reported dead-lettered, {letters[rid]} in the queue "
                    f"(dropped as duplicates: {len(self.queue.dropped)}, "
                    f"refused: {self.queue.refused[-3:]})\n{story}"
                )

    def _check_order(self, world: World, recs: list[Rec], story: str) -> None:
        # 5. per key, subscribers see the first run of each change in source order, across invocations
        endpoint = self.endpoint
        assert endpoint is not None
        if world.source in SINGLE:
            rid = recs[0].rid
            parts = [part for sent in endpoint.sent for (r, part) in sent.ran if r == rid]
            firsts = list(dict.fromkeys(parts))
            assert firsts == sorted(firsts), f"the event's mutations ran as {parts}\n{story}"
            return
        if world.source not in ORDERED or world.per_key > 1:
            return
        seen: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for key, item in endpoint.ran:
            if item not in seen[key]:
                seen[key].append(item)
        for key, items in seen.items():
            assert items == sorted(items), f"key k{key}: subscribers saw {items}\n{story}"

    def _check_time(self, recs: list[Rec], start: float, deadline: float, end: float, story: str) -> None:
        # 6. no request after the deadline, none of an earlier invocation; returned before the deadline
        endpoint = self.endpoint
        assert endpoint is not None
        rids = {rec.rid for rec in recs}
        for sent in endpoint.sent:
            assert start <= sent.at < deadline, f"a request started at {sent.at - start:.3f} s\n{story}"
            assert {rid for rid, _ in sent.items} <= rids, (
                f"a request of an earlier invocation: {sent.items}\n{story}"
            )
        assert end < deadline, f"returned at {end - start:.3f} s, deadline {deadline - start:.3f} s\n{story}"

    def _check_secrets(self, texts: list[str], story: str) -> None:
        # 7. no secret in a log line, an exception, a metric line or a trace
        assert self.endpoint is not None
        secrets = {s for s in self.secrets | self.endpoint.secrets if len(s) >= 12}
        for text in texts:
            for secret in secrets:
                assert secret not in text, f"a secret ({secret[:6]}...) in: {text[:300]}\n{story}"

    def _check_calm(self, world: World, step: Step, recs: list[Rec], result: InvocationResult, *, story: str,
                    refused_before: int) -> None:  # fmt: skip
        # 8. a calm invocation fails only poison records and those held back behind them
        transient = {"ok", "reset_before", "reset_after", "garbage", "omitted"}
        calm = (  # (packing fails the rest of a key's request after any failure: documented, not calm)
            world.per_key == 1
            and step.timeout_ms == 60_000
            and len(step.answers) <= 3
            and len(step.token_raises) <= 1
            and step.queue_fault is None
            and step.queue_delay == 0
            and step.table_fault is None
            and step.table_delay == 0
            and step.versions_fault is None
            and step.versions_delay == 0
            and all(
                a.kind in transient
                or (a.kind == "http" and a.status in (429, 500, 502, 503, 504) and a.retry_after != "3")
                or (a.kind == "slow" and a.latency <= 3)
                or (a.kind in ("field_error", "null_data") and a.error_type in THROTTLING_TYPES)
                or (a.kind == "failed" and a.code != 400)
                for a in step.answers
            )
        )
        if not calm:
            return
        _event("calm invocation")
        # a letter SQS refuses for its own sake (over the message size) may leave its record failed; a batch
        # refused for its size is the bridge's doing (finding 3)
        letters_refused = self.queue is not None and any(
            code == "InvalidParameterValue" for code, _ in self.queue.refused[refused_before:]
        )
        for outcome in result.outcomes:
            if outcome.status is not Status.FAILED or isinstance(outcome.error, HeldBackError):
                continue
            rec = self._rec_of(world, recs, outcome)
            # poison fails only when the policy reports it (or its letter was refused)
            allowed = world.poison == "report" or letters_refused
            assert self._troubled(rec), (
                f"calm invocation: record {rec.rid} ({rec.behaviour}) failed: {outcome.error}\n{story}"
            )
            assert allowed, (
                f"calm invocation: record {rec.rid} ({rec.behaviour}) failed: {outcome.error}\n{story}"
            )

    def _check_stale_guard(self, world: World, step: Step, recs: list[Rec], result: InvocationResult,
                           stored_before: dict[str, int], *, time_left: float,
                           story: str) -> None:  # fmt: skip
        # 9. the stale guard: nothing older than the stored version runs, a stale skip is strictly older,
        # the table holds what was published (if it could be written); a table unread skips nothing
        endpoint, table = self.endpoint, self.versions
        assert endpoint is not None
        assert table is not None
        before = _by_model_key(stored_before)
        after = _by_model_key(table.versions())
        unordered = world.source == "sqs" and not world.partition_key
        user_key = world.source != "sqs_fifo"  # a FIFO message group is the key, whatever partition_key says
        guarded = {rec.rid: rec for rec in recs if rec.version is not None and not unordered
                   and not (user_key and rec.behaviour == "key_raises")}  # fmt: skip
        story += f"\nversions before: {before}, after: {after}"
        story += f", fault: {step.versions_fault}, delay: {step.versions_delay}"
        for sent in endpoint.sent:
            for rid, _ in sent.ran:
                rec = guarded.get(rid)
                if rec is not None and rec.key in before:
                    assert rec.version is not None
                    assert rec.version >= before[rec.key], (
                        f"record {rec.rid} (version {rec.version}) of k{rec.key} ran although version "
                        f"{before[rec.key]} was published before: a stale change reached subscribers\n{story}"
                    )
        published: dict[int, int] = {}
        for outcome in result.outcomes:
            rec = self._rec_of(world, recs, outcome)
            note = outcome.note or ""
            if note.startswith("stale: "):
                _event("stale skip")
                assert rec.rid in guarded, f"record {rec.rid} ({rec.behaviour}) skipped as stale\n{story}"
                assert rec.version is not None
                assert rec.version < before.get(rec.key, -1), (
                    f"record {rec.rid} (version {rec.version}) of k{rec.key} skipped as stale, but the "
                    f"version stored for its key was {before.get(rec.key)}: not older\n{story}"
                )
            if outcome.status is Status.PUBLISHED and rec.rid in guarded:
                assert rec.version is not None
                published[rec.key] = max(published.get(rec.key, -1), rec.version)
                self.published_versions[rec.key].add(rec.version)
        unread = step.versions_fault is not None or step.versions_delay > 20
        if unread:  # the read failed: its records fail (for Lambda to re-deliver), none skipped, none ran
            ran = {rid for sent in endpoint.sent for rid, _ in sent.ran}
            for outcome in result.outcomes:
                rec = self._rec_of(world, recs, outcome)
                if rec.rid in guarded:
                    idempotent = (outcome.note or "").startswith("already published")
                    assert outcome.status is Status.FAILED or idempotent, (
                        f"record {rec.rid}: {outcome.status.value} though its version was not read\n{story}"
                    )
                    assert rec.rid not in ran or idempotent, f"record {rec.rid} ran unguarded\n{story}"
        elif step.versions_delay == 0 and time_left > 1.0:  # a healthy table, written in time
            for key, version in published.items():
                assert after.get(key, -1) >= version, (
                    f"k{key}: version {version} reported published, but the table holds "
                    f"{after.get(key)}: a later older change would not be stopped\n{story}"
                )
        for key, version in after.items():
            assert version in self.published_versions[key], (
                f"k{key}: the table holds version {version}, which no published change had\n{story}"
            )

    @invariant()
    def nothing_left_running(self) -> None:
        """Between invocations nothing of the bridge runs on the loop (an invocation's work ends with it)."""
        if self.steps:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            assert not pending, f"tasks left running after the invocation: {pending}"


def _by_model_key(stored: dict[str, int]) -> dict[int, int]:
    """The table's versions by the model's key (every key text the model makes ends in ``k<number>``)."""
    import re

    by_key = {}
    for text, version in stored.items():
        match = re.search(r"k(\d+)\W*$", text)
        assert match is not None, f"a store key the model did not make: {text!r}"
        by_key[int(match.group(1))] = version
    return by_key


def _event(text: str) -> None:
    """Count ``text`` in hypothesis' statistics (when run by hypothesis; a replay by hand has none)."""
    from hypothesis.errors import InvalidArgument

    with contextlib.suppress(InvalidArgument):
        event(text)


def _credentials() -> Any:
    from botocore.credentials import Credentials

    return Credentials("AKIDMODELEXAMPLE0001", SECRET_KEY, SESSION_TOKEN)


def _story(
    step: Step, recs: list[Rec], result: InvocationResult, endpoint: ModelAppSync | ModelEventApi
) -> str:
    records = [(rec.rid, f"k{rec.key}", rec.behaviour) for rec in recs]
    requests = [
        (f"{sent.at:.2f}", sent.kind, sent.items, "ran", sent.ran, "shown", sent.shown)
        for sent in endpoint.sent
    ]
    outcomes = [
        (o.status.value, type(o.error).__name__ if o.error else None, str(o.error)[:160])
        for o in result.outcomes
    ]
    return f"records: {records}\nanswers: {step.answers}\nrequests: {requests}\noutcomes: {outcomes}"


# -- profiles and the tests ---------------------------------------------------------------------------------

PROFILES = {
    "default": {"max_examples": 350, "stateful_step_count": 6},
    "ci": {"max_examples": 350, "stateful_step_count": 6, "derandomize": True},
    "long": {"max_examples": 600, "stateful_step_count": 12},
    "explore": {"max_examples": 350, "stateful_step_count": 6, "phases": [Phase.explicit, Phase.generate]},
}


def _settings(**overrides: Any) -> settings:
    profile = dict(PROFILES[os.environ.get("STREAMBRIDGE_MODEL_PROFILE", "default")])
    if os.environ.get("STREAMBRIDGE_MODEL_EXAMPLES"):
        profile["max_examples"] = int(os.environ["STREAMBRIDGE_MODEL_EXAMPLES"])
    return settings(
        deadline=None,
        database=None,  # a failure is shown with its steps; replaying an old one would hide the new code's
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        **{**profile, **overrides},
    )


@pytest.mark.timeout(0 if os.environ.get("STREAMBRIDGE_MODEL_PROFILE", "default") != "default" else 600)
def test_warm_invocations_keep_every_guarantee() -> None:
    # GIVEN a deployed function (a world) and a sequence of invocations, each with new and re-delivered
    # records, drawn answers, faults in the stores and in the user's callables
    # WHEN each invocation runs on the warm handler
    # THEN every guarantee in the module docstring holds after each one
    run_state_machine_as_test(WarmInvocations, settings=_settings())


def test_the_sqs_model_agrees_with_moto_where_moto_models_the_rule(aws: None) -> None:
    # GIVEN moto's SQS (in memory) and the model, each with a FIFO queue
    import boto3

    client = boto3.client("sqs", region_name="us-east-1")
    url = client.create_queue(QueueName="letters.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    model = SQSModel(lambda: 0.0, fifo=True)

    def entry(n: int, dedup: str, size: int = 10) -> dict[str, Any]:
        return {
            "Id": str(n),
            "MessageBody": "x" * size,
            "MessageGroupId": "g",
            "MessageDeduplicationId": dedup,
        }

    # WHEN each gets 11 entries, then 2 entries of 600 KB, then the same deduplication id twice
    def outcome(call: Callable[[], Any]) -> str:
        try:
            call()
        except Exception as error:  # noqa: BLE001 - the error code is what is compared
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            return str(code).rpartition(".")[2]  # moto: AWS.SimpleQueueService.<code>
        return "ok"

    for entries in ([entry(n, f"d{n}") for n in range(11)], [entry(0, "a", 600_000), entry(1, "b", 600_000)]):
        theirs = outcome(lambda e=entries: client.send_message_batch(QueueUrl=url, Entries=e))
        ours = outcome(lambda e=entries: model.send_message_batch(QueueUrl=url, Entries=e))
        # THEN both refuse alike
        assert theirs == ours != "ok"
    for _ in range(2):
        client.send_message_batch(QueueUrl=url, Entries=[entry(0, "same")])
        model.send_message_batch(QueueUrl=url, Entries=[entry(0, "same")])
    # AND both deliver one message of the two with one deduplication id
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == len(model.queue) == 1


# -- proof that the checks can fail: findings of issue 18 put back, one at a time -------------------------

planted = pytest.mark.skipif(
    os.environ.get("STREAMBRIDGE_MODEL_PLANTED") != "1", reason="on demand: STREAMBRIDGE_MODEL_PLANTED=1"
)


def _planted_run(expected: str, examples: int = 2000) -> None:
    """Run the machine (no shrinking: the first failure is the proof) and expect a check to fail with
    ``expected`` in its message."""
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            WarmInvocations,
            settings=_settings(
                max_examples=examples, derandomize=True, phases=[Phase.explicit, Phase.generate]
            ),
        )
    message = str(caught.value)
    print(f"the model failed, as it should:\n{message[:20000]}")
    assert expected in message


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_a_mutation_that_returned_data_read_as_failed() -> None:
    # GIVEN finding 1 put back: an error whose path is a field blames its mutation, data or not
    # WHEN the model runs THEN a mutation that ran is sent again, or reported failed or dead-lettered
    with mock.patch("streambridge._targets.graphql.response._ran_despite", return_value=None):
        _planted_run("ran")


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_dead_letters_deduplicated_away() -> None:
    # GIVEN finding 2 put back: the FIFO deduplication id is the source and item identifier, cut to 128
    def old_id(self: Any) -> str:
        return f"{self.source}-{self.record.item_identifier}"[:128]

    # WHEN the model runs THEN a record reported dead-lettered is missing from the queue
    with mock.patch("streambridge._stores.deadletter.DeadLetter.deduplication_id", old_id):
        _planted_run("in the queue")


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_dead_letter_batches_over_the_byte_limit() -> None:
    # GIVEN finding 3 put back: letters go 10 per SendMessageBatch whatever their size
    def by_ten(entries: list[tuple[dict[str, Any], int]]) -> list[list[dict[str, Any]]]:
        return [[entry for entry, _ in entries[i : i + 10]] for i in range(0, len(entries), 10)]

    # WHEN the model runs THEN a calm invocation fails poison records that a healthy queue would take
    # (a storm of nine large letters in a calm invocation is too rare for the search: it is replayed)
    world = World(
        "graphql", "dynamodb", "api_key", 50, 1, 1, "dead-letter", False, False, False, False, "none", False
    )
    storm = Step(
        [(key, "raise") for key in range(10)], [], 60_000, True, frozenset(), None, 0.0, None, 0.0, 1.0
    )

    class Given:
        def draw(self, _strategy: Any, label: str | None = None) -> Step:
            return storm

    machine = WarmInvocations()
    machine.deploy(world=world)
    with (
        mock.patch("streambridge._stores.deadletter._batches", by_ten),
        pytest.raises(AssertionError) as caught,
    ):
        machine.invoke(data=Given())  # type: ignore[arg-type]
    machine.teardown()
    assert "calm invocation" in str(caught.value)


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_a_wrong_endpoint_read_as_poison() -> None:
    # GIVEN finding 4 put back: a 404 or 405 is not read as a wrong endpoint
    # WHEN the model runs THEN a good record is skipped or dead-lettered as poison
    with mock.patch("streambridge._targets.answers._WRONG_ENDPOINT", frozenset()):
        _planted_run("is not poison")


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_a_secret_in_a_log_line() -> None:
    # GIVEN finding 10b put back: redaction does nothing
    # WHEN the model runs THEN an answer quoting the request's headers puts a secret in a log line
    with (
        mock.patch("streambridge._targets.answers.redact", lambda text: text),
        mock.patch("streambridge._targets.channels.redact", lambda text: text),
        mock.patch("streambridge._targets.graphql.response.redact", lambda text: text),
    ):
        _planted_run("a secret")


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_a_stale_guard_that_skips_an_equal_version() -> None:
    # GIVEN a guard that takes a change of the stored version for stale (a re-delivery of a published one,
    # or another change of the same second)
    def stale_on_equal(self: Any, newest: dict[str, int]) -> dict[int, str]:
        return {index: f"stale: version {version} is not newer than {newest[key]}"
                for index, (key, version) in self.guarded.items()
                if key in newest and version <= newest[key]}  # fmt: skip

    # WHEN the model runs THEN a change that is not older than the stored version is skipped
    with mock.patch("streambridge._stores.versions.StaleCheck.stale", stale_on_equal):
        _planted_run("skipped as stale, but the version stored for its key was")


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_a_stale_guard_that_never_writes() -> None:
    # GIVEN a version store that reads but never writes
    # WHEN the model runs THEN a healthy table does not hold a version reported published
    with mock.patch("streambridge._stores.versions.DynamoDBVersionStore.advance", return_value=None):
        _planted_run("reported published, but the table holds")


@planted
@pytest.mark.timeout(0)
def test_the_model_catches_a_stale_guard_that_publishes_unguarded_when_its_store_is_down() -> None:
    # GIVEN a guard that, when the version table cannot be read, lets the records go unguarded
    # WHEN the model runs THEN a guarded change is published although its version was not read
    with mock.patch("streambridge._stores.versions.StaleCheck.unreadable", return_value=None):
        _planted_run("though its version was not read")
