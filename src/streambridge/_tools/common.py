"""What the ``streambridge`` verbs share.

The error they raise, the help formatter, output, option parsers, reading JSON options and files,
importing the user's handlers, the auth options and the Bridge they build.

Only the standard library is imported here (and ``streambridge._bridge`` for a constant), so that
``streambridge --help`` stays instant; the rest loads inside the functions that need it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from streambridge._bridge import URL_ENV

if TYPE_CHECKING:
    from streambridge._bridge import Bridge, Handler

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


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


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


def _seconds(text: str) -> float:
    """A number of seconds more than 0, as an option's type."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
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
    """``app/orders.py`` -> ``app.orders``; a dotted module name stays as it is.

    A path outside the working folder (``../chat/app.py``, ``/srv/chat/app.py``) is imported the way
    Python runs a script: its folder, or the folder above its package (the highest one with an
    ``__init__.py``), is put on ``sys.path`` and the module named from there.
    """
    if not (text.endswith(".py") or "/" in text or os.sep in text):
        return text
    path = Path(text).with_suffix("") if text.endswith(".py") else Path(text)
    full = Path(os.path.normpath(Path.cwd() / path))  # lexical: "..", not symlinks, decide the place
    if full.is_relative_to(Path.cwd()):
        return ".".join(full.relative_to(Path.cwd()).parts)
    root, parts = full.parent, [full.name]
    while (root / "__init__.py").is_file() and root.parent != root:
        parts.insert(0, root.name)
        root = root.parent
    # kept for the rest of the run: the handler may import more of its project when it is called
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return ".".join(parts)


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


def _add_auth(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The publishing auth options of ``invoke`` and ``doctor``: one of them, and --region for --iam."""
    auth = parser.add_mutually_exclusive_group(required=required)
    auth.add_argument("--api-key", metavar="KEY", help="authorize with an AppSync API key")
    auth.add_argument("--token", help="authorize with a Cognito/OIDC/Lambda-authorizer token")
    auth.add_argument("--iam", action="store_true", help="sign with IAM (the default AWS credential chain)")
    parser.add_argument("--region", help="the API's region for --iam, when the URL does not name it")


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
        raise CommandError(_region_in_command_words(str(error), iam=args.iam)) from None


_PYTHON_REGION_FIX = "pass IAMAuth(region=...) or set AWS_REGION"


def _region_in_command_words(message: str, *, iam: bool) -> str:
    """The library says ``IAMAuth(region=...)``; on the command line the fix is ``--region``."""
    option = "--region REGION" if iam else "--iam --region REGION"
    return message.replace(_PYTHON_REGION_FIX, f"pass {option} (or set AWS_REGION)")


def errors_text(errors: Any) -> str:
    """AppSync's ``errors`` list as one line, ``Type: message; ...`` (each type named once)."""
    if not isinstance(errors, list) or not errors:
        return json.dumps(errors)
    texts = []
    for error in errors:
        if isinstance(error, dict):
            kind, message = error.get("errorType"), error.get("message")
            text = str(message or kind or error)
            texts.append(f"{kind}: {text}" if kind and not text.startswith(str(kind)) else text)
        else:
            texts.append(str(error))
    return "; ".join(texts)


def realtime_url(http_url: str) -> str:
    """The real-time (WebSocket) endpoint of a GraphQL API's or an Event API's HTTP endpoint.

    - AppSync's own domain: the ``appsync-realtime-api`` host; GraphQL keeps ``/graphql``, the Event API
      ``/event/realtime`` (https://docs.aws.amazon.com/appsync/latest/devguide/real-time-websocket-client.html,
      https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html).
    - A custom domain: the same host, ``/graphql/realtime`` or ``/event/realtime``
      (https://docs.aws.amazon.com/appsync/latest/devguide/custom-domain-name.html).
    - A local server (LocalAppSync, LocalEventApi, ``streambridge local``): like a custom domain, and
      ``http`` becomes ``ws``.
    """
    parts = urlsplit(http_url)
    scheme = "ws" if parts.scheme == "http" else "wss"
    path = parts.path.rstrip("/")
    if ".appsync-api." in (parts.hostname or ""):
        host = parts.netloc.replace(".appsync-api.", ".appsync-realtime-api.", 1)
        return f"{scheme}://{host}{path if path.endswith('/graphql') else path + '/realtime'}"
    return f"{scheme}://{parts.netloc}{path}/realtime"
