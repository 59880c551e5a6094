"""Atomic file writes: write to a temporary file beside the target, fsync, then rename over it.

The one writer every file softmaxkit produces goes through (model files, figures, reports, fetched
data): a crash or Ctrl-C mid-write leaves any previous file intact and no half-written one behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", *, check=None, encoding=None):
    """Context manager yielding a file object whose contents replace ``path`` only on success.

    Parameters
    ----------
    path : path-like
        The file to create or replace; its directory must exist.
    mode : {"wb", "w"}, default "wb"
        Binary or text.
    check : callable, optional
        ``check(tmp_path)`` runs on the complete temporary file before the rename (e.g. a checksum);
        if it raises, the temporary file is deleted and ``path`` is left untouched.
    encoding : str, optional
        For text mode.

    Notes
    -----
    The file gets the usual permissions (``0666`` less the umask), not ``mkstemp``'s ``0600``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target, "w") as handle:
    ...     _ = handle.write("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if check is not None:
            check(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
