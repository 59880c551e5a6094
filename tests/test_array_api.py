"""Kernels and losses on arrays of other libraries: the same library out, computed with its own operations.

Every kernel and loss, with every option, runs on array-api-strict arrays (the standard's reference
implementation, here in its 2023.12 mode without data-dependent shapes: it refuses NumPy arrays and
has no function beyond the standard) and on PyTorch tensors (skipped without torch), in float32 and
float64, and is compared with the NumPy path on the same values. NumPy appears only in the tests, to
build inputs and read results; a separate process checks that NumPy calls never import
array-api-compat.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys
import textwrap
import types
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import softmaxkit as sk
from softmaxkit import _validation

inf, nan = np.inf, np.nan
FLOATS = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


# --------------------------------------------------------------------------------------------------
# the libraries under test
# --------------------------------------------------------------------------------------------------


@dataclass
class Lib:
    """One array library: how the tests make its arrays from NumPy's and read them back."""

    name: str
    array_type: type
    to_lib: object  # np.ndarray -> the library's array (a copy)
    to_numpy: object  # the library's array -> np.ndarray
    device: object = None

    def __call__(self, a):
        return self.to_lib(np.asarray(a))


def _strict_lib():
    xs = pytest.importorskip("array_api_strict")
    return Lib("array_api_strict", type(xs.asarray(0.0)), lambda a: xs.asarray(a, copy=True), np.asarray)


def _torch_lib(device):
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return Lib(
        f"torch-{device}",
        torch.Tensor,
        lambda a: torch.from_numpy(a.copy()).to(device),
        lambda t: t.detach().cpu().float().numpy() if t.dtype == torch.bfloat16 else t.detach().cpu().numpy(),
        torch.device(device),
    )


@pytest.fixture(params=["array_api_strict", "torch-cpu", "torch-cuda"])
def lib(request):
    """Each library in turn; array-api-strict restricted to the 2023.12 standard, no data-dependent shapes."""
    if request.param == "array_api_strict":
        lib = _strict_lib()
        import array_api_strict as xs

        with xs.ArrayAPIStrictFlags(api_version="2023.12", data_dependent_shapes=False, boolean_indexing=False):
            yield lib
    else:
        yield _torch_lib(request.param.split("-")[1])


def _quiet(lib):
    """array-api-strict computes with NumPy underneath, which warns where a result overflows."""
    return np.errstate(over="ignore") if lib.name == "array_api_strict" else contextlib.nullcontext()


def _check(lib, got, want, *, ulps=8):
    """``got`` is an array of ``lib`` on its device, of ``want``'s dtype and shape, close to NumPy's ``want``.

    Special values must match exactly (inf, -inf and NaN in the same places); finite values within
    ``ulps`` units of the result dtype, relative to the values' scale where they cancel.
    """
    assert type(got) is lib.array_type or isinstance(got, lib.array_type), type(got)
    if lib.device is not None:
        assert got.device.type == lib.device.type
    got_np = lib.to_numpy(got)
    want = np.asarray(want)
    assert got_np.dtype == want.dtype, (got_np.dtype, want.dtype)
    assert got_np.shape == want.shape
    eps = np.finfo(want.dtype).eps
    finite = want[np.isfinite(want)]
    scale = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    assert_allclose(got_np, want, rtol=ulps * eps, atol=ulps * eps * scale)


# --------------------------------------------------------------------------------------------------
# the softmax family against the NumPy path
# --------------------------------------------------------------------------------------------------

SHAPES_AXES = [((7,), -1), ((6, 9), -1), ((6, 9), 0), ((3, 5, 4), 1), ((3, 5, 4), -1)]
ROW_FUNCS = [sk.softmax, sk.log_softmax]


def _logits(shape, dtype, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 4).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("shape", "axis"), SHAPES_AXES)
@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("options", ["plain", "temperature", "where", "both"])
def test_softmax_and_log_softmax_match_numpy(lib, dtype, shape, axis, func, options):
    x = _logits(shape, dtype)
    mask = np.random.default_rng(1).random(shape) < 0.7
    mask.flat[0] = False
    kw = {"temperature": 0.3} if options in ("temperature", "both") else {}
    want = func(x, axis, where=mask if options in ("where", "both") else None, **kw)
    got = func(lib(x), axis, where=lib(mask) if options in ("where", "both") else None, **kw)
    _check(lib, got, want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("shape", "axis"), SHAPES_AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_logsumexp_matches_numpy(lib, dtype, shape, axis, keepdims, masked):
    x = _logits(shape, dtype)
    mask = np.random.default_rng(1).random(shape) < 0.7 if masked else None
    want = sk.logsumexp(x, axis, keepdims=keepdims, where=mask)
    got = sk.logsumexp(lib(x), axis, keepdims=keepdims, where=None if mask is None else lib(mask))
    _check(lib, got, want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", [sk.sigmoid, sk.log_sigmoid])
def test_sigmoid_and_log_sigmoid_match_numpy(lib, dtype, func):
    x = np.concatenate([_logits((40,), dtype), np.array([-1000, -40, -0.0, 0, 40, 1000, inf, -inf, nan], dtype)])
    _check(lib, func(lib(x)), func(x))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("shape", "axis"), SHAPES_AXES)
def test_backward_passes_match_numpy(lib, dtype, shape, axis):
    x, g = _logits(shape, dtype), _logits(shape, dtype, seed=2)
    y, logy, s = sk.softmax(x, axis), sk.log_softmax(x, axis), sk.sigmoid(x)
    _check(lib, sk.softmax_backward(lib(y), lib(g), axis), sk.softmax_backward(y, g, axis))
    _check(lib, sk.log_softmax_backward(lib(logy), lib(g), axis), sk.log_softmax_backward(logy, g, axis))
    _check(lib, sk.sigmoid_backward(lib(s), lib(g)), sk.sigmoid_backward(s, g))
    # a grad of another float dtype is computed in y's dtype, as on the NumPy path
    g64 = g.astype(np.float64)
    _check(lib, sk.softmax_backward(lib(y), lib(g64), axis), sk.softmax_backward(y, g64, axis))


@pytest.mark.parametrize("dtype", FLOATS)
def test_large_inputs_agree_with_the_fused_kernels(lib, dtype):
    """NumPy input this large runs the numba kernels (their own exp): agreement to a few ulps."""
    x = _logits((256, 700), dtype)
    labels = np.random.default_rng(3).integers(0, 700, 256)
    for func in (sk.softmax, sk.log_softmax, sk.logsumexp):
        _check(lib, func(lib(x)), func(x), ulps=16)
    loss, grad = sk.cross_entropy_and_grad(lib(x), lib(labels))
    want_loss, want_grad = sk.cross_entropy_and_grad(x, labels)
    _check(lib, loss, want_loss, ulps=16)
    _check(lib, grad, want_grad, ulps=16)


# --------------------------------------------------------------------------------------------------
# extremes, dtypes, empty arrays
# --------------------------------------------------------------------------------------------------

SPECIAL_ROWS = [
    [inf, 1.0, inf],  # +inf entries share the mass
    [inf, -inf, 0.0],
    [nan, 0.0, 1.0],  # a NaN spoils its own row
    [-inf, -inf, -inf],  # 0/0: NaN (logsumexp: -inf)
    [1000.0, 1.0, -1000.0],  # the naive formula overflows
    [0.0, -40.0, -60.0],  # one probability within 1e-18 of 1
    [-inf, 0.0, -inf],
    [3.0, 3.0, 3.0],
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", [*ROW_FUNCS, sk.logsumexp])
def test_special_values_as_numpy(lib, dtype, func):
    x = np.array(SPECIAL_ROWS, dtype)
    _check(lib, func(lib(x)), func(x))
    _check(lib, func(lib(x.T.copy()), axis=0), func(x.T.copy(), axis=0))
    mask = np.ones_like(x, bool)
    mask[4] = False  # a fully masked row: zeros (log_softmax -inf, logsumexp -inf)
    mask[0, 0] = False
    _check(lib, func(lib(x), where=lib(mask)), func(x, where=mask))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", ROW_FUNCS)
def test_temperature_that_overflows_the_logits(lib, dtype, func):
    big = np.finfo(dtype).max
    x = np.array([[big, big / 2, 1.0], [1.0, 2.0, 3.0]], dtype)
    want = func(x, temperature=1e-10)
    with _quiet(lib):
        got = func(lib(x), temperature=1e-10)
    _check(lib, got, want)
    assert sk.softmax(x, temperature=1e-10)[0, 0] == 1.0


def _needs_float16(lib):
    if lib.name == "array_api_strict":
        pytest.skip("the array-API standard has no float16")


def test_float16_is_computed_in_float32(lib):
    _needs_float16(lib)
    x = _logits((5, 6), np.float16)
    for func in (sk.softmax, sk.log_softmax, sk.logsumexp, sk.sigmoid, sk.log_sigmoid):
        _check(lib, func(lib(x)), func(x), ulps=1)


def test_integer_input_promotes_to_the_librarys_default_float(lib):
    x = np.array([[1, 2, 3], [0, 0, 7]])
    got = sk.softmax(lib(x))
    default = np.float32 if lib.name.startswith("torch") else np.float64  # torch.get_default_dtype()
    _check(lib, got, sk.softmax(x).astype(default), ulps=4)
    assert lib.to_numpy(sk.log_sigmoid(lib(np.array([True, False])))).dtype == default


@pytest.mark.parametrize("dtype", FLOATS)
def test_empty_arrays(lib, dtype):
    for shape in [(0, 4), (3, 0), (2, 0, 3)]:
        x = np.zeros(shape, dtype)
        for func in ROW_FUNCS:
            _check(lib, func(lib(x)), func(x))
        for keepdims in (False, True):
            _check(lib, sk.logsumexp(lib(x), keepdims=keepdims), sk.logsumexp(x, keepdims=keepdims))
            _check(lib, sk.logsumexp(lib(x), axis=0, keepdims=keepdims), sk.logsumexp(x, axis=0, keepdims=keepdims))


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_shape_axis_and_mask_as_numpy(lib, data):
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    axis = data.draw(st.integers(-ndim, ndim - 1))
    dtype = data.draw(st.sampled_from(FLOATS))
    values = st.sampled_from([0.0, 1.0, -2.5, 30.0, 1e4, inf, -inf, nan])
    x = np.array(data.draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))), dtype)
    x = x.reshape(shape)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size)), bool).reshape(shape)
    for func in (*ROW_FUNCS, sk.logsumexp):
        _check(lib, func(lib(x), axis, where=lib(mask)), func(x, axis, where=mask))
        _check(lib, func(lib(x), axis), func(x, axis))


# --------------------------------------------------------------------------------------------------
# losses against the NumPy path
# --------------------------------------------------------------------------------------------------

CASES = {"2d-last": ((7, 5), -1), "3d-middle": ((4, 5, 3), 1), "1d": ((5,), 0)}
IGNORE = 2


def _problem(case, kind, ignore, dtype, seed=0):
    shape, axis = CASES[case]
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3).astype(dtype)
    n_classes = shape[axis]
    batch = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    if kind == "index":
        t = rng.integers(0, n_classes, size=batch)
        if ignore:
            t.flat[::3] = IGNORE
    else:
        t = np.moveaxis(rng.dirichlet(np.ones(n_classes), size=batch), -1, axis % len(shape)).astype(dtype)
    return x, t, axis, rng.uniform(0.2, 2.0, n_classes).astype(dtype)


_COMBOS = [
    (case, kind, w, ig, ls)
    for case, kind, w, ig, ls in itertools.product(CASES, ["index", "prob"], [False, True], [False, True], [0.0, 0.3])
    if not (kind == "prob" and ig)
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("case", "kind", "weighted", "ignore", "smoothing"), _COMBOS)
def test_cross_entropy_matches_numpy(lib, dtype, case, kind, weighted, ignore, smoothing):
    x, t, axis, weight = _problem(case, kind, ignore, dtype)
    for reduction in REDUCTIONS:
        kw = dict(axis=axis, ignore_index=IGNORE if ignore else None, label_smoothing=smoothing, reduction=reduction)
        want = sk.cross_entropy(x, t, weight=weight if weighted else None, **kw)
        want_loss, want_grad = sk.cross_entropy_and_grad(x, t, weight=weight if weighted else None, **kw)
        lw = lib(weight) if weighted else None
        _check(lib, sk.cross_entropy(lib(x), lib(t), weight=lw, **kw), want)
        loss, grad = sk.cross_entropy_and_grad(lib(x), lib(t), weight=lw, **kw)
        _check(lib, loss, want_loss)
        _check(lib, grad, want_grad)
        probs = sk.softmax(x, axis)
        want = sk.cross_entropy_from_probs(probs, t, weight=weight if weighted else None, **kw)
        _check(lib, sk.cross_entropy_from_probs(lib(probs), lib(t), weight=lw, **kw), want)


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_extremes(lib, dtype):
    x = np.array([[1000.0, 0.0, -inf], [0.0, 0.0, -inf], [inf, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype)
    for labels in ([0, 2, 0, 1], [0, 1, 1, 2]):  # a label on a -inf logit costs inf
        t = np.array(labels)
        for reduction in REDUCTIONS:
            _check(lib, sk.cross_entropy(lib(x[[0, 1, 3]]), lib(t[[0, 1, 3]]), reduction=reduction),
                   sk.cross_entropy(x[[0, 1, 3]], t[[0, 1, 3]], reduction=reduction))  # fmt: skip
            for got, want in zip(
                sk.cross_entropy_and_grad(lib(x), lib(t), reduction=reduction),
                sk.cross_entropy_and_grad(x, t, reduction=reduction),
            ):
                _check(lib, got, want)
    sure = sk.cross_entropy(lib(np.array([1000.0, 0.0], dtype)), lib(np.array(0)))
    assert sure.shape == () and lib.to_numpy(sure) == 0 and not np.signbit(lib.to_numpy(sure))  # +0, not -0
    # every row ignored: the mean is NaN (0/0) and the gradient exactly 0, as in PyTorch
    t = np.array([IGNORE] * 4)
    loss, grad = sk.cross_entropy_and_grad(lib(x), lib(t), ignore_index=IGNORE)
    assert np.isnan(lib.to_numpy(loss)) and not lib.to_numpy(grad).any()
    # an ignore_index outside the labels' dtype ignores nothing
    t8 = np.array([0, 1, 1, 2], np.uint8)
    _check(lib, sk.cross_entropy(lib(x), lib(t8), ignore_index=-100), sk.cross_entropy(x, t8, ignore_index=-100))


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_from_probs_with_zero_probabilities(lib, dtype):
    """log 0 = -inf: an impossible label costs inf, a zero target times log 0 costs 0 (no warning either)."""
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], dtype)
    for t in (np.array([1, 0]), np.array([0, 1]), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype)):
        for reduction in REDUCTIONS:
            _check(
                lib,
                sk.cross_entropy_from_probs(lib(p), lib(t), reduction=reduction),
                sk.cross_entropy_from_probs(p, t, reduction=reduction),
            )


BCE_WEIGHTS = {
    "none": (None, None),
    "weight": ((5,), None),
    "pos_weight": (None, (5,)),
    "both": ((4, 1), (5,)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("weights", BCE_WEIGHTS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_numpy(lib, dtype, weights, reduction):
    rng = np.random.default_rng(4)
    z = (rng.normal(size=(4, 5)) * 3).astype(dtype)
    z[0, :4] = [inf, -inf, 1e4, -1e4]
    t = (rng.random((4, 5)) < 0.5).astype(dtype)
    t[0, :2] = [1.0, 0.0]  # z = +inf with t = 1 (and -inf with 0) costs exactly 0
    t[1, 0] = 0.25
    w_shape, pw_shape = BCE_WEIGHTS[weights]
    w = None if w_shape is None else rng.uniform(0.5, 2, w_shape).astype(dtype)
    pw = None if pw_shape is None else rng.uniform(0.5, 2, pw_shape).astype(dtype)
    lw, lpw = (None if a is None else lib(a) for a in (w, pw))
    want = sk.binary_cross_entropy_with_logits(z, t, weight=w, pos_weight=pw, reduction=reduction)
    _check(
        lib, sk.binary_cross_entropy_with_logits(lib(z), lib(t), weight=lw, pos_weight=lpw, reduction=reduction), want
    )
    got = sk.binary_cross_entropy_with_logits_and_grad(lib(z), lib(t), weight=lw, pos_weight=lpw, reduction=reduction)
    want = sk.binary_cross_entropy_with_logits_and_grad(z, t, weight=w, pos_weight=pw, reduction=reduction)
    _check(lib, got[0], want[0])
    _check(lib, got[1], want[1])
    # boolean and integer targets are 0/1
    for target in (t[1:] > 0.5, (t[1:] > 0.5).astype(np.int64)):
        _check(
            lib,
            sk.binary_cross_entropy_with_logits(lib(z[1:]), lib(target), reduction=reduction),
            sk.binary_cross_entropy_with_logits(z[1:], target, reduction=reduction),
        )


def test_reductions_are_zero_dimensional_arrays_of_the_library(lib):
    x, t = _logits((4, 3), np.float32), np.array([0, 1, 2, 0])
    for reduction in ("mean", "sum"):
        loss = sk.cross_entropy(lib(x), lib(t), reduction=reduction)
        assert isinstance(loss, lib.array_type) and loss.shape == ()
        loss, grad = sk.binary_cross_entropy_with_logits_and_grad(lib(x), lib(x > 0), reduction=reduction)
        assert isinstance(loss, lib.array_type) and loss.shape == () and isinstance(grad, lib.array_type)
    assert sk.logsumexp(lib(x[0])).shape == ()


def test_float16_losses(lib):
    _needs_float16(lib)
    x, t = _logits((6, 4), np.float16), np.array([0, 1, 2, 3, 0, 1])
    _check(lib, sk.cross_entropy(lib(x), lib(t)), sk.cross_entropy(x, t), ulps=2)
    loss, grad = sk.cross_entropy_and_grad(lib(x), lib(t), label_smoothing=0.1)
    want_loss, want_grad = sk.cross_entropy_and_grad(x, t, label_smoothing=0.1)
    _check(lib, loss, want_loss, ulps=2)
    _check(lib, grad, want_grad, ulps=2)


# --------------------------------------------------------------------------------------------------
# out=
# --------------------------------------------------------------------------------------------------

OUT_CALLS = {  # name: (function, arrays from x (3, 4), keyword arguments, result shape)
    "softmax": (sk.softmax, lambda x: (x,), {"temperature": 2.0}, (3, 4)),
    "log_softmax": (sk.log_softmax, lambda x: (x,), {"axis": 0}, (3, 4)),
    "logsumexp": (sk.logsumexp, lambda x: (x,), {}, (3,)),
    "logsumexp-keepdims": (sk.logsumexp, lambda x: (x,), {"axis": 0, "keepdims": True}, (1, 4)),
    "sigmoid": (sk.sigmoid, lambda x: (x,), {}, (3, 4)),
    "log_sigmoid": (sk.log_sigmoid, lambda x: (x,), {}, (3, 4)),
    "softmax_backward": (sk.softmax_backward, lambda x: (sk.softmax(x), x), {}, (3, 4)),
    "log_softmax_backward": (sk.log_softmax_backward, lambda x: (sk.log_softmax(x), x), {}, (3, 4)),
    "sigmoid_backward": (sk.sigmoid_backward, lambda x: (sk.sigmoid(x), x), {}, (3, 4)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", OUT_CALLS)
def test_out_is_written_in_place(lib, dtype, name):
    func, arrays, kw, shape = OUT_CALLS[name]
    args = arrays(_logits((3, 4), dtype))
    want = func(*args, **kw)
    out = lib(np.zeros(shape, dtype))
    assert func(*map(lib, args), out=out, **kw) is out
    _check(lib, out, want)
    if shape == (3, 4):  # out may be the input itself
        first = lib(args[0])
        assert func(first, *map(lib, args[1:]), out=first, **kw) is first
        _check(lib, first, want)


@pytest.mark.parametrize("name", OUT_CALLS)
def test_out_must_match(lib, name):
    func, arrays, kw, shape = OUT_CALLS[name]
    args = [lib(a) for a in arrays(_logits((3, 4), np.float32))]
    with pytest.raises(TypeError, match=rf"^{func.__name__}: out must be an array of the input's library"):
        func(*args, out=np.zeros(shape, np.float32), **kw)
    with pytest.raises(ValueError, match=rf"^{func.__name__}: out has shape \(2, 2\), expected "):
        func(*args, out=lib(np.zeros((2, 2), np.float32)), **kw)
    with pytest.raises(TypeError, match=rf"^{func.__name__}: out has dtype .*float64, expected .*float32"):
        func(*args, out=lib(np.zeros(shape, np.float64)), **kw)


# --------------------------------------------------------------------------------------------------
# errors: the NumPy path's messages
# --------------------------------------------------------------------------------------------------

_X = np.random.default_rng(5).normal(size=(3, 5))
_P = sk.softmax(_X)
_L = np.array([0, 4, 1])

SAME_MESSAGE = {  # name: call(as_array); the message must be exactly the NumPy path's
    "axis": lambda A: sk.softmax(A(_X), axis=2),
    "axis type": lambda A: sk.log_softmax(A(_X), axis=1.0),
    "scalar": lambda A: sk.logsumexp(A(np.float64(1.0))),
    "temperature": lambda A: sk.softmax(A(_X), temperature=0.0),
    "temperature nan": lambda A: sk.log_softmax(A(_X), temperature=nan),
    "where shape": lambda A: sk.softmax(A(_X), where=A(np.ones(4, bool))),
    "backward shapes": lambda A: sk.softmax_backward(A(_P), A(_X[:2])),
    "backward axis": lambda A: sk.log_softmax_backward(A(_P), A(_X), axis=-3),
    "sigmoid_backward shapes": lambda A: sk.sigmoid_backward(A(_P), A(_X.T)),
    "label too large": lambda A: sk.cross_entropy(A(_X), A(np.array([0, 5, 1]))),
    "label negative": lambda A: sk.cross_entropy_and_grad(A(_X), A(np.array([0, -1, 7]))),
    "label with ignore_index": lambda A: sk.cross_entropy(A(_X), A(np.array([-100, 9, 1])), ignore_index=-100),
    "target shape": lambda A: sk.cross_entropy(A(_X), A(np.array([0, 1]))),
    "prob target shape": lambda A: sk.cross_entropy(A(_X), A(np.ones((3, 4)) / 4)),
    "prob target nan": lambda A: sk.cross_entropy(A(_X), A(np.where(_P == _P.max(), nan, _P))),
    "ignore_index on probs": lambda A: sk.cross_entropy(A(_X), A(_P), ignore_index=0),
    "ignore_index type": lambda A: sk.cross_entropy(A(_X), A(_L), ignore_index=1.5),
    "weight shape": lambda A: sk.cross_entropy(A(_X), A(_L), weight=A(np.ones(4))),
    "weight nan": lambda A: sk.cross_entropy_and_grad(A(_X), A(_L), weight=A(np.array([1, nan, 1, 1, 1]))),
    "reduction": lambda A: sk.cross_entropy(A(_X), A(_L), reduction="avg"),
    "label_smoothing": lambda A: sk.cross_entropy(A(_X), A(_L), label_smoothing=1.5),
    "probs range": lambda A: sk.cross_entropy_from_probs(A(_P - 0.25), A(_L)),
    "probs nan": lambda A: sk.cross_entropy_from_probs(A(np.where(_P == _P.max(), nan, _P)), A(_L)),
    "bce target shape": lambda A: sk.binary_cross_entropy_with_logits(A(_X), A(_P[:, :2])),
    "bce target inf": lambda A: sk.binary_cross_entropy_with_logits(A(_X), A(np.full((3, 5), inf))),
    "bce weight shape": lambda A: sk.binary_cross_entropy_with_logits(A(_X), A(_P), weight=A(np.ones(3))),
    "bce pos_weight nan": lambda A: sk.binary_cross_entropy_with_logits_and_grad(
        A(_X), A(_P), pos_weight=A(np.full(5, nan))
    ),
    "bce reduction": lambda A: sk.binary_cross_entropy_with_logits(A(_X), A(_P), reduction=None),
}


@pytest.mark.parametrize("name", SAME_MESSAGE)
def test_errors_say_what_the_numpy_path_says(lib, name):
    call = SAME_MESSAGE[name]
    with pytest.raises((TypeError, ValueError)) as numpy_error:
        call(np.asarray)
    with pytest.raises(numpy_error.type) as lib_error:
        call(lib)
    assert str(lib_error.value) == str(numpy_error.value)


DTYPE_MESSAGE = {  # the message names the library's dtype, so only its beginning is the NumPy path's
    "complex": (lambda A: sk.softmax(A(_X + 1j)), TypeError, "softmax: x must be real-valued, got complex dtype"),
    "mask dtype": (lambda A: sk.logsumexp(A(_X), where=A(_X)), TypeError, "logsumexp: where must be a boolean array"),
    "bool target": (
        lambda A: sk.cross_entropy(A(_X), A(_X > 0)),
        TypeError,
        "cross_entropy: target must be integer class labels or float probabilities, got dtype",
    ),
    "bool weight": (
        lambda A: sk.cross_entropy(A(_X), A(_L), weight=A(np.ones(5, bool))),
        TypeError,
        "cross_entropy: weight must be a numeric array, got dtype",
    ),
    "bce complex target": (
        lambda A: sk.binary_cross_entropy_with_logits(A(_X), A(_X + 1j)),
        TypeError,
        "binary_cross_entropy_with_logits: target must be numeric (0/1 or probabilities), got dtype",
    ),
}


@pytest.mark.parametrize("name", DTYPE_MESSAGE)
def test_dtype_errors_start_as_the_numpy_paths(lib, name):
    call, kind, start = DTYPE_MESSAGE[name]
    with pytest.raises(kind) as numpy_error:
        call(np.asarray)
    with pytest.raises(kind) as lib_error:
        call(lib)
    assert str(numpy_error.value).startswith(start)
    assert str(lib_error.value).startswith(start), str(lib_error.value)


def test_arrays_of_two_libraries_are_refused(lib):
    x, labels, mask = _logits((3, 4), np.float64), np.array([0, 1, 3]), np.ones((3, 4), bool)
    with pytest.raises(TypeError, match=r"^softmax: where is a numpy.ndarray but x is a .*; pass arrays of one"):
        sk.softmax(lib(x), where=mask)
    with pytest.raises(TypeError, match=r"^cross_entropy: target is a .* but logits is a numpy.ndarray; pass"):
        sk.cross_entropy(x, lib(labels))
    with pytest.raises(TypeError, match=r"^cross_entropy_and_grad: weight is a numpy.ndarray but logits is a "):
        sk.cross_entropy_and_grad(lib(x), lib(labels), weight=np.ones(4))
    with pytest.raises(TypeError, match=r"^softmax_backward: grad is a numpy.float64 but y is a "):
        sk.softmax_backward(lib(x), np.float64(1.0))
    with pytest.raises(TypeError, match=r"^binary_cross_entropy_with_logits: pos_weight is a numpy.ndarray"):
        sk.binary_cross_entropy_with_logits(lib(x), lib(x > 0), pos_weight=np.ones(4))


def test_python_lists_and_scalars_take_the_first_arguments_library(lib):
    x, labels = _logits((3, 4), np.float64), [0, 1, 3]
    weight = [1.0, 2.0, 0.5, 1.0]
    got = sk.cross_entropy(lib(x), labels, weight=weight, reduction="none")
    _check(lib, got, sk.cross_entropy(x, np.array(labels), weight=np.array(weight), reduction="none"))
    mask = [[True, False, True, True]] * 3
    _check(lib, sk.softmax(lib(x), where=mask), sk.softmax(x, where=np.array(mask)))
    _check(lib, sk.softmax_backward(lib(x), x.tolist()), sk.softmax_backward(x, x))
    with pytest.raises(TypeError, match=r"^softmax: where must be array-like, got list"):
        sk.softmax(lib(x), where=[[True], [False, True]])


def test_missing_array_api_compat_is_named(lib, monkeypatch):
    monkeypatch.setitem(sys.modules, "array_api_compat", None)
    with pytest.raises(ModuleNotFoundError, match=r"^softmax: x is a .*; computing with its own library needs "):
        sk.softmax(lib(_X))


# --------------------------------------------------------------------------------------------------
# no NumPy on the generic path; no array-api-compat on the NumPy path
# --------------------------------------------------------------------------------------------------


class _NoNumPy(types.ModuleType):
    """Stands in for ``numpy`` in the kernels, losses and checks: its types answer ``isinstance``, nothing computes."""

    TYPES = ("ndarray", "generic", "integer", "bool_", "floating")

    def __getattr__(self, name):
        if name in self.TYPES:
            return getattr(np, name)
        raise AssertionError(f"numpy.{name} was used on the array-API path")


def _every_call(A):
    x, probs, labels = _X, _P, _L
    return [
        sk.softmax(A(x), temperature=0.5, where=A(x > -1)),
        sk.log_softmax(A(x), axis=0),
        sk.logsumexp(A(x), keepdims=True, where=A(x > -1)),
        sk.sigmoid(A(x)),
        sk.log_sigmoid(A(x)),
        sk.softmax_backward(A(probs), A(x)),
        sk.log_softmax_backward(A(np.log(probs)), A(x)),
        sk.sigmoid_backward(A(probs), A(x)),
        sk.cross_entropy(A(x), A(labels), weight=A(np.ones(5)), label_smoothing=0.1),
        *sk.cross_entropy_and_grad(A(x), A(probs), label_smoothing=0.1),
        *sk.cross_entropy_and_grad(A(x), A(labels), ignore_index=1, reduction="sum"),
        sk.cross_entropy_from_probs(A(probs), A(labels), weight=A(np.ones(5))),
        *sk.binary_cross_entropy_with_logits_and_grad(A(x), A(probs), weight=A(np.ones(5)), pos_weight=A(np.ones(5))),
    ]


def test_the_generic_path_calls_no_numpy(lib, monkeypatch):
    """NumPy taken away from the kernels, the losses and the checks (its types kept for ``isinstance``)."""
    import softmaxkit._array_api as generic

    for module in (sk.kernels, sk.losses, _validation):
        monkeypatch.setattr(module, "np", _NoNumPy("numpy"))
    results = _every_call(lib)  # the inputs are made here, with the tests' own NumPy
    assert all(isinstance(r, lib.array_type) for r in results)
    assert not [v for v in vars(generic).values() if isinstance(v, types.ModuleType) and "numpy" in v.__name__]


def test_uses_array_api_by_type():
    xs = pytest.importorskip("array_api_strict")
    plain = [np.ones(3), np.float64(1.0), np.ones(3).view(np.recarray), np.ma.masked_array([1.0]), [1.0], 2.0, None]
    assert not any(_validation.uses_array_api(a) for a in plain)
    assert not _validation.uses_array_api(*plain[:4])
    assert _validation.uses_array_api(np.ones(3), None, None, xs.ones(3))


def test_numpy_calls_do_not_import_array_api_compat():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import softmaxkit as sk
        assert "array_api_compat" not in sys.modules, "import softmaxkit"
        rng = np.random.default_rng(0)
        for x in (rng.normal(size=(8, 5)), rng.normal(size=(300, 700)).astype(np.float32)):
            labels = rng.integers(0, x.shape[1], x.shape[0])
            mask = x > -1
            sk.softmax(x, where=mask); sk.log_softmax(x, temperature=2.0); sk.logsumexp(x, where=mask)
            sk.sigmoid(x); sk.log_sigmoid(x); p = sk.softmax(x)
            sk.softmax_backward(p, x); sk.log_softmax_backward(np.log(p), x); sk.sigmoid_backward(p, x)
            sk.cross_entropy(x, labels, weight=np.ones(x.shape[1])); sk.cross_entropy_and_grad(x, labels)
            sk.cross_entropy_and_grad(x, p, label_smoothing=0.1); sk.cross_entropy_from_probs(p, labels)
            sk.binary_cross_entropy_with_logits_and_grad(x, p, pos_weight=np.ones(x.shape[1]))
        sk.softmax([1.0, 2.0]); sk.cross_entropy([[1.0, 2.0]], [1]); sk.softmax(np.ones(3).view(np.matrix))
        leaked = sorted(m for m in sys.modules if m.startswith(("array_api_compat", "softmaxkit._array_api")))
        assert not leaked, leaked
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


# --------------------------------------------------------------------------------------------------
# PyTorch: devices, dtypes, autograd
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_torch_keeps_dtype_and_device(device, dtype):
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    tdtype = getattr(torch, dtype)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0)).to(device=device, dtype=tdtype)
    labels = torch.tensor([0, 1, 2, 3, 4, 0], device=device)
    results = [
        sk.softmax(x, where=x > -1),
        sk.log_softmax(x, temperature=3.0),
        sk.logsumexp(x),
        sk.sigmoid(x),
        sk.log_sigmoid(x),
        sk.softmax_backward(sk.softmax(x), x),
        *sk.cross_entropy_and_grad(x, labels, label_smoothing=0.1),
        *sk.binary_cross_entropy_with_logits_and_grad(x, sk.sigmoid(x)),
    ]
    for r in results:
        assert isinstance(r, torch.Tensor) and r.dtype == tdtype and r.device == x.device
    ref = torch.nn.functional.cross_entropy(x.double(), labels, label_smoothing=0.1)
    tol = {"float32": 1e-6, "float64": 1e-14, "float16": 2e-3, "bfloat16": 2e-2}[dtype]
    assert abs(float(results[6]) - float(ref)) <= tol * max(1.0, abs(float(ref)))


def test_torch_autograd_flows_through_and_agrees_with_the_fused_gradient():
    torch = pytest.importorskip("torch")
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    labels = torch.tensor([0, 3, 1, 1, 2])
    weight = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    loss = sk.cross_entropy(x, labels, weight=weight, label_smoothing=0.2)
    loss.backward()
    _, grad = sk.cross_entropy_and_grad(x.detach(), labels, weight=weight, label_smoothing=0.2)
    assert torch.allclose(x.grad, grad, rtol=1e-12, atol=1e-15)
    ref = torch.nn.functional.cross_entropy(x.detach(), labels, weight=weight, label_smoothing=0.2)
    assert torch.allclose(loss.detach(), ref, rtol=1e-13)
    assert sk.softmax(x).requires_grad


def test_torch_and_array_api_strict_do_not_mix():
    torch = pytest.importorskip("torch")
    xs = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^cross_entropy: target is a array_api_strict.Array but logits is a torch"):
        sk.cross_entropy(torch.ones(2, 3), xs.asarray([0, 1]))
