"""The ``streambridge`` command: one dispatcher over the verbs in ``streambridge._tools.verbs``.

Each verb is its own module (``verbs/demo.py``, ``events.py``, ``invoke.py``, ``check.py``, ``doctor.py``,
``local.py``, ``subscribe.py``) with an ``add(verbs)`` that registers its subparser and sets ``run`` to the
function doing the work; ``_VERBS`` lists them. What they share (``CommandError``, the help formatter, option
parsers, ``load_handlers``...) is in ``streambridge._tools.common``. Imports beyond the standard library
happen inside the verbs, so ``streambridge --help`` stays instant (graphql-core only loads for ``check``).

Exit status: 0 success, 1 the command ran and found a problem (a record failed, a document drifted),
2 the command could not run (bad arguments, module not found, unreadable file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from streambridge._tools.common import PROG, CommandError, _Formatter, _out, _Subparsers, load_handlers
from streambridge._tools.verbs import check, demo, doctor, events, invoke, local, subscribe

__all__ = ["PROG", "CommandError", "build_parser", "load_handlers", "main"]

_VERBS: tuple[Callable[[_Subparsers[argparse.ArgumentParser]], None], ...] = (
    demo.add,
    events.add,
    invoke.add,
    check.add,
    doctor.add,
    local.add,
    subscribe.add,
)
"""Every verb's ``add``, in the order ``--help`` lists them. A new verb adds its module here."""


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
    except ModuleNotFoundError as error:
        if error.name not in _TESTING_EXTRA:
            raise
        sys.stderr.write(
            f"{args.command}: error: it needs {error.name}, from the testing extra: "
            "pip install 'streambridge[testing]'\n"
        )
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{args.command}: interrupted\n")
        return 130


_TESTING_EXTRA = {"gql", "graphql", "websockets"}
"""What `check`, `demo`, `doctor` and LocalAppSync need beyond the Lambda runtime's dependencies."""


def build_parser() -> argparse.ArgumentParser:
    """The command's parser, with one subparser per verb."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn AWS stream and event inputs into ordered, batched AppSync mutations: "
        "local tools for streambridge handlers.",
        epilog="""\
examples:
  streambridge events dynamodb --new-image '{"id": "1", "status": "NEW"}' > event.json
  streambridge local --schema schema.graphql --port 20002
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


if __name__ == "__main__":  # python -m streambridge._tools.cli, as the console script runs main()
    sys.exit(main())
