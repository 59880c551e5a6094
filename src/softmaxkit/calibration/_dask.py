"""Calibrators on Dask arrays (data larger than memory): fitted with one pass over the chunks per
evaluation of the objective, applied lazily.

Fitting, :func:`fit_blocks`
    One pass summarises every block of the scores, labels and weights: the extremes, the row whose sum
    is farthest from 1, the first zero probability and the first label of probability 0 (with their
    counts), the weights' extremes and sum. The combined summary goes through the in-memory checks
    (:mod:`._checks`, and :mod:`softmaxkit._validation`'s given the extremes alone, on which their
    verdict and message depend), in the in-memory order, so a bad array fails with the same message.
    The dtype and shape checks run first on a stand-in without data (``np.broadcast_to``), but only
    when they fail, so that no check ever reads a stand-in's values.

    :meth:`Blocks.total` then computes a sum over the rows (the NLL and its gradient, the slope of
    temperature scaling) in one pass: each block computes its share with NumPy, by the in-memory
    code on the block's rows, each row weighted by its share of the mean; only those small vectors
    are added up (a tree reduction) and brought back. The optimiser runs here, on those sums.

Transforming, :func:`transform_blocks`
    A lazy ``map_blocks``: each block is checked (rows numbered in the whole array) and mapped.
"""

from __future__ import annotations

import math

import numpy as np

from .._dask import dask_array, import_dask, is_dask, stand_in
from .._validation import as_float_array, check_finite, check_label_vector, check_labels, to_numpy
from ..kernels import softmax
from ._checks import (
    check_probability_range,
    check_row_sum,
    check_sample_weight,
    check_weight_summary,
    impossible_labels_error,
    labels_required_error,
    zero_probabilities_error,
)

__all__ = ["Blocks", "fit_blocks", "transform_blocks"]


class Blocks:
    """The fitting data as Dask arrays chunked alike along the rows, and each kept row's share of the mean.

    Rows of weight 0 are dropped in every block. A kept row weighs ``1 / n_kept``, or, when the
    weights differ, ``(w_i / w_max) / sum_j (w_j / w_max)``: as in memory, equal weights are no weights.
    """

    def __init__(self, s, y, w, *, log, unequal, w_max, denominator):
        self.s, self.y, self.w = s, y, w
        self._rows = {"log": log, "unequal": unequal, "w_max": w_max, "denominator": denominator}

    @property
    def n_classes(self) -> int:
        return int(self.s.shape[1])

    def total(self, fn, size, **kwargs) -> np.ndarray:
        """``fn``'s numbers summed over the blocks, a float64 vector of ``size`` entries, in one pass.

        ``fn(s, y, w, **kwargs)`` gets a block's kept rows: the scores ``s`` (float64; log p for
        probabilities), the labels ``y`` (intp) and ``w``, the rows' shares of the mean (summing to 1
        over all blocks); it returns numbers or arrays that make ``size`` numbers end to end.
        """
        da = import_dask("Blocks.total")
        arrays = [self.s, "ij", self.y, "i"] + ([] if self.w is None else [self.w, "i"])
        parts = da.blockwise(
            _block_total,
            "ij",
            *arrays,
            fn=fn,
            size=size,
            rows=self._rows,
            fn_kwargs=kwargs,
            dtype=np.float64,
            adjust_chunks={"i": 1, "j": size},
            meta=np.empty((0, 0), np.float64),
        )
        return parts.sum(axis=0).compute()


def _block_total(s, y, w=None, *, fn, size, rows, fn_kwargs):
    s, y, w = _kept_rows(s, y, w, **rows)
    if not y.size:
        return np.zeros((1, size))
    return np.hstack(fn(s, y, w, **fn_kwargs)).astype(np.float64, copy=False).reshape(1, size)


def _kept_rows(s, y, w, *, log, unequal, w_max, denominator):
    """A block's rows of positive weight as ``(scores, labels, shares of the mean)``."""
    s = np.asarray(s, dtype=np.float64)
    y = np.asarray(y).astype(np.intp, copy=False)
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        keep = w > 0
        if not keep.all():
            s, y, w = s[keep], y[keep], w[keep]
    if log:
        with np.errstate(divide="ignore"):
            s = np.log(s)
    share = (w / w_max) / denominator if unequal else np.full(y.shape, 1.0 / denominator)
    return s, y, share


# ---- fitting: the checks in one pass


def fit_blocks(calibrator, scores, y, sample_weight, fname) -> Blocks:
    """Check the fitting data of ``calibrator`` as its in-memory ``fit`` does, in one pass, and align them.

    At least one of ``scores``, ``y``, ``sample_weight`` is a Dask array; the others may be anything
    array-like (they become Dask arrays chunked as the first Dask one).
    """
    da = import_dask(fname)
    probabilities = calibrator.inputs == "probabilities"
    argname = "probabilities" if probabilities else "logits"
    s = _dask_or_numpy(scores, fname, argname)
    result_dtype = _check_score_kind(calibrator, s, fname, argname)
    n, k = s.shape
    y = None if y is None else _dask_or_numpy(y, fname, "labels")
    w = None if sample_weight is None else _dask_or_numpy(sample_weight, fname, "sample_weight")
    # the labels' and weights' dtypes and shapes are checked after the scores' values, as in memory
    labels_fit = y is not None and y.dtype.kind in "iu" and y.shape == (n,)
    weights_fit = labels_fit and (w is None or (w.dtype.kind in "fiub" and w.shape == (n,)))
    rows = _row_chunks(da, s, y if labels_fit else None, w if weights_fit else None)
    s = _aligned(da, s, rows)
    y_blocks = _aligned(da, y, rows) if labels_fit else None
    w_blocks = _aligned(da, w, rows) if weights_fit and w is not None else None
    summary = _summarise_blocks(
        s, y_blocks, w_blocks, rows, probabilities=probabilities, zeros=not calibrator._maps_zero_probabilities
    )

    _check_score_summary(summary, result_dtype, fname, argname, probabilities)
    if y is None:
        raise labels_required_error(fname)
    if not labels_fit:  # the in-memory check fails on the dtype or the shape
        check_label_vector(stand_in(y.dtype, y.shape), n, None, fname, "labels")
    check_labels(np.array(summary["labels"]), k, fname, argname="labels")
    if w is not None:
        if not weights_fit:
            as_float_array(np.empty(0, w.dtype), fname, "sample_weight")
            check_sample_weight(stand_in(np.float64, w.shape), n, fname)
        check_weight_summary(summary["w_finite"], *summary.get("w_range", (None, None)), n, fname)
    if "zeros" in summary:
        raise zero_probabilities_error(calibrator, fname, *summary["zeros"])
    if "impossible" in summary:
        raise impossible_labels_error(fname, *summary["impossible"])

    if w is None:
        return Blocks(s, y_blocks, None, log=probabilities, unequal=False, w_max=1.0, denominator=n)
    lowest, w_max, denominator, n_kept = summary["positive"]
    if lowest / w_max == 1.0:  # equal weights (in memory: w / w.max() all 1)
        return Blocks(s, y_blocks, w_blocks, log=probabilities, unequal=False, w_max=w_max, denominator=n_kept)
    return Blocks(s, y_blocks, w_blocks, log=probabilities, unequal=True, w_max=w_max, denominator=denominator)


def _dask_or_numpy(x, fname, argname):
    """A Dask array as it is (with known chunk sizes), anything else as a NumPy array."""
    if not is_dask(x):
        return to_numpy(x, fname, argname)
    return dask_array(x, fname, argname)


def _check_score_kind(calibrator, x, fname, argname, n_classes=None):
    """The result dtype of the scores ``x``, once their dtype and shape pass the in-memory checks."""
    _, result_dtype = as_float_array(np.empty(0, x.dtype), fname, argname)
    shape = x.shape
    fitted = n_classes is not None
    if len(shape) == 2 and shape[1] and (fitted or shape[0]) and (not fitted or shape[1] == n_classes):
        return result_dtype
    checked_shape = (0, shape[1]) if fitted and len(shape) == 2 else shape
    calibrator._scores(stand_in(np.float64, checked_shape), fname, n_classes=n_classes)  # raises
    raise AssertionError(f"{fname}: scores of shape {shape} passed the checks meant to refuse them")


def _row_chunks(da, *arrays):
    """The row chunks of the first Dask array among ``arrays`` (None skipped); else Dask's choice."""
    for x in arrays:
        if x is not None and is_dask(x):
            return x.chunks[0]
    return da.core.normalize_chunks("auto", arrays[0].shape, dtype=np.float64)[0]


def _aligned(da, x, rows):
    """``x`` as a Dask array of row chunks ``rows`` (and one chunk of columns)."""
    if not is_dask(x):
        x = da.from_array(x, chunks=(rows, *x.shape[1:]))
    return x.rechunk((rows, *x.shape[1:]))


def _summarise_blocks(s, y, w, rows, **options) -> dict:
    """:func:`_summarise` of every block, combined; one pass over the chunks."""
    import dask

    offsets = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(int)
    s_parts = s.to_delayed().ravel()
    y_parts = [None] * len(rows) if y is None else y.to_delayed()
    w_parts = [None] * len(rows) if w is None else w.to_delayed()
    summarise = dask.delayed(_summarise, pure=True)
    parts = dask.compute(
        *(
            summarise(s_b, y_b, w_b, offset=int(offset), **options)
            for s_b, y_b, w_b, offset in zip(s_parts, y_parts, w_parts, offsets, strict=True)
        )
    )
    return _combine(parts)


def _summarise(s, y, w, *, offset, probabilities, zeros, chunk=0) -> dict:
    """What the checks read of one block: its scores ``s``, labels ``y`` and weights ``w`` (or None).

    ``offset`` is the block's first row in the whole array (None if unknown: rows are then named
    within chunk number ``chunk``). Nothing but ``finite`` is read of scores that are not all finite.
    """
    s = np.asarray(s, dtype=np.float64)
    out = {"finite": bool(np.isfinite(s).all())}
    if not (out["finite"] and s.size):
        return out
    lo, hi = s.min(), s.max()
    out["range"] = (lo, hi)
    if probabilities and lo >= 0 and hi <= 1:
        sums = s.sum(axis=1)
        r = int(np.argmax(np.abs(sums - 1)))
        out["worst"] = (np.abs(sums[r] - 1), _row_name(offset, chunk, r), sums[r])
    if y is not None:
        y = np.asarray(y)
        out["labels"] = (y.min(), y.max())
    kept = np.arange(s.shape[0])
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        out["w_finite"] = bool(np.isfinite(w).all())
        if not out["w_finite"]:
            return out
        out["w_range"] = (w.min(), w.max())
        kept = np.flatnonzero(w > 0)
        if kept.size:
            positive = w[kept]
            top = positive.max()
            out["positive"] = (positive.min(), top, np.sum(positive / top), kept.size)
    if probabilities and kept.size:
        p = s[kept]
        if zeros:
            zero = p == 0
            count = int(zero.sum())
            if count:
                i, j = np.argwhere(zero)[0]
                out["zeros"] = (count, _row_name(offset, chunk, kept[i]), j)
        if y is not None:
            labels = np.clip(y[kept], 0, s.shape[1] - 1).astype(np.intp)  # labels out of range fail before
            impossible = np.flatnonzero(p[np.arange(kept.size), labels] == 0)
            if impossible.size:
                out["impossible"] = (impossible.size, _row_name(offset, chunk, kept[impossible[0]]))
    return out


def _row_name(offset, chunk, row):
    return int(offset + row) if offset is not None else f"{int(row)} of chunk {chunk} (chunk sizes unknown)"


def _combine(parts) -> dict:
    """The summary of the blocks ``parts`` together: the first block's first offender, the worst row."""
    out = {"finite": all(p["finite"] for p in parts)}
    if not out["finite"]:
        return out
    for key, reduce in (("range", (min, max)), ("labels", (min, max)), ("w_range", (min, max))):
        pairs = [p[key] for p in parts if key in p]
        if pairs:
            out[key] = tuple(f(values) for f, values in zip(reduce, zip(*pairs, strict=True), strict=True))
    worst = [p["worst"] for p in parts if "worst" in p]
    if worst:
        out["worst"] = max(worst, key=lambda item: item[0])  # max keeps the first of equal ones
    out["w_finite"] = all(p.get("w_finite", True) for p in parts)
    positive = [p["positive"] for p in parts if "positive" in p]
    if positive:
        top = max(item[1] for item in positive)
        out["positive"] = (
            min(item[0] for item in positive),
            top,
            sum(item[2] * (item[1] / top) for item in positive),  # sum of w / w_max, without overflow
            sum(item[3] for item in positive),
        )
    for key in ("zeros", "impossible"):
        found = [p[key] for p in parts if key in p]
        if found:
            out[key] = (sum(item[0] for item in found), *found[0][1:])
    return out


def _check_score_summary(summary, result_dtype, fname, argname, probabilities) -> None:
    """The checks of the scores' values (finite; probabilities in [0, 1] with rows summing to 1)."""
    if not summary["finite"]:
        check_finite(np.array([np.nan]), fname, argname)
    if probabilities and "range" in summary:
        check_probability_range(*summary["range"], fname)
        check_row_sum(*summary["worst"][1:], result_dtype, fname)


# ---- transforming, lazily


def transform_blocks(calibrator, scores, fname, *, proba):
    """A lazy Dask array: ``calibrator.transform(scores)``, or ``calibrator.predict_proba(scores)`` with ``proba``.

    The dtype and shape are checked now; the values of each block when it is computed (rows are
    numbered in the whole array; a range reported is that of the block).
    """
    argname = "probabilities" if calibrator.inputs == "probabilities" else "logits"
    da = import_dask(fname)
    if not isinstance(scores, da.Array):
        _dask_or_numpy(scores, fname, argname)  # raises: a Dask collection that is not an array
    result_dtype = _check_score_kind(calibrator, scores, fname, argname, calibrator.n_classes_)
    return scores.rechunk({1: -1}).map_blocks(
        _transform_block,
        calibrator=calibrator,
        fname=fname,
        proba=proba,
        result_dtype=result_dtype,
        dtype=result_dtype,
        meta=np.empty((0, 0), result_dtype),
    )


def _transform_block(block, *, calibrator, fname, proba, result_dtype, block_info=None):
    where = block_info[0]
    start = where["array-location"][0][0]
    from_logs = calibrator.inputs == "probabilities"
    summary = _summarise(
        block,
        None,
        None,
        offset=None if math.isnan(start) else start,
        chunk=where["chunk-location"][0],
        probabilities=from_logs,
        zeros=not calibrator._maps_zero_probabilities,
    )
    argname = "probabilities" if from_logs else "logits"
    _check_score_summary(summary, result_dtype, fname, argname, from_logs)
    if "zeros" in summary:
        raise zero_probabilities_error(calibrator, fname, *summary["zeros"])
    s = np.asarray(block, dtype=np.float64)
    if from_logs:
        with np.errstate(divide="ignore"):
            s = np.log(s)
    g = calibrator._apply(s)
    return (softmax(g) if proba else g).astype(result_dtype, copy=False)
