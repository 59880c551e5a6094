"""softmaxkit.nn optimizers and schedules: update equations, float32, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.nn import optim as optim_module


@pytest.fixture(autouse=True, params=["numba", "numpy"])
def update_path(request, monkeypatch):
    """Every optimizer test runs through the fused numba updates and through the NumPy fallback."""
    if request.param == "numpy":
        monkeypatch.setattr(optim_module, "nn_kernels", lambda: None)
    elif optim_module.nn_kernels() is None:
        pytest.skip("numba is not installed")
    return request.param


def one_layer_model(rng, dtype=np.float32):
    model = nn.Sequential([nn.Dense(4, 3, rng=rng)])
    return model.astype(dtype)


def run(optimizer, model, grads):
    """Apply one step per gradient set; returns the trajectory of the weight."""
    out = []
    for g in grads:
        layer = model.layers[0]
        layer.grads["weight"][...] = g
        layer.grads["bias"][...] = g[0]
        optimizer.step(model)
        out.append(layer.params["weight"].copy())
    return out


def reference_sgd(w, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    w, buf, out = w.copy(), None, []
    for g in grads:
        g = g + weight_decay * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
        out.append(w)
    return out


def reference_adam(w, grads, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    w, m, v, out = w.copy(), 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.5, "weight_decay": 0.1},
        {"weight_decay": 0.01},
    ],
)
def test_sgd_matches_reference_equations(rng, kwargs):
    model = one_layer_model(rng, np.float64)
    grads = [rng.standard_normal((4, 3)) for _ in range(4)]
    expected = reference_sgd(model.layers[0].params["weight"], grads, 0.1, **kwargs)
    got = run(nn.SGD(0.1, **kwargs), model, grads)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "cls, kwargs, decoupled",
    [
        (nn.Adam, {}, False),
        (nn.Adam, {"weight_decay": 0.1}, False),
        (nn.AdamW, {"weight_decay": 0.1}, True),
        (nn.Adam, {"betas": (0.8, 0.99), "eps": 1e-6}, False),
    ],
)
def test_adam_matches_reference_equations(rng, cls, kwargs, decoupled):
    model = one_layer_model(rng, np.float64)
    grads = [rng.standard_normal((4, 3)) for _ in range(5)]
    ref_kwargs = {"weight_decay": kwargs.get("weight_decay", 0.0), "eps": kwargs.get("eps", 1e-8)}
    if "betas" in kwargs:
        ref_kwargs["b1"], ref_kwargs["b2"] = kwargs["betas"]
    expected = reference_adam(model.layers[0].params["weight"], grads, 0.01, decoupled=decoupled, **ref_kwargs)
    got = run(cls(0.01, **kwargs), model, grads)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize(
    "optimizer",
    [
        nn.SGD(np.float64(0.1), momentum=0.9, nesterov=True, weight_decay=1e-3),
        nn.Adam(np.float64(1e-3), weight_decay=1e-2),
        nn.AdamW(1e-3),
    ],
)
def test_steps_keep_float32(rng, optimizer):
    model = one_layer_model(rng)
    params = [p for p, _, _ in model.parameters()]
    run(optimizer, model, [rng.standard_normal((4, 3)) for _ in range(2)])
    for before, (after, grad, _) in zip(params, model.parameters()):
        assert after is before  # updated in place
        assert after.dtype == grad.dtype == np.float32
    for slots in optimizer.state.values():
        assert all(v.dtype == np.float32 for v in slots.values() if isinstance(v, np.ndarray))


def test_lr_is_settable_and_validated():
    opt = nn.SGD(0.1)
    opt.lr = 0.05
    assert opt.lr == 0.05
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match="lr"):
        nn.Adam(float("nan"))
    with pytest.raises(ValueError, match="nesterov"):
        nn.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        nn.Adam(betas=(0.9, 1.0))


def test_zero_lr_leaves_parameters_unchanged(rng):
    model = one_layer_model(rng)
    before = model.layers[0].params["weight"].copy()
    run(nn.Adam(0.0), model, [rng.standard_normal((4, 3))])
    np.testing.assert_array_equal(model.layers[0].params["weight"], before)


def test_cosine_schedule():
    s = nn.CosineSchedule(0.1, 110, warmup_steps=10, min_lr=0.001)
    assert s(0) == pytest.approx(0.01) and s(9) == pytest.approx(0.1)
    assert s(10) == pytest.approx(0.1)
    assert s(60) == pytest.approx(0.001 + 0.5 * 0.099)
    assert s(110) == pytest.approx(0.001) and s(1000) == pytest.approx(0.001)
    values = [s(k) for k in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert nn.CosineSchedule(1.0, 4)(2) == pytest.approx(0.5 * (1 + math.cos(math.pi / 2)))
    with pytest.raises(ValueError, match="warmup_steps"):
        nn.CosineSchedule(0.1, 10, warmup_steps=11)


def test_step_schedule():
    s = nn.StepSchedule(1.0, 3, gamma=0.5)
    assert [s(k) for k in range(7)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    with pytest.raises(ValueError, match="step_size"):
        nn.StepSchedule(1.0, 0)
