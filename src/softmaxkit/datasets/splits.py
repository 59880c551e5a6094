"""Splitting a training set: the stratified, seeded hold-out used for validation and calibration."""

from __future__ import annotations

import numpy as np

from .._validation import HALF_OPEN_FRACTION, check_rng, validate

__all__ = ["train_val_split", "validation_split"]


def train_val_split(x, y, *, val_fraction: float, rng: np.random.Generator):
    """Split ``(x, y)`` into a training part and a validation part of ``val_fraction`` of the rows.

    The split is stratified (each class keeps its share, at least one validation row per class that
    has two or more rows) and reproducible from ``rng``.

    Parameters
    ----------
    x : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples,)
        Class labels.
    val_fraction : float in [0, 1)
        Share of the rows held out; 0 holds out nothing.
    rng : numpy.random.Generator
        Source of the split (its state advances).

    Returns
    -------
    x_train, y_train, x_val, y_val : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
    >>> xt, yt, xv, yv = train_val_split(x, y, val_fraction=0.2, rng=np.random.default_rng(0))
    >>> len(yt), len(yv), sorted(yv.tolist())
    (8, 2, [0, 1])
    """
    fname = "train_val_split"
    (val_fraction,) = validate(fname, {"val_fraction": HALF_OPEN_FRACTION}, val_fraction=val_fraction)
    rng = check_rng(rng, fname)
    y = np.asarray(y)
    if val_fraction == 0.0:
        return x, y, x[:0], y[:0]
    val_idx = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        rows = rows[rng.permutation(len(rows))]
        n_val = round(val_fraction * len(rows))
        if len(rows) >= 2:
            n_val = min(max(n_val, 1), len(rows) - 1)
        val_idx.append(rows[:n_val])
    val_idx = np.sort(np.concatenate(val_idx))
    keep = np.ones(len(y), bool)
    keep[val_idx] = False
    return x[keep], y[keep], x[val_idx], y[val_idx]


def validation_split(data, *, seed: int, val_fraction: float):
    """The validation rows of ``data``'s training split that a run seeded with ``seed`` held out.

    Training (``softmaxkit train``, :func:`softmaxkit.train.fit` recipes) calls
    ``train_val_split(x_train, y_train, val_fraction=f, rng=numpy.random.default_rng(seed))`` before
    using the generator for anything else, so a fresh generator of the same seed recreates the split
    exactly: these rows were never trained on, and calibration or conformal prediction may use them.

    Parameters
    ----------
    data : Dataset
    seed : int
    val_fraction : float in [0, 1)

    Returns
    -------
    x_val, y_val : ndarray
        Empty when ``val_fraction`` is 0.
    """
    _, _, x_val, y_val = train_val_split(
        data.x_train, data.y_train, val_fraction=val_fraction, rng=np.random.default_rng(seed)
    )
    return x_val, y_val
