"""Argument checks shared by every public function: one place for error messages.

Every message starts with the public function's name, then names the argument and what was expected,
so a user never has to read a traceback to learn what went wrong.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "compute_dtype",
    "normalize_axis",
    "check_mask",
    "check_temperature",
    "check_out",
    "check_choice",
    "check_labels",
]


def to_numpy(x):
    """Return ``x`` as a NumPy array, accepting PyTorch, CuPy and JAX arrays too (copied to host)."""
    if isinstance(x, np.ndarray):
        return x
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        return x.detach().cpu().numpy()
    if module == "cupy":
        return x.get()
    return np.asarray(x)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype arithmetic runs in: float16 -> float32, float32/float64 stay, integers/bool -> float64."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    return np.dtype(np.float64)


def as_float_array(x, fname: str, argname: str = "x"):
    """Convert ``x`` to a floating array.

    Returns ``(array_in_compute_dtype, result_dtype)``. float16 is computed in float32 and returned as
    float16; float32 and float64 keep their dtype; integers and booleans promote to float64. The input
    is never modified (a converted array is a fresh copy; an unconverted one is only read).
    """
    try:
        arr = to_numpy(x)
    except Exception as exc:  # pragma: no cover - exotic array types
        raise TypeError(f"{fname}: {argname} must be array-like, got {type(x).__name__}") from exc
    kind = arr.dtype.kind
    if kind in "fiub":
        if kind == "f" and arr.dtype not in (np.float16, np.float32, np.float64):
            result = np.dtype(np.float64)  # longdouble and friends: compute in float64
        elif kind == "f":
            result = arr.dtype
        else:
            result = np.dtype(np.float64)
        work = compute_dtype(result)
        if arr.dtype != work:
            arr = arr.astype(work)
        return arr, np.dtype(result)
    if kind == "c":
        raise TypeError(f"{fname}: {argname} must be real-valued, got complex dtype {arr.dtype}")
    raise TypeError(f"{fname}: {argname} must be a numeric array, got dtype {arr.dtype}")


def normalize_axis(axis, ndim: int, fname: str, argname: str = "x") -> int:
    """Return ``axis`` as a non-negative int, raising a clear error when out of bounds."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (numbers.Integral, np.integer)):
        raise TypeError(f"{fname}: axis must be an integer, got {axis!r}")
    axis = int(axis)
    if ndim == 0:
        raise ValueError(f"{fname}: {argname} must have at least one dimension (the class axis), got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fname}: axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def check_mask(where, shape, fname: str) -> np.ndarray:
    """Return ``where`` as a boolean array broadcast to ``shape``."""
    mask = to_numpy(where)
    if mask.dtype != np.bool_:
        raise TypeError(f"{fname}: where must be a boolean array, got dtype {mask.dtype}")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(
            f"{fname}: where of shape {mask.shape} cannot be broadcast to x's shape {tuple(shape)}"
        ) from None


def check_temperature(temperature, fname: str) -> float:
    """Return ``temperature`` as a positive finite float."""
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"{fname}: temperature must be a real number, got {temperature!r}")
    t = float(temperature)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"{fname}: temperature must be a positive finite number, got {temperature!r}")
    return t


def check_out(out, shape, dtype, fname: str):
    """Check a caller-supplied ``out=`` array: exact shape and dtype, writeable."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: out must be a NumPy array, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fname}: out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{fname}: out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: out is read-only")
    return out


def check_choice(value, name: str, choices, fname: str):
    if value not in choices:
        options = " | ".join(repr(c) for c in choices)
        raise ValueError(f"{fname}: {name} must be one of {options}, got {value!r}")
    return value


def check_labels(labels, n_classes: int, fname: str, *, ignore_index=None, argname: str = "target"):
    """Check integer class labels lie in ``[0, n_classes)`` (``ignore_index`` entries excepted)."""
    labels = to_numpy(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{fname}: {argname} must hold integer class labels, got dtype {labels.dtype}")
    valid = labels if ignore_index is None else labels[labels != ignore_index]
    if valid.size:
        lo, hi = valid.min(), valid.max()
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{fname}: {argname} has label {int(bad)} out of range for {n_classes} classes "
                f"(expected 0 <= label < {n_classes})"
            )
    return labels


def check_finite(arr: np.ndarray, fname: str, argname: str, *, allow_inf: bool = False):
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        what = "NaN" if allow_inf else "NaN or infinite values"
        raise ValueError(f"{fname}: {argname} contains {what}")
    return arr
