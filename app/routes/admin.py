from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.deps import KubeDep, PlatformAdmin, SessionDep
from app.domain import audit as audit_domain
from app.domain import users as users_domain
from app.domain.errors import Invalid
from app.models import PlatformRole
from app.routes.common import audited, render, see_other

router = APIRouter(tags=["admin"])


async def _users_page(request: Request, session, *, q: str = "", errors=None, form=None, status: int = 200,  # type: ignore[no-untyped-def]
                      notice: str = "") -> Response:
    return render(request, "admin/users.html", {
        "users": await users_domain.list_users(session, query=q), "q": q, "roles": list(PlatformRole),
        "errors": errors or {}, "form": form or {}, "notice": notice,
    }, status_code=status)


@router.get("/admin/users")
async def list_users(request: Request, me: PlatformAdmin, session: SessionDep, q: str = "") -> Response:
    """The platform admin's users page."""
    return await _users_page(request, session, q=q)


@router.post("/admin/users")
async def create_user(
    request: Request, me: PlatformAdmin, session: SessionDep,
    username: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    platform_role: Annotated[str, Form()] = PlatformRole.regular.value,
) -> Response:
    try:
        async with audited(request, me, "create", "User", username, workspace="", project=""):
            await users_domain.create_user(session, username=username, email=email, password=password,
                                           platform_role=platform_role, display_name=display_name)
    except Invalid as e:
        return await _users_page(request, session, errors=e.errors, status=422, form={
            "username": username, "email": email, "display_name": display_name, "platform_role": platform_role})
    return see_other(request, "/admin/users")


@router.post("/admin/users/{username}/disable")
async def disable_user(request: Request, username: str, me: PlatformAdmin, session: SessionDep, kube: KubeDep) -> Response:
    """Disable an account: its sessions, its cluster identity and its RoleBindings end now."""
    user = await users_domain.get_user(session, username)
    async with audited(request, me, "disable", "User", username, workspace="", project=""):
        await users_domain.set_disabled(session, kube, user, True, actor=me.user)
    return see_other(request, "/admin/users")


@router.post("/admin/users/{username}/enable")
async def enable_user(request: Request, username: str, me: PlatformAdmin, session: SessionDep, kube: KubeDep) -> Response:
    user = await users_domain.get_user(session, username)
    async with audited(request, me, "enable", "User", username, workspace="", project=""):
        await users_domain.set_disabled(session, kube, user, False, actor=me.user)
    return see_other(request, "/admin/users")


@router.post("/admin/users/{username}/password")
async def reset_password(request: Request, username: str, me: PlatformAdmin, session: SessionDep,
                         password: Annotated[str, Form()] = "") -> Response:
    """Set a new password; every session of that user ends."""
    user = await users_domain.get_user(session, username)
    try:
        async with audited(request, me, "reset-password", "User", username, workspace="", project=""):
            await users_domain.set_password(session, user, password)
    except Invalid as e:
        return await _users_page(request, session, errors={f"password-{username}": e.message}, status=422)
    return await _users_page(request, session, notice=f"password-{username}")


@router.get("/admin/audit")
async def list_audit_events(
    request: Request, me: PlatformAdmin, session: SessionDep, username: str = "", workspace: str = "",
    project: str = "", verb: str = "", outcome: str = "",
) -> Response:
    """Every write through the console, newest first, with filters."""
    filters = {"username": username, "workspace": workspace, "project": project, "verb": verb, "outcome": outcome}
    return render(request, "admin/audit.html", {
        "events": await audit_domain.search(session, **filters), "filters": filters,
    })
