"""Sessions and sign-in through the real HTTP service (uvicorn on a loopback port): a
reset, a disable or a new secret ends every session at once; X-Forwarded-For from anyone
but a named proxy changes nothing; five wrong secrets lock nobody out."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import pytest

from facelead.settings import Settings
from warehouse import chain, db

from fixtures import add_person, free_port


@contextmanager
def _service(folder: Path, **service):
    """The service over a fresh data folder (admin ``chief``); its URL and settings."""
    from facelead.service import start_api, stop_api

    port = free_port()
    settings = Settings(data_dir=folder).replaced(service={"port": port, "url": f"http://127.0.0.1:{port}", **service})
    add_person(settings.database_path, None, "chief", ["admin"], None)
    api = start_api(settings)
    try:
        yield settings.service.base_url, settings
    finally:
        stop_api(*api)


@pytest.fixture
def served(tmp_path):
    with _service(tmp_path / "data") as found:
        yield found


def _signed_in(url: str, user_id: str, secret: str) -> httpx.Client:
    answer = httpx.post(f"{url}/api/session", json={"user_id": user_id, "secret": secret})
    assert answer.status_code == 200, answer.text
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {answer.json()['token']}"})


def _web(url: str, user_id: str, secret: str) -> httpx.Client:
    client = httpx.Client(base_url=url)
    assert client.post("/login", data={"user_id": user_id, "secret": secret, "next": "/"}).status_code == 303
    return client


def test_a_reset_a_disable_and_a_new_secret_end_every_session_of_that_user_at_once(served):
    url, settings = served
    chief = _signed_in(url, "chief", "secret of chief")
    for user_id in ("rotating", "reset", "disabled"):
        add_person(settings.database_path, "chief", user_id, ["analyst"], date(2099, 1, 1))
    sessions = {user_id: (_signed_in(url, user_id, f"secret of {user_id}"), _web(url, user_id, f"secret of {user_id}"))
                for user_id in ("rotating", "reset", "disabled")}
    for api, web in sessions.values():
        assert api.get("/api/leads").status_code == 403  # alive: refused by role, not signed out
        assert web.get("/", follow_redirects=False).status_code == 200

    rotated = httpx.post(f"{url}/api/users/rotating/secret", json={"proof": "secret of rotating",
                                                                   "secret": "a brand new secret"})
    assert rotated.status_code == 200, rotated.text
    assert chief.post("/api/users/reset/reset").status_code == 200
    assert chief.post("/api/users/disabled/disable", json={"reason": "left the unit"}).status_code == 200
    for user_id, (api, web) in sessions.items():
        assert api.get("/api/leads").status_code == 401, user_id
        assert web.get("/", follow_redirects=False).status_code == 303, user_id  # to the sign-in page
    assert chief.get("/api/users").status_code == 200  # nobody else's session ended


def test_x_forwarded_for_from_anyone_but_a_named_proxy_is_ignored(served):
    url, settings = served
    for forged in ("203.0.113.7", "203.0.113.8"):
        answer = httpx.post(f"{url}/api/session", json={"user_id": "chief", "secret": "a wrong guess"},
                            headers={"X-Forwarded-For": forged})
        assert answer.status_code == 403
    with db.open_db(settings.database_path, read_only=True) as conn:
        refused = [json.loads(r.details) for r in chain.audit_rows(conn) if r.action == "auth.refused"]
    assert [d["address"] for d in refused] == ["127.0.0.1", "127.0.0.1"]
    assert Settings(service={"trusted_proxies": ["10.0.0.5"]}).service.uvicorn_options() == {
        "proxy_headers": True, "forwarded_allow_ips": ["10.0.0.5"]}


def test_five_wrong_secrets_for_a_name_do_not_lock_its_user_out(tmp_path):
    with _service(tmp_path / "data", trusted_proxies=["127.0.0.1"]) as (url, _):  # behind a proxy here
        for _ in range(6):
            guess = httpx.post(f"{url}/api/session", json={"user_id": "chief", "secret": "an attacker's guess"},
                               headers={"X-Forwarded-For": "198.51.100.1"})
            assert guess.status_code == 403
        held = httpx.post(f"{url}/api/session", json={"user_id": "chief", "secret": "secret of chief"},
                          headers={"X-Forwarded-For": "198.51.100.1"})
        assert held.status_code == 403 and held.json()["reason"] == "rate_limited"  # the guessing address waits
        mine = httpx.post(f"{url}/api/session", json={"user_id": "chief", "secret": "secret of chief"},
                          headers={"X-Forwarded-For": "192.0.2.10"})
        assert mine.status_code == 200 and mine.json()["user_id"] == "chief"  # the user, from their own desk


def test_thirty_concurrent_guesses_of_one_name_are_counted_before_any_is_checked(served):
    url, settings = served

    def guess(n: int) -> str:
        answer = httpx.post(f"{url}/api/session", json={"user_id": "chief", "secret": f"guess {n}"}, timeout=120)
        return answer.json()["reason"]

    with ThreadPoolExecutor(30) as pool:
        reasons = list(pool.map(guess, range(30)))
    assert reasons.count("sign_in") == settings.security.max_failures_per_user
    assert reasons.count("rate_limited") == 30 - settings.security.max_failures_per_user
    with db.open_db(settings.database_path, read_only=True) as conn:
        refused = [r for r in chain.audit_rows(conn) if r.action == "auth.refused"]
    assert len(refused) == 30 and {r.actor for r in refused} == {"chief"}
