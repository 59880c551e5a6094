"""2-D convolution on NCHW arrays as one matrix product (im2col), vectorised (no Python loops over pixels).

:class:`Conv2D` gathers the input windows once into a matrix (``sliding_window_view`` + one copy), and
the convolution becomes one BLAS matrix product. The backward pass uses the same matrices; the input
gradient is scattered back (col2im) with one loop over the ``kh * kw`` kernel offsets.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._validation import Integer, Options, check_rng, validate
from ._windows import offsets, out_size, pair, unpair
from .base import Layer, float_input, shape_error
from .init import INITS

__all__ = ["Conv2D"]

_CONSTRAINTS = {"in_channels": Integer(1), "out_channels": Integer(1), "init": Options(*INITS)}


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

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0, init: str = "he", rng=None
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.init = validate(
            "Conv2D", _CONSTRAINTS, in_channels=in_channels, out_channels=out_channels, init=init
        )
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2D")
        self.stride = pair(stride, "stride", "Conv2D")
        self.padding = pair(padding, "padding", "Conv2D", minimum=0)
        rng = check_rng(rng, "Conv2D", allow_none=True)
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
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": unpair(self.kernel_size),
            "stride": unpair(self.stride),
            "padding": unpair(self.padding),
            "init": self.init,
        }

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        return (
            out_size(h, self.kernel_size[0], self.stride[0], self.padding[0]),
            out_size(w, self.kernel_size[1], self.stride[1], self.padding[1]),
        )

    def _expected(self) -> str:
        kh, kw = self.kernel_size
        ph, pw = self.padding
        return f"(n, {self.in_channels}, H, W) with H + {2 * ph} >= {kh} and W + {2 * pw} >= {kw}"

    def output_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise shape_error(self, self._expected(), ("n", *input_shape))
        ho, wo = self._out_hw(input_shape[1], input_shape[2])
        if ho < 1 or wo < 1:
            raise shape_error(self, self._expected(), ("n", *input_shape))
        return (self.out_channels, ho, wo)

    def forward(self, x, training: bool = False) -> np.ndarray:
        w = self.params["weight"]
        x = float_input(x, w.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise shape_error(self, self._expected(), x.shape)
        n, c, h, wd = x.shape
        ho, wo = self._out_hw(h, wd)
        if ho < 1 or wo < 1:
            raise shape_error(self, self._expected(), x.shape)
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if ph or pw:
            xp = self._buffer("padded", (n, c, h + 2 * ph, wd + 2 * pw), x.dtype, training)
            _zero_border(xp, ph, pw)
            xp[:, :, ph : ph + h, pw : pw + wd] = x
        else:
            xp = x
        # cols[(c, i, j), (n, r, s)] = xp[n, c, r*sh + i, s*sw + j]: one (C*kh*kw, N*Ho*Wo) matrix,
        # so the convolution is a single large GEMM (stacked small GEMMs are much slower here).
        windows = offsets(sliding_window_view(xp, (kh, kw), axis=(2, 3)), 0, 0, self.stride, (ho, wo))
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
            raise ValueError(f"{self.name}: expected grad_y of shape {(n, self.out_channels, ho, wo)}, got {g.shape}")
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
                offsets(gxp, i, j, self.stride, (ho, wo))[...] += gcols[:, i, j]
        return np.ascontiguousarray(gxp[:, :, ph : ph + h, pw : pw + wd].transpose(1, 0, 2, 3))


def _zero_border(xp: np.ndarray, ph: int, pw: int) -> None:
    """Zero the padding frame of a reused padded buffer (its interior is overwritten next)."""
    if ph:
        xp[:, :, :ph] = 0
        xp[:, :, -ph:] = 0
    if pw:
        xp[:, :, :, :pw] = 0
        xp[:, :, :, -pw:] = 0
