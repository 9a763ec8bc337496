"""The program's oversight counts and its retention purge, each one audited unit of work."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from facelead.settings import Settings
from warehouse import casefile, chain, db, purge
from warehouse.records import OversightRow


def oversight_rows(db_path: Path, start: date, end: date, actor: str) -> list[OversightRow]:
    """The per-offense rows for requests filed from ``start`` up to, not including, ``end`` (UTC); audited."""
    lower, upper = (datetime.combine(d, time(), tzinfo=timezone.utc) for d in (start, end))
    with db.open_db(db_path) as conn:
        rows = casefile.oversight(conn, lower, upper)
        with db.transaction(conn):
            chain.append_audit(conn, actor, "report.oversight", f"period:{start}/{end}", {"offense_codes": len(rows)})
    return rows


def unused_probes(probes_dir: Path, in_use: set[str], uploaded_before: datetime) -> list[Path]:
    """The probe files under ``probes_dir`` that no request or search in retention uses
    (``in_use``: their paths), past retention or uploaded before ``uploaded_before`` and
    never filed. Nothing outside ``probes_dir`` is ever named."""
    kept = {Path(p).resolve() for p in in_use}
    return sorted(path for path in probes_dir.glob("*") if path.is_file() and path.resolve() not in kept
                  and datetime.fromtimestamp(path.stat().st_mtime, timezone.utc) < uploaded_before)


def purge_warehouse(settings: Settings, actor: str) -> dict:
    """Purge in one transaction, audited with counts and the exports that held purged faces
    (never the removed data); then delete the index builds and sheet files that held them,
    the probe files past retention or never filed (``unused_probes``) and the auditors'
    snapshot, and rewrite the database file so no free block keeps their bytes. Returns the report."""
    now = db.now()
    probe_cutoff = now - timedelta(days=settings.probe_retention_days)
    with db.open_db(settings.database_path) as conn, db.transaction(conn):
        done = purge.purge(conn, probe_cutoff, now - timedelta(days=settings.retired_build_days))
        probe_files = unused_probes(settings.probes_dir, casefile.probes_in_retention(conn, probe_cutoff),
                                    now - timedelta(hours=settings.upload_grace_hours))
        report = {"faces": done.faces, "images": done.images, "subjects": done.subjects,
                  "probe_images": done.probe_images, "probe_files": len(probe_files), "sheet_files": len(done.sheets),
                  "index_builds_deleted": len(done.build_folders),
                  "probe_retention_days": settings.probe_retention_days,
                  "retired_build_days": settings.retired_build_days,
                  "exports_holding_purged_faces": done.exports}
        chain.append_audit(conn, actor, "retention.purge", "warehouse", report)
    for folder in done.build_folders:
        shutil.rmtree(settings.database_path.parent / folder, ignore_errors=True)
    for search_id in done.sheets:
        (settings.sheets_dir / f"{search_id}.html").unlink(missing_ok=True)
    for path in probe_files:
        path.unlink(missing_ok=True)
    report["audit_snapshot_removed"] = settings.audit_snapshot_path.is_file()
    settings.audit_snapshot_path.unlink(missing_ok=True)  # it held what was purged; the next query builds it anew
    report["database_bytes"] = db.rewrite_file(settings.database_path)
    return report
