"""The policy below every entry point, as an attacker would try it: each action by each
role (and by nobody, an unknown name, a disabled user, an expired certification), through
the service's check and through a flow run's grant; every refusal audited."""

from __future__ import annotations

import base64
import json
import time
from datetime import date

import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from facelead import grants
from facelead.access import AccessDenied
from facelead.policy import CONSOLE, POLICY, ROLES, Action
from facelead.refusal import Refusal
from facelead.settings import SecuritySettings, Settings
from facelead.workflow import add_user, authorized, disable_user, grant_for, run_flow_for, run_principal
from flows.build_index import build_index
from flows.calibrate_gallery import calibrate
from flows.enroll_gallery import enroll_gallery
from flows.evaluate import evaluate
from flows.oversight_report import oversight_report
from flows.rerun_search import rerun_search
from flows.retention_purge import retention_purge
from flows.search_probe import search_probe
from warehouse import chain, db

LIMITS = SecuritySettings()
SPECIAL = {"disabled.p": (["analyst", "admin", "auditor", "operator", "supervisor", "reviewer"], date(2099, 1, 1)),
           "expired.p": (["analyst", "reviewer"], date(2020, 1, 1))}


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """Settings of a fresh data folder with one user per role, a disabled and an expired one."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("policy"))
    db_path = settings.database_path
    add_user(db_path, None, "admin.p", "Admin", ["admin"], None, LIMITS)
    for role in ROLES:
        if role != "admin":
            add_user(db_path, "admin.p", f"{role}.p", role, [role], date(2099, 1, 1), LIMITS)
    for user_id, (roles, certified) in SPECIAL.items():
        add_user(db_path, "admin.p", user_id, user_id, roles, certified, LIMITS)
    disable_user(db_path, "admin.p", "disabled.p", "left")
    return settings


def _last_audit(settings):
    with db.open_db(settings.database_path, read_only=True) as conn:
        return chain.audit_rows(conn)[-1]


CLAIMS = [f"{role}.p" for role in ROLES] + ["disabled.p", "expired.p", "nobody.p", "", "ev\x1fil\nname" + "x" * 200]


def _allowed(claim: str, action: Action) -> bool:
    role = claim.removesuffix(".p")
    return role in ROLES and role in POLICY[action]


@pytest.mark.parametrize("action", list(Action))
def test_the_service_check_allows_exactly_what_the_policy_says_and_audits_each_refusal(office, action):
    for claim in CLAIMS:
        target = f"test:{action.value}"
        if _allowed(claim, action):
            assert authorized(office.database_path, claim, action, target).user_id == claim
            continue
        with pytest.raises(AccessDenied):
            authorized(office.database_path, claim, action, target)
        row = _last_audit(office)
        assert (row.action, row.target) == (f"{action.value}.refused", target), claim
        assert row.actor.isprintable() and len(row.actor) <= 64  # a claimed name never plants a control character


FLOW_ACTIONS = [Action.SEARCH, Action.RERUN, Action.ENROLL, Action.BUILD, Action.CALIBRATE, Action.PURGE,
                Action.EVALUATE, Action.REPORT]


@pytest.mark.parametrize("action", FLOW_ACTIONS)
def test_a_flow_run_acts_only_for_a_granted_user_the_policy_allows(office, action):
    params = {"thing": action.value}
    for claim in [f"{role}.p" for role in ROLES] + ["disabled.p", "expired.p", "nobody.p"]:
        grant = grants.issue(grants.read_key(office.grant_key_path, create=True), claim, action, params, 60, time.time())
        if _allowed(claim, action):
            assert run_principal(office, action, "t", params, grant, scheduled=False).user_id == claim
            continue
        with pytest.raises(AccessDenied):
            run_principal(office, action, "t", params, grant, scheduled=False)
        assert _last_audit(office).action == f"{action.value}.refused"
    if "schedule" in POLICY[action]:
        assert run_principal(office, action, "t", params, None, scheduled=True) == CONSOLE
    else:  # a schedule of a flow that acts for a person
        with pytest.raises(AccessDenied, match="schedule"):
            run_principal(office, action, "t", params, None, scheduled=True)
        assert (_last_audit(office).actor, _last_audit(office).action) == (CONSOLE.user_id, f"{action.value}.refused")


def _grant_refusal(office, action, params, grant) -> str:
    with pytest.raises(grants.GrantRefused) as refused:
        run_principal(office, action, "t", params, grant, scheduled=False)
    row = _last_audit(office)
    assert row.action == f"{action.value}.refused" and json.loads(row.details)["reason"] == refused.value.reason
    return refused.value.reason


def test_forged_expired_mismatched_and_replayed_grants_are_refused_and_audited(office, tmp_path):
    key = grants.read_key(office.grant_key_path, create=True)
    params = {"request_id": "R-1", "k": 3}
    issue = lambda **kw: grants.issue(key, "analyst.p", Action.SEARCH, {**params, **kw}, 60, time.time())  # noqa: E731
    grant = issue()
    payload, mac = grant.split(".")
    assert _grant_refusal(office, Action.SEARCH, params, None) == "no_grant"
    assert _grant_refusal(office, Action.SEARCH, params, f"{payload}.{'0' * 64}") == "grant_invalid"
    other_install = grants.read_key(tmp_path / "other.key", create=True)
    assert _grant_refusal(office, Action.SEARCH, params,
                          grants.issue(other_install, "analyst.p", Action.SEARCH, params, 60, time.time())) == "grant_invalid"
    assert _grant_refusal(office, Action.SEARCH, params,
                          grants.issue(key, "analyst.p", Action.SEARCH, params, 60, time.time() - 120)) == "grant_expired"
    assert _grant_refusal(office, Action.SEARCH, params, issue(k=50)) == "grant_params"
    assert _grant_refusal(office, Action.RERUN, params, grant) == "grant_action"
    assert run_principal(office, Action.SEARCH, "t", params, grant, scheduled=False).user_id == "analyst.p"
    assert _grant_refusal(office, Action.SEARCH, params, grant) == "grant_spent"
    assert oct(office.grant_key_path.stat().st_mode & 0o777) == "0o600"
    assert oct(office.grant_key_path.parent.stat().st_mode & 0o777) == "0o700"


QUICK = ThreadPoolTaskRunner(max_workers=1)


@pytest.mark.parametrize("flow, action, params, other", [
    (search_probe, Action.SEARCH, {"request_id": "R-1"}, {"request_id": "R-2"}),
    (rerun_search, Action.RERUN, {"search_id": "S-1"}, {"search_id": "S-2"}),
    (retention_purge, Action.PURGE, {}, None),
    (enroll_gallery.with_options(task_runner=QUICK), Action.ENROLL, {"source": "/nowhere", "gallery": "g"},
     {"source": "/nowhere", "gallery": "g", "quality_bar": {"min_inter_eye_px": 1}}),
    (build_index.with_options(task_runner=QUICK), Action.BUILD, {"gallery": "g"}, {"gallery": "h"}),
    (calibrate, Action.CALIBRATE, {"gallery": "g"}, {"gallery": "h"}),
    (evaluate.with_options(task_runner=QUICK), Action.EVALUATE, {"source": "/nowhere"}, {"source": "/elsewhere"}),
    (oversight_report, Action.REPORT, {}, {"start": date(2020, 1, 1), "end": date(2020, 2, 1)}),
], ids=lambda v: getattr(v, "name", None) if hasattr(v, "fn") else "")
def test_every_flow_called_from_python_without_a_grant_or_with_another_runs_grant_is_refused(
        prefect_api, office, monkeypatch, flow, action, params, other):
    monkeypatch.setenv("FACELEAD_DATA_DIR", str(office.data_dir))
    monkeypatch.setenv("FACELEAD_USER", "admin.p")  # the environment names nobody a flow trusts
    with pytest.raises(grants.GrantRefused, match="start it through facelead"):
        flow(**params)
    row = _last_audit(office)
    assert (row.actor, row.action, json.loads(row.details)["reason"]) == ("anonymous", f"{action.value}.refused", "no_grant")
    if other is not None:  # a grant issued for another run of the same flow
        with pytest.raises(grants.GrantRefused, match="other parameters"):
            flow(**params, grant=grant_for(office, "admin.p", action, flow, other))


@pytest.mark.parametrize("flow, action, params, reason", [
    (rerun_search, Action.RERUN, {"search_id": "S-none"}, "no_such_search"),
    (enroll_gallery.with_options(task_runner=QUICK), Action.ENROLL, {"gallery": "g"}, "no_source"),
    (calibrate, Action.CALIBRATE, {"gallery": "empty"}, "too_few_subjects"),
    (evaluate.with_options(task_runner=QUICK), Action.EVALUATE, {}, "nothing_to_evaluate"),
    (search_probe, Action.SEARCH, {"request_id": "R-none"}, "no_such_request"),
], ids=lambda v: getattr(v, "name", None) if hasattr(v, "fn") else "")
def test_a_refusal_raised_inside_a_flow_is_audited_once_under_the_person_it_acts_for(
        prefect_api, office, flow, action, params, reason):
    user_id = f"{next(role for role in ROLES if role in POLICY[action])}.p"
    with pytest.raises(Refusal) as refused:
        run_flow_for(office, user_id, action, "t", flow, **params)
    assert refused.value.reason == reason and refused.value.audited
    with db.open_db(office.database_path, read_only=True) as conn:
        rows = [r for r in chain.audit_rows(conn) if r.action == f"{action.value}.refused"
                and json.loads(r.details)["reason"] == reason]
    assert [r.actor for r in rows] == [user_id]


def _api_calls(user_id: str) -> dict[Action, tuple[str, str, dict | None]]:
    """One call of the HTTP API for each action by ``user_id``: (method, path, body). A
    determination is on the user's own search; a review, a sheet view on analyst.p's."""
    probe = base64.b64encode(b"\xff\xd8 not really a photo").decode()
    return {
        Action.USER_ADMIN: ("GET", "/api/users", None),
        Action.REQUEST: ("POST", "/api/requests", {"case_number": "C-1", "offense_code": "violent-felony",
                                                   "justification": "policy check of the door", "probe_name": "p.jpg", "probe_base64": probe}),
        Action.APPROVE: ("POST", "/api/requests/R-0/approve", {"reason": "ok"}),
        Action.DENY: ("POST", "/api/requests/R-0/deny", {"reason": "no"}),
        Action.SEARCH: ("POST", "/api/requests/R-0/search", {"k": 3}),
        Action.DETERMINE: ("POST", f"/api/searches/S-{user_id}/determination", {"rank": None}),
        Action.REVIEW: ("POST", "/api/searches/S-analyst.p/determination", {"rank": None}),
        Action.SHEET_VIEW: ("GET", "/api/searches/S-analyst.p/sheet", None),
        Action.RERUN: ("POST", "/api/searches/S-0/rerun", None),
        Action.EXPORT: ("POST", "/api/cases/C-0/export", None),
        Action.LEAD_VIEW: ("GET", "/api/leads", None),
        Action.HISTORY: ("GET", "/api/history?case_number=C-0", None),
        Action.ENROLL: ("POST", "/api/enrollments", {"gallery": "g"}),
        Action.REMOVE: ("POST", "/api/galleries/g/remove", {"subject": "s", "reason": "r"}),
        Action.BUILD: ("POST", "/api/galleries/g/index", {}),
        Action.CALIBRATE: ("POST", "/api/galleries/g/calibrate", None),
        Action.MARK_PAIR: ("POST", "/api/galleries/g/duplicates", {"subject_a": "a", "subject_b": "b",
                                                                    "same_person": True}),
        Action.PURGE: ("POST", "/api/purge", None),
        Action.EVALUATE: ("POST", "/api/evaluations", {"source": "/nowhere"}),
        Action.REPORT: ("POST", "/api/reports/oversight", {}),
        Action.AUDIT_QUERY: ("POST", "/api/audit/query", {"sql": "SELECT 1"}),
        Action.AUDIT_VERIFY: ("GET", "/api/audit/verify", None),
        Action.CONSOLE: ("POST", "/prefect/api/flow_runs/filter", {}),  # no Prefect server here: 404 when allowed
    }


@pytest.fixture(scope="module")
def api(office, prefect_api):
    """A client of the real app over ``office``, each user signed in with their own secret;
    a search row run by each of them for the determination, review and sheet actions."""
    from fastapi.testclient import TestClient

    from facelead.service import create_app
    from facelead.workflow import reset_user, set_secret

    with db.open_db(office.database_path) as conn:
        for role in ROLES:
            conn.execute("INSERT INTO searches (search_id, case_number, gallery_id, model_id, detector_id, method, k, "
                         "gallery_size, probe_sha256, probe_path, probe_face_index, probe_face_count, probe_box, "
                         "probe_thumbnail, actor, created_at) VALUES (?, 'C-API', 'g', 'm', 'd', 'exact', 3, 0, "
                         "'x', 'x', 0, 1, [0, 0, 1, 1], ''::BLOB, ?, now())", [f"S-{role}.p", f"{role}.p"])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FACELEAD_DATA_DIR", str(office.data_dir))
        client = TestClient(create_app(office))
        tokens = {}
        for role in ROLES:
            user_id = f"{role}.p"
            set_secret(office.database_path, user_id, reset_user(office.database_path, "admin.p", user_id, LIMITS),
                       f"the secret of {user_id}", LIMITS)
            tokens[user_id] = client.post("/api/session", json={"user_id": user_id,
                                                                "secret": f"the secret of {user_id}"}).json()["token"]
        yield client, tokens


@pytest.mark.parametrize("action", list(Action))
def test_the_api_allows_exactly_what_the_policy_says_and_audits_each_refusal(api, office, action):
    client, tokens = api
    for user_id, token in [*tokens.items(), ("no session", "forged-token"), ("no header", None)]:
        if action == Action.REVIEW and user_id == "analyst.p":
            continue  # analyst.p ran the search: theirs is the determination, not the review
        method, path, body = _api_calls(user_id)[action]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = client.request(method, path, json=body, headers=headers)
        if token in (None, "forged-token"):
            assert answer.status_code == 401, (user_id, answer.text)
        elif _allowed(user_id, action):
            assert answer.status_code not in (401, 403), (user_id, answer.status_code, answer.text)
        else:
            assert answer.status_code == 403 and answer.json()["reason"] == "role", (user_id, answer.text)
            assert (_last_audit(office).actor, _last_audit(office).action) == (user_id, f"{action.value}.refused")


def test_the_auditors_snapshot_goes_to_auditors_only(api, office):
    client, tokens = api
    for user_id, token in tokens.items():
        answer = client.get("/api/audit/snapshot", headers={"Authorization": f"Bearer {token}"})
        if user_id == "auditor.p":
            assert answer.status_code == 200 and b"DUCK" in answer.content[:64]  # a DuckDB file
            assert _last_audit(office).action == "audit.snapshot"
        else:
            assert answer.status_code == 403, (user_id, answer.text)
            assert (_last_audit(office).actor, _last_audit(office).action) == (user_id, "audit.query.refused")
