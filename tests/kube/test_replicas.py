"""Two console processes on one database and one cluster, as two replicas behind one address: a session
signed in at one is signed in at the other; the same form posted to both creates once; when the Lease
holder is killed during a run of creates, the other keeps serving, every create is made exactly once
(counted on the API server), the Lease moves to it, and it repairs a RoleBinding deleted meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from app.domain import rbac
from app.domain.leader import LEASE, NAMESPACE
from app.kube import identity
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from tests.cluster import REPO, eventually, unique_name
from tests.conftest import Browser, DemoProject
from tests.web.test_creation_pages import submit, urls

pytestmark = pytest.mark.cluster


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(database_url: str, cluster, tmp_path: Path) -> AsyncIterator[list[Replica]]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "DOCKYARD_DATABASE_URL": database_url, "DOCKYARD_KUBECONFIG": str(cluster.console_kubeconfig),
           "DOCKYARD_FAST_PASSWORD_HASHING": "true",
           "DOCKYARD_RECONCILE_INTERVAL_SECONDS": "3", "DOCKYARD_LOG_JSON": "false"}
    started: list[Replica] = []
    for i in range(2):
        port = _free_port()
        log = tmp_path / f"replica-{i}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.asgi:app", "--host", "127.0.0.1",
                                     "--port", str(port), "--no-proxy-headers"], cwd=REPO, env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        started.append(Replica(proc, f"http://127.0.0.1:{port}", log))
    try:
        async with httpx.AsyncClient() as c:
            for r in started:
                async def up(r: Replica = r) -> bool:
                    assert r.proc.poll() is None, r.log.read_text()[-3000:]
                    with contextlib.suppress(httpx.HTTPError):
                        return (await c.get(r.url + "/healthz", timeout=2)).status_code == 200
                    return False
                await eventually(up, timeout=60)
        yield started
    finally:
        for r in started:
            if r.proc.poll() is None:
                r.proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    r.proc.wait(15)
            if r.proc.poll() is None:
                r.proc.kill()


def _browser(url: str, cookies: httpx.Cookies | None = None) -> Browser:
    return Browser(httpx.AsyncClient(base_url=url, timeout=30, cookies=cookies))


async def _filled_form(b: Browser, demo: DemoProject, name: str) -> tuple[str, list[tuple[str, str]]]:
    """The External Service form at its last step, as the browser would post it with Create."""
    from tests.web.test_creation_pages import form_fields
    url = urls(demo)["external"]
    page = await submit(b, url, await b.get(url), name=name)
    fields = [(k, v) for k, v in form_fields(page.text) if k != "external_name"]
    return url, fields + [("external_name", f"{name}.example.com"), ("op", "create")]


async def _holder(admin_kube: KubeGateway) -> str:
    try:
        lease = await admin_kube.get("Lease", NAMESPACE, LEASE, actor=CONSOLE)
    except KubeError:
        return ""
    spec = lease.get("spec") or {}
    return str(spec.get("holderIdentity") or "")


async def test_two_replicas_share_sessions_and_creates_and_hand_the_lease_over(
        replicas: list[Replica], demo: DemoProject, admin_kube: KubeGateway) -> None:
    pids = {r.proc.pid: r for r in replicas}

    async def leader() -> Replica | None:
        holder = await _holder(admin_kube)
        return next((r for pid, r in pids.items() if f"-{pid}-" in holder), None)
    first_leader = await eventually(leader, timeout=45)
    other = next(r for r in replicas if r is not first_leader)

    # Signed in at one replica, signed in at the other (sessions live in the database).
    at_leader = _browser(first_leader.url)
    assert (await at_leader.login(demo.operator.username)).status_code == 303
    at_other = _browser(other.url, at_leader.client.cookies)
    assert (await at_other.get(f"{demo.base}/services")).status_code == 200
    at_other.csrf = at_leader.csrf

    names = [unique_name("rep") for _ in range(6)]
    statuses: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        url, form = await _filled_form(at_other, demo, name)
        if i < 3:  # the same form reaches both replicas at once (a retry by a proxy, a double click)
            answers = await asyncio.gather(at_leader.post(url, form), at_other.post(url, form))
            statuses[name] = [a.status_code for a in answers]
            continue
        if i == 3:  # the leader dies between two creates
            first_leader.kill()
            managed = await admin_kube.items("RoleBinding", demo.namespace, actor=CONSOLE,
                                             label_selector=f"{rbac.MANAGED_BY}={rbac.MANAGER}")
            # Not the operator's own binding: the creates that follow are made as the operator.
            operator = identity.account_name(demo.operator.uid)
            victim = next(b["metadata"]["name"] for b in managed
                          if operator not in {x.get("name") for x in b.get("subjects") or []})
            await admin_kube.delete("RoleBinding", demo.namespace, victim, actor=CONSOLE)
            died = time.monotonic()
        try:  # the browser's proxy sends it to the dead replica first, then to the live one
            answer = await at_leader.post(url, form)
        except httpx.TransportError:
            answer = await at_other.post(url, form)
        statuses[name] = [answer.status_code]

    assert all(all(s == 303 for s in codes) for codes in statuses.values()), statuses
    services = [s["metadata"]["name"] for s in await admin_kube.items("Service", demo.namespace, actor=CONSOLE)]
    assert sorted(n for n in services if n in names) == sorted(names)  # each exactly once

    # The survivor takes the Lease over and repairs the RoleBinding deleted meanwhile.
    await eventually(lambda: _holder_is(admin_kube, other.proc.pid), timeout=30)
    assert time.monotonic() - died < 15 + 10

    async def repaired() -> bool:
        await admin_kube.get("RoleBinding", demo.namespace, victim, actor=CONSOLE)
        return True
    await eventually(repaired, timeout=20)
    assert (await at_other.get(f"{demo.base}/services")).status_code == 200  # still serving
    await at_leader.client.aclose()
    await at_other.client.aclose()


async def _holder_is(admin_kube: KubeGateway, pid: int) -> bool:
    return f"-{pid}-" in await _holder(admin_kube)


async def test_a_sign_out_at_one_replica_ends_the_session_at_the_other_at_once(
        replicas: list[Replica], demo: DemoProject, database_url: str) -> None:
    """Each process keeps who a cookie is for a few seconds; on PostgreSQL a sign-out elsewhere reaches
    it by NOTIFY at once (well inside those seconds), not when its entry expires."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several console processes need PostgreSQL (SQLite is the single-process default)")
    first, second = replicas
    at_first = _browser(first.url)
    assert (await at_first.login(demo.operator.username)).status_code == 303
    at_second = _browser(second.url, at_first.client.cookies)
    at_second.csrf = at_first.csrf
    assert (await at_second.get(f"{demo.base}/services")).status_code == 200  # now kept at the second

    signed_out = time.monotonic()
    assert (await at_first.post("/logout")).status_code == 303

    async def refused() -> bool:
        answer = await at_second.get(f"{demo.base}/services")
        return answer.status_code in (302, 303, 401) and "/login" in answer.headers.get("location", "/login")
    await eventually(refused, timeout=2.5)
    assert time.monotonic() - signed_out < 4  # the kept entry (5 s) did not simply expire
    await at_first.client.aclose()
    await at_second.client.aclose()


async def test_serve_with_two_workers(database_url: str, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`dockyard serve --workers 2`: on SQLite a clear refusal; on PostgreSQL two processes answering."""
    env = {**os.environ, "DOCKYARD_DATABASE_URL": database_url, "DOCKYARD_KUBECONFIG": str(cluster.console_kubeconfig),
           "DOCKYARD_FAST_PASSWORD_HASHING": "true", "DOCKYARD_LOG_JSON": "false",
           "DOCKYARD_RECONCILE_INTERVAL_SECONDS": "0"}
    port = _free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"]
    if not database_url.startswith("postgresql"):
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "need PostgreSQL" in done.stderr, done.stderr
        return
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        def workers() -> set[str]:
            import re
            return set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
        await eventually(lambda: len(workers()) == 2, timeout=60)
        async with httpx.AsyncClient() as c:
            async def healthy() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await c.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200
                return False
            await eventually(healthy, timeout=30)
        assert proc.poll() is None
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
