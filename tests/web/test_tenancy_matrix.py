"""Role × action matrix for every tenancy action: who may view, invite, change, remove and create projects.

Denied actions are a 403; a workspace or project the user cannot see is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import pytest_asyncio

from app.models import PlatformRole, Project, ProjectRole, User, Workspace, WorkspaceRole
from tests.conftest import Tenants

pytestmark = pytest.mark.cluster

ROLES = [
    "platform-admin", "workspace-admin", "workspace-self-provisioner", "workspace-viewer", "workspace-regular",
    "project-admin", "project-operator", "project-viewer", "outsider",
]


@dataclass
class World:
    ws: Workspace
    project: Project
    users: dict[str, User]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def world(app, kube, admin_kube):  # type: ignore[no-untyped-def]
    t = Tenants(app=app, kube=kube)
    users = {r: await t.user(r.split("-")[-1][:8], PlatformRole.admin if r == "platform-admin" else PlatformRole.regular)
             for r in ROLES}
    ws = await t.workspace(users["workspace-admin"])
    await t.ws_member(ws, users["workspace-self-provisioner"], WorkspaceRole.self_provisioner)
    await t.ws_member(ws, users["workspace-viewer"], WorkspaceRole.viewer)
    await t.ws_member(ws, users["workspace-regular"], WorkspaceRole.regular)
    for r in ("project-admin", "project-operator", "project-viewer"):
        await t.ws_member(ws, users[r], WorkspaceRole.regular)
    project = await t.project(ws, users["project-admin"])
    await t.project_member(project, users["project-operator"], ProjectRole.operator)
    await t.project_member(project, users["project-viewer"], ProjectRole.viewer)
    w = World(ws, project, users)
    w.tenants = t  # type: ignore[attr-defined]
    yield w
    for ns in t.created_namespaces:
        try:
            await admin_kube.delete("Namespace", None, ns, actor=__import__("app.kube.client").kube.client.CONSOLE)
        except Exception:
            pass


# expected status per role: 200 (page), 303 (write done), 403 (denied), 404 (invisible)
VIEW_WORKSPACE = {"platform-admin": 200, "workspace-admin": 200, "workspace-self-provisioner": 200,
                  "workspace-viewer": 200, "workspace-regular": 200, "project-admin": 200, "project-operator": 200,
                  "project-viewer": 200, "outsider": 404}
VIEW_WORKSPACE_MEMBERS = {**VIEW_WORKSPACE}
MANAGE_WORKSPACE_MEMBERS = dict.fromkeys(ROLES, 403) | {"platform-admin": 303, "workspace-admin": 303, "outsider": 404}
CREATE_PROJECT = dict.fromkeys(ROLES, 403) | {"platform-admin": 303, "workspace-admin": 303,
                                            "workspace-self-provisioner": 303, "outsider": 404}
VIEW_PROJECT = {"platform-admin": 200, "workspace-admin": 200, "workspace-self-provisioner": 404,
                "workspace-viewer": 200, "workspace-regular": 404, "project-admin": 200, "project-operator": 200,
                "project-viewer": 200, "outsider": 404}
MANAGE_PROJECT_MEMBERS = {r: (404 if VIEW_PROJECT[r] == 404 else 403) for r in ROLES} | {
    "platform-admin": 303, "workspace-admin": 303, "project-admin": 303}


@pytest.mark.parametrize("role", ROLES)
async def test_view_workspace(world: World, role: str) -> None:
    b = await world.tenants.browser(world.users[role])  # type: ignore[attr-defined]
    assert (await b.get(f"/workspaces/{world.ws.name}")).status_code == VIEW_WORKSPACE[role]


@pytest.mark.parametrize("role", ROLES)
async def test_view_workspace_members(world: World, role: str) -> None:
    b = await world.tenants.browser(world.users[role])  # type: ignore[attr-defined]
    resp = await b.get(f"/workspaces/{world.ws.name}/members")
    assert resp.status_code == VIEW_WORKSPACE_MEMBERS[role]


@pytest.mark.parametrize("role", ROLES)
async def test_invite_change_remove_workspace_member(world: World, role: str) -> None:
    t = world.tenants  # type: ignore[attr-defined]
    target = await t.user("target")
    b = await t.browser(world.users[role])
    url = f"/workspaces/{world.ws.name}/members"
    resp = await b.post(url, {"username": target.username, "role": "workspace-viewer"})
    assert resp.status_code == MANAGE_WORKSPACE_MEMBERS[role]
    if resp.status_code != 303:  # nor may they be asked to remove one
        admin = world.users["workspace-admin"].username
        assert (await b.get(f"{url}/{admin}/remove")).status_code == resp.status_code
        return
    page = await b.get(url)
    assert f"member-row-{target.username}" in page.text
    resp = await b.post(url, {"username": target.username, "role": "workspace-regular"})
    assert resp.status_code == 303
    # Remove asks first: the list links to a question, and asking removes nothing.
    assert f'href="{url}/{target.username}/remove"' in (await b.get(url)).text
    confirm = await b.get(f"{url}/{target.username}/remove")
    assert confirm.status_code == 200
    assert f"Remove {target.username} (workspace-regular) from the workspace {world.ws.name}?" in confirm.text
    assert f"member-row-{target.username}" in (await b.get(url)).text
    resp = await b.post(f"{url}/{target.username}/remove")
    assert resp.status_code == 303
    assert f"member-row-{target.username}" not in (await b.get(url)).text
    assert (await b.get(f"{url}/{target.username}/remove")).status_code == 404


@pytest.mark.parametrize("role", ROLES)
async def test_create_project(world: World, role: str, admin_kube) -> None:  # type: ignore[no-untyped-def]
    t = world.tenants  # type: ignore[attr-defined]
    b = await t.browser(world.users[role])
    name = f"cp-{role[:10]}-{__import__('secrets').token_hex(2)}"
    t.created_namespaces.append(name)
    resp = await b.post(f"/workspaces/{world.ws.name}/projects", {"name": name})
    assert resp.status_code == CREATE_PROJECT[role]
    from app.kube.client import CONSOLE
    exists = await admin_kube.exists("Namespace", None, name, actor=CONSOLE)
    assert exists == (resp.status_code == 303)
    if exists:
        ns = await admin_kube.get("Namespace", None, name, actor=CONSOLE)
        assert ns["metadata"]["labels"]["kubesphere.io/workspace"] == world.ws.name
        # the creator became the project's admin
        page = await b.get(f"/workspaces/{world.ws.name}/projects/{name}/members")
        assert f"member-row-{world.users[role].username}" in page.text


@pytest.mark.parametrize("role", ROLES)
async def test_view_project(world: World, role: str) -> None:
    b = await world.tenants.browser(world.users[role])  # type: ignore[attr-defined]
    base = f"/workspaces/{world.ws.name}/projects/{world.project.name}"
    assert (await b.get(base)).status_code == VIEW_PROJECT[role]
    assert (await b.get(base + "/members")).status_code == VIEW_PROJECT[role]


@pytest.mark.parametrize("role", ROLES)
async def test_invite_change_remove_project_member(world: World, role: str) -> None:
    t = world.tenants  # type: ignore[attr-defined]
    target = await t.user("target")
    await t.ws_member(world.ws, target, WorkspaceRole.regular)
    b = await t.browser(world.users[role])
    url = f"/workspaces/{world.ws.name}/projects/{world.project.name}/members"
    resp = await b.post(url, {"username": target.username, "role": "viewer"})
    assert resp.status_code == MANAGE_PROJECT_MEMBERS[role]
    if resp.status_code != 303:  # nor may they be asked to remove one
        admin = world.users["project-admin"].username
        assert (await b.get(f"{url}/{admin}/remove")).status_code == resp.status_code
        return
    assert f"member-row-{target.username}" in (await b.get(url)).text
    assert (await b.post(url, {"username": target.username, "role": "operator"})).status_code == 303
    confirm = await b.get(f"{url}/{target.username}/remove", headers={"HX-Request": "true"})
    assert confirm.status_code == 200 and confirm.text.lstrip().startswith("<dialog")
    assert f"Remove {target.username} (operator) from the project {world.project.name}?" in confirm.text
    assert f"member-row-{target.username}" in (await b.get(url)).text
    assert (await b.post(f"{url}/{target.username}/remove")).status_code == 303
    assert f"member-row-{target.username}" not in (await b.get(url)).text
