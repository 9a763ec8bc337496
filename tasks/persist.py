"""Writes to the warehouse. Called directly in the flow process: the only DuckDB writer."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from expectations.quality import suite_version
from facelead import casework
from facelead.casework import kept_override
from facelead.intake.batches import BatchContext, BatchResult, GatedFace, QualityTables, quality_tables
from facelead.refusal import refuse
from facelead.settings import QualityBar
from models.faces import FaceModels
from models.index import BuildPlan, GalleryVectors
from tasks.faces import ProbeFace
from tasks.search import Ranked, RankMethod
from warehouse import casefile, chain, db, gallery_store
from warehouse.records import CandidateRecord, IndexBuildRecord, PastSearch, SearchRecord, StoredBuild


def retry_if_transient(task, task_run, state) -> bool:
    """Retry only what may succeed next time: a database locked by another process."""
    try:
        state.result()
    except Exception as exc:
        return db.is_transient(exc)
    return False


DB_TASK = {"cache_policy": NONE, "retries": 3, "retry_delay_seconds": [1, 5, 15], "retry_condition_fn": retry_if_transient}


@task(**DB_TASK)
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


@task(**DB_TASK)
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


@task(**DB_TASK)
def finish_enrollment(db_path: Path, run_id: str, gallery_id: str, actor: str, summary: dict) -> None:
    with db.open_db(db_path) as conn, db.transaction(conn):
        gallery_store.finish_enrollment_run(conn, run_id, summary["images_seen"], summary["enrolled"],
                                            summary["duplicates"], summary["refused"])
        chain.append_audit(conn, actor, "enrollment.finish", f"gallery:{gallery_id}", {"run_id": run_id, **summary})


@task(**DB_TASK)
def load_gallery(db_path: Path, gallery_id: str, model_id: str, as_of: datetime) -> GalleryVectors:
    """The gallery's faces for this model as of ``as_of``."""
    with db.open_db(db_path) as conn:
        return gallery_store.gallery_vectors(conn, gallery_id, model_id, as_of)


@task(**DB_TASK)
def index_status(db_path: Path, gallery_id: str, model_id: str) -> tuple[int, StoredBuild | None]:
    """(faces searchable in the gallery, its serving index build or None)."""
    with db.open_db(db_path) as conn:
        return gallery_store.gallery_size(conn, gallery_id, model_id), gallery_store.active_build(conn, gallery_id, model_id)


def read_build_plan(db_path: Path, gallery_id: str, model_id: str, build: StoredBuild, as_of: datetime) -> BuildPlan:
    """The rows of ``build`` removed since it was made, and the faces enrolled since it up to ``as_of``."""
    with db.open_db(db_path) as conn:
        return BuildPlan(gallery_store.removed_members(conn, gallery_id, model_id, build.build_id),
                         gallery_store.delta_vectors(conn, gallery_id, model_id, build, as_of))


@task(**DB_TASK)
def search_record(db_path: Path, search_id: str) -> tuple[PastSearch | None, StoredBuild | None]:
    """A past search with its candidates, and the index build it used (None if exact)."""
    with db.open_db(db_path) as conn:
        record = casefile.search_record(conn, search_id)
        build = gallery_store.get_build(conn, record.index_build_id) if record and record.index_build_id else None
        return record, build


@task(**DB_TASK)
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


@task(**DB_TASK)
def remove_subject(db_path: Path, gallery_id: str, subject_id: str, actor: str, reason: str) -> list[str]:
    """Hide a subject's faces in a gallery from every search, audited; the face ids removed."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        removed = gallery_store.remove_subject(conn, gallery_id, subject_id)
        chain.append_audit(conn, actor, "enrollment.remove", f"gallery:{gallery_id}",
                           {"subject_id": subject_id, "faces": removed, "reason": reason})
        return removed


@task(**DB_TASK)
def record_search(db_path: Path, search_id: str, request_id: str, case_number: str, gallery_id: str,
                  models: FaceModels, k: int, method: RankMethod, gallery_size: int, probe: ProbeFace,
                  quality_override: str | None, ranked: list[Ranked], actor: str, created_at: datetime) -> None:
    """Persist the search, its probe's quality verdict, its candidates and its audit row in
    one transaction that also marks the request as run (WorkflowRefused if it ran meanwhile).

    ``method``: how the gallery was ranked (exactly, or through which index build).
    ``quality_override``: the analyst's reason to search a probe below the quality bar.
    ``created_at``: the moment the gallery was searched as of (a re-run searches it as of then).
    """
    quality = probe_quality_tables(probe, search_id, gallery_id)
    override = kept_override(probe.verdict.passed, quality_override)
    record = SearchRecord(
        search_id=search_id, request_id=request_id, case_number=case_number, gallery_id=gallery_id,
        model_id=models.recogniser.model_id, detector_id=models.detector.model_id,
        method=method.method, index_build_id=method.index_build_id,
        search_params=json.dumps(method.params or {}, sort_keys=True),
        delta_size=method.delta_size, rank_ms=method.rank_ms,
        k=k, gallery_size=gallery_size, probe_sha256=probe.sha256, probe_path=probe.path,
        probe_face_index=probe.face.face_index, probe_face_count=probe.face.face_count,
        probe_box=probe.face.box.tolist(), probe_thumbnail=probe.face.thumbnail,
        quality_check_id=quality.validations.column("check_id")[0].as_py(),
        quality_failures=probe.verdict.describe() or None, quality_override=override,
        actor=actor, created_at=created_at)
    candidates = [CandidateRecord(search_id, r.rank, r.face_id, r.subject_id, r.score) for r in ranked]
    with db.open_db(db_path) as conn, db.transaction(conn):
        refuse(casework.runnable_refusal(casefile.get_request(conn, request_id), request_id))
        if not casefile.claim_request(conn, request_id, search_id):  # another search claimed it a moment ago
            raise casework.WorkflowRefused("already_run", f"request {request_id} has run already")
        casefile.insert_search(conn, record, candidates)
        gallery_store.insert_quality(conn, quality.validations, quality.results)
        chain.append_audit(conn, actor, "search.run", f"search:{search_id}", {
            "request_id": request_id, "case_number": case_number, "gallery_id": gallery_id,
            "model_id": models.recogniser.model_id, **method.audit_details(), "k": k, "probe_sha256": probe.sha256,
            "quality": {"suite_version": probe.verdict.suite_version, "failures": probe.verdict.describe(),
                        "override": override},
            "candidates": [[r.rank, r.face_id, round(r.score, 6)] for r in ranked],
        })


def probe_quality_tables(probe: ProbeFace, search_id: str, gallery_id: str) -> QualityTables:
    face = probe.face
    return quality_tables([GatedFace(probe.sha256, probe.path, None, face.face_index, face.quality, probe.verdict)],
                          "search", search_id, gallery_id)


@task(**DB_TASK)
def record_event(db_path: Path, actor: str, action: str, target: str, details: dict,
                 quality: QualityTables | None = None) -> None:
    """Append one audit row on its own (refusals, sheet writes), with the quality verdicts behind it."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        if quality is not None:
            gallery_store.insert_quality(conn, quality.validations, quality.results)
        chain.append_audit(conn, actor, action, target, details)


@task(**DB_TASK)
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
