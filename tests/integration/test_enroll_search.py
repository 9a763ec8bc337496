"""The walking skeleton end to end: real models, a real DuckDB file, a real LocalCluster."""

from __future__ import annotations

import hashlib
import shutil
from collections import defaultdict

import duckdb
import numpy as np
import pytest
from PIL import Image

from facelead.casework import SearchRefused
from flows.enroll_gallery import enroll_gallery
from warehouse import chain, db, gallery_store

from fixtures import enroll_as_admin, run_search


def _counts(settings) -> dict[str, int]:
    with db.open_db(settings.database_path, read_only=True) as conn:
        return db.table_counts(conn)


def test_every_left_out_photo_finds_its_person_at_rank_1(enrolled, approved):
    assert len(enrolled.probes) >= 10
    for probe, person in enrolled.probes:
        outcome = run_search(approved(probe, "TEST-LOO"), k=5)
        assert outcome.candidates[0].subject_id == person, f"{probe.name}: rank 1 was {outcome.candidates[0]}"
        assert [c.rank for c in outcome.candidates] == [1, 2, 3, 4, 5]
        assert outcome.sheet.is_file()


def test_genuine_pairs_score_high_and_impostors_low(enrolled, settings, models):
    with db.open_db(settings.database_path, read_only=True) as conn:
        gallery = gallery_store.gallery_vectors(conn, "dev", models.recogniser.model_id, db.now())
        subjects, vectors = gallery.subject_ids, gallery.vectors
    assert vectors.shape[1] == models.recogniser.manifest.output_dim
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    subjects = np.array(subjects)
    same = subjects[:, None] == subjects[None, :]
    upper = np.triu_indices(len(subjects), 1)
    genuine, impostor = similarity[upper][same[upper]], similarity[upper][~same[upper]]
    assert genuine.mean() > 0.5 and impostor.mean() < 0.25, (genuine.mean(), impostor.mean())


def test_bad_inputs_are_recorded_with_reasons_and_the_rest_enrolled(enrolled, settings):
    summary = enrolled.summary
    assert summary.enrolled + summary.duplicates == enrolled.gallery_images  # faces-dev repeats one photo
    assert summary.duplicates <= 1
    with db.open_db(settings.database_path, read_only=True) as conn:
        refusals = {row[0].rsplit("/", 1)[-1]: (row[1], row[2]) for row in conn.execute(
            "SELECT source_path, reason, detail FROM refusals WHERE gallery_id = 'dev'").fetchall()}
    for name, reason in enrolled.bad_inputs.items():
        assert refusals[name][0] == reason, (name, refusals.get(name))
        assert name in refusals[name][1]  # the detail names the file
    assert any(r == "bad_manifest_row" and "last tuesday" in d for r, d in refusals.values())
    assert summary.refused == len(enrolled.bad_inputs) + 1 + len(enrolled.below_bar)
    assert summary.refused_by_reason["no_face"] == 1


def test_rerunning_the_same_input_adds_nothing(enrolled, settings, dask_runner):
    before = _counts(settings)
    again = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(enrolled.manifest), gallery="dev")
    after = _counts(settings)
    assert again.enrolled == 0
    for table in ("images", "faces", "embeddings", "enrollments", "refusals", "subjects"):
        assert after[table] == before[table], table
    assert after["audit_log"] > before["audit_log"]  # the re-run itself is audited


def test_probe_is_never_enrolled_and_every_search_is_audited(enrolled, settings, approved):
    probe, _ = enrolled.probes[0]
    before = _counts(settings)
    outcome = run_search(approved(probe, "TEST-PROBE"), k=3)
    after = _counts(settings)
    assert after["images"] == before["images"] and after["enrollments"] == before["enrollments"]
    digest = hashlib.sha256(probe.read_bytes()).hexdigest()
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM images WHERE sha256 = ?", [digest]).fetchone()[0] == 0
        actions = [r.action for r in chain.audit_rows(conn) if r.target == f"search:{outcome.search_id}"]
        stored = conn.execute("SELECT k, method, probe_sha256 FROM searches WHERE search_id = ?",
                              [outcome.search_id]).fetchone()
    assert actions == ["search.run", "sheet.write"]
    assert stored == (3, "exact", digest)


def test_a_probe_without_a_face_is_refused_and_audited(enrolled, settings, tmp_path, approved):
    blank = tmp_path / "blank.jpg"
    Image.fromarray(np.full((240, 320, 3), 90, np.uint8)).save(blank)
    with pytest.raises(SearchRefused, match="no face"):
        run_search(approved(blank, "TEST-BLANK"), k=5)
    with db.open_db(settings.database_path, read_only=True) as conn:
        last = chain.audit_rows(conn)[-1]
    assert (last.action, last.target) == ("search.refused", "case:TEST-BLANK") and '"no_face"' in last.details


def test_k_outside_2_to_50_is_refused_by_the_flow(enrolled, settings, approved):
    probe, _ = enrolled.probes[0]
    searches = _counts(settings)["searches"]
    for k in (1, 51):
        with pytest.raises(Exception, match="k"):
            run_search(approved(probe, "TEST-K"), k=k)
    assert _counts(settings)["searches"] == searches


def test_audit_verify_names_the_tampered_row_in_a_copy(enrolled, people, settings, service, tmp_path, monkeypatch,
                                                       capsys):
    from fastapi.testclient import TestClient

    from facelead.cli import main
    from facelead.service import create_app
    from facelead.settings import Settings

    copy = tmp_path / "copy.duckdb"  # the database with its audit key and anchor log, as a backup holds them
    shutil.copy(settings.database_path, copy)
    shutil.copytree(settings.secrets_dir, tmp_path / "secrets")
    shutil.copy(chain.chain_files(settings.database_path).anchor, chain.chain_files(copy).anchor)
    conn = duckdb.connect(str(copy))
    conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    conn.close()
    monkeypatch.setenv("FACELEAD_USER", "auditor.test")
    monkeypatch.setenv("FACELEAD_TOKEN", people["auditor.test"])
    assert main(["audit", "verify"]) == 0 and "intact" in capsys.readouterr().out
    client = TestClient(create_app(Settings(database=copy)))
    token = client.post("/api/session", json={"user_id": "auditor.test", "secret": people["auditor.test"]}).json()["token"]
    verdict = client.get("/api/audit/verify", headers={"Authorization": f"Bearer {token}"}).json()
    assert (verdict["ok"], verdict["first_broken"]) == (False, 2)


def test_enrolled_faces_per_subject_match_the_manifest(enrolled, settings):
    with db.open_db(settings.database_path, read_only=True) as conn:
        rows = conn.execute("SELECT subject_id, count(*) FROM enrollments WHERE gallery_id = 'dev' GROUP BY 1").fetchall()
    expected = defaultdict(set)
    for line in enrolled.manifest.read_text().splitlines()[1:]:
        path, subject = line.split(",")[:2]
        if subject not in ("S-BAD", "S-BELOW-BAR"):
            expected[subject].add(hashlib.sha256(open(path, "rb").read()).hexdigest())
    assert dict(rows) == {subject: len(hashes) for subject, hashes in expected.items()}


def test_a_probe_with_several_faces_asks_which_and_the_analyst_chooses(enrolled, faces_dev, approved):
    probe = faces_dev / "multi" / "obama_and_biden.jpg"
    request = approved(probe, "TEST-MULTI")
    with pytest.raises(SearchRefused, match=r"\d+ faces; say which to search \(--face N\): face 1: .*; face 2: ") as asked:
        run_search(request, k=3)
    assert asked.value.reason == "choose_face"
    first = run_search(request, k=3, face_index=0)  # the same request, now that the analyst chose
    second = run_search(approved(probe, "TEST-MULTI"), k=3, face_index=1)
    assert {first.candidates[0].subject_id, second.candidates[0].subject_id} == {"obama", "biden"}
    with pytest.raises(SearchRefused, match="face 10 asked for"):
        run_search(approved(probe, "TEST-MULTI"), k=3, face_index=9)


def _artifacts(key):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_enrollment_reports_its_progress_and_ends_with_a_summary_artifact(enrolled):
    assert any(float(a.data) == 100.0 for a in _artifacts("enrollment-progress"))
    summaries = [a.data for a in _artifacts("enrollment-summary")]
    assert any("images seen" in text and f"| enrolled | {enrolled.summary.enrolled} |" in text for text in summaries)


def test_a_search_leaves_prefect_a_count_and_a_link_never_a_subject_case_or_score(enrolled, approved):
    outcome = run_search(approved(enrolled.probes[7][0], "TEST-ARTIFACTS"), k=4)
    [summary] = [a for a in _artifacts("search-candidates") if outcome.search_id in (a.description or "")]
    assert "4 candidates" in summary.data and f"facelead sheet {outcome.search_id}" in summary.data
    for artifact in [*_artifacts("search-candidates"), *_artifacts("candidate-sheet")]:
        text = f"{artifact.data} {artifact.description}"
        assert "TEST-ARTIFACTS" not in text
        assert not any(c.subject_id in text or c.face_id in text or f"{c.score:.4f}" in text for c in outcome.candidates)
    assert any(outcome.sheet.absolute().as_uri() in (a.data or "") for a in _artifacts("candidate-sheet"))
