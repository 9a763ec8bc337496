"""Retention: removal hides at once, the purge deletes for good and audits only counts."""

from __future__ import annotations

import base64
import csv
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from facelead import workflow
from facelead.documents.sheet import view_sheet
from facelead.doors import store_probe
from facelead.policy import Action
from facelead.workflow import mark_subject_pair
from flows.enroll_gallery import enroll_gallery
from flows.rerun_search import rerun_search
from flows.retention_purge import retention_purge
from warehouse import chain, db, gallery_store

from fixtures import as_user, enroll_as_admin, run_search

GALLERY = "dev-purge"


def _copies(faces_dev, folder, people: int = 4, salt: bytes = b"purge-test", mirror: bool = False):
    """Gallery photos of the first people with 3+ photos, as new bytes (``mirror``: new pixels
    too, so no other gallery holds the same face), and one probe each."""
    by_person: dict[str, list] = {}
    for row in csv.DictReader((faces_dev / "labels.csv").open()):
        by_person.setdefault(row["identity"], []).append(faces_dev / row["path"])
    chosen = sorted(p for p, paths in by_person.items() if len(paths) >= 3)[:people]
    manifest = folder / "purge.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_path", "subject_id", "sex"])
        for person in chosen:
            for i, path in enumerate(sorted(by_person[person])[1:]):
                copy = folder / f"{person}-{i}{path.suffix}"
                if mirror:
                    copy = copy.with_suffix(".png")
                    ImageOps.mirror(Image.open(path).convert("RGB")).save(copy)
                else:
                    copy.write_bytes(path.read_bytes() + salt)
                writer.writerow([str(copy), f"P-{person}", "unrecorded"])  # subjects of this gallery only
    return manifest, {f"P-{person}": sorted(by_person[person])[0] for person in chosen}


def test_a_purged_subject_is_gone_for_good_and_never_returned(faces_dev, enrolled, people, approved, settings,
                                                              dask_runner, tmp_path):
    manifest, probes = _copies(faces_dev, tmp_path)
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    target, probe = next(iter(probes.items()))
    before = run_search(approved(probe, "RET-1", GALLERY), k=3)
    assert before.candidates[0].subject_id == target
    removed = workflow.remove_subject(settings.database_path, "admin.test", GALLERY, target, "expunged by court order")
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
        audit = [r for r in chain.audit_rows(conn) if r.action == "retention.purge"][-1]
    details = json.loads(audit.details)
    assert details["faces"] == len(removed) and not any(face in audit.details for face in removed)

    after = run_search(approved(probe, "RET-2", GALLERY), k=3)
    assert target not in {c.subject_id for c in after.candidates}
    again = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    assert again.enrolled == 0  # the purged photos do not come back from the same input
    old_sheet = view_sheet(settings.database_path, before.search_id, settings.sheets_dir, "auditor.test").read_text()
    assert "purged" in old_sheet and target not in old_sheet  # rank, score and face ids stay for the record


def test_probe_images_past_retention_are_purged(enrolled, people, approved, settings):
    kept_old, kept_recent = (store_probe(settings.probes_dir, enrolled.probes[i][0].read_bytes(), "probe.jpg")
                             for i in (8, 9))  # uploaded as the doors keep them
    old = run_search(approved(kept_old, "RET-OLD"), k=3)
    recent = run_search(approved(kept_recent, "RET-RECENT"), k=3)
    with db.open_db(settings.database_path) as conn, db.transaction(conn):  # as if made 400 days ago
        conn.execute("UPDATE searches SET created_at = created_at - ?::INTERVAL WHERE search_id = ?",
                     [timedelta(days=400), old.search_id])
        conn.execute("UPDATE requests SET requested_at = requested_at - ?::INTERVAL WHERE search_id = ?",
                     [timedelta(days=400), old.search_id])
    abandoned, in_progress = settings.probes_dir / "abandoned.jpg", settings.probes_dir / "being-filed.jpg"
    for upload in (abandoned, in_progress):  # uploads no request uses: a form left two days ago, one being filled
        upload.write_bytes(enrolled.probes[7][0].read_bytes())
    os.utime(abandoned, (time.time() - 48 * 3600,) * 2)
    os.utime(kept_old, (time.time() - 400 * 86400,) * 2)  # uploaded with its request, 400 days ago
    counts = as_user("admin.test", Action.PURGE, retention_purge)
    assert counts["probe_images"] >= 1 and counts["probe_files"] >= 2
    assert not kept_old.exists() and not abandoned.exists()  # the photo itself, not only its thumbnail
    assert kept_recent.exists() and in_progress.exists() and enrolled.probes[8][0].exists()
    with db.open_db(settings.database_path, read_only=True) as conn:
        sizes = dict(conn.execute("SELECT search_id, octet_length(probe_thumbnail) FROM searches WHERE search_id IN (?, ?)",
                                  [old.search_id, recent.search_id]).fetchall())
        assert chain.verify_audit(conn).ok
    assert sizes[old.search_id] == 0 and sizes[recent.search_id] > 0
    assert not old.sheet.exists() and recent.sheet.exists()


def _files(settings) -> list[Path]:
    """Every file facelead and Prefect wrote that could hold a face: the database (and its
    write-ahead log), every index build, every sheet, Prefect's database and result storage."""
    return [*_facelead_files(settings), *_prefect_files()]


def _tree(roots: list[Path]) -> list[Path]:
    return [f for root in roots for f in ([root] if root.is_file() else root.rglob("*") if root.is_dir() else [])
            if f.is_file()]


def _facelead_files(settings) -> list[Path]:
    return _tree([settings.database_path, settings.database_path.with_name(settings.database_path.name + ".wal"),
                  settings.index_dir, settings.sheets_dir])


def _prefect_files() -> list[Path]:
    """Prefect's database (runs, logs, artifacts) and its result storage."""
    from prefect.settings import get_current_settings

    current = get_current_settings()
    prefect_db = Path(current.server.database.connection_url.get_secret_value().split("///", 1)[1])
    return _tree([prefect_db, prefect_db.with_name(prefect_db.name + "-wal"), current.results.local_storage_path])


def _found(settings, needles: dict[str, bytes]) -> set[str]:
    """``what in file`` for each needle found in any of those files."""
    found = set()
    for path in _files(settings):
        data = path.read_bytes()
        found |= {f"{name} @ {path.name}" for name, needle in needles.items() if needle in data}
    return found


def test_after_a_purge_no_copy_of_the_face_remains_anywhere(faces_dev, enrolled, people, approved, settings,
                                                            dask_runner, tmp_path, monkeypatch):
    from facelead.documents.disclosure import export_case
    from flows.build_index import build_index

    gallery = "dev-scrub"
    monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "0")  # searched through the index, as at scale
    manifest, probes = _copies(faces_dev, tmp_path, people=3, mirror=True)
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=gallery)
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=gallery,
                    shards=1)
    target, probe = next(iter(probes.items()))
    found = run_search(approved(probe, "SCRUB-1", gallery), k=3)
    assert found.candidates[0].subject_id == target and found.sheet.exists()
    export_case(settings.database_path, "auditor.test", "SCRUB-1", tmp_path / "handed-out")
    with db.open_db(settings.database_path, read_only=True) as conn:
        faces = conn.execute("SELECT f.face_id, f.thumbnail, e.vector FROM faces f JOIN embeddings e USING (face_id) "
                             "JOIN enrollments n USING (face_id) WHERE n.subject_id = ? AND n.gallery_id = ?",
                             [target, gallery]).fetchall()
    needles = {}
    for face_id, thumbnail, vector in faces:
        middle = len(thumbnail) // 2
        needles[f"{face_id} thumbnail"] = thumbnail[middle:middle + 48]
        encoded = base64.b64encode(thumbnail)  # as a sheet embeds it
        needles[f"{face_id} thumbnail in base64"] = encoded[len(encoded) // 2:len(encoded) // 2 + 64]
        needles[f"{face_id} vector"] = np.asarray(vector, np.float32).tobytes()[:64]
    before = _found(settings, needles)
    assert {n for n in needles if "thumbnail" in n} <= {f.split(" @ ")[0] for f in before}  # the scan works
    with db.open_db(settings.database_path, read_only=True) as conn:
        folder = settings.database_path.parent / gallery_store.get_build(conn, build.build_id).folder
    assert folder.is_dir()

    other = next(subject for subject in probes if subject != target)
    mark_subject_pair(settings.database_path, "admin.test", gallery, (target, other), False, "checked")
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert gallery_store.gallery_attributes(conn, gallery, "sex")[target] == "unrecorded"
        assert any(target in (d.subject_a, d.subject_b) for d in gallery_store.possible_duplicates(conn, gallery))
    workflow.remove_subject(settings.database_path, "admin.test", gallery, target, "court order")
    snapshot = workflow.write_audit_snapshot(settings, "auditor.test")  # the auditors' copy, made before the purge
    assert target.encode() in snapshot.read_bytes()
    report = as_user("admin.test", Action.PURGE, retention_purge)

    assert _found(settings, needles) == set()
    assert not any(target.encode() in f.read_bytes() for f in _prefect_files())  # nor Prefect's logs its name
    assert not folder.exists() and report["index_builds_deleted"] >= 1
    assert not snapshot.exists() and report["audit_snapshot_removed"]  # the next query builds it anew
    assert [e["case_number"] for e in report["exports_holding_purged_faces"]] == ["SCRUB-1"]
    face_ids = [f[0] for f in faces]
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM candidates WHERE subject_id = ?", [target]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM enrollments WHERE subject_id = ?", [target]).fetchone()[0] == 0
        for table, named in (("subject_attributes", "subject_id = $1"),
                             ("possible_duplicates", "$1 IN (subject_a, subject_b)"),
                             ("subject_pair_marks", "$1 IN (subject_a, subject_b)")):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {named}", [target]).fetchone()[0] == 0, table
        quality = conn.execute("SELECT subject_id, source_path FROM quality_validations WHERE image_sha256 IN "
                               "(SELECT unnest(?))", [[f.split("/")[0] for f in face_ids]]).fetchall()
        assert quality and set(quality) == {(None, "")}  # the gate's verdicts stay, naming no one
        status = conn.execute("SELECT status FROM index_builds WHERE build_id = ?", [build.build_id]).fetchone()[0]
        verdict = chain.verify_audit(conn)
    assert status == "deleted" and verdict.ok, verdict
    after = run_search(approved(probe, "SCRUB-2", gallery), k=3)  # the gallery is searched exactly until rebuilt
    assert target not in {c.subject_id for c in after.candidates}
