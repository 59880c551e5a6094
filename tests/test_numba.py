"""The fused numba kernels (:mod:`softmaxkit._numba`) agree with the NumPy reference path.

The reference is the public function with the fast path switched off (``dispatch.MIN_SIZE`` raised);
the fast path is exercised on small arrays by lowering ``MIN_SIZE``, and split mode (rows shared
between threads) by shrinking the chunk lengths. No wall-clock assertions.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from kernel_reference import assert_agree, reference

from softmaxkit import cross_entropy, cross_entropy_and_grad, log_softmax, logsumexp, softmax
from softmaxkit._numba import dispatch

pytest.importorskip("numba")

DTYPES = (np.float32, np.float64)
MODES = ("serial", "rows", "split")


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    """Fast path on for any size: 'serial' on one thread (as small inputs run), 'rows' one row per
    task on every thread, 'split' with chunks so short that rows are split across threads."""
    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    if request.param != "serial":
        monkeypatch.setattr(dispatch, "_SERIAL_SIZE", 0)
    if request.param == "split":
        monkeypatch.setattr(dispatch, "_MIN_CHUNK", 16)
        monkeypatch.setattr(dispatch, "_MAX_CHUNK", 48)
        monkeypatch.setattr(dispatch, "_ROWS_PER_THREAD", 10**6)
    return request.param


def special_rows(dtype, n=97, seed=0):
    """Random rows plus every edge case, one per row."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((24, n)) * 4).astype(dtype)
    big = np.finfo(dtype).max / 4
    z[0, 3] = np.inf
    z[1, [5, 60]] = np.inf
    z[2] = -np.inf
    z[3, 7] = np.nan
    z[4] = -np.inf
    z[4, 50] = np.nan
    z[5, [1, 90]] = [np.inf, np.nan]
    z[6] = -np.inf
    z[6, 40] = 2.0
    z[7] *= 1e4  # one probability within an ulp of 1
    z[8] += big  # huge logits
    z[9, ::2] = -np.inf
    z[10] = 0.0  # ties everywhere
    z[11, 0] = 80.0  # p close to 1: log_softmax needs log1p of the rest
    z[12, 1::3] = -big
    z[13, [3, 4]] = [big, -big]
    z[14, 33] = np.inf
    z[14, 34] = -np.inf
    z[15] = np.linspace(-200, 0, n).astype(dtype)  # many exponentials in the subnormal range
    return z


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_numpy(mode, dtype, log):
    z = special_rows(dtype)
    func = log_softmax if log else softmax
    got = dispatch.softmax(z, 1, log=log)
    assert got is not None
    assert_agree(got, reference(func, z), dtype)
    assert_agree(func(z), reference(func, z), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_sum_to_one(mode, dtype):
    z = (np.random.default_rng(1).standard_normal((10, 333)) * 10).astype(dtype)
    y = dispatch.softmax(z, 1)
    np.testing.assert_allclose(y.sum(axis=1, dtype=np.float64), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_matches_numpy(mode, dtype):
    z = special_rows(dtype)
    got = dispatch.logsumexp(z, 1)
    assert got is not None
    assert_agree(got, reference(logsumexp, z), dtype)
    assert got[2] == -np.inf and np.isnan(got[4]) and got[0] == np.inf and np.isnan(got[5])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_any_axis_and_non_contiguous(mode, dtype, axis):
    base = special_rows(dtype, n=120).reshape(24, 3, 40)
    for z in (base, np.asfortranarray(base), base[:, ::2, :], base.transpose(2, 0, 1)):
        for func in (softmax, log_softmax):
            assert_agree(func(z, axis=axis), reference(func, z, axis=axis), dtype)
        assert_agree(logsumexp(z, axis=axis), reference(logsumexp, z, axis=axis), dtype)
        assert_agree(logsumexp(z, axis=axis, keepdims=True), reference(logsumexp, z, axis=axis, keepdims=True), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", [softmax, log_softmax])
def test_out_is_written_and_returned(mode, dtype, func):
    z = special_rows(dtype)
    want = reference(func, z)
    out = np.full_like(z, 123.0)
    assert func(z, out=out) is out
    assert_agree(out, want, dtype)
    out_t = np.full(z.T.shape, 123.0, dtype)  # class axis first: no direct write, copied in
    assert func(z.T, axis=0, out=out_t) is out_t
    assert_agree(out_t, want.T, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_direct_write(mode, dtype):
    z = np.random.default_rng(2).standard_normal((8, 500)).astype(dtype)
    out = np.empty_like(z)
    assert dispatch.softmax(z, 1, out=out) is out
    assert dispatch.softmax(z, 1, out=out, log=True) is out
    assert_agree(out, reference(log_softmax, z), dtype)
    # In place (out is the input) gives the same result: log-softmax writes in place, softmax through a
    # temporary (its store-and-sum pass is slower over its own input); see dispatch._may_write.
    zc = z.copy()
    assert softmax(zc, out=zc) is zc
    assert_agree(zc, reference(softmax, z), dtype)


def test_logsumexp_out(mode):
    z = special_rows(np.float64)
    out = np.empty(z.shape[0])
    assert logsumexp(z, out=out) is out
    assert_agree(out, reference(logsumexp, z), np.float64)


def _ce_case(dtype, seed=3):
    z = special_rows(dtype, seed=seed)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, z.shape[1], z.shape[0])
    labels[0], labels[1], labels[14] = 3, 7, 34  # +inf label, finite label in a +inf row, -inf label
    return z, labels


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_numpy(mode, dtype):
    z, labels = _ce_case(dtype)
    got = dispatch.cross_entropy_rows(z, labels, np.ones(len(labels), bool))
    assert got is not None
    want = reference(cross_entropy, z, labels, reduction="none")
    assert_agree(got, want, dtype)
    assert_agree(cross_entropy(z, labels, reduction="none"), want, dtype)
    ignored = labels.copy()
    ignored[16::3] = -100  # finite rows (an ignored row with a -inf pick is the reference path's business)
    assert_agree(
        cross_entropy(z, ignored, ignore_index=-100, reduction="none"),
        reference(cross_entropy, z, ignored, ignore_index=-100, reduction="none"),
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_grad_matches_numpy(mode, dtype):
    z, labels = _ce_case(dtype)
    active = np.ones(len(labels), bool)
    active[[16, 20]] = False  # finite rows: their gradient is exactly 0
    loss, grad = dispatch.cross_entropy_grad_rows(z, labels, active)
    _, want_grad = reference(cross_entropy_and_grad, z, np.where(active, labels, -1), ignore_index=-1, reduction="sum")
    assert_agree(loss, np.where(active, reference(cross_entropy, z, labels, reduction="none"), 0), dtype)
    assert_agree(grad, want_grad, dtype)
    assert not grad[[16, 20]].any()
    got_loss, got_grad = cross_entropy_and_grad(z, labels, reduction="sum")
    ref_loss, ref_grad = reference(cross_entropy_and_grad, z, labels, reduction="sum")
    assert_agree(got_grad, ref_grad, dtype)
    assert np.isnan(got_loss) and np.isnan(ref_loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1])
def test_cross_entropy_any_axis(mode, dtype, axis):
    rng = np.random.default_rng(4)
    z = (rng.standard_normal((40, 6, 30)) * 3).astype(dtype)
    labels = rng.integers(0, z.shape[axis], (6, 30) if axis == 0 else (40, 30))
    got = cross_entropy_and_grad(z, labels, axis=axis, reduction="sum")
    want = reference(cross_entropy_and_grad, z, labels, axis=axis, reduction="sum")
    assert_agree(got[0], want[0], dtype, atol_ulps=1024)
    assert_agree(got[1], want[1], dtype)
    assert_agree(
        cross_entropy(z, labels, axis=axis, reduction="none"),
        reference(cross_entropy, z, labels, axis=axis, reduction="none"),
        dtype,
    )


def _ulps(got, want):
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / np.spacing(np.abs(want)).astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_polynomial_exp_accuracy(dtype):
    """exp(x) = _write_exp(x, m=0, scale=1) over the whole range, subnormals and flush to 0 included."""
    from softmaxkit._numba import segments

    info = np.finfo(dtype)
    lo, hi = (-760.0, 600.0) if dtype == np.float64 else (-110.0, 60.0)
    x = np.concatenate([np.linspace(lo, hi, 200_001), np.random.default_rng(5).uniform(-2, 2, 50_000)]).astype(dtype)
    got = np.empty_like(x)
    segments.write_exp(x, got, dtype(0.0), dtype(1.0))
    want = np.exp(x.astype(np.float64)).astype(dtype)  # float64 exp rounded: a good float32 reference
    normal = want >= info.tiny
    assert _ulps(got[normal], want[normal]).max() <= 2
    sub = ~normal
    assert np.all(np.abs(got[sub].astype(np.float64) - want[sub]) <= 2 * np.spacing(dtype(0)))
    assert np.all(got[x < (-746.0 if dtype == np.float64 else -104.0)] == 0)
    special = np.array([-np.inf, 0.0, np.nan], dtype)
    out = np.empty_like(special)
    segments.write_exp(special, out, dtype(0.0), dtype(1.0))
    np.testing.assert_array_equal(out, [0.0, 1.0, np.nan])


def test_polynomial_exp_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    from softmaxkit._numba import segments

    x = np.random.default_rng(6).uniform(-700, 0, 300)
    got = np.empty_like(x)
    segments.write_exp(x, got, 0.0, 1.0)
    want = np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in x])
    assert _ulps(got, want).max() <= 2


def test_serial_launch_restores_thread_count(monkeypatch):
    import numba

    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    before = numba.get_num_threads()
    dispatch.softmax(np.ones((4, 8)), 1)
    assert numba.get_num_threads() == before


def test_plan_modes():
    assert dispatch._plan(16384, 4096, 2) == 1
    assert dispatch._plan(1, 1 << 24, 2) >= 8
    assert dispatch._plan(2, 100_000, 4) >= 8
    assert dispatch._plan(3, 100, 2) == 1


def test_small_inputs_do_not_import_numba():
    code = (
        "import sys, softmaxkit, softmaxkit.nn\n"
        "softmaxkit.softmax([1.0, 2.0]); softmaxkit.log_softmax([[1.0, 2.0]]); softmaxkit.logsumexp([3.0])\n"
        "softmaxkit.cross_entropy([[1.0, 2.0]], [1])\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_numba_returns_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    dispatch._load.cache_clear()
    try:
        z = np.ones((64, 1024))
        assert dispatch.softmax(z, 1) is None
        assert dispatch.logsumexp(z, 1) is None
        np.testing.assert_allclose(softmax(z), 1 / 1024)
    finally:
        dispatch._load.cache_clear()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_mean_with_ignored_rows(mode, dtype):
    rng = np.random.default_rng(7)
    z = (rng.standard_normal((50, 64)) * 3).astype(dtype)
    labels = rng.integers(0, 64, 50)
    labels[::4] = -100
    for target in (labels, np.full(50, -100)):  # some rows ignored; every row ignored (0/0)
        got = cross_entropy_and_grad(z, target, ignore_index=-100)
        want = reference(cross_entropy_and_grad, z, target, ignore_index=-100)
        assert_agree(np.asarray(got[0]), np.asarray(want[0]), dtype, atol_ulps=256)
        assert_agree(got[1], want[1], dtype)
        assert_agree(
            np.asarray(cross_entropy(z, target, ignore_index=-100)),
            np.asarray(reference(cross_entropy, z, target, ignore_index=-100)),
            dtype,
            atol_ulps=256,
        )


def test_worker_threads_get_correct_results(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    z = special_rows(np.float64)
    dispatch.softmax(z, 1)  # initialise the threading layer from the main thread
    want = reference(softmax, z)
    with ThreadPoolExecutor(2) as pool:
        for got in pool.map(lambda _: softmax(z), range(6)):
            assert_agree(got, want, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_near_one_is_relatively_accurate(mode, dtype):
    """log p of a probability within 1e-20 of 1 keeps its relative accuracy (log1p of the rest)."""
    mpmath = pytest.importorskip("mpmath")
    z = np.full((3, 200), -np.inf, dtype)
    z[:, 0] = 10.0
    z[:, 1:150] = np.linspace(-40.0, -60.0, 149).astype(dtype) + np.array([[0.0], [1.0], [2.0]]).astype(dtype)
    got = dispatch.softmax(z, 1, log=True)
    lse = dispatch.logsumexp(z, 1)
    for r in range(3):
        rest = mpmath.fsum(mpmath.exp(mpmath.mpf(float(v)) - 10) for v in z[r, 1:150])
        want = -float(mpmath.log1p(rest))
        assert abs(got[r, 0] - want) <= 4 * np.spacing(np.abs(dtype(want)))
        assert lse[r] == dtype(10.0 + float(mpmath.log1p(rest)))


# Narrow mode (few classes): blocks of rows transposed so that the loops run across rows.


def narrow_rows(dtype, n, rows=300, seed=0):
    """``rows`` random rows of ``n`` classes, with the edge cases (that fit in ``n``) among them."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, n)) * 4).astype(dtype)
    big = np.finfo(dtype).max / 4
    last = n - 1
    z[0, 0] = np.inf
    z[1, [0, last]] = np.inf
    z[2] = -np.inf
    z[3, last] = np.nan
    z[4] = -np.inf
    z[4, 0] = np.nan
    z[5, [0, last]] = [np.nan, np.inf] if n > 1 else [np.nan]
    z[6] = -np.inf
    z[6, last] = 2.0
    z[7] *= 1e4
    z[8] += big
    z[9, ::2] = -np.inf
    z[10] = 0.0
    z[11, 0] = 80.0
    z[12, 1::3] = -big
    z[13, [0, last]] = [big, -big] if n > 1 else [big]
    z[14, 0] = np.inf
    z[14, last] = -np.inf if n > 1 else np.inf
    z[15] = np.linspace(-200, 0, n).astype(dtype)
    z[130, last] = np.nan  # edge cases in later blocks too
    z[257, 0] = np.inf
    z[299] = -np.inf
    return z


@pytest.fixture(params=[False, True], ids=["blocks", "tiny-blocks"])
def narrow_blocks(request, monkeypatch):
    """Default block sizes, or blocks of 7 rows and tasks of 3 blocks (many parallel tasks, ragged ends)."""
    if request.param:
        monkeypatch.setattr(dispatch, "_NARROW_BLOCK", 7)
        monkeypatch.setattr(dispatch, "_NARROW_GROUP", 3)
    return request.param


@pytest.mark.parametrize("n", [1, 2, 10, 32])
@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_rows_match_numpy(mode, narrow_blocks, dtype, n):
    z = narrow_rows(dtype, n)
    assert n <= dispatch._NARROW
    for log, func in ((False, softmax), (True, log_softmax)):
        want = reference(func, z)
        assert_agree(dispatch.softmax(z, 1, log=log), want, dtype)
        out = np.full_like(z, 123.0)
        assert func(z, out=out) is out
        assert_agree(out, want, dtype)
    want = reference(logsumexp, z)
    assert_agree(dispatch.logsumexp(z, 1), want, dtype)
    out = np.empty(z.shape[0], dtype)
    assert logsumexp(z, out=out) is out
    assert_agree(out, want, dtype)
    labels = np.random.default_rng(5).integers(0, n, z.shape[0])
    labels[0] = labels[14] = 0  # +inf label
    if n > 1:
        labels[1] = 1 if n > 2 else 0
        labels[14] = last = n - 1  # -inf label in a row holding +inf
        labels[1] = last - 1 if n > 2 else 0
    active = np.ones(len(labels), bool)
    active[[20, 131]] = False
    want_loss = np.where(active, reference(cross_entropy, z, labels, reduction="none"), 0).astype(dtype)
    assert_agree(dispatch.cross_entropy_rows(z, labels, active), want_loss, dtype)
    loss, grad = dispatch.cross_entropy_grad_rows(z, labels, active, scale=0.5)
    _, want_grad = reference(cross_entropy_and_grad, z, np.where(active, labels, -1), ignore_index=-1, reduction="sum")
    assert_agree(loss, want_loss, dtype)
    assert_agree(grad, want_grad * dtype(0.5), dtype)
    assert not grad[[20, 131]].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_log_softmax_near_one(dtype):
    """The log1p of the rest keeps log p of a probability near 1 relatively accurate in narrow mode too."""
    z = np.array([[30.0, -10.0, -12.0, -np.inf], [0.0, -40.0, -45.0, -50.0]] * 20000, dtype)
    got = log_softmax(z)
    lse = logsumexp(z)
    rest = np.exp(z[:2, 1:].astype(np.float64) - z[:2, :1]).sum(axis=1)
    for r in range(2):
        want = -np.log1p(rest[r])
        assert abs(got[r, 0] - want) <= 4 * np.spacing(np.abs(dtype(want)))
        want_lse = float(z[r, 0]) + np.log1p(rest[r])
        assert abs(lse[r] - want_lse) <= 4 * np.spacing(np.abs(dtype(want_lse)))
