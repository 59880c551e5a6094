"""Scoring data too large for memory: inputs opened lazily as Dask arrays, probabilities written to Zarr.

What ``softmaxkit score`` and the out-of-core ``evaluate`` and ``calibrate`` run on (Dask, distributed
and zarr are the ``dask`` extra). Nothing here reads a whole input: a ``.npy`` file is memory-mapped
only to check its header and is then read one block of rows at a time, inside the task that scores
those rows.

- :func:`open_inputs` opens a model's inputs (a ``.npy`` file, a Zarr array or a group holding one,
  or a folder of ``.npy`` files concatenated in name order) as a :class:`LazyInputs`: a Dask array of
  the stored values chunked by rows, checked against the model's input shape and the pixel scaling
  rule of :func:`softmaxkit.datasets.scale_pixels` before any work is done. :func:`open_array` opens
  labels or logits the same way.
- :func:`score_to_zarr` writes ``probabilities`` ``(n, n_classes)`` float32 and ``labels`` ``(n,)``
  int64 to a Zarr group, block by block. Output chunks are the input blocks, so each task writes
  whole chunks that no other task touches, then sets its block's flag in ``blocks_done``. A rerun
  on the same model, input and chunking skips the flagged blocks; an interrupted block is never
  flagged, so it is recomputed.
- :func:`lazy_logits` is the model's (calibrated) logits as a Dask array;
  :func:`evaluate_out_of_core` computes the scores ``softmaxkit evaluate`` prints from them with
  :mod:`softmaxkit.metrics`, after one pass of the model.
- :func:`connect` is a ``distributed.Client`` for a scheduler address, or the local threaded
  scheduler without one.

A worker of a distributed cluster reads the input and writes the output itself: both paths must be
visible to every worker (a shared file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from ._dask import import_dask
from .calibration import CalibratedModel
from .datasets import scale_pixels
from .exceptions import DatasetFormatError, InputError
from .kernels import softmax
from .metrics import accuracy, brier_score, calibration_error, confusion_matrix, nll

__all__ = [
    "LazyInputs",
    "open_inputs",
    "open_array",
    "default_chunk_rows",
    "lazy_logits",
    "score_to_zarr",
    "ScoreResult",
    "finished_blocks",
    "evaluate_out_of_core",
    "connect",
    "BLOCK_BYTES",
    "CONNECT_TIMEOUT",
]

#: Stored bytes of input per block when no chunk size is given (the input's own dtype, before scaling).
#: A local run holds about two blocks per thread (one being scored, the next one read); with 32 MiB a
#: process scoring MNIST-sized rows on two threads peaks near 340 MiB, 64 MiB blocks near 460 MiB.
BLOCK_BYTES = 32 * 2**20

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10.0

#: Rows per forward pass inside a block: scaling to float32 happens this many rows at a time, so a
#: task holds its block as stored plus one small batch of float32 values.
_BATCH_ROWS = 1024

#: Marks a Zarr group (v3) or array/group (v2) on disk.
_ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")


# ----------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class LazyInputs:
    """A model's inputs as a Dask array of stored values, chunked by rows only.

    Attributes
    ----------
    x : dask.array.Array of shape (n, ...)
        The stored values (any dtype :func:`~softmaxkit.datasets.scale_pixels` accepts); each row
        has as many values as the model's input.
    input_shape : tuple of int
        The model's input shape; each row is reshaped to it after scaling.
    source : str
        The path given, for messages.
    description : dict
        JSON-ready identity of the input (kind, resolved path(s), shape, dtype, and file sizes and
        modification times): part of an output's fingerprint.
    scaling : str
        How stored values become float32 (:func:`~softmaxkit.datasets.scale_pixels`'s rule).
    """

    x: object = field(repr=False)
    input_shape: tuple
    source: str
    description: dict = field(repr=False)
    scaling: str

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def chunk_rows(self) -> int:
        return int(self.x.chunks[0][0])

    @property
    def n_blocks(self) -> int:
        return int(self.x.numblocks[0])


class _NpyRows:
    """Rows of a ``.npy`` file read on demand: a picklable stand-in for the array (it holds the path only).

    Each read maps the file again and copies the rows asked for, so a Dask task anywhere (a thread,
    or a worker process that sees the same file system) reads just its block.
    """

    def __init__(self, path: str, shape: tuple, dtype: np.dtype, offset: int, fortran: bool):
        self.path, self.shape, self.dtype, self.ndim = path, shape, dtype, len(shape)
        self._offset, self._fortran = offset, fortran

    def __getitem__(self, index):
        rows = self._whole_rows(index)
        if rows is None:  # another selection: through a memory map
            return np.array(np.load(self.path, mmap_mode="r", allow_pickle=False)[index])
        # Consecutive whole rows of a C-order file: one read into the array returned (a memory map
        # would also count the file's pages in this process's resident memory while they are copied).
        start, stop = rows
        out = np.empty((stop - start, *self.shape[1:]), self.dtype)
        if out.size == 0:
            return out
        with open(self.path, "rb") as f:
            f.seek(self._offset + start * (out.nbytes // len(out)))
            if f.readinto(out.reshape(-1).view(np.uint8)) != out.nbytes:
                raise InputError(f"{self.path}: the file is shorter than its header says (changed while scoring?)")
        return out

    def _whole_rows(self, index):
        """``(start, stop)`` when ``index`` selects consecutive whole rows of a C-order array, else None."""
        index = index if isinstance(index, tuple) else (index,)
        if self._fortran or not index or not isinstance(index[0], slice) or index[0].step not in (None, 1):
            return None
        for axis, part in enumerate(index[1:], start=1):
            if not (
                isinstance(part, slice)
                and part.step in (None, 1)
                and range(self.shape[axis])[part] == range(self.shape[axis])
            ):
                return None
        start, stop, _ = index[0].indices(self.shape[0])
        return start, max(start, stop)


def default_chunk_rows(row_bytes: int, *, multiple_of: int = 1) -> int:
    """Rows per block: at most :data:`BLOCK_BYTES` of stored input (32 MiB), a multiple of ``multiple_of`` rows.

    A block of 1024 rows or more is a whole number of the 1024-row batches of a forward pass
    (``predict_proba`` then computes exactly the batches it computes in memory).

    Examples
    --------
    >>> default_chunk_rows(784)  # a uint8 MNIST image
    41984
    >>> default_chunk_rows(784, multiple_of=10_000)
    40000
    """
    rows = max(1, BLOCK_BYTES // max(1, int(row_bytes)))
    step = multiple_of if multiple_of > 1 else (_BATCH_ROWS if rows >= _BATCH_ROWS else 1)
    return max(step, rows // step * step)


def _open_npy(path: Path) -> np.memmap:
    """A ``.npy`` file memory-mapped read-only, its header checked against the file's size."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as exc:  # not .npy, object dtype, truncated (mmap longer than the file)
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(mapped, np.memmap):  # an empty array is loaded, not mapped
        raise InputError(f"{path}: holds no rows (shape {mapped.shape})")
    expected = mapped.offset + mapped.nbytes
    size = path.stat().st_size
    if size != expected:
        raise InputError(
            f"{path}: trailing bytes in .npy array: the header declares shape {mapped.shape} of {mapped.dtype} "
            f"({expected} bytes with the header), the file holds {size}"
        )
    return mapped


def _npy_rows(path: Path, mapped: np.memmap) -> _NpyRows:
    fortran = bool(mapped.flags.f_contiguous and not mapped.flags.c_contiguous)
    return _NpyRows(str(path.resolve()), tuple(mapped.shape), mapped.dtype, int(mapped.offset), fortran)


def _file_identity(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_zarr(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in _ZARR_MARKERS)


def _lazy(path, what: str, chunk_rows: int | None, row_multiple: bool = False):
    """``(dask array, description)`` of a ``.npy`` file, Zarr array or group of one, or folder of ``.npy``.

    ``chunk_rows=None`` chooses :func:`default_chunk_rows` (with ``row_multiple``, a multiple of a Zarr
    array's row chunks).
    """
    da = import_dask(what)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() == ".npy":
        parts, description, multiple = _npy_file(path)
    elif _is_zarr(path):
        parts, description, multiple = _zarr_source(path)
    elif path.is_dir():
        parts, description, multiple = _npy_folder(path)
    else:
        raise InputError(f"{path}: give a .npy file, a Zarr array or group, or a folder of .npy files")
    shape, dtype = tuple(description["shape"]), np.dtype(description["dtype"])
    if not shape:
        raise InputError(f"{path}: holds a single number, not rows")
    if shape[0] == 0:
        raise InputError(f"{path}: holds no rows (shape {shape})")
    if chunk_rows is None:
        row_bytes = dtype.itemsize * math.prod(shape[1:])
        chunk_rows = default_chunk_rows(row_bytes, multiple_of=multiple if row_multiple else 1)
    token = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
    arrays = [
        da.from_array(
            source,
            chunks=(chunk_rows, *source.shape[1:]),
            lock=False,
            asarray=True,
            name=f"{what.replace(' ', '-')}-{token}-{i}",
            meta=np.empty((0,) * len(shape), dtype),
        )
        for i, source in enumerate(parts)
    ]
    x = arrays[0] if len(arrays) == 1 else da.concatenate(arrays).rechunk({0: chunk_rows})
    return x, description


def _npy_file(path: Path):
    """``([reader], description, 1)`` of one ``.npy`` file."""
    mapped = _open_npy(path)
    description = {
        "kind": "npy",
        **_file_identity(path.resolve()),
        "shape": list(mapped.shape),
        "dtype": str(mapped.dtype),
    }
    return [_npy_rows(path, mapped)], description, 1


def _zarr_source(path: Path):
    """``([array], description, rows per chunk)`` of a Zarr array, or of the one array of a group."""
    array, name = _zarr_array(path)
    description = {
        "kind": "zarr",
        "path": str(path.resolve()),
        "array": name,
        "shape": list(array.shape),
        "dtype": str(np.dtype(array.dtype)),
        "chunks": list(array.chunks),
    }
    return [array], description, int(array.chunks[0]) if array.shape else 1


def _npy_folder(path: Path):
    """``(readers, description, 1)`` of the ``.npy`` files of a folder, in name order, rows of one shape and dtype."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".npy" and p.is_file())
    if not files:
        raise InputError(f"{path}: not a Zarr array or group, and holds no .npy files")
    readers = [_npy_rows(file, _open_npy(file)) for file in files]
    first = readers[0]
    for file, reader in zip(files[1:], readers[1:]):
        if reader.dtype != first.dtype or reader.shape[1:] != first.shape[1:]:
            raise InputError(
                f"{path}: the .npy files differ: {files[0].name} holds rows of shape {first.shape[1:]} and dtype "
                f"{first.dtype}, {file.name} of shape {reader.shape[1:]} and dtype {reader.dtype}"
            )
    description = {
        "kind": "npy-folder",
        "path": str(path.resolve()),
        "shape": [sum(reader.shape[0] for reader in readers), *first.shape[1:]],
        "dtype": str(first.dtype),
        "files": [_file_identity(file.resolve()) for file in files],
    }
    return readers, description, 1


def _zarr_array(path: Path):
    """The Zarr array at ``path``, or the one array of the group there; and its name in the group."""
    zarr = _import_zarr()
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises many kinds for a damaged store
        raise InputError(f"{path}: cannot open as Zarr ({type(exc).__name__}: {exc})") from None
    if isinstance(node, zarr.Array):
        return node, None
    arrays = sorted(node.arrays(), key=lambda item: item[0])
    if len(arrays) != 1:
        names = ", ".join(name for name, _ in arrays) or "none"
        raise InputError(
            f"{path}: a Zarr group holding {len(arrays)} arrays ({names}); give the path of one array, e.g. {path / (arrays[0][0] if arrays else 'x')}"
        )
    return arrays[0][1], arrays[0][0]


def _import_zarr():
    try:
        import zarr
    except ImportError:
        from ._dask import DASK_EXTRA

        raise ImportError(f"Zarr input and output need zarr: {DASK_EXTRA}") from None
    return zarr


def open_inputs(path, input_shape, *, chunk_rows: int | None = None) -> LazyInputs:
    """Open a model's inputs lazily: nothing but headers and metadata is read.

    Parameters
    ----------
    path : path-like
        A ``.npy`` file, a Zarr array (or a group holding exactly one), or a folder of ``.npy`` files
        with rows of the same shape and dtype (concatenated in sorted name order).
    input_shape : tuple of int
        The model's input shape. Each row must hold ``prod(input_shape)`` values.
    chunk_rows : int, optional
        Rows per block (default :func:`default_chunk_rows`: about 32 MiB of stored input, a multiple
        of a Zarr input's row chunks).

    Returns
    -------
    LazyInputs

    Raises
    ------
    InputError
        Missing or unreadable input, a dtype with no pixel scaling
        (:func:`~softmaxkit.datasets.scale_pixels`), rows of another size than the model's input, no
        rows. The message names the path.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> np.save(path, np.zeros((10, 1, 4, 4), np.uint8))
    >>> inputs = open_inputs(path, (1, 4, 4), chunk_rows=4)
    >>> inputs.n, inputs.n_blocks, inputs.scaling
    (10, 3, 'uint8 pixel / 255 -> float32 in [0, 1]')
    """
    if input_shape is None:
        raise InputError("the model file does not record its input shape")
    input_shape = tuple(int(d) for d in input_shape)
    if chunk_rows is not None and (isinstance(chunk_rows, bool) or int(chunk_rows) < 1):
        raise ValueError(f"open_inputs: chunk_rows must be a positive integer, got {chunk_rows!r}")
    x, description = _lazy(path, "out-of-core scoring", None if chunk_rows is None else int(chunk_rows), True)
    try:
        _, scaling = scale_pixels(np.zeros(0, x.dtype), source=str(path))
    except DatasetFormatError as exc:
        raise InputError(str(exc)) from None
    if x.ndim < 2 or math.prod(x.shape[1:]) != math.prod(input_shape):
        raise InputError(
            f"{path}: array of shape {tuple(x.shape)} does not fit the model's input {input_shape} "
            f"(expected (n, {', '.join(map(str, input_shape))}))"
        )
    return LazyInputs(x, input_shape, str(path), description, scaling)


def open_array(path, *, what: str, ndim: int, kinds: str, chunk_rows: int | None = None):
    """Labels or logits as a Dask array (a ``.npy`` file, a Zarr array or group of one, a folder of ``.npy``).

    Parameters
    ----------
    path : path-like
    what : str
        Names the array in messages (e.g. ``"--labels"``).
    ndim : int
        The number of dimensions it must have.
    kinds : str
        The accepted :attr:`numpy.dtype.kind` letters (``"iu"`` for labels, ``"f"`` for logits).
    chunk_rows : int, optional

    Raises
    ------
    InputError
    """
    x, _ = _lazy(path, what, chunk_rows)
    if x.ndim != ndim:
        expected = "(n,)" if ndim == 1 else "(n, " + ", ".join("k" * (ndim - 1)) + ")"
        raise InputError(f"{what} {path}: expected an array of shape {expected}, got shape {tuple(x.shape)}")
    if x.dtype.kind not in kinds:
        names = {"i": "signed integers", "u": "unsigned integers", "f": "floats", "b": "booleans"}
        wanted = " or ".join(names[k] for k in kinds)
        raise InputError(f"{what} {path}: expected {wanted}, got dtype {x.dtype}")
    return x


# ---------------------------------------------------------------------------------------- scoring
def _scaled_rows(raw: np.ndarray, input_shape: tuple, source: str, start: int):
    """``(lo, hi, x)`` for each batch of a block: its rows scaled to float32 and shaped for the model."""
    for lo in range(0, len(raw), _BATCH_ROWS):
        hi = min(lo + _BATCH_ROWS, len(raw))
        x, _ = scale_pixels(raw[lo:hi], source=f"{source} (rows {start + lo} to {start + hi - 1})")
        yield lo, hi, x.reshape((hi - lo, *input_shape))


def _apply(raw, model, input_shape, source, start, method: str) -> np.ndarray:
    """``model.<method>`` (``predict_proba`` or ``predict_logits``) of a block of stored rows, float32."""
    out = None
    for lo, hi, x in _scaled_rows(raw, input_shape, source, start):
        values = getattr(model, method)(x, batch_size=_BATCH_ROWS)
        if out is None:
            out = np.empty((len(raw), values.shape[1]), values.dtype)
        out[lo:hi] = values
    return out


def _logits_block(raw, model=None, input_shape=(), source="", block_info=None):
    start = block_info[0]["array-location"][0][0]
    return _apply(raw, model, input_shape, source, start, "predict_logits").astype(np.float32, copy=False)


def lazy_logits(model, inputs: LazyInputs):
    """The model's logits of ``inputs`` as a Dask array of shape (n, n_classes), float32, chunked as the input.

    For a :class:`~softmaxkit.calibration.CalibratedModel` these are the calibrated logits (its
    ``predict_logits``), so ``softmax`` of them is its ``predict_proba``.
    """
    da = import_dask("lazy_logits")
    dask = _import_dask_core()
    width = _output_width(model, inputs.input_shape)
    x = inputs.x
    digest = _model_digest(model)[:16]
    held = dask.delayed(model, name=f"model-{digest}", traverse=False)
    return da.map_blocks(
        _logits_block,
        x,
        model=held,
        input_shape=inputs.input_shape,
        source=inputs.source,
        dtype=np.float32,
        chunks=(x.chunks[0], (width,)),
        drop_axis=list(range(2, x.ndim)),
        meta=np.empty((0, 0), np.float32),
        name=f"logits-{digest}-{x.name}",
    )


def _import_dask_core():
    import dask

    return dask


def _output_width(model, input_shape) -> int:
    network = model.model if isinstance(model, CalibratedModel) else model
    shape = network.output_shape(input_shape)
    if len(shape) != 1:
        raise InputError(f"the model outputs shape {shape}, not one row of class scores")
    return int(shape[0])


def _model_digest(model) -> str:
    """SHA-256 of what decides a model's outputs: its layers, parameters, classes and calibrator."""
    network = model.model if isinstance(model, CalibratedModel) else model
    digest = hashlib.sha256()
    digest.update(repr(network).encode())
    digest.update(json.dumps([network.class_names, network.input_shape]).encode())
    for param, _, name in network.parameters():
        digest.update(f"{name}:{param.dtype}:{param.shape}".encode())
        digest.update(np.ascontiguousarray(param).tobytes())
    if isinstance(model, CalibratedModel):
        digest.update(json.dumps(model.calibrator.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score_to_zarr` did.

    Attributes
    ----------
    out : pathlib.Path
    n, n_classes : int
        Rows scored and classes (the shape of ``probabilities``).
    chunk_rows, n_blocks : int
    done_before : int
        Blocks a previous run had finished (skipped).
    written : int
        Blocks written by this call.
    complete : bool
        Whether every block is now done.
    """

    out: Path
    n: int
    n_classes: int
    chunk_rows: int
    n_blocks: int
    done_before: int
    written: int
    complete: bool


def _score_block(raw, model=None, input_shape=(), source="", chunk_rows=1, block_ids=(), arrays=(), block_info=None):
    """Score one block, write its chunks, then flag it done; returns ``[rows written]``.

    The flag is set only after both chunks are written: a block interrupted before that is
    recomputed by the next run.
    """
    block = block_ids[block_info[None]["chunk-location"][0]]
    start = block * chunk_rows
    probabilities, labels, done = arrays
    probs = _apply(raw, model, input_shape, source, start, "predict_proba").astype(np.float32, copy=False)
    probabilities[start : start + len(raw)] = probs
    labels[start : start + len(raw)] = probs.argmax(axis=1).astype(np.int64)
    _mark_done(done, block)
    return np.array([len(raw)], np.int64)


def _mark_done(done, block: int) -> None:
    done[block] = 1


def _fingerprint(model, inputs: LazyInputs) -> dict:
    return {"model_sha256": _model_digest(model), "input": inputs.description, "chunk_rows": inputs.chunk_rows}


def _mismatch(old: dict, new: dict) -> str:
    """What differs between two fingerprints, in words."""
    if not isinstance(old, dict):
        return "it was not written by softmaxkit score"
    reasons = []
    if old.get("model_sha256") != new["model_sha256"]:
        reasons.append("another model")
    if old.get("input") != new["input"]:
        was = (old.get("input") or {}).get("path", "?")
        reasons.append(
            f"another input ({was})" if was != new["input"].get("path") else "an input that has changed since"
        )
    if old.get("chunk_rows") != new["chunk_rows"]:
        reasons.append(f"another chunk size ({old.get('chunk_rows')} rows per block, now {new['chunk_rows']})")
    return "it was written from " + " and ".join(reasons)


def _prepare_output(out: Path, fingerprint: dict, n: int, k: int, inputs: LazyInputs, attributes: dict, overwrite):
    """The output group, created, or reopened when it holds an earlier run of the same work."""
    zarr = _import_zarr()
    if out.exists():
        if not out.is_dir():
            raise InputError(f"--out {out}: exists and is not a folder (a Zarr group is a folder)")
        empty = not any(out.iterdir())
        if not empty and not _is_zarr(out):
            raise InputError(f"--out {out}: a folder that is not a Zarr group; refusing to write into it")
        if not empty:
            try:
                group = zarr.open_group(str(out), mode="r+")
                old = dict(group.attrs).get("softmaxkit", {}).get("fingerprint")
            except Exception as exc:  # a damaged or foreign store
                group, old = None, None
                if not overwrite:
                    raise InputError(f"--out {out}: cannot open as a Zarr group ({exc}); pass --overwrite") from None
            if group is not None and old == fingerprint:
                try:
                    return group, group["probabilities"], group["labels"], group["blocks_done"]
                except KeyError:  # interrupted while creating its arrays: start again
                    pass
            elif not overwrite:
                raise InputError(
                    f"--out {out} holds other scores: {_mismatch(old, fingerprint)}; pass --overwrite to replace them"
                )
            shutil.rmtree(out)
    rows = inputs.chunk_rows
    group = zarr.open_group(
        str(out),
        mode="w",
        attributes={
            **attributes,
            "input": inputs.source,
            "scaling": inputs.scaling,
            "n": n,
            "chunk_rows": rows,
            "complete": False,
            "softmaxkit": {"version": __version__, "command": "score", "fingerprint": fingerprint},
        },
    )
    probabilities = group.create_array("probabilities", shape=(n, k), chunks=(rows, k), dtype="float32")
    labels = group.create_array("labels", shape=(n,), chunks=(rows,), dtype="int64")
    done = group.create_array(
        "blocks_done", shape=(inputs.n_blocks,), chunks=(1,), dtype="uint8", fill_value=0, compressors=None
    )
    return group, probabilities, labels, done


def score_to_zarr(
    model,
    inputs: LazyInputs,
    out,
    *,
    overwrite: bool = False,
    progress: bool = False,
    client=None,
    attributes: dict | None = None,
    only_blocks: Iterable[int] | None = None,
) -> ScoreResult:
    """Score ``inputs`` block by block into the Zarr group ``out``, resuming an earlier run.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential or softmaxkit.calibration.CalibratedModel
        Its ``predict_proba`` (calibration included) scores each block.
    inputs : LazyInputs
        From :func:`open_inputs`.
    out : path-like
        The group to write: ``probabilities`` (n, n_classes) float32 and ``labels`` (n,) int64
        (the argmax), chunked as the input's blocks, and ``blocks_done`` (one uint8 flag per block).
        Its attributes hold ``attributes``, the input, its scaling, and a fingerprint of the model,
        the input and the chunking.
    overwrite : bool, default False
        Replace an ``out`` that holds scores of another model, input or chunking (otherwise an
        :class:`~softmaxkit.exceptions.InputError`). Without it, an ``out`` of the same work is
        resumed: its finished blocks are kept.
    progress : bool, default False
        A tqdm bar of blocks on stderr.
    client : distributed.Client, optional
        Run on its cluster (whose workers must see ``inputs`` and ``out``); default: local threads.
    attributes : dict, optional
        JSON-ready attributes to store (the model's path, class names, calibration...).
    only_blocks : iterable of int, optional
        Score only these blocks (the others are left for a later call): splits the work, and lets
        tests stop a run at a known point.

    Returns
    -------
    ScoreResult

    Notes
    -----
    Memory is that of the blocks in flight (about two per thread: one being scored, the next one
    read), never of the whole input or output: each task reads its rows, scales and scores them
    1024 at a time, writes its chunks and keeps only a count.
    """
    da = import_dask("score_to_zarr")
    dask = _import_dask_core()
    out = Path(out).resolve()
    k = _output_width(model, inputs.input_shape)
    fingerprint = _fingerprint(model, inputs)
    group, probabilities, labels, done = _prepare_output(
        out, fingerprint, inputs.n, k, inputs, dict(attributes or {}), overwrite
    )
    finished = np.asarray(done[:]).astype(bool)
    wanted = range(inputs.n_blocks) if only_blocks is None else sorted({int(b) for b in only_blocks})
    if any(b < 0 or b >= inputs.n_blocks for b in wanted):
        raise ValueError(f"score_to_zarr: only_blocks must lie in [0, {inputs.n_blocks})")
    pending = [b for b in wanted if not finished[b]]
    if pending:
        x = inputs.x.blocks[pending] if len(pending) < inputs.n_blocks else inputs.x
        digest = fingerprint["model_sha256"][:16]
        written = da.map_blocks(
            _score_block,
            x,
            model=dask.delayed(model, name=f"model-{digest}", traverse=False),
            input_shape=inputs.input_shape,
            source=inputs.source,
            chunk_rows=inputs.chunk_rows,
            block_ids=tuple(pending),
            arrays=(probabilities, labels, done),
            dtype=np.int64,
            chunks=((1,) * len(pending),),
            drop_axis=list(range(1, x.ndim)),
            meta=np.empty((0,), np.int64),
            name=f"score-{uuid.uuid4().hex}",  # never a result an earlier run left on a cluster
        )
        _run(written, client, progress, total=len(pending), done_before=int(finished.sum()))
    complete = bool(np.asarray(done[:]).all())
    if complete:
        group.attrs["complete"] = True
    return ScoreResult(
        out, inputs.n, k, inputs.chunk_rows, inputs.n_blocks, int(finished.sum()), len(pending), complete
    )


def finished_blocks(out) -> tuple[int, int] | None:
    """``(blocks done, blocks)`` of the scores in ``out``, or None when it holds none (yet)."""
    try:
        done = np.asarray(_import_zarr().open_group(str(out), mode="r")["blocks_done"][:])
    except Exception:  # no output, or not one of ours
        return None
    return int(done.astype(bool).sum()), len(done)


def _blas_threads(tasks: int):
    """While Dask's threads run ``tasks`` blocks, BLAS uses the cores they leave idle (one each when busy).

    A BLAS pool per Dask thread on every core would oversubscribe the machine: OpenBLAS threads spin
    while they wait, and a forward pass on two cores then runs slower than on one.
    """
    from threadpoolctl import threadpool_limits

    cores = os.cpu_count() or 1
    return threadpool_limits(limits=max(1, cores // max(1, min(cores, tasks))), user_api="blas")


def _run(written, client, progress: bool, *, total: int, done_before: int) -> None:
    """Compute ``written`` (one tiny result per block) locally or on ``client``, with a bar of blocks."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total + done_before,
        initial=done_before,
        unit="block",
        disable=not progress,
        dynamic_ncols=True,
        desc="scoring",
    )
    with bar:
        if client is None:
            from dask.callbacks import Callback

            class _Bar(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    if isinstance(key, tuple) and key[0] == written.name:
                        bar.update(1)

            with _Bar(), _blas_threads(total):
                written.compute(scheduler="threads")
            return
        from distributed import as_completed, futures_of

        futures = futures_of(client.persist(written))
        try:
            for future in as_completed(futures):
                future.result()  # a failed block raises its error here
                bar.update(1)
        finally:
            client.cancel(futures)


# ------------------------------------------------------------------------------------- evaluation
def _softmax64(block):
    return softmax(block.astype(np.float64), axis=-1)


@contextlib.contextmanager
def _kept(x, client):
    """``x`` computed once and kept: on the cluster's workers, or locally in a temporary Zarr store."""
    da = import_dask("evaluate_out_of_core")
    if client is not None:
        from distributed import futures_of, wait

        kept = client.persist(x)
        wait(kept)
        try:
            yield kept
        finally:
            client.cancel(futures_of(kept))
        return
    with tempfile.TemporaryDirectory(prefix="softmaxkit-logits-") as tmp:
        store = os.path.join(tmp, "logits.zarr")
        with _blas_threads(x.numblocks[0]):
            da.to_zarr(x, store, compute=False).compute(scheduler="threads")
        yield da.from_zarr(store)


def evaluate_out_of_core(model, inputs: LazyInputs, labels, *, client=None, n_bins: int = 15) -> dict:
    """Accuracy, NLL, ECE, MCE, Brier score, per-class accuracy and confusion matrix of ``model`` on lazy data.

    The model runs once over ``inputs`` (its logits kept in a temporary Zarr store, or on the
    cluster's workers); the scores are then :mod:`softmaxkit.metrics` of Dask arrays, with the same
    numbers as :func:`softmaxkit.evaluation.evaluate_model` in memory (NLL from the logits,
    probabilities in float64).

    Parameters
    ----------
    model : softmaxkit.nn.Sequential or softmaxkit.calibration.CalibratedModel
    inputs : LazyInputs
    labels : dask.array.Array of int, shape (n,)
        The true class of each row (:func:`open_array`).
    client : distributed.Client, optional
    n_bins : int, default 15

    Returns
    -------
    dict
        JSON-ready: ``n``, ``accuracy``, ``nll``, ``ece``, ``mce``, ``brier``, ``calibration``,
        ``per_class_accuracy``, ``confusion_matrix``, ``class_names``.
    """
    if labels.shape[0] != inputs.n:
        raise InputError(f"{inputs.n} inputs but {labels.shape[0]} labels")
    labels = labels.rechunk({0: inputs.x.chunks[0]})
    with _kept(lazy_logits(model, inputs), client) as logits:
        logits = logits.rechunk({0: inputs.x.chunks[0]})
        k = int(logits.shape[1])
        probs = logits.map_blocks(_softmax64, dtype=np.float64, meta=np.empty((0, 0), np.float64))
        cm = np.asarray(confusion_matrix(labels, probs.argmax(axis=1), n_classes=k))
        summary = {
            "n": inputs.n,
            "accuracy": float(accuracy(labels, probs)),
            "nll": float(nll(labels, logits=logits.astype(np.float64))),
            "ece": float(calibration_error(labels, probs, n_bins=n_bins)),
            "mce": float(calibration_error(labels, probs, n_bins=n_bins, norm="max")),
            "brier": float(brier_score(labels, probs)),
        }
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(cm) / cm.sum(axis=1)
    names = [str(c) for c in (model.class_names or range(k))]
    summary.update(
        {
            "calibration": model.method if isinstance(model, CalibratedModel) else "none",
            "per_class_accuracy": {name: (None if np.isnan(a) else float(a)) for name, a in zip(names, per_class)},
            "confusion_matrix": cm.tolist(),
            "class_names": names,
        }
    )
    return summary


# -------------------------------------------------------------------------------------- scheduler
@contextlib.contextmanager
def connect(address: str | None, *, timeout: float | None = None):
    """A ``distributed.Client`` of the scheduler at ``address`` (closed on exit), or None for local threads.

    Raises
    ------
    ConnectionError
        No scheduler answers at ``address`` within ``timeout`` seconds (default :data:`CONNECT_TIMEOUT`).
    ImportError
        ``distributed`` is not installed.
    """
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        from ._dask import DASK_EXTRA

        raise ImportError(f"--scheduler needs distributed: {DASK_EXTRA}") from None
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    try:
        client = Client(address, timeout=f"{timeout}s")
    except (OSError, ValueError, TypeError) as exc:
        raise ConnectionError(f"cannot reach a Dask scheduler at {address} within {timeout:g} s ({exc})") from None
    with client:
        yield client
