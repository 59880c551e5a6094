"""Out-of-core `softmaxkit evaluate --data X --labels Y` and `softmaxkit calibrate --logits Z --labels Y`: the
same numbers as in memory, locally and on the `cluster` fixture; wrong combinations as one-line errors."""

import json

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from softmaxkit import nn  # noqa: E402
from softmaxkit.calibration import CalibratedModel, load_model  # noqa: E402
from softmaxkit.cli import main  # noqa: E402
from softmaxkit.datasets import load  # noqa: E402
from softmaxkit.evaluation import held_out_split  # noqa: E402

SCORES = ("accuracy", "nll", "ece", "mce", "brier")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-class MLP on overlapping classes (its probabilities need calibrating), its .npz, and the test split
    and validation logits as .npy files."""
    rng = np.random.default_rng(3)
    n = 700
    y = np.arange(n) % 3
    x = rng.random((n, 1, 6, 6), dtype=np.float32)
    for label in range(3):
        x[y == label, 0, 2 * label : 2 * label + 2, :] += 0.35
    root = tmp_path_factory.mktemp("ooc")
    np.savez(root / "noisy.npz", x=x[:500], y=y[:500], x_test=x[500:], y_test=y[500:])
    model = root / "noisy.skm"
    argv = ["train", "--data", str(root / "noisy.npz"), "--model", "mlp", "--hidden", "16", "--epochs", "8"]
    assert main([*argv, "--val-fraction", "0.3", "--out", str(model), "--no-progress"]) == 0
    np.save(root / "x_test.npy", x[500:])
    np.save(root / "y_test.npy", y[500:])
    network = nn.load(model)
    x_val, y_val = held_out_split(network, load(str(root / "noisy.npz")))
    np.save(root / "z_val.npy", network.predict_logits(x_val))
    np.save(root / "y_val.npy", y_val)
    return root, model


def run_json(capsys, *argv):
    capsys.readouterr()
    assert main([*map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"softmaxkit {command}: error: "), err
    return err


def assert_same_evaluation(in_memory: dict, out_of_core: dict) -> None:
    for key in SCORES:
        assert out_of_core[key] == pytest.approx(in_memory[key], rel=1e-9, abs=1e-12), key
    assert out_of_core["n"] == in_memory["n"]
    assert out_of_core["confusion_matrix"] == in_memory["confusion_matrix"]
    assert out_of_core["per_class_accuracy"] == in_memory["per_class_accuracy"]
    assert out_of_core["calibration"] == in_memory["calibration"]


def test_evaluate_out_of_core_equals_in_memory(trained, capsys):
    root, model = trained
    in_memory = run_json(capsys, "evaluate", model, "--data", root / "noisy.npz")
    out_of_core = run_json(
        capsys, "evaluate", model, "--data", root / "x_test.npy", "--labels", root / "y_test.npy", "--chunk-size", 64
    )
    assert_same_evaluation(in_memory, out_of_core)
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(root / "x_test.npy"), "--labels", str(root / "y_test.npy")]) == 0
    text = capsys.readouterr().out
    assert "200 samples (calibration: none; out of core)" in text and "confusion matrix" in text


def test_evaluate_a_calibrated_model_from_zarr_on_the_cluster(trained, tmp_path, capsys, cluster):
    root, model = trained
    calibrated = tmp_path / "calibrated.skm"
    run_json(capsys, "calibrate", model, "--data", root / "noisy.npz", "--method", "vector", "--out", calibrated)
    in_memory = run_json(capsys, "evaluate", calibrated, "--data", root / "noisy.npz")
    group = zarr.open_group(str(tmp_path / "test.zarr"), mode="w")
    group.create_array("x", shape=(200, 1, 6, 6), chunks=(50, 1, 6, 6), dtype="float32")[:] = np.load(
        root / "x_test.npy"
    )
    zarr.save_array(str(tmp_path / "labels.zarr"), np.load(root / "y_test.npy"), zarr_format=3)
    data, labels = tmp_path / "test.zarr" / "x", tmp_path / "labels.zarr"
    local = run_json(capsys, "evaluate", calibrated, "--data", data, "--labels", labels)
    assert_same_evaluation(in_memory, local)
    assert local["calibration"] == "vector"
    on_cluster = run_json(
        capsys, "evaluate", calibrated, "--data", data, "--labels", labels, "--scheduler", cluster.scheduler.address
    )
    assert_same_evaluation(in_memory, on_cluster)


@pytest.mark.parametrize("method", ["temperature", "vector", "matrix"])
def test_calibrate_on_logits_equals_calibrate_on_data(trained, tmp_path, capsys, method):
    root, model = trained
    from_data = tmp_path / "from_data.skm"
    from_logits = tmp_path / "from_logits.skm"
    run_json(capsys, "calibrate", model, "--data", root / "noisy.npz", "--method", method, "--out", from_data)
    result = run_json(
        capsys, "calibrate", model, "--logits", root / "z_val.npy", "--labels", root / "y_val.npy",
        "--method", method, "--out", from_logits,
    )  # fmt: skip
    a, b = load_model(from_data), load_model(from_logits)
    assert isinstance(b, CalibratedModel) and b.method == method and result["model"] == str(from_logits)
    assert result["rows"] == len(np.load(root / "y_val.npy"))
    assert result["nll_after"] <= result["nll_before"] + 1e-9
    x = np.load(root / "x_test.npy")
    np.testing.assert_allclose(b.predict_proba(x), a.predict_proba(x), rtol=1e-4, atol=1e-5)
    if method == "temperature":
        assert b.calibrator.temperature_ == pytest.approx(a.calibrator.temperature_, rel=1e-6)


def test_calibrate_on_zarr_logits_on_the_cluster_keeps_the_model_file(trained, tmp_path, capsys, cluster):
    root, model = trained
    copy = tmp_path / "model.skm"
    copy.write_bytes(model.read_bytes())
    logits = np.load(root / "z_val.npy")
    zarr.create_array(str(tmp_path / "z.zarr"), shape=logits.shape, chunks=(40, 3), dtype=logits.dtype)[:] = logits
    result = run_json(
        capsys, "calibrate", copy, "--logits", tmp_path / "z.zarr", "--labels", root / "y_val.npy",
        "--scheduler", cluster.scheduler.address,
    )  # fmt: skip
    assert result["model"] == str(copy)  # no --out: the model file is replaced, as without --logits
    calibrated = load_model(copy)
    assert calibrated.method == "temperature"
    assert calibrated.calibrator.temperature_ == pytest.approx(result["temperature"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "{model}", "--data", "{root}/x_test.npy", "--labels", "{root}/y_val.npy"], "200 inputs but"),
        (["evaluate", "{model}", "--data", "{root}/x_test.npy", "--labels", "{root}/z_val.npy"], "expected an array of shape (n,)"),
        (["evaluate", "{model}", "--data", "{root}/x_test.npy", "--labels", "{root}/x_test.npy"], "expected an array"),
        (["evaluate", "{model}", "--data", "{root}/x_test.npy", "--labels", "{root}/y_test.npy", "--ood", "digits"], "--ood cannot be used with --labels"),
        (["evaluate", "{model}", "--labels", "{root}/y_test.npy"], "--labels needs --data"),
        (["evaluate", "{model}", "--scheduler", "tcp://127.0.0.1:9"], "apply to out-of-core evaluation"),
        (["evaluate", "{model}", "--data", "{root}/missing.npy", "--labels", "{root}/y_test.npy"], "no such file"),
        (["calibrate", "{model}", "--logits", "{root}/z_val.npy"], "give both --logits and --labels"),
        (["calibrate", "{model}", "--logits", "{root}/z_val.npy", "--labels", "{root}/y_test.npy"], "rows but --labels has"),
        (["calibrate", "{model}", "--logits", "{root}/x_test.npy", "--labels", "{root}/y_test.npy"], "expected an array of shape (n, k)"),
        (["calibrate", "{model}", "--logits", "{root}/y_val.npy", "--labels", "{root}/y_val.npy"], "expected an array of shape (n, k)"),
        (["calibrate", "{model}", "--logits", "{root}/z_val.npy", "--labels", "{root}/y_val.npy", "--data", "digits"], "--data cannot be used with --logits"),
        (["calibrate", "{model}", "--scheduler", "tcp://127.0.0.1:9"], "--scheduler applies to fitting on --logits"),
    ],
)  # fmt: skip
def test_wrong_combinations_are_one_line_errors(trained, capsys, argv, message):
    root, model = trained
    argv = [a.format(root=root, model=model) for a in argv]
    assert main(argv) == 2
    assert message in one_line_error(capsys, argv[0])


def test_logits_of_another_width_are_refused(trained, tmp_path, capsys):
    _, model = trained
    np.save(tmp_path / "z4.npy", np.zeros((10, 4), np.float32))
    np.save(tmp_path / "y4.npy", np.zeros(10, np.int64))
    assert (
        main(["calibrate", str(model), "--logits", str(tmp_path / "z4.npy"), "--labels", str(tmp_path / "y4.npy")]) == 2
    )
    assert "4 columns, but the model has 3 classes" in one_line_error(capsys, "calibrate")
