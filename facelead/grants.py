"""Grants: the service's signed leave for one flow run to act for one person.

A grant names the user, the action, a digest of the run's parameters, an expiry and a
nonce, and carries an HMAC-SHA256 under a key that lives in an owner-only file outside
the database. A flow that acts for a person runs only with a grant that verifies for its
own action and parameters; the nonce is spent in the database, so a grant starts one
run. Pure functions, apart from reading or creating the key file.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from facelead.access import AccessDenied
from facelead.files import secret_key
from facelead.digest import sha256_hex

KEY_BYTES = 32


class GrantRefused(AccessDenied):
    """A flow run's grant is missing, forged, expired, for something else, or spent."""


@dataclass(frozen=True)
class Grant:
    user_id: str
    action: str
    params_sha256: str
    expires_at: float  # Unix time
    nonce: str


def params_digest(params: Mapping[str, Any]) -> str:
    """SHA-256 of the parameters as canonical JSON (sorted keys; dates, paths and models as JSON)."""
    text = json.dumps(to_jsonable_python(dict(params)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_hex(text)


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, "sha256").hexdigest()


def issue(key: bytes, user_id: str, action: str, params: Mapping[str, Any], ttl_s: float, now: float) -> str:
    """A grant for ``user_id`` to run ``action`` with exactly ``params``, valid ``ttl_s`` from ``now``."""
    grant = Grant(user_id, action, params_digest(params), now + ttl_s, secrets.token_hex(16))
    payload = json.dumps(grant.__dict__, sort_keys=True, separators=(",", ":")).encode()
    return f"{base64.urlsafe_b64encode(payload).decode()}.{_mac(key, payload)}"


def claimed_user(token: str) -> str:
    """The user a grant claims to be for, unverified (for the audit of a refusal); '' if unreadable."""
    try:
        return str(json.loads(base64.urlsafe_b64decode(token.split(".", 1)[0]))["user_id"])
    except (ValueError, KeyError, TypeError):
        return ""


def verify(key: bytes, token: str, action: str, params: Mapping[str, Any], now: float) -> Grant:
    """The grant, if ``token`` carries a valid MAC under ``key``, is for ``action`` with
    ``params``, and has not expired; else GrantRefused. Spending the nonce is the caller's."""
    encoded, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        payload = b""
    if not payload or not hmac.compare_digest(_mac(key, payload), mac):
        raise GrantRefused("grant_invalid", "the run's grant does not verify (forged, altered or from another install)")
    grant = Grant(**json.loads(payload))
    if grant.action != action:
        raise GrantRefused("grant_action", f"the run's grant is for {grant.action}, not {action}")
    if grant.params_sha256 != params_digest(params):
        raise GrantRefused("grant_params", f"the run's grant was issued for other parameters of {action}")
    if now > grant.expires_at:
        raise GrantRefused("grant_expired", f"the run's grant expired {now - grant.expires_at:.0f} s ago")
    return grant


def read_key(path: Path, create: bool) -> bytes:
    """The grant key in ``path``, made (owner-only, in an owner-only folder) when missing and
    ``create``; a missing key otherwise means no grant can verify."""
    try:
        return secret_key(path, create, KEY_BYTES)
    except FileNotFoundError:
        raise GrantRefused("no_grant_key", f"{path}: no grant key, so no grant can verify") from None
