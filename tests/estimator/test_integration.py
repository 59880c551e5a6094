"""The estimator inside scikit-learn's tools and the conformal libraries that wrap classifiers."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmaxkit import SoftmaxClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def split():
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(np.float32)
    return train_test_split(X, y[:600], test_size=0.3, random_state=0, stratify=y[:600])


def small(**params):
    return SoftmaxClassifier((32,), learning_rate_init=0.01, max_iter=30, random_state=0, **params)


def test_pipeline(split):
    X, X_test, y, y_test = split
    pipe = make_pipeline(StandardScaler(), small()).fit(X, y)
    assert pipe.score(X_test, y_test) > 0.85
    assert pipe.predict_proba(X_test).shape == (len(y_test), 10)


def test_grid_search_and_cross_validation(split):
    X, _, y, _ = split
    search = GridSearchCV(small(), {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(), (16,)]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.85 and set(search.best_params_) == {"alpha", "hidden_layer_sizes"}
    scores = cross_val_score(small(), X, y, cv=3, scoring="neg_log_loss")
    assert scores.shape == (3,) and np.all(scores < 0)


def test_calibrated_classifier_cv_on_a_frozen_estimator(split):
    X, X_test, y, y_test = split
    X_fit, X_cal, y_fit, y_cal = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    est = small().fit(X_fit, y_fit)
    calibrated = CalibratedClassifierCV(FrozenEstimator(est), method="sigmoid").fit(X_cal, y_cal)
    proba = calibrated.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert calibrated.score(X_test, y_test) > 0.8


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "temperature"])
def test_calibrated_classifier_cv_with_cross_validation(split, method):
    X, X_test, y, y_test = split
    calibrated = CalibratedClassifierCV(small(), method=method, cv=3).fit(X, y)
    assert len(calibrated.calibrated_classifiers_) == 3
    assert calibrated.score(X_test, y_test) > 0.8


def test_clone_and_pickle(split):
    X, X_test, y, _ = split
    est = small(class_weight={0: 2.0})
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X_test), est.predict_proba(X_test))
    assert not hasattr(clone(est), "model_")


def test_mapie_split_and_cross_conformal(split):
    classification = pytest.importorskip("mapie.classification")
    X, X_test, y, y_test = split
    X_fit, X_cal, y_fit, y_cal = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    split_cp = classification.SplitConformalClassifier(small().fit(X_fit, y_fit), confidence_level=0.9, prefit=True)
    split_cp.conformalize(X_cal, y_cal)
    _, sets = split_cp.predict_set(X_test)
    assert sets.shape == (len(y_test), 10, 1)
    assert sets[np.arange(len(y_test)), y_test, 0].mean() > 0.8  # about 90% coverage, on 180 rows
    cross_cp = classification.CrossConformalClassifier(small(), confidence_level=0.9, cv=3)
    _, sets = cross_cp.fit_conformalize(X, y).predict_set(X_test)
    assert sets[np.arange(len(y_test)), y_test, 0].mean() > 0.8


def test_crepes_wrap_classifier(split):
    crepes = pytest.importorskip("crepes")
    X, X_test, y, y_test = split
    X_fit, X_cal, y_fit, y_cal = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    wrapped = crepes.WrapClassifier(small())
    wrapped.fit(X_fit, y_fit)
    wrapped.calibrate(X_cal, y_cal)
    sets = wrapped.predict_set(X_test, confidence=0.9, labels=False)
    assert sets.shape == (len(y_test), 10)
    assert sets[np.arange(len(y_test)), y_test].mean() > 0.8
    assert wrapped.predict_p(X_test).shape == (len(y_test), 10)
