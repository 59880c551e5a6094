"""numba kernels for the memory-bound parts of the network (max pooling), with a NumPy fallback.

numba is imported lazily on first use; the kernels are compiled once per dtype with
``njit(parallel=True, cache=True)``. :func:`get` returns None when numba is unavailable, and callers
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

    @numba.njit(parallel=True, cache=True, nogil=True)
    def maxpool_forward(x, kh, kw, sh, sw, y, argmax):  # pragma: no cover - compiled
        n, c = x.shape[0], x.shape[1]
        ho, wo = y.shape[2], y.shape[3]
        for plane in numba.prange(n * c):
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

    @numba.njit(parallel=True, cache=True, nogil=True)
    def maxpool_backward(g, argmax, kw, sh, sw, gx):  # pragma: no cover - compiled
        n, c = g.shape[0], g.shape[1]
        ho, wo = g.shape[2], g.shape[3]
        for plane in numba.prange(n * c):
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

    return {
        "maxpool_forward": maxpool_forward, "maxpool_backward": maxpool_backward,
        "maxpool2_forward": maxpool2_forward, "maxpool2_backward": maxpool2_backward,
    }
