"""``streambridge check``: validate the handlers' mutation documents against the AppSync schema, offline."""

from __future__ import annotations

import argparse
import logging

from streambridge._tools.common import (
    CommandError,
    _Formatter,
    _importable_cwd,
    _library_logs,
    _out,
    _read_text,
    _Subparsers,
    load_handlers,
)


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
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
