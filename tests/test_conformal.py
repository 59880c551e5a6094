"""Tests for softmaxkit.conformal: coverage guarantee, the quantile rule, scores, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softmaxkit import softmax
from softmaxkit.calibration import NotFittedError
from softmaxkit.conformal import SplitConformal, _conformal_rank, average_set_size, coverage

VARIANTS = [
    pytest.param({"score": "lac"}, id="lac"),
    pytest.param({"score": "aps"}, id="aps"),
    pytest.param({"score": "aps", "randomized": True}, id="aps-randomized"),
]


def _sample_labels(rng, probs):
    u = rng.random((probs.shape[0], 1))
    return np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), probs.shape[1] - 1)


# -------------------------------------------------------------------------------- quality bar


@pytest.mark.parametrize("alpha", [0.1, 0.05])
@pytest.mark.parametrize("kwargs", VARIANTS)
def test_empirical_coverage_over_random_splits(kwargs, alpha):
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 4.0, size=(10000, 10))
    y = _sample_labels(rng, softmax(z / 2.0))
    probs = softmax(z)  # an over-confident model: conformal sets are valid regardless
    covs, sizes = [], []
    for _ in range(20):
        perm = rng.permutation(10000)
        cal, test = perm[:2000], perm[2000:]
        cp = SplitConformal(**kwargs, random_state=rng).fit(probs[cal], y[cal], alpha=alpha)
        sets = cp.predict_sets(probs[test])
        covs.append(coverage(y[test], sets))
        sizes.append(average_set_size(sets))
    assert 1 - alpha - 0.01 <= np.mean(covs) <= 1 - alpha + 0.03
    assert 1.0 < np.mean(sizes) < 10.0  # informative: neither singletons nor everything


# -------------------------------------------------------------------------------- the quantile rule


@pytest.mark.parametrize("n", [1, 5, 9, 10, 19, 99, 100, 1000])
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2, 0.5, 0.7])
def test_qhat_is_the_kth_order_statistic(n, alpha):
    rng = np.random.default_rng(n)
    probs = rng.dirichlet(np.ones(4), size=n)
    labels = rng.integers(0, 4, size=n)
    cp = SplitConformal("lac").fit(probs, labels, alpha=alpha)
    scores = np.sort(1.0 - probs[np.arange(n), labels])
    k = _conformal_rank(n, alpha)
    assert k == math.ceil(round((n + 1) * (1 - alpha), 9))
    if k > n:
        assert cp.qhat_ == math.inf and cp.quantile_level_ > 1
        assert cp.predict_sets(probs).all()
    else:
        assert cp.qhat_ == scores[k - 1]
        assert cp.qhat_ == np.quantile(scores, k / n, method="inverted_cdf")
        assert cp.quantile_level_ == pytest.approx(k / n)
    assert cp.threshold_ == cp.qhat_ and cp.n_calib_ == n and cp.alpha_ == alpha


def test_rank_is_exact_where_floating_point_is_not():
    assert (19 + 1) * (1 - 0.7) > 6  # 6.000000000000001 in floating point
    assert _conformal_rank(19, 0.7) == 6
    assert _conformal_rank(999, 0.1) == 900
    assert _conformal_rank(1000, 0.1) == 901


def test_alpha_too_small_gives_all_classes():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    cp = SplitConformal("aps").fit(probs, np.array([0, 1, 0]), alpha=0.2)  # k = ceil(4 * 0.8) = 4 > 3
    assert cp.qhat_ == math.inf
    np.testing.assert_array_equal(cp.predict_sets(np.array([[1.0, 0.0]])), [[True, True]])


# -------------------------------------------------------------------------------- scores and sets


def test_lac_sets_are_probability_thresholds(rng):
    probs = rng.dirichlet(np.ones(5), size=300)
    labels = rng.integers(0, 5, size=300)
    cp = SplitConformal("lac").fit(probs[:200], labels[:200], alpha=0.2)
    test = probs[200:]
    np.testing.assert_array_equal(cp.predict_sets(test), 1.0 - test <= cp.qhat_)


def test_aps_hand_computed():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    cp = SplitConformal("aps").fit(p, np.array([1, 2]), alpha=0.4)  # k = ceil(3 * 0.6) = 2
    # scores: row 0, class 1 ranked 2nd -> 0.5 + 0.3 = 0.8; row 1, class 2 ranked 2nd -> 0.6 + 0.3 = 0.9
    assert cp.qhat_ == pytest.approx(0.9)
    sets = cp.predict_sets(np.array([[0.5, 0.3, 0.2], [0.95, 0.03, 0.02], [0.4, 0.35, 0.25]]))
    # cumulative masses: (0.5, 0.8, 1.0), (0.95, ...), (0.4, 0.75, 1.0)
    np.testing.assert_array_equal(sets, [[True, True, False], [False, False, False], [True, True, False]])


def test_aps_sets_are_prefixes_of_the_ranking(rng):
    probs = rng.dirichlet(np.full(6, 0.5), size=500)
    labels = rng.integers(0, 6, size=500)
    for randomized in (False, True):
        cp = SplitConformal("aps", randomized=randomized, random_state=3).fit(probs, labels, alpha=0.1)
        sets = cp.predict_sets(probs)
        order = np.argsort(-probs, axis=1, kind="stable")
        ranked = np.take_along_axis(sets, order, axis=1)
        # once a class is left out, every lower-ranked class is left out too
        assert not np.any(~ranked[:, :-1] & ranked[:, 1:])


def test_aps_ties_and_one_hot():
    p = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    cp = SplitConformal("aps").fit(p, np.array([2, 0]), alpha=0.5)  # k = ceil(1.5) = 2 -> max score
    # ties are ranked by class index: class 2 of row 0 has mass 0.75 at or above it
    assert cp.qhat_ == pytest.approx(1.0)
    sets = cp.predict_sets(np.array([[1.0, 0.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(sets, [[True, True, True, True]])  # cumulative mass stays 1.0


def test_randomized_reproducible_with_seed(rng):
    probs = rng.dirichlet(np.ones(4), size=400)
    labels = rng.integers(0, 4, size=400)
    a = SplitConformal("aps", randomized=True, random_state=11).fit(probs, labels)
    b = SplitConformal("aps", randomized=True, random_state=11).fit(probs, labels)
    assert a.qhat_ == b.qhat_
    np.testing.assert_array_equal(a.predict_sets(probs), b.predict_sets(probs))
    gen = np.random.default_rng(5)
    c = SplitConformal("aps", randomized=True, random_state=gen).fit(probs, labels)
    assert c.rng_ is gen
    assert SplitConformal("aps").fit(probs, labels).rng_ is None


def test_smaller_alpha_gives_larger_sets(rng):
    probs = rng.dirichlet(np.ones(5), size=600)
    labels = rng.integers(0, 5, size=600)
    for variant in ("lac", "aps"):
        loose = SplitConformal(variant).fit(probs, labels, alpha=0.3).predict_sets(probs)
        tight = SplitConformal(variant).fit(probs, labels, alpha=0.05).predict_sets(probs)
        assert np.all(tight >= loose)


def test_one_class():
    p = np.ones((5, 1))
    cp = SplitConformal("aps").fit(p, np.zeros(5, int), alpha=0.1)
    assert cp.predict_sets(np.ones((2, 1))).all()


@given(
    st.integers(1, 60),
    st.integers(1, 6),
    st.floats(0.01, 0.99),
    st.sampled_from(["lac", "aps"]),
    st.integers(0, 2**32 - 1),
)
def test_in_sample_coverage_at_least_target(n, k, alpha, score, seed):
    # On the calibration set itself, at least k of the n true scores are <= qhat: coverage >= k / n.
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = rng.integers(0, k, size=n)
    cp = SplitConformal(score).fit(probs, labels, alpha=alpha)
    cov = coverage(labels, cp.predict_sets(probs))
    assert cov >= min(1.0, cp.quantile_level_) - 1e-12
    assert cov >= 1 - alpha - 1e-12


# -------------------------------------------------------------------------------- helpers and errors


def test_coverage_and_size_helpers():
    sets = np.array([[True, False, True], [False, False, False], [True, True, True]])
    assert coverage(np.array([2, 0, 1]), sets) == pytest.approx(2 / 3)
    assert average_set_size(sets) == pytest.approx(5 / 3)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda: SplitConformal("raps").fit(np.eye(2), np.arange(2)),
            ValueError,
            "SplitConformal.fit: score must be one of",
        ),
        (
            lambda: SplitConformal("lac", randomized=True).fit(np.eye(2), np.arange(2)),
            ValueError,
            "randomized=True applies to score='aps' only",
        ),
        (
            lambda: SplitConformal("aps", randomized=1).fit(np.eye(2), np.arange(2)),
            TypeError,
            "randomized must be True or False",
        ),
        (
            lambda: SplitConformal("aps", randomized=True, random_state="seed").fit(np.eye(2), np.arange(2)),
            TypeError,
            "random_state must be None, an int",
        ),
        (
            lambda: SplitConformal().fit(np.eye(2), np.arange(2), alpha=0.0),
            ValueError,
            r"alpha must be a number in \(0, 1\)",
        ),
        (
            lambda: SplitConformal().fit(np.eye(2), np.arange(2), alpha=1.5),
            ValueError,
            r"alpha must be a number in \(0, 1\)",
        ),
        (lambda: SplitConformal().fit(np.eye(2), np.arange(2), alpha="0.1"), TypeError, "alpha must be a real number"),
        (
            lambda: SplitConformal().fit(np.eye(2), np.arange(3)),
            ValueError,
            r"SplitConformal.fit: labels must have shape \(2,\)",
        ),
        (lambda: SplitConformal().fit(np.eye(2), np.array([0, 2])), ValueError, "label 2 out of range for 2 classes"),
        (lambda: SplitConformal().fit(np.array([[0.5, np.nan]]), np.array([0])), ValueError, "probs contains NaN"),
        (
            lambda: SplitConformal().fit(np.array([[1.5, -0.5]]), np.array([0])),
            ValueError,
            r"probabilities in \[0, 1\]",
        ),
        (lambda: SplitConformal().fit(np.ones(3), np.zeros(3, int)), ValueError, "probs must be 2-D"),
        (
            lambda: SplitConformal().fit(np.eye(2), np.arange(2)).predict_sets(np.eye(3)),
            ValueError,
            "probs have 3 classes, but the predictor was fitted on 2",
        ),
        (
            lambda: SplitConformal().predict_sets(np.eye(2)),
            NotFittedError,
            "SplitConformal.predict_sets: this SplitConformal is not fitted",
        ),
        (lambda: SplitConformal().threshold_, NotFittedError, "not fitted"),
        (lambda: coverage(np.array([0, 1]), np.ones((2, 2))), TypeError, "coverage: sets must be a boolean mask"),
        (
            lambda: coverage(np.array([0, 2]), np.ones((2, 2), bool)),
            ValueError,
            "coverage: y_true has label 2 out of range",
        ),
        (lambda: average_set_size(np.ones(3, bool)), ValueError, "average_set_size: sets must be 2-D"),
    ],
)
def test_clear_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_not_fitted_error_is_value_error():
    with pytest.raises(ValueError):
        SplitConformal().predict_sets(np.eye(2))
