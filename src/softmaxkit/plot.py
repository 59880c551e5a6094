"""Pictures of a classifier: training curves, confusion matrices, prediction grids, reliability diagrams.

Every plotting function takes ``ax=None`` (one Axes, or an array of them for multi-panel figures; a
new figure is made when omitted) and returns the axes it drew on. Figures are built with :class:`matplotlib.figure.Figure` directly, so nothing here touches
pyplot's global state or needs a display; :func:`save_figure` writes one atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._atomic import atomic_write
from ._text import printable
from ._validation import Integer, validate
from .metrics import calibration_error, reliability_curve

__all__ = [
    "new_axes",
    "save_figure",
    "plot_training_curves",
    "plot_confusion_matrix",
    "plot_accuracy_coverage",
    "plot_reliability_diagram",
    "plot_calibration_comparison",
    "plot_prediction_grid",
    "plot_multilabel_examples",
    "plot_neither",
]


def new_axes(ncols: int = 1, *, figsize=(6.0, 4.5)):
    """A fresh figure with ``ncols`` axes side by side (no pyplot involved)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(figsize[0] * ncols, figsize[1]), layout="constrained")
    axes = fig.subplots(1, ncols)
    return axes


def _axes(ax, **kwargs):
    return new_axes(**kwargs) if ax is None else ax


def save_figure(fig_or_ax, path, *, dpi: int = 110) -> Path:
    """Save a figure (or the figure of an axes) as PNG, atomically: temp file, then rename."""
    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    if isinstance(fig_or_ax, np.ndarray):
        fig = fig_or_ax.flat[0].figure
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=dpi)
    return path


def plot_training_curves(history, *, ax=None):
    """Loss and accuracy per epoch (training and validation), best epoch marked.

    Parameters
    ----------
    history : softmaxkit.train.History
    ax : sequence of two Axes, optional
        Where to draw loss and accuracy; a new 1x2 figure when omitted.

    Returns
    -------
    ndarray of Axes
    """
    axes = new_axes(2) if ax is None else ax
    epochs = history.column("epoch")
    ax_loss, ax_acc = axes[0], axes[1]
    ax_loss.plot(epochs, history.column("train_loss"), "o-", label="train")
    ax_acc.plot(epochs, history.column("train_accuracy"), "o-", label="train")
    if np.isfinite(history.column("val_loss")).any():
        ax_loss.plot(epochs, history.column("val_loss"), "s-", label="validation")
        ax_acc.plot(epochs, history.column("val_accuracy"), "s-", label="validation")
    for ax, title in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy")):
        if history.best_epoch:
            ax.axvline(history.best_epoch, color="grey", linestyle=":", label=f"best epoch ({history.best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return axes


def plot_confusion_matrix(matrix, class_names=None, *, normalize: bool = True, ax=None):
    """Heat map of a confusion matrix (rows: true class, columns: predicted class).

    With ``normalize`` each row is divided by its total, so the diagonal is per-class accuracy;
    the counts are written in the cells when there are at most 20 classes.
    """
    ax = _axes(ax, figsize=(6.0, 5.5))
    counts = np.asarray(matrix)
    k = counts.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        shown = counts / counts.sum(axis=1, keepdims=True) if normalize else counts
    image = ax.imshow(np.nan_to_num(shown), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    names = [printable(c, one_line=True) for c in (class_names if class_names is not None else range(k))]
    ax.set_xticks(
        range(k),
        names,
        rotation=45 if max(map(len, names)) > 2 else 0,
        ha="right" if max(map(len, names)) > 2 else "center",
    )
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else ""))
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    dark = np.nan_to_num(shown[i, j]) > (0.5 if normalize else shown.max() / 2)
                    ax.text(
                        j,
                        i,
                        str(int(counts[i, j])),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
    return ax


def plot_accuracy_coverage(coverage, accuracy, *, ax=None, label=None):
    """Accuracy of the accepted predictions against the fraction accepted (selective prediction)."""
    ax = _axes(ax)
    ax.plot(coverage, accuracy, "-", label=label)
    ax.set_xlabel("coverage (fraction of inputs answered)")
    ax.set_ylabel("accuracy on answered inputs")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("accuracy-coverage curve")
    if label:
        ax.legend()
    return ax


def plot_reliability_diagram(y_true, probs, *, n_bins: int = 15, title: str = "reliability", ax=None, hist_ax=None):
    """Reliability diagram: per-bin accuracy against confidence, with the gap to the diagonal shaded.

    A perfectly calibrated classifier sits on the diagonal (when it says 80%, it is right 80% of the
    time). Bars below the diagonal mean over-confidence. The expected calibration error (ECE) is shown
    in the title. When ``hist_ax`` is given, the histogram of confidences is drawn there.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    curve = reliability_curve(y_true, probs, n_bins=n_bins)
    edges = curve.edges
    width = np.diff(edges)
    filled = curve.count > 0
    acc = np.where(filled, curve.accuracy, 0.0)
    conf = np.where(filled, curve.confidence, 0.0)
    ax.bar(
        edges[:-1][filled],
        acc[filled],
        width=width[filled],
        align="edge",
        color="#4C72B0",
        edgecolor="white",
        label="accuracy",
    )
    ax.bar(
        edges[:-1][filled],
        np.abs(conf - acc)[filled],
        bottom=np.minimum(acc, conf)[filled],
        width=width[filled],
        align="edge",
        color="none",
        edgecolor="#C44E52",
        hatch="//",
        label="gap to confidence",
    )
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    ece = calibration_error(y_true, probs, n_bins=n_bins)
    mce = calibration_error(y_true, probs, n_bins=n_bins, norm="max")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}: ECE {ece:.2%}, MCE {mce:.2%}")
    ax.legend(loc="upper left")
    if hist_ax is not None:
        confidence = np.max(np.asarray(probs), axis=1)
        hist_ax.hist(confidence, bins=edges, color="#4C72B0")
        hist_ax.set_yscale("log")
        hist_ax.set_xlim(0, 1)
        hist_ax.set_xlabel("confidence")
        hist_ax.set_ylabel("images (log scale)")
    return ax


def plot_calibration_comparison(y_true, before, after, *, n_bins: int = 15, names=("before", "after"), ax=None):
    """Reliability diagrams with confidence histograms, before and after calibration, side by side.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    before, after : array_like of shape (n_samples, n_classes)
        Probabilities before and after calibration.
    n_bins : int, default 15
    names : (str, str)
        Titles of the two diagrams.
    ax : ndarray of Axes of shape (2, 2), optional
        Where to draw (diagrams on the top row, histograms below); a new figure when omitted.

    Returns
    -------
    ndarray of Axes of shape (2, 2)
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 7), layout="constrained")
        ax = fig.subplots(2, 2, height_ratios=(3, 1), sharex="col")
    axes = np.asarray(ax, dtype=object).reshape(2, 2)
    for column, (probs, name) in enumerate(zip((before, after), names)):
        plot_reliability_diagram(y_true, probs, n_bins=n_bins, title=name, ax=axes[0, column], hist_ax=axes[1, column])
    return axes


def plot_prediction_grid(
    images, probs, class_names, *, labels=None, n: int = 12, top: int = 3, ncols: int = 4, ax=None
):
    """A grid of images, each with a bar chart of its ``top`` most probable classes.

    Correct top predictions are drawn in blue, wrong ones in red (when ``labels`` are given).

    Parameters
    ----------
    images : ndarray of shape (n_images, channels, height, width)
    probs : ndarray of shape (n_images, n_classes)
    class_names : sequence of str
    labels : array_like of int, optional
        True classes, to colour wrong predictions.
    n : int, default 12
        How many images to draw (the first ``n``).
    top : int, default 3
        Classes per bar chart.
    ncols : int, default 4
        Images per row.
    ax : ndarray of Axes of shape (nrows, 2 * ncols), optional
        Where to draw (image, bars, image, bars, ...); a new figure when omitted.

    Returns
    -------
    ndarray of Axes of shape (nrows, 2 * ncols)
    """
    images = np.asarray(images)[:n]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[1] not in (1, 3)):
        raise ValueError(
            "plot_prediction_grid: images must have shape (n, channels, height, width) with 1 or 3 channels, "
            f"or (n, height, width), got {images.shape}"
        )
    probs = np.asarray(probs)[: len(images)]
    n = len(images)
    nrows = -(-n // ncols)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(3.2 * ncols, 1.7 * nrows), layout="constrained")
        ax = fig.subplots(nrows, 2 * ncols, width_ratios=[1, 1.4] * ncols, squeeze=False)
    axes = np.asarray(ax, dtype=object).reshape(nrows, 2 * ncols)
    for each in axes.flat:
        each.axis("off")
    names = [printable(c, one_line=True) for c in class_names]
    for i in range(n):
        row, col = divmod(i, ncols)
        ax_img, ax_bar = axes[row, 2 * col], axes[row, 2 * col + 1]
        image = images[i]
        if image.ndim == 3 and image.shape[0] in (1, 3):
            image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        ax_img.imshow(np.clip(image, 0, 1), cmap="gray" if image.ndim == 2 else None)
        if labels is not None:
            ax_img.set_title(f"true: {names[int(labels[i])]}", fontsize=8)
        order = np.argsort(-probs[i], kind="stable")[:top]
        correct = labels is not None and order[0] == labels[i]
        colors = ["#4C72B0" if (labels is None or correct) else "#C44E52"] + ["#999999"] * (len(order) - 1)
        ax_bar.axis("on")
        ax_bar.barh(range(len(order))[::-1], probs[i][order], color=colors)
        ax_bar.set_yticks(range(len(order))[::-1], [names[j] for j in order], fontsize=8)
        ax_bar.set_xlim(0, 1)
        ax_bar.tick_params(axis="x", labelsize=7)
        for spine in ("top", "right"):
            ax_bar.spines[spine].set_visible(False)
    return axes


def plot_multilabel_examples(
    x_pairs, Y, p_sigmoid, p_softmax, class_names, *, n: int = 6, ax=None, threshold: float = 0.5
):
    """Pair images above bar charts of both heads' per-class probabilities.

    Parameters
    ----------
    x_pairs : ndarray of shape (n_images, channels, height, width)
    Y : ndarray of shape (n_images, n_classes)
        True label sets (their classes' names are drawn in bold).
    p_sigmoid, p_softmax : ndarray of shape (n_images, n_classes)
    class_names : sequence of str
    n : int, default 6
        How many images to draw (chosen as in :func:`softmaxkit.multilabel.format_examples`).
    ax : ndarray of Axes of shape (2, n), optional
        Where to draw; a new figure (no pyplot) when omitted.
    threshold : float, default 0.5
        Drawn as a dashed line.

    Returns
    -------
    ndarray of Axes of shape (2, n)
    """
    fname = "plot_multilabel_examples"
    from .multilabel.pairs import describe_pair, pick_examples

    (n,) = validate(fname, {"n": Integer(1)}, n=n)
    Y = np.asarray(Y)
    idx = pick_examples(x_pairs, Y, min(n, len(Y)))
    n = len(idx)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2.6 * n, 4.2), layout="constrained")
        ax = fig.subplots(2, n, squeeze=False, height_ratios=[1, 1.3])
    ax = np.asarray(ax, dtype=object).reshape(2, -1)
    if ax.shape[1] < n:
        raise ValueError(f"{fname}: ax must hold 2 x {n} axes, got {ax.size}")
    k = np.arange(len(class_names))
    names = [printable(c, one_line=True) for c in class_names]
    for col, i in enumerate(idx):
        img = np.asarray(x_pairs[i])
        top, bottom = ax[0, col], ax[1, col]
        top.imshow(img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1), cmap="gray_r")
        top.set_axis_off()
        top.set_title(describe_pair(img, np.flatnonzero(Y[i]), names))
        bottom.bar(k - 0.2, p_sigmoid[i], width=0.4, label="sigmoid")
        bottom.bar(k + 0.2, p_softmax[i], width=0.4, label="softmax")
        bottom.axhline(threshold, color="grey", linestyle="--", linewidth=0.8)
        bottom.set_ylim(0, 1)
        bottom.set_xticks(k, names, fontsize=7)
        for tick, truth in zip(bottom.get_xticklabels(), Y[i]):
            tick.set_fontweight("bold" if truth else "normal")
    ax[1, 0].set_ylabel("probability")
    ax[1, 0].legend(fontsize=7, loc="upper right")
    return ax


def plot_neither(result, *, ax=None):
    """Grouped bars of :func:`softmaxkit.neither.neither_experiment`: dog/human accuracy, then the share of
    each set of other images called dog or human with confidence, one bar per model.

    Parameters
    ----------
    result : softmaxkit.neither.NeitherResult
    ax : Axes, optional
        Where to draw; a new figure (no pyplot) when omitted.

    Returns
    -------
    Axes
    """
    from .neither import MODEL_TITLES, MODELS

    ax = _axes(ax, figsize=(2.2 + 1.6 * (1 + len(result.sets)), 4.5))
    groups = ["dog/human test\naccuracy"]
    values = [[result.test[m].accuracy for m in MODELS]]
    for s in result.sets:
        name = printable(s.name, one_line=True) + (" *" if s.seen_by_three_class else "")
        groups.append(f"{name}\nconfidently forced")
        values.append([s.confidently_forced[m] for m in MODELS])
    values = np.asarray(values, dtype=float)
    x = np.arange(len(groups))
    width = 0.8 / len(MODELS)
    for j, m in enumerate(MODELS):
        bars = ax.bar(x + (j - (len(MODELS) - 1) / 2) * width, values[:, j], width=width, label=MODEL_TITLES[m])
        labels = [f"{v:.1%}" if i == 0 else f"{v:.0%}" for i, v in enumerate(values[:, j])]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=1)
    ax.axvline(0.5, color="grey", linewidth=0.8)
    ax.set_xticks(x, groups, fontsize=8)
    ax.set_ylim(0, 1.22)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("share of images")
    ax.set_title(
        f"dog = {result.dog}, human = {result.human} ({printable(result.data, one_line=True)}): "
        f"forced with p >= {result.confident:g}"
    )
    ax.legend(fontsize=8, loc="upper center", ncols=len(MODELS), frameon=False)
    if any(s.seen_by_three_class for s in result.sets):
        ax.annotate(
            "* the 3-class model trained on other images of these digits",
            (0, 0),
            xycoords="figure fraction",
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
            color="grey",
        )
    return ax
