"""The Bridge: configuration, the event loop kept across warm invocations, and the source decorators.

Functions first: ``Bridge.process`` does the work; the decorators only bind a source, a mapping function
and a mutation document into a Lambda entry point (``Handler``).
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from streambridge._engine.batch import Limits
from streambridge._engine.checks import has_methods, kind, seconds, switch, whole
from streambridge._engine.observe import (
    Metrics,
    RequestTracer,
    metrics_setting,
    request_tracer,
    tracing_setting,
)
from streambridge._engine.plan import COALESCED, Planner, Planning, Unordered, partition_key_of
from streambridge._engine.result import InvocationResult, Ledger, RecordOutcome, Status
from streambridge._engine.retry import Deadline, RetryPolicy, checked_policy
from streambridge._errors import (
    ConfigurationError,
    DeliveryFailedError,
    EventShapeError,
    PublishError,
    StreambridgeError,
)
from streambridge._io.auth import IAMAuth
from streambridge._io.transport import Auth, Transport
from streambridge._sources import SOURCES
from streambridge._sources._base import MutationOf, Source, SourceName, SourceRecord
from streambridge._targets.graphql.target import MAX_SUBSCRIPTION_PAYLOAD, GraphQLTarget

# Loaded on first use, not at import (cold start): asyncio and the publisher on the first invocation, a
# source's module with its first decorator, the channels target, the stores with their settings.
if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    import re

    from streambridge._engine.publish import Endpoint, SendDeadLetters
    from streambridge._lambda_types import PartialItemFailureResponse
    from streambridge._sources.aurora import AuroraEvent
    from streambridge._sources.cloudwatch import AlarmEvent
    from streambridge._sources.dynamodb import DynamoDBRecord
    from streambridge._sources.eventbridge import EventBridgeEvent
    from streambridge._sources.http import HttpItem, RequestLimits
    from streambridge._sources.kinesis import KinesisRecord
    from streambridge._sources.kinesis_dynamodb import KinesisDynamoDBRecord
    from streambridge._sources.sqs import SQSRecord
    from streambridge._stores.deadletter import DeadLetterSink
    from streambridge._stores.idempotency import IdempotencyStore
    from streambridge._stores.versions import StaleCheck, VersionStore
    from streambridge._targets.channels import Channel, ChannelTarget

logger = logging.getLogger("streambridge")

URL_ENV = "STREAMBRIDGE_APPSYNC_URL"
_MAX_FAILURE_LINES = 20

R = TypeVar("R")
T = TypeVar("T")
Mapper = Callable[[R], Any]

Poison = Literal["report", "dead-letter", "skip"]
"""What becomes of a record that fails for good (see ``Bridge(poison=...)``)."""
_POISON = ("report", "dead-letter", "skip")


class LambdaContext(Protocol):
    """The part of Lambda's context object streambridge uses."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops the invocation."""
        ...


class Bridge:
    """Publishes source records to AppSync as batched, signed GraphQL mutations.

    Building one does no I/O and imports nothing heavy, so it belongs at module level in the Lambda
    function; its connections and event loop are reused across warm invocations.
    """

    def __init__(
        self,
        url: str | None = None,
        auth: Auth | None = None,
        *,
        batch_size: int = 50,
        batch_bytes: int = 512 * 1024,
        per_key: int = 1,
        coalesce: bool = False,
        concurrency: int = 16,
        retry: RetryPolicy | None = None,
        request_timeout: float = 10.0,
        deadline_margin: float = 0.5,
        max_payload_bytes: int = MAX_SUBSCRIPTION_PAYLOAD,
        transport: Transport | None = None,
        idempotency: IdempotencyStore | None = None,
        stale_guard: VersionStore | None = None,
        dead_letter: DeadLetterSink | None = None,
        poison: Poison | None = None,
        pause_gc: bool = True,
        metrics: bool | Metrics = False,
        tracing: bool | RequestTracer = True,
    ) -> None:
        """Configure the bridge.

        Every setting is checked here, type and range (``ConfigurationError`` naming it): counts are
        ints >= 1 (not a bool, not a float, not even ``2.0``), seconds finite ints or floats, switches
        True or False. ``replace`` checks its changes the same way.

        Args:
            url: the API's HTTP endpoint, ``https://<id>.appsync-api.<region>.amazonaws.com/graphql`` (or
                ``/event`` for an Event API, or a custom domain's); default: env ``STREAMBRIDGE_APPSYNC_URL``.
                Refused at once: an AppSync domain with another path, the real-time endpoint (``wss://``,
                ``appsync-realtime-api``, ``.../realtime``). A custom domain's path is not checked.
            auth: ``IAMAuth()`` (default, botocore credential chain), ``ApiKeyAuth`` or ``TokenAuth``.
            batch_size: most mutations in one request, as aliased top-level fields. 1 sends every
                mutation as written (no alias, your variable names): the fallback if aliased mutations do
                not fire your subscriptions (check with ``streambridge doctor``).
            batch_bytes: most bytes of a request body (a single mutation larger than this goes alone).
            per_key: mutations of the same partition key in one request. 1 (default) never lets a change
                run after a failed earlier change of its key; more is faster for hot keys (see docs).
            coalesce: publish only the latest change of each key in an invocation.
            concurrency: requests in flight at once.
            retry: how transient failures are retried.
            request_timeout: seconds for one request, always capped by the Lambda deadline.
            deadline_margin: seconds kept before the Lambda deadline to report the outcome.
            max_payload_bytes: mutations with larger variables fail before sending (AppSync drops
                subscription messages over 240 KB silently).
            transport: how requests are sent; default kept-alive HTTP/1.1 connections (asyncio and h11).
            idempotency: skip records an earlier invocation published, e.g.
                ``DynamoDBIdempotencyStore("table")`` (default: at least once, see the docs). Its calls
                are bounded by the deadline; a store too slow or unreachable means at least once.
            stale_guard: skip a change older than the newest one published for its key, remembered in
                a version store, e.g. ``DynamoDBVersionStore("table")``; each decorator's ``version=``
                says a record's version when its source's own does not fit (docs/semantics.md). A store
                that cannot be read in time fails the records it guards: never skipped, never unguarded.
            dead_letter: the sink for ``poison="dead-letter"``, e.g. ``SQSDeadLetterQueue(url)``.
            poison: what becomes of a record no retry can cure (a malformed record, a mapping error, a
                resolver rejection): ``"report"`` it failed to Lambda, whose retries, bisection and
                on-failure destination act (the default without a sink); ``"dead-letter"`` it to
                ``dead_letter`` and go on (the default with a sink); ``"skip"`` it with a warning, its
                key going on. See docs/semantics.md for the trade-offs.
            pause_gc: keep Python's cyclic garbage collector out of invocations, whose objects are
                freed by reference counting anyway: the Lambda entry point pauses it until the
                invocation's objects are released; ``process`` and ``process_async`` only freeze the
                objects that existed before (the event) for their duration. An application that
                disables or freezes the collector itself is left alone.
            metrics: True (or ``Metrics(namespace=..., dimensions=..., default_dimensions=...)``) prints
                each invocation's counters as one CloudWatch Embedded Metric Format line to stdout:
                CloudWatch metrics without an API call or Powertools (see docs/observability.md).
            tracing: True (default): one X-Ray subsegment or OpenTelemetry span per request to AppSync,
                with its mutation count and outcome, when the X-Ray SDK or OpenTelemetry is present and
                tracing the invocation (looked up at the first invocation, nothing imported otherwise);
                False: none; a callable: called with each request's ``RequestTrace``.
        """
        self._settings: dict[str, Any] = dict(  # noqa: C408 - reads like the signature; for replace()
            url=url, auth=auth, batch_size=batch_size, batch_bytes=batch_bytes, per_key=per_key,
            coalesce=coalesce, concurrency=concurrency, retry=retry, request_timeout=request_timeout,
            deadline_margin=deadline_margin, max_payload_bytes=max_payload_bytes, transport=transport,
            idempotency=idempotency, stale_guard=stale_guard, dead_letter=dead_letter, poison=poison,
            pause_gc=pause_gc,
            metrics=metrics, tracing=tracing,
        )  # fmt: skip
        # Every knob is checked here, type and range, so that a wrong one fails at cold start naming itself
        # (per_key=2.5 would silently lift the per-key limit; concurrency=1.5 failed the first invocation).
        self.limits = Limits(
            max_mutations=whole("Bridge(batch_size=...)", batch_size),
            max_bytes=whole("Bridge(batch_bytes=...)", batch_bytes),
            per_key=whole("Bridge(per_key=...)", per_key),
        )
        self.coalesce = switch("Bridge(coalesce=...)", coalesce)
        self.concurrency = whole("Bridge(concurrency=...)", concurrency)
        self.retry = checked_policy(retry)
        # Finite: the timeout goes to the HTTP client, and an infinite margin would leave no time at all.
        self.request_timeout = seconds("Bridge(request_timeout=...)", request_timeout)
        self.deadline_margin = seconds("Bridge(deadline_margin=...)", deadline_margin, zero=True)
        self.max_payload_bytes = whole("Bridge(max_payload_bytes=...)", max_payload_bytes)
        self._transport = _duck(
            "transport",
            transport,
            ("post", "close"),
            "have an async post(url, body, headers, timeout) and close()",
        )
        self.idempotency = _duck(
            "idempotency",
            idempotency,
            ("published", "remember"),
            'have published(keys) and remember(keys), like DynamoDBIdempotencyStore("table")',
        )
        self.stale_guard = _duck(
            "stale_guard",
            stale_guard,
            ("newest", "advance"),
            'have newest(keys) and advance(versions), like DynamoDBVersionStore("table")',
        )
        self.dead_letter = _duck(
            "dead_letter", dead_letter, ("send",), "have send(letters), like SQSDeadLetterQueue(queue_url)"
        )
        self.poison: Poison = _poison(poison, dead_letter)
        self.pause_gc = switch("Bridge(pause_gc=...)", pause_gc)
        if url is not None and not isinstance(url, str):
            raise ConfigurationError(f"Bridge(url=...) must be a str, the endpoint's URL, got {kind(url)}")
        url = url if url is not None else os.environ.get(URL_ENV)
        # A wrong URL fails at cold start; a missing one only when first needed, so that tools and tests
        # can import a module that builds its Bridge before the environment is set.
        self._url = _check_url(url) if url else None
        auth = _duck(
            "auth",
            auth,
            ("check_endpoint", "validate", "headers"),
            "be IAMAuth(), ApiKeyAuth(key), TokenAuth(token) or an object with check_endpoint(url), "
            "validate(url) and headers(url, body)",
        )
        self.auth: Auth = auth if auth is not None else IAMAuth()
        if self._url is not None:
            self.auth.check_endpoint(self._url)  # e.g. an IAM region that cannot be known fails at cold start
        self.metrics: Metrics | None = metrics_setting(metrics)
        self.tracing: bool | RequestTracer = tracing_setting(tracing)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._close_at_exit: Callable[[], None] | None = None
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._auth_checked = False

    def __repr__(self) -> str:
        return f"Bridge(url={_shown(self._url)!r}, auth={self.auth!r})"

    @property
    def url(self) -> str:
        """The API's HTTP endpoint (from ``STREAMBRIDGE_APPSYNC_URL`` when not given), checked as ``url=``."""
        if self._url is None:
            self._url = _check_url(os.environ.get(URL_ENV))
        return self._url

    def replace(self, **changes: Any) -> Bridge:
        """A new bridge with the same settings but ``changes`` (``url=``, ``batch_size=``...), all checked."""
        return Bridge(**{**self._settings, **changes})

    # -- functions first ---------------------------------------------------------------------------

    def process(
        self,
        source: SourceName,
        event: Mapping[str, Any] | Sequence[Any],
        mapper: Callable[[Any], Any],
        *,
        document: str | None = None,
        channel: Channel | None = None,
        partition_key: Callable[[Any], Hashable] | None = None,
        version: Callable[[Any], Any] | None = None,
        context: LambdaContext | None = None,
    ) -> InvocationResult:
        """Publish one Lambda event of ``source`` through ``mapper``; return every record's outcome.

        A batch source takes its event source mapping's ``{"Records": [...]}`` or an EventBridge pipe's
        JSON array of the same records, told apart by shape.
        """
        return self._run(
            lambda: self.process_async(
                source,
                event,
                mapper,
                document=document,
                channel=channel,
                partition_key=partition_key,
                version=version,
                context=context,
            )
        )

    async def process_async(
        self,
        source: SourceName,
        event: Mapping[str, Any] | Sequence[Any],
        mapper: Callable[[Any], Any],
        *,
        document: str | None = None,
        channel: Channel | None = None,
        partition_key: Callable[[Any], Hashable] | None = None,
        version: Callable[[Any], Any] | None = None,
        context: LambdaContext | None = None,
    ) -> InvocationResult:
        """The async form of ``process``, for callers already inside an event loop."""
        # A full collection would walk the whole event (200,000 containers for 10,000 records of 1 KB)
        # while it is still alive, only for it to be freed by reference counting after the invocation.
        frozen = self.pause_gc and gc.isenabled() and gc.get_freeze_count() == 0
        if frozen:
            gc.freeze()
        try:
            return await self._process(
                source,
                event,
                mapper,
                document=document,
                channel=channel,
                partition_key=partition_key,
                version=version,
                context=context,
            )
        finally:
            if frozen:
                gc.unfreeze()

    async def _process(
        self,
        source: SourceName,
        event: Mapping[str, Any] | Sequence[Any],
        mapper: Callable[[Any], Any],
        *,
        document: str | None,
        channel: Channel | None,
        partition_key: Callable[[Any], Hashable] | None,
        version: Callable[[Any], Any] | None,
        context: LambdaContext | None,
    ) -> InvocationResult:
        started = time.perf_counter()
        spec = _source(source)
        # Any object with Lambda's get_remaining_time_in_millis bounds the work; anything else does not.
        deadline = Deadline(getattr(context, "get_remaining_time_in_millis", None), self.deadline_margin)
        try:
            records = spec.parse(event)
        except EventShapeError as error:
            logger.error("streambridge %s: %s", spec.name, error)  # noqa: TRY400 - the message says it all
            raise
        target = self._target(document, channel)
        coalesce = self.coalesce
        # The user's key function, run once per record: the stores, the stale guard and the planner all read
        # the key, and must all see the same one (the guard keys an event that maps to several by it).
        chooser = partition_key = _once_each(partition_key)
        if not spec.batch and len(records) == 1:
            records, mapper, partition_key = _mutations_of(records[0], mapper, partition_key, target)
            coalesce = False  # one event: nothing to coalesce, and its mutations must all go
        ledger = Ledger(records, skip_poison=self.poison == "skip")
        ordered = records
        if spec.arrange is not None:  # the source's own order: a DynamoDB item's changes by creation time
            ordered, repeats = spec.arrange(records)
            for record, note in repeats:  # the ledger keeps every record, in arrival order
                ledger.skip(record.index, note=note)
        fresh = await self._skip_published(spec.name, ordered, ledger, deadline, partition_key)
        check = None
        if self.stale_guard is not None:
            from streambridge._stores.versions import StaleCheck  # its users only pay for its import

            check = StaleCheck(spec.name, fresh, _guard_group(partition_key, chooser), version)
            fresh = await self._skip_stale(check, ledger, deadline)
            mapper = check.refusing(mapper)
        request_id = getattr(context, "aws_request_id", None)
        send_dead_letters = self._dead_letterer(spec.name, records, deadline, request_id=request_id)
        planner = Planner(
            fresh,
            mapper,
            Planning(target, partition_key, coalesce),
            ledger,
            dead_letter=send_dead_letters is not None,
        )
        from streambridge._engine.publish import publish  # lazy: asyncio and tenacity

        counters = await publish(
            planner,
            connect=self._endpoint,
            concurrency=self.concurrency,
            limits=self._limits(target),
            retry=self.retry,
            deadline=deadline,
            dead_letter=send_dead_letters,
            trace=request_tracer(self.tracing),
        )
        outcomes = ledger.close(PublishError("internal error: record left unsettled"))
        # In the order planned: a change coalesced into a later one is done only if that one is, and
        # "later" is the arranged order (creation time), not arrival.
        planned = outcomes if ordered is records else [outcomes[record.index] for record in ordered]
        await self._remember_published(spec.name, planned, deadline, partition_key)
        if check is not None:
            await self._remember_versions(check, outcomes, deadline)
        result = InvocationResult(
            spec.name,
            outcomes,
            counters.requests,
            counters.retries,
            time.perf_counter() - started,
            counters.throttled,
        )
        _log(result)
        if self.metrics is not None:
            self.metrics.emit(result, context)
        return result

    def _target(self, document: str | None, channel: Channel | None) -> GraphQLTarget | ChannelTarget:
        """Where the handler publishes: channels of an Event API, or mutations of a GraphQL API."""
        url = self._url or os.environ.get(URL_ENV)
        event_api = url is not None and _is_event_api(url)
        if channel is None and not event_api:
            return GraphQLTarget(document, self.max_payload_bytes)
        if document is not None:
            raise ConfigurationError(
                f"{_shown(url)} is an AppSync Event API endpoint (.../event): it publishes events to "
                "channels, not GraphQL mutations; give the decorator channel= instead of a document"
            )
        if url is not None and not event_api:
            raise ConfigurationError(
                f"channel= publishes to an AppSync Event API, whose HTTP endpoint ends in /event; "
                f"{_shown(url)} is a GraphQL endpoint"
            )
        from streambridge._targets.channels import MAX_EVENT_BYTES, ChannelTarget

        return ChannelTarget(channel, min(self.max_payload_bytes, MAX_EVENT_BYTES))

    def _limits(self, target: GraphQLTarget | ChannelTarget) -> Limits:
        """The bridge's request limits, within the target's own (an Event API publish takes 5 events)."""
        most = target.max_items
        if most is None or most >= self.limits.max_mutations:
            return self.limits
        return self.limits._replace(max_mutations=most)

    async def _skip_published(
        self,
        source: SourceName,
        records: Sequence[SourceRecord],
        ledger: Ledger,
        deadline: Deadline,
        partition_key: Callable[[Any], Hashable] | None,
    ) -> Sequence[SourceRecord]:
        """With an idempotency store, skip the records already published; return the others."""
        store = self.idempotency
        if store is None:
            return records
        from streambridge._stores.idempotency import idempotency_key

        keys = [idempotency_key(source, record) for record in records]
        wanted = [key for key in keys if key is not None]  # None: not deduplicated (HTTP without a key)
        if not wanted:
            return records
        # Half the time left at most: a store too slow must leave the other half to publish at least once.
        budget = deadline.budget()
        try:
            seen = await self._in_thread(
                store.published, wanted, timeout=None if budget is None else budget / 2
            )
        except TimeoutError:
            logger.warning(
                "streambridge: idempotency store too slow for the deadline; publishing at least once"
            )
            return records
        except Exception:  # an unreachable store must not fail records: fall back to at least once
            logger.warning(
                "streambridge: idempotency store unreachable; publishing at least once", exc_info=True
            )
            return records
        # Skip only a key's leading run of published records: once one of its records goes out again (its
        # entry unread, never remembered, or coalesced away), every later one must follow it, or an older
        # change would reach subscribers after a newer one.
        fresh = []
        sending: set[Hashable] = set()
        for record, key in zip(records, keys, strict=True):
            group = _group_of(record, partition_key)
            if key is not None and key in seen and group is not None and group not in sending:
                ledger.skip(record.index, note="already published (idempotency store)")
            else:
                sending.add(group)
                fresh.append(record)
        return fresh

    async def _remember_published(
        self,
        source: SourceName,
        outcomes: Sequence[RecordOutcome],
        deadline: Deadline,
        partition_key: Callable[[Any], Hashable] | None,
    ) -> None:
        store = self.idempotency
        if store is None:
            return
        from streambridge._stores.idempotency import idempotency_key

        # Published and dead-lettered records are done; so is a record coalesced into a later change of its
        # key that was (else a re-delivery publishes that change twice: once for it, once for the newer).
        done = (Status.PUBLISHED, Status.DEAD_LETTERED)
        named: list[str | None] = []
        finished: set[Hashable | None] = set()  # keys with a change done later in the batch
        for outcome in reversed(outcomes):
            if outcome.status in done:
                named.append(idempotency_key(source, outcome.record))
                finished.add(_group_of(outcome.record, partition_key))
            elif (outcome.note or "").startswith(COALESCED) and outcome.error is None:
                group = _group_of(outcome.record, partition_key)
                if group is not None and group in finished:
                    named.append(idempotency_key(source, outcome.record))
        keys = [key for key in named if key is not None]  # None: not deduplicated (HTTP without a key)
        if not keys:
            return
        try:
            await self._in_thread(store.remember, keys, timeout=deadline.budget())
        except TimeoutError:  # the records are published: a re-delivery will only publish them again
            logger.warning(
                "streambridge: idempotency store too slow for the deadline to remember %d records", len(keys)
            )
        except Exception:
            logger.warning(
                "streambridge: idempotency store could not remember %d records", len(keys), exc_info=True
            )

    async def _skip_stale(
        self, check: StaleCheck, ledger: Ledger, deadline: Deadline
    ) -> Sequence[SourceRecord]:
        """Skip the records older than their key's stored version; return the others (some to fail)."""
        keys = check.keys()
        if not keys:
            return check.records
        store = self.stale_guard
        assert store is not None  # noqa: S101 - the caller checked
        budget = deadline.budget()  # half of it at most, as the idempotency store's lookup
        try:
            newest = await self._in_thread(store.newest, keys, timeout=None if budget is None else budget / 2)
            stale = check.stale(newest)  # a store's answer that is not versions is a store failing
        except TimeoutError as error:
            logger.warning("streambridge: stale guard: version store too slow; its records are failed")
            check.unreadable(error, timed_out=True)
            return check.records
        except Exception as error:
            logger.warning(
                "streambridge: stale guard: version store unreadable; its records are failed", exc_info=True
            )
            check.unreadable(error, timed_out=False)
            return check.records
        for index, note in stale.items():
            ledger.skip(index, note=note)
        if stale:
            logger.info("streambridge: stale guard skipped %d changes older than their key's", len(stale))
        return [record for record in check.records if record.index not in stale]

    async def _remember_versions(
        self, check: StaleCheck, outcomes: Sequence[RecordOutcome], deadline: Deadline
    ) -> None:
        """Raise each key's stored version to its newest published; a failure leaves them published."""
        versions = check.published(o.record.index for o in outcomes if o.status is Status.PUBLISHED)
        store = self.stale_guard
        if not versions or store is None:
            return
        from streambridge._stores.versions import advance_warning

        try:
            await self._in_thread(store.advance, versions, timeout=deadline.budget())
        except TimeoutError:
            advance_warning(len(versions), None)
        except Exception as error:  # noqa: BLE001 - the records are published: at least once holds
            advance_warning(len(versions), error)

    def _dead_letterer(
        self,
        source: SourceName,
        records: Sequence[SourceRecord],
        deadline: Deadline,
        *,
        request_id: object = None,
    ) -> SendDeadLetters | None:
        """The publisher's way to the dead-letter sink: (record index, error) pairs -> unsent positions.

        With ``poison="skip"`` the "sink" takes every letter and keeps none (the ledger skips them).
        ``request_id``: the context's ``aws_request_id``; it names an Aurora event's letters, which have
        no id of their own (a retry of the invocation is the same letter, another invocation another).
        """
        if self.poison == "skip":

            async def skip(items: list[tuple[int, StreambridgeError]]) -> set[int]:
                for index, error in items:
                    outcome = RecordOutcome(records[index], Status.SKIPPED, error)
                    logger.warning("streambridge: skipped poison record %s", outcome.explain())
                return set()

            return skip
        sink = self.dead_letter
        if sink is None or self.poison == "report":
            return None

        from streambridge._stores.deadletter import DeadLetter

        async def send(items: list[tuple[int, StreambridgeError]]) -> set[int]:
            invocation = request_id if isinstance(request_id, str) and request_id else None
            letters = [DeadLetter(source, records[index], error, invocation) for index, error in items]
            try:
                unsent = await self._in_thread(sink.send, letters, timeout=deadline.budget())
            except TimeoutError:  # it may still take them: a letter twice is better than a record lost
                logger.error(  # noqa: TRY400 - no traceback to show: the sink was only slow
                    "streambridge: dead-letter sink too slow for the deadline; reporting its records failed"
                )
                return set(range(len(letters)))
            except Exception:  # the sink's trouble must not lose records: they are reported failed
                logger.exception("streambridge: dead-letter sink failed; reporting its records failed")
                return set(range(len(letters)))
            for position, letter in enumerate(letters):
                if position not in unsent:
                    logger.warning(
                        "streambridge: dead-lettered %s",
                        RecordOutcome(letter.record, Status.DEAD_LETTERED, letter.error).explain(),
                    )
            return unsent

        return send

    async def _in_thread(self, call: Callable[[Any], T], argument: Any, *, timeout: float | None) -> T:
        """Run a store's blocking call (boto3) on a thread, for at most ``timeout`` seconds.

        ``timeout`` None: no time is left, TimeoutError at once. A call that times out runs on in its
        thread (a thread cannot be stopped); the bridge's own threads, unlike asyncio's default ones,
        are never waited for when an event loop closes, so it cannot hold the invocation.
        """
        import asyncio
        import math

        if timeout is None:
            raise TimeoutError
        if self._threads is None:
            import concurrent.futures

            self._threads = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="streambridge-store")
        future = asyncio.get_running_loop().run_in_executor(self._threads, call, argument)
        return await asyncio.wait_for(future, None if math.isinf(timeout) else timeout)

    def close(self) -> None:
        """Close connections and the event loop (not needed in Lambda; useful in tests and scripts)."""
        if self._loop is not None and not self._loop.is_closed():
            if self._transport is not None:
                self._loop.run_until_complete(self._transport.close())
            self._loop.close()
        self._loop = None
        if self._close_at_exit is not None:
            import atexit

            atexit.unregister(self._close_at_exit)
            self._close_at_exit = None
        if self._threads is not None:  # a store call still hanging is not waited for
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    # -- decorators: thin wrappers over process --------------------------------------------------

    def handler(
        self,
        source: SourceName,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[Any], Hashable] | None = None,
        version: Callable[[Any], Any] | None = None,
    ) -> Callable[[Callable[[Any], Any]], Handler[Any]]:
        """Decorator for any source by name: ``@bridge.handler("dynamodb", PUBLISH)``.

        ``document``: the GraphQL mutation the mapping function's variables go to. ``channel``: for an
        AppSync Event API (a URL ending in ``/event``), the channel the mapping function's payloads go to:
        ``"/namespace/name"``, or a function of the record. Without either, the mapping function returns
        ``Mutation`` objects, or ``ChannelEvent`` objects for an Event API. ``version``: with
        ``Bridge(stale_guard=...)``, a function of the record returning its change's version (an int >= 0,
        an aware datetime, or None: not guarded), instead of the source's own (docs/semantics.md).
        """
        spec = _source(source)
        _check_guard(self.stale_guard, spec.name, partition_key, version)
        if channel is None:
            GraphQLTarget(document)  # a document that cannot work fails at cold start, clearly
        elif document is not None:
            raise ConfigurationError("a GraphQL document or an Event API channel, not both")
        elif isinstance(channel, str):
            from streambridge._targets.channels import ChannelTarget

            try:
                ChannelTarget(channel)
            except ValueError as error:
                raise ConfigurationError(str(error)) from None

        def decorate(mapper: Callable[[Any], Any]) -> Handler[Any]:
            kind = HttpHandler if spec.name == "http" else Handler  # an HTTP request gets an HTTP response
            return kind(self, spec, mapper, document, partition_key, channel=channel, version=version)

        return decorate

    def dynamodb(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[DynamoDBRecord], Hashable] | None = None,
        version: Callable[[DynamoDBRecord], Any] | None = None,
    ) -> Callable[[Callable[[DynamoDBRecord], Any]], Handler[DynamoDBRecord]]:
        """DynamoDB Streams; ordered by the item's key attributes unless ``partition_key`` says otherwise."""
        return self.handler(
            "dynamodb", document, channel=channel, partition_key=partition_key, version=version
        )

    def kinesis(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[KinesisRecord], Hashable] | None = None,
        version: Callable[[KinesisRecord], Any] | None = None,
    ) -> Callable[[Callable[[KinesisRecord], Any]], Handler[KinesisRecord]]:
        """Kinesis Data Streams; ordered by the record's partition key."""
        return self.handler(
            "kinesis", document, channel=channel, partition_key=partition_key, version=version
        )

    def kinesis_dynamodb(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[KinesisDynamoDBRecord], Hashable] | None = None,
        version: Callable[[KinesisDynamoDBRecord], Any] | None = None,
    ) -> Callable[[Callable[[KinesisDynamoDBRecord], Any]], Handler[KinesisDynamoDBRecord]]:
        """Kinesis Data Streams for DynamoDB: a table's changes through a Kinesis data stream.

        Ordered by the item's key attributes, as for DynamoDB Streams; within a batch an item's changes go
        in creation order and a change delivered twice goes once (the stream keeps neither promise).
        """
        return self.handler(
            "kinesis_dynamodb", document, channel=channel, partition_key=partition_key, version=version
        )

    def sqs(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[SQSRecord], Hashable] | None = None,
        version: Callable[[SQSRecord], Any] | None = None,
    ) -> Callable[[Callable[[SQSRecord], Any]], Handler[SQSRecord]]:
        """SQS; FIFO queues are ordered by message group, standard queues are not ordered."""
        return self.handler("sqs", document, channel=channel, partition_key=partition_key, version=version)

    def aurora(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[AuroraEvent], Hashable] | None = None,
        version: Callable[[AuroraEvent], Any] | None = None,
    ) -> Callable[[Callable[[AuroraEvent], Any]], Handler[AuroraEvent]]:
        """Aurora MySQL ``lambda_sync``/``lambda_async`` and PostgreSQL ``aws_lambda.invoke`` payloads."""
        return self.handler("aurora", document, channel=channel, partition_key=partition_key, version=version)

    def cloudwatch_alarm(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[AlarmEvent], Hashable] | None = None,
        version: Callable[[AlarmEvent], Any] | None = None,
    ) -> Callable[[Callable[[AlarmEvent], Any]], Handler[AlarmEvent]]:
        """CloudWatch alarm actions, direct or through SNS."""
        return self.handler(
            "cloudwatch_alarm", document, channel=channel, partition_key=partition_key, version=version
        )

    def eventbridge(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[EventBridgeEvent], Hashable] | None = None,
        version: Callable[[EventBridgeEvent], Any] | None = None,
    ) -> Callable[[Callable[[EventBridgeEvent], Any]], Handler[EventBridgeEvent]]:
        """EventBridge / CloudWatch Events."""
        return self.handler(
            "eventbridge", document, channel=channel, partition_key=partition_key, version=version
        )

    def http(
        self,
        document: str | None = None,
        *,
        channel: Channel | None = None,
        partition_key: Callable[[HttpItem], Hashable] | None = None,
        max_body_bytes: int = 1024 * 1024,
        max_items: int = 100,
        version: Callable[[HttpItem], Any] | None = None,
    ) -> Callable[[Callable[[HttpItem], Any]], HttpHandler]:
        """API Gateway REST and HTTP APIs (payload formats 1.0 and 2.0) and Lambda function URLs.

        The request's JSON body is one item (an object) or several (an array of objects), each a record,
        published in the order of the body unless ``partition_key`` says otherwise. The handler answers an
        HTTP response: 200 when every item is published, 400/413/415 for a body it cannot take (over
        ``max_body_bytes`` or ``max_items``: 413), 422/500/503 naming the items that failed and why. With
        ``Bridge(idempotency=...)``, a request with an ``Idempotency-Key`` header publishes once. See
        docs/sources/http.md.
        """
        from streambridge._sources.http import RequestLimits  # HTTP handlers only

        limits = RequestLimits(
            max_body_bytes=whole("Bridge.http(max_body_bytes=...)", max_body_bytes),
            max_items=whole("Bridge.http(max_items=...)", max_items),
        )
        decorate = self.handler(
            "http", document, channel=channel, partition_key=partition_key, version=version
        )

        def bind(mapper: Callable[[HttpItem], Any]) -> HttpHandler:
            handler = decorate(mapper)
            assert isinstance(handler, HttpHandler)  # noqa: S101 - handler() makes one for "http"
            handler.limits = limits
            return handler

        return bind

    # -- plumbing ----------------------------------------------------------------------------------

    def _endpoint(self) -> Endpoint:
        from streambridge._engine.publish import Endpoint

        if not self._auth_checked:
            self.auth.validate(self.url)
            self._auth_checked = True
        if self._transport is None:
            from streambridge._io.http import HttpTransport

            self._transport = HttpTransport(max_connections=max(self.concurrency, 1))
        return Endpoint(self.url, self.auth, self._transport, self.request_timeout)

    def _run(self, start: Callable[[], Awaitable[InvocationResult]]) -> InvocationResult:
        import asyncio  # lazy: ~10 ms of cold start that import alone would pay

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            running = False
        else:
            running = True
        # Outside the except block: an error of the invocation (no credentials...) must not show
        # "RuntimeError: no running event loop" as the exception it happened while handling.
        if not running:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                self._close_at_exit = _close_at_exit(self)
            return self._loop.run_until_complete(start())
        # Called from inside a running loop (an async test, a notebook): run on a thread of its own, in a
        # copy of the caller's context (an OpenTelemetry span that is current there stays the parent).
        import concurrent.futures
        import contextvars

        context = contextvars.copy_context()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(context.run, lambda: asyncio.run(_awaited(start))).result()


async def _awaited(start: Callable[[], Awaitable[InvocationResult]]) -> InvocationResult:
    return await start()


class Handler(Generic[R]):
    """A decorated mapping function; calling it with ``(event, context)`` is the Lambda entry point.

    ``handler.mapper`` is the original function (for unit tests of the mapping alone) and
    ``handler.process(event, context)`` returns the full ``InvocationResult``.
    """

    def __init__(
        self,
        bridge: Bridge,
        source: Source,
        mapper: Callable[[R], Any],
        document: str | None,
        partition_key: Callable[[R], Hashable] | None,
        *,
        channel: Channel | None = None,
        version: Callable[[R], Any] | None = None,
    ) -> None:
        self.bridge = bridge
        self.source = source
        self.mapper = mapper
        self.document = document
        self.partition_key = partition_key
        self.channel = channel
        self.version = version
        functools.update_wrapper(self, mapper)

    def with_bridge(self, bridge: Bridge) -> Handler[R]:
        """The same handler publishing through another bridge, e.g. ``bridge.replace(transport=fake)``."""
        return Handler(
            bridge,
            self.source,
            self.mapper,
            self.document,
            self.partition_key,
            channel=self.channel,
            version=self.version,
        )

    def process(
        self, event: Mapping[str, Any] | Sequence[Any], context: LambdaContext | None = None
    ) -> InvocationResult:
        """Publish the event and return every record's outcome."""
        return self.bridge.process(
            self.source.name,
            event,
            self.mapper,
            document=self.document,
            channel=self.channel,
            partition_key=self.partition_key,
            version=self.version,
            context=context,
        )

    async def process_async(
        self, event: Mapping[str, Any] | Sequence[Any], context: LambdaContext | None = None
    ) -> InvocationResult:
        """The async form of ``process``."""
        return await self.bridge.process_async(
            self.source.name,
            event,
            self.mapper,
            document=self.document,
            channel=self.channel,
            partition_key=self.partition_key,
            version=self.version,
            context=context,
        )

    def __call__(
        self, event: Mapping[str, Any] | Sequence[Any], context: LambdaContext | None = None
    ) -> PartialItemFailureResponse | dict[str, Any]:
        """Lambda entry point: batch sources answer ``batchItemFailures``; single events raise on failure."""
        # Lambda runs one invocation at a time per process, so the collector can be paused for it: its
        # collections would only walk objects that reference counting frees when the result is dropped
        # (10-15% of the CPU of a large batch). It resumes once they are freed, here.
        paused = self.bridge.pause_gc and gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self.answer(self.process(event, context))
        finally:
            if paused:
                gc.enable()

    def answer(self, result: InvocationResult) -> PartialItemFailureResponse | dict[str, Any]:
        """What Lambda gets back for ``result``."""
        if self.source.batch:
            return result.lambda_response()
        if not result.ok:
            raise DeliveryFailedError(_not_published(result), result)
        return {"published": result.published, "skipped": result.skipped}


class HttpHandler(Handler["HttpItem"]):
    """``Bridge.http``'s Lambda entry point: an HTTP response to every request, whatever its body.

    Only an event that is no HTTP request raises (the function's trigger is wrong). ``process`` raises
    the ``EventShapeError`` of a refused request (its ``status`` and ``code`` say why); calling the
    handler answers it (docs/sources/http.md).
    """

    limits: RequestLimits | None = None
    """What a request may carry (``Bridge.http(max_body_bytes=..., max_items=...)``); None: the defaults."""

    def with_bridge(self, bridge: Bridge) -> HttpHandler:
        """The same handler publishing through another bridge."""
        import copy

        twin = copy.copy(self)
        twin.bridge = bridge
        return twin

    def process(self, event: Any, context: LambdaContext | None = None) -> InvocationResult:
        """Publish the request's items and return every item's outcome."""
        return self.bridge._run(lambda: self.process_async(event, context))

    async def process_async(self, event: Any, context: LambdaContext | None = None) -> InvocationResult:
        """The async form of ``process``."""
        from streambridge._sources.http import DEFAULT_LIMITS, read

        request = read(event, self.limits or DEFAULT_LIMITS)  # refused here, before anything is sent
        markers = request.markers if self.bridge.idempotency is not None else None
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        deadline = Deadline(remaining, self.bridge.deadline_margin)
        if markers is not None:
            await self._refuse_reused_key(markers, deadline)
        result = await super().process_async(request, context)  # the source takes what was read as is
        if markers is not None and result.failed < len(result.outcomes):
            await self._remember_key(markers, deadline)
        return result

    def __call__(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        """Lambda entry point: the HTTP response for API Gateway or the function URL."""
        from streambridge._engine import http_reply
        from streambridge._sources.http import RequestRefusedError

        try:
            return super().__call__(event, context)  # type: ignore[return-value]  # answer()'s
        except RequestRefusedError as refused:
            logger.warning("streambridge http: refused (%d %s): %s", refused.status, refused.code, refused)
            return http_reply.refusal(refused)
        except ConfigurationError as error:  # the function's setup, not the client's request
            logger.error("streambridge http: %s", error)  # noqa: TRY400 - the message says it all
            return http_reply.misconfigured()

    def answer(self, result: InvocationResult) -> dict[str, Any]:
        """The HTTP response for ``result``: a status and a JSON body naming the items not published."""
        from streambridge._engine.http_reply import reply

        return reply(result)

    async def _refuse_reused_key(self, markers: tuple[str, str], deadline: Deadline) -> None:
        """422 when the request's Idempotency-Key was used before with another body.

        A store too slow or unreachable lets the request through: its items are keyed by the body's digest
        too, so another body never skips an item (at least once).
        """
        from streambridge._sources.http import IDEMPOTENCY_HEADER, RequestRefusedError

        store = self.bridge.idempotency
        budget = deadline.budget()
        try:
            assert store is not None  # noqa: S101 - the caller checked
            seen = await self.bridge._in_thread(
                store.published, list(markers), timeout=None if budget is None else budget / 4
            )
        except Exception:  # noqa: BLE001 - TimeoutError included: the check is skipped, nothing lost
            logger.warning("streambridge http: idempotency store unreadable; Idempotency-Key not checked")
            return
        used, with_this_body = markers
        if used in seen and with_this_body not in seen:
            raise RequestRefusedError(
                422,
                "idempotency_key_reused",
                f"this {IDEMPOTENCY_HEADER} was used with another body: use a new key for a new request",
            )

    async def _remember_key(self, markers: tuple[str, str], deadline: Deadline) -> None:
        """Note that the key was used with this body, once some item of it took effect."""
        store = self.bridge.idempotency
        try:
            assert store is not None  # noqa: S101 - the caller checked
            await self.bridge._in_thread(store.remember, list(markers), timeout=deadline.budget())
        except Exception:  # noqa: BLE001 - only a reuse with another body goes unnoticed
            logger.warning("streambridge http: idempotency store could not remember the Idempotency-Key")


def _mutations_of(
    event: SourceRecord,
    mapper: Callable[[Any], Any],
    partition_key: Callable[[Any], Hashable] | None,
    target: GraphQLTarget | ChannelTarget,
) -> tuple[Sequence[SourceRecord], Callable[[Any], Any], Callable[[Any], Hashable] | None]:
    """A single event's records, mapping and key: one record per mutation (or event) when it maps to several.

    Lambda retries a single event whole, so its outcome must say which of its mutations ran. The
    mapping function runs here, once; the planner gets its result (or its exception) replayed, and reports
    any failure as it would have.
    """
    try:
        key = event.default_partition_key if partition_key is None else partition_key(event)
    except Exception:  # noqa: BLE001 - the planner runs it again and reports it
        return [event], mapper, partition_key
    try:
        result = mapper(event)
    except Exception as error:  # noqa: BLE001 - replayed to the planner, which reports it
        raised = error  # ``error`` is unbound after the except block

        def replay(_: Any) -> Any:
            raise raised

        return [event], replay, lambda _: key
    try:
        mutations = target.split(event, result)
    except Exception:  # noqa: BLE001 - the planner meets it again and reports it
        mutations = []
    if len(mutations) < 2:  # one mutation or none: the event is its own record
        return [event], lambda _: result, lambda _: key
    ordered = key if key is not None else ("event",)  # the event's mutations go out in order
    parts = [MutationOf(event, m, i, len(mutations), ordered) for i, m in enumerate(mutations)]
    return parts, _mutation, None


def _mutation(part: MutationOf) -> Any:
    return part.mutation


def _not_published(result: InvocationResult) -> str:
    """The message of a single event's DeliveryFailedError: which of its mutations ran, which failed."""
    first = result.failures[0]
    if not isinstance(first.record, MutationOf):
        return f"streambridge: {first.record.describe()} was not published: {first.error}"
    part = first.record
    published = [o.record.position + 1 for o in result.outcomes if o.status is Status.PUBLISHED]  # type: ignore[attr-defined]
    failed = [o.record.position + 1 for o in result.failures]  # type: ignore[attr-defined]
    ran = f" (mutation {', '.join(map(str, published))})" if published else ""
    return (
        f"streambridge: {part.event.describe()}: {len(published)} of {part.count} mutations published"
        f"{ran}; mutation {', '.join(map(str, failed))} not published; mutation {part.position + 1} "
        f"failed: {first.error}"
    )


def _once_each(function: Callable[[Any], Hashable] | None) -> Callable[[Any], Hashable] | None:
    """``function`` of a record, run once per record of this invocation; what it raised is raised again."""
    if function is None:
        return None
    answers: dict[SourceRecord, tuple[Hashable | None, Exception | None]] = {}  # records hash by identity

    def once(record: SourceRecord) -> Hashable:
        answer = answers.get(record)
        if answer is None:
            try:
                answer = (function(record), None)
            except Exception as raised:  # noqa: BLE001 - raised again below, to each caller
                answer = (None, raised)
            answers[record] = answer
        key, failure = answer
        if failure is not None:
            raise failure
        return key

    return once


def _group_of(record: SourceRecord, partition_key: Callable[[Any], Hashable] | None) -> Hashable | None:
    """The record's partition key as the planner reads it; None when its function raises (planned as such)."""
    try:
        return partition_key_of(record, partition_key)
    except StreambridgeError:
        return None


def _guard_group(
    partition_key: Callable[[Any], Hashable] | None, chooser: Callable[[Any], Hashable] | None
) -> Callable[[SourceRecord], Hashable | None]:
    """The stale guard's key of a record: its partition key; None when unordered or its function raised.

    An event that maps to several mutations is keyed as the event, by the user's ``partition_key``.
    """

    def group(record: SourceRecord) -> Hashable | None:
        if isinstance(record, MutationOf):
            key = _group_of(record.event, chooser)
        else:
            key = _group_of(record, partition_key)
        return None if isinstance(key, Unordered) else key

    return group


_SEQUENCE_DEFAULTS = ("dynamodb", "kinesis")
"""Sources whose own version is a sequence number, comparable only within a shard (docs/semantics.md)."""


def _check_guard(
    guard: VersionStore | None,
    source: SourceName,
    partition_key: Callable[[Any], Hashable] | None,
    version: Callable[[Any], Any] | None,
) -> None:
    """Refuse at cold start a decorator the stale guard cannot serve, or a ``version=`` with no guard."""
    if version is not None and not callable(version):
        raise ConfigurationError(f"version= must be a function of the record, got {kind(version)}")
    if guard is None:
        if version is not None:
            raise ConfigurationError(
                "version= needs a version store: Bridge(stale_guard=DynamoDBVersionStore(...))"
            )
        return
    fix = "or use bridge.replace(stale_guard=None) for this handler"
    if source == "eventbridge" and partition_key is None:
        raise ConfigurationError(
            "with stale_guard, the eventbridge decorator needs partition_key= naming the thing an event "
            "changes (e.g. lambda e: e.detail['orderId']): its default key, source and detail-type, is one "
            f"for every event of a kind, and the guard would skip every event older than the newest; {fix}"
        )
    if source in ("aurora", "http") and (version is None or partition_key is None):
        what = (
            "an Aurora payload has neither a version nor a key of its own"
            if source == "aurora"
            else "an HTTP request's item has no version of its own, and one key for the whole request"
        )
        raise ConfigurationError(
            f"with stale_guard, the {source} decorator needs version= and partition_key=: {what}; {fix}"
        )
    if source in _SEQUENCE_DEFAULTS and partition_key is not None and version is None:
        raise ConfigurationError(
            f"with stale_guard and partition_key=, the {source} decorator needs version= too: its own "
            "version, the sequence number, compares only changes of one shard, and a key of yours may "
            f"span shards (version=lambda r: int(r.sequence_number) if yours cannot); {fix}"
        )
    if source == "kinesis_dynamodb" and partition_key is not None and version is None:
        raise ConfigurationError(
            "with stale_guard and partition_key=, the kinesis_dynamodb decorator needs version= too: its "
            "own version, the creation time, orders one item's changes, and with a key of several items "
            f"the guard would skip an item's change for being older than another item's; {fix}"
        )


def _poison(poison: str | None, sink: DeadLetterSink | None) -> Poison:
    """The poison policy: given, else "dead-letter" with a sink (as before the setting) and "report"."""
    if poison is None:
        return "report" if sink is None else "dead-letter"
    if poison not in _POISON:
        raise ConfigurationError(f"poison must be one of {list(_POISON)}, got {poison!r}")
    if poison == "dead-letter" and sink is None:
        raise ConfigurationError(
            'poison="dead-letter" needs a sink: pass dead_letter=, e.g. SQSDeadLetterQueue(queue_url)'
        )
    return poison  # type: ignore[return-value]  # checked against _POISON above


def _source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigurationError(f"unknown source {name!r}; expected one of {sorted(SOURCES)}") from None


def _check_url(url: str | None) -> str:
    """``url`` if it can be the HTTP endpoint of a GraphQL API or an Event API; else refused with the fix.

    An AppSync domain (``<id>.appsync-api.<region>.amazonaws.com``) serves ``/graphql`` (GraphQL API) and
    ``/event`` (Event API) and nothing else. A custom domain serves the same paths, but a proxy in front of
    AppSync may map any path, so only the real-time endpoint's (``/graphql/realtime``, ``/event/realtime``)
    is refused there. A local endpoint (LocalAppSync, the simulator) is http://HOST:PORT/graphql or /event.
    """
    if not url:
        raise ConfigurationError(
            f"no AppSync URL: pass Bridge(url=...) or set the environment variable {URL_ENV}"
        )
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = None
    host = parts and parts.hostname
    if parts is None or parts.scheme not in ("https", "http", "wss", "ws") or not host:
        raise ConfigurationError(
            "AppSync URL must be an http(s) URL like "
            f"https://xyz.appsync-api.<region>.amazonaws.com/graphql, got {_shown(url)!r}"
        )
    path = parts.path.rstrip("/")
    if (
        parts.scheme in ("wss", "ws")
        or _appsync_domain("realtime-api").search(host)
        or path.endswith(("/graphql/realtime", "/event/realtime"))
    ):
        raise ConfigurationError(
            f"{_shown(url)!r} is AppSync's real-time (WebSocket) endpoint, which subscribers connect to; "
            f"streambridge publishes with HTTP POSTs to the API's own endpoint: use {_likely_endpoint(parts)}"
        )
    if parts.query or parts.fragment:  # AppSync takes none, and SigV4 would sign another query than sent
        raise ConfigurationError(
            f"AppSync URL must have no query string or fragment, got {_shown(url)!r}: "
            "the GraphQL endpoint is https://xyz.appsync-api.<region>.amazonaws.com/graphql"
        )
    if _appsync_domain("api").search(host) and parts.path not in ("/graphql", "/event"):
        raise ConfigurationError(
            f"{_shown(url)!r} is not an AppSync endpoint: an AppSync domain serves /graphql (GraphQL API) "
            f"and /event (Event API) only; use {_likely_endpoint(parts)}"
        )
    return url


@functools.cache
def _appsync_domain(service: Literal["api", "realtime-api"]) -> re.Pattern[str]:
    """AppSync's own host names for a service: <id>.appsync-api.<region>.amazonaws.com, .com.cn, vpce."""
    import re  # compiled once, when a first URL is checked

    return re.compile(rf"(?:^|\.)appsync-{service}\.[a-z0-9-]+\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$")


def _likely_endpoint(parts: urllib.parse.SplitResult) -> str:
    """The HTTP endpoint a refused URL most likely meant: same API, https (http), /graphql or /event."""
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    host = parts.netloc.rpartition("@")[2].replace(".appsync-realtime-api.", ".appsync-api.")
    path = parts.path.rstrip("/").removesuffix("/realtime")
    if ".appsync-api." in host or not path:  # an AppSync domain (or its real-time twin): nothing else
        path = "/event" if path.startswith("/event") or path.endswith("/event") else "/graphql"
    return f"{scheme}://{host}{path}"


def _is_event_api(url: str) -> bool:
    """True for an AppSync Event API's HTTP endpoint (``https://HTTP_DOMAIN/event``)."""
    return urllib.parse.urlsplit(url).path.rstrip("/").endswith("/event")


def _close_at_exit(bridge: Bridge) -> Callable[[], None]:
    """Close ``bridge`` when the interpreter exits, unless closed before.

    A script that calls a handler and ends would otherwise leave the loop's connections open, and Python
    warns "unclosed transport" at exit. Paid once per loop the bridge creates, never per
    invocation; the bridge is held weakly, so this does not keep a dropped bridge alive.
    """
    import atexit
    import weakref

    reference = weakref.ref(bridge)

    def close() -> None:
        alive = reference()
        if alive is not None and alive._loop is not None and not alive._loop.is_running():
            alive.close()

    atexit.register(close)
    return close


def _shown(url: str | None) -> str | None:
    """The URL as logs and errors may show it: a user and password in it become ``***``."""
    if url is None or "@" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # unparsable: hide everything up to the last "@" of the authority
        scheme, separator, rest = url.partition("://")
        return f"{scheme}{separator}***@{rest.rpartition('@')[2]}"
    if not parts.username and not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def _duck(knob: str, value: T | None, methods: tuple[str, ...], must: str) -> T | None:
    """``value`` if it is None or has the methods the bridge calls on it; else refused, naming the knob."""
    if value is None or has_methods(value, *methods):
        return value
    raise ConfigurationError(f"Bridge({knob}=...) must {must}, got {kind(value)}")


def _log(result: InvocationResult) -> None:
    summary = result.summary()
    counters = " ".join(f"{name}={value}" for name, value in summary.items() if name != "source")
    logger.info("streambridge %s: %s", result.source, counters, extra={"streambridge": summary})
    failures = result.failures
    for outcome in failures[:_MAX_FAILURE_LINES]:
        logger.warning("streambridge: failed %s", outcome.explain())
    if len(failures) > _MAX_FAILURE_LINES:
        logger.warning("streambridge: ... and %d more failed records", len(failures) - _MAX_FAILURE_LINES)
