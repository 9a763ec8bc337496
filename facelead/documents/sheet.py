"""The HTML candidate sheet an analyst reads: probe and candidates side by side."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from facelead import LEAD_NOTICE, casework
from facelead.policy import Action
from facelead.refusal import refuse
from facelead.workflow import audited, authorize
from models.calibration import Calibration
from warehouse import casefile, chain, db, gallery_store
from warehouse.records import SheetRow

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("facelead.documents", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class SheetView:
    """A search's candidate rows (rank order) and the calibration its chances read from."""

    rows: list[SheetRow]
    calibration: Calibration | None

    def chance(self, row: SheetRow) -> str:
        return "" if self.calibration is None else self.calibration.chance(row.score, row.gallery_size).describe()


def render_sheet(rows: list[SheetRow], calibration: Calibration | None) -> str:
    """HTML for one search from its candidate_sheet rows (one per candidate, rank order) and
    the calibration its chances are read from (None: the sheet says there is none)."""
    if not rows:
        raise ValueError("a candidate sheet needs at least one candidate row")
    search = rows[0]
    view = SheetView(rows, calibration)
    candidates = [{**asdict(row), "thumbnail_b64": b64(row.thumbnail), "chance": view.chance(row)} for row in rows]
    return _TEMPLATES.get_template("candidate_sheet.html").render(
        notice=LEAD_NOTICE, search=search, candidates=candidates, probe_b64=b64(search.probe_thumbnail),
        calibration=calibration)


def b64(jpeg: bytes | None) -> str:
    """Base64 of a thumbnail; '' where it was purged."""
    return base64.b64encode(jpeg).decode() if jpeg else ""


def sheet_html(conn, search_id: str) -> str:
    """The sheet of a search as stored, with the newest calibration for its gallery and recogniser."""
    rows = casefile.candidate_sheet_rows(conn, search_id)
    return render_sheet(rows, gallery_store.latest_calibration(conn, rows[0].model_id, rows[0].gallery_id) if rows else None)


def render_to(conn, search_id: str, sheets_dir: Path, actor: str, action: str) -> Path:
    """Write the sheet to ``<sheets_dir>/<search_id>.html`` and audit it as ``action``."""
    html = sheet_html(conn, search_id)
    sheets_dir.mkdir(parents=True, exist_ok=True)
    path = sheets_dir / f"{search_id}.html"
    path.write_text(html, encoding="utf-8")
    with db.transaction(conn):
        chain.append_audit(conn, actor, action, f"search:{search_id}", {"file": path.name})
    return path


def write_sheet(db_path: Path, search_id: str, sheets_dir: Path, actor: str) -> Path:
    """The sheet of a search just run, for the analyst who ran it; audited as ``sheet.write``."""
    with db.open_db(db_path) as conn:
        return render_to(conn, search_id, sheets_dir, actor, "sheet.write")


def open_sheet(db_path: Path, search_id: str, actor: str, details: dict) -> SheetView:
    """A past search's candidates for an analyst, reviewer, supervisor or auditor, audited as
    ``sheet.view`` (refusals too); never anyone's determination."""
    with db.open_db(db_path) as conn:
        target = f"search:{search_id}"
        user = authorize(conn, actor, Action.SHEET_VIEW, target)  # first: nobody else learns whether it exists
        with audited(conn, actor, Action.SHEET_VIEW, target):
            search = casefile.search_summary(conn, search_id)
            refuse(casework.search_found_refusal(search, search_id))
            refuse(casework.search_view_refusal(search_id, actor, user.roles, search.actor,
                                                casefile.determiners(conn, search_id)))
        rows = casefile.candidate_sheet_rows(conn, search_id)
        calibration = gallery_store.latest_calibration(conn, rows[0].model_id, rows[0].gallery_id) if rows else None
        with db.transaction(conn):
            chain.append_audit(conn, actor, "sheet.view", target, details)
        return SheetView(rows, calibration)


def view_sheet(db_path: Path, search_id: str, sheets_dir: Path, actor: str) -> Path:
    """The sheet file of a past search (``open_sheet``'s checks and audit)."""
    path = sheets_dir / f"{search_id}.html"
    view = open_sheet(db_path, search_id, actor, {"file": path.name})
    sheets_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sheet(view.rows, view.calibration), encoding="utf-8")
    return path
