"""A search's units of work: the search written with its candidates as the request's one
run, and a past search read back for its re-run."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from facelead import casework
from facelead.intake.batches import ProbeFace, probe_quality_tables
from facelead.refusal import refuse
from models.faces import FaceModels
from models.index import Ranked, RankMethod
from warehouse import casefile, chain, db, gallery_store
from warehouse.records import CandidateRecord, PastSearch, SearchRecord, StoredBuild


def search_record(db_path: Path, search_id: str) -> tuple[PastSearch | None, StoredBuild | None]:
    """A past search with its candidates, and the index build it used (None if exact)."""
    with db.open_db(db_path) as conn:
        record = casefile.search_record(conn, search_id)
        build = gallery_store.get_build(conn, record.index_build_id) if record and record.index_build_id else None
        return record, build


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
    override = casework.kept_override(probe.verdict.passed, quality_override)
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
        refuse(casework.claim_refusal(request_id, casefile.claim_request(conn, request_id, search_id)))
        casefile.insert_search(conn, record, candidates)
        gallery_store.insert_quality(conn, quality.validations, quality.results)
        chain.append_audit(conn, actor, "search.run", f"search:{search_id}", {
            "request_id": request_id, "case_number": case_number, "gallery_id": gallery_id,
            "model_id": models.recogniser.model_id, **method.audit_details(), "k": k, "probe_sha256": probe.sha256,
            "quality": {"suite_version": probe.verdict.suite_version, "failures": probe.verdict.describe(),
                        "override": override},
            "candidates": [[r.rank, r.face_id, round(r.score, 6)] for r in ranked],
        })
