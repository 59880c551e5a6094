"""The experiment: a sigmoid head and a softmax head trained on the same pair images, compared.

Also ``softmaxkit multilabel`` on the command line.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .._validation import OPEN_FRACTION, POSITIVE, Integer, check_rng, validate
from ..nn import architectures, optim, schedules
from ..train import History, fit
from .heads import HEADS, MultiLabelLoss, predict_multilabel_proba
from .metrics import HeadMetrics, multilabel_metrics
from .pairs import pair_images

__all__ = ["HeadComparison", "compare_heads"]

_CONSTRAINTS = {
    "n_train": Integer(1),
    "n_test": Integer(1),
    "epochs": Integer(1),
    "batch_size": Integer(1),
    "threshold": OPEN_FRACTION,
    "lr": POSITIVE,
}


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
            "train_loss": {
                "sigmoid": self.history_sigmoid.column("train_loss").tolist(),
                "softmax": self.history_softmax.column("train_loss").tolist(),
            },
        }


def _resolve_data(data, fname):
    if data is None or isinstance(data, str):
        from .. import datasets

        return datasets.load("digits" if data is None else data)
    missing = [a for a in ("x_train", "y_train", "x_test", "y_test") if not hasattr(data, a)]
    if missing:
        raise TypeError(
            f"{fname}: data must be None, a data set name or an object with x_train, y_train, x_test, "
            f"y_test (e.g. softmaxkit.datasets.load('digits')); it lacks {', '.join(missing)}"
        )
    return data


def compare_heads(
    data=None,
    *,
    rng: np.random.Generator,
    n_train: int = 20000,
    n_test: int = 4000,
    epochs: int = 10,
    hidden=(256, 128),
    lr: float = 2e-3,
    batch_size: int = 128,
    threshold: float = 0.5,
    p_single: float = 0.2,
    allow_same: bool = True,
) -> HeadComparison:
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
    rng = check_rng(rng, fname)
    n_train, n_test, epochs, batch_size, threshold, lr = validate(
        fname,
        _CONSTRAINTS,
        n_train=n_train,
        n_test=n_test,
        epochs=epochs,
        batch_size=batch_size,
        threshold=threshold,
        lr=lr,
    )
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
        model = architectures.mlp(x_tr.shape[1:], n_classes, hidden=tuple(hidden), rng=np.random.default_rng(init_seed))
        histories[head] = fit(
            model,
            x_tr,
            Y_tr,
            loss=MultiLabelLoss(head),
            optimizer=optim.Adam(lr),
            rng=np.random.default_rng(order_seed),
            epochs=epochs,
            batch_size=batch_size,
            schedule=schedules.CosineSchedule(lr, steps),
            progress=False,
        )
        probs[head] = predict_multilabel_proba(model, x_te, head=head)
    settings = {
        "n_train": n_train,
        "n_test": n_test,
        "epochs": epochs,
        "hidden": [int(h) for h in hidden],
        "lr": float(lr),
        "batch_size": batch_size,
        "p_single": float(p_single),
        "allow_same": bool(allow_same),
        "seconds": time.perf_counter() - start,
    }
    return HeadComparison(
        sigmoid=multilabel_metrics(Y_te, probs["sigmoid"], threshold=threshold),
        softmax=multilabel_metrics(Y_te, probs["softmax"], threshold=threshold),
        threshold=threshold,
        settings=settings,
        class_names=class_names,
        x_test=x_te,
        Y_test=Y_te,
        p_sigmoid=probs["sigmoid"],
        p_softmax=probs["softmax"],
        history_sigmoid=histories["sigmoid"],
        history_softmax=histories["softmax"],
    )
