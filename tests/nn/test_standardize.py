"""softmaxkit.nn.Standardize: a fixed input layer whose statistics travel in the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from softmaxkit import cross_entropy_and_grad, nn
from softmaxkit.testing import numerical_gradient

# ---------------------------------------------------------------------------- values


def test_forward_is_x_minus_mean_over_scale(rng):
    mean, scale = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.25, 3.0])
    layer = nn.Standardize(mean, scale)
    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(layer.forward(x), (x - mean) / scale, rtol=1e-15)
    assert layer.forward(x).dtype == np.float64
    assert layer.forward(x.astype(np.float32)).dtype == np.float32
    assert layer.forward(np.ones((2, 3), np.int64)).dtype == np.float32  # integers become float32, as elsewhere
    assert layer.params == {} and layer.grads == {}


def test_float32_forward_subtracts_then_divides_in_float32(rng):
    layer = nn.Standardize(rng.normal(size=4), rng.uniform(0.1, 3.0, 4))
    x = rng.normal(size=(6, 4)).astype(np.float32)
    expected = (x - layer.mean.astype(np.float32)) / layer.scale.astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), expected)


def test_backward_matches_finite_differences(rng):
    layer = nn.Standardize(rng.normal(size=3), rng.uniform(0.2, 4.0, 3))
    x = rng.normal(size=(4, 3))
    g = rng.normal(size=(4, 3))
    layer.forward(x, training=True)
    analytic = layer.backward(g)
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(x) * g)), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(analytic, g / layer.scale, rtol=1e-15)
    layer.forward(x, training=True)
    assert layer.backward(g, input_grad=False) is None


def test_backward_follows_the_input_dtype_and_needs_a_training_forward(rng):
    layer = nn.Standardize([0.0, 1.0], [2.0, 4.0])
    with pytest.raises(RuntimeError, match=r"Standardize\(n_features=2\): backward\(\) needs"):
        layer.backward(np.ones((1, 2)))
    layer.forward(np.ones((3, 2), np.float32), training=True)
    assert layer.backward(np.ones((3, 2))).dtype == np.float32


def test_fit_uses_float64_mean_and_population_std():
    x = np.array([[1.0, 5.0, 0.1], [2.0, 5.0, 0.1], [4.0, 5.0, 0.1]], np.float32)
    layer = nn.Standardize.fit(x)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(layer.mean[0], x64[:, 0].mean())
    np.testing.assert_array_equal(layer.scale[0], x64[:, 0].std(ddof=0))
    # constant columns: their own value as mean (even where the float mean rounds off it), scale 1
    assert layer.mean[1:].tolist() == [5.0, float(np.float32(0.1))]
    assert layer.scale[1:].tolist() == [1.0, 1.0]
    assert layer.mean.dtype == layer.scale.dtype == np.float64
    np.testing.assert_array_equal(layer.forward(x)[:, 1:], 0.0)


def test_fitted_training_columns_have_mean_0_and_std_1(rng):
    x = rng.normal(loc=[3.0, -100.0, 0.0], scale=[0.01, 50.0, 1.0], size=(500, 3))
    y = nn.Standardize.fit(x).forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.array([[1.0, np.nan]]), ValueError, r"NaN or infinite values \(first at row 0, column 1\)"),
        (np.array([[1.0], [np.inf]]), ValueError, "NaN or infinite"),
        (np.ones(3), ValueError, "must be 2-d"),
        (np.ones((0, 3)), ValueError, "must be 2-d"),
        (np.array([["a"]]), TypeError, "real numbers"),
    ],
)
def test_fit_refuses_bad_input(x, error, match):
    with pytest.raises(error, match=r"^Standardize\.fit: .*" + match):
        nn.Standardize.fit(x)


@pytest.mark.parametrize(
    ("mean", "scale", "error", "match"),
    [
        ([0.0, 1.0], [1.0], ValueError, "same length, got 2 and 1"),
        ([], [], ValueError, "mean must be a non-empty 1-d sequence"),
        ([[0.0]], [[1.0]], ValueError, "non-empty 1-d sequence"),
        (["0"], [1.0], TypeError, "mean must be a 1-d sequence of real numbers, got"),
        ([0.0], [True], TypeError, "scale must be a 1-d sequence of real numbers"),
        ([0.0, None], [1.0, 1.0], TypeError, "real numbers"),
        ([[0.0], [1.0, 2.0]], [1.0, 1.0], TypeError, "real numbers"),
        ([0.0, 2**70], [1.0, 1.0], TypeError, "real numbers"),
        ([0.0, np.nan], [1.0, 1.0], ValueError, r"mean must be finite.*mean\[1\] = nan"),
        ([1e39], [1.0], ValueError, "within float32's range"),
        ([0.0], [0.0], ValueError, r"scale must be positive.*scale\[0\] = 0.0"),
        ([0.0, 0.0], [1.0, -2.0], ValueError, r"scale\[1\] = -2.0"),
        ([0.0], [np.inf], ValueError, "scale must be positive finite"),
        ([0.0], [1e-40], ValueError, "scale must be positive"),  # rounds to a float32 subnormal
    ],
)
def test_bad_statistics_are_refused(mean, scale, error, match):
    with pytest.raises(error, match=r"^Standardize: .*" + match):
        nn.Standardize(mean, scale)


def test_statistics_are_read_only_copies():
    mean = np.array([1.0, 2.0])
    layer = nn.Standardize(mean, [1.0, 1.0])
    mean[0] = 100.0
    assert layer.mean[0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        layer.scale[0] = -1.0


def test_shapes_are_checked():
    layer = nn.Standardize([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert layer.output_shape((3,)) == (3,)
    with pytest.raises(
        ValueError, match=r"Standardize\(n_features=3\): expected input of shape \(n, 3\), got \(n, 4\)"
    ):
        layer.output_shape((4,))
    for bad in (np.ones((2, 4)), np.ones(3), np.ones((2, 3, 1))):
        with pytest.raises(ValueError, match=r"expected input of shape \(n, 3\)"):
            layer.forward(bad)
    with pytest.raises(ValueError, match=r"Standardize\(n_features=3\)"):
        nn.Sequential([layer, nn.Dense(3, 2)], input_shape=(2,))


def test_config_is_json_and_rebuilds_the_layer_exactly(rng):
    layer = nn.Standardize.fit(rng.normal(size=(20, 4)) * 1e3)
    config = json.loads(json.dumps(layer.config()))
    assert set(config) == {"mean", "scale"} and all(isinstance(v, float) for v in config["mean"])
    clone = nn.Standardize(**config)
    np.testing.assert_array_equal(clone.mean, layer.mean)  # float64 repr round-trips exactly
    np.testing.assert_array_equal(clone.scale, layer.scale)


# ---------------------------------------------------------------------------- in a model


def _model(rng, x):
    return nn.Sequential(
        [nn.Standardize.fit(x), nn.Dense(x.shape[1], 8, rng=rng), nn.ReLU(), nn.Dense(8, 3, rng=rng)],
        input_shape=(x.shape[1],),
        class_names=["a", "b", "c"],
    )


def _blobs(rng, n=150):
    """Three classes separated in features of very different scales (thousands, thousandths)."""
    y = np.arange(n) % 3
    centres = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    x = centres[y] + rng.normal(scale=0.3, size=(n, 2))
    return (x * [1000.0, 0.001] + [5000.0, -3.0]).astype(np.float32), y


def test_save_load_round_trip(rng, tmp_path):
    x, _ = _blobs(rng)
    model = _model(rng, x)
    nn.save(model, tmp_path / "m.skm")
    loaded = nn.load(tmp_path / "m.skm")
    assert isinstance(loaded.layers[0], nn.Standardize)
    np.testing.assert_array_equal(loaded.layers[0].mean, model.layers[0].mean)
    np.testing.assert_array_equal(loaded.layers[0].scale, model.layers[0].scale)
    np.testing.assert_array_equal(loaded.predict_logits(x), model.predict_logits(x))
    with np.load(tmp_path / "m.skm", allow_pickle=False) as data:
        assert not any(name.startswith("layers.0.") for name in data.files)  # statistics live in the header


def test_optimizers_never_touch_it_and_the_loss_falls(rng):
    x, y = _blobs(rng)
    model = _model(rng, x)
    statistics = (model.layers[0].mean.copy(), model.layers[0].scale.copy())
    optimizer = nn.Adam(0.05)
    losses = []
    for _ in range(60):
        loss, grad = cross_entropy_and_grad(model.forward(x, training=True), y)
        model.backward(grad)
        optimizer.step(model)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0], losses
    assert float(np.mean(model.predict(x) == y)) > 0.9
    np.testing.assert_array_equal(model.layers[0].mean, statistics[0])
    np.testing.assert_array_equal(model.layers[0].scale, statistics[1])
    model.forward(x, training=True)
    assert model.backward(grad, input_grad=True).shape == x.shape  # the gradient reaches the input


def _rewrite_first_layer(path, **config):
    with np.load(path, allow_pickle=False) as data:
        content = {key: data[key] for key in data.files}
    header = json.loads(str(content["__model__"]))
    header["layers"][0]["config"].update(config)
    content["__model__"] = np.array(json.dumps(header))
    with open(path, "wb") as f:  # np.savez would add ".npz" to a path
        np.savez(f, **content)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"mean": [0.0, float("nan")]}, r"layer 0: ValueError: Standardize: mean must be finite.*mean\[1\] = nan"),
        ({"scale": [1.0, float("inf")]}, r"scale must be positive finite"),
        ({"scale": [1.0, -1.0]}, r"scale\[1\] = -1.0"),
        ({"scale": [1.0, 0.0]}, r"scale\[1\] = 0.0"),
        ({"mean": [0.0]}, r"layer 0 \(Standardize\): mean and scale must have the same length, got 1 and 2"),
        ({"mean": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0]}, "inconsistent model header"),  # vs input_shape (2,)
        ({"mean": []}, r"mean must be a list of 1 to \d+ numbers, got \[\]"),
        ({"mean": "0,0"}, "mean must be a list"),
        ({"mean": {"0": 1.0}}, "mean must be a list"),
        ({"mean": [0.0, "1"]}, r"mean\[1\] must be a number, got '1'"),
        ({"scale": [1.0, True]}, r"scale\[1\] must be a number, got True"),
        ({"scale": [1.0, [1.0]]}, r"scale\[1\] must be a number"),
        ({"mean": [0.0, 10**400]}, "layer 0: TypeError: Standardize: mean must be a 1-d sequence of real numbers"),
        ({"mean": [0.0, 1e39]}, "within float32's range"),
        ({"extra": 1}, r"config has keys \['extra', 'mean', 'scale'\]"),
    ],
)
def test_hostile_statistics_are_refused_on_load(config, match, rng, tmp_path):
    x, _ = _blobs(rng, n=9)
    path = tmp_path / "m.skm"
    nn.save(_model(rng, x), path)
    _rewrite_first_layer(path, **config)
    with pytest.raises(nn.ModelFileError, match=match) as info:
        nn.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 400, message
