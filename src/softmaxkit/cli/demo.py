"""``softmaxkit demo`` (``make demo``): the seed example, a temperature sweep, and an MLP trained on the embedded digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..kernels import log_softmax, softmax
from ._common import output_dir
from ._format import format_top_k

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser("demo", help="show the kernels and train a model on the embedded digits")
    p.add_argument("--out", default="runs/demo", help="directory for the model and plots (default runs/demo)")
    p.set_defaults(func=run)


def show_kernels() -> None:
    logits = np.array([1.6, 3.1, 0.5])
    print("softmax of the seed logits")
    print(f"  logits                 {logits}")
    print(f"  softmax                {np.array2string(softmax(logits), precision=8)}")
    print(f"  log_softmax([1000, 1]) {log_softmax([1000.0, 1.0])}   (the naive formula gives nan)")
    print()
    print("temperature sweep: T -> 0 approaches argmax, T -> inf approaches uniform")
    for t in (0.25, 0.5, 1.0, 2.0, 5.0, 100.0):
        probs = softmax(logits, temperature=t)
        print(f"  T = {t:>6g}   " + "  ".join(f"{p:6.1%}" for p in probs))
    print()


def train_digits(out_dir: Path, *, seed: int = 0, epochs: int = 60) -> None:
    """Train a 64-256-128-10 MLP (dropout 0.2, Adam, cosine schedule) on scikit-learn's 8x8 digits and
    show what it predicts, before and after temperature scaling."""
    from .. import datasets
    from ..calibration import calibrate
    from ..metrics import calibration_error, nll
    from ..nn import architectures, optim, schedules
    from ..plot import plot_calibration_comparison, plot_training_curves, save_figure
    from ..train import evaluate_loss, fit, train_val_split

    data = datasets.load("digits")
    rng = np.random.default_rng(seed)
    x_train, y_train, x_val, y_val = train_val_split(data.x_train, data.y_train, val_fraction=0.1, rng=rng)
    model = architectures.mlp(data.x_train.shape[1:], len(data.class_names), hidden=(256, 128), dropout=0.2, rng=rng)
    model.class_names = list(data.class_names)
    model.metadata.update(
        {"dataset": data.name, "model": "mlp", "train_args": {"seed": seed, "val_fraction": 0.1, "epochs": epochs}}
    )
    batch_size, lr = 32, 1e-3
    steps = epochs * -(-len(y_train) // batch_size)
    optimizer = optim.Adam(lr)
    print(f"training an MLP ({model.n_params:,} parameters) on {len(y_train)} digits, {epochs} epochs ...")
    history = fit(
        model,
        x_train,
        y_train,
        optimizer=optimizer,
        rng=rng,
        epochs=epochs,
        batch_size=batch_size,
        x_val=x_val,
        y_val=y_val,
        patience=15,
        schedule=schedules.CosineSchedule(lr, steps),
        checkpoint=out_dir / "digits-mlp.skm",
        progress=False,
    )
    seconds = sum(row["seconds"] for row in history.epochs)
    test_loss, test_acc = evaluate_loss(model, data.x_test, data.y_test)
    print(f"  {len(history.epochs)} epochs in {seconds:.1f} s, best epoch {history.best_epoch}")
    print(f"  test accuracy {test_acc:.2%} on {len(data.y_test)} held-out digits, test NLL {test_loss:.4f}")
    print()

    raw = softmax(model.predict_logits(data.x_test).astype(np.float64))
    calibrated = calibrate(model, x_val, y_val, method="temperature")
    calibrated.save(out_dir / "digits-mlp.skm")
    probs = calibrated.predict_proba(data.x_test).astype(np.float64)
    y = data.y_test
    print(f"temperature scaling on the {len(y_val)} validation digits: T = {calibrated.calibrator.temperature_:.3f}")
    print(f"  {'':>14} {'ECE':>7} {'NLL':>8}")
    for name, p in (("uncalibrated", raw), ("calibrated", probs)):
        print(f"  {name:>14} {calibration_error(y, p):>7.2%} {nll(y, p):>8.4f}")
    print()

    print("what the network says about the first few test images (calibrated):")
    print(f"  {'image':>5}  {'true':>4}  top-3 probabilities")
    for i in range(8):
        print(f"  {i:>5}  {data.class_names[y[i]]:>4}  {format_top_k(probs[i], data.class_names, 3)}")
    print()
    threshold = 0.9
    answered = probs.max(axis=1) >= threshold
    print(
        f"answering only when at least {threshold:.0%} sure: {answered.mean():.1%} of the test digits answered, "
        f"{np.mean(probs[answered].argmax(1) == y[answered]):.2%} of those right "
        f"(all answered: {np.mean(probs.argmax(1) == y):.2%})"
    )
    print()
    curves = save_figure(plot_training_curves(history), out_dir / "digits-mlp.curves.png")
    reliability = save_figure(
        plot_calibration_comparison(y, raw, probs, names=("uncalibrated", "temperature-scaled")),
        out_dir / "digits-mlp.reliability.png",
    )
    print(f"model saved to {out_dir / 'digits-mlp.skm'}")
    print(f"plots saved to {curves} and {reliability}")
    print(f"next: softmaxkit evaluate {out_dir / 'digits-mlp.skm'} --data digits")
    print(f"      softmaxkit report {out_dir / 'digits-mlp.skm'} --out {out_dir / 'report'}")


def run(args=None) -> int:
    print("softmaxkit demo")
    print("===============")
    show_kernels()
    out_dir = output_dir(getattr(args, "out", None) or "runs/demo", "--out")
    train_digits(out_dir)
    return 0
