"""``.npy`` arrays and ``.npz`` archives read from untrusted files without believing their headers.

:func:`numpy.load` allocates whatever a header declares (an array header length, an array shape)
before it knows whether the file holds that much. Here every declared size is checked against the
bytes present first (see :mod:`~softmaxkit.datasets._limits`), object arrays are refused (they would
need pickle), and only the members a caller asks for are read from an archive.
"""

from __future__ import annotations

import io
import lzma
import math
import os
import struct
import zipfile
import zlib

import numpy as np
from numpy.lib.format import MAGIC_LEN, read_array_header_1_0, read_array_header_2_0, read_magic

from ..exceptions import DatasetFormatError
from ._limits import check_expansion, expect_end, read_exactly

__all__ = ["read_npy", "read_npz"]

#: Longest ``.npy`` header accepted (NumPy's own default limit for untrusted files).
MAX_HEADER_BYTES = 10_000

# What a damaged zip member can raise while it is opened or decompressed.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, lzma.LZMAError,
               struct.error, RuntimeError, NotImplementedError)  # fmt: skip


def read_npy(file, *, size: int | None = None, source=None) -> np.ndarray:
    """Read one ``.npy`` array, checking its header against the bytes present before allocating.

    Parameters
    ----------
    file : str, path or binary file object
        A path, or a stream positioned at the start of the array (a zip member, say).
    size : int, optional
        The number of bytes the stream holds; required for a file object, taken from the file
        system for a path.
    source : str or path, optional
        Named in error messages (default: the path).

    Returns
    -------
    ndarray
        Writable, of the stored dtype, shape and memory order.

    Raises
    ------
    DatasetFormatError
        Not an ``.npy`` array, a header longer than 10000 bytes, a shape whose size differs from
        the bytes present (truncated or trailing data), or an object dtype (which would need
        pickle: never allowed).
    OSError
        The path cannot be opened.

    Examples
    --------
    >>> import io
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.arange(3))
    >>> read_npy(io.BytesIO(buf.getvalue()), size=len(buf.getvalue()), source="a.npy")
    array([0, 1, 2])
    >>> read_npy(io.BytesIO(buf.getvalue()[:-4]), size=len(buf.getvalue()) - 4, source="a.npy")
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.DatasetFormatError: a.npy: truncated .npy array: the header declares shape (3,) of int64 (152 bytes with the header), the file holds 148
    """
    if isinstance(file, (str, os.PathLike)):
        source = file if source is None else source
        with open(file, "rb") as f:
            return _read_npy_stream(f, os.fstat(f.fileno()).st_size, source)
    if size is None:
        raise TypeError("read_npy: give size= (the bytes the stream holds) with a file object")
    return _read_npy_stream(file, size, "<stream>" if source is None else source)


def _read_npy_stream(fp, size: int, source) -> np.ndarray:
    shape, fortran, dtype, header_bytes = _read_header(fp, source)
    count = math.prod(shape)
    total = header_bytes + count * dtype.itemsize  # Python ints: a hostile shape cannot overflow
    if total != size:
        what = "truncated" if total > size else "trailing bytes in"
        raise DatasetFormatError(
            f"{source}: {what} .npy array: the header declares shape {shape} of {dtype} "
            f"({total} bytes with the header), the file holds {size}"
        )
    what = ".npy array"
    buf = read_exactly(fp, count * dtype.itemsize, source=source, what=what)
    expect_end(fp, source=source, what=what)
    try:
        flat = buf.view(dtype)
        return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    except ValueError as exc:
        raise DatasetFormatError(f"{source}: not a valid .npy array ({exc})") from None


def _read_header(fp, source) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Shape, Fortran order, dtype and the header's size in bytes; its length is checked before it is read."""
    try:
        version = read_magic(fp)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"unknown .npy format version {version}")
        length_format = "<H" if version == (1, 0) else "<I"
        raw_length = fp.read(struct.calcsize(length_format))
        if len(raw_length) < struct.calcsize(length_format):
            raise ValueError("the file ends inside the header")
        (length,) = struct.unpack(length_format, raw_length)
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"a header of {length} bytes (at most {MAX_HEADER_BYTES} are read)")
        header = fp.read(length)
        if len(header) < length:
            raise ValueError("the file ends inside the header")
        # Version 3 differs from 2 only in allowing UTF-8 field names, which no data set array has.
        reader = read_array_header_1_0 if version == (1, 0) else read_array_header_2_0
        shape, fortran, dtype = reader(io.BytesIO(raw_length + header), max_header_size=MAX_HEADER_BYTES)
    except Exception as exc:  # NumPy's parser (literal_eval, tokenize, np.dtype) fails in many ways
        raise DatasetFormatError(f"{source}: not a valid .npy array ({type(exc).__name__}: {exc})") from None
    if any(n < 0 for n in shape):
        raise DatasetFormatError(f"{source}: not a valid .npy array (negative size in shape {shape})")
    if dtype.hasobject:
        raise DatasetFormatError(
            f"{source}: cannot read an array of dtype {dtype}: it would need pickle, which data files never get"
        )
    if dtype.itemsize == 0 and math.prod(shape) > 0:
        raise DatasetFormatError(f"{source}: not a valid .npy array (elements of zero size, dtype {dtype})")
    return tuple(shape), fortran, dtype, MAGIC_LEN + len(raw_length) + length


def read_npz(path, keys) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the ``.npz`` archive ``path`` that it holds (others are never read).

    Each member's declared size is checked against the archive before it is decompressed: its
    compressed size must fit in the file, and its content may not expand beyond the bound of
    :func:`~softmaxkit.datasets._limits.check_expansion` (a zip bomb is refused unread).

    Raises
    ------
    DatasetFormatError
        Not a zip archive, or a damaged, oversized or unreadable member; the message names the
        file (and the array).
    """
    archive_size = os.path.getsize(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {i.filename.removesuffix(".npy"): i for i in archive.infolist() if i.filename.endswith(".npy")}
            return {
                key: _read_member(archive, members[key], archive_size, source=f"{path} (array {key!r})")
                for key in keys
                if key in members
            }
    except DatasetFormatError:
        raise
    except (*_ZIP_ERRORS, ValueError) as exc:
        raise DatasetFormatError(f"{path}: cannot read as .npz ({exc})") from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int, *, source) -> np.ndarray:
    if info.compress_size > archive_size:
        raise DatasetFormatError(
            f"{source}: the zip entry declares {info.compress_size} compressed bytes, the archive has {archive_size}"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise DatasetFormatError(
            f"{source}: an uncompressed zip entry declares {info.file_size} bytes but stores {info.compress_size}"
        )
    check_expansion(info.file_size, info.compress_size, source=source, what="the zip entry")
    try:
        with archive.open(info) as member:
            return read_npy(member, size=info.file_size, source=source)
    except _ZIP_ERRORS as exc:
        raise DatasetFormatError(f"{source}: corrupt zip entry ({type(exc).__name__}: {exc})") from None
