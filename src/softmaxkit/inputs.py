"""Reading inputs for prediction: image files (PNG, JPEG, ... via Pillow) and ``.npy`` batches.

Images are converted the way the training data was: to the model's channel count (grey or RGB),
resized to its height and width, and scaled to ``[0, 1]``. Training images of digits are light strokes
on a dark background; a photo or drawing of dark ink on light paper is inverted when ``invert="auto"``
and its mean brightness is above one half.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._validation import Options, validate
from .exceptions import InputError

__all__ = ["load_inputs", "load_image", "InputError"]


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
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    (invert,) = validate("load_image", {"invert": Options("auto", "yes", "no")}, invert=invert)
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise InputError(f"load_image: the model takes inputs of shape {tuple(input_shape)}, not images")
    channels, height, width = input_shape
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            image = image.resize((width, height), Image.Resampling.LANCZOS)
            array = np.asarray(image, dtype=np.float32) / np.float32(255)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    if channels == 1:
        array = array[None]
    else:
        array = np.moveaxis(array, -1, 0)
    if invert == "yes" or (invert == "auto" and channels == 1 and array.mean() > 0.5):
        array = 1.0 - array
    return np.ascontiguousarray(array, dtype=np.float32)


def load_inputs(paths, input_shape, *, invert: str = "auto"):
    """Read prediction inputs: image files and/or ``.npy`` batches.

    Returns ``(x, names)``: a float32 array of shape ``(n, *input_shape)`` and one display name per
    row (the file name, with ``[i]`` for rows of a batch).
    """
    rows, names = [], []
    for path in map(Path, paths):
        if path.suffix.lower() == ".npy":
            try:
                batch = np.load(path, allow_pickle=False)
            except FileNotFoundError:
                raise InputError(f"{path}: no such file") from None
            except (ValueError, OSError) as exc:
                raise InputError(f"{path}: not a valid .npy array ({exc})") from None
            if batch.dtype.kind not in "fiub":
                raise InputError(f"{path}: expected a numeric array, got dtype {batch.dtype}")
            batch = np.asarray(batch, dtype=np.float32)
            if batch.shape == tuple(input_shape):
                batch = batch[None]
            elif batch.shape[1:] != tuple(input_shape):
                if batch.ndim >= 2 and int(np.prod(batch.shape[1:])) == int(np.prod(input_shape)):
                    batch = batch.reshape((len(batch), *input_shape))
                else:
                    raise InputError(
                        f"{path}: array of shape {batch.shape} does not fit the model's input {tuple(input_shape)} "
                        f"(expected (n, {', '.join(map(str, input_shape))}))"
                    )
            if not np.isfinite(batch).all():
                raise InputError(f"{path}: the array contains NaN or infinite values")
            rows.append(batch)
            names.extend(f"{path.name}[{i}]" for i in range(len(batch)))
        else:
            rows.append(load_image(path, input_shape, invert=invert)[None])
            names.append(path.name)
    if not rows:
        raise InputError("no inputs given")
    return np.concatenate(rows), names
