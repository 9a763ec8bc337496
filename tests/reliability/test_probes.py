"""Probes that are odd: one already in the gallery, one showing several faces."""

from __future__ import annotations

from warehouse import db

from fixtures import run_search

KEPT = ("images", "faces", "embeddings", "enrollments", "subjects")


def _counts(settings) -> dict[str, int]:
    with db.open_db(settings.database_path, read_only=True) as conn:
        return {k: v for k, v in db.table_counts(conn).items() if k in KEPT}


def test_a_probe_already_in_the_gallery_is_searched_and_never_enrolled(enrolled, approved, settings):

    path, subject = enrolled.manifest.read_text().splitlines()[1].split(",")[:2]
    before = _counts(settings)
    outcome = run_search(approved(path, "REL-IN-GALLERY"), k=3)
    assert outcome.candidates[0].subject_id == subject and outcome.candidates[0].score > 0.99
    assert _counts(settings) == before
