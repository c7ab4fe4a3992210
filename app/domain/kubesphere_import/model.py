"""What the import reads (a snapshot of KubeSphere's objects and of Dockyard's tenancy) and what it plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.i18n import lazy_
from app.models import PlatformRole, ProjectRole, WorkspaceRole

Obj = dict[str, Any]


@dataclass(frozen=True)
class KubeSphere:
    """KubeSphere's tenancy objects as the cluster holds them (JSON dicts, unchanged)."""

    edition: str  # "3.4" or "4.x", told apart by discovery (only 4.x serves roles.iam.kubesphere.io)
    users: list[Obj] = field(default_factory=list)
    global_roles: list[Obj] = field(default_factory=list)
    global_role_bindings: list[Obj] = field(default_factory=list)
    workspace_roles: list[Obj] = field(default_factory=list)
    workspace_role_bindings: list[Obj] = field(default_factory=list)
    # WorkspaceTemplates, then the Workspaces no template stands for (a member cluster has only those).
    workspaces: list[Obj] = field(default_factory=list)
    groups: list[Obj] = field(default_factory=list)
    group_bindings: list[Obj] = field(default_factory=list)
    namespaces: list[Obj] = field(default_factory=list)
    # Project roles and their bindings: core rbac ones in 3.4, iam.kubesphere.io ones in 4.x.
    roles: list[Obj] = field(default_factory=list)
    role_bindings: list[Obj] = field(default_factory=list)
    services: dict[str, list[Obj]] = field(default_factory=dict)  # namespace -> its Services
    # namespace -> its Deployments, StatefulSets, DaemonSets and Pods (each with "kind" set), read only for
    # the namespaces that carry no Pod Security label, to choose the level they keep working at.
    workloads: dict[str, list[Obj]] = field(default_factory=dict)


@dataclass(frozen=True)
class Dockyard:
    """Dockyard's tenancy before the import, by name."""

    users: dict[str, str] = field(default_factory=dict)  # username -> email
    emails: dict[str, str] = field(default_factory=dict)  # email -> username
    workspaces: frozenset[str] = frozenset()
    projects: dict[str, str] = field(default_factory=dict)  # project -> its workspace
    workspace_members: dict[tuple[str, str], str] = field(default_factory=dict)  # (workspace, user) -> role
    project_members: dict[tuple[str, str], str] = field(default_factory=dict)  # (project, user) -> role


class Status(StrEnum):
    create = "create"  # will be created in Dockyard
    exists = "exists"  # Dockyard has it already (nothing changes)
    skip = "skip"  # does not map: `reason` says why


class Category(StrEnum):
    users = "users"
    identities = "identities"
    workspaces = "workspaces"
    workspace_members = "workspace-members"
    projects = "projects"
    project_members = "project-members"
    roles = "roles"
    groups = "groups"


CATEGORY_TITLES = {
    Category.users: lazy_("Users"),
    Category.identities: lazy_("Sign-in identities"),
    Category.workspaces: lazy_("Workspaces"),
    Category.workspace_members: lazy_("Workspace members"),
    Category.projects: lazy_("Projects"),
    Category.project_members: lazy_("Project members"),
    Category.roles: lazy_("Roles"),
    Category.groups: lazy_("Groups"),
}


@dataclass(frozen=True)
class UserSpec:
    username: str
    email: str
    display_name: str
    platform_role: PlatformRole
    disabled: bool


@dataclass(frozen=True)
class WorkspaceSpec:
    name: str
    alias: str
    description: str


@dataclass(frozen=True)
class MemberSpec:
    scope: str  # the workspace's or the project's name
    username: str
    role: WorkspaceRole | ProjectRole


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    workspace: str
    alias: str
    description: str
    creator: str  # a username, or "" when the creator is not imported
    pod_security: str


Spec = UserSpec | WorkspaceSpec | MemberSpec | ProjectSpec


@dataclass(frozen=True)
class Item:
    """One line of the report: a KubeSphere object (or pair) and what the import does with it."""

    category: Category
    name: str
    detail: str
    status: Status
    reason: str = ""  # why it does not map (skip), or a note on what is created
    spec: Spec | None = None  # what is created (status create) or matched (exists)


@dataclass(frozen=True)
class Plan:
    edition: str
    items: list[Item]
    notes: list[str] = field(default_factory=list)

    def of(self, category: Category, status: Status | None = None) -> list[Item]:
        return [i for i in self.items if i.category == category and (status is None or i.status == status)]

    def count(self, status: Status) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def categories(self) -> list[Category]:
        """The categories that have lines, in the report's order."""
        present = {i.category for i in self.items}
        return [c for c in Category if c in present]

    def specs(self, kind: type[Spec], category: Category | None = None) -> list[Any]:
        """What the import creates of one kind (status create), in the plan's order."""
        return [i.spec for i in self.items if i.status == Status.create and isinstance(i.spec, kind)
                and (category is None or i.category == category)]
