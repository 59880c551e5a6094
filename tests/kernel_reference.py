"""What the tests of the fused numba kernels compare against: the public functions on the NumPy path.

Shared by ``test_numba.py`` (rows, narrow and split modes) and ``test_kernels_axis.py`` (column mode);
importable because ``tests`` is on pytest's ``pythonpath``.
"""

from __future__ import annotations

import numpy as np

from softmaxkit._numba import dispatch

__all__ = ["assert_agree", "reference"]


def reference(func, *args, **kwargs):
    """Run a public function on the NumPy path."""
    saved = dispatch.MIN_SIZE
    dispatch.MIN_SIZE = 1 << 62
    try:
        return func(*args, **kwargs)
    finally:
        dispatch.MIN_SIZE = saved


def assert_agree(got, want, dtype, atol_ulps=64, rtol_ulps=8):
    """Same NaN / inf pattern; finite values within a few ulps (relative) plus a small absolute slack."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf])
    fin = np.isfinite(want)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol_ulps * eps, atol=atol_ulps * eps)
