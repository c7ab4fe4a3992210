"""Sign-in, sessions, CSRF and throttling, as a user (or an attacker) meets them."""

from __future__ import annotations

import logging

import httpx

from app.models import PlatformRole
from tests.conftest import PASSWORD, Tenants


async def test_login_logout(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser()
    assert (await b.get("/workspaces")).status_code == 303  # not signed in: to /login
    resp = await b.login(user.username)
    assert resp.status_code == 303 and resp.headers["location"] == "/workspaces"
    assert (await b.get("/workspaces")).status_code == 200
    assert (await b.post("/logout")).status_code == 303
    resp = await b.get("/workspaces")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")


async def test_wrong_password_is_a_generic_message(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser()
    resp = await b.login(user.username, "wrong-password")
    assert resp.status_code == 401
    assert "Incorrect username or password" in resp.text
    resp = await b.login("no-such-user", "wrong-password")
    assert resp.status_code == 401 and "Incorrect username or password" in resp.text


async def test_session_cookie_attributes(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser()
    page = await b.client.get("/login")
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    resp = await b.client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    cookie = [v for k, v in resp.headers.multi_items() if k == "set-cookie" and v.startswith("dockyard_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


async def test_login_redirects_only_to_local_paths(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser()
    page = await b.client.get("/login")
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    resp = await b.client.post("/login", data={"username": user.username, "password": PASSWORD,
                                               "csrf_token": token, "next": "//evil.example/x"})
    assert resp.headers["location"] == "/workspaces"


async def test_state_changing_request_without_csrf_token_is_refused(tenants: Tenants) -> None:
    admin = await tenants.user("adm", PlatformRole.admin)
    b = await tenants.browser(admin)
    resp = await b.client.post("/workspaces", data={"name": "no-token-ws"})
    assert resp.status_code == 403
    resp = await b.client.post("/workspaces", data={"name": "bad-token-ws", "csrf_token": "forged"})
    assert resp.status_code == 403
    # the htmx header form is accepted
    resp = await b.client.post("/workspaces", data={"name": f"hdr-{user_suffix()}"}, headers={"X-CSRF-Token": b.csrf})
    assert resp.status_code == 303


async def test_cross_site_request_is_refused_even_with_token(tenants: Tenants) -> None:
    admin = await tenants.user("adm", PlatformRole.admin)
    b = await tenants.browser(admin)
    resp = await b.post("/workspaces", {"name": f"x-{user_suffix()}"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403
    resp = await b.post("/workspaces", {"name": f"x-{user_suffix()}"}, headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403


async def test_login_form_needs_its_csrf_token(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser()
    resp = await b.client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 403


async def test_password_change_revokes_sessions(tenants: Tenants) -> None:
    admin = await tenants.user("adm", PlatformRole.admin)
    user = await tenants.user()
    victim = await tenants.browser(user)
    assert (await victim.get("/workspaces")).status_code == 200
    a = await tenants.browser(admin)
    resp = await a.post(f"/admin/users/{user.username}/password", {"password": "a-brand-new-password"})
    assert resp.status_code == 200 and "sessions have ended" in resp.text
    assert (await victim.get("/workspaces")).status_code == 303
    assert (await (await tenants.browser()).login(user.username, "a-brand-new-password")).status_code == 303


async def test_disabling_a_user_revokes_sessions_and_sign_in(tenants: Tenants) -> None:
    admin = await tenants.user("adm", PlatformRole.admin)
    user = await tenants.user()
    victim = await tenants.browser(user)
    a = await tenants.browser(admin)
    assert (await a.post(f"/admin/users/{user.username}/disable")).status_code == 303
    assert (await victim.get("/workspaces")).status_code == 303
    assert (await (await tenants.browser()).login(user.username)).status_code == 401


async def test_login_is_throttled_per_account_and_address_without_locking_out_the_owner(tenants: Tenants, app) -> None:  # type: ignore[no-untyped-def]
    user = await tenants.user()
    attacker = await tenants.browser()
    for _ in range(app.state.settings.login_max_failures):
        assert (await attacker.login(user.username, "guess")).status_code == 401
    resp = await attacker.login(user.username, PASSWORD)  # even the right password waits now
    assert resp.status_code == 429 and "Too many failed sign-ins" in resp.text
    # the owner, from another address, still gets in
    owner = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.9.8.7", 1234)), base_url="http://testserver")
    from tests.conftest import Browser
    assert (await Browser(owner).login(user.username)).status_code == 303


async def test_non_admin_cannot_open_users_page(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser(user)
    assert (await b.get("/admin/users")).status_code == 403
    assert (await b.post("/admin/users", {"username": "x1", "email": "x1@x.io", "password": "12345678"})).status_code == 403


async def test_admin_creates_user_with_field_errors(tenants: Tenants) -> None:
    admin = await tenants.user("adm", PlatformRole.admin)
    b = await tenants.browser(admin)
    resp = await b.post("/admin/users", {"username": "Bad Name", "email": "nope", "password": "short",
                                         "platform_role": "platform-regular"})
    assert resp.status_code == 422
    assert resp.text.count('aria-invalid="true"') >= 3
    name = f"new-{user_suffix()}"
    resp = await b.post("/admin/users", {"username": name, "email": f"{name}@x.io", "password": "long-enough-pw",
                                         "platform_role": "platform-self-provisioner"})
    assert resp.status_code == 303
    assert f"user-row-{name}" in (await b.get("/admin/users")).text


async def test_health_endpoints(tenants: Tenants) -> None:
    b = await tenants.browser()
    assert (await b.get("/healthz")).status_code == 200
    resp = await b.get("/readyz")
    assert resp.status_code == 200 and resp.json()["checks"]["cluster"].startswith("ok")


def user_suffix() -> str:
    import secrets
    return secrets.token_hex(3)


async def test_a_failed_sign_in_logs_a_known_name_but_never_an_unknown_one(tenants, caplog) -> None:  # type: ignore[no-untyped-def]
    user = await tenants.user("known")
    browser = await tenants.browser()
    with caplog.at_level(logging.WARNING, logger="dockyard.auth"):
        await browser.login(user.username, "not-the-password")
        await browser.login("my-Secret-Passw0rd", "x")
    lines = [r.getMessage() for r in caplog.records if r.name == "dockyard.auth"]
    assert any(repr(user.username) in line for line in lines)
    assert any("an unknown name (18 characters)" in line for line in lines)
    assert not any("my-Secret-Passw0rd" in line for line in lines)


async def test_session_tokens_are_stored_keyed_with_the_session_secret(app, tenants: Tenants, db) -> None:  # type: ignore[no-untyped-def]
    """DOCKYARD_SESSION_SECRET is really used (issue 17): the database keeps a keyed digest of each session
    token, so the same cookie means nothing to a console with another secret, and the row holds neither
    the token nor its plain SHA-256."""
    import hashlib

    from pydantic import SecretStr
    from sqlalchemy import select

    from app.deps import session_cookie_name
    from app.domain import auth as auth_domain
    from app.models import AuthSession

    settings = app.state.settings
    user = await tenants.user("keyed")
    browser = await tenants.browser(user)
    token = browser.client.cookies[session_cookie_name(settings)]
    assert await auth_domain.resolve_session(db, settings, token) is not None
    other = settings.model_copy(update={"session_secret": SecretStr("another-secret-" + "x" * 32)})
    assert await auth_domain.resolve_session(db, other, token) is None
    stored = set(await db.scalars(select(AuthSession.token_hash).where(AuthSession.user_id == user.id)))
    assert stored and token not in stored and hashlib.sha256(token.encode()).hexdigest() not in stored
