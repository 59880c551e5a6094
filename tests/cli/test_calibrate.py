"""`softmaxkit calibrate / report`, rejection in `predict` and `evaluate`, on a tiny dataset the test makes."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.calibration import CalibratedModel, load_model
from softmaxkit.cli import main
from softmaxkit.selective import REJECT, predict_with_reject


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-class model on overlapping (noisy) classes, so its probabilities need calibrating."""
    rng = np.random.default_rng(1)
    n = 600
    y = np.arange(n) % 3
    x = rng.random((n, 1, 6, 6), dtype=np.float32)
    for label in range(3):
        x[y == label, 0, 2 * label : 2 * label + 2, :] += 0.35  # a weak signal: classes overlap
    root = tmp_path_factory.mktemp("cal")
    data = root / "noisy.npz"
    np.savez(data, x=x[:480], y=y[:480], x_test=x[480:], y_test=y[480:])
    model = root / "noisy.skm"
    status = main(
        [
            "train",
            "--data",
            str(data),
            "--model",
            "mlp",
            "--hidden",
            "64",
            "--epochs",
            "40",
            "--lr",
            "0.01",
            "--patience",
            "40",
            "--val-fraction",
            "0.25",
            "--out",
            str(model),
            "--no-progress",
        ]
    )
    assert status == 0
    return model, data


def test_calibrate_temperature_lowers_nll_and_is_saved(trained, tmp_path, capsys):
    model, data = trained
    out = tmp_path / "calibrated.skm"
    assert main(["calibrate", str(model), "--data", str(data), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert abs(result["temperature"] - 1.0) > 0.05
    assert result["test"]["after"]["accuracy"] == result["test"]["before"]["accuracy"]  # T keeps the argmax
    assert result["test"]["after"]["nll"] <= result["test"]["before"]["nll"] + 1e-3
    loaded = load_model(out)
    assert isinstance(loaded, CalibratedModel) and loaded.method == "temperature"
    assert loaded.calibrator.temperature_ == pytest.approx(result["temperature"])
    assert (tmp_path / "calibrated.reliability.png").stat().st_size > 1000
    # evaluate reports the calibrated numbers
    assert main(["evaluate", str(out), "--data", str(data), "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["nll"] == pytest.approx(result["test"]["after"]["nll"], rel=1e-5)
    assert evaluation["ece"] == pytest.approx(result["test"]["after"]["ece"], rel=1e-5)
    assert {"mce", "brier", "accuracy_coverage"} <= set(evaluation)
    sets = {row["score"]: row for row in evaluation["prediction_sets"]}
    assert set(sets) == {"lac", "aps"}
    assert all(
        0.0 < row["average_size"] <= 3.0 and 0.0 < row["coverage"] <= 1.0 for row in sets.values()
    )  # LAC sets may be empty


@pytest.mark.parametrize("method", ["vector", "matrix"])
def test_calibrate_vector_and_matrix(trained, tmp_path, method, capsys):
    model, data = trained
    out = tmp_path / f"{method}.skm"
    assert main(["calibrate", str(model), "--data", str(data), "--method", method, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text
    loaded = load_model(out)
    assert loaded.method == method
    probs = loaded.predict_proba(np.load(data)["x_test"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_rejects_below_threshold(trained, tmp_path, capsys):
    model, data = trained
    x_test = np.load(data)["x_test"]
    loaded = nn.load(model)
    probs = loaded.predict_proba(x_test)
    threshold = float(np.median(probs.max(axis=1)))
    labels = predict_with_reject(probs, reject_below=threshold)
    assert np.array_equal(labels == REJECT, probs.max(axis=1) < threshold)
    np.save(tmp_path / "batch.npy", x_test[:20])
    assert main(["predict", str(model), str(tmp_path / "batch.npy"), "--reject-below", str(threshold), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["predictions"]
    assert [row["rejected"] for row in rows] == (probs[:20].max(axis=1) < threshold).tolist()
    assert all(row["prediction"] is None for row in rows if row["rejected"])
    assert main(["predict", str(model), str(tmp_path / "batch.npy"), "--reject-below", "1.5"]) == 2


def test_calibrated_model_rejects_on_calibrated_probabilities(trained, tmp_path):
    model, data = trained
    out = tmp_path / "calibrated.skm"
    assert main(["calibrate", str(model), "--data", str(data), "--out", str(out)]) == 0
    calibrated = load_model(out)
    x_test = np.load(data)["x_test"]
    probs = calibrated.predict_proba(x_test)
    threshold = float(np.median(probs.max(axis=1)))
    labels = calibrated.predict(x_test, reject_below=threshold)
    assert np.array_equal(labels == REJECT, probs.max(axis=1) < threshold)


def test_a_model_without_validation_split_says_so(trained, tmp_path, capsys):
    _, data = trained
    model = tmp_path / "noval.skm"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--hidden",
                "8",
                "--epochs",
                "1",
                "--val-fraction",
                "0",
                "--out",
                str(model),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["calibrate", str(model), "--data", str(data)]) == 2
    assert "without a validation split" in capsys.readouterr().err
    assert main(["evaluate", str(model), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prediction_sets"] == []


def test_report_writes_page_and_images(trained, tmp_path, capsys):
    model, data = trained
    out = tmp_path / "report"
    assert main(["report", str(model), "--data", str(data), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    for name in ("reliability", "confusion", "predictions", "accuracy_coverage", "training_curves"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert page.count("<img ") == 5 and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # no network resources


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian package chromium)")
def test_report_renders_in_headless_chromium(trained, tmp_path):
    model, data = trained
    out = tmp_path / "report"
    assert main(["report", str(model), "--data", str(data), "--out", str(out)]) == 0
    dom = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'data-images-loaded="5/5"' in dom


def test_calibrating_in_place_keeps_the_files_other_sections(trained, tmp_path):
    model, data = trained
    copy = tmp_path / "copy.skm"
    network, extras = nn.read(model)
    nn.save(network, copy, extras={**extras, "estimator": {"note": "kept"}})
    assert main(["calibrate", str(copy), "--data", str(data)]) == 0
    _, after = nn.read(copy)
    assert after["estimator"] == {"note": "kept"} and after["calibration"]["kind"] == "temperature"
