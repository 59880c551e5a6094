"""CalibratedModel: a network and its calibrator used together, saved in one file, loaded back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from softmaxkit import nn, softmax
from softmaxkit.calibration import (
    CalibratedModel,
    MatrixScaling,
    NotFittedError,
    TemperatureScaling,
    VectorScaling,
    calibrate,
    load_model,
)
from softmaxkit.selective import REJECT


@pytest.fixture
def network(rng):
    return nn.architectures.mlp((1, 3, 3), 4, hidden=(8,), rng=rng)


@pytest.fixture
def held_out(rng):
    return rng.random((60, 1, 3, 3), dtype=np.float32), rng.integers(0, 4, 60)


def test_temperature_divides_the_logits(network, rng):
    x = rng.random((5, 1, 3, 3), dtype=np.float32)
    logits = network.predict_logits(x).astype(np.float64)
    scaler = TemperatureScaling.from_dict(
        {
            "kind": "temperature",
            "params": {"bounds": [1e-3, 1e3]},
            "fitted": {"n_classes": 4, "nll_before": 1.0, "nll_after": 1.0, "temperature": 2.5},
        }
    )
    model = CalibratedModel(network, scaler)
    expected = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-5)
    np.testing.assert_allclose(model.predict_logits(x), logits / 2.5, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(x), np.argmax(logits, axis=1))  # T > 0 keeps the argmax
    assert model.method == "temperature" and model.class_names == network.class_names
    assert model.n_params == network.n_params and model.input_shape == (1, 3, 3)


def test_reject_below_answers_none_of_the_above(network, held_out):
    model = calibrate(network, *held_out)
    x = held_out[0][:10]
    assert np.all(model.predict(x, reject_below=1.0) == REJECT)
    np.testing.assert_array_equal(model.predict(x, reject_below=0.0), model.predict(x))


@pytest.mark.parametrize("method", ["temperature", "vector", "matrix"])
def test_save_and_load_round_trip(network, held_out, tmp_path, method):
    model = calibrate(network, *held_out, method=method)
    path = tmp_path / "m.skm"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, CalibratedModel) and loaded.method == method
    x = held_out[0]
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    bare = nn.load(path)  # the network alone, calibration ignored
    np.testing.assert_array_equal(bare.predict_logits(x), network.predict_logits(x))


def test_an_uncalibrated_file_loads_as_the_network(network, held_out, tmp_path):
    nn.save(network, tmp_path / "m.skm")
    assert isinstance(load_model(tmp_path / "m.skm"), nn.Sequential)
    with pytest.raises(nn.ModelFileError, match="holds no calibrator"):
        CalibratedModel.load(tmp_path / "m.skm")
    calibrate(network, *held_out).save(tmp_path / "c.skm")
    assert isinstance(CalibratedModel.load(tmp_path / "c.skm"), CalibratedModel)


def test_recalibrating_replaces_the_calibrator(network, held_out):
    once = calibrate(network, *held_out, method="vector")
    twice = calibrate(once, *held_out)
    assert twice.model is network and twice.method == "temperature"


def _rewrite_header(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        content = {key: data[key] for key in data.files}
    header = json.loads(str(content["__model__"]))
    header.update(changes)
    content["__model__"] = np.array(json.dumps(header))
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to the name
        np.savez(f, **content)


def test_files_of_softmaxkit_0_1_with_only_a_temperature(network, tmp_path, rng):
    path = tmp_path / "old.skm"
    nn.save(network, path)
    _rewrite_header(path, temperature=2.0, calibration={})
    model = load_model(path)
    assert isinstance(model, CalibratedModel) and model.calibrator.temperature_ == 2.0
    x = rng.random((3, 1, 3, 3), dtype=np.float32)
    np.testing.assert_allclose(model.predict_logits(x), network.predict_logits(x) / 2, rtol=1e-6)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"temperature": -1.0}, "temperature must be positive"),
        ({"calibration": {"kind": "sharpen"}}, "inconsistent calibration"),
        (
            {
                "calibration": {
                    "kind": "temperature",
                    "params": {"bounds": [1e-3, 1e3]},
                    "fitted": {"n_classes": 7, "nll_before": 1, "nll_after": 1, "temperature": 1.5},
                }
            },
            "fitted on 7 classes",
        ),
    ],
)
def test_bad_calibration_in_a_file_is_a_model_file_error(network, tmp_path, changes, match):
    path = tmp_path / "m.skm"
    nn.save(network, path)
    _rewrite_header(path, **changes)
    with pytest.raises(nn.ModelFileError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_constructor_checks(network, held_out):
    with pytest.raises(NotFittedError, match="not fitted"):
        CalibratedModel(network, TemperatureScaling())
    with pytest.raises(TypeError, match="Sequential"):
        CalibratedModel(object(), TemperatureScaling())
    with pytest.raises(TypeError, match="calibrator must be one of"):
        CalibratedModel(network, object())
    wrong = MatrixScaling().fit(np.eye(3) * 3, np.arange(3))
    with pytest.raises(ValueError, match="fitted on 3 classes"):
        CalibratedModel(network, wrong)
    with pytest.raises(ValueError, match="calibrate: method must be one of"):
        calibrate(network, *held_out, method="platt")


# -------------------------------------------------------------------------------- calibrators of probabilities


def test_a_calibrator_of_probabilities_is_refused(network, held_out):
    """A CalibratedModel feeds its calibrator logits: one fitted on probabilities would misread them."""
    x, y = held_out
    logits = network.predict_logits(x).astype(np.float64)
    on_probs = TemperatureScaling(inputs="probabilities").fit(softmax(logits), y)
    with pytest.raises(
        ValueError,
        match=r"CalibratedModel: the calibrator takes inputs='probabilities', but a CalibratedModel feeds it the "
        r"network's logits; the temperature is the same on logits, so calibrator.set_params\(inputs='logits'\)",
    ):
        CalibratedModel(network, on_probs)
    converted = CalibratedModel(network, on_probs.set_params(inputs="logits"))
    on_logits = TemperatureScaling().fit(logits, y)
    assert converted.calibrator.temperature_ == pytest.approx(on_logits.temperature_, rel=1e-12)
    np.testing.assert_allclose(
        converted.predict_proba(x), CalibratedModel(network, on_logits).predict_proba(x), rtol=1e-6
    )

    vector = VectorScaling(inputs="probabilities").fit(softmax(logits), y)
    with pytest.raises(ValueError, match=r"takes inputs='probabilities'.*refit it on the network's logits"):
        CalibratedModel(network, vector)


def test_a_model_file_with_a_calibrator_of_probabilities_is_refused(network, held_out, tmp_path):
    path = tmp_path / "m.skm"
    calibrate(network, *held_out, method="vector").save(path)
    header = _read_header(path)
    assert header["calibration"]["params"]["inputs"] == "logits"  # files say what the calibrator takes
    header["calibration"]["params"]["inputs"] = "probabilities"
    _rewrite_header(path, calibration=header["calibration"])
    with pytest.raises(nn.ModelFileError, match=r"inconsistent calibration \(CalibratedModel: the calibrator takes "):
        load_model(path)


@pytest.mark.parametrize("method", ["temperature", "vector", "matrix"])
def test_files_written_before_inputs_existed_load_as_logits(network, held_out, tmp_path, method):
    path = tmp_path / "m.skm"
    model = calibrate(network, *held_out, method=method)
    model.save(path)
    calibration = _read_header(path)["calibration"]
    del calibration["params"]["inputs"]
    _rewrite_header(path, calibration=calibration)
    loaded = load_model(path)
    assert loaded.calibrator.inputs == "logits"
    np.testing.assert_array_equal(loaded.predict_proba(held_out[0]), model.predict_proba(held_out[0]))


def _read_header(path):
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__model__"]))


def test_saving_keeps_the_files_other_sections(network, held_out, tmp_path):
    path = tmp_path / "m.skm"
    nn.save(network, path, extras={"estimator": {"classes": ["a", "b", "c", "d"]}, "temperature": 2.0})
    _, extras = nn.read(path)
    calibrate(network, *held_out).save(path, extras=extras)
    _, kept = nn.read(path)
    assert kept["estimator"] == {"classes": ["a", "b", "c", "d"]}
    assert "temperature" not in kept and kept["calibration"]["kind"] == "temperature"
