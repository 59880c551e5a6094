"""Tests for softmaxkit.metrics: hand-computed values, edge cases, properties, reference libraries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softmaxkit import softmax
from softmaxkit.metrics import (
    ReliabilityCurve,
    accuracy,
    brier_score,
    calibration_error,
    classwise_calibration_error,
    confusion_matrix,
    nll,
    reliability_curve,
    top_k_accuracy,
)


def _random_problem(rng, n=500, k=5, scale=2.0):
    probs = softmax(rng.normal(0.0, scale, size=(n, k)))
    labels = rng.integers(0, k, size=n)
    return probs, labels


# -------------------------------------------------------------------------------- hand-computed


def test_accuracy_labels_and_scores():
    y = np.array([0, 1, 2, 2])
    assert accuracy(y, np.array([0, 1, 1, 2])) == 0.75
    scores = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    # row 2 ties between classes 0 and 1: the lowest index (0) is predicted, as np.argmax does
    assert accuracy(y, scores) == 0.75


def test_nll_from_probs_and_logits_agree():
    y = np.array([0, 2, 1])
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    p = softmax(logits)
    expected = -np.mean(np.log(p[np.arange(3), y]))
    assert nll(y, p) == pytest.approx(expected, rel=1e-12)
    assert nll(y, logits=logits) == pytest.approx(expected, rel=1e-12)


def test_nll_logits_exact_where_probs_underflow():
    y = np.array([1])
    logits = np.array([[0.0, -800.0]])
    assert nll(y, logits=logits) == pytest.approx(800.0)
    assert nll(y, np.array([[1.0, 0.0]])) == np.inf  # honest, not clipped


def test_nll_needs_exactly_one_input():
    with pytest.raises(ValueError, match="nll: give exactly one of probs and logits"):
        nll(np.array([0]))
    with pytest.raises(ValueError, match="exactly one"):
        nll(np.array([0]), np.array([[1.0]]), logits=np.array([[0.0]]))


def test_brier_hand_computed():
    p = np.array([[0.9, 0.1], [0.5, 0.5]])
    # (0.01 + 0.01 + 0.25 + 0.25) / 2
    assert brier_score(np.array([0, 1]), p) == pytest.approx(0.26)
    assert brier_score(np.array([1]), np.array([[1.0, 0.0]])) == 2.0
    assert brier_score(np.array([0]), np.array([[1.0, 0.0]])) == 0.0


def test_confusion_matrix_hand_computed():
    cm = confusion_matrix(np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 0, 2, 2, 1]))
    np.testing.assert_array_equal(cm, [[1, 0, 0], [1, 1, 0], [0, 1, 2]])
    assert cm.dtype == np.int64
    cm4 = confusion_matrix(np.array([0, 1]), np.array([0, 1]), n_classes=4)
    assert cm4.shape == (4, 4) and cm4.sum() == 2


def test_top_k_hand_computed_and_ties():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.4, 0.4, 0.2]])
    y = np.array([1, 0, 1])
    assert top_k_accuracy(y, p, k=1) == pytest.approx(0.0)
    assert top_k_accuracy(y, p, k=2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y, p, k=3) == 1.0
    assert top_k_accuracy(y, p, k=10) == 1.0  # k >= n_classes: every class is in the top k
    # ties go to the lower index, so k=1 is plain accuracy
    tied = np.full((4, 3), 1 / 3)
    labels = np.array([0, 1, 2, 0])
    assert top_k_accuracy(labels, tied, k=1) == accuracy(labels, tied) == 0.5


def test_calibration_error_hand_computed():
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    y = np.array([0, 1, 1, 1])
    # 10 bins: each sample alone; gaps 0.1, 0.8, 0.3, 0.4
    assert calibration_error(y, p, n_bins=10) == pytest.approx(0.4)
    assert calibration_error(y, p, n_bins=10, norm="max") == pytest.approx(0.8)
    assert calibration_error(y, p, n_bins=10, norm="l2") == pytest.approx(np.sqrt((0.01 + 0.64 + 0.09 + 0.16) / 4))
    # 4 bins: (0.5, 0.75] holds 0.6, 0.7 (acc 1, conf 0.65); (0.75, 1] holds 0.8, 0.9 (acc 0.5, conf 0.85)
    assert calibration_error(y, p, n_bins=4) == pytest.approx(0.5 * 0.35 + 0.5 * 0.35)
    # one bin: overall accuracy 0.75 against mean confidence 0.75
    assert calibration_error(y, p, n_bins=1) == pytest.approx(0.0, abs=1e-15)


def test_confidence_exactly_zero_and_one():
    # one class: confidence is the probability itself and always "correct"
    p = np.array([[0.0], [1.0], [1.0], [0.0]])
    y = np.zeros(4, dtype=int)
    curve = reliability_curve(y, p, n_bins=5)
    np.testing.assert_array_equal(curve.count, [2, 0, 0, 0, 2])  # 0 in the first bin, 1 in the last
    assert calibration_error(y, p, n_bins=5) == pytest.approx(0.5)  # bin 0: |1 - 0| weight 1/2
    # top-label confidence 1 with a right answer is perfectly calibrated
    p2 = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert calibration_error(np.array([0, 1]), p2) == 0.0
    assert calibration_error(np.array([1, 0]), p2) == 1.0
    curve2 = reliability_curve(np.array([0, 1]), p2, n_bins=15)
    assert curve2.count[-1] == 2 and curve2.count.sum() == 2 and len(curve2.count) == 15


def test_inner_edge_goes_to_upper_bin_and_one_to_the_last():
    p = np.array([[0.5, 0.5], [0.75, 0.25], [1.0, 0.0]])
    curve = reliability_curve(np.array([0, 0, 0]), p, n_bins=4)  # edges 0, .25, .5, .75, 1
    np.testing.assert_array_equal(curve.count, [0, 0, 1, 2])


def test_reliability_curve_empty_bins_are_nan():
    p = np.array([[0.95, 0.05], [0.92, 0.08]])
    curve = reliability_curve(np.array([0, 1]), p, n_bins=10)
    assert isinstance(curve, ReliabilityCurve)
    assert curve.edges.shape == (11,) and curve.edges[0] == 0.0 and curve.edges[-1] == 1.0
    assert curve.count.dtype == np.int64 and curve.count.sum() == 2
    empty = curve.count == 0
    assert np.isnan(curve.confidence[empty]).all() and np.isnan(curve.accuracy[empty]).all()
    assert curve.accuracy[-1] == 0.5 and curve.confidence[-1] == pytest.approx(0.935)
    conf, acc, count, edges = curve  # unpacks as a tuple
    assert count is curve.count and edges is curve.edges and conf is curve.confidence and acc is curve.accuracy


def test_all_correct_confident():
    p = np.eye(3)[[0, 1, 2, 1]]
    y = np.array([0, 1, 2, 1])
    assert accuracy(y, p) == 1.0
    assert nll(y, p) == 0.0
    assert brier_score(y, p) == 0.0
    for norm in ("l1", "l2", "max"):
        assert calibration_error(y, p, norm=norm) == 0.0
        assert classwise_calibration_error(y, p, norm=norm) == 0.0


def test_one_class():
    p = np.ones((3, 1))
    y = np.zeros(3, dtype=np.int64)
    assert accuracy(y, p) == 1.0
    assert nll(y, p) == 0.0
    assert nll(y, logits=np.array([[5.0], [-3.0], [0.0]])) == 0.0
    assert brier_score(y, p) == 0.0
    assert top_k_accuracy(y, p, k=1) == 1.0
    assert calibration_error(y, p) == 0.0
    assert classwise_calibration_error(y, p) == 0.0
    np.testing.assert_array_equal(confusion_matrix(y, y), [[3]])


def test_quantile_bins_are_equal_mass(rng):
    probs, labels = _random_problem(rng, n=1000)
    curve = reliability_curve(labels, probs, n_bins=10, strategy="quantile")
    assert curve.count.sum() == 1000
    assert curve.count.min() >= 99 and curve.count.max() <= 101
    assert curve.edges[0] == probs.max(axis=1).min() and curve.edges[-1] == probs.max(axis=1).max()
    ece = calibration_error(labels, probs, n_bins=10, strategy="quantile")
    gaps = np.abs(curve.accuracy - curve.confidence)
    assert ece == pytest.approx(np.sum(curve.count / 1000 * gaps))


def test_classwise_matches_per_class_loop(rng):
    probs, labels = _random_problem(rng, n=300, k=4)
    expected = []
    for k in range(4):
        p_k = probs[:, k]
        idx = np.clip(np.ceil(p_k * 10).astype(int) - 1, 0, 9)
        err = 0.0
        for b in range(10):
            m = idx == b
            if m.any():
                err += m.sum() / 300 * abs(np.mean(labels[m] == k) - np.mean(p_k[m]))
        expected.append(err)
    assert classwise_calibration_error(labels, probs, n_bins=10) == pytest.approx(np.mean(expected), rel=1e-12)


def test_float32_and_list_inputs():
    p32 = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    y = np.array([0, 1])
    assert calibration_error(y, p32) == pytest.approx(calibration_error(y, p32.astype(np.float64)))
    assert accuracy([0, 1], [[0.9, 0.1], [0.2, 0.8]]) == 1.0


# -------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda: calibration_error(np.zeros(3, int), np.ones(3)), ValueError, "calibration_error: probs must be 2-D"),
        (lambda: calibration_error(np.zeros(3, int), np.ones((3, 2, 1))), ValueError, "must be 2-D"),
        (lambda: calibration_error(np.zeros(0, int), np.ones((0, 2))), ValueError, "at least one sample"),
        (
            lambda: calibration_error(np.zeros(3, int), np.full((2, 2), 0.5)),
            ValueError,
            r"y_true must have shape \(2,\) \(one label per sample\), got shape \(3,\)",
        ),
        (
            lambda: calibration_error(np.array([0, 2]), np.full((2, 2), 0.5)),
            ValueError,
            "label 2 out of range for 2 classes",
        ),
        (lambda: calibration_error(np.array([0, -1]), np.full((2, 2), 0.5)), ValueError, "out of range"),
        (
            lambda: calibration_error(np.array([0.0, 1.0]), np.full((2, 2), 0.5)),
            TypeError,
            "y_true must hold integer class labels",
        ),
        (
            lambda: calibration_error(np.zeros((2, 1), int), np.full((2, 2), 0.5)),
            ValueError,
            r"y_true must have shape \(2,\)",
        ),
        (lambda: calibration_error(np.array([0]), np.array([[np.nan, 1.0]])), ValueError, "probs contains NaN"),
        (lambda: calibration_error(np.array([0]), np.array([[1.5, -0.5]])), ValueError, r"probabilities in \[0, 1\]"),
        (
            lambda: calibration_error(np.array([0, 1]), np.full((2, 2), 0.5), n_bins=0),
            ValueError,
            "n_bins must be a positive integer",
        ),
        (
            lambda: calibration_error(np.array([0, 1]), np.full((2, 2), 0.5), n_bins=2.5),
            TypeError,
            "n_bins must be an integer",
        ),
        (
            lambda: calibration_error(np.array([0, 1]), np.full((2, 2), 0.5), strategy="equal"),
            ValueError,
            "strategy must be one of",
        ),
        (
            lambda: calibration_error(np.array([0, 1]), np.full((2, 2), 0.5), norm="l3"),
            ValueError,
            "norm must be one of",
        ),
        (
            lambda: classwise_calibration_error(np.array([0, 1]), np.full((2, 2), 0.5), norm="l3"),
            ValueError,
            "classwise_calibration_error: norm",
        ),
        (
            lambda: reliability_curve(np.array([0, 1]), np.full((2, 2), 0.5), strategy="x"),
            ValueError,
            "reliability_curve: strategy",
        ),
        (
            lambda: brier_score(np.array([0]), np.array([[2.0, -1.0]])),
            ValueError,
            r"brier_score: probs must be probabilities",
        ),
        (lambda: accuracy(np.array([0, 1]), np.array([0.0, 1.0])), TypeError, "accuracy: 1-D probs must hold integer"),
        (
            lambda: accuracy(np.array([0, 1]), np.array([0, 1, 1])),
            ValueError,
            r"accuracy: y_true must have shape \(3,\)",
        ),
        (
            lambda: top_k_accuracy(np.array([0]), np.array([[1.0, 0.0]]), k=0),
            ValueError,
            "top_k_accuracy: k must be a positive integer",
        ),
        (
            lambda: confusion_matrix(np.array([0, 3]), np.array([0, 1]), n_classes=2),
            ValueError,
            "confusion_matrix: y_true has label 3",
        ),
        (lambda: confusion_matrix(np.array([0, -1]), np.array([0, 1])), ValueError, "negative label -1"),
        (
            lambda: nll(np.array([0]), logits=np.array([[np.inf, 0.0]])),
            ValueError,
            "nll: logits contains NaN or infinite",
        ),
        (lambda: calibration_error(np.full((2, 2), 0.5), np.array([0, 1])), TypeError, r"in that order"),
    ],
)
def test_clear_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# -------------------------------------------------------------------------------- properties

probs_and_labels = st.integers(1, 6).flatmap(
    lambda k: st.tuples(
        st.lists(
            st.lists(st.floats(0.0, 1.0, allow_subnormal=False), min_size=k, max_size=k),
            min_size=1,
            max_size=40,
        ),
        st.just(k),
        st.integers(0, 2**32 - 1),
    )
)


@given(probs_and_labels, st.integers(1, 20), st.sampled_from(["uniform", "quantile"]))
def test_calibration_error_properties(data, n_bins, strategy):
    rows, k, seed = data
    p = np.array(rows)
    y = np.random.default_rng(seed).integers(0, k, size=len(rows))
    ece = calibration_error(y, p, n_bins=n_bins, strategy=strategy)
    rms = calibration_error(y, p, n_bins=n_bins, strategy=strategy, norm="l2")
    mce = calibration_error(y, p, n_bins=n_bins, strategy=strategy, norm="max")
    assert 0.0 <= ece <= rms + 1e-12 and rms <= mce + 1e-12 and mce <= 1.0
    cw = classwise_calibration_error(y, p, n_bins=n_bins, strategy=strategy)
    assert 0.0 <= cw <= 1.0
    curve = reliability_curve(y, p, n_bins=n_bins, strategy=strategy)
    assert curve.count.sum() == len(rows) and len(curve.count) == n_bins


@given(st.integers(0, 2**32 - 1))
def test_sampled_labels_are_well_calibrated(seed):
    # Labels drawn from the predicted distribution: calibrated by construction, ECE -> 0 as n grows.
    rng = np.random.default_rng(seed)
    p = softmax(rng.normal(0.0, 2.0, size=(4000, 4)))
    y = (p.cumsum(axis=1) < rng.random((4000, 1))).sum(axis=1).clip(0, 3)
    assert calibration_error(y, p, n_bins=10) < 0.05
    assert classwise_calibration_error(y, p, n_bins=10) < 0.03
    # the same probabilities against shuffled labels are badly calibrated
    assert calibration_error(rng.permutation(y), p) > 0.2


@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_top_k_monotone_and_k1_is_accuracy(seed, k):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, size=(30, 5)).astype(float)  # many ties
    y = rng.integers(0, 5, size=30)
    assert top_k_accuracy(y, scores, k=1) == accuracy(y, scores)
    assert top_k_accuracy(y, scores, k=k) <= top_k_accuracy(y, scores, k=k + 1)


# -------------------------------------------------------------------------------- references


def test_matches_sklearn(rng):
    skm = pytest.importorskip("sklearn.metrics")
    probs, labels = _random_problem(rng, n=400, k=6)
    pred = probs.argmax(axis=1)
    assert accuracy(labels, probs) == pytest.approx(skm.accuracy_score(labels, pred))
    np.testing.assert_array_equal(
        confusion_matrix(labels, pred, n_classes=6), skm.confusion_matrix(labels, pred, labels=range(6))
    )
    for k in (1, 2, 3, 5):
        assert top_k_accuracy(labels, probs, k=k) == pytest.approx(
            skm.top_k_accuracy_score(labels, probs, k=k, labels=range(6))
        )
    assert nll(labels, probs) == pytest.approx(skm.log_loss(labels, probs, labels=range(6)), rel=1e-10)
    try:
        reference = skm.brier_score_loss(labels, probs, labels=range(6))
    except ValueError:  # scikit-learn < 1.7 has only the binary Brier score
        reference = None
    if reference is not None:
        assert brier_score(labels, probs) == pytest.approx(reference, rel=1e-10)
    # binary: twice the binary Brier score of the positive class
    p2 = softmax(rng.normal(size=(100, 2)))
    y2 = rng.integers(0, 2, size=100)
    assert brier_score(y2, p2) == pytest.approx(2 * np.mean((p2[:, 1] - y2) ** 2))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_curve_matches_sklearn_calibration_curve(rng, strategy):
    calibration = pytest.importorskip("sklearn.calibration")
    probs, labels = _random_problem(rng, n=600, k=3, scale=1.5)
    labels[:300] = probs[:300].argmax(axis=1)
    conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(int)
    prob_true, prob_pred = calibration.calibration_curve(correct, conf, n_bins=8, strategy=strategy)
    curve = reliability_curve(labels, probs, n_bins=8, strategy=strategy)
    filled = curve.count > 0
    np.testing.assert_allclose(curve.accuracy[filled], prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve.confidence[filled], prob_pred, rtol=1e-12)


@pytest.mark.parametrize("n_bins", [1, 5, 15, 20])
@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_matches_torchmetrics(rng, n_bins, norm):
    torch = pytest.importorskip("torch")
    tmc = pytest.importorskip("torchmetrics.functional.classification")
    k = 7
    # float32 probabilities (what torchmetrics computes in), no confidence exactly 1
    probs = softmax(rng.normal(0.0, 2.5, size=(3000, k))).astype(np.float32)
    labels = rng.integers(0, k, size=3000)
    labels[:1500] = probs[:1500].argmax(axis=1)  # mix of right and wrong answers
    ours = calibration_error(labels, probs, n_bins=n_bins, norm=norm)
    theirs = tmc.multiclass_calibration_error(
        torch.from_numpy(probs), torch.from_numpy(labels), num_classes=k, n_bins=n_bins, norm=norm
    )
    assert ours == pytest.approx(float(theirs), abs=1e-6)
    # torch tensors are accepted directly
    assert calibration_error(torch.from_numpy(labels), torch.from_numpy(probs), n_bins=n_bins, norm=norm) == ours


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torchmetrics_on_confidences_lying_on_bin_edges(dtype):
    torch = pytest.importorskip("torch")
    tmc = pytest.importorskip("torchmetrics.functional.classification")
    rng = np.random.default_rng(3)
    for _ in range(60):
        k, n, n_bins = int(rng.integers(2, 6)), int(rng.integers(5, 60)), int(rng.integers(1, 21))
        probs = np.clip(np.round(rng.dirichlet(np.ones(k), size=n), 2), 0, 0.99).astype(dtype)  # 0.35, 0.8, ...
        labels = rng.integers(0, k, n)
        for norm in ("l1", "l2", "max"):
            theirs = tmc.multiclass_calibration_error(
                torch.from_numpy(probs), torch.from_numpy(labels), num_classes=k, n_bins=n_bins, norm=norm
            )
            assert calibration_error(labels, probs, n_bins=n_bins, norm=norm) == pytest.approx(float(theirs), abs=1e-6)
