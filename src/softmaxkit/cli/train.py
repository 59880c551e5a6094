"""``softmaxkit train``: train a classifier on a data set and save it, with curves and a test score."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from .._validation import HALF_OPEN_FRACTION, NON_NEGATIVE
from ._argtypes import any_int, argtype, layer_sizes, positive_float, positive_int
from ._common import CLIError, load_data, plots_dir

__all__ = ["register"]

_MODEL_KINDS = ("logistic", "mlp", "cnn")
_DEFAULT_LR = {"adam": 1e-3, "sgd": 0.05}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a classifier and save it")
    p.add_argument(
        "--data", default="digits", help="digits | mnist | fashion-mnist | cifar10 | PATH.npz (default digits)"
    )
    p.add_argument("--root", default=None, help="data directory (default $SOFTMAXKIT_DATA or ~/.cache/softmaxkit)")
    p.add_argument("--model", choices=_MODEL_KINDS, default="mlp")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: adam 1e-3, sgd 0.05)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    p.add_argument(
        "--hidden", type=layer_sizes, default=(256, 128), help="MLP hidden sizes, comma-separated (default 256,128)"
    )
    p.add_argument("--dropout", type=argtype(HALF_OPEN_FRACTION), default=0.0, help="dropout probability in [0, 1)")
    p.add_argument("--weight-decay", type=argtype(NON_NEGATIVE), default=0.0, help="L2 weight decay >= 0")
    p.add_argument("--patience", type=positive_int, default=5, help="early-stopping patience in epochs")
    p.add_argument(
        "--val-fraction",
        type=argtype(HALF_OPEN_FRACTION),
        default=0.1,
        help="share of the training set held out, in [0, 1) (default 0.1)",
    )
    p.add_argument("--seed", type=any_int, default=0)
    p.add_argument("--out", default="model.skm", help="where to save the model (default model.skm)")
    p.add_argument("--plots", default=None, help="directory for the PNG curves (default: beside --out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _build_model(args, input_shape, n_classes, rng):
    from ..nn import architectures

    if args.model == "logistic":
        return architectures.logistic(input_shape, n_classes, rng=rng)
    if args.model == "mlp":
        return architectures.mlp(input_shape, n_classes, hidden=args.hidden, dropout=args.dropout, rng=rng)
    return architectures.cnn(input_shape, n_classes, rng=rng)


def run(args) -> int:
    import numpy as np

    from .. import nn
    from ..datasets import train_val_split
    from ..plot import plot_training_curves, save_figure
    from ..train import evaluate_loss, fit

    data = load_data(args.data, args.root)
    out = Path(args.out)
    if out.is_dir():
        raise CLIError(f"--out {out} is a directory; give a file name such as {out / 'model.skm'}")
    rng = np.random.default_rng(args.seed)
    # The split takes the generator's first draws, so that `held_out_split` can recreate it from the seed.
    x_train, y_train, x_val, y_val = train_val_split(
        data.x_train, data.y_train, val_fraction=args.val_fraction, rng=rng
    )
    n_classes = len(data.class_names)
    model = _build_model(args, tuple(data.x_train.shape[1:]), n_classes, rng)
    model.class_names = list(data.class_names)
    model.metadata.update(
        {
            "dataset": data.name,
            "model": args.model,
            "train_args": {k: v for k, v in vars(args).items() if k != "func"},
        }
    )
    lr = args.lr if args.lr is not None else _DEFAULT_LR[args.optimizer]
    if args.optimizer == "adam":
        optimizer = nn.Adam(lr, weight_decay=args.weight_decay)
    else:
        optimizer = nn.SGD(lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    steps = args.epochs * math.ceil(len(y_train) / args.batch_size)
    schedule = nn.CosineSchedule(lr, steps) if args.schedule == "cosine" else None
    out.parent.mkdir(parents=True, exist_ok=True)

    print(
        f"training {args.model} on {data.name}: {len(y_train)} train / {len(y_val)} validation / "
        f"{len(data.y_test)} test images of shape {tuple(data.x_train.shape[1:])}, {n_classes} classes, "
        f"{model.n_params:,} parameters",
        file=sys.stderr,
    )

    def report(row):
        print(
            f"epoch {row['epoch']:>3}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}   "
            f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}   ({row['seconds']:.1f} s)",
            file=sys.stderr,
        )

    try:
        history = fit(
            model,
            x_train,
            y_train,
            optimizer=optimizer,
            rng=rng,
            epochs=args.epochs,
            batch_size=args.batch_size,
            x_val=x_val,
            y_val=y_val,
            patience=args.patience,
            schedule=schedule,
            checkpoint=out,
            progress=not args.no_progress,
            on_epoch_end=report,
        )
    except Exception as exc:
        saved = f"; the best model so far is saved at {out}" if out.exists() else ""
        raise CLIError(f"training failed: {exc}{saved}") from exc
    if not history.epochs:
        raise CLIError("interrupted before the first epoch finished; nothing was saved")
    test_loss, test_acc = evaluate_loss(model, data.x_test, data.y_test)
    has_test = len(data.y_test) > 0
    model.metadata.update(
        {
            "best_epoch": history.best_epoch,
            "history": history.to_dict(),
            "test_accuracy": test_acc if has_test else None,
            "test_nll": test_loss if has_test else None,
        }
    )
    nn.save(model, out)
    curves = save_figure(plot_training_curves(history), plots_dir(args, out) / f"{out.stem}.curves.png")
    if history.interrupted:
        print(f"interrupted: the best model so far (epoch {history.best_epoch}) is saved at {out}")
    elif history.stopped_early:
        print(f"stopped early after epoch {len(history.epochs)}; best epoch {history.best_epoch}")
    if has_test:
        print(f"test accuracy {test_acc:.2%}, test NLL {test_loss:.4f}")
    else:
        print(
            f"{data.name} has no test split; validation accuracy {history.epochs[history.best_epoch - 1]['val_accuracy']:.2%}"
        )
    print(f"model saved to {out}")
    print(f"training curves saved to {curves}")
    return 130 if history.interrupted else 0
