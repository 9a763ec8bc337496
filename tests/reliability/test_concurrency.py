"""Several searches while an enrollment runs, each asked for by its own command-line
process of the one service: all complete, every audit row is there and the chain verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from warehouse import chain, db

from fixtures import distinct_copies

SEARCHES = 3


def _facelead(args: list[str], user: str, secret: str, service: str) -> subprocess.Popen:
    env = {**os.environ, "FACELEAD_USER": user, "FACELEAD_TOKEN": secret, "FACELEAD_SERVICE__URL": service}
    return subprocess.Popen([sys.executable, "-m", "facelead.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_searches_during_an_enrollment_all_complete_and_are_all_audited(enrolled, people, approved, settings,
                                                                       service, faces_dev, tmp_path):
    photos = distinct_copies(faces_dev, tmp_path / "photos", 30)
    requests = [approved(enrolled.probes[i][0], f"REL-CONCURRENT-{i}") for i in range(SEARCHES)]
    enrollment = _facelead(["enroll", str(tmp_path / "photos"), "--gallery", "concurrent-many"],
                           "admin.test", people["admin.test"], service)
    searches = [_facelead(["search", r, "--k", "3"], "analyst.test", people["analyst.test"], service) for r in requests]
    outputs = [p.communicate(timeout=600)[0] for p in [enrollment, *searches]]
    assert [p.returncode for p in [enrollment, *searches]] == [0] * (SEARCHES + 1), [o[-2000:] for o in outputs]
    with db.open_db(settings.database_path, read_only=True) as conn:
        audited = {json.loads(r.details).get("request_id") for r in chain.audit_rows(conn) if r.action == "search.run"}
        enrolled_now = conn.execute("SELECT count(*) FROM enrollments WHERE gallery_id = 'concurrent-many'").fetchone()[0]
        verdict = chain.verify_audit(conn)
    assert set(requests) <= audited and enrolled_now == photos and verdict.ok
