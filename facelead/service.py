"""facelead's HTTP API: the one way a person acts on the warehouse.

``facelead serve`` runs it (on 127.0.0.1 by default) as the service account, the only
account that can read the data folder. A person signs in with their user id and own
secret and gets a session token; every other call carries it. Each route is thin: it
calls the same workflow functions and flows as everything else, so the policy check
(``workflow.authorize``) and its audit sit below it. Refusals answer 403 (who may
not) or 409 (what may not happen now) with ``{"reason", "detail"}``; no session, 401.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from facelead.access import AccessDenied
from facelead.api import ROUTERS
from facelead.doors import BodyLimit, Sessions
from facelead.refusal import Refusal
from facelead.settings import Settings
from facelead.web.console_door import Upstream, add_console
from facelead.web.pages import COOKIE, add_pages

log = logging.getLogger(__name__)


def create_app(settings: Settings, console: Upstream | None = None) -> FastAPI:
    """The API's routers and the pages over ``settings``' warehouse, with the Prefect
    ``console`` (the server ``facelead serve`` runs) under ``/prefect/`` when given; its
    sessions live as long as the app."""
    app = FastAPI(title="facelead", description="Investigative face search: leads, never identifications.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.sessions = Sessions(settings.security.session_idle_minutes * 60, settings.security.session_hours * 3600)

    @app.exception_handler(Refusal)
    def refused(_: Request, exc: Refusal) -> JSONResponse:
        status = (401 if exc.reason == "no_session" else 403) if isinstance(exc, AccessDenied) else 409
        return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=status)

    @app.exception_handler(ValueError)
    def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"reason": "invalid", "detail": str(exc)}, status_code=422)

    @app.exception_handler(Exception)
    def failed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        detail = (str(exc).splitlines() or [""])[0]
        return JSONResponse({"reason": "error", "detail": f"{type(exc).__name__}: {detail}"}, status_code=500)

    app.add_middleware(BodyLimit, service=settings.service)  # inside the pages' guard, whose headers its 413 gets
    add_pages(app)
    add_console(app, settings, console, COOKIE)
    for router in ROUTERS:
        app.include_router(router)
    return app


def start_api(settings: Settings, run_in=None, console: Upstream | None = None) -> tuple[Any, threading.Thread]:
    """The API (with the Prefect ``console`` behind it, if given) served by uvicorn on
    ``settings.service`` host and port from a background thread (``run_in``, e.g. a copied
    context's ``run``, wraps the thread's work); returns once it listens. Stop it with
    ``stop_api``."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(settings, console), host=settings.service.host,
                                           port=settings.service.port, log_level="warning", access_log=False,
                                           **settings.service.uvicorn_options()))
    thread = threading.Thread(target=run_in or (lambda f: f()), args=(server.run,), name="facelead-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the facelead API did not start on {settings.service.host}:{settings.service.port}")
        time.sleep(0.05)
    return server, thread


def stop_api(server: Any, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(30)


def main() -> int:
    """``python -m facelead.service``: the API alone, in the foreground, with this
    environment's settings and Prefect API (``facelead serve`` runs it with the rest)."""
    import uvicorn

    os.umask(0o077)
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.service.host, port=settings.service.port, log_level="warning",
                **settings.service.uvicorn_options())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
