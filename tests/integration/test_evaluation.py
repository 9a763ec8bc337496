"""The evaluate flow on faces-dev: its numbers against a direct computation, the stored
calibration on candidate sheets, groups and a two-model comparison."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
from degraded import labeled_with_degraded_copies

from facelead.metrics import PairScores, equal_error_rate, operating_threshold, pair_scores, score_matrix
from facelead.policy import Action
from models.align import align_face
from models.calibration import chance_probability
from models.faces import load
from models.image import decode_image
from models.manifest import MANIFEST_DIR
from warehouse import chain, db, gallery_store

from fixtures import as_user, enroll_as_admin, run_search


@pytest.fixture(scope="module")
def evaluated(faces_dev, settings, people, dask_runner, tmp_path_factory):
    """faces-dev with a made-up `band` column (one identity alone in band C), evaluated with
    SFace and with a manifest that feeds it BGR, the colour-order slip."""
    from flows.evaluate import evaluate

    work = tmp_path_factory.mktemp("evaluation")
    rows = list(csv.DictReader((faces_dev / "labels.csv").open()))
    identities = sorted({r["identity"] for r in rows})
    band = {who: "C" if who == identities[-1] else "AB"[i % 2] for i, who in enumerate(identities)}
    labeled = work / "labeled.csv"
    with labeled.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "identity", "band"])
        writer.writerows([str(faces_dev / r["path"]), r["identity"], band[r["identity"]]] for r in rows)
    bgr = work / "sface-bgr.toml"
    source = (MANIFEST_DIR / "sface-2021dec.toml").read_text()
    bgr.write_text(source.replace('id = "sface-2021dec"', 'id = "sface-2021dec-fed-bgr"')
                   .replace('colour_order = "RGB"', 'colour_order = "BGR"'))
    outcome = as_user("auditor.test", Action.EVALUATE, evaluate.with_options(task_runner=dask_runner),
                      source=str(labeled), recognisers=["sface-2021dec", str(bgr)], group_columns=["band"], bootstrap=50,
                      degraded_probes=0)
    return outcome, rows


@pytest.fixture(scope="module")
def with_poor_copies(faces_dev, settings, people, dask_runner, models, tmp_path_factory):
    """faces-dev with a small and a blurred, dark copy of every photo, evaluated at the
    gallery bar, with 40 mated probes degraded as surveillance frames are."""
    from flows.evaluate import evaluate

    labeled = labeled_with_degraded_copies(tmp_path_factory.mktemp("poor-copies"), faces_dev, models)
    outcome = as_user("auditor.test", Action.EVALUATE, evaluate.with_options(task_runner=dask_runner),
                      source=str(labeled), bootstrap=0, quality_bar="gallery", degraded_probes=40)
    return outcome.results[0], outcome.summary


def _direct_pairs(faces_dev, rows, models) -> PairScores:
    """Genuine and impostor scores computed here, image by image, each distinct file once."""
    detector, embedder = load(models)
    seen, vectors, labels = set(), [], []
    for row in rows:
        data = (faces_dev / row["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() in seen:
            continue
        seen.add(hashlib.sha256(data).hexdigest())
        image = decode_image(data, 10**8)
        found = detector.detect(image)
        marks = detector.level_landmarks(image, found.boxes[found.largest()], found.landmarks[found.largest()])
        vectors.append(embedder.embed(align_face(image, marks, embedder.manifest.input_size)[None])[0])
        labels.append(row["identity"])
    return pair_scores(score_matrix(np.array(vectors)), np.array(labels))


def test_the_report_agrees_with_a_direct_computation(evaluated, faces_dev, models, settings):
    outcome, rows = evaluated
    sface = next(r for r in outcome.results if r.model_id == models.recogniser.model_id)
    direct = _direct_pairs(faces_dev, rows, models)
    verification = sface.metrics["verification"]
    assert (verification["genuine_pairs"], verification["impostor_pairs"]) == (len(direct.genuine), len(direct.impostor))
    assert verification["genuine_mean"] == pytest.approx(np.mean(direct.genuine), abs=1e-4)
    assert verification["impostor_mean"] == pytest.approx(np.mean(direct.impostor), abs=1e-4)
    assert verification["eer"] == pytest.approx(equal_error_rate(direct)[0], abs=1e-3)
    with db.open_db(settings.database_path, read_only=True) as conn:
        [(metrics,)] = conn.execute("SELECT metrics FROM evaluations WHERE evaluation_id = ?",
                                    [sface.evaluation_id]).fetchall()  # as an auditor reads it
    stored = json.loads(metrics)
    folder = outcome.summary.parent
    with (folder / "pair-scores.csv").open() as fh:
        scored = [r for r in csv.DictReader(fh) if r["model_id"] == sface.model_id]
    from_file = PairScores(*(np.array([float(r["score"]) for r in scored if r["pair"] == kind]) for kind in ("genuine", "impostor")))
    assert stored["verification"]["eer"] == pytest.approx(equal_error_rate(from_file)[0], abs=1e-4)
    assert stored["identification"]["cmc"][0] == sface.metrics["identification"]["cmc"][0] == 1.0
    assert {p.name for p in folder.iterdir()} >= {"summary.md", "metrics.json", "pair-scores.csv", "scores.png",
                                                 "det.png", "cmc.png"}


def test_rates_the_pairs_cannot_carry_are_said_so(evaluated):
    outcome, _ = evaluated
    verification = outcome.results[0].metrics["verification"]
    assert verification["tar_at_far"]["0.01"] is not None and verification["tar_at_far"]["0.0001"] is None
    assert "not reportable: needs 100,000 impostor pairs" in outcome.summary.read_text()


def test_the_colour_order_slip_shows_in_the_comparison(evaluated):
    outcome, _ = evaluated
    rgb, bgr = outcome.results
    assert bgr.metrics["verification"]["genuine_mean"] < rgb.metrics["verification"]["genuine_mean"] - 0.02
    assert "| model | EER |" in outcome.summary.read_text()


def test_a_group_with_too_few_pairs_is_flagged(evaluated):
    outcome, _ = evaluated
    groups = outcome.results[0].metrics["groups"]["band"]
    assert groups["groups"]["C"]["too_few_pairs"] and "too few pairs to compare" in outcome.summary.read_text()
    assert groups["compared_groups"] == sum(not g["too_few_pairs"] for g in groups["groups"].values())


def test_the_calibration_is_monotone_bounded_and_reaches_the_candidate_sheet(evaluated, enrolled, approved, models, settings):
    """A gallery with no calibration of its own reads the labeled set's; one with its own
    (after an index build) reads that: the sheet names whichever it used."""
    outcome, _ = evaluated
    with db.open_db(settings.database_path, read_only=True) as conn:
        labeled = gallery_store.latest_calibration(conn, models.recogniser.model_id, "a-gallery-never-calibrated")
        used = gallery_store.latest_calibration(conn, models.recogniser.model_id, "dev")
    assert labeled.calibration_id == outcome.results[0].calibration_id and labeled.gallery_id is None
    assert labeled.pairs == outcome.results[0].metrics["verification"]["impostor_pairs"] == len(labeled.scores)
    assert np.all(np.diff(labeled.scores) >= 0)
    chances = [chance_probability(labeled.scores, s)[0] for s in np.linspace(-1, 1, 101)]
    assert all(0 < c <= 1 for c in chances) and all(a >= b for a, b in zip(chances, chances[1:]))
    result = run_search(approved(enrolled.probes[5][0], "EVAL-SHEET"), k=3)
    html = result.sheet.read_text()
    assert html.count("expected chance candidates at this score in a gallery of") == 3
    assert used.source in html and used.gallery_id in (None, "dev")


def test_no_labeled_faces_dev_photo_is_refused_at_the_gallery_bar(evaluated):
    outcome, rows = evaluated
    report = outcome.results[0].metrics["quality_bar"]
    assert report["name"] == "gallery" and report["bar"]["passed"] == report["bar"]["faces"], report["refusals"]
    assert outcome.results[0].failures == {}


def test_the_error_versus_discard_curve_falls_as_poor_copies_are_discarded(with_poor_copies):
    result, summary = with_poor_copies
    report = result.metrics["quality_bar"]
    fnmr = [point["fnmr"] for point in report["edc"]]
    assert all(a >= b for a, b in zip(fnmr, fnmr[1:])) and fnmr[-1] < fnmr[0], report["edc"]
    bar = report["bar"]
    assert bar["passed"] < bar["faces"] and bar["genuine_pairs_discarded"] > 0.3
    assert bar["fnmr"] < bar["fnmr_ungated"] or bar["fnmr"] == 0  # the gate's value, measured
    assert report["ungated"]["verification"]["genuine_pairs"] > result.metrics["verification"]["genuine_pairs"]
    text = summary.read_text()
    assert "### Quality bar `gallery`" in text and "**Without a bar**" in text and "**Error versus discard**" in text
    assert (summary.parent / "edc.png").stat().st_size > 10_000


def test_the_report_says_what_each_surveillance_degradation_costs(with_poor_copies):
    result, summary = with_poor_copies
    rows = {row["degradation"]: row for row in result.metrics["degradation"]}
    assert list(rows)[0] == "none (as taken)" and len(rows) == 7
    assert all(row["searches"] == 40 for row in rows.values())
    assert rows["none (as taken)"]["rank1"] > 0.9
    assert rows["20 px between the eyes"]["fnir"] >= rows["40 px between the eyes"]["fnir"]
    assert rows["20 px between the eyes"]["fnir"] > rows["none (as taken)"]["fnir"]
    assert "### What a poor frame costs" in summary.read_text() and "| JPEG quality 30 | 40 |" in summary.read_text()


@pytest.fixture(scope="module")
def attributed(enrolled, dask_runner, tmp_path_factory):
    """The dev gallery enrolled again with a `sex` column: identities alternate F and M, one
    identity is X (alone: too few pairs), and one row leaves it blank."""
    from flows.enroll_gallery import enroll_gallery

    rows = [r for r in csv.DictReader(enrolled.manifest.open()) if r["subject_id"] not in ("S-BAD", "S-BELOW-BAR")]
    subjects = sorted({r["subject_id"] for r in rows})
    sex = {who: "X" if who == subjects[-1] else "FM"[i % 2] for i, who in enumerate(subjects)}
    manifest = tmp_path_factory.mktemp("attributed") / "gallery.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "sex"])
        writer.writeheader()
        writer.writerows({**r, "sex": "" if r["subject_id"] == subjects[0] else sex[r["subject_id"]]} for r in rows)
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery="attributed")
    return sex


def test_a_gallery_with_attributes_is_reported_by_group_beside_the_labeled_set(attributed, faces_dev, settings, people,
                                                                              dask_runner, models):
    from flows.evaluate import evaluate

    both = as_user("auditor.test", Action.EVALUATE, evaluate.with_options(task_runner=dask_runner),
                   source=str(faces_dev / "labels.csv"), gallery="attributed", group_columns=[], bootstrap=0,
                   degraded_probes=0)
    labeled_point = operating_threshold(both.results[0].metrics["verification"])
    assert (both.gallery_groups["operating_point"], both.gallery_groups["threshold"]) == labeled_point
    assert "## Gallery `attributed` by group" in both.summary.read_text() and "## sface" in both.summary.read_text()
    outcome = as_user("auditor.test", Action.EVALUATE, evaluate, gallery="attributed", group_columns=["sex"])
    report = outcome.gallery_groups
    assert outcome.results == [] and report["operating_point"] == "gallery FMR 0.001"
    groups = report["columns"]["sex"]["groups"]
    assert set(groups) == {"F", "M", "X", "unknown"}
    with db.open_db(settings.database_path, read_only=True) as conn:
        faces = gallery_store.gallery_vectors(conn, "attributed", models.recogniser.model_id, db.now())
        stored = gallery_store.gallery_attributes(conn, "attributed", "sex")
        assert chain.verify_audit(conn).ok
    assert sum(g["faces"] for g in groups.values()) == len(faces.face_ids)
    assert {who: value for who, value in stored.items()} == {w: s for w, s in attributed.items() if w != min(attributed)}
    subjects = np.array(faces.subject_ids)
    in_f = np.isin(subjects, [w for w, s in attributed.items() if s == "F" and w != min(attributed)])
    scores = faces.vectors[in_f] @ faces.vectors[in_f].T
    cross = np.triu(subjects[in_f][:, None] != subjects[in_f][None, :], k=1)
    assert groups["F"]["impostor_pairs"] == cross.sum()
    assert groups["F"]["fmr"] == pytest.approx(np.mean(scores[cross] >= report["threshold"]))
    assert groups["X"]["too_few_pairs"] and groups["F"]["fmr_interval"][0] <= groups["F"]["fmr"]
    text = outcome.summary.read_text()
    assert "## Gallery `attributed` by group" in text and "| X |" in text and "too few pairs to compare" in text
