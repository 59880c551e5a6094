"""The layer contract every layer keeps, and the input checks layers share.

Every layer keeps one contract:

* ``forward(x, training=False) -> y``. With ``training=True`` the layer keeps what its backward needs
  (and :class:`~softmaxkit.nn.Dropout` draws a mask); ``backward`` must follow a training-mode forward.
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

import numpy as np

__all__ = ["Layer", "float_input", "feature_input", "shape_error"]


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

    def astype(self, dtype) -> Layer:
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


def float_input(x, dtype=None) -> np.ndarray:
    """``x`` as a floating array: cast to ``dtype`` if given, else float32 unless already floating."""
    x = np.asarray(x)
    if dtype is not None:
        return x.astype(dtype, copy=False)
    if x.dtype not in (np.float32, np.float64):
        return x.astype(np.float32)
    return x


def feature_input(layer: Layer, x, in_features: int) -> np.ndarray:
    """``x`` in the dtype of ``layer``'s weight, checked to be ``(n, in_features)`` (layers on feature rows)."""
    x = float_input(x, layer.params["weight"].dtype)
    if x.ndim != 2 or x.shape[1] != in_features:
        raise shape_error(layer, f"(n, {in_features})", x.shape)
    return x


def shape_error(layer: Layer, expected: str, got) -> ValueError:
    """The error a layer raises for an input of the wrong shape: ``"Dense(...): expected input of shape
    (n, 4), got (2, 5)"``."""
    shape = "(" + ", ".join(str(d) for d in got) + ("," if len(got) == 1 else "") + ")"
    return ValueError(f"{layer.name}: expected input of shape {expected}, got {shape}")
