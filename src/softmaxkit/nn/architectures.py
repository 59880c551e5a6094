"""Ready-made models: logistic regression, a multilayer perceptron and a small CNN.

Every builder takes the shape of one sample ``(C, H, W)`` (data come as float32 NCHW in [0, 1]), the
number of classes, and a required ``rng``: the same seed gives the same initial weights, bit for bit.
Hidden layers followed by a ReLU use He initialisation; the output layer uses Glorot.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import Integer, check_rng, validate
from .conv import Conv2D
from .layers import Dense, Dropout, Flatten, ReLU
from .pooling import MaxPool2D
from .sequential import Sequential

__all__ = ["logistic", "mlp", "cnn"]


def _check(input_shape, n_classes, rng, fname):
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"{fname}: input_shape must be positive integers such as (1, 28, 28), got {input_shape!r}")
    (n_classes,) = validate(fname, {"n_classes": Integer(2)}, n_classes=n_classes)
    check_rng(rng, fname)
    return shape, n_classes


def logistic(input_shape, n_classes: int, *, rng: np.random.Generator) -> Sequential:
    """Multinomial logistic regression: ``Flatten -> Dense(n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> logistic((1, 8, 8), 10, rng=np.random.default_rng(0)).n_params
    650
    """
    shape, n_classes = _check(input_shape, n_classes, rng, "logistic")
    model = Sequential([Flatten(), Dense(math.prod(shape), n_classes, init="glorot", rng=rng)], input_shape=shape)
    model.metadata["architecture"] = {"name": "logistic"}
    return model


def mlp(
    input_shape, n_classes: int, *, hidden=(256, 128), dropout: float = 0.0, rng: np.random.Generator
) -> Sequential:
    """Multilayer perceptron: ``Flatten, [Dense(h), ReLU, (Dropout)] per hidden width, Dense(n_classes)``.

    Parameters
    ----------
    input_shape : tuple of int
    n_classes : int
    hidden : sequence of int, default (256, 128)
    dropout : float, default 0.0
        Dropout probability after each hidden ReLU (no Dropout layer when 0).
    rng : numpy.random.Generator

    Examples
    --------
    >>> import numpy as np
    >>> model = mlp((1, 28, 28), 10, rng=np.random.default_rng(0))
    >>> model.n_params, model.output_shape()
    (235146, (10,))
    """
    shape, n_classes = _check(input_shape, n_classes, rng, "mlp")
    layers, width = [Flatten()], math.prod(shape)
    for h in hidden:
        layers += [Dense(width, int(h), init="he", rng=rng), ReLU()]
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
        width = int(h)
    layers.append(Dense(width, n_classes, init="glorot", rng=rng))
    model = Sequential(layers, input_shape=shape)
    model.metadata["architecture"] = {"name": "mlp", "hidden": [int(h) for h in hidden], "dropout": float(dropout)}
    return model


def cnn(
    input_shape, n_classes: int, *, rng: np.random.Generator, channels=(32, 64), hidden: int = 128, dropout: float = 0.0
) -> Sequential:
    """Small CNN: ``32c3(pad 1)-ReLU-pool2-64c3(pad 1)-ReLU-pool2-Flatten-Dense(128)-ReLU-Dense(n_classes)``.

    Works for 28x28x1 (MNIST), 32x32x3 (CIFAR-10) and 8x8x1 (digits) inputs.

    Parameters
    ----------
    input_shape : (C, H, W)
    n_classes : int
    rng : numpy.random.Generator
    channels : (int, int), default (32, 64)
    hidden : int, default 128
    dropout : float, default 0.0
        Dropout probability before the output layer (no Dropout layer when 0).

    Examples
    --------
    >>> import numpy as np
    >>> cnn((1, 8, 8), 10, rng=np.random.default_rng(0)).output_shape()
    (10,)
    """
    shape, n_classes = _check(input_shape, n_classes, rng, "cnn")
    if len(shape) != 3 or shape[1] < 4 or shape[2] < 4:
        raise ValueError(f"cnn: input_shape must be (C, H, W) with H, W >= 4, got {input_shape!r}")
    c1, c2 = (int(c) for c in channels)
    c, h, w = shape
    flat = c2 * (h // 2 // 2) * (w // 2 // 2)
    layers = [
        Conv2D(c, c1, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2D(2),
        Conv2D(c1, c2, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(flat, int(hidden), rng=rng),
        ReLU(),
    ]
    if dropout:
        layers.append(Dropout(dropout, rng=rng))
    layers.append(Dense(int(hidden), n_classes, init="glorot", rng=rng))
    model = Sequential(layers, input_shape=shape)
    model.metadata["architecture"] = {
        "name": "cnn",
        "channels": [c1, c2],
        "hidden": int(hidden),
        "dropout": float(dropout),
    }
    return model
