"""Separating inputs of the model's classes from inputs of none of them: the AUROC of a score."""

from __future__ import annotations

import numpy as np

__all__ = ["auroc"]


def auroc(in_scores, out_scores) -> float:
    r"""Area under the ROC curve of a score that should be higher for in-distribution inputs.

    The probability that a random in-distribution input scores higher than a random
    out-of-distribution one, ties counting one half (the Mann-Whitney statistic):

    .. math::

        \mathrm{AUROC} = \frac{1}{n_\mathrm{in} n_\mathrm{out}} \sum_{i \in \mathrm{in}}
        \sum_{j \in \mathrm{out}} \left( [s_i > s_j] + \tfrac12 [s_i = s_j] \right)

    computed exactly from average ranks in :math:`O(n \log n)`. 1 separates perfectly, 0.5 is
    chance. With the top softmax probability as the score, it measures how well confidence tells
    the model's classes from "none of the above".

    Parameters
    ----------
    in_scores : array_like of shape (n_in,)
        Scores of inputs from the model's classes (the positives).
    out_scores : array_like of shape (n_out,)
        Scores of inputs from none of them.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Either set is empty or not 1-D, or a score is NaN.

    Examples
    --------
    >>> auroc([0.9, 0.8, 0.7], [0.6, 0.75])
    0.8333333333333334
    >>> auroc([0.5], [0.5])
    0.5
    """
    inside = _scores(in_scores, "in_scores")
    outside = _scores(out_scores, "out_scores")
    both = np.concatenate([inside, outside])
    order = np.argsort(both, kind="stable")
    ranks = np.empty(len(both), np.float64)
    ranks[order] = np.arange(1, len(both) + 1)
    # Average the ranks of tied scores, so that a tie counts one half.
    sorted_scores = both[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(both)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, ends - starts)
    n_in, n_out = len(inside), len(outside)
    u = ranks[:n_in].sum() - n_in * (n_in + 1) / 2.0
    return float(u / (n_in * n_out))


def _scores(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"auroc: {name} must be an array of numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"auroc: {name} must be a non-empty 1-D array, got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"auroc: {name} contains NaN")
    return array
