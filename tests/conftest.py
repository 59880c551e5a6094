"""Shared test configuration: hypothesis profiles and a seeded random generator."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests stay quick by default; `HYPOTHESIS_PROFILE=thorough pytest` runs many more examples.
settings.register_profile("fast", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture
def rng():
    """A fresh, seeded generator per test (never the global NumPy seed)."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread_per_worker():
    """Under pytest-xdist every worker is a process: give each one BLAS thread so they don't oversubscribe."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
