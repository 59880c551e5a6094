"""Metrics for probabilistic classifiers: scores and calibration error.

Every function takes the true labels first, then the predictions, in scikit-learn's order:
``accuracy(y_true, probs)``, ``calibration_error(y_true, probs, *, n_bins=15, strategy="uniform",
norm="l1")``. Labels are integers of shape ``(n_samples,)``; probabilities have shape
``(n_samples, n_classes)`` with the classes on the last axis.

- :mod:`~softmaxkit.metrics.scores`: :func:`accuracy`, :func:`nll`, :func:`brier_score`,
  :func:`confusion_matrix`, :func:`top_k_accuracy`.
- :mod:`~softmaxkit.metrics.calibration_error`: :func:`calibration_error` (ECE, MCE, RMS),
  :func:`classwise_calibration_error`, :func:`reliability_curve`.
- :mod:`~softmaxkit.metrics.detection`: :func:`auroc` (how well a score tells inputs of the
  model's classes from inputs of none of them).

Dask arrays (``y_true`` and/or the predictions) are accepted by every function but :func:`auroc`:
each chunk is reduced to counts and sums, which one ``dask.compute`` evaluates together, and the
result equals the in-memory one up to the order of summation (counts, accuracies and quantile bin
edges exactly). The value checks run in the same pass and raise the in-memory errors.

Examples
--------
>>> import numpy as np
>>> from softmaxkit.metrics import accuracy, calibration_error
>>> y, p = np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])
>>> accuracy(y, p), round(calibration_error(y, p), 6)
(1.0, 0.15)
"""

from .calibration_error import ReliabilityCurve, calibration_error, classwise_calibration_error, reliability_curve
from .detection import auroc
from .scores import accuracy, brier_score, confusion_matrix, nll, top_k_accuracy

__all__ = [
    "accuracy",
    "nll",
    "brier_score",
    "confusion_matrix",
    "top_k_accuracy",
    "calibration_error",
    "classwise_calibration_error",
    "reliability_curve",
    "ReliabilityCurve",
    "auroc",
]
