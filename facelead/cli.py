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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
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
    from warehouse import accounts, db
    try:
        with db.open_db(settings.database_path, lock_timeout_s=5) as conn:
            return accounts.count_users(conn) == 0
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
        "gallery": args.gallery, "probe_name": probe.name, "probe_base64": base64.b64encode(data).decode(),
        "face_index": None if args.face is None else args.face - 1, "quality_override": args.quality_override,
        "requested_for": args.requested_for})
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
    from tasks.faces import face_models

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
    from flows.demo import run_demo

    outcome, expected = run_demo(_settings())
    _print_candidates(outcome.case_number, outcome.search_id, outcome.probe_quality_failures,
                      [{"rank": c.rank, "score": c.score, "subject_id": c.subject_id} for c in outcome.candidates])
    print(f"\ncandidate sheet: {outcome.sheet}")
    top = outcome.candidates[0].subject_id
    print(f"the probe is a degraded photo of {expected}; rank 1 is {top}")
    if args.web:
        from facelead.operations import serve_demo_pages

        serve_demo_pages(args.port)
    return 0


@dataclass(frozen=True)
class Option:
    """One argument of a command, as ``add_argument`` takes it."""

    flags: tuple[str, ...]
    settings: dict[str, Any]


@dataclass(frozen=True)
class OneOf:
    """Options of which a command takes at most one (exactly one when ``required``)."""

    options: tuple[Option, ...]
    required: bool = False


def option(*flags: str, **settings: Any) -> Option:
    return Option(flags, settings)


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argument type: a whole number from ``low`` (to ``high``), refused by the parser otherwise."""
    def parse(text: str) -> int:
        value = int(text)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"counts from {low}" if high is None else f"must be between {low} and {high}")
        return value
    parse.__name__ = "int"  # argparse names it in "invalid int value"
    return parse


def _bar_limit(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LIMIT=NUMBER, e.g. min_inter_eye_px=30") from None


GALLERY = option("--gallery", default="default", help="gallery id (default: %(default)s)")
REASON = option("--reason", required=True, help="why, for the audit log")
USER_ID = option("user_id")
SEARCH_ID = option("search_id")
FACE = option("--face", type=_whole_number(1), help="which probe face, 1 = highest detector score, as numbered on "
                                                     "the candidate sheet; needed when the probe shows several faces")
QUALITY_OVERRIDE = option("--quality-override", metavar="REASON",
                          help="search a probe face below the quality bar anyway, for this reason (stored, audited "
                               "and printed on the candidate sheet)")
DAY = {"type": date.fromisoformat, "metavar": "YYYY-MM-DD"}


def _command(commands: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int], help: str,
             *arguments: Option | OneOf) -> argparse.ArgumentParser:
    """Adds the command ``name``, which runs ``run`` with ``arguments``; ``help`` heads its --help too."""
    command = commands.add_parser(name, help=help, description=help)
    for argument in arguments:
        if isinstance(argument, OneOf):
            group = command.add_mutually_exclusive_group(required=argument.required)
            for one in argument.options:
                group.add_argument(*one.flags, **one.settings)
        else:
            command.add_argument(*argument.flags, **argument.settings)
    command.set_defaults(run=run)
    return command


def _commands(commands: argparse._SubParsersAction, name: str, help: str,
              metavar: str = "ACTION") -> argparse._SubParsersAction:
    """The command group ``name`` (``facelead name ACTION``)."""
    return commands.add_parser(name, help=help, description=help).add_subparsers(
        dest=f"{name}_command", required=True, metavar=metavar)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="facelead",
        description="Investigative face search. Results are leads for trained examiners, "
                    "never a positive identification and never probable cause. Settings come from "
                    "FACELEAD_* environment variables (see README).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _command(sub, "demo", cmd_demo, "build a demo gallery from a public-domain photo and search a degraded probe",
             option("--web", action="store_true",
                    help="then serve the web pages over the demo's database, with a fresh secret for each demo "
                         "person printed, until Ctrl-C (README: From the demo to a released lead)"),
             option("--port", type=int, default=8470, help="port of the demo's pages (default: %(default)s)"))
    _command(sub, "enroll", cmd_enroll, "enroll a CSV manifest or a <subject>/<image> folder into a gallery",
             option("source", nargs="?", help="CSV (image_path, subject_id[, source, acquired_at]) or folder "
                                              "(default: FACELEAD_ENROLL_SOURCE, the drop folder)"),
             GALLERY,
             option("--source-name", help="provenance recorded for each image (default: file or folder name)"))

    users = _commands(sub, "users", "people and their roles (admin; the service account adds the very first user); "
                                    "your own secret")
    _command(users, "add", cmd_users_add, "add a user and print their one-time enrollment code",
             option("user_id", help="login name, as FACELEAD_USER will give it"),
             option("--name", required=True, help="full name"),
             option("--roles", required=True, help=f"comma-separated: {', '.join(ROLES)}"),
             option("--certified-until", **DAY, help="facial-comparison certification expiry (needed to search or "
                                                    "review)"))
    _command(users, "list", cmd_users_list, "every user, roles, certification, state")
    _command(users, "roles", cmd_users_roles, "replace another user's roles and certification date (admin; audited "
                                              "with the old values)",
             USER_ID,
             option("--roles", required=True, help=f"comma-separated, the full new set: {', '.join(ROLES)}"),
             option("--certified-until", **DAY, help="facial-comparison certification expiry; left out, the user "
                                                    "has none"))
    _command(users, "disable", cmd_users_disable, "disable a user (kept for the audit trail)", USER_ID, REASON)
    _command(users, "reset", cmd_users_reset, "a new enrollment code for a user who lost their secret (admin); their "
                                              "secret stops working", USER_ID)
    _command(users, "set-secret", cmd_users_set_secret, "choose your own secret with your enrollment code, or rotate "
                                                        "it with your current one (both prompted, or read as two lines "
                                                        "from standard input)",
             option("user_id", help="your user id"))

    _command(sub, "request", cmd_request, "file a search request for a probe photo (analyst)",
             option("probe", help="probe photo; it is never enrolled"),
             option("--case", required=True, help="case number"),
             option("--offense", required=True, help="offense code, one of FACELEAD_OFFENSE_CODES"),
             option("--justification", required=True, help="why this search is needed"),
             option("--gallery", default="default", help="gallery to search (default: %(default)s)"),
             FACE, QUALITY_OVERRIDE,
             option("--for", dest="requested_for", metavar="USER", help="the detective (requester role) who asked "
                                                                        "for the search, shown the released lead"))
    who_decides = "(supervisor, not its requester)"
    _command(sub, "approve", cmd_decide, f"approve a pending request {who_decides}",
             option("request_id"), option("--reason", help="why, for the audit log"))
    _command(sub, "deny", cmd_decide, f"deny a pending request {who_decides}", option("request_id"), REASON)
    _command(sub, "search", cmd_search, "run an approved request once: rank its gallery's faces against its probe",
             option("request_id", help="the approved request"),
             option("--k", type=_whole_number(2, 50), default=20, help="candidates to return, 2..50 (default: "
                                                                       "%(default)s)"),
             FACE, QUALITY_OVERRIDE)
    _command(sub, "determine", cmd_determine, "record your determination on a search: the analyst who ran it first, "
                                              "then a different reviewer, blind to it",
             SEARCH_ID,
             OneOf((option("--rank", type=int, help="the candidate at this rank is the probe's person"),
                    option("--no-candidate", action="store_true", help="no candidate is the probe's person")),
                   required=True))
    _command(sub, "rerun", cmd_rerun, "re-run a past search on its model, index build and gallery as it was; exit 1 "
                                      "and list every difference if the candidates differ", SEARCH_ID)
    _command(sub, "sheet", cmd_sheet, "fetch a search's candidate sheet, write it here and print its path (the view "
                                      "is audited)",
             SEARCH_ID, option("--out", default=".", help="folder to write <search id>.html into (default: here)"))

    case = _commands(sub, "case", "case tools")
    _command(case, "export", cmd_case_export, "write a case's disclosure packet: requests, searches, candidates, "
                                              "determinations, sheets, audit rows, SHA-256 manifest (supervisor, "
                                              "auditor)",
             option("case_number"),
             option("--out", default=".", help="folder to write the packet folder into (default: here)"))
    _command(sub, "purge", cmd_purge, "delete removed subjects' faces and images, and probe images past "
                                      "FACELEAD_PROBE_RETENTION_DAYS, for good (admin; audited with counts)")

    report = _commands(sub, "report", "program reports", metavar="REPORT")
    _command(report, "oversight", cmd_report_oversight, "requests, denials, searches, releases, disputes and 'no "
                                                        "candidate' outcomes by offense code (supervisor, auditor, "
                                                        "admin)",
             option("--from", dest="start", **DAY, help="first day (default: the first of the previous month)"),
             option("--to", dest="end", **DAY, help="first day not included (default: the first of this month)"),
             option("--out", default=".", help="folder to write the CSV into (default: here)"))

    index = _commands(sub, "index", "a gallery's ScaNN index and score calibration")
    _command(index, "build", cmd_index_build, "build a new index version and switch searches to it",
             GALLERY,
             option("--shards", type=int, help="shards, searched in parallel on Dask (default: "
                                               "FACELEAD_INDEX__SHARDS)"))
    _command(index, "calibrate", cmd_index_calibrate, "score the gallery's faces of different subjects as its "
                                                      "calibration now (every build does it too) (operator, admin)",
             GALLERY)
    pair = {"nargs": 2, "metavar": ("SUBJECT_A", "SUBJECT_B")}
    _command(index, "duplicates", cmd_index_duplicates, "list the closest pairs of different subjects (possible "
                                                        "duplicates), or mark one (operator, admin)",
             GALLERY,
             OneOf((option("--same", **pair, help="the two subject ids are one person: their pairs leave the next "
                                                  "calibration"),
                    option("--different", **pair, help="the two subject ids are different people (checked, kept in "
                                                       "the calibration)"))),
             option("--note", default="", help="why, for the audit log"))
    _command(sub, "remove", cmd_remove, "remove a subject's faces from a gallery (hidden from searches at once)",
             option("--gallery", required=True, help="gallery id"),
             option("--subject", required=True, help="subject id"),
             REASON)

    audit = _commands(sub, "audit", "audit trail tools")
    _command(audit, "verify", cmd_audit_verify, "check the keyed audit chain against its anchor log and the data "
                                                "tables; print its head for an external witness (auditor)",
             option("--witness", action="append", default=[], metavar="SEQ:MAC",
                    help="a head printed by an earlier verify and kept elsewhere; the chain must still hold it "
                         "(repeatable)"))
    _command(audit, "snapshot", cmd_audit_snapshot, "fetch a DuckDB file of the warehouse for your own queries: "
                                                    "every table and view without faces, vectors or secrets (auditor)",
             option("--out", default="facelead-audit.duckdb", help="file to write (default: %(default)s)"))
    _command(audit, "query", cmd_audit_query, "run one SELECT on a sandboxed snapshot of the warehouse, print CSV "
                                              "(auditor)",
             option("sql", help="e.g. \"SELECT * FROM search_history WHERE case_number = '2026-004211'\""))

    _command(sub, "evaluate", cmd_evaluate, "accuracy, score calibration and group differentials of the "
                                            "recogniser(s) on a labeled set (admin, operator, auditor)",
             option("source", nargs="?", help="labeled set: CSV (path, identity[, group columns]) or "
                                              "<identity>/<image> folder; may be left out with --gallery"),
             option("--gallery", help="also report this gallery's error rates by --group from its own faces "
                                      "(subject attributes its enrollment manifests gave)"),
             option("--recogniser", action="append", metavar="MANIFEST",
                    help="recogniser manifest name or .toml path; repeat to compare (default: the configured one)"),
             option("--group", action="append", metavar="COLUMN",
                    help="column labelling groups (sex, age band): of the CSV, and a subject attribute of the "
                         "gallery; repeat for several"),
             option("--bootstrap", type=int, default=200, help="identity resamples for 95%% intervals (default: "
                                                               "%(default)s)"),
             option("--quality-bar", choices=("gallery", "probe", "none"), default="gallery",
                    help="the bar images must pass to count (default: %(default)s); the report also gives the "
                         "results with no bar and the error-versus-discard curve"),
             option("--degraded-probes", type=int, default=200, metavar="N",
                    help="mated probes degraded as surveillance frames are, to report what each degradation costs "
                         "(default: %(default)s; 0 for none)"),
             option("--bar-limit", action="append", default=[], metavar="LIMIT=VALUE", type=_bar_limit,
                    help="change one limit of that bar (a custom bar), e.g. min_inter_eye_px=30; repeatable"))

    _command(sub, "serve", cmd_serve, "run the facelead service (as the service account): its HTTP API, a local "
                                      "Prefect server behind basic auth (127.0.0.1, offline), a TLS Dask cluster and "
                                      "a worker for the facelead work pool, until interrupted",
             option("--port", type=int, default=4200, help="Prefect server port on 127.0.0.1 (default: "
                                                           "%(default)s); the API's is FACELEAD_SERVICE__PORT (8470)"),
             option("--deploy", action="store_true", help="deploy every flow in prefect.yaml before the worker "
                                                          "starts"),
             option("--project", type=Path, default=Path.cwd(),
                    help="folder holding prefect.yaml, where flow runs start (default: the current folder)"),
             option("--limit", type=int, default=2, help="flow runs the worker runs at once (default: %(default)s)"))
    _command(sub, "login", cmd_login, "sign in to the facelead service and keep the session for later commands",
             option("--user", help="your user id (default: FACELEAD_USER, else your login name)"))
    _command(sub, "logout", cmd_logout, "end your session")
    _command(sub, "models", cmd_models, "check model hashes, convert once, print the model ids")
    return p


def cmd_serve(args: argparse.Namespace) -> int:
    from facelead.operations import serve
    from facelead.settings import Settings

    return serve(Settings(), args.port, args.deploy, args.project.absolute(), args.limit)


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # everything facelead and its children write is the owner's alone
    args = parser().parse_args(argv)
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
