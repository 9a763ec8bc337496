"""Dask worker preload: import the task code and load the configured models when a worker
starts, so the first batch does not pay for them. Use on your own workers with
``dask worker --preload facelead.flows.worker_setup``."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def dask_setup(worker) -> None:
    try:
        from facelead.models.faces import load
        from facelead.settings import Settings
        from facelead.tasks.faces import face_models

        load(face_models(Settings()))
    except Exception:  # the first task will report the same problem with its context
        log.exception("facelead: could not preload models on %s", worker.address)
