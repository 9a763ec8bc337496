"""The program oversight report: requests, decisions, searches and review outcomes per period."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timezone

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from facelead import casework
from facelead.files import write_csv
from facelead.policy import Action
from facelead.refusal import refuse
from facelead.settings import current_settings
from flows.runtime import acting_user, refusals_audited
from tasks.oversight import COLUMNS, OversightReport, markdown, previous_month
from tasks.persist import oversight_rows


@refusals_audited
@flow(name="oversight-report")
def oversight_report(start: date | None = None, end: date | None = None, grant: str | None = None) -> OversightReport:
    """Write ``<data>/reports/oversight-<start>-<end>.csv`` and a markdown artifact of the
    period's requests, denials, searches, releases, disputes and "no candidate" outcomes
    by offense code.

    Args:
        start: First day of the period (UTC); default the first of the previous month.
        end: First day after the period; default the first of this month.
        grant: Issued by facelead for the person who starts the run (the Prefect UI behind
            facelead adds it); leave empty. A run made by the deployment's own schedule
            or trigger needs none.
    """
    settings = current_settings()
    actor = acting_user(settings, Action.REPORT, "reports", grant, start=start, end=end).user_id
    if start is None or end is None:
        month_start, month_end = previous_month(datetime.now(timezone.utc).date())
        start, end = start or month_start, end or month_end
    refuse(casework.period_refusal(start, end))
    rows = oversight_rows(settings.database_path, start, end, actor)
    path = write_csv(settings.data_dir / "reports" / f"oversight-{start}-{end}.csv", map(asdict, rows), COLUMNS)
    report = OversightReport(path, markdown(rows, start, end), rows)
    create_markdown_artifact(report.markdown, key="oversight-report", description=str(path))
    return report
