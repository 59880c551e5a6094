"""scikit-learn's own estimator checks, every one of them, for a logistic and an MLP configuration.

No check is expected to fail. The one check scikit-learn skips unless ``SCIPY_ARRAY_API`` is set
(NumPy inputs under ``array_api_dispatch=True``) runs with the variable set for that check alone.
"""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from softmaxkit import SoftmaxClassifier

# Small but able to learn scikit-learn's blobs (the checks want > 83% training accuracy): a higher step
# size than the default and few epochs keep the whole suite to a few seconds.
CONFIGURATIONS = [
    SoftmaxClassifier((), learning_rate_init=0.05, max_iter=30),
    SoftmaxClassifier((16,), learning_rate_init=0.05, max_iter=30),
]


@parametrize_with_checks(CONFIGURATIONS, expected_failed_checks=lambda estimator: {})
def test_sklearn_compatible(estimator, check, monkeypatch):
    if "check_array_api_input" in repr(check):
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 epochs rarely converge; that is the point
        check(estimator)


@pytest.mark.parametrize("estimator", CONFIGURATIONS, ids=["logistic", "mlp"])
def test_tags_are_honest(estimator):
    tags = estimator.__sklearn_tags__()
    assert tags.estimator_type == "classifier"
    assert not tags.non_deterministic  # an int random_state gives the same model, bit for bit
    assert not tags.input_tags.sparse and not tags.input_tags.allow_nan
    assert tags.classifier_tags.multi_class and not tags.classifier_tags.multi_label
