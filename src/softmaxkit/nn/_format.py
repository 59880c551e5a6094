"""The model-file format's constants, caps, layer registry and writer (what :meth:`Sequential.save` and
:func:`softmaxkit.nn.io.save` share; reading is in :mod:`softmaxkit.nn.io`).

The caps bound what a model file may declare, so that a hostile file is refused after reading a
bounded number of bytes; the writer refuses to write a file the reader would refuse. This module does
not import :class:`~softmaxkit.nn.Sequential`, so that the model can save itself without an import cycle.
"""

from __future__ import annotations

import json
import os
import re
import reprlib
from json.decoder import scanstring

import numpy as np

from .._atomic import atomic_write
from .conv import Conv2D
from .heads import LinearCrossEntropyHead
from .layers import Dense, Dropout, Flatten, ReLU, Sigmoid, Softmax, Standardize, Tanh
from .pooling import MaxPool2D

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_KEY",
    "OWN_KEYS",
    "LAYER_TYPES",
    "MAX_HEADER_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_ITEMS",
    "MAX_LAYERS",
    "json_structure_problem",
    "write_model",
    "short",
    "describe",
]

FORMAT_NAME = "softmaxkit-model"
FORMAT_VERSION = 1
HEADER_KEY = "__model__"
#: Header keys of the format itself; everything else in a header is an extra.
OWN_KEYS = ("format", "version", "layers", "input_shape", "class_names", "metadata", "dtype")

# Caps on the JSON header. A trained model's header is a few kB (a training history adds ~150 characters
# per epoch, a matrix calibrator ~20 per class squared); the caps leave room for far larger ones while
# bounding what parsing a hostile header costs: the text is stored as UCS-4, so the parsed objects take
# at most a few times the member's own bytes.
#: Characters of JSON text in the header.
MAX_HEADER_CHARS = 16 * 2**20
#: Nesting of JSON arrays and objects: the library writes at most 5 levels; deeper input would exhaust
#: the parser's recursion (and every later walk over the header).
MAX_JSON_DEPTH = 64
#: JSON arrays, objects and strings in the header together (each a Python object of 50 bytes or more).
MAX_JSON_ITEMS = 2**20
#: Layers in a network (each a Python object, whatever its size).
MAX_LAYERS = 4096

#: What the header's structure scan stops at: a string's opening quote or a bracket.
_JSON_TOKEN = re.compile(r'["\[\]{}]')

#: The one registry of layer classes a model file may name (class name -> class).
LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Dense,
        Conv2D,
        MaxPool2D,
        Flatten,
        ReLU,
        Sigmoid,
        Tanh,
        Dropout,
        Softmax,
        Standardize,
        LinearCrossEntropyHead,
    )
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
    if len(model.layers) > MAX_LAYERS:
        raise ValueError(f"{fname}: a model file holds at most {MAX_LAYERS} layers, got {len(model.layers)}")
    try:
        text = json.dumps(header, default=_json_default)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{fname}: metadata and extras must be JSON-able: {exc}") from exc
    problem = json_structure_problem(text)
    if problem:
        raise ValueError(f"{fname}: the model header would be unreadable: {problem}")
    arrays = {name: param for param, _, name in model.parameters()}
    arrays[HEADER_KEY] = np.array(text)
    with atomic_write(os.fspath(path)) as f:
        _write_npz(f, arrays)


def json_structure_problem(text: str) -> str | None:
    """What makes the JSON ``text`` too large or too deep for a model header, or None.

    A linear pre-scan that runs before :func:`json.loads`, so that a header nested 200,000 deep or
    holding millions of objects is refused before the parser recurses or allocates. Brackets inside
    strings do not count. Malformed JSON (an unterminated string, unbalanced brackets) is left to
    :func:`json.loads` to report.

    Examples
    --------
    >>> json_structure_problem('{"a": ["[[[", 1]}') is None
    True
    >>> json_structure_problem("[" * 100 + "]" * 100)
    'JSON nested more than 64 deep'
    """
    if len(text) > MAX_HEADER_CHARS:
        return f"{len(text)} characters of JSON, more than {MAX_HEADER_CHARS}"
    depth = items = pos = 0
    while True:
        match = _JSON_TOKEN.search(text, pos)
        if match is None:
            return None
        token, pos = match.group(), match.end()
        if token == '"':
            try:
                pos = scanstring(text, pos)[1]  # the C scanner: linear, and escapes are its business
            except ValueError:
                return None
        elif token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested more than {MAX_JSON_DEPTH} deep"
        else:
            depth -= 1
        items += token != "]" and token != "}"
        if items > MAX_JSON_ITEMS:
            return f"more than {MAX_JSON_ITEMS} JSON arrays, objects and strings"


def _json_default(value):
    """Let NumPy scalars and arrays in metadata be saved as plain JSON numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_npz(f, arrays: dict) -> None:
    np.savez(f, **arrays)


def short(value) -> str:
    """A short ``repr(value)``: messages quote hostile values without echoing megabytes of them."""
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60


def describe(exc: BaseException) -> str:
    """An exception as ``"Type: first line of its message"``, cut short (the command line prints one line)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {_short_text(lines[0] if lines else '')}"


def _short_text(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
