"""A one-page HTML report of a trained classifier: scores before and after calibration, and every plot.

:func:`write_report` evaluates the model once (:func:`softmaxkit.evaluation.evaluate_model`), saves
the figures as PNG files beside the page and embeds them in it, so the page is self-contained. The
page is filled from the template ``templates/report.html`` (:class:`string.Template` placeholders).
"""

from __future__ import annotations

import base64
import html
from importlib import resources
from pathlib import Path
from string import Template
from typing import NamedTuple

import numpy as np

from ._atomic import atomic_write
from .calibration import CalibratedModel
from .evaluation import evaluate_model, probability_scores
from .plot import (
    plot_accuracy_coverage,
    plot_calibration_comparison,
    plot_confusion_matrix,
    plot_prediction_grid,
    plot_training_curves,
    save_figure,
)
from .train import History

__all__ = ["write_report", "ReportFiles"]


class ReportFiles(NamedTuple):
    """What :func:`write_report` wrote: the page and its figures."""

    index: Path
    figures: list


def _template() -> Template:
    return Template(resources.files("softmaxkit").joinpath("templates/report.html").read_text(encoding="utf-8"))


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _is_image(x) -> bool:
    """Whether samples of ``x`` are pictures: (C, H, W) with one or three channels, or (H, W)."""
    return (x.ndim == 4 and x.shape[1] in (1, 3)) or x.ndim == 3


def write_report(model, data, out, *, title: str = "model") -> ReportFiles:
    """Write ``out/index.html`` and its figures for ``model`` evaluated on ``data``'s test split.

    Parameters
    ----------
    model : softmaxkit.nn.Sequential or softmaxkit.calibration.CalibratedModel
    data : Dataset
    out : path-like
        Directory for the page and its PNG files (created if needed).
    title : str, default "model"
        Page title, e.g. the model file's name.

    Returns
    -------
    ReportFiles
        The page, ``out/index.html``, and the PNG files beside it.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = evaluate_model(model, data)
    y, probs, raw = result.labels, result.probs, result.uncalibrated_probs
    summary = result.summary
    calibrated = isinstance(model, CalibratedModel)
    figures = []
    if calibrated:
        axes = plot_calibration_comparison(y, raw, probs, names=("uncalibrated", "calibrated"))
        caption = "Reliability before and after calibration: bars on the diagonal mean honest probabilities."
    else:
        axes = plot_calibration_comparison(
            y, raw, raw, names=("uncalibrated", "uncalibrated (run softmaxkit calibrate)")
        )
        caption = "Reliability of the uncalibrated model; run <code>softmaxkit calibrate</code> to fix over-confidence."
    figures.append((save_figure(axes, out / "reliability.png"), caption))
    figures.append(
        (
            save_figure(
                plot_confusion_matrix(np.array(summary["confusion_matrix"]), summary["class_names"]),
                out / "confusion.png",
            ),
            "Confusion matrix (rows: true class, columns: predicted).",
        )
    )
    if _is_image(data.x_test):  # tabular features have no picture to show
        pick = np.sort(np.random.default_rng(0).choice(len(y), size=min(12, len(y)), replace=False))
        grid = plot_prediction_grid(data.x_test[pick], probs[pick], summary["class_names"], labels=y[pick])
        caption = "Test images with their three most probable classes (red: wrong)."
        figures.append((save_figure(grid, out / "predictions.png"), caption))
    figures.append(
        (
            save_figure(
                plot_accuracy_coverage(result.curve.coverage, result.curve.accuracy), out / "accuracy_coverage.png"
            ),
            "Accuracy on the answered images when the least confident are rejected.",
        )
    )
    history = model.metadata.get("history")
    if history and history.get("epochs"):
        h = History(epochs=history["epochs"], best_epoch=history.get("best_epoch", 0))
        figures.append((save_figure(plot_training_curves(h), out / "training_curves.png"), "Training curves."))

    rows = [("uncalibrated", probability_scores(y, raw))]
    if calibrated:
        rows.append(("calibrated", probability_scores(y, probs)))
    row_html = "\n".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['accuracy']:.2%}</td><td>{s['nll']:.4f}</td>"
        f"<td>{s['ece']:.2%}</td><td>{s['mce']:.2%}</td><td>{s['brier']:.4f}</td></tr>"
        for name, s in rows
    )
    figure_html = "\n".join(
        f'<figure><img src="{_embed(path)}" alt="{html.escape(path.stem)}"><figcaption>{caption}</figcaption></figure>'
        for path, caption in figures
    )
    intro = (
        f"Model <code>{html.escape(title)}</code> ({model.n_params:,} parameters, "
        f"{len(summary['class_names'])} classes), evaluated on {len(y)} test images. "
        f"Calibration: {html.escape(summary['calibration'])}."
    )
    page = _template().substitute(
        title=html.escape(title),
        intro=intro,
        data_name=html.escape(data.name),
        rows=row_html,
        figures=figure_html,
        n_images=len(figures),
    )
    index = out / "index.html"
    with atomic_write(index, "w", encoding="utf-8") as handle:
        handle.write(page)
    return ReportFiles(index, [path for path, _ in figures])
