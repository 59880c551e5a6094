"""Calibration error: do the predicted probabilities match how often the predictions are right?

Top-label (:func:`calibration_error`: ECE, MCE, RMS), class-wise
(:func:`classwise_calibration_error`) and the per-bin numbers behind a reliability diagram
(:func:`reliability_curve`). All share one binning rule, documented in :func:`calibration_error`, and
take the true labels first: ``(y_true, probs, *, n_bins=15, strategy="uniform", ...)``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .._dask import is_dask
from .._validation import Integer, Options, check_label_vector, check_labels_first, check_score_matrix, validate
from . import _dask

__all__ = ["calibration_error", "classwise_calibration_error", "reliability_curve", "ReliabilityCurve"]

_CONSTRAINTS = {
    "n_bins": Integer(1),
    "strategy": Options("uniform", "quantile"),
    "norm": Options("l1", "l2", "max"),
}


class ReliabilityCurve(NamedTuple):
    """Per-bin statistics of a reliability diagram (see :func:`reliability_curve`).

    Attributes
    ----------
    confidence : ndarray of shape (n_bins,)
        Mean confidence of the samples in each bin; NaN for an empty bin.
    accuracy : ndarray of shape (n_bins,)
        Fraction of those samples predicted correctly; NaN for an empty bin.
    count : ndarray of shape (n_bins,), dtype int64
        Number of samples in each bin (0 for an empty bin).
    edges : ndarray of shape (n_bins + 1,)
        Bin edges; bin ``b`` is ``[edges[b], edges[b + 1])``, the last bin also holding
        ``edges[-1]``.
    """

    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    edges: np.ndarray


def _uniform_edges(n_bins, dtype):
    """``b / n_bins`` for ``b = 0..n_bins`` rounded in ``dtype`` exactly as ``torch.linspace`` rounds
    them (``step * b`` for the first half, a fused ``1 - step * (n - b)`` for the second), so that a
    confidence lying exactly on an edge falls in the same bin as in torchmetrics."""
    dtype = np.dtype(np.float32) if np.dtype(dtype) in (np.float16, np.float32) else np.dtype(np.float64)
    step = Fraction(float(dtype.type(1) / dtype.type(n_bins)))
    half = (n_bins + 1) // 2
    exact = [step * b if b < half else 1 - step * (n_bins - b) for b in range(n_bins + 1)]
    edges = np.array([float(v) for v in exact]).astype(dtype)  # one rounding: the products are exact in float64
    edges[0], edges[-1] = 0, 1
    return edges.astype(np.float64)


def _bin_edges(values, n_bins, strategy, dtype=np.float32):
    if strategy == "uniform":
        return _uniform_edges(n_bins, dtype)
    return np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1))


def _binned(values, hits, n_bins, strategy, dtype=np.float32):
    """Bin ``values`` (in [0, 1]) and return ``ReliabilityCurve`` statistics of ``values``/``hits``."""
    edges = _bin_edges(values, n_bins, strategy, dtype)
    return _curve(*_bin_sums(values, hits, edges, strategy), edges)


def _bin_sums(values, hits, edges, strategy):
    """``(count, sum of values, sum of hits)`` per bin: the sufficient statistics of a curve, which add
    up over any split of the samples (the Dask path sums them over chunks)."""
    if strategy == "uniform":
        # Bin membership is decided in float32 (edges and values), as torchmetrics decides it, so a
        # confidence such as 0.35 lies on the same side of an edge in both; the means stay float64.
        key = values.astype(np.float32).astype(np.float64)
    else:
        key = values
    # Left-closed bins [e_b, e_{b+1}) (as torchmetrics bins): a value equal to an inner edge goes to
    # the upper bin; values below edges[1] go to bin 0 and values at or above edges[-2] to the last
    # bin, so 0 and 1 land in the first and last bins and there is no extra bin for exactly 1.
    n_bins = len(edges) - 1
    idx = np.searchsorted(edges[1:-1], key, side="right")
    count = np.bincount(idx, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=values, minlength=n_bins)
    sum_hit = np.bincount(idx, weights=hits.astype(np.float64), minlength=n_bins)
    return count, sum_conf, sum_hit


def _curve(count, sum_conf, sum_hit, edges):
    """The per-bin means of :func:`_bin_sums`' statistics (NaN in an empty bin)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(count > 0, sum_conf / count, np.nan)
        acc = np.where(count > 0, sum_hit / count, np.nan)
    return ReliabilityCurve(conf, acc, count.astype(np.int64), edges)


def _error_from_bins(curve, norm):
    nonempty = curve.count > 0
    gap = np.abs(curve.accuracy[nonempty] - curve.confidence[nonempty])
    weight = curve.count[nonempty] / curve.count.sum()
    if norm == "l1":
        return float(np.sum(weight * gap))
    if norm == "l2":
        return float(np.sqrt(np.sum(weight * gap * gap)))
    return float(np.max(gap))


def _top_label(y_true, probs, fname, n_bins, strategy):
    check_labels_first(y_true, probs, fname)
    if is_dask(y_true, probs):
        n_bins, strategy = validate(fname, _CONSTRAINTS, n_bins=n_bins, strategy=strategy)
        sums = _dask.top_label_sums(
            y_true,
            probs,
            fname,
            n_bins=n_bins,
            strategy=strategy,
            uniform_edges=_uniform_edges(n_bins, np.float32),
            bin_sums=_bin_sums,
        )
        return _curve(*sums)
    p = check_score_matrix(probs, fname, "probs", probabilities=True)
    y = check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
    n_bins, strategy = validate(fname, _CONSTRAINTS, n_bins=n_bins, strategy=strategy)
    pred = p.argmax(axis=1)
    conf = p[np.arange(p.shape[0]), pred]
    return _binned(conf, pred == y, n_bins, strategy)


def calibration_error(y_true, probs, *, n_bins: int = 15, strategy: str = "uniform", norm: str = "l1") -> float:
    r"""Top-label calibration error: ECE, MCE or RMS calibration error.

    Each sample's confidence :math:`c_i = \max_k p_{ik}` and correctness
    :math:`a_i = [\operatorname{argmax}_k p_{ik} = y_i]` (a tie goes to the lowest class index) are
    grouped into bins :math:`B_1, \dots, B_M`; with :math:`\mathrm{acc}_b` and :math:`\mathrm{conf}_b`
    the means of :math:`a_i` and :math:`c_i` over bin :math:`b`,

    .. math::

        \mathrm{ECE} = \sum_{b} \frac{|B_b|}{n} \big|\mathrm{acc}_b - \mathrm{conf}_b\big|,
        \qquad
        \mathrm{RMSCE} = \Big(\sum_{b} \frac{|B_b|}{n} (\mathrm{acc}_b - \mathrm{conf}_b)^2\Big)^{1/2},
        \qquad
        \mathrm{MCE} = \max_{b : |B_b| > 0} \big|\mathrm{acc}_b - \mathrm{conf}_b\big| .

    Empty bins are skipped. All three lie in [0, 1] and ``ECE <= RMSCE <= MCE``.

    Binning. ``strategy="uniform"`` uses the edges :math:`e_b = b / M`, ``b = 0..M``, and left-closed
    bins :math:`[e_{b}, e_{b+1})`, the last one closed, :math:`[e_{M-1}, 1]`: a confidence of exactly
    0 goes to the first bin and exactly 1 to the last (there is no extra bin). ``strategy="quantile"``
    takes the edges at the ``0, 1/M, ..., 1`` quantiles of the confidences (equal-mass bins; ties can
    leave some bins empty), with the same rule.

    The uniform results equal ``torchmetrics``' ``MulticlassCalibrationError`` (``norm`` "l1",
    "l2", "max"), with the same left-closed bins decided the same way (edges ``torch.linspace``
    rounds in float32, compared with the confidences rounded to float32), except when a confidence
    is exactly 1: torchmetrics puts it into a bin of its own, here it joins the last bin. Per-bin
    means are computed in float64 (torchmetrics: float32), so agreement is to about 1e-7.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
        The true classes.
    probs : array_like of shape (n_samples, n_classes)
        Probabilities in [0, 1], classes on the last axis (rows need not sum to 1).
    n_bins : int, default 15
    strategy : {"uniform", "quantile"}, default "uniform"
    norm : {"l1", "l2", "max"}, default "l1"
        ``"l1"`` is the expected calibration error (ECE), ``"l2"`` the root-mean-square calibration
        error, ``"max"`` the maximum calibration error (MCE).

    Returns
    -------
    float

    See Also
    --------
    reliability_curve : the per-bin numbers behind this score.
    classwise_calibration_error : every class, not only the top one.

    References
    ----------
    .. [1] M. P. Naeini, G. Cooper, M. Hauskrecht, "Obtaining well calibrated probabilities using
       Bayesian binning", AAAI 2015.
    .. [2] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural networks",
       ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import calibration_error
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    >>> y = np.array([0, 1, 1, 1])
    >>> round(calibration_error(y, p, n_bins=2), 6)  # one bin (0.5, 1]: acc 0.75, conf 0.75
    0.0
    >>> round(calibration_error(y, p, n_bins=10), 6)  # one sample per bin: (0.1 + 0.8 + 0.3 + 0.4) / 4
    0.4
    >>> round(calibration_error(y, p, n_bins=10, norm="max"), 6)
    0.8
    """
    fname = "calibration_error"
    (norm,) = validate(fname, _CONSTRAINTS, norm=norm)
    return _error_from_bins(_top_label(y_true, probs, fname, n_bins, strategy), norm)


def classwise_calibration_error(
    y_true, probs, *, n_bins: int = 15, strategy: str = "uniform", norm: str = "l1"
) -> float:
    r"""Class-wise calibration error: the mean over classes of each class's own calibration error.

    For class :math:`k`, the probabilities :math:`p_{ik}` are binned (same rule as
    :func:`calibration_error`) and compared with the frequency of :math:`y_i = k` in each bin:

    .. math::

        \mathrm{CWCE} = \frac{1}{K} \sum_{k=1}^{K} \sum_b \frac{|B_{kb}|}{n}
            \Big| \frac{1}{|B_{kb}|} \sum_{i \in B_{kb}} [y_i = k]
                - \frac{1}{|B_{kb}|} \sum_{i \in B_{kb}} p_{ik} \Big|

    for ``norm="l1"`` (the "classwise-ECE" of Kull et al. 2019); ``"l2"`` and ``"max"`` replace the
    inner sum by the RMS and maximum gap as in :func:`calibration_error`, then average over classes.
    Unlike the top-label error it also checks the probabilities of the classes that were not
    predicted. Every class has ``n`` samples in its bins, most near 0, so values are typically
    smaller than the top-label ECE.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    probs : array_like of shape (n_samples, n_classes)
    n_bins : int, default 15
    strategy : {"uniform", "quantile"}, default "uniform"
        Quantile edges are taken per class.
    norm : {"l1", "l2", "max"}, default "l1"

    Returns
    -------
    float

    References
    ----------
    .. [1] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song, P. Flach, "Beyond
       temperature scaling: obtaining well-calibrated multiclass probabilities with Dirichlet
       calibration", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import classwise_calibration_error
    >>> p = np.array([[0.75, 0.25], [0.75, 0.25], [0.75, 0.25], [0.75, 0.25]])
    >>> classwise_calibration_error(np.array([0, 0, 0, 1]), p)
    0.0
    """
    fname = "classwise_calibration_error"
    check_labels_first(y_true, probs, fname)
    if is_dask(y_true, probs):
        n_bins, strategy, norm = validate(fname, _CONSTRAINTS, n_bins=n_bins, strategy=strategy, norm=norm)
        per_class = _dask.classwise_sums(
            y_true,
            probs,
            fname,
            n_bins=n_bins,
            strategy=strategy,
            uniform_edges=_uniform_edges(n_bins, np.float32),
            bin_sums=_bin_sums,
        )
        return float(np.mean([_error_from_bins(_curve(*sums), norm) for sums in per_class]))
    p = check_score_matrix(probs, fname, "probs", probabilities=True)
    y = check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
    n_bins, strategy, norm = validate(fname, _CONSTRAINTS, n_bins=n_bins, strategy=strategy, norm=norm)
    errors = [_error_from_bins(_binned(p[:, k], y == k, n_bins, strategy), norm) for k in range(p.shape[1])]
    return float(np.mean(errors))


def reliability_curve(y_true, probs, *, n_bins: int = 15, strategy: str = "uniform") -> ReliabilityCurve:
    r"""Per-bin mean confidence, accuracy and count of the top-label predictions.

    The numbers behind a reliability diagram and :func:`calibration_error` (same bins: uniform
    left-closed ``[b/M, (b+1)/M)`` with 1 in the last bin, or equal-mass quantile bins). A perfectly
    calibrated model has ``accuracy == confidence`` in every bin.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    probs : array_like of shape (n_samples, n_classes)
    n_bins : int, default 15
    strategy : {"uniform", "quantile"}, default "uniform"

    Returns
    -------
    ReliabilityCurve
        Named tuple ``(confidence, accuracy, count, edges)``; an empty bin has count 0 and NaN
        confidence and accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import reliability_curve
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    >>> curve = reliability_curve(np.array([0, 1, 1, 1]), p, n_bins=4)
    >>> curve.count
    array([0, 0, 2, 2])
    >>> curve.accuracy
    array([nan, nan, 1. , 0.5])
    >>> curve.confidence.round(3)
    array([ nan,  nan, 0.65, 0.85])
    """
    return _top_label(y_true, probs, "reliability_curve", n_bins, strategy)
