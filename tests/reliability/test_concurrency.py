"""Several searches while an enrollment runs, each in its own process, on one database:
all complete, every audit row is there and the chain verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from facelead.warehouse import db
from fixtures import api_url, distinct_copies

SEARCHES = 3


def _facelead(args: list[str], user: str, token: str, settings) -> subprocess.Popen:
    env = {**os.environ, "FACELEAD_DATA_DIR": str(settings.data_dir), "FACELEAD_USER": user, "FACELEAD_TOKEN": token,
           "FACELEAD_DASK__WORKERS": "1", "PREFECT_API_URL": api_url()}
    return subprocess.Popen([sys.executable, "-m", "facelead.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_searches_during_an_enrollment_all_complete_and_are_all_audited(enrolled, people, approved, settings,
                                                                       faces_dev, tmp_path):
    photos = distinct_copies(faces_dev, tmp_path / "photos", 30)
    requests = [approved(enrolled.probes[i][0], f"REL-CONCURRENT-{i}") for i in range(SEARCHES)]
    enrollment = _facelead(["enroll", str(tmp_path / "photos"), "--gallery", "concurrent-many"],
                           "admin.test", people["admin.test"], settings)
    searches = [_facelead(["search", r, "--k", "3"], "analyst.test", people["analyst.test"], settings) for r in requests]
    outputs = [p.communicate(timeout=600)[0] for p in [enrollment, *searches]]
    assert [p.returncode for p in [enrollment, *searches]] == [0] * (SEARCHES + 1), [o[-2000:] for o in outputs]
    with db.open_db(settings.database_path, read_only=True) as conn:
        audited = {json.loads(r.details).get("request_id") for r in db.audit_rows(conn) if r.action == "search.run"}
        enrolled_now = conn.execute("SELECT count(*) FROM enrollments WHERE gallery_id = 'concurrent-many'").fetchone()[0]
        chain = db.verify_audit(conn)
    assert set(requests) <= audited and enrolled_now == photos and chain.ok
