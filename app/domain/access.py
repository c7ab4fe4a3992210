"""Who may do what: every role decision goes through this module.

Effective project role = the strongest of: the user's project membership, the role their workspace
membership implies (workspace-admin -> admin, workspace-viewer -> viewer), and platform-admin -> admin.
The reconciler mirrors the same effective roles into RoleBindings, so the cluster enforces them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.models import PlatformRole, ProjectRole, User, WorkspaceRole

PROJECT_RANK = {ProjectRole.viewer: 1, ProjectRole.operator: 2, ProjectRole.admin: 3}
WORKSPACE_IMPLIES: dict[WorkspaceRole, ProjectRole | None] = {
    WorkspaceRole.admin: ProjectRole.admin,
    WorkspaceRole.viewer: ProjectRole.viewer,
    WorkspaceRole.self_provisioner: None,
    WorkspaceRole.regular: None,
}


class Permission(StrEnum):
    # platform
    manage_users = "platform.manage-users"
    create_workspace = "platform.create-workspace"
    view_audit = "platform.view-audit"
    # workspace
    view_workspace = "workspace.view"
    view_workspace_members = "workspace.view-members"
    manage_workspace_members = "workspace.manage-members"
    create_project = "workspace.create-project"
    # project
    view_project = "project.view"
    manage_project_members = "project.manage-members"
    edit_resources = "project.edit-resources"


def strongest(*roles: ProjectRole | None) -> ProjectRole | None:
    present = [r for r in roles if r is not None]
    return max(present, key=lambda r: PROJECT_RANK[r]) if present else None


@dataclass(frozen=True)
class WorkspaceAccess:
    user: User
    role: WorkspaceRole | None
    # True when the user only sees the workspace through a project membership.
    via_project: bool = False

    def can(self, perm: Permission) -> bool:
        if self.user.is_platform_admin:
            return True
        r = self.role
        if perm == Permission.view_workspace:
            return r is not None or self.via_project
        if perm == Permission.view_workspace_members:
            return r in (WorkspaceRole.admin, WorkspaceRole.viewer, WorkspaceRole.self_provisioner,
                         WorkspaceRole.regular)
        if perm == Permission.manage_workspace_members:
            return r == WorkspaceRole.admin
        if perm == Permission.create_project:
            return r in (WorkspaceRole.admin, WorkspaceRole.self_provisioner)
        return False

    @property
    def sees_all_projects(self) -> bool:
        return self.user.is_platform_admin or self.role in (WorkspaceRole.admin, WorkspaceRole.viewer)


@dataclass(frozen=True)
class ProjectAccess:
    user: User
    role: ProjectRole | None  # effective role; None means the project is invisible (404)
    member_role: ProjectRole | None = None  # the user's own project membership, if any
    workspace_role: WorkspaceRole | None = None  # their role in the project's workspace, if any

    def can(self, perm: Permission) -> bool:
        r = self.role
        if r is None:
            return False
        if perm == Permission.view_project:
            return True
        if perm == Permission.manage_project_members:
            return r == ProjectRole.admin
        if perm == Permission.edit_resources:
            return r in (ProjectRole.admin, ProjectRole.operator)
        return False

    def may_grant(self, role: ProjectRole) -> bool:
        """Nobody grants a role above their own."""
        return self.role is not None and PROJECT_RANK[role] <= PROJECT_RANK[self.role]


def platform_can(user: User, perm: Permission) -> bool:
    if user.is_platform_admin:
        return True
    if perm == Permission.create_workspace:
        return user.platform_role == PlatformRole.self_provisioner
    return False


def effective_project_role(
    user: User, member_role: ProjectRole | None, workspace_role: WorkspaceRole | None
) -> ProjectRole | None:
    return strongest(
        ProjectRole.admin if user.is_platform_admin else None,
        member_role,
        WORKSPACE_IMPLIES.get(workspace_role) if workspace_role else None,
    )
