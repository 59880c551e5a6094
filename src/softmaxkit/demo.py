"""``make demo``: the seed example, a temperature sweep, and an MLP trained on the embedded digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .kernels import log_softmax, softmax


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


def train_digits(out_dir: Path, *, seed: int = 0, epochs: int = 40) -> None:
    """Train a 64-256-128-10 MLP on scikit-learn's 8x8 digits and show what it predicts."""
    from . import datasets
    from .cli_model import format_top_k
    from .nn import architectures, optim
    from .plot import plot_training_curves, save_figure
    from .train import evaluate_loss, fit, train_val_split

    data = datasets.load("digits")
    rng = np.random.default_rng(seed)
    x_train, y_train, x_val, y_val = train_val_split(data.x_train, data.y_train, val_fraction=0.1, rng=rng)
    model = architectures.mlp(data.x_train.shape[1:], len(data.class_names), hidden=(256, 128), rng=rng)
    model.class_names = list(data.class_names)
    model.metadata.update({"dataset": data.name, "model": "mlp"})
    steps = epochs * -(-len(y_train) // 64)
    optimizer = optim.Adam(2e-3)
    print(f"training an MLP ({model.n_params:,} parameters) on {len(y_train)} digits, {epochs} epochs ...")
    history = fit(
        model, x_train, y_train, optimizer=optimizer, rng=rng, epochs=epochs, batch_size=64,
        x_val=x_val, y_val=y_val, patience=10, schedule=optim.CosineSchedule(2e-3, steps),
        checkpoint=out_dir / "digits-mlp.skm", progress=False,
    )
    seconds = sum(row["seconds"] for row in history.epochs)
    test_loss, test_acc = evaluate_loss(model, data.x_test, data.y_test)
    model.save(out_dir / "digits-mlp.skm")
    print(f"  {len(history.epochs)} epochs in {seconds:.1f} s, best epoch {history.best_epoch}")
    print(f"  test accuracy {test_acc:.2%} on {len(data.y_test)} held-out digits, test NLL {test_loss:.4f}")
    print()
    print("what the network says about the first few test images:")
    probs = model.predict_proba(data.x_test[:6])
    for i, row in enumerate(probs):
        truth = data.class_names[data.y_test[i]]
        print(f"  test image {i} (a {truth}): {format_top_k(row, data.class_names, 3)}")
    print()
    curves = save_figure(plot_training_curves(history), out_dir / "digits-mlp.curves.png")
    print(f"model saved to {out_dir / 'digits-mlp.skm'}")
    print(f"training curves saved to {curves}")
    print(f"try: softmaxkit evaluate {out_dir / 'digits-mlp.skm'} --data digits")


def run_demo(args=None) -> int:
    print("softmaxkit demo")
    print("===============")
    show_kernels()
    out_dir = Path(getattr(args, "out", None) or "runs/demo")
    out_dir.mkdir(parents=True, exist_ok=True)
    train_digits(out_dir)
    return 0
