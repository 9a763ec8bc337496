"""Typed records that cross into the warehouse. Each insert query names its parameters
(``$field``) after its record's fields and nothing else, and ``parameters`` hands them over
by name, so a new column is one field here and one in the query; a unit test holds every
record to its query."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class SearchRecord:
    """One search as the ``searches`` table keeps it (insert_search.sql)."""

    search_id: str
    request_id: str | None
    case_number: str
    gallery_id: str
    model_id: str
    detector_id: str
    method: str  # "exact" or "scann"
    k: int
    gallery_size: int
    index_build_id: str | None
    search_params: str  # JSON of the index parameters searched with; "{}" when exact
    delta_size: int  # faces enrolled after the build, searched exactly beside it
    rank_ms: float | None
    probe_sha256: str
    probe_path: str
    probe_face_index: int
    probe_face_count: int
    probe_box: list[float]
    probe_thumbnail: bytes
    quality_check_id: str
    quality_failures: str | None
    quality_override: str | None
    actor: str
    created_at: datetime  # the moment the gallery was searched as of


@dataclass(frozen=True)
class IndexBuildRecord:
    """One index build as ``index_builds`` keeps it (insert_build.sql); it serves once inserted."""

    build_id: str
    gallery_id: str
    model_id: str
    model_sha256: str
    folder: str  # relative to the database's folder
    shards: int
    vectors: int
    recall: float
    candidate_floor: float
    floor_recall: float
    rank1_agreement: float
    exact_fallback: bool
    params: str  # JSON list, one per shard
    file_hashes: str  # JSON {file: sha256}
    build_seconds: float
    actor: str
    snapshot_at: datetime
    built_at: datetime


@dataclass(frozen=True)
class UserListing:
    """A user as the admin's list shows them (list_users.sql): no secret or code hashes."""

    user_id: str
    display_name: str
    roles: list[str]
    certified_until: date | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    secret_set_at: datetime | None
    code_expires_at: datetime | None


@dataclass(frozen=True)
class PendingRequest:
    """A request awaiting a supervisor's decision (pending_requests.sql)."""

    request_id: str
    case_number: str
    offense_code: str
    justification: str
    gallery_id: str
    requested_by: str
    requested_at: datetime
    face_index: int | None
    quality_override: str | None
    requested_for: str | None


@dataclass(frozen=True)
class OwnRequest:
    """A request as its filer follows it (own_requests.sql)."""

    request_id: str
    case_number: str
    offense_code: str
    gallery_id: str
    requested_at: datetime
    decision: str | None
    decided_by: str | None
    decision_reason: str | None
    search_id: str | None


@dataclass(frozen=True)
class ReviewItem:
    """A search awaiting a second examiner's blind review (awaiting_review.sql)."""

    search_id: str
    case_number: str
    gallery_id: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class ReleasedLead:
    """A lead released to its requester (released_leads.sql); ``face_id`` None: no candidate."""

    request_id: str
    case_number: str
    offense_code: str
    search_id: str
    analyst: str
    face_id: str | None
    reviewer: str
    reviewed_at: datetime


@dataclass(frozen=True)
class SheetRow:
    """One candidate of a search with what its sheet shows of the search (candidate_sheet.sql);
    a purged face keeps its rank, score and ids, without picture or source."""

    case_number: str
    search_id: str
    actor: str
    created_at: datetime
    gallery_id: str
    gallery_size: int
    model_id: str
    detector_id: str
    method: str
    k: int
    probe_thumbnail: bytes | None
    probe_face_index: int
    probe_face_count: int
    quality_failures: str | None
    quality_override: str | None
    rank: int
    score: float
    subject_id: str
    face_id: str
    thumbnail: bytes | None
    source: str | None
    acquired_at: date | None
    source_path: str | None


@dataclass(frozen=True)
class LeadCandidate:
    """The candidate a lead released, as its report shows it (lead_candidate.sql); a purged
    face keeps its rank, score and subject id, without its picture and source."""

    rank: int
    score: float
    subject_id: str
    thumbnail: bytes | None
    source: str | None
    acquired_at: date | None


@dataclass(frozen=True)
class LeadReport:
    """One released lead and its candidate (None: both examiners found none)."""

    lead: ReleasedLead
    candidate: LeadCandidate | None


@dataclass(frozen=True)
class OversightRow:
    """Requests of one offense code filed in a period, and what became of them (oversight.sql)."""

    offense_code: str
    requests: int
    approved: int
    denied: int
    pending: int
    searches: int
    quality_overrides: int
    released: int
    released_no_candidate: int
    disputed: int
    awaiting_review: int


@dataclass(frozen=True)
class HistoryRow:
    """One search in the supervisors' and auditors' history (search_history_page.sql)."""

    search_id: str
    case_number: str
    offense_code: str | None
    requested_by: str | None
    approved_by: str | None
    searched_by: str
    searched_at: datetime
    gallery_id: str
    quality_override: str | None
    outcome: str
    reviewer: str | None


@dataclass(frozen=True)
class SearchSummary:
    """Who ran a search, for which case and request (search_summary.sql)."""

    search_id: str
    case_number: str
    actor: str
    request_id: str | None
    gallery_id: str
    created_at: datetime


@dataclass(frozen=True)
class StoredCandidate:
    """One candidate of a past search as it was returned."""

    rank: int
    face_id: str
    score: float


@dataclass(frozen=True)
class PastSearch:
    """What a re-run needs of a past search (search_record.sql): how it ran, on what, and
    what it returned."""

    search_id: str
    case_number: str
    gallery_id: str
    model_id: str
    detector_id: str
    method: str
    index_build_id: str | None
    search_params: str | None
    k: int
    probe_path: str
    probe_sha256: str
    probe_face_index: int | None
    created_at: datetime
    ran_by: str
    determiners: dict[str, str]  # stage -> who recorded that determination
    candidates: tuple[StoredCandidate, ...]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PastSearch:
        return cls(**{**row, "candidates": tuple(StoredCandidate(**c) for c in row["candidates"])})


@dataclass(frozen=True)
class StoredBuild:
    """An index build as searches read it (get_build.sql, active_build.sql), its JSON columns
    parsed once: ``params`` one dict per shard, ``file_hashes`` {file: sha256}."""

    build_id: str
    folder: str  # relative to the database's folder
    shards: int
    vectors: int
    recall: float | None
    candidate_floor: float | None
    floor_recall: float | None
    rank1_agreement: float | None
    exact_fallback: bool
    params: list[dict[str, Any]]
    file_hashes: dict[str, str]
    build_seconds: float | None
    snapshot_at: datetime | None  # None: built before snapshots were recorded

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoredBuild:
        return cls(**{**row, "params": json.loads(row["params"]), "file_hashes": json.loads(row["file_hashes"])})


@dataclass(frozen=True)
class EvaluationRecord:
    """One recogniser's evaluation on a labeled set, or a gallery's group report (insert_evaluation.sql)."""

    evaluation_id: str
    report_id: str  # the report folder's run: one per evaluate run
    model_id: str
    detector_id: str
    dataset: str  # the labeled set's path, or "gallery:<id>"
    dataset_sha256: str
    images: int
    failures_to_enroll: int
    metrics: str  # JSON
    report_dir: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class CandidateRecord:
    """One candidate of a search (insert_candidates.sql reads them as an Arrow table of these fields)."""

    search_id: str
    rank: int  # 1-based
    face_id: str
    subject_id: str
    score: float  # cosine


@dataclass(frozen=True)
class UserRecord:
    """A new user as ``users`` keeps them (insert_user.sql): roles, certification and the
    salted hash of their one-time enrollment code; their own secret comes later."""

    user_id: str
    display_name: str
    roles: list[str]
    certified_until: date | None
    code_salt: bytes
    code_hash: bytes
    code_expires_at: datetime
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class RequestRecord:
    """A search request as filed (insert_request.sql); the decision and the search come later."""

    request_id: str
    case_number: str
    offense_code: str
    justification: str
    gallery_id: str
    probe_path: str
    probe_sha256: str
    requested_by: str
    requested_at: datetime
    face_index: int | None  # the probe face chosen when filing; None: chosen at search time
    quality_override: str | None
    requested_for: str | None  # the requester (detective) the lead goes to


@dataclass(frozen=True)
class StoredRequest(RequestRecord):
    """A request as it stands (get_request.sql): as filed, then the supervisor's decision and
    the search that ran it."""

    decision: str | None  # 'approved' or 'denied'; None: pending
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    search_id: str | None  # the search that ran it; None: not run


@dataclass(frozen=True)
class StoredUser:
    """A user as get_user.sql reads them: roles, certification, state and the salted hashes
    of their secret and of their enrollment code (None where unset)."""

    user_id: str
    display_name: str
    roles: list[str]
    certified_until: date | None
    token_salt: bytes | None
    token_hash: bytes | None
    disabled: bool
    code_salt: bytes | None
    code_hash: bytes | None
    code_expires_at: datetime | None


Record = SearchRecord | CandidateRecord | IndexBuildRecord | EvaluationRecord | UserRecord | RequestRecord

# Each insert query and the record whose fields are its parameters.
INSERTS: dict[str, type] = {"insert_search": SearchRecord, "insert_build": IndexBuildRecord,
                            "insert_evaluation": EvaluationRecord, "insert_user": UserRecord,
                            "insert_request": RequestRecord}


def parameters(record: Record) -> dict[str, Any]:
    """The record's fields by name, for its insert query."""
    return asdict(record)
