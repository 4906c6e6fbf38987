"""``streambridge invoke HANDLER --event FILE``: run a handler locally, show every record's outcome."""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any

from streambridge._bridge import URL_ENV
from streambridge._tools.common import (
    PROG,
    CommandError,
    _add_auth,
    _bridge_for,
    _Formatter,
    _importable_cwd,
    _json_option,
    _library_logs,
    _out,
    _positive_int,
    _region_in_command_words,
    _Subparsers,
    load_handlers,
)

if TYPE_CHECKING:
    from streambridge._bridge import Bridge, Handler
    from streambridge._engine.result import InvocationResult, RecordOutcome
    from streambridge._sources.http import RequestRefusedError


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    invoke = verbs.add_parser(
        "invoke",
        help="run a decorated handler locally on an event file and show each record's outcome",
        description="Import HANDLER (module:attribute, with the current directory on the Python path), "
        "run it on the event with a fake Lambda context, against the handler's own AppSync endpoint "
        f"(env {URL_ENV}) or --url: a GraphQL API (.../graphql) or an Event API (.../event, for a handler "
        "with channel= or ChannelEvent results), and print every record's outcome and the Lambda response. "
        "Exit status 1 when a record failed.",
        epilog="""\
examples:
  streambridge invoke app:handler --event event.json
  streambridge invoke app:handler --event event.json --url http://127.0.0.1:20002/graphql --api-key da2-x
  streambridge invoke app:handler --event event.json --iam \\
      --url https://abc123.appsync-api.eu-west-1.amazonaws.com/graphql
  streambridge events dynamodb --new-image '{"id": "1", "status": "NEW"}' \\
      | streambridge invoke examples.orders.handler:handler --event - --url http://127.0.0.1:20002/graphql
  streambridge invoke examples.chat_rooms.handler:handler --event event.json \\
      --url https://abc123.appsync-api.eu-west-1.amazonaws.com/event --iam

Without --url, --api-key, --token or --iam the handler's own Bridge is used as configured. With any of
them, the handler runs on a new Bridge with the same tuning and the given endpoint and auth; --url is
also exported as STREAMBRIDGE_APPSYNC_URL while the module is imported.""",
        formatter_class=_Formatter,
    )
    invoke.set_defaults(command=invoke.prog, run=_run_invoke)
    invoke.add_argument(
        "handler",
        metavar="HANDLER",
        help="the decorated handler, as module:attribute or path/to/file.py:attribute (any folder)",
    )
    invoke.add_argument("--event", required=True, metavar="FILE", help="the event JSON file, or - for stdin")
    invoke.add_argument(
        "--url",
        help="the AppSync GraphQL (.../graphql) or Event API (.../event) endpoint (default: the handler's "
        "bridge's URL)",
    )
    _add_auth(invoke, required=False)
    invoke.add_argument(
        "--timeout-ms",
        type=_positive_int,
        default=30_000,
        metavar="MS",
        help="the fake Lambda context's timeout",
    )
    invoke.add_argument("--json", action="store_true", help="print the outcome as one JSON document")
    invoke.add_argument(
        "-v", "--verbose", action="count", default=0, help="show streambridge's log lines (-vv: debug)"
    )


def _run_invoke(args: argparse.Namespace) -> int:
    from streambridge._errors import EventShapeError
    from streambridge._sources.http import RequestRefusedError

    if args.region is not None and not args.iam:
        raise CommandError("--region goes with --iam")
    event = _json_option("--event", "@" + args.event)
    # The report says everything the library logs; -v shows its log lines too.
    level = (logging.CRITICAL, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    hint = "" if args.url else "; or pass --url URL"
    with _importable_cwd(), _library_logs(level):
        handlers = load_handlers(args.handler, hint=hint)
        if len(handlers) > 1:
            names = ", ".join(label for label, _ in handlers)
            raise CommandError(
                f"{args.handler!r} has several handlers ({names}); name one as module:attribute"
            )
        label, handler = handlers[0]
        bridge = _bridge_for(handler.bridge, args)
        try:
            result = _invoke(handler, bridge, event, args)
        except EventShapeError as error:
            if not isinstance(error, RequestRefusedError):
                raise
            return _report_refusal(label, handler, error, args)  # an HTTP handler's answer, not an error
        finally:
            bridge.close()
    response, raised = _lambda_answer(handler, result)
    if args.json:
        _out(json.dumps(_report_json(label, result, response, raised), indent=2, ensure_ascii=False))
    else:
        _report(label, bridge, handler, result, response=response, raised=raised)
    return 0 if result.ok else 1


def _invoke(handler: Handler[Any], bridge: Bridge, event: Any, args: argparse.Namespace) -> InvocationResult:
    from streambridge._errors import ConfigurationError, EventShapeError
    from streambridge.testing.events import lambda_context

    context = lambda_context(
        timeout_ms=args.timeout_ms, function_name=getattr(handler, "__name__", "handler")
    )
    try:
        return handler.with_bridge(bridge).process(event, context)
    except EventShapeError as error:
        if getattr(error, "status", None) is not None:  # an HTTP request refused: the handler answers it
            raise
        raise CommandError(f"the event is not a {handler.source.title} event: {error}") from None
    except ConfigurationError as error:
        hint = "; or pass --url URL" if URL_ENV in str(error) and not args.url else ""
        raise CommandError(f"{_region_in_command_words(str(error), iam=args.iam)}{hint}") from None


def _lambda_answer(handler: Handler[Any], result: InvocationResult) -> tuple[Any, str | None]:
    """What Lambda gets back: ``(response, None)``, or ``(None, error text)`` when the handler raises."""
    from streambridge._errors import DeliveryFailedError

    try:
        return handler.answer(result), None
    except DeliveryFailedError as error:
        return None, f"{type(error).__name__}: {error}"


def _outcome_line(outcome: RecordOutcome) -> str:
    detail = outcome.explain() if outcome.error is not None or outcome.note else outcome.record.describe()
    return f"  {outcome.status.value:<9}  {detail}"


def _endpoint_text(bridge: Bridge) -> str:
    """``URL (ApiKeyAuth)``, or ``URL (Event API, ApiKeyAuth)`` for an Event API."""
    from streambridge._bridge import _is_event_api
    from streambridge._errors import ConfigurationError

    auth = type(bridge.auth).__name__
    try:
        url = bridge.url
    except ConfigurationError:  # nothing needed sending, so no URL was needed
        return f"(none: {URL_ENV} is not set) ({auth})"
    return f"{url} (Event API, {auth})" if _is_event_api(url) else f"{url} ({auth})"


def _report(
    label: str,
    bridge: Bridge,
    handler: Handler[Any],
    result: InvocationResult,
    *,
    response: Any,
    raised: str | None,
) -> None:
    summary = result.summary()
    _out(f"{PROG} invoke {label}")
    _out(f"  source    {handler.source.name} ({handler.source.title}), {summary['records']} record(s)")
    _out(f"  endpoint  {_endpoint_text(bridge)}")
    _out()
    _out("records")
    for outcome in result.outcomes:
        _out(_outcome_line(outcome))
    _out()
    retries = "retry" if summary["retries"] == 1 else "retries"
    _out(
        f"summary: {summary['published']} published, {summary['skipped']} skipped, "
        f"{summary['failed']} failed; {summary['requests']} request(s), {summary['retries']} {retries}, "
        f"{summary['duration_ms']} ms"
    )
    _out()
    if raised is not None:
        _out(f"Lambda response: the handler raises {raised}")
        _out("  (Lambda retries the event, then sends it to the function's on-failure destination)")
    elif _is_http_response(response):
        _http_response(response)
    else:
        _out("Lambda response:")
        _out(json.dumps(response, indent=2, ensure_ascii=False))


def _is_http_response(response: Any) -> bool:
    return isinstance(response, dict) and "statusCode" in response and isinstance(response.get("body"), str)


def _http_response(response: dict[str, Any]) -> None:
    """An HTTP handler's answer as the client sees it: status, headers, the JSON body indented."""
    _out(f"HTTP response: {response['statusCode']}")
    for name, value in (response.get("headers") or {}).items():
        _out(f"  {name}: {value}")
    try:
        body = json.dumps(json.loads(response["body"]), indent=2, ensure_ascii=False)
    except ValueError:
        body = response["body"]
    _out(body)


def _report_refusal(
    label: str, handler: Handler[Any], error: RequestRefusedError, args: argparse.Namespace
) -> int:
    """An HTTP request refused before anything was published: the answer the client gets; exit status 1."""
    from streambridge._engine.http_reply import refusal

    response = refusal(error)
    if args.json:
        report: dict[str, Any] = {
            "handler": label,
            "summary": None,
            "outcomes": [],
            "response": response,
            "raises": None,
        }
        _out(json.dumps(report, indent=2, ensure_ascii=False))
        return 1
    _out(f"{PROG} invoke {label}")
    _out(f"  source    {handler.source.name} ({handler.source.title}): refused before publishing anything")
    _out()
    _http_response(response)
    return 1


def _report_json(label: str, result: InvocationResult, response: Any, raised: str | None) -> dict[str, Any]:
    return {
        "handler": label,
        "summary": result.summary(),
        "outcomes": [
            {
                "record": outcome.record.describe(),
                "itemIdentifier": outcome.record.item_identifier,
                "status": outcome.status.value,
                "reason": str(outcome.error) if outcome.error is not None else outcome.note,
            }
            for outcome in result.outcomes
        ],
        "response": response,
        "raises": raised,
    }
