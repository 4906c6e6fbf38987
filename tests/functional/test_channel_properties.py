"""Property: publishing to AppSync Events channels, whatever the mapping and the Event API do, through the
whole handler on virtual time, nothing is lost, run twice or reordered, and every failure is reported.

Records of a DynamoDB stream over a few keys (they collide, and share two rooms) are mapped to random
results: a payload for the decorator's channel (a function of the record, or a fixed one), a
``ChannelEvent``, a skip, two events, an event to another channel, a bad channel, an over-size payload, an
event the API's ``onPublish`` rejects, a namespace the API does not have, an exception. The Event API
(``MangledEventApi``) meets each request with a random fate: a normal answer, a whole-request fault, some
events ``failed`` or left out of the answer, or a 400 for the whole publish. Every event carries its
record's ``seq``, its ``part`` (its position among the record's events) and the channel it is meant for
(``to``), so what was published can be counted.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from streambridge import (
    ApiKeyAuth,
    Bridge,
    ChannelEvent,
    ChannelEventError,
    DeadlineExceededError,
    EndpointDownError,
    HeldBackError,
    InvocationResult,
    MappingError,
    PayloadTooLargeError,
    SchemaMismatchError,
    Status,
)
from streambridge.testing import EventRejectedError, VirtualTimeLoop, events, lambda_context

from .mangled_event_api import OK, Fate, MangledEventApi

URL = "https://x.appsync-api.us-east-1.amazonaws.com/event"
NAMESPACES = ("rooms", "audit")
BLOB = "x" * 240_001
"""Over the 240 KB an event may hold."""

SENT = {"ok": 1, "pair": 2, "other": 1, "split": 2, "rejected": 1, "ghost": 1}
"""Behaviours whose events are sent, and how many events each record has."""
GOOD = {"ok", "pair", "other", "split"}
"""Behaviours whose events the Event API takes (unless a fate says otherwise)."""
UNSENDABLE = {"bad_channel", "oversize", "raise"}
"""Behaviours that fail in planning: nothing is sent."""
BEHAVIOURS = st.one_of(
    st.just("ok"),
    st.just("ok"),
    st.just("ok"),
    st.sampled_from(["skip", "pair", "other", "split"]),
    st.sampled_from(["rejected", "ghost", "bad_channel", "oversize", "raise"]),
)
FATES = st.one_of(
    st.just(OK),
    st.just(OK),
    st.builds(
        Fate,
        st.just("http"),
        status=st.sampled_from([429, 500, 503]),
        retry_after=st.sampled_from([None, "0", "2"]),
    ),
    st.builds(Fate, st.just("reset"), direct=st.booleans()),
    st.just(Fate("garbage")),
    st.just(Fate("bad_request")),
    st.builds(Fate, st.just("failed"), mask=st.integers(0, 31), code=st.sampled_from([400, 429, 500])),
    st.builds(Fate, st.just("omitted"), mask=st.integers(0, 31)),
)


def home(mode: str, key: int) -> str:
    """The channel of a key's events: the decorator's (fixed, or a function of the record), or that of the
    ChannelEvents. Keys share channels (two rooms for eight keys): events of several keys share requests."""
    return "/rooms/lobby" if mode == "fixed" else f"/rooms/r{key % 2}"


def other(key: int) -> str:
    """Another channel, of another namespace, for a ChannelEvent overriding the decorator's channel."""
    return f"/audit/r{key % 2}"


def make_mapper(mode: str, behaviours: list[str]) -> Any:
    """The mapping function: in ``fixed``/``function`` modes the decorator has a channel and a payload is
    returned; in ``events`` mode it has none and every event is a ``ChannelEvent``."""

    def mapper(record: Any) -> Any:  # noqa: PLR0911 - one return per behaviour
        image = record.new_image
        seq, key = int(image["seq"]), int(image["key"])
        behaviour = behaviours[seq]
        channel = home(mode, key)

        def payload(part: int, to: str = channel, **extra: Any) -> dict[str, Any]:
            return {"seq": seq, "part": part, "key": key, "to": to, **extra}

        def own(part: int, **extra: Any) -> Any:  # an event to the decorator's channel
            value = payload(part, **extra)
            return ChannelEvent(channel, value) if mode == "events" else value

        if behaviour == "skip":
            return None
        if behaviour == "pair":
            return [own(0), own(1)]
        if behaviour == "other":
            return ChannelEvent(other(key), payload(0, other(key)))
        if behaviour == "split":
            return [own(0), ChannelEvent(other(key), payload(1, other(key)))]
        if behaviour == "rejected":
            return own(0, reject=True)
        if behaviour == "ghost":  # a namespace the API does not have: AppSync refuses the publish
            return ChannelEvent(f"/ghost/r{key % 2}", payload(0, f"/ghost/r{key % 2}"))
        if behaviour == "bad_channel":
            return ChannelEvent(f"/rooms/r{key % 2}/not_a_segment!", payload(0))
        if behaviour == "oversize":
            return own(0, blob=BLOB)
        if behaviour == "raise":
            raise ValueError("the message cannot be mapped")
        return own(0)

    return mapper


def on_publish(_channel: str, value: Any) -> None:
    """The API's onPublish handler: it rejects the events marked so."""
    if isinstance(value, dict) and value.get("reject"):
        raise EventRejectedError("rejected by onPublish", 400)


def run(api: MangledEventApi, keys: list[int], mapper: Any, mode: str, *, timeout_ms: int,
        **options: Any) -> InvocationResult:  # fmt: skip
    """One invocation of the whole handler, on a loop whose clock jumps over every wait."""
    loop = VirtualTimeLoop()
    bridge = Bridge(URL, ApiKeyAuth("k"), transport=api, **options)
    channel: Any = None
    if mode == "fixed":
        channel = "/rooms/lobby"
    elif mode == "function":
        channel = lambda record: home(mode, int(record.new_image["key"]))  # noqa: E731
    handler = bridge.dynamodb(channel=channel, partition_key=lambda record: record.new_image["key"])(mapper)
    images = [{"keys": {"id": f"m{seq}"}, "new_image": {"id": f"m{seq}", "seq": seq, "key": key}}
              for seq, key in enumerate(keys)]  # fmt: skip

    stream = events.dynamodb(images)

    async def invoke() -> InvocationResult:
        context = lambda_context(timeout_ms=timeout_ms, clock=loop.time)
        return await handler.process_async(stream, context)

    try:
        return loop.run_until_complete(invoke())
    finally:
        loop.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.integers(1, 30).flatmap(  # as many long lists as short ones: long ones fill requests
        lambda n: st.lists(st.tuples(st.integers(0, 7), BEHAVIOURS), min_size=n, max_size=n)
    ),
    fates=st.lists(FATES, max_size=30),
    mode=st.sampled_from(["function", "fixed", "events"]),
    batch_size=st.sampled_from([1, 5, 50]),
    per_key=st.sampled_from([1, 3]),
    poison=st.sampled_from(["report", "skip"]),
    concurrency=st.sampled_from([1, 4, 16]),
    timeout_ms=st.sampled_from([120_000, 120_000, 120_000, 3_000, 700, 520]),
    latency=st.sampled_from([0.01, 0.0, 0.25]),
    sliced=st.booleans(),
)
def test_whatever_the_mapping_and_the_event_api_do_nothing_is_lost_run_twice_or_reordered(  # noqa: PLR0912, PLR0915, PLR0917
    records: list[tuple[int, str]],
    fates: list[Fate],
    mode: str,
    batch_size: int,
    per_key: int,
    poison: str,
    concurrency: int,
    timeout_ms: int,
    latency: float,
    sliced: bool,
) -> None:
    # GIVEN records over a few keys (sharing two rooms), each mapped to a random result, and an Event API
    # whose every request meets a random fate (its onPublish handler rejects the events marked so)
    keys = [key for key, _ in records]
    behaviours = [behaviour for _, behaviour in records]
    api = MangledEventApi(fates, namespaces=NAMESPACES, on_publish=on_publish, latency=latency)

    # WHEN the whole handler publishes them (planning all at once, or one record at a time)
    # (SLICE_SECONDS is patched so that planning never depends on the real clock: deterministic examples)
    with mock.patch("streambridge._engine.publish.SLICE_SECONDS", -1.0 if sliced else math.inf):
        result = run(
            api,
            keys,
            make_mapper(mode, behaviours),
            mode,
            timeout_ms=timeout_ms,
            batch_size=batch_size,
            per_key=per_key,
            poison=poison,
            concurrency=concurrency,
        )

    published = api.published
    ran = [(e.value["seq"], e.value["part"]) for e in published]
    outcomes = result.outcomes
    story = (
        f"requests: {api.log}\npublished: {ran}\n"
        f"outcomes: {[(o.status.value, str(o.error)) for o in outcomes]}"
    )
    event(f"requests: {'none' if not api.requests else 'some'}")
    for kind in {kind for kind, _ in api.log}:
        event(f"Event API answered: {kind}")
    event(f"records published: {'none' if not result.published else 'all' if result.ok else 'some'}")
    widest = max((len(json.loads(request.body)["events"]) for request in api.requests), default=0)
    event(f"most events in a request: {widest}")

    # THEN the invocation returned, every record has exactly one outcome, in record order
    assert isinstance(result, InvocationResult)
    assert [o.record.index for o in outcomes] == list(range(len(records))), story
    for outcome in outcomes:
        assert "internal error" not in str(outcome.error), story
        assert outcome.status is not Status.DEAD_LETTERED, story  # there is no sink
        if outcome.status is Status.FAILED:
            assert outcome.error is not None, story
            assert outcome.explain().startswith(outcome.record.describe()), story

    # AND no request carried more than 5 events, nor an event meant for another channel
    for request in api.requests:
        body = json.loads(request.body)
        assert 1 <= len(body["events"]) <= 5, story
        assert {json.loads(text)["to"] for text in body["events"]} == {body["channel"]}, story
    # AND no event was published twice, each to its own channel
    times = Counter(ran)
    assert all(n == 1 for n in times.values()), f"published twice: {times.most_common(3)}\n{story}"
    assert all(e.channel == e.value["to"] for e in published), story

    # AND a published record had all its events published, once; a record whose events ran in part or in
    # whole without being reported published is failed (or set aside, poison="skip"): held back behind a
    # failure of its key in the same request, or failed by an event of its own
    parts: dict[int, list[int]] = {}
    for seq, part in ran:
        parts.setdefault(seq, []).append(part)
    for outcome, behaviour in zip(outcomes, behaviours, strict=True):
        seq, status, error = outcome.record.index, outcome.status, outcome.error
        mine = parts.get(seq, [])
        if status is Status.PUBLISHED:
            assert behaviour in GOOD, story
            assert mine == list(range(SENT[behaviour])), f"record {seq} published {mine}\n{story}"
            continue
        if not mine:
            continue
        assert behaviour in GOOD, story
        assert status is Status.FAILED or (status is Status.SKIPPED and error is not None), story
        if SENT[behaviour] == 1:  # ran whole: it went out with an earlier failure of its key
            assert per_key > 1, f"record {seq} ran but is {status.value}: {error}\n{story}"
            assert status is Status.FAILED, story
            assert isinstance(error, HeldBackError), story
        elif per_key == 1:  # one event at a time: what ran is the record's first events
            assert mine == list(range(len(mine))), story
            assert len(mine) < SENT[behaviour], story

    # AND the failed records are exactly those reported to Lambda, in order, with real identifiers
    failed = [o for o in outcomes if o.status is Status.FAILED]
    assert result.batch_item_failures() == [{"itemIdentifier": o.record.item_identifier} for o in failed]
    assert all(f["itemIdentifier"] for f in result.batch_item_failures()), story

    # AND per key, what was published follows the input order, and after a failed record nothing ended well
    # and (one event of a key per request) none of the later records' events was published
    for key in set(keys):
        order = [(seq, part) for seq, part in ran if keys[seq] == key]
        assert order == sorted(order), f"key {key} reordered: {order}\n{story}"
        statuses = [(o.record.index, o.status) for o in outcomes if keys[o.record.index] == key]
        first = next((seq for seq, status in statuses if status is Status.FAILED), None)
        if first is None:
            continue
        for seq, status in statuses:
            if seq > first:
                assert status is Status.FAILED, (
                    f"key {key}: record {seq} {status.value} after {first}\n{story}"
                )
                if per_key == 1:
                    assert seq not in parts, f"key {key}: record {seq} ran after {first} failed\n{story}"

    # AND every record ended the way its mapping and the Event API's answers allow
    for outcome, behaviour in zip(outcomes, behaviours, strict=True):
        seq, status, error = outcome.record.index, outcome.status, outcome.error
        # a namespace the API lacks halts the invocation: any record not published may then fail with it
        late = (HeldBackError, DeadlineExceededError, EndpointDownError, SchemaMismatchError)
        if status is Status.SKIPPED and error is None:
            assert behaviour == "skip", story
        if status is Status.SKIPPED and error is not None:
            assert poison == "skip", story
        if behaviour == "skip":
            assert status is Status.SKIPPED or isinstance(error, late), story
        if behaviour in UNSENDABLE:  # failed in planning (or set aside), or never its turn
            assert seq not in parts, story
            if isinstance(error, (MappingError, PayloadTooLargeError)):
                assert status is (Status.FAILED if poison == "report" else Status.SKIPPED), story
                assert outcome.record.describe() in str(error), story
                if behaviour == "oversize":
                    assert isinstance(error, PayloadTooLargeError), story
            else:
                assert status is Status.FAILED, story
                assert isinstance(error, late), story
        if behaviour in ("rejected", "ghost"):  # the Event API never takes it
            assert seq not in parts, story
            assert status is not Status.PUBLISHED, story
            if status is Status.SKIPPED:
                assert isinstance(error, ChannelEventError), story
        if behaviour == "ghost":  # a setting, not a record: never set aside as poison
            assert status is Status.FAILED, story
        if behaviour in GOOD and status is not Status.PUBLISHED and isinstance(error, ChannelEventError):
            # refused for good although AppSync would take it: only when a fate refused one of its events
            assert any(ids[0] == seq for ids in api.condemned), f"record {seq}: {error}\n{story}"

    # AND with an Event API that answers every request normally and time to spare, every record ends the way
    # its mapping says: good ones published, refused ones failed (holding back their key) or set aside
    if not fates and timeout_ms == 120_000 and per_key == 1 and "ghost" not in behaviours:
        broken: set[int] = set()
        for outcome, behaviour, key in zip(outcomes, behaviours, keys, strict=True):
            status = outcome.status
            if key in broken:  # held back; or its mapping failed first, planned before the key broke
                assert status is Status.FAILED, story
                assert isinstance(outcome.error, HeldBackError) or behaviour in UNSENDABLE, story
            elif behaviour == "skip":
                assert status is Status.SKIPPED, story
            elif behaviour in GOOD:
                assert status is Status.PUBLISHED, f"record {outcome.record.index}\n{story}"
            elif poison == "skip":
                assert status is Status.SKIPPED, story
                assert outcome.error is not None, story
            else:
                assert status is Status.FAILED, story
                broken.add(key)
