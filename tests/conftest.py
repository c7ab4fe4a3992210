"""Test harness: a migrated database (SQLite by default, PostgreSQL when DOCKYARD_TEST_DATABASE_URL says so),
the real local control plane (tests/cluster.py), the app wired to both, and tenant factories.

Every test gets its own users, workspace and project (unique names), so tests never share state.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

os.environ.setdefault("DOCKYARD_FAST_PASSWORD_HASHING", "true")

from app.db import upgrade  # noqa: E402
from app.domain import projects as projects_domain  # noqa: E402
from app.domain import users as users_domain  # noqa: E402
from app.domain.access import WorkspaceAccess  # noqa: E402
from app.kube.client import CONSOLE, KubeGateway  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import (  # noqa: E402
    PlatformRole,
    Project,
    ProjectMember,
    ProjectRole,
    User,
    Workspace,
    WorkspaceMember,
    WorkspaceRole,
)
from app.settings import Settings  # noqa: E402

pytest_plugins = ["tests.cluster", "tests.oidc_provider"]

PASSWORD = "correct-horse-battery"


def _uid() -> str:
    # 32 bits: the suite makes thousands of users, workspaces and projects in one PostgreSQL database,
    # and with 24 bits two of them shared a name about one run in four (the birthday bound)
    return secrets.token_hex(4)


async def _create_postgres_database(url: str) -> tuple[str, str]:
    """A fresh database per test session on the server the URL points at; returns (test url, admin url)."""
    import asyncpg

    base, _, _name = url.rpartition("/")
    name = f"dockyard_test_{os.getpid()}_{_uid()}"
    dsn = base.replace("postgresql+asyncpg", "postgresql") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}", dsn


async def _drop_postgres_database(dsn: str, url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated, empty database for the whole session."""
    wanted = os.environ.get("DOCKYARD_TEST_DATABASE_URL", "")
    if wanted.startswith("postgresql"):
        url, admin = asyncio.run(_create_postgres_database(wanted))
        upgrade(url)
        yield url
        asyncio.run(_drop_postgres_database(admin, url))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'test.db'}"
            upgrade(url)
            yield url


@pytest.fixture(scope="session")
def settings(database_url: str, cluster) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        database_url=database_url, kubeconfig=str(cluster.console_kubeconfig), fast_password_hashing=True,
        reconcile_interval_seconds=0, login_max_failures=5,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings, reconcile=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube(app) -> KubeGateway:  # type: ignore[no-untyped-def]
    """The console's own gateway (its least-privilege identity), as the app uses it."""
    return await app.state.kube.get()


@pytest_asyncio.fixture(loop_scope="session")
async def db(app):  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        yield session


class Browser:
    """An httpx client signed in as one user, sending the CSRF token like the pages do."""

    def __init__(self, client: httpx.AsyncClient, username: str | None = None) -> None:
        self.client = client
        self.username = username
        self.csrf = ""

    async def get(self, url: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        resp = await self.client.get(url, **kw)
        m = re.search(r'name="csrf-token" content="([^"]+)"', resp.text)
        if m:
            self.csrf = m.group(1)
        return resp

    async def post(self, url: str, data: dict | list | None = None, *, htmx: bool = False, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        headers = kw.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        if isinstance(data, list):  # repeated keys, in order: send them as the browser would
            from urllib.parse import urlencode
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(data + [("csrf_token", self.csrf)])
            return await self.client.post(url, content=body, headers=headers, **kw)
        data = {**(data or {}), "csrf_token": self.csrf}
        return await self.client.post(url, data=data, headers=headers, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        resp = await self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})
        if resp.status_code == 303:
            self.username = username
            await self.get("/workspaces")
        return resp


@dataclass
class Tenants:
    """Factories for users, workspaces and projects, with unique names per test."""

    app: object
    kube: KubeGateway
    created_namespaces: list[str] = field(default_factory=list)

    def _session(self):  # type: ignore[no-untyped-def]
        return self.app.state.sessionmaker()  # type: ignore[attr-defined]

    async def user(self, prefix: str = "u", platform_role: PlatformRole = PlatformRole.regular) -> User:
        async with self._session() as s:
            name = f"{prefix}-{_uid()}"
            return await users_domain.create_user(s, username=name, email=f"{name}@test.local", password=PASSWORD,
                                                  platform_role=platform_role.value)

    async def workspace(self, admin: User | None = None) -> Workspace:
        async with self._session() as s:
            ws = Workspace(name=f"ws-{_uid()}")
            s.add(ws)
            await s.flush()
            if admin is not None:
                s.add(WorkspaceMember(workspace_id=ws.id, user_id=admin.id, role=WorkspaceRole.admin))
            await s.commit()
            return ws

    async def ws_member(self, ws: Workspace, user: User, role: WorkspaceRole) -> None:
        async with self._session() as s:
            s.add(WorkspaceMember(workspace_id=ws.id, user_id=user.id, role=role))
            await s.commit()

    async def project(self, ws: Workspace, creator: User) -> Project:
        """Created like the console does it: the namespace in the cluster, then the rows."""
        async with self._session() as s:
            access = WorkspaceAccess(user=creator, role=WorkspaceRole.admin)
            name = f"p-{_uid()}"
            self.created_namespaces.append(name)
            project = await projects_domain.create_project(s, self.kube, ws=ws, access=access, name=name)
        await self.cluster_grants(project, creator)
        return project

    async def pod_security(self, project: Project, level: str) -> None:
        """Give the project a Pod Security level as a platform admin would (row and namespace labels)."""
        from app.domain import project_security

        async with self._session() as s:
            row = await s.get(Project, project.id)
            row.pod_security = level  # type: ignore[union-attr]
            await s.commit()
        project.pod_security = level
        await project_security.apply_labels(self.kube, project)

    async def project_member(self, project: Project, user: User, role: ProjectRole) -> None:
        from app.domain import rbac

        async with self._session() as s:
            s.add(ProjectMember(project_id=project.id, user_id=user.id, role=role))
            await s.commit()
            await rbac.reconcile_project(s, self.kube, project)
        await self.cluster_grants(project, user)

    async def cluster_grants(self, project: Project, user: User) -> None:
        """Wait until the API server's authorizer has seen the user's new RoleBinding (it lags a little)."""
        from app.kube.client import Actor
        from tests.cluster import eventually

        await eventually(lambda: self.kube.list("Service", project.name, actor=Actor.user(user.uid), limit=1),
                         timeout=15)

    async def browser(self, user: User | None = None) -> Browser:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")  # type: ignore[arg-type]
        b = Browser(client)
        if user is not None:
            resp = await b.login(user.username)
            assert resp.status_code == 303, resp.text[:500]
        return b


@pytest_asyncio.fixture(loop_scope="session")
async def tenants(app, kube, admin_kube) -> AsyncIterator[Tenants]:  # type: ignore[no-untyped-def]
    t = Tenants(app=app, kube=kube)
    yield t
    for ns in t.created_namespaces:
        try:
            await admin_kube.delete("Namespace", None, ns, actor=CONSOLE)
        except Exception:
            pass


@dataclass
class DemoProject:
    """The seed's prerequisite: a workspace, a project and project-regular as operator."""

    workspace: Workspace
    project: Project
    admin: User  # project admin (creator)
    operator: User  # "project-regular"
    viewer: User

    @property
    def base(self) -> str:
        return f"/workspaces/{self.workspace.name}/projects/{self.project.name}"

    @property
    def namespace(self) -> str:
        return self.project.name


@pytest_asyncio.fixture(loop_scope="session")
async def demo(tenants: Tenants) -> DemoProject:
    admin = await tenants.user("project-admin")
    operator = await tenants.user("project-regular")
    viewer = await tenants.user("viewer")
    ws = await tenants.workspace(admin)
    await tenants.ws_member(ws, operator, WorkspaceRole.regular)
    await tenants.ws_member(ws, viewer, WorkspaceRole.regular)
    project = await tenants.project(ws, admin)
    await tenants.project_member(project, operator, ProjectRole.operator)
    await tenants.project_member(project, viewer, ProjectRole.viewer)
    return DemoProject(ws, project, admin, operator, viewer)
