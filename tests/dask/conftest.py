"""Dask tests: skipped without the `dask` extra.

Tests compute on Dask's synchronous scheduler (tiny arrays: no thread pool to start; and the blocks run
in the main thread, so the kernels take the same numba path as in memory). `cluster` is a client of a
distributed.LocalCluster of two worker processes on 127.0.0.1, started once per test session (per xdist
worker) and stopped at its end; it is the scheduler only inside the tests that ask for it.
"""

import pytest

pytest.importorskip("dask.array")
pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def _local_cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture
def cluster(_local_cluster):
    import dask

    with _local_cluster.as_current(), dask.config.set(scheduler=_local_cluster.get):
        yield _local_cluster


@pytest.fixture(autouse=True)
def _local_scheduler(request):
    """The synchronous scheduler, except in the tests that ask for the cluster."""
    if "cluster" in request.fixturenames:
        yield
        return
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield
