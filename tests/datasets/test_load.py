"""Tests for softmaxkit.datasets.load: IDX and CIFAR readers, .npz, digits split, lookup order, errors."""

from __future__ import annotations

import gzip
import io
import os
import pickle

import numpy as np
import pytest

from softmaxkit.datasets import (
    ChecksumError,
    Dataset,
    DatasetFormatError,
    DatasetNotFoundError,
    load,
    names,
)
from softmaxkit.datasets._idx import idx_bytes, parse_idx, read_idx
from softmaxkit.datasets._unpickle import safe_load

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_idx_set(directory, rng, *, n_train=12, n_test=5, gz=False, size=28):
    """Write a tiny valid MNIST-layout data set; return the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        STEMS[0]: rng.integers(0, 256, size=(n_train, size, size), dtype=np.uint8),
        STEMS[1]: rng.integers(0, 10, size=n_train, dtype=np.uint8),
        STEMS[2]: rng.integers(0, 256, size=(n_test, size, size), dtype=np.uint8),
        STEMS[3]: rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    arrays[STEMS[0]][0, 0, 0] = 255
    arrays[STEMS[0]][0, 0, 1] = 0
    for stem, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (directory / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)
    return arrays


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """HOME and $SOFTMAXKIT_DATA pointed into tmp_path, so no real data set is ever found."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SOFTMAXKIT_DATA", raising=False)
    return tmp_path


# -- IDX -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_roundtrip_all_types(dtype, rng, tmp_path):
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(arr))
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_layout(gz, rng, isolated):
    arrays = write_idx_set(isolated / "data" / "mnist", rng, gz=gz)
    ds = load("mnist", root=isolated / "data", verify=False)
    assert isinstance(ds, Dataset) and ds.name == "mnist"
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train[0, 0, 0, 0] == 1.0 and ds.x_train[0, 0, 0, 1] == 0.0
    np.testing.assert_allclose(ds.x_train[:, 0], arrays[STEMS[0]] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, arrays[STEMS[3]])
    assert ds.class_names == tuple("0123456789")
    assert "255" in ds.scaling


def test_load_fashion_class_names(rng, isolated):
    write_idx_set(isolated / "fashion-mnist", rng, gz=True)
    ds = load("Fashion_MNIST", root=isolated, verify=False)
    assert ds.class_names == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip


def test_checksum_verified_by_default(rng, isolated):
    write_idx_set(isolated / "mnist", rng)
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte.*SHA-256"):
        load("mnist", root=isolated)


def _corrupt(directory, stem, data):
    (directory / stem).write_bytes(data)


@pytest.mark.parametrize(
    "stem, make, message",
    [
        (STEMS[0], lambda good: b"\x08\x03" + good[2:], "bad IDX magic number"),
        (STEMS[0], lambda good: good[:-7], "truncated IDX file"),
        (STEMS[0], lambda good: good[:10], "truncated IDX header"),
        (STEMS[0], lambda good: good[:2], "too short"),
        (STEMS[0], lambda good: good + b"\x00", "trailing bytes"),
        (STEMS[0], lambda good: good[:2] + b"\x07" + good[3:], "unknown IDX type code"),
        (STEMS[1], lambda good: idx_bytes(np.zeros(11, np.uint8)), "label count mismatch"),
        (STEMS[3], lambda good: idx_bytes(np.array([0, 1, 2, 3, 10], np.uint8)), "labels out of range"),
        (STEMS[1], lambda good: idx_bytes(np.zeros((12, 1), np.uint8)), "1 dimension"),
        (STEMS[0], lambda good: gzip.compress(good)[:-20], "corrupt gzip"),
        (STEMS[0], lambda good: b"\x1f\x8b" + b"garbage" * 5, "corrupt gzip"),
    ],
)
def test_malformed_idx_names_the_file(stem, make, message, rng, isolated):
    directory = isolated / "mnist"
    write_idx_set(directory, rng)
    _corrupt(directory, stem, make((directory / stem).read_bytes()))
    with pytest.raises(DatasetFormatError, match=message) as info:
        load("mnist", root=isolated, verify=False)
    assert stem in str(info.value)


def test_parse_idx_rejects_short_header():
    with pytest.raises(DatasetFormatError, match="<bytes>: truncated"):
        parse_idx(b"\x00\x00")


# -- CIFAR -----------------------------------------------------------------------------------------

BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def write_cifar(directory, rng, *, n=3, bytes_keys=True, meta=True):
    directory.mkdir(parents=True, exist_ok=True)
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    written = {}
    for name in BATCHES:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        batch = {key("batch_label"): key(name), key("data"): data, key("labels"): labels}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=4))
        written[name] = (data, labels)
    if meta:
        names_ = [key(f"class{k}") for k in range(10)]
        (directory / "batches.meta").write_bytes(pickle.dumps({key("label_names"): names_}, protocol=4))
    return written


@pytest.mark.parametrize("subdir", [True, False])
@pytest.mark.parametrize("bytes_keys", [True, False])
def test_load_cifar(subdir, bytes_keys, rng, isolated):
    base = isolated / "cifar10" / ("cifar-10-batches-py" if subdir else "")
    written = write_cifar(base, rng, bytes_keys=bytes_keys)
    ds = load("cifar10", root=isolated)
    assert ds.x_train.shape == (15, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    data, labels = written["data_batch_2"]
    # row layout: 1024 red, 1024 green, 1024 blue values -> NCHW planes
    np.testing.assert_allclose(ds.x_train[3, 1].ravel(), data[0, 1024:2048] / 255.0, rtol=1e-6)
    assert list(ds.y_train[3:6]) == labels
    assert ds.class_names == tuple(f"class{k}" for k in range(10))


def test_cifar_without_meta_uses_standard_names(rng, isolated):
    write_cifar(isolated / "cifar10", rng, meta=False)
    ds = load("cifar-10", root=isolated)
    assert ds.class_names[:3] == ("airplane", "automobile", "bird") and len(ds.class_names) == 10


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "payload, message",
    [
        (pickle.dumps([1, 2, 3], protocol=4), "expected a CIFAR batch"),
        (pickle.dumps({b"data": np.zeros((3, 3072), np.uint8)}, protocol=4), "needs 'data' and 'labels'"),
        (
            pickle.dumps({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}, protocol=4),
            "shape \\(n, 3072\\)",
        ),
        (pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}, protocol=4), "label count mismatch"),
        (
            pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 12]}, protocol=4),
            "labels out of range",
        ),
        (pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 2]}, protocol=4)[:-30], "truncated"),
        (pickle.dumps(_Evil(), protocol=4), "refusing to load global"),
        (b"not a pickle at all", "pickle"),
    ],
    ids=["list", "no-labels", "bad-shape", "count", "range", "truncated", "evil-global", "not-pickle"],
)
def test_malformed_cifar_names_the_file(payload, message, rng, isolated):
    base = isolated / "cifar10"
    write_cifar(base, rng)
    (base / "data_batch_3").write_bytes(payload)
    with pytest.raises(DatasetFormatError, match=message) as info:
        load("cifar10", root=isolated)
    assert "data_batch_3" in str(info.value)


def test_restricted_unpickler_allows_numpy_arrays_only():
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(safe_load(io.BytesIO(pickle.dumps(arr, protocol=4)), source="x"), arr)
    with pytest.raises(DatasetFormatError, match=r"refusing to load global builtins.eval"):
        safe_load(io.BytesIO(pickle.dumps(eval, protocol=4)), source="x")


# -- .npz ------------------------------------------------------------------------------------------


def test_load_npz_with_test_split_and_names(rng, tmp_path):
    path = tmp_path / "mine.npz"
    x = rng.integers(0, 256, size=(6, 3, 4, 4), dtype=np.uint8)
    np.savez(path, x=x, y=np.array([0, 1, 2, 0, 1, 2]), x_test=x[:2], y_test=np.array([2, 2]),
             class_names=np.array(["a", "b", "c"]))  # fmt: skip
    ds = load(str(path))
    assert ds.x_train.shape == (6, 3, 4, 4) and ds.x_test.shape == (2, 3, 4, 4)
    assert ds.class_names == ("a", "b", "c") and ds.name == str(path)
    np.testing.assert_allclose(ds.x_train, x / 255.0, rtol=1e-6)


def test_load_npz_float_kept_and_empty_test(tmp_path):
    path = tmp_path / "flat.npz"
    np.savez(path, x=np.array([[0.5, -2.0], [3.0, 4.0]]), y=np.array([0, 3]))
    ds = load(path)  # a Path works as well as a str
    assert ds.x_train.dtype == np.float32 and ds.x_train[0, 1] == -2.0
    assert ds.x_test.shape == (0, 2) and ds.y_test.shape == (0,)
    assert ds.class_names == ("0", "1", "2", "3") and "as stored" in ds.scaling


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((2, 2))}, "needs arrays 'x' and 'y'"),
        ({"x": np.zeros((2, 2)), "y": np.array([0, 1, 2])}, "label count mismatch"),
        ({"x": np.zeros((2, 2)), "y": np.array([0.0, 1.0])}, "integer"),
        ({"x": np.zeros((2, 2)), "y": np.array([0, -1])}, "labels out of range"),
        ({"x": np.zeros((2, 2)), "y": np.array([0, 1]), "x_test": np.zeros((1, 2))}, "together"),
        ({"x": np.zeros((2, 2)), "y": np.array([0, 2]), "class_names": np.array(["a", "b"])}, "labels out of range"),
        (
            {"x": np.zeros((2, 2)), "y": np.array([0, 1]), "class_names": np.array(["a", None], dtype=object)},
            "cannot read",
        ),
    ],
)
def test_malformed_npz(arrays, message, tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetFormatError, match=message) as info:
        load(path)
    assert "bad.npz" in str(info.value)


def test_missing_npz(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"no such .npz"):
        load(tmp_path / "nope.npz")


# -- digits ----------------------------------------------------------------------------------------


def test_digits_split_is_fixed_and_stratified():
    a, b = load("digits"), load("digits")
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.x_train.shape == (1437, 1, 8, 8) and a.x_test.shape == (360, 1, 8, 8)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    total = np.bincount(a.y_train, minlength=10) + np.bincount(a.y_test, minlength=10)
    np.testing.assert_allclose(np.bincount(a.y_test, minlength=10), 0.2 * total, atol=1)
    assert a.class_names == tuple("0123456789")


# -- lookup order and errors -----------------------------------------------------------------------


def test_lookup_order_root_then_env_then_home(rng, isolated, monkeypatch):
    roots = {k: isolated / k for k in ("explicit", "env", "home/.cache/softmaxkit")}
    for n, r in enumerate(roots.values()):
        write_idx_set(r / "mnist", rng, n_train=3 + n)
    monkeypatch.setenv("SOFTMAXKIT_DATA", str(roots["env"]))
    assert len(load("mnist", root=roots["explicit"], verify=False).x_train) == 3
    assert len(load("mnist", verify=False).x_train) == 4
    assert len(load("mnist", root=isolated / "empty", verify=False).x_train) == 4
    monkeypatch.delenv("SOFTMAXKIT_DATA")
    assert len(load("mnist", verify=False).x_train) == 5


def test_not_found_message_says_how_to_get_it(rng, isolated, monkeypatch):
    monkeypatch.setenv("SOFTMAXKIT_DATA", str(isolated / "env"))
    partial = isolated / "explicit" / "mnist"
    write_idx_set(partial, rng)
    (partial / STEMS[2]).unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist", root=isolated / "explicit")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "softmaxkit data fetch mnist" in msg
    assert f"missing {STEMS[2]}[.gz]" in msg
    assert str(isolated / "env" / "mnist") in msg and str(isolated / "home" / ".cache" / "softmaxkit" / "mnist") in msg
    assert "train-images-idx3-ubyte.gz" in msg and "https://" in msg
    assert "\n" not in msg  # command-line front ends print it as one line


def test_cifar_not_found_mentions_tarball(isolated):
    with pytest.raises(DatasetNotFoundError, match=r"cifar-10-python.tar.gz"):
        load("cifar10")


def test_unknown_name():
    with pytest.raises(ValueError, match=r"unknown data set 'imagenet'.*digits, mnist"):
        load("imagenet")
    assert names() == ("digits", "mnist", "fashion-mnist", "cifar10")
