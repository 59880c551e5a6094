"""``softmaxkit train``: train a classifier on a data set and save it, with curves and a test score."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

from .._validation import HALF_OPEN_FRACTION, NON_NEGATIVE
from ._argtypes import argtype, layer_sizes, non_negative_int, positive_float, positive_int
from ._common import CLIError, load_data, output_dir, output_file

__all__ = ["register"]

_MODEL_KINDS = ("logistic", "mlp", "cnn")
_DEFAULT_LR = {"adam": 1e-3, "sgd": 0.05}
#: The largest MLP `train` builds: 2**28 float32 weights are 1 GiB, about 4 GiB with their gradients
#: and Adam's two moments. A larger --hidden is almost surely a typo.
_MAX_PARAMS = 2**28


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
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random choice (default 0)")
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


def _check_size(args, input_shape, n_classes) -> None:
    """Refuse an MLP too large to train before allocating it (see :data:`_MAX_PARAMS`)."""
    if args.model != "mlp":
        return
    widths = [math.prod(input_shape), *args.hidden, n_classes]
    n_params = sum(a * b + b for a, b in itertools.pairwise(widths))
    if n_params > _MAX_PARAMS:
        raise CLIError(
            f"--hidden {','.join(map(str, args.hidden))} gives an MLP of {n_params:,} parameters "
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
        model, data, split, optimizer, schedule, rng = _setup(args)
        history = fit(
            model,
            split[0],
            split[1],
            optimizer=optimizer,
            rng=rng,
            epochs=args.epochs,
            batch_size=args.batch_size,
            x_val=split[2],
            y_val=split[3],
            patience=args.patience,
            schedule=schedule,
            checkpoint=out,
            progress=not args.no_progress,
            on_epoch_end=_report_epoch,
        )
        if not history.epochs:
            return _stopped(checkpoint, history.stop_signal)
        return _finish(args, model, data, history, out, plots)
    except KeyboardInterrupt as exc:  # before training, or a second Ctrl-C after the first stopped it
        return _stopped(checkpoint, "SIGTERM" if isinstance(exc, Terminated) else "SIGINT")
    except (ValueError, ArithmeticError, MemoryError, OSError) as exc:
        if not checkpoint.written():
            raise
        raise CLIError(f"training failed: {exc}; the best model so far is saved at {out}") from exc


def _setup(args):
    """Data, split, model, optimizer and schedule, in the order that makes runs reproducible from the seed."""
    import numpy as np

    from .. import nn
    from ..datasets import train_val_split

    data = load_data(args.data, args.root)
    input_shape, n_classes = tuple(data.x_train.shape[1:]), len(data.class_names)
    _check_size(args, input_shape, n_classes)
    rng = np.random.default_rng(args.seed)
    # The split takes the generator's first draws, so that `held_out_split` can recreate it from the seed.
    split = train_val_split(data.x_train, data.y_train, val_fraction=args.val_fraction, rng=rng)
    model = _build_model(args, input_shape, n_classes, rng)
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
    steps = args.epochs * math.ceil(len(split[1]) / args.batch_size)
    schedule = nn.CosineSchedule(lr, steps) if args.schedule == "cosine" else None
    print(
        f"training {args.model} on {data.name}: {len(split[1])} train / {len(split[3])} validation / "
        f"{len(data.y_test)} test images of shape {input_shape}, {n_classes} classes, {model.n_params:,} parameters",
        file=sys.stderr,
    )
    return model, data, split, optimizer, schedule, rng


def _report_epoch(row) -> None:
    print(
        f"epoch {row['epoch']:>3}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}   "
        f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}   ({row['seconds']:.1f} s)",
        file=sys.stderr,
    )


def _finish(args, model, data, history, out: Path, plots: Path) -> int:
    """Score on the test split, save the final model file and the curves, say what happened."""
    from .. import nn
    from ..plot import plot_training_curves, save_figure
    from ..train import evaluate_loss

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
    curves = save_figure(plot_training_curves(history), plots / f"{out.stem}.curves.png")
    if history.interrupted:
        print(f"interrupted: the best model so far (epoch {history.best_epoch}) is saved at {out}")
    elif history.stopped_early:
        print(f"stopped early after epoch {len(history.epochs)}; best epoch {history.best_epoch}")
    if has_test:
        print(f"test accuracy {test_acc:.2%}, test NLL {test_loss:.4f}")
    else:
        best = history.epochs[history.best_epoch - 1]["val_accuracy"]
        print(f"{data.name} has no test split; validation accuracy {best:.2%}")
    print(f"model saved to {out}")
    print(f"training curves saved to {curves}")
    if history.interrupted:
        return 143 if history.stop_signal == "SIGTERM" else 130
    return 0
