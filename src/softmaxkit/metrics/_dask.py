"""Metrics of Dask arrays from per-chunk sufficient statistics, in one pass over the data.

:mod:`softmaxkit.metrics.scores` and :mod:`softmaxkit.metrics.calibration_error` send a call here
when ``y_true`` or the predictions are a Dask array; the other may be any array-like, wrapped with
``da.from_array`` and chunked like the Dask one's rows. Every chunk of rows (and of classes, when
the class axis is split) is reduced to a few numbers (counts, sums per bin and per class, the
extreme labels and probabilities) and one ``dask.compute`` evaluates all of them together, so each
chunk is read once.

Checks. Those that need only metadata (dtypes, shapes, the argument order) raise before anything is
computed, with the in-memory messages. Those that need values ride along in the same pass: the
smallest and largest probability (NaN and infinities included) and label are handed to the
in-memory checks, which raise the in-memory errors after the pass.

Results equal the in-memory functions' up to the order of summation; counts and accuracies are
exact. Two things take more passes. Quantile bins need exact quantiles: four counting passes of
:func:`softmaxkit._dask.order_statistics` before the binning pass (for each class, for the
class-wise error), from which the edges are interpolated exactly as :func:`numpy.quantile`
interpolates them, bit for bit. :func:`confusion_matrix` without ``n_classes`` first finds the
largest label.
"""

from __future__ import annotations

import functools

import numpy as np

from .._dask import import_dask, is_dask, order_statistics
from .._validation import as_float_array, check_label_vector, check_score_matrix, to_numpy
from ..losses import cross_entropy

__all__ = [
    "accuracy",
    "nll",
    "brier_score",
    "top_k_accuracy",
    "confusion_matrix",
    "top_label_sums",
    "classwise_sums",
    "quantile_edges",
]


# --------------------------------------------------------------------------------------------------
# arguments and the one pass


def _host_or_dask(value, fname, argname):
    return value if is_dask(value) else to_numpy(value, fname, argname)


def _score_matrix(x, fname, argname):
    """:func:`check_score_matrix`'s checks that need no values (dtype, 2-D, non-empty)."""
    as_float_array(np.empty(0, x.dtype), fname, argname)
    shape = tuple(x.shape)
    if len(shape) != 2:
        raise ValueError(f"{fname}: {argname} must be 2-D of shape (n_samples, n_classes), got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{fname}: {argname} needs at least one sample and one class, got shape {shape}")


def _label_vector(y, n_samples, fname, argname):
    """:func:`check_label_vector`'s checks that need no values (integer dtype, shape)."""
    check_label_vector(np.empty(0, y.dtype), None, None, fname, argname)
    shape = tuple(y.shape)
    if n_samples is not None and shape != (n_samples,):
        raise ValueError(f"{fname}: {argname} must have shape ({n_samples},) (one label per sample), got shape {shape}")
    if len(shape) != 1:
        raise ValueError(f"{fname}: {argname} must be 1-D of shape (n_samples,), got shape {shape}")


def _align_rows(da, *arrays):
    """The arrays as Dask arrays with their rows chunked like the first Dask one's (other axes whole
    when wrapped)."""
    rows = next(a.chunks[0] for a in arrays if is_dask(a))
    aligned = []
    for a in arrays:
        if is_dask(a):
            aligned.append(a.rechunk({0: rows}))
        else:
            aligned.append(da.from_array(a, chunks=(rows, *a.shape[1:])))
    return aligned


class _Pass:
    """Lazy values to compute in one ``dask.compute``, and checks to run on some of them after it."""

    def __init__(self):
        self._checks = []

    def scores(self, p, fname, argname, *, probabilities):
        """Check ``p`` (float64) as :func:`check_score_matrix` does, from its extremes."""
        check = functools.partial(_check_scores, fname=fname, argname=argname, probabilities=probabilities)
        self._checks.append((check, (p.min(), p.max())))

    def labels(self, y, n_classes, fname, argname):
        """Check ``y`` as :func:`check_label_vector` does (in ``[0, n_classes)``, or ``>= 0`` without it)."""
        if y.size:
            check = functools.partial(_check_labels, n_classes=n_classes, fname=fname, argname=argname)
            self._checks.append((check, (y.min(), y.max())))

    def compute(self, *lazy):
        """Compute the checks' values and ``lazy`` together, run the checks, return ``lazy``'s values."""
        import dask

        needed = [value for _, values in self._checks for value in values]
        results = dask.compute(*needed, *lazy)
        position = 0
        for check, values in self._checks:
            check(*results[position : position + len(values)])
            position += len(values)
        self._checks = []
        return results[position:]


def _check_scores(lo, hi, *, fname, argname, probabilities):
    check_score_matrix(np.array([[lo, hi]], np.float64), fname, argname, probabilities=probabilities)


def _check_labels(lo, hi, *, n_classes, fname, argname):
    check_label_vector(np.array([lo, hi]), None, n_classes, fname, argname)


def _scores_and_labels(da, y_true, scores, fname, argname, *, probabilities):
    """Checked, row-aligned Dask ``(y, p)``: ``p`` as float64, with their value checks in a new pass."""
    p = _host_or_dask(scores, fname, argname)
    _score_matrix(p, fname, argname)
    y = _host_or_dask(y_true, fname, "y_true")
    _label_vector(y, p.shape[0], fname, "y_true")
    y, p = _align_rows(da, y, p)
    p = p.astype(np.float64)
    one_pass = _Pass()
    one_pass.scores(p, fname, argname, probabilities=probabilities)
    one_pass.labels(y, p.shape[1], fname, "y_true")
    return y, p, one_pass


def _per_block(da, func, p, y, **options):
    """``func(p_block, y_block[:, None], **options)`` on every block of ``p``, each giving one number."""
    return da.map_blocks(
        func,
        p,
        y[:, None],
        chunks=((1,) * p.numblocks[0], (1,) * p.numblocks[1]),
        dtype=np.float64,
        **options,
    )


def _class_range(block_info):
    return block_info[0]["array-location"][1]


def _label_entries(y, start, stop):
    """Rows whose label lies in columns ``[start, stop)``, and those columns (relative to ``start``)."""
    labels = y[:, 0]
    rows = np.flatnonzero((labels >= start) & (labels < stop))
    return rows, (labels[rows] - start).astype(np.intp)


# --------------------------------------------------------------------------------------------------
# scores


def accuracy(y_true, probs, fname):
    """:func:`softmaxkit.metrics.accuracy` of Dask arrays: the number of hits, counted per chunk."""
    da = import_dask(fname)
    pred = _host_or_dask(probs, fname, "probs")
    if pred.ndim == 2:
        y, p, one_pass = _scores_and_labels(da, y_true, pred, fname, "probs", probabilities=False)
        pred = p.argmax(axis=1)  # across class chunks a tie still goes to the lowest index
    elif pred.ndim == 1:
        if pred.dtype.kind not in "iu":
            raise TypeError(
                f"{fname}: 1-D probs must hold integer predicted labels, got dtype "
                f"{pred.dtype}; pass scores as a 2-D array of shape (n_samples, n_classes)"
            )
        if pred.size == 0:
            raise ValueError(f"{fname}: probs needs at least one sample")
        y = _host_or_dask(y_true, fname, "y_true")
        _label_vector(y, pred.shape[0], fname, "y_true")
        y, pred = _align_rows(da, y, pred)
        one_pass = _Pass()
        one_pass.labels(y, None, fname, "y_true")
    else:
        raise ValueError(
            f"{fname}: probs must be scores of shape (n_samples, n_classes) or labels of shape "
            f"(n_samples,), got shape {tuple(pred.shape)}"
        )
    (hits,) = one_pass.compute((pred == y).sum())
    return float(hits / y.shape[0])


def nll(y_true, probs, logits, fname):
    """:func:`softmaxkit.metrics.nll` of Dask arrays: from logits by the lazy cross-entropy, from
    probabilities by per-chunk sums of ``log p[label]``."""
    da = import_dask(fname)
    argname, scores = ("logits", logits) if logits is not None else ("probs", probs)
    y, p, one_pass = _scores_and_labels(da, y_true, scores, fname, argname, probabilities=logits is None)
    n_classes = p.shape[1]
    if logits is not None:
        # Out-of-range labels are clipped for the loss only; the pass's own check names them.
        (loss,) = one_pass.compute(cross_entropy(p, y.map_blocks(np.clip, 0, n_classes - 1)))
        return float(loss)
    (total,) = one_pass.compute(_per_block(da, _log_picked_sum, p, y).sum())
    return float(0.0 - total / p.shape[0])  # 0 - x: +0.0, not -0.0, when every p is 1


def _log_picked_sum(p, y, block_info=None):
    rows, columns = _label_entries(y, *_class_range(block_info))
    with np.errstate(divide="ignore"):
        return np.array([[np.sum(np.log(p[rows, columns]))]])


def brier_score(y_true, probs, fname):
    """:func:`softmaxkit.metrics.brier_score` of Dask arrays: per-chunk sums of squared errors."""
    da = import_dask(fname)
    y, p, one_pass = _scores_and_labels(da, y_true, probs, fname, "probs", probabilities=True)
    (total,) = one_pass.compute(_per_block(da, _squared_error_sum, p, y).sum())
    return float(total / p.shape[0])


def _squared_error_sum(p, y, block_info=None):
    rows, columns = _label_entries(y, *_class_range(block_info))
    diff = p.copy()
    diff[rows, columns] -= 1.0
    return np.array([[np.sum(diff * diff)]])


def top_k_accuracy(y_true, probs, k, fname):
    """:func:`softmaxkit.metrics.top_k_accuracy` of Dask arrays: each true class's rank, counted per
    class chunk (the score of the true class is picked from its chunk first)."""
    da = import_dask(fname)
    y, p, one_pass = _scores_and_labels(da, y_true, probs, fname, "probs", probabilities=False)
    partial = (p.chunks[0], (1,) * p.numblocks[1])
    s_true = da.map_blocks(_picked, p, y[:, None], chunks=partial, dtype=np.float64).sum(axis=1)
    rank = da.map_blocks(_rank_part, p, s_true[:, None], y[:, None], chunks=partial, dtype=np.int64).sum(axis=1)
    (hits,) = one_pass.compute((rank < k).sum())
    return float(hits / p.shape[0])


def _picked(p, y, block_info=None):
    """``p[i, y_i]`` where ``y_i`` falls in this class chunk, 0 elsewhere (so the sum over chunks picks exactly)."""
    rows, columns = _label_entries(y, *_class_range(block_info))
    out = np.zeros((p.shape[0], 1))
    out[rows, 0] = p[rows, columns]
    return out


def _rank_part(p, s_true, y, block_info=None):
    """This class chunk's part of each rank: scores above the true one, and equal ones at a lower index."""
    start, stop = _class_range(block_info)
    lower_index = np.arange(start, stop)[None, :] < y
    return (np.sum(p > s_true, axis=1) + np.sum((p == s_true) & lower_index, axis=1))[:, None]


def confusion_matrix(y_true, y_pred, n_classes, fname):
    """:func:`softmaxkit.metrics.confusion_matrix` of Dask arrays: per-chunk pair counts (a first pass
    finds the largest label when ``n_classes`` is None)."""
    da = import_dask(fname)
    yt = _host_or_dask(y_true, fname, "y_true")
    _label_vector(yt, None, fname, "y_true")
    yp = _host_or_dask(y_pred, fname, "y_pred")
    _label_vector(yp, yt.shape[0], fname, "y_pred")
    yt, yp = _align_rows(da, yt, yp)
    one_pass = _Pass()
    one_pass.labels(yt, n_classes, fname, "y_true")
    one_pass.labels(yp, n_classes, fname, "y_pred")
    if n_classes is None:  # one more than the largest label seen (0 for empty input)
        n_classes = int(max(one_pass.compute(yt.max(), yp.max()))) + 1 if yt.shape[0] else 0
    counts = da.map_blocks(
        functools.partial(_pair_counts, n_classes=n_classes),
        yt,
        yp,
        chunks=((1,) * yt.numblocks[0], (n_classes * n_classes,)),
        new_axis=1,
        dtype=np.int64,
    )
    (total,) = one_pass.compute(counts.sum(axis=0))
    return total.reshape(n_classes, n_classes).astype(np.int64)


def _pair_counts(yt, yp, *, n_classes):
    valid = (yt >= 0) & (yt < n_classes) & (yp >= 0) & (yp < n_classes)  # the others raise after the pass
    pairs = yt[valid].astype(np.intp) * n_classes + yp[valid]
    return np.bincount(pairs, minlength=n_classes * n_classes)[None]


# --------------------------------------------------------------------------------------------------
# calibration


def quantile_edges(values, n_bins):
    """``np.quantile(values, np.linspace(0, 1, n_bins + 1))`` of a 1-D Dask array, bit for bit.

    NumPy's default ("linear") method reads the order statistics at ``floor(v)`` and ``floor(v) + 1``,
    ``v = (n - 1) q``, and interpolates them as its ``_lerp`` does (``a + (b - a) t``, or
    ``b - (b - a)(1 - t)`` when ``t >= 0.5``); both statistics are exact
    (:func:`softmaxkit._dask.order_statistics`), and so is the same arithmetic on them.

    Examples
    --------
    >>> import dask.array as da
    >>> x = np.array([0.9, 0.1, 0.4, 0.4, 0.75])
    >>> bool(np.array_equal(quantile_edges(da.from_array(x, chunks=2), 4), np.quantile(x, np.linspace(0, 1, 5))))
    True
    """
    n = values.shape[0]
    q = np.linspace(0.0, 1.0, n_bins + 1)
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1  # the largest value, as NumPy takes it (index -1)
    previous[above] = -1
    following[above] = -1
    gamma = virtual - previous
    lower, upper = previous.astype(np.intp) % n, following.astype(np.intp) % n
    ranks = np.unique(np.concatenate([lower, upper]))
    found = dict(zip(ranks.tolist(), order_statistics(values, ranks)))
    a = np.array([found[r] for r in lower.tolist()])
    b = np.array([found[r] for r in upper.tolist()])
    diff = b - a
    edges = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=edges, where=gamma >= 0.5)
    return edges


def top_label_sums(y_true, probs, fname, *, n_bins, strategy, uniform_edges, bin_sums):
    """``(count, sum_conf, sum_hit, edges)`` of the top-label bins of Dask arrays.

    ``uniform_edges`` are the uniform strategy's edges and ``bin_sums(values, hits, edges, strategy)``
    the in-memory binning of one chunk; the confidences and predictions come from Dask's row max and
    argmax (exact across class chunks, ties to the lowest index).
    """
    da = import_dask(fname)
    y, p, one_pass = _scores_and_labels(da, y_true, probs, fname, "probs", probabilities=True)
    conf = p.max(axis=1)
    hits = p.argmax(axis=1) == y
    edges = uniform_edges if strategy == "uniform" else quantile_edges(conf, n_bins)
    sums = da.map_blocks(
        functools.partial(_bins, edges=edges, strategy=strategy, bin_sums=bin_sums),
        conf,
        hits,
        chunks=((1,) * conf.numblocks[0], (3,), (n_bins,)),
        new_axis=[1, 2],
        dtype=np.float64,
    )
    (total,) = one_pass.compute(sums.sum(axis=0))
    return total[0].astype(np.int64), total[1], total[2], edges


def _bins(values, hits, *, edges, strategy, bin_sums):
    return np.array(bin_sums(values, hits, edges, strategy), np.float64)[None]


def classwise_sums(y_true, probs, fname, *, n_bins, strategy, uniform_edges, bin_sums):
    """For each class, ``(count, sum_conf, sum_hit, edges)`` of its bins (see :func:`top_label_sums`),
    binned per chunk of rows and classes."""
    da = import_dask(fname)
    y, p, one_pass = _scores_and_labels(da, y_true, probs, fname, "probs", probabilities=True)
    n_classes = p.shape[1]
    if strategy == "uniform":
        edges = np.broadcast_to(uniform_edges, (n_classes, n_bins + 1))
    else:
        edges = np.array([quantile_edges(p[:, k], n_bins) for k in range(n_classes)])
    sums = da.map_blocks(
        functools.partial(_classwise_bins, edges=edges, strategy=strategy, bin_sums=bin_sums),
        p,
        y[:, None],
        chunks=((1,) * p.numblocks[0], p.chunks[1], (3,), (n_bins,)),
        new_axis=[2, 3],
        dtype=np.float64,
    )
    (total,) = one_pass.compute(sums.sum(axis=0))
    return [(t[0].astype(np.int64), t[1], t[2], e) for t, e in zip(total, edges)]


def _classwise_bins(p, y, *, edges, strategy, bin_sums, block_info=None):
    start, stop = _class_range(block_info)
    labels = y[:, 0]
    sums = [bin_sums(p[:, j], labels == start + j, edges[start + j], strategy) for j in range(stop - start)]
    return np.array(sums, np.float64).reshape(1, stop - start, 3, -1)
