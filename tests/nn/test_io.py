"""softmaxkit.nn.io: the model file round-trips, is written atomically, never unpickles, and refuses damage."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.nn import _format as model_format


def test_save_load_round_trip(small_cnn, rng, tmp_path):
    model = small_cnn(rng)
    model.metadata = {"dataset": "toy", "epochs": 3}
    extra = {"best_epoch": np.int64(2), "val_loss": [np.float32(0.5), float("nan")], "bins": np.arange(3)}
    path = tmp_path / "model.npz"
    model.metadata.update(extra)
    nn.save(model, path, extras={"calibration": {"kind": "temperature"}})
    loaded, extras = nn.read(path)
    assert extras == {"calibration": {"kind": "temperature"}}
    model.metadata = {"dataset": "toy", "epochs": 3, "best_epoch": 2, "val_loss": [0.5], "bins": [0, 1, 2]}
    nan = loaded.metadata["val_loss"].pop()
    assert np.isnan(nan)
    x = rng.random((5, 1, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_logits(x), model.predict_logits(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.class_names == ["c0", "c1", "c2"]
    assert loaded.input_shape == (1, 4, 4)
    assert loaded.metadata == model.metadata
    assert [layer.config() for layer in loaded.layers] == [layer.config() for layer in model.layers]
    assert all(p.dtype == np.float32 for p, _, _ in loaded.parameters())
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary files left behind


def test_saved_file_is_plain_npz_without_pickles(rng, tmp_path):
    path = tmp_path / "m.npz"
    nn.save(nn.architectures.logistic((1, 2, 2), 3, rng=rng), path)
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["__model__"]))
        assert sorted(data.files) == ["__model__", "layers.1.bias", "layers.1.weight"]
    assert header["format"] == "softmaxkit-model" and header["version"] == 1
    assert [spec["class"] for spec in header["layers"]] == ["Flatten", "Dense"]


def test_save_is_atomic(rng, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    nn.save(old, path)
    before = path.read_bytes()

    def half_write(f, arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(model_format, "_write_npz", half_write)
    with pytest.raises(OSError, match="disk full"):
        nn.save(nn.architectures.logistic((1, 2, 2), 3, rng=rng), path)
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
    ],
)
def test_bad_model_files_raise_model_file_error(rng, tmp_path, damage, match):
    path = tmp_path / "model.npz"
    nn.save(nn.architectures.logistic((1, 2, 2), 3, rng=rng), path)
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
        nn.save(model, tmp_path / "m.npz")


def test_load_from_a_zip_that_is_not_npz(tmp_path):
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(nn.ModelFileError):
        nn.load(path)


def test_model_save_method_writes_the_same_file(rng, tmp_path):
    model = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    model.save(tmp_path / "a.skm")
    nn.save(model, tmp_path / "b.skm")
    x = rng.random((2, 1, 2, 2), dtype=np.float32)
    np.testing.assert_array_equal(nn.load(tmp_path / "a.skm").predict_logits(x), model.predict_logits(x))
    with pytest.raises(TypeError, match=r"softmaxkit\.nn\.save: model must be a softmaxkit\.nn\.Sequential"):
        nn.save(object(), tmp_path / "c.skm")


def test_extras_may_not_replace_the_format_keys(rng, tmp_path):
    model = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    with pytest.raises(ValueError, match="format's own keys"):
        nn.save(model, tmp_path / "m.skm", extras={"layers": []})
    assert not (tmp_path / "m.skm").exists()
