"""Command-line interface: ``softmaxkit COMMAND ...`` (also ``python -m softmaxkit``).

Every command returns an exit status instead of raising: user errors (bad arguments, missing or corrupt
files) print one clear line on stderr and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import json
import sys

from ._argtypes import finite_float, positive_float

__all__ = ["main", "CLIError"]


class CLIError(Exception):
    """A user-facing error: printed as one line, no traceback."""


def _cmd_softmax(args) -> int:
    import numpy as np

    from .kernels import softmax

    probs = softmax(np.asarray(args.logits, dtype=np.float64), temperature=args.temperature)
    if args.json:
        print(json.dumps({"logits": args.logits, "temperature": args.temperature, "probabilities": probs.tolist()}))
    else:
        print(" ".join(f"{p:.8f}" for p in probs))
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="softmaxkit", description="Softmax classification toolkit.")
    parser.add_argument("--version", action="version", version=f"softmaxkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("softmax", help="print softmax probabilities of the given logits")
    p.add_argument("logits", nargs="+", type=finite_float, help="logits, e.g. 1.6 3.1 0.5")
    p.add_argument("--temperature", "-t", type=positive_float, default=1.0, help="temperature T > 0 (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_softmax)

    p = sub.add_parser("demo", help="show the kernels and train a model on the embedded digits")
    p.add_argument("--out", default="runs/demo", help="directory for the model and plots (default runs/demo)")
    p.set_defaults(func=_cmd_demo)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    """Sub-command registrars from other modules (network, calibration, data)."""
    from . import cli_calibrate, cli_data, cli_model, cli_multilabel

    return [cli_model.register, cli_calibrate.register, cli_multilabel.register, cli_data.register]


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
