"""Hostile array arguments of the kernels and losses: ``out=`` over the inputs, array subclasses, layouts.

Three kinds of silent wrong results, each checked for every public function it applies to:

- ``out=`` sharing memory with an input: offset views of one buffer, reversed and transposed views,
  exact aliasing (an in-place call), ``out`` over ``where``, ``y`` or ``grad``; on the NumPy path and
  on the fused path in each launch mode. The reference is the same call on fresh copies.
- ndarray subclasses: ``np.matrix`` and other subclasses are plain arrays (elementwise arithmetic,
  plain results); masked arrays are refused with a ``TypeError`` that names the function and the
  argument, whichever argument they are (data, target, weight, mask, ``out``).
- accuracy along any axis and in any layout: softmax rows sum to 1 within a few eps and agree with a
  float64 reference (hypothesis), and float32 columns of 200,000 rows sum to 1 on every path.

No wall-clock assertions.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import softmaxkit as sk
from softmaxkit._numba import dispatch

# np.matrix announces its own deprecation on creation; that is not what these tests look at
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

FLOATS = (np.float32, np.float64)
#: Launch paths: the NumPy reference, and the fused kernels on one thread, one row per task, rows split.
PATHS = ("numpy", "serial", "rows", "split")
#: A wide shape (per-row and split modes) and a narrow one (narrow mode: at most 32 classes).
SHAPES = ((24, 97), (64, 7))


@contextlib.contextmanager
def _min_size(value):
    """Arrays of at least ``value`` elements take the fused path (for use inside hypothesis tests)."""
    saved = dispatch.MIN_SIZE
    dispatch.MIN_SIZE = value
    try:
        yield
    finally:
        dispatch.MIN_SIZE = saved


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Force one path for any size, as tests/test_numba.py does."""
    if request.param == "numpy":
        monkeypatch.setattr(dispatch, "MIN_SIZE", 1 << 62)
        return request.param
    pytest.importorskip("numba")
    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    if request.param != "serial":
        monkeypatch.setattr(dispatch, "_SERIAL_SIZE", 0)
    if request.param == "split":
        monkeypatch.setattr(dispatch, "_MIN_CHUNK", 16)
        monkeypatch.setattr(dispatch, "_MAX_CHUNK", 48)
        monkeypatch.setattr(dispatch, "_ROWS_PER_THREAD", 10**6)
    return request.param


def _spice(a):
    """Put the special values into the first rows of ``a`` (in place): +inf, -inf rows, NaN, a sure class."""
    a[0, 3] = np.inf
    a[1, :] = -np.inf
    a[2, 5] = np.nan
    a[3, [1, 4]] = np.inf
    a[4, 0] = 80.0
    return a


def _fresh(a):
    """A copy of ``a`` in new memory with the same strides: the reference input of an overlap test.

    NumPy's loops (and so the last bit of an ``exp``) depend on the strides, so the reference keeps them.
    """
    lo, hi = np.lib.array_utils.byte_bounds(a)
    buf = np.empty(hi - lo, np.uint8)
    offset = a.__array_interface__["data"][0] - lo
    copy = np.ndarray(a.shape, a.dtype, buffer=buf, offset=offset, strides=a.strides)
    copy[...] = a
    return copy


def _assert_same(got, want):
    """Bitwise the same values (NaN where NaN): the overlap must not change a single result."""
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------------------------------
# out= sharing memory with an input
# --------------------------------------------------------------------------------------------------

#: How ``out`` and the input share memory; "interleaved" shares none, though their bounds overlap.
OVERLAPS = (
    "offset+1",
    "offset+7",
    "offset+row",
    "offset-7",
    "reversed-rows",
    "reversed",
    "reversed-input",
    "transposed",
    "exact",
    "same-memory-new-view",
    "interleaved",
    "strided-input",
)


def _overlapping(kind, shape, dtype, rng):
    """``(input, out)``: views of one buffer, overlapping as ``kind`` says; the input holds random values."""
    rows, n = shape
    size = rows * n
    if kind.startswith("offset"):
        k = {"offset+1": 1, "offset+7": 7, "offset+row": n, "offset-7": -7}[kind]
        buf = rng.standard_normal(size + abs(k)).astype(dtype)
        lo, hi = buf[:size].reshape(shape), buf[abs(k) :].reshape(shape)
        return (lo, hi) if k > 0 else (hi, lo)
    if kind in ("interleaved", "strided-input"):
        buf = rng.standard_normal((rows, 2 * n)).astype(dtype)
        return buf[:, ::2], (buf[:, 1::2] if kind == "interleaved" else buf[:, :n])
    if kind == "transposed":
        base = rng.standard_normal((n, n)).astype(dtype)
        return base, base.T
    base = rng.standard_normal(shape).astype(dtype)
    views = {
        "reversed-rows": (base, base[::-1]),
        "reversed": (base, base[::-1, ::-1]),
        "reversed-input": (base[::-1, ::-1], base),
        "exact": (base, base),
        "same-memory-new-view": (base, base.view()),
    }
    return views[kind]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", OVERLAPS)
@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax])
def test_softmax_out_overlapping_x(func, kind, dtype, shape, path):
    x, out = _overlapping(kind, shape, dtype, np.random.default_rng(0))
    _spice(x)
    want = func(_fresh(x))
    assert func(x, out=out) is out
    _assert_same(out, want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", ["offset+1", "offset+7", "offset-7", "reversed", "exact"])
@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax])
def test_softmax_out_overlapping_x_along_axis_0(func, kind, dtype, path):
    x, out = _overlapping(kind, (97, 24), dtype, np.random.default_rng(1))
    want = func(_fresh(x), axis=0)
    assert func(x, axis=0, out=out) is out
    _assert_same(out, want)


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax])
def test_in_place_float16(func, path):
    x = _spice(np.random.default_rng(2).standard_normal((24, 97)).astype(np.float16))
    want = func(_fresh(x))
    assert func(x, out=x) is x
    _assert_same(x, want)


def _logsumexp_overlap(kind, shape, dtype, rng):
    """``(x, out, keepdims)`` for logsumexp over the last axis, ``out`` sharing memory with ``x``."""
    rows, n = shape
    if kind.startswith("offset"):  # out over the last rows of x: written before those rows are read
        buf = rng.standard_normal(rows * n + 5).astype(dtype)
        x, out = buf[: rows * n].reshape(shape), buf[rows * n + 5 - rows :]
        return (x, out.reshape(rows, 1), True) if kind == "offset-keepdims" else (x, out, False)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "column":
        return x, x[:, 0], False
    if kind == "column-keepdims":
        return x, x[:, -1:], True
    one = x[:, :1].copy()  # "one-class-in-place": one class, keepdims, out is x itself
    return one, one, True


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", ["offset", "offset-keepdims", "column", "column-keepdims", "one-class-in-place"])
def test_logsumexp_out_overlapping_x(kind, dtype, shape, path):
    x, out, keepdims = _logsumexp_overlap(kind, shape, dtype, np.random.default_rng(3))
    if x.shape[1] > 5:
        _spice(x)
    want = sk.logsumexp(_fresh(x), keepdims=keepdims)
    assert sk.logsumexp(x, keepdims=keepdims, out=out) is out
    _assert_same(out, want)


def _mask_under_out(shape, rng, *, reduced):
    """``(where, out)``: a boolean mask whose bytes are the low bytes of float64 ``out``'s entries."""
    rows, n = shape
    if reduced:  # out of shape (rows,) over the first bytes of the (rows, n) mask
        raw = rng.integers(0, 2, rows * max(n, 8)).astype(np.uint8)
        return raw[: rows * n].reshape(shape).view(np.bool_), raw[: rows * 8].view(np.float64)
    raw = np.zeros((rows, 8 * n), np.uint8)
    raw[:, ::8] = rng.integers(0, 2, shape)
    return raw[:, ::8].view(np.bool_), raw.view(np.float64)


@pytest.mark.parametrize("func", [sk.softmax, sk.log_softmax, sk.logsumexp])
def test_out_over_where(func):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((24, 97))
    where, out = _mask_under_out(x.shape, rng, reduced=func is sk.logsumexp)
    assert np.shares_memory(where, out)
    want = func(x, where=where.copy())
    assert func(x, where=where, out=out) is out
    _assert_same(out, want)


def test_in_place_writes_directly_and_overlap_takes_a_temporary(monkeypatch):
    """The fused log-softmax writes an in-place ``out`` directly (no temporary); softmax (faster
    through a temporary) and any partial overlap never do."""
    pytest.importorskip("numba")
    monkeypatch.setattr(dispatch, "MIN_SIZE", 0)
    x = np.random.default_rng(5).standard_normal((24, 97))
    assert dispatch.softmax(x, 1, out=x, log=True) is x
    same = x.view()
    assert dispatch.softmax(x, 1, out=same, log=True) is same
    assert dispatch.softmax(x, 1, out=x) is not x
    buf = np.zeros(x.size + 7)
    overlapping = buf[7:].reshape(x.shape)
    assert dispatch.softmax(buf[: x.size].reshape(x.shape), 1, out=overlapping) is not overlapping
    lse_out = buf[3 : 3 + 24]
    assert dispatch.logsumexp(buf[: x.size].reshape(x.shape), 1, out=lse_out) is not lse_out


ELEMENTWISE = [sk.sigmoid, sk.log_sigmoid]
BACKWARD = [sk.softmax_backward, sk.log_softmax_backward, sk.sigmoid_backward]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", OVERLAPS)
@pytest.mark.parametrize("func", ELEMENTWISE)
def test_elementwise_out_overlapping_x(func, kind, dtype):
    x, out = _overlapping(kind, (24, 97), dtype, np.random.default_rng(6))
    x[0, :3] = [np.inf, -np.inf, np.nan]
    want = func(_fresh(x))
    assert func(x, out=out) is out
    _assert_same(out, want)


def _backward_inputs(func, which, kind, rng):
    """``(y, grad, out)`` with ``out`` overlapping ``y`` or ``grad`` as ``kind`` says."""
    shared, out = _overlapping(kind, (24, 97), np.float64, rng)
    shared[...] = rng.uniform(0.01, 1.0, shared.shape)  # y is a probability or a log-probability
    if func is sk.log_softmax_backward and which == "y":
        shared[...] = np.log(shared)
    other = rng.uniform(0.01, 1.0, shared.shape)
    return (shared, other, out) if which == "y" else (other, shared, out)


def _backward_kwargs(func):
    return {} if func is sk.sigmoid_backward else {"axis": -1}


@pytest.mark.parametrize("kind", OVERLAPS)
@pytest.mark.parametrize("which", ["y", "grad"])
@pytest.mark.parametrize("func", BACKWARD)
def test_backward_out_overlapping_inputs(func, which, kind):
    y, grad, out = _backward_inputs(func, which, kind, np.random.default_rng(7))
    want = func(_fresh(y), _fresh(grad), **_backward_kwargs(func))
    assert func(y, grad, out=out, **_backward_kwargs(func)) is out
    _assert_same(out, want)


@pytest.mark.parametrize("func", BACKWARD)
def test_backward_y_grad_and_out_from_one_buffer(func):
    buf = np.random.default_rng(7).uniform(0.01, 1.0, 24 * 97 + 9)
    y, grad, out = (buf[k : k + 24 * 97].reshape(24, 97) for k in (0, 4, 9))
    want = func(_fresh(y), _fresh(grad), **_backward_kwargs(func))
    assert func(y, grad, out=out, **_backward_kwargs(func)) is out
    _assert_same(out, want)


@pytest.mark.parametrize("func", [sk.softmax_backward, sk.log_softmax_backward])
def test_backward_in_place_along_axis_0(func):
    rng = np.random.default_rng(8)
    y, grad = rng.uniform(0.01, 1.0, (2, 97, 24))
    want = func(_fresh(y), _fresh(grad), axis=0)
    assert func(y, grad, axis=0, out=grad) is grad
    _assert_same(grad, want)


# --------------------------------------------------------------------------------------------------
# array subclasses
# --------------------------------------------------------------------------------------------------


class Hostile(np.ndarray):
    """An ndarray subclass whose arithmetic is wrong: any ufunc on it fails. Only its plain view works."""

    def __array_ufunc__(self, *args, **kwargs):
        raise AssertionError("a ufunc ran on the subclass instead of its plain view")


def _arguments(rng):
    """Valid array arguments of every public kernel and loss, by function: ``(positional, keyword)``."""
    x = rng.standard_normal((6, 4))
    probs = sk.softmax(rng.standard_normal((6, 4)))
    labels = rng.integers(0, 4, 6)
    where = rng.random((6, 4)) < 0.8
    weight = rng.uniform(0.5, 2.0, 4)
    bce_target = (rng.random((6, 4)) < 0.5).astype(float)
    return {
        sk.softmax: ({"x": x}, {"where": where}),
        sk.log_softmax: ({"x": x}, {"where": where}),
        sk.logsumexp: ({"x": x}, {"where": where}),
        sk.sigmoid: ({"x": x}, {}),
        sk.log_sigmoid: ({"x": x}, {}),
        sk.softmax_backward: ({"y": probs, "grad": x}, {}),
        sk.log_softmax_backward: ({"y": np.log(probs), "grad": x}, {}),
        sk.sigmoid_backward: ({"y": sk.sigmoid(x), "grad": x}, {}),
        sk.cross_entropy: ({"logits": x, "target": labels}, {"weight": weight}),
        sk.cross_entropy_and_grad: ({"logits": x, "target": probs}, {"weight": weight}),
        sk.cross_entropy_from_probs: ({"probs": probs, "target": labels}, {"weight": weight}),
        sk.binary_cross_entropy_with_logits: (
            {"logits": x, "target": bce_target},
            {"weight": weight, "pos_weight": weight[::-1].copy()},
        ),
        sk.binary_cross_entropy_with_logits_and_grad: ({"logits": x, "target": bce_target}, {"weight": weight}),
    }


FUNCS = list(_arguments(np.random.default_rng(0)))
ARGUMENTS = [(func, name) for func, (pos, kw) in _arguments(np.random.default_rng(0)).items() for name in [*pos, *kw]]
OUT_FUNCS = [sk.softmax, sk.log_softmax, sk.logsumexp, sk.sigmoid, sk.log_sigmoid, *BACKWARD]


def _call(func, convert=lambda name, a: a, **replace):
    """Call ``func`` on its valid arguments, each passed through ``convert`` (or replaced)."""
    pos, kw = _arguments(np.random.default_rng(9))[func]
    args = [replace.pop(name, convert(name, a)) for name, a in pos.items()]
    kwargs = {name: replace.pop(name, convert(name, a)) for name, a in kw.items()}
    return func(*args, **kwargs, **replace)


def _assert_plain_and_equal(got, want):
    for g, w in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        assert type(g) is type(w), (type(g), type(w))
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_matrix_arguments_are_plain_arrays(func):
    """np.matrix everywhere it fits (every 2-D argument): same values, plain results, no matrix product."""
    want = _call(func)
    got = _call(func, lambda name, a: np.asmatrix(a) if a.ndim == 2 else a)
    _assert_plain_and_equal(got, want)


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_any_subclass_argument_is_viewed_as_plain(func):
    """Every argument (data, labels, weights, masks, 1-D too) as a subclass whose arithmetic is broken."""
    want = _call(func)
    got = _call(func, lambda name, a: a.view(Hostile))
    _assert_plain_and_equal(got, want)


def test_sigmoid_backward_of_matrices_is_elementwise():
    y = np.matrix([[0.5, 0.25], [0.75, 0.5]])
    got = sk.sigmoid_backward(y, np.matrix([[1.0, 2.0], [4.0, 8.0]]))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, [[0.25, 0.375], [0.75, 2.0]])


def test_matrix_labels_and_targets():
    """Labels and targets as np.matrix where their shape allows: a 3-D batch with the class axis in the middle."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 4, 3))
    labels = rng.integers(0, 4, (5, 3))
    for func in (sk.cross_entropy, sk.cross_entropy_and_grad):
        _assert_plain_and_equal(func(x, np.asmatrix(labels), axis=1), func(x, labels, axis=1))
    pos_weight = rng.uniform(0.5, 2.0, (1, 4))
    t = (rng.random((6, 4)) < 0.5).astype(float)
    z = rng.standard_normal((6, 4))
    _assert_plain_and_equal(
        sk.binary_cross_entropy_with_logits(z, t, pos_weight=np.asmatrix(pos_weight)),
        sk.binary_cross_entropy_with_logits(z, t, pos_weight=pos_weight),
    )


@pytest.mark.parametrize("func, name", ARGUMENTS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("masked", ["some", "none"])
def test_masked_argument_is_refused(func, name, masked):
    """A masked array is refused whichever argument it is, also with nothing masked: the type decides."""
    pos, kw = _arguments(np.random.default_rng(9))[func]
    a = {**pos, **kw}[name]
    mask = np.zeros(a.shape, bool)
    if masked == "some":
        mask.flat[0] = True
    with pytest.raises(TypeError, match=rf"^{func.__name__}: {name} is a masked array .*(where=|filled)"):
        _call(func, **{name: np.ma.masked_array(a, mask=mask)})


@pytest.mark.parametrize("func", OUT_FUNCS, ids=lambda f: f.__name__)
def test_masked_out_is_refused(func):
    want = _call(func)
    out = np.ma.masked_array(np.zeros_like(want), mask=np.zeros(want.shape, bool))
    with pytest.raises(TypeError, match=rf"^{func.__name__}: out must not be a masked array"):
        _call(func, out=out)


@pytest.mark.parametrize("func", OUT_FUNCS, ids=lambda f: f.__name__)
def test_subclass_out_is_written_and_returned(func, tmp_path, path):
    want = _call(func)
    for out in (np.zeros_like(want).view(Hostile), np.memmap(tmp_path / "out.bin", want.dtype, "w+", shape=want.shape)):
        assert _call(func, out=out) is out
        np.testing.assert_array_equal(np.asarray(out), want)


def test_memmap_input(tmp_path):
    x = np.random.default_rng(11).standard_normal((300, 200))
    mm = np.memmap(tmp_path / "x.bin", x.dtype, "w+", shape=x.shape)
    mm[...] = x
    got = sk.softmax(mm)
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, sk.softmax(x))


def test_ragged_input_is_a_type_error_naming_the_argument():
    with pytest.raises(TypeError, match=r"^softmax: x must be array-like, got list"):
        sk.softmax([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match=r"^cross_entropy: target must be array-like, got list"):
        sk.cross_entropy(np.zeros((2, 2)), [[0], []])


# --------------------------------------------------------------------------------------------------
# accuracy along any axis, in any layout
# --------------------------------------------------------------------------------------------------

LAYOUTS = ("C", "F", "permuted", "strided", "reversed")


def _in_layout(a, layout, perm):
    """``a``'s values in another memory layout: same shape, same values, other strides."""
    every = (slice(None),) * a.ndim
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "permuted":  # C order of an axis permutation
        return np.ascontiguousarray(a.transpose(perm)).transpose(np.argsort(perm))
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        view = big[(slice(None, None, 2),) * a.ndim]
        view[every] = a
        return view
    flipped = (slice(None, None, -1),) * a.ndim  # "reversed": negative strides along every axis
    return np.ascontiguousarray(a[flipped])[flipped]


@st.composite
def _softmax_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = [draw(st.sampled_from([1, 2, 3, 5, 17, 64, 257, 1000, 3001])) for _ in range(ndim)]
    while math.prod(shape) > 40_000:  # small enough to be quick, long enough axes to show summation error
        shape[int(np.argmax(shape))] //= 4
    axis = draw(st.integers(-ndim, ndim - 1))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    layout = draw(st.sampled_from(LAYOUTS))
    perm = draw(st.permutations(range(ndim)))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    fused = draw(st.booleans())
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    return _in_layout(x, layout, perm), axis, fused


def _softmax64(x, axis):
    """Independent float64 reference: ``exp(x - max) / sum``, summed with ``math.fsum``."""
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    total = np.apply_along_axis(math.fsum, axis, e)
    return e / np.expand_dims(total, axis)


def _eps(dtype):
    """Rounding unit of the arithmetic (float16 is computed in float32) and of the result."""
    compute = np.float32 if dtype == np.float16 else dtype
    return float(np.finfo(compute).eps), float(np.finfo(dtype).eps)


def _long_columns():
    """``(x, axis)``: float32 columns of 16,000 entries, C-contiguous (NumPy alone sums them one term at a
    time), small enough for the NumPy path."""
    return (np.random.default_rng(14).standard_normal((16_000, 2)) * 5).astype(np.float32), 0


@given(case=_softmax_cases())
@example(case=(*_long_columns(), False))
def test_softmax_sums_to_one_and_agrees_with_float64_along_any_axis(case):
    x, axis, fused = case
    with _min_size(0 if fused else 1 << 62):
        y = sk.softmax(x, axis=axis)
    assert y.dtype == x.dtype and y.shape == x.shape
    eps, eps_out = _eps(x.dtype)
    y64 = y.astype(np.float64)
    sums = np.apply_along_axis(math.fsum, axis, y64)
    # rounding of exp, of the sum and of the division: a few eps whatever the length of the axis
    assert np.abs(sums - 1).max() <= 4 * eps + eps_out / 2
    ref = _softmax64(x, axis)
    # exp(x - max) is as accurate as x - max: relative error |x - max| eps; the result's rounding on top
    dist = np.abs(x.astype(np.float64) - x.astype(np.float64).max(axis=axis, keepdims=True))
    tol = ((4 + dist) * eps + eps_out) * ref + 2 * float(np.finfo(x.dtype).smallest_subnormal)
    assert np.all(np.abs(y64 - ref) <= tol)


@given(case=_softmax_cases())
@example(case=(*_long_columns(), False))
def test_softmax_backward_dot_is_accurate_along_any_axis(case):
    """``softmax_backward(y, 1) = y (1 - sum y)``: the sum along ``axis`` must not lose O(n) eps."""
    x, axis, _ = case
    y = sk.softmax(x, axis=axis)
    y64 = y.astype(np.float64)
    want = y64 * (1 - np.expand_dims(np.apply_along_axis(math.fsum, axis, y64), axis))
    got = sk.softmax_backward(y, np.ones_like(y), axis=axis).astype(np.float64)
    eps, eps_out = _eps(x.dtype)
    assert np.all(np.abs(got - want) <= (4 * eps + eps_out) * y64 + float(np.finfo(x.dtype).smallest_subnormal))


@pytest.mark.parametrize("shape", [(200_000, 1), (200_000, 3)])
@pytest.mark.parametrize("route", ["numpy", "where", "fused"])
def test_float32_columns_of_200000_rows_sum_to_one(shape, route, monkeypatch):
    """The adversarial review's case: NumPy's sum along a strided axis was off by 30-80 eps here."""
    if route == "numpy":
        monkeypatch.setattr(dispatch, "MIN_SIZE", 1 << 62)
    x = np.random.default_rng(12).standard_normal(shape).astype(np.float32)
    where = np.ones(shape, bool) if route == "where" else None
    eps = float(np.finfo(np.float32).eps)
    y = sk.softmax(x, axis=0, where=where)
    assert np.abs(y.sum(axis=0, dtype=np.float64) - 1).max() <= 2 * eps
    lse = sk.logsumexp(sk.log_softmax(x, axis=0, where=where).astype(np.float64), axis=0)
    assert np.abs(lse).max() <= 4 * eps
    g = sk.softmax_backward(y, np.ones_like(y), axis=0).astype(np.float64)
    want = y * (1 - y.sum(axis=0, dtype=np.float64))
    assert np.abs(g - want).max() <= 4 * eps * y.max()


@pytest.mark.parametrize("target", ["labels", "probs"])
def test_cross_entropy_class_sums_along_axis_0_are_accurate(target, monkeypatch):
    """200,000 classes on axis 0: label smoothing (all of the loss here) and probability targets sum over
    the classes."""
    monkeypatch.setattr(dispatch, "MIN_SIZE", 1 << 62)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((200_000, 3)).astype(np.float32)
    t = rng.integers(0, 200_000, 3) if target == "labels" else sk.softmax(rng.standard_normal((200_000, 3)), axis=0)
    kw = dict(axis=0, label_smoothing=1.0 if target == "labels" else 0.1, reduction="none")
    want = sk.cross_entropy(x.astype(np.float64), t, **kw)
    got = sk.cross_entropy(x, t.astype(np.float32) if target == "probs" else t, **kw)
    loss, _ = sk.cross_entropy_and_grad(x, t.astype(np.float32) if target == "probs" else t, **kw)
    eps = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(got, want, rtol=8 * eps)
    np.testing.assert_allclose(loss, want, rtol=8 * eps)
