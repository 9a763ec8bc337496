"""The retention purge as one task: the warehouse purged in one audited transaction, then
the files that held purged faces deleted and the database file rewritten."""

from __future__ import annotations

import shutil
from datetime import timedelta

from prefect import task

from facelead.settings import Settings
from tasks.persist import DB_TASK
from warehouse import chain, db, purge


@task(**DB_TASK)
def purge_warehouse(settings: Settings, actor: str) -> dict:
    """Purge in one transaction, audited with counts and the exports that held purged faces
    (never the removed data); then delete the index builds and sheet files that held them,
    and rewrite the database file so no free block keeps their bytes. Returns the report."""
    now = db.now()
    with db.open_db(settings.database_path) as conn, db.transaction(conn):
        done = purge.purge(conn, now - timedelta(days=settings.probe_retention_days),
                           now - timedelta(days=settings.retired_build_days))
        report = {"faces": done.faces, "images": done.images, "subjects": done.subjects,
                  "probe_images": done.probe_images, "sheet_files": len(done.sheets),
                  "index_builds_deleted": len(done.build_folders),
                  "probe_retention_days": settings.probe_retention_days,
                  "retired_build_days": settings.retired_build_days,
                  "exports_holding_purged_faces": done.exports}
        chain.append_audit(conn, actor, "retention.purge", "warehouse", report)
    for folder in done.build_folders:
        shutil.rmtree(settings.database_path.parent / folder, ignore_errors=True)
    for search_id in done.sheets:
        (settings.sheets_dir / f"{search_id}.html").unlink(missing_ok=True)
    report["database_bytes"] = db.rewrite_file(settings.database_path)
    return report
