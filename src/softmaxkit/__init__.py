"""softmaxkit: softmax classification done properly.

Stable, fused kernels (:mod:`softmaxkit.kernels`, :mod:`softmaxkit.losses`), a NumPy neural network
with a softmax output layer (:mod:`softmaxkit.nn`, trained by :mod:`softmaxkit.train`), and calibrated
probabilities (:mod:`softmaxkit.calibration`, :mod:`softmaxkit.metrics`, :mod:`softmaxkit.selective`,
:mod:`softmaxkit.conformal`). The kernels are imported here; every other submodule loads on first use.

>>> from softmaxkit import softmax
>>> softmax([1.6, 3.1, 0.5]).round(8)
array([0.17198205, 0.77077009, 0.05724785])
"""

import os as _os

# Thread pools on few cores. After each matrix product OpenBLAS's idle threads spin for about 2**28
# cycles (its default) before they sleep, taking a core from the numba kernels that run between the
# products of a training step (the CNN step was about 1.25 times slower); 2**20 cycles (a third of a
# millisecond) keeps back-to-back products as fast and gives the kernels both cores. A default only (a
# value already set is kept), read when OpenBLAS loads: it applies when softmaxkit is imported before
# NumPy, as the command line is. numba's OpenMP threads: see softmaxkit._numba.dispatch.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from .kernels import (
    log_sigmoid,
    log_softmax,
    log_softmax_backward,
    logsumexp,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
)
from .linear_head import linear_cross_entropy, linear_cross_entropy_and_grad
from .losses import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_and_grad,
    cross_entropy,
    cross_entropy_and_grad,
    cross_entropy_from_probs,
)

__version__ = "0.1.0"

# Submodules load on first use (``softmaxkit.nn``, ``softmaxkit.metrics``, ...) so that
# ``import softmaxkit`` stays fast for the command line.
_SUBMODULES = {
    "calibration",
    "cli",
    "conformal",
    "datasets",
    "evaluation",
    "exceptions",
    "inputs",
    "kernels",
    "linear_head",
    "losses",
    "metrics",
    "multilabel",
    "neither",
    "nn",
    "plot",
    "recipes",
    "report",
    "selective",
    "testing",
    "train",
}


#: Public names of submodules offered here too, loaded on first use: name -> submodule.
_LAZY_NAMES = {"SoftmaxClassifier": "estimator", "export_onnx": "export"}


def __getattr__(name):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "log_sigmoid",
    "softmax_backward",
    "log_softmax_backward",
    "sigmoid_backward",
    "cross_entropy",
    "cross_entropy_and_grad",
    "cross_entropy_from_probs",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_and_grad",
    "linear_cross_entropy",
    "linear_cross_entropy_and_grad",
    "__version__",
]
