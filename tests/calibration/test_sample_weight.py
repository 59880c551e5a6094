"""sample_weight: the weighted mean NLL, sum(w_i * nll_i) / sum(w_i), as scikit-learn weighs log-loss."""

from __future__ import annotations

import numpy as np
import pytest

from softmaxkit import cross_entropy, softmax
from softmaxkit.calibration import MatrixScaling, TemperatureScaling, VectorScaling

CALIBRATORS = [TemperatureScaling, VectorScaling, MatrixScaling]
INPUTS = ["logits", "probabilities"]


@pytest.fixture
def data(rng):
    """Over-confident logits with a class bias (so every calibrator has something to fit), their probabilities, labels."""
    n, k = 600, 4
    z = rng.normal(0.0, 3.0, size=(n, k))
    truth = softmax(z / 2 + np.linspace(-1.0, 1.0, k))
    y = np.minimum((truth.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    return {"logits": z, "probabilities": softmax(z)}, y


def _fitted_numbers(cal):
    return np.concatenate([np.ravel(getattr(cal, name + "_")) for name in cal._fitted_names])


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_integer_weights_equal_repeated_rows(data, rng, cls, inputs):
    scores, y = data
    s = scores[inputs]
    w = rng.integers(0, 4, size=len(y))  # zeros included: those rows are dropped
    weighted = cls(inputs=inputs).fit(s, y, sample_weight=w)
    repeated = cls(inputs=inputs).fit(np.repeat(s, w, axis=0), np.repeat(y, w))
    assert weighted.nll_before_ == pytest.approx(repeated.nll_before_, rel=1e-12)
    if cls is MatrixScaling and inputs == "probabilities":
        # The same objective summed in another order. Matrix scaling of log-probabilities (which reach
        # -30 here) is ill-conditioned, and L-BFGS stops (relative decrease of the NLL below 1e-12) at
        # points 2e-5 apart in W whose NLLs differ by 4e-8 (measured): equal optima, not equal stops.
        np.testing.assert_allclose(weighted.predict_proba(s), repeated.predict_proba(s), rtol=0, atol=1e-4)
        assert weighted.nll_after_ == pytest.approx(repeated.nll_after_, rel=1e-6)
        return
    # measured differences below 1e-12
    np.testing.assert_allclose(_fitted_numbers(weighted), _fitted_numbers(repeated), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(weighted.predict_proba(s), repeated.predict_proba(s), rtol=0, atol=1e-10)
    assert weighted.nll_after_ == pytest.approx(repeated.nll_after_, rel=1e-10)


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_zero_weights_equal_dropped_rows_exactly(data, rng, cls, inputs):
    scores, y = data
    s = scores[inputs]
    keep = rng.random(len(y)) < 0.7
    weighted = cls(inputs=inputs).fit(s, y, sample_weight=keep.astype(float))
    dropped = cls(inputs=inputs).fit(s[keep], y[keep])
    np.testing.assert_array_equal(_fitted_numbers(weighted), _fitted_numbers(dropped))
    assert (weighted.nll_before_, weighted.nll_after_) == (dropped.nll_before_, dropped.nll_after_)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_equal_weights_are_no_weights(data, cls):
    scores, y = data
    z = scores["logits"]
    plain = cls().fit(z, y)
    for w in (np.ones(len(y)), np.full(len(y), 1e-300), np.full(len(y), 7.5), [3] * len(y)):
        np.testing.assert_array_equal(_fitted_numbers(cls().fit(z, y, sample_weight=w)), _fitted_numbers(plain))


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_scaling_the_weights_changes_nothing(data, rng, cls):
    scores, y = data
    z = scores["logits"]
    w = rng.random(len(y))
    a, b = cls().fit(z, y, sample_weight=w), cls().fit(z, y, sample_weight=w * 1e6)
    np.testing.assert_allclose(_fitted_numbers(a), _fitted_numbers(b), rtol=1e-9, atol=1e-12)
    huge = cls().fit(z, y, sample_weight=w * 1e307)  # the sum would overflow: weights are rescaled first
    np.testing.assert_allclose(_fitted_numbers(huge), _fitted_numbers(a), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_the_nll_attributes_are_weighted_means(data, rng, cls):
    scores, y = data
    z = scores["logits"]
    w = rng.random(len(y))
    cal = cls().fit(z, y, sample_weight=w)
    per_row_before = cross_entropy(z, y, reduction="none")
    per_row_after = cross_entropy(cal.transform(z), y, reduction="none")
    assert cal.nll_before_ == pytest.approx(np.sum(w * per_row_before) / np.sum(w), rel=1e-12)
    assert cal.nll_after_ == pytest.approx(np.sum(w * per_row_after) / np.sum(w), rel=1e-12)
    assert cal.nll_after_ < cal.nll_before_


def test_weights_move_the_temperature_towards_the_heavy_rows(rng):
    """Rows drawn at two temperatures: weighting one group pulls the fit to its temperature."""
    n = 4000
    z = rng.normal(0.0, 3.0, size=(n, 5))
    first = np.arange(n) < n // 2
    t_true = np.where(first, 0.5, 3.0)
    y = (softmax(z / t_true[:, None]).cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(max=4)
    both = TemperatureScaling().fit(z, y).temperature_
    mostly_first = TemperatureScaling().fit(z, y, sample_weight=np.where(first, 1.0, 0.01)).temperature_
    mostly_second = TemperatureScaling().fit(z, y, sample_weight=np.where(first, 0.01, 1.0)).temperature_
    assert mostly_first < both < mostly_second
    assert mostly_first == pytest.approx(0.5, rel=0.2) and mostly_second == pytest.approx(3.0, rel=0.2)


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling])
def test_weighted_gradient_matches_central_differences(rng, cls):
    k = 4
    s = rng.normal(0.0, 2.0, size=(50, k))
    y = rng.integers(0, k, size=50)
    w = rng.random(50)
    w /= w.sum()
    cal = cls() if cls is VectorScaling else cls(reg=0.5, bias_reg=0.2)
    n_params = 2 * k if cls is VectorScaling else k * k + k
    theta = rng.normal(0.5, 0.5, size=n_params)
    _, grad = cal._loss_and_grad(theta, s, y, w)
    h = 1e-6
    numeric = np.empty(n_params)
    for j in range(n_params):
        e = np.zeros(n_params)
        e[j] = h
        numeric[j] = (cal._loss_and_grad(theta + e, s, y, w)[0] - cal._loss_and_grad(theta - e, s, y, w)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_bad_sample_weight(data, cls):
    scores, y = data
    z = scores["logits"]
    name = cls.__name__
    n = len(y)
    cases = [
        (np.ones(n - 1), ValueError, rf"{name}.fit: sample_weight must have shape \({n},\) \(one weight per sample\)"),
        (np.ones((n, 1)), ValueError, "sample_weight must have shape"),
        (2.0, ValueError, "sample_weight must have shape"),
        (np.r_[-1.0, np.ones(n - 1)], ValueError, rf"{name}.fit: sample_weight must be >= 0, got -1"),
        (np.r_[np.nan, np.ones(n - 1)], ValueError, rf"{name}.fit: sample_weight contains NaN or infinite"),
        (np.r_[np.inf, np.ones(n - 1)], ValueError, "sample_weight contains NaN or infinite"),
        (np.zeros(n), ValueError, rf"{name}.fit: sample_weight is zero for every row"),
        (np.array(["1"] * n), TypeError, rf"{name}.fit: sample_weight must be a numeric array"),
        (np.ones(n, dtype=complex), TypeError, "sample_weight must be real-valued"),
    ]
    for w, error, match in cases:
        with pytest.raises(error, match=match):
            cls().fit(z, y, sample_weight=w)


def test_a_weight_of_zero_drops_a_row_the_fit_could_not_take(rng):
    """A row whose label has probability 0 is refused; weighted 0 it is dropped, like any other row."""
    p = softmax(rng.normal(size=(50, 3)))
    y = p.argmax(axis=1)
    p[0] = [0.0, 0.5, 0.5]
    y[0] = 0
    with pytest.raises(ValueError, match=r"true class probability 0 in 1 row\(s\) \(the first is row 0\)"):
        TemperatureScaling(inputs="probabilities").fit(p, y)
    p[7], y[7] = [0.5, 0.5, 0.0], 2
    with pytest.raises(ValueError, match=r"in 1 row\(s\) \(the first is row 7\)"):  # numbered as passed
        TemperatureScaling(inputs="probabilities").fit(p, y, sample_weight=np.r_[0.0, np.ones(49)])
    with pytest.raises(
        ValueError, match=r"VectorScaling.fit: the probabilities hold 1 exact zero\(s\) \(the first at row 7"
    ):
        VectorScaling(inputs="probabilities").fit(p, y, sample_weight=np.r_[0.0, np.ones(49)])
    p[7], y[7] = [0.5, 0.5, 0.0], 1
    w = np.r_[0.0, np.ones(49)]
    weighted = TemperatureScaling(inputs="probabilities").fit(p, y, sample_weight=w)
    assert weighted.temperature_ == TemperatureScaling(inputs="probabilities").fit(p[1:], y[1:]).temperature_
