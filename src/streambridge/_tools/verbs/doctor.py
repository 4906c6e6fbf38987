"""``streambridge doctor``: check on the live API that subscribers receive what the handler publishes."""

from __future__ import annotations

import argparse

from streambridge._tools.common import (
    _add_auth,
    _Formatter,
    _int,
    _seconds,
    _Subparsers,
)


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
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
