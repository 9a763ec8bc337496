"""The audit: an auditor's sandboxed query, a snapshot to take away, the chain's verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from facelead import workflow
from facelead.api.bodies import Sql
from facelead.doors import AppSettings, User, jsonable
from warehouse.audit import Anchor

router = APIRouter()


def witness_head(text: str) -> Anchor:
    """``SEQ:MAC`` as a witness kept it (what ``facelead audit verify`` printed as the head)."""
    seq, _, mac = text.partition(":")
    if not (seq.isdigit() and len(mac) == 64 and all(c in "0123456789abcdef" for c in mac)):
        raise HTTPException(422, f"witness {text!r} is not SEQ:MAC (a row number and 64 hex digits)")
    return Anchor(int(seq), mac)


@router.post("/api/audit/query")
def audit_query(settings: AppSettings, body: Sql, user: User) -> dict:
    columns, rows = workflow.auditor_query(settings, user, body.sql)
    return {"columns": columns, "rows": [[jsonable(v) for v in row] for row in rows]}


@router.get("/api/audit/snapshot")
def audit_snapshot(settings: AppSettings, user: User) -> Response:
    path = workflow.write_audit_snapshot(settings, user)
    return Response(path.read_bytes(), media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


@router.get("/api/audit/verify")
def audit_verify(settings: AppSettings, user: User,
                 witness: Annotated[list[str], Query()] = []) -> dict:  # noqa: B006 (FastAPI copies)
    """The chain under its key, against its anchor log and the ``SEQ:MAC`` heads a witness kept."""
    return workflow.audit_status(settings.database_path, user, tuple(witness_head(text) for text in witness))
