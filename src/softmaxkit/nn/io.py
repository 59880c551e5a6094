"""The model file: one ``.npz`` archive holding a :class:`~softmaxkit.nn.Sequential`, written atomically.

Format ``"softmaxkit-model"``, version 1: an uncompressed ``.npz`` archive with one array per
parameter, named ``layers.<index>.<key>``, and a 0-d unicode array ``__model__`` holding a JSON header::

    {"format": "softmaxkit-model", "version": 1,
     "layers": [{"class": "Dense", "config": {...}}, ...],
     "input_shape": [1, 28, 28] or null, "class_names": [...] or null,
     "metadata": {...}, "dtype": "float32",
     ...extras}

The file is read with ``allow_pickle=False``: loading never unpickles anything. Layers above the
network store their own JSON sections in the same header as *extras* (a calibrated model stores its
calibrator under ``"calibration"``); this module keeps them without reading them.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from softmaxkit import nn
>>> model = nn.architectures.logistic((1, 2, 2), 3, rng=np.random.default_rng(0))
>>> path = os.path.join(tempfile.mkdtemp(), "m.skm")
>>> nn.save(model, path)
>>> x = np.ones((1, 1, 2, 2))
>>> bool(np.array_equal(nn.load(path).predict_logits(x), model.predict_logits(x)))
True
"""

from __future__ import annotations

import json
import os

import numpy as np

from .._validation import check_rng
from ..exceptions import ModelFileError
from . import _format
from ._format import FORMAT_NAME, FORMAT_VERSION, HEADER_KEY, LAYER_TYPES, OWN_KEYS
from .conv import Conv2D
from .layers import Dense, Dropout
from .sequential import Sequential

__all__ = ["save", "load", "read", "LAYER_TYPES", "FORMAT_NAME", "FORMAT_VERSION"]


def save(model: Sequential, path, *, extras: dict | None = None) -> None:
    """Write ``model`` to ``path`` as one ``.npz`` file, atomically (also ``model.save(path)``).

    The file is written to a temporary file in the same directory, flushed and fsynced, then renamed
    over ``path``: a crash mid-write leaves any previous file intact.

    Parameters
    ----------
    model : Sequential
    path : str or os.PathLike
        Conventionally ``*.skm``.
    extras : dict, optional
        JSON-able sections stored in the header beside the format's own keys (which they may not
        replace), for wrappers such as a calibrated model. :func:`read` returns them.

    Raises
    ------
    TypeError
        ``model`` is not a Sequential, or a layer is not of a registered type (:data:`LAYER_TYPES`).
    ValueError
        ``metadata`` or ``extras`` are not JSON-able, or ``extras`` uses a key of the format.
    """
    fname = "softmaxkit.nn.save"
    if not isinstance(model, Sequential):
        raise TypeError(f"{fname}: model must be a softmaxkit.nn.Sequential, got {type(model).__name__}")
    _format.write_model(model, path, extras=extras, fname=fname)


def load(path, *, rng=None) -> Sequential:
    """Read the network of a model file written by :func:`save` (any extras are ignored).

    Parameters
    ----------
    path : str or os.PathLike
    rng : numpy.random.Generator, optional
        Source of the dropout masks if training continues (``None``: a fresh ``default_rng()``).
        The weights come from the file.

    Returns
    -------
    Sequential

    Raises
    ------
    ModelFileError
        If the file is missing, not an ``.npz`` archive, truncated, of another format or version, names
        an unknown layer, or has missing or mis-shaped arrays. The message names the file.
    """
    return read(path, rng=rng)[0]


def read(path, *, rng=None) -> tuple[Sequential, dict]:
    """Read a model file: the network and the header's extras (``{}`` when there are none).

    Parameters and errors as :func:`load`.
    """
    path = os.fspath(path)
    rng = check_rng(rng, "softmaxkit.nn.load", allow_none=True)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ModelFileError(f"{path}: not a softmaxkit model file (a single .npy array, not an .npz archive)")
        with data:
            arrays = {key: data[key] for key in data.files}
    except ModelFileError:
        raise
    except Exception as exc:  # np.load on arbitrary bytes raises many types (BadZipFile, OSError, ValueError, ...)
        raise ModelFileError(f"{path}: not a readable softmaxkit model file ({type(exc).__name__}: {exc})") from exc
    header = _header(path, arrays)
    model = _model(path, header, rng)
    _fill_parameters(path, model, arrays)
    return model, {key: value for key, value in header.items() if key not in OWN_KEYS}


def _header(path: str, arrays: dict) -> dict:
    raw = arrays.pop(HEADER_KEY, None)
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise ModelFileError(f"{path}: not a softmaxkit model file (no '{HEADER_KEY}' header)")
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt model header ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: corrupt model header")
    if header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a softmaxkit model file (format {header.get('format')!r})")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model file version {version!r} (this softmaxkit reads version {FORMAT_VERSION})"
        )
    return header


def _model(path: str, header: dict, rng) -> Sequential:
    try:
        layers = []
        for i, spec in enumerate(header["layers"]):
            cls = LAYER_TYPES.get(spec["class"])
            if cls is None:
                raise ModelFileError(f"{path}: layer {i} has unknown type {spec['class']!r}")
            kwargs = dict(spec["config"])
            if cls in (Dense, Conv2D):
                kwargs["rng"] = np.random.default_rng(0)  # initial weights are overwritten from the file
            elif cls is Dropout:
                kwargs["rng"] = rng
            layers.append(cls(**kwargs))
        model = Sequential(layers, class_names=header.get("class_names"), input_shape=header.get("input_shape"))
        dtype = np.dtype(header.get("dtype", "float32"))
        if dtype != np.float32:
            model.astype(dtype)
        model.metadata = dict(header.get("metadata") or {})
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: inconsistent model header ({type(exc).__name__}: {exc})") from exc
    return model


def _fill_parameters(path: str, model: Sequential, arrays: dict) -> None:
    for param, _, name in model.parameters():
        if name not in arrays:
            raise ModelFileError(f"{path}: missing array {name!r}")
        value = arrays.pop(name)
        if value.shape != param.shape or value.dtype.kind != "f":
            raise ModelFileError(
                f"{path}: array {name!r} has shape {value.shape} and dtype {value.dtype}, "
                f"expected shape {param.shape} floating"
            )
        param[...] = value
    if arrays:
        raise ModelFileError(f"{path}: unexpected arrays {sorted(arrays)}")
