"""Tests for softmaxkit.calibration: recovery on synthetic data, gradients, serialisation, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from softmaxkit import cross_entropy, softmax
from softmaxkit.calibration import (
    MatrixScaling,
    NotFittedError,
    TemperatureScaling,
    VectorScaling,
    calibrator_from_dict,
)
from softmaxkit.metrics import accuracy, calibration_error, nll

CALIBRATORS = [TemperatureScaling, VectorScaling, MatrixScaling]


def _sample_labels(rng, probs):
    """One label per row drawn from the row's categorical distribution."""
    u = rng.random((probs.shape[0], 1))
    return np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), probs.shape[1] - 1)


def _overconfident(rng, n=8000, k=5, t_true=2.5):
    """Logits whose labels follow softmax(z / t_true + class bias): over-confident and biased."""
    z = rng.normal(0.0, 3.0, size=(n, k))
    bias = np.linspace(-1.0, 1.0, k)
    y = _sample_labels(rng, softmax(z / t_true + bias))
    return z, y


# -------------------------------------------------------------------------------- quality bars


@pytest.mark.parametrize("t_true", [0.5, 1.5, 3.0])
def test_temperature_recovered_within_2_percent(t_true):
    rng = np.random.default_rng(2024)
    z = rng.normal(0.0, 2.0 * t_true, size=(20000, 10))
    y = _sample_labels(rng, softmax(z / t_true))
    ts = TemperatureScaling().fit(z, y)
    assert ts.temperature_ == pytest.approx(t_true, rel=0.02)
    assert ts.nll_after_ <= ts.nll_before_
    # the bounded search found the minimum: a fine grid around it does no better
    grid = ts.temperature_ * np.exp(np.linspace(-0.01, 0.01, 21))
    best = min(float(cross_entropy(z / t, y)) for t in grid)
    assert ts.nll_after_ <= best + 1e-9


def test_temperature_never_changes_argmax(rng):
    z = rng.normal(0.0, 4.0, size=(500, 6))
    y = rng.integers(0, 6, size=500)  # labels unrelated to z: T grows large
    ts = TemperatureScaling().fit(z, y)
    assert ts.temperature_ > 1
    np.testing.assert_array_equal(ts.predict_proba(z).argmax(axis=1), z.argmax(axis=1))
    np.testing.assert_allclose(ts.transform(z), z / ts.temperature_)


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling])
def test_rich_calibrators_lower_heldout_nll_keep_accuracy(rng, cls):
    z, y = _overconfident(rng, n=12000)
    z_fit, y_fit, z_test, y_test = z[:6000], y[:6000], z[6000:], y[6000:]
    cal = cls().fit(z_fit, y_fit)
    p_test = cal.predict_proba(z_test)
    assert nll(y_test, p_test) < nll(y_test, logits=z_test) - 0.1
    assert calibration_error(y_test, p_test) < 0.03 < calibration_error(y_test, softmax(z_test))
    assert accuracy(y_test, p_test) >= accuracy(y_test, z_test) - 0.01
    # at least as good as temperature scaling on this class-biased data
    ts = TemperatureScaling().fit(z_fit, y_fit)
    assert nll(y_test, p_test) <= nll(y_test, ts.predict_proba(z_test)) + 1e-3


def test_vector_scaling_recovers_scale_and_bias(rng):
    k = 4
    w_true, b_true = np.array([0.5, 1.0, 1.5, 0.8]), np.array([0.3, -0.2, 0.0, 0.6])
    z = rng.normal(0.0, 2.0, size=(20000, k))
    y = _sample_labels(rng, softmax(z * w_true + b_true))
    vs = VectorScaling().fit(z, y)
    np.testing.assert_allclose(vs.scale_, w_true, rtol=0.06)
    # the bias is identified up to a common shift
    np.testing.assert_allclose(vs.bias_ - vs.bias_.mean(), b_true - b_true.mean(), atol=0.05)


def test_matrix_scaling_with_strong_reg_is_vector_scaling(rng):
    z, y = _overconfident(rng, n=3000, k=4)
    vs = VectorScaling().fit(z, y)
    ms = MatrixScaling(reg=100.0, bias_reg=0.0).fit(z, y)
    off = ms.weight_ - np.diag(np.diag(ms.weight_))
    assert np.abs(off).max() < 1e-2
    np.testing.assert_allclose(np.diag(ms.weight_), vs.scale_, atol=2e-3)
    np.testing.assert_allclose(ms.predict_proba(z), vs.predict_proba(z), atol=2e-2)
    assert ms.nll_after_ == pytest.approx(vs.nll_after_, abs=1e-3)


def test_matrix_scaling_regularisation_helps_on_small_data(rng):
    # 150 samples, 10 classes: unregularised matrix scaling over-fits, ODIR does not as badly
    k = 10
    z = rng.normal(0.0, 3.0, size=(5150, k))
    y = _sample_labels(rng, softmax(z / 2.0))
    fit_z, fit_y, test_z, test_y = z[:150], y[:150], z[150:], y[150:]
    free = MatrixScaling(reg=0.0, max_iter=300).fit(fit_z, fit_y)
    odir = MatrixScaling(reg=1.0).fit(fit_z, fit_y)
    assert free.nll_after_ < odir.nll_after_  # the free matrix fits the training data better...
    assert nll(test_y, odir.predict_proba(test_z)) < nll(test_y, free.predict_proba(test_z))  # ...and generalises worse


# -------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("cal", [VectorScaling(), MatrixScaling(reg=0.5, bias_reg=0.2)])
def test_analytic_gradient_matches_central_differences(rng, cal):
    k = 4
    z = rng.normal(0.0, 2.0, size=(50, k))
    y = rng.integers(0, k, size=50)
    n_params = 2 * k if isinstance(cal, VectorScaling) else k * k + k
    theta = rng.normal(0.5, 0.5, size=n_params)
    _, grad = cal._loss_and_grad(theta, z, y)
    h = 1e-6
    numeric = np.empty(n_params)
    for j in range(n_params):
        e = np.zeros(n_params)
        e[j] = h
        numeric[j] = (cal._loss_and_grad(theta + e, z, y)[0] - cal._loss_and_grad(theta - e, z, y)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


# -------------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_json_round_trip(rng, cls):
    z, y = _overconfident(rng, n=600, k=3)
    cal = cls().fit(z, y)
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["kind"] == cls.kind
    for restored in (cls.from_dict(d), calibrator_from_dict(d)):
        assert type(restored) is cls
        np.testing.assert_array_equal(restored.predict_proba(z), cal.predict_proba(z))
        assert restored.n_classes_ == 3 and restored.nll_after_ == cal.nll_after_
        assert restored.to_dict() == d


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_unfitted_round_trip_and_not_fitted_error(cls):
    cal = cls()
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["fitted"] is None
    restored = calibrator_from_dict(d)
    for obj in (cal, restored):
        with pytest.raises(NotFittedError, match=f"{cls.__name__}.predict_proba: this {cls.__name__} is not fitted"):
            obj.predict_proba(np.zeros((2, 3)))
        with pytest.raises(ValueError, match="not fitted"):  # NotFittedError is a ValueError
            obj.transform(np.zeros((2, 3)))
    assert repr(cal).startswith(cls.__name__ + "(")


def test_params_survive_round_trip():
    ms = MatrixScaling(reg=0.3, bias_reg=0.7, max_iter=50)
    restored = calibrator_from_dict(ms.to_dict())
    assert (restored.reg, restored.bias_reg, restored.max_iter) == (0.3, 0.7, 50)
    ts = calibrator_from_dict(json.loads(json.dumps(TemperatureScaling(bounds=(0.1, 10.0)).to_dict())))
    assert ts.bounds == (0.1, 10.0)


def test_from_dict_errors():
    with pytest.raises(ValueError, match="calibrator_from_dict: d\\['kind'\\] must be one of"):
        calibrator_from_dict({"kind": "isotonic"})
    with pytest.raises(TypeError, match="calibrator_from_dict: d must be a dict"):
        calibrator_from_dict("temperature")
    with pytest.raises(ValueError, match=r"TemperatureScaling.from_dict: d describes kind 'vector'"):
        TemperatureScaling.from_dict(VectorScaling().to_dict())
    with pytest.raises(ValueError, match="missing key"):
        TemperatureScaling.from_dict({"kind": "temperature"})
    bad = TemperatureScaling().fit(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 0])).to_dict()
    bad["fitted"]["temperature"] = -1.0
    with pytest.raises(ValueError, match="temperature must be positive"):
        calibrator_from_dict(bad)
    bad_vs = VectorScaling().fit(np.eye(3), np.arange(3)).to_dict()
    bad_vs["fitted"]["scale"] = [1.0, 2.0]
    with pytest.raises(ValueError, match=r"VectorScaling.from_dict: scale and bias must have shape"):
        calibrator_from_dict(bad_vs)


# -------------------------------------------------------------------------------- validation and edge cases


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_input_validation(cls):
    name = cls.__name__
    cal = cls()
    with pytest.raises(ValueError, match=f"{name}.fit: logits must be 2-D"):
        cal.fit(np.zeros(4), np.zeros(4, int))
    with pytest.raises(ValueError, match=f"{name}.fit: labels must have shape \\(3,\\)"):
        cal.fit(np.zeros((3, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="label 2 out of range for 2 classes"):
        cal.fit(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        cal.fit(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="logits contains NaN or infinite"):
        cal.fit(np.array([[0.0, np.nan]]), np.array([0]))
    with pytest.raises(ValueError, match="at least one sample"):
        cal.fit(np.zeros((0, 2)), np.zeros(0, int))
    cal.fit(np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]), np.array([0, 1, 2, 1]))
    with pytest.raises(
        ValueError, match=f"{name}.predict_proba: logits have 4 classes, but the calibrator was fitted on 3"
    ):
        cal.predict_proba(np.zeros((2, 4)))


def test_bad_params():
    with pytest.raises(ValueError, match=r"TemperatureScaling.fit: bounds must satisfy 0 < t_min < t_max"):
        TemperatureScaling(bounds=(0.0, 10.0)).fit(np.eye(2), np.arange(2))
    with pytest.raises(TypeError, match="bounds must be a pair"):
        TemperatureScaling(bounds=5.0).fit(np.eye(2), np.arange(2))
    with pytest.raises(ValueError, match=r"MatrixScaling.fit: reg must be a finite number >= 0"):
        MatrixScaling(reg=-1.0).fit(np.eye(2), np.arange(2))
    with pytest.raises(TypeError, match=r"VectorScaling.fit: max_iter must be an integer"):
        VectorScaling(max_iter=1.5).fit(np.eye(2), np.arange(2))
    with pytest.raises(TypeError):
        TemperatureScaling((0.1, 10.0))  # options are keyword-only


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_one_class_and_dtypes(cls):
    z = np.array([[1.0], [-2.0], [0.5]])
    cal = cls().fit(z, np.zeros(3, dtype=np.int64))
    np.testing.assert_array_equal(cal.predict_proba(z), np.ones((3, 1)))
    assert cal.nll_after_ == 0.0
    cal2 = cls().fit(np.eye(3, dtype=np.float32) * 2, np.arange(3))
    assert cal2.predict_proba(np.eye(3, dtype=np.float32)).dtype == np.float32
    assert cal2.predict_proba(np.eye(3, dtype=np.int64)).dtype == np.float64


def test_fit_returns_self_and_does_not_modify_input(rng):
    z = rng.normal(size=(100, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=100)
    z_copy = z.copy()
    for cls in CALIBRATORS:
        cal = cls()
        assert cal.fit(z, y) is cal
        cal.predict_proba(z)
    np.testing.assert_array_equal(z, z_copy)


def test_separable_data_hits_lower_bound():
    z = np.array([[1.0, 0.0], [0.0, 1.0]] * 5)
    y = np.array([0, 1] * 5)
    ts = TemperatureScaling(bounds=(0.01, 100.0)).fit(z, y)
    assert ts.temperature_ == pytest.approx(0.01, rel=1e-3)
    assert np.isfinite(ts.nll_after_)
