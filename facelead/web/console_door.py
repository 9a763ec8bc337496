"""The Prefect UI and API behind facelead's own sign-in, under ``/prefect/``.

The Prefect server listens on loopback behind a secret only the service holds; people
reach it here, signed in to facelead as themselves with the operator or admin role. Each
call is asked of ``console.console_call``: reads pass, a run of a registered deployment
passes with its parameters alone and a grant for the person added, a cancel and a
schedule's pause pass; everything else is refused (403) and audited with the person's
name. A run, a cancel or a pause that passes is audited as that person's too.
"""

from __future__ import annotations

import base64
import importlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from facelead import workflow
from facelead.console import (
    DEPLOYMENTS,
    MAX_BODY_BYTES,
    PREFIX,
    ConsoleCall,
    ConsoleRefused,
    console_call,
    entrypoint_module,
    registered_refusal,
    run_body_refusal,
    shown,
)
from facelead.policy import Action
from facelead.refusal import Refusal
from facelead.settings import Settings
from facelead.steps.audit import record_event

ROLE_CHECK_S = 30.0  # a console session's role is checked again after this long
AUDITED_TEXT = 2000  # characters of a run's parameters kept in its audit row
_PASSED_HEADERS = ("content-type", "accept")  # nothing else of the browser's reaches Prefect


@dataclass(frozen=True)
class Upstream:
    """The Prefect server as the service reaches it: its root URL and its basic-auth secret."""

    url: str
    auth: str

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(self.auth.encode()).decode()


def _cut(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= AUDITED_TEXT else text[:AUDITED_TEXT - 1] + "…"


def add_console(app: FastAPI, settings: Settings, upstream: Upstream | None, cookie: str) -> None:
    """Mount ``/prefect/`` on the service's app; without an ``upstream`` (no Prefect server
    under this service) it answers 404 saying so."""
    db_path, sessions = settings.database_path, app.state.sessions
    checked_at: dict[str, float] = {}
    client = httpx.AsyncClient(base_url=upstream.url, timeout=60) if upstream else None

    def operator(user_id: str) -> None:
        """The person may use the console now (checked, and audited when refused, at most every
        ``ROLE_CHECK_S``: the UI sends many calls a page)."""
        if time.monotonic() - checked_at.get(user_id, -ROLE_CHECK_S) >= ROLE_CHECK_S:
            checked_at.pop(user_id, None)
            workflow.authorized(db_path, user_id, Action.CONSOLE, "prefect")
            checked_at[user_id] = time.monotonic()

    def refuse(user_id: str, method: str, path: str, exc: Refusal) -> JSONResponse:
        if isinstance(exc, ConsoleRefused):
            workflow.record_refusal(db_path, user_id, "console", f"prefect:{method[:10]} {shown(path)}", exc)
        return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=403)

    async def deployment_of(deployment_id: str) -> dict:
        answer = await client.get(f"/api/deployments/{deployment_id}", headers={"Authorization": upstream.authorization})
        if not answer.is_success:
            raise ConsoleRefused("unregistered", f"no deployment {deployment_id}")
        return answer.json()

    def granted_run(user_id: str, deployment: dict, body: dict) -> dict:
        """The run's body with a grant for ``user_id`` added; refusals audited."""
        name = deployment.get("name", "")
        refusal = registered_refusal(deployment) or run_body_refusal(body, deployment.get("work_queue_name"))
        if refusal is not None:
            raise refusal
        registered = DEPLOYMENTS[name]
        workflow.authorized(db_path, user_id, registered.action, f"deployment:{name}")
        module, attribute = entrypoint_module(registered.entrypoint)
        flow = getattr(importlib.import_module(module), attribute)
        params = {**(deployment.get("parameters") or {}), **(body.get("parameters") or {})}
        try:
            grant = workflow.grant_for(settings, user_id, registered.action, flow, params)
        except TypeError as exc:
            raise ConsoleRefused("console_run", f"{name}: {exc}") from None
        return {**body, "job_variables": {}, "parameters": {**(body.get("parameters") or {}), "grant": grant}}

    def audit_done(user_id: str, call: ConsoleCall, deployment: dict | None, body: Any, answer: dict) -> None:
        if call.kind == "run":
            target = f"deployment:{deployment['name']}"
            details = {"flow_run_id": answer.get("id"), "parameters": _cut(body.get("parameters"))}
        elif call.kind == "cancel":
            target, details = f"flow_run:{call.flow_run_id}", {}
        else:
            target, details = f"deployment:{call.deployment_id}", {"call": call.upstream_path, "body": _cut(body)}
        record_event(db_path, user_id, f"console.{call.kind}", target, details)

    @app.get(PREFIX)
    def console_root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=307)

    @app.api_route(PREFIX + "/{rest:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    async def console(request: Request, rest: str) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        token = request.cookies.get(cookie, "") or bearer
        user_id = sessions.user(token) if token else None
        if user_id is None:
            if request.method == "GET" and not rest.startswith("api/"):
                return RedirectResponse(f"/login?next={PREFIX}/", status_code=303)
            return JSONResponse({"reason": "no_session", "detail": "sign in to facelead first"}, status_code=401)
        try:
            await run_in_threadpool(operator, user_id)
        except Refusal as exc:
            return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=403)
        if client is None:
            return JSONResponse({"reason": "no_console", "detail": "this service runs no Prefect server"}, 404)
        method, path = request.method, request.scope.get("raw_path", b"").decode("latin-1").removeprefix(PREFIX)
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return JSONResponse({"reason": "too_large", "detail": f"at most {MAX_BODY_BYTES} bytes"}, 413)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                return JSONResponse({"reason": "too_large", "detail": f"at most {MAX_BODY_BYTES} bytes"}, 413)
        try:
            body = json.loads(raw) if raw.strip() else None
            call = console_call(method, path or "/", body)
            deployment = None
            if call.kind == "run":
                deployment = await deployment_of(call.deployment_id)
                raw = json.dumps(await run_in_threadpool(granted_run, user_id, deployment, body or {})).encode()
        except Refusal as exc:
            return await run_in_threadpool(refuse, user_id, method, path, exc)
        except ValueError:
            return await run_in_threadpool(refuse, user_id, method, path, ConsoleRefused(
                "console_body", "the call's body is not JSON"))
        headers = {name: request.headers[name] for name in _PASSED_HEADERS if name in request.headers}
        query = f"?{request.url.query}" if request.url.query else ""
        answer = await client.request(method, call.upstream_path + query, content=raw,
                                      headers={**headers, "Authorization": upstream.authorization})
        content = answer.content
        if call.kind != "read" and answer.is_success:
            await run_in_threadpool(audit_done, user_id, call, deployment, body, answer.json() if content else {})
        elif call.upstream_path.endswith("/ui-settings") and answer.is_success:
            ui = answer.json()  # the UI talks to Prefect through this door, and signs in here, not to Prefect
            content = json.dumps({**ui, "api_url": f"{str(request.base_url).rstrip('/')}{PREFIX}/api",
                                  "auth": None}).encode()
        kept = {name: value for name, value in answer.headers.items() if name.lower() in ("content-type", "location")}
        return Response(content, status_code=answer.status_code, headers=kept)
