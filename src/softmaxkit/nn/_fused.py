"""Fused blocks: runs of layers that :class:`~softmaxkit.nn.Sequential` executes as one unit.

A network spends most of a step outside its matrix products moving data: adding a bias, applying a
ReLU, pooling, and changing between the NCHW layout of the layers and the layout of the GEMM. A
fused block does those in one parallel pass (numba kernels of :mod:`softmaxkit._numba.conv`):

* ``Conv2D -> ReLU -> MaxPool2D`` (non-overlapping windows): bias, ReLU and pooling read the GEMM's
  output once and write the pooled NCHW output and the argmax; the backward pass writes the masked
  gradient straight into the GEMM's layout.
* ``Conv2D -> ReLU``: bias, ReLU and the change of layout in one pass, each way.
* ``Dense -> ReLU``: bias and ReLU in place on the product; the backward mask in one pass.

Results are those of the layers run one by one (the tests check it); the layers keep their
parameters and gradients, a block only holds the intermediate results of one step. Without numba
nothing is fused.
"""

from __future__ import annotations

import numpy as np

from .._numba.dispatch import MIN_SIZE, conv_kernels
from .conv import Conv2D
from .layers import Dense, ReLU
from .pooling import MaxPool2D

__all__ = ["plan", "unit_at"]


def plan(layers) -> list:
    """The units that run ``layers`` on a large batch: each a layer, or a fused block of consecutive layers."""
    units, i = [], 0
    while i < len(layers):
        units.append(unit_at(layers, i, MIN_SIZE))
        i += units[-1].length
    return units


def unit_at(layers, i: int, size: int):
    """The unit that runs ``layers[i]`` (and the layers fused with it) on an input of ``size`` elements.

    Every unit has ``forward(x, training)``, ``backward(g, input_grad=...)``, ``start`` (the index of
    its first layer) and ``length``. Inputs under :data:`MIN_SIZE` elements (a few images at
    prediction time) run unfused on NumPy, which needs neither numba nor its compiled kernels.
    """
    kernels = conv_kernels() if size >= MIN_SIZE else None
    block = None if kernels is None else _block_at(layers, i, kernels)
    return _Single(layers[i], i) if block is None else block


def _block_at(layers, i, kernels):
    """The fused block starting at ``layers[i]``, or None."""
    first = layers[i]
    relu = i + 1 < len(layers) and type(layers[i + 1]) is ReLU
    if type(first) is Dense and relu:
        return _DenseReLU(first, i, kernels)
    if type(first) is not Conv2D or not relu:
        return None
    pool = layers[i + 2] if i + 2 < len(layers) else None
    if type(pool) is MaxPool2D and pool.stride == pool.kernel_size and pool.kernel_size[0] * pool.kernel_size[1] < 256:
        return _ConvReLUPool(first, pool, i, kernels)
    return _ConvReLU(first, i, kernels)


class _Single:
    """One layer, unfused."""

    length = 1

    def __init__(self, layer, start: int):
        self.layer, self.start = layer, start

    def forward(self, x, training):
        return self.layer.forward(x, training)

    def backward(self, g, *, input_grad):
        return self.layer.backward(g, input_grad=input_grad)


class _DenseReLU:
    """``Dense -> ReLU``: ``max(x @ W + b, 0)`` with the bias and ReLU in one pass over the product."""

    length = 2

    def __init__(self, dense, start, kernels):
        self.dense, self.start, self.kernels = dense, start, kernels
        self._y = None

    def forward(self, x, training):
        dense = self.dense
        x = dense._input(x)
        y = np.matmul(x, dense.params["weight"])
        self.kernels.bias_relu(y, dense.params["bias"])
        if training:
            dense._x, self._y = x, y
        return y

    def backward(self, g, *, input_grad):
        y = self._y
        g = _checked_grad(g, y, self.dense, "ReLU()")
        masked = np.empty_like(y)
        self.kernels.relu_mask(g, y, masked)
        return self.dense.backward(masked, input_grad=input_grad)


class _ConvReLU:
    """``Conv2D -> ReLU``: bias and ReLU on the way from the GEMM's layout to NCHW, and back."""

    length = 2

    def __init__(self, conv, start, kernels):
        self.conv, self.start, self.kernels = conv, start, kernels
        self._out = None

    def forward(self, x, training):
        y, wo = self.conv._product(x, training)
        co, n, ho, _ = y.shape
        out = np.empty((n, co, ho, wo), y.dtype)
        self.kernels.bias_to_nchw(y, self.conv.params["bias"], True, out)
        self._out = out if training else None
        return out

    def backward(self, g, *, input_grad):
        conv, out = self.conv, self._out
        g = _checked_grad(g, out, conv, "ReLU()")
        gy = conv._grad_product_buffer()
        self.kernels.nchw_to_cnhw(g, out, gy, conv.grads["bias"])
        return conv._backward_product(gy, input_grad=input_grad)


class _ConvReLUPool:
    """``Conv2D -> ReLU -> MaxPool2D`` (windows that do not overlap): one pass from the GEMM's output to
    the pooled NCHW output, one pass back.

    A stride-1 convolution with at most ``DIRECT`` inputs per output (``C * kh * kw``: 9 for a 3x3
    kernel on a grey image) is computed directly, its pooling and ReLU in the same pass: a GEMM with so short an
    inner dimension runs far below the machine's peak. Its backward pass only visits the window maxima
    (the other pooled positions have no gradient).
    """

    length = 3
    DIRECT = 27

    def __init__(self, conv, pool, start, kernels):
        self.conv, self.pool, self.start, self.kernels = conv, pool, start, kernels
        kh, kw = conv.kernel_size
        self.direct = conv.in_channels * kh * kw <= self.DIRECT and conv.stride == (1, 1)
        self._cache = None

    def forward(self, x, training):
        if self.direct:
            return self._forward_direct(x, training)
        y, wo = self.conv._product(x, training)
        co, n, ho, _ = y.shape
        kh, kw = self.pool.kernel_size
        hp, wp = self.pool.output_shape((co, ho, wo))[1:]
        out = np.empty((n, co, hp, wp), y.dtype)
        argmax = np.empty(out.shape, np.uint8)
        self.kernels.bias_relu_pool(y, self.conv.params["bias"], kh, kw, out, argmax)
        self._cache = (out, argmax) if training else None
        return out

    def _forward_direct(self, x, training):
        conv = self.conv
        x, ho, wo = conv._input(x)
        padded = conv._padded(x, training)
        kh, kw = self.pool.kernel_size
        hp, wp = self.pool.output_shape((conv.out_channels, ho, wo))[1:]
        out = np.empty((x.shape[0], conv.out_channels, hp, wp), x.dtype)
        argmax = np.empty(out.shape, np.uint8)
        weight, bias = conv.params["weight"], conv.params["bias"]
        self.kernels.direct_relu_pool(padded, weight, bias, kh, kw, out, argmax)
        self._cache = (out, argmax, padded, x.shape) if training else None
        return out

    def _backward_direct(self, g, input_grad):
        conv = self.conv
        out, argmax, padded, x_shape = self._cache
        kh, kw = self.pool.kernel_size
        ph, pw = conv.padding
        self.kernels.direct_relu_pool_weight_grad(
            g, out, argmax, padded, kh, kw, conv.grads["weight"], conv.grads["bias"]
        )
        if not input_grad:
            return None
        gx = np.empty(x_shape, out.dtype)
        weight = conv.params["weight"]
        self.kernels.direct_relu_pool_input_grad(g, out, argmax, weight, kh, kw, ph, pw, gx)
        return gx

    def backward(self, g, *, input_grad):
        conv = self.conv
        out, argmax = self._cache[:2] if self._cache is not None else (None, None)
        g = _checked_grad(g, out, conv, self.pool.name)
        if self.direct:
            return self._backward_direct(g, input_grad)
        gy = conv._grad_product_buffer()
        kh, kw = self.pool.kernel_size
        self.kernels.bias_relu_pool_backward(g, out, argmax, kh, kw, gy, conv.grads["bias"])
        return conv._backward_product(gy, input_grad=input_grad)


def _checked_grad(g, out, first, last: str) -> np.ndarray:
    """The gradient ``g`` of a block's output ``out`` (kept by a training forward), C-contiguous in
    ``out``'s dtype; errors name the block's ``first`` layer (no training forward) or its ``last``
    (a gradient of the wrong shape), as the layers run one by one would."""
    if out is None:
        raise RuntimeError(f"{first.name}: backward() needs a preceding forward(x, training=True)")
    g = np.ascontiguousarray(g, dtype=out.dtype)
    if g.shape != out.shape:
        raise ValueError(f"{last}: expected grad_y of shape {out.shape}, got {g.shape}")
    return g
