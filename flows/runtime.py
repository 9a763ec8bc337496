"""Where flows run their tasks: a Dask LocalCluster on loopback, or an existing cluster.

Every cluster facelead starts speaks TLS with certificates made at start (mutual: a
client needs the cluster's CA and a certificate it signed), so another process on the
host cannot connect to the scheduler or the workers and run code in them.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import typing
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import dask
from distributed.security import Security
from prefect import Flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.settings import get_current_settings
from prefect.states import Completed, State
from prefect_dask import DaskTaskRunner

from facelead.access import User
from facelead.cluster import client_security
from facelead.console import scheduled_run
from facelead.policy import Action
from facelead.refusal import Refusal
from facelead.settings import Settings, current_settings
from facelead.workflow import record_refusal, run_principal

# Who the running flow acts for, once known: (database, user id, action, target).
_ACTING: ContextVar[tuple[Path, str, Action, str] | None] = ContextVar("facelead_acting", default=None)


def share_prefect_api() -> str:
    """Export this process's Prefect API URL so Dask worker processes use the same API.

    Without a configured server Prefect runs a temporary one per process; each new worker
    process would otherwise start its own (seconds each, and its runs invisible here).
    """
    url = os.environ.get("PREFECT_API_URL") or get_current_settings().api.url
    if not url:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()  # the same instance this process's client uses
        server.start()
        url = server.api_url
    os.environ["PREFECT_API_URL"] = url
    return url


# Workers here run long CPU-bound batches on every core: sample and poll less, so the
# cluster's own housekeeping takes less from the models (measured ~8% on 2 cores).
# Dask's default malloc trim threshold (64 KiB) also fixes glibc's mmap threshold at
# 128 KiB, so every photo-sized buffer is mapped, faulted in and unmapped again: 10-15% of
# a worker's time. Buffers up to 32 MiB come from the heap, and freed memory up to 64 MiB
# (a few decoded photos) stays in the worker.
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 64 << 20, "MALLOC_MMAP_THRESHOLD_": 32 << 20}
LOCAL_WORKER_CONFIG = {
    # No dashboard: a local cluster's HTTP ports answer health checks alone (its info pages
    # would show any local user the logs, paths and call stacks of the runs, with no sign-in).
    "distributed.scheduler.http.routes": ["distributed.http.health"],
    "distributed.worker.http.routes": ["distributed.http.health"],
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "2s",
    **{f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_MALLOC.items()},
}


class FaceleadDaskTaskRunner(DaskTaskRunner):
    """DaskTaskRunner whose local workers report to the flow's own Prefect API, and whose
    LocalCluster speaks TLS with certificates made for this run. Made with no cluster
    (``FaceleadDaskTaskRunner()``, the flows' default) it reads the settings when a run
    starts, never when a flow module is imported: a bad setting fails that run alone."""

    _CONFIGURED = ("address", "cluster_class", "resolved_cluster_class", "cluster_kwargs", "client_kwargs")

    def __enter__(self):
        if self.address is None and self.cluster_class is None:
            configured = dask_task_runner(current_settings())
            for name in self._CONFIGURED:
                setattr(self, name, getattr(configured, name))
        if self.address is None:
            share_prefect_api()
            dask.config.set(LOCAL_WORKER_CONFIG)
            # The local scheduler and nannies run in this process and log every connection,
            # worker start and close at INFO (about 40 lines a run); warnings still show.
            logging.getLogger("distributed").setLevel(logging.WARNING)
            self.cluster_kwargs["security"] = Security.temporary()
        return super().__enter__()


def dask_task_runner(settings: Settings | None = None) -> DaskTaskRunner:
    """A task runner on ``settings.dask.address`` (with the TLS credentials in
    ``settings.dask.tls_dir`` when given), else a LocalCluster of single-thread worker
    processes bound to 127.0.0.1 with scratch files under the data folder."""
    settings = settings or current_settings()
    if settings.dask.address:
        tls = settings.dask.tls_dir
        return FaceleadDaskTaskRunner(address=settings.dask.address,
                                      client_kwargs={"security": client_security(tls)} if tls else {})
    return FaceleadDaskTaskRunner(
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
            "preload": ["flows.worker_setup"],
        },
    )


def acting_user(settings: Settings, action: Action, target: str, grant: str | None, **params: Any) -> User:
    """Who this flow run acts for (``workflow.run_principal``): the user its grant
    names for ``action`` with exactly ``params``, or, for a run its deployment's schedule or
    trigger made that carries no grant, the schedule's identity. How the run was made is
    read from the run as the Prefect server recorded it, not from the environment."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    scheduled = run is not None and scheduled_run(run.deployment_id, bool(run.auto_scheduled),
                                                  run.created_by.type if run.created_by else None)
    user = run_principal(settings, action, target, params, grant, scheduled)
    _ACTING.set((settings.database_path, user.user_id, action, target))
    return user


class _AuditedBody:
    """A flow's function, auditing the refusals it raises once its person is known. A class
    of this module, not a closure: Prefect pickles the flow with every task it sends to Dask."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        functools.update_wrapper(self, inner)
        # Prefect validates a run's parameters against the types of the function it calls:
        # resolved here in the flow's own module (this wrapper's globals are this module's).
        self.__signature__ = inspect.signature(inner, eval_str=True)
        self.__annotations__ = typing.get_type_hints(inner, include_extras=True)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = _ACTING.set(None)
        try:
            return self.__wrapped__(*args, **kwargs)
        except Refusal as exc:
            acting = _ACTING.get()
            if acting is not None and not exc.audited:
                record_refusal(*acting, exc)
            refused = refused_state(exc)
            if refused is None:
                raise
            return refused
        finally:
            _ACTING.reset(token)


def refused_state(exc: Refusal) -> State | None:
    """How a deployment's run (nobody in its process waits for the exception) ends when
    facelead refuses it: Completed, named Refused, with a ``refusal`` artifact giving the
    reason code (the detail may name a case or a file: it stays in facelead's audit log).
    None for a flow called from Python, which raises the refusal to its caller."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.deployment_id is None:
        return None
    message = f"refused: {exc.reason} (facelead's audit log has the detail)"
    create_markdown_artifact(f"**Refused** by facelead: `{exc.reason}`. The run did nothing; the audit log names "
                             "who asked and why it was refused.", key="refusal", description=message)
    get_run_logger().warning("%s", message)
    return Completed(name="Refused", message=message)


def refusals_audited(flow: Flow) -> Flow:
    """``flow`` (decorate above ``@flow``), whose body audits every refusal it raises once its
    person is known (``acting_user``) as ``<action>.refused`` under that person, unless
    already audited where it was raised. Prefect has read the body's name, parameters and
    version from the flow's own function already."""
    flow.fn = _AuditedBody(flow.fn)
    return flow
