"""Platform accounts: created by a platform admin (or the CLI), disabled, password reset."""

from __future__ import annotations

import logging

from sqlalchemy import Select, case, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import rbac
from app.domain.auth import revoke_all_sessions
from app.domain.errors import Invalid, NotFound
from app.domain.k8s.names import EMAIL, USERNAME
from app.domain.passwords import hash_password, password_problem
from app.i18n import _
from app.kube.client import KubeGateway
from app.kube.errors import KubeError
from app.models import PlatformRole, ProjectMember, User, WorkspaceMember
from app.models.base import utcnow

log = logging.getLogger("dockyard")


async def list_users(session: AsyncSession, *, query: str = "") -> list[User]:
    q = select(User).order_by(User.username)
    if query:
        like = f"%{query.lower()}%"
        q = q.where(or_(User.username.like(like), User.email.like(like), User.display_name.like(like)))
    return list(await session.scalars(q))


CANDIDATES = 10  # a type-ahead offers at most this many users


async def candidates(session: AsyncSession, query: str, *, member_of: int | None = None,
                     not_in_workspace: int | None = None, not_in_project: int | None = None,
                     exclude: int | None = None, limit: int = CANDIDATES) -> list[User]:
    """Users to pick from for a type-ahead (at most `limit` + 1: one more tells there are more): enabled
    ones, members of the workspace `member_of` if given, not in `not_in_workspace`/`not_in_project`, never
    `exclude`. Usernames that start with the query first (a range of the username index), then those whose
    display name or email starts with it, then any that contain it; by username within each."""
    q = query.strip().lower()
    eligible = select(User).where(~User.disabled)
    if member_of is not None:
        eligible = eligible.join(WorkspaceMember, (WorkspaceMember.user_id == User.id)
                                 & (WorkspaceMember.workspace_id == member_of))
    if not_in_workspace is not None:
        eligible = eligible.where(~exists().where(WorkspaceMember.workspace_id == not_in_workspace,
                                                  WorkspaceMember.user_id == User.id))
    if not_in_project is not None:
        eligible = eligible.where(~exists().where(ProjectMember.project_id == not_in_project,
                                                  ProjectMember.user_id == User.id))
    if exclude is not None:
        eligible = eligible.where(User.id != exclude)
    found = list(await session.scalars(_username_prefix(eligible, q).order_by(User.username).limit(limit + 1)))
    if len(found) > limit or not q:
        return found
    display = func.lower(User.display_name)
    rank = case((or_(User.email.startswith(q, autoescape=True), display.startswith(q, autoescape=True)), 0), else_=1)
    more = eligible.where(or_(User.username.contains(q, autoescape=True), User.email.contains(q, autoescape=True),
                              display.contains(q, autoescape=True)))
    if found:
        more = more.where(User.id.not_in([u.id for u in found]))
    more = more.order_by(rank, User.username).limit(limit + 1 - len(found))
    return found + list(await session.scalars(more))


def _username_prefix(eligible: Select[User], q: str) -> Select[User]:
    """Usernames starting with `q`, as a range of the username index (LIKE alone cannot use it on either
    database: SQLite's LIKE ignores case, PostgreSQL's index has the database's collation)."""
    if not q:
        return eligible
    if not q.isascii():  # usernames are ASCII (app/domain/k8s/names.py USERNAME)
        return eligible.where(false())
    upper = q[:-1] + chr(ord(q[-1]) + 1)
    return eligible.where(User.username >= q, User.username < upper, User.username.startswith(q, autoescape=True))


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_("User {name} does not exist.").format(name=username))
    return user


async def create_user(
    session: AsyncSession, *, username: str, email: str, password: str, platform_role: str,
    display_name: str = "",
) -> User:
    errors: dict[str, str] = {}
    username = username.strip()
    email = email.strip().lower()
    if not username:
        errors["username"] = _("Please set a username.")
    elif len(username) > 32 or not USERNAME.fullmatch(username):
        errors["username"] = _(
            "The username can contain only lowercase letters, numbers, and hyphens (-), must start and end "
            "with a lowercase letter or number, and can be at most 32 characters long."
        )
    elif await session.scalar(select(User.id).where(User.username == username)):
        errors["username"] = _("The username already exists. Please enter another username.")
    if not EMAIL.fullmatch(email) or len(email) > 254:
        errors["email"] = _("Please enter a valid email address.")
    elif await session.scalar(select(User.id).where(User.email == email)):
        errors["email"] = _("The email address is already in use.")
    if problem := password_problem(password):
        errors["password"] = problem
    try:
        role = PlatformRole(platform_role)
    except ValueError:
        errors["platform_role"] = _("The platform role {role} does not exist.").format(role=platform_role)
        role = PlatformRole.regular
    if len(display_name) > 128:
        errors["display_name"] = _("The display name can be at most 128 characters long.")
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    user = User(
        username=username, email=email, display_name=display_name.strip(),
        password_hash=await hash_password(password), platform_role=role,
    )
    session.add(user)
    await session.commit()
    return user


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    if problem := password_problem(password):
        raise Invalid(problem, field="password")
    user.password_hash = await hash_password(password)
    user.password_changed_at = utcnow()
    await revoke_all_sessions(session, user.id)
    await session.commit()


async def set_disabled(session: AsyncSession, kube: KubeGateway, user: User, disabled: bool, *,
                       actor: User) -> None:
    """Disable (or enable) an account. Disabled: its sessions end, its ServiceAccount is removed (every
    token of it stops working at once) and its RoleBindings go. Enabled: they come back."""
    if user.id == actor.id and disabled:
        raise Invalid(_("You cannot disable your own account."))
    user.disabled = disabled
    if disabled:
        await revoke_all_sessions(session, user.id)
    await session.commit()
    if disabled:
        try:
            await kube.tokens.remove_account(user.uid)
        except KubeError as e:  # its bindings still go below, and the reconciler retries them
            log.warning("could not remove the service account of %s: %s", user.username, e)
    await rbac.reconcile_all(session, kube)


async def set_platform_role(session: AsyncSession, user: User, role: str, *, actor: User) -> None:
    try:
        new = PlatformRole(role)
    except ValueError:
        raise Invalid(_("The platform role {role} does not exist.").format(role=role), field="platform_role") from None
    if user.id == actor.id:
        raise Invalid(_("You cannot change your own platform role."), field="platform_role")
    user.platform_role = new
    await session.commit()


async def bootstrap_admin(session: AsyncSession, *, username: str, password: str) -> User | None:
    """The first platform admin, from a bootstrap Secret (the Helm chart mounts it), made only while the
    platform has none; later starts change nothing, so the password is the admin's own from then on."""
    if await session.scalar(select(User).where(User.platform_role == PlatformRole.admin.value).limit(1)):
        return None
    user = await create_user(session, username=username, email=f"{username}@dockyard.local", password=password,
                             platform_role=PlatformRole.admin.value)
    await session.commit()
    return user
