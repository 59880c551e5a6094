"""Training data larger than memory: shuffled minibatches read from ``.npy`` or Zarr arrays, a few blocks at a time.

The rows are grouped into *blocks* of consecutive rows (8192 by default; with Zarr, a whole number of
its chunks along the rows). Every epoch of :meth:`BlockStream.shuffled_batches`

1. draws a permutation of the blocks from the caller's generator,
2. reads them ``buffer_blocks`` (4) at a time into a buffer, scaled to float32 as
   :func:`~softmaxkit.datasets.scale_pixels` scales them (uint8 / 255, uint16 / 65535, ...),
3. shuffles the rows of the buffer and yields minibatches; the rows left over (fewer than a batch)
   join the next buffer, so only the last batch of an epoch is short.

Memory is therefore ``buffer_blocks * block_rows`` rows (about twice that while a buffer fills), never
``O(N)``: ``.npy`` files are memory-mapped (:func:`numpy.load` with ``mmap_mode="r"``) and Zarr
arrays read chunk by chunk. The order is *block-shuffled*, not a uniform permutation of all rows:
rows meet only rows of the same buffer within an epoch. Data stored sorted by class should be
shuffled once on disk first, or each buffer holds few classes.

Held-out data are whole blocks (:meth:`BlockStream.split`), chosen by a seeded permutation, and
streamed too, in stored order (:meth:`BlockStream.ordered_blocks`): validation and test sets may be
as large as the data. :func:`open_stream` records where the data came from (paths, a cheap
fingerprint of sizes and modification times, the block size), and :func:`open_split` recreates the
same split from that record.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> np.save(d / "x.npy", np.arange(1000 * 4, dtype=np.uint8).reshape(1000, 4))
>>> np.save(d / "y.npy", np.arange(1000) % 3)
>>> stream = open_stream(d / "x.npy", d / "y.npy", block_rows=100)
>>> len(stream), stream.sample_shape, stream.n_classes, stream.n_blocks
(1000, (4,), 3, 10)
>>> train, val, test = stream.split(val_fraction=0.1, test_fraction=0.2, rng=np.random.default_rng(0))
>>> len(train), len(val), len(test)
(700, 100, 200)
>>> xb, yb = next(train.shuffled_batches(32, np.random.default_rng(0)))
>>> xb.shape, xb.dtype, yb.dtype
((32, 4), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .._dask import DASK_EXTRA
from .._validation import HALF_OPEN_FRACTION, Integer, validate
from ..exceptions import DatasetFormatError, DatasetNotFoundError
from ._labels import MAX_CLASSES, check_label_range, infer_class_count, integer_labels
from ._pixels import scale_pixels

__all__ = [
    "BlockStream",
    "open_array",
    "open_stream",
    "open_split",
    "fingerprint",
    "STREAM_SUFFIXES",
    "DEFAULT_BLOCK_ROWS",
    "DEFAULT_BUFFER_BLOCKS",
    "MIN_BLOCKS",
]

#: Paths read as on-disk arrays: a ``.npy`` file (memory-mapped) or a Zarr store.
STREAM_SUFFIXES = (".npy", ".zarr")
#: Rows per block when the array does not suggest another size.
DEFAULT_BLOCK_ROWS = 8192
#: Blocks read into the shuffling buffer at a time.
DEFAULT_BUFFER_BLOCKS = 4
#: Small data get smaller blocks, so that there are at least this many to split.
MIN_BLOCKS = 20

_SIZES = {"block_rows": Integer(1), "buffer_blocks": Integer(1)}
_FRACTIONS = {"val_fraction": HALF_OPEN_FRACTION, "test_fraction": HALF_OPEN_FRACTION}


class BlockStream:
    """Rows of on-disk arrays ``(x, y)`` as shuffled minibatches, read a few blocks at a time.

    Parameters
    ----------
    x : array_like of shape (n, ...)
        Anything that slices rows into NumPy arrays without reading the rest: a memory-mapped
        ``.npy`` (:func:`open_array`), a Zarr array, an h5py dataset, an ndarray. ``(n, features)``
        rows, ``(n, height, width)`` images (given a channel axis) or NCHW images; stored pixels are
        scaled as :func:`~softmaxkit.datasets.scale_pixels` scales them.
    y : array_like of shape (n,)
        Integer class labels.
    n_classes : int, optional
        The class count; by default inferred from one pass over ``y`` (``max + 1``, believed only if
        at least a tenth of those classes occur, as :func:`~softmaxkit.datasets.load` does).
    block_rows : int, optional
        Rows per block (see :func:`open_stream` for the default).
    buffer_blocks : int, default 4
        Blocks shuffled together.
    blocks : sequence of int, optional
        The blocks this stream covers (default: all); :meth:`split` makes such subsets.
    name : str, optional
        Names the data in error messages.

    Attributes
    ----------
    sample_shape : tuple of int
        Shape of one sample as the batches hold it.
    scaling : str
        How stored values become float32.
    n_blocks : int
        Blocks this stream covers; ``len(stream)`` is their rows.
    source : dict
        Where the data came from (filled in by :func:`open_stream`).
    """

    def __init__(
        self,
        x,
        y,
        *,
        n_classes: int | None = None,
        block_rows: int = DEFAULT_BLOCK_ROWS,
        buffer_blocks: int = DEFAULT_BUFFER_BLOCKS,
        blocks=None,
        name: str = "<arrays>",
    ):
        if len(x.shape) < 2 or len(x.shape) > 4:
            raise DatasetFormatError(
                f"{name}: x must have shape (n, features), (n, height, width) or (n, channels, height, width), "
                f"got {tuple(x.shape)}"
            )
        if len(y.shape) != 1 or y.shape[0] != x.shape[0]:
            raise DatasetFormatError(
                f"{name}: expected one label per row: x has shape {tuple(x.shape)}, labels {tuple(y.shape)}"
            )
        if np.dtype(y.dtype).kind not in "iu":
            raise DatasetFormatError(
                f"{name}: labels must be stored as integers, got {y.dtype} (labels are never rounded)"
            )
        block_rows, buffer_blocks = validate("BlockStream", _SIZES, block_rows=block_rows, buffer_blocks=buffer_blocks)
        _, self.scaling = scale_pixels(np.empty(0, x.dtype), source=name)  # refuses an unknown dtype before reading
        self.x, self.y, self.name = x, y, name
        self.block_rows, self.buffer_blocks = block_rows, buffer_blocks
        self.n_total = int(x.shape[0])
        all_blocks = math.ceil(self.n_total / self.block_rows)
        self.blocks = np.arange(all_blocks) if blocks is None else np.sort(np.asarray(blocks, dtype=np.int64))
        if self.blocks.size and (self.blocks[0] < 0 or self.blocks[-1] >= all_blocks):
            raise ValueError(f"BlockStream: blocks must lie in [0, {all_blocks}), got {self.blocks.tolist()}")
        shape = tuple(int(d) for d in x.shape[1:])
        self.sample_shape = (1, *shape) if len(shape) == 2 else shape
        self.n_classes = _count_classes(y, self.block_rows, name) if n_classes is None else int(n_classes)
        self.source: dict = {}

    def __len__(self) -> int:
        return sum(hi - lo for lo, hi in map(self._bounds, self.blocks))

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def __repr__(self) -> str:
        return (
            f"BlockStream({self.name!r}, rows={len(self)}, blocks={self.n_blocks} of {self.block_rows}, "
            f"sample_shape={self.sample_shape}, n_classes={self.n_classes})"
        )

    def subset(self, blocks) -> BlockStream:
        """The same arrays, over ``blocks`` only (no data are read)."""
        other = object.__new__(BlockStream)
        other.__dict__.update(self.__dict__)
        other.blocks = np.sort(np.asarray(blocks, dtype=np.int64))
        return other

    def split(self, *, val_fraction: float, test_fraction: float, rng: np.random.Generator):
        """``(train, validation, test)`` streams of whole blocks, held out by a permutation drawn from ``rng``.

        Each held-out part gets ``round(fraction * n_blocks)`` blocks, at least one when its fraction
        is positive; the training part keeps at least one. The generator's first draw is the
        permutation, so a fresh ``numpy.random.default_rng(seed)`` recreates the split
        (:func:`open_split`).
        """
        val_fraction, test_fraction = validate(
            "BlockStream.split", _FRACTIONS, val_fraction=val_fraction, test_fraction=test_fraction
        )
        order = self.blocks[rng.permutation(self.n_blocks)]
        n_test, n_val = (max(1, round(f * self.n_blocks)) if f > 0 else 0 for f in (test_fraction, val_fraction))
        if n_test + n_val >= self.n_blocks:
            raise ValueError(
                f"{self.name}: {self.n_blocks} blocks of {self.block_rows} rows cannot hold out {n_val} for validation "
                f"and {n_test} for testing and still train on one; give more rows or smaller fractions"
            )
        test, val, train = np.split(order, [n_test, n_test + n_val])
        return self.subset(train), self.subset(val), self.subset(test)

    def ordered_blocks(self):
        """Every block of this stream once, in stored order: ``(x, y)`` as float32 and int64 arrays."""
        for block in self.blocks:
            yield self._read(block)

    def shuffled_batches(self, batch_size: int, rng: np.random.Generator):
        """One epoch of minibatches ``(x, y)`` in block-shuffled order drawn from ``rng`` (module docstring).

        Every row comes exactly once; all batches but the last hold ``batch_size`` rows.
        """
        (batch_size,) = validate("BlockStream.shuffled_batches", {"batch_size": Integer(1)}, batch_size=batch_size)
        order = self.blocks[rng.permutation(self.n_blocks)]
        carry_x = np.empty((0, *self.sample_shape), np.float32)
        carry_y = np.empty(0, np.int64)
        for start in range(0, len(order), self.buffer_blocks):
            group = order[start : start + self.buffer_blocks]
            sizes = [hi - lo for lo, hi in map(self._bounds, group)]
            n = len(carry_y) + sum(sizes)
            buf_x = np.empty((n, *self.sample_shape), np.float32)
            buf_y = np.empty(n, np.int64)
            buf_x[: len(carry_y)], buf_y[: len(carry_y)] = carry_x, carry_y
            at = len(carry_y)
            for block, size in zip(group, sizes):
                buf_x[at : at + size], buf_y[at : at + size] = self._read(block)
                at += size
            perm = rng.permutation(n)
            last = start + self.buffer_blocks >= len(order)
            full = n if last else n - n % batch_size
            for lo in range(0, full, batch_size):
                idx = perm[lo : min(lo + batch_size, full)]
                yield buf_x[idx], buf_y[idx]
            carry_x, carry_y = buf_x[perm[full:]], buf_y[perm[full:]]

    def _bounds(self, block) -> tuple[int, int]:
        lo = int(block) * self.block_rows
        return lo, min(lo + self.block_rows, self.n_total)

    def _read(self, block) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._bounds(block)
        where = f"{self.name} (rows {lo}..{hi - 1})"
        x, _ = scale_pixels(np.asarray(self.x[lo:hi]), source=where)
        y = integer_labels(np.asarray(self.y[lo:hi]), source=where, key="labels")
        check_label_range(y, self.n_classes, source=where, key="labels")
        return x.reshape(len(x), *self.sample_shape), y


def open_array(path):
    """The array stored at ``path``, without reading it: a read-only memory map of a ``.npy`` file, or a Zarr array.

    Raises
    ------
    DatasetNotFoundError
        Nothing at ``path``.
    DatasetFormatError
        Not a readable array (a truncated ``.npy``, an object dtype, a Zarr group, ...).
    ImportError
        A Zarr store without Zarr installed (the ``dask`` extra).
    """
    path = Path(path)
    if not path.exists():
        raise DatasetNotFoundError(f"{path}: no such .npy file or Zarr store")
    if path.is_dir() or path.suffix.lower() == ".zarr":
        try:
            import zarr
        except ImportError:
            raise ImportError(f"reading the Zarr store {path} needs zarr: {DASK_EXTRA}") from None
        try:
            return zarr.open_array(str(path), mode="r")
        except Exception as exc:  # zarr raises many kinds for a store that is not one array
            raise DatasetFormatError(f"{path}: not a Zarr array ({type(exc).__name__}: {exc})") from None
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # a bad header, a short file, an object dtype
        raise DatasetFormatError(f"{path}: not a readable .npy array ({exc})") from None


def fingerprint(path) -> dict:
    """Sizes and modification times of a file or of a store's files: cheap to take, and it changes with them.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     sorted(fingerprint(f.name))
    ['bytes', 'files', 'mtime_ns']
    """
    path = Path(path)
    stats = [f.stat() for f in sorted(path.rglob("*")) if f.is_file()] if path.is_dir() else [path.stat()]
    return {
        "files": len(stats),
        "bytes": sum(s.st_size for s in stats),
        "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
    }


def open_stream(
    x_path, labels_path, *, block_rows: int | None = None, buffer_blocks: int = DEFAULT_BUFFER_BLOCKS
) -> BlockStream:
    """A :class:`BlockStream` over the arrays at ``x_path`` and ``labels_path`` (``.npy`` files or Zarr stores).

    ``block_rows`` defaults to 8192 rows, or for Zarr to the whole number of chunks nearest below it
    (at least one chunk), so that every chunk is read once an epoch; data of fewer than
    ``20 * block_rows`` rows get blocks of ``ceil(n / 20)`` rows, enough to hold some out. The
    labels are read once here, to count the classes. ``stream.source`` records the paths, the
    format, a :func:`fingerprint` of each, the block size and the shape.
    """
    x, y = open_array(x_path), open_array(labels_path)
    x_path, labels_path = Path(x_path).resolve(), Path(labels_path).resolve()
    name = os.fspath(x_path)
    if block_rows is None:
        block_rows = _default_block_rows(x)
    stream = BlockStream(x, y, block_rows=block_rows, buffer_blocks=buffer_blocks, name=name)
    stream.source = {
        "kind": "arrays",
        "path": name,
        "labels": os.fspath(labels_path),
        "format": {"x": _format(x_path), "labels": _format(labels_path)},
        "fingerprint": {"x": fingerprint(x_path), "labels": fingerprint(labels_path)},
        "block_rows": stream.block_rows,
        "shape": [int(d) for d in x.shape],
        "dtype": str(x.dtype),
    }
    return stream


def open_split(source: dict):
    """``(train, validation, test)`` streams recreated from a model file's record of them.

    ``source`` is :attr:`BlockStream.source` of :func:`open_stream` plus ``"split": {"seed",
    "val_fraction", "test_fraction"}``, the split having taken the first draw of
    ``numpy.random.default_rng(seed)`` (as ``softmaxkit train`` does). Compare each stream's
    ``source["fingerprint"]`` with the recorded one to know whether the files changed since.
    """
    if not isinstance(source, dict) or source.get("kind") != "arrays" or not isinstance(source.get("split"), dict):
        raise ValueError(f"open_split: expected an 'arrays' source record with its 'split', got {source!r}")
    split = source["split"]
    stream = open_stream(source["path"], source["labels"], block_rows=int(source["block_rows"]))
    parts = stream.split(
        val_fraction=float(split["val_fraction"]),
        test_fraction=float(split["test_fraction"]),
        rng=np.random.default_rng(int(split["seed"])),
    )
    for part in parts:
        part.source = stream.source
    return parts


def _format(path: Path) -> str:
    return "zarr" if path.is_dir() or path.suffix.lower() == ".zarr" else "npy"


def _default_block_rows(x) -> int:
    """8192 rows, a whole number of Zarr chunks, or fewer for small data (:func:`open_stream`)."""
    chunks = getattr(x, "chunks", None)
    chunk = chunks[0] if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], int | np.integer) else None
    rows = DEFAULT_BLOCK_ROWS if not chunk else int(chunk) * max(1, DEFAULT_BLOCK_ROWS // int(chunk))
    return max(1, min(rows, math.ceil(int(x.shape[0]) / MIN_BLOCKS)))


def _count_classes(y, block_rows: int, name: str) -> int:
    """``max + 1`` of the labels, read block by block, with :func:`~softmaxkit.datasets.load`'s rules."""
    counts = np.zeros(0, np.int64)
    for lo in range(0, int(y.shape[0]), block_rows):
        where = f"{name} (labels of rows {lo}..{min(lo + block_rows, int(y.shape[0])) - 1})"
        block = integer_labels(np.asarray(y[lo : lo + block_rows]), source=where, key="labels")
        if block.size and block.max() >= MAX_CLASSES:
            infer_class_count([block], source=where)  # raises, saying why
        found = np.bincount(block, minlength=len(counts))
        found[: len(counts)] += counts
        counts = found
    return infer_class_count([np.flatnonzero(counts)], source=name)  # the same rule on the labels present
