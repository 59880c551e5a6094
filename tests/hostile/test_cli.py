"""The command line never prints a traceback for something a user can cause, and never prints raw control codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from softmaxkit import nn
from softmaxkit.cli import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny 3-class data set whose class names hold terminal control sequences, and a model of it."""
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = rng.random((120, 1, 8, 8), dtype=np.float32)
    names = np.array(["\x1b[2Jwiped", "bell\x07", "rtl\u202eevil"])
    root = tmp_path_factory.mktemp("cli")
    data = root / "tiny.npz"
    np.savez(data, x=x[:90], y=y[:90], x_test=x[90:], y_test=y[90:], class_names=names)
    model = root / "tiny.skm"
    assert (
        main(["train", "--data", str(data), "--hidden", "8", "--epochs", "1", "--out", str(model), "--no-progress"])
        == 0
    )
    return data, model


def one_error_line(capsys, status, expected_status=2):
    captured = capsys.readouterr()
    assert status == expected_status, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_negative_logits_are_logits(capsys):
    assert main(["softmax", "1e308", "-1e308"]) == 0
    assert capsys.readouterr().out.split() == ["1.00000000", "0.00000000"]
    assert main(["softmax", "-1.5", "-2e-3", "--temperature", "2"]) == 0
    assert main(["softmax", "1", "-inf"]) == 2  # argparse: "must be a finite number", not "unknown option"
    assert "must be a finite number" in capsys.readouterr().err


def test_text_from_files_is_printed_escaped(tiny, tmp_path, capsys):
    data, model = tiny
    np.save(tmp_path / "x.npy", np.load(data)["x_test"][:3])
    assert main(["predict", str(model), str(tmp_path / "x.npy")]) == 0
    assert main(["evaluate", str(model), "--data", str(data), "--plots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2Jwiped" in out and "\\u202eevil" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--seed", "-1"], "--seed: must be an integer >= 0"),
        (["train", "--weight-decay", "nan"], "--weight-decay: must be a finite number >= 0"),
        (["train", "--weight-decay", "-0.1"], "--weight-decay: must be a finite number >= 0"),
        (["train", "--hidden", "0"], "--hidden: needs at least one positive layer size"),
        (["multilabel", "--seed", "-3"], "--seed: must be an integer >= 0"),
    ],
)
def test_bad_flag_values_are_usage_errors(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tiny, tmp_path, capsys):
    data, model = tiny
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cases = [
        ["train", "--data", str(data), "--out", str(blocker / "m.skm")],
        ["train", "--data", str(data), "--out", str(tmp_path / "ok.skm"), "--plots", str(blocker / "plots")],
        ["train", "--data", str(data), "--out", str(tmp_path)],  # a directory
        ["evaluate", str(model), "--data", str(data), "--plots", str(blocker)],
        ["calibrate", str(model), "--data", str(data), "--out", str(blocker / "c.skm")],
        ["report", str(model), "--data", str(data), "--out", str(blocker)],
        ["multilabel", "--plot", str(blocker / "x.png")],
        ["demo", "--out", str(blocker / "demo")],
    ]
    for argv in cases:
        line = one_error_line(capsys, main(argv))
        assert str(blocker) in line or str(tmp_path) in line, line
    assert not (tmp_path / "ok.skm").exists()


def test_models_that_cannot_be_built_are_one_line(tiny, tmp_path, capsys):
    data, _ = tiny
    small = tmp_path / "small.npz"
    np.savez(small, x=np.zeros((12, 1, 2, 2), np.float32), y=np.arange(12) % 2)
    line = one_error_line(
        capsys, main(["train", "--data", str(small), "--model", "cnn", "--out", str(tmp_path / "c.skm")])
    )
    assert "cnn: input_shape must be" in line
    line = one_error_line(capsys, main(["train", "--data", str(data), "--hidden", "100000000,100000000"]))
    assert "--hidden" in line and "parameters" in line


def test_every_expected_failure_is_one_line_and_a_bug_says_so(monkeypatch, capsys, tiny):
    from softmaxkit.cli import evaluate

    failures = [
        (PermissionError(13, "Permission denied", "/root/x.skm"), "/root/x.skm: Permission denied"),
        (MemoryError(), "out of memory"),
        (RecursionError("maximum recursion depth exceeded"), "maximum recursion depth"),
        (ValueError("f: x must be positive"), "f: x must be positive"),
    ]
    for exc, words in failures:

        def fail(args, exc=exc):
            raise exc

        monkeypatch.setattr(evaluate, "run", fail)
        line = one_error_line(capsys, main(["evaluate", "m.skm"]))
        assert line.startswith("softmaxkit evaluate: error: ") and words in line, line

    def bug(args):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(evaluate, "run", bug)
    line = one_error_line(capsys, main(["evaluate", "m.skm"]), expected_status=1)
    assert "internal error (TypeError: unsupported operand)" in line and "--debug" in line
    with pytest.raises(TypeError):
        main(["--debug", "evaluate", "m.skm"])


def _train_in_child(tmp_path, data):
    """Start `softmaxkit train` in a child process and wait until its first epoch is saved."""
    out = tmp_path / "m.skm"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "softmaxkit",
            "train",
            "--data",
            str(data),
            "--hidden",
            "16",
            "--epochs",
            "100000",
            "--patience",
            "100000",
            "--out",
            str(out),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    for line in proc.stderr:  # the per-epoch lines go to stderr
        if line.startswith("epoch"):
            break
    for _ in range(200):  # the checkpoint of the first epoch is written right before its line is printed
        if out.exists():
            break
        time.sleep(0.05)
    return proc, out


@pytest.mark.parametrize("signals, status", [((signal.SIGTERM,), 143), ((signal.SIGINT, signal.SIGINT), 130)])
def test_sigterm_and_a_second_ctrl_c_still_say_where_the_model_is(tiny, tmp_path, signals, status):
    data, _ = tiny
    proc, out = _train_in_child(tmp_path, data)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, (stdout, stderr)
    assert f"saved at {out}" in stdout and "Traceback" not in stderr
    assert nn.load(out).metadata["dataset"].endswith("tiny.npz")
