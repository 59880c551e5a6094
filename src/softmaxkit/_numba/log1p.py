"""Branch-free float64 ``log1p`` for ``x >= 0`` that LLVM vectorises.

A loop calling :func:`math.log1p` calls libm once per entry (some 40 cycles). Where a kernel needs
one ``log1p`` per output column of a short class axis (log-softmax and logsumexp in column mode),
those calls cost a sixth of the whole kernel; :func:`log1p` is musl's ``log1p`` (after fdlibm)
without its branches, so a loop over many values runs in SIMD lanes:

``u = 1 + x`` is split as ``u = 2**k * (1 + f)`` with ``sqrt(2)/2 <= 1 + f < sqrt(2)`` (integer
operations on the high word), ``log(1 + f) = f - f**2/2 + s * (f**2/2 + R(s**2))`` with
``s = f / (2 + f)`` and fdlibm's polynomial ``R``, and ``c = (x - (u - 1)) / u`` corrects the
rounding of ``1 + x``. Error within 1 ulp, as musl's. Compiled without fastmath (the correction
term must not be reassociated away) and with NumPy's error model (a division by zero is no Python
exception, whose check would keep a loop scalar).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .floats import bits, f64_from_bits

__all__ = ["log1p"]

_LN2_HI = 6.93147180369123816490e-01  # trailing zero bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@njit(cache=True, error_model="numpy")
def log1p(x):
    """``log1p(x)`` for a float64 ``0 <= x < 2**53`` (finite), to within 1 ulp.

    Examples
    --------
    >>> bool(abs(log1p(1e-3) - np.log1p(1e-3)) <= np.spacing(np.log1p(1e-3)))
    True
    """
    u = 1.0 + x
    # High word of u moved so that the mantissa of f falls in [sqrt(2)/2, sqrt(2)).
    hu = (bits(u) >> 32) + (0x3FF00000 - 0x3FE6A09E)
    k = (hu >> 20) - 0x3FF
    dk = np.float64(k)
    # Rounding error of 1 + x, relative to u: exact operations for k >= 2 and k < 2 alike.
    c = ((1.0 - (u - x)) if k >= 2 else (x - (u - 1.0))) / u
    hu = (hu & 0x000FFFFF) + 0x3FE6A09E
    f = f64_from_bits((hu << 32) | (bits(u) & 0xFFFFFFFF)) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    return s * (hfsq + r) + (dk * _LN2_LO + c) - hfsq + f + dk * _LN2_HI
