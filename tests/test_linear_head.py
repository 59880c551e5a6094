"""The fused linear + cross-entropy head against the materialised logits (softmaxkit's own loss in float64,
and PyTorch when installed), finite differences, extremes, checks, peak memory, and the nn layer."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import softmaxkit as sk
from softmaxkit import cross_entropy_and_grad, linear_cross_entropy, linear_cross_entropy_and_grad, nn
from softmaxkit.linear_head import default_chunk_size

REDUCTIONS = ("mean", "sum", "none")
IGNORE = -100


def _problem(rng, n=23, d=6, v=13, *, ignore=False, scale=1.0):
    x = rng.standard_normal((n, d)) * scale
    w = rng.standard_normal((v, d))
    b = rng.standard_normal(v)
    t = rng.integers(0, v, n)
    if ignore and n:
        t[rng.permutation(n)[: max(1, n // 4)]] = IGNORE
    return x, w, b, t


def _reference(x, w, t, bias=None, **kw):
    """Loss and gradients through the materialised float64 logits and :func:`cross_entropy_and_grad`."""
    z = x @ w.T + (0 if bias is None else bias)
    loss, g = cross_entropy_and_grad(z, t, **kw)
    return loss, g @ w, g.T @ x, None if bias is None else g.sum(axis=0)


def _assert_close(got, ref, rtol=1e-12, atol=1e-14):
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        if b is None:
            assert a is None
        else:
            assert np.shape(a) == np.shape(b)
            assert_allclose(a, b, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------------------
# against the materialised reference, every option


_COMBOS = list(itertools.product([False, True], [False, True], [0.0, 0.3], REDUCTIONS, [1, 7, 64, None]))


@pytest.mark.parametrize(("with_bias", "ignore", "smoothing", "reduction", "chunk"), _COMBOS)
def test_matches_materialised_float64(with_bias, ignore, smoothing, reduction, chunk, rng):
    x, w, b, t = _problem(rng, ignore=ignore)
    bias = b if with_bias else None
    kw = dict(ignore_index=IGNORE if ignore else None, label_smoothing=smoothing, reduction=reduction)
    ref = _reference(x, w, t, bias, **kw)
    got = linear_cross_entropy_and_grad(x, w, t, bias=bias, chunk_size=chunk, **kw)
    _assert_close(got, ref)
    _assert_close([linear_cross_entropy(x, w, t, bias=bias, chunk_size=chunk, **kw)], ref[:1])
    if ignore:
        assert_array_equal(got[1][t == IGNORE], 0.0)
        if reduction == "none":
            assert_array_equal(got[0][t == IGNORE], 0.0)


@pytest.mark.parametrize("chunk", [None, 130, 299])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_matches_materialised_on_the_fused_kernel_path(chunk, smoothing, rng):
    # blocks of at least 32768 logits take the numba kernels; the last block (of 40 rows for 130) does not
    x, w, b, t = _problem(rng, n=300, d=8, v=300, ignore=True)
    kw = dict(ignore_index=IGNORE, label_smoothing=smoothing)
    _assert_close(linear_cross_entropy_and_grad(x, w, t, bias=b, chunk_size=chunk, **kw), _reference(x, w, t, b, **kw))


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_within_matrix_product_rounding(with_bias, reduction, rng):
    x, w, b, t = _problem(rng, n=200, d=64, v=500)
    bias = b if with_bias else None
    ref = _reference(x, w, t, bias, reduction=reduction)  # float64
    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    got = linear_cross_entropy_and_grad(
        x32, w32, t, bias=b32 if with_bias else None, reduction=reduction, chunk_size=64
    )
    assert np.asarray(got[0]).dtype == np.float32
    assert all(g is None or g.dtype == np.float32 for g in got[1:])
    # the float32 inputs are themselves rounded: compare with a tolerance of a few float32 products
    for a, r in zip(got, ref):
        if r is not None:
            assert_allclose(a, r, rtol=2e-4, atol=2e-5 * np.abs(r).max())


def test_float32_loss_is_summed_in_float64(rng):
    # 100000 equal row losses: a float32 running sum would drift; the float64 sum is exact to float32 rounding
    n = 100_000
    x = np.zeros((n, 2), np.float32)
    w = np.zeros((3, 2), np.float32)
    t = np.zeros(n, np.int64)
    loss = linear_cross_entropy(x, w, t, reduction="sum")
    row = linear_cross_entropy(x, w, t, reduction="none")[0]  # log 3 in float32
    assert loss.dtype == np.float32
    assert loss == np.float32(n * np.float64(row))
    assert np.cumsum(np.full(n, row))[-1] != loss  # what a float32 running sum would give


# --------------------------------------------------------------------------------------------------
# finite differences and properties


def test_gradients_match_central_finite_differences(rng):
    x, w, b, t = _problem(rng, n=9, d=4, v=5, ignore=True)
    kw = dict(bias=b, ignore_index=IGNORE, label_smoothing=0.2, chunk_size=4)
    _, gx, gw, gb = linear_cross_entropy_and_grad(x, w, t, **kw)

    def numeric(array, loss):
        grad = np.zeros_like(array)
        h = 1e-6
        for i in np.ndindex(array.shape):
            old = array[i]
            array[i] = old + h
            up = loss()
            array[i] = old - h
            down = loss()
            array[i] = old
            grad[i] = (up - down) / (2 * h)
        return grad

    loss = lambda: float(linear_cross_entropy(x, w, t, **kw))  # noqa: E731
    assert_allclose(gx, numeric(x, loss), rtol=1e-6, atol=1e-9)
    assert_allclose(gw, numeric(w, loss), rtol=1e-6, atol=1e-9)
    assert_allclose(gb, numeric(b, loss), rtol=1e-6, atol=1e-9)


@given(
    n=st.integers(0, 9),
    d=st.integers(0, 5),
    v=st.integers(1, 7),
    chunk=st.integers(1, 10) | st.none(),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.1, 3.0, 100.0]),
    with_bias=st.booleans(),
    ignore=st.booleans(),
    smoothing=st.sampled_from([0.0, 1.0]) | st.floats(0, 1),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_property_any_blocking_equals_materialised(
    n, d, v, chunk, seed, scale, with_bias, ignore, smoothing, reduction
):
    rng = np.random.default_rng(seed)
    x, w, b, t = _problem(rng, n, d, v, ignore=ignore, scale=scale)
    kw = dict(ignore_index=IGNORE if ignore else None, label_smoothing=smoothing, reduction=reduction)
    bias = b if with_bias else None
    ref = _reference(x, w, t, bias, **kw)
    got = linear_cross_entropy_and_grad(x, w, t, bias=bias, chunk_size=chunk, **kw)
    for a, r in zip(got, ref):
        if r is None:
            assert a is None
        else:
            finite = np.abs(r[np.isfinite(r)]) if np.ndim(r) else np.abs(r[()] if np.isfinite(r) else 0.0)
            size = max(1.0, float(np.max(finite, initial=0.0)))
            assert_allclose(a, r, rtol=1e-11, atol=1e-12 * size)


# --------------------------------------------------------------------------------------------------
# extremes and special values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_are_stable(dtype, rng):
    # logits in the thousands (float32: 1e4, float64: 1e30): exp would overflow, the loss does not
    x, w, b, t = _problem(rng, n=50, d=3, v=40)
    x *= 1e4 if dtype == np.float32 else 1e30
    loss, gx, gw, gb = linear_cross_entropy_and_grad(
        x.astype(dtype), w.astype(dtype), t, bias=b.astype(dtype), reduction="none", chunk_size=16
    )
    assert np.isfinite(loss).all() and np.isfinite(gx).all() and np.isfinite(gw).all() and np.isfinite(gb).all()
    z = x.astype(dtype) @ w.astype(dtype).T + b.astype(dtype)
    ref = sk.cross_entropy(z.astype(np.float64), t, reduction="none")
    assert_allclose(loss, ref, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_docstring_overflow_example():
    assert linear_cross_entropy(np.array([[1e3]]), np.array([[1.0], [0.0]]), np.array([1])) == 1000.0


def test_nan_propagates_to_its_row_only_and_is_no_error(rng):
    x, w, b, t = _problem(rng, n=8, d=3, v=5)
    x[2, 1] = np.nan
    loss, gx, _gw, _gb = linear_cross_entropy_and_grad(x, w, t, bias=b, reduction="none", chunk_size=3)
    assert np.isnan(loss[2]) and np.isfinite(np.delete(loss, 2)).all()
    assert np.isnan(gx[2]).all() and np.isfinite(np.delete(gx, 2, axis=0)).all()
    assert np.isnan(linear_cross_entropy(x, w, t, bias=b))
    ref = sk.cross_entropy(x @ w.T + b, t, reduction="none")
    assert_allclose(loss, ref, rtol=1e-12, equal_nan=True)


def test_an_ignored_nan_row_costs_nothing(rng):
    x, w, b, t = _problem(rng, n=8, d=3, v=5)
    x[2] = np.nan
    t[2] = IGNORE
    loss, gx, gw, gb = linear_cross_entropy_and_grad(x, w, t, bias=b, ignore_index=IGNORE)
    assert np.isfinite(loss) and np.isfinite(gw).all() and np.isfinite(gb).all()
    assert_array_equal(gx[2], 0.0)
    _assert_close((loss, gw, gb), (*_reference(np.delete(x, 2, 0), w, np.delete(t, 2), b)[::2], gb))


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_rows_ignored(smoothing, reduction, rng):
    x, w, b, t = _problem(rng, n=6, d=3, v=4)
    t[:] = IGNORE
    loss, gx, gw, gb = linear_cross_entropy_and_grad(
        x, w, t, bias=b, ignore_index=IGNORE, label_smoothing=smoothing, reduction=reduction
    )
    if reduction == "mean":
        assert np.isnan(loss)  # 0 / 0, as in PyTorch and cross_entropy
    else:
        assert_array_equal(loss, 0.0)
    for g in (gx, gw, gb):
        assert_array_equal(g, 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(reduction, rng):
    _, w, b, _ = _problem(rng, n=0)
    x, t = np.zeros((0, 6)), np.zeros(0, np.int64)
    loss, gx, gw, gb = linear_cross_entropy_and_grad(x, w, t, bias=b, reduction=reduction)
    expected = {"mean": np.nan, "sum": 0.0, "none": np.zeros(0)}[reduction]
    assert_array_equal(loss, expected)
    assert gx.shape == (0, 6) and gw.shape == w.shape and gb.shape == b.shape
    assert_array_equal(gw, 0.0)
    assert_array_equal(gb, 0.0)


def test_no_features_leaves_the_bias(rng):
    b = rng.standard_normal(4)
    t = np.array([0, 3, 1])
    loss, gx, gw, gb = linear_cross_entropy_and_grad(np.zeros((3, 0)), np.zeros((4, 0)), t, bias=b)
    ref_loss, g = cross_entropy_and_grad(np.tile(b, (3, 1)), t)
    assert_allclose(loss, ref_loss, rtol=1e-14)
    assert_allclose(gb, g.sum(axis=0), rtol=1e-14)
    assert gx.shape == (3, 0) and gw.shape == (4, 0)


# --------------------------------------------------------------------------------------------------
# dtypes, outputs, upstream gradients


@pytest.mark.parametrize(
    ("x_dtype", "w_dtype", "loss_dtype"),
    [
        (np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float64),
        (np.float16, np.float16, np.float16),
        (np.float16, np.float32, np.float32),
    ],
)
def test_dtypes_promote_and_each_gradient_keeps_its_argument_dtype(x_dtype, w_dtype, loss_dtype, rng):
    x, w, b, t = _problem(rng, n=5, d=3, v=4)
    x, w, b = x.astype(x_dtype), w.astype(w_dtype), b.astype(np.float32)
    loss, gx, gw, gb = linear_cross_entropy_and_grad(x, w, t, bias=b)
    assert np.asarray(loss).dtype == np.result_type(loss_dtype, np.float32 if loss_dtype != np.float64 else loss_dtype)
    assert (gx.dtype, gw.dtype, gb.dtype) == (np.dtype(x_dtype), np.dtype(w_dtype), np.dtype(np.float32))
    assert linear_cross_entropy(x, w, t, bias=b, reduction="none").dtype == np.asarray(loss).dtype


def test_float16_sum_beyond_its_range_is_inf():
    x, w, t = np.zeros((70_000, 1), np.float16), np.zeros((3, 1), np.float16), np.zeros(70_000, np.int64)
    loss = linear_cross_entropy(x, w, t, reduction="sum")  # 76900 > 65504: no overflow warning, inf
    assert loss.dtype == np.float16 and loss == np.inf


def test_inputs_are_never_modified(rng):
    x, w, b, t = _problem(rng, ignore=True)
    copies = [a.copy() for a in (x, w, b, t)]
    linear_cross_entropy_and_grad(x, w, t, bias=b, ignore_index=IGNORE, label_smoothing=0.1, chunk_size=5)
    for a, c in zip((x, w, b, t), copies):
        assert_array_equal(a, c)


@pytest.mark.parametrize("ignore", [False, True])
def test_out_arrays_are_written_and_returned(ignore, rng):
    x, w, b, t = _problem(rng, ignore=ignore)
    kw = dict(bias=b, ignore_index=IGNORE if ignore else None, chunk_size=4)
    out = (np.full_like(x, np.nan), np.full_like(w, np.nan), np.full_like(b, np.nan))
    got = linear_cross_entropy_and_grad(x, w, t, out=out, **kw)
    assert all(g is o for g, o in zip(got[1:], out))
    _assert_close(got, linear_cross_entropy_and_grad(x, w, t, **kw), rtol=0, atol=0)


def test_out_may_alias_the_inputs(rng):
    # grad_weight written into weight itself: the products must read the weights before
    x, w, b, t = _problem(rng)
    ref = linear_cross_entropy_and_grad(x, w, t, bias=b, chunk_size=5)
    x2, w2 = x.copy(), w.copy()
    got = linear_cross_entropy_and_grad(x2, w2, t, bias=b, chunk_size=5, out=(x2, w2, None))
    assert got[1] is x2 and got[2] is w2
    _assert_close(got[:3], ref[:3], rtol=0, atol=0)


def test_fortran_ordered_weight_is_read_in_place(rng):
    # the transpose of a (D, V) array, as Dense lays its weight out: no copy of the weight
    x, w, b, t = _problem(rng, n=64, d=64, v=4096)
    w_f = np.asfortranarray(w)
    kw = dict(bias=b, chunk_size=64)
    _assert_close(linear_cross_entropy_and_grad(x, w_f, t, **kw), linear_cross_entropy_and_grad(x, w, t, **kw))
    out = (np.empty_like(x), np.empty_like(w), np.empty_like(b))
    linear_cross_entropy_and_grad(x, w_f, t, out=out, **kw)
    tracemalloc.start()
    try:
        linear_cross_entropy_and_grad(x, w_f, t, out=out, **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 4096 * 8 + w.nbytes / 2  # the block, and no copy of the weight


def test_out_of_another_dtype_is_refused(rng):
    x, w, _b, t = _problem(rng)
    gw = np.empty(w.shape, np.float32)
    with pytest.raises(TypeError, match="grad_weight: out has dtype float32, expected float64"):
        linear_cross_entropy_and_grad(x, w, t, out=(None, gw, None))


def test_grad_output_weights_rows_and_scales_the_mean(rng):
    x, w, b, t = _problem(rng, ignore=True)
    kw = dict(bias=b, ignore_index=IGNORE, chunk_size=6)
    sw = rng.uniform(0.1, 2.0, len(t))
    _rows, gx, gw, gb = linear_cross_entropy_and_grad(x, w, t, reduction="none", grad_output=sw, **kw)
    z = x @ w.T + b
    _, g = cross_entropy_and_grad(z, t, reduction="none", ignore_index=IGNORE)
    g *= sw[:, None]
    _assert_close((gx, gw, gb), (g @ w, g.T @ x, g.sum(axis=0)))
    mean = linear_cross_entropy_and_grad(x, w, t, grad_output=2.5, **kw)
    _assert_close(mean[1:], [2.5 * a for a in linear_cross_entropy_and_grad(x, w, t, **kw)[1:]])


# --------------------------------------------------------------------------------------------------
# argument checks


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (dict(x=np.zeros(6)), ValueError, "x must be 2-d of shape \\(n_samples, n_features\\)"),
        (dict(x=np.zeros((23, 6), np.int64)), TypeError, "x must be a floating-point array, got dtype int64"),
        (dict(weight=np.zeros((13, 5))), ValueError, "weight must have shape \\(n_classes, 6\\)"),
        (dict(weight=np.zeros((0, 6))), ValueError, "weight must have at least one row"),
        (dict(weight=np.zeros(13)), ValueError, "weight must be 2-d"),
        (dict(bias=np.zeros(12)), ValueError, "bias must have shape \\(13,\\)"),
        (dict(bias=np.zeros(13, complex)), TypeError, "bias must be a floating-point array"),
        (dict(target=np.zeros(22, np.int64)), ValueError, "target must have shape \\(23,\\)"),
        (dict(target=np.zeros(23)), TypeError, "target must hold integer class labels, got dtype float64"),
        (dict(target=np.full(23, 13)), ValueError, "target has label 13 out of range for 13 classes"),
        (dict(target=np.full(23, -100)), ValueError, "target has label -100 out of range"),
        (dict(chunk_size=0), ValueError, "chunk_size must be a positive integer or None, got 0"),
        (dict(chunk_size=2.0), TypeError, "chunk_size must be a positive integer or None"),
        (dict(chunk_size=True), TypeError, "chunk_size must be a positive integer or None"),
        (dict(reduction="avg"), ValueError, "reduction must be one of 'mean' \\| 'sum' \\| 'none'"),
        (dict(label_smoothing=1.5), ValueError, "label_smoothing must be a number in \\[0, 1\\]"),
        (dict(ignore_index=1.0), TypeError, "ignore_index must be an integer or None"),
        (dict(x=np.ma.masked_invalid(np.zeros((23, 6)))), TypeError, "x is a masked array"),
    ],
)
@pytest.mark.parametrize("func", [linear_cross_entropy, linear_cross_entropy_and_grad])
def test_bad_arguments_are_named(func, change, error, message, rng):
    x, w, b, t = _problem(rng)
    args = dict(x=x, weight=w, target=t, bias=b) | change
    with pytest.raises(error, match=f"^{func.__name__}: {message}"):
        func(args.pop("x"), args.pop("weight"), args.pop("target"), **args)


def test_ignore_index_exempts_its_label_from_the_range_check(rng):
    x, w, _b, t = _problem(rng, ignore=True)
    assert np.isfinite(linear_cross_entropy(x, w, t, ignore_index=IGNORE))


@pytest.mark.parametrize(
    ("reduction", "grad_output", "error", "message"),
    [
        ("none", np.ones(22), ValueError, "grad_output must have shape \\(23,\\)"),
        ("none", np.array(["a"] * 23), TypeError, "grad_output must be a real array"),
        ("mean", np.ones(23), TypeError, "grad_output must be a real scalar, got shape \\(23,\\)"),
    ],
)
def test_bad_grad_output(reduction, grad_output, error, message, rng):
    x, w, _b, t = _problem(rng)
    with pytest.raises(error, match=message):
        linear_cross_entropy_and_grad(x, w, t, reduction=reduction, grad_output=grad_output)


def test_bad_out(rng):
    x, w, _b, t = _problem(rng)
    fname = "linear_cross_entropy_and_grad"
    with pytest.raises(TypeError, match=f"{fname}: out must be a tuple"):
        linear_cross_entropy_and_grad(x, w, t, out=[None, None, None])
    with pytest.raises(ValueError, match="grad_weight: out has shape \\(6, 13\\), expected \\(13, 6\\)"):
        linear_cross_entropy_and_grad(x, w, t, out=(None, np.empty((6, 13)), None))
    with pytest.raises(ValueError, match="there is no bias"):
        linear_cross_entropy_and_grad(x, w, t, out=(None, None, np.empty(13)))
    shared = np.empty(23 * 6 + 13 * 6)
    with pytest.raises(ValueError, match="grad_x and grad_weight share memory"):
        linear_cross_entropy_and_grad(x, w, t, out=(shared[: 23 * 6].reshape(23, 6), shared[:78].reshape(13, 6), None))


def test_default_chunk_size():
    assert default_chunk_size(32768) == 256  # 32 MiB of float32 logits
    assert default_chunk_size(131072) == 128  # at least 128 rows
    assert default_chunk_size(131072, np.float64) == 128
    assert default_chunk_size(10) == 1024


# --------------------------------------------------------------------------------------------------
# memory: the point of the exercise


def test_peak_memory_is_a_block_not_the_logits(rng):
    n, d, v, chunk = 4096, 16, 8192, 64
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal((v, d), dtype=np.float32)
    b = rng.standard_normal(v, dtype=np.float32)
    t = rng.integers(0, v, n)
    out = (np.empty_like(x), np.empty_like(w), np.empty_like(b))
    linear_cross_entropy_and_grad(x, w, t, bias=b, chunk_size=chunk, out=out)  # warm up (imports, compilation)
    logits_bytes = n * v * 4  # 128 MiB
    block_bytes = chunk * v * 4  # 2 MiB
    tracemalloc.start()
    try:
        linear_cross_entropy_and_grad(x, w, t, bias=b, chunk_size=chunk, out=out)
        _, with_out = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        linear_cross_entropy_and_grad(x, w, t, bias=b, label_smoothing=0.1, chunk_size=chunk)
        _, allocating = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = x.nbytes + w.nbytes + b.nbytes
    assert with_out < logits_bytes / 8
    assert with_out < 2 * block_bytes  # the block buffer and small per-block vectors: no hidden copies
    assert allocating < 2 * block_bytes + outputs


# --------------------------------------------------------------------------------------------------
# the nn layer


def _head(rng, bias=True, **kw):
    head = nn.LinearCrossEntropyHead(6, 13, bias=bias, rng=rng, **kw)
    if bias:
        head.params["bias"][...] = rng.standard_normal(13)
    return head


@pytest.mark.parametrize("bias", [False, True])
def test_head_forward_backward_is_a_dense_layer(bias, rng):
    head = _head(rng, bias).astype(np.float64)
    x = rng.standard_normal((5, 6))
    w = head.params["weight"]
    z = head.forward(x, training=True)
    assert_allclose(z, x @ w.T + (head.params["bias"] if bias else 0), rtol=1e-14)
    g = rng.standard_normal(z.shape)
    gx = head.backward(g)
    assert_allclose(gx, g @ w, rtol=1e-13)
    assert_allclose(head.grads["weight"], g.T @ x, rtol=1e-13)
    if bias:
        assert_allclose(head.grads["bias"], g.sum(axis=0), rtol=1e-13)
    else:
        assert set(head.params) == set(head.grads) == {"weight"}
    assert head.output_shape((6,)) == (13,)
    with pytest.raises(ValueError, match="expected input of shape \\(n, 6\\)"):
        head.forward(np.ones((2, 5)))


@pytest.mark.parametrize("bias", [False, True])
def test_head_loss_and_backward_is_the_fused_function(bias, rng):
    head = _head(rng, bias, label_smoothing=0.1, ignore_index=IGNORE, chunk_size=4)
    x = rng.standard_normal((11, 6)).astype(np.float32)
    t = rng.integers(0, 13, 11)
    t[3] = IGNORE
    grads_before = {k: id(v) for k, v in head.grads.items()}
    loss, gx = head.loss_and_backward(x, t)
    ref = linear_cross_entropy_and_grad(
        x, head.params["weight"], t, bias=head.params.get("bias"), label_smoothing=0.1, ignore_index=IGNORE
    )
    assert_allclose(loss, ref[0], rtol=1e-6)
    assert_allclose(gx, ref[1], rtol=1e-5, atol=1e-7)
    assert_allclose(head.grads["weight"], ref[2], rtol=1e-5, atol=1e-7)
    if bias:
        assert_allclose(head.grads["bias"], ref[3], rtol=1e-5, atol=1e-7)
    assert {k: id(v) for k, v in head.grads.items()} == grads_before  # filled in place
    # the same as the materialised path through forward and backward
    z = head.forward(x, training=True)
    _, g = cross_entropy_and_grad(z, t, label_smoothing=0.1, ignore_index=IGNORE)
    assert_allclose(head.backward(g), gx, rtol=1e-4, atol=1e-6)


def test_head_config_validation_and_rebuild(rng):
    head = _head(rng, label_smoothing=0.2, ignore_index=-1, chunk_size=8)
    again = type(head)(**head.config())
    assert again.config() == head.config()
    assert head.params["weight"].shape == (13, 6) and head.params["weight"].dtype == np.float32
    with pytest.raises(ValueError, match="LinearCrossEntropyHead: n_classes must be a positive integer"):
        nn.LinearCrossEntropyHead(6, 0)
    with pytest.raises(TypeError, match="LinearCrossEntropyHead: bias must be True or False"):
        nn.LinearCrossEntropyHead(6, 3, bias=1)


@pytest.mark.parametrize("bias", [False, True])
def test_head_model_file_round_trip(bias, rng, tmp_path):
    model = nn.Sequential(
        [nn.Dense(4, 6, rng=rng), nn.ReLU(), _head(rng, bias, label_smoothing=0.1, chunk_size=32)],
        input_shape=(4,),
    )
    path = tmp_path / "head.skm"
    nn.save(model, path)
    loaded = nn.load(path)
    head = loaded.layers[-1]
    assert isinstance(head, nn.LinearCrossEntropyHead)
    assert head.config() == model.layers[-1].config()
    x = rng.standard_normal((7, 4))
    assert_array_equal(loaded.predict_logits(x), model.predict_logits(x))
    assert model.predict(x).shape == (7,)


def test_head_model_file_with_a_bad_bias_flag_is_refused(rng, tmp_path):
    import json

    model = nn.Sequential([_head(rng, True)])
    path = tmp_path / "head.skm"
    nn.save(model, path)
    header = json.loads(str(np.load(path)["__model__"]))
    header["layers"][0]["config"]["bias"] = "yes"
    arrays = dict(np.load(path))
    arrays["__model__"] = np.array(json.dumps(header))
    bad = tmp_path / "bad.skm"
    with open(bad, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(sk.exceptions.ModelFileError, match="bias must be true or false"):
        nn.load(bad)


def test_head_has_no_onnx_conversion(rng, tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential([_head(rng)], input_shape=(6,))
    with pytest.raises(TypeError, match="has no ONNX conversion"):
        sk.export_onnx(model, tmp_path / "m.onnx")


# --------------------------------------------------------------------------------------------------
# PyTorch (skipped without it): F.cross_entropy(F.linear(x, weight, bias), target) with autograd


def _torch_reference(x, w, t, bias=None, **kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if bias is None else torch.tensor(bias, requires_grad=True)
    if kw.get("ignore_index") is None:
        kw["ignore_index"] = -100  # PyTorch's default; no label of these problems equals it
    loss = F.cross_entropy(F.linear(xt, wt, bt), torch.tensor(t), **kw)
    loss.sum().backward()
    return (
        loss.detach().numpy(),
        xt.grad.numpy(),
        wt.grad.numpy(),
        None if bt is None else bt.grad.numpy(),
    )


@pytest.mark.parametrize(("with_bias", "ignore", "smoothing", "reduction"), [c[:4] for c in _COMBOS if c[4] == 7])
def test_matches_torch(with_bias, ignore, smoothing, reduction, rng):
    x, w, b, t = _problem(rng, ignore=ignore)
    bias = b if with_bias else None
    kw = dict(ignore_index=IGNORE if ignore else None, label_smoothing=smoothing, reduction=reduction)
    ref = _torch_reference(x, w, t, bias, **kw)
    _assert_close(linear_cross_entropy_and_grad(x, w, t, bias=bias, chunk_size=7, **kw), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_ignored_matches_torch(reduction, rng):
    x, w, b, t = _problem(rng, n=5)
    t[:] = IGNORE
    kw = dict(ignore_index=IGNORE, label_smoothing=0.2, reduction=reduction)
    ref = _torch_reference(x, w, t, b, **kw)
    got = linear_cross_entropy_and_grad(x, w, t, bias=b, **kw)
    for a, r in zip(got, ref):
        assert_array_equal(a, r)  # NaN and zeros alike


def test_float32_matches_torch(rng):
    x, w, b, t = _problem(rng, n=300, d=32, v=1000)
    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    ref = _torch_reference(x, w, t, b, label_smoothing=0.1)
    got = linear_cross_entropy_and_grad(x, w, t, bias=b, label_smoothing=0.1, chunk_size=128)
    for a, r in zip(got, ref):
        assert np.asarray(a).dtype == np.float32
        assert_allclose(a, r, rtol=1e-4, atol=1e-6 * np.abs(r).max())


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_trains_a_head_through_the_fused_path(weighted, rng, monkeypatch):
    """train.fit on a model ending in LinearCrossEntropyHead never forms the logits in a step, and
    reaches the parameters that the materialised path (the same layer, trained on its logits) does."""
    from softmaxkit import train

    class Materialised(train.SoftmaxCrossEntropy):
        """The default loss under another type: fit then trains on the head's logits."""

    x = rng.standard_normal((96, 5))
    y = rng.integers(0, 7, 96)
    w = rng.random(96) + 0.5 if weighted else None

    def run(loss):
        model = nn.Sequential(
            [
                nn.Dense(5, 8, rng=np.random.default_rng(1)),
                nn.ReLU(),
                nn.LinearCrossEntropyHead(8, 7, rng=np.random.default_rng(2)),
            ]
        ).astype(np.float64)
        train.fit(
            model,
            x,
            y,
            optimizer=nn.optim.SGD(0.1, momentum=0.9),
            rng=np.random.default_rng(3),
            loss=loss,
            epochs=2,
            batch_size=32,
            x_val=x[:16],
            y_val=y[:16],
            progress=False,
            sample_weight=w,
        )
        return [p.copy() for p, _, _ in model.parameters()]

    calls = []
    original = nn.LinearCrossEntropyHead.loss_and_backward

    def spy(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nn.LinearCrossEntropyHead, "loss_and_backward", spy)
    fused = run(None)
    monkeypatch.undo()
    assert calls  # the fused path ran
    for a, b in zip(fused, run(Materialised())):
        assert_allclose(a, b, rtol=1e-9, atol=1e-12)
