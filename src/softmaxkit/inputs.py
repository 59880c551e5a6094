"""Reading inputs for prediction: image files (PNG, JPEG, ... via Pillow) and ``.npy`` batches.

Images are converted the way the training data was: to the model's channel count (grey or RGB),
resized to its height and width (Lanczos), and scaled to ``[0, 1]`` by the image's bit depth, never
by clipping its values:

=================================================  ==================================================
Pillow mode of the file                            value
=================================================  ==================================================
``1`` (bilevel)                                    0 or 1
8-bit modes (``L``, ``P``, ``RGB``, ``RGBA``,      ``v / 255`` after Pillow converts to grey or RGB
``LA``, ``CMYK``, ``YCbCr``, ...)                  (alpha is dropped)
``I;16`` (16-bit grey PNG or TIFF)                 ``v / 65535``
``I`` (32-bit integers; Pillow's mode for 16-bit   ``v / 65535``; values outside 0..65535 are
PGM)                                               refused
``F`` (32-bit float TIFF)                          as stored; values must be finite and in [0, 1]
=================================================  ==================================================

A 16-bit or float image (always grey) given to an RGB model is repeated on the three channels.
Resampling a 16-bit or float image can overshoot its range by a little near sharp edges; that
overshoot is limited to ``[0, 1]``, as Pillow's 8-bit resampling limits it to 0..255.

Training images of digits are light strokes on a dark background; a photo or drawing of dark ink on
light paper is inverted when ``invert="auto"`` and its mean brightness is above one half.

An image whose header claims more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS`` (a decompression
bomb) is refused with an :class:`~softmaxkit.exceptions.InputError` naming the file, whether Pillow
would warn (above the limit) or raise (above twice the limit); Pillow's limit itself is untouched.

``.npy`` batches are read without pickle, their header checked against the file's size before
anything is allocated (:func:`softmaxkit.datasets.read_npy`), and scaled by dtype like a data set's
``.npz`` (:func:`softmaxkit.datasets.scale_pixels`): uint8 / 255, uint16 / 65535, bool as 0/1, floats
as stored (they must be finite); other integer types are refused, their range being unknown.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np

from ._validation import Options, validate
from .datasets import DatasetFormatError, read_npy, scale_pixels
from .exceptions import InputError

__all__ = ["load_inputs", "load_image", "InputError"]

#: Pillow modes holding more than 8 bits per pixel, and the value that maps to 1.0.
_WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535, "F": 1}


def load_image(path, input_shape, *, invert: str = "auto") -> np.ndarray:
    """Read one image file as a float32 array of ``input_shape`` ``(C, H, W)`` in ``[0, 1]``.

    Parameters
    ----------
    path : path-like
        An image Pillow can open.
    input_shape : tuple of int
        ``(channels, height, width)`` of the model's input; channels 1 (grey) or 3 (RGB).
    invert : {"auto", "yes", "no"}
        Whether to map ``v -> 1 - v`` (see the module docstring).

    Raises
    ------
    InputError
        The file is missing, not an image Pillow can read, a decompression bomb, or a 32-bit
        image whose values lie outside the range of the module docstring; the message names it.
    """
    path = Path(path)
    (invert,) = validate("load_image", {"invert": Options("auto", "yes", "no")}, invert=invert)
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise InputError(f"load_image: the model takes inputs of shape {tuple(input_shape)}, not images")
    channels, height, width = input_shape
    array = _read_pixels(path, channels, (width, height))
    if array.ndim == 3:
        array = np.moveaxis(array, -1, 0)
    else:
        array = np.repeat(array[None], channels, axis=0)
    if invert == "yes" or (invert == "auto" and channels == 1 and array.mean() > 0.5):
        array = 1.0 - array
    return np.ascontiguousarray(array, dtype=np.float32)


def _read_pixels(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """Pixels in [0, 1], resized to ``size`` (width, height): (H, W) for grey, (H, W, 3) for RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as f, warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those bombs too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as image:
                if image.mode in _WIDE_MODES:
                    return _wide_pixels(image, size, path)
                image = image.convert("L" if channels == 1 else "RGB")
                image = image.resize(size, Image.Resampling.LANCZOS)
                return np.asarray(image, dtype=np.float32) / np.float32(255)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{path}: image too large to read safely ({exc})") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (not a format Pillow recognises)") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error) as exc:
        # Pillow's plugins signal damaged files with any of these (UnidentifiedImageError is an OSError).
        raise InputError(f"{path}: not a readable image ({exc})") from None


def _wide_pixels(image, size: tuple[int, int], path: Path) -> np.ndarray:
    """A 16-bit, 32-bit integer or float image, checked for range, resized in float and scaled to [0, 1]."""
    from PIL import Image

    full_scale = _WIDE_MODES[image.mode]
    values = image.convert("F")  # exact for integers up to 2**24, so for every accepted value
    stored = np.asarray(values)
    finite = bool(np.isfinite(stored).all())
    if not finite or stored.min(initial=0) < 0 or stored.max(initial=0) > full_scale:
        found = f"values {stored.min():g}..{stored.max():g}" if finite else "NaN or infinity"
        raise InputError(f"{path}: an image of mode {image.mode} must hold values in 0..{full_scale}, found {found}")
    resized = np.asarray(values.resize(size, Image.Resampling.LANCZOS), dtype=np.float32) / np.float32(full_scale)
    # Lanczos overshoots near sharp edges; limit that overshoot as Pillow's 8-bit path does (at 0 and 255).
    return np.clip(resized, 0.0, 1.0, out=resized)


def load_inputs(paths, input_shape, *, invert: str = "auto"):
    """Read prediction inputs: image files and/or ``.npy`` batches.

    Returns ``(x, names)``: a float32 array of shape ``(n, *input_shape)`` and one display name per
    row (the file name, with ``[i]`` for rows of a batch).

    Raises
    ------
    InputError
        A file is missing or unreadable, a batch's header does not match its size, its dtype has no
        known scaling, it holds NaN or infinity, or it does not fit ``input_shape``.
    """
    rows, names = [], []
    for path in map(Path, paths):
        if path.suffix.lower() == ".npy":
            batch = _load_batch(path, tuple(input_shape))
            rows.append(batch)
            names.extend(f"{path.name}[{i}]" for i in range(len(batch)))
        else:
            rows.append(load_image(path, input_shape, invert=invert)[None])
            names.append(path.name)
    if not rows:
        raise InputError("no inputs given")
    return np.concatenate(rows), names


def _load_batch(path: Path, input_shape: tuple[int, ...]) -> np.ndarray:
    """A ``.npy`` batch as float32 rows of ``input_shape`` (one sample of that shape becomes one row)."""
    try:
        batch, _ = scale_pixels(read_npy(path), source=path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: not a valid .npy array ({exc})") from None
    except DatasetFormatError as exc:  # its message already names the file
        raise InputError(str(exc)) from None
    if batch.shape == input_shape:
        return batch[None]
    if batch.shape[1:] == input_shape:
        return batch
    if batch.ndim >= 2 and int(np.prod(batch.shape[1:])) == int(np.prod(input_shape)):
        return batch.reshape((len(batch), *input_shape))
    raise InputError(
        f"{path}: array of shape {batch.shape} does not fit the model's input {input_shape} "
        f"(expected (n, {', '.join(map(str, input_shape))}))"
    )
