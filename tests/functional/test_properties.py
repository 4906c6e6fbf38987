"""Property: whatever the keys, poison records, faults and batching mode, nothing is lost or reordered."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

from bench._virtual import VirtualTimeLoop
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from streambridge import (
    ApiKeyAuth,
    Bridge,
    DeadlineExceededError,
    EndpointDownError,
    HeldBackError,
    HttpResponse,
    InvocationResult,
    MappingError,
    RetryPolicy,
    Status,
)
from streambridge.testing import FakeAppSync, events, lambda_context

from .conftest import PUBLISH, URL, poison_resolver
from .mangled_appsync import OK, Fate, MangledAppSync

FAULTS = st.sampled_from(
    [
        HttpResponse(503, {}, b"busy"),
        HttpResponse(429, {}, b""),
        HttpResponse(200, {}, b"{bad json"),
        ConnectionResetError("reset"),
    ]
)
CHANGES = st.lists(st.tuples(st.integers(0, 6), st.booleans(), st.booleans()), min_size=1, max_size=40)


@contextmanager
def planning_slices(sliced: bool) -> Iterator[None]:
    """With ``sliced``, plan one record at a time between requests (records then arrive on lanes that
    are in flight, idle or held back); otherwise the usual few milliseconds, all of a small event."""
    with mock.patch("streambridge._engine.publish.SLICE_SECONDS", 0.0 if sliced else 0.005):
        yield


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=CHANGES,
    faults=st.lists(FAULTS, max_size=6),
    per_key=st.sampled_from([1, 3]),
    batch_size=st.sampled_from([1, 4, 50]),
    sliced=st.booleans(),
)
def test_every_record_ends_once_and_each_key_publishes_a_prefix(
    changes: list[tuple[int, bool, bool]], faults: list[Any], per_key: int, batch_size: int, sliced: bool
) -> None:
    # GIVEN random changes over a few keys, some poison, some skipped, and a schedule of transient faults
    appsync = FakeAppSync(poison_resolver)
    appsync.fail_next(*faults)
    bridge = Bridge(
        URL,
        ApiKeyAuth("k"),
        transport=appsync,
        per_key=per_key,
        batch_size=batch_size,
        concurrency=3,
        retry=RetryPolicy(attempts=2, backoff=0.0001, max_backoff=0.0002),
    )
    images = [
        {"id": f"k{key}", "status": "POISON" if poison else f"S{n}", "skip": skip}
        for n, (key, poison, skip) in enumerate(changes)
    ]

    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any] | None:
        image = record.new_image
        return None if image["skip"] else {"input": image}

    # WHEN published (records planned all at once, or one by one while earlier ones are in flight)
    with planning_slices(sliced):
        result = handler.process(events.dynamodb([{"new_image": image} for image in images]))
    bridge.close()

    # THEN every record has exactly one outcome, in source order
    assert [o.record.index for o in result.outcomes] == list(range(len(images)))
    # AND per key, the records that ended well are a prefix of the key's records
    for key in {image["id"] for image in images}:
        mine = [o for o, image in zip(result.outcomes, images, strict=True) if image["id"] == key]
        ok = [o.status is not Status.FAILED for o in mine]
        assert ok == sorted(ok, reverse=True), f"{key}: a later record succeeded after a failure"
    # AND per key, AppSync executed the published records in source order, and (default mode) nothing
    # of a failed tail; packing may have executed some of the tail (documented), reported failed
    executed = [(p.result["id"], p.result["status"]) for p in appsync.published]
    for key in {image["id"] for image in images}:
        seen = [s for k, s in executed if k == key]
        seen = [s for i, s in enumerate(seen) if s not in seen[:i]]  # retries may repeat a change
        published = [
            image["status"]
            for o, image in zip(result.outcomes, images, strict=True)
            if image["id"] == key and o.status is Status.PUBLISHED and not image["skip"]
        ]
        assert seen[: len(published)] == published
        if per_key == 1:
            assert seen == published, "a change of a failed tail was executed"
        order = [image["status"] for image in images if image["id"] == key]
        assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen), "out of order"
    # AND failures are reported with their real identifiers, never empty
    identifiers = [f["itemIdentifier"] for f in result.batch_item_failures()]
    assert all(identifiers)
    assert len(identifiers) == result.failed
    # AND the poison records are among the failures
    for outcome, image in zip(result.outcomes, images, strict=True):
        if image["status"] == "POISON" and not image["skip"]:
            assert outcome.status is Status.FAILED


class MemorySink:
    """A dead-letter sink in memory that refuses the letters of some records (to test the fallback)."""

    def __init__(self, refuse: set[int]) -> None:
        self.refuse = refuse
        self.letters: list[Any] = []

    def send(self, letters: Any) -> set[int]:
        unsent = {i for i, letter in enumerate(letters) if letter.record.index in self.refuse}
        self.letters.extend(letter for i, letter in enumerate(letters) if i not in unsent)
        return unsent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=CHANGES,
    faults=st.lists(FAULTS, max_size=4),
    refuse=st.sets(st.integers(0, 39), max_size=3),
    per_key=st.sampled_from([1, 3]),
    sliced=st.booleans(),
)
def test_with_a_dead_letter_sink_poison_never_blocks_a_key_and_nothing_is_lost(
    changes: list[tuple[int, bool, bool]], faults: list[Any], refuse: set[int], per_key: int, sliced: bool
) -> None:
    # GIVEN random changes with poison records, transient faults, and a sink that refuses some letters
    appsync = FakeAppSync(poison_resolver)
    appsync.fail_next(*faults)
    sink = MemorySink(refuse)
    bridge = Bridge(
        URL,
        ApiKeyAuth("k"),
        transport=appsync,
        per_key=per_key,
        batch_size=4,
        concurrency=3,
        retry=RetryPolicy(attempts=2, backoff=0.0001, max_backoff=0.0002),
        dead_letter=sink,
    )
    images = [{"id": f"k{key}", "status": "POISON" if poison else f"S{n}", "skip": skip}
              for n, (key, poison, skip) in enumerate(changes)]  # fmt: skip

    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any] | None:
        return None if record.new_image["skip"] else {"input": record.new_image}

    with planning_slices(sliced):
        result = handler.process(events.dynamodb([{"new_image": image} for image in images]))
    bridge.close()

    # THEN every record ends once; the dead-lettered ones are exactly the letters the sink took
    assert [o.record.index for o in result.outcomes] == list(range(len(images)))
    dead = [o.record.index for o in result.outcomes if o.status is Status.DEAD_LETTERED]
    assert sorted(letter.record.index for letter in sink.letters) == dead
    # AND only poison records are dead-lettered; a poison record the sink took never failed
    for outcome, image in zip(result.outcomes, images, strict=True):
        if outcome.status is Status.DEAD_LETTERED:
            assert image["status"] == "POISON"
    # AND per key, after a FAILED record nothing ended well (a dead-lettered one does not block)
    for key in {image["id"] for image in images}:
        mine = [o.status for o, image in zip(result.outcomes, images, strict=True) if image["id"] == key]
        if Status.FAILED in mine:
            assert all(s is Status.FAILED for s in mine[mine.index(Status.FAILED) :])
    # AND failures are reported with real identifiers
    assert len(result.batch_item_failures()) == result.failed


# -- the whole handler against random mapping results and random AppSync answers, on virtual time --------


class OrderMappingError(Exception):
    """A user's own exception class."""


class UnprintableError(Exception):
    """An exception whose message cannot even be written."""

    def __str__(self) -> str:
        raise RuntimeError("no message")


def _raise(error: BaseException) -> Any:
    raise error


def _recurse(depth: int = 0) -> Any:
    return _recurse(depth + 1)


RAISES: dict[str, Any] = {
    "ValueError": lambda: _raise(ValueError("bad value")),
    "KeyError": lambda: {}["new_image"],
    "TypeError": lambda: len(5),  # type: ignore[arg-type]
    "ZeroDivisionError": lambda: 1 / 0,
    "RecursionError": _recurse,
    "OrderMappingError": lambda: _raise(OrderMappingError("the order cannot be mapped")),
    "MappingError": lambda: _raise(MappingError("the user says: cannot map")),
    "StopIteration": lambda: next(iter(())),
    "UnprintableError": lambda: _raise(UnprintableError()),
}


class Opaque:
    """Not JSON-serialisable."""


def _junk(kind: str, order: dict[str, Any]) -> Any:
    return {
        "int": 42,
        "str": "not a mutation",
        "list": [42, "x"],
        "list_with_a_good_one": [{"input": order}, 42],
        "non_str_key": {(1, 2): "x"},
        "non_str_key_inside": {"input": {**order, (1, 2): "x"}},
        "decimal_nan": {"input": {**order, "amount": Decimal("NaN")}},
        "decimal_snan": {"input": {**order, "amount": Decimal("sNaN")}},
        "decimal_infinity": {"input": {**order, "amount": Decimal("Infinity")}},
        "float_nan": {"input": {**order, "amount": float("nan")}},
        "float_infinity": {"input": {**order, "amount": float("-inf")}},
        "opaque": {"input": {**order, "blob": Opaque()}},
        "opaque_alone": Opaque(),
        "null_input": {"input": None},
        "no_variables": {},
    }[kind]


JUNK = ["int", "str", "list", "list_with_a_good_one", "non_str_key", "non_str_key_inside", "decimal_nan",
        "decimal_snan", "decimal_infinity", "float_nan", "float_infinity", "opaque", "opaque_alone",
        "null_input", "no_variables"]  # fmt: skip
BEHAVIOURS = st.one_of(  # half of them plain variables, the rest skips, poison, exceptions and junk
    st.just("ok"),
    st.just("ok"),
    st.just("ok"),
    st.sampled_from(["skip", "poison", "invalid"]),
    st.sampled_from([f"raise:{name}" for name in RAISES]),
    st.sampled_from([f"junk:{kind}" for kind in JUNK]),
)
FATES = st.one_of(
    st.just(OK),
    st.builds(
        Fate,
        st.just("http"),
        status=st.sampled_from([429, 500, 502, 503]),
        retry_after=st.sampled_from([None, "0", "2"]),
    ),
    st.builds(Fate, st.just("reset"), direct=st.booleans()),
    st.just(Fate("garbage")),
    st.just(Fate("pathless")),
    st.builds(
        Fate,
        st.just("throttled"),
        field=st.integers(0, 49),
        error_type=st.sampled_from(
            ["TooManyRequestsException", "DynamoDB:ProvisionedThroughputExceededException"]
        ),
    ),
    st.builds(Fate, st.just("null"), field=st.none() | st.integers(0, 49)),
    st.just(Fate("rejected")),
)
DOCUMENT = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id seq status } }"


def run_on_virtual_time(appsync: MangledAppSync, images: list[dict[str, Any]], mapper: Any, *,
                        timeout_ms: int, **settings: Any) -> InvocationResult:  # fmt: skip
    """One invocation of the whole handler on a loop whose clock jumps over every wait."""
    loop = VirtualTimeLoop()
    bridge = Bridge(URL, ApiKeyAuth("k"), transport=appsync, **settings)
    handler = bridge.dynamodb(DOCUMENT)(mapper)

    async def invoke() -> InvocationResult:
        context = lambda_context(timeout_ms=timeout_ms, clock=loop.time)
        return await handler.process_async(events.dynamodb(images), context)

    try:
        return loop.run_until_complete(invoke())
    finally:
        loop.close()


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.tuples(st.integers(0, 4), BEHAVIOURS), min_size=1, max_size=30),
    fates=st.lists(FATES, max_size=30),
    batch_size=st.sampled_from([1, 5, 50]),
    per_key=st.sampled_from([1, 3]),
    poison=st.sampled_from(["report", "skip"]),
    concurrency=st.sampled_from([1, 4, 16]),
    timeout_ms=st.sampled_from([120_000, 120_000, 120_000, 3_000, 700, 520]),
    latency=st.sampled_from([0.01, 0.0, 0.25]),
    sliced=st.booleans(),
)
def test_whatever_the_mapping_and_appsync_do_nothing_is_lost_run_twice_or_reordered(  # noqa: PLR0912, PLR0915, PLR0917
    records: list[tuple[int, str]],
    fates: list[Fate],
    batch_size: int,
    per_key: int,
    poison: str,
    concurrency: int,
    timeout_ms: int,
    latency: float,
    sliced: bool,
) -> None:
    # GIVEN records over a few keys, each mapped to a random result (variables, a skip, an exception, junk),
    # each order carrying a unique seq; and an AppSync whose every request meets a random fate
    images = [{"id": f"k{key}", "seq": n} for n, (key, _) in enumerate(records)]
    behaviours = [behaviour for _, behaviour in records]
    appsync = MangledAppSync(fates, latency=latency)

    def mapper(record: Any) -> Any:
        image = record.new_image
        behaviour = behaviours[image["seq"]]
        order = {"id": image["id"], "seq": image["seq"], "status": "OK"}
        if behaviour == "skip":
            return None
        if behaviour in ("poison", "invalid"):
            return {"input": {**order, "status": behaviour.upper()}}
        if behaviour.startswith("raise:"):
            return RAISES[behaviour.removeprefix("raise:")]()
        if behaviour.startswith("junk:"):
            return _junk(behaviour.removeprefix("junk:"), order)
        return {"input": order}

    # WHEN the whole handler publishes them (planning all at once, or one record at a time)
    # (SLICE_SECONDS is patched so that planning never depends on the real clock: deterministic examples)
    with mock.patch("streambridge._engine.publish.SLICE_SECONDS", -1.0 if sliced else math.inf):
        result = run_on_virtual_time(
            appsync,
            [{"new_image": image} for image in images],
            mapper,
            timeout_ms=timeout_ms,
            batch_size=batch_size,
            per_key=per_key,
            poison=poison,
            concurrency=concurrency,
        )

    if not appsync.log:
        event("no request")
    for kind in {kind for kind, _ in appsync.log}:
        event(f"AppSync answered: {kind}")
    event(f"records published: {'none' if not result.published else 'all' if result.ok else 'some'}")

    # THEN the invocation returned, every record has exactly one outcome, in record order
    story = f"requests: {appsync.log}\noutcomes: {[(o.status.value, str(o.error)) for o in result.outcomes]}"
    assert isinstance(result, InvocationResult)
    assert [o.record.index for o in result.outcomes] == list(range(len(records))), story
    for outcome in result.outcomes:
        assert "internal error" not in str(outcome.error), story
        assert outcome.status is not Status.DEAD_LETTERED  # there is no sink
        if outcome.status is Status.FAILED:
            assert outcome.error is not None, story
            assert outcome.explain().startswith(outcome.record.describe())
    # AND no mutation ran twice; a published record ran exactly once, and only a good one
    ran = Counter(order["seq"] for order in appsync.executed)
    assert all(times == 1 for times in ran.values()), f"ran twice: {ran.most_common(3)}\n{story}"
    published = {o.record.index for o in result.outcomes if o.status is Status.PUBLISHED}
    for seq in published:
        assert ran[seq] == 1, f"record {seq} reported published but never ran\n{story}"
        assert behaviours[seq] == "ok", story
    # AND with one mutation of a key per request what ran is exactly what was published; with packing, a
    # mutation of a key may run after an earlier one of its request failed: it is reported failed
    if per_key == 1:
        assert set(ran) == published, story
    for seq in set(ran) - published:
        outcome = result.outcomes[seq]
        assert outcome.status is Status.FAILED, story
        assert isinstance(outcome.error, HeldBackError), story
    # AND failures are reported with their real identifiers, in order, never empty
    failed = [o for o in result.outcomes if o.status is Status.FAILED]
    assert result.batch_item_failures() == [{"itemIdentifier": o.record.item_identifier} for o in failed]
    assert all(f["itemIdentifier"] for f in result.batch_item_failures())
    # AND per key, what ran follows the input order, and after a failed record nothing ended well
    for key in {image["id"] for image in images}:
        seqs = [order["seq"] for order in appsync.executed if order["id"] == key]
        assert seqs == sorted(seqs), f"{key} reordered: {seqs}\n{story}"
        mine = [o.status for o in result.outcomes if images[o.record.index]["id"] == key]
        if Status.FAILED in mine:
            after = mine[mine.index(Status.FAILED) :]
            assert all(s is Status.FAILED for s in after), f"{key}: {mine}\n{story}"
    # AND every record ended the way its mapping and AppSync's answers allow
    for outcome, behaviour in zip(result.outcomes, behaviours, strict=True):
        seq, status, error = outcome.record.index, outcome.status, outcome.error
        name = outcome.record.describe()
        if status is Status.SKIPPED and error is None:
            assert behaviour == "skip", story
        if status is Status.SKIPPED and error is not None:
            assert poison == "skip", story
            assert behaviour not in ("ok", "skip") or seq in appsync.condemned, story
        if behaviour.startswith(("raise:", "junk:")):
            # a mapping that raised or returned junk: failed or set aside, with an error naming the record;
            # or held back behind an earlier failure of its key, or out of time before it was its turn
            assert ran[seq] == 0
            if isinstance(error, MappingError):
                assert status is (Status.FAILED if poison == "report" else Status.SKIPPED), story
                assert name in str(error), story
                if behaviour.startswith("raise:") and behaviour != "raise:MappingError":
                    assert behaviour.removeprefix("raise:") in str(error), story
            else:
                assert status is Status.FAILED, story
                assert isinstance(error, (HeldBackError, DeadlineExceededError, EndpointDownError)), story
        if behaviour in ("poison", "invalid"):
            assert ran[seq] == 0
            assert status is not Status.PUBLISHED


# -- bugs the property found, each reduced to its smallest example ----------------------------------------


def test_a_mapping_exception_whose_message_cannot_be_written_fails_only_its_record() -> None:
    # GIVEN two records of different keys; the mapping raises an exception whose str() raises for the first
    # (falsifying example: records=[(0, 'raise:UnprintableError')], fates=[], everything else the default)
    def mapper(record: Any) -> Any:
        if record.new_image["seq"] == 0:
            raise UnprintableError
        return {"input": {**record.new_image, "status": "OK"}}

    appsync = MangledAppSync([])
    images = [{"new_image": {"id": "k0", "seq": 0}}, {"new_image": {"id": "k1", "seq": 1}}]
    # WHEN published
    result = run_on_virtual_time(appsync, images, mapper, timeout_ms=120_000)
    # THEN only that record fails, with an error naming it and the exception's type; the other is published
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED]
    assert isinstance(result.outcomes[0].error, MappingError)
    assert "UnprintableError" in str(result.outcomes[0].error)


def test_a_mutation_that_ran_is_not_sent_again_when_a_field_of_its_result_is_throttled() -> None:
    # GIVEN one record; AppSync runs its mutation, but a resolver of a field of the result is throttled:
    # {"data": {"publishOrder": {..., "status": null}},
    #  "errors": [{"path": ["publishOrder", "status"], "errorType": "TooManyRequestsException", ...}]}
    appsync = MangledAppSync([Fate("nested", field=0)])
    images = [{"new_image": {"id": "k0", "seq": 0}}]
    # WHEN published
    result = run_on_virtual_time(
        appsync, images, lambda record: {"input": {**record.new_image, "status": "OK"}}, timeout_ms=120_000
    )
    # THEN the mutation ran once (the record is published or reported failed, not sent again)
    assert [order["seq"] for order in appsync.executed] == [0], appsync.log
    assert result.outcomes[0].status in (Status.PUBLISHED, Status.FAILED)
