"""An audit row on its own: a refusal, a sheet written, a console call."""

from __future__ import annotations

from pathlib import Path

from facelead.intake.batches import QualityTables
from warehouse import chain, db, gallery_store


def record_event(db_path: Path, actor: str, action: str, target: str, details: dict,
                 quality: QualityTables | None = None) -> None:
    """Append one audit row, with the quality verdicts behind it when given, in one transaction."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        if quality is not None:
            gallery_store.insert_quality(conn, quality.validations, quality.results)
        chain.append_audit(conn, actor, action, target, details)
