"""Minibatch training of a softmax classifier: shuffling, validation, early stopping, checkpoints.

The loop is deliberately small: each step runs ``model.forward`` on a shuffled batch, takes the fused
softmax + cross-entropy gradient of the logits (``probs - onehot``, never a Jacobian), back-propagates
it and lets the optimizer update the parameters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_labels
from .losses import cross_entropy, cross_entropy_and_grad

__all__ = ["History", "fit", "evaluate_loss", "train_val_split"]


@dataclass
class History:
    """What happened during :func:`fit`, one dict per finished epoch.

    Attributes
    ----------
    epochs : list of dict
        Keys ``epoch`` (1-based), ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``
        (NaN without validation data), ``lr`` (at the end of the epoch) and ``seconds``.
    best_epoch : int
        The epoch whose weights the model holds at the end (lowest validation loss; the last epoch
        without validation data). 0 if no epoch finished.
    stopped_early : bool
        Training stopped because the validation loss had not improved for ``patience`` epochs.
    interrupted : bool
        Training was stopped by Ctrl-C; the model holds the best weights seen so far.
    """

    epochs: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    interrupted: bool = False

    def column(self, key: str) -> np.ndarray:
        """One metric across epochs, e.g. ``history.column("val_loss")``."""
        return np.array([row[key] for row in self.epochs], dtype=float)

    def to_dict(self) -> dict:
        """JSON-able form (NaN, e.g. a missing validation loss, becomes None)."""
        return {
            "epochs": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in self.epochs],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
        }


def train_val_split(x, y, *, val_fraction: float, rng: np.random.Generator):
    """Split ``(x, y)`` into a training part and a validation part of ``val_fraction`` of the rows.

    The split is stratified (each class keeps its share, at least one validation row per class that
    has two or more rows) and reproducible from ``rng``.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
    >>> xt, yt, xv, yv = train_val_split(x, y, val_fraction=0.2, rng=np.random.default_rng(0))
    >>> len(yt), len(yv), sorted(yv.tolist())
    (8, 2, [0, 1])
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1), got {val_fraction!r}")
    y = np.asarray(y)
    if val_fraction == 0.0:
        return x, y, x[:0], y[:0]
    val_idx = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        rows = rows[rng.permutation(len(rows))]
        n_val = int(round(val_fraction * len(rows)))
        if len(rows) >= 2:
            n_val = min(max(n_val, 1), len(rows) - 1)
        val_idx.append(rows[:n_val])
    val_idx = np.sort(np.concatenate(val_idx))
    keep = np.ones(len(y), bool)
    keep[val_idx] = False
    return x[keep], y[keep], x[val_idx], y[val_idx]


def evaluate_loss(model, x, y, *, batch_size: int = 1024):
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, computed in batches.

    Returns ``(nan, nan)`` for an empty set.
    """
    if len(y) == 0:
        return math.nan, math.nan
    logits = model.predict_logits(x, batch_size=batch_size)
    loss = float(cross_entropy(logits.astype(np.float64), y))
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == y))
    return loss, accuracy


def _snapshot(model):
    return [{k: v.copy() for k, v in layer.params.items()} for layer in model.layers]


def _restore(model, snapshot):
    for layer, saved in zip(model.layers, snapshot):
        for key, value in saved.items():
            layer.params[key][...] = value


def fit(
    model,
    x,
    y,
    *,
    optimizer,
    rng: np.random.Generator,
    epochs: int = 10,
    batch_size: int = 128,
    x_val=None,
    y_val=None,
    patience: int | None = 5,
    schedule=None,
    checkpoint=None,
    progress: bool = True,
    on_epoch_end=None,
) -> History:
    r"""Train ``model`` by minibatch gradient descent on the mean cross-entropy.

    Each epoch visits the training rows in a fresh random order drawn from ``rng`` (so the same seed
    gives the same run, bit for bit). After each epoch the validation loss is measured; whenever it
    improves the weights are remembered (and written to ``checkpoint`` if given, atomically), and
    training stops early once it has not improved for ``patience`` epochs. At the end, or on Ctrl-C,
    the model is left holding the best weights.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential
        The network; its last layer produces logits.
    x, y : ndarray
        Training inputs and integer labels.
    optimizer : softmaxkit.nn.optim optimizer
        Has ``step(model)`` and a settable ``lr``.
    rng : numpy.random.Generator
        Source of the shuffling (and nothing else).
    epochs : int, default 10
    batch_size : int, default 128
    x_val, y_val : ndarray, optional
        Validation data for early stopping and model selection.
    patience : int or None, default 5
        Epochs without validation improvement before stopping; None never stops early.
    schedule : callable, optional
        ``schedule(step) -> lr``, called before every optimizer step (step counts from 0).
    checkpoint : path-like, optional
        Where to save the best model so far (``model.save``).
    progress : bool, default True
        Show a tqdm progress bar per epoch with the running loss and accuracy (on stderr).
    on_epoch_end : callable, optional
        ``on_epoch_end(row)`` with the epoch's history row.

    Returns
    -------
    History
    """
    fname = "fit"
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fname}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{fname}: {name} must be a positive integer, got {value!r}")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{fname}: x has {len(x)} rows but y has {len(y)} labels")
    if len(y) == 0:
        raise ValueError(f"{fname}: the training set is empty")
    n_classes = _n_outputs(model, x[:1])
    check_labels(y, n_classes, fname, argname="y")
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    if has_val:
        x_val = np.asarray(x_val, dtype=np.float32)
        y_val = np.asarray(y_val)
        check_labels(y_val, n_classes, fname, argname="y_val")

    from tqdm.auto import tqdm

    history = History()
    best_loss = math.inf
    best = _snapshot(model)
    since_best = 0
    step = 0
    n = len(y)
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(n)
            loss_sum = 0.0
            correct = 0
            seen = 0
            bar = tqdm(
                total=n, desc=f"epoch {epoch}/{epochs}", unit="img", leave=False, disable=not progress,
                dynamic_ncols=True,
            )
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size]
                xb, yb = x[idx], y[idx]
                if schedule is not None:
                    optimizer.lr = schedule(step)
                logits = model.forward(xb, training=True)
                loss, grad = cross_entropy_and_grad(logits, yb)
                model.backward(grad)
                optimizer.step(model)
                step += 1
                loss_sum += float(loss) * len(idx)
                correct += int(np.count_nonzero(np.argmax(logits, axis=-1) == yb))
                seen += len(idx)
                bar.update(len(idx))
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False)
            bar.close()
            train_loss = loss_sum / seen
            if not math.isfinite(train_loss):
                raise FloatingPointError(
                    f"{fname}: the training loss became {train_loss} in epoch {epoch}; lower the learning rate"
                )
            val_loss, val_acc = evaluate_loss(model, x_val, y_val) if has_val else (math.nan, math.nan)
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": correct / seen,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "lr": float(optimizer.lr),
                "seconds": time.perf_counter() - start,
            }
            history.epochs.append(row)
            score = val_loss if has_val else -epoch  # without validation: the latest epoch is best
            if score < best_loss:
                best_loss = score
                best = _snapshot(model)
                history.best_epoch = epoch
                since_best = 0
                if checkpoint is not None:
                    model.metadata["best_epoch"] = epoch
                    model.save(checkpoint)
            else:
                since_best += 1
            if on_epoch_end is not None:
                on_epoch_end(row)
            if has_val and patience is not None and since_best >= patience:
                history.stopped_early = True
                break
    except KeyboardInterrupt:
        history.interrupted = True
    _restore(model, best)
    return history


def _n_outputs(model, x1):
    """Number of classes the model predicts (the width of its logits)."""
    return int(model.predict_logits(x1).shape[-1])
