"""Split conformal prediction on Dask arrays: the in-memory threshold bit for bit, the same draws, lazy sets."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softmaxkit.conformal import SplitConformal

N, K = 1001, 5
#: one block; even blocks; uneven blocks with an empty one and a one-row one
CHUNKINGS = [N, 250, (1, 0, 600, 400)]
SCORES = [("lac", False), ("aps", False), ("aps", True)]


@pytest.fixture
def data(rng):
    probs = rng.dirichlet(np.full(K, 0.5), size=N)
    probs[::10] = np.round(probs[::10], 1)  # ties among the scores
    probs[::10] /= probs[::10].sum(axis=1, keepdims=True)
    return probs, rng.integers(0, K, size=N)


def _lazy(probs, labels, chunks):
    return da.from_array(probs, chunks=(chunks, 2)), da.from_array(labels, chunks=300)


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=["one-block", "even", "uneven"])
@pytest.mark.parametrize(("score", "randomized"), SCORES)
def test_threshold_is_the_in_memory_one_exactly(data, score, randomized, chunks):
    probs, labels = data
    for alpha in (0.1, 0.37, 1 / 1002 - 1e-9):  # the last one too small: qhat is inf
        eager = SplitConformal(score, randomized=randomized, random_state=3).fit(probs, labels, alpha=alpha)
        lazy = SplitConformal(score, randomized=randomized, random_state=3).fit(
            *_lazy(probs, labels, chunks), alpha=alpha
        )
        assert lazy.qhat_ == eager.qhat_  # bit for bit (inf == inf)
        assert (lazy.alpha_, lazy.n_calib_, lazy.n_classes_, lazy.quantile_level_) == (
            eager.alpha_,
            eager.n_calib_,
            eager.n_classes_,
            eager.quantile_level_,
        )
    assert np.isinf(lazy.qhat_)


def test_arguments_in_memory_and_other_dtypes(data):
    probs, labels = data
    eager = SplitConformal("aps", randomized=True, random_state=1).fit(probs, labels)
    for p, y in ((probs, da.from_array(labels, chunks=200)), (da.from_array(probs, chunks=300), list(labels))):
        assert SplitConformal("aps", randomized=True, random_state=1).fit(p, y).qhat_ == eager.qhat_
    p32, y32 = probs.astype(np.float32), labels.astype(np.uint8)
    eager = SplitConformal("lac").fit(p32, y32)
    assert SplitConformal("lac").fit(da.from_array(p32, chunks=128), da.from_array(y32, chunks=99)).qhat_ == eager.qhat_


@given(st.integers(1, 40), st.integers(1, 4), st.integers(1, 9), st.sampled_from(SCORES), st.data())
def test_threshold_equals_in_memory_on_small_data(n, k, chunk, score, data):
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n).round(data.draw(st.integers(1, 3)))  # many ties
    labels = rng.integers(0, k, size=n)
    alpha = data.draw(st.floats(0.01, 0.99))
    eager = SplitConformal(score[0], randomized=score[1], random_state=seed).fit(probs, labels, alpha=alpha)
    lazy = SplitConformal(score[0], randomized=score[1], random_state=seed)
    lazy.fit(da.from_array(probs, chunks=chunk), da.from_array(labels, chunks=chunk), alpha=alpha)
    assert lazy.qhat_ == eager.qhat_


def test_five_passes_over_the_chunks():
    """One pass checks the data, four find the order statistic; the draws of randomised APS are no pass."""
    rng = np.random.default_rng(0)
    probs, labels = rng.dirichlet(np.ones(3), size=400), rng.integers(0, 3, size=400)
    reads = []

    def read(block, block_info=None):
        reads.append(block_info[0]["chunk-location"][0])
        return block

    x = da.from_array(probs, chunks=(100, 3)).map_blocks(read, dtype=np.float64)
    SplitConformal("aps", randomized=True, random_state=0).fit(x, labels)
    assert sorted(reads) == sorted(list(range(4)) * 5)


# ---- randomised APS: the same draws


def test_randomized_draws_follow_the_generator(data):
    """A Generator passed in is used and advanced as in memory: by fit, then by every predict_sets call."""
    probs, labels = data
    eager_rng, lazy_rng = np.random.default_rng(8), np.random.default_rng(8)
    eager_rng.integers(0, 10, dtype=np.uint32)  # leaves a buffered 32-bit half, which doubles do not touch
    lazy_rng.integers(0, 10, dtype=np.uint32)
    eager = SplitConformal("aps", randomized=True, random_state=eager_rng).fit(probs, labels)
    lazy = SplitConformal("aps", randomized=True, random_state=lazy_rng).fit(*_lazy(probs, labels, CHUNKINGS[2]))
    assert lazy.rng_ is lazy_rng and lazy.qhat_ == eager.qhat_
    assert lazy_rng.bit_generator.state == eager_rng.bit_generator.state
    for chunks in CHUNKINGS:
        sets = lazy.predict_sets(da.from_array(probs, chunks=(chunks, K)))
        assert lazy_rng.bit_generator.state != eager_rng.bit_generator.state  # drawn now, as in memory
        expected = eager.predict_sets(probs)
        assert lazy_rng.bit_generator.state == eager_rng.bit_generator.state
        np.testing.assert_array_equal(sets.compute(), expected)
        np.testing.assert_array_equal(sets.compute(), expected)  # the same sets each time they are computed
    assert lazy_rng.integers(0, 2**32, dtype=np.uint32) == eager_rng.integers(0, 2**32, dtype=np.uint32)


def test_pcg64dxsm_works_and_other_generators_are_refused(data):
    probs, labels = data
    make = np.random.Generator
    eager = SplitConformal("aps", randomized=True, random_state=make(np.random.PCG64DXSM(4))).fit(probs, labels)
    lazy = SplitConformal("aps", randomized=True, random_state=make(np.random.PCG64DXSM(4)))
    assert lazy.fit(*_lazy(probs, labels, 300)).qhat_ == eager.qhat_
    cp = SplitConformal("aps", randomized=True, random_state=make(np.random.MT19937(4)))
    with pytest.raises(TypeError, match=r"SplitConformal\.fit: randomized APS on Dask arrays .* uses MT19937"):
        cp.fit(*_lazy(probs, labels, 300))
    cp.fit(probs, labels)  # in memory: any generator
    with pytest.raises(TypeError, match=r"SplitConformal\.predict_sets: randomized APS .* uses MT19937"):
        cp.predict_sets(da.from_array(probs, chunks=300))


# ---- lazy prediction sets


@pytest.mark.parametrize(("score", "randomized"), SCORES)
def test_predict_sets_is_lazy_and_equal(data, score, randomized):
    probs, labels = data
    eager = SplitConformal(score, randomized=randomized, random_state=0).fit(probs[:500], labels[:500])
    lazy = SplitConformal(score, randomized=randomized, random_state=0).fit(probs[:500], labels[:500])
    sets = lazy.predict_sets(da.from_array(probs, chunks=(CHUNKINGS[2], 3)))
    assert isinstance(sets, da.Array) and sets.dtype == bool and sets.shape == probs.shape
    np.testing.assert_array_equal(sets.compute(), eager.predict_sets(probs))


def test_predict_sets_of_unknown_chunk_sizes(data):
    probs, labels = data
    cp = SplitConformal("aps").fit(probs, labels)
    x = da.from_array(probs, chunks=200)
    keep = probs[:, 0] > 0.2
    np.testing.assert_array_equal(cp.predict_sets(x[x[:, 0] > 0.2]).compute(), cp.predict_sets(probs[keep]))
    randomized = SplitConformal("aps", randomized=True, random_state=0).fit(probs, labels)
    with pytest.raises(ValueError, match=r"predict_sets: probs has unknown chunk sizes .*compute_chunk_sizes\(\)"):
        randomized.predict_sets(x[x[:, 0] > 0.2])


# ---- the same errors


def _message(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return type(info.value), str(info.value)


def _bad_fits():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=10)
    y = rng.integers(0, 3, size=10)
    nan = p.copy()
    nan[6, 1] = np.nan
    outside = p.copy()
    outside[[4, 8], [0, 2]] = [1.5, -0.25]
    cases = {
        "nan": (nan, y),
        "nan and bad labels": (nan, y[:4]),  # the probabilities are checked first
        "outside [0, 1]": (outside, y),
        "1-D": (p[:, 0], y),
        "no rows": (p[:0], y[:0]),
        "no classes": (p[:, :0], y),
        "complex": (p.astype(complex), y),
        "float labels": (p, y.astype(float)),
        "labels too long": (p, np.zeros(11, int)),
        "label too large": (p, np.where(y == 1, 3, y)),
        "negative label": (p, np.where(y == 1, -2, y)),
    }
    return [pytest.param(p, y, id=name) for name, (p, y) in cases.items()]


@pytest.mark.parametrize(("probs", "labels"), _bad_fits())
def test_fit_errors_are_the_in_memory_ones(probs, labels):
    eager = _message(lambda: SplitConformal("aps").fit(probs, labels))
    lazy = _message(lambda: SplitConformal("aps").fit(da.from_array(probs, chunks=4), da.from_array(labels, chunks=4)))
    assert lazy == eager


def test_predict_sets_errors(data):
    probs, labels = data
    cp = SplitConformal().fit(probs, labels)
    assert _message(lambda: cp.predict_sets(da.from_array(probs[:, :3]))) == _message(
        lambda: cp.predict_sets(probs[:, :3])
    )
    assert _message(lambda: cp.predict_sets(da.from_array(probs[:0]))) == _message(lambda: cp.predict_sets(probs[:0]))
    bad = probs.copy()
    bad[700, 2] = np.nan
    sets = cp.predict_sets(da.from_array(bad, chunks=250))  # the values are checked when computed
    with pytest.raises(ValueError, match=r"SplitConformal\.predict_sets: probs contains NaN or infinite values"):
        sets.compute()
    with pytest.raises(ValueError, match="not fitted"):
        SplitConformal().predict_sets(da.from_array(probs))
    with pytest.raises(ValueError, match=r"SplitConformal.fit: probs has unknown chunk sizes"):
        x = da.from_array(probs, chunks=100)
        SplitConformal().fit(x[x[:, 0] > 0.5], labels)


# ---- a real cluster


def test_fit_on_a_local_cluster(cluster, data):
    probs, labels = data
    eager = SplitConformal("aps", randomized=True, random_state=5).fit(probs, labels, alpha=0.2)
    lazy = SplitConformal("aps", randomized=True, random_state=5)
    lazy.fit(*_lazy(probs, labels, 250), alpha=0.2)
    assert lazy.qhat_ == eager.qhat_
    sets = lazy.predict_sets(da.from_array(probs, chunks=250))
    np.testing.assert_array_equal(sets.compute(), eager.predict_sets(probs))
