"""Tests for image folders: load_image_folder, read_images and image_files, on small images written here."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from softmaxkit.datasets import (
    DatasetFormatError,
    DatasetNotFoundError,
    image_files,
    load,
    load_image_folder,
    load_source,
    read_images,
)

GREY = {"kind": "image", "channels": 1, "size": [8, 8], "resize": "letterbox", "invert": "no"}
RGB = {**GREY, "channels": 3}


def save(path, image, **options):
    """Save a Pillow image (or a NumPy array) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, **options)
    return path


def grey_folder(root, counts=None, *, size=(8, 8)):
    """``root/<class>/<k>.png``, each image a uniform grey level unique to it."""
    counts = counts or {"a": 5, "b": 5}
    level = 0
    for name, n in counts.items():
        for k in range(n):
            level += 1
            save(root / name / f"{k:02d}.png", np.full(size, level, np.uint8))
    return root


def encoded(image, fmt, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def noise(rng, shape):
    return rng.integers(0, 256, shape, dtype=np.uint8)


class OpenCounter:
    """Counts calls to ``PIL.Image.open`` (headers and decoding alike)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = Image.open

        def counting(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(Image, "open", counting)


def read_one(path, preprocessing=RGB):
    x, names, skipped = read_images([path], preprocessing, strict=True)
    assert names == [str(path)] and skipped == []
    return x[0]


# -- formats and conversions -----------------------------------------------------------------------


def test_every_format_decodes_by_its_bit_depth(tmp_path, rng):
    colour = (10, 20, 30)
    expected = np.array(colour, np.float32)[:, None, None] / np.float32(255)
    for name, image, options in [
        ("rgb.png", Image.new("RGB", (8, 8), colour), {}),
        ("rgb.bmp", Image.new("RGB", (8, 8), colour), {}),
        ("rgb.tif", Image.new("RGB", (8, 8), colour), {}),
        ("rgb.webp", Image.new("RGB", (8, 8), colour), {"lossless": True}),
        ("rgba.png", Image.new("RGBA", (8, 8), (*colour, 0)), {}),  # alpha dropped, not composited
        ("CMYK.TIFF", Image.new("RGB", (8, 8), colour).convert("CMYK"), {}),
    ]:
        x = read_one(save(tmp_path / name, image, **options))
        np.testing.assert_allclose(x, np.broadcast_to(expected, (3, 8, 8)), atol=1 / 255 if "CMYK" in name else 0)
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, *colour] + [0] * 762)
    assert np.array_equal(read_one(save(tmp_path / "palette.png", palette)), np.broadcast_to(expected, (3, 8, 8)))
    jpeg = read_one(save(tmp_path / "photo.JPG", Image.new("RGB", (8, 8), (200, 100, 50)), quality=95))
    np.testing.assert_allclose(jpeg[:, 0, 0], np.array([200, 100, 50]) / 255, atol=3 / 255)
    first, second = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    gif = save(tmp_path / "anim.gif", first, save_all=True, append_images=[second], duration=10)
    assert Image.open(gif).n_frames == 2
    assert read_one(gif)[:, 3, 3].tolist() == [1.0, 0.0, 0.0]  # the first frame
    word = read_one(save(tmp_path / "word.png", np.full((8, 8), 1000, np.uint16)), GREY)
    assert Image.open(tmp_path / "word.png").mode.startswith("I;16")
    assert np.array_equal(word, np.full((1, 8, 8), np.float32(1000) / np.float32(65535)))
    bilevel = read_one(save(tmp_path / "eye.png", np.eye(8, dtype=bool)), GREY)
    assert np.array_equal(bilevel[0], np.eye(8, dtype=np.float32))
    la = read_one(save(tmp_path / "la.png", Image.new("LA", (8, 8), (102, 7))), GREY)
    assert np.all(la == np.float32(102) / np.float32(255))
    quarter = read_one(save(tmp_path / "quarter.tif", np.full((8, 8), 0.25, np.float32)), GREY)
    assert np.all(quarter == 0.25)


def test_channels_are_converted_both_ways(tmp_path):
    rgb = save(tmp_path / "rgb.png", Image.new("RGB", (8, 8), (200, 100, 50)))
    luma = round((200 * 299 + 100 * 587 + 50 * 114) / 1000)  # Pillow's ITU-R 601-2 conversion to L
    assert np.all(read_one(rgb, GREY) * 255 == np.float32(luma))
    grey = save(tmp_path / "grey.png", np.full((8, 8), 51, np.uint8))
    word = save(tmp_path / "word.png", np.full((8, 8), 13107, np.uint16))
    assert np.all(read_one(grey, RGB) == np.float32(0.2)) and np.all(read_one(word, RGB) == np.float32(0.2))


def test_default_channels_are_grey_only_when_every_image_is(tmp_path):
    assert load_image_folder(grey_folder(tmp_path / "grey"), cache_dir=False).image_shape[0] == 1
    sixteen = grey_folder(tmp_path / "sixteen")
    save(sixteen / "a" / "word.png", np.full((8, 8), 1000, np.uint16))
    assert load_image_folder(sixteen, cache_dir=False).preprocessing["channels"] == 1
    for mode, colour in (("RGB", (1, 2, 3)), ("P", 0)):
        mixed = grey_folder(tmp_path / mode)
        save(mixed / "b" / "colour.png", Image.new(mode, (8, 8), colour))
        assert load_image_folder(mixed, cache_dir=False).image_shape[0] == 3
    assert load_image_folder(mixed, channels=1, cache_dir=False).image_shape[0] == 1


def test_default_size_is_the_most_common_one_capped_at_64(tmp_path):
    common = grey_folder(tmp_path / "common", size=(30, 40))
    save(common / "a" / "odd.png", np.zeros((20, 20), np.uint8))
    assert load_image_folder(common, cache_dir=False).preprocessing["size"] == [30, 40]
    for size, expected in (((480, 640), [48, 64]), ((100, 5), [64, 4]), ((2, 3), [4, 4])):
        folder = grey_folder(tmp_path / f"{size}", {"a": 2, "b": 2}, size=size)
        ds = load_image_folder(folder, cache_dir=False)
        assert ds.preprocessing["size"] == expected and ds.image_shape == (1, *expected)


@pytest.mark.parametrize(
    "image_size, expected", [("12x16", [12, 16]), (" 12 X 16 ", [12, 16]), ((12, 16), [12, 16]), ([5, 5], [5, 5])]
)
def test_image_size_accepts_text_and_pairs(tmp_path, image_size, expected):
    ds = load_image_folder(grey_folder(tmp_path), image_size=image_size, cache_dir=False)
    assert ds.preprocessing["size"] == expected and ds.source["options"]["image_size"] == expected


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"image_size": "100000x100000"}, ValueError, "image_size must be 'HxW' or"),
        ({"image_size": "0x5"}, ValueError, "sides in 1..4096"),
        ({"image_size": "big"}, ValueError, "image_size"),
        ({"image_size": (1.5, 2)}, TypeError, "image_size"),
        ({"image_size": (8, 8, 8)}, TypeError, "image_size"),
        ({"channels": 2}, ValueError, "channels must be"),
        ({"test_fraction": 1.0}, ValueError, "test_fraction"),
        ({"seed": -1}, ValueError, "seed"),
        ({"workers": 0}, ValueError, "workers"),
        ({"strict": "yes"}, TypeError, "strict"),
        ({"cache_dir": True}, TypeError, "cache_dir"),
    ],
)
def test_bad_options_are_refused_naming_them(tmp_path, options, error, match):
    with pytest.raises(error, match=f"load_image_folder: .*{match}"):
        load_image_folder(grey_folder(tmp_path), **{"cache_dir": False, **options})


# -- letterbox -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, rows, cols",
    [((4, 8), slice(2, 6), slice(0, 8)), ((8, 4), slice(0, 8), slice(2, 6)), ((3, 8), slice(2, 5), slice(0, 8))],
)
def test_letterbox_centres_the_image_and_pads_with_zeros(tmp_path, shape, rows, cols):
    x = read_one(save(tmp_path / "white.png", np.full(shape, 255, np.uint8)), GREY)[0]
    expected = np.zeros((8, 8), np.float32)
    expected[rows, cols] = 1.0
    assert np.array_equal(x, expected)


def test_letterbox_scales_keeping_the_aspect_and_leaves_the_right_size_alone(tmp_path, rng):
    big = save(tmp_path / "big.png", np.full((16, 32), 255, np.uint8))
    x = read_images([big], {**GREY, "size": [8, 8]})[0][0, 0]
    assert np.array_equal(x[2:6], np.ones((4, 8))) and not x[:2].any() and not x[6:].any()
    pixels = noise(rng, (8, 8))
    exact = read_one(save(tmp_path / "exact.png", pixels), GREY)[0]
    assert np.array_equal(exact, pixels / np.float32(255))  # not resampled


def test_stretch_resizes_to_the_exact_size(tmp_path):
    path = save(tmp_path / "white.png", np.full((4, 8), 255, np.uint8))
    x = read_one(path, {**GREY, "resize": "stretch"})
    assert np.all(x == 1.0)


# -- layouts and splits ----------------------------------------------------------------------------


def test_class_folders_recursive_hidden_and_other_files_ignored(tmp_path):
    root = grey_folder(tmp_path / "data")
    save(root / "a" / "deeper" / "nested.PNG", np.zeros((8, 8), np.uint8))
    save(root / "a" / ".hidden.png", np.zeros((8, 8), np.uint8))
    save(root / ".cache" / "x.png", np.zeros((8, 8), np.uint8))
    (root / "b" / "notes.txt").write_text("not an image")
    assert [p.relative_to(root).as_posix() for p in image_files(root / "a")][-1] == "a/deeper/nested.PNG"
    ds = load_image_folder(root, test_fraction=0.0, cache_dir=False)
    assert ds.class_names == ("a", "b") and len(ds.x_train) == 11 and ds.skipped == ()
    assert np.bincount(ds.y_train).tolist() == [6, 5] and ds.y_train.dtype == np.int64
    assert ds.x_train.dtype == np.float32 and ds.x_train.flags.c_contiguous


def test_seeded_split_is_stratified_reproducible_and_seed_dependent(tmp_path):
    root = grey_folder(tmp_path, {"a": 10, "b": 10, "c": 5})
    first, again = (load_image_folder(root, cache_dir=False) for _ in range(2))
    assert np.bincount(first.y_test).tolist() == [2, 2, 1] and len(first.y_train) == 20
    assert np.array_equal(first.x_test, again.x_test) and np.array_equal(first.y_train, again.y_train)
    other = load_image_folder(root, seed=1, cache_dir=False)
    assert not np.array_equal(first.x_test, other.x_test)
    levels = lambda ds: set(np.round(ds.x_train[:, 0, 0, 0] * 255).astype(int).tolist())  # noqa: E731
    assert levels(first) | set(np.round(first.x_test[:, 0, 0, 0] * 255).astype(int).tolist()) == set(range(1, 26))
    assert levels(first) != levels(other)


def test_train_and_test_subfolders_give_the_split(tmp_path):
    grey_folder(tmp_path / "train", {"a": 3, "b": 3})
    grey_folder(tmp_path / "test", {"a": 2})  # no test images of class b: fine
    (tmp_path / "test" / "b").mkdir()
    ds = load_image_folder(tmp_path, seed=5, cache_dir=False)
    assert ds.class_names == ("a", "b") and ds.y_train.tolist() == [0, 0, 0, 1, 1, 1] and ds.y_test.tolist() == [0, 0]
    grey_folder(tmp_path / "test", {"zebra": 1})
    with pytest.raises(DatasetFormatError, match=r"test/zebra is a class that train/ does not have"):
        load_image_folder(tmp_path, cache_dir=False)


def test_the_source_record_reloads_the_same_arrays_and_split(tmp_path, monkeypatch):
    monkeypatch.setenv("SOFTMAXKIT_CACHE", str(tmp_path / "cache"))
    root = grey_folder(tmp_path / "data", {"cats": 6, "dogs": 4}, size=(10, 20))
    ds = load(str(root), seed=3)
    assert ds.name == str(root) and ds.source["kind"] == "folder" and ds.source["path"] == str(root.resolve())
    assert ds.source["options"] == {"image_size": [10, 20], "channels": 1, "seed": 3, "test_fraction": 0.2,
                                    "strict": False}  # fmt: skip
    assert len(ds.source["fingerprint"]) == 64
    assert ds.preprocessing == {"kind": "image", "channels": 1, "size": [10, 20], "resize": "letterbox",
                                "invert": "no"}  # fmt: skip
    assert "letterboxed to 10x20" in ds.scaling and "\n" not in ds.scaling
    again = load_source(ds.source)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(ds, name), getattr(again, name))
    assert again.class_names == ("cats", "dogs") and again.source == ds.source
    assert list((tmp_path / "cache").iterdir())  # written where $SOFTMAXKIT_CACHE says


def test_worker_count_and_progress_change_nothing(tmp_path):
    root = grey_folder(tmp_path, {"a": 6, "b": 6})
    one = load_image_folder(root, workers=1, cache_dir=False)
    many = load_image_folder(root, workers=4, progress=True, cache_dir=False)
    assert np.array_equal(one.x_train, many.x_train) and np.array_equal(one.y_test, many.y_test)


# -- the cache -------------------------------------------------------------------------------------


def test_an_unchanged_folder_is_not_opened_again(tmp_path, monkeypatch):
    root, cache = grey_folder(tmp_path / "data"), tmp_path / "cache"
    fresh = load_image_folder(root, cache_dir=cache)
    counter = OpenCounter(monkeypatch)
    cached = load_image_folder(root, cache_dir=cache)
    assert counter.calls == 0
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(fresh, name), getattr(cached, name))
    assert cached.source == fresh.source and cached.preprocessing == fresh.preprocessing


@pytest.mark.parametrize("change", ["touch", "add", "remove"])
def test_touching_adding_or_removing_a_file_reads_the_folder_again(tmp_path, monkeypatch, change):
    root, cache = grey_folder(tmp_path / "data"), tmp_path / "cache"
    before = load_image_folder(root, test_fraction=0.0, cache_dir=cache)
    target = root / "a" / "00.png"
    if change == "touch":
        stat = target.stat()
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    elif change == "add":
        save(root / "b" / "new.png", np.full((8, 8), 200, np.uint8))
    else:
        target.unlink()
    counter = OpenCounter(monkeypatch)
    after = load_image_folder(root, test_fraction=0.0, cache_dir=cache)
    assert counter.calls > 0
    assert len(after.y_train) == len(before.y_train) + {"touch": 0, "add": 1, "remove": -1}[change]
    assert len(list(cache.glob("*.npz"))) == 1  # the stale entry is replaced, not kept beside


def test_a_corrupt_cache_file_is_ignored_and_rewritten(tmp_path, monkeypatch):
    root, cache = grey_folder(tmp_path / "data"), tmp_path / "cache"
    fresh = load_image_folder(root, cache_dir=cache)
    for path in cache.iterdir():
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    again = load_image_folder(root, cache_dir=cache)
    assert np.array_equal(fresh.x_train, again.x_train)
    for path in cache.iterdir():
        path.write_bytes(b"garbage")
    assert np.array_equal(load_image_folder(root, cache_dir=cache).x_test, fresh.x_test)
    counter = OpenCounter(monkeypatch)
    load_image_folder(root, cache_dir=cache)
    assert counter.calls == 0  # rewritten


@pytest.mark.parametrize(
    "extra, dtype",
    [
        (None, np.uint8),
        (np.full((16, 16), 40000, np.uint16), np.uint16),
        (np.full((16, 16), 0.3, np.float32), np.float32),
    ],
)
def test_the_cache_stores_pixels_exactly_in_the_narrowest_dtype(tmp_path, monkeypatch, extra, dtype):
    root, cache = tmp_path / "data", tmp_path / "cache"
    save(root / "a" / "all_bytes.png", np.arange(256, dtype=np.uint8).reshape(16, 16))
    save(root / "b" / "b.png", np.zeros((16, 16), np.uint8))
    if extra is not None:
        save(root / "b" / "extra.tif", extra)
    fresh = load_image_folder(root, test_fraction=0.0, cache_dir=cache)
    assert np.array_equal(fresh.x_train[0, 0].ravel(), np.arange(256, dtype=np.float32) / np.float32(255))
    (stored,) = cache.glob("*.npz")
    assert np.load(stored, allow_pickle=False)["pixels"].dtype == dtype
    cached = load_image_folder(root, test_fraction=0.0, cache_dir=cache)
    assert np.array_equal(fresh.x_train.view(np.uint32), cached.x_train.view(np.uint32))  # bit for bit


def test_cache_false_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SOFTMAXKIT_CACHE", str(tmp_path / "cache"))
    load_image_folder(grey_folder(tmp_path / "data"), cache_dir=False)
    assert not (tmp_path / "cache").exists()


# -- bad files -------------------------------------------------------------------------------------


def bad_files(root, rng) -> dict[str, str]:
    """Write one bad file of each kind into ``root/a``; return {relative path: expected reason}."""
    png = encoded(Image.fromarray(noise(rng, (32, 32))), "PNG")
    jpeg = encoded(Image.fromarray(noise(rng, (64, 64, 3))), "JPEG", quality=90)
    files = {
        "a/corrupt.png": (b"\x89PNG\r\n\x1a\n" + rng.bytes(200), "not a readable image"),
        "a/cut.png": (png[: len(png) * 6 // 10], "not a readable image"),
        "a/cut.jpg": (jpeg[: len(jpeg) * 8 // 10], "not a readable image"),
        "a/empty.png": (b"", "empty file (0 bytes)"),
        "a/text.png": (b"hello, I am not a picture\n", "not a format Pillow recognises"),
        # With Image.MAX_IMAGE_PIXELS = 5000, Pillow refuses the first and only warns for the second.
        "a/bomb.png": (encoded(Image.new("L", (120, 120)), "PNG"), "image too large"),
        "a/warned_bomb.png": (encoded(Image.new("L", (80, 80)), "PNG"), "image too large"),
    }
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    return {name: reason for name, (_, reason) in files.items()}


def test_bad_files_are_skipped_with_a_warning_naming_each(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    root = grey_folder(tmp_path / "data")
    expected = bad_files(root, rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_image_folder(root, test_fraction=0.0, cache_dir=tmp_path / "cache")
    assert len(ds.y_train) == 10 and len(ds.skipped) == len(expected)
    for entry in ds.skipped:
        name, reason = entry.split(": ", 1)
        assert expected[name] in reason, entry
    messages = [str(w.message) for w in caught]
    assert sorted(messages) == sorted(f"load_image_folder: skipped {entry}" for entry in ds.skipped)
    assert Image.MAX_IMAGE_PIXELS == 5000 and not any("DecompressionBomb" in str(f) for f in warnings.filters)
    with warnings.catch_warnings(record=True) as again:  # the cache remembers them, and so warns the same
        warnings.simplefilter("always")
        assert load_image_folder(root, test_fraction=0.0, cache_dir=tmp_path / "cache").skipped == ds.skipped
    assert [str(w.message) for w in again] == messages


def test_ten_warnings_then_a_count(tmp_path):
    root = grey_folder(tmp_path)
    for k in range(13):
        (root / "b" / f"broken{k:02d}.png").write_bytes(b"broken")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_image_folder(root, cache_dir=False)
    messages = [str(w.message) for w in caught]
    assert len(ds.skipped) == 13 and len(messages) == 11
    assert messages[:10] == [f"load_image_folder: skipped b/broken{k:02d}.png: {ds.skipped[k].split(': ', 1)[1]}"
                             for k in range(10)]  # fmt: skip
    assert messages[10] == "load_image_folder: skipped 3 more unreadable image files (Dataset.skipped lists them all)"


def test_strict_mode_stops_at_the_first_bad_file(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    root = grey_folder(tmp_path / "data")
    bad_files(root, rng)
    with pytest.raises(DatasetFormatError, match=r"data/a/bomb\.png: image too large") as info:
        load_image_folder(root, strict=True, cache_dir=False, image_size="8x8", channels=1)
    assert isinstance(info.value, ValueError)
    with pytest.warns(UserWarning):
        load_image_folder(root, cache_dir=tmp_path / "cache")
    with pytest.raises(DatasetFormatError, match=r"data/a/bomb\.png: image too large"):  # from the cache too
        load_image_folder(root, strict=True, cache_dir=tmp_path / "cache")


def test_a_class_with_no_readable_image_is_an_error(tmp_path):
    root = grey_folder(tmp_path)
    (root / "c").mkdir()
    (root / "c" / "only.png").write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(DatasetFormatError, match=r"'c' holds no readable image.*empty"):
        load_image_folder(root, cache_dir=False)


@pytest.mark.parametrize(
    "layout, match",
    [
        ({"a/1.png": 1, "b/": 0}, r"the class folder 'b' holds no image files"),
        ({"a/1.png": 1, "a/2.png": 1}, r"found one class folder \('a'\); a classifier needs at least two"),
        ({"1.png": 1, "2.png": 1}, r"images lie directly in the folder; expected one subfolder per class"),
        ({"notes.txt": 1}, r"no image files and no class subfolders"),
        ({}, r"no image files and no class subfolders"),
        ({"a/x.txt": 1, "b/": 0}, r"no image files \(.png .jpg .* in any class folder"),
    ],
)
def test_layout_errors_name_the_folder_and_what_is_expected(tmp_path, layout, match):
    root = tmp_path / "data"
    root.mkdir()
    for name in layout:
        if name.endswith("/"):
            (root / name).mkdir()
        elif name.endswith(".png"):
            save(root / name, np.zeros((4, 4), np.uint8))
        else:
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_text("x")
    with pytest.raises(DatasetFormatError, match=f"load_image_folder: {root}: .*{match}"):
        load_image_folder(root, cache_dir=False)


def test_loose_images_beside_class_folders_are_ignored_with_a_warning(tmp_path):
    root = grey_folder(tmp_path)
    save(root / "stray.png", np.zeros((8, 8), np.uint8))
    with pytest.warns(UserWarning, match="1 image files lie directly in the folder"):
        assert len(load_image_folder(root, test_fraction=0.0, cache_dir=False).y_train) == 10


def test_a_missing_path_or_a_file_is_refused(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no-such-folder: no such folder"):
        load_image_folder(tmp_path / "no-such-folder", cache_dir=False)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"file\.png: not a folder"):
        load_image_folder(tmp_path / "file.png", cache_dir=False)


# -- read_images -----------------------------------------------------------------------------------


def test_read_images_takes_files_and_folders_and_skips_bad_files(tmp_path):
    grey_folder(tmp_path / "ood", {"x": 2, "y": 1})
    (tmp_path / "ood" / "y" / "bad.png").write_bytes(b"bad")
    single = save(tmp_path / "single.png", np.full((8, 8), 255, np.uint8))
    with pytest.warns(UserWarning, match=r"read_images: skipped .*bad\.png: not a readable image"):
        x, names, skipped = read_images([single, tmp_path / "ood"], GREY)
    assert x.shape == (4, 1, 8, 8) and x.dtype == np.float32 and np.all(x[0] == 1.0)
    assert names == [str(single)] + [str(tmp_path / "ood" / n) for n in ("x/00.png", "x/01.png", "y/00.png")]
    assert skipped == [f"{tmp_path / 'ood' / 'y' / 'bad.png'}: not a readable image (not a format Pillow recognises)"]
    with pytest.raises(DatasetFormatError, match=r"bad\.png: not a readable image"):
        read_images(tmp_path / "ood", GREY, strict=True)
    with pytest.raises(DatasetNotFoundError, match=r"missing\.png: no such file or folder"):
        read_images([tmp_path / "missing.png"], GREY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="empty: no image files"):
        read_images([tmp_path / "empty"], GREY)


def test_read_images_inverts_before_padding(tmp_path):
    dark_on_light = save(tmp_path / "ink.png", np.full((4, 8), 255, np.uint8))
    for invert, content in (("no", 1.0), ("yes", 0.0), ("auto", 0.0)):
        x = read_one(dark_on_light, {**GREY, "invert": invert})[0]
        assert np.all(x[2:6] == content) and not x[:2].any() and not x[6:].any()


@pytest.mark.parametrize(
    "preprocessing, match",
    [
        ({"kind": "table"}, "preprocessing must be an image preprocessing record"),
        ({**GREY, "channels": 2}, r"preprocessing\['channels'\] must be 1 or 3"),
        ({**GREY, "size": [0, 8]}, r"preprocessing\['size'\] must be"),
        ({**GREY, "resize": "crop"}, r"preprocessing\['resize'\]"),
        ({**GREY, "invert": True}, r"preprocessing\['invert'\]"),
    ],
)
def test_read_images_checks_the_preprocessing(tmp_path, preprocessing, match):
    with pytest.raises(ValueError, match=f"read_images: {match}"):
        read_images([tmp_path], preprocessing)
