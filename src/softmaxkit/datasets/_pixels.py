"""How stored pixel values become float32: one rule, by dtype, for data files and prediction inputs.

=============  ==============================================
stored dtype   float32 value
=============  ==============================================
uint8          ``v / 255``, in [0, 1]
uint16         ``v / 65535``, in [0, 1]
bool           0 or 1
float16/32/64  as stored (must be finite as float32)
other integer  refused: their range is unknown (int8, int16, int32, int64, uint32, uint64)
=============  ==============================================

Values are scaled by their type's full range and never clipped, so a 16-bit image is not squeezed
into 0/1 and no value is silently changed.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["scale_pixels", "BYTE_SCALING", "WORD_SCALING", "BOOL_SCALING", "FLOAT_SCALING"]

BYTE_SCALING = "uint8 pixel / 255 -> float32 in [0, 1]"
WORD_SCALING = "uint16 pixel / 65535 -> float32 in [0, 1]"
BOOL_SCALING = "bool pixel -> float32 0 or 1"
FLOAT_SCALING = "float values as stored, cast to float32"

_DIVISORS = {np.dtype(np.uint8): (255, BYTE_SCALING), np.dtype(np.uint16): (65535, WORD_SCALING)}


def scale_pixels(x, *, source="<array>") -> tuple[np.ndarray, str]:
    """Float32 values of the stored pixels ``x``, by the rule of the module docstring.

    Parameters
    ----------
    x : ndarray
        Stored pixels, any shape.
    source : str, optional
        Names the file (and array) in error messages.

    Returns
    -------
    values : ndarray of float32, same shape as ``x``
    rule : str
        How they were scaled, e.g. ``"uint8 pixel / 255 -> float32 in [0, 1]"``.

    Raises
    ------
    DatasetFormatError
        For integer dtypes of unknown range, non-numeric dtypes, and non-finite floats.

    Examples
    --------
    >>> scale_pixels(np.array([0, 32768, 65535], np.uint16))[0]
    array([0.       , 0.5000076, 1.       ], dtype=float32)
    >>> scale_pixels(np.array([1, 2], np.int64), source="a.npz (array 'x')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.DatasetFormatError: a.npz (array 'x'): pixels of dtype int64 have no known range...
    """
    x = np.asarray(x)
    if x.dtype in _DIVISORS:
        divisor, rule = _DIVISORS[x.dtype]
        return np.divide(x, divisor, dtype=np.float32), rule
    if x.dtype == np.bool_:
        return x.astype(np.float32), BOOL_SCALING
    if x.dtype.kind == "f":
        values = x.astype(np.float32)
        if not np.isfinite(values).all():
            raise DatasetFormatError(
                f"{source}: pixel values must be finite, found NaN or infinity (or values beyond float32's range)"
            )
        return values, FLOAT_SCALING
    if x.dtype.kind in "iu":
        raise DatasetFormatError(
            f"{source}: pixels of dtype {x.dtype} have no known range (uint8 is divided by 255, uint16 by 65535, "
            "floats are kept as stored); convert them to one of those"
        )
    raise DatasetFormatError(
        f"{source}: pixels must be real numbers (uint8, uint16, bool or float), got dtype {x.dtype}"
    )
