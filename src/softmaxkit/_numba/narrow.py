"""Narrow mode: rows of few classes (e.g. a classifier head), where per-row loops are too short to vectorise.

Blocks of ``nb`` rows are read row by row (row max on the way) into a small transposed buffer, so
that the exponential-and-sum pass runs across rows, one row per SIMD lane; a task is a group of
``gb`` consecutive blocks. Rows without a finite maximum, or holding a NaN, fall back to the
per-row code of :mod:`softmaxkit._numba.segments`.

All four operations share one driver: :func:`run_parallel` (``prange`` over the groups) or
:func:`run_serial` (the same loop on the calling thread: no threading-layer launch, no thread-count
switch, for small inputs), both calling :func:`_group`, which allocates the buffers, walks the
group's blocks, computes their statistics and hands each block to the operation's block function.
The operation is a runtime code (:data:`SOFTMAX`, ...), so the driver has a single signature per
dtype: arrays an operation does not use are passed empty.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .exp import exp
from .floats import FASTMATH, cast
from .segments import NORMAL, label_grad, lse_value, pick_logp, row_params, row_stats, seg_write

__all__ = ["SOFTMAX", "LOGSUMEXP", "CROSS_ENTROPY", "CROSS_ENTROPY_GRAD", "run_parallel", "run_serial"]

#: Operation codes of the driver. Outputs: ``mat`` (softmax), ``vec`` (logsumexp, cross-entropy
#: loss), ``vec`` and ``mat`` (cross-entropy loss and gradient).
SOFTMAX, LOGSUMEXP, CROSS_ENTROPY, CROSS_ENTROPY_GRAD = 0, 1, 2, 3


@njit(fastmath=set(FASTMATH), cache=True)
def _stats(z, r0, b, tb, m, rest, cnt, store):
    """Rows ``r0:r0+b`` of ``z``: ``m`` = row max, ``rest``/``cnt`` as :func:`~softmaxkit._numba.segments.seg_sum`.

    ``tb[j, i]`` receives ``z[r0 + i, j]``, replaced by ``exp(z - m)`` when ``store``. The sums are
    kept in the data's dtype.
    """
    n = z.shape[1]
    for i in range(b):  # row by row: contiguous reads (a strided gather across rows is slower)
        mi = cast(-np.inf, z)
        for j in range(n):
            v = z[r0 + i, j]
            tb[j, i] = v
            mi = v if v > mi else mi
        m[i] = mi
        rest[i] = cast(0.0, z)
        cnt[i] = cast(0.0, z)
    for j in range(n):
        for i in range(b):
            d = tb[j, i] - m[i]
            e = exp(d)
            if store:
                tb[j, i] = e
            rest[i] += e if d != cast(0.0, z) else cast(0.0, z)
            cnt[i] += cast(1.0, z) if d == cast(0.0, z) else cast(0.0, z)


@njit(cache=True)
def _ok(mi, ri):
    """Whether a row's block statistics hold (finite maximum, no NaN)."""
    return mi > cast(-np.inf, mi) and mi < cast(np.inf, mi) and ri == ri


@njit(cache=True)
def _value(ri, ci):
    """The row's ``value`` (see :mod:`softmaxkit._numba.segments`) from its block statistics."""
    return (np.float64(ci) - 1.0) + np.float64(ri)


@njit(cache=True)
def _write_log(z, y, r0, b, m, rest, a):
    """``y = (z - m) - a`` for the normal rows, strictly (compiled without fastmath)."""
    n = z.shape[1]
    for i in range(b):
        if _ok(m[i], rest[i]):
            for j in range(n):
                y[r0 + i, j] = (z[r0 + i, j] - m[i]) - a[i]


@njit(cache=True)
def _softmax_block(z, r0, b, tb, m, rest, cnt, a, y, log):
    n = z.shape[1]
    for i in range(b):
        if _ok(m[i], rest[i]):
            value = _value(rest[i], cnt[i])
            a[i] = cast(math.log1p(value), z) if log else cast(1.0 / (1.0 + value), z)
        else:
            r = r0 + i
            state, mr, value = row_stats(z[r])
            pa, at_inf, elsewhere = row_params(state, value, log, 1.0, z)
            seg_write(z[r], y[r], 0, n, state, mr, pa, at_inf, elsewhere, log)
    if log:
        _write_log(z, y, r0, b, m, rest, a)
    else:
        for i in range(b):
            if _ok(m[i], rest[i]):
                for j in range(n):
                    y[r0 + i, j] = tb[j, i] * a[i]


@njit(cache=True)
def _logsumexp_block(z, r0, b, m, rest, cnt, out):
    for i in range(b):
        if _ok(m[i], rest[i]):
            out[r0 + i] = cast(np.float64(m[i]) + math.log1p(_value(rest[i], cnt[i])), z)
        else:
            state, mr, value = row_stats(z[r0 + i])
            out[r0 + i] = lse_value(state, mr, value)


@njit(cache=True)
def _cross_entropy_block(z, r0, b, m, rest, cnt, labels, active, loss):
    for i in range(b):
        r = r0 + i
        if not active[r]:
            loss[r] = cast(0.0, z)
        elif _ok(m[i], rest[i]):
            loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], NORMAL, m[i], _value(rest[i], cnt[i]))
        else:
            state, mr, value = row_stats(z[r])
            loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], state, mr, value)


@njit(cache=True)
def _cross_entropy_grad_block(z, r0, b, tb, m, rest, cnt, labels, active, factor, loss, grad):
    n = z.shape[1]
    for i in range(b):
        r = r0 + i
        if not active[r]:
            loss[r] = cast(0.0, z)
            grad[r, :] = cast(0.0, z)
            continue
        if _ok(m[i], rest[i]):
            state = NORMAL
            mr = m[i]
            value = _value(rest[i], cnt[i])
            s = cast(factor / (1.0 + value), z)
            for j in range(n):
                grad[r, j] = tb[j, i] * s
        else:
            state, mr, value = row_stats(z[r])
            pa, at_inf, elsewhere = row_params(state, value, False, factor, z)
            seg_write(z[r], grad[r], 0, n, state, mr, pa, at_inf, elsewhere, False)
        loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], state, mr, value)
        grad[r, labels[r]] = label_grad(z[r, labels[r]], state, mr, value, factor)


@njit(cache=True)
def _n_groups(rows, nb, gb):
    """Number of tasks: groups of ``gb`` blocks of ``nb`` rows."""
    nblk = (rows + nb - 1) // nb
    return (nblk + gb - 1) // gb


@njit(cache=True)
def _group(z, g, op, vec, mat, labels, active, log, factor, nb, gb):
    """Task ``g``: the blocks ``g * gb`` up to ``(g + 1) * gb`` of operation ``op``."""
    rows, n = z.shape
    nblk = (rows + nb - 1) // nb
    tb = np.empty((n, nb), z.dtype)
    m = np.empty(nb, z.dtype)
    rest = np.empty(nb, z.dtype)
    cnt = np.empty(nb, z.dtype)
    a = np.empty(nb, z.dtype)
    # The exponentials are kept only where the output is built from them.
    store = (op == SOFTMAX and not log) or op == CROSS_ENTROPY_GRAD
    for blk in range(g * gb, min((g + 1) * gb, nblk)):
        r0 = blk * nb
        b = min(nb, rows - r0)
        _stats(z, r0, b, tb, m, rest, cnt, store)
        if op == SOFTMAX:
            _softmax_block(z, r0, b, tb, m, rest, cnt, a, mat, log)
        elif op == LOGSUMEXP:
            _logsumexp_block(z, r0, b, m, rest, cnt, vec)
        elif op == CROSS_ENTROPY:
            _cross_entropy_block(z, r0, b, m, rest, cnt, labels, active, vec)
        else:
            _cross_entropy_grad_block(z, r0, b, tb, m, rest, cnt, labels, active, factor, vec, mat)


@njit(parallel=True, cache=True)
def run_parallel(z, op, vec, mat, labels, active, log, factor, nb, gb):
    """Run operation ``op`` on ``z`` (C-contiguous ``(rows, n)``), one task per group of blocks.

    Parameters
    ----------
    z : ndarray of shape (rows, n), float32 or float64
        C-contiguous logits, ``n`` small.
    op : int
        :data:`SOFTMAX`, :data:`LOGSUMEXP`, :data:`CROSS_ENTROPY` or :data:`CROSS_ENTROPY_GRAD`.
    vec : ndarray of shape (rows,)
        Per-row output (logsumexp or loss); empty when ``op`` has none.
    mat : ndarray of shape (rows, n)
        Output of ``z``'s shape (softmax or gradient); empty when ``op`` has none.
    labels, active : ndarray of shape (rows,)
        Class indices (intp) and active-row flags (bool) of the cross-entropy; empty otherwise.
    log : bool
        Softmax: write log-softmax.
    factor : float
        Cross-entropy gradient: scale of the gradient.
    nb, gb : int
        Rows per block, blocks per task.
    """
    for g in prange(_n_groups(z.shape[0], nb, gb)):
        _group(z, g, op, vec, mat, labels, active, log, factor, nb, gb)


@njit(cache=True)
def run_serial(z, op, vec, mat, labels, active, log, factor, nb, gb):
    """:func:`run_parallel` on the calling thread only (same arguments, same results)."""
    for g in range(_n_groups(z.shape[0], nb, gb)):
        _group(z, g, op, vec, mat, labels, active, log, factor, nb, gb)
