"""P1, page overhead: the console's server time for a page against the raw Kubernetes calls that page
makes, replayed with the same kind of gateway and the same impersonation, alternating A/B.

The console side is timed in-process through httpx's ASGITransport (the whole ASGI app: middleware,
session and access checks, the calls, rendering; no sockets). Target: median ratio <= 1.3.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.kube.client import CONSOLE, KubeGateway
from bench import manifests, wizard_flow
from bench.common import (
    Bench,
    Figure,
    Stats,
    actor_of,
    alternate,
    env_int,
    log,
    ratio_figure,
)

TARGET = 1.3
LIST_SERVICES = 25  # more than one page of 20 rows
DETAIL_REPLICAS = 3


async def populate(bench: Bench, namespace: str, count: int, replicas: int = 1) -> list[str]:
    names = [f"svc-{i:03d}" for i in range(count)]
    sem = asyncio.Semaphore(16)

    async def one(name: str) -> None:
        async with sem:
            for obj in manifests.stateless(name, namespace, replicas):
                await bench.admin.create(obj, namespace=namespace, actor=CONSOLE)

    await asyncio.gather(*(one(n) for n in names))
    return names


async def wait_pods_running(
    kube: KubeGateway, namespace: str, selector: str | None, count: int, timeout: float = 300
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    running = 0
    while loop.time() < deadline:
        pods = await kube.items("Pod", namespace, actor=CONSOLE, label_selector=selector)
        running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
        if running >= count:
            return
        await asyncio.sleep(1.0)
    raise RuntimeError(f"{running}/{count} pods running in {namespace} after {timeout:g} s")


def detail_calls(raw: KubeGateway, namespace: str, name: str, actor: Any):  # type: ignore[no-untyped-def]
    """Exactly the calls of `service_detail(panel=True, status=True, events=False)` (the full page's first
    tab): the Service, then together its Endpoints, its pods and their PodMetrics by selector, and the
    three workload lists (whole namespace: workloads are matched by their pod template's labels)."""

    async def run() -> None:
        svc = await raw.get("Service", namespace, name, actor=actor)
        selector = ",".join(f"{k}={v}" for k, v in ((svc.get("spec") or {}).get("selector") or {}).items())
        await asyncio.gather(
            *(call() for call in detail_fanout(raw, namespace, name, selector, actor).values())
        )

    return run


def detail_fanout(raw: KubeGateway, namespace: str, name: str, selector: str, actor: Any) -> dict[str, Any]:
    """The detail page's calls after the Service itself, by name (to time them one by one too)."""
    return {
        "Endpoints": lambda: raw.get("Endpoints", namespace, name, actor=actor),
        "Pods by selector": lambda: raw.list("Pod", namespace, actor=actor, label_selector=selector),
        "PodMetrics by selector": lambda: raw.items(
            "PodMetrics", namespace, actor=actor, label_selector=selector
        ),
        "Deployments": lambda: raw.items("Deployment", namespace, actor=actor),
        "StatefulSets": lambda: raw.items("StatefulSet", namespace, actor=actor),
        "DaemonSets": lambda: raw.items("DaemonSet", namespace, actor=actor),
    }


async def run(bench: Bench) -> list[Figure]:
    iterations = env_int("BENCH_ITERATIONS", 60)
    t = await bench.tenancy(operators=1)
    user = t.users[0]
    actor = actor_of(user)
    ns = t.namespace
    log(f"P1: {LIST_SERVICES} Services in {ns}, one with {DETAIL_REPLICAS} pods")
    names = await populate(bench, ns, LIST_SERVICES - 1)
    detail_name = "detail-svc"
    for obj in manifests.stateless(detail_name, ns, DETAIL_REPLICAS):
        await bench.admin.create(obj, namespace=ns, actor=CONSOLE)
    await wait_pods_running(bench.admin, ns, f"app={detail_name}", DETAIL_REPLICAS)
    del names
    browser = await bench.browser(user)
    raw = bench.raw
    figures: list[Figure] = []
    try:
        # -- the Services list: one list call, then search/sort/page and 20 rows rendered
        list_url = f"{t.base}/services"

        async def console_list() -> float:
            return await bench.served(browser.client.get(list_url))

        async def raw_list() -> None:
            await raw.list("Service", ns, actor=actor)

        a, b = await alternate(console_list, raw_list, iterations=iterations)
        figures.append(
            ratio_figure("P1", "Services list (20 of 25 rows) / raw list", Stats.of(a), Stats.of(b), TARGET)
        )
        log(f"P1 list: {figures[-1].detail}")

        # -- the detail page (first tab, with the side panel)
        detail_url = f"{t.base}/services/{detail_name}"

        async def console_detail() -> float:
            return await bench.served(browser.client.get(detail_url))

        a, b = await alternate(
            console_detail, detail_calls(raw, ns, detail_name, actor), iterations=iterations
        )
        figures.append(
            ratio_figure(
                "P1",
                f"Service detail ({DETAIL_REPLICAS} pods) / its 7 raw calls",
                Stats.of(a),
                Stats.of(b),
                TARGET,
            )
        )
        log(f"P1 detail: {figures[-1].detail}")

        # -- the wizard's steps
        figures += await wizard_flow.p1_wizard(bench, t, browser, iterations=iterations, target=TARGET)
    finally:
        await browser.aclose()
    return figures
