"""The calibrators as scikit-learn estimators: the protocol, the common checks, parity with CalibratedClassifierCV."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from softmaxkit import softmax
from softmaxkit.calibration import MatrixScaling, NotFittedError, TemperatureScaling, VectorScaling

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError as SklearnNotFittedError  # noqa: E402
from sklearn.utils import estimator_checks  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

CALIBRATORS = [TemperatureScaling, VectorScaling, MatrixScaling]
INPUTS = ["logits", "probabilities"]


def _data(rng, n=300, k=4):
    """Over-confident logits, their probabilities, labels drawn from softmax(z / 2)."""
    z = rng.normal(0.0, 3.0, size=(n, k))
    p = softmax(z / 2)
    y = np.minimum((p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    return z, softmax(z), y


def _scores(inputs, z, p):
    return z if inputs == "logits" else p


# -------------------------------------------------------------------------------- the protocol


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
@pytest.mark.parametrize(
    "check",
    [
        # the checks of the estimator API that hold for any configuration: they fit nothing (random
        # matrices are not probabilities), or only call methods before fit
        "check_get_params_invariance",
        "check_set_params",
        "check_parameters_default_constructible",
        "check_no_attributes_set_in_init",
        "check_estimator_cloneable",
        "check_estimator_repr",
        "check_do_not_raise_errors_in_init_or_set_params",
        "check_estimators_unfitted",
        "check_valid_tag_types",
        "check_estimator_tags_renamed",
        "check_mixin_order",
    ],
)
def test_api_checks_of_scikit_learn(cls, inputs, check):
    getattr(estimator_checks, check)(cls.__name__, cls(inputs=inputs))


# Why each check of check_estimator that fails does not apply to a calibrator of logits (the rest,
# about 37 checks per calibrator, must pass). Probabilities are left out: the checks feed random
# matrices, which are not probabilities (rows summing to 1), and refusing them is the point.
_LABELS = "feeds labels 0..2 with fewer columns: a calibrator's labels are column indices, so they are refused"
_MESSAGE = "expects scikit-learn's wording of an error softmaxkit words its own way (class.method: argument ...)"
_NOT_APPLICABLE = {
    "check_estimators_overwrite_params": _LABELS + " (test_fit_changes_no_parameter checks the guarantee)",
    "check_estimators_fit_returns_self": _LABELS + " (test_fit_returns_self checks it)",
    "check_readonly_memmap_input": _LABELS,
    "check_sample_weights_pandas_series": _LABELS,
    "check_sample_weights_not_an_array": _LABELS,
    "check_sample_weights_shape": _LABELS + " (test_sample_weight.py checks bad shapes)",
    "check_sample_weights_not_overwritten": _LABELS,
    "check_fit2d_1feature": _LABELS,
    "check_estimators_nan_inf": "feeds float labels, which softmaxkit refuses rather than truncates",
    "check_n_features_in_after_fitting": _MESSAGE,
    "check_estimators_empty_data_messages": _MESSAGE,
    "check_fit2d_predict1d": _MESSAGE,
    "check_complex_data": "complex scores are a TypeError in softmaxkit, as every non-real array is",
    "check_dtype_object": "an object array is a TypeError in softmaxkit, never converted",
    "check_estimator_sparse_tag": "sparse scores are refused (TypeError) without naming sparsity: " + _MESSAGE,
    "check_estimator_sparse_array": "sparse scores are refused (TypeError) without naming sparsity: " + _MESSAGE,
    "check_estimator_sparse_matrix": "sparse scores are refused (TypeError) without naming sparsity: " + _MESSAGE,
}
_ILL_POSED = {
    "check_sample_weight_equivalence_on_dense_data": (
        "15 rows of 30 separable classes: the NLL of 60 or 930 parameters has no minimiser (it falls towards "
        "infinite weights), so where L-BFGS stops is arbitrary; test_sample_weight.py checks the equivalence "
        "where a minimiser exists"
    )
}


@pytest.mark.parametrize(
    "estimator",
    # fewer iterations: several checks fit separable data, which has no minimiser, so L-BFGS runs to max_iter
    [TemperatureScaling(), VectorScaling(max_iter=50), MatrixScaling(max_iter=50)],
    ids=lambda est: type(est).__name__,
)
def test_check_estimator_on_logits(estimator):
    pytest.importorskip("sklearn", minversion="1.6")  # expected_failed_checks
    expected = dict(_NOT_APPLICABLE)
    if not isinstance(estimator, TemperatureScaling):
        expected.update(_ILL_POSED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "does not inherit from BaseEstimator": the protocol is implemented instead
        results = estimator_checks.check_estimator(estimator, expected_failed_checks=expected, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert len(passed) >= 30, sorted(passed)


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_get_params_set_params_clone(rng, cls, inputs):
    names = {
        TemperatureScaling: ["bounds", "inputs"],
        VectorScaling: ["inputs", "max_iter"],
        MatrixScaling: ["bias_reg", "inputs", "max_iter", "reg"],
    }[cls]
    bounds = [0.1, 10.0]  # stored as given: a list stays the very same list
    est = cls(inputs=inputs, **({"bounds": bounds} if cls is TemperatureScaling else {}))
    params = est.get_params()
    assert sorted(params) == names and params["inputs"] == inputs
    if cls is TemperatureScaling:
        assert params["bounds"] is bounds
    assert est.get_params(deep=False) == params

    assert est.set_params() is est
    assert est.set_params(inputs="logits").inputs == "logits"
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.set_params: invalid parameter\(s\) \['nope'\]"):
        est.set_params(inputs="probabilities", nope=1)
    assert est.inputs == "logits"  # nothing is set when a name is wrong
    est.set_params(inputs=inputs)

    z, p, y = _data(rng)
    est.fit(_scores(inputs, z, p), y)
    twin = clone(est)
    assert type(twin) is cls and twin.get_params() == est.get_params()
    assert not hasattr(twin, "n_classes_")  # a clone is unfitted
    with pytest.raises(NotFittedError):
        twin.predict_proba(_scores(inputs, z, p))


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_fit_changes_no_parameter(rng, cls, inputs):
    z, p, y = _data(rng)
    est = cls(inputs=inputs)
    before = {k: (v, type(v)) for k, v in est.get_params().items()}
    est.fit(_scores(inputs, z, p), y)
    assert {k: (v, type(v)) for k, v in est.get_params().items()} == before
    public = {k for k in vars(est) if not k.startswith("_")}
    assert {k for k in public if not k.endswith("_")} == set(before)  # everything fit adds ends in _


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_fit_returns_self(rng, cls):
    z, _, y = _data(rng)
    est = cls()
    assert est.fit(z, y) is est
    assert est.fit(z, y, sample_weight=np.ones(len(y))) is est
    assert est.fit(z, y, None) is est  # positional, as softmaxkit.estimator calls it


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_check_is_fitted_and_not_fitted_error(rng, cls):
    est = cls()
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(est)
    with pytest.raises(SklearnNotFittedError, match=f"{cls.__name__}.transform: this {cls.__name__} is not fitted"):
        est.transform(np.zeros((2, 3)))
    try:
        est.predict_proba(np.zeros((2, 3)))
    except NotFittedError as exc:  # softmaxkit's class and scikit-learn's at once
        assert isinstance(exc, (SklearnNotFittedError, ValueError, AttributeError))
        restored = pickle.loads(pickle.dumps(exc))  # pickles as softmaxkit's (joblib pickles errors)
        assert type(restored) is NotFittedError and restored.args == exc.args
    z, _, y = _data(rng)
    check_is_fitted(est.fit(z, y))
    assert est.n_features_in_ == est.n_classes_ == 4


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_tags(cls):
    from sklearn.utils import get_tags

    assert not get_tags(cls()).input_tags.positive_only
    tags = get_tags(cls(inputs="probabilities"))
    assert tags.input_tags.positive_only and tags.target_tags.required and tags.requires_fit
    assert not tags.input_tags.sparse and not tags.input_tags.allow_nan
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]
    assert cls(inputs="probabilities")._more_tags()["requires_positive_X"]  # scikit-learn < 1.6


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_transform_and_fit_transform_preserve_float_dtype(rng, cls):
    z, _, y = _data(rng)
    est = cls()
    out = est.fit_transform(z.astype(np.float32), y)
    assert out.dtype == np.float32 and out.shape == z.shape
    np.testing.assert_array_equal(out, est.transform(z.astype(np.float32)))


def test_grid_search_over_a_parameter(rng):
    """A calibrator in a scikit-learn tool: cross-validated choice of the ODIR weight."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GridSearchCV

    z, _, y = _data(rng, n=400)

    def neg_nll(est, scores, labels):
        return -log_loss(labels, est.predict_proba(scores), labels=np.arange(scores.shape[1]))

    search = GridSearchCV(MatrixScaling(), {"reg": [1e-3, 1.0]}, scoring=neg_nll, cv=3).fit(z, y)
    assert search.best_params_["reg"] in (1e-3, 1.0) and np.isfinite(search.best_score_)
    assert isinstance(search.best_estimator_, MatrixScaling) and search.best_estimator_.n_classes_ == 4


# -------------------------------------------------------------------------------- parity with scikit-learn


@pytest.fixture(scope="module")
def digits_models():
    """A logistic regression and an MLP trained on half of the digits; a calibration and a test quarter."""
    pytest.importorskip("sklearn", minversion="1.8")  # CalibratedClassifierCV(method="temperature"), FrozenEstimator
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    x, y = load_digits(return_X_y=True)
    x = x / 16
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, train_size=0.5, random_state=0, stratify=y)
    x_cal, x_test, y_cal, _ = train_test_split(x_rest, y_rest, train_size=0.5, random_state=0, stratify=y_rest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        logistic = LogisticRegression(C=10.0, max_iter=2000).fit(x_train, y_train)
        mlp = MLPClassifier((32,), max_iter=300, random_state=0).fit(x_train, y_train)
    weights = np.random.default_rng(0).integers(0, 4, size=len(y_cal)).astype(float)
    return {"logistic": logistic, "mlp": mlp, "cal": (x_cal, y_cal), "test": x_test, "weights": weights}


def _sklearn_temperature(model, x, y, sample_weight):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "FrozenEstimator does not accept sample_weight": it is not refitted
        cal = CalibratedClassifierCV(FrozenEstimator(model), method="temperature").fit(
            x, y, sample_weight=sample_weight
        )
    (calibrated,) = cal.calibrated_classifiers_
    (scaler,) = calibrated.calibrators
    return cal, 1 / float(scaler.beta_)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_same_temperature_as_calibrated_classifier_cv_on_logits(digits_models, weighted):
    """scikit-learn fits softmax(beta * decision_function) on the weighted mean NLL, bounded search on log beta.

    Measured (scikit-learn 1.9.1): the temperatures differ by 6e-9 (relative) unweighted and 7e-9
    weighted, the calibrated probabilities by 3e-9: the resolution of scikit-learn's search on the
    NLL's values. softmaxkit's root of the derivative agrees with a 40-digit reference to 1e-16
    (test_temperature_matches_a_40_digit_reference).
    """
    model = digits_models["logistic"]
    x_cal, y_cal = digits_models["cal"]
    w = digits_models["weights"] if weighted else None
    cal, t_sklearn = _sklearn_temperature(model, x_cal, y_cal, w)
    ours = TemperatureScaling().fit(model.decision_function(x_cal), y_cal, sample_weight=w)
    assert abs(ours.temperature_ / t_sklearn - 1) < 1e-7
    x_test = digits_models["test"]
    np.testing.assert_allclose(
        ours.predict_proba(model.decision_function(x_test)), cal.predict_proba(x_test), atol=1e-7
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_same_temperature_as_calibrated_classifier_cv_on_probabilities(digits_models, weighted):
    """An MLP has no decision_function: scikit-learn takes log(p + 1e-12), softmaxkit log(p) (inputs="probabilities").

    The 1e-12 moves only the log of probabilities near 1e-12, which weigh almost nothing here: measured
    differences 5e-9 (unweighted) and 3e-10 (weighted) in T, 2e-9 in the probabilities.
    """
    model = digits_models["mlp"]
    x_cal, y_cal = digits_models["cal"]
    w = digits_models["weights"] if weighted else None
    cal, t_sklearn = _sklearn_temperature(model, x_cal, y_cal, w)
    ours = TemperatureScaling(inputs="probabilities").fit(model.predict_proba(x_cal), y_cal, sample_weight=w)
    assert abs(ours.temperature_ / t_sklearn - 1) < 1e-6
    x_test = digits_models["test"]
    np.testing.assert_allclose(ours.predict_proba(model.predict_proba(x_test)), cal.predict_proba(x_test), atol=1e-6)


def test_temperature_matches_a_40_digit_reference(digits_models):
    """The optimum as the root of d NLL / d beta, found with mpmath at 40 digits on 120 calibration rows."""
    mpmath = pytest.importorskip("mpmath")
    model = digits_models["logistic"]
    x_cal, y_cal = digits_models["cal"]
    z, y = model.decision_function(x_cal[:120]), y_cal[:120]
    ours = TemperatureScaling().fit(z, y).temperature_
    ours_p = TemperatureScaling(inputs="probabilities").fit(softmax(z), y).temperature_

    with mpmath.workdps(40):
        rows = [([mpmath.mpf(float(v)) for v in row], int(label)) for row, label in zip(z, y)]

        def slope(beta):
            total = mpmath.mpf(0)
            for row, label in rows:
                e = [mpmath.exp(beta * v) for v in row]
                total += mpmath.fsum(ei * v for ei, v in zip(e, row)) / mpmath.fsum(e) - row[label]
            return total / len(rows)

        reference = float(1 / mpmath.findroot(slope, 1 / ours))
    assert abs(ours / reference - 1) < 1e-13
    assert abs(ours_p / reference - 1) < 1e-13


def test_the_calibrators_do_not_import_scikit_learn():
    """The protocol is implemented, not inherited: loading a model file never pays scikit-learn's import."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from softmaxkit.calibration import MatrixScaling, TemperatureScaling, VectorScaling, load_model\n"
        "for cls in (TemperatureScaling, VectorScaling, MatrixScaling):\n"
        "    cal = cls().fit(np.eye(3) * 2, np.arange(3), sample_weight=[1, 2, 3])\n"
        "    cal.predict_proba(np.eye(3)); cal.get_params(); cal.set_params(inputs='logits')\n"
        "    try:\n"
        "        cls().transform(np.eye(3))\n"
        "    except ValueError:\n"
        "        pass\n"
        "assert 'sklearn' not in sys.modules, sorted(m for m in sys.modules if m.startswith('sklearn'))[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
