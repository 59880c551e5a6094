"""Minibatch training: the one fit loop, with shuffling, validation, early stopping and checkpoints.

The loop is deliberately small: each step runs ``model.forward`` on a shuffled batch, takes the
loss's gradient with respect to the logits, back-propagates it and lets the optimizer update the
parameters. The loss is passed in: :class:`SoftmaxCrossEntropy` (the default) trains a softmax
classifier with the fused softmax + cross-entropy gradient (``probs - onehot``, never a Jacobian);
:class:`softmaxkit.multilabel.MultiLabelLoss` trains a sigmoid or softmax head on label sets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import Integer, check_labels, check_rng, validate
from .datasets.splits import train_val_split
from .exceptions import Terminated
from .losses import cross_entropy, cross_entropy_and_grad
from .nn.io import save

__all__ = ["History", "SoftmaxCrossEntropy", "fit", "evaluate_loss", "train_val_split"]

_CONSTRAINTS = {"epochs": Integer(1), "batch_size": Integer(1)}


@dataclass
class History:
    """What happened during :func:`fit`, one dict per finished epoch.

    Attributes
    ----------
    epochs : list of dict
        Keys ``epoch`` (1-based), ``train_loss``, ``train_accuracy`` (NaN for a loss without an
        accuracy, such as a multi-label one), ``val_loss``, ``val_accuracy`` (NaN without validation
        data), ``lr`` (at the end of the epoch) and ``seconds``.
    best_epoch : int
        The epoch whose weights the model holds at the end (lowest validation loss; the last epoch
        without validation data). 0 if no epoch finished.
    stopped_early : bool
        Training stopped because the validation loss had not improved for ``patience`` epochs.
    interrupted : bool
        Training was stopped by Ctrl-C (or SIGTERM under the command line); the model holds the best
        weights seen so far.
    stop_signal : str or None
        ``"SIGINT"`` or ``"SIGTERM"`` when interrupted, else None.
    """

    epochs: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    interrupted: bool = False
    stop_signal: str | None = None

    def column(self, key: str) -> np.ndarray:
        """One metric across epochs, e.g. ``history.column("val_loss")``."""
        return np.array([row[key] for row in self.epochs], dtype=float)

    def to_dict(self) -> dict:
        """JSON-able form (NaN, e.g. a missing validation loss, becomes None)."""
        return {
            "epochs": [
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                for row in self.epochs
            ],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
        }


class SoftmaxCrossEntropy:
    """The loss of a softmax classifier: mean cross-entropy of integer class labels.

    A loss for :func:`fit` has four methods: ``check_targets`` (validates the targets against the
    model's output width), ``loss_and_grad`` (mean loss of a batch and its gradient with respect to
    the logits), ``loss`` (the mean loss alone, for validation) and ``n_correct`` (how many rows are
    predicted right, or None when accuracy does not apply).

    Examples
    --------
    >>> import numpy as np
    >>> loss = SoftmaxCrossEntropy()
    >>> value, grad = loss.loss_and_grad(np.array([[2.0, 0.0]]), np.array([0]))
    >>> round(float(value), 4), loss.n_correct(np.array([[2.0, 0.0]]), np.array([1]))
    (0.1269, 0)
    """

    def check_targets(self, y, n_outputs: int, fname: str, argname: str = "y"):
        return check_labels(y, n_outputs, fname, argname=argname)

    def loss_and_grad(self, logits, y):
        return cross_entropy_and_grad(logits, y)

    def loss(self, logits, y) -> float:
        return float(cross_entropy(logits.astype(np.float64), y))

    def n_correct(self, logits, y) -> int:
        return int(np.count_nonzero(np.argmax(logits, axis=-1) == y))


def evaluate_loss(model, x, y, *, loss=None, batch_size: int = 1024):
    """Mean loss (default: cross-entropy) and accuracy of ``model`` on ``(x, y)``, computed in batches.

    Returns ``(nan, nan)`` for an empty set; the accuracy is NaN when the loss has none.
    """
    loss = SoftmaxCrossEntropy() if loss is None else loss
    if len(y) == 0:
        return math.nan, math.nan
    logits = model.predict_logits(x, batch_size=batch_size)
    correct = loss.n_correct(logits, y)
    return loss.loss(logits, y), (math.nan if correct is None else correct / len(y))


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
    loss=None,
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
    r"""Train ``model`` by minibatch gradient descent on a mean loss (default: cross-entropy).

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
        Training inputs and targets (integer labels for the default loss).
    optimizer : softmaxkit.nn.optim optimizer
        Has ``step(model)`` and a settable ``lr``.
    rng : numpy.random.Generator
        Source of the shuffling (and nothing else).
    loss : optional
        What to minimise (see :class:`SoftmaxCrossEntropy` for the four methods a loss has);
        default ``SoftmaxCrossEntropy()``.
    epochs : int, default 10
    batch_size : int, default 128
    x_val, y_val : ndarray, optional
        Validation data for early stopping and model selection.
    patience : int or None, default 5
        Epochs without validation improvement before stopping; None never stops early.
    schedule : callable, optional
        ``schedule(step) -> lr``, called before every optimizer step (step counts from 0).
    checkpoint : path-like, optional
        Where to save the best model so far (:func:`softmaxkit.nn.save`).
    progress : bool, default True
        Show a tqdm progress bar per epoch with the running loss and accuracy (on stderr).
    on_epoch_end : callable, optional
        ``on_epoch_end(row)`` with the epoch's history row.

    Returns
    -------
    History
    """
    fname = "fit"
    rng = check_rng(rng, fname)
    epochs, batch_size = validate(fname, _CONSTRAINTS, epochs=epochs, batch_size=batch_size)
    loss_fn = SoftmaxCrossEntropy() if loss is None else loss
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{fname}: x has {len(x)} rows but y has {len(y)} labels")
    if len(y) == 0:
        raise ValueError(f"{fname}: the training set is empty")
    n_outputs = _n_outputs(model, x[:1])
    y = loss_fn.check_targets(y, n_outputs, fname, "y")
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    if has_val:
        x_val = np.asarray(x_val, dtype=np.float32)
        y_val = loss_fn.check_targets(np.asarray(y_val), n_outputs, fname, "y_val")

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
                total=n,
                desc=f"epoch {epoch}/{epochs}",
                unit="img",
                leave=False,
                disable=not progress,
                dynamic_ncols=True,
            )
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size]
                xb, yb = x[idx], y[idx]
                if schedule is not None:
                    optimizer.lr = schedule(step)
                logits = model.forward(xb, training=True)
                batch_loss, grad = loss_fn.loss_and_grad(logits, yb)
                model.backward(grad)
                optimizer.step(model)
                step += 1
                loss_sum += float(batch_loss) * len(idx)
                hits = loss_fn.n_correct(logits, yb)
                correct = None if hits is None or correct is None else correct + hits
                seen += len(idx)
                bar.update(len(idx))
                shown = {"loss": f"{loss_sum / seen:.4f}"}
                if correct is not None:
                    shown["acc"] = f"{correct / seen:.3f}"
                bar.set_postfix(shown, refresh=False)
            bar.close()
            train_loss = loss_sum / seen
            if not math.isfinite(train_loss):
                raise FloatingPointError(
                    f"{fname}: the training loss became {train_loss} in epoch {epoch}; lower the learning rate"
                )
            val_loss, val_acc = evaluate_loss(model, x_val, y_val, loss=loss_fn) if has_val else (math.nan, math.nan)
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": math.nan if correct is None else correct / seen,
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
                    save(model, checkpoint)
            else:
                since_best += 1
            if on_epoch_end is not None:
                on_epoch_end(row)
            if has_val and patience is not None and since_best >= patience:
                history.stopped_early = True
                break
    except KeyboardInterrupt as exc:
        history.interrupted = True
        history.stop_signal = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
    _restore(model, best)
    return history


def _n_outputs(model, x1):
    """Number of classes the model predicts (the width of its logits)."""
    return int(model.predict_logits(x1).shape[-1])
