"""The disclosure packet of a case: everything facelead did for it, in one hashed folder."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from facelead import LEAD_NOTICE, casework
from facelead.digest import file_sha256
from facelead.documents.sheet import sheet_html
from facelead.files import write_csv
from facelead.policy import Action
from facelead.refusal import refuse
from facelead.workflow import audited, authorize
from warehouse import casefile, chain, db

MANIFEST = "MANIFEST.sha256"


def _readme(case_number: str, records: dict[str, list[dict]], actor: str, at: datetime) -> str:
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in records.items())
    return (f"{LEAD_NOTICE}\n\nDisclosure packet for case {case_number}, exported by {actor} at {at.isoformat()}.\n"
            f"Contents: {counts}.\n\n"
            "requests.csv        every search request: offense code, justification, requester, decision\n"
            "searches.csv        every search: who approved and ran it, method, model, quality, review outcome\n"
            "candidates.csv      every candidate shown, with rank, score and gallery source\n"
            "determinations.csv  every determination, analyst and reviewer, 'no candidate' included\n"
            "audit.jsonl         the audit log rows about the case, its requests and searches (hash-chained)\n"
            "sheets/             each search's candidate sheet as the analyst saw it\n"
            f"{MANIFEST}     SHA-256 of every file above (check: sha256sum -c {MANIFEST})\n")


def _new_folder(parent: Path, name: str) -> Path:
    """A new, empty folder ``parent/name`` (``name-2``, ``name-3``... when taken)."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = parent / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent / name}: 999 packets of this name already")


def export_case(db_path: Path, actor: str, case_number: str, out_dir: Path) -> Path:
    """Write the case's packet to a new folder under ``out_dir`` and audit the export
    (with the manifest's hash); returns the folder. Supervisors and auditors only."""
    at = datetime.now(timezone.utc)
    with db.open_db(db_path) as conn:
        user = authorize(conn, actor, Action.EXPORT, f"case:{case_number}")
        records = casefile.case_records(conn, case_number)
        with audited(conn, actor, Action.EXPORT, f"case:{case_number}"):
            refuse(casework.case_found_refusal(case_number, len(records["requests"])))
            refuse(casework.export_refusal(case_number, actor, user.roles,
                                           casefile.awaiting_review_in_case(conn, case_number)))
        sheets = {row["search_id"]: sheet_html(conn, row["search_id"]) for row in records["searches"]}
        folder = _new_folder(out_dir, f"case-{''.join(c if c.isalnum() or c in '-_' else '_' for c in case_number)}"
                                      f"-{at:%Y%m%dT%H%M%SZ}")
        (folder / "sheets").mkdir()
        for name in ("requests", "searches", "candidates", "determinations"):
            write_csv(folder / f"{name}.csv", records[name], list(records[name][0]) if records[name] else [])
        with (folder / "audit.jsonl").open("w", encoding="utf-8") as fh:
            for row in records["audit"]:
                fh.write(json.dumps(row, default=str, sort_keys=True) + "\n")
        for search_id, html in sheets.items():
            (folder / "sheets" / f"{search_id}.html").write_text(html, encoding="utf-8")
        (folder / "README.txt").write_text(_readme(case_number, records, actor, at), encoding="utf-8")
        lines = [f"{file_sha256(p)}  {p.relative_to(folder).as_posix()}"
                 for p in sorted(folder.rglob("*")) if p.is_file()]
        (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
        with db.transaction(conn):
            chain.append_audit(conn, actor, "case.export", f"case:{case_number}", {
                "packet": folder.name, "files": len(lines),
                "manifest_sha256": file_sha256(folder / MANIFEST)})
    return folder
