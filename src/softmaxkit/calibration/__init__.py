"""Post-hoc calibration: honest probabilities from a trained network's logits.

- :mod:`~softmaxkit.calibration.scaling`: the calibrators of a classifier's scores,
  :class:`TemperatureScaling`, :class:`VectorScaling`, :class:`MatrixScaling`
  (``fit(scores, y, sample_weight=None)`` with integer class indices ``y``, ``transform``,
  ``predict_proba``, ``to_dict``; :func:`calibrator_from_dict` restores one). The scores are logits,
  or probabilities with ``inputs="probabilities"``; the calibrators are scikit-learn estimators
  (``get_params``, ``set_params``, :func:`sklearn.base.clone`).
- :mod:`~softmaxkit.calibration.calibrated_model`: :class:`CalibratedModel`, a fitted network and a
  fitted calibrator of its logits used together (what a calibrated model file loads as);
  :func:`calibrate` fits one on held-out data; :func:`load_model` reads any model file.

Examples
--------
>>> import numpy as np
>>> from softmaxkit.calibration import TemperatureScaling
>>> z = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [0.0, 4.0]])
>>> ts = TemperatureScaling().fit(z, np.array([0, 1, 1, 0]))   # half right: T grows large
>>> bool(ts.temperature_ > 10)
True
"""

from ..exceptions import NotFittedError
from .calibrated_model import METHODS, CalibratedModel, calibrate, load_model
from .scaling import MatrixScaling, TemperatureScaling, VectorScaling, calibrator_from_dict

__all__ = [
    "TemperatureScaling",
    "VectorScaling",
    "MatrixScaling",
    "calibrator_from_dict",
    "CalibratedModel",
    "calibrate",
    "load_model",
    "METHODS",
    "NotFittedError",
]
