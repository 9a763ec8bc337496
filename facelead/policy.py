"""Who may do what: the one policy table, and the pure check of a user against it.

Every entry point (the CLI, flows called from Python, Prefect deployment runs) reaches
``workflow.authorize``, which applies ``permits`` and audits a refusal. Nothing
else decides who may act.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from facelead.access import AccessDenied, User

ROLES = ("operator", "analyst", "supervisor", "reviewer", "auditor", "admin", "requester")
CERTIFIED_ROLES = frozenset({"analyst", "reviewer"})
# A deployment's own runs (made by its schedule or its trigger, never by a person) act as
# this identity; it holds the role below and no other, with what the schedules need alone.
CONSOLE_ROLE = "schedule"
CONSOLE = User("prefect-schedule", "a deployment's own schedule or trigger", frozenset({CONSOLE_ROLE}), None, False)


class Action(StrEnum):
    """What a person asks facelead to do; the value names it in the audit log."""

    USER_ADMIN = "user.admin"
    REQUEST = "request"
    APPROVE = "request.approve"
    DENY = "request.deny"
    SEARCH = "search"
    DETERMINE = "determination"
    REVIEW = "review"
    SHEET_VIEW = "sheet.view"
    RERUN = "search.rerun"
    EXPORT = "case.export"
    LEAD_VIEW = "lead.view"
    HISTORY = "search.history"
    ENROLL = "enrollment"
    REMOVE = "enrollment.remove"
    BUILD = "index.build"
    CALIBRATE = "calibration.gallery"
    MARK_PAIR = "calibration.mark"
    PURGE = "retention.purge"
    EVALUATE = "evaluation"
    REPORT = "report.oversight"
    AUDIT_QUERY = "audit.query"
    AUDIT_VERIFY = "audit.verify"
    CONSOLE = "console"


_OPERATORS = frozenset({"operator", "admin", CONSOLE_ROLE})
POLICY: dict[Action, frozenset[str]] = {
    Action.USER_ADMIN: frozenset({"admin"}),
    Action.REQUEST: frozenset({"analyst"}),
    Action.APPROVE: frozenset({"supervisor"}),
    Action.DENY: frozenset({"supervisor"}),
    Action.SEARCH: frozenset({"analyst"}),
    Action.DETERMINE: frozenset({"analyst"}),
    Action.REVIEW: frozenset({"reviewer"}),
    Action.SHEET_VIEW: frozenset({"analyst", "reviewer", "supervisor", "auditor"}),
    Action.RERUN: frozenset({"analyst", "reviewer", "supervisor", "auditor"}),
    Action.EXPORT: frozenset({"supervisor", "auditor"}),
    Action.LEAD_VIEW: frozenset({"requester"}),
    Action.HISTORY: frozenset({"supervisor", "auditor"}),
    Action.ENROLL: _OPERATORS,
    Action.REMOVE: frozenset({"operator", "admin"}),
    Action.BUILD: _OPERATORS,
    Action.CALIBRATE: frozenset({"operator", "admin"}),
    Action.MARK_PAIR: frozenset({"operator", "admin"}),
    Action.PURGE: frozenset({"admin", CONSOLE_ROLE}),
    Action.EVALUATE: frozenset({"admin", "operator", "auditor"}),
    Action.REPORT: frozenset({"supervisor", "auditor", "admin", CONSOLE_ROLE}),
    Action.AUDIT_QUERY: frozenset({"auditor"}),
    Action.AUDIT_VERIFY: frozenset({"auditor", "admin", "supervisor"}),
    Action.CONSOLE: frozenset({"operator", "admin"}),
}


def permits(user: User, action: Action, today: date) -> AccessDenied | None:
    """None if ``user`` may do ``action`` on ``today``, else the refusal saying why.

    The user must be enabled and hold one of the action's roles; when every role that
    qualifies them is analyst or reviewer work, their certification must run through today.
    """
    allowed = POLICY[action]
    if user.disabled:
        return AccessDenied("disabled", f"user {user.user_id} is disabled")
    held = user.roles & allowed
    if not held:
        if len(allowed - {CONSOLE_ROLE}) == 1:
            [role] = allowed - {CONSOLE_ROLE}
            return AccessDenied("role", f"user {user.user_id} does not hold the {role} role")
        return AccessDenied("role", f"user {user.user_id} holds none of the roles that may do {action.value}: "
                                    f"{', '.join(sorted(allowed - {CONSOLE_ROLE}))}")
    if held <= CERTIFIED_ROLES and (user.certified_until is None or user.certified_until < today):
        when = "has no certification date" if user.certified_until is None else f"expired on {user.certified_until}"
        return AccessDenied("certification", f"user {user.user_id}'s {'/'.join(sorted(held))} certification {when}")
    return None


def check_roles(roles: list[str]) -> frozenset[str]:
    """The roles as a set; raises ValueError naming any unknown role."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none given)'}; roles are {', '.join(ROLES)}")
    return frozenset(roles)
