"""``streambridge local``: LocalAppSync (and LocalEventApi) as a server, in the foreground.

It prints the endpoints, the API key, the IAM test credentials and the environment variables to export,
so that ``streambridge invoke``, a browser app or an Amplify client can talk to it; then one line per
mutation or event received, until Ctrl-C (SIGINT) or SIGTERM stops it (exit status 0).

With ``--tls`` both APIs serve https/wss with a certificate from one authority made at start; its PEM is
written to ``--ca-file`` and the banner prints how to trust it. Amplify JS needs it: it opens ``wss://``
for real time whatever the endpoint's scheme.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from streambridge._bridge import URL_ENV
from streambridge._tools.common import (
    CommandError,
    _Formatter,
    _import,
    _importable_cwd,
    _module_name,
    _non_negative_int,
    _out,
    _Subparsers,
)

if TYPE_CHECKING:
    from streambridge.testing import LocalAppSync, LocalEventApi
    from streambridge.testing._local._tls import LocalTls

_POLL_SECONDS = 0.1  # how often the request log looks for new mutations and events


def add(verbs: _Subparsers[argparse.ArgumentParser]) -> None:
    local = verbs.add_parser(
        "local",
        help="serve a local AppSync (GraphQL and/or an Event API) in the foreground, for clients to use",
        description="Run a LocalAppSync serving the schema (and, with --event-api or --namespace, a "
        "LocalEventApi) in the foreground: print the GraphQL and real-time URLs, the API key, the IAM test "
        "credentials and the environment variables to export, then one line per mutation or event "
        "received. `streambridge invoke`, a browser app or an Amplify client can use it. Ctrl-C (or "
        "SIGTERM) stops it, exit status 0. It listens on 127.0.0.1 unless --host says otherwise.",
        epilog="""\
examples:
  streambridge local --schema schema.graphql
  streambridge local --schema schema.graphql --resolvers resolvers --port 20002 --api-key da2-dev
  streambridge local --event-api --namespace rooms --event-port 20003
  streambridge local --schema schema.graphql --namespace rooms          # both APIs
  streambridge local --schema schema.graphql --tls                      # https/wss, for Amplify JS

  # in another terminal, with the printed exports:
  streambridge events dynamodb | streambridge invoke app:handler --event - --iam

--resolvers names a module (or module:attribute) holding a dict {"Mutation.field": fn}, fn(field_name,
arguments) -> result, raising streambridge.testing.FieldError to answer an error (default attribute:
RESOLVERS). --on-publish names a function fn(channel, value) that raises
streambridge.testing.EventRejectedError to refuse an event.""",
        formatter_class=_Formatter,
    )
    local.set_defaults(command=local.prog, run=run)
    local.add_argument("--schema", metavar="FILE", help="the AppSync schema (SDL) to serve over GraphQL")
    local.add_argument(
        "--resolvers",
        metavar="MODULE[:ATTR]",
        help="a dict of resolvers {'Mutation.field': fn} (default attribute: RESOLVERS); without it, "
        "mutations resolve like a NONE data source (the result is the input)",
    )
    local.add_argument("--port", type=_port, default=20002, help="the GraphQL API's port (0: any free port)")
    local.add_argument("--host", default="127.0.0.1", help="the interface to listen on")
    local.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key to accept (default: da2-localappsync-test-key)",
    )
    local.add_argument("--region", default="us-east-1", help="the region IAM signatures must be scoped to")
    local.add_argument(
        "--tls",
        action="store_true",
        help="serve https/wss with a certificate from an authority made at start (Amplify JS opens wss:// "
        "for real time: it needs this); the authority's PEM goes to --ca-file",
    )
    local.add_argument(
        "--ca-file",
        metavar="FILE",
        help="where --tls writes the authority's PEM, for NODE_EXTRA_CA_CERTS / SSL_CERT_FILE "
        "(default: streambridge-local-ca.pem in the temporary folder; rewritten at each start)",
    )
    events = local.add_argument_group("AppSync Events")
    events.add_argument(
        "--event-api", action="store_true", help="also serve an AppSync Events API (POST /event)"
    )
    events.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NAME",
        help="a channel namespace of the Event API, repeatable (implies --event-api; default: default)",
    )
    events.add_argument(
        "--event-port", type=_port, default=20003, help="the Event API's port (0: any free port)"
    )
    events.add_argument(
        "--on-publish",
        metavar="MODULE:FUNCTION",
        help="fn(channel, value) called for each event; raise EventRejectedError to refuse it",
    )


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def run(args: argparse.Namespace) -> int:
    event_api = args.event_api or bool(args.namespace) or args.on_publish is not None
    if args.schema is None and not event_api:
        raise CommandError("give --schema FILE (a GraphQL API), --event-api (an Event API), or both")
    if args.resolvers is not None and args.schema is None:
        raise CommandError("--resolvers goes with --schema")
    if args.schema is not None and event_api and args.port == args.event_port and args.port != 0:
        raise CommandError(f"--port and --event-port are both {args.port}: give them different ports")
    if args.ca_file is not None and not args.tls:
        raise CommandError("--ca-file goes with --tls")

    from streambridge.testing import DEFAULT_API_KEY

    api_key = args.api_key if args.api_key is not None else DEFAULT_API_KEY
    with _importable_cwd():
        resolvers = _load_resolvers(args.resolvers) if args.resolvers else None
        on_publish = _load_function(args.on_publish, "--on-publish") if args.on_publish else None
    tls = _tls(args) if args.tls else None
    appsync = _appsync(args, api_key, resolvers, tls) if args.schema is not None else None
    events = _event_api(args, api_key, on_publish, tls) if event_api else None

    stop = threading.Event()
    with ExitStack() as running, _stop_on_signals(stop):
        for server, what, port in ((appsync, "--port", args.port), (events, "--event-port", args.event_port)):
            if server is not None:
                _start(server, what, port)
                running.callback(server.stop)
        _banner(args, appsync, events)
        _serve(appsync, events, stop)
    _out("stopped")
    return 0


def _tls(args: argparse.Namespace) -> LocalTls:
    """One authority for both APIs (one file to trust), its PEM written where the banner says."""
    import tempfile
    from pathlib import Path

    from streambridge.testing._local._tls import LocalTls

    tls = LocalTls(args.host)
    path = Path(args.ca_file) if args.ca_file else Path(tempfile.gettempdir()) / "streambridge-local-ca.pem"
    try:
        args.ca_file = str(tls.write_ca_pem(path).resolve())
    except OSError as error:
        raise CommandError(f"--ca-file: cannot write {path}: {error.strerror or error}") from None
    return tls


def _appsync(
    args: argparse.Namespace, api_key: str, resolvers: Mapping[str, Any] | None, tls: LocalTls | None
) -> LocalAppSync:
    from pathlib import Path

    from streambridge.testing import LocalAppSync

    try:
        return LocalAppSync(
            Path(args.schema),
            resolvers=resolvers,
            api_key=api_key,
            region=args.region,
            host=args.host,
            port=args.port,
            tls=tls or False,
        )
    except FileNotFoundError as error:
        raise CommandError(f"--schema: {error}") from None
    except (ValueError, TypeError) as error:  # an invalid schema, an unknown resolver field
        raise CommandError(f"{args.schema}: {error}") from None
    except Exception as error:  # noqa: BLE001 - graphql-core's own errors: say so and stop
        raise CommandError(f"{args.schema}: {type(error).__name__}: {error}") from None


def _event_api(
    args: argparse.Namespace,
    api_key: str,
    on_publish: Callable[[str, Any], None] | None,
    tls: LocalTls | None,
) -> LocalEventApi:
    from streambridge.testing import LocalEventApi

    try:
        return LocalEventApi(
            tuple(args.namespace) or ("default",),
            api_key=api_key,
            region=args.region,
            on_publish=on_publish,
            host=args.host,
            port=args.event_port,
            tls=tls or False,
        )
    except (ValueError, TypeError) as error:
        raise CommandError(f"--namespace: {error}") from None


def _start(server: LocalAppSync | LocalEventApi, option: str, port: int) -> None:
    try:
        server.start()
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandError(f"cannot listen on port {port} ({reason}): pass another {option}") from None


def _load_resolvers(target: str) -> Mapping[str, Any]:
    module_name, _, attribute = target.partition(":")
    module = _import(_module_name(module_name), "")
    value: Any = getattr(module, attribute or "RESOLVERS", None)
    if value is None:
        raise CommandError(
            f"--resolvers: module {module_name!r} has no {attribute or 'RESOLVERS'!r}; define "
            'RESOLVERS = {"Mutation.field": fn} in it, or name the dict as module:attribute'
        )
    if callable(value) and not isinstance(value, Mapping):
        value = value()
    if not isinstance(value, Mapping) or not all(callable(fn) for fn in value.values()):
        raise CommandError(
            f"--resolvers: {target} must be a dict {{'Mutation.field': fn}} of functions, "
            f"got {type(value).__name__}"
        )
    return value


def _load_function(target: str, option: str) -> Callable[[str, Any], None]:
    module_name, colon, attribute = target.partition(":")
    if not colon or not attribute:
        raise CommandError(f"{option}: {target!r} is not module:function")
    value: Any = _import(_module_name(module_name), "")
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise CommandError(f"{option}: module {module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    if not callable(value):
        raise CommandError(f"{option}: {target} is a {type(value).__name__}, not a function")
    function: Callable[[str, Any], None] = value
    return function


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM set ``stop`` instead of raising, for the block; then restored."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    saved = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)


def _banner(args: argparse.Namespace, appsync: LocalAppSync | None, events: LocalEventApi | None) -> None:
    from streambridge.testing import DEFAULT_CREDENTIALS

    access_key, secret_key, _ = DEFAULT_CREDENTIALS[0]
    served = []
    if appsync is not None:
        served.append(f"LocalAppSync serving {args.schema}")
    if events is not None:
        served.append(f"LocalEventApi serving namespace(s) {', '.join(events.namespaces)}")
    _out(f"streambridge local: {' and '.join(served)}")
    _out()
    if appsync is not None:
        _out(f"  GraphQL            {appsync.url}")
        _out(f"  real-time          {appsync.realtime_url}")
    if events is not None:
        _out(f"  Event API          {events.url}")
        _out(f"  Event real-time    {events.realtime_url}")
    server: LocalAppSync | LocalEventApi = appsync if appsync is not None else events  # type: ignore[assignment]
    _out(f"  API key            {server.api_key}")
    _out(f"  IAM access key id  {access_key}")
    _out(f"  IAM secret key     {secret_key}")
    _out(f"  IAM region         {server.region}")
    if server.tls is not None:
        _out(f"  TLS certificate    for {', '.join(server.tls.names)}")
        _out(f"  CA certificate     {args.ca_file}")
    _out()
    url = server.url
    _out("export these for `streambridge invoke ... --iam` (or give --url and --api-key):")
    _out(f"  export {URL_ENV}={shlex.quote(url)}")
    _out(f"  export AWS_ACCESS_KEY_ID={shlex.quote(access_key)}")
    _out(f"  export AWS_SECRET_ACCESS_KEY={shlex.quote(secret_key)}")
    _out("  unset AWS_SESSION_TOKEN AWS_PROFILE")
    _out(f"  export AWS_REGION={shlex.quote(server.region)}")
    if appsync is not None and events is not None:
        _out(f"  (a handler publishing to channels: --url {events.url})")
    _out()
    if server.tls is not None:
        ca_file = shlex.quote(args.ca_file)
        _out("trust the local authority (it is new at each start: restart the client too):")
        _out(f"  export NODE_EXTRA_CA_CERTS={ca_file}  # Node: Amplify JS")
        _out(f"  export SSL_CERT_FILE={ca_file}  # Python (streambridge invoke, gql), OpenSSL tools")
        _out("  (SSL_CERT_FILE replaces the system's authorities in that shell. A browser imports the file")
        _out("  as a trusted authority; Python code can pass ssl.create_default_context(cafile=FILE).)")
        _out()
    _out("Ctrl-C stops the server.")
    sys.stdout.flush()


def _serve(appsync: LocalAppSync | None, events: LocalEventApi | None, stop: threading.Event) -> None:
    """Print a line per mutation and event received, until ``stop`` is set."""
    seen_mutations = seen_events = 0
    while not stop.wait(_POLL_SECONDS):
        if appsync is not None:
            mutations = appsync.mutations
            for mutation in mutations[seen_mutations:]:
                outcome = "ok" if mutation.ok else f"error: {(mutation.error or {}).get('message', '')}"
                now = time.strftime("%H:%M:%S")
                _out(f"{now}  mutation  {mutation.field} ({mutation.auth_mode}): {outcome}")
            seen_mutations = len(mutations)
        if events is not None:
            published = events.published
            for event in published[seen_events:]:
                _out(f"{time.strftime('%H:%M:%S')}  event     {event.channel}: {_short(event.text)}")
            seen_events = len(published)
        sys.stdout.flush()


def _short(text: str, limit: int = 80) -> str:
    with contextlib.suppress(ValueError):  # one line, whatever the publisher's formatting
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
