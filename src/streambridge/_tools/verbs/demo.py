"""``streambridge demo``: the orders job end to end on a local AppSync or Event API."""

from __future__ import annotations

import argparse
import logging

from streambridge._tools.common import (
    CommandError,
    _Formatter,
    _library_logs,
    _out,
    _Subparsers,
)


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
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
