"""The image-quality gate on real photos, the real models and Great Expectations suites."""

from __future__ import annotations

import csv
import functools
import html
import json

import pytest
from degraded import AMBIGUOUS, below_bar_inputs, detected_inter_eye_px
from PIL import Image

from expectations.quality import validate
from facelead.casework import SearchRefused
from flows.enroll_gallery import enroll_gallery
from models import degrade
from models.faces import load, measure_face
from models.image import decode_image
from warehouse import chain, db

from fixtures import enroll_as_admin, run_search

POSE = {"head tilted", "head turned", "head nodded up or down"}


def _verdict(image, models, bar, suite="gallery"):
    """The subject's face's verdict, or None when the detector finds no face."""
    face = _subject(image, models)
    return None if face is None else validate(suite, bar, [face.quality.as_row()])[0]


def _subject(image, models):
    """The photo's subject's face, measured as enrollment measures it (None: no face)."""
    detector, embedder = load(models)
    found = detector.detect(image)
    if not len(found):
        return None
    return measure_face(image, found, found.subject(image.shape[1], image.shape[0]), detector,
                        embedder.manifest.input_size)


def _labeled(faces_dev):
    return [(faces_dev / row["path"]) for row in csv.DictReader((faces_dev / "labels.csv").open())]


def test_every_labeled_photo_passes_the_gallery_bar(faces_dev, models, settings):
    photos = _labeled(faces_dev)
    failed = {}
    for path in photos:
        verdict = _verdict(decode_image(path.read_bytes(), 10**8), models, settings.quality.gallery)
        if not verdict.passed:
            failed[path.name] = verdict.describe()
    assert len(photos) > 70 and not failed, failed


DEGRADATIONS = {
    "20 px between the eyes": (lambda image, eyes: degrade.downscale_to_inter_eye(image, eyes, 20), {"face too small"}),
    "heavy blur": (lambda image, eyes: degrade.blur(image, 0.15 * eyes), {"blurred"}),
    "near-black exposure": (lambda image, eyes: degrade.darken(image, 0.06), {"too dark"}),
    "60-degree roll": (lambda image, eyes: degrade.rotate(image, 60), POSE),
}


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_degraded_copies_fail_the_gallery_bar_with_the_right_reason(name, faces_dev, models, settings):
    """On the labeled photos that are camera frames (not tight face crops): every degraded
    copy the detector still finds fails, naming the damage done."""
    damage, expected = DEGRADATIONS[name]
    frames = [p for p in _labeled(faces_dev) if min(Image.open(p).size) >= 250]
    judged, wrong = 0, {}
    for path in frames:
        image = decode_image(path.read_bytes(), 10**8)
        verdict = _verdict(damage(image, detected_inter_eye_px(image, models)), models, settings.quality.gallery)
        if verdict is None:
            continue  # refused as no_face at enrollment
        judged += 1
        if verdict.passed or not expected & {c.reason for c in verdict.failures}:
            wrong[path.name] = verdict.describe() or "passed"
    assert judged >= 10 and not wrong, (judged, wrong)


def test_a_60_degree_roll_is_measured_as_a_tilt_on_most_frames(faces_dev, models, settings):
    frames = [p for p in _labeled(faces_dev) if min(Image.open(p).size) >= 250]
    reasons = []
    for path in frames:
        verdict = _verdict(degrade.rotate(decode_image(path.read_bytes(), 10**8), 60), models, settings.quality.gallery)
        if verdict is not None:
            reasons.append({c.reason for c in verdict.failures})
    assert sum("head tilted" in r for r in reasons) >= 0.8 * len(reasons)


def test_a_group_photo_enrolls_its_central_face_or_is_refused_as_ambiguous_naming_the_rival(faces_dev, models, settings):
    groups = sorted((faces_dev / "multi").iterdir())
    assert len(groups) >= 5
    for path in groups:
        image = decode_image(path.read_bytes(), 10**8)
        face = _subject(image, models)
        [verdict] = validate("gallery", settings.quality.gallery, [face.quality.as_row()])
        ambiguous = AMBIGUOUS in {c.reason for c in verdict.failures}
        assert ambiguous == bool(face.rivals) == (face.quality.rival_faces > 0), path.name
        assert all(rival.startswith("face ") and " px wide" in rival for rival in face.rivals)
        if not ambiguous:  # the subject is the most central face of its size
            found = load(models)[0].detect(image)
            assert face.face_index == found.subject(image.shape[1], image.shape[0])


def _composed(faces_dev, models, edge_scale: float):
    """An 800 x 480 photo: one person's face in the middle, another's at the right edge,
    ``edge_scale`` times its size; and the centre's x."""
    import numpy as np

    def face_crop(path, side):
        image = decode_image(path.read_bytes(), 10**8)
        found = load(models)[0].detect(image)
        x, y, w, h = found.boxes[found.largest()]
        crop = Image.fromarray(image).crop((int(x - w * 0.4), int(y - h * 0.5), int(x + w * 1.4), int(y + h * 1.3)))
        return np.asarray(crop.resize((side, int(side * crop.height / crop.width))))

    canvas = np.full((480, 800, 3), 128, np.uint8)
    centre = face_crop(faces_dev / "identities/biden/02.jpg", 150)
    edge = face_crop(faces_dev / "identities/obama/01.jpg", int(150 * edge_scale))
    cy, cx = (480 - centre.shape[0]) // 2, (800 - centre.shape[1]) // 2
    canvas[cy:cy + centre.shape[0], cx:cx + centre.shape[1]] = centre
    ey = max(0, (480 - edge.shape[0]) // 2)
    edge = edge[:480 - ey, :]
    canvas[ey:ey + edge.shape[0], 800 - edge.shape[1]:] = edge
    return canvas, 400


@pytest.mark.parametrize("edge_scale", [0.6, 1.5])
def test_the_central_face_is_the_subject_whether_the_face_at_the_edge_is_smaller_or_larger(faces_dev, models, settings,
                                                                                         edge_scale):
    image, centre_x = _composed(faces_dev, models, edge_scale)
    face = _subject(image, models)
    assert face.quality.face_count == 2
    assert face.box[0] < centre_x < face.box[0] + face.box[2]  # the face in the middle, not the one at the edge
    assert face.rivals == () and face.quality.rival_faces == 0
    [verdict] = validate("gallery", settings.quality.gallery, [face.quality.as_row()])
    assert AMBIGUOUS not in {c.reason for c in verdict.failures}


def test_refused_gallery_faces_are_recorded_with_every_failed_check(enrolled, settings):
    with db.open_db(settings.database_path, read_only=True) as conn:
        refusals = {path.rsplit("/", 1)[-1]: detail for path, detail in conn.execute(
            "SELECT source_path, detail FROM refusals WHERE gallery_id = 'dev' AND reason = 'quality'").fetchall()}
        failed = conn.execute("""
            SELECT v.source_path, r.reason, r.observed, r.min_value, r.max_value, v.suite
            FROM quality_validations v JOIN quality_results r USING (check_id)
            WHERE v.context = 'enrollment' AND v.gallery_id = 'dev' AND NOT r.passed""").fetchall()
        passed = conn.execute("""
            SELECT count(*) FROM quality_validations v
            WHERE v.context = 'enrollment' AND v.gallery_id = 'dev' AND v.passed""").fetchone()[0]
        checks_per_face = conn.execute("""
            SELECT DISTINCT count(*) FROM quality_results r JOIN quality_validations v USING (check_id)
            WHERE v.context = 'enrollment' AND v.gallery_id = 'dev' GROUP BY check_id""").fetchall()
    assert set(refusals) == set(enrolled.below_bar)
    for name, reason in enrolled.below_bar.items():
        assert name in refusals[name] and reason in refusals[name]
        observed = [row for row in failed if row[0].endswith(name) and row[1] == reason]
        assert observed and observed[0][5] == "gallery"
    small = next(row for row in failed if row[0].endswith("small.jpg") and row[1] == "face too small")
    assert small[2] < small[3] == settings.quality.gallery.min_inter_eye_px
    assert passed == enrolled.summary.enrolled
    assert checks_per_face == [(11,)]  # every check of the suite, passed or not, for every face
    summary = enrolled.summary
    assert summary.refused_by_reason["quality"] == len(enrolled.below_bar)
    assert all(summary.quality_failures[reason] >= 1 for reason in enrolled.below_bar.values())
    assert "Gallery quality checks failed" in summary.markdown() and AMBIGUOUS in summary.markdown()


def test_a_changed_gallery_bar_rechecks_what_an_earlier_bar_refused(faces_dev, models, settings, dask_runner, tmp_path):
    below_bar_inputs(tmp_path / "in", faces_dev, models)
    manifest = tmp_path / "small.csv"
    manifest.write_text("image_path,subject_id\nin/small.jpg,S-SMALL\n")
    run = functools.partial(enroll_as_admin, enroll_gallery.with_options(task_runner=dask_runner))
    first = run(source=str(manifest), gallery="dev-bar")
    again = run(source=str(manifest), gallery="dev-bar")
    lowered = run(source=str(manifest), gallery="dev-bar",
                  quality_bar=settings.quality.gallery.model_copy(update={"min_inter_eye_px": 15}))
    assert (first.refused, first.enrolled) == (1, 0)
    assert (again.duplicates, again.refused) == (1, 0)
    assert lowered.enrolled == 1
    with db.open_db(settings.database_path, read_only=True) as conn:
        starts = [json.loads(r.details) for r in chain.audit_rows(conn)
                  if (r.action, r.target) == ("enrollment.start", "gallery:dev-bar")]
    assert [s["quality_suite"]["limits"]["min_inter_eye_px"] for s in starts] == [40, 40, 15]


@pytest.fixture(scope="module")
def dark_probe(enrolled, tmp_path_factory):
    probe, person = enrolled.probes[0]
    path = tmp_path_factory.mktemp("probes") / "dark probe.jpg"
    Image.fromarray(degrade.darken(decode_image(probe.read_bytes(), 10**8), 0.06)).save(path, quality=95)
    return path, person


def test_a_probe_below_the_bar_is_refused_listing_its_failed_checks(dark_probe, settings, approved):
    probe, _ = dark_probe
    with db.open_db(settings.database_path, read_only=True) as conn:
        searches = db.table_counts(conn)["searches"]
    with pytest.raises(SearchRefused, match="probe below the quality bar: .*too dark") as refused:
        run_search(approved(probe, "TEST-DARK"), k=5)
    assert refused.value.reason == "probe_quality"
    with db.open_db(settings.database_path, read_only=True) as conn:
        last = chain.audit_rows(conn)[-1]
        verdict = conn.execute("""
            SELECT v.suite, v.passed, v.failed_checks, v.brightness FROM quality_validations v
            WHERE v.context = 'search' AND v.source_path = ?""", [str(probe)]).fetchall()
        assert db.table_counts(conn)["searches"] == searches
    assert (last.action, last.target) == ("search.refused", "case:TEST-DARK") and "probe_quality" in last.details
    [(suite, passed, failed_checks, brightness)] = verdict
    assert suite == "probe" and not passed and "too dark" in failed_checks
    assert brightness < settings.quality.probe.min_brightness


def test_an_override_reason_lets_the_search_run_and_is_stored_audited_and_printed(dark_probe, settings, approved):
    probe, _ = dark_probe
    reason = "only frame of the suspect; requested by Det. Ruiz"
    outcome = run_search(approved(probe, "TEST-OVERRIDE"), k=5, quality_override=reason)
    with db.open_db(settings.database_path, read_only=True) as conn:
        stored = conn.execute("SELECT quality_failures, quality_override, quality_check_id FROM searches "
                              "WHERE search_id = ?", [outcome.search_id]).fetchone()
        check = conn.execute("SELECT context, context_id, passed FROM quality_validations WHERE check_id = ?",
                             [stored[2]]).fetchone()
        run = next(r for r in chain.audit_rows(conn) if r.action == "search.run" and r.target == f"search:{outcome.search_id}")
    assert "too dark" in stored[0] and stored[1] == reason and outcome.probe_quality_failures == stored[0]
    assert check == ("search", outcome.search_id, False)
    assert reason in run.details and "too dark" in run.details
    sheet = html.unescape(outcome.sheet.read_text())
    assert f"probe below quality bar: {stored[0]}; override by analyst.test: {reason}" in sheet


def test_a_blank_override_reason_is_no_override(dark_probe, approved):
    probe, _ = dark_probe
    with pytest.raises(Exception, match="quality_override"):
        run_search(approved(probe, "TEST-BLANK-OVERRIDE"), k=5, quality_override="  ")


def test_a_probe_that_meets_the_bar_needs_no_override_and_records_its_verdict(enrolled, settings, approved):
    probe, person = enrolled.probes[1]
    outcome = run_search(approved(probe, "TEST-GOOD-PROBE"), k=3,
                           quality_override="not needed")
    with db.open_db(settings.database_path, read_only=True) as conn:
        stored = conn.execute("SELECT quality_failures, quality_override FROM searches WHERE search_id = ?",
                              [outcome.search_id]).fetchone()
    assert stored == (None, None) and outcome.probe_quality_failures == ""  # an override only counts where needed
    assert outcome.candidates[0].subject_id == person
    assert "meets the probe quality bar" in outcome.sheet.read_text()
