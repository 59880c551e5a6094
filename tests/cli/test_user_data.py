"""A user's own data from the command line, with default settings: an image folder and a CSV table
train, evaluate (from the data source the model file records) and predict, naming classes by their
folder or column names; `evaluate --ood` measures inputs from none of the classes."""

import json

import numpy as np
import pytest
from PIL import Image

from softmaxkit import nn
from softmaxkit.cli import main

COLOURS = {"dogs": (220, 40, 40), "humans": (40, 200, 40), "neither": (40, 40, 220)}


def _image(rng, colour, size=(20, 16)):
    noise = rng.integers(0, 60, (size[1], size[0], 3))
    pixels = np.clip(np.array(colour)[None, None, :] + noise - 30, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """dogs/ humans/ neither/: 20 PNG and JPEG images each, one colour per class, 16x20 pixels."""
    root = tmp_path_factory.mktemp("photos") / "pets"
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(20):
            suffix = "png" if i % 2 else "jpg"
            _image(rng, colour).save(root / name / f"{i:02d}.{suffix}")
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _private_cache(cache, monkeypatch):
    monkeypatch.setenv("SOFTMAXKIT_CACHE", str(cache))


@pytest.fixture(scope="module")
def folder_model(folder, cache, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SOFTMAXKIT_CACHE", str(cache))
    out = tmp_path_factory.mktemp("model") / "pets.skm"
    try:
        assert main(["train", "--data", str(folder), "--out", str(out), "--no-progress"]) == 0
    finally:
        mp.undo()
    return out


def test_an_image_folder_trains_with_the_cnn_and_records_its_data(folder, folder_model):
    model = nn.load(folder_model)
    meta = model.metadata
    assert model.class_names == ["dogs", "humans", "neither"]
    assert meta["model"] == "cnn" and meta["recipe"]["model"] == "cnn"
    assert meta["recipe"]["epochs"] == 30 and meta["recipe"]["batch_size"] == 32
    assert meta["data_source"]["kind"] == "folder"
    assert meta["data_source"]["path"] == str(folder.resolve())
    assert meta["data_source"]["fingerprint"]
    assert meta["preprocessing"] == {
        "kind": "image",
        "channels": 3,
        "size": [16, 20],
        "resize": "letterbox",
        "invert": "no",
    }
    assert meta["skipped_files"] == 0
    assert meta["test_accuracy"] >= 0.9


def test_evaluate_without_data_uses_the_recorded_folder_and_split(folder_model, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(folder_model), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 12  # the seeded 20% of 60 images
    assert result["accuracy"] == pytest.approx(nn.load(folder_model).metadata["test_accuracy"])


def test_predict_names_the_folder_classes(folder, folder_model, tmp_path, capsys):
    rng = np.random.default_rng(1)
    _image(rng, COLOURS["humans"], size=(40, 32)).save(tmp_path / "someone.png")
    capsys.readouterr()
    assert main(["predict", str(folder_model), str(tmp_path / "someone.png"), "--json"]) == 0
    (prediction,) = json.loads(capsys.readouterr().out)["predictions"]
    assert prediction["prediction"] == "humans"
    assert main(["predict", str(folder_model), str(folder / "dogs")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20 and all("dogs" in line for line in lines)


def test_evaluate_ood_reports_unknown_inputs(folder_model, tmp_path, capsys):
    rng = np.random.default_rng(2)
    other = tmp_path / "cats"
    other.mkdir()
    for i in range(10):  # no class subfolders: any folder of images will do
        _image(rng, (200, 200, 40)).save(other / f"{i}.png")
    capsys.readouterr()
    assert main(["evaluate", str(folder_model), "--ood", str(other), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["out_of_distribution"]
    assert report["n_out"] == 10
    assert 0 <= report["accepted"] <= 1 and 0 <= report["confident"] <= 1 and 0 <= report["auroc"] <= 1
    assert main(["evaluate", str(folder_model), "--ood", str(other), "--reject-below", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "inputs from none of the classes" in out and "p >= 0.500 (--reject-below)" in out
    assert "AUROC of the top probability" in out


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Iris with the species' names as the target, as a user would have it."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    path = tmp_path_factory.mktemp("table") / "iris.csv"
    header = ",".join(["sepal length", "sepal width", "petal length", "petal width", "species"])
    rows = [",".join([*map(str, x), iris.target_names[y]]) for x, y in zip(iris.data, iris.target)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_table_trains_evaluates_and_predicts_with_defaults(table, tmp_path, capsys):
    out = tmp_path / "iris.skm"
    assert main(["train", "--data", str(table), "--target", "species", "--out", str(out), "--no-progress"]) == 0
    model = nn.load(out)
    assert model.class_names == ["setosa", "versicolor", "virginica"]
    assert type(model.layers[0]).__name__ == "Standardize"
    assert model.metadata["recipe"]["model"] == "mlp"
    assert model.metadata["preprocessing"]["target"] == "species"
    assert model.metadata["test_accuracy"] >= 0.85  # scikit-learn's LogisticRegression: 90% on this split
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 30
    rows = tmp_path / "rows.csv"
    rows.write_text("petal width,sepal length,sepal width,petal length\n0.2,5.1,3.5,1.4\n2.3,6.9,3.1,5.4\n")
    assert main(["predict", str(out), str(rows)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "setosa" in lines[0].split(":", 2)[-1].split(",")[0]
    assert "virginica" in lines[1].split(":", 2)[-1].split(",")[0]
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("species,petal width,sepal length,sepal width,petal length,notes\nsetosa,0.2,5.1,3.5,1.4,x\n")
    assert main(["evaluate", str(out), "--data", str(labelled), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 1
    labelled.write_text("species,petal width,sepal length,sepal width,petal length\nrose,0.2,5.1,3.5,1.4\n")
    assert main(["evaluate", str(out), "--data", str(labelled)]) == 2
    assert "classes the model does not know: 'rose'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "digits", "--target", "y"], "--target applies to tables (.csv, .parquet) only"),
        (["train", "--data", "digits", "--image-size", "8x8"], "--image-size applies to image folders only"),
    ],
)
def test_flags_that_do_not_apply_are_clear_errors(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "m.skm")]) == 2
    assert message in capsys.readouterr().err


def test_a_cnn_on_a_table_is_a_clear_error(table, tmp_path, capsys):
    argv = ["train", "--data", str(table), "--target", "species", "--model", "cnn", "--out", str(tmp_path / "m.skm")]
    assert main(argv) == 2
    assert "model 'cnn' does not apply to CSV/Parquet table data" in capsys.readouterr().err
