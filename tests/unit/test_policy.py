"""The policy table, action by role: what each role may do is exactly what the table says."""

from datetime import date

import pytest

from facelead.access import User
from facelead.policy import CONSOLE, POLICY, ROLES, Action, check_roles, permits

TODAY = date(2026, 6, 1)

# Who may do what, written out once more by hand: a change to the table must change this too.
EXPECTED = {
    "user.admin": {"admin"},
    "request": {"analyst"},
    "request.approve": {"supervisor"},
    "request.deny": {"supervisor"},
    "search": {"analyst"},
    "determination": {"analyst"},
    "review": {"reviewer"},
    "sheet.view": {"analyst", "reviewer", "supervisor", "auditor"},
    "search.rerun": {"analyst", "reviewer", "supervisor", "auditor"},
    "case.export": {"supervisor", "auditor"},
    "lead.view": {"requester"},
    "search.history": {"supervisor", "auditor"},
    "enrollment": {"operator", "admin", "schedule"},
    "enrollment.remove": {"operator", "admin"},
    "index.build": {"operator", "admin", "schedule"},
    "calibration.gallery": {"operator", "admin"},
    "calibration.mark": {"operator", "admin"},
    "retention.purge": {"admin", "schedule"},
    "evaluation": {"admin", "operator", "auditor"},
    "report.oversight": {"supervisor", "auditor", "admin", "schedule"},
    "audit.query": {"auditor"},
    "audit.verify": {"auditor", "admin", "supervisor"},
    "console": {"operator", "admin"},
}


def _user(roles, certified=date(2027, 1, 1), disabled=False):
    return User("u", "U", frozenset(roles), certified, disabled)


def test_every_action_is_in_the_table_and_the_table_is_as_written():
    assert {a.value for a in Action} == set(POLICY) == set(EXPECTED)
    assert {a.value: set(roles) for a, roles in POLICY.items()} == EXPECTED


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", [*ROLES, "schedule"])
def test_each_role_may_do_exactly_what_the_table_says(action, role):
    user = CONSOLE if role == "schedule" else _user([role])
    refusal = permits(user, action, TODAY)
    if role in EXPECTED[action.value]:
        assert refusal is None
    else:
        assert refusal is not None and refusal.reason == "role"


@pytest.mark.parametrize("action", list(Action))
def test_a_disabled_user_may_do_nothing(action):
    assert permits(_user(ROLES, disabled=True), action, TODAY).reason == "disabled"


@pytest.mark.parametrize("action, role", [(Action.SEARCH, "analyst"), (Action.DETERMINE, "analyst"),
                                          (Action.REVIEW, "reviewer"), (Action.SHEET_VIEW, "analyst")])
def test_analyst_and_reviewer_work_needs_a_certification_in_force(action, role):
    assert permits(_user([role], certified=date(2026, 5, 31)), action, TODAY).reason == "certification"
    assert permits(_user([role], certified=None), action, TODAY).reason == "certification"
    assert permits(_user([role], certified=TODAY), action, TODAY) is None  # through its last day


def test_a_role_that_needs_no_certification_carries_the_action():
    assert permits(_user(["analyst", "supervisor"], certified=None), Action.SHEET_VIEW, TODAY) is None


def test_roles_are_checked_by_name():
    assert check_roles(["analyst", "reviewer"]) == {"analyst", "reviewer"}
    with pytest.raises(ValueError, match="detective"):
        check_roles(["analyst", "detective"])
    with pytest.raises(ValueError):
        check_roles([])
    with pytest.raises(ValueError, match="schedule"):
        check_roles(["schedule"])  # a schedule's role is not a person's
