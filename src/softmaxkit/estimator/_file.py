"""A :class:`~softmaxkit.estimator.SoftmaxClassifier` in a model file, and back.

The file is an ordinary softmaxkit model file (:func:`softmaxkit.nn.save`): the network, with the
labels as its ``class_names`` (as strings) and ``(n_features,)`` as its ``input_shape``, so that
``softmaxkit evaluate/predict/calibrate/report`` read it like any other. The estimator's own state
is one extra JSON section, ``"estimator"``: the parameters, the labels with their dtype (so that
``predict`` returns what ``fit`` saw), ``n_features_in_``, the feature names and the training record.
A temperature-scaled estimator also writes ``"calibration"`` as :meth:`CalibratedModel.save` does, so
:func:`softmaxkit.calibration.load_model` reads the file as a calibrated model.

Like the rest of the file, the section is untrusted on reading: every field is checked (types,
lengths, label dtypes from a short list, agreement with the network) and a bad one gives a
:class:`~softmaxkit.exceptions.ModelFileError` naming the file.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from .. import nn
from ..calibration import CalibratedModel, calibrator_from_dict
from ..exceptions import ModelFileError
from ._network import network_settings
from ._params import check_params

__all__ = ["SECTION", "state_section", "load_estimator"]

#: The header key of the estimator's section, and the version of its layout.
SECTION = "estimator"
_VERSION = 1
_KEYS = {
    "version",
    "params",
    "classes",
    "n_features_in",
    "feature_names_in",
    "loss_curve",
    "n_iter",
    "t",
    "best_loss",
    "validation_scores",
    "best_validation_score",
}
#: Label dtypes a file may declare (kinds: bool, signed and unsigned integers, floats, str, object).
_LABEL_KINDS = "biufUO"
#: Bytes of one label: a class name has at most 256 characters (the format's cap), 4 bytes each as str.
_MAX_LABEL_BYTES = 4 * 256


def state_section(est) -> dict:
    """The JSON-able ``"estimator"`` section of a fitted estimator's model file."""
    params = {key: _jsonable(value) for key, value in est.get_params(deep=False).items()}
    params["hidden_layer_sizes"] = [int(h) for h in np.atleast_1d(est.hidden_layer_sizes)]
    if not (est.random_state is None or isinstance(est.random_state, numbers.Integral)):
        params["random_state"] = None  # a generator cannot be written; the seed it gave is in train_args
    if isinstance(est.class_weight, dict):
        params["class_weight"] = [[_label(k), float(v)] for k, v in est.class_weight.items()]
    names = getattr(est, "feature_names_in_", None)
    return {
        "version": _VERSION,
        "params": params,
        "classes": {"dtype": _dtype_name(est.classes_), "values": [_label(c) for c in est.classes_]},
        "n_features_in": int(est.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "loss_curve": [float(v) for v in est.loss_curve_],
        "n_iter": int(est.n_iter_),
        "t": int(est.t_),
        "best_loss": _number_or_none(est.best_loss_),
        "validation_scores": None if est.validation_scores_ is None else [float(v) for v in est.validation_scores_],
        "best_validation_score": _number_or_none(est.best_validation_score_),
    }


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    return value


def _number_or_none(value):
    return None if value is None else float(value)


def _dtype_name(classes: np.ndarray) -> str:
    if classes.dtype.kind not in _LABEL_KINDS:
        raise TypeError(f"SoftmaxClassifier.save: labels of dtype {classes.dtype} cannot be written to a model file")
    return "object" if classes.dtype.kind == "O" else classes.dtype.str


def _label(value):
    """A label as a JSON scalar (str, int, float or bool)."""
    value = value.item() if isinstance(value, np.generic) else value
    if not isinstance(value, (str, int, float, bool)):
        raise TypeError(
            f"SoftmaxClassifier.save: label {value!r} of type {type(value).__name__} cannot be written to a model "
            "file (labels must be strings, numbers or booleans)"
        )
    return value


# ------------------------------------------------------------------------------------------------ reading


def load_estimator(cls, path):
    """An estimator of class ``cls`` from a model file (see :meth:`SoftmaxClassifier.load`)."""
    model, extras = nn.read(path)
    path = os.fspath(path)
    try:
        calibrator = _calibrator(model, extras.get("calibration"))
        state = extras.get(SECTION)
        if state is None:
            return _from_network(cls, model, calibrator, path)
        return _from_state(cls, model, calibrator, state)
    except ModelFileError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def _calibrator(model, section):
    if section is None:
        return None
    if not isinstance(section, dict):
        raise TypeError(f"'calibration' must be an object, got {type(section).__name__}")
    return CalibratedModel(model, calibrator_from_dict(section)).calibrator


def _from_state(cls, model, calibrator, state):
    _check(
        isinstance(state, dict) and set(state) == _KEYS, f"the '{SECTION}' section must hold exactly {sorted(_KEYS)}"
    )
    _check(
        state["version"] == _VERSION, f"the '{SECTION}' section has version {state['version']!r}, expected {_VERSION}"
    )
    est = cls()
    params = dict(_field(state, "params", dict))
    _check(set(params) == set(est.get_params(deep=False)), "the estimator's parameters do not match this version")
    params["hidden_layer_sizes"] = tuple(_field(params, "hidden_layer_sizes", list))
    classes = _classes(state["classes"], model)
    if isinstance(params["class_weight"], list):
        pairs = params["class_weight"]
        _check(all(isinstance(p, list) and len(p) == 2 for p in pairs), "class_weight must be [label, weight] pairs")
        params["class_weight"] = {_typed(k, classes.dtype): w for k, w in pairs}
    est.set_params(**params)
    check_params(est, "SoftmaxClassifier.load")
    n_features = _field(state, "n_features_in", int)
    _check(model.input_shape is not None and math.prod(model.input_shape) == n_features, "n_features_in disagrees")
    names = state["feature_names_in"]
    if names is not None:
        _check(
            isinstance(names, list) and len(names) == n_features and all(isinstance(n, str) for n in names),
            "bad feature_names_in",
        )
        est.feature_names_in_ = np.array(names, dtype=object)
    _fitted(est, model, calibrator, classes, n_features)
    est.loss_curve_ = _numbers(state, "loss_curve")
    est.n_iter_ = _field(state, "n_iter", int)
    est.t_ = _field(state, "t", int)
    est.best_loss_ = _number(state, "best_loss")
    est.validation_scores_ = None if state["validation_scores"] is None else _numbers(state, "validation_scores")
    est.best_validation_score_ = _number(state, "best_validation_score")
    return est


def _from_network(cls, model, calibrator, path):
    """A model file of ``softmaxkit train`` (logistic or MLP): an estimator whose labels are its class names."""
    settings = network_settings(model)
    if settings is None or model.input_shape is None:
        layers = ", ".join(type(layer).__name__ for layer in model.layers)
        raise ModelFileError(
            f"{path}: this network ({layers}) is not one SoftmaxClassifier builds (Dense layers with one activation "
            "and optional dropout, and a known input shape); read it with softmaxkit.calibration.load_model"
        )
    hidden, activation, dropout = settings
    est = cls(hidden_layer_sizes=hidden, activation=activation, dropout=dropout)
    width = model.output_shape()[0]
    names = model.class_names
    classes = np.array(names) if names is not None else np.arange(width)
    _check(len(classes) == width, "class_names disagree with the network's output")
    _fitted(est, model, calibrator, classes, math.prod(model.input_shape))
    rows = ((model.metadata.get("history") or {}).get("epochs")) or []
    est.loss_curve_ = [float(r["train_loss"]) for r in rows if r.get("train_loss") is not None]
    est.n_iter_ = len(est.loss_curve_)
    est.t_ = 0
    est.best_loss_ = min(est.loss_curve_, default=None)
    est.validation_scores_ = est.best_validation_score_ = None
    return est


def _fitted(est, model, calibrator, classes, n_features: int) -> None:
    est.model_ = model
    est.calibrator_ = calibrator
    est.classes_ = classes
    est.n_features_in_ = n_features
    seed = (model.metadata.get("train_args") or {}).get("seed", 0)
    est._seed = int(seed)
    est._rng = np.random.default_rng(est._seed)  # training may continue: a fresh generator from the seed


def _classes(section, model) -> np.ndarray:
    _check(isinstance(section, dict) and set(section) == {"dtype", "values"}, "classes must be {dtype, values}")
    values = _field(section, "values", list)
    name = _field(section, "dtype", str)
    dtype = np.dtype(object) if name == "object" else np.dtype(name)
    _check(
        dtype.kind in _LABEL_KINDS and dtype.itemsize <= _MAX_LABEL_BYTES, f"labels of dtype {dtype} are not allowed"
    )
    labels = [_typed(v, dtype) for v in values]
    classes = np.empty(len(labels), dtype=object) if dtype.kind == "O" else np.array(labels, dtype=dtype)
    if dtype.kind == "O":
        classes[:] = labels
    _check(model.output_shape() == (len(classes),), "the number of classes disagrees with the network's output")
    _check(len(set(labels)) == len(labels), "the labels are not unique")
    _check(model.class_names == [str(c) for c in classes], "the labels disagree with the network's class_names")
    return classes


def _typed(value, dtype: np.dtype):
    """A label read from JSON, checked against the declared dtype."""
    kind = dtype.kind
    ok = {
        "b": isinstance(value, bool),
        "i": isinstance(value, int) and not isinstance(value, bool),
        "u": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "f": isinstance(value, (int, float)) and not isinstance(value, bool),
        "U": isinstance(value, str),
        "O": isinstance(value, (str, int, float, bool)),
    }[kind]
    _check(ok, f"label {value!r} does not fit dtype {dtype}")
    if kind in "iu":
        info = np.iinfo(dtype)
        _check(info.min <= value <= info.max, f"label {value!r} does not fit dtype {dtype}")
    return value


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f"the '{SECTION}' section is malformed: {message}")


def _field(section: dict, key: str, kind: type):
    value = section.get(key)
    good = isinstance(value, kind) and not (kind is int and isinstance(value, bool)) and not (kind is int and value < 0)
    _check(good, f"{key} must be {'a non-negative integer' if kind is int else kind.__name__}, got {value!r}")
    return value


def _number(section: dict, key: str):
    value = section.get(key)
    _check(
        value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)), f"{key} must be a number"
    )
    return None if value is None else float(value)


def _numbers(section: dict, key: str) -> list:
    values = _field(section, key, list)
    _check(all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values), f"{key} must hold numbers")
    return [float(v) for v in values]
