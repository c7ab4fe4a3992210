"""The rules around memberships: bad input gets a message on its field, and nothing half-done stays."""

from __future__ import annotations

import pytest

from app.kube.client import CONSOLE
from app.models import ProjectRole, WorkspaceRole
from tests.conftest import DemoProject, Tenants

pytestmark = pytest.mark.cluster


async def test_invite_to_project_requires_workspace_membership(demo: DemoProject, tenants: Tenants) -> None:
    stranger = await tenants.user("stranger")
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"{demo.base}/members", {"username": stranger.username, "role": "operator"})
    assert resp.status_code == 422
    assert "not a member of the workspace" in resp.text
    assert f"member-row-{stranger.username}" not in (await b.get(f"{demo.base}/members")).text


async def test_invite_with_unknown_role_or_user_is_refused(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"{demo.base}/members", {"username": demo.viewer.username, "role": "superuser"})
    assert resp.status_code == 422 and "does not exist" in resp.text
    resp = await b.post(f"{demo.base}/members", {"username": "nobody-here", "role": "viewer"})
    assert resp.status_code == 422 and "nobody-here" in resp.text


async def test_reinviting_changes_the_role(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.admin)
    assert (await b.post(f"{demo.base}/members", {"username": demo.viewer.username, "role": "operator"})).status_code == 303
    page = await b.get(f"{demo.base}/members")
    row = page.text.split(f'member-row-{demo.viewer.username}')[1].split("</tr>")[0]
    assert 'value="operator" selected' in row


async def test_nobody_changes_their_own_membership(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"{demo.base}/members", {"username": demo.admin.username, "role": "viewer"})
    assert resp.status_code == 403


async def test_operator_cannot_grant_roles(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    resp = await b.post(f"{demo.base}/members", {"username": demo.viewer.username, "role": "admin"})
    assert resp.status_code == 403


async def test_last_workspace_admin_cannot_be_removed(tenants: Tenants) -> None:
    from app.models import PlatformRole

    admin = await tenants.user("padmin", PlatformRole.admin)
    ws_admin = await tenants.user("wsadmin")
    ws = await tenants.workspace(ws_admin)
    b = await tenants.browser(admin)
    resp = await b.post(f"/workspaces/{ws.name}/members/{ws_admin.username}/remove")
    assert resp.status_code == 422
    assert "last workspace administrator" in resp.text
    resp = await b.post(f"/workspaces/{ws.name}/members", {"username": ws_admin.username, "role": "workspace-viewer"})
    assert resp.status_code == 422


@pytest.mark.parametrize("name,message", [
    ("Bad_Name", "lowercase letters"), ("-start", "lowercase letters"), ("x" * 64, "at most 63"),
    ("", "Please set a name"), ("kube-system", "reserved"),
])
async def test_project_name_rules(demo: DemoProject, tenants: Tenants, name: str, message: str, admin_kube) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"/workspaces/{demo.workspace.name}/projects", {"name": name})
    assert resp.status_code == 422
    assert message in resp.text
    assert 'aria-invalid="true"' in resp.text


async def test_duplicate_project_name(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"/workspaces/{demo.workspace.name}/projects", {"name": demo.project.name})
    assert resp.status_code == 422 and "already exists" in resp.text


async def test_project_not_saved_when_namespace_cannot_be_created(demo: DemoProject, tenants: Tenants, admin_kube) -> None:  # type: ignore[no-untyped-def]
    """A namespace that already exists in the cluster (made outside Dockyard) is not adopted silently."""
    name = f"taken-{__import__('secrets').token_hex(3)}"
    tenants.created_namespaces.append(name)
    await admin_kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, namespace=None,
                            actor=CONSOLE)
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"/workspaces/{demo.workspace.name}/projects", {"name": name})
    assert resp.status_code == 422
    assert "already exists in the cluster" in resp.text
    assert (await b.get(f"/workspaces/{demo.workspace.name}/projects/{name}")).status_code == 404


async def test_workspace_viewer_sees_project_but_cannot_manage(demo: DemoProject, tenants: Tenants) -> None:
    wv = await tenants.user("wsviewer")
    await tenants.ws_member(demo.workspace, wv, WorkspaceRole.viewer)
    b = await tenants.browser(wv)
    assert (await b.get(demo.base)).status_code == 200
    assert (await b.post(f"{demo.base}/members", {"username": demo.viewer.username, "role": "viewer"})).status_code == 403


async def test_removed_from_workspace_loses_projects(demo: DemoProject, tenants: Tenants) -> None:
    from app.models import PlatformRole
    admin = await tenants.user("padmin", PlatformRole.admin)
    member = await tenants.user("leaver")
    await tenants.ws_member(demo.workspace, member, WorkspaceRole.regular)
    await tenants.project_member(demo.project, member, ProjectRole.viewer)
    b = await tenants.browser(member)
    assert (await b.get(demo.base)).status_code == 200
    a = await tenants.browser(admin)
    assert (await a.post(f"/workspaces/{demo.workspace.name}/members/{member.username}/remove")).status_code == 303
    assert (await b.get(demo.base)).status_code == 404
