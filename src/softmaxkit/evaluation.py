"""Evaluating a trained classifier on a test set: one forward pass, every number ``softmaxkit evaluate`` shows.

:func:`evaluate_model` returns an :class:`Evaluation`: accuracy, NLL, calibration error, Brier score,
per-class accuracy, the confusion matrix, the accuracy-coverage trade-off of rejecting unsure inputs,
and split-conformal prediction sets fitted on the model's own validation split. Its
:meth:`~Evaluation.to_dict` is what ``softmaxkit evaluate --json`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .calibration import CalibratedModel
from .conformal import SplitConformal, average_set_size, coverage
from .datasets.splits import validation_split
from .kernels import softmax
from .metrics import accuracy, brier_score, calibration_error, confusion_matrix, nll
from .selective import AccuracyCoverage, accuracy_coverage_curve

__all__ = ["Evaluation", "evaluate_model", "probability_scores", "held_out_split", "COVERAGE_LEVELS"]

#: Coverages at which the accuracy of selective prediction is reported.
COVERAGE_LEVELS = (1.0, 0.99, 0.95, 0.9, 0.8, 0.5)


def probability_scores(y_true, probs, *, n_bins: int = 15) -> dict:
    """Accuracy, NLL, ECE, MCE and Brier score of probabilities, as plain floats.

    Examples
    --------
    >>> import numpy as np
    >>> s = probability_scores(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> sorted(s), s["accuracy"]
    (['accuracy', 'brier', 'ece', 'mce', 'nll'], 1.0)
    """
    return {
        "accuracy": float(accuracy(y_true, probs)),
        "nll": float(nll(y_true, probs)),
        "ece": float(calibration_error(y_true, probs, n_bins=n_bins)),
        "mce": float(calibration_error(y_true, probs, n_bins=n_bins, norm="max")),
        "brier": float(brier_score(y_true, probs)),
    }


def held_out_split(model, data):
    """The rows of ``data``'s training split that ``model`` held out for validation (never trained on).

    The seed and fraction come from ``model.metadata["train_args"]`` (recorded by ``softmaxkit train``).
    A model that records no training arguments gets a seeded 10% stratified split of the training set;
    its rows may then have been seen in training. A model trained with ``val_fraction=0`` gets an empty
    split: it has no held-out data.

    Returns
    -------
    x_val, y_val : ndarray
    """
    if len(data.y_train) == 0:  # test data only (a folder or table the model was not trained on)
        return data.x_train, data.y_train
    train_args = model.metadata.get("train_args") or {}
    fraction = train_args.get("val_fraction", 0.1)
    fraction = 0.1 if fraction is None else float(fraction)
    return validation_split(data, seed=int(train_args.get("seed", 0)), val_fraction=fraction)


@dataclass
class Evaluation:
    """What :func:`evaluate_model` measured.

    Attributes
    ----------
    summary : dict
        JSON-ready numbers: ``n``, ``accuracy``, ``nll`` (from the logits), ``ece``, ``mce``,
        ``brier``, ``calibration`` (the calibrator's kind or ``"none"``), ``per_class_accuracy``,
        ``confusion_matrix``, ``class_names``, ``accuracy_coverage`` (accuracy and rejection
        threshold at each of :data:`COVERAGE_LEVELS`) and ``prediction_sets`` (one row per conformal
        score; empty without a validation split).
    probs : ndarray of shape (n_test, n_classes)
        The model's (calibrated) probabilities.
    uncalibrated_probs : ndarray of shape (n_test, n_classes)
        ``softmax`` of the network's own logits (equal to ``probs`` for an uncalibrated model).
    labels : ndarray of shape (n_test,)
    curve : AccuracyCoverage
    """

    summary: dict
    probs: np.ndarray = field(repr=False)
    uncalibrated_probs: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    curve: AccuracyCoverage = field(repr=False)

    def to_dict(self) -> dict:
        """The JSON-ready summary (a copy)."""
        return dict(self.summary)


def evaluate_model(model, data, *, alpha: float = 0.1, n_bins: int = 15) -> Evaluation:
    """Evaluate ``model`` (its calibration applied) on ``data``'s test split in one forward pass.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential or softmaxkit.calibration.CalibratedModel
    data : Dataset
        Its test split is scored; its training split provides the model's validation rows, on which
        the conformal predictors are fitted (:func:`held_out_split`).
    alpha : float in (0, 1), default 0.1
        Conformal sets contain the true class with probability at least ``1 - alpha``.
    n_bins : int, default 15
        Bins of the calibration errors.

    Returns
    -------
    Evaluation
    """
    network = model.model if isinstance(model, CalibratedModel) else model
    raw = network.predict_logits(data.x_test)  # the one pass over the test set
    if isinstance(model, CalibratedModel):
        logits = model.calibrator.transform(raw).astype(raw.dtype, copy=False).astype(np.float64)
    else:
        logits = raw.astype(np.float64)
    probs = softmax(logits)
    y = np.asarray(data.y_test)
    k = probs.shape[1]
    cm = confusion_matrix(y, probs.argmax(axis=1), n_classes=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(cm) / cm.sum(axis=1)
    data_names = getattr(data, "class_names", None)
    names = [str(c) for c in (model.class_names or (data_names if len(data_names or ()) == k else range(k)))]
    curve = accuracy_coverage_curve(y, probs)
    summary = {
        "n": len(y),
        "accuracy": float(accuracy(y, probs)),
        "nll": float(nll(y, logits=logits)),
        "ece": float(calibration_error(y, probs, n_bins=n_bins)),
        "mce": float(calibration_error(y, probs, n_bins=n_bins, norm="max")),
        "brier": float(brier_score(y, probs)),
        "calibration": model.method if isinstance(model, CalibratedModel) else "none",
        "per_class_accuracy": {name: (None if np.isnan(a) else float(a)) for name, a in zip(names, per_class)},
        "confusion_matrix": cm.tolist(),
        "class_names": names,
        "accuracy_coverage": [
            {"coverage": c, "accuracy": curve.accuracy_at(c), "threshold": curve.threshold_at(c)}
            for c in COVERAGE_LEVELS
        ],
        "prediction_sets": _conformal_sets(model, data, y, probs, alpha),
    }
    uncalibrated = softmax(raw.astype(np.float64)) if isinstance(model, CalibratedModel) else probs
    return Evaluation(summary, probs, uncalibrated, y, curve)


def _conformal_sets(model, data, y_test, probs_test, alpha: float) -> list:
    """Split-conformal sets (LAC and randomized APS) fitted on the validation split, measured on the test split."""
    x_val, y_val = held_out_split(model, data)
    if len(y_val) == 0:
        return []
    val_probs = model.predict_proba(x_val).astype(np.float64)
    rows = []
    for score in ("lac", "aps"):
        # randomized APS (seeded, so the output is reproducible) gives far smaller sets than plain APS
        conformal = SplitConformal(score, randomized=score == "aps", random_state=0 if score == "aps" else None)
        conformal.fit(val_probs, y_val, alpha=alpha)
        sets = conformal.predict_sets(probs_test)
        rows.append(
            {
                "score": score,
                "alpha": alpha,
                "calibration_rows": len(y_val),
                "coverage": float(coverage(y_test, sets)),
                "average_size": float(average_set_size(sets)),
            }
        )
    return rows
