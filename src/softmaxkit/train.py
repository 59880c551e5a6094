"""Minibatch training: the one fit loop, with shuffling, validation, early stopping and checkpoints.

The loop is deliberately small: each step runs ``model.forward`` on a shuffled batch, takes the
loss's gradient with respect to the logits, back-propagates it and lets the optimizer update the
parameters. The loss is passed in: :class:`SoftmaxCrossEntropy` (the default) trains a softmax
classifier with the fused softmax + cross-entropy gradient (``probs - onehot``, never a Jacobian);
:class:`softmaxkit.multilabel.MultiLabelLoss` trains a sigmoid or softmax head on label sets.

A model whose last layer is a :class:`~softmaxkit.nn.LinearCrossEntropyHead`, trained with the default
loss, takes the fused path in each step: the layers below the head run forward, the head computes the
loss and its gradients without forming the logits, and the gradient runs back through the layers below.

Data larger than memory train through the same loop: ``x`` may be a batch source such as
:class:`softmaxkit.datasets.streaming.BlockStream`, which reads block-shuffled minibatches from disk.

What :class:`softmaxkit.SoftmaxClassifier` (the scikit-learn estimator) needs lives here too, so that
there is one loop: per-sample weights (a weighted mean loss per batch), an L2 penalty on the weights
as scikit-learn's ``MLPClassifier`` defines it, and a choice of what decides stopping (validation
loss, validation accuracy or training loss, with a tolerance).
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    NON_NEGATIVE,
    Integer,
    Options,
    check_finite,
    check_labels,
    check_rng,
    to_numpy,
    validate,
)
from .datasets.splits import train_val_split
from .exceptions import Terminated
from .losses import cross_entropy, cross_entropy_and_grad
from .nn.heads import LinearCrossEntropyHead
from .nn.io import save

__all__ = ["History", "SoftmaxCrossEntropy", "fit", "evaluate_loss", "train_val_split"]

_CONSTRAINTS = {
    "epochs": Integer(1),
    "batch_size": Integer(1),
    "l2": NON_NEGATIVE,
    "tol": NON_NEGATIVE,
    "monitor": Options("val_loss", "val_accuracy", "train_loss"),
}


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
    r"""The loss of a softmax classifier: mean cross-entropy of integer class labels.

    A loss for :func:`fit` has four methods: ``check_targets`` (validates the targets against the
    model's output width), ``loss_and_grad`` (mean loss of a batch and its gradient with respect to
    the logits), ``loss`` (the mean loss alone, for validation) and ``n_correct`` (how many rows are
    predicted right, or None when accuracy does not apply). A loss that also takes
    ``sample_weight=`` in ``loss_and_grad``, ``loss`` and ``n_correct`` can be trained with per-sample
    weights, as this one can: with weights :math:`s_i` the mean becomes the weighted mean

    .. math::

        L = \frac{\sum_i s_i \ell_i}{\sum_i s_i}, \qquad
        \frac{\partial L}{\partial z_i} = \frac{s_i}{\sum_j s_j}\,(p_i - e_{y_i}),

    so that a weight of 2 counts a row twice, as scikit-learn defines it, and ``n_correct`` returns
    the total weight of the rows predicted right.

    Examples
    --------
    >>> import numpy as np
    >>> loss = SoftmaxCrossEntropy()
    >>> value, grad = loss.loss_and_grad(np.array([[2.0, 0.0]]), np.array([0]))
    >>> round(float(value), 4), loss.n_correct(np.array([[2.0, 0.0]]), np.array([1]))
    (0.1269, 0)
    >>> z, y = np.array([[2.0, 0.0], [0.0, 2.0]]), np.array([0, 0])
    >>> weighted, _ = loss.loss_and_grad(z, y, sample_weight=np.array([3.0, 1.0]))
    >>> repeated, _ = loss.loss_and_grad(z[[0, 0, 0, 1]], y[[0, 0, 0, 1]])   # the first row three times
    >>> round(weighted, 4), round(float(repeated), 4)
    (0.6269, 0.6269)
    """

    def check_targets(self, y, n_outputs: int, fname: str, argname: str = "y"):
        return check_labels(y, n_outputs, fname, argname=argname)

    def loss_and_grad(self, logits, y, sample_weight=None):
        if sample_weight is None:
            return cross_entropy_and_grad(logits, y)
        rows, grad = cross_entropy_and_grad(logits, y, reduction="none")
        w = np.asarray(sample_weight, dtype=np.float64)
        total = w.sum()
        grad *= (w / total).astype(grad.dtype)[:, None]
        return float(np.dot(rows.astype(np.float64), w) / total), grad

    def loss(self, logits, y, sample_weight=None) -> float:
        if sample_weight is None:
            return float(cross_entropy(logits.astype(np.float64), y))
        rows = cross_entropy(logits.astype(np.float64), y, reduction="none")
        return float(np.average(rows, weights=sample_weight))

    def n_correct(self, logits, y, sample_weight=None):
        hits = np.argmax(logits, axis=-1) == y
        if sample_weight is None:
            return int(np.count_nonzero(hits))
        return float(np.dot(hits, sample_weight))


def evaluate_loss(model, x, y=None, *, loss=None, batch_size: int = 1024, sample_weight=None):
    """Mean loss (default: cross-entropy) and accuracy of ``model`` on ``(x, y)``, computed in batches.

    With ``sample_weight`` both are weighted means (the loss must accept ``sample_weight=``).
    Returns ``(nan, nan)`` for an empty set; the accuracy is NaN when the loss has none. ``x`` may be
    a batch source (see :func:`fit`; ``y`` is then None): it is read block by block, in order.
    """
    loss = SoftmaxCrossEntropy() if loss is None else loss
    if _is_batch_source(x):
        if sample_weight is not None:
            raise TypeError("evaluate_loss: sample weights are not supported with a batch source")
        return _stream_loss(model, x, loss, batch_size)
    if len(y) == 0:
        return math.nan, math.nan
    logits = model.predict_logits(x, batch_size=batch_size)
    if sample_weight is None:
        correct, total = loss.n_correct(logits, y), len(y)
        value = loss.loss(logits, y)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        correct, total = loss.n_correct(logits, y, sample_weight=w), float(w.sum())
        value = loss.loss(logits, y, sample_weight=w)
    return value, (math.nan if correct is None else correct / total)


def _is_batch_source(x) -> bool:
    """Whether ``x`` streams its rows (:class:`softmaxkit.datasets.streaming.BlockStream`) rather than holding them."""
    return hasattr(x, "shuffled_batches") and hasattr(x, "ordered_blocks")


def _stream_loss(model, source, loss, batch_size: int):
    """Mean loss and accuracy over a batch source's blocks, holding one block at a time."""
    dtype = getattr(model, "dtype", np.float32)
    total = correct = 0
    loss_sum = 0.0
    for x, y in source.ordered_blocks():
        if len(y) == 0:
            continue
        logits = model.predict_logits(x.astype(dtype, copy=False), batch_size=batch_size)
        loss_sum += loss.loss(logits, y) * len(y)
        hits = loss.n_correct(logits, y)
        correct = None if hits is None or correct is None else correct + hits
        total += len(y)
    if total == 0:
        return math.nan, math.nan
    return loss_sum / total, (math.nan if correct is None else correct / total)


def _shuffled_batches(x, y, sample_weight, batch_size: int, rng):
    """One epoch of in-memory ``(x, y, weights)`` batches in a fresh order drawn from ``rng``."""
    order = rng.permutation(len(y))
    for lo in range(0, len(y), batch_size):
        idx = order[lo : lo + batch_size]
        yield x[idx], y[idx], None if sample_weight is None else sample_weight[idx]


def _streamed_batches(source, loss_fn, n_outputs: int, dtype, batch_size: int, rng, fname: str):
    """One epoch of a batch source's ``(x, y, None)`` batches, cast to the model's dtype and checked."""
    for xb, yb in source.shuffled_batches(batch_size, rng):
        yield xb.astype(dtype, copy=False), loss_fn.check_targets(yb, n_outputs, fname, "y"), None


def _snapshot(model):
    return [{k: v.copy() for k, v in layer.params.items()} for layer in model.layers]


def _restore(model, snapshot):
    for layer, saved in zip(model.layers, snapshot):
        for key, value in saved.items():
            layer.params[key][...] = value


def _takes_weights(loss) -> bool:
    """Whether ``loss`` accepts per-sample weights (``sample_weight=`` in ``loss_and_grad``)."""
    try:
        return "sample_weight" in inspect.signature(loss.loss_and_grad).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _check_weights(w, n: int, fname: str, argname: str) -> np.ndarray:
    """Per-sample weights as finite, non-negative float64 of shape ``(n,)``."""
    w = to_numpy(w, fname, argname)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: {argname} must be numeric, got dtype {w.dtype}")
    if w.shape != (n,):
        raise ValueError(f"{fname}: {argname} must have shape ({n},) (one weight per row), got shape {w.shape}")
    w = check_finite(w.astype(np.float64), fname, argname)
    if n and w.min() < 0:
        raise ValueError(f"{fname}: {argname} must be non-negative, got {w.min():g}")
    return w


def _weight_penalty(model) -> list:
    """The parameters an L2 penalty applies to: every ``weight`` (Dense, Conv2D), never a bias."""
    return [(param, grad) for param, grad, name in model.parameters() if name.rsplit(".", 1)[-1] == "weight"]


def fit(
    model,
    x,
    y=None,
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
    sample_weight=None,
    val_sample_weight=None,
    l2: float = 0.0,
    monitor: str = "val_loss",
    tol: float = 0.0,
) -> History:
    r"""Train ``model`` by minibatch gradient descent on a mean loss (default: cross-entropy).

    Each epoch visits the training rows in a fresh random order drawn from ``rng`` (so the same seed
    gives the same run, bit for bit). After each epoch the validation loss is measured; whenever it
    improves the weights are remembered (and written to ``checkpoint`` if given, atomically), and
    training stops early once it has not improved for ``patience`` epochs. At the end, or on Ctrl-C,
    the model is left holding the best weights.

    Each step minimises the objective of its batch :math:`B`,

    .. math::

        J_B = \frac{\sum_{i \in B} s_i \ell_i + \frac{\lambda}{2} \sum_l \lVert W_l \rVert_F^2}{\sum_{i \in B} s_i},

    with per-row losses :math:`\ell_i`, sample weights :math:`s_i` (1 by default, so the data term is
    the plain mean) and the L2 penalty :math:`\lambda` (``l2``) on the weight matrices :math:`W_l`
    (not the biases). This is scikit-learn's ``MLPClassifier`` objective, ``alpha`` being
    :math:`\lambda`. A batch whose weights sum to 0 carries no information and is skipped (no step).

    Parameters
    ----------
    model : softmaxkit.nn.Sequential
        The network; its last layer produces logits.
    x, y : ndarray, or a batch source and None
        Training inputs and targets (integer labels for the default loss). For data larger than
        memory, ``x`` may be a *batch source* holding its own labels (``y=None``), such as
        :class:`softmaxkit.datasets.streaming.BlockStream`: it has ``len()`` (rows per epoch),
        ``sample_shape``, ``shuffled_batches(batch_size, rng)`` (one epoch of ``(x, y)`` minibatches
        in an order drawn from ``rng``) and ``ordered_blocks()`` (every ``(x, y)`` block once, for
        validation). Only a few blocks are then in memory at a time; sample weights are not taken.
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
        Validation data for early stopping and model selection; ``x_val`` may be a batch source
        (``y_val=None``), read block by block after every epoch.
    patience : int or None, default 5
        Epochs without improvement of the monitored quantity before stopping; None never stops early.
    schedule : callable, optional
        ``schedule(step) -> lr``, called before every optimizer step (step counts from 0).
    checkpoint : path-like, optional
        Where to save the best model so far (:func:`softmaxkit.nn.save`).
    progress : bool, default True
        Show a tqdm progress bar per epoch with the running loss and accuracy (on stderr).
    on_epoch_end : callable, optional
        ``on_epoch_end(row)`` with the epoch's history row.
    sample_weight : array_like of shape (n_samples,), optional
        Non-negative weight of each training row (the loss must accept ``sample_weight=``, as
        :class:`SoftmaxCrossEntropy` does). The epoch's ``train_loss`` is then the weighted mean of
        the batch objectives; ``train_accuracy`` still counts rows.
    val_sample_weight : array_like of shape (n_val,), optional
        Weights of the validation rows: ``val_loss`` and ``val_accuracy`` become weighted means.
    l2 : float, default 0.0
        :math:`\lambda` above: the L2 penalty on the weights, divided by each batch's total weight.
    monitor : {"val_loss", "val_accuracy", "train_loss"}, default "val_loss"
        What decides stopping. ``"val_loss"`` and ``"val_accuracy"`` need validation data and also
        choose the weights kept at the end (the best epoch's); without validation data the latest
        epoch is kept and training runs all ``epochs``. ``"train_loss"`` stops when the training
        loss stops improving and keeps the latest weights (scikit-learn's MLP without early stopping).
    tol : float, default 0.0
        An epoch counts as an improvement only when it beats the best so far by more than ``tol``
        (in loss, or in accuracy for ``"val_accuracy"``).

    Returns
    -------
    History
    """
    fname = "fit"
    rng = check_rng(rng, fname)
    if getattr(model, "ends_in_softmax", False):
        raise ValueError(
            f"{fname}: the model ends in a Softmax layer, so its output is probabilities; train on the logits "
            "(leave the Softmax layer out: predict_proba applies softmax)"
        )
    epochs, batch_size, l2, tol, monitor = validate(
        fname, _CONSTRAINTS, epochs=epochs, batch_size=batch_size, l2=l2, tol=tol, monitor=monitor
    )
    loss_fn = SoftmaxCrossEntropy() if loss is None else loss
    dtype = getattr(model, "dtype", np.float32)  # float32, or float64 for a model cast with astype
    streamed, val_streamed = _is_batch_source(x), _is_batch_source(x_val)
    if streamed or val_streamed:
        _check_sources(x, y, x_val, y_val, sample_weight, val_sample_weight, streamed, val_streamed, fname)
    if streamed:
        n = len(x)
        if n == 0:
            raise ValueError(f"{fname}: the training set is empty")
        n_outputs = _n_outputs(model, np.zeros((1, *x.sample_shape), dtype))
    else:
        x = np.asarray(x, dtype=dtype)
        y = np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"{fname}: x has {len(x)} rows but y has {len(y)} labels")
        if len(y) == 0:
            raise ValueError(f"{fname}: the training set is empty")
        n_outputs = _n_outputs(model, x[:1])
        y = loss_fn.check_targets(y, n_outputs, fname, "y")
        n = len(y)
    if val_streamed:
        has_val = len(x_val) > 0
        n_val = len(x_val)
    else:
        has_val = x_val is not None and y_val is not None and len(y_val) > 0
        if has_val:
            x_val = np.asarray(x_val, dtype=dtype)
            y_val = loss_fn.check_targets(np.asarray(y_val), n_outputs, fname, "y_val")
        n_val = len(y_val) if has_val else 0
    weights = [
        (sample_weight, n, "sample_weight"),
        (val_sample_weight, n_val, "val_sample_weight"),
    ]
    if any(w is not None for w, _, _ in weights) and not _takes_weights(loss_fn):
        raise TypeError(f"{fname}: sample weights need a loss that accepts sample_weight=, which {loss_fn!r} does not")
    sample_weight, val_sample_weight = (
        None if w is None else _check_weights(w, n, fname, name) for w, n, name in weights
    )
    if not has_val:
        val_sample_weight = None
    if sample_weight is not None and not sample_weight.sum() > 0:
        raise ValueError(f"{fname}: sample_weight sums to zero; there is nothing to learn from")
    penalised = _weight_penalty(model) if l2 else []
    fused = _trains_fused(model, loss_fn)

    from tqdm.auto import tqdm

    history = History()
    best_kept = math.inf  # the score that chooses the weights kept at the end (lower is better)
    best_monitored = math.inf  # the score that decides stopping, against which ``tol`` is measured
    best = _snapshot(model)
    since_best = 0
    step = 0
    select_on_val = has_val and monitor != "train_loss"
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            if streamed:
                batches = _streamed_batches(x, loss_fn, n_outputs, dtype, batch_size, rng, fname)
            else:
                batches = _shuffled_batches(x, y, sample_weight, batch_size, rng)
            loss_sum = 0.0
            weight_sum = 0.0
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
            for xb, yb, wb in batches:
                batch_weight = len(yb) if wb is None else float(wb.sum())
                if batch_weight > 0:
                    if schedule is not None:
                        optimizer.lr = schedule(step)
                    if fused:
                        batch_loss, logits = _fused_step(model, xb, yb, wb), None
                    else:
                        logits = model.forward(xb, training=True)
                        if wb is None:
                            batch_loss, grad = loss_fn.loss_and_grad(logits, yb)
                        else:
                            batch_loss, grad = loss_fn.loss_and_grad(logits, yb, sample_weight=wb)
                        model.backward(grad)
                    batch_loss = float(batch_loss)
                    if penalised:
                        batch_loss += _add_penalty(penalised, l2 / batch_weight)
                    optimizer.step(model)
                    step += 1
                    loss_sum += batch_loss * batch_weight
                    weight_sum += batch_weight
                    hits = None if logits is None else loss_fn.n_correct(logits, yb)  # fused: no logits, no accuracy
                    correct = None if hits is None or correct is None else correct + hits
                seen += len(yb)
                if progress:
                    bar.update(len(yb))
                    shown = {"loss": f"{loss_sum / max(weight_sum, 1e-300):.4f}"}
                    if correct is not None:
                        shown["acc"] = f"{correct / seen:.3f}"
                    bar.set_postfix(shown, refresh=False)
            bar.close()
            train_loss = loss_sum / weight_sum if weight_sum > 0 else math.nan
            if not math.isfinite(train_loss):
                raise FloatingPointError(
                    f"{fname}: the training loss became {train_loss} in epoch {epoch}; lower the learning rate"
                )
            if has_val:
                val_loss, val_acc = evaluate_loss(model, x_val, y_val, loss=loss_fn, sample_weight=val_sample_weight)
            else:
                val_loss, val_acc = math.nan, math.nan
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
            scores = {"val_loss": val_loss, "val_accuracy": -val_acc, "train_loss": train_loss}
            kept = scores[monitor] if select_on_val else -epoch  # without validation: the latest epoch is best
            if kept < best_kept:
                best_kept = kept
                best = _snapshot(model)
                history.best_epoch = epoch
                if checkpoint is not None:
                    model.metadata["best_epoch"] = epoch
                    save(model, checkpoint)
            if on_epoch_end is not None:
                on_epoch_end(row)
            if monitor != "train_loss" and not has_val:
                continue
            monitored = scores[monitor]
            since_best = 0 if monitored < best_monitored - tol else since_best + 1
            best_monitored = min(best_monitored, monitored)
            if patience is not None and since_best >= patience:
                history.stopped_early = True
                break
    except KeyboardInterrupt as exc:
        history.interrupted = True
        history.stop_signal = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
    _restore(model, best)
    return history


def _check_sources(x, y, x_val, y_val, sample_weight, val_sample_weight, streamed, val_streamed, fname):
    """A batch source holds its own labels and takes no sample weights."""
    for is_source, labels, argname in ((streamed, y, "y"), (val_streamed, y_val, "y_val")):
        if is_source and labels is not None:
            raise TypeError(f"{fname}: a batch source holds its own labels; pass {argname}=None")
    for is_source, w, argname in (
        (streamed, sample_weight, "sample_weight"),
        (val_streamed, val_sample_weight, "val_sample_weight"),
    ):
        if is_source and w is not None:
            raise TypeError(f"{fname}: {argname} is not supported with a batch source")


def _trains_fused(model, loss_fn) -> bool:
    """Whether each step trains through the model's last layer, a LinearCrossEntropyHead, without logits.

    Only with the default loss (another loss needs the logits). The head's own ``label_smoothing`` and
    ``ignore_index`` then apply to the training loss (the validation loss is the plain cross-entropy).
    """
    layers = getattr(model, "layers", None)
    return type(loss_fn) is SoftmaxCrossEntropy and bool(layers) and isinstance(layers[-1], LinearCrossEntropyHead)


def _fused_step(model, xb, yb, wb) -> float:
    """One step's loss and gradients through the head's fused path (see :func:`_trains_fused`).

    The layers below the head run forward (:meth:`~softmaxkit.nn.Sequential.features`), the head's
    :meth:`~softmaxkit.nn.LinearCrossEntropyHead.loss_and_backward` fills its gradients and returns
    the gradient of its input, which runs back through the layers below
    (:meth:`~softmaxkit.nn.Sequential.backward`). With sample weights the loss is their weighted mean,
    and each row's gradient is scaled by ``w_i / sum w``.
    """
    head = model.layers[-1]
    h = model.features(xb, training=True)
    if wb is None:
        loss, g = head.loss_and_backward(h, yb)
    else:
        w = np.asarray(wb, dtype=np.float64)
        rows, g = head.loss_and_backward(h, yb, reduction="none", grad_output=w / w.sum())
        loss = np.dot(rows.astype(np.float64), w) / w.sum()
    model.backward(g)
    return float(loss)


def _add_penalty(penalised, scale: float) -> float:
    r"""Add ``scale * W`` to each weight's gradient; return :math:`\frac{scale}{2} \sum \lVert W \rVert^2` (float64)."""
    total = 0.0
    for param, grad in penalised:
        flat = param.reshape(-1)
        total += float(np.dot(flat, flat))
        grad += param.dtype.type(scale) * param
    return 0.5 * scale * total


def _n_outputs(model, x1):
    """Number of classes the model predicts (the width of its logits)."""
    return int(model.predict_logits(x1).shape[-1])
