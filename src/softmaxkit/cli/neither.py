"""CLI command ``neither``: a dog/human classifier with and without a third "neither" class, measured."""

from __future__ import annotations

import argparse
import json

from .._validation import Real
from ._argtypes import argtype, closed_probability, layer_sizes, non_negative_int, positive_int
from ._common import CLIError, load_data, output_dir

__all__ = ["register"]

#: The figure's file name inside ``--plots``.
PLOT_NAME = "neither.png"


def _labels(text) -> tuple:
    """Comma-separated class labels, e.g. ``"0,1,2,4,5"`` -> ``(0, 1, 2, 4, 5)``."""
    try:
        labels = tuple(int(k) for k in str(text).split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated labels such as 0,1,2, got {text!r}") from None
    if not labels or min(labels) < 0:
        raise argparse.ArgumentTypeError(f"needs at least one label, each an integer >= 0, got {text!r}")
    return labels


def register(sub) -> None:
    """Add the ``neither`` sub-command to an argparse sub-parser collection."""
    p = sub.add_parser(
        "neither",
        help="a dog/human classifier with and without a 'neither' class, on images of neither",
        description=(
            "A two-class network must call every image dog or human. Play the dog with one digit and the "
            "human with another, and compare three models on the dog/human test images and on images of "
            "neither (other digits, Fashion-MNIST when installed): the two-class network, the same network "
            "rejecting low-confidence answers, and a network with a third 'neither' output trained on some "
            "other digits."
        ),
    )
    p.add_argument(
        "--data",
        default=None,
        help="mnist | digits | fashion-mnist | cifar10 | PATH.npz (default mnist when on disk, else digits)",
    )
    p.add_argument("--root", default=None, help="data directory (default $SOFTMAXKIT_DATA or ~/.cache/softmaxkit)")
    p.add_argument("--dog", type=non_negative_int, default=3, help="the label playing the dog (default 3)")
    p.add_argument("--human", type=non_negative_int, default=7, help="the label playing the human (default 7)")
    p.add_argument(
        "--neither",
        type=_labels,
        default=(0, 1, 2, 4, 5),
        help="labels the 3-class model learns as 'neither', comma-separated (default 0,1,2,4,5); the rest are unseen",
    )
    p.add_argument("--epochs", type=positive_int, default=10, help="most training epochs per model (default 10)")
    p.add_argument(
        "--hidden", type=layer_sizes, default=(256, 128), help="MLP hidden sizes, comma-separated (default 256,128)"
    )
    p.add_argument(
        "--coverage",
        type=argtype(Real(0, 1, closed="right")),
        default=0.99,
        help="share of dog/human validation images the rejecting model answers (default 0.99)",
    )
    p.add_argument(
        "--reject-below",
        type=closed_probability,
        default=None,
        help="a fixed rejection threshold instead of --coverage",
    )
    p.add_argument(
        "--confident",
        type=argtype(Real(0, 1, closed="right")),
        default=0.9,
        help="what counts as a confident answer (default 0.9)",
    )
    p.add_argument(
        "--all-neither",
        action="store_true",
        help="train 'neither' on all its images (default: as many as the dog and human classes have)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--plots", default=None, metavar="DIR", help=f"also save the bar chart as DIR/{PLOT_NAME}")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _check_labels(args) -> None:
    """Overlapping label choices as one-line errors naming the flags, before any data is loaded."""
    if args.dog == args.human:
        raise CLIError(f"--dog and --human must differ, both are {args.dog}")
    for flag, label in (("--dog", args.dog), ("--human", args.human)):
        if label in args.neither:
            raise CLIError(f"--neither {','.join(map(str, args.neither))} contains the {flag} label {label}")
    if len(set(args.neither)) != len(args.neither):
        raise CLIError(f"--neither repeats a label: {','.join(map(str, args.neither))}")


def run(args) -> int:
    import numpy as np

    from ..neither import format_neither, neither_experiment
    from ..plot import plot_neither, save_figure

    _check_labels(args)
    plots = output_dir(args.plots, "--plots") if args.plots else None
    data = load_data(args.data, args.root) if args.data is not None else None
    try:
        result = neither_experiment(
            data,
            rng=np.random.default_rng(args.seed),
            dog=args.dog,
            human=args.human,
            neither=args.neither,
            root=args.root,
            epochs=args.epochs,
            hidden=args.hidden,
            coverage=args.coverage,
            reject_below=args.reject_below,
            confident=args.confident,
            balance=not args.all_neither,
            progress=not args.no_progress,
        )
    except (ValueError, FloatingPointError) as exc:
        raise CLIError(str(exc)) from None
    plot_path = str(save_figure(plot_neither(result), plots / PLOT_NAME)) if plots else None
    if args.json:
        out = {"seed": args.seed, **result.to_dict()}
        if plot_path:
            out["plot"] = plot_path
        print(json.dumps(out))
        return 0
    print(format_neither(result))
    if plot_path:
        print(f"bar chart saved to {plot_path}")
    return 0
