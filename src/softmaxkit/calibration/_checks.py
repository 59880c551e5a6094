"""Checks of a calibrator's data that need only a summary of the arrays: the extremes, the worst row sum,
the first offending entry and how many there are.

The in-memory path summarises whole NumPy arrays; the Dask path (:mod:`._dask`) summarises each block
and combines the summaries. Both call these functions, so a check passes or fails on the same data and
says the same thing either way.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array

__all__ = [
    "ROW_SUM_TOL",
    "DEFAULT_ROW_SUM_TOL",
    "check_probabilities",
    "check_probability_range",
    "check_row_sum",
    "check_sample_weight",
    "check_weight_summary",
    "labels_required_error",
    "zero_probabilities_error",
    "impossible_labels_error",
]

#: How far a row of probabilities may sum from 1. The check is there to catch scores that are not
#: distributions (logits, one sigmoid per class, a transposed array), not rounding: probabilities are
#: often computed in float32 and handed over as float64, and a float32 softmax over thousands of
#: classes is off by up to ~1e-5, so float32 and float64 share one tolerance; float16 holds 3 digits.
#: A row off by d shifts log p by about d, which temperature scaling ignores exactly.
ROW_SUM_TOL = {np.dtype(np.float16): 1e-2}
DEFAULT_ROW_SUM_TOL = 1e-4


def check_probabilities(p, dtype, fname) -> None:
    """``p`` (finite, float64) holds probabilities: entries in [0, 1], rows summing to 1 within the dtype's tolerance."""
    if not p.size:
        return
    check_probability_range(p.min(), p.max(), fname)
    sums = p.sum(axis=1)
    row = int(np.argmax(np.abs(sums - 1)))  # the first of the worst rows
    check_row_sum(row, sums[row], dtype, fname)


def check_probability_range(lo, hi, fname) -> None:
    """The entries, whose extremes are ``lo`` and ``hi``, lie in [0, 1]."""
    if lo < 0 or hi > 1:
        raise ValueError(
            f"{fname}: probabilities must lie in [0, 1] (inputs='probabilities'); got values in [{lo:g}, {hi:g}] "
            "(for logits, use inputs='logits')"
        )


def check_row_sum(row, total, dtype, fname) -> None:
    """Row ``row``, the one whose sum ``total`` is farthest from 1, sums to 1 within the tolerance of ``dtype``."""
    tol = ROW_SUM_TOL.get(np.dtype(dtype), DEFAULT_ROW_SUM_TOL)
    if np.abs(total - 1) > tol:
        raise ValueError(
            f"{fname}: probabilities must sum to 1 along each row (within {tol:g} for {np.dtype(dtype)}); "
            f"row {row} sums to {total:.9g} (for scores that are not a softmax's, use inputs='logits')"
        )


def check_sample_weight(sample_weight, n_samples, fname):
    """None, or the weights as float64 of shape ``(n_samples,)``: finite, >= 0, some positive."""
    if sample_weight is None:
        return None
    w, _ = as_float_array(sample_weight, fname, "sample_weight")
    if w.shape != (n_samples,):
        raise ValueError(
            f"{fname}: sample_weight must have shape ({n_samples},) (one weight per sample), got shape {w.shape}"
        )
    w = w.astype(np.float64, copy=False)
    finite = bool(np.isfinite(w).all())
    lo, hi = (w.min(), w.max()) if n_samples and finite else (None, None)
    check_weight_summary(finite, lo, hi, n_samples, fname)
    return w / w.max()  # in (0, 1]: the sum cannot overflow


def check_weight_summary(finite, lo, hi, n_samples, fname) -> None:
    """The weights (all ``finite``? extremes ``lo``, ``hi``, read only then) are finite, >= 0, some positive."""
    if not finite:
        raise ValueError(f"{fname}: sample_weight contains NaN or infinite values")
    if n_samples and lo < 0:
        raise ValueError(f"{fname}: sample_weight must be >= 0, got {lo:g}")
    if not (n_samples and hi > 0):
        raise ValueError(f"{fname}: sample_weight is zero for every row; at least one row needs a positive weight")


def labels_required_error(fname) -> ValueError:
    return ValueError(f"{fname}: requires y to be passed, but the target y is None (y: the labels, class indices)")


def zero_probabilities_error(calibrator, fname, count, row, col) -> ValueError:
    """What ``calibrator`` (one that cannot map log 0) says of ``count`` zeros, the first at (row, col)."""
    return ValueError(
        f"{fname}: the probabilities hold {int(count)} exact zero(s) (the first at row {row}, class "
        f"{col}); {type(calibrator).__name__} works on log(p), and log(0) = -inf has no finite image under "
        f"{calibrator._map_text} (w * -inf is +-inf, or NaN for w = 0), so zeros are refused rather than clipped. "
        "Pass the model's logits with inputs='logits', or use TemperatureScaling, which maps log(0) to "
        "-inf exactly"
    )


def impossible_labels_error(fname, count, first) -> ValueError:
    """``count`` rows give their true class probability 0 (the first is row ``first``)."""
    return ValueError(
        f"{fname}: the probabilities give the true class probability 0 in {int(count)} row(s) (the "
        f"first is row {first}): their NLL is infinite whatever the calibration, so nothing can be fitted; "
        "pass the model's logits with inputs='logits', or give those rows sample_weight 0"
    )
