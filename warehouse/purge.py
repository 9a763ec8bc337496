"""The retention purge in the warehouse: what is deleted and reduced, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from warehouse.sql import dicts, query


@dataclass(frozen=True)
class PurgeDone:
    """What a purge removed, for its audit row and the files it must delete; no biometric data."""

    faces: int
    images: int
    subjects: int
    probe_images: int
    sheets: list[str]            # searches whose stored sheets showed purged faces or probes
    build_folders: list[str]     # index builds deleted (relative to the database's folder)
    exports: list[dict]          # case exports made earlier that showed a purged face


def purge(conn: duckdb.DuckDBPyConnection, probe_cutoff: datetime, retired_build_cutoff: datetime) -> PurgeDone:
    """Delete removed faces' biometric data and probe thumbnails older than ``probe_cutoff``;
    reduce the quality, candidate and enrollment rows that named their subject to ids; mark
    deleted every index build that holds a purged face and every build retired before
    ``retired_build_cutoff``. Call inside a transaction; the files are the caller's."""
    conn.execute(query("purge_plan"))
    conn.execute(query("purge_builds"), [retired_build_cutoff])
    faces, images, subjects = conn.execute(query("purge_counts")).fetchone()
    sheets = [row[0] for row in conn.execute(query("purge_sheets")).fetchall()]
    exports = dicts(conn.execute(query("purge_exports")))
    folders = [row[0] for row in conn.execute("SELECT folder FROM purge_builds ORDER BY folder").fetchall()]
    conn.execute(query("purge_apply"))
    probes = [row[0] for row in conn.execute(query("purge_probes"), [probe_cutoff]).fetchall()]
    return PurgeDone(faces, images, subjects, len(probes), sorted(set(sheets) | set(probes)), folders, exports)
