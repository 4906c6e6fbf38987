"""The publisher: sends the lanes' heads in batched requests, concurrently across keys, in order per key.

Planning and sending overlap: the dispatcher plans records a slice at a time (half a millisecond of CPU,
``SLICE_SECONDS``), offers the lanes that got steps, and starts a request as soon as the ready lanes fill
one, so the first requests are on the wire while later records are still being mapped.

A lane's life (idle, ready, in flight, broken) is ``lanes``'. A request's life is ``_Run._send``: attempt,
settle what the answer decides, wait, try again what is left. Each decision is made in one place:

- may a request start, when may an attempt go out, and how long may it take: ``Deadline.budget`` (asked
  before every attempt and every wait) and the ``Governor`` (concurrency, the send rate throttling sets,
  the circuit breaker, and the halt when every request would fail alike), which sees every attempt;
- whether and when to try again: the retry policy (``Tries.next_wait``);
- what becomes of each step a request carried: ``_Run._settle``, where the first failure breaks its lane.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import NamedTuple

from streambridge._engine.batch import Limits, render, take_batch, would_fill
from streambridge._engine.governor import Governor
from streambridge._engine.lanes import IN_FLIGHT, Lane, Step, held_back
from streambridge._engine.observe import THROTTLED, RequestTrace, RequestTracer, outcome_of
from streambridge._engine.plan import Planner
from streambridge._engine.retry import Backoff, Deadline, RetryPolicy, Tries
from streambridge._errors import (
    ConnectionFailedError,
    CredentialsUnavailableError,
    DeadlineExceededError,
    PublishError,
    RequestTimeoutError,
    StreambridgeError,
    WrongEndpointError,
    can_dead_letter,
    said,
)
from streambridge._io.transport import Auth, HttpResponse, Transport
from streambridge._targets.base import Answer

logger = logging.getLogger("streambridge")

SLICE_SECONDS = 0.0005
"""CPU spent planning between two looks at the network. Measured at 20 ms of latency: 2 ms slices delayed
each answer by about 8 ms (reading it, settling it and sending the lanes' next steps each wait for the loop),
which cost 25% of the run; half a millisecond keeps that under 2 ms for a few percent of CPU."""
LOOK = 2
"""Event loop passes per look: a response read in the first pass settles its lanes in the second."""

SendDeadLetters = Callable[[list[tuple[int, StreambridgeError]]], Awaitable[set[int]]]
"""Hands (record index, error) pairs to the dead-letter sink; returns the positions it could not take."""
Sleep = Callable[[float], Awaitable[None]]
"""Waits between attempts: ``asyncio.sleep``, or a test's fake clock."""


class Endpoint(NamedTuple):
    """Where and how to send."""

    url: str
    auth: Auth
    transport: Transport
    request_timeout: float = 10.0


class UnreadableAnswerError(PublishError):
    """An answer the target failed to read (a bug of ours).

    Its records fail, neither retried (they may have run) nor dead-lettered (they are not at fault):
    Lambda's re-delivery sends them again.
    """

    dead_letterable = False


class Counters:
    """What the publisher did, for the summary line."""

    __slots__ = ("requests", "retries", "throttled")

    def __init__(self) -> None:
        self.requests = 0
        """HTTP requests sent, retries included."""
        self.retries = 0
        """Attempts that were retries of an earlier one."""
        self.throttled = 0
        """Answers that said the request was throttled (429, or a throttling error in the answer)."""


async def publish(
    planner: Planner,
    *,
    connect: Callable[[], Endpoint],
    concurrency: int,
    limits: Limits,
    retry: RetryPolicy,
    deadline: Deadline,
    dead_letter: SendDeadLetters | None = None,
    sleep: Sleep = asyncio.sleep,
    trace: RequestTracer | None = None,
) -> Counters:
    """Plan and publish every record of ``planner``; on return each one is settled in the ledger.

    ``connect`` is called before the first request (not at all when every record is skipped); what it
    raises, such as a missing URL, propagates. ``sleep`` waits between attempts (a test's fake clock).
    ``trace`` is told of every request sent, once its answer is read (X-Ray, OpenTelemetry: ``_observe``).
    """
    run = _Run(
        planner,
        connect=connect,
        governor=Governor(concurrency, retry.outage, deadline.clock),
        limits=limits,
        backoff=Backoff(retry, deadline.clock),
        deadline=deadline,
        dead_letter=dead_letter,
        sleep=sleep,
    )
    run.trace = trace
    await run.go()
    return run.counters


Entry = tuple[Lane, Step]
"""A step a request carries, with its lane."""
Retry = tuple[Entry, StreambridgeError]
"""A step to try again, with the error of its last attempt."""


class Verdict(enum.Enum):
    """What becomes of a step that did not simply succeed."""

    RETRY = "retry"
    """A transient failure: try it again; its lane stays in flight."""
    TO_SINK = "to the sink"
    """Failed for good, and the dead-letter sink may take it: its lane waits for the sink's answer."""
    DEAD_LETTERED = "dead-lettered"
    """The dead-letter sink took the record: its key goes on."""
    FAILED = "failed"
    """Failed for good: its key is held back."""


RETRY, TO_SINK, DEAD_LETTERED, FAILED = Verdict


class Failure(NamedTuple):
    """Why a step did not succeed, and what becomes of it."""

    verdict: Verdict
    error: StreambridgeError


Judged = tuple[Lane, Step, Failure | None]
"""A step a request carried and its outcome (None: it ran)."""


class _Run:
    """One invocation's dispatcher: the ready queue, the requests going, and the counters."""

    def __init__(
        self,
        planner: Planner,
        *,
        connect: Callable[[], Endpoint],
        governor: Governor,
        limits: Limits,
        backoff: Backoff,
        deadline: Deadline,
        dead_letter: SendDeadLetters | None,
        sleep: Sleep,
    ) -> None:
        self.planner = planner
        self.ledger = planner.ledger
        self.target = planner.planning.target
        self.connect = connect
        self.endpoint: Endpoint | None = None
        self.governor = governor
        self.limits = limits
        self.backoff = backoff
        self.deadline = deadline
        self.dead_letter = dead_letter
        self.sleep = sleep
        self.ready: deque[Lane] = deque()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wakeup = asyncio.Event()
        self.counters = Counters()
        self.trace: RequestTracer | None = None
        self.notes: dict[int, str] = {}
        """Record index -> what an answer said about a step that succeeded (see ``_note``)."""

    async def go(self) -> None:
        try:
            await asyncio.wait_for(self._dispatch(), timeout=self.deadline.hard_stop())
        except asyncio.TimeoutError:
            logger.warning(
                "streambridge: Lambda deadline reached with requests in flight; reporting them failed"
            )
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self._abandon()

    def _abandon(self) -> None:
        """Fail what the run leaves: steps in flight at the hard stop, steps not sent, records not planned."""
        cause = self.governor.halted or DeadlineExceededError(
            "not sent: the Lambda deadline was too near (the record is reported failed for re-delivery)"
        )
        self.planner.abandon(cause)
        cut = DeadlineExceededError("the Lambda deadline came while the request was in flight")
        for lane in self.planner.lanes.values():
            if lane.state is IN_FLIGHT:  # its request was cancelled at the hard stop
                self._settle([(lane, step, Failure(FAILED, cut)) for step in lane.flight])
            lane.abandon(self.ledger, cause)

    def _stopping(self) -> bool:
        """True once no request may start any more: sending halted, or the deadline is too near."""
        return self.governor.halted is not None or self.deadline.budget() is None

    async def _dispatch(self) -> None:
        planner = self.planner
        while True:
            self._fill()
            if not planner.done and not self._stopping():
                for _ in range(LOOK if self.tasks else 0):
                    await asyncio.sleep(0)  # let the requests just started go out, and answers come in
                # Coalescing needs every change of a key before choosing the latest: plan all at once.
                budget = max(self.deadline.remaining(), 0.0) if planner.planning.coalesce else SLICE_SECONDS
                for lane in planner.plan(until=time.monotonic() + budget):
                    lane.offer(self.ready)
                continue
            if not self.tasks:
                return
            self.wakeup.clear()
            await self.wakeup.wait()

    def _fill(self) -> None:
        """Start requests for the ready lanes while the governor lets them start and time is left."""
        limits, planning_on = self.limits, not self.planner.done
        while self.ready and self.governor.may_start() and self.deadline.budget() is not None:
            if planning_on and not would_fill(self.ready, limits):
                return  # more records are coming: wait until they fill a request
            letters: list[Entry] = []
            batch = take_batch(self.ready, self.ledger, limits, letters)
            if letters:
                self._start(self._dead_letter_planned, letters)
            if batch:
                if self.endpoint is None:
                    self.endpoint = self.connect()
                self._start(self._send, [(lane, step) for lane, steps in batch for step in steps])

    def _start(self, work: Callable[[list[Entry]], Awaitable[None]], entries: list[Entry]) -> None:
        self.governor.started()
        task = asyncio.ensure_future(self._guarded(work, entries))
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.governor.finished()
        self.wakeup.set()

    async def _guarded(self, work: Callable[[list[Entry]], Awaitable[None]], entries: list[Entry]) -> None:
        """Run ``work`` on ``entries``; if it fails on a bug, fail the steps it still holds."""
        try:
            await work(entries)
        except Exception as error:  # a bug must not lose records: fail what the work still holds, say why
            logger.exception("streambridge: internal error while publishing")
            internal = Failure(FAILED, PublishError(f"internal error: {said(error)}"))
            self._settle([(lane, step, internal) for lane, step in entries if lane.holds(step)])

    async def _send(self, entries: list[Entry]) -> None:
        """One request's life: try it, settle what the answer decides, try again what is left.

        It goes on as long as the retry policy, the governor and the deadline allow; its lanes stay in
        flight until their steps are settled.
        """
        tries: Tries | None = None
        while entries:
            answer, sent_at = await self._attempt(entries)
            if tries is None:  # the budget counts from the first try, not from the wait before it
                tries = self.backoff.tries(sent_at)
            entries = await self._back_off(tries, await self._conclude(entries, answer))

    async def _attempt(self, entries: Sequence[Entry]) -> tuple[Answer | StreambridgeError, float | None]:
        """Send the request once, when the governor lets it go; and when it went out (None: it did not).

        Returns the target's reading of the answer, or why the request failed as a whole (or was not sent).
        """
        stop = await self._cleared()
        if stop is not None:
            return stop, None
        budget = self.deadline.budget()
        if budget is None:
            return DeadlineExceededError("not sent: the Lambda deadline was too near"), None
        request = render(self.target, entries)
        endpoint = self.endpoint
        assert endpoint is not None  # noqa: S101 - connected before the first request starts
        try:
            headers = endpoint.auth.headers(endpoint.url, request.body)
        except StreambridgeError as error:  # e.g. a ConfigurationError (no credentials): the governor halts
            self.governor.observe(error, self.deadline.clock())
            return error, None
        except Exception as error:  # noqa: BLE001 - a token callable or the credential chain raised
            # Nothing went out, so the governor learns nothing (a probe is not taken by it): retried.
            return _unavailable(endpoint.auth, error), None
        sent_at = self.governor.sending()
        answer: Answer | StreambridgeError
        started = time.time()  # wall-clock time the request went out, for the trace
        self.counters.requests += 1
        try:
            response = await endpoint.transport.post(
                endpoint.url, request.body, headers, min(endpoint.request_timeout, budget)
            )
        except RequestTimeoutError as error:
            answer = error
            if budget < endpoint.request_timeout:  # the deadline, not AppSync's slowness, cut it short
                answer = DeadlineExceededError(
                    f"the Lambda deadline came while waiting for AppSync ({budget:.3f} s were left)"
                )
                answer.__cause__ = error
        except StreambridgeError as error:  # the transport's own
            answer = error
        except Exception as error:  # noqa: BLE001 - a transport that does not wrap its errors: as a reset
            answer = ConnectionFailedError(f"the transport raised {said(error)}")
            answer.__cause__ = error
        else:
            answer = self._interpret(response, request.keys)
            if isinstance(answer.request_error, WrongEndpointError):  # say which URL, and the likely fix
                answer.request_error = answer.request_error.at(endpoint.url)
        self.governor.observe(answer, sent_at, len(entries))  # every attempt that went out, a probe too
        self._observe(len(entries), answer, started)
        return answer, sent_at

    def _interpret(self, response: HttpResponse, keys: object) -> Answer:
        """The target's reading of an answer; an answer it cannot read fails the request for good.

        Never raises: the governor must learn of every attempt that went out (a probe among them).
        """
        try:
            return self.target.interpret(response, keys)
        except Exception as error:  # an answer no rule foresaw (a bug of ours): it may have run, or not
            logger.exception("streambridge: internal error while reading AppSync's answer")
            unreadable = UnreadableAnswerError(
                f"internal error: AppSync's answer could not be read: {said(error)}"
            )
            unreadable.__cause__ = error
            return Answer(unreadable)

    def _observe(self, count: int, answer: Answer | StreambridgeError, started: float) -> None:
        """Count a throttled answer; tell the tracer of the request."""
        outcome, error = outcome_of(answer)
        if outcome == THROTTLED:
            self.counters.throttled += 1
        if self.trace is not None:
            self.trace(RequestTrace(count, started, time.time(), outcome, error))

    async def _cleared(self) -> StreambridgeError | None:
        """Wait until the governor lets an attempt go out (pace, breaker); the error that ends it instead."""
        while (wait := self.governor.wait()) != 0.0:
            if wait is None:
                return self.governor.halted
            if self.deadline.budget(wait) is None:
                return DeadlineExceededError(
                    f"not sent: the Lambda deadline came before AppSync could take it ({wait:.3f} s to wait)"
                )
            await self.sleep(wait)
        return None

    async def _conclude(self, entries: list[Entry], answer: Answer | StreambridgeError) -> list[Retry]:
        """Settle what an attempt decided; return the steps to try again, each with its error."""
        error: StreambridgeError | None
        errors: Mapping[int, StreambridgeError]
        if isinstance(answer, StreambridgeError):
            error, errors = answer, {}
        else:
            error, errors = answer.request_error, answer.errors
        if error is not None and error is self.governor.halted:  # every request would fail alike
            self._settle([(lane, step, Failure(FAILED, error)) for lane, step in entries])
            return []
        if error is None:  # AppSync answered for each step
            if isinstance(answer, Answer) and answer.notes:
                self._note(entries, answer.notes)
            return await self._settle_judged(self._judge(entries, errors))
        if error.retryable:  # nothing ran: all of it again
            return [(entry, error) for entry in entries]
        if error.dead_letterable and len(entries) > 1:  # a record is at fault: find which
            self._split(entries, error)
            return []
        return await self._settle_judged(self._judge(entries, dict.fromkeys(range(len(entries)), error)))

    def _judge(self, entries: Sequence[Entry], errors: Mapping[int, StreambridgeError]) -> list[Judged]:
        """What each step's error (by position) means: retry it, hand it to the sink, or it failed.

        Only a lane's first failure in the request may be retried or dead-lettered, and a retry only when
        it is the lane's last step there: the key's later steps in the request already ran.
        """
        if not errors:
            return [(lane, step, None) for lane, step in entries]
        last = {lane: position for position, (lane, _) in enumerate(entries)}
        failed: set[Lane] = set()
        judged: list[Judged] = []
        for position, (lane, step) in enumerate(entries):
            error = errors.get(position)
            if error is None:
                judged.append((lane, step, None))
                continue
            if lane in failed:
                verdict = FAILED
            elif error.retryable and last[lane] == position:
                verdict = RETRY
            elif self.dead_letter is not None and can_dead_letter(error):
                verdict = TO_SINK
            else:
                verdict = FAILED
            if verdict is not RETRY:
                failed.add(lane)
            judged.append((lane, step, Failure(verdict, error)))
        return judged

    async def _settle_judged(self, judged: list[Judged]) -> list[Retry]:
        """Settle judged steps; the lanes with a step bound for the dead-letter sink after its answer."""
        letters = [
            (lane, step, failure)
            for lane, step, failure in judged
            if failure is not None and failure.verdict is TO_SINK
        ]
        if not letters:
            return self._settle(judged)
        waiting = {lane for lane, _, _ in letters}
        again = self._settle([entry for entry in judged if entry[0] not in waiting])
        assert self.dead_letter is not None  # noqa: S101 - only judged so with a sink
        refused = await self.dead_letter([(step.record, failure.error) for _, step, failure in letters])
        taken = {lane for position, (lane, _, _) in enumerate(letters) if position not in refused}
        self._settle(
            [
                (lane, step, _answered_by_sink(failure, lane in taken))
                for lane, step, failure in judged
                if lane in waiting
            ]
        )
        return again

    async def _dead_letter_planned(self, letters: list[Entry]) -> None:
        """Records whose mapping failed for good reached the heads of their lanes: to the sink."""
        judged: list[Judged] = []
        for lane, step in letters:
            assert step.error is not None  # noqa: S101 - take_batch sets aside only such heads
            judged.append((lane, step, Failure(TO_SINK, step.error)))
        await self._settle_judged(judged)

    async def _back_off(self, tries: Tries, again: list[Retry]) -> list[Entry]:
        """Wait, then return the steps of ``again`` to try once more; or give up on them (they fail)."""
        if not again:
            return []
        wait = tries.next_wait([error for _, error in again])
        if wait is not None and self.deadline.budget(wait) is None:  # the deadline, not the policy, ends it
            self._settle([(lane, step, Failure(FAILED, _too_late(error))) for (lane, step), error in again])
            return []
        halted = self.governor.halted
        if wait is None or halted is not None:  # the policy gave up, or sending halted (e.g. endpoint down)
            self._settle([(lane, step, Failure(FAILED, halted or error)) for (lane, step), error in again])
            return []
        self.counters.retries += 1
        await self.sleep(wait)
        return [entry for entry, _ in again]

    def _note(self, entries: Sequence[Entry], notes: Mapping[int, str]) -> None:
        """Keep what an answer says about steps that succeeded, for their records' outcomes, and say it."""
        ledger = self.ledger
        for position, note in notes.items():
            record = entries[position][1].record
            self.notes[record] = note
            logger.warning("streambridge: %s: %s", ledger.records[record].describe(), note)

    def _split(self, entries: list[Entry], error: StreambridgeError) -> None:
        """A batched request failed as a whole: its lanes go back, each head to be sent alone."""
        logger.info(
            "streambridge: a batch of %d failed as a whole (%s); sending them one by one", len(entries), error
        )
        for lane in dict.fromkeys(lane for lane, _ in entries):
            lane.give_back(self.ready, alone=True)
        self.wakeup.set()

    def _settle(self, judged: Sequence[Judged]) -> list[Retry]:
        """Settle a request's steps in order, per lane; return those to try again, with their errors.

        The first failure breaks its lane: the lane's later steps in the request are reported failed (they
        went out with it), and its steps not sent are held back. A dead-lettered record lets its key go on;
        a step to retry keeps its lane in flight. Every path ends here: an answered request, a request
        failed as a whole, the dead-letter sink's answer, the hard stop, an internal error.
        """
        ledger = self.ledger
        records = ledger.records
        culprits: dict[Lane, Step] = {}
        lettered: dict[Lane, int] = {}
        again: list[Retry] = []
        for lane, step, failure in judged:
            culprit = culprits.get(lane)
            if culprit is not None:
                ledger.fail(step.record, held_back(records[step.record], records[culprit.record], sent=True))
            elif lettered and lettered.get(lane) == step.record:
                continue  # the rest of a record the sink took whole
            elif failure is None:
                if step.last:
                    ledger.publish(step.record, self.notes.pop(step.record, None))
            elif failure.verdict is RETRY:
                again.append(((lane, step), failure.error))
            elif failure.verdict is DEAD_LETTERED:
                ledger.dead_letter(step.record, failure.error)
                lettered[lane] = step.record
            else:
                ledger.fail(step.record, failure.error)
                culprits[lane] = step
        retried = {lane: step for (lane, step), _ in again}
        for lane in dict.fromkeys(lane for lane, _, _ in judged):
            culprit = culprits.get(lane)
            if culprit is not None:
                lane.fail_for_good(ledger, records[culprit.record])
            elif lane in retried:
                lane.retry(retried[lane])
            else:
                lane.succeed(self.ready, lettered.get(lane))
        self.wakeup.set()  # lanes may be ready
        return again


def _unavailable(auth: Auth, error: Exception) -> CredentialsUnavailableError:
    """A raising token callable or credential chain: transient, retried within the retry budget."""
    # Only the exception's type: its message may hold the very token or key it failed to give.
    unavailable = CredentialsUnavailableError(
        f"{type(auth).__name__} could not give credentials: it raised {type(error).__name__} (the message "
        "is not shown, it may hold a secret; it is this error's cause); the request was not sent"
    )
    unavailable.__cause__ = error
    return unavailable


def _too_late(error: StreambridgeError) -> DeadlineExceededError:
    """A step the deadline leaves no time to try again: failed for the deadline, its last error the cause."""
    late = DeadlineExceededError(f"the Lambda deadline came before it could be tried again (last: {error})")
    late.__cause__ = error
    return late


def _answered_by_sink(failure: Failure | None, taken: bool) -> Failure | None:
    """A step's outcome once the sink answered: a letter it took is dead-lettered, one it refused failed."""
    if failure is None or failure.verdict is not TO_SINK:
        return failure
    return Failure(DEAD_LETTERED if taken else FAILED, failure.error)
