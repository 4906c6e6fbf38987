"""``streambridge doctor``: checks on a live API that subscribers receive what a handler publishes.

Whether each aliased top-level mutation of one request fires its subscriptions on the real AppSync is not
documented (one report against: elm-graphql#106), and a request of one mutation is the user's own
document, which is known to fire them. So the doctor asks the live API, with the handler's own mapping
function, document, tuning and auth:

1. It maps the probe record with the handler's mapping function and, for every subscription field whose
   ``@aws_subscribe`` lists the mutation (read from ``--schema``: AppSync's introspection does not expose
   directives), opens a real-time subscription filtered on the probe's own values (the subscription
   arguments that name response fields, valued from the mutation's variables), so that the messages go
   to the doctor and not to other users' filtered subscribers.
2. It publishes ``--count`` copies of the probe record through the library's real path (``Handler`` over
   a ``Bridge`` like the handler's) twice: as single unaliased requests (``batch_size=1``, one lane, so in
   order) and as one aliased batch (one lane per copy, so they share one request). A recording transport
   keeps each request's body and send time.
3. It matches each shape's messages to the mutations' answers (AppSync hands subscribers the mutation's
   selection set, and the doctor subscribes with that same selection) and judges the shape the handler's
   Bridge is configured for.

The pure parts (real-time URL, subscription plan, matching, verdict) come first; the I/O is at the bottom.
Only the command line imports this module, so gql and graphql-core are imported at module level.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import json
import logging
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import (
    AppSyncApiKeyAuthentication,
    AppSyncAuthentication,
    AppSyncIAMAuthentication,
    AppSyncJWTAuthentication,
)
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    coerce_input_value,
    get_named_type,
    parse,
    print_ast,
    value_from_ast_untyped,
)

from streambridge._bridge import Bridge, Handler
from streambridge._errors import AuthorizationError, ConfigurationError, EventShapeError, StreambridgeError
from streambridge._io.transport import HttpResponse, Transport
from streambridge._sources import SOURCES
from streambridge._sources._common import batch_records, pipe_batch
from streambridge._sources.http import HttpItem
from streambridge._targets.graphql.target import MAX_SUBSCRIPTION_PAYLOAD, Mutation, as_mutations
from streambridge._tools.check import (
    Finding,
    SchemaError,
    _subscribed_mutations,
    appsync_schema,
    check_document,
)
from streambridge._tools.common import (
    CommandError,
    _bridge_for,
    _importable_cwd,
    _json_option,
    _library_logs,
    _out,
    _read_text,
    errors_text,
    load_handlers,
)
from streambridge.testing import events as sample_events
from streambridge.testing.events import lambda_context

__all__ = [
    "Delivery",
    "Listener",
    "Shape",
    "ShapeReport",
    "Verdict",
    "judge",
    "match",
    "plan_listeners",
    "run",
]

_SUBSCRIBE_TIMEOUT = 10.0
_INVOCATION_TIMEOUT_MS = 60_000


class ProbeError(StreambridgeError):
    """The probe cannot be built or run as asked (exit status 2)."""


# --------------------------------------------------------------------------------------------------
# The real-time endpoint


def realtime_url(graphql_url: str) -> str:
    """The real-time WebSocket endpoint of an AppSync GraphQL endpoint.

    AppSync hosts: ``https://X.appsync-api.R.amazonaws.com/graphql`` ->
    ``wss://X.appsync-realtime-api.R.amazonaws.com/graphql``; custom domains:
    ``wss://DOMAIN/graphql/realtime``. Both as documented in "Configuring custom domain names",
    https://docs.aws.amazon.com/appsync/latest/devguide/custom-domain-name.html. Plain http, the local
    servers (LocalAppSync, the Amplify simulator): ``ws://HOST:PORT/graphql/realtime``.
    """
    parts = urlsplit(graphql_url)
    if parts.scheme == "http":
        return f"ws://{parts.netloc}/graphql/realtime"
    if ".appsync-api." in (parts.hostname or ""):
        return f"wss://{parts.netloc.replace('.appsync-api.', '.appsync-realtime-api.', 1)}{parts.path}"
    return f"wss://{parts.netloc}/graphql/realtime"


# --------------------------------------------------------------------------------------------------
# Which subscriptions to open


@dataclass(frozen=True)
class Listener:
    """One subscription the doctor opens: a field that lists the mutation, filtered on the probe's values."""

    field: str
    mutations: frozenset[str]
    """The mutation fields its ``@aws_subscribe`` lists."""
    filters: Mapping[str, Any]
    """Argument -> the probe's value for it (AppSync filters on the mutation's response fields)."""
    unfiltered: tuple[str, ...]
    """Filter arguments the probe's variables give no value for: subscribed without them."""
    document: str

    @property
    def label(self) -> str:
        """``onOrderChanged(id: "o-1")``: the subscription as the report names it."""
        arguments = ", ".join(f"{name}: {json.dumps(value)}" for name, value in self.filters.items())
        return f"{self.field}({arguments})" if arguments else self.field

    def receives(self, mutation_field: str, answer: Any) -> bool:
        """Whether AppSync hands this subscriber a mutation's answer.

        It does when the subscription lists the mutation and every filter argument equals the answer's
        field of that name.
        """
        if mutation_field not in self.mutations or not isinstance(answer, Mapping):
            return False
        return all(answer.get(name) == value for name, value in self.filters.items())


def plan_listeners(schema: GraphQLSchema, mutations: Sequence[Mutation]) -> list[Listener]:
    """The subscriptions that should receive ``mutations``, one per distinct field, filter and selection.

    Each selects what the mutation selects (which is all AppSync hands its subscribers), so a message
    equals the mutation's answer. Raises ProbeError when a required argument has no probe value.
    """
    subscription_type = schema.subscription_type
    if subscription_type is None:
        return []
    listeners: dict[tuple[str, str], Listener] = {}
    for mutation in mutations:
        ast = parse(mutation.document)
        fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
        for top in _top_level_fields(ast):
            for name, subscription in subscription_type.fields.items():
                listed = frozenset(_subscribed_mutations(subscription))
                if top.name.value not in listed:
                    continue
                listener = _listener(
                    schema,
                    name,
                    subscription=subscription,
                    listed=listed,
                    top=top,
                    fragments=fragments,
                    variables=mutation.variables,
                )
                listeners.setdefault((listener.document, json.dumps(listener.filters)), listener)
    return list(listeners.values())


def _top_level_fields(ast: Any) -> Iterator[FieldNode]:
    for definition in ast.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.operation is OperationType.MUTATION:
            yield from (s for s in definition.selection_set.selections if isinstance(s, FieldNode))


def _listener(
    schema: GraphQLSchema,
    name: str,
    *,
    subscription: GraphQLField,
    listed: frozenset[str],
    top: FieldNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> Listener:
    mutation_type = schema.mutation_type
    returned = get_named_type(mutation_type.fields[top.name.value].type) if mutation_type else None
    response_fields = (
        returned.fields if isinstance(returned, (GraphQLObjectType, GraphQLInterfaceType)) else {}
    )
    filters: dict[str, Any] = {}
    unfiltered: list[str] = []
    definitions: list[str] = []
    for argument, definition in subscription.args.items():
        if argument not in response_fields:  # it filters on nothing the mutation answers (`check` says so)
            continue
        value = _probe_value(top, argument, variables)
        if value is None:
            if str(definition.type).endswith("!"):
                raise ProbeError(
                    f"cannot subscribe to {name}: its required argument `{argument}` has no value in the "
                    f"probe's variables for {top.name.value}"
                )
            unfiltered.append(argument)
            continue
        with contextlib.suppress(GraphQLError):  # as AppSync reads the variable: an ID number is text
            value = coerce_input_value(value, definition.type)
        filters[argument] = value
        definitions.append(f"${argument}: {definition.type}")
    head = f"subscription StreambridgeDoctor({', '.join(definitions)})" if definitions else "subscription"
    arguments = f"({', '.join(f'{a}: ${a}' for a in filters)})" if filters else ""
    selection = f" {print_ast(top.selection_set)}" if top.selection_set else ""
    used = [print_ast(fragments[f]) for f in _spread_fragments(top.selection_set, fragments, set())]
    document = "\n".join([f"{head} {{ {name}{arguments}{selection} }}", *used])
    return Listener(name, listed, filters, tuple(unfiltered), document)


def _probe_value(top: FieldNode, argument: str, variables: Mapping[str, Any]) -> Any:
    """The value the mutation's answer will have for field ``argument``, read from its arguments.

    A pass-through resolver answers its input: the field's own argument of that name, else that field of
    an input object argument (``input: {id: ...}``). None when neither has a plain value for it.
    """
    values = {a.name.value: value_from_ast_untyped(a.value, dict(variables)) for a in top.arguments or ()}
    candidates = [values.get(argument)] + [v.get(argument) for v in values.values() if isinstance(v, dict)]
    return next(
        (c for c in candidates if c is not None and c is not Undefined and not isinstance(c, (dict, list))),
        None,
    )


def _spread_fragments(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode], seen: set[str]
) -> list[str]:
    """The fragments a selection set uses, directly or through others (GraphQL refuses unused ones)."""
    if selection_set is None:
        return []
    used: list[str] = []
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            name = selection.name.value
            seen.add(name)
            if name in fragments:
                used += [name, *_spread_fragments(fragments[name].selection_set, fragments, seen)]
        elif isinstance(selection, (FieldNode, InlineFragmentNode)):
            used += _spread_fragments(selection.selection_set, fragments, seen)
    return used


# --------------------------------------------------------------------------------------------------
# Matching messages to mutations


class Sent(NamedTuple):
    """One mutation AppSync answered: what its subscribers should receive, and when its request went out."""

    field: str
    answer: Any
    at: float


class Received(NamedTuple):
    """One subscription message (the subscription field's value) and when it arrived."""

    value: Any
    at: float


@dataclass(frozen=True)
class Delivery:
    """What one subscription received of what it should have."""

    expected: int
    delivered: int
    in_order: bool
    distinguishable: bool
    """False when the expected messages are all alike, so their order cannot be told."""
    latencies: tuple[float, ...]
    """Seconds from each delivered message's request to its arrival."""
    others: int
    """Messages that match no probe mutation (another publisher's, or a payload AppSync changed)."""

    @property
    def complete(self) -> bool:
        """Every expected message arrived, in order (a subscription that expects nothing is not complete)."""
        return self.expected > 0 and self.delivered == self.expected and self.in_order


def match(expected: Sequence[Sent], received: Sequence[Received]) -> Delivery:
    """Pair each message, in arrival order, with the first expected answer equal to it not yet paired."""
    pending = list(range(len(expected)))
    order: list[int] = []
    latencies: list[float] = []
    others = 0
    for message in received:
        position = next((p for p in pending if expected[p].answer == message.value), None)
        if position is None:
            others += 1
            continue
        pending.remove(position)
        order.append(position)
        latencies.append(message.at - expected[position].at)
    distinct = {json.dumps(sent.answer, sort_keys=True, default=str) for sent in expected}
    return Delivery(
        expected=len(expected),
        delivered=len(order),
        in_order=order == sorted(order),
        distinguishable=len(distinct) == len(expected),
        latencies=tuple(latencies),
        others=others,
    )


# --------------------------------------------------------------------------------------------------
# The verdict


class Shape(enum.Enum):
    """How the mutations travel."""

    SINGLE = "single"
    """One mutation per request: the user's document, unaliased (``Bridge(batch_size=1)``)."""
    BATCH = "batch"
    """Several mutations in one request, as aliased top-level fields (``batch_size`` > 1)."""

    @property
    def plural(self) -> str:
        """The shape as the verdict names it."""
        return "single requests" if self is Shape.SINGLE else "aliased batches"


class RequestShape(NamedTuple):
    """One request the probe sent, as captured by the recording transport."""

    fields: int
    aliased: bool
    query: str
    variables: Any
    seconds: float
    """From sending the request to its answer."""


@dataclass(frozen=True)
class ShapeReport:
    """What one shape's probe observed."""

    shape: Shape
    requests: tuple[RequestShape, ...]
    mutations: int
    """Probe mutations AppSync answered without error."""
    failed: tuple[str, ...]
    """Why probe records failed (AppSync's own error text), once each."""
    deliveries: Mapping[str, Delivery]
    """By subscription label."""
    waited: float
    """Seconds spent waiting for messages after the last request was answered."""
    largest_answer: int = 0
    """Bytes of the largest answer (JSON): what AppSync hands subscribers, at most 240 KB."""
    not_applicable: str | None = None
    """Why this shape was not probed (a single-event source never sends a batch)."""

    @property
    def as_intended(self) -> bool:
        """Single: every request carried one unaliased mutation. Batch: one request of aliased fields."""
        if self.shape is Shape.SINGLE:
            return all(r.fields == 1 and not r.aliased for r in self.requests)
        return len(self.requests) == 1 and self.requests[0].aliased and self.requests[0].fields > 1

    @property
    def works(self) -> bool:
        """Every probe mutation went out in this shape and every subscription got all of it, in order."""
        return (
            self.not_applicable is None
            and self.as_intended
            and not self.failed
            and bool(self.deliveries)
            and all(delivery.complete for delivery in self.deliveries.values())
        )

    def problem(self) -> str:
        """Why the shape does not work, in one clause (empty when it works)."""
        if self.not_applicable is not None:
            return f"{self.shape.plural} were not probed: {self.not_applicable}"
        if self.failed:
            return f"AppSync rejected the probe's {self.shape.plural}: {self.failed[0]}"
        if not self.as_intended:
            return (
                f"the probe's {self.shape.plural} did not travel as intended ({_shape_text(self.requests)})"
            )
        missing = ((label, d) for label, d in self.deliveries.items() if not d.complete)
        return next((self._undelivered(label, delivery) for label, delivery in missing), "")

    def _undelivered(self, label: str, delivery: Delivery) -> str:
        label = label.partition("(")[0]  # the field: the filter values are in the report
        if delivery.expected == 0:
            return f"no answer to the probe's {self.shape.plural} matches the filters of {label}"
        if delivery.delivered < delivery.expected:
            return (
                f"{self.shape.plural} did not fire {label} ({delivery.delivered} of {delivery.expected} "
                f"messages in {self.waited:.1f} s)"
            )
        return f"{self.shape.plural} reached {label} out of order"


class Verdict(NamedTuple):
    """The command's answer: exit status and the one-line reason."""

    exit_code: int
    reason: str


def judge(configured: Shape, single: ShapeReport, batch: ShapeReport) -> Verdict:
    """Judge the shape the handler's Bridge is configured for; when it fails, say which setting works."""
    chosen, other = (single, batch) if configured is Shape.SINGLE else (batch, single)
    if chosen.works:
        if configured is Shape.BATCH:
            return Verdict(
                0, "aliased batches reach every subscription: all probe messages arrived, in order"
            )
        also = ""
        if other.works:
            also = "; aliased batches work too, so a larger batch_size is safe on this API"
        elif other.not_applicable is None:
            also = "; keep batch_size=1"
        return Verdict(
            0, f"single requests reach every subscription: all probe messages arrived, in order{also}"
        )
    if other.works:
        advice = (
            "use Bridge(batch_size=1)"
            if configured is Shape.BATCH
            else "yet aliased batches did reach them, so a batch_size above 1 works on this API"
        )
        return Verdict(1, f"{chosen.problem()}; {advice}")
    return Verdict(
        1,
        f"{chosen.problem()}; no request shape reached the subscribers: check that the deployed schema is "
        "--schema and that the subscription's auth may read the mutation's type",
    )


def _shape_text(requests: Sequence[RequestShape]) -> str:
    if not requests:
        return "no request"
    counts = sorted({r.fields for r in requests})
    aliased = {r.aliased for r in requests}
    kind = "aliased" if aliased == {True} else "unaliased" if aliased == {False} else "some aliased"
    count = "/".join(str(c) for c in counts)
    noun = "mutation" if counts == [1] else "mutations"
    return f"{len(requests)} request{'s' if len(requests) != 1 else ''} of {count} {kind} {noun}"


# --------------------------------------------------------------------------------------------------
# The probe records


def sample_event(source: str, probe_id: str) -> Any:
    """A built-in probe event for ``source``: one record about item ``probe_id`` (a key no client knows)."""
    item = {"id": probe_id, "status": "DOCTOR"}
    builders: dict[str, Callable[[], Any]] = {
        "dynamodb": lambda: sample_events.dynamodb([{"new_image": item}]),
        "kinesis": lambda: sample_events.kinesis([sample_events.KinesisInput(item, probe_id)]),
        "kinesis_dynamodb": lambda: sample_events.kinesis_dynamodb([{"new_image": item}]),
        "sqs": lambda: sample_events.sqs([item]),
        "aurora": lambda: sample_events.aurora(item),
        "cloudwatch_alarm": lambda: sample_events.cloudwatch_alarm(probe_id),
        "eventbridge": lambda: sample_events.eventbridge(item),
        "http": lambda: sample_events.http(item),
    }
    return builders[source]()


# Where a batch source keeps a record's identity: copies get distinct ones (a mapping function that
# publishes the sequence number then makes distinct messages, whose order can be told).
_IDENTITY = {
    "dynamodb": ("dynamodb", "SequenceNumber"),
    "kinesis": ("kinesis", "sequenceNumber"),
    "kinesis_dynamodb": ("kinesis", "sequenceNumber"),
    "sqs": ("messageId",),
}


def copies(source: str, record: Mapping[str, Any], first: int, count: int, *, pipe: bool = False) -> Any:
    """A batch event of ``count`` copies of ``record``, numbered from ``first`` (0 is the record itself).

    ``pipe``: the JSON array an EventBridge pipe delivers (its Kinesis records have no ``kinesis`` object).
    """
    records = []
    for number in range(first, first + count):
        copy = json.loads(json.dumps(record))
        *path, key = _IDENTITY[source]
        holder = copy
        for part in path:
            holder = holder.get(part, holder) if pipe else holder[part]
        holder[key] = _numbered(str(holder[key]), number)
        if pipe and "eventID" in copy:  # a pipe names a stream record by its eventID
            copy["eventID"] = _numbered(str(copy["eventID"]), number)
        if source == "kinesis_dynamodb":
            _number_change(copy.get("kinesis", copy), number)
        records.append(copy)
    return records if pipe else {"Records": records}


def http_copies(event: Mapping[str, Any], item: Mapping[str, Any], count: int) -> dict[str, Any]:
    """The HTTP request ``event`` with a body of ``count`` copies of ``item``: each an item of the request."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    copy["body"] = json.dumps([item] * count)
    copy["isBase64Encoded"] = False
    for name in list(copy.get("headers") or {}):
        if name.lower() in ("content-length", "content-encoding", "idempotency-key"):
            del copy["headers"][name]
    copy.pop("multiValueHeaders", None)
    return copy


def _number_change(kinesis: dict[str, Any], number: int) -> None:
    """Make the DynamoDB change in a copy's data another change, made ``number`` time units later.

    Otherwise the copies would be duplicates of one change, which @bridge.kinesis_dynamodb publishes once.
    """
    import base64

    change = json.loads(base64.b64decode(kinesis["data"]))
    change["eventID"] = _numbered(str(change["eventID"]), number)
    change["dynamodb"]["ApproximateCreationDateTime"] += number
    data = json.dumps(change, separators=(",", ":"), ensure_ascii=False).encode()
    kinesis["data"] = base64.b64encode(data).decode("ascii")


def _numbered(identity: str, number: int) -> str:
    if number == 0:
        return identity
    if identity.isdigit():  # a sequence number: stays a number of the same width, increasing
        return str(int(identity) + number).zfill(len(identity))
    return f"{identity}-{number}"


# --------------------------------------------------------------------------------------------------
# I/O: the recording transport


class _Exchange:
    """One request as the transport saw it."""

    __slots__ = ("answered", "body", "response", "sent")

    def __init__(self, body: bytes, sent: float) -> None:
        self.body = body
        self.sent = sent
        self.answered: float | None = None
        self.response: HttpResponse | None = None


class RecordingTransport:
    """Wraps the bridge's transport: keeps each request's body, answer and times (never its headers)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.exchanges: list[_Exchange] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """Send through the wrapped transport, timestamped."""
        exchange = _Exchange(body, time.perf_counter())
        self.exchanges.append(exchange)
        exchange.response = await self.inner.post(url, body, headers, timeout)
        exchange.answered = time.perf_counter()
        return exchange.response

    async def close(self) -> None:
        """The wrapped transport is shared by the shapes and closed once, by the doctor."""

    def requests(self) -> tuple[RequestShape, ...]:
        """The shape of every request sent (retries included), in sending order."""
        shapes = []
        for exchange in self.exchanges:
            request = json.loads(exchange.body)
            keys = _response_keys(request["query"])
            seconds = (exchange.answered or exchange.sent) - exchange.sent
            aliased = any(key != name for key, name in keys)
            shapes.append(
                RequestShape(len(keys), aliased, request["query"], request.get("variables"), seconds)
            )
        return tuple(shapes)

    def answers(self) -> list[Sent]:
        """Every mutation answered with a value, in execution order (requests in sending order)."""
        sent: list[Sent] = []
        for exchange in self.exchanges:
            response = exchange.response
            if response is None:
                continue
            try:
                data = json.loads(response.body).get("data")
            except (ValueError, AttributeError):
                continue
            if not isinstance(data, dict):
                continue
            for key, name in _response_keys(json.loads(exchange.body)["query"]):
                if data.get(key) is not None:
                    sent.append(Sent(name, data[key], exchange.sent))
        return sent


def _response_keys(query: str) -> list[tuple[str, str]]:
    """``(response key, field name)`` of each top-level mutation field: ``("m0", "publishOrder")``."""
    return [
        (f.alias.value if f.alias else f.name.value, f.name.value) for f in _top_level_fields(parse(query))
    ]


# --------------------------------------------------------------------------------------------------
# I/O: real-time subscriptions (gql's AppSyncWebsocketsTransport)


class _WatchedTransport(AppSyncWebsocketsTransport):
    """gql's AppSync transport, reporting what gql drops or rewords.

    gql ignores ``start_ack``: reporting it lets the doctor publish only once nothing can be missed. gql
    words refusals its own way: AppSync's own error text is kept.
    """

    def __init__(self, url: str, *, auth: AppSyncAuthentication, on_start_ack: Callable[[], None]) -> None:
        super().__init__(url, auth=auth)
        self.on_start_ack = on_start_ack
        self.refusal: str | None = None

    def _parse_answer(self, answer: str) -> tuple[str, int | None, ExecutionResult | None]:
        with contextlib.suppress(ValueError):
            message = json.loads(answer)
            if isinstance(message, dict) and message.get("type") in ("connection_error", "error"):
                self.refusal = _errors_text(message.get("payload"))
        parsed = super()._parse_answer(answer)
        if parsed[0] == "start_ack":
            self.on_start_ack()
        return parsed


def _errors_text(payload: Any) -> str:
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    return errors_text(errors) if isinstance(errors, list) and errors else json.dumps(payload)


class Subscriber:
    """One real-time subscription in the doctor's event loop; keeps each message with its arrival time."""

    def __init__(
        self, listener: Listener, url: str, auth: AppSyncAuthentication, changed: asyncio.Event
    ) -> None:
        self.listener = listener
        self.received: list[Received] = []
        self._url = url
        self._auth = auth
        self._changed = changed
        self._acked = asyncio.Event()
        self._transport: _WatchedTransport | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float) -> None:
        """Subscribe; return once AppSync acknowledged. ProbeError with AppSync's words if it refused."""
        self._task = asyncio.create_task(self._listen())
        acked = asyncio.create_task(self._acked.wait())
        await asyncio.wait({self._task, acked}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self._acked.is_set():
            return
        acked.cancel()
        await asyncio.gather(acked, return_exceptions=True)
        refusal = self._transport.refusal if self._transport is not None else None
        reason = self.failure() or f"no start_ack within {timeout:.0f} s"
        await self.stop()
        if refusal:
            raise ProbeError(
                f"the real-time endpoint refused the subscription {self.listener.label}: {refusal}"
            )
        raise ProbeError(f"could not subscribe to {self.listener.label} at {self._url}: {reason}")

    def failure(self) -> str | None:
        """Why the subscription ended, if it did."""
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        refusal = self._transport.refusal if self._transport is not None else None
        error = task.exception()
        if refusal:
            return refusal
        return (
            f"{type(error).__name__}: {error}" if error is not None else "the server closed the subscription"
        )

    async def stop(self) -> None:
        """Unsubscribe and close the connection."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self) -> None:
        transport = self._transport = _WatchedTransport(
            self._url, auth=self._auth, on_start_ack=self._acked.set
        )
        request = GraphQLRequest(self.listener.document, variable_values=dict(self.listener.filters))
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            async for data in session.subscribe(request):
                self.received.append(Received(data.get(self.listener.field), time.perf_counter()))
                self._changed.set()


# --------------------------------------------------------------------------------------------------
# I/O: the run


@dataclass
class _Probe:
    """Everything the run needs, prepared before anything is sent."""

    label: str
    handler: Handler[Any]
    bridge: Bridge
    configured: Shape
    record: str
    origin: str
    single_events: list[Any]
    batch_event: Any | None
    listeners: list[Listener]
    findings: list[Finding]
    realtime_url: str
    realtime_auth: AppSyncAuthentication
    realtime_auth_name: str


def run(args: argparse.Namespace) -> int:
    """The ``doctor`` verb: prepare, warn, probe both shapes, report, judge."""
    secrets = [s for s in (args.api_key, args.token, args.subscribe_api_key) if s]
    try:
        probe = _prepare(args)
        # The report says what failed; the library's own log lines would only repeat it.
        with _library_logs(logging.CRITICAL):
            single, batch = asyncio.run(_probe_both(probe, args))
    except (ProbeError, ConfigurationError, GraphQLError) as error:
        raise CommandError(_redact(str(error), secrets)) from None
    verdict = judge(probe.configured, single, batch)
    report = _report(probe, args, single, batch, verdict)
    if args.json:
        _out(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        _print_report(report)
    return verdict.exit_code


def _warn(probe: _Probe, count: int) -> None:
    """Say, before anything is published, who else receives the probe and how to keep it to the doctor."""
    subscriptions = ", ".join(listener.label for listener in probe.listeners)
    records = count * (2 if probe.batch_event is not None else 1)
    sys.stderr.write(
        f"doctor: publishing {records} probe records' mutations to {probe.bridge.url}: real "
        "subscribers of the API whose filters match them receive them too "
        f"(here: {subscriptions}). Scope the probe: run it against a staging API, probe a record whose key "
        "no client subscribes to (the built-in sample uses a fresh id), or pass --event with a dedicated "
        "test item.\n"
    )


def _prepare(args: argparse.Namespace) -> _Probe:
    """Everything short of sending: schema, handler, probe records and their mutations, subscriptions."""
    if args.region is not None and not args.iam:
        raise ProbeError("--region goes with --iam")
    schema = _schema(args.schema)
    label, handler = _one_handler(args.handler)
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
    if isinstance(records[0], HttpItem):  # a request of copies of the first item: items are the records
        single_events = [http_copies(event, records[0].json(), args.count)]
        batch_event = http_copies(event, records[0].json(), args.count)
        probe_records = [*spec.parse(single_events[0]), *spec.parse(batch_event)]
    elif spec.batch:  # copies of the first record; the batch's are numbered after the single shape's
        pipe = pipe_batch(event)
        raw = batch_records(event, spec.name)[0]
        single_events = [copies(spec.name, raw, 0, args.count, pipe=pipe)]
        batch_event = copies(spec.name, raw, args.count, args.count, pipe=pipe)
        probe_records = [*spec.parse(single_events[0]), *spec.parse(batch_event)]
    else:  # one record per event: the handler sends one mutation per request, whatever its batch_size
        single_events, probe_records = [event] * args.count, [records[0]]
    mutations = [m for record in probe_records for m in _mapped(handler, record, origin)]
    listeners = plan_listeners(schema, mutations)
    if not listeners:
        fields = sorted({name for m in mutations for _, name in _response_keys(m.document)})
        raise ProbeError(
            f"no subscription in {args.schema} lists {', '.join(fields)} in @aws_subscribe: subscribers "
            "cannot receive these mutations"
        )
    documents = dict.fromkeys(m.document for m in mutations)
    single_only = bridge.limits.max_mutations == 1 or not spec.batch
    auth, auth_name = _realtime_auth(bridge.url, args)
    return _Probe(
        label=label,
        handler=handler,
        bridge=bridge,
        configured=Shape.SINGLE if single_only else Shape.BATCH,
        record=records[0].describe(),
        origin=origin,
        single_events=single_events,
        batch_event=batch_event,
        listeners=listeners,
        findings=[finding for document in documents for finding in check_document(schema, document)],
        realtime_url=args.realtime_url or realtime_url(bridge.url),
        realtime_auth=auth,
        realtime_auth_name=auth_name,
    )


def _schema(path: str | None) -> GraphQLSchema:
    if path is None:
        raise ProbeError(
            "--schema FILE is needed: which subscriptions to open is written in the schema's "
            "@aws_subscribe directives, and AppSync's GraphQL introspection does not expose directives. "
            "Pass the schema you deploy, or export it: aws appsync get-introspection-schema --api-id ID "
            "--format SDL --include-directives schema.graphql"
        )
    try:
        schema = appsync_schema(_read_text(path, "--schema"), path)
    except SchemaError as error:
        raise ProbeError(str(error)) from None
    if schema.subscription_type is None:
        raise ProbeError(f"{path} has no Subscription type: nothing could receive the mutations")
    return schema


def _one_handler(target: str) -> tuple[str, Handler[Any]]:
    with _importable_cwd(), _library_logs(logging.ERROR):
        handlers = load_handlers(target)
    if len(handlers) > 1:
        names = ", ".join(label for label, _ in handlers)
        raise ProbeError(f"{target!r} has several handlers ({names}); name one as module:attribute")
    return handlers[0]


def _mapped(handler: Handler[Any], record: Any, origin: str) -> list[Mutation]:
    """The probe record's mutations, from the handler's own mapping function.

    Mapped before anything is sent, so that the subscriptions are open for the first request.
    """
    where = f"{record.describe()} of {origin}"
    try:
        mutations = as_mutations(record, handler.mapper(record), handler.document)
    except Exception as error:  # noqa: BLE001 - whatever the user's function raises, say so and stop
        hint = "; pass --event FILE with a record it publishes" if origin == "the built-in sample" else ""
        raise ProbeError(
            f"the mapping function failed on {where}: {type(error).__name__}: {error}{hint}"
        ) from None
    if not mutations:
        raise ProbeError(f"the mapping function skips {where}; pass --event FILE with a record it publishes")
    return mutations


def _realtime_auth(graphql_url: str, args: argparse.Namespace) -> tuple[AppSyncAuthentication, str]:
    """The subscription's auth: --subscribe-api-key, else the publishing auth."""
    host = urlsplit(graphql_url).netloc  # AppSync authorizes the real-time handshake for the API's host
    if args.subscribe_api_key:
        return AppSyncApiKeyAuthentication(host=host, api_key=args.subscribe_api_key), "API key"
    if args.api_key:
        return AppSyncApiKeyAuthentication(host=host, api_key=args.api_key), "API key"
    if args.token:
        return AppSyncJWTAuthentication(host=host, jwt=args.token), "token"
    from botocore.exceptions import BotoCoreError

    try:
        return AppSyncIAMAuthentication(host=host, region_name=args.region), "IAM"
    except BotoCoreError as error:
        raise ProbeError(
            f"cannot sign the subscription with IAM: {error}; pass --region for this URL"
        ) from None


async def _probe_both(probe: _Probe, args: argparse.Namespace) -> tuple[ShapeReport, ShapeReport]:
    from streambridge._io.http import HttpTransport

    changed = asyncio.Event()
    subscribers = [
        Subscriber(lis, probe.realtime_url, probe.realtime_auth, changed) for lis in probe.listeners
    ]
    transport = HttpTransport(max_connections=max(probe.bridge.concurrency, 1))
    try:
        for subscriber in subscribers:
            await subscriber.start(_SUBSCRIBE_TIMEOUT)
        _warn(probe, args.count)
        live = _Live(transport, subscribers, changed, args.wait)
        single = await _probe_shape(
            Shape.SINGLE, probe, live, events=probe.single_events, partition_key=_one_lane, batch_size=1
        )
        if probe.batch_event is None:
            batch = ShapeReport(
                Shape.BATCH, (), 0, (), {}, 0.0,
                not_applicable=f"a {probe.handler.source.title} event carries one record, so the handler "
                "sends one mutation per request",
            )  # fmt: skip
        else:
            batch = await _probe_shape(
                Shape.BATCH,
                probe,
                live,
                events=[probe.batch_event],
                partition_key=_lane_per_record,
                batch_size=args.count,
            )
        return single, batch
    finally:
        for subscriber in subscribers:
            await subscriber.stop()
        await transport.close()


@dataclass
class _Live:
    """What the shapes share: the HTTP transport, the open subscriptions and the messages' wake-up."""

    transport: Transport
    subscribers: list[Subscriber]
    changed: asyncio.Event
    wait: float


# One lane for the single shape: the copies go one after another, so they must arrive in order. One lane
# per copy for the batch, so that they share one request.
def _one_lane(_record: Any) -> Hashable:
    return "probe"


def _lane_per_record(record: Any) -> Hashable:
    index: int = record.index
    return index


async def _probe_shape(
    shape: Shape,
    probe: _Probe,
    live: _Live,
    *,
    events: Sequence[Any],
    partition_key: Callable[[Any], Hashable],
    batch_size: int,
) -> ShapeReport:
    recorder = RecordingTransport(live.transport)
    # Like the handler's bridge, except: the shape's batch size, no coalescing (the copies are one key in
    # the single shape), and none of the user's idempotency store or dead-letter sink (a probe is not a
    # change of theirs to remember or to dead-letter).
    bridge = probe.bridge.replace(
        batch_size=batch_size,
        coalesce=False,
        idempotency=None,
        dead_letter=None,
        transport=recorder,
    )
    handler = Handler(
        bridge, probe.handler.source, probe.handler.mapper, probe.handler.document, partition_key
    )
    subscribers = live.subscribers
    since = [len(subscriber.received) for subscriber in subscribers]
    failed: list[str] = []
    for event in events:
        result = await handler.process_async(event, lambda_context(timeout_ms=_INVOCATION_TIMEOUT_MS))
        for outcome in result.failures:
            if isinstance(outcome.error, AuthorizationError):
                auth = type(probe.bridge.auth).__name__
                raise ProbeError(f"publishing with {auth} was refused: {outcome.error}")
            failed.append(str(outcome.error))
    answers = recorder.answers()
    largest = max(
        (len(json.dumps(s.answer, separators=(",", ":"), ensure_ascii=False).encode()) for s in answers),
        default=0,
    )
    expected = [[s for s in answers if sub.listener.receives(s.field, s.answer)] for sub in subscribers]
    started = time.perf_counter()
    inboxes = [(sub.listener.label, sub.received) for sub in subscribers]
    deliveries = await _await_messages(inboxes, expected, since, live.changed, live.wait)
    return ShapeReport(
        shape=shape,
        requests=recorder.requests(),
        mutations=len(answers),
        failed=tuple(dict.fromkeys(failed)),
        deliveries=deliveries,
        waited=time.perf_counter() - started,
        largest_answer=largest,
    )


async def _await_messages(
    inboxes: Sequence[tuple[str, Sequence[Received]]],
    expected: Sequence[Sequence[Sent]],
    since: Sequence[int],
    changed: asyncio.Event,
    wait: float,
) -> dict[str, Delivery]:
    """Wait until every inbox ``(label, received)`` has every expected message, or ``wait`` seconds passed."""
    deadline = time.perf_counter() + wait
    while True:
        changed.clear()  # before looking: a message arriving after the look wakes the wait below
        deliveries = {
            label: match(want, received[start:])
            for (label, received), want, start in zip(inboxes, expected, since, strict=True)
        }
        remaining = deadline - time.perf_counter()
        if all(d.delivered >= d.expected for d in deliveries.values()) or remaining <= 0:
            return deliveries
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(changed.wait(), remaining)


# --------------------------------------------------------------------------------------------------
# The report


def _report(
    probe: _Probe, args: argparse.Namespace, single: ShapeReport, batch: ShapeReport, verdict: Verdict
) -> dict[str, Any]:
    largest = max(single.largest_answer, batch.largest_answer)
    return {
        "handler": probe.label,
        "endpoint": {
            "url": probe.bridge.url,
            "auth": type(probe.bridge.auth).__name__,
            "realtime_url": probe.realtime_url,
            "realtime_auth": probe.realtime_auth_name,
        },
        "auth": {"publish": "accepted", "subscribe": "accepted"},
        "probe": {"record": probe.record, "from": probe.origin, "copies_per_shape": args.count},
        "schema": {
            "file": args.schema,
            "findings": [{"level": f.level.value, "message": f.message} for f in probe.findings],
        },
        "subscriptions": [
            {
                "field": listener.field,
                "filters": dict(listener.filters),
                "unfiltered": list(listener.unfiltered),
                "document": listener.document,
            }
            for listener in probe.listeners
        ],
        "payload": {"largest_bytes": largest, "limit_bytes": MAX_SUBSCRIPTION_PAYLOAD},
        "configured": {"batch_size": probe.bridge.limits.max_mutations, "shape": probe.configured.value},
        "shapes": {shape.shape.value: _shape_json(shape) for shape in (single, batch)},
        "verdict": {"exit_code": verdict.exit_code, "reason": verdict.reason},
    }


def _shape_json(shape: ShapeReport) -> dict[str, Any]:
    return {
        "probed": shape.not_applicable is None,
        "not_applicable": shape.not_applicable,
        "works": shape.works,
        "shape": _shape_text(shape.requests),
        "requests": [
            {
                "fields": r.fields,
                "aliased": r.aliased,
                "ms": round(r.seconds * 1000, 1),
                "query": r.query,
                "variables": r.variables,
            }
            for r in shape.requests
        ],
        "mutations_answered": shape.mutations,
        "failed": list(shape.failed),
        "waited_s": round(shape.waited, 2),
        "subscriptions": [
            {
                "subscription": label,
                "field": label.partition("(")[0],
                "expected": d.expected,
                "delivered": d.delivered,
                "in_order": d.in_order,
                "distinguishable": d.distinguishable,
                "other_messages": d.others,
                "latency_ms": _latency(d),
            }
            for label, d in shape.deliveries.items()
        ],
    }


def _latency(delivery: Delivery) -> dict[str, float] | None:
    if not delivery.latencies:
        return None
    return {
        "median": round(statistics.median(delivery.latencies) * 1000, 1),
        "max": round(max(delivery.latencies) * 1000, 1),
    }


def _print_report(report: dict[str, Any]) -> None:
    endpoint, probe = report["endpoint"], report["probe"]
    _out(f"streambridge doctor {report['handler']}")
    _out(f"  endpoint   {endpoint['url']} ({endpoint['auth']}): accepted")
    _out(f"  real-time  {endpoint['realtime_url']} ({endpoint['realtime_auth']}): accepted")
    _out(f"  probe      {probe['record']} of {probe['from']}, {probe['copies_per_shape']} copies per shape")
    for subscription in report["subscriptions"]:
        filters = ", ".join(f"{k}: {json.dumps(v)}" for k, v in subscription["filters"].items())
        unfiltered = subscription["unfiltered"]
        extra = f" (no probe value for {', '.join(unfiltered)}: not filtered on it)" if unfiltered else ""
        _out(f"  listening  {subscription['field']}({filters}){extra}")
    payload = report["payload"]
    share = payload["largest_bytes"] / payload["limit_bytes"]
    _out(
        f"  payload    largest probe message {payload['largest_bytes']:,} B of the "
        f"{payload['limit_bytes']:,} B AppSync delivers ({share:.1%})"
    )
    findings = report["schema"]["findings"]
    _out(
        f"  schema     {report['schema']['file']}: {'OK' if not findings else f'{len(findings)} finding(s)'}"
    )
    for finding in findings:
        _out(f"    {finding['level'].upper()} {finding['message']}")
    configured = report["configured"]
    names = [s["field"] for s in report["subscriptions"]]
    by_field = len(set(names)) == len(names)  # name subscriptions by field unless a field has several
    for shape in (Shape.SINGLE, Shape.BATCH):
        observed = report["shapes"][shape.value]
        chosen = " (the handler's Bridge)" if configured["shape"] == shape.value else ""
        _out()
        _out(f"{shape.plural}{chosen}: {_shape_summary(observed)}")
        for sub in observed["subscriptions"]:
            _out(f"  {_delivery_line(sub, by_field=by_field, waited=observed['waited_s'])}")
    _out()
    verdict = report["verdict"]
    _out(f"{'OK' if verdict['exit_code'] == 0 else 'FAIL'}: {verdict['reason']}")


def _shape_summary(shape: dict[str, Any]) -> str:
    if not shape["probed"]:
        return f"not probed: {shape['not_applicable']}"
    rejected = f"; AppSync rejected: {shape['failed'][0]}" if shape["failed"] else ""
    return f"{shape['shape']}{rejected}"


def _delivery_line(sub: dict[str, Any], *, by_field: bool, waited: float) -> str:
    name = sub["field"] if by_field else sub["subscription"]
    return _delivery_text(name, {**sub, "others": sub["other_messages"]}, waited, noun="messages")


def _delivery_text(name: str, counts: Mapping[str, Any], waited: float, *, noun: str) -> str:
    """``onOrderChanged: 3/3 messages, in order, latency ...``: one subscriber's line of a shape."""
    text = f"{name}: {counts['delivered']}/{counts['expected']} {noun}"
    if counts["delivered"]:
        text += ", in order" if counts["in_order"] else ", OUT OF ORDER"
        text += "" if counts["distinguishable"] else " (the copies are alike: order not told)"
    if counts["latency_ms"] is not None:
        text += f", latency median {counts['latency_ms']['median']} ms, max {counts['latency_ms']['max']} ms"
    if counts["delivered"] < counts["expected"]:
        text += f" (waited {waited:.1f} s)"
    if counts["others"]:
        text += f"; {counts['others']} other {noun[:-1]}(s) ignored"
    return text


def _redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` without the secrets, nor base64 auth headers (``header=`` in a URL, ``header-`` protocols)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    text = re.sub(r"header-[A-Za-z0-9_-]{16,}", "header-***", text)
    return re.sub(r"header=[^&\s'\"]+", "header=***", text)
