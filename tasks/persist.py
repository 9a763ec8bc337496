"""Writes to the warehouse. Called directly in the flow process: the only DuckDB writer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from facelead.models.faces import FaceModels
from facelead.tasks.faces import Enrolled, ProbeFace
from facelead.tasks.inputs import Refused
from facelead.tasks.search import Ranked
from facelead.warehouse import db


def retry_if_transient(task, task_run, state) -> bool:
    """Retry only what may succeed next time: a database locked by another process."""
    try:
        state.result()
    except db.TransientDbError:
        return True
    except Exception:
        return False
    return False


DB_TASK = {"cache_policy": NONE, "retries": 3, "retry_delay_seconds": [1, 5, 15], "retry_condition_fn": retry_if_transient}


def face_id(sha256: str, face_index: int) -> str:
    return f"{sha256}/{face_index}"


def enrolled_table(items: list[Enrolled], gallery_id: str, run_id: str, models: FaceModels, at: datetime) -> pa.Table:
    """One Arrow row per enrolled face, in the shape insert_enrolled.sql reads."""
    ref = [e.item.ref for e in items]
    faces = [e.face for e in items]
    return pa.table({
        "gallery_id": [gallery_id] * len(items),
        "run_id": [run_id] * len(items),
        "model_id": [models.recogniser.model_id] * len(items),
        "detector_id": [models.detector.model_id] * len(items),
        "enrolled_at": pa.array([at] * len(items), pa.timestamp("us", tz="UTC")),
        "subject_id": [r.subject_id for r in ref],
        "sha256": [e.item.sha256 for e in items],
        "source_path": [r.path for r in ref],
        "source": [r.source for r in ref],
        "acquired_at": pa.array([r.acquired_at for r in ref], pa.timestamp("us", tz="UTC")),
        "width": pa.array([e.width for e in items], pa.int32()),
        "height": pa.array([e.height for e in items], pa.int32()),
        "face_count": pa.array([f.face_count for f in faces], pa.int32()),
        "face_id": [face_id(e.item.sha256, e.face.face_index) for e in items],
        "face_index": pa.array([f.face_index for f in faces], pa.int32()),
        "box": pa.array([f.box.tolist() for f in faces], pa.list_(pa.float32(), 4)),
        "landmarks": pa.array([f.landmarks.reshape(-1).tolist() for f in faces], pa.list_(pa.float32(), 10)),
        "detector_score": pa.array([f.score for f in faces], pa.float32()),
        "thumbnail": pa.array([f.thumbnail for f in faces], pa.binary()),
        "vector": pa.array([f.vector.tolist() for f in faces], pa.list_(pa.float32())),
    })


def refused_table(items: list[Refused], gallery_id: str, run_id: str, model_id: str, at: datetime) -> pa.Table:
    return pa.table({
        "gallery_id": [gallery_id] * len(items),
        "model_id": [model_id] * len(items),
        "source_path": [r.path for r in items],
        "sha256": [r.sha256 for r in items],
        "subject_id": pa.array([r.subject_id for r in items], pa.string()),
        "reason": [r.reason for r in items],
        "detail": [r.detail for r in items],
        "run_id": [run_id] * len(items),
        "refused_at": pa.array([at] * len(items), pa.timestamp("us", tz="UTC")),
    })


@task(**DB_TASK)
def start_enrollment(db_path: Path, run_id: str, gallery_id: str, models: FaceModels, source: str, actor: str) -> set[str]:
    """Record the run, gallery and models; return the content hashes the gallery already has."""
    rec = models.recogniser
    with db.open_db(db_path) as conn, db.transaction(conn):
        db.ensure_gallery(conn, gallery_id)
        for m in (models.detector, models.recogniser):
            db.register_model(conn, m.model_id, m.manifest.id, m.manifest.role, m.sha256,
                              m.manifest.output_dim, m.manifest.licence)
        db.start_enrollment_run(conn, run_id, gallery_id, rec.model_id, source, actor)
        db.append_audit(conn, actor, "enrollment.start", f"gallery:{gallery_id}",
                        {"run_id": run_id, "input": source, "model_id": rec.model_id})
        return db.known_hashes(conn, gallery_id, rec.model_id)


@task(**DB_TASK)
def persist_batch(db_path: Path, run_id: str, gallery_id: str, models: FaceModels, actor: str,
                  enrolled: list[Enrolled], refused: list[Refused]) -> None:
    """Insert one batch of enrolled faces and refusals with its audit row, atomically."""
    at = db.now()
    model_id = models.recogniser.model_id
    with db.open_db(db_path) as conn, db.transaction(conn):
        if enrolled:
            db.insert_enrolled(conn, enrolled_table(enrolled, gallery_id, run_id, models, at))
        if refused:
            db.insert_refusals(conn, refused_table(refused, gallery_id, run_id, model_id, at))
        db.append_audit(conn, actor, "enrollment.batch", f"gallery:{gallery_id}", {
            "run_id": run_id,
            "enrolled": sorted(e.item.sha256 for e in enrolled),
            "refused": sorted(f"{r.reason}:{r.sha256 or r.path}" for r in refused),
        })


@task(**DB_TASK)
def finish_enrollment(db_path: Path, run_id: str, gallery_id: str, actor: str, summary: dict) -> None:
    with db.open_db(db_path) as conn, db.transaction(conn):
        db.finish_enrollment_run(conn, run_id, summary["images_seen"], summary["enrolled"],
                                 summary["duplicates"], summary["refused"])
        db.append_audit(conn, actor, "enrollment.finish", f"gallery:{gallery_id}", {"run_id": run_id, **summary})


@task(**DB_TASK)
def load_gallery(db_path: Path, gallery_id: str, model_id: str):
    """(face ids, subject ids, vectors) of the gallery for this model."""
    with db.open_db(db_path) as conn:
        return db.gallery_vectors(conn, gallery_id, model_id)


@task(**DB_TASK)
def record_search(db_path: Path, search_id: str, case_number: str, gallery_id: str, models: FaceModels, k: int,
                  method: str, gallery_size: int, probe: ProbeFace, ranked: list[Ranked], actor: str) -> None:
    """Persist the search, its candidates and its audit row in one transaction."""
    record = {
        "search_id": search_id, "case_number": case_number, "gallery_id": gallery_id,
        "model_id": models.recogniser.model_id, "detector_id": models.detector.model_id, "method": method,
        "k": k, "gallery_size": gallery_size, "probe_sha256": probe.sha256, "probe_path": probe.path,
        "probe_face_index": probe.face.face_index, "probe_face_count": probe.face.face_count,
        "probe_box": probe.face.box.tolist(), "probe_thumbnail": probe.face.thumbnail,
        "actor": actor, "created_at": db.now(),
    }
    candidates = pa.table({
        "search_id": [search_id] * len(ranked),
        "rank": pa.array([r.rank for r in ranked], pa.int32()),
        "face_id": [r.face_id for r in ranked],
        "subject_id": [r.subject_id for r in ranked],
        "score": pa.array([r.score for r in ranked], pa.float64()),
    })
    with db.open_db(db_path) as conn, db.transaction(conn):
        db.insert_search(conn, record, candidates)
        db.append_audit(conn, actor, "search.run", f"search:{search_id}", {
            "case_number": case_number, "gallery_id": gallery_id, "model_id": models.recogniser.model_id,
            "method": method, "k": k, "probe_sha256": probe.sha256,
            "candidates": [[r.rank, r.face_id, round(r.score, 6)] for r in ranked],
        })


@task(**DB_TASK)
def record_event(db_path: Path, actor: str, action: str, target: str, details: dict) -> None:
    """Append one audit row on its own (refusals, sheet writes)."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        db.append_audit(conn, actor, action, target, details)

