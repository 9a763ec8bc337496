"""Enrollment's units of work: a run's start, its batches, its end and its subjects' attributes."""

from __future__ import annotations

from pathlib import Path

from expectations.quality import suite_version
from facelead.intake.batches import BatchContext, BatchResult
from facelead.settings import QualityBar
from models.faces import FaceModels
from warehouse import chain, db, gallery_store


def start_enrollment(db_path: Path, run_id: str, gallery_id: str, models: FaceModels, source: str, actor: str,
                     bar: QualityBar) -> set[str]:
    """Record the run, gallery, models and quality bar; return the content hashes not to look at again."""
    rec = models.recogniser
    with db.open_db(db_path) as conn, db.transaction(conn):
        gallery_store.ensure_gallery(conn, gallery_id)
        for m in (models.detector, models.recogniser):
            gallery_store.register_model(conn, m.model_id, m.manifest.id, m.manifest.role, m.sha256,
                                         m.manifest.output_dim, m.manifest.licence)
        gallery_store.start_enrollment_run(conn, run_id, gallery_id, rec.model_id, source, actor)
        chain.append_audit(conn, actor, "enrollment.start", f"gallery:{gallery_id}",
                           {"run_id": run_id, "input": source, "model_id": rec.model_id,
                            "quality_suite": {"version": suite_version(bar), "limits": bar.model_dump()}})
        return gallery_store.known_hashes(conn, gallery_id, rec.model_id, suite_version(bar))


def persist_batch(db_path: Path, ctx: BatchContext, actor: str, batch: BatchResult) -> None:
    """Insert one batch of enrolled faces, refusals and quality verdicts with its audit row, atomically."""
    refused = batch.refused.to_pydict()
    with db.open_db(db_path) as conn, db.transaction(conn):
        if batch.enrolled.num_rows:
            gallery_store.insert_enrolled(conn, batch.enrolled)
        if batch.refused.num_rows:
            gallery_store.insert_refusals(conn, batch.refused)
        if batch.quality.validations.num_rows:
            gallery_store.insert_quality(conn, batch.quality.validations, batch.quality.results)
        chain.append_audit(conn, actor, "enrollment.batch", f"gallery:{ctx.gallery_id}", {
            "run_id": ctx.run_id,
            "enrolled": sorted(batch.enrolled.column("sha256").to_pylist()),
            "refused": sorted(f"{reason}:{sha or path}" for reason, sha, path
                              in zip(refused["reason"], refused["sha256"], refused["source_path"])),
        })


def finish_enrollment(db_path: Path, run_id: str, gallery_id: str, actor: str, summary: dict) -> None:
    """Close the run with its counts, audited."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        gallery_store.finish_enrollment_run(conn, run_id, summary["images_seen"], summary["enrolled"],
                                            summary["duplicates"], summary["refused"])
        chain.append_audit(conn, actor, "enrollment.finish", f"gallery:{gallery_id}", {"run_id": run_id, **summary})


def record_subject_attributes(db_path: Path, gallery_id: str, run_id: str, attributes: dict[str, dict[str, str]],
                              actor: str) -> int:
    """Store what the manifest says about each subject (the values never appear in the
    audit row: only which attributes and how many subjects), audited."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        written = gallery_store.insert_subject_attributes(conn, gallery_id, run_id, attributes)
        chain.append_audit(conn, actor, "enrollment.attributes", f"gallery:{gallery_id}", {
            "run_id": run_id, "subjects": len(attributes), "values": written,
            "names": sorted({name for values in attributes.values() for name in values})})
        return written
