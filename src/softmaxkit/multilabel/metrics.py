"""How well a head predicts label sets: exact-set accuracy, micro F1, probability of the true classes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import OPEN_FRACTION, check_multi_hot, validate

__all__ = ["HeadMetrics", "multilabel_metrics"]


@dataclass(frozen=True)
class HeadMetrics:
    """How well one output head predicts label sets.

    A class is predicted ("yes") when its probability exceeds ``threshold``.

    Attributes
    ----------
    exact_set_accuracy : float
        Share of images whose predicted set equals the true set.
    exact_set_accuracy_one, exact_set_accuracy_two : float
        The same on images with one / two true classes.
    exact_set_accuracy_top_k : float
        Exact-set accuracy when each image's set is its ``|true set|`` most probable classes (told how
        many classes to name: the most favourable reading for a softmax head).
    micro_f1 : float
        F1 over all (image, class) yes/no decisions.
    mean_prob_true_high, mean_prob_true_low : float
        On two-class images, the mean probability of the more / less probable of the two true classes.
    mean_prob_true_one : float
        On one-class images, the mean probability of the true class.
    both_yes_rate : float
        Share of two-class images where both true classes exceed the threshold.
    n_images, n_two : int
        Images evaluated, and how many of them have two true classes.
    """

    exact_set_accuracy: float
    exact_set_accuracy_one: float
    exact_set_accuracy_two: float
    exact_set_accuracy_top_k: float
    micro_f1: float
    mean_prob_true_high: float
    mean_prob_true_low: float
    mean_prob_true_one: float
    both_yes_rate: float
    n_images: int
    n_two: int


def _mean(values) -> float:
    return float(np.mean(values)) if np.size(values) else math.nan


def multilabel_metrics(Y, probs, *, threshold: float = 0.5) -> HeadMetrics:
    r"""Exact-set accuracy, micro F1 and probability of the true classes for multi-label predictions.

    The predicted set of image ``i`` is :math:`\hat S_i = \{k : p_{ik} > \text{threshold}\}`. Micro F1
    counts true positives, false positives and false negatives over every (image, class) pair:
    :math:`F_1 = 2\,TP / (2\,TP + FP + FN)`. Statistics restricted to a subset of images (one or two
    true classes) are NaN when that subset is empty.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_classes)
        True multi-hot label sets.
    probs : ndarray of shape (n_samples, n_classes)
        Per-class probabilities (sigmoid or softmax).
    threshold : float in (0, 1), default 0.5

    Returns
    -------
    HeadMetrics

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1, 1, 0], [0, 1, 0]])
    >>> m = multilabel_metrics(Y, np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.1]]))
    >>> m.exact_set_accuracy, m.both_yes_rate, m.micro_f1
    (1.0, 1.0, 1.0)
    >>> m = multilabel_metrics(Y, np.array([[0.5, 0.45, 0.05], [0.1, 0.8, 0.1]]))
    >>> m.exact_set_accuracy, m.exact_set_accuracy_top_k, m.both_yes_rate
    (0.5, 1.0, 0.0)
    """
    fname = "multilabel_metrics"
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"{fname}: probs must have shape (n_samples, n_classes), got {p.shape}")
    T = check_multi_hot(Y, p.shape[0], fname, n_classes=p.shape[1])
    (threshold,) = validate(fname, {"threshold": OPEN_FRACTION}, threshold=threshold)
    pred = p > threshold
    exact = np.all(pred == T, axis=1)
    size = T.sum(axis=1)
    one, two = size == 1, size == 2
    rank = np.argsort(np.argsort(-p, axis=1, kind="stable"), axis=1)
    top_k_exact = np.all((rank < size[:, None]) == T, axis=1)
    tp = int(np.count_nonzero(pred & T))
    fp = int(np.count_nonzero(pred & ~T))
    fn = int(np.count_nonzero(~pred & T))
    micro_f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    true_two = np.sort(np.where(T[two], p[two], -np.inf), axis=1)[:, -2:]  # [low, high] per image
    if true_two.shape[1] < 2:  # fewer than two classes: no two-class images
        true_two = np.empty((0, 2))
    return HeadMetrics(
        exact_set_accuracy=_mean(exact),
        exact_set_accuracy_one=_mean(exact[one]),
        exact_set_accuracy_two=_mean(exact[two]),
        exact_set_accuracy_top_k=_mean(top_k_exact),
        micro_f1=float(micro_f1),
        mean_prob_true_high=_mean(true_two[:, 1]),
        mean_prob_true_low=_mean(true_two[:, 0]),
        mean_prob_true_one=_mean(p[one][T[one]]),
        both_yes_rate=_mean(np.all(true_two > threshold, axis=1)),
        n_images=len(p),
        n_two=int(np.count_nonzero(two)),
    )
