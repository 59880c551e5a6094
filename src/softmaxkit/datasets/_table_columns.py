"""What a table's cells mean: missing values, numbers, text and class labels (the rules of :func:`load_table`).

* **Missing**: a Parquet null, a float NaN, or a text cell that is empty or reads ``NA``, ``NaN``,
  ``nan``, ``null`` or ``None`` (or another spelling of NaN that Python's ``float`` reads, such as
  ``NAN``). Never guessed or filled: the error names the column and the first row that has one.
* **Numbers**: integer, boolean (0/1), floating and decimal Parquet columns, and text that Python's
  ``float`` reads (``"1.5"``, ``" -2e3 "``). Infinite values and values beyond float32's range are
  refused.
* **Text** (one-hot encoded when asked): any other text column; cells are compared with their
  surrounding spaces stripped.
* **Class labels**: integers (Parquet integers, or text that is all whole numbers such as ``"7"``,
  ``"-1"``: sorted numerically, named ``str(int(value))``) or text (sorted as strings). Non-integer
  numbers are refused rather than rounded.
"""

from __future__ import annotations

import re

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["MISSING_TEXT", "numeric_values", "feature_values", "text_values", "class_keys"]

#: Text cells that mean "no value".
MISSING_TEXT = frozenset({"", "NA", "NaN", "nan", "null", "None"})

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_MISSING_FIX = "fill in or drop such rows"


def feature_values(table, name: str, *, allow_text: bool, hint: str = ""):
    """Column ``name`` as float32 numbers, or (``allow_text`` and a text column that is not all
    numbers) as an object array of stripped strings; DatasetFormatError for missing values and otherwise."""
    column = table.columns[name]
    numbers = _numbers(column)
    if numbers is not None:  # the common case, vectorised: every cell is a number or a spelling of NaN
        missing = np.isnan(numbers)
        if missing.any():
            _missing(table, name, column, int(np.argmax(missing)), "column")
        return _as_float32(table, name, column, numbers)
    if column.kind == "other":
        raise DatasetFormatError(
            f"{table.path}: column {name!r} has type {column.type_name}, which is neither numbers nor text"
        )
    texts = _texts(table, name, column, "column")
    if allow_text and column.kind == "text":
        return texts
    bad = next(i for i, value in enumerate(texts) if not _is_number(value))
    raise DatasetFormatError(
        f"{table.path}: column {name!r} is not numeric: {table.where(bad)} holds {texts[bad]!r}{hint}"
    )


def numeric_values(table, name: str, *, hint: str = "") -> np.ndarray:
    """Column ``name`` as float32 numbers (see :func:`feature_values`)."""
    return feature_values(table, name, allow_text=False, hint=hint)


def text_values(table, name: str) -> np.ndarray:
    """Column ``name`` as an object array of stripped strings: a column one-hot encoded in training."""
    column = table.columns[name]
    if column.kind != "text":
        raise DatasetFormatError(
            f"{table.path}: column {name!r} holds {column.type_name} values, but it was one-hot encoded as text "
            "in training"
        )
    return _texts(table, name, column, "column")


def class_keys(table, name: str, *, integers: bool | None = None) -> tuple[list, bool]:
    """The class label of every row of column ``name``, and whether the labels are integers.

    ``integers=None`` decides from the column; True or False reads it as the training file's labels
    were read (a text label in an integer column stays text, so it matches no class).
    """
    column = table.columns[name]
    role = "target column"
    if column.kind == "integer":
        _texts(table, name, column, role)  # refuses nulls
        return ([str(v) for v in column.values], False) if integers is False else (list(column.values), True)
    if column.kind != "text":
        what = "floating-point numbers" if column.kind == "float" else f"values of type {column.type_name}"
        raise DatasetFormatError(
            f"{table.path}: the {role} {name!r} holds {what}; class labels must be integers or text "
            "(they are never rounded)"
        )
    values = _texts(table, name, column, role)
    if integers is not False:
        whole = [_INTEGER.fullmatch(v) is not None for v in values]
        if all(whole):
            return [int(v) for v in values], True
        if integers:
            return [int(v) if w else v for v, w in zip(values, whole)], True
        if all(map(_is_number, values)):
            i = whole.index(False)
            raise DatasetFormatError(
                f"{table.path}: the {role} {name!r} holds the number {values[i]!r} in {table.where(i)}; "
                "class labels must be integers or text (they are never rounded)"
            )
    return list(values), False


def _numbers(column) -> np.ndarray | None:
    """The column as float64 (NaN where a value is missing), or None if a cell is not a number or a NaN."""
    if column.kind == "float":
        return column.values
    if column.kind == "other":
        return None
    try:
        return column.values.astype(np.float64)  # float() per cell: text, Python ints
    except (TypeError, ValueError, OverflowError):  # None, "NA", "", "red", ...
        return None


def _texts(table, name: str, column, role: str) -> np.ndarray:
    """A text or integer column's cells (text stripped), after refusing missing values."""
    values = column.values
    if column.kind == "text":
        values = np.array([v if v is None else v.strip() for v in values], dtype=object)
    gaps = {v for v in set(values) if v is None or (isinstance(v, str) and _missing_text(v))}
    if gaps:
        _missing(table, name, column, next(i for i, v in enumerate(values) if v in gaps), role)
    return values


def _missing(table, name: str, column, i: int, role: str):
    """Raise the DatasetFormatError for the missing value in row ``i`` (the first one)."""
    value = column.values[i]
    if column.kind == "float":
        shown = "null" if column.nulls is not None and column.nulls[i] else "NaN"
    else:
        shown = "null" if value is None else repr(value.strip())
    raise DatasetFormatError(
        f"{table.path}: {role} {name!r} has a missing value ({shown}) in {table.where(i)}; {_MISSING_FIX}"
    )


def _missing_text(text: str) -> bool:
    """Whether ``text`` means no value: a token of :data:`MISSING_TEXT`, or a NaN ``float`` reads (``"NAN"``)."""
    return text in MISSING_TEXT or (len(text) <= 4 and text.lower().lstrip("+-") == "nan")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _as_float32(table, name: str, column, numbers: np.ndarray) -> np.ndarray:
    """``numbers`` (with no missing value) as float32; infinities and overflow are refused."""
    bad = ~(np.abs(numbers) <= _FLOAT32_MAX)
    if bad.any():
        i = int(np.argmax(bad))
        what = "an infinite value" if np.isinf(numbers[i]) else "a value beyond float32's range"
        shown = repr(column.values[i].strip()) if column.kind == "text" else f"{numbers[i]:g}"
        raise DatasetFormatError(f"{table.path}: column {name!r} has {what} ({shown}) in {table.where(i)}")
    return numbers.astype(np.float32)
