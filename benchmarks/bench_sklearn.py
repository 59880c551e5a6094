"""softmaxkit.SoftmaxClassifier against scikit-learn's MLPClassifier and LogisticRegression, side by side.

Same data, same network sizes, same epochs and batch size, the same optimizer (Adam, lr 1e-3), no
early stopping and no stopping on ``tol`` (every run trains exactly ``--epochs`` epochs), float32
inputs for every library (each computes in the input's dtype), ``alpha`` 1e-4 (``C = 1 / alpha`` for
LogisticRegression, the same objective). Each fit runs in its own fresh process (so one library's
thread pools and caches never slow the other), interleaved, ``--repeats`` times; the table shows the
median fit time with the min-max range, and the test accuracy, log-loss and ECE (15 bins, from
``softmaxkit.metrics.calibration_error``) of the first run (every run of a seed gives the same model).

Data: ``digits`` (scikit-learn's 8x8 digits / 16, softmaxkit's fixed 1437/360 split, flattened) and
``mnist`` (``softmaxkit.datasets.load("mnist")``, 60000/10000, flattened; ``softmaxkit data fetch
mnist``); MNIST is skipped when it is not on the machine.

    python benchmarks/bench_sklearn.py                  # digits and MNIST, 3 repeats
    python benchmarks/bench_sklearn.py --quick          # 1 repeat, MNIST on 10000 rows for 5 epochs
    python benchmarks/bench_sklearn.py --data digits --threads 1
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
from machine import cpu_model

#: model label -> (hidden layers, libraries timed). LogisticRegression (L-BFGS) is the reference point of
#: the logistic rows, with as many L-BFGS iterations as the others have epochs (each at least one pass).
MODELS = {
    "logistic": ((), ("softmaxkit", "MLPClassifier", "LogisticRegression")),
    "MLP 100": ((100,), ("softmaxkit", "softmaxkit+T", "MLPClassifier")),
}
ALPHA, LR, BATCH = 1e-4, 1e-3, 200


def load(name: str, n_train: int | None):
    from softmaxkit import datasets

    data = datasets.load(name)
    x_train = data.x_train.reshape(len(data.x_train), -1).astype(np.float32)
    x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float32)
    y_train, y_test = data.y_train, data.y_test
    if n_train is not None and n_train < len(y_train):
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    return x_train, y_train, x_test, y_test


def build(library: str, hidden: tuple, epochs: int):
    """The estimator of ``library``, set up so that every one trains exactly ``epochs`` epochs."""
    no_tol = {"tol": 0.0, "n_iter_no_change": epochs + 1, "early_stopping": False, "random_state": 0}
    common = {"alpha": ALPHA, "batch_size": BATCH, "learning_rate_init": LR, "max_iter": epochs, **no_tol}
    if library.startswith("softmaxkit"):
        from softmaxkit import SoftmaxClassifier

        return SoftmaxClassifier(hidden, temperature_scaling=library.endswith("+T"), **common)
    if library == "MLPClassifier":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden, solver="adam", **common)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0 / ALPHA, max_iter=epochs)


def run_one(library: str, model: str, data: str, epochs: int, n_train: int | None) -> dict:
    """Fit once (in this process) and score: what the parent prints, as JSON."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from softmaxkit import softmax
    from softmaxkit.metrics import calibration_error, nll

    x_train, y_train, x_test, y_test = load(data, n_train)
    est = build(library, MODELS[model][0], epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # every run stops at max_iter on purpose
        start = time.perf_counter()
        est.fit(x_train, y_train)
        seconds = time.perf_counter() - start
    if hasattr(est, "decision_function"):  # logits: the log-loss stays finite where a float32 probability is 0
        logits = np.asarray(est.decision_function(x_test), dtype=np.float64)
        probs, log_loss = softmax(logits), float(nll(y_test, logits=logits))
    else:  # MLPClassifier: probabilities only (float32 for float32 inputs)
        probs = np.asarray(est.predict_proba(x_test), dtype=np.float64)
        probs /= probs.sum(axis=1, keepdims=True)
        log_loss = float(nll(y_test, probs))
    return {
        "seconds": seconds,
        "accuracy": float(np.mean(est.classes_[probs.argmax(axis=1)] == y_test)),
        "log_loss": log_loss,
        "ece": float(calibration_error(y_test, probs)),
        "epochs": int(np.max(est.n_iter_)),  # LogisticRegression: an array of L-BFGS iterations
    }


def in_subprocess(library: str, model: str, data: str, args) -> dict:
    env = {**os.environ}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--_one", library, model, data, str(epochs_for(data, args))]
    if n_train_for(data, args) is not None:
        cmd += ["--n-train", str(n_train_for(data, args))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def epochs_for(data: str, args) -> int:
    return args.epochs if args.epochs else (200 if data == "digits" else (5 if args.quick else 20))


def n_train_for(data: str, args):
    return 10000 if args.quick and data == "mnist" else None


def versions() -> str:
    import numba
    import sklearn

    import softmaxkit

    return (
        f"Python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"numba {numba.__version__}, softmaxkit {softmaxkit.__version__}"
    )


def machine() -> str:
    return f"{cpu_model()}, {len(os.sched_getaffinity(0))} cores"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def have(data: str) -> bool:
    try:
        load(data, 10)
        return True
    except Exception:
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["digits", "mnist"], choices=["digits", "mnist"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="default: 200 on digits, 20 on MNIST (5 with --quick)")
    parser.add_argument("--quick", action="store_true", help="1 repeat; MNIST on 10000 training rows for 5 epochs")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="BLAS and numba threads")
    parser.add_argument("--n-train", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        library, model, data, epochs = args._one
        print(json.dumps(run_one(library, model, data, int(epochs), args.n_train)))
        return 0
    repeats = 1 if args.quick else args.repeats
    print(f"# bench_sklearn: {machine()}; {versions()}")
    print(
        f"# {datetime.date.today().isoformat()}; {args.threads} threads for every library; float32 inputs; "
        f"Adam lr {LR}, batch {BATCH}, alpha {ALPHA}, no early stopping, no tol; each fit in its own process, "
        f"{repeats} run(s) each, interleaved"
    )
    print(f"# load average before: {load_average()} (compare times only from a quiet machine)")
    for data in args.data:
        if not have(data):
            print(f"\n# {data}: not available on this machine (softmaxkit data fetch {data}); skipped")
            continue
        n_train = n_train_for(data, args)
        print(f"\n## {data}: {epochs_for(data, args)} epochs" + (f", first {n_train} training rows" if n_train else ""))
        print()
        print(
            "| model | library | fit s, median (min-max) | speed-up vs MLPClassifier | test accuracy | log-loss | ECE |"
        )
        print("|---|---|---|---|---|---|---|")
        for model, (_, libraries) in MODELS.items():
            runs = {lib: [] for lib in libraries}
            for _ in range(repeats):
                for lib in libraries:
                    runs[lib].append(in_subprocess(lib, model, data, args))
            reference = statistics.median(r["seconds"] for r in runs.get("MLPClassifier", []) or [{"seconds": np.nan}])
            for lib, results in runs.items():
                times = [r["seconds"] for r in results]
                first = results[0]
                mid = statistics.median(times)
                speed = f"{reference / mid:.2f}x" if lib != "MLPClassifier" else "1"
                print(
                    f"| {model} | {lib} | {mid:.2f} ({min(times):.2f}-{max(times):.2f}) | {speed} | "
                    f"{first['accuracy']:.2%} | {first['log_loss']:.4f} | {first['ece']:.2%} |"
                )
    print(f"\n# load average after: {load_average()}")
    print("# softmaxkit+T: temperature_scaling=True (10% of the training rows held out to calibrate, trained on 90%)")
    print("# LogisticRegression: L-BFGS, C = 1/alpha, max_iter = the epochs (it may stop earlier on its tol)")
    print("# log-loss from the logits (decision_function) where a library has them, else from predict_proba")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
