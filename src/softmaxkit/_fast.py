"""Fused multi-core numba kernels behind the public softmax-family signatures.

Each entry point returns ``None`` when it does not handle the input (small arrays, numba missing),
and the caller falls back to the NumPy reference implementation in :mod:`softmaxkit.kernels`.

Design
------
- numba is imported lazily, on the first call large enough to be worth compiling, so
  ``import softmaxkit`` stays fast. The kernels below are written as plain module-level functions
  and compiled by :func:`_kernels` once per dtype with ``numba.njit(cache=True)`` (compiled code is
  cached on disk next to this file).
- The class axis is moved last and the data viewed as C-contiguous ``(rows, n)``.
- Per-row mode (many rows): ``prange`` over rows; each row is read from memory once and its
  second and third passes hit the cache (softmax: max; exp, store and sum; scale).
- Narrow mode (rows of at most ``_NARROW`` classes, e.g. a classifier head, where per-row loops are
  too short to vectorise): blocks of ``_NARROW_BLOCK`` rows are read row by row (row max on the
  way) into a small transposed buffer, so the exponential-and-sum pass runs across rows, one row
  per SIMD lane. ``prange`` over tasks of ``_NARROW_GROUP`` blocks. Rows without a finite maximum
  or holding a NaN fall back to the per-row code. Serial launches call twins compiled without
  ``parallel`` (no threading-layer launch, no thread-count switch).
- Inputs under ``_SERIAL_SIZE`` elements run on one thread (``numba.set_num_threads`` is
  thread-local and restored), so a small call never waits for a busy core.
- Split mode (few long rows): ``prange`` over (row, chunk) tasks computes per-chunk partials
  (max, sum of exponentials relative to the chunk max, count of maximal entries, NaN flag), a
  serial step combines them per row, and a second ``prange`` writes the output.
- ``exp`` is a branch-free polynomial (range reduction ``x = k ln 2 + r``, near-minimax polynomial
  in ``r``, ``2**k`` built from exponent bits) that vectorises; float32 data uses a float32 version
  (16 SIMD lanes). Sums run in the data's dtype over blocks of 256 entries, then in float64.
- fastmath is on without ``nnan``/``ninf``: NaN rows are detected explicitly (their sum is NaN),
  and the log-softmax output ``(x - m) - log1p(rest)`` is computed in a strict function.

Note for developers: numba's on-disk cache is keyed on this file's modification time, taken when a
process first compiles; a process that imported an older version of this file and compiles after an
edit can store stale code under the new time stamp. After editing, delete
``__pycache__/_fast.*.nbi`` and ``.nbc`` if other processes were running.

Semantics are those of the NumPy path: ``+inf`` entries share the mass equally, ``-inf`` entries
get 0, a NaN makes its own row NaN, a row of only ``-inf`` gives NaN (logsumexp ``-inf``).
"""

from __future__ import annotations

import functools
import math
import threading
import types

import numpy as np

__all__ = ["softmax", "logsumexp", "cross_entropy_rows", "cross_entropy_grad_rows", "available"]

#: Arrays with fewer elements than this take the NumPy path (no numba import, no compilation).
MIN_SIZE = 32768
#: Arrays with fewer elements than this run on one thread (a parallel launch costs more than it saves,
#: and much more when the cores are busy).
_SERIAL_SIZE = 1 << 18
#: Split rows across threads when there are fewer rows than this many times the thread count.
_ROWS_PER_THREAD = 4
#: Chunk lengths in split mode: at least this long (amortise the per-task overhead) ...
_MIN_CHUNK = 8192
#: ... and at most this long, so a chunk's second pass still hits the core's L2 cache.
_MAX_CHUNK = 65536

#: Rows of at most this many classes run in narrow mode (loops across blocks of rows).
_NARROW = 32
#: Narrow mode: rows per transposed block, and blocks per parallel task.
_NARROW_BLOCK = 128
_NARROW_GROUP = 16

# Row states after the statistics pass (_ZERO: an ignored row of the cross-entropy gradient).
_NORMAL, _NAN, _POSINF, _DEAD, _ZERO = 0, 1, 2, 3, 4

# fastmath without nnan/ninf (NaN and inf keep their IEEE meaning) ...
_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}
# ... and without reassoc where rounding tricks must survive (exp's round-to-integer shifter).
_FM_EXP = {"nsz", "arcp", "contract", "afn"}


# --------------------------------------------------------------------------------------------
# Kernel sources. Plain Python here; `_kernels` compiles them with per-dtype globals:
# T (np.float32 or np.float64), _exp, the bit-cast intrinsics and the polynomial constants.
# --------------------------------------------------------------------------------------------


def _exp64(x):
    """``exp(x)`` for float64 ``x <= 600`` (softmax only needs ``x <= 0``) to about 1 ulp.

    Range reduction ``x = k ln 2 + r`` with ``|r| <= ln(2) / 2``; ``exp(r)`` by a degree-11
    near-minimax polynomial (Chebyshev-node fit on [-0.3466, 0.3466], 0.07 ulp model error) whose
    coefficients carry a factor ``2**-54``, so that ``2**(k + 54)`` is a normal number down to
    ``k = -1076``: a single product then rounds subnormal results correctly. Inputs below -745.5
    (``-inf`` included) give 0, NaN gives NaN.
    """
    if x < -745.5:
        x = -745.5
    t = x * 1.4426950408889634 + 6755399441055744.0  # 1.5 * 2**52: rounds x / ln2 to an integer
    kf = t - 6755399441055744.0  # exact (no reassoc in this function)
    r = x - kf * 0.6931471803691238  # ln 2, high part (exact product)
    r = r - kf * 1.9082149292705877e-10  # ln 2, low part
    p = 1.3938875856021874e-24
    p = p * r + 1.533920275957562e-23
    p = p * r + 1.529734166821399e-22
    p = p * r + 1.3767590096449597e-21
    p = p * r + 1.1014117334878466e-20
    p = p * r + 7.709882150677026e-20
    p = p * r + 4.625929269263858e-19
    p = p * r + 2.312964634625824e-18
    p = p * r + 9.251858538542978e-18
    p = p * r + 2.775557561562902e-17
    p = p * r + 5.551115123125783e-17
    p = p * r + 5.551115123125783e-17
    # bits(t) - bits(shift) = k; adding 1023 + 54 and shifting gives the bits of 2**(k + 54).
    return p * _f64_from_bits((_f64_bits(t) - (0x4338000000000000 - 1077)) << 52)


def _exp32(x):
    """``exp(x)`` for float32 ``x <= 60`` to about 1 ulp, as :func:`_exp64` (degree 6, factor ``2**-25``).

    Inputs below -104.5 (``-inf`` included) give 0, NaN gives NaN.
    """
    if x < _LO32:
        x = _LO32
    t = x * _LOG2E32 + _SHIFT32  # 1.5 * 2**23
    kf = t - _SHIFT32
    r = x - kf * _LN2HI32
    r = r - kf * _LN2LO32
    p = _C6  # degree-6 near-minimax fit, 0.18 ulp model error
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + _C1
    p = p * r + _C0
    return p * _f32_from_bits((_f32_bits(t) - (0x4B400000 - 152)) << 23)


def _seg_max(z):
    """Maximum of ``z`` (``-inf`` if empty); may be NaN, or ignore a NaN, when ``z`` holds one.

    The floats are compared as integers (``bits ^ ((bits >> 63) & 0x7fff...)`` orders them like the
    floats), so the reduction vectorises without ``nnan``. Rows holding NaN are caught afterwards
    (their sum of exponentials is NaN, or the slow scan finds it), so which NaN handling applies
    here does not matter.
    """
    m = _KEY_MIN
    for j in range(z.shape[0]):
        b = _bits(z[j])
        key = b ^ ((b >> _SIGN_SHIFT) & _MAG_MASK)
        m = key if key > m else m
    return _from_bits(m ^ ((m >> _SIGN_SHIFT) & _MAG_MASK))


def _seg_sum(z, m):
    """``(rest, cnt)``: sum of ``exp(z - m)`` over entries below ``m`` and the count of entries equal to ``m``.

    Blocks of ``_BLOCK`` entries are summed in the data's dtype (SIMD-wide), the block sums in float64.
    """
    rest = 0.0
    cnt = 0.0
    for b in range(0, z.shape[0], _BLOCK):
        zb = z[b : b + _BLOCK]
        rb = T(0.0)
        cb = T(0.0)
        for j in range(zb.shape[0]):
            d = zb[j] - m
            e = _exp(d)
            rb += e if d != T(0.0) else T(0.0)
            cb += T(1.0) if d == T(0.0) else T(0.0)
        rest += rb
        cnt += cb
    return rest, cnt


def _seg_sum_store(z, y, m):
    """As :func:`_seg_sum`, also storing ``y = exp(z - m)``."""
    rest = 0.0
    cnt = 0.0
    for b in range(0, z.shape[0], _BLOCK):
        zb = z[b : b + _BLOCK]
        yb = y[b : b + _BLOCK]
        rb = T(0.0)
        cb = T(0.0)
        for j in range(zb.shape[0]):
            d = zb[j] - m
            e = _exp(d)
            yb[j] = e
            rb += e if d != T(0.0) else T(0.0)
            cb += T(1.0) if d == T(0.0) else T(0.0)
        rest += rb
        cnt += cb
    return rest, cnt


def _scale(y, a):
    """``y *= a``."""
    for j in range(y.shape[0]):
        y[j] *= a


def _softmax_row_stored(z, y, scale):
    """Softmax of a row with a finite maximum and no NaN, each exponential computed once.

    ``y = scale * softmax(z)``. Returns ``(done, max, rest)`` as :func:`_row_stats` does for a
    normal row; ``done`` is False (and ``y`` holds garbage) for the other rows.
    """
    m = _seg_max(z)
    if not (m > T(-np.inf) and m < T(np.inf)):
        return False, m, 0.0
    rest, cnt = _seg_sum_store(z, y, m)
    if rest != rest:
        return False, m, 0.0
    value = (cnt - 1.0) + rest
    _scale(y, T(scale / (1.0 + value)))
    return True, m, value


def _seg_scan(z):
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


def _seg_stats(z, lo, hi):
    """Partials of ``z[lo:hi]``: ``(max, rest, cnt, has_nan)``; ``cnt`` counts ``+inf`` when max is ``+inf``."""
    zs = z[lo:hi]
    m = _seg_max(zs)
    if m > T(-np.inf) and m < T(np.inf):
        rest, cnt = _seg_sum(zs, m)
        return m, rest, cnt, rest != rest
    nan, k = _seg_scan(zs)
    if nan:
        return m, np.nan, 0.0, True
    return m, 0.0, k, False


def _combine(pm, prest, pcnt, pnan, lo, hi):
    """Combine the partials ``lo:hi`` of one row: ``(state, max, value)``.

    ``value`` is ``rest`` (sum of ``exp(z - max)`` excluding one maximal entry) for a normal row and
    the number of ``+inf`` entries for a ``+inf`` row.
    """
    m = T(-np.inf)
    for c in range(lo, hi):
        if pnan[c]:
            return _NAN, m, np.nan
        if pm[c] > m:
            m = pm[c]
    if m == T(-np.inf):
        return _DEAD, m, 0.0
    if m == T(np.inf):
        k = 0.0
        for c in range(lo, hi):
            if pm[c] == T(np.inf):
                k += pcnt[c]
        return _POSINF, m, k
    cnt = 0.0
    rest = 0.0
    for c in range(lo, hi):
        if pm[c] == m:
            cnt += pcnt[c]
            rest += prest[c]
        elif pm[c] > T(-np.inf):
            rest += math.exp(np.float64(pm[c]) - np.float64(m)) * (pcnt[c] + prest[c])
    return _NORMAL, m, (cnt - 1.0) + rest


def _row_stats(z):
    """``(state, max, value)`` of one whole row (see :func:`_combine`)."""
    m, rest, cnt, nan = _seg_stats(z, 0, z.shape[0])
    if nan:
        return _NAN, m, np.nan
    if m == T(-np.inf):
        return _DEAD, m, 0.0
    if m == T(np.inf):
        return _POSINF, m, cnt
    return _NORMAL, m, (cnt - 1.0) + rest


def _write_exp(z, y, m, scale):
    """``y = exp(z - m) * scale``."""
    for j in range(z.shape[0]):
        y[j] = _exp(z[j] - m) * scale


def _write_log(z, y, m, lse):
    """``y = (z - m) - lse``, strictly in this order (compiled without fastmath)."""
    for j in range(z.shape[0]):
        y[j] = (z[j] - m) - lse


def _write_special(z, y, state, at_inf, elsewhere):
    """NaN / all ``-inf`` rows: NaN everywhere; ``+inf`` rows: ``at_inf`` there, ``elsewhere`` elsewhere."""
    for j in range(z.shape[0]):
        if state == _POSINF:
            y[j] = at_inf if z[j] == T(np.inf) else elsewhere
        elif state == _ZERO:
            y[j] = T(0.0)
        else:
            y[j] = T(np.nan)


def _row_params(state, value, log, scale):
    """Per-row constants of the output pass: ``(a, at_inf, elsewhere)`` (softmax times ``scale``)."""
    if state == _NORMAL:
        if log:
            return T(math.log1p(value)), T(0.0), T(0.0)
        return T(scale / (1.0 + value)), T(0.0), T(0.0)
    if state == _POSINF:
        if log:
            return T(0.0), T(-math.log(value)), T(-np.inf)
        return T(0.0), T(scale / value), T(0.0)
    return T(0.0), T(np.nan), T(np.nan)


def _seg_write(z, y, lo, hi, state, m, a, at_inf, elsewhere, log):
    zs = z[lo:hi]
    ys = y[lo:hi]
    if state == _NORMAL:
        if log:
            _write_log(zs, ys, m, a)
        else:
            _write_exp(zs, ys, m, a)
    else:
        _write_special(zs, ys, state, at_inf, elsewhere)


def _lse_value(state, m, value):
    if state == _NORMAL:
        return T(np.float64(m) + math.log1p(value))
    if state == _POSINF:
        return T(np.inf)
    if state == _DEAD:
        return T(-np.inf)
    return T(np.nan)


def _pick_logp(z, label, state, m, value):
    """``log p[label]`` of one row from its statistics (strict arithmetic)."""
    if state == _NORMAL:
        return (z[label] - m) - T(math.log1p(value))
    if state == _POSINF:
        return T(-math.log(value)) if z[label] == T(np.inf) else T(-np.inf)
    return T(np.nan)


def _label_grad(zl, state, m, value, scale):
    """``scale * (p[label] - 1)`` with ``p[label] - 1`` formed before scaling (exact when ``p >= 1/2``)."""
    if state == _NORMAL:
        p = math.exp(np.float64(zl) - np.float64(m)) / (1.0 + value)
    elif state == _POSINF:
        p = 1.0 / value if zl == T(np.inf) else 0.0
    else:
        p = np.nan
    return T((p - 1.0) * scale)


def _rows_softmax(z, y, log):
    """Per-row mode softmax / log_softmax of C-contiguous ``(rows, n)`` ``z`` into ``y``."""
    n = z.shape[1]
    for r in prange(z.shape[0]):
        if not log and _softmax_row_stored(z[r], y[r], 1.0)[0]:
            continue
        state, m, value = _row_stats(z[r])
        a, at_inf, elsewhere = _row_params(state, value, log, 1.0)
        _seg_write(z[r], y[r], 0, n, state, m, a, at_inf, elsewhere, log)


def _rows_lse(z, out):
    for r in prange(z.shape[0]):
        state, m, value = _row_stats(z[r])
        out[r] = _lse_value(state, m, value)


def _rows_ce(z, labels, active, loss):
    for r in prange(z.shape[0]):
        if active[r]:
            state, m, value = _row_stats(z[r])
            loss[r] = T(0.0) - _pick_logp(z[r], labels[r], state, m, value)
        else:
            loss[r] = T(0.0)


def _rows_ce_grad(z, labels, active, scale, loss, grad):
    n = z.shape[1]
    for r in prange(z.shape[0]):
        if not active[r]:
            loss[r] = T(0.0)
            grad[r, :] = T(0.0)
            continue
        done, m, value = _softmax_row_stored(z[r], grad[r], scale)
        state = _NORMAL
        if not done:
            state, m, value = _row_stats(z[r])
            a, at_inf, elsewhere = _row_params(state, value, False, scale)
            _seg_write(z[r], grad[r], 0, n, state, m, a, at_inf, elsewhere, False)
        loss[r] = T(0.0) - _pick_logp(z[r], labels[r], state, m, value)
        grad[r, labels[r]] = _label_grad(z[r, labels[r]], state, m, value, scale)


def _split_stats(z, nch, clen):
    """Split mode, first parallel pass: partials of every (row, chunk) task, then per-row combine."""
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
        pm[t], prest[t], pcnt[t], pnan[t] = _seg_stats(z[r], lo, hi)
    states = np.empty(rows, np.int64)
    ms = np.empty(rows, z.dtype)
    values = np.empty(rows, np.float64)
    for r in range(rows):
        states[r], ms[r], values[r] = _combine(pm, prest, pcnt, pnan, r * nch, (r + 1) * nch)
    return states, ms, values


def _split_write(z, y, nch, clen, states, ms, values, log, scale):
    """Split mode, second parallel pass: write every (row, chunk) task."""
    rows, n = z.shape
    for t in prange(rows * nch):
        r = t // nch
        lo = (t % nch) * clen
        hi = min(lo + clen, n)
        a, at_inf, elsewhere = _row_params(states[r], values[r], log, scale)
        _seg_write(z[r], y[r], lo, hi, states[r], ms[r], a, at_inf, elsewhere, log)


def _split_softmax(z, y, log, nch, clen):
    states, ms, values = _split_stats(z, nch, clen)
    _split_write(z, y, nch, clen, states, ms, values, log, 1.0)


def _split_lse(z, out, nch, clen):
    states, ms, values = _split_stats(z, nch, clen)
    for r in range(z.shape[0]):
        out[r] = _lse_value(states[r], ms[r], values[r])


def _split_ce(z, labels, active, loss, nch, clen):
    states, ms, values = _split_stats(z, nch, clen)
    for r in range(z.shape[0]):
        loss[r] = T(0.0) - _pick_logp(z[r], labels[r], states[r], ms[r], values[r]) if active[r] else T(0.0)


def _split_ce_grad(z, labels, active, scale, loss, grad, nch, clen):
    states, ms, values = _split_stats(z, nch, clen)
    for r in range(z.shape[0]):
        if active[r]:
            loss[r] = T(0.0) - _pick_logp(z[r], labels[r], states[r], ms[r], values[r])
        else:
            loss[r] = T(0.0)
            states[r] = _ZERO
    _split_write(z, grad, nch, clen, states, ms, values, False, scale)
    for r in range(z.shape[0]):
        if active[r]:
            grad[r, labels[r]] = _label_grad(z[r, labels[r]], states[r], ms[r], values[r], scale)


# --------------------------------------------------------------------------------------------
# Narrow mode (few classes, e.g. a classifier head): blocks of rows are transposed into a small
# buffer, so that every loop runs across rows (SIMD lanes = rows) instead of along a short row.
# Rows without a finite maximum or with a NaN fall back to the per-row code above.
# --------------------------------------------------------------------------------------------


def _narrow_stats(z, r0, b, tb, m, rest, cnt, store):
    """Rows ``r0:r0+b`` of ``z``: ``m`` = row max, ``rest``/``cnt`` as :func:`_seg_sum` (in ``T``).

    ``tb[j, i]`` receives ``z[r0 + i, j]``, replaced by ``exp(z - m)`` when ``store``.
    """
    n = z.shape[1]
    for i in range(b):  # row by row: contiguous reads (a strided gather across rows is slower)
        mi = T(-np.inf)
        for j in range(n):
            v = z[r0 + i, j]
            tb[j, i] = v
            mi = v if v > mi else mi
        m[i] = mi
        rest[i] = T(0.0)
        cnt[i] = T(0.0)
    for j in range(n):
        for i in range(b):
            d = tb[j, i] - m[i]
            e = _exp(d)
            if store:
                tb[j, i] = e
            rest[i] += e if d != T(0.0) else T(0.0)
            cnt[i] += T(1.0) if d == T(0.0) else T(0.0)


def _narrow_ok(mi, ri):
    return mi > T(-np.inf) and mi < T(np.inf) and ri == ri


def _narrow_value(ri, ci):
    return (np.float64(ci) - 1.0) + np.float64(ri)


def _narrow_softmax(z, y, log, nb, gb):
    rows, n = z.shape
    nblk = (rows + nb - 1) // nb
    ngrp = (nblk + gb - 1) // gb
    for g in prange(ngrp):
        tb = np.empty((n, nb), z.dtype)
        m = np.empty(nb, z.dtype)
        rest = np.empty(nb, z.dtype)
        cnt = np.empty(nb, z.dtype)
        a = np.empty(nb, z.dtype)
        for blk in range(g * gb, min((g + 1) * gb, nblk)):
            r0 = blk * nb
            b = min(nb, rows - r0)
            _narrow_stats(z, r0, b, tb, m, rest, cnt, not log)
            for i in range(b):
                if _narrow_ok(m[i], rest[i]):
                    value = _narrow_value(rest[i], cnt[i])
                    a[i] = T(math.log1p(value)) if log else T(1.0 / (1.0 + value))
                else:
                    r = r0 + i
                    state, mr, value = _row_stats(z[r])
                    pa, at_inf, elsewhere = _row_params(state, value, log, 1.0)
                    _seg_write(z[r], y[r], 0, n, state, mr, pa, at_inf, elsewhere, log)
            if log:
                _narrow_write_log(z, y, r0, b, m, rest, a)
            else:
                for i in range(b):
                    if _narrow_ok(m[i], rest[i]):
                        for j in range(n):
                            y[r0 + i, j] = tb[j, i] * a[i]


def _narrow_write_log(z, y, r0, b, m, rest, a):
    """``y = (z - m) - a`` for the normal rows, strictly (compiled without fastmath)."""
    n = z.shape[1]
    for i in range(b):
        if _narrow_ok(m[i], rest[i]):
            for j in range(n):
                y[r0 + i, j] = (z[r0 + i, j] - m[i]) - a[i]


def _narrow_lse(z, out, nb, gb):
    rows, n = z.shape
    nblk = (rows + nb - 1) // nb
    ngrp = (nblk + gb - 1) // gb
    for g in prange(ngrp):
        tb = np.empty((n, nb), z.dtype)
        m = np.empty(nb, z.dtype)
        rest = np.empty(nb, z.dtype)
        cnt = np.empty(nb, z.dtype)
        for blk in range(g * gb, min((g + 1) * gb, nblk)):
            r0 = blk * nb
            b = min(nb, rows - r0)
            _narrow_stats(z, r0, b, tb, m, rest, cnt, False)
            for i in range(b):
                if _narrow_ok(m[i], rest[i]):
                    out[r0 + i] = T(np.float64(m[i]) + math.log1p(_narrow_value(rest[i], cnt[i])))
                else:
                    state, mr, value = _row_stats(z[r0 + i])
                    out[r0 + i] = _lse_value(state, mr, value)


def _narrow_ce(z, labels, active, loss, nb, gb):
    rows, n = z.shape
    nblk = (rows + nb - 1) // nb
    ngrp = (nblk + gb - 1) // gb
    for g in prange(ngrp):
        tb = np.empty((n, nb), z.dtype)
        m = np.empty(nb, z.dtype)
        rest = np.empty(nb, z.dtype)
        cnt = np.empty(nb, z.dtype)
        for blk in range(g * gb, min((g + 1) * gb, nblk)):
            r0 = blk * nb
            b = min(nb, rows - r0)
            _narrow_stats(z, r0, b, tb, m, rest, cnt, False)
            for i in range(b):
                r = r0 + i
                if not active[r]:
                    loss[r] = T(0.0)
                elif _narrow_ok(m[i], rest[i]):
                    loss[r] = T(0.0) - _pick_logp(z[r], labels[r], _NORMAL, m[i], _narrow_value(rest[i], cnt[i]))
                else:
                    state, mr, value = _row_stats(z[r])
                    loss[r] = T(0.0) - _pick_logp(z[r], labels[r], state, mr, value)


def _narrow_ce_grad(z, labels, active, scale, loss, grad, nb, gb):
    rows, n = z.shape
    nblk = (rows + nb - 1) // nb
    ngrp = (nblk + gb - 1) // gb
    for g in prange(ngrp):
        tb = np.empty((n, nb), z.dtype)
        m = np.empty(nb, z.dtype)
        rest = np.empty(nb, z.dtype)
        cnt = np.empty(nb, z.dtype)
        for blk in range(g * gb, min((g + 1) * gb, nblk)):
            r0 = blk * nb
            b = min(nb, rows - r0)
            _narrow_stats(z, r0, b, tb, m, rest, cnt, True)
            for i in range(b):
                r = r0 + i
                if not active[r]:
                    loss[r] = T(0.0)
                    grad[r, :] = T(0.0)
                    continue
                if _narrow_ok(m[i], rest[i]):
                    state = _NORMAL
                    mr = m[i]
                    value = _narrow_value(rest[i], cnt[i])
                    s = T(scale / (1.0 + value))
                    for j in range(n):
                        grad[r, j] = tb[j, i] * s
                else:
                    state, mr, value = _row_stats(z[r])
                    pa, at_inf, elsewhere = _row_params(state, value, False, scale)
                    _seg_write(z[r], grad[r], 0, n, state, mr, pa, at_inf, elsewhere, False)
                loss[r] = T(0.0) - _pick_logp(z[r], labels[r], state, mr, value)
                grad[r, labels[r]] = _label_grad(z[r, labels[r]], state, mr, value, scale)


# (source function, njit options) in dependency order: callees before callers.
_SOURCES = (
    (_exp64, {"fastmath": set(_FM_EXP)}),
    (_exp32, {"fastmath": set(_FM_EXP)}),
    (_seg_max, {"fastmath": set(_FM)}),
    (_seg_sum, {"fastmath": set(_FM)}),
    (_seg_sum_store, {"fastmath": set(_FM)}),
    (_scale, {"fastmath": set(_FM)}),
    (_softmax_row_stored, {}),
    (_seg_scan, {}),
    (_seg_stats, {}),
    (_combine, {}),
    (_row_stats, {}),
    (_write_exp, {"fastmath": set(_FM)}),
    (_write_log, {}),
    (_write_special, {}),
    (_row_params, {}),
    (_seg_write, {}),
    (_lse_value, {}),
    (_pick_logp, {}),
    (_label_grad, {}),
    (_rows_softmax, {"parallel": True}),
    (_rows_lse, {"parallel": True}),
    (_rows_ce, {"parallel": True}),
    (_rows_ce_grad, {"parallel": True}),
    (_split_stats, {"parallel": True}),
    (_split_write, {"parallel": True}),
    (_split_softmax, {}),
    (_split_lse, {}),
    (_split_ce, {}),
    (_split_ce_grad, {}),
    (_narrow_stats, {"fastmath": set(_FM)}),
    (_narrow_ok, {}),
    (_narrow_value, {}),
    (_narrow_write_log, {}),
    (_narrow_softmax, {"parallel": True}),
    (_narrow_lse, {"parallel": True}),
    (_narrow_ce, {"parallel": True}),
    (_narrow_ce_grad, {"parallel": True}),
)


#: Kernels also compiled without ``parallel`` for the one-thread launches (small inputs).
_SERIAL_TWINS = ("_narrow_softmax", "_narrow_lse", "_narrow_ce", "_narrow_ce_grad")


def _bitcast_intrinsics():
    """Scalar bit-cast intrinsics (float <-> int of the same width) that LLVM vectorises."""
    from llvmlite import ir
    from numba.core import types as nt
    from numba.extending import intrinsic

    def make(src, dst, ir_dst, width):
        def typer(typingctx, x):
            if src is None:
                if not isinstance(x, nt.Integer):
                    return None
            elif x != src:
                return None

            def codegen(context, builder, signature, args):
                v = args[0]
                if src is None and x.bitwidth != width:
                    ext = builder.sext if x.bitwidth < width else builder.trunc
                    v = ext(v, ir.IntType(width))
                return builder.bitcast(v, ir_dst)

            return dst(x), codegen

        return intrinsic(typer)

    return {
        "_f64_bits": make(nt.float64, nt.int64, ir.IntType(64), 64),
        "_f64_from_bits": make(None, nt.float64, ir.DoubleType(), 64),
        "_f32_bits": make(nt.float32, nt.int32, ir.IntType(32), 32),
        "_f32_from_bits": make(None, nt.float32, ir.FloatType(), 32),
    }


def _float32_constants():
    f = np.float32
    consts = {
        "_LO32": f(-104.5),
        "_LOG2E32": f(1.4426950408889634),
        "_SHIFT32": f(12582912.0),
        "_LN2HI32": f(0.693359375),
        "_LN2LO32": f(-2.12194440e-4),
    }
    coefs = (1.0, 1.0, 0.5, 0.16666415333747864, 0.04166635125875473, 0.008375132456421852, 0.0013941116631031036)
    for k, c in enumerate(coefs):
        consts[f"_C{k}"] = f(c * 2.0**-25)
    return consts


@functools.cache
def _kernels(dtype_name: str):
    """Compile (or load from the on-disk cache) the kernels for one dtype; ``None`` without numba."""
    try:
        import numba
    except Exception:  # numba missing or broken: the NumPy path runs
        return None
    ns = {"__name__": __name__, "np": np, "math": math, "prange": numba.prange}
    ns.update({"_NORMAL": _NORMAL, "_NAN": _NAN, "_POSINF": _POSINF, "_DEAD": _DEAD, "_ZERO": _ZERO})
    ns.update(_bitcast_intrinsics())
    ns.update(_float32_constants())
    ns["_BLOCK"] = 256
    if dtype_name == "float32":
        ns.update(T=np.float32, _bits=ns["_f32_bits"], _from_bits=ns["_f32_from_bits"])
        ns.update(_KEY_MIN=np.int32(-(2**31)), _SIGN_SHIFT=np.int32(31), _MAG_MASK=np.int32(2**31 - 1))
    else:
        ns.update(T=np.float64, _bits=ns["_f64_bits"], _from_bits=ns["_f64_from_bits"])
        ns.update(_KEY_MIN=np.int64(-(2**63)), _SIGN_SHIFT=np.int64(63), _MAG_MASK=np.int64(2**63 - 1))
    compiled = {}
    for src, options in _SOURCES:
        fn = types.FunctionType(src.__code__, ns, src.__name__, src.__defaults__, src.__closure__)
        # A distinct name per dtype keeps the two dtypes' cache files apart.
        fn.__qualname__ = f"{src.__qualname__}_{dtype_name}"
        compiled[src.__name__] = ns[src.__name__] = numba.njit(cache=True, **options)(fn)
        if src.__name__ in _SERIAL_TWINS:
            # A one-thread twin (prange runs as range): no threading-layer launch, no thread-count switch.
            twin = types.FunctionType(src.__code__, ns, src.__name__, src.__defaults__, src.__closure__)
            twin.__qualname__ = f"{src.__qualname__}_serial_{dtype_name}"
            compiled[src.__name__ + "_serial"] = numba.njit(cache=True, **{**options, "parallel": False})(twin)
    ns["_exp"] = compiled["_exp32"] if dtype_name == "float32" else compiled["_exp64"]
    # `_exp` is resolved when the callers compile (lazily, on first call), after this assignment.
    return types.SimpleNamespace(
        get_num_threads=numba.get_num_threads,
        set_num_threads=numba.set_num_threads,
        threading_layer=numba.threading_layer,
        **compiled,
    )


def available() -> bool:
    """Whether numba can be imported (imports it)."""
    return _kernels("float64") is not None


def _plan(rows: int, n: int, threads: int) -> int:
    """Number of chunks per row: 1 for per-row mode, more to split each row across threads."""
    if rows >= _ROWS_PER_THREAD * threads or n < 2 * _MIN_CHUNK:
        return 1
    want = -(-_ROWS_PER_THREAD * threads // rows)
    nch = max(want, -(-n // _MAX_CHUNK))
    return max(1, min(nch, n // _MIN_CHUNK))


def _thread_safe(k) -> bool:
    """numba's fallback 'workqueue' threading layer aborts the process on concurrent launches."""
    if threading.current_thread() is threading.main_thread():
        return True
    try:
        return k.threading_layer() != "workqueue"
    except ValueError:  # no parallel launch yet, layer unknown: stay on the NumPy path
        return False


def _setup(z, axis):
    """Kernels, ``z`` with ``axis`` last, its C-contiguous ``(rows, n)`` view, and the launch plan."""
    if z.size < MIN_SIZE or z.dtype not in (np.float32, np.float64) or z.ndim == 0:
        return None
    k = _kernels(z.dtype.name)
    if k is None or not _thread_safe(k):
        return None
    zl = z if axis == z.ndim - 1 else np.moveaxis(z, axis, -1)
    n = zl.shape[-1]
    z2 = (zl if zl.flags.c_contiguous else np.ascontiguousarray(zl)).reshape(-1, n)
    threads = k.get_num_threads()
    serial = z.size < _SERIAL_SIZE and threads > 1
    nch = _plan(z2.shape[0], n, 1 if serial else threads)
    return k, zl, z2, (nch, -(-n // nch), serial)


def _launch(k, plan, kernels, z2, *args):
    """Run the narrow, per-row or split kernel of ``kernels``, on one thread for small inputs."""
    narrow_kernel, narrow_serial, rows_kernel, split_kernel = kernels
    nch, clen, serial = plan
    if nch == 1 and z2.shape[1] <= _NARROW and serial:
        narrow_serial(z2, *args, _NARROW_BLOCK, _NARROW_GROUP)
        return
    threads = k.get_num_threads()
    if serial:
        k.set_num_threads(1)  # thread-local, restored below
    try:
        if nch == 1 and z2.shape[1] <= _NARROW:
            narrow_kernel(z2, *args, _NARROW_BLOCK, _NARROW_GROUP)
        elif nch == 1:
            rows_kernel(z2, *args)
        else:
            split_kernel(z2, *args, nch, clen)
    finally:
        if serial:
            k.set_num_threads(threads)


def softmax(z, axis, *, out=None, log=False):
    """Softmax (or log-softmax) of ``z`` along ``axis`` with the fused kernels.

    Parameters
    ----------
    z : ndarray of float32 or float64
        Logits (already divided by the temperature).
    axis : int
        Non-negative class axis.
    out : ndarray, optional
        Written directly when it is C-contiguous, of ``z``'s dtype and ``axis`` is last; otherwise
        ignored (the caller copies the returned array into it).
    log : bool, default False
        Return log-softmax.

    Returns
    -------
    ndarray or None
        ``out`` itself when it was written, a new array otherwise, or ``None`` when this path does
        not handle the input.
    """
    setup = _setup(z, axis)
    if setup is None:
        return None
    k, zl, z2, plan = setup
    direct = (
        out is not None
        and out.dtype == z.dtype
        and out.shape == z.shape
        and out.flags.c_contiguous
        and out.flags.writeable
        and axis == z.ndim - 1
    )
    y2 = out.reshape(z2.shape) if direct else np.empty(z2.shape, z.dtype)
    _launch(k, plan, (k._narrow_softmax, k._narrow_softmax_serial, k._rows_softmax, k._split_softmax), z2, y2, log)
    if direct:
        return out
    y = y2.reshape(zl.shape)
    return y if axis == z.ndim - 1 else np.moveaxis(y, -1, axis)


def logsumexp(z, axis, *, out=None):
    """``logsumexp`` of ``z`` along ``axis``: the reduced values, or ``None``.

    Parameters
    ----------
    z : ndarray of float32 or float64
    axis : int
        Non-negative axis to reduce.
    out : ndarray, optional
        The reduced array (with or without the kept axis); written directly when it is
        C-contiguous and of ``z``'s dtype, otherwise ignored.

    Returns
    -------
    ndarray or None
        ``out`` itself when it was written, otherwise a flat array in C order of the remaining
        axes (the caller reshapes); ``None`` when this path does not handle the input.
    """
    setup = _setup(z, axis)
    if setup is None:
        return None
    k, zl, z2, plan = setup
    direct = (
        out is not None
        and out.dtype == z.dtype
        and out.size == z2.shape[0]
        and out.flags.c_contiguous
        and out.flags.writeable
    )
    flat = out.reshape(-1) if direct else np.empty(z2.shape[0], z.dtype)
    _launch(k, plan, (k._narrow_lse, k._narrow_lse_serial, k._rows_lse, k._split_lse), z2, flat)
    return out if direct else flat


def _ce_setup(z, labels, active):
    setup = _setup(z, z.ndim - 1)
    if setup is None:
        return None
    lab = np.ascontiguousarray(labels, dtype=np.intp).reshape(-1)
    act = np.ascontiguousarray(active, dtype=np.bool_).reshape(-1)
    return setup, lab, act


def cross_entropy_rows(z, labels, active):
    """Per-row ``-log softmax(z)[label]`` (0 where not ``active``), class axis last.

    Parameters
    ----------
    z : ndarray of shape (..., n_classes), float32 or float64
    labels : ndarray of int, shape ``z.shape[:-1]``
        Valid class indices (inactive rows hold any valid index).
    active : ndarray of bool, shape ``z.shape[:-1]``

    Returns
    -------
    ndarray of shape ``z.shape[:-1]`` or None
    """
    got = _ce_setup(z, labels, active)
    if got is None:
        return None
    (k, zl, z2, plan), lab, act = got
    loss = np.empty(z2.shape[0], z.dtype)
    _launch(k, plan, (k._narrow_ce, k._narrow_ce_serial, k._rows_ce, k._split_ce), z2, lab, act, loss)
    return loss.reshape(z.shape[:-1])


def cross_entropy_grad_rows(z, labels, active, *, scale=1.0):
    """Per-row loss (as :func:`cross_entropy_rows`) and ``scale * (softmax(z) - onehot(label))``.

    Rows that are not ``active`` get a zero gradient (and loss). ``scale`` (``1 / n`` for a mean)
    is applied in the same pass, so the gradient is never rescaled in a second pass over memory.

    Returns
    -------
    (ndarray, ndarray) or None
        Loss of shape ``z.shape[:-1]`` and gradient of ``z``'s shape (class axis last).
    """
    got = _ce_setup(z, labels, active)
    if got is None:
        return None
    (k, zl, z2, plan), lab, act = got
    loss = np.empty(z2.shape[0], z.dtype)
    grad = np.empty(z2.shape, z.dtype)
    _launch(k, plan, (k._narrow_ce_grad, k._narrow_ce_grad_serial, k._rows_ce_grad, k._split_ce_grad), z2, lab, act, float(scale), loss, grad)
    return loss.reshape(z.shape[:-1]), grad.reshape(z.shape)
