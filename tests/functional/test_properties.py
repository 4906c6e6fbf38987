"""Property: whatever the keys, poison records, faults and batching mode, nothing is lost or reordered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge import ApiKeyAuth, Bridge, HttpResponse, RetryPolicy, Status
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH, URL, poison_resolver

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
