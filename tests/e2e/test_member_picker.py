"""The Invite field's type-ahead (static/js/combobox.js) in Chromium, by keyboard only: type part of a
name, arrow to a candidate, Enter picks it, Enter again invites; the list is an ARIA 1.2 combobox."""

from __future__ import annotations

import secrets

from playwright.async_api import expect

from app.models import WorkspaceRole
from tests.conftest import PASSWORD, DemoProject, Tenants
from tests.e2e.conftest import ARTIFACTS, LiveServer, login


async def test_invite_by_keyboard_from_the_type_ahead(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, tenants: Tenants) -> None:
    tag = "kb" + secrets.token_hex(2)
    first, second = await tenants.user(f"{tag}-ann"), await tenants.user(f"{tag}-bob")
    for u in (first, second):
        await tenants.ws_member(demo.workspace, u, WorkspaceRole.regular)
    await login(page, live_server, demo.admin.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/members")
    field = page.locator("#invite-username")
    listbox = page.locator("#invite-username-candidates")
    await expect(field).to_have_attribute("role", "combobox")
    await expect(field).to_have_attribute("aria-expanded", "false")
    await expect(field).to_have_attribute("aria-controls", "invite-username-candidates")

    await field.focus()
    await page.keyboard.type(tag)
    await expect(listbox).to_be_visible()
    await expect(field).to_have_attribute("aria-expanded", "true")
    await expect(listbox.locator('[role="option"]')).to_have_count(2)
    await expect(page.locator("#invite-username-candidates-status")).to_have_text(
        "2 users match. Use the Up and Down arrow keys to choose one.")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    await expect(field).to_have_attribute("aria-activedescendant", f"candidate-{second.username}")
    await expect(page.locator(f"#candidate-{second.username}")).to_have_attribute("aria-selected", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "member-picker-open.png"), full_page=True)
    await page.keyboard.press("Enter")  # picks the candidate: the form is not sent yet
    await expect(field).to_have_value(second.username)
    await expect(listbox).to_be_hidden()
    await expect(field).to_have_attribute("aria-expanded", "false")
    assert page.url.endswith("/members")

    # Escape closes a list opened again, and keeps what is typed
    await page.keyboard.press("Backspace")
    await expect(listbox).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(listbox).to_be_hidden()
    await page.keyboard.type(second.username[-1])

    await page.keyboard.press("Tab")  # the role
    await page.keyboard.press("ArrowDown")  # operator -> viewer
    await page.keyboard.press("Tab")  # Invite
    await page.keyboard.press("Enter")
    row = page.locator(f"#member-row-{second.username}")
    await expect(row).to_be_visible()
    await expect(row.locator("select")).to_have_value("viewer")
    assert await page.locator(f"#member-row-{first.username}").count() == 0
