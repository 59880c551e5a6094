"""Fused blocks (softmaxkit.nn._fused): the same results as the layers run one by one, with and without numba."""

from __future__ import annotations

import numpy as np
import pytest

from softmaxkit import cross_entropy_and_grad, nn
from softmaxkit.nn import _fused
from softmaxkit.nn import conv as conv_module

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def fuse_small_inputs(monkeypatch):
    """The tests' small batches take the numba kernels (as batches above MIN_SIZE elements do)."""
    monkeypatch.setattr(_fused, "MIN_SIZE", 0)
    monkeypatch.setattr(conv_module, "MIN_SIZE", 0)


def unfused(model, x, grad):
    """Logits, parameter gradients and input gradient with every layer run on its own."""
    h = x
    for layer in model.layers:
        h = layer.forward(h, training=True)
    g = grad
    for layer in reversed(model.layers):
        g = layer.backward(g)
    return h, [gr.copy() for _, gr, _ in model.parameters()], g


def fused(model, x, y):
    logits = model.forward(x, training=True)
    _, grad = cross_entropy_and_grad(logits, y)
    gx = model.backward(grad, input_grad=True)
    return logits, [gr.copy() for _, gr, _ in model.parameters()], gx, grad


def stack(rng, c, *, pool=(2, 2), conv_stride=1, second=True, hw=(11, 10)):
    layers = [nn.Conv2D(c, 5, 3, padding=1, stride=conv_stride, rng=rng), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2D(pool))
    if second:
        layers += [nn.Conv2D(5, 4, (3, 2), padding=(1, 0), rng=rng), nn.ReLU(), nn.MaxPool2D(2)]
    model = nn.Sequential([*layers, nn.Flatten()], input_shape=(c, *hw))
    flat = model.output_shape()[0]
    model.layers += [nn.Dense(flat, 7, rng=rng), nn.ReLU(), nn.Dense(7, 3, init="glorot", rng=rng)]
    model.input_shape = None
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][:] = rng.standard_normal(layer.params["bias"].shape) * 0.1
    return model.astype(np.float64)


CASES = {
    "grey, direct first conv": {"c": 1},
    "rgb, direct first conv": {"c": 3},
    "four channels, GEMM": {"c": 4},
    "odd sizes, pooling drops a row": {"c": 2, "hw": (9, 7)},
    "3x3 pooling": {"c": 1, "pool": (3, 3), "second": False, "hw": (12, 12)},
    "conv + relu without pooling": {"c": 2, "pool": None},
    "stride 2": {"c": 1, "conv_stride": 2, "second": False, "hw": (12, 12)},
}


@pytest.mark.parametrize("case", CASES)
def test_fused_blocks_match_the_layers_one_by_one(rng, case):
    model = stack(rng, **{k: v for k, v in CASES[case].items() if k != "hw"}, hw=CASES[case].get("hw", (11, 10)))
    units = _fused.plan(model.layers)
    assert any(not isinstance(u, _fused._Single) for u in units)
    c, hw = CASES[case]["c"], CASES[case].get("hw", (11, 10))
    x = rng.standard_normal((6, c, *hw))
    y = rng.integers(0, 3, 6)
    logits, grads, gx, grad = fused(model, x, y)
    ref_logits, ref_grads, ref_gx = unfused(model, x, grad)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-12, atol=1e-13)
    for a, b, (_, _, name) in zip(grads, ref_grads, model.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(model.forward(x), logits)  # inference: the same output


@pytest.mark.parametrize("case", ["grey, direct first conv", "four channels, GEMM", "stride 2"])
def test_numba_and_numpy_paths_agree(rng, case, monkeypatch):
    model = stack(rng, **{k: v for k, v in CASES[case].items() if k != "hw"}, hw=CASES[case].get("hw", (11, 10)))
    c, hw = CASES[case]["c"], CASES[case].get("hw", (11, 10))
    x = rng.standard_normal((4, c, *hw))
    y = rng.integers(0, 3, 4)
    logits, grads, gx, _ = fused(model, x, y)
    monkeypatch.setattr(_fused, "conv_kernels", lambda: None)
    monkeypatch.setattr(conv_module, "conv_kernels", lambda: None)
    assert all(isinstance(u, _fused._Single) for u in _fused.plan(model.layers))
    ref_logits, ref_grads, ref_gx, _ = fused(model, x, y)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-12, atol=1e-13)
    for a, b in zip(grads, ref_grads):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("c", [1, 4])
def test_nan_propagates_as_in_the_layers(rng, c):
    model = stack(rng, c, second=False)
    x = rng.standard_normal((3, c, 11, 10))
    x[1, 0, 4, 4] = np.nan
    out = model.forward(x)
    h = x
    for layer in model.layers:
        h = layer.forward(h)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(h))
    assert np.isnan(out[1]).all() and not np.isnan(out[[0, 2]]).any()


def test_small_inputs_run_unfused_without_numba(rng, monkeypatch):
    monkeypatch.undo()
    model = stack(rng, 1)
    assert isinstance(_fused.unit_at(model.layers, 0, 100), _fused._Single)
    assert not isinstance(_fused.unit_at(model.layers, 0, _fused.MIN_SIZE), _fused._Single)


def test_float32_training_forward_is_reused_safely(rng):
    """Buffers reused across steps never leak into a later inference forward."""
    model = nn.architectures.cnn((1, 12, 12), 3, rng=rng)
    x = rng.random((5, 1, 12, 12), dtype=np.float32)
    first = model.forward(x, training=True).copy()
    model.forward(rng.random((5, 1, 12, 12), dtype=np.float32), training=True)
    np.testing.assert_array_equal(model.forward(x), first)


def test_backward_needs_a_training_forward(rng):
    model = stack(rng, 1)
    model.forward(rng.standard_normal((2, 1, 11, 10)))  # inference only
    with pytest.raises(RuntimeError, match="needs a preceding forward"):
        model.backward(np.ones((2, 3)))


def test_wrong_gradient_shape_is_a_clear_error(rng):
    model = nn.Sequential([nn.Conv2D(1, 2, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2D(2)])
    model.forward(rng.standard_normal((2, 1, 6, 6)), training=True)
    with pytest.raises(ValueError, match="expected grad_y of shape"):
        model.backward(np.ones((2, 2, 2, 2)))


@pytest.mark.parametrize(("kernel", "padding"), [(3, 0), (3, 1), (3, 2), ((3, 5), (1, 4)), (2, 3), (1, 0)])
def test_conv2d_numba_layout_matches_numpy(rng, kernel, padding, monkeypatch):
    """Conv2D at stride 1 computes rows of W + pw entries (shared padding zeros): numba's parallel
    copies of the runs give the same outputs and gradients as NumPy's (and, with padding beyond the
    kernel, as NumPy's window gather), for every padding up to and beyond the kernel."""
    layer = nn.Conv2D(3, 4, kernel, padding=padding, rng=rng).astype(np.float64)
    x = rng.standard_normal((5, 3, 9, 8))
    out = layer.forward(x, training=True)
    g = rng.standard_normal(out.shape)
    gx = layer.backward(g)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    monkeypatch.setattr(conv_module, "conv_kernels", lambda: None)
    np.testing.assert_allclose(layer.forward(x, training=True), out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), gx, rtol=1e-12, atol=1e-12)
    for key, value in layer.grads.items():
        np.testing.assert_allclose(value, grads[key], rtol=1e-12, atol=1e-12)
