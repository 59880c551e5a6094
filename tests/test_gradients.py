"""Every backward pass against central finite differences of its forward function, in float64."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import softmaxkit as sk
from softmaxkit.testing import numerical_gradient

REDUCTIONS = ["mean", "sum", "none"]


def numerical_grad(f, x, h=1e-6):
    """Central differences of ``sum(f(x))`` at ``x`` (a float64 copy), via softmaxkit.testing."""
    x = np.array(x, dtype=np.float64)
    return numerical_gradient(lambda: f(x), x, eps=h)


def assert_grad_close(analytic, numeric):
    scale = max(1.0, float(np.abs(numeric).max(initial=0.0)))
    assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7 * scale)


_seeds = st.integers(0, 2**32 - 1)
_shapes = st.sampled_from([(4,), (3, 4), (2, 3, 2), (1, 1), (2, 1, 5)])


@given(seed=_seeds, shape=_shapes, data=st.data())
def test_softmax_backward(seed, shape, data):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x, g = rng.normal(size=shape) * 2, rng.normal(size=shape)
    analytic = sk.softmax_backward(sk.softmax(x, axis=axis), g, axis=axis)
    assert_grad_close(analytic, numerical_grad(lambda z: g * sk.softmax(z, axis=axis), x))


@given(seed=_seeds, shape=_shapes, data=st.data())
def test_log_softmax_backward(seed, shape, data):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x, g = rng.normal(size=shape) * 2, rng.normal(size=shape)
    analytic = sk.log_softmax_backward(sk.log_softmax(x, axis=axis), g, axis=axis)
    assert_grad_close(analytic, numerical_grad(lambda z: g * sk.log_softmax(z, axis=axis), x))


@given(seed=_seeds, shape=_shapes)
def test_sigmoid_backward(seed, shape):
    rng = np.random.default_rng(seed)
    x, g = rng.normal(size=shape) * 3, rng.normal(size=shape)
    analytic = sk.sigmoid_backward(sk.sigmoid(x), g)
    assert_grad_close(analytic, numerical_grad(lambda z: g * sk.sigmoid(z), x))


def test_temperature_gradient_via_softmax_backward():
    # d/dx softmax(x / T) = softmax_backward(y, g) / T
    rng = np.random.default_rng(0)
    x, g, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), 2.5
    analytic = sk.softmax_backward(sk.softmax(x, temperature=t), g) / t
    assert_grad_close(analytic, numerical_grad(lambda z: g * sk.softmax(z, temperature=t), x))


def _ce_problem(rng, kind, shape, axis, ignore):
    n_classes = shape[axis]
    batch = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    if kind == "index":
        t = rng.integers(0, n_classes, size=batch)
        if ignore and t.size > 1:
            t.flat[::2] = n_classes - 1  # ignore every other row ...
            t.flat[1] = 0  # ... but not all of them
    else:
        t = np.moveaxis(rng.dirichlet(np.ones(n_classes), size=batch), -1, axis % len(shape))
    return rng.normal(size=shape) * 2, t, rng.uniform(0.2, 2.0, n_classes)


_CE_COMBOS = [
    c
    for c in itertools.product(
        [((3, 4), -1), ((2, 4, 3), 1)], ["index", "prob"], [False, True], [False, True], [0.0, 0.3], REDUCTIONS
    )
    if not (c[1] == "prob" and c[3])
]


@pytest.mark.parametrize(("shape_axis", "kind", "weighted", "ignore", "smoothing", "reduction"), _CE_COMBOS)
def test_cross_entropy_and_grad_every_option(shape_axis, kind, weighted, ignore, smoothing, reduction):
    shape, axis = shape_axis
    rng = np.random.default_rng(len(shape) * 7 + int(weighted) + 2 * int(ignore))
    x, t, w = _ce_problem(rng, kind, shape, axis, ignore)
    kw = dict(
        axis=axis,
        weight=w if weighted else None,
        ignore_index=shape[axis] - 1 if ignore else None,
        label_smoothing=smoothing,
        reduction=reduction,
    )
    loss, grad = sk.cross_entropy_and_grad(x, t, **kw)
    assert_allclose(loss, sk.cross_entropy(x, t, **kw), rtol=1e-14)
    assert_grad_close(grad, numerical_grad(lambda z: sk.cross_entropy(z, t, **kw), x))


@given(
    seed=_seeds,
    kind=st.sampled_from(["index", "prob"]),
    shape_axis=st.sampled_from([((3, 4), -1), ((3, 4), 0), ((2, 3, 2), 1), ((5,), 0), ((2, 1), 1)]),
    weighted=st.booleans(),
    ignore=st.booleans(),
    smoothing=st.floats(0, 1),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_property_cross_entropy_grad(seed, kind, shape_axis, weighted, ignore, smoothing, reduction):
    shape, axis = shape_axis
    rng = np.random.default_rng(seed)
    ignore = ignore and kind == "index"
    x, t, w = _ce_problem(rng, kind, shape, axis, ignore)
    kw = dict(
        axis=axis,
        weight=w if weighted else None,
        ignore_index=shape[axis] - 1 if ignore else None,
        label_smoothing=smoothing,
        reduction=reduction,
    )
    loss, grad = sk.cross_entropy_and_grad(x, t, **kw)
    numeric = numerical_grad(lambda z: sk.cross_entropy(z, t, **kw), x)
    if np.isnan(loss).any():  # 'mean' with every row ignored
        assert np.all(grad == 0)
    else:
        assert_grad_close(grad, numeric)


@given(
    seed=_seeds,
    weight_shape=st.sampled_from([None, (4,), (3, 1), (3, 4)]),
    pos_weighted=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_property_bce_grad(seed, weight_shape, pos_weighted, reduction):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 4)) * 3
    t = rng.random((3, 4))
    t[0] = rng.integers(0, 2, 4)
    w = None if weight_shape is None else rng.uniform(0.2, 2.0, weight_shape)
    pw = rng.uniform(0.2, 3.0, 4) if pos_weighted else None
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    loss, grad = sk.binary_cross_entropy_with_logits_and_grad(x, t, **kw)
    assert_allclose(loss, sk.binary_cross_entropy_with_logits(x, t, **kw), rtol=1e-14)
    assert_grad_close(grad, numerical_grad(lambda z: sk.binary_cross_entropy_with_logits(z, t, **kw), x))
