"""The seed's prerequisite, in Chromium: project-admin invites project-regular as operator, then
project-regular signs in and sees demo-project."""

from __future__ import annotations

from app.models import WorkspaceRole
from tests.conftest import PASSWORD, Tenants
from tests.e2e.conftest import LiveServer, login, logout


async def _invite_operator(page, live_server: LiveServer, tenants: Tenants):  # type: ignore[no-untyped-def]
    """project-admin's project in a new workspace, and project-regular invited into it as operator on
    its members page (signed in as project-admin)."""
    project_admin = await tenants.user("project-admin")
    regular = await tenants.user("project-regular")
    ws = await tenants.workspace()
    await tenants.ws_member(ws, project_admin, WorkspaceRole.self_provisioner)
    await tenants.ws_member(ws, regular, WorkspaceRole.viewer)
    project = await tenants.project(ws, project_admin)
    await login(page, live_server, project_admin.username, PASSWORD)
    await page.goto(f"{live_server.url}/workspaces/{ws.name}/projects/{project.name}/members")
    await page.fill("#invite-username", regular.username)
    await page.select_option("#invite-role", "operator")
    await page.click("#members button.primary")
    row = page.locator(f"#member-row-{regular.username}")
    await row.wait_for()
    return ws, project, regular, row


async def test_project_admin_invites_operator_who_then_sees_the_project(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                        tenants: Tenants) -> None:
    ws, project, regular, row = await _invite_operator(page, live_server, tenants)
    assert await row.locator("select[name=role]").input_value() == "operator"
    await logout(page)

    await login(page, live_server, regular.username, PASSWORD)
    await page.click(f"#workspace-row-{ws.name} a")
    await page.click("text=Projects")
    await page.click(f"#project-row-{project.name} a")
    assert "operator" in await page.locator("#my-role").inner_text()


async def test_removing_a_member_asks_first_and_cancel_keeps_them(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                   tenants: Tenants) -> None:
    ws, project, regular, row = await _invite_operator(page, live_server, tenants)

    await page.click(f"#remove-{regular.username}")
    dialog = page.locator("dialog[open]")
    await dialog.wait_for()
    assert f"Remove {regular.username} (operator) from the project {project.name}?" in await dialog.inner_text()
    await page.screenshot(path="test-results/members-remove-confirm.png")
    await dialog.locator("[data-close-dialog]").click()
    await dialog.wait_for(state="detached")
    assert await row.count() == 1  # Cancel removed nobody

    await page.click(f"#remove-{regular.username}")
    await page.locator("dialog[open] #confirm-remove-member").click()
    await page.wait_for_url(f"**/projects/{project.name}/members")
    await row.wait_for(state="detached")
