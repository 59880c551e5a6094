"""Correctness of the softmax family in softmaxkit.kernels.

Accuracy is measured in ulps against 60-digit mpmath references; special values follow the limits
documented in the docstrings; property tests (hypothesis) check the identities a softmax must satisfy.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import softmaxkit as sk

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp
mp.dps = 60

inf, nan = np.inf, np.nan
FLOATS = [np.float32, np.float64]
ROW_FUNCS = [sk.softmax, sk.log_softmax]


# --------------------------------------------------------------------------------------------------
# mpmath references
# --------------------------------------------------------------------------------------------------


def _mp_row(values):
    """60-digit (softmax, log_softmax, logsumexp) of one row of exactly-represented floats."""
    xs = [mp.mpf(float(v)) for v in values]
    m = max(xs)
    s = mp.fsum(mp.exp(v - m) for v in xs)
    log_s = mp.log(s)
    return [mp.exp(v - m) / s for v in xs], [v - m - log_s for v in xs], m + log_s


def _ulps(got, ref, dtype):
    """Error of each ``got`` against mpmath ``ref`` in units of the last place of ``dtype``."""
    got = np.asarray(got, dtype=np.float64).ravel()
    ref_f = np.array([float(r) for r in ref]).astype(dtype)
    spacing = np.spacing(np.abs(ref_f)).astype(np.float64)
    return np.array([float(abs(mp.mpf(float(g)) - r)) for g, r in zip(got, ref)]) / spacing


def _random_rows(rng, dtype, n_rows=40):
    """Rows of varied length and scale, including a row with one probability close to 1."""
    rows = []
    for _ in range(n_rows):
        n = int(rng.integers(1, 12))
        scale = float(rng.choice([0.01, 1.0, 5.0, 30.0]))
        rows.append((rng.normal(size=n) * scale).astype(dtype))
    rows.append(np.array([0.0, -40.0, -60.0], dtype))
    rows.append(np.array([3.0, -20.0], dtype))
    return rows


def _shifted(row):
    """The row shifted by its maximum in the row's own precision: the kernels' only rounding of x."""
    return row - row.max()


# --------------------------------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_log_softmax_within_few_ulps_of_mpmath(dtype, rng):
    # Reference on the rounded shifted values: everything after the shift must be accurate to ulps.
    worst_p = worst_logp = 0.0
    for row in _random_rows(rng, dtype):
        p_ref, logp_ref, _ = _mp_row(_shifted(row))
        p, logp = sk.softmax(row), sk.log_softmax(row)
        assert p.dtype == dtype and logp.dtype == dtype
        worst_p = max(worst_p, _ulps(p, p_ref, dtype).max())
        worst_logp = max(worst_logp, _ulps(logp, logp_ref, dtype).max())
    assert worst_p <= 4
    assert worst_logp <= 4


@pytest.mark.parametrize("dtype", FLOATS)
def test_exact_inputs_within_few_ulps_when_shift_is_exact(dtype, rng):
    # Dyadic logits with few bits: x - max(x) is exact, so compare with mpmath on the inputs themselves.
    for _ in range(30):
        row = (rng.integers(-400, 400, size=int(rng.integers(2, 10))) / 16).astype(dtype)
        p_ref, logp_ref, _ = _mp_row(row)
        assert _ulps(sk.softmax(row), p_ref, dtype).max() <= 4
        assert _ulps(sk.log_softmax(row), logp_ref, dtype).max() <= 4


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_accurate(dtype, rng):
    # logsumexp = m + log(sum): the final addition may cancel (m < 0 < log(sum)), which no algorithm
    # avoids once x is rounded; the error is bounded by a few ulps of |m| + log(sum).
    eps = np.finfo(dtype).eps
    for row in _random_rows(rng, dtype):
        _, _, ref = _mp_row(row)
        got = sk.logsumexp(row)
        assert got.dtype == dtype and got.shape == ()
        m = float(row.max())
        bound = 4 * eps * (abs(m) + abs(float(ref - m))) + np.finfo(dtype).tiny
        assert float(abs(mp.mpf(float(got)) - ref)) <= bound


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_few_ulps_without_cancellation(dtype, rng):
    for _ in range(30):
        row = np.abs(rng.normal(size=int(rng.integers(1, 10))) * 10).astype(dtype)
        _, _, ref = _mp_row(row)
        assert _ulps([sk.logsumexp(row)], [ref], dtype).max() <= 4


def test_log_softmax_relative_accuracy_near_probability_one():
    got = sk.log_softmax(np.array([0.0, -40.0]))
    _, ref, _ = _mp_row([0.0, -40.0])
    assert float(ref[0]) == pytest.approx(-4.248354255291589e-18, rel=1e-15)
    assert _ulps(got, ref, np.float64).max() <= 2
    got32 = sk.log_softmax(np.array([0.0, -20.0], np.float32))
    _, ref32, _ = _mp_row([0.0, -20.0])
    assert _ulps(got32, ref32, np.float32).max() <= 2


def test_log_softmax_large_gap_is_exact():
    assert_array_equal(sk.log_softmax([1000.0, 1.0]), [0.0, -999.0])
    assert_array_equal(sk.softmax([1000.0, 1.0]), [1.0, 0.0])
    assert float(sk.logsumexp([1000.0, 1.0])) == 1000.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_huge_logits_backward_stable(dtype, rng):
    # Offsets representable at 1e10 (float64) / 1e4 (float32): the shift is exact, so the result
    # must be ulp-accurate against the inputs themselves.
    big = dtype(1e10) if dtype == np.float64 else dtype(1e4)
    row = big + np.array([0.0, 0.5, 1.25, -3.0, -0.75], dtype)
    p_ref, logp_ref, lse_ref = _mp_row(row)
    assert _ulps(sk.softmax(row), p_ref, dtype).max() <= 4
    assert _ulps(sk.log_softmax(row), logp_ref, dtype).max() <= 4
    assert _ulps([sk.logsumexp(row)], [lse_ref], dtype).max() <= 4
    # Huge logits mixed with moderate ones: x - max rounds (by at most eps * |x| per entry), and that
    # is the only extra error, so the log-probabilities are within a few eps * max|x| of the exact ones.
    eps = float(np.finfo(dtype).eps)
    for _ in range(10):
        row = np.concatenate([big + rng.normal(size=3) * 3, rng.normal(size=3) * float(big) / 3]).astype(dtype)
        p_ref, logp_ref, lse_ref = _mp_row(row)
        err = np.array([float(abs(mp.mpf(float(g)) - r)) for g, r in zip(sk.log_softmax(row), logp_ref)])
        assert np.all(err <= 4 * eps * float(np.abs(row).max()))
        assert float(abs(mp.mpf(float(sk.logsumexp(row))) - lse_ref)) <= 4 * eps * float(np.abs(row).max())
        # the probabilities of the near-maximal entries (the only ones not underflowing) stay ulp-accurate
        top = np.argsort(row)[-3:]
        assert _ulps(sk.softmax(row)[top], [p_ref[i] for i in top], dtype).max() <= 4


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_and_log_sigmoid_within_few_ulps(dtype, rng):
    hi = 700.0 if dtype == np.float64 else 85.0
    x = np.concatenate([rng.uniform(-hi, hi, 60), rng.normal(size=60) * 4, [0.0, 1e-8, -1e-8, 36.0, -36.0]])
    x = x.astype(dtype)
    sig_ref = [1 / (1 + mp.exp(-mp.mpf(float(v)))) for v in x]
    logsig_ref = [-mp.log1p(mp.exp(-mp.mpf(float(v)))) for v in x]
    y, ly = sk.sigmoid(x), sk.log_sigmoid(x)
    assert y.dtype == dtype and ly.dtype == dtype
    assert _ulps(y, sig_ref, dtype).max() <= 4
    assert _ulps(ly, logsig_ref, dtype).max() <= 4


# --------------------------------------------------------------------------------------------------
# special values
# --------------------------------------------------------------------------------------------------


def test_posinf_entries_share_the_mass_equally():
    x = np.array([[inf, 1.0, inf, -inf], [inf, -3.0, 2.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    y = sk.softmax(x)
    assert_array_equal(y[0], [0.5, 0.0, 0.5, 0.0])
    assert_array_equal(y[1], [1.0, 0.0, 0.0, 0.0])
    assert_allclose(y[2], sk.softmax(x[2]))
    logy = sk.log_softmax(x)
    assert_allclose(logy[0], [-np.log(2), -inf, -np.log(2), -inf])
    assert_array_equal(logy[1], [0.0, -inf, -inf, -inf])
    assert_array_equal(sk.logsumexp(x)[:2], [inf, inf])


def test_neginf_entries_get_zero():
    y = sk.softmax([-inf, 0.0, 0.0])
    assert_array_equal(y, [0.0, 0.5, 0.5])
    assert_allclose(sk.log_softmax([-inf, 0.0, 0.0]), [-inf, -np.log(2), -np.log(2)])
    assert float(sk.logsumexp([-inf, 0.0, 0.0])) == pytest.approx(np.log(2))


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
def test_nan_poisons_only_its_own_row(func):
    x = np.array([[1.0, nan, 2.0], [1.0, 2.0, 3.0], [inf, nan, 0.0], [-inf, nan, -inf]])
    y = func(x)
    assert np.all(np.isnan(y[[0, 2, 3]]))
    assert_allclose(y[1], func(x[1]))
    assert not np.any(np.isnan(y[1]))
    # along axis 0 the NaN column is poisoned and no other
    y0 = func(x[:2], axis=0)
    assert np.all(np.isnan(y0[..., 1]))
    assert not np.any(np.isnan(y0[..., [0, 2]]))


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
@pytest.mark.parametrize("dtype", FLOATS)
def test_a_row_never_depends_on_the_other_rows(func, dtype, rng):
    """Bit for bit, each row's result is the row's own result: a batch with an infinite or NaN row,
    or one small enough for the lean path, gives every finite row the same numbers (the Dask path
    and batched prediction rely on it)."""
    x = rng.standard_normal((6, 7)).astype(dtype) * 5
    x[1, 2], x[3, 0], x[4] = inf, nan, -inf
    y = func(x)
    for i in (0, 2, 5):
        assert_array_equal(y[i], func(x[i]))
        assert_array_equal(y[i], func(x[[i, 2]])[0])


def test_all_neginf_row_without_mask():
    x = np.array([[-inf, -inf], [0.0, 0.0]])
    assert np.all(np.isnan(sk.softmax(x)[0]))
    assert np.all(np.isnan(sk.log_softmax(x)[0]))
    assert_array_equal(sk.softmax(x)[1], [0.5, 0.5])
    assert_allclose(sk.logsumexp(x), [-inf, np.log(2)])


def test_where_mask_excludes_entries():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [5.0, inf, nan]])
    where = np.array([[True, False, True], [False, False, False], [True, False, False]])
    p0, p2 = sk.softmax([1.0, 3.0])
    logp0, logp2 = sk.log_softmax([1.0, 3.0])
    y = sk.softmax(x, where=where)
    assert_array_equal(y[0], [p0, 0.0, p2])
    assert_array_equal(y[1], [0.0, 0.0, 0.0])  # fully masked row: zeros
    assert_array_equal(y[2], [1.0, 0.0, 0.0])  # masked +inf and NaN are simply excluded
    logy = sk.log_softmax(x, where=where)
    assert_array_equal(logy[0], [logp0, -inf, logp2])
    assert_array_equal(logy[1], [-inf, -inf, -inf])
    assert_array_equal(logy[2], [0.0, -inf, -inf])
    lse = sk.logsumexp(x, where=where)
    assert_allclose(lse, [sk.logsumexp([1.0, 3.0]), -inf, 5.0])


def test_where_broadcasts_and_combines_with_temperature():
    x = np.arange(6.0).reshape(2, 3)
    where = np.array([True, True, False])
    y = sk.softmax(x, where=where, temperature=2.0)
    assert_allclose(y[:, :2], sk.softmax(x[:, :2] / 2.0))
    assert_array_equal(y[:, 2], 0.0)


def test_sigmoid_special_values():
    assert_array_equal(sk.sigmoid([-inf, 0.0, inf]), [0.0, 0.5, 1.0])
    assert_array_equal(sk.log_sigmoid([-inf, inf]), [-inf, 0.0])
    assert np.isnan(sk.sigmoid([nan])[0]) and np.isnan(sk.log_sigmoid([nan])[0])
    assert_array_equal(sk.log_sigmoid([-1000.0]), [-1000.0])
    assert sk.log_sigmoid([40.0])[0] == pytest.approx(-np.exp(-40.0), rel=1e-15)


# --------------------------------------------------------------------------------------------------
# dtypes, shapes, axes, layouts, out=
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp, sk.sigmoid, sk.log_sigmoid])
@pytest.mark.parametrize(
    ("in_dtype", "out_dtype"),
    [
        (np.float16, np.float16),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int32, np.float64),
        (np.int64, np.float64),
        (np.uint8, np.float64),
        (np.bool_, np.float64),
    ],
)
def test_dtype_rules(func, in_dtype, out_dtype):
    x = np.array([[1, 0, 2], [0, 1, 1]]).astype(in_dtype)
    y = func(x)
    assert y.dtype == out_dtype
    # float16 is computed in float32 and rounded once; integers exactly as float64
    work = np.float32 if in_dtype in (np.float16, np.float32) else np.float64
    assert_array_equal(y, func(x.astype(work)).astype(out_dtype))


def test_float16_overflow_free():
    x = np.array([60000.0, 59000.0, -60000.0], np.float16)
    assert_array_equal(sk.softmax(x), np.array([1.0, 0.0, 0.0], np.float16))
    assert sk.logsumexp(x).dtype == np.float16 and float(sk.logsumexp(x)) == float(x[0])


def test_lists_and_python_scalars():
    assert_allclose(sk.softmax([1.6, 3.1, 0.5]).round(8), [0.17198205, 0.77077009, 0.05724785])
    assert sk.sigmoid(0.0) == 0.5
    assert sk.log_sigmoid(0).dtype == np.float64


SHAPES = [(5,), (1, 1), (3, 4), (2, 3, 4), (2, 1, 3, 2), (4, 1)]


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
@pytest.mark.parametrize("shape", SHAPES)
def test_any_axis_agrees_with_row_by_row(func, shape, rng):
    x = rng.normal(size=shape) * 3
    for axis in range(-len(shape), len(shape)):
        expected = np.stack([func(row) for row in np.moveaxis(x, axis, -1).reshape(-1, shape[axis])])
        got = func(x, axis=axis)
        if func is sk.logsumexp:
            assert_allclose(got.ravel(), expected.ravel(), rtol=1e-14)
            assert got.shape == tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
        else:
            expected = np.moveaxis(expected.reshape(np.moveaxis(x, axis, -1).shape), -1, axis)
            assert_allclose(got, expected, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("shape", SHAPES)
def test_logsumexp_keepdims(shape, rng):
    x = rng.normal(size=shape)
    for axis in range(len(shape)):
        kept = sk.logsumexp(x, axis=axis, keepdims=True)
        assert kept.shape == tuple(1 if i == axis else s for i, s in enumerate(shape))
        assert_allclose(kept, np.log(np.sum(np.exp(x), axis=axis, keepdims=True)), rtol=1e-13)
        assert_allclose(sk.log_softmax(x, axis=axis), x - kept, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp, sk.sigmoid, sk.log_sigmoid])
def test_non_contiguous_inputs(func, rng):
    base = rng.normal(size=(6, 10)) * 4
    views = [base[:, ::2], base[::2], base.T, base[::-1, 1:7], np.asfortranarray(base)]
    for view in views:
        kwargs = {} if func in (sk.sigmoid, sk.log_sigmoid) else {"axis": 0}
        assert_allclose(func(view, **kwargs), func(np.ascontiguousarray(view), **kwargs), rtol=1e-14)
        if kwargs:
            assert_allclose(func(view), func(np.ascontiguousarray(view)), rtol=1e-14)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4)])
def test_empty_arrays(shape):
    x = np.zeros(shape)
    for axis in range(len(shape)):
        for func in ROW_FUNCS:
            y = func(x, axis=axis)
            assert y.shape == shape and y.dtype == np.float64
        lse = sk.logsumexp(x, axis=axis)
        assert lse.shape == tuple(s for i, s in enumerate(shape) if i != axis)
        if shape[axis] == 0:
            assert np.all(lse == -inf)  # log of an empty sum
    assert sk.sigmoid(x).shape == shape
    assert sk.softmax(np.zeros(shape, np.float16)).dtype == np.float16


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp, sk.sigmoid, sk.log_sigmoid])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_inputs_never_modified(func, dtype, rng):
    x = (rng.normal(size=(4, 5)) * 3).astype(dtype)
    x[0, 1], x[1, 2], x[2] = inf, -inf, -inf
    x_copy = x.copy()
    func(x)
    assert_array_equal(x, x_copy)
    if func in (sk.softmax, sk.log_softmax, sk.logsumexp):
        where = rng.random((4, 5)) > 0.3
        where_copy = where.copy()
        func(x, axis=0, where=where)
        assert_array_equal(x, x_copy)
        assert_array_equal(where, where_copy)


def test_backward_inputs_never_modified(rng):
    y = sk.softmax(rng.normal(size=(3, 4)))
    g = rng.normal(size=(3, 4))
    y_copy, g_copy = y.copy(), g.copy()
    sk.softmax_backward(y, g)
    sk.log_softmax_backward(np.log(y), g)
    sk.sigmoid_backward(y, g)
    assert_array_equal(y, y_copy)
    assert_array_equal(g, g_copy)


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_out_argument(func, dtype, rng):
    x = rng.normal(size=(3, 4)).astype(dtype)
    out = np.empty((3, 4), dtype)
    res = func(x, out=out)
    assert res is out
    assert_array_equal(out, func(x))


def test_out_argument_logsumexp_and_sigmoid(rng):
    x = rng.normal(size=(3, 4))
    out = np.empty(3)
    assert sk.logsumexp(x, out=out) is out
    assert_array_equal(out, sk.logsumexp(x))
    out_k = np.empty((3, 1))
    assert sk.logsumexp(x, keepdims=True, out=out_k) is out_k
    out_s = np.empty((3, 4))
    assert sk.sigmoid(x, out=out_s) is out_s
    assert_array_equal(out_s, sk.sigmoid(x))


def test_out_argument_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"softmax: out has shape \(3, 2\), expected \(2, 3\)"):
        sk.softmax(x, out=np.empty((3, 2)))
    with pytest.raises(TypeError, match="log_softmax: out has dtype float32, expected float64"):
        sk.log_softmax(x, out=np.empty((2, 3), np.float32))
    with pytest.raises(TypeError, match="logsumexp: out must be a NumPy array"):
        sk.logsumexp(x, out=[0.0, 0.0])
    ro = np.empty((2, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="softmax: out is read-only"):
        sk.softmax(x, out=ro)


# --------------------------------------------------------------------------------------------------
# invalid arguments
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax])
@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, nan, inf, -inf])
def test_bad_temperature_value(func, temperature):
    with pytest.raises(ValueError, match=f"{func.__name__}: temperature must be a positive finite number"):
        func([1.0, 2.0], temperature=temperature)


@pytest.mark.parametrize("temperature", ["2", None, True, [1.0]])
def test_bad_temperature_type(temperature):
    with pytest.raises(TypeError, match="softmax: temperature must be a real number"):
        sk.softmax([1.0, 2.0], temperature=temperature)


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
def test_axis_out_of_bounds(func):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=f"^{func.__name__}: axis 3 is out of bounds for array of dimension 2$"):
        func(x, axis=3)
    with pytest.raises(ValueError, match=f"{func.__name__}: axis -3 is out of bounds for array of dimension 2"):
        func(x, axis=-3)
    with pytest.raises(TypeError, match=f"{func.__name__}: axis must be an integer"):
        func(x, axis=1.0)
    with pytest.raises(TypeError, match=f"{func.__name__}: axis must be an integer"):
        func(x, axis=(0, 1))
    with pytest.raises(ValueError, match=f"{func.__name__}: x must have at least one dimension"):
        func(np.float64(1.0))


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
def test_bad_where(func):
    x = np.zeros((2, 3))
    with pytest.raises(TypeError, match=f"{func.__name__}: where must be a boolean array"):
        func(x, where=np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{func.__name__}: where of shape \(2,\) cannot be broadcast"):
        func(x, where=np.ones(2, bool))


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp, sk.sigmoid, sk.log_sigmoid])
def test_bad_input_dtype(func):
    with pytest.raises(TypeError, match=f"{func.__name__}: x must be real-valued"):
        func(np.array([1 + 1j, 2]))
    with pytest.raises(TypeError, match=f"{func.__name__}: x must be a numeric array"):
        func(np.array(["a", "b"]))


@pytest.mark.parametrize("func", [sk.softmax_backward, sk.log_softmax_backward, sk.sigmoid_backward])
def test_backward_shape_mismatch(func):
    with pytest.raises(ValueError, match=rf"{func.__name__}: y has shape \(2, 3\) but grad has shape \(3,\)"):
        func(np.zeros((2, 3)), np.zeros(3))


def test_backward_axis_out_of_bounds():
    with pytest.raises(ValueError, match="softmax_backward: axis 2 is out of bounds for array of dimension 2"):
        sk.softmax_backward(np.zeros((2, 3)), np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="log_softmax_backward: y must have at least one dimension"):
        sk.log_softmax_backward(np.float64(0.0), np.float64(1.0))


# --------------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------------

_finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _arrays(dtype=np.float64, elements=_finite, max_dims=3):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=5), elements=elements)


@given(x=_arrays(), data=st.data())
def test_property_probabilities_in_unit_interval_rows_sum_to_one(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    y = sk.softmax(x, axis=axis)
    assert np.all((y >= 0) & (y <= 1))
    assert_allclose(y.sum(axis=axis), 1.0, rtol=0, atol=x.shape[axis] * 4e-16)
    logy = sk.log_softmax(x, axis=axis)
    assert np.all(logy <= 0)
    assert_allclose(np.exp(logy), y, rtol=1e-12, atol=1e-300)
    lse = sk.logsumexp(x, axis=axis, keepdims=True)
    assert np.all(lse >= x.max(axis=axis, keepdims=True))
    assert np.all(lse <= x.max(axis=axis, keepdims=True) + np.log(x.shape[axis]) + 1e-12)


@given(x=_arrays(np.float32, st.floats(-80, 80, width=32)))
def test_property_float32_rows_sum_to_one(x):
    y = sk.softmax(x)
    assert y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))
    assert_allclose(y.sum(axis=-1), 1.0, rtol=0, atol=x.shape[-1] * 2e-7)


@given(
    k=hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=6), elements=st.integers(-4000, 4000)),
    c=st.integers(-(10**6), 10**6),
)
def test_property_shift_invariance_exact(k, c):
    # Dyadic logits and an integer shift: x + c and x + c - max are exact, so results agree bit for bit.
    x = k / 8.0
    assert_array_equal(sk.softmax(x + c), sk.softmax(x))
    assert_array_equal(sk.log_softmax(x + c), sk.log_softmax(x))


@given(x=_arrays(), c=st.floats(-1e4, 1e4))
def test_property_shift_invariance_approximate(x, c):
    # The shift rounds x + c: an absolute error of ~eps * (|x| + |c|) in the logits.
    tol = 8 * np.finfo(float).eps * (np.abs(x).max() + abs(c))
    assert_allclose(sk.log_softmax(x + c), sk.log_softmax(x), rtol=1e-13, atol=tol)
    assert_allclose(sk.logsumexp(x + c), sk.logsumexp(x) + c, rtol=1e-13, atol=tol)


@given(x=_arrays(), t=st.floats(1e-2, 1e2), dtype=st.sampled_from([np.float32, np.float64]))
def test_property_temperature_divides_logits(x, t, dtype):
    x = x.astype(dtype)
    assert_array_equal(sk.softmax(x, temperature=t), sk.softmax(x / dtype(t)))
    assert_array_equal(sk.log_softmax(x, temperature=t), sk.log_softmax(x / dtype(t)))


@given(x=_arrays(max_dims=3), data=st.data())
def test_property_axis_agrees_with_moveaxis(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    for func in ROW_FUNCS:
        expected = np.moveaxis(func(np.moveaxis(x, axis, -1)), -1, axis)
        assert_allclose(func(x, axis=axis), expected, rtol=1e-14, atol=1e-300)
    assert_allclose(sk.logsumexp(x, axis=axis), sk.logsumexp(np.moveaxis(x, axis, -1)), rtol=1e-14)


@given(x=_arrays(elements=st.floats(-50, 50)))
def test_property_sigmoid_is_two_class_softmax(x):
    y = sk.sigmoid(x)
    assert np.all((y >= 0) & (y <= 1))
    pair = np.stack([x, np.zeros_like(x)], axis=-1)
    assert_allclose(y, sk.softmax(pair)[..., 0], rtol=1e-14, atol=1e-300)
    assert_allclose(sk.log_sigmoid(x), sk.log_softmax(pair)[..., 0], rtol=1e-14, atol=1e-300)
    assert_allclose(sk.sigmoid(-x), 1 - y, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------------------------
# large inputs (the fused fast path, once present, must agree with the NumPy reference)
# --------------------------------------------------------------------------------------------------


def _in_small_chunks(func, x, axis, rows=8, **kwargs):
    """Apply ``func`` a few rows at a time (far below any fast-path threshold) and reassemble."""
    xl = np.moveaxis(x, axis, -1)
    flat = xl.reshape(-1, xl.shape[-1])
    parts = [func(flat[i : i + rows], **kwargs) for i in range(0, len(flat), rows)]
    res = np.concatenate(parts)
    if res.ndim == 1:  # logsumexp
        return res.reshape(xl.shape[:-1])
    return np.moveaxis(res.reshape(xl.shape), -1, axis)


def _large_logits(rng, dtype, shape=(500, 130)):
    x = (rng.normal(size=shape) * 5).astype(dtype)
    x[3, 7] = x[3, 100] = inf  # two +inf share the mass
    x[4] = -inf  # NaN row for softmax, -inf for logsumexp
    x[5, 11] = nan
    x[6, :-1] = -inf
    x[7] += dtype(1e4) if dtype == np.float32 else 1e10
    x[8, 0] = dtype(30.0)  # a row with one probability near 1
    return x


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
def test_large_input_matches_small_chunks(func, dtype, rng):
    x = _large_logits(rng, dtype)
    x_copy = x.copy()
    eps = np.finfo(dtype).eps
    for axis in (-1, 0):
        got = func(x, axis=axis)
        ref = _in_small_chunks(func, x, axis)
        assert got.dtype == dtype and got.shape == ref.shape
        assert_array_equal(np.isnan(got), np.isnan(ref))
        assert_array_equal(np.isinf(got), np.isinf(ref))
        finite = np.isfinite(ref)
        assert_allclose(got[finite], ref[finite], rtol=16 * eps, atol=16 * eps if func is sk.softmax else 0)
    assert_array_equal(x, x_copy)
    if func is not sk.logsumexp:
        out = np.empty_like(x)
        assert func(x, out=out) is out
        assert_array_equal(out, func(x))
    else:
        for keepdims in (False, True):
            out = np.empty((x.shape[0], 1) if keepdims else x.shape[0], dtype)
            assert func(x, keepdims=keepdims, out=out) is out
            assert_array_equal(out.ravel(), func(x))


def test_large_non_contiguous_and_float16(rng):
    x = rng.normal(size=(300, 260)) * 3
    view = x[:, ::2]
    assert_allclose(sk.softmax(view), _in_small_chunks(sk.softmax, view, -1), rtol=1e-14, atol=1e-17)
    assert_allclose(sk.log_softmax(x.T, axis=0), _in_small_chunks(sk.log_softmax, x.T, 0), rtol=1e-14)
    h = x.astype(np.float16)
    y = sk.softmax(h)
    assert y.dtype == np.float16
    assert_array_equal(y, sk.softmax(h.astype(np.float32)).astype(np.float16))


def test_large_masked_and_temperature(rng):
    x = rng.normal(size=(400, 100))
    where = rng.random((400, 100)) > 0.2
    where[0] = False
    y = sk.softmax(x, where=where, temperature=0.5)
    ref = np.concatenate([sk.softmax(x[i : i + 8], where=where[i : i + 8], temperature=0.5) for i in range(0, 400, 8)])
    assert_allclose(y, ref, rtol=1e-14, atol=1e-17)
    assert_array_equal(y[0], 0.0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_large_input_within_few_ulps_of_mpmath(dtype, rng):
    # Whatever path a large input takes, sampled rows meet the same accuracy bar as small inputs.
    x = (rng.normal(size=(400, 100)) * rng.choice([0.1, 3.0, 20.0], size=(400, 1))).astype(dtype)
    x[0, :] = -60.0
    x[0, 0] = 0.0  # one probability close to 1
    p, logp, lse = sk.softmax(x), sk.log_softmax(x), sk.logsumexp(x)
    eps = np.finfo(dtype).eps
    for i in [0, *rng.choice(400, size=5, replace=False)]:
        p_ref, logp_ref, _ = _mp_row(_shifted(x[i]))
        assert _ulps(p[i], p_ref, dtype).max() <= 4
        assert _ulps(logp[i], logp_ref, dtype).max() <= 4
        _, _, lse_ref = _mp_row(x[i])
        m = float(x[i].max())
        assert float(abs(mp.mpf(float(lse[i])) - lse_ref)) <= 4 * eps * (abs(m) + abs(float(lse_ref - m)))


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e308), (np.float32, 3e38)])
def test_temperature_that_overflows_the_logits_keeps_the_limit(dtype, big):
    # |x| / T beyond the float range: both entries would overflow to +inf and share the mass;
    # shifting by the row maximum first keeps the exact answer
    x = np.array([[big, big / 2], [1.0, 2.0]], dtype)
    np.testing.assert_array_equal(sk.softmax(x, temperature=1e-10 if dtype == np.float64 else 1e-3)[0], [1.0, 0.0])
    logp = sk.log_softmax(x, temperature=1e-10 if dtype == np.float64 else 1e-3)
    assert logp[0, 0] == 0.0 and logp[0, 1] == -np.inf
    np.testing.assert_allclose(sk.softmax(x, temperature=0.5)[1], sk.softmax(np.array([2.0, 4.0]))[:], rtol=1e-6)
