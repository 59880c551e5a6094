"""softmaxkit.nn layers: finite-difference gradients (float64), references, shapes, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.nn import pooling as pooling_module
from softmaxkit.testing import numerical_gradient as numeric_grad


def check_layer_gradients(layer, x: np.ndarray, rng, *, reseed=None) -> None:
    """Compare a layer's backward with finite differences of ``sum(forward(x) * g)``, in float64."""
    layer.astype(np.float64)
    x = x.astype(np.float64)

    def run():
        if reseed is not None:
            reseed(layer)
        return layer.forward(x, training=True)

    g = rng.standard_normal(run().shape)

    def loss():
        return float(np.sum(run() * g))

    run()
    grad_x = layer.backward(g)
    analytic = {key: value.copy() for key, value in layer.grads.items()}
    np.testing.assert_allclose(grad_x, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    for key, param in layer.params.items():
        np.testing.assert_allclose(analytic[key], numeric_grad(loss, param), rtol=1e-6, atol=1e-8, err_msg=key)


def away_from_zero(rng, shape):
    """Values with |v| >= 0.1, so kinks (ReLU at 0) are not within a finite-difference step."""
    v = rng.uniform(0.1, 1.0, shape)
    return v * rng.choice([-1.0, 1.0], shape)


def distinct(rng, shape):
    """Values at least 1e-3 apart, so max pooling has a unique, stable argmax."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 1e-3


@pytest.fixture(params=["numba", "numpy"])
def kernel_path(request, monkeypatch):
    """Run a max-pooling test through the numba kernels and through the NumPy fallback."""
    if request.param == "numpy":
        monkeypatch.setattr(pooling_module, "nn_kernels", lambda: None)
    elif pooling_module.nn_kernels() is None:
        pytest.skip("numba is not installed")
    return request.param


@pytest.mark.parametrize("shape", [(4, 5, 3), (1, 1, 1)])
def test_dense_gradients(rng, shape):
    n, i, o = shape
    check_layer_gradients(nn.Dense(i, o, rng=rng), rng.standard_normal((n, i)), rng)


@pytest.mark.parametrize(
    "c_in, c_out, k, stride, padding, hw",
    [
        (1, 2, 3, 1, 0, (5, 5)),
        (2, 3, 3, 1, 1, (4, 5)),
        (2, 2, 3, 2, 1, (5, 6)),
        (3, 2, (2, 3), (2, 1), (0, 2), (5, 4)),
        (1, 1, 1, 1, 0, (3, 3)),
    ],
)
def test_conv2d_gradients(rng, c_in, c_out, k, stride, padding, hw):
    layer = nn.Conv2D(c_in, c_out, k, stride=stride, padding=padding, rng=rng)
    layer.params["bias"][:] = rng.standard_normal(c_out)
    check_layer_gradients(layer, rng.standard_normal((2, c_in, *hw)), rng)


def conv2d_reference(x, w, b, stride, padding):
    """Direct (loop) cross-correlation, independent of the im2col implementation."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, wd = xp.shape
    o, _, kh, kw = w.shape
    ho, wo = (h - kh) // sh + 1, (wd - kw) // sw + 1
    y = np.zeros((n, o, ho, wo))
    for r in range(ho):
        for s in range(wo):
            patch = xp[:, :, r * sh : r * sh + kh, s * sw : s * sw + kw]
            y[:, :, r, s] = np.einsum("nckl,ockl->no", patch, w) + b
    return y


@pytest.mark.parametrize(
    "stride, padding",
    [((1, 1), (0, 0)), ((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 2), (2, 0)), ((3, 3), (1, 1)), ((1, 1), (0, 3))],
)
def test_conv2d_matches_direct_reference(rng, stride, padding):
    layer = nn.Conv2D(3, 4, (3, 2), stride=stride, padding=padding, rng=rng).astype(np.float64)
    layer.params["bias"][:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 7, 8))
    expected = conv2d_reference(x, layer.params["weight"], layer.params["bias"], stride, padding)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((3, 7, 8)) == expected.shape[1:]


@pytest.mark.parametrize(
    "kernel, stride, hw", [(2, None, (4, 6)), (2, None, (5, 5)), (3, 2, (7, 6)), ((2, 3), 1, (4, 5))]
)
def test_maxpool_gradients(rng, kernel, stride, hw, kernel_path):
    check_layer_gradients(nn.MaxPool2D(kernel, stride), distinct(rng, (2, 3, *hw)), rng)


def test_maxpool_paths_agree(rng, monkeypatch):
    x = rng.standard_normal((3, 4, 9, 8)).astype(np.float32)
    x[0, 0, :2, :2] = 1.0  # a tie
    x[1, 2, 3, 4] = np.nan
    pool = nn.MaxPool2D(3, 2)
    y = pool.forward(x, training=True)
    g = pool.backward(np.arange(y.size, dtype=np.float32).reshape(y.shape))
    monkeypatch.setattr(pooling_module, "nn_kernels", lambda: None)
    np.testing.assert_array_equal(pool.forward(x, training=True), y)
    np.testing.assert_array_equal(pool.backward(np.arange(y.size, dtype=np.float32).reshape(y.shape)), g)
    np.testing.assert_array_equal(pool.forward(x), y)
    assert np.isnan(y).sum() == 2  # the NaN lies in 2 overlapping windows and propagates, as in PyTorch


def test_maxpool_values_and_first_max_on_ties(kernel_path):
    x = np.array([[[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]]], np.float32)
    pool = nn.MaxPool2D(2)
    np.testing.assert_array_equal(pool.forward(x, training=True), [[[[3.0, 2.0]]]])
    grad = pool.backward(np.ones((1, 1, 1, 2), np.float32))
    # PyTorch sends the gradient to the first maximum in row-major window order.
    np.testing.assert_array_equal(grad, [[[[0, 1, 1, 0], [0, 0, 0, 0]]]])
    assert grad.dtype == np.float32


@pytest.mark.parametrize("layer_cls", [nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax])
def test_activation_gradients(rng, layer_cls):
    check_layer_gradients(layer_cls(), away_from_zero(rng, (3, 5)), rng)


def test_flatten_gradients(rng):
    check_layer_gradients(nn.Flatten(), rng.standard_normal((2, 3, 2, 2)), rng)


def test_dropout_gradients_with_fixed_mask(rng):
    check_layer_gradients(
        nn.Dropout(0.4),
        rng.standard_normal((4, 6)),
        rng,
        reseed=lambda layer: setattr(layer, "rng", np.random.default_rng(7)),
    )


def test_dropout_is_inverted_and_identity_at_inference(rng):
    layer = nn.Dropout(0.25, rng=rng)
    x = np.ones((400, 50), np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs(float(y.mean()) - 1.0) < 0.02
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), y)
    assert layer.forward(x) is x


@pytest.mark.parametrize(
    "layer, x",
    [
        (nn.Dense(3, 2), np.ones((4, 3))),
        (nn.Conv2D(2, 3, 3, padding=1), np.ones((2, 2, 5, 5))),
        (nn.MaxPool2D(2), np.ones((2, 3, 4, 4))),
        (nn.Flatten(), np.ones((2, 3, 4))),
        (nn.ReLU(), np.ones((2, 3))),
        (nn.Sigmoid(), np.ones((2, 3))),
        (nn.Tanh(), np.ones((2, 3))),
        (nn.Softmax(), np.ones((2, 3))),
        (nn.Dropout(0.5), np.ones((2, 3))),
    ],
)
def test_float32_in_forward_and_backward(layer, x):
    y = layer.forward(x.astype(np.float32), training=True)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    for key, grad in layer.grads.items():
        assert grad.dtype == layer.params[key].dtype == np.float32
        assert grad.shape == layer.params[key].shape


def test_float64_input_is_cast_to_float32_parameters():
    layer = nn.Dense(3, 2, rng=np.random.default_rng(0))
    assert layer.forward(np.ones((1, 3), np.float64)).dtype == np.float32


@pytest.mark.parametrize(
    "layer, x, match",
    [
        (nn.Dense(3, 2), np.ones((4, 5)), r"Dense\(in_features=3.*expected input of shape \(n, 3\), got \(4, 5\)"),
        (nn.Dense(3, 2), np.ones(3), r"expected input of shape \(n, 3\)"),
        (nn.Conv2D(2, 4, 3), np.ones((1, 3, 5, 5)), r"Conv2D\(in_channels=2.*expected input of shape \(n, 2, H, W\)"),
        (nn.Conv2D(2, 4, 3), np.ones((2, 5, 5)), r"Conv2D.*got \(2, 5, 5\)"),
        (nn.Conv2D(1, 1, 5), np.ones((1, 1, 3, 3)), r"H \+ 0 >= 5"),
        (nn.MaxPool2D(2), np.ones((1, 3, 1, 4)), r"MaxPool2D.*H >= 2"),
        (nn.MaxPool2D(2), np.ones((3, 4, 4)), r"MaxPool2D.*expected input of shape \(n, C, H, W\)"),
    ],
)
def test_bad_input_shape_names_layer_and_expected_shape(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer.forward(x)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: nn.Dense(0, 2), "in_features"),
        (lambda: nn.Dense(2, 2, init="zeros"), "init"),
        (lambda: nn.Conv2D(1, 2, 0), "kernel_size"),
        (lambda: nn.Conv2D(1, 2, 3, padding=-1), "padding"),
        (lambda: nn.MaxPool2D((2, 2, 2)), "kernel_size"),
        (lambda: nn.Dropout(1.0), "p must be"),
    ],
)
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        nn.Dense(2, 2, rng=0)


def test_backward_needs_training_forward():
    layer = nn.Dense(2, 2, rng=np.random.default_rng(0))
    layer.forward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((1, 2)))


@pytest.mark.parametrize(
    "layer",
    [
        nn.Dense(3, 2, init="glorot"),
        nn.Conv2D(1, 2, (3, 2), stride=(1, 2), padding=1),
        nn.MaxPool2D(3, 2),
        nn.Flatten(),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Softmax(),
    ],
)
def test_config_rebuilds_the_layer(layer):
    import json

    config = json.loads(json.dumps(layer.config()))
    clone = type(layer)(**config)
    assert clone.config() == layer.config()
    assert {k: v.shape for k, v in clone.params.items()} == {k: v.shape for k, v in layer.params.items()}


def test_same_seed_same_weights():
    a = nn.Conv2D(3, 4, 3, rng=np.random.default_rng(5))
    b = nn.Conv2D(3, 4, 3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])


def test_backward_input_grad_false_still_fills_grads(rng):
    layer = nn.Conv2D(1, 2, 3, rng=rng)
    x = rng.random((2, 1, 4, 4), dtype=np.float32)
    y = layer.forward(x, training=True)
    assert layer.backward(np.ones_like(y), input_grad=False) is None
    np.testing.assert_allclose(layer.grads["bias"], [8.0, 8.0])
