"""Branch-free polynomial ``exp`` for float32 and float64 that LLVM vectorises.

``exp(x) = 2**k * exp(r)`` with ``x = k ln 2 + r``, ``|r| <= ln(2) / 2``: ``k`` is rounded by the
``1.5 * 2**52`` (float32: ``1.5 * 2**23``) shifter trick, ``exp(r)`` is a near-minimax polynomial
(Chebyshev-node fit) and ``2**k`` is built from exponent bits. The polynomial coefficients carry a
factor ``2**-54`` (float32: ``2**-25``) so that the power of two stays a normal number down to the
smallest subnormal result: one final product then rounds subnormal results correctly. ``-inf``
gives 0 and NaN gives NaN; no branch, no table, no call into libm.

:func:`exp` is the dtype-generic entry point the kernels call; numba picks :func:`exp32` or
:func:`exp64` from the argument type while typing the caller. Both are compiled with
:data:`FASTMATH_EXP`, which lacks ``reassoc``: the shifter's ``(t - shift)`` must not be folded
away. They stay separate functions (not inlined into the caller before LLVM sees them), so each
instruction keeps these flags even inside a caller compiled with ``reassoc``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import overload

from .floats import FASTMATH, bits, f32_from_bits, f64_from_bits

__all__ = ["FASTMATH_EXP", "exp", "exp32", "exp64"]

#: :data:`~softmaxkit._numba.floats.FASTMATH` without ``reassoc`` (the rounding trick must survive).
FASTMATH_EXP = FASTMATH - {"reassoc"}

# float32 constants: clamp, log2(e), shifter 1.5 * 2**23, ln 2 split in a high part (exact products
# with k) and a low part, and the degree-6 coefficients (0.18 ulp model error) times 2**-25.
_LO32 = np.float32(-104.5)
_LOG2E32 = np.float32(1.4426950408889634)
_SHIFT32 = np.float32(12582912.0)
_LN2HI32 = np.float32(0.693359375)
_LN2LO32 = np.float32(-2.12194440e-4)
_C0 = np.float32(1.0 * 2.0**-25)
_C1 = np.float32(1.0 * 2.0**-25)
_C2 = np.float32(0.5 * 2.0**-25)
_C3 = np.float32(0.16666415333747864 * 2.0**-25)
_C4 = np.float32(0.04166635125875473 * 2.0**-25)
_C5 = np.float32(0.008375132456421852 * 2.0**-25)
_C6 = np.float32(0.0013941116631031036 * 2.0**-25)


@njit(fastmath=set(FASTMATH_EXP), cache=True)
def exp64(x):
    """``exp(x)`` for float64 ``x <= 600`` (softmax only needs ``x <= 0``) to about 1 ulp.

    Degree-11 polynomial (0.07 ulp model error), coefficients times ``2**-54`` so that
    ``2**(k + 54)`` is normal down to ``k = -1076``. Inputs below -745.5 (``-inf`` included) give 0.

    Examples
    --------
    >>> abs(exp64(1.0) / math.e - 1.0) < 1e-15
    True
    """
    if x < -745.5:
        x = -745.5
    t = x * 1.4426950408889634 + 6755399441055744.0  # 1.5 * 2**52: rounds x / ln2 to an integer
    kf = t - 6755399441055744.0  # exact (no reassoc in this function)
    r = x - kf * 0.6931471803691238  # ln 2, high part (exact product)
    r = r - kf * 1.9082149292705877e-10  # ln 2, low part
    p = 1.3938875856021874e-24
    p = p * r + 1.533920275957562e-23
    p = p * r + 1.529734166821399e-22
    p = p * r + 1.3767590096449597e-21
    p = p * r + 1.1014117334878466e-20
    p = p * r + 7.709882150677026e-20
    p = p * r + 4.625929269263858e-19
    p = p * r + 2.312964634625824e-18
    p = p * r + 9.251858538542978e-18
    p = p * r + 2.775557561562902e-17
    p = p * r + 5.551115123125783e-17
    p = p * r + 5.551115123125783e-17
    # bits(t) - bits(shift) = k; adding 1023 + 54 and shifting gives the bits of 2**(k + 54).
    return p * f64_from_bits((bits(t) - (0x4338000000000000 - 1077)) << 52)


@njit(fastmath=set(FASTMATH_EXP), cache=True)
def exp32(x):
    """``exp(x)`` for float32 ``x <= 60`` to about 1 ulp, as :func:`exp64` (degree 6, factor ``2**-25``).

    Inputs below -104.5 (``-inf`` included) give 0.

    Examples
    --------
    >>> abs(float(exp32(np.float32(-1.0))) * math.e - 1.0) < 1e-7
    True
    """
    if x < _LO32:
        x = _LO32
    t = x * _LOG2E32 + _SHIFT32
    kf = t - _SHIFT32
    r = x - kf * _LN2HI32
    r = r - kf * _LN2LO32
    p = _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + _C1
    p = p * r + _C0
    return p * f32_from_bits((bits(t) - (0x4B400000 - 152)) << 23)


def exp(x):
    """``exp(x)`` in the float type of ``x``: :func:`exp32` or :func:`exp64` (reference: :func:`math.exp`)."""
    return type(x)(math.exp(x)) if isinstance(x, np.floating) else math.exp(x)


@overload(exp, inline="always")
def _exp(x):
    if x == types.float32:
        return lambda x: exp32(x)
    if x == types.float64:
        return lambda x: exp64(x)
    return None
