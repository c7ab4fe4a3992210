"""Single sign-on's accounts: who a checked ID token is (issuer + subject), the user made on the first
sign-in (no password), the platform role from the groups claim (refreshed at every sign-in).

An email already used by another account is never taken over silently: the sign-in is refused, unless
DOCKYARD_OIDC_LINK_VERIFIED_EMAIL is on and the provider says the email is verified; then that account
is linked to the identity once (and from then on its role follows the groups, as for any SSO account).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.errors import Conflict, DomainError, Forbidden
from app.domain.k8s.names import EMAIL, USERNAME
from app.i18n import _
from app.models import PlatformRole, User, UserIdentity
from app.models.base import utcnow
from app.settings import Settings

USERNAME_MAX = 32  # the rule every account follows (app/domain/users.py)


@dataclass(frozen=True)
class Account:
    user: User
    created: bool  # made by this sign-in
    linked: bool  # an existing account linked to this identity by this sign-in
    previous_role: PlatformRole  # before this sign-in (equal to the role when unchanged)


def names(value: str) -> frozenset[str]:
    """A comma-separated setting as a set of group names."""
    return frozenset(g.strip() for g in value.split(",") if g.strip())


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The groups claim as a list of names (providers send a list, some a single string)."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


def role_for(groups: list[str], settings: Settings) -> PlatformRole:
    """platform-admin for an admin group, else platform-self-provisioner for one of those, else regular."""
    have = set(groups)
    if have & names(settings.oidc_admin_groups):
        return PlatformRole.admin
    if have & names(settings.oidc_self_provisioner_groups):
        return PlatformRole.self_provisioner
    return PlatformRole.regular


def username_base(claims: Mapping[str, Any]) -> str:
    """A valid Dockyard username from preferred_username (its part before an @), else the email's local
    part, else "user": lowercase ASCII letters, digits and hyphens, at most 32 characters."""
    for key in ("preferred_username", "email"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            name = _slug(value.strip().split("@", 1)[0])
            if name:
                return name
    return "user"


def _slug(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out: list[str] = []
    for ch in ascii_:
        keep = ch if ("a" <= ch <= "z" or "0" <= ch <= "9") else "-"
        if keep == "-" and (not out or out[-1] == "-"):
            continue
        out.append(keep)
    return "".join(out)[:USERNAME_MAX].strip("-")


async def unique_username(session: AsyncSession, base: str) -> str:
    """`base`, or `base-2`, `base-3`, ... (cut so the suffix fits), the first no account has."""
    taken = set(await session.scalars(select(User.username).where(User.username.like(f"{base[:20]}%"))))
    candidate, n = base, 1
    while candidate in taken or not USERNAME.fullmatch(candidate):
        n += 1
        suffix = f"-{n}"
        candidate = base[: USERNAME_MAX - len(suffix)].rstrip("-") + suffix
    return candidate


def _email(claims: Mapping[str, Any]) -> str:
    value = claims.get("email")
    email = value.strip().lower() if isinstance(value, str) else ""
    return email if EMAIL.fullmatch(email) and len(email) <= 254 else ""


def _display_name(claims: Mapping[str, Any]) -> str:
    for key in ("name", "preferred_username"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:128]
    return ""


async def account_for(session: AsyncSession, settings: Settings, *, issuer: str,
                      claims: Mapping[str, Any]) -> Account:
    """The account of a checked ID token's identity: found, linked or made; its role refreshed; committed.
    Refused (nothing written) for a disabled account or an email another account has."""
    try:
        return await _account_for(session, settings, issuer=issuer, claims=claims)
    except IntegrityError:  # another process made the same account (or took the name) at the same moment
        await session.rollback()
        return await _account_for(session, settings, issuer=issuer, claims=claims)


async def _account_for(session: AsyncSession, settings: Settings, *, issuer: str,
                       claims: Mapping[str, Any]) -> Account:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255 or len(issuer) > 255:
        raise DomainError(_("The identity provider's answer does not say who you are (no usable subject)."))
    role = role_for(groups_of(claims, settings.oidc_groups_claim), settings)
    email = _email(claims)
    now = utcnow()
    identity = await session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject))
    created = linked = False
    if identity is not None:
        user = await session.get(User, identity.user_id)
        assert user is not None  # the identity's foreign key cascades
    else:
        if not email:
            raise DomainError(_(
                "The identity provider did not send a valid email address for your account, and Dockyard "
                "needs one. Ask the provider's administrator to release the email claim."))
        existing = await session.scalar(select(User).where(User.email == email))
        if existing is not None:
            # Another process may have just made this very identity's account (a sign-in twice at once).
            identity = await session.scalar(select(UserIdentity).where(
                UserIdentity.issuer == issuer, UserIdentity.subject == subject))
            if identity is not None:
                return await _account_for(session, settings, issuer=issuer, claims=claims)
            has_identity = await session.scalar(select(UserIdentity.id).where(
                UserIdentity.user_id == existing.id, UserIdentity.issuer == issuer))
            if not (settings.oidc_link_verified_email and claims.get("email_verified") is True
                    and not has_identity):
                raise Conflict(_(
                    "A Dockyard account with the email address {email} already exists, so single sign-on "
                    "did not create another one. Sign in with that account's password, or ask a platform "
                    "admin.").format(email=email))
            user, linked = existing, True
        else:
            user = User(username=await unique_username(session, username_base(claims)), email=email,
                        display_name=_display_name(claims), password_hash=None, platform_role=role)
            session.add(user)
            await session.flush()
            created = True
        identity = UserIdentity(user_id=user.id, issuer=issuer, subject=subject, created_at=now)
        session.add(identity)
    if user.disabled:
        await session.rollback()
        raise Forbidden(_("Your Dockyard account is disabled. Ask a platform admin to enable it."))
    previous = PlatformRole(user.platform_role)
    if previous != role:
        user.platform_role = role
    if not created:
        if (name := _display_name(claims)) and name != user.display_name:
            user.display_name = name
        if email and email != user.email and not await session.scalar(select(User.id).where(User.email == email)):
            user.email = email
    identity.last_sign_in_at = now
    await session.commit()
    return Account(user=user, created=created, linked=linked, previous_role=previous)
