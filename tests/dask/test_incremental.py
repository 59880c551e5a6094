"""SoftmaxClassifier under dask-ml: ``Incremental`` feeds the blocks of a Dask array to ``partial_fit``
(with the local scheduler and on the two-worker cluster) and predicts and scores through the wrapper;
the hyperparameter searches of ``examples/dask_search.py`` run on the cluster."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from softmaxkit import SoftmaxClassifier

da = pytest.importorskip("dask.array")
wrappers = pytest.importorskip("dask_ml.wrappers")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dask_search.py"
CHUNK = 250


def blobs(n=2000, *, k=3, d=6, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def estimator():
    return SoftmaxClassifier((16,), learning_rate_init=0.01, random_state=0)


def one_block_at_a_time(x, y, classes):
    """What Incremental should do without shuffling: partial_fit on each block, in order."""
    clf = estimator()
    for lo in range(0, len(y), CHUNK):
        clf.partial_fit(x[lo : lo + CHUNK], y[lo : lo + CHUNK], classes=classes)
    return clf


def fit_incremental(x, y, classes, **options):
    inc = wrappers.Incremental(estimator(), **options)
    return inc.fit(da.from_array(x, chunks=(CHUNK, x.shape[1])), da.from_array(y, chunks=CHUNK), classes=classes)


def assert_same_network(a, b):
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)


def test_incremental_is_partial_fit_on_each_block_locally():
    x, y = blobs()
    with pytest.importorskip("dask").config.set(scheduler="synchronous"):
        inc = fit_incremental(x, y, [0, 1, 2], shuffle_blocks=False)
    assert_same_network(inc.estimator_, one_block_at_a_time(x, y, [0, 1, 2]))
    assert inc.estimator_.n_iter_ == len(y) // CHUNK  # one partial_fit call per block


def test_incremental_on_the_cluster_gives_the_same_network(cluster):
    from distributed import get_task_stream

    x, y = blobs()
    with get_task_stream(cluster) as tasks:  # the session's client is the default scheduler
        inc = fit_incremental(x, y, [0, 1, 2], shuffle_blocks=False)
    steps = [task for task in tasks.data if task["key"][0].startswith("fit-") and task["key"][1] >= 0]
    assert len(steps) == len(y) // CHUNK  # one partial_fit task per block, run by the workers
    assert_same_network(inc.estimator_, one_block_at_a_time(x, y, [0, 1, 2]))


def test_predict_proba_and_score_through_the_wrapper_on_the_cluster(cluster):
    x, y = blobs(seed=1)
    inc = fit_incremental(x, y, [0, 1, 2], scoring="accuracy", random_state=0)
    dx, dy = da.from_array(x, chunks=(CHUNK, 6)), da.from_array(y, chunks=CHUNK)
    predicted = inc.predict(dx)
    assert isinstance(predicted, da.Array)  # lazy, computed block by block on the workers
    np.testing.assert_array_equal(predicted.compute(), inc.estimator_.predict(x))
    proba = inc.predict_proba(dx).compute()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    score = inc.score(dx, dy)
    assert score == pytest.approx(np.mean(inc.estimator_.predict(x) == y)) and score > 0.9


def test_string_labels_and_continued_partial_fit_through_the_wrapper(cluster):
    x, y = blobs(seed=2)
    names = np.array(["cat", "dog", "eel"])[y]
    dx, dy = da.from_array(x, chunks=(CHUNK, 6)), da.from_array(names, chunks=CHUNK)
    inc = wrappers.Incremental(estimator(), random_state=0)
    inc.partial_fit(dx, dy, classes=["cat", "dog", "eel"])
    inc.partial_fit(dx, dy)  # classes are known after the first call
    assert inc.estimator_.n_iter_ == 2 * len(y) // CHUNK
    assert list(inc.estimator_.classes_) == ["cat", "dog", "eel"]
    assert np.mean(inc.predict(dx).compute() == names) > 0.9


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 5 epochs, on purpose
def test_the_example_searches_run_on_the_cluster(cluster):
    spec = importlib.util.spec_from_file_location("dask_search", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    hyperband, grid = example.run(cluster, rows=3000, features=6, chunk=500, max_iter=3, grid_max_iter=5, seed=0)
    assert hyperband["search"] == "HyperbandSearchCV" and hyperband["candidates"] >= 3
    assert hyperband["test_accuracy"] > 0.4  # four overlapping classes, chance 0.25, a few blocks of training
    assert grid["search"] == "GridSearchCV" and grid["candidates"] == 8
    assert grid["test_accuracy"] > 0.8
