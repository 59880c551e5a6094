"""The parameters of :class:`~softmaxkit.estimator.SoftmaxClassifier`: one table of constraints, checked in one call.

scikit-learn's convention is kept (``__init__`` stores the parameters untouched, ``fit`` checks them),
but the checks are softmaxkit's own constraint objects (:mod:`softmaxkit._validation`), so a bad value
gets the same one-line ``ValueError``/``TypeError`` as everywhere else in the package, naming the
estimator and the parameter. The few parameters a scalar constraint cannot describe (a tuple of
layer sizes, ``"auto"`` or an int, a dict of class weights, a seed or a generator) are checked here in
the same words.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._validation import (
    FRACTION,
    HALF_OPEN_FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    Boolean,
    Integer,
    Options,
    validate,
)

__all__ = ["Settings", "check_params", "draw_seed", "show_label", "ACTIVATIONS"]

#: Hidden-layer activations, as scikit-learn's MLPClassifier names them.
ACTIVATIONS = ("relu", "logistic", "tanh", "identity")

_CONSTRAINTS = {
    "activation": Options(*ACTIVATIONS),
    "alpha": NON_NEGATIVE,
    "learning_rate_init": POSITIVE,
    "max_iter": Integer(1),
    "tol": NON_NEGATIVE,
    "n_iter_no_change": Integer(1),
    "early_stopping": Boolean(),
    "validation_fraction": OPEN_FRACTION,
    "warm_start": Boolean(),
    "dropout": HALF_OPEN_FRACTION,
    "optimizer": Options("adam", "sgd"),
    "momentum": FRACTION,
    "temperature_scaling": Boolean(),
}


@dataclass(frozen=True)
class Settings:
    """The checked, normalised parameters one call of ``fit`` or ``partial_fit`` works with."""

    hidden_layer_sizes: tuple
    activation: str
    alpha: float
    batch_size: int | None  # None: "auto"
    learning_rate_init: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    validation_fraction: float
    verbose: int
    warm_start: bool
    dropout: float
    optimizer: str
    momentum: float
    class_weight: object
    temperature_scaling: bool


def check_params(estimator, fname: str) -> Settings:
    """Check every parameter of ``estimator`` (a SoftmaxClassifier); raise one clear error for the first bad one."""
    params = estimator.get_params(deep=False)
    scalars = dict(zip(_CONSTRAINTS, validate(fname, _CONSTRAINTS, **{k: params[k] for k in _CONSTRAINTS})))
    _check_random_state(params["random_state"], fname)
    return Settings(
        hidden_layer_sizes=_hidden_layer_sizes(params["hidden_layer_sizes"], fname),
        batch_size=_batch_size(params["batch_size"], fname),
        verbose=_verbose(params["verbose"], fname),
        class_weight=_class_weight(params["class_weight"], fname),
        **scalars,
    )


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _hidden_layer_sizes(value, fname: str) -> tuple:
    """An int (one hidden layer) or a sequence of positive ints; ``()`` is logistic regression."""
    sizes = (value,) if _is_int(value) else value
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(_is_int(h) and h >= 1 for h in sizes):
        raise (TypeError if sizes is None else ValueError)(
            f"{fname}: hidden_layer_sizes must be a sequence of positive integers such as (100,), "
            f"or () for logistic regression, got {value!r}"
        )
    return tuple(int(h) for h in sizes)


def _batch_size(value, fname: str):
    if isinstance(value, str) and value == "auto":
        return None
    if not _is_int(value):
        raise TypeError(f"{fname}: batch_size must be 'auto' or a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{fname}: batch_size must be 'auto' or a positive integer, got {value!r}")
    return int(value)


def _verbose(value, fname: str) -> int:
    if not (isinstance(value, (bool, np.bool_)) or _is_int(value)) or value < 0:
        raise TypeError(f"{fname}: verbose must be True, False or an integer >= 0, got {value!r}")
    return int(value)


def _class_weight(value, fname: str):
    if value is None or (isinstance(value, str) and value == "balanced"):
        return value
    if not isinstance(value, dict):
        raise TypeError(f"{fname}: class_weight must be None, 'balanced' or a dict {{label: weight}}, got {value!r}")
    for label, weight in value.items():
        if not (isinstance(weight, numbers.Real) and not isinstance(weight, (bool, np.bool_))):
            raise TypeError(f"{fname}: class_weight[{label!r}] must be a number, got {weight!r}")
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"{fname}: class_weight[{label!r}] must be a finite number >= 0, got {weight!r}")
    return value


def _check_random_state(value, fname: str) -> None:
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return
    if not _is_int(value):
        raise TypeError(
            f"{fname}: random_state must be None, an integer >= 0, a numpy.random.Generator or a "
            f"numpy.random.RandomState, got {value!r}"
        )
    if value < 0:
        raise ValueError(f"{fname}: random_state must be an integer >= 0, got {value!r}")


def draw_seed(random_state) -> int:
    """The seed of a fit: ``random_state`` itself when it is an int, else drawn from it (or from fresh entropy).

    Every fit then runs from ``numpy.random.default_rng(seed)``, and the seed is written to the model
    file, so that ``softmaxkit calibrate`` can recreate the held-out rows (see
    :func:`softmaxkit.datasets.validation_split`).
    """
    if _is_int(random_state):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int64).max, dtype=np.int64))
    generator = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng()
    return int(generator.integers(np.iinfo(np.int64).max))


def show_label(label) -> str:
    """A label as messages show it: ``1``, ``'cat'`` (not ``np.int64(1)``)."""
    return repr(label.item() if isinstance(label, np.generic) else label)
