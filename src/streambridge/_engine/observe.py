"""Observability: each invocation's counters as CloudWatch metrics (EMF), and a span per request.

Metrics: ``Bridge(metrics=True)`` (or ``metrics=Metrics(...)``) prints one CloudWatch Embedded Metric Format
line per invocation to stdout, which Lambda sends to CloudWatch Logs, where the metrics are extracted: no
API call, no Powertools needed.

Tracing: ``Bridge(tracing=True)`` (the default) gives each HTTP request to AppSync its own X-Ray subsegment
or OpenTelemetry span when one of them is present and active; ``tracing=callable`` hands each request's
``RequestTrace`` to your own code; ``tracing=False`` turns it off. Nothing is imported for it at module
level: the X-Ray SDK is looked up (``importlib.util.find_spec``) at the first invocation, OpenTelemetry is
used only when something else already imported it (no span can be recording otherwise).

This module is imported with ``streambridge``: it imports nothing heavy at module level (json, importlib
and the tracers load on first use).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple

from streambridge._errors import ConfigurationError, StreambridgeError, ThrottledError

if TYPE_CHECKING:
    from streambridge._engine.result import InvocationResult
    from streambridge._targets.base import Answer

logger = logging.getLogger("streambridge")

Dimension = Literal["FunctionName", "Source"]
"""A dimension streambridge fills in itself: the Lambda function's name, the source (``dynamodb``...)."""
_DIMENSIONS: tuple[Dimension, ...] = ("FunctionName", "Source")
_COUNT, _MILLISECONDS = "Count", "Milliseconds"
_METRICS: tuple[tuple[str, str], ...] = (
    ("Records", _COUNT),
    ("Published", _COUNT),
    ("Skipped", _COUNT),
    ("PoisonSkipped", _COUNT),
    ("Failed", _COUNT),
    ("HeldBack", _COUNT),
    ("DeadLettered", _COUNT),
    ("Requests", _COUNT),
    ("Retries", _COUNT),
    ("Throttled", _COUNT),
    ("Duration", _MILLISECONDS),
)
"""Every metric of the EMF line, with its CloudWatch unit, in the order written."""
_MAX_DIMENSIONS = 30  # a DimensionSet holds at most 30 keys (EMF specification)
_METADATA = "_aws"
_REQUEST_ID = "RequestId"


def _reserved(name: str) -> str | None:
    """What the EMF line already uses ``name`` for, or None: a fixed dimension of that name would clash."""
    if name == _METADATA:
        return "the EMF metadata (no metric would be extracted)"
    if name == _REQUEST_ID:
        return "the invocation's request id (a new metric for each invocation)"
    if name in dict(_METRICS):
        return "a metric of the line"
    if name in _DIMENSIONS:
        return "a dimension streambridge fills in (see dimensions=)"
    return None


class Metrics:
    """Each invocation's summary as CloudWatch metrics, in the Embedded Metric Format.

    One JSON line per invocation goes to stdout (Lambda ships it to CloudWatch Logs, which extracts the
    metrics): ``Records``, ``Published``, ``Skipped``, ``PoisonSkipped``, ``Failed``, ``HeldBack``,
    ``DeadLettered``, ``Requests``, ``Retries``, ``Throttled`` (Count) and ``Duration`` (Milliseconds).
    """

    __slots__ = ("default_dimensions", "dimensions", "namespace", "stream")

    def __init__(
        self,
        namespace: str = "streambridge",
        *,
        dimensions: Sequence[Dimension] = _DIMENSIONS,
        default_dimensions: Mapping[str, str] | None = None,
        stream: IO[str] | None = None,
    ) -> None:
        """Configure the metrics.

        Args:
            namespace: the CloudWatch namespace of the metrics.
            dimensions: which of streambridge's own dimensions the metrics carry: ``"FunctionName"`` (the
                Lambda context's ``function_name``, else ``AWS_LAMBDA_FUNCTION_NAME``; left out when
                neither is known) and ``"Source"`` (``dynamodb``, ``kinesis``...). ``()`` for none.
            default_dimensions: fixed dimensions added to every line, e.g. ``{"Environment": "prod"}``.
                Every distinct combination of dimension values is a metric of its own (and billed as
                one): never use a record's key, a request id or anything else with many values.
            stream: where the lines go; default ``sys.stdout`` at the time of writing.
        """
        if not isinstance(namespace, str) or not namespace.strip() or not namespace.isascii():
            raise ConfigurationError(f"Metrics namespace must be a non-empty ASCII string, got {namespace!r}")
        if len(namespace) > 255 or namespace.startswith(("AWS/", ":")):
            raise ConfigurationError(
                f"Metrics namespace must be at most 255 characters and not start with 'AWS/' or ':', "
                f"got {namespace!r}"
            )
        if (
            isinstance(dimensions, str)
            or not isinstance(dimensions, Sequence)
            or any(d not in _DIMENSIONS for d in dimensions)
        ):
            raise ConfigurationError(
                f"Metrics dimensions must be a sequence of {list(_DIMENSIONS)}, got {dimensions!r}; "
                "fixed dimensions of your own go in default_dimensions={name: value}"
            )
        if isinstance(default_dimensions, str | bytes):  # dict() would take neither, with a ValueError
            raise ConfigurationError(
                f"Metrics default_dimensions must be a mapping of names to values, got {default_dimensions!r}"
            )
        fixed = dict(default_dimensions or {})
        for name, value in fixed.items():
            for what, text in (("name", name), ("value", value)):
                if not isinstance(text, str) or not text.strip() or not text.isascii() or text[0] == ":":
                    raise ConfigurationError(
                        f"Metrics default_dimensions {what} must be a non-empty ASCII string not starting "
                        f"with ':', got {text!r}"
                    )
            # A key of the line's own would be overwritten by it, or overwrite it (whatever dimensions=).
            clash = _reserved(name)
            if clash is not None:
                raise ConfigurationError(
                    f"Metrics default_dimensions: {name!r} is {clash}; choose another name"
                )
        if len(set(dimensions)) + len(fixed) > _MAX_DIMENSIONS:
            raise ConfigurationError(f"Metrics: at most {_MAX_DIMENSIONS} dimensions in all")
        if stream is not None and not callable(getattr(stream, "write", None)):
            # Else every line would be lost, each with a warning, and nothing would fail.
            raise ConfigurationError(f"Metrics stream must have write(text), like sys.stdout, got {stream!r}")
        self.namespace = namespace
        self.dimensions: tuple[Dimension, ...] = tuple(dict.fromkeys(dimensions))
        self.default_dimensions: dict[str, str] = fixed
        self.stream = stream

    def __repr__(self) -> str:
        return (
            f"Metrics(namespace={self.namespace!r}, dimensions={self.dimensions!r}, "
            f"default_dimensions={self.default_dimensions!r})"
        )

    def document(self, result: InvocationResult, context: object = None) -> dict[str, Any]:
        """The EMF document of ``result`` (``context``: the Lambda context, for the function's name)."""
        dimensions: dict[str, str] = {}
        for dimension in self.dimensions:
            if dimension == "Source":
                dimensions["Source"] = result.source
            else:
                name = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
                if isinstance(name, str) and name:
                    dimensions["FunctionName"] = name
        dimensions.update(self.default_dimensions)
        values = {
            "Records": len(result.outcomes),
            "Published": result.published,
            "Skipped": result.skipped,
            "PoisonSkipped": result.poison_skipped,
            "Failed": result.failed,
            "HeldBack": result.held_back,
            "DeadLettered": result.dead_lettered,
            "Requests": result.requests,
            "Retries": result.retries,
            "Throttled": result.throttled,
            "Duration": round(result.duration * 1000, 3),
        }
        document: dict[str, Any] = {
            _METADATA: {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [list(dimensions)],
                        "Metrics": [{"Name": name, "Unit": unit} for name, unit in _METRICS],
                    }
                ],
            },
            **dimensions,
            **values,
        }
        request_id = getattr(context, "aws_request_id", None)
        if isinstance(request_id, str):  # a property of the log event, not a dimension: no metric cost
            document[_REQUEST_ID] = request_id
        return document

    def emit(self, result: InvocationResult, context: object = None) -> None:
        """Write ``result``'s EMF line; a failure to write is logged, never raised."""
        import json

        try:
            line = json.dumps(self.document(result, context), separators=(",", ":"))
            stream = self.stream if self.stream is not None else sys.stdout
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            logger.warning("streambridge: could not write the metrics line", exc_info=True)


def metrics_setting(metrics: bool | Metrics | None) -> Metrics | None:
    """The bridge's ``metrics=``: True for the defaults, a ``Metrics``, or False/None for none."""
    if metrics is None or metrics is False:
        return None
    if metrics is True:
        return Metrics()
    if isinstance(metrics, Metrics):
        return metrics
    raise ConfigurationError(f"metrics must be True, False or Metrics(...), got {metrics!r}")


# --- tracing -------------------------------------------------------------------------------------------


class RequestTrace(NamedTuple):
    """One HTTP request to AppSync, as a tracer sees it once its answer is read."""

    mutations: int
    """Mutations (GraphQL) or events (Event API) the request carried."""
    start: float
    """When it was sent, in seconds since the epoch."""
    end: float
    """When its answer was read (or it failed), in seconds since the epoch."""
    outcome: str
    """``"ok"``, ``"partial"`` (some mutations rejected), ``"throttled"`` or ``"error"`` (failed whole)."""
    error: StreambridgeError | None = None
    """The request's error, or the first mutation's error for a partial answer."""


RequestTracer = Callable[[RequestTrace], None]
"""What ``Bridge(tracing=...)`` takes besides True and False: called once per request, in the event loop."""

OK, PARTIAL, THROTTLED, ERROR = "ok", "partial", "throttled", "error"


def outcome_of(answer: Answer | StreambridgeError) -> tuple[str, StreambridgeError | None]:
    """What an attempt's answer was, for the counters and the tracers; with the error that says why."""
    if isinstance(answer, StreambridgeError):
        return (THROTTLED if isinstance(answer, ThrottledError) else ERROR), answer
    if answer.request_error is not None:
        error = answer.request_error
        return (THROTTLED if isinstance(error, ThrottledError) else ERROR), error
    if not answer.errors:
        return OK, None
    errors = list(answer.errors.values())
    throttled = next((e for e in errors if isinstance(e, ThrottledError)), None)
    if throttled is not None:
        return THROTTLED, throttled
    return PARTIAL, errors[0]


def tracing_setting(tracing: bool | RequestTracer) -> bool | RequestTracer:
    """The bridge's ``tracing=``: True (automatic), False, or a callable of ``RequestTrace``."""
    if tracing is True or tracing is False or callable(tracing):
        return tracing
    raise ConfigurationError(f"tracing must be True, False or a callable of RequestTrace, got {tracing!r}")


def request_tracer(tracing: bool | RequestTracer) -> RequestTracer | None:
    """For one invocation: what records its requests, or None (nothing present and active)."""
    if tracing is False:
        return None
    if tracing is True:
        found = _otel_tracer() or _xray_tracer()
        return None if found is None else _guarded(found)
    return _guarded(tracing)


def _guarded(tracer: RequestTracer) -> RequestTracer:
    """A tracer's failure is logged once per invocation, never raised into the publisher."""
    failed = False

    def record(trace: RequestTrace) -> None:
        nonlocal failed
        try:
            tracer(trace)
        except Exception:
            if not failed:
                failed = True
                logger.warning("streambridge: the request tracer failed", exc_info=True)

    return record


_SPAN_NAME = "streambridge request"
_xray_present: bool | None = None
"""None until the first traced invocation looks for the X-Ray SDK."""


def _otel_tracer() -> RequestTracer | None:
    """A span per request under the current OpenTelemetry span, when one is recording.

    Never imports OpenTelemetry: a span can only be recording if something (the ADOT layer, the function's
    code) configured it, and so imported ``opentelemetry.trace`` already.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    if not trace.get_current_span().is_recording():
        return None
    tracer = trace.get_tracer("streambridge")

    def record(request: RequestTrace) -> None:
        span = tracer.start_span(
            _SPAN_NAME,
            kind=trace.SpanKind.CLIENT,
            start_time=int(request.start * 1e9),
            attributes={"streambridge.mutations": request.mutations, "streambridge.outcome": request.outcome},
        )
        if request.outcome != OK:
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{request.outcome}: {request.error}"))
        span.end(end_time=int(request.end * 1e9))

    return record


def _xray_tracer() -> RequestTracer | None:
    """A subsegment per request, when the X-Ray SDK is installed and Lambda traces the invocation.

    The SDK is looked up once, at the first invocation (``find_spec``: no import when absent); it is
    imported only when an invocation is traced (``_X_AMZN_TRACE_ID``, set by Lambda).
    """
    global _xray_present  # noqa: PLW0603 - looked up once per process
    if "_X_AMZN_TRACE_ID" not in os.environ:
        return None
    if _xray_present is None:
        if "aws_xray_sdk.core" in sys.modules:
            _xray_present = True
        else:
            import importlib.util

            _xray_present = importlib.util.find_spec("aws_xray_sdk") is not None
    if not _xray_present:
        return None
    import importlib  # the SDK has no type hints: its objects are Any

    if not importlib.import_module("aws_xray_sdk").global_sdk_config.sdk_enabled():
        return None
    xray_recorder = importlib.import_module("aws_xray_sdk.core").xray_recorder

    def record(request: RequestTrace) -> None:
        # Opened and closed at once, the times set after the fact: requests run concurrently in one
        # thread, and the SDK's context keeps one stack of open subsegments per thread.
        subsegment = xray_recorder.begin_subsegment(_SPAN_NAME, "remote")
        if subsegment is None:
            return
        subsegment.start_time = request.start
        subsegment.put_annotation("streambridge_mutations", request.mutations)
        subsegment.put_annotation("streambridge_outcome", request.outcome)
        if request.outcome == THROTTLED:
            subsegment.add_throttle_flag()
        elif request.outcome != OK:
            subsegment.add_error_flag()
        if request.error is not None:
            subsegment.put_metadata("error", str(request.error), "streambridge")
        xray_recorder.end_subsegment(request.end)

    return record
