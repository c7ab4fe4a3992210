"""The `dockyard` command line, the demo tenants, and the health endpoints."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app import cli
from app.db import upgrade
from app.domain import demo
from app.domain.auth import authenticate
from app.main import create_app
from app.models import Project, ProjectMember, User, WorkspaceMember
from app.settings import Settings, get_settings


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCKYARD_DATABASE_URL", database_url)
    monkeypatch.setenv("DOCKYARD_FAST_PASSWORD_HASHING", "true")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_users_create_and_set_password(cli_env: CliRunner, settings: Settings) -> None:
    name = f"cli-{secrets.token_hex(3)}"
    result = cli_env.invoke(cli.main, ["users", "create", name, "--platform-role", "platform-admin", "--password-stdin"],
                            input="first-password\n")
    assert result.exit_code == 0, result.output
    again = cli_env.invoke(cli.main, ["users", "create", name, "--password-stdin"], input="first-password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = cli_env.invoke(cli.main, ["users", "create", f"{name}-x", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    result = cli_env.invoke(cli.main, ["users", "set-password", name, "--password-stdin"], input="second-password\n")
    assert result.exit_code == 0, result.output
    missing = cli_env.invoke(cli.main, ["users", "set-password", "nobody-here", "--password-stdin"], input="xxxxxxxxxx\n")
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_cli_password_is_the_one_that_signs_in(cli_env: CliRunner, settings: Settings) -> None:
    import asyncio

    name = f"cli-{secrets.token_hex(3)}"
    assert cli_env.invoke(cli.main, ["users", "create", name, "--password-stdin"], input="cli-password-1\n").exit_code == 0

    async def sign_in(password: str) -> bool:
        return bool(await cli._with_session(lambda s: authenticate(s, settings, username=name, password=password,
                                                                   ip="1.2.3.4", user_agent="t")))
    assert asyncio.run(sign_in("cli-password-1"))
    assert not asyncio.run(sign_in("wrong-password"))


def test_db_upgrade_command(cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli.main, ["db", "upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output


@pytest.mark.cluster
async def test_demo_seed_creates_the_docs_tenants(app, kube, admin_kube) -> None:  # type: ignore[no-untyped-def]
    suffix = f"-{secrets.token_hex(2)}"
    ws, project = f"demo-workspace{suffix}", f"demo-project{suffix}"
    try:
        async with app.state.sessionmaker() as s:
            created = await demo.seed(s, kube, password="demo-password", workspace=ws, project_name=project, suffix=suffix)
            assert set(created) == {f"{n}{suffix}" for n in ("admin", "ws-admin", "project-admin", "project-regular")}
            # a second run creates nothing and fails on nothing
            assert await demo.seed(s, kube, password="demo-password", workspace=ws, project_name=project, suffix=suffix) == {}
            regular = await s.scalar(select(User).where(User.username == f"project-regular{suffix}"))
            proj = await s.scalar(select(Project).where(Project.name == project))
            role = await s.scalar(select(ProjectMember.role).where(ProjectMember.project_id == proj.id,
                                                                   ProjectMember.user_id == regular.id))
            assert role == "operator"
            assert proj.creator.username == f"project-admin{suffix}"
            ws_role = await s.scalar(select(WorkspaceMember.role).where(WorkspaceMember.workspace_id == proj.workspace_id,
                                                                        WorkspaceMember.user_id == regular.id))
            assert ws_role == "workspace-viewer"
        from app.kube.client import CONSOLE
        ns = await admin_kube.get("Namespace", None, project, actor=CONSOLE)
        assert ns["metadata"]["labels"]["kubesphere.io/workspace"] == ws
    finally:
        from app.kube.client import CONSOLE
        try:
            await admin_kube.delete("Namespace", None, project, actor=CONSOLE)
        except Exception:
            pass


def test_demo_seed_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_ENV", "production")
    monkeypatch.setenv("DOCKYARD_SESSION_SECRET", "p" * 40)
    monkeypatch.setenv("DOCKYARD_FAST_PASSWORD_HASHING", "false")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.main, ["demo", "seed"])
        assert result.exit_code != 0 and "never seeded in production" in result.output
    finally:
        get_settings.cache_clear()


def test_serve_without_a_cluster_says_how_to_get_one(
        cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The console never starts the development cluster itself (`make run` does, before it)."""
    for name in ("DOCKYARD_KUBECONFIG", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    get_settings.cache_clear()
    result = cli_env.invoke(cli.main, ["serve", "--port", "1"])
    assert result.exit_code != 0
    assert "no cluster configured: set DOCKYARD_KUBECONFIG or KUBECONFIG" in result.output
    assert "make run" in result.output


async def test_readyz_names_what_is_down(database_url: str) -> None:
    settings = Settings(database_url=database_url, kubeconfig="/nonexistent/kubeconfig", fast_password_hashing=True,
                        reconcile_interval_seconds=0)
    app = create_app(settings, reconcile=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/healthz")).status_code == 200
            resp = await c.get("/readyz")
            assert resp.status_code == 503
            body = resp.json()
            assert body["checks"]["database"] == "ok" and body["checks"]["cluster"].startswith("failed")


def test_pod_security_report_lists_what_does_not_meet_each_projects_level(
        cli_env: CliRunner, demo, cluster, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Run by hand after the upgrade that moved every project to baseline (README, Pod Security)."""
    import asyncio

    from tests.hostile_pods import restricted_clean

    legacy = restricted_clean("legacy", "Deployment")
    legacy["spec"]["template"]["spec"]["hostPID"] = True
    asyncio.run(_create_as_admin(str(cluster.admin_kubeconfig), legacy, demo.namespace))
    monkeypatch.setenv("DOCKYARD_KUBECONFIG", str(cluster.console_kubeconfig))
    result = cli_env.invoke(cli.main, ["pod-security", "report"])
    assert result.exit_code == 0, result.output
    assert f"{demo.namespace} (baseline): 1 workload(s) do not meet it" in result.output
    assert "Deployment legacy: Host Namespaces:" in result.output
    stricter = cli_env.invoke(cli.main, ["pod-security", "report", "--level", "restricted"])
    assert f"{demo.namespace} (restricted): 1 workload(s)" in stricter.output


async def _create_as_admin(kubeconfig: str, obj: dict, namespace: str) -> None:
    from app.kube.client import CONSOLE
    from app.kube.config import new_gateway

    gw = await new_gateway(kubeconfig)
    try:
        await gw.create(obj, namespace=namespace, actor=CONSOLE)
    finally:
        await gw.close()


def test_serve_seeds_missing_demo_tenants_at_every_start_and_trusts_only_named_proxies(
        tmp_path: Path, cluster, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A first start that failed after migrating (issue 17: the dpkg lock was held) must not leave the
    newcomer without a way in: every start seeds what is missing, and shows the passwords of accounts it
    made even when a later step failed. uvicorn gets the console's log (no access log of its own), the
    proxies to believe, and a graceful shutdown. (The seed itself: test_demo_seed_creates_the_docs_tenants.)"""
    import uvicorn

    url = f"sqlite+aiosqlite:///{tmp_path / 'first-start.db'}"
    upgrade(url)  # what the failed start left behind: a migrated database, no tenants
    runs: list[dict] = []
    seeds: list[str] = []

    async def seed(kubeconfig, password, created=None):  # type: ignore[no-untyped-def]
        seeds.append(kubeconfig)
        if len(seeds) == 1:  # the accounts are made, then the cluster does not answer
            created["project-regular"] = "made-before-the-failure"
            raise RuntimeError("the cluster did not answer")
        return {}

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: runs.append(kw))
    monkeypatch.setattr(cli, "_seed", seed)
    for key, value in {"DOCKYARD_DATABASE_URL": url, "DOCKYARD_KUBECONFIG": str(cluster.console_kubeconfig),
                       "DOCKYARD_TRUSTED_PROXIES": "10.0.0.0/8"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli.main, ["serve", "--port", "1"])
        again = CliRunner().invoke(cli.main, ["serve", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert "made-before-the-failure" in first.output and "next start tries again" in first.output
    assert again.exit_code == 0 and "Demo accounts" not in again.output
    assert len(seeds) == 2  # the database was not new the second time, and it seeded all the same
    kw = runs[0]
    assert kw["proxy_headers"] is True and kw["forwarded_allow_ips"] == "10.0.0.0/8"
    assert kw["log_config"] is None and kw["access_log"] is False and kw["timeout_graceful_shutdown"] > 0


def test_the_first_platform_admin_comes_from_a_bootstrap_secret_once(
        tmp_path: Path, cluster, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 17: the image never seeds demo accounts; its first admin is `dockyard users create` or a
    bootstrap Secret's files, used while the platform has no admin, never logged."""
    import asyncio

    import uvicorn

    url = f"sqlite+aiosqlite:///{tmp_path / 'production.db'}"
    secret = tmp_path / "bootstrap"
    secret.mkdir()
    (secret / "username").write_text("root-admin\n")
    (secret / "password").write_text("a-bootstrap-password-1\n")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    for key, value in {"DOCKYARD_DATABASE_URL": url, "DOCKYARD_KUBECONFIG": str(cluster.console_kubeconfig),
                       "DOCKYARD_ENV": "production", "DOCKYARD_SESSION_SECRET": "s" * 40,
                       "DOCKYARD_BOOTSTRAP_ADMIN_DIR": str(secret)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOCKYARD_FAST_PASSWORD_HASHING", raising=False)  # not allowed in production
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli.main, ["serve", "--port", "1"])
        (secret / "password").write_text("a-changed-password-2\n")  # a later start changes nothing
        again = CliRunner().invoke(cli.main, ["serve", "--port", "1"])
        settings = get_settings()

        async def signs_in(password: str) -> bool:
            return bool(await cli._with_session(lambda s: authenticate(
                s, settings, username="root-admin", password=password, ip="1.2.3.4", user_agent="t")))

        assert asyncio.run(signs_in("a-bootstrap-password-1")) and not asyncio.run(signs_in("a-changed-password-2"))
        assert first.exit_code == 0 and "platform admin root-admin created from the bootstrap Secret" in first.output
        assert "a-bootstrap-password-1" not in first.output and "Demo accounts" not in first.output
        assert again.exit_code == 0 and "created from the bootstrap Secret" not in again.output
    finally:
        get_settings.cache_clear()
