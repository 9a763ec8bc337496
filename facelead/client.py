"""The command line's side of the HTTP API: sessions and calls, refusals as Refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from facelead.access import AccessDenied
from facelead.files import write_private
from facelead.refusal import Refusal


class ServiceUnavailable(RuntimeError):
    """The facelead service does not answer at the configured address."""


class ServiceRefused(Refusal):
    """The service refused: what may not happen now, or a bad value."""


class ServiceFailed(RuntimeError):
    """The service failed while doing what was asked (its log has the details)."""


class ServiceClient:
    """Calls to ``base_url`` carrying a session token once signed in."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url, self.token = base_url, token
        self._http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0, read=None))

    def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """The service's answer; a refusal raises AccessDenied (403, 401) or ServiceRefused."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"the facelead service does not answer at {self.base_url} ({exc}); "
                                     "is `facelead serve` running there (FACELEAD_SERVICE__URL)?") from None
        if response.is_success:
            return response
        try:
            problem = response.json()
            reason, detail = problem["reason"], problem["detail"]
        except (ValueError, KeyError, TypeError):
            reason, detail = f"http_{response.status_code}", response.text[:500]
        if response.status_code >= 500:
            raise ServiceFailed(f"the facelead service failed: {detail}")
        raise (AccessDenied if response.status_code in (401, 403) else ServiceRefused)(reason, detail)

    def json(self, method: str, path: str, body: dict | None = None) -> Any:
        return self.call(method, path, body).json()

    def sign_in(self, user_id: str, secret: str) -> str:
        self.token = self.json("POST", "/api/session", {"user_id": user_id, "secret": secret})["token"]
        return self.token

    def sign_out(self) -> None:
        if self.token:
            self.call("DELETE", "/api/session")
            self.token = None


def save_session(path: Path, base_url: str, user_id: str, token: str) -> None:
    """The session, readable by its owner only, for later commands."""
    write_private(path, json.dumps({"url": base_url, "user_id": user_id, "token": token}))


def saved_session(path: Path, base_url: str) -> dict | None:
    """The saved session for ``base_url``, if there is one."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get("url") == base_url and saved.get("token") else None
