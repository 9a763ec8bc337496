"""Writing a search's candidate sheet, as a task of the search flow."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from facelead.documents import sheet
from tasks.persist import DB_TASK


@task(**DB_TASK)
def write_sheet(db_path: Path, search_id: str, sheets_dir: Path, actor: str) -> Path:
    """``documents.sheet.write_sheet``: the sheet of a search just run, audited as ``sheet.write``."""
    return sheet.write_sheet(db_path, search_id, sheets_dir, actor)
