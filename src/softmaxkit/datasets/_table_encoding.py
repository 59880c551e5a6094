"""One-hot encoding of a table's text columns, and the preprocessing record prediction reads back.

A feature column is either numbers (one float32 column) or text with recorded categories (one 0/1
column per category, named ``"column=category"``, in the column's place; a value that is none of the
categories is all zeros). :func:`preprocessing_record` writes ``Dataset.preprocessing`` for a table,
:func:`check_preprocessing` checks one read back from a model file.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import DatasetFormatError
from ._table_columns import numeric_values, text_values

__all__ = [
    "MAX_CATEGORIES",
    "training_categories",
    "recorded_values",
    "encode",
    "preprocessing_record",
    "check_preprocessing",
]

#: Most categories one one-hot encoded column may have: more is an identifier or free text, whose
#: encoding would take (rows x categories) floats and teach the model nothing that generalises.
MAX_CATEGORIES = 1000


def training_categories(table, name: str, values) -> list[str]:
    """The sorted distinct values of a text column's training rows (at most :data:`MAX_CATEGORIES`)."""
    found = sorted(set(values))
    if len(found) > MAX_CATEGORIES:
        raise DatasetFormatError(
            f"{table.path}: column {name!r} has {len(found)} distinct values in the training rows, more than "
            f"{MAX_CATEGORIES} to one-hot encode (an identifier or free text?); drop the column"
        )
    return found


def recorded_values(table, features: list, categories: dict) -> dict:
    """Each feature column as training recorded it: text for the one-hot columns, numbers otherwise."""
    hint = "; training read this column as numbers"
    return {
        name: text_values(table, name) if name in categories else numeric_values(table, name, hint=hint)
        for name in features
    }


def encode(values: dict, features: list, categories: dict) -> np.ndarray:
    """The float32 matrix of the features in order, each one-hot column expanded in place."""
    blocks = []
    for name in features:
        blocks.append(_one_hot(values[name], categories[name]) if name in categories else values[name][:, None])
    return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)


def _one_hot(values, categories: list) -> np.ndarray:
    index = {category: i for i, category in enumerate(categories)}
    codes = np.fromiter((index.get(value, -1) for value in values), dtype=np.int64, count=len(values))
    out = np.zeros((len(values), len(categories)), dtype=np.float32)
    seen = np.flatnonzero(codes >= 0)
    out[seen, codes[seen]] = 1.0
    return out


def _columns(features: list, categories: dict) -> list[str]:
    return [
        column
        for name in features
        for column in ([f"{name}={category}" for category in categories[name]] if name in categories else [name])
    ]


def preprocessing_record(target: str, features: list, categories: dict) -> dict:
    return {
        "kind": "table",
        "target": target,
        "features": list(features),
        "one_hot": {name: list(found) for name, found in categories.items()},
        "columns": _columns(features, categories),
    }


def check_preprocessing(preprocessing, fname: str) -> tuple[list, dict]:
    """The feature names and one-hot categories of a recorded table preprocessing, checked."""
    if not isinstance(preprocessing, dict) or preprocessing.get("kind") != "table":
        raise ValueError(
            f"{fname}: preprocessing must be a table's record ({{'kind': 'table', ...}}), got {preprocessing!r:.200}"
        )
    features = preprocessing.get("features")
    if not (isinstance(features, list) and features and all(isinstance(f, str) and f for f in features)):
        raise ValueError(
            f"{fname}: preprocessing['features'] must be a non-empty list of column names, got {features!r:.200}"
        )
    if len(set(features)) != len(features):
        raise ValueError(f"{fname}: preprocessing['features'] names a column twice")
    categories = preprocessing.get("one_hot") or {}
    if not isinstance(categories, dict) or not set(categories) <= set(features):
        raise ValueError(
            f"{fname}: preprocessing['one_hot'] must map feature columns to their categories, got {categories!r:.200}"
        )
    for name, found in categories.items():
        if not (
            isinstance(found, list)
            and found
            and all(isinstance(c, str) for c in found)
            and len(set(found)) == len(found)
        ):
            raise ValueError(
                f"{fname}: preprocessing['one_hot'][{name!r}] must be a non-empty list of distinct strings, got {found!r:.200}"
            )
    columns = preprocessing.get("columns")
    if columns is not None and columns != _columns(features, categories):
        raise ValueError(f"{fname}: preprocessing['columns'] does not match its features and one-hot categories")
    return features, categories
