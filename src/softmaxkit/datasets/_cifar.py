"""Reader for the CIFAR-10 "python version" batches (``data_batch_1`` .. ``5``, ``test_batch``).

Each batch is a pickled dict (bytes keys in the official Python 2 files) with ``data``, a uint8
array of shape ``(10000, 3072)`` whose rows are the red, green and blue 32x32 planes, and ``labels``,
a list of ints in ``0..9``. ``batches.meta`` holds ``label_names``. The batches are read with
the restricted, size-checked ``safe_load`` of ``_unpickle``, never with plain :func:`pickle.load`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import DatasetFormatError
from ._labels import MAX_CLASSES, check_label_range, integer_labels
from ._unpickle import safe_load

__all__ = ["read_batch", "read_label_names"]


def _get(mapping, key):
    """``mapping[key]`` for str keys (NumPy 2 / Python 3 pickles) or bytes keys (the official files)."""
    if key in mapping:
        return mapping[key]
    return mapping.get(key.encode("ascii"))


def read_batch(path, *, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR batch file.

    Parameters
    ----------
    path : str or path
    n_classes : int, optional
        Labels must lie in ``range(n_classes)``.

    Returns
    -------
    images : ndarray of shape (n, 3, 32, 32), uint8
    labels : ndarray of shape (n,), int64

    Raises
    ------
    DatasetFormatError
        If the file is not a dict with ``data`` and ``labels``, the sizes are wrong, or the labels
        are not integers (floats are refused, never truncated) in ``range(n_classes)``; the message
        names the file.

    Examples
    --------
    >>> import io, pickle, tempfile, pathlib
    >>> batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 7]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "data_batch_1"
    ...     _ = p.write_bytes(pickle.dumps(batch, protocol=4))
    ...     x, y = read_batch(p)
    >>> x.shape, y
    ((2, 3, 32, 32), array([3, 7]))
    """
    path = Path(path)
    with open(path, "rb") as f:
        obj = safe_load(f, source=path)
    if not isinstance(obj, dict):
        raise DatasetFormatError(
            f"{path}: expected a CIFAR batch (a dict with 'data' and 'labels'), got {type(obj).__name__}"
        )
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if data is None or labels is None:
        keys = ", ".join(repr(k) for k in obj)
        raise DatasetFormatError(f"{path}: a CIFAR batch needs 'data' and 'labels' entries; found {keys or 'none'}")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetFormatError(f"{path}: 'data' must be a uint8 array of shape (n, 3072), got {desc}")
    y = integer_labels(labels, source=path, key="labels")  # floats are refused, never truncated
    if len(y) != len(data):
        raise DatasetFormatError(f"{path}: label count mismatch: {len(data)} images but {y.size} labels")
    check_label_range(y, n_classes, source=path, key="labels")
    return data.reshape(-1, 3, 32, 32), y


def read_label_names(path) -> tuple[str, ...]:
    """The ``label_names`` of a ``batches.meta`` file, decoded to str.

    Examples
    --------
    >>> import pickle, tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "batches.meta"
    ...     _ = p.write_bytes(pickle.dumps({b"label_names": [b"cat", b"dog"]}))
    ...     read_label_names(p)
    ('cat', 'dog')
    """
    path = Path(path)
    with open(path, "rb") as f:
        obj = safe_load(f, source=path)
    names = _get(obj, "label_names") if isinstance(obj, dict) else None
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DatasetFormatError(f"{path}: expected a dict with 'label_names', a list of strings")
    if not 1 <= len(names) <= MAX_CLASSES:
        raise DatasetFormatError(f"{path}: 'label_names' lists {len(names)} classes, expected 1..{MAX_CLASSES}")
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else n for n in names)
