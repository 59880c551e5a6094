"""AUROC of an in/out score, against scikit-learn and by its definition."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from softmaxkit.metrics import auroc

scores = st.lists(st.integers(0, 6).map(lambda v: v / 6), min_size=1, max_size=40)


@given(scores, scores)
def test_auroc_matches_scikit_learn_and_the_pairwise_definition(inside, outside):
    inside, outside = np.array(inside), np.array(outside)
    pairs = (inside[:, None] > outside[None, :]) + 0.5 * (inside[:, None] == outside[None, :])
    assert auroc(inside, outside) == pytest.approx(pairs.mean(), abs=1e-12)
    labels = np.r_[np.ones(len(inside)), np.zeros(len(outside))]
    assert auroc(inside, outside) == pytest.approx(roc_auc_score(labels, np.r_[inside, outside]), abs=1e-12)


def test_perfect_separation_and_chance():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5


@pytest.mark.parametrize(
    ("inside", "outside", "error", "message"),
    [
        ([], [0.5], ValueError, "in_scores must be a non-empty 1-D array"),
        ([0.5], [[0.5]], ValueError, "out_scores must be a non-empty 1-D array"),
        ([np.nan], [0.5], ValueError, "in_scores contains NaN"),
        (["a"], [0.5], TypeError, "in_scores must be an array of numbers"),
    ],
)
def test_bad_input(inside, outside, error, message):
    with pytest.raises(error, match=message):
        auroc(inside, outside)
