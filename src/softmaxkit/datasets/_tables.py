"""Tables: CSV and Parquet files of feature columns and a target column, as a :class:`Dataset`.

:func:`load_table` reads a training table (and a test table, or a seeded stratified split of the
first); :func:`read_table_features` reads rows for prediction with the columns and categories that
training recorded in ``Dataset.preprocessing``. How files are read is in :mod:`._table_files`, what
their cells mean in :mod:`._table_columns`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .._validation import HALF_OPEN_FRACTION, Boolean, Integer, validate
from ..exceptions import DatasetFormatError
from ._dataset import Dataset
from ._labels import MAX_CLASSES
from ._table_columns import class_keys, feature_values
from ._table_encoding import (
    MAX_CATEGORIES,
    check_preprocessing,
    encode,
    preprocessing_record,
    recorded_values,
    training_categories,
)
from ._table_files import PARQUET_SUFFIXES, read_table_file
from .splits import train_val_split

__all__ = ["TABLE_SUFFIXES", "MAX_CATEGORIES", "load_table", "read_table_features", "read_labelled_rows"]

TABLE_SUFFIXES = (".csv", *PARQUET_SUFFIXES)

#: ``Dataset.scaling`` of every table.
SCALING = "numeric table columns as float32; standardised by the model's first layer"

_OPTIONS = {"one_hot": Boolean(), "seed": Integer(0), "test_fraction": HALF_OPEN_FRACTION}
_NOT_NUMERIC_HINT = "; pass one_hot=True to one-hot encode its values, or drop the column"


def load_table(path, *, target="label", one_hot=False, test=None, seed=0, test_fraction=0.2) -> Dataset:
    """Load a CSV or Parquet table as a data set: one column of class labels, the others features.

    Parameters
    ----------
    path : str or path
        A ``.csv``, ``.parquet`` or ``.pq`` file with a header row (CSV) naming its columns. CSV is
        UTF-8 (with or without a byte-order mark), its delimiter a comma, semicolon or tab (sniffed),
        its fields optionally quoted. Parquet needs pyarrow (``pip install 'softmaxkit[tables]'``).
    target : str, default "label"
        The column of class labels: integers (classes sorted numerically) or text (sorted as strings).
        ``class_names`` are the sorted values as strings; at least 2, at most 100000 classes.
    one_hot : bool, default False
        One-hot encode every column that is not numeric, instead of refusing it. Its categories are
        the sorted distinct values in the training part (at most :data:`MAX_CATEGORIES`), each one an
        encoded column named ``"column=value"``, placed where the column was. A value that the
        training part does not have (in the test part, or at prediction) encodes as all zeros.
    test : str or path, optional
        A test table with the same columns (in any order), whose labels are classes of the first
        file. The first file is then all training data. Without it, a stratified ``test_fraction`` of
        the first file's rows is held out as the test set.
    seed : int, default 0
        Seed of the split: ``train_val_split(..., rng=numpy.random.default_rng(seed))``.
    test_fraction : float in [0, 1), default 0.2
        Share of the rows held out when ``test`` is not given (each class keeps its share).

    Returns
    -------
    Dataset
        ``x_train``, ``x_test``: float32 of shape (n, n_columns); labels int64; ``source`` (kind
        ``"table"``, the absolute path, a SHA-256 ``fingerprint`` of the training file's bytes followed
        by the test file's, and these options), from which :func:`softmaxkit.datasets.load_source`
        reloads the same arrays and split; ``preprocessing`` (``{"kind": "table", "target",
        "features": [feature columns in order], "one_hot": {column: [categories]}, "columns":
        [encoded columns]}``), from which :func:`read_table_features` reads new rows.

    Raises
    ------
    DatasetNotFoundError
        A file does not exist.
    DatasetFormatError
        A file is not valid CSV or Parquet, has ragged rows, no header, empty or duplicate column
        names or no rows; the target column is missing (the message lists the columns) or holds
        fewer than 2 classes, more than 100000, or non-integer numbers; a feature holds a missing
        value (an empty cell, ``NA``, ``NaN``, ``nan``, ``null``, ``None``, a Parquet null), an
        infinite value or a value beyond float32's range, or is not numeric without ``one_hot``;
        the test table's columns differ or its labels name an unknown class. The message names the
        file, the column and the first row concerned.
    ImportError
        A Parquet file without pyarrow.
    TypeError, ValueError
        A bad option (the message starts with ``load_table:``).

    Notes
    -----
    Features are not standardised here: put :meth:`softmaxkit.nn.Standardize.fit` on the training
    part as the model's first layer, so that the model file carries the statistics.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pets.csv"
    >>> _ = path.write_text("weight;colour;label\\n4.0;red;cat\\n30;red;dog\\n3.5;blue;cat\\n25;blue;dog\\n")
    >>> ds = load_table(path, one_hot=True, test_fraction=0.5)
    >>> ds.class_names, ds.preprocessing["columns"]   # the training half has only blue pets
    (('cat', 'dog'), ['weight', 'colour=blue'])
    >>> ds.x_test, ds.y_test   # red, unseen in training, encodes as zeros
    (array([[ 4.,  0.],
           [30.,  0.]], dtype=float32), array([0, 1]))
    """
    fname = "load_table"
    one_hot, seed, test_fraction = validate(fname, _OPTIONS, one_hot=one_hot, seed=seed, test_fraction=test_fraction)
    target = _check_target(target, fname)
    if test is not None and not isinstance(test, (str, os.PathLike)):
        raise TypeError(f"{fname}: test must be the path of a test table or None, got {type(test).__name__}")
    digest = hashlib.sha256()
    table = read_table_file(path, digest=digest, fname=fname)
    features = _feature_names(table, target)
    keys, integers = class_keys(table, target)
    classes = sorted(set(keys))
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise DatasetFormatError(
            f"{table.path}: the target column {target!r} holds {len(classes)} distinct classes; "
            f"2 to {MAX_CLASSES} are needed"
        )
    index = {key: i for i, key in enumerate(classes)}
    y = np.array([index[key] for key in keys], dtype=np.int64)
    hint = "" if one_hot else _NOT_NUMERIC_HINT
    values = {name: feature_values(table, name, allow_text=one_hot, hint=hint) for name in features}

    rows = np.arange(table.n_rows)
    if test is None:
        train, y_train, held_out, y_test = train_val_split(
            rows, y, val_fraction=test_fraction, rng=np.random.default_rng(seed)
        )
    else:
        train, y_train = rows, y
    categories = {name: training_categories(table, name, v[train]) for name, v in values.items() if v.dtype == object}
    x = encode(values, features, categories)
    if test is None:
        x_train, x_test = x[train], x[held_out]
    else:
        test_table = read_table_file(test, digest=digest, fname=fname)
        _check_same_columns(test_table, table)
        y_test = _test_labels(test_table, table, target, index, integers)
        x_train, x_test = x, encode(recorded_values(test_table, features, categories), features, categories)

    options = {
        "target": target,
        "one_hot": one_hot,
        "test": None if test is None else str(Path(test).resolve()),
        "seed": seed,
        "test_fraction": test_fraction,
    }
    source = {"kind": "table", "path": str(Path(path).resolve()), "fingerprint": digest.hexdigest(), "options": options}
    return Dataset(
        x_train,
        y_train,
        x_test,
        y_test,
        tuple(str(key) for key in classes),
        os.fspath(path),
        SCALING,
        source=source,
        preprocessing=preprocessing_record(target, features, categories),
    )


def read_table_features(path, preprocessing: dict):
    """Read the rows of a table for prediction, encoded as the model's training table was.

    Parameters
    ----------
    path : str or path
        A ``.csv`` or ``.parquet`` table (read as :func:`load_table` reads them) holding at least the
        feature columns of ``preprocessing``, in any order; its other columns, the target included,
        are ignored.
    preprocessing : dict
        ``Dataset.preprocessing`` of the training table (``features``, ``one_hot``, ``columns``), as a
        model file records it.

    Returns
    -------
    x : ndarray of shape (n_rows, n_columns)
        float32, the numeric features as read and the one-hot columns of the recorded categories (a
        value training did not see encodes as all zeros).
    names : list of str
        ``"file.csv:1"``, ``"file.csv:2"``, ...: the file's name and the 1-based data row.

    Raises
    ------
    DatasetNotFoundError, DatasetFormatError, ImportError
        As for :func:`load_table`; also a feature column the file lacks (named in the message).
    ValueError, TypeError
        ``preprocessing`` is not a table's record (the message starts with ``read_table_features:``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
    >>> _ = path.write_text("colour,weight\\ngreen,4\\nred,3\\n")
    >>> pre = {"kind": "table", "target": "label", "features": ["weight", "colour"],
    ...        "one_hot": {"colour": ["blue", "red"]}, "columns": ["weight", "colour=blue", "colour=red"]}
    >>> x, names = read_table_features(path, pre)
    >>> x.tolist(), names
    ([[4.0, 0.0, 0.0], [3.0, 0.0, 1.0]], ['rows.csv:1', 'rows.csv:2'])
    """
    fname = "read_table_features"
    features, categories = check_preprocessing(preprocessing, fname)
    table = read_table_file(path, digest=hashlib.sha256(), fname=fname)
    missing = [name for name in features if name not in table.columns]
    if missing:
        raise DatasetFormatError(
            f"{table.path}: no column {', '.join(map(repr, missing))}, which the model takes as features "
            f"(the file has {_listing(table.columns)})"
        )
    x = encode(recorded_values(table, features, categories), features, categories)
    name = Path(path).name
    return x, [f"{name}:{i + 1}" for i in range(table.n_rows)]


def read_labelled_rows(path, preprocessing: dict, class_names, *, target=None):
    """Read a labelled table to test a model on: its features as :func:`read_table_features` reads them
    (the model's columns and categories), its labels numbered as the model's classes.

    Parameters
    ----------
    path : str or path
    preprocessing : dict
        The training table's record (a model file's ``preprocessing``).
    class_names : sequence of str
        The model's classes; every label of the file must be one of them.
    target : str, optional
        The label column (default: the one training used).

    Returns
    -------
    x : ndarray of shape (n_rows, n_columns)
    y : ndarray of int64, shape (n_rows,)
    """
    fname = "read_labelled_rows"
    x, _ = read_table_features(path, preprocessing)
    target = _check_target(preprocessing.get("target", "label") if target is None else target, fname)
    table = read_table_file(path, digest=hashlib.sha256(), fname=fname)
    if target not in table.columns:
        raise DatasetFormatError(f"{table.path}: no target column {target!r} (the file has {_listing(table.columns)})")
    labels, _ = class_keys(table, target)
    index = {str(name): k for k, name in enumerate(class_names)}
    unknown = sorted({str(v) for v in labels if str(v) not in index})
    if unknown:
        raise DatasetFormatError(
            f"{table.path}: the target column {target!r} holds classes the model does not know: "
            f"{', '.join(map(repr, unknown[:10]))}"
        )
    return x, np.array([index[str(v)] for v in labels], dtype=np.int64)


# ---------------------------------------------------------------------------- columns


def _check_target(target, fname: str) -> str:
    if not isinstance(target, str):
        raise TypeError(f"{fname}: target must be a column name (a string), got {target!r}")
    if not target:
        raise ValueError(f"{fname}: target must be a column name, got an empty string")
    return target


def _feature_names(table, target: str) -> list[str]:
    if target not in table.columns:
        raise DatasetFormatError(
            f"{table.path}: no target column {target!r}; the columns are {_listing(table.columns)} "
            "(choose one with target=...)"
        )
    features = [name for name in table.columns if name != target]
    if not features:
        raise DatasetFormatError(f"{table.path}: only the target column {target!r}; no feature columns")
    return features


def _listing(names) -> str:
    names = list(names)
    shown = ", ".join(map(repr, names[:20]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def _check_same_columns(test_table, table) -> None:
    missing = [name for name in table.columns if name not in test_table.columns]
    extra = [name for name in test_table.columns if name not in table.columns]
    if missing or extra:
        differences = ([f"lacks {_listing(missing)}"] if missing else []) + (
            [f"adds {_listing(extra)}"] if extra else []
        )
        raise DatasetFormatError(
            f"{test_table.path}: the test table must have the training table's columns; it {' and '.join(differences)}"
        )


def _test_labels(test_table, table, target: str, index: dict, integers: bool) -> np.ndarray:
    keys, _ = class_keys(test_table, target, integers=integers)
    labels = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        label = index.get(key)
        if label is None:
            raise DatasetFormatError(
                f"{test_table.path}: the target column {target!r} holds the class {str(key)!r} in "
                f"{test_table.where(i)}, which the training table {table.path} does not have "
                f"(its classes: {_listing(map(str, index))})"
            )
        labels[i] = label
    return labels
