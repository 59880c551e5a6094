"""Every exception softmaxkit raises on purpose, in one place.

Each one derives from the built-in exception a caller would catch without knowing softmaxkit
(``ValueError`` for bad values and files, ``FileNotFoundError`` for missing data, ``OSError`` for
failed downloads), so ``except ValueError`` keeps working. The packages that raise them re-export
them where users look (``softmaxkit.nn.ModelFileError``, ``softmaxkit.datasets.DatasetNotFoundError``,
...); they are the same classes.

Examples
--------
>>> from softmaxkit.exceptions import ModelFileError
>>> issubclass(ModelFileError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "NotFittedError",
    "ModelFileError",
    "InputError",
    "DatasetNotFoundError",
    "DatasetFormatError",
    "ChecksumError",
    "FetchError",
    "CLIError",
    "Terminated",
]


class NotFittedError(ValueError, AttributeError):
    """A calibrator, conformal predictor or calibrated model was used before ``fit``."""


class ModelFileError(ValueError):
    """A model file is missing, unreadable, corrupt, of another format or version, or inconsistent."""


class InputError(ValueError):
    """An input file for prediction cannot be read or does not fit the model."""


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set are in none of the searched directories.

    The message says where the files were looked for and how to get them (the ``softmaxkit data
    fetch NAME`` command, or where to put the files by hand).
    """


class DatasetFormatError(ValueError):
    """A data set file is malformed: bad magic number, truncated, wrong sizes, labels out of range."""


class ChecksumError(DatasetFormatError):
    """A file's SHA-256 digest differs from the one the registry expects."""


class FetchError(OSError):
    """A download or a copy from an installed package failed (HTTP error, missing package files)."""


class CLIError(Exception):
    """A user-facing command-line error: printed as one line on stderr, no traceback, exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered by the command line where Ctrl-C's KeyboardInterrupt would be.

    It is a KeyboardInterrupt, so everything that stops cleanly on Ctrl-C (training keeps the best
    model so far) stops the same way on SIGTERM.
    """
