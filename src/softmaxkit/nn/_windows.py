"""Sliding 2-D windows on NCHW arrays, shared by convolution and pooling: sizes, strides, strided views."""

from __future__ import annotations

import numpy as np

__all__ = ["pair", "unpair", "out_size", "offsets"]


def pair(value, argname: str, layer: str, *, minimum: int = 1) -> tuple[int, int]:
    """``value`` (an int, or a pair of ints, each >= ``minimum``) as ``(height, width)``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in items
    ):
        raise ValueError(f"{layer}: {argname} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def unpair(hw: tuple[int, int]):
    """``(h, w)`` as one int when both are equal (the JSON form of a layer's config), else a list."""
    return hw[0] if hw[0] == hw[1] else list(hw)


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a window sliding over ``size`` (+ padding on both sides) with a stride."""
    return (size + 2 * padding - kernel) // stride + 1


def offsets(x: np.ndarray, i: int, j: int, stride, out_hw) -> np.ndarray:
    """The view ``x[:, :, i + s*r, j + s*c]`` for all output rows r and columns c."""
    (sh, sw), (ho, wo) = stride, out_hw
    return x[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]
