"""softmaxkit.nn.Sequential: whole-model gradients, prediction, architectures, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from softmaxkit import cross_entropy, cross_entropy_and_grad, nn
from softmaxkit.testing import numerical_gradient as numeric_grad


def test_whole_model_gradient_with_cross_entropy(small_cnn, rng):
    model = small_cnn(rng).astype(np.float64)
    x = rng.standard_normal((3, 1, 4, 4))
    y = np.array([0, 2, 1])

    def loss():
        return float(cross_entropy(model.forward(x, training=True), y))

    _, grad = cross_entropy_and_grad(model.forward(x, training=True), y)
    grad_x = model.backward(grad, input_grad=True)
    analytic = {name: g.copy() for _, g, name in model.parameters()}
    for param, _, name in model.parameters():
        np.testing.assert_allclose(analytic[name], numeric_grad(loss, param), rtol=1e-5, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(grad_x, numeric_grad(loss, x), rtol=1e-5, atol=1e-9)


def test_backward_without_input_grad_gives_same_parameter_grads(small_cnn, rng):
    model = small_cnn(rng)
    x = rng.random((4, 1, 4, 4), dtype=np.float32)
    _, grad = cross_entropy_and_grad(model.forward(x, training=True), np.array([0, 1, 2, 0]))
    model.backward(grad, input_grad=True)
    full = [g.copy() for _, g, _ in model.parameters()]
    assert model.backward(grad) is None
    for a, (_, b, _) in zip(full, model.parameters()):
        np.testing.assert_array_equal(a, b)


def test_float32_end_to_end(rng):
    model = nn.architectures.cnn((1, 8, 8), 10, rng=rng, dropout=0.2)
    x = rng.random((6, 1, 8, 8))  # float64 input is cast once
    for optimizer in (
        nn.SGD(np.float64(0.1), momentum=0.9, nesterov=True, weight_decay=1e-4),
        nn.Adam(1e-3, weight_decay=1e-4),
        nn.AdamW(1e-3),
    ):
        logits = model.forward(x, training=True)
        assert logits.dtype == np.float32
        _, grad = cross_entropy_and_grad(logits, np.arange(6))
        model.backward(grad.astype(np.float64))
        optimizer.step(model)
        for param, g, name in model.parameters():
            assert param.dtype == g.dtype == np.float32, name
    assert model.predict_proba(x).dtype == np.float32


def test_predict_is_batched_and_consistent(rng):
    model = nn.architectures.mlp((1, 4, 4), 5, hidden=(7,), rng=rng)
    x = rng.random((23, 1, 4, 4), dtype=np.float32)
    full = model.predict_logits(x, batch_size=1024)
    np.testing.assert_allclose(model.predict_logits(x, batch_size=4), full, rtol=1e-6, atol=1e-6)
    assert full.shape == (23, 5) and full.dtype == np.float32
    np.testing.assert_array_equal(model.predict(x, batch_size=5), np.argmax(full, axis=1))
    assert model.predict_logits(x[:0]).shape == (0, 5)


def test_predict_proba_is_softmax_of_logits(rng):
    model = nn.architectures.logistic((1, 3, 3), 4, rng=rng)
    x = rng.random((5, 1, 3, 3), dtype=np.float32)
    logits = model.predict_logits(x).astype(np.float64)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), np.argmax(logits, axis=1))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_cnn_architecture_shapes(rng, shape):
    model = nn.architectures.cnn(shape, 10, rng=rng)
    assert model.output_shape() == (10,)
    assert model.predict_logits(rng.random((2, *shape), dtype=np.float32)).shape == (2, 10)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense"]


def test_mlp_and_logistic_architectures(rng):
    model = nn.architectures.mlp((1, 28, 28), 10, hidden=(256, 128), dropout=0.5, rng=rng)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Flatten",
        "Dense",
        "ReLU",
        "Dropout",
        "Dense",
        "ReLU",
        "Dropout",
        "Dense",
    ]
    assert model.n_params == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert nn.architectures.logistic((1, 8, 8), 10, rng=rng).n_params == 650
    with pytest.raises(TypeError, match="Generator"):
        nn.architectures.mlp((1, 8, 8), 10, rng=None)


def test_model_input_shape_errors(rng):
    model = nn.architectures.cnn((1, 8, 8), 10, rng=rng)
    with pytest.raises(ValueError, match=r"expected input of shape \(n, 1, 8, 8\), got \(2, 3, 8, 8\)"):
        model.predict(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="class names"):
        nn.Sequential([nn.Flatten(), nn.Dense(4, 3)], input_shape=(1, 2, 2), class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"Dense.*expected input of shape \(n, 5\)"):
        nn.Sequential([nn.Flatten(), nn.Dense(5, 3)], input_shape=(1, 2, 2))


def train_steps(seed: int, steps: int = 3):
    rng = np.random.default_rng(seed)
    model = nn.architectures.cnn((1, 8, 8), 4, rng=rng, channels=(3, 4), hidden=8, dropout=0.3)
    x = rng.random((16, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 4, 16)
    optimizer = nn.SGD(0.1, momentum=0.9)
    for _ in range(steps):
        _, grad = cross_entropy_and_grad(model.forward(x, training=True), y)
        model.backward(grad)
        optimizer.step(model)
    return model


def test_same_seed_same_training_bit_for_bit():
    a, b, c = train_steps(3), train_steps(3), train_steps(4)
    for (pa, _, name), (pb, _, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa, pb, err_msg=name)
    assert not np.array_equal(a.layers[0].params["weight"], c.layers[0].params["weight"])


def test_summary_and_repr(rng):
    model = nn.architectures.cnn((1, 8, 8), 10, rng=rng)
    text = model.summary()
    assert "Conv2D" in text and f"{model.n_params:,}" in text
    assert repr(model).startswith("Sequential([")


def test_a_softmax_head_is_not_applied_twice(rng):
    dense = nn.Dense(4, 3, rng=rng)
    plain = nn.Sequential([dense], input_shape=(4,))
    headed = nn.Sequential([dense, nn.Softmax(), nn.Dropout(0.5, rng=rng)], input_shape=(4,))
    x = rng.random((5, 4), dtype=np.float32)
    assert headed.ends_in_softmax and not plain.ends_in_softmax
    np.testing.assert_array_equal(headed.predict_logits(x), plain.predict_logits(x))
    np.testing.assert_array_equal(headed.predict_proba(x), plain.predict_proba(x))
    np.testing.assert_allclose(headed.forward(x), plain.predict_proba(x), rtol=1e-6)  # forward keeps the head
    assert headed.predict_logits(x[:0]).shape == (0, 3)


def test_training_a_softmax_headed_model_is_refused(rng):
    from softmaxkit.train import fit

    model = nn.Sequential([nn.Dense(4, 3, rng=rng), nn.Softmax()], input_shape=(4,))
    with pytest.raises(ValueError, match="ends in a Softmax layer"):
        fit(model, rng.random((6, 4)), np.arange(6) % 3, optimizer=nn.SGD(0.1), rng=rng, progress=False)
