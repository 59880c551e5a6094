"""Tests for softmaxkit.inputs: prediction inputs decoded exactly as the training images were."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from softmaxkit.datasets import load_image_folder
from softmaxkit.exceptions import InputError
from softmaxkit.inputs import load_image, load_inputs


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def folder(tmp_path, rng):
    """Two classes of RGB images of mixed sizes (so that most are letterboxed)."""
    for name in ("a", "b"):
        for k, shape in enumerate([(12, 16), (12, 16), (20, 10)]):
            save(tmp_path / "data" / name / f"{k}.png", rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    return tmp_path / "data"


def test_prediction_decodes_a_file_exactly_as_training_did(folder):
    ds = load_image_folder(folder, test_fraction=0.0, cache_dir=False)
    assert ds.preprocessing["resize"] == "letterbox" and ds.image_shape == (3, 12, 16)
    files = sorted(folder.glob("*/*.png"))
    x, names = load_inputs(files, ds.image_shape, preprocessing=ds.preprocessing)
    assert names == [f.name for f in files]
    assert np.array_equal(x, ds.x_train)  # same decoder, same letterbox, invert "no" from the preprocessing


def test_a_folder_input_expands_to_its_images_in_order(folder, tmp_path):
    ds = load_image_folder(folder, test_fraction=0.0, cache_dir=False)
    np.save(tmp_path / "batch.npy", np.zeros((2, *ds.image_shape), np.float32))
    x, names = load_inputs([tmp_path / "batch.npy", folder / "b", folder / "a" / "0.png"], ds.image_shape,
                           preprocessing=ds.preprocessing)  # fmt: skip
    assert names == ["batch.npy[0]", "batch.npy[1]", *(str(folder / "b" / f"{k}.png") for k in range(3)), "0.png"]
    assert np.array_equal(x[2:5], ds.x_train[3:]) and np.array_equal(x[5], ds.x_train[0]) and not x[:2].any()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no image files"):
        load_inputs([tmp_path / "empty"], ds.image_shape, preprocessing=ds.preprocessing)


def test_invert_defaults_to_the_preprocessing_and_an_explicit_one_overrides(tmp_path):
    path = save(tmp_path / "ink.png", np.full((4, 8), 255, np.uint8))
    letterbox = {"kind": "image", "channels": 1, "size": [8, 8], "resize": "letterbox", "invert": "no"}
    assert load_image(path, (1, 8, 8), preprocessing=letterbox)[0, 2:6].min() == 1.0
    inverted = load_image(path, (1, 8, 8), preprocessing=letterbox, invert="yes")[0]
    assert not inverted.any()  # the image is inverted, the zero padding is not
    auto = load_image(path, (1, 8, 8), preprocessing={**letterbox, "invert": "auto"})
    assert not auto.any()


def test_without_a_preprocessing_images_are_stretched_and_auto_inverted_as_before(tmp_path):
    path = save(tmp_path / "ink.png", np.full((4, 8), 255, np.uint8))
    assert np.all(load_image(path, (1, 8, 8)) == 0.0)  # stretched to fill, bright so inverted
    assert np.all(load_image(path, (1, 8, 8), invert="no") == 1.0)
    old_model = {"kind": "image", "channels": 1, "size": [8, 8]}  # a record without resize or invert
    assert np.all(load_inputs([path], (1, 8, 8), preprocessing=old_model)[0] == 0.0)


def test_a_preprocessing_that_contradicts_the_input_shape_is_refused(tmp_path):
    path = save(tmp_path / "x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match=r"records an image preprocessing of 3 channels and size \[4, 4\]"):
        load_inputs([path], (1, 4, 4), preprocessing={"kind": "image", "channels": 3, "size": [4, 4]})
    with pytest.raises(InputError, match=r"takes inputs of shape \(10,\), not images"):
        load_inputs([path], (10,))
    with pytest.raises(ValueError, match="load_inputs: invert must be one of"):
        load_inputs([path], (1, 4, 4), invert="always")


def test_a_bad_image_is_an_input_error_naming_it(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match=r"broken\.png: not a readable image"):
        load_inputs([tmp_path / "broken.png"], (1, 4, 4))
    with pytest.raises(InputError, match=r"missing\.png: no such file"):
        load_inputs([tmp_path / "missing.png"], (1, 4, 4))
    with pytest.raises(InputError, match="no inputs given"):
        load_inputs([], (1, 4, 4))
