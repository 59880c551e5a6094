"""A small NumPy neural network with a softmax output: layers, Sequential models, optimizers, model files.

Pure NumPy plus softmaxkit's own kernels; float32 throughout. Train on logits with the fused
softmax + cross-entropy gradient (:func:`softmaxkit.cross_entropy_and_grad`). This package knows
nothing above it: calibration, data sets, plots and the command line build on it, never the reverse.

- :mod:`~softmaxkit.nn.base` (the layer contract), :mod:`~softmaxkit.nn.layers` (dense, shape,
  activation, dropout and softmax layers, the fixed standardisation input layer),
  :mod:`~softmaxkit.nn.conv` (convolution),
  :mod:`~softmaxkit.nn.pooling` (max pooling), :mod:`~softmaxkit.nn.init` (initialisers),
  :mod:`~softmaxkit.nn.heads` (a linear output layer trained with a fused cross-entropy that never
  holds the logits, for many classes),
- :mod:`~softmaxkit.nn.sequential` (the model), :mod:`~softmaxkit.nn.architectures` (ready-made models),
- :mod:`~softmaxkit.nn.optim` (optimizers), :mod:`~softmaxkit.nn.schedules` (learning-rate schedules),
- :mod:`~softmaxkit.nn.io` (the model file: :func:`save`, :func:`load`).

Examples
--------
>>> import numpy as np
>>> from softmaxkit import nn, cross_entropy_and_grad
>>> rng = np.random.default_rng(0)
>>> model = nn.architectures.mlp((1, 4, 4), 3, hidden=(8,), rng=rng)
>>> x, y = rng.random((5, 1, 4, 4), dtype=np.float32), np.array([0, 1, 2, 0, 1])
>>> loss, grad = cross_entropy_and_grad(model.forward(x, training=True), y)
>>> model.backward(grad)
>>> nn.SGD(0.1, momentum=0.9).step(model)
>>> model.predict(x).shape
(5,)
"""

from ..exceptions import ModelFileError
from . import architectures, init
from .base import Layer
from .conv import Conv2D
from .heads import LinearCrossEntropyHead
from .io import FORMAT_NAME, FORMAT_VERSION, LAYER_TYPES, load, read, save
from .layers import Dense, Dropout, Flatten, ReLU, Sigmoid, Softmax, Standardize, Tanh
from .optim import SGD, Adam, AdamW
from .pooling import MaxPool2D
from .schedules import CosineSchedule, StepSchedule
from .sequential import Sequential

__all__ = [
    "Layer",
    "Dense",
    "Conv2D",
    "MaxPool2D",
    "Flatten",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Dropout",
    "Softmax",
    "Standardize",
    "LinearCrossEntropyHead",
    "Sequential",
    "save",
    "load",
    "read",
    "ModelFileError",
    "LAYER_TYPES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SGD",
    "Adam",
    "AdamW",
    "CosineSchedule",
    "StepSchedule",
    "architectures",
    "init",
]
