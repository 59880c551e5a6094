"""`softmaxkit neither`: the table, the JSON, the bar chart and one-line errors (on the 8x8 digits)."""

import json

import pytest

from softmaxkit.cli import main

QUICK = ["--data", "digits", "--epochs", "20", "--hidden", "16", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def test_prints_the_table_and_saves_the_chart(tmp_path, capsys):
    assert main(["neither", *QUICK, "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dog = 3, human = 7, neither = 0,1,2,4,5 (digits)\n")
    assert "unseen digits 6,8,9" in out and "2-class+reject" in out
    assert "note: Fashion-MNIST left out" in out  # 8x8 digits
    png = tmp_path / "plots" / "neither.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"bar chart saved to {png}" in out


def test_json_parses_and_the_seed_fixes_every_number(tmp_path, capsys):
    argv = ["neither", *QUICK, "--json", "--dog", "1", "--human", "7", "--neither", "0,2", "--seed", "4"]
    assert main([*argv, "--plots", str(tmp_path)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["dog"], first["human"], first["neither"], first["seed"]) == (1, 7, [0, 2], 4)
    assert first["unseen"] == [3, 4, 5, 6, 8, 9] and first["plot"] == str(tmp_path / "neither.png")
    assert [s["name"] for s in first["sets"]] == ["neither digits 0,2", "unseen digits 3,4,5,6,8,9"]
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    for run in (first, second):
        run.pop("plot", None)
        run["settings"].pop("seconds")
    assert first == second


def test_fixed_threshold_and_all_neither(capsys):
    assert main(["neither", *QUICK, "--json", "--reject-below", "0.95", "--all-neither"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reject_below"] == 0.95 and out["settings"]["reject_below_fixed"] is True
    assert out["settings"]["balance"] is False


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--neither", "0,3"], "error: --neither 0,3 contains the --dog label 3"),
        (["--human", "5"], "error: --neither 0,1,2,4,5 contains the --human label 5"),
        (["--dog", "7"], "error: --dog and --human must differ, both are 7"),
        (["--neither", "0,0"], "error: --neither repeats a label: 0,0"),
        (["--data", "imagenet"], "error: cannot load data 'imagenet'"),
        (["--dog", "12"], "error: neither_experiment: dog must be a class label in [0, 9], got 12"),
        (["--neither", "a,b"], "--neither: expected comma-separated labels"),
        (["--coverage", "0"], "--coverage: must be a number in (0, 1]"),
        (["--epochs", "0"], "--epochs: must be a positive integer"),
    ],
)
def test_user_errors_are_one_line(argv, words, capsys):
    assert main(["neither", *QUICK, *argv]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err


def test_plots_must_be_writable(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["neither", *QUICK, "--plots", str(blocker)]) == 2
    assert "--plots" in capsys.readouterr().err
