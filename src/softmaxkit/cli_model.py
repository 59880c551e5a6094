"""CLI commands around a trained model: ``train``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from ._argtypes import closed_probability, layer_sizes, open_probability, positive_float, positive_int
from .cli import CLIError

__all__ = ["register", "format_top_k"]

_MODEL_KINDS = ("logistic", "mlp", "cnn")
_DEFAULT_LR = {"adam": 1e-3, "sgd": 0.05}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a classifier and save it")
    p.add_argument("--data", default="digits", help="digits | mnist | fashion-mnist | cifar10 | PATH.npz (default digits)")
    p.add_argument("--root", default=None, help="data directory (default $SOFTMAXKIT_DATA or ~/.cache/softmaxkit)")
    p.add_argument("--model", choices=_MODEL_KINDS, default="mlp")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: adam 1e-3, sgd 0.05)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    p.add_argument("--hidden", type=layer_sizes, default=(256, 128), help="MLP hidden sizes, comma-separated (default 256,128)")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--patience", type=positive_int, default=5, help="early-stopping patience in epochs")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of the training set held out (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="model.skm", help="where to save the model (default model.skm)")
    p.add_argument("--plots", default=None, help="directory for the PNG curves (default: beside --out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="accuracy, NLL, per-class accuracy and confusion matrix on a test set")
    p.add_argument("model")
    p.add_argument("--data", default="digits")
    p.add_argument("--root", default=None)
    p.add_argument("--plots", default=None, help="directory for PNGs (default: beside the model)")
    p.add_argument("--alpha", type=open_probability, default=0.1,
                   help="conformal prediction sets with coverage >= 1 - ALPHA, fitted on the validation split (default 0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="class probabilities for images or a .npy batch")
    p.add_argument("model")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (PNG, JPEG, ...) or .npy batches")
    p.add_argument("--top", type=positive_int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto", help="invert grey images (default auto)")
    p.add_argument("--reject-below", type=closed_probability, default=None, metavar="P",
                   help="answer 'none of the above' when the top probability is below P")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_predict)


def _load_data(args):
    from . import datasets

    try:
        return datasets.load(args.data, root=args.root)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        raise CLIError(f"cannot load data {args.data!r}: {exc}") from None


def _load_model(path):
    from . import nn

    try:
        return nn.load(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such model file") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _plots_dir(args, anchor: Path) -> Path:
    return Path(args.plots) if args.plots else anchor.parent


def _build_model(args, input_shape, n_classes, rng):
    from .nn import architectures

    if args.model == "logistic":
        return architectures.logistic(input_shape, n_classes, rng=rng)
    if args.model == "mlp":
        return architectures.mlp(input_shape, n_classes, hidden=args.hidden, dropout=args.dropout, rng=rng)
    return architectures.cnn(input_shape, n_classes, rng=rng)


def _cmd_train(args) -> int:
    import numpy as np

    from .nn import optim
    from .plot import plot_training_curves, save_figure
    from .train import evaluate_loss, fit, train_val_split

    if not 0.0 <= args.val_fraction < 1.0:
        raise CLIError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if not 0.0 <= args.dropout < 1.0:
        raise CLIError(f"--dropout must be in [0, 1), got {args.dropout}")
    data = _load_data(args)
    out = Path(args.out)
    if out.is_dir():
        raise CLIError(f"--out {out} is a directory; give a file name such as {out / 'model.skm'}")
    rng = np.random.default_rng(args.seed)
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
        optimizer = optim.Adam(lr, weight_decay=args.weight_decay)
    else:
        optimizer = optim.SGD(lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    steps = args.epochs * math.ceil(len(y_train) / args.batch_size)
    schedule = optim.CosineSchedule(lr, steps) if args.schedule == "cosine" else None
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
            model, x_train, y_train, optimizer=optimizer, rng=rng, epochs=args.epochs,
            batch_size=args.batch_size, x_val=x_val, y_val=y_val, patience=args.patience,
            schedule=schedule, checkpoint=out, progress=not args.no_progress, on_epoch_end=report,
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
    model.save(out)
    curves = save_figure(plot_training_curves(history), _plots_dir(args, out) / f"{out.stem}.curves.png")
    if history.interrupted:
        print(f"interrupted: the best model so far (epoch {history.best_epoch}) is saved at {out}")
    elif history.stopped_early:
        print(f"stopped early after epoch {len(history.epochs)}; best epoch {history.best_epoch}")
    if has_test:
        print(f"test accuracy {test_acc:.2%}, test NLL {test_loss:.4f}")
    else:
        print(f"{data.name} has no test split; validation accuracy {history.epochs[history.best_epoch - 1]['val_accuracy']:.2%}")
    print(f"model saved to {out}")
    print(f"training curves saved to {curves}")
    return 130 if history.interrupted else 0


def _check_input_shape(model, data, args):
    if len(data.y_test) == 0:
        raise CLIError(f"{args.data} has no test split (x_test, y_test) to evaluate on")
    expected = tuple(model.input_shape) if model.input_shape is not None else None
    got = tuple(data.x_test.shape[1:])
    if expected is not None and expected != got:
        raise CLIError(f"the model takes inputs of shape {expected}, but {args.data} has {got}")
    if len(data.class_names) != len(model.class_names or data.class_names):
        raise CLIError(f"the model has {len(model.class_names)} classes, but {args.data} has {len(data.class_names)}")


def evaluation_summary(model, data) -> dict:
    """Accuracy, NLL and confusion matrix of ``model`` (its calibration applied) on the test split."""
    import numpy as np

    from .kernels import softmax
    from .metrics import accuracy, brier_score, calibration_error, confusion_matrix, nll

    logits = model.calibrated_logits(data.x_test).astype(np.float64)  # one pass over the test set
    probs = softmax(logits)
    y = np.asarray(data.y_test)
    k = probs.shape[1]
    cm = confusion_matrix(y, probs.argmax(axis=1), n_classes=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(cm) / cm.sum(axis=1)
    names = [str(c) for c in (model.class_names or range(k))]
    return {
        "n": int(len(y)),
        "accuracy": float(accuracy(y, probs)),
        "nll": float(nll(y, logits=logits)),
        "ece": float(calibration_error(probs, y, n_bins=15)),
        "mce": float(calibration_error(probs, y, n_bins=15, norm="max")),
        "brier": float(brier_score(y, probs)),
        "calibration": model.calibration.get("kind", "none") if model.is_calibrated else "none",
        "per_class_accuracy": {name: (None if np.isnan(a) else float(a)) for name, a in zip(names, per_class)},
        "confusion_matrix": cm.tolist(),
        "class_names": names,
        "probs": probs,
        "labels": y,
    }


def _cmd_evaluate(args) -> int:
    import numpy as np

    from .plot import plot_accuracy_coverage, plot_confusion_matrix, save_figure
    from .selective import accuracy_coverage_curve

    model = _load_model(args.model)
    data = _load_data(args)
    _check_input_shape(model, data, args)
    summary = evaluation_summary(model, data)
    plots = _plots_dir(args, Path(args.model))
    stem = Path(args.model).stem
    cm_path = save_figure(
        plot_confusion_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]),
        plots / f"{stem}.confusion.png",
    )
    curve = accuracy_coverage_curve(summary["probs"], summary["labels"])
    ac_path = save_figure(plot_accuracy_coverage(curve.coverage, curve.accuracy), plots / f"{stem}.accuracy_coverage.png")
    sets = _conformal_summary(model, data, summary, args.alpha)
    levels = (1.0, 0.99, 0.95, 0.9, 0.8, 0.5)
    result = {k: v for k, v in summary.items() if k not in ("probs", "labels")}
    result["accuracy_coverage"] = [
        {"coverage": c, "accuracy": curve.accuracy_at(c), "threshold": float(curve.threshold[_index_at(curve, c)])}
        for c in levels
    ]
    result["prediction_sets"] = sets
    result["confusion_matrix_png"] = str(cm_path)
    result["accuracy_coverage_png"] = str(ac_path)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{data.name} test set: {summary['n']} images (calibration: {summary['calibration']})")
    print(
        f"accuracy {summary['accuracy']:.2%}   NLL {summary['nll']:.4f}   ECE {summary['ece']:.2%}   "
        f"MCE {summary['mce']:.2%}   Brier {summary['brier']:.4f}"
    )
    print("accuracy-coverage (answer only the most confident images):")
    for row in result["accuracy_coverage"]:
        print(f"  answer {row['coverage']:>5.0%}: accuracy {row['accuracy']:.2%}  (reject below p = {row['threshold']:.3f})")
    for row in sets:
        print(
            f"prediction sets ({row['score']}, alpha {row['alpha']:g}, fitted on {row['calibration_rows']} validation "
            f"images): coverage {row['coverage']:.2%} (target >= {1 - row['alpha']:.0%}), "
            f"average size {row['average_size']:.2f}"
        )
    print("per-class accuracy:")
    for name, acc in summary["per_class_accuracy"].items():
        print(f"  {name:>12}  {'-' if acc is None else f'{acc:.2%}'}")
    print("confusion matrix (rows: true, columns: predicted):")
    print(format_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]))
    print(f"confusion matrix saved to {cm_path}")
    print(f"accuracy-coverage curve saved to {ac_path}")
    return 0


def _conformal_summary(model, data, summary, alpha: float) -> list:
    """Split-conformal sets (LAC and randomized APS) fitted on the validation split, measured on the test split."""
    from .cli_calibrate import validation_split
    from .conformal import SplitConformal, average_set_size, coverage

    x_val, y_val = validation_split(model, data)
    if len(y_val) == 0:
        return []
    val_probs = model.predict_proba(x_val).astype("float64")
    rows = []
    for score in ("lac", "aps"):
        # randomized APS (seeded, so the output is reproducible) gives far smaller sets than plain APS
        conformal = SplitConformal(score, randomized=score == "aps", random_state=0 if score == "aps" else None)
        conformal.fit(val_probs, y_val, alpha=alpha)
        sets = conformal.predict_sets(summary["probs"])
        rows.append(
            {
                "score": score,
                "alpha": alpha,
                "calibration_rows": int(len(y_val)),
                "coverage": float(coverage(sets, summary["labels"])),
                "average_size": float(average_set_size(sets)),
            }
        )
    return rows


def _index_at(curve, coverage: float) -> int:
    import numpy as np

    return min(int(np.searchsorted(curve.coverage, coverage - 1e-12)), len(curve.coverage) - 1)


def format_matrix(cm, names) -> str:
    """A confusion matrix as aligned text."""
    width = max(max(len(str(int(v))) for v in cm.flat), max(len(n) for n in names), 3)
    short = [n[:width] for n in names]
    head = " " * (width + 2) + " ".join(f"{n:>{width}}" for n in short)
    rows = [f"{n:>{width}}  " + " ".join(f"{int(v):>{width}}" for v in row) for n, row in zip(short, cm)]
    return "\n".join([head, *rows])


def format_top_k(probs_row, names, k: int) -> str:
    """``"77% class 2, 17% class 1, 6% class 3"``: the ``k`` most probable classes."""
    import numpy as np

    order = np.argsort(-probs_row, kind="stable")[:k]
    parts = []
    for i in order:
        name = str(names[i])
        label = f"class {name}" if name.isdigit() else name
        share = "<1%" if probs_row[i] < 0.005 else f"{probs_row[i]:.0%}"
        parts.append(f"{share} {label}")
    return ", ".join(parts)


def _cmd_predict(args) -> int:
    import numpy as np

    from .inputs import InputError, load_inputs

    model = _load_model(args.model)
    if model.input_shape is None:
        raise CLIError(f"{args.model}: the model file does not record its input shape")
    try:
        x, names = load_inputs(args.inputs, model.input_shape, invert=args.invert)
    except InputError as exc:
        raise CLIError(str(exc)) from None
    probs = model.predict_proba(x).astype(np.float64)
    classes = [str(c) for c in (model.class_names or range(probs.shape[1]))]
    k = min(args.top, probs.shape[1])
    rejected = probs.max(axis=1) < (args.reject_below or 0.0)
    if args.json:
        result = []
        for name, row, reject in zip(names, probs, rejected):
            order = np.argsort(-row, kind="stable")[:k]
            result.append(
                {
                    "input": name,
                    "prediction": None if reject else classes[int(order[0])],
                    "rejected": bool(reject),
                    "top": [{"class": classes[int(i)], "probability": float(row[i])} for i in order],
                }
            )
        print(json.dumps({"model": str(args.model), "predictions": result}))
        return 0
    for name, row, reject in zip(names, probs, rejected):
        verdict = f"none of the above (top probability below {args.reject_below:g}); " if reject else ""
        print(f"{name}: {verdict}{format_top_k(row, classes, k)}")
    return 0
