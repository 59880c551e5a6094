"""Image folders: one subfolder per class, decoded in parallel and cached.

Layouts (names starting with ``.`` are ignored everywhere, and so are files that are not images):

* ``DIR/<class>/...``: the classes are the subfolders, sorted; images are found recursively under
  each; a seeded stratified split (:func:`~softmaxkit.datasets.splits.train_val_split`) holds out
  ``test_fraction`` of each class as the test set.
* ``DIR/train/<class>/...`` and ``DIR/test/<class>/...`` (both present): the split is given. The
  classes come from ``train/``; ``test/`` may lack some, but may not add one.

Decoded images are cached in ``cache_dir`` (``$SOFTMAXKIT_CACHE``, else
``~/.cache/softmaxkit/decoded``), one ``.npz`` file per folder and preprocessing, under a SHA-256 key
of the cache format, the folder's absolute path, its sorted file list with each file's size and
modification time (ns), and the preprocessing: touching, adding or removing an image decodes the
folder again; an unchanged folder is not even opened. The pixels are stored exactly, in the
narrowest of uint8, uint16 and float32 that holds them, so a cached load returns the very float32
arrays a fresh one does. A cache file that is unreadable or does not match is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from .._validation import HALF_OPEN_FRACTION, Integer, Options, OrNone, validate
from ..exceptions import DatasetFormatError, DatasetNotFoundError
from ._dataset import Dataset
from ._images import (
    IMAGE_SUFFIXES,
    RUN_OPTIONS,
    check_image_size,
    decode_files,
    image_files,
    is_grey,
    read_header,
    run_ordered,
    stack_stored,
    to_float,
    warn_skipped,
)
from ._npy import read_npz
from .splits import train_val_split

__all__ = ["load_image_folder", "CACHE_ENV"]

#: Environment variable naming the cache folder of decoded images.
CACHE_ENV = "SOFTMAXKIT_CACHE"

#: Changes whenever the decoded values or the cache file's layout change, invalidating old files.
_CACHE_VERSION = 1

#: The default image size: the most common one, scaled down to this longer side, at least _MIN_SIDE.
_LONGER_SIDE = 64
_MIN_SIDE = 4

_FNAME = "load_image_folder"

_OPTIONS = {"channels": OrNone(Options(1, 3)), "seed": Integer(0), "test_fraction": HALF_OPEN_FRACTION, **RUN_OPTIONS}

_LAYOUT_HINT = "expected one subfolder per class holding its images: DIR/<class>/<image>, e.g. DIR/cat/1.png"


@dataclass(frozen=True)
class _Layout:
    """The image files of a folder: relative paths (POSIX), labels, and which are test files."""

    class_names: tuple[str, ...]
    files: list[str]
    labels: np.ndarray
    test: np.ndarray | None  # bool per file for a train/ + test/ layout; None for a seeded split


def load_image_folder(
    path, *, image_size=None, channels=None, seed: int = 0, test_fraction: float = 0.2, strict: bool = False,
    cache_dir=None, progress: bool = False, workers=None,
) -> Dataset:  # fmt: skip
    """Load a folder of images with one subfolder per class, as float32 NCHW images and int64 labels.

    Parameters
    ----------
    path : str or path
        ``DIR`` with ``DIR/<class>/<images>`` (any depth below the class folder), or with
        ``DIR/train/<class>/...`` and ``DIR/test/<class>/...`` for a given split. Images are PNG,
        JPEG, BMP, GIF (first frame), TIFF or WebP files (``.png .jpg .jpeg .bmp .gif .tif .tiff
        .webp``, any case); other files and names starting with ``.`` are ignored.
    image_size : str or (int, int), optional
        ``"HxW"`` or ``(height, width)`` of every sample, each side at most 4096. Default: the most
        common size among the files (read from their headers), scaled down to a longer side of 64
        pixels keeping its aspect ratio (480x640 gives 48x64), at least 4 pixels a side.
    channels : {1, 3}, optional
        Grey or RGB. Default: 1 if every image is grey (Pillow modes ``1``, ``L``, ``LA``, 16-bit,
        32-bit integer, float), else 3. Alpha is dropped, never composited.
    seed : int, default 0
        Seeds the stratified split; ignored with ``train/`` and ``test/`` folders.
    test_fraction : float in [0, 1), default 0.2
        Share of each class held out as the test set (at least one image of a class of two or more).
    strict : bool, default False
        A bad image file raises :class:`DatasetFormatError` naming it, instead of being skipped.
    cache_dir : str, path or False, optional
        Where decoded images are cached (see the module docstring); False disables the cache.
    progress : bool, default False
        Show a progress bar (tqdm, on stderr) while decoding.
    workers : int, optional
        Decoding threads; default ``os.cpu_count()``. Results never depend on it.

    Returns
    -------
    Dataset
        ``class_names`` are the class folders' names; ``source`` records the absolute path, a
        ``fingerprint`` (SHA-256 of the file list with sizes and modification times) and the options
        with the size and channels resolved, so :func:`~softmaxkit.datasets.load_source` rebuilds the
        same arrays and split; ``preprocessing`` is ``{"kind": "image", "channels", "size", "resize":
        "letterbox", "invert": "no"}``; ``skipped`` lists ``"relative/path: reason"`` per bad file.

    Raises
    ------
    DatasetNotFoundError
        ``path`` does not exist.
    DatasetFormatError
        Images lie directly in ``path`` with no class subfolders, there are no images, a class
        folder holds no (readable) image, fewer than two classes, a ``test/`` class unknown to
        ``train/``; with ``strict``, a bad file.

    Notes
    -----
    Each image is scaled to fit inside ``image_size`` keeping its aspect ratio (Lanczos), centred,
    and padded with zeros ("letterbox"); an image of that size already is not resampled. Pixels are
    scaled by bit depth (8-bit ``v / 255``, 16-bit ``v / 65535``, float as stored, never clipped:
    :mod:`softmaxkit.datasets._images`).

    A bad file (corrupt, truncated, empty, unreadable, a decompression bomb above Pillow's
    ``Image.MAX_IMAGE_PIXELS``) is skipped with a warning naming it and the reason (one warning
    each for the first ten, then one with the count of the rest). Files are decoded in parallel
    threads, in a deterministic order.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for k, name in enumerate(["cat", "dog"] * 5):
    ...     (root / name).mkdir(exist_ok=True)
    ...     Image.fromarray(np.full((30, 40), 25 * k, np.uint8)).save(root / name / f"{k}.png")
    >>> ds = load_image_folder(root, cache_dir=False)
    >>> ds.class_names, ds.x_train.shape, ds.x_test.shape, ds.preprocessing["size"]
    (('cat', 'dog'), (8, 1, 30, 40), (2, 1, 30, 40), [30, 40])
    """
    channels, seed, test_fraction, strict, progress, workers = validate(
        _FNAME, _OPTIONS, channels=channels, seed=seed, test_fraction=test_fraction, strict=strict,
        progress=progress, workers=workers,
    )  # fmt: skip
    if image_size is not None:
        image_size = check_image_size(image_size, _FNAME)
    cache_root = _cache_root(cache_dir)
    folder = _check_folder(path)
    layout = _scan(folder)
    fingerprint = _fingerprint(folder, layout.files)
    run = {"progress": progress, "workers": workers}
    if image_size is None or channels is None:
        common, grey = _header_summary(folder, layout.files, fingerprint, cache_root, desc=f"reading {path}", **run)
        image_size = image_size or _default_size(common)
        channels = channels or (1 if grey else 3)
    preprocessing = {"kind": "image", "channels": channels, "size": list(image_size), "resize": "letterbox",
                     "invert": "no"}  # fmt: skip
    stored, kept, skipped = _decoded(
        folder, layout.files, fingerprint, preprocessing, cache_root, strict=strict, desc=f"decoding {path}", **run
    )
    if strict and skipped:  # from the cache: the same error a fresh decoding would give
        raise DatasetFormatError(f"{folder / skipped[0]}")
    warn_skipped(_FNAME, skipped, where="Dataset.skipped")
    labels = layout.labels[kept]
    train, test = _split(folder, layout, kept, labels, skipped, seed=seed, test_fraction=test_fraction)
    height, width = image_size
    return Dataset(
        x_train=to_float(stored[train]),
        y_train=labels[train],
        x_test=to_float(stored[test]),
        y_test=labels[test],
        class_names=layout.class_names,
        name=os.fspath(path),
        scaling=f"image pixels by bit depth (8-bit / 255, 16-bit / 65535, float as stored) -> float32 in [0, 1], "
        f"{'grey' if channels == 1 else 'RGB'}, letterboxed to {height}x{width}",
        source={
            "kind": "folder",
            "path": str(folder),
            "fingerprint": fingerprint,
            "options": {
                "image_size": [height, width],
                "channels": channels,
                "seed": seed,
                "test_fraction": test_fraction,
                "strict": strict,
            },
        },
        preprocessing=preprocessing,
        skipped=tuple(skipped),
    )


# -- the layout ------------------------------------------------------------------------------------


def _check_folder(path) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise DatasetNotFoundError(f"{_FNAME}: {path}: no such folder")
    if not folder.is_dir():
        raise DatasetFormatError(f"{_FNAME}: {path}: not a folder; {_LAYOUT_HINT}")
    return folder.resolve()


def _scan(folder: Path) -> _Layout:
    """The classes and image files of ``folder``, in order (class by class, each class's files sorted)."""
    names = {entry.name for entry in _subfolders(folder)}
    if {"train", "test"} <= names:
        train = _classes(folder / "train", folder, required=True)
        test = _classes(folder / "test", folder, required=False)
        unknown = sorted(set(test) - set(train))
        if unknown:
            raise DatasetFormatError(
                f"{_FNAME}: {folder}: test/{unknown[0]} is a class that train/ does not have "
                f"(train/ has {', '.join(sorted(train))})"
            )
        parts = [(train, False), (test, True)]
    else:
        parts = [(_classes(folder, folder, required=True), False)]
    class_names = tuple(sorted(parts[0][0]))
    index = {name: k for k, name in enumerate(class_names)}
    files, labels, in_test = [], [], []
    for classes, is_test in parts:
        for name in sorted(classes):
            files.extend(classes[name])
            labels.extend([index[name]] * len(classes[name]))
            in_test.extend([is_test] * len(classes[name]))
    test = np.array(in_test, bool) if len(parts) == 2 else None
    return _Layout(class_names, files, np.array(labels, np.int64), test)


def _subfolders(directory: Path) -> list[Path]:
    return sorted(entry for entry in directory.iterdir() if not entry.name.startswith(".") and entry.is_dir())


def _classes(directory: Path, folder: Path, *, required: bool) -> dict[str, list[str]]:
    """``{class name: [file relative to folder, ...]}`` for the class subfolders of ``directory``.

    ``required`` (the training classes): every class folder must hold images, and there must be two
    classes; otherwise (``test/``) empty class folders are left out.
    """
    where = directory if directory == folder else f"{folder}: {directory.relative_to(folder)}/"
    subfolders = _subfolders(directory)
    loose = [e for e in directory.iterdir() if not e.name.startswith(".") and e.is_file() and _is_image(e)]
    if not subfolders:
        if loose:
            raise DatasetFormatError(f"{_FNAME}: {where}: images lie directly in the folder; {_LAYOUT_HINT}")
        if not required:
            return {}
        raise DatasetFormatError(f"{_FNAME}: {where}: no image files and no class subfolders; {_LAYOUT_HINT}")
    if loose:
        warnings.warn(
            f"{_FNAME}: {where}: {len(loose)} image files lie directly in the folder, in no class folder, "
            "and are ignored",
            UserWarning,
            stacklevel=4,
        )
    found = {entry.name: [p.relative_to(folder).as_posix() for p in image_files(entry)] for entry in subfolders}
    if not required:
        return {name: files for name, files in found.items() if files}
    suffixes = " ".join(IMAGE_SUFFIXES)
    if not any(found.values()):
        raise DatasetFormatError(f"{_FNAME}: {where}: no image files ({suffixes}) in any class folder")
    empty = [name for name, files in found.items() if not files]
    if empty:
        raise DatasetFormatError(
            f"{_FNAME}: {where}: the class folder {empty[0]!r} holds no image files ({suffixes}); "
            "remove it or add its images"
        )
    if len(found) < 2:
        raise DatasetFormatError(
            f"{_FNAME}: {where}: found one class folder ({next(iter(found))!r}); a classifier needs at least two: "
            f"{_LAYOUT_HINT}"
        )
    return found


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _split(folder, layout: _Layout, kept, labels, skipped, *, seed: int, test_fraction: float):
    """Row indices of the training and test images among those kept (decoded)."""
    if layout.test is None:
        _check_classes_read(folder, layout, labels, skipped)
        rows = np.arange(len(kept))
        train, _, test, _ = train_val_split(rows, labels, val_fraction=test_fraction, rng=np.random.default_rng(seed))
        return train, test
    in_test = layout.test[kept]
    _check_classes_read(folder, layout, labels[~in_test], skipped, prefix="train/")
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


def _check_classes_read(folder: Path, layout: _Layout, labels: np.ndarray, skipped: list[str], prefix="") -> None:
    """Every class keeps at least one readable training image."""
    counts = np.bincount(labels, minlength=len(layout.class_names))
    if counts.all():
        return
    name = layout.class_names[int(np.argmin(counts))]
    reasons = [entry for entry in skipped if entry.startswith(f"{prefix}{name}/")]
    raise DatasetFormatError(
        f"{_FNAME}: {folder}: the class folder '{prefix}{name}' holds no readable image "
        f"({len(reasons)} skipped; first: {reasons[0] if reasons else '?'})"
    )


def _fingerprint(folder: Path, files: list[str]) -> str:
    """SHA-256 of the sorted relative file list with each file's size and modification time (ns)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        try:
            stat = os.stat(folder / name)
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # a dangling link: decoding reports it
            size, mtime = -1, -1
        digest.update(f"{name}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


# -- the default size and channels -----------------------------------------------------------------


def _header_summary(folder, files, fingerprint, cache_root, *, desc, progress, workers):
    """``(most common (height, width) or None, whether every image is grey)``, from the headers only."""
    record = None if cache_root is None else cache_root / f"{_digest(str(folder))[:16]}.json"
    if record is not None:
        try:
            cached = json.loads(record.read_text(encoding="utf-8"))
            if cached["version"] == _CACHE_VERSION and cached["fingerprint"] == fingerprint:
                size, grey = cached["size"], cached["grey"]
                if (size is None or _is_size(size)) and isinstance(grey, bool):
                    return (tuple(size) if size else None), grey
        except (OSError, ValueError, KeyError, TypeError):
            pass
    headers = [None] * len(files)
    paths = [folder / name for name in files]
    run_ordered(read_header, paths, desc=desc, progress=progress, workers=workers,
                consume=headers.__setitem__)  # fmt: skip
    readable = [header for header in headers if header is not None]
    size = Counter(size for _, size in readable).most_common(1)[0][0] if readable else None
    grey = all(is_grey(mode) for mode, _ in readable)
    if record is not None:
        content = {"version": _CACHE_VERSION, "fingerprint": fingerprint, "size": size and list(size), "grey": grey}
        _write_cache(record, lambda handle: handle.write(json.dumps(content).encode()))
    return size, grey


def _is_size(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(type(v) is int and v > 0 for v in value)


def _default_size(size) -> tuple[int, int]:
    """``size`` scaled down to a longer side of 64 (aspect kept, rounded half up), at least 4 a side."""
    if size is None:  # no header is readable: every file will be reported as skipped
        return _LONGER_SIDE, _LONGER_SIDE
    height, width = size
    longer = max(height, width)
    if longer > _LONGER_SIDE:
        height, width = ((2 * side * _LONGER_SIDE + longer) // (2 * longer) for side in (height, width))
    return max(height, _MIN_SIDE), max(width, _MIN_SIDE)


# -- the cache -------------------------------------------------------------------------------------


def _cache_root(cache_dir) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir is None:
        env = os.environ.get(CACHE_ENV)
        return Path(env).expanduser() if env else Path.home() / ".cache" / "softmaxkit" / "decoded"
    if isinstance(cache_dir, (str, os.PathLike)):
        return Path(cache_dir).expanduser()
    raise TypeError(f"{_FNAME}: cache_dir must be a path, None (the default folder) or False (no cache), "
                    f"got {cache_dir!r}")  # fmt: skip


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _decoded(folder, files, fingerprint, preprocessing, cache_root, *, strict, desc, progress, workers):
    """``(stored pixels, indices of the files kept, skipped entries)``, from the cache or decoded."""
    channels, (height, width), resize = preprocessing["channels"], preprocessing["size"], preprocessing["resize"]
    shape = (channels, height, width)
    prep = json.dumps({"channels": channels, "size": [height, width], "resize": resize}, sort_keys=True)
    key = _digest(json.dumps([_CACHE_VERSION, str(folder), fingerprint, prep]))
    cache = None if cache_root is None else cache_root / f"{_digest(str(folder))[:16]}-{_digest(prep)[:12]}.npz"
    if cache is not None:
        hit = _read_cache(cache, key, len(files), shape)
        if hit is not None:
            return hit
    arrays, kept, skipped = decode_files(
        [folder / name for name in files], files, channels=channels, size=(height, width), resize=resize,
        strict=strict, progress=progress, workers=workers, desc=desc, strict_name=lambda i: folder / files[i],
    )  # fmt: skip
    stored, kept = stack_stored(arrays, shape), np.array(kept, np.int64)
    if cache is not None:
        arrays = {"key": np.array(key), "pixels": stored, "kept": kept, "skipped": np.array(skipped, dtype=str)}
        _write_cache(cache, lambda handle: np.savez(handle, **arrays))
    return stored, kept, skipped


def _read_cache(path: Path, key: str, n_files: int, shape: tuple[int, int, int]):
    """The cached ``(pixels, kept, skipped)`` if ``path`` holds exactly what ``key`` describes, else None."""
    if not path.is_file():
        return None
    try:
        found = read_npz(path, ("key", "pixels", "kept", "skipped"))
        stored_key, pixels, kept, skipped = (found[name] for name in ("key", "pixels", "kept", "skipped"))
    except (DatasetFormatError, OSError, KeyError):
        return None
    valid = (
        stored_key.dtype.kind == "U" and stored_key.shape == () and str(stored_key) == key
        and kept.dtype == np.int64 and kept.ndim == 1 and np.all(np.diff(kept) > 0)
        and (len(kept) == 0 or (kept[0] >= 0 and kept[-1] < n_files))
        and pixels.dtype in (np.uint8, np.uint16, np.float32) and pixels.shape == (len(kept), *shape)
        and skipped.dtype.kind == "U" and skipped.ndim == 1 and len(skipped) + len(kept) == n_files
    )  # fmt: skip
    if not valid or (pixels.dtype == np.float32 and not ((pixels >= 0) & (pixels <= 1)).all()):
        return None
    return pixels, kept, [str(entry) for entry in skipped]


def _write_cache(path: Path, write) -> None:
    """Write a cache file atomically; a failure (read-only folder, full disk) only warns."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            write(handle)
    except OSError as exc:
        warnings.warn(
            f"{_FNAME}: cannot write the cache file {path} ({exc}); the folder will be read again next time",
            UserWarning,
            stacklevel=4,
        )
