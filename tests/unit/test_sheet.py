from datetime import datetime, timezone

import numpy as np

from facelead import LEAD_NOTICE
from facelead.documents.sheet import render_sheet
from models.calibration import Calibration
from warehouse.records import SheetRow

JPEG = b"\xff\xd8\xff\xe0fake"


def _row(rank, subject, **changed):
    return SheetRow(**{"search_id": "s-1", "case_number": "2026-0042", "gallery_id": "bookings", "model_id": "sface@abc",
            "detector_id": "yunet@def", "method": "exact", "k": 2, "gallery_size": 10, "actor": "ana",
            "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "probe_thumbnail": JPEG,
            "probe_face_index": 0, "probe_face_count": 1, "rank": rank, "score": 0.61 - rank / 10,
            "subject_id": subject, "face_id": f"f{rank}", "thumbnail": JPEG, "source": "county booking",
            "acquired_at": None, "source_path": "/g/x.jpg", "quality_failures": None, "quality_override": None,
                       **changed})


def test_sheet_carries_the_notice_case_and_ranked_candidates():
    html = render_sheet([_row(1, "S-1"), _row(2, "S-2")], None)
    assert html.count(LEAD_NOTICE) == 2
    assert "2026-0042" in html and "county booking" in html and "sface@abc" in html
    assert html.index("S-1") < html.index("S-2")
    assert html.count("data:image/jpeg;base64,") == 4
    assert "match" not in html.lower()


def test_a_probe_that_passed_the_quality_bar_says_so():
    html = render_sheet([_row(1, "S-1")], None)
    assert "meets the probe quality bar" in html and "probe below quality bar" not in html


def test_an_overridden_probe_prints_its_failures_and_who_overrode_it_why():
    row = _row(1, "S-1", quality_failures="blurred (sharpness 9.1, at least 15)",
               quality_override="only frame of the suspect; detective asked")
    html = render_sheet([row], None)
    assert ("probe below quality bar: blurred (sharpness 9.1, at least 15); override by ana: "
            "only frame of the suspect; detective asked") in html


def test_hostile_subject_ids_are_escaped():
    html = render_sheet([_row(1, "<script>alert(1)</script>")], None)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_purged_pictures_are_marked_not_broken():
    row = _row(1, "S-1", thumbnail=None, probe_thumbnail=b"")
    html = render_sheet([row], None)
    assert "probe image purged" in html and html.count("data:image/jpeg;base64,") == 0


def test_without_a_calibration_the_sheet_says_chance_is_unknown_and_how_to_make_one():
    html = render_sheet([_row(1, "S-1")], None)
    assert "No score calibration exists for gallery bookings and recogniser sface@abc" in html
    assert "facelead index build --gallery bookings" in html and "Chance candidates</th>" not in html


def test_each_candidate_shows_the_chance_candidates_expected_at_its_score():
    calibration = Calibration("c-1", "sface@abc", "gallery:bookings (cross-subject pairs of every face of 80)",
                              "bookings", 3_160, 80, np.arange(1000, dtype=np.float32) / 1000,
                              datetime(2026, 1, 2, tzinfo=timezone.utc))
    html = render_sheet([_row(1, "S-1", score=0.8995, gallery_size=200_000),
                         _row(2, "S-2", score=0.9995, gallery_size=200_000)], calibration)
    assert "expected chance candidates at this score in a gallery of 200,000: 20,000" in html
    assert "gallery of 200,000: at most 63" in html  # above every pair: 200,000 / (3,160 + 1)
    assert "gallery:bookings (cross-subject pairs of every face of 80): 3,160 impostor pairs" in html
    assert "Chances below 0.003 lie beyond" in html
