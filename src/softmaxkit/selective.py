"""Selective prediction: answer only when confident enough, otherwise say "none of the above".

A classifier that must pick one of ``k`` classes still has a choice: to abstain. Rejecting the inputs
whose top probability is below a threshold trades coverage (the fraction of inputs answered) for
accuracy on the answered ones; the accuracy-coverage curve shows the whole trade-off.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._validation import FRACTION, check_label_vector, check_labels_first, check_score_matrix, validate
from .metrics import auroc

__all__ = [
    "REJECT",
    "predict_with_reject",
    "accuracy_coverage_curve",
    "AccuracyCoverage",
    "acceptance_threshold",
    "out_of_distribution",
]

REJECT = -1
"""The label :func:`predict_with_reject` gives to a rejected input."""


_CONSTRAINTS = {"reject_below": FRACTION}


def predict_with_reject(probs, *, reject_below: float) -> np.ndarray:
    r"""The most probable class of each row, or :data:`REJECT` (-1) when its probability is below
    ``reject_below``.

    .. math::

        \hat y = \begin{cases} \arg\max_k p_k & \max_k p_k \ge \tau \\ -1 & \text{otherwise} \end{cases}

    Parameters
    ----------
    probs : array_like of shape (n_samples, n_classes)
    reject_below : float in [0, 1]
        The threshold ``tau``; 0 never rejects.

    Examples
    --------
    >>> predict_with_reject([[0.9, 0.1], [0.55, 0.45]], reject_below=0.6)
    array([ 0, -1])
    """
    fname = "predict_with_reject"
    p = check_score_matrix(probs, fname, "probs", probabilities=True, allow_empty=True)
    (reject_below,) = validate(fname, _CONSTRAINTS, reject_below=reject_below)
    labels = np.argmax(p, axis=1)
    return np.where(np.max(p, axis=1) >= reject_below, labels, REJECT)


class AccuracyCoverage(NamedTuple):
    """Points of the accuracy-coverage curve, from most to least selective.

    ``coverage[i]`` is the fraction of inputs answered when the ``i + 1`` most confident ones are
    answered, ``accuracy[i]`` the accuracy on those, ``threshold[i]`` the confidence of the last one.
    """

    coverage: np.ndarray
    accuracy: np.ndarray
    threshold: np.ndarray

    def index_at(self, coverage: float) -> int:
        """Index of the first point answering at least the given fraction of inputs."""
        i = int(np.searchsorted(self.coverage, coverage - 1e-12))
        return min(i, len(self.coverage) - 1)

    def accuracy_at(self, coverage: float) -> float:
        """Accuracy when answering (at least) the given fraction of inputs."""
        return float(self.accuracy[self.index_at(coverage)])

    def threshold_at(self, coverage: float) -> float:
        """The confidence below which inputs are rejected to answer (at least) the given fraction."""
        return float(self.threshold[self.index_at(coverage)])


def accuracy_coverage_curve(y_true, probs) -> AccuracyCoverage:
    """Accuracy on the answered inputs as the confidence threshold is lowered.

    Inputs are ranked by top probability (ties keep their order); answering the ``m`` most confident
    gives coverage ``m / n``. The last point (coverage 1) is the plain accuracy.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    probs : array_like of shape (n_samples, n_classes)
        Probabilities in [0, 1].

    Returns
    -------
    AccuracyCoverage

    Examples
    --------
    >>> import numpy as np
    >>> curve = accuracy_coverage_curve(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]))
    >>> curve.coverage.round(3), curve.accuracy.round(3)
    (array([0.333, 0.667, 1.   ]), array([1.   , 1.   , 0.667]))
    """
    fname = "accuracy_coverage_curve"
    check_labels_first(y_true, probs, fname)
    p = check_score_matrix(probs, fname, "probs", probabilities=True)
    y = check_label_vector(y_true, p.shape[0], p.shape[1], fname, "y_true")
    confidence = p.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    hits = (p.argmax(axis=1) == y)[order]
    answered = np.arange(1, len(y) + 1)
    return AccuracyCoverage(answered / len(y), np.cumsum(hits) / answered, confidence[order])


def acceptance_threshold(probs, *, accept: float = 0.95) -> float:
    """The largest rejection threshold that still answers at least ``accept`` of the rows of ``probs``.

    Chosen on in-distribution data (a validation split), it is the usual operating point of an
    out-of-distribution detector: keep 95% of the inputs the model knows, and see how many unknown
    ones get through (:func:`out_of_distribution`).

    Parameters
    ----------
    probs : array_like of shape (n_samples, n_classes)
    accept : float in (0, 1]

    Examples
    --------
    >>> acceptance_threshold([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.5, 0.5]], accept=0.75)
    0.6
    """
    fname = "acceptance_threshold"
    p = check_score_matrix(probs, fname, "probs", probabilities=True)
    (accept,) = validate(fname, {"accept": FRACTION}, accept=accept)
    if accept == 0.0:
        raise ValueError(f"{fname}: accept must be in (0, 1], got 0")
    confidence = np.sort(p.max(axis=1))[::-1]
    return float(confidence[max(math.ceil(accept * len(confidence) - 1e-9), 1) - 1])


def out_of_distribution(probs_in, probs_out, *, reject_below: float, confident: float = 0.9) -> dict:
    """How a classifier treats inputs from none of its classes, next to inputs from its classes.

    Parameters
    ----------
    probs_in : array_like of shape (n_in, n_classes)
        Probabilities of inputs from the model's classes.
    probs_out : array_like of shape (n_out, n_classes)
        Probabilities of inputs from none of them.
    reject_below : float in [0, 1]
        The rejection threshold (see :func:`predict_with_reject`).
    confident : float in [0, 1], default 0.9
        What counts as a confident answer.

    Returns
    -------
    dict
        ``n_out``; ``accepted``: the share of unknown inputs answered at ``reject_below`` (the
        false-positive rate of the detector); ``confident``: the share answered with top probability
        at least ``confident``; ``auroc``: the AUROC of the top probability as an in/out score
        (:func:`softmaxkit.metrics.auroc`); ``in_accepted``: the share of known inputs answered at
        ``reject_below``; and the two thresholds.

    Examples
    --------
    >>> report = out_of_distribution([[0.95, 0.05], [0.8, 0.2]], [[0.6, 0.4], [0.97, 0.03]], reject_below=0.7)
    >>> report["accepted"], report["confident"], report["auroc"]
    (0.5, 0.5, 0.5)
    """
    fname = "out_of_distribution"
    p_in = check_score_matrix(probs_in, fname, "probs_in", probabilities=True)
    p_out = check_score_matrix(probs_out, fname, "probs_out", probabilities=True)
    if p_in.shape[1] != p_out.shape[1]:
        raise ValueError(f"{fname}: probs_in has {p_in.shape[1]} classes but probs_out has {p_out.shape[1]}")
    reject_below, confident = validate(
        fname, {"reject_below": FRACTION, "confident": FRACTION}, reject_below=reject_below, confident=confident
    )
    top_in, top_out = p_in.max(axis=1), p_out.max(axis=1)
    return {
        "n_out": len(top_out),
        "reject_below": float(reject_below),
        "accepted": float(np.mean(top_out >= reject_below)),
        "in_accepted": float(np.mean(top_in >= reject_below)),
        "confident_level": float(confident),
        "confident": float(np.mean(top_out >= confident)),
        "auroc": auroc(top_in, top_out),
    }
