"""Bounds on what a data file may make softmaxkit allocate, and a reader that never trusts a declared size.

Data files are untrusted. A size written in a header (an IDX shape, a ``.npy`` header, a zip entry, a
pickle opcode) is only believed once it is consistent with the bytes actually present:

* an uncompressed file must hold exactly the bytes its header declares;
* a compressed stream (gzip IDX, a deflated ``.npz`` member) may declare at most
  :data:`MAX_EXPANSION` times its compressed size, or :data:`EXPANSION_GRACE` bytes, whichever is
  more. Deflate cannot expand more than about 1032:1, real image data compresses 2-10:1, and Apache
  POI's ``ZipSecureFile`` refuses zip entries that inflate more than 100:1 for the same reason: a
  small file that would fill the memory (a "decompression bomb") is refused before anything is
  decompressed, and a file of ``s`` bytes never makes softmaxkit allocate more than
  ``max(64 MiB, 100 s)`` bytes for its raw content (float32 images made from bytes take 4x that).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["MAX_EXPANSION", "EXPANSION_GRACE", "check_expansion", "read_exactly", "expect_end"]

#: Most a compressed stream may expand (uncompressed bytes per compressed byte) above the grace size.
MAX_EXPANSION = 100

#: Uncompressed size allowed whatever the compression ratio (small, harmless allocations).
EXPANSION_GRACE = 64 * 2**20

_CHUNK = 1 << 22


def check_expansion(declared: int, stored: int, *, source, what: str) -> None:
    """Refuse a compressed stream of ``stored`` bytes whose content is declared as ``declared`` bytes.

    Raises
    ------
    DatasetFormatError
        If ``declared`` exceeds ``max(EXPANSION_GRACE, MAX_EXPANSION * stored)``.

    Examples
    --------
    >>> check_expansion(10**6, 10**4, source="f", what="x")
    >>> check_expansion(10**12, 10**4, source="f", what="x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.DatasetFormatError: f: x declares 1000000000000 bytes but is stored in 10000 compressed bytes...
    """
    if declared > max(EXPANSION_GRACE, MAX_EXPANSION * stored):
        raise DatasetFormatError(
            f"{source}: {what} declares {declared} bytes but is stored in {stored} compressed bytes, "
            f"more than {MAX_EXPANSION}x expansion: a corrupt header or a decompression bomb; refused"
        )


def read_exactly(stream, nbytes: int, *, source, what: str, digest=None) -> np.ndarray:
    """Read exactly ``nbytes`` bytes from ``stream`` into a new uint8 array, updating ``digest`` as they come.

    The caller has already checked ``nbytes`` against the bytes present (see the module docstring),
    so allocating it up front is safe; reading in chunks lets a hash run while the data streams in.

    Raises
    ------
    DatasetFormatError
        If the stream ends early ("truncated").
    """
    buf = np.empty(nbytes, dtype=np.uint8)
    view = memoryview(buf)
    done = 0
    while done < nbytes:
        got = stream.readinto(view[done : done + _CHUNK])
        if not got:
            raise DatasetFormatError(f"{source}: truncated {what}: expected {nbytes} bytes of data, found {done}")
        if digest is not None:
            digest.update(view[done : done + got])
        done += got
    return buf


def expect_end(stream, *, source, what: str) -> None:
    """Refuse data after the declared content; reading to the end also makes gzip and zip check their CRC."""
    if stream.read(1):
        raise DatasetFormatError(f"{source}: trailing bytes in {what}: more data than its header declares")
