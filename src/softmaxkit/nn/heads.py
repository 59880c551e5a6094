"""Output heads that own their loss: :class:`LinearCrossEntropyHead`, a dense layer trained through
:func:`softmaxkit.linear_cross_entropy_and_grad` without forming the logits (the contract: :mod:`.base`)."""

from __future__ import annotations

import numpy as np

from .._validation import FRACTION, Boolean, Integer, Options, OrNone, check_rng, validate
from ..linear_head import linear_cross_entropy_and_grad
from .base import Layer, feature_input, shape_error
from .init import INITS

__all__ = ["LinearCrossEntropyHead"]

_HEAD = {
    "in_features": Integer(1),
    "n_classes": Integer(1),
    "bias": Boolean(),
    "init": Options(*INITS),
    "chunk_size": OrNone(Integer(1)),
    "label_smoothing": FRACTION,
    "ignore_index": OrNone(Integer()),
}


class LinearCrossEntropyHead(Layer):
    """A linear output layer ``logits = x @ W.T + b`` that trains with a fused cross-entropy.

    As a layer it is a dense layer (``forward`` returns the logits, ``backward`` takes their
    gradient), usable anywhere. For training, :meth:`loss_and_backward` runs
    :func:`softmaxkit.linear_cross_entropy_and_grad`: the loss and every gradient are computed
    ``chunk_size`` rows at a time, and the ``(n, n_classes)`` logits are never held, which is what a
    head of many classes (a language model's vocabulary) needs. Use :meth:`forward` for prediction,
    and :meth:`loss_and_backward` instead of ``forward`` + loss + ``backward`` for training.

    Parameters
    ----------
    in_features, n_classes : int
    bias : bool, default True
    init : {"glorot", "he"}, default "glorot"
        Glorot uniform (an output layer is followed by no ReLU) or He normal. Biases start at zero.
    rng : numpy.random.Generator, optional
        Source of the initial weights; ``None`` uses a fresh ``default_rng()`` (not reproducible).
    chunk_size : int, optional
        Rows per block in :meth:`loss_and_backward` (None: :func:`softmaxkit.linear_head.default_chunk_size`).
    label_smoothing : float in [0, 1], default 0
    ignore_index : int, optional
        Label whose rows :meth:`loss_and_backward` leaves out (None: none).

    Attributes
    ----------
    params : dict
        ``"weight"``: ndarray of shape (n_classes, in_features), laid out as ``torch.nn.Linear.weight``
        (the transpose of :class:`~softmaxkit.nn.Dense`'s); ``"bias"``: (n_classes,) when ``bias``.

    Examples
    --------
    >>> import numpy as np
    >>> head = LinearCrossEntropyHead(4, 10, rng=np.random.default_rng(0))
    >>> x, y = np.ones((3, 4), np.float32), np.array([1, 2, 9])
    >>> loss, grad_x = head.loss_and_backward(x, y)
    >>> grad_x.shape, head.grads["weight"].shape, head.forward(x).shape
    ((3, 4), (10, 4), (3, 10))
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        *,
        bias: bool = True,
        init: str = "glorot",
        rng=None,
        chunk_size=None,
        label_smoothing: float = 0.0,
        ignore_index=None,
    ):
        super().__init__()
        fname = "LinearCrossEntropyHead"
        (
            self.in_features,
            self.n_classes,
            self.bias,
            self.init,
            self.chunk_size,
            self.label_smoothing,
            self.ignore_index,
        ) = validate(
            fname,
            _HEAD,
            in_features=in_features,
            n_classes=n_classes,
            bias=bias,
            init=init,
            chunk_size=chunk_size,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
        )
        rng = check_rng(rng, fname, allow_none=True)
        shape = (self.n_classes, self.in_features)
        self.params["weight"] = INITS[self.init](rng, shape, self.in_features, self.n_classes)
        if self.bias:
            self.params["bias"] = np.zeros(self.n_classes, np.float32)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x = None

    def config(self) -> dict:
        return {
            "in_features": self.in_features,
            "n_classes": self.n_classes,
            "bias": self.bias,
            "init": self.init,
            "chunk_size": self.chunk_size,
            "label_smoothing": self.label_smoothing,
            "ignore_index": self.ignore_index,
        }

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.in_features,):
            raise shape_error(self, f"(n, {self.in_features})", ("n", *input_shape))
        return (self.n_classes,)

    def _input(self, x) -> np.ndarray:
        return feature_input(self, x, self.in_features)

    def forward(self, x, training: bool = False) -> np.ndarray:
        """The logits ``x @ W.T + b``, of shape (n, n_classes): materialised, for prediction.

        Training a large head should go through :meth:`loss_and_backward` instead, which never holds
        them; this path (with :meth:`backward`) makes the layer usable like any other.
        """
        x = self._input(x)
        y = np.matmul(x, self.params["weight"].T)
        if self.bias:
            y += self.params["bias"]
        self._x = x if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        x = self._saved("_x")
        w = self.params["weight"]
        g = np.asarray(grad_y).astype(w.dtype, copy=False)
        if g.shape != (x.shape[0], self.n_classes):
            raise ValueError(f"{self.name}: expected grad_y of shape {(x.shape[0], self.n_classes)}, got {g.shape}")
        np.matmul(g.T, x, out=self.grads["weight"])
        if self.bias:
            np.sum(g, axis=0, out=self.grads["bias"])
        return np.matmul(g, w) if input_grad else None

    def loss_and_backward(self, x, target, *, reduction: str = "mean", grad_output=None):
        """Cross-entropy of the logits against ``target`` and its gradients, without the logits.

        Fills ``grads`` (overwriting them, in place) and returns the loss and the gradient with
        respect to ``x``, as :func:`softmaxkit.linear_cross_entropy_and_grad` computes them with this
        layer's ``label_smoothing``, ``ignore_index`` and ``chunk_size``.

        Parameters
        ----------
        x : array_like of shape (n, in_features)
            Cast to the parameters' dtype (float32 unless :meth:`astype` changed it).
        target : array_like of int, shape (n,)
        reduction : {"mean", "sum", "none"}, default "mean"
        grad_output : float or array_like of shape (n,), optional
            See :func:`softmaxkit.linear_cross_entropy_and_grad` (per-row weights with ``"none"``).

        Returns
        -------
        loss : float or ndarray
        grad_x : ndarray of shape (n, in_features)
        """
        x = self._input(x)
        self._x = None  # a later backward() needs a forward(training=True) of its own
        loss, grad_x, _, _ = linear_cross_entropy_and_grad(
            x,
            self.params["weight"],
            target,
            bias=self.params.get("bias"),
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            reduction=reduction,
            chunk_size=self.chunk_size,
            grad_output=grad_output,
            out=(None, self.grads["weight"], self.grads.get("bias")),
        )
        return loss, grad_x
