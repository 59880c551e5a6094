"""The steps of a fit around the training loop: the held-out rows, the temperature, the record, the warnings."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..calibration import TemperatureScaling
from ..datasets import train_val_split

__all__ = ["held_out_rows", "fit_temperature", "epoch_printer", "record_history", "warn_after"]

#: Warnings point at the user's call: user -> fit/partial_fit -> _fit -> the helper -> warnings.warn.
_STACKLEVEL = 4


def held_out_rows(y_idx, fraction: float, *, rng: np.random.Generator, fname: str):
    """``(train_rows, val_rows)``: a stratified split of ``fraction`` of the rows (:func:`softmaxkit.datasets.train_val_split`).

    From a generator of the fit's seed, :func:`softmaxkit.datasets.validation_split` recreates the
    same rows, which is what ``softmaxkit calibrate`` does with the seed written to the model file.
    """
    rows = np.arange(len(y_idx))
    train_rows, _, val_rows, _ = train_val_split(rows, y_idx, val_fraction=fraction, rng=rng)
    if len(val_rows) < 2 or len(train_rows) == 0:
        raise ValueError(
            f"{fname}: validation_fraction={fraction} holds out {len(val_rows)} of {len(rows)} rows; "
            "at least 2 are needed (raise validation_fraction or give more data)"
        )
    return train_rows, val_rows


def fit_temperature(logits, labels, weights, fname: str) -> TemperatureScaling:
    """A TemperatureScaling fitted on held-out logits, with a warning when the rows cannot determine it.

    Weighted when the calibrator's ``fit`` takes ``sample_weight``; otherwise fitted on the rows of
    positive weight, unweighted.
    """
    calibrator = TemperatureScaling()
    if weights is None:
        calibrator.fit(logits, labels)
    elif "sample_weight" in inspect.signature(calibrator.fit).parameters:
        calibrator.fit(logits, labels, sample_weight=weights)
    else:
        keep = weights > 0
        calibrator.fit(logits[keep], labels[keep])
    _warn_if_degenerate(calibrator, logits, labels, fname)
    return calibrator


def _warn_if_degenerate(calibrator, logits, labels, fname: str) -> None:
    """Say so when the held-out rows cannot fix a temperature.

    If every held-out row is classified right, their NLL falls all the way as T -> 0 (every probability
    towards 0 or 1): the "calibrated" model is then more confident, not less. A temperature at either
    end of the search interval is as uninformative.
    """
    low, high = calibrator.bounds
    t = calibrator.temperature_
    if np.array_equal(np.argmax(logits, axis=1), labels):
        reason = f"all {len(labels)} held-out rows are classified right"
    elif t <= low * (1 + 1e-3) or t >= high * (1 - 1e-3):
        reason = f"the {len(labels)} held-out rows put T at the end of its search interval"
    else:
        return
    warnings.warn(
        f"{fname}: {reason}: temperature scaling cannot calibrate on them (T = {t:.3g}); hold out more rows "
        "(validation_fraction), or leave temperature_scaling off",
        UserWarning,
        stacklevel=_STACKLEVEL,
    )


def epoch_printer(offset: int):
    """``on_epoch_end`` for ``verbose=True``: MLPClassifier's lines, on stdout, epochs counted from ``offset``."""

    def show(row) -> None:
        print(f"Iteration {offset + row['epoch']}, loss = {row['train_loss']:.8f}")
        if not math.isnan(row["val_accuracy"]):
            print(f"Validation score: {row['val_accuracy']:f}")

    return show


def record_history(model, history, *, continued: bool) -> None:
    """``metadata["history"]`` for ``softmaxkit report``: this fit's epochs, after the earlier ones when continued."""
    record = history.to_dict()
    before = (model.metadata.get("history") or {}).get("epochs", []) if continued else []
    for row in record["epochs"]:
        row["epoch"] += len(before)
    record["best_epoch"] = record["best_epoch"] + len(before) if record["best_epoch"] else len(before)
    record["epochs"] = before + record["epochs"]
    model.metadata["history"] = record


def warn_after(history, settings, *, fname: str, incremental: bool) -> None:
    """MLPClassifier's warnings: an interrupted fit, and ``max_iter`` reached without the stopping rule firing."""
    if history.interrupted:
        warnings.warn(f"{fname}: training interrupted by the user", UserWarning, stacklevel=_STACKLEVEL)
    elif not incremental and not history.stopped_early and len(history.epochs) == settings.max_iter:
        watched = "validation accuracy" if settings.early_stopping else "training loss"
        warnings.warn(
            f"{fname}: max_iter={settings.max_iter} epochs reached and the optimization hasn't converged yet "
            f"(the {watched} was still improving by more than tol={settings.tol}); raise max_iter",
            ConvergenceWarning,
            stacklevel=_STACKLEVEL,
        )
