"""Training from arrays on disk (softmaxkit.datasets.streaming): block-shuffled minibatches, whole-block
splits, memory that does not grow with the data, and `softmaxkit train --data X.npy|X.zarr --labels Y`."""

import tracemalloc

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.cli import main
from softmaxkit.datasets import scale_pixels
from softmaxkit.datasets.streaming import BlockStream, fingerprint, open_array, open_split, open_stream
from softmaxkit.exceptions import DatasetFormatError, DatasetNotFoundError
from softmaxkit.nn import architectures, optim
from softmaxkit.train import evaluate_loss, fit

zarr = pytest.importorskip("zarr")


def blobs(n, *, k=3, d=8, seed=0):
    """Separable uint8 'pixels' (class centres far apart) and int64 labels."""
    rng = np.random.default_rng(seed)
    centers = rng.integers(40, 216, size=(k, d))
    y = rng.integers(0, k, n)
    x = np.clip(centers[y] + rng.integers(-25, 26, size=(n, d)), 0, 255).astype(np.uint8)
    return x, y


@pytest.fixture
def arrays(tmp_path):
    """x.npy (uint8, 1000 x 8), y.npy, and the same rows as x.zarr / y.zarr (chunks of 50 rows)."""
    x, y = blobs(1000)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for name, values in (("x", x), ("y", y)):
        z = zarr.create_array(
            tmp_path / f"{name}.zarr", shape=values.shape, chunks=(50, *values.shape[1:]), dtype=values.dtype
        )
        z[:] = values
    return tmp_path, x, y


def test_every_row_comes_once_per_epoch_in_full_batches(arrays):
    path, x, y = arrays
    stream = open_stream(path / "x.npy", path / "y.npy", block_rows=64, buffer_blocks=3)
    assert (len(stream), stream.n_blocks, stream.n_classes, stream.sample_shape) == (1000, 16, 3, (8,))
    batches = list(stream.shuffled_batches(30, np.random.default_rng(0)))
    sizes = [len(yb) for _, yb in batches]
    assert sizes[:-1] == [30] * (len(sizes) - 1) and sum(sizes) == 1000  # leftovers join the next buffer
    xs = np.concatenate([xb for xb, _ in batches])
    ys = np.concatenate([yb for _, yb in batches])
    expected = scale_pixels(x)[0]
    order = np.lexsort(xs.T[::-1])
    np.testing.assert_array_equal(xs[order], expected[np.lexsort(expected.T[::-1])])
    # each streamed row keeps its own label
    lookup = {row.tobytes(): label for row, label in zip(expected, y)}
    assert all(lookup[row.tobytes()] == label for row, label in zip(xs, ys))
    assert not np.array_equal(xs, expected)  # shuffled


def test_same_generator_same_batches_and_each_epoch_differs(arrays):
    path, _, _ = arrays
    stream = open_stream(path / "x.npy", path / "y.npy", block_rows=100)
    runs = [list(stream.shuffled_batches(64, np.random.default_rng(5))) for _ in range(2)]
    for (xa, ya), (xb, yb) in zip(*runs):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    rng = np.random.default_rng(5)
    first, second = (np.concatenate([yb for _, yb in stream.shuffled_batches(64, rng)]) for _ in range(2))
    assert not np.array_equal(first, second)


def test_zarr_and_npy_stream_the_same_batches(arrays):
    path, _, _ = arrays
    npy = open_stream(path / "x.npy", path / "y.npy", block_rows=100)
    zr = open_stream(path / "x.zarr", path / "y.zarr", block_rows=100)
    assert zr.source["format"] == {"x": "zarr", "labels": "zarr"} and npy.source["format"]["x"] == "npy"
    for (xa, ya), (xb, yb) in zip(
        npy.shuffled_batches(32, np.random.default_rng(1)), zr.shuffled_batches(32, np.random.default_rng(1))
    ):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_default_blocks_follow_zarr_chunks_and_shrink_for_small_data(tmp_path):
    x, y = blobs(200_000)
    z = zarr.create_array(tmp_path / "x.zarr", shape=x.shape, chunks=(3000, 8), dtype=x.dtype)
    z[:] = x
    np.save(tmp_path / "y.npy", y)
    assert open_stream(tmp_path / "x.zarr", tmp_path / "y.npy").block_rows == 6000  # two chunks, nearest below 8192
    np.save(tmp_path / "x.npy", x[:40_000])
    np.save(tmp_path / "y.npy", y[:40_000])
    assert open_stream(tmp_path / "x.npy", tmp_path / "y.npy").block_rows == 2000  # 40000 rows / 20 blocks


def test_images_gain_a_channel_axis_and_are_scaled(tmp_path):
    x = np.full((40, 5, 6), 255, np.uint8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(40) % 2)
    stream = open_stream(tmp_path / "x.npy", tmp_path / "y.npy")
    assert stream.sample_shape == (1, 5, 6) and stream.scaling.startswith("uint8")
    xb, _ = next(stream.ordered_blocks())
    assert xb.shape[1:] == (1, 5, 6) and xb.dtype == np.float32 and float(xb.max()) == 1.0


def test_split_holds_out_whole_blocks_and_is_recreated_from_the_record(arrays):
    path, _, _ = arrays
    stream = open_stream(path / "x.npy", path / "y.npy", block_rows=50)  # 20 blocks
    train, val, test = stream.split(val_fraction=0.1, test_fraction=0.2, rng=np.random.default_rng(3))
    assert (train.n_blocks, val.n_blocks, test.n_blocks) == (14, 2, 4)
    blocks = np.concatenate([train.blocks, val.blocks, test.blocks])
    assert sorted(blocks.tolist()) == list(range(20))
    record = {**stream.source, "split": {"seed": 3, "val_fraction": 0.1, "test_fraction": 0.2}}
    again = open_split(record)
    for before, after in zip((train, val, test), again):
        np.testing.assert_array_equal(before.blocks, after.blocks)
    assert again[2].source["fingerprint"] == stream.source["fingerprint"]


def test_split_refuses_to_leave_nothing_to_train_on(arrays):
    path, _, _ = arrays
    stream = open_stream(path / "x.npy", path / "y.npy", block_rows=400)  # 3 blocks
    with pytest.raises(ValueError, match="cannot hold out 1 for validation and 2 for testing"):
        stream.split(val_fraction=0.1, test_fraction=0.5, rng=np.random.default_rng(0))


def test_fingerprint_changes_with_the_file(arrays):
    path, x, _ = arrays
    assert fingerprint(path / "x.zarr")["files"] > 1  # a store: its files together
    before = fingerprint(path / "x.npy")
    np.save(path / "x.npy", x[:-1])
    after = fingerprint(path / "x.npy")
    assert after != before and after["bytes"] == (path / "x.npy").stat().st_size


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.arange(1000) * 0.5, "must be stored as integers"),
        (np.arange(999) % 3, "one label per row"),
        (np.array([0, 1, 10**9] * 333 + [0]), "labels out of range"),
    ],
)
def test_bad_labels_are_refused_when_opened(arrays, labels, match):
    path, _, _ = arrays
    np.save(path / "bad.npy", labels)
    with pytest.raises(DatasetFormatError, match=match):
        open_stream(path / "x.npy", path / "bad.npy")


def test_a_label_beyond_the_class_count_is_refused_where_it_is_read(arrays):
    path, _, y = arrays
    stream = BlockStream(np.load(path / "x.npy", mmap_mode="r"), y, n_classes=2, block_rows=100)
    with pytest.raises(DatasetFormatError, match=r"rows \d+\.\.\d+.*expected 0..1"):
        list(stream.ordered_blocks())


def test_missing_truncated_and_unscalable_arrays(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no such"):
        open_array(tmp_path / "none.npy")
    np.save(tmp_path / "x.npy", np.zeros((100, 4), np.uint8))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-50])
    with pytest.raises(DatasetFormatError, match=r"not a readable \.npy"):
        open_array(tmp_path / "short.npy")
    np.save(tmp_path / "obj.npy", np.array([{}, []], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetFormatError, match=r"not a readable \.npy"):
        open_array(tmp_path / "obj.npy")
    with pytest.raises(DatasetFormatError, match="no known range"):
        BlockStream(np.zeros((4, 2), np.int32), np.zeros(4, np.int64), n_classes=2)


def test_fit_trains_on_a_stream_with_streamed_validation(arrays):
    path, x, y = arrays
    stream = open_stream(path / "x.npy", path / "y.npy", block_rows=50)
    train, val, test = stream.split(val_fraction=0.1, test_fraction=0.1, rng=np.random.default_rng(0))
    runs = []
    for _ in range(2):
        model = architectures.mlp((8,), 3, hidden=(16,), rng=np.random.default_rng(0))
        history = fit(
            model, train, optimizer=optim.Adam(1e-2), rng=np.random.default_rng(1), epochs=4, batch_size=32,
            x_val=val, progress=False,
        )  # fmt: skip
        runs.append(model.predict_logits(scale_pixels(x)[0]))
    np.testing.assert_array_equal(runs[0], runs[1])  # same seed, same run
    assert len(history.epochs) == 4 and history.epochs[-1]["val_accuracy"] > 0.95
    loss, acc = evaluate_loss(model, test)
    rows = np.concatenate([np.arange(b * 50, b * 50 + 50) for b in test.blocks])
    expected = evaluate_loss(model, scale_pixels(x[rows])[0], y[rows])
    np.testing.assert_allclose((loss, acc), expected, rtol=1e-9)


def test_fit_refuses_labels_or_weights_beside_a_stream(arrays):
    path, _, y = arrays
    stream = open_stream(path / "x.npy", path / "y.npy")
    model = architectures.logistic((8,), 3, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="holds its own labels; pass y=None"):
        fit(model, stream, y, optimizer=optim.Adam(), rng=np.random.default_rng(0), progress=False)
    with pytest.raises(TypeError, match="sample_weight is not supported"):
        fit(model, stream, optimizer=optim.Adam(), rng=np.random.default_rng(0), sample_weight=np.ones(1000))


def _peak_while_training(path, n, *, block_rows=512):
    """Peak traced allocation (bytes) of one epoch over ``n`` memory-mapped uint8 rows of 64 features."""
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(path / f"x{n}.npy", mode="w+", dtype=np.uint8, shape=(n, 64))
    for lo in range(0, n, 10_000):  # written in pieces: the test itself must not hold the data
        x[lo : lo + 10_000] = rng.integers(0, 256, (min(10_000, n - lo), 64), dtype=np.uint8)
    x.flush()
    del x
    y = np.lib.format.open_memmap(path / f"y{n}.npy", mode="w+", dtype=np.int64, shape=(n,))
    y[:] = np.arange(n) % 10
    y.flush()
    del y
    model = architectures.logistic((64,), 10, rng=np.random.default_rng(0))
    tracemalloc.start()
    try:
        stream = open_stream(path / f"x{n}.npy", path / f"y{n}.npy", block_rows=block_rows, buffer_blocks=4)
        train, val, _ = stream.split(val_fraction=0.05, test_fraction=0.05, rng=np.random.default_rng(0))
        fit(model, train, optimizer=optim.SGD(0.01), rng=rng, epochs=1, batch_size=256, x_val=val, progress=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_data_grow(tmp_path):
    # 200 000 rows are 12.8 MB of uint8 and 51 MB as float32; the buffer is 4 blocks of 512 rows (0.5 MB).
    _peak_while_training(tmp_path, 5_000)  # first imports and compiled kernels are not the data's
    small = _peak_while_training(tmp_path, 25_000)
    large = _peak_while_training(tmp_path, 200_000)
    assert large < 4 * 2**20, f"peak {large / 2**20:.1f} MiB for 200000 rows"
    assert large < 1.25 * small + 2**18, (
        f"peak grew from {small / 2**20:.2f} to {large / 2**20:.2f} MiB with 8x the rows"
    )


# ------------------------------------------------------------------------------------------ command line


@pytest.mark.parametrize("fmt", ["npy", "zarr"])
def test_train_streams_arrays_on_disk_and_records_their_source(arrays, fmt, capsys):
    path, _, _ = arrays
    out = path / f"model-{fmt}.skm"
    code = main(
        ["train", "--data", str(path / f"x.{fmt}"), "--labels", str(path / f"y.{fmt}"), "--model", "logistic",
         "--epochs", "3", "--lr", "0.05", "--seed", "4", "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    meta = nn.load(out).metadata
    source = meta["data_source"]
    assert source["kind"] == "arrays" and source["path"] == str((path / f"x.{fmt}").resolve())
    assert source["labels"] == str((path / f"y.{fmt}").resolve())
    assert source["fingerprint"]["x"] == fingerprint(path / f"x.{fmt}")
    assert source["split"] == {"seed": 4, "val_fraction": 0.1, "test_fraction": 0.1,
                               "rows": {"train": 800, "validation": 100, "test": 100}}  # fmt: skip
    assert source["block_rows"] == 50 and meta["recipe"]["batch_size"] == 64  # the .npz recipe
    assert meta["test_accuracy"] > 0.9
    # the recorded split gives back the test rows the model was scored on
    _, _, test = open_split(source)
    model = nn.load(out)
    assert evaluate_loss(model, test)[1] == pytest.approx(meta["test_accuracy"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs --labels"),
        (["--labels", "y.npy", "--target", "c"], "--target applies to image folders and tables"),
        (["--labels", "nothere.npy"], "no such .npy file or Zarr store"),
        (["--labels", "y.npy", "--model", "cnn"], "--model cnn takes images"),
    ],
)
def test_train_on_arrays_reports_mistakes_in_one_line(arrays, extra, message, capsys, monkeypatch):
    path, _, _ = arrays
    monkeypatch.chdir(path)
    assert main(["train", "--data", "x.npy", *extra, "--out", str(path / "m.skm"), "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_labels_apply_to_arrays_only(tmp_path, capsys):
    assert main(["train", "--data", "digits", "--labels", "y.npy", "--out", str(tmp_path / "m.skm")]) == 2
    assert "--labels applies to --data PATH.npy or PATH.zarr only" in capsys.readouterr().err
