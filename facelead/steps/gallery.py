"""A gallery's units of work beside enrollment: its vectors and serving build read for a
search, a new index build switched to, its calibration and its evaluations stored."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from models.calibration import Calibration, PossibleDuplicate
from models.index import BuildPlan, GalleryVectors
from warehouse import chain, db, gallery_store
from warehouse.records import EvaluationRecord, IndexBuildRecord, StoredBuild


def load_gallery(db_path: Path, gallery_id: str, model_id: str, as_of: datetime) -> GalleryVectors:
    """The gallery's faces for this model as of ``as_of``."""
    with db.open_db(db_path) as conn:
        return gallery_store.gallery_vectors(conn, gallery_id, model_id, as_of)


def index_status(db_path: Path, gallery_id: str, model_id: str) -> tuple[int, StoredBuild | None]:
    """(faces searchable in the gallery, its serving index build or None)."""
    with db.open_db(db_path) as conn:
        return gallery_store.gallery_size(conn, gallery_id, model_id), gallery_store.active_build(conn, gallery_id, model_id)


def read_build_plan(db_path: Path, gallery_id: str, model_id: str, build: StoredBuild, as_of: datetime) -> BuildPlan:
    """The rows of ``build`` removed since it was made, and the faces enrolled since it up to ``as_of``."""
    with db.open_db(db_path) as conn:
        return BuildPlan(gallery_store.removed_members(conn, gallery_id, model_id, build.build_id),
                         gallery_store.delta_vectors(conn, gallery_id, model_id, build, as_of))


def record_build(db_path: Path, build: IndexBuildRecord, shards: list[list[int]], face_ids: list[str]) -> None:
    """Switch the gallery to the new build and audit it, in one transaction. ``shards`` holds
    each shard's rows into ``face_ids``, the gallery's faces as the build read them."""
    members = pa.table({
        "shard": pa.array([i for i, rows in enumerate(shards) for _ in rows], pa.int32()),
        "row": pa.array([r for rows in shards for r in range(len(rows))], pa.int32()),
        "face_id": [face_ids[r] for rows in shards for r in rows],
    })
    with db.open_db(db_path) as conn, db.transaction(conn):
        gallery_store.record_build(conn, build, members)
        chain.append_audit(conn, build.actor, "index.build", f"gallery:{build.gallery_id}", {
            "build_id": build.build_id, "model_id": build.model_id, "folder": build.folder, "shards": build.shards,
            "vectors": build.vectors, "params": build.params, "file_hashes": build.file_hashes})


def same_person_marks(db_path: Path, gallery_id: str) -> list[tuple[str, str]]:
    """The subject pairs an operator marked as one person in the gallery."""
    with db.open_db(db_path) as conn:
        return gallery_store.same_person_marks(conn, gallery_id)


def record_calibration(db_path: Path, calibration: Calibration, closest: list[PossibleDuplicate], actor: str,
                       details: dict) -> None:
    """Store a gallery's calibration with its closest subject pairs, audited as
    ``calibration.gallery`` with ``details`` (counts, never subject ids)."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        gallery_store.insert_calibration(conn, calibration, closest)
        chain.append_audit(conn, actor, "calibration.gallery", f"gallery:{calibration.gallery_id}",
                           {"calibration_id": calibration.calibration_id, "model_id": calibration.model_id, **details})


def faces_with_attributes(db_path: Path, gallery_id: str, model_id: str,
                          columns: list[str]) -> tuple[GalleryVectors, dict[str, dict[str, str]]]:
    """The gallery's faces now, and per attribute in ``columns`` each subject's value."""
    with db.open_db(db_path, read_only=True) as conn:
        return (gallery_store.gallery_vectors(conn, gallery_id, model_id, db.now()),
                {column: gallery_store.gallery_attributes(conn, gallery_id, column) for column in columns})


def record_evaluation(db_path: Path, record: EvaluationRecord, calibration: Calibration | None) -> None:
    """Store an evaluation and its calibration (a labeled set's; a gallery's group report has
    none), audited (metrics summarised, never the photos)."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        gallery_store.insert_evaluation(conn, record, calibration)
        chain.append_audit(conn, record.actor, "evaluation.run", f"model:{record.model_id}", {
            "evaluation_id": record.evaluation_id, "dataset": record.dataset,
            "dataset_sha256": record.dataset_sha256, "images": record.images,
            "calibration_id": calibration and calibration.calibration_id, "report_dir": record.report_dir})
