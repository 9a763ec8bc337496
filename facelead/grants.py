"""Grants: the service's signed leave for one flow run to act for one person.

A grant names the user, the action, a digest of the run's parameters, an expiry and a
nonce, and carries an Ed25519 signature made with the service's private key, which lives in
an owner-only file outside the database. Flow runs verify with the public key alone, so a
run under a lesser account (``service.run_user``) can check grants but never make one. A
flow that acts for a person runs only with a grant that verifies for its own action and
parameters; the nonce is spent in the database, so a grant starts one run. Pure functions,
apart from reading or creating the key file.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic_core import to_jsonable_python

from facelead.access import AccessDenied
from facelead.digest import sha256_hex
from facelead.files import secret_key

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


def public_key(private_key: bytes) -> bytes:
    """The 32-byte Ed25519 public key of the private key (seed) ``private_key``."""
    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def issue(private_key: bytes, user_id: str, action: str, params: Mapping[str, Any], ttl_s: float, now: float) -> str:
    """A grant for ``user_id`` to run ``action`` with exactly ``params``, valid ``ttl_s`` from
    ``now``, signed with ``private_key`` (a 32-byte Ed25519 seed)."""
    grant = Grant(user_id, action, params_digest(params), now + ttl_s, secrets.token_hex(16))
    payload = json.dumps(grant.__dict__, sort_keys=True, separators=(",", ":")).encode()
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(payload)
    return f"{base64.urlsafe_b64encode(payload).decode()}.{signature.hex()}"


def _signed(public: bytes, payload: bytes, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature), payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def claimed_user(token: str) -> str:
    """The user a grant claims to be for, unverified (for the audit of a refusal); '' if unreadable."""
    try:
        return str(json.loads(base64.urlsafe_b64decode(token.split(".", 1)[0]))["user_id"])
    except (ValueError, KeyError, TypeError):
        return ""


def verify(public: bytes, token: str, action: str, params: Mapping[str, Any], now: float) -> Grant:
    """The grant, if ``token`` carries a valid signature under the public key ``public``, is
    for ``action`` with ``params``, and has not expired; else GrantRefused. Spending the
    nonce is the caller's."""
    encoded, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        payload = b""
    if not payload or not _signed(public, payload, signature):
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
    """The grant's private key in ``path``, made (owner-only, in an owner-only folder) when
    missing and ``create``; a missing key otherwise means no grant can be made or checked here."""
    try:
        return secret_key(path, create, KEY_BYTES)
    except FileNotFoundError:
        raise GrantRefused("no_grant_key", f"{path}: no grant key, so no grant can verify") from None
    except PermissionError:
        raise GrantRefused("no_grant_key", f"{path}: this account may not read the grant key; a flow run under "
                                           "another account checks grants with security.grant_public_key") from None


def verifying_key(public_hex: str, private_path: Path) -> bytes:
    """The key that checks grants: ``public_hex`` where the service gave it (runs under a
    lesser account), else derived from the private key in ``private_path``."""
    return bytes.fromhex(public_hex) if public_hex else public_key(read_key(private_path, create=False))
