"""Hostile data files: each gives a clean error naming the file, within a fixed memory budget.

Every file is generated here (no binaries are committed): labels that would plan a billion classes,
sizes declared far beyond the bytes present (IDX headers, ``.npy`` headers, pickle opcodes, zip
entries), decompression bombs (gzip, zip, image headers), and truncations and byte flips of small
valid IDX, gzip, CIFAR, ``.npz``, ``.npy`` and PNG files. The loads run in a child interpreter under
an address-space limit (``run_limited``), many cases per child; a case that allocates from a size
the file declares ends the child with "memory" and fails its test with the case's name.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import pickle
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from softmaxkit import nn
from softmaxkit.cli import main
from softmaxkit.datasets import DatasetFormatError, load
from softmaxkit.inputs import load_image, load_inputs

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")

# -- running many cases in one limited child --------------------------------------------------------

_RUNNER = """
import json
import softmaxkit.inputs
_results = {{}}
for _name, _arg in json.loads({cases!r}).items():
    print("@@CASE@@" + _name, flush=True)
    try:
        {call}
    except MemoryError:
        raise
    except Exception as _exc:
        _results[_name] = ["raised", type(_exc).__name__, str(_exc)]
    else:
        _results[_name] = ["ok", None, None]
print("@@CASES@@" + json.dumps(_results))
"""


def run_cases(limited, call: str, cases: dict, *, budget_mb: int = 512) -> dict:
    """Evaluate ``call`` (which reads ``_arg``) once per case in one memory-limited child.

    Returns ``{name: (outcome, type, message)}`` with outcome "raised" or "ok"; fails the test if the
    child ran out of memory or died, naming the case it was on.
    """
    cases = {name: str(arg) for name, arg in cases.items()}
    result = limited(_RUNNER.format(cases=json.dumps(cases), call=call), budget_mb=budget_mb)
    lines = result.stdout.splitlines()
    if result.outcome != "ok":
        current = [line.removeprefix("@@CASE@@") for line in lines if line.startswith("@@CASE@@")]
        pytest.fail(
            f"case {current[-1] if current else '?'}: child ended with {result.outcome} "
            f"({result.type}: {result.message}) {result.stderr[-1500:]}"
        )
    return json.loads([line for line in lines if line.startswith("@@CASES@@")][-1].removeprefix("@@CASES@@"))


def assert_refused(results: dict, expected: str, *, may_load=lambda name: name.startswith("flip")) -> None:
    """Every case raised ``expected`` with a message naming its file (byte flips may also load cleanly)."""
    assert results
    for name, (outcome, kind, message) in results.items():
        if outcome == "ok" and may_load(name):
            continue
        assert (outcome, kind) == ("raised", expected), f"{name}: {outcome} {kind}: {message}"
        assert name in message, f"{name}: the message does not name the file: {message}"


def cuts(blob: bytes, *, upto: float = 1.0) -> list[int]:
    """Truncation points: empty, inside the header, and spread through the file (never the whole file)."""
    n = len(blob)
    points = {0, 1, 2, 5, 9, 17, n // 4, n // 2, (3 * n) // 4, n - 2, n - 1}
    return sorted(p for p in points if 0 <= p <= upto * n and p < n)


def flips(blob: bytes, rng, *, n_random: int = 12) -> list[int]:
    """Byte positions to corrupt: the first 24 (headers) and some chosen at random."""
    head = range(min(24, len(blob)))
    return sorted({*head, *(int(i) for i in rng.integers(0, len(blob), n_random))})


def flipped(blob: bytes, position: int) -> bytes:
    data = bytearray(blob)
    data[position] ^= 0xA5
    return bytes(data)


# -- generators ------------------------------------------------------------------------------------


def idx_header(shape, *, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def idx_file(array: np.ndarray) -> bytes:
    return idx_header(array.shape) + array.astype(np.uint8).tobytes()


def idx_set(root, rng, replace: dict | None = None):
    """A valid tiny MNIST-layout set in ``root/mnist``; ``replace`` maps a file name to the bytes written instead."""
    directory = root / "mnist"
    directory.mkdir(parents=True)
    arrays = (
        rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 6, dtype=np.uint8),
        rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 4, dtype=np.uint8),
    )
    replace = replace or {}
    for stem, array in zip(STEMS, arrays):
        given = [name for name in replace if name.removesuffix(".gz") == stem]
        for name in given:
            (directory / name).write_bytes(replace[name])
        if not given:
            (directory / stem).write_bytes(idx_file(array))
    return root


@functools.cache
def zero_gzip_member(nbytes: int = 1 << 24) -> bytes:
    """One gzip member of ``nbytes`` zeros; members concatenate into one stream, so bombs cost nothing to make."""
    return gzip.compress(bytes(nbytes), compresslevel=9, mtime=0)


def cifar_batch(rng, *, n: int = 2, labels=None) -> bytes:
    labels = [int(v) for v in rng.integers(0, 10, n)] if labels is None else labels
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return pickle.dumps({b"batch_label": b"hostile", b"data": data, b"labels": labels}, protocol=4)


def cifar_set(root, rng, first_batch: bytes):
    directory = root / "cifar10"
    directory.mkdir(parents=True)
    for name in BATCHES:
        (directory / name).write_bytes(first_batch if name == "data_batch_1" else cifar_batch(rng))
    meta = {b"label_names": [f"c{k}".encode() for k in range(10)]}
    (directory / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))
    return root


def npy_bytes(header: dict, data: bytes = b"", *, version=(1, 0)) -> bytes:
    buf = io.BytesIO()
    write = np.lib.format.write_array_header_1_0 if version == (1, 0) else np.lib.format.write_array_header_2_0
    write(buf, header)
    return buf.getvalue() + data


def raw_npy(header_text: str) -> bytes:
    """An ``.npy`` with a header written by hand (one NumPy's writer would refuse)."""
    text = header_text.encode("latin1").ljust(118) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def saved(array: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, **kwargs)
    return buf.getvalue()


def npz_of(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for key, data in members.items():
            archive.writestr(f"{key}.npy", data)
    return buf.getvalue()


def savez(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def tiff_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "TIFF")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR (with a correct CRC) claims ``width`` x ``height`` pixels."""
    data = bytearray(png_bytes(np.full((16, 16), 200, np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def write_all(directory, files: dict, suffix: str) -> dict:
    """Write ``{name: bytes}`` as ``directory/name + suffix``; return ``{name: path}``."""
    paths = {}
    for name, blob in files.items():
        paths[name] = directory / f"{name}{suffix}"
        paths[name].write_bytes(blob)
    return paths


# Pickles that would allocate from a declared number in the C unpickler or in NumPy.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]


class _DtypeMadeObject:
    """A void dtype whose pickled state sets the 'holds objects' flag."""

    def __reduce__(self):
        return (np.dtype, ("V8", False, True), (3, "|", None, None, None, 8, 1, 0x3F))


class _TerabyteObjectArray:
    """Array state of 10**12 object elements: NumPy allocates the pointers before reading the list."""

    def __reduce__(self):
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10**12,), _DtypeMadeObject(), False, [1, 2]))


class _NdarrayCall:
    def __reduce__(self):
        return (np.ndarray, ((10**12,), "u1"))


class _ObjectDtype:
    def __reduce__(self):
        return (np.dtype, ("O8", False, True))


class _ShapeBeyondData:
    def __reduce__(self):
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10**12,), np.dtype("u1"), False, b"abc"))


def _batch_with(data) -> bytes:
    return pickle.dumps({b"data": data, b"labels": [1]}, protocol=4)


class _DtypeStateCrashingNumpy:
    """A dtype state of 6 items whose 'fields' is an int: NumPy's dtype.__setstate__ crashes the interpreter on it."""

    def __reduce__(self):
        return (np.dtype, ("f4", False, True), (3, "<", None, -1, -1, 0))


class _Python2Dtype:
    """How a Python 2 pickle's dtype unpickles with ``encoding="bytes"``: bytes for its name and byte order."""

    def __init__(self, name: bytes, order: bytes):
        self.name, self.order = name, order

    def __reduce__(self):
        return (np.dtype, (self.name, 0, 1), (3, self.order, None, None, None, -1, -1, 0))


class _Python2Array:
    def __init__(self, array: np.ndarray, name: bytes, order: bytes):
        self.array, self.name, self.order = array, name, order

    def __reduce__(self):
        state = (1, self.array.shape, _Python2Dtype(self.name, self.order), False, self.array.tobytes())
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"), state)


# -- 1. silent wrong results: labels and pixel scaling ---------------------------------------------


def test_npz_labels_and_pixels_that_would_give_silent_wrong_results_are_refused(limited, tmp_path):
    x3 = np.zeros((3, 4), np.float32)
    files = {
        "npz_label_billion": savez(x=x3, y=np.array([0, 1, 10**9])),
        "npz_label_beyond_cap": savez(x=np.zeros((200_001, 1), np.float32), y=np.arange(200_001)),
        "npz_label_gap": savez(x=np.zeros((11, 4), np.float32), y=np.array([0] * 10 + [25])),
        "npz_label_fraction": savez(x=x3, y=np.array([0.0, 1.5, 2.0])),
        "npz_label_whole_float": savez(x=x3, y=np.array([0.0, 1.0, 2.0])),
        "npz_label_nan": savez(x=x3, y=np.array([0.0, np.nan, 1.0])),
        "npz_label_negative": savez(x=x3, y=np.array([0, -1, 1])),
        "npz_label_bool": savez(x=x3, y=np.array([True, False, True])),
        "npz_label_uint64_huge": savez(x=x3, y=np.array([0, 1, 2**63 + 5], np.uint64)),
        "npz_label_2d": savez(x=x3, y=np.zeros((3, 1), np.int64)),
        "npz_label_beyond_names": savez(x=x3, y=np.array([0, 1, 3]), class_names=np.array(["a", "b"])),
        "npz_test_label_beyond_names": savez(
            x=x3, y=np.array([0, 1, 1]), x_test=x3[:1], y_test=np.array([2]), class_names=np.array(["a", "b"])
        ),
        "npz_names_beyond_cap": savez(x=x3, y=np.array([0, 1, 1]), class_names=np.arange(100_001)),
        "npz_x_int64": savez(x=np.arange(12).reshape(3, 4), y=np.array([0, 1, 1])),
        "npz_x_int16": savez(x=np.zeros((3, 4), np.int16), y=np.array([0, 1, 1])),
        "npz_x_nan": savez(x=np.array([[0.0, np.nan]] * 3), y=np.array([0, 1, 1])),
        "npz_x_inf": savez(x=np.array([[0.0, np.inf]] * 3), y=np.array([0, 1, 1])),
        "npz_x_beyond_float32": savez(x=np.array([[0.0, 1e300]] * 3), y=np.array([0, 1, 1])),
        "npz_x_strings": savez(x=np.array([["a", "b"]] * 3), y=np.array([0, 1, 1])),
        "npz_x_1d": savez(x=np.zeros(3, np.float32), y=np.array([0, 1, 1])),
        "npz_x_test_scaled_otherwise": savez(
            x=np.zeros((3, 4), np.uint8), y=np.array([0, 1, 1]), x_test=x3[:1], y_test=np.array([1])
        ),
    }
    paths = write_all(tmp_path, files, ".npz")
    assert_refused(run_cases(limited, "softmaxkit.datasets.load(_arg)", paths), "DatasetFormatError")


def test_cifar_labels_are_refused_unless_integers(limited, tmp_path, rng):
    labels = {
        "cifar_label_fraction": [0.5, 1.7],
        "cifar_label_whole_float": [1.0, 2.0],
        "cifar_label_float_array": np.array([1.0, 2.0]),
        "cifar_label_strings": ["1", "2"],
        "cifar_label_huge_int": [1, 2**70],
        "cifar_label_nested": [[1], [2]],
        "cifar_label_negative": [0, -3],
    }
    roots = {name: cifar_set(tmp_path / name, rng, cifar_batch(rng, labels=y)) for name, y in labels.items()}
    assert_refused(run_cases(limited, "softmaxkit.datasets.load('cifar10', root=_arg)", roots), "DatasetFormatError")


def test_uint16_and_bool_npz_images_are_scaled_by_their_range(tmp_path):
    path = tmp_path / "wide.npz"
    np.savez(path, x=np.array([[0, 32768, 65535]], np.uint16), y=np.array([0]))
    ds = load(path)
    np.testing.assert_allclose(ds.x_train[0], [0.0, 32768 / 65535, 1.0], rtol=1e-6)
    assert "65535" in ds.scaling
    np.savez(path, x=np.array([[True, False]]), y=np.array([0]))
    assert load(path).x_train.tolist() == [[1.0, 0.0]]


def test_labels_with_a_few_missing_classes_are_still_believed(tmp_path):
    path = tmp_path / "gaps.npz"
    np.savez(path, x=np.zeros((4, 2), np.float32), y=np.array([0, 2, 5, 9]))  # 10 classes, 4 present
    assert load(path).class_names == tuple(str(k) for k in range(10))


def test_sixteen_bit_and_bilevel_images_are_scaled_by_bit_depth_not_clipped(tmp_path):
    grey16 = np.full((8, 8), 32768, np.uint16)
    (tmp_path / "mid16.png").write_bytes(png_bytes(grey16))
    np.testing.assert_allclose(load_image(tmp_path / "mid16.png", (1, 8, 8), invert="no"), 32768 / 65535, rtol=1e-6)
    rgb = load_image(tmp_path / "mid16.png", (3, 4, 4), invert="no")
    assert rgb.shape == (3, 4, 4) and np.allclose(rgb, 32768 / 65535, rtol=1e-5)
    (tmp_path / "pgm12.pgm").write_bytes(b"P5 4 4 4095\n" + np.full(16, 2048, ">u2").tobytes())
    np.testing.assert_allclose(load_image(tmp_path / "pgm12.pgm", (1, 4, 4), invert="no"), 2048 / 4095, rtol=1e-3)
    bilevel = Image.fromarray(np.eye(8, dtype=bool))
    bilevel.save(tmp_path / "eye.png")
    assert set(np.unique(load_image(tmp_path / "eye.png", (1, 8, 8), invert="no"))) == {0.0, 1.0}
    (tmp_path / "quarter.tif").write_bytes(tiff_bytes(np.full((4, 4), 0.25, np.float32)))
    np.testing.assert_allclose(load_image(tmp_path / "quarter.tif", (1, 4, 4), invert="no"), 0.25, rtol=1e-6)


def test_npy_batches_follow_the_data_set_scaling(tmp_path):
    np.save(tmp_path / "bytes.npy", np.full((2, 1, 2, 2), 255, np.uint8))
    x, names = load_inputs([tmp_path / "bytes.npy"], (1, 2, 2))
    assert names == ["bytes.npy[0]", "bytes.npy[1]"] and x.dtype == np.float32 and np.all(x == 1.0)


# -- 2. unbounded memory from small files ----------------------------------------------------------


def test_idx_sizes_beyond_the_bytes_present_are_refused_before_allocating(limited, tmp_path, rng):
    zeros = zero_gzip_member()
    labels = idx_file(rng.integers(0, 10, 6, dtype=np.uint8))
    replace = {
        # 6 labels declared, then 640 MiB more: reading stops after the declared size.
        "gz_endless": {"train-labels-idx1-ubyte.gz": gzip.compress(labels, mtime=0) + zeros * 40},
        # 10**9 bytes declared and really there (1 MiB of gzip): refused unread, more than 100x expansion.
        "gz_bomb": {"train-images-idx3-ubyte.gz": gzip.compress(idx_header((1000, 1000, 1000))) + zeros * 60},
        "gz_claims_more": {"train-images-idx3-ubyte.gz": gzip.compress(idx_header((10**6, 28, 28)) + bytes(99))},
        "dims_overflow": {"train-images-idx3-ubyte": idx_header((2**32 - 1,) * 3) + bytes(100)},
        "ndim_255": {"train-images-idx3-ubyte": idx_header((2**32 - 1,) * 255) + bytes(100)},
        "claims_more": {"train-images-idx3-ubyte": idx_header((60000, 28, 28)) + bytes(100)},
        "label_range": {"t10k-labels-idx1-ubyte": idx_file(np.array([0, 1, 2, 200]))},
        "label_dtype": {"t10k-labels-idx1-ubyte": idx_header((4,), code=0x0C) + bytes(16)},
    }
    roots = {name: idx_set(tmp_path / name, rng, files) for name, files in replace.items()}
    results = run_cases(limited, "softmaxkit.datasets.load('mnist', root=_arg, verify=False)", roots)
    assert_refused(results, "DatasetFormatError")
    assert "trailing" in results["gz_endless"][2] and "100x" in results["gz_bomb"][2]


def test_official_idx_names_with_another_size_fail_the_checksum_unread(limited, tmp_path, rng):
    bomb = gzip.compress(idx_header((1000, 1000, 1000))) + zero_gzip_member() * 60
    roots = {"verified_bomb": idx_set(tmp_path / "verified_bomb", rng, {"train-images-idx3-ubyte.gz": bomb})}
    results = run_cases(limited, "softmaxkit.datasets.load('mnist', root=_arg)", roots)
    assert_refused(results, "ChecksumError")
    assert "47040016" in results["verified_bomb"][2]


def test_npz_members_that_claim_more_than_they_hold_are_refused(limited, tmp_path):
    y = saved(np.array([0]))
    huge = {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:  # 300 MB of zeros, 1.2 GB as float32
            member.write(npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (300, 1000, 1000)}))
            for _ in range(300):
                member.write(bytes(10**6))
        archive.writestr("y.npy", saved(np.zeros(300, np.int64)))
    files = {
        "npz_member_claims_terabytes": npz_of(x=npy_bytes(huge, bytes(64)), y=y),
        "npz_member_header_v1_too_long": npz_of(x=b"\x93NUMPY\x01\x00\xff\xff{", y=y),
        "npz_member_header_v2_4gb": npz_of(x=b"\x93NUMPY\x02\x00\xff\xff\xff\xff{", y=y),
        "npz_member_negative_shape": npz_of(
            x=raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 4), }"), y=y
        ),
        "npz_member_object": npz_of(x=saved(np.array([[1, None]], dtype=object), allow_pickle=True), y=y),
        "npz_member_trailing": npz_of(x=saved(np.zeros((1, 2))) + bytes(10), y=y),
        "npz_zip_bomb": bomb.getvalue(),
        "npz_is_npy": saved(np.zeros(3)),
        "npz_not_zip": b"PK\x03\x04" + bytes(40),
    }
    paths = write_all(tmp_path, files, ".npz")
    results = run_cases(limited, "softmaxkit.datasets.load(_arg)", paths, budget_mb=384)
    assert_refused(results, "DatasetFormatError")
    assert "decompression bomb" in results["npz_zip_bomb"][2]


def test_pickles_that_declare_sizes_beyond_their_end_are_refused(limited, tmp_path, rng):
    nested = [0]
    for _ in range(200):
        nested = [nested]
    payloads = {
        "pkl_binbytes8": b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc.",
        "pkl_binunicode8": b"\x80\x04\x8d" + struct.pack("<Q", 2**40) + b"abc.",
        "pkl_bytearray8": b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b"abc.",
        "pkl_binbytes4": b"\x80\x03B" + struct.pack("<I", 2**32 - 1) + b"abc.",
        "pkl_long4": b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"abc.",
        "pkl_frame": b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"}.",
        "pkl_memo_index": b"\x80\x02}r" + struct.pack("<I", 2**31) + b".",
        "pkl_object_array": _batch_with(_TerabyteObjectArray()),
        "pkl_ndarray_call": _batch_with(_NdarrayCall()),
        "pkl_object_dtype": _batch_with(_ObjectDtype()),
        "pkl_shape_beyond_data": _batch_with(_ShapeBeyondData()),
        "pkl_nested": _batch_with(nested),
        "pkl_dtype_state_crashing_numpy": _batch_with(_DtypeStateCrashingNumpy()),
        "pkl_structured_dtype": _batch_with(np.zeros(2, dtype=[("a", "u1")])),
    }
    roots = {name: cifar_set(tmp_path / name, rng, blob) for name, blob in payloads.items()}
    assert_refused(run_cases(limited, "softmaxkit.datasets.load('cifar10', root=_arg)", roots), "DatasetFormatError")


def test_python2_style_batches_still_load(tmp_path, rng):
    data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
    batch = {b"data": _Python2Array(data, b"u1", b"|"), b"labels": [3, 7]}
    cifar_set(tmp_path, rng, pickle.dumps(batch, protocol=3))
    ds = load("cifar10", root=tmp_path)
    np.testing.assert_array_equal(ds.x_train[:2].reshape(2, 3072), data / np.float32(255))
    assert ds.y_train[:2].tolist() == [3, 7]


def test_npy_inputs_that_claim_more_than_they_hold_are_refused(limited, tmp_path):
    files = {
        "npy_claims_terabytes": npy_bytes(
            {"descr": "<f4", "fortran_order": False, "shape": (2**40, 1, 4, 4)}, bytes(64)
        ),
        "npy_header_v2_4gb": b"\x93NUMPY\x02\x00\xff\xff\xff\xff{",
        "npy_header_v1_too_long": b"\x93NUMPY\x01\x00\xff\xff" + b" " * 100,
        "npy_object": saved(np.array([None] * 16, dtype=object).reshape(1, 1, 4, 4), allow_pickle=True),
        "npy_zero_size_elements": raw_npy("{'descr': '|V0', 'fortran_order': False, 'shape': (1000000000000,), }"),
        "npy_int64": saved(np.zeros((1, 1, 4, 4), np.int64)),
        "npy_nan": saved(np.full((1, 1, 4, 4), np.nan, np.float32)),
        "npy_pickle": pickle.dumps(np.zeros((1, 1, 4, 4))),
    }
    paths = write_all(tmp_path, files, ".npy")
    assert_refused(run_cases(limited, "softmaxkit.inputs.load_inputs([_arg], (1, 4, 4))", paths), "InputError")


def test_images_whose_header_claims_too_many_pixels_are_refused(limited, tmp_path):
    files = {
        "png_ten_gigapixels": png_claiming(100_000, 100_000),  # Pillow raises DecompressionBombError
        "png_hundred_megapixels": png_claiming(10_000, 10_000),  # Pillow only warns: refused all the same
        "png_widest": png_claiming(2**31 - 1, 1),
        "tiff_float_beyond_one": tiff_bytes(np.full((4, 4), 2.0, np.float32)),
        "tiff_float_nan": tiff_bytes(np.full((4, 4), np.nan, np.float32)),
        "tiff_int_beyond_16_bits": tiff_bytes(np.full((4, 4), 70_000, np.int32)),
    }
    paths = write_all(tmp_path, files, ".png")
    results = run_cases(limited, "softmaxkit.inputs.load_image(_arg, (1, 8, 8))", paths)
    assert_refused(results, "InputError")
    assert all("too large" in results[name][2] for name in ("png_ten_gigapixels", "png_hundred_megapixels"))


def test_refusing_a_bomb_changes_neither_pillow_nor_the_warning_filters(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_claiming(10_000, 10_000))
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    with pytest.raises(ValueError, match=r"bomb\.png: image too large"):
        load_image(tmp_path / "bomb.png", (1, 8, 8))
    assert Image.MAX_IMAGE_PIXELS == limit and warnings.filters == filters


# -- 3. truncated and corrupted files anywhere -----------------------------------------------------


def test_truncated_and_flipped_idx_files(limited, tmp_path, rng):
    raw = idx_file(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
    gz = gzip.compress(raw, mtime=0)
    variants = {}
    for kind, blob, name in (("raw", raw, STEMS[0]), ("gz", gz, STEMS[0] + ".gz")):
        variants |= {f"cut_{kind}_{n}": {name: blob[:n]} for n in cuts(blob)}
        variants |= {f"flip_{kind}_{i}": {name: flipped(blob, i)} for i in flips(blob, rng)}
    roots = {name: idx_set(tmp_path / name, rng, files) for name, files in variants.items()}
    results = run_cases(limited, "softmaxkit.datasets.load('mnist', root=_arg, verify=False)", roots)
    assert_refused(results, "DatasetFormatError")
    flipped_data = [name for name in results if name.startswith("flip_gz") and int(name.rsplit("_", 1)[1]) >= 10]
    assert all(results[name][0] == "raised" for name in flipped_data)  # past the gzip header: CRC-32 or deflate


def test_truncated_and_flipped_cifar_batches(limited, tmp_path, rng):
    blob = cifar_batch(rng)
    variants = {f"cut_{n}": blob[:n] for n in cuts(blob)} | {f"flip_{i}": flipped(blob, i) for i in flips(blob, rng)}
    roots = {name: cifar_set(tmp_path / name, rng, data) for name, data in variants.items()}
    assert_refused(run_cases(limited, "softmaxkit.datasets.load('cifar10', root=_arg)", roots), "DatasetFormatError")


def test_truncated_and_flipped_npz_files(limited, tmp_path, rng):
    blobs = {
        "stored": savez(x=rng.integers(0, 256, (4, 1, 4, 4), dtype=np.uint8), y=np.array([0, 1, 1, 0])),
        "deflated": _savez_compressed(x=rng.random((4, 1, 4, 4)), y=np.array([0, 1, 1, 0])),
    }
    files = {}
    for kind, blob in blobs.items():
        files |= {f"cut_{kind}_{n}": blob[:n] for n in cuts(blob)}
        files |= {f"flip_{kind}_{i}": flipped(blob, i) for i in flips(blob, rng, n_random=20)}
    paths = write_all(tmp_path, files, ".npz")
    assert_refused(run_cases(limited, "softmaxkit.datasets.load(_arg)", paths), "DatasetFormatError")


def _savez_compressed(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def test_truncated_and_flipped_npy_and_png_inputs(limited, tmp_path, rng):
    npy = saved(rng.random((2, 1, 4, 4)).astype(np.float32))
    png = png_bytes(rng.integers(0, 256, (32, 32), dtype=np.uint8))
    npy_files = {f"cut_npy_{n}": npy[:n] for n in cuts(npy)} | {
        f"flip_npy_{i}": flipped(npy, i) for i in flips(npy, rng)
    }
    # The end of a PNG (the IEND chunk) is not needed to decode it: cut only inside the data.
    png_files = {f"cut_png_{n}": png[:n] for n in cuts(png, upto=0.75)}
    png_files |= {f"flip_png_{i}": flipped(png, i) for i in flips(png, rng)}
    npy_paths = write_all(tmp_path, npy_files, ".npy")
    png_paths = write_all(tmp_path, png_files, ".png")
    call = "softmaxkit.inputs.load_inputs([_arg], (1, 4, 4))"
    assert_refused(run_cases(limited, call, npy_paths | png_paths), "InputError")


# -- the command line ------------------------------------------------------------------------------


def one_error_line(capsys, status) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_train_on_a_hostile_npz_exits_2_with_one_line_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "BAD.npz"
    np.savez(bad, x=np.zeros((3, 1, 4, 4), np.float32), y=np.array([0, 1, 10**9]))
    line = one_error_line(capsys, main(["train", "--data", str(bad), "--epochs", "1", "--no-progress"]))
    assert "BAD.npz" in line and "labels out of range" in line
    bad.write_bytes(savez(x=np.zeros((3, 1, 4, 4), np.float32), y=np.array([0, 1, 1]))[:-30])
    assert "BAD.npz" in one_error_line(capsys, main(["train", "--data", str(bad), "--epochs", "1", "--no-progress"]))


def test_predict_on_hostile_inputs_exits_2_with_one_line_naming_it(tmp_path, capsys):
    model = tmp_path / "tiny.skm"
    nn.save(nn.architectures.logistic((1, 8, 8), 3, rng=np.random.default_rng(0)), model)
    (tmp_path / "bad.png").write_bytes(png_claiming(100_000, 100_000))
    (tmp_path / "cut.png").write_bytes(png_bytes(np.zeros((32, 32), np.uint8))[:40])
    (tmp_path / "huge.npy").write_bytes(npy_bytes({"descr": "<f4", "fortran_order": False, "shape": (2**40, 64)}))
    for name in ("bad.png", "cut.png", "huge.npy"):
        assert name in one_error_line(capsys, main(["predict", str(model), str(tmp_path / name)]))


def test_a_dataset_format_error_is_a_value_error_naming_the_file(tmp_path):
    # What callers catch without knowing softmaxkit (and what the command line turns into one line).
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz") as info:
        load(tmp_path / "empty.npz")
    assert isinstance(info.value, DatasetFormatError)
