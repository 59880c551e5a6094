"""ONNX export (`softmaxkit.export_onnx`, `softmaxkit export`): onnxruntime against predict_proba/predict_logits."""

import json
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import softmaxkit  # noqa: E402
from softmaxkit import nn  # noqa: E402
from softmaxkit.calibration import METHODS, CalibratedModel, TemperatureScaling, load_model  # noqa: E402
from softmaxkit.cli import main  # noqa: E402
from softmaxkit.exceptions import NotFittedError  # noqa: E402
from softmaxkit.export import DEFAULT_OPSET, MIN_OPSET, export_onnx  # noqa: E402
from softmaxkit.kernels import softmax  # noqa: E402

#: Largest absolute difference allowed between onnxruntime and softmaxkit, probabilities and logits alike.
TOL = 1e-5


# ---------------------------------------------------------------------------- helpers


def _run(path, x) -> dict:
    """onnxruntime's outputs for the batch ``x``, by name (one thread: the tests share the machine)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": np.asarray(x, np.float32)})))


def _max_errors(path, model, x) -> tuple[float, float]:
    """Max abs errors of onnxruntime's probabilities and logits against ``model``'s, and the graph's own
    ``softmax(logits) == probabilities``."""
    out = _run(path, x)
    assert out["probabilities"].dtype == np.float32 and out["probabilities"].shape == (len(x), out["logits"].shape[1])
    np.testing.assert_allclose(softmax(out["logits"]), out["probabilities"], rtol=0, atol=TOL)
    err_p = float(np.max(np.abs(out["probabilities"] - model.predict_proba(x))))
    err_z = float(np.max(np.abs(out["logits"] - model.predict_logits(x))))
    return err_p, err_z


def _assert_matches(path, model, x) -> None:
    err_p, err_z = _max_errors(path, model, x)
    assert err_p <= TOL and err_z <= TOL, (err_p, err_z)


def _randomise_biases(model, rng):
    """Initial biases are zero; give them values so that the export of biases is tested too."""
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.normal(0.0, 0.2, layer.params["bias"].shape)
    return model


def _fitted_calibrator(method, n_classes, rng):
    """A calibrator fitted as for a trained network that is over-confident by a factor 2.

    It is fitted on synthetic logits (labels drawn from ``softmax(logits / 2)``), not on an untrained
    network's: those barely vary from one random input to the next, so a calibrator fitted on them is
    ill-conditioned (gains of 10 or more, which amplify the float32 differences between onnxruntime's
    and NumPy's logits just as much). This one softens the logits, as calibrating a trained network does.
    """
    z = rng.normal(0.0, 3.0, size=(2000, n_classes))
    probs = softmax(z / 2.0)
    y = (probs.cumsum(axis=1) < rng.random((len(z), 1))).sum(axis=1).clip(max=n_classes - 1)
    return METHODS[method]().fit(z, y)


def _mlp_activations(rng):
    """Every activation, dropout between them."""
    layers = [
        nn.Flatten(),
        nn.Dense(64, 24, init="glorot", rng=rng),
        nn.Sigmoid(),
        nn.Dropout(0.3, rng=rng),
        nn.Dense(24, 16, init="glorot", rng=rng),
        nn.Tanh(),
        nn.Dropout(0.1, rng=rng),
        nn.Dense(16, 12, rng=rng),
        nn.ReLU(),
        nn.Dense(12, 10, init="glorot", rng=rng),
    ]
    return nn.Sequential(layers, input_shape=(1, 8, 8))


def _conv_variants(rng):
    """Kernel (3, 2), strides 2 and (1, 2), paddings (1, 2) and 1, pools whose stride is not their kernel."""
    layers = [
        nn.Conv2D(3, 4, (3, 2), stride=2, padding=(1, 2), rng=rng),  # (4, 9, 9)
        nn.Tanh(),
        nn.MaxPool2D(3, stride=2),  # (4, 4, 4)
        nn.Conv2D(4, 5, 2, stride=(1, 2), padding=1, rng=rng),  # (5, 5, 3)
        nn.Sigmoid(),
        nn.MaxPool2D((2, 3), stride=(1, 2)),  # (5, 4, 1)
        nn.Flatten(),
        nn.Dense(20, 5, init="glorot", rng=rng),
    ]
    return nn.Sequential(layers, input_shape=(3, 17, 15))


def _pool_floor(rng):
    """A pool of stride > kernel: the last row and column fill no window and are dropped (floor mode)."""
    layers = [
        nn.Conv2D(1, 3, 3, padding=2, rng=rng),  # (3, 12, 12)
        nn.ReLU(),
        nn.MaxPool2D(2, stride=3),  # (3, 4, 4)
        nn.Flatten(),
        nn.Dense(48, 6, init="glorot", rng=rng),
    ]
    return nn.Sequential(layers, input_shape=(1, 10, 10))


#: The tested networks by name: ``build(rng) -> Sequential``.
ARCHITECTURES = {
    "logistic": lambda rng: nn.architectures.logistic((1, 8, 8), 10, rng=rng),
    "mlp": lambda rng: nn.architectures.mlp((1, 8, 8), 10, hidden=(32, 16), dropout=0.2, rng=rng),
    "mlp-activations": _mlp_activations,
    "cnn": lambda rng: nn.architectures.cnn((1, 8, 8), 10, dropout=0.25, rng=rng),
    "cnn-rgb": lambda rng: nn.architectures.cnn((3, 12, 10), 4, channels=(4, 6), hidden=16, rng=rng),
    "conv-variants": _conv_variants,
    "pool-floor": _pool_floor,
    "softmax-inside": lambda rng: nn.Sequential(
        [nn.Flatten(), nn.Dense(64, 8, rng=rng), nn.Softmax(), nn.Dense(8, 4, rng=rng)], input_shape=(1, 8, 8)
    ),
    "standardize": lambda rng: nn.Sequential(
        [
            nn.Standardize(rng.normal(size=5), rng.uniform(0.1, 2.0, 5)),
            nn.Dense(5, 8, rng=rng),
            nn.ReLU(),
            nn.Dense(8, 3, rng=rng),
        ],
        input_shape=(5,),
    ),
}


def _build(name, rng):
    """A network of one of the tested architectures, biases randomised."""
    return _randomise_biases(ARCHITECTURES[name](rng), rng)


def _inputs(model, n, rng):
    return rng.random((n, *model.input_shape), dtype=np.float32)


def _props(proto) -> dict:
    return {p.key: p.value for p in proto.metadata_props}


class _Estimator:
    """What export needs of a fitted estimator such as softmaxkit.SoftmaxClassifier, and nothing else."""

    def __init__(self, model, calibrator, classes):
        self.model_, self.calibrator_, self.classes_ = model, calibrator, classes

    def fit(self, X, y):  # pragma: no cover - never called
        return self

    def predict_proba(self, X):
        logits = self.model_.predict_logits(X)
        if self.calibrator_ is not None:
            logits = self.calibrator_.transform(logits).astype(np.float32)
        return softmax(logits)


def _estimator(rng, *, calibrated=True, classes=None):
    model = _randomise_biases(
        nn.Sequential([nn.Dense(5, 8, rng=rng), nn.Tanh(), nn.Dense(8, 3, rng=rng)], input_shape=(5,)), rng
    )
    calibrator = None
    if calibrated:
        x = rng.normal(size=(200, 5)).astype(np.float32)
        calibrator = TemperatureScaling().fit(model.predict_logits(x), rng.integers(0, 3, 200))
    return _Estimator(model, calibrator, np.array(["cat", "dog", "eel"]) if classes is None else classes)


# ---------------------------------------------------------------------------- agreement with softmaxkit


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_networks_match_predict_proba_and_logits_for_batches_of_1_and_7(name, rng, tmp_path):
    model = _build(name, rng)
    path = tmp_path / f"{name}.onnx"
    proto = export_onnx(model, path)
    assert not any(node.op_type == "Dropout" for node in proto.graph.node)
    for n in (1, 7):  # one file: the batch dimension is symbolic
        _assert_matches(path, model, _inputs(model, n, rng))


@pytest.mark.parametrize("method", ["temperature", "vector", "matrix"])
@pytest.mark.parametrize("name", ["logistic", "mlp-activations", "cnn", "conv-variants"])
def test_calibrated_models_match(name, method, rng, tmp_path):
    network = _build(name, rng)
    model = CalibratedModel(network, _fitted_calibrator(method, network.output_shape()[0], rng))
    path = tmp_path / "calibrated.onnx"
    proto = export_onnx(model, path)
    assert _props(proto)["calibration"] == method
    for n in (1, 7):
        _assert_matches(path, model, _inputs(network, n, rng))


def test_standardize_is_a_sub_and_a_div_that_agree_with_the_layer(rng, tmp_path):
    # features of very different scales, as a table's are: standardising is what makes them comparable
    x = rng.normal([50.0, -3.0, 0.0, 1e3], [10.0, 0.01, 1.0, 300.0], size=(64, 4)).astype(np.float32)
    standardize = nn.Standardize.fit(x)
    model = nn.Sequential(
        [standardize, nn.Dense(4, 6, rng=rng), nn.Tanh(), nn.Dense(6, 3, init="glorot", rng=rng)], input_shape=(4,)
    )
    proto = export_onnx(_randomise_biases(model, rng), tmp_path / "s.onnx")
    assert [node.op_type for node in proto.graph.node][:3] == ["Sub", "Div", "Gemm"]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    np.testing.assert_array_equal(weights["layers.0.mean"], standardize.mean.astype(np.float32))
    np.testing.assert_array_equal(weights["layers.0.scale"], standardize.scale.astype(np.float32))
    out = _run(tmp_path / "s.onnx", x)
    np.testing.assert_allclose(out["logits"], model.predict_logits(x), rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(x), rtol=0, atol=1e-6)
    # alone, its output is the graph's logits: float32 Sub then Div, bit for bit as the layer computes them
    export_onnx(nn.Sequential([standardize], input_shape=(4,)), tmp_path / "alone.onnx")
    np.testing.assert_array_equal(_run(tmp_path / "alone.onnx", x)["logits"], standardize.forward(x))


def test_temperature_is_an_explicit_div_not_folded_into_the_last_layer(rng, tmp_path):
    network = _build("mlp", rng)
    model = CalibratedModel(network, TemperatureScaling.from_dict(_temperature_dict(2.5, 10)))
    proto = export_onnx(model, tmp_path / "t.onnx")
    ops = [node.op_type for node in proto.graph.node]
    assert ops[-3:] == ["Gemm", "Div", "Softmax"]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert weights["calibration.temperature"] == np.float32(2.5)
    last = len(network.layers) - 1
    np.testing.assert_array_equal(weights[f"layers.{last}.weight"], network.layers[last].params["weight"])


def _temperature_dict(temperature, n_classes):
    fitted = {"n_classes": n_classes, "nll_before": 0.0, "nll_after": 0.0, "temperature": temperature}
    return {"kind": "temperature", "params": {"bounds": [1e-3, 1e3]}, "fitted": fitted}


def test_graph_interface_opset_and_metadata(rng, tmp_path):
    model = nn.architectures.logistic((1, 2, 3), 3, rng=rng)
    model = nn.Sequential(model.layers, input_shape=(1, 2, 3), class_names=["zero", "ein", "trois"])
    export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(tmp_path / "m.onnx")
    (value,) = proto.graph.input
    assert value.name == "input" and value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = value.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 2, 3]
    assert [o.name for o in proto.graph.output] == ["probabilities", "logits"]
    for output in proto.graph.output:
        assert [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim] == ["N", 3]
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", DEFAULT_OPSET)]
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(proto.opset_import)
    assert proto.producer_name == "softmaxkit" and proto.producer_version == softmaxkit.__version__
    props = _props(proto)
    assert json.loads(props["class_names"]) == ["zero", "ein", "trois"]
    assert props["calibration"] == "none" and json.loads(props["input_shape"]) == [1, 2, 3]
    assert "classes" not in props
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left behind


@pytest.mark.parametrize("opset", [MIN_OPSET, 21])
def test_other_opsets_run(opset, rng, tmp_path):
    model = _build("conv-variants", rng)
    proto = export_onnx(model, tmp_path / "m.onnx", opset=opset)
    assert proto.opset_import[0].version == opset
    _assert_matches(tmp_path / "m.onnx", model, _inputs(model, 3, rng))


def test_float64_network_is_exported_in_float32(rng, tmp_path):
    model = _build("cnn", rng).astype(np.float64)
    proto = export_onnx(model, tmp_path / "m.onnx")
    assert {onnx.numpy_helper.to_array(t).dtype for t in proto.graph.initializer} == {np.dtype(np.float32)}
    _assert_matches(tmp_path / "m.onnx", model, _inputs(model, 7, rng))


def test_network_ending_in_softmax_outputs_its_own_probabilities(rng, tmp_path):
    body = _build("mlp-activations", rng).layers
    model = nn.Sequential([*body, nn.Softmax(), nn.Dropout(0.5, rng=rng)], input_shape=(1, 8, 8))
    proto = export_onnx(model, tmp_path / "m.onnx")
    assert [node.op_type for node in proto.graph.node].count("Softmax") == 1
    x = _inputs(model, 7, rng)
    out = _run(tmp_path / "m.onnx", x)
    # probabilities: the network's output; logits: the Softmax layer's input, as predict_logits defines them
    assert np.max(np.abs(out["probabilities"] - model.predict_proba(x))) <= TOL
    assert np.max(np.abs(out["logits"] - model.predict_logits(x))) <= TOL
    logits = nn.Sequential(body, input_shape=(1, 8, 8)).predict_logits(x)
    np.testing.assert_array_equal(model.predict_logits(x), logits)


def test_a_calibrated_network_ending_in_softmax_is_calibrated_on_its_logits(rng, tmp_path):
    body = _build("mlp-activations", rng).layers
    model = nn.Sequential([*body, nn.Softmax()], input_shape=(1, 8, 8))
    calibrated = CalibratedModel(model, TemperatureScaling.from_dict(_temperature_dict(2.0, 10)))
    export_onnx(calibrated, tmp_path / "m.onnx")
    x = _inputs(model, 7, rng)
    out = _run(tmp_path / "m.onnx", x)
    assert np.max(np.abs(out["probabilities"] - calibrated.predict_proba(x))) <= TOL
    assert np.max(np.abs(out["logits"] - calibrated.predict_logits(x))) <= TOL


def test_input_shape_for_a_network_without_one(rng, tmp_path):
    model = _build("cnn", rng)
    shapeless = nn.Sequential(model.layers)
    export_onnx(shapeless, tmp_path / "m.onnx", input_shape=(1, 8, 8))
    _assert_matches(tmp_path / "m.onnx", model, _inputs(model, 2, rng))
    export_onnx(model, tmp_path / "same.onnx", input_shape=[1, 8, 8])  # agreeing with the network's is fine


def test_lazy_top_level_name():
    assert softmaxkit.export_onnx is export_onnx


# ---------------------------------------------------------------------------- estimator-like objects


def test_estimator_like_object(rng, tmp_path):
    estimator = _estimator(rng)
    proto = export_onnx(estimator, tmp_path / "e.onnx")
    x = rng.normal(size=(7, 5)).astype(np.float32)
    out = _run(tmp_path / "e.onnx", x)
    assert np.max(np.abs(out["probabilities"] - estimator.predict_proba(x))) <= TOL
    expected_logits = estimator.calibrator_.transform(estimator.model_.predict_logits(x))
    assert np.max(np.abs(out["logits"] - expected_logits)) <= TOL
    props = _props(proto)
    assert json.loads(props["classes"]) == ["cat", "dog", "eel"]
    assert json.loads(props["class_names"]) == ["cat", "dog", "eel"]
    assert props["calibration"] == "temperature"


def test_estimator_without_calibrator_and_with_numeric_classes(rng, tmp_path):
    estimator = _estimator(rng, calibrated=False, classes=np.array([3, 1, 4]))
    proto = export_onnx(estimator, tmp_path / "e.onnx")
    x = rng.normal(size=(1, 5)).astype(np.float32)
    assert np.max(np.abs(_run(tmp_path / "e.onnx", x)["probabilities"] - estimator.predict_proba(x))) <= TOL
    props = _props(proto)
    assert json.loads(props["classes"]) == [3, 1, 4]  # in order, as numbers
    assert json.loads(props["class_names"]) == ["3", "1", "4"]
    assert props["calibration"] == "none"


# ---------------------------------------------------------------------------- errors


class _Doubler(nn.Layer):
    """A layer softmaxkit knows nothing about."""

    def forward(self, x, training=False):
        return 2 * x


class _ScaledDense(nn.Dense):
    """A subclass computes something else than its base: it must not be exported as one."""

    def forward(self, x, training=False):
        return 3 * super().forward(x, training)


def _bad_models():
    """``(id, model, exception, fragment of the message)`` for every refused model."""
    rng = np.random.default_rng(0)
    dense = nn.Sequential([nn.Dense(3, 2, rng=rng)], input_shape=(3,))
    nan = nn.Sequential([nn.Dense(3, 2, rng=rng)], input_shape=(3,))
    nan.layers[0].params["bias"][1] = np.nan
    huge = nn.Sequential([nn.Dense(3, 2, rng=rng)], input_shape=(3,)).astype(np.float64)
    huge.layers[0].params["weight"][0, 0] = 1e300
    wide = TemperatureScaling().fit(rng.normal(size=(30, 4)), np.arange(30) % 4)

    class Unfitted:
        def fit(self, X, y):  # pragma: no cover - never called
            return self

    return [
        ("no-input-shape", nn.Sequential([nn.Dense(3, 2, rng=rng)]), ValueError, "input shape"),
        ("custom-layer", nn.Sequential([_Doubler(), nn.Dense(3, 2)], input_shape=(3,)), TypeError, "layer 0 (_Doubler())"),
        ("dense-subclass", nn.Sequential([_ScaledDense(3, 2)], input_shape=(3,)), TypeError, "layer 0 (_ScaledDense("),
        ("not-rows", nn.Sequential([nn.Conv2D(1, 2, 1)], input_shape=(1, 2, 2)), ValueError, "one row of class scores"),
        ("nan-bias", nan, ValueError, "layer 0 (Dense(in_features=3, out_features=2, init='he')): bias"),
        ("float32-overflow", huge, ValueError, "beyond float32's range"),
        ("not-a-model", "model.skm", TypeError, "got str"),
        ("unfitted-estimator", Unfitted(), NotFittedError, "fit it before exporting"),
        ("estimator-model", _Estimator(object(), None, None), TypeError, "model_ must be a softmaxkit.nn.Sequential"),
        ("unknown-calibrator", _Estimator(dense, object(), None), TypeError, "no ONNX conversion for the calibrator"),
        ("unfitted-calibrator", _Estimator(dense, TemperatureScaling(), None), NotFittedError, "not fitted"),
        ("calibrator-width", _Estimator(dense, wide, None), ValueError, "fitted on 4 classes"),
        ("classes-width", _Estimator(dense, None, ["a", "b", "c"]), ValueError, "3 classes_"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "error", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in _bad_models()]
)
def test_refused_exports_say_why_and_write_nothing(model, error, fragment, tmp_path):
    with pytest.raises(error) as info:
        export_onnx(model, tmp_path / "m.onnx")
    message = str(info.value)
    assert message.startswith("export_onnx: ") and fragment in message, message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_layers_that_do_not_fit_the_input_shape_are_named(tmp_path):
    model = nn.Sequential([nn.Flatten(), nn.Dense(5, 2)])
    with pytest.raises(ValueError, match=r"^export_onnx: Dense\(in_features=5.*got \(n, 4\)"):
        export_onnx(model, tmp_path / "m.onnx", input_shape=(1, 2, 2))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"opset": MIN_OPSET - 1}, ValueError),
        ({"opset": onnx.defs.onnx_opset_version() + 1}, ValueError),
        ({"opset": "17"}, TypeError),
        ({"opset": True}, TypeError),
        ({"input_shape": (1, 8, 9)}, ValueError),  # differs from the network's
        ({"input_shape": (0, 8)}, ValueError),
        ({"input_shape": 8}, ValueError),
    ],
)
def test_bad_options(kwargs, error, rng, tmp_path):
    model = nn.architectures.logistic((1, 8, 8), 3, rng=rng)
    with pytest.raises(error, match=r"^export_onnx: (opset|input_shape)"):
        export_onnx(model, tmp_path / "m.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_says_how_to_install_it(monkeypatch, rng, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    model = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    with pytest.raises(ImportError, match=r"^export_onnx: .*pip install 'softmaxkit\[onnx\]'") as info:
        export_onnx(model, tmp_path / "m.onnx")
    assert info.value.name == "onnx"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- command line


def test_cli_exports_a_model_file(rng, tmp_path, capsys):
    model = _build("cnn", rng)
    nn.save(model, tmp_path / "m.skm")
    out = tmp_path / "sub" / "m.onnx"  # the directory is created
    assert main(["export", str(tmp_path / "m.skm"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (ONNX opset {DEFAULT_OPSET}, calibration: none)" in printed
    assert "input  input         float32 [N, 1, 8, 8]" in printed
    assert "output probabilities float32 [N, 10]" in printed and "output logits        float32 [N, 10]" in printed
    _assert_matches(out, load_model(tmp_path / "m.skm"), _inputs(model, 7, rng))


@pytest.mark.parametrize("method", ["temperature", "matrix"])
def test_cli_exports_a_calibrated_model_file(method, rng, tmp_path, capsys):
    network = _build("mlp-activations", rng)
    CalibratedModel(network, _fitted_calibrator(method, 10, rng)).save(tmp_path / "c.skm")
    out = tmp_path / "c.onnx"
    assert main(["export", str(tmp_path / "c.skm"), "--out", str(out), "--opset", str(MIN_OPSET)]) == 0
    assert f"(ONNX opset {MIN_OPSET}, calibration: {method})" in capsys.readouterr().out
    loaded = load_model(tmp_path / "c.skm")
    assert isinstance(loaded, CalibratedModel)
    _assert_matches(out, loaded, _inputs(network, 7, rng))


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("softmaxkit export: error: "), captured.err
    return lines[0]


def test_cli_errors_are_one_line(rng, tmp_path, capsys):
    nn.save(nn.architectures.logistic((1, 2, 2), 3, rng=rng), tmp_path / "m.skm")
    before = (tmp_path / "m.skm").read_bytes()
    assert main(["export", str(tmp_path / "m.skm"), "--out", str(tmp_path / "m.skm")]) == 2
    assert "is the model file itself" in _one_line_error(capsys)
    assert (tmp_path / "m.skm").read_bytes() == before
    assert main(["export", str(tmp_path / "m.skm"), "--out", str(tmp_path / "m.onnx"), "--opset", "5"]) == 2
    assert "opset must be an integer in" in _one_line_error(capsys)
    assert main(["export", str(tmp_path / "missing.skm"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "no such model file" in _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skm"]


def test_cli_without_onnx_is_a_one_line_error(monkeypatch, rng, tmp_path, capsys):
    nn.save(nn.architectures.logistic((1, 2, 2), 3, rng=rng), tmp_path / "m.skm")
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(tmp_path / "m.skm"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "pip install 'softmaxkit[onnx]'" in _one_line_error(capsys)


def test_cli_help_states_the_default_opset(capsys):
    assert main(["export", "--help"]) == 0
    assert f"(default {DEFAULT_OPSET})" in " ".join(capsys.readouterr().out.split())  # however argparse wraps it
