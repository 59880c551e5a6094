"""Hyperparameter search for :class:`softmaxkit.SoftmaxClassifier` on a Dask cluster.

    python examples/dask_search.py                              # starts a LocalCluster of 2 workers
    python examples/dask_search.py --scheduler tcp://HOST:8786  # a running cluster (softmaxkit on its workers)
    python examples/dask_search.py --rows 2000000 --chunk 50000 --max-iter 81

Two searches, both run by the cluster's workers:

1. **Data larger than one machine**: dask-ml's ``HyperbandSearchCV`` on a Dask array. Each candidate
   trains by ``partial_fit``, one block of rows per call (an epoch over that block), and Hyperband
   stops the poor candidates early. Only the validation part (``test_size``, 15%) is gathered on
   one worker; the training blocks stay where they are.
2. **Data that fit in memory**: scikit-learn's ``GridSearchCV`` on the digits, with joblib's
   ``"dask"`` backend, so that every (candidate, fold) fit is a task on the cluster.

dask-ml 2025.1 calls ``dask.persist`` inside the coroutine that it runs on the client's event loop,
which dask 2025.3 and later refuse ("Attempting to use an asynchronous Client in a synchronous
context of `dask.compute`", dask/dask-ml#1016). :func:`dask_ml_search` therefore runs the search
with the client's own ``get`` as the scheduler: ``dask.persist`` then hands the arrays to
``client.persist``, as it did before.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.stats import loguniform

from softmaxkit import SoftmaxClassifier


def hyperband(client, *, rows: int, features: int, chunk: int, max_iter: int, seed: int) -> dict:
    """HyperbandSearchCV over learning rate, L2 penalty, width and batch size, on a synthetic Dask array."""
    from dask_ml.model_selection import HyperbandSearchCV, train_test_split

    x, y = blobs(rows, features, chunk=chunk, n_classes=4, seed=seed)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.1, random_state=seed)
    space = {
        "learning_rate_init": loguniform(1e-4, 3e-2),
        "alpha": loguniform(1e-6, 1e-2),
        "hidden_layer_sizes": [
            16,
            32,
            64,
        ],  # one hidden layer: dask-ml's cv_results_ cannot hold tuples of unequal length
        "batch_size": [64, 256],
    }
    search = HyperbandSearchCV(SoftmaxClassifier(random_state=seed), space, max_iter=max_iter, random_state=seed)
    start = time.perf_counter()
    dask_ml_search(client, search, x_train, y_train, classes=np.arange(4))
    return {
        "search": "HyperbandSearchCV",
        "candidates": len(search.cv_results_["params"]),
        "partial_fit_calls": int(sum(search.cv_results_["partial_fit_calls"])),
        "best_params": _plain(search.best_params_),
        "validation_accuracy": float(search.best_score_),
        "test_accuracy": float(search.score(x_test, y_test)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def blobs(rows: int, features: int, *, chunk: int, n_classes: int, seed: int):
    """A Dask array of overlapping Gaussian classes (float32) and its labels, made block by block on the workers."""
    import dask.array as da

    centers = np.random.default_rng(seed).normal(scale=0.6, size=(n_classes, features)).astype(np.float32)
    rng = da.random.default_rng(seed)
    y = rng.integers(0, n_classes, rows, chunks=chunk)
    noise = rng.standard_normal((rows, features), chunks=(chunk, features), dtype=np.float32)
    x = noise + y.map_blocks(lambda labels: centers[labels], new_axis=1, chunks=noise.chunks, dtype=np.float32)
    return x, y


def dask_ml_search(client, search, x, y, **fit_params):
    """``search.fit(x, y, **fit_params)`` for a dask-ml adaptive search, despite dask/dask-ml#1016 (module docstring)."""
    import dask

    with dask.config.set(scheduler=client.get):
        return search.fit(x, y, **fit_params)


def grid(client, *, max_iter: int, seed: int) -> dict:
    """GridSearchCV over width, learning rate and L2 penalty on the digits, each fit a task on the cluster."""
    from joblib import parallel_config
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        (x / 16).astype(np.float32), y, test_size=0.2, stratify=y, random_state=seed
    )
    estimator = SoftmaxClassifier(max_iter=max_iter, early_stopping=True, n_iter_no_change=5, random_state=seed)
    space = {"hidden_layer_sizes": [(32,), (64,)], "learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]}
    search = GridSearchCV(estimator, space, cv=3, n_jobs=-1)
    start = time.perf_counter()
    with parallel_config(backend="dask"):  # uses the current Dask client
        search.fit(x_train, y_train)
    return {
        "search": "GridSearchCV",
        "candidates": len(search.cv_results_["params"]),
        "best_params": _plain(search.best_params_),
        "validation_accuracy": float(search.best_score_),
        "test_accuracy": float(search.score(x_test, y_test)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def run(client, *, rows=100_000, features=20, chunk=10_000, max_iter=27, grid_max_iter=100, seed=0) -> list[dict]:
    """Both searches on ``client``'s cluster; one summary dict each."""
    return [
        hyperband(client, rows=rows, features=features, chunk=chunk, max_iter=max_iter, seed=seed),
        grid(client, max_iter=grid_max_iter, seed=seed),
    ]


def _plain(params: dict) -> dict:
    """JSON-friendly parameter values (tuples as lists, NumPy scalars as Python numbers)."""
    return {k: (list(v) if isinstance(v, tuple) else v.item() if hasattr(v, "item") else v) for k, v in params.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default=None, help="address of a running scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic Dask array (default 100000)")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=10_000, help="rows per block (default 10000)")
    parser.add_argument("--max-iter", type=int, default=27, help="Hyperband's most partial_fit calls per candidate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    options = {"rows": args.rows, "features": args.features, "chunk": args.chunk, "max_iter": args.max_iter}
    if args.scheduler:
        with Client(args.scheduler) as client:
            results = run(client, **options, seed=args.seed)
    else:
        with (
            LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            results = run(client, **options, seed=args.seed)
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
