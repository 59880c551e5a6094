"""inputs="probabilities": the calibrators on log(p), what a per-row shift does, zeros, bad probabilities, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from softmaxkit import log_softmax, softmax
from softmaxkit.calibration import MatrixScaling, TemperatureScaling, VectorScaling, calibrator_from_dict

CALIBRATORS = [TemperatureScaling, VectorScaling, MatrixScaling]
METHODS = ["fit", "transform", "predict_proba"]


def _sample(rng, n=2000, k=4):
    """Logits whose labels follow softmax(z / 2 + class bias): over-confident and class-biased."""
    z = rng.normal(0.0, 3.0, size=(n, k))
    truth = softmax(z / 2 + np.linspace(-1.0, 1.0, k))
    y = np.minimum((truth.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    return z, y


# -------------------------------------------------------------------------------- temperature: the shift cancels


@pytest.mark.parametrize("k", [2, 5, 30])
def test_temperature_on_probabilities_is_the_temperature_on_logits(rng, k):
    z, y = _sample(rng, n=1500, k=k)
    w = rng.random(len(y))
    for sample_weight in (None, w):
        on_logits = TemperatureScaling().fit(z, y, sample_weight=sample_weight)
        on_probs = TemperatureScaling(inputs="probabilities").fit(softmax(z), y, sample_weight=sample_weight)
        assert on_probs.temperature_ == pytest.approx(on_logits.temperature_, rel=1e-12, abs=0)
        assert on_probs.nll_before_ == pytest.approx(on_logits.nll_before_, rel=1e-12)
        assert on_probs.nll_after_ == pytest.approx(on_logits.nll_after_, rel=1e-12)
        np.testing.assert_allclose(on_probs.predict_proba(softmax(z)), on_logits.predict_proba(z), rtol=0, atol=1e-13)
        # transform gives log(p) / T: the calibrated logits up to a per-row shift
        diff = on_probs.transform(softmax(z)) - on_logits.transform(z)
        np.testing.assert_allclose(diff - diff[:, :1], 0.0, atol=1e-12)


def test_temperature_ignores_any_per_row_shift_of_the_logits(rng):
    z, y = _sample(rng)
    shifted = z + rng.normal(0.0, 50.0, size=(len(y), 1))
    t = TemperatureScaling().fit(z, y).temperature_
    assert TemperatureScaling().fit(shifted, y).temperature_ == pytest.approx(t, rel=1e-12, abs=0)


def test_temperature_on_float32_probabilities(rng):
    z, y = _sample(rng)
    z32 = z.astype(np.float32)
    p32 = softmax(z32)
    on_probs = TemperatureScaling(inputs="probabilities").fit(p32, y)
    # float32 rounding of p moves log p by ~1e-7: measured 7e-11 relative in T
    assert on_probs.temperature_ == pytest.approx(TemperatureScaling().fit(z32, y).temperature_, rel=1e-6)
    assert on_probs.predict_proba(p32).dtype == np.float32 and on_probs.transform(p32).dtype == np.float32


# -------------------------------------------------------------------------------- vector and matrix: it does not


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling])
def test_fit_on_probabilities_is_the_fit_on_log_softmax(rng, cls):
    z, y = _sample(rng)
    on_probs = cls(inputs="probabilities").fit(softmax(z), y)
    on_log_probs = cls().fit(log_softmax(z), y)
    # The same numbers up to rounding. Vector scaling: 2e-16 apart (measured). Matrix scaling of
    # log-probabilities is ill-conditioned, and L-BFGS stops 2e-6 apart in the probabilities and 1e-7
    # apart (relative) in the NLL.
    atol, rel = (1e-10, 1e-8) if cls is VectorScaling else (1e-4, 1e-6)
    np.testing.assert_allclose(
        on_probs.predict_proba(softmax(z)), on_log_probs.predict_proba(log_softmax(z)), atol=atol
    )
    assert on_probs.nll_after_ == pytest.approx(on_log_probs.nll_after_, rel=rel)


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling])
def test_a_per_row_shift_changes_vector_and_matrix_scaling(rng, cls):
    """W (z + c 1) + b = W z + b + c W 1: a per-row shift only if W's rows sum alike, which they do not."""
    z, y = _sample(rng)
    shifted = z + rng.normal(0.0, 5.0, size=(len(y), 1))
    on_z, on_shifted = cls().fit(z, y), cls().fit(shifted, y)
    row_sums = on_z.scale_ if cls is VectorScaling else on_z.weight_.sum(axis=1)
    assert np.ptp(row_sums) > 1e-2  # measured 0.04
    assert np.abs(on_z.predict_proba(z) - on_shifted.predict_proba(shifted)).max() > 1e-2  # measured 0.07
    on_probs = cls(inputs="probabilities").fit(softmax(z), y)
    assert np.abs(on_z.predict_proba(z) - on_probs.predict_proba(softmax(z))).max() > 1e-2  # measured 0.06, 0.08


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling])
def test_a_shift_common_to_all_rows_goes_into_the_bias(rng, cls):
    z, y = _sample(rng)
    settings = {} if cls is VectorScaling else {"bias_reg": 0.0}  # a penalised bias cannot absorb it freely
    a, b = cls(**settings).fit(z, y), cls(**settings).fit(z + 7.0, y)
    # equal optima; L-BFGS stops 1e-6 (vector) and 2e-5 (matrix) apart, measured
    np.testing.assert_allclose(a.predict_proba(z), b.predict_proba(z + 7.0), atol=1e-4)
    assert a.nll_after_ == pytest.approx(b.nll_after_, rel=1e-8)


# -------------------------------------------------------------------------------- probabilities that are exactly 0


def _with_zeros(rng, n=400, k=5):
    """Probabilities with exact zeros (never at the label), and the same rows as logits with -1e300 for log(0)."""
    z, y = _sample(rng, n=n, k=k)
    p = softmax(z)
    zero = rng.random(p.shape) < 0.2
    zero[np.arange(n), y] = False
    p[zero] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        as_logits = np.where(zero, -1e300, np.log(p))
    return p, as_logits, y, zero


def test_temperature_maps_zero_probabilities_exactly(rng):
    p, as_logits, y, zero = _with_zeros(rng)
    cal = TemperatureScaling(inputs="probabilities").fit(p, y)
    # -inf / T = -inf: log(0) behaves as its limit, a logit so negative that exp underflows at any T
    assert cal.temperature_ == pytest.approx(TemperatureScaling().fit(as_logits, y).temperature_, rel=1e-12, abs=0)
    calibrated = cal.predict_proba(p)
    assert np.all(calibrated[zero] == 0.0) and np.all(calibrated[~zero] > 0)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.isneginf(cal.transform(p)[zero]))
    assert cal.transform(p.astype(np.float32)).dtype == np.float32


def test_temperature_refuses_labels_of_probability_zero(rng):
    p, _, y, zero = _with_zeros(rng)
    rows = np.flatnonzero(zero.any(axis=1))[:3]
    y = y.copy()
    y[rows] = zero[rows].argmax(axis=1)  # the label on a class of probability 0
    with pytest.raises(
        ValueError,
        match=rf"TemperatureScaling.fit: the probabilities give the true class probability 0 in 3 row\(s\) "
        rf"\(the first is row {rows[0]}",
    ):
        TemperatureScaling(inputs="probabilities").fit(p, y)


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling])
def test_vector_and_matrix_scaling_refuse_zero_probabilities(rng, cls):
    p, _, y, zero = _with_zeros(rng)
    name = cls.__name__
    i, j = np.argwhere(zero)[0]
    first = rf"hold {int(zero.sum())} exact zero\(s\) \(the first at row {i}, class {j}\); {name} works on log\(p\)"
    with pytest.raises(ValueError, match=rf"{name}.fit: the probabilities {first}"):
        cls(inputs="probabilities").fit(p, y)
    z5, y5 = _sample(rng, n=300, k=5)
    fitted = cls(inputs="probabilities").fit(softmax(z5), y5)  # on probabilities without zeros
    for method in ("transform", "predict_proba"):
        with pytest.raises(
            ValueError, match=rf"{name}.{method}: the probabilities {first}.*refused rather than clipped"
        ):
            getattr(fitted, method)(p)
    assert np.isfinite(fitted.predict_proba(softmax(rng.normal(size=(3, 5))))).all()


# -------------------------------------------------------------------------------- what is not a probability


@pytest.fixture
def fitted_on_probabilities(rng):
    z, y = _sample(rng, n=300, k=3)
    return {cls: cls(inputs="probabilities").fit(softmax(z), y) for cls in CALIBRATORS}


def _call(method, cal, scores):
    if method == "fit":
        return type(cal)(**cal.get_params()).fit(scores, np.zeros(len(scores), dtype=int))
    return getattr(cal, method)(scores)


BAD = [
    (
        "negative",
        [[0.5, 0.6, -0.1], [0.2, 0.3, 0.5]],
        r"probabilities must lie in \[0, 1\] \(inputs='probabilities'\); got values in \[-0.1, 0.6\]",
    ),
    ("above-one", [[1.5, -0.25, -0.25]], r"probabilities must lie in \[0, 1\].*got values in \[-0.25, 1.5\]"),
    ("logits", [[2.0, -1.0, 0.3]], r"probabilities must lie in \[0, 1\].*\(for logits, use inputs='logits'\)"),
    ("nan", [[0.5, np.nan, 0.5]], "probabilities contains NaN or infinite values"),
    ("inf", [[np.inf, 0.0, 0.0]], "probabilities contains NaN or infinite values"),
    (
        "row-sum",
        [[0.2, 0.3, 0.5], [0.3, 0.3, 0.3]],
        r"probabilities must sum to 1 along each row \(within 0.0001 for float64\); row 1 sums to 0.9 ",
    ),
    ("sigmoids", [[0.9, 0.8, 0.1]], r"probabilities must sum to 1 along each row.*row 0 sums to 1.8 .*inputs='logits'"),
    ("1-D", [0.2, 0.3, 0.5], r"probabilities must be 2-D of shape \(n_samples, n_classes\)"),
    ("strings", [["a", "b", "c"]], "probabilities must be a numeric array"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cls", CALIBRATORS)
@pytest.mark.parametrize("case, scores, match", BAD, ids=[case[0] for case in BAD])
def test_what_is_not_a_probability_is_refused(fitted_on_probabilities, cls, method, case, scores, match):
    """Each message names the calibrator, the method and the argument (by what it should hold)."""
    error = TypeError if case == "strings" else ValueError
    with pytest.raises(error, match=rf"^{cls.__name__}\.{method}: {match}"):
        _call(method, fitted_on_probabilities[cls], scores if case == "strings" else np.array(scores))


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_the_row_sum_tolerance_follows_the_dtype(fitted_on_probabilities, rng, cls):
    cal = fitted_on_probabilities[cls]
    # a float32 softmax over many classes, summed naively in float32: 1e-7 off (measured), accepted
    z = rng.normal(0.0, 3.0, size=(20, 3)).astype(np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    cal.predict_proba(e / e.sum(axis=1, keepdims=True, dtype=np.float32))
    cal.predict_proba(np.array([[0.2, 0.3, 0.50009]]))  # 9e-5 off: within 1e-4
    with pytest.raises(ValueError, match=r"within 0.0001 for float32\); row 0 sums to 1.000"):
        cal.predict_proba(np.array([[0.2, 0.3, 0.5002]], dtype=np.float32))
    cal.predict_proba(np.array([[0.2, 0.3, 0.505]], dtype=np.float16))  # float16 keeps 3 digits: within 1e-2
    with pytest.raises(ValueError, match=r"within 0.01 for float16\)"):
        cal.predict_proba(np.array([[0.2, 0.3, 0.52]], dtype=np.float16))


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_number_of_classes_and_empty_batches(fitted_on_probabilities, cls):
    cal = fitted_on_probabilities[cls]
    with pytest.raises(
        ValueError,
        match=rf"{cls.__name__}.predict_proba: probabilities have 4 classes, but the calibrator was fitted on 3",
    ):
        cal.predict_proba(np.full((2, 4), 0.25))
    assert cal.predict_proba(np.zeros((0, 3))).shape == (0, 3)
    with pytest.raises(ValueError, match=rf"{cls.__name__}.fit: probabilities needs at least one sample"):
        cls(inputs="probabilities").fit(np.zeros((0, 3)), np.zeros(0, dtype=int))


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_bad_inputs_parameter(cls):
    name = cls.__name__
    with pytest.raises(
        ValueError, match=rf"{name}.fit: inputs must be one of 'logits' \| 'probabilities', got 'logit'"
    ):
        cls(inputs="logit").fit(np.eye(3), np.arange(3))
    fitted = cls().fit(np.eye(3), np.arange(3))
    fitted.set_params(inputs="probs")
    with pytest.raises(ValueError, match=rf"{name}.predict_proba: inputs must be one of"):
        fitted.predict_proba(np.eye(3))


# -------------------------------------------------------------------------------- the dict (and model file) format


@pytest.mark.parametrize("inputs", ["logits", "probabilities"])
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_to_dict_holds_inputs_and_round_trips(rng, cls, inputs):
    z, y = _sample(rng, n=300, k=3)
    scores = z if inputs == "logits" else softmax(z)
    cal = cls(inputs=inputs).fit(scores, y)
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["params"]["inputs"] == inputs
    restored = calibrator_from_dict(d)
    assert restored.inputs == inputs and restored.to_dict() == d
    np.testing.assert_array_equal(restored.predict_proba(scores), cal.predict_proba(scores))
    assert cls(inputs=inputs).to_dict()["params"]["inputs"] == inputs  # unfitted too


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_dicts_written_before_inputs_existed_mean_logits(rng, cls):
    z, y = _sample(rng, n=300, k=3)
    cal = cls().fit(z, y)
    old = json.loads(json.dumps(cal.to_dict()))
    del old["params"]["inputs"]
    restored = calibrator_from_dict(old)
    assert restored.inputs == "logits"
    np.testing.assert_array_equal(restored.predict_proba(z), cal.predict_proba(z))


@pytest.mark.parametrize(
    "value, error, match",
    [
        ("probability", ValueError, r"from_dict: inputs must be one of 'logits' \| 'probabilities', got 'probability'"),
        (["logits"], ValueError, "from_dict: inputs must be one of"),
        (None, ValueError, "from_dict: inputs must be one of"),
        (1, ValueError, "from_dict: inputs must be one of"),
        ("x" * 100_000, ValueError, r"from_dict: inputs must be one of .*, got 'xxxx.*\.\.\.x*'$"),
    ],
)
def test_from_dict_checks_inputs(value, error, match):
    d = TemperatureScaling().to_dict()
    d["params"]["inputs"] = value
    with pytest.raises(error, match=match) as info:
        calibrator_from_dict(d)
    assert len(str(info.value)) < 200  # a value from a hostile file is quoted briefly
