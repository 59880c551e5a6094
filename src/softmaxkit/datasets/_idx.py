"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (gzipped or raw).

An IDX file is ``0x00 0x00 TYPE NDIM``, then ``NDIM`` big-endian uint32 sizes, then the values in
C order, big-endian. See http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS FOR THE MNIST DATABASE").

Files are read as a stream: the header is parsed first and the size it declares is checked against
the file (a raw file must hold exactly that many bytes; a gzipped one may not claim more than the
expansion bound of :mod:`~softmaxkit.datasets._limits`; with a known SHA-256, the size of the
official file) before anything is allocated. The SHA-256 of the uncompressed content is computed
while it is decompressed, so a file is read once.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..exceptions import ChecksumError, DatasetFormatError
from ._limits import check_expansion, expect_end, read_exactly
from ._registry import known_size

__all__ = ["parse_idx", "read_idx", "idx_bytes", "find_idx_file", "GZIP_MAGIC"]

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
    return _read_stream(io.BytesIO(data), stored=len(data), compressed=False, source=source, sha256=None)


def read_idx(path, *, sha256: str | None = None, source=None) -> np.ndarray:
    """Read an IDX file, gzipped or raw, optionally checking the SHA-256 of its uncompressed content.

    Parameters
    ----------
    path : str or path
    sha256 : str, optional
        Expected hex digest of the uncompressed bytes. When it is the digest of an official file,
        the header must also declare that file's size, so a wrong file is refused before its data
        is read.
    source : str or path, optional
        Named in error messages (default: ``path``).

    Raises
    ------
    DatasetFormatError
        The file is malformed, truncated, has trailing data or is a corrupt gzip stream.
    ChecksumError
        The digest (or the declared size) differs from ``sha256``'s; the message says "checksum
        mismatch" and gives both digests.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "labels-idx1-ubyte"
    ...     _ = p.write_bytes(idx_bytes(np.array([3, 1, 4], dtype=np.uint8)))
    ...     read_idx(p)
    array([3, 1, 4], dtype=uint8)
    """
    source = path if source is None else source
    with open(path, "rb") as f:
        stored = os.fstat(f.fileno()).st_size
        compressed = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if not compressed:
            return _read_stream(f, stored=stored, compressed=False, source=source, sha256=sha256)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return _read_stream(g, stored=stored, compressed=True, source=source, sha256=sha256)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{source}: corrupt gzip file ({exc})") from None


def _read_stream(stream, *, stored: int, compressed: bool, source, sha256: str | None) -> np.ndarray:
    """Parse an IDX stream: header, size checks, then the data, hashed as it is read."""
    digest = hashlib.sha256()
    head = _read_header(stream, source)
    digest.update(head)
    shape, dtype = _shape_and_dtype(head)
    total = len(head) + math.prod(shape) * dtype.itemsize  # Python ints: no overflow from hostile sizes
    _check_declared_size(total, shape, stored=stored, compressed=compressed, source=source, sha256=sha256)
    what = "IDX file"
    buf = read_exactly(stream, total - len(head), source=source, what=what, digest=digest)
    expect_end(stream, source=source, what=what)
    if sha256 is not None and digest.hexdigest() != sha256:
        raise ChecksumError(
            f"{source}: checksum mismatch: SHA-256 of the uncompressed content is {digest.hexdigest()}, "
            f"expected {sha256}"
        )
    return buf.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _read_header(stream, source) -> bytes:
    """The magic number and the dimension sizes, checked for a known type code."""
    head = stream.read(4)
    if len(head) < 4:
        raise DatasetFormatError(f"{source}: truncated IDX file: {len(head)} bytes, too short for the header")
    if head[0] != 0 or head[1] != 0:
        raise DatasetFormatError(
            f"{source}: bad IDX magic number 0x{int.from_bytes(head, 'big'):08x} (expected 0x0000 followed by "
            "a type code and the number of dimensions)"
        )
    if head[2] not in _TYPES:
        raise DatasetFormatError(f"{source}: unknown IDX type code 0x{head[2]:02x}")
    sizes = stream.read(4 * head[3])
    if len(sizes) < 4 * head[3]:
        raise DatasetFormatError(f"{source}: truncated IDX header: {4 + len(sizes)} bytes, expected {4 + 4 * head[3]}")
    return head + sizes


def _shape_and_dtype(head: bytes) -> tuple[tuple[int, ...], np.dtype]:
    ndim = head[3]
    return struct.unpack(f">{ndim}I", head[4:]), _TYPES[head[2]]


def _check_declared_size(total: int, shape, *, stored: int, compressed: bool, source, sha256) -> None:
    """Believe the header's size only if the file can hold it; refuse before allocating otherwise."""
    official = known_size(sha256)
    if official is not None and total != official:
        raise ChecksumError(
            f"{source}: checksum mismatch: the header declares shape {shape} ({total} bytes) but the file "
            f"with SHA-256 {sha256} has {official} bytes"
        )
    if compressed:
        check_expansion(total, stored, source=source, what=f"the IDX header (shape {shape})")
    elif total != stored:
        what = "truncated" if stored < total else "trailing bytes in"
        raise DatasetFormatError(
            f"{source}: {what} IDX file: header says shape {shape} ({total} bytes), file has {stored} bytes"
        )


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
