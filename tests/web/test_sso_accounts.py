"""Single sign-on's accounts in the database (SQLite or PostgreSQL): names made unique, an existing
account's email never taken over unless linking verified emails is allowed, one account per identity even
when two processes sign it in at once."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy import func, select

from app.domain import users as users_domain
from app.domain.errors import Conflict, DomainError
from app.domain.sso_users import account_for, unique_username
from app.models import PlatformRole, User, UserIdentity
from app.settings import Settings

ISSUER = "https://idp.example.test"


def _settings(**values: object) -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///:memory:", oidc_issuer=ISSUER, oidc_client_id="dockyard",
                    oidc_admin_groups="admins", **values)  # type: ignore[arg-type]


def _claims(name: str, **extra: object) -> dict[str, object]:
    return {"sub": f"sub-{name}", "preferred_username": name, "email": f"{name}@example.test",
            "email_verified": True, "name": name.title(), **extra}


async def test_a_taken_username_gets_the_first_free_suffix(app) -> None:  # type: ignore[no-untyped-def]
    base = f"sam{secrets.token_hex(3)}"
    async with app.state.sessionmaker() as s:
        for name in (base, f"{base}-2"):
            await users_domain.create_user(s, username=name, email=f"{name}@local.test", password="long-password-1",
                                           platform_role="platform-regular")
        assert await unique_username(s, base) == f"{base}-3"
        long = "l" + secrets.token_hex(3) + "x" * 25  # 32 characters
        await users_domain.create_user(s, username=long, email=f"{long}@local.test", password="long-password-1",
                                       platform_role="platform-regular")
        free = await unique_username(s, long)
        assert free == long[:30] + "-2" and len(free) == 32
        account = await account_for(s, _settings(), issuer=ISSUER, claims=_claims(base, sub=f"sub-{base}-sso",
                                                                                  email=f"{base}@sso.test"))
    assert account.created and account.user.username == f"{base}-3" and account.user.password_hash is None


async def test_an_existing_accounts_verified_email_links_only_when_allowed(app) -> None:  # type: ignore[no-untyped-def]
    name = f"lin{secrets.token_hex(3)}"
    async with app.state.sessionmaker() as s:
        local = await users_domain.create_user(s, username=name, email=f"{name}@example.test",
                                               password="long-password-1", platform_role="platform-regular")
        with pytest.raises(Conflict):  # the default: refused
            await account_for(s, _settings(), issuer=ISSUER, claims=_claims(name))
        with pytest.raises(Conflict):  # allowed, but the provider does not vouch for the email
            await account_for(s, _settings(oidc_link_verified_email=True), issuer=ISSUER,
                              claims=_claims(name, email_verified=False))
        assert not await s.scalar(select(func.count()).select_from(UserIdentity).where(UserIdentity.user_id == local.id))
        account = await account_for(s, _settings(oidc_link_verified_email=True), issuer=ISSUER,
                                    claims=_claims(name, groups=["admins"]))
        assert account.linked and not account.created and account.user.id == local.id
        assert account.user.platform_role == PlatformRole.admin  # from now on its role follows its groups
        assert account.user.password_hash  # and it keeps its password
        again = await account_for(s, _settings(), issuer=ISSUER, claims=_claims(name))
        assert again.user.id == local.id and not again.linked and again.user.platform_role == PlatformRole.regular


async def test_an_identity_without_an_email_or_subject_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    name = f"noe{secrets.token_hex(3)}"
    async with app.state.sessionmaker() as s:
        before = await s.scalar(select(func.count()).select_from(User))
        with pytest.raises(DomainError, match="email address"):
            await account_for(s, _settings(), issuer=ISSUER, claims=_claims(name, email="not-an-email"))
        with pytest.raises(DomainError, match="subject"):
            await account_for(s, _settings(), issuer=ISSUER, claims=_claims(name, sub=""))
        assert await s.scalar(select(func.count()).select_from(User)) == before


async def test_two_processes_signing_in_the_same_identity_make_one_account(app) -> None:  # type: ignore[no-untyped-def]
    name = f"twin{secrets.token_hex(3)}"

    async def sign_in() -> int:
        async with app.state.sessionmaker() as s:
            return (await account_for(s, _settings(), issuer=ISSUER, claims=_claims(name))).user.id

    ids = await asyncio.gather(sign_in(), sign_in())
    assert ids[0] == ids[1]
    async with app.state.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(User).where(User.email == f"{name}@example.test")) == 1
