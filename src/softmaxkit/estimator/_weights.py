r"""The weight of each training row: ``sample_weight`` times the weight of its class, as scikit-learn defines them.

Row :math:`i` of class :math:`y_i` weighs :math:`s_i = w_i\, c_{y_i}`, with ``sample_weight``
:math:`w_i` (1 when not given) and the class weight :math:`c_k` from
:func:`sklearn.utils.class_weight.compute_class_weight`: ``class_weight[k]`` for a dict (1 for a class
it omits), and for ``"balanced"`` :math:`c_k = \sum_i w_i / (K \sum_{i: y_i = k} w_i)` (with unit
weights, ``n_samples / (n_classes * count_k)``). This is exactly how ``LogisticRegression`` combines
them. The training loss is then the weighted mean :math:`\sum_i s_i \ell_i / \sum_i s_i` per batch
(:func:`softmaxkit.train.fit`).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from .._validation import check_finite, to_numpy
from ._params import show_label

__all__ = ["row_weights"]


def row_weights(y, y_idx, classes, *, class_weight, sample_weight, fname: str, need_two_classes: bool):
    """The weights :math:`s_i` of the rows (float64), or None when every row weighs 1.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        The labels as given (what ``class_weight`` keys name).
    y_idx : ndarray of int, shape (n_samples,)
        Their positions in ``classes``.
    classes : ndarray of shape (n_classes,)
    class_weight : None, "balanced" or dict
    sample_weight : array_like of shape (n_samples,) or None
    fname : str
        Starts every message.
    need_two_classes : bool
        Refuse weights that leave fewer than two classes with positive weight (``fit``; a batch of
        ``partial_fit`` may hold one class).

    Raises
    ------
    ValueError
        Weights of the wrong shape, negative or non-finite, summing to 0, or (with
        ``need_two_classes``) leaving a single class to learn.
    TypeError
        Non-numeric weights.
    """
    sw = None if sample_weight is None else _check_sample_weight(sample_weight, len(y_idx), fname)
    if isinstance(class_weight, dict):
        _check_class_weight_labels(class_weight, classes, fname)
    if class_weight is not None:
        per_class = compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sw)
        per_row = np.asarray(per_class, dtype=np.float64)[y_idx]
        if sw is None:
            sw = per_row
        else:
            with np.errstate(invalid="ignore"):  # "balanced" gives inf to a class whose rows all weigh 0
                sw = np.where(sw == 0, 0.0, sw * per_row)
        check_finite(sw, fname, "class_weight")
    if sw is None:
        return None
    if not sw.sum() > 0:
        raise ValueError(
            f"{fname}: the sample weights sum to zero (after class_weight); there is nothing to learn from"
        )
    present = np.unique(y_idx[sw > 0])
    if need_two_classes and len(present) < 2:
        raise ValueError(
            f"{fname}: only one class, {show_label(classes[present[0]])}, has rows of positive weight; "
            "a classifier needs at least two classes to learn from"
        )
    return sw


def _check_class_weight_labels(class_weight: dict, classes, fname: str) -> None:
    """scikit-learn's rule, in words: labels that are not classes are refused unless every class has a weight."""
    known = set(classes.tolist())
    unknown = [k for k in class_weight if k not in known]
    if unknown and not known <= set(class_weight):
        raise ValueError(
            f"{fname}: class_weight names labels that are not in y: {', '.join(map(show_label, unknown))} "
            f"(the classes are {', '.join(map(show_label, classes))})"
        )


def _check_sample_weight(sample_weight, n: int, fname: str) -> np.ndarray:
    w = to_numpy(sample_weight, fname, "sample_weight")
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: sample_weight must be numeric, got dtype {w.dtype}")
    if w.ndim == 0:  # a scalar weighs every row the same, as in scikit-learn
        w = np.full(n, w, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"{fname}: sample_weight must have shape ({n},) (one weight per sample), got shape {w.shape}")
    w = check_finite(w.astype(np.float64), fname, "sample_weight")
    if n and w.min() < 0:
        raise ValueError(f"{fname}: sample_weight must be non-negative, got {w.min():g}")
    return w
