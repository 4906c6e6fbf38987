"""The ``streambridge`` command: ``demo``, ``events``, ``invoke``, ``check`` and ``doctor``.

Each verb is one ``_add_<verb>`` function that registers its subparser and sets ``run`` to the function
doing the work; ``_VERBS`` lists them. Imports beyond the standard library happen inside the verbs, so
``streambridge --help`` stays instant (graphql-core only loads for ``check``).

Exit status: 0 success, 1 the command ran and found a problem (a record failed, a document drifted),
2 the command could not run (bad arguments, module not found, unreadable file).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streambridge._bridge import URL_ENV

if TYPE_CHECKING:
    from streambridge._bridge import Bridge, Handler
    from streambridge._engine.result import InvocationResult, RecordOutcome

PROG = "streambridge"


class CommandError(Exception):
    """The command cannot run as asked: reported as ``streambridge <verb>: error: ...``, exit status 2."""


class _Formatter(argparse.HelpFormatter):
    """Wrap one-paragraph descriptions, keep multi-line texts (the examples) as written, show defaults."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in help_text:
            help_text += " (default: %(default)s)"
        return help_text


_Subparsers = argparse._SubParsersAction  # argparse's own type for add_subparsers()

# --------------------------------------------------------------------------------------------------
# Entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors: argparse has printed the message
        return exit_.code if isinstance(exit_.code, int) else 2
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except CommandError as error:
        sys.stderr.write(f"{args.command}: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{args.command}: interrupted\n")
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The command's parser, with one subparser per verb."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn AWS stream and event inputs into ordered, batched AppSync mutations: "
        "local tools for streambridge handlers.",
        epilog="""\
examples:
  streambridge events dynamodb --new-image '{"id": "1", "status": "NEW"}' > event.json
  streambridge invoke app:handler --event event.json --url http://127.0.0.1:20002/graphql --api-key da2-x
  streambridge check app:handler --schema schema.graphql

Run `streambridge VERB --help` for the options of each verb.""",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the installed version and exit")
    verbs = parser.add_subparsers(title="verbs", dest="verb", required=True, metavar="VERB")
    for add in _VERBS:
        add(verbs)
    return parser


class _Version(argparse.Action):
    """``--version``, looked up only when asked for (importlib.metadata is not free)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("streambridge")
        except PackageNotFoundError:
            installed = "(not installed)"
        _out(f"{parser.prog} {installed}")
        parser.exit()


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------------------------------
# events


def _add_events(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    events = verbs.add_parser(
        "events",
        help="print a fake Lambda event for any source",
        description="Print a Lambda event for SOURCE, shaped exactly like the one AWS sends, built from "
        "plain values. JSON options take JSON text or @FILE.",
        epilog="""\
examples:
  streambridge events dynamodb --new-image '{"id": "o-1", "status": "NEW"}'
  streambridge events dynamodb --old-image '{"id": "o-1", "status": "NEW"}' \\
      --new-image '{"id": "o-1", "status": "PAID"}' --count 3
  streambridge events dynamodb --old-image @order.json --event-name REMOVE --ttl
  streambridge events kinesis --data '{"temp": 21.5}' --partition-key dev-1 --count 10
  streambridge events sqs --body '{"orderId": "o-1"}' --fifo --group-id o-1
  streambridge events aurora --payload '{"id": "o-1", "status": "PAID"}'
  streambridge events cloudwatch-alarm --name HighCpu --state ALARM --via sns
  streambridge events eventbridge --detail '{"orderId": "o-1"}' --source com.example.orders \\
      --detail-type OrderUpdated

  streambridge events dynamodb --new-image '{"id": "1"}' | streambridge invoke app:handler --event -""",
        formatter_class=_Formatter,
    )
    events.set_defaults(command=events.prog)
    sources = events.add_subparsers(title="sources", dest="source", required=True, metavar="SOURCE")
    for add in (
        _events_dynamodb,
        _events_kinesis,
        _events_sqs,
        _events_aurora,
        _events_alarm,
        _events_eventbridge,
    ):
        add(sources, events.prog)


def _source_parser(
    sources: _Subparsers[argparse.ArgumentParser],
    prog: str,
    name: str,
    help_text: str,
    example: str,
    *,
    aliases: Sequence[str] = (),
) -> argparse.ArgumentParser:
    sub = sources.add_parser(
        name,
        aliases=list(aliases),
        help=help_text,
        description=help_text + ". JSON options take JSON text or @FILE.",
        epilog=f"example:\n  {example}",
        formatter_class=_Formatter,
    )
    sub.set_defaults(command=f"{prog} {name}", run=_run_events, builder=name)
    sub.add_argument("--compact", action="store_true", help="print the event on one line")
    return sub


def _events_dynamodb(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    dynamodb = _source_parser(
        sources,
        prog,
        "dynamodb",
        "a DynamoDB Streams batch: one item change, repeated --count times with increasing sequence numbers",
        """streambridge events dynamodb --new-image '{"id": "o-1", "status": "NEW"}' --count 3""",
    )
    dynamodb.add_argument("--new-image", metavar="JSON", help="the item after the change (a JSON object)")
    dynamodb.add_argument("--old-image", metavar="JSON", help="the item before the change (a JSON object)")
    dynamodb.add_argument(
        "--event-name",
        choices=("INSERT", "MODIFY", "REMOVE"),
        help="default: INSERT with only a new image, MODIFY with both, REMOVE with only an old image",
    )
    dynamodb.add_argument(
        "--keys", metavar="NAMES", default="id", help="the table's key attribute names, comma-separated"
    )
    dynamodb.add_argument("--ttl", action="store_true", help="a REMOVE done by DynamoDB's Time to Live")
    dynamodb.add_argument("--table", default="Orders", help="table name, in the stream ARN")
    dynamodb.add_argument(
        "--stream-view-type",
        choices=("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"),
        default="NEW_AND_OLD_IMAGES",
        help="which images the stream carries",
    )
    _add_count_and_start(dynamodb)
    _add_region(dynamodb)


def _events_kinesis(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    kinesis = _source_parser(
        sources,
        prog,
        "kinesis",
        "a Kinesis Data Streams batch (one shard): one record, repeated --count times",
        """streambridge events kinesis --data '{"temp": 21.5}' --partition-key dev-1 --count 10""",
    )
    kinesis.add_argument(
        "--data", metavar="JSON", required=True, help="the record's data (JSON, or text with --raw)"
    )
    kinesis.add_argument("--raw", action="store_true", help="send --data as text, not as JSON")
    kinesis.add_argument("--partition-key", default="partitionKey-1", help="the record's partition key")
    kinesis.add_argument("--stream", default="telemetry", help="stream name, in the ARN")
    kinesis.add_argument("--shard-id", default="shardId-000000000000", help="the shard the records come from")
    _add_count_and_start(kinesis)
    _add_region(kinesis)


def _events_sqs(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    sqs = _source_parser(
        sources,
        prog,
        "sqs",
        "an SQS batch (standard or FIFO queue): one message, repeated --count times",
        """streambridge events sqs --body '{"orderId": "o-1"}' --fifo --group-id o-1 --count 2""",
    )
    sqs.add_argument(
        "--body", metavar="JSON", required=True, help="the message body (JSON, or text with --raw)"
    )
    sqs.add_argument("--raw", action="store_true", help="send --body as text, not as JSON")
    sqs.add_argument("--fifo", action="store_true", help="a FIFO queue (the queue name gets .fifo)")
    sqs.add_argument("--group-id", help="MessageGroupId (FIFO default: 'default')")
    sqs.add_argument("--deduplication-id", help="MessageDeduplicationId (FIFO default: SHA-256 of the body)")
    sqs.add_argument("--queue", default="orders", help="queue name, in the ARN")
    sqs.add_argument("--count", type=_positive_int, default=1, metavar="N", help="how many messages")
    _add_region(sqs)


def _events_aurora(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    aurora = _source_parser(
        sources,
        prog,
        "aurora",
        "an Aurora/RDS invocation: the JSON payload lambda_sync, lambda_async or aws_lambda.invoke sends",
        """streambridge events aurora --payload '{"id": "o-1", "status": "PAID"}'""",
    )
    aurora.add_argument("--payload", metavar="JSON", required=True, help="the payload the SQL builds")


def _events_alarm(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    alarm = _source_parser(
        sources,
        prog,
        "cloudwatch-alarm",
        "a CloudWatch alarm state change, from the alarm's Lambda action or through SNS",
        "streambridge events cloudwatch-alarm --name HighCpu --state ALARM --via sns",
        aliases=("cloudwatch_alarm",),
    )
    alarm.add_argument("--name", default="HighCpu", help="the alarm name")
    states = ("OK", "ALARM", "INSUFFICIENT_DATA")
    alarm.add_argument("--state", choices=states, default="ALARM", help="the new state")
    alarm.add_argument("--previous-state", choices=states, default="OK", help="the state before")
    alarm.add_argument("--reason", help="the state reason (default: a threshold-crossed text)")
    alarm.add_argument(
        "--via", choices=("lambda", "sns"), default="lambda", help="how the alarm reaches Lambda"
    )
    alarm.add_argument("--metric", default="CPUUtilization", help="metric name")
    alarm.add_argument("--namespace", default="AWS/EC2", help="metric namespace")
    alarm.add_argument("--threshold", type=float, default=80.0, help="the alarm threshold")
    alarm.add_argument("--topic", default="alarms", help="SNS topic name (with --via sns)")
    _add_region(alarm)


def _events_eventbridge(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    eventbridge = _source_parser(
        sources,
        prog,
        "eventbridge",
        "an EventBridge (CloudWatch Events) event, as a rule's Lambda target receives it",
        """streambridge events eventbridge --detail '{"orderId": "o-1"}' --source com.example.orders """
        "--detail-type OrderUpdated",
    )
    eventbridge.add_argument(
        "--detail", metavar="JSON", default="{}", help="the event's detail (a JSON object)"
    )
    eventbridge.add_argument("--source", default="com.example.orders", help="the event's source")
    eventbridge.add_argument("--detail-type", default="OrderUpdated", help="the event's detail-type")
    eventbridge.add_argument("--resource", action="append", default=[], help="a resource ARN (repeatable)")
    eventbridge.add_argument("--time", help="the event time, as written (default: 2026-01-01T00:00:00Z)")
    _add_region(eventbridge)


def _add_count_and_start(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=_positive_int, default=1, metavar="N", help="how many records")
    parser.add_argument(
        "--start-sequence",
        type=_non_negative_int,
        default=100,
        metavar="N",
        help="sequence number offset of the first record",
    )


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", default="us-east-1", help="AWS region of the source")


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _json_option(option: str, text: str, *, object_only: bool = False, hint: str = "") -> Any:
    """The JSON value of an option given as JSON text or ``@FILE``."""
    if text.startswith("@"):
        text = _read_text(text[1:], option)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        snippet = text if len(text) <= 40 else text[:37] + "..."
        raise CommandError(
            f"argument {option}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}) "
            f"in {snippet!r}{hint}"
        ) from None
    if object_only and not isinstance(value, dict):
        raise CommandError(f"argument {option}: must be a JSON object, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _read_text(path: str, what: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"{what}: cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{what}: {path} is not UTF-8 text") from None


def _run_events(args: argparse.Namespace) -> int:
    from streambridge.testing import events  # only this verb needs the builders

    try:
        event = _BUILDERS[args.builder](args, events)
    except (ValueError, TypeError) as error:
        raise CommandError(_in_command_words(str(error))) from None
    separators = (",", ":") if args.compact else None
    _out(json.dumps(event, indent=None if args.compact else 2, separators=separators, ensure_ascii=False))
    return 0


def _dynamodb_event(args: argparse.Namespace, events: Any) -> Any:
    new = None if args.new_image is None else _json_option("--new-image", args.new_image, object_only=True)
    old = None if args.old_image is None else _json_option("--old-image", args.old_image, object_only=True)
    if new is None and old is None:
        raise CommandError("give the item: --new-image (INSERT), --old-image (REMOVE), or both (MODIFY)")
    keys = tuple(name.strip() for name in args.keys.split(",") if name.strip())
    if not keys:
        raise CommandError("argument --keys: name at least one key attribute")
    image: Any = new if new is not None else old
    missing = [key for key in keys if key not in image]
    if missing:
        raise CommandError(
            f"key attribute(s) {', '.join(missing)} not in the image; name the table's keys with --keys"
        )
    change = {"new_image": new, "old_image": old, "event_name": args.event_name, "ttl": args.ttl}
    return events.dynamodb(
        [change] * args.count,
        table=args.table,
        region=args.region,
        stream_view_type=args.stream_view_type,
        start_sequence=args.start_sequence,
        key_names=keys,
    )


def _in_command_words(message: str) -> str:
    """The builders' messages speak Python (``changes[0].new_image``); say it with the command's options."""
    message = re.sub(r"changes\[\d+\]\.(new|old)_image\.?", r"--\1-image: ", message)
    message = re.sub(r"(changes|records|bodies)\[\d+\]", "the record", message)
    for python, option in _PYTHON_WORDS:
        message = message.replace(python, option)
    return message.replace(": : ", ": ")


_PYTHON_WORDS = (
    ("ttl=True", "--ttl"),
    ("fifo=True", "--fifo"),
    ("new_image", "--new-image"),
    ("old_image", "--old-image"),
    ("event_name", "--event-name"),
)


_RAW_HINT = "; pass --raw to send the text as it is"


def _kinesis_event(args: argparse.Namespace, events: Any) -> Any:
    data = args.data if args.raw else _json_option("--data", args.data, hint=_RAW_HINT)
    record = events.KinesisInput(data, args.partition_key)
    return events.kinesis(
        [record] * args.count,
        stream=args.stream,
        shard_id=args.shard_id,
        region=args.region,
        start_sequence=args.start_sequence,
    )


def _sqs_event(args: argparse.Namespace, events: Any) -> Any:
    body = args.body if args.raw else _json_option("--body", args.body, hint=_RAW_HINT)
    messages = [
        events.SQSInput(body, group_id=args.group_id, deduplication_id=_deduplication_id(args, body, index))
        for index in range(args.count)
    ]
    return events.sqs(messages, queue=args.queue, fifo=args.fifo, region=args.region)


def _deduplication_id(args: argparse.Namespace, body: Any, index: int) -> str | None:
    """The message's deduplication id: the repeats of ``--count`` in a FIFO queue get distinct ones.

    A FIFO queue drops a message whose deduplication id it saw in the last 5 minutes, so repeats are
    ``<id>-<n>``; a single message keeps the given id (or the builder's default, the body's SHA-256).
    """
    given: str | None = args.deduplication_id
    if not args.fifo or args.count == 1:
        return given
    import hashlib

    base = given or hashlib.sha256(json.dumps(body).encode()).hexdigest()[:40]
    return f"{base}-{index}"


def _aurora_event(args: argparse.Namespace, events: Any) -> Any:
    return events.aurora(_json_option("--payload", args.payload))


def _alarm_event(args: argparse.Namespace, events: Any) -> Any:
    return events.cloudwatch_alarm(
        args.name,
        state=args.state,
        previous_state=args.previous_state,
        reason=args.reason,
        via=args.via,
        region=args.region,
        metric=args.metric,
        namespace=args.namespace,
        threshold=args.threshold,
        topic=args.topic,
    )


def _eventbridge_event(args: argparse.Namespace, events: Any) -> Any:
    return events.eventbridge(
        _json_option("--detail", args.detail, object_only=True),
        source=args.source,
        detail_type=args.detail_type,
        resources=args.resource,
        time=args.time,
        region=args.region,
    )


_BUILDERS: dict[str, Callable[[argparse.Namespace, Any], Any]] = {
    "dynamodb": _dynamodb_event,
    "kinesis": _kinesis_event,
    "sqs": _sqs_event,
    "aurora": _aurora_event,
    "cloudwatch-alarm": _alarm_event,
    "eventbridge": _eventbridge_event,
}


# --------------------------------------------------------------------------------------------------
# Loading the user's handlers


@contextmanager
def _importable_cwd() -> Iterator[None]:
    """Make modules in the current directory importable, as ``python -m`` does, for the command's run."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


@contextmanager
def _library_logs(level: int) -> Iterator[None]:
    """Show streambridge's own log lines at ``level`` and above on stderr, for the block."""
    logger = logging.getLogger("streambridge")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("log %(levelname)s %(message)s"))
    saved = logger.level, logger.propagate
    logger.setLevel(level)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def load_handlers(target: str, *, hint: str = "") -> list[tuple[str, Handler[Any]]]:
    """Import ``module:attribute`` (or a module: every handler in it) and return ``(label, handler)`` pairs.

    The module may also be a path (``app/handler.py:handler``). Raises CommandError with the reason.
    """
    from streambridge._bridge import Handler

    module_name, colon, attribute = target.partition(":")
    module_name = _module_name(module_name)
    if not module_name or (colon and not attribute):
        raise CommandError(
            f"{target!r} is not module:handler; write it like app:handler or examples.orders.handler:handler"
        )
    module = _import(module_name, hint)
    if not attribute:
        found = [(f"{module_name}:{name}", v) for name, v in vars(module).items() if isinstance(v, Handler)]
        if not found:
            raise CommandError(
                f"module {module_name!r} defines no streambridge handler (a function decorated with "
                "@bridge.dynamodb(...), @bridge.sqs(...), ...)"
            )
        return found
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            available = sorted(n for n, v in vars(module).items() if isinstance(v, Handler))
            known = f"; its handlers: {', '.join(available)}" if available else ""
            raise CommandError(f"module {module_name!r} has no attribute {attribute!r}{known}")
        value = getattr(value, part)
    if not isinstance(value, Handler):
        kind = "a function" if callable(value) else f"a {type(value).__name__}"
        raise CommandError(
            f"{module_name}:{attribute} is {kind}, not a streambridge handler: decorate the mapping function "
            "with @bridge.dynamodb(...), @bridge.kinesis(...), @bridge.sqs(...), ..."
        )
    return [(f"{module_name}:{attribute}", value)]


def _module_name(text: str) -> str:
    """``app/orders.py`` -> ``app.orders``; a dotted module name stays as it is."""
    if text.endswith(".py") or "/" in text or os.sep in text:
        path = Path(text).with_suffix("") if text.endswith(".py") else Path(text)
        return ".".join(part for part in path.parts if part not in (".", ""))
    return text


def _import(name: str, hint: str) -> Any:
    """Import the user's module; ``hint`` is added when it failed for want of an AppSync URL."""
    from streambridge._errors import ConfigurationError, StreambridgeError

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            raise CommandError(
                f"module {name!r} not found (looked in {os.getcwd()} and the Python path); "
                "run the command from your project's directory"
            ) from None
        raise CommandError(f"importing {name!r} failed: {type(error).__name__}: {error}") from None
    except StreambridgeError as error:
        about_url = isinstance(error, ConfigurationError) and URL_ENV in str(error)
        raise CommandError(
            f"importing {name!r} failed: {type(error).__name__}: {error}{hint if about_url else ''}"
        ) from None
    except Exception as error:  # noqa: BLE001 - whatever the user's module raises, say so and stop
        raise CommandError(f"importing {name!r} failed: {type(error).__name__}: {error}") from None


# --------------------------------------------------------------------------------------------------
# invoke


def _add_invoke(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
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
    invoke.add_argument("handler", metavar="HANDLER", help="the decorated handler, as module:attribute")
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


def _add_auth(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The publishing auth options of ``invoke`` and ``doctor``: one of them, and --region for --iam."""
    auth = parser.add_mutually_exclusive_group(required=required)
    auth.add_argument("--api-key", metavar="KEY", help="authorize with an AppSync API key")
    auth.add_argument("--token", help="authorize with a Cognito/OIDC/Lambda-authorizer token")
    auth.add_argument("--iam", action="store_true", help="sign with IAM (the default AWS credential chain)")
    parser.add_argument("--region", help="the API's region for --iam, when the URL does not name it")


def _run_invoke(args: argparse.Namespace) -> int:
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
        finally:
            bridge.close()
    response, raised = _lambda_answer(handler, result)
    if args.json:
        _out(json.dumps(_report_json(label, result, response, raised), indent=2, ensure_ascii=False))
    else:
        _report(label, bridge, handler, result, response=response, raised=raised)
    return 0 if result.ok else 1


def _bridge_for(template: Bridge, args: argparse.Namespace) -> Bridge:
    """The handler's own bridge, or, when the command overrides endpoint or auth, a new one like it."""
    from streambridge._errors import ConfigurationError
    from streambridge._io.auth import ApiKeyAuth, IAMAuth, TokenAuth
    from streambridge._io.transport import Auth

    if args.url is None and args.api_key is None and args.token is None and not args.iam:
        return template
    auth: Auth = template.auth
    try:
        if args.api_key is not None:
            auth = ApiKeyAuth(args.api_key)
        elif args.token is not None:
            auth = TokenAuth(args.token)
        elif args.iam:
            auth = IAMAuth(region=args.region)
        return template.replace(url=args.url, auth=auth) if args.url else template.replace(auth=auth)
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


def _invoke(handler: Handler[Any], bridge: Bridge, event: Any, args: argparse.Namespace) -> InvocationResult:
    from streambridge._errors import ConfigurationError, EventShapeError
    from streambridge.testing.events import lambda_context

    context = lambda_context(
        timeout_ms=args.timeout_ms, function_name=getattr(handler, "__name__", "handler")
    )
    try:
        return handler.with_bridge(bridge).process(event, context)
    except EventShapeError as error:
        raise CommandError(f"the event is not a {handler.source.title} event: {error}") from None
    except ConfigurationError as error:
        hint = "; or pass --url URL" if URL_ENV in str(error) and not args.url else ""
        raise CommandError(f"{error}{hint}") from None


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
    else:
        _out("Lambda response:")
        _out(json.dumps(response, indent=2, ensure_ascii=False))


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


# --------------------------------------------------------------------------------------------------
# check


def _add_check(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    check = verbs.add_parser(
        "check",
        help="validate the handlers' mutation documents against the AppSync schema, offline",
        description="Validate every mutation document the handlers use (the decorator's document) against "
        "the schema, with AppSync's scalars and directives, and flag AppSync's silent failures: "
        "subscriptions (@aws_subscribe) that select or filter on fields the mutation does not select, "
        "aliases inside the mutation, and @aws_subscribe naming a mutation the schema does not have. One "
        "line per finding: LEVEL handler: message (the schema's own findings: LEVEL schema-file: message); "
        "a syntax error adds its line with a caret under the column. Exit status 1 on any error (or "
        "warning, with --strict).",
        epilog="""\
examples:
  streambridge check app:handler --schema schema.graphql
  streambridge check app --schema schema.graphql              # every handler in module app
  streambridge check app:orders app:alarms --schema schema.graphql --strict
  streambridge check --mutation-file publish.graphql --schema schema.graphql

HANDLER is module:attribute, or a module to check all of its handlers. Nothing is sent anywhere, and
STREAMBRIDGE_APPSYNC_URL need not be set: a Bridge only needs its URL when it publishes.""",
        formatter_class=_Formatter,
    )
    check.set_defaults(command=check.prog, run=_run_check)
    check.add_argument("handlers", nargs="*", metavar="HANDLER", help="module:attribute or module")
    check.add_argument("--schema", required=True, metavar="FILE", help="the AppSync schema (SDL)")
    check.add_argument(
        "--mutation-file",
        action="append",
        default=[],
        metavar="FILE",
        help="also check the mutation document in FILE (repeatable)",
    )
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")


def _run_check(args: argparse.Namespace) -> int:
    if not args.handlers and not args.mutation_file:
        raise CommandError("name at least one HANDLER or --mutation-file")
    schema_text = _read_text(args.schema, "--schema")
    documents: list[tuple[str, str | None]] = []
    with _importable_cwd(), _library_logs(logging.ERROR):
        for target in args.handlers:
            documents += [(label, handler.document) for label, handler in load_handlers(target)]
    documents += [(path, _read_text(path, "--mutation-file")) for path in args.mutation_file]

    from streambridge._tools.check import (
        Finding,
        Level,
        SchemaError,
        appsync_schema,
        check_document,
        check_schema,
    )

    try:
        schema = appsync_schema(schema_text, args.schema)
    except SchemaError as error:
        raise CommandError(str(error)) from None
    counts = dict.fromkeys(Level, 0)
    for finding in check_schema(schema):  # the schema's own findings, once, against the schema file
        counts[finding.level] += 1
        _out(finding.line(args.schema))
    with _library_logs(logging.ERROR):  # the check reports what the library would log
        for label, document in documents:
            if document is None:
                findings = [
                    Finding(
                        Level.NOTE,
                        "no mutation document in the decorator (the mapping function returns Mutation "
                        "objects), so it cannot be checked statically; check those documents with "
                        "--mutation-file",
                    )
                ]
            else:
                findings = check_document(schema, document)
            for finding in findings:
                counts[finding.level] += 1
                _out(finding.line(label))
            if not findings:
                _out(f"OK {label}")
    failed = counts[Level.ERROR] + (counts[Level.WARNING] if args.strict else 0)
    _out(
        f"checked {len(documents)} document(s) against {args.schema}: {counts[Level.ERROR]} error(s), "
        f"{counts[Level.WARNING]} warning(s), {counts[Level.NOTE]} note(s)"
        + (" (--strict: warnings count as errors)" if args.strict and counts[Level.WARNING] else "")
    )
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------------

# demo


def _add_demo(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    demo = verbs.add_parser(
        "demo",
        help="run the main job end to end on local defaults (no AWS account, no Node)",
        description="Start a LocalAppSync with the orders schema (or, with --target channels, a "
        "LocalEventApi with an orders namespace), subscribe like a web client, publish a DynamoDB stream "
        "batch of orders moving NEW -> PAID -> SHIPPED (one change rejected by the API) through an "
        "IAM-signing handler, and show what the subscriber receives, the summary and the "
        "batchItemFailures. Exit status 0 when the outcome is the expected one.",
        epilog="examples:\n  streambridge demo\n"
        "  streambridge demo --target channels   # AppSync Events: a subscriber on /orders/*\n"
        "  streambridge demo --orders 1000   # progress instead of every message",
        formatter_class=_Formatter,
    )
    demo.set_defaults(command=demo.prog, run=_run_demo)
    demo.add_argument("--orders", type=int, default=12, metavar="N", help="orders in the batch")
    demo.add_argument(
        "--target",
        choices=("graphql", "channels"),
        default="graphql",
        help="GraphQL mutations and a subscription, or AppSync Events channels",
    )


def _run_demo(args: argparse.Namespace) -> int:
    if args.orders < 1:
        raise CommandError("--orders must be at least 1")
    from streambridge._tools.demo import run

    with _library_logs(logging.CRITICAL):  # the demo prints the failures itself
        return run(args.orders, _out, target=args.target)


# --------------------------------------------------------------------------------------------------
# doctor


def _add_doctor(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    doctor = verbs.add_parser(
        "doctor",
        help="check on the live API that subscribers receive what the handler publishes, single and batched",
        description="Run once after deploying (and in CI against a staging API): subscribe over AppSync's "
        "real-time WebSocket to every subscription that lists the handler's mutation in @aws_subscribe, "
        "filtered on the probe's own values; publish --count copies of a probe record through the "
        "handler's mapping function, as single unaliased requests and as one aliased batch; report for "
        "each shape whether every message arrived, in order, and how fast. Exit status 0 when the shape "
        "the handler's Bridge is configured for delivers everything, 1 when it does not (with the "
        "setting that works), 2 when the probe cannot run (usage, auth refused).",
        epilog="""\
examples:
  streambridge doctor app:handler --url https://abc123.appsync-api.eu-west-1.amazonaws.com/graphql \\
      --schema schema.graphql --iam --subscribe-api-key da2-xxxx
  streambridge events dynamodb --new-image '{"id": "doctor-1", "status": "NEW"}' \\
      | streambridge doctor app:handler --event - --url URL --schema schema.graphql --api-key da2-xxxx
  streambridge doctor app:handler --url http://127.0.0.1:20002/graphql --schema schema.graphql \\
      --iam --region us-east-1 --subscribe-api-key da2-local --json

The probe's messages reach every real subscriber of the API whose filters match them: run it against a
staging API, or probe a record whose key no client subscribes to (the built-in sample uses a fresh id).""",
        formatter_class=_Formatter,
    )
    doctor.set_defaults(command=doctor.prog, run=_run_doctor)
    doctor.add_argument("handler", metavar="HANDLER", help="the decorated handler, as module:attribute")
    doctor.add_argument(
        "--url", required=True, help="the AppSync endpoint: GraphQL (.../graphql) or Event API (.../event)"
    )
    doctor.add_argument(
        "--realtime-url",
        metavar="WSS_URL",
        help="the real-time endpoint (default: derived from --url as AppSync documents it)",
    )
    doctor.add_argument(
        "--schema",
        metavar="FILE",
        help="the AppSync schema (SDL), to know which subscriptions to open (not for an Event API)",
    )
    _add_auth(doctor, required=True)
    doctor.add_argument(
        "--subscribe-api-key",
        metavar="KEY",
        help="subscribe with this API key (default: the publishing auth)",
    )
    doctor.add_argument(
        "--event", metavar="FILE", help="probe with the first record of this event (- for stdin)"
    )
    doctor.add_argument(
        "--count",
        type=_batch_count,
        metavar="N",
        help="probe copies per shape, at least 2 (default: 3; 5 for an Event API, one full publish)",
    )
    doctor.add_argument(
        "--wait", type=_seconds, default=5.0, metavar="SECONDS", help="how long to wait for messages"
    )
    doctor.add_argument("--json", action="store_true", help="print the full report as one JSON document")


def _batch_count(text: str) -> int:
    value = _int(text)
    if value < 2:  # a batch of one is sent as the user's own document, without an alias
        raise argparse.ArgumentTypeError(f"must be at least 2, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _run_doctor(args: argparse.Namespace) -> int:
    from streambridge._bridge import _is_event_api

    event_api = _is_event_api(args.url)
    if args.count is None:
        args.count = 5 if event_api else 3
    if event_api:  # an Event API: channels, no schema
        from streambridge._tools.doctor_events import run as run_events

        return run_events(args)
    from streambridge._tools.doctor import run  # gql and graphql-core load for this verb only

    return run(args)


# --------------------------------------------------------------------------------------------------

_VERBS: tuple[Callable[[_Subparsers[argparse.ArgumentParser]], None], ...] = (
    _add_demo,
    _add_events,
    _add_invoke,
    _add_check,
    _add_doctor,
)
"""Every verb's ``_add_<verb>``, in the order ``--help`` lists them. A new verb adds itself here."""
