"""Split mode (few long rows): each row is cut into ``nch`` chunks of ``clen`` entries.

A first ``prange`` over the (row, chunk) tasks computes per-chunk partials (max, sum of
exponentials relative to the chunk max, count of maximal entries, NaN flag), a serial step
combines them per row, and a second ``prange`` writes the output of every task.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .floats import cast
from .segments import ZERO, combine, label_grad, lse_value, pick_logp, row_params, seg_stats, seg_write

__all__ = ["softmax", "logsumexp", "cross_entropy", "cross_entropy_grad"]


@njit(parallel=True, cache=True)
def _stats(z, nch, clen):
    """Partials of every (row, chunk) task in parallel, then per row ``(states, maxima, values)``."""
    rows, n = z.shape
    ntask = rows * nch
    pm = np.empty(ntask, z.dtype)
    prest = np.empty(ntask, np.float64)
    pcnt = np.empty(ntask, np.float64)
    pnan = np.empty(ntask, np.bool_)
    for t in prange(ntask):
        r = t // nch
        lo = (t % nch) * clen
        hi = min(lo + clen, n)
        pm[t], prest[t], pcnt[t], pnan[t] = seg_stats(z[r], lo, hi)
    states = np.empty(rows, np.int64)
    ms = np.empty(rows, z.dtype)
    values = np.empty(rows, np.float64)
    for r in range(rows):
        states[r], ms[r], values[r] = combine(pm, prest, pcnt, pnan, r * nch, (r + 1) * nch)
    return states, ms, values


@njit(parallel=True, cache=True)
def _write(z, y, nch, clen, states, ms, values, log, factor):
    """Write every (row, chunk) task of ``y`` in parallel from the rows' statistics."""
    rows, n = z.shape
    for t in prange(rows * nch):
        r = t // nch
        lo = (t % nch) * clen
        hi = min(lo + clen, n)
        a, at_inf, elsewhere = row_params(states[r], values[r], log, factor, z)
        seg_write(z[r], y[r], lo, hi, states[r], ms[r], a, at_inf, elsewhere, log)


@njit(cache=True)
def softmax(z, y, log, nch, clen):
    """``y`` = softmax (log-softmax when ``log``) of each row of ``z``."""
    states, ms, values = _stats(z, nch, clen)
    _write(z, y, nch, clen, states, ms, values, log, 1.0)


@njit(cache=True)
def logsumexp(z, out, nch, clen):
    """``out[r]`` = logsumexp of row ``r`` of ``z``."""
    states, ms, values = _stats(z, nch, clen)
    for r in range(z.shape[0]):
        out[r] = lse_value(states[r], ms[r], values[r])


@njit(cache=True)
def cross_entropy(z, labels, active, loss, nch, clen):
    """``loss[r] = -log softmax(z[r])[labels[r]]`` for the active rows, 0 for the others."""
    states, ms, values = _stats(z, nch, clen)
    for r in range(z.shape[0]):
        loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], states[r], ms[r], values[r]) if active[r] else cast(0.0, z)


@njit(cache=True)
def cross_entropy_grad(z, labels, active, factor, loss, grad, nch, clen):
    """:func:`cross_entropy` and ``grad = factor * (softmax(z) - onehot(labels))`` (0 in inactive rows)."""
    states, ms, values = _stats(z, nch, clen)
    for r in range(z.shape[0]):
        if active[r]:
            loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], states[r], ms[r], values[r])
        else:
            loss[r] = cast(0.0, z)
            states[r] = ZERO
    _write(z, grad, nch, clen, states, ms, values, False, factor)
    for r in range(z.shape[0]):
        if active[r]:
            grad[r, labels[r]] = label_grad(z[r, labels[r]], states[r], ms[r], values[r], factor)
