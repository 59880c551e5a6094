"""Calibrators fitted on Dask arrays equal the in-memory fit; their checks say the same; transforms stay lazy.

The Dask fit runs the same optimiser from the same start on the same objective, summed block by block
instead of in one array, so the two differ only by the rounding of the sums. How far that moves the
result depends on the optimiser's stopping rule:

- temperature scaling solves for the zero of the slope with ``brentq`` to 1e-13 in log T: the
  temperatures agree to 1e-12 relative (measured: equal, or 1 ulp apart);
- vector and matrix scaling stop L-BFGS-B at gtol 1e-9 / ftol 1e-12 (a relative decrease of the
  objective below 1e-12), which leaves the stop free to move along flat directions: vector scaling
  has an exactly flat one (adding a constant to every bias changes no probability), unregularised
  matrix scaling nearly flat ones. Measured on these data: parameters within 1.6e-9 (along that
  flat direction: the NLLs agree to 1e-15), NLLs after fitting within 1e-12 relative; tested at
  1e-7 and 1e-10. The NLL before fitting is a plain sum: 1e-12. On an ill-conditioned objective
  (matrix scaling of log-probabilities down to -30) both runs stop on the same valley floor but not
  at the same point: only the objective's values agree (``test_ill_conditioned_matrix_fit``).
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from softmaxkit import softmax
from softmaxkit.calibration import MatrixScaling, TemperatureScaling, VectorScaling
from softmaxkit.calibration._dask import Blocks

CALIBRATORS = [TemperatureScaling, VectorScaling, MatrixScaling]
INPUTS = ["logits", "probabilities"]
N, K = 600, 3
#: even blocks; uneven blocks with an empty one and a one-row one
CHUNKINGS = [150, (1, 0, 250, 97, 252)]
UNEVEN = CHUNKINGS[1]


def _data(rng, n=N, k=K, scale=1.5):
    """Over-confident logits with a class bias, their probabilities, labels."""
    z = rng.normal(0.0, scale, size=(n, k))
    truth = softmax(z / scale + np.linspace(-0.5, 0.5, k))
    y = np.minimum((truth.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    return {"logits": z, "probabilities": softmax(z)}, y


@pytest.fixture
def data(rng):
    return _data(rng)


def _fitted(cal):
    return np.concatenate([np.ravel(getattr(cal, name + "_")) for name in cal._fitted_names])


def _assert_same_fit(lazy, eager):
    assert lazy.n_classes_ == eager.n_classes_ == lazy.n_features_in_
    if isinstance(eager, TemperatureScaling):
        assert lazy.temperature_ == pytest.approx(eager.temperature_, rel=1e-12, abs=0)
    else:
        np.testing.assert_allclose(_fitted(lazy), _fitted(eager), rtol=0, atol=1e-7)
    assert lazy.nll_before_ == pytest.approx(eager.nll_before_, rel=1e-12)
    assert lazy.nll_after_ == pytest.approx(eager.nll_after_, rel=1e-10)


def _weights(rng, kind):
    if kind == "none":
        return None
    if kind == "integers":  # zeros included: those rows are dropped
        return rng.integers(0, 4, size=N).astype(float)
    if kind == "equal":  # equal weights are no weights (and the zeros are dropped)
        return np.where(rng.random(N) < 0.8, 2.5, 0.0)
    return rng.random(N) * 1e300  # unequal and huge: the sum of the weights must not overflow


# ---- the fit equals the in-memory one


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=["even", "uneven"])
@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_fit_equals_in_memory(data, cls, inputs, chunks):
    scores, y = data
    s = scores[inputs]
    lazy = cls(inputs=inputs).fit(da.from_array(s, chunks=(chunks, 2)), da.from_array(y, chunks=chunks))
    _assert_same_fit(lazy, cls(inputs=inputs).fit(s, y))


@pytest.mark.parametrize(
    ("cls", "inputs", "kind"),
    [
        (TemperatureScaling, "logits", "huge"),
        (TemperatureScaling, "probabilities", "integers"),
        (VectorScaling, "logits", "integers"),
        (VectorScaling, "probabilities", "huge"),
        (MatrixScaling, "logits", "equal"),
        (MatrixScaling, "probabilities", "integers"),
    ],
)
def test_weighted_fit_equals_in_memory(data, rng, cls, inputs, kind):
    scores, y = data
    s, w = scores[inputs], _weights(rng, kind)
    # the scores, labels and weights chunked three ways: they are aligned on the scores' chunks
    lazy = cls(inputs=inputs).fit(
        da.from_array(s, chunks=(UNEVEN, K)), da.from_array(y, chunks=100), sample_weight=da.from_array(w, 333)
    )
    _assert_same_fit(lazy, cls(inputs=inputs).fit(s, y, sample_weight=w))


def test_some_arguments_in_memory(data, rng):
    scores, y = data
    s, w = scores["logits"], _weights(rng, "integers")
    eager = VectorScaling().fit(s, y, sample_weight=w)
    _assert_same_fit(VectorScaling().fit(s, da.from_array(y, chunks=150), sample_weight=w), eager)
    _assert_same_fit(VectorScaling().fit(da.from_array(s, chunks=200), y, sample_weight=list(w)), eager)
    _assert_same_fit(VectorScaling().fit(s, y, sample_weight=da.from_array(w, chunks=250)), eager)


def test_float32_float16_and_integer_scores(data):
    scores, y = data
    for s in (scores["probabilities"].astype(np.float32), scores["probabilities"].astype(np.float16)):
        eager = TemperatureScaling(inputs="probabilities").fit(s, y)
        lazy = TemperatureScaling(inputs="probabilities").fit(da.from_array(s, chunks=100), y)
        _assert_same_fit(lazy, eager)
    z = np.round(scores["logits"] * 3).astype(np.int32)
    _assert_same_fit(VectorScaling().fit(da.from_array(z, chunks=100), y), VectorScaling().fit(z, y))


def test_temperature_special_cases(rng):
    """The branches of the temperature fit: a bound, the flat slope of one class, probabilities exactly 0."""
    z = rng.normal(size=(200, 3)) * 20
    y = z.argmax(axis=1)  # separable: the NLL still falls at t_min
    lazy = TemperatureScaling().fit(da.from_array(z, chunks=64), y)
    assert lazy.temperature_ == TemperatureScaling().fit(z, y).temperature_ == 1e-3
    one_class = TemperatureScaling().fit(da.from_array(z[:, :1], chunks=64), np.zeros(200, int))
    assert one_class.temperature_ == 1.0
    p = softmax(rng.normal(size=(200, 3)))
    p[::7, 2] = 0.0  # mapped exactly: log 0 / T = -inf
    p /= p.sum(axis=1, keepdims=True)
    y = rng.integers(0, 2, size=200)
    _assert_same_fit(
        TemperatureScaling(inputs="probabilities").fit(da.from_array(p, chunks=64), y),
        TemperatureScaling(inputs="probabilities").fit(p, y),
    )


def test_ill_conditioned_matrix_fit():
    """Matrix scaling of log-probabilities down to -30: the two L-BFGS runs stop apart, at equal objectives."""
    scores, y = _data(np.random.default_rng(12345), n=300, k=4, scale=3.0)
    s = scores["probabilities"]
    eager = MatrixScaling(inputs="probabilities").fit(s, y)
    lazy = MatrixScaling(inputs="probabilities").fit(da.from_array(s, chunks=(101, 4)), y)
    objective = [eager._loss_and_grad(_fitted(cal), np.log(s), y)[0] for cal in (eager, lazy)]
    # measured: 160 and 141 iterations, the parameters 4e-5 apart, the objectives within 2e-11 relative
    assert objective[1] == pytest.approx(objective[0], rel=1e-9)
    np.testing.assert_allclose(_fitted(lazy), _fitted(eager), rtol=0, atol=1e-4)
    np.testing.assert_allclose(lazy.predict_proba(s), eager.predict_proba(s), rtol=0, atol=1e-5)


def test_matrix_scaling_regularisers(data):
    scores, y = data
    for params in ({"reg": 0.0}, {"reg": 1.0, "bias_reg": 0.0}):
        lazy = MatrixScaling(**params).fit(da.from_array(scores["logits"], chunks=150), y)
        _assert_same_fit(lazy, MatrixScaling(**params).fit(scores["logits"], y))


# ---- lazy transforms


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("cls", CALIBRATORS)
def test_transform_and_predict_proba_are_lazy(data, cls, inputs):
    scores, y = data
    s = scores[inputs]
    cal = cls(inputs=inputs).fit(s, y)
    x = da.from_array(s, chunks=(UNEVEN, 2))
    for method in ("transform", "predict_proba"):
        out = getattr(cal, method)(x)
        assert isinstance(out, da.Array)
        assert out.shape == s.shape and out.dtype == np.float64
        np.testing.assert_allclose(out.compute(), getattr(cal, method)(s), rtol=1e-15, atol=1e-15)
    out = cal.predict_proba(x.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.compute(), cal.predict_proba(s.astype(np.float32)))


def test_transform_of_unknown_chunk_sizes_and_of_no_rows(data):
    scores, y = data
    cal = VectorScaling().fit(scores["logits"], y)
    x = da.from_array(scores["logits"], chunks=100)
    picked = x[x[:, 0] > 0]
    assert np.isnan(picked.shape[0])
    np.testing.assert_array_equal(
        cal.transform(picked).compute(), cal.transform(scores["logits"][scores["logits"][:, 0] > 0])
    )
    assert cal.predict_proba(x[:0]).compute().shape == (0, K)
    p = scores["probabilities"].copy()
    p[130] = [0.5, 0.5, 0.0]
    cal = VectorScaling(inputs="probabilities").fit(scores["probabilities"], y)
    x = da.from_array(p, chunks=100)
    picked = x[x[:, 0] >= 0.0]  # every row, in blocks of unknown sizes
    with pytest.raises(ValueError, match=r"the first at row 30 of chunk 1 \(chunk sizes unknown\), class 2"):
        cal.transform(picked).blocks[1].compute()


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_one_pass_over_the_chunks_per_evaluation(data, monkeypatch, cls):
    """The checks are one pass, each evaluation of the objective one, the NLLs before and after one."""
    scores, y = data
    reads = []

    def read(block, block_info=None):
        reads.append(block_info[0]["chunk-location"][0])
        return block

    x = da.from_array(scores["logits"], chunks=(150, K)).map_blocks(read, dtype=np.float64)
    passes = []
    total = Blocks.total
    monkeypatch.setattr(Blocks, "total", lambda self, *args, **kwargs: passes.append(1) or total(self, *args, **kwargs))
    cls().fit(x, y)
    assert len(passes) > 2
    assert sorted(reads) == sorted(list(range(4)) * (1 + len(passes)))


def test_fit_transform_is_lazy(data):
    scores, y = data
    out = TemperatureScaling().fit_transform(da.from_array(scores["logits"], chunks=150), y)
    assert isinstance(out, da.Array)
    np.testing.assert_array_equal(out.compute(), TemperatureScaling().fit_transform(scores["logits"], y))


# ---- the same errors


def _message(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return type(info.value), str(info.value)


def _both(cls, s, y, w=None, chunks=4, **params):
    """The error of the in-memory fit and of the Dask fit (every array that is one made a Dask array)."""

    def lazy(a):
        return da.from_array(a, chunks=chunks) if isinstance(a, np.ndarray) else a

    eager = _message(lambda: cls(**params).fit(s, y, sample_weight=w))
    return eager, _message(lambda: cls(**params).fit(lazy(s), lazy(y), sample_weight=lazy(w)))


def _bad_fits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(10, 3))
    p = softmax(z)
    y = rng.integers(0, 3, size=10)
    w = np.ones(10)
    nan = z.copy()
    nan[7, 1] = np.nan
    inf = z.copy()
    inf[9, 0] = np.inf
    off = p.copy()
    off[6] *= 1.01  # the worst row, in the second block
    off[8] *= 1.0001  # a row within the tolerance
    outside = p.copy()
    outside[5, 2] = 1.5
    zeros = p.copy()
    zeros[[2, 5, 9], [0, 1, 1]] = 0.0
    zeros /= zeros.sum(axis=1, keepdims=True)
    w_zero_first = w.copy()
    w_zero_first[2] = 0.0  # the first zero is dropped: the first kept one is reported
    impossible = p.copy()
    impossible[[3, 8], y[[3, 8]]] = 0.0
    impossible /= impossible.sum(axis=1, keepdims=True)
    cases = {
        "nan logits": (TemperatureScaling, nan, y, None, {}),
        "inf logits": (VectorScaling, inf, y, None, {}),
        "nan and bad labels": (VectorScaling, nan, y[:5], None, {}),  # the scores are checked first
        "1-D scores": (TemperatureScaling, z[:, 0], y, None, {}),
        "no rows": (TemperatureScaling, z[:0], y[:0], None, {}),
        "no classes": (MatrixScaling, z[:, :0], y, None, {}),
        "complex scores": (TemperatureScaling, z.astype(complex), y, None, {}),
        "string scores": (TemperatureScaling, z.astype(str), y, None, {}),
        "out of [0, 1]": (TemperatureScaling, outside, y, None, {"inputs": "probabilities"}),
        "row sums": (VectorScaling, off, y, None, {"inputs": "probabilities"}),
        "row sums float16": (TemperatureScaling, (p * 1.02).astype(np.float16), y, None, {"inputs": "probabilities"}),
        "logits as probabilities": (MatrixScaling, z, y, None, {"inputs": "probabilities"}),
        "no labels": (TemperatureScaling, z, None, None, {}),
        "float labels": (TemperatureScaling, z, y.astype(float), None, {}),
        "labels too short": (VectorScaling, z, y[:9], None, {}),
        "2-D labels": (VectorScaling, z, y[:, None], None, {}),
        "label too large": (MatrixScaling, z, np.where(y == 2, 3, y), None, {}),
        "negative label": (MatrixScaling, z, np.where(y == 2, -1, y), None, {}),
        "complex weights": (TemperatureScaling, z, y, w.astype(complex), {}),
        "weights too long": (TemperatureScaling, z, y, np.ones(11), {}),
        "weights and labels bad": (TemperatureScaling, z, y[:3], np.ones(11), {}),  # the labels first
        "nan weight": (VectorScaling, z, y, np.where(y == 1, np.nan, 1.0), {}),
        "negative weight": (VectorScaling, z, y, np.where(y == 1, -0.5, 1.0), {}),
        "zero weights": (MatrixScaling, z, y, np.zeros(10), {}),
        "zero probabilities": (VectorScaling, zeros, y, None, {"inputs": "probabilities"}),
        "zero probabilities, weight 0": (MatrixScaling, zeros, y, w_zero_first, {"inputs": "probabilities"}),
        "impossible labels": (TemperatureScaling, impossible, y, None, {"inputs": "probabilities"}),
        "bad bounds": (TemperatureScaling, z, y, None, {"bounds": (2.0, 1.0)}),
    }
    return {name: pytest.param(*case, id=name) for name, case in cases.items()}.values()


@pytest.mark.parametrize(("cls", "s", "y", "w", "params"), _bad_fits())
def test_fit_errors_are_the_in_memory_ones(cls, s, y, w, params):
    eager, lazy = _both(cls, s, y, w, **params)
    assert lazy == eager


def test_labels_of_probability_zero_can_be_dropped_by_weight():
    rng = np.random.default_rng(1)
    p = softmax(rng.normal(size=(40, 3)))
    y = rng.integers(0, 3, size=40)
    p[[3, 30], y[[3, 30]]] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    w = np.ones(40)
    w[[3, 30]] = 0.0
    eager = TemperatureScaling(inputs="probabilities").fit(p, y, sample_weight=w)
    lazy = TemperatureScaling(inputs="probabilities").fit(da.from_array(p, chunks=7), y, sample_weight=w)
    _assert_same_fit(lazy, eager)


def test_unknown_chunk_sizes_and_dask_collections_are_refused(data):
    scores, y = data
    x = da.from_array(scores["logits"], chunks=100)
    with pytest.raises(
        ValueError, match=r"TemperatureScaling.fit: logits has unknown chunk sizes .*compute_chunk_sizes"
    ):
        TemperatureScaling().fit(x[x[:, 0] > 0], y)
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_dask_array(x)
    with pytest.raises(TypeError, match=r"VectorScaling.fit: logits is a .*, a Dask collection but not an array"):
        VectorScaling().fit(frame, y)


def test_transform_errors(data):
    scores, y = data
    p = scores["probabilities"]
    cal = VectorScaling(inputs="probabilities").fit(p, y)
    x = da.from_array(p, chunks=100)
    with pytest.raises(ValueError, match="not fitted"):
        VectorScaling().transform(x)
    eager = _message(lambda: cal.predict_proba(p[:, :2]))
    assert _message(lambda: cal.predict_proba(x[:, :2])) == eager  # eager: the shape is known
    bad = p.copy()
    bad[[250, 420], [1, 0]] = 0.0
    bad /= bad.sum(axis=1, keepdims=True)
    lazy = cal.transform(da.from_array(bad, chunks=100))  # each block is checked when computed
    with pytest.raises(ValueError, match=r"hold 1 exact zero\(s\) \(the first at row (250, class 1|420, class 0)\)"):
        lazy.compute()  # the first block to fail says so: either
    with pytest.raises(ValueError, match=r"hold 1 exact zero\(s\) \(the first at row 250, class 1\)"):
        lazy.blocks[2].compute()  # rows are numbered in the whole array
    bad[420] = np.nan
    with pytest.raises(ValueError, match=r"VectorScaling\.predict_proba: probabilities contains NaN"):
        cal.predict_proba(da.from_array(bad, chunks=100)).blocks[4].compute()


# ---- a real cluster


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_fit_on_a_local_cluster(cluster, data, rng, cls):
    scores, y = data
    s, w = scores["logits"], _weights(rng, "integers")
    lazy = cls().fit(da.from_array(s, chunks=300), da.from_array(y, chunks=200), sample_weight=w)
    eager = cls().fit(s, y, sample_weight=w)
    _assert_same_fit(lazy, eager)
    np.testing.assert_allclose(
        lazy.predict_proba(da.from_array(s, chunks=300)).compute(), eager.predict_proba(s), rtol=0, atol=1e-12
    )
