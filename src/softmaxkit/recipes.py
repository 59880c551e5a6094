"""Default training recipes: the one table of what ``softmaxkit train`` does when no flag says otherwise.

Each kind of data (a built-in data set, or a kind of user data) has a default model and, for every
model, a recipe: epochs, batch size, learning rate, dropout, early-stopping patience and the rest. A
flag given to ``softmaxkit train`` overrides its field; the model file records the resolved recipe.
The README's accuracy table and ``softmaxkit train --help`` are printed from this table.

The measured recipes (digits, MNIST, Fashion-MNIST) are the ones ``benchmarks/bench_accuracy.py``
trains; the others are reasonable starting points that this machine cannot measure (CIFAR-10 is not
available offline) or that depend on the user's data (folders, tables, ``.npz`` files).

>>> recipe = default_recipe("digits")
>>> recipe.model, recipe.epochs, recipe.batch_size, recipe.lr
('mlp', 60, 32, 0.001)
>>> default_recipe("mnist", "cnn").epochs
8
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Recipe", "RECIPES", "DEFAULT_MODEL", "DATA_KINDS", "MODELS", "default_recipe", "data_kind", "recipe_table"]

MODELS = ("logistic", "mlp", "cnn")


@dataclass(frozen=True)
class Recipe:
    """How to train one model on one kind of data.

    Parameters
    ----------
    model : {"logistic", "mlp", "cnn"}
    epochs : int
        At most this many passes over the training part (early stopping may end sooner).
    batch_size : int
    lr : float
        Peak learning rate (the cosine schedule decays it to 0 over ``epochs``).
    dropout : float
        Dropout after each hidden layer of the MLP, before the output layer of the CNN.
    patience : int
        Epochs without a better validation loss before stopping.
    optimizer : {"adam", "sgd"}
    schedule : {"cosine", "constant"}
    hidden : tuple of int
        Hidden widths of the MLP.
    weight_decay : float
    val_fraction : float
        Share of the training part held out for early stopping (and later calibration).
    """

    model: str
    epochs: int
    batch_size: int
    lr: float
    dropout: float
    patience: int
    optimizer: str = "adam"
    schedule: str = "cosine"
    hidden: tuple[int, ...] = (256, 128)
    weight_decay: float = 0.0
    val_fraction: float = 0.1

    def replace(self, **changes) -> Recipe:
        """A copy with ``changes`` applied (``None`` values are ignored: flags not given)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        """The recipe as JSON-friendly values (what a model file records)."""
        values = dataclasses.asdict(self)
        values["hidden"] = list(self.hidden)
        return values


_R = Recipe
#: ``(data kind, model) -> Recipe``. A data kind's first row is its default (see :data:`DEFAULT_MODEL`).
RECIPES: dict[tuple[str, str], Recipe] = {
    ("digits", "mlp"): _R("mlp", epochs=60, batch_size=32, lr=1e-3, dropout=0.2, patience=15),
    ("digits", "logistic"): _R("logistic", epochs=100, batch_size=32, lr=1e-2, dropout=0.0, patience=15),
    ("digits", "cnn"): _R("cnn", epochs=40, batch_size=32, lr=1e-3, dropout=0.0, patience=10),
    ("mnist", "mlp"): _R("mlp", epochs=20, batch_size=128, lr=1e-3, dropout=0.2, patience=20),
    ("mnist", "logistic"): _R("logistic", epochs=20, batch_size=128, lr=3e-3, dropout=0.0, patience=5),
    ("mnist", "cnn"): _R("cnn", epochs=8, batch_size=128, lr=1e-3, dropout=0.0, patience=20),
    ("fashion-mnist", "mlp"): _R("mlp", epochs=30, batch_size=128, lr=1e-3, dropout=0.2, patience=30),
    ("fashion-mnist", "logistic"): _R("logistic", epochs=20, batch_size=128, lr=3e-3, dropout=0.0, patience=5),
    ("fashion-mnist", "cnn"): _R("cnn", epochs=10, batch_size=128, lr=1e-3, dropout=0.0, patience=20),
    ("cifar10", "cnn"): _R("cnn", epochs=30, batch_size=128, lr=1e-3, dropout=0.3, patience=6),
    ("cifar10", "mlp"): _R("mlp", epochs=30, batch_size=128, lr=1e-3, dropout=0.2, patience=6),
    ("cifar10", "logistic"): _R("logistic", epochs=20, batch_size=128, lr=1e-3, dropout=0.0, patience=5),
    ("folder", "cnn"): _R("cnn", epochs=30, batch_size=32, lr=1e-3, dropout=0.2, patience=8),
    ("folder", "mlp"): _R("mlp", epochs=50, batch_size=32, lr=1e-3, dropout=0.2, patience=10),
    ("folder", "logistic"): _R("logistic", epochs=50, batch_size=32, lr=3e-3, dropout=0.0, patience=10),
    ("table", "mlp"): _R("mlp", epochs=200, batch_size=32, lr=3e-3, dropout=0.1, patience=40, hidden=(64, 32)),
    ("table", "logistic"): _R("logistic", epochs=200, batch_size=32, lr=1e-2, dropout=0.0, patience=40),
    ("npz", "mlp"): _R("mlp", epochs=30, batch_size=64, lr=1e-3, dropout=0.2, patience=10),
    ("npz", "logistic"): _R("logistic", epochs=30, batch_size=64, lr=3e-3, dropout=0.0, patience=10),
    ("npz", "cnn"): _R("cnn", epochs=20, batch_size=64, lr=1e-3, dropout=0.0, patience=8),
}

#: The model each kind of data gets when ``--model`` is not given.
DEFAULT_MODEL: dict[str, str] = {}
for _kind, _model in RECIPES:
    DEFAULT_MODEL.setdefault(_kind, _model)
del _kind, _model

#: Every kind of data with a recipe, in the table's order.
DATA_KINDS = tuple(DEFAULT_MODEL)

_KIND_DESCRIPTIONS = {
    "digits": "digits",
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "cifar10": "cifar10",
    "folder": "image folder",
    "table": "CSV/Parquet table",
    "npz": ".npz arrays",
}


def data_kind(source: dict) -> str:
    """The recipe key of a :attr:`softmaxkit.datasets.Dataset.source` record.

    Examples
    --------
    >>> data_kind({"kind": "builtin", "name": "mnist"}), data_kind({"kind": "folder", "path": "/photos"})
    ('mnist', 'folder')
    """
    kind = source.get("kind") if isinstance(source, dict) else None
    if kind == "builtin":
        kind = source.get("name")
    if kind not in DEFAULT_MODEL:
        raise ValueError(f"data_kind: no recipe for the data source {source!r}")
    return kind


def default_recipe(kind: str, model: str | None = None) -> Recipe:
    """The recipe for ``model`` on data of ``kind`` (its default model when ``model`` is None).

    Raises
    ------
    ValueError
        An unknown kind, or a model that does not apply to it (a CNN on a table).
    """
    if kind not in DEFAULT_MODEL:
        raise ValueError(f"default_recipe: unknown data kind {kind!r}; expected one of {', '.join(DATA_KINDS)}")
    model = DEFAULT_MODEL[kind] if model is None else model
    try:
        return RECIPES[(kind, model)]
    except KeyError:
        choices = ", ".join(m for k, m in RECIPES if k == kind)
        raise ValueError(
            f"default_recipe: model {model!r} does not apply to {_KIND_DESCRIPTIONS[kind]} data; use one of {choices}"
        ) from None


def recipe_table(*, defaults_only: bool = False) -> str:
    """The recipes as a Markdown table (what the README and ``softmaxkit train --help`` show).

    Examples
    --------
    >>> print(recipe_table(defaults_only=True).splitlines()[2])
    | digits | mlp 256-128 | 60 | 32 | 0.001 | 0.2 | 15 |
    """
    lines = [
        "| data | model | epochs | batch | learning rate | dropout | patience |",
        "|---|---|---|---|---|---|---|",
    ]
    for (kind, model), r in RECIPES.items():
        if defaults_only and DEFAULT_MODEL[kind] != model:
            continue
        name = f"mlp {'-'.join(map(str, r.hidden))}" if model == "mlp" else model
        lines.append(
            f"| {_KIND_DESCRIPTIONS[kind]} | {name} | {r.epochs} | {r.batch_size} | {r.lr:g} | {r.dropout:g} | "
            f"{r.patience} |"
        )
    return "\n".join(lines)
