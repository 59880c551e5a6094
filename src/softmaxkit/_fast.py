"""Fused multi-core numba kernels behind the public signatures (placeholder: NumPy path only).

Each entry point returns ``None`` when it does not handle the input, and the caller falls back to the
NumPy reference implementation.
"""

from __future__ import annotations


def softmax(z, axis, *, out=None, log=False):
    return None


def logsumexp(z, axis):
    return None


def cross_entropy_rows(z, labels, active):
    return None


def cross_entropy_grad_rows(z, labels, active):
    return None
