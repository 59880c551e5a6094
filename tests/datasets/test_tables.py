"""softmaxkit.datasets.load_table and read_table_features: CSV and Parquet tables, each rule on a small file."""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np
import pytest

from softmaxkit import datasets
from softmaxkit.datasets import (
    DatasetFormatError,
    DatasetNotFoundError,
    load_source,
    load_table,
    read_table_features,
)

# A small table: two numeric features, one text feature, a text target; 12 rows, 3 classes.
ROWS = [
    ("1.5", "10", "red", "cat"),
    ("2.5", "12", "blue", "dog"),
    ("0.5", "-3", "red", "eel"),
    ("1.0", "11", "green", "cat"),
    ("3.0", "9", "blue", "dog"),
    ("0.0", "-2", "red", "eel"),
    ("1.2", "10.5", "blue", "cat"),
    ("2.2", "13", "green", "dog"),
    ("0.7", "-4", "green", "eel"),
    ("1.1", "8", "red", "cat"),
    ("2.9", "14", "red", "dog"),
    ("0.2", "-1", "blue", "eel"),
]
HEADER = ("length", "weight", "colour", "label")


def write_csv(path, rows=ROWS, header=HEADER, *, delimiter=",", bom=False, newline="\n"):
    lines = [delimiter.join(header), *(delimiter.join(row) for row in rows)]
    text = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def numeric_rows():
    return [row[:2] + row[3:] for row in ROWS]


@pytest.fixture
def numeric_csv(tmp_path):
    """The table without its text column."""
    return write_csv(tmp_path / "t.csv", numeric_rows(), ("length", "weight", "label"))


def expected_numbers():
    return np.array([[float(r[0]), float(r[1])] for r in ROWS], np.float32)


def all_rows(ds):
    """Training and test rows together, in the file's order (the split keeps each part sorted)."""
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    order = np.lexsort(x.T[::-1])
    return x[order], y[order]


# ---------------------------------------------------------------------------- reading CSV


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_delimiters_bom_and_line_endings(delimiter, bom, newline, tmp_path):
    header = ("length", "weight", "label")
    path = write_csv(tmp_path / "t.csv", numeric_rows(), header, delimiter=delimiter, bom=bom, newline=newline)
    ds = load_table(path, test=path)  # the whole file on both sides: no split to account for
    np.testing.assert_array_equal(ds.x_train, expected_numbers())
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape == (12, 2)
    assert ds.y_train.dtype == np.int64 and ds.y_train.tolist() == [0, 1, 2] * 4
    assert ds.class_names == ("cat", "dog", "eel")
    assert ds.preprocessing["features"] == ["length", "weight"]


def test_quoted_fields_blank_lines_and_spaces(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(
        '"size, in cm";"a ""quoted"" note";label\n"1,5";"first\nline";  x  \n\n2;" spaced ";y\n  \n3;plain;x\n',
        encoding="utf-8",
    )
    ds = load_table(path, target="label", one_hot=True, test=path)
    assert ds.preprocessing["features"] == ["size, in cm", 'a "quoted" note']
    # "1,5" is not a number (decimal commas are not read), so with one_hot the column is text
    assert ds.preprocessing["one_hot"] == {
        "size, in cm": ["1,5", "2", "3"],
        'a "quoted" note': ["first\nline", "plain", "spaced"],
    }
    assert ds.class_names == ("x", "y") and ds.y_train.tolist() == [0, 1, 0]


def test_sniffing_falls_back_to_comma(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("label\na\nb\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="only the target column 'label'; no feature columns"):
        load_table(path)


def test_integer_targets_sort_numerically(tmp_path):
    rows = [(str(i), str(t)) for i, t in enumerate([10, 9, -1, 10, 9, -1, 2, 2])]
    path = write_csv(tmp_path / "t.csv", rows, ("x", "y"))
    ds = load_table(path, target="y", test=path)
    assert ds.class_names == ("-1", "2", "9", "10")
    assert ds.y_train.tolist() == [3, 2, 0, 3, 2, 0, 1, 1]


def test_text_target_that_looks_like_floats_is_refused(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("1", "0.5"), ("2", "1"), ("3", "1.5")], ("x", "label"))
    with pytest.raises(DatasetFormatError, match=r"target column 'label' holds the number '0.5' in row 1 \(line 2\)"):
        load_table(path)


def test_mixed_target_is_text(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("1", "10"), ("2", "9"), ("3", "b")], ("x", "label"))
    assert load_table(path, test=path).class_names == ("10", "9", "b")  # sorted as strings


# ---------------------------------------------------------------------------- features


def test_text_column_is_refused_without_one_hot(tmp_path):
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(
        DatasetFormatError, match=r"column 'colour' is not numeric: row 1 \(line 2\) holds 'red'.*one_hot=True"
    ):
        load_table(path)


def test_one_hot_categories_from_the_training_part_only(tmp_path):
    rows = [(str(i), "rare" if i == 0 else ("a" if i % 2 else "b"), "xy"[i % 2]) for i in range(10)]
    path = write_csv(tmp_path / "t.csv", rows, ("n", "kind", "label"))
    for seed in range(20):  # find a split that holds out the one "rare" row
        ds = load_table(path, one_hot=True, seed=seed, test_fraction=0.2)
        if "rare" not in ds.preprocessing["one_hot"]["kind"]:
            break
    else:  # pragma: no cover
        pytest.fail("no seed held out row 0")
    assert ds.preprocessing["one_hot"] == {"kind": ["a", "b"]}
    assert ds.preprocessing["columns"] == ["n", "kind=a", "kind=b"]
    rare = ds.x_test[ds.x_test[:, 0] == 0]
    np.testing.assert_array_equal(rare, [[0.0, 0.0, 0.0]])  # unseen in training: all zeros
    np.testing.assert_array_equal(ds.x_train[:, 1:].sum(axis=1), 1.0)


def test_one_hot_columns_are_placed_where_the_column_was(tmp_path):
    path = write_csv(tmp_path / "t.csv")
    ds = load_table(path, one_hot=True, test=path)
    assert ds.preprocessing == {
        "kind": "table",
        "target": "label",
        "features": ["length", "weight", "colour"],
        "one_hot": {"colour": ["blue", "green", "red"]},
        "columns": ["length", "weight", "colour=blue", "colour=green", "colour=red"],
    }
    np.testing.assert_array_equal(ds.x_train[:, :2], expected_numbers())
    np.testing.assert_array_equal(ds.x_train[0, 2:], [0, 0, 1])  # red
    np.testing.assert_array_equal(ds.x_train[1, 2:], [1, 0, 0])  # blue
    assert ds.scaling == "numeric table columns as float32; standardised by the model's first layer"


def test_too_many_categories_are_refused(tmp_path):
    rows = [(str(i), f"id{i}", "ab"[i % 2]) for i in range(1001)]
    path = write_csv(tmp_path / "t.csv", rows, ("n", "id", "label"))
    with pytest.raises(DatasetFormatError, match=r"column 'id' has 1001 distinct values.*more than 1000"):
        load_table(path, one_hot=True, test=path)


@pytest.mark.parametrize("token", ["", "NA", "NaN", "nan", "null", "None", "NAN", " NA "])
def test_missing_values_name_the_column_and_first_row(token, tmp_path):
    rows = numeric_rows()
    rows[4] = (rows[4][0], token, rows[4][2])
    rows[7] = (rows[7][0], "", rows[7][2])
    path = write_csv(tmp_path / "t.csv", rows, ("length", "weight", "label"))
    with pytest.raises(DatasetFormatError, match=r"t\.csv: column 'weight' has a missing value .* in row 5 \(line 6\)"):
        load_table(path)


def test_missing_values_in_a_text_column_too(tmp_path):
    rows = list(ROWS)
    rows[2] = ("0.5", "-3", "NA", "eel")
    path = write_csv(tmp_path / "t.csv", rows)
    with pytest.raises(DatasetFormatError, match=r"column 'colour' has a missing value \('NA'\) in row 3"):
        load_table(path, one_hot=True)


@pytest.mark.parametrize(
    ("cell", "match"),
    [("inf", "an infinite value"), ("-Infinity", "an infinite value"), ("1e39", "a value beyond float32's range")],
)
def test_infinite_and_float32_overflow_are_refused(cell, match, tmp_path):
    rows = numeric_rows()
    rows[1] = (cell, *rows[1][1:])
    path = write_csv(tmp_path / "t.csv", rows, ("length", "weight", "label"))
    with pytest.raises(DatasetFormatError, match=rf"column 'length' has {match} \('{cell}'\) in row 2"):
        load_table(path)


def test_missing_target_value(tmp_path):
    rows = numeric_rows()
    rows[3] = (*rows[3][:2], "")
    path = write_csv(tmp_path / "t.csv", rows, ("length", "weight", "label"))
    with pytest.raises(DatasetFormatError, match=r"target column 'label' has a missing value \(''\) in row 4"):
        load_table(path)


def test_missing_target_column_lists_the_columns(numeric_csv):
    with pytest.raises(
        DatasetFormatError, match=r"no target column 'species'; the columns are 'length', 'weight', 'label'"
    ):
        load_table(numeric_csv, target="species")


def test_a_single_class_is_refused(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("1", "a"), ("2", "a")], ("x", "label"))
    with pytest.raises(DatasetFormatError, match="holds 1 distinct classes; 2 to 100000 are needed"):
        load_table(path)


# ---------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty file; a header row"),
        (b"\n\n", "empty file; a header row"),
        (b"a,label\n", r"no data rows \(an empty table\)"),
        (b"a,label\n1,x\n2,y,3\n", "line 3 has 3 fields, but the header has 2"),
        (b"a,label\n1\n", "line 2 has 1 fields, but the header has 2"),
        (b"1.5,2\n3,4\n", r"the first row \(1.5, 2\) looks like data; a header row naming the columns is required"),
        (b"a,a,label\n1,2,x\n", "duplicate column name 'a'"),
        (b"a,,label\n1,2,x\n", "column 2 has no name"),
        (b'a,label\n1,"x"y\n', "malformed CSV at line 2"),
        (b"a,label\n1,\xff\n", r"not UTF-8 text \(byte 10"),
    ],
)
def test_malformed_csv_files_are_refused_naming_the_file(content, match, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetFormatError, match=match) as info:
        load_table(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"missing\.csv: no such table file"):
        load_table(tmp_path / "missing.csv")
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(DatasetNotFoundError, match=r"gone\.csv: no such table file"):
        load_table(path, one_hot=True, test=tmp_path / "gone.csv")


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"target": 3}, TypeError, "target must be a column name"),
        ({"target": ""}, ValueError, "target must be a column name"),
        ({"one_hot": "yes"}, TypeError, "one_hot must be True or False"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
        ({"test_fraction": 1.0}, ValueError, r"test_fraction must be a number in \[0, 1\)"),
        ({"test": 3}, TypeError, "test must be the path of a test table"),
    ],
)
def test_bad_options(options, error, match, numeric_csv):
    with pytest.raises(error, match=r"^load_table: " + match):
        load_table(numeric_csv, **options)


# ---------------------------------------------------------------------------- split and test file


def test_split_is_stratified_and_reproducible_from_the_seed(numeric_csv):
    a, b = load_table(numeric_csv, seed=3), load_table(numeric_csv, seed=3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert len(a.x_train) + len(a.x_test) == 12
    assert sorted(a.y_test.tolist()) == [0, 1, 2]  # round(0.2 * 4) = 1 row of each class
    others = [load_table(numeric_csv, seed=s).x_test for s in range(4, 10)]
    assert any(not np.array_equal(a.x_test, other) for other in others)
    x, y = all_rows(a)
    order = np.lexsort(expected_numbers().T[::-1])
    np.testing.assert_array_equal(x, expected_numbers()[order])
    np.testing.assert_array_equal(y, np.array([0, 1, 2] * 4)[order])
    half = load_table(numeric_csv, test_fraction=0.5)
    assert len(half.x_test) == 6
    none = load_table(numeric_csv, test_fraction=0.0)
    assert none.x_test.shape == (0, 2) and none.y_test.shape == (0,)


def test_the_split_is_train_val_split_of_the_row_indices(numeric_csv):
    y = np.array([0, 1, 2] * 4)
    rows = np.arange(12)
    train, _, test, _ = datasets.train_val_split(rows, y, val_fraction=0.25, rng=np.random.default_rng(7))
    ds = load_table(numeric_csv, seed=7, test_fraction=0.25)
    np.testing.assert_array_equal(ds.x_train, expected_numbers()[train])
    np.testing.assert_array_equal(ds.x_test, expected_numbers()[test])


def test_test_file_with_columns_in_another_order(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    test_rows = [("dog", "purple", "5", "0.5"), ("cat", "red", "1", "2")]
    test = write_csv(tmp_path / "test.csv", test_rows, ("label", "colour", "weight", "length"))
    ds = load_table(train, one_hot=True, test=test)
    assert len(ds.x_train) == 12
    np.testing.assert_array_equal(ds.x_test, [[0.5, 5, 0, 0, 0], [2, 1, 0, 0, 1]])  # purple: unseen, zeros
    assert ds.y_test.tolist() == [1, 0]
    assert ds.source["options"]["test"] == str(test.resolve())


def test_test_file_with_an_unknown_class(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    test = write_csv(tmp_path / "test.csv", [("1", "2", "red", "cat"), ("1", "2", "red", "fox")])
    with pytest.raises(
        DatasetFormatError, match=r"test\.csv: the target column 'label' holds the class 'fox' in row 2"
    ):
        load_table(train, one_hot=True, test=test)


def test_test_file_with_integer_classes(tmp_path):
    train = write_csv(tmp_path / "train.csv", [("1", "3"), ("2", "10"), ("3", "3")], ("x", "y"))
    test = write_csv(tmp_path / "test.csv", [("1", "010"), ("2", "+3")], ("x", "y"))
    assert load_table(train, target="y", test=test).y_test.tolist() == [1, 0]
    bad = write_csv(tmp_path / "bad.csv", [("1", "3"), ("2", "three")], ("x", "y"))
    with pytest.raises(DatasetFormatError, match="holds the class 'three' in row 2"):
        load_table(train, target="y", test=bad)


def test_test_file_with_other_columns(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    test = write_csv(tmp_path / "test.csv", [("1", "2", "cat", "x")], ("length", "weight", "label", "extra"))
    with pytest.raises(
        DatasetFormatError, match=r"must have the training table's columns; it lacks 'colour' and adds 'extra'"
    ):
        load_table(train, one_hot=True, test=test)


def test_test_file_numbers_where_training_had_numbers(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    test = write_csv(tmp_path / "test.csv", [("1", "heavy", "red", "cat")])
    with pytest.raises(
        DatasetFormatError, match=r"column 'weight' is not numeric: row 1 .* training read this column as numbers"
    ):
        load_table(train, one_hot=True, test=test)


# ---------------------------------------------------------------------------- source records


def test_source_records_path_fingerprint_and_options(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "t.csv")
    monkeypatch.chdir(tmp_path)
    ds = load_table("t.csv", one_hot=True, seed=5, test_fraction=0.25)
    assert ds.name == "t.csv"
    assert ds.source == {
        "kind": "table",
        "path": str(path.resolve()),
        "fingerprint": hashlib.sha256(path.read_bytes()).hexdigest(),
        "options": {"target": "label", "one_hot": True, "test": None, "seed": 5, "test_fraction": 0.25},
    }
    test = write_csv(tmp_path / "test.csv", ROWS[:2])
    with_test = load_table("t.csv", one_hot=True, test="test.csv")
    both = hashlib.sha256(path.read_bytes() + test.read_bytes()).hexdigest()
    assert with_test.source["fingerprint"] == both


@pytest.mark.parametrize("test_file", [False, True])
def test_load_source_reproduces_the_arrays_and_split(test_file, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "t.csv")
    test = write_csv(tmp_path / "test.csv", ROWS[3:6]) if test_file else None
    ds = load_table(path, one_hot=True, seed=11, test=test)
    monkeypatch.chdir(tmp_path.parent)  # recorded paths are absolute
    again = load_source(ds.source)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, field), getattr(ds, field))
    assert again.class_names == ds.class_names and again.preprocessing == ds.preprocessing
    assert again.source == ds.source


def test_datasets_load_dispatches_tables_with_options(tmp_path):
    path = write_csv(tmp_path / "T.CSV", numeric_rows(), ("length", "weight", "species"))
    ds = datasets.load(str(path), target="species", seed=1)
    assert ds.source["options"] == {
        "target": "species",
        "one_hot": False,
        "test": None,
        "seed": 1,
        "test_fraction": 0.2,
    }
    assert ds.preprocessing["target"] == "species" and ds.preprocessing["features"] == ["length", "weight"]
    assert ds.name == str(path) and (len(ds.x_train), len(ds.x_test)) == (9, 3)
    with pytest.raises(TypeError, match="image_size"):
        datasets.load(str(path), target="species", image_size=8)


# ---------------------------------------------------------------------------- prediction rows


def test_read_table_features_picks_columns_by_name(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    pre = load_table(train, one_hot=True, test=train).preprocessing
    header = ("note", "colour", "weight", "length")
    rows = write_csv(tmp_path / "rows.csv", [("x", "green", "7", "1.5"), ("y", "pink", "8", "2")], header)
    x, names = read_table_features(rows, pre)
    np.testing.assert_array_equal(x, [[1.5, 7, 0, 1, 0], [2, 8, 0, 0, 0]])
    assert x.dtype == np.float32
    assert names == ["rows.csv:1", "rows.csv:2"]


def test_read_table_features_refuses_missing_columns_and_values(tmp_path):
    train = write_csv(tmp_path / "train.csv")
    pre = load_table(train, one_hot=True, test=train).preprocessing
    rows = write_csv(tmp_path / "rows.csv", [("1", "red")], ("length", "colour"))
    with pytest.raises(DatasetFormatError, match=r"rows\.csv: no column 'weight', which the model takes as features"):
        read_table_features(rows, pre)
    rows = write_csv(tmp_path / "rows.csv", [("1", "2", "red"), ("1", "NA", "red")], ("length", "weight", "colour"))
    with pytest.raises(DatasetFormatError, match=r"column 'weight' has a missing value \('NA'\) in row 2"):
        read_table_features(rows, pre)
    with pytest.raises(DatasetNotFoundError):
        read_table_features(tmp_path / "none.csv", pre)


@pytest.mark.parametrize(
    ("pre", "match"),
    [
        (None, "must be a table's record"),
        ({"kind": "image"}, "must be a table's record"),
        ({"kind": "table", "features": []}, r"\['features'\] must be a non-empty list"),
        ({"kind": "table", "features": ["a", 3]}, r"\['features'\] must be a non-empty list"),
        ({"kind": "table", "features": ["a", "a"]}, "names a column twice"),
        ({"kind": "table", "features": ["a"], "one_hot": {"b": ["x"]}}, r"\['one_hot'\] must map feature columns"),
        ({"kind": "table", "features": ["a"], "one_hot": {"a": "x"}}, r"\['one_hot'\]\['a'\] must be"),
        ({"kind": "table", "features": ["a"], "one_hot": {"a": ["x", "x"]}}, "distinct strings"),
        ({"kind": "table", "features": ["a"], "columns": ["b"]}, r"\['columns'\] does not match"),
    ],
)
def test_read_table_features_checks_the_record(pre, match, numeric_csv):
    with pytest.raises(ValueError, match=r"^read_table_features: preprocessing.*" + match):
        read_table_features(numeric_csv, pre)


# ---------------------------------------------------------------------------- Parquet


def write_parquet(path, columns: dict):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_matches_the_same_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    columns = {
        "length": pa.array([float(r[0]) for r in ROWS], pa.float32()),
        "weight": pa.array([float(r[1]) for r in ROWS], pa.float64()),
        "colour": pa.array([r[2] for r in ROWS]).dictionary_encode(),
        "label": pa.array([r[3] for r in ROWS]),
    }
    parquet = write_parquet(tmp_path / "t.parquet", columns)
    csv = write_csv(tmp_path / "t.csv")
    a, b = load_table(parquet, one_hot=True, seed=2), load_table(csv, one_hot=True, seed=2)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.preprocessing == b.preprocessing and a.class_names == b.class_names
    x, names = read_table_features(parquet, a.preprocessing)
    assert names[:2] == ["t.parquet:1", "t.parquet:2"] and x.shape == (12, 5)
    assert datasets.load(str(parquet), one_hot=True, seed=2).source == a.source


def test_parquet_integers_booleans_and_integer_targets(tmp_path):
    pa = pytest.importorskip("pyarrow")
    columns = {
        "flag": pa.array([True, False, True, False]),
        "count": pa.array([1, 2, 3, 4], pa.uint8()),
        "y": pa.array([10, 2, 10, 2], pa.int64()),
    }
    path = write_parquet(tmp_path / "t.pq", columns)
    ds = load_table(path, target="y", test=path)
    np.testing.assert_array_equal(ds.x_train, [[1, 1], [0, 2], [1, 3], [0, 4]])
    assert ds.class_names == ("2", "10") and ds.y_train.tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda pa: {"x": pa.array([1.0, None, 3.0]), "label": ["a", "b", "a"]},
            r"column 'x' has a missing value \(null\) in row 2;",
        ),
        (
            lambda pa: {"x": pa.array([1, 2, None]), "label": ["a", "b", "a"]},
            r"column 'x' has a missing value \(null\) in row 3",
        ),
        (lambda pa: {"x": [1.0, float("nan"), 3.0], "label": ["a", "b", "a"]}, r"missing value \(NaN\) in row 2"),
        (lambda pa: {"x": [1.0, float("inf"), 3.0], "label": ["a", "b", "a"]}, "infinite value"),
        (lambda pa: {"x": [1, 2, 3], "label": ["a", None, "a"]}, r"target column 'label' has a missing value \(null\)"),
        (lambda pa: {"x": [1, 2, 3], "label": [0.0, 1.0, 0.0]}, "holds floating-point numbers; class labels must be"),
        (lambda pa: {"x": pa.array([0, 1, 2], pa.timestamp("s")), "label": ["a", "b", "a"]}, "type timestamp"),
        (lambda pa: {"x": ["1", "2", "many"], "label": ["a", "b", "a"]}, "holds 'many'"),
        (lambda pa: {"x": [1, 2, 3]}, "no target column 'label'; the columns are 'x'"),
    ],
)
def test_parquet_values_follow_the_same_rules(make, match, tmp_path):
    pa = pytest.importorskip("pyarrow")
    path = write_parquet(tmp_path / "t.parquet", make(pa))
    with pytest.raises(DatasetFormatError, match=match):
        load_table(path)


def test_bad_parquet_files(tmp_path):
    pa = pytest.importorskip("pyarrow")
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetFormatError, match=r"bad\.parquet: not a readable Parquet file"):
        load_table(path)
    empty = write_parquet(
        tmp_path / "empty.parquet", {"x": pa.array([], pa.float64()), "label": pa.array([], pa.string())}
    )
    with pytest.raises(DatasetFormatError, match="no data rows"):
        load_table(empty)
    duplicated = tmp_path / "dup.parquet"
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4]), pa.array(["a", "b"])], names=["x", "x", "label"])
    pytest.importorskip("pyarrow.parquet").write_table(table, duplicated)
    with pytest.raises(DatasetFormatError, match="duplicate column name 'x'"):
        load_table(duplicated)


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    with pytest.raises(ImportError, match=r"reading Parquet needs pyarrow: pip install 'softmaxkit\[tables\]'") as info:
        datasets.load(str(path))
    assert info.value.name == "pyarrow"
    with pytest.raises(ImportError, match=r"^read_table_features: reading Parquet needs pyarrow"):
        read_table_features(path, {"kind": "table", "features": ["x"]})
    csv = write_csv(tmp_path / "t.csv", numeric_rows(), ("length", "weight", "label"))
    assert len(load_table(csv).x_train) == 9  # CSV needs nothing beyond the base install


def test_missing_parquet_file_is_not_found_even_with_pyarrow(tmp_path):
    pytest.importorskip("pyarrow")
    with pytest.raises(DatasetNotFoundError):
        load_table(tmp_path / "none.parquet")
    assert not os.path.exists(tmp_path / "none.parquet")
