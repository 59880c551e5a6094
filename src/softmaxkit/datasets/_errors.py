"""Exceptions raised by :mod:`softmaxkit.datasets`: one place for their names and base classes."""

from __future__ import annotations

__all__ = ["DatasetNotFoundError", "DatasetFormatError", "ChecksumError", "FetchError"]


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are in none of the searched directories.

    The message says where the files were looked for and how to get them (the ``softmaxkit data
    fetch NAME`` command, or where to put the files by hand).
    """


class DatasetFormatError(ValueError):
    """A dataset file is malformed: bad magic number, truncated, wrong sizes, labels out of range."""


class ChecksumError(DatasetFormatError):
    """A file's SHA-256 digest differs from the one the registry expects."""


class FetchError(OSError):
    """A download or a copy from an installed package failed (HTTP error, missing package files)."""


# Tracebacks and reprs show the public path, not the private module.
for _cls in (DatasetNotFoundError, DatasetFormatError, ChecksumError, FetchError):
    _cls.__module__ = "softmaxkit.datasets"
