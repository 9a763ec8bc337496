"""The image-quality gate on real photos, the real models and Great Expectations suites."""

from __future__ import annotations

import csv
import functools
import html
import json

import pytest
from PIL import Image

from facelead.expectations.quality import validate
from facelead.flows.enroll_gallery import enroll_gallery
from facelead.models import degrade
from facelead.models.faces import load, measure_face
from facelead.models.image import decode_image
from facelead.tasks.search import SearchRefused
from facelead.warehouse import db

from degraded import below_bar_inputs, detected_inter_eye_px
from fixtures import enroll_as_admin, run_search

POSE = {"head tilted", "head turned", "head nodded up or down"}


def _verdict(image, models, bar, suite="gallery"):
    """The largest face's verdict, or None when the detector finds no face."""
    detector, embedder = load(models)
    found = detector.detect(image)
    if not len(found):
        return None
    face = measure_face(image, found, found.largest(), detector, embedder.manifest.input_size)
    return validate(suite, bar, [face.quality.as_row()])[0]


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


def test_every_group_photo_fails_the_gallery_bar_with_more_than_one_face(faces_dev, models, settings):
    groups = sorted((faces_dev / "multi").iterdir())
    assert len(groups) >= 5
    for path in groups:
        verdict = _verdict(decode_image(path.read_bytes(), 10**8), models, settings.quality.gallery)
        assert "more than one face" in {c.reason for c in verdict.failures}, path.name


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
    assert "Gallery quality checks failed" in summary.markdown() and "more than one face" in summary.markdown()


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
        starts = [json.loads(r.details) for r in db.audit_rows(conn)
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
        last = db.audit_rows(conn)[-1]
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
        run = next(r for r in db.audit_rows(conn) if r.action == "search.run" and r.target == f"search:{outcome.search_id}")
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
