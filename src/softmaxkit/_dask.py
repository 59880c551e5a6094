"""What every Dask code path shares: recognising a Dask array without importing Dask, importing it
with a clear message, and exact order statistics of a Dask array found by counting passes.

Dask, distributed and zarr are the ``dask`` extra (``pip install 'softmaxkit[dask]'``), imported only
when a Dask array or a Dask command is seen. Nothing here imports the rest of softmaxkit, so every
layer may use it.

Exact order statistics (:func:`order_statistics`): a quantile of a billion numbers spread over a
cluster cannot be sorted in one place. Each float64 is mapped to a 64-bit key whose unsigned order is
the numbers' order; each pass counts, per block and then summed, how many keys share each value of
the next 16 bits among those that match the prefix found so far. Four passes fix all 64 bits, so the
k-th smallest number is found exactly (bit for bit what sorting would give), with memory independent
of the array's length.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["is_dask", "import_dask", "dask_array", "stand_in", "order_statistics", "DASK_EXTRA"]

#: What to install for the Dask paths.
DASK_EXTRA = "pip install 'softmaxkit[dask]'"

_BITS_PER_PASS = 16
_BUCKETS = 1 << _BITS_PER_PASS
_SIGN = np.uint64(1 << 63)


def is_dask(*values) -> bool:
    """Whether any of ``values`` is a Dask array (or collection), decided from its type alone.

    Examples
    --------
    >>> is_dask(np.ones(3), None, [1.0])
    False
    """
    for value in values:
        kind = type(value)
        if kind.__module__.partition(".")[0] == "dask" and hasattr(value, "dask"):
            return True
    return False


def import_dask(what: str):
    """``dask.array``, or an ImportError that says what needed it and what to install."""
    try:
        import dask.array as da
    except ImportError:
        raise ImportError(f"{what} needs Dask: {DASK_EXTRA}") from None
    return da


def dask_array(x, fname: str, argname: str, *, known_chunks: bool = True):
    """``x`` if it is a Dask array (with known chunk sizes when asked), else a clear TypeError/ValueError."""
    da = import_dask(fname)
    if not isinstance(x, da.Array):
        raise TypeError(
            f"{fname}: {argname} is a {type(x).__module__}.{type(x).__name__}, a Dask collection but not an "
            "array; pass a dask.array.Array (a Dask DataFrame's is .to_dask_array(lengths=True))"
        )
    if known_chunks and any(math.isnan(size) for size in x.shape):
        raise ValueError(
            f"{fname}: {argname} has unknown chunk sizes (shape {x.shape}), as after boolean indexing; "
            f"call {argname}.compute_chunk_sizes() first"
        )
    return x


def stand_in(dtype, shape) -> np.ndarray:
    """An array of ``dtype`` and ``shape`` (unknown sizes as 0) that holds no data, for a check that fails
    before reading a value."""
    return np.broadcast_to(np.zeros((), dtype), tuple(0 if math.isnan(d) else d for d in shape))


def _keys(block: np.ndarray) -> np.ndarray:
    """float64 -> uint64 keys in the same order (negative numbers' bits inverted, positive ones' sign set)."""
    bits = np.ascontiguousarray(block, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _from_key(key: int) -> float:
    key = np.uint64(key)
    bits = key & ~_SIGN if key & _SIGN else ~key
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def _counts(block: np.ndarray, prefixes: np.ndarray, shift: int) -> np.ndarray:
    """Per wanted statistic, how many keys of ``block`` with its prefix fall in each next-16-bit bucket."""
    keys = _keys(block.ravel())
    out = np.zeros((len(prefixes), _BUCKETS), np.int64)
    high = keys >> np.uint64(shift + _BITS_PER_PASS) if shift + _BITS_PER_PASS < 64 else np.zeros_like(keys)
    bucket = ((keys >> np.uint64(shift)) & np.uint64(_BUCKETS - 1)).astype(np.intp)
    for i, prefix in enumerate(prefixes):
        out[i] = np.bincount(bucket[high == np.uint64(prefix)], minlength=_BUCKETS)
    return out[None]


def order_statistics(values, ranks) -> list[float]:
    """The ``ranks``-th smallest values (0-based) of a 1-D Dask (or NumPy) array of float64, exactly.

    Parameters
    ----------
    values : dask.array.Array or ndarray of shape (n,)
        Numbers without NaN (``-0.0`` and ``0.0`` count as different, ``-0.0`` first, as in a sort).
    ranks : sequence of int in [0, n)

    Returns
    -------
    list of float
        ``[sorted(values)[k] for k in ranks]``, computed in four counting passes over the chunks.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.from_array(np.array([3.0, -1.0, 2.5, 7.0, 0.0]), chunks=2)
    >>> order_statistics(x, [0, 2, 4])
    [-1.0, 2.5, 7.0]
    """
    ranks = [int(k) for k in ranks]
    if not ranks:
        return []
    if not is_dask(values):
        ordered = np.sort(np.asarray(values, dtype=np.float64).ravel())
        return [float(ordered[k]) for k in ranks]
    da = import_dask("order_statistics")
    values = values.astype(np.float64).ravel()
    n = values.shape[0]
    if any(k < 0 or k >= n for k in ranks):
        raise ValueError(f"order_statistics: ranks must lie in [0, {n}), got {ranks}")
    prefixes = np.zeros(len(ranks), np.uint64)
    remaining = np.array(ranks, np.int64)  # rank among the keys that share the prefix
    for shift in range(64 - _BITS_PER_PASS, -1, -_BITS_PER_PASS):
        counts = da.map_blocks(
            _counts,
            values,
            prefixes.copy(),
            shift,
            dtype=np.int64,
            new_axis=[1, 2],
            chunks=((1,) * values.numblocks[0], (len(ranks),), (_BUCKETS,)),
        )
        totals = counts.sum(axis=0).compute()
        for i in range(len(ranks)):
            cumulative = np.cumsum(totals[i])
            bucket = int(np.searchsorted(cumulative, remaining[i], side="right"))
            remaining[i] -= cumulative[bucket - 1] if bucket else 0
            prefixes[i] = (int(prefixes[i]) << _BITS_PER_PASS) | bucket
    return [_from_key(int(p)) for p in prefixes]
