"""FakeAppSync: an in-memory transport that answers like AppSync, for fast functional tests.

It executes each aliased top-level mutation field serially through a resolver, answers per-field errors
with ``path`` and ``errorType`` and partial ``data`` like AppSync, and can be told to fail the next
requests (HTTP statuses, connection errors, timeouts). It records what it published, in order.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streambridge._errors import ConnectionFailedError, RequestTimeoutError, StreambridgeError
from streambridge._io.transport import HttpResponse

Resolver = Callable[[str, dict[str, Any]], Any]
"""``resolver(field_name, arguments) -> result``: how ``FakeAppSync`` and ``LocalAppSync`` run a field."""


class FieldError(Exception):
    """Raise from a resolver to fail one mutation field, like ``$util.error(message, errorType)``."""

    def __init__(self, message: str, error_type: str = "ResolverError") -> None:
        super().__init__(message)
        self.error_type = error_type


class RequestRejectedError(Exception):
    """Raise from a validator to reject the whole request before any field runs (a validation error)."""


@dataclass(frozen=True)
class Published:
    """One mutation field that ran successfully."""

    field: str
    arguments: dict[str, Any]
    result: Any


@dataclass
class ReceivedRequest:
    """One request as the fake received it."""

    body: bytes
    headers: Mapping[str, str]
    timeout: float
    aliases: list[str] = field(default_factory=list)


def pass_through(_field: str, arguments: dict[str, Any]) -> Any:
    """Like an AppSync NONE data source: the result is the ``input`` argument (or all arguments)."""
    return arguments["input"] if set(arguments) == {"input"} else arguments


class FakeAppSync:
    """A ``Transport`` that answers like AppSync without a network."""

    def __init__(
        self,
        resolver: Resolver = pass_through,
        *,
        validate: Callable[[str, dict[str, Any]], None] | None = None,
        latency: float = 0.0,
        conditions: Callable[[float], HttpResponse | BaseException | None] | None = None,
    ) -> None:
        """Answer every request with ``resolver(field_name, arguments)``, after ``latency`` seconds.

        ``validate(field_name, arguments)`` runs for every field before any executes; raising
        ``RequestRejectedError`` rejects the whole request the way AppSync rejects an invalid variable.
        ``conditions(now)`` decides each request's fate once the ``fail_next`` faults are used up: a
        brown-out, a throttled API, an endpoint down (``streambridge.testing.conditions``).
        """
        self.resolver = resolver
        self.validate = validate
        self.latency = latency
        self.conditions = conditions
        self.published: list[Published] = []
        self.requests: list[ReceivedRequest] = []
        self._faults: deque[HttpResponse | BaseException] = deque()
        self._window: tuple[float, HttpResponse | BaseException, float | None] | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    def fail_next(self, *faults: HttpResponse | BaseException) -> None:
        """The next requests get these answers instead (an HttpResponse, or an exception to raise)."""
        self._faults.extend(faults)

    def fail_for(self, seconds: float, outcome: HttpResponse | BaseException | None = None) -> None:
        """Every request for ``seconds`` gets ``outcome`` (default: a 429 ``TooManyRequestsException``).

        The window opens at the first request after this call and is measured on the event loop's clock
        (virtual time under ``run_on_virtual_time``); ``fail_next`` faults come first, ``conditions`` after
        the window closes. "Throttle for 2 seconds": ``appsync.fail_for(2)``; "down for a minute":
        ``appsync.fail_for(60, conditions.UNAVAILABLE)``.
        """
        from streambridge.testing.conditions import THROTTLED

        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        self._window = (seconds, THROTTLED if outcome is None else outcome, None)

    def published_values(self, key: str = "id") -> list[Any]:
        """``key`` of each published result, in publish order."""
        return [p.result.get(key) if isinstance(p.result, dict) else None for p in self.published]

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """Answer one request."""
        received = ReceivedRequest(body, dict(headers), timeout)
        self.requests.append(received)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(min(self.latency, timeout))
                if self.latency > timeout:
                    raise RequestTimeoutError(f"no answer within {timeout:.3f} s")
            fault = self._faults.popleft() if self._faults else None
            if fault is None and self._window is not None:
                fault = self._in_window(asyncio.get_running_loop().time())
            if fault is None and self.conditions is not None:
                fault = self.conditions(asyncio.get_running_loop().time())
                if isinstance(fault, asyncio.TimeoutError):  # a silent endpoint: the client waits it out
                    await asyncio.sleep(max(timeout - self.latency, 0.0))
            if fault is None:
                return self._execute(received)
            if isinstance(fault, HttpResponse):
                return fault
            if isinstance(fault, StreambridgeError):
                raise fault
            if isinstance(fault, asyncio.TimeoutError):
                raise RequestTimeoutError("fake timeout") from fault
            raise ConnectionFailedError(f"fake connection failure: {fault}") from fault
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        """Nothing to release."""

    def _in_window(self, now: float) -> HttpResponse | BaseException | None:
        assert self._window is not None  # noqa: S101 - checked by the caller
        seconds, outcome, opened = self._window
        if opened is None:
            self._window = (seconds, outcome, now)
            opened = now
        if now - opened < seconds:
            return outcome
        self._window = None
        return None

    def _execute(self, received: ReceivedRequest) -> HttpResponse:
        try:
            from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse, value_from_ast_untyped
            from graphql.language import FieldNode
        except ModuleNotFoundError as error:
            raise testing_extra_missing("FakeAppSync", error) from error

        request = json.loads(received.body)
        try:
            document = parse(request["query"])
        except GraphQLSyntaxError as error:
            return _answer({"errorMessage": f"Syntax Error: {error.message}"})
        variables = request.get("variables") or {}
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        calls = []
        for node in fields:
            alias = node.alias.value if node.alias else node.name.value
            arguments = {
                a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()
            }
            calls.append((alias, node.name.value, arguments))
            received.aliases.append(alias)
        if self.validate is not None:
            try:
                for _, name, arguments in calls:
                    self.validate(name, arguments)
            except RequestRejectedError as error:
                return _answer({"data": None, "errors": [{"message": str(error)}]})
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for alias, name, arguments in calls:  # serially, and a field error does not stop the next
            try:
                result = self.resolver(name, arguments)
            except FieldError as error:  # noqa: PERF203 - each field fails or succeeds on its own
                data[alias] = None
                errors.append({"path": [alias], "message": str(error), "errorType": error.error_type})
            else:
                data[alias] = result
                self.published.append(Published(name, arguments, result))
        return _answer({"data": data, "errors": errors} if errors else {"data": data})


TESTING_EXTRA = "pip install 'streambridge[testing]'"


def testing_extra_missing(what: str, error: ModuleNotFoundError) -> ModuleNotFoundError:
    """``error`` (a module of the testing extra not installed) saying what to install, as the CLI does."""
    return ModuleNotFoundError(
        f"{what} needs {error.name}, from the testing extra: {TESTING_EXTRA}", name=error.name
    )


def _answer(payload: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())
