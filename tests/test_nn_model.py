"""softmaxkit.nn Sequential: whole-model gradients, prediction, architectures, save/load, determinism."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from softmaxkit import cross_entropy, cross_entropy_and_grad, nn
from softmaxkit.nn import model as model_module
from softmaxkit.testing import numerical_gradient as numeric_grad


def small_cnn(rng, *, n_classes=3):
    return nn.Sequential(
        [
            nn.Conv2D(1, 2, 3, padding=1, rng=rng), nn.Tanh(), nn.MaxPool2D(2),
            nn.Conv2D(2, 3, 2, stride=1, rng=rng), nn.Sigmoid(), nn.Flatten(),
            nn.Dense(3, 4, rng=rng), nn.Tanh(), nn.Dense(4, n_classes, init="glorot", rng=rng),
        ],
        input_shape=(1, 4, 4),
        class_names=[f"c{i}" for i in range(n_classes)],
    )


def test_whole_model_gradient_with_cross_entropy(rng):
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


def test_backward_without_input_grad_gives_same_parameter_grads(rng):
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
    for optimizer in (nn.SGD(np.float64(0.1), momentum=0.9, nesterov=True, weight_decay=1e-4), nn.Adam(1e-3, weight_decay=1e-4),
                      nn.AdamW(1e-3)):
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


def test_temperature_scales_probabilities(rng):
    model = nn.architectures.logistic((1, 3, 3), 4, rng=rng)
    x = rng.random((5, 1, 3, 3), dtype=np.float32)
    logits = model.predict_logits(x).astype(np.float64)
    model.temperature = 2.5
    p = model.predict_proba(x)
    expected = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-5)
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
        "Flatten", "Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"
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


# ---------------------------------------------------------------------------------------- save / load
def test_save_load_round_trip(rng, tmp_path):
    model = small_cnn(rng)
    model.temperature = 1.7
    model.calibration = {"kind": "temperature", "params": {"bounds": [0.001, 1000.0]},
                         "fitted": {"n_classes": 3, "nll_before": 0.5, "nll_after": 0.4, "temperature": 1.7}}
    model.metadata = {"dataset": "toy", "epochs": 3}
    extra = {"best_epoch": np.int64(2), "val_loss": [np.float32(0.5), float("nan")], "bins": np.arange(3)}
    path = tmp_path / "model.npz"
    model.metadata.update(extra)
    model.save(path)
    loaded = nn.load(path)
    model.metadata = {"dataset": "toy", "epochs": 3, "best_epoch": 2, "val_loss": [0.5], "bins": [0, 1, 2]}
    nan = loaded.metadata["val_loss"].pop()
    assert np.isnan(nan)
    x = rng.random((5, 1, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_logits(x), model.predict_logits(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.temperature == 1.7
    assert loaded.class_names == ["c0", "c1", "c2"]
    assert loaded.input_shape == (1, 4, 4)
    assert loaded.calibration == model.calibration and loaded.metadata == model.metadata
    assert [layer.config() for layer in loaded.layers] == [layer.config() for layer in model.layers]
    assert all(p.dtype == np.float32 for p, _, _ in loaded.parameters())
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary files left behind


def test_saved_file_is_plain_npz_without_pickles(rng, tmp_path):
    path = tmp_path / "m.npz"
    nn.architectures.logistic((1, 2, 2), 3, rng=rng).save(path)
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["__model__"]))
        assert sorted(data.files) == ["__model__", "layers.1.bias", "layers.1.weight"]
    assert header["format"] == "softmaxkit-model" and header["version"] == 1
    assert [spec["class"] for spec in header["layers"]] == ["Flatten", "Dense"]


def test_save_is_atomic(rng, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    old.save(path)
    before = path.read_bytes()

    def half_write(f, arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(model_module, "_write_npz", half_write)
    with pytest.raises(OSError, match="disk full"):
        nn.architectures.logistic((1, 2, 2), 3, rng=rng).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def rewrite(path, *, header=None, arrays=None):
    with np.load(path, allow_pickle=False) as data:
        content = {key: data[key] for key in data.files}
    h = json.loads(str(content["__model__"]))
    if header:
        h.update(header)
    content["__model__"] = np.array(json.dumps(h))
    content.update(arrays or {})
    content = {k: v for k, v in content.items() if v is not None}
    np.savez(path, **content)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable"),
        (lambda p: p.write_bytes(b"this is not a zip file at all"), "not a readable"),
        (lambda p: p.write_bytes(b""), "not a readable"),
        (lambda p: np.save(open(p, "wb"), np.arange(3)), "single .npy"),
        (lambda p: np.savez(p, weights=np.ones(3)), "no '__model__' header"),
        (lambda p: rewrite(p, header={"format": "other-model"}), "format 'other-model'"),
        (lambda p: rewrite(p, header={"version": 2}), "unsupported model file version 2"),
        (lambda p: rewrite(p, header={"layers": [{"class": "Evil", "config": {}}]}), "unknown type 'Evil'"),
        (lambda p: rewrite(p, arrays={"layers.1.weight": None}), "missing array 'layers.1.weight'"),
        (lambda p: rewrite(p, arrays={"layers.1.weight": np.ones((3, 4), np.float32)}), "has shape"),
        (lambda p: rewrite(p, arrays={"extra": np.ones(2)}), "unexpected arrays"),
        (lambda p: rewrite(p, header={"temperature": -1.0}), "temperature"),
    ],
)
def test_bad_model_files_raise_model_file_error(rng, tmp_path, damage, match):
    path = tmp_path / "model.npz"
    nn.architectures.logistic((1, 2, 2), 3, rng=rng).save(path)
    damage(path)
    with pytest.raises(nn.ModelFileError, match=match) as info:
        nn.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(nn.ModelFileError, match="no such model file") as info:
        nn.load(tmp_path / "absent.npz")
    assert "absent.npz" in str(info.value)


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __model__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(nn.ModelFileError, match="not a readable"):
        nn.load(path)


def test_save_rejects_non_json_metadata(rng, tmp_path):
    model = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    model.metadata["bad"] = object()
    with pytest.raises(ValueError, match="JSON"):
        model.save(tmp_path / "m.npz")


def test_load_from_a_zip_that_is_not_npz(tmp_path):
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(nn.ModelFileError):
        nn.load(path)


def test_summary_and_repr(rng):
    model = nn.architectures.cnn((1, 8, 8), 10, rng=rng)
    text = model.summary()
    assert "Conv2D" in text and f"{model.n_params:,}" in text
    assert repr(model).startswith("Sequential([")
