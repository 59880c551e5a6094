"""Kernels of :mod:`softmaxkit.nn`: max pooling (forward and backward) and the fused SGD and Adam updates.

NumPy's strided comparisons are about 20 times slower for max pooling. The kernels are serial
(pooling is memory-bound, and thread start-up would dominate small batches) and release the GIL.
Arrays are NCHW; ``argmax`` holds the index ``i * kw + j`` of each window's maximum.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["maxpool_forward", "maxpool_backward", "maxpool2_forward", "maxpool2_backward", "sgd_update", "adam_update"]


@njit(cache=True, nogil=True)
def maxpool_forward(x, kh, kw, sh, sw, y, argmax):
    """``y`` = maximum of each ``kh x kw`` window of ``x`` at strides ``(sh, sw)``; ``argmax`` its index.

    Ties keep the first maximum (as PyTorch); a NaN in a window propagates.
    """
    n, c = x.shape[0], x.shape[1]
    ho, wo = y.shape[2], y.shape[3]
    for plane in range(n * c):
        b, ch = plane // c, plane % c
        for r in range(ho):
            for q in range(wo):
                best = x[b, ch, r * sh, q * sw]
                where = 0
                for i in range(kh):
                    for j in range(kw):
                        v = x[b, ch, r * sh + i, q * sw + j]
                        if v > best or (v != v and best == best):
                            best = v
                            where = i * kw + j
                y[b, ch, r, q] = best
                argmax[b, ch, r, q] = where


@njit(cache=True, nogil=True)
def maxpool_backward(g, argmax, kw, sh, sw, gx):
    """``gx`` += ``g`` scattered to the window maxima (``gx`` is zeroed by the caller; windows may overlap)."""
    n, c = g.shape[0], g.shape[1]
    ho, wo = g.shape[2], g.shape[3]
    for plane in range(n * c):
        b, ch = plane // c, plane % c
        for r in range(ho):
            for q in range(wo):
                k = argmax[b, ch, r, q]
                gx[b, ch, r * sh + k // kw, q * sw + k % kw] += g[b, ch, r, q]


@njit(cache=True, nogil=True)
def maxpool2_forward(x, y, argmax):
    """:func:`maxpool_forward` for 2x2 windows at stride 2.

    Constant offsets let the loops vectorise: memory-bound, about 20 times faster than the general kernel.
    """
    n, c = x.shape[0], x.shape[1]
    ho, wo = y.shape[2], y.shape[3]
    for b in range(n):
        for ch in range(c):
            for r in range(ho):
                for q in range(wo):
                    best = x[b, ch, 2 * r, 2 * q]
                    where = 0
                    for i in range(2):
                        for j in range(2):
                            v = x[b, ch, 2 * r + i, 2 * q + j]
                            if v > best or (v != v and best == best):
                                best = v
                                where = 2 * i + j
                    y[b, ch, r, q] = best
                    argmax[b, ch, r, q] = where


@njit(cache=True, nogil=True)
def maxpool2_backward(g, argmax, gx):
    """:func:`maxpool_backward` for 2x2 windows at stride 2 (no overlap: plain stores)."""
    n, c = g.shape[0], g.shape[1]
    ho, wo = g.shape[2], g.shape[3]
    for b in range(n):
        for ch in range(c):
            for r in range(ho):
                for q in range(wo):
                    k = argmax[b, ch, r, q]
                    gx[b, ch, 2 * r + k // 2, 2 * q + k % 2] = g[b, ch, r, q]


@njit(cache=True, nogil=True)
def sgd_update(p, g, buf, lr, momentum, weight_decay, nesterov, first):
    """One fused pass of ``torch.optim.SGD``'s update of the flat parameter ``p`` in place.

    Parameters
    ----------
    p, g, buf : ndarray
        Flat parameter, gradient and momentum buffer, of one dtype.
    lr, momentum, weight_decay : float
        Scalars of the parameters' dtype (a float64 scalar would upcast a float32 step).
    nesterov : bool
    first : bool
        First step: the momentum buffer starts at the gradient.
    """
    for i in range(p.size):
        d = g[i]
        if weight_decay != 0:
            d = d + weight_decay * p[i]
        if momentum != 0:
            b = d if first else momentum * buf[i] + d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] -= lr * d


@njit(cache=True, nogil=True, error_model="numpy")  # no zero-division check: the loop vectorises
def adam_update(p, g, m, v, lr, beta1, beta2, rest1, rest2, eps, root_bias2, decay, decoupled, lr_decay):
    """One fused pass of ``torch.optim.Adam``'s (``AdamW``'s with ``decoupled``) update of the flat
    parameter ``p`` in place, with the operations in the order of the NumPy path.

    Parameters
    ----------
    p, g, m, v : ndarray
        Flat parameter, gradient, first and second moments, of one dtype.
    lr : float
        ``lr / (1 - beta1**t)``, the step with the first moment's bias correction.
    beta1, beta2, eps : float
    rest1, rest2 : float
        ``1 - beta1`` and ``1 - beta2``, rounded from float64 as the NumPy path does.
    root_bias2 : float
        ``1 / sqrt(1 - beta2**t)``.
    decay : float
        L2 weight decay added to the gradient (``decoupled=False``).
    decoupled : bool
    lr_decay : float
        ``1 - lr * weight_decay``: the decoupled decay factor.

    All scalars are of the parameters' dtype.
    """
    for i in range(p.size):
        d = g[i]
        if decoupled:
            p[i] *= lr_decay
        elif decay != 0:
            d = p[i] * decay + d
        m[i] = m[i] * beta1 + rest1 * d
        v[i] = v[i] * beta2 + (d * d) * rest2
        p[i] -= m[i] / (np.sqrt(v[i]) * root_bias2 + eps) * lr
