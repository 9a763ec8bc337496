"""The investigative workflow's steps: sign-in, users, requests, approvals, flow-run
grants, blind review.

Each step has one shape: open the warehouse, read typed records, ask ``authorize`` (who
may: ``facelead.policy``) and the rules core (what may happen now: ``facelead.casework``),
write and audit in one transaction. ``audited`` is the one place a refusal is written to
the audit log. A refusal raises AccessDenied (who may not) or WorkflowRefused (what may
not happen now). The CLI, the service, the pages and the flows call these.
"""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from prefect import Flow

from facelead import casework, grants
from facelead.access import (
    AccessDenied,
    User,
    check_secret,
    check_user_id,
    clean_name,
    hash_token,
    new_salt,
    new_token,
    secret_matches,
    sign_in_wait,
)
from facelead.casework import WorkflowRefused
from facelead.digest import sha256_hex
from facelead.policy import CONSOLE, Action, check_roles, permits
from facelead.refusal import Refusal, refuse
from facelead.settings import SecuritySettings, Settings, in_force
from models.calibration import PossibleDuplicate
from warehouse import accounts, casefile, chain, db, gallery_store, sandbox
from warehouse.audit import Anchor
from warehouse.records import (
    HistoryRow,
    LeadReport,
    OwnRequest,
    PendingRequest,
    ReleasedLead,
    RequestRecord,
    ReviewItem,
    StoredRequest,
    StoredUser,
    UserListing,
    UserRecord,
)

T = TypeVar("T")
NO_CANDIDATE = None  # a determination that no candidate is the probe's person
LOCAL_ADDRESS = "local"  # where a command-line sign-in comes from, for rate limiting


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _user(row: StoredUser) -> User:
    return User(row.user_id, row.display_name, frozenset(row.roles), row.certified_until, row.disabled)


@contextmanager
def audited(conn, actor: str, action: str, target: str, details: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Any Refusal raised in the block is appended to the audit log as ``<action>.refused``
    (the claimed actor cleaned of control characters and cut to length), then re-raised."""
    try:
        yield
    except Refusal as exc:
        _append_refusal(conn, actor, action, target, details, exc)
        raise


def _append_refusal(conn, actor: str, action: str, target: str, details: Mapping[str, Any] | None,
                    exc: Refusal) -> None:
    with db.transaction(conn):
        chain.append_audit(conn, clean_name(actor), f"{action}.refused", target,
                           {**(details or {}), "reason": exc.reason, "detail": exc.detail})
    exc.audited = True


def record_refusal(db_path: Path, actor: str, action: str, target: str, exc: Refusal) -> None:
    """Audit a refusal decided outside the workflow (a web form without its session's token)."""
    with db.open_db(db_path) as conn:
        _append_refusal(conn, actor, action, target, None, exc)


def authorize(conn, user_id: str, action: Action, target: str, details: Mapping[str, Any] | None = None) -> User:
    """The user, if the policy lets them do ``action`` now; else the refusal is audited and raised."""
    with audited(conn, user_id, action, target, details):
        if user_id == CONSOLE.user_id:
            user = CONSOLE
        else:
            row = accounts.get_user(conn, user_id)
            if row is None:
                raise AccessDenied("unknown_user", f"no user {clean_name(user_id)!r}")
            user = _user(row)
        refusal = permits(user, action, _today())
        if refusal is not None:
            raise refusal
    return user


def authorized(db_path: Path, user_id: str, action: Action, target: str) -> User:
    """``authorize`` on its own connection, for a check before work starts."""
    with db.open_db(db_path) as conn:
        return authorize(conn, user_id, action, target)


_SIGN_IN_COUNT = threading.Lock()  # an attempt is counted before its secret is checked, one at a time


def sign_in(db_path: Path, user_id: str, secret: str, limits: SecuritySettings, address: str = LOCAL_ADDRESS) -> User:
    """The enabled user whose own secret this is. Unknown user, wrong secret and no secret
    set yet take the same time and give the same answer. Each attempt is counted as a
    failure before its secret is checked (concurrent guesses cannot pass the limit
    together) and taken back if it matches; a name failing from an address waits longer
    after each failure past the limit, an address failing for many names waits the window
    (``access.sign_in_wait``). Every refusal is audited."""
    claimed, target = clean_name(user_id), f"user:{clean_name(user_id)}"
    with db.open_db(db_path) as conn:
        with audited(conn, claimed, "auth", target, {"address": address}):
            with _SIGN_IN_COUNT:
                now = db.now()
                window_s = limits.sign_in_window_minutes * 60
                by_pair, by_address, last = accounts.recent_sign_in_failures(
                    conn, claimed, address, now - timedelta(seconds=window_s))
                wait = sign_in_wait(by_pair, (now - last).total_seconds() if last else window_s, by_address,
                                    limits.max_failures_per_user, limits.max_failures_per_address,
                                    limits.sign_in_delay_seconds, window_s)
                if wait > 0:
                    raise AccessDenied("rate_limited", f"too many failed sign-ins for {claimed!r} from {address}; "
                                                       f"try again in {wait:.0f} s")
                with db.transaction(conn):
                    counted = accounts.record_sign_in_failure(conn, claimed, address)
            row = accounts.get_user(conn, user_id)
            stored = (row.token_salt, row.token_hash) if row and row.token_hash else None
            if not secret_matches(secret, stored):
                raise AccessDenied("sign_in", f"unknown user or wrong secret for {claimed!r}")
            with db.transaction(conn):
                accounts.forget_sign_in_failure(conn, claimed, address, counted)
            if row.disabled:
                raise AccessDenied("disabled", f"user {claimed} is disabled")
        return _user(row)


def _code_record(limits: SecuritySettings) -> tuple[str, dict]:
    """A fresh enrollment code and what is stored of it (salt, scrypt hash, expiry)."""
    code, salt = new_token(), new_salt()
    return code, {"salt": salt, "hash": hash_token(code, salt),
                  "expires_at": db.now() + timedelta(hours=limits.enrollment_code_hours)}


def add_user(db_path: Path, actor: str | None, user_id: str, display_name: str, roles: list[str],
             certified_until: date | None, limits: SecuritySettings) -> str:
    """Create a user; return their one-time enrollment code, with which they set their own
    secret (``set_secret``) before it expires. Only its hash is stored.

    The first user of a database must be an admin and needs no actor; after that only an
    admin may add users.
    """
    role_set = check_roles(roles)
    check_user_id(user_id)
    with db.open_db(db_path) as conn:
        bootstrap = accounts.count_users(conn) == 0
        if not bootstrap and not actor:
            raise AccessDenied("sign_in", "only a signed-in user with the admin role may add users")
        creator = user_id if bootstrap else authorize(conn, actor, Action.USER_ADMIN, f"user:{user_id}").user_id
        with audited(conn, creator, "user.add", f"user:{user_id}"):
            refuse(casework.new_user_refusal(user_id, role_set, bootstrap, user_id == CONSOLE.user_id,
                                             accounts.get_user(conn, user_id) is not None))
        code, stored = _code_record(limits)
        with db.transaction(conn):
            accounts.insert_user(conn, UserRecord(
                user_id=user_id, display_name=display_name, roles=sorted(role_set), certified_until=certified_until,
                code_salt=stored["salt"], code_hash=stored["hash"], code_expires_at=stored["expires_at"],
                created_at=db.now(), created_by=creator))
            chain.append_audit(conn, creator, "user.add", f"user:{user_id}", {
                "display_name": display_name, "roles": sorted(role_set),
                "certified_until": certified_until.isoformat() if certified_until else None, "bootstrap": bootstrap,
                "code_expires_at": stored["expires_at"]})
        return code


def reset_user(db_path: Path, actor: str, user_id: str, limits: SecuritySettings) -> str:
    """An admin's reset: a new enrollment code for ``user_id``, whose current secret stops working."""
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.USER_ADMIN, f"user:{user_id}")
        code, stored = _code_record(limits)
        with db.transaction(conn):
            with audited(conn, actor, "user.reset", f"user:{user_id}"):
                if not accounts.set_enrollment_code(conn, user_id, stored["salt"], stored["hash"], stored["expires_at"]):
                    raise WorkflowRefused("no_such_user", f"no enabled user {user_id!r}")
            chain.append_audit(conn, actor, "user.reset", f"user:{user_id}", {"code_expires_at": stored["expires_at"]})
        return code


def set_secret(db_path: Path, user_id: str, proof: str, new_secret: str, limits: SecuritySettings,
               address: str = LOCAL_ADDRESS) -> None:
    """Set the user's own secret. ``proof`` is their unexpired enrollment code (first time,
    or after an admin's reset) or their current secret (rotation). A wrong proof counts as a
    failed sign-in; the code is spent once used."""
    check_secret(new_secret)
    with db.open_db(db_path) as conn:
        row = accounts.get_user(conn, user_id)
    code = (row.code_salt, row.code_hash) if row and row.code_hash else None
    by_code = code is not None and row.code_expires_at >= db.now() and secret_matches(proof, code)
    if not by_code:
        sign_in(db_path, user_id, proof, limits, address)  # rotation: the current secret, rate-limited and audited
    salt = new_salt()
    with db.open_db(db_path) as conn, audited(conn, user_id, "user.secret", f"user:{user_id}"):
        with db.transaction(conn):
            if not accounts.set_secret(conn, user_id, salt, hash_token(new_secret, salt)):
                raise AccessDenied("disabled", f"user {user_id} is disabled")
            chain.append_audit(conn, user_id, "user.secret", f"user:{user_id}",
                               {"with": "enrollment code" if by_code else "current secret"})


def list_users(db_path: Path, actor: str) -> list[UserListing]:
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.USER_ADMIN, "users")
        return accounts.list_users(conn)


def set_roles(db_path: Path, actor: str, user_id: str, roles: list[str], certified_until: date | None) -> None:
    """An admin replaces another enabled user's roles and certification date; audited with
    the old and new values. Nobody changes their own: a second admin does."""
    target = f"user:{user_id}"
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.USER_ADMIN, target)
        with audited(conn, actor, "user.roles", target):
            try:
                role_set = sorted(check_roles(roles))
            except ValueError as exc:
                raise WorkflowRefused("roles", str(exc)) from None
            refuse(casework.own_roles_refusal(actor, user_id))
            before = accounts.get_user(conn, user_id)
            with db.transaction(conn):
                if before is None or not accounts.set_user_roles(conn, user_id, role_set, certified_until):
                    raise WorkflowRefused("no_such_user", f"no enabled user {clean_name(user_id)!r}")
                chain.append_audit(conn, actor, "user.roles", target, {
                    "roles": role_set, "certified_until": certified_until.isoformat() if certified_until else None,
                    "previous_roles": sorted(before.roles),
                    "previous_certified_until": before.certified_until.isoformat()
                    if before.certified_until else None})


def disable_user(db_path: Path, actor: str, user_id: str, reason: str) -> None:
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.USER_ADMIN, f"user:{user_id}")
        with audited(conn, actor, "user.disable", f"user:{user_id}"), db.transaction(conn):
            if not accounts.disable_user(conn, user_id):
                raise WorkflowRefused("no_such_user", f"no enabled user {user_id!r}")
            chain.append_audit(conn, actor, "user.disable", f"user:{user_id}", {"reason": reason})


@contextmanager
def _filing(conn, actor: str, case_number: str, offense_code: str, justification: str, rules: casework.FilingRules,
            requested_for: str | None, details: Mapping[str, Any]) -> Iterator[None]:
    """The person may file for the case and its fields pass ``casework.filing_refusal``; the
    block's own checks follow, every refusal audited with ``details``."""
    target = f"case:{case_number}"
    authorize(conn, actor, Action.REQUEST, target, details)
    with audited(conn, actor, Action.REQUEST, target, details):
        for_roles = getattr(_person(conn, requested_for), "roles", ()) if requested_for else ()
        refuse(casework.filing_refusal(case_number, offense_code, justification, rules, requested_for, for_roles))
        yield


def check_filing(db_path: Path, actor: str, case_number: str, offense_code: str, justification: str,
                 rules: casework.FilingRules, requested_for: str | None, probe: bytes, max_probe_bytes: int) -> None:
    """Whether ``actor`` may file this request with the ``probe`` uploaded, asked before a
    byte of it is kept; refusals audited with its size and SHA-256, never its bytes."""
    details = {"case_number": case_number, "offense_code": offense_code, "probe_bytes": len(probe),
               "probe_sha256": sha256_hex(probe)}
    with db.open_db(db_path) as conn, _filing(conn, actor, case_number, offense_code, justification, rules,
                                               requested_for, details):
        refuse(casework.probe_upload_refusal(len(probe), max_probe_bytes))


def file_request(db_path: Path, actor: str, case_number: str, offense_code: str, justification: str,
                 probe: Path, gallery_id: str, rules: casework.FilingRules, face_index: int | None = None,
                 quality_override: str | None = None, requested_for: str | None = None) -> str:
    """File a search request for ``probe`` (for its face ``face_index``, searched despite the
    probe bar for ``quality_override`` if given), asked for by the requester ``requested_for``
    if any; returns its id. Refusals are audited."""
    details = {"case_number": case_number, "offense_code": offense_code, "probe": probe.name, "gallery_id": gallery_id,
               "face_index": face_index, "quality_override": quality_override, "requested_for": requested_for}
    with db.open_db(db_path) as conn:
        with _filing(conn, actor, case_number, offense_code, justification, rules, requested_for, details):
            try:
                digest = sha256_hex(probe.read_bytes())
            except OSError as exc:
                raise WorkflowRefused("probe", f"{probe}: cannot read the probe ({exc.strerror or exc})") from exc
        request_id = str(uuid.uuid4())
        with db.transaction(conn):
            casefile.insert_request(conn, RequestRecord(
                request_id=request_id, case_number=case_number, offense_code=offense_code,
                justification=justification, gallery_id=gallery_id, probe_path=str(probe.absolute()),
                probe_sha256=digest, requested_by=actor, requested_at=db.now(), face_index=face_index,
                quality_override=quality_override, requested_for=requested_for or None))
            chain.append_audit(conn, actor, "request.file", f"request:{request_id}",
                               {**details, "justification": justification, "probe_sha256": digest})
        return request_id


def decide_request(db_path: Path, actor: str, request_id: str, approve: bool, reason: str) -> None:
    """A supervisor other than the requester approves or denies a pending request."""
    action = Action.APPROVE if approve else Action.DENY
    target = f"request:{request_id}"
    with db.open_db(db_path) as conn:
        authorize(conn, actor, action, target)
        request = casefile.get_request(conn, request_id)
        with audited(conn, actor, action, target):
            refuse(casework.decision_refusal(request, request_id, actor, approve, reason))
        with audited(conn, actor, action, target), db.transaction(conn):
            refuse(casework.decided_refusal(
                request_id, casefile.decide_request(conn, request_id, "approved" if approve else "denied", actor, reason)))
            chain.append_audit(conn, actor, action, target, {"case_number": request.case_number, "reason": reason})


def _person(conn, user_id: str) -> User | None:
    row = accounts.get_user(conn, user_id)
    return None if row is None else _user(row)


def known_users(db_path: Path) -> set[str]:
    """Every user id, for the service account's own set-up (the demo's people); the database
    is created and migrated if it is new."""
    with db.open_db(db_path) as conn:
        return {row.user_id for row in accounts.list_users(conn)}


def person(db_path: Path, user_id: str) -> User | None:
    """The user as the policy sees them; None for no such user."""
    with db.open_db(db_path, read_only=True) as conn:
        return _person(conn, user_id)


def requesters(db_path: Path) -> list[str]:
    """Enabled users with the requester role: who a request may be filed for."""
    with db.open_db(db_path, read_only=True) as conn:
        return [row.user_id for row in accounts.list_users(conn) if "requester" in row.roles and not row.disabled_at]


def _read_for(db_path: Path, actor: str, action: Action, target: str,
              read: Callable[[Any, str], list[T]]) -> list[T]:
    """``read(conn, actor)``: the rows ``actor`` sees, once the policy lets them ``action``."""
    with db.open_db(db_path) as conn:
        authorize(conn, actor, action, target)
        return read(conn, actor)


def released_leads(db_path: Path, actor: str) -> list[ReleasedLead]:
    """The leads released to the requester ``actor``: searches they asked for whose analyst and
    reviewer agreed. Nothing before release."""
    return _read_for(db_path, actor, Action.LEAD_VIEW, "leads", casefile.released_leads)


def lead_report(db_path: Path, actor: str, search_id: str) -> LeadReport:
    """One released lead for its requester: the case, the candidate released (None: no
    candidate), who ran and who reviewed; audited as ``lead.view``. Refused before release."""
    target = f"search:{search_id}"
    leads = {row.search_id: row for row in released_leads(db_path, actor)}
    with db.open_db(db_path) as conn:
        with audited(conn, actor, Action.LEAD_VIEW, target):
            refuse(casework.lead_refusal(search_id, actor, search_id in leads))
        lead = leads[search_id]
        candidate = None if lead.face_id is None else casefile.lead_candidate(conn, search_id, lead.face_id)
        with db.transaction(conn):
            chain.append_audit(conn, actor, Action.LEAD_VIEW.value, target, {"case_number": lead.case_number})
        return LeadReport(lead, candidate)


def galleries(db_path: Path) -> list[str]:
    """The galleries a request may name."""
    with db.open_db(db_path, read_only=True) as conn:
        return gallery_store.galleries(conn)


def approval_queue(db_path: Path, actor: str) -> list[PendingRequest]:
    """Pending requests a supervisor may decide: never their own."""
    return _read_for(db_path, actor, Action.APPROVE, "requests", casefile.pending_requests)


def own_requests(db_path: Path, actor: str) -> list[OwnRequest]:
    """The requests ``actor`` filed, with where each stands."""
    return _read_for(db_path, actor, Action.REQUEST, "requests", casefile.own_requests)


def probe_image(db_path: Path, actor: str, request_id: str) -> bytes:
    """A request's probe photo for its filer, or a supervisor while deciding it
    (``casework.probe_view_refusal``); audited as ``probe.view``."""
    target = f"request:{request_id}"
    with db.open_db(db_path) as conn:
        request = casefile.get_request(conn, request_id)
        with audited(conn, actor, "probe.view", target):
            refuse(casework.probe_view_refusal(request, request_id, actor))
        authorize(conn, actor, Action.REQUEST if request.requested_by == actor else Action.APPROVE, target)
        try:
            data = Path(request.probe_path).read_bytes()
        except OSError:
            with audited(conn, actor, "probe.view", target):
                raise WorkflowRefused("purged", f"the probe of request {request_id} is no longer kept") from None
        with db.transaction(conn):
            chain.append_audit(conn, actor, "probe.view", target, {"case_number": request.case_number})
        return data


def runnable_request(db_path: Path, actor: str, request_id: str, approval_days: float) -> StoredRequest:
    """The request ``actor`` may search now: approved within ``approval_days``, not run, and
    filed by ``actor`` (a request is its filer's). Checked before any work; refusals are audited."""
    target = f"request:{request_id}"
    with db.open_db(db_path) as conn, audited(conn, actor, Action.SEARCH, target):
        request = casefile.get_request(conn, request_id)
        refuse(casework.search_refusal(request, request_id, actor, db.now(), approval_days))
        return request


def record_determination(db_path: Path, actor: str, search_id: str, rank: int | None) -> str:
    """Record the analyst's (who ran the search) or the reviewer's (anyone else certified)
    determination: the candidate at ``rank``, or NO_CANDIDATE. Returns the review outcome.

    The reviewer is never shown the analyst's determination; the outcome is 'released'
    when both agree, 'disputed' when they differ, 'awaiting review' before the second.
    """
    target = f"search:{search_id}"
    with db.open_db(db_path) as conn:
        search = casefile.search_summary(conn, search_id)
        with audited(conn, actor, Action.DETERMINE, target):
            refuse(casework.search_found_refusal(search, search_id))
        stage = casework.determination_stage(search.actor, actor)
        action = Action.DETERMINE if stage == casework.ANALYST else Action.REVIEW
        authorize(conn, actor, action, target, {"stage": stage})
        recorded = casefile.determined_faces(conn, search_id)
        face_id = NO_CANDIDATE if rank is None else casefile.candidate_at_rank(conn, search_id, rank)
        with audited(conn, actor, action, target, {"stage": stage}):
            refuse(casework.determination_refusal(search_id, actor, stage, recorded, rank, face_id is not None))
        outcome = casework.review_outcome({**recorded, stage: face_id})
        with db.transaction(conn):
            casefile.insert_determination(conn, search_id, stage, actor, face_id)
            chain.append_audit(conn, actor, "determination", target, {
                "stage": stage, "rank": rank, "face_id": face_id, "outcome": outcome})
            if stage == casework.REVIEWER:
                chain.append_audit(conn, actor, f"review.{outcome}", target, {"case_number": search.case_number})
        return outcome


def determination_stage(db_path: Path, actor: str, search_id: str) -> tuple[str | None, str]:
    """(the determination ``actor`` may record on the search now: 'analyst', 'reviewer' or
    None; the review outcome, 'released' or 'disputed' only once both are recorded)."""
    with db.open_db(db_path, read_only=True) as conn:
        search = casefile.search_summary(conn, search_id)
        recorded = casefile.determined_faces(conn, search_id)
    if search is None:
        return None, "no such search"
    return casework.open_stage(search.actor, actor, recorded), casework.review_outcome(recorded)


def review_queue(db_path: Path, actor: str) -> list[ReviewItem]:
    """Searches awaiting ``actor``'s review: another analyst's, with that analyst's determination
    recorded (never shown) and no reviewer's yet."""
    return _read_for(db_path, actor, Action.REVIEW, "searches", casefile.awaiting_review)


HISTORY_LIMIT = 500  # rows a history page shows; narrow the filters for more


def search_history(db_path: Path, actor: str, filters: dict) -> list[HistoryRow]:
    """Searches matching ``filters`` for a supervisor or auditor; audited with the filters."""
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.HISTORY, "searches", {k: str(v) for k, v in filters.items() if v})
        rows = casefile.search_history(conn, filters, HISTORY_LIMIT)
        with db.transaction(conn):
            chain.append_audit(conn, actor, "search.history", "searches",
                               {**{k: str(v) for k, v in filters.items() if v}, "rows": len(rows)})
        return rows


def audit_status(db_path: Path, actor: str, witnesses: tuple[Anchor, ...] = ()) -> dict:
    """The audit chain checked under its key (flow runs' pending rows sealed first), against
    its anchor log, the data tables and the heads a witness kept; its head for the witness
    to keep."""
    authorized(db_path, actor, Action.AUDIT_VERIFY, "audit_log")
    with db.open_db(db_path) as conn:
        with db.transaction(conn):
            chain.seal_pending(conn)
        verdict = chain.verify_audit(conn, witnesses)
        head = chain.audit_head(conn)
    return {"ok": verdict.ok, "rows": verdict.rows, "first_broken": verdict.first_broken, "reason": verdict.reason,
            "problems": list(verdict.problems), "head": f"{head.seq}:{head.mac}",
            "unanchored_rows": verdict.unanchored_rows}


def review_outcome(db_path: Path, search_id: str) -> str:
    """'released', 'disputed', 'awaiting review' or 'awaiting determination'."""
    with db.open_db(db_path, read_only=True) as conn:
        return casework.review_outcome(casefile.determined_faces(conn, search_id))


def possible_duplicates(db_path: Path, actor: str, gallery_id: str) -> list[PossibleDuplicate]:
    """The closest subject pairs of the gallery's newest calibration, with their marks."""
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.MARK_PAIR, f"gallery:{gallery_id}")
        return gallery_store.possible_duplicates(conn, gallery_id)


def mark_subject_pair(db_path: Path, actor: str, gallery_id: str, subjects: tuple[str, str], same_person: bool,
                      note: str) -> None:
    """Record an operator's word that two subjects of a gallery are the same person (the next
    calibration stops counting their pairs as impostors) or different people; audited."""
    subject_a, subject_b = sorted(subjects)
    target = f"gallery:{gallery_id}"
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.MARK_PAIR, target)
        with audited(conn, actor, Action.MARK_PAIR, target, {"subject_a": subject_a, "subject_b": subject_b}):
            missing = [s for s in {subject_a, subject_b} if not gallery_store.subject_in_gallery(conn, gallery_id, s)]
            refuse(casework.pair_mark_refusal(gallery_id, subject_a, subject_b, sorted(missing)))
        with db.transaction(conn):
            gallery_store.insert_pair_mark(conn, {
                "gallery_id": gallery_id, "subject_a": subject_a, "subject_b": subject_b, "same_person": same_person,
                "note": note, "actor": actor, "marked_at": db.now()})
            chain.append_audit(conn, actor, Action.MARK_PAIR.value, target, {
                "subject_a": subject_a, "subject_b": subject_b, "same_person": same_person, "note": note})


def remove_subject(db_path: Path, actor: str, gallery_id: str, subject_id: str, reason: str) -> list[str]:
    """Hide a subject's faces in a gallery from every search (an operator's or admin's
    removal, e.g. by court order), audited; the face ids removed."""
    target = f"gallery:{gallery_id}"
    with db.open_db(db_path) as conn:
        authorize(conn, actor, Action.REMOVE, target)
        with db.transaction(conn):
            removed = gallery_store.remove_subject(conn, gallery_id, subject_id)
            chain.append_audit(conn, actor, "enrollment.remove", target,
                               {"subject_id": subject_id, "faces": removed, "reason": reason})
            return removed


_SNAPSHOT = threading.Lock()


def audit_snapshot(settings: Settings, max_age_s: float) -> Path:
    """The auditors' snapshot of the warehouse (``sandbox.write_snapshot``), written again when
    older than ``max_age_s``."""
    path = settings.audit_snapshot_path
    with _SNAPSHOT:
        if not path.is_file() or time.time() - path.stat().st_mtime > max_age_s:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with db.open_db(settings.database_path) as conn:
                sandbox.write_snapshot(conn, path)
    return path


@contextmanager
def _in_sandbox(settings: Settings, actor: str, target: str, details: Mapping[str, Any] | None) -> Iterator[None]:
    """The block run in one of the sandbox's slots (``sandbox.query_slot``) with the warehouse
    closed; a QueryRefused it raises is audited, then raised."""
    try:
        with sandbox.query_slot(actor, settings.security.audit_queries_at_once):
            yield
    except sandbox.QueryRefused as exc:
        with db.open_db(settings.database_path) as conn:
            _append_refusal(conn, actor, Action.AUDIT_QUERY, target, details, exc)
        raise


def auditor_query(settings: Settings, actor: str, sql: str) -> tuple[list[str], list[tuple]]:
    """An auditor's one SELECT, run in the sandbox (``sandbox.sandboxed_query``) on the auditors'
    snapshot, never on the warehouse, within the sandbox's limits. Audited as run, with its
    row count, or as refused (AccessDenied for non-auditors, sandbox.QueryRefused for anything
    the sandbox will not run or answer)."""
    limits = settings.security
    with db.open_db(settings.database_path) as conn:
        authorize(conn, actor, Action.AUDIT_QUERY, "database", {"sql": sql})
    with _in_sandbox(settings, actor, "database", {"sql": sql}):
        snapshot = audit_snapshot(settings, limits.audit_snapshot_seconds)
        columns, rows = sandbox.sandboxed_query(snapshot, sql, limits.audit_query_seconds, limits.audit_query_memory,
                                                limits.audit_query_rows, limits.audit_query_bytes)
    with db.open_db(settings.database_path) as conn, db.transaction(conn):
        chain.append_audit(conn, actor, "audit.query", "database", {"sql": sql, "rows": len(rows)})
    return columns, rows


def write_audit_snapshot(settings: Settings, actor: str) -> Path:
    """A snapshot written now, for an auditor to take away and open in their own DuckDB (one
    of the sandbox's slots); audited."""
    with db.open_db(settings.database_path) as conn:
        authorize(conn, actor, Action.AUDIT_QUERY, "snapshot")
    with _in_sandbox(settings, actor, "snapshot", None):
        path = audit_snapshot(settings, 0)
    with db.open_db(settings.database_path) as conn, db.transaction(conn):
        chain.append_audit(conn, actor, "audit.snapshot", "database", {"bytes": path.stat().st_size})
    return path


def grant_for(settings: Settings, user_id: str, action: Action, flow: Flow, params: Mapping[str, Any]) -> str:
    """A grant for one run of ``flow`` (doing ``action``) by ``user_id`` with ``params``: bound
    to every parameter the run gets, defaults included. The caller has authorized the user;
    the grant key is made on first use."""
    bound = inspect.signature(flow.fn).bind(**params)
    bound.apply_defaults()
    granted = {name: value for name, value in bound.arguments.items() if name != "grant"}
    key = grants.read_key(settings.grant_key_path, create=True)
    return grants.issue(key, user_id, action, granted, settings.security.grant_seconds, time.time())


def run_principal(settings: Settings, action: Action, target: str, params: Mapping[str, Any], grant: str | None,
                  scheduled: bool) -> User:
    """Who a flow run acts for: the user of a valid, unspent grant for exactly this action
    and these parameters (spent now); with no grant, a deployment's own run (made by its
    schedule or trigger, ``scheduled``) acts as the schedule's identity. Either is then
    checked against the policy. Any other run without a grant, a forged, expired,
    mismatched or replayed grant, or a scheduled run of an action no schedule may do is
    refused and audited."""
    claimed = grants.claimed_user(grant) if grant else CONSOLE.user_id if scheduled else "anonymous"
    with db.open_db(settings.database_path) as conn:
        with audited(conn, claimed or "anonymous", action, target, {"grant": bool(grant), "scheduled": scheduled}):
            if grant:
                checking = grants.verifying_key(settings.security.grant_public_key, settings.grant_key_path)
                verified = grants.verify(checking, grant, action, params, time.time())
                with db.transaction(conn):
                    if not accounts.spend_grant(conn, verified.nonce, verified.user_id, action):
                        raise grants.GrantRefused("grant_spent", "the run's grant has started a run already")
                user_id = verified.user_id
            elif scheduled:
                user_id = CONSOLE.user_id
            else:
                raise grants.GrantRefused("no_grant", f"a run of {action.value} needs facelead's grant: start it through "
                                                      "facelead, which signs the person in and grants the run")
        return authorize(conn, user_id, action, target)


# Flows short enough to keep the database open throughout (``db.held``): an analyst waits for them.
HELD_THROUGHOUT = frozenset({Action.SEARCH, Action.RERUN})


def run_flow_for(settings: Settings, user_id: str, action: Action, target: str, flow: Flow, **params: Any) -> Any:
    """Run ``flow`` in this process for ``user_id`` with ``params`` and ``settings``: the policy
    check first (audited when it refuses), then under a grant for exactly this run, which the
    flow verifies and spends. The searches an analyst waits for keep the database open throughout."""
    authorized(settings.database_path, user_id, action, target)
    grant = grant_for(settings, user_id, action, flow, params)
    with in_force(settings), db.held(settings.database_path) if action in HELD_THROUGHOUT else nullcontext():
        return flow(**params, grant=grant)
