"""Single sign-on against a real OpenID Connect provider on loopback (zitadel/oidc's OP, tests/oidc_provider.py):
the first sign-in makes the account (no password) with the platform role of its groups, the next one
reuses it and refreshes the role; the sign-in page offers it beside the password form, which stays the
default; without configuration there is no single sign-on at all."""

from __future__ import annotations

import pytest_asyncio
from sqlalchemy import select, update

from app.domain import audit
from app.models import PlatformRole, User, UserIdentity
from tests.oidc_provider import PROVISIONER_GROUP
from tests.web.sso_fixtures import browser, counts, login_error, sign_in, sso_app, user_named

PASSWORD = "correct-horse-battery"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def console(oidc_provider, settings, cluster):  # type: ignore[no-untyped-def]
    async with sso_app(oidc_provider, settings) as application:
        yield application


async def test_sign_in_page_offers_the_provider_beside_the_password_form(console) -> None:  # type: ignore[no-untyped-def]
    async with browser(console) as client:
        page = await client.get("/login?next=/admin/users")
    assert page.status_code == 200
    assert 'action="/login"' in page.text and 'id="password"' in page.text  # the default stays
    assert 'href="/login/oidc?next=/admin/users"' in page.text and "Sign in with Test IdP" in page.text


async def test_first_sign_in_makes_the_account_with_its_groups_role_and_the_next_reuses_it(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    alice = oidc_provider.user("alice")
    before = await counts(console)
    async with browser(console) as client:
        resp = await sign_in(client, alice, next_="/admin/users")
        assert resp.status_code == 303 and resp.headers["location"] == "/admin/users"
        page = await client.get("/admin/users")  # a platform admin's page: signed in, as an admin
        assert page.status_code == 200 and alice.username in page.text
    user = await user_named(console, alice.username)
    assert user is not None and user.platform_role == PlatformRole.admin and user.password_hash is None
    assert user.email == alice.email and user.display_name == "Alice Tester"
    after = await counts(console)
    assert (after.users, after.identities, after.sessions) == (before.users + 1, before.identities + 1,
                                                              before.sessions + 1)
    assert after.flows == before.flows  # the sign-in under way is gone once used

    async with browser(console) as client:  # again, in another browser: the same account
        resp = await sign_in(client, alice)
        assert resp.status_code == 303 and resp.headers["location"] == "/workspaces"
        assert (await client.get("/workspaces")).status_code == 200
    again = await counts(console)
    assert (again.users, again.identities, again.sessions) == (after.users, after.identities, after.sessions + 1)
    async with console.state.sessionmaker() as s:
        verbs = [e.verb for e in await audit.search(s, username=alice.username)]
        [identity] = await s.scalars(select(UserIdentity).where(UserIdentity.user_id == user.id))
    assert verbs.count("sign-in") == 2 and verbs.count("create") == 1
    assert identity.issuer == oidc_provider.issuer and identity.subject == f"alice-{oidc_provider.suffix}-id"


async def test_the_platform_role_follows_the_groups_at_every_sign_in(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    carol, bob = oidc_provider.user("carol"), oidc_provider.user("bob")
    assert carol.groups == [PROVISIONER_GROUP]
    async with browser(console) as client:
        assert (await sign_in(client, carol)).status_code == 303
    async with browser(console) as client:
        assert (await sign_in(client, bob)).status_code == 303
        assert (await client.get("/admin/users")).status_code == 403  # a regular user
    assert (await user_named(console, carol.username)).platform_role == PlatformRole.self_provisioner  # type: ignore[union-attr]
    assert (await user_named(console, bob.username)).platform_role == PlatformRole.regular  # type: ignore[union-attr]
    # Someone made bob a platform admin in Dockyard; his groups say otherwise, and win at his next sign-in.
    async with console.state.sessionmaker() as s:
        await s.execute(update(User).where(User.username == bob.username).values(platform_role=PlatformRole.admin))
        await s.commit()
    async with browser(console) as client:
        assert (await sign_in(client, bob)).status_code == 303
    assert (await user_named(console, bob.username)).platform_role == PlatformRole.regular  # type: ignore[union-attr]
    async with console.state.sessionmaker() as s:
        changes = [e for e in await audit.search(s, username=bob.username) if e.verb == "set-platform-role"]
    assert changes and "platform-admin -> platform-regular" in changes[0].detail


async def test_an_sso_account_has_no_password_to_sign_in_with(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    ivan = oidc_provider.user("ivan")
    async with browser(console) as client:
        assert (await sign_in(client, ivan)).status_code == 303
    async with browser(console) as client:
        page = await client.get("/login")
        import re
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        for password in ("", ivan.password, PASSWORD):
            resp = await client.post("/login", data={"username": ivan.username, "password": password,
                                                     "csrf_token": token})
            assert resp.status_code == 401 and login_error(resp) == "Incorrect username or password."


async def test_a_disabled_account_is_refused_and_gets_no_session(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    erin = oidc_provider.user("erin")
    async with browser(console) as client:
        assert (await sign_in(client, erin)).status_code == 303
    async with console.state.sessionmaker() as s:
        await s.execute(update(User).where(User.username == erin.username).values(disabled=True))
        await s.commit()
    before = await counts(console)
    async with browser(console) as client:
        resp = await sign_in(client, erin)
        assert resp.status_code == 403
        assert login_error(resp) == "Your Dockyard account is disabled. Ask a platform admin to enable it."
        assert (await client.get("/workspaces")).status_code in (303, 307)  # not signed in
    after = await counts(console)
    assert (after.users, after.identities, after.sessions) == (before.users, before.identities, before.sessions)


async def test_the_email_of_an_existing_account_is_not_taken_over(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    from app.domain import users as users_domain

    frank = oidc_provider.user("frank")
    async with console.state.sessionmaker() as s:
        local = await users_domain.create_user(s, username=f"local-{oidc_provider.suffix}", email=frank.email,
                                               password=PASSWORD, platform_role="platform-regular")
    before = await counts(console)
    async with browser(console) as client:
        resp = await sign_in(client, frank)
    assert resp.status_code == 409
    assert login_error(resp) == (f"A Dockyard account with the email address {frank.email} already exists, so "
                                 "single sign-on did not create another one. Sign in with that account's "
                                 "password, or ask a platform admin.")
    after = await counts(console)
    assert (after.users, after.identities, after.sessions) == (before.users, before.identities, before.sessions)
    async with console.state.sessionmaker() as s:
        assert not list(await s.scalars(select(UserIdentity).where(UserIdentity.user_id == local.id)))
    async with browser(console) as client:  # the account is still its owner's, with its password
        page = await client.get("/login")
        import re
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        resp = await client.post("/login", data={"username": local.username, "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 303


async def test_claims_the_id_token_leaves_out_come_from_userinfo(oidc_provider, settings, cluster) -> None:  # type: ignore[no-untyped-def]
    grace = oidc_provider.user("grace")
    async with sso_app(oidc_provider, settings, oidc_client_id="userinfo-only") as app, browser(app) as client:
        assert (await sign_in(client, grace)).status_code == 303
        user = await user_named(app, grace.username)
    assert user is not None and user.platform_role == PlatformRole.admin and user.email == grace.email


async def test_without_configuration_there_is_no_single_sign_on(tenants) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser()
    page = await b.get("/login")
    assert page.status_code == 200 and "/login/oidc" not in page.text
    for path in ("/login/oidc", "/login/oidc/callback?code=x&state=y"):
        resp = await b.get(path)
        assert resp.status_code == 404 and login_error(resp) == "Single sign-on is not configured."


async def test_a_sign_in_started_on_one_console_process_finishes_on_another(console, oidc_provider, settings) -> None:  # type: ignore[no-untyped-def]
    """Several processes share the database: the callback may reach any of them."""
    from tests.oidc_provider import sign_in_at_provider
    from tests.web.sso_fixtures import begin

    yara = oidc_provider.user("yara")
    async with browser(console) as first:
        callback = await sign_in_at_provider(await begin(first), yara)
        cookies = dict(first.cookies)
    async with sso_app(oidc_provider, settings) as other, browser(other) as second:
        second.cookies.update(cookies)
        resp = await second.get(callback)
        assert resp.status_code == 303 and resp.headers["location"] == "/workspaces"
        assert (await second.get("/workspaces")).status_code == 200
    assert await user_named(console, yara.username) is not None


async def test_two_sign_ins_started_in_one_browser_both_work(console, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    """Two tabs: the second "Sign in with ..." does not spoil the first."""
    from tests.oidc_provider import sign_in_at_provider
    from tests.web.sso_fixtures import begin

    xavier = oidc_provider.user("xavier")
    async with browser(console) as client:
        first, second = await begin(client), await begin(client)
        for url in (second, first):
            resp = await client.get(await sign_in_at_provider(url, xavier))
            assert resp.status_code == 303 and resp.headers["location"] == "/workspaces"


async def test_a_new_platform_admin_gets_the_clusters_role_in_every_project_at_once(console, oidc_provider, tenants, kube) -> None:  # type: ignore[no-untyped-def]
    """Platform admins administer every project, in the cluster too: their RoleBindings come with the sign-in."""
    from app.kube.client import CONSOLE, Actor
    from tests.cluster import eventually

    owner = await tenants.user("owner")
    project = await tenants.project(await tenants.workspace(owner), owner)
    quinn = oidc_provider.user("quinn")
    async with browser(console) as client:
        assert (await sign_in(client, quinn)).status_code == 303
    user = await user_named(console, quinn.username)
    assert user is not None and user.is_platform_admin
    bindings = await kube.items("RoleBinding", project.name, actor=CONSOLE, label_selector=f"dockyard.dev/user={user.uid}")
    assert [b["roleRef"]["name"] for b in bindings] == ["dockyard-project-admin"]
    # ... and the cluster lets them read it as themselves
    await eventually(lambda: kube.list("Service", project.name, actor=Actor.user(user.uid), limit=1), timeout=15)
