"""Training and inference speed: softmaxkit's network against PyTorch CPU, side by side.

Same architectures, batch size, optimizer, thread count and data for both libraries. Every
measurement runs in a fresh process (the two libraries' thread pools never share the cores), the
libraries alternate (ours, torch, ours, torch, ...), and each table gives the median and the spread
(min-max) over the repeats. Uses MNIST when it is available (``softmaxkit data fetch mnist``),
random MNIST-shaped data otherwise (timing does not depend on the pixel values).

Rows:

* ``step``: the bare training step (forward, cross-entropy, backward, update) on shuffled batches of
  128, for the MLP 784-256-128-10 (SGD with momentum 0.9, and Adam) and the CNN
  32c3-ReLU-pool-64c3-ReLU-pool-128-10 (SGD with momentum 0.9);
* ``epoch``: one whole epoch of :func:`softmaxkit.train.fit` with ``softmaxkit train``'s MNIST MLP
  recipe (Adam, dropout 0.2, batches of 128, shuffling, a validation pass over 10% held out), against
  the same loop written in PyTorch;
* ``predict``: ``predict_proba`` throughput (samples/s) at batch 1 and batch 1024, against PyTorch
  under ``torch.inference_mode()`` with a softmax;
* ``cold predict``: the wall time of ``softmaxkit predict MODEL one.png`` from a cold process (Python
  start-up included).

    python benchmarks/bench_train.py                  # everything
    python benchmarks/bench_train.py --only step      # one group: step, epoch, predict, cold
    python benchmarks/bench_train.py --threads 1       # both libraries on one thread
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from machine import cpu_model

BATCH = 128


def mnist_or_random(rng):
    try:
        from softmaxkit import datasets

        data = datasets.load("mnist")
        return data.x_train, data.y_train, data.x_test, "MNIST"
    except Exception:
        x = rng.random((60000, 1, 28, 28), dtype=np.float32)
        return x, rng.integers(0, 10, 60000), rng.random((10000, 1, 28, 28), dtype=np.float32), "random data"


# ---------------------------------------------------------------------------- softmaxkit
def ours_model(kind, *, dropout=0.0):
    from softmaxkit.nn import architectures

    build = architectures.mlp if kind == "mlp" else architectures.cnn
    kwargs = {"dropout": dropout} if kind == "mlp" else {}
    return build((1, 28, 28), 10, rng=np.random.default_rng(0), **kwargs)


def ours_optimizer(name):
    from softmaxkit.nn import optim

    return optim.SGD(0.05, momentum=0.9) if name == "sgd" else optim.Adam(1e-3)


def ours_steps(kind, opt_name, x, y, steps, rng):
    from softmaxkit import cross_entropy_and_grad

    model, opt = ours_model(kind), ours_optimizer(opt_name)
    order = rng.permutation(len(y))

    def run(n):
        for s in range(n):
            idx = order[s * BATCH : (s + 1) * BATCH]
            logits = model.forward(x[idx], training=True)
            _, grad = cross_entropy_and_grad(logits, y[idx])
            model.backward(grad)
            opt.step(model)

    run(3)  # warm-up: compilation, allocation
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps


def ours_epoch(x, y, rng):
    from softmaxkit import train
    from softmaxkit.nn import optim

    n_val = len(y) // 10
    model = ours_model("mlp", dropout=0.2)
    args = {"x_val": x[:n_val], "y_val": y[:n_val], "rng": rng, "progress": False, "batch_size": BATCH}
    train.fit(model, x[n_val : n_val + 1024], y[n_val : n_val + 1024], optimizer=optim.Adam(1e-3), epochs=1, **args)
    start = time.perf_counter()
    train.fit(model, x[n_val:], y[n_val:], optimizer=optim.Adam(1e-3), epochs=1, **args)
    return time.perf_counter() - start


def ours_predict(kind, x, batch):
    model = ours_model(kind)
    return _throughput(lambda xb: model.predict_proba(xb, batch_size=1024), x, batch)


# ---------------------------------------------------------------------------- PyTorch
def torch_model(kind, *, dropout=0.0):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def torch_optimizer(name, model):
    import torch

    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=1e-3)


def torch_steps(kind, opt_name, x, y, steps, rng):
    import torch

    model = torch_model(kind)
    opt = torch_optimizer(opt_name, model)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    order = torch.from_numpy(rng.permutation(len(y)))

    def run(n):
        for s in range(n):
            idx = order[s * BATCH : (s + 1) * BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()

    run(3)
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps


def torch_epoch(x, y, rng):
    import torch

    n_val = len(y) // 10
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    x_val, y_val, x_tr, y_tr = xt[:n_val], yt[:n_val], xt[n_val:], yt[n_val:]
    model = torch_model("mlp", dropout=0.2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(n):
        model.train()
        order = torch.from_numpy(rng.permutation(n))
        for s in range(0, n, BATCH):
            idx = order[s : s + BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        model.eval()
        with torch.inference_mode():
            total = sum(
                float(loss_fn(model(x_val[i : i + 1024]), y_val[i : i + 1024])) * len(y_val[i : i + 1024])
                for i in range(0, n_val, 1024)
            )
        return total / n_val

    epoch(1024)
    start = time.perf_counter()
    epoch(len(y_tr))
    return time.perf_counter() - start


def torch_predict(kind, x, batch):
    import torch

    model = torch_model(kind).eval()

    def predict(xb):
        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(xb)), dim=-1).numpy()

    return _throughput(predict, x, batch)


def _throughput(predict, x, batch) -> float:
    """Samples per second of ``predict`` on batches of ``batch`` rows (at least 0.5 s of work)."""
    n = 200 if batch == 1 else 10 * batch
    batches = [x[i : i + batch] for i in range(0, n, batch)]
    for xb in batches[:3]:
        predict(xb)
    start = time.perf_counter()
    done = 0
    while done < n or time.perf_counter() - start < 0.5:
        for xb in batches:
            predict(xb)
        done += n
    return done / (time.perf_counter() - start)


# ---------------------------------------------------------------------------- drivers
def _child(args) -> None:
    method, group, *rest = args._one
    if method == "torch":
        import torch

        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x, y, x_test, _ = mnist_or_random(rng)
    if group == "step":
        kind, opt_name, steps = rest
        run = ours_steps if method == "ours" else torch_steps
        print(run(kind, opt_name, x, y, int(steps), rng))
    elif group == "epoch":
        print((ours_epoch if method == "ours" else torch_epoch)(x, y, rng))
    elif group == "predict":
        kind, batch = rest
        print((ours_predict if method == "ours" else torch_predict)(kind, x_test, int(batch)))


def _in_child(args, *one) -> float:
    """Run one measurement in a fresh process (each library gets the cores to itself).

    The child's environment has ``OPENBLAS_THREAD_TIMEOUT=20``, the default that ``import softmaxkit``
    sets when it comes before NumPy's (as in ``softmaxkit train``; this script imports NumPy first).
    PyTorch does not use OpenBLAS.
    """
    cmd = [sys.executable, __file__, "--threads", str(args.threads), "--_one", *map(str, one)]
    env = {"OPENBLAS_THREAD_TIMEOUT": "20", **os.environ}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return float(out.strip().splitlines()[-1])


def _cold_predict(workdir: Path) -> float:
    """Wall time of ``softmaxkit predict`` on one PNG from a cold process."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "softmaxkit", "predict", str(workdir / "cnn.skm"), str(workdir / "one.png")],
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def _spread(values, fmt="{:.2f}") -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per library and row")
    parser.add_argument("--mlp-steps", type=int, default=400, help="MLP steps timed per process")
    parser.add_argument("--cnn-steps", type=int, default=60, help="CNN steps timed per process")
    parser.add_argument("--only", choices=["step", "epoch", "predict", "cold"], action="append")
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="threads for both libraries (NumPy's BLAS and numba, torch.set_num_threads)",
    )
    parser.add_argument("--_one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=args.threads, user_api="blas")
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    if args._one:
        _child(args)
        return 0
    try:
        import torch
    except ImportError:
        torch = None
    groups = args.only or ["step", "epoch", "predict", "cold"]
    _, _y, _, source = mnist_or_random(np.random.default_rng(0))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"# bench_train: {cpu_model()}, {args.threads} threads for both, {source}, "
        f"{now}; each measurement in its own process, the libraries alternating, median (min-max) of "
        f"{args.repeats}"
    )
    print(f"# torch {torch.__version__ if torch else 'not installed'}, numpy {np.__version__}")
    print(f"# load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (time only on a quiet machine)")

    def compare(title, one, *, better_high=False):
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(_in_child(args, "ours", *one))
            if torch is not None:
                theirs.append(_in_child(args, "torch", *one))
        mo = statistics.median(ours)
        mt = statistics.median(theirs) if theirs else float("nan")
        ratio = mo / mt  # softmaxkit / PyTorch: time (lower is better) or throughput (higher is better)
        fmt = "{:.0f}" if better_high else "{:.2f}"
        their_text = _spread(theirs, fmt) if theirs else "-"
        print(f"| {title} | {_spread(ours, fmt)} | {their_text} | {ratio:.2f}x |")

    if "step" in groups:
        print("\n| training step, batch 128 | softmaxkit ms | PyTorch ms | softmaxkit / PyTorch |\n|---|---|---|---|")
        for kind, opt_name, steps in [
            ("mlp", "sgd", args.mlp_steps),
            ("mlp", "adam", args.mlp_steps),
            ("cnn", "sgd", args.cnn_steps),
        ]:
            label = f"{'MLP 784-256-128-10' if kind == 'mlp' else 'CNN 32c3-pool-64c3-pool-128-10'}, {opt_name}"
            ours, theirs = [], []
            for _ in range(args.repeats):
                ours.append(_in_child(args, "ours", "step", kind, opt_name, steps) * 1e3)
                if torch is not None:
                    theirs.append(_in_child(args, "torch", "step", kind, opt_name, steps) * 1e3)
            mt = statistics.median(theirs) if theirs else float("nan")
            their_text = _spread(theirs) if theirs else "-"
            print(f"| {label} | {_spread(ours)} | {their_text} | {statistics.median(ours) / mt:.2f}x |")
    if "epoch" in groups:
        print("\n| whole epoch (train.fit) | softmaxkit s | PyTorch s | softmaxkit / PyTorch |\n|---|---|---|---|")
        compare("MNIST MLP recipe: Adam, dropout 0.2, shuffling, validation", ("epoch",))
    if "predict" in groups:
        print(
            "\n| predict_proba | softmaxkit samples/s | PyTorch samples/s | softmaxkit / PyTorch |\n|---|---|---|---|"
        )
        for kind in ("mlp", "cnn"):
            for batch in (1, 1024):
                compare(f"{kind.upper()}, batch {batch}", ("predict", kind, batch), better_high=True)
    if "cold" in groups:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            ours_model("cnn").save(workdir / "cnn.skm")
            from PIL import Image

            pixels = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(workdir / "one.png")
            _cold_predict(workdir)  # numba's cache and the OS's file cache filled once
            times = [_cold_predict(workdir) for _ in range(max(5, args.repeats))]
        print(f"\ncold `softmaxkit predict CNN.skm one.png`: {_spread(times)} s (goal < 1 s)")
    print(f"\n# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
