"""The ``facelead`` command: a client of the facelead service (``facelead serve``).

Everything a person does goes through the service's HTTP API, signed in as themselves;
only the service account's own commands (``serve``, ``demo``, ``models``, and adding the
very first user) work on the data folder directly.
"""

from __future__ import annotations

import argparse
import base64
import csv
import getpass
import io
import os
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import quote

from facelead import LEAD_NOTICE
from facelead.access import AccessDenied
from facelead.policy import ROLES
from facelead.refusal import Refusal

EXIT_REFUSED = 3


def _print_candidates(case_number: str, search_id: str, quality_failures: str, candidates: list[dict]) -> None:
    print(f"\n{LEAD_NOTICE}\n")
    print(f"case {case_number}, search {search_id}")
    if quality_failures:
        print(f"probe below quality bar: {quality_failures}; searched on override")
    print(f"{'rank':>4}  {'score':>6}  subject")
    for c in candidates:
        print(f"{c['rank']:>4}  {c['score']:6.3f}  {c['subject_id']}")


def _ask(prompt: str) -> str:
    """A secret typed at the terminal (not echoed), or the next line of standard input."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise AccessDenied("no_secret", f"{prompt.rstrip(': ')}: none given; set FACELEAD_TOKEN or run in a terminal")
        return line.rstrip("\n")
    return getpass.getpass(prompt)


def _settings():
    from facelead.settings import Settings

    return Settings()


@contextmanager
def _service() -> Iterator:
    """A client of the service, signed in: with the secret in FACELEAD_TOKEN (for this one
    command), else with the session `facelead login` saved, else with a secret typed now."""
    from facelead.client import ServiceClient, saved_session

    settings = _settings()
    client = ServiceClient(settings.service.base_url)
    secret = os.environ.get("FACELEAD_TOKEN")
    saved = None if secret else saved_session(settings.service.session_file.expanduser(), client.base_url)
    if saved:
        client.token = saved["token"]
        yield client
        return
    client.sign_in(settings.user, secret or _ask(f"facelead secret for {settings.user}: "))
    try:
        yield client
    finally:
        client.sign_out()


def _call(method: str, path: str, body: dict | None = None):
    """One signed-in call's JSON answer."""
    with _service() as client:
        return client.json(method, path, body)


def cmd_login(args: argparse.Namespace) -> int:
    from facelead.client import ServiceClient, save_session

    settings = _settings()
    user_id = args.user or settings.user
    client = ServiceClient(settings.service.base_url)
    token = client.sign_in(user_id, os.environ.get("FACELEAD_TOKEN") or _ask(f"facelead secret for {user_id}: "))
    save_session(settings.service.session_file.expanduser(), client.base_url, user_id, token)
    print(f"signed in to {client.base_url} as {user_id}; the session ends after "
          f"{settings.security.session_idle_minutes:g} minutes unused (facelead logout ends it now)")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from facelead.client import ServiceClient, saved_session

    settings = _settings()
    path = settings.service.session_file.expanduser()
    saved = saved_session(path, settings.service.base_url)
    if saved:
        ServiceClient(settings.service.base_url, saved["token"]).sign_out()
    path.unlink(missing_ok=True)
    print("signed out")
    return 0


def cmd_enroll(args: argparse.Namespace) -> int:
    source = str(Path(args.source).absolute()) if args.source else None
    summary = _call("POST", "/api/enrollments", {"source": source, "gallery": args.gallery,
                                                 "source_name": args.source_name})
    print(summary["markdown"])
    return 0


def _print_code(answer: dict) -> None:
    print(f"one-time enrollment code for {answer['user_id']}, valid {answer['hours']:g} hours; give it to them "
          f"privately:\n{answer['code']}\nThey choose their own secret with: facelead users set-secret {answer['user_id']}")


def _first_user_here(settings) -> bool:
    """Whether this account can open the warehouse and it has no user yet (a fresh install,
    set up by the service account)."""
    from facelead.warehouse import db

    try:
        with db.open_db(settings.database_path, lock_timeout_s=5) as conn:
            return db.count_users(conn) == 0
    except (OSError, db.TerminalDbError, db.TransientDbError):
        return False


def cmd_users_add(args: argparse.Namespace) -> int:
    settings = _settings()
    roles = args.roles.split(",")
    if _first_user_here(settings):
        from facelead.workflow import add_user

        code = add_user(settings.database_path, None, args.user_id, args.name, roles, args.certified_until,
                        settings.security)
        print(f"user {args.user_id} added (first user: the administrator).")
        _print_code({"user_id": args.user_id, "code": code, "hours": settings.security.enrollment_code_hours})
        return 0
    answer = _call("POST", "/api/users", {"user_id": args.user_id, "name": args.name, "roles": roles,
                                          "certified_until": args.certified_until and args.certified_until.isoformat()})
    print(f"user {args.user_id} added.")
    _print_code(answer)
    return 0


def cmd_users_reset(args: argparse.Namespace) -> int:
    answer = _call("POST", f"/api/users/{args.user_id}/reset")
    print(f"{args.user_id}'s secret no longer works.")
    _print_code(answer)
    return 0


def cmd_users_set_secret(args: argparse.Namespace) -> int:
    from facelead.client import ServiceClient

    proof = _ask(f"enrollment code or current secret for {args.user_id}: ")
    secret = _ask("new secret (at least 12 characters): ")
    if sys.stdin.isatty() and _ask("new secret again: ") != secret:
        print("the two entries differ; nothing changed", file=sys.stderr)
        return 2
    ServiceClient(_settings().service.base_url).json("POST", f"/api/users/{args.user_id}/secret",
                                                     {"proof": proof, "secret": secret})
    print(f"secret set for {args.user_id}; sign in with: facelead login --user {args.user_id}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    for u in _call("GET", "/api/users"):
        state = (f"disabled {u['disabled_at'][:10]}" if u["disabled_at"] else "active" if u["secret_set_at"]
                 else f"code until {str(u['code_expires_at'])[:16]}")
        certified = f"certified until {u['certified_until']}" if u["certified_until"] else "no certification"
        print(f"{u['user_id']:<20} {','.join(u['roles']):<32} {certified:<28} {state:<20} {u['display_name']}")
    return 0


def cmd_users_roles(args: argparse.Namespace) -> int:
    answer = _call("POST", f"/api/users/{args.user_id}/roles", {
        "roles": args.roles.split(","), "certified_until": args.certified_until and args.certified_until.isoformat()})
    certified = f"certified until {answer['certified_until']}" if answer["certified_until"] else "no certification"
    print(f"user {args.user_id}: {','.join(answer['roles'])}; {certified}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    _call("POST", f"/api/users/{args.user_id}/disable", {"reason": args.reason})
    print(f"user {args.user_id} disabled")
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    probe = Path(args.probe)
    try:
        data = probe.read_bytes()
    except OSError as exc:
        raise AccessDenied("probe", f"{probe}: cannot read the probe ({exc.strerror or exc})") from None
    answer = _call("POST", "/api/requests", {
        "case_number": args.case, "offense_code": args.offense, "justification": args.justification,
        "gallery": args.gallery, "probe_name": probe.name, "probe_base64": base64.b64encode(data).decode()})
    print(f"request {answer['request_id']} filed for case {args.case}; a supervisor other than you must approve it")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    answer = _call("POST", f"/api/requests/{args.request_id}/{args.command}", {"reason": args.reason or ""})
    print(f"request {args.request_id} {answer['decision']}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    face_index = None if args.face is None else args.face - 1
    outcome = _call("POST", f"/api/requests/{args.request_id}/search",
                    {"k": args.k, "face_index": face_index, "quality_override": args.quality_override})
    _print_candidates(outcome["case_number"], outcome["search_id"], outcome["probe_quality_failures"],
                      outcome["candidates"])
    print(f"\ncandidate sheet: facelead sheet {outcome['search_id']}")
    return 0


def cmd_determine(args: argparse.Namespace) -> int:
    answer = _call("POST", f"/api/searches/{args.search_id}/determination", {"rank": args.rank})
    print(f"determination recorded ({'no candidate' if args.rank is None else f'rank {args.rank}'}); "
          f"search {args.search_id}: {answer['outcome']}")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    report = _call("POST", f"/api/searches/{args.search_id}/rerun")
    if report["identical"]:
        print(f"search {args.search_id}: re-run gives the same {report['candidates']} candidates")
        return 0
    print(f"search {args.search_id}: re-run DIFFERS:\n  " + "\n  ".join(report["differences"]))
    return 1


def cmd_sheet(args: argparse.Namespace) -> int:
    from facelead.files import write_private

    with _service() as client:
        html = client.call("GET", f"/api/searches/{args.search_id}/sheet").content
    print(write_private(Path(args.out) / f"{args.search_id}.html", html))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    query = "&".join(f"witness={quote(w)}" for w in args.witness)
    verdict = _call("GET", "/api/audit/verify" + (f"?{query}" if query else ""))
    if verdict["first_broken"] is not None:
        print(f"audit chain BROKEN at row {verdict['first_broken']}: {verdict['reason']} ({verdict['rows']} rows)")
    else:
        print(f"audit chain intact: {verdict['rows']} rows; head {verdict['head']} (give it to your witness)")
        if verdict["unanchored_rows"]:
            print(f"note: the last {verdict['unanchored_rows']} rows were written but not anchored "
                  f"(the service stopped between the two)")
    for problem in verdict["problems"]:
        print(f"records and audit log disagree: {problem}")
    return 0 if verdict["ok"] else 1


def cmd_case_export(args: argparse.Namespace) -> int:
    from facelead.files import write_private

    with _service() as client:
        response = client.call("POST", f"/api/cases/{args.case_number}/export")
    out = Path(args.out)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for name in archive.namelist():
            write_private(out / name, archive.read(name))
    print(f"disclosure packet for case {args.case_number}: {out / response.headers['X-Facelead-Folder']}")
    return 0


def cmd_report_oversight(args: argparse.Namespace) -> int:
    from facelead.files import write_private

    report = _call("POST", "/api/reports/oversight", {"start": args.start and args.start.isoformat(),
                                                      "end": args.end and args.end.isoformat()})
    path = write_private(Path(args.out) / report["csv_name"], report["csv"].encode())
    print(f"{report['markdown']}\n\nCSV: {path}")
    return 0


def _bar_limit(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LIMIT=NUMBER, e.g. min_inter_eye_px=30") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    outcome = _call("POST", "/api/evaluations", {"source": args.source and str(Path(args.source).absolute()),
                                                 "gallery": args.gallery,
                                                 "recognisers": args.recogniser, "group_columns": args.group,
                                                 "bootstrap": args.bootstrap, "quality_bar": args.quality_bar,
                                                 "bar_limits": dict(args.bar_limit) or None,
                                                 "degraded_probes": args.degraded_probes})
    print(f"{outcome['summary']}\n\nreport (on the facelead host): {outcome['report']}")
    return 0


def cmd_audit_snapshot(args: argparse.Namespace) -> int:
    from facelead.files import write_private

    with _service() as client:
        data = client.call("GET", "/api/audit/snapshot").content
    path = write_private(Path(args.out), data)
    print(f"auditors' snapshot of the warehouse (no faces, vectors or secrets): {path}\n"
          f"open it with DuckDB, e.g. duckdb -readonly {path}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    report = _call("POST", "/api/purge")
    exports = report.pop("exports_holding_purged_faces")
    print("retention purge: " + ", ".join(f"{k} {v}" for k, v in report.items()))
    for export in exports:
        print(f"outside facelead's reach: case {export['case_number']} was exported by {export['exported_by']} "
              f"at {export['exported_at']} (audit row {export['audit_seq']}) with a purged face; recall that packet")
    return 0


def cmd_audit_query(args: argparse.Namespace) -> int:
    answer = _call("POST", "/api/audit/query", {"sql": args.sql})
    out = csv.writer(sys.stdout)
    out.writerow(answer["columns"])
    out.writerows(answer["rows"])
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from facelead.tasks.faces import face_models

    models = face_models(_settings())
    for m in (models.detector, models.recogniser):
        print(f"{m.manifest.role:<10} {m.model_id:<28} {m.path}  ({m.manifest.licence})")
    return 0


def cmd_index_build(args: argparse.Namespace) -> int:
    built = _call("POST", f"/api/galleries/{args.gallery}/index", {"shards": args.shards})
    if not built["built"]:
        print(f"gallery {args.gallery} is smaller than FACELEAD_INDEX__EXACT_BELOW: it is searched exactly, no index "
              f"built; its calibration is refreshed (facelead index duplicates --gallery {args.gallery})")
        return 0
    print(f"index {built['build_id']} now serves gallery {args.gallery}: {built['vectors']} faces, "
          f"{built['shards']} shard(s), built in {built['seconds']:.1f} s")
    return 0


def cmd_index_calibrate(args: argparse.Namespace) -> int:
    answer = _call("POST", f"/api/galleries/{args.gallery}/calibrate")
    print(f"{answer['summary']}\n\n{answer['markdown']}")
    return 0


def cmd_index_duplicates(args: argparse.Namespace) -> int:
    pair = args.same or args.different
    if pair:
        _call("POST", f"/api/galleries/{args.gallery}/duplicates", {
            "subject_a": pair[0], "subject_b": pair[1], "same_person": bool(args.same), "note": args.note})
        print(f"marked {pair[0]} and {pair[1]} as {'the same person' if args.same else 'different people'} in gallery "
              f"{args.gallery}; the next calibration (index build, or facelead index calibrate) takes it in")
        return 0
    print(_call("GET", f"/api/galleries/{args.gallery}/duplicates")["markdown"])
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    removed = _call("POST", f"/api/galleries/{args.gallery}/remove", {"subject": args.subject, "reason": args.reason})
    print(f"removed {len(removed['removed'])} face(s) of {args.subject!r} from gallery {args.gallery!r}; "
          "no search returns them from now on")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from facelead.flows.demo import run_demo

    outcome, expected = run_demo()
    _print_candidates(outcome.case_number, outcome.search_id, outcome.probe_quality_failures,
                      [{"rank": c.rank, "score": c.score, "subject_id": c.subject_id} for c in outcome.candidates])
    print(f"\ncandidate sheet: {outcome.sheet}")
    top = outcome.candidates[0].subject_id
    print(f"the probe is a degraded photo of {expected}; rank 1 is {top}")
    if args.web:
        from facelead.operations import serve_demo_pages

        serve_demo_pages(args.port)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="facelead",
        description="Investigative face search. Results are leads for trained examiners, "
                    "never a positive identification and never probable cause. Settings come from "
                    "FACELEAD_* environment variables (see README).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="build a demo gallery from a public-domain photo and search a degraded probe")
    demo.add_argument("--web", action="store_true",
                      help="then serve the web pages over the demo's database, with a fresh secret for each demo "
                           "person printed, until Ctrl-C (README: From the demo to a released lead)")
    demo.add_argument("--port", type=int, default=8470, help="port of the demo's pages (default: %(default)s)")
    demo.set_defaults(run=cmd_demo)

    enroll = sub.add_parser("enroll", help="enroll a CSV manifest or a <subject>/<image> folder into a gallery")
    enroll.add_argument("source", nargs="?", help="CSV (image_path, subject_id[, source, acquired_at]) or folder "
                        "(default: FACELEAD_ENROLL_SOURCE, the drop folder)")
    enroll.add_argument("--gallery", default="default", help="gallery id (default: %(default)s)")
    enroll.add_argument("--source-name", help="provenance recorded for each image (default: file or folder name)")
    enroll.set_defaults(run=cmd_enroll)

    users = sub.add_parser("users", help="people and their roles (admin; the service account adds the very first "
                                         "user); your own secret")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", help="add a user and print their one-time enrollment code")
    add.add_argument("user_id", help="login name, as FACELEAD_USER will give it")
    add.add_argument("--name", required=True, help="full name")
    add.add_argument("--roles", required=True, help=f"comma-separated: {', '.join(ROLES)}")
    add.add_argument("--certified-until", type=date.fromisoformat, metavar="YYYY-MM-DD",
                     help="facial-comparison certification expiry (needed to search or review)")
    add.set_defaults(run=cmd_users_add)
    listing = users_sub.add_parser("list", help="every user, roles, certification, state")
    listing.set_defaults(run=cmd_users_list)
    roles = users_sub.add_parser("roles", help="replace another user's roles and certification date (admin; "
                                               "audited with the old values)")
    roles.add_argument("user_id")
    roles.add_argument("--roles", required=True, help=f"comma-separated, the full new set: {', '.join(ROLES)}")
    roles.add_argument("--certified-until", type=date.fromisoformat, metavar="YYYY-MM-DD",
                       help="facial-comparison certification expiry; left out, the user has none")
    roles.set_defaults(run=cmd_users_roles)
    disable = users_sub.add_parser("disable", help="disable a user (kept for the audit trail)")
    disable.add_argument("user_id")
    disable.add_argument("--reason", required=True, help="why, for the audit log")
    disable.set_defaults(run=cmd_users_disable)
    reset = users_sub.add_parser("reset", help="a new enrollment code for a user who lost their secret (admin); "
                                               "their secret stops working")
    reset.add_argument("user_id")
    reset.set_defaults(run=cmd_users_reset)
    set_secret = users_sub.add_parser("set-secret", help="choose your own secret with your enrollment code, or "
                                                         "rotate it with your current one (both prompted, or read as "
                                                         "two lines from standard input)")
    set_secret.add_argument("user_id", help="your user id")
    set_secret.set_defaults(run=cmd_users_set_secret)

    request = sub.add_parser("request", help="file a search request for a probe photo (analyst)")
    request.add_argument("probe", help="probe photo; it is never enrolled")
    request.add_argument("--case", required=True, help="case number")
    request.add_argument("--offense", required=True, help="offense code, one of FACELEAD_OFFENSE_CODES")
    request.add_argument("--justification", required=True, help="why this search is needed")
    request.add_argument("--gallery", default="default", help="gallery to search (default: %(default)s)")
    request.set_defaults(run=cmd_request)

    for verb, helps in (("approve", "approve a pending request (supervisor, not its requester)"),
                        ("deny", "deny a pending request (supervisor, not its requester)")):
        decide = sub.add_parser(verb, help=helps)
        decide.add_argument("request_id")
        decide.add_argument("--reason", required=verb == "deny", help="why, for the audit log")
        decide.set_defaults(run=cmd_decide)

    search = sub.add_parser("search", help="run an approved request once: rank its gallery's faces against its probe")
    search.add_argument("request_id", help="the approved request")
    search.add_argument("--k", type=int, default=20, help="candidates to return, 2..50 (default: %(default)s)")
    search.add_argument("--face", type=int, help="which probe face, 1 = highest detector score, as numbered on "
                                                 "the candidate sheet; needed when the probe shows several faces")
    search.add_argument("--quality-override", metavar="REASON",
                        help="search a probe below the quality bar anyway, for this reason (stored, audited "
                             "and printed on the candidate sheet)")
    search.set_defaults(run=cmd_search)

    determine = sub.add_parser("determine", help="record your determination on a search: the analyst who ran it "
                                                 "first, then a different reviewer, blind to it")
    determine.add_argument("search_id")
    choice = determine.add_mutually_exclusive_group(required=True)
    choice.add_argument("--rank", type=int, help="the candidate at this rank is the probe's person")
    choice.add_argument("--no-candidate", action="store_true", help="no candidate is the probe's person")
    determine.set_defaults(run=cmd_determine)

    rerun = sub.add_parser("rerun", help="re-run a past search on its model, index build and gallery as it was; "
                                         "exit 1 and list every difference if the candidates differ")
    rerun.add_argument("search_id")
    rerun.set_defaults(run=cmd_rerun)

    sheet = sub.add_parser("sheet", help="fetch a search's candidate sheet, write it here and print its path "
                                         "(the view is audited)")
    sheet.add_argument("search_id")
    sheet.add_argument("--out", default=".", help="folder to write <search id>.html into (default: here)")
    sheet.set_defaults(run=cmd_sheet)

    case = sub.add_parser("case", help="case tools")
    case_sub = case.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    export = case_sub.add_parser("export", help="write a case's disclosure packet: requests, searches, candidates, "
                                                "determinations, sheets, audit rows, SHA-256 manifest (supervisor, auditor)")
    export.add_argument("case_number")
    export.add_argument("--out", default=".", help="folder to write the packet folder into (default: here)")
    export.set_defaults(run=cmd_case_export)

    purge = sub.add_parser("purge", help="delete removed subjects' faces and images, and probe images past "
                                         "FACELEAD_PROBE_RETENTION_DAYS, for good (admin; audited with counts)")
    purge.set_defaults(run=cmd_purge)

    report = sub.add_parser("report", help="program reports")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    over = report_sub.add_parser("oversight", help="requests, denials, searches, releases, disputes and 'no "
                                                   "candidate' outcomes by offense code (supervisor, auditor, admin)")
    over.add_argument("--from", dest="start", type=date.fromisoformat, metavar="YYYY-MM-DD",
                      help="first day (default: the first of the previous month)")
    over.add_argument("--to", dest="end", type=date.fromisoformat, metavar="YYYY-MM-DD",
                      help="first day not included (default: the first of this month)")
    over.add_argument("--out", default=".", help="folder to write the CSV into (default: here)")
    over.set_defaults(run=cmd_report_oversight)

    index = sub.add_parser("index", help="a gallery's ScaNN index and score calibration")
    index_sub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    build = index_sub.add_parser("build", help="build a new index version and switch searches to it")
    build.add_argument("--gallery", default="default", help="gallery id (default: %(default)s)")
    build.add_argument("--shards", type=int, help="shards, searched in parallel on Dask (default: FACELEAD_INDEX__SHARDS)")
    build.set_defaults(run=cmd_index_build)
    calibrate = index_sub.add_parser("calibrate", help="score the gallery's faces of different subjects as its "
                                                       "calibration now (every build does it too) (operator, admin)")
    calibrate.add_argument("--gallery", default="default", help="gallery id (default: %(default)s)")
    calibrate.set_defaults(run=cmd_index_calibrate)
    duplicates = index_sub.add_parser("duplicates", help="list the closest pairs of different subjects (possible "
                                                         "duplicates), or mark one (operator, admin)")
    duplicates.add_argument("--gallery", default="default", help="gallery id (default: %(default)s)")
    mark = duplicates.add_mutually_exclusive_group()
    mark.add_argument("--same", nargs=2, metavar=("SUBJECT_A", "SUBJECT_B"),
                      help="the two subject ids are one person: their pairs leave the next calibration")
    mark.add_argument("--different", nargs=2, metavar=("SUBJECT_A", "SUBJECT_B"),
                      help="the two subject ids are different people (checked, kept in the calibration)")
    duplicates.add_argument("--note", default="", help="why, for the audit log")
    duplicates.set_defaults(run=cmd_index_duplicates)

    remove = sub.add_parser("remove", help="remove a subject's faces from a gallery (hidden from searches at once)")
    remove.add_argument("--gallery", required=True, help="gallery id")
    remove.add_argument("--subject", required=True, help="subject id")
    remove.add_argument("--reason", required=True, help="why, for the audit log")
    remove.set_defaults(run=cmd_remove)

    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="check the keyed audit chain against its anchor log and the data "
                                                 "tables; print its head for an external witness (auditor)")
    verify.add_argument("--witness", action="append", default=[], metavar="SEQ:MAC",
                        help="a head printed by an earlier verify and kept elsewhere; the chain must still hold it "
                             "(repeatable)")
    verify.set_defaults(run=cmd_audit_verify)
    snapshot = audit_sub.add_parser("snapshot", help="fetch a DuckDB file of the warehouse for your own queries: every "
                                                     "table and view without faces, vectors or secrets (auditor)")
    snapshot.add_argument("--out", default="facelead-audit.duckdb", help="file to write (default: %(default)s)")
    snapshot.set_defaults(run=cmd_audit_snapshot)
    audit_query = audit_sub.add_parser("query", help="run one SELECT on a sandboxed snapshot of the warehouse, print "
                                                     "CSV (auditor)")
    audit_query.add_argument("sql", help="e.g. \"SELECT * FROM search_history WHERE case_number = '2026-004211'\"")
    audit_query.set_defaults(run=cmd_audit_query)

    evaluation = sub.add_parser("evaluate", help="accuracy, score calibration and group differentials of the "
                                                 "recogniser(s) on a labeled set (admin, operator, auditor)")
    evaluation.add_argument("source", nargs="?", help="labeled set: CSV (path, identity[, group columns]) or "
                                                      "<identity>/<image> folder; may be left out with --gallery")
    evaluation.add_argument("--gallery", help="also report this gallery's error rates by --group from its own faces "
                                              "(subject attributes its enrollment manifests gave)")
    evaluation.add_argument("--recogniser", action="append", metavar="MANIFEST",
                            help="recogniser manifest name or .toml path; repeat to compare (default: the configured one)")
    evaluation.add_argument("--group", action="append", metavar="COLUMN",
                            help="column labelling groups (sex, age band): of the CSV, and a subject attribute of "
                                 "the gallery; repeat for several")
    evaluation.add_argument("--bootstrap", type=int, default=200, help="identity resamples for 95%% intervals (default: %(default)s)")
    evaluation.add_argument("--quality-bar", choices=("gallery", "probe", "none"), default="gallery",
                            help="the bar images must pass to count (default: %(default)s); the report also gives the "
                                 "results with no bar and the error-versus-discard curve")
    evaluation.add_argument("--degraded-probes", type=int, default=200, metavar="N",
                            help="mated probes degraded as surveillance frames are, to report what each degradation "
                                 "costs (default: %(default)s; 0 for none)")
    evaluation.add_argument("--bar-limit", action="append", default=[], metavar="LIMIT=VALUE", type=_bar_limit,
                            help="change one limit of that bar (a custom bar), e.g. min_inter_eye_px=30; repeatable")
    evaluation.set_defaults(run=cmd_evaluate)

    serve = sub.add_parser("serve", help="run the facelead service (as the service account): its HTTP API, a local "
                                         "Prefect server behind basic auth (127.0.0.1, offline), a TLS Dask cluster "
                                         "and a worker for the facelead work pool, until interrupted")
    serve.add_argument("--port", type=int, default=4200, help="Prefect server port on 127.0.0.1 (default: %(default)s); "
                                                              "the API's is FACELEAD_SERVICE__PORT (8470)")
    serve.add_argument("--deploy", action="store_true", help="deploy every flow in prefect.yaml before the worker starts")
    serve.add_argument("--project", type=Path, default=Path.cwd(),
                       help="folder holding prefect.yaml, where flow runs start (default: the current folder)")
    serve.add_argument("--limit", type=int, default=2, help="flow runs the worker runs at once (default: %(default)s)")
    serve.set_defaults(run=cmd_serve)

    login = sub.add_parser("login", help="sign in to the facelead service and keep the session for later commands")
    login.add_argument("--user", help="your user id (default: FACELEAD_USER, else your login name)")
    login.set_defaults(run=cmd_login)
    logout = sub.add_parser("logout", help="end your session")
    logout.set_defaults(run=cmd_logout)

    models = sub.add_parser("models", help="check model hashes, convert once, print the model ids")
    models.set_defaults(run=cmd_models)
    return p


def cmd_serve(args: argparse.Namespace) -> int:
    from facelead.operations import serve
    from facelead.settings import Settings

    return serve(Settings(), args.port, args.deploy, args.project.absolute(), args.limit)


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # everything facelead and its children write is the owner's alone
    args = parser().parse_args(argv)
    if getattr(args, "k", None) is not None and not 2 <= args.k <= 50:
        parser().error("--k must be between 2 and 50")
    if getattr(args, "face", None) is not None and args.face < 1:
        parser().error("--face counts from 1")
    from facelead.client import ServiceFailed, ServiceUnavailable

    try:
        return args.run(args)
    except Refusal as exc:
        print(f"refused ({exc.reason}): {exc.detail}", file=sys.stderr)
        return EXIT_REFUSED
    except (ServiceUnavailable, ServiceFailed) as exc:
        print(f"facelead: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
