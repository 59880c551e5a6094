"""The :class:`Sequential` model: a stack of layers whose last one outputs logits.

It knows its layers, shapes and parameters, runs them forward and backward, and predicts. Saving and
loading live in :mod:`softmaxkit.nn.io`; calibration wraps a fitted model from above
(:class:`softmaxkit.calibration.CalibratedModel`), the model itself knows nothing of it.
"""

from __future__ import annotations

import numpy as np

from .._validation import Integer, validate
from ..kernels import softmax
from ._format import write_model
from ._fused import plan, unit_at
from .base import Layer
from .layers import Dropout, Softmax

__all__ = ["Sequential"]


class Sequential:
    """A stack of layers applied in order; the last layer outputs logits.

    Parameters
    ----------
    layers : sequence of Layer
    class_names : sequence of str, optional
        One name per output class (checked against the output width when ``input_shape`` is given).
    input_shape : tuple of int, optional
        Shape of one sample, e.g. ``(1, 28, 28)`` (C, H, W). When given, the layers are checked for
        compatibility at construction and inputs are checked in :meth:`forward`.

    Attributes
    ----------
    layers : list of Layer
    metadata : dict
        JSON-able free-form information (dataset, training settings, ...), saved with the model.
        NumPy scalars and arrays are converted to numbers and lists; NaN and infinities are kept
        (written as Python's JSON extensions ``NaN``/``Infinity``).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.nn import Sequential, Dense, ReLU
    >>> rng = np.random.default_rng(0)
    >>> model = Sequential([Dense(4, 8, rng=rng), ReLU(), Dense(8, 3, rng=rng)], class_names=["a", "b", "c"],
    ...                    input_shape=(4,))
    >>> model.n_params
    67
    >>> model.predict_proba(np.ones((2, 4))).sum(axis=1).round(6)
    array([1., 1.], dtype=float32)
    """

    def __init__(self, layers, *, class_names=None, input_shape=None):
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a softmaxkit.nn Layer")
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.metadata: dict = {}
        self._units = None  # the units of the last training forward, for backward
        if self.input_shape is not None:
            out = self.output_shape()
            if self.class_names is not None and out != (len(self.class_names),):
                raise ValueError(
                    f"Sequential: {len(self.class_names)} class names for a model whose output has shape {out}"
                )

    # ------------------------------------------------------------------ structure
    def output_shape(self, input_shape=None) -> tuple:
        """Shape of one output sample (raises ValueError naming the first incompatible layer)."""
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        if shape is None:
            raise ValueError("Sequential: input_shape is unknown; pass one")
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def parameters(self):
        """Iterate over ``(param, grad, name)`` for every parameter, name like ``"layers.0.weight"``."""
        for i, layer in enumerate(self.layers):
            for key, param in layer.params.items():
                yield param, layer.grads[key], f"layers.{i}.{key}"

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p, _, _ in self.parameters())

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the parameters (float32 unless :meth:`astype` changed it)."""
        for param, _, _ in self.parameters():
            return param.dtype
        return getattr(self, "_dtype", np.dtype(np.float32))

    def astype(self, dtype) -> Sequential:
        """Convert every parameter to ``dtype`` (float32 or float64) in place; returns self."""
        for layer in self.layers:
            layer.astype(dtype)
        self._dtype = np.dtype(dtype)
        return self

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        rows, shape = [], self.input_shape
        for i, layer in enumerate(self.layers):
            if shape is not None:
                shape = layer.output_shape(shape)
            count = sum(p.size for p in layer.params.values())
            rows.append(f"{i:>3}  {layer.name:<58} {str(shape) if shape else '':<16} {count:>10,}")
        rows.append(f"total parameters: {self.n_params:,}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n], input_shape={self.input_shape})"

    # ------------------------------------------------------------------ computation
    def _prepare(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"Sequential: input must be numeric, got dtype {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ValueError(
                f"Sequential: expected input of shape (n, {', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        return x

    def predict_proba(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities ``softmax(predict_logits(x))``, ndarray of shape (n_samples, n_classes)."""
        return softmax(self.predict_logits(x, batch_size=batch_size), axis=-1)

    def predict(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Predicted class indices (the argmax of the logits), ndarray of shape (n_samples,)."""
        return np.argmax(self.predict_logits(x, batch_size=batch_size), axis=-1)

    def forward(self, x, training: bool = False) -> np.ndarray:
        """The last layer's output for a batch (the logits, unless the model ends in a Softmax layer).

        ``training=True`` keeps what :meth:`backward` needs and enables dropout. The input is cast once
        to the model's dtype (float32).
        """
        return self._run(self._prepare(x), self.layers, training)

    def features(self, x, training: bool = False) -> np.ndarray:
        """The output of every layer but the last: the input of the model's head.

        Like :meth:`forward` (``training=True`` keeps what :meth:`backward` needs), for a head that
        computes its loss itself, e.g. :meth:`softmaxkit.nn.LinearCrossEntropyHead.loss_and_backward`,
        whose input gradient then goes to :meth:`backward`.
        """
        return self._run(self._prepare(x), self.layers[:-1], training)

    def _run(self, x, layers, training: bool) -> np.ndarray:
        """Run ``layers`` on ``x``, fused blocks where possible (:mod:`._fused`); the units of a training
        run are kept for :meth:`backward`."""
        units, i = [], 0
        while i < len(layers):
            units.append(unit_at(layers, i, x.size))
            x = units[-1].forward(x, training)
            i += units[-1].length
        self._units = units if training else None
        return x

    @property
    def ends_in_softmax(self) -> bool:
        """Whether the last layer (Dropout aside, an identity at inference) is a :class:`~softmaxkit.nn.Softmax`.

        Such a model outputs probabilities: :meth:`predict_logits` then returns that Softmax's input,
        so that :meth:`predict_proba` does not apply softmax twice; training needs the logits, so
        :func:`softmaxkit.train.fit` refuses it.
        """
        return self._head() < len(self.layers)

    def _head(self) -> int:
        """Index of a trailing Softmax layer (Dropout aside), or ``len(self.layers)`` without one."""
        i = len(self.layers) - 1
        while i >= 0 and isinstance(self.layers[i], Dropout):
            i -= 1
        return i if i >= 0 and isinstance(self.layers[i], Softmax) else len(self.layers)

    def backward(self, grad, *, input_grad: bool = False):
        """Back-propagate ``d loss / d logits`` through all layers in reverse, filling every ``grads``.

        Gradients are overwritten, not accumulated. The gradient with respect to the input is only
        computed (and returned) with ``input_grad=True``; otherwise the layers below the first layer
        with parameters are skipped and None is returned.
        """
        g = np.asarray(grad).astype(self.dtype, copy=False)
        units = self._units if self._units is not None else plan(self.layers)
        stop = 0
        if not input_grad:
            stop = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        for unit in reversed(units):
            if unit.start + unit.length <= stop:
                break
            g = unit.backward(g, input_grad=input_grad or unit.start > stop)
        return g if input_grad else None

    def predict_logits(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Logits, ndarray of shape (n_samples, n_classes), computed ``batch_size`` samples at a time.

        For a model that ends in a Softmax layer these are that layer's input (see :attr:`ends_in_softmax`).
        """
        x = np.asarray(x)
        (batch_size,) = validate("Sequential.predict_logits", {"batch_size": Integer(1)}, batch_size=batch_size)
        if x.ndim == 0:
            raise ValueError("Sequential: expected a batch of samples, got a scalar")
        n = x.shape[0]
        layers = self.layers[: self._head()]
        out = None
        for lo in range(0, n, batch_size):
            logits = self._run(self._prepare(x[lo : lo + batch_size]), layers, False)
            if out is None:
                out = np.empty((n, *logits.shape[1:]), logits.dtype)
            out[lo : lo + len(logits)] = logits
        if out is None:  # empty input: one dummy-free shape pass when possible
            width = self.output_shape(x.shape[1:]) if layers else x.shape[1:]
            out = np.empty((0, *width), self.dtype)
        return out

    def save(self, path, *, extras: dict | None = None) -> None:
        """Write the model to ``path`` as one ``.npz`` file, atomically (see :func:`softmaxkit.nn.save`)."""
        write_model(self, path, extras=extras, fname="Sequential.save")
