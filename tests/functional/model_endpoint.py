"""Model endpoints for the stateful model test (``test_model.py``): an AppSync GraphQL API and an AppSync
Events API, each a ``Transport`` that answers every request under a drawn ``Answer`` and keeps the ground
truth of what RAN.

What a request can meet is what AppSync answers (docs/semantics.md, the design brief's table):

- GraphQL, 200 with a body: every field runs (``ok``); one field fails without running, its alias null
  (``field_error``, a throttling or a for-good ``errorType``); one field runs and ALSO carries an error
  whose path is that field (``data_and_errors``: ``$util.appendError``, the resolver ran); an error whose
  path goes below a field that ran (``below``, with the field's data there or null); ``data: null`` after a
  non-null field failed, the fields before it ran, the later ones did not (``null_data``); full data and a
  pathless error (``pathless``); a validation error, nothing runs (``rejected``).
- Events API, 200: some events listed in ``failed`` (``code``/``message`` as Android reads them or
  ``errorCode``/``errorMessage`` as Swift does) and not published (``failed``), or left out of both lists
  (``omitted``).
- Both: an HTTP status before anything runs (``http``: 400, 401, 403, 404, 405, 413, 429 with or without
  ``Retry-After``, 500, 502, 503, 504; ``echo`` puts the request's auth headers in the body, as a proxy or
  a signature-mismatch answer may); a connection reset before anything runs (``reset_before``) or after
  it ran (``reset_after``); no answer within the client's timeout although it ran (``timeout``); a slow
  answer (``slow``, ``latency`` seconds: a timeout when that is longer than the client waits); a 200 whose
  body is cut (``garbage``: it ran).

The ground truth, per request (``Sent``): which items (``(rid, part)``: a record's id and the position of
its mutation or event) it carried, which RAN (the side effect happened, subscribers were notified), which
the answer SHOWED as ran (data for the field, a path below it, the event in ``successful``), and which the
API refused for good (``condemned``: a poison item's own error, or a request of one item refused whole).
``ran`` keeps every run in order across invocations: what subscribers saw.

An item whose payload says ``poison`` fails every time with an error no retry cures (a resolver's
``$util.error``; an event ``failed`` with code 400); so does an item a drawn answer refused for good once.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streambridge import ConnectionFailedError, HttpResponse, RequestTimeoutError

Item = tuple[int, int]
"""``(rid, part)``: a record's id and the position of one of its mutations or events."""

THROTTLING_TYPES = ("TooManyRequestsException", "DynamoDB:ProvisionedThroughputExceededException")
FOR_GOOD_TYPES = ("DynamoDB:ConditionalCheckFailedException", "Lambda:Unhandled", "ValidationError")
LATENCY = 0.02
"""Seconds of an ordinary answer."""


@dataclass(frozen=True)
class Answer:
    """What becomes of one request (see the module docstring for each ``kind``)."""

    kind: str
    field: int = 0
    """Which field (GraphQL) or events (``mask``, Events API) the answer is about, modulo the request's."""
    error_type: str = "TooManyRequestsException"
    status: int = 200
    retry_after: str | None = None
    latency: float = LATENCY
    null_parent: bool = False
    mask: int = 1
    code: int = 400
    swift: bool = False
    echo: bool = False


OK = Answer("ok")


@dataclass
class Sent:
    """One request as the endpoint saw it, and what became of what it carried."""

    at: float
    kind: str
    items: list[Item]
    keys: dict[Item, int]
    ran: list[Item] = field(default_factory=list)
    shown: list[Item] = field(default_factory=list)
    condemned: list[Item] = field(default_factory=list)


_HTML = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"
_STATUS_BODIES: dict[int, tuple[str, dict[str, Any] | str]] = {
    400: ("application/json", {"errors": [{"errorType": "BadRequestException", "message": "Bad request"}]}),
    401: ("application/json", {"errors": [{"errorType": "UnauthorizedException",
                                           "message": "You are not authorized to make this call."}]}),
    403: ("application/json", {"errors": [{"errorType": "ForbiddenException", "message": "Forbidden"}]}),
    404: ("application/json", {"message": "Not Found"}),
    405: ("text/html", _HTML.format("405 Method Not Allowed")),
    413: ("application/json", {"errors": [{"errorType": "PayloadTooLargeException",
                                           "message": "Request entity too large"}]}),
    429: ("application/json", {"errors": [{"errorType": "TooManyRequestsException",
                                           "message": "Rate exceeded"}]}),
}  # fmt: skip
AUTH_HEADERS = ("x-api-key", "authorization", "x-amz-security-token")


def http_answer(answer: Answer, headers: Mapping[str, str]) -> HttpResponse:
    """The response of an ``http`` answer; with ``echo``, the request's auth headers quoted in the body."""
    content_type, body = _STATUS_BODIES.get(answer.status, ("text/html", _HTML.format(answer.status)))
    if answer.echo and isinstance(body, dict):
        seen = {k: v for k, v in headers.items() if k.lower() in AUTH_HEADERS}
        body = {**body, "errors": [{**body.get("errors", [{}])[0], "message": f"request headers: {seen}",
                                    "headers": seen}]}  # fmt: skip
    text = json.dumps(body) if isinstance(body, dict) else body
    reply_headers = {"content-type": content_type}
    if answer.retry_after is not None:
        reply_headers["Retry-After"] = answer.retry_after
    return HttpResponse(answer.status, reply_headers, text.encode())


class _ModelTransport:
    """What both endpoints share: the answers to come, the log, the secrets seen, the timing."""

    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.sent: list[Sent] = []
        """This invocation's requests, in the order they arrived."""
        self.ran: list[tuple[int, Item]] = []
        """``(key, item)`` of every run, in order, across invocations: what subscribers saw."""
        self.secrets: set[str] = set()
        """Every credential value a request carried (API key, token, session token, signature)."""
        self.refused: set[Item] = set()
        """Items the API refused for good once: it refuses them every time after (as AppSync would)."""

    def begin(self, answers: Iterable[Answer]) -> None:
        """A new invocation: these answers for its first requests (then ``ok``), a fresh log."""
        self.answers = deque(answers)
        self.sent = []

    async def close(self) -> None:
        """Nothing to release."""

    def _note_secrets(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            lower = name.lower()
            if lower in ("x-api-key", "x-amz-security-token"):
                self.secrets.add(value)
            elif lower == "authorization":
                if value.startswith("AWS4-HMAC-SHA256"):
                    self.secrets.add(value.rpartition("Signature=")[2])
                else:
                    self.secrets.add(value)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """Answer one request under the next answer, keeping what ran."""
        loop = asyncio.get_running_loop()
        self._note_secrets(headers)
        answer = self.answers.popleft() if self.answers else OK
        payloads = self._payloads(body)
        items = [(int(p["rid"]), int(p["part"])) for _, p in payloads]
        keys = {item: int(p["key"]) for item, (_, p) in zip(items, payloads, strict=True)}
        sent = Sent(loop.time(), answer.kind, items, keys)
        self.sent.append(sent)
        latency = math.inf if answer.kind == "timeout" else answer.latency
        if answer.kind in ("http", "reset_before"):  # nothing runs
            await asyncio.sleep(min(latency, timeout))
            if latency > timeout:
                raise RequestTimeoutError(f"no answer within {timeout:.3f} s")
            if answer.kind == "reset_before":
                raise ConnectionFailedError("connection reset by peer")
            if len(items) == 1 and answer.status in (400, 413):
                sent.condemned.extend(items)
                self.refused.update(items)
            return http_answer(answer, headers)
        response = self._execute(answer, payloads, sent)  # it runs when it arrives
        self.refused.update(sent.condemned)
        for item in sent.ran:
            self.ran.append((sent.keys[item], item))
        shown, sent.shown = sent.shown, []  # shown only once the client has the answer (not if cancelled)
        await asyncio.sleep(min(latency, timeout))
        if latency > timeout:
            raise RequestTimeoutError(f"no answer within {timeout:.3f} s")
        if answer.kind == "reset_after":
            raise ConnectionFailedError("connection reset by peer")
        if answer.kind == "garbage":
            return HttpResponse(
                200, {"content-type": "application/json"}, response.body[: len(response.body) // 2]
            )
        sent.shown = shown
        return response

    def _payloads(self, body: bytes) -> list[tuple[str, dict[str, Any]]]:
        raise NotImplementedError

    def _execute(
        self, answer: Answer, payloads: list[tuple[str, dict[str, Any]]], sent: Sent
    ) -> HttpResponse:
        raise NotImplementedError


def _json(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


class ModelAppSync(_ModelTransport):
    """An AppSync GraphQL API: top-level mutation fields run serially, answered under the drawn answer."""

    def _payloads(self, body: bytes) -> list[tuple[str, dict[str, Any]]]:
        from graphql import OperationDefinitionNode, parse, value_from_ast_untyped
        from graphql.language import FieldNode

        request = json.loads(body)
        document = parse(request["query"])
        variables = request.get("variables") or {}
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        calls = []
        for node in operation.selection_set.selections:
            assert isinstance(node, FieldNode)
            arguments = {
                a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()
            }
            calls.append(((node.alias or node.name).value, arguments["input"]))
        return calls

    def _execute(
        self, answer: Answer, payloads: list[tuple[str, dict[str, Any]]], sent: Sent
    ) -> HttpResponse:
        kind = answer.kind
        if kind == "rejected":  # a validation error: nothing runs
            if len(payloads) == 1:
                sent.condemned.extend(sent.items)
            error = {
                "path": None,
                "locations": [{"line": 1, "column": 20, "sourceName": None}],
                "message": "Validation error of type WrongType: argument 'input' has an invalid value",
            }
            return _json({"data": None, "errors": [error]})
        chosen = answer.field % len(payloads)
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for position, ((alias, order), item) in enumerate(zip(payloads, sent.items, strict=True)):
            result = {"rid": order["rid"], "part": order["part"], "key": order["key"]}
            if order.get("poison") or item in self.refused:  # its resolver refuses it, every time
                sent.condemned.append(item)
                errors.append({"path": [alias], "errorType": "PoisonError", "message": "poison record",
                               "data": None, "errorInfo": None, "locations": []})  # fmt: skip
                data[alias] = None
            elif position == chosen and kind in ("field_error", "null_data"):
                if answer.error_type not in THROTTLING_TYPES:
                    sent.condemned.append(item)
                errors.append({"path": [alias], "errorType": answer.error_type,
                               "message": f"{answer.error_type} from the data source"})  # fmt: skip
                data[alias] = None
            else:
                sent.ran.append(item)
                sent.shown.append(item)
                data[alias] = result
                if position == chosen and kind == "data_and_errors":  # $util.appendError: it ran
                    errors.append({"path": [alias], "errorType": answer.error_type,
                                   "message": "appended by the resolver"})  # fmt: skip
                elif position == chosen and kind == "below":  # a field of its result failed
                    errors.append({"path": [alias, "key"], "errorType": answer.error_type,
                                   "message": "the field resolver failed"})  # fmt: skip
                    data[alias] = None if answer.null_parent else {**result, "key": None}
                continue
            if kind == "null_data":  # a non-null field failed: data is null, nothing after it runs
                sent.shown.clear()
                return _json({"data": None, "errors": errors})
        if kind == "pathless":
            errors.append({"message": "An internal failure occurred", "errorType": "InternalFailure"})
        return _json({"data": data, "errors": errors} if errors else {"data": data})


class ModelEventApi(_ModelTransport):
    """An AppSync Events API: ``POST /event`` publishes each event to the channel, or lists it failed."""

    def _payloads(self, body: bytes) -> list[tuple[str, dict[str, Any]]]:
        request = json.loads(body)
        channel = request["channel"]
        payloads = [json.loads(text) for text in request["events"]]
        for payload in payloads:
            assert payload["to"] == channel, f"event {payload} sent to {channel}"
        return [(channel, payload) for payload in payloads]

    def _execute(
        self, answer: Answer, payloads: list[tuple[str, dict[str, Any]]], sent: Sent
    ) -> HttpResponse:
        kind = answer.kind
        count = len(payloads)
        chosen = {i for i in range(count) if answer.mask >> i & 1} or {answer.mask % count}
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for index, ((_, payload), item) in enumerate(zip(payloads, sent.items, strict=True)):
            identifier = f"e-{payload['rid']}-{payload['part']}-{len(self.sent)}"
            poison = payload.get("poison") or item in self.refused
            if poison or (kind == "failed" and index in chosen):
                code = 400 if poison else answer.code
                if code == 400:
                    sent.condemned.append(item)
                names = ("errorCode", "errorMessage") if answer.swift else ("code", "message")
                failed.append({"identifier": identifier, "index": index, names[0]: code,
                               names[1]: f"refused: {code}"})  # fmt: skip
            elif kind == "omitted" and index in chosen:
                continue
            else:
                sent.ran.append(item)
                sent.shown.append(item)
                successful.append({"identifier": identifier, "index": index})
        return _json({"failed": failed, "successful": successful})
