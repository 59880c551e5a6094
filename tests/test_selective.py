"""Rejection ("none of the above") and the accuracy-coverage curve."""

import numpy as np
import pytest

from softmaxkit.selective import REJECT, accuracy_coverage_curve, predict_with_reject


def test_predict_with_reject_marks_low_confidence_rows():
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    np.testing.assert_array_equal(predict_with_reject(probs, reject_below=0.5), [0, REJECT, 2])
    np.testing.assert_array_equal(predict_with_reject(probs, reject_below=0.0), [0, 0, 2])
    np.testing.assert_array_equal(
        predict_with_reject(probs, reject_below=0.8), [REJECT, REJECT, 2]
    )  # p >= threshold kept


def test_accuracy_coverage_curve_is_monotone_for_a_calibrated_model():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(4000, 5))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in probs])  # labels drawn from the probabilities
    curve = accuracy_coverage_curve(labels, probs)
    assert curve.coverage[-1] == 1.0
    assert curve.accuracy[-1] == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert curve.accuracy_at(0.2) > curve.accuracy_at(0.6) > curve.accuracy_at(1.0)
    assert np.all(np.diff(curve.threshold) <= 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: predict_with_reject(np.ones(3), reject_below=0.5), "predict_with_reject: probs must be 2-D"),
        (
            lambda: predict_with_reject(np.ones((2, 2)) / 2, reject_below=1.5),
            r"reject_below must be a number in \[0, 1\]",
        ),
        (lambda: predict_with_reject(np.full((1, 2), np.nan), reject_below=0.5), "contains NaN"),
        (lambda: accuracy_coverage_curve(np.array([0, 2]), np.ones((2, 2)) / 2), "label 2 out of range"),
        (lambda: accuracy_coverage_curve(np.array([0]), np.ones((2, 2)) / 2), r"y_true must have shape \(2,\)"),
    ],
)
def test_bad_input_gives_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_acceptance_threshold_keeps_the_requested_share():
    from softmaxkit.selective import acceptance_threshold

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=101)
    for accept in (0.5, 0.9, 0.95, 1.0):
        threshold = acceptance_threshold(probs, accept=accept)
        kept = np.mean(probs.max(axis=1) >= threshold)
        assert kept >= accept
        assert np.mean(probs.max(axis=1) > threshold) < accept  # the largest such threshold
    with pytest.raises(ValueError, match="accept must be in"):
        acceptance_threshold(probs, accept=0.0)


def test_out_of_distribution_report():
    from softmaxkit.selective import out_of_distribution

    known = np.array([[0.99, 0.01], [0.9, 0.1], [0.8, 0.2]])
    unknown = np.array([[0.55, 0.45], [0.95, 0.05]])
    report = out_of_distribution(known, unknown, reject_below=0.85)
    assert report["n_out"] == 2
    assert report["accepted"] == 0.5 and report["in_accepted"] == pytest.approx(2 / 3)
    assert report["confident"] == 0.5
    assert report["auroc"] == pytest.approx(4 / 6)  # 0.99 beats both, 0.9 and 0.8 beat 0.55
    with pytest.raises(ValueError, match="probs_in has 2 classes but probs_out has 3"):
        out_of_distribution(known, np.full((1, 3), 1 / 3), reject_below=0.5)
