"""What every benchmark shares: the local control plane, a fresh database, the console (in-process or as a
real uvicorn process), tenants, signed-in clients, the raw gateway, timing and the figures it reports.

The console and the "raw" side talk to the cluster the same way: a `KubeGateway` built from the
console's kubeconfig, impersonating `dockyard:user:<uid>`. So a ratio console/raw is what the console
adds (session, access checks, rendering, HTTP) on top of the Kubernetes round trips a page needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".dockyard" / "bench"
# BENCH_CLUSTER_ROOT: a control plane of its own (e.g. while the suite uses the shared one).
CLUSTER_ROOT = Path(os.environ.get("BENCH_CLUSTER_ROOT") or REPO / ".dockyard" / "cluster")
PASSWORD = "bench-password-not-secret"

os.environ.setdefault("DOCKYARD_FAST_PASSWORD_HASHING", "true")

from app.db import downgrade, upgrade  # noqa: E402
from app.domain import projects as projects_domain  # noqa: E402
from app.domain import rbac  # noqa: E402
from app.domain import users as users_domain  # noqa: E402
from app.domain.access import WorkspaceAccess  # noqa: E402
from app.kube.client import CONSOLE, Actor, KubeGateway  # noqa: E402
from app.kube.config import new_gateway  # noqa: E402
from app.kube.errors import KubeError  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Project, ProjectMember, ProjectRole, User, Workspace, WorkspaceMember, WorkspaceRole  # noqa: E402
from app.settings import Settings  # noqa: E402
from devcluster import localcluster  # noqa: E402


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


# -- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    p90: float
    p99: float
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        s = sorted(samples)
        if not s:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
        return cls(
            len(s),
            statistics.median(s),
            percentile(s, 90),
            percentile(s, 99),
            statistics.fmean(s),
            s[0],
            s[-1],
        )


def percentile(sorted_samples: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    if not sorted_samples:
        return float("nan")
    k = max(0, min(len(sorted_samples) - 1, -(-len(sorted_samples) * p // 100) - 1))
    return sorted_samples[int(k)]


@dataclass(frozen=True)
class Figure:
    """One row of the table: a measured value, its target and whether it is met (None: no target)."""

    bench: str
    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None
    detail: str = ""

    def value_text(self) -> str:
        if self.value != self.value:  # NaN
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit in ("ms", "MB", "KB", "s"):
            return f"{self.value:.1f} {self.unit}"
        if self.unit == "req/s":
            return f"{self.value:.1f} req/s"
        return f"{self.value:g} {self.unit}".strip()

    def verdict(self) -> str:
        return "" if self.passed is None else ("pass" if self.passed else "MISS")


def ms(seconds: float) -> float:
    return seconds * 1000.0


def ratio_figure(
    bench: str, name: str, console: Stats, raw: Stats, limit: float, *, raw_name: str = "raw"
) -> Figure:
    r = console.median / raw.median if raw.median else float("nan")
    return Figure(
        bench,
        name,
        r,
        "x",
        f"<= {limit:g}",
        r <= limit,
        f"console median {console.median:.1f} ms (p90 {console.p90:.1f}), "
        f"{raw_name} median {raw.median:.1f} ms (p90 {raw.p90:.1f}), n={console.n}",
    )


async def alternate(
    a: Callable[[], Awaitable[Any]], b: Callable[[], Awaitable[Any]], *, iterations: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Time `a` and `b` alternately (ABAB, then BABA: neither always runs first); in ms.

    A function that returns a number reports its own time (the server time of a console request, see
    `ServerTimer`); otherwise the wall time of the call counts."""
    for _ in range(warmup):
        await a()
        await b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(iterations):
        order = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for fn, sink in order:
            started = time.perf_counter()
            own = await fn()
            sink.append(own if isinstance(own, float) else ms(time.perf_counter() - started))
    return ta, tb


class ServerTimer:
    """ASGI wrapper around the console: the server time of each request, from the call into the app to
    its last body chunk (what the app spends: middleware, dependencies, handler, rendering), without
    the HTTP client's own work. `last` is the latest request's time in ms (requests run one at a time)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = float("nan")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = ms(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


# -- a signed-in browser -----------------------------------------------------------------------------

_META_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_FIELD_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """An httpx client signed in as one user; sends the session's CSRF token like the pages do."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        resp = await self.client.get(url, **kw)
        if not self.csrf:
            m = _META_CSRF.search(resp.text)
            if m:
                self.csrf = m.group(1)
        return resp

    async def post(self, url: str, data: Any = None, *, htmx: bool = False, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        headers["X-CSRF-Token"] = self.csrf
        if htmx:
            headers["HX-Request"] = "true"
        return await self.client.post(url, data=data, headers=headers, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> None:
        page = await self.client.get("/login")
        m = _FIELD_CSRF.search(page.text)
        if not m:
            raise RuntimeError(f"no CSRF field on /login ({page.status_code})")
        resp = await self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": m.group(1)}
        )
        if resp.status_code != 303:
            raise RuntimeError(f"sign-in of {username} failed: {resp.status_code} {resp.text[:300]}")
        page = await self.client.get("/workspaces")
        m = _META_CSRF.search(page.text)
        if not m:
            raise RuntimeError("no csrf-token meta after sign-in")
        self.csrf = m.group(1)

    async def aclose(self) -> None:
        await self.client.aclose()


def expect(resp: httpx.Response, *statuses: int) -> httpx.Response:
    if resp.status_code not in (statuses or (200,)):
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:500]}"
        )
    return resp


# -- the environment -------------------------------------------------------------------------------


@dataclass
class Tenancy:
    """A workspace and a project, with `users` as operators (project-regular) who may create Services."""

    workspace: Workspace
    project: Project
    admin: User
    users: list[User]

    @property
    def base(self) -> str:
        return f"/workspaces/{self.workspace.name}/projects/{self.project.name}"

    @property
    def namespace(self) -> str:
        return self.project.name


@dataclass
class Bench:
    """The cluster, a fresh database, the console in-process, and gateways; built by `open_bench()`."""

    cluster: localcluster.ClusterInfo
    database_url: str
    settings: Settings
    app: Any
    console_kube: KubeGateway  # the app's own gateway
    raw: KubeGateway  # the same kind of gateway, for the raw side of an A/B
    admin: KubeGateway  # system:masters, for setup and cleanup
    namespaces: list[str] = field(default_factory=list)
    timer: ServerTimer | None = None

    def __post_init__(self) -> None:
        self.timer = ServerTimer(self.app)

    async def served(self, response: Awaitable[httpx.Response], *statuses: int) -> float:
        """Await an in-process request, check its status, and return its server time (ms)."""
        expect(await response, *statuses)
        assert self.timer is not None
        return self.timer.last

    def _session(self) -> Any:
        return self.app.state.sessionmaker()

    async def user(self, prefix: str = "bench") -> User:
        async with self._session() as s:
            name = f"{prefix}-{secrets.token_hex(4)}"
            return await users_domain.create_user(
                s,
                username=name,
                email=f"{name}@bench.local",
                password=PASSWORD,
                platform_role="platform-regular",
            )

    async def tenancy(self, operators: int = 1) -> Tenancy:
        """A new workspace and project (namespace created as the console), `operators` project members
        with RoleBindings reconciled once for all of them."""
        admin = await self.user("bench-admin")
        users = [await self.user("bench-user") for _ in range(operators)]
        async with self._session() as s:
            ws = Workspace(name=f"bench-{secrets.token_hex(3)}")
            s.add(ws)
            await s.flush()
            s.add(WorkspaceMember(workspace_id=ws.id, user_id=admin.id, role=WorkspaceRole.admin))
            for u in users:
                s.add(WorkspaceMember(workspace_id=ws.id, user_id=u.id, role=WorkspaceRole.regular))
            await s.commit()
        async with self._session() as s:
            access = WorkspaceAccess(user=admin, role=WorkspaceRole.admin)
            name = f"bench-{secrets.token_hex(3)}"
            self.namespaces.append(name)
            project = await projects_domain.create_project(
                s, self.console_kube, ws=ws, access=access, name=name
            )
        async with self._session() as s:
            for u in users:
                s.add(ProjectMember(project_id=project.id, user_id=u.id, role=ProjectRole.operator))
            await s.commit()
            await rbac.reconcile_project(s, self.console_kube, project)
        await self._wait_for_service_account(name)
        return Tenancy(ws, project, admin, users)

    async def _wait_for_service_account(self, namespace: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await self.admin.exists("ServiceAccount", namespace, "default", actor=CONSOLE):
                    return
            except KubeError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the default ServiceAccount of {namespace} is not there after {timeout:g} s")

    async def browser(self, user: User) -> Browser:
        """A signed-in client talking to the in-process app (httpx ASGITransport: no network)."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.timer), base_url="http://testserver"
        )
        b = Browser(client)
        await b.login(user.username)
        return b

    async def delete_namespaces(self, wait: bool = False) -> None:
        for ns in self.namespaces:
            with contextlib.suppress(KubeError):
                await self.admin.delete("Namespace", None, ns, actor=CONSOLE)
        if wait:
            for ns in self.namespaces:
                await wait_gone(self.admin, "Namespace", None, ns, timeout=300)
        self.namespaces.clear()


async def wait_gone(
    kube: KubeGateway, kind: str, namespace: str | None, name: str, timeout: float = 120
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await kube.get(kind, namespace, name, actor=CONSOLE)
        except KubeError as e:
            if e.not_found:
                return True
        await asyncio.sleep(1.0)
    return False


@contextlib.asynccontextmanager
async def open_bench() -> AsyncIterator[Bench]:
    """Start (or reuse) the local control plane, migrate a fresh database, start the app. The database is
    SQLite, or with BENCH_DATABASE_URL a PostgreSQL one (emptied first: it is the bench's own), which
    several console processes (BENCH_SERVER_WORKERS) need."""
    info = await asyncio.to_thread(localcluster.ensure_running, CLUSTER_ROOT, log)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if url:
        await asyncio.to_thread(downgrade, url, "base")
    else:
        db_file = BENCH_DIR / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(db_file) + suffix).unlink()
        url = f"sqlite+aiosqlite:///{db_file}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        database_url=url,
        kubeconfig=str(info.console_kubeconfig),
        fast_password_hashing=True,
        reconcile_interval_seconds=0,
    )
    app = create_app(settings, reconcile=False)
    raw = await new_gateway(str(info.console_kubeconfig), timeout=settings.kube_timeout_seconds)
    admin = await new_gateway(str(info.admin_kubeconfig), timeout=60)
    try:
        async with app.router.lifespan_context(app):
            bench = Bench(info, url, settings, app, await app.state.kube.get(), raw, admin)
            try:
                yield bench
            finally:
                await bench.delete_namespaces()
    finally:
        await raw.close()
        await admin.close()


def actor_of(user: User) -> Actor:
    return Actor.user(user.uid)


# -- the console as a real server process ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def rss_mb(self) -> float:
        """Resident memory of the console: the process, plus its workers when there are several."""
        ps = self.ps
        total = ps.memory_info().rss
        for child in ps.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total / 2**20


class RssSampler:
    """Samples a process's resident memory every `interval` seconds in the background; keeps the peak."""

    def __init__(self, server: Server, interval: float = 0.5) -> None:
        self.server = server
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.samples.append(self.server.rss_mb())
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
        with contextlib.suppress(psutil.Error):
            self.samples.append(self.server.rss_mb())

    @property
    def peak(self) -> float:
        return max(self.samples) if self.samples else float("nan")

    @property
    def last(self) -> float:
        return self.samples[-1] if self.samples else float("nan")


@contextlib.asynccontextmanager
async def console_server(bench: Bench, name: str = "console") -> AsyncIterator[Server]:
    """`uvicorn app.asgi:app` on loopback, configured like `dockyard serve` (one worker, access log on),
    on the bench database and the console's kubeconfig. BENCH_SERVER_WORKERS=N tries N worker processes
    (an experiment: the console keeps some state per process, see RESULTS.md)."""
    port = free_port()
    env = {
        **os.environ,
        "DOCKYARD_DATABASE_URL": bench.database_url,
        "DOCKYARD_KUBECONFIG": str(bench.cluster.console_kubeconfig),
        "DOCKYARD_FAST_PASSWORD_HASHING": "true",
        "DOCKYARD_RECONCILE_INTERVAL_SECONDS": "0",
    }
    log_path = BENCH_DIR / f"{name}.log"
    out = open(log_path, "wb")
    workers = env_int("BENCH_SERVER_WORKERS", 1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
            "--no-proxy-headers",
        ]
        + (["--workers", str(workers)] if workers > 1 else []),
        cwd=REPO,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as c:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"uvicorn exited with {proc.returncode}; see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(url + "/healthz", timeout=2)).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not answer within 60 s; see {log_path}")
                await asyncio.sleep(0.2)
        yield Server(proc, url, log_path)
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
        out.close()


# uvicorn closes a keep-alive connection idle for 5 s; a client reusing it at that moment gets a read
# error (browsers retry such a request by themselves, httpx does not). Drop idle connections earlier.
KEEPALIVE_EXPIRY = 4.0


async def server_browser(server: Server, user: User, *, connections: int = 4) -> Browser:
    """A signed-in client of a real console process (at most `connections` connections, like a browser's
    few per host)."""
    client = httpx.AsyncClient(
        base_url=server.url,
        timeout=60,
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
    )
    b = Browser(client)
    await b.login(user.username)
    return b
