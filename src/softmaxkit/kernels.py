"""The softmax family: softmax, log_softmax, logsumexp, sigmoid, log_sigmoid and their backward passes.

Every function normalises over ``axis=-1`` (the class axis) by default, is exact at the extremes
(huge logits, +-inf, NaN, float16, empty axes) and accepts ``out=`` to write into a caller's array.
Large float32/float64 inputs go through fused multi-core numba kernels (:mod:`softmaxkit._numba`);
small inputs take the NumPy path below, which is also the reference the fast kernels are tested against.
A class axis that is not last (``axis=1`` of ``(batch, classes, boxes)`` or ``(N, C, H, W)``) is
computed where the data lies, without a transposed copy, when the array is C- or Fortran-ordered.

Inputs
------
Any array-like is accepted. ndarray subclasses (``np.matrix``, ``np.memmap``, ...) are viewed as
plain ndarrays, so results are plain ndarrays and a matrix's ``*`` (a matrix product) never enters
the arithmetic. Masked arrays are refused with a ``TypeError``: their data alone would give silently
wrong results, so pass the mask as ``where=`` (softmax, log_softmax, logsumexp) or convert
deliberately with ``.filled(value)`` or ``np.asarray``. The rules live in
:func:`softmaxkit._validation.to_numpy`, shared with the losses. Arrays of other libraries stay in
their library (below).

Arrays of other libraries
-------------------------
A PyTorch tensor, a CuPy or JAX array, or any array with ``__array_namespace__`` is computed with its
own library, on its own device, and the result is an array of that library: nothing is copied to the
host. The formulas are the NumPy path's, written once with the array-API standard in
:mod:`softmaxkit._array_api` (through array-api-compat, the ``array-api`` extra, imported by the first
such call and never for NumPy input), so the edge cases are the same; results agree with the NumPy
path to a few ulps, and PyTorch's autograd flows through them. The dtype rules are NumPy's with the
library's own defaults: float16 and bfloat16 are computed in float32 and returned in their dtype;
integers and booleans promote to the library's default float dtype (float32 for PyTorch).

The other array arguments (``where``, ``grad``, ``out``) must be of the same library and on the same
device: mixing libraries, NumPy included, is a ``TypeError`` (Python lists and scalars are converted
to the first argument's library). ``out=`` must then be a writable array of that library and is
written with ``out[...] = result`` (JAX arrays, which are immutable, are refused: use the result).
One check at the top of each function, on types alone, sends such calls there; NumPy input, lists and
scalars keep the NumPy path and the fused kernels, unchanged.

Dask arrays
-----------
A Dask array (``x`` or ``where``) gives a Dask array, and nothing is computed until you ask: each
block runs the in-memory function when the class axis is one chunk (every row then gets the bits it
would get in memory, whenever the block takes the same path as the whole array: see
:mod:`softmaxkit._dask_kernels`), and a class axis split across chunks is computed exactly by a
two-pass logsumexp (the row maximum over every chunk, then the sum of ``exp(x - max)``), with the
same edge cases as in memory. ``where`` may be a Dask or NumPy array (it is rechunked like ``x``);
``out=`` is refused (use the result). The ``dask`` extra (``pip install 'softmaxkit[dask]'``)
provides Dask.

``out=``
--------
``out`` may share memory with any input (``x``, ``where``, ``y``, ``grad``): the result is what a
fresh array would hold. The NumPy path computes into temporaries and copies at the end. The fused
kernels write ``out`` directly when it shares no memory with their input, and also when it is
exactly the input for log-softmax (``log_softmax(x, out=x)`` runs in place, with no temporary);
otherwise they write a temporary that is copied into ``out`` (for an in-place softmax that is the
faster way: its store-and-sum loop runs 2-4x slower when it writes over its input). ``out`` may be an
ndarray subclass (it is returned as given) but not a masked array.

Accuracy along any axis
-----------------------
NumPy sums pairwise (error ``O(log n)`` ulps) only along the contiguous axis; along a strided axis it
adds one term at a time (``O(n)`` ulps). Every sum over the class axis here goes through
:func:`_sum_along`, which makes that axis last and contiguous first, so a softmax over ``axis=0`` is
as accurate as over the last axis.
"""

from __future__ import annotations

import numpy as np

from . import _dask_kernels
from ._dask import is_dask
from ._numba import dispatch as _fused
from ._validation import (
    as_float_array,
    check_mask,
    check_out,
    check_temperature,
    normalize_axis,
    uses_array_api,
    xp_arguments,
    xp_as_float_array,
    xp_check_mask,
    xp_check_out,
)

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "log_sigmoid",
    "softmax_backward",
    "log_softmax_backward",
    "sigmoid_backward",
]


def _finish(result: np.ndarray, result_dtype, out):
    """Cast to the result dtype and deliver into ``out`` if given.

    ``result`` is a fresh array (never a view of an input), so writing ``out`` last is right even
    when ``out`` shares memory with the inputs.
    """
    if out is not None:
        np.copyto(out, result, casting="unsafe")
        return out
    if result.dtype != result_dtype:
        result = result.astype(result_dtype)
    return result


def _sum_along(a: np.ndarray, axis: int) -> np.ndarray:
    """``a.sum(axis, keepdims=True)``, summed pairwise whatever the memory layout of ``a``.

    NumPy sums pairwise (error ``O(log n)`` ulps) only along the axis its iterator runs innermost,
    the contiguous one; along a strided axis it adds one term at a time into a row of accumulators
    (``O(n)`` ulps: 30 to 80 float32 eps for a column of 10^5 entries). So the axis is moved last and
    made contiguous first: a copy only when it is not already, never in the common case.
    """
    if axis == a.ndim - 1 and a.flags.c_contiguous:
        return a.sum(axis=-1, keepdims=True)
    moved = np.ascontiguousarray(np.moveaxis(a, axis, -1))
    return np.expand_dims(moved.sum(axis=-1), axis)


def _kernel_out(out, z):
    """The array a fused kernel may write the result into: ``out``'s plain view when the dtypes match.

    The fused entry points decide themselves whether writing it directly is safe (layout, overlap
    with ``z``); a subclass is passed as its ndarray view so the kernels see a plain array.
    """
    return None if out is None or out.dtype != z.dtype else np.asarray(out)


def _shifted_parts(z: np.ndarray, axis: int, mask, *, with_rest: bool = True):
    """Shared helper of softmax, log_softmax and logsumexp.

    Returns ``(d, e, m, rest, dead)`` where, along ``axis`` (all with keepdims):

    - ``d = z - m``: logits shifted by the row maximum ``m`` (the shift is 0 where ``m`` is infinite);
      rows holding ``+inf`` are replaced by their limit (``0`` at the ``+inf`` entries, ``-inf`` elsewhere),
    - ``e = exp(d)``,
    - ``rest``: the sum of ``e`` *excluding one maximal entry*, so that ``sum(e) = 1 + rest`` and
      ``log(sum(e)) = log1p(rest)`` stays accurate when one probability is close to 1,
    - ``dead``: rows with no finite mass (all ``-inf`` or all masked out).

    ``rest`` is summed by :func:`_sum_along`, so it is accurate along any axis; with
    ``with_rest=False`` (softmax, which divides by the whole sum) it is not computed and is None.
    """
    if mask is not None:
        z = np.where(mask, z, -np.inf).astype(z.dtype, copy=False)
    m = np.max(z, axis=axis, keepdims=True)
    finite = bool(np.isfinite(m).all())  # the common case: no masking of the shift needed below
    if finite:
        dead = np.zeros(m.shape, bool)
        m_shift = m
    else:
        posinf = m == np.inf
        if posinf.any():
            limit = np.where(z == np.inf, 0.0, -np.inf).astype(z.dtype)
            z = np.where(posinf, limit, z)
        dead = m == -np.inf
        m_shift = np.where(dead | posinf, 0.0, m).astype(z.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        d = z - m_shift
        e = np.exp(d)
    if not with_rest:
        return d, e, m, None, dead
    first_max = np.argmax(d, axis=axis)
    e_rest = e.copy()
    if axis == e.ndim - 1 and e.ndim == 2:  # the common layout: plain indexing, much cheaper than put_along_axis
        e_rest[np.arange(e.shape[0]), first_max] = 0.0
    else:
        np.put_along_axis(e_rest, np.expand_dims(first_max, axis), 0.0, axis=axis)
    rest = _sum_along(e_rest, axis)
    if not finite:
        rest = np.where(dead, 0.0, rest).astype(z.dtype)
    return d, e, m, rest, dead


def _softmax_of_finite_rows(z: np.ndarray, axis: int):
    """``exp(z - m) / sum(exp(z - m))`` when every row maximum ``m`` is finite, else None.

    The lean NumPy path for small unmasked inputs (a prediction for one sample): six array operations
    in place of :func:`_shifted_parts`'s bookkeeping for infinite and fully masked rows. The sum is at
    least 1 (the maximal entry contributes ``exp(0)``), so the division is accurate. The general path
    of :func:`softmax` divides by the same sum, so that a finite row gets the same bits either way.
    """
    m = np.max(z, axis=axis, keepdims=True)
    if not np.isfinite(m).all():
        return None
    with np.errstate(over="ignore"):  # finite z - m can only overflow to -inf, whose exp is the exact 0
        e = np.exp(z - m)
    e /= _sum_along(e, axis)
    return e


def _fully_masked(mask, axis):
    return None if mask is None else ~mask.any(axis=axis, keepdims=True)


def _prepare(x, axis, temperature, where, fname):
    z, result_dtype = as_float_array(x, fname)
    ax = normalize_axis(axis, z.ndim, fname)
    t = check_temperature(temperature, fname)
    mask = None if where is None else check_mask(where, z.shape, fname)
    if t != 1.0:
        z = _divide_by_temperature(z, t, ax)
    return z, ax, mask, result_dtype


def _divide_by_temperature(z, t, axis):
    """``z / t``; where that overflows a finite logit to infinity, ``(z - row max) / t`` instead.

    Softmax is unchanged by a shift along the class axis, so subtracting each row's largest finite
    logit first keeps the result exact when ``|z| / t`` exceeds the floating-point range
    (``softmax([1e308, 5e307], temperature=1e-10)`` is ``[1, 0]``, not ``[0.5, 0.5]``).
    """
    with np.errstate(over="ignore"):
        scaled = z / z.dtype.type(t)
    if not (np.isinf(scaled) & np.isfinite(z)).any():
        return scaled
    finite_max = np.max(np.where(np.isfinite(z), z, -np.inf), axis=axis, keepdims=True)
    shift = np.where(np.isfinite(finite_max), finite_max, 0).astype(z.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return (z - shift) / z.dtype.type(t)


def softmax(x, axis: int = -1, *, temperature: float = 1.0, where=None, out=None) -> np.ndarray:
    r"""Softmax of ``x / temperature`` along ``axis``.

    .. math::

        \operatorname{softmax}(x)_j = \frac{\exp(x_j / T)}{\sum_k \exp(x_k / T)}

    computed as ``exp(x - max(x)) / sum(exp(x - max(x)))`` so no exponential overflows.

    Parameters
    ----------
    x : array_like
        Logits. Integers promote to float64; float16 is computed in float32 and returned as float16.
    axis : int, default -1
        The class axis to normalise over.
    temperature : float, default 1.0
        Positive finite temperature ``T``; ``T > 1`` flattens, ``T < 1`` sharpens the distribution.
    where : array_like of bool, optional
        Entries to include; excluded entries get probability 0. A row with every entry excluded
        gives all zeros.
    out : ndarray (or an array of ``x``'s library), optional
        Array of ``x``'s shape and result dtype to write into.

    Returns
    -------
    ndarray
        Probabilities of ``x``'s shape; each row along ``axis`` sums to 1.

    Notes
    -----
    Edge cases follow the limits: ``+inf`` entries share the row's mass equally and every other entry
    gets 0; ``-inf`` entries get 0; a NaN makes its own row NaN and no other. A row of only ``-inf``
    (with no mask) is ``0/0`` and gives NaN. Empty arrays give empty arrays.

    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).
    A Dask array gives a lazy Dask array (see *Dask arrays* there).

    ``x`` and ``where`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as
    plain arrays (the result is an ndarray), and a masked array is refused with a ``TypeError``: pass
    its mask as ``where=~x.mask``. ``out`` may share memory with ``x`` or ``where``;
    ``softmax(x, out=x)`` works in place.

    See Also
    --------
    log_softmax, logsumexp, softmax_backward

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import softmax
    >>> softmax([1.6, 3.1, 0.5]).round(8)
    array([0.17198205, 0.77077009, 0.05724785])
    >>> softmax([1000.0, 1000.0, -np.inf])
    array([0.5, 0.5, 0. ])
    >>> softmax([1.6, 3.1, 0.5], temperature=10.0).round(6)
    array([0.327047, 0.379974, 0.292979])
    """
    fname = "softmax"
    if uses_array_api(x, where):  # Dask arrays too: one check on the NumPy path
        if is_dask(x, where):
            return _dask_kernels.softmax(
                x, axis, temperature=temperature, where=where, out=out, fname=fname, log=False, kernel=softmax
            )
        return _softmax_array_api(x, axis, temperature, where, out, fname, log=False)
    z, ax, mask, result_dtype = _prepare(x, axis, temperature, where, fname)
    out = check_out(out, z.shape, result_dtype, fname)
    if z.size == 0:
        return _finish(np.empty(z.shape, z.dtype), result_dtype, out)
    if mask is None:
        kernel_out = _kernel_out(out, z)
        fast = _fused.softmax(z, ax, out=kernel_out, log=False)
        if fast is not None:
            return out if fast is kernel_out else _finish(fast, result_dtype, out)
        lean = _softmax_of_finite_rows(z, ax)
        if lean is not None:
            return _finish(lean, result_dtype, out)
    _, e, _, _, dead = _shifted_parts(z, ax, mask, with_rest=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = e / _sum_along(e, ax)  # the same operations as _softmax_of_finite_rows: a row's result never
    y = np.where(dead, np.nan, y)  # depends on the other rows of the batch
    masked_out = _fully_masked(mask, ax)
    if masked_out is not None:
        y = np.where(masked_out, 0.0, y)
    return _finish(y.astype(z.dtype, copy=False), result_dtype, out)


def log_softmax(x, axis: int = -1, *, temperature: float = 1.0, where=None, out=None) -> np.ndarray:
    r"""Logarithm of :func:`softmax`, computed without forming the probabilities.

    .. math::

        \log\operatorname{softmax}(x)_j = (x_j - m) - \operatorname{log1p}\Big(\sum_{k \ne k^*} e^{x_k - m}\Big),
        \qquad m = x_{k^*} = \max_k x_k

    Summing every term except one maximal entry and taking ``log1p`` keeps the result accurate in
    relative terms when one probability is close to 1 (where ``log(sum)`` would round to 0).

    Parameters
    ----------
    x : array_like
        Logits.
    axis : int, default -1
        The class axis.
    temperature : float, default 1.0
        Positive finite temperature ``T``; the logits are divided by it first.
    where : array_like of bool, optional
        Entries to include; excluded entries get ``-inf`` (log of probability 0).
    out : ndarray (or an array of ``x``'s library), optional
        Array of ``x``'s shape and result dtype to write into.

    Returns
    -------
    ndarray
        Log-probabilities, ``<= 0``, of ``x``'s shape.

    Notes
    -----
    ``+inf`` entries get ``-log(k)`` for ``k`` such entries in the row and the others ``-inf``; a row
    of only ``-inf`` (unmasked) is NaN, like :func:`softmax`; a fully masked row is all ``-inf``.

    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).
    A Dask array gives a lazy Dask array (see *Dask arrays* there).

    ``x`` and ``where`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as
    plain arrays (the result is an ndarray), and a masked array is refused with a ``TypeError``: pass
    its mask as ``where=~x.mask``. ``out`` may share memory with ``x`` or ``where``;
    ``log_softmax(x, out=x)`` works in place.

    Examples
    --------
    >>> from softmaxkit import log_softmax
    >>> log_softmax([1000.0, 1.0])
    array([   0., -999.])
    >>> log_softmax([1.6, 3.1, 0.5]).round(6)
    array([-1.760365, -0.260365, -2.860365])
    """
    fname = "log_softmax"
    if uses_array_api(x, where):  # Dask arrays too: one check on the NumPy path
        if is_dask(x, where):
            return _dask_kernels.softmax(
                x, axis, temperature=temperature, where=where, out=out, fname=fname, log=True, kernel=log_softmax
            )
        return _softmax_array_api(x, axis, temperature, where, out, fname, log=True)
    z, ax, mask, result_dtype = _prepare(x, axis, temperature, where, fname)
    out = check_out(out, z.shape, result_dtype, fname)
    if z.size == 0:
        return _finish(np.empty(z.shape, z.dtype), result_dtype, out)
    if mask is None:
        kernel_out = _kernel_out(out, z)
        fast = _fused.softmax(z, ax, out=kernel_out, log=True)
        if fast is not None:
            return out if fast is kernel_out else _finish(fast, result_dtype, out)
    d, _, _, rest, dead = _shifted_parts(z, ax, mask)
    with np.errstate(invalid="ignore"):
        y = d - np.log1p(rest)
    y = np.where(dead, np.nan, y)
    masked_out = _fully_masked(mask, ax)
    if masked_out is not None:
        y = np.where(masked_out, -np.inf, y)
    return _finish(y.astype(z.dtype, copy=False), result_dtype, out)


def logsumexp(x, axis: int = -1, *, keepdims: bool = False, where=None, out=None) -> np.ndarray:
    r"""``log(sum(exp(x)))`` along ``axis`` without overflow.

    .. math::

        \operatorname{logsumexp}(x) = m + \operatorname{log1p}\Big(\sum_{k \ne k^*} e^{x_k - m}\Big),
        \qquad m = \max_k x_k

    Parameters
    ----------
    x : array_like
        Input values.
    axis : int, default -1
        Axis to reduce.
    keepdims : bool, default False
        Keep the reduced axis with length 1.
    where : array_like of bool, optional
        Entries to include. A row with nothing included sums to 0, giving ``-inf``.
    out : ndarray (or an array of ``x``'s library), optional
        Array of the reduced shape and result dtype to write into.

    Returns
    -------
    ndarray
        The reduced array (a 0-d array for 1-d input unless ``keepdims``).

    Notes
    -----
    A row holding ``+inf`` gives ``+inf``; a row of only ``-inf`` gives ``-inf`` (exactly ``log 0``);
    NaN propagates to its own row; an empty axis gives ``-inf``.

    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).
    A Dask array gives a lazy Dask array (see *Dask arrays* there).

    ``x`` and ``where`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as
    plain arrays, and a masked array is refused with a ``TypeError``: pass its mask as
    ``where=~x.mask``. ``out`` may share memory with ``x`` or ``where``.

    Examples
    --------
    >>> from softmaxkit import logsumexp
    >>> float(logsumexp([1000.0, 1000.0]))  # 1000 + log(2); the naive formula overflows
    1000.6931471805599
    >>> logsumexp([[0.0, 0.0], [1.0, -1.0]]).round(6)
    array([0.693147, 1.126928])
    """
    fname = "logsumexp"
    if uses_array_api(x, where):  # Dask arrays too: one check on the NumPy path
        if is_dask(x, where):
            return _dask_kernels.logsumexp(
                x, axis, keepdims=keepdims, where=where, out=out, fname=fname, kernel=logsumexp
            )
        return _logsumexp_array_api(x, axis, keepdims, where, out, fname)
    z, result_dtype = as_float_array(x, fname)
    ax = normalize_axis(axis, z.ndim, fname)
    mask = None if where is None else check_mask(where, z.shape, fname)
    reduced = list(z.shape)
    reduced[ax] = 1
    final_shape = tuple(reduced) if keepdims else tuple(np.delete(np.array(z.shape, dtype=np.intp), ax))
    out = check_out(out, final_shape, result_dtype, fname)
    if z.shape[ax] == 0:
        return _finish(np.full(final_shape, -np.inf, z.dtype), result_dtype, out)
    if z.size == 0:
        return _finish(np.empty(final_shape, z.dtype), result_dtype, out)
    if mask is None:
        kernel_out = _kernel_out(out, z)
        fast = _fused.logsumexp(z, ax, out=kernel_out)
        if fast is not None:
            return out if fast is kernel_out else _finish(fast.reshape(final_shape), result_dtype, out)
    _, _, m, rest, _ = _shifted_parts(z, ax, mask)
    with np.errstate(invalid="ignore"):
        m_finite = np.where(np.isinf(m), 0.0, m).astype(z.dtype)
        lse = np.where(np.isinf(m), m, m_finite + np.log1p(rest))
    lse = lse.astype(z.dtype, copy=False).reshape(final_shape)
    return _finish(lse, result_dtype, out)


def sigmoid(x, *, out=None) -> np.ndarray:
    r"""Logistic sigmoid ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    .. math::

        \sigma(x) = \begin{cases} 1 / (1 + e^{-x}) & x \ge 0 \\ e^{x} / (1 + e^{x}) & x < 0 \end{cases}

    Evaluating ``exp`` only at ``-|x|`` never overflows. ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``.

    Notes
    -----
    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).
    A Dask array gives a lazy Dask array (see *Dask arrays* there).

    ``x`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as plain arrays
    (the result is an ndarray), and a masked array is refused with a ``TypeError`` (convert it
    deliberately with ``x.filled(value)`` or ``np.asarray(x)``). ``out`` may share memory with ``x``;
    ``sigmoid(x, out=x)`` works in place.

    Examples
    --------
    >>> from softmaxkit import sigmoid
    >>> sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    fname = "sigmoid"
    if uses_array_api(x):  # Dask arrays too: one check on the NumPy path
        if is_dask(x):
            return _dask_kernels.elementwise(x, out=out, fname=fname, kernel=sigmoid)
        return _elementwise_array_api(x, out, fname)
    z, result_dtype = as_float_array(x, fname)
    out = check_out(out, z.shape, result_dtype, fname)
    e = np.exp(-np.abs(z))
    with np.errstate(invalid="ignore"):
        y = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)
    return _finish(y, result_dtype, out)


def log_sigmoid(x, *, out=None) -> np.ndarray:
    r"""``log(sigmoid(x))`` computed as ``min(x, 0) - log1p(exp(-|x|))`` (never ``log`` of a rounded 0).

    Notes
    -----
    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).
    A Dask array gives a lazy Dask array (see *Dask arrays* there).

    ``x`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as plain arrays
    (the result is an ndarray), and a masked array is refused with a ``TypeError`` (convert it
    deliberately with ``x.filled(value)`` or ``np.asarray(x)``). ``out`` may share memory with ``x``;
    ``log_sigmoid(x, out=x)`` works in place.

    Examples
    --------
    >>> from softmaxkit import log_sigmoid
    >>> log_sigmoid([-1000.0, 0.0, 40.0])  # log(1 - 4.2e-18), not a rounded 0
    array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
    """
    fname = "log_sigmoid"
    if uses_array_api(x):  # Dask arrays too: one check on the NumPy path
        if is_dask(x):
            return _dask_kernels.elementwise(x, out=out, fname=fname, kernel=log_sigmoid)
        return _elementwise_array_api(x, out, fname)
    z, result_dtype = as_float_array(x, fname)
    out = check_out(out, z.shape, result_dtype, fname)
    with np.errstate(invalid="ignore"):
        y = (np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))).astype(z.dtype, copy=False)
    return _finish(y, result_dtype, out)


def _backward_args(y, grad, axis, fname):
    yv, result_dtype = as_float_array(y, fname, "y")
    gv, _ = as_float_array(grad, fname, "grad")
    if yv.shape != gv.shape:
        raise ValueError(f"{fname}: y has shape {yv.shape} but grad has shape {gv.shape}; they must match")
    gv = gv.astype(yv.dtype, copy=False)
    ax = normalize_axis(axis, yv.ndim, fname, "y")
    return yv, gv, ax, result_dtype


def softmax_backward(y, grad, axis: int = -1, *, out=None) -> np.ndarray:
    r"""Vector-Jacobian product of softmax: the gradient with respect to the logits.

    Given ``y = softmax(x)`` and ``grad = dL/dy``,

    .. math::

        \frac{\partial L}{\partial x} = y \odot \Big(g - \sum_k y_k g_k\Big)

    in ``O(n)`` per row; the ``n x n`` Jacobian is never formed.

    Notes
    -----
    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).

    ``y`` and ``grad`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as
    plain arrays (elementwise products, never a matrix product; the result is an ndarray), and a
    masked array is refused with a ``TypeError``. ``out`` may share memory with ``y`` or ``grad``.
    The sum over ``axis`` is accurate along any axis.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import softmax, softmax_backward
    >>> y = softmax([1.0, 2.0, 3.0])
    >>> softmax_backward(y, np.ones(3)).round(12)  # softmax sums to 1: a constant grad gives 0
    array([0., 0., 0.])
    """
    fname = "softmax_backward"
    if uses_array_api(y, grad):
        return _backward_array_api(y, grad, axis, out, fname)
    yv, gv, ax, result_dtype = _backward_args(y, grad, axis, fname)
    out = check_out(out, yv.shape, result_dtype, fname)
    dot = _sum_along(yv * gv, ax)
    return _finish(yv * (gv - dot), result_dtype, out)


def log_softmax_backward(y, grad, axis: int = -1, *, out=None) -> np.ndarray:
    r"""Vector-Jacobian product of log_softmax, given its output ``y = log_softmax(x)``.

    .. math::

        \frac{\partial L}{\partial x} = g - e^{y} \sum_k g_k

    Notes
    -----
    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).

    ``y`` and ``grad`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as
    plain arrays (elementwise products, never a matrix product; the result is an ndarray), and a
    masked array is refused with a ``TypeError``. ``out`` may share memory with ``y`` or ``grad``.
    The sum over ``axis`` is accurate along any axis.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import log_softmax, log_softmax_backward
    >>> y = log_softmax([1.0, 2.0, 3.0])
    >>> log_softmax_backward(y, np.array([0.0, 0.0, -1.0])).round(6)  # d(-log p_2)/dx = p - onehot
    array([ 0.090031,  0.244728, -0.334759])
    """
    fname = "log_softmax_backward"
    if uses_array_api(y, grad):
        return _backward_array_api(y, grad, axis, out, fname)
    yv, gv, ax, result_dtype = _backward_args(y, grad, axis, fname)
    out = check_out(out, yv.shape, result_dtype, fname)
    return _finish(gv - np.exp(yv) * _sum_along(gv, ax), result_dtype, out)


def sigmoid_backward(y, grad, *, out=None) -> np.ndarray:
    r"""Gradient through :func:`sigmoid` given its output ``y``: ``grad * y * (1 - y)``.

    Notes
    -----
    A PyTorch tensor, CuPy or JAX array (any array-API array) gives an array of its own library, dtype
    and device, computed with that library (see *Arrays of other libraries* in :mod:`softmaxkit.kernels`).

    ``y`` and ``grad`` may be any array-like; ``np.matrix`` and other ndarray subclasses are treated as
    plain arrays (elementwise products, never a matrix product; the result is an ndarray), and a
    masked array is refused with a ``TypeError``. ``out`` may share memory with ``y`` or ``grad``.

    Examples
    --------
    >>> from softmaxkit import sigmoid_backward
    >>> sigmoid_backward([0.5], [1.0])
    array([0.25])
    """
    fname = "sigmoid_backward"
    if uses_array_api(y, grad):
        return _backward_array_api(y, grad, None, out, fname)
    yv, result_dtype = as_float_array(y, fname, "y")
    gv, _ = as_float_array(grad, fname, "grad")
    if yv.shape != gv.shape:
        raise ValueError(f"{fname}: y has shape {yv.shape} but grad has shape {gv.shape}; they must match")
    out = check_out(out, yv.shape, result_dtype, fname)
    return _finish(gv.astype(yv.dtype, copy=False) * yv * (1 - yv), result_dtype, out)


# --------------------------------------------------------------------------------------------------
# arrays of other libraries: checked here with the namespace's operations, computed in _array_api


def _softmax_array_api(x, axis, temperature, where, out, fname, *, log):
    """:func:`softmax` (or :func:`log_softmax`) of another library's arrays, computed with that library."""
    from . import _array_api

    xp, x, where = xp_arguments(fname, x=x, where=where)
    z, result_dtype = xp_as_float_array(xp, x, fname)
    ax = normalize_axis(axis, z.ndim, fname)
    t = check_temperature(temperature, fname)
    mask = None if where is None else xp_check_mask(xp, where, z.shape, fname)
    out = xp_check_out(xp, out, z.shape, result_dtype, x, fname)
    y = _array_api.softmax(xp, z, ax, temperature=t, mask=mask, log=log)
    return _array_api.finish(xp, y, result_dtype, out)


def _logsumexp_array_api(x, axis, keepdims, where, out, fname):
    """:func:`logsumexp` of another library's arrays, computed with that library."""
    from . import _array_api

    xp, x, where = xp_arguments(fname, x=x, where=where)
    z, result_dtype = xp_as_float_array(xp, x, fname)
    ax = normalize_axis(axis, z.ndim, fname)
    mask = None if where is None else xp_check_mask(xp, where, z.shape, fname)
    reduced = list(z.shape)
    if keepdims:
        reduced[ax] = 1
    else:
        del reduced[ax]
    out = xp_check_out(xp, out, tuple(reduced), result_dtype, x, fname)
    lse = _array_api.logsumexp(xp, z, ax, keepdims=bool(keepdims), mask=mask)
    return _array_api.finish(xp, lse, result_dtype, out)


def _elementwise_array_api(x, out, fname):
    """:func:`sigmoid` or :func:`log_sigmoid` (by ``fname``) of another library's array."""
    from . import _array_api

    xp, x = xp_arguments(fname, x=x)
    z, result_dtype = xp_as_float_array(xp, x, fname)
    out = xp_check_out(xp, out, z.shape, result_dtype, x, fname)
    compute = getattr(_array_api, fname)  # the generic function of the same name
    return _array_api.finish(xp, compute(xp, z), result_dtype, out)


def _backward_array_api(y, grad, axis, out, fname):
    """A backward pass (by ``fname``; ``axis`` None for the elementwise sigmoid) of another library's arrays."""
    from . import _array_api

    xp, y, grad = xp_arguments(fname, y=y, grad=grad)
    yv, result_dtype = xp_as_float_array(xp, y, fname, "y")
    gv, _ = xp_as_float_array(xp, grad, fname, "grad")
    if tuple(yv.shape) != tuple(gv.shape):
        raise ValueError(
            f"{fname}: y has shape {tuple(yv.shape)} but grad has shape {tuple(gv.shape)}; they must match"
        )
    if gv.dtype != yv.dtype:
        gv = xp.astype(gv, yv.dtype)
    extra = () if axis is None else (normalize_axis(axis, yv.ndim, fname, "y"),)
    out = xp_check_out(xp, out, yv.shape, result_dtype, y, fname)
    compute = getattr(_array_api, fname)  # the generic function of the same name
    return _array_api.finish(xp, compute(xp, yv, gv, *extra), result_dtype, out)
