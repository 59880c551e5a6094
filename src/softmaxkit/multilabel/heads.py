r"""Multi-label output heads: independent sigmoids (binary cross-entropy) or one softmax (soft targets).

When classes are not exclusive ("a 1 *and* a 7 in one picture") each class needs its own yes/no
probability :math:`\sigma(z_k)`. A softmax head cannot express that: its probabilities share one unit
of mass, so two true classes get about one half each and at most one class can ever exceed 0.5.
Both heads train through the one loop, :func:`softmaxkit.train.fit`, with ``loss=MultiLabelLoss(head)``.
"""

from __future__ import annotations

import numpy as np

from .._validation import Options, check_multi_hot, validate
from ..kernels import sigmoid, softmax
from ..losses import binary_cross_entropy_with_logits_and_grad, cross_entropy_and_grad

__all__ = ["HEADS", "multilabel_loss_and_grad", "MultiLabelLoss", "predict_multilabel_proba"]

HEADS = ("sigmoid", "softmax")
_CONSTRAINTS = {"head": Options(*HEADS)}


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
    (head,) = validate(fname, _CONSTRAINTS, head=head)
    z = np.asarray(logits)
    if z.ndim != 2:
        raise ValueError(f"{fname}: logits must have shape (n_samples, n_classes), got {z.shape}")
    Yb = check_multi_hot(Y, z.shape[0], fname, n_classes=z.shape[1])
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


class MultiLabelLoss:
    """The loss of a multi-label head for :func:`softmaxkit.train.fit`: :func:`multilabel_loss_and_grad`.

    Targets are multi-hot label sets of shape ``(n_samples, n_classes)``. There is no accuracy of a
    single class to count (``n_correct`` is None); :func:`softmaxkit.multilabel.multilabel_metrics`
    measures the predicted sets.

    Parameters
    ----------
    head : {"sigmoid", "softmax"}, default "sigmoid"

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.nn import architectures, optim
    >>> from softmaxkit.train import fit
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((64, 1, 2, 2), dtype=np.float32)
    >>> Y = np.stack([x[:, 0, 0, 0] > 0.5, x[:, 0, 1, 1] > 0.5], axis=1).astype(np.float32)
    >>> model = architectures.mlp((1, 2, 2), 2, hidden=(16,), rng=rng)
    >>> h = fit(model, x, Y, loss=MultiLabelLoss("sigmoid"), optimizer=optim.Adam(1e-2), rng=rng, epochs=20,
    ...         batch_size=16, progress=False)
    >>> h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
    True
    """

    def __init__(self, head: str = "sigmoid"):
        (self.head,) = validate("MultiLabelLoss", _CONSTRAINTS, head=head)

    def __repr__(self) -> str:
        return f"MultiLabelLoss({self.head!r})"

    def check_targets(self, Y, n_outputs: int, fname: str, argname: str = "Y"):
        return check_multi_hot(Y, len(Y), fname, argname=argname, n_classes=n_outputs).astype(np.float32)

    def loss_and_grad(self, logits, Y):
        return multilabel_loss_and_grad(logits, Y, head=self.head)

    def loss(self, logits, Y) -> float:
        return multilabel_loss_and_grad(logits.astype(np.float64), Y, head=self.head)[0]

    def n_correct(self, logits, Y):
        return None


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
    (head,) = validate("predict_multilabel_proba", _CONSTRAINTS, head=head)
    z = model.predict_logits(x, batch_size=batch_size).astype(np.float64)
    return sigmoid(z) if head == "sigmoid" else softmax(z, axis=-1)
