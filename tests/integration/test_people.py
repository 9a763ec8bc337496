"""People own their secrets: enrollment codes that expire and are spent once, rotation,
admin resets, and sign-in that tells nothing and cannot be hammered."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date, timedelta

import pytest

from facelead.access import AccessDenied
from facelead.settings import SecuritySettings
from facelead.workflow import add_user, disable_user, list_users, reset_user, set_secret, sign_in
from warehouse import accounts, chain, db

LIMITS = SecuritySettings()


@pytest.fixture
def office(tmp_path):
    """A fresh database whose first user (admin ``chief``) has set a secret; its path."""
    path = tmp_path / "people.duckdb"
    set_secret(path, "chief", add_user(path, None, "chief", "Chief", ["admin"], None, LIMITS), "chief's own secret", LIMITS)
    return path


def _audit(path):
    with db.open_db(path, read_only=True) as conn:
        return chain.audit_rows(conn)


def test_a_user_signs_in_only_with_the_secret_they_chose_with_their_one_time_code(office):
    code = add_user(office, "chief", "ana", "Ana", ["analyst"], date(2099, 1, 1), LIMITS)
    with pytest.raises(AccessDenied, match="unknown user or wrong secret"):
        sign_in(office, "ana", code, LIMITS)  # the code is not a secret
    set_secret(office, "ana", code, "ana chose this one", LIMITS)
    assert sign_in(office, "ana", "ana chose this one", LIMITS).user_id == "ana"
    with pytest.raises(AccessDenied):
        set_secret(office, "ana", code, "someone else's pick", LIMITS)  # the code is spent
    assert sign_in(office, "ana", "ana chose this one", LIMITS).user_id == "ana"
    details = [json.loads(r.details) for r in _audit(office) if r.action in ("user.add", "user.secret")]
    assert not any("ana chose this one" in json.dumps(d) or code in json.dumps(d) for d in details)
    assert all(set(asdict(u)) >= {"user_id", "secret_set_at"} and "token_hash" not in asdict(u)
               for u in list_users(office, "chief"))


def test_an_enrollment_code_expires(office):
    code = add_user(office, "chief", "late", "Late", ["auditor"], None, LIMITS)
    with db.open_db(office) as conn:
        conn.execute("UPDATE users SET code_expires_at = now() - INTERVAL 1 MINUTE WHERE user_id = 'late'")
    with pytest.raises(AccessDenied, match="unknown user or wrong secret"):
        set_secret(office, "late", code, "too late for this", LIMITS)
    assert _audit(office)[-1].action == "auth.refused"


def test_a_user_rotates_their_secret_and_an_admin_reset_stops_the_old_one(office):
    set_secret(office, "ana", add_user(office, "chief", "ana", "Ana", ["analyst"], date(2099, 1, 1), LIMITS),
               "first secret of ana", LIMITS)
    set_secret(office, "ana", "first secret of ana", "second secret of ana", LIMITS)
    with pytest.raises(AccessDenied):
        sign_in(office, "ana", "first secret of ana", LIMITS)
    with pytest.raises(AccessDenied):
        set_secret(office, "ana", "wrong current secret", "third secret of ana", LIMITS)
    with pytest.raises(AccessDenied, match="admin role"):
        reset_user(office, "ana", "chief", LIMITS)
    code = reset_user(office, "chief", "ana", LIMITS)
    with pytest.raises(AccessDenied):
        sign_in(office, "ana", "second secret of ana", LIMITS)
    set_secret(office, "ana", code, "after the reset, ana", LIMITS)
    assert sign_in(office, "ana", "after the reset, ana", LIMITS).user_id == "ana"
    with pytest.raises(ValueError, match="12 characters"):
        set_secret(office, "ana", "after the reset, ana", "short", LIMITS)
    disable_user(office, "chief", "ana", "left the unit")
    with pytest.raises(AccessDenied, match="disabled"):
        sign_in(office, "ana", "after the reset, ana", LIMITS)  # no session for a disabled user


def test_an_unknown_user_and_a_wrong_secret_get_the_same_answer(office):
    answers = []
    for user in ("chief", "nobody"):
        with pytest.raises(AccessDenied) as refused:
            sign_in(office, user, "not the secret", LIMITS)
        answers.append((refused.value.reason, refused.value.detail.replace(user, "<user>")))
    assert answers[0] == answers[1]


def test_failed_sign_ins_make_one_name_from_one_address_wait_longer_and_never_lock_the_user_out(office):
    limits = SecuritySettings(max_failures_per_user=3, max_failures_per_address=5, sign_in_delay_seconds=600)
    for _ in range(3):
        with pytest.raises(AccessDenied, match="wrong secret"):
            sign_in(office, "chief", "guess", limits, address="10.0.0.1")
    with pytest.raises(AccessDenied, match="too many failed sign-ins"):
        sign_in(office, "chief", "chief's own secret", limits, address="10.0.0.1")  # even the right secret, for now
    assert sign_in(office, "chief", "chief's own secret", limits, address="10.0.0.2").user_id == "chief"
    for name in ("a", "b"):
        with pytest.raises(AccessDenied, match="wrong secret"):
            sign_in(office, name, "guess", limits, address="10.0.0.1")
    with pytest.raises(AccessDenied, match="too many failed sign-ins"):
        sign_in(office, "someone-new", "guess", limits, address="10.0.0.1")  # that address spent its five
    limited = [json.loads(r.details) for r in _audit(office) if r.action == "auth.refused"]
    assert [d["reason"] for d in limited][-1] == "rate_limited" and limited[-1]["address"] == "10.0.0.1"
    with db.open_db(office, read_only=True) as conn:  # the right secret from 10.0.0.2 counted nothing
        assert accounts.recent_sign_in_failures(conn, "chief", "10.0.0.2", db.now() - timedelta(hours=1))[0] == 0


def test_concurrent_guesses_are_counted_before_any_is_checked(office):
    limits = SecuritySettings(max_failures_per_user=5, sign_in_delay_seconds=600)

    def guess(n: int) -> str:
        try:
            sign_in(office, "chief", f"guess {n}", limits, address="10.0.0.9")
        except AccessDenied as exc:
            return exc.reason
        return "signed in"

    with ThreadPoolExecutor(30) as pool:
        reasons = list(pool.map(guess, range(30)))
    assert reasons.count("sign_in") == 5 and reasons.count("rate_limited") == 25, reasons


def test_a_claimed_name_with_separators_or_control_characters_is_audited_cleaned(office):
    with pytest.raises(AccessDenied):
        sign_in(office, "chief\x1fuser.add\nforged", "guess", LIMITS)
    row = _audit(office)[-1]
    assert row.actor == "chief?user.add?forged" and row.action == "auth.refused"
    with db.open_db(office, read_only=True) as conn:
        assert chain.verify_audit(conn).ok


def test_an_admin_changes_another_user_s_roles_audited_never_their_own_and_a_direct_edit_shows(office):
    from facelead.workflow import WorkflowRefused, set_roles

    add_user(office, "chief", "ana", "Ana", ["analyst"], date(2027, 1, 1), LIMITS)
    set_roles(office, "chief", "ana", ["analyst", "reviewer"], date(2099, 6, 30))
    [ana] = [u for u in list_users(office, "chief") if u.user_id == "ana"]
    assert ana.roles == ["analyst", "reviewer"] and ana.certified_until == date(2099, 6, 30)
    change = _audit(office)[-1]
    assert change.action == "user.roles" and json.loads(change.details) == {
        "roles": ["analyst", "reviewer"], "certified_until": "2099-06-30",
        "previous_roles": ["analyst"], "previous_certified_until": "2027-01-01"}
    with pytest.raises(WorkflowRefused, match="another administrator"):
        set_roles(office, "chief", "chief", ["admin", "analyst"], None)
    with pytest.raises(WorkflowRefused, match="unknown role"):
        set_roles(office, "chief", "ana", ["detective"], None)
    with pytest.raises(AccessDenied, match="does not hold the admin role"):
        set_roles(office, "ana", "ana", ["admin"], None)
    disable_user(office, "chief", "ana", "left")
    with pytest.raises(WorkflowRefused, match="no enabled user"):
        set_roles(office, "chief", "ana", ["auditor"], None)
    assert [r.action for r in _audit(office)[-5:]] == [
        "user.roles.refused", "user.roles.refused", "user.admin.refused", "user.disable", "user.roles.refused"]
    with db.open_db(office, read_only=True) as conn:
        assert chain.verify_audit(conn).problems == ()

    add_user(office, "chief", "bo", "Bo", ["auditor"], None, LIMITS)
    with db.open_db(office) as conn:  # someone with the file grants a role past the audited path
        conn.execute("UPDATE users SET roles = ['auditor', 'admin'] WHERE user_id = 'bo'")
        assert chain.verify_audit(conn).problems == (
            "user bo: roles or certification differ from their last user.add or user.roles audit row",)
