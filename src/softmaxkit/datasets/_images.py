"""Decoding image files (PNG, JPEG, BMP, GIF, TIFF, WebP via Pillow): the one decoder of training and prediction.

Each file becomes a ``(channels, height, width)`` array by the preprocessing recorded with a data set
or model (``{"kind": "image", "channels", "size", "resize", "invert"}``):

* **channels**: 1 (grey) or 3 (RGB), converted by Pillow; alpha is dropped (never composited on a
  background). A 16-bit or float image (always grey) is repeated on the three channels of RGB.
* **resize**: ``"letterbox"`` scales the image to fit inside ``size`` keeping its aspect ratio
  (Lanczos), centres it and pads with zeros; ``"stretch"`` resizes to exactly ``size`` (the
  behaviour of models that record no preprocessing). An image already of ``size`` is not resampled.
  A JPEG to be letterboxed is decoded directly at a reduced scale (Pillow's ``draft``) when it is
  at least twice as large as needed.
* **scaling** by bit depth, never by clipping stored values: 8-bit modes ``v / 255`` (mode ``1``
  gives 0 or 1), 16-bit modes (``I;16``, and ``I`` holding 0..65535) ``v / 65535``, float ``F`` as
  stored (must be finite and in [0, 1]); other values are refused. A resampled 16-bit image is
  rounded to 16-bit values, as Pillow rounds resampled 8-bit ones, and Lanczos overshoot near sharp
  edges is limited to the range, as in Pillow's 8-bit path.
* **invert**: ``"yes"`` maps ``v -> max - v`` before padding, ``"auto"`` does so for a grey image
  whose mean is above one half (dark ink on light paper, for models of light strokes on dark),
  ``"no"`` never.

So a decoded image is exactly ``uint8`` (all 8-bit images), ``uint16`` (16-bit images) or
``float32`` (float images) before its conversion to float32, which lets a cache store it exactly.

A bad file (missing, empty, unreadable, truncated, not an image, a decompression bomb above Pillow's
``Image.MAX_IMAGE_PIXELS``, values out of range) never stops :func:`read_images`: it is skipped with a
warning, unless ``strict=True``. Truncated files fail: pixels are always fully loaded, and Pillow's
``ImageFile.LOAD_TRUNCATED_IMAGES`` (False unless a program sets it) and ``MAX_IMAGE_PIXELS`` are
never changed. Files are decoded in parallel threads (Pillow releases the GIL while decoding).
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .._validation import Boolean, Integer, OrNone, validate
from ..exceptions import DatasetFormatError, DatasetNotFoundError

__all__ = [
    "IMAGE_SUFFIXES",
    "RUN_OPTIONS",
    "MAX_SIDE",
    "image_files",
    "read_images",
    "check_image_size",
    "check_preprocessing",
    "read_header",
    "decode_files",
    "stack_stored",
    "to_float",
    "warn_skipped",
    "is_grey",
    "run_ordered",
    "expand_paths",
]

#: Extensions of the files :func:`image_files` lists (compared in lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

#: Largest height or width of a decoded image (a 4096x4096 RGB image is 200 MB as float32).
MAX_SIDE = 4096

#: Pillow modes holding more than 8 bits per pixel, and the value that maps to 1.0.
_WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535, "F": 1}

#: Pillow modes of grey images (palette images count as colour).
_GREY_MODES = frozenset({"1", "L", "LA", "La", *_WIDE_MODES})

#: Warnings given one by one before the rest are counted.
_WARN_EACH = 10

#: The options of every call that decodes many files.
RUN_OPTIONS = {"strict": Boolean(), "progress": Boolean(), "workers": OrNone(Integer(1))}

_SIZE_TEXT = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


def image_files(directory) -> list[Path]:
    """The image files under ``directory``, recursively, sorted by their path.

    Files and folders whose name starts with ``.`` are ignored, and so are files whose extension is
    not one of :data:`IMAGE_SUFFIXES` (in any case). Symbolic links to folders are not followed.

    Parameters
    ----------
    directory : str or path

    Returns
    -------
    list of Path
        ``directory / relative_path`` for each file, sorted by the parts of the relative path.

    Raises
    ------
    DatasetNotFoundError
        ``directory`` does not exist; :class:`DatasetFormatError` if it is not a folder.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "cat").mkdir()
    >>> for name in ("cat/b.PNG", "cat/a.jpg", "notes.txt", ".hidden.png"):
    ...     _ = (root / name).write_bytes(b"")
    >>> [p.relative_to(root).as_posix() for p in image_files(root)]
    ['cat/a.jpg', 'cat/b.PNG']
    """
    directory = Path(directory)
    if not directory.is_dir():
        if not directory.exists():
            raise DatasetNotFoundError(f"image_files: {directory}: no such folder")
        raise DatasetFormatError(f"image_files: {directory}: not a folder")
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, f) for f in files if not f.startswith(".") and _is_image_name(f))
    return sorted(found, key=lambda p: p.relative_to(directory).parts)


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def check_image_size(value, fname: str, name: str = "image_size") -> tuple[int, int]:
    """``(height, width)`` from ``"HxW"`` or a pair of integers, each side in ``1..MAX_SIDE``.

    Examples
    --------
    >>> check_image_size("48x64", "f"), check_image_size([28, 28], "f")
    ((48, 64), (28, 28))
    >>> check_image_size("100000x100000", "f")
    Traceback (most recent call last):
    ...
    ValueError: f: image_size must be 'HxW' or (height, width) with sides in 1..4096, got '100000x100000'
    """
    expected = f"{fname}: {name} must be 'HxW' or (height, width) with sides in 1..{MAX_SIDE}, got {value!r}"
    if isinstance(value, str):
        match = _SIZE_TEXT.fullmatch(value)
        if match is None:
            raise ValueError(expected)
        sides = tuple(int(side) for side in match.groups())
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        if not all(isinstance(side, (int, np.integer)) and not isinstance(side, (bool, np.bool_)) for side in value):
            raise TypeError(expected)
        sides = tuple(int(side) for side in value)
    else:
        raise TypeError(expected)
    if not all(1 <= side <= MAX_SIDE for side in sides):
        raise ValueError(expected)
    return sides


def check_preprocessing(preprocessing, fname: str) -> tuple[int, tuple[int, int], str, str]:
    """``(channels, (height, width), resize, invert)`` of an image preprocessing record.

    ``resize`` defaults to ``"stretch"`` (records older than letterboxing) and ``invert`` to ``"no"``.

    Examples
    --------
    >>> check_preprocessing({"kind": "image", "channels": 1, "size": [8, 8]}, "f")
    (1, (8, 8), 'stretch', 'no')
    """
    if not isinstance(preprocessing, dict) or preprocessing.get("kind", "image") != "image":
        raise ValueError(
            f"{fname}: preprocessing must be an image preprocessing record "
            f"({{'kind': 'image', 'channels': 1 | 3, 'size': [H, W], ...}}), got {preprocessing!r}"
        )
    channels = preprocessing.get("channels")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"{fname}: preprocessing['channels'] must be 1 or 3, got {channels!r}")
    size = check_image_size(preprocessing.get("size"), fname, "preprocessing['size']")
    resize = preprocessing.get("resize", "stretch")
    if resize not in ("letterbox", "stretch"):
        raise ValueError(f"{fname}: preprocessing['resize'] must be 'letterbox' or 'stretch', got {resize!r}")
    invert = preprocessing.get("invert", "no")
    if invert not in ("auto", "yes", "no"):
        raise ValueError(f"{fname}: preprocessing['invert'] must be 'auto', 'yes' or 'no', got {invert!r}")
    return int(channels), size, resize, invert


def is_grey(mode: str) -> bool:
    """Whether Pillow's ``mode`` is a grey one (``1``, ``L``, ``LA``, 16-bit, 32-bit integer, float).

    Examples
    --------
    >>> is_grey("I;16"), is_grey("P")
    (True, False)
    """
    return mode in _GREY_MODES


# -- one file --------------------------------------------------------------------------------------


def read_header(path) -> tuple[str, tuple[int, int]] | None:
    """Pillow's mode and ``(height, width)`` of an image, from its header only; None if unreadable."""
    from PIL import Image

    try:
        with open(path, "rb") as f, Image.open(f) as image:
            width, height = image.size
            return image.mode, (height, width)
    except MemoryError:
        raise
    except Exception:  # any failure here is reported by the decoding that follows
        return None


def _decode(path, *, channels: int, size: tuple[int, int], resize: str, invert: str) -> np.ndarray:
    """The stored values (uint8, uint16 or float32) of shape ``(channels, *size)`` of one file.

    Raises DatasetFormatError whose message is the reason alone: the caller names the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise DatasetFormatError("no such file") from None
    except OSError as exc:
        raise DatasetFormatError(f"cannot read the file ({exc.strerror or exc})") from None
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            raise DatasetFormatError("empty file (0 bytes)")
        try:
            with Image.open(f) as image:
                content = _content(image, channels, size, resize)
        except DatasetFormatError:
            raise
        except MemoryError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DatasetFormatError(f"image too large to read safely ({exc})") from None
        except UnidentifiedImageError:
            raise DatasetFormatError("not a readable image (not a format Pillow recognises)") from None
        except Exception as exc:  # Pillow's plugins signal damaged files with many exception types
            raise DatasetFormatError(f"not a readable image ({type(exc).__name__}: {exc})") from None
    return _pad(_invert(content, invert), size)


def _content(image, channels: int, size: tuple[int, int], resize: str) -> np.ndarray:
    """The image converted and resized (not yet padded): ``(channels, h, w)`` uint8, uint16 or float32."""
    from PIL import Image

    width, height = image.size
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        # Pillow only warns between its limit and twice that (and refuses above): refuse both.
        raise DatasetFormatError(
            f"image too large to read safely ({width}x{height} pixels, above Pillow's limit of {limit})"
        )
    fitted = _fitted((width, height), size, resize)
    if image.mode in _WIDE_MODES:
        values = _wide_values(image, fitted)
        return np.broadcast_to(values, (channels, *values.shape))
    if resize == "letterbox" and image.format == "JPEG":
        image.draft(None, fitted)  # decode at 1/2, 1/4 or 1/8 scale when that still covers ``fitted``
    image.load()  # a truncated or damaged file fails here
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != fitted:
        image = image.resize(fitted, Image.Resampling.LANCZOS)
    pixels = np.asarray(image)
    return pixels[None] if channels == 1 else np.moveaxis(pixels, -1, 0)


def _fitted(image_size: tuple[int, int], size: tuple[int, int], resize: str) -> tuple[int, int]:
    """``(width, height)`` the image is resized to: ``size`` itself, or the largest fit keeping its aspect."""
    (width, height), (out_h, out_w) = image_size, size
    if resize == "stretch":
        return out_w, out_h
    width, height = max(width, 1), max(height, 1)
    if out_w * height <= out_h * width:  # the width limits: rounded in integers, half up
        return out_w, min(out_h, max(1, (2 * height * out_w + width) // (2 * width)))
    return min(out_w, max(1, (2 * width * out_h + height) // (2 * height))), out_h


def _wide_values(image, fitted: tuple[int, int]) -> np.ndarray:
    """A 16-bit, 32-bit integer or float image, range-checked and resized: uint16, or float32 for ``F``."""
    from PIL import Image

    full_scale = _WIDE_MODES[image.mode]
    values = image.convert("F")  # exact for integers up to 2**24, so for every accepted value
    stored = np.asarray(values)
    finite = bool(np.isfinite(stored).all())
    if not finite or stored.min(initial=0) < 0 or stored.max(initial=0) > full_scale:
        found = f"values {stored.min():g}..{stored.max():g}" if finite else "NaN or infinity"
        raise DatasetFormatError(f"an image of mode {image.mode} must hold values in 0..{full_scale}, found {found}")
    if values.size != fitted:
        stored = np.asarray(values.resize(fitted, Image.Resampling.LANCZOS))
    # Lanczos overshoots near sharp edges; limit that overshoot as Pillow's 8-bit path does.
    if full_scale == 1:
        return np.clip(stored, 0.0, 1.0).astype(np.float32)
    return np.clip(np.rint(stored), 0, full_scale).astype(np.uint16)


def _invert(content: np.ndarray, invert: str) -> np.ndarray:
    """``max - v`` for ``"yes"``, and for ``"auto"`` on a grey image brighter than half on average."""
    if invert == "no":
        return content
    full = _full_scale(content.dtype)
    if invert == "auto" and not (content.shape[0] == 1 and content.mean() > full / 2):
        return content
    return (np.asarray(full, content.dtype) - content).astype(content.dtype)


def _full_scale(dtype: np.dtype):
    return {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(np.dtype(dtype), 1.0)


def _pad(content: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``content`` centred on a zero canvas of ``size`` (contiguous, always a new array)."""
    channels, h, w = content.shape
    out = np.zeros((channels, *size), content.dtype)
    top, left = (size[0] - h) // 2, (size[1] - w) // 2
    out[:, top : top + h, left : left + w] = content
    return out


# -- many files ------------------------------------------------------------------------------------


def _try_decode(path, **options) -> tuple[np.ndarray | None, str | None]:
    try:
        return _decode(path, **options), None
    except DatasetFormatError as exc:
        return None, str(exc)


def run_ordered(func, items: list, *, workers: int | None, progress: bool, desc: str, consume) -> None:
    """``consume(i, func(items[i]))`` for each item in order, ``func`` running on ``workers`` threads.

    Inside, Pillow's DecompressionBombWarning is an error (Pillow only warns between its limit and
    twice that); the filter is set once here in the calling thread, as worker threads share it.
    If ``consume`` raises, the items not yet started are cancelled.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    n_workers = min((os.cpu_count() or 1) if workers is None else workers, max(len(items), 1))
    with (
        warnings.catch_warnings(),
        tqdm(total=len(items), desc=desc, unit="img", leave=False, disable=not progress, dynamic_ncols=True) as bar,
    ):
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if n_workers == 1:
            for i, item in enumerate(items):
                consume(i, func(item))
                bar.update()
            return
        pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="softmaxkit-decode")
        chunk = 64 * n_workers  # bounds the futures and finished results waiting at any time
        try:
            for start in range(0, len(items), chunk):
                for i, result in enumerate(pool.map(func, items[start : start + chunk]), start):
                    consume(i, result)
                    bar.update()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def decode_files(
    paths: list, names: list[str], *, channels: int, size: tuple[int, int], resize: str, invert: str = "no",
    strict: bool = False, progress: bool = False, workers: int | None = None, desc: str = "decoding",
    strict_name=None,
) -> tuple[list[np.ndarray], list[int], list[str]]:  # fmt: skip
    """Decode ``paths`` in order: ``(stored arrays, indices kept, ["name: reason" per bad file])``.

    With ``strict``, the first bad file (in order) raises DatasetFormatError naming it by
    ``strict_name(i)`` (default: its path).
    """
    task = functools.partial(_try_decode, channels=channels, size=size, resize=resize, invert=invert)
    arrays, kept, skipped = [], [], []

    def consume(i, result):
        array, reason = result
        if array is not None:
            arrays.append(array)
            kept.append(i)
        elif strict:
            raise DatasetFormatError(f"{strict_name(i) if strict_name else paths[i]}: {reason}")
        else:
            skipped.append(f"{names[i]}: {reason}")

    run_ordered(task, list(paths), workers=workers, progress=progress, desc=desc, consume=consume)
    return arrays, kept, skipped


def stack_stored(arrays: list[np.ndarray], shape: tuple[int, int, int]) -> np.ndarray:
    """One array of the decoded images in the narrowest dtype that holds each exactly.

    uint8 when every image is 8-bit; uint16 (8-bit values times 257) when some are 16-bit; float32
    (each image scaled to [0, 1]) when some are float. :func:`to_float` gives the same float32 values
    in every case, since ``v * 257 / 65535 == v / 255`` and float32 division is correctly rounded.

    Examples
    --------
    >>> stored = stack_stored([np.full((1, 1, 1), 255, np.uint8), np.zeros((1, 1, 1), np.uint16)], (1, 1, 1))
    >>> stored.dtype, to_float(stored).ravel().tolist()
    (dtype('uint16'), [1.0, 0.0])
    """
    dtypes = {a.dtype for a in arrays}
    if np.dtype(np.float32) in dtypes:
        out = np.empty((len(arrays), *shape), np.float32)
        for row, array in zip(out, arrays):
            row[...] = to_float(array)
        return out
    dtype = np.uint16 if np.dtype(np.uint16) in dtypes else np.uint8
    out = np.empty((len(arrays), *shape), dtype)
    for row, array in zip(out, arrays):
        row[...] = array if array.dtype == dtype else array.astype(dtype) * dtype(257)
    return out


def to_float(stored: np.ndarray) -> np.ndarray:
    """Float32 values in [0, 1] of stored pixels: uint8 / 255, uint16 / 65535, float32 as it is (a copy)."""
    full = _full_scale(stored.dtype)
    if full == 1.0:
        return np.array(stored, np.float32)
    return np.divide(stored, np.float32(full), dtype=np.float32)


def warn_skipped(fname: str, skipped: list[str], *, where: str, stacklevel: int = 3) -> None:
    """One warning per skipped file for the first ten, then one with the count of the rest."""
    for entry in skipped[:_WARN_EACH]:
        warnings.warn(f"{fname}: skipped {entry}", UserWarning, stacklevel=stacklevel)
    if len(skipped) > _WARN_EACH:
        warnings.warn(
            f"{fname}: skipped {len(skipped) - _WARN_EACH} more unreadable image files ({where} lists them all)",
            UserWarning,
            stacklevel=stacklevel,
        )


# -- the public reader -----------------------------------------------------------------------------


def read_images(paths, preprocessing: dict, *, strict: bool = False, progress: bool = False, workers=None):
    """Decode image files and folders of images the way a data set or model's preprocessing says.

    Parameters
    ----------
    paths : path or list of paths
        Image files, and folders whose image files (:func:`image_files`, recursively) are read in
        their sorted order.
    preprocessing : dict
        ``{"kind": "image", "channels": 1 | 3, "size": [H, W], "resize": "letterbox" | "stretch",
        "invert": "auto" | "yes" | "no"}``, as recorded in :attr:`Dataset.preprocessing` and in model
        files; ``resize`` defaults to ``"stretch"``, ``invert`` to ``"no"``. See the module docstring.
    strict : bool, default False
        Raise on the first bad file instead of skipping it.
    progress : bool, default False
        Show a progress bar (tqdm, on stderr).
    workers : int, optional
        Decoding threads; default ``os.cpu_count()``. Results never depend on it.

    Returns
    -------
    x : ndarray of float32, shape (n, channels, height, width)
        Values in [0, 1].
    names : list of str
        The path of each decoded file (a folder's files as ``folder/relative/path``).
    skipped : list of str
        ``"path: reason"`` for each bad file left out; each is also warned about (the first ten one
        by one, then their count).

    Raises
    ------
    DatasetNotFoundError
        A path does not exist.
    DatasetFormatError
        A folder holds no image files; with ``strict``, a file cannot be read (the message names it).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wide.png"
    >>> Image.fromarray(np.full((2, 4), 255, np.uint8)).save(path)
    >>> x, names, skipped = read_images([path], {"channels": 1, "size": [4, 4], "resize": "letterbox"})
    >>> x[0, 0]
    array([[0., 0., 0., 0.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    fname = "read_images"
    channels, size, resize, invert = check_preprocessing(preprocessing, fname)
    strict, progress, workers = validate(fname, RUN_OPTIONS, strict=strict, progress=progress, workers=workers)
    files = expand_paths(paths, fname)
    arrays, kept, skipped = decode_files(
        files, [str(f) for f in files], channels=channels, size=size, resize=resize, invert=invert,
        strict=strict, progress=progress, workers=workers, desc=f"decoding {len(files)} images",
    )  # fmt: skip
    warn_skipped(fname, skipped, where="the skipped list returned")
    x = to_float(stack_stored(arrays, (channels, *size)))
    return x, [str(files[i]) for i in kept], skipped


def expand_paths(paths, fname: str) -> list[Path]:
    """Files as given and folders expanded to their image files, in order; missing paths refused."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif not isinstance(paths, Iterable):
        raise TypeError(f"{fname}: paths must be a path or a list of paths, got {type(paths).__name__}")
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = image_files(path)
            if not found:
                raise DatasetFormatError(
                    f"{path}: no image files in this folder ({', '.join(IMAGE_SUFFIXES)}, in any case)"
                )
            files.extend(found)
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise DatasetNotFoundError(f"{path}: no such file or folder")
    return files
