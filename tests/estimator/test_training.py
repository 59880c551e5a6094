"""Training: streaming, warm starts, stopping rules, temperature scaling, determinism and precision."""

import inspect
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from softmaxkit import SoftmaxClassifier, nn
from softmaxkit.calibration import TemperatureScaling
from softmaxkit.datasets import train_val_split
from softmaxkit.metrics import nll

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(np.float32)
    return train_test_split(X, y[:600], test_size=0.5, random_state=0, stratify=y[:600])


def test_partial_fit_calls_are_fit_epochs(digits):
    """k calls of partial_fit from scratch are fit with max_iter=k: same seed, same model, bit for bit."""
    X, _, y, _ = digits
    streamed = SoftmaxClassifier((16,), batch_size=64, random_state=0)
    for _ in range(3):
        streamed.partial_fit(X, y, classes=np.arange(10))
    fitted = SoftmaxClassifier((16,), batch_size=64, random_state=0, max_iter=3).fit(X, y)
    np.testing.assert_array_equal(streamed.predict_proba(X), fitted.predict_proba(X))
    assert streamed.loss_curve_ == fitted.loss_curve_
    assert streamed.n_iter_ == fitted.n_iter_ == 3
    assert streamed.t_ == fitted.t_ == 3 * len(y)


def test_partial_fit_streams_batches_of_some_classes(digits):
    X, X_test, y, y_test = digits
    est = SoftmaxClassifier((32,), learning_rate_init=0.01, random_state=0)
    for _ in range(15):
        for part in np.array_split(np.argsort(y, kind="stable"), 5):  # each chunk holds only a few classes
            est.partial_fit(X[part], y[part], classes=np.arange(10))
    assert est.n_iter_ == 75 and list(est.classes_) == list(range(10))
    assert est.score(X_test, y_test) > 0.8


@pytest.mark.parametrize(
    ("kwargs", "calls", "match"),
    [
        ({}, [{}], "classes must be given on the first call"),
        (
            {},
            [{"classes": [0, 1, 2]}, {"classes": [0, 1]}],
            "classes 0, 1 differ from the classes_ of the first call, 0, 1, 2",
        ),
        ({}, [{"classes": [0, 1]}], "y holds labels that are not in classes_"),
        ({"early_stopping": True}, [{"classes": range(10)}], "early_stopping=True needs the whole data set"),
        ({"temperature_scaling": True}, [{"classes": range(10)}], "temperature_scaling=True needs the whole"),
        ({"class_weight": "balanced"}, [{"classes": range(10)}], "class_weight='balanced' needs the whole"),
    ],
)
def test_partial_fit_refusals(digits, kwargs, calls, match):
    X, _, y, _ = digits
    est = SoftmaxClassifier((), random_state=0, **kwargs)
    with pytest.raises(ValueError, match=f"SoftmaxClassifier.partial_fit: {match}"):
        for call in calls:
            est.partial_fit(X[:50], np.minimum(y[:50], 2), **call)


def test_warm_start_continues_the_network(digits):
    X, _, y, _ = digits
    est = SoftmaxClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    first = list(est.loss_curve_)
    est.set_params(warm_start=True).fit(X, y)
    assert len(est.loss_curve_) == 10 and est.n_iter_ == 5 and est.t_ == 10 * len(y)
    assert est.loss_curve_[:5] == first and est.loss_curve_[5] < first[-1]  # it goes on from where it was
    assert est.model_.metadata["history"]["epochs"][-1]["epoch"] == 10
    cold = SoftmaxClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    assert cold.loss_curve_ == first


def test_warm_start_refusals(digits):
    X, _, y, _ = digits
    est = SoftmaxClassifier((16,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start continues the fitted network"):
        est.set_params(warm_start=True, hidden_layer_sizes=(8,)).fit(X, y)
    est.set_params(hidden_layer_sizes=(16,))
    est.fit(X[y < 5], y[y < 5])  # a subset of the classes is fine
    with pytest.raises(ValueError, match="y holds labels that are not in classes_"):
        est.fit(X, y + 1)


def test_training_loss_stops_like_mlpclassifier(digits):
    """Without early stopping, more than n_iter_no_change epochs without improving by tol stop training,
    after exactly as many epochs as scikit-learn's MLPClassifier runs."""
    X, _, y, _ = digits
    ours = SoftmaxClassifier((16,), tol=10.0, n_iter_no_change=3, random_state=0).fit(X, y)
    theirs = MLPClassifier((16,), tol=10.0, n_iter_no_change=3, random_state=0).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert ours.best_loss_ == min(ours.loss_curve_) and ours.validation_scores_ is None
    assert ours.best_validation_score_ is None


def test_early_stopping_keeps_the_best_epoch(digits):
    X, _, y, _ = digits
    noisy = np.where(np.arange(len(y)) % 4 == 0, (y + 3) % 10, y)  # a quarter of the labels are wrong
    est = SoftmaxClassifier(
        (64,), learning_rate_init=0.01, early_stopping=True, n_iter_no_change=4, max_iter=300, random_state=7
    ).fit(X, noisy)
    assert est.n_iter_ < 300 and len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_) and est.best_loss_ is None
    # the held-out rows: train_val_split from a generator of the seed, as the model file records it
    assert est.model_.metadata["train_args"]["seed"] == 7
    _, _, val_rows, _ = train_val_split(np.arange(len(y)), noisy, val_fraction=0.1, rng=np.random.default_rng(7))
    assert est.score(X[val_rows], noisy[val_rows]) == pytest.approx(est.best_validation_score_)


def test_too_small_a_validation_part_is_refused(digits):
    X, _, _, _ = digits
    # the split is stratified: a class of one row keeps it for training, one of two rows holds one out
    with pytest.raises(
        ValueError, match=re.escape("validation_fraction=0.1 holds out 1 of 3 rows; at least 2 are needed")
    ):
        SoftmaxClassifier(early_stopping=True).fit(X[:3], [0, 1, 1])


@pytest.fixture(scope="module")
def overconfident():
    """An MLP that memorises noisy labels (20% replaced at random), calibrated on 20% of its 600 rows held out."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    y = np.where(rng.random(len(y)) < 0.2, rng.integers(0, 10, len(y)), y)
    X_train, X_test, y_train, y_test = train_test_split((X / 16).astype(np.float32), y, test_size=0.3, random_state=0)
    est = SoftmaxClassifier(
        (64,), learning_rate_init=0.01, max_iter=60, tol=0.0, validation_fraction=0.2, temperature_scaling=True
    )
    return est.set_params(random_state=0).fit(X_train[:600], y_train[:600]), X_test, y_test


def test_temperature_scaling_lowers_held_out_nll_and_keeps_the_argmax(overconfident):
    est, X_test, y_test = overconfident
    z = est.model_.predict_logits(X_test).astype(np.float64)  # the network's own logits
    assert est.calibrator_.temperature_ > 1  # an over-confident network softened
    np.testing.assert_array_equal(est.predict(X_test), est.classes_[z.argmax(axis=1)])
    assert nll(y_test, est.predict_proba(X_test)) < nll(y_test, logits=z)
    np.testing.assert_allclose(est.decision_function(X_test), z / est.calibrator_.temperature_, rtol=1e-12)


def test_a_temperature_at_its_bound_warns():
    X, y = make_blobs(n_samples=60, centers=2, cluster_std=0.2, random_state=0)  # held-out rows all far from the border
    est = SoftmaxClassifier((), learning_rate_init=0.1, max_iter=50, temperature_scaling=True, random_state=0)
    with pytest.warns(UserWarning, match="all 6 held-out rows are classified right: temperature scaling cannot"):
        est.fit(X, y)


def test_temperature_scaling_without_early_stopping_holds_rows_out(digits):
    X, _, y, _ = digits
    est = SoftmaxClassifier((16,), max_iter=5, temperature_scaling=True, random_state=0).fit(X, y)
    assert est.t_ == 5 * (len(y) - 30)  # 10% held out for the calibrator alone
    assert est.model_.metadata["train_args"]["val_fraction"] == 0.1
    assert SoftmaxClassifier((16,), max_iter=5).fit(X, y).model_.metadata["train_args"]["val_fraction"] == 0.0


def test_reaching_max_iter_warns(digits):
    X, _, y, _ = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=2 epochs reached"):
        SoftmaxClassifier((), max_iter=2).fit(X, y)


def test_verbose_prints_each_epoch(digits, capsys):
    X, _, y, _ = digits
    SoftmaxClassifier((), max_iter=2, verbose=True, early_stopping=True).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ") and out[1].startswith("Validation score: ")
    assert out[2].startswith("Iteration 2, loss = ")


@pytest.mark.parametrize(
    "random_state", [3, np.random.default_rng(3), np.random.RandomState(3)], ids=["int", "Generator", "RandomState"]
)
def test_random_state_kinds(digits, random_state):
    X, _, y, _ = digits
    est = SoftmaxClassifier((8,), max_iter=2, random_state=random_state).fit(X, y)
    seed = est.model_.metadata["train_args"]["seed"]
    assert isinstance(seed, int) and seed >= 0
    again = SoftmaxClassifier((8,), max_iter=2, random_state=seed).fit(X, y)  # the recorded seed replays the fit
    np.testing.assert_array_equal(est.predict_proba(X), again.predict_proba(X))


@pytest.mark.parametrize(
    ("dtype", "network"), [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)]
)
def test_the_network_computes_in_the_inputs_float_dtype(digits, dtype, network):
    X, _, y, _ = digits
    est = SoftmaxClassifier((8,), max_iter=2, random_state=0).fit((X * 16).astype(dtype), y)
    assert est.model_.dtype == network and all(W.dtype == network for W in est.coefs_)
    assert est.predict_proba(X).dtype == np.float64


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_activations_and_optimizers_learn(digits, activation, optimizer):
    X, X_test, y, y_test = digits
    lr = 0.01 if optimizer == "adam" else 0.1
    est = SoftmaxClassifier(
        (32,), activation=activation, optimizer=optimizer, learning_rate_init=lr, max_iter=40, random_state=0
    )
    assert est.fit(X, y).score(X_test, y_test) > 0.85


def test_dropout_trains_and_predicts_deterministically(digits):
    X, X_test, y, y_test = digits
    est = SoftmaxClassifier((64,), dropout=0.3, learning_rate_init=0.01, max_iter=40, random_state=0).fit(X, y)
    assert any(isinstance(layer, nn.Dropout) for layer in est.model_.layers)
    np.testing.assert_array_equal(est.predict_proba(X_test), est.predict_proba(X_test))
    assert est.score(X_test, y_test) > 0.85


def test_logistic_regression_is_one_dense_layer(digits):
    X, X_test, y, y_test = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # converges by tol well before max_iter
        est = SoftmaxClassifier((), learning_rate_init=0.05, random_state=0).fit(X, y)
    assert [type(layer).__name__ for layer in est.model_.layers] == ["Dense"]
    assert est.coefs_[0].shape == (64, 10) and est.intercepts_[0].shape == (10,)
    assert est.score(X_test, y_test) > 0.9


def test_temperature_scaling_weighs_the_held_out_rows():
    """The calibrator sees the held-out rows' sample weights (or, if it takes none, only the rows of positive weight)."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:600] / 16).astype(np.float32), y[:600]
    w = np.random.default_rng(1).integers(0, 3, len(y)).astype(float)
    est = SoftmaxClassifier((32,), max_iter=10, temperature_scaling=True, random_state=4).fit(X, y, sample_weight=w)
    _, _, rows, _ = train_val_split(np.arange(len(y)), y, val_fraction=0.1, rng=np.random.default_rng(4))
    z = est.model_.predict_logits(X[rows]).astype(np.float64)
    if "sample_weight" in inspect.signature(TemperatureScaling.fit).parameters:
        expected = TemperatureScaling().fit(z, y[rows], sample_weight=w[rows])
    else:
        keep = w[rows] > 0
        expected = TemperatureScaling().fit(z[keep], y[rows][keep])
    assert est.calibrator_.temperature_ == pytest.approx(expected.temperature_, rel=1e-9)
