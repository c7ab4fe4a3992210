"""`dockyard import kubesphere` and its page, against the local control plane with KubeSphere's CRDs
(tests/data/kubesphere/, 3.4 and 4.x) and a realistic tenancy: the dry run says exactly what maps, the
import creates it in one go, a second one creates nothing, the cluster keeps KubeSphere's objects and
Services, imported users see their Services with their aliases; the CLI's exit codes; the page is a
platform admin's only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from app import cli
from app.domain import kubesphere_import
from app.domain import users as users_domain
from app.domain.kubesphere_import import Plan, Status
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.resources import qualified, resource_for
from app.models import PlatformRole, Project, ProjectMember, User, Workspace, WorkspaceMember
from app.settings import get_settings
from tests.cluster import eventually
from tests.conftest import PASSWORD, Tenants
from tests.kubesphere_fixtures import EDITIONS, crds, expected, suffix, tenancy

REPO = Path(__file__).resolve().parents[2]
CRD_LABEL = "dockyard.dev/test=kubesphere"
FIXED = {"system-workspace", "users-manager"}  # the fixture's names without the test's suffix
LOCAL_CONSOLE = "dockyard-console"  # the local control plane's console user (deploy/local/console-user.yaml)


def _key(obj: dict[str, Any]) -> str:
    group = obj["apiVersion"].split("/")[0]
    return qualified(obj["kind"], obj["apiVersion"]) if group.endswith("kubesphere.io") else obj["kind"]


async def _create(kube: KubeGateway, obj: dict[str, Any]) -> bool:
    """Create any fixture object (KubeSphere's kinds are keyed by version); one that exists is left."""
    res = resource_for(_key(obj))
    ns = obj["metadata"].get("namespace")
    try:
        await kube._json("POST", res.path(ns if res.namespaced else None), actor=CONSOLE, body=obj)
    except KubeError as e:
        if not e.conflict:
            raise
    return True


async def _delete(kube: KubeGateway, obj: dict[str, Any]) -> None:
    try:
        await kube.delete(_key(obj), obj["metadata"].get("namespace"), obj["metadata"]["name"], actor=CONSOLE)
    except KubeError as e:
        if not e.not_found:
            raise


async def _remove_crds(kube: KubeGateway) -> None:
    for crd in await kube.items("CustomResourceDefinition", None, actor=CONSOLE, label_selector=CRD_LABEL):
        await _delete(kube, {**crd, "kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1"})

    async def gone() -> bool:
        return not await kube.items("CustomResourceDefinition", None, actor=CONSOLE, label_selector=CRD_LABEL)
    await eventually(gone, timeout=120, interval=0.5)


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=EDITIONS)
async def edition(request: pytest.FixtureRequest, admin_kube: KubeGateway) -> AsyncIterator[str]:
    """KubeSphere's CRDs of one edition, installed for the module's tests, removed after."""
    chosen: str = request.param
    await _remove_crds(admin_kube)  # another edition's, left by an interrupted run
    for crd in crds(chosen):
        await admin_kube.apply(crd, namespace=None, actor=CONSOLE, field_manager="dockyard-test")

    async def served() -> bool:
        version = "v1beta1" if chosen == "4.x" else "v1alpha2"
        found = await admin_kube.raw_get(f"/apis/iam.kubesphere.io/{version}", actor=CONSOLE)
        return {r["name"] for r in found.get("resources") or []} >= {"users", "workspacerolebindings"}
    await eventually(served, timeout=60, interval=0.5)
    yield chosen
    await _remove_crds(admin_kube)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def console_may_read(edition: str, admin_kube: KubeGateway, kube: KubeGateway) -> AsyncIterator[None]:
    """deploy/kubesphere-import/rbac.yaml, bound also to the local control plane's console user."""
    docs = [d for d in yaml.safe_load_all((REPO / "deploy" / "kubesphere-import" / "rbac.yaml").read_text()) if d]
    [binding] = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    binding["subjects"].append({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": LOCAL_CONSOLE})
    for d in docs:
        await admin_kube.apply(d, namespace=None, actor=CONSOLE, field_manager="dockyard-test")
    users = qualified("User", "iam.kubesphere.io/" + ("v1beta1" if edition == "4.x" else "v1alpha2"))
    await eventually(lambda: kube.list(users, None, actor=CONSOLE, limit=1), timeout=30)
    yield
    for d in reversed(docs):
        await _delete(admin_kube, d)


@pytest_asyncio.fixture(loop_scope="session")
async def kubesphere(edition: str, admin_kube: KubeGateway, tenants: Tenants) -> AsyncIterator[str]:
    """The edition's tenancy under a suffix of this test's own (returned), and carol<suffix> already a
    Dockyard user with another email (a name collision). Removed after."""
    s = suffix()
    docs = tenancy(edition, s)
    async with tenants._session() as session:
        await users_domain.create_user(session, username=f"carol{s}", email=f"carol{s}@dockyard.example",
                                       password=PASSWORD, platform_role="platform-regular")
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    for obj in namespaces + [d for d in docs if d["kind"] != "Namespace"]:
        await eventually(lambda obj=obj: _create(admin_kube, obj), timeout=30)  # storage may be warming up
    yield s
    for obj in [d for d in reversed(docs) if d["kind"] != "Namespace"] + namespaces:
        await _delete(admin_kube, obj)


def _mine(plan: Plan, s: str) -> dict[str, dict[str, str]]:
    """The plan's lines about this test's objects, as expected() states them."""
    return {c.value: {i.name: i.status.value for i in plan.of(c) if s in i.name or i.name in FIXED}
            for c in plan.categories}


def _without_empty(d: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {k: v for k, v in d.items() if v}


async def _dry_run(app: Any, kube: KubeGateway, s: str, want: dict[str, dict[str, str]]) -> Plan:
    """The dry run, once the console's watches have seen the test's objects."""
    async def ready() -> Plan | None:
        async with app.state.sessionmaker() as session:
            plan = await kubesphere_import.dry_run(session, kube)
        return plan if _without_empty(_mine(plan, s)) == want else None
    try:
        return await eventually(ready, timeout=20)
    except AssertionError:
        async with app.state.sessionmaker() as session:
            plan = await kubesphere_import.dry_run(session, kube)
        assert _without_empty(_mine(plan, s)) == want  # shows the difference
        raise


# -- tests -------------------------------------------------------------------------------------------------

async def test_without_its_rbac_the_page_says_how_to_let_the_console_read_kubesphere(
        edition: str, kubesphere: str, tenants: Tenants) -> None:
    admin = await tenants.browser(await tenants.user("adm", PlatformRole.admin))
    page = await admin.get("/admin/import/kubesphere")
    assert page.status_code == 200
    assert "may not read KubeSphere" in page.text and "deploy/kubesphere-import/rbac.yaml" in page.text
    assert 'id="import-form"' not in page.text


async def test_the_dry_run_then_the_import_then_nothing_more(
        edition: str, console_may_read: None, kubesphere: str, app: Any, kube: KubeGateway,
        admin_kube: KubeGateway) -> None:
    s = kubesphere
    plan = await _dry_run(app, kube, s, expected(edition, s))
    created = plan.count(Status.create)
    before = {n: await admin_kube.get("Service", f"shop-web{s}", n, actor=CONSOLE, fresh=True)
              for n in ("frontend", "api")}

    async with app.state.sessionmaker() as session:
        result = await kubesphere_import.run(session, kube, plan_source := await kubesphere_import.read(kube))
    assert result.created >= created and not result.cluster_problems
    async with app.state.sessionmaker() as session:
        alice = await session.scalar(select(User).where(User.username == f"alice{s}"))
        dave = await session.scalar(select(User).where(User.username == f"dave{s}"))
        admin = await session.scalar(select(User).where(User.username == f"admin{s}"))
        shop = await session.scalar(select(Workspace).where(Workspace.name == f"shop{s}"))
        web = await session.scalar(select(Project).where(Project.name == f"shop-web{s}"))
        etl = await session.scalar(select(Project).where(Project.name == f"etl{s}"))
        assert alice and dave and admin and shop and web and etl
        assert alice.password_hash is None and alice.email == f"alice{s}@example.com"
        assert admin.platform_role == PlatformRole.admin and dave.disabled
        assert (shop.alias, web.alias, web.description) == ("Online-Shop", "Web-Front", "The public storefront")
        assert web.workspace_id == shop.id and web.creator_id == alice.id
        assert (web.pod_security, etl.pod_security) == ("baseline", "privileged")
        ws_role = await session.scalar(select(WorkspaceMember.role).where(
            WorkspaceMember.workspace_id == shop.id, WorkspaceMember.user_id == alice.id))
        bob_in_web = await session.scalar(select(ProjectMember.role).join(User).where(
            ProjectMember.project_id == web.id, User.username == f"bob{s}"))
        assert (ws_role, bob_in_web) == ("workspace-admin", "operator")

    # The cluster: the namespace enforces its level, Dockyard's bindings are there, KubeSphere's are kept,
    # the Services are untouched.
    ns = await admin_kube.get("Namespace", None, f"shop-web{s}", actor=CONSOLE, fresh=True)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert ns["metadata"]["labels"]["kubesphere.io/workspace"] == f"shop{s}"
    bindings = {b["metadata"]["name"] for b in await admin_kube.items("RoleBinding", f"shop-web{s}", actor=CONSOLE)}
    assert f"dockyard-{alice.uid}" in bindings
    kept = (await admin_kube.items(qualified("RoleBinding", "iam.kubesphere.io/v1beta1"), f"shop-web{s}",
                                   actor=CONSOLE) if edition == "4.x" else [])
    assert f"alice{s}-admin" in bindings | {b["metadata"]["name"] for b in kept}
    for name, svc in before.items():
        now = await admin_kube.get("Service", f"shop-web{s}", name, actor=CONSOLE, fresh=True)
        assert now["metadata"]["resourceVersion"] == svc["metadata"]["resourceVersion"]

    async with app.state.sessionmaker() as session:
        again = await kubesphere_import.run(session, kube, plan_source)
    assert again.created == 0 and again.plan.count(Status.create) == 0
    assert _mine(again.plan, s)["users"][f"alice{s}"] == "exists"


async def test_an_imported_user_signs_in_after_a_password_reset_and_sees_the_aliases(
        edition: str, console_may_read: None, kubesphere: str, app: Any, kube: KubeGateway,
        tenants: Tenants) -> None:
    s = kubesphere
    await _dry_run(app, kube, s, expected(edition, s))
    async with app.state.sessionmaker() as session:
        await kubesphere_import.import_from(session, kube)
    browser = await tenants.browser()
    assert (await browser.login(f"alice{s}")).status_code != 303  # no password yet
    async with app.state.sessionmaker() as session:
        alice = await users_domain.get_user(session, f"alice{s}")
        await users_domain.set_password(session, alice, PASSWORD)
    assert (await browser.login(f"alice{s}")).status_code == 303
    await eventually(lambda: kube.list("Service", f"shop-web{s}", actor=Actor.user(alice.uid), limit=1), timeout=15)
    page = await browser.get(f"/workspaces/shop{s}/projects/shop-web{s}/services")
    assert page.status_code == 200
    assert "Storefront" in page.text and "frontend" in page.text and "api" in page.text
    detail = await browser.get(f"/workspaces/shop{s}/projects/shop-web{s}/services/frontend")
    assert "The shop&#39;s web front end" in detail.text or "The shop's web front end" in detail.text


async def test_the_page_shows_the_dry_run_imports_on_post_and_is_refused_to_others(
        edition: str, console_may_read: None, kubesphere: str, app: Any, kube: KubeGateway,
        tenants: Tenants) -> None:
    s = kubesphere
    await _dry_run(app, kube, s, expected(edition, s))
    regular = await tenants.browser(await tenants.user("reg"))
    assert (await regular.get("/admin/import/kubesphere")).status_code == 403
    assert (await regular.post("/admin/import/kubesphere")).status_code == 403
    admin = await tenants.browser(await tenants.user("adm", PlatformRole.admin))
    users_page = await admin.get("/admin/users")
    assert 'href="/admin/import/kubesphere"' in users_page.text
    page = await admin.get("/admin/import/kubesphere")
    assert page.status_code == 200 and 'id="import-form"' in page.text
    assert f"carol{s}" in page.text and "a Dockyard user with this name has another email" in page.text
    assert 'id="import-project-members"' in page.text
    assert (await admin.client.post("/admin/import/kubesphere", data={})).status_code == 403  # no CSRF token
    done = await admin.post("/admin/import/kubesphere")
    assert done.status_code == 303 and done.headers["location"] == "/admin/import/kubesphere/result"
    result = await admin.get("/admin/import/kubesphere/result")
    assert result.status_code == 200
    assert "created " in result.text and "project members" in result.text
    assert "0 to create" in result.text
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(Project.id).where(Project.name == f"etl{s}"))
    audit = await admin.get("/admin/audit?verb=import")
    assert "KubeSphere" in audit.text and admin.username in audit.text


def test_the_cli_dry_run_apply_and_rerun(edition: str, kubesphere: str, cluster: Any, database_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """With an admin's kubeconfig (no console RBAC needed)."""
    s = kubesphere
    monkeypatch.setenv("DOCKYARD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    args = ["import", "kubesphere", "--kubeconfig", str(cluster.admin_kubeconfig)]
    try:
        dry = runner.invoke(cli.main, args)
        assert dry.exit_code == 0, dry.output
        assert f"KubeSphere {edition}:" in dry.output and "Dry run: nothing was changed" in dry.output
        assert any(f"alice{s}" in line and "will create" in line for line in dry.output.splitlines())
        assert any(f"carol{s}" in line and "will not map" in line for line in dry.output.splitlines())
        done = runner.invoke(cli.main, [*args, "--apply"])
        assert done.exit_code == 0, done.output
        assert "Imported from KubeSphere" in done.output and "project members" in done.output
        again = runner.invoke(cli.main, [*args, "--apply"])
        assert again.exit_code == 0 and "Nothing to import: 0 to create" in again.output, again.output
    finally:
        get_settings.cache_clear()

