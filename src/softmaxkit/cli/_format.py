"""Text output shared by commands: aligned matrices and top-k probability lists."""

from __future__ import annotations

import numpy as np

__all__ = ["format_matrix", "format_top_k"]


def format_matrix(cm, names) -> str:
    """A confusion matrix as aligned text.

    Examples
    --------
    >>> print(format_matrix(np.array([[3, 1], [0, 4]]), ["a", "b"]))
           a   b
      a    3   1
      b    0   4
    """
    width = max(max(len(str(int(v))) for v in cm.flat), max(len(n) for n in names), 3)
    short = [n[:width] for n in names]
    head = " " * (width + 2) + " ".join(f"{n:>{width}}" for n in short)
    rows = [f"{n:>{width}}  " + " ".join(f"{int(v):>{width}}" for v in row) for n, row in zip(short, cm)]
    return "\n".join([head, *rows])


def format_top_k(probs_row, names, k: int) -> str:
    """``"77% class 2, 17% class 1, 6% class 3"``: the ``k`` most probable classes.

    Examples
    --------
    >>> format_top_k(np.array([0.17, 0.77, 0.06]), ["1", "2", "3"], 2)
    '77% class 2, 17% class 1'
    """
    order = np.argsort(-probs_row, kind="stable")[:k]
    parts = []
    for i in order:
        name = str(names[i])
        label = f"class {name}" if name.isdigit() else name
        share = "<1%" if probs_row[i] < 0.005 else f"{probs_row[i]:.0%}"
        parts.append(f"{share} {label}")
    return ", ".join(parts)
