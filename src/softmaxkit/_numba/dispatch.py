"""Python entry points of the fused kernels: input checks, launch plan, and the lazy numba import.

Each entry point returns ``None`` when it does not handle the input (small arrays, another dtype,
numba missing, a worker thread under numba's unsafe threading layer), and the caller falls back to
the NumPy reference implementation in :mod:`softmaxkit.kernels`. This module does not import numba
itself: the kernel modules are imported on the first call large enough to use them.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import types

import numpy as np

__all__ = [
    "softmax",
    "logsumexp",
    "cross_entropy_rows",
    "cross_entropy_grad_rows",
    "available",
    "nn_kernels",
    "conv_kernels",
]

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

#: Column mode (class axis not last): columns (entries after the class axis) of at least this many
#: bytes in all (a SIMD vector; with fewer, moving the axis last and the row modes are faster) ...
_MIN_COLUMN_BYTES = 64
#: ... in blocks of at most ``_MAX_BLOCK`` columns, a multiple of ``_LANES``, whose ``n`` classes take
#: about ``_BLOCK_BYTES`` (``_LSE_BLOCK_BYTES`` for logsumexp, which reads a block twice and writes
#: nothing: smaller blocks measured faster), so that a block's later passes hit the core's L2 cache,
#: but at least ``_MIN_BLOCK_BYTES`` per class (longer runs of consecutive addresses read faster,
#: even when a block of many classes then outgrows the cache) ...
_MAX_BLOCK = 1024
_LANES = 16
_BLOCK_BYTES = 1 << 20
_LSE_BLOCK_BYTES = 1 << 16
_MIN_BLOCK_BYTES = 256
#: ... and at least ``_MIN_TASK`` entries per parallel task.
_MIN_TASK = 1 << 15


def _import_numba():
    """numba, or None when it is missing or broken (then the NumPy paths run).

    ``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` (a value already set is kept): numba's OpenMP threads
    then sleep as soon as a kernel ends instead of spinning for a while, which takes the cores from
    OpenBLAS's threads in the matrix products that follow (a training step alternates the two; a
    spinning pool made the CNN step about 1.3 times slower on 2 cores). It must be set before numba's
    OpenMP runtime starts, i.e. before the first parallel kernel runs.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import numba
    except Exception:  # numba missing or broken
        return None
    return numba


@functools.cache
def _load():
    """numba and the kernel modules (each kernel compiles on its first call), or None without numba."""
    numba = _import_numba()
    if numba is None:
        return None
    from . import columns, narrow, rows, split

    return types.SimpleNamespace(numba=numba, columns=columns, narrow=narrow, rows=rows, split=split)


@functools.cache
def nn_kernels():
    """The module of :mod:`softmaxkit.nn`'s kernels (:mod:`softmaxkit._numba.nn`), or None without numba."""
    if _import_numba() is None:
        return None
    from . import nn

    return nn


@functools.cache
def conv_kernels():
    """The module of the convolution kernels (:mod:`softmaxkit._numba.conv`), or None without numba."""
    if _import_numba() is None:
        return None
    from . import conv

    return conv


def available() -> bool:
    """Whether numba can be imported (imports it)."""
    return _load() is not None


def _plan(rows: int, n: int, threads: int) -> int:
    """Number of chunks per row: 1 for per-row mode, more to split each row across threads."""
    if rows >= _ROWS_PER_THREAD * threads or n < 2 * _MIN_CHUNK:
        return 1
    want = -(-_ROWS_PER_THREAD * threads // rows)
    nch = max(want, -(-n // _MAX_CHUNK))
    return max(1, min(nch, n // _MIN_CHUNK))


def _thread_safe(numba) -> bool:
    """numba's fallback 'workqueue' threading layer aborts the process on concurrent launches."""
    if threading.current_thread() is threading.main_thread():
        return True
    try:
        return numba.threading_layer() != "workqueue"
    except ValueError:  # no parallel launch yet, layer unknown: stay on the NumPy path
        return False


def _kernels(z):
    """The kernel namespace when the fused kernels handle ``z`` (size, dtype, numba, thread), else None."""
    if z.size < MIN_SIZE or z.dtype not in (np.float32, np.float64) or z.ndim == 0:
        return None
    k = _load()
    if k is None or not _thread_safe(k.numba):
        return None
    return k


def _setup(z, axis):
    """Kernels, ``z`` with ``axis`` last, its C-contiguous ``(rows, n)`` view, and the launch plan."""
    k = _kernels(z)
    if k is None:
        return None
    return (k, *_row_layout(k, z, axis))


def _row_layout(k, z, axis):
    """``z`` with ``axis`` last, its C-contiguous ``(rows, n)`` view (a copy if need be), and the launch plan."""
    zl = z if axis == z.ndim - 1 else np.moveaxis(z, axis, -1)
    n = zl.shape[-1]
    z2 = (zl if zl.flags.c_contiguous else np.ascontiguousarray(zl)).reshape(-1, n)
    threads = k.numba.get_num_threads()
    serial = z.size < _SERIAL_SIZE and threads > 1
    nch = _plan(z2.shape[0], n, 1 if serial else threads)
    return zl, z2, (nch, -(-n // nch), serial)


def _c_order(z, axis):
    """``(array, axis, flipped)``: a Fortran-ordered ``z`` as its C-contiguous transpose (``flipped``), else ``z``."""
    if z.ndim > 1 and not z.flags.c_contiguous and z.flags.f_contiguous:
        return z.T, z.ndim - 1 - axis, True
    return z, axis, False


def _column_plan(z, axis, threads, block_bytes):
    """Column mode's ``(outer, n, inner)`` view of ``z`` and launch plan ``(bw, per, serial)``, or None.

    Column mode takes a C-contiguous ``z`` whose class axis is followed by at least
    ``_MIN_COLUMN_BYTES`` of entries (columns): ``bw`` columns per block, ``per`` blocks per task.
    Blocks are narrowed (down to one SIMD vector) until every thread has one; where even that
    leaves a thread idle (few long columns), the row modes split the classes instead (None).
    """
    if axis == z.ndim - 1 or not z.flags.c_contiguous:
        return None
    n = z.shape[axis]
    inner = math.prod(z.shape[axis + 1 :])
    if inner * z.itemsize < _MIN_COLUMN_BYTES:
        return None
    serial = z.size < _SERIAL_SIZE and threads > 1
    if serial:
        threads = 1
    fit = min(_MAX_BLOCK, block_bytes // (n * z.itemsize)) // _LANES * _LANES
    widest = max(_LANES, _MIN_BLOCK_BYTES // z.itemsize, fit)
    nblk = -(-inner // widest)
    bw = min(inner, -(-inner // (nblk * _LANES)) * _LANES)  # equal blocks, whole SIMD vectors
    outer = z.size // (n * inner)
    if outer * -(-inner // bw) < threads:  # narrower blocks, down to a vector, to give every thread one
        bw = min(bw, max(_LANES, -(-inner // (-(-threads // outer) * _LANES)) * _LANES))
    units = outer * -(-inner // bw)
    if units < threads:  # still too few blocks to share: the row modes split the classes instead
        return None
    per = max(1, min(-(-_MIN_TASK // (n * bw)), units // (_ROWS_PER_THREAD * threads)))
    return z.reshape(outer, n, inner), (bw, per, serial)


def _launch_columns(k, plan, z3, op, y3, lse2, log):
    """Run the column-mode driver, on the calling thread for small inputs."""
    bw, per, serial = plan
    run = k.columns.run_serial if serial else k.columns.run_parallel
    run(z3, op, y3, lse2, log, bw, per)


def _narrow_args(z2, op, *, vec=None, mat=None, labels=None, active=None, log=False, scale=1.0):
    """Arguments of the narrow-mode driver after ``z2``; the arrays ``op`` does not use are empty."""
    dtype = z2.dtype
    return (
        op,
        np.empty(0, dtype) if vec is None else vec,
        np.empty((0, 0), dtype) if mat is None else mat,
        np.empty(0, np.intp) if labels is None else labels,
        np.empty(0, np.bool_) if active is None else active,
        log,
        scale,
    )


def _launch(k, plan, z2, kernels, args, narrow_args):
    """Run the narrow, per-row or split kernel, on one thread for small inputs.

    ``kernels`` are the per-row and split kernels, called with ``args`` (the split kernel also with
    the chunking); narrow mode calls the driver with ``narrow_args`` (see :func:`_narrow_args`).
    """
    rows_kernel, split_kernel = kernels
    nch, clen, serial = plan
    narrow = nch == 1 and z2.shape[1] <= _NARROW
    if narrow and serial:
        k.narrow.run_serial(z2, *narrow_args, _NARROW_BLOCK, _NARROW_GROUP)
        return
    threads = k.numba.get_num_threads()
    if serial:
        k.numba.set_num_threads(1)  # thread-local, restored below
    try:
        if narrow:
            k.narrow.run_parallel(z2, *narrow_args, _NARROW_BLOCK, _NARROW_GROUP)
        elif nch == 1:
            rows_kernel(z2, *args)
        else:
            split_kernel(z2, *args, nch, clen)
    finally:
        if serial:
            k.numba.set_num_threads(threads)


def _may_write(out, z2, *, in_place: bool) -> bool:
    """Whether a kernel may write ``out`` while it reads ``z2``, both C-contiguous and of one shape.

    Always when they share no memory: for two C-contiguous arrays the bounds check of
    ``np.may_share_memory`` is exact, so the costly ``np.shares_memory`` is never needed. When ``out``
    is ``z2`` itself (the same start: an in-place call such as ``log_softmax(x, out=x)``), only if
    ``in_place`` says the kernel writes each entry after reading it and its row's statistics. Any
    other overlap: never, as a kernel would read entries it has already overwritten.
    """
    if not np.may_share_memory(out, z2):
        return True
    return in_place and out.__array_interface__["data"][0] == z2.__array_interface__["data"][0]


def softmax(z, axis, *, out=None, log=False):
    """Softmax (or log-softmax) of ``z`` along ``axis`` with the fused kernels.

    Parameters
    ----------
    z : ndarray of float32 or float64
        Logits (already divided by the temperature).
    axis : int
        Non-negative class axis.
    out : ndarray, optional
        Written directly when it is of ``z``'s dtype and layout (C-contiguous, or Fortran-ordered
        like ``z``), the kernel runs over ``z`` in place (class axis last, or column mode) and it
        shares no memory with ``z`` (for log-softmax: or is ``z`` itself); otherwise ignored (the
        caller copies the returned array into it).
    log : bool, default False
        Return log-softmax.

    Returns
    -------
    ndarray or None
        ``out`` itself when it was written, a new array otherwise, or ``None`` when this path does
        not handle the input.

    Examples
    --------
    >>> import numpy as np
    >>> y = softmax(np.zeros((512, 128)), 1)
    >>> bool(np.all(y == 1 / 128))
    True
    >>> softmax(np.zeros((2, 3)), 1) is None  # small: the NumPy path's business
    True
    """
    k = _kernels(z)
    if k is None:
        return None
    zc, axis, flipped = _c_order(z, axis)
    outc = out.T if flipped and out is not None else out
    y = _softmax(k, zc, axis, outc, log)
    if y is outc:
        return out
    return y.T if flipped else y


def _direct(out, z, shape, *, in_place):
    """Whether ``out`` (of ``shape``) may be written directly by a kernel reading the C-contiguous ``z``."""
    return (
        out is not None
        and out.dtype == z.dtype
        and out.shape == shape
        and out.flags.c_contiguous
        and out.flags.writeable
        and _may_write(out, z, in_place=in_place)
    )


def _softmax(k, z, axis, out, log):
    """:func:`softmax` of a ``z`` that is C-contiguous whenever it is contiguous."""
    # In place: log-softmax writes each entry after reading it and its row's (column's) statistics,
    # at full speed. Softmax stores exp(z - max) while summing it, a loop LLVM runs scalar when out is
    # z (2-4x slower): a temporary and a copy cost less, and give the same bits.
    columns = _column_plan(z, axis, k.numba.get_num_threads(), _BLOCK_BYTES)
    if columns is not None:
        z3, plan = columns
        direct = _direct(out, z, z.shape, in_place=log)
        y = out if direct else np.empty(z.shape, z.dtype)
        _launch_columns(k, plan, z3, k.columns.SOFTMAX, y.reshape(z3.shape), np.empty((0, 0), z.dtype), log)
        return y
    zl, z2, plan = _row_layout(k, z, axis)
    direct = axis == z.ndim - 1 and _direct(out, z2, z.shape, in_place=log)
    y2 = out.reshape(z2.shape) if direct else np.empty(z2.shape, z.dtype)
    narrow_args = _narrow_args(z2, k.narrow.SOFTMAX, mat=y2, log=log)
    _launch(k, plan, z2, (k.rows.softmax, k.split.softmax), (y2, log), narrow_args)
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
        The reduced array (with or without the kept axis); written directly when it is of ``z``'s
        dtype, C-contiguous (Fortran-ordered when ``z`` is) and shares no memory with ``z``,
        otherwise ignored (one value per row: a temporary costs little, so even ``out`` being ``z``,
        possible with one class, takes one).

    Returns
    -------
    ndarray or None
        ``out`` itself when it was written, otherwise an array holding the values of the remaining
        axes in their order (flat in C order, or of the remaining axes' shape; the caller
        reshapes); ``None`` when this path does not handle the input.
    """
    k = _kernels(z)
    if k is None:
        return None
    zc, axis, flipped = _c_order(z, axis)
    outc = out.T if flipped and out is not None else out
    flat = _logsumexp(k, zc, axis, outc)
    if flat is outc:
        return out
    return flat.reshape(zc.shape[:axis] + zc.shape[axis + 1 :]).T if flipped else flat


def _logsumexp(k, z, axis, out):
    """:func:`logsumexp` of a ``z`` that is C-contiguous whenever it is contiguous."""
    columns = _column_plan(z, axis, k.numba.get_num_threads(), _LSE_BLOCK_BYTES)
    if columns is None:
        _, src, plan = _row_layout(k, z, axis)
    else:
        src, plan = columns
    rows = z.size // z.shape[axis]
    direct = out is not None and out.size == rows and _direct(out, src, out.shape, in_place=False)
    flat = out.reshape(-1) if direct else np.empty(rows, z.dtype)
    if columns is None:
        narrow_args = _narrow_args(src, k.narrow.LOGSUMEXP, vec=flat)
        _launch(k, plan, src, (k.rows.logsumexp, k.split.logsumexp), (flat,), narrow_args)
    else:
        lse2 = flat.reshape(src.shape[0], src.shape[2])
        _launch_columns(k, plan, src, k.columns.LOGSUMEXP, np.empty((0, 0, 0), z.dtype), lse2, False)
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
    (k, _, z2, plan), lab, act = got
    loss = np.empty(z2.shape[0], z.dtype)
    narrow_args = _narrow_args(z2, k.narrow.CROSS_ENTROPY, vec=loss, labels=lab, active=act)
    _launch(k, plan, z2, (k.rows.cross_entropy, k.split.cross_entropy), (lab, act, loss), narrow_args)
    return loss.reshape(z.shape[:-1])


def cross_entropy_grad_rows(z, labels, active, *, scale=1.0):
    """Per-row loss (as :func:`cross_entropy_rows`) and ``scale * (softmax(z) - onehot(label))``.

    Rows that are not ``active`` get a zero gradient (and loss). ``scale`` (``1 / n`` for a mean)
    is applied in the same pass, so the gradient is never rescaled in a second pass over memory.

    Parameters
    ----------
    z, labels, active
        As for :func:`cross_entropy_rows`.
    scale : float, default 1.0

    Returns
    -------
    (ndarray, ndarray) or None
        Loss of shape ``z.shape[:-1]`` and gradient of ``z``'s shape (class axis last).
    """
    got = _ce_setup(z, labels, active)
    if got is None:
        return None
    (k, _, z2, plan), lab, act = got
    loss = np.empty(z2.shape[0], z.dtype)
    grad = np.empty(z2.shape, z.dtype)
    scale = float(scale)
    narrow_args = _narrow_args(z2, k.narrow.CROSS_ENTROPY_GRAD, vec=loss, mat=grad, labels=lab, active=act, scale=scale)
    kernels = (k.rows.cross_entropy_grad, k.split.cross_entropy_grad)
    _launch(k, plan, z2, kernels, (lab, act, scale, loss, grad), narrow_args)
    return loss.reshape(z.shape[:-1]), grad.reshape(z.shape)
