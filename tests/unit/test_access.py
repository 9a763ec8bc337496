from datetime import date

import pytest

from facelead.access import AccessDenied, User, check_roles, hash_token, new_salt, new_token, require, token_matches

TODAY = date(2026, 6, 1)


def _user(roles, certified=date(2027, 1, 1), disabled=False):
    return User("u", "U", frozenset(roles), certified, disabled)


def test_a_token_matches_only_its_own_salted_hash():
    token, salt = new_token(), new_salt()
    stored = hash_token(token, salt)
    assert token_matches(token, salt, stored)
    assert not token_matches(token + "x", salt, stored)
    assert hash_token(token, new_salt()) != stored  # salted: the same token hashes differently per user
    assert len(token) >= 32 and token != new_token()


def test_roles_are_checked_by_name():
    assert check_roles(["analyst", "reviewer"]) == {"analyst", "reviewer"}
    with pytest.raises(ValueError, match="detective"):
        check_roles(["analyst", "detective"])
    with pytest.raises(ValueError):
        check_roles([])


@pytest.mark.parametrize("user, role, reason", [
    (_user(["analyst"], disabled=True), "analyst", "disabled"),
    (_user(["supervisor"]), "analyst", "role"),
    (_user(["analyst"], certified=date(2026, 5, 31)), "analyst", "certification"),
    (_user(["reviewer"], certified=None), "reviewer", "certification"),
])
def test_disabled_roleless_or_uncertified_users_are_refused(user, role, reason):
    with pytest.raises(AccessDenied) as refused:
        require(user, role, TODAY)
    assert refused.value.reason == reason


def test_certification_holds_through_its_last_day_and_supervisors_need_none():
    require(_user(["analyst"], certified=TODAY), "analyst", TODAY)
    require(_user(["supervisor"], certified=None), "supervisor", TODAY)
