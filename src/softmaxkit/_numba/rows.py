"""Per-row mode: ``prange`` over the rows of a C-contiguous ``(rows, n)`` array, one row per task.

Each row is read from memory once; its second and third passes hit the core's cache (softmax: max;
exponentials stored and summed, all of them: a softmax needs only their total; scaled in place;
log-softmax: max; exponentials summed and ``z - max`` stored; ``log1p`` of the rest subtracted in
place). Rows without a finite maximum, or holding a NaN,
take the slower general path of :mod:`softmaxkit._numba.segments`.
"""

from __future__ import annotations

from numba import njit, prange

from .floats import cast
from .segments import (
    NORMAL,
    label_grad,
    log_softmax_row_stored,
    lse_value,
    pick_logp,
    row_params,
    row_stats,
    seg_write,
    softmax_row,
    softmax_row_stored,
)

__all__ = ["softmax", "logsumexp", "cross_entropy", "cross_entropy_grad"]


@njit(parallel=True, cache=True)
def softmax(z, y, log):
    """``y`` = softmax (log-softmax when ``log``) of each row of ``z``."""
    n = z.shape[1]
    # Log-softmax stores z - max on the way unless it writes over its input (a row that turns out
    # to hold a NaN or an infinity is then computed again from z).
    stored_log = log and y.ctypes.data != z.ctypes.data
    for r in prange(z.shape[0]):
        if log:
            if stored_log and log_softmax_row_stored(z[r], y[r]):
                continue
        elif softmax_row(z[r], y[r]):
            continue
        state, m, value = row_stats(z[r])
        a, at_inf, elsewhere = row_params(state, value, log, 1.0, z)
        seg_write(z[r], y[r], 0, n, state, m, a, at_inf, elsewhere, log)


@njit(parallel=True, cache=True)
def logsumexp(z, out):
    """``out[r]`` = logsumexp of row ``r`` of ``z``."""
    for r in prange(z.shape[0]):
        state, m, value = row_stats(z[r])
        out[r] = lse_value(state, m, value)


@njit(parallel=True, cache=True)
def cross_entropy(z, labels, active, loss):
    """``loss[r] = -log softmax(z[r])[labels[r]]`` for the active rows, 0 for the others."""
    for r in prange(z.shape[0]):
        if active[r]:
            state, m, value = row_stats(z[r])
            loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], state, m, value)
        else:
            loss[r] = cast(0.0, z)


@njit(parallel=True, cache=True)
def cross_entropy_grad(z, labels, active, factor, loss, grad):
    """:func:`cross_entropy` and ``grad = factor * (softmax(z) - onehot(labels))`` (0 in inactive rows)."""
    n = z.shape[1]
    for r in prange(z.shape[0]):
        if not active[r]:
            loss[r] = cast(0.0, z)
            grad[r, :] = cast(0.0, z)
            continue
        done, m, value = softmax_row_stored(z[r], grad[r], factor)
        state = NORMAL
        if not done:
            state, m, value = row_stats(z[r])
            a, at_inf, elsewhere = row_params(state, value, False, factor, z)
            seg_write(z[r], grad[r], 0, n, state, m, a, at_inf, elsewhere, False)
        loss[r] = cast(0.0, z) - pick_logp(z[r], labels[r], state, m, value)
        grad[r, labels[r]] = label_grad(z[r, labels[r]], state, m, value, factor)
