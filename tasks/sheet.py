"""The HTML candidate sheet an analyst reads: probe and candidates side by side."""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2
from prefect import task

from facelead import LEAD_NOTICE
from facelead.models.calibration import Calibration
from facelead.tasks.persist import DB_TASK
from facelead.policy import Action
from facelead.tasks.workflow import WorkflowRefused, audited, authorize
from facelead.warehouse import db

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("facelead.tasks", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_sheet(rows: list[dict], calibration: Calibration | None) -> str:
    """HTML for one search from its candidate_sheet rows (one per candidate, rank order) and
    the calibration its chances are read from (None: the sheet says there is none)."""
    if not rows:
        raise ValueError("a candidate sheet needs at least one candidate row")
    search = rows[0]
    candidates = [{**row, "thumbnail_b64": _b64(row["thumbnail"]),
                   "chance": "" if calibration is None else calibration.chance(row["score"], search["gallery_size"]).describe()}
                  for row in rows]
    return _TEMPLATES.get_template("candidate_sheet.html").render(
        notice=LEAD_NOTICE, search=search, candidates=candidates, probe_b64=_b64(search["probe_thumbnail"]),
        calibration=calibration)


def _b64(jpeg: bytes | None) -> str:
    """Base64 of a thumbnail; '' where it was purged."""
    return base64.b64encode(jpeg).decode() if jpeg else ""


def sheet_html(conn, search_id: str) -> str:
    """The sheet of a search as stored, with the newest calibration for its gallery and recogniser."""
    rows = db.candidate_sheet_rows(conn, search_id)
    return render_sheet(rows, db.latest_calibration(conn, rows[0]["model_id"], rows[0]["gallery_id"]) if rows else None)


def render_to(conn, search_id: str, sheets_dir: Path, actor: str, action: str) -> Path:
    """Write the sheet to ``<sheets_dir>/<search_id>.html`` and audit it as ``action``."""
    html = sheet_html(conn, search_id)
    sheets_dir.mkdir(parents=True, exist_ok=True)
    path = sheets_dir / f"{search_id}.html"
    path.write_text(html, encoding="utf-8")
    with db.transaction(conn):
        db.append_audit(conn, actor, action, f"search:{search_id}", {"path": str(path)})
    return path


@task(**DB_TASK)
def write_sheet(db_path: Path, search_id: str, sheets_dir: Path, actor: str) -> Path:
    """The sheet of a search just run, for the analyst who ran it; audited as ``sheet.write``."""
    with db.open_db(db_path) as conn:
        return render_to(conn, search_id, sheets_dir, actor, "sheet.write")


def view_sheet(db_path: Path, search_id: str, sheets_dir: Path, actor: str) -> Path:
    """The sheet of a past search for an analyst, reviewer, supervisor or auditor; audited as
    ``sheet.view`` (refusals too). It never shows anyone's determination."""
    with db.open_db(db_path) as conn:
        target = f"search:{search_id}"
        with audited(conn, actor, Action.SHEET_VIEW, target):
            if db.search_summary(conn, search_id) is None:
                raise WorkflowRefused("no_such_search", f"no search {search_id}")
        authorize(conn, actor, Action.SHEET_VIEW, target)
        return render_to(conn, search_id, sheets_dir, actor, "sheet.view")
