"""The ``softmaxkit softmax`` command: output format, options, and clean exits on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import softmaxkit as sk
from softmaxkit.cli import main


def test_prints_probabilities(capsys):
    assert main(["softmax", "1.6", "3.1", "0.5"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "0.17198205 0.77077009 0.05724785\n"
    assert captured.err == ""


@pytest.mark.parametrize("flag", ["--temperature", "-t"])
def test_temperature(capsys, flag):
    assert main(["softmax", "1.6", "3.1", "0.5", flag, "10"]) == 0
    expected = " ".join(f"{p:.8f}" for p in sk.softmax([1.6, 3.1, 0.5], temperature=10.0))
    assert capsys.readouterr().out == expected + "\n"


def test_negative_and_extreme_logits(capsys):
    assert main(["softmax", "-1", "1000", "-2500.5"]) == 0
    assert capsys.readouterr().out == "0.00000000 1.00000000 0.00000000\n"
    # argparse takes "-2.5e3" for an option; "--" ends the options as usual
    assert main(["softmax", "--", "-2.5e3", "-1e3"]) == 0
    assert capsys.readouterr().out == "0.00000000 1.00000000\n"
    assert main(["softmax", "7"]) == 0
    assert capsys.readouterr().out == "1.00000000\n"


def test_json_output(capsys):
    assert main(["softmax", "1.6", "3.1", "0.5", "--json", "--temperature", "2"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["logits"] == [1.6, 3.1, 0.5]
    assert payload["temperature"] == 2.0
    np.testing.assert_allclose(payload["probabilities"], sk.softmax([1.6, 3.1, 0.5], temperature=2.0), rtol=1e-15)
    assert sum(payload["probabilities"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["softmax", "1", "2", "--temperature", "0"], "must be a positive finite number, got '0'"),
        (["softmax", "1", "2", "--temperature", "-1"], "must be a positive finite number"),
        (["softmax", "1", "2", "--temperature", "nan"], "must be a positive finite number"),
        (["softmax", "1", "2", "--temperature", "inf"], "must be a positive finite number"),
        (["softmax", "1", "2", "--temperature", "hot"], "expected a number, got 'hot'"),
        (["softmax", "1", "two"], "expected a number, got 'two'"),
        (["softmax", "1", "nan"], "must be a finite number, got 'nan'"),
        (["softmax", "1", "inf"], "must be a finite number, got 'inf'"),
        (["softmax", "1", "1e400"], "must be a finite number"),
        (["softmax"], "the following arguments are required: logits"),
    ],
)
def test_bad_input_exits_2_with_clear_message(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "softmaxkit softmax: error:" in captured.err
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_python_dash_m_subprocess():
    ok = subprocess.run(
        [sys.executable, "-m", "softmaxkit", "softmax", "1.6", "3.1", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "0.17198205 0.77077009 0.05724785\n"
    bad = subprocess.run(
        [sys.executable, "-m", "softmaxkit", "softmax", "1", "--temperature", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "must be a positive finite number" in bad.stderr
    assert "Traceback" not in bad.stderr
