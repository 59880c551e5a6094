"""Tables: CSV and Parquet files of numeric features and a target column (placeholder, being written)."""

from __future__ import annotations

__all__ = ["TABLE_SUFFIXES", "load_table", "read_table_features"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def load_table(path, **options):
    raise NotImplementedError("load_table")


def read_table_features(path, preprocessing):
    raise NotImplementedError("read_table_features")
