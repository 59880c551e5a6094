"""Command-line interface: ``softmaxkit COMMAND ...`` (also ``python -m softmaxkit``).

This module builds the parser and is the only one that imports the command modules (one per
command: :mod:`.softmax`, :mod:`.demo`, :mod:`.train`, :mod:`.evaluate`, :mod:`.predict`,
:mod:`.calibrate`, :mod:`.score`, :mod:`.export`, :mod:`.report`, :mod:`.multilabel`,
:mod:`.neither`, :mod:`.data`); what several commands share lives in :mod:`._common`, :mod:`._argtypes`,
:mod:`._format` and :mod:`._output`, or in the library.

Every command runs inside one error boundary, :func:`main`, and returns an exit status instead of
raising:

- user errors (bad arguments and values, missing, unreadable or corrupt files, a directory that
  cannot be written, running out of memory) print one line on stderr naming the command and the
  file, and exit with status 2;
- Ctrl-C exits with 130 and SIGTERM with 143, after the command has said what it kept (``train``
  says where the best model so far is);
- anything else is a bug in softmaxkit: one line saying so, status 1; ``softmaxkit --debug COMMAND``
  shows the traceback instead.

Everything printed passes through :mod:`._output`, so text from files cannot carry terminal control
sequences.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import traceback
import warnings

from .. import __version__
from ..exceptions import CLIError, Terminated
from . import calibrate, data, demo, evaluate, export, multilabel, neither, predict, report, score, softmax, train
from ._output import EscapingWriter, describe_error, printable

__all__ = ["main", "build_parser", "CLIError"]

#: The commands in the order ``softmaxkit --help`` lists them.
COMMANDS = (softmax, demo, train, evaluate, predict, calibrate, score, export, report, multilabel, neither, data)

#: Failures a user can cause and fix: bad values and files (ValueError, which the library's file and
#: data errors derive from), the file system (OSError), sizes beyond the machine (MemoryError), and
#: hostile nesting (RecursionError). They print one line; everything else is a bug.
_EXPECTED = (CLIError, ValueError, OSError, MemoryError, RecursionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softmaxkit", description="Softmax classification toolkit.")
    parser.add_argument("--version", action="version", version=f"softmaxkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While a command runs, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in the main thread."""

    def terminate(signum, frame):
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (e.g. main() called from a worker): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _warnings_as_lines(args):
    """While a command runs, a warning (a skipped file, changed data) prints as one escaped line on stderr."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"softmaxkit {args.command}: warning: {printable(str(message), one_line=True)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _error(args, message: str) -> None:
    print(f"softmaxkit {args.command}: error: {printable(message, one_line=True)}", file=sys.stderr)


def main(argv=None) -> int:
    """Run one command; return its exit status (0 success, 2 user error, 1 bug, 130 Ctrl-C, 143 SIGTERM)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (status 2, message already printed) and --help (0)
        return int(exc.code or 0)
    try:
        with _sigterm_as_interrupt(), _warnings_as_lines(args), contextlib.redirect_stdout(EscapingWriter(sys.stdout)):
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"softmaxkit {args.command}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 141
    except _EXPECTED as exc:
        if args.debug:
            traceback.print_exc()
        _error(args, describe_error(exc))
        return 2
    except Exception as exc:
        if args.debug:
            raise
        _error(
            args,
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in softmaxkit: "
            "rerun with `softmaxkit --debug ...` for the traceback and please report it",
        )
        return 1
