from datetime import datetime, timezone

from facelead import LEAD_NOTICE
from facelead.tasks.sheet import render_sheet

JPEG = b"\xff\xd8\xff\xe0fake"


def _row(rank, subject):
    return {"search_id": "s-1", "case_number": "2026-0042", "gallery_id": "bookings", "model_id": "sface@abc",
            "detector_id": "yunet@def", "method": "exact", "k": 2, "gallery_size": 10, "actor": "ana",
            "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "probe_thumbnail": JPEG,
            "probe_face_index": 0, "probe_face_count": 1, "rank": rank, "score": 0.61 - rank / 10,
            "subject_id": subject, "face_id": f"f{rank}", "thumbnail": JPEG, "source": "county booking",
            "acquired_at": None, "source_path": "/g/x.jpg", "quality_failures": None, "quality_override": None}


def test_sheet_carries_the_notice_case_and_ranked_candidates():
    html = render_sheet([_row(1, "S-1"), _row(2, "S-2")])
    assert html.count(LEAD_NOTICE) == 2
    assert "2026-0042" in html and "county booking" in html and "sface@abc" in html
    assert html.index("S-1") < html.index("S-2")
    assert html.count("data:image/jpeg;base64,") == 4
    assert "match" not in html.lower()


def test_a_probe_that_passed_the_quality_bar_says_so():
    html = render_sheet([_row(1, "S-1")])
    assert "meets the probe quality bar" in html and "probe below quality bar" not in html


def test_an_overridden_probe_prints_its_failures_and_who_overrode_it_why():
    row = {**_row(1, "S-1"), "quality_failures": "blurred (sharpness 9.1, at least 15)",
           "quality_override": "only frame of the suspect; detective asked"}
    html = render_sheet([row])
    assert ("probe below quality bar: blurred (sharpness 9.1, at least 15); override by ana: "
            "only frame of the suspect; detective asked") in html


def test_hostile_subject_ids_are_escaped():
    html = render_sheet([_row(1, "<script>alert(1)</script>")])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_purged_pictures_are_marked_not_broken():
    row = {**_row(1, "S-1"), "thumbnail": None, "probe_thumbnail": b""}
    html = render_sheet([row])
    assert "probe image purged" in html and html.count("data:image/jpeg;base64,") == 0
