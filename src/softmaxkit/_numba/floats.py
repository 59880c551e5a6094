"""dtype-generic float helpers for the kernels: fastmath flags, casts, bit reinterpretation, order keys.

The kernels are written once for float32 and float64. Where the code depends on the dtype (a
constant of the data's type, the integer type of the same width), it calls one of the functions
below; each is a :func:`numba.extending.overload` whose implementation numba chooses from the
argument types while typing the caller, so a kernel compiled for float32 data gets float32
constants and 32-bit integers without any per-dtype copy of its source. The overloads are inlined
into the caller (``inline="always"``): they are a cast or a few integer operations, so the
caller's fastmath flags cannot change their results.

The plain Python bodies are reference implementations (used when called outside compiled code,
e.g. in the examples below).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload
from numba.np.numpy_support import from_dtype

__all__ = ["FASTMATH", "bits", "f32_from_bits", "f64_from_bits", "cast", "order_key", "min_order_key", "from_order_key"]

#: fastmath flags of the arithmetic-heavy loops: no ``nnan``/``ninf``, so NaN and inf keep their
#: IEEE meaning (special rows are detected from the results rather than assumed away).
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

# Per float type: (integer type of the same width, sign shift, magnitude mask, smallest key).
_KEYS = {
    types.float32: (np.int32, np.int32(31), np.int32(2**31 - 1), np.int32(-(2**31))),
    types.float64: (np.int64, np.int64(63), np.int64(2**63 - 1), np.int64(-(2**63))),
}


def _float_type(like):
    """The numba float type of ``like`` (a float scalar type or an array type), or None."""
    kind = like.dtype if isinstance(like, types.Array) else like
    return kind if kind in _KEYS else None


def _keys_of(value):
    """The :data:`_KEYS` entry of a float32/float64 value or array (Python reference functions)."""
    return _KEYS[from_dtype(np.asarray(value).dtype)]


def _bitcast_codegen(dst, width):
    """Code generator reinterpreting its one argument as ``dst`` after resizing it to ``width`` bits."""

    def codegen(context, builder, signature, args):
        (value,) = args
        (src,) = signature.args
        if isinstance(src, types.Integer) and src.bitwidth != width:
            resize = builder.sext if src.bitwidth < width else builder.trunc
            value = resize(value, ir.IntType(width))
        return builder.bitcast(value, dst)

    return codegen


@intrinsic
def bits(typingctx, x):
    """The bits of a float32 (float64) as an int32 (int64); a scalar op that LLVM vectorises."""
    if x not in _KEYS:
        return None
    signed = types.int32 if x == types.float32 else types.int64
    return signed(x), _bitcast_codegen(ir.IntType(x.bitwidth), x.bitwidth)


@intrinsic
def f32_from_bits(typingctx, x):
    """The float32 whose bits are the low 32 bits of the integer ``x``."""
    if not isinstance(x, types.Integer):
        return None
    return types.float32(x), _bitcast_codegen(ir.FloatType(), 32)


@intrinsic
def f64_from_bits(typingctx, x):
    """The float64 whose bits are the integer ``x`` (sign-extended to 64 bits)."""
    if not isinstance(x, types.Integer):
        return None
    return types.float64(x), _bitcast_codegen(ir.DoubleType(), 64)


def cast(value, like):
    """``value`` converted to the float type of ``like`` (a float scalar or an array).

    Examples
    --------
    >>> cast(0.1, np.zeros(2, np.float32))
    np.float32(0.1)
    """
    return np.asarray(like).dtype.type(value)


@overload(cast, inline="always")
def _cast(value, like):
    kind = _float_type(like)
    if kind == types.float32:
        return lambda value, like: np.float32(value)
    if kind == types.float64:
        return lambda value, like: np.float64(value)
    return None


def order_key(x):
    """Integer key of the float ``x`` that orders like the floats: ``-inf < ... < -0.0 < 0.0 < ... < inf``.

    The bits of a negative float have their magnitude bits flipped, so that comparing keys as signed
    integers compares the floats (NaNs sort beyond the infinities, on their sign bit's side). Integer
    comparisons vectorise without ``nnan``.

    Examples
    --------
    >>> [int(order_key(np.float32(v))) for v in (-1.0, -0.0, 0.0, 1.0)] == sorted(
    ...     int(order_key(np.float32(v))) for v in (-1.0, -0.0, 0.0, 1.0))
    True
    """
    itype, shift, mask, _ = _keys_of(x)
    b = np.asarray(x).view(itype)
    return b ^ ((b >> shift) & mask)


@overload(order_key, inline="always")
def _order_key(x):
    if x not in _KEYS:
        return None
    _, shift, mask, _ = _KEYS[x]

    def impl(x):
        b = bits(x)
        return b ^ ((b >> shift) & mask)

    return impl


def min_order_key(like):
    """The smallest key of the float type of ``like`` (no float's :func:`order_key` is smaller)."""
    return _keys_of(like)[3]


@overload(min_order_key, inline="always")
def _min_order_key(like):
    kind = _float_type(like)
    if kind is None:
        return None
    lowest = _KEYS[kind][3]
    return lambda like: lowest


def from_order_key(key, like):
    """The float (of ``like``'s type) whose :func:`order_key` is ``key``.

    Examples
    --------
    >>> x = np.float64(-2.5)
    >>> from_order_key(order_key(x), x)
    np.float64(-2.5)
    """
    itype, shift, mask, _ = _keys_of(like)
    key = itype(key)
    return (key ^ ((key >> shift) & mask)).view(np.asarray(like).dtype)


@overload(from_order_key, inline="always")
def _from_order_key(key, like):
    kind = _float_type(like)
    if kind is None:
        return None
    _, shift, mask, _ = _KEYS[kind]
    from_bits = f32_from_bits if kind == types.float32 else f64_from_bits

    def impl(key, like):
        return from_bits(key ^ ((key >> shift) & mask))

    return impl
