"""The network and optimizer a :class:`~softmaxkit.estimator.SoftmaxClassifier` trains, built from its settings."""

from __future__ import annotations

import numpy as np

from .. import nn

__all__ = ["build_network", "build_optimizer", "optimizer_kind", "network_settings", "check_same_network"]

_ACTIVATION_LAYERS = {"relu": nn.ReLU, "logistic": nn.Sigmoid, "tanh": nn.Tanh, "identity": None}


def build_network(
    n_features: int, n_classes: int, *, hidden, activation: str, dropout: float, dtype, rng: np.random.Generator
) -> nn.Sequential:
    """``[Dense(h), activation, (Dropout)] per hidden width, Dense(n_classes)`` on flat inputs of ``n_features``.

    Hidden layers before a ReLU start from He initialisation, all others from Glorot; biases from 0.
    The weights are drawn from ``rng`` (layer by layer) and the dropout masks come from it too.
    ``hidden=()`` is multinomial logistic regression (one Dense layer). The network computes in
    ``dtype`` (float32 or float64).
    """
    layers, width = [], n_features
    act = _ACTIVATION_LAYERS[activation]
    for h in hidden:
        layers.append(nn.Dense(width, h, init="he" if activation == "relu" else "glorot", rng=rng))
        if act is not None:
            layers.append(act())
        if dropout:
            layers.append(nn.Dropout(dropout, rng=rng))
        width = h
    layers.append(nn.Dense(width, n_classes, init="glorot", rng=rng))
    model = nn.Sequential(layers, input_shape=(n_features,))
    if np.dtype(dtype) != model.dtype:
        model.astype(dtype)
    model.metadata["architecture"] = {
        "name": "softmax-classifier",
        "hidden": list(hidden),
        "activation": activation,
        "dropout": float(dropout),
    }
    return model


def network_settings(model: nn.Sequential):
    """``(hidden_layer_sizes, activation, dropout)`` of a network :func:`build_network` (or
    ``softmaxkit train --model logistic|mlp``) could have built, else None."""
    kinds = {nn.ReLU: "relu", nn.Sigmoid: "logistic", nn.Tanh: "tanh"}
    layers = list(model.layers)
    i = 1 if layers and isinstance(layers[0], nn.Flatten) else 0
    hidden, activations, dropouts = [], set(), set()
    while i < len(layers):
        dense = layers[i]
        if not isinstance(dense, nn.Dense):
            return None
        i += 1
        if i == len(layers):  # the output layer
            break
        activation, p = "identity", 0.0
        if type(layers[i]) in kinds:
            activation = kinds[type(layers[i])]
            i += 1
        if i < len(layers) and isinstance(layers[i], nn.Dropout):
            p = layers[i].p
            i += 1
        hidden.append(dense.out_features)
        activations.add(activation)
        dropouts.add(p)
    if not layers or len(activations) > 1 or len(dropouts) > 1:
        return None
    return tuple(hidden), activations.pop() if activations else "relu", dropouts.pop() if dropouts else 0.0


def check_same_network(model: nn.Sequential, settings, fname: str) -> None:
    """A warm start continues ``model``: refuse settings that describe another network."""
    built = network_settings(model)
    if settings.hidden_layer_sizes:
        wanted = (settings.hidden_layer_sizes, settings.activation, settings.dropout)
    else:  # logistic regression: activation and dropout do not apply
        wanted = ((), built[1], built[2]) if built else None
    if built != wanted:
        raise ValueError(
            f"{fname}: warm_start continues the fitted network {built}, which does not match "
            f"hidden_layer_sizes, activation and dropout {wanted}; set warm_start=False to start over"
        )


def build_optimizer(kind: str, lr: float, momentum: float):
    """Adam (scikit-learn's defaults: betas 0.9, 0.999, eps 1e-8) or SGD with Nesterov momentum (plain SGD at 0)."""
    if kind == "adam":
        return nn.Adam(lr)
    return nn.SGD(lr, momentum=momentum, nesterov=momentum > 0)


def optimizer_kind(optimizer) -> str:
    """``"adam"`` or ``"sgd"``: the ``optimizer`` parameter that builds an optimizer like this one."""
    return "adam" if isinstance(optimizer, nn.Adam) else "sgd"
