"""The investigative workflow's controls, each refusal a test: real DuckDB file, real flows."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from facelead import LEAD_NOTICE
from facelead.access import AccessDenied
from facelead.casework import FilingRules
from facelead.cli import main
from facelead.documents.disclosure import export_case
from facelead.documents.sheet import view_sheet
from facelead.policy import Action
from facelead.settings import SecuritySettings
from facelead.workflow import (
    WorkflowRefused,
    add_user,
    auditor_query,
    authorized,
    decide_request,
    disable_user,
    file_request,
    record_determination,
    review_outcome,
    sign_in,
)
from warehouse import accounts, casefile, chain, db, sandbox

from fixtures import as_user, run_search


def _last_audit(settings, action_prefix: str):
    with db.open_db(settings.database_path, read_only=True) as conn:
        return [r for r in chain.audit_rows(conn) if r.action.startswith(action_prefix)][-1]


def _file(settings, probe, case="WF-1", user="analyst.test", offense=None, justification="armed robbery, CCTV still"):
    return file_request(settings.database_path, user, case, offense or settings.offense_codes[0], justification,
                        probe, "dev", FilingRules.of(settings))


LIMITS = SecuritySettings()


def test_secrets_are_kept_only_as_salted_slow_hashes(people, settings):
    secret = people["analyst.test"]
    assert sign_in(settings.database_path, "analyst.test", secret, LIMITS).user_id == "analyst.test"
    with db.open_db(settings.database_path, read_only=True) as conn:
        row = accounts.get_user(conn, "analyst.test")
    assert secret.encode() not in row.token_hash and len(row.token_salt) == 16
    with pytest.raises(AccessDenied, match="wrong secret"):
        sign_in(settings.database_path, "analyst.test", secret[:-1] + "x", LIMITS)
    assert _last_audit(settings, "auth").action == "auth.refused"


def test_the_first_user_must_be_an_admin_and_later_only_admins_add_users(tmp_path, people, settings):
    fresh = tmp_path / "fresh.duckdb"
    with pytest.raises(WorkflowRefused, match="admin"):
        add_user(fresh, None, "ana", "Ana", ["analyst"], date(2099, 1, 1), LIMITS)
    add_user(fresh, None, "root", "Root", ["admin"], None, LIMITS)
    with pytest.raises(AccessDenied, match="signed-in user with the admin role"):
        add_user(fresh, None, "ana", "Ana", ["analyst"], date(2099, 1, 1), LIMITS)
    with pytest.raises(AccessDenied, match="admin role"):
        add_user(settings.database_path, "supervisor.test", "sneaky", "Sneaky", ["admin"], None, LIMITS)
    with pytest.raises(ValueError, match="unknown role"):
        add_user(fresh, "root", "bob", "Bob", ["detective"], None, LIMITS)
    for bad in ("ana\x1fadmin", "ana|x", "", "x" * 65, "operator console"):
        with pytest.raises(ValueError, match="user id"):
            add_user(fresh, "root", bad, "Bad", ["analyst"], None, LIMITS)
    with pytest.raises(WorkflowRefused, match="schedule"):
        add_user(fresh, "root", "prefect-schedule", "Schedule", ["operator"], None, LIMITS)


def test_a_request_needs_a_permitted_offense_and_a_justification(enrolled, people, settings):
    probe = enrolled.probes[0][0]
    with pytest.raises(WorkflowRefused, match="not one of the permitted"):
        _file(settings, probe, offense="shoplifting")
    assert _last_audit(settings, "request").action == "request.refused"
    with pytest.raises(WorkflowRefused, match="justification"):
        _file(settings, probe, justification="  ")
    refused = _last_audit(settings, "request")
    assert refused.action == "request.refused" and json.loads(refused.details)["reason"] == "missing"


def test_the_requester_cannot_approve_their_own_request(enrolled, people, settings):
    add_user(settings.database_path, "admin.test", "dual.test", "Dual", ["analyst", "supervisor"], date(2099, 1, 1), LIMITS)
    request = _file(settings, enrolled.probes[0][0], user="dual.test")
    with pytest.raises(WorkflowRefused, match="cannot decide"):
        decide_request(settings.database_path, "dual.test", request, True, "mine")
    assert _last_audit(settings, "request.approve").action == "request.approve.refused"
    with pytest.raises(AccessDenied, match="supervisor"):
        decide_request(settings.database_path, "analyst2.test", request, True, "not a supervisor")


def test_only_an_approved_request_runs_and_only_once(enrolled, people, settings):
    probe = enrolled.probes[0][0]
    pending = _file(settings, probe)
    with pytest.raises(WorkflowRefused, match="pending"):
        run_search(pending, k=3)
    denied = _file(settings, probe)
    decide_request(settings.database_path, "supervisor.test", denied, False, "not a violent felony")
    with pytest.raises(WorkflowRefused, match="denied"):
        run_search(denied, k=3)
    decide_request(settings.database_path, "supervisor.test", pending, True, "ok")
    with pytest.raises(WorkflowRefused, match="already"):
        decide_request(settings.database_path, "supervisor.test", pending, False, "changed my mind")
    outcome = run_search(pending, k=3)
    with pytest.raises(WorkflowRefused, match="run already"):
        run_search(pending, k=3)
    assert json.loads(_last_audit(settings, "search").details)["reason"] == "already_run"
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert casefile.get_request(conn, pending).search_id == outcome.search_id
        assert casefile.search_summary(conn, outcome.search_id).request_id == pending


def test_expired_disabled_or_uncertified_users_cannot_search_or_review(enrolled, people, settings, approved):
    request = approved(enrolled.probes[1][0], "WF-EXPIRED")
    with pytest.raises(AccessDenied, match="expired"):
        authorized(settings.database_path, "expired.test", Action.SEARCH, f"request:{request}")
    with pytest.raises(AccessDenied, match="expired"):
        run_search(request, user="expired.test", k=3)
    outcome = run_search(request, k=3)
    record_determination(settings.database_path, "analyst.test", outcome.search_id, 1)
    with pytest.raises(AccessDenied, match="expired"):
        record_determination(settings.database_path, "expired.test", outcome.search_id, 1)
    with pytest.raises(AccessDenied, match="reviewer role"):
        record_determination(settings.database_path, "supervisor.test", outcome.search_id, 1)
    add_user(settings.database_path, "admin.test", "leaver.test", "Leaver", ["analyst"], date(2099, 1, 1), LIMITS)
    disable_user(settings.database_path, "admin.test", "leaver.test", "left the unit")
    with pytest.raises(AccessDenied, match="disabled"):
        authorized(settings.database_path, "leaver.test", Action.SEARCH, f"request:{request}")


def test_a_request_runs_only_for_its_filer_and_only_while_its_approval_lasts(enrolled, people, settings):
    probe = enrolled.probes[4][0]
    request = _file(settings, probe, case="WF-FILER", user="analyst2.test")
    decide_request(settings.database_path, "supervisor.test", request, True, "ok")
    with pytest.raises(WorkflowRefused, match="only its filer"):
        run_search(request, user="analyst.test", k=3)
    refused = _last_audit(settings, "search")
    assert (refused.action, refused.actor, json.loads(refused.details)["reason"]) == (
        "search.refused", "analyst.test", "not_filer")
    stale = _file(settings, probe, case="WF-STALE")
    decide_request(settings.database_path, "supervisor.test", stale, True, "ok")
    with db.open_db(settings.database_path) as conn:  # approved eight days ago
        conn.execute("UPDATE requests SET decided_at = decided_at - INTERVAL 8 DAY WHERE request_id = ?", [stale])
    with pytest.raises(WorkflowRefused, match="approvals last 7 days"):
        run_search(stale, k=3)
    assert json.loads(_last_audit(settings, "search").details)["reason"] == "approval_expired"
    outcome = run_search(request, user="analyst2.test", k=3)
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert casefile.search_summary(conn, outcome.search_id).actor == "analyst2.test"


def test_blind_review_releases_only_when_both_agree(enrolled, people, settings, approved):
    agreed = run_search(approved(enrolled.probes[2][0], "WF-AGREE"), k=3)
    disputed = run_search(approved(enrolled.probes[3][0], "WF-DISPUTE"), k=3)
    db_path = settings.database_path
    with pytest.raises(WorkflowRefused, match="awaits the analyst"):
        record_determination(db_path, "reviewer.test", agreed.search_id, 1)
    with pytest.raises(WorkflowRefused, match="no candidate at rank 9"):
        record_determination(db_path, "analyst.test", agreed.search_id, 9)
    assert record_determination(db_path, "analyst.test", agreed.search_id, 1) == "awaiting review"
    with pytest.raises(WorkflowRefused, match="different reviewer"):
        record_determination(db_path, "analyst.test", agreed.search_id, 1)
    assert record_determination(db_path, "reviewer.test", agreed.search_id, 1) == "released"
    assert record_determination(db_path, "analyst.test", disputed.search_id, None) == "awaiting review"
    assert record_determination(db_path, "reviewer.test", disputed.search_id, 1) == "disputed"
    assert (review_outcome(db_path, agreed.search_id), review_outcome(db_path, disputed.search_id)) == (
        "released", "disputed")
    assert _last_audit(settings, "review.").action == "review.disputed"


def test_every_sheet_view_is_audited_and_never_shows_a_determination(enrolled, people, settings, approved):
    outcome = run_search(approved(enrolled.probes[4][0], "WF-SHEET"), k=3)
    record_determination(settings.database_path, "analyst.test", outcome.search_id, 1)
    path = view_sheet(settings.database_path, outcome.search_id, settings.sheets_dir, "reviewer.test")
    view = _last_audit(settings, "sheet.view")
    assert (view.action, view.actor, view.target) == ("sheet.view", "reviewer.test", f"search:{outcome.search_id}")
    assert "determination" not in path.read_text().lower()
    with pytest.raises(AccessDenied, match="none of the roles"):
        view_sheet(settings.database_path, outcome.search_id, settings.sheets_dir, "admin.test")
    assert _last_audit(settings, "sheet.view").action == "sheet.view.refused"


def test_the_cli_is_a_client_of_the_service_and_takes_the_secret_from_the_environment(
        enrolled, people, settings, service, monkeypatch, capsys, tmp_path):
    probe = str(enrolled.probes[0][0])
    args = ["request", probe, "--case", "WF-CLI", "--offense", settings.offense_codes[0],
            "--justification", "homicide, witness photo", "--gallery", "dev"]
    monkeypatch.setenv("FACELEAD_TOKEN", people["analyst.test"])
    assert main(args) == 0
    request_id = capsys.readouterr().out.split()[1]
    monkeypatch.setenv("FACELEAD_TOKEN", people["supervisor.test"])
    assert main(["approve", request_id]) == 3  # FACELEAD_USER is still analyst.test: wrong secret for them
    assert "wrong secret" in capsys.readouterr().err
    monkeypatch.setenv("FACELEAD_USER", "supervisor.test")
    assert main(["approve", request_id, "--reason", "homicide"]) == 0
    with pytest.raises(SystemExit):
        main(["search", request_id, "--token", people["analyst.test"]])
    assert main(["enroll", str(enrolled.manifest), "--gallery", "dev"]) == 3  # a supervisor does not enroll
    assert "operator" in capsys.readouterr().err
    assert _last_audit(settings, "enrollment").action == "enrollment.refused"
    monkeypatch.setenv("FACELEAD_USER", "analyst.test")
    monkeypatch.setenv("FACELEAD_TOKEN", people["analyst.test"])
    assert main(["search", request_id, "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert LEAD_NOTICE in out and "   1  " in out
    search_id = out.split("search ")[1].split()[0]
    assert main(["sheet", search_id, "--out", str(tmp_path)]) == 0
    sheet = tmp_path / f"{search_id}.html"
    assert LEAD_NOTICE in sheet.read_text() and oct(sheet.stat().st_mode & 0o777) == "0o600"
    with db.open_db(settings.database_path, read_only=True) as conn:  # the probe the service keeps, owner-only
        kept = casefile.get_request(conn, request_id).probe_path
    assert kept.startswith(str(settings.probes_dir.absolute())) and oct(Path(kept).stat().st_mode & 0o777) == "0o600"


def test_auditors_read_a_fresh_snapshot_and_every_query_is_audited(enrolled, people, settings, approved):
    outcome = run_search(approved(enrolled.probes[5][0], "WF-AUDIT"), k=3)
    fresh = settings.model_copy(update={"security": settings.security.model_copy(update={"audit_snapshot_seconds": 0})})
    columns, rows = auditor_query(fresh, "auditor.test",
                                  f"SELECT case_number, offense_code, requested_by, approved_by, searched_by, outcome "
                                  f"FROM search_history WHERE search_id = '{outcome.search_id}'")
    assert columns[0] == "case_number"
    assert rows == [("WF-AUDIT", settings.offense_codes[0], "analyst.test", "supervisor.test", "analyst.test",
                     "awaiting determination")]
    assert json.loads(_last_audit(settings, "audit.query").details)["rows"] == 1
    with db.open_db(settings.database_path, read_only=True) as conn:
        before = db.table_counts(conn)["audit_log"]
    for write in ("DELETE FROM audit_log", "UPDATE searches SET k = 50", "DROP VIEW search_history"):
        with pytest.raises(sandbox.QueryRefused, match="read-only"):
            auditor_query(settings, "auditor.test", write)
    with pytest.raises(AccessDenied, match="auditor role"):
        auditor_query(settings, "analyst.test", "SELECT 1")
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert db.table_counts(conn)["audit_log"] == before + 4  # each attempt audited, nothing removed
        assert chain.verify_audit(conn).ok


def test_a_case_exports_as_one_hashed_packet_with_every_search_and_determination(enrolled, people, settings, approved,
                                                                                  tmp_path):
    first = run_search(approved(enrolled.probes[6][0], "WF-PACKET"), k=3)
    second = run_search(approved(enrolled.probes[7][0], "WF-PACKET"), k=3)
    record_determination(settings.database_path, "analyst.test", first.search_id, 1)
    record_determination(settings.database_path, "reviewer.test", first.search_id, 1)
    record_determination(settings.database_path, "analyst.test", second.search_id, None)
    with pytest.raises(AccessDenied, match="none of the roles"):
        export_case(settings.database_path, "analyst.test", "WF-PACKET", tmp_path)
    folder = export_case(settings.database_path, "auditor.test", "WF-PACKET", tmp_path)
    manifest = dict(reversed(line.split("  ", 1)) for line in (folder / "MANIFEST.sha256").read_text().splitlines())
    assert set(manifest) == {"README.txt", "requests.csv", "searches.csv", "candidates.csv", "determinations.csv",
                             "audit.jsonl", f"sheets/{first.search_id}.html", f"sheets/{second.search_id}.html"}
    for name, digest in manifest.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    determinations = list(csv.DictReader((folder / "determinations.csv").open()))
    assert sorted(d["candidate_rank"] for d in determinations) == ["1", "1", "no candidate"]
    searches = {row["search_id"]: row["outcome"] for row in csv.DictReader((folder / "searches.csv").open())}
    assert searches == {first.search_id: "released", second.search_id: "awaiting review"}
    assert len(list(csv.DictReader((folder / "candidates.csv").open()))) == 6
    audit = [json.loads(line) for line in (folder / "audit.jsonl").read_text().splitlines()]
    assert {"request.file", "request.approve", "search.run", "determination", "review.released"} <= {
        row["action"] for row in audit}
    assert LEAD_NOTICE in (folder / "README.txt").read_text()
    exported = _last_audit(settings, "case.export")
    assert (exported.actor, exported.target) == ("auditor.test", "case:WF-PACKET")
    assert json.loads(exported.details)["manifest_sha256"] == hashlib.sha256(
        (folder / "MANIFEST.sha256").read_bytes()).hexdigest()


def test_the_oversight_report_counts_each_outcome_by_offense(enrolled, people, settings, tmp_path):
    from flows.oversight_report import oversight_report

    db_path, probe = settings.database_path, enrolled.probes[8][0]
    codes, rules = settings.offense_codes, FilingRules.of(settings)
    denied = file_request(db_path, "analyst2.test", "WF-OVERSIGHT", codes[1], "threat call", probe, "dev", rules)
    decide_request(db_path, "supervisor.test", denied, False, "no imminent threat shown")
    released = file_request(db_path, "analyst2.test", "WF-OVERSIGHT", codes[1], "threat call", probe, "dev", rules)
    decide_request(db_path, "supervisor.test", released, True, "ok")
    file_request(db_path, "analyst2.test", "WF-OVERSIGHT", codes[2], "unidentified patient", probe, "dev", rules)
    outcome = run_search(released, user="analyst2.test", k=3)
    record_determination(db_path, "analyst2.test", outcome.search_id, None)
    record_determination(db_path, "reviewer.test", outcome.search_id, None)
    today = datetime.now(timezone.utc).date()
    report = as_user("auditor.test", Action.REPORT, oversight_report, start=today.replace(day=1),
                     end=date.fromordinal(today.toordinal() + 1))
    rows = {row["offense_code"]: row for row in csv.DictReader(report.csv_path.open())}
    threat, deceased = rows[codes[1]], rows[codes[2]]
    assert (int(threat["requests"]), int(threat["denied"]), int(threat["searches"]), int(threat["released"]),
            int(threat["released_no_candidate"])) == (2, 1, 1, 1, 1)
    assert int(deceased["pending"]) == 1 and int(deceased["searches"]) == 0
    assert "| **all** |" in report.markdown and codes[1] in report.markdown



def test_a_person_signs_in_once_and_later_commands_use_the_session(people, settings, service, tmp_path, monkeypatch,
                                                                   capsys):
    session = tmp_path / "session.json"
    monkeypatch.setenv("FACELEAD_SERVICE__SESSION_FILE", str(session))
    monkeypatch.delenv("FACELEAD_TOKEN", raising=False)
    monkeypatch.setenv("FACELEAD_USER", "admin.test")
    monkeypatch.setattr("sys.stdin", io.StringIO(people["admin.test"] + "\n"))
    assert main(["login"]) == 0
    assert oct(session.stat().st_mode & 0o777) == "0o600" and people["admin.test"] not in session.read_text()
    assert main(["users", "add", "newbie.test", "--name", "Newbie", "--roles", "auditor"]) == 0
    code = capsys.readouterr().out.split("privately:\n")[1].split("\n")[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{code}\nnewbie's own secret\n"))
    assert main(["users", "set-secret", "newbie.test"]) == 0
    assert main(["users", "list"]) == 0
    listing = [line for line in capsys.readouterr().out.splitlines() if line.startswith("newbie.test")]
    assert len(listing) == 1 and "auditor" in listing[0] and "active" in listing[0]
    assert main(["logout"]) == 0 and not session.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "list"]) == 3  # signed out, and no secret given
    assert "none given" in capsys.readouterr().err


def test_exported_cells_that_a_spreadsheet_would_run_are_escaped(enrolled, people, settings, tmp_path):
    formula = '=HYPERLINK("http://example.invalid/x","click")'
    _file(settings, enrolled.probes[0][0], case="WF-FORMULA", justification=formula + "; =1+1")
    folder = export_case(settings.database_path, "auditor.test", "WF-FORMULA", tmp_path)
    [request] = list(csv.DictReader((folder / "requests.csv").open(newline="")))
    assert request["justification"] == "'" + formula + "; '=1+1"
    assert request["probe_file"] == enrolled.probes[0][0].name and "probe_path" not in request  # no server path
    assert not any(str(folder_of) in path.read_text() for path in folder.glob("*.csv")
                   for folder_of in (enrolled.probes[0][0].parent.parent, settings.data_dir.absolute()))
    for path in folder.glob("*.csv"):
        for row in csv.reader(path.open(newline="")):  # split on ',' or on ';', no cell starts a formula
            cells = [*row, *(part.lstrip() for cell in row for part in cell.split(";"))]
            assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells), (path.name, row)
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_search_runs_only_on_the_face_its_request_was_approved_for(people, settings, enrolled, faces_dev):
    from facelead.casework import SearchRefused
    from facelead.workflow import decide_request, file_request

    group = faces_dev / "multi" / "obama_and_biden.jpg"
    request = file_request(settings.database_path, "analyst.test", "FACE-BOUND-1", settings.offense_codes[0],
                           "the second face only", group, "dev", FilingRules.of(settings), face_index=1)
    decide_request(settings.database_path, "supervisor.test", request, True, "face 2 only")
    with pytest.raises(SearchRefused, match="approved for face 2 of its probe, not face 1"):
        run_search(request, k=3, face_index=0)
    with db.open_db(settings.database_path, read_only=True) as conn:
        [details] = conn.execute("SELECT details FROM audit_log WHERE action = 'search.refused' "
                                 "AND target = 'case:FACE-BOUND-1'").fetchall()[0]
    assert json.loads(details)["reason"] == "face_not_approved"
    assert run_search(request, k=3).candidates  # the approved face, as filed


def test_the_api_files_as_the_page_does_a_chosen_face_and_a_reason_for_one_below_the_bar(service, people, settings,
                                                                                         faces_dev, tmp_path,
                                                                                         monkeypatch):
    """A request filed through the API may name the probe face and the override reason: a face
    the probe does not have, or one below the quality bar without a reason, gets 409 with the
    probe's faces and is audited; with them, the request keeps that face and reason."""
    import base64

    import httpx
    from PIL import Image

    from models import degrade
    from models.image import decode_image

    dark = tmp_path / "dark-api.png"
    Image.fromarray(degrade.darken(decode_image((faces_dev / "identities/biden/02.jpg").read_bytes(), 10**8), 0.08)
                    ).save(dark)
    token = httpx.post(f"{service}/api/session", json={"user_id": "analyst.test",
                                                       "secret": people["analyst.test"]}).json()["token"]

    def filed(photo: Path, case: str, **choice):
        return httpx.post(f"{service}/api/requests", headers={"Authorization": f"Bearer {token}"}, timeout=120, json={
            "case_number": case, "offense_code": settings.offense_codes[0], "justification": "platform camera",
            "probe_name": photo.name, "probe_base64": base64.b64encode(photo.read_bytes()).decode(), **choice})

    two = faces_dev / "multi" / "obama_and_biden.jpg"
    absent = filed(two, "API-FACE-1", face_index=9)
    assert absent.status_code == 409 and absent.json()["reason"] == "face_choice"
    assert len(absent.json()["faces"]) >= 2 and "face 10 asked for" in absent.json()["detail"]
    unexplained = filed(dark, "API-FACE-2", face_index=0)
    assert unexplained.status_code == 409 and "below the probe quality bar" in unexplained.json()["detail"]
    with db.open_db(settings.database_path, read_only=True) as conn:
        refused = [(r.actor, r.target) for r in chain.audit_rows(conn) if r.action == "request.refused"
                   and json.loads(r.details)["reason"] == "face_choice"]
        assert refused[-2:] == [("analyst.test", "case:API-FACE-1"), ("analyst.test", "case:API-FACE-2")]
        assert not conn.execute("SELECT count(*) FROM requests WHERE case_number LIKE 'API-FACE-%'").fetchone()[0]
    explained = filed(dark, "API-FACE-3", face_index=0, quality_override="the only frame; detective asked")
    second = filed(two, "API-FACE-4", face_index=1, quality_override="the man on the right")
    assert explained.status_code == second.status_code == 200, (explained.text, second.text)
    with db.open_db(settings.database_path, read_only=True) as conn:
        rows = conn.execute("SELECT case_number, face_index, quality_override FROM requests "
                            "WHERE case_number IN ('API-FACE-3', 'API-FACE-4') ORDER BY case_number").fetchall()
    assert rows == [("API-FACE-3", 0, "the only frame; detective asked"), ("API-FACE-4", 1, "the man on the right")]
    monkeypatch.setenv("FACELEAD_USER", "analyst.test")
    monkeypatch.setenv("FACELEAD_TOKEN", people["analyst.test"])
    assert main(["request", str(two), "--case", "API-FACE-5", "--offense", settings.offense_codes[0],
                 "--justification", "platform camera", "--face", "2", "--quality-override", "the man on the right"]) == 0
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert conn.execute("SELECT face_index FROM requests WHERE case_number = 'API-FACE-5'").fetchone() == (1,)
