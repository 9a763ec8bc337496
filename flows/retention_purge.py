"""Retention purge: remove what was marked for removal, and probe images past retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from facelead.flows.runtime import acting_user
from facelead.policy import Action
from facelead.settings import Settings
from facelead.tasks.persist import DB_TASK
from facelead.warehouse import db


@task(**DB_TASK)
def purge_warehouse(db_path: Path, probe_days: int, sheets_dir: Path, actor: str) -> dict:
    """Purge in one transaction, delete the sheet files that showed purged images, audit the
    counts (never the removed data); returns the counts."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        done = db.purge(conn, db.now() - timedelta(days=probe_days))
        for search_id in done["sheets"]:
            (sheets_dir / f"{search_id}.html").unlink(missing_ok=True)
        counts = {**{k: v for k, v in done.items() if k != "sheets"}, "sheet_files": len(done["sheets"]),
                  "probe_retention_days": probe_days}
        db.append_audit(conn, actor, "retention.purge", "warehouse", counts)
    return counts


@flow(name="retention-purge")
def retention_purge(grant: str | None = None) -> dict:
    """Delete the faces, thumbnails, embeddings and images of subjects removed from every
    gallery, subjects left with none, and probe images older than the retention period.

    Searches stop returning removed faces when they are removed; this makes it final. The
    faces leave the ScaNN index at its next build; until then the serving index filters them.
    An admin runs it with `facelead purge`; a run of the deployment acts as the operator console.

    Args:
        grant: Issued by facelead when an admin asks (`facelead purge`); leave empty in the UI.
    """
    settings = Settings()
    actor = acting_user(settings, Action.PURGE, "warehouse", grant).user_id
    counts = purge_warehouse(settings.database_path, settings.probe_retention_days, settings.sheets_dir, actor)
    create_markdown_artifact("# Retention purge\n\n| | count |\n|---|---|\n"
                             + "".join(f"| {k} | {v} |\n" for k, v in counts.items()), key="retention-purge")
    return counts
