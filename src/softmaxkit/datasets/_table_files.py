"""Reading a table file, CSV or Parquet, into named columns of raw values (nothing interpreted yet).

* **CSV** is read with the standard library: UTF-8 with or without a byte-order mark, a header row
  naming the columns, the delimiter sniffed among ``,`` ``;`` and tab from the first 8 KiB (comma when
  the sniffer cannot tell), fields quoted with ``"`` (a doubled ``""`` inside), blank lines skipped.
  Every row must have as many fields as the header. Cells are text (as written: spaces are stripped
  when the cells are interpreted).
* **Parquet** is read with pyarrow (the ``tables`` extra), imported on first use. Integer and boolean
  columns (booleans as 0/1) become integers, floating and decimal columns floats, string and
  dictionary-of-string columns text; a column of any other type (dates, binary, lists, ...) is kept as
  "other" and refused if a rule ever reads it.

A table must have at least one data row and unique, non-empty column names. The bytes read are
the bytes parsed, and they update the caller's digest (the data set's fingerprint).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

import numpy as np

from ..exceptions import DatasetFormatError, DatasetNotFoundError

__all__ = ["Column", "RawTable", "read_table_file", "PARQUET_SUFFIXES", "PYARROW_HINT"]

PARQUET_SUFFIXES = (".parquet", ".pq")
PYARROW_HINT = "reading Parquet needs pyarrow: pip install 'softmaxkit[tables]'"

#: Characters of a CSV file the delimiter is sniffed from.
_SNIFF_CHARS = 8192
_DELIMITERS = ",;\t"


@dataclass(frozen=True, eq=False)
class Column:
    """One column as stored.

    ``kind`` is ``"text"`` (object array of str, None for a Parquet null), ``"integer"`` (object array
    of Python ints, None for null), ``"float"`` (float64 array, NaN for null, ``nulls`` marking them
    if there are any) or ``"other"`` (a
    Parquet type no rule reads: ``values`` is None and ``type_name`` says what it is).
    """

    kind: str
    values: np.ndarray | None
    type_name: str = "text"
    nulls: np.ndarray | None = None  # "float" columns with Parquet nulls: which NaN were nulls


@dataclass(frozen=True, eq=False)
class RawTable:
    """A table file's columns, in file order, and where each data row is in the file."""

    path: str
    columns: dict
    n_rows: int
    lines: list | None = None  # CSV: the line each data row ends on

    def where(self, i: int) -> str:
        """Data row ``i`` (0-based) for a message: ``"row 3 (line 4)"`` for CSV, ``"row 3"`` for Parquet."""
        return f"row {i + 1}" if self.lines is None else f"row {i + 1} (line {self.lines[i]})"


def read_table_file(path, *, digest, fname: str) -> RawTable:
    """Read the CSV or Parquet file ``path`` (by its suffix), updating the hashlib object ``digest``.

    Raises
    ------
    DatasetNotFoundError
        No such file.
    DatasetFormatError
        Unreadable, not UTF-8, malformed CSV, ragged rows, no header, empty or duplicate column names, no data
        rows, or not a readable Parquet file; the message names the file.
    ImportError
        A Parquet file without pyarrow installed (its ``name`` is ``"pyarrow"``).
    """
    text = os.fspath(path)
    parquet = text.lower().endswith(PARQUET_SUFFIXES)
    pyarrow = _import_pyarrow(fname) if parquet else None
    try:
        with open(text, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{text}: no such table file") from None
    except IsADirectoryError:
        raise DatasetFormatError(f"{text}: a directory, not a table file") from None
    except OSError as exc:  # permissions, I/O errors: one clear line, like a malformed file
        raise DatasetFormatError(f"{text}: cannot be read ({exc.strerror or exc})") from None
    digest.update(data)
    names, columns, n_rows, lines = _parquet_columns(text, data, pyarrow) if parquet else _csv_columns(text, data)
    _check_names(text, names)
    if n_rows == 0:
        raise DatasetFormatError(f"{text}: no data rows (an empty table)")
    return RawTable(text, dict(zip(names, columns)), n_rows, lines)


def _import_pyarrow(fname: str):
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError as exc:
        raise ImportError(f"{fname}: {PYARROW_HINT} ({exc})", name="pyarrow") from exc
    return pyarrow


# ---------------------------------------------------------------------------- CSV


def _csv_columns(path: str, data: bytes):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff(text), strict=True)
    try:
        header = next((row for row in reader if not _blank(row)), None)
        if header is None:
            raise DatasetFormatError(f"{path}: empty file; a header row naming the columns is required")
        rows, lines = [], []
        for row in reader:
            if _blank(row):
                continue
            if len(row) != len(header):
                raise DatasetFormatError(
                    f"{path}: line {reader.line_num} has {len(row)} fields, but the header has {len(header)} "
                    f"(every row needs one value per column)"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DatasetFormatError(f"{path}: malformed CSV at line {reader.line_num}: {exc}") from None
    names = [name.strip() for name in header]
    if all(_is_number(name) for name in names):
        raise DatasetFormatError(
            f"{path}: the first row ({', '.join(names[:5])}) looks like data; a header row naming the columns is required"
        )
    columns = [Column("text", np.array(cells, dtype=object)) for cells in zip(*rows)]
    if not rows:
        columns = [Column("text", np.empty(0, dtype=object)) for _ in names]
    return names, columns, len(rows), lines


def _sniff(text: str) -> str:
    """The delimiter among comma, semicolon and tab that the first lines use (comma if unclear)."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","
    return delimiter if delimiter in _DELIMITERS else ","


def _blank(row) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- Parquet


def _parquet_columns(path: str, data: bytes, pa):
    try:
        table = pa.parquet.ParquetFile(pa.BufferReader(data)).read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetFormatError(f"{path}: not a readable Parquet file ({exc})") from None
    columns = [_parquet_column(table.column(i), pa) for i in range(table.num_columns)]
    return list(table.column_names), columns, table.num_rows, None


def _parquet_column(column, pa) -> Column:
    types = pa.types
    kind = column.type
    if types.is_dictionary(kind):
        kind = kind.value_type
        column = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks], type=kind)
    if types.is_boolean(kind):
        column, kind = pa.compute.cast(column, pa.int64()), pa.int64()
    if types.is_integer(kind):
        return Column("integer", np.array(column.to_pylist(), dtype=object), str(kind))
    if types.is_floating(kind) or types.is_decimal(kind):
        values = pa.compute.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        nulls = pa.compute.is_null(column).to_numpy(zero_copy_only=False) if column.null_count else None
        return Column("float", np.asarray(values, dtype=np.float64), str(kind), nulls)
    if types.is_string(kind) or types.is_large_string(kind) or types.is_null(kind):
        return Column("text", np.array(column.to_pylist(), dtype=object), str(kind))
    return Column("other", None, str(kind))


# ---------------------------------------------------------------------------- both


def _check_names(path: str, names: list) -> None:
    if not names:
        raise DatasetFormatError(f"{path}: no columns; a header row naming the columns is required")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise DatasetFormatError(f"{path}: column {i + 1} has no name; every column needs one")
    seen = set()
    for name in names:
        if name in seen:
            raise DatasetFormatError(f"{path}: duplicate column name {name!r}; column names must be unique")
        seen.add(name)
