"""facelead's HTTP API: the one way a person acts on the warehouse.

``facelead serve`` runs it (on 127.0.0.1 by default) as the service account, the only
account that can read the data folder. A person signs in with their user id and own
secret and gets a session token; every other call carries it. Each route is thin: it
calls the same workflow functions and flows as everything else, so the policy check
(``workflow.authorize``) and its audit sit below it. Refusals answer 403 (who may
not) or 409 (what may not happen now) with ``{"reason", "detail"}``; no session, 401.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from facelead.access import AccessDenied
from facelead.digest import sha256_hex
from facelead.files import write_private, zipped
from facelead.policy import Action
from facelead.refusal import Refusal
from facelead.settings import Settings
from facelead.web.console_door import Upstream
from warehouse.audit import Anchor

log = logging.getLogger(__name__)


@dataclass
class _Session:
    user_id: str
    created: float
    last_seen: float
    csrf: str  # the web pages' form token: a form posted without it is refused


class Sessions:
    """Signed-in people by session token, in the service's memory (a restart signs everyone
    out). Only each token's SHA-256 is kept; a session ends after ``idle_s`` unused or
    ``max_s`` in all."""

    def __init__(self, idle_s: float, max_s: float) -> None:
        self._idle_s, self._max_s = idle_s, max_s
        self._by_digest: dict[str, _Session] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return sha256_hex(token)

    def open(self, user_id: str) -> str:
        token, now = secrets.token_urlsafe(32), time.monotonic()
        with self._lock:
            self._by_digest[self._digest(token)] = _Session(user_id, now, now, secrets.token_urlsafe(32))
        return token

    def csrf(self, token: str) -> str | None:
        """The session's form token; None if the session is unknown or ended."""
        with self._lock:
            session = self._by_digest.get(self._digest(token))
            return None if session is None else session.csrf

    def user(self, token: str) -> str | None:
        """The session's user, its idle clock restarted; None if unknown or ended."""
        now, digest = time.monotonic(), self._digest(token)
        with self._lock:
            session = self._by_digest.get(digest)
            if session is None:
                return None
            if now - session.last_seen > self._idle_s or now - session.created > self._max_s:
                del self._by_digest[digest]
                return None
            session.last_seen = now
            return session.user_id

    def close(self, token: str) -> None:
        with self._lock:
            self._by_digest.pop(self._digest(token), None)

    def end_user(self, user_id: str) -> int:
        """End every session of ``user_id`` (after a reset, a disable or a new secret); how many."""
        with self._lock:
            ended = [digest for digest, session in self._by_digest.items() if session.user_id == user_id]
            for digest in ended:
                del self._by_digest[digest]
        return len(ended)


class SignIn(BaseModel):
    user_id: str
    secret: str


class NewUser(BaseModel):
    user_id: str
    name: str
    roles: list[str]
    certified_until: date | None = None


class NewRoles(BaseModel):
    roles: list[str]
    certified_until: date | None = None


class NewSecret(BaseModel):
    proof: str = Field(description="your enrollment code, or your current secret to rotate it")
    secret: str


class Reason(BaseModel):
    reason: str = ""


class NewRequest(BaseModel):
    case_number: str
    offense_code: str
    justification: str
    gallery: str = "default"
    probe_name: str = Field(description="the probe's file name, for the record")
    probe_base64: str
    face_index: int | None = Field(None, ge=0, description="the probe face to search, from 0 in detector order; "
                                                            "default: a lone face, else chosen when the search runs")
    quality_override: str | None = Field(None, description="why that face must be searched although it is below "
                                                           "the probe quality bar")
    requested_for: str | None = Field(None, description="the detective (requester role) who asked for the search")


class SearchAsk(BaseModel):
    k: int = 20
    face_index: int | None = None
    quality_override: str | None = None


class Determination(BaseModel):
    rank: int | None = None


class Enrollment(BaseModel):
    source: str | None = None
    gallery: str = "default"
    source_name: str | None = None


class IndexBuild(BaseModel):
    shards: int | None = None


class PairMark(BaseModel):
    subject_a: str
    subject_b: str
    same_person: bool
    note: str = ""


class Removal(BaseModel):
    subject: str
    reason: str


class EvaluationAsk(BaseModel):
    source: str | None = None
    gallery: str | None = None
    recognisers: list[str] | None = None
    group_columns: list[str] | None = None
    bootstrap: int = 200
    quality_bar: str = "gallery"
    bar_limits: dict[str, float] | None = None
    degraded_probes: int = 200


class Period(BaseModel):
    start: date | None = None
    end: date | None = None


class Sql(BaseModel):
    sql: str


def signed_in(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The user of the request's session token; AccessDenied (401) without a live one."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    user_id = request.app.state.sessions.user(token) if token else None
    if user_id is None:
        raise AccessDenied("no_session", "not signed in, or the session ended: run facelead login")
    return user_id


User = Annotated[str, Depends(signed_in)]


def store_probe(probes_dir: Path, data: bytes, name: str) -> Path:
    """The uploaded probe kept owner-only under ``probes_dir``, named by its SHA-256."""
    path = probes_dir / f"{sha256_hex(data)}{Path(name).suffix.lower()[:8]}"
    return path if path.exists() else write_private(path, data)


# Flows short enough to keep the database open throughout (``db.held``): an analyst waits for them.
HELD_THROUGHOUT = frozenset({Action.SEARCH, Action.RERUN})


def _witness(text: str) -> Anchor:
    """``SEQ:MAC`` as a witness kept it (what ``facelead audit verify`` printed as the head)."""
    seq, _, mac = text.partition(":")
    if not (seq.isdigit() and len(mac) == 64 and all(c in "0123456789abcdef" for c in mac)):
        raise HTTPException(422, f"witness {text!r} is not SEQ:MAC (a row number and 64 hex digits)")
    return Anchor(int(seq), mac)


def _jsonable(value: Any) -> Any:
    """JSON scalars and lists as they are; dates, times, bytes and the rest as text."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def create_app(settings: Settings, console: Upstream | None = None) -> FastAPI:
    """The API over ``settings``' warehouse, with the Prefect ``console`` (the server ``facelead
    serve`` runs) under ``/prefect/`` when given; its sessions live as long as the app."""
    from facelead import workflow
    from facelead.documents.disclosure import export_case
    from facelead.documents.sheet import view_sheet
    from facelead.web.console_door import add_console
    from facelead.web.pages import COOKIE, add_pages
    from flows.build_index import build_index
    from flows.calibrate_gallery import calibrate as calibrate_gallery
    from flows.enroll_gallery import enroll_gallery
    from flows.evaluate import evaluate
    from flows.oversight_report import oversight_report
    from flows.rerun_search import rerun_search
    from flows.retention_purge import retention_purge
    from flows.search_probe import search_probe
    from tasks.calibration import describe_calibration, duplicates_markdown
    from tasks.faces import choose_probe_face
    from tasks.persist import remove_subject
    from warehouse import db

    db_path, limits = settings.database_path, settings.security
    sessions = Sessions(settings.security.session_idle_minutes * 60, settings.security.session_hours * 3600)
    app = FastAPI(title="facelead", description="Investigative face search: leads, never identifications.",
                  docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(Refusal)
    def refused(_: Request, exc: Refusal) -> JSONResponse:
        status = (401 if exc.reason == "no_session" else 403) if isinstance(exc, AccessDenied) else 409
        return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=status)

    @app.exception_handler(ValueError)
    def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"reason": "invalid", "detail": str(exc)}, status_code=422)

    @app.exception_handler(Exception)
    def failed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        detail = (str(exc).splitlines() or [""])[0]
        return JSONResponse({"reason": "error", "detail": f"{type(exc).__name__}: {detail}"}, status_code=500)

    app.state.sessions = sessions

    def run(user_id: str, action: Action, target: str, flow, **params):
        with db.held(db_path) if action in HELD_THROUGHOUT else nullcontext():
            return workflow.run_flow_for(settings, user_id, action, target, flow, **params)

    add_pages(app, settings, store_probe, run)
    add_console(app, settings, console, COOKIE)

    @app.post("/api/session")
    def sign_in(body: SignIn, request: Request) -> dict:
        address = request.client.host if request.client else "unknown"
        user = workflow.sign_in(db_path, body.user_id, body.secret, limits, address)
        return {"user_id": user.user_id, "token": sessions.open(user.user_id)}

    @app.delete("/api/session")
    def sign_out(authorization: Annotated[str | None, Header()] = None) -> dict:
        sessions.close((authorization or "").removeprefix("Bearer ").strip())
        return {"signed_out": True}

    @app.post("/api/users")
    def add_user(body: NewUser, user: User) -> dict:
        code = workflow.add_user(db_path, user, body.user_id, body.name, body.roles, body.certified_until, limits)
        return {"user_id": body.user_id, "code": code, "hours": limits.enrollment_code_hours}

    @app.get("/api/users")
    def list_users(user: User) -> list[dict]:
        return [{k: _jsonable(v) for k, v in row.items()} for row in workflow.list_users(db_path, user)]

    @app.post("/api/users/{user_id}/disable")
    def disable_user(user_id: str, body: Reason, user: User) -> dict:
        workflow.disable_user(db_path, user, user_id, body.reason)
        sessions.end_user(user_id)
        return {"user_id": user_id, "disabled": True}

    @app.post("/api/users/{user_id}/roles")
    def set_roles(user_id: str, body: NewRoles, user: User) -> dict:
        workflow.set_roles(db_path, user, user_id, body.roles, body.certified_until)
        return {"user_id": user_id, "roles": sorted(body.roles), "certified_until": _jsonable(body.certified_until)}

    @app.post("/api/users/{user_id}/reset")
    def reset_user(user_id: str, user: User) -> dict:
        code = workflow.reset_user(db_path, user, user_id, limits)
        sessions.end_user(user_id)
        return {"user_id": user_id, "code": code, "hours": limits.enrollment_code_hours}

    @app.post("/api/users/{user_id}/secret")
    def set_secret(user_id: str, body: NewSecret, request: Request) -> dict:
        address = request.client.host if request.client else "unknown"
        workflow.set_secret(db_path, user_id, body.proof, body.secret, limits, address)
        sessions.end_user(user_id)
        return {"user_id": user_id, "secret_set": True}

    @app.post("/api/requests")
    def file_request(body: NewRequest, user: User) -> dict:
        """As the web page files: with a face chosen, it must be one of the probe's, and one
        below the quality bar needs the override reason (409 with the probe's faces, audited)."""
        probe = store_probe(settings.probes_dir, base64.b64decode(body.probe_base64, validate=True), body.probe_name)
        if body.face_index is not None:
            target = f"case:{body.case_number}"
            workflow.authorized(db_path, user, Action.REQUEST, target)
            _, faces, choice = choose_probe_face(probe.read_bytes(), settings, body.face_index, body.quality_override)
            if not choice.settled:
                refused = workflow.WorkflowRefused("face_choice", choice.error or "")
                workflow.record_refusal(db_path, user, Action.REQUEST, target, refused)
                return JSONResponse({"reason": refused.reason, "detail": refused.detail,
                                     "faces": [{"face_index": f.index, "box": f.box, "failures": f.failures}
                                               for f in faces]}, status_code=409)
        request_id = workflow.file_request(db_path, user, body.case_number, body.offense_code, body.justification,
                                           probe, body.gallery, settings.offense_codes, body.face_index,
                                           (body.quality_override or "").strip() or None, body.requested_for or None)
        return {"request_id": request_id}

    @app.post("/api/requests/{request_id}/approve")
    def approve(request_id: str, body: Reason, user: User) -> dict:
        workflow.decide_request(db_path, user, request_id, True, body.reason)
        return {"request_id": request_id, "decision": "approved"}

    @app.post("/api/requests/{request_id}/deny")
    def deny(request_id: str, body: Reason, user: User) -> dict:
        workflow.decide_request(db_path, user, request_id, False, body.reason)
        return {"request_id": request_id, "decision": "denied"}

    @app.post("/api/requests/{request_id}/search")
    def search(request_id: str, body: SearchAsk, user: User) -> dict:
        outcome = run(user, Action.SEARCH, f"request:{request_id}", search_probe, request_id=request_id, k=body.k,
                      face_index=body.face_index, quality_override=body.quality_override)
        return {"search_id": outcome.search_id, "case_number": outcome.case_number,
                "probe_quality_failures": outcome.probe_quality_failures,
                "candidates": [{"rank": c.rank, "score": c.score, "subject_id": c.subject_id, "face_id": c.face_id}
                               for c in outcome.candidates]}

    @app.post("/api/searches/{search_id}/determination")
    def determine(search_id: str, body: Determination, user: User) -> dict:
        return {"outcome": workflow.record_determination(db_path, user, search_id, body.rank)}

    @app.get("/api/history")
    def history(user: User, case_number: str | None = None, analyst: str | None = None,
                offense_code: str | None = None, start: date | None = None, end: date | None = None) -> list[dict]:
        filters = {"case_number": case_number, "analyst": analyst, "offense_code": offense_code, "start": start,
                   "end": end}
        return [{k: _jsonable(v) for k, v in row.items()} for row in workflow.search_history(db_path, user, filters)]

    @app.get("/api/leads")
    def leads(user: User) -> list[dict]:
        return [{k: _jsonable(v) for k, v in row.items()} for row in workflow.released_leads(db_path, user)]

    @app.get("/api/searches/{search_id}/sheet")
    def sheet(search_id: str, user: User) -> Response:
        path = view_sheet(db_path, search_id, settings.sheets_dir, user)
        return Response(path.read_bytes(), media_type="text/html", headers={"Cache-Control": "no-store"})

    @app.post("/api/searches/{search_id}/rerun")
    def rerun(search_id: str, user: User) -> dict:
        report = run(user, Action.RERUN, f"search:{search_id}", rerun_search, search_id=search_id)
        return {"identical": report.identical, "candidates": len(report.candidates), "differences": report.differences}

    @app.post("/api/cases/{case_number}/export")
    def export(case_number: str, user: User) -> Response:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".export-") as staging:  # no copy stays here
            folder = export_case(db_path, user, case_number, Path(staging))
            packet = zipped(folder)
        return Response(packet, media_type="application/zip",
                        headers={"Cache-Control": "no-store", "X-Facelead-Folder": folder.name})

    @app.post("/api/enrollments")
    def enroll(body: Enrollment, user: User) -> dict:
        summary = run(user, Action.ENROLL, f"gallery:{body.gallery}", enroll_gallery, source=body.source,
                      gallery=body.gallery, source_name=body.source_name)
        return {"markdown": summary.markdown(), "enrolled": summary.enrolled, "refused": summary.refused}

    @app.post("/api/galleries/{gallery}/index")
    def index(gallery: str, body: IndexBuild, user: User) -> dict:
        built = run(user, Action.BUILD, f"gallery:{gallery}", build_index, gallery=gallery, shards=body.shards)
        if built is None:
            return {"built": False}
        return {"built": True, "build_id": built.build_id, "vectors": built.vectors, "shards": built.shards,
                "seconds": built.seconds}

    @app.post("/api/galleries/{gallery}/calibrate")
    def calibrate(gallery: str, user: User) -> dict:
        calibrated = run(user, Action.CALIBRATE, f"gallery:{gallery}", calibrate_gallery, gallery=gallery)
        return {"summary": describe_calibration(calibrated),
                "markdown": duplicates_markdown(gallery, calibrated.closest, named=True)}

    @app.get("/api/galleries/{gallery}/duplicates")
    def duplicates(gallery: str, user: User) -> dict:
        return {"markdown": duplicates_markdown(gallery, workflow.possible_duplicates(db_path, user, gallery), named=True)}

    @app.post("/api/galleries/{gallery}/duplicates")
    def mark_pair(gallery: str, body: PairMark, user: User) -> dict:
        workflow.mark_subject_pair(db_path, user, gallery, (body.subject_a, body.subject_b), body.same_person, body.note)
        return {"marked": True}

    @app.post("/api/galleries/{gallery}/remove")
    def remove(gallery: str, body: Removal, user: User) -> dict:
        actor = workflow.authorized(db_path, user, Action.REMOVE, f"gallery:{gallery}").user_id
        return {"removed": remove_subject.fn(db_path, gallery, body.subject, actor, body.reason)}

    @app.post("/api/purge")
    def purge(user: User) -> dict:
        return run(user, Action.PURGE, "warehouse", retention_purge)

    @app.post("/api/evaluations")
    def evaluation(body: EvaluationAsk, user: User) -> dict:
        target = f"dataset:{body.source}" if body.source else f"gallery:{body.gallery}"
        outcome = run(user, Action.EVALUATE, target, evaluate, source=body.source, gallery=body.gallery,
                      recognisers=body.recognisers, group_columns=body.group_columns, bootstrap=body.bootstrap,
                      quality_bar=body.quality_bar, bar_limits=body.bar_limits, degraded_probes=body.degraded_probes)
        return {"summary": outcome.summary.read_text(), "report": str(outcome.summary.parent)}

    @app.post("/api/reports/oversight")
    def oversight(body: Period, user: User) -> dict:
        report = run(user, Action.REPORT, "reports", oversight_report, start=body.start, end=body.end)
        return {"markdown": report.markdown, "csv_name": report.csv_path.name, "csv": report.csv_path.read_text()}

    @app.post("/api/audit/query")
    def audit_query(body: Sql, user: User) -> dict:
        columns, rows = workflow.auditor_query(settings, user, body.sql)
        return {"columns": columns, "rows": [[_jsonable(v) for v in row] for row in rows]}

    @app.get("/api/audit/snapshot")
    def audit_snapshot(user: User) -> Response:
        path = workflow.write_audit_snapshot(settings, user)
        return Response(path.read_bytes(), media_type="application/octet-stream", headers={"Cache-Control": "no-store"})

    @app.get("/api/audit/verify")
    def audit_verify(user: User, witness: Annotated[list[str], Query()] = []) -> dict:  # noqa: B006 (FastAPI copies)
        """The chain under its key, against its anchor log and the ``SEQ:MAC`` heads a witness kept."""
        return workflow.audit_status(db_path, user, tuple(_witness(text) for text in witness))

    return app


def start_api(settings: Settings, run_in=None, console: Upstream | None = None) -> tuple[Any, threading.Thread]:
    """The API (with the Prefect ``console`` behind it, if given) served by uvicorn on
    ``settings.service`` host and port from a background thread (``run_in``, e.g. a copied
    context's ``run``, wraps the thread's work); returns once it listens. Stop it with
    ``stop_api``."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(settings, console), host=settings.service.host,
                                           port=settings.service.port, log_level="warning", access_log=False,
                                           **settings.service.uvicorn_options()))
    thread = threading.Thread(target=run_in or (lambda f: f()), args=(server.run,), name="facelead-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the facelead API did not start on {settings.service.host}:{settings.service.port}")
        time.sleep(0.05)
    return server, thread


def stop_api(server: Any, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(30)


def main() -> int:
    """``python -m facelead.service``: the API alone, in the foreground, with this
    environment's settings and Prefect API (``facelead serve`` runs it with the rest)."""
    import uvicorn

    os.umask(0o077)
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.service.host, port=settings.service.port, log_level="warning",
                **settings.service.uvicorn_options())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
