"""Reading inputs for prediction: image files (PNG, JPEG, ... via Pillow), folders of images, ``.npy`` batches.

Images go through the decoder the training data went through
(:func:`softmaxkit.datasets.read_images`, in parallel threads), by the image preprocessing the model
records: converted to its channel count (grey or RGB), resized to its height and width (Lanczos) by
stretching (the built-in data sets, and models that record no preprocessing) or by "letterbox"
(image folders: scaled to fit keeping the aspect ratio, centred, padded with zeros), and scaled to
``[0, 1]`` by the image's bit depth, never by clipping its values:

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
overshoot is limited to ``[0, 1]``, as Pillow's 8-bit resampling limits it to 0..255, and a
resampled 16-bit image is rounded to 16-bit values, as Pillow rounds 8-bit ones.

Training images of digits are light strokes on a dark background; a photo or drawing of dark ink on
light paper is inverted when ``invert="auto"`` and its mean brightness is above one half. The
default is the model's recorded ``invert`` (``"no"`` for image folders and CIFAR-10, ``"auto"`` for
the digit sets and for models that record none); an explicit ``invert`` overrides it.

A folder given as an input stands for its image files, recursively, in sorted order
(:func:`softmaxkit.datasets.image_files`).

An image whose header claims more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS`` (a decompression
bomb) is refused with an :class:`~softmaxkit.exceptions.InputError` naming the file, whether Pillow
would warn (above the limit) or raise (above twice the limit); Pillow's limit itself is untouched.

``.npy`` batches are read without pickle, their header checked against the file's size before
anything is allocated (:func:`softmaxkit.datasets.read_npy`), and scaled by dtype like a data set's
``.npz`` (:func:`softmaxkit.datasets.scale_pixels`): uint8 / 255, uint16 / 65535, bool as 0/1, floats
as stored (they must be finite); other integer types are refused, their range being unknown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._validation import Options, OrNone, validate
from .datasets import DatasetFormatError, DatasetNotFoundError, image_files, read_images, read_npy, scale_pixels
from .exceptions import InputError

__all__ = ["load_inputs", "load_image", "InputError"]

_INVERT = {"invert": OrNone(Options("auto", "yes", "no"))}


def load_image(path, input_shape, *, invert: str | None = None, preprocessing: dict | None = None) -> np.ndarray:
    """Read one image file as a float32 array of ``input_shape`` ``(C, H, W)`` in ``[0, 1]``.

    Parameters
    ----------
    path : path-like
        An image Pillow can open.
    input_shape : tuple of int
        ``(channels, height, width)`` of the model's input; channels 1 (grey) or 3 (RGB).
    invert : {"auto", "yes", "no"}, optional
        Whether to map ``v -> 1 - v`` (see the module docstring); default: the preprocessing's, or
        ``"auto"`` without one.
    preprocessing : dict, optional
        The model's recorded image preprocessing (see :func:`load_inputs`).

    Raises
    ------
    InputError
        The file is missing, not an image Pillow can read, a decompression bomb, or a 32-bit
        image whose values lie outside the range of the module docstring; the message names it.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dot.png"
    >>> Image.fromarray(np.full((2, 2), 255, np.uint8)).save(path)
    >>> load_image(path, (1, 2, 2), invert="no")
    array([[[1., 1.],
            [1., 1.]]], dtype=float32)
    """
    x, _ = _load([path], input_shape, invert, preprocessing, "load_image")
    return x[0]


def load_inputs(inputs, input_shape, *, invert: str | None = None, preprocessing: dict | None = None):
    """Read prediction inputs: image files, folders of images and/or ``.npy`` batches.

    Parameters
    ----------
    inputs : list of path-like
        Image files, folders (their image files, recursively, in sorted order: see
        :func:`softmaxkit.datasets.image_files`) and ``.npy`` batches, in any mix.
    input_shape : tuple of int
        The model's input shape; ``(channels, height, width)`` with 1 or 3 channels for images.
    invert : {"auto", "yes", "no"}, optional
        Whether to invert images (see the module docstring); default: the preprocessing's
        ``invert``, or ``"auto"`` when there is none.
    preprocessing : dict, optional
        The image preprocessing the model's training data went through (a model file records its
        data set's :attr:`~softmaxkit.datasets.Dataset.preprocessing`): its channels, size, resizing
        (``"letterbox"`` or ``"stretch"``) and invert. Without one (older model files), images are
        stretched to ``input_shape``.

    Returns
    -------
    x : ndarray of float32, shape (n, *input_shape)
    names : list of str
        One display name per row: the file name of an image given directly, the path of an image
        found in a folder, ``name.npy[i]`` for the rows of a batch.

    Raises
    ------
    InputError
        A file is missing or unreadable, a folder holds no image, a batch's header does not match
        its size, its dtype has no known scaling, it holds NaN or infinity, or it does not fit
        ``input_shape``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "batch.npy", np.zeros((2, 1, 4, 4), np.uint8))
    >>> x, names = load_inputs([folder / "batch.npy"], (1, 4, 4))
    >>> x.shape, names
    ((2, 1, 4, 4), ['batch.npy[0]', 'batch.npy[1]'])
    """
    return _load(inputs, input_shape, invert, preprocessing, "load_inputs")


def _load(inputs, input_shape, invert, preprocessing, fname: str):
    (invert,) = validate(fname, _INVERT, invert=invert)
    input_shape = tuple(input_shape)
    rows, names, images = [], [], []  # images: (row position, path)
    for path in map(Path, inputs):
        if path.suffix.lower() == ".npy" and not path.is_dir():
            batch = _load_batch(path, input_shape)
            rows.append(batch)
            names.extend(f"{path.name}[{i}]" for i in range(len(batch)))
        elif path.is_dir():
            found = _image_files(path)
            images.extend((len(rows) + i, f) for i, f in enumerate(found))
            rows.extend([None] * len(found))
            names.extend(str(f) for f in found)
        else:
            images.append((len(rows), path))
            rows.append(None)
            names.append(path.name)
    if not rows:
        raise InputError("no inputs given")
    if images:
        decoded = _decode([path for _, path in images], _image_preprocessing(input_shape, invert, preprocessing, fname))
        for (position, _), row in zip(images, decoded):
            rows[position] = row[None]
    return np.concatenate(rows), names


def _image_preprocessing(input_shape: tuple[int, ...], invert, preprocessing: dict | None, fname: str) -> dict:
    """The preprocessing images get: the model's, or stretching to ``input_shape``; ``invert`` overrides."""
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise InputError(f"{fname}: the model takes inputs of shape {input_shape}, not images")
    channels, height, width = input_shape
    if preprocessing and preprocessing.get("kind") == "image":
        recorded = (preprocessing.get("channels"), *(preprocessing.get("size") or (None, None)))
        if tuple(recorded) != input_shape:
            raise InputError(
                f"{fname}: the model records an image preprocessing of {recorded[0]} channels and size "
                f"{list(recorded[1:])}, but takes inputs of shape {input_shape}: a damaged model file?"
            )
        result = {"resize": "stretch", "invert": "auto", **preprocessing}
    else:
        result = {"kind": "image", "channels": channels, "size": [height, width], "resize": "stretch", "invert": "auto"}
    if invert is not None:
        result["invert"] = invert
    return result


def _image_files(directory: Path) -> list[Path]:
    found = image_files(directory)
    if not found:
        raise InputError(f"{directory}: no image files in this folder (.png, .jpg, .jpeg, .bmp, .gif, .tif, .webp)")
    return found


def _decode(paths: list[Path], preprocessing: dict) -> np.ndarray:
    """The images of ``paths`` decoded in parallel; the first bad one raises InputError naming it."""
    try:
        x, _, _ = read_images(paths, preprocessing, strict=True)
    except (DatasetFormatError, DatasetNotFoundError) as exc:  # their messages name the file
        raise InputError(str(exc)) from None
    except (ValueError, TypeError) as exc:  # a preprocessing record that read_images refuses
        raise InputError(f"the model's recorded image preprocessing is invalid: {exc}") from None
    return x


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
