"""CLI commands for honest probabilities: ``calibrate`` and ``report``."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from .cli import CLIError

__all__ = ["register", "validation_split"]

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
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("report", help="write every plot and a one-page HTML summary for a model")
    p.add_argument("model")
    p.add_argument("--data", default=None, help="data set (default: the one the model was trained on)")
    p.add_argument("--root", default=None)
    p.add_argument("--out", required=True, help="directory to write the report into")
    p.set_defaults(func=_cmd_report)


def _data_name(args, model) -> str:
    name = args.data or model.metadata.get("dataset")
    if not name:
        raise CLIError("the model does not record its data set; pass --data NAME")
    return name


def validation_split(model, data):
    """Recreate the validation split the model was trained with (seed and fraction in its metadata).

    Falls back to a seeded 10% stratified split of the training set when the model does not record
    how it was trained (then the calibration rows may have been seen in training).
    """
    import numpy as np

    from .train import train_val_split

    train_args = model.metadata.get("train_args", {})
    fraction = float(train_args.get("val_fraction") or 0.1)
    rng = np.random.default_rng(int(train_args.get("seed", 0)))
    _, _, x_val, y_val = train_val_split(data.x_train, data.y_train, val_fraction=fraction, rng=rng)
    return x_val, y_val


def _scores(probs, labels) -> dict:
    from .metrics import accuracy, brier_score, calibration_error, nll

    return {
        "accuracy": float(accuracy(labels, probs)),
        "nll": float(nll(labels, probs)),
        "ece": float(calibration_error(probs, labels, n_bins=15)),
        "mce": float(calibration_error(probs, labels, n_bins=15, norm="max")),
        "brier": float(brier_score(labels, probs)),
    }


def _cmd_calibrate(args) -> int:
    import numpy as np

    from . import calibration
    from .cli_model import _check_input_shape, _load_data, _load_model, _plots_dir
    from .kernels import softmax
    from .plot import plot_calibration_comparison, save_figure

    model = _load_model(args.model)
    args.data = _data_name(args, model)
    data = _load_data(args)
    _check_input_shape(model, data, args)
    x_val, y_val = validation_split(model, data)
    if len(y_val) == 0:
        raise CLIError("the model was trained without a validation split; nothing to calibrate on")
    calibrator = {"temperature": calibration.TemperatureScaling, "vector": calibration.VectorScaling,
                  "matrix": calibration.MatrixScaling}[args.method]()
    calibrator.fit(model.predict_logits(x_val).astype(np.float64), y_val)

    test_logits = model.predict_logits(data.x_test).astype(np.float64)
    y_test = np.asarray(data.y_test)
    before = softmax(test_logits)
    after = calibrator.predict_proba(test_logits)
    scores = {"before": _scores(before, y_test), "after": _scores(after, y_test)}

    model.set_calibration(calibrator)
    out = Path(args.out or args.model)
    model.save(out)
    plots = _plots_dir(args, out)
    figure = save_figure(
        plot_calibration_comparison(before, after, y_test, names=("uncalibrated", f"{args.method} scaling")),
        plots / f"{out.stem}.reliability.png",
    )
    result = {
        "method": args.method,
        "calibration": calibrator.to_dict(),
        "validation_rows": int(len(y_val)),
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
    for name in ("before", "after"):
        s = scores[name]
        print(f"  {name:>8} {s['accuracy']:>9.2%} {s['nll']:>8.4f} {s['ece']:>7.2%} {s['mce']:>7.2%} {s['brier']:>7.4f}")
    print(f"calibrated model saved to {out}")
    print(f"reliability diagram saved to {figure}")
    return 0


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>softmaxkit report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }} img {{ max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }}
figure {{ margin: 1.5em 0; }} figcaption {{ color: #555; }}
</style></head>
<body data-images-expected="{n_images}">
<h1>{title}</h1>
<p>{intro}</p>
<table><tr><th>{data_name} test set</th><th>accuracy</th><th>NLL</th><th>ECE</th><th>MCE</th><th>Brier</th></tr>
{rows}
</table>
{figures}
<script>
window.addEventListener("load", function () {{
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (im) {{ return im.complete && im.naturalWidth > 0; }}).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + images.length);
}});
</script>
</body></html>
"""


def _cmd_report(args) -> int:
    import numpy as np

    from .cli_model import _check_input_shape, _load_data, _load_model, evaluation_summary
    from .kernels import softmax
    from .plot import (
        plot_accuracy_coverage,
        plot_calibration_comparison,
        plot_confusion_matrix,
        plot_prediction_grid,
        plot_training_curves,
        save_figure,
    )
    from .selective import accuracy_coverage_curve
    from .train import History

    model = _load_model(args.model)
    args.data = _data_name(args, model)
    data = _load_data(args)
    _check_input_shape(model, data, args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)

    summary = evaluation_summary(model, data)
    y = summary["labels"]
    probs = summary["probs"]
    raw = softmax(model.predict_logits(data.x_test).astype(np.float64))
    calibrated = model.is_calibrated
    figures = []

    if calibrated:
        axes = plot_calibration_comparison(raw, probs, y, names=("uncalibrated", "calibrated"))
        caption = "Reliability before and after calibration: bars on the diagonal mean honest probabilities."
    else:
        axes = plot_calibration_comparison(raw, raw, y, names=("uncalibrated", "uncalibrated (run softmaxkit calibrate)"))
        caption = "Reliability of the uncalibrated model; run <code>softmaxkit calibrate</code> to fix over-confidence."
    figures.append((save_figure(axes, out / "reliability.png"), caption))
    figures.append((save_figure(plot_confusion_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]),
                                out / "confusion.png"), "Confusion matrix (rows: true class, columns: predicted)."))
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(y), size=min(12, len(y)), replace=False))
    figures.append((save_figure(plot_prediction_grid(data.x_test[pick], probs[pick], summary["class_names"], labels=y[pick]),
                                out / "predictions.png"), "Test images with their three most probable classes (red: wrong)."))
    curve = accuracy_coverage_curve(probs, y)
    figures.append((save_figure(plot_accuracy_coverage(curve.coverage, curve.accuracy), out / "accuracy_coverage.png"),
                    "Accuracy on the answered images when the least confident are rejected."))
    history = model.metadata.get("history")
    if history and history.get("epochs"):
        h = History(epochs=history["epochs"], best_epoch=history.get("best_epoch", 0))
        figures.append((save_figure(plot_training_curves(h), out / "training_curves.png"), "Training curves."))

    rows = [("uncalibrated", _scores(raw, y))]
    if calibrated:
        rows.append(("calibrated", _scores(probs, y)))
    row_html = "\n".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['accuracy']:.2%}</td><td>{s['nll']:.4f}</td>"
        f"<td>{s['ece']:.2%}</td><td>{s['mce']:.2%}</td><td>{s['brier']:.4f}</td></tr>"
        for name, s in rows
    )
    figure_html = "\n".join(
        f'<figure><img src="{_embed(path)}" alt="{html.escape(path.stem)}"><figcaption>{caption}</figcaption></figure>'
        for path, caption in figures
    )
    cal = model.calibration.get("kind", "none") if calibrated else "none"
    intro = (
        f"Model <code>{html.escape(str(args.model))}</code> ({model.n_params:,} parameters, "
        f"{len(summary['class_names'])} classes), evaluated on {len(y)} test images. Calibration: {html.escape(cal)}."
    )
    page = _PAGE.format(title=html.escape(Path(args.model).name), intro=intro, data_name=html.escape(data.name),
                        rows=row_html, figures=figure_html, n_images=len(figures))
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    print(f"report written to {index} ({len(figures)} figures, images embedded and beside it)")
    return 0
