"""A slow, failing or answer-losing API server, through a real loopback proxy in front of the local one:
a create whose answer was lost is read back (V3), the breaker answers at once after repeated timeouts and
closes when the server is back, and a page waits for one deadline, not for each of its calls in turn."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio.client import ApiClient, Configuration

from app.domain import creation
from app.domain.pod_security import Level
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.main import create_app
from tests.cluster import eventually
from tests.conftest import Browser, DemoProject, Tenants
from tests.fault_proxy import Fault, FaultProxy


@pytest_asyncio.fixture(loop_scope="session")
async def proxy(cluster) -> AsyncIterator[FaultProxy]:  # type: ignore[no-untyped-def]
    async with FaultProxy.for_console(Path(cluster.console_kubeconfig).parent) as p:
        yield p


def through(proxy: FaultProxy, timeout: float = 3.0) -> KubeGateway:
    return KubeGateway(ApiClient(configuration=Configuration(host=proxy.url)), timeout=timeout)


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http-80", "port": 80, "targetPort": 80}]}}


def is_create(method: str, path: str) -> bool:
    return method == "POST" and path.split("?")[0].endswith("/services") and "dryRun" not in path


# -- V3: an answer lost after the write --------------------------------------------------------------

async def test_a_create_whose_answer_is_lost_is_read_back_and_counted_as_made(
        demo: DemoProject, proxy: FaultProxy, admin_kube: KubeGateway) -> None:
    proxy.rule = lambda method, path: Fault("lose-answer") if is_create(method, path) else Fault()
    gw = through(proxy)
    try:
        outcome = await creation.create_all(gw, actor=Actor.user(demo.operator.uid), namespace=demo.namespace,
                                            objects=[service("lost-answer")], pod_security=Level.BASELINE)
    finally:
        await gw.close()
    assert any(what.endswith("lost") for _m, _p, what in proxy.seen)
    made = await admin_kube.get("Service", demo.namespace, "lost-answer", actor=CONSOLE, fresh=True)
    assert outcome.ok and outcome.created == [("Service", "lost-answer")]
    assert outcome.read_back == [("Service", "lost-answer", made["metadata"]["uid"])]


async def test_a_lost_answer_that_cannot_be_read_back_is_undone_and_said(
        demo: DemoProject, proxy: FaultProxy, admin_kube: KubeGateway) -> None:
    def rule(method: str, path: str) -> Fault:
        if is_create(method, path):
            return Fault("lose-answer")
        if method == "GET" and "/services/unknown-fate" in path:
            return Fault("drop")
        return Fault()
    proxy.rule = rule
    gw = through(proxy)
    try:
        outcome = await creation.create_all(gw, actor=Actor.user(demo.operator.uid), namespace=demo.namespace,
                                            objects=[service("unknown-fate")], pod_security=Level.BASELINE)
    finally:
        await gw.close()
    assert not outcome.ok and outcome.created == []
    assert any("not known whether Service unknown-fate was created" in p.message for p in outcome.problems)
    assert ("Service", "unknown-fate") in outcome.rolled_back
    with pytest.raises(KubeError) as gone:
        await admin_kube.get("Service", demo.namespace, "unknown-fate", actor=CONSOLE, fresh=True)
    assert gone.value.not_found


# -- the breaker -----------------------------------------------------------------------------------

async def test_after_repeated_timeouts_the_breaker_answers_at_once_and_closes_when_the_server_is_back(
        demo: DemoProject, proxy: FaultProxy) -> None:
    proxy.rule = lambda method, path: Fault("delay", 5)
    gw = through(proxy, timeout=0.5)
    try:
        for _ in range(3):
            with pytest.raises(KubeError) as slow:
                await gw.get("Service", demo.namespace, "x", actor=CONSOLE)
            assert slow.value.reason == "Timeout"
        started = time.monotonic()
        with pytest.raises(KubeError) as fast:
            await gw.get("Service", demo.namespace, "x", actor=CONSOLE)
        assert time.monotonic() - started < 0.1
        assert fast.value.reason == "NotAnswering" and "The cluster is not answering" in fast.value.message
        proxy.rule = lambda method, path: Fault()

        async def answered() -> bool:
            assert not gw.breaker.open
            return bool(await gw.version())
        await eventually(answered, timeout=10)
        assert any("/readyz" in p for _m, p, _w in proxy.seen)  # the background probe asked
    finally:
        await gw.close()


# -- one deadline per page -------------------------------------------------------------------------

@pytest_asyncio.fixture(loop_scope="session")
async def slow_console(settings, proxy: FaultProxy, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "slow",
              "clusters": [{"name": "slow", "cluster": {"server": proxy.url}}],
              "users": [{"name": "console", "user": {"token": proxy.token}}],
              "contexts": [{"name": "slow", "context": {"cluster": "slow", "user": "console"}}]}
    path = tmp_path / "slow.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    app = create_app(settings.model_copy(update={"kubeconfig": str(path), "page_deadline_seconds": 2.0,
                                                 "kube_timeout_seconds": 10.0, "watch_cache": False}),
                     reconcile=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c


async def test_a_slow_cluster_costs_a_page_one_deadline_then_nothing(
        demo: DemoProject, tenants: Tenants, proxy: FaultProxy, slow_console: httpx.AsyncClient) -> None:
    b = Browser(slow_console)
    assert (await b.login(demo.operator.username)).status_code == 303
    url = f"{demo.base}/services"
    assert (await b.get(url)).status_code == 200  # a healthy cluster first
    proxy.rule = lambda method, path: Fault("delay", 30)
    for _ in range(3):
        started = time.monotonic()
        page = await b.get(url)
        waited = time.monotonic() - started
        assert waited < 4, waited  # the page's deadline (2 s), not the calls' timeouts (10 s each)
        assert page.status_code in (200, 503) and "<html" in page.text.lower()
    started = time.monotonic()
    page = await b.get(url)
    assert time.monotonic() - started < 1
    assert re.search(r"The cluster is not answering", page.text), page.text[-2000:]
    proxy.rule = lambda method, path: Fault()


async def test_metrics_are_listed_from_the_api_servers_cache_not_from_etcd(demo: DemoProject,
                                                                          proxy: FaultProxy) -> None:
    """A list with no resourceVersion reads every object of the namespace from etcd (225 ms for one
    Service's metrics among 1,000 pods); resourceVersion=0 lets the API server answer from its cache."""
    proxy.rule = lambda method, path: Fault()
    gw = through(proxy)
    try:
        await gw.list("PodMetrics", demo.namespace, actor=Actor.user(demo.operator.uid), label_selector="app=x")
        await gw.list("Service", demo.namespace, actor=Actor.user(demo.operator.uid))
    finally:
        await gw.close()
    lists = [path for method, path, _what in proxy.seen if method == "GET" and "/token" not in path]
    assert any("/pods?" in p and "resourceVersion=0" in p for p in lists if "metrics.k8s.io" in p), lists
    assert not any("resourceVersion" in p for p in lists if p.split("?")[0].endswith("/services")), lists
