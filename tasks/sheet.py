"""The HTML candidate sheet an analyst reads: probe and candidates side by side."""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2
from prefect import task

from facelead import LEAD_NOTICE
from facelead.tasks.persist import DB_TASK
from facelead.warehouse import db

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("facelead.tasks", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_sheet(rows: list[dict]) -> str:
    """HTML for one search from its candidate_sheet rows (one per candidate, rank order)."""
    if not rows:
        raise ValueError("a candidate sheet needs at least one candidate row")
    search = rows[0]
    candidates = [{**row, "thumbnail_b64": base64.b64encode(row["thumbnail"]).decode()} for row in rows]
    return _TEMPLATES.get_template("candidate_sheet.html").render(
        notice=LEAD_NOTICE, search=search, candidates=candidates,
        probe_b64=base64.b64encode(search["probe_thumbnail"]).decode(),
    )


@task(**DB_TASK)
def write_sheet(db_path: Path, search_id: str, sheets_dir: Path, actor: str) -> Path:
    """Render the sheet to ``<sheets_dir>/<search_id>.html`` and audit the write."""
    with db.open_db(db_path) as conn:
        rows = db.candidate_sheet_rows(conn, search_id)
        sheets_dir.mkdir(parents=True, exist_ok=True)
        path = sheets_dir / f"{search_id}.html"
        path.write_text(render_sheet(rows), encoding="utf-8")
        with db.transaction(conn):
            db.append_audit(conn, actor, "sheet.write", f"search:{search_id}", {"path": str(path)})
    return path
