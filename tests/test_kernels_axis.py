"""Column mode: softmax, log_softmax and logsumexp over a non-last axis without a transposed copy.

A C-contiguous array whose class axis is followed by at least a SIMD vector of entries is viewed as
``(outer, n, inner)`` and computed by :mod:`softmaxkit._numba.columns`, one column per SIMD lane.
The reference is the public function on the NumPy path (``dispatch.MIN_SIZE`` raised), and mpmath
for a few small float64 cases. The fast path is exercised on small arrays by lowering ``MIN_SIZE``,
on one thread ('serial') or all ('parallel'), and with blocks so narrow and tasks so short
('blocks') that every shape has ragged blocks and tasks of several blocks. No wall-clock assertions.
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_reference import assert_agree, reference

from softmaxkit import log_softmax, logsumexp, softmax
from softmaxkit._numba import dispatch

pytest.importorskip("numba")

DTYPES = (np.float32, np.float64)
FUNCS = (softmax, log_softmax)


@pytest.fixture(params=["serial", "parallel", "blocks"])
def mode(request, monkeypatch):
    """Fast path on for any size: on one thread, on every thread, or in narrow blocks and short tasks."""
    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    if request.param != "serial":
        monkeypatch.setattr(dispatch, "_SERIAL_SIZE", 0)
    if request.param == "blocks":
        for name in ("_BLOCK_BYTES", "_LSE_BLOCK_BYTES", "_MIN_BLOCK_BYTES"):
            monkeypatch.setattr(dispatch, name, 1)
        monkeypatch.setattr(dispatch, "_MAX_BLOCK", 16)
        monkeypatch.setattr(dispatch, "_MIN_TASK", 100)
    return request.param


@pytest.fixture
def launches(monkeypatch):
    """The column-mode launches of the test, as ``(z3 shape, plan)``."""
    seen = []
    launch = dispatch._launch_columns

    def spy(k, plan, z3, *args):
        seen.append((z3.shape, plan))
        return launch(k, plan, z3, *args)

    monkeypatch.setattr(dispatch, "_launch_columns", spy)
    return seen


def special_columns(dtype, n=97, inner=40, outer=2, seed=0):
    """An ``(outer, n, inner)`` array of random columns plus every edge case, one per column of ``[0]``."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((outer, n, inner)) * 4).astype(dtype)
    big = np.finfo(dtype).max / 4
    c = z[0]  # c[:, i] is column i
    c[3, 0] = np.inf
    c[[5, 60], 1] = np.inf
    c[:, 2] = -np.inf
    c[7, 3] = np.nan
    c[:, 4] = -np.inf
    c[50, 4] = np.nan
    c[[1, 90], 5] = [np.inf, np.nan]
    c[:, 6] = -np.inf
    c[40, 6] = 2.0
    c[:, 7] *= 1e4  # one probability within an ulp of 1
    c[:, 8] += big  # huge logits
    c[::2, 9] = -np.inf
    c[:, 10] = 0.0  # ties everywhere
    c[0, 11] = 80.0  # p close to 1: log_softmax needs log1p of the rest
    c[1::3, 12] = -big
    c[[3, 4], 13] = [big, -big]
    c[33, 14] = np.inf
    c[34, 14] = -np.inf
    c[:, 15] = np.linspace(-200, 0, n).astype(dtype)  # many exponentials in the subnormal range
    c[n - 1, 16] = np.nan  # edge cases in the last class and the last column
    c[0, inner - 1] = np.inf
    z[outer - 1, :, inner - 1] = -np.inf
    return z


def check_all(z, axis, dtype):
    """softmax, log_softmax (allocating and ``out=``) and logsumexp (with and without keepdims) agree with NumPy."""
    for func in FUNCS:
        want = reference(func, z, axis=axis)
        assert_agree(func(z, axis=axis), want, dtype)
        out = np.full(z.shape, 123.0, dtype)
        assert func(z, axis=axis, out=out) is out
        assert_agree(out, want, dtype)
    for keepdims in (False, True):
        want = reference(logsumexp, z, axis=axis, keepdims=keepdims)
        assert_agree(logsumexp(z, axis=axis, keepdims=keepdims), want, dtype)
        out = np.full(want.shape, 123.0, dtype)
        assert logsumexp(z, axis=axis, keepdims=keepdims, out=out) is out
        assert_agree(out, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_columns_match_numpy(mode, launches, dtype):
    z = special_columns(dtype)
    check_all(z, 1, dtype)
    check_all(z, -2, dtype)
    assert all(shape == z.shape for shape, _ in launches)
    if mode == "serial":
        assert launches
    want = reference(logsumexp, z, axis=1)
    got = dispatch.logsumexp(z, 1)
    assert_agree(got.reshape(want.shape), want, dtype)
    c = got.reshape(want.shape)[0]
    assert c[2] == -np.inf and np.isnan(c[4]) and c[0] == np.inf and np.isnan(c[5]) and np.isnan(c[3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("outer", [1, 3])
@pytest.mark.parametrize("n", [1, 2, 7, 300])
@pytest.mark.parametrize("inner", [16, 17, 100])
def test_shapes_match_numpy(mode, launches, dtype, outer, n, inner):
    z = (np.random.default_rng(outer * n + inner).standard_normal((outer, n, inner)) * 5).astype(dtype)
    z[0, n // 2, 0] = np.nan
    z[outer - 1, :, inner - 1] = -np.inf
    z[outer - 1, 0, inner - 2] = np.inf
    check_all(z, 1, dtype)
    if mode == "serial":  # on more threads, too few blocks to share take the row modes
        assert len(launches) == 8


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "axis"), [((300, 40), 0), ((6, 7, 5, 8), 1), ((6, 7, 5, 8), 0), ((6, 7, 5, 8), -3)])
def test_axes_of_2d_and_4d_arrays(mode, launches, dtype, shape, axis):
    z = (np.random.default_rng(1).standard_normal(shape) * 3).astype(dtype)
    z.flat[::37] = np.inf
    z.flat[5::53] = np.nan
    check_all(z, axis, dtype)
    if mode == "serial":
        assert launches


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_fortran_ordered_input(mode, launches, dtype, axis):
    """A Fortran-ordered array is its C-ordered transpose: no copy, whichever axis is the class axis."""
    z = np.asfortranarray(special_columns(dtype, inner=20, outer=5).transpose(2, 1, 0))
    assert z.flags.f_contiguous and not z.flags.c_contiguous
    check_all(z, axis, dtype)
    if axis > 0 and mode == "serial":  # the class axis is not the last axis of the transpose
        assert launches
    for func in FUNCS:
        out = np.empty(z.shape, dtype, order="F")
        assert func(z, axis=axis, out=out) is out  # written directly
        assert_agree(out, reference(func, z, axis=axis), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_layouts_and_in_place(mode, dtype):
    z = special_columns(dtype)
    for func in FUNCS:
        want = reference(func, z, axis=1)
        out = np.full(z.shape, 7.0, dtype, order="F")  # not C-contiguous: written through a temporary
        assert func(z, axis=1, out=out) is out
        assert_agree(out, want, dtype)
        big = np.full((2, 97, 80), 7.0, dtype)
        view = big[:, :, ::2]  # strided out
        assert func(z, axis=1, out=view) is view
        assert_agree(view, want, dtype)
        assert np.all(big[:, :, 1::2] == 7.0)
        zc = z.copy()
        assert func(zc, axis=1, out=zc) is zc  # in place: log-softmax directly, softmax through a temporary
        assert_agree(zc, want, dtype)
        shifted = np.concatenate([z.ravel(), np.zeros(40, dtype)])
        src = shifted[: z.size].reshape(z.shape)
        dst = shifted[40:].reshape(z.shape)  # overlaps the input at an offset: through a temporary
        assert func(src, axis=1, out=dst) is dst
        assert_agree(dst, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_direct_write_into_out(mode, launches, dtype):
    z = np.random.default_rng(2).standard_normal((4, 50, 64)).astype(dtype)
    for log in (False, True):
        out = np.empty_like(z)
        assert dispatch.softmax(z, 1, out=out, log=log) is out
    out = np.empty((4, 64), dtype)
    assert dispatch.logsumexp(z, 1, out=out) is out
    assert_agree(out, reference(logsumexp, z, axis=1), dtype)
    if mode == "serial":
        assert len(launches) == 3


def test_float16_and_temperature(mode, launches):
    z = special_columns(np.float64, inner=32)
    with np.errstate(over="ignore"):
        h = special_columns(np.float16, inner=32)  # huge logits are infinite in float16
    for func in FUNCS:
        got = func(h, axis=1)
        assert got.dtype == np.float16
        assert_agree(got, reference(func, h, axis=1), np.float16)
        assert_agree(func(z, axis=1, temperature=0.3), reference(func, z, axis=1, temperature=0.3), np.float64)
    if mode == "serial":
        assert launches


def test_results_do_not_depend_on_the_blocking(monkeypatch):
    """Each column's arithmetic is its own SIMD lane's: any block width, task length or thread count
    gives the same bits (so a Dask block computes what the whole array would)."""
    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    monkeypatch.setattr(dispatch, "_SERIAL_SIZE", 0)
    for dtype in DTYPES:
        z = special_columns(dtype, n=300, inner=203, outer=3)
        results = []
        for block, task in ((1 << 20, 1 << 15), (1, 100), (3000, 1)):
            monkeypatch.setattr(dispatch, "_BLOCK_BYTES", block)
            monkeypatch.setattr(dispatch, "_LSE_BLOCK_BYTES", block)
            monkeypatch.setattr(dispatch, "_MIN_BLOCK_BYTES", 64)
            monkeypatch.setattr(dispatch, "_MIN_TASK", task)
            results.append([softmax(z, axis=1), log_softmax(z, axis=1), logsumexp(z, axis=1)])
        for other in results[1:]:
            for a, b in zip(results[0], other):
                assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_columns_sum_to_one_accurately(dtype):
    """Blocked sums (the data's dtype over 16 classes, then float64) keep long columns accurate."""
    z = (np.random.default_rng(3).standard_normal((20000, 64)) * 2).astype(dtype)
    y = softmax(z, axis=0)
    total = y.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=(4e-6 if dtype == np.float32 else 1e-14))
    assert_agree(y, reference(softmax, z, axis=0), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_near_one_is_relatively_accurate(dtype):
    """The maximal entry's 1 is kept out of the sum: log p of a probability near 1 keeps its digits."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    z = np.random.default_rng(4).uniform(-40, -20, (3, 150, 256)).astype(dtype)
    z[:, 0, :] = 10.0
    got = log_softmax(z, axis=1)
    lse = logsumexp(z, axis=1)
    for o, i in ((0, 0), (1, 100), (2, 255)):
        rest = mpmath.fsum(mpmath.exp(mpmath.mpf(float(v)) - 10) for v in z[o, 1:, i])
        want = -float(mpmath.log1p(rest))
        assert abs(got[o, 0, i] - want) <= 2 * np.spacing(np.abs(dtype(want)))
        want_lse = 10.0 + float(mpmath.log1p(rest))
        assert abs(lse[o, i] - want_lse) <= np.spacing(dtype(want_lse))


def test_small_float64_cases_against_mpmath(monkeypatch):
    # Expected values computed using mpmath (with mpmath.mp.dps = 50).
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    z = np.random.default_rng(6).integers(-400, 400, (2, 5, 16)) / 8.0  # dyadic: z - max is exact
    z[1, :, 3] = [700.0, -700.0, 1.0, 699.5, -np.inf]
    y, logy, lse = softmax(z, axis=1), log_softmax(z, axis=1), logsumexp(z, axis=1)
    for o in range(2):
        for i in range(16):
            xs = [mpmath.mpf(float(v)) for v in z[o, :, i]]
            s = mpmath.fsum(mpmath.exp(v) for v in xs)
            assert abs(lse[o, i] - float(mpmath.log(s))) <= 2 * np.spacing(abs(lse[o, i]))
            for j, v in enumerate(xs):
                p = mpmath.exp(v) / s
                assert abs(y[o, j, i] - float(p)) <= 4 * np.spacing(float(p)) + 1e-300
                if np.isfinite(z[o, j, i]):
                    lp = float(v - mpmath.log(s))
                    assert abs(logy[o, j, i] - lp) <= 4 * np.spacing(abs(lp)) + 4 * np.spacing(abs(float(v)))


def test_plan():
    """Column mode needs the class axis followed by a vector of entries, and enough blocks to share."""
    z = np.empty((32, 81, 8732), np.float32)
    got = dispatch._column_plan(z, 1, 2, dispatch._BLOCK_BYTES)
    assert got is not None
    z3, (bw, per, serial) = got
    assert z3.shape == (32, 81, 8732) and bw % dispatch._LANES == 0 and per >= 1 and not serial
    assert dispatch._column_plan(z, 2, 2, dispatch._BLOCK_BYTES) is None  # class axis last: the row modes
    assert dispatch._column_plan(np.empty((100, 100, 8), np.float32), 1, 2, dispatch._BLOCK_BYTES) is None  # 8 columns
    assert dispatch._column_plan(np.empty((100, 100, 8), np.float64), 1, 2, dispatch._BLOCK_BYTES) is not None
    assert dispatch._column_plan(z[:, :, ::2], 1, 2, dispatch._BLOCK_BYTES) is None  # not contiguous
    assert dispatch._column_plan(np.empty((10**6, 16), np.float32), 0, 4, dispatch._BLOCK_BYTES) is None  # 1 block
    _, (bw, _, _) = dispatch._column_plan(np.empty((2000, 160), np.float32), 0, 4, dispatch._BLOCK_BYTES)
    assert bw == 48  # narrower blocks: one per thread
