"""Sample and class weights weight the loss exactly as scikit-learn defines them.

The reference objective is computed by hand from the network's weights (NumPy and
``scipy.special.log_softmax``, float64), and, without class weights, also by scikit-learn's own
``MLPClassifier`` given the same weights:

    J = (sum_i s_i * -log softmax(z_i)[y_i] + alpha / 2 * sum_l ||W_l||^2) / sum_i s_i,
    s_i = sample_weight_i * class_weight[y_i].

One full-batch epoch of plain SGD moves the weights by ``-lr * grad J``, which is compared with the
central-difference gradient of the hand-computed J (:func:`softmaxkit.testing.numerical_gradient`).
"""

import re

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.neural_network import MLPClassifier

from softmaxkit import SoftmaxClassifier
from softmaxkit.testing import numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LABELS = np.array(["ant", "bee", "cat"])
ALPHA, LR = 0.7, 0.1


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y_idx = np.repeat([0, 1, 2], [18, 9, 5])  # unbalanced on purpose
    X = rng.normal(size=(len(y_idx), 5)) + y_idx[:, None]
    sw = rng.integers(0, 4, len(y_idx)).astype(float)
    sw[:3] = 1.0  # every class keeps some weight
    return X, LABELS[y_idx], y_idx, sw


def hand_objective(coefs, intercepts, X, y_idx, s):
    a = X
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        a = np.maximum(a @ W + b, 0.0)
    z = a @ coefs[-1] + intercepts[-1]
    nll = -log_softmax(z, axis=1)[np.arange(len(y_idx)), y_idx]
    penalty = sum(float(np.sum(W * W)) for W in coefs)
    return (s @ nll + 0.5 * ALPHA * penalty) / s.sum()


def hand_row_weights(y_idx, class_weight, sample_weight):
    """s_i by the definitions: LogisticRegression's combination of sample and class weights."""
    sw = np.ones(len(y_idx)) if sample_weight is None else sample_weight
    if class_weight is None:
        return sw
    if class_weight == "balanced":  # c_k = sum(w) / (K * sum of w over class k)
        per_class = sw.sum() / (3 * np.array([sw[y_idx == k].sum() for k in range(3)]))
    else:
        per_class = np.array([class_weight.get(label, 1.0) for label in LABELS])
    return sw * per_class[y_idx]


def sgd_estimator(**params):
    return SoftmaxClassifier(
        (4,), alpha=ALPHA, optimizer="sgd", momentum=0.0, learning_rate_init=LR, max_iter=1, random_state=0, **params
    )


def one_more_epoch(est, X, y, sample_weight):
    """The weights before one more full-batch epoch, which ``est`` then runs (warm start)."""
    before = [W.copy() for W in est.coefs_], [b.copy() for b in est.intercepts_]
    est.set_params(warm_start=True).fit(X, y, sample_weight=sample_weight)
    return before


@pytest.mark.parametrize(
    "class_weight",
    [None, "balanced", {"ant": 3.0, "cat": 0.5}],
    ids=["no class weight", "balanced", "dict"],
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_loss_and_step_match_the_hand_computed_objective(data, class_weight, weighted):
    X, y, y_idx, sw = data
    sample_weight = sw if weighted else None
    est = sgd_estimator(class_weight=class_weight).fit(X, y, sample_weight=sample_weight)
    coefs, intercepts = one_more_epoch(est, X, y, sample_weight)
    s = hand_row_weights(y_idx, class_weight, sample_weight)

    assert est.loss_curve_[-1] == pytest.approx(hand_objective(coefs, intercepts, X, y_idx, s), rel=1e-12)
    for params, moved in ((coefs, est.coefs_), (intercepts, est.intercepts_)):
        for before, after in zip(params, moved):
            expected = numerical_gradient(lambda: hand_objective(coefs, intercepts, X, y_idx, s), before)
            np.testing.assert_allclose((before - after) / LR, expected, rtol=1e-6, atol=1e-9)


def test_balanced_is_n_samples_over_n_classes_times_counts(data):
    X, y, y_idx, _ = data
    est = sgd_estimator(class_weight="balanced").fit(X, y)
    coefs, intercepts = one_more_epoch(est, X, y, None)
    s = (len(y) / (3 * np.bincount(y_idx)))[y_idx]  # scikit-learn's documented formula
    assert est.loss_curve_[-1] == pytest.approx(hand_objective(coefs, intercepts, X, y_idx, s), rel=1e-12)


def test_weighted_loss_and_step_are_mlpclassifiers(data):
    """scikit-learn's MLPClassifier, given the same weights, reports the same loss and takes the same step."""
    X, y, _, sw = data
    est = sgd_estimator().fit(X, y, sample_weight=sw)
    ref = MLPClassifier((4,), alpha=ALPHA, solver="sgd", momentum=0.0, learning_rate_init=LR, batch_size=len(y))
    ref.partial_fit(X, y, classes=LABELS, sample_weight=sw)
    ref.coefs_ = [W.astype(np.float64) for W in est.coefs_]
    ref.intercepts_ = [b.astype(np.float64) for b in est.intercepts_]
    ref._optimizer.params = ref.coefs_ + ref.intercepts_  # the optimizer updates these arrays in place
    ref.partial_fit(X, y, sample_weight=sw)
    one_more_epoch(est, X, y, sw)
    assert est.loss_curve_[-1] == pytest.approx(ref.loss_curve_[-1], rel=1e-10)
    for ours, theirs in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("class_weight", [None, {"ant": 2.0, "bee": 1.0, "cat": 3.0}], ids=["none", "dict"])
def test_integer_weights_are_repeated_rows(data, class_weight):
    X, y, _, sw = data
    counts = sw.astype(int)
    weighted = SoftmaxClassifier((8,), class_weight=class_weight, max_iter=20, random_state=0)
    repeated = SoftmaxClassifier((8,), class_weight=class_weight, max_iter=20, random_state=0)
    weighted.fit(X, y, sample_weight=sw)
    repeated.fit(X.repeat(counts, axis=0), y.repeat(counts))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9)


def test_zero_weight_rows_are_left_out(data):
    X, y, _, _ = data
    keep = np.arange(len(y)) % 3 != 0
    weighted = SoftmaxClassifier((8,), max_iter=20, random_state=0).fit(X, y, sample_weight=keep.astype(float))
    removed = SoftmaxClassifier((8,), max_iter=20, random_state=0).fit(X[keep], y[keep])
    np.testing.assert_allclose(weighted.predict_proba(X), removed.predict_proba(X), rtol=1e-9)


def test_scalar_sample_weight_weighs_every_row(data):
    X, y, _, _ = data
    a = sgd_estimator().fit(X, y, sample_weight=2.0)
    b = sgd_estimator().fit(X, y, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize(
    ("sample_weight", "error", "match"),
    [
        (-np.ones(32), ValueError, "sample_weight must be non-negative"),
        (np.ones(5), ValueError, r"sample_weight must have shape \(32,\)"),
        (np.full(32, np.nan), ValueError, "sample_weight"),
        (np.zeros(32), ValueError, "sum to zero"),
        (np.array(["a"] * 32), TypeError, "sample_weight must be numeric"),
        (np.repeat([1.0, 0.0], [18, 14]), ValueError, "only one class, 'ant', has rows of positive weight"),
    ],
)
def test_bad_sample_weights_are_refused(data, sample_weight, error, match):
    X, y, _, _ = data
    with pytest.raises(error, match=f"SoftmaxClassifier.fit: .*{match}"):
        SoftmaxClassifier((), max_iter=1).fit(X, y, sample_weight=sample_weight)


def test_class_weight_with_an_unknown_label_is_refused(data):
    X, y, _, _ = data
    with pytest.raises(
        ValueError, match=re.escape("SoftmaxClassifier.fit: class_weight names labels that are not in y: 'dog'")
    ):
        SoftmaxClassifier((), max_iter=1, class_weight={"dog": 2.0}).fit(X, y)
