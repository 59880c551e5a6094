"""softmaxkit.evaluation: one forward pass gives every number, and the held-out split is the model's own."""

from __future__ import annotations

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.calibration import calibrate
from softmaxkit.datasets import Dataset, train_val_split
from softmaxkit.evaluation import COVERAGE_LEVELS, evaluate_model, held_out_split, probability_scores
from softmaxkit.metrics import calibration_error, nll


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.arange(300) % 3
    x = rng.random((300, 1, 2, 2), dtype=np.float32)
    x[:, 0, 0, 0] += y  # a learnable signal
    return Dataset(x[:240], y[:240], x[240:], y[240:], ("a", "b", "c"), "toy", "none")


@pytest.fixture(scope="module")
def model():
    network = nn.architectures.logistic((1, 2, 2), 3, rng=np.random.default_rng(1))
    network.metadata["train_args"] = {"seed": 5, "val_fraction": 0.2}
    return network


def test_held_out_split_recreates_the_training_split(data, model):
    x_val, y_val = held_out_split(model, data)
    _, _, x_expected, y_expected = train_val_split(
        data.x_train, data.y_train, val_fraction=0.2, rng=np.random.default_rng(5)
    )
    np.testing.assert_array_equal(x_val, x_expected)
    np.testing.assert_array_equal(y_val, y_expected)


def test_no_validation_split_means_none_not_a_default(data):
    network = nn.architectures.logistic((1, 2, 2), 3, rng=np.random.default_rng(1))
    network.metadata["train_args"] = {"seed": 0, "val_fraction": 0.0}
    assert len(held_out_split(network, data)[1]) == 0
    assert evaluate_model(network, data).summary["prediction_sets"] == []
    network.metadata.clear()  # nothing recorded: a seeded 10% split, documented as such
    assert len(held_out_split(network, data)[1]) == 24


def test_evaluate_model_numbers_agree_with_the_metrics(data, model):
    result = evaluate_model(model, data)
    s = result.summary
    probs = model.predict_proba(data.x_test).astype(np.float64)
    np.testing.assert_allclose(result.probs, probs, rtol=1e-6)
    assert s["n"] == 60 and s["calibration"] == "none" and s["class_names"] == ["a", "b", "c"]
    assert s["nll"] == pytest.approx(nll(data.y_test, logits=model.predict_logits(data.x_test).astype(np.float64)))
    assert s["ece"] == pytest.approx(calibration_error(data.y_test, probs), abs=1e-6)
    assert [row["coverage"] for row in s["accuracy_coverage"]] == list(COVERAGE_LEVELS)
    assert {row["score"] for row in s["prediction_sets"]} == {"lac", "aps"}
    assert np.array_equal(result.uncalibrated_probs, result.probs)
    assert set(probability_scores(data.y_test, probs)) == {"accuracy", "nll", "ece", "mce", "brier"}


def test_a_calibrated_model_is_evaluated_calibrated(data, model):
    x_val, y_val = held_out_split(model, data)
    calibrated = calibrate(model, x_val, y_val, method="vector")
    result = evaluate_model(calibrated, data)
    assert result.summary["calibration"] == "vector"
    np.testing.assert_allclose(result.probs, calibrated.predict_proba(data.x_test), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.uncalibrated_probs, model.predict_proba(data.x_test), rtol=1e-5, atol=1e-7)
