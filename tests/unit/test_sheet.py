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
            "acquired_at": None, "source_path": "/g/x.jpg"}


def test_sheet_carries_the_notice_case_and_ranked_candidates():
    html = render_sheet([_row(1, "S-1"), _row(2, "S-2")])
    assert html.count(LEAD_NOTICE) == 2
    assert "2026-0042" in html and "county booking" in html and "sface@abc" in html
    assert html.index("S-1") < html.index("S-2")
    assert html.count("data:image/jpeg;base64,") == 4
    assert "match" not in html.lower()


def test_hostile_subject_ids_are_escaped():
    html = render_sheet([_row(1, "<script>alert(1)</script>")])
    assert "<script>" not in html and "&lt;script&gt;" in html
