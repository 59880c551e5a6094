"""Metrics of Dask arrays: equal to the in-memory metrics, from one pass over the data, with the same errors.

Counts, accuracies and quantile bin edges are compared exactly; sums (NLL, Brier, per-bin means and
the calibration errors built from them) within summation-order rounding. The number of passes is
counted with a scheduler that counts the computations it is asked for.
"""

from __future__ import annotations

import re

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softmaxkit import softmax
from softmaxkit.metrics import (
    accuracy,
    brier_score,
    calibration_error,
    classwise_calibration_error,
    confusion_matrix,
    nll,
    reliability_curve,
    top_k_accuracy,
)
from softmaxkit.metrics._dask import quantile_edges

N, C = 53, 6
#: Chunkings of an (N, C) array: rows split, classes split, both, one chunk, uneven chunks.
CHUNKINGS = {
    "rows": (10, -1),
    "classes": (-1, 4),
    "both": (7, 2),
    "single": (-1, -1),
    "uneven": ((20, 3, 30), (1, 5)),
}
ROW_CHUNKS = {"rows": 10, "classes": -1, "both": 7, "single": -1, "uneven": ((20, 3, 30),)}
RTOL = 1e-12


def data(dtype=np.float64, seed=0):
    """Labels and probabilities with ties, exact 0 and 1, and a confidence exactly on a bin edge."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, C)) * 2.5
    logits[::9] = np.round(logits[::9])  # ties between classes (some across class chunks)
    logits[4, 1] = logits[4, 5] = 3.0
    probs = softmax(logits)
    probs[7] = np.eye(C)[2]  # exactly 0 and 1
    probs[8] = [0.35, 0.25, 0.2, 0.1, 0.05, 0.05]  # on a uniform edge (0.35 = 5.25 / 15)
    probs[9] = 1.0 / C  # every class tied
    labels = rng.integers(0, C, N)
    return labels, probs.astype(dtype)


class CountingScheduler:
    def __init__(self):
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        self.calls += 1
        return dask.get(dsk, keys, **kwargs)


def passes(metric, *args, **kwargs):
    """``(metric(*args, **kwargs), number of computations it asked for)``."""
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        result = metric(*args, **kwargs)
    return result, counter.calls


def _close(got, want, *, exact=False):
    assert type(got) is type(want)
    if exact:
        assert got == want
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL)


# --------------------------------------------------------------------------------------------------
# every metric, every chunking, in one pass


SCORES = {
    "accuracy": (accuracy, {}, True),
    "accuracy-labels": (lambda y, p: accuracy(y, p.argmax(axis=1)), {}, True),
    "nll": (nll, {}, False),
    "nll-logits": (
        lambda y, p: nll(y, logits=np.log(p + 1e-3) if isinstance(p, np.ndarray) else da.log(p + 1e-3)),
        {},
        False,
    ),
    "brier": (brier_score, {}, False),
    "top-2": (top_k_accuracy, {"k": 2}, True),
    "top-7": (top_k_accuracy, {"k": 7}, True),
    "ece": (calibration_error, {}, False),
    "mce": (calibration_error, {"norm": "max", "n_bins": 7}, False),
    "classwise-l2": (classwise_calibration_error, {"norm": "l2", "n_bins": 5}, False),
}


#: Each chunking with one dtype, both dtypes over the lot.
CASES = [(chunks, np.float32 if i % 2 else np.float64) for i, chunks in enumerate(CHUNKINGS.values())]
CASE_IDS = [f"{name}-{dtype.__name__}" for name, (_, dtype) in zip(CHUNKINGS, CASES)]


@pytest.mark.parametrize(("chunks", "dtype"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("name", SCORES)
def test_scores_match_in_memory_in_one_pass(name, chunks, dtype):
    metric, options, exact = SCORES[name]
    y, p = data(dtype)
    dy, dp = da.from_array(y, chunks=17), da.from_array(p, chunks=chunks)
    want = metric(y, p, **options)
    got, calls = passes(metric, dy, dp, **options)
    _close(got, want, exact=exact)
    assert calls == 1


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_curve(strategy, chunks):
    y, p = data()
    got, calls = passes(
        reliability_curve, da.from_array(y, chunks=11), da.from_array(p, chunks=chunks), strategy=strategy
    )
    want = reliability_curve(y, p, strategy=strategy)
    assert calls == (1 if strategy == "uniform" else 5)  # four counting passes find the quantiles exactly
    assert np.array_equal(got.edges, want.edges)
    assert np.array_equal(got.count, want.count) and got.count.dtype == want.count.dtype
    assert np.array_equal(got.accuracy, want.accuracy, equal_nan=True)
    np.testing.assert_allclose(got.confidence, want.confidence, rtol=RTOL)


@pytest.mark.parametrize("chunks", [CHUNKINGS["both"], CHUNKINGS["single"]], ids=["both", "single"])
def test_quantile_calibration_errors(chunks):
    y, p = data(seed=1)
    dy, dp = da.from_array(y, chunks=13), da.from_array(p, chunks=chunks)
    for norm in ("l1", "l2", "max"):
        got = calibration_error(dy, dp, strategy="quantile", norm=norm, n_bins=6)
        _close(got, calibration_error(y, p, strategy="quantile", norm=norm, n_bins=6))
    got, calls = passes(classwise_calibration_error, dy, dp, strategy="quantile", n_bins=4)
    _close(got, classwise_calibration_error(y, p, strategy="quantile", n_bins=4))
    assert calls == 4 * C + 1  # exact quantiles of every class, then one binning pass


@pytest.mark.parametrize("row_chunks", ROW_CHUNKS.values(), ids=ROW_CHUNKS.keys())
def test_confusion_matrix(row_chunks):
    y, p = data()
    pred = p.argmax(axis=1)
    dy, dpred = da.from_array(y, chunks=row_chunks), da.from_array(pred, chunks=9)
    got, calls = passes(confusion_matrix, dy, dpred)
    assert calls == 2  # the largest label first
    want = confusion_matrix(y, pred)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    got, calls = passes(confusion_matrix, dy, pred, n_classes=C + 2)
    assert calls == 1 and np.array_equal(got, confusion_matrix(y, pred, n_classes=C + 2))
    empty = da.from_array(np.zeros(0, int))
    assert confusion_matrix(empty, empty).shape == (0, 0)
    assert np.array_equal(confusion_matrix(empty, empty, n_classes=2), np.zeros((2, 2), np.int64))


def test_mixed_inputs():
    """The NumPy (or list) argument is wrapped, chunked like the Dask one's rows."""
    y, p = data()
    dy, dp = da.from_array(y, chunks=20), da.from_array(p, chunks=(15, 4))
    for metric in (accuracy, nll, brier_score, calibration_error, classwise_calibration_error, top_k_accuracy):
        want = metric(y, p)
        for labels, probs in ((y, dp), (y.tolist(), dp), (dy, p), (dy, p.tolist())):
            _close(metric(labels, probs), want, exact=metric in (accuracy, top_k_accuracy))
    assert np.array_equal(confusion_matrix(y.tolist(), da.from_array(y, chunks=5)), confusion_matrix(y, y))


# --------------------------------------------------------------------------------------------------
# exact quantiles


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 0.99, 1.0]) | st.floats(0, 1), min_size=1, max_size=40
    ),
    n_bins=st.integers(1, 20),
    chunk=st.integers(1, 15),
)
def test_quantile_edges_are_numpys_bit_for_bit(values, n_bins, chunk):
    x = np.array(values)
    got = quantile_edges(da.from_array(x, chunks=chunk), n_bins)
    assert np.array_equal(got, np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)))


def test_quantile_edges_with_large_and_negative_values():
    x = np.random.default_rng(3).normal(size=1001) * 1e300
    for n_bins in (1, 3, 15):
        got = quantile_edges(da.from_array(x, chunks=97), n_bins)
        assert np.array_equal(got, np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)))


# --------------------------------------------------------------------------------------------------
# errors: the in-memory messages


def _same_error(metric, y_true, probs, **options):
    with pytest.raises(Exception) as expected:
        metric(y_true, probs, **options)
    dy = da.from_array(np.asarray(y_true), chunks=5) if np.ndim(y_true) else y_true
    dp = da.from_array(np.asarray(probs), chunks=4) if np.ndim(probs) else probs
    for labels, scores in ((dy, dp), (y_true, dp), (dy, probs)):
        with pytest.raises(expected.type, match=re.escape(str(expected.value))):
            metric(labels, scores, **options)


@pytest.mark.parametrize(
    "metric",
    [accuracy, nll, brier_score, top_k_accuracy, calibration_error, classwise_calibration_error, reliability_curve],
)
def test_errors_match_in_memory(metric):
    y, p = data()
    y, p = y[:12], p[:12]
    bad_label, negative = y.copy(), y.copy()
    bad_label[7], negative[3] = C + 3, -2
    nan_probs, big_probs, inf_probs = p.copy(), p.copy(), p.copy()
    nan_probs[5, 2], big_probs[6, 1], inf_probs[2, 0] = np.nan, 1.5, np.inf
    _same_error(metric, bad_label, p)
    _same_error(metric, negative, p)
    _same_error(metric, y, nan_probs)
    _same_error(metric, y, inf_probs)
    if metric not in (accuracy, top_k_accuracy):  # scores, not probabilities: any finite value
        _same_error(metric, y, big_probs)
    _same_error(metric, y[:10], p)  # one label per sample
    _same_error(metric, y.astype(float), p)
    _same_error(metric, y, p[:, :, None])
    _same_error(metric, y, p.astype(complex))
    _same_error(metric, p, y)  # labels first
    if metric is not accuracy:
        _same_error(metric, y, np.zeros((0, C)))


def test_errors_of_the_other_forms():
    y, p = data()
    _same_error(accuracy, y, p[:, 0])  # 1-D float predictions
    _same_error(accuracy, np.r_[y[:-1], -1], p.argmax(axis=1))  # negative label
    _same_error(nll, y, None)  # neither probs nor logits
    _same_error(lambda a, b: nll(a, logits=b), y, np.where(p > 0.5, np.inf, p))
    _same_error(lambda a, b: nll(a, logits=b), np.r_[y[:-1], C], p)
    _same_error(confusion_matrix, y, np.r_[y[:-1], C], n_classes=C)
    _same_error(confusion_matrix, y, y[:-1])
    _same_error(confusion_matrix, np.r_[y[:-1], -4], y)
    _same_error(calibration_error, y, p, strategy="median")
    _same_error(top_k_accuracy, y, p, k=0)


# --------------------------------------------------------------------------------------------------
# a real cluster


def test_metrics_on_a_local_cluster(cluster):
    y, p = data(seed=4)
    dy, dp = da.from_array(y, chunks=20), da.from_array(p, chunks=(25, 4))
    _close(accuracy(dy, dp), accuracy(y, p), exact=True)
    _close(nll(dy, dp), nll(y, p))
    _close(calibration_error(dy, dp), calibration_error(y, p))
    got = reliability_curve(dy, dp, strategy="quantile", n_bins=5)
    want = reliability_curve(y, p, strategy="quantile", n_bins=5)
    assert np.array_equal(got.edges, want.edges) and np.array_equal(got.count, want.count)
