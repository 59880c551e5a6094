"""Helpers for testing gradients: what softmaxkit's own tests use, for your custom layers and losses."""

from __future__ import annotations

import numpy as np

__all__ = ["numerical_gradient"]


def numerical_gradient(f, a: np.ndarray, *, eps: float = 1e-6) -> np.ndarray:
    r"""Central finite differences of the scalar ``f()`` with respect to the array ``a``.

    Each entry of ``a`` is perturbed in place (and restored), so ``f`` takes no arguments and reads
    ``a`` (a layer's parameter, an input batch, ...):

    .. math::

        \frac{\partial f}{\partial a_i} \approx \frac{f(a + h_i e_i) - f(a - h_i e_i)}{2 h_i},
        \qquad h_i = \varepsilon \max(1, |a_i|),

    with error :math:`O(h^2) + O(\text{machine eps} / h)`, about 1e-10 in float64 for smooth ``f``.
    Use float64 arrays: in float32 the rounding error swamps the difference.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda: float(np.sum(a ** 2)), a).round(6)
    array([2., 4.])
    """
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        raise TypeError("numerical_gradient: a must be a floating-point NumPy array (perturbed in place)")
    grad = np.zeros(a.shape, dtype=np.float64)
    for i in np.ndindex(a.shape):
        old = a[i]
        step = eps * max(1.0, abs(float(old)))
        a[i] = old + step
        plus = float(np.sum(f()))
        a[i] = old - step
        minus = float(np.sum(f()))
        a[i] = old
        grad[i] = (plus - minus) / (2 * step)
    return grad
