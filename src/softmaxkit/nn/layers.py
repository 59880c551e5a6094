"""Dense and shape layers, activations, dropout, the softmax output and a fixed standardisation input
layer (the contract: :mod:`.base`)."""

from __future__ import annotations

import math

import numpy as np

from .._validation import HALF_OPEN_FRACTION, Integer, Options, check_rng, validate
from ..kernels import sigmoid, softmax, softmax_backward
from .base import Layer, feature_input, float_input, shape_error
from .init import INITS

__all__ = ["Dense", "Flatten", "ReLU", "Sigmoid", "Tanh", "Dropout", "Softmax", "Standardize"]


_DENSE = {"in_features": Integer(1), "out_features": Integer(1), "init": Options(*INITS)}


class Dense(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
    init : {"he", "glorot"}, default "he"
        He normal for layers followed by a ReLU, Glorot uniform otherwise. Biases start at zero.
    rng : numpy.random.Generator, optional
        Source of the initial weights; ``None`` uses a fresh ``default_rng()`` (not reproducible).

    Attributes
    ----------
    params : dict
        ``"weight"``: ndarray of shape (in_features, out_features); ``"bias"``: (out_features,).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(3, 2, rng=np.random.default_rng(0))
    >>> layer.forward(np.ones((4, 3))).shape, layer.params["weight"].dtype
    ((4, 2), dtype('float32'))
    """

    def __init__(self, in_features: int, out_features: int, *, init: str = "he", rng=None):
        super().__init__()
        self.in_features, self.out_features, self.init = validate(
            "Dense", _DENSE, in_features=in_features, out_features=out_features, init=init
        )
        rng = check_rng(rng, "Dense", allow_none=True)
        shape = (self.in_features, self.out_features)
        self.params["weight"] = INITS[init](rng, shape, self.in_features, self.out_features)
        self.params["bias"] = np.zeros(self.out_features, np.float32)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x = None

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.in_features,):
            raise shape_error(self, f"(n, {self.in_features})", ("n", *input_shape))
        return (self.out_features,)

    def _input(self, x) -> np.ndarray:
        return feature_input(self, x, self.in_features)

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = self._input(x)
        y = np.matmul(x, self.params["weight"])
        y += self.params["bias"]
        self._x = x if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        x = self._saved("_x")
        w = self.params["weight"]
        g = np.asarray(grad_y).astype(w.dtype, copy=False)
        if g.shape != (x.shape[0], self.out_features):
            raise ValueError(f"{self.name}: expected grad_y of shape {(x.shape[0], self.out_features)}, got {g.shape}")
        np.matmul(x.T, g, out=self.grads["weight"])
        np.sum(g, axis=0, out=self.grads["bias"])
        return np.matmul(g, w.T) if input_grad else None


class Flatten(Layer):
    """Reshape ``(n, *dims)`` to ``(n, prod(dims))``.

    Examples
    --------
    >>> import numpy as np
    >>> Flatten().forward(np.zeros((2, 1, 3, 3), np.float32)).shape
    (2, 9)
    """

    def __init__(self):
        super().__init__()
        self._shape = None

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = float_input(x)
        if x.ndim < 2:
            raise shape_error(self, "(n, ...) with at least 2 dimensions", x.shape)
        self._shape = x.shape if training else None
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y, *, input_grad: bool = True):
        shape = self._saved("_shape")
        return np.asarray(grad_y).reshape(shape) if input_grad else None


class _OutputActivation(Layer):
    """An elementwise activation whose derivative is a function of its output ``y``: the forward pass
    keeps ``y`` (when training) and the backward pass multiplies by ``derivative(y)``."""

    def __init__(self):
        super().__init__()
        self._y = None

    def _apply(self, x):
        raise NotImplementedError

    def _derivative(self, y):
        raise NotImplementedError

    def forward(self, x, training: bool = False) -> np.ndarray:
        y = self._apply(float_input(x))
        self._y = y if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        y = self._saved("_y")
        if not input_grad:
            return None
        return np.asarray(grad_y, dtype=y.dtype) * self._derivative(y)


class ReLU(_OutputActivation):
    """Rectified linear unit ``max(x, 0)``; the gradient at 0 is taken as 0 (as in PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> ReLU().forward(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """

    def _apply(self, x):
        return np.maximum(x, x.dtype.type(0))

    def _derivative(self, y):
        return y > 0


class Sigmoid(_OutputActivation):
    """Logistic sigmoid, computed by the stable :func:`softmaxkit.sigmoid` kernel; derivative ``y (1 - y)``.

    Examples
    --------
    >>> import numpy as np
    >>> Sigmoid().forward(np.array([0.0], np.float32))
    array([0.5], dtype=float32)
    """

    def _apply(self, x):
        return sigmoid(x)

    def _derivative(self, y):
        return y * (y.dtype.type(1) - y)


class Tanh(_OutputActivation):
    """Hyperbolic tangent; derivative ``1 - y**2``.

    Examples
    --------
    >>> import numpy as np
    >>> Tanh().forward(np.array([0.0]))
    array([0.])
    """

    def _apply(self, x):
        return np.tanh(x)

    def _derivative(self, y):
        return y.dtype.type(1) - y * y


class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; at inference, the identity.

    Parameters
    ----------
    p : float in [0, 1)
    rng : numpy.random.Generator, optional
        Source of the masks (``None``: a fresh ``default_rng()``). The mask of the last training
        forward is kept in ``mask_``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dropout(0.5, rng=np.random.default_rng(0))
    >>> y = layer.forward(np.ones((2, 4), np.float32), training=True)
    >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
    >>> layer.forward(np.ones(3)).tolist()   # inference: identity
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float, *, rng=None):
        super().__init__()
        (self.p,) = validate("Dropout", {"p": HALF_OPEN_FRACTION}, p=p)
        self.rng = check_rng(rng, "Dropout", allow_none=True)
        self.mask_ = None

    def config(self) -> dict:
        return {"p": self.p}

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = float_input(x)
        if not training or self.p == 0.0:
            self.mask_ = np.ones((), x.dtype) if training else None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= x.dtype.type(self.p)
        self.mask_ = np.multiply(keep, x.dtype.type(1.0 / (1.0 - self.p)), dtype=x.dtype)
        return x * self.mask_

    def backward(self, grad_y, *, input_grad: bool = True):
        mask = self._saved("mask_")
        if not input_grad:
            return None
        return np.multiply(grad_y, mask, dtype=mask.dtype)


class Softmax(Layer):
    """Softmax over the last axis, as an output layer for inference (e.g. an exported model that
    returns probabilities). Train on logits with the fused cross-entropy gradient instead; this
    layer's backward is the O(n) vector-Jacobian product :func:`softmaxkit.softmax_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> Softmax().forward(np.zeros((1, 4), np.float32))
    array([[0.25, 0.25, 0.25, 0.25]], dtype=float32)
    """

    def __init__(self):
        super().__init__()
        self._y = None

    def forward(self, x, training: bool = False) -> np.ndarray:
        y = softmax(float_input(x), axis=-1)
        self._y = y if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        y = self._saved("_y")
        if not input_grad:
            return None
        return softmax_backward(y, np.asarray(grad_y, dtype=y.dtype), axis=-1)


#: What a standardisation layer's statistics may be: float32 numbers, so that float32 inputs (the
#: default) neither overflow to infinity nor divide by a scale that rounds to zero.
_FLOAT32 = np.finfo(np.float32)


class Standardize(Layer):
    """A fixed input layer ``y = (x - mean) / scale``, per feature, with no trainable parameters.

    Statistics fitted on the training data (:meth:`fit`) travel in the model file as this layer's
    config, so that prediction and evaluation apply exactly what training saw.

    Parameters
    ----------
    mean, scale : array_like of shape (n_features,)
        Finite real numbers within float32's range; every ``scale`` is at least float32's smallest
        normal number (about 1.2e-38). Kept as read-only float64 arrays.

    Raises
    ------
    TypeError
        ``mean`` or ``scale`` does not hold real numbers (text, booleans, None, ...).
    ValueError
        They are not 1-d, empty, of different lengths, or a value is out of the range above (the
        message names the first one, e.g. ``scale[3] = -1.0``).

    Attributes
    ----------
    mean, scale : ndarray of shape (n_features,)
        float64. ``params`` and ``grads`` are empty: optimizers never change them.

    Notes
    -----
    Inputs are ``(n, n_features)``; the output has the input's dtype (float32 unless it is float64),
    the statistics being rounded to that dtype, then subtracted and divided (as the ONNX export's
    ``Sub`` and ``Div`` do). The backward pass returns ``grad_y / scale``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 10.0], [3.0, 10.0]], np.float32)
    >>> layer = Standardize.fit(x)
    >>> layer.mean.tolist(), layer.scale.tolist()   # the constant column gets scale 1
    ([2.0, 10.0], [1.0, 1.0])
    >>> layer.forward(x)
    array([[-1.,  0.],
           [ 1.,  0.]], dtype=float32)
    """

    def __init__(self, mean, scale):
        super().__init__()
        self.mean, self.scale = _statistics(mean, scale)
        self._dtype = None

    @classmethod
    def fit(cls, x) -> Standardize:
        """A layer of the per-column mean and population standard deviation of ``x``, in float64.

        A column whose values are all equal gets its value as mean and scale 1 (it standardises to
        0); so does one whose standard deviation is below float32's smallest normal number.

        Parameters
        ----------
        x : array_like of shape (n_samples, n_features)
            Finite real numbers, at least one row.

        Returns
        -------
        Standardize

        Raises
        ------
        TypeError
            ``x`` is not numeric.
        ValueError
            ``x`` is not 2-d with a row and a column, holds NaN or infinite values, or a column's
            statistics are beyond float32's range.

        Examples
        --------
        >>> import numpy as np
        >>> Standardize.fit(np.array([[0.0], [2.0], [4.0]])).config()
        {'mean': [2.0], 'scale': [1.632993161855452]}
        """
        fname = "Standardize.fit"
        x = np.asarray(x)
        if x.dtype.kind not in "iuf":
            raise TypeError(f"{fname}: x must be an array of real numbers, got dtype {x.dtype}")
        if x.ndim != 2 or 0 in x.shape:
            raise ValueError(f"{fname}: x must be 2-d of shape (n_samples, n_features), both >= 1, got {x.shape}")
        x = x.astype(np.float64, copy=False)
        bad = ~np.isfinite(x)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(f"{fname}: x holds NaN or infinite values (first at row {row}, column {column})")
        with np.errstate(over="ignore", invalid="ignore"):
            mean = x.mean(axis=0)
            scale = x.std(axis=0)
        constant = (x == x[0]).all(axis=0) | (scale < _FLOAT32.tiny)
        mean[constant], scale[constant] = x[0, constant], 1.0
        return cls(mean, scale)

    @property
    def name(self) -> str:
        return f"Standardize(n_features={self.mean.size})"

    def config(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    def output_shape(self, input_shape):
        if tuple(input_shape) != self.mean.shape:
            raise shape_error(self, f"(n, {self.mean.size})", ("n", *input_shape))
        return tuple(input_shape)

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = float_input(x)
        if x.shape[1:] != self.mean.shape:
            raise shape_error(self, f"(n, {self.mean.size})", x.shape)
        y = (x - self.mean.astype(x.dtype)) / self.scale.astype(x.dtype)
        self._dtype = x.dtype if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        dtype = self._saved("_dtype")
        if not input_grad:
            return None
        return np.asarray(grad_y, dtype=dtype) / self.scale.astype(dtype)


def _statistics(mean, scale) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` and ``scale`` as read-only 1-d float64 arrays, checked (see :class:`Standardize`)."""
    fname = "Standardize"
    arrays = []
    for argname, value in (("mean", mean), ("scale", scale)):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError, OverflowError):  # ragged nesting
            array = np.asarray(None)
        if array.dtype.kind not in "iuf":  # text, booleans, None, integers beyond 64 bits, ...
            raise TypeError(f"{fname}: {argname} must be a 1-d sequence of real numbers, got {_short(value)}")
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{fname}: {argname} must be a non-empty 1-d sequence of numbers, got {_short(value)}")
        with np.errstate(over="ignore"):
            array = array.astype(np.float64)
        arrays.append(array)
    mean, scale = arrays
    if mean.shape != scale.shape:
        raise ValueError(f"{fname}: mean and scale must have the same length, got {mean.size} and {scale.size}")
    bad = np.flatnonzero(~(np.abs(mean) <= _FLOAT32.max))
    if bad.size:
        raise ValueError(
            f"{fname}: mean must be finite numbers within float32's range, got mean[{bad[0]}] = {float(mean[bad[0]])!r}"
        )
    bad = np.flatnonzero(~((scale >= _FLOAT32.tiny) & (scale <= _FLOAT32.max)))
    if bad.size:
        raise ValueError(
            f"{fname}: scale must be positive finite numbers within float32's range (from "
            f"{_FLOAT32.tiny:.3g} to {_FLOAT32.max:.3g}), got scale[{bad[0]}] = {float(scale[bad[0]])!r}"
        )
    mean.setflags(write=False)
    scale.setflags(write=False)
    return mean, scale


def _short(value) -> str:
    """A short ``repr`` for messages (a hostile list of a million numbers is not echoed)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
