"""Retention purge: remove what was marked for removal, and probe images past retention."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from facelead.policy import Action
from facelead.settings import current_settings
from flows.runtime import acting_user, refusals_audited
from tasks.persist import purge_warehouse


@refusals_audited
@flow(name="retention-purge")
def retention_purge(grant: str | None = None) -> dict:
    """Delete the faces, thumbnails, embeddings and images of subjects removed from every
    gallery, subjects left with none, probe images older than the retention period, and
    index builds retired longer than theirs; leave no copy behind.

    Searches stop returning removed faces when they are removed; this makes it final: every
    index build holding a purged face is deleted (its gallery is searched exactly until the
    next `facelead index build`), the sheets that showed one are deleted, the rows that named
    its subject keep only ids, and the database file is rewritten. The report lists the case
    exports that carried a purged face out of facelead. An admin runs it with `facelead
    purge`; a run of the deployment acts as the operator console.

    Args:
        grant: Issued by facelead for the admin who asks (`facelead purge`, or the Prefect UI behind
            facelead); leave empty. The nightly schedule's own run needs none.
    """
    settings = current_settings()
    actor = acting_user(settings, Action.PURGE, "warehouse", grant).user_id
    report = purge_warehouse(settings, actor)
    create_markdown_artifact("# Retention purge\n\n| | count |\n|---|---|\n"  # counts only: Prefect keeps artifacts
                             + "".join(f"| {k} | {len(v) if isinstance(v, list) else v} |\n" for k, v in report.items()),
                             key="retention-purge")
    return report
