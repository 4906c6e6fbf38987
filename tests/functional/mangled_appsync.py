"""MangledAppSync: a ``FakeAppSync`` whose every request meets a fate drawn by the test.

Each fate is something AppSync really answers: a whole-request fault before anything runs (HTTP 429 with or
without ``Retry-After``, a 5xx HTML page, a connection reset, a 200 whose body is not JSON, a validation
error with ``data: null``), or an executed request whose answer is mangled the ways AppSync mangles them
(a pathless error next to full data, a throttled field left unexecuted with ``data`` null for its alias,
``data: null`` for the whole answer after the first field that failed, the later fields not executed, an
error in a field of a mutation's result after the mutation ran).

The orders carry their own rules, as a resolver and a schema would: status ``POISON`` fails its field with
a resolver error (the field does not run) and status ``INVALID`` makes AppSync reject the whole request
before any field runs (a variable the schema refuses). Every field that ran is kept in ``executed``, in
order, so that a test can count how often each mutation ran.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streambridge import ConnectionFailedError, HttpResponse
from streambridge.testing import FakeAppSync
from streambridge.testing._fake import ReceivedRequest


@dataclass(frozen=True)
class Fate:
    """What becomes of one request.

    ``kind``: ``ok``, ``http`` (``status``, ``retry_after``), ``reset`` (``direct``: raise
    ``ConnectionFailedError`` rather than ``ConnectionResetError``), ``garbage`` (200, not JSON),
    ``pathless`` (all fields run, plus an error without a path), ``throttled`` (the field at ``field``
    modulo the request's fields is throttled, ``error_type``, and does not run), ``null`` (fields run in
    order until the ``field``-th or a poison one fails; ``data: null``, the rest not run), ``rejected`` (a
    validation error for the whole request; nothing runs), ``nested`` (every field runs, but a field of the
    ``field``-th one's result fails, e.g. a throttled field resolver: the error's path is
    ``[alias, "status"]`` and the mutation's data is there, ``status`` null).
    """

    kind: str
    status: int = 200
    retry_after: str | None = None
    direct: bool = False
    field: int | None = None
    error_type: str = "TooManyRequestsException"


OK = Fate("ok")
_HTML = b"<html><head><title>%d</title></head><body><h1>%d</h1>Service unavailable</body></html>"


def fault_before_anything(fate: Any, garbage: bytes) -> tuple[str, HttpResponse | BaseException] | None:
    """A fate's fault that comes before anything runs (``http``, ``reset``, ``garbage`` of ``garbage``
    bytes), with its label for the log; None for a fate that reaches the API."""
    if fate.kind == "http":
        headers = {"content-type": "text/html"}
        body = _HTML % (fate.status, fate.status)
        if fate.status == 429:
            headers = {"content-type": "application/json"}
            body = json.dumps({"errors": [{"errorType": "TooManyRequestsException",
                                           "message": "Rate exceeded"}]}).encode()  # fmt: skip
        if fate.retry_after is not None:
            headers["Retry-After"] = fate.retry_after
        return f"http {fate.status}", HttpResponse(fate.status, headers, body)
    if fate.kind == "reset":
        if fate.direct:
            return "reset", ConnectionFailedError("connection reset by peer")
        return "reset", ConnectionResetError(104, "Connection reset by peer")
    if fate.kind == "garbage":
        return "garbage", HttpResponse(200, {"content-type": "application/json"}, garbage)
    return None


class MangledAppSync(FakeAppSync):
    """A Transport answering like AppSync, each request under the next of ``fates`` (then ``ok``)."""

    def __init__(self, fates: Iterable[Fate], *, latency: float = 0.01) -> None:
        super().__init__(latency=latency, conditions=self._whole_request)
        self.fates: deque[Fate] = deque(fates)
        self.executed: list[dict[str, Any]] = []
        """The ``input`` of every field that ran, in execution order."""
        self.condemned: set[int] = set()
        """``seq`` of the orders AppSync gave an error no retry cures (poison, a rejected request)."""
        self.log: list[tuple[str, list[str]]] = []
        """Each request's fate and response keys, for a failing example's story."""
        self._fate = OK

    def _whole_request(self, _now: float) -> HttpResponse | BaseException | None:
        """The fate of the request at hand; an answer or exception for a fault before anything runs."""
        fate = self.fates.popleft() if self.fates else OK
        self._fate = fate
        fault = fault_before_anything(fate, b'{"data": {"m0": {"id"')
        if fault is not None:
            label, outcome = fault
            self.log.append((label, []))
            return outcome
        return None  # it reaches the resolvers: _execute reads self._fate

    def _execute(self, received: ReceivedRequest) -> HttpResponse:
        """Run the request under ``self._fate`` (set just before, with no await in between)."""
        from graphql import OperationDefinitionNode, parse, value_from_ast_untyped
        from graphql.language import FieldNode

        fate = self._fate
        request = json.loads(received.body)
        document = parse(request["query"])
        variables = request.get("variables") or {}
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        calls: list[tuple[str, dict[str, Any]]] = []
        for node in operation.selection_set.selections:
            assert isinstance(node, FieldNode)
            alias = node.alias.value if node.alias else node.name.value
            arguments = {
                a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()
            }
            calls.append((alias, arguments["input"]))
            received.aliases.append(alias)
        self.log.append((fate.kind, [alias for alias, _ in calls]))
        if fate.kind == "rejected" or any(order.get("status") == "INVALID" for _, order in calls):
            self.condemned.update(order["seq"] for _, order in calls)
            error = {
                "path": None,
                "locations": [{"line": 1, "column": 20, "sourceName": None}],
                "message": "Validation error of type WrongType: argument 'input' has an invalid value",
            }
            return _answer({"data": None, "errors": [error]})
        chosen = None if fate.field is None else fate.field % len(calls)
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for position, (alias, order) in enumerate(calls):  # serially; a field error does not stop the next
            if order.get("status") == "POISON":
                self.condemned.add(order["seq"])
                errors.append({"path": [alias], "errorType": "PoisonError", "message": "poison record",
                               "data": None, "errorInfo": None, "locations": []})  # fmt: skip
                data[alias] = None
            elif fate.kind == "nested" and position == chosen:  # it ran; a field of its result failed
                self.executed.append(order)
                data[alias] = {**order, "status": None}
                errors.append({"path": [alias, "status"], "errorType": fate.error_type,
                               "message": "Rate exceeded for the data source of Order.status"})  # fmt: skip
                continue
            elif fate.kind in ("throttled", "null") and position == chosen:
                errors.append({"path": [alias], "errorType": fate.error_type,
                               "message": "Rate exceeded for the data source"})  # fmt: skip
                data[alias] = None
            else:
                self.executed.append(order)
                data[alias] = order
                continue
            if fate.kind == "null":  # a non-null field failed: data is null and nothing after it runs
                return _answer({"data": None, "errors": errors})
        if fate.kind == "pathless":
            errors.append({"message": "An internal failure occurred", "errorType": "InternalFailure"})
        return _answer({"data": data, "errors": errors} if errors else {"data": data})


def _answer(payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(payload).encode())
