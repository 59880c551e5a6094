"""A fitted network and a fitted calibrator of its logits, used together: :class:`CalibratedModel`.

The wrapper knows the model, not the other way round: :class:`softmaxkit.nn.Sequential` knows
nothing of calibration. A calibrated model file is an ordinary model file whose header also holds the
calibrator (under ``"calibration"``); :func:`load_model` reads either kind.

A :class:`CalibratedModel`'s calibrator always takes the network's logits (``inputs="logits"``):
whoever holds one may call ``model.calibrator.transform(logits)``. A calibrator fitted on
probabilities is refused, in Python and in a model file, rather than fed logits it would misread or
converted behind the caller's back.
"""

from __future__ import annotations

import os

import numpy as np

from .. import nn
from .._validation import Options, validate
from ..exceptions import ModelFileError, NotFittedError
from ..kernels import softmax
from ..selective import predict_with_reject
from .scaling import MatrixScaling, TemperatureScaling, VectorScaling, calibrator_from_dict

#: Header sections that describe a calibration (the second one written by softmaxkit 0.1).
_CALIBRATION_KEYS = ("calibration", "temperature")

__all__ = ["CalibratedModel", "calibrate", "load_model", "METHODS"]

#: Calibrators by the name :func:`calibrate` (and ``softmaxkit calibrate --method``) accepts.
METHODS = {"temperature": TemperatureScaling, "vector": VectorScaling, "matrix": MatrixScaling}


class CalibratedModel:
    """A network whose logits pass through a fitted calibrator: calibrated probabilities and rejection.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential
        The fitted network.
    calibrator : TemperatureScaling, VectorScaling or MatrixScaling
        Fitted on the network's logits of held-out data (``inputs="logits"``). One fitted on
        probabilities is refused: vector and matrix scaling of :math:`\\log p` are other maps than
        of the logits (see :mod:`softmaxkit.calibration.scaling`), and ``calibrator.transform`` must
        take what the network outputs. A temperature is the same either way, so a
        ``TemperatureScaling`` fitted on probabilities converts with
        ``calibrator.set_params(inputs="logits")``.

    Attributes
    ----------
    model, calibrator
        As given.

    Notes
    -----
    :meth:`predict_logits` returns the *calibrated* logits :math:`g(z)`, so that
    ``softmax(predict_logits(x)) == predict_proba(x)`` as for the bare network; the network's own
    logits are ``model.predict_logits(x)``. ``class_names``, ``input_shape``, ``metadata`` and
    ``n_params`` are the network's.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import nn
    >>> from softmaxkit.calibration import CalibratedModel, TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> net = nn.architectures.logistic((1, 2, 2), 3, rng=rng)
    >>> x, y = rng.random((50, 1, 2, 2), dtype=np.float32), rng.integers(0, 3, 50)
    >>> model = CalibratedModel(net, TemperatureScaling().fit(net.predict_logits(x), y))
    >>> model.predict_proba(x).shape, model.predict(x[:2], reject_below=0.99).tolist()
    ((50, 3), [-1, -1])
    """

    def __init__(self, model, calibrator):
        fname = "CalibratedModel"
        if not isinstance(model, nn.Sequential):
            raise TypeError(f"{fname}: model must be a softmaxkit.nn.Sequential, got {type(model).__name__}")
        if type(calibrator) not in METHODS.values():
            names = ", ".join(cls.__name__ for cls in METHODS.values())
            raise TypeError(f"{fname}: calibrator must be one of {names}, got {type(calibrator).__name__}")
        if not hasattr(calibrator, "n_classes_"):
            raise NotFittedError(f"{fname}: the calibrator is not fitted; fit it on held-out logits first")
        if calibrator.inputs != "logits":
            hint = (
                "; the temperature is the same on logits, so calibrator.set_params(inputs='logits') converts it"
                if isinstance(calibrator, TemperatureScaling)
                else "; refit it on the network's logits (calibrate(model, x_val, y_val, method=...))"
            )
            raise ValueError(
                f"{fname}: the calibrator takes inputs={calibrator.inputs!r}, but a CalibratedModel feeds it the "
                f"network's logits{hint}"
            )
        if model.input_shape is not None and model.output_shape() != (calibrator.n_classes_,):
            raise ValueError(
                f"{fname}: the calibrator was fitted on {calibrator.n_classes_} classes, but the model "
                f"outputs shape {model.output_shape()}"
            )
        self.model = model
        self.calibrator = calibrator

    # the network's descriptive attributes
    @property
    def class_names(self):
        return self.model.class_names

    @property
    def input_shape(self):
        return self.model.input_shape

    @property
    def metadata(self) -> dict:
        return self.model.metadata

    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def method(self) -> str:
        """The calibrator's kind: ``"temperature"``, ``"vector"`` or ``"matrix"``."""
        return self.calibrator.kind

    def __repr__(self) -> str:
        return f"CalibratedModel({self.model!r}, {self.calibrator!r})"

    def predict_logits(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Calibrated logits :math:`g(z)` of the network's logits :math:`z`, shape (n_samples, n_classes)."""
        logits = self.model.predict_logits(x, batch_size=batch_size)
        return self.calibrator.transform(logits).astype(logits.dtype, copy=False)

    def predict_proba(self, x, *, batch_size: int = 1024) -> np.ndarray:
        """Calibrated probabilities ``softmax(predict_logits(x))``, shape (n_samples, n_classes)."""
        return softmax(self.predict_logits(x, batch_size=batch_size), axis=-1)

    def predict(self, x, *, batch_size: int = 1024, reject_below=None) -> np.ndarray:
        """Predicted class indices, shape (n_samples,).

        With ``reject_below=p``, inputs whose top calibrated probability is below ``p`` get
        :data:`softmaxkit.selective.REJECT` (-1): "none of the above". Temperature scaling never
        changes the argmax; vector and matrix scaling may.
        """
        if reject_below is None:
            return np.argmax(self.predict_logits(x, batch_size=batch_size), axis=-1)
        return predict_with_reject(self.predict_proba(x, batch_size=batch_size), reject_below=reject_below)

    def save(self, path, *, extras: dict | None = None) -> None:
        """Write the network and the calibrator to one model file, atomically (see :func:`softmaxkit.nn.save`).

        ``extras`` are other JSON sections to keep in the file beside ``"calibration"`` (for example
        the ``"estimator"`` section of a :class:`softmaxkit.SoftmaxClassifier` that was recalibrated).
        """
        sections = {key: value for key, value in (extras or {}).items() if key not in _CALIBRATION_KEYS}
        nn.save(self.model, path, extras={**sections, "calibration": self.calibrator.to_dict()})

    @classmethod
    def load(cls, path, *, rng=None) -> CalibratedModel:
        """Read a calibrated model file (:func:`load_model` reads calibrated and plain files alike).

        Raises
        ------
        ModelFileError
            The file is unreadable or holds no calibrator.
        """
        model = load_model(path, rng=rng)
        if not isinstance(model, cls):
            raise ModelFileError(
                f"{os.fspath(path)}: the model file holds no calibrator; read the network with softmaxkit.nn.load "
                "or calibrate it (softmaxkit calibrate, softmaxkit.calibration.calibrate)"
            )
        return model


def calibrate(model, x, y, *, method: str = "temperature", batch_size: int = 1024) -> CalibratedModel:
    """Fit a calibrator of ``model``'s logits on held-out data and wrap both.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential
        The fitted network (a :class:`CalibratedModel`'s network is recalibrated from scratch).
    x, y : ndarray
        Held-out inputs and their integer labels (a validation split, never the training data).
    method : {"temperature", "vector", "matrix"}, default "temperature"
        The calibrator (:data:`METHODS`), with its default settings.
    batch_size : int, default 1024
        Rows per forward pass.

    Returns
    -------
    CalibratedModel
    """
    (method,) = validate("calibrate", {"method": Options(*METHODS)}, method=method)
    if isinstance(model, CalibratedModel):
        model = model.model
    logits = model.predict_logits(x, batch_size=batch_size).astype(np.float64)
    return CalibratedModel(model, METHODS[method]().fit(logits, y))


def load_model(path, *, rng=None):
    """Read a model file: a :class:`CalibratedModel` when it holds a calibrator, else the network.

    The network is read and checked by :func:`softmaxkit.nn.read`; the calibrator is checked here:
    its kind, the types of its params, its fitted numbers (finite, of the right shapes) and its number
    of classes, which must be the network's output width (known from the input shape, or from a
    final Dense layer followed only by element-wise layers).

    Parameters
    ----------
    path : str or os.PathLike
    rng : numpy.random.Generator, optional
        Passed to :func:`softmaxkit.nn.load` (dropout masks if training continues).

    Returns
    -------
    CalibratedModel or softmaxkit.nn.Sequential

    Raises
    ------
    ModelFileError
        The file is unreadable (see :func:`softmaxkit.nn.load`) or holds a calibrator that is
        malformed or does not fit its network. The message names the file.
    """
    model, extras = nn.read(path, rng=rng)
    path = os.fspath(path)
    try:
        calibrator = _calibrator(extras, _output_width(model))
        return model if calibrator is None else CalibratedModel(model, calibrator)
    except (TypeError, ValueError) as exc:  # also a network whose output is not one row of logits
        raise ModelFileError(f"{path}: inconsistent calibration ({exc})") from None


def _calibrator(extras: dict, width):
    """The calibrator a header's extras describe (None for an uncalibrated model), checked against ``width``.

    Raises TypeError or ValueError when it is malformed or fitted on another number of classes.
    """
    calibration = extras.get("calibration")
    temperature = extras.get("temperature", 1.0)  # written by softmaxkit 0.1 beside "calibration"
    if calibration is not None and not isinstance(calibration, dict):
        raise TypeError(f"'calibration' must be an object, got {type(calibration).__name__}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"'temperature' must be a number, got {type(temperature).__name__}")
    if calibration:
        calibrator = calibrator_from_dict(calibration)
    elif temperature != 1.0:
        calibrator = _temperature_only(temperature, width)
    else:
        return None
    if not hasattr(calibrator, "n_classes_"):
        raise NotFittedError("the calibrator is not fitted")
    if width is not None and calibrator.n_classes_ != width:
        raise ValueError(
            f"the calibrator was fitted on {calibrator.n_classes_} classes, but the network outputs {width}"
        )
    return calibrator


def _output_width(model):
    """The number of classes ``model`` outputs, or None when its layers alone cannot tell.

    With an input shape, the output shape says it. Without one, a final :class:`~softmaxkit.nn.Dense`
    layer fixes it, if every layer after it keeps a 1-D shape (activations, dropout, softmax).
    """
    try:
        if model.input_shape is not None:
            shape = model.output_shape()
        else:
            last = max((i for i, layer in enumerate(model.layers) if isinstance(layer, nn.Dense)), default=None)
            if last is None:
                return None
            shape = (model.layers[last].out_features,)
            for layer in model.layers[last + 1 :]:
                shape = layer.output_shape(shape)
    except ValueError:
        return None
    return shape[0] if len(shape) == 1 else None


def _temperature_only(temperature, width) -> TemperatureScaling:
    """A model file of softmaxkit 0.1 that sets a temperature but no calibrator."""
    if width is None:
        raise ValueError("a temperature without a calibrator needs a network whose number of classes is known")
    return TemperatureScaling.from_dict(
        {
            "kind": "temperature",
            "params": {"bounds": [1e-3, 1e3]},
            "fitted": {
                "n_classes": width,
                "nll_before": float("nan"),
                "nll_after": float("nan"),
                "temperature": temperature,
            },
        }
    )
