"""A model file's JSON header without trusting it: size, nesting, own keys, metadata and layers, checked.

:func:`read_header` reads and parses the header after checking its size and nesting; it validates the
format's own keys and the metadata the library reads back. :func:`layer_specs` turns the layer list
into checked classes, configs and the parameter shapes they imply, and :func:`check_arrays` compares
those shapes with the arrays the archive holds, all before any layer is built.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from dataclasses import dataclass

import numpy as np

from .._validation import Integer
from ..exceptions import ModelFileError
from . import _format
from ._archive import Member, read_member_data
from ._format import FORMAT_NAME, FORMAT_VERSION, HEADER_KEY, LAYER_TYPES, MAX_LAYERS, describe, short
from ._windows import pair

__all__ = [
    "LayerSpec",
    "read_header",
    "layer_specs",
    "check_arrays",
    "MAX_SAMPLE_ELEMENTS",
    "MAX_CLASS_NAME_CHARS",
    "MAX_WINDOW",
]

#: Elements of one input sample, of one layer's output for it, and of a convolution's window matrix
#: for it (256 MiB of float32): prediction allocates them for every sample of a batch. A 3x3
#: convolution of 64 channels on 224 x 224 images needs 29 million.
MAX_SAMPLE_ELEMENTS = 2**26
#: Characters of one class name.
MAX_CLASS_NAME_CHARS = 256
#: Convolution strides and pooling windows and strides (a window is otherwise bounded by its weights).
MAX_WINDOW = 1024
#: Layer sizes (features, channels): larger ones could not be held in memory anyway.
_SIZE = Integer(1, 2**31 - 1)


def read_header(path: str, archive: zipfile.ZipFile, member: Member | None) -> dict:
    """The JSON header, parsed after its size and nesting are checked, with its own keys validated."""
    if member is None or member.shape != () or member.dtype.kind != "U":
        raise ModelFileError(f"{path}: not a softmaxkit model file (no '{HEADER_KEY}' header)")
    if member.dtype.itemsize // 4 > _format.MAX_HEADER_CHARS:
        raise ModelFileError(
            f"{path}: model header of {member.dtype.itemsize // 4} characters, more than {_format.MAX_HEADER_CHARS}"
        )
    raw = np.empty(member.dtype.itemsize, np.uint8)
    read_member_data(path, archive, member, HEADER_KEY, raw)
    big_endian = member.dtype.byteorder == ">" or (member.dtype.byteorder == "=" and sys.byteorder == "big")
    try:
        # NumPy strips trailing NULs from a unicode scalar; decoding here also refuses invalid code points
        text = raw.tobytes().decode("utf-32-be" if big_endian else "utf-32-le").rstrip("\0")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt model header ({describe(exc)})") from None
    del raw
    problem = _format.json_structure_problem(text)
    if problem:
        raise ModelFileError(f"{path}: model header refused: {problem}")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as exc:  # also integers beyond Python's digit limit
        raise ModelFileError(f"{path}: corrupt model header ({describe(exc)})") from None
    _check_header(path, header)
    return header


def _check_header(path: str, header) -> None:
    """The header's own keys: format, version, dtype, input shape, class names and metadata."""
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: corrupt model header (a JSON {type(header).__name__}, not an object)")
    fmt = header.get("format")
    if not isinstance(fmt, str) or fmt != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a softmaxkit model file (format {short(fmt)})")
    version = header.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model file version {short(version)} (this softmaxkit reads version {FORMAT_VERSION})"
        )
    dtype = header.get("dtype", "float32")
    if not isinstance(dtype, str) or dtype not in ("float32", "float64"):
        raise ModelFileError(f"{path}: model dtype must be 'float32' or 'float64', got {short(dtype)}")
    _check_input_shape(path, header.get("input_shape"))
    _check_class_names(path, header.get("class_names"))
    _check_metadata(path, header.get("metadata"))


def _check_input_shape(path: str, shape) -> None:
    if shape is None:
        return
    if not (isinstance(shape, list) and 1 <= len(shape) <= 8 and all(_is_int(d) and d >= 1 for d in shape)):
        raise ModelFileError(f"{path}: input_shape must be a list of 1 to 8 positive integers, got {short(shape)}")
    if math.prod(shape) > MAX_SAMPLE_ELEMENTS:
        raise ModelFileError(
            f"{path}: input_shape {short(shape)} has more than {MAX_SAMPLE_ELEMENTS} elements per sample"
        )


def _check_class_names(path: str, names) -> None:
    if names is None:
        return
    if not (isinstance(names, list) and names and all(isinstance(c, str) for c in names)):
        raise ModelFileError(f"{path}: class_names must be a non-empty list of strings, got {short(names)}")
    if any(len(c) > MAX_CLASS_NAME_CHARS for c in names):
        raise ModelFileError(f"{path}: a class name is longer than {MAX_CLASS_NAME_CHARS} characters")


# The metadata the library reads back, beyond display: `softmaxkit evaluate/calibrate/report` take the
# data set from "dataset", recreate the validation split from "train_args" (held_out_split), and the
# report plots "history" (written by softmaxkit.train.History.to_dict). Everything else is free-form.
def _check_metadata(path: str, metadata) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object, got {short(metadata)}")
    fields = {
        "dataset": (_is_str, "a string or null"),
        "test_accuracy": (_is_number, "a number or null"),
        "test_nll": (_is_number, "a number or null"),
        "train_args": (lambda v: isinstance(v, dict), "an object or null"),
        "history": (lambda v: isinstance(v, dict), "an object or null"),
    }
    for key, (ok, expected) in fields.items():
        value = metadata.get(key)
        if value is not None and not ok(value):
            raise ModelFileError(f"{path}: metadata[{key!r}] must be {expected}, got {short(value)}")
    _check_train_args(path, metadata.get("train_args") or {})
    _check_history(path, metadata.get("history") or {})


def _check_train_args(path: str, args: dict) -> None:
    """The seed and fraction that recreate the validation split (``numpy.random.default_rng(seed)``)."""
    seed = args.get("seed", 0)
    if not (_is_int(seed) and seed >= 0):
        raise ModelFileError(f"{path}: metadata['train_args']['seed'] must be an integer >= 0, got {short(seed)}")
    fraction = args.get("val_fraction")
    if fraction is not None and not (_is_number(fraction) and 0 <= fraction < 1):
        raise ModelFileError(
            f"{path}: metadata['train_args']['val_fraction'] must be a number in [0, 1) or null, got {short(fraction)}"
        )


#: The per-epoch keys softmaxkit.train.History writes; the report plots the first five.
_HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def _check_history(path: str, history: dict) -> None:
    """The shape :meth:`softmaxkit.train.History.to_dict` writes: epochs (rows of numbers or null) and flags."""
    where = f"{path}: metadata['history']"
    epochs = history.get("epochs", [])
    if not isinstance(epochs, list):
        raise ModelFileError(f"{where}['epochs'] must be a list, got {short(epochs)}")
    for i, row in enumerate(epochs):
        if not (isinstance(row, dict) and all(key in row for key in _HISTORY_COLUMNS[:5])):
            raise ModelFileError(f"{where}['epochs'][{i}] must be an object with keys {list(_HISTORY_COLUMNS[:5])}")
        if not _is_int(row["epoch"]):
            raise ModelFileError(f"{where}['epochs'][{i}]['epoch'] must be an integer, got {short(row['epoch'])}")
        bad = next((k for k, v in row.items() if v is not None and not _is_number(v)), None)
        if bad is not None:
            raise ModelFileError(f"{where}['epochs'][{i}][{bad!r}] must be a number or null, got {short(row[bad])}")
    best = history.get("best_epoch", 0)
    if not (_is_int(best) and 0 <= best <= len(epochs)):
        raise ModelFileError(f"{where}['best_epoch'] must be an epoch number (0 to {len(epochs)}), got {short(best)}")
    for flag in ("stopped_early", "interrupted"):
        if not isinstance(history.get(flag, False), bool):
            raise ModelFileError(f"{where}[{flag!r}] must be true or false, got {short(history[flag])}")


@dataclass
class LayerSpec:
    """One layer as the header declares it, validated: its class, constructor arguments and parameter shapes."""

    cls: type
    config: dict
    shapes: dict  # parameter key -> shape


#: Config keys per layer class: (required, optional). Layers not listed take none.
_CONFIG_KEYS = {
    "Dense": ({"in_features", "out_features"}, {"init"}),
    "Conv2D": ({"in_channels", "out_channels", "kernel_size"}, {"stride", "padding", "init"}),
    "MaxPool2D": ({"kernel_size"}, {"stride"}),
    "Dropout": ({"p"}, set()),
    "Standardize": ({"mean", "scale"}, set()),
    "LinearCrossEntropyHead": (
        {"in_features", "n_classes"},
        {"bias", "init", "chunk_size", "label_smoothing", "ignore_index"},
    ),
}


def layer_specs(path: str, header: dict) -> list[LayerSpec]:
    """Every layer's class and config, checked, with the parameter shapes it implies (nothing allocated)."""
    specs = header.get("layers")
    if not isinstance(specs, list):
        raise ModelFileError(f"{path}: the model header's 'layers' must be a list, got {short(specs)}")
    if len(specs) > MAX_LAYERS:
        raise ModelFileError(f"{path}: {len(specs)} layers, more than {MAX_LAYERS}")
    return [_layer_spec(path, i, spec) for i, spec in enumerate(specs)]


def _layer_spec(path: str, i: int, spec) -> LayerSpec:
    if not (isinstance(spec, dict) and set(spec) == {"class", "config"}):
        raise ModelFileError(f"{path}: layer {i} must be an object with keys 'class' and 'config', got {short(spec)}")
    name, config = spec["class"], spec["config"]
    cls = LAYER_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(f"{path}: layer {i} has unknown type {short(name)}")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: layer {i} ({name}) config must be an object, got {short(config)}")
    required, optional = _CONFIG_KEYS.get(name, (set(), set()))
    if not required <= set(config) <= required | optional:
        raise ModelFileError(
            f"{path}: layer {i} ({name}) config has keys {sorted(config)}, expected {sorted(required)} "
            f"and optionally {sorted(optional)}"
        )
    try:
        shapes = _parameter_shapes(name, config, f"layer {i} ({name})")
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    return LayerSpec(cls, config, shapes)


def _parameter_shapes(name: str, config: dict, where: str) -> dict:
    """The parameter shapes a layer's config implies, after checking its sizes (TypeError/ValueError if bad)."""
    if name == "Dense":
        n_in = _SIZE.check(config["in_features"], "in_features", where)
        n_out = _SIZE.check(config["out_features"], "out_features", where)
        return {"weight": (n_in, n_out), "bias": (n_out,)}
    if name == "LinearCrossEntropyHead":
        n_in = _SIZE.check(config["in_features"], "in_features", where)
        n_out = _SIZE.check(config["n_classes"], "n_classes", where)
        bias = config.get("bias", True)
        if not isinstance(bias, bool):
            raise TypeError(f"{where}: bias must be true or false, got {short(bias)}")
        return {"weight": (n_out, n_in), **({"bias": (n_out,)} if bias else {})}
    if name == "Conv2D":
        c_in = _SIZE.check(config["in_channels"], "in_channels", where)
        c_out = _SIZE.check(config["out_channels"], "out_channels", where)
        kh, kw = pair(config["kernel_size"], "kernel_size", where)
        _window(config.get("stride", 1), "stride", where)
        padding = pair(config.get("padding", 0), "padding", where, minimum=0)
        if padding[0] >= kh or padding[1] >= kw:
            # wider padding only adds windows of zeros, and its buffer grows with it at every prediction
            raise ValueError(f"{where}: padding {list(padding)} must be smaller than kernel_size {[kh, kw]}")
        return {"weight": (c_out, c_in, kh, kw), "bias": (c_out,)}
    if name == "MaxPool2D":
        _window(config["kernel_size"], "kernel_size", where)
        if config.get("stride") is not None:
            _window(config["stride"], "stride", where)
    if name == "Standardize":
        _statistics(config, where)
    return {}


def _statistics(config: dict, where: str) -> None:
    """A standardisation layer's ``mean`` and ``scale``: flat JSON lists of numbers, of one length (the
    constructor then checks their values: finite, within float32's range, positive scales)."""
    for key in ("mean", "scale"):
        values = config[key]
        if not (isinstance(values, list) and 1 <= len(values) <= MAX_SAMPLE_ELEMENTS):
            raise ValueError(
                f"{where}: {key} must be a list of 1 to {MAX_SAMPLE_ELEMENTS} numbers, got {short(values)}"
            )
        bad = next((i for i, v in enumerate(values) if not _is_number(v)), None)
        if bad is not None:
            raise ValueError(f"{where}: {key}[{bad}] must be a number, got {short(values[bad])}")
    if len(config["mean"]) != len(config["scale"]):
        raise ValueError(
            f"{where}: mean and scale must have the same length, got {len(config['mean'])} and {len(config['scale'])}"
        )


def _window(value, argname: str, where: str) -> tuple[int, int]:
    hw = pair(value, argname, where)
    if max(hw) > MAX_WINDOW:
        raise ValueError(f"{where}: {argname} must be at most {MAX_WINDOW}, got {list(hw)}")
    return hw


def check_arrays(path: str, specs: list[LayerSpec], members: dict[str, Member]) -> None:
    """Every parameter the layers imply is present with its shape, as a float array; nothing else is."""
    expected = {f"layers.{i}.{key}": shape for i, spec in enumerate(specs) for key, shape in spec.shapes.items()}
    for name, shape in expected.items():
        member = members.get(name)
        if member is None:
            raise ModelFileError(f"{path}: missing array {name!r}")
        if member.shape != shape or member.dtype.kind != "f" or member.dtype.itemsize > 8:
            raise ModelFileError(
                f"{path}: array {name!r} has shape {short(member.shape)} and dtype {member.dtype}, "
                f"expected shape {shape} floating"
            )
    unexpected = sorted(set(members) - set(expected))
    if unexpected:
        shown = ", ".join(short(name) for name in unexpected[:5]) + (", ..." if len(unexpected) > 5 else "")
        raise ModelFileError(f"{path}: unexpected arrays [{shown}]")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_str(value) -> bool:
    return isinstance(value, str)
