"""Every argument check of softmaxkit, and so every message a user sees for a bad argument.

Every message starts with the public function's name, then names the argument and what was expected,
so a user never has to read a traceback to learn what went wrong.

Two kinds of checks live here:

- **Scalar options** are described by constraint objects (:class:`Integer`, :class:`Real`,
  :class:`Options`, :class:`Boolean`, :class:`RandomGenerator`), declared once per function as a table
  (``{"n_bins": Integer(1), "strategy": Options("uniform", "quantile")}``) and checked in one call to
  :func:`validate`. The command line builds its argument types from the same objects
  (:mod:`softmaxkit.cli._argtypes`), so a flag and the function behind it give the same message.
- **Arrays** have one function per shape of data: :func:`as_float_array` (any float array),
  :func:`check_score_matrix` (probabilities or logits of shape ``(n_samples, n_classes)``),
  :func:`check_label_vector` and :func:`check_labels` (integer class labels), :func:`check_multi_hot`
  (label sets), :func:`check_out` (``out=`` arrays), :func:`check_mask` (``where=`` masks).

Every array argument (data, targets, weights, masks) goes through :func:`to_numpy`, which decides
once for the whole package what an array subclass means:

- ``np.matrix``, ``np.memmap`` and other ndarray subclasses are viewed as plain ndarrays
  (``np.asarray``, no copy), so the computation never runs their operators (``*`` is a matrix
  product for ``np.matrix``) and results are plain ndarrays;
- masked arrays (``np.ma.MaskedArray``) are refused with a ``TypeError``: computing on their data
  would silently ignore the mask, and guessing what the mask means (drop the entry? a class of
  probability 0?) is the caller's decision. The message says what to do instead: pass the mask as
  ``where=`` (the kernels that take one) or convert deliberately with ``.filled(value)`` or
  ``np.asarray``;
- PyTorch, CuPy and JAX arrays are copied to host memory (the metrics, calibrators and the rest of
  the package compute in NumPy). The kernels and losses never send them here: they compute with the
  array's own library instead (see below).

An ``out=`` array may be a plain subclass too (written through its ndarray view and returned as
given, the NumPy convention) but not a masked array, whose mask would survive the write.

**Arrays of other libraries** (the kernels and losses only). :func:`uses_array_api` tells, from types
alone, whether a call holds an array of a library other than NumPy (PyTorch, CuPy, JAX, any
array-API array); if so the kernel or loss computes with that library (:mod:`softmaxkit._array_api`)
and checks its arguments with the ``xp_`` functions here, which apply the NumPy path's rules with the
namespace's own operations and give the same messages:

- :func:`xp_arguments` finds the namespace (``array_api_compat.array_namespace``) of the first array
  argument, the one whose library the result takes. Every other array argument must be of that
  library and on the same device (``TypeError`` / ``ValueError`` otherwise, NumPy arrays included:
  mixing libraries would mean a silent copy between host and device); Python lists, tuples and
  scalars, which belong to no library, are converted with its ``asarray`` on the first argument's
  device.
- Checks that look at values (labels in range, finite weights and targets, probabilities in [0, 1])
  read one boolean from the device, which waits for the device to finish: the price of an error
  message instead of a silent wrong answer.
- ``out=`` must be a writable array of the same library (written with ``out[...] = result``); JAX
  arrays, which are immutable, are refused.

array-api-compat is imported by the first such call, never for NumPy input.

Examples
--------
>>> validate("f", {"n_bins": Integer(1), "norm": Options("l1", "max")}, n_bins=10, norm="l1")
(10, 'l1')
>>> validate("f", {"n_bins": Integer(1)}, n_bins=0)
Traceback (most recent call last):
...
ValueError: f: n_bins must be a positive integer, got 0
"""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numpy as np

__all__ = [
    "Constraint",
    "Integer",
    "Real",
    "Options",
    "Boolean",
    "OrNone",
    "RandomGenerator",
    "validate",
    "POSITIVE",
    "NON_NEGATIVE",
    "FRACTION",
    "OPEN_FRACTION",
    "HALF_OPEN_FRACTION",
    "to_numpy",
    "as_float_array",
    "compute_dtype",
    "normalize_axis",
    "check_mask",
    "check_temperature",
    "check_out",
    "check_rng",
    "check_labels",
    "check_label_vector",
    "check_labels_first",
    "check_score_matrix",
    "check_multi_hot",
    "check_finite",
    "uses_array_api",
    "broadcasts_to",
    "xp_arguments",
    "xp_as_float_array",
    "xp_check_mask",
    "xp_check_out",
    "xp_check_labels",
    "xp_check_finite",
]


# --------------------------------------------------------------------------------------------------
# scalar options: constraint objects


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _fmt(value) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"


class Constraint:
    """What one scalar option accepts: :meth:`check` returns the value normalised (``int``, ``float``,
    ...) or raises ``TypeError`` (wrong kind) / ``ValueError`` (out of range) with one clear message."""

    def describe(self) -> str:  # pragma: no cover - abstract
        """What is expected, as it reads after "must be", e.g. ``"a positive integer"``."""
        raise NotImplementedError

    def check(self, value, name: str, fname: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fail(self, value, name, fname, kind=ValueError):
        raise kind(f"{fname}: {name} must be {self.describe()}, got {value!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


class Integer(Constraint):
    """An integer in ``[low, high]`` (either bound may be None); booleans are refused.

    Examples
    --------
    >>> Integer(1).check(3, "epochs", "fit")
    3
    >>> Integer(0, 10).describe()
    'an integer in [0, 10]'
    """

    def __init__(self, low=None, high=None):
        self.low, self.high = low, high

    def describe(self) -> str:
        if self.high is None:
            if self.low is None:
                return "an integer"
            return "a positive integer" if self.low == 1 else f"an integer >= {self.low}"
        if self.low is None:
            return f"an integer <= {self.high}"
        return f"an integer in [{self.low}, {self.high}]"

    def check(self, value, name, fname):
        if not _is_int(value):
            raise TypeError(f"{fname}: {name} must be an integer, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            self._fail(value, name, fname)
        return int(value)


class Real(Constraint):
    """A finite real number between ``low`` and ``high``; ``closed`` says which bounds are allowed.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``; an infinite bound is never
    reached (the number must be finite). NaN is always refused.

    Examples
    --------
    >>> Real(0, closed="neither").describe()
    'a positive finite number'
    >>> Real(0, 1, closed="left").describe()
    'a number in [0, 1)'
    >>> Real(0, 1).check(0.5, "p", "f")
    0.5
    """

    _BRACKETS: ClassVar[dict] = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}

    def __init__(self, low=-math.inf, high=math.inf, *, closed: str = "both"):
        # an infinite bound is open whatever ``closed`` says: the number must be finite
        if closed not in self._BRACKETS:
            raise ValueError(f"Real: closed must be one of {' | '.join(self._BRACKETS)}, got {closed!r}")
        self.low, self.high, self.closed = low, high, closed

    def describe(self) -> str:
        lo, hi = self.low, self.high
        left_closed = self.closed in ("both", "left")
        if hi == math.inf and lo == 0:
            return "a finite number >= 0" if left_closed else "a positive finite number"
        if hi == math.inf and lo == -math.inf:
            return "a finite number"
        if hi == math.inf:
            return f"a finite number {'>=' if left_closed else '>'} {_fmt(lo)}"
        left, right = self._BRACKETS[self.closed]
        return f"a number in {left}{_fmt(lo)}, {_fmt(hi)}{right}"

    def contains(self, value: float) -> bool:
        """Whether the float ``value`` lies in the interval (and is finite)."""
        if not math.isfinite(value):
            return False
        above = value >= self.low if self.closed in ("both", "left") else value > self.low
        below = value <= self.high if self.closed in ("both", "right") else value < self.high
        return above and below

    def check(self, value, name, fname):
        if not _is_real(value):
            raise TypeError(f"{fname}: {name} must be a real number, got {value!r}")
        if not self.contains(float(value)):
            self._fail(value, name, fname)
        return float(value)


class Options(Constraint):
    """One of a fixed set of values (compared with ``==``).

    Examples
    --------
    >>> Options("mean", "sum").describe()
    "one of 'mean' | 'sum'"
    """

    def __init__(self, *choices):
        self.choices = choices

    def describe(self) -> str:
        return "one of " + " | ".join(repr(c) for c in self.choices)

    def check(self, value, name, fname):
        if not any(value == c and type(value) is type(c) for c in self.choices):
            self._fail(value, name, fname)
        return value


class Boolean(Constraint):
    """``True`` or ``False`` (NumPy booleans too)."""

    def describe(self) -> str:
        return "True or False"

    def check(self, value, name, fname):
        if not isinstance(value, (bool, np.bool_)):
            self._fail(value, name, fname, TypeError)
        return bool(value)


class OrNone(Constraint):
    """None, or a value that ``constraint`` accepts.

    Examples
    --------
    >>> OrNone(Real(0)).describe()
    'a finite number >= 0 or None'
    """

    def __init__(self, constraint: Constraint):
        self.constraint = constraint

    def describe(self) -> str:
        return f"{self.constraint.describe()} or None"

    def check(self, value, name, fname):
        if value is None:
            return None
        try:
            return self.constraint.check(value, name, fname)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{fname}: {name} must be {self.describe()}, got {value!r}") from None


class RandomGenerator(Constraint):
    """A :class:`numpy.random.Generator`; with ``allow_none=True`` None gives a fresh, unseeded one.

    softmaxkit never touches NumPy's global random state: randomness comes from a generator the
    caller passes.
    """

    def __init__(self, *, allow_none: bool = False):
        self.allow_none = allow_none

    def describe(self) -> str:
        return "a numpy.random.Generator" + (" or None" if self.allow_none else "")

    def check(self, value, name, fname):
        if value is None and self.allow_none:
            return np.random.default_rng()
        if not isinstance(value, np.random.Generator):
            raise TypeError(f"{fname}: {name} must be {self.describe()}, got {type(value).__name__}")
        return value


#: Constraints that many functions share.
POSITIVE = Real(0, math.inf, closed="neither")
NON_NEGATIVE = Real(0, math.inf, closed="left")
FRACTION = Real(0, 1, closed="both")
OPEN_FRACTION = Real(0, 1, closed="neither")
HALF_OPEN_FRACTION = Real(0, 1, closed="left")


def validate(fname: str, constraints: dict, /, **values) -> tuple:
    """Check each keyword against its constraint in ``constraints``; return the normalised values in order.

    Parameters
    ----------
    fname : str
        The public function's name, which starts every message.
    constraints : dict of str to Constraint
        The function's table of constraints (names not given as keywords are not checked).
    **values
        The arguments to check, by name.

    Returns
    -------
    tuple
        The checked values in the order of the keywords (a single value is still a 1-tuple).
    """
    return tuple(constraints[name].check(value, name, fname) for name, value in values.items())


def check_rng(rng, fname: str, *, allow_none: bool = False, argname: str = "rng") -> np.random.Generator:
    """``rng`` if it is a :class:`numpy.random.Generator` (a fresh one for None when ``allow_none``).

    Examples
    --------
    >>> isinstance(check_rng(None, "f", allow_none=True), np.random.Generator)
    True
    """
    return RandomGenerator(allow_none=allow_none).check(rng, argname, fname)


# --------------------------------------------------------------------------------------------------
# arrays


def to_numpy(x, fname: str = "softmaxkit", argname: str = "x") -> np.ndarray:
    """Return ``x`` as a plain NumPy array (see the module docstring for what each kind becomes).

    A plain ndarray is returned as is; another ndarray subclass is viewed as a plain ndarray (no
    copy); a masked array is refused; PyTorch, CuPy and JAX arrays are copied to host memory; anything
    else goes through ``np.asarray``.

    Parameters
    ----------
    x : array_like
    fname : str
        The public function's name, which starts every message.
    argname : str
        The argument's name in the messages.

    Raises
    ------
    TypeError
        For a masked array, and for an object NumPy cannot turn into an array (a ragged list, say).

    Examples
    --------
    >>> type(to_numpy(np.arange(3.0).view(np.recarray))).__name__
    'ndarray'
    >>> to_numpy(np.ma.masked_invalid([1.0, np.nan]), "softmax")
    Traceback (most recent call last):
    ...
    TypeError: softmax: x is a masked array (numpy.ma.MaskedArray) and its mask would be ignored; pass the entries to use as where=~x.mask (softmax, log_softmax, logsumexp), or convert deliberately with x.filled(value) or np.asarray(x)
    """
    if type(x) is np.ndarray:  # the common case first: one type check
        return x
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{fname}: {argname} is a masked array (numpy.ma.MaskedArray) and its mask would be ignored; "
            f"pass the entries to use as where=~{argname}.mask (softmax, log_softmax, logsumexp), or convert "
            f"deliberately with {argname}.filled(value) or np.asarray({argname})"
        )
    try:
        return _convert(x)
    except Exception as exc:
        raise TypeError(f"{fname}: {argname} must be array-like, got {type(x).__name__} ({exc})") from exc


def _convert(x) -> np.ndarray:
    """``x`` (not a masked array) as a plain ndarray; ``np.asarray`` also drops an ndarray subclass."""
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
    is never modified (a converted array is a fresh copy; an unconverted one is only read). Subclasses
    and masked arrays are handled by :func:`to_numpy`.
    """
    arr = to_numpy(x, fname, argname)
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
    mask = to_numpy(where, fname, "where")
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
    return POSITIVE.check(temperature, "temperature", fname)


def check_out(out, shape, dtype, fname: str):
    """Check a caller-supplied ``out=`` array: exact shape and dtype, writeable, not a masked array.

    An ndarray subclass (``np.memmap``, say) is accepted: the kernels write through its ndarray view
    and return ``out`` itself. A masked array is refused: a result written into its data would keep
    the old mask. ``out`` may share memory with the inputs; the kernels take care of that.
    """
    if out is None:
        return None
    if isinstance(out, np.ma.MaskedArray):
        raise TypeError(
            f"{fname}: out must not be a masked array (numpy.ma.MaskedArray): the result would keep its "
            "mask; pass out.data (a plain view of the same memory) instead"
        )
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: out must be a NumPy array, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fname}: out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{fname}: out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: out is read-only")
    return out


def check_labels(labels, n_classes: int, fname: str, *, ignore_index=None, argname: str = "target"):
    """Check integer class labels lie in ``[0, n_classes)`` (``ignore_index`` entries excepted)."""
    labels = to_numpy(labels, fname, argname)
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


def check_label_vector(labels, n_samples, n_classes, fname: str, argname: str = "y_true") -> np.ndarray:
    """Integer labels of shape ``(n_samples,)``, in ``[0, n_classes)`` when ``n_classes`` is given.

    ``n_samples`` None accepts any length. Returns an ``intp`` array.
    """
    y = to_numpy(labels, fname, argname)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fname}: {argname} must hold integer class labels, got dtype {y.dtype}")
    if n_samples is not None and y.shape != (n_samples,):
        raise ValueError(
            f"{fname}: {argname} must have shape ({n_samples},) (one label per sample), got shape {y.shape}"
        )
    if y.ndim != 1:
        raise ValueError(f"{fname}: {argname} must be 1-D of shape (n_samples,), got shape {y.shape}")
    if n_classes is not None:
        check_labels(y, n_classes, fname, argname=argname)
    elif y.size and y.min() < 0:
        raise ValueError(f"{fname}: {argname} has negative label {int(y.min())} (expected labels >= 0)")
    return y.astype(np.intp, copy=False)


def check_labels_first(y_true, second, fname: str, second_name: str = "probs") -> None:
    """Refuse ``(probs, y_true)`` passed in the old order: a 2-D ``y_true`` beside a 1-D second argument.

    Examples
    --------
    >>> check_labels_first([[0.9, 0.1]], [0], "calibration_error")
    Traceback (most recent call last):
    ...
    TypeError: calibration_error: y_true has shape (1, 2) and probs has shape (1,); the arguments are (y_true, probs), in that order
    """
    a, b = np.shape(y_true), np.shape(second)
    if len(a) == 2 and len(b) == 1:
        raise TypeError(
            f"{fname}: y_true has shape {a} and {second_name} has shape {b}; "
            f"the arguments are (y_true, {second_name}), in that order"
        )


def check_score_matrix(
    x, fname: str, argname: str = "probs", *, probabilities: bool, n_classes=None, allow_empty: bool = False
) -> np.ndarray:
    """Probabilities or logits as a finite float64 array of shape ``(n_samples, n_classes)``.

    ``probabilities=True`` also requires every entry in [0, 1] (rows need not sum to 1);
    ``n_classes`` fixes the number of columns. At least one sample is required unless
    ``allow_empty``, and at least one class always.
    """
    arr, _ = as_float_array(x, fname, argname)
    if arr.ndim != 2:
        raise ValueError(f"{fname}: {argname} must be 2-D of shape (n_samples, n_classes), got shape {arr.shape}")
    if (arr.shape[0] == 0 and not allow_empty) or arr.shape[1] == 0:
        raise ValueError(f"{fname}: {argname} needs at least one sample and one class, got shape {arr.shape}")
    if n_classes is not None and arr.shape[1] != n_classes:
        raise ValueError(f"{fname}: {argname} have {arr.shape[1]} classes, but {n_classes} were expected")
    arr = check_finite(arr.astype(np.float64, copy=False), fname, argname)
    if probabilities and arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"{fname}: {argname} must be probabilities in [0, 1]; got values in [{arr.min():g}, {arr.max():g}]"
        )
    return arr


def check_multi_hot(Y, n_rows: int, fname: str, *, argname: str = "Y", n_classes=None) -> np.ndarray:
    """Multi-hot label sets (every entry 0 or 1) of shape ``(n_rows, n_classes)``, as a bool array."""
    Y = to_numpy(Y, fname, argname)
    if Y.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: {argname} must be a numeric 0/1 array, got dtype {Y.dtype}")
    if Y.ndim != 2 or Y.shape[0] != n_rows or (n_classes is not None and Y.shape[1] != n_classes):
        want = f"({n_rows}, {'n_classes' if n_classes is None else n_classes})"
        raise ValueError(f"{fname}: {argname} must have shape {want}, got {Y.shape}")
    if not np.all((Y == 0) | (Y == 1)):
        raise ValueError(f"{fname}: {argname} must be multi-hot (every entry 0 or 1)")
    return Y.astype(bool)


# --------------------------------------------------------------------------------------------------
# arrays of other libraries: the array-API path of the kernels and losses

#: Top-level modules of the array libraries array-api-compat wraps, whose arrays may lack
#: ``__array_namespace__`` (a PyTorch tensor has none). Any other type that has one counts too.
_ARRAY_API_MODULES = frozenset({"torch", "cupy", "jax", "jaxlib", "dask", "sparse", "ndonnx", "dpnp"})

#: Types that never mean another library, checked first with one set lookup per argument.
_NOT_ARRAY_API = frozenset({np.ndarray, type(None), bool, int, float, list, tuple})


def uses_array_api(a, b=None, c=None, d=None) -> bool:
    """Whether any of the arguments (up to four: the most arrays a kernel or loss takes) is an array of
    a library other than NumPy.

    NumPy arrays and scalars, Python scalars and lists and None are not; an object whose type has
    ``__array_namespace__`` is, and so is an array of a library array-api-compat wraps (PyTorch, CuPy,
    JAX, Dask, ...). Types only: nothing is imported, and plain NumPy arguments cost four set lookups
    (about 0.1 microsecond per call with the call itself).

    Examples
    --------
    >>> uses_array_api(np.ones(2), None, [1.0, 2.0])
    False
    """
    plain = _NOT_ARRAY_API
    if type(a) in plain and type(b) in plain and type(c) in plain and type(d) in plain:
        return False  # the common case, decided without a loop
    return any(_of_another_library(v) for v in (a, b, c, d))


def _of_another_library(a) -> bool:
    kind = type(a)
    if kind in _NOT_ARRAY_API or isinstance(a, (np.ndarray, np.generic)):
        return False
    return hasattr(kind, "__array_namespace__") or kind.__module__.partition(".")[0] in _ARRAY_API_MODULES


def _library(a) -> str:
    """``a``'s type as the messages name it: ``torch.Tensor``, ``numpy.ndarray``, ``list``."""
    kind = type(a)
    module = kind.__module__.partition(".")[0]
    return kind.__name__ if module == "builtins" else f"{module}.{kind.__name__}"


def broadcasts_to(shape, target) -> bool:
    """Whether an array of ``shape`` broadcasts to exactly ``target`` (NumPy's rules).

    Examples
    --------
    >>> broadcasts_to((3,), (2, 3)), broadcasts_to((2,), (2, 3)), broadcasts_to((1, 2, 3), (2, 3))
    (True, False, False)
    """
    shape, target = tuple(shape), tuple(target)
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def _compat(fname: str, argname: str, value):
    """array-api-compat, imported on first use, or a clear error naming the argument that needs it."""
    try:
        import array_api_compat
    except ImportError:
        raise ModuleNotFoundError(
            f"{fname}: {argname} is a {_library(value)}; computing with its own library needs array-api-compat "
            "(pip install 'softmaxkit[array-api]')"
        ) from None
    return array_api_compat


def xp_arguments(fname: str, **arrays):
    """The namespace of a call's arrays and the arrays in it: ``(xp, first, second, ...)``.

    The first keyword is the argument whose library the result takes (``x``, ``logits``, ``probs``,
    ``y``); it must be an array of a library other than NumPy (:func:`uses_array_api`). Every other
    argument is None, an array of the same namespace on the same device, or a Python scalar, list or
    tuple, converted with ``xp.asarray`` on the first argument's device (floats as float64, as NumPy
    reads them, whatever the library's default float dtype; the kernels then cast them as they cast
    arrays).

    Raises
    ------
    TypeError
        For arrays of two libraries (NumPy included), and for a list the library cannot convert.
    ValueError
        For arrays on two devices.
    """
    (main_name, main), *others = arrays.items()
    if not uses_array_api(main):
        name, other = next((n, a) for n, a in others if uses_array_api(a))
        raise TypeError(
            f"{fname}: {name} is a {_library(other)} but {main_name} is a {_library(main)}; pass arrays of one "
            f"library (the result takes the library of {main_name})"
        )
    compat = _compat(fname, main_name, main)
    xp = compat.array_namespace(main)
    device = compat.device(main)
    converted = [main]
    for name, a in others:
        if isinstance(a, (bool, int, float, list, tuple)) and not isinstance(a, np.generic):
            # Python scalars and lists belong to no library: they take the first argument's
            try:
                array = xp.asarray(a, device=device)
                if xp.isdtype(array.dtype, "real floating") and array.dtype != xp.float64:
                    array = xp.asarray(a, dtype=xp.float64, device=device)  # Python floats are doubles
            except Exception as exc:
                raise TypeError(f"{fname}: {name} must be array-like, got {type(a).__name__} ({exc})") from exc
            a = array
        elif a is not None and (not uses_array_api(a) or compat.array_namespace(a) is not xp):
            raise TypeError(
                f"{fname}: {name} is a {_library(a)} but {main_name} is a {_library(main)}; pass arrays of one "
                f"library (the result takes the library of {main_name})"
            )
        elif a is not None and compat.device(a) != device:
            raise ValueError(
                f"{fname}: {name} is on device {compat.device(a)} but {main_name} is on device {device}; "
                "pass arrays on one device"
            )
        converted.append(a)
    return (xp, *converted)


def xp_as_float_array(xp, x, fname: str, argname: str = "x"):
    """:func:`as_float_array` for an array of namespace ``xp``: ``(array_in_compute_dtype, result_dtype)``.

    float32 and float64 stay; narrower floats (float16, bfloat16) are computed in float32 and returned
    in their own dtype; integers and booleans promote to the library's default float dtype on that
    device (float64 for most; float32 for PyTorch unless ``torch.set_default_dtype`` says otherwise).
    """
    dtype = x.dtype
    if xp.isdtype(dtype, "real floating"):
        if dtype == xp.float32 or dtype == xp.float64:
            return x, dtype
        return xp.astype(x, xp.float32 if xp.finfo(dtype).bits < 32 else xp.float64), dtype
    if xp.isdtype(dtype, ("bool", "integral")):
        device = _compat(fname, argname, x).device(x)
        default = xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
        return xp.astype(x, default), default
    if xp.isdtype(dtype, "complex floating"):
        raise TypeError(f"{fname}: {argname} must be real-valued, got complex dtype {dtype}")
    raise TypeError(f"{fname}: {argname} must be a numeric array, got dtype {dtype}")


def xp_check_mask(xp, where, shape, fname: str):
    """:func:`check_mask` for an array of namespace ``xp``: ``where`` broadcast to ``shape``."""
    if where.dtype != xp.bool:
        raise TypeError(f"{fname}: where must be a boolean array, got dtype {where.dtype}")
    if not broadcasts_to(where.shape, shape):
        raise ValueError(
            f"{fname}: where of shape {tuple(where.shape)} cannot be broadcast to x's shape {tuple(shape)}"
        )
    return xp.broadcast_to(where, tuple(shape))


def xp_check_out(xp, out, shape, dtype, like, fname: str):
    """:func:`check_out` for the array-API path: ``out`` of ``like``'s library and device, exact shape
    and dtype, and writable in place (``out[...] = result``); JAX arrays, which are immutable, are refused."""
    if out is None:
        return None
    compat = _compat(fname, "out", out)
    if not uses_array_api(out) or compat.array_namespace(out) is not xp:
        raise TypeError(f"{fname}: out must be an array of the input's library ({_library(like)}), got {_library(out)}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{fname}: out has shape {tuple(out.shape)}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{fname}: out has dtype {out.dtype}, expected {dtype}")
    if compat.device(out) != compat.device(like):
        raise ValueError(f"{fname}: out is on device {compat.device(out)} but the input is on {compat.device(like)}")
    if not compat.is_writeable_array(out):
        raise TypeError(f"{fname}: out must be writable in place, and a {_library(out)} is not; use the returned array")
    return out


def xp_check_labels(xp, labels, n_classes: int, fname: str, *, active=None, argname: str = "target"):
    """:func:`check_labels` for an array of namespace ``xp``; ``active`` (bool) marks the labels to check.

    One scalar read from the device when the labels are fine (whether any is out of range), three
    when one is not (to name it).
    """
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(f"{fname}: {argname} must hold integer class labels, got dtype {labels.dtype}")
    info = xp.iinfo(labels.dtype)
    bad = labels < 0 if info.min < 0 else xp.zeros_like(labels, dtype=xp.bool)
    if n_classes <= info.max:  # a larger bound no label of this dtype reaches
        bad = bad | (labels >= n_classes)
    if active is not None:
        bad = bad & active
    if bool(xp.any(bad)):
        valid = xp.ones_like(labels, dtype=xp.bool) if active is None else active
        lo = int(xp.min(xp.where(valid, labels, xp.full_like(labels, info.max))))
        label = lo if lo < 0 else int(xp.max(xp.where(valid, labels, xp.full_like(labels, info.min))))
        raise ValueError(
            f"{fname}: {argname} has label {label} out of range for {n_classes} classes "
            f"(expected 0 <= label < {n_classes})"
        )
    return labels


def xp_check_finite(xp, arr, fname: str, argname: str):
    """:func:`check_finite` for an array of namespace ``xp`` (one scalar read from the device)."""
    if bool(xp.any(~xp.isfinite(arr))):
        raise ValueError(f"{fname}: {argname} contains NaN or infinite values")
    return arr
