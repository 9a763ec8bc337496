"""Where flows run their tasks: a Dask LocalCluster on loopback, or an existing cluster."""

from __future__ import annotations

from prefect_dask import DaskTaskRunner

from facelead.settings import Settings


def dask_task_runner(settings: Settings | None = None) -> DaskTaskRunner:
    """A DaskTaskRunner on ``settings.dask.address``, else a LocalCluster of single-thread
    worker processes bound to 127.0.0.1 with scratch files under the data folder."""
    settings = settings or Settings()
    if settings.dask.address:
        return DaskTaskRunner(address=settings.dask.address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": settings.dask.workers,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": "127.0.0.1:0",
            "worker_dashboard_address": "127.0.0.1:0",
            "local_directory": str(settings.data_dir.absolute() / "dask-scratch"),
            "silence_logs": 40,
        },
    )
