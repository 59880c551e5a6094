"""The model file: one ``.npz`` archive holding a :class:`~softmaxkit.nn.Sequential`, written atomically.

Format ``"softmaxkit-model"``, version 1: an uncompressed ``.npz`` archive with one array per
parameter, named ``layers.<index>.<key>``, and a 0-d unicode array ``__model__`` holding a JSON header::

    {"format": "softmaxkit-model", "version": 1,
     "layers": [{"class": "Dense", "config": {...}}, ...],
     "input_shape": [1, 28, 28] or null, "class_names": [...] or null,
     "metadata": {...}, "dtype": "float32",
     ...extras}

Layers above the network store their own JSON sections in the same header as *extras* (a calibrated
model stores its calibrator under ``"calibration"``); this module keeps them without reading them.

Reading a hostile file
----------------------
A model file is untrusted input. :func:`read` never unpickles anything, reads the archive itself
(never :func:`numpy.load`), and refuses anything below with a :class:`~softmaxkit.exceptions.ModelFileError`
naming the file, after reading a bounded number of bytes and before allocating what the file claims:

* the archive: at most :data:`~softmaxkit.nn._archive.MAX_DIRECTORY_BYTES` of central directory (refused before it is read)
  and :data:`~softmaxkit.nn._archive.MAX_MEMBERS` members, each named ``<array>.npy`` once, unencrypted, stored (the format)
  or deflated, none overlapping another; a member's declared size must fit the file (stored) or be at
  most :data:`~softmaxkit.nn._archive.MAX_COMPRESSION_RATIO` times its compressed size (deflated, and :data:`~softmaxkit.nn._archive.MAX_INFLATED_BYTES`
  for all deflated members together); after the directory, all reads together stay within twice the
  file's size;
* each ``.npy`` header (at most :data:`~softmaxkit.nn._archive.MAX_NPY_HEADER_BYTES`): versions 1.0 and 2.0, no Python
  objects, floating parameters, and a shape and dtype whose size is exactly what the member holds;
* the JSON header: at most :data:`~softmaxkit.nn._format.MAX_HEADER_CHARS` characters, nested at
  most :data:`~softmaxkit.nn._format.MAX_JSON_DEPTH` deep (scanned before parsing), integers within
  Python's digit limit; ``format``, ``version`` (an int), ``dtype`` (``"float32"``/``"float64"``),
  ``input_shape`` (positive ints, at most :data:`~softmaxkit.nn._header.MAX_SAMPLE_ELEMENTS` per sample), ``class_names``
  (strings of at most :data:`~softmaxkit.nn._header.MAX_CLASS_NAME_CHARS` characters) and the ``metadata`` the library reads
  (``dataset``, ``train_args.seed``/``val_fraction``, ``history``, ``test_accuracy``, ``test_nll``);
* the layers: at most :data:`~softmaxkit.nn._format.MAX_LAYERS`, known classes, known config keys of
  the right types, convolution strides, pooling windows and strides of at most :data:`~softmaxkit.nn._header.MAX_WINDOW`,
  padding below the kernel size, standardisation statistics as lists of numbers of one length (finite,
  within float32's range, positive scales); each layer's parameter shapes are compared with the arrays present
  *before* any layer is built, so a header cannot claim more weights than the file holds; with an
  input shape, every layer's output (and a convolution's window matrix) holds at most
  :data:`~softmaxkit.nn._header.MAX_SAMPLE_ELEMENTS` per sample;
* the parameters: no missing or unexpected arrays, no NaN or infinite values (also after a cast).

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

import math
import os
import zipfile

import numpy as np

from .._validation import check_rng
from ..exceptions import ModelFileError
from . import _format
from ._archive import Member, open_archive, read_member_data, read_members
from ._format import FORMAT_NAME, FORMAT_VERSION, HEADER_KEY, LAYER_TYPES, OWN_KEYS, describe
from ._header import MAX_SAMPLE_ELEMENTS, LayerSpec, check_arrays, layer_specs, read_header
from ._windows import out_size
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
        ``metadata`` or ``extras`` are not JSON-able, or ``extras`` uses a key of the format, or the
        header would exceed the format's caps (see the module docstring).
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
        If the file is missing, not an ``.npz`` archive, truncated, of another format or version,
        names an unknown layer, has missing, mis-shaped or non-finite arrays, a malformed header, or
        exceeds a cap (see the module docstring). The message names the file.
    """
    return read(path, rng=rng)[0]


def read(path, *, rng=None) -> tuple[Sequential, dict]:
    """Read a model file: the network and the header's extras (``{}`` when there are none).

    Parameters and errors as :func:`load`. Everything the header declares is checked against the
    caps and the arrays present before a layer is built (see the module docstring).
    """
    path = os.fspath(path)
    rng = check_rng(rng, "softmaxkit.nn.load", allow_none=True)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    with open_archive(path) as archive:
        members = read_members(path, archive)
        header = read_header(path, archive, members.pop(HEADER_KEY, None))
        layers = layer_specs(path, header)
        check_arrays(path, layers, members)
        model = _model(path, header, layers, rng)
        _fill_parameters(path, archive, model, members)
    return model, {key: value for key, value in header.items() if key not in OWN_KEYS}


def _model(path: str, header: dict, specs: list[LayerSpec], rng) -> Sequential:
    """Build the network from checked specs: its weights are bounded by the arrays present."""
    layers = []
    for i, spec in enumerate(specs):
        kwargs = dict(spec.config)
        if spec.cls in (Dense, Conv2D):
            kwargs["rng"] = np.random.default_rng(0)  # initial weights are overwritten from the file
        elif spec.cls is Dropout:
            kwargs["rng"] = rng
        try:
            layers.append(spec.cls(**kwargs))
        except (TypeError, ValueError) as exc:  # the constructors check types and ranges (init, p, ...)
            raise ModelFileError(f"{path}: layer {i}: {describe(exc)}") from None
    try:
        model = Sequential(layers, class_names=header.get("class_names"), input_shape=header.get("input_shape"))
    except ValueError as exc:
        raise ModelFileError(f"{path}: inconsistent model header ({describe(exc)})") from None
    _check_activations(path, model)
    if header.get("dtype", "float32") != "float32":
        model.astype(header["dtype"])
    model.metadata = dict(header.get("metadata") or {})
    return model


def _check_activations(path: str, model: Sequential) -> None:
    """With an input shape, what one sample costs in every layer is bounded (prediction allocates it per sample)."""
    shape = model.input_shape
    if shape is None:
        return
    for i, layer in enumerate(model.layers):
        work = math.prod(shape)
        if isinstance(layer, Conv2D):
            ho, wo = (
                out_size(n, k, s, p) for n, k, s, p in zip(shape[1:], layer.kernel_size, layer.stride, layer.padding)
            )
            work = max(work, shape[0] * layer.kernel_size[0] * layer.kernel_size[1] * ho * wo)
        shape = layer.output_shape(shape)
        if max(work, math.prod(shape)) > MAX_SAMPLE_ELEMENTS:
            raise ModelFileError(
                f"{path}: layer {i} ({type(layer).__name__}) needs more than {MAX_SAMPLE_ELEMENTS} elements per sample"
            )


def _fill_parameters(path: str, archive: zipfile.ZipFile, model: Sequential, members: dict[str, Member]) -> None:
    """Copy every parameter from the archive into the model, refusing NaN and infinities."""
    for param, _, name in model.parameters():
        member = members[name]
        if member.dtype == param.dtype and not member.fortran_order and param.flags.c_contiguous:
            read_member_data(path, archive, member, name, param.reshape(-1).view(np.uint8))
        else:  # another float dtype or byte order, or Fortran order: read as stored, then cast
            value = np.empty(math.prod(member.shape), member.dtype)
            read_member_data(path, archive, member, name, value.view(np.uint8))
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow becomes inf, refused below
                param[...] = value.reshape(member.shape, order="F" if member.fortran_order else "C")
        if not np.isfinite(param).all():
            raise ModelFileError(f"{path}: array {name!r} holds NaN or infinite values")
