r"""Dask arrays through the softmax family and cross-entropy: lazily, block by block, exactly.

:mod:`softmaxkit.kernels` and :mod:`softmaxkit.losses` send a call here when an argument is a Dask
array (:func:`softmaxkit._dask.is_dask`), before any other dispatch, and pass their own in-memory
function in as ``kernel``: this module imports neither, so it sits below both. Nothing here
computes. Every function returns a Dask array whose graph runs NumPy code on the blocks; a NumPy
argument beside a Dask one is wrapped with ``da.from_array``, chunked like the Dask one.

Two plans, chosen from the chunks of the class axis:

- **One chunk** (rows split, classes whole: the usual layout). Each block holds whole rows and
  ``map_blocks`` runs the in-memory function on it, so every row gets the in-memory function's bits
  whenever the block takes the same path as the whole array would. (The fused numba kernels take
  arrays of 32768 elements or more, and only in threads where numba's threading layer is safe; other
  calls take the NumPy path, which agrees with them to a few ulps. See :mod:`softmaxkit._numba.dispatch`.)
- **Several chunks.** A two-pass logsumexp: the row maximum ``m`` over every chunk first; then, per
  chunk, the sum of ``exp(x - m)`` over the entries below the maximum and the number of entries at
  it. ``rest = sum + (count - 1)`` is the sum of ``exp(x - m)`` without one maximal entry, the
  quantity the in-memory code forms, so ``log1p(rest)`` is as accurate there as here:

  .. math::

      \log\operatorname{softmax}(x)_j = (x_j - m) - \operatorname{log1p}(\mathrm{rest}),
      \qquad \operatorname{logsumexp}(x) = m + \operatorname{log1p}(\mathrm{rest}).

  The edge cases are the in-memory ones (``+inf`` entries share the mass, a row of only ``-inf`` is
  NaN, a fully masked row is 0, NaN stays in its row); values agree with memory up to the rounding
  of ``rest``, whose terms are summed in another order.

A temperature divides first, as in memory: ``x / T``, or, where that overflows a finite logit
anywhere in the array, ``(x - finite row max) / T`` everywhere. That choice is one lazy flag over
the whole array, needed only for ``T < 1`` (dividing by ``T >= 1`` cannot overflow).

Checks that need values (labels in range, finite targets and weights) run inside the blocks and
raise the in-memory error when the result is computed; the others need only metadata and raise at
the call.
"""

from __future__ import annotations

import functools

import numpy as np

from ._dask import import_dask, is_dask
from ._validation import (
    Integer,
    as_float_array,
    broadcasts_to,
    check_finite,
    check_labels,
    check_temperature,
    normalize_axis,
    to_numpy,
    validate,
)

__all__ = ["softmax", "logsumexp", "elementwise", "cross_entropy"]


# --------------------------------------------------------------------------------------------------
# arguments


def _host_or_dask(value, fname, argname):
    """A Dask array as it is; anything else as a NumPy array (converted, not checked)."""
    return value if is_dask(value) else to_numpy(value, fname, argname)


def _dtypes(dtype, fname, argname):
    """``(compute dtype, result dtype)`` of an array of ``dtype``, by the in-memory rules and errors.

    Examples
    --------
    >>> _dtypes(np.dtype(np.float16), "softmax", "x")
    (dtype('float32'), dtype('float16'))
    """
    work, result = as_float_array(np.empty(0, dtype), fname, argname)
    return work.dtype, result


def _no_out(out, fname):
    if out is not None:
        raise TypeError(
            f"{fname}: out= is not supported for Dask arrays (they are computed lazily); use the returned array"
        )


def _meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype)


def _mask(da, where, shape, fname):
    """``where`` as a Dask boolean array broadcast to ``shape`` (chunked as it comes)."""
    mask = _host_or_dask(where, fname, "where")
    if mask.dtype != np.bool_:
        raise TypeError(f"{fname}: where must be a boolean array, got dtype {mask.dtype}")
    if not broadcasts_to(mask.shape, shape):
        raise ValueError(f"{fname}: where of shape {tuple(mask.shape)} cannot be broadcast to x's shape {tuple(shape)}")
    if not is_dask(mask):
        mask = da.from_array(mask, chunks=-1)
    return da.broadcast_to(mask, shape)


def _align(da, x, mask):
    """``x`` as a Dask array (chunked like ``mask`` when only ``mask`` is one) and ``mask`` rechunked like it."""
    if not is_dask(x):
        x = da.from_array(x, chunks=mask.chunks)
    return x, None if mask is None else mask.rechunk(x.chunks)


# --------------------------------------------------------------------------------------------------
# the softmax family


def softmax(x, axis, *, temperature, where, out, fname, log, kernel):
    """:func:`softmaxkit.kernels.softmax` (``log``: ``log_softmax``) of a Dask array, lazily.

    ``kernel`` is the in-memory function, run on each block when the class axis is one chunk.

    Examples
    --------
    >>> import dask.array as da
    >>> from softmaxkit import softmax as in_memory
    >>> x = da.from_array(np.array([[1000.0, 1000.0, -np.inf]]), chunks=(1, 2))  # classes split
    >>> softmax(x, -1, temperature=1.0, where=None, out=None, fname="softmax", log=False, kernel=in_memory).compute()
    array([[0.5, 0.5, 0. ]])
    """
    da = import_dask(fname)
    x = _host_or_dask(x, fname, "x")
    work, result = _dtypes(x.dtype, fname, "x")
    ax = normalize_axis(axis, x.ndim, fname)
    t = check_temperature(temperature, fname)
    mask = None if where is None else _mask(da, where, x.shape, fname)
    _no_out(out, fname)
    x, mask = _align(da, x, mask)
    z = x.astype(work)
    if t != 1.0:
        z = _divide_by_temperature(da, z, t, ax)
    if len(z.chunks[ax]) == 1:
        args = (z,) if mask is None else (z, mask)
        rows = functools.partial(_rows, kernel=kernel, axis=ax)
        y = da.map_blocks(rows, *args, dtype=work, meta=_meta(z.ndim, work))
    else:
        d, m, rest = _split_parts(da, z, ax, mask)
        args = (d, rest, m) if mask is None else (d, rest, m, ~mask.any(axis=ax, keepdims=True))
        y = da.map_blocks(functools.partial(_split_softmax, log=log), *args, dtype=work, meta=_meta(z.ndim, work))
    return y.astype(result)


def logsumexp(x, axis, *, keepdims, where, out, fname, kernel):
    """:func:`softmaxkit.kernels.logsumexp` of a Dask array, lazily (``kernel``: the in-memory one)."""
    da = import_dask(fname)
    x = _host_or_dask(x, fname, "x")
    work, result = _dtypes(x.dtype, fname, "x")
    ax = normalize_axis(axis, x.ndim, fname)
    mask = None if where is None else _mask(da, where, x.shape, fname)
    _no_out(out, fname)
    x, mask = _align(da, x, mask)
    z = x.astype(work)
    if len(z.chunks[ax]) == 1:
        args = (z,) if mask is None else (z, mask)
        rows = functools.partial(_rows, kernel=kernel, axis=ax, keepdims=True)
        chunks = (*z.chunks[:ax], (1,) * z.numblocks[ax], *z.chunks[ax + 1 :])
        lse = da.map_blocks(rows, *args, chunks=chunks, dtype=work, meta=_meta(z.ndim, work))
    else:
        _, m, rest = _split_parts(da, z, ax, mask)
        lse = da.map_blocks(_split_logsumexp, m, rest, dtype=work, meta=_meta(z.ndim, work))
    if not keepdims:
        lse = lse.squeeze(axis=ax)
    return lse.astype(result)


def elementwise(x, *, out, fname, kernel):
    """An elementwise kernel (:func:`softmaxkit.kernels.sigmoid`, ``log_sigmoid``) on each block."""
    da = import_dask(fname)
    x = _host_or_dask(x, fname, "x")
    _, result = _dtypes(x.dtype, fname, "x")
    _no_out(out, fname)
    return da.map_blocks(kernel, x, dtype=result, meta=_meta(x.ndim, result))


def _rows(z, mask=None, *, kernel, axis, **options):
    """The in-memory ``kernel`` on one block of whole rows."""
    return kernel(z, axis=axis, where=mask, **options)


def _divide_by_temperature(da, z, t, axis):
    """``z / t``, or ``(z - finite row max) / t`` when the division overflows a finite entry anywhere."""
    scaled = z.map_blocks(_divided, t, dtype=z.dtype)
    if t >= 1.0 or z.size == 0:  # |z| / t <= |z|: nothing finite overflows
        return scaled
    overflow = da.map_blocks(_overflowed, z, scaled, dtype=bool).any()
    finite_max = z.map_blocks(_finite_or_minus_inf, dtype=z.dtype).max(axis=axis, keepdims=True)
    shifted = da.map_blocks(_shifted_divided, z, finite_max, t, dtype=z.dtype)
    return da.where(overflow, shifted, scaled)


def _divided(z, t):
    with np.errstate(over="ignore"):
        return z / z.dtype.type(t)


def _overflowed(z, scaled):
    return np.isinf(scaled) & np.isfinite(z)


def _finite_or_minus_inf(z):
    return np.where(np.isfinite(z), z, -np.inf).astype(z.dtype, copy=False)


def _shifted_divided(z, finite_max, t):
    shift = np.where(np.isfinite(finite_max), finite_max, 0).astype(z.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return (z - shift) / z.dtype.type(t)


def _split_parts(da, z, axis, mask):
    """The two passes over a class axis split in chunks: ``(d, m, rest)``.

    ``m`` is the row maximum (keepdims), ``d = z - m`` with the in-memory limits (a row holding
    ``+inf`` becomes 0 at those entries and ``-inf`` elsewhere, shifted by 0; so is a row of only
    ``-inf``), and ``rest`` the row's sum of ``exp(d)`` without one maximal entry (0 for a dead row).
    """
    if mask is not None:
        z = da.map_blocks(_masked, z, mask, dtype=z.dtype)
    m = z.max(axis=axis, keepdims=True)
    d = da.map_blocks(_shifted, z, m, dtype=z.dtype)
    below = d.map_blocks(_exp_below_max, dtype=z.dtype).sum(axis=axis, keepdims=True, dtype=z.dtype)
    at_max = (d == 0).sum(axis=axis, keepdims=True, dtype=np.int64)
    rest = da.map_blocks(_rest, below, at_max, m, dtype=z.dtype)
    return d, m, rest


def _masked(z, mask):
    return np.where(mask, z, -np.inf).astype(z.dtype, copy=False)


def _shifted(z, m):
    posinf = m == np.inf
    if posinf.any():
        limit = np.where(z == np.inf, 0.0, -np.inf).astype(z.dtype)
        z = np.where(posinf, limit, z)
    m_shift = np.where((m == -np.inf) | posinf, 0.0, m).astype(z.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        return z - m_shift


def _exp_below_max(d):
    """``exp(d)`` where ``d < 0`` (and NaN), 0 at the maximum: the terms of ``rest``."""
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(d)
    return np.where(d == 0, 0, e).astype(d.dtype, copy=False)


def _rest(below, at_max, m):
    rest = below + (at_max - 1).astype(below.dtype)
    return np.where(m == -np.inf, 0, rest).astype(below.dtype, copy=False)


def _split_softmax(d, rest, m, fully_masked=None, *, log):
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        y = d - np.log1p(rest) if log else np.exp(d) / (1.0 + rest)
    y = np.where(m == -np.inf, np.nan, y)
    if fully_masked is not None:
        y = np.where(fully_masked, -np.inf if log else 0.0, y)
    return y.astype(d.dtype, copy=False)


def _split_logsumexp(m, rest):
    with np.errstate(invalid="ignore"):
        m_finite = np.where(np.isinf(m), 0.0, m).astype(m.dtype)
        lse = np.where(np.isinf(m), m, m_finite + np.log1p(rest))
    return lse.astype(m.dtype, copy=False)


# --------------------------------------------------------------------------------------------------
# cross-entropy


def cross_entropy(
    logits, target, *, axis, weight, ignore_index, label_smoothing, reduction, fname, kernel, check_options
):
    """:func:`softmaxkit.losses.cross_entropy` of Dask arrays, lazily.

    ``kernel`` is the in-memory function (run per block with ``reduction="none"`` when the class
    axis is one chunk) and ``check_options(weight, label_smoothing, reduction, n_classes, dtype,
    fname)`` its checker of the options, returning the weights. Reductions add per-block sums; the
    mean divides by the total non-ignored weight (the number of rows for probability targets).
    """
    da = import_dask(fname)
    if is_dask(weight):
        raise TypeError(
            f"{fname}: weight must be a NumPy array (one number per class), got a Dask array; pass weight.compute()"
        )
    logits = _host_or_dask(logits, fname, "logits")
    work, result = _dtypes(logits.dtype, fname, "logits")
    ax = normalize_axis(axis, logits.ndim, fname, "logits")
    n_classes = logits.shape[ax]
    w = check_options(weight, label_smoothing, reduction, n_classes, work, fname)
    target = _host_or_dask(target, fname, "target")
    labels = _target_is_labels(target, tuple(logits.shape), ax, ignore_index, fname)
    logits, target = _align_target(da, logits, target, ax, labels)
    z = logits.astype(work)
    options = {"weight": w, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
    if len(z.chunks[ax]) == 1:
        loss = _rows_loss(da, z, target, ax, labels, kernel, options)
    else:
        loss = _split_loss(da, z, target, ax, labels, n_classes, fname, options)
    if reduction == "none":
        return loss.astype(result)
    total = loss.sum(dtype=work)
    if reduction == "sum":
        return total.astype(result)
    if labels:
        weights = functools.partial(
            _active_weights, weight=w, ignore_index=ignore_index, n_classes=n_classes, like=work
        )
        denom = target.map_blocks(weights, dtype=work).sum(dtype=work)
    else:
        denom = work.type(loss.size)
    return da.map_blocks(_mean, total, denom, dtype=work, meta=_meta(0, work)).astype(result)


def _target_is_labels(t, logits_shape, axis, ignore_index, fname):
    """The in-memory target checks that need no values; True for integer labels, False for probabilities."""
    batch_shape = logits_shape[:axis] + logits_shape[axis + 1 :]
    shape = tuple(t.shape)
    if t.dtype.kind in "iu":
        if shape != batch_shape:
            raise ValueError(
                f"{fname}: integer target must have shape {batch_shape} (the logits' shape without the "
                f"class axis), got {shape}; for probability targets pass a float array of shape "
                f"{logits_shape}"
            )
        if ignore_index is not None:
            validate(fname, {"ignore_index": Integer()}, ignore_index=ignore_index)
        return True
    if t.dtype.kind == "f":
        if ignore_index is not None:
            raise ValueError(f"{fname}: ignore_index applies to integer class labels, not probability targets")
        if shape != logits_shape:
            raise ValueError(
                f"{fname}: probability target must have the logits' shape {logits_shape}, got "
                f"{shape}; for class labels pass an integer array of shape {batch_shape}"
            )
        return False
    raise TypeError(f"{fname}: target must be integer class labels or float probabilities, got dtype {t.dtype}")


def _align_target(da, logits, target, axis, labels):
    """Both as Dask arrays, the target chunked like the logits (labels: like the logits' rows)."""
    if is_dask(logits):
        chunks = logits.chunks[:axis] + logits.chunks[axis + 1 :] if labels else logits.chunks
        target = target.rechunk(chunks) if is_dask(target) else da.from_array(target, chunks=chunks)
        return logits, target
    chunks = (*target.chunks[:axis], (logits.shape[axis],), *target.chunks[axis:]) if labels else target.chunks
    return da.from_array(logits, chunks=chunks), target


def _rows_loss(da, z, target, axis, labels, kernel, options):
    """Per-row losses when every block holds whole rows: the in-memory kernel on each block."""
    full = tuple(range(z.ndim))
    batch = full[:axis] + full[axis + 1 :]
    rows = functools.partial(_rows_cross_entropy, kernel=kernel, axis=axis, **options)
    return da.blockwise(
        rows,
        batch,
        z,
        full,
        target,
        batch if labels else full,
        concatenate=True,
        dtype=z.dtype,
        meta=_meta(len(batch), z.dtype),
    )


def _rows_cross_entropy(z, t, *, kernel, axis, **options):
    return kernel(z, t, axis=axis, reduction="none", **options)


def _split_loss(da, z, target, axis, labels, n_classes, fname, options):
    """Per-row losses when the class axis is split: from the two-pass log-softmax, summed per chunk."""
    zl = da.moveaxis(z, axis, -1)
    last = zl.ndim - 1
    d, m, rest = _split_parts(da, zl, last, None)
    logp = da.map_blocks(functools.partial(_split_softmax, log=True), d, rest, m, dtype=z.dtype)
    per_chunk = (*logp.chunks[:-1], (1,) * logp.numblocks[-1])  # one partial sum per class chunk
    weight, smoothing = options["weight"], options["label_smoothing"]
    if labels:
        picked = da.map_blocks(_picked, logp, target[..., None], chunks=per_chunk, dtype=z.dtype).sum(axis=-1)
        smooth = None
        if smoothing:
            smooth = da.map_blocks(_weighted, logp, weight=weight, chunks=per_chunk, dtype=z.dtype).sum(axis=-1)
        finish = functools.partial(_label_loss, n_classes=n_classes, fname=fname, **options)
        args = (picked, target) if smooth is None else (picked, target, smooth)
        return da.map_blocks(finish, *args, dtype=z.dtype)
    probs = da.moveaxis(target, axis, -1)
    terms = functools.partial(_prob_terms, weight=weight, label_smoothing=smoothing, n_classes=n_classes, fname=fname)
    total = da.map_blocks(terms, logp, probs, chunks=per_chunk, dtype=z.dtype).sum(axis=-1)
    return total.map_blocks(_negated, dtype=z.dtype)


def _class_range(block_info):
    """``(start, stop)`` of the first argument's block along its last (class) axis."""
    return block_info[0]["array-location"][-1]


def _picked(logp, labels, block_info=None):
    """``logp[..., label]`` for the rows whose label falls in this class chunk, 0 for the others."""
    start, stop = _class_range(block_info)
    lab = labels[..., 0]
    inside = (lab >= start) & (lab < stop)
    column = np.where(inside, lab - start, 0).astype(np.intp)
    value = np.take_along_axis(logp, column[..., None], axis=-1)[..., 0]
    return np.where(inside, value, 0).astype(logp.dtype)[..., None]


def _weighted(logp, *, weight, block_info=None):
    """This chunk's part of ``sum_c w_c log p_c`` (unweighted without ``weight``)."""
    start, stop = _class_range(block_info)
    with np.errstate(invalid="ignore"):  # a zero weight times log 0 is NaN, as in memory (and PyTorch)
        terms = logp if weight is None else logp * weight[start:stop]
    return terms.sum(axis=-1, keepdims=True)


def _label_loss(picked, t, smooth=None, *, weight, ignore_index, label_smoothing, n_classes, fname):
    """Per-row losses of integer labels from the picked log-probabilities, as in memory."""
    check_labels(t, n_classes, fname, ignore_index=ignore_index)
    dtype = picked.dtype
    active = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    labels = np.where(active, t, 0).astype(np.intp)
    w_y = np.ones(labels.shape, dtype) if weight is None else weight[labels]
    with np.errstate(invalid="ignore"):
        loss = np.where(active, 0.0 - w_y * picked, 0).astype(dtype)
        if label_smoothing:
            eps = dtype.type(label_smoothing)
            smooth = np.where(active, -smooth, 0).astype(dtype)
            loss = (1 - eps) * loss + (eps / n_classes) * smooth
    return loss


def _prob_terms(logp, t, *, weight, label_smoothing, n_classes, fname, block_info=None):
    """This chunk's part of ``sum_c w_c t_c log p_c`` for probability targets (``0 log 0 = 0``)."""
    dtype = logp.dtype
    p = check_finite(t.astype(dtype), fname, "target")
    if label_smoothing:
        p = p * dtype.type(1.0 - label_smoothing) + dtype.type(label_smoothing / n_classes)
    start, stop = _class_range(block_info)
    tw = p if weight is None else p * weight[start:stop]
    with np.errstate(invalid="ignore"):
        terms = np.where(tw == 0, 0, tw * logp)
    return terms.sum(axis=-1, keepdims=True)


def _negated(total):
    return (0.0 - total).astype(total.dtype, copy=False)


def _active_weights(t, *, weight, ignore_index, n_classes, like):
    """``w[label]`` of the non-ignored rows (1 without weights), 0 elsewhere, in dtype ``like``: the
    terms of the mean's denominator. An out-of-range label counts 0 here; the loss's blocks raise for it."""
    active = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    if weight is None:
        return active.astype(like)
    safe = active & (t >= 0) & (t < n_classes)
    return np.where(safe, weight[np.where(safe, t, 0)], 0).astype(like)


def _mean(total, denom):
    """The in-memory mean: NaN when nothing is left to average over."""
    if denom == 0:
        return np.full((), np.nan, total.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(total / denom, dtype=total.dtype)
