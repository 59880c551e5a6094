"""Dask tests: skipped without the `dask` extra; `cluster` is a distributed.LocalCluster of two worker
processes on 127.0.0.1, started once per test session (per xdist worker) and stopped at its end."""

import pytest

pytest.importorskip("dask.array")
pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        yield client
