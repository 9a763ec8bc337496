"""What a person sends is bounded: a body over its address's limit is refused before it is
read or kept, through the API and the web pages alike, and a long text a person sends stays
in the audit log only as its start, its length and its SHA-256. The service answers others
meanwhile."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time

import httpx

from facelead.settings import Settings
from warehouse import chain, db

LIMITS = Settings().service


def _signed_in(service: str, user_id: str, secret: str) -> dict[str, str]:
    answer = httpx.post(f"{service}/api/session", json={"user_id": user_id, "secret": secret})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _chunks(total: int, head: bytes = b"", tail: bytes = b""):
    """A body streamed without a Content-Length, as a client that hides its size sends it."""
    yield head
    for _ in range(total // 65536 + 1):
        yield b"x" * 65536
    yield tail


def _kept(settings) -> set[str]:
    return {p.name for p in settings.probes_dir.glob("*")} if settings.probes_dir.exists() else set()


def test_a_body_over_its_limit_is_refused_before_it_is_read_or_kept(service, people, settings):
    analyst = _signed_in(service, "analyst.test", people["analyst.test"])
    before = _kept(settings)
    too_big = base64.b64encode(b"\xff\xd8" + b"j" * (2 * LIMITS.max_probe_bytes)).decode()
    body = {"case_number": "BIG-1", "offense_code": settings.offense_codes[0], "justification": "a large probe",
            "gallery": "dev", "probe_name": "big.jpg", "probe_base64": too_big}
    answer = httpx.post(f"{service}/api/requests", json=body, headers=analyst, timeout=60)
    assert answer.status_code == 413 and answer.json()["reason"] == "too_large", answer.text
    streamed = httpx.post(f"{service}/api/requests", content=_chunks(2 * LIMITS.max_probe_bytes), timeout=60,
                          headers={**analyst, "Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    page = httpx.post(f"{service}/requests/new", timeout=60, headers={"Content-Type": "multipart/form-data; boundary=b"},
                      content=_chunks(2 * LIMITS.max_probe_bytes, b'--b\r\nContent-Disposition: form-data; '
                                      b'name="probe"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n',
                                      b"\r\n--b--\r\n"))
    assert page.status_code == 413, page.text  # the page's upload too, before its session is even looked at
    query = httpx.post(f"{service}/api/audit/query", json={"sql": "SELECT 1 -- " + "y" * LIMITS.max_body_bytes},
                       headers=analyst, timeout=60)
    assert query.status_code == 413, query.text  # any other address takes a small body
    assert _kept(settings) == before
    assert httpx.get(f"{service}/api/leads", headers=analyst).status_code == 403  # and the service still answers


def test_others_are_answered_while_someone_streams_an_oversized_body(service, people, settings):
    analyst = _signed_in(service, "analyst.test", people["analyst.test"])
    answers: list[int | str] = []

    def slow(total: int):
        for _ in range(total // 65536 + 1):
            time.sleep(0.02)
            yield b"x" * 65536

    def misuse() -> None:
        try:
            answers.append(httpx.post(f"{service}/api/requests", content=slow(LIMITS.max_probe_bytes * 2), timeout=120,
                                      headers={**analyst, "Content-Type": "application/json"}).status_code)
        except httpx.HTTPError:  # the service answered 413 and closed while the client was still sending
            answers.append("closed")

    streaming = threading.Thread(target=misuse)
    streaming.start()
    time.sleep(0.5)
    waited = []
    while streaming.is_alive() and len(waited) < 5:  # another person, meanwhile
        started = time.monotonic()
        reviewer = _signed_in(service, "reviewer.test", people["reviewer.test"])
        assert httpx.get(f"{service}/api/leads", headers=reviewer).status_code == 403
        waited.append(time.monotonic() - started)
    streaming.join()
    assert waited and max(waited) < 3 and answers in ([413], ["closed"])


def test_a_long_text_is_audited_as_its_start_length_and_hash(service, people, settings):
    analyst = _signed_in(service, "analyst.test", people["analyst.test"])
    sql = "SELECT '" + "z" * 200_000 + "'"  # under the body limit, refused by role
    answer = httpx.post(f"{service}/api/audit/query", json={"sql": sql}, headers=analyst, timeout=60)
    assert answer.status_code == 403, answer.text
    with db.open_db(settings.database_path) as conn:
        with db.transaction(conn):
            chain.seal_pending(conn)
        row = [r for r in chain.audit_rows(conn) if r.action == "audit.query.refused"][-1]
        assert chain.verify_audit(conn).ok
    kept = json.loads(row.details)["sql"]
    assert row.actor == "analyst.test" and len(row.details) < 2_000
    assert kept.startswith("SELECT 'zzz") and hashlib.sha256(sql.encode()).hexdigest() in kept
    assert "200,009 characters" in kept
