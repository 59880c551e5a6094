"""Layers: the base contract, dense and shape layers, activations, dropout and the softmax output.

Every layer keeps one contract:

* ``forward(x, training=False) -> y``. With ``training=True`` the layer keeps what its backward needs
  (and :class:`Dropout` draws a mask); ``backward`` must follow a training-mode forward.
* ``backward(grad_y, *, input_grad=True) -> grad_x`` fills ``grads`` (overwriting, never accumulating)
  and returns the gradient with respect to the input (``None`` when ``input_grad=False``, which lets
  :class:`~softmaxkit.nn.Sequential` skip the unused input gradient of its first layer).
* ``params`` and ``grads`` are dicts with the same keys and shapes (empty for layers without
  parameters); the arrays are updated in place and never replaced, so optimizers and snapshots may hold
  on to them.
* ``config()`` returns the JSON-able constructor arguments, so ``type(layer)(**layer.config())``
  rebuilds the layer (with fresh weights).

Parameters are float32. Layers with parameters cast their input to the parameters' dtype (a no-op for
float32 input); :meth:`Layer.astype` switches a layer to float64, which the gradient checks use.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import sigmoid, softmax, softmax_backward
from .init import INITS, check_rng

__all__ = ["Layer", "Dense", "Flatten", "ReLU", "Sigmoid", "Tanh", "Dropout", "Softmax"]


class Layer:
    """Base class: no parameters, identity shape; subclasses override ``forward``/``backward``."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x, training: bool = False) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_y, *, input_grad: bool = True):  # pragma: no cover - abstract
        raise NotImplementedError

    def config(self) -> dict:
        """Constructor arguments as a JSON-able dict."""
        return {}

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of one output sample given the shape of one input sample (raises ValueError if invalid)."""
        return tuple(input_shape)

    def astype(self, dtype) -> "Layer":
        """Convert parameters and gradients to ``dtype`` (float32 or float64) in place; returns self."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"{self.name}: dtype must be float32 or float64, got {dtype}")
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = np.zeros_like(self.params[key])
        return self

    @property
    def name(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return self.name

    def _saved(self, attr: str):
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{self.name}: backward() needs a preceding forward(x, training=True)")
        return value


def _float_input(x, dtype=None) -> np.ndarray:
    """``x`` as a floating array: cast to ``dtype`` if given, else float32 unless already floating."""
    x = np.asarray(x)
    if dtype is not None:
        return x.astype(dtype, copy=False)
    if x.dtype not in (np.float32, np.float64):
        return x.astype(np.float32)
    return x


def _shape_error(layer: Layer, expected: str, got) -> ValueError:
    shape = "(" + ", ".join(str(d) for d in got) + ("," if len(got) == 1 else "") + ")"
    return ValueError(f"{layer.name}: expected input of shape {expected}, got {shape}")


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
        self.in_features = _positive_int(in_features, "in_features", "Dense")
        self.out_features = _positive_int(out_features, "out_features", "Dense")
        if init not in INITS:
            raise ValueError(f"Dense: init must be one of {sorted(INITS)}, got {init!r}")
        self.init = init
        rng = check_rng(rng, "Dense")
        shape = (self.in_features, self.out_features)
        self.params["weight"] = INITS[init](rng, shape, self.in_features, self.out_features)
        self.params["bias"] = np.zeros(self.out_features, np.float32)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x = None

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.in_features,):
            raise _shape_error(self, f"(n, {self.in_features})", ("n", *input_shape))
        return (self.out_features,)

    def forward(self, x, training: bool = False) -> np.ndarray:
        w = self.params["weight"]
        x = _float_input(x, w.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise _shape_error(self, f"(n, {self.in_features})", x.shape)
        y = np.matmul(x, w)
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
        x = _float_input(x)
        if x.ndim < 2:
            raise _shape_error(self, "(n, ...) with at least 2 dimensions", x.shape)
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
        y = self._apply(_float_input(x))
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
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = check_rng(rng, "Dropout")
        self.mask_ = None

    def config(self) -> dict:
        return {"p": self.p}

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = _float_input(x)
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
        y = softmax(_float_input(x), axis=-1)
        self._y = y if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        y = self._saved("_y")
        if not input_grad:
            return None
        return softmax_backward(y, np.asarray(grad_y, dtype=y.dtype), axis=-1)


def _positive_int(value, argname: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {argname} must be a positive integer, got {value!r}")
    return int(value)
