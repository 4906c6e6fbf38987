"""``streambridge doctor`` against an AppSync Event API (a URL ending in ``/event``).

An Event API has no schema and no subscription filters: an event reaches every subscriber of its channel
(or of a wildcard over it). What the service leaves open is whether the events of one publish (up to 5,
https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html) reach subscribers in their order,
and how fast. So the doctor asks the live API:

1. It maps the probe record with the handler's own mapping function and ``channel=`` (the library's
   ChannelTarget), and subscribes to every channel the probe's events go to, over the Event API's
   real-time WebSocket (below), before anything is published.
2. It publishes ``--count`` copies through the library's real path, as single events (``batch_size=1``,
   one lane, so in order) and as batches (one lane per copy, so up to 5 share a publish), recording each
   publish and its answer with the GraphQL doctor's RecordingTransport.
3. It matches the ``data`` messages to the events AppSync listed as ``successful`` and judges the shape the
   handler's Bridge is configured for, as the GraphQL doctor does (same matching, exit statuses, redaction).

The real-time protocol, as documented
(https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html) and as amplify-js's
``AWSAppSyncEventProvider`` speaks it: subprotocols ``aws-appsync-event-ws`` and ``header-<base64url of the
auth headers' JSON>`` (with ``host``, the HTTP host; an IAM signature covers ``POST /event`` with body
``{}``), ``connection_init`` -> ``connection_ack``, ``subscribe`` (``id``, ``channel``, ``authorization``:
headers signed over ``{"channel": ...}``) -> ``subscribe_success``, then ``data`` (``id``, ``event``: the
event's JSON text); refusals are ``connection_error`` / ``subscribe_error`` with an ``errors`` list.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from streambridge._bridge import Bridge, Handler
from streambridge._errors import AuthorizationError, ConfigurationError, EventShapeError, StreambridgeError
from streambridge._io.auth import ApiKeyAuth, IAMAuth
from streambridge._io.transport import Auth
from streambridge._sources import SOURCES
from streambridge._targets.channels import MAX_EVENT_BYTES, MAX_EVENTS, ChannelTarget
from streambridge._tools.common import (
    CommandError,
    _bridge_for,
    _json_option,
    _library_logs,
    _out,
    realtime_url,
)
from streambridge._tools.doctor import (
    Delivery,
    ProbeError,
    Received,
    RecordingTransport,
    Sent,
    Shape,
    _await_messages,
    _delivery_text,
    _errors_text,
    _lane_per_record,
    _latency,
    _one_handler,
    _one_lane,
    _redact,
    copies,
    sample_event,
)
from streambridge.testing.events import lambda_context

__all__ = ["EventSocket", "PublishShape", "ShapeReport", "judge", "run"]

SUBPROTOCOL = "aws-appsync-event-ws"
_TIMEOUT = 10.0
_INVOCATION_TIMEOUT_MS = 60_000
_NAMES = {Shape.SINGLE: "single events", Shape.BATCH: f"batches of up to {MAX_EVENTS}"}


# --------------------------------------------------------------------------------------------------
# What a shape observed, and the verdict


@dataclass(frozen=True)
class PublishShape:
    """One publish the probe sent: how many events, to which channel, and its round trip."""

    channel: str
    events: int
    seconds: float


@dataclass(frozen=True)
class ShapeReport:
    """What one shape's probe observed."""

    shape: Shape
    publishes: tuple[PublishShape, ...]
    events: int
    """Probe events AppSync listed as successful."""
    failed: tuple[str, ...]
    """Why probe records failed (AppSync's own error text), once each."""
    deliveries: Mapping[str, Delivery]
    """By channel."""
    waited: float
    largest_event: int = 0
    not_applicable: str | None = None

    @property
    def works(self) -> bool:
        """Every probe event was accepted and every channel's subscriber got them all, in order."""
        return (
            self.not_applicable is None
            and not self.failed
            and bool(self.deliveries)
            and all(delivery.complete for delivery in self.deliveries.values())
        )

    def problem(self) -> str:
        """Why the shape does not work, in one clause (empty when it works)."""
        name = _NAMES[self.shape]
        if self.not_applicable is not None:
            return f"{name} were not probed: {self.not_applicable}"
        if self.failed:
            return f"{name}: {self.failed[0]}"
        for channel, delivery in self.deliveries.items():
            if delivery.delivered < delivery.expected:
                return (
                    f"{name} did not reach the subscriber of {channel} ({delivery.delivered} of "
                    f"{delivery.expected} events in {self.waited:.1f} s)"
                )
            if not delivery.complete:
                return f"{name} reached the subscriber of {channel} out of order"
        return ""


def judge(configured: Shape, single: ShapeReport, batch: ShapeReport) -> tuple[int, str]:
    """``(exit status, reason)``: the shape the handler's Bridge sends decides; say which setting works."""
    chosen, other = (single, batch) if configured is Shape.SINGLE else (batch, single)
    name = _NAMES[configured]
    if chosen.works:
        also = ""
        if configured is Shape.SINGLE and other.works:
            also = "; batches work too, so a larger batch_size is safe on this API"
        return 0, f"{name} reach every subscriber: all probe events arrived, in order{also}"
    if chosen.failed:  # the API refused the probe's events (an onPublish handler, say): no shape helps
        return 1, chosen.problem()
    if other.works:
        advice = "use Bridge(batch_size=1)" if configured is Shape.BATCH else "yet batches did reach them"
        return 1, f"{chosen.problem()}; {advice}"
    return 1, f"{chosen.problem()}; no shape reached the subscribers: check the namespace's subscribe auth"


# --------------------------------------------------------------------------------------------------
# Reading the recorded publishes


def _publishes(recorder: RecordingTransport) -> tuple[PublishShape, ...]:
    shapes = []
    for exchange in recorder.exchanges:
        body = json.loads(exchange.body)
        seconds = (exchange.answered or exchange.sent) - exchange.sent
        shapes.append(PublishShape(body["channel"], len(body["events"]), seconds))
    return tuple(shapes)


def _accepted(recorder: RecordingTransport) -> list[Sent]:
    """Every event AppSync listed as successful, in publish order then index order."""
    sent: list[Sent] = []
    for exchange in recorder.exchanges:
        response = exchange.response
        if response is None or response.status != 200:
            continue
        body = json.loads(exchange.body)
        try:
            answer = json.loads(response.body)
        except ValueError:
            continue
        entries = answer.get("successful") if isinstance(answer, dict) else None
        indexes = sorted(e["index"] for e in entries or () if isinstance(e, dict) and "index" in e)
        sent += [Sent(body["channel"], json.loads(body["events"][i]), exchange.sent) for i in indexes]
    return sent


def _shape_text(publishes: Sequence[PublishShape]) -> str:
    if not publishes:
        return "no publish"
    counts = "/".join(str(c) for c in sorted({p.events for p in publishes}))
    plural = "es" if len(publishes) != 1 else ""
    return f"{len(publishes)} publish{plural} of {counts} event{'' if counts == '1' else 's'}"


# --------------------------------------------------------------------------------------------------
# I/O: the real-time subscriber


def _auth_headers(auth: Auth, http_url: str, body: dict[str, Any]) -> dict[str, str]:
    """The headers authorizing ``body`` as a publish to ``http_url`` would be, with ``host``."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return {"host": urlsplit(http_url).netloc, **auth.headers(http_url, text)}


class EventSocket:
    """One real-time connection of the Event API protocol, subscribed to the probe's channels."""

    def __init__(self, realtime_url: str, http_url: str, auth: Auth, changed: asyncio.Event) -> None:
        self.realtime_url = realtime_url
        self.http_url = http_url
        self.auth = auth
        self.changed = changed
        self.received: dict[str, list[Received]] = {}  # by channel
        self._channels: dict[str, str] = {}  # subscription id -> channel
        self._pending: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        self._session: Any = None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self, channels: Sequence[str], timeout: float) -> None:
        """Connect and subscribe; ProbeError with AppSync's words if it refuses."""
        import aiohttp

        header = json.dumps(_auth_headers(self.auth, self.http_url, {})).encode()
        encoded = base64.urlsafe_b64encode(header).decode().rstrip("=")
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await asyncio.wait_for(
                self._session.ws_connect(self.realtime_url, protocols=(SUBPROTOCOL, f"header-{encoded}")),
                timeout,
            )
        except aiohttp.WSServerHandshakeError as error:
            raise ProbeError(
                f"the real-time endpoint {self.realtime_url} refused the connection: {error}"
            ) from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
            raise ProbeError(
                f"cannot connect to {self.realtime_url}: {type(error).__name__}: {error}"
            ) from None
        self._reader = asyncio.create_task(self._read())
        await self._ask("connection", {"type": "connection_init"}, timeout)
        for channel in channels:
            subscription_id = str(uuid.uuid4())
            self._channels[subscription_id] = channel
            self.received[channel] = []
            message = {
                "type": "subscribe",
                "id": subscription_id,
                "channel": channel,
                "authorization": _auth_headers(self.auth, self.http_url, {"channel": channel}),
            }
            await self._ask(subscription_id, message, timeout, what=f"the subscription to {channel}")

    async def _ask(self, key: str, message: Mapping[str, Any], timeout: float, what: str = "") -> None:
        """Send ``message`` and wait for its ``*_ack`` / ``*_success``; ProbeError on its error."""
        waiter = self._pending[key] = asyncio.get_running_loop().create_future()
        await self._ws.send_str(json.dumps(message))
        try:
            answer = await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            raise ProbeError(f"no answer from {self.realtime_url} within {timeout:.0f} s") from None
        if answer["type"].endswith("error"):
            refused = what or "the connection"
            raise ProbeError(f"the real-time endpoint refused {refused}: {_errors_text(answer)}")

    async def _read(self) -> None:
        import aiohttp

        async for frame in self._ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            kind = message.get("type")
            if kind == "data" and message.get("id") in self._channels:
                value = json.loads(message["event"])
                self.received[self._channels[message["id"]]].append(Received(value, time.perf_counter()))
                self.changed.set()
            elif kind in ("connection_ack", "connection_error", "error"):
                self._answer("connection", message)
            elif kind in ("subscribe_success", "subscribe_error"):
                self._answer(str(message.get("id")), message)
        for waiter in self._pending.values():  # the server closed: nobody waits forever
            self._answer_waiter(waiter, {"type": "error", "errors": [{"message": "the connection closed"}]})

    def _answer(self, key: str, message: Mapping[str, Any]) -> None:
        waiter = self._pending.get(key)
        if waiter is not None:
            self._answer_waiter(waiter, message)

    @staticmethod
    def _answer_waiter(waiter: asyncio.Future[Mapping[str, Any]], message: Mapping[str, Any]) -> None:
        if not waiter.done():
            waiter.set_result(message)

    async def close(self) -> None:
        """Close the connection (AppSync drops its subscriptions with it)."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


# --------------------------------------------------------------------------------------------------
# I/O: the run


@dataclass
class _Probe:
    label: str
    handler: Handler[Any]
    bridge: Bridge
    configured: Shape
    record: str
    origin: str
    single_events: list[Any]
    batch_event: Any | None
    channels: list[str]
    largest_event: int
    realtime_url: str
    realtime_auth: Auth


def run(args: argparse.Namespace) -> int:
    """The ``doctor`` verb for an Event API: prepare, warn, probe both shapes, report, judge."""
    secrets = [s for s in (args.api_key, args.token, args.subscribe_api_key) if s]
    try:
        probe = _prepare(args)
        with _library_logs(logging.CRITICAL):  # the report says what failed
            single, batch = asyncio.run(_probe_both(probe, args))
    except (ProbeError, ConfigurationError) as error:
        raise CommandError(_redact(str(error), secrets)) from None
    code, reason = judge(probe.configured, single, batch)
    report = _report(probe, args, (single, batch), (code, reason))
    if args.json:
        _out(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        _print_report(report)
    return code


def _prepare(args: argparse.Namespace) -> _Probe:
    if args.region is not None and not args.iam:
        raise ProbeError("--region goes with --iam")
    label, handler = _one_handler(args.handler)
    if handler.document is not None:
        raise ProbeError(
            f"{label} publishes GraphQL mutations (its decorator has a document), but {args.url} is an "
            "AppSync Event API endpoint (.../event); pass the API's /graphql URL"
        )
    bridge = _bridge_for(handler.bridge, args)
    spec = handler.source
    origin = {None: "the built-in sample", "-": "stdin"}.get(args.event, args.event)
    event = (
        _json_option("--event", "@" + args.event)
        if args.event
        else sample_event(spec.name, f"streambridge-doctor-{uuid.uuid4().hex[:8]}")
    )
    try:
        records = SOURCES[spec.name].parse(event)
    except EventShapeError as error:
        raise ProbeError(f"the event is not a {spec.title} event: {error}") from None
    if not records:
        raise ProbeError(f"{origin} has no record to probe with")
    batch_event: Any | None = None
    if spec.batch:  # copies of the first record, numbered on from the single shape's
        raw = event["Records"][0]
        single_events = [copies(spec.name, raw, 0, args.count)]
        batch_event = copies(spec.name, raw, args.count, args.count)
        probe_records = [*spec.parse(single_events[0]), *spec.parse(batch_event)]
    else:
        single_events, probe_records = [event] * args.count, [records[0]]
    target = ChannelTarget(handler.channel)
    planned = []
    for record in probe_records:  # mapped before anything is sent, so the subscriptions are open first
        where = f"{record.describe()} of {origin}"
        try:
            planned += target.prepare(record, handler.mapper(record))
        except Exception as error:  # noqa: BLE001 - whatever the user's function raises, say so and stop
            hint = "; pass --event FILE with a record it publishes" if not args.event else ""
            raise ProbeError(f"the mapping function failed on {where}: {error}{hint}") from None
    if not planned:
        raise ProbeError(f"the mapping function skips {records[0].describe()} of {origin}; pass --event FILE")
    limit = bridge.limits.max_mutations
    return _Probe(
        label=label,
        handler=handler,
        bridge=bridge,
        configured=Shape.SINGLE if limit == 1 or not spec.batch else Shape.BATCH,
        record=records[0].describe(),
        origin=origin,
        single_events=single_events,
        batch_event=batch_event,
        channels=list(dict.fromkeys(event.channel for event in planned)),
        largest_event=max(len(json.loads(event.quoted).encode()) for event in planned),
        realtime_url=args.realtime_url or realtime_url(bridge.url),
        realtime_auth=ApiKeyAuth(args.subscribe_api_key) if args.subscribe_api_key else bridge.auth,
    )


async def _probe_both(probe: _Probe, args: argparse.Namespace) -> tuple[ShapeReport, ShapeReport]:
    from streambridge._io.http import HttpTransport

    changed = asyncio.Event()
    socket = EventSocket(probe.realtime_url, probe.bridge.url, probe.realtime_auth, changed)
    transport = HttpTransport(max_connections=max(probe.bridge.concurrency, 1))
    try:
        try:
            await socket.open(probe.channels, _TIMEOUT)
        except StreambridgeError as error:  # the auth could not sign (e.g. IAM without a region)
            if isinstance(error, ProbeError):
                raise
            raise ProbeError(f"cannot authorize the subscription: {error}") from None
        _warn(probe, args.count)
        single = await _probe_shape(
            Shape.SINGLE, probe, socket, transport,
            events=probe.single_events, partition_key=_one_lane, batch_size=1, wait=args.wait,
        )  # fmt: skip
        if probe.batch_event is None:
            why = f"a {probe.handler.source.title} event carries one record, so one event per publish"
            batch = ShapeReport(Shape.BATCH, (), 0, (), {}, 0.0, not_applicable=why)
        else:
            batch = await _probe_shape(
                Shape.BATCH, probe, socket, transport,
                events=[probe.batch_event], partition_key=_lane_per_record, batch_size=args.count,
                wait=args.wait,
            )  # fmt: skip
        return single, batch
    finally:
        await socket.close()
        await transport.close()


async def _probe_shape(
    shape: Shape,
    probe: _Probe,
    socket: EventSocket,
    transport: Any,
    *,
    events: Sequence[Any],
    partition_key: Callable[[Any], Hashable],
    batch_size: int,
    wait: float,
) -> ShapeReport:
    recorder = RecordingTransport(transport)
    # As in the GraphQL doctor: the handler's tuning, but the shape's batch size (the bridge caps it at
    # 5 events), and none of the user's coalescing, idempotency store or dead-letter sink.
    bridge = probe.bridge.replace(
        batch_size=batch_size, coalesce=False, idempotency=None, dead_letter=None, transport=recorder
    )
    handler = Handler(
        bridge, probe.handler.source, probe.handler.mapper, None, partition_key, channel=probe.handler.channel
    )
    since = [len(socket.received[channel]) for channel in probe.channels]
    failed: list[str] = []
    for event in events:
        result = await handler.process_async(event, lambda_context(timeout_ms=_INVOCATION_TIMEOUT_MS))
        for outcome in result.failures:
            if isinstance(outcome.error, AuthorizationError):
                raise ProbeError(
                    f"publishing with {type(probe.bridge.auth).__name__} was refused: {outcome.error}"
                )
            failed.append(str(outcome.error))
    accepted = _accepted(recorder)
    expected = [[s for s in accepted if s.field == channel] for channel in probe.channels]
    started = time.perf_counter()
    inboxes = [(channel, socket.received[channel]) for channel in probe.channels]
    deliveries = await _await_messages(inboxes, expected, since, socket.changed, wait)
    return ShapeReport(
        shape=shape,
        publishes=_publishes(recorder),
        events=len(accepted),
        failed=tuple(dict.fromkeys(failed)),
        deliveries=deliveries,
        waited=time.perf_counter() - started,
        largest_event=probe.largest_event,
    )


def _warn(probe: _Probe, count: int) -> None:
    """Before publishing: every subscriber of these channels (or a wildcard over them) gets the probe."""
    events = count * (2 if probe.batch_event is not None else 1)
    sys.stderr.write(
        f"doctor: publishing {events} probe events to {probe.bridge.url}: every subscriber of "
        f"{', '.join(probe.channels)} (or of a wildcard over it) receives them too. Scope the probe: run it "
        "against a staging API, or probe a record whose channel no client subscribes to (the built-in "
        "sample uses a fresh id; --event gives your own).\n"
    )


# --------------------------------------------------------------------------------------------------
# The report


def _auth_name(auth: Auth) -> str:
    return {ApiKeyAuth: "API key", IAMAuth: "IAM"}.get(type(auth), "token")


def _report(
    probe: _Probe, args: argparse.Namespace, shapes: tuple[ShapeReport, ShapeReport], verdict: tuple[int, str]
) -> dict[str, Any]:
    code, reason = verdict
    return {
        "handler": probe.label,
        "api": "event",
        "endpoint": {
            "url": probe.bridge.url,
            "auth": type(probe.bridge.auth).__name__,
            "realtime_url": probe.realtime_url,
            "realtime_auth": _auth_name(probe.realtime_auth),
        },
        "auth": {"publish": "accepted", "subscribe": "accepted"},
        "probe": {"record": probe.record, "from": probe.origin, "copies_per_shape": args.count},
        "channels": probe.channels,
        "payload": {"largest_bytes": probe.largest_event, "limit_bytes": MAX_EVENT_BYTES},
        "configured": {"batch_size": probe.bridge.limits.max_mutations, "shape": probe.configured.value},
        "shapes": {shape.shape.value: _shape_json(shape) for shape in shapes},
        "verdict": {"exit_code": code, "reason": reason},
    }


def _shape_json(shape: ShapeReport) -> dict[str, Any]:
    return {
        "probed": shape.not_applicable is None,
        "not_applicable": shape.not_applicable,
        "works": shape.works,
        "shape": _shape_text(shape.publishes),
        "publishes": [
            {"channel": p.channel, "events": p.events, "ms": round(p.seconds * 1000, 1)}
            for p in shape.publishes
        ],
        "events_accepted": shape.events,
        "failed": list(shape.failed),
        "waited_s": round(shape.waited, 2),
        "channels": [
            {
                "channel": channel,
                "expected": d.expected,
                "delivered": d.delivered,
                "in_order": d.in_order,
                "distinguishable": d.distinguishable,
                "other_events": d.others,
                "latency_ms": _latency(d),
            }
            for channel, d in shape.deliveries.items()
        ],
    }


def _print_report(report: dict[str, Any]) -> None:
    endpoint, probe, payload = report["endpoint"], report["probe"], report["payload"]
    _out(f"streambridge doctor {report['handler']}")
    _out(f"  endpoint   {endpoint['url']} (Event API, {endpoint['auth']}): accepted")
    _out(f"  real-time  {endpoint['realtime_url']} ({endpoint['realtime_auth']}): accepted")
    _out(f"  probe      {probe['record']} of {probe['from']}, {probe['copies_per_shape']} copies per shape")
    for channel in report["channels"]:
        _out(f"  listening  {channel}")
    share = payload["largest_bytes"] / payload["limit_bytes"]
    _out(
        f"  payload    largest probe event {payload['largest_bytes']:,} B of the "
        f"{payload['limit_bytes']:,} B an event may hold ({share:.1%})"
    )
    for shape in (Shape.SINGLE, Shape.BATCH):
        observed = report["shapes"][shape.value]
        chosen = " (the handler's Bridge)" if report["configured"]["shape"] == shape.value else ""
        _out()
        if not observed["probed"]:
            _out(f"{_NAMES[shape]}{chosen}: not probed: {observed['not_applicable']}")
            continue
        rejected = f"; {observed['failed'][0]}" if observed["failed"] else ""
        _out(f"{_NAMES[shape]}{chosen}: {observed['shape']}{rejected}")
        for channel in observed["channels"]:
            counts = {**channel, "others": channel["other_events"]}
            _out(f"  {_delivery_text(channel['channel'], counts, observed['waited_s'], noun='events')}")
    _out()
    verdict = report["verdict"]
    _out(f"{'OK' if verdict['exit_code'] == 0 else 'FAIL'}: {verdict['reason']}")
