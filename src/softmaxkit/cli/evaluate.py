"""``softmaxkit evaluate``: every score of a model on a test set, as text or JSON, with plots."""

from __future__ import annotations

import json
from pathlib import Path

from ._argtypes import open_probability
from ._common import check_input_shape, load_data, load_model, plots_dir
from ._format import format_matrix

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, NLL, per-class accuracy and confusion matrix on a test set")
    p.add_argument("model")
    p.add_argument("--data", default="digits")
    p.add_argument("--root", default=None)
    p.add_argument("--plots", default=None, help="directory for PNGs (default: beside the model)")
    p.add_argument(
        "--alpha",
        type=open_probability,
        default=0.1,
        help="conformal prediction sets with coverage >= 1 - ALPHA, fitted on the validation split (default 0.1)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..evaluation import evaluate_model
    from ..plot import plot_accuracy_coverage, plot_confusion_matrix, save_figure

    plots = plots_dir(args, Path(args.model))
    model = load_model(args.model)
    data = load_data(args.data, args.root)
    check_input_shape(model, data, args.data)
    evaluation = evaluate_model(model, data, alpha=args.alpha)
    summary = evaluation.summary
    stem = Path(args.model).stem
    cm_path = save_figure(
        plot_confusion_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]),
        plots / f"{stem}.confusion.png",
    )
    curve = evaluation.curve
    ac_path = save_figure(
        plot_accuracy_coverage(curve.coverage, curve.accuracy), plots / f"{stem}.accuracy_coverage.png"
    )
    result = evaluation.to_dict()
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
    for row in summary["accuracy_coverage"]:
        print(
            f"  answer {row['coverage']:>5.0%}: accuracy {row['accuracy']:.2%}  (reject below p = {row['threshold']:.3f})"
        )
    for row in summary["prediction_sets"]:
        print(
            f"prediction sets ({row['score']}, alpha {row['alpha']:g}, fitted on {row['calibration_rows']} validation "
            f"images): coverage {row['coverage']:.2%} (target >= {1 - row['alpha']:.0%}), "
            f"average size {row['average_size']:.2f}"
        )
    if not summary["prediction_sets"]:
        print("prediction sets: none (the model was trained without a validation split to fit them on)")
    print("per-class accuracy:")
    for name, acc in summary["per_class_accuracy"].items():
        print(f"  {name:>12}  {'-' if acc is None else f'{acc:.2%}'}")
    print("confusion matrix (rows: true, columns: predicted):")
    print(format_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]))
    print(f"confusion matrix saved to {cm_path}")
    print(f"accuracy-coverage curve saved to {ac_path}")
    return 0
