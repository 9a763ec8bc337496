"""Users and their secrets, as pure functions: who may do what is ``facelead.policy``.

A user holds one or more roles. Secrets are chosen by their user (with a one-time
enrollment code an admin hands over) and stored only as a salted scrypt hash; the
enrollment code is stored the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date

from facelead.refusal import Refusal

SALT_BYTES = 16
MIN_SECRET_CHARS = 12
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


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
    """A fresh random token: enrollment codes, session tokens (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def hash_token(token: str, salt: bytes) -> bytes:
    """scrypt (N=2^14, r=8, p=1): about 50 ms a check, so secrets cannot be guessed quickly."""
    return hashlib.scrypt(token.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def check_user_id(user_id: str) -> str:
    """``user_id`` if it is 1-64 letters, digits, ``. _ @ -`` (starting with a letter or
    digit); else ValueError. No separator or control character can reach the audit log."""
    if not USER_ID.fullmatch(user_id):
        raise ValueError(f"user id {clean_name(user_id)!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
                         "starting with a letter or digit")
    return user_id


def clean_name(claimed: str, limit: int = 64) -> str:
    """A claimed user name as it may be written to the audit log: printable characters
    only, at most ``limit`` of them (longer names are cut and marked)."""
    printable = "".join(c if c.isprintable() else "?" for c in claimed)
    return printable if len(printable) <= limit else printable[:limit - 1] + "…"


def check_secret(secret: str) -> str:
    """``secret`` if it is long enough to stand as a personal secret; else ValueError."""
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"a secret needs at least {MIN_SECRET_CHARS} characters")
    return secret


_DUMMY_SALT = secrets.token_bytes(SALT_BYTES)


def secret_matches(secret: str, stored: tuple[bytes, bytes] | None) -> bool:
    """Whether ``secret`` matches ``stored`` (salt, hash); with nothing stored (unknown
    user, no secret set yet) the same scrypt work is done, so timing tells nothing."""
    salt, expected = stored or (_DUMMY_SALT, b"\0" * 32)
    return hmac.compare_digest(hash_token(secret, salt), expected) and stored is not None


def sign_in_wait(pair_failures: int, seconds_since_last: float, address_failures: int, max_pair: int,
                 max_address: int, base_s: float, window_s: float) -> float:
    """Seconds before a sign-in for one name from one address may be checked (0: now).

    ``pair_failures`` failed for that name from that address, ``address_failures`` from the
    address for any name, within the window. Up to ``max_pair`` failures cost nothing; each
    one more doubles the wait after the last (``base_s``, 2x, 4x ... at most the window).
    An address with ``max_address`` failures waits the window. The same name from an
    address that has not failed is never held up, so nobody can lock a user out."""
    if address_failures >= max_address:
        return window_s
    over = pair_failures - max_pair
    if over < 0:
        return 0.0
    return max(0.0, min(window_s, base_s * 2 ** over) - seconds_since_last)
