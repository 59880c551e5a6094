"""numba kernels: max pooling (NumPy strided comparisons are ~20x slower) and the fused SGD update.

numba is imported lazily on first use; the kernels are compiled once per dtype with
``njit(cache=True)`` (serial: pooling is memory-bound, and thread start-up would dominate small batches). :func:`get` returns None when numba is unavailable, and callers
then use their NumPy code path (same results).
"""

from __future__ import annotations

import functools

__all__ = ["get"]


@functools.cache
def get():
    """The compiled kernels as a namespace-like dict, or None without numba."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency, but stay usable without it
        return None

    @numba.njit(cache=True, nogil=True)
    def maxpool_forward(x, kh, kw, sh, sw, y, argmax):  # pragma: no cover - compiled
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
                            if v > best or (v != v and best == best):  # first maximum; NaN propagates
                                best = v
                                where = i * kw + j
                    y[b, ch, r, q] = best
                    argmax[b, ch, r, q] = where

    @numba.njit(cache=True, nogil=True)
    def maxpool_backward(g, argmax, kw, sh, sw, gx):  # pragma: no cover - compiled
        n, c = g.shape[0], g.shape[1]
        ho, wo = g.shape[2], g.shape[3]
        for plane in range(n * c):
            b, ch = plane // c, plane % c
            for r in range(ho):
                for q in range(wo):
                    k = argmax[b, ch, r, q]
                    gx[b, ch, r * sh + k // kw, q * sw + k % kw] += g[b, ch, r, q]

    @numba.njit(cache=True, nogil=True)
    def maxpool2_forward(x, y, argmax):  # pragma: no cover - compiled
        # The common 2x2, stride-2 case with constant offsets: vectorises, memory-bound (~20x faster).
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

    @numba.njit(cache=True, nogil=True)
    def maxpool2_backward(g, argmax, gx):  # pragma: no cover - compiled
        n, c = g.shape[0], g.shape[1]
        ho, wo = g.shape[2], g.shape[3]
        for b in range(n):
            for ch in range(c):
                for r in range(ho):
                    for q in range(wo):
                        k = argmax[b, ch, r, q]
                        gx[b, ch, 2 * r + k // 2, 2 * q + k % 2] = g[b, ch, r, q]

    @numba.njit(cache=True, nogil=True)
    def sgd_update(p, g, buf, lr, momentum, weight_decay, nesterov, first):  # pragma: no cover - compiled
        # One fused pass of torch.optim.SGD's update (flat, same-dtype arrays, dtype-typed scalars).
        for i in range(p.size):
            d = g[i]
            if weight_decay != 0:
                d = d + weight_decay * p[i]
            if momentum != 0:
                b = d if first else momentum * buf[i] + d
                buf[i] = b
                d = d + momentum * b if nesterov else b
            p[i] -= lr * d

    return {
        "sgd_update": sgd_update,
        "maxpool_forward": maxpool_forward, "maxpool_backward": maxpool_backward,
        "maxpool2_forward": maxpool2_forward, "maxpool2_backward": maxpool2_backward,
    }
