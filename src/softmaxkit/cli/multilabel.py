"""CLI command ``multilabel``: a sigmoid head against a softmax head on images holding two digits."""

from __future__ import annotations

import json

from ._argtypes import closed_probability, layer_sizes, non_negative_int, open_probability, positive_int
from ._common import CLIError, load_data, output_file

__all__ = ["register"]


def register(sub) -> None:
    """Add the ``multilabel`` sub-command to an argparse sub-parser collection."""
    p = sub.add_parser(
        "multilabel",
        help="compare a sigmoid head (multi-label) with a softmax head on two-digit images",
        description=(
            "Put two digits side by side (or one beside a blank half), train the same MLP twice (independent "
            "sigmoid outputs with binary cross-entropy, and a softmax with soft targets) and compare them on "
            "pairs built from the test split. A class counts as predicted when its probability exceeds the "
            "threshold; a softmax can never give two classes more than 0.5."
        ),
    )
    p.add_argument(
        "--data", default="digits", help="digits | mnist | fashion-mnist | cifar10 | PATH.npz (default digits)"
    )
    p.add_argument("--root", default=None, help="data directory (default $SOFTMAXKIT_DATA or ~/.cache/softmaxkit)")
    p.add_argument("--epochs", type=positive_int, default=10, help="training epochs per head (default 10)")
    p.add_argument("--n-train", type=positive_int, default=20000, help="training pair images (default 20000)")
    p.add_argument("--n-test", type=positive_int, default=4000, help="test pair images (default 4000)")
    p.add_argument(
        "--hidden", type=layer_sizes, default=(256, 128), help="MLP hidden sizes, comma-separated (default 256,128)"
    )
    p.add_argument("--threshold", type=open_probability, default=0.5, help="yes/no threshold (default 0.5)")
    p.add_argument(
        "--p-single",
        type=closed_probability,
        default=0.2,
        help="share of images with one digit and a blank half (default 0.2)",
    )
    p.add_argument("--examples", type=non_negative_int, default=4, help="example predictions to show (default 4)")
    p.add_argument("--plot", default=None, metavar="PNG", help="also save example images and probabilities here")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..multilabel import compare_heads, format_comparison, format_examples
    from ..plot import plot_multilabel_examples, save_figure

    hidden = args.hidden
    plot = output_file(args.plot, "--plot") if args.plot else None
    data = load_data(args.data, args.root)
    try:
        result = compare_heads(
            data,
            rng=np.random.default_rng(args.seed),
            n_train=args.n_train,
            n_test=args.n_test,
            epochs=args.epochs,
            hidden=hidden,
            threshold=args.threshold,
            p_single=args.p_single,
        )
    except (ValueError, FloatingPointError) as exc:
        raise CLIError(str(exc)) from None
    plot_path = None
    if args.plot:
        axes = plot_multilabel_examples(
            result.x_test,
            result.Y_test,
            result.p_sigmoid,
            result.p_softmax,
            result.class_names,
            n=max(args.examples, 1),
            threshold=result.threshold,
        )
        plot_path = str(save_figure(axes, plot))
    if args.json:
        out = {"data": args.data, "seed": args.seed, **result.to_dict()}
        out["examples"] = format_examples(result, n=args.examples).splitlines()
        if plot_path:
            out["plot"] = plot_path
        print(json.dumps(out))
        return 0
    print(f"multi-label {args.data}: two images side by side; a class is 'yes' when p > {result.threshold:g}")
    print(format_comparison(result))
    if args.examples:
        print("examples (probability of each true class -> predicted set):")
        print(format_examples(result, n=args.examples))
    if plot_path:
        print(f"examples plot saved to {plot_path}")
    return 0
