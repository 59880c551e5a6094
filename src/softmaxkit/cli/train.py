"""``softmaxkit train``: train a classifier on a data set and save it, with curves and a test score."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

from .._validation import HALF_OPEN_FRACTION, NON_NEGATIVE
from ._argtypes import argtype, layer_sizes, non_negative_int, positive_float, positive_int
from ._common import CLIError, add_source_options, load_data, output_dir, output_file, source_options

__all__ = ["register"]

#: The learning rate when --optimizer changes the recipe's optimizer and --lr is not given.
_DEFAULT_LR = {"adam": 1e-3, "sgd": 0.05}
#: Share of the blocks of an array on disk held out for the test score (seeded, recorded in the model file).
_TEST_FRACTION = 0.1
#: The largest MLP `train` builds: 2**28 float32 weights are 1 GiB, about 4 GiB with their gradients
#: and Adam's two moments. A larger --hidden is almost surely a typo.
_MAX_PARAMS = 2**28

_EPILOG = """\
Every option left out comes from the data's default recipe (softmaxkit.recipes), the first row of
each kind of data being its default model; any flag overrides its field:

{table}

DATA is a built-in name, a folder of images with one subfolder per class (optionally train/ and
test/ subfolders), a .csv or .parquet table (--target names the label column), or a .npz file.
Without an explicit test split, a seeded stratified 20% of the data is the test set (--seed).

Data larger than memory: --data PATH.npy or PATH.zarr with --labels LABELS.npy or .zarr (the .npz
recipes). Training reads shuffled blocks of rows from disk; a seeded 10% of the blocks is the test
set and --val-fraction of them the validation set, both streamed too.
"""


def register(sub) -> None:
    import argparse

    from ..recipes import MODELS, recipe_table

    p = sub.add_parser(
        "train",
        help="train a classifier and save it",
        epilog=_EPILOG.format(table=recipe_table()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        default="digits",
        metavar="DATA",
        help="digits | mnist | fashion-mnist | cifar10 | image folder | table.csv/.parquet | PATH.npz | "
        "PATH.npy/.zarr with --labels (default digits)",
    )
    p.add_argument(
        "--labels",
        default=None,
        metavar="LABELS",
        help="with --data PATH.npy/.zarr: one integer label per row (.npy or .zarr); rows are streamed from disk",
    )
    p.add_argument("--root", default=None, help="data directory (default $SOFTMAXKIT_DATA or ~/.cache/softmaxkit)")
    p.add_argument("--model", choices=MODELS, default=None, help="default: the data's recipe (cnn for image folders)")
    p.add_argument("--epochs", type=positive_int, default=None)
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=None)
    p.add_argument("--schedule", choices=("cosine", "constant"), default=None)
    p.add_argument("--hidden", type=layer_sizes, default=None, help="MLP hidden sizes, comma-separated, e.g. 256,128")
    p.add_argument("--dropout", type=argtype(HALF_OPEN_FRACTION), default=None, help="dropout probability in [0, 1)")
    p.add_argument("--weight-decay", type=argtype(NON_NEGATIVE), default=None, help="L2 weight decay >= 0")
    p.add_argument("--patience", type=positive_int, default=None, help="early-stopping patience in epochs")
    p.add_argument(
        "--val-fraction",
        type=argtype(HALF_OPEN_FRACTION),
        default=None,
        help="share of the training part held out for early stopping, in [0, 1)",
    )
    add_source_options(p)
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--out", default="model.skm", help="where to save the model (default model.skm)")
    p.add_argument("--plots", default=None, help="directory for the PNG curves (default: beside --out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _build_model(recipe, input_shape, n_classes, rng, *, standardize_on=None):
    """The recipe's network; tables (``standardize_on``, the training rows) get a fitted Standardize first."""
    from ..nn import architectures

    if recipe.model == "logistic":
        model = architectures.logistic(input_shape, n_classes, rng=rng)
    elif recipe.model == "mlp":
        model = architectures.mlp(input_shape, n_classes, hidden=recipe.hidden, dropout=recipe.dropout, rng=rng)
    else:
        model = architectures.cnn(input_shape, n_classes, dropout=recipe.dropout, rng=rng)
    if standardize_on is None:
        return model
    # Tables: the standardisation fitted on the training rows is the network's first layer, so that the
    # model file carries it and every user of the model applies it.
    from ..nn import Sequential, Standardize

    layers = [Standardize.fit(standardize_on), *model.layers]
    standardized = Sequential(layers, input_shape=input_shape)
    standardized.metadata.update(model.metadata)
    return standardized


def _check_size(recipe, input_shape, n_classes) -> None:
    """Refuse an MLP too large to train before allocating it (see :data:`_MAX_PARAMS`)."""
    if recipe.model != "mlp":
        return
    widths = [math.prod(input_shape), *recipe.hidden, n_classes]
    n_params = sum(a * b + b for a, b in itertools.pairwise(widths))
    if n_params > _MAX_PARAMS:
        raise CLIError(
            f"--hidden {','.join(map(str, recipe.hidden))} gives an MLP of {n_params:,} parameters "
            f"({n_params * 4 / 2**30:.1f} GiB of weights); the limit is {_MAX_PARAMS:,}"
        )


class _Checkpoint:
    """Whether this run wrote ``path`` (a file left by an earlier run must not be reported as ours)."""

    def __init__(self, path: Path):
        self.path = path
        self._before = self._stamp()

    def _stamp(self):
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def written(self) -> bool:
        return self._stamp() not in (None, self._before)


def _stopped(checkpoint: _Checkpoint, stop_signal: str) -> int:
    """What an interrupted run says; a second Ctrl-C (or SIGTERM) still gets this answer."""
    if checkpoint.written():
        print(f"interrupted: the best model so far is saved at {checkpoint.path}")
    else:
        print("interrupted before the first epoch finished; nothing was saved")
    return 143 if stop_signal == "SIGTERM" else 130


def run(args) -> int:
    from ..exceptions import Terminated
    from ..train import fit

    out = output_file(args.out, "--out")  # checked before any work: a long run must not fail at its last step
    plots = output_dir(args.plots, "--plots") if args.plots else out.parent
    checkpoint = _Checkpoint(out)
    try:
        setup = _setup_arrays if _on_disk(args) else _setup
        model, name, split, test, optimizer, schedule, rng, recipe = setup(args)
        history = fit(
            model,
            split[0],
            split[1],
            optimizer=optimizer,
            rng=rng,
            epochs=recipe.epochs,
            batch_size=recipe.batch_size,
            x_val=split[2],
            y_val=split[3],
            patience=recipe.patience,
            schedule=schedule,
            checkpoint=out,
            progress=not args.no_progress,
            on_epoch_end=_report_epoch,
        )
        if not history.epochs:
            return _stopped(checkpoint, history.stop_signal)
        return _finish(args, model, name, test, history, out, plots)
    except KeyboardInterrupt as exc:  # before training, or a second Ctrl-C after the first stopped it
        return _stopped(checkpoint, "SIGTERM" if isinstance(exc, Terminated) else "SIGINT")
    except (ValueError, ArithmeticError, MemoryError, OSError) as exc:
        if not checkpoint.written():
            raise
        raise CLIError(f"training failed: {exc}; the best model so far is saved at {out}") from exc


def _setup(args):
    """Data, split, model, optimizer and schedule, in the order that makes runs reproducible from the seed."""
    import numpy as np

    from ..datasets import train_val_split
    from ..recipes import data_kind

    data = load_data(args.data, args.root, **source_options(args, for_training=True))
    recipe = _recipe(args, data_kind(data.source))
    input_shape, n_classes = tuple(data.x_train.shape[1:]), len(data.class_names)
    _check_model(args, recipe, input_shape, n_classes)
    rng = np.random.default_rng(args.seed)
    # The split takes the generator's first draws, so that `held_out_split` can recreate it from the seed.
    split = train_val_split(data.x_train, data.y_train, val_fraction=recipe.val_fraction, rng=rng)
    standardize_on = split[0] if data.preprocessing.get("kind") == "table" else None
    model = _build_model(recipe, input_shape, n_classes, rng, standardize_on=standardize_on)
    model.class_names = list(data.class_names)
    _record(args, model, recipe, data.name, data.source, data.preprocessing, data.skipped)
    optimizer, schedule = _optimizer(recipe, len(split[1]))
    _announce(recipe, data.name, model, input_shape, n_classes, (len(split[1]), len(split[3]), len(data.y_test)))
    return model, data.name, split, (data.x_test, data.y_test), optimizer, schedule, rng, recipe


def _on_disk(args) -> bool:
    """Whether ``--data`` names an array on disk to stream (``.npy``, ``.zarr``), which needs ``--labels``."""
    from ..datasets.streaming import STREAM_SUFFIXES

    if Path(args.data).suffix.lower() in STREAM_SUFFIXES:
        if args.labels is None:
            raise CLIError(f"--data {args.data} needs --labels LABELS.npy|.zarr: one integer label per row")
        return True
    if args.labels is not None:
        raise CLIError(f"--labels applies to --data PATH.npy or PATH.zarr only, not to --data {args.data}")
    return False


def _setup_arrays(args):
    """:func:`_setup` for arrays on disk: streams of whole blocks for training, validation and test."""
    import numpy as np

    from ..datasets.streaming import open_stream

    given = {"--image-size": args.image_size, "--strict": args.strict, "--target": args.target,
             "--one-hot": args.one_hot, "--test": args.test}  # fmt: skip
    wrong = [flag for flag, value in given.items() if value]
    if wrong:
        raise CLIError(f"{', '.join(wrong)} applies to image folders and tables, not to --data {args.data}")
    try:
        stream = open_stream(args.data, args.labels)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, ImportError) as exc:
        raise CLIError(f"cannot load data {args.data!r}: {exc}") from None
    recipe = _recipe(args, "npz")  # the recipes of user arrays
    input_shape, n_classes = stream.sample_shape, stream.n_classes
    if n_classes < 2:
        raise CLIError(f"{args.labels}: the labels hold {n_classes} class(es); a classifier needs at least two")
    _check_model(args, recipe, input_shape, n_classes)
    rng = np.random.default_rng(args.seed)
    # As in _setup, the split takes the generator's first draw, so that `open_split` recreates it from the seed.
    try:
        train, val, test = stream.split(val_fraction=recipe.val_fraction, test_fraction=_TEST_FRACTION, rng=rng)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    model = _build_model(recipe, input_shape, n_classes, rng)
    model.class_names = [str(k) for k in range(n_classes)]
    split = {"seed": args.seed, "val_fraction": recipe.val_fraction, "test_fraction": _TEST_FRACTION,
             "rows": {"train": len(train), "validation": len(val), "test": len(test)}}  # fmt: skip
    preprocessing = (
        {
            "kind": "image",
            "channels": input_shape[0],
            "size": list(input_shape[1:]),
            "resize": "stretch",
            "invert": "no",
        }
        if len(input_shape) == 3
        else {}
    )  # as softmaxkit.datasets.load records an .npz of images
    _record(args, model, recipe, stream.name, {**stream.source, "split": split}, preprocessing, ())
    optimizer, schedule = _optimizer(recipe, len(train))
    _announce(recipe, stream.name, model, input_shape, n_classes, (len(train), len(val), len(test)))
    return model, stream.name, (train, None, val, None), (test, None), optimizer, schedule, rng, recipe


def _check_model(args, recipe, input_shape, n_classes) -> None:
    if recipe.model == "cnn" and len(input_shape) != 3:
        raise CLIError(f"--model cnn takes images; {args.data} holds rows of {input_shape[0]} features")
    _check_size(recipe, input_shape, n_classes)


def _record(args, model, recipe, name, source, preprocessing, skipped) -> None:
    """What the model file says about its training: the data, its source and preprocessing, the resolved flags."""
    train_args = {k: v for k, v in vars(args).items() if k != "func"}
    train_args.update(recipe.to_dict())  # the resolved values, which `evaluate` reads (seed, val_fraction)
    model.metadata.update(
        {
            "dataset": name,
            "model": recipe.model,
            "recipe": recipe.to_dict(),
            "data_source": source,
            "preprocessing": preprocessing,
            "skipped_files": len(skipped),
            "skipped_examples": list(skipped[:10]),
            "train_args": train_args,
        }
    )


def _optimizer(recipe, n_train: int):
    from .. import nn

    if recipe.optimizer == "adam":
        optimizer = nn.Adam(recipe.lr, weight_decay=recipe.weight_decay)
    else:
        optimizer = nn.SGD(recipe.lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * math.ceil(n_train / recipe.batch_size)
    schedule = nn.CosineSchedule(recipe.lr, steps) if recipe.schedule == "cosine" else None
    return optimizer, schedule


def _announce(recipe, name, model, input_shape, n_classes, sizes) -> None:
    what = "images of shape" if len(input_shape) == 3 else "rows of features"
    print(
        f"training {recipe.model} on {name}: {sizes[0]} train / {sizes[1]} validation / "
        f"{sizes[2]} test {what} {input_shape}, {n_classes} classes, {model.n_params:,} parameters",
        file=sys.stderr,
    )
    print(f"recipe: {_describe(recipe)}", file=sys.stderr)


def _recipe(args, kind: str):
    """The default recipe of ``kind`` of data for the chosen model, with every flag given applied over it."""
    from ..recipes import default_recipe

    try:
        recipe = default_recipe(kind, args.model)
    except ValueError as exc:
        raise CLIError(str(exc).removeprefix("default_recipe: ")) from None
    changes = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "dropout": args.dropout,
        "patience": args.patience,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "hidden": args.hidden,
        "weight_decay": args.weight_decay,
        "val_fraction": args.val_fraction,
    }
    if args.optimizer is not None and args.optimizer != recipe.optimizer and args.lr is None:
        changes["lr"] = _DEFAULT_LR[args.optimizer]  # the recipe's rate is for its own optimizer
    return recipe.replace(**changes)


def _describe(recipe) -> str:
    hidden = f" {'-'.join(map(str, recipe.hidden))}" if recipe.model == "mlp" else ""
    return (
        f"{recipe.model}{hidden}, {recipe.epochs} epochs, batch {recipe.batch_size}, {recipe.optimizer} "
        f"lr {recipe.lr:g} ({recipe.schedule}), dropout {recipe.dropout:g}, weight decay {recipe.weight_decay:g}, "
        f"patience {recipe.patience}, validation {recipe.val_fraction:g}"
    )


def _report_epoch(row) -> None:
    print(
        f"epoch {row['epoch']:>3}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}   "
        f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}   ({row['seconds']:.1f} s)",
        file=sys.stderr,
    )


def _finish(args, model, name: str, test, history, out: Path, plots: Path) -> int:
    """Score on the test split (arrays, or a stream and None), save the model file and the curves, say what happened."""
    from .. import nn
    from ..plot import plot_training_curves, save_figure
    from ..train import evaluate_loss

    test_loss, test_acc = evaluate_loss(model, *test)
    has_test = len(test[0]) > 0
    model.metadata.update(
        {
            "best_epoch": history.best_epoch,
            "history": history.to_dict(),
            "test_accuracy": test_acc if has_test else None,
            "test_nll": test_loss if has_test else None,
        }
    )
    nn.save(model, out)
    curves = save_figure(plot_training_curves(history), plots / f"{out.stem}.curves.png")
    if history.interrupted:
        print(f"interrupted: the best model so far (epoch {history.best_epoch}) is saved at {out}")
    elif history.stopped_early:
        print(f"stopped early after epoch {len(history.epochs)}; best epoch {history.best_epoch}")
    if has_test:
        print(f"test accuracy {test_acc:.2%}, test NLL {test_loss:.4f}")
    else:
        best = history.epochs[history.best_epoch - 1]["val_accuracy"]
        print(f"{name} has no test split; validation accuracy {best:.2%}")
    print(f"model saved to {out}")
    print(f"training curves saved to {curves}")
    if history.interrupted:
        return 143 if history.stop_signal == "SIGTERM" else 130
    return 0
