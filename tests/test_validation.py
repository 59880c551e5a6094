"""softmaxkit._validation: the constraint objects behind every argument check and every CLI flag."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from softmaxkit._validation import (
    FRACTION,
    HALF_OPEN_FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    Boolean,
    Integer,
    Options,
    OrNone,
    RandomGenerator,
    Real,
    check_labels_first,
    validate,
)
from softmaxkit.cli._argtypes import argtype


@pytest.mark.parametrize(
    "constraint, good, bad",
    [
        (Integer(1), [1, 7, np.int64(3)], [0, -2]),
        (Integer(0, 3), [0, 3], [-1, 4]),
        (POSITIVE, [1e-300, 2, 1e300], [0.0, -1, math.inf, math.nan]),
        (NON_NEGATIVE, [0.0, 5], [-1e-9, math.inf, math.nan]),
        (FRACTION, [0, 0.5, 1], [-0.1, 1.1, math.nan]),
        (OPEN_FRACTION, [0.1, 0.9], [0, 1]),
        (HALF_OPEN_FRACTION, [0, 0.99], [1, -0.5]),
        (Real(), [-1e308, 0, 1e308], [math.inf, -math.inf, math.nan]),
        (Options("a", "b"), ["a", "b"], ["c", None]),
        (OrNone(POSITIVE), [None, 1.0], [0.0]),
    ],
)
def test_constraints_accept_and_refuse(constraint, good, bad):
    for value in good:
        constraint.check(value, "x", "f")
    for value in bad:
        with pytest.raises((ValueError, TypeError), match=r"^f: x must be"):
            constraint.check(value, "x", "f")


def test_wrong_kinds_are_type_errors():
    with pytest.raises(TypeError, match=r"f: n must be an integer, got 2.5"):
        Integer(1).check(2.5, "n", "f")
    with pytest.raises(TypeError, match="f: n must be an integer, got True"):
        Integer(0).check(True, "n", "f")
    with pytest.raises(TypeError, match="f: t must be a real number, got '1'"):
        POSITIVE.check("1", "t", "f")
    with pytest.raises(TypeError, match="f: b must be True or False"):
        Boolean().check(1, "b", "f")
    with pytest.raises(TypeError, match=r"f: rng must be a numpy.random.Generator, got int"):
        RandomGenerator().check(0, "rng", "f")
    assert isinstance(RandomGenerator(allow_none=True).check(None, "rng", "f"), np.random.Generator)


def test_validate_returns_normalised_values_in_order():
    table = {"n": Integer(1), "p": FRACTION, "how": Options("l1", "max")}
    assert validate("f", table, p=1, n=np.int64(4), how="max") == (1.0, 4, "max")
    assert type(validate("f", table, n=np.int64(4))[0]) is int


def test_cli_argtypes_use_the_same_words():
    convert = argtype(HALF_OPEN_FRACTION)
    assert convert("0.3") == 0.3
    with pytest.raises(argparse.ArgumentTypeError) as info:
        convert("1")
    assert str(info.value) == f"must be {HALF_OPEN_FRACTION.describe()}, got '1'"
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected a whole number, got '1.5'"):
        argtype(Integer(1))("1.5")


def test_swapped_metric_arguments_are_named():
    with pytest.raises(TypeError, match=r"the arguments are \(y_true, probs\), in that order"):
        check_labels_first(np.full((3, 2), 0.5), np.zeros(3, int), "calibration_error")
    check_labels_first(np.zeros(3, int), np.full((3, 2), 0.5), "calibration_error")
