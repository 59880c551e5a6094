"""Dask arrays through the softmax family and cross-entropy: lazy, and equal to the in-memory functions.

When the class axis is one chunk, each block runs the in-memory kernel, so results are compared bit
for bit (``np.array_equal``) on arrays whose blocks take the same path as the whole array: small ones
(both on the NumPy path) and, in ``test_fused_path_is_bit_identical``, large ones (both on the fused
numba kernels). A class axis split across chunks is compared within a few ulps, with the pattern of
NaN and infinities exact. Reductions of cross-entropy agree within summation-order rounding.
"""

from __future__ import annotations

import re

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import softmaxkit as sk

inf, nan = np.inf, np.nan
FLOATS = [np.float32, np.float64]
ROW_FUNCS = [sk.softmax, sk.log_softmax, sk.logsumexp]
#: Chunkings of an (11, 8) array: rows split, classes split, both, one chunk, uneven chunks.
CHUNKINGS = {
    "rows": (3, -1),
    "classes": (-1, 3),
    "both": (4, 2),
    "single": (-1, -1),
    "uneven": ((1, 6, 2, 2), (5, 1, 2)),
}
#: Each chunking with one dtype, both dtypes over the lot.
CASES = [(chunks, np.float32 if i % 2 else np.float64) for i, chunks in enumerate(CHUNKINGS.values())]
CASE_IDS = [f"{name}-{dtype.__name__}" for name, (_, dtype) in zip(CHUNKINGS, CASES)]


def classes_split(x):
    return len(x.chunks[-1]) > 1


def extreme_rows(dtype, seed=0):
    """An (11, 8) array whose rows cover the special cases the in-memory kernels define."""
    x = np.random.default_rng(seed).normal(size=(11, 8)) * 3
    x[0] = -inf  # no finite mass: NaN (softmax), -inf (logsumexp)
    x[1, 2] = inf  # one +inf takes all the mass
    x[2, [1, 6]] = inf  # two share it
    x[3, 4] = nan  # NaN stays in its row
    x[4, :5] = -inf  # some -inf entries get 0
    x[5, [0, 7]] = [inf, -inf]
    x[6] = 3e4  # all equal and large
    x[7, 3] = 1e4  # one probability within an ulp of 1
    x[8, [1, 5]] = [inf, nan]
    return x.astype(dtype)


def assert_matches(got, want, *, exact):
    """Same dtype and shape; bit for bit when ``exact``, otherwise the same NaN/inf pattern and finite
    values within a few ulps."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        assert np.array_equal(got, want, equal_nan=True)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
    finite = np.isfinite(want)
    eps = np.finfo(want.dtype).eps
    np.testing.assert_allclose(got[finite], want[finite], rtol=32 * eps, atol=32 * np.finfo(want.dtype).tiny)


def in_memory(func, *args, **kwargs):
    with np.errstate(all="ignore"):
        return func(*args, **kwargs)


class CountingScheduler:
    """A scheduler that counts how often it is asked to compute (and computes synchronously)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        self.calls += 1
        return dask.get(dsk, keys, **kwargs)


# --------------------------------------------------------------------------------------------------
# laziness


def test_nothing_is_computed_until_asked():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 5))
    dx = da.from_array(x, chunks=(2, 3, 5))
    labels = rng.integers(0, 8, size=(6, 5))
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        results = [
            sk.softmax(dx, axis=1, temperature=0.3),  # split class axis, overflow flag
            sk.softmax(dx, axis=2, where=dx > 0),
            sk.log_softmax(dx, axis=0, where=np.ones(5, bool)),
            sk.logsumexp(dx, axis=1, keepdims=True),
            sk.sigmoid(dx),
            sk.log_sigmoid(dx),
            sk.cross_entropy(dx, labels, axis=1, label_smoothing=0.2, weight=np.arange(1.0, 9.0)),
            sk.cross_entropy(dx[..., 0], labels[:, 0], reduction="sum"),
            sk.cross_entropy(dx, da.from_array(sk.softmax(x, axis=2), chunks=2), axis=2, reduction="none"),
            sk.cross_entropy(x, da.from_array(labels, chunks=3), axis=1),  # NumPy logits, Dask target
        ]
    assert counter.calls == 0
    assert all(isinstance(r, da.Array) for r in results)
    with dask.config.set(scheduler=counter):
        results[0].compute()
    assert counter.calls == 1


# --------------------------------------------------------------------------------------------------
# the row kernels


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ROW_FUNCS)
def test_row_kernels_match_in_memory_at_the_extremes(func, dtype, chunks):
    x = extreme_rows(dtype)
    dx = da.from_array(x, chunks=chunks)
    assert_matches(func(dx).compute(), in_memory(func, x), exact=not classes_split(dx))


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("func", ROW_FUNCS)
def test_where_masks_of_every_kind(func, chunks):
    x = extreme_rows(np.float64, seed=1)
    mask = np.random.default_rng(1).random(x.shape) > 0.4
    mask[9] = False  # fully masked: 0 (softmax), -inf (log_softmax, logsumexp)
    mask[0, 3] = False
    dx = da.from_array(x, chunks=chunks)
    exact = not classes_split(dx)
    for where in (mask, da.from_array(mask, chunks=(5, 5)), mask[4], da.from_array(mask[4], chunks=3)):
        want = in_memory(func, x, where=np.asarray(where))
        assert_matches(func(dx, where=where).compute(), want, exact=exact)
    # NumPy x with a Dask mask: x is chunked like the mask
    assert_matches(
        func(x, where=da.from_array(mask, chunks=(4, 8))).compute(), in_memory(func, x, where=mask), exact=True
    )


@pytest.mark.parametrize(("chunks", "dtype"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("temperature", [0.3, 7.0])
@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax])
def test_temperature(func, temperature, chunks, dtype):
    x = extreme_rows(dtype, seed=2)
    dx = da.from_array(x, chunks=chunks)
    got = func(dx, temperature=temperature).compute()
    assert_matches(got, in_memory(func, x, temperature=temperature), exact=not classes_split(dx))


@pytest.mark.parametrize("chunks", [(1, -1), (1, 2)])
def test_temperature_overflow_shifts_every_row_as_in_memory(chunks):
    # 1e308 / 1e-10 overflows; in memory every row is then shifted by its finite maximum first
    x = np.array([[1e308, 5e307, 1.0], [1.0, 2.0, 3.0], [-inf, 0.5, inf]])
    got = sk.softmax(da.from_array(x, chunks=chunks), temperature=1e-10).compute()
    want = in_memory(sk.softmax, x, temperature=1e-10)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(got[0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("axis", [0, 1, 2, -2])
@pytest.mark.parametrize("func", ROW_FUNCS)
def test_any_axis(func, axis):
    x = np.random.default_rng(3).normal(size=(5, 6, 7))
    x[1, 2, 3] = inf
    for chunks in ((2, 6, 7), (5, 2, 3), (-1, -1, -1)):
        dx = da.from_array(x, chunks=chunks)
        exact = len(dx.chunks[axis]) == 1
        assert_matches(func(dx, axis=axis).compute(), in_memory(func, x, axis=axis), exact=exact)
    got = sk.logsumexp(da.from_array(x, chunks=2), axis=axis, keepdims=True).compute()
    assert_matches(got, sk.logsumexp(x, axis=axis, keepdims=True), exact=False)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.bool_])
def test_result_dtypes_follow_the_in_memory_rules(dtype):
    x = (np.random.default_rng(4).normal(size=(6, 5)) * 3).astype(dtype)
    for func in [*ROW_FUNCS, sk.sigmoid, sk.log_sigmoid]:
        want = func(x)
        for chunks in ((2, -1), (2, 2)):
            got = func(da.from_array(x, chunks=chunks))
            assert got.dtype == want.dtype
            exact = func in (sk.sigmoid, sk.log_sigmoid) or chunks[1] == -1 or dtype == np.float16
            assert_matches(got.compute(), want, exact=exact)


def test_empty_arrays():
    for shape in ((0, 4), (3, 0)):
        x = np.empty(shape)
        for func in ROW_FUNCS:
            assert_matches(func(da.from_array(x)).compute(), func(x), exact=True)


def test_fused_path_is_bit_identical():
    """Blocks and the whole array large enough for the fused kernels (and on one thread each):
    the rows get the in-memory bits (the NumPy path would differ from these by an ulp here and there)."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(5)
    for shape, rows in (((2048, 40), 1024), ((8192, 12), 4096)):  # per-row and narrow kernels
        for dtype in FLOATS:
            x = (rng.normal(size=shape) * 4).astype(dtype)
            labels = rng.integers(0, shape[1], shape[0])
            dx = da.from_array(x, chunks=(rows, -1))
            with dask.config.set(scheduler="synchronous"):
                for func in ROW_FUNCS:
                    assert np.array_equal(func(dx).compute(), func(x))
                got = sk.cross_entropy(dx, labels, reduction="none").compute()
                assert np.array_equal(got, sk.cross_entropy(x, labels, reduction="none"))


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 9),
    classes=st.integers(1, 9),
    row_chunk=st.integers(1, 9),
    class_chunk=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    specials=st.lists(st.sampled_from([inf, -inf, nan, 1e300, -1e300]), max_size=6),
)
def test_random_arrays_and_chunkings(rows, classes, row_chunk, class_chunk, seed, specials):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, classes)) * 10
    x.flat[rng.integers(0, x.size, len(specials))] = specials
    dx = da.from_array(x, chunks=(row_chunk, class_chunk))
    for func in ROW_FUNCS:
        assert_matches(func(dx).compute(), in_memory(func, x), exact=not classes_split(dx))


# --------------------------------------------------------------------------------------------------
# cross-entropy

REDUCTIONS = ("none", "mean", "sum")
CE_OPTIONS = {
    "plain": {},
    "weight-ignore": {"weight": np.linspace(0.5, 2.0, 8), "ignore_index": 2},
    "smoothing": {"label_smoothing": 0.15},
    "all": {"weight": np.linspace(0.5, 2.0, 8), "ignore_index": -100, "label_smoothing": 0.3},
}


def _labels(n, n_classes, seed=0):
    labels = np.random.default_rng(seed).integers(0, n_classes, n)
    labels[[1, 4]] = [-100, 2]
    return labels


def _assert_loss(got, want, reduction, *, exact):
    assert got.dtype == want.dtype and got.shape == np.shape(want)
    if reduction == "none":
        assert_matches(got, want, exact=exact)
    else:
        rtol = 1e-12 if want.dtype == np.float64 else 1e-5
        np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize(("chunks", "dtype"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("options", CE_OPTIONS.values(), ids=CE_OPTIONS.keys())
def test_cross_entropy_with_labels(options, chunks, dtype):
    x = (np.random.default_rng(6).normal(size=(11, 8)) * 4).astype(dtype)
    x[3, 5] = -inf
    labels = _labels(11, 8)
    if "ignore_index" not in options:
        labels[1] = 0
    elif options["ignore_index"] == 2:
        labels[1] = 2
    dx = da.from_array(x, chunks=chunks)
    got = dask.compute(*(sk.cross_entropy(dx, labels, reduction=r, **options) for r in REDUCTIONS))
    for reduction, loss in zip(REDUCTIONS, got):
        want = in_memory(sk.cross_entropy, x, labels, reduction=reduction, **options)
        _assert_loss(loss, want, reduction, exact=not classes_split(dx))


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_with_probability_targets(dtype, chunks):
    rng = np.random.default_rng(7)
    x = (rng.normal(size=(11, 8)) * 4).astype(dtype)
    target = sk.softmax(rng.normal(size=(11, 8)) * 3)
    target[2] = np.eye(8)[3]  # zeros: 0 * log p counts 0
    dx = da.from_array(x, chunks=chunks)
    dt = da.from_array(target, chunks=(5, 4))  # rechunked like the logits
    for options in ({}, {"weight": np.linspace(0.5, 2.0, 8), "label_smoothing": 0.2}):
        got = dask.compute(*(sk.cross_entropy(dx, dt, reduction=r, **options) for r in REDUCTIONS))
        for reduction, loss in zip(REDUCTIONS, got):
            want = in_memory(sk.cross_entropy, x, target, reduction=reduction, **options)
            _assert_loss(loss, want, reduction, exact=not classes_split(dx))


@pytest.mark.parametrize("chunks", [(2, 4, -1), (2, 2, 3)])
def test_cross_entropy_along_another_axis(chunks):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 6, 5))  # classes on axis 1
    labels = rng.integers(0, 6, size=(4, 5))
    dx = da.from_array(x, chunks=chunks)
    for reduction in ("none", "mean"):
        got = sk.cross_entropy(dx, labels, axis=1, reduction=reduction, label_smoothing=0.1).compute()
        want = sk.cross_entropy(x, labels, axis=1, reduction=reduction, label_smoothing=0.1)
        _assert_loss(got, want, reduction, exact=chunks[1] == -1)


def test_cross_entropy_mixed_inputs_and_nothing_to_average():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(7, 5))
    labels = rng.integers(0, 5, 7)
    want = sk.cross_entropy(x, labels)
    dx = da.from_array(x, chunks=(3, 2))
    for logits, target in ((x, da.from_array(labels, chunks=4)), (dx, labels.tolist()), (dx, da.from_array(labels))):
        np.testing.assert_allclose(sk.cross_entropy(logits, target).compute(), want, rtol=1e-12)
    # every row ignored: the mean is 0/0, NaN, as in memory
    ignored = np.full(7, -100)
    assert np.isnan(sk.cross_entropy(dx, ignored, ignore_index=-100).compute())
    assert sk.cross_entropy(dx, ignored, ignore_index=-100, reduction="sum").compute() == 0


def test_cross_entropy_float16_and_integer_logits():
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 6, 9)
    for dtype in (np.float16, np.int64):
        x = (rng.normal(size=(9, 6)) * 3).astype(dtype)
        for chunks in ((4, -1), (4, 4)):
            got = sk.cross_entropy(da.from_array(x, chunks=chunks), labels)
            want = sk.cross_entropy(x, labels)
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got.compute(), want, rtol=1e-3 if dtype == np.float16 else 1e-12)


# --------------------------------------------------------------------------------------------------
# errors: the in-memory messages (values at compute time, metadata at the call)


def _same_error(call_in_memory, call_dask):
    with pytest.raises(Exception) as expected:
        call_in_memory()
    with pytest.raises(expected.type, match=re.escape(str(expected.value))):
        result = call_dask()
        if isinstance(result, da.Array):
            result.compute()


@pytest.mark.parametrize("chunks", [(4, -1), (4, 3)])
def test_errors_match_in_memory(chunks):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(9, 6))
    dx = da.from_array(x, chunks=chunks)
    labels = rng.integers(0, 6, 9)
    bad = labels.copy()
    bad[5] = 9
    cases = [
        (lambda a: sk.cross_entropy(a, bad)),  # a label out of range: raised by the computing block
        (lambda a: sk.cross_entropy(a, bad[:4])),
        (lambda a: sk.cross_entropy(a, labels, reduction="average")),
        (lambda a: sk.cross_entropy(a, labels, weight=np.ones(4))),
        (lambda a: sk.cross_entropy(a, np.full((9, 6), nan))),
        (lambda a: sk.cross_entropy(a, labels.astype(bool))),
        (lambda a: sk.cross_entropy(a, x, ignore_index=1)),
        (lambda a: sk.softmax(a, axis=2)),
        (lambda a: sk.softmax(a, where=np.ones(9, bool))),
        (lambda a: sk.softmax(a, where=np.ones((9, 6)))),
        (lambda a: sk.log_softmax(a, temperature=0.0)),
        (lambda a: sk.sigmoid(a.astype(complex))),
    ]
    for case in cases:
        _same_error(lambda case=case: case(x), lambda case=case: case(dx))


def test_dask_only_arguments_refused_clearly():
    dx = da.from_array(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="softmax: out= is not supported for Dask arrays"):
        sk.softmax(dx, out=np.empty((3, 4)))
    with pytest.raises(TypeError, match="cross_entropy: weight must be a NumPy array"):
        sk.cross_entropy(dx, np.zeros(3, int), weight=da.ones(4))


# --------------------------------------------------------------------------------------------------
# a real cluster


def test_kernels_on_a_local_cluster(cluster):
    x = extreme_rows(np.float64, seed=12)
    finite = np.nan_to_num(x, posinf=50.0, neginf=-50.0)
    labels = np.random.default_rng(12).integers(0, 8, 11)
    lazy, expected = [], []
    for chunks in ((4, -1), (4, 3)):
        dx = da.from_array(x, chunks=chunks)
        lazy += [func(dx) for func in ROW_FUNCS]
        expected += [(in_memory(func, x), chunks[1] == -1) for func in ROW_FUNCS]
        lazy.append(sk.cross_entropy(da.from_array(finite, chunks=chunks), labels, label_smoothing=0.1))
        expected.append((sk.cross_entropy(finite, labels, label_smoothing=0.1), None))
    for got, (want, exact) in zip(cluster.gather(cluster.compute(lazy)), expected):
        if exact is None:
            np.testing.assert_allclose(got, want, rtol=1e-12)
        else:
            assert_matches(got, want, exact=exact)
