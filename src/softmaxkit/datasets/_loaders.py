"""One loader per storage format: scikit-learn's digits, IDX directories, CIFAR batches, user ``.npz``.

Every loader returns a :class:`~softmaxkit.datasets.Dataset` with float32 NCHW images and int64 labels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..exceptions import ChecksumError, DatasetFormatError
from ._cifar import read_batch, read_label_names
from ._dataset import Dataset
from ._idx import find_idx_file, read_idx
from ._labels import MAX_CLASSES, check_label_range, infer_class_count, integer_labels
from ._npy import read_npz
from ._pixels import BYTE_SCALING, scale_pixels
from ._registry import CIFAR10_META, CIFAR10_SUBDIR, DatasetSpec

__all__ = ["load_digits", "load_idx", "load_cifar", "load_npz", "missing_files", "cifar_dir"]

DIGITS_SCALING = "pixel (0..16) / 16 -> float32 in [0, 1]"


def _scale_bytes(images: np.ndarray) -> np.ndarray:
    return scale_pixels(images)[0]


def load_digits(*, test_size: float = 0.2, random_state: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images) with a fixed, stratified 80/20 split.

    The split is ``train_test_split(..., test_size=0.2, stratify=y, random_state=0)``, so every
    call returns the same 1437 training and 360 test images with the class proportions preserved.

    Examples
    --------
    >>> ds = load_digits()
    >>> ds.x_train.shape, ds.x_test.shape, float(ds.x_train.max())
    ((1437, 1, 8, 8), (360, 1, 8, 8), 1.0)
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=random_state
    )
    names = tuple(str(k) for k in range(10))
    return Dataset(x_train, y_train, x_test, y_test, names, "digits", DIGITS_SCALING)


def missing_files(spec: DatasetSpec, directory: Path) -> list[str]:
    """The files of ``spec`` that ``directory`` lacks (empty when the data set is complete there)."""
    if spec.kind == "idx":
        return [f"{stem}[.gz]" for stem in spec.files if find_idx_file(directory, stem) is None]
    base = cifar_dir(directory)
    return [name for name in spec.files if not os.path.isfile(base / name)]


def cifar_dir(directory: Path) -> Path:
    """``directory/cifar-10-batches-py`` if it exists (the tarball's layout), else ``directory``."""
    sub = Path(directory) / CIFAR10_SUBDIR
    return sub if sub.is_dir() else Path(directory)


def _verified_idx(path: Path, expected: str | None, verify: bool) -> np.ndarray:
    if not verify or expected is None:
        return read_idx(path)
    try:
        return read_idx(path, sha256=expected)
    except ChecksumError as exc:
        raise ChecksumError(
            f"{exc}; the file is corrupt or not the official one (fetch it again, or pass verify=False "
            "to load your own files)"
        ) from None


def load_idx(spec: DatasetSpec, directory: Path, *, verify: bool = True) -> Dataset:
    """Load an MNIST-layout data set (four IDX files, gzipped or raw) from ``directory``."""
    arrays = {}
    for stem in spec.files:
        path = find_idx_file(directory, stem)
        arr = _verified_idx(path, spec.checksums.get(stem), verify)
        want_ndim = 3 if "images" in stem else 1
        if arr.dtype != np.uint8 or arr.ndim != want_ndim:
            raise DatasetFormatError(
                f"{path}: expected a uint8 array with {want_ndim} dimension(s), got {arr.dtype} of shape {arr.shape}"
            )
        arrays[stem] = (path, arr)
    n_classes = len(spec.class_names)
    split = {}
    for part in ("train", "t10k"):
        img_path, images = arrays[f"{part}-images-idx3-ubyte"]
        lab_path, labels = arrays[f"{part}-labels-idx1-ubyte"]
        if len(images) != len(labels):
            raise DatasetFormatError(
                f"{lab_path}: label count mismatch: {len(labels)} labels for {len(images)} images in {img_path.name}"
            )
        check_label_range(labels, n_classes, source=lab_path, key=lab_path.name)
        split[part] = (_scale_bytes(images)[:, None, :, :], labels.astype(np.int64))
    (x_train, y_train), (x_test, y_test) = split["train"], split["t10k"]
    return Dataset(x_train, y_train, x_test, y_test, spec.class_names, spec.name, BYTE_SCALING)


def load_cifar(spec: DatasetSpec, directory: Path) -> Dataset:
    """Load CIFAR-10 from the python batches in ``directory`` (or its ``cifar-10-batches-py``)."""
    base = cifar_dir(directory)
    meta = base / CIFAR10_META
    names = read_label_names(meta) if meta.is_file() else spec.class_names
    n_classes = len(names)
    train = [read_batch(base / f, n_classes=n_classes) for f in spec.files if f.startswith("data_batch")]
    x_test, y_test = read_batch(base / "test_batch", n_classes=n_classes)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return Dataset(_scale_bytes(x_train), y_train, _scale_bytes(x_test), y_test, names, spec.name, BYTE_SCALING)


_NPZ_KEYS = ("x", "y", "x_test", "y_test", "class_names")


def _npz_images(x: np.ndarray, path, key: str) -> tuple[np.ndarray, str]:
    """Float32 samples of array ``key``: ``(n, features)``, ``(n, h, w)`` (gains a channel axis) or NCHW."""
    if not 2 <= x.ndim <= 4:
        raise DatasetFormatError(
            f"{path}: {key!r} must have shape (n, features), (n, height, width) or (n, channels, height, width), "
            f"got {x.shape}"
        )
    if x.ndim == 3:
        x = x[:, None, :, :]
    return scale_pixels(x, source=f"{path} (array {key!r})")


def _npz_labels(y: np.ndarray, n: int, path, key: str) -> np.ndarray:
    labels = integer_labels(y, source=path, key=key)
    if len(labels) != n:
        raise DatasetFormatError(f"{path}: label count mismatch: {n} samples but {len(labels)} labels in {key!r}")
    return labels


def _npz_class_names(names: np.ndarray, path) -> tuple[str, ...]:
    """The names as str (bytes decoded as UTF-8); at most MAX_CLASSES of them, strings or integers."""
    if names.dtype.kind not in "USiu" or names.size > MAX_CLASSES:
        raise DatasetFormatError(
            f"{path}: 'class_names' must be at most {MAX_CLASSES} strings, got {names.size} of dtype {names.dtype}"
        )
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names.ravel().tolist())


def load_npz(path) -> Dataset:
    """Load a user's ``.npz``: ``x``, ``y`` and optionally ``x_test``, ``y_test``, ``class_names``.

    ``x`` is ``(n, channels, height, width)`` (NCHW; ``(n, height, width)`` gains a channel axis,
    ``(n, features)`` stays flat), scaled by :func:`~softmaxkit.datasets.scale_pixels` (uint8 / 255,
    uint16 / 65535, bool 0/1, finite floats as stored, other integers refused); ``x_test`` must be
    stored the same way. Without ``x_test``/``y_test`` the test arrays are empty: no split is
    invented. Labels must be non-negative integers below the class count: ``len(class_names)``, or
    without names ``max(label) + 1``, believed only if at least a tenth of those classes occur (and
    never more than 100000). Read without pickle, and without believing any size the file declares.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "toy.npz"
    ...     np.savez(p, x=np.full((4, 2, 2), 255, np.uint8), y=np.array([0, 1, 1, 0]))
    ...     ds = load_npz(p)
    >>> ds.x_train.shape, ds.x_test.shape, ds.class_names, float(ds.x_train.max())
    ((4, 1, 2, 2), (0, 1, 2, 2), ('0', '1'), 1.0)
    """
    path = Path(path)
    arrays = read_npz(path, _NPZ_KEYS)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DatasetFormatError(
            f"{path}: a data set .npz needs arrays 'x' and 'y'; missing {missing}, found {sorted(arrays)}"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DatasetFormatError(f"{path}: 'x_test' and 'y_test' must be given together")
    x_train, scaling = _npz_images(arrays["x"], path, "x")
    y_train = _npz_labels(arrays["y"], len(x_train), path, "y")
    if "x_test" in arrays:
        x_test, test_scaling = _npz_images(arrays["x_test"], path, "x_test")
        if x_test.shape[1:] != x_train.shape[1:]:
            raise DatasetFormatError(
                f"{path}: 'x_test' samples have shape {x_test.shape[1:]}, 'x' has {x_train.shape[1:]}"
            )
        if test_scaling != scaling:  # e.g. uint8 training images but float test images: not comparable
            raise DatasetFormatError(f"{path}: 'x' is scaled as {scaling!r} but 'x_test' as {test_scaling!r}")
        y_test = _npz_labels(arrays["y_test"], len(x_test), path, "y_test")
    else:
        x_test = np.zeros((0, *x_train.shape[1:]), dtype=np.float32)
        y_test = np.zeros(0, dtype=np.int64)
    if "class_names" in arrays:
        names = _npz_class_names(arrays["class_names"], path)
        for key, y in (("y", y_train), ("y_test", y_test)):
            check_label_range(y, len(names), source=path, key=key)
    else:
        names = tuple(str(k) for k in range(infer_class_count([y_train, y_test], source=path)))
    return Dataset(x_train, y_train, x_test, y_test, names, str(path), scaling)
