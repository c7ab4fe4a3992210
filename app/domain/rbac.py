"""Mirror effective project roles into RoleBindings, so the cluster enforces what the console checks.

Desired state comes from the database (project members, the roles workspace membership implies, and
platform admins); actual state is the RoleBindings labelled as managed by Dockyard in each project
namespace. Missing bindings are created, stale ones deleted, changed ones replaced (roleRef is
immutable). It runs after every membership change and periodically, to repair drift and tampering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.access import effective_project_role
from app.kube import identity
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from app.models import PlatformRole, Project, ProjectMember, ProjectRole, User, WorkspaceMember, WorkspaceRole

log = logging.getLogger("dockyard.rbac")

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "dockyard"
USER_LABEL = "dockyard.dev/user"
ROLE_LABEL = "dockyard.dev/role"


def cluster_role(role: ProjectRole) -> str:
    return f"dockyard-project-{role.value}"


def binding_name(user_uid: str) -> str:
    return f"dockyard-{user_uid}"


def role_binding(namespace: str, user_uid: str, role: ProjectRole) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": binding_name(user_uid),
            "namespace": namespace,
            "labels": {MANAGED_BY: MANAGER, USER_LABEL: user_uid, ROLE_LABEL: role.value},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role(role)},
        "subjects": [identity.subject(user_uid)],
    }


async def desired_roles(session: AsyncSession, project: Project) -> dict[str, ProjectRole]:
    """user uid -> effective role in the project, for every enabled user who has one."""
    members = {
        uid: ProjectRole(role)
        for uid, role in await session.execute(
            select(User.uid, ProjectMember.role).join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project.id, ~User.disabled)
        )
    }
    ws_roles = {
        uid: WorkspaceRole(role)
        for uid, role in await session.execute(
            select(User.uid, WorkspaceMember.role).join(WorkspaceMember, WorkspaceMember.user_id == User.id)
            .where(WorkspaceMember.workspace_id == project.workspace_id, ~User.disabled)
        )
    }
    admins = set(await session.scalars(select(User.uid).where(User.platform_role == PlatformRole.admin, ~User.disabled)))
    desired: dict[str, ProjectRole] = {}
    for uid in set(members) | set(ws_roles) | admins:
        probe = User(platform_role=PlatformRole.admin if uid in admins else PlatformRole.regular)
        role = effective_project_role(probe, members.get(uid), ws_roles.get(uid))
        if role is not None:
            desired[uid] = role
    return desired


@dataclass
class ReconcileResult:
    created: int = 0
    deleted: int = 0
    replaced: int = 0


async def reconcile_project(session: AsyncSession, kube: KubeGateway, project: Project) -> ReconcileResult:
    desired = await desired_roles(session, project)
    result = ReconcileResult()
    actual = await kube.items("RoleBinding", project.name, actor=CONSOLE, label_selector=f"{MANAGED_BY}={MANAGER}")
    seen: set[str] = set()
    for rb in actual:
        meta = rb["metadata"]
        uid = (meta.get("labels") or {}).get(USER_LABEL, "")
        want = desired.get(uid)
        expected = role_binding(project.name, uid, want) if want else None
        if (
            expected is not None and meta["name"] == expected["metadata"]["name"] and uid not in seen
            and rb.get("roleRef") == expected["roleRef"] and rb.get("subjects") == expected["subjects"]
        ):
            seen.add(uid)
            continue
        await _delete(kube, project.name, meta["name"])
        if expected is not None and uid not in seen:
            result.replaced += 1
        else:
            result.deleted += 1
    for uid, role in desired.items():
        if uid not in seen:
            try:
                await kube.create(role_binding(project.name, uid, role), namespace=project.name, actor=CONSOLE)
            except KubeError as e:
                if not e.conflict:
                    raise
                await kube.replace(role_binding(project.name, uid, role), namespace=project.name, actor=CONSOLE)
            result.created += 1
    return result


async def _delete(kube: KubeGateway, namespace: str, name: str) -> None:
    try:
        await kube.delete("RoleBinding", namespace, name, actor=CONSOLE)
    except KubeError as e:
        if not e.not_found:
            raise


async def reconcile_project_safely(session: AsyncSession, kube: KubeGateway, project: Project) -> bool:
    """Reconcile after a membership change; a failure is logged and repaired by the periodic run."""
    try:
        await reconcile_project(session, kube, project)
        return True
    except KubeError as e:
        log.warning("rolebinding reconcile failed for %s: %s", project.name, e)
        return False


async def reconcile_all(session: AsyncSession, kube: KubeGateway) -> dict[str, ReconcileResult | str]:
    out: dict[str, ReconcileResult | str] = {}
    for project in await session.scalars(select(Project)):
        try:
            out[project.name] = await reconcile_project(session, kube, project)
        except KubeError as e:
            out[project.name] = str(e)
            log.warning("rolebinding reconcile failed for %s: %s", project.name, e)
    return out


async def reconcile_workspace_safely(session: AsyncSession, kube: KubeGateway, workspace_id: int) -> None:
    """Workspace roles imply project roles, so a workspace membership change touches every project."""
    for project in await session.scalars(select(Project).where(Project.workspace_id == workspace_id)):
        await reconcile_project_safely(session, kube, project)
