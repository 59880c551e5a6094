"""The model-file format's constants, layer registry and writer (what :meth:`Sequential.save` and
:func:`softmaxkit.nn.io.save` share; reading is in :mod:`softmaxkit.nn.io`).

This module does not import :class:`~softmaxkit.nn.Sequential`, so that the model can save itself
without an import cycle.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .._atomic import atomic_write
from .conv import Conv2D
from .layers import Dense, Dropout, Flatten, ReLU, Sigmoid, Softmax, Tanh
from .pooling import MaxPool2D

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "HEADER_KEY", "OWN_KEYS", "LAYER_TYPES", "write_model"]

FORMAT_NAME = "softmaxkit-model"
FORMAT_VERSION = 1
HEADER_KEY = "__model__"
#: Header keys of the format itself; everything else in a header is an extra.
OWN_KEYS = ("format", "version", "layers", "input_shape", "class_names", "metadata", "dtype")

#: The one registry of layer classes a model file may name (class name -> class).
LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Dense, Conv2D, MaxPool2D, Flatten, ReLU, Sigmoid, Tanh, Dropout, Softmax)
}


def write_model(model, path, *, extras: dict | None = None, fname: str = "softmaxkit.nn.save") -> None:
    """Write ``model`` (and the header ``extras``) to ``path`` atomically; see :func:`softmaxkit.nn.io.save`.

    ``fname`` names the public caller in error messages.
    """
    for layer in model.layers:
        if LAYER_TYPES.get(type(layer).__name__) is not type(layer):
            raise TypeError(f"{fname}: {type(layer).__name__} is not a registered layer type")
    extras = dict(extras or {})
    clash = sorted(set(extras) & set(OWN_KEYS))
    if clash:
        raise ValueError(f"{fname}: extras may not use the format's own keys {clash}")
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "layers": [{"class": type(layer).__name__, "config": layer.config()} for layer in model.layers],
        "input_shape": None if model.input_shape is None else list(model.input_shape),
        "class_names": model.class_names,
        "metadata": model.metadata,
        "dtype": str(model.dtype),
        **extras,
    }
    try:
        text = json.dumps(header, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{fname}: metadata and extras must be JSON-able: {exc}") from exc
    arrays = {name: param for param, _, name in model.parameters()}
    arrays[HEADER_KEY] = np.array(text)
    with atomic_write(os.fspath(path)) as f:
        _write_npz(f, arrays)


def _json_default(value):
    """Let NumPy scalars and arrays in metadata be saved as plain JSON numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_npz(f, arrays: dict) -> None:
    np.savez(f, **arrays)
