"""2-D convolution on NCHW arrays as one matrix product (im2col), vectorised (no Python loops over pixels).

:class:`Conv2D` copies the input windows once into a matrix, and the convolution becomes one BLAS
matrix product. At stride 1 the windows of one kernel offset are contiguous runs of a zero-padded copy
of the input (copied by numba's parallel kernels for large inputs, by one strided NumPy copy for
small ones); other strides gather them with ``sliding_window_view``. The backward pass uses the same
matrices; the input gradient is scattered back (col2im) one kernel offset at a time.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .._numba.dispatch import MIN_SIZE, conv_kernels
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

    def _buffer(self, key: str, shape: tuple, dtype, training: bool, *, zero: bool = False) -> np.ndarray:
        """Scratch array reused across training steps (large fresh arrays cost page faults every step).

        Only training-mode calls reuse buffers, so an inference forward never overwrites what a
        training forward kept for its backward.
        """
        make = np.zeros if zero else np.empty
        if not training:
            return make(shape, dtype)
        buf = self._workspace.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._workspace[key] = make(shape, dtype)
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
        y, wo = self._product(x, training)
        co, n, ho, _ = y.shape
        out = np.empty((n, co, ho, wo), y.dtype)
        fast = _kernels(out.size)
        if fast is not None:
            fast.bias_to_nchw(y, self.params["bias"], False, out)
        else:
            np.add(y[:, :, :, :wo].transpose(1, 0, 2, 3), self.params["bias"][:, None, None], out=out)
        return out

    def backward(self, grad_y, *, input_grad: bool = True):
        _, x_shape, _ = self._saved("_cache")
        g = np.asarray(grad_y).astype(self.params["weight"].dtype, copy=False)
        expected = (x_shape[0], self.out_channels, *self._out_hw(*x_shape[2:]))
        if g.shape != expected:
            raise ValueError(f"{self.name}: expected grad_y of shape {expected}, got {g.shape}")
        gy = self._grad_product_buffer()
        fast = _kernels(g.size)
        if fast is not None:
            fast.nchw_to_cnhw(np.ascontiguousarray(g), np.empty((0, 0, 0, 0), g.dtype), gy, self.grads["bias"])
        else:
            wo = g.shape[3]
            np.copyto(gy[:, :, :, :wo], g.transpose(1, 0, 2, 3))
            gy[:, :, :, wo:] = 0
            np.sum(gy.reshape(self.out_channels, -1), axis=1, out=self.grads["bias"])
        return self._backward_product(gy, input_grad=input_grad)

    # The convolution as one GEMM ``Y = W @ cols`` (the fused blocks of :mod:`softmaxkit.nn` add the bias,
    # a ReLU and a pooling on the way from Y's layout (out_channels, n, Ho, row width) back to NCHW).
    #
    # cols[(c, i, j), (n, r, s)] = x_padded[n, c, r*sh + i, s*sw + j]: one (C*kh*kw, n*Ho*width) matrix,
    # so the convolution is a single large GEMM (stacked small GEMMs are much slower here). At stride 1
    # (with numba) the output rows are computed over rows of W + pw entries, not Wo (the padded plane's
    # row length when neighbouring rows share their padding zeros): then the windows of one sample and
    # kernel offset (i, j) are one contiguous run of the padded plane (a plain copy, no gather), at the
    # price of W + pw - Wo extra columns per row (1 of 15 for 14-pixel rows and a 3x3 kernel), whose
    # values are ignored (and whose gradient is zero). Large inputs copy the runs with numba's parallel
    # kernels, small ones (a prediction for one image) with one strided NumPy copy.

    def _product(self, x, training: bool = False) -> np.ndarray:
        """The convolution without its bias, as the GEMM's output ``(out_channels, n, Ho, row width)``
        (C-contiguous), and ``Wo``: the columns of a row from ``Wo`` on are to be ignored.

        With ``training=True`` it keeps the window matrix for :meth:`_backward_product`.
        """
        w = self.params["weight"]
        x, ho, wo = self._input(x)
        n, c, _h, wd = x.shape
        padded = self.stride == (1, 1) and self.padding[1] < self.kernel_size[1]
        width = wd + self.padding[1] if padded else wo
        columns = self._padded_columns if padded else self._gathered_columns
        y = self._buffer("y", (self.out_channels, n * ho * width), x.dtype, training)
        w2 = w.reshape(self.out_channels, -1)
        if training:  # the whole batch's window matrix, kept for the backward pass
            cols = columns(x, ho, wo, training)
            np.matmul(w2, cols, out=y)
            self._cache = (cols, x.shape, width)
        else:  # a few samples at a time: a window matrix of a few MB, reused from cache
            self._cache = None
            step = max(1, _CHUNK_BYTES // (c * self.kernel_size[0] * self.kernel_size[1] * ho * width * x.itemsize))
            for lo in range(0, n, step):
                hi = min(n, lo + step)
                np.matmul(w2, columns(x[lo:hi], ho, wo, False), out=y[:, lo * ho * width : hi * ho * width])
        return y.reshape(self.out_channels, n, ho, width), wo

    def _input(self, x):
        """``x`` in the parameters' dtype with its shape checked, and the output's height and width."""
        x = float_input(x, self.params["weight"].dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise shape_error(self, self._expected(), x.shape)
        ho, wo = self._out_hw(x.shape[2], x.shape[3])
        if ho < 1 or wo < 1:
            raise shape_error(self, self._expected(), x.shape)
        return x, ho, wo

    def _padded(self, x, training: bool) -> np.ndarray:
        """``x`` with its zero padding, in a buffer whose frame stays zero (only the interior is written)."""
        (ph, pw), (n, c, h, wd) = self.padding, x.shape
        padded = self._buffer("padded_direct", (n, c, h + 2 * ph, wd + 2 * pw), x.dtype, training, zero=True)
        np.copyto(padded[:, :, ph : ph + h, pw : pw + wd], x)
        return padded

    def _padded_columns(self, x, ho: int, wo: int, training: bool) -> np.ndarray:
        """cols at stride 1 over the padded width: contiguous runs of a padded copy of ``x``."""
        n, c, h, wd = x.shape
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        hp, row = h + 2 * ph, wd + pw
        # Rows of row = W + pw entries: the pw zeros ending a row are also the left padding of the next
        # one, and the plane starts with pw zeros (the first row's left padding), so the pixel (y, x)
        # is at pw + (y + ph) * row + x, and the windows of offset (i, j) are the run starting at
        # i * row + j. The last windows run kw - 1 - pw entries past the padded rows.
        plane = hp * row + kw - 1
        padded = self._buffer("padded_runs", (n, c, plane), x.dtype, training, zero=True)
        interior = padded[:, :, pw : pw + hp * row].reshape(n, c, hp, row)[:, :, ph : ph + h, :wd]
        np.copyto(interior, x)  # the zeros stay zero: only the interior is ever written
        cols = self._buffer("cols", (c * kh * kw, n * ho * row), x.dtype, training)
        fast = _kernels(x.size + n * self.out_channels * ho * wo)
        if fast is not None:
            fast.im2col_padded(padded, kh, kw, row, cols)
        else:
            np.copyto(cols.reshape(c, kh, kw, n, ho * row), _runs(padded, kh, kw, row, ho * row))
        return cols

    def _gathered_columns(self, x, ho: int, wo: int, training: bool) -> np.ndarray:
        """cols for any stride: windows gathered with NumPy from a zero-padded copy of ``x``."""
        n, c, h, wd = x.shape
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if ph or pw:
            xp = self._buffer("padded", (n, c, h + 2 * ph, wd + 2 * pw), x.dtype, training)
            _zero_border(xp, ph, pw)
            xp[:, :, ph : ph + h, pw : pw + wd] = x
        else:
            xp = x
        windows = offsets(sliding_window_view(xp, (kh, kw), axis=(2, 3)), 0, 0, self.stride, (ho, wo))
        cols = self._buffer("cols", (c * kh * kw, n * ho * wo), x.dtype, training)
        np.copyto(cols.reshape(c, kh, kw, n, ho, wo), windows.transpose(1, 4, 5, 0, 2, 3))
        return cols

    def _grad_product_buffer(self) -> np.ndarray:
        """The buffer ``(out_channels, n, Ho, row width)`` for the gradient of :meth:`_product`'s GEMM
        output, to be filled completely (zeros in the columns beyond Wo) before :meth:`_backward_product`."""
        cols, x_shape, width = self._saved("_cache")
        ho, _ = self._out_hw(*x_shape[2:])
        return self._buffer("grad_y", (self.out_channels, x_shape[0], ho, width), cols.dtype, True)

    def _backward_product(self, grad_product, *, input_grad: bool = True):
        """The backward pass of :meth:`_product`: ``grads["weight"]`` from the gradient of the GEMM's
        output (:meth:`_grad_product_buffer`), and the input gradient (NCHW) unless ``input_grad=False``.

        ``grads["bias"]`` is the caller's (the sum of the bias's share of the gradient).
        """
        cols, x_shape, width = self._saved("_cache")
        w = self.params["weight"]
        n, c, h, wd = x_shape
        ho, wo = self._out_hw(h, wd)
        g = grad_product.reshape(self.out_channels, -1)
        np.matmul(g, cols.T, out=self.grads["weight"].reshape(self.out_channels, -1))
        if not input_grad:
            return None
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        gcols = self._buffer("grad_cols", cols.shape, w.dtype, True)
        np.matmul(w.reshape(self.out_channels, -1).T, g, out=gcols)
        gx = np.empty(x_shape, w.dtype)
        if width != wo:  # the padded-width layout (stride 1)
            plane = (h + 2 * ph) * width + kw - 1
            scratch = self._buffer("grad_padded", (n, c, plane), w.dtype, True)
            fast = _kernels(gx.size + grad_product.size)
            if fast is not None:
                fast.col2im_padded(gcols, kh, kw, ph, pw, scratch, gx)
                return gx
            scratch.fill(0)
            runs = _runs(scratch, kh, kw, width, ho * width)  # windows overlap: add one offset at a time
            gruns = gcols.reshape(c, kh, kw, n, ho * width)
            for i in range(kh):
                for j in range(kw):
                    runs[:, i, j] += gruns[:, i, j]
            interior = scratch[:, :, pw : pw + (h + 2 * ph) * width].reshape(n, c, h + 2 * ph, width)
            np.copyto(gx, interior[:, :, ph : ph + h, :wd])
            return gx
        gcols = gcols.reshape(c, kh, kw, n, ho, wo)
        # col2im into a (C, N, Hp, Wp) buffer (matching gcols' order), transposed to NCHW at the end.
        gxp = self._buffer("grad_padded", (c, n, h + 2 * ph, wd + 2 * pw), w.dtype, True)
        gxp.fill(0)
        for i in range(kh):
            for j in range(kw):
                offsets(gxp, i, j, self.stride, (ho, wo))[...] += gcols[:, i, j]
        np.copyto(gx, gxp[:, :, ph : ph + h, pw : pw + wd].transpose(1, 0, 2, 3))
        return gx


#: Inference builds the window matrix for this many bytes' worth of samples at a time.
_CHUNK_BYTES = 4 << 20


def _kernels(size: int):
    """The numba kernels for an array of ``size`` elements: None (NumPy) under ``MIN_SIZE`` or without numba."""
    return conv_kernels() if size >= MIN_SIZE else None


def _runs(padded: np.ndarray, kh: int, kw: int, row: int, length: int) -> np.ndarray:
    """The view ``(C, kh, kw, N, length)`` of ``padded`` (``(N, C, plane)``) whose ``[c, i, j, n]`` is
    the run of ``length`` entries of plane ``padded[n, c]`` starting at ``i * row + j`` (no copy)."""
    sn, sc, sp = padded.strides
    n, c, _ = padded.shape
    return as_strided(padded, (c, kh, kw, n, length), (sc, row * sp, sp, sn, sp), writeable=padded.flags.writeable)


def _zero_border(xp: np.ndarray, ph: int, pw: int) -> None:
    """Zero the padding frame of a reused padded buffer (its interior is overwritten next)."""
    if ph:
        xp[:, :, :ph] = 0
        xp[:, :, -ph:] = 0
    if pw:
        xp[:, :, :, :pw] = 0
        xp[:, :, :, -pw:] = 0
