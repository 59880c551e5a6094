r"""Multi-label classification: a sigmoid head trained with binary cross-entropy, next to a softmax head.

When classes are not exclusive ("a 1 *and* a 7 in one picture") each class needs its own yes/no
probability :math:`\sigma(z_k)`. A softmax head cannot express that: its probabilities share one unit
of mass, so two true classes get about one half each and at most one class can ever exceed 0.5.

This module builds such a task from single-digit images (:func:`pair_images` puts two digits side by
side, or one digit beside a blank half), trains both heads on it with one small loop
(:func:`fit_multilabel`), measures them (:func:`multilabel_metrics`) and compares them end to end
(:func:`compare_heads`, also ``softmaxkit multilabel`` on the command line).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import check_choice
from .kernels import sigmoid, softmax
from .losses import binary_cross_entropy_with_logits_and_grad, cross_entropy_and_grad
from .train import History

__all__ = [
    "pair_images",
    "multilabel_loss_and_grad",
    "fit_multilabel",
    "predict_multilabel_proba",
    "multilabel_metrics",
    "HeadMetrics",
    "HeadComparison",
    "compare_heads",
    "format_comparison",
    "format_examples",
    "plot_multilabel_examples",
]

HEADS = ("sigmoid", "softmax")


# --------------------------------------------------------------------------- argument checks
def _check_rng(rng, fname):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fname}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_int(value, name, fname, *, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{fname}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{fname}: {name} must be at least {minimum}, got {value!r}")
    return int(value)


def _check_fraction(value, name, fname, *, closed_right=True):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fname}: {name} must be a real number, got {value!r}")
    ok = 0.0 <= value <= 1.0 if closed_right else 0.0 < value < 1.0
    if not ok:
        interval = "[0, 1]" if closed_right else "(0, 1)"
        raise ValueError(f"{fname}: {name} must be in {interval}, got {value!r}")
    return float(value)


def _check_multi_hot(Y, n_rows, fname, *, argname="Y", n_classes=None):
    Y = np.asarray(Y)
    if Y.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: {argname} must be a numeric 0/1 array, got dtype {Y.dtype}")
    if Y.ndim != 2 or Y.shape[0] != n_rows or (n_classes is not None and Y.shape[1] != n_classes):
        want = f"({n_rows}, {'n_classes' if n_classes is None else n_classes})"
        raise ValueError(f"{fname}: {argname} must have shape {want}, got {Y.shape}")
    if not np.all((Y == 0) | (Y == 1)):
        raise ValueError(f"{fname}: {argname} must be multi-hot (every entry 0 or 1)")
    return Y.astype(bool)


# --------------------------------------------------------------------------- the data
def pair_images(x, y, *, n: int, rng: np.random.Generator, n_classes: int = 10, allow_same: bool = True,
                p_single: float = 0.2):
    r"""Multi-label images: two labelled images side by side, or one beside a blank half.

    Each output image is ``concat([left, right], axis=-1)``. With probability ``p_single`` one half
    (left or right, equally likely) is blank (all zeros) and the label set has one class; otherwise
    both halves hold images drawn uniformly from ``x`` (two different rows) and the label set is
    :math:`\{y_\text{left}, y_\text{right}\}`, a single class when both have the same label. So the
    size of the label set varies between 1 and 2, and a multi-label head has to say "just this one"
    as well as "both". An image never has an empty label set.

    Parameters
    ----------
    x : ndarray of shape (n_images, channels, height, width)
        Source images (NCHW), e.g. ``load("digits").x_test``.
    y : ndarray of shape (n_images,)
        Their integer labels in ``[0, n_classes)``.
    n : int
        Number of pair images to make.
    rng : numpy.random.Generator
        Source of every random choice: the same generator state gives the same images.
    n_classes : int, default 10
        Width of the multi-hot labels.
    allow_same : bool, default True
        Allow both halves to hold the same class (label set of one element). With False the two
        halves of a two-image picture always differ in class.
    p_single : float in [0, 1], default 0.2
        Share of images with one blank half.

    Returns
    -------
    x_pairs : ndarray of shape (n, channels, height, 2 * width), float32
    Y : ndarray of shape (n, n_classes), float32
        Multi-hot label sets: ``Y[i, k] == 1`` when class ``k`` appears in image ``i``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.full((1, 2, 2), v, np.float32) for v in (0.1, 0.2, 0.3)])
    >>> xp, Y = pair_images(x, np.array([0, 1, 2]), n=4, n_classes=3, rng=np.random.default_rng(0))
    >>> xp.shape, Y.shape, Y.sum(axis=1).tolist()
    ((4, 1, 2, 4), (4, 3), [2.0, 2.0, 2.0, 2.0])
    """
    fname = "pair_images"
    _check_rng(rng, fname)
    n = _check_int(n, "n", fname, minimum=0)
    n_classes = _check_int(n_classes, "n_classes", fname)
    p_single = _check_fraction(p_single, "p_single", fname)
    if not isinstance(allow_same, (bool, np.bool_)):
        raise TypeError(f"{fname}: allow_same must be True or False, got {allow_same!r}")
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: x must be a numeric image array, got dtype {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"{fname}: x must have shape (n_images, channels, height, width), got {x.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fname}: y must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (len(x),):
        raise ValueError(f"{fname}: y must have shape ({len(x)},) (one label per image), got {y.shape}")
    if len(x) < 2:
        raise ValueError(f"{fname}: x must hold at least 2 images, got {len(x)}")
    if y.min() < 0 or y.max() >= n_classes:
        bad = int(y.min() if y.min() < 0 else y.max())
        raise ValueError(f"{fname}: y has label {bad}, expected 0 <= label < n_classes = {n_classes}")
    if not allow_same and p_single < 1 and len(np.unique(y)) < 2:
        raise ValueError(f"{fname}: allow_same=False needs images of at least 2 classes, y has one")

    m = len(x)
    first = rng.integers(m, size=n)
    second = (first + rng.integers(1, m, size=n)) % m  # another row, uniformly
    if not allow_same:
        clash = np.flatnonzero(y[first] == y[second])
        while clash.size:  # rejection: redraw the second image where the classes coincide
            second[clash] = (first[clash] + rng.integers(1, m, size=clash.size)) % m
            clash = clash[y[first[clash]] == y[second[clash]]]
    single = rng.random(n) < p_single
    blank_left = rng.random(n) < 0.5

    left, right = x[first].astype(np.float32), x[second].astype(np.float32)
    left[single & blank_left] = 0.0
    right[single & ~blank_left] = 0.0
    Y = np.zeros((n, n_classes), np.float32)
    rows = np.arange(n)
    Y[rows[~(single & blank_left)], y[first[~(single & blank_left)]]] = 1.0
    Y[rows[~(single & ~blank_left)], y[second[~(single & ~blank_left)]]] = 1.0
    return np.concatenate([left, right], axis=-1), Y


# --------------------------------------------------------------------------- losses and training
def multilabel_loss_and_grad(logits, Y, *, head: str = "sigmoid"):
    r"""Loss of a multi-label batch and its gradient with respect to the logits.

    ``head="sigmoid"``: the sum over classes of the binary cross-entropies, averaged over images,

    .. math::

        L = \frac{1}{n} \sum_{i, k} \operatorname{BCE}\big(\sigma(z_{ik}), Y_{ik}\big),
        \qquad \frac{\partial L}{\partial z_{ik}} = \frac{\sigma(z_{ik}) - Y_{ik}}{n}.

    ``head="softmax"``: cross-entropy of ``softmax(z)`` against the soft target
    :math:`t_i = Y_i / \sum_k Y_{ik}` (the label set as a uniform distribution), averaged over images,
    with gradient :math:`(\operatorname{softmax}(z_i) - t_i) / n`. Every row of ``Y`` needs a label.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    Y : ndarray of shape (n_samples, n_classes)
        Multi-hot label sets (0/1).
    head : {"sigmoid", "softmax"}, default "sigmoid"

    Returns
    -------
    loss : float
    grad : ndarray of the logits' shape and dtype

    Examples
    --------
    >>> import numpy as np
    >>> z, Y = np.zeros((1, 3)), np.array([[1.0, 1.0, 0.0]])
    >>> loss, grad = multilabel_loss_and_grad(z, Y)
    >>> round(loss, 6), grad
    (2.079442, array([[-0.5, -0.5,  0.5]]))
    >>> loss, grad = multilabel_loss_and_grad(z, Y, head="softmax")
    >>> round(loss, 6), grad.round(4)
    (1.098612, array([[-0.1667, -0.1667,  0.3333]]))
    """
    fname = "multilabel_loss_and_grad"
    check_choice(head, "head", HEADS, fname)
    z = np.asarray(logits)
    if z.ndim != 2:
        raise ValueError(f"{fname}: logits must have shape (n_samples, n_classes), got {z.shape}")
    Yb = _check_multi_hot(Y, z.shape[0], fname, n_classes=z.shape[1])
    dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
    n = max(len(z), 1)
    if head == "sigmoid":
        loss, grad = binary_cross_entropy_with_logits_and_grad(z, Yb.astype(dtype), reduction="sum")
    else:
        counts = Yb.sum(axis=1, keepdims=True)
        if np.any(counts == 0):
            raise ValueError(f"{fname}: every row of Y needs at least one label for head='softmax'")
        loss, grad = cross_entropy_and_grad(z, (Yb / counts).astype(dtype), reduction="sum")
    return float(loss) / n, (grad / dtype.type(n)).astype(dtype, copy=False)


def fit_multilabel(model, x, Y, *, optimizer, rng: np.random.Generator, head: str = "sigmoid",
                   epochs: int = 10, batch_size: int = 128, schedule=None, on_epoch_end=None) -> History:
    """Train ``model`` on multi-label data by minibatch descent on :func:`multilabel_loss_and_grad`.

    The multi-label twin of :func:`softmaxkit.train.fit` (no validation or early stopping): each epoch
    visits the rows in a fresh order drawn from ``rng``, so the same seed gives the same run.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential
        Its last layer produces ``n_classes`` logits.
    x : ndarray of shape (n_samples, ...)
    Y : ndarray of shape (n_samples, n_classes)
        Multi-hot label sets.
    optimizer : softmaxkit.nn.optim optimizer
        Has ``step(model)`` and a settable ``lr``.
    rng : numpy.random.Generator
        Source of the shuffling.
    head : {"sigmoid", "softmax"}, default "sigmoid"
        Independent sigmoid outputs with binary cross-entropy, or softmax with soft targets.
    epochs, batch_size : int
    schedule : callable, optional
        ``schedule(step) -> lr``, called before every optimizer step.
    on_epoch_end : callable, optional
        Called with each epoch's history row.

    Returns
    -------
    softmaxkit.train.History
        Rows with ``epoch``, ``train_loss``, ``lr`` and ``seconds``; ``best_epoch`` is the last one.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.nn import architectures, optim
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((64, 1, 2, 2), dtype=np.float32)
    >>> Y = np.stack([x[:, 0, 0, 0] > 0.5, x[:, 0, 1, 1] > 0.5], axis=1).astype(np.float32)
    >>> model = architectures.mlp((1, 2, 2), 2, hidden=(16,), rng=rng)
    >>> h = fit_multilabel(model, x, Y, optimizer=optim.Adam(1e-2), rng=rng, epochs=20, batch_size=16)
    >>> h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
    True
    """
    fname = "fit_multilabel"
    _check_rng(rng, fname)
    check_choice(head, "head", HEADS, fname)
    epochs = _check_int(epochs, "epochs", fname)
    batch_size = _check_int(batch_size, "batch_size", fname)
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        raise ValueError(f"{fname}: the training set is empty")
    Y = _check_multi_hot(Y, len(x), fname).astype(np.float32)
    history = History()
    step = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        loss_sum = 0.0
        for lo in range(0, len(x), batch_size):
            idx = order[lo : lo + batch_size]
            if schedule is not None:
                optimizer.lr = schedule(step)
            logits = model.forward(x[idx], training=True)
            loss, grad = multilabel_loss_and_grad(logits, Y[idx], head=head)
            model.backward(grad)
            optimizer.step(model)
            step += 1
            loss_sum += loss * len(idx)
        train_loss = loss_sum / len(x)
        if not math.isfinite(train_loss):
            raise FloatingPointError(
                f"{fname}: the training loss became {train_loss} in epoch {epoch}; lower the learning rate"
            )
        row = {"epoch": epoch, "train_loss": train_loss, "lr": float(optimizer.lr),
               "seconds": time.perf_counter() - start}
        history.epochs.append(row)
        history.best_epoch = epoch
        if on_epoch_end is not None:
            on_epoch_end(row)
    return history


def predict_multilabel_proba(model, x, *, head: str = "sigmoid", batch_size: int = 1024) -> np.ndarray:
    """Per-class probabilities: ``sigmoid(logits)`` (independent) or ``softmax(logits)`` (sum to 1).

    Parameters
    ----------
    model : softmaxkit.nn.Sequential
    x : ndarray of shape (n_samples, ...)
    head : {"sigmoid", "softmax"}, default "sigmoid"
    batch_size : int, default 1024

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.nn import architectures
    >>> model = architectures.mlp((1, 2, 2), 3, hidden=(4,), rng=np.random.default_rng(0))
    >>> x = np.ones((2, 1, 2, 2), np.float32)
    >>> predict_multilabel_proba(model, x, head="softmax").sum(axis=1).round(6)
    array([1., 1.])
    >>> bool(np.all((predict_multilabel_proba(model, x) > 0) & (predict_multilabel_proba(model, x) < 1)))
    True
    """
    check_choice(head, "head", HEADS, "predict_multilabel_proba")
    z = model.predict_logits(x, batch_size=batch_size).astype(np.float64)
    return sigmoid(z) if head == "sigmoid" else softmax(z, axis=-1)


# --------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class HeadMetrics:
    """How well one output head predicts label sets.

    A class is predicted ("yes") when its probability exceeds ``threshold``.

    Attributes
    ----------
    exact_set_accuracy : float
        Share of images whose predicted set equals the true set.
    exact_set_accuracy_one, exact_set_accuracy_two : float
        The same on images with one / two true classes.
    exact_set_accuracy_top_k : float
        Exact-set accuracy when each image's set is its ``|true set|`` most probable classes (told how
        many classes to name: the most favourable reading for a softmax head).
    micro_f1 : float
        F1 over all (image, class) yes/no decisions.
    mean_prob_true_high, mean_prob_true_low : float
        On two-class images, the mean probability of the more / less probable of the two true classes.
    mean_prob_true_one : float
        On one-class images, the mean probability of the true class.
    both_yes_rate : float
        Share of two-class images where both true classes exceed the threshold.
    n_images, n_two : int
        Images evaluated, and how many of them have two true classes.
    """

    exact_set_accuracy: float
    exact_set_accuracy_one: float
    exact_set_accuracy_two: float
    exact_set_accuracy_top_k: float
    micro_f1: float
    mean_prob_true_high: float
    mean_prob_true_low: float
    mean_prob_true_one: float
    both_yes_rate: float
    n_images: int
    n_two: int


def _mean(values) -> float:
    return float(np.mean(values)) if np.size(values) else math.nan


def multilabel_metrics(Y, probs, *, threshold: float = 0.5) -> HeadMetrics:
    r"""Exact-set accuracy, micro F1 and probability of the true classes for multi-label predictions.

    The predicted set of image ``i`` is :math:`\hat S_i = \{k : p_{ik} > \text{threshold}\}`. Micro F1
    counts true positives, false positives and false negatives over every (image, class) pair:
    :math:`F_1 = 2\,TP / (2\,TP + FP + FN)`. Statistics restricted to a subset of images (one or two
    true classes) are NaN when that subset is empty.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_classes)
        True multi-hot label sets.
    probs : ndarray of shape (n_samples, n_classes)
        Per-class probabilities (sigmoid or softmax).
    threshold : float in (0, 1), default 0.5

    Returns
    -------
    HeadMetrics

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1, 1, 0], [0, 1, 0]])
    >>> m = multilabel_metrics(Y, np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.1]]))
    >>> m.exact_set_accuracy, m.both_yes_rate, m.micro_f1
    (1.0, 1.0, 1.0)
    >>> m = multilabel_metrics(Y, np.array([[0.5, 0.45, 0.05], [0.1, 0.8, 0.1]]))
    >>> m.exact_set_accuracy, m.exact_set_accuracy_top_k, m.both_yes_rate
    (0.5, 1.0, 0.0)
    """
    fname = "multilabel_metrics"
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"{fname}: probs must have shape (n_samples, n_classes), got {p.shape}")
    T = _check_multi_hot(Y, p.shape[0], fname, n_classes=p.shape[1])
    threshold = _check_fraction(threshold, "threshold", fname, closed_right=False)
    pred = p > threshold
    exact = np.all(pred == T, axis=1)
    size = T.sum(axis=1)
    one, two = size == 1, size == 2
    rank = np.argsort(np.argsort(-p, axis=1, kind="stable"), axis=1)
    top_k_exact = np.all((rank < size[:, None]) == T, axis=1)
    tp = int(np.count_nonzero(pred & T))
    fp = int(np.count_nonzero(pred & ~T))
    fn = int(np.count_nonzero(~pred & T))
    micro_f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    true_two = np.sort(np.where(T[two], p[two], -np.inf), axis=1)[:, -2:]  # [low, high] per image
    if true_two.shape[1] < 2:  # fewer than two classes: no two-class images
        true_two = np.empty((0, 2))
    return HeadMetrics(
        exact_set_accuracy=_mean(exact),
        exact_set_accuracy_one=_mean(exact[one]),
        exact_set_accuracy_two=_mean(exact[two]),
        exact_set_accuracy_top_k=_mean(top_k_exact),
        micro_f1=float(micro_f1),
        mean_prob_true_high=_mean(true_two[:, 1]),
        mean_prob_true_low=_mean(true_two[:, 0]),
        mean_prob_true_one=_mean(p[one][T[one]]),
        both_yes_rate=_mean(np.all(true_two > threshold, axis=1)),
        n_images=int(len(p)),
        n_two=int(np.count_nonzero(two)),
    )


# --------------------------------------------------------------------------- the comparison
@dataclass
class HeadComparison:
    """What :func:`compare_heads` measured, and what it needs to show examples.

    Attributes
    ----------
    sigmoid, softmax : HeadMetrics
        Test metrics of each head.
    threshold : float
        The yes/no threshold of the metrics.
    settings : dict
        ``n_train``, ``n_test``, ``epochs``, ``hidden``, ``lr``, ``batch_size``, ``p_single``,
        ``allow_same``, ``seconds``.
    class_names : tuple of str
    x_test : ndarray of shape (n_test, channels, height, 2 * width)
        The held-out pair images (built from the test split).
    Y_test : ndarray of shape (n_test, n_classes)
    p_sigmoid, p_softmax : ndarray of shape (n_test, n_classes)
        Each head's probabilities on ``x_test``.
    history_sigmoid, history_softmax : softmaxkit.train.History
    """

    sigmoid: HeadMetrics
    softmax: HeadMetrics
    threshold: float
    settings: dict
    class_names: tuple
    x_test: np.ndarray = field(repr=False)
    Y_test: np.ndarray = field(repr=False)
    p_sigmoid: np.ndarray = field(repr=False)
    p_softmax: np.ndarray = field(repr=False)
    history_sigmoid: History = field(repr=False, default_factory=History)
    history_softmax: History = field(repr=False, default_factory=History)

    def to_dict(self) -> dict:
        """The metrics and settings as plain JSON-ready values (no arrays)."""
        return {
            "sigmoid": asdict(self.sigmoid),
            "softmax": asdict(self.softmax),
            "threshold": self.threshold,
            "settings": dict(self.settings),
            "class_names": list(self.class_names),
            "train_loss": {"sigmoid": self.history_sigmoid.column("train_loss").tolist(),
                           "softmax": self.history_softmax.column("train_loss").tolist()},
        }


def _resolve_data(data, fname):
    if data is None or isinstance(data, str):
        from . import datasets

        return datasets.load("digits" if data is None else data)
    missing = [a for a in ("x_train", "y_train", "x_test", "y_test") if not hasattr(data, a)]
    if missing:
        raise TypeError(
            f"{fname}: data must be None, a data set name or an object with x_train, y_train, x_test, "
            f"y_test (e.g. softmaxkit.datasets.load('digits')); it lacks {', '.join(missing)}"
        )
    return data


def compare_heads(data=None, *, rng: np.random.Generator, n_train: int = 20000, n_test: int = 4000,
                  epochs: int = 10, hidden=(256, 128), lr: float = 2e-3, batch_size: int = 128,
                  threshold: float = 0.5, p_single: float = 0.2, allow_same: bool = True) -> HeadComparison:
    r"""Train a sigmoid head and a softmax head on the same pair images and compare them.

    Training pairs come from the training split, test pairs from the test split (:func:`pair_images`).
    Both heads are the same MLP (:func:`softmaxkit.nn.architectures.mlp`) from the same initial weights,
    see the same batches in the same order and differ only in the output and the loss: independent
    sigmoids with binary cross-entropy, or a softmax with cross-entropy against :math:`Y / |Y|`.
    Both are then judged by the same rule, ``yes`` when a probability exceeds ``threshold``. A softmax
    head can never say yes to two classes at 0.5: its probabilities sum to 1. The top-k metric (name
    the ``|true set|`` most probable classes) shows how well it ranks the classes nonetheless.

    Parameters
    ----------
    data : Dataset, str or None
        A data set with ``x_train, y_train, x_test, y_test`` (and optionally ``class_names``), a name
        for :func:`softmaxkit.datasets.load`, or None for ``"digits"``.
    rng : numpy.random.Generator
        Source of the pairs, the initial weights and the batch order.
    n_train, n_test : int
        Numbers of training and test pair images.
    epochs : int, default 10
    hidden : tuple of int, default (256, 128)
        Hidden layer widths of the MLP.
    lr : float, default 2e-3
        Adam learning rate (cosine-decayed to 0).
    batch_size : int, default 128
    threshold : float in (0, 1), default 0.5
    p_single, allow_same
        Passed to :func:`pair_images`.

    Returns
    -------
    HeadComparison

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.datasets import load
    >>> r = compare_heads(load("digits"), n_train=1000, n_test=200, epochs=2, hidden=(32,),
    ...                   rng=np.random.default_rng(0))  # a quick look; the defaults train properly
    >>> r.softmax.both_yes_rate  # a softmax never gives two classes more than 0.5
    0.0
    >>> r.p_sigmoid.shape, sorted(r.to_dict())
    ((200, 10), ['class_names', 'settings', 'sigmoid', 'softmax', 'threshold', 'train_loss'])
    """
    fname = "compare_heads"
    from .nn import architectures, optim

    _check_rng(rng, fname)
    n_train = _check_int(n_train, "n_train", fname)
    n_test = _check_int(n_test, "n_test", fname)
    epochs = _check_int(epochs, "epochs", fname)
    batch_size = _check_int(batch_size, "batch_size", fname)
    threshold = _check_fraction(threshold, "threshold", fname, closed_right=False)
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) or not 0 < lr < math.inf:
        raise ValueError(f"{fname}: lr must be a positive finite number, got {lr!r}")
    data = _resolve_data(data, fname)
    n_classes = int(max(np.max(data.y_train), np.max(data.y_test))) + 1
    class_names = tuple(str(c) for c in getattr(data, "class_names", range(n_classes)))
    n_classes = max(n_classes, len(class_names))
    start = time.perf_counter()
    pair_rng, test_rng, init_rng, order_rng = rng.spawn(4)
    pairs = dict(n_classes=n_classes, allow_same=allow_same, p_single=p_single)
    x_tr, Y_tr = pair_images(data.x_train, data.y_train, n=n_train, rng=pair_rng, **pairs)
    x_te, Y_te = pair_images(data.x_test, data.y_test, n=n_test, rng=test_rng, **pairs)
    init_seed, order_seed = int(init_rng.integers(2**63)), int(order_rng.integers(2**63))
    steps = epochs * math.ceil(n_train / batch_size)
    probs, histories = {}, {}
    for head in HEADS:
        model = architectures.mlp(x_tr.shape[1:], n_classes, hidden=tuple(hidden),
                                  rng=np.random.default_rng(init_seed))
        histories[head] = fit_multilabel(
            model, x_tr, Y_tr, optimizer=optim.Adam(lr), rng=np.random.default_rng(order_seed), head=head,
            epochs=epochs, batch_size=batch_size, schedule=optim.CosineSchedule(lr, steps),
        )
        probs[head] = predict_multilabel_proba(model, x_te, head=head)
    settings = {"n_train": n_train, "n_test": n_test, "epochs": epochs, "hidden": [int(h) for h in hidden],
                "lr": float(lr), "batch_size": batch_size, "p_single": float(p_single),
                "allow_same": bool(allow_same), "seconds": time.perf_counter() - start}
    return HeadComparison(
        sigmoid=multilabel_metrics(Y_te, probs["sigmoid"], threshold=threshold),
        softmax=multilabel_metrics(Y_te, probs["softmax"], threshold=threshold),
        threshold=threshold, settings=settings, class_names=class_names, x_test=x_te, Y_test=Y_te,
        p_sigmoid=probs["sigmoid"], p_softmax=probs["softmax"],
        history_sigmoid=histories["sigmoid"], history_softmax=histories["softmax"],
    )


_ROWS = (
    ("exact_set_accuracy", "exact-set accuracy (p > {t})", "pct"),
    ("exact_set_accuracy_one", "  on images with one class", "pct"),
    ("exact_set_accuracy_two", "  on images with two classes", "pct"),
    ("exact_set_accuracy_top_k", "exact-set accuracy, top-|true set|", "pct"),
    ("micro_f1", "micro F1 (p > {t})", "num"),
    ("mean_prob_true_high", "two classes: mean p of the likelier", "pct"),
    ("mean_prob_true_low", "two classes: mean p of the other", "pct"),
    ("both_yes_rate", "two classes: both p > {t}", "pct"),
    ("mean_prob_true_one", "one class: mean p of it", "pct"),
)


def format_comparison(result: HeadComparison) -> str:
    """The comparison as an aligned text table, one row per metric, one column per head."""
    t = f"{result.threshold:g}"
    labels = [label.format(t=t) for _, label, _ in _ROWS]
    width = max(map(len, labels))
    lines = [f"{'':<{width}}  {'sigmoid':>8}  {'softmax':>8}"]
    for (key, _, kind), label in zip(_ROWS, labels):
        cells = []
        for metrics in (result.sigmoid, result.softmax):
            v = getattr(metrics, key)
            cells.append("-" if math.isnan(v) else (f"{v:.1%}" if kind == "pct" else f"{v:.3f}"))
        lines.append(f"{label:<{width}}  {cells[0]:>8}  {cells[1]:>8}")
    s = result.settings
    lines.append(
        f"({result.sigmoid.n_images} test images, {result.sigmoid.n_two} with two classes; trained on "
        f"{s['n_train']} images for {s['epochs']} epochs in {s['seconds']:.1f} s)"
    )
    return "\n".join(lines)


def _blank_half(img) -> bool:
    """Whether one half (left or right) of a pair image is blank, as :func:`pair_images` makes them."""
    w = img.shape[-1] // 2
    return bool(not np.any(img[..., :w]) or not np.any(img[..., w:]))


def _pick_examples(x, Y, n):
    """Indices of ``n`` test images: mostly two-class ones, plus one beside a blank half when there is one."""
    size = np.asarray(Y).sum(axis=1)
    two = np.flatnonzero(size == 2)
    one = [i for i in np.flatnonzero(size == 1)[:50] if _blank_half(x[i])]
    k_one = min(len(one), 1 if n > 1 else 0)
    chosen = list(two[: n - k_one]) + list(one[:k_one])
    chosen += [i for i in range(len(size)) if i not in chosen][: n - len(chosen)]
    return sorted(int(i) for i in chosen)


def _describe(img, true, names) -> str:
    if len(true) == 2:
        return f"{names[true[0]]} and {names[true[1]]}"
    if len(true) == 1:
        return f"{names[true[0]]} and a blank" if _blank_half(img) else f"two {names[true[0]]}s"
    return "nothing"


def format_examples(result: HeadComparison, *, n: int = 4) -> str:
    """A few test images with each head's probability of every true class and its predicted set.

    One line per image, e.g. ``image 3 (1 and 7): sigmoid 1 98%, 7 95% -> {1, 7} | softmax 1 49%,
    7 48% -> {}``. Most examples hold two classes; one shows a digit beside a blank half.
    """
    n = _check_int(n, "n", "format_examples", minimum=0)
    names = result.class_names
    lines = []
    for i in _pick_examples(result.x_test, result.Y_test, n):
        true = np.flatnonzero(result.Y_test[i])
        what = _describe(result.x_test[i], true, names)
        parts = []
        for head, p in (("sigmoid", result.p_sigmoid[i]), ("softmax", result.p_softmax[i])):
            shown = ", ".join(f"{names[k]} {p[k]:.0%}" for k in true)
            predicted = ", ".join(names[k] for k in np.flatnonzero(p > result.threshold))
            parts.append(f"{head} {shown} -> {{{predicted}}}")
        lines.append(f"image {i} ({what}): " + " | ".join(parts))
    return "\n".join(lines)


def plot_multilabel_examples(x_pairs, Y, p_sigmoid, p_softmax, class_names, *, n: int = 6, ax=None,
                             threshold: float = 0.5):
    """Pair images above bar charts of both heads' per-class probabilities.

    Parameters
    ----------
    x_pairs : ndarray of shape (n_images, channels, height, width)
    Y : ndarray of shape (n_images, n_classes)
        True label sets (their classes' names are drawn in bold).
    p_sigmoid, p_softmax : ndarray of shape (n_images, n_classes)
    class_names : sequence of str
    n : int, default 6
        How many images to draw (chosen as in :func:`format_examples`).
    ax : ndarray of Axes of shape (2, n), optional
        Where to draw; a new figure (no pyplot) when omitted.
    threshold : float, default 0.5
        Drawn as a dashed line.

    Returns
    -------
    ndarray of Axes of shape (2, n)
    """
    fname = "plot_multilabel_examples"
    n = _check_int(n, "n", fname)
    Y = np.asarray(Y)
    idx = _pick_examples(x_pairs, Y, min(n, len(Y)))
    n = len(idx)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2.6 * n, 4.2), layout="constrained")
        ax = fig.subplots(2, n, squeeze=False, height_ratios=[1, 1.3])
    ax = np.asarray(ax, dtype=object).reshape(2, -1)
    if ax.shape[1] < n:
        raise ValueError(f"{fname}: ax must hold 2 x {n} axes, got {ax.size}")
    k = np.arange(len(class_names))
    for col, i in enumerate(idx):
        img = np.asarray(x_pairs[i])
        top, bottom = ax[0, col], ax[1, col]
        top.imshow(img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1), cmap="gray_r")
        top.set_axis_off()
        top.set_title(_describe(img, np.flatnonzero(Y[i]), [str(c) for c in class_names]))
        bottom.bar(k - 0.2, p_sigmoid[i], width=0.4, label="sigmoid")
        bottom.bar(k + 0.2, p_softmax[i], width=0.4, label="softmax")
        bottom.axhline(threshold, color="grey", linestyle="--", linewidth=0.8)
        bottom.set_ylim(0, 1)
        bottom.set_xticks(k, [str(c) for c in class_names], fontsize=7)
        for tick, truth in zip(bottom.get_xticklabels(), Y[i]):
            tick.set_fontweight("bold" if truth else "normal")
    ax[1, 0].set_ylabel("probability")
    ax[1, 0].legend(fontsize=7, loc="upper right")
    return ax
