"""What the two front doors (the HTTP API in ``facelead.api`` and the pages in
``facelead.web``) share, as FastAPI dependencies: the service's settings and its sessions
(kept on ``app.state`` by ``service.create_app``), the signed-in person and the probe store.
A door's route only reads what its person sent and calls the workflow (``workflow.run_flow_for``
to start a flow for the person)."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facelead.access import AccessDenied
from facelead.digest import sha256_hex
from facelead.files import write_private
from facelead.settings import ServiceSettings, Settings


@dataclass
class _Session:
    user_id: str
    created: float
    last_seen: float
    csrf: str  # the web pages' form token: a form posted without it is refused


class Sessions:
    """Signed-in people by session token, in the service's memory (a restart signs everyone
    out). Only each token's SHA-256 is kept; a session ends after ``idle_s`` unused or
    ``max_s`` in all."""

    def __init__(self, idle_s: float, max_s: float) -> None:
        self._idle_s, self._max_s = idle_s, max_s
        self._by_digest: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._tag_key = secrets.token_bytes(32)  # never leaves the service's memory

    def tag(self, csrf: str, name: str) -> str:
        """Binds ``name`` (an uploaded probe's) to the session whose form token is ``csrf``,
        under a key only the service holds: nobody can make the tag of another name."""
        return hmac.new(self._tag_key, f"{csrf}\0{name}".encode(), "sha256").hexdigest()

    @staticmethod
    def _digest(token: str) -> str:
        return sha256_hex(token)

    def open(self, user_id: str) -> str:
        token, now = secrets.token_urlsafe(32), time.monotonic()
        with self._lock:
            self._by_digest[self._digest(token)] = _Session(user_id, now, now, secrets.token_urlsafe(32))
        return token

    def csrf(self, token: str) -> str | None:
        """The session's form token; None if the session is unknown or ended."""
        with self._lock:
            session = self._by_digest.get(self._digest(token))
            return None if session is None else session.csrf

    def user(self, token: str) -> str | None:
        """The session's user, its idle clock restarted; None if unknown or ended."""
        now, digest = time.monotonic(), self._digest(token)
        with self._lock:
            session = self._by_digest.get(digest)
            if session is None:
                return None
            if now - session.last_seen > self._idle_s or now - session.created > self._max_s:
                del self._by_digest[digest]
                return None
            session.last_seen = now
            return session.user_id

    def close(self, token: str) -> None:
        with self._lock:
            self._by_digest.pop(self._digest(token), None)

    def end_user(self, user_id: str) -> int:
        """End every session of ``user_id`` (after a reset, a disable or a new secret); how many."""
        with self._lock:
            ended = [digest for digest, session in self._by_digest.items() if session.user_id == user_id]
            for digest in ended:
                del self._by_digest[digest]
        return len(ended)


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def sessions_of(request: Request) -> Sessions:
    return request.app.state.sessions


AppSettings = Annotated[Settings, Depends(settings_of)]
AppSessions = Annotated[Sessions, Depends(sessions_of)]


def signed_in(sessions: AppSessions, authorization: Annotated[str | None, Header()] = None) -> str:
    """The user of the request's session token; AccessDenied (401) without a live one."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    user_id = sessions.user(token) if token else None
    if user_id is None:
        raise AccessDenied("no_session", "not signed in, or the session ended: run facelead login")
    return user_id


User = Annotated[str, Depends(signed_in)]


def store_probe(probes_dir: Path, data: bytes, name: str) -> Path:
    """The uploaded probe kept owner-only under ``probes_dir``, named by its SHA-256."""
    path = probes_dir / f"{sha256_hex(data)}{Path(name).suffix.lower()[:8]}"
    if path.exists():
        os.utime(path)  # uploaded again now: the purge counts its grace from here
        return path
    return write_private(path, data)


def image_type(data: bytes) -> str:
    """The media type of a probe photo as kept (PNG or JPEG)."""
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def jsonable(value: Any) -> Any:
    """JSON scalars and lists as they are; dates, times, bytes and the rest as text."""
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


PROBE_UPLOADS = frozenset({("POST", "/api/requests"), ("POST", "/requests/new")})
FORM_OVERHEAD = 64 * 1024  # a probe upload's other fields, multipart boundaries and base64 padding


def body_limit(method: str, path: str, service: ServiceSettings) -> int:
    """The most bytes of body a request to ``path`` may send: a probe upload its probe
    (as base64 through the API) and its fields, anything else ``max_body_bytes``."""
    if (method, path) in PROBE_UPLOADS:
        return service.max_probe_bytes * 4 // 3 + FORM_OVERHEAD
    return service.max_body_bytes


class BodyLimit:
    """ASGI middleware: a request whose body is over its ``body_limit`` is refused with 413,
    by its Content-Length before a byte is read, else as soon as the stream passes the limit:
    the route then sees the client gone and its answer is dropped; nothing of it is kept."""

    def __init__(self, app: ASGIApp, service: ServiceSettings) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["method"], scope["path"], self.service)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            return await _too_large(send, limit)
        received, over = 0, False

        async def bounded() -> Message:
            nonlocal received, over
            if not over:
                message = await receive()
                received += len(message.get("body", b""))
                over = received > limit
                if not over:
                    return message
            return {"type": "http.disconnect"}

        async def unless_over(message: Message) -> None:
            if not over:
                await send(message)

        try:
            await self.app(scope, bounded, unless_over)
        except Exception:
            if not over:
                raise
        if over:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    detail = f"the request is larger than the {limit:,} bytes this address takes; nothing of it was kept"
    body = json.dumps({"reason": "too_large", "detail": detail}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
