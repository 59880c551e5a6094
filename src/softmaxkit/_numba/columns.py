"""Column mode: the class axis in the middle of a C-contiguous ``(outer, n, inner)`` array.

A softmax over a non-last axis (``axis=1`` of an ``(N, C, H, W)`` or ``(batch, classes, boxes)``
array, ``axis=0`` of a matrix) is computed where the data lies, with no transposed copy: for each
outer index, a block of ``bw`` consecutive inner positions (columns) is processed with one column
per SIMD lane. The passes over the block's ``n x bw`` entries (max; exponentials summed, with the
output's first form stored on the way: the exponentials for softmax, ``z - max`` for log-softmax
unless it writes over its input; output) read memory once and then hit the core's cache, as the
passes over a row do in per-row mode. The per-column ``1 / sum``, ``log1p`` and logsumexp run in
SIMD lanes too (:func:`.log1p.log1p`). A unit of work is one ``(outer index, column block)`` pair;
a task is ``per`` consecutive units. Each column's arithmetic is its own lane's: the results do not
depend on the blocking.

Sums follow the other modes' accuracy: each column's exponentials are summed in the data's dtype
over ``_LO`` classes, those partial sums in float64 over ``_MID`` classes, and the results in a
float64 total. Columns without a finite maximum, or holding a NaN, are gathered into a contiguous
buffer and take the per-row code of :mod:`softmaxkit._numba.segments`, so every edge case is the
per-row mode's.

:func:`run_parallel` (``prange`` over the tasks) and :func:`run_serial` (the same loop on the
calling thread, for small inputs) share :func:`_task`. The operation is a runtime code
(:data:`SOFTMAX`, :data:`LOGSUMEXP`), so each driver has a single signature per dtype: the output
an operation does not use is passed empty.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .exp import exp
from .floats import FASTMATH, cast
from .log1p import log1p
from .segments import lse_value, row_params, row_stats, seg_write

__all__ = ["SOFTMAX", "LOGSUMEXP", "run_parallel", "run_serial"]

#: Operation codes of the drivers. Outputs: ``y`` of ``z``'s shape (softmax, log-softmax when
#: ``log``), ``lse`` of shape ``(outer, inner)`` (logsumexp).
SOFTMAX, LOGSUMEXP = 0, 1

#: Classes summed in the data's dtype, and partial sums added in float64 before joining the total.
_LO = 16
_MID = 256

#: What the exponential pass stores in the output: nothing, the exponentials, the shifted logits
#: ``z - m``. Storing in that pass, which is compute bound, brings the output's cache lines in while
#: the exponentials are computed, rather than in the output pass, which would wait for them.
_KEEP_NONE, _KEEP_EXP, _KEEP_SHIFTED = 0, 1, 2

_FAST = set(FASTMATH)


@njit(fastmath=_FAST, cache=True)
def _max(z, o, i0, b, m):
    """``m[:b]`` = maximum over the classes of the columns ``i0:i0+b`` of ``z[o]`` (NaN is skipped)."""
    for i in range(b):
        m[i] = cast(-np.inf, z)
    for j in range(z.shape[1]):
        zr = z[o, j, i0 : i0 + b]
        for i in range(b):
            v = zr[i]
            m[i] = v if v > m[i] else m[i]


@njit(fastmath=_FAST, cache=True)
def _sum(z, o, j0, j1, i0, b, m, lo, cl):
    """Add ``exp(z - m)`` of the classes ``j0:j1`` to ``lo`` (entries below ``m``) and count the maximal ones in ``cl``."""
    for j in range(j0, j1):
        zr = z[o, j, i0 : i0 + b]
        for i in range(b):
            d = zr[i] - m[i]
            e = exp(d)
            lo[i] += e if d != cast(0.0, z) else cast(0.0, z)
            cl[i] += cast(1.0, z) if d == cast(0.0, z) else cast(0.0, z)


@njit(fastmath=_FAST, cache=True)
def _sum_store_exp(z, y, o, j0, j1, i0, b, m, lo):
    """Add ``exp(z - m)`` of the classes ``j0:j1`` to ``lo``, every entry (the maximal ones too), storing it in ``y``.

    A softmax needs only the total ``1 + rest``, which this gives to the same relative accuracy as
    :func:`_sum` with fewer operations per entry (no tie count, no mask).
    """
    for j in range(j0, j1):
        zr = z[o, j, i0 : i0 + b]
        yr = y[o, j, i0 : i0 + b]
        for i in range(b):
            e = exp(zr[i] - m[i])
            yr[i] = e
            lo[i] += e


@njit(fastmath=_FAST, cache=True)
def _sum_store_shifted(z, y, o, j0, j1, i0, b, m, lo, cl):
    """:func:`_sum`, also storing ``y = z - m`` (one IEEE subtraction, the same in any fastmath mode)."""
    for j in range(j0, j1):
        zr = z[o, j, i0 : i0 + b]
        yr = y[o, j, i0 : i0 + b]
        for i in range(b):
            d = zr[i] - m[i]
            e = exp(d)
            yr[i] = d
            lo[i] += e if d != cast(0.0, z) else cast(0.0, z)
            cl[i] += cast(1.0, z) if d == cast(0.0, z) else cast(0.0, z)


@njit(fastmath=_FAST, cache=True)
def _add(b, src, dst):
    """``dst += src`` (in ``dst``'s type) and reset ``src``."""
    for i in range(b):
        dst[i] += src[i]
        src[i] = cast(0.0, src)


@njit(cache=True)
def _stats(z, y, o, i0, b, m, lo, cl, mid, rest, cnt, store):
    """Column maxima ``m``, sums ``rest`` of ``exp(z - m)`` below them and counts ``cnt`` of maximal entries (float64)."""
    n = z.shape[1]
    _max(z, o, i0, b, m)
    for i in range(b):
        lo[i] = cast(0.0, z)
        cl[i] = cast(0.0, z)
        mid[i] = 0.0
        rest[i] = 0.0
        cnt[i] = 0.0
    for j1 in range(0, n, _MID):
        for j0 in range(j1, min(j1 + _MID, n), _LO):
            j = min(j0 + _LO, n)
            if store == _KEEP_EXP:
                _sum_store_exp(z, y, o, j0, j, i0, b, m, lo)
            elif store == _KEEP_SHIFTED:
                _sum_store_shifted(z, y, o, j0, j, i0, b, m, lo, cl)
            else:
                _sum(z, o, j0, j, i0, b, m, lo, cl)
            _add(b, lo, mid)
            _add(b, cl, cnt)
        _add(b, mid, rest)


@njit(fastmath=_FAST, cache=True)
def _scale(y, o, i0, b, a):
    """``y[o, :, i0:i0+b] *= a`` (one factor per column)."""
    for j in range(y.shape[1]):
        yr = y[o, j, i0 : i0 + b]
        for i in range(b):
            yr[i] *= a[i]


@njit(cache=True)
def _write_log(z, y, o, i0, b, m, a):
    """``y = (z - m) - a`` per column, strictly in this order (compiled without fastmath).

    ``y`` may be ``z`` itself: each entry is read before it is written, and a column with ``m = a = 0``
    is left exactly as it was (``v - 0 - 0`` is ``v`` for every float, ``-0.0`` and NaN included).
    """
    for j in range(z.shape[1]):
        zr = z[o, j, i0 : i0 + b]
        yr = y[o, j, i0 : i0 + b]
        for i in range(b):
            yr[i] = (zr[i] - m[i]) - a[i]


@njit(cache=True)
def _subtract(y, o, i0, b, a):
    """``y -= a`` per column, strictly (``y`` holds ``z - m``: the result is :func:`_write_log`'s)."""
    for j in range(y.shape[1]):
        yr = y[o, j, i0 : i0 + b]
        for i in range(b):
            yr[i] = yr[i] - a[i]


@njit(cache=True, error_model="numpy")
def _params(z, lse, o, i0, b, op, log, m, rest, cnt, a, ok):
    """Per column of the block: whether its statistics hold (``ok``: a finite maximum and no NaN), and
    the output pass's ``a`` (``1 / sum`` or ``log(sum)``) or, for logsumexp, the value in ``lse``.
    ``rest`` holds the sum itself for a softmax, else the sum less one maximal entry's 1 (and
    ``cnt`` the number of maximal entries).

    The columns that do not hold get ``m = a = 0`` (their output is written afterwards by
    :func:`_special`). Returns their number. Every loop runs in SIMD lanes (:func:`.log1p.log1p`;
    NumPy's error model, so a division has no Python zero check).
    """
    n_special = 0
    for i in range(b):
        good = m[i] > cast(-np.inf, z) and m[i] < cast(np.inf, z) and rest[i] == rest[i]
        ok[i] = good
        n_special += 0 if good else 1
        if op == SOFTMAX and not log:  # the sum itself (see _sum_store_exp)
            rest[i] = rest[i] if good else 1.0
        else:  # the sum is 1 + rest
            rest[i] = (cnt[i] - 1.0) + rest[i] if good else 0.0
        m[i] = m[i] if good else cast(0.0, z)
    if op == LOGSUMEXP:
        for i in range(b):
            lse[o, i0 + i] = cast(np.float64(m[i]) + log1p(rest[i]), z)
    elif log:
        for i in range(b):
            a[i] = cast(log1p(rest[i]), z)
    else:
        for i in range(b):
            a[i] = cast(1.0 / rest[i], z)
    return n_special


@njit(cache=True)
def _special(z, y, lse, o, i, op, log, col, res):
    """The general per-row code for column ``i`` of ``z[o]``, through the contiguous buffers ``col`` and ``res``."""
    n = z.shape[1]
    for j in range(n):
        col[j] = z[o, j, i]
    state, mr, value = row_stats(col)
    if op == LOGSUMEXP:
        lse[o, i] = lse_value(state, mr, value)
        return
    pa, at_inf, elsewhere = row_params(state, value, log, 1.0, z)
    seg_write(col, res, 0, n, state, mr, pa, at_inf, elsewhere, log)
    for j in range(n):
        y[o, j, i] = res[j]


@njit(cache=True)
def _task(z, t, op, y, lse, log, bw, per):
    """Task ``t``: the units ``t * per`` up to ``(t + 1) * per`` of operation ``op``."""
    outer, n, inner = z.shape
    nblk = (inner + bw - 1) // bw
    units = outer * nblk
    m = np.empty(bw, z.dtype)
    lo = np.empty(bw, z.dtype)
    cl = np.empty(bw, z.dtype)
    a = np.empty(bw, z.dtype)
    mid = np.empty(bw, np.float64)
    rest = np.empty(bw, np.float64)
    cnt = np.empty(bw, np.float64)
    ok = np.empty(bw, np.bool_)
    col = np.empty(0, z.dtype)
    res = np.empty(0, z.dtype)
    # The pass that sums the exponentials also writes the output's first form, except in place.
    if op == LOGSUMEXP:
        store = _KEEP_NONE
    elif not log:
        store = _KEEP_EXP
    else:
        store = _KEEP_NONE if y.ctypes.data == z.ctypes.data else _KEEP_SHIFTED
    for u in range(t * per, min((t + 1) * per, units)):
        o = u // nblk
        i0 = (u % nblk) * bw
        b = min(bw, inner - i0)
        _stats(z, y, o, i0, b, m, lo, cl, mid, rest, cnt, store)
        n_special = _params(z, lse, o, i0, b, op, log, m, rest, cnt, a, ok)
        if store == _KEEP_EXP:
            _scale(y, o, i0, b, a)
        elif store == _KEEP_SHIFTED:
            _subtract(y, o, i0, b, a)
        elif op == SOFTMAX:
            _write_log(z, y, o, i0, b, m, a)
        if n_special:
            if col.shape[0] == 0:
                col = np.empty(n, z.dtype)
                res = np.empty(n, z.dtype)
            for i in range(b):
                if not ok[i]:
                    _special(z, y, lse, o, i0 + i, op, log, col, res)


@njit(cache=True)
def _n_tasks(z, bw, per):
    """Number of tasks: ``per`` units of one outer index and ``bw`` columns each."""
    nblk = (z.shape[2] + bw - 1) // bw
    return (z.shape[0] * nblk + per - 1) // per


@njit(parallel=True, cache=True)
def run_parallel(z, op, y, lse, log, bw, per):
    """Run operation ``op`` on ``z`` (C-contiguous ``(outer, n, inner)``, class axis 1), one task per ``per`` units.

    Parameters
    ----------
    z : ndarray of shape (outer, n, inner), float32 or float64
        C-contiguous logits.
    op : int
        :data:`SOFTMAX` or :data:`LOGSUMEXP`.
    y : ndarray of shape (outer, n, inner)
        Softmax output (C-contiguous; may be ``z`` itself for log-softmax); empty for logsumexp.
    lse : ndarray of shape (outer, inner)
        Logsumexp output (C-contiguous); empty for softmax.
    log : bool
        Softmax: write log-softmax.
    bw, per : int
        Columns per block, units (outer index, column block) per task.
    """
    for t in prange(_n_tasks(z, bw, per)):
        _task(z, t, op, y, lse, log, bw, per)


@njit(cache=True)
def run_serial(z, op, y, lse, log, bw, per):
    """:func:`run_parallel` on the calling thread only (same arguments, same results)."""
    for t in range(_n_tasks(z, bw, per)):
        _task(z, t, op, y, lse, log, bw, per)
