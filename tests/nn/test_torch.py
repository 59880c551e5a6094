"""softmaxkit.nn against PyTorch (skipped when torch is not installed): forward, gradients, optimizers."""

from __future__ import annotations

import numpy as np
import pytest

from softmaxkit import cross_entropy_and_grad, nn

torch = pytest.importorskip("torch")


def to_torch_stack(model):
    """The equivalent torch.nn.Sequential, sharing the (copied) weights of ``model``."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, nn.Conv2D):
            t = torch.nn.Conv2d(
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size,
                stride=layer.stride,
                padding=layer.padding,
                dtype=torch.float64,
            )
            t.weight.data = torch.tensor(layer.params["weight"], dtype=torch.float64)
            t.bias.data = torch.tensor(layer.params["bias"], dtype=torch.float64)
        elif isinstance(layer, nn.Dense):
            t = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            t.weight.data = torch.tensor(layer.params["weight"].T.copy(), dtype=torch.float64)
            t.bias.data = torch.tensor(layer.params["bias"], dtype=torch.float64)
        elif isinstance(layer, nn.MaxPool2D):
            t = torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
        else:
            t = {
                nn.ReLU: torch.nn.ReLU,
                nn.Flatten: torch.nn.Flatten,
                nn.Tanh: torch.nn.Tanh,
                nn.Sigmoid: torch.nn.Sigmoid,
            }[type(layer)]()
        layers.append(t)
    return torch.nn.Sequential(*layers)


def torch_grads(tmodel):
    out = []
    for t in tmodel:
        if isinstance(t, torch.nn.Linear):
            out += [t.weight.grad.numpy().T, t.bias.grad.numpy()]
        elif isinstance(t, torch.nn.Conv2d):
            out += [t.weight.grad.numpy(), t.bias.grad.numpy()]
    return out


@pytest.mark.parametrize("shape", [(1, 12, 12), (3, 13, 14)])
def test_conv_pool_dense_stack_matches_torch(rng, shape):
    c = shape[0]
    model = nn.Sequential(
        [
            nn.Conv2D(c, 4, 3, padding=1, rng=rng),
            nn.ReLU(),
            nn.MaxPool2D(2),
            nn.Conv2D(4, 5, (3, 2), stride=(2, 1), padding=(1, 0), rng=rng),
            nn.Tanh(),
            nn.MaxPool2D(3, 1),
            nn.Flatten(),
        ],
        input_shape=shape,
    )
    flat = model.output_shape()[0]
    model.layers += [nn.Dense(flat, 6, rng=rng), nn.Sigmoid(), nn.Dense(6, 4, init="glorot", rng=rng)]
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][:] = rng.standard_normal(layer.params["bias"].shape) * 0.1
    x = rng.random((5, *shape), dtype=np.float32)
    y = rng.integers(0, 4, 5)

    tmodel = to_torch_stack(model)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tlogits = tmodel(tx)
    torch.nn.functional.cross_entropy(tlogits, torch.tensor(y)).backward()

    logits = model.forward(x, training=True)
    _, grad = cross_entropy_and_grad(logits, y)
    grad_x = model.backward(grad, input_grad=True)

    np.testing.assert_allclose(logits, tlogits.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-3, atol=1e-6)
    ours = [g for _, g, _ in model.parameters()]
    for a, b in zip(ours, torch_grads(tmodel)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)


def test_conv2d_float64_matches_torch_exactly(rng):
    layer = nn.Conv2D(3, 4, (3, 2), stride=(2, 3), padding=(2, 1), rng=rng).astype(np.float64)
    x = rng.standard_normal((2, 3, 9, 11))
    expected = torch.nn.functional.conv2d(
        torch.tensor(x),
        torch.tensor(layer.params["weight"]),
        torch.tensor(layer.params["bias"]),
        stride=(2, 3),
        padding=(2, 1),
    )
    np.testing.assert_allclose(layer.forward(x), expected.numpy(), rtol=1e-12, atol=1e-12)


def _run_both(ours, theirs_factory, rng, steps=5):
    model = nn.Sequential([nn.Dense(6, 3, rng=rng)]).astype(np.float64)
    params = [torch.tensor(p.copy(), requires_grad=True) for p, _, _ in model.parameters()]
    theirs = theirs_factory(params)
    for _ in range(steps):
        grads = [rng.standard_normal(p.shape) for p, _, _ in model.parameters()]
        for (_, g, _), value, tp in zip(model.parameters(), grads, params):
            g[...] = value
            tp.grad = torch.tensor(value)
        ours.step(model)
        theirs.step()
    for (p, _, name), tp in zip(model.parameters(), params):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.8, "weight_decay": 0.05},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ],
)
def test_sgd_matches_torch(rng, kwargs):
    _run_both(nn.SGD(0.05, **kwargs), lambda ps: torch.optim.SGD(ps, lr=0.05, **kwargs), rng)


@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.1}, {"betas": (0.8, 0.95), "eps": 1e-6}])
def test_adam_matches_torch(rng, kwargs):
    _run_both(nn.Adam(0.01, **kwargs), lambda ps: torch.optim.Adam(ps, lr=0.01, **kwargs), rng)


@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.2}])
def test_adamw_matches_torch(rng, kwargs):
    _run_both(nn.AdamW(0.01, **kwargs), lambda ps: torch.optim.AdamW(ps, lr=0.01, **kwargs), rng)


def test_cosine_schedule_matches_torch_cosine_annealing():
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=0.01)
    ours = nn.CosineSchedule(0.1, 20, min_lr=0.01)
    for step in range(20):
        assert ours(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()
