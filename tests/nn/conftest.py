"""Shared pieces of the softmaxkit.nn tests."""

from __future__ import annotations

import pytest

from softmaxkit import nn


@pytest.fixture
def small_cnn():
    """A factory of a small CNN with every layer type, on (1, 4, 4) inputs: ``small_cnn(rng, n_classes=3)``."""

    def build(rng, *, n_classes=3):
        return nn.Sequential(
            [
                nn.Conv2D(1, 2, 3, padding=1, rng=rng),
                nn.Tanh(),
                nn.MaxPool2D(2),
                nn.Conv2D(2, 3, 2, stride=1, rng=rng),
                nn.Sigmoid(),
                nn.Flatten(),
                nn.Dense(3, 4, rng=rng),
                nn.Tanh(),
                nn.Dense(4, n_classes, init="glorot", rng=rng),
            ],
            input_shape=(1, 4, 4),
            class_names=[f"c{i}" for i in range(n_classes)],
        )

    return build
