"""2-D convolution and max pooling on NCHW arrays, vectorised (no Python loops over pixels).

:class:`Conv2D` is an im2col convolution: the input windows are gathered once into a matrix
(``np.lib.stride_tricks.sliding_window_view`` + one copy), and the convolution becomes one BLAS
matrix product. The backward pass uses the same
matrices; the input gradient is scattered back (col2im) with one loop over the ``kh * kw`` kernel
offsets. :class:`MaxPool2D` is a parallel numba kernel (first maximum of each window and its index);
without numba it loops only over the ``k * k`` window offsets in NumPy.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _kernels
from .init import INITS, check_rng
from .layers import Layer, _float_input, _positive_int, _shape_error

__all__ = ["Conv2D", "MaxPool2D"]


def _pair(value, argname: str, layer: str, *, minimum: int = 1) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in items
    ):
        raise ValueError(f"{layer}: {argname} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def _unpair(pair: tuple[int, int]):
    return pair[0] if pair[0] == pair[1] else list(pair)


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _offsets(x: np.ndarray, i: int, j: int, stride, out_hw) -> np.ndarray:
    """The view ``x[:, :, i + s*r, j + s*c]`` for all output rows r and columns c."""
    (sh, sw), (ho, wo) = stride, out_hw
    return x[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]


class Conv2D(Layer):
    """2-D convolution (cross-correlation, exactly ``torch.nn.functional.conv2d``) on NCHW input.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0
        Zero padding on each side.
    init : {"he", "glorot"}, default "he"
    rng : numpy.random.Generator, optional
        Source of the initial weights (``None``: a fresh ``default_rng()``).

    Attributes
    ----------
    params : dict
        ``"weight"``: ndarray of shape (out_channels, in_channels, kh, kw); ``"bias"``: (out_channels,).

    Examples
    --------
    >>> import numpy as np
    >>> conv = Conv2D(1, 4, 3, padding=1, rng=np.random.default_rng(0))
    >>> conv.forward(np.zeros((2, 1, 8, 8), np.float32)).shape
    (2, 4, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 init: str = "he", rng=None):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2D")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2D")
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2D")
        self.stride = _pair(stride, "stride", "Conv2D")
        self.padding = _pair(padding, "padding", "Conv2D", minimum=0)
        if init not in INITS:
            raise ValueError(f"Conv2D: init must be one of {sorted(INITS)}, got {init!r}")
        self.init = init
        rng = check_rng(rng, "Conv2D")
        kh, kw = self.kernel_size
        fan_in, fan_out = self.in_channels * kh * kw, self.out_channels * kh * kw
        shape = (self.out_channels, self.in_channels, kh, kw)
        self.params["weight"] = INITS[init](rng, shape, fan_in, fan_out)
        self.params["bias"] = np.zeros(self.out_channels, np.float32)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._cache = None
        self._workspace: dict[str, np.ndarray] = {}

    def _buffer(self, key: str, shape: tuple, dtype, training: bool) -> np.ndarray:
        """Scratch array reused across training steps (large fresh arrays cost page faults every step).

        Only training-mode calls reuse buffers, so an inference forward never overwrites what a
        training forward kept for its backward.
        """
        if not training:
            return np.empty(shape, dtype)
        buf = self._workspace.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._workspace[key] = np.empty(shape, dtype)
        return buf

    def config(self) -> dict:
        return {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": _unpair(self.kernel_size), "stride": _unpair(self.stride),
            "padding": _unpair(self.padding), "init": self.init,
        }

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        return (_out_size(h, self.kernel_size[0], self.stride[0], self.padding[0]),
                _out_size(w, self.kernel_size[1], self.stride[1], self.padding[1]))

    def _expected(self) -> str:
        kh, kw = self.kernel_size
        ph, pw = self.padding
        return f"(n, {self.in_channels}, H, W) with H + {2 * ph} >= {kh} and W + {2 * pw} >= {kw}"

    def output_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise _shape_error(self, self._expected(), ("n", *input_shape))
        ho, wo = self._out_hw(input_shape[1], input_shape[2])
        if ho < 1 or wo < 1:
            raise _shape_error(self, self._expected(), ("n", *input_shape))
        return (self.out_channels, ho, wo)

    def forward(self, x, training: bool = False) -> np.ndarray:
        w = self.params["weight"]
        x = _float_input(x, w.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise _shape_error(self, self._expected(), x.shape)
        n, c, h, wd = x.shape
        ho, wo = self._out_hw(h, wd)
        if ho < 1 or wo < 1:
            raise _shape_error(self, self._expected(), x.shape)
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if ph or pw:
            xp = self._buffer("padded", (n, c, h + 2 * ph, wd + 2 * pw), x.dtype, training)
            _zero_border(xp, ph, pw)
            xp[:, :, ph : ph + h, pw : pw + wd] = x
        else:
            xp = x
        # cols[(c, i, j), (n, r, s)] = xp[n, c, r*sh + i, s*sw + j]: one (C*kh*kw, N*Ho*Wo) matrix,
        # so the convolution is a single large GEMM (stacked small GEMMs are much slower here).
        windows = _offsets(sliding_window_view(xp, (kh, kw), axis=(2, 3)), 0, 0, self.stride, (ho, wo))
        cols = self._buffer("cols", (c, kh, kw, n, ho, wo), x.dtype, training)
        np.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
        cols = cols.reshape(c * kh * kw, n * ho * wo)
        y = self._buffer("y", (self.out_channels, n * ho * wo), x.dtype, training)
        np.matmul(w.reshape(self.out_channels, -1), cols, out=y)
        y += self.params["bias"][:, None]
        self._cache = (cols, x.shape) if training else None
        return np.ascontiguousarray(y.reshape(self.out_channels, n, ho, wo).transpose(1, 0, 2, 3))

    def backward(self, grad_y, *, input_grad: bool = True):
        cols, x_shape = self._saved("_cache")
        w = self.params["weight"]
        n, c, h, wd = x_shape
        ho, wo = self._out_hw(h, wd)
        g = np.asarray(grad_y).astype(w.dtype, copy=False)
        if g.shape != (n, self.out_channels, ho, wo):
            raise ValueError(
                f"{self.name}: expected grad_y of shape {(n, self.out_channels, ho, wo)}, got {g.shape}"
            )
        g_t = self._buffer("grad_y", (self.out_channels, n, ho, wo), w.dtype, True)
        np.copyto(g_t, g.transpose(1, 0, 2, 3))
        g = g_t.reshape(self.out_channels, n * ho * wo)
        np.sum(g, axis=1, out=self.grads["bias"])
        np.matmul(g, cols.T, out=self.grads["weight"].reshape(self.out_channels, -1))
        if not input_grad:
            return None
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        gcols = self._buffer("grad_cols", (c * kh * kw, n * ho * wo), w.dtype, True)
        np.matmul(w.reshape(self.out_channels, -1).T, g, out=gcols)
        gcols = gcols.reshape(c, kh, kw, n, ho, wo)
        # col2im into a (C, N, Hp, Wp) buffer (matching gcols' order), transposed to NCHW at the end.
        gxp = self._buffer("grad_padded", (c, n, h + 2 * ph, wd + 2 * pw), w.dtype, True)
        gxp.fill(0)
        for i in range(kh):
            for j in range(kw):
                _offsets(gxp, i, j, self.stride, (ho, wo))[...] += gcols[:, i, j]
        return np.ascontiguousarray(gxp[:, :, ph : ph + h, pw : pw + wd].transpose(1, 0, 2, 3))


def _zero_border(xp: np.ndarray, ph: int, pw: int) -> None:
    """Zero the padding frame of a reused padded buffer (its interior is overwritten next)."""
    if ph:
        xp[:, :, :ph] = 0
        xp[:, :, -ph:] = 0
    if pw:
        xp[:, :, :, :pw] = 0
        xp[:, :, :, -pw:] = 0


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
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxPool2D")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", "MaxPool2D")
        self._cache = None

    def config(self) -> dict:
        return {"kernel_size": _unpair(self.kernel_size), "stride": _unpair(self.stride)}

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        return (_out_size(h, self.kernel_size[0], self.stride[0], 0),
                _out_size(w, self.kernel_size[1], self.stride[1], 0))

    def _expected(self) -> str:
        return f"(n, C, H, W) with H >= {self.kernel_size[0]} and W >= {self.kernel_size[1]}"

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise _shape_error(self, self._expected(), ("n", *input_shape))
        ho, wo = self._out_hw(input_shape[1], input_shape[2])
        if ho < 1 or wo < 1:
            raise _shape_error(self, self._expected(), ("n", *input_shape))
        return (input_shape[0], ho, wo)

    def forward(self, x, training: bool = False) -> np.ndarray:
        x = _float_input(x)
        if x.ndim != 4:
            raise _shape_error(self, self._expected(), x.shape)
        ho, wo = self._out_hw(x.shape[2], x.shape[3])
        if ho < 1 or wo < 1:
            raise _shape_error(self, self._expected(), x.shape)
        kh, kw = self.kernel_size
        fast = _kernels.get()
        if fast is not None and kh * kw < 256:
            y = np.empty((*x.shape[:2], ho, wo), x.dtype)
            argmax = np.empty(y.shape, np.uint8)
            if self.kernel_size == self.stride == (2, 2):
                fast["maxpool2_forward"](np.ascontiguousarray(x), y, argmax)
            else:
                fast["maxpool_forward"](np.ascontiguousarray(x), kh, kw, *self.stride, y, argmax)
            self._cache = (argmax, x.shape) if training else None
            return y
        y = _offsets(x, 0, 0, self.stride, (ho, wo)).copy()
        argmax = np.zeros(y.shape, np.uint8 if kh * kw < 256 else np.intp) if training else None
        for k in range(1, kh * kw):
            window = _offsets(x, k // kw, k % kw, self.stride, (ho, wo))
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
        fast = _kernels.get()
        if fast is not None and argmax.dtype == np.uint8:
            if self.kernel_size == self.stride == (2, 2):
                fast["maxpool2_backward"](np.ascontiguousarray(g), argmax, gx)
            else:
                fast["maxpool_backward"](np.ascontiguousarray(g), argmax, kw, *self.stride, gx)
            return gx
        out_hw = argmax.shape[2:]
        for k in range(kh * kw):
            _offsets(gx, k // kw, k % kw, self.stride, out_hw)[...] += np.where(argmax == k, g, g.dtype.type(0))
        return gx
