"""The publisher: sends the lanes' heads in batched requests, concurrently across keys, in order per key.

A lane is either ready (its head can go out), in flight (exactly one request holds its steps), or idle.
A lane goes back to ready only once its steps in flight have all succeeded, so a key's next change never
overtakes the previous one, retries included.

Planning and sending overlap: the dispatcher plans records a slice at a time (half a millisecond of CPU,
``SLICE_SECONDS``) and sends full batches as soon as they form, so the first requests are on the wire while
later records are still being mapped. An idle lane that gets new steps is offered again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streambridge._engine.batch import Limits, Request, render, take_batch
from streambridge._engine.plan import Lane, Planner, Step
from streambridge._engine.retry import Deadline, RetryPolicy, controllers, replayable
from streambridge._errors import (
    AuthorizationError,
    DeadlineExceededError,
    HeldBackError,
    PublishError,
    RequestTimeoutError,
    StreambridgeError,
    can_dead_letter,
    is_retryable,
)
from streambridge._io.transport import Auth, Transport
from streambridge._targets.base import Answer

if TYPE_CHECKING:
    import tenacity

logger = logging.getLogger("streambridge")

Pending = list[tuple[Lane, Step]]


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send."""

    url: str
    auth: Auth
    transport: Transport
    request_timeout: float = 10.0


SLICE_SECONDS = 0.0005
"""CPU spent planning between two looks at the network. Measured at 20 ms of latency: 2 ms slices delayed
each answer by about 8 ms (reading it, settling it and sending the lanes' next steps each wait for the loop),
which cost 25% of the run; half a millisecond keeps that under 2 ms for a few percent of CPU."""
LOOK = 2
"""Event loop passes per look: a response read in the first pass settles its lanes in the second."""

SendDeadLetters = Callable[[list[tuple[int, StreambridgeError]]], Awaitable[set[int]]]
"""Hands (record index, error) pairs to the dead-letter sink; returns the positions it could not take."""


@dataclass
class _Poisoned:
    """A lane's step that failed for good, on its way to the dead-letter sink."""

    lane: Lane
    step: Step
    error: StreambridgeError
    after: list[tuple[Step, PublishError | None]] = field(default_factory=list)
    """Later steps of the lane that ran in the same request (packing), with their outcome."""


@dataclass
class Counters:
    """What the publisher did, for the summary line."""

    requests: int = 0
    retries: int = 0


async def publish(
    planner: Planner,
    *,
    connect: Callable[[], Endpoint],
    concurrency: int,
    limits: Limits,
    retry: RetryPolicy,
    deadline: Deadline,
    dead_letter: SendDeadLetters | None = None,
) -> Counters:
    """Plan and publish every record of ``planner``; on return each one is settled in the ledger.

    ``connect`` is called before the first request (not at all when every record is skipped); what it
    raises, such as a missing URL, propagates.
    """
    run = _Run(
        planner,
        connect=connect,
        concurrency=concurrency,
        limits=limits,
        retry=retry,
        deadline=deadline,
        dead_letter=dead_letter,
    )
    await run.go()
    return run.counters


class _Run:
    def __init__(
        self,
        planner: Planner,
        *,
        connect: Callable[[], Endpoint],
        concurrency: int,
        limits: Limits,
        retry: RetryPolicy,
        deadline: Deadline,
        dead_letter: SendDeadLetters | None = None,
    ) -> None:
        self.planner = planner
        self.ledger = planner.ledger
        self.connect = connect
        self.endpoint: Endpoint | None = None
        self.concurrency = concurrency
        self.limits = limits
        self.retry = retry
        self.deadline = deadline
        self.dead_letter = dead_letter
        self.ready: deque[Lane] = deque()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wakeup = asyncio.Event()
        self.fatal: StreambridgeError | None = None
        self.counters = Counters()
        self.first_try_alone = replayable(retry)

    @functools.cached_property
    def retrying(self) -> Callable[[], tenacity.AsyncRetrying]:
        """Built on the first retry: tenacity loads only when a request fails."""
        counters = self.counters

        def count_retry() -> None:  # holds the counters only: tenacity's state is a reference cycle
            counters.retries += 1

        return controllers(self.retry, self.deadline, count_retry)

    async def go(self) -> None:
        # The hard stop: half the margin after the working time; requests are bounded well before it.
        limit = self.deadline.remaining() + self.deadline.margin / 2
        try:
            await asyncio.wait_for(
                self._dispatch(), timeout=None if limit == float("inf") else max(limit, 0.0)
            )
        except asyncio.TimeoutError:
            logger.warning(
                "streambridge: Lambda deadline reached with requests in flight; reporting them failed"
            )
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        cause = self.fatal or DeadlineExceededError(
            "not sent: the Lambda deadline was too near (the record is reported failed for re-delivery)"
        )
        self.planner.abandon(cause)
        for lane in self.planner.lanes.values():
            lane.fail_all(self.ledger, cause)

    def stopping(self) -> bool:
        return self.fatal is not None or self.deadline.expired()

    async def _dispatch(self) -> None:
        planner = self.planner
        while True:
            self._fill()
            if not planner.done and not self.stopping():
                for _ in range(LOOK if self.tasks else 0):
                    await asyncio.sleep(0)  # let the requests just started go out, and answers come in
                # Coalescing needs every change of a key before choosing the latest: plan all at once.
                budget = max(self.deadline.remaining(), 0.0) if planner.planning.coalesce else SLICE_SECONDS
                self._offer(planner.plan(until=time.monotonic() + budget))
                continue
            if not self.tasks:
                return
            self.wakeup.clear()
            await self.wakeup.wait()

    def _fill(self) -> None:
        """Start requests for the ready lanes, as many as the concurrency allows."""
        limits, planning_on = self.limits, not self.planner.done
        while self.ready and len(self.tasks) < self.concurrency and not self.stopping():
            if planning_on and len(self.ready) * limits.per_key < limits.max_mutations:
                return  # more records are coming: wait until they fill a request
            poisoned: list[Lane] = []
            batch = take_batch(self.ready, self.ledger, limits, poisoned)
            if poisoned:
                self._start(self._dead_letter_planned(poisoned))
            if batch:
                if self.endpoint is None:
                    self.endpoint = self.connect()
                self._start(self._send([(lane, s) for lane, steps in batch for s in steps]))

    def _start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _offer(self, lanes: list[Lane]) -> None:
        """Lanes that got new steps: an idle one becomes ready (one the publisher holds already is)."""
        for lane in lanes:
            if not lane.queued and lane.steps:
                lane.queued = True
                self.ready.append(lane)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.wakeup.set()

    def _release(self, lane: Lane) -> None:
        if lane.steps:
            self.ready.append(lane)
            self.wakeup.set()
        else:
            lane.queued = False

    async def _send(self, pending: Pending) -> None:
        """Send one request, retrying transient failures; settle every step it carries."""
        try:
            await self._attempts(pending)
        except PublishError as error:
            if self.dead_letter is not None and can_dead_letter(error):
                await self._dead_letter_heads(pending, error)
            else:
                self._fail(pending, error)
        except asyncio.CancelledError:
            self._fail(
                pending, DeadlineExceededError("the Lambda deadline came while the request was in flight")
            )
            raise
        except Exception as error:  # a bug must not lose records: fail them and say why
            logger.exception("streambridge: internal error while publishing")
            self._fail(pending, PublishError(f"internal error: {type(error).__name__}: {error}"))

    async def _attempts(self, pending: Pending) -> None:
        """Try until settled or the policy gives up (raising the last error)."""
        failed: Exception | None = None
        if self.first_try_alone:  # most requests succeed at once: no tenacity machinery for them
            try:
                await self._attempt(pending)
            except Exception as error:
                if not is_retryable(error):
                    raise
                failed = error
            else:
                return
        async for attempt in self.retrying():
            with attempt:
                if failed is not None:  # tenacity takes the try above as its first attempt
                    first, failed = failed, None
                    raise first
                await self._attempt(pending)

    async def _attempt(self, pending: Pending) -> None:
        """One try. Settles what it can; leaves in ``pending`` only what should be tried again."""
        budget = self.deadline.remaining()
        if budget < self.deadline.minimum_request:
            raise DeadlineExceededError("not sent: the Lambda deadline was too near")
        target = self.planner.planning.target
        request = render(target, pending)
        endpoint = self.endpoint
        assert endpoint is not None  # noqa: S101 - connected before the first request starts
        headers = endpoint.auth.headers(endpoint.url, request.body)
        self.counters.requests += 1
        try:
            response = await endpoint.transport.post(
                endpoint.url, request.body, headers, min(endpoint.request_timeout, budget)
            )
        except RequestTimeoutError as error:
            if budget < endpoint.request_timeout:  # the deadline, not AppSync's slowness, cut it short
                raise DeadlineExceededError(
                    f"the Lambda deadline came while waiting for AppSync ({budget:.3f} s were left)"
                ) from error
            raise
        answer = target.interpret(response, request.keys)
        if answer.request_error is not None:
            self._request_failed(pending, answer.request_error)
            return
        retry_later, poisoned = self._settle(request, answer)
        if poisoned:
            await self._settle_poisoned(poisoned)
        pending[:] = retry_later
        if pending:
            raise answer.errors[request.entries.index(pending[0])]

    def _request_failed(self, pending: Pending, error: PublishError) -> None:
        """The request failed as a whole: retry it, give up, or split it to find the culprit."""
        if isinstance(error, AuthorizationError):
            self.fatal = error  # every later request would be refused the same way
            self.wakeup.set()
            raise error
        if error.retryable or len(pending) == 1:
            raise error
        self._split(pending, error)

    def _settle(self, request: Request, answer: Answer) -> tuple[Pending, list[_Poisoned]]:
        """Settle each mutation of an answered request.

        Returns those to try again (transient errors) and those bound for the dead-letter sink.
        """
        retry_later: Pending = []
        broken: dict[Lane, Step] = {}
        poisoned: dict[Lane, _Poisoned] = {}
        for position, (lane, step) in enumerate(request.entries):
            failure = answer.errors.get(position)
            if lane in broken:
                self._hold(step, broken[lane])
            elif lane in poisoned:
                poisoned[lane].after.append((step, failure))
            elif failure is None:
                lane.solo = False
                if step.last:
                    self.ledger.publish(step.record)
            elif failure.retryable and not _later_step_in_request(lane, position, request.entries):
                retry_later.append((lane, step))
            elif self.dead_letter is not None and can_dead_letter(failure):
                poisoned[lane] = _Poisoned(lane, step, failure)
            else:
                self.ledger.fail(step.record, failure)
                broken[lane] = step
        for lane, step in broken.items():
            lane.hold_back(self.ledger, self.ledger.records[step.record])
        waiting = {id(lane) for lane, _ in retry_later}
        for lane in dict.fromkeys(lane for lane, _ in request.entries):
            if lane not in broken and lane not in poisoned and id(lane) not in waiting:
                self._release(lane)
        return retry_later, list(poisoned.values())

    async def _dead_letter_planned(self, lanes: list[Lane]) -> None:
        """Records whose mapping failed for good reached the heads of their lanes: to the sink."""
        poisoned = []
        for lane in lanes:
            step = lane.steps.popleft()
            assert step.error is not None  # noqa: S101 - take_batch sets aside only such heads
            poisoned.append(_Poisoned(lane, step, step.error))
        await self._settle_poisoned(poisoned)

    async def _dead_letter_heads(self, pending: Pending, error: PublishError) -> None:
        """A request failed for good as a whole: dead-letter each lane's head, give the rest back."""
        heads: dict[Lane, _Poisoned] = {}
        for lane, step in reversed(pending):  # reversed: give back later steps in their order
            if lane in heads:
                lane.steps.appendleft(heads[lane].step)
            heads[lane] = _Poisoned(lane, step, error)
        pending.clear()
        await self._settle_poisoned(list(heads.values()))

    async def _settle_poisoned(self, poisoned: list[_Poisoned]) -> None:
        """Hand failed steps to the dead-letter sink; their keys go on, unless the sink refused them."""
        assert self.dead_letter is not None  # noqa: S101 - only called with a sink
        unsent = await self.dead_letter([(p.step.record, p.error) for p in poisoned])
        ledger = self.ledger
        for position, item in enumerate(poisoned):
            record = item.step.record
            if position in unsent:  # as if there were no sink: fail it and hold back its key
                ledger.fail(record, item.error)
                for step, _ in item.after:
                    self._hold(step, item.step)
                item.lane.hold_back(ledger, ledger.records[record])
                continue
            ledger.dead_letter(record, item.error)
            while item.lane.steps and item.lane.steps[0].record == record:  # its other mutations stay unsent
                item.lane.steps.popleft()
            culprit = self._settle_after(item, record)
            if culprit is None:
                self._release(item.lane)
            else:
                item.lane.hold_back(ledger, ledger.records[culprit.record])

    def _settle_after(self, item: _Poisoned, record: int) -> Step | None:
        """Settle the steps that ran after a dead-lettered one in its request; return a failed one."""
        culprit: Step | None = None
        for step, failure in item.after:
            if step.record == record:
                continue
            if culprit is not None:
                self._hold(step, culprit)
            elif failure is None:
                if step.last:
                    self.ledger.publish(step.record)
            else:
                self.ledger.fail(step.record, failure)
                culprit = step
        return culprit

    def _split(self, pending: Pending, error: PublishError) -> None:
        """A batched request failed as a whole: send each of its lanes' heads alone to find the culprit."""
        logger.info(
            "streambridge: a batch of %d failed as a whole (%s); sending them one by one", len(pending), error
        )
        by_lane: dict[Lane, list[Step]] = {}
        for lane, step in pending:
            by_lane.setdefault(lane, []).append(step)
        pending.clear()
        for lane, steps in by_lane.items():
            lane.steps.extendleft(reversed(steps))
            lane.solo = True
            self._release(lane)

    def _hold(self, step: Step, culprit: Step) -> None:
        record = self.ledger.records[step.record]
        self.ledger.fail(
            step.record,
            HeldBackError(
                f"{record.describe()}: reported failed because "
                f"{self.ledger.records[culprit.record].describe()} of the same partition key failed"
            ),
        )

    def _fail(self, pending: Pending, error: StreambridgeError) -> None:
        broken: dict[Lane, Step] = {}
        for lane, step in pending:
            if lane in broken:
                self._hold(step, broken[lane])
            else:
                self.ledger.fail(step.record, error)
                broken[lane] = step
        for lane, step in broken.items():
            lane.hold_back(self.ledger, self.ledger.records[step.record])
        pending.clear()


def _later_step_in_request(lane: Lane, position: int, entries: Sequence[tuple[Lane, Step]]) -> bool:
    return any(other is lane for other, _ in entries[position + 1 :])
