"""The investigative workflow's controls: users, requests, approvals, blind review.

Each function opens the warehouse, checks who may act, writes and audits in one
transaction. A refusal raises AccessDenied (who may not) or WorkflowRefused (what may
not happen now), and is audited too. Flows and the CLI call these directly.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from pathlib import Path

from facelead.access import (
    AccessDenied, User, check_roles, hash_token, new_salt, new_token, require, token_matches)
from facelead.models.image import sha256_hex
from facelead.refusal import Refusal
from facelead.warehouse import db

NO_CANDIDATE = None  # a determination that no candidate is the probe's person


class WorkflowRefused(Refusal, ValueError):
    """A step that must not happen now."""


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _user(row: dict) -> User:
    return User(row["user_id"], row["display_name"], frozenset(row["roles"]), row["certified_until"], row["disabled"])


def _refuse(conn, actor: str, action: str, target: str, exc: AccessDenied | WorkflowRefused, details: dict) -> None:
    with db.transaction(conn):
        db.append_audit(conn, actor, f"{action}.refused", target, {**details, "reason": exc.reason, "detail": exc.detail})


SHEET_ROLES = ("analyst", "reviewer", "supervisor", "auditor")
EXPORT_ROLES = ("supervisor", "auditor")


def acting_as_any(conn, user_id: str, roles: tuple[str, ...], action: str, target: str,
                  details: dict | None = None) -> User:
    """The user, if they may act now in any of ``roles``; otherwise the refusal is audited and raised."""
    row = db.get_user(conn, user_id)
    refusal = AccessDenied("unknown_user", f"no user {user_id!r}")
    if row is not None:
        user = _user(row)
        held = [role for role in roles if role in user.roles]
        if not held and len(roles) > 1:
            refusal = AccessDenied("role", f"user {user_id} holds none of the roles that may do this: {', '.join(roles)}")
        for role in held or (roles if len(roles) == 1 else ()):  # one role asked for: require() says it is missing
            try:
                require(user, role, _today())
                return user
            except AccessDenied as exc:
                refusal = exc
    _refuse(conn, user_id, action, target, refusal, details or {})
    raise refusal


def viewer_may(conn, user_id: str, search_id: str) -> User:
    """The user, if they may view the search's sheet (any of SHEET_ROLES, in force); else audited refusal."""
    target = f"search:{search_id}"
    if db.search_summary(conn, search_id) is None:
        refusal = WorkflowRefused("no_such_search", f"no search {search_id}")
        _refuse(conn, user_id, "sheet.view", target, refusal, {})
        raise refusal
    return acting_as_any(conn, user_id, SHEET_ROLES, "sheet.view", target)


def authenticate(db_path: Path, user_id: str, token: str) -> User:
    """The user whose personal token this is; a wrong token or unknown user is audited and refused."""
    with db.open_db(db_path) as conn:
        row = db.get_user(conn, user_id)
        if row is None or not token_matches(token, row["token_salt"], row["token_hash"]):
            exc = AccessDenied("token", f"unknown user or wrong token for {user_id!r}")
            _refuse(conn, user_id, "auth", f"user:{user_id}", exc, {})
            raise exc
        return _user(row)


def add_user(db_path: Path, actor: str | None, user_id: str, display_name: str, roles: list[str],
             certified_until: date | None) -> str:
    """Create a user and return their token (shown once, stored only hashed).

    The first user of a database must be an admin and needs no actor; after that only an
    admin may add users.
    """
    role_set = check_roles(roles)
    with db.open_db(db_path) as conn:
        bootstrap = db.count_users(conn) == 0
        if bootstrap and "admin" not in role_set:
            raise WorkflowRefused("bootstrap", "the first user must hold the admin role")
        if not bootstrap and not actor:
            raise AccessDenied("sign_in", "only a signed-in user with the admin role may add users")
        creator = user_id if bootstrap else acting_as_any(conn, actor, ("admin",), "user.add", f"user:{user_id}").user_id
        if db.get_user(conn, user_id) is not None:
            raise WorkflowRefused("exists", f"user {user_id!r} exists already")
        token, salt = new_token(), new_salt()
        with db.transaction(conn):
            db.insert_user(conn, {
                "user_id": user_id, "display_name": display_name, "roles": sorted(role_set),
                "certified_until": certified_until, "token_salt": salt, "token_hash": hash_token(token, salt),
                "created_at": db.now(), "created_by": creator})
            db.append_audit(conn, creator, "user.add", f"user:{user_id}", {
                "display_name": display_name, "roles": sorted(role_set),
                "certified_until": certified_until.isoformat() if certified_until else None, "bootstrap": bootstrap})
        return token


def list_users(db_path: Path, actor: str) -> list[dict]:
    with db.open_db(db_path) as conn:
        acting_as_any(conn, actor, ("admin",), "user.list", "users")
        return db.list_users(conn)


def disable_user(db_path: Path, actor: str, user_id: str, reason: str) -> None:
    with db.open_db(db_path) as conn:
        acting_as_any(conn, actor, ("admin",), "user.disable", f"user:{user_id}")
        with db.transaction(conn):
            if not db.disable_user(conn, user_id):
                raise WorkflowRefused("no_such_user", f"no enabled user {user_id!r}")
            db.append_audit(conn, actor, "user.disable", f"user:{user_id}", {"reason": reason})


def file_request(db_path: Path, actor: str, case_number: str, offense_code: str, justification: str,
                 probe: Path, gallery_id: str, permitted_offenses: list[str]) -> str:
    """File a search request for ``probe``; returns its id. Refusals are audited."""
    details = {"case_number": case_number, "offense_code": offense_code, "probe": str(probe), "gallery_id": gallery_id}
    with db.open_db(db_path) as conn:
        acting_as_any(conn, actor, ("analyst",), "request", f"case:{case_number}", details)
        try:
            missing = [name for name, value in (("case number", case_number), ("offense code", offense_code),
                                                ("justification", justification)) if not value.strip()]
            if missing:
                raise WorkflowRefused("missing", f"a request needs a {', a '.join(missing)}")
            if offense_code not in permitted_offenses:
                raise WorkflowRefused("offense", f"offense code {offense_code!r} is not one of the permitted: "
                                                 f"{', '.join(permitted_offenses)}")
            try:
                digest = sha256_hex(probe.read_bytes())
            except OSError as exc:
                raise WorkflowRefused("probe", f"{probe}: cannot read the probe ({exc.strerror or exc})") from exc
        except WorkflowRefused as exc:
            _refuse(conn, actor, "request", f"case:{case_number}", exc, details)
            raise
        request_id = str(uuid.uuid4())
        with db.transaction(conn):
            db.insert_request(conn, {
                "request_id": request_id, "case_number": case_number, "offense_code": offense_code,
                "justification": justification, "gallery_id": gallery_id, "probe_path": str(probe.absolute()),
                "probe_sha256": digest, "requested_by": actor, "requested_at": db.now()})
            db.append_audit(conn, actor, "request.file", f"request:{request_id}",
                            {**details, "justification": justification, "probe_sha256": digest})
        return request_id


def decide_request(db_path: Path, actor: str, request_id: str, approve: bool, reason: str) -> None:
    """A supervisor other than the requester approves or denies a pending request."""
    action = "request.approve" if approve else "request.deny"
    target = f"request:{request_id}"
    with db.open_db(db_path) as conn:
        acting_as_any(conn, actor, ("supervisor",), action, target)
        request = db.get_request(conn, request_id)
        try:
            if request is None:
                raise WorkflowRefused("no_such_request", f"no request {request_id}")
            if request["requested_by"] == actor:
                raise WorkflowRefused("self_approval", f"{actor} filed request {request_id} and cannot decide it")
            if request["decision"] is not None:
                raise WorkflowRefused("decided", f"request {request_id} was {request['decision']} already")
        except WorkflowRefused as exc:
            _refuse(conn, actor, action, target, exc, {})
            raise
        with db.transaction(conn):
            db.decide_request(conn, request_id, "approved" if approve else "denied", actor, reason)
            db.append_audit(conn, actor, action, target, {"case_number": request["case_number"], "reason": reason})


def _check_runnable(request: dict | None, request_id: str) -> dict:
    """The request, if it exists, is approved and has not run; else WorkflowRefused."""
    if request is None:
        raise WorkflowRefused("no_such_request", f"no request {request_id}")
    if request["decision"] != "approved":
        state = "is still pending" if request["decision"] is None else f"was {request['decision']}"
        raise WorkflowRefused("not_approved", f"request {request_id} {state}")
    if request["search_id"] is not None:
        raise WorkflowRefused("already_run", f"request {request_id} has run already (search {request['search_id']})")
    return request


def claim_request(conn, request_id: str, search_id: str) -> dict:
    """Inside the search's transaction: the approved, not yet run request, now tied to ``search_id``."""
    request = _check_runnable(db.get_request(conn, request_id), request_id)
    if not db.claim_request(conn, request_id, search_id):  # ran meanwhile
        raise WorkflowRefused("already_run", f"request {request_id} has run already")
    return request


def runnable_request(db_path: Path, actor: str | None, request_id: str) -> dict:
    """The request an analyst may search now, checked before any work; refusals are audited.

    ``actor`` None: nobody signed in (a run started from a Prefect deployment), so the
    search runs on behalf of the analyst who filed the request, who must still be one.
    """
    target = f"request:{request_id}"
    with db.open_db(db_path) as conn:
        request = db.get_request(conn, request_id)
        actor = actor or (request["requested_by"] if request else "unknown")
        acting_as_any(conn, actor, ("analyst",), "search", target)
        try:
            return _check_runnable(request, request_id)
        except WorkflowRefused as exc:
            _refuse(conn, actor, "search", target, exc, {})
            raise


def record_determination(db_path: Path, actor: str, search_id: str, rank: int | None) -> str:
    """Record the analyst's (who ran the search) or the reviewer's (anyone else certified)
    determination: the candidate at ``rank``, or NO_CANDIDATE. Returns the review outcome.

    The reviewer is never shown the analyst's determination; the outcome is 'released'
    when both agree, 'disputed' when they differ, 'awaiting review' before the second.
    """
    target = f"search:{search_id}"
    with db.open_db(db_path) as conn:
        search = db.search_summary(conn, search_id)
        try:
            if search is None:
                raise WorkflowRefused("no_such_search", f"no search {search_id}")
        except WorkflowRefused as exc:
            _refuse(conn, actor, "determination", target, exc, {})
            raise
        stage = "analyst" if search["actor"] == actor else "reviewer"
        acting_as_any(conn, actor, (stage,), "determination", target, {"stage": stage})
        recorded = db.determinations(conn, search_id)
        face_id = NO_CANDIDATE if rank is None else db.candidate_at_rank(conn, search_id, rank)
        try:
            if stage == "analyst" and "analyst" in recorded:
                raise WorkflowRefused("own_search", f"{actor} ran search {search_id} and recorded a determination; "
                                                    "its review needs a different reviewer")
            if stage in recorded:
                raise WorkflowRefused("recorded", f"the {stage} determination of search {search_id} is recorded already")
            if stage == "reviewer" and "analyst" not in recorded:
                raise WorkflowRefused("analyst_first", f"search {search_id} awaits the analyst's determination")
            if rank is not None and face_id is None:
                raise WorkflowRefused("no_such_rank", f"search {search_id} has no candidate at rank {rank}")
        except WorkflowRefused as exc:
            _refuse(conn, actor, "determination", target, exc, {"stage": stage})
            raise
        outcome = "awaiting review"
        if stage == "reviewer":
            outcome = "released" if recorded["analyst"]["face_id"] == face_id else "disputed"
        with db.transaction(conn):
            db.insert_determination(conn, search_id, stage, actor, face_id)
            db.append_audit(conn, actor, "determination", target, {
                "stage": stage, "rank": rank, "face_id": face_id, "outcome": outcome})
            if stage == "reviewer":
                db.append_audit(conn, actor, f"review.{outcome}", target, {"case_number": search["case_number"]})
        return outcome


def auditor_query(db_path: Path, actor: str, sql: str) -> tuple[list[str], list[tuple]]:
    """Run an auditor's SQL on a read-only connection; the query itself is audited first.

    Raises AccessDenied for non-auditors and db.QueryRefused for anything that would write.
    """
    with db.open_db(db_path) as conn:
        acting_as_any(conn, actor, ("auditor",), "audit.query", "database", {"sql": sql})
        with db.transaction(conn):
            db.append_audit(conn, actor, "audit.query", "database", {"sql": sql})
    return db.read_only_query(db_path, sql)


def review_outcome(db_path: Path, search_id: str) -> str:
    """'released', 'disputed', 'awaiting review' or 'awaiting determination'."""
    with db.open_db(db_path, read_only=True) as conn:
        recorded = db.determinations(conn, search_id)
    if "analyst" not in recorded:
        return "awaiting determination"
    if "reviewer" not in recorded:
        return "awaiting review"
    return "released" if recorded["analyst"]["face_id"] == recorded["reviewer"]["face_id"] else "disputed"
