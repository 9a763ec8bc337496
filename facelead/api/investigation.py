"""The investigation: requests, approvals, searches, determinations, history, leads,
sheets, re-runs and a case's disclosure packet."""

from __future__ import annotations

import base64
import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from facelead import casework, workflow
from facelead.api.bodies import Determination, NewRequest, Reason, SearchAsk
from facelead.casework import FilingRules
from facelead.documents.disclosure import export_case
from facelead.documents.sheet import view_sheet
from facelead.doors import AppSettings, User, image_type, jsonable, store_probe
from facelead.files import zipped
from facelead.policy import Action
from facelead.refusal import Refusal, refuse
from flows.rerun_search import rerun_search
from flows.search_probe import search_probe
from tasks.faces import choose_probe_face

router = APIRouter()


@router.post("/api/requests")
def file_request(settings: AppSettings, body: NewRequest, user: User) -> dict:
    """As the web page files: with a face chosen, it must be one of the probe's, and one
    below the quality bar needs the override reason (409 with the probe's faces, audited)."""
    data, rules = base64.b64decode(body.probe_base64, validate=True), FilingRules.of(settings)
    workflow.check_filing(settings.database_path, user, body.case_number, body.offense_code, body.justification,
                          rules, body.requested_for or None, data, settings.service.max_probe_bytes)
    if body.face_index is not None:  # the choice is checked on the bytes sent; a refused probe is never kept
        target = f"case:{body.case_number}"
        try:
            _, faces, choice = choose_probe_face(data, settings, body.face_index, body.quality_override)
            refuse(casework.face_choice_refusal(choice))
        except Refusal as exc:
            workflow.record_refusal(settings.database_path, user, Action.REQUEST, target, exc)
            if exc.reason != "face_choice":
                raise
            return JSONResponse({"reason": exc.reason, "detail": exc.detail,
                                 "faces": [{"face_index": f.index, "box": f.box, "failures": f.failures}
                                           for f in faces]}, status_code=409)
    probe = store_probe(settings.probes_dir, data, body.probe_name)
    request_id = workflow.file_request(settings.database_path, user, body.case_number, body.offense_code,
                                       body.justification,
                                       probe, body.gallery, rules, body.face_index,
                                       (body.quality_override or "").strip() or None, body.requested_for or None)
    return {"request_id": request_id}


@router.get("/api/requests/{request_id}/probe")
def probe(settings: AppSettings, request_id: str, user: User) -> Response:
    """A request's probe photo, as the approval page shows it: its filer's, or a supervisor's while deciding."""
    data = workflow.probe_image(settings.database_path, user, request_id)
    return Response(data, media_type=image_type(data), headers={"Cache-Control": "no-store"})


@router.post("/api/requests/{request_id}/approve")
def approve(settings: AppSettings, request_id: str, body: Reason, user: User) -> dict:
    workflow.decide_request(settings.database_path, user, request_id, True, body.reason)
    return {"request_id": request_id, "decision": "approved"}


@router.post("/api/requests/{request_id}/deny")
def deny(settings: AppSettings, request_id: str, body: Reason, user: User) -> dict:
    workflow.decide_request(settings.database_path, user, request_id, False, body.reason)
    return {"request_id": request_id, "decision": "denied"}


@router.post("/api/requests/{request_id}/search")
def search(settings: AppSettings, request_id: str, body: SearchAsk, user: User) -> dict:
    outcome = workflow.run_flow_for(settings, user, Action.SEARCH, f"request:{request_id}", search_probe,
                                    request_id=request_id, k=body.k, face_index=body.face_index,
                                    quality_override=body.quality_override)
    return {"search_id": outcome.search_id, "case_number": outcome.case_number,
            "probe_quality_failures": outcome.probe_quality_failures,
            "candidates": [{"rank": c.rank, "score": c.score, "subject_id": c.subject_id, "face_id": c.face_id}
                           for c in outcome.candidates]}


@router.post("/api/searches/{search_id}/determination")
def determine(settings: AppSettings, search_id: str, body: Determination, user: User) -> dict:
    return {"outcome": workflow.record_determination(settings.database_path, user, search_id, body.rank)}


@router.get("/api/history")
def history(settings: AppSettings, user: User, case_number: str | None = None, analyst: str | None = None,
            offense_code: str | None = None, start: date | None = None, end: date | None = None) -> list[dict]:
    filters = {"case_number": case_number, "analyst": analyst, "offense_code": offense_code, "start": start,
               "end": end}
    rows = workflow.search_history(settings.database_path, user, filters)
    return [{k: jsonable(v) for k, v in asdict(row).items()} for row in rows]


@router.get("/api/leads")
def leads(settings: AppSettings, user: User) -> list[dict]:
    return [{k: jsonable(v) for k, v in asdict(row).items()} for row in workflow.released_leads(settings.database_path, user)]


@router.get("/api/leads/{search_id}")
def lead(settings: AppSettings, search_id: str, user: User) -> dict:
    """A released lead, as its requester's report page shows it (the candidate's picture as base64)."""
    report = workflow.lead_report(settings.database_path, user, search_id)
    candidate = report.candidate and {
        **{k: jsonable(v) for k, v in asdict(report.candidate).items() if k != "thumbnail"},
        "thumbnail_base64": report.candidate.thumbnail and base64.b64encode(report.candidate.thumbnail).decode()}
    return {**{k: jsonable(v) for k, v in asdict(report.lead).items()}, "candidate": candidate}


@router.get("/api/searches/{search_id}/sheet")
def sheet(settings: AppSettings, search_id: str, user: User) -> Response:
    path = view_sheet(settings.database_path, search_id, settings.sheets_dir, user)
    return Response(path.read_bytes(), media_type="text/html", headers={"Cache-Control": "no-store"})


@router.post("/api/searches/{search_id}/rerun")
def rerun(settings: AppSettings, search_id: str, user: User) -> dict:
    report = workflow.run_flow_for(settings, user, Action.RERUN, f"search:{search_id}", rerun_search,
                                   search_id=search_id)
    return {"identical": report.identical, "candidates": len(report.candidates), "differences": report.differences}


@router.post("/api/cases/{case_number}/export")
def export(settings: AppSettings, case_number: str, user: User) -> Response:
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".export-") as staging:  # no copy stays here
        folder = export_case(settings.database_path, user, case_number, Path(staging))
        packet = zipped(folder)
    return Response(packet, media_type="application/zip",
                    headers={"Cache-Control": "no-store", "X-Facelead-Folder": folder.name})
