"""2-D max pooling on NCHW arrays: a serial numba kernel per window (first maximum and its index).

numba's kernels (:mod:`softmaxkit._numba.nn`) run one pass over the input, recording the position of
each window's first maximum for the backward pass; the common 2x2, stride-2 case has its own kernel
with constant offsets, which vectorises. Without numba, NumPy loops over the ``kh * kw`` window
offsets only (never over pixels). Same results either way.
"""

from __future__ import annotations

import numpy as np

from .._numba.dispatch import MIN_SIZE, nn_kernels
from ._windows import offsets, out_size, pair, unpair
from .base import Layer, float_input, shape_error

__all__ = ["MaxPool2D"]


class MaxPool2D(Layer):
    """2-D max pooling on NCHW input (no padding; trailing rows/columns that do not fill a window are
    dropped, as in PyTorch). The gradient goes to the first maximum of each window.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> MaxPool2D(2).forward(x)
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", "MaxPool2D")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "MaxPool2D")
        self._cache = None

    def config(self) -> dict:
        return {"kernel_size": unpair(self.kernel_size), "stride": unpair(self.stride)}

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        return (
            out_size(h, self.kernel_size[0], self.stride[0], 0),
            out_size(w, self.kernel_size[1], self.stride[1], 0),
        )

    def _expected(self) -> str:
        return f"(n, C, H, W) with H >= {self.kernel_size[0]} and W >= {self.kernel_size[1]}"

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise shape_error(self, self._expected(), ("n", *input_shape))
        ho, wo = self._out_hw(input_shape[1], input_shape[2])
        if ho < 1 or wo < 1:
            raise shape_error(self, self._expected(), ("n", *input_shape))
        return (input_shape[0], ho, wo)

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = float_input(x)
        if x.ndim != 4:
            raise shape_error(self, self._expected(), x.shape)
        ho, wo = self._out_hw(x.shape[2], x.shape[3])
        if ho < 1 or wo < 1:
            raise shape_error(self, self._expected(), x.shape)
        kh, kw = self.kernel_size
        fast = nn_kernels() if x.size >= MIN_SIZE else None
        if fast is not None and kh * kw < 256:
            y = np.empty((*x.shape[:2], ho, wo), x.dtype)
            argmax = np.empty(y.shape, np.uint8)
            if self.kernel_size == self.stride == (2, 2):
                fast.maxpool2_forward(np.ascontiguousarray(x), y, argmax)
            else:
                fast.maxpool_forward(np.ascontiguousarray(x), kh, kw, *self.stride, y, argmax)
            self._cache = (argmax, x.shape) if training else None
            return y
        y = offsets(x, 0, 0, self.stride, (ho, wo)).copy()
        argmax = np.zeros(y.shape, np.uint8 if kh * kw < 256 else np.intp) if training else None
        for k in range(1, kh * kw):
            window = offsets(x, k // kw, k % kw, self.stride, (ho, wo))
            if training:
                # strict: ties keep the first maximum, as PyTorch does; a NaN propagates
                better = (window > y) | (np.isnan(window) & ~np.isnan(y))
                np.copyto(y, window, where=better)
                np.copyto(argmax, k, where=better)
            else:
                np.maximum(y, window, out=y)
        self._cache = (argmax, x.shape) if training else None
        return y

    def backward(self, grad_y, *, input_grad: bool = True):
        argmax, x_shape = self._saved("_cache")
        if not input_grad:
            return None
        g = np.asarray(grad_y)
        if g.shape != argmax.shape:
            raise ValueError(f"{self.name}: expected grad_y of shape {argmax.shape}, got {g.shape}")
        kh, kw = self.kernel_size
        gx = np.zeros(x_shape, g.dtype)
        fast = nn_kernels() if gx.size >= MIN_SIZE else None
        if fast is not None and argmax.dtype == np.uint8:
            if self.kernel_size == self.stride == (2, 2):
                fast.maxpool2_backward(np.ascontiguousarray(g), argmax, gx)
            else:
                fast.maxpool_backward(np.ascontiguousarray(g), argmax, kw, *self.stride, gx)
            return gx
        out_hw = argmax.shape[2:]
        for k in range(kh * kw):
            offsets(gx, k // kw, k % kw, self.stride, out_hw)[...] += np.where(argmax == k, g, g.dtype.type(0))
        return gx
