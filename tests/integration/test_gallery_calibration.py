"""A gallery's own calibration: drawn at every index build, read by its sheets, its closest
subject pairs listed, and an operator's "same person" mark taken into the next one."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest

from facelead.access import AccessDenied
from facelead.policy import Action
from facelead.workflow import WorkflowRefused, mark_subject_pair, possible_duplicates
from flows.build_index import build_index
from flows.calibrate_gallery import calibrate
from flows.enroll_gallery import enroll_gallery
from warehouse import chain, db, gallery_store

from fixtures import as_user, enroll_as_admin, run_search

GALLERY = "calibrated"


@pytest.fixture(scope="module")
def aliased(enrolled, dask_runner, tmp_path_factory):
    """The dev gallery again, with the last photo of the person with the most photos enrolled
    under a second id: one person under two ids, as in a booking gallery."""
    rows = [r for r in csv.DictReader(enrolled.manifest.open()) if r["subject_id"] not in ("S-BAD", "S-BELOW-BAR")]
    counts = Counter(r["subject_id"] for r in rows)
    person = max(sorted(counts), key=counts.get)
    alias = f"{person}-alias"
    last = max(i for i, r in enumerate(rows) if r["subject_id"] == person)
    rows[last] = {**rows[last], "subject_id": alias}
    manifest = tmp_path_factory.mktemp("aliased") / "gallery.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    return person, alias


def _calibration(settings, models):
    with db.open_db(settings.database_path, read_only=True) as conn:
        return (gallery_store.latest_calibration(conn, models.recogniser.model_id, GALLERY),
                gallery_store.gallery_vectors(conn, GALLERY, models.recogniser.model_id, db.now()))


def test_a_build_calibrates_the_gallery_from_every_cross_subject_pair_and_its_sheets_read_it(
        aliased, settings, models, dask_runner, approved, enrolled):
    assert as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY) is None
    calibration, faces = _calibration(settings, models)
    subjects = np.array(faces.subject_ids)
    cross = int(np.triu(subjects[:, None] != subjects[None, :], k=1).sum())
    assert calibration.gallery_id == GALLERY and calibration.faces == len(subjects) and calibration.pairs == cross
    scores = faces.vectors @ faces.vectors.T
    expected = np.sort(scores[np.triu(subjects[:, None] != subjects[None, :], k=1)])
    assert np.allclose(calibration.scores, expected, atol=1e-5)
    html = run_search(approved(enrolled.probes[0][0], "TEST-CALIBRATED", GALLERY), k=3).sheet.read_text()
    assert f"read from calibration\n{calibration.source}: {cross:,} impostor pairs" in html
    assert html.count("expected chance candidates at this score in a gallery of") == 3


def test_the_person_under_two_ids_leads_the_possible_duplicates(aliased, settings):
    person, alias = aliased
    first = possible_duplicates(settings.database_path, "admin.test", GALLERY)[0]
    assert {first.subject_a, first.subject_b} == {person, alias} and first.same_person is None


def test_only_operators_and_admins_see_or_mark_pairs_and_refusals_are_audited(aliased, settings):
    person, alias = aliased
    for user in ("analyst.test", "auditor.test", "supervisor.test"):
        with pytest.raises(AccessDenied):
            mark_subject_pair(settings.database_path, user, GALLERY, (person, alias), True, "")
        with pytest.raises(AccessDenied):
            possible_duplicates(settings.database_path, user, GALLERY)
    crafted = "x'); DELETE FROM subject_pair_marks; --"
    with pytest.raises(WorkflowRefused, match="no subject"):
        mark_subject_pair(settings.database_path, "admin.test", GALLERY, (person, crafted), True, "")
    with pytest.raises(WorkflowRefused, match="one subject id"):
        mark_subject_pair(settings.database_path, "admin.test", GALLERY, (person, person), True, "")
    with db.open_db(settings.database_path, read_only=True) as conn:
        refused = conn.execute("SELECT actor FROM audit_log WHERE action = 'calibration.mark.refused' "
                               "AND target = ?", [f"gallery:{GALLERY}"]).fetchall()
    assert {"analyst.test", "auditor.test", "supervisor.test", "admin.test"} <= {a for (a,) in refused}


def test_a_same_person_mark_takes_their_pairs_out_of_the_next_calibration(aliased, settings, models):
    person, alias = aliased
    before, faces = _calibration(settings, models)
    mark_subject_pair(settings.database_path, "admin.test", GALLERY, (alias, person), True, "one booking, two ids")
    calibrated = as_user("admin.test", Action.CALIBRATE, calibrate, gallery=GALLERY)
    after, _ = _calibration(settings, models)
    assert after.calibration_id == calibrated.calibration.calibration_id != before.calibration_id
    subjects = Counter(faces.subject_ids)
    assert after.pairs == before.pairs - subjects[person] * subjects[alias]
    assert after.scores[-1] < before.scores[-1]
    assert {person, alias} != {calibrated.closest[0].subject_a, calibrated.closest[0].subject_b}
    with db.open_db(settings.database_path, read_only=True) as conn:
        [mark] = conn.execute("SELECT subject_a, subject_b, same_person, actor FROM subject_pair_marks "
                              "WHERE gallery_id = ?", [GALLERY]).fetchall()
        assert mark == (*sorted((person, alias)), True, "admin.test")
        assert chain.verify_audit(conn).ok
