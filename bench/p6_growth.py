"""P6, cost growth: what the first page of the list, a search and a Service's page cost as one project
grows from 100 to 1,000 to 10,000 Services, each with one running (simulated) pod it selects.

The same project grows in steps (BENCH_P6_SIZES, default 100,1000,10000). At each size, after the pods
settle, the console's server time (in-process, as P1) is measured alternately with one raw list of the
project's Services (what `kubectl get svc` asks for). Targets: the list at the largest size <= 1.5x the
list at the smallest; the Service page <= 1.3x its raw calls.
"""

from __future__ import annotations

import asyncio
import time

from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from bench import manifests
from bench.common import Bench, Figure, Stats, actor_of, alternate, env_int, log, ratio_figure, wait_gone
from bench.p1_pages import detail_calls

LIST_TARGET = 1.5
DETAIL_TARGET = 1.3


def _pod(name: str, namespace: str) -> dict:
    spec = manifests.deployment(name, namespace)["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-pod", "namespace": namespace, "labels": spec["metadata"]["labels"]},
            "spec": spec["spec"]}


async def grow(admin: KubeGateway, namespace: str, start: int, stop: int) -> None:
    """Services svc-<start>..svc-<stop-1>, each with one pod it selects."""
    sem = asyncio.Semaphore(32)
    started = time.monotonic()
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        name = f"svc-{i:05d}"
        async with sem:
            for obj in (manifests.service(name, namespace), _pod(name, namespace)):
                for attempt in range(5):
                    try:
                        await admin.create(obj, namespace=namespace, actor=CONSOLE)
                        break
                    except KubeError as e:
                        if e.conflict:
                            break
                        if attempt == 4:
                            raise
                        await asyncio.sleep(1 + attempt)
        done += 1
        if done % 1000 == 0:
            log(f"P6: {start + done}/{stop} Services and pods created ({time.monotonic() - started:.0f} s)")

    await asyncio.gather(*(one(i) for i in range(start, stop)))


async def settle(admin: KubeGateway, namespace: str, pods: int, timeout: float = 900) -> None:
    """Until the simulator runs every pod (or `timeout`), then 15 s more for its burst to pass."""
    started = time.monotonic()
    running = 0
    while time.monotonic() - started < timeout:
        page = await admin.list("Pod", namespace, actor=CONSOLE, field_selector="status.phase=Running")
        running = len(page.get("items") or [])
        if running >= pods:
            break
        await asyncio.sleep(10)
    log(f"P6: {running}/{pods} pods running ({time.monotonic() - started:.0f} s); settling 15 s")
    await asyncio.sleep(15)


async def run(bench: Bench) -> list[Figure]:
    sizes = sorted({int(s) for s in (env_str("BENCH_P6_SIZES", "100,1000,10000")).split(",") if s.strip()})
    iterations = max(10, env_int("BENCH_ITERATIONS", 60) // 2)
    t = await bench.tenancy(operators=1)
    user = t.users[0]
    actor = actor_of(user)
    ns = t.namespace
    browser = await bench.browser(user)
    figures: list[Figure] = []
    lists: dict[int, Stats] = {}
    rows: list[str] = []
    have = 0
    try:
        for size in sizes:
            log(f"P6: growing {ns} to {size} Services and pods")
            await grow(bench.admin, ns, have, size)
            have = size
            await settle(bench.admin, ns, size)
            detail_name = f"svc-{size // 2:05d}"
            urls = {"list": f"{t.base}/services", "search": f"{t.base}/services?name=svc-{size // 3:05d}",
                    "detail": f"{t.base}/services/{detail_name}"}
            measured: dict[str, tuple[Stats, Stats]] = {}
            for what, url in urls.items():
                async def console(url: str = url) -> float:
                    return await bench.served(browser.client.get(url))

                async def raw_list() -> None:
                    await bench.raw.list("Service", ns, actor=actor)

                raw = detail_calls(bench.raw, ns, detail_name, actor) if what == "detail" else raw_list
                a, b = await alternate(console, raw, iterations=iterations, warmup=2)
                measured[what] = (Stats.of(a), Stats.of(b))
            lists[size] = measured["list"][0]
            rows.append(f"{size}: list {measured['list'][0].median:.1f} ms, search {measured['search'][0].median:.1f}"
                        f" ms, Service page {measured['detail'][0].median:.1f} ms (raw list of the Services "
                        f"{measured['list'][1].median:.1f} ms, the page's raw calls {measured['detail'][1].median:.1f} ms)")
            log(f"P6 at {rows[-1]}")
            for what in ("list", "search"):
                c, r = measured[what]
                figures.append(Figure("P6", f"{what} at {size} Services (server time)", c.median, "ms", "", None,
                                      f"p90 {c.p90:.1f} ms; one raw list of the {size} Services (kubectl get svc "
                                      f"asks the same) median {r.median:.1f} ms, p90 {r.p90:.1f} ms; n={c.n}"))
            c, r = measured["detail"]
            figures.append(ratio_figure("P6", f"Service page at {size} Services / its raw calls", c, r, DETAIL_TARGET))
    finally:
        await browser.aclose()
    small, big = min(lists), max(lists)
    growth = lists[big].median / lists[small].median if lists[small].median else float("nan")
    figures.append(Figure("P6", f"list first page at {big} / at {small} Services", growth, "x",
                          f"<= {LIST_TARGET:g}", growth <= LIST_TARGET, "; ".join(rows)))
    log(f"P6: deleting {ns}")
    await bench.delete_namespaces()
    if not await wait_gone(bench.admin, "Namespace", None, ns, timeout=900):
        log(f"P6: {ns} is still being deleted after 900 s")
    return figures


def env_str(name: str, default: str) -> str:
    import os
    return os.environ.get(name) or default
