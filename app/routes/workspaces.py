from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.deps import CurrentUser, KubeDep, SessionDep, WorkspaceAdmin, WorkspaceMembersViewer, WorkspaceViewer
from app.domain import projects as projects_domain
from app.domain import rbac
from app.domain import users as users_domain
from app.domain import workspaces as workspaces_domain
from app.domain.access import Permission, platform_can
from app.domain.errors import Invalid
from app.i18n import _
from app.models import WorkspaceRole
from app.routes.common import audited, remove_member_page, render, render_page_or_block, see_other
from app.web import urls

router = APIRouter(tags=["workspaces"])


@router.get("/workspaces")
async def list_workspaces(request: Request, me: CurrentUser, session: SessionDep) -> Response:
    """Workspaces the user can see."""
    return render(request, "workspaces/list.html", {
        "workspaces": await workspaces_domain.visible_workspaces(session, me.user),
        "can_create": platform_can(me.user, Permission.create_workspace), "form": {}, "errors": {},
    })


@router.post("/workspaces")
async def create_workspace(
    request: Request, me: CurrentUser, session: SessionDep,
    name: Annotated[str, Form()] = "", alias: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
) -> Response:
    try:
        async with audited(request, me, "create", "Workspace", name, workspace=name, project=""):
            ws = await workspaces_domain.create_workspace(session, actor=me.user, name=name, alias=alias,
                                                          description=description)
    except Invalid as e:
        return render(request, "workspaces/list.html", {
            "workspaces": await workspaces_domain.visible_workspaces(session, me.user), "can_create": True,
            "form": {"name": name, "alias": alias, "description": description}, "errors": e.errors,
        }, status_code=422)
    return see_other(request, urls.workspace(ws.name))


@router.get("/workspaces/{ws}")
async def show_workspace(request: Request, ctx: WorkspaceViewer, session: SessionDep) -> Response:
    """Workspace overview."""
    projects = await projects_domain.list_projects(session, ws=ctx.workspace, access=ctx.access)
    members = await workspaces_domain.list_members(session, ctx.workspace) if ctx.access.can(
        Permission.view_workspace_members) else []
    return render(request, "workspaces/detail.html", {"projects": projects, "members": members, "tab": "overview"})


@router.get("/workspaces/{ws}/members")
async def list_workspace_members(request: Request, ctx: WorkspaceMembersViewer, session: SessionDep) -> Response:
    return await _members_page(request, ctx, session)


async def _members_page(request: Request, ctx, session, *, errors: dict[str, str] | None = None,  # type: ignore[no-untyped-def]
                        form: dict[str, str] | None = None, status: int = 200) -> Response:
    return render_page_or_block(request, "workspaces/members.html", {
        "members": await workspaces_domain.list_members(session, ctx.workspace), "roles": list(WorkspaceRole),
        "can_manage": ctx.access.can(Permission.manage_workspace_members), "me": ctx.me.user,
        "errors": errors or {}, "form": form or {}, "tab": "members",
    }, block="members", status_code=status)


@router.get("/workspaces/{ws}/members/candidates")
async def workspace_member_candidates(request: Request, ctx: WorkspaceAdmin, session: SessionDep,
                                      username: str = "") -> Response:
    """The Invite field's type-ahead (htmx): platform users not yet in the workspace matching `username`."""
    found = await workspaces_domain.invite_candidates(session, ctx.workspace, actor=ctx.me.user, query=username[:254])
    return render(request, "partials/candidates.html", {"candidates": found, "query": username,
                                                        "limit": users_domain.CANDIDATES})


@router.post("/workspaces/{ws}/members")
async def set_workspace_member(
    request: Request, ctx: WorkspaceAdmin, session: SessionDep, kube: KubeDep,
    username: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "", invite: Annotated[str, Form()] = "",
) -> Response:
    """Invite an existing user with a role, or change a member's role."""
    try:
        async with audited(request, ctx.me, "set-member", "WorkspaceMember", username):
            await workspaces_domain.set_member(session, access=ctx.access, ws=ctx.workspace, username=username,
                                               role=role, invite=bool(invite))
    except Invalid as e:
        return await _members_page(request, ctx, session, errors=e.errors or {"username": e.message},
                                   form={"username": username, "role": role}, status=422)
    await rbac.reconcile_workspace_safely(session, kube, ctx.workspace.id)
    return see_other(request, urls.workspace_members(ctx.workspace.name))


@router.get("/workspaces/{ws}/members/{username}/remove")
async def confirm_remove_workspace_member(request: Request, username: str, ctx: WorkspaceAdmin,
                                          session: SessionDep) -> Response:
    """Asks first, as Delete does: a dialog over the member list, or a page without JavaScript."""
    member = await workspaces_domain.member(session, ctx.workspace, username)
    base = urls.workspace(ctx.workspace.name)
    return remove_member_page(
        request, username=username, members_url=f"{base}/members",
        question=_("Remove {user} ({role}) from the workspace {workspace}?").format(
            user=member.user.username, role=WorkspaceRole(member.role).value, workspace=ctx.workspace.name),
        consequence=_("They leave every project of the workspace too, and lose their access at once; what "
                      "they created stays."),
        crumbs=[(ctx.workspace.name, base)])


@router.post("/workspaces/{ws}/members/{username}/remove")
async def remove_workspace_member(request: Request, username: str, ctx: WorkspaceAdmin, session: SessionDep,
                                  kube: KubeDep) -> Response:
    try:
        async with audited(request, ctx.me, "remove-member", "WorkspaceMember", username):
            await workspaces_domain.remove_member(session, access=ctx.access, ws=ctx.workspace, username=username)
    except Invalid as e:
        return await _members_page(request, ctx, session, errors={"remove": e.message}, status=422)
    await rbac.reconcile_workspace_safely(session, kube, ctx.workspace.id)
    return see_other(request, urls.workspace_members(ctx.workspace.name))
