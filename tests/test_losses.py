"""Correctness of the cross-entropy family in softmaxkit.losses.

The reference semantics are PyTorch's (compared option by option when torch is importable); accuracy
is measured against 60-digit mpmath; integer labels must agree with one-hot targets.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import softmaxkit as sk

inf, nan = np.inf, np.nan
REDUCTIONS = ["mean", "sum", "none"]


# --------------------------------------------------------------------------------------------------
# accuracy against mpmath
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_within_few_ulps_of_mpmath(dtype, rng):
    mpmath = pytest.importorskip("mpmath")
    mp = mpmath.mp
    mp.dps = 60
    x = (rng.normal(size=(40, 7)) * rng.choice([0.1, 3.0, 20.0], size=(40, 1))).astype(dtype)
    x[0] = [0.0, -40.0, -50.0, -60.0, -45.0, -41.0, -70.0]  # loss ~ 4e-18: relative accuracy matters
    labels = rng.integers(0, 7, size=40)
    labels[0] = 0
    shifted = x - x.max(axis=1, keepdims=True)  # the one rounding every stable algorithm makes
    refs = []
    for row, y in zip(shifted, labels):
        vals = [mp.mpf(float(v)) for v in row]
        refs.append(mp.log(mp.fsum(mp.exp(v) for v in vals)) - vals[y])
    got = sk.cross_entropy(x, labels, reduction="none")
    assert got.dtype == dtype
    ref_f = np.array([float(r) for r in refs]).astype(dtype)
    ulps = np.array([float(abs(mp.mpf(float(g)) - r)) for g, r in zip(got, refs)]) / np.spacing(ref_f)
    assert ulps.max() <= 4
    assert float(got[0]) == pytest.approx(float(refs[0]), rel=1e-6 if dtype == np.float32 else 1e-15)
    mean_ref = mp.fsum(refs) / len(refs)
    mean = sk.cross_entropy(x, labels)
    assert float(abs(mp.mpf(float(mean)) - mean_ref)) <= 8 * np.spacing(dtype(float(mean_ref)))
    loss, _ = sk.cross_entropy_and_grad(x, labels, reduction="none")
    assert_array_equal(loss, got)


def test_cross_entropy_huge_logits():
    x = np.array([[1e10, 1e10 + 1.0, 1e10 - 2.0], [-1e10, -1e10, -1e10]])
    got = sk.cross_entropy(x, np.array([1, 2]), reduction="none")
    assert_allclose(got, [sk.cross_entropy([0.0, 1.0, -2.0], np.array(1)), np.log(3)], rtol=1e-15)
    assert sk.cross_entropy([1000.0, 0.0], np.array(1)) == 1000.0
    sure = sk.cross_entropy([1000.0, 0.0], np.array(0))
    assert sure == 0.0 and not np.signbit(sure)  # +0, not -0
    assert not np.any(np.signbit(sk.cross_entropy(np.array([[50.0, 0.0]]), np.array([[1.0, 0.0]]), reduction="none")))
    loss, grad = sk.cross_entropy_and_grad(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == 1000.0
    assert_array_equal(grad, [[1.0, -1.0]])


def test_cross_entropy_docstring_example_numbers():
    logits = np.array([[1.6, 3.1, 0.5]])
    loss, grad = sk.cross_entropy_and_grad(logits, np.array([1]))
    p = sk.softmax(logits)
    assert loss == pytest.approx(-np.log(p[0, 1]), rel=1e-15)
    assert_allclose(grad, p - [[0, 1, 0]], rtol=1e-15, atol=1e-17)


# --------------------------------------------------------------------------------------------------
# agreement with PyTorch, every option combination
# --------------------------------------------------------------------------------------------------

CASES = {  # name: (logits shape, class axis); torch always gets the class axis moved to dim 1
    "2d-last": ((7, 5), -1),
    "3d-middle": ((4, 5, 3), 1),
    "3d-last": ((4, 3, 5), -1),
    "1d": ((5,), 0),
}
IGNORE = 2


def _problem(case, kind, ignore, seed=0):
    shape, axis = CASES[case]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * 3
    n_classes = shape[axis]
    batch = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    if kind == "index":
        t = rng.integers(0, n_classes, size=batch)
        if ignore:
            t.flat[::3] = IGNORE
    else:
        t = np.moveaxis(rng.dirichlet(np.ones(n_classes), size=batch), -1, axis % len(shape))
    weight = rng.uniform(0.2, 2.0, n_classes)
    return x, t, axis, weight


def _torch_cross_entropy(x, t, axis, **kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    to_dim1 = (lambda a: np.moveaxis(a, axis, 1)) if x.ndim > 1 else (lambda a: a)
    xt = torch.tensor(to_dim1(x), requires_grad=True)
    tt = torch.tensor(to_dim1(t) if t.dtype.kind == "f" else t)
    if kw.get("weight") is not None:
        kw["weight"] = torch.tensor(kw["weight"])
    if kw.get("ignore_index") is None:
        kw["ignore_index"] = -100
    loss = F.cross_entropy(xt, tt, **kw)
    loss.sum().backward()
    grad = xt.grad.numpy()
    return loss.detach().numpy(), (np.moveaxis(grad, 1, axis) if x.ndim > 1 else grad)


_COMBOS = [
    (case, kind, w, ig, ls, red)
    for case, kind, w, ig, ls, red in itertools.product(
        CASES, ["index", "prob"], [False, True], [False, True], [0.0, 0.3], REDUCTIONS
    )
    if not (kind == "prob" and ig)
]


@pytest.mark.parametrize(("case", "kind", "weighted", "ignore", "smoothing", "reduction"), _COMBOS)
def test_cross_entropy_matches_torch(case, kind, weighted, ignore, smoothing, reduction):
    x, t, axis, weight = _problem(case, kind, ignore)
    kw = dict(weight=weight if weighted else None, ignore_index=IGNORE if ignore else None)
    kw.update(label_smoothing=smoothing, reduction=reduction)
    ref_loss, ref_grad = _torch_cross_entropy(x, t, axis, **kw)
    x_copy, t_copy = x.copy(), t.copy()
    loss = sk.cross_entropy(x, t, axis=axis, **kw)
    loss2, grad = sk.cross_entropy_and_grad(x, t, axis=axis, **kw)
    assert np.shape(loss) == ref_loss.shape and np.shape(loss2) == ref_loss.shape
    assert_allclose(loss, ref_loss, rtol=1e-13, atol=1e-14)
    assert_allclose(loss2, ref_loss, rtol=1e-13, atol=1e-14)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    # the same from probabilities (less stable, but well-conditioned here)
    loss3 = sk.cross_entropy_from_probs(sk.softmax(x, axis=axis), t, axis=axis, **kw)
    assert_allclose(loss3, ref_loss, rtol=1e-12, atol=1e-14)
    assert_array_equal(x, x_copy)
    assert_array_equal(t, t_copy)


@pytest.mark.parametrize("case", ["2d-last", "3d-middle"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_ignored_matches_torch(case, weighted, smoothing, reduction):
    x, t, axis, weight = _problem(case, "index", ignore=False)
    t = np.full_like(t, IGNORE)
    kw = dict(weight=weight if weighted else None, ignore_index=IGNORE, label_smoothing=smoothing, reduction=reduction)
    ref_loss, ref_grad = _torch_cross_entropy(x, t, axis, **kw)
    loss = sk.cross_entropy(x, t, axis=axis, **kw)
    loss2, grad = sk.cross_entropy_and_grad(x, t, axis=axis, **kw)
    if reduction == "mean":
        assert np.isnan(loss) and np.isnan(loss2) and np.isnan(ref_loss)
    else:
        assert_array_equal(loss, 0.0)
        assert_array_equal(loss2, ref_loss)
    assert_array_equal(grad, np.zeros_like(x))  # ignored rows never get a gradient
    assert_array_equal(grad, ref_grad)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_total_weight_matches_torch(smoothing, reduction):
    # Every non-ignored row's label has weight 0: the mean is 0/0.
    x, t, axis, _ = _problem("2d-last", "index", ignore=False)
    t = np.where(np.arange(t.size) % 2 == 0, 1, IGNORE)
    weight = np.array([1.0, 0.0, 1.0, 1.0, 1.0])
    kw = dict(weight=weight, ignore_index=IGNORE, label_smoothing=smoothing, reduction=reduction)
    ref_loss, ref_grad = _torch_cross_entropy(x, t, axis, **kw)
    loss2, grad = sk.cross_entropy_and_grad(x, t, axis=axis, **kw)
    assert_allclose(sk.cross_entropy(x, t, axis=axis, **kw), ref_loss, rtol=1e-13, atol=1e-15)
    assert_allclose(loss2, ref_loss, rtol=1e-13, atol=1e-15)
    assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [(1, 4), (6, 4), (4,)])
def test_bce_matches_torch(weighted, pos_weighted, reduction, weight_shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4)) * 4
    x[0, :2] = [40.0, -40.0]
    t = rng.integers(0, 2, size=(6, 4)).astype(float)
    t[1, :2] = [0.3, 0.9]  # soft targets
    w = rng.uniform(0.5, 2.0, weight_shape) if weighted else None
    pw = rng.uniform(0.5, 3.0, 4) if pos_weighted else None
    xt = torch.tensor(x, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(
        xt,
        torch.tensor(t),
        weight=None if w is None else torch.tensor(w),
        pos_weight=None if pw is None else torch.tensor(pw),
        reduction=reduction,
    )
    ref.sum().backward()
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    loss, grad = sk.binary_cross_entropy_with_logits_and_grad(x, t, **kw)
    assert_allclose(sk.binary_cross_entropy_with_logits(x, t, **kw), ref.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert_allclose(loss, ref.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert_allclose(grad, xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_float32_matches_torch():
    torch = pytest.importorskip("torch")
    x, t, axis, weight = _problem("3d-middle", "index", ignore=True)
    x32 = x.astype(np.float32)
    kw = dict(weight=weight.astype(np.float32), ignore_index=IGNORE, label_smoothing=0.1)
    xt = torch.tensor(np.moveaxis(x32, axis, 1), requires_grad=True)
    ref = torch.nn.functional.cross_entropy(
        xt, torch.tensor(t), weight=torch.tensor(kw["weight"]), ignore_index=IGNORE, label_smoothing=0.1
    )
    ref.backward()
    loss, grad = sk.cross_entropy_and_grad(x32, t, axis=axis, **kw)
    assert isinstance(loss, np.float32) and grad.dtype == np.float32
    assert loss == pytest.approx(ref.item(), rel=1e-6)
    assert_allclose(grad, np.moveaxis(xt.grad.numpy(), 1, axis), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------------------
# consistency properties
# --------------------------------------------------------------------------------------------------


@st.composite
def _classification(draw, weighted=False):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([0.1, 3.0, 50.0]))
    x = rng.normal(size=(n, c)) * scale
    labels = rng.integers(0, c, size=n)
    weight = rng.uniform(0.1, 3.0, c) if weighted else None
    return x, labels, weight


@given(
    problem=_classification(),
    reduction=st.sampled_from(REDUCTIONS),
    smoothing=st.sampled_from([0.0, 0.3, 1.0]) | st.floats(0, 1),
)
def test_property_labels_agree_with_one_hot(problem, reduction, smoothing):
    x, labels, _ = problem
    one_hot = np.eye(x.shape[1])[labels]
    kw = dict(label_smoothing=smoothing, reduction=reduction)
    l_idx, g_idx = sk.cross_entropy_and_grad(x, labels, **kw)
    l_prob, g_prob = sk.cross_entropy_and_grad(x, one_hot, **kw)
    assert_allclose(l_idx, l_prob, rtol=1e-12, atol=1e-13)
    assert_allclose(g_idx, g_prob, rtol=1e-12, atol=1e-14)
    assert_allclose(sk.cross_entropy(x, labels, **kw), sk.cross_entropy(x, one_hot, **kw), rtol=1e-12, atol=1e-13)


@given(
    problem=_classification(weighted=True),
    reduction=st.sampled_from(["sum", "none"]),
    smoothing=st.sampled_from([0.0, 0.3]),
)
def test_property_weighted_labels_agree_with_one_hot_except_mean(problem, reduction, smoothing):
    # With weights, 'mean' divides by sum(w[y]) for labels but by N for probabilities (as torch does);
    # per-row losses and sums agree.
    x, labels, weight = problem
    one_hot = np.eye(x.shape[1])[labels]
    kw = dict(weight=weight, label_smoothing=smoothing, reduction=reduction)
    l_idx, g_idx = sk.cross_entropy_and_grad(x, labels, **kw)
    l_prob, g_prob = sk.cross_entropy_and_grad(x, one_hot, **kw)
    assert_allclose(l_idx, l_prob, rtol=1e-12, atol=1e-13)
    assert_allclose(g_idx, g_prob, rtol=1e-12, atol=1e-13)
    mean_idx = sk.cross_entropy(x, labels, weight=weight, label_smoothing=smoothing)
    mean_prob = sk.cross_entropy(x, one_hot, weight=weight, label_smoothing=smoothing)
    total = np.sum(sk.cross_entropy(x, labels, weight=weight, label_smoothing=smoothing, reduction="none"))
    assert_allclose(mean_idx, total / weight[labels].sum(), rtol=1e-12)
    assert_allclose(mean_prob, total / len(labels), rtol=1e-12)


@given(problem=_classification(), data=st.data())
def test_property_any_axis_agrees_with_moving_axis_last(problem, data):
    x2, labels2, _ = problem
    x = np.stack([x2, x2[::-1] * 0.5], axis=1)  # (n, 2, c)
    labels = np.stack([labels2, labels2[::-1]], axis=1)
    axis = data.draw(st.sampled_from([0, 1, 2, -1, -2]))
    moved = np.moveaxis(x, -1, axis)
    kw = dict(reduction=data.draw(st.sampled_from(REDUCTIONS)), label_smoothing=data.draw(st.sampled_from([0.0, 0.2])))
    loss, grad = sk.cross_entropy_and_grad(moved, labels, axis=axis, **kw)
    ref_loss, ref_grad = sk.cross_entropy_and_grad(x, labels, **kw)
    assert_allclose(loss, ref_loss, rtol=1e-13, atol=1e-14)
    assert_allclose(grad, np.moveaxis(ref_grad, -1, axis), rtol=1e-13, atol=1e-15)
    probs = sk.softmax(x[..., ::-1])
    assert_allclose(
        sk.cross_entropy(moved, np.moveaxis(probs, -1, axis), axis=axis, **kw),
        sk.cross_entropy(x, probs, **kw),
        rtol=1e-13,
        atol=1e-14,
    )


@given(problem=_classification(weighted=True), reduction=st.sampled_from(REDUCTIONS))
def test_property_from_probs_agrees_with_logits(problem, reduction):
    x, labels, weight = problem
    x = x / 50  # keep every probability comfortably above 0
    kw = dict(weight=weight, reduction=reduction)
    from_probs = sk.cross_entropy_from_probs(sk.softmax(x), labels, **kw)
    assert_allclose(from_probs, sk.cross_entropy(x, labels, **kw), rtol=1e-12, atol=1e-14)


@given(
    x=st.lists(st.floats(-30, 30), min_size=1, max_size=8),
    t=st.lists(st.floats(0, 1), min_size=8, max_size=8),
)
def test_property_bce_is_two_class_cross_entropy(x, t):
    x = np.array(x)
    t = np.array(t[: len(x)])
    bce = sk.binary_cross_entropy_with_logits(x, t, reduction="none")
    pair = np.stack([x, np.zeros_like(x)], axis=-1)
    ce = sk.cross_entropy(pair, np.stack([t, 1 - t], axis=-1), reduction="none")
    assert_allclose(bce, ce, rtol=1e-12, atol=1e-14)
    assert np.all(bce >= 0)


# --------------------------------------------------------------------------------------------------
# special values, dtypes, shapes
# --------------------------------------------------------------------------------------------------


def test_probability_target_zero_times_log_zero_is_zero():
    loss = sk.cross_entropy([[0.0, -inf, 1.0]], np.array([[0.5, 0.0, 0.5]]), reduction="none")
    assert np.isfinite(loss).all()
    assert_allclose(loss, -0.5 * sk.log_softmax([0.0, -inf, 1.0])[[0, 2]].sum())
    probs_loss = sk.cross_entropy_from_probs(np.array([[0.5, 0.0, 0.5]]), np.array([[1.0, 0.0, 0.0]]))
    assert probs_loss == pytest.approx(np.log(2))


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_nan_logit_poisons_only_its_own_row(kind):
    x = np.array([[nan, 0.0, 1.0], [1.0, 0.0, -1.0], [inf, 0.0, nan]])
    t = np.array([1, 0, 1]) if kind == "index" else np.full((3, 3), 1 / 3)
    loss, grad = sk.cross_entropy_and_grad(x, t, reduction="none")
    assert np.isnan(loss[[0, 2]]).all() and np.isnan(grad[[0, 2]]).all()
    ref_loss, ref_grad = sk.cross_entropy_and_grad(x[1:2], t[1:2], reduction="none")
    assert_array_equal(loss[1:2], ref_loss)
    assert_array_equal(grad[1:2], ref_grad)
    assert np.isnan(sk.cross_entropy(x, t))


def test_cross_entropy_from_probs_impossible_event_is_inf():
    assert sk.cross_entropy_from_probs(np.array([[1.0, 0.0]]), np.array([1])) == inf
    assert sk.cross_entropy_from_probs(np.array([[1.0, 0.0]]), np.array([0])) == 0.0


def test_bce_infinite_logits_with_certain_targets_cost_zero():
    x = np.array([inf, -inf])
    loss, grad = sk.binary_cross_entropy_with_logits_and_grad(x, np.array([1.0, 0.0]), reduction="none")
    assert_array_equal(loss, [0.0, 0.0])
    assert_array_equal(grad, [0.0, 0.0])
    assert_array_equal(sk.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0]), reduction="none"), [inf, inf])


@pytest.mark.parametrize(
    ("in_dtype", "out_dtype"),
    [(np.float16, np.float16), (np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)],
)
def test_loss_dtypes(in_dtype, out_dtype):
    x = np.array([[1, 0, 2], [0, 1, 1]]).astype(in_dtype)
    labels = np.array([2, 0])
    for reduction in REDUCTIONS:
        loss, grad = sk.cross_entropy_and_grad(x, labels, reduction=reduction)
        assert np.asarray(loss).dtype == out_dtype and grad.dtype == out_dtype
        assert np.asarray(sk.cross_entropy(x, labels, reduction=reduction)).dtype == out_dtype
        loss_b, grad_b = sk.binary_cross_entropy_with_logits_and_grad(x, np.ones(x.shape), reduction=reduction)
        assert np.asarray(loss_b).dtype == out_dtype and grad_b.dtype == out_dtype
    assert np.asarray(sk.cross_entropy(x, labels)).shape == ()


@pytest.mark.parametrize("kind", ["index", "prob"])
def test_empty_batch(kind):
    x = np.zeros((0, 4))
    t = np.zeros(0, int) if kind == "index" else np.zeros((0, 4))
    loss, grad = sk.cross_entropy_and_grad(x, t)
    assert np.isnan(loss) and grad.shape == (0, 4)  # torch: mean over nothing is NaN
    assert sk.cross_entropy(x, t, reduction="sum") == 0.0
    assert sk.cross_entropy(x, t, reduction="none").shape == (0,)


def test_label_smoothing_one_is_uniform_target():
    x = np.array([[1.0, 2.0, 5.0]])
    assert_allclose(sk.cross_entropy(x, np.array([2]), label_smoothing=1.0), -sk.log_softmax(x).mean())


def test_inputs_never_modified(rng):
    x = rng.normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 1])
    probs = sk.softmax(rng.normal(size=(5, 4)))
    w = np.array([1.0, 2.0, 0.5, 1.0])
    saved = [a.copy() for a in (x, labels, probs, w)]
    sk.cross_entropy_and_grad(x, labels, weight=w, ignore_index=1, label_smoothing=0.2)
    sk.cross_entropy_and_grad(x, probs, weight=w, label_smoothing=0.2)
    sk.cross_entropy_from_probs(probs, labels, weight=w)
    sk.binary_cross_entropy_with_logits_and_grad(x, probs, weight=w, pos_weight=w)
    for a, b in zip((x, labels, probs, w), saved):
        assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------
# invalid arguments
# --------------------------------------------------------------------------------------------------

CE_FUNCS = [sk.cross_entropy, sk.cross_entropy_and_grad, sk.cross_entropy_from_probs]
_X = np.full((3, 4), 0.25)


@pytest.mark.parametrize("func", CE_FUNCS)
def test_labels_out_of_range(func):
    name = func.__name__
    with pytest.raises(ValueError, match=f"{name}: target has label 4 out of range for 4 classes"):
        func(_X, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=f"{name}: target has label -1 out of range for 4 classes"):
        func(_X, np.array([0, -1, 1]))
    # the ignore_index value itself may lie outside the class range
    func(_X, np.array([0, -100, 1]), ignore_index=-100)


@pytest.mark.parametrize("func", CE_FUNCS)
def test_target_shape_mismatch(func):
    name = func.__name__
    with pytest.raises(ValueError, match=rf"{name}: integer target must have shape \(3,\)"):
        func(_X, np.array([0, 1]))
    with pytest.raises(ValueError, match=rf"{name}: integer target must have shape \(3,\)"):
        func(_X, np.zeros((3, 4), int))
    with pytest.raises(ValueError, match=rf"{name}: probability target must have the logits' shape \(3, 4\)"):
        func(_X, np.full((3, 3), 1 / 3))
    with pytest.raises(TypeError, match=f"{name}: target must be integer class labels or float probabilities"):
        func(_X, np.array(["a", "b", "c"]))


@pytest.mark.parametrize("func", CE_FUNCS)
@pytest.mark.parametrize("smoothing", [-0.1, 1.5, nan])
def test_label_smoothing_out_of_range(func, smoothing):
    with pytest.raises(ValueError, match=rf"{func.__name__}: label_smoothing must be a number in \[0, 1\]"):
        func(_X, np.array([0, 1, 2]), label_smoothing=smoothing)


@pytest.mark.parametrize("func", CE_FUNCS)
def test_bad_options(func):
    name = func.__name__
    labels = np.array([0, 1, 2])
    with pytest.raises(TypeError, match=f"{name}: label_smoothing must be a real number"):
        func(_X, labels, label_smoothing="0.1")
    with pytest.raises(ValueError, match=f"{name}: reduction must be one of 'mean' | 'sum' | 'none', got 'avg'"):
        func(_X, labels, reduction="avg")
    with pytest.raises(ValueError, match=rf"{name}: weight must have shape \(4,\) \(one per class\), got \(3,\)"):
        func(_X, labels, weight=np.ones(3))
    with pytest.raises(ValueError, match=f"{name}: weight contains NaN"):
        func(_X, labels, weight=np.array([1.0, nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match=f"^{name}: axis 3 is out of bounds for array of dimension 2$"):
        func(_X, labels, axis=3)
    with pytest.raises(ValueError, match=f"{name}: ignore_index applies to integer class labels"):
        func(_X, np.full((3, 4), 0.25), ignore_index=0)
    with pytest.raises(TypeError, match=f"{name}: ignore_index must be an integer"):
        func(_X, labels, ignore_index=1.5)
    argname = "probs" if func is sk.cross_entropy_from_probs else "logits"
    with pytest.raises(ValueError, match=f"{name}: {argname} must have at least one dimension"):
        func(np.float64(0.5), np.int64(0))


@pytest.mark.parametrize("func", CE_FUNCS)
def test_nan_in_probability_target(func):
    t = np.full((3, 4), 0.25)
    t[1, 2] = nan
    with pytest.raises(ValueError, match=f"{func.__name__}: target contains NaN"):
        func(_X, t)


@pytest.mark.parametrize("bad", [1.5, -0.1, nan])
def test_probs_outside_unit_interval(bad):
    p = np.full((3, 4), 0.25)
    p[0, 0] = bad
    with pytest.raises(ValueError, match=r"cross_entropy_from_probs: probs (must lie in \[0, 1\]|contains NaN)"):
        sk.cross_entropy_from_probs(p, np.array([0, 1, 2]))


@pytest.mark.parametrize("func", [sk.binary_cross_entropy_with_logits, sk.binary_cross_entropy_with_logits_and_grad])
def test_bce_bad_arguments(func):
    x = np.zeros((3, 4))
    name = func.__name__
    with pytest.raises(ValueError, match=rf"{name}: target must have the logits' shape \(3, 4\)"):
        func(x, np.zeros(4))
    with pytest.raises(ValueError, match=rf"{name}: weight of shape \(3,\) cannot be broadcast"):
        func(x, np.zeros((3, 4)), weight=np.ones(3))
    with pytest.raises(ValueError, match=rf"{name}: pos_weight of shape \(5,\) cannot be broadcast"):
        func(x, np.zeros((3, 4)), pos_weight=np.ones(5))
    with pytest.raises(ValueError, match=f"{name}: reduction must be one of"):
        func(x, np.zeros((3, 4)), reduction="batchmean")
    with pytest.raises(ValueError, match=f"{name}: target contains NaN"):
        func(x, np.full((3, 4), nan))


# --------------------------------------------------------------------------------------------------
# large inputs (the fused fast path, once present, must agree with the NumPy reference)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_large_batch_matches_small_chunks(dtype, weighted, rng):
    n, c = 600, 100
    x = (rng.normal(size=(n, c)) * 4).astype(dtype)
    x[0, 5] = dtype(1e4)
    x[1, :] = -inf
    x[1, 3] = 0.0
    labels = rng.integers(0, c, size=n)
    labels[::7] = -1
    labels[1] = 3
    w = rng.uniform(0.5, 2.0, c).astype(dtype) if weighted else None
    kw = dict(weight=w, ignore_index=-1)
    eps = float(np.finfo(dtype).eps)
    rows = [
        sk.cross_entropy_and_grad(x[i : i + 10], labels[i : i + 10], reduction="none", **kw) for i in range(0, n, 10)
    ]
    ref_rows = np.concatenate([r[0] for r in rows])
    ref_grad = np.concatenate([r[1] for r in rows])
    assert_allclose(sk.cross_entropy(x, labels, reduction="none", **kw), ref_rows, rtol=16 * eps, atol=16 * eps)
    loss, grad = sk.cross_entropy_and_grad(x, labels, reduction="none", **kw)
    assert_allclose(loss, ref_rows, rtol=16 * eps, atol=16 * eps)
    assert_allclose(grad, ref_grad, rtol=16 * eps, atol=16 * eps)
    denom = n - len(labels[::7]) if w is None else w[labels[labels != -1]].sum(dtype=np.float64)
    mean_ref = ref_rows.sum(dtype=np.float64) / denom
    for func in (sk.cross_entropy, lambda *a, **k: sk.cross_entropy_and_grad(*a, **k)[0]):
        mean = func(x, labels, **kw)
        assert isinstance(mean, dtype)
        assert mean == pytest.approx(mean_ref, rel=64 * eps)
    _, grad_mean = sk.cross_entropy_and_grad(x, labels, **kw)
    assert_allclose(grad_mean, ref_grad / dtype(denom), rtol=32 * eps, atol=eps / n)
    assert_array_equal(grad_mean[::7], 0.0)


def test_large_batch_middle_axis(rng):
    x = rng.normal(size=(40, 30, 50))
    labels = rng.integers(0, 30, size=(40, 50))
    loss, grad = sk.cross_entropy_and_grad(x, labels, axis=1, reduction="sum")
    _, ref_grad = sk.cross_entropy_and_grad(np.moveaxis(x, 1, -1)[:2], labels[:2], reduction="none")
    assert_allclose(np.moveaxis(grad, 1, -1)[:2], ref_grad, rtol=1e-13, atol=1e-16)
    rows = [sk.cross_entropy(np.moveaxis(x, 1, -1)[i], labels[i], reduction="sum") for i in range(40)]
    assert loss == pytest.approx(np.sum(rows), rel=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_batch_all_ignored(dtype, rng):
    x = rng.normal(size=(500, 100)).astype(dtype)
    labels = np.full(500, -1)
    loss, grad = sk.cross_entropy_and_grad(x, labels, ignore_index=-1)
    assert np.isnan(loss) and np.isnan(sk.cross_entropy(x, labels, ignore_index=-1))
    assert_array_equal(grad, np.zeros_like(x))  # as in PyTorch: ignored rows get no gradient
    loss, grad = sk.cross_entropy_and_grad(x, labels, ignore_index=-1, reduction="sum")
    assert loss == 0.0
    assert_array_equal(grad, np.zeros_like(x))


def test_ignored_row_with_minus_inf_logit_costs_nothing_and_warns_nothing():
    # the ignored row's picked log-probability is -inf; 0 * -inf must not leak a NaN or a RuntimeWarning
    x = np.array([[0.0, -np.inf], [1.0, 2.0]])
    for smoothing in (0.0, 0.1):
        loss = sk.cross_entropy(x, np.array([1, 0]), ignore_index=1, label_smoothing=smoothing, reduction="none")
        assert loss[0] == 0.0 and np.isfinite(loss[1])
