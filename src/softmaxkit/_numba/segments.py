"""Statistics and output passes of one row, or of one segment of a row (the per-row math).

A row's statistics are ``(state, max, value)``: ``state`` is one of the row states below, ``value``
is ``rest``, the sum of ``exp(z - max)`` over all entries but one maximal entry, for a
:data:`NORMAL` row, and the number of ``+inf`` entries for a :data:`POSINF` row. ``softmax =
exp(z - max) / (1 + rest)`` and ``log_softmax = (z - max) - log1p(rest)``: keeping the maximal
entry's 1 out of ``rest`` keeps log probabilities near 0 relatively accurate.

Loops over the data are compiled with :data:`~softmaxkit._numba.floats.FASTMATH` (they vectorise);
the scalar steps and the log-softmax write are strict, so the results do not depend on how LLVM
reassociates them. Every function is generic over float32 and float64 (see
:mod:`softmaxkit._numba.floats`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .exp import exp
from .floats import FASTMATH, cast, from_order_key, min_order_key, order_key

__all__ = [
    "NORMAL",
    "NAN",
    "POSINF",
    "DEAD",
    "ZERO",
    "seg_max",
    "seg_sum",
    "seg_sum_store",
    "scale",
    "softmax_row_stored",
    "seg_total_store",
    "softmax_row",
    "subtract",
    "log_softmax_row_stored",
    "seg_scan",
    "seg_stats",
    "combine",
    "row_stats",
    "write_exp",
    "write_log",
    "write_special",
    "row_params",
    "seg_write",
    "lse_value",
    "pick_logp",
    "label_grad",
]

#: Row states: a finite maximum and no NaN; a NaN; a ``+inf``; only ``-inf``; an ignored row of the
#: cross-entropy gradient (written as zeros).
NORMAL, NAN, POSINF, DEAD, ZERO = 0, 1, 2, 3, 4

#: Entries summed in the data's dtype (SIMD-wide) before the sum joins the float64 total.
_BLOCK = 256

_FAST = set(FASTMATH)


@njit(fastmath=_FAST, cache=True)
def seg_max(z):
    """Maximum of ``z``; may be NaN, or ignore a NaN, when ``z`` holds one.

    The floats are compared through their :func:`~softmaxkit._numba.floats.order_key`, so the
    reduction vectorises without ``nnan``. Rows holding NaN are caught afterwards (their sum of
    exponentials is NaN, or the slow scan finds it), so which NaN handling applies here does not
    matter.
    """
    m = min_order_key(z)
    for j in range(z.shape[0]):
        key = order_key(z[j])
        m = key if key > m else m
    return from_order_key(m, z)


@njit(fastmath=_FAST, cache=True)
def seg_sum(z, m):
    """``(rest, cnt)``: sum of ``exp(z - m)`` over entries below ``m`` and the count of entries equal to ``m``.

    Blocks of ``_BLOCK`` entries are summed in the data's dtype (SIMD-wide), the block sums in float64.
    """
    rest = 0.0
    cnt = 0.0
    for b in range(0, z.shape[0], _BLOCK):
        zb = z[b : b + _BLOCK]
        rb = cast(0.0, z)
        cb = cast(0.0, z)
        for j in range(zb.shape[0]):
            d = zb[j] - m
            e = exp(d)
            rb += e if d != cast(0.0, z) else cast(0.0, z)
            cb += cast(1.0, z) if d == cast(0.0, z) else cast(0.0, z)
        rest += rb
        cnt += cb
    return rest, cnt


@njit(fastmath=_FAST, cache=True)
def seg_sum_store(z, y, m, shifted):
    """As :func:`seg_sum`, also storing ``y = exp(z - m)``, or with ``shifted`` the shifted logits
    ``y = z - m`` (one IEEE subtraction each)."""
    rest = 0.0
    cnt = 0.0
    for b in range(0, z.shape[0], _BLOCK):
        zb = z[b : b + _BLOCK]
        yb = y[b : b + _BLOCK]
        rb = cast(0.0, z)
        cb = cast(0.0, z)
        for j in range(zb.shape[0]):
            d = zb[j] - m
            e = exp(d)
            yb[j] = d if shifted else e
            rb += e if d != cast(0.0, z) else cast(0.0, z)
            cb += cast(1.0, z) if d == cast(0.0, z) else cast(0.0, z)
        rest += rb
        cnt += cb
    return rest, cnt


@njit(fastmath=_FAST, cache=True)
def scale(y, a):
    """``y *= a``."""
    for j in range(y.shape[0]):
        y[j] *= a


@njit(cache=True)
def softmax_row_stored(z, y, factor):
    """Softmax of a row with a finite maximum and no NaN, each exponential computed once.

    ``y = factor * softmax(z)``. Returns ``(done, max, rest)`` as :func:`row_stats` does for a
    normal row; ``done`` is False (and ``y`` holds garbage) for the other rows.
    """
    m = seg_max(z)
    if not (m > cast(-np.inf, z) and m < cast(np.inf, z)):
        return False, m, 0.0
    rest, cnt = seg_sum_store(z, y, m, False)
    if rest != rest:
        return False, m, 0.0
    value = (cnt - 1.0) + rest
    scale(y, cast(factor / (1.0 + value), z))
    return True, m, value


@njit(fastmath=_FAST, cache=True)
def seg_total_store(z, y, m):
    """Sum of ``exp(z - m)`` over every entry (the maximal ones too), storing ``y = exp(z - m)``.

    A softmax needs only the total ``1 + rest``, which this gives to the same relative accuracy as
    :func:`seg_sum_store` with fewer operations per entry (no tie count, no mask).
    """
    total = 0.0
    for b in range(0, z.shape[0], _BLOCK):
        zb = z[b : b + _BLOCK]
        yb = y[b : b + _BLOCK]
        tb = cast(0.0, z)
        for j in range(zb.shape[0]):
            e = exp(zb[j] - m)
            yb[j] = e
            tb += e
        total += tb
    return total


@njit(cache=True)
def softmax_row(z, y):
    """``y = softmax(z)`` of a row with a finite maximum and no NaN; returns False (``y`` garbage) for the others."""
    m = seg_max(z)
    if not (m > cast(-np.inf, z) and m < cast(np.inf, z)):
        return False
    total = seg_total_store(z, y, m)
    if total != total:
        return False
    scale(y, cast(1.0 / total, z))
    return True


@njit(cache=True)
def subtract(y, a):
    """``y -= a``, strictly (compiled without fastmath)."""
    for j in range(y.shape[0]):
        y[j] = y[j] - a


@njit(cache=True)
def log_softmax_row_stored(z, y):
    """Log-softmax of a row with a finite maximum and no NaN into ``y``, which must not be ``z``.

    The pass that sums the exponentials also stores ``z - m`` in ``y``, so that ``y``'s cache lines
    are brought in while it computes (it is compute bound) rather than in the output pass, which
    would wait for them; the output pass then subtracts ``log1p(rest)``: the same operations, in the
    same order, as :func:`write_log`. Returns ``done`` as :func:`softmax_row_stored` does.
    """
    m = seg_max(z)
    if not (m > cast(-np.inf, z) and m < cast(np.inf, z)):
        return False
    rest, cnt = seg_sum_store(z, y, m, True)
    if rest != rest:
        return False
    subtract(y, cast(math.log1p((cnt - 1.0) + rest), z))
    return True


@njit(cache=True)
def seg_scan(z):
    """``(has_nan, n_posinf)`` of ``z`` (slow path for rows without a finite maximum)."""
    nan = False
    k = 0.0
    for j in range(z.shape[0]):
        v = z[j]
        if v != v:
            nan = True
        elif v == np.inf:
            k += 1.0
    return nan, k


@njit(cache=True)
def seg_stats(z, lo, hi):
    """Partials of ``z[lo:hi]``: ``(max, rest, cnt, has_nan)``; ``cnt`` counts ``+inf`` when max is ``+inf``."""
    zs = z[lo:hi]
    m = seg_max(zs)
    if m > cast(-np.inf, z) and m < cast(np.inf, z):
        rest, cnt = seg_sum(zs, m)
        return m, rest, cnt, rest != rest
    nan, k = seg_scan(zs)
    if nan:
        return m, np.nan, 0.0, True
    return m, 0.0, k, False


@njit(cache=True)
def combine(pm, prest, pcnt, pnan, lo, hi):
    """Combine the partials ``lo:hi`` of one row (from :func:`seg_stats`) into ``(state, max, value)``."""
    m = cast(-np.inf, pm)
    for c in range(lo, hi):
        if pnan[c]:
            return NAN, m, np.nan
        if pm[c] > m:
            m = pm[c]
    if m == cast(-np.inf, pm):
        return DEAD, m, 0.0
    if m == cast(np.inf, pm):
        k = 0.0
        for c in range(lo, hi):
            if pm[c] == cast(np.inf, pm):
                k += pcnt[c]
        return POSINF, m, k
    cnt = 0.0
    rest = 0.0
    for c in range(lo, hi):
        if pm[c] == m:
            cnt += pcnt[c]
            rest += prest[c]
        elif pm[c] > cast(-np.inf, pm):
            rest += math.exp(np.float64(pm[c]) - np.float64(m)) * (pcnt[c] + prest[c])
    return NORMAL, m, (cnt - 1.0) + rest


@njit(cache=True)
def row_stats(z):
    """``(state, max, value)`` of one whole row."""
    m, rest, cnt, nan = seg_stats(z, 0, z.shape[0])
    if nan:
        return NAN, m, np.nan
    if m == cast(-np.inf, z):
        return DEAD, m, 0.0
    if m == cast(np.inf, z):
        return POSINF, m, cnt
    return NORMAL, m, (cnt - 1.0) + rest


@njit(fastmath=_FAST, cache=True)
def write_exp(z, y, m, factor):
    """``y = exp(z - m) * factor``."""
    for j in range(z.shape[0]):
        y[j] = exp(z[j] - m) * factor


@njit(cache=True)
def write_log(z, y, m, lse):
    """``y = (z - m) - lse``, strictly in this order (compiled without fastmath)."""
    for j in range(z.shape[0]):
        y[j] = (z[j] - m) - lse


@njit(cache=True)
def write_special(z, y, state, at_inf, elsewhere):
    """NaN / all ``-inf`` rows: NaN everywhere; ``+inf`` rows: ``at_inf`` there, ``elsewhere`` elsewhere; ignored rows: 0."""
    for j in range(z.shape[0]):
        if state == POSINF:
            y[j] = at_inf if z[j] == cast(np.inf, z) else elsewhere
        elif state == ZERO:
            y[j] = cast(0.0, z)
        else:
            y[j] = cast(np.nan, z)


@njit(cache=True)
def row_params(state, value, log, factor, like):
    """Per-row constants of the output pass, ``(a, at_inf, elsewhere)``, in the float type of ``like``.

    The output is ``factor * softmax`` (or log-softmax when ``log``): ``a`` is the factor of
    :func:`write_exp` or the ``lse`` of :func:`write_log` for a normal row, ``at_inf`` and
    ``elsewhere`` the values :func:`write_special` writes.
    """
    if state == NORMAL:
        if log:
            return cast(math.log1p(value), like), cast(0.0, like), cast(0.0, like)
        return cast(factor / (1.0 + value), like), cast(0.0, like), cast(0.0, like)
    if state == POSINF:
        if log:
            return cast(0.0, like), cast(-math.log(value), like), cast(-np.inf, like)
        return cast(0.0, like), cast(factor / value, like), cast(0.0, like)
    return cast(0.0, like), cast(np.nan, like), cast(np.nan, like)


@njit(cache=True)
def seg_write(z, y, lo, hi, state, m, a, at_inf, elsewhere, log):
    """Write the output of ``z[lo:hi]`` into ``y[lo:hi]`` from the row's state and :func:`row_params`."""
    zs = z[lo:hi]
    ys = y[lo:hi]
    if state == NORMAL:
        if log:
            write_log(zs, ys, m, a)
        else:
            write_exp(zs, ys, m, a)
    else:
        write_special(zs, ys, state, at_inf, elsewhere)


@njit(cache=True)
def lse_value(state, m, value):
    """``logsumexp`` of a row from its statistics, in the float type of ``m``."""
    if state == NORMAL:
        return cast(np.float64(m) + math.log1p(value), m)
    if state == POSINF:
        return cast(np.inf, m)
    if state == DEAD:
        return cast(-np.inf, m)
    return cast(np.nan, m)


@njit(cache=True)
def pick_logp(z, label, state, m, value):
    """``log p[label]`` of one row from its statistics (strict arithmetic)."""
    if state == NORMAL:
        return (z[label] - m) - cast(math.log1p(value), z)
    if state == POSINF:
        return cast(-math.log(value), z) if z[label] == cast(np.inf, z) else cast(-np.inf, z)
    return cast(np.nan, z)


@njit(cache=True)
def label_grad(zl, state, m, value, factor):
    """``factor * (p[label] - 1)`` with ``p[label] - 1`` formed before scaling (exact when ``p >= 1/2``)."""
    if state == NORMAL:
        p = math.exp(np.float64(zl) - np.float64(m)) / (1.0 + value)
    elif state == POSINF:
        p = 1.0 / value if zl == cast(np.inf, zl) else 0.0
    else:
        p = np.nan
    return cast((p - 1.0) * factor, zl)
