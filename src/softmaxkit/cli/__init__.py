"""Command-line interface: ``softmaxkit COMMAND ...`` (also ``python -m softmaxkit``).

This module builds the parser and is the only one that imports the command modules (one per
command: :mod:`.softmax`, :mod:`.demo`, :mod:`.train`, :mod:`.evaluate`, :mod:`.predict`,
:mod:`.calibrate`, :mod:`.report`, :mod:`.multilabel`, :mod:`.data`); what several commands share
lives in :mod:`._common`, :mod:`._argtypes` and :mod:`._format`, or in the library.

Every command returns an exit status instead of raising: user errors (bad arguments, missing or corrupt
files) print one clear line on stderr and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..exceptions import CLIError
from . import calibrate, data, demo, evaluate, multilabel, predict, report, softmax, train

__all__ = ["main", "build_parser", "CLIError"]

#: The commands in the order ``softmaxkit --help`` lists them.
COMMANDS = (softmax, demo, train, evaluate, predict, calibrate, report, multilabel, data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softmaxkit", description="Softmax classification toolkit.")
    parser.add_argument("--version", action="version", version=f"softmaxkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (status 2, message already printed) and --help (0)
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"softmaxkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"softmaxkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 141
