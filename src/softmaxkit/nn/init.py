"""Weight initialisation from an explicit :class:`numpy.random.Generator`.

Every function takes the generator as its first argument; none touches NumPy's global random state.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["he_normal", "glorot_uniform", "INITS"]


def he_normal(rng: np.random.Generator, shape, fan_in: int, fan_out: int, *, dtype=np.float32) -> np.ndarray:
    r"""He (Kaiming) normal initialisation for layers followed by a ReLU: :math:`N(0, 2 / \text{fan\_in})`.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
    fan_in, fan_out : int
        Inputs and outputs per unit (``fan_out`` is unused; kept for a common signature).
    dtype : dtype, default float32

    Returns
    -------
    ndarray of shape ``shape``

    Examples
    --------
    >>> import numpy as np
    >>> w = he_normal(np.random.default_rng(0), (1000, 50), 1000, 50)
    >>> w.dtype, round(float(w.std() * np.sqrt(1000 / 2)), 1)
    (dtype('float32'), 1.0)
    """
    std = math.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape, dtype=np.float64) * std).astype(dtype)


def glorot_uniform(rng: np.random.Generator, shape, fan_in: int, fan_out: int, *, dtype=np.float32) -> np.ndarray:
    r"""Glorot (Xavier) uniform initialisation: :math:`U(-a, a)`, :math:`a = \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Examples
    --------
    >>> import numpy as np
    >>> w = glorot_uniform(np.random.default_rng(0), (30, 10), 30, 10)
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 40))
    True
    """
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


#: Initialisers by the name layers accept in ``init=``.
INITS = {"he": he_normal, "glorot": glorot_uniform}
