"""The recipe table: one default per kind of data, flags override, README and --help show the same table."""

import re
from pathlib import Path

import pytest

from softmaxkit import datasets
from softmaxkit.recipes import DATA_KINDS, DEFAULT_MODEL, MODELS, RECIPES, data_kind, default_recipe, recipe_table


def test_every_kind_has_a_default_and_every_row_names_its_model():
    assert set(DATA_KINDS) == {"digits", "mnist", "fashion-mnist", "cifar10", "folder", "table", "npz"}
    for (_kind, model), recipe in RECIPES.items():
        assert recipe.model == model in MODELS
        assert recipe.epochs > 0 and recipe.batch_size > 0 and recipe.lr > 0 and 0 <= recipe.dropout < 1
    assert DEFAULT_MODEL["folder"] == "cnn" and DEFAULT_MODEL["table"] == "mlp" and DEFAULT_MODEL["digits"] == "mlp"


def test_builtin_names_are_kinds_of_data():
    for name in datasets.names():
        assert name in DATA_KINDS


def test_default_recipe_and_errors():
    assert default_recipe("mnist").model == "mlp"
    assert default_recipe("mnist", "cnn").epochs == 8
    with pytest.raises(ValueError, match="does not apply to CSV/Parquet table data"):
        default_recipe("table", "cnn")
    with pytest.raises(ValueError, match="unknown data kind"):
        default_recipe("imagenet")
    with pytest.raises(ValueError, match="no recipe"):
        data_kind({"kind": "builtin", "name": "imagenet"})


def test_replace_ignores_flags_not_given():
    recipe = default_recipe("digits").replace(epochs=3, lr=None)
    assert recipe.epochs == 3 and recipe.lr == default_recipe("digits").lr


def test_readme_lists_the_recipe_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert recipe_table() in readme


def test_train_help_shows_the_recipes(capsys):
    from softmaxkit.cli import main

    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| mnist \| cnn \| 8 \| 128 \| 0\.001 \|", out)
