"""The docs' example tenants: admin, ws-admin, project-admin and project-regular in demo-workspace/demo-project."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import projects as projects_domain
from app.domain import users as users_domain
from app.domain import workspaces as workspaces_domain
from app.domain.access import ProjectAccess, WorkspaceAccess
from app.kube.client import KubeGateway
from app.models import (
    PlatformRole,
    Project,
    ProjectMember,
    ProjectRole,
    User,
    Workspace,
    WorkspaceMember,
    WorkspaceRole,
)

WORKSPACE = "demo-workspace"
PROJECT = "demo-project"
ACCOUNTS = [
    ("admin", PlatformRole.admin),
    ("ws-admin", PlatformRole.regular),
    ("project-admin", PlatformRole.regular),
    ("project-regular", PlatformRole.regular),
]


async def seed(session: AsyncSession, kube: KubeGateway, *, password: str | None = None,
               workspace: str = WORKSPACE, project_name: str = PROJECT, suffix: str = "",
               created: dict[str, str] | None = None) -> dict[str, str]:
    """Create whatever of the demo tenants is missing; returns the passwords of accounts it created.

    `suffix` is appended to the account names (tests seed several independent copies). `created`, when
    given, is filled as accounts are made: if a later step fails (the cluster does not answer), the
    caller still has the passwords of the accounts that now exist."""
    created = {} if created is None else created
    users: dict[str, User] = {}
    for base_name, role in ACCOUNTS:
        username = base_name + suffix
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            pw = password or secrets.token_urlsafe(12)
            user = await users_domain.create_user(session, username=username, email=f"{username}@dockyard.local",
                                                  password=pw, platform_role=role.value)
            created[username] = pw
        users[base_name] = user
    ws = await session.scalar(select(Workspace).where(Workspace.name == workspace))
    if ws is None:
        ws = await workspaces_domain.create_workspace(
            session, actor=users["admin"], name=workspace, alias="Demo-Workspace",
            description="The workspace of the getting-started guide.", manager=users["ws-admin"])
    for username, ws_role in (("project-admin", WorkspaceRole.self_provisioner),
                              ("project-regular", WorkspaceRole.viewer)):
        if not await session.scalar(select(WorkspaceMember).where(
                WorkspaceMember.workspace_id == ws.id, WorkspaceMember.user_id == users[username].id)):
            session.add(WorkspaceMember(workspace_id=ws.id, user_id=users[username].id, role=ws_role))
    await session.commit()
    project = await session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        access = WorkspaceAccess(user=users["project-admin"], role=WorkspaceRole.self_provisioner)
        project = await projects_domain.create_project(session, kube, ws=ws, access=access, name=project_name,
                                                       alias="Demo-Project", description="Services of the guide.")
    if not await session.scalar(select(ProjectMember).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == users["project-regular"].id)):
        admin_access = ProjectAccess(user=users["project-admin"], role=ProjectRole.admin, member_role=ProjectRole.admin)
        await projects_domain.set_member(session, kube, project=project, access=admin_access,
                                         username=users["project-regular"].username,
                                         role=ProjectRole.operator.value)
    return created
