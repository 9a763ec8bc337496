"""Retention purge: remove what was marked for removal, and probe images past retention."""

from __future__ import annotations

import shutil
from datetime import timedelta

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from facelead.flows.runtime import acting_user
from facelead.policy import Action
from facelead.settings import Settings
from facelead.tasks.persist import DB_TASK
from facelead.warehouse import db


@task(**DB_TASK)
def purge_warehouse(settings: Settings, actor: str) -> dict:
    """Purge in one transaction, audited with counts and the exports that held purged faces
    (never the removed data); then delete the index builds and sheet files that held them,
    and rewrite the database file so no free block keeps their bytes. Returns the report."""
    now = db.now()
    with db.open_db(settings.database_path) as conn, db.transaction(conn):
        done = db.purge(conn, now - timedelta(days=settings.probe_retention_days),
                        now - timedelta(days=settings.retired_build_days))
        report = {"faces": done.faces, "images": done.images, "subjects": done.subjects,
                  "probe_images": done.probe_images, "sheet_files": len(done.sheets),
                  "index_builds_deleted": len(done.build_folders),
                  "probe_retention_days": settings.probe_retention_days,
                  "retired_build_days": settings.retired_build_days,
                  "exports_holding_purged_faces": done.exports}
        db.append_audit(conn, actor, "retention.purge", "warehouse", report)
    for folder in done.build_folders:
        shutil.rmtree(settings.database_path.parent / folder, ignore_errors=True)
    for search_id in done.sheets:
        (settings.sheets_dir / f"{search_id}.html").unlink(missing_ok=True)
    report["database_bytes"] = db.rewrite_file(settings.database_path)
    return report


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
        grant: Issued by facelead when an admin asks (`facelead purge`); leave empty in the UI.
    """
    settings = Settings()
    actor = acting_user(settings, Action.PURGE, "warehouse", grant).user_id
    report = purge_warehouse(settings, actor)
    create_markdown_artifact("# Retention purge\n\n| | count |\n|---|---|\n"  # counts only: Prefect keeps artifacts
                             + "".join(f"| {k} | {len(v) if isinstance(v, list) else v} |\n" for k, v in report.items()),
                             key="retention-purge")
    return report
