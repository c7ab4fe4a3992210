"""FastAPI dependencies: database session, gateway, the signed-in user, CSRF, and path-object loaders.

Loaders validate the object in the URL and the caller's rights in one go: a workspace or project the
user cannot see is a 404, an action their role does not allow is a 403.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import auth as auth_domain
from app.domain import project_security
from app.domain import projects as projects_domain
from app.domain import workspaces as workspaces_domain
from app.domain.access import Permission, ProjectAccess, WorkspaceAccess, platform_can
from app.domain.errors import Forbidden
from app.domain.pod_security import Level
from app.domain.recent import Recent
from app.i18n import _
from app.kube.client import Actor, KubeGateway
from app.models import AuthSession, Project, User, Workspace
from app.settings import Settings

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PRE_SESSION_CSRF_COOKIE = "dockyard_csrf"


class NotAuthenticated(Exception):
    """No valid session: pages redirect to /login, htmx requests get HX-Redirect."""


class CsrfFailed(Exception):
    pass


def session_cookie_name(settings: Settings) -> str:
    return "__Host-dockyard_session" if settings.secure_cookies else "dockyard_session"


async def get_settings_dep(request: Request) -> Settings:  # async: a plain def runs in a thread
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_kube(request: Request) -> KubeGateway:
    kube = await request.app.state.kube.get()
    return kube


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
KubeDep = Annotated[KubeGateway, Depends(get_kube)]


@dataclass(frozen=True)
class Signed:
    user: User
    auth: AuthSession

    @property
    def actor(self) -> Actor:
        """The identity the cluster sees for this user (impersonated, by immutable id)."""
        return Actor.user(self.user.uid, self.user.username)


async def _signed_in(request: Request) -> Signed | None:
    """The session's user: kept a few seconds (app/domain/recent.py), else one query in a session of its
    own (no sub-dependencies: FastAPI resolving them cost more than the lookup itself)."""
    if hasattr(request.state, "signed"):
        return request.state.signed  # type: ignore[no-any-return]
    settings: Settings = request.app.state.settings
    token = request.cookies.get(session_cookie_name(settings))
    recent: Recent[str, tuple[User, AuthSession]] = request.app.state.recent_sessions
    key = auth_domain.token_digest(token, settings) if token else ""
    found = recent.get(key) if token else None
    if found is not None and not auth_domain.session_valid(*found, settings):
        recent.forget(key)
        found = None
    if found is None and token:
        async with request.app.state.sessionmaker() as session:
            found = await auth_domain.resolve_session(session, settings, token)
        if found:
            recent.put(key, found)
    signed = Signed(*found) if found else None
    request.state.signed = signed
    if signed:
        request.state.template_context["current_user"] = signed.user
        request.state.template_context["csrf_token"] = signed.auth.csrf_token
        request.state.user_name = signed.user.username
    return signed


OptionalSigned = Annotated[Signed | None, Depends(_signed_in)]


async def verify_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token (htmx header or form field),
    and comes from our own origin."""
    if request.method not in UNSAFE:
        return
    signed = await _signed_in(request)  # called, not a sub-dependency: each one costs FastAPI more than this
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfFailed()
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise CsrfFailed()
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    if signed is not None:
        expected = signed.auth.csrf_token
    else:
        expected = request.cookies.get(PRE_SESSION_CSRF_COOKIE) or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed()


def pre_session_csrf(request: Request) -> str:
    """The login form's token (no session yet): a random cookie echoed in a hidden field."""
    token = request.cookies.get(PRE_SESSION_CSRF_COOKIE) or secrets.token_urlsafe(32)
    request.state.set_pre_session_csrf = token
    request.state.template_context["csrf_token"] = token
    return token


async def current_user(request: Request) -> Signed:
    signed = await _signed_in(request)
    if signed is None:
        raise NotAuthenticated()
    return signed


CurrentUser = Annotated[Signed, Depends(current_user)]


def platform_permission(perm: Permission):  # type: ignore[no-untyped-def]
    async def check(me: CurrentUser) -> Signed:
        if not platform_can(me.user, perm):
            raise Forbidden(_("You do not have permission to do this."))
        return me
    return check


PlatformAdmin = Annotated[Signed, Depends(platform_permission(Permission.manage_users))]


@dataclass(frozen=True)
class WorkspaceCtx:
    me: Signed
    workspace: Workspace
    access: WorkspaceAccess


@dataclass(frozen=True)
class ProjectCtx:
    me: Signed
    workspace: Workspace
    project: Project
    access: ProjectAccess

    @property
    def namespace(self) -> str:
        """Always the project's own namespace: never one that came from a form or an upload."""
        return self.project.name

    @property
    def actor(self) -> Actor:
        return self.me.actor

    @property
    def can_edit(self) -> bool:
        return self.access.can(Permission.edit_resources)

    @property
    def pod_security(self) -> Level:
        """The level every pod this request sends must meet (from the project's row, never a form)."""
        return project_security.level_of(self.project)

    @property
    def rules(self) -> dict[str, Any]:
        """The project's rules for what its members create, as the creation paths take them."""
        return {"pod_security": self.pod_security, "external_ips_allowed": self.project.allow_external_ips}


async def release_connection(session: AsyncSession) -> None:
    """End the access check's read transaction, so the request does not hold a pooled database
    connection while it waits on Kubernetes (the pool is small: 15 for SQLite). The loaded objects stay
    usable (expire_on_commit=False); a later query of the request takes a connection again."""
    await session.commit()


def workspace_for(perm: Permission = Permission.view_workspace):  # type: ignore[no-untyped-def]
    async def load(request: Request, ws: str, me: CurrentUser, session: SessionDep) -> WorkspaceCtx:
        workspace, access = await workspaces_domain.workspace_access(session, me.user, ws)
        if not access.can(perm):
            raise Forbidden(_("You do not have permission to do this."))
        request.state.template_context.update(workspace=workspace, ws_access=access)
        request.state.audit_scope = (workspace.name, "")
        await release_connection(session)
        return WorkspaceCtx(me, workspace, access)
    return load


def project_for(perm: Permission = Permission.view_project):  # type: ignore[no-untyped-def]
    async def load(request: Request, ws: str, project: str) -> ProjectCtx:
        me = await current_user(request)  # a call, not a sub-dependency (see `_signed_in`)
        recent: Recent[tuple[int, str, str], tuple[Workspace, Project, ProjectAccess]] = request.app.state.recent_access
        found = recent.get((me.user.id, ws, project))
        if found is None:
            # A session of its own, closed before the page calls Kubernetes: the pool stays free.
            async with request.app.state.sessionmaker() as session:
                found = await projects_domain.project_access_by_name(session, me.user, ws, project)
            recent.put((me.user.id, ws, project), found)
        workspace, proj, access = found
        if not access.can(perm):
            raise Forbidden(_("You do not have permission to do this."))
        request.state.template_context.update(workspace=workspace, project=proj, access=access,
                                              can_edit=access.can(Permission.edit_resources))
        request.state.audit_scope = (workspace.name, proj.name)
        return ProjectCtx(me, workspace, proj, access)
    return load


WorkspaceViewer = Annotated[WorkspaceCtx, Depends(workspace_for(Permission.view_workspace))]
WorkspaceMembersViewer = Annotated[WorkspaceCtx, Depends(workspace_for(Permission.view_workspace_members))]
WorkspaceAdmin = Annotated[WorkspaceCtx, Depends(workspace_for(Permission.manage_workspace_members))]
WorkspaceProjectCreator = Annotated[WorkspaceCtx, Depends(workspace_for(Permission.create_project))]
ProjectViewer = Annotated[ProjectCtx, Depends(project_for(Permission.view_project))]
ProjectEditor = Annotated[ProjectCtx, Depends(project_for(Permission.edit_resources))]
ProjectAdmin = Annotated[ProjectCtx, Depends(project_for(Permission.manage_project_members))]
