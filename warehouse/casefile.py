"""The investigation in the warehouse: requests, searches and their candidates,
determinations, leads, history, a case's records and the oversight counts."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from warehouse.records import (
    CandidateRecord,
    HistoryRow,
    LeadCandidate,
    OversightRow,
    OwnRequest,
    PastSearch,
    PendingRequest,
    ReleasedLead,
    RequestRecord,
    ReviewItem,
    SearchRecord,
    SearchSummary,
    SheetRow,
    StoredRequest,
    parameters,
)
from warehouse.sql import dicts, now, one, query, records, registered

CANDIDATE_SCHEMA = pa.schema([("search_id", pa.string()), ("rank", pa.int32()), ("face_id", pa.string()),
                              ("subject_id", pa.string()), ("score", pa.float64())])  # CandidateRecord's fields


def insert_search(conn: duckdb.DuckDBPyConnection, record: SearchRecord, candidates: list[CandidateRecord]) -> None:
    """Persist a search and its ranked candidates."""
    conn.execute(query("insert_search"), parameters(record))
    batch = pa.Table.from_pylist([parameters(c) for c in candidates], schema=CANDIDATE_SCHEMA)
    with registered(conn, "candidate_batch", batch):
        conn.execute(query("insert_candidates"))


def candidate_sheet_rows(conn: duckdb.DuckDBPyConnection, search_id: str) -> list[SheetRow]:
    """A search's candidates in rank order, each with what its sheet shows of the search."""
    return records(conn.execute(query("candidate_sheet"), [search_id]), SheetRow)


def case_records(conn: duckdb.DuckDBPyConnection, case_number: str) -> dict[str, list[dict]]:
    """Everything recorded about a case: requests, searches, candidates, determinations, audit rows."""
    return {
        "requests": dicts(conn.execute(query("case_requests"), [case_number])),
        "searches": dicts(conn.execute(query("case_searches"), [case_number])),
        "candidates": dicts(conn.execute(query("case_candidates"), [case_number])),
        "determinations": dicts(conn.execute(query("case_determinations"), [case_number])),
        "audit": dicts(conn.execute(query("case_audit"), {"case_number": case_number})),
    }


def oversight(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[OversightRow]:
    """Per offense code: requests filed in [start, end) and what became of them (oversight.sql)."""
    return records(conn.execute(query("oversight"), {"start": start, "end": end}), OversightRow)


def insert_request(conn: duckdb.DuckDBPyConnection, record: RequestRecord) -> None:
    conn.execute(query("insert_request"), parameters(record))


def get_request(conn: duckdb.DuckDBPyConnection, request_id: str) -> StoredRequest | None:
    row = one(conn.execute(query("get_request"), [request_id]))
    return None if row is None else StoredRequest(**row)


def decide_request(conn: duckdb.DuckDBPyConnection, request_id: str, decision: str, user_id: str, reason: str) -> bool:
    """Record the decision on a pending request; False if it was no longer pending."""
    return conn.execute(query("decide_request"), {
        "request_id": request_id, "decision": decision, "decided_by": user_id, "decided_at": now(),
        "decision_reason": reason}).fetchone() is not None


def claim_request(conn: duckdb.DuckDBPyConnection, request_id: str, search_id: str) -> bool:
    """Tie the approved, not yet run request to ``search_id``; False if it cannot run."""
    return conn.execute(query("claim_request"), {"request_id": request_id, "search_id": search_id}).fetchone() is not None


def search_summary(conn: duckdb.DuckDBPyConnection, search_id: str) -> SearchSummary | None:
    row = one(conn.execute(query("search_summary"), [search_id]))
    return None if row is None else SearchSummary(**row)


def candidate_at_rank(conn: duckdb.DuckDBPyConnection, search_id: str, rank: int) -> str | None:
    row = conn.execute(query("candidate_at_rank"), [search_id, rank]).fetchone()
    return row[0] if row else None


def insert_determination(conn: duckdb.DuckDBPyConnection, search_id: str, stage: str, user_id: str,
                         face_id: str | None) -> None:
    conn.execute(query("insert_determination"), [search_id, stage, user_id, face_id, now()])


def determined_faces(conn: duckdb.DuckDBPyConnection, search_id: str) -> dict[str, str | None]:
    """{stage: the face id determined (None: no candidate)} of each determination recorded for the search."""
    return dict(conn.execute(query("determined_faces"), [search_id]).fetchall())


def pending_requests(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[PendingRequest]:
    return records(conn.execute(query("pending_requests"), {"user_id": user_id}), PendingRequest)


def own_requests(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[OwnRequest]:
    return records(conn.execute(query("own_requests"), {"user_id": user_id}), OwnRequest)


def awaiting_review(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[ReviewItem]:
    return records(conn.execute(query("awaiting_review"), {"user_id": user_id}), ReviewItem)


def released_leads(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[ReleasedLead]:
    return records(conn.execute(query("released_leads"), {"user_id": user_id}), ReleasedLead)


def search_history(conn: duckdb.DuckDBPyConnection, filters: dict, limit: int) -> list[HistoryRow]:
    """search_history rows matching ``filters`` (case_number, analyst, offense_code, start, end; None: any)."""
    return records(conn.execute(query("search_history_page"), {**filters, "limit": limit}), HistoryRow)


def awaiting_review_in_case(conn: duckdb.DuckDBPyConnection, case_number: str) -> list[str]:
    """Who ran each search of the case that awaits its blind review."""
    return [row[0] for row in conn.execute(query("awaiting_review_in_case"), [case_number]).fetchall()]


def determiners(conn: duckdb.DuckDBPyConnection, search_id: str) -> dict[str, str]:
    """{stage: who recorded it} of each determination recorded for the search."""
    return dict(conn.execute(query("determiners"), [search_id]).fetchall())


def probes_in_retention(conn: duckdb.DuckDBPyConnection, cutoff: datetime) -> set[str]:
    """Probe paths a request filed or a search run since ``cutoff`` uses."""
    return {row[0] for row in conn.execute(query("probes_in_retention"), {"cutoff": cutoff}).fetchall()}


def lead_candidate(conn: duckdb.DuckDBPyConnection, search_id: str, face_id: str) -> LeadCandidate | None:
    row = one(conn.execute(query("lead_candidate"), {"search_id": search_id, "face_id": face_id}))
    return None if row is None else LeadCandidate(**row)


def search_record(conn: duckdb.DuckDBPyConnection, search_id: str) -> PastSearch | None:
    """A past search with its candidates, or None."""
    row = one(conn.execute(query("search_record"), [search_id]))
    return None if row is None else PastSearch.from_row(row)
