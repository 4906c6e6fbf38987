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
    _json_option,
    _non_negative_int,
    _out,
    _positive_int,
    _Subparsers,
)


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
