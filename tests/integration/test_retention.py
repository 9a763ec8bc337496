"""Retention: removal hides at once, the purge deletes for good and audits only counts."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

from facelead.flows.enroll_gallery import enroll_gallery
from facelead.flows.rerun_search import rerun_search
from facelead.flows.retention_purge import retention_purge
from facelead.tasks.persist import remove_subject
from facelead.tasks.sheet import view_sheet
from facelead.warehouse import db
from facelead.policy import Action
from fixtures import as_user, enroll_as_admin, run_search

GALLERY = "dev-purge"


def _copies(faces_dev, folder, people: int = 4):
    """Gallery photos of the first people with 3+ photos, as new bytes, and one probe each."""
    by_person: dict[str, list] = {}
    for row in csv.DictReader((faces_dev / "labels.csv").open()):
        by_person.setdefault(row["identity"], []).append(faces_dev / row["path"])
    chosen = sorted(p for p, paths in by_person.items() if len(paths) >= 3)[:people]
    manifest = folder / "purge.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_path", "subject_id"])
        for person in chosen:
            for i, path in enumerate(sorted(by_person[person])[1:]):
                copy = folder / f"{person}-{i}{path.suffix}"
                copy.write_bytes(path.read_bytes() + b"purge-test")
                writer.writerow([str(copy), f"P-{person}"])  # subjects of this gallery only
    return manifest, {f"P-{person}": sorted(by_person[person])[0] for person in chosen}


def test_a_purged_subject_is_gone_for_good_and_never_returned(faces_dev, enrolled, people, approved, settings,
                                                              dask_runner, tmp_path):
    manifest, probes = _copies(faces_dev, tmp_path)
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    target, probe = next(iter(probes.items()))
    before = run_search(approved(probe, "RET-1", GALLERY), k=3)
    assert before.candidates[0].subject_id == target
    removed = remove_subject.fn(settings.database_path, GALLERY, target, "admin.test", "expunged by court order")
    assert len(removed) >= 2
    report = as_user("analyst.test", Action.RERUN, rerun_search, search_id=before.search_id)  # a difference is reported, not hidden
    assert not report.identical and any("no longer returned" in d and any(f in d for f in removed)
                                        for d in report.differences)

    counts = as_user("admin.test", Action.PURGE, retention_purge)
    assert (counts["faces"], counts["images"], counts["subjects"]) == (len(removed), len(removed), 1)
    assert not before.sheet.exists()  # the stored sheet showed the purged face
    with db.open_db(settings.database_path, read_only=True) as conn:
        for table, column in (("faces", "face_id"), ("embeddings", "face_id")):
            left = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} IN (SELECT unnest(?))", [removed])
            assert left.fetchone()[0] == 0, table
        assert conn.execute("SELECT count(*) FROM subjects WHERE subject_id = ?", [target]).fetchone()[0] == 0
        audit = [r for r in db.audit_rows(conn) if r.action == "retention.purge"][-1]
    details = json.loads(audit.details)
    assert details["faces"] == len(removed) and not any(face in audit.details for face in removed)

    after = run_search(approved(probe, "RET-2", GALLERY), k=3)
    assert target not in {c.subject_id for c in after.candidates}
    again = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    assert again.enrolled == 0  # the purged photos do not come back from the same input
    old_sheet = view_sheet(settings.database_path, before.search_id, settings.sheets_dir, "auditor.test").read_text()
    assert "purged" in old_sheet and target in old_sheet  # rank, score and ids stay for the record


def test_probe_images_past_retention_are_purged(enrolled, people, approved, settings):
    old = run_search(approved(enrolled.probes[9][0], "RET-OLD"), k=3)
    recent = run_search(approved(enrolled.probes[9][0], "RET-RECENT"), k=3)
    with db.open_db(settings.database_path) as conn, db.transaction(conn):  # as if made 400 days ago
        conn.execute("UPDATE searches SET created_at = created_at - ?::INTERVAL WHERE search_id = ?",
                     [timedelta(days=400), old.search_id])
    counts = as_user("admin.test", Action.PURGE, retention_purge)
    assert counts["probe_images"] >= 1
    with db.open_db(settings.database_path, read_only=True) as conn:
        sizes = dict(conn.execute("SELECT search_id, octet_length(probe_thumbnail) FROM searches WHERE search_id IN (?, ?)",
                                  [old.search_id, recent.search_id]).fetchall())
        assert db.verify_audit(conn).ok
    assert sizes[old.search_id] == 0 and sizes[recent.search_id] > 0
    assert not old.sheet.exists() and recent.sheet.exists()
