"""Time per training epoch: softmaxkit's NumPy network against PyTorch CPU, side by side.

Same architecture, batch size, optimizer (SGD, momentum 0.9), thread count and data for both; the two
are interleaved (ours, torch, ours, torch, ...), each timed in a fresh process after a warm-up, and the
median epoch time is reported. Uses MNIST when
it is available (``softmaxkit data fetch mnist``), random MNIST-shaped data otherwise (timing does not
depend on the pixel values).

    python benchmarks/bench_train.py                 # MLP 784-256-128-10 and the CNN
    python benchmarks/bench_train.py --cnn-steps 100 # CNN: time 100 steps, scaled to an epoch
    python benchmarks/bench_train.py --threads 1      # both libraries on one thread
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np


def mnist_or_random(n: int, rng):
    try:
        from softmaxkit import datasets

        data = datasets.load("mnist")
        return data.x_train[:n], data.y_train[:n], "MNIST"
    except Exception:
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, n)
        return x, y, "random MNIST-shaped data"


def ours_epoch(kind, x, y, batch_size, steps, rng):
    from softmaxkit import cross_entropy_and_grad
    from softmaxkit.nn import architectures, optim

    build = architectures.mlp if kind == "mlp" else architectures.cnn
    model = build((1, 28, 28), 10, rng=np.random.default_rng(0))
    opt = optim.SGD(0.05, momentum=0.9)
    order = rng.permutation(len(y))
    start = time.perf_counter()
    for s in range(steps):
        idx = order[s * batch_size : (s + 1) * batch_size]
        logits = model.forward(x[idx], training=True)
        _, grad = cross_entropy_and_grad(logits, y[idx])
        model.backward(grad)
        opt.step(model)
    return time.perf_counter() - start


def torch_model(kind):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
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


def torch_epoch(kind, x, y, batch_size, steps, rng):
    import torch

    model = torch_model(kind)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    order = torch.from_numpy(rng.permutation(len(y)))
    start = time.perf_counter()
    for s in range(steps):
        idx = order[s * batch_size : (s + 1) * batch_size]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def _time_in_subprocess(method, kind, args, steps) -> float:
    """Time one epoch's worth of steps in a fresh process: each library gets the cores to itself
    (numba's, OpenBLAS's and PyTorch's thread pools fight when they share two cores in one process)."""
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--_one",
            method,
            kind,
            str(steps),
            "--batch-size",
            str(args.batch_size),
            "--threads",
            str(args.threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def _one(method, kind, steps, args) -> None:
    rng = np.random.default_rng(0)
    x, y, _ = mnist_or_random(60000, rng)
    run = ours_epoch if method == "ours" else torch_epoch
    run(kind, x, y, args.batch_size, 3, rng)  # warm-up: compilation, allocation
    print(run(kind, x, y, args.batch_size, steps, rng))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per method (median reported)")
    parser.add_argument("--cnn-steps", type=int, default=120, help="CNN steps timed, scaled to a full epoch")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="threads for both libraries (NumPy's BLAS via threadpoolctl, torch.set_num_threads)",
    )
    parser.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=args.threads, user_api="blas")
    if args._one:
        method, kind, steps = args._one
        if method == "torch":
            import torch

            torch.set_num_threads(args.threads)
        _one(method, kind, int(steps), args)
        return 0
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    _, y, source = mnist_or_random(60000, rng)
    steps_per_epoch = -(-len(y) // args.batch_size)
    print(
        f"# bench_train: {platform.processor() or platform.machine()}, {args.threads} threads for both, "
        f"batch {args.batch_size}, SGD momentum 0.9, {source}; each run in its own process, interleaved"
    )
    print(f"# torch {torch.__version__ if torch else 'not installed'}, numpy {np.__version__}")
    print(f"# load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (time only on a quiet machine)")
    print()
    print("| model | softmaxkit s/epoch (min-max) | PyTorch s/epoch (min-max) | speed-up vs PyTorch |")
    print("|---|---|---|---|")
    kinds = ["mlp"] + ([] if args.skip_cnn else ["cnn"])
    for kind in kinds:
        steps = steps_per_epoch if kind == "mlp" else min(args.cnn_steps, steps_per_epoch)
        scale = steps_per_epoch / steps
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(_time_in_subprocess("ours", kind, args, steps) * scale)
            if torch is not None:
                theirs.append(_time_in_subprocess("torch", kind, args, steps) * scale)
        mo = statistics.median(ours)
        mt = statistics.median(theirs) if theirs else float("nan")
        label = "MLP 784-256-128-10" if kind == "mlp" else f"CNN 32c3-pool-64c3-pool-128-10 ({steps} steps scaled)"
        spread_o = f"{min(ours):.2f}-{max(ours):.2f}"
        spread_t = f"{min(theirs):.2f}-{max(theirs):.2f}" if theirs else "-"
        print(f"| {label} | {mo:.2f} ({spread_o}) | {mt:.2f} ({spread_t}) | {mt / mo:.2f}x |")
    print(f"# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
