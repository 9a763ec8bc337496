"""The ``facelead`` command: thin wrappers over the same flows the Prefect deployments run."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import date
from pathlib import Path

from facelead import LEAD_NOTICE
from facelead.access import AccessDenied
from facelead.policy import ROLES, Action
from facelead.refusal import Refusal

EXIT_REFUSED = 3


def _print_candidates(outcome) -> None:
    print(f"\n{LEAD_NOTICE}\n")
    print(f"case {outcome.case_number}, search {outcome.search_id}")
    if outcome.probe_quality_failures:
        print(f"probe below quality bar: {outcome.probe_quality_failures}; searched on override")
    print(f"{'rank':>4}  {'score':>6}  subject")
    for c in outcome.candidates:
        print(f"{c.rank:>4}  {c.score:6.3f}  {c.subject_id}")
    print(f"\ncandidate sheet: {outcome.sheet}")


def _signed_in() -> str:
    """The configured user (FACELEAD_USER), once their own secret checks out.

    The secret comes from FACELEAD_TOKEN or a prompt, never from the command line.
    """
    from facelead.settings import Settings
    from facelead.tasks.workflow import sign_in

    settings = Settings()
    secret = os.environ.get("FACELEAD_TOKEN") or _ask(f"facelead secret for {settings.user}: ")
    return sign_in(settings.database_path, settings.user, secret, settings.security).user_id


def _ask(prompt: str) -> str:
    """A secret typed at the terminal (not echoed), or the next line of standard input."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise AccessDenied("no_secret", f"{prompt.rstrip(': ')}: none given; set FACELEAD_TOKEN or run in a terminal")
        return line.rstrip("\n")
    return getpass.getpass(prompt)


def _run_flow(action: Action, target: str, flow, **params):
    """Run ``flow`` for the signed-in user, under a grant the policy allows (audited when not)."""
    from facelead.settings import Settings
    from facelead.tasks.workflow import run_flow_for

    settings = Settings()
    return run_flow_for(settings, _signed_in(), action, target, flow, **params)


def cmd_enroll(args: argparse.Namespace) -> int:
    from facelead.flows.enroll_gallery import enroll_gallery

    source = str(Path(args.source).absolute()) if args.source else None
    summary = _run_flow(Action.ENROLL, f"gallery:{args.gallery}", enroll_gallery, source=source,
                        gallery=args.gallery, source_name=args.source_name)
    print(summary.markdown())
    return 0


def _print_code(user_id: str, code: str, hours: float) -> None:
    print(f"one-time enrollment code for {user_id}, valid {hours:g} hours; give it to them privately:\n{code}\n"
          f"They choose their own secret with: facelead users set-secret {user_id}")


def cmd_users_add(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import add_user
    from facelead.warehouse import db

    settings = Settings()
    with db.open_db(settings.database_path) as conn:
        first = db.count_users(conn) == 0
    actor = None if first else _signed_in()
    code = add_user(settings.database_path, actor, args.user_id, args.name, args.roles.split(","),
                    args.certified_until, settings.security)
    print(f"user {args.user_id} added{' (first user: the administrator)' if first else ''}.")
    _print_code(args.user_id, code, settings.security.enrollment_code_hours)
    return 0


def cmd_users_reset(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import reset_user

    settings = Settings()
    code = reset_user(settings.database_path, _signed_in(), args.user_id, settings.security)
    print(f"{args.user_id}'s secret no longer works.")
    _print_code(args.user_id, code, settings.security.enrollment_code_hours)
    return 0


def cmd_users_set_secret(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import set_secret

    settings = Settings()
    proof = _ask(f"enrollment code or current secret for {args.user_id}: ")
    secret = _ask("new secret (at least 12 characters): ")
    if sys.stdin.isatty() and _ask("new secret again: ") != secret:
        print("the two entries differ; nothing changed", file=sys.stderr)
        return 2
    set_secret(settings.database_path, args.user_id, proof, secret, settings.security)
    print(f"secret set for {args.user_id}; sign in with FACELEAD_USER={args.user_id}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import list_users

    for u in list_users(Settings().database_path, _signed_in()):
        state = (f"disabled {u['disabled_at']:%Y-%m-%d}" if u["disabled_at"] else "active" if u["secret_set_at"]
                 else f"code until {u['code_expires_at']:%Y-%m-%d %H:%M}")
        certified = f"certified until {u['certified_until']}" if u["certified_until"] else "no certification"
        print(f"{u['user_id']:<20} {','.join(u['roles']):<32} {certified:<28} {state:<20} {u['display_name']}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import disable_user

    disable_user(Settings().database_path, _signed_in(), args.user_id, args.reason)
    print(f"user {args.user_id} disabled")
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import file_request

    settings = Settings()
    request_id = file_request(settings.database_path, _signed_in(), args.case, args.offense, args.justification,
                              Path(args.probe), args.gallery, settings.offense_codes)
    print(f"request {request_id} filed for case {args.case}; a supervisor other than you must approve it")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import decide_request

    approve = args.command == "approve"
    decide_request(Settings().database_path, _signed_in(), args.request_id, approve, args.reason or "")
    print(f"request {args.request_id} {'approved' if approve else 'denied'}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from facelead.flows.search_probe import search_probe

    face_index = None if args.face is None else args.face - 1
    outcome = _run_flow(Action.SEARCH, f"request:{args.request_id}", search_probe, request_id=args.request_id,
                        k=args.k, face_index=face_index, quality_override=args.quality_override)
    _print_candidates(outcome)
    return 0


def cmd_determine(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.workflow import record_determination

    outcome = record_determination(Settings().database_path, _signed_in(), args.search_id, args.rank)
    print(f"determination recorded ({'no candidate' if args.rank is None else f'rank {args.rank}'}); "
          f"search {args.search_id}: {outcome}")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    from facelead.flows.rerun_search import rerun_search

    report = _run_flow(Action.RERUN, f"search:{args.search_id}", rerun_search, search_id=args.search_id)
    if report.identical:
        print(f"search {args.search_id}: re-run gives the same {len(report.candidates)} candidates")
        return 0
    print(f"search {args.search_id}: re-run DIFFERS:\n  " + "\n  ".join(report.differences))
    return 1


def cmd_sheet(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.sheet import view_sheet

    settings = Settings()
    print(view_sheet(settings.database_path, args.search_id, settings.sheets_dir, _signed_in()))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.warehouse import db

    path = Settings().database_path
    if not path.is_file():
        print(f"{path}: no database here (set FACELEAD_DATA_DIR or FACELEAD_DATABASE)", file=sys.stderr)
        return 1
    with db.open_db(path, read_only=True) as conn:
        verdict = db.verify_audit(conn)
    if verdict.ok:
        print(f"audit chain intact: {verdict.rows} rows, head hash {verdict.head_hash}")
        return 0
    print(f"audit chain BROKEN at row {verdict.first_broken}: {verdict.reason} ({verdict.rows} rows)")
    return 1


def cmd_case_export(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.disclosure import export_case

    folder = export_case(Settings().database_path, _signed_in(), args.case_number, Path(args.out))
    print(f"disclosure packet for case {args.case_number}: {folder}")
    return 0


def cmd_report_oversight(args: argparse.Namespace) -> int:
    from facelead.flows.oversight_report import oversight_report

    report = _run_flow(Action.REPORT, "reports", oversight_report, start=args.start, end=args.end)
    print(f"{report.markdown}\n\nCSV: {report.csv_path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from facelead.flows.evaluate import evaluate

    source = str(Path(args.source).absolute())
    outcome = _run_flow(Action.EVALUATE, f"dataset:{source}", evaluate, source=source, recognisers=args.recogniser,
                        group_columns=args.group, bootstrap=args.bootstrap)
    print(f"{outcome.summary.read_text()}\n\nreport: {outcome.summary.parent}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from facelead.flows.retention_purge import retention_purge

    counts = _run_flow(Action.PURGE, "warehouse", retention_purge)
    print("retention purge: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_audit_query(args: argparse.Namespace) -> int:
    import csv

    from facelead.settings import Settings
    from facelead.tasks.workflow import auditor_query
    from facelead.warehouse.db import QueryRefused

    try:
        columns, rows = auditor_query(Settings().database_path, _signed_in(), args.sql)
    except QueryRefused as exc:
        print(f"refused (read_only): {exc}", file=sys.stderr)
        return EXIT_REFUSED
    out = csv.writer(sys.stdout)
    out.writerow(columns)
    out.writerows(rows)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.faces import face_models

    models = face_models(Settings())
    for m in (models.detector, models.recogniser):
        print(f"{m.manifest.role:<10} {m.model_id:<28} {m.path}  ({m.manifest.licence})")
    return 0


def cmd_index_build(args: argparse.Namespace) -> int:
    from facelead.flows.build_index import build_index

    summary = _run_flow(Action.BUILD, f"gallery:{args.gallery}", build_index, gallery=args.gallery, shards=args.shards)
    if summary is None:
        print(f"gallery {args.gallery} is smaller than FACELEAD_INDEX__EXACT_BELOW: it is searched exactly, no index built")
        return 0
    print(f"index {summary.build_id} now serves gallery {summary.gallery_id}: {summary.vectors} faces, "
          f"{summary.shards} shard(s), built in {summary.seconds:.1f} s")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from facelead.settings import Settings
    from facelead.tasks.persist import remove_subject
    from facelead.tasks.workflow import authorized

    settings = Settings()
    actor = authorized(settings.database_path, _signed_in(), Action.REMOVE, f"gallery:{args.gallery}").user_id
    removed = remove_subject.fn(settings.database_path, args.gallery, args.subject, actor, args.reason)
    print(f"removed {len(removed)} face(s) of {args.subject!r} from gallery {args.gallery!r}; "
          "no search returns them from now on")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from facelead.flows.demo import run_demo

    outcome, expected = run_demo()
    _print_candidates(outcome)
    top = outcome.candidates[0].subject_id
    print(f"the probe is a degraded photo of {expected}; rank 1 is {top}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="facelead",
        description="Investigative face search. Results are leads for trained examiners, "
                    "never a positive identification and never probable cause. Settings come from "
                    "FACELEAD_* environment variables (see README).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="build a demo gallery from a public-domain photo and search a degraded probe")
    demo.set_defaults(run=cmd_demo)

    enroll = sub.add_parser("enroll", help="enroll a CSV manifest or a <subject>/<image> folder into a gallery")
    enroll.add_argument("source", nargs="?", help="CSV (image_path, subject_id[, source, acquired_at]) or folder "
                        "(default: FACELEAD_ENROLL_SOURCE, the drop folder)")
    enroll.add_argument("--gallery", default="default", help="gallery id (default: %(default)s)")
    enroll.add_argument("--source-name", help="provenance recorded for each image (default: file or folder name)")
    enroll.set_defaults(run=cmd_enroll)

    users = sub.add_parser("users", help="people and their roles (admin; the very first user needs no secret); "
                                         "your own secret")
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

    sheet = sub.add_parser("sheet", help="write a search's candidate sheet and print its path (the view is audited)")
    sheet.add_argument("search_id")
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
    over.set_defaults(run=cmd_report_oversight)

    index = sub.add_parser("index", help="ScaNN index of a gallery")
    index_sub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    build = index_sub.add_parser("build", help="build a new index version and switch searches to it")
    build.add_argument("--gallery", default="default", help="gallery id (default: %(default)s)")
    build.add_argument("--shards", type=int, help="shards, searched in parallel on Dask (default: FACELEAD_INDEX__SHARDS)")
    build.set_defaults(run=cmd_index_build)

    remove = sub.add_parser("remove", help="remove a subject's faces from a gallery (hidden from searches at once)")
    remove.add_argument("--gallery", required=True, help="gallery id")
    remove.add_argument("--subject", required=True, help="subject id")
    remove.add_argument("--reason", required=True, help="why, for the audit log")
    remove.set_defaults(run=cmd_remove)

    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="recompute the hash chain and name the first broken row")
    verify.set_defaults(run=cmd_audit_verify)
    audit_query = audit_sub.add_parser("query", help="run SQL on a read-only connection, print CSV (auditor)")
    audit_query.add_argument("sql", help="e.g. \"SELECT * FROM search_history WHERE case_number = '2026-004211'\"")
    audit_query.set_defaults(run=cmd_audit_query)

    evaluation = sub.add_parser("evaluate", help="accuracy, score calibration and group differentials of the "
                                                 "recogniser(s) on a labeled set (admin, operator, auditor)")
    evaluation.add_argument("source", help="CSV (path, identity[, group columns]) or <identity>/<image> folder")
    evaluation.add_argument("--recogniser", action="append", metavar="MANIFEST",
                            help="recogniser manifest name or .toml path; repeat to compare (default: the configured one)")
    evaluation.add_argument("--group", action="append", metavar="COLUMN",
                            help="CSV column labelling groups (sex, age band); repeat for several")
    evaluation.add_argument("--bootstrap", type=int, default=200, help="identity resamples for 95%% intervals (default: %(default)s)")
    evaluation.set_defaults(run=cmd_evaluate)

    serve = sub.add_parser("serve", help="run a local Prefect server (127.0.0.1, offline) and a worker for the "
                                         "facelead work pool until interrupted")
    serve.add_argument("--port", type=int, default=4200, help="server port on 127.0.0.1 (default: %(default)s)")
    serve.add_argument("--deploy", action="store_true", help="deploy every flow in prefect.yaml before the worker starts")
    serve.add_argument("--project", type=Path, default=Path.cwd(),
                       help="folder holding prefect.yaml, where flow runs start (default: the current folder)")
    serve.add_argument("--limit", type=int, default=2, help="flow runs the worker runs at once (default: %(default)s)")
    serve.set_defaults(run=cmd_serve)

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
    try:
        return args.run(args)
    except Refusal as exc:
        print(f"refused ({exc.reason}): {exc.detail}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
