"""The estimator's interface: labels of every type, outputs, inputs, feature names and parameter checks."""

import re

import numpy as np
import pytest
from scipy import sparse
from scipy.special import log_softmax, softmax
from sklearn.datasets import load_iris

import softmaxkit
from softmaxkit import SoftmaxClassifier
from softmaxkit.estimator import SoftmaxClassifier as Direct

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


def quick(**params):
    return SoftmaxClassifier((8,), learning_rate_init=0.05, max_iter=40, random_state=0, **params)


def test_public_name_is_the_estimator():
    assert softmaxkit.SoftmaxClassifier is Direct
    assert SoftmaxClassifier().get_params()["hidden_layer_sizes"] == (100,)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7, -1]),
        np.array([3, 7, 1], dtype=np.uint8),
        np.array(["setosa", "versicolor", "virginica"]),
        np.array(["setosa", "versicolor", "virginica"], dtype=object),
        np.array([1.0, 2.0, 4.0]),
        np.array([True, False, True]),
    ],
    ids=["int", "uint8", "str", "object", "float", "bool"],
)
def test_labels_of_any_type_come_back_as_given(iris, labels):
    X, y = iris
    if labels.dtype == bool:  # two classes
        X, y = X[y < 2], y[y < 2]
    y_labels = labels[y]
    est = quick().fit(X, y_labels)
    np.testing.assert_array_equal(est.classes_, np.unique(y_labels))
    assert est.classes_.dtype == np.unique(y_labels).dtype
    pred = est.predict(X)
    assert pred.dtype == est.classes_.dtype and set(pred.tolist()) <= set(est.classes_.tolist())
    assert est.score(X, y_labels) > 0.9
    assert est.model_.class_names == [str(c) for c in est.classes_]


def test_mixed_label_types_are_refused_as_scikit_learn_does(iris):
    X, _ = iris
    with pytest.raises(
        TypeError, match=r"SoftmaxClassifier.fit: y must hold labels of one kind \(strings or numbers\), got int, str"
    ):
        quick().fit(X[:4], np.array(["a", 1, "a", 1], dtype=object))


def test_probabilities_log_probabilities_and_logits_agree(iris):
    X, y = iris
    est = quick().fit(X, y)
    z = est.decision_function(X)
    assert z.shape == (150, 3) and z.dtype == np.float64
    np.testing.assert_allclose(est.predict_proba(X), softmax(z, axis=1), rtol=1e-12)
    np.testing.assert_allclose(est.predict_log_proba(X), log_softmax(z, axis=1), rtol=1e-12)
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[z.argmax(axis=1)])


def test_binary_decision_function_is_the_log_odds_of_the_second_class(iris):
    X, y = iris
    X, y = X[y > 0], np.where(y[y > 0] == 2, "yes", "no")
    est = quick().fit(X, y)
    d = est.decision_function(X)
    assert d.shape == (100,)
    p = est.predict_proba(X)
    np.testing.assert_allclose(d, np.log(p[:, 1] / p[:, 0]), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), np.where(d > 0, "yes", "no"))


def test_log_probabilities_stay_finite_where_probabilities_underflow(iris):
    X, y = iris
    est = quick().fit(X, y)
    est.model_.layers[-1].params["weight"] *= 1e4  # absurdly confident: some probabilities round to 0
    assert (est.predict_proba(X) == 0).any()
    logp = est.predict_log_proba(X)
    assert np.isfinite(logp).all() and (logp < -700).any()


def test_float32_and_float64_inputs_give_the_same_predictions(iris):
    X, y = iris
    est = quick().fit(X.astype(np.float32), y)
    np.testing.assert_allclose(est.predict_proba(X), est.predict_proba(X.astype(np.float32)), rtol=1e-6)


def test_data_frame_columns_become_feature_names(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    est = quick().fit(frame, pd.Series(y))
    np.testing.assert_array_equal(est.feature_names_in_, frame.columns)
    np.testing.assert_array_equal(est.predict(frame), quick().fit(X, y).predict(X))  # names change nothing else
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame.rename(columns={"sepal_l": "other"}))


def test_polars_frames_are_read_too(iris):
    pl = pytest.importorskip("polars")
    X, y = iris
    frame = pl.DataFrame(X, schema=["a", "b", "c", "d"])
    est = quick().fit(frame, y)
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (sparse.csr_matrix(np.eye(4)), TypeError, "dense data is required"),
        (np.array([[np.nan, 0, 0, 0]] * 4), ValueError, "Input X contains NaN"),
        (np.array([[np.inf, 0, 0, 0]] * 4), ValueError, "Input X contains infinity"),
        (np.zeros(4), ValueError, "Expected 2D array, got 1D array"),
    ],
    ids=["sparse", "nan", "inf", "1-d"],
)
def test_inputs_scikit_learn_refuses_are_refused(X, error, match):
    with pytest.raises(error, match=match):
        quick().fit(X, [0, 1, 0, 1])


def test_wrong_width_at_prediction_is_refused(iris):
    X, y = iris
    est = quick().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxClassifier is expecting 4 features"):
        est.predict(X[:, :3])


def test_one_class_is_refused(iris):
    X, _ = iris
    with pytest.raises(
        ValueError, match=re.escape("SoftmaxClassifier.fit: y holds one class, 'a'; a classifier needs at least two")
    ):
        quick().fit(X[:5], ["a"] * 5)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"hidden_layer_sizes": (10, 0)}, ValueError, "hidden_layer_sizes must be a sequence of positive integers"),
        ({"hidden_layer_sizes": "wide"}, ValueError, "hidden_layer_sizes must be a sequence of positive integers"),
        ({"hidden_layer_sizes": 3.5}, TypeError, "hidden_layer_sizes must be a sequence of positive integers"),
        ({"activation": "softplus"}, ValueError, "activation must be one of 'relu' | 'logistic' | 'tanh' | 'identity'"),
        ({"alpha": -1.0}, ValueError, "alpha must be a finite number >= 0, got -1.0"),
        ({"batch_size": 0}, ValueError, "batch_size must be 'auto' or a positive integer, got 0"),
        ({"batch_size": "big"}, TypeError, "batch_size must be 'auto' or a positive integer"),
        ({"learning_rate_init": 0.0}, ValueError, "learning_rate_init must be a positive finite number"),
        ({"max_iter": 0}, ValueError, "max_iter must be a positive integer, got 0"),
        ({"max_iter": 2.0}, TypeError, "max_iter must be an integer"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction must be a number in (0, 1)"),
        ({"dropout": 1.0}, ValueError, "dropout must be a number in [0, 1)"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of 'adam' | 'sgd'"),
        ({"early_stopping": "yes"}, TypeError, "early_stopping must be True or False"),
        ({"class_weight": "auto"}, TypeError, "class_weight must be None, 'balanced' or a dict"),
        ({"class_weight": {0: -1.0}}, ValueError, "class_weight[0] must be a finite number >= 0"),
        ({"random_state": -3}, ValueError, "random_state must be an integer >= 0, got -3"),
        ({"random_state": "seed"}, TypeError, "random_state must be None, an integer >= 0"),
        ({"verbose": -1}, TypeError, "verbose must be True, False or an integer >= 0"),
    ],
)
def test_bad_parameters_are_named_at_fit(iris, params, error, match):
    X, y = iris
    est = SoftmaxClassifier(**params)  # scikit-learn's rule: __init__ only stores
    with pytest.raises(error, match=re.escape(f"SoftmaxClassifier.fit: {match}")):
        est.fit(X, y)


def test_an_int_is_one_hidden_layer(iris):
    X, y = iris
    est = SoftmaxClassifier(12, max_iter=2, random_state=0).fit(X, y)
    assert [W.shape for W in est.coefs_] == [(4, 12), (12, 3)]


def test_coefs_are_views_of_the_network(iris):
    X, y = iris
    est = quick().fit(X, y)
    est.coefs_[0][...] = 0.0
    assert not est.model_.layers[0].params["weight"].any()
