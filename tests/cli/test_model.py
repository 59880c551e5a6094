"""`softmaxkit train / evaluate / predict` end to end on a tiny dataset the test makes."""

import json

import numpy as np
import pytest

from softmaxkit.cli import main


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A 3-class 8x8 grey-image dataset in the user .npz format, easy enough to learn in seconds."""
    rng = np.random.default_rng(0)
    n = 240
    y = np.arange(n) % 3
    x = rng.random((n, 1, 8, 8), dtype=np.float32) * 0.2
    for label in range(3):  # each class lights up its own band of rows
        x[y == label, 0, 2 * label : 2 * label + 3, :] += 0.8
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(
        path, x=x[:180], y=y[:180], x_test=x[180:], y_test=y[180:], class_names=np.array(["top", "middle", "bottom"])
    )
    return path


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny.skm"
    status = main(
        [
            "train",
            "--data",
            str(tiny_data),
            "--model",
            "mlp",
            "--hidden",
            "16",
            "--epochs",
            "8",
            "--batch-size",
            "32",
            "--lr",
            "0.01",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert status == 0
    return out


def test_train_writes_model_and_curves(trained, capsys):
    assert trained.exists()
    assert (trained.parent / "tiny.curves.png").stat().st_size > 1000


def test_evaluate_json(trained, tiny_data, capsys):
    assert main(["evaluate", str(trained), "--data", str(tiny_data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] > 0.9
    assert result["nll"] > 0
    assert len(result["confusion_matrix"]) == 3
    assert set(result["per_class_accuracy"]) == {"top", "middle", "bottom"}


def test_evaluate_text(trained, tiny_data, capsys):
    assert main(["evaluate", str(trained), "--data", str(tiny_data)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "confusion matrix" in out
    assert (trained.parent / "tiny.confusion.png").exists()


def test_predict_npy_and_image(trained, tmp_path, capsys):
    from PIL import Image

    x = np.zeros((2, 1, 8, 8), np.float32)
    x[0, 0, 0:3] = 1.0  # "top"
    x[1, 0, 4:7] = 1.0  # "bottom"
    np.save(tmp_path / "batch.npy", x)
    image = np.zeros((32, 32), np.uint8)
    image[0:12] = 255  # a top band, drawn light on dark at a larger size
    Image.fromarray(image).save(tmp_path / "top.png")
    assert main(["predict", str(trained), str(tmp_path / "batch.npy"), str(tmp_path / "top.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    predictions = [row["prediction"] for row in result["predictions"]]
    assert predictions == ["top", "bottom", "top"]
    assert main(["predict", str(trained), str(tmp_path / "batch.npy"), "--top", "2"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("batch.npy[0]: ") and "% top" in line and line.count("%") == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "missing.skm", "--data", "digits"], "no such model file"),
        (["train", "--data", "no-such-dataset", "--epochs", "1"], "no-such-dataset"),
    ],
)
def test_errors_are_one_line_with_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_corrupt_model_file_and_bad_inputs(trained, tmp_path, capsys):
    bad = tmp_path / "bad.skm"
    bad.write_bytes(b"not a model")
    assert main(["predict", str(bad), "x.npy"]) == 2
    assert "bad.skm" in capsys.readouterr().err
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5)))
    assert main(["predict", str(trained), str(tmp_path / "wrong.npy")]) == 2
    assert "does not fit the model's input" in capsys.readouterr().err
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    assert main(["predict", str(trained), str(tmp_path / "broken.png")]) == 2
    assert "not a readable image" in capsys.readouterr().err


def test_ctrl_c_during_training_keeps_the_best_model_and_says_where(tiny_data, tmp_path, monkeypatch, capsys):
    import softmaxkit.train as train_module

    real_fit = train_module.fit

    def fit_interrupted_in_epoch_3(*args, on_epoch_end=None, **kwargs):
        def hook(row):
            on_epoch_end(row)
            if row["epoch"] == 2:
                raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

        return real_fit(*args, on_epoch_end=hook, **kwargs)

    monkeypatch.setattr(train_module, "fit", fit_interrupted_in_epoch_3)
    out = tmp_path / "interrupted.skm"
    status = main(
        ["train", "--data", str(tiny_data), "--hidden", "16", "--epochs", "10", "--out", str(out), "--no-progress"]
    )
    assert status == 130
    assert out.exists()
    assert f"is saved at {out}" in capsys.readouterr().out
    from softmaxkit import nn

    assert len(nn.load(out).metadata["history"]["epochs"]) == 2


def test_tabular_features_train_evaluate_and_report(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = rng.random((120, 5)).astype(np.float32) + y[:, None] * 0.5
    data = tmp_path / "table.npz"
    np.savez(data, x=x[:90], y=y[:90], x_test=x[90:], y_test=y[90:])
    model = tmp_path / "table.skm"
    assert (
        main(["train", "--data", str(data), "--hidden", "8", "--epochs", "3", "--out", str(model), "--no-progress"])
        == 0
    )
    assert main(["evaluate", str(model), "--data", str(data), "--json"]) == 0
    assert main(["report", str(model), "--data", str(data), "--out", str(tmp_path / "report")]) == 0
    assert "report written" in capsys.readouterr().out
    assert not (tmp_path / "report" / "predictions.png").exists()  # no pictures of feature rows
