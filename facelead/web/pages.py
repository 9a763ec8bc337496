"""The web pages: server-rendered forms over the same workflow functions as the API.

A signed-in person holds a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS)
naming a session of the service's own ``Sessions``, so the idle timeout and sign-out are
the API's. Every form carries the session's CSRF token; a post without it is refused and
changes nothing. Every response is ``Cache-Control: no-store``. Refusals render as a
page with the policy's reason; they are audited below, as everywhere.
"""

from __future__ import annotations

import hmac
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from facelead import LEAD_NOTICE, workflow
from facelead.access import AccessDenied
from facelead.casework import FilingRules
from facelead.console import PREFIX as CONSOLE_PREFIX
from facelead.documents.disclosure import export_case
from facelead.documents.sheet import b64, open_sheet
from facelead.doors import AppSessions, AppSettings, image_type, sessions_of, settings_of, store_probe
from facelead.files import zipped
from facelead.policy import ROLES, Action, permits
from facelead.refusal import Refusal
from facelead.settings import Settings
from flows.oversight_report import oversight_report
from flows.search_probe import search_probe
from tasks.faces import choose_probe_face
from tasks.oversight import COLUMNS, previous_month

COOKIE = "facelead_session"
# Scripts and styles only from /static; images also inline (photos are sent as data: URLs);
# style attributes allowed for the face boxes' positions on the face-choice page.
CONTENT_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
                  "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The Prefect UI behind /prefect/ is Prefect's own page: its scripts, its styles and its calls to
# the console's API, all from this site.
CONSOLE_POLICY = ("default-src 'self'; script-src 'self' blob:; worker-src 'self' blob:; img-src 'self' data: blob:; "
                  "style-src 'self' 'unsafe-inline'; font-src 'self' data:; connect-src 'self'; "
                  "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
PROBE_NAME = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,7}")  # how the service names a kept probe
_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("facelead.web", "templates"), autoescape=True,
                                undefined=jinja2.StrictUndefined)

# The pages a person may open from the home page: (action that opens it, path, label).
HOME_LINKS = (
    (Action.REQUEST, "/requests/new", "New search request"),
    (Action.REQUEST, "/requests", "My requests"),
    (Action.APPROVE, "/approvals", "Approval queue"),
    (Action.REVIEW, "/reviews", "Review queue"),
    (Action.LEAD_VIEW, "/leads", "Released leads"),
    (Action.HISTORY, "/history", "Search history"),
    (Action.REPORT, "/oversight", "Oversight report"),
    (Action.AUDIT_VERIFY, "/audit", "Audit chain status"),
    (Action.EXPORT, "/export", "Case export"),
    (Action.USER_ADMIN, "/admin/users", "Users"),
)


class SignInNeeded(Exception):
    """No live session: the page sends the browser to sign in."""


class FormForged(Refusal):
    """A post without its session's CSRF token (raised for the session's user)."""

    def __init__(self, user_id: str) -> None:
        super().__init__("csrf", "the form did not carry its session's token")
        self.user_id = user_id


def form_refused() -> HTMLResponse:
    return render("message.html", 403, user_id=None, csrf="", title="Form refused",
                  text="This form did not come from your own session's page, so nothing was changed. "
                       "Open the page again and resubmit.", link="/")


def _cross_site(request: Request) -> bool:
    """True if the browser says the post came from another site (Sec-Fetch-Site, else Origin)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != request.headers.get("host")


def render(name: str, status: int = 200, **values) -> HTMLResponse:
    return HTMLResponse(_TEMPLATES.get_template(name).render(notice=LEAD_NOTICE, **values), status_code=status)


router = APIRouter()


def signed_in(request: Request) -> tuple[str, str]:
    """(user id, CSRF token) of the request's session cookie; SignInNeeded without one."""
    token = request.cookies.get(COOKIE, "")
    user_id = sessions_of(request).user(token) if token else None
    if user_id is None:
        raise SignInNeeded
    return user_id, sessions_of(request).csrf(token) or ""


def checked(request: Request, csrf: str) -> tuple[str, str]:
    """The session of a form post whose CSRF token is its session's; FormForged otherwise."""
    user_id, expected = signed_in(request)
    if not csrf or not hmac.compare_digest(csrf, expected):
        raise FormForged(user_id)
    return user_id, expected


def page(request: Request, name: str, user_id: str, csrf: str, status: int = 200, **values) -> HTMLResponse:
    return render(name, status, user_id=user_id, csrf=csrf, path=request.url.path, **values)


def shown(request: Request, template: str, values: Callable[[str], dict]) -> HTMLResponse:
    """A signed-in page whose ``values(user_id)`` come from the policy-checked workflow; a
    refusal renders as the refusal page."""
    user_id, csrf = signed_in(request)
    try:
        found = values(user_id)
    except Refusal as exc:
        return refusal(request, user_id, csrf, exc)
    return page(request, template, user_id, csrf, **found)


def refusal(request: Request, user_id: str, csrf: str, exc: Refusal) -> HTMLResponse:
    status = 403 if isinstance(exc, AccessDenied) else 409
    return page(request, "message.html", user_id, csrf, status, title="Refused", text=exc.detail, link="/")


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "/") -> HTMLResponse:
    return render("login.html", user_id=None, csrf="", next=_local(next), error=None)


@router.post("/login")
def login(settings: AppSettings, sessions: AppSessions, request: Request, user_id: Annotated[str, Form()],
          secret: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> Response:
    address = request.client.host if request.client else "unknown"
    try:
        user = workflow.sign_in(settings.database_path, user_id, secret, settings.security, address)
    except AccessDenied as exc:
        return render("login.html", 401, user_id=None, csrf="", next=_local(next), error=exc.detail)
    sessions.close(request.cookies.get(COOKIE, ""))  # a session this browser held before ends here
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(COOKIE, sessions.open(user.user_id), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(sessions: AppSessions, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    checked(request, csrf)
    sessions.close(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(settings: AppSettings, request: Request) -> HTMLResponse:
    user_id, csrf = signed_in(request)
    person = workflow.person(settings.database_path, user_id)
    links = [(path, label) for action, path, label in HOME_LINKS
             if person is not None and permits(person, action, date.today()) is None]
    return page(request, "home.html", user_id, csrf, links=links, roles=sorted(person.roles) if person else [])


@router.get("/requests/new", response_class=HTMLResponse)
def new_request(settings: AppSettings, request: Request) -> HTMLResponse:
    user_id, csrf = signed_in(request)
    try:
        workflow.authorized(settings.database_path, user_id, Action.REQUEST, "requests")
    except Refusal as exc:
        return refusal(request, user_id, csrf, exc)
    return page(request, "new_request.html", user_id, csrf, offenses=settings.offense_codes,
                galleries=workflow.galleries(settings.database_path),
                requesters=workflow.requesters(settings.database_path), error=None, form={})


def choose_or_file(settings: Settings, request: Request, user_id: str, token: str, form: dict, stored: Path,
                   face_index: int | None, override: str) -> Response:
    """File the request when its face is settled (one face that meets the probe bar, or
    the face chosen, with an override reason if it does not); else the choice page."""
    size, faces, choice = choose_probe_face(stored.read_bytes(), settings, face_index, override)
    if not choice.settled:
        return page(request, "choose_face.html", user_id, token, 409 if choice.error else 200, form=form,
                    probe_name=stored.name, probe_tag=sessions_of(request).tag(token, stored.name), photo=b64(stored.read_bytes()),
                    media=image_type(stored.read_bytes()),
                    width=size[0], height=size[1], faces=faces, chosen=choice.index, error=choice.error,
                    override=override)
    request_id = workflow.file_request(settings.database_path, user_id, form["case_number"], form["offense_code"],
                                       form["justification"], stored, form["gallery"], FilingRules.of(settings),
                                       choice.index, override.strip() or None, form["requested_for"] or None)
    return RedirectResponse(f"/requests?filed={quote(request_id)}", status_code=303)


def new_request_refused(settings: Settings, request: Request, user_id: str, token: str, form: dict,
                        exc: Refusal) -> Response:
    """The request form again with the refusal, audited if it was not yet (a probe with no face)."""
    if not exc.audited:
        workflow.record_refusal(settings.database_path, user_id, Action.REQUEST, f"case:{form['case_number']}", exc)
    return page(request, "new_request.html", user_id, token, 403 if isinstance(exc, AccessDenied) else 409,
                offenses=settings.offense_codes, galleries=workflow.galleries(settings.database_path),
                requesters=workflow.requesters(settings.database_path), error=exc.detail, form=form)


@router.post("/requests/new")
def file_request(settings: AppSettings, request: Request, case_number: Annotated[str, Form()],
                 offense_code: Annotated[str, Form()],
                 justification: Annotated[str, Form()], gallery: Annotated[str, Form()],
                 probe: Annotated[UploadFile, File()], requested_for: Annotated[str, Form()] = "",
                 csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    data = probe.file.read()
    form = {"case_number": case_number, "offense_code": offense_code, "justification": justification,
            "gallery": gallery, "requested_for": requested_for}
    try:
        workflow.check_filing(settings.database_path, user_id, case_number, offense_code, justification,
                              FilingRules.of(settings), requested_for or None, data,
                              settings.service.max_probe_bytes)
        stored = store_probe(settings.probes_dir, data, probe.filename or "probe.jpg")
        return choose_or_file(settings, request, user_id, token, form, stored, None, "")
    except Refusal as exc:
        return new_request_refused(settings, request, user_id, token, form, exc)


@router.post("/requests/confirm")
def confirm_request(settings: AppSettings, request: Request, case_number: Annotated[str, Form()],
                    offense_code: Annotated[str, Form()],
                    justification: Annotated[str, Form()], gallery: Annotated[str, Form()],
                    probe_name: Annotated[str, Form()], probe_tag: Annotated[str, Form()] = "",
                    face_index: Annotated[int | None, Form()] = None,
                    override: Annotated[str, Form()] = "", requested_for: Annotated[str, Form()] = "",
                    csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    form = {"case_number": case_number, "offense_code": offense_code, "justification": justification,
            "gallery": gallery, "requested_for": requested_for}
    stored = settings.probes_dir / probe_name
    try:
        workflow.authorized(settings.database_path, user_id, Action.REQUEST, f"case:{case_number}")
        if not hmac.compare_digest(probe_tag, sessions_of(request).tag(token, probe_name)):  # uploaded in this session
            raise workflow.WorkflowRefused("probe", "that probe was not uploaded in this session; upload it again")
        if not PROBE_NAME.fullmatch(probe_name) or not stored.is_file():
            raise workflow.WorkflowRefused("probe", "the uploaded probe is not kept any more; upload it again")
        return choose_or_file(settings, request, user_id, token, form, stored, face_index, override)
    except Refusal as exc:
        return new_request_refused(settings, request, user_id, token, form, exc)


@router.get("/requests", response_class=HTMLResponse)
def my_requests(settings: AppSettings, request: Request, filed: str = "") -> HTMLResponse:
    return shown(request, "requests.html", lambda user: {"rows": workflow.own_requests(settings.database_path, user),
                                                         "filed": filed})


@router.get("/approvals", response_class=HTMLResponse)
def approvals(settings: AppSettings, request: Request) -> HTMLResponse:
    return shown(request, "approvals.html", lambda user: {"rows": workflow.approval_queue(settings.database_path,
                 user)})


@router.post("/requests/{request_id}/decision")
def decide(settings: AppSettings, request: Request, request_id: str, decision: Annotated[str, Form()],
           reason: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    try:
        if decision not in ("approve", "deny"):
            raise workflow.WorkflowRefused("decision", f"decision {decision!r} is neither approve nor deny")
        workflow.decide_request(settings.database_path, user_id, request_id, decision == "approve", reason)
    except Refusal as exc:
        return refusal(request, user_id, token, exc)
    return RedirectResponse("/approvals", status_code=303)


@router.get("/requests/{request_id}/probe")
def probe_photo(settings: AppSettings, request: Request, request_id: str) -> Response:
    user_id, csrf = signed_in(request)
    try:
        data = workflow.probe_image(settings.database_path, user_id, request_id)
    except Refusal as exc:
        return refusal(request, user_id, csrf, exc)
    return Response(data, media_type=image_type(data))


@router.post("/requests/{request_id}/run")
def run_search(settings: AppSettings, request: Request, request_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    try:
        outcome = workflow.run_flow_for(settings, user_id, Action.SEARCH, f"request:{request_id}", search_probe,
                                        request_id=request_id)
    except Refusal as exc:
        return refusal(request, user_id, token, exc)
    return RedirectResponse(f"/searches/{quote(outcome.search_id)}", status_code=303)


def sheet_page(settings: Settings, request: Request, search_id: str,
               details: dict) -> tuple[str, str, object] | HTMLResponse:
    user_id, csrf = signed_in(request)
    try:
        return user_id, csrf, open_sheet(settings.database_path, search_id, user_id, details)
    except Refusal as exc:
        return refusal(request, user_id, csrf, exc)


@router.get("/searches/{search_id}", response_class=HTMLResponse)
def results(settings: AppSettings, request: Request, search_id: str) -> HTMLResponse:
    opened = sheet_page(settings, request, search_id, {"page": "results"})
    if isinstance(opened, HTMLResponse):
        return opened
    user_id, csrf, view = opened
    stage, outcome = workflow.determination_stage(settings.database_path, user_id, search_id)
    return page(request, "results.html", user_id, csrf, search=view.rows[0] if view.rows else None,
                candidates=[{**asdict(row), "thumb": b64(row.thumbnail), "chance": view.chance(row)} for row in view.rows],
                probe=b64(view.rows[0].probe_thumbnail) if view.rows else "", calibration=view.calibration,
                stage=stage, outcome=outcome, search_id=search_id)


@router.get("/searches/{search_id}/compare/{rank}", response_class=HTMLResponse)
def compare(settings: AppSettings, request: Request, search_id: str, rank: int) -> HTMLResponse:
    opened = sheet_page(settings, request, search_id, {"page": "compare", "rank": rank})
    if isinstance(opened, HTMLResponse):
        return opened
    user_id, csrf, view = opened
    ranks = [row.rank for row in view.rows]
    if rank not in ranks:
        return page(request, "message.html", user_id, csrf, 404, title="No such candidate",
                    text=f"search {search_id} has no candidate at rank {rank}", link=f"/searches/{search_id}")
    row = view.rows[ranks.index(rank)]
    return page(request, "compare.html", user_id, csrf, search=row, candidate=row, chance=view.chance(row),
                probe=b64(row.probe_thumbnail), thumb=b64(row.thumbnail), search_id=search_id,
                previous=rank - 1 if rank - 1 in ranks else None, following=rank + 1 if rank + 1 in ranks else None)


@router.post("/searches/{search_id}/determination")
def determine(settings: AppSettings, request: Request, search_id: str, choice: Annotated[str, Form()],
              csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    try:
        if choice != "none" and not choice.isdigit():
            raise workflow.WorkflowRefused("choice", "choose a candidate's rank or no candidate")
        workflow.record_determination(settings.database_path, user_id, search_id,
                                      None if choice == "none" else int(choice))
    except Refusal as exc:
        return refusal(request, user_id, token, exc)
    return RedirectResponse(f"/searches/{quote(search_id)}", status_code=303)


@router.get("/reviews", response_class=HTMLResponse)
def reviews(settings: AppSettings, request: Request) -> HTMLResponse:
    return shown(request, "reviews.html", lambda user: {"rows": workflow.review_queue(settings.database_path, user)})


@router.get("/leads", response_class=HTMLResponse)
def leads(settings: AppSettings, request: Request) -> HTMLResponse:
    return shown(request, "leads.html", lambda user: {"rows": workflow.released_leads(settings.database_path, user)})


@router.get("/leads/{search_id}", response_class=HTMLResponse)
def lead(settings: AppSettings, request: Request, search_id: str) -> HTMLResponse:
    def values(user: str) -> dict:
        report = workflow.lead_report(settings.database_path, user, search_id)
        candidate = report.candidate
        return {"lead": report.lead, "candidate": candidate,
                "thumb": b64(candidate.thumbnail) if candidate and candidate.thumbnail else "",
                "corroboration": settings.lead_corroboration}

    return shown(request, "lead.html", values)


@router.get("/history", response_class=HTMLResponse)
def history(settings: AppSettings, request: Request, case_number: str = "", analyst: str = "", offense_code: str = "",
            start: str = "",
            end: str = "") -> HTMLResponse:
    given = {"case_number": case_number, "analyst": analyst, "offense_code": offense_code, "start": start, "end": end}

    def values(user: str) -> dict:
        filters = {**{k: v.strip() or None for k, v in given.items()},
                   **{k: _day(given[k]) for k in ("start", "end")}}
        return {"rows": workflow.search_history(settings.database_path, user, filters), "given": given,
                "offenses": settings.offense_codes, "limit": workflow.HISTORY_LIMIT}

    return shown(request, "history.html", values)


@router.get("/oversight", response_class=HTMLResponse)
def oversight(settings: AppSettings, request: Request, start: str = "", end: str = "") -> HTMLResponse:
    def values(user: str) -> dict:
        first, last = previous_month(date.today())
        period = (_day(start) or first, _day(end) or last)
        report = workflow.run_flow_for(settings, user, Action.REPORT, "reports", oversight_report, start=period[0],
                                       end=period[1])
        top = max([1, *(getattr(r, c) for r in report.rows for c in ("searches", "released",
                                                                     "released_no_candidate", "disputed"))])
        return {"rows": report.rows, "columns": COLUMNS, "start": period[0], "end": period[1], "top": top}

    return shown(request, "oversight.html", values)


@router.get("/audit", response_class=HTMLResponse)
def audit(settings: AppSettings, request: Request) -> HTMLResponse:
    return shown(request, "audit.html", lambda user: {"chain": workflow.audit_status(settings.database_path, user)})


@router.get("/export", response_class=HTMLResponse)
def export_form(request: Request) -> HTMLResponse:
    user_id, csrf = signed_in(request)
    return page(request, "export.html", user_id, csrf, error=None)


@router.post("/export")
def export(settings: AppSettings, request: Request, case_number: Annotated[str, Form()], csrf: Annotated[str,
           Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    try:
        with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".export-") as staging:
            folder = export_case(settings.database_path, user_id, case_number, Path(staging))
            packet = zipped(folder)
    except Refusal as exc:
        return page(request, "export.html", user_id, token, 403 if isinstance(exc, AccessDenied) else 409,
                    error=exc.detail)
    return Response(packet, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{folder.name}.zip"'})


@router.get("/admin/users", response_class=HTMLResponse)
def users(settings: AppSettings, request: Request, changed: str = "") -> HTMLResponse:
    user_id, csrf = signed_in(request)
    try:
        rows = workflow.list_users(settings.database_path, user_id)
    except Refusal as exc:
        return refusal(request, user_id, csrf, exc)
    return page(request, "users.html", user_id, csrf, rows=rows, roles=ROLES, error=None, code=None, added=None,
                changed=changed and f"Roles of {changed} saved.")


@router.post("/admin/users")
def add_user(settings: AppSettings, request: Request, new_user: Annotated[str, Form()], name: Annotated[str, Form()],
             roles: Annotated[list[str], Form()] = [], certified_until: Annotated[str, Form()] = "",  # noqa: B006
             csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    code, error = None, None
    try:
        code = workflow.add_user(settings.database_path, user_id, new_user, name, roles, _day(certified_until),
                                 settings.security)
    except AccessDenied as exc:
        return refusal(request, user_id, token, exc)  # one audited refusal, not a second for the page's list
    except (Refusal, ValueError) as exc:
        error = getattr(exc, "detail", None) or str(exc)
    try:
        rows = workflow.list_users(settings.database_path, user_id)  # a bad form from a non-admin is refused here
    except Refusal as exc:
        return refusal(request, user_id, token, exc)
    return page(request, "users.html", user_id, token, 409 if error else 200, rows=rows, roles=ROLES,
                error=error, code=code, added=None if error else new_user, changed=None)


def roles_page(settings: Settings, request: Request, user_id: str, csrf: str, target: str, status: int = 200,
               error: str | None = None) -> HTMLResponse:
    try:
        found = [row for row in workflow.list_users(settings.database_path, user_id) if row.user_id == target]
    except Refusal as exc:
        return refusal(request, user_id, csrf, exc)
    if not found:
        return page(request, "message.html", user_id, csrf, 404, title="No such user",
                    text=f"there is no user {target!r}", link="/admin/users")
    return page(request, "user_roles.html", user_id, csrf, status, person=found[0], roles=ROLES, error=error)


@router.get("/admin/users/{target}", response_class=HTMLResponse)
def user_roles(settings: AppSettings, request: Request, target: str) -> HTMLResponse:
    return roles_page(settings, request, *signed_in(request), target)


@router.post("/admin/users/{target}/roles")
def set_roles(settings: AppSettings, request: Request, target: str,
              roles: Annotated[list[str], Form()] = [],  # noqa: B006
              certified_until: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    try:
        workflow.set_roles(settings.database_path, user_id, target, roles, _day(certified_until))
    except AccessDenied as exc:
        return refusal(request, user_id, token, exc)  # one audited refusal, not a second for the page's list
    except Refusal as exc:
        return roles_page(settings, request, user_id, token, target, 409, exc.detail)
    return RedirectResponse(f"/admin/users?changed={quote(target)}", status_code=303)


@router.post("/admin/users/{target}/disable")
def disable_user(settings: AppSettings, sessions: AppSessions, request: Request, target: str, reason: Annotated[str,
                 Form()] = "",
                 csrf: Annotated[str, Form()] = "") -> Response:
    user_id, token = checked(request, csrf)
    try:
        workflow.disable_user(settings.database_path, user_id, target, reason or "disabled on the users page")
    except Refusal as exc:
        return refusal(request, user_id, token, exc)
    sessions.end_user(target)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/static/{name}")
def static(name: str) -> Response:
    folder = Path(__file__).parent / "static"
    target = folder / name
    if target.parent != folder or not target.is_file():
        return Response(status_code=404)
    return Response(target.read_bytes(), media_type="text/css" if name.endswith(".css") else "text/javascript")


def add_pages(app: FastAPI) -> None:
    """Mount the pages on the service's app (its settings and sessions on ``app.state``):
    the guard every response passes, the answers to a missing session and a forged form,
    and the pages' routes."""

    @app.middleware("http")
    async def guarded(request: Request, call_next):
        """Posts to the pages from another site are refused (sign-in included); nothing is
        cached; pages load scripts and styles from here alone."""
        if request.method == "POST" and not request.url.path.startswith("/api/") and _cross_site(request):
            response = form_refused()
        else:
            response = await call_next(request)
            if token := request.cookies.get(COOKIE):
                sessions_of(request).user(token)  # a long search is use, not idleness: the clock restarts at its answer
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        html = response.headers.get("content-type", "").startswith("text/html")
        if html and not request.url.path.startswith("/api/"):
            console = request.url.path.startswith(CONSOLE_PREFIX + "/")
            response.headers["Content-Security-Policy"] = CONSOLE_POLICY if console else CONTENT_POLICY
        return response

    @app.exception_handler(SignInNeeded)
    def to_sign_in(request: Request, _: SignInNeeded) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return render("message.html", 401, user_id=None, csrf="", title="Signed out",
                      text="Your session ended (15 minutes without use, or signed out). Sign in again; "
                           "what you were sending was not saved.", link="/login")

    @app.exception_handler(FormForged)
    def forged(request: Request, exc: FormForged) -> Response:
        workflow.record_refusal(settings_of(request).database_path, exc.user_id, "web.form", request.url.path, exc)
        return form_refused()

    app.include_router(router)


LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")  # a path on this site: never //host or /\host


def _local(path: str) -> str:
    """``path`` if it is a path on this site (where sign-in may return the browser), else "/"."""
    return path if LOCAL_PATH.fullmatch(path) and "\\" not in path else "/"


def _day(text: str) -> date | None:
    """A YYYY-MM-DD form field as a date; blank is None; anything else a ValueError naming it."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise workflow.WorkflowRefused("date", f"{text!r} is not a date (YYYY-MM-DD)") from None


