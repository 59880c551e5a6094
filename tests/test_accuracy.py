"""Accuracy bars: digits in the default suite (seconds); MNIST and Fashion-MNIST are `slow` (minutes).

Run the slow ones with ``make test-slow`` after ``softmaxkit data fetch mnist`` / ``fashion-mnist``;
they skip when the data is missing. ``benchmarks/bench_accuracy.py`` prints the same recipes as a table.
"""

import sys
from pathlib import Path

import pytest

from softmaxkit import datasets, nn
from softmaxkit.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_accuracy import RECIPES


def _train(name, tmp_path):
    bar, cli_args = next((bar, args) for recipe, bar, args in RECIPES if recipe == name)
    data_name = cli_args.split()[1]
    try:
        datasets.load(data_name)
    except FileNotFoundError:
        pytest.skip(f"{data_name} is not available (softmaxkit data fetch {data_name})")
    path = tmp_path / "model.skm"
    assert main(["train", *cli_args.split(), "--seed", "0", "--out", str(path), "--no-progress"]) == 0
    return nn.load(path).metadata["test_accuracy"], bar


def test_digits_mlp_reaches_97_percent(tmp_path):
    accuracy, bar = _train("digits mlp", tmp_path)
    assert accuracy >= bar


@pytest.mark.slow
@pytest.mark.parametrize("name", [r[0] for r in RECIPES if not r[0].startswith("digits")])
def test_standard_recipes_reach_their_bars(name, tmp_path):
    accuracy, bar = _train(name, tmp_path)
    assert accuracy >= bar
