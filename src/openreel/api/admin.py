"""`/v1/admin/...`: users, keys and the audit log, for keys with the `admin` scope.

The same operations as `openreel users|keys|audit` on the command line; both
call openreel.service.access.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ..service.access import ROLES, SCOPES, Access, AccessError, Principal
from .guard import KeyId


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Literal[tuple(ROLES)]  # type: ignore[valid-type]


class NewKey(BaseModel):
    owner: str = Field(description="user id or name")
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Literal[SCOPES]] | None = None  # type: ignore[valid-type]
    rpm: int | None = Field(None, ge=1, le=2**31 - 1)
    max_concurrent: int | None = Field(None, ge=1, le=2**31 - 1)
    max_seconds: int | None = Field(None, ge=1, le=2**31 - 1)
    max_pixels: int | None = Field(None, ge=1, le=2**31 - 1)
    daily_seconds: int | None = Field(None, ge=1, le=2**31 - 1)
    allowed_cidrs: list[str] | None = None
    expires_in: int | None = Field(None, ge=1, le=100 * 365 * 86400, description="seconds from now")


class Revoke(BaseModel):
    cancel_jobs: bool = False


def _refuse(exc: Exception) -> AccessError:
    if isinstance(exc, LookupError):
        return AccessError(404, str(exc).strip("'\""), "not_found")
    return AccessError(400, str(exc), "invalid_value")


def admin_router(access: Access, Admin) -> APIRouter:
    r = APIRouter(prefix="/v1/admin", tags=["admin"])

    def actor(who: Principal) -> str:
        return f"key:{who.key_id}"

    @r.get("/users")
    def list_users(who: Principal = Admin):
        return {"object": "list", "data": access.list_users()}

    @r.post("/users")
    def create_user(body: NewUser, who: Principal = Admin):
        try:
            return access.create_user(body.name, body.role, actor=actor(who))
        except ValueError as exc:
            raise _refuse(exc) from None

    @r.get("/keys")
    def list_keys(owner: str | None = None, who: Principal = Admin):
        return {"object": "list", "data": access.list_keys(owner)}

    @r.post("/keys")
    def create_key(body: NewKey, who: Principal = Admin):
        try:
            key, record = access.create_key(body.owner, body.name, body.scopes, rpm=body.rpm,
                                            max_concurrent=body.max_concurrent, max_seconds=body.max_seconds,
                                            max_pixels=body.max_pixels, daily_seconds=body.daily_seconds,
                                            allowed_cidrs=body.allowed_cidrs, expires_in=body.expires_in,
                                            actor=actor(who))
        except ValueError as exc:
            raise _refuse(exc) from None
        return {**record, "key": key}  # the only time the key is ever shown

    @r.post("/keys/{key_id}/revoke")
    def revoke_key(key_id: KeyId, body: Revoke | None = None, who: Principal = Admin):
        try:
            return access.revoke(key_id, actor=actor(who), cancel_jobs=bool(body and body.cancel_jobs))
        except (LookupError, ValueError) as exc:
            raise _refuse(exc) from None

    @r.post("/keys/{key_id}/reinstate")
    def reinstate_key(key_id: KeyId, who: Principal = Admin):
        try:
            return access.reinstate(key_id, actor=actor(who))
        except (LookupError, ValueError) as exc:
            raise _refuse(exc) from None

    @r.get("/audit")
    def audit(limit: int = Query(1000, ge=1, le=100_000), who: Principal = Admin):
        return {"object": "list", "data": access.audit_rows(limit)}

    @r.get("/audit/verify")
    def audit_verify(who: Principal = Admin):
        ok, bad, message = access.verify_audit()
        return {"ok": ok, "bad_row": bad, "message": message}

    return r
