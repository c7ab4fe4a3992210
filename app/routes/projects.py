from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.deps import (
    KubeDep,
    ProjectAdmin,
    ProjectViewer,
    SessionDep,
    WorkspaceProjectCreator,
    WorkspaceViewer,
)
from app.domain import project_security
from app.domain import projects as projects_domain
from app.domain import users as users_domain
from app.domain.access import Permission
from app.domain.errors import Forbidden, Invalid, Unavailable
from app.domain.pod_security import Level
from app.i18n import _
from app.kube.errors import KubeError
from app.models import ProjectRole
from app.routes.common import audited, remove_member_page, render, render_page_or_block, see_other
from app.web import urls

router = APIRouter(tags=["projects"])


@router.get("/workspaces/{ws}/projects")
async def list_projects(request: Request, ctx: WorkspaceViewer, session: SessionDep) -> Response:
    return await _projects_page(request, ctx, session)


async def _projects_page(request: Request, ctx, session, *, errors=None, form=None, status: int = 200) -> Response:  # type: ignore[no-untyped-def]
    projects = await projects_domain.list_projects(session, ws=ctx.workspace, access=ctx.access)
    return render(request, "projects/list.html", {
        "projects": projects, "can_create": ctx.access.can(Permission.create_project),
        "errors": errors or {}, "form": form or {}, "tab": "projects",
    }, status_code=status)


@router.post("/workspaces/{ws}/projects")
async def create_project(
    request: Request, ctx: WorkspaceProjectCreator, session: SessionDep, kube: KubeDep,
    name: Annotated[str, Form()] = "", alias: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
) -> Response:
    """Create the project's namespace (labelled with the workspace); the creator becomes its admin."""
    try:
        async with audited(request, ctx.me, "create", "Project", name, project=name):
            project = await projects_domain.create_project(
                session, kube, ws=ctx.workspace, access=ctx.access, name=name, alias=alias, description=description)
    except Invalid as e:
        return await _projects_page(request, ctx, session, errors=e.errors or {"name": e.message},
                                    form={"name": name, "alias": alias, "description": description}, status=422)
    return see_other(request, urls.project(ctx.workspace.name, project.name))


@router.get("/workspaces/{ws}/projects/{project}")
async def show_project(request: Request, ctx: ProjectViewer, session: SessionDep, kube: KubeDep) -> Response:
    """Project overview, with its Pod Security level and the workloads that do not meet it."""
    return await _overview(request, ctx, session, kube)


async def _overview(request: Request, ctx, session, kube, *, errors=None, status: int = 200) -> Response:  # type: ignore[no-untyped-def]
    members = await projects_domain.list_members(session, ctx.project)
    level = ctx.pod_security
    try:
        findings = await project_security.report(kube, ctx.namespace, level, actor=ctx.actor)
        report_error = ""
    except KubeError as e:
        findings, report_error = [], e.message
    return render_page_or_block(request, "projects/detail.html", {
        "members": members, "tab": "overview", "level": level, "levels": list(Level),
        "level_titles": project_security.LEVEL_TITLES, "level_help": project_security.LEVEL_HELP,
        "refusals": {lv: project_security.choice_problem(ctx.access, lv) for lv in Level},
        "findings": findings, "report_error": report_error, "errors": errors or {},
    }, block="pod_security", status_code=status)


@router.post("/workspaces/{ws}/projects/{project}/pod-security")
async def set_pod_security(request: Request, ctx: ProjectViewer, session: SessionDep, kube: KubeDep,
                           level: Annotated[str, Form()] = "") -> Response:
    """Change the project's Pod Security level (workspace admin; privileged: platform admin only)."""
    try:
        async with audited(request, ctx.me, "set-pod-security", "Project", ctx.project.name) as note:
            note["detail"] = f"{ctx.project.pod_security} -> {level}"
            await project_security.set_level(session, kube, project=ctx.project, access=ctx.access, level=level)
    except (Invalid, Unavailable) as e:
        return await _overview(request, ctx, session, kube, errors={"level": e.message}, status=422)
    return see_other(request, urls.project(ctx.workspace.name, ctx.project.name) + "#pod-security")


@router.post("/workspaces/{ws}/projects/{project}/external-ips")
async def set_external_ips(request: Request, ctx: ProjectViewer, session: SessionDep,
                           allowed: Annotated[str, Form()] = "") -> Response:
    """Allow the project's Services external IPs, or not (platform admin only)."""
    async with audited(request, ctx.me, "set-external-ips", "Project", ctx.project.name) as note:
        note["detail"] = f"allowed={bool(allowed)}"
        await project_security.set_external_ips(session, project=ctx.project, access=ctx.access, allowed=bool(allowed))
    return see_other(request, urls.project(ctx.workspace.name, ctx.project.name) + "#external-ips")


@router.get("/workspaces/{ws}/projects/{project}/members")
async def list_project_members(request: Request, ctx: ProjectViewer, session: SessionDep) -> Response:
    return await _members_page(request, ctx, session)


async def _members_page(request: Request, ctx, session, *, errors=None, form=None, status: int = 200) -> Response:  # type: ignore[no-untyped-def]
    can_manage = ctx.access.can(Permission.manage_project_members)
    return render_page_or_block(request, "projects/members.html", {
        "members": await projects_domain.list_members(session, ctx.project),
        "roles": [r for r in ProjectRole if ctx.access.may_grant(r)], "can_manage": can_manage,
        "me": ctx.me.user, "errors": errors or {}, "form": form or {}, "tab": "members",
    }, block="members", status_code=status)


@router.get("/workspaces/{ws}/projects/{project}/members/candidates")
async def project_member_candidates(request: Request, ctx: ProjectAdmin, session: SessionDep,
                                    username: str = "") -> Response:
    """The Invite field's type-ahead (htmx): workspace members not yet in the project matching `username`."""
    found = await projects_domain.invite_candidates(session, ctx.project, actor=ctx.me.user, query=username[:254])
    return render(request, "partials/candidates.html", {"candidates": found, "query": username,
                                                        "limit": users_domain.CANDIDATES})


@router.post("/workspaces/{ws}/projects/{project}/members")
async def set_project_member(
    request: Request, ctx: ProjectAdmin, session: SessionDep, kube: KubeDep,
    username: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "", invite: Annotated[str, Form()] = "",
) -> Response:
    """Invite a workspace member into the project as admin, operator or viewer, or change their role."""
    try:
        async with audited(request, ctx.me, "set-member", "ProjectMember", username):
            await projects_domain.set_member(session, kube, project=ctx.project, access=ctx.access,
                                             username=username, role=role, invite=bool(invite))
    except Invalid as e:
        return await _members_page(request, ctx, session, errors=e.errors or {"username": e.message},
                                   form={"username": username, "role": role}, status=422)
    return see_other(request, urls.project_members(ctx.workspace.name, ctx.project.name))


@router.get("/workspaces/{ws}/projects/{project}/members/{username}/remove")
async def confirm_remove_project_member(request: Request, username: str, ctx: ProjectAdmin,
                                        session: SessionDep) -> Response:
    """Asks first, as Delete does: a dialog over the member list, or a page without JavaScript."""
    member = await projects_domain.member(session, ctx.project, username)
    base = urls.project(ctx.workspace.name, ctx.project.name)
    return remove_member_page(
        request, username=username, members_url=f"{base}/members",
        question=_("Remove {user} ({role}) from the project {project}?").format(
            user=member.user.username, role=ProjectRole(member.role).value, project=ctx.project.name),
        consequence=_("They lose their access to the project's resources at once; what they created stays."),
        crumbs=[(ctx.workspace.name, urls.workspace(ctx.workspace.name)), (ctx.project.name, base)])


@router.post("/workspaces/{ws}/projects/{project}/members/{username}/remove")
async def remove_project_member(request: Request, username: str, ctx: ProjectAdmin, session: SessionDep,
                                kube: KubeDep) -> Response:
    async with audited(request, ctx.me, "remove-member", "ProjectMember", username):
        await projects_domain.remove_member(session, kube, project=ctx.project, access=ctx.access, username=username)
    return see_other(request, urls.project_members(ctx.workspace.name, ctx.project.name))


__all__ = ["router", "Forbidden"]
