"""Workspaces and their members."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import users
from app.domain.access import Permission, WorkspaceAccess, platform_can
from app.domain.errors import DomainError, Forbidden, Invalid, NotFound
from app.domain.k8s.names import dns1123_label_problem, info_problems
from app.i18n import _
from app.models import Project, ProjectMember, User, Workspace, WorkspaceMember, WorkspaceRole


async def visible_workspaces(session: AsyncSession, user: User) -> list[Workspace]:
    """Workspaces the user belongs to, or holds a project in; all of them for a platform admin."""
    q = select(Workspace).order_by(Workspace.name)
    if not user.is_platform_admin:
        member = select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == user.id)
        via_project = (
            select(Project.workspace_id).join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(ProjectMember.user_id == user.id)
        )
        q = q.where(Workspace.id.in_(member.union(via_project)))
    return list(await session.scalars(q))


async def workspace_access(session: AsyncSession, user: User, name: str) -> tuple[Workspace, WorkspaceAccess]:
    """The workspace and the user's rights in it; NotFound when the user may not see it."""
    ws = await session.scalar(select(Workspace).where(Workspace.name == name))
    if ws is None:
        raise NotFound(_("Workspace not found."))
    role = await session.scalar(
        select(WorkspaceMember.role).where(WorkspaceMember.workspace_id == ws.id, WorkspaceMember.user_id == user.id)
    )
    via_project = False
    if role is None and not user.is_platform_admin:
        via_project = bool(await session.scalar(
            select(func.count()).select_from(ProjectMember).join(Project, Project.id == ProjectMember.project_id)
            .where(Project.workspace_id == ws.id, ProjectMember.user_id == user.id)
        ))
        if not via_project:
            raise NotFound(_("Workspace not found."))
    return ws, WorkspaceAccess(user=user, role=WorkspaceRole(role) if role else None, via_project=via_project)


async def create_workspace(
    session: AsyncSession, *, actor: User, name: str, alias: str = "", description: str = "",
    manager: User | None = None,
) -> Workspace:
    if not platform_can(actor, Permission.create_workspace):
        raise Forbidden(_("You are not allowed to create workspaces."))
    errors: dict[str, str] = {}
    name = name.strip()
    if problem := dns1123_label_problem(name):
        errors["name"] = problem
    elif await session.scalar(select(Workspace.id).where(Workspace.name == name)):
        errors["name"] = _("The name already exists. Please enter another name.")
    errors.update(info_problems(alias, description))
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    ws = Workspace(name=name, alias=alias.strip(), description=description)
    session.add(ws)
    await session.flush()
    session.add(WorkspaceMember(workspace_id=ws.id, user_id=(manager or actor).id, role=WorkspaceRole.admin))
    await session.commit()
    return ws


async def list_members(session: AsyncSession, ws: Workspace) -> list[WorkspaceMember]:
    return list(await session.scalars(
        select(WorkspaceMember).where(WorkspaceMember.workspace_id == ws.id).join(User).order_by(User.username)
    ))


async def invite_candidates(session: AsyncSession, ws: Workspace, *, actor: User, query: str) -> list[User]:
    """Whom the Invite field offers for `query`: platform users not yet in the workspace (never the actor,
    never a disabled account); at most users.CANDIDATES, plus one if there are more."""
    return await users.candidates(session, query, not_in_workspace=ws.id, exclude=actor.id)


async def member(session: AsyncSession, ws: Workspace, username: str) -> WorkspaceMember:
    """One member of the workspace (to ask before removing them); NotFound if they are not one."""
    found = await session.scalar(select(WorkspaceMember).join(User).where(
        WorkspaceMember.workspace_id == ws.id, User.username == username))
    if found is None:
        raise NotFound(_("{name} is not a member of this workspace.").format(name=username))
    return found


async def _lock_members(session: AsyncSession, ws: Workspace) -> None:
    """Serialize membership changes of one workspace until the transaction ends: a no-op UPDATE of its
    row takes PostgreSQL's row lock (a concurrent change waits, then counts what was committed) and
    SQLite's write lock (the statement opens the transaction, so no older snapshot is kept). A refusal
    ends the transaction at once: the refusal's audit row is written by another session."""
    await session.execute(update(Workspace).where(Workspace.id == ws.id).values(name=Workspace.name))


async def _still_manages(session: AsyncSession, access: WorkspaceAccess, ws: Workspace) -> None:
    """Take the lock, then check the actor's role again: another admin may have removed them meanwhile."""
    await _lock_members(session, ws)
    if access.user.is_platform_admin:
        return
    role = await session.scalar(select(WorkspaceMember.role).where(
        WorkspaceMember.workspace_id == ws.id, WorkspaceMember.user_id == access.user.id))
    if role != WorkspaceRole.admin:
        await session.commit()
        raise Forbidden(_("Only a workspace administrator can manage members."))


def _parse_role(role: str) -> WorkspaceRole:
    try:
        return WorkspaceRole(role)
    except ValueError:
        raise Invalid(_("The role {role} does not exist.").format(role=role), field="role") from None


async def _admin_count(session: AsyncSession, ws: Workspace) -> int:
    """Call under `_lock_members`, so two admins removing each other at once cannot both see two."""
    return int(await session.scalar(
        select(func.count()).select_from(WorkspaceMember).where(
            WorkspaceMember.workspace_id == ws.id, WorkspaceMember.role == WorkspaceRole.admin)
    ) or 0)


async def set_member(session: AsyncSession, *, access: WorkspaceAccess, ws: Workspace, username: str, role: str,
                     invite: bool = False) -> WorkspaceMember:
    """Invite an existing user, or change their role (one role per user per workspace). `invite`: the Invite
    form, where a name that cannot be invited (yourself, a member already, a disabled account) is refused
    on the field."""
    if not access.can(Permission.manage_workspace_members):
        raise Forbidden(_("Only a workspace administrator can manage members."))
    new_role = _parse_role(role)
    await _still_manages(session, access, ws)
    try:
        return await _set_member_locked(session, access=access, ws=ws, username=username, new_role=new_role,
                                        invite=invite)
    except DomainError:
        await session.commit()  # nothing was changed: end the transaction so the lock goes (objects stay loaded)
        raise


async def _set_member_locked(session: AsyncSession, *, access: WorkspaceAccess, ws: Workspace, username: str,
                             new_role: WorkspaceRole, invite: bool = False) -> WorkspaceMember:
    user = await session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise Invalid(_("User {name} does not exist.").format(name=username), field="username")
    if user.id == access.user.id:
        if invite:
            raise Invalid(_("You cannot invite yourself."), field="username")
        raise Forbidden(_("You cannot change your own membership."))
    member = await session.scalar(
        select(WorkspaceMember).where(WorkspaceMember.workspace_id == ws.id, WorkspaceMember.user_id == user.id)
    )
    if invite and member is not None:
        raise Invalid(_("{name} is already a member of this workspace: change their role in the list above.").format(
            name=user.username), field="username")
    if invite and user.disabled:
        raise Invalid(_("The account {name} is disabled and cannot be invited.").format(name=user.username),
                      field="username")
    if member is None:
        member = WorkspaceMember(workspace_id=ws.id, user_id=user.id, role=new_role)
        session.add(member)
    else:
        if member.role == WorkspaceRole.admin and new_role != WorkspaceRole.admin and await _admin_count(session, ws) <= 1:
            raise Invalid(_("The last workspace administrator cannot be removed or demoted."), field="role")
        member.role = new_role
    await session.commit()
    return member


async def remove_member(session: AsyncSession, *, access: WorkspaceAccess, ws: Workspace, username: str) -> None:
    """Remove a user from the workspace and from every project in it."""
    if not access.can(Permission.manage_workspace_members):
        raise Forbidden(_("Only a workspace administrator can manage members."))
    await _still_manages(session, access, ws)
    try:
        await _remove_member_locked(session, access=access, ws=ws, username=username)
    except DomainError:
        await session.commit()
        raise


async def _remove_member_locked(session: AsyncSession, *, access: WorkspaceAccess, ws: Workspace, username: str) -> None:
    user = await session.scalar(select(User).where(User.username == username))
    member = None if user is None else await session.scalar(
        select(WorkspaceMember).where(WorkspaceMember.workspace_id == ws.id, WorkspaceMember.user_id == user.id)
    )
    if user is None or member is None:
        raise NotFound(_("{name} is not a member of this workspace.").format(name=username))
    if user.id == access.user.id:
        raise Forbidden(_("You cannot change your own membership."))
    if member.role == WorkspaceRole.admin and await _admin_count(session, ws) <= 1:
        raise Invalid(_("The last workspace administrator cannot be removed or demoted."))
    await session.delete(member)
    project_ids = select(Project.id).where(Project.workspace_id == ws.id)
    for pm in await session.scalars(
        select(ProjectMember).where(ProjectMember.user_id == user.id, ProjectMember.project_id.in_(project_ids))
    ):
        await session.delete(pm)
    await session.commit()
