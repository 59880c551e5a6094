"""Plotting functions draw on a given axes (ax=None makes one) and save atomically."""

import os

import numpy as np
import pytest

from softmaxkit import plot
from softmaxkit._atomic import atomic_write
from softmaxkit.train import History


@pytest.fixture
def probs_and_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(300, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, rng.integers(0, 4, 300)


def test_each_plot_draws_on_given_or_new_axes(probs_and_labels, tmp_path):
    probs, labels = probs_and_labels
    ax = plot.new_axes()
    assert plot.plot_reliability_diagram(labels, probs, ax=ax) is ax
    assert "ECE" in ax.get_title()
    assert plot.plot_confusion_matrix(np.eye(4, dtype=int) * 5, ["a", "b", "c", "d"]) is not None
    assert plot.plot_accuracy_coverage(np.linspace(0.1, 1, 10), np.linspace(1, 0.8, 10)) is not None
    history = History(
        epochs=[
            {
                "epoch": e,
                "train_loss": 1 / e,
                "train_accuracy": 0.5,
                "val_loss": 1.2 / e,
                "val_accuracy": 0.4,
                "lr": 0.1,
                "seconds": 1.0,
            }
            for e in (1, 2, 3)
        ],
        best_epoch=3,
    )
    axes = plot.plot_training_curves(history)
    images = np.random.default_rng(1).random((5, 1, 8, 8))
    grid = plot.plot_prediction_grid(images, probs[:5], ["a", "b", "c", "d"], labels=labels[:5])
    both = plot.plot_calibration_comparison(labels, probs, probs)
    for i, figure in enumerate((axes, grid, both)):
        path = plot.save_figure(figure, tmp_path / f"f{i}.png")
        assert path.read_bytes()[:4] == b"\x89PNG"
        assert os.stat(path).st_mode & 0o044  # readable by others, unlike mkstemp's default


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "model.skm"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"half-written")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.skm"]
