"""Single sign-on in Chromium, against the real OpenID Connect provider of tests/oidc_provider.py
(zitadel/oidc's OP on loopback): "Sign in with ..." on Dockyard's sign-in page, the provider's own login
page, the test user's credentials typed there, and back on Dockyard signed in with the platform role of
the user's groups; a second sign-in is the same account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from app.models import PlatformRole, User, UserIdentity
from app.settings import Settings
from tests.e2e.conftest import ARTIFACTS, LiveServer, logout
from tests.oidc_provider import OidcProvider, ProviderUser, settings_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sso_server(settings: Settings, oidc_provider: OidcProvider) -> Iterator[LiveServer]:
    server = LiveServer(settings_for(oidc_provider, settings))
    server.start()
    yield server
    server.stop()


async def _sign_in_with_the_provider(page, server: LiveServer, user: ProviderUser, shot: str = "") -> None:  # type: ignore[no-untyped-def]
    await page.goto(server.url + "/login")
    button = page.get_by_role("link", name="Sign in with Test IdP")
    await button.wait_for()
    if shot:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"{shot}-dockyard.png"))
    await button.click()
    await page.wait_for_url("**/login/username?authRequestID=*")  # the provider's own login page
    await page.fill("#username", user.username)
    await page.fill("#password", user.password)
    if shot:
        await page.screenshot(path=str(ARTIFACTS / f"{shot}-provider.png"))
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url + "/workspaces")


async def test_a_person_signs_in_with_their_identity_provider_and_again_as_the_same_user(  # type: ignore[no-untyped-def]
        page, sso_server: LiveServer, oidc_provider: OidcProvider, app) -> None:
    olivia = oidc_provider.user("olivia")  # in the provider's admin group
    await _sign_in_with_the_provider(page, sso_server, olivia, shot="sso-sign-in")
    top = page.locator(f"span[title='{PlatformRole.admin.value}']")
    assert await top.inner_text() == olivia.username  # signed in, as a platform admin
    await page.get_by_role("link", name="Users").click()  # the platform admin's page
    await page.wait_for_url("**/admin/users")
    assert await page.locator(f"text={olivia.email}").count() == 1

    await logout(page)
    await _sign_in_with_the_provider(page, sso_server, olivia)
    assert await page.locator(f"span[title='{PlatformRole.admin.value}']").inner_text() == olivia.username
    async with app.state.sessionmaker() as s:
        users = list(await s.scalars(select(User).where(User.email == olivia.email)))
        assert len(users) == 1 and users[0].username == olivia.username and users[0].password_hash is None
        identities = await s.scalar(select(func.count()).select_from(UserIdentity).where(
            UserIdentity.user_id == users[0].id))
        assert identities == 1


async def test_the_providers_wrong_password_keeps_the_person_there_and_a_regular_user_is_regular(  # type: ignore[no-untyped-def]
        page, sso_server: LiveServer, oidc_provider: OidcProvider) -> None:
    zoe = oidc_provider.user("zoe")  # no groups: platform-regular
    await page.goto(sso_server.url + "/login")
    await page.get_by_role("link", name="Sign in with Test IdP").click()
    await page.wait_for_url("**/login/username?authRequestID=*")
    await page.fill("#username", zoe.username)
    await page.fill("#password", "not-the-password")
    await page.click("button[type=submit]")
    await page.locator("text=username or password wrong").wait_for()  # the provider says so, on its page
    await page.fill("#username", zoe.username)
    await page.fill("#password", zoe.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(sso_server.url + "/workspaces")
    assert await page.locator(f"span[title='{PlatformRole.regular.value}']").inner_text() == zoe.username
    assert await page.get_by_role("link", name="Users").count() == 0
