"""Kernels of :class:`softmaxkit.nn.Conv2D` and of the fused convolution blocks of :mod:`softmaxkit.nn`.

Every kernel uses NumPy's error model (no zero-division checks, which keep loops from vectorising).

A convolution runs as one matrix product ``Y = W @ cols`` on the ``(C*kh*kw, N*Ho*Wo)`` window matrix
``cols``, whose product ``Y`` is laid out ``(C_out, N, Ho, Wo)`` ("CNHW"). These kernels move data in
and out of that layout in one parallel pass each, writing the destination directly:

* :func:`im2col`: NCHW input -> ``cols`` (zero padding included);
* :func:`col2im`: ``cols``-shaped input gradient -> NCHW, a gather per input plane (no scatter races,
  no zero-filled buffer);
* :func:`bias_to_nchw` / :func:`nchw_to_cnhw`: the epilogue (bias, optional ReLU, back to NCHW) and
  its backward (ReLU mask, bias gradient);
* :func:`bias_relu_pool` / :func:`bias_relu_pool_backward`: bias + ReLU + max pooling with
  non-overlapping windows in one pass over ``Y``, keeping each window's argmax, and the backward
  pass writing the masked gradient straight into the CNHW layout.

Results are bit for bit those of the unfused layers (:class:`~softmaxkit.nn.ReLU`,
:class:`~softmaxkit.nn.MaxPool2D`): the bias is added before the window comparison, ties keep the
first maximum, a NaN propagates, and the ReLU gradient is 0 where the output is not positive.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .floats import FASTMATH

_FAST = set(FASTMATH)

__all__ = [
    "im2col_padded",
    "col2im_padded",
    "bias_to_nchw",
    "nchw_to_cnhw",
    "bias_relu_pool",
    "bias_relu_pool_backward",
    "bias_relu",
    "relu_mask",
    "direct_relu_pool",
    "direct_relu_pool_weight_grad",
    "direct_relu_pool_input_grad",
]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def im2col_padded(padded, kh, kw, wp, cols):
    """The window matrix of a stride-1 convolution over the padded width (see
    :class:`softmaxkit.nn.Conv2D`): row ``(c, i, j)`` of ``cols`` holds, for each sample, the run of
    the padded plane ``padded[n, c]`` (flat, ``(N, C, Hp*Wp + kw - 1)``) that starts at ``i*Wp + j``."""
    n, c = padded.shape[0], padded.shape[1]
    run = cols.shape[1] // n
    for task in prange(c * kh * kw * n):
        row = task // n
        b = task % n
        start = ((row // kw) % kh) * wp + row % kw
        dst = cols[row, b * run : (b + 1) * run]
        src = padded[b, row // (kh * kw), start : start + run]
        for t in range(run):
            dst[t] = src[t]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def col2im_padded(gcols, kh, kw, ph, pw, scratch, gx):
    """The input gradient of a stride-1 convolution computed over the padded width (see
    :class:`softmaxkit.nn.Conv2D`): each plane of ``gx`` (NCHW) sums the ``kh * kw`` contiguous runs
    of ``gcols`` (rows ``(c, i, j)``, columns ``(n, run)``) that its windows read, in the plane's own
    padded ``scratch`` row (``(N, C, (H + 2*ph) * (W + pw) + kw - 1)``), then keeps the interior."""
    n, c, h, w = gx.shape
    wp = w + pw  # rows share their padding zeros: see Conv2D._padded_columns
    run = gcols.shape[1] // n
    for task in prange(n * c):
        b = task // c
        ch = task % c
        plane = scratch[b, ch]
        plane[:] = 0
        for i in range(kh):
            for j in range(kw):
                src = gcols[(ch * kh + i) * kw + j, b * run : (b + 1) * run]
                dst = plane[i * wp + j : i * wp + j + run]
                for t in range(run):
                    dst[t] += src[t]
        for y in range(h):
            src = plane[(y + ph) * wp + pw : (y + ph) * wp + pw + w]
            dst = gx[b, ch, y]
            for q in range(w):
                dst[q] = src[q]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def bias_to_nchw(y, bias, relu, out):
    """``out[n, c] = y[c, n] + bias[c]`` (then ``max(., 0)`` with ``relu``; NaN stays NaN).

    ``y`` is ``(C, N, H, W')``, ``out`` ``(N, C, H, W)``: the columns of ``y`` from ``W`` on are ignored.
    """
    c, n, h = y.shape[0], y.shape[1], y.shape[2]
    w = out.shape[3]
    for task in prange(n * c):
        b = task // c
        ch = task % c
        bc = bias[ch]
        for r in range(h):
            src = y[ch, b, r]
            dst = out[b, ch, r]
            if relu:
                for q in range(w):
                    v = src[q] + bc
                    dst[q] = v if not v < 0 else 0  # v < 0 is False for NaN
            else:
                for q in range(w):
                    dst[q] = src[q] + bc


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def nchw_to_cnhw(g, y, gy, gbias):
    """``gy[c, n, :, :W] = g[n, c]``, masked by ``y > 0`` unless ``y`` is empty (the ReLU backward from
    its output), 0 in any further columns of ``gy``; ``gbias[c]`` the sum of ``gy[c]`` (in float64)."""
    n, c, h, w = g.shape
    width = gy.shape[3]
    masked = y.size > 0
    for ch in prange(c):
        total = 0.0
        for b in range(n):
            for r in range(h):
                src = g[b, ch, r]
                dst = gy[ch, b, r]
                if masked:
                    ref = y[b, ch, r]
                    for q in range(w):
                        v = src[q] if ref[q] > 0 else 0
                        dst[q] = v
                        total += v
                else:
                    for q in range(w):
                        dst[q] = src[q]
                        total += src[q]
                for q in range(w, width):
                    dst[q] = 0
        gbias[ch] = total


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def bias_relu_pool(y, bias, kh, kw, out, argmax):
    """Max pooling (non-overlapping ``kh x kw`` windows) of ``relu(y + bias)``, from CNHW to NCHW.

    ``y`` is ``(C, N, H, W)`` (further columns, never in a window, are ignored); ``out`` and ``argmax``
    (``uint8``, index ``i*kw + j`` of the first maximum of ``y + bias`` in each window) are
    ``(N, C, Hp, Wp)``. Pooling before the
    ReLU gives the same output (the ReLU is monotone), and a non-positive maximum gets no gradient.
    """
    c, n = y.shape[0], y.shape[1]
    _hp, _wp = out.shape[2], out.shape[3]
    for task in prange(n * c):
        b = task // c
        ch = task % c
        _bias_relu_pool_plane(y[ch, b], bias[ch], kh, kw, out[b, ch], argmax[b, ch])


@njit(cache=True, nogil=True, error_model="numpy")
def _pool2_plane(src, bc, dst, argmax):
    """One plane of :func:`bias_relu_pool` with 2x2 windows (constant offsets, so it vectorises)."""
    hp, wp = dst.shape
    for r in range(hp):
        for q in range(wp):
            a = src[2 * r, 2 * q] + bc
            v = src[2 * r, 2 * q + 1] + bc
            best, where = (v, 1) if v > a or (v != v and a == a) else (a, 0)
            v = src[2 * r + 1, 2 * q] + bc
            if v > best or (v != v and best == best):
                best, where = v, 2
            v = src[2 * r + 1, 2 * q + 1] + bc
            if v > best or (v != v and best == best):
                best, where = v, 3
            dst[r, q] = best if not best < 0 else 0
            argmax[r, q] = where


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def bias_relu_pool_backward(g, out, argmax, kh, kw, gy, gbias):
    """The gradient of :func:`bias_relu_pool`: ``gy`` (CNHW, fully written) gets ``g`` at each window's
    argmax where the output is positive, 0 elsewhere; ``gbias[c]`` the sum of ``gy[c]`` (in float64)."""
    n, c = g.shape[0], g.shape[1]
    h, w = gy.shape[2], gy.shape[3]
    offset = _window_offsets(kh, kw, w)
    flat = gy.reshape(c, n, h * w)
    for ch in prange(c):
        total = 0.0
        for b in range(n):
            total += _unpool(g[b, ch], out[b, ch], argmax[b, ch], kh, kw, w, offset, flat[ch, b])
        gbias[ch] = total


@njit(cache=True, nogil=True, error_model="numpy")
def _unpool(g, out, argmax, kh, kw, width, offset, plane):
    """One plane of the gradient before a ReLU and a pooling of ``kh x kw`` windows that do not overlap:
    ``plane`` (flat, rows of ``width``) is zeroed, then gets ``g`` at each window's ``argmax`` where the
    pooled ``out`` is positive. Returns the sum of what it wrote."""
    plane[:] = 0
    total = 0.0
    for r in range(g.shape[0]):
        for q in range(g.shape[1]):  # branch-free: half the maxima are not positive, at random
            v = g[r, q] if out[r, q] > 0 else 0
            plane[r * kh * width + q * kw + offset[argmax[r, q]]] = v
            total += v
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _window_offsets(kh, kw, width):
    """Flat offset ``i * width + j`` of window entry ``k = i * kw + j`` in rows of ``width``."""
    offset = np.empty(kh * kw, np.intp)
    for k in range(kh * kw):
        offset[k] = (k // kw) * width + k % kw
    return offset


@njit(cache=True, nogil=True, error_model="numpy")
def bias_relu(y, bias):
    """``y = max(y + bias, 0)`` in place, rows of ``y`` (2-d) plus ``bias`` (NaN stays NaN)."""
    m, k = y.shape
    for row in range(m):
        dst = y[row]
        for col in range(k):
            v = dst[col] + bias[col]
            dst[col] = v if not v < 0 else 0


@njit(cache=True, nogil=True, error_model="numpy")
def relu_mask(g, y, out):
    """``out = g`` where ``y > 0``, else 0 (the ReLU backward from its output ``y``; all 2-d)."""
    m, k = g.shape
    for row in range(m):
        for col in range(k):
            out[row, col] = g[row, col] if y[row, col] > 0 else 0


@njit(parallel=True, cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def direct_relu_pool(xp, weight, bias, kh, kw, out, argmax):
    """Stride-1 convolution of the zero-padded NCHW input ``xp`` computed directly (no window matrix),
    then bias, ReLU and max pooling over non-overlapping ``kh x kw`` windows, as :func:`bias_relu_pool`.

    For convolutions with few input channels (the first layer of an image model), where a GEMM with
    an inner dimension of ``C*kh*kw`` (9 for a grey image) runs far below the machine's peak.
    ``weight`` is ``(C_out, C, wh, ww)``; ``out`` and ``argmax`` are ``(N, C_out, Hp, Wp)``. Each
    output plane is computed over the padded width (one long contiguous run per kernel offset, which
    vectorises; the extra columns are never pooled).
    """
    n, c, hpad, wpad = xp.shape
    co, wh, ww = weight.shape[0], weight.shape[2], weight.shape[3]
    ho = hpad - wh + 1
    run = (ho - 1) * wpad + wpad - ww + 1
    flat = xp.reshape(n, c, hpad * wpad)
    for task in prange(n * co):
        b = task // co
        o = task % co
        acc = np.zeros(ho * wpad, xp.dtype)
        for ch in range(c):
            for i in range(wh):
                for j in range(ww):
                    wv = weight[o, ch, i, j]
                    src = flat[b, ch, i * wpad + j : i * wpad + j + run]
                    for t in range(run):
                        acc[t] += wv * src[t]
        _bias_relu_pool_plane(acc.reshape(ho, wpad), bias[o], kh, kw, out[b, o], argmax[b, o])


@njit(cache=True, nogil=True, error_model="numpy")
def _bias_relu_pool_plane(src, bc, kh, kw, dst, argmax):
    """One plane of :func:`bias_relu_pool`: ``src`` (H, W) to ``dst`` and ``argmax`` (Hp, Wp)."""
    if kh == 2 and kw == 2:
        _pool2_plane(src, bc, dst, argmax)
        return
    for r in range(dst.shape[0]):
        for q in range(dst.shape[1]):
            best = src[r * kh, q * kw] + bc
            where = 0
            for i in range(kh):
                for j in range(kw):
                    v = src[r * kh + i, q * kw + j] + bc
                    if v > best or (v != v and best == best):
                        best = v
                        where = i * kw + j
            dst[r, q] = best if not best < 0 else 0
            argmax[r, q] = where


@njit(parallel=True, cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def direct_relu_pool_weight_grad(g, out, argmax, xp, kh, kw, gweight, gbias):
    """Weight and bias gradients of :func:`direct_relu_pool`, per output channel: the gradient of the
    convolution's output (``g`` at each window maximum with a positive output, 0 elsewhere) is built
    plane by plane over the padded width and correlated with the input as one contiguous dot product per
    kernel offset (sums per plane in the data's dtype, across planes in float64)."""
    n, co = g.shape[0], g.shape[1]
    c, hpad, wpad = xp.shape[1], xp.shape[2], xp.shape[3]
    wh, ww = gweight.shape[2], gweight.shape[3]
    ho = hpad - wh + 1
    run = (ho - 1) * wpad + wpad - ww + 1
    flat = xp.reshape(n, c, hpad * wpad)
    offset = _window_offsets(kh, kw, wpad)
    for o in prange(co):
        acc = np.zeros((c, wh, ww), np.float64)
        total = 0.0
        gy = np.zeros(ho * wpad, g.dtype)
        for b in range(n):
            total += _unpool(g[b, o], out[b, o], argmax[b, o], kh, kw, wpad, offset, gy)
            for ch in range(c):
                for i in range(wh):
                    for j in range(ww):
                        src = flat[b, ch, i * wpad + j : i * wpad + j + run]
                        part = gy[0] * 0
                        for t in range(run):
                            part += gy[t] * src[t]
                        acc[ch, i, j] += part
        for ch in range(c):
            for i in range(wh):
                for j in range(ww):
                    gweight[o, ch, i, j] = acc[ch, i, j]
        gbias[o] = total


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def direct_relu_pool_input_grad(g, out, argmax, weight, kh, kw, ph, pw, gx):
    """Input gradient (NCHW, unpadded) of :func:`direct_relu_pool`: each window maximum with a positive
    output adds ``g * weight[c_out]`` to the input window it was computed from."""
    n, co, hp, wp = g.shape
    c, h, w = gx.shape[1], gx.shape[2], gx.shape[3]
    wh, ww = weight.shape[2], weight.shape[3]
    for b in prange(n):
        acc = np.zeros((c, h + 2 * ph, w + 2 * pw), gx.dtype)
        for o in range(co):
            for r in range(hp):
                for q in range(wp):
                    if out[b, o, r, q] > 0:
                        k = argmax[b, o, r, q]
                        v = g[b, o, r, q]
                        top = r * kh + k // kw
                        left = q * kw + k % kw
                        for ch in range(c):
                            for i in range(wh):
                                for j in range(ww):
                                    acc[ch, top + i, left + j] += v * weight[o, ch, i, j]
        for ch in range(c):
            for y in range(h):
                for x in range(w):
                    gx[b, ch, y, x] = acc[ch, y + ph, x + pw]
