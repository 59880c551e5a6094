"""Exact order statistics of Dask arrays by counting passes."""

import dask.array as da
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from softmaxkit._dask import order_statistics

floats = st.floats(allow_nan=False, allow_infinity=True, width=64)


@given(st.lists(floats, min_size=1, max_size=60), st.integers(1, 7), st.data())
def test_order_statistics_equal_sorting(values, chunk, data):
    x = np.array(values, dtype=np.float64)
    ranks = data.draw(st.lists(st.integers(0, len(x) - 1), min_size=1, max_size=5))
    got = order_statistics(da.from_array(x, chunks=chunk), ranks)
    expected = np.sort(x)[ranks]
    assert np.array_equal(np.array(got), expected)


def test_order_statistics_on_the_cluster(cluster):
    rng = np.random.default_rng(0)
    x = rng.normal(size=100_003)
    ranks = [0, 50_000, 90_000, 100_002]
    assert order_statistics(da.from_array(x, chunks=10_000), ranks) == list(np.sort(x)[ranks])
