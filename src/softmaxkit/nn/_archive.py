"""Reading a model file's zip archive without trusting it: members, ``.npy`` headers and data, within caps.

:func:`open_archive` opens the file through a reader that refuses to read more than a budget of bytes;
:func:`read_members` checks every member's declared size and ``.npy`` header against the caps and the
file's size before any data is read; :func:`read_member_data` streams one member into memory the
caller allocated from checked shapes. Nothing is ever unpickled.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
from dataclasses import dataclass

import numpy as np

from ..exceptions import ModelFileError
from ._format import MAX_LAYERS, describe, short

__all__ = [
    "Member",
    "open_archive",
    "read_members",
    "read_member_data",
    "MAX_DIRECTORY_BYTES",
    "MAX_MEMBERS",
    "MAX_NPY_HEADER_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_INFLATED_BYTES",
]

#: Bytes of zip central directory read when the archive is opened. A model with MAX_LAYERS layers
#: needs under 1 MiB; zipfile reads the whole directory at once and builds one object per entry.
MAX_DIRECTORY_BYTES = 4 * 2**20
#: Members of the archive: two parameters per layer and the header.
MAX_MEMBERS = 2 * MAX_LAYERS + 1
#: Bytes of one ``.npy`` header (NumPy writes about 128; its own reader allows 10,000).
MAX_NPY_HEADER_BYTES = 4096
#: A deflated member may claim at most this many times its compressed size (or 64 KiB, since a small
#: array of zeros compresses beyond any ratio). Float weights barely compress; a zip bomb inflates
#: 1000-fold.
MAX_COMPRESSION_RATIO = 100
#: Declared bytes of all deflated members together. The format itself is uncompressed (its members
#: are bounded by the file's size); compressed archives come from repacking and stay small.
MAX_INFLATED_BYTES = 64 * 2**20
#: Bytes copied from the archive at a time when filling a parameter.
_CHUNK = 16 * 2**20
_INFLATE_ALLOWANCE = 64 * 2**10
_NPY_SUFFIX = ".npy"


@dataclass
class Member:
    """One ``.npy`` member of the archive, as its headers declare it (nothing of its data read)."""

    info: zipfile.ZipInfo
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    data_offset: int  # bytes of .npy header before the data


class _ReadBudget:
    """The model file as :class:`zipfile.ZipFile` reads it, refusing to read more than a budget of bytes.

    zipfile reads the whole central directory, whose size it takes from the file, when it opens an
    archive: the first budget (:data:`MAX_DIRECTORY_BYTES`) stops a forged directory before it is
    read. Once the archive is open the budget becomes twice the file's size: reading every member
    once needs about one file size, and forged local headers (padding, overlapping members) cannot
    make the reader go round in circles.
    """

    def __init__(self, f, path: str):
        self._f, self._path = f, path
        self.size = os.fstat(f.fileno()).st_size
        self.budget = MAX_DIRECTORY_BYTES
        self.refusal = f"a zip directory of more than {MAX_DIRECTORY_BYTES} bytes"

    def openread_members(self) -> None:
        """The directory is read: from now on allow reading each member about once."""
        self.budget = 2 * self.size + 2**20
        self.refusal = "its members ask to read more bytes than the file holds (overlapping or padded members)"

    def read(self, n=-1):
        if n is None or n < 0:
            n = max(self.size - self._f.tell(), 0)
        if n > self.budget:
            raise ModelFileError(f"{self._path}: not a readable softmaxkit model file ({self.refusal})")
        data = self._f.read(n)
        self.budget -= len(data)
        return data

    def seek(self, offset, whence=0):
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()

    def seekable(self):
        return True

    def close(self):
        self._f.close()


def open_archive(path: str) -> zipfile.ZipFile:
    """The file as a zip archive, read through a :class:`_ReadBudget`."""
    f = open(path, "rb")  # the ZipFile owns it and closes it
    try:
        reader = _ReadBudget(f, path)
        archive = zipfile.ZipFile(reader)
        reader.openread_members()
        return archive
    except (ModelFileError, MemoryError):
        f.close()
        raise
    except Exception as exc:  # zipfile on arbitrary bytes raises BadZipFile, OSError, ValueError, ...
        f.seek(0)
        magic = f.read(6)
        f.close()
        if magic == b"\x93NUMPY":
            raise ModelFileError(
                f"{path}: not a softmaxkit model file (a single .npy array, not an .npz archive)"
            ) from None
        raise ModelFileError(f"{path}: not a readable softmaxkit model file ({describe(exc)})") from None


def read_members(path: str, archive: zipfile.ZipFile) -> dict[str, Member]:
    """Every member's declared size and ``.npy`` header, checked against the caps and the file's size."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(f"{path}: not a softmaxkit model file ({len(infos)} arrays, at most {MAX_MEMBERS})")
    file_size = os.path.getsize(path)
    stored = inflated = 0
    members = {}
    for info in infos:
        name = _array_name(path, info, members)
        _check_member_size(path, info, name, file_size)
        # Members that overlap (all pointing at the same bytes) would multiply the file's data.
        stored += info.compress_size
        if stored > file_size:
            raise ModelFileError(f"{path}: not a readable softmaxkit model file (its members overlap)")
        if info.compress_type == zipfile.ZIP_DEFLATED:
            inflated += info.file_size
            if inflated > MAX_INFLATED_BYTES:
                raise ModelFileError(
                    f"{path}: compressed arrays inflate to more than {MAX_INFLATED_BYTES} bytes in all "
                    "(save the model uncompressed, as softmaxkit does)"
                )
        members[name] = _npy_member(path, archive, info, name)
    return members


def _array_name(path: str, info: zipfile.ZipInfo, seen: dict) -> str:
    """The array a member holds (its name without ``.npy``), refusing other names and repeats."""
    name = info.filename
    if not name.endswith(_NPY_SUFFIX) or name.startswith(("/", ".")) or "/" in name:
        raise ModelFileError(f"{path}: unexpected arrays [{short(name)}]")
    name = name[: -len(_NPY_SUFFIX)]
    if name in seen:
        raise ModelFileError(f"{path}: array {short(name)} is stored twice")
    return name


def _check_member_size(path: str, info: zipfile.ZipInfo, name: str, file_size: int) -> None:
    """A member must be unencrypted, stored or deflated, and declare a size its file can hold."""
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{path}: array {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(f"{path}: array {name!r} uses an unsupported compression ({info.compress_type})")
    if info.header_offset + info.compress_size > file_size:
        raise ModelFileError(f"{path}: array {name!r} extends past the end of the file (truncated?)")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ModelFileError(f"{path}: array {name!r} declares {info.file_size} bytes but stores {info.compress_size}")
    limit = max(MAX_COMPRESSION_RATIO * info.compress_size, _INFLATE_ALLOWANCE)
    if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > limit:
        raise ModelFileError(
            f"{path}: array {name!r} claims to inflate from {info.compress_size} to {info.file_size} bytes, "
            f"more than {MAX_COMPRESSION_RATIO} times (a zip bomb?)"
        )


def _npy_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Member:
    """Read a member's ``.npy`` header only, and check that the member holds exactly the data it declares."""
    try:
        with archive.open(info) as fp:
            shape, fortran_order, dtype, offset = _npy_header(fp)
    except _NpyHeaderError as exc:
        raise ModelFileError(f"{path}: array {name!r}: {exc}") from None
    except (ModelFileError, MemoryError):
        raise
    except Exception as exc:  # zipfile and NumPy's header parser raise many types on arbitrary bytes
        raise ModelFileError(f"{path}: not a readable softmaxkit model file ({name!r}: {describe(exc)})") from None
    if dtype.hasobject:
        raise ModelFileError(
            f"{path}: not a readable softmaxkit model file (array {name!r} holds Python objects; "
            "model files are never unpickled)"
        )
    if any(d < 0 for d in shape):
        raise ModelFileError(f"{path}: array {name!r} has a negative dimension {short(shape)}")
    if math.prod(shape) * dtype.itemsize != info.file_size - offset:
        raise ModelFileError(
            f"{path}: array {name!r} declares shape {short(shape)} of {dtype}, but its member holds "
            f"{info.file_size - offset} bytes of data (truncated or forged)"
        )
    return Member(info, shape, dtype, fortran_order, offset)


def _npy_header(fp) -> tuple[tuple, bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, header bytes)`` of the ``.npy`` stream ``fp``, reading only its header.

    NumPy's reader takes the header length from the file and reads that many bytes before checking
    it; the length is checked here first.
    """
    version = np.lib.format.read_magic(fp)
    if version not in ((1, 0), (2, 0)):
        raise _NpyHeaderError(f".npy format version {version} (softmaxkit reads 1.0 and 2.0)")
    length_format = "<H" if version == (1, 0) else "<I"
    raw_length = fp.read(struct.calcsize(length_format))
    if len(raw_length) != struct.calcsize(length_format):
        raise _NpyHeaderError("truncated .npy header")
    (length,) = struct.unpack(length_format, raw_length)
    if length > MAX_NPY_HEADER_BYTES:
        raise _NpyHeaderError(f".npy header of {length} bytes, more than {MAX_NPY_HEADER_BYTES}")
    text = fp.read(length)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran_order, dtype = reader(_Bytes(raw_length + text), max_header_size=MAX_NPY_HEADER_BYTES)
    except (RecursionError, MemoryError):  # Python's parser gives up on deeply nested literals this way
        raise _NpyHeaderError(".npy header nested too deeply to parse") from None
    return shape, fortran_order, dtype, np.lib.format.MAGIC_LEN + len(raw_length) + length


class _NpyHeaderError(ValueError):
    """A ``.npy`` header softmaxkit refuses (the caller adds the file and array names)."""


class _Bytes:
    """A minimal read-only stream over bytes (what NumPy's header readers need)."""

    def __init__(self, data: bytes):
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def read_member_data(path: str, archive: zipfile.ZipFile, member: Member, name: str, out: np.ndarray) -> None:
    """Copy a member's data into the flat byte view ``out``, reading to its end so that zipfile checks the CRC."""
    try:
        with archive.open(member.info) as fp:
            fp.read(member.data_offset)
            pos = 0
            while pos < out.size:
                chunk = fp.read(min(out.size - pos, _CHUNK))
                if not chunk:
                    raise ModelFileError(f"{path}: array {name!r} is truncated")
                out[pos : pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
                pos += len(chunk)
            if fp.read(1):
                raise ModelFileError(f"{path}: array {name!r} holds more data than its shape")
    except (ModelFileError, MemoryError):
        raise
    except Exception as exc:  # a bad CRC, a corrupt deflate stream, a forged local header, ...
        raise ModelFileError(f"{path}: not a readable softmaxkit model file ({name!r}: {describe(exc)})") from None
