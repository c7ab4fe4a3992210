"""Projects (a namespace labelled with its workspace) and their members."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import rbac, users
from app.domain.access import (
    Permission,
    ProjectAccess,
    WorkspaceAccess,
    effective_project_role,
)
from app.domain.errors import Forbidden, Invalid, NotFound, Unavailable
from app.domain.k8s.names import dns1123_label_problem, info_problems
from app.domain.manifests import ANNOTATION_ALIAS, ANNOTATION_CREATOR, ANNOTATION_DESCRIPTION
from app.domain.pod_security import DEFAULT_LEVEL, namespace_labels
from app.i18n import _
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from app.models import Project, ProjectMember, ProjectRole, User, Workspace, WorkspaceMember, WorkspaceRole

WORKSPACE_LABEL = "kubesphere.io/workspace"
# Namespaces Dockyard must never adopt as projects.
RESERVED = {"default", "kube-system", "kube-public", "kube-node-lease", "dockyard-system", "dockyard-users"}


async def list_projects(session: AsyncSession, *, ws: Workspace, access: WorkspaceAccess) -> list[Project]:
    q = select(Project).where(Project.workspace_id == ws.id).order_by(Project.name)
    if not access.sees_all_projects:
        q = q.join(ProjectMember, ProjectMember.project_id == Project.id).where(ProjectMember.user_id == access.user.id)
    return list((await session.scalars(q)).unique())


async def project_access_by_name(session: AsyncSession, user: User, ws_name: str, name: str
                                 ) -> tuple[Workspace, Project, ProjectAccess]:
    """One query for what every project page needs: the workspace, the project and the user's effective
    role in it; NotFound when either does not exist or the user may not see the project."""
    row = (await session.execute(
        select(Project, WorkspaceMember.role, ProjectMember.role)
        .join(Workspace, Workspace.id == Project.workspace_id)
        .outerjoin(WorkspaceMember, (WorkspaceMember.workspace_id == Workspace.id) & (WorkspaceMember.user_id == user.id))
        .outerjoin(ProjectMember, (ProjectMember.project_id == Project.id) & (ProjectMember.user_id == user.id))
        .where(Workspace.name == ws_name, Project.name == name)
    )).first()
    if row is None:
        raise NotFound(_("Project not found."))
    project, ws_role, member_role = row
    member = ProjectRole(member_role) if member_role else None
    role = effective_project_role(user, member, WorkspaceRole(ws_role) if ws_role else None)
    if role is None:
        raise NotFound(_("Project not found."))
    return project.workspace, project, ProjectAccess(user=user, role=role, member_role=member,
                                                     workspace_role=WorkspaceRole(ws_role) if ws_role else None)


async def create_project(
    session: AsyncSession, kube: KubeGateway, *, ws: Workspace, access: WorkspaceAccess, name: str,
    alias: str = "", description: str = "",
) -> Project:
    """Create the namespace, then the project row; if either fails, neither stays."""
    if not access.can(Permission.create_project):
        raise Forbidden(_("You are not allowed to create projects in this workspace."))
    errors: dict[str, str] = {}
    name = name.strip()
    if problem := dns1123_label_problem(name):
        errors["name"] = problem
    elif name in RESERVED or name.startswith("kube-"):
        errors["name"] = _("This name is reserved by Kubernetes. Please enter another name.")
    elif await session.scalar(select(Project.id).where(Project.name == name)):
        errors["name"] = _("The name already exists. Please enter another name.")
    errors.update(info_problems(alias, description))
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    namespace = {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {WORKSPACE_LABEL: ws.name, "app.kubernetes.io/managed-by": "dockyard",
                       **namespace_labels(DEFAULT_LEVEL)},
            "annotations": {ANNOTATION_CREATOR: access.user.username,
                            **({ANNOTATION_ALIAS: alias} if alias else {}),
                            **({ANNOTATION_DESCRIPTION: description} if description else {})},
        },
    }
    try:
        await kube.create(namespace, namespace=None, actor=CONSOLE)
    except KubeError as e:
        if e.conflict:
            raise Invalid(_("A namespace named {name} already exists in the cluster.").format(name=name),
                          field="name") from None
        if e.status == 0:
            raise Unavailable(_("The cluster did not answer: {msg}").format(msg=e.message)) from None
        raise Invalid(_("The cluster refused the namespace: {msg}").format(msg=e.message), field="name") from None
    try:
        project = Project(name=name, workspace_id=ws.id, alias=alias.strip(), description=description,
                          creator_id=access.user.id, pod_security=DEFAULT_LEVEL.value)
        session.add(project)
        await session.flush()
        session.add(ProjectMember(project_id=project.id, user_id=access.user.id, role=ProjectRole.admin))
        await session.commit()
    except Exception:
        await session.rollback()
        try:
            await kube.delete("Namespace", None, name, actor=CONSOLE)
        except KubeError:
            pass
        raise
    await rbac.reconcile_project_safely(session, kube, project)
    return project


async def list_members(session: AsyncSession, project: Project) -> list[ProjectMember]:
    return list(await session.scalars(
        select(ProjectMember).where(ProjectMember.project_id == project.id).join(User).order_by(User.username)
    ))


async def member(session: AsyncSession, project: Project, username: str) -> ProjectMember:
    """One member of the project (to ask before removing them); NotFound if they are not one."""
    found = await session.scalar(select(ProjectMember).join(User).where(
        ProjectMember.project_id == project.id, User.username == username))
    if found is None:
        raise NotFound(_("{name} is not a member of this project.").format(name=username))
    return found


async def invite_candidates(session: AsyncSession, project: Project, *, actor: User, query: str) -> list[User]:
    """Whom the Invite field offers for `query`: members of the project's workspace not yet in the project
    (never the actor, never a disabled account); at most users.CANDIDATES, plus one if there are more."""
    return await users.candidates(session, query, member_of=project.workspace_id, not_in_project=project.id,
                                  exclude=actor.id)


def _parse_role(role: str) -> ProjectRole:
    try:
        return ProjectRole(role)
    except ValueError:
        raise Invalid(_("The role {role} does not exist.").format(role=role), field="role") from None


async def set_member(
    session: AsyncSession, kube: KubeGateway, *, project: Project, access: ProjectAccess, username: str, role: str,
    invite: bool = False,
) -> ProjectMember:
    """Invite a workspace member, or change their role; the cluster's RoleBinding follows. `invite`: the
    Invite form, where a name that cannot be invited (yourself, a member already, a disabled account) is
    refused on the field."""
    if not access.can(Permission.manage_project_members):
        raise Forbidden(_("Only a project administrator can manage members."))
    new_role = _parse_role(role)
    if not access.may_grant(new_role):
        raise Forbidden(_("You cannot grant a role above your own."))
    user = await session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise Invalid(_("User {name} does not exist.").format(name=username), field="username")
    if user.id == access.user.id:
        if invite:
            raise Invalid(_("You cannot invite yourself."), field="username")
        raise Forbidden(_("You cannot change your own membership."))
    in_workspace = await session.scalar(
        select(WorkspaceMember.id).where(WorkspaceMember.workspace_id == project.workspace_id,
                                         WorkspaceMember.user_id == user.id)
    )
    if not in_workspace:
        raise Invalid(
            _("{name} is not a member of the workspace. Invite them to the workspace first.").format(name=username),
            field="username",
        )
    member = await session.scalar(
        select(ProjectMember).where(ProjectMember.project_id == project.id, ProjectMember.user_id == user.id)
    )
    if invite and member is not None:
        raise Invalid(_("{name} is already a member of this project: change their role in the list above.").format(
            name=user.username), field="username")
    if invite and user.disabled:
        raise Invalid(_("The account {name} is disabled and cannot be invited.").format(name=user.username),
                      field="username")
    if member is None:
        member = ProjectMember(project_id=project.id, user_id=user.id, role=new_role)
        session.add(member)
    else:
        member.role = new_role
    await session.commit()
    await rbac.reconcile_project_safely(session, kube, project)
    return member


async def remove_member(
    session: AsyncSession, kube: KubeGateway, *, project: Project, access: ProjectAccess, username: str,
) -> None:
    if not access.can(Permission.manage_project_members):
        raise Forbidden(_("Only a project administrator can manage members."))
    user = await session.scalar(select(User).where(User.username == username))
    member = user and await session.scalar(
        select(ProjectMember).where(ProjectMember.project_id == project.id, ProjectMember.user_id == user.id)
    )
    if user is None or member is None:
        raise NotFound(_("{name} is not a member of this project.").format(name=username))
    if user.id == access.user.id:
        raise Forbidden(_("You cannot change your own membership."))
    await session.delete(member)
    await session.commit()
    await rbac.reconcile_project_safely(session, kube, project)
