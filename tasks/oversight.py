"""The program oversight report: its columns, its period and its Markdown (the rows are
read and audited by ``steps.reports.oversight_rows``)."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta
from pathlib import Path

from warehouse.records import OversightRow

COLUMNS = tuple(f.name for f in fields(OversightRow))


def total(rows: list[OversightRow]) -> OversightRow:
    """Every offense code's counts added up, as the row ``**all**``."""
    return OversightRow("**all**", *(sum(getattr(r, c) for r in rows) for c in COLUMNS[1:]))


def markdown(rows: list[OversightRow], start: date, end: date) -> str:
    lines = [f"# Oversight report {start} to {end} (exclusive)", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(value) for value in astuple(r)) + " |" for r in [*rows, total(rows)]]
    return "\n".join(lines) + "\n\nCounts are of requests filed in the period; a search's review outcome is as of now."


@dataclass(frozen=True)
class OversightReport:
    csv_path: Path
    markdown: str
    rows: list[OversightRow]  # one per offense code


def previous_month(today: date) -> tuple[date, date]:
    """The calendar month before ``today``'s: (its first day, the first day of today's month)."""
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end
