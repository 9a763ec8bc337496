"""People and their sessions: sign-in and out, users, roles, secrets."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Request

from facelead import workflow
from facelead.api.bodies import NewRoles, NewSecret, NewUser, Reason, SignIn
from facelead.doors import AppSessions, AppSettings, User, jsonable

router = APIRouter()


@router.post("/api/session")
def sign_in(settings: AppSettings, sessions: AppSessions, body: SignIn, request: Request) -> dict:
    address = request.client.host if request.client else "unknown"
    user = workflow.sign_in(settings.database_path, body.user_id, body.secret, settings.security, address)
    return {"user_id": user.user_id, "token": sessions.open(user.user_id)}


@router.delete("/api/session")
def sign_out(sessions: AppSessions, authorization: Annotated[str | None, Header()] = None) -> dict:
    sessions.close((authorization or "").removeprefix("Bearer ").strip())
    return {"signed_out": True}


@router.post("/api/users")
def add_user(settings: AppSettings, body: NewUser, user: User) -> dict:
    code = workflow.add_user(settings.database_path, user, body.user_id, body.name, body.roles, body.certified_until,
                             settings.security)
    return {"user_id": body.user_id, "code": code, "hours": settings.security.enrollment_code_hours}


@router.get("/api/users")
def list_users(settings: AppSettings, user: User) -> list[dict]:
    return [{k: jsonable(v) for k, v in asdict(row).items()} for row in workflow.list_users(settings.database_path, user)]


@router.post("/api/users/{user_id}/disable")
def disable_user(settings: AppSettings, sessions: AppSessions, user_id: str, body: Reason, user: User) -> dict:
    workflow.disable_user(settings.database_path, user, user_id, body.reason)
    sessions.end_user(user_id)
    return {"user_id": user_id, "disabled": True}


@router.post("/api/users/{user_id}/roles")
def set_roles(settings: AppSettings, user_id: str, body: NewRoles, user: User) -> dict:
    workflow.set_roles(settings.database_path, user, user_id, body.roles, body.certified_until)
    return {"user_id": user_id, "roles": sorted(body.roles), "certified_until": jsonable(body.certified_until)}


@router.post("/api/users/{user_id}/reset")
def reset_user(settings: AppSettings, sessions: AppSessions, user_id: str, user: User) -> dict:
    code = workflow.reset_user(settings.database_path, user, user_id, settings.security)
    sessions.end_user(user_id)
    return {"user_id": user_id, "code": code, "hours": settings.security.enrollment_code_hours}


@router.post("/api/users/{user_id}/secret")
def set_secret(settings: AppSettings, sessions: AppSessions, user_id: str, body: NewSecret, request: Request) -> dict:
    address = request.client.host if request.client else "unknown"
    workflow.set_secret(settings.database_path, user_id, body.proof, body.secret, settings.security, address)
    sessions.end_user(user_id)
    return {"user_id": user_id, "secret_set": True}
