"""``softmaxkit calibrate``: fit a calibrator on the model's validation split and save it in the model file."""

from __future__ import annotations

import json

from ._common import CLIError, check_input_shape, load_model, output_dir, output_file
from ._sources import evaluation_data

__all__ = ["register"]

_METHODS = ("temperature", "vector", "matrix")


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="fit a calibrator on the validation split and save it in the model")
    p.add_argument("model")
    p.add_argument("--data", default=None, help="data set (default: the one the model was trained on)")
    p.add_argument("--root", default=None)
    p.add_argument("--method", choices=_METHODS, default="temperature", help="default temperature")
    p.add_argument("--out", default=None, help="where to save the calibrated model (default: overwrite MODEL)")
    p.add_argument("--plots", default=None, help="directory for the reliability diagram (default: beside the model)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    group = p.add_argument_group(
        "out of core (Dask)", "fit on the network's logits of held-out data, read lazily, instead of --data"
    )
    group.add_argument(
        "--logits", default=None, metavar="LOGITS", help="the network's logits, (n, n_classes) floats: .npy or Zarr"
    )
    group.add_argument("--labels", default=None, metavar="LABELS", help="their true classes (.npy or Zarr, integers)")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler (default: local threads)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    if args.logits is not None or args.labels is not None:
        return _run_out_of_core(args)
    if args.scheduler is not None:
        raise CLIError("--scheduler applies to fitting on --logits and --labels")

    from .. import nn
    from ..calibration import CalibratedModel, calibrate
    from ..evaluation import held_out_split, probability_scores
    from ..kernels import softmax
    from ..plot import plot_calibration_comparison, save_figure

    out = output_file(args.out or args.model, "--out")
    plots = output_dir(args.plots, "--plots") if args.plots else out.parent
    model = load_model(args.model)
    network = model.model if isinstance(model, CalibratedModel) else model
    data = evaluation_data(args, model)
    name = data.name
    check_input_shape(model, data, name)
    x_val, y_val = held_out_split(model, data)
    if len(y_val) == 0:
        raise CLIError("the model was trained without a validation split (--val-fraction 0); nothing to calibrate on")
    calibrated = calibrate(network, x_val, y_val, method=args.method)
    calibrator = calibrated.calibrator

    test_logits = network.predict_logits(data.x_test).astype(np.float64)
    y_test = np.asarray(data.y_test)
    before = softmax(test_logits)
    after = calibrator.predict_proba(test_logits)
    scores = {"before": probability_scores(y_test, before), "after": probability_scores(y_test, after)}

    _, extras = nn.read(args.model)  # keep the file's other sections (an estimator's state, say)
    calibrated.save(out, extras=extras)
    figure = save_figure(
        plot_calibration_comparison(y_test, before, after, names=("uncalibrated", f"{args.method} scaling")),
        plots / f"{out.stem}.reliability.png",
    )
    result = {
        "method": args.method,
        "calibration": calibrator.to_dict(),
        "validation_rows": len(y_val),
        "test": scores,
        "model": str(out),
        "reliability_png": str(figure),
    }
    if getattr(calibrator, "temperature_", None) is not None:
        result["temperature"] = float(calibrator.temperature_)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"fitted {args.method} scaling on {len(y_val)} validation images", end="")
    print(f" (T = {calibrator.temperature_:.3f})" if args.method == "temperature" else "")
    print(f"{data.name} test set ({len(y_test)} images):")
    print(f"  {'':>8} {'accuracy':>9} {'NLL':>8} {'ECE':>7} {'MCE':>7} {'Brier':>7}")
    for label in ("before", "after"):
        s = scores[label]
        print(
            f"  {label:>8} {s['accuracy']:>9.2%} {s['nll']:>8.4f} {s['ece']:>7.2%} {s['mce']:>7.2%} {s['brier']:>7.4f}"
        )
    print(f"calibrated model saved to {out}")
    print(f"reliability diagram saved to {figure}")
    return 0


def _run_out_of_core(args) -> int:
    """``--logits Z --labels Y``: the calibrator fitted on Dask arrays; the model file saved as without them."""
    from .. import nn, scoring
    from ..calibration import METHODS, CalibratedModel

    if args.logits is None or args.labels is None:
        raise CLIError("give both --logits and --labels (the network's logits of held-out rows and their classes)")
    given = [flag for key, flag in (("data", "--data"), ("root", "--root"), ("plots", "--plots")) if getattr(args, key)]
    if given:
        raise CLIError(
            f"{', '.join(given)} cannot be used with --logits (the calibrator is fitted on the logits given)"
        )
    out = output_file(args.out or args.model, "--out")
    model = load_model(args.model)
    network = model.model if isinstance(model, CalibratedModel) else model
    width = network.output_shape()[0] if network.input_shape is not None else None
    try:
        logits = scoring.open_array(args.logits, what="--logits", ndim=2, kinds="f")
        labels = scoring.open_array(args.labels, what="--labels", ndim=1, kinds="iu")
        if width is not None and logits.shape[1] != width:
            raise CLIError(f"--logits {args.logits}: {logits.shape[1]} columns, but the model has {width} classes")
        if labels.shape[0] != logits.shape[0]:
            raise CLIError(f"--logits has {logits.shape[0]} rows but --labels has {labels.shape[0]}")
        labels = labels.rechunk({0: logits.chunks[0]})
        with scoring.connect(args.scheduler) as client:
            del client  # the Client is Dask's default scheduler while it is open
            calibrator = METHODS[args.method]().fit(logits, labels)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    calibrated = CalibratedModel(network, calibrator)
    _, extras = nn.read(args.model)  # keep the file's other sections (an estimator's state, say)
    calibrated.save(out, extras=extras)
    rows = int(logits.shape[0])
    result = {
        "method": args.method,
        "calibration": calibrator.to_dict(),
        "rows": rows,
        "nll_before": float(calibrator.nll_before_),
        "nll_after": float(calibrator.nll_after_),
        "model": str(out),
    }
    if getattr(calibrator, "temperature_", None) is not None:
        result["temperature"] = float(calibrator.temperature_)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"fitted {args.method} scaling on {rows} rows of {args.logits}", end="")
    print(f" (T = {calibrator.temperature_:.3f})" if args.method == "temperature" else "")
    print(f"NLL on those rows: {result['nll_before']:.4f} before, {result['nll_after']:.4f} after")
    print(f"calibrated model saved to {out}")
    return 0
