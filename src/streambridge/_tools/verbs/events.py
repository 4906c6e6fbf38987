"""``streambridge events SOURCE``: print a Lambda event for any source, built from plain values."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from streambridge._tools.common import (
    CommandError,
    _Formatter,
    _json_kind,
    _json_option,
    _non_negative_int,
    _out,
    _positive_int,
    _read_text,
    _Subparsers,
)

SAMPLE_ITEM: dict[str, Any] = {"id": "o-1", "status": "NEW", "amount": 10}
"""The item of ``events dynamodb`` without an image (the orders example's shape)."""
SAMPLE_READING: dict[str, Any] = {
    "deviceId": "dev-1",
    "metric": "temperature",
    "value": 21.5,
    "unit": "C",
    "recordedAt": "2026-01-01T00:00:00Z",
}
"""The data of ``events kinesis`` without --data (the telemetry example's shape)."""
SAMPLE_MESSAGE: dict[str, Any] = {"orderId": "o-1", "status": "NEW"}
"""The body of ``events sqs`` without --body."""
SAMPLE_PAYLOAD: dict[str, Any] = {"sku": "sku-1", "warehouse": "w-1", "quantity": 5, "version": 1}
"""The payload of ``events aurora`` without --payload (the Aurora example's shape)."""


_PIPE_SOURCES = ("dynamodb", "kinesis", "kinesis-dynamodb", "sqs")
"""The sources whose events ``--pipe`` turns into an EventBridge pipe's batch."""


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
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
  streambridge events kinesis --data '{"temp": 21.5}' --count 3 --pipe
  streambridge events kinesis-dynamodb --items changes.jsonl --arrival 2,0,1,0
  streambridge events aurora --payload '{"id": "o-1", "status": "PAID"}'
  streambridge events cloudwatch-alarm --name HighCpu --state ALARM --via sns
  streambridge events eventbridge --detail '{"orderId": "o-1"}' --source com.example.orders \\
      --detail-type OrderUpdated
  streambridge events http --body '[{"id": "o-1", "status": "PAID"}]' --idempotency-key 5f0c9a2e

  streambridge events dynamodb --new-image '{"id": "1"}' | streambridge invoke app:handler --event -""",
        formatter_class=_Formatter,
    )
    events.set_defaults(command=events.prog)
    sources = events.add_subparsers(title="sources", dest="source", required=True, metavar="SOURCE")
    for add in (
        _events_dynamodb,
        _events_kinesis,
        _events_kinesis_dynamodb,
        _events_sqs,
        _events_aurora,
        _events_alarm,
        _events_eventbridge,
        _events_http,
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
    if name in _PIPE_SOURCES:
        sub.add_argument(
            "--pipe",
            action="store_true",
            help="the batch as an EventBridge pipe delivers it to a Lambda target: a JSON array of the "
            "records, without the Records wrapper (Kinesis records flat)",
        )
    return sub


def _events_dynamodb(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    dynamodb = _source_parser(
        sources,
        prog,
        "dynamodb",
        "a DynamoDB Streams batch: one item change (a sample order without options), repeated --count "
        "times with increasing sequence numbers, over --keys N items; or the changes of --items FILE",
        """streambridge events dynamodb --new-image '{"id": "o-1", "status": "NEW"}' --count 3 --keys 2""",
    )
    _add_change_options(dynamodb)
    dynamodb.add_argument("--table", default="Orders", help="table name, in the stream ARN")
    dynamodb.add_argument(
        "--stream-view-type",
        choices=("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"),
        default="NEW_AND_OLD_IMAGES",
        help="which images the stream carries",
    )
    _add_count_and_start(dynamodb)
    _add_region(dynamodb)


def _add_change_options(parser: argparse.ArgumentParser) -> None:
    """The options that describe item changes: images, event name, keys, --items, --ttl."""
    parser.add_argument(
        "--new-image",
        metavar="JSON",
        help=f"the item after the change (a JSON object; without any image: {json.dumps(SAMPLE_ITEM)})",
    )
    parser.add_argument("--old-image", metavar="JSON", help="the item before the change (a JSON object)")
    parser.add_argument(
        "--event-name",
        choices=("INSERT", "MODIFY", "REMOVE"),
        help="default: INSERT with only a new image, MODIFY with both, REMOVE with only an old image",
    )
    parser.add_argument(
        "--keys",
        metavar="N|NAMES",
        help="a whole number N: the change for N items, the first key attribute's value counted up "
        "(o-1, o-2, ...), interleaved; otherwise the key attribute names, as --key-names",
    )
    parser.add_argument(
        "--key-names", metavar="NAMES", help="the table's key attribute names, comma-separated (default: id)"
    )
    parser.add_argument(
        "--items",
        metavar="FILE",
        help="JSON Lines, one item state per line, in stream order (- for stdin): a key's first line is an "
        "INSERT, its next lines MODIFY from the line before (REMOVE with --event-name REMOVE)",
    )
    parser.add_argument("--ttl", action="store_true", help="a REMOVE done by DynamoDB's Time to Live")


def _events_kinesis_dynamodb(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    changes = _source_parser(
        sources,
        prog,
        "kinesis-dynamodb",
        "a Kinesis batch of a table's changes (Kinesis Data Streams for DynamoDB): the changes described as "
        "for `events dynamodb`, made 1 ms apart, delivered in --arrival order (repeats: duplicates)",
        "streambridge events kinesis-dynamodb --items changes.jsonl --arrival 2,0,1,0",
        aliases=("kinesis_dynamodb",),
    )
    _add_change_options(changes)
    changes.add_argument("--table", default="Orders", help="table name (tableName)")
    changes.add_argument(
        "--precision",
        choices=("MICROSECOND", "MILLISECOND"),
        default="MICROSECOND",
        help="the table's ApproximateCreationDateTimePrecision",
    )
    changes.add_argument(
        "--arrival",
        metavar="POSITIONS",
        help="the order Kinesis delivers the changes in, as positions from 0, comma-separated: out of "
        "order, or a position twice for a duplicate (default: each change once, as made)",
    )
    changes.add_argument(
        "--partition-key", help="the Kinesis partition key of every record (default: DynamoDB's, opaque)"
    )
    changes.add_argument("--stream", default="orders-changes", help="stream name, in the ARN")
    changes.add_argument("--shard-id", default="shardId-000000000000", help="the shard the records come from")
    _add_count_and_start(changes)
    _add_region(changes)


def _events_kinesis(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    kinesis = _source_parser(
        sources,
        prog,
        "kinesis",
        "a Kinesis Data Streams batch (one shard): one record (a sample reading without options), "
        "repeated --count times, over --keys N partition keys; or one record per line of --items FILE",
        """streambridge events kinesis --data '{"temp": 21.5}' --partition-key dev-1 --count 10""",
    )
    kinesis.add_argument(
        "--data",
        metavar="JSON",
        help=f"the record's data (JSON, or text with --raw; default: {json.dumps(SAMPLE_READING)})",
    )
    kinesis.add_argument("--raw", action="store_true", help="send --data as text, not as JSON")
    kinesis.add_argument("--partition-key", default="partitionKey-1", help="the record's partition key")
    _add_keys_and_items(kinesis, "partition keys", "data", "--partition-key")
    kinesis.add_argument("--stream", default="telemetry", help="stream name, in the ARN")
    kinesis.add_argument("--shard-id", default="shardId-000000000000", help="the shard the records come from")
    _add_count_and_start(kinesis)
    _add_region(kinesis)


def _events_sqs(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    sqs = _source_parser(
        sources,
        prog,
        "sqs",
        "an SQS batch (standard or FIFO queue): one message (a sample order without options), repeated "
        "--count times, over --keys N message groups (FIFO); or one message per line of --items FILE",
        """streambridge events sqs --body '{"orderId": "o-1"}' --fifo --group-id o-1 --count 2""",
    )
    sqs.add_argument(
        "--body",
        metavar="JSON",
        help=f"the message body (JSON, or text with --raw; default: {json.dumps(SAMPLE_MESSAGE)})",
    )
    sqs.add_argument("--raw", action="store_true", help="send --body as text, not as JSON")
    sqs.add_argument("--fifo", action="store_true", help="a FIFO queue (the queue name gets .fifo)")
    sqs.add_argument("--group-id", help="MessageGroupId (FIFO default: 'default')")
    sqs.add_argument("--deduplication-id", help="MessageDeduplicationId (FIFO default: SHA-256 of the body)")
    sqs.add_argument("--queue", default="orders", help="queue name, in the ARN")
    sqs.add_argument("--count", type=_positive_int, default=1, metavar="N", help="how many messages")
    _add_keys_and_items(sqs, "message groups (with --fifo)", "body", "--group-id")
    _add_region(sqs)


def _events_aurora(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    aurora = _source_parser(
        sources,
        prog,
        "aurora",
        "an Aurora/RDS invocation: the JSON payload lambda_sync, lambda_async or aws_lambda.invoke sends",
        """streambridge events aurora --payload '{"id": "o-1", "status": "PAID"}'""",
    )
    aurora.add_argument(
        "--payload",
        metavar="JSON",
        help=f"the payload the SQL builds (default: {json.dumps(SAMPLE_PAYLOAD)})",
    )


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


def _add_keys_and_items(parser: argparse.ArgumentParser, keys: str, what: str, key_option: str) -> None:
    parser.add_argument(
        "--keys",
        type=_positive_int,
        default=1,
        metavar="N",
        help=f"spread the records over N {keys}, {key_option}'s value counted up (x-1, x-2, ...), "
        "interleaved",
    )
    parser.add_argument(
        "--items",
        metavar="FILE",
        help=f"JSON Lines, one record's {what} per line (- for stdin), instead of --{what} and --count",
    )
    parser.add_argument(
        "--key-field",
        metavar="NAME",
        help=f"with --items: take each record's {key_option} from this field of its line",
    )


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


def _run_events(args: argparse.Namespace) -> int:
    from streambridge.testing import events  # only this verb needs the builders

    try:
        event = _BUILDERS[args.builder](args, events)
    except (ValueError, TypeError) as error:
        raise CommandError(_in_command_words(str(error))) from None
    if getattr(args, "pipe", False):
        event = events.pipe(event)
    separators = (",", ":") if args.compact else None
    _out(json.dumps(event, indent=None if args.compact else 2, separators=separators, ensure_ascii=False))
    return 0


def _dynamodb_event(args: argparse.Namespace, events: Any) -> Any:
    changes, key_names = _change_options(args)
    return events.dynamodb(
        changes,
        table=args.table,
        region=args.region,
        stream_view_type=args.stream_view_type,
        start_sequence=args.start_sequence,
        key_names=key_names,
    )


def _kinesis_dynamodb_event(args: argparse.Namespace, events: Any) -> Any:
    changes, key_names = _change_options(args)
    arrival = None
    if args.arrival is not None:
        try:
            arrival = [int(position) for position in args.arrival.split(",")]
        except ValueError:
            raise CommandError(
                f"argument --arrival: whole numbers from 0, comma-separated, got {args.arrival!r}"
            ) from None
    return events.kinesis_dynamodb(
        changes,
        table=args.table,
        key_names=key_names,
        precision=args.precision,
        arrival=arrival,
        partition_key=args.partition_key,
        stream=args.stream,
        shard_id=args.shard_id,
        region=args.region,
        start_sequence=args.start_sequence,
    )


def _change_options(args: argparse.Namespace) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The changes the options describe (images, --keys, --count, or --items), and the key names."""
    key_names, key_count = _dynamodb_keys(args)
    if args.items is not None:
        if args.new_image is not None or args.old_image is not None or args.count != 1 or key_count != 1:
            raise CommandError(
                "--items gives every change: leave out --new-image, --old-image, --count, --keys N"
            )
        changes = _dynamodb_changes(args, key_names)
    else:
        new = (
            None if args.new_image is None else _json_option("--new-image", args.new_image, object_only=True)
        )
        old = (
            None if args.old_image is None else _json_option("--old-image", args.old_image, object_only=True)
        )
        if new is None and old is None:  # a sample, as `sam local generate-event` prints one
            new = dict(SAMPLE_ITEM) if key_names == ("id",) else {name: f"{name}-1" for name in key_names}
        image: Any = new if new is not None else old
        missing = [key for key in key_names if key not in image]
        if missing:
            raise CommandError(
                f"key attribute(s) {', '.join(missing)} not in the image; "
                "name the table's keys with --key-names"
            )
        first = key_names[0]
        changes = [
            {
                "new_image": _with_key(new, first, index, key_count),
                "old_image": _with_key(old, first, index, key_count),
                "event_name": args.event_name,
                "ttl": args.ttl,
            }
            for _ in range(args.count)
            for index in range(key_count)
        ]
    return changes, key_names


def _dynamodb_keys(args: argparse.Namespace) -> tuple[tuple[str, ...], int]:
    """``(key attribute names, how many items)`` from ``--keys N|NAMES`` and ``--key-names``."""
    names_text: str | None = args.key_names
    count = 1
    if args.keys is not None:
        if args.keys.strip().isdigit():
            count = _positive_int(args.keys.strip()) if int(args.keys) >= 1 else 0
            if count < 1:
                raise CommandError("argument --keys: must be at least 1")
        elif names_text is not None:
            raise CommandError("argument --keys: give the key attribute names once, with --key-names")
        else:
            names_text = args.keys
    names = tuple(name.strip() for name in (names_text or "id").split(",") if name.strip())
    if not names:
        raise CommandError("argument --key-names: name at least one key attribute")
    return names, count


def _with_key(image: dict[str, Any] | None, name: str, index: int, count: int) -> dict[str, Any] | None:
    """``image`` with its ``name`` attribute made the ``index``-th of ``count`` distinct values."""
    if image is None or count == 1 or name not in image:
        return image
    return {**image, name: _nth_key(image[name], index, count, f"the key attribute {name!r}")}


def _nth_key(value: Any, index: int, count: int, what: str) -> Any:
    """The ``index``-th of ``count`` keys made from ``value``.

    ``o-1`` gives ``o-1, o-2, ...``; ``orders`` gives ``orders-1, orders-2, ...``; ``7`` gives ``7, 8, ...``.
    """
    if count == 1:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value + index
    if isinstance(value, str):
        match = re.search(r"\d+$", value)
        if match is None:
            return f"{value}-{index + 1}"
        digits = match.group()
        return value[: match.start()] + str(int(digits) + index).zfill(len(digits))
    raise CommandError(f"--keys: cannot count up {what} ({_json_kind(value)}); give --items instead")


def _lines(path: str) -> list[tuple[int, str]]:
    """The non-blank lines of a JSON Lines file (``-``: stdin), with their line numbers."""
    text = _read_text(path, "--items")
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise CommandError(f"--items: {path} has no line")
    return lines


def _item_lines(path: str, *, raw: bool = False, objects: bool = False) -> list[tuple[int, Any]]:
    """Each line's JSON value (or its text, with ``raw``), with its line number."""
    values = []
    for number, line in _lines(path):
        if raw:
            values.append((number, line))
            continue
        value = _json_option(
            f"--items line {number}", line, object_only=objects, hint=_RAW_HINT if not objects else ""
        )
        values.append((number, value))
    return values


def _dynamodb_changes(args: argparse.Namespace, key_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """One change per line: a key's first state an INSERT, its next ones MODIFY from the state before."""
    remove = args.event_name == "REMOVE"
    latest: dict[str, Any] = {}
    changes: list[dict[str, Any]] = []
    for number, item in _item_lines(args.items, objects=True):
        missing = [name for name in key_names if name not in item]
        if missing:
            raise CommandError(
                f"--items line {number}: key attribute(s) {', '.join(missing)} not in the item; "
                "name the table's keys with --key-names"
            )
        key = json.dumps([item[name] for name in key_names])
        if remove:
            changes.append({"old_image": item, "event_name": "REMOVE", "ttl": args.ttl})
        else:
            changes.append({"new_image": item, "old_image": latest.get(key), "event_name": args.event_name})
        latest[key] = item
    return changes


def _in_command_words(message: str) -> str:
    """The builders' messages speak Python (``changes[0].new_image``); say it with the command's options."""
    message = re.sub(r"changes\[\d+\]\.(new|old)_image\.?", r"--\1-image: ", message)
    message = re.sub(r"(changes|records|bodies)\[\d+\]", "the record", message)
    for python, option in _PYTHON_WORDS:
        message = message.replace(python, option)
    return message.replace(": : ", ": ")


_PYTHON_WORDS = (
    ("arrival lists positions in changes, 0 to", "--arrival lists positions of the changes, from 0 to"),
    ("ttl=True", "--ttl"),
    ("fifo=True", "--fifo"),
    ("new_image", "--new-image"),
    ("old_image", "--old-image"),
    ("event_name", "--event-name"),
)


_RAW_HINT = "; pass --raw to send the text as it is"


def _kinesis_event(args: argparse.Namespace, events: Any) -> Any:
    if args.items is not None:
        _refuse_with_items(args, "--data", args.data)
        records = [
            events.KinesisInput(data, _line_key(args, number, data, args.partition_key, "--partition-key"))
            for number, data in _item_lines(args.items, raw=args.raw)
        ]
    else:
        _refuse_key_field(args)
        if args.data is None:  # a sample, as `sam local generate-event` prints one
            data: Any = json.dumps(SAMPLE_READING) if args.raw else dict(SAMPLE_READING)
        else:
            data = args.data if args.raw else _json_option("--data", args.data, hint=_RAW_HINT)
        records = [
            events.KinesisInput(data, _nth_key(args.partition_key, index, args.keys, "--partition-key"))
            for _ in range(args.count)
            for index in range(args.keys)
        ]
    return events.kinesis(
        records,
        stream=args.stream,
        shard_id=args.shard_id,
        region=args.region,
        start_sequence=args.start_sequence,
    )


def _refuse_with_items(args: argparse.Namespace, option: str, value: Any) -> None:
    if value is not None or args.count != 1 or args.keys != 1:
        raise CommandError(f"--items gives every record: leave out {option}, --count and --keys")


def _refuse_key_field(args: argparse.Namespace) -> None:
    if args.key_field is not None:
        raise CommandError("--key-field goes with --items")


def _line_key(args: argparse.Namespace, number: int, value: Any, default: Any, option: str) -> Any:
    """The record's key: the ``--key-field`` of its line, else ``default``."""
    if args.key_field is None:
        return default
    if not isinstance(value, dict) or args.key_field not in value:
        raise CommandError(f"--items line {number}: no field {args.key_field!r} for {option} (--key-field)")
    key = value[args.key_field]
    return key if isinstance(key, str) else json.dumps(key)


def _sqs_event(args: argparse.Namespace, events: Any) -> Any:
    if args.items is not None:
        _refuse_with_items(args, "--body", args.body)
        if args.key_field is not None and not args.fifo:
            raise CommandError(
                "--key-field sets each message's group: add --fifo (a standard queue has none)"
            )
        lines = _item_lines(args.items, raw=args.raw)
        bodies = [
            (body, _line_key(args, number, body, args.group_id, "--group-id")) for number, body in lines
        ]
    else:
        _refuse_key_field(args)
        if args.keys != 1 and not args.fifo:
            raise CommandError(
                "--keys spreads the messages over message groups: add --fifo (a standard queue has none; "
                "give --items with the key in each body)"
            )
        if args.body is None:  # a sample, as `sam local generate-event` prints one
            body: Any = json.dumps(SAMPLE_MESSAGE) if args.raw else dict(SAMPLE_MESSAGE)
        else:
            body = args.body if args.raw else _json_option("--body", args.body, hint=_RAW_HINT)
        group = args.group_id if args.keys == 1 else args.group_id or "default"
        bodies = [
            (body, _nth_key(group, index, args.keys, "--group-id"))
            for _ in range(args.count)
            for index in range(args.keys)
        ]
    messages = [
        events.SQSInput(
            body, group_id=group, deduplication_id=_deduplication_id(args, body, index, len(bodies))
        )
        for index, (body, group) in enumerate(bodies)
    ]
    return events.sqs(messages, queue=args.queue, fifo=args.fifo, region=args.region)


def _deduplication_id(args: argparse.Namespace, body: Any, index: int, total: int) -> str | None:
    """The message's deduplication id: the messages of a FIFO batch get distinct ones.

    A FIFO queue drops a message whose deduplication id it saw in the last 5 minutes, so repeats are
    ``<id>-<n>``; a single message keeps the given id (or the builder's default, the body's SHA-256).
    """
    given: str | None = args.deduplication_id
    if not args.fifo or total == 1:
        return given
    import hashlib

    base = given or hashlib.sha256(json.dumps(body).encode()).hexdigest()[:40]
    return f"{base}-{index}"


def _aurora_event(args: argparse.Namespace, events: Any) -> Any:
    payload = SAMPLE_PAYLOAD if args.payload is None else _json_option("--payload", args.payload)
    return events.aurora(payload)


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


SAMPLE_REQUEST: dict[str, Any] = {"id": "o-1", "status": "NEW"}
"""The body of ``events http`` without --body (the webhook example's shape)."""


def _events_http(sources: _Subparsers[argparse.ArgumentParser], prog: str) -> None:
    http = _source_parser(
        sources,
        prog,
        "http",
        "an HTTP request as API Gateway (an HTTP API, payload 2.0 or 1.0, or a REST API) or a Lambda "
        "function URL delivers it: a JSON body of one item (a sample order without options) or an array",
        """streambridge events http --body '[{"id": "o-1", "status": "PAID"}]' --path /orders """
        "--idempotency-key 5f0c9a2e",
    )
    http.add_argument(
        "--body",
        metavar="JSON",
        help=f"the request body (JSON, or text with --raw; default: {json.dumps(SAMPLE_REQUEST)})",
    )
    http.add_argument("--raw", action="store_true", help="send --body as text, not as JSON")
    http.add_argument(
        "--api",
        choices=("http", "rest", "function-url"),
        default="http",
        help="an HTTP API, a REST API (payload 1.0) or a function URL (payload 2.0)",
    )
    http.add_argument(
        "--payload-version", choices=("1.0", "2.0"), help="an HTTP API's payload format (default: 2.0)"
    )
    http.add_argument("--method", default="POST", help="the HTTP method")
    http.add_argument("--path", default="/", help="the request path")
    http.add_argument("--header", action="append", metavar="NAME:VALUE", help="a request header (repeatable)")
    http.add_argument("--query", action="append", metavar="NAME=VALUE", help="a query parameter (repeatable)")
    http.add_argument("--idempotency-key", metavar="KEY", help="the Idempotency-Key header")
    http.add_argument("--content-type", default="application/json", help="the Content-Type header")
    http.add_argument("--base64", action="store_true", help="base64-encode the body (a binary body's form)")
    _add_region(http)


def _http_event(args: argparse.Namespace, events: Any) -> Any:
    if args.body is None:  # a sample, as `sam local generate-event` prints one
        body: Any = json.dumps(SAMPLE_REQUEST) if args.raw else dict(SAMPLE_REQUEST)
    else:
        body = args.body if args.raw else _json_option("--body", args.body, hint=_RAW_HINT)
    headers: dict[str, str] = {}
    for header in args.header or ():
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            raise CommandError(f"argument --header: expected NAME:VALUE, got {header!r}")
        headers[name.strip()] = value.strip()
    query: dict[str, list[str]] = {}
    for parameter in args.query or ():
        name, equals, value = parameter.partition("=")
        if not equals or not name:
            raise CommandError(f"argument --query: expected NAME=VALUE, got {parameter!r}")
        query.setdefault(name, []).append(value)
    return events.http(
        body,
        api=args.api,
        payload_version=args.payload_version,
        method=args.method,
        path=args.path,
        headers=headers,
        query=query,
        idempotency_key=args.idempotency_key,
        content_type=args.content_type,
        base64=args.base64,
        region=args.region,
    )


_BUILDERS: dict[str, Callable[[argparse.Namespace, Any], Any]] = {
    "dynamodb": _dynamodb_event,
    "kinesis": _kinesis_event,
    "kinesis-dynamodb": _kinesis_dynamodb_event,
    "sqs": _sqs_event,
    "aurora": _aurora_event,
    "cloudwatch-alarm": _alarm_event,
    "eventbridge": _eventbridge_event,
    "http": _http_event,
}
