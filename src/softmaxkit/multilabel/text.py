"""The head comparison as text: a table of metrics and a few example images."""

from __future__ import annotations

import math

import numpy as np

from .._validation import Integer, validate
from .experiment import HeadComparison
from .pairs import describe_pair, pick_examples

__all__ = ["format_comparison", "format_examples"]

_ROWS = (
    ("exact_set_accuracy", "exact-set accuracy (p > {t})", "pct"),
    ("exact_set_accuracy_one", "  on images with one class", "pct"),
    ("exact_set_accuracy_two", "  on images with two classes", "pct"),
    ("exact_set_accuracy_top_k", "exact-set accuracy, top-|true set|", "pct"),
    ("micro_f1", "micro F1 (p > {t})", "num"),
    ("mean_prob_true_high", "two classes: mean p of the likelier", "pct"),
    ("mean_prob_true_low", "two classes: mean p of the other", "pct"),
    ("both_yes_rate", "two classes: both p > {t}", "pct"),
    ("mean_prob_true_one", "one class: mean p of it", "pct"),
)


def format_comparison(result: HeadComparison) -> str:
    """The comparison as an aligned text table, one row per metric, one column per head."""
    t = f"{result.threshold:g}"
    labels = [label.format(t=t) for _, label, _ in _ROWS]
    width = max(map(len, labels))
    lines = [f"{'':<{width}}  {'sigmoid':>8}  {'softmax':>8}"]
    for (key, _, kind), label in zip(_ROWS, labels):
        cells = []
        for metrics in (result.sigmoid, result.softmax):
            v = getattr(metrics, key)
            cells.append("-" if math.isnan(v) else (f"{v:.1%}" if kind == "pct" else f"{v:.3f}"))
        lines.append(f"{label:<{width}}  {cells[0]:>8}  {cells[1]:>8}")
    s = result.settings
    lines.append(
        f"({result.sigmoid.n_images} test images, {result.sigmoid.n_two} with two classes; trained on "
        f"{s['n_train']} images for {s['epochs']} epochs in {s['seconds']:.1f} s)"
    )
    return "\n".join(lines)


def format_examples(result: HeadComparison, *, n: int = 4) -> str:
    """A few test images with each head's probability of every true class and its predicted set.

    One line per image, e.g. ``image 3 (1 and 7): sigmoid 1 98%, 7 95% -> {1, 7} | softmax 1 49%,
    7 48% -> {}``. Most examples hold two classes; one shows a digit beside a blank half.
    """
    (n,) = validate("format_examples", {"n": Integer(0)}, n=n)
    names = result.class_names
    lines = []
    for i in pick_examples(result.x_test, result.Y_test, n):
        true = np.flatnonzero(result.Y_test[i])
        what = describe_pair(result.x_test[i], true, names)
        parts = []
        for head, p in (("sigmoid", result.p_sigmoid[i]), ("softmax", result.p_softmax[i])):
            shown = ", ".join(f"{names[k]} {p[k]:.0%}" for k in true)
            predicted = ", ".join(names[k] for k in np.flatnonzero(p > result.threshold))
            parts.append(f"{head} {shown} -> {{{predicted}}}")
        lines.append(f"image {i} ({what}): " + " | ".join(parts))
    return "\n".join(lines)
