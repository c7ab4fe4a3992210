"""The cluster enforces console roles on its own: RoleBindings mirror memberships, and a write the
console's own check would have refused is refused by the API server too."""

from __future__ import annotations

import pytest

from app.domain import rbac
from app.kube.client import CONSOLE, Actor
from app.kube.errors import KubeError
from app.models import ProjectRole
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants

pytestmark = pytest.mark.cluster


async def _refused(kube, namespace: str, who: Actor) -> bool:  # type: ignore[no-untyped-def]
    """True once the API server refuses `who` a read in `namespace` (RBAC changes land a moment later)."""
    try:
        await kube.items("Service", namespace, actor=who)
    except KubeError as e:
        return e.status == 403
    return False


def _config_map(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


async def test_viewer_write_is_refused_by_the_api_server(demo: DemoProject, kube) -> None:  # type: ignore[no-untyped-def]
    """Bypass the console's check: call the gateway directly as the viewer."""
    with pytest.raises(KubeError) as err:
        await kube.create(_config_map("by-viewer"), namespace=demo.namespace, actor=Actor.user(demo.viewer.uid))
    assert err.value.status == 403
    # reads are allowed, Secrets are not
    await kube.items("Service", demo.namespace, actor=Actor.user(demo.viewer.uid))
    with pytest.raises(KubeError) as err:
        await kube.items("Secret", demo.namespace, actor=Actor.user(demo.viewer.uid))
    assert err.value.status == 403


async def test_operator_may_write_but_not_touch_rbac(demo: DemoProject, kube) -> None:  # type: ignore[no-untyped-def]
    op = Actor.user(demo.operator.uid)
    await kube.create(_config_map("by-operator"), namespace=demo.namespace, actor=op)
    rb = rbac.role_binding(demo.namespace, demo.operator.uid, ProjectRole.admin)
    rb["metadata"]["name"] = "escalate-me"
    with pytest.raises(KubeError) as err:
        await kube.create(rb, namespace=demo.namespace, actor=op)
    assert err.value.status == 403


async def test_console_identity_cannot_write_workloads_itself(demo: DemoProject, kube) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KubeError) as err:
        await kube.create(_config_map("by-console"), namespace=demo.namespace, actor=CONSOLE)
    assert err.value.status == 403


async def test_unknown_user_has_no_access(demo: DemoProject, kube) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KubeError) as err:
        await kube.items("Service", demo.namespace, actor=Actor.user("not-a-member"))
    assert err.value.status == 403


async def test_role_change_and_removal_take_effect_in_the_cluster(demo: DemoProject, tenants: Tenants, kube) -> None:  # type: ignore[no-untyped-def]
    admin = await tenants.browser(demo.admin)
    who = Actor.user(demo.viewer.uid)
    with pytest.raises(KubeError):
        await kube.create(_config_map("before"), namespace=demo.namespace, actor=who)
    # promote to operator through the console: the RoleBinding is replaced (the API server's
    # authorizer sees the new binding a moment later, through its informer)
    assert (await admin.post(f"{demo.base}/members", {"username": demo.viewer.username, "role": "operator"})).status_code == 303

    async def may_write() -> bool:
        await kube.create(_config_map(f"after-promotion-{__import__('secrets').token_hex(2)}"),
                          namespace=demo.namespace, actor=who)
        return True
    assert await eventually(may_write, timeout=10)
    # remove: access is gone
    assert (await admin.post(f"{demo.base}/members/{demo.viewer.username}/remove")).status_code == 303

    assert await eventually(lambda: _refused(kube, demo.namespace, who), timeout=10)


async def test_reconcile_repairs_tampering(demo: DemoProject, tenants: Tenants, kube, admin_kube, app) -> None:  # type: ignore[no-untyped-def]
    """A deleted binding comes back and a foreign one labelled as ours goes, at the next reconcile."""
    name = rbac.binding_name(demo.operator.uid)
    await admin_kube.delete("RoleBinding", demo.namespace, name, actor=CONSOLE)
    stray = rbac.role_binding(demo.namespace, "intruder", ProjectRole.admin)
    await admin_kube.create(stray, namespace=demo.namespace, actor=CONSOLE)
    async with app.state.sessionmaker() as s:
        result = await rbac.reconcile_project(s, kube, demo.project)
    assert result.created >= 1 and result.deleted >= 1
    assert await admin_kube.exists("RoleBinding", demo.namespace, name, actor=CONSOLE)
    assert not await admin_kube.exists("RoleBinding", demo.namespace, stray["metadata"]["name"], actor=CONSOLE)


async def test_removed_member_loses_access_at_next_reconcile(demo: DemoProject, tenants: Tenants, kube, app) -> None:  # type: ignore[no-untyped-def]
    """Even when the membership disappears behind the console's back (e.g. a database restore)."""
    from sqlalchemy import delete

    from app.models import ProjectMember
    who = Actor.user(demo.operator.uid)
    await kube.items("Service", demo.namespace, actor=who)
    async with app.state.sessionmaker() as s:
        await s.execute(delete(ProjectMember).where(ProjectMember.project_id == demo.project.id,
                                                    ProjectMember.user_id == demo.operator.id))
        await s.commit()
        await rbac.reconcile_all(s, kube)

    assert await eventually(lambda: _refused(kube, demo.namespace, who), timeout=10)


async def test_disabled_user_loses_cluster_access(demo: DemoProject, tenants: Tenants, kube) -> None:  # type: ignore[no-untyped-def]
    from app.models import PlatformRole
    padmin = await tenants.browser(await tenants.user("padmin", PlatformRole.admin))
    who = Actor.user(demo.operator.uid)
    await kube.items("Service", demo.namespace, actor=who)
    assert (await padmin.post(f"/admin/users/{demo.operator.username}/disable")).status_code == 303

    assert await eventually(lambda: _refused(kube, demo.namespace, who), timeout=10)


async def test_client_cannot_smuggle_impersonation_headers(demo: DemoProject, tenants: Tenants, admin_kube) -> None:  # type: ignore[no-untyped-def]
    """Headers a client sends never reach the API server: a viewer stays a viewer."""
    viewer = await tenants.browser(demo.viewer)
    smuggled = {"Impersonate-User": f"dockyard:user:{demo.admin.uid}", "Impersonate-Group": "system:masters"}
    resp = await viewer.post(f"{demo.base}/services/-/new/yaml", {"action": "create", "text": "x: 1"}, headers=smuggled)
    assert resp.status_code == 403
    resp = await viewer.get(f"{demo.base}/services", headers=smuggled)
    assert resp.status_code == 200
    # an operator's writes are made as the operator: were the header forwarded, this rightless
    # identity would make the API server refuse the create
    op = await tenants.browser(demo.operator)
    smuggled = {"Impersonate-User": "dockyard:user:nobody-at-all"}
    text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: smuggle\nspec:\n  ports:\n  - port: 80\n"
    resp = await op.post(f"{demo.base}/services/-/new/yaml", {"action": "create", "text": text, "submission": "s1"},
                         headers=smuggled)
    assert resp.status_code == 303
    assert await admin_kube.exists("Service", demo.namespace, "smuggle", actor=CONSOLE)
