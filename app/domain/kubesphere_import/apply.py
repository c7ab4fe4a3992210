"""Create what a plan says in Dockyard's database, in one transaction; then let the cluster follow.

The plan is made again inside the transaction from the database as it is then, so what is created is
exactly what is missing: running the import twice creates nothing the second time.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import project_security, rbac
from app.domain.audit import AuditEntry
from app.domain.errors import Conflict
from app.domain.pod_security import Level
from app.i18n import _
from app.kube.client import KubeGateway
from app.kube.errors import KubeError
from app.models import PlatformRole, Project, ProjectMember, User, Workspace, WorkspaceMember

from .model import (
    Category,
    Dockyard,
    KubeSphere,
    MemberSpec,
    Plan,
    ProjectSpec,
    Status,
    UserSpec,
    WorkspaceSpec,
)
from .plan import make_plan
from .read import read

log = logging.getLogger("dockyard")


@dataclass(frozen=True)
class Result:
    plan: Plan  # the plan carried out (its "create" lines were created)
    users: int
    workspaces: int
    workspace_members: int
    projects: int
    project_members: int
    cluster_problems: list[str]  # projects whose labels or RoleBindings could not be set now (retried later)

    @property
    def created(self) -> int:
        return self.users + self.workspaces + self.workspace_members + self.projects + self.project_members

    def summary(self) -> str:
        return (f"created {self.users} users, {self.workspaces} workspaces, {self.workspace_members} workspace "
                f"members, {self.projects} projects, {self.project_members} project members "
                f"(KubeSphere {self.plan.edition}; {self.plan.count(Status.skip)} not mapped)")


async def dockyard_state(session: AsyncSession) -> Dockyard:
    users: dict[str, str] = dict((await session.execute(select(User.username, User.email))).all())
    ws_members = {(ws, u): str(r) for ws, u, r in await session.execute(
        select(Workspace.name, User.username, WorkspaceMember.role)
        .join(Workspace, Workspace.id == WorkspaceMember.workspace_id).join(User, User.id == WorkspaceMember.user_id))}
    p_members = {(p, u): str(r) for p, u, r in await session.execute(
        select(Project.name, User.username, ProjectMember.role)
        .join(Project, Project.id == ProjectMember.project_id).join(User, User.id == ProjectMember.user_id))}
    return Dockyard(
        users=users, emails={email: name for name, email in users.items()},
        workspaces=frozenset(await session.scalars(select(Workspace.name))),
        projects=dict((await session.execute(
            select(Project.name, Workspace.name).join(Workspace, Workspace.id == Project.workspace_id))).all()),
        workspace_members=ws_members, project_members=p_members)


async def preview(session: AsyncSession, ks: KubeSphere) -> Plan:
    """The dry run: what the import would do now."""
    plan = make_plan(ks, await dockyard_state(session))
    await session.rollback()  # end the read transaction (SQLite keeps a snapshot otherwise)
    return plan


async def dry_run(session: AsyncSession, kube: KubeGateway) -> Plan:
    """Read the cluster's KubeSphere tenancy and say what the import would do (the page's dry run)."""
    return await preview(session, await read(kube))


async def import_from(session: AsyncSession, kube: KubeGateway) -> Result:
    """Read the cluster's KubeSphere tenancy and import it (the page's Import button)."""
    return await run(session, kube, await read(kube))


def _no_password() -> str | None:
    """Imported users have no password: NULL where the schema allows it (single sign-on's migration),
    else a value no password hashes to (not an argon2 hash: verifying it always fails)."""
    return None if User.__table__.c.password_hash.nullable else f"!imported-{secrets.token_hex(16)}"


async def run(session: AsyncSession, kube: KubeGateway | None, ks: KubeSphere) -> Result:
    """Plan against the database as it is, create every "create" line in one transaction, then (with a
    gateway) label the new projects' namespaces for their Pod Security level and reconcile the
    RoleBindings of every project whose members changed. Nothing in the cluster is deleted."""
    plan = make_plan(ks, await dockyard_state(session))
    try:
        counts = await _write(session, plan)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(_("Dockyard's users or workspaces changed during the import: nothing was imported. "
                         "Run it again.")) from None
    problems = await _follow(session, kube, plan) if kube is not None else []
    return Result(plan, *counts, cluster_problems=problems)


async def _write(session: AsyncSession, plan: Plan) -> tuple[int, int, int, int, int]:
    password = _no_password()
    for spec in plan.specs(UserSpec):
        user = User(username=spec.username, email=spec.email, display_name=spec.display_name,
                    password_hash=password, platform_role=spec.platform_role, disabled=spec.disabled)
        session.add(user)
    workspaces = [Workspace(name=s.name, alias=s.alias, description=s.description) for s in plan.specs(WorkspaceSpec)]
    session.add_all(workspaces)
    await session.flush()
    users = dict((await session.execute(select(User.username, User.id))).all())
    ws_ids = dict((await session.execute(select(Workspace.name, Workspace.id))).all())
    ws_members = plan.specs(MemberSpec, Category.workspace_members)
    session.add_all(WorkspaceMember(workspace_id=ws_ids[m.scope], user_id=users[m.username], role=m.role)
                    for m in ws_members)
    projects = plan.specs(ProjectSpec)
    session.add_all(Project(name=p.name, workspace_id=ws_ids[p.workspace], alias=p.alias, description=p.description,
                            creator_id=users.get(p.creator), pod_security=p.pod_security) for p in projects)
    await session.flush()
    project_ids = dict((await session.execute(select(Project.name, Project.id))).all())
    p_members = plan.specs(MemberSpec, Category.project_members)
    session.add_all(ProjectMember(project_id=project_ids[m.scope], user_id=users[m.username], role=m.role)
                    for m in p_members)
    await session.flush()
    return len(plan.specs(UserSpec)), len(workspaces), len(ws_members), len(projects), len(p_members)


async def _follow(session: AsyncSession, kube: KubeGateway, plan: Plan) -> list[str]:
    """The cluster side of what was created (the periodic reconciler repairs whatever fails here)."""
    new_projects = {p.name for p in plan.specs(ProjectSpec)}
    touched_ws = {m.scope for m in plan.specs(MemberSpec, Category.workspace_members)}
    touched = new_projects | {m.scope for m in plan.specs(MemberSpec, Category.project_members)}
    # A platform admin is an admin of every project: a new one (enabled) touches them all.
    everywhere = any(u.platform_role == PlatformRole.admin and not u.disabled for u in plan.specs(UserSpec))
    q = select(Project).join(Workspace, Workspace.id == Project.workspace_id)
    problems: list[str] = []
    for project in await session.scalars(q.order_by(Project.name)):
        if project.name not in touched and project.workspace.name not in touched_ws:
            if everywhere:
                await rbac.reconcile_project_safely(session, kube, project)  # logged; the reconciler retries
            continue
        try:
            if project.name in new_projects:
                await project_security.apply_labels(kube, project, Level(project.pod_security))
            await rbac.reconcile_project(session, kube, project)
        except KubeError as e:
            log.warning("kubesphere import: %s not followed in the cluster yet: %s", project.name, e)
            problems.append(f"{project.name}: {e}")
    await session.rollback()
    return problems


def audit_entry(result: Result | None, *, username: str, user_uid: str = "", request_id: str = "",
                error: str = "") -> AuditEntry:
    """The audit line of one import (a failed one says why)."""
    return AuditEntry(username=username, user_uid=user_uid, verb="import", outcome="failure" if error else "success",
                      object_kind="KubeSphere", object_name=result.plan.edition if result else "",
                      request_id=request_id, detail=error or (result.summary() if result else ""))
