"""What the single sign-on web tests share: a console app configured for the real provider of
tests/oidc_provider.py, a browser-like httpx client for it, and counts of what a sign-in writes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from sqlalchemy import func, select

from app.main import create_app
from app.models import AuthSession, OidcFlow, User, UserIdentity
from app.settings import Settings
from tests.oidc_provider import OidcProvider, ProviderUser, settings_for, sign_in_at_provider


@contextlib.asynccontextmanager
async def sso_app(provider: OidcProvider, base: Settings, **overrides: Any) -> AsyncIterator[Any]:
    application = create_app(settings_for(provider, base, **overrides), reconcile=False)
    async with application.router.lifespan_context(application):
        yield application


def browser(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def begin(client: httpx.AsyncClient, next_: str = "") -> str:
    """Press "Sign in with ...": the provider's authorization URL the console sends the browser to."""
    resp = await client.get("/login/oidc", params={"next": next_} if next_ else None)
    assert resp.status_code == 303, (resp.status_code, resp.text[:500])
    return resp.headers["location"]


def with_param(url: str, **changes: str) -> str:
    """The URL with some query parameters replaced (what a tampering attacker or a broken provider does)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def param(url: str, name: str) -> str:
    return parse_qs(urlsplit(url).query)[name][0]


async def sign_in(client: httpx.AsyncClient, user: ProviderUser, next_: str = "") -> httpx.Response:
    """The whole single sign-on in one browser: the console, the provider's login page, back."""
    callback = await sign_in_at_provider(await begin(client, next_), user)
    return await client.get(callback)


@dataclass(frozen=True)
class Counts:
    users: int
    identities: int
    sessions: int
    flows: int


async def counts(app: Any) -> Counts:
    async with app.state.sessionmaker() as s:
        async def n(model: Any) -> int:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)
        return Counts(await n(User), await n(UserIdentity), await n(AuthSession), await n(OidcFlow))


async def user_named(app: Any, username: str) -> User | None:
    async with app.state.sessionmaker() as s:
        return await s.scalar(select(User).where(User.username == username))  # type: ignore[no-any-return]


def login_error(resp: httpx.Response) -> str:
    """The message the sign-in page shows."""
    import re

    m = re.search(r'id="login-error">([^<]*)<', resp.text)
    assert m, resp.text[:800]
    import html

    return html.unescape(m.group(1))
