"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (gzipped or raw).

An IDX file is ``0x00 0x00 TYPE NDIM``, then ``NDIM`` big-endian uint32 sizes, then the values in
C order, big-endian. See http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS FOR THE MNIST DATABASE").
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["read_bytes", "parse_idx", "read_idx", "idx_bytes", "find_idx_file"]

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder(">").str: code for code, dt in _TYPES.items()}

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path) -> bytes:
    """The content of ``path``, decompressed if it is gzipped (detected by its magic bytes).

    Raises
    ------
    DatasetFormatError
        If the file is a corrupt or truncated gzip stream; the message names the file.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head != GZIP_MAGIC:
            return f.read()
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return g.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{path}: corrupt gzip file ({exc})") from None


def parse_idx(data: bytes, source="<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file into an array (native byte order).

    Parameters
    ----------
    data : bytes
        The uncompressed file content.
    source : str or path, optional
        Named in error messages.

    Returns
    -------
    ndarray
        Of the stored dtype (uint8 for MNIST) and shape.

    Raises
    ------
    DatasetFormatError
        Bad magic number, unknown type code, truncated data or trailing bytes.

    Examples
    --------
    >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    array([7, 8, 9], dtype=uint8)
    >>> parse_idx(b"\\x12\\x34\\x08\\x01")
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.DatasetFormatError: <bytes>: bad IDX magic number 0x12340801 (expected 0x0000 followed by a type code and the number of dimensions)
    """
    if len(data) < 4:
        raise DatasetFormatError(f"{source}: truncated IDX file: {len(data)} bytes, too short for the header")
    if data[0] != 0 or data[1] != 0:
        magic = int.from_bytes(data[:4], "big")
        raise DatasetFormatError(
            f"{source}: bad IDX magic number 0x{magic:08x} (expected 0x0000 followed by a type code "
            "and the number of dimensions)"
        )
    code, ndim = data[2], data[3]
    if code not in _TYPES:
        raise DatasetFormatError(f"{source}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{source}: truncated IDX header: {len(data)} bytes, expected {header}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes in"
        raise DatasetFormatError(
            f"{source}: {what} IDX file: header says shape {shape} ({expected} bytes), file has {len(data)} bytes"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzipped or raw.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "labels-idx1-ubyte"
    ...     _ = p.write_bytes(idx_bytes(np.array([3, 1, 4], dtype=np.uint8)))
    ...     read_idx(p)
    array([3, 1, 4], dtype=uint8)
    """
    return parse_idx(read_bytes(path), source=path)


def idx_bytes(array) -> bytes:
    """Encode an array (uint8, int8, int16, int32, float32 or float64) as IDX bytes.

    Examples
    --------
    >>> idx_bytes(np.array([1, 2], dtype=np.uint8)).hex()
    '00000801000000020102'
    """
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder(">").str if arr.dtype.itemsize > 1 else arr.dtype.str
    key = {"|u1": "|u1", "|i1": "|i1"}.get(key, key)
    code = {"|u1": 0x08, "|i1": 0x09}.get(key, _CODES.get(key))
    if code is None:
        raise TypeError(f"idx_bytes: IDX cannot store dtype {arr.dtype}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=_TYPES[code]).tobytes()


def find_idx_file(directory, stem: str):
    """The file holding IDX ``stem`` in ``directory`` (raw, ``.gz``, or the ``.idx3`` spelling), or None."""
    directory = Path(directory)
    dotted = stem.replace("-idx", ".idx")
    for candidate in (stem, stem + ".gz", dotted, dotted + ".gz"):
        path = directory / candidate
        if os.path.isfile(path):
            return path
    return None
