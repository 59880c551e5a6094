"""A small NumPy neural network with a softmax output: layers, Sequential models, optimizers.

Pure NumPy plus softmaxkit's own kernels; float32 throughout. Train on logits with the fused
softmax + cross-entropy gradient (:func:`softmaxkit.cross_entropy_and_grad`).

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

from . import architectures, init
from .conv import Conv2D, MaxPool2D
from .layers import Dense, Dropout, Flatten, Layer, ReLU, Sigmoid, Softmax, Tanh
from .model import FORMAT_NAME, FORMAT_VERSION, LAYER_TYPES, ModelFileError, Sequential, load
from .optim import SGD, Adam, AdamW, CosineSchedule, StepSchedule

__all__ = [
    "Layer", "Dense", "Conv2D", "MaxPool2D", "Flatten", "ReLU", "Sigmoid", "Tanh", "Dropout", "Softmax",
    "Sequential", "load", "ModelFileError", "LAYER_TYPES", "FORMAT_NAME", "FORMAT_VERSION",
    "SGD", "Adam", "AdamW", "CosineSchedule", "StepSchedule",
    "architectures", "init",
]
