"""argparse ``type=`` converters built from softmaxkit's argument constraints.

Each converter parses the text and checks it with the same constraint object
(:mod:`softmaxkit._validation`) the library uses, so a flag and the function behind it accept the same
values and describe them in the same words.

Examples
--------
>>> from softmaxkit._validation import Real
>>> fraction = argtype(Real(0, 1, closed="left"))
>>> fraction("0.25")
0.25
>>> fraction("1")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a number in [0, 1), got '1'
"""

from __future__ import annotations

import argparse

from .._validation import (
    FRACTION,
    HALF_OPEN_FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    Constraint,
    Integer,
    Real,
)

__all__ = [
    "argtype",
    "layer_sizes",
    "positive_int",
    "non_negative_int",
    "any_int",
    "finite_float",
    "positive_float",
    "non_negative_float",
    "open_probability",
    "closed_probability",
    "half_open_probability",
]


def argtype(constraint: Constraint):
    """An argparse ``type=`` function: text -> number checked by ``constraint``.

    Integers are parsed for :class:`~softmaxkit._validation.Integer` constraints, floats otherwise.
    """
    kind = int if isinstance(constraint, Integer) else float

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return constraint.check(value, "value", "argument")
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {constraint.describe()}, got {text!r}") from None

    convert.__name__ = constraint.describe()  # argparse names the type in some messages
    return convert


positive_int = argtype(Integer(1))
non_negative_int = argtype(Integer(0))
any_int = argtype(Integer())
finite_float = argtype(Real())
positive_float = argtype(POSITIVE)
non_negative_float = argtype(NON_NEGATIVE)
open_probability = argtype(OPEN_FRACTION)
closed_probability = argtype(FRACTION)
half_open_probability = argtype(HALF_OPEN_FRACTION)


def layer_sizes(text) -> tuple:
    """Comma-separated positive layer widths, e.g. ``"256,128"`` -> ``(256, 128)``."""
    try:
        sizes = tuple(int(h) for h in str(text).split(",") if h.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers such as 256,128, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"needs at least one positive layer size, got {text!r}")
    return sizes
