"""Metrics for probabilistic classifiers: accuracy, proper scores and calibration error.

Every function takes integer class labels of shape ``(n_samples,)`` and, where it needs them,
probabilities of shape ``(n_samples, n_classes)`` with the classes on the last axis. Results are
Python floats (or small NumPy arrays) computed in float64.

The calibration functions share one binning rule, documented in :func:`calibration_error`.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

from fractions import Fraction

import numpy as np

from ._validation import as_float_array, check_choice, check_finite, check_labels, to_numpy
from .losses import cross_entropy

__all__ = [
    "accuracy",
    "nll",
    "brier_score",
    "confusion_matrix",
    "top_k_accuracy",
    "calibration_error",
    "classwise_calibration_error",
    "reliability_curve",
    "ReliabilityCurve",
]

_STRATEGIES = ("uniform", "quantile")
_NORMS = ("l1", "l2", "max")


# --------------------------------------------------------------------------------------------------
# validation helpers (private; messages name the public function)


def _check_scores(x, fname, argname, *, probabilities):
    """Return ``x`` as a float64 array of shape (n, k) with n >= 1, k >= 1.

    ``probabilities=True`` also requires every entry in [0, 1] (rows are not required to sum to 1).
    """
    arr, _ = as_float_array(x, fname, argname)
    if arr.ndim != 2:
        raise ValueError(
            f"{fname}: {argname} must be 2-D of shape (n_samples, n_classes), got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{fname}: {argname} needs at least one sample and one class, got shape {arr.shape}"
        )
    arr = check_finite(arr.astype(np.float64, copy=False), fname, argname)
    if probabilities and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"{fname}: {argname} must be probabilities in [0, 1]; got values in "
            f"[{arr.min():g}, {arr.max():g}]"
        )
    return arr


def _check_label_vector(labels, n_samples, n_classes, fname, argname):
    """Integer labels of shape (n_samples,), in [0, n_classes) when ``n_classes`` is given."""
    y = to_numpy(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fname}: {argname} must hold integer class labels, got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{fname}: {argname} must be 1-D of shape (n_samples,), got shape {y.shape}")
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(
            f"{fname}: {argname} has {y.shape[0]} labels but there are {n_samples} samples"
        )
    if n_classes is not None:
        check_labels(y, n_classes, fname, argname=argname)
    elif y.size and y.min() < 0:
        raise ValueError(f"{fname}: {argname} has negative label {int(y.min())} (expected labels >= 0)")
    return y.astype(np.intp, copy=False)


def _check_n_bins(n_bins, fname):
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, (numbers.Integral, np.integer)):
        raise TypeError(f"{fname}: n_bins must be an integer, got {n_bins!r}")
    if n_bins < 1:
        raise ValueError(f"{fname}: n_bins must be >= 1, got {n_bins}")
    return int(n_bins)


# --------------------------------------------------------------------------------------------------
# point metrics


def accuracy(y_true, y_pred_or_probs) -> float:
    r"""Fraction of samples whose predicted class equals the true class.

    .. math::

        \mathrm{acc} = \frac{1}{n} \sum_{i=1}^{n} [\hat y_i = y_i],
        \qquad \hat y_i = \operatorname{argmax}_k s_{ik} \text{ when scores are given.}

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
        True class labels.
    y_pred_or_probs : array_like
        Either predicted labels (integers, shape ``(n_samples,)``) or scores of shape
        ``(n_samples, n_classes)`` (probabilities or logits: the argmax is the same). With scores, a
        tie goes to the lowest class index, as :func:`numpy.argmax` does.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import accuracy
    >>> accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]))
    0.75
    >>> accuracy(np.array([1, 0]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    1.0
    """
    fname = "accuracy"
    pred = to_numpy(y_pred_or_probs)
    if pred.ndim == 2:
        scores = _check_scores(pred, fname, "y_pred_or_probs", probabilities=False)
        y = _check_label_vector(y_true, scores.shape[0], scores.shape[1], fname, "y_true")
        pred = scores.argmax(axis=1)
    elif pred.ndim == 1:
        if pred.dtype.kind not in "iu":
            raise TypeError(
                f"{fname}: 1-D y_pred_or_probs must hold integer predicted labels, got dtype "
                f"{pred.dtype}; pass scores as a 2-D array of shape (n_samples, n_classes)"
            )
        if pred.size == 0:
            raise ValueError(f"{fname}: y_pred_or_probs needs at least one sample")
        y = _check_label_vector(y_true, pred.shape[0], None, fname, "y_true")
    else:
        raise ValueError(
            f"{fname}: y_pred_or_probs must be labels of shape (n_samples,) or scores of shape "
            f"(n_samples, n_classes), got shape {pred.shape}"
        )
    return float(np.mean(pred == y))


def nll(y_true, probs=None, *, logits=None) -> float:
    r"""Mean negative log-likelihood (cross-entropy) of the true classes.

    .. math::

        \mathrm{NLL} = -\frac{1}{n} \sum_{i=1}^{n} \log p_{i, y_i},
        \qquad p_i = \operatorname{softmax}(z_i) \text{ when logits are given.}

    Give exactly one of ``probs`` and ``logits``. Prefer logits: the loss is then computed by
    :func:`softmaxkit.cross_entropy` as ``logsumexp(z) - z_y``, exact even where a probability would
    round to 0. From probabilities nothing is clipped: a true class with probability 0 honestly
    costs ``inf``.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    probs : array_like of shape (n_samples, n_classes), optional
        Probabilities in [0, 1].
    logits : array_like of shape (n_samples, n_classes), optional
        Finite unnormalised scores.

    Returns
    -------
    float
        In [0, inf].

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import nll
    >>> y = np.array([0, 1])
    >>> round(nll(y, np.array([[0.5, 0.5], [0.2, 0.8]])), 6)
    0.458145
    >>> nll(np.array([0]), logits=np.array([[0.0, -1000.0]]))
    0.0
    """
    fname = "nll"
    if (probs is None) == (logits is None):
        raise ValueError(f"{fname}: give exactly one of probs and logits")
    if logits is not None:
        z = _check_scores(logits, fname, "logits", probabilities=False)
        y = _check_label_vector(y_true, z.shape[0], z.shape[1], fname, "y_true")
        return float(cross_entropy(z, y))
    p = _check_scores(probs, fname, "probs", probabilities=True)
    y = _check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(p[np.arange(p.shape[0]), y])))


def brier_score(y_true, probs) -> float:
    r"""Multi-class Brier score: mean squared distance between the probabilities and the one-hot label.

    .. math::

        \mathrm{BS} = \frac{1}{n} \sum_{i=1}^{n} \sum_{k=1}^{K} \big(p_{ik} - [y_i = k]\big)^2 .

    This is the original definition of Brier (1950), a proper score in [0, 2] (0 for a confident
    correct prediction, 2 for a confident wrong one). It equals scikit-learn's multi-class
    ``brier_score_loss``; for two classes it is twice the binary Brier score
    :math:`\frac1n\sum_i (p_{i1} - y_i)^2`.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    probs : array_like of shape (n_samples, n_classes)
        Probabilities in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import brier_score
    >>> round(brier_score(np.array([0, 1]), np.array([[0.9, 0.1], [0.5, 0.5]])), 6)
    0.26
    """
    fname = "brier_score"
    p = _check_scores(probs, fname, "probs", probabilities=True)
    y = _check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
    diff = p.copy()
    diff[np.arange(p.shape[0]), y] -= 1.0
    return float(np.mean(np.sum(diff * diff, axis=1)))


def confusion_matrix(y_true, y_pred, *, n_classes=None) -> np.ndarray:
    r"""Count matrix ``C`` with ``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``.

    Rows are true classes, columns predicted classes (scikit-learn's convention), so the diagonal
    holds the correct predictions and ``C.sum(axis=1)`` the class frequencies.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (n_samples,)
        True and predicted labels (non-negative).
    n_classes : int, optional
        Size of the matrix; labels must then lie in ``[0, n_classes)``. Default: one more than the
        largest label seen (0 for empty input).

    Returns
    -------
    ndarray of shape (n_classes, n_classes), dtype int64

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import confusion_matrix
    >>> confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    fname = "confusion_matrix"
    if n_classes is not None:
        if isinstance(n_classes, (bool, np.bool_)) or not isinstance(n_classes, (numbers.Integral, np.integer)):
            raise TypeError(f"{fname}: n_classes must be an integer, got {n_classes!r}")
        if n_classes < 1:
            raise ValueError(f"{fname}: n_classes must be >= 1, got {n_classes}")
        n_classes = int(n_classes)
    yt = _check_label_vector(y_true, None, n_classes, fname, "y_true")
    yp = _check_label_vector(y_pred, yt.shape[0], n_classes, fname, "y_pred")
    if n_classes is None:
        n_classes = int(max(yt.max(initial=-1), yp.max(initial=-1))) + 1
    counts = np.bincount(yt * n_classes + yp, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def top_k_accuracy(y_true, probs, *, k: int = 5) -> float:
    r"""Fraction of samples whose true class is among the ``k`` highest-scored classes.

    The rank of the true class counts the classes that beat it, a tie going to the lower class
    index (the order :func:`numpy.argmax` uses, so ``k=1`` equals :func:`accuracy`):

    .. math::

        r_i = \#\{j : s_{ij} > s_{i y_i}\} + \#\{j < y_i : s_{ij} = s_{i y_i}\},
        \qquad \mathrm{acc@k} = \frac1n \sum_i [r_i < k].

    Scikit-learn's ``top_k_accuracy_score`` breaks ties the other way (higher index first); the two
    agree whenever scores are distinct. ``k >= n_classes`` gives 1.0.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    probs : array_like of shape (n_samples, n_classes)
        Probabilities or any finite scores (logits give the same ranking).
    k : int, default 5
        At least 1.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.metrics import top_k_accuracy
    >>> p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.4, 0.4, 0.2]])
    >>> top_k_accuracy(np.array([1, 0, 1]), p, k=2)
    0.6666666666666666
    """
    fname = "top_k_accuracy"
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (numbers.Integral, np.integer)):
        raise TypeError(f"{fname}: k must be an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"{fname}: k must be >= 1, got {k}")
    s = _check_scores(probs, fname, "probs", probabilities=False)
    y = _check_label_vector(y_true, s.shape[0], s.shape[1], fname, "y_true")
    s_true = s[np.arange(s.shape[0]), y][:, None]
    lower_index = np.arange(s.shape[1])[None, :] < y[:, None]
    rank = np.sum(s > s_true, axis=1) + np.sum((s == s_true) & lower_index, axis=1)
    return float(np.mean(rank < k))


# --------------------------------------------------------------------------------------------------
# calibration


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
    if strategy == "uniform":
        # Bin membership is decided in float32 (edges and values), as torchmetrics decides it, so a
        # confidence such as 0.35 lies on the same side of an edge in both; the means stay float64.
        key = values.astype(np.float32).astype(np.float64)
    else:
        key = values
    # Left-closed bins [e_b, e_{b+1}) (as torchmetrics bins): a value equal to an inner edge goes to
    # the upper bin; values below edges[1] go to bin 0 and values at or above edges[-2] to the last
    # bin, so 0 and 1 land in the first and last bins and there is no extra bin for exactly 1.
    idx = np.searchsorted(edges[1:-1], key, side="right")
    count = np.bincount(idx, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=values, minlength=n_bins)
    sum_hit = np.bincount(idx, weights=hits.astype(np.float64), minlength=n_bins)
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


def _top_label(probs, labels, fname, n_bins, strategy):
    p = _check_scores(probs, fname, "probs", probabilities=True)
    y = _check_label_vector(labels, p.shape[0], p.shape[1], fname, "labels")
    n_bins = _check_n_bins(n_bins, fname)
    check_choice(strategy, "strategy", _STRATEGIES, fname)
    pred = p.argmax(axis=1)
    conf = p[np.arange(p.shape[0]), pred]
    return _binned(conf, pred == y, n_bins, strategy)


def calibration_error(probs, labels, *, n_bins: int = 15, strategy: str = "uniform", norm: str = "l1") -> float:
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
    probs : array_like of shape (n_samples, n_classes)
        Probabilities in [0, 1], classes on the last axis (rows need not sum to 1).
    labels : array_like of int, shape (n_samples,)
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
    >>> round(calibration_error(p, y, n_bins=2), 6)  # one bin (0.5, 1]: acc 0.75, conf 0.75
    0.0
    >>> round(calibration_error(p, y, n_bins=10), 6)  # one sample per bin: (0.1 + 0.8 + 0.3 + 0.4) / 4
    0.4
    >>> round(calibration_error(p, y, n_bins=10, norm="max"), 6)
    0.8
    """
    fname = "calibration_error"
    check_choice(norm, "norm", _NORMS, fname)
    return _error_from_bins(_top_label(probs, labels, fname, n_bins, strategy), norm)


def classwise_calibration_error(
    probs, labels, *, n_bins: int = 15, strategy: str = "uniform", norm: str = "l1"
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
    probs : array_like of shape (n_samples, n_classes)
    labels : array_like of int, shape (n_samples,)
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
    >>> classwise_calibration_error(p, np.array([0, 0, 0, 1]))
    0.0
    """
    fname = "classwise_calibration_error"
    check_choice(norm, "norm", _NORMS, fname)
    p = _check_scores(probs, fname, "probs", probabilities=True)
    y = _check_label_vector(labels, p.shape[0], p.shape[1], fname, "labels")
    n_bins = _check_n_bins(n_bins, fname)
    check_choice(strategy, "strategy", _STRATEGIES, fname)
    errors = [_error_from_bins(_binned(p[:, k], y == k, n_bins, strategy), norm) for k in range(p.shape[1])]
    return float(np.mean(errors))


def reliability_curve(probs, labels, *, n_bins: int = 15, strategy: str = "uniform") -> ReliabilityCurve:
    r"""Per-bin mean confidence, accuracy and count of the top-label predictions.

    The numbers behind a reliability diagram and :func:`calibration_error` (same bins: uniform
    left-closed ``[b/M, (b+1)/M)`` with 1 in the last bin, or equal-mass quantile bins). A perfectly
    calibrated model has ``accuracy == confidence`` in every bin.

    Parameters
    ----------
    probs : array_like of shape (n_samples, n_classes)
    labels : array_like of int, shape (n_samples,)
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
    >>> curve = reliability_curve(p, np.array([0, 1, 1, 1]), n_bins=4)
    >>> curve.count
    array([0, 0, 2, 2])
    >>> curve.accuracy
    array([nan, nan, 1. , 0.5])
    >>> curve.confidence.round(3)
    array([ nan,  nan, 0.65, 0.85])
    """
    return _top_label(probs, labels, "reliability_curve", n_bins, strategy)
