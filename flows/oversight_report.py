"""The program oversight report: requests, decisions, searches and review outcomes per period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from facelead.files import write_csv
from facelead.flows.runtime import acting_user
from facelead.policy import Action
from facelead.settings import Settings
from facelead.tasks.persist import DB_TASK
from facelead.warehouse import db

COLUMNS = ("offense_code", "requests", "approved", "denied", "pending", "searches", "quality_overrides",
           "released", "released_no_candidate", "disputed", "awaiting_review")


@task(**DB_TASK)
def oversight_rows(db_path: Path, start: date, end: date, actor: str) -> list[dict]:
    """The per-offense rows for requests filed from ``start`` up to, not including, ``end`` (UTC); audited."""
    lower, upper = (datetime.combine(d, time(), tzinfo=timezone.utc) for d in (start, end))
    with db.open_db(db_path) as conn:
        rows = db.oversight(conn, lower, upper)
        with db.transaction(conn):
            db.append_audit(conn, actor, "report.oversight", f"period:{start}/{end}", {"offense_codes": len(rows)})
    return rows


def markdown(rows: list[dict], start: date, end: date) -> str:
    total = {c: sum(r[c] for r in rows) for c in COLUMNS[1:]}
    lines = [f"# Oversight report {start} to {end} (exclusive)", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in [*rows, {"offense_code": "**all**", **total}]]
    return "\n".join(lines) + "\n\nCounts are of requests filed in the period; a search's review outcome is as of now."


@dataclass(frozen=True)
class OversightReport:
    csv_path: Path
    markdown: str
    rows: list[dict]  # one per offense code, COLUMNS


def previous_month(today: date) -> tuple[date, date]:
    """The calendar month before ``today``'s: (its first day, the first day of today's month)."""
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


@flow(name="oversight-report")
def oversight_report(start: date | None = None, end: date | None = None, grant: str | None = None) -> OversightReport:
    """Write ``<data>/reports/oversight-<start>-<end>.csv`` and a markdown artifact of the
    period's requests, denials, searches, releases, disputes and "no candidate" outcomes
    by offense code.

    Args:
        start: First day of the period (UTC); default the first of the previous month.
        end: First day after the period; default the first of this month.
        grant: Issued by facelead when a person starts the run; leave empty in the UI
            (a run of the deployment acts as the operator console).
    """
    settings = Settings()
    actor = acting_user(settings, Action.REPORT, "reports", grant, start=start, end=end).user_id
    if start is None or end is None:
        month_start, month_end = previous_month(datetime.now(timezone.utc).date())
        start, end = start or month_start, end or month_end
    if end <= start:
        raise ValueError(f"the period must end after it starts ({start} to {end})")
    rows = oversight_rows(settings.database_path, start, end, actor)
    path = write_csv(settings.data_dir / "reports" / f"oversight-{start}-{end}.csv", rows, COLUMNS)
    report = OversightReport(path, markdown(rows, start, end), rows)
    create_markdown_artifact(report.markdown, key="oversight-report", description=str(path))
    return report
