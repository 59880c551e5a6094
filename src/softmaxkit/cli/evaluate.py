"""``softmaxkit evaluate``: every score of a model on a test set, as text or JSON, with plots."""

from __future__ import annotations

import json
from pathlib import Path

from ._argtypes import closed_probability, open_probability, positive_int
from ._common import CLIError, check_input_shape, load_model, plots_dir
from ._format import format_matrix
from ._sources import evaluation_data, out_of_distribution_inputs

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, NLL, per-class accuracy and confusion matrix on a test set")
    p.add_argument("model")
    p.add_argument(
        "--data",
        default=None,
        help="data to test on (default: the data the model was trained on, as its file records, with the same split)",
    )
    p.add_argument("--root", default=None, help="data directory of the built-in data sets")
    p.add_argument("--target", default=None, metavar="COLUMN", help="tables: the label column (default: the model's)")
    p.add_argument("--strict", action="store_true", help="image folders: stop at an unreadable file")
    p.add_argument(
        "--ood",
        default=None,
        metavar="OTHER",
        help="also measure how the model treats inputs from none of its classes: a data set, image folder, table or .npz",
    )
    p.add_argument(
        "--reject-below",
        type=closed_probability,
        default=None,
        metavar="P",
        help="--ood: the rejection threshold (default: the one that keeps 95%% of the validation images)",
    )
    p.add_argument("--plots", default=None, help="directory for PNGs (default: beside the model)")
    p.add_argument(
        "--alpha",
        type=open_probability,
        default=0.1,
        help="conformal prediction sets with coverage >= 1 - ALPHA, fitted on the validation split (default 0.1)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    group = p.add_argument_group(
        "out of core (Dask)",
        "with --labels, --data is read lazily: a .npy file, a Zarr array or a folder of .npy files",
    )
    group.add_argument(
        "--labels", default=None, metavar="LABELS", help="the true classes of --data's rows (.npy or Zarr, integers)"
    )
    group.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler (default: local threads)")
    group.add_argument("--chunk-size", type=positive_int, default=None, metavar="N", help="rows per block")
    p.set_defaults(func=run)


#: Flags of the in-memory evaluation that out-of-core evaluation does not use.
_IN_MEMORY_ONLY = {
    "root": "--root",
    "target": "--target",
    "strict": "--strict",
    "ood": "--ood",
    "reject_below": "--reject-below",
    "plots": "--plots",
}


def run(args) -> int:
    import numpy as np

    if args.labels is not None:
        return _run_out_of_core(args)
    if args.scheduler is not None or args.chunk_size is not None:
        raise CLIError("--scheduler and --chunk-size apply to out-of-core evaluation: give --data and --labels")

    from ..evaluation import evaluate_model
    from ..plot import plot_accuracy_coverage, plot_confusion_matrix, save_figure

    plots = plots_dir(args, Path(args.model))
    model = load_model(args.model)
    data = evaluation_data(args, model)
    check_input_shape(model, data, data.name)
    ood_x, ood_name = out_of_distribution_inputs(args, model) if args.ood else (None, None)
    evaluation = evaluate_model(model, data, alpha=args.alpha)
    summary = evaluation.summary
    if ood_x is not None:
        summary["out_of_distribution"] = _out_of_distribution(args, model, data, evaluation, ood_x, ood_name)
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
    print(f"{data.name} test set: {summary['n']} samples (calibration: {summary['calibration']})")
    print(
        f"accuracy {summary['accuracy']:.2%}   NLL {summary['nll']:.4f}   ECE {summary['ece']:.2%}   "
        f"MCE {summary['mce']:.2%}   Brier {summary['brier']:.4f}"
    )
    print("accuracy-coverage (answer only the most confident inputs):")
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
    if ood_x is not None:
        _print_out_of_distribution(summary["out_of_distribution"])
    print(f"confusion matrix saved to {cm_path}")
    print(f"accuracy-coverage curve saved to {ac_path}")
    return 0


def _out_of_distribution(args, model, data, evaluation, x_out, name: str) -> dict:
    """The --ood report: the threshold from --reject-below, or the one keeping 95% of the validation rows."""
    import numpy as np

    from ..evaluation import held_out_split
    from ..selective import acceptance_threshold, out_of_distribution

    if args.reject_below is not None:
        threshold, chosen_on = args.reject_below, "--reject-below"
    else:
        x_val, y_val = held_out_split(model, data)
        if len(y_val):
            threshold = acceptance_threshold(model.predict_proba(x_val).astype(np.float64), accept=0.95)
            chosen_on = f"keeps 95% of the {len(y_val)} validation samples"
        else:
            threshold = acceptance_threshold(evaluation.probs, accept=0.95)
            chosen_on = "keeps 95% of the test samples (the model has no validation split)"
    probs_out = model.predict_proba(x_out).astype(np.float64)
    report = out_of_distribution(evaluation.probs, probs_out, reject_below=threshold)
    report.update({"data": name, "threshold_chosen": chosen_on})
    if len(probs_out):
        labels = probs_out.argmax(axis=1)
        names = evaluation.summary["class_names"]
        counts = np.bincount(labels[probs_out.max(axis=1) >= threshold], minlength=len(names))
        report["accepted_as"] = {names[k]: int(c) for k, c in enumerate(counts) if c}
    return report


def _print_out_of_distribution(report: dict) -> None:
    print(f"inputs from none of the classes ({report['data']}, {report['n_out']} samples):")
    print(
        f"  accepted at the reject threshold p >= {report['reject_below']:.3f} ({report['threshold_chosen']}): "
        f"{report['accepted']:.2%}   (known classes: {report['in_accepted']:.2%})"
    )
    print(f"  labelled with >= {report['confident_level']:.0%} confidence: {report['confident']:.2%}")
    print(f"  AUROC of the top probability as an in/out score: {report['auroc']:.4f}")
    if report.get("accepted_as"):
        shares = ", ".join(f"{name} {count}" for name, count in report["accepted_as"].items())
        print(f"  accepted as: {shares}")


def _run_out_of_core(args) -> int:
    """``--data X --labels Y``: the scores computed from Dask arrays, never holding the data in memory."""
    import numpy as np

    from .. import scoring

    given = [flag for key, flag in _IN_MEMORY_ONLY.items() if getattr(args, key) not in (None, False)]
    if given:
        raise CLIError(f"{', '.join(given)} cannot be used with --labels (out-of-core evaluation)")
    if args.data is None:
        raise CLIError("--labels needs --data: the inputs the labels belong to")
    model = load_model(args.model)
    try:
        inputs = scoring.open_inputs(args.data, model.input_shape, chunk_rows=args.chunk_size)
        labels = scoring.open_array(args.labels, what="--labels", ndim=1, kinds="iu")
        with scoring.connect(args.scheduler) as client:
            summary = scoring.evaluate_out_of_core(model, inputs, labels, client=client)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    summary.update({"data": str(args.data), "labels": str(args.labels)})
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{args.data}: {summary['n']} samples (calibration: {summary['calibration']}; out of core)")
    print(
        f"accuracy {summary['accuracy']:.2%}   NLL {summary['nll']:.4f}   ECE {summary['ece']:.2%}   "
        f"MCE {summary['mce']:.2%}   Brier {summary['brier']:.4f}"
    )
    print("per-class accuracy:")
    for name, acc in summary["per_class_accuracy"].items():
        print(f"  {name:>12}  {'-' if acc is None else f'{acc:.2%}'}")
    print("confusion matrix (rows: true, columns: predicted):")
    print(format_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]))
    return 0
