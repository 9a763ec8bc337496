"""Dask worker preload: import the task code, load the configured models and the quality
suites' Great Expectations context when a worker starts, so the first batch does not pay
for them (about 6 s). Use on your own workers with
``dask worker --preload flows.worker_setup``."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def dask_setup(worker) -> None:
    try:
        from expectations.quality import prepare
        from facelead.settings import Settings
        from models.faces import load
        from tasks.faces import face_models

        settings = Settings()
        load(face_models(settings))
        prepare("gallery", settings.quality.gallery)
    except Exception:  # the first task will report the same problem with its context
        log.exception("facelead: could not preload models or quality suites on %s", worker.address)
