"""What a file's class labels must be: integers in ``range(n_classes)``, with a believable class count.

* Labels are stored as integers: a float, bool, string or object array is refused (even 1.0: a
  float label usually means a regression target or a column read wrongly, and rounding would hide it).
* No label is negative, and every label is below the class count.
* The class count is ``len(class_names)`` when names are given. Otherwise it is inferred as
  ``max(label) + 1``, and believed only when at least one class in :data:`MAX_GAP_FACTOR` occurs:
  ``y = [0, 1, 10**9]`` would otherwise plan a billion-way classifier whose classes almost all have
  no example. A file with genuinely missing classes gives ``class_names``.
* Never more than :data:`MAX_CLASSES` classes, with names or without.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["MAX_CLASSES", "MAX_GAP_FACTOR", "integer_labels", "check_label_range", "infer_class_count"]

#: Most classes a data set may have (the output layer and the confusion matrix grow with it).
MAX_CLASSES = 100_000

#: Without class names, ``max(label) + 1`` may be at most this many times the distinct labels present.
MAX_GAP_FACTOR = 10


def integer_labels(values, *, source, key: str) -> np.ndarray:
    """``values`` as a 1-d int64 array; DatasetFormatError unless they are non-negative integers.

    Examples
    --------
    >>> integer_labels([3, 0, 7], source="f", key="labels")
    array([3, 0, 7])
    >>> integer_labels([1.0, 2.5], source="f", key="labels")
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.DatasetFormatError: f: 'labels' must hold integers, got float64 values (labels are never rounded)
    """
    try:
        y = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DatasetFormatError(f"{source}: {key!r} must be a 1-d sequence of integers ({exc})") from None
    if y.dtype.kind not in "iu":
        raise DatasetFormatError(
            f"{source}: {key!r} must hold integers, got {y.dtype} values (labels are never rounded)"
        )
    if y.ndim != 1:
        raise DatasetFormatError(f"{source}: {key!r} must be a 1-d array of labels, got shape {y.shape}")
    if y.size and y.min() < 0:
        raise DatasetFormatError(f"{source}: labels out of range: {key!r} has negative label {y.min()}")
    if y.size and y.max() > np.iinfo(np.int64).max:
        raise DatasetFormatError(f"{source}: labels out of range: {key!r} has label {y.max()}")
    return y.astype(np.int64)


def check_label_range(y: np.ndarray, n_classes: int, *, source, key: str) -> None:
    """DatasetFormatError unless every label of ``y`` lies in ``range(n_classes)``."""
    if y.size and y.max() >= n_classes:
        raise DatasetFormatError(
            f"{source}: labels out of range: {key!r} has label {y.max()}, expected 0..{n_classes - 1}"
        )


def infer_class_count(labels, *, source) -> int:
    """``max + 1`` over the label arrays ``labels``, if that is a believable class count (module docstring).

    Examples
    --------
    >>> infer_class_count([np.array([0, 3]), np.array([1])], source="f")
    4
    >>> infer_class_count([np.array([0, 1, 10**9])], source="f")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.DatasetFormatError: f: labels out of range: the largest label, 1000000000, would make 1000000001 classes...
    """
    present = [y for y in labels if y.size]
    if not present:
        return 0
    n_classes = max(int(y.max()) for y in present) + 1
    if n_classes > MAX_CLASSES:
        raise DatasetFormatError(
            f"{source}: labels out of range: the largest label, {n_classes - 1}, would make {n_classes} classes; "
            f"at most {MAX_CLASSES} are allowed"
        )
    counts = sum(np.bincount(y, minlength=n_classes) for y in present)
    distinct = int(np.count_nonzero(counts))
    if n_classes > MAX_GAP_FACTOR * distinct:
        raise DatasetFormatError(
            f"{source}: labels out of range: the largest label, {n_classes - 1}, implies {n_classes} classes but "
            f"only {distinct} distinct labels occur; without class_names at most {MAX_GAP_FACTOR} classes per "
            "label present are inferred (give class_names if the missing classes are real)"
        )
    return n_classes
