"""Scores of predictions against the true classes: accuracy, NLL, Brier, confusion matrix, top-k.

Every function takes the true labels first, ``y_true`` of shape ``(n_samples,)``, then the
predictions (``probs`` of shape ``(n_samples, n_classes)``, classes on the last axis). Results are
Python floats (or small NumPy arrays) computed in float64.
"""

from __future__ import annotations

import numpy as np

from .._dask import is_dask
from .._validation import Integer, check_label_vector, check_labels_first, check_score_matrix, to_numpy, validate
from ..losses import cross_entropy
from . import _dask

__all__ = ["accuracy", "nll", "brier_score", "confusion_matrix", "top_k_accuracy"]

_CONSTRAINTS = {"k": Integer(1), "n_classes": Integer(1)}


def accuracy(y_true, probs) -> float:
    r"""Fraction of samples whose predicted class equals the true class.

    .. math::

        \mathrm{acc} = \frac{1}{n} \sum_{i=1}^{n} [\hat y_i = y_i],
        \qquad \hat y_i = \operatorname{argmax}_k s_{ik} \text{ when scores are given.}

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
        True class labels.
    probs : array_like
        Scores of shape ``(n_samples, n_classes)`` (probabilities or logits: the argmax is the
        same), or already predicted labels (integers, shape ``(n_samples,)``). With scores, a tie
        goes to the lowest class index, as :func:`numpy.argmax` does.

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
    check_labels_first(y_true, probs, fname)
    if is_dask(y_true, probs):
        return _dask.accuracy(y_true, probs, fname)
    pred = to_numpy(probs, fname, "probs")
    if pred.ndim == 2:
        scores = check_score_matrix(pred, fname, "probs", probabilities=False)
        y = check_label_vector(y_true, scores.shape[0], scores.shape[1], fname, "y_true")
        pred = scores.argmax(axis=1)
    elif pred.ndim == 1:
        if pred.dtype.kind not in "iu":
            raise TypeError(
                f"{fname}: 1-D probs must hold integer predicted labels, got dtype "
                f"{pred.dtype}; pass scores as a 2-D array of shape (n_samples, n_classes)"
            )
        if pred.size == 0:
            raise ValueError(f"{fname}: probs needs at least one sample")
        y = check_label_vector(y_true, pred.shape[0], None, fname, "y_true")
    else:
        raise ValueError(
            f"{fname}: probs must be scores of shape (n_samples, n_classes) or labels of shape "
            f"(n_samples,), got shape {pred.shape}"
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
    if probs is not None:
        check_labels_first(y_true, probs, fname)
    if (probs is None) == (logits is None):
        raise ValueError(f"{fname}: give exactly one of probs and logits")
    if is_dask(y_true, probs, logits):
        return _dask.nll(y_true, probs, logits, fname)
    if logits is not None:
        z = check_score_matrix(logits, fname, "logits", probabilities=False)
        y = check_label_vector(y_true, z.shape[0], z.shape[1], fname, "y_true")
        return float(cross_entropy(z, y))
    p = check_score_matrix(probs, fname, "probs", probabilities=True)
    y = check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
    with np.errstate(divide="ignore"):
        return float(0.0 - np.mean(np.log(p[np.arange(p.shape[0]), y])))  # 0 - x: +0.0, not -0.0, when every p is 1


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
    check_labels_first(y_true, probs, fname)
    if is_dask(y_true, probs):
        return _dask.brier_score(y_true, probs, fname)
    p = check_score_matrix(probs, fname, "probs", probabilities=True)
    y = check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
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
        (n_classes,) = validate(fname, _CONSTRAINTS, n_classes=n_classes)
    if is_dask(y_true, y_pred):
        return _dask.confusion_matrix(y_true, y_pred, n_classes, fname)
    yt = check_label_vector(y_true, None, n_classes, fname, "y_true")
    yp = check_label_vector(y_pred, yt.shape[0], n_classes, fname, "y_pred")
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
    check_labels_first(y_true, probs, fname)
    (k,) = validate(fname, _CONSTRAINTS, k=k)
    if is_dask(y_true, probs):
        return _dask.top_k_accuracy(y_true, probs, k, fname)
    s = check_score_matrix(probs, fname, "probs", probabilities=False)
    y = check_label_vector(y_true, s.shape[0], s.shape[1], fname, "y_true")
    s_true = s[np.arange(s.shape[0]), y][:, None]
    lower_index = np.arange(s.shape[1])[None, :] < y[:, None]
    rank = np.sum(s > s_true, axis=1) + np.sum((s == s_true) & lower_index, axis=1)
    return float(np.mean(rank < k))
