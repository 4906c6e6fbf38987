"""The dispatcher on its own: a lane's life and a request's life, one test per transition.

No GraphQL and no network: a tiny target whose items are the mapping function's strings (a request's body
is the JSON list of them), a scripted in-memory endpoint answering per item or for the request as a whole,
and a fake clock, so that waits and the deadline cost no real time. A record's value names its key by
its first letter: ``a1`` and ``a2`` are two changes of key ``a``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import pytest
import tenacity

from streambridge._engine.batch import Limits, take_batch
from streambridge._engine.lanes import BROKEN, IDLE, IN_FLIGHT, READY, Lane, Step
from streambridge._engine.plan import Planner, Planning
from streambridge._engine.publish import Counters, Endpoint, publish
from streambridge._engine.result import Ledger, RecordOutcome, Status
from streambridge._engine.retry import Deadline, RetryPolicy
from streambridge._errors import (
    AuthorizationError,
    ConfigurationError,
    DeadlineExceededError,
    GraphQLError,
    HeldBackError,
    MappingError,
    PublishError,
    ServerError,
    StreambridgeError,
    ThrottledError,
)
from streambridge._io.transport import HttpResponse
from streambridge._sources import SOURCES
from streambridge._targets.base import Answer, Rendered
from streambridge.testing import events

# -- a tiny target, a scripted endpoint, a fake clock ----------------------------------------------------


class Item(NamedTuple):
    value: str
    size: int = 10
    shares: Hashable | None = "any"


class EchoTarget:
    """One item per record (the mapping function's string; None skips); a body is the list of values.

    An answer is ``{"items": {position: kind}}`` (positions absent succeeded) or ``{"request": kind}``.
    """

    def prepare(self, record: Any, result: Any) -> Sequence[Item]:
        return [] if result is None else [Item(result)]

    def render(self, items: Sequence[Any]) -> Rendered:
        return Rendered(json.dumps([item.value for item in items]).encode(), len(items))

    def interpret(self, response: HttpResponse, keys: Any) -> Answer:
        reply = json.loads(response.body)
        if "request" in reply:
            return Answer(request_error=ERRORS[reply["request"]]())
        return Answer(errors={int(position): ERRORS[kind]() for position, kind in reply["items"].items()})


ERRORS: dict[str, Callable[[], PublishError]] = {
    "throttled": lambda: ThrottledError("throttled"),
    "throttled, retry after 3 s": lambda: ThrottledError("throttled", retry_after=3.0),
    "down": lambda: ServerError("AppSync answered HTTP 503"),
    "rejected": lambda: GraphQLError("rejected by the resolver"),
    "invalid": lambda: GraphQLError("a variable got an invalid value"),
    "unauthorized": lambda: AuthorizationError("AppSync refused the credentials"),
}

Reply = Callable[[list[str]], dict[str, Any]]


def per_item(**script: list[str]) -> Reply:
    """Each value's answers, one each time it is sent; "ok" once its script runs out."""
    left = {value: deque(kinds) for value, kinds in script.items()}

    def reply(values: list[str]) -> dict[str, Any]:
        kinds = {position: left[value].popleft() for position, value in enumerate(values) if left.get(value)}
        return {"items": {position: kind for position, kind in kinds.items() if kind != "ok"}}

    return reply


def whole(*kinds: str, when: Callable[[list[str]], bool] = lambda _: True) -> Reply:
    """The requests ``when`` picks fail as a whole with ``kinds``, in turn, then succeed."""
    left = deque(kinds)

    def reply(values: list[str]) -> dict[str, Any]:
        return {"request": left.popleft()} if left and when(values) else {"items": {}}

    return reply


class Clock:
    """A fake monotonic clock; ``sleep`` moves it on at once and notes the wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Scripted:
    """An in-memory endpoint: answers each request by ``reply``, after ``latency`` seconds of the clock."""

    def __init__(self, reply: Reply, clock: Clock, latency: float = 0.0) -> None:
        self.reply, self.clock, self.latency = reply, clock, latency
        self.sent: list[list[str]] = []
        self.timeouts: list[float] = []
        self.in_flight = self.max_in_flight = 0

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        values = json.loads(body)
        self.sent.append(values)
        self.timeouts.append(timeout)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0)  # the others go out meanwhile
        self.in_flight -= 1
        self.clock.now += self.latency
        return HttpResponse(200, {}, json.dumps(self.reply(values)).encode())

    async def close(self) -> None:
        pass


class NoAuth:
    def check_endpoint(self, url: str) -> None:
        pass

    def validate(self, url: str) -> None:
        pass

    def headers(self, url: str, body: bytes) -> Mapping[str, str]:
        return {}


class Sink:
    """A dead-letter sink that takes every letter but those whose value is in ``refuse``."""

    def __init__(self, ledger: Ledger, refuse: Sequence[str] = ()) -> None:
        self.ledger, self.refuse = ledger, set(refuse)
        self.letters: list[str] = []

    async def __call__(self, letters: list[tuple[int, StreambridgeError]]) -> set[int]:
        values = [self.ledger.records[index].new_image["v"] for index, _ in letters]  # type: ignore[attr-defined]
        self.letters.extend(values)
        return {position for position, value in enumerate(values) if value in self.refuse}


class Run(NamedTuple):
    outcomes: list[RecordOutcome]
    counters: Counters
    sent: list[list[str]]
    endpoint: Scripted

    def statuses(self) -> list[str]:
        return [outcome.status.value for outcome in self.outcomes]

    def error(self, position: int) -> StreambridgeError:
        error = self.outcomes[position].error
        assert error is not None
        return error


def records_of(values: Sequence[str]) -> Any:
    event = events.dynamodb([{"new_image": {"id": str(i), "v": value}} for i, value in enumerate(values)])
    return SOURCES["dynamodb"].parse(event)


def planner_for(values: Sequence[str], mapper: Callable[[Any], Any] | None = None, **options: Any) -> Planner:
    records = records_of(values)
    planning = Planning(EchoTarget(), partition_key=lambda record: record.new_image["v"][0])
    mapper = mapper or (
        lambda record: None if record.new_image["v"].endswith("skip") else record.new_image["v"]
    )
    return Planner(records, mapper, planning, Ledger(records), **options)


def run(
    values: Sequence[str],
    reply: Reply | None = None,
    *,
    planner: Planner | None = None,
    clock: Clock | None = None,
    latency: float = 0.0,
    remaining: float | None = None,
    limits: Limits = Limits(max_mutations=10),  # noqa: B008 - an immutable NamedTuple
    retry: RetryPolicy = RetryPolicy(attempts=3, wait=tenacity.wait_fixed(0.5)),  # noqa: B008
    concurrency: int = 4,
    auth: Any = None,
    sink: Callable[[Ledger], Sink] | None = None,
) -> Run:
    """Publish ``values`` through the dispatcher against a scripted endpoint, on a fake clock."""
    clock = clock or Clock()
    planner = planner or planner_for(values, dead_letter=sink is not None)
    endpoint = Scripted(reply or per_item(), clock, latency)
    milliseconds = None if remaining is None else (lambda: int(remaining * 1000))
    counters = asyncio.run(
        publish(
            planner,
            connect=lambda: Endpoint("https://appsync.test/graphql", auth or NoAuth(), endpoint),
            concurrency=concurrency,
            limits=limits,
            retry=retry,
            deadline=Deadline(milliseconds, margin=0.0, clock=clock),
            dead_letter=None if sink is None else sink(planner.ledger),
            sleep=clock.sleep,
        )
    )
    outcomes = list(planner.ledger.close(PublishError("left unsettled")))
    return Run(outcomes, counters, endpoint.sent, endpoint)


# -- a lane's life ---------------------------------------------------------------------------------------


def lane_of(*records: int, key: str = "a") -> Lane:
    lane = Lane(key)
    for record in records:
        lane.plan(Step(record, Item(f"{key}{record}"), last=True))
    return lane


def test_offer_makes_an_idle_lane_with_steps_ready_once() -> None:
    # GIVEN an idle lane with a step, and an idle lane without
    ready: deque[Lane] = deque()
    lane, empty = lane_of(0), Lane("b")
    # WHEN both are offered, the first one twice
    lane.offer(ready)
    lane.offer(ready)
    empty.offer(ready)
    # THEN only the lane with a step is ready, queued once
    assert (lane.state, empty.state) == (READY, IDLE)
    assert list(ready) == [lane]


def test_take_puts_the_head_steps_in_flight() -> None:
    # GIVEN a ready lane of three steps
    lane = lane_of(0, 1, 2)
    lane.offer(deque())
    # WHEN two are taken
    taken = lane.take(2)
    # THEN they are in flight, and the third waits
    assert lane.state is IN_FLIGHT
    assert [step.record for step in taken] == [step.record for step in lane.flight] == [0, 1]
    assert [step.record for step in lane.steps] == [2]


def test_a_lane_with_only_skips_left_rests_when_taken_from_the_queue() -> None:
    # GIVEN a ready lane whose steps are two skipped records
    records = records_of(["askip", "askip"])
    ledger = Ledger(records)
    lane = Lane("a")
    for index in (0, 1):
        lane.plan(Step(index, None, last=True))
    ready: deque[Lane] = deque()
    lane.offer(ready)
    # WHEN a batch is taken
    batch = take_batch(ready, ledger, Limits())
    # THEN the skips are settled, the lane left the queue and is idle: no request for it
    assert batch == []
    assert not ready
    assert lane.state is IDLE
    assert [outcome.status for outcome in ledger.close(PublishError("open"))] == [Status.SKIPPED] * 2


def test_succeed_makes_the_lane_ready_again_or_idle_when_nothing_is_left() -> None:
    # GIVEN two lanes in flight, one with a step still waiting
    ready: deque[Lane] = deque()
    more, last = lane_of(0, 1), lane_of(2, key="b")
    for lane in (more, last):
        lane.offer(deque())
        lane.take(1)
    # WHEN their steps in flight succeed
    more.succeed(ready)
    last.succeed(ready)
    # THEN the one with a step left is ready again, queued, the other idle
    assert (more.state, last.state) == (READY, IDLE)
    assert list(ready) == [more]
    assert not more.flight
    assert not last.flight


def test_succeed_after_a_dead_letter_drops_the_records_other_steps() -> None:
    # GIVEN a lane in flight with record 0's first item; its second item and record 1 wait
    lane = Lane("a")
    lane.plan(Step(0, Item("a0"), last=False))
    lane.plan(Step(0, Item("a0'"), last=True))
    lane.plan(Step(1, Item("a1"), last=True))
    lane.offer(deque())
    lane.take(1)
    # WHEN record 0 went to the dead-letter sink whole
    lane.succeed(deque(), dead_lettered=0)
    # THEN its other item is never sent, and the key goes on with record 1
    assert [step.record for step in lane.steps] == [1]


def test_retry_keeps_the_lane_in_flight_with_only_the_step_to_try_again() -> None:
    # GIVEN a lane with two steps in flight (packing) and one waiting
    lane = lane_of(0, 1, 2)
    lane.offer(deque())
    first, second = lane.take(2)
    # WHEN the second is to be tried again (the first succeeded)
    lane.retry(second)
    # THEN the lane stays in flight with that step only; the waiting one still waits
    assert lane.state is IN_FLIGHT
    assert list(lane.flight) == [second]
    assert lane.holds(second)
    assert not lane.holds(first)


def test_give_back_returns_the_steps_in_flight_to_the_head_to_go_alone() -> None:
    # GIVEN a lane with two steps in flight and one waiting
    lane = lane_of(0, 1, 2)
    lane.offer(deque())
    lane.take(2)
    ready: deque[Lane] = deque()
    # WHEN its batch failed as a whole and the lane is given back
    lane.give_back(ready, alone=True)
    # THEN its steps are back in order, it is ready and queued, and its head goes alone
    assert [step.record for step in lane.steps] == [0, 1, 2]
    assert (lane.state, lane.solo, list(ready)) == (READY, True, [lane])
    assert not lane.flight


def test_fail_for_good_breaks_the_lane_and_holds_back_the_later_steps() -> None:
    # GIVEN a lane with record 0 in flight and records 1 and 2 waiting
    records = records_of(["a0", "a1", "a2"])
    ledger = Ledger(records)
    lane = lane_of(0, 1, 2)
    lane.offer(deque())
    lane.take(1)
    # WHEN record 0 failed for good
    ledger.fail(0, GraphQLError("rejected"))
    lane.fail_for_good(ledger, records[0])
    # THEN the lane is broken, and the later records are held back, never sent, naming the culprit
    assert lane.state is BROKEN
    assert lane.culprit is records[0]
    assert not lane.steps
    held = ledger.close(PublishError("open"))[1:]
    assert all(isinstance(outcome.error, HeldBackError) for outcome in held)
    culprit = records[0].describe()
    assert (
        str(held[0].error)
        == f"{records[1].describe()}: not sent because {culprit} of the same partition key failed"
    )


def test_a_mapping_failure_refuses_the_keys_later_records_but_its_earlier_steps_still_go() -> None:
    # GIVEN a1 maps, a2's mapping raises, a3 comes after
    def mapper(record: Any) -> str:
        if record.new_image["v"] == "a2":
            raise MappingError("no")
        return str(record.new_image["v"])

    planner = planner_for(["a1", "a2", "a3"], mapper)
    # WHEN planned
    (lane,) = planner.plan()
    # THEN a1 is a step of the lane, a3 is held back behind a2 without being mapped, and the lane is idle
    assert [step.record for step in lane.steps] == [0]
    assert lane.state is IDLE
    assert lane.culprit is planner.records[1]
    assert isinstance(planner.ledger.close(PublishError("open"))[2].error, HeldBackError)


# -- a request's life ------------------------------------------------------------------------------------


def test_a_first_try_that_succeeds_publishes_every_record_in_one_request() -> None:
    # GIVEN three keys
    # WHEN published against an endpoint that accepts everything
    result = run(["a1", "b1", "c1"])
    # THEN one request carried them, nothing was retried, nothing waited
    assert result.statuses() == ["published"] * 3
    assert result.sent == [["a1", "b1", "c1"]]
    assert (result.counters.requests, result.counters.retries) == (1, 0)


def test_a_transient_error_is_retried_alone_after_the_policys_wait_and_then_succeeds() -> None:
    # GIVEN b1 is throttled once
    clock = Clock()
    # WHEN a1, b1, c1 are published
    result = run(["a1", "b1", "c1"], per_item(b1=["throttled"]), clock=clock)
    # THEN only b1 is sent again, after the policy's wait, and all are published
    assert result.statuses() == ["published"] * 3
    assert result.sent == [["a1", "b1", "c1"], ["b1"]]
    assert clock.slept == [0.5]
    assert (result.counters.requests, result.counters.retries) == (2, 1)


def test_a_retry_waits_at_least_what_retry_after_says() -> None:
    # GIVEN the request is throttled with Retry-After: 3 s, more than the policy's 0.5 s
    clock = Clock()
    # WHEN published
    result = run(["a1"], whole("throttled, retry after 3 s"), clock=clock)
    # THEN the retry waited 3 s and succeeded
    assert clock.slept == [3.0]
    assert result.statuses() == ["published"]


def test_a_retry_never_lets_the_keys_next_change_overtake_it() -> None:
    # GIVEN a1 is throttled twice, and a2 follows it
    # WHEN published
    result = run(["a1", "a2", "b1"], per_item(a1=["throttled", "throttled"]))
    # THEN a2 goes out only after a1 succeeded
    assert result.statuses() == ["published"] * 3
    assert result.sent == [["a1", "b1"], ["a1"], ["a1"], ["a2"]]


def test_exhausted_retries_fail_the_record_and_hold_back_its_key() -> None:
    # GIVEN AppSync is down for a1 on each of the policy's three attempts; b1 goes through
    clock = Clock()
    # WHEN a1, a2 and b1 are published
    result = run(["a1", "a2", "b1"], per_item(a1=["down"] * 3), clock=clock)
    # THEN a1 failed with the last transient error, a2 is held back unsent, b1 is published
    assert result.statuses() == ["failed", "failed", "published"]
    assert isinstance(result.error(0), ServerError)
    assert isinstance(result.error(1), HeldBackError)
    assert ["a2"] not in result.sent
    assert (result.counters.requests, result.counters.retries) == (3, 2)
    assert clock.slept == [0.5, 0.5]


def test_a_field_error_fails_that_step_and_holds_back_its_keys_later_steps() -> None:
    # GIVEN the resolver rejects a1
    # WHEN a1, b1, a2, b2 are published
    result = run(["a1", "b1", "a2", "b2"], per_item(a1=["rejected"]))
    # THEN a1 failed with its error and is not retried, a2 is held back unsent, key b goes on
    assert result.statuses() == ["failed", "published", "failed", "published"]
    assert isinstance(result.error(0), GraphQLError)
    assert isinstance(result.error(2), HeldBackError)
    assert result.sent == [["a1", "b1"], ["b2"]]


def test_with_packing_a_step_after_a_failed_one_in_the_same_request_is_reported_failed() -> None:
    # GIVEN two changes of a key packed into one request, the first rejected, the second run
    # WHEN published
    result = run(["a1", "a2"], per_item(a1=["rejected"]), limits=Limits(per_key=2))
    # THEN the second is reported failed behind the first (it went out with it), for re-delivery
    assert result.sent == [["a1", "a2"]]
    assert result.statuses() == ["failed", "failed"]
    assert "a2" not in str(result.error(0))
    assert "reported failed because" in str(result.error(1))


def test_a_request_failed_as_a_whole_is_split_into_lanes_sent_alone() -> None:
    # GIVEN AppSync rejects as a whole any request carrying b1 (an invalid variable)
    reply = whole("invalid", "invalid", when=lambda values: "b1" in values)
    # WHEN a1, b1, c1 are published
    result = run(["a1", "b1", "c1"], reply)
    # THEN each was then sent alone: only the culprit failed, with the request's error
    assert result.sent[0] == ["a1", "b1", "c1"]
    assert sorted(result.sent[1:]) == [["a1"], ["b1"], ["c1"]]
    assert result.statuses() == ["published", "failed", "published"]
    assert isinstance(result.error(1), GraphQLError)
    assert result.counters.retries == 0


def test_the_dead_letter_sink_takes_a_rejected_step_and_the_key_goes_on() -> None:
    # GIVEN a sink, and the resolver rejects a1
    # WHEN a1 and a2 are published
    result = run(["a1", "a2"], per_item(a1=["rejected"]), sink=Sink)
    # THEN a1 is dead-lettered and a2 published after it
    assert result.statuses() == ["dead_lettered", "published"]
    assert result.sent == [["a1"], ["a2"]]


def test_a_record_whose_mapping_failed_goes_to_the_sink_when_it_reaches_the_head() -> None:
    # GIVEN a sink, and a2's mapping raises
    def mapper(record: Any) -> str:
        if record.new_image["v"] == "a2":
            raise MappingError("no")
        return str(record.new_image["v"])

    sinks: list[Sink] = []

    def sink(ledger: Ledger) -> Sink:
        sinks.append(Sink(ledger))
        return sinks[0]

    # WHEN a1, a2, a3 are published
    result = run(
        ["a1", "a2", "a3"], planner=planner_for(["a1", "a2", "a3"], mapper, dead_letter=True), sink=sink
    )
    # THEN a2 went to the sink after a1 was published, and a3 after it
    assert result.statuses() == ["published", "dead_lettered", "published"]
    assert sinks[0].letters == ["a2"]
    assert result.sent == [["a1"], ["a3"]]


def test_a_letter_the_sink_refuses_fails_and_holds_back_its_key() -> None:
    # GIVEN a sink that refuses a1's letter, and the resolver rejects a1
    # WHEN a1, a2, b1 are published
    result = run(["a1", "a2", "b1"], per_item(a1=["rejected"]), sink=lambda ledger: Sink(ledger, ["a1"]))
    # THEN a1 failed with its own error, as without a sink, a2 is held back, b1 published
    assert result.statuses() == ["failed", "failed", "published"]
    assert isinstance(result.error(0), GraphQLError)
    assert isinstance(result.error(1), HeldBackError)
    assert ["a2"] not in result.sent


def test_the_deadline_stops_new_requests_and_fails_the_rest() -> None:
    # GIVEN 1 s of work time, requests that take 0.6 s each, one request at a time of one record
    clock = Clock()
    # WHEN three keys are published
    result = run(
        ["a1", "b1", "c1"],
        clock=clock,
        latency=0.6,
        remaining=1.0,
        concurrency=1,
        limits=Limits(max_mutations=1),
    )
    # THEN the second request may take only what was left; the third never starts and its record fails
    assert result.sent == [["a1"], ["b1"]]
    assert result.endpoint.timeouts == [1.0, pytest.approx(0.4)]
    assert result.statuses() == ["published", "published", "failed"]
    assert isinstance(result.error(2), DeadlineExceededError)


def test_a_retry_whose_wait_would_pass_the_deadline_gives_up_at_once() -> None:
    # GIVEN 1.5 s of work time, requests taking 0.2 s, a wait of 1 s between attempts, and a1 always throttled
    clock = Clock()
    retry = RetryPolicy(attempts=5, wait=tenacity.wait_fixed(1.0))
    # WHEN published
    result = run(["a1"], per_item(a1=["throttled"] * 5), clock=clock, latency=0.2, remaining=1.5, retry=retry)
    # THEN it was tried twice: a third try would start past the deadline; a1 fails for the deadline, as
    # docs/semantics.md says, with the throttling kept as the cause and in the message
    assert result.counters.requests == 2
    assert clock.slept == [1.0]
    error = result.error(0)
    assert isinstance(error, DeadlineExceededError)
    assert isinstance(error.__cause__, ThrottledError)
    assert "throttl" in str(error)


class Hanging(Scripted):
    """Never answers: only the hard stop ends its requests."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        self.sent.append(json.loads(body))
        await asyncio.Event().wait()
        raise AssertionError  # pragma: no cover


def test_the_hard_stop_fails_what_is_in_flight_and_holds_back_its_key() -> None:
    # GIVEN an endpoint that never answers, 0.1 s of work time (hard stop 0.05 s later), one request at a time
    planner = planner_for(["a1", "a2", "b1"])
    endpoint = Hanging(per_item(), Clock())
    # WHEN published (on the real clock: the hard stop is the event loop's)
    asyncio.run(
        publish(
            planner,
            connect=lambda: Endpoint("https://appsync.test/graphql", NoAuth(), endpoint),
            concurrency=1,
            limits=Limits(max_mutations=1),
            retry=RetryPolicy(),
            deadline=Deadline(lambda: 200, margin=0.1),
        )
    )
    outcomes = planner.ledger.close(PublishError("left unsettled"))
    # THEN a1, in flight, failed with the deadline; a2 is held back behind it; b1 was never sent
    assert endpoint.sent == [["a1"]]
    assert "in flight" in str(outcomes[0].error)
    assert isinstance(outcomes[1].error, HeldBackError)
    assert isinstance(outcomes[2].error, DeadlineExceededError)
    assert "not sent" in str(outcomes[2].error)


def test_an_idle_lane_is_offered_again_when_its_key_gets_new_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN records planned one at a time, and a lane whose first change is published before its next one
    monkeypatch.setattr("streambridge._engine.publish.SLICE_SECONDS", 0.0)
    seen: list[object] = []

    def mapper(record: Any) -> str:
        if record.new_image["v"] == "a2":
            seen.append(planner.lanes["a"].state)
        return str(record.new_image["v"])

    planner = planner_for(["a1", "b1", "c1", "d1", "a2"], mapper)
    # WHEN published a request of one record at a time
    result = run([], planner=planner, limits=Limits(max_mutations=1))
    # THEN when a2 was planned its lane was idle, and it was offered again: a2 published after a1
    assert seen == [IDLE]
    assert result.statuses() == ["published"] * 5
    assert result.sent.index(["a2"]) > result.sent.index(["a1"])


def test_refused_credentials_stop_all_sending() -> None:
    # GIVEN AppSync refuses the credentials, one request at a time of one record
    # WHEN three keys are published
    result = run(["a1", "b1", "c1"], whole("unauthorized"), concurrency=1, limits=Limits(max_mutations=1))
    # THEN one request was sent, never retried, and every record failed with the refusal
    assert result.sent == [["a1"]]
    assert result.counters.retries == 0
    assert result.statuses() == ["failed"] * 3
    assert all(isinstance(outcome.error, AuthorizationError) for outcome in result.outcomes)


class TokenReturningNothingOnce(NoAuth):
    """As ``TokenAuth`` raises when its token callable returns nothing; here the first time only."""

    def __init__(self) -> None:
        self.calls = 0

    def headers(self, url: str, body: bytes) -> Mapping[str, str]:
        self.calls += 1
        if self.calls == 1:
            raise ConfigurationError("the token returned by the TokenAuth callable is empty")
        return {}


def test_an_auth_that_cannot_work_fails_the_records_with_its_own_message_and_stops_sending(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN an auth whose headers raise ConfigurationError, one request at a time of one record
    caplog.set_level(logging.DEBUG, logger="streambridge")
    auth = TokenReturningNothingOnce()
    # WHEN three keys are published
    result = run(["a1", "b1", "c1"], auth=auth, concurrency=1, limits=Limits(max_mutations=1))
    # THEN no other request was tried, and every record failed with that error itself
    assert (auth.calls, result.sent) == (1, [])
    assert result.statuses() == ["failed"] * 3
    assert all(isinstance(outcome.error, ConfigurationError) for outcome in result.outcomes)
    assert str(result.error(2)) == "the token returned by the TokenAuth callable is empty"
    # AND it is not reported as an internal error, nor logged with a traceback
    assert not [r for r in caplog.records if "internal error" in r.getMessage() or r.exc_info]


class BrokenTarget(EchoTarget):
    def __init__(self, broken: str) -> None:
        self.broken = broken

    def render(self, items: Sequence[Any]) -> Rendered:
        if self.broken == "render":
            raise ValueError("a bug")
        return super().render(items)

    def interpret(self, response: HttpResponse, keys: Any) -> Answer:
        if self.broken == "interpret":
            raise ValueError("a bug")
        return super().interpret(response, keys)


def publish_through(target: EchoTarget, endpoint: Scripted) -> Sequence[Any]:
    """Publish a1, a2, b1 through ``target`` one request at a time; the outcomes."""
    records = records_of(["a1", "a2", "b1"])
    planning = Planning(target, partition_key=lambda record: record.new_image["v"][0])
    planner = Planner(records, lambda record: record.new_image["v"], planning, Ledger(records))
    asyncio.run(
        publish(
            planner,
            connect=lambda: Endpoint("https://appsync.test/graphql", NoAuth(), endpoint),
            concurrency=1,
            limits=Limits(),
            retry=RetryPolicy(),
            deadline=Deadline(None, margin=0.0),
        )
    )
    return planner.ledger.close(PublishError("left unsettled"))


def test_an_internal_error_fails_what_the_request_holds_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a target with a bug in building requests (a transport's own errors are failed connections)
    # WHEN published
    outcomes = publish_through(BrokenTarget("render"), Scripted(per_item(), Clock()))
    # THEN the steps it carried failed naming the bug, logged with its traceback; a2 is held back
    assert [str(o.error) for o in (outcomes[0], outcomes[2])] == ["internal error: ValueError: a bug"] * 2
    assert isinstance(outcomes[1].error, HeldBackError)
    assert any(r.exc_info for r in caplog.records if "internal error" in r.getMessage())


def test_an_answer_the_target_cannot_read_fails_its_records_once_and_the_governor_learns_of_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a target with a bug in reading answers
    endpoint = Scripted(per_item(), Clock())
    # WHEN published
    outcomes = publish_through(BrokenTarget("interpret"), endpoint)
    # THEN the request went out once (it may have run: never again), its records failed for re-delivery
    # (a2 held back behind a1), not dead-letterable, and the bug is logged with its traceback
    assert endpoint.sent == [["a1", "b1"]]
    assert [o.status.value for o in outcomes] == ["failed"] * 3
    assert isinstance(outcomes[1].error, HeldBackError)
    assert "could not be read: ValueError: a bug" in str(outcomes[0].error)
    assert outcomes[0].error is not None
    assert not outcomes[0].error.dead_letterable
    assert any(r.exc_info for r in caplog.records if "internal error" in r.getMessage())


def test_the_governor_keeps_at_most_concurrency_requests_going() -> None:
    # GIVEN twelve keys, requests of one record
    # WHEN published with a concurrency of 3
    result = run([f"{chr(97 + i)}1" for i in range(12)], concurrency=3, limits=Limits(max_mutations=1))
    # THEN all are published, never more than 3 requests at once
    assert result.statuses() == ["published"] * 12
    assert result.endpoint.max_in_flight == 3
