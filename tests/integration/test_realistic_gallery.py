"""A realistic gallery at CI scale: 50,000 synthetic strangers (one to five photos each, at
SFace-like genuine scores) with the faces-dev people hidden among them, searched through
the index as at scale, and held against exact search."""

from __future__ import annotations

import pytest

from facelead.intake.batches import BatchContext, synthetic_table
from facelead.policy import Action
from flows.build_index import build_index
from models.synthetic import realistic_gallery
from warehouse import casefile, db, gallery_store

from fixtures import as_user, run_search

GALLERY = "realistic"
STRANGERS = 50_000


@pytest.fixture(scope="module")
def realistic(enrolled, settings, models):
    """The dev gallery's faces and 50,000 synthetic strangers, enrolled in one gallery."""
    model_id = models.recogniser.model_id
    strangers = synthetic_table(realistic_gallery(STRANGERS, seed=11),
                                BatchContext(GALLERY, "synthetic-strangers", model_id, models.detector.model_id), "stranger")
    with db.open_db(settings.database_path) as conn, db.transaction(conn):
        conn.execute("INSERT INTO enrollments (gallery_id, face_id, model_id, subject_id, run_id, enrolled_at) "
                     "SELECT ?, face_id, model_id, subject_id, run_id, enrolled_at FROM enrollments "
                     "WHERE gallery_id = 'dev' AND removed_at IS NULL", [GALLERY])
        gallery_store.insert_enrolled(conn, strangers)
    return enrolled


def _above(outcome, floor: float) -> set[str]:
    return {c.face_id for c in outcome.candidates if c.score >= floor}


def test_a_realistic_gallery_is_searched_through_the_index_and_finds_every_hidden_mate(
        realistic, settings, dask_runner, approved, monkeypatch):
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY)
    assert build is not None and not build.exact_fallback, build
    assert build.judged.floor_recall >= 0.995 and build.judged.rank1_agreement >= 0.999
    assert build.judged.floor_faces > 100  # the targets were measured on faces above the floor, not on none
    with db.open_db(settings.database_path, read_only=True) as conn:
        stored = gallery_store.get_build(conn, build.build_id)
    assert stored.candidate_floor == pytest.approx(build.candidate_floor) and stored.rank1_agreement >= 0.999

    for n, (probe, person) in enumerate(realistic.probes[:8]):
        indexed = run_search(approved(probe, f"REAL-{n}", GALLERY), k=10)
        monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "10000000")
        exact = run_search(approved(probe, f"REAL-{n}-EXACT", GALLERY), k=10)
        monkeypatch.delenv("FACELEAD_INDEX__EXACT_BELOW")
        with db.open_db(settings.database_path, read_only=True) as conn:
            methods = [casefile.search_record(conn, o.search_id).method for o in (indexed, exact)]
        assert methods == ["scann", "exact"]
        assert _above(indexed, build.candidate_floor) == _above(exact, build.candidate_floor), person
        mates = {c.face_id for c in exact.candidates if c.subject_id == person}
        assert mates <= {c.face_id for c in indexed.candidates}, person  # every mate exact search ranks, the index does
        assert indexed.candidates[0].face_id == exact.candidates[0].face_id
