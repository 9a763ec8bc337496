"""Who may do what: roles, personal tokens and certification, as pure functions.

A user holds one or more roles. Analysts and reviewers also need an unexpired
facial-comparison certification. Tokens are random, shown once, and stored only as a
salted scrypt hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date

from facelead.refusal import Refusal

ROLES = ("operator", "analyst", "supervisor", "reviewer", "auditor", "admin")
CERTIFIED_ROLES = frozenset({"analyst", "reviewer"})
SALT_BYTES = 16


class AccessDenied(Refusal, PermissionError):
    """The user may not do this."""


@dataclass(frozen=True)
class User:
    user_id: str
    display_name: str
    roles: frozenset[str]
    certified_until: date | None
    disabled: bool


def new_token() -> str:
    """A fresh personal token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def hash_token(token: str, salt: bytes) -> bytes:
    """scrypt (N=2^14, r=8, p=1): about 50 ms a check, so tokens cannot be guessed quickly."""
    return hashlib.scrypt(token.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def token_matches(token: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_token(token, salt), expected)


def check_roles(roles: list[str]) -> frozenset[str]:
    """The roles as a set; raises ValueError naming any unknown role."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none given)'}; roles are {', '.join(ROLES)}")
    return frozenset(roles)


def require(user: User, role: str, today: date) -> None:
    """Raise AccessDenied unless ``user`` is enabled, holds ``role`` and, for analyst and
    reviewer work, is certified through ``today``."""
    if user.disabled:
        raise AccessDenied("disabled", f"user {user.user_id} is disabled")
    if role not in user.roles:
        raise AccessDenied("role", f"user {user.user_id} does not hold the {role} role")
    if role in CERTIFIED_ROLES and (user.certified_until is None or user.certified_until < today):
        when = "has no certification date" if user.certified_until is None else f"expired on {user.certified_until}"
        raise AccessDenied("certification", f"user {user.user_id}'s {role} certification {when}")
