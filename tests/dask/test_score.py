"""`softmaxkit score`: .npy, Zarr and folder inputs scored block by block into Zarr, equal to predict_proba in
memory; calibration applied; resuming after an interruption; a mismatching output refused; bad inputs as
one-line errors; a distributed cluster (the `cluster` fixture)."""

import time

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from softmaxkit import nn, scoring  # noqa: E402
from softmaxkit.calibration import CalibratedModel, VectorScaling, load_model  # noqa: E402
from softmaxkit.cli import main  # noqa: E402

SHAPE = (1, 6, 6)
N = 530  # with --chunk-size 128: four full blocks and a short one


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 3-class MLP, the same MLP with vector scaling (which may change the argmax), and uint8 inputs."""
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("score")
    net = nn.architectures.mlp(SHAPE, 3, hidden=(16,), rng=rng)
    net.class_names = ["cat", "dog", "eel"]
    net.save(root / "plain.skm")
    x = rng.integers(0, 256, (N, *SHAPE), dtype=np.uint8)
    logits = net.predict_logits(x[:200] / np.float32(255)).astype(np.float64)
    CalibratedModel(net, VectorScaling().fit(logits, rng.integers(0, 3, 200))).save(root / "calibrated.skm")
    np.save(root / "x.npy", x)
    return root, x


def expected(model_path, x):
    return load_model(model_path).predict_proba(x.astype(np.float32) / 255)


def score(*args):
    return main(["score", *map(str, args), "--no-progress"])


def read(out):
    group = zarr.open_group(str(out), mode="r")
    return group["probabilities"][:], group["labels"][:], dict(group.attrs), group


def check(out, model_path, x):
    probs, labels, attrs, group = read(out)
    want = expected(model_path, x)
    assert probs.dtype == np.float32 and probs.shape == want.shape
    np.testing.assert_allclose(probs, want, rtol=0, atol=1e-6)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, probs.argmax(axis=1))
    assert attrs["complete"] is True and group["blocks_done"][:].all()
    return attrs


@pytest.mark.parametrize("name", ["plain", "calibrated"])
def test_npy_input_equals_predict_proba_in_memory(files, tmp_path, name, capsys):
    root, x = files
    out = tmp_path / "out.zarr"
    assert score(root / f"{name}.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 0
    attrs = check(out, root / f"{name}.skm", x)
    assert attrs["class_names"] == ["cat", "dog", "eel"]
    assert attrs["chunk_rows"] == 128 and attrs["scaling"].startswith("uint8 pixel / 255")
    assert attrs["model"] == str(root / f"{name}.skm")
    if name == "calibrated":
        assert attrs["calibration"]["kind"] == "vector"
        plain = load_model(root / "plain.skm").predict_proba(x.astype(np.float32) / 255)
        assert not np.allclose(read(out)[0], plain, atol=1e-3)  # the calibration was applied
    else:
        assert attrs["calibration"] is None
    assert "scored 530 inputs in 5 blocks of 128 rows" in capsys.readouterr().out
    chunks = zarr.open_group(str(out), mode="r")["probabilities"].chunks
    assert chunks == (128, 3)  # one output chunk per input block


def test_default_chunk_size_is_about_32_mib_of_input():
    assert scoring.default_chunk_rows(784) * 784 <= scoring.BLOCK_BYTES
    assert scoring.default_chunk_rows(784) % 1024 == 0
    assert scoring.default_chunk_rows(10**9) == 1  # a row larger than a block: one row per block
    assert scoring.default_chunk_rows(36, multiple_of=500) % 500 == 0


def test_zarr_array_and_group_inputs(files, tmp_path, monkeypatch):
    root, x = files
    floats = x.astype(np.float32) / 255  # stored as floats: used as they are
    group = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    group.create_array("pixels", shape=floats.shape, chunks=(100, *SHAPE), dtype="float32")[:] = floats
    for source in (tmp_path / "in.zarr", tmp_path / "in.zarr" / "pixels"):
        out = tmp_path / f"out-{source.name}.zarr"
        assert score(root / "calibrated.skm", source, "--out", out, "--chunk-size", 150) == 0
        check(out, root / "calibrated.skm", x)
    monkeypatch.setattr(scoring, "BLOCK_BYTES", 250 * 36 * 4)  # 250 rows of float32
    inputs = scoring.open_inputs(tmp_path / "in.zarr", SHAPE)
    assert inputs.chunk_rows == 200  # the default block is whole Zarr chunks


def test_folder_of_npy_files_in_name_order(files, tmp_path):
    root, x = files
    folder = tmp_path / "parts"
    folder.mkdir()
    np.save(folder / "b.npy", x[100:350])
    np.save(folder / "a.npy", x[:100])
    np.save(folder / "c.npy", x[350:])
    (folder / "notes.txt").write_text("not an array")
    out = tmp_path / "out.zarr"
    assert score(root / "plain.skm", folder, "--out", out, "--chunk-size", 128) == 0  # blocks span files
    check(out, root / "plain.skm", x)


def test_flattened_rows_fit(files, tmp_path):
    root, x = files
    np.save(tmp_path / "flat.npy", x.reshape(N, -1))
    assert score(root / "plain.skm", tmp_path / "flat.npy", "--out", tmp_path / "o.zarr", "--chunk-size", 200) == 0
    check(tmp_path / "o.zarr", root / "plain.skm", x)


def test_resume_after_a_subset_of_blocks(files, tmp_path, monkeypatch, capsys):
    root, x = files
    model = load_model(root / "plain.skm")
    inputs = scoring.open_inputs(root / "x.npy", model.input_shape, chunk_rows=128)
    out = tmp_path / "out.zarr"
    first = scoring.score_to_zarr(model, inputs, out, only_blocks=[0, 3])
    assert (first.written, first.complete) == (2, False)
    assert scoring.finished_blocks(out) == (2, 5)
    assert zarr.open_group(str(out), mode="r").attrs["complete"] is False
    flagged = []
    real_mark = scoring._mark_done
    monkeypatch.setattr(scoring, "_mark_done", lambda done, block: (flagged.append(block), real_mark(done, block)))
    assert score(root / "plain.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 0
    assert sorted(flagged) == [1, 2, 4]  # only the missing blocks were scored
    assert "2 of them done by an earlier run" in capsys.readouterr().out
    check(out, root / "plain.skm", x)
    flagged.clear()
    assert score(root / "plain.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 0
    assert flagged == []  # nothing left to do


def test_a_block_interrupted_mid_write_is_not_claimed_and_is_redone(files, tmp_path, monkeypatch):
    """Block 2 writes wrong numbers, then fails before its flag (a crash mid-write): the rerun redoes it."""
    root, x = files
    model = load_model(root / "plain.skm")
    inputs = scoring.open_inputs(root / "x.npy", model.input_shape, chunk_rows=128)
    out = tmp_path / "out.zarr"
    real_apply, real_mark = scoring._apply, scoring._mark_done

    def garbage_for_block_2(raw, model, input_shape, source, start, method):
        values = real_apply(raw, model, input_shape, source, start, method)
        return np.full_like(values, 0.5) if start == 256 else values

    def crash_on_block_2(done, block):
        if block == 2:
            raise RuntimeError("power cut")
        real_mark(done, block)

    monkeypatch.setattr(scoring, "_apply", garbage_for_block_2)
    monkeypatch.setattr(scoring, "_mark_done", crash_on_block_2)
    with pytest.raises(RuntimeError, match="power cut"):
        scoring.score_to_zarr(model, inputs, out)
    done = zarr.open_group(str(out), mode="r")["blocks_done"][:]
    assert done[2] == 0
    assert (zarr.open_group(str(out), mode="r")["probabilities"][256:384] == 0.5).all()  # written, not claimed
    monkeypatch.undo()
    flagged = []
    monkeypatch.setattr(scoring, "_mark_done", lambda done, block: (flagged.append(block), real_mark(done, block)))
    result = scoring.score_to_zarr(model, inputs, out)  # (blocks running when block 2 failed may have finished since)
    assert result.complete and 2 in flagged and result.written == len(flagged) == 5 - result.done_before
    check(out, root / "plain.skm", x)


def test_ctrl_c_says_what_was_kept_and_the_rerun_finishes(files, tmp_path, monkeypatch, capsys):
    root, x = files
    out = tmp_path / "out.zarr"
    real_mark = scoring._mark_done

    def interrupt_on_block_1(done, block):
        if block == 1:
            raise KeyboardInterrupt
        real_mark(done, block)

    monkeypatch.setattr(scoring, "_mark_done", interrupt_on_block_1)
    assert score(root / "plain.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 130
    err = capsys.readouterr().err
    assert "blocks are saved in" in err and "rerun the same command" in err and "interrupted" in err
    assert zarr.open_group(str(out), mode="r")["blocks_done"][1] == 0
    monkeypatch.undo()
    assert score(root / "plain.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 0
    check(out, root / "plain.skm", x)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("softmaxkit score: error: ")
    return err


def test_an_output_of_other_work_is_refused_unless_overwrite(files, tmp_path, capsys):
    root, x = files
    out = tmp_path / "out.zarr"
    assert score(root / "plain.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 0
    capsys.readouterr()
    assert score(root / "calibrated.skm", root / "x.npy", "--out", out, "--chunk-size", 128) == 2
    err = one_line_error(capsys)
    assert "another model" in err and "--overwrite" in err
    assert score(root / "plain.skm", root / "x.npy", "--out", out, "--chunk-size", 64) == 2
    assert "another chunk size (128 rows per block, now 64)" in one_line_error(capsys)
    np.save(tmp_path / "x2.npy", x)
    assert score(root / "plain.skm", tmp_path / "x2.npy", "--out", out, "--chunk-size", 128) == 2
    assert "another input" in one_line_error(capsys)
    assert score(root / "calibrated.skm", root / "x.npy", "--out", out, "--chunk-size", 128, "--overwrite") == 0
    check(out, root / "calibrated.skm", x)


def test_an_input_changed_since_is_refused(files, tmp_path, capsys):
    root, x = files
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.zarr"
    assert score(root / "plain.skm", tmp_path / "x.npy", "--out", out) == 0
    np.save(tmp_path / "x.npy", x[::-1])
    capsys.readouterr()
    assert score(root / "plain.skm", tmp_path / "x.npy", "--out", out) == 2
    assert "an input that has changed since" in one_line_error(capsys)


def test_out_that_is_another_folder_is_left_alone(files, tmp_path, capsys):
    root, _ = files
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    assert score(root / "plain.skm", root / "x.npy", "--out", tmp_path / "mine", "--overwrite") == 2
    assert "not a Zarr group" in one_line_error(capsys)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: np.save(d / "bad.npy", np.zeros((4, 1, 5, 5), np.uint8)),
            "does not fit the model's input (1, 6, 6)",
        ),
        (
            lambda d: np.save(d / "bad.npy", np.zeros((4, 1, 6, 6), np.int32)),
            "pixels of dtype int32 have no known range",
        ),
        (lambda d: np.save(d / "bad.npy", np.zeros((0, 1, 6, 6), np.uint8)), "holds no rows"),
        (lambda d: None, "no such file"),
        (lambda d: (d / "bad.npy").write_bytes(b"\x93NUMPY garbage"), "not a readable .npy array"),
        (lambda d: np.save(d / "bad.npy", np.full((4, 1, 6, 6), np.nan, np.float32)), "must be finite"),
        (lambda d: np.save(d / "bad.npy", np.array(["a", "b"])), "pixels must be real numbers"),
    ],
    ids=["shape", "dtype", "empty", "missing", "not-npy", "nan", "strings"],
)
def test_bad_inputs_are_one_line_errors(files, tmp_path, capsys, make, message):
    root, _ = files
    make(tmp_path)
    assert score(root / "plain.skm", tmp_path / "bad.npy", "--out", tmp_path / "o.zarr") == 2
    assert message in one_line_error(capsys)


def test_truncated_npy_is_refused_before_any_work(files, tmp_path, capsys):
    root, x = files
    np.save(tmp_path / "x.npy", x)
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:-100])
    assert score(root / "plain.skm", tmp_path / "x.npy", "--out", tmp_path / "o.zarr") == 2
    assert "not a readable .npy array" in one_line_error(capsys)
    assert not (tmp_path / "o.zarr").exists()
    (tmp_path / "x.npy").write_bytes(data + b"extra")
    assert score(root / "plain.skm", tmp_path / "x.npy", "--out", tmp_path / "o.zarr") == 2
    assert "trailing bytes" in one_line_error(capsys)


def test_zarr_group_of_several_arrays_is_refused(files, tmp_path, capsys):
    root, _ = files
    group = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    group.create_array("a", shape=(4, 36), dtype="uint8")
    group.create_array("b", shape=(4, 36), dtype="uint8")
    assert score(root / "plain.skm", tmp_path / "in.zarr", "--out", tmp_path / "o.zarr") == 2
    assert "holding 2 arrays (a, b)" in one_line_error(capsys)


def test_folder_of_npy_files_that_differ_is_refused(files, tmp_path, capsys):
    root, x = files
    np.save(tmp_path / "a.npy", x[:10])
    np.save(tmp_path / "b.npy", x[10:20].astype(np.float32))
    assert score(root / "plain.skm", tmp_path, "--out", tmp_path / "o.zarr") == 2
    assert "the .npy files differ" in one_line_error(capsys)


def test_unreachable_scheduler_is_a_quick_one_line_error(files, tmp_path, monkeypatch, capsys):
    root, _ = files
    monkeypatch.setattr(scoring, "CONNECT_TIMEOUT", 1.0)
    start = time.perf_counter()
    status = score(root / "plain.skm", root / "x.npy", "--out", tmp_path / "o.zarr", "--scheduler", "tcp://127.0.0.1:9")
    assert status == 2 and time.perf_counter() - start < 10
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:9 within 1 s" in one_line_error(capsys)


def test_on_a_distributed_cluster(files, tmp_path, cluster):
    root, x = files
    out = tmp_path / "out.zarr"
    address = cluster.scheduler.address
    assert (
        score(root / "calibrated.skm", root / "x.npy", "--out", out, "--chunk-size", 128, "--scheduler", address) == 0
    )
    check(out, root / "calibrated.skm", x)
    model = load_model(root / "calibrated.skm")
    inputs = scoring.open_inputs(root / "x.npy", model.input_shape, chunk_rows=100)
    with scoring.connect(address) as client:  # resuming on the cluster
        first = scoring.score_to_zarr(model, inputs, tmp_path / "o2.zarr", client=client, only_blocks=[1, 4])
        rest = scoring.score_to_zarr(model, inputs, tmp_path / "o2.zarr", client=client)
    assert (first.written, rest.done_before, rest.written, rest.complete) == (2, 2, 4, True)
    check(tmp_path / "o2.zarr", root / "calibrated.skm", x)
