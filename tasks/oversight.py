"""The program oversight report's rows: requests, decisions, searches and review outcomes
per offense code for a period, read and audited in one task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from prefect import task

from tasks.persist import DB_TASK
from warehouse import casefile, chain, db

COLUMNS = ("offense_code", "requests", "approved", "denied", "pending", "searches", "quality_overrides",
           "released", "released_no_candidate", "disputed", "awaiting_review")


@task(**DB_TASK)
def oversight_rows(db_path: Path, start: date, end: date, actor: str) -> list[dict]:
    """The per-offense rows for requests filed from ``start`` up to, not including, ``end`` (UTC); audited."""
    lower, upper = (datetime.combine(d, time(), tzinfo=timezone.utc) for d in (start, end))
    with db.open_db(db_path) as conn:
        rows = casefile.oversight(conn, lower, upper)
        with db.transaction(conn):
            chain.append_audit(conn, actor, "report.oversight", f"period:{start}/{end}", {"offense_codes": len(rows)})
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
