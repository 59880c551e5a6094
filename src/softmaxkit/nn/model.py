"""The :class:`Sequential` model and its one-file ``.npz`` format (:meth:`Sequential.save`, :func:`load`).

File format (``"softmaxkit-model"``, version 1): an uncompressed ``.npz`` archive holding one array
per parameter, named ``layers.<index>.<key>``, and a 0-d unicode array ``__model__`` with a JSON
header::

    {"format": "softmaxkit-model", "version": 1,
     "layers": [{"class": "Dense", "config": {...}}, ...],
     "input_shape": [1, 28, 28] or null, "class_names": [...] or null,
     "temperature": 1.0, "calibration": {...}, "metadata": {...}, "dtype": "float32"}

It is read with ``allow_pickle=False``: loading never unpickles anything.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from .._atomic import atomic_write
from ..kernels import softmax
from .conv import Conv2D, MaxPool2D
from .init import check_rng
from .layers import Dense, Dropout, Flatten, Layer, ReLU, Sigmoid, Softmax, Tanh

__all__ = ["Sequential", "load", "ModelFileError", "LAYER_TYPES", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "softmaxkit-model"
FORMAT_VERSION = 1
_HEADER_KEY = "__model__"

#: The one registry of layer classes a model file may name (class name -> class).
LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Dense, Conv2D, MaxPool2D, Flatten, ReLU, Sigmoid, Tanh, Dropout, Softmax)
}


class ModelFileError(ValueError):
    """A model file is missing, unreadable, corrupt, of another format or version, or inconsistent."""


class Sequential:
    """A stack of layers applied in order; the last layer outputs logits.

    Parameters
    ----------
    layers : sequence of Layer
    class_names : sequence of str, optional
        One name per output class (checked against the output width when ``input_shape`` is given).
    input_shape : tuple of int, optional
        Shape of one sample, e.g. ``(1, 28, 28)`` (C, H, W). When given, the layers are checked for
        compatibility at construction and inputs are checked in :meth:`forward`.

    Attributes
    ----------
    layers : list of Layer
    temperature : float
        Divides the logits in :meth:`predict_proba` (1.0 until a calibration sets it); saved with the model.
    calibration : dict
        JSON-able description of the calibration, saved with the model.
    metadata : dict
        JSON-able free-form information (dataset, training settings, ...), saved with the model.
        NumPy scalars and arrays are converted to numbers and lists; NaN and infinities are kept
        (written as Python's JSON extensions ``NaN``/``Infinity``).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.nn import Sequential, Dense, ReLU
    >>> rng = np.random.default_rng(0)
    >>> model = Sequential([Dense(4, 8, rng=rng), ReLU(), Dense(8, 3, rng=rng)], class_names=["a", "b", "c"],
    ...                    input_shape=(4,))
    >>> model.n_params
    67
    >>> model.predict_proba(np.ones((2, 4))).sum(axis=1).round(6)
    array([1., 1.], dtype=float32)
    """

    def __init__(self, layers, *, class_names=None, input_shape=None):
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a softmaxkit.nn Layer")
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.temperature = 1.0
        self.calibration: dict = {}
        self.metadata: dict = {}
        if self.input_shape is not None:
            out = self.output_shape()
            if self.class_names is not None and out != (len(self.class_names),):
                raise ValueError(
                    f"Sequential: {len(self.class_names)} class names for a model whose output has shape {out}"
                )

    # ------------------------------------------------------------------ structure
    def output_shape(self, input_shape=None) -> tuple:
        """Shape of one output sample (raises ValueError naming the first incompatible layer)."""
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        if shape is None:
            raise ValueError("Sequential: input_shape is unknown; pass one")
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def parameters(self):
        """Iterate over ``(param, grad, name)`` for every parameter, name like ``"layers.0.weight"``."""
        for i, layer in enumerate(self.layers):
            for key, param in layer.params.items():
                yield param, layer.grads[key], f"layers.{i}.{key}"

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p, _, _ in self.parameters())

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the parameters (float32 unless :meth:`astype` changed it)."""
        for param, _, _ in self.parameters():
            return param.dtype
        return getattr(self, "_dtype", np.dtype(np.float32))

    def astype(self, dtype) -> "Sequential":
        """Convert every parameter to ``dtype`` (float32 or float64) in place; returns self."""
        for layer in self.layers:
            layer.astype(dtype)
        self._dtype = np.dtype(dtype)
        return self

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        rows, shape = [], self.input_shape
        for i, layer in enumerate(self.layers):
            if shape is not None:
                shape = layer.output_shape(shape)
            count = sum(p.size for p in layer.params.values())
            rows.append(f"{i:>3}  {layer.name:<58} {str(shape) if shape else '':<16} {count:>10,}")
        rows.append(f"total parameters: {self.n_params:,}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n], input_shape={self.input_shape})"

    # ------------------------------------------------------------------ computation
    def _prepare(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"Sequential: input must be numeric, got dtype {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ValueError(
                f"Sequential: expected input of shape (n, {', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        return x

    def forward(self, x, training: bool = False) -> np.ndarray:
        """Logits for a batch; ``training=True`` keeps what :meth:`backward` needs and enables dropout.

        The input is cast once to the model's dtype (float32).
        """
        x = self._prepare(x)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad, *, input_grad: bool = False):
        """Back-propagate ``d loss / d logits`` through all layers in reverse, filling every ``grads``.

        Gradients are overwritten, not accumulated. The gradient with respect to the input is only
        computed (and returned) with ``input_grad=True``; otherwise the layers below the first layer
        with parameters are skipped and None is returned.
        """
        g = np.asarray(grad).astype(self.dtype, copy=False)
        stop = 0
        if not input_grad:
            stop = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        for i in range(len(self.layers) - 1, stop - 1, -1):
            g = self.layers[i].backward(g, input_grad=input_grad or i > stop)
        return g if input_grad else None

    def predict_logits(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Logits, ndarray of shape (n_samples, n_classes), computed ``batch_size`` samples at a time."""
        x = np.asarray(x)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"Sequential: batch_size must be a positive integer, got {batch_size!r}")
        if x.ndim == 0:
            raise ValueError("Sequential: expected a batch of samples, got a scalar")
        n = x.shape[0]
        out = None
        for lo in range(0, n, batch_size):
            logits = self.forward(x[lo : lo + batch_size])
            if out is None:
                out = np.empty((n, *logits.shape[1:]), logits.dtype)
            out[lo : lo + len(logits)] = logits
        if out is None:  # empty input: one dummy-free shape pass when possible
            width = self.output_shape(x.shape[1:]) if self.layers else x.shape[1:]
            out = np.empty((0, *width), self.dtype)
        return out

    # ------------------------------------------------------------------ calibration
    def set_calibration(self, calibrator) -> None:
        """Store a fitted calibrator (:mod:`softmaxkit.calibration`) so that :meth:`predict_proba` applies it.

        It is saved inside the model file. ``None`` removes any calibration.
        """
        if calibrator is None:
            self.calibration, self.temperature = {}, 1.0
            return
        self.calibration = calibrator.to_dict()
        self.temperature = float(getattr(calibrator, "temperature_", 1.0) or 1.0)

    @property
    def is_calibrated(self) -> bool:
        """Whether a calibration (or a temperature other than 1) is applied to the logits."""
        return bool(self.calibration) or self.temperature != 1.0

    def calibrated_logits(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Logits after the stored calibration (or ``logits / temperature``); softmax of these is
        :meth:`predict_proba`."""
        logits = self.predict_logits(x, batch_size=batch_size)
        if self.calibration:
            from ..calibration import calibrator_from_dict

            return calibrator_from_dict(self.calibration).transform(logits).astype(logits.dtype, copy=False)
        if self.temperature != 1.0:
            return logits / logits.dtype.type(self.temperature)
        return logits

    def predict_proba(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities, ndarray of shape (n_samples, n_classes): ``softmax`` of
        :meth:`calibrated_logits` (plain ``softmax(logits / temperature)`` without a calibrator)."""
        return softmax(self.calibrated_logits(x, batch_size=batch_size), axis=-1)

    def predict(self, x, *, batch_size: int = 1024, reject_below=None) -> np.ndarray:
        """Predicted class indices, ndarray of shape (n_samples,).

        With ``reject_below=p``, inputs whose top (calibrated) probability is below ``p`` get
        :data:`softmaxkit.selective.REJECT` (-1): "none of the above". Temperature scaling never
        changes the argmax; vector and matrix scaling may.
        """
        if reject_below is None:
            return np.argmax(self.calibrated_logits(x, batch_size=batch_size), axis=-1)
        from ..selective import predict_with_reject

        return predict_with_reject(self.predict_proba(x, batch_size=batch_size), reject_below=reject_below)

    # ------------------------------------------------------------------ persistence
    def _header(self) -> dict:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "layers": [{"class": type(layer).__name__, "config": layer.config()} for layer in self.layers],
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "class_names": self.class_names,
            "temperature": float(self.temperature),
            "calibration": self.calibration,
            "metadata": self.metadata,
            "dtype": str(self.dtype),
        }

    def save(self, path) -> None:
        """Write the model to ``path`` as one ``.npz`` file, atomically.

        The file is written to a temporary file in the same directory, flushed and fsynced, then
        renamed over ``path``: a crash mid-write leaves any previous file intact.
        """
        path = os.fspath(path)
        for layer in self.layers:
            if type(layer).__name__ not in LAYER_TYPES or LAYER_TYPES[type(layer).__name__] is not type(layer):
                raise TypeError(f"Sequential.save: {type(layer).__name__} is not a registered layer type")
        try:
            header = json.dumps(self._header(), default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Sequential.save: metadata/calibration must be JSON-able: {exc}") from exc
        arrays = {name: param for param, _, name in self.parameters()}
        arrays[_HEADER_KEY] = np.array(header)
        with atomic_write(path) as f:
            _write_npz(f, arrays)


def _json_default(value):
    """Let NumPy scalars and arrays in metadata/calibration be saved as plain JSON numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_npz(f, arrays: dict) -> None:
    np.savez(f, **arrays)


def load(path, *, rng=None) -> Sequential:
    """Read a model written by :meth:`Sequential.save`.

    Parameters
    ----------
    path : str or os.PathLike
    rng : numpy.random.Generator, optional
        Source of the dropout masks if training continues (``None``: a fresh ``default_rng()``).
        The weights come from the file.

    Raises
    ------
    ModelFileError
        If the file is missing, not an ``.npz`` archive, truncated, of another format or version, names
        an unknown layer, or has missing or mis-shaped arrays. The message names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from softmaxkit import nn
    >>> model = nn.architectures.logistic((1, 2, 2), 3, rng=np.random.default_rng(0))
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> model.save(path)
    >>> bool(np.array_equal(nn.load(path).predict_logits(np.ones((1, 1, 2, 2))), model.predict_logits(np.ones((1, 1, 2, 2)))))
    True
    """
    path = os.fspath(path)
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
    return _from_arrays(path, arrays, check_rng(rng, "load"))


def _from_arrays(path: str, arrays: dict, rng: np.random.Generator) -> Sequential:
    raw = arrays.pop(_HEADER_KEY, None)
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise ModelFileError(f"{path}: not a softmaxkit model file (no '{_HEADER_KEY}' header)")
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt model header ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a softmaxkit model file (format {header.get('format')!r})"
                             if isinstance(header, dict) else f"{path}: corrupt model header")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model file version {version!r} (this softmaxkit reads version {FORMAT_VERSION})"
        )
    try:
        layers = []
        for i, spec in enumerate(header["layers"]):
            cls = LAYER_TYPES.get(spec["class"])
            if cls is None:
                raise ModelFileError(f"{path}: layer {i} has unknown type {spec['class']!r}")
            kwargs = dict(spec["config"])
            if cls in (Dense, Conv2D):
                kwargs["rng"] = np.random.default_rng(0)  # initial weights are overwritten below
            elif cls is Dropout:
                kwargs["rng"] = rng
            layers.append(cls(**kwargs))
        model = Sequential(layers, class_names=header.get("class_names"), input_shape=header.get("input_shape"))
        dtype = np.dtype(header.get("dtype", "float32"))
        if dtype != np.float32:
            model.astype(dtype)
        model.temperature = float(header.get("temperature", 1.0))
        model.calibration = dict(header.get("calibration") or {})
        model.metadata = dict(header.get("metadata") or {})
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: inconsistent model header ({type(exc).__name__}: {exc})") from exc
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
    if not (math.isfinite(model.temperature) and model.temperature > 0):
        raise ModelFileError(f"{path}: temperature must be a positive finite number, got {model.temperature}")
    return model
