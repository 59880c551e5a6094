"""Hostile model files: each damaged, forged or oversized file is refused with a ModelFileError naming it.

Every hostile load runs in a child interpreter under a memory limit (:func:`run_limited`), several
files per child: a loader that allocated what a file claims would end the child with "memory", not
with the ModelFileError these tests demand. The child also counts the bytes each load reads
(``rchar`` in ``/proc/self/io``), so a refusal must come after a bounded read. Every file is built
here, byte by byte where zipfile or NumPy would refuse to write it; nothing binary is committed.
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.calibration import CalibratedModel, MatrixScaling, TemperatureScaling, VectorScaling, load_model
from softmaxkit.cli import main
from softmaxkit.nn import _archive, _header

MiB = 2**20

# ------------------------------------------------------------------ building files


def npy(array) -> bytes:
    """``array`` as the bytes of a ``.npy`` file."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_claim(shape, descr="<f4") -> bytes:
    """Only a ``.npy`` header declaring ``shape`` and ``descr`` (the data is up to the caller)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def stored(name: str, data: bytes) -> tuple:
    """A zip entry stored as is: ``(name, bytes in the file, method, crc, declared size)``."""
    return (name, data, 0, zlib.crc32(data), len(data))


def raw_zip(path, entries, *, directory_only=()) -> None:
    """Write a zip archive by hand, so that sizes, methods and offsets may lie.

    ``entries`` hold ``(name, bytes in the file, method, crc, declared uncompressed size)``.
    ``directory_only`` holds ``(entry, offset)`` pairs listed in the central directory only, pointing
    at the local header at ``offset`` (another entry's): overlapping members, huge directories.
    """
    body, directory = bytearray(), bytearray()
    listed = []
    for entry in entries:
        name, data, method, crc, size = entry
        encoded = name.encode()
        listed.append((entry, len(body)))
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0)
        body += encoded + data
    for (name, data, method, crc, size), offset in [*listed, *directory_only]:
        encoded = name.encode()
        fields = (20, 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset)
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", *fields) + encoded
    n = len(listed) + len(directory_only)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(directory), len(body), 0)
    path.write_bytes(bytes(body + directory + end))


def model_file(path, header=None, arrays=None, *, text=None) -> None:
    """A model file whose header is ``header`` (or the raw JSON ``text``) beside ``arrays``."""
    text = json.dumps(header) if text is None else text
    members = {"__model__": npy(np.array(text)), **{k: npy(v) for k, v in (arrays or {}).items()}}
    raw_zip(path, [stored(name + ".npy", data) for name, data in members.items()])


def contents(path) -> tuple[dict, dict]:
    """The header and arrays of a file this library wrote (trusted: read with NumPy)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return json.loads(str(arrays.pop("__model__"))), arrays


def changed(header: dict, **changes) -> dict:
    """A copy of ``header`` with keys changed (None values removed)."""
    new = json.loads(json.dumps(header))
    new.update(changes)
    return {k: v for k, v in new.items() if v is not None}


def with_layer(header: dict, i: int, **config) -> dict:
    """A copy of ``header`` whose layer ``i`` has its config changed (a value of ... removes the key)."""
    new = json.loads(json.dumps(header))
    new["layers"][i]["config"].update(config)
    new["layers"][i]["config"] = {k: v for k, v in new["layers"][i]["config"].items() if v is not ...}
    return new


# ------------------------------------------------------------------ the models the hostile files start from


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Files written by softmaxkit, and their headers and arrays."""
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("base")
    net = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    net.class_names = ["a", "b", "c"]
    net.metadata = {
        "dataset": "digits",
        "train_args": {"seed": 3, "val_fraction": 0.1, "epochs": 2},
        "history": {
            "epochs": [
                {
                    "epoch": 1,
                    "train_loss": 1.0,
                    "train_accuracy": 0.5,
                    "val_loss": None,
                    "val_accuracy": None,
                    "lr": 0.1,
                    "seconds": 0.2,
                }
            ],
            "best_epoch": 1,
            "stopped_early": False,
            "interrupted": False,
        },
        "test_accuracy": 0.5,
        "test_nll": 1.0,
    }
    nn.save(net, out / "net.skm")
    x = rng.random((40, 1, 2, 2), dtype=np.float32)
    y = rng.integers(0, 3, 40)
    logits = net.predict_logits(x).astype(np.float64)
    for cls in (TemperatureScaling, VectorScaling, MatrixScaling):
        CalibratedModel(net, cls().fit(logits, y)).save(out / f"{cls.kind}.skm")
    cnn = nn.Sequential(
        [nn.Conv2D(1, 2, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(8, 3, rng=rng)],
        input_shape=(1, 4, 4),
    )
    nn.save(cnn, out / "cnn.skm")
    files = {name: out / f"{name}.skm" for name in ("net", "temperature", "vector", "matrix", "cnn")}
    return {"dir": out, "files": files, **{name: contents(path) for name, path in files.items()}}


# ------------------------------------------------------------------ running hostile loads in a limited child

_CHILD = """
import os, softmaxkit.exceptions

def _rchar():
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])

load = softmaxkit.calibration.load_model  # the network, then any calibrator: everything a file holds
load({warm_up!r})  # any lazy import happens here, not inside a measured load
report, last = [], None
for path in {paths!r}:
    before = _rchar()
    try:
        load(path)
    except softmaxkit.exceptions.ModelFileError as exc:
        report.append([str(exc), _rchar() - before])
        last = exc
    else:
        raise AssertionError(f"{{path}} loaded")
print("@@REPORT@@" + json.dumps(report))
raise last
"""


def refuse_all(limited, paths, warm_up) -> list[tuple[str, int]]:
    """Load each file in one memory-limited child; every one must raise ModelFileError.

    Returns ``(message, bytes read)`` per file. The child ends by re-raising the last error, so its
    outcome must be "raised" with type "ModelFileError" (never "memory" or "died").
    """
    paths = [str(p) for p in paths]
    result = limited(_CHILD.format(paths=paths, warm_up=str(warm_up)))
    assert result.raised("ModelFileError"), (result.outcome, result.type, result.message, result.stderr[-3000:])
    line = next(line for line in result.stdout.splitlines() if line.startswith("@@REPORT@@"))
    report = json.loads(line[len("@@REPORT@@") :])
    assert len(report) == len(paths)
    for path, (message, _) in zip(paths, report):
        assert message.startswith(path + ": ") and "\n" not in message, message
        assert "MemoryError" not in message, message  # refused before allocating, not after failing to
    return [tuple(row) for row in report]


def check_cases(limited, base, cases):
    """Write each ``(id, write(path, base), fragment)`` case, load them all in one child, check each message and read."""
    out = base["dir"] / "cases"
    out.mkdir(exist_ok=True)
    paths = []
    for case_id, write, _ in cases:
        path = out / f"{case_id}.skm"
        write(path, base)
        paths.append(path)
    report = refuse_all(limited, paths, base["files"]["temperature"])
    for (case_id, _, fragment), path, (message, read) in zip(cases, paths, report):
        assert fragment in message, (case_id, message)
        # bounded: the directory budget, then about one pass over the file (plus the OS's read-ahead)
        assert read <= _archive.MAX_DIRECTORY_BYTES + 2 * path.stat().st_size + 2 * MiB, (case_id, read)
    return dict(zip((case[0] for case in cases), report))


def header_case(case_id, name, fragment, **changes):
    """A case: the file ``name`` with header keys changed."""

    def write(path, base):
        header, arrays = base[name]
        model_file(path, changed(header, **changes), arrays)

    return case_id, write, fragment


# ------------------------------------------------------------------ damage: truncation and byte flips


def test_truncations_are_refused(limited, base, tmp_path):
    """Cut at every third byte (and at every one of the last 100): no cut loads."""
    source = base["files"]["temperature"]
    size = source.stat().st_size
    cuts = sorted({*range(0, size, 3), *range(size - 100, size)})
    code = f"""
    data = open({str(source)!r}, "rb").read()
    path = {str(tmp_path / "cut.skm")!r}
    softmaxkit.calibration.load_model({str(source)!r})
    refused = 0
    for n in {cuts!r}:
        with open(path, "wb") as f:
            f.write(data[:n])
        try:
            softmaxkit.calibration.load_model(path)
        except softmaxkit.exceptions.ModelFileError as exc:
            assert str(exc).startswith(path + ": ") and "MemoryError" not in str(exc), str(exc)
            refused += 1
            last = exc
        else:
            raise AssertionError(f"cut at {{n}} loaded")
    print("@@REFUSED@@", refused)
    raise last
    """
    result = limited(code)
    assert result.raised("ModelFileError"), (result.outcome, result.type, result.message)
    assert f"@@REFUSED@@ {len(cuts)}" in result.stdout


def test_byte_flips_are_refused_or_change_nothing(limited, base, tmp_path):
    """A flipped byte is caught (CRC, sizes, names, parsing) or lies in a field that changes nothing.

    1,000 seeded positions of the file's 3 kB, each XORed with a seeded non-zero mask.
    """
    source = base["files"]["vector"]
    code = f"""
    data = open({str(source)!r}, "rb").read()
    path = {str(tmp_path / "flip.skm")!r}
    x = np.random.default_rng(0).random((5, 1, 2, 2), dtype=np.float32)
    expected = softmaxkit.calibration.load_model({str(source)!r}).predict_proba(x)
    rng = np.random.default_rng(1)
    positions = rng.choice(len(data), size=min(1000, len(data)), replace=False)
    counts = {{"refused": 0, "same": 0}}
    for pos, mask in zip(positions.tolist(), rng.integers(1, 256, len(positions)).tolist()):
        flipped = bytearray(data)
        flipped[pos] ^= int(mask)
        with open(path, "wb") as f:
            f.write(flipped)
        try:
            model = softmaxkit.calibration.load_model(path)
        except softmaxkit.exceptions.ModelFileError as exc:
            assert str(exc).startswith(path + ": ") and "MemoryError" not in str(exc), str(exc)
            counts["refused"] += 1
            last = exc
        else:
            assert np.array_equal(model.predict_proba(x), expected), f"flip at {{pos}} changed the model"
            counts["same"] += 1
    print("@@COUNTS@@" + json.dumps(counts))
    raise last
    """
    result = limited(code)
    assert result.raised("ModelFileError"), (result.outcome, result.type, result.message)
    line = next(line for line in result.stdout.splitlines() if line.startswith("@@COUNTS@@"))
    counts = json.loads(line[len("@@COUNTS@@") :])
    assert counts["refused"] + counts["same"] == min(1000, source.stat().st_size)
    assert counts["refused"] > 0.8 * (counts["refused"] + counts["same"])  # most bytes are guarded by a check


# ------------------------------------------------------------------ the archive


def _bomb(path, base):
    """A deflated weight that inflates 1000-fold, from 1.4 MB to 1.4 GiB (the CRC is right)."""
    header, _ = base["net"]
    n_in, n_out, chunk = 983_040, 384, 16 * MiB  # 983,040 x 384 float32 = 90 chunks of 16 MiB
    header = changed(header, input_shape=[n_in], class_names=None)
    header["layers"] = [{"class": "Dense", "config": {"in_features": n_in, "out_features": n_out, "init": "he"}}]
    prefix = npy_claim((n_in, n_out))
    zeros = bytes(chunk)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    piece = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every chunk
    stream = head + piece * 90 + deflate.flush()
    crc = zlib.crc32(prefix)
    for _ in range(90):
        crc = zlib.crc32(zeros, crc)
    entries = [
        stored("__model__.npy", npy(np.array(json.dumps(header)))),
        ("layers.0.weight.npy", stream, 8, crc, len(prefix) + 90 * chunk),
        stored("layers.0.bias.npy", npy(np.zeros(n_out, np.float32))),
    ]
    raw_zip(path, entries)


def _inflates_beyond_the_cap(path, base):
    """Within the ratio (90x) but beyond the total a compressed file may inflate to."""
    header, arrays = base["net"]
    data = np.random.default_rng(0).bytes(MiB)
    entries = [stored("__model__.npy", npy(np.array(json.dumps(header))))]
    entries.append(("layers.1.weight.npy", data, 8, 0, 90 * MiB))
    entries.append(stored("layers.1.bias.npy", npy(arrays["layers.1.bias"])))
    raw_zip(path, entries)


def _npy_claims_terabytes(path, base):
    header, _ = base["net"]
    header = changed(header, input_shape=[1, 1000, 1000], class_names=None)
    header["layers"][1]["config"].update(in_features=10**6, out_features=10**6)
    entries = [stored("__model__.npy", npy(np.array(json.dumps(header))))]
    entries.append(stored("layers.1.weight.npy", npy_claim((10**6, 10**6)) + bytes(48)))  # 4 TB claimed
    entries.append(stored("layers.1.bias.npy", npy(np.zeros(10**6, np.float32)[:3])))
    raw_zip(path, entries)


def _header_claims_100_million_characters(path, base):
    entries = [stored("__model__.npy", npy_claim((), descr="<U100000000") + b"{}")]
    raw_zip(path, entries)


def _npy_header_length_4gib(path, base):
    header, _ = base["net"]
    forged = b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1) + b"{" * 64
    entries = [stored("__model__.npy", npy(np.array(json.dumps(header)))), stored("layers.1.weight.npy", forged)]
    raw_zip(path, entries)


def _npy_version_3(path, base):
    header, _ = base["net"]
    data = bytearray(npy(np.array(json.dumps(header))))
    data[6] = 3
    raw_zip(path, [stored("__model__.npy", bytes(data))])


def _object_header(path, base):
    data = npy_claim((1,), descr="|O") + b"\x80\x04N."  # a pickle, never to be loaded
    raw_zip(path, [stored("__model__.npy", data)])


def _huge_directory(path, base):
    """25,000 directory entries (6 MB of directory) all pointing at one local header."""
    names = [f"layers.{i}.{'w' * 200}.npy" for i in range(25_000)]
    raw_zip(path, [stored(names[0], b"")], directory_only=[(stored(name, b""), 0) for name in names[1:]])


def _overlapping_members(path, base):
    """Directory entries that all claim the same 1 MiB of stored data (a multiplying zip)."""
    header, _ = base["net"]
    big = npy(np.zeros(MiB // 4, np.float32))
    entries = [stored("__model__.npy", npy(np.array(json.dumps(header)))), stored("layers.1.weight.npy", big)]
    offset = 30 + len("__model__.npy") + len(entries[0][1])
    raw_zip(path, entries, directory_only=[(stored(f"layers.{i}.bias.npy", big), offset) for i in range(3)])


def _encrypted(path, base):
    header, _ = base["net"]
    name, data, method, crc, size = stored("__model__.npy", npy(np.array(json.dumps(header))))
    raw_zip(path, [(name, data, method, crc, size)])
    raw = bytearray(path.read_bytes())
    directory = raw.rindex(b"PK\x01\x02")
    raw[directory + 8] |= 1  # the encryption flag in the directory entry
    path.write_bytes(bytes(raw))


def _bzip2(path, base):
    header, _ = base["net"]
    name, data, _, crc, size = stored("__model__.npy", npy(np.array(json.dumps(header))))
    raw_zip(path, [(name, data, 12, crc, size)])


def _duplicate_member(path, base):
    header, arrays = base["net"]
    entries = [stored("__model__.npy", npy(np.array(json.dumps(header))))]
    entries += [stored(f"{k}.npy", npy(v)) for k, v in arrays.items()]
    entries.append(stored("layers.1.bias.npy", npy(arrays["layers.1.bias"])))
    raw_zip(path, entries)


def _odd_member_name(path, base):
    header, _ = base["net"]
    entries = [stored("__model__.npy", npy(np.array(json.dumps(header)))), stored("../evil.txt", b"x")]
    raw_zip(path, entries)


def _stored_size_lies(path, base):
    header, _ = base["net"]
    name, data, method, crc, _ = stored("__model__.npy", npy(np.array(json.dumps(header))))
    raw_zip(path, [(name, data, method, crc, 10**9)])


def _too_many_members(path, base):
    names = [f"m{i}.npy" for i in range(_archive.MAX_MEMBERS + 1)]
    raw_zip(path, [stored(names[0], b"")], directory_only=[(stored(name, b""), 0) for name in names[1:]])


def _big_array_of_the_wrong_shape(path, base):
    """32 MiB of weights the header does not declare: refused from the .npy header alone."""
    header, arrays = base["net"]
    model_file(path, header, {**arrays, "layers.1.weight": np.zeros((8 * MiB, 1), np.float32)})


def _single_npy(path, base):
    path.write_bytes(npy(np.arange(3)))


def _not_a_zip(path, base):
    path.write_bytes(np.random.default_rng(0).bytes(3000))


def _zip_of_text(path, base):
    raw_zip(path, [stored("readme.txt", b"hello")])


ARCHIVE_CASES = [
    ("bomb", _bomb, "more than 100 times"),
    ("inflated-cap", _inflates_beyond_the_cap, f"inflate to more than {_archive.MAX_INFLATED_BYTES} bytes"),
    ("npy-terabytes", _npy_claims_terabytes, "declares shape (1000000, 1000000) of float32"),
    ("header-100m", _header_claims_100_million_characters, "'__model__' declares shape ()"),
    ("npy-header-4gib", _npy_header_length_4gib, ".npy header of 4294967295 bytes"),
    ("npy-version-3", _npy_version_3, ".npy format version (3, 0)"),
    ("object-dtype", _object_header, "never unpickled"),
    ("huge-directory", _huge_directory, "zip directory of more than"),
    ("overlap", _overlapping_members, "overlap"),
    ("encrypted", _encrypted, "encrypted"),
    ("bzip2", _bzip2, "unsupported compression (12)"),
    ("duplicate", _duplicate_member, "stored twice"),
    ("odd-name", _odd_member_name, "unexpected arrays"),
    ("stored-size-lies", _stored_size_lies, "declares 1000000000 bytes"),
    ("too-many-members", _too_many_members, f"at most {_archive.MAX_MEMBERS}"),
    ("big-wrong-shape", _big_array_of_the_wrong_shape, "expected shape (4, 3) floating"),
    ("single-npy", _single_npy, "a single .npy array"),
    ("not-a-zip", _not_a_zip, "not a readable"),
    ("zip-of-text", _zip_of_text, "unexpected arrays"),
]


def test_forged_archives_are_refused_before_their_data_is_read(limited, base):
    report = check_cases(limited, base, ARCHIVE_CASES)
    for case_id in ("bomb", "inflated-cap", "npy-terabytes", "header-100m", "huge-directory", "big-wrong-shape"):
        assert report[case_id][1] < 256 * 1024, (case_id, report[case_id])  # headers only, never the data


# ------------------------------------------------------------------ the JSON header and the layers

_DEEP = "[" * 200_000 + "]" * 200_000
_HUGE_INT = "1" + "0" * 5000


def _text_case(case_id, fragment, make_text, name="net"):
    def write(path, base):
        header, arrays = base[name]
        model_file(path, arrays=arrays, text=make_text(json.dumps(header)))

    return case_id, write, fragment


def _layers_case(case_id, fragment, layers, name="net", arrays=None, **changes):
    def write(path, base):
        header, base_arrays = base[name]
        model_file(path, changed(header, layers=layers, **changes), base_arrays if arrays is None else arrays)

    return case_id, write, fragment


def _config_case(case_id, fragment, i, name="net", **config):
    def write(path, base):
        header, arrays = base[name]
        model_file(path, with_layer(header, i, **config), arrays)

    return case_id, write, fragment


_DENSE = {"in_features": 4, "out_features": 3, "init": "he"}

HEADER_CASES = [
    _text_case("not-json", "corrupt model header", lambda t: t[:-10]),
    _text_case("json-list", "not an object", lambda t: "[1, 2]"),
    _text_case("deep-metadata", "nested more than 64 deep", lambda t: t[:-1] + ', "metadata": ' + _DEEP + "}"),
    _text_case(
        "deep-extra",
        "nested more than 64 deep",
        lambda t: t[:-1] + ', "notes": ' + '{"a":' * 99_999 + "1" + "}" * 100_000,
    ),
    _text_case("huge-int-version", "Exceeds the limit", lambda t: t.replace('"version": 1', f'"version": {_HUGE_INT}')),
    _text_case("huge-int-metadata", "Exceeds the limit", lambda t: t[:-1] + f', "notes": {_HUGE_INT}}}'),
    _text_case(
        "huge-int-config", "Exceeds the limit", lambda t: t.replace('"in_features": 4', f'"in_features": {_HUGE_INT}')
    ),
    header_case("format-int", "net", "format 1", format=1),
    header_case("format-list", "net", "format ['softmaxkit-model']", format=["softmaxkit-model"]),
    header_case("format-other", "net", "format 'other'", format="other"),
    header_case("version-str", "net", "version '1'", version="1"),
    header_case("version-float", "net", "version 1.0", version=1.0),
    header_case("version-bool", "net", "version True", version=True),
    header_case("version-2", "net", "version 2", version=2),
    header_case("dtype-float16", "net", "dtype must be", dtype="float16"),
    header_case("dtype-int", "net", "dtype must be", dtype=32),
    header_case("dtype-list", "net", "dtype must be", dtype=["float32"]),
    header_case("layers-str", "net", "'layers' must be a list", layers="Dense"),
    header_case("layers-dict", "net", "'layers' must be a list", layers={"0": "Dense"}),
    _layers_case("spec-list", "layer 0 must be an object", [["Flatten", {}], {"class": "Dense", "config": _DENSE}]),
    _layers_case(
        "spec-no-config", "layer 0 must be an object", [{"class": "Flatten"}, {"class": "Dense", "config": _DENSE}]
    ),
    _layers_case(
        "spec-extra-key",
        "layer 0 must be an object",
        [{"class": "Flatten", "config": {}, "rng": 1}, {"class": "Dense", "config": _DENSE}],
    ),
    _layers_case(
        "class-unknown", "unknown type 'Evil'", [{"class": "Evil", "config": {}}, {"class": "Dense", "config": _DENSE}]
    ),
    _layers_case("class-int", "unknown type 3", [{"class": 3, "config": {}}, {"class": "Dense", "config": _DENSE}]),
    _layers_case(
        "class-list",
        "unknown type ['Dense']",
        [{"class": ["Dense"], "config": {}}, {"class": "Dense", "config": _DENSE}],
    ),
    _layers_case(
        "config-list",
        "config must be an object",
        [{"class": "Flatten", "config": []}, {"class": "Dense", "config": _DENSE}],
    ),
    _layers_case(
        "config-flatten-key",
        "config has keys ['x']",
        [{"class": "Flatten", "config": {"x": 1}}, {"class": "Dense", "config": _DENSE}],
    ),
    _config_case("config-unknown-key", "config has keys", 1, rng=1),
    _config_case("config-missing-key", "config has keys", 1, out_features=...),
    _config_case("in-features-str", "in_features must be an integer", 1, in_features="4"),
    _config_case("in-features-float", "in_features must be an integer", 1, in_features=4.0),
    _config_case("in-features-bool", "in_features must be an integer", 1, in_features=True),
    _config_case("in-features-zero", "in_features must be an integer in [1", 1, in_features=0),
    _config_case("in-features-negative", "in_features must be an integer in [1", 1, in_features=-3),
    _config_case("in-features-1e40", "in_features must be an integer in [1", 1, in_features=10**40),
    _config_case("init-unknown", "init must be one of", 1, init="zeros"),
    _config_case("init-int", "init must be one of", 1, init=3),
    _config_case("dense-1e7-squared", "expected shape (10000000, 10000000)", 1, in_features=10**7, out_features=10**7),
    _layers_case(
        "100000-layers",
        "100001 layers, more than 4096",
        [{"class": "ReLU", "config": {}}] * 100_000 + [{"class": "Dense", "config": _DENSE}],
    ),
    _config_case("conv-kernel-zero", "kernel_size must be an integer >= 1", 0, name="cnn", kernel_size=0),
    _config_case("conv-kernel-str", "kernel_size must be an integer >= 1", 0, name="cnn", kernel_size="3"),
    _config_case("conv-kernel-triple", "kernel_size must be an integer >= 1", 0, name="cnn", kernel_size=[3, 3, 3]),
    _config_case("conv-kernel-1e9", "expected shape (2, 1, 1000000000, 1000000000)", 0, name="cnn", kernel_size=10**9),
    _config_case("conv-stride-zero", "stride must be an integer >= 1", 0, name="cnn", stride=0),
    _config_case("conv-stride-huge", "stride must be at most 1024", 0, name="cnn", stride=5000),
    _config_case("conv-padding-negative", "padding must be an integer >= 0", 0, name="cnn", padding=-1),
    _config_case("conv-padding-wide", "must be smaller than kernel_size", 0, name="cnn", padding=10**6),
    _config_case("conv-channels-str", "in_channels must be an integer", 0, name="cnn", in_channels="1"),
    _config_case("conv-channels-huge", "expected shape (2, 100000, 3, 3)", 0, name="cnn", in_channels=100_000),
    _config_case("pool-kernel-zero", "kernel_size must be an integer >= 1", 2, name="cnn", kernel_size=0),
    _config_case("pool-kernel-triple", "kernel_size must be an integer >= 1", 2, name="cnn", kernel_size=[2, 2, 2]),
    _config_case("pool-kernel-huge", "kernel_size must be at most 1024", 2, name="cnn", kernel_size=10**9),
    _config_case("pool-stride-str", "stride must be an integer >= 1", 2, name="cnn", stride="2"),
    _layers_case(
        "dropout-one",
        "p must be",
        [
            {"class": "Flatten", "config": {}},
            {"class": "Dense", "config": _DENSE},
            {"class": "Dropout", "config": {"p": 1.0}},
        ],
    ),
    _layers_case(
        "dropout-str",
        "p must be",
        [
            {"class": "Flatten", "config": {}},
            {"class": "Dense", "config": _DENSE},
            {"class": "Dropout", "config": {"p": "0.5"}},
        ],
    ),
    _layers_case(
        "dropout-null",
        "p must be",
        [
            {"class": "Flatten", "config": {}},
            {"class": "Dense", "config": _DENSE},
            {"class": "Dropout", "config": {"p": None}},
        ],
    ),
    _layers_case(
        "activations-per-sample",
        f"needs more than {_header.MAX_SAMPLE_ELEMENTS} elements per sample",
        [{"class": "Conv2D", "config": {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1}}],
        name="cnn",
        arrays={"layers.0.weight": np.zeros((2, 1, 3, 3), np.float32), "layers.0.bias": np.zeros(2, np.float32)},
        input_shape=[1, 4096, 4096],
    ),
    header_case(
        "input-shape-1e12",
        "net",
        f"more than {_header.MAX_SAMPLE_ELEMENTS} elements per sample",
        input_shape=[1, 10**6, 10**6],
    ),
    header_case("input-shape-negative", "net", "input_shape must be", input_shape=[-1, 2, 2]),
    header_case("input-shape-str", "net", "input_shape must be", input_shape="1x2x2"),
    header_case("input-shape-float", "net", "input_shape must be", input_shape=[1.0, 2, 2]),
    header_case("input-shape-bool", "net", "input_shape must be", input_shape=[True, 2, 2]),
    header_case("input-shape-empty", "net", "input_shape must be", input_shape=[]),
    header_case("input-shape-9-dims", "net", "input_shape must be", input_shape=[1] * 9),
    header_case("input-shape-mismatch", "net", "inconsistent model header", input_shape=[1, 3, 3]),
    header_case("class-names-str", "net", "class_names must be", class_names="abc"),
    header_case("class-names-ints", "net", "class_names must be", class_names=[1, 2, 3]),
    header_case("class-names-empty", "net", "class_names must be", class_names=[]),
    header_case("class-names-long", "net", "longer than 256", class_names=["a" * 1000, "b", "c"]),
    header_case("class-names-count", "net", "2 class names", class_names=["a", "b"]),
]


def test_hostile_headers_and_layers_are_refused(limited, base):
    check_cases(limited, base, HEADER_CASES)


def _metadata(case_id, fragment, **fields):
    def write(path, base):
        header, arrays = base["net"]
        metadata = json.loads(json.dumps(header["metadata"]))
        for key, value in fields.items():
            target, *rest = key.split("__")
            if rest:  # train_args__seed -> metadata["train_args"]["seed"]
                metadata[target][rest[0]] = value
            else:
                metadata[target] = value
        model_file(path, changed(header, metadata=metadata), arrays)

    return case_id, write, fragment


def _history_row(**values):
    return [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": None, "val_accuracy": None} | values]


METADATA_CASES = [
    header_case("metadata-list", "net", "metadata must be a JSON object", metadata=[1]),
    header_case("metadata-str", "net", "metadata must be a JSON object", metadata="x"),
    _metadata("dataset-int", "metadata['dataset'] must be a string", dataset=3),
    _metadata("dataset-list", "metadata['dataset'] must be a string", dataset=["digits"]),
    _metadata("train-args-list", "metadata['train_args'] must be an object", train_args=[1]),
    _metadata("seed-str", "['seed'] must be an integer >= 0", train_args__seed="0"),
    _metadata("seed-negative", "['seed'] must be an integer >= 0", train_args__seed=-1),
    _metadata("seed-float", "['seed'] must be an integer >= 0", train_args__seed=1.5),
    _metadata("seed-bool", "['seed'] must be an integer >= 0", train_args__seed=True),
    _metadata("seed-null", "['seed'] must be an integer >= 0", train_args__seed=None),
    _metadata("fraction-one", "['val_fraction'] must be a number in [0, 1)", train_args__val_fraction=1.0),
    _metadata("fraction-negative", "['val_fraction'] must be a number in [0, 1)", train_args__val_fraction=-0.1),
    _metadata("fraction-str", "['val_fraction'] must be a number in [0, 1)", train_args__val_fraction="0.1"),
    _metadata("fraction-bool", "['val_fraction'] must be a number in [0, 1)", train_args__val_fraction=True),
    _metadata("fraction-nan", "['val_fraction'] must be a number in [0, 1)", train_args__val_fraction=float("nan")),
    _metadata("history-list", "metadata['history'] must be an object", history=[]),
    _metadata("epochs-dict", "['epochs'] must be a list", history__epochs={"a": 1}),
    _metadata("epochs-row-int", "['epochs'][0] must be an object", history__epochs=[1]),
    _metadata("epochs-row-short", "['epochs'][0] must be an object", history__epochs=[{"epoch": 1}]),
    _metadata(
        "epochs-value-str",
        "['epochs'][0]['train_loss'] must be a number",
        history__epochs=_history_row(train_loss="low"),
    ),
    _metadata(
        "epochs-epoch-float", "['epochs'][0]['epoch'] must be an integer", history__epochs=_history_row(epoch=1.5)
    ),
    _metadata("best-epoch-str", "['best_epoch'] must be an epoch number", history__best_epoch="x"),
    _metadata("best-epoch-beyond", "['best_epoch'] must be an epoch number", history__best_epoch=5),
    _metadata("stopped-early-int", "['stopped_early'] must be true or false", history__stopped_early=1),
    _metadata("test-accuracy-str", "metadata['test_accuracy'] must be a number", test_accuracy="high"),
    _metadata("test-nll-list", "metadata['test_nll'] must be a number", test_nll=[1]),
    _metadata("test-nll-bool", "metadata['test_nll'] must be a number", test_nll=True),
]


def test_metadata_the_library_reads_is_checked_at_load(limited, base):
    check_cases(limited, base, METADATA_CASES)


# ------------------------------------------------------------------ the calibrator


def _calibration(case_id, fragment, name="temperature", path=(), value=None, remove=False, **header_changes):
    """The calibrated file ``name`` with ``calibration[path...]`` set to ``value`` (or removed)."""

    def write(file, base):
        header, arrays = base[name]
        header = changed(header, **header_changes)
        if path:
            target = header["calibration"]
            for key in path[:-1]:
                target = target[key]
            if remove:
                del target[path[-1]]
            else:
                target[path[-1]] = value
        model_file(file, header, arrays)

    return case_id, write, fragment


def _calibrated_without_input_shape(file, base):
    header, arrays = base["temperature"]
    header = changed(header, input_shape=None)
    header["calibration"]["fitted"]["n_classes"] = 7
    model_file(file, header, arrays)


def _calibrated_convolution(file, base):
    """A calibrator on a network whose output is a feature map, not one row of logits."""
    header, _ = base["temperature"]
    conv = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1}
    header = changed(header, layers=[{"class": "Conv2D", "config": conv}], class_names=None)
    arrays = {"layers.0.weight": np.zeros((2, 1, 3, 3), np.float32), "layers.0.bias": np.zeros(2, np.float32)}
    model_file(file, header, arrays)


CALIBRATION_CASES = [
    header_case("calibration-list", "temperature", "'calibration' must be an object", calibration=[1]),
    header_case("calibration-str", "temperature", "'calibration' must be an object", calibration="temperature"),
    _calibration("kind-unknown", "d['kind'] must be one of", path=("kind",), value="isotonic"),
    _calibration("kind-list", "d['kind'] must be one of", path=("kind",), value=["temperature"]),
    _calibration("missing-params", "missing key(s) ['params']", path=("params",), remove=True),
    _calibration("unknown-key", "unknown key(s) ['extra']", path=("extra",), value=1),
    _calibration("params-list", "d['params'] must be a dict", path=("params",), value=[1]),
    _calibration("bounds-str", "bounds must be a pair", path=("params", "bounds"), value="ab"),
    _calibration("bounds-zero", "bounds must satisfy 0 < t_min", path=("params", "bounds"), value=[0, 1]),
    _calibration("bounds-str-item", "bounds must hold two real numbers", path=("params", "bounds"), value=[1, "x"]),
    _calibration("params-unknown", "bad params", path=("params", "evil"), value=1),
    _calibration("max-iter-str", "max_iter must be an integer", name="vector", path=("params", "max_iter"), value="9"),
    _calibration("reg-negative", "reg must be a finite number >= 0", name="matrix", path=("params", "reg"), value=-1),
    _calibration(
        "inputs-unknown", "inputs must be one of 'logits' | 'probabilities'", path=("params", "inputs"), value="p"
    ),
    _calibration("inputs-list", "inputs must be one of", name="vector", path=("params", "inputs"), value=["logits"]),
    _calibration("inputs-long", "inputs must be one of", name="matrix", path=("params", "inputs"), value="x" * 10**6),
    _calibration(
        "inputs-probabilities",
        "takes inputs='probabilities', but a CalibratedModel feeds it the network's logits",
        path=("params", "inputs"),
        value="probabilities",
    ),
    _calibration("fitted-str", "d['fitted'] must be a dict", path=("fitted",), value="x"),
    _calibration("fitted-missing", "missing key(s) ['temperature']", path=("fitted", "temperature"), remove=True),
    _calibration("fitted-unknown", "unknown key(s) ['n_iter']", path=("fitted", "n_iter"), value=3),
    _calibration("temperature-str", "must be a number", path=("fitted", "temperature"), value="2"),
    _calibration("temperature-list", "must be a number", path=("fitted", "temperature"), value=[2.0]),
    _calibration("temperature-bool", "must be a number", path=("fitted", "temperature"), value=True),
    _calibration("temperature-nan", "temperature must be finite", path=("fitted", "temperature"), value=float("nan")),
    _calibration("temperature-inf", "temperature must be finite", path=("fitted", "temperature"), value=float("inf")),
    _calibration("temperature-negative", "temperature must be positive", path=("fitted", "temperature"), value=-1.0),
    _calibration("temperature-zero", "temperature must be positive", path=("fitted", "temperature"), value=0),
    _calibration("n-classes-str", "n_classes'] must be a positive integer", path=("fitted", "n_classes"), value="3"),
    _calibration("n-classes-float", "n_classes'] must be a positive integer", path=("fitted", "n_classes"), value=3.0),
    _calibration("n-classes-bool", "n_classes'] must be a positive integer", path=("fitted", "n_classes"), value=True),
    _calibration("n-classes-zero", "n_classes'] must be a positive integer", path=("fitted", "n_classes"), value=0),
    _calibration(
        "n-classes-other", "fitted on 7 classes, but the network outputs 3", path=("fitted", "n_classes"), value=7
    ),
    _calibration("n-classes-1e40", "but the network outputs 3", path=("fitted", "n_classes"), value=10**40),
    ("n-classes-no-input-shape", _calibrated_without_input_shape, "fitted on 7 classes, but the network outputs 3"),
    ("output-not-logits", _calibrated_convolution, "the model outputs shape (2, 2, 2)"),
    _calibration("nll-str", "['nll_before'] must be a number", path=("fitted", "nll_before"), value="x"),
    _calibration(
        "scale-short", "scale and bias must have shape (3,)", name="vector", path=("fitted", "scale"), value=[1, 2]
    ),
    _calibration(
        "scale-nan", "scale must be finite", name="vector", path=("fitted", "scale"), value=[1, float("nan"), 1]
    ),
    _calibration(
        "scale-str", "must be a 1-D list of numbers", name="vector", path=("fitted", "scale"), value=["1", "1", "1"]
    ),
    _calibration(
        "scale-2d", "must be a 1-D list of numbers", name="vector", path=("fitted", "scale"), value=[[1, 1, 1]]
    ),
    _calibration("scale-scalar", "must be a 1-D list of numbers", name="vector", path=("fitted", "scale"), value=2.0),
    _calibration(
        "weight-ragged",
        "not a rectangular array",
        name="matrix",
        path=("fitted", "weight"),
        value=[[1, 0, 0], [0, 1], [0]],
    ),
    _calibration(
        "weight-shape",
        "weight must have shape (3, 3)",
        name="matrix",
        path=("fitted", "weight"),
        value=[[1, 0], [0, 1]],
    ),
    _calibration(
        "weight-inf",
        "weight must be finite",
        name="matrix",
        path=("fitted", "weight"),
        value=[[1, 0, 0], [0, float("inf"), 0], [0, 0, 1]],
    ),
    _calibration(
        "bias-1d-of-lists",
        "must be a 1-D list of numbers",
        name="matrix",
        path=("fitted", "bias"),
        value=[[0], [0], [0]],
    ),
    header_case("legacy-temperature-str", "net", "'temperature' must be a number", temperature="2.0"),
    header_case("legacy-temperature-bool", "net", "'temperature' must be a number", temperature=True),
    header_case("legacy-temperature-list", "net", "'temperature' must be a number", temperature=[2.0]),
    header_case("legacy-temperature-nan", "net", "temperature must be finite", temperature=float("nan")),
    header_case("legacy-temperature-negative", "net", "temperature must be positive", temperature=-1.0),
]


def test_malformed_or_mismatched_calibrators_are_refused(limited, base):
    check_cases(limited, base, CALIBRATION_CASES)


# ------------------------------------------------------------------ non-finite weights


def _weights(case_id, fragment, name="net", dtype=None, **arrays):
    def write(path, base):
        header, base_arrays = base[name]
        header = changed(header, dtype=dtype) if dtype else header
        model_file(path, header, {**base_arrays, **arrays})

    return case_id, write, fragment


NONFINITE_CASES = [
    _weights(
        "weight-nan", "array 'layers.1.weight' holds NaN", **{"layers.1.weight": np.full((4, 3), np.nan, np.float32)}
    ),
    _weights(
        "bias-inf",
        "array 'layers.1.bias' holds NaN or infinite",
        **{"layers.1.bias": np.array([0, np.inf, 0], np.float32)},
    ),
    _weights(
        "bias-minus-inf",
        "array 'layers.1.bias' holds NaN or infinite",
        **{"layers.1.bias": np.array([0, 0, -np.inf], np.float32)},
    ),
    _weights(
        "overflow-on-cast", "array 'layers.1.bias' holds NaN or infinite", **{"layers.1.bias": np.array([0, 1e300, 0])}
    ),
    _weights(
        "float64-nan",
        "array 'layers.1.weight' holds NaN",
        dtype="float64",
        **{"layers.1.weight": np.full((4, 3), np.nan)},
    ),
    _weights(
        "calibrated-nan",
        "array 'layers.1.weight' holds NaN",
        name="matrix",
        **{"layers.1.weight": np.full((4, 3), np.nan, np.float32)},
    ),
    _weights(
        "conv-nan",
        "array 'layers.0.weight' holds NaN",
        name="cnn",
        **{"layers.0.weight": np.full((2, 1, 3, 3), np.nan, np.float32)},
    ),
    _weights("int-weights", "expected shape (4, 3) floating", **{"layers.1.weight": np.ones((4, 3), np.int32)}),
]


def test_non_finite_weights_are_refused_naming_the_array(limited, base):
    check_cases(limited, base, NONFINITE_CASES)


# ------------------------------------------------------------------ what still loads


def test_files_softmaxkit_writes_still_load_identically(base, tmp_path):
    """The hand-written files of these tests are byte-for-byte model files: rebuilt, they load as written."""
    x = np.random.default_rng(0).random((3, 1, 2, 2), dtype=np.float32)
    for name in ("net", "temperature", "vector", "matrix"):
        header, arrays = base[name]
        model_file(tmp_path / f"{name}.skm", header, arrays)
        ours, theirs = load_model(tmp_path / f"{name}.skm"), load_model(base["files"][name])
        np.testing.assert_array_equal(ours.predict_proba(x), theirs.predict_proba(x))
        assert ours.metadata == theirs.metadata and ours.class_names == theirs.class_names


def test_repacked_files_still_load(base, tmp_path):
    """Compressed (np.savez_compressed), Fortran-order and big-endian arrays are read and cast as before."""
    x = np.random.default_rng(0).random((3, 1, 4, 4), dtype=np.float32)
    expected = nn.load(base["files"]["cnn"]).predict_logits(x)
    header, arrays = base["cnn"]
    np.savez_compressed(tmp_path / "deflated.npz", __model__=np.array(json.dumps(header)), **arrays)
    odd = {k: np.asfortranarray(v).astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    model_file(tmp_path / "odd.skm", header, odd)
    for name in ("deflated.npz", "odd.skm"):
        np.testing.assert_array_equal(nn.load(tmp_path / name).predict_logits(x), expected)


def test_the_writer_refuses_what_the_reader_would(tmp_path):
    model = nn.architectures.logistic((1, 2, 2), 3, rng=np.random.default_rng(0))
    model.metadata["deep"] = json.loads("[" * 70 + "]" * 70)
    with pytest.raises(ValueError, match="nested more than 64 deep"):
        nn.save(model, tmp_path / "deep.skm")
    model.metadata["deep"] = None
    many = nn.Sequential([nn.ReLU()] * (nn._format.MAX_LAYERS + 1))
    with pytest.raises(ValueError, match="at most 4096 layers"):
        nn.save(many, tmp_path / "many.skm")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize(
    "write",
    [
        lambda path, base: model_file(
            path, *_with(base["net"], **{"layers.1.weight": np.full((4, 3), np.nan, np.float32)})
        ),
        lambda path, base: model_file(
            path, arrays=base["net"][1], text='{"format": "softmaxkit-model", "m": ' + _DEEP + "}"
        ),
        lambda path, base: model_file(
            path, changed(base["temperature"][0], calibration={"kind": "isotonic"}), base["temperature"][1]
        ),
        lambda path, base: path.write_bytes(base["files"]["net"].read_bytes()[:500]),
    ],
    ids=["nan-weights", "deep-json", "bad-calibration", "truncated"],
)
def test_the_command_line_says_one_line_naming_the_file(base, tmp_path, capsys, write):
    bad = tmp_path / "BAD.skm"
    write(bad, base)
    batch = tmp_path / "x.npy"
    np.save(batch, np.zeros((2, 1, 2, 2), np.float32))
    for argv in (["evaluate", str(bad), "--data", "digits"], ["predict", str(bad), str(batch)]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in captured.err, captured.err
        assert captured.out == ""


def _with(content, **arrays):
    header, base_arrays = content
    return header, {**base_arrays, **arrays}
