"""P3, scale: a project with 1,000 Services and 5,000 running (simulated) pods: 1,000 Deployments of 5
replicas, each with a Service selecting its pods.

* The first page of the Services list (20 rows, newest first) against one raw list of the Services,
  and the detail page of one Service against the raw calls it makes (its Service, Endpoints, pods by
  selector, PodMetrics, and the Deployment, StatefulSet and DaemonSet lists), alternated, server time
  in-process (as P1). Target: <= 1.5 at the median.
* The console's memory while serving it: a real `uvicorn` process on loopback serves the same pages
  (one at a time, then 10 at once); its resident set size (psutil) is sampled every 0.5 s.

Sizes: BENCH_P3_SERVICES (1000) and BENCH_P3_REPLICAS (5). The namespace is deleted at the end (and
waited for, so the next benchmark does not run beside the deletion of 5,000 pods).
"""

from __future__ import annotations

import asyncio
import time

from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from bench import manifests
from bench.common import (
    Bench,
    Figure,
    RssSampler,
    Stats,
    actor_of,
    alternate,
    console_server,
    env_int,
    log,
    ms,
    ratio_figure,
    server_browser,
    wait_gone,
)
from bench.p1_pages import detail_calls, detail_fanout

TARGET = 1.5


async def populate(admin: KubeGateway, namespace: str, services: int, replicas: int) -> None:
    sem = asyncio.Semaphore(32)
    done = 0
    started = time.monotonic()

    async def one(i: int) -> None:
        nonlocal done
        name = f"svc-{i:04d}"
        async with sem:
            for obj in manifests.stateless(name, namespace, replicas):
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
        if done % 200 == 0:
            log(
                f"P3: {done}/{services} Services and Deployments created ({time.monotonic() - started:.0f} s)"
            )

    await asyncio.gather(*(one(i) for i in range(services)))


async def wait_ready(admin: KubeGateway, namespace: str, pods: int, timeout: float = 900) -> float:
    """Wait until the Deployments report `pods` ready replicas; returns the seconds it took."""
    started = time.monotonic()
    last_log = 0.0
    ready = 0
    while time.monotonic() - started < timeout:
        deployments = await admin.items("Deployment", namespace, actor=CONSOLE)
        ready = sum(int((d.get("status") or {}).get("readyReplicas") or 0) for d in deployments)
        if ready >= pods:
            return time.monotonic() - started
        if time.monotonic() - last_log > 30:
            log(f"P3: {ready}/{pods} pods ready ({time.monotonic() - started:.0f} s)")
            last_log = time.monotonic()
        await asyncio.sleep(5)
    raise RuntimeError(f"P3: only {ready}/{pods} pods ready after {timeout:g} s")


async def settle(admin: KubeGateway, namespace: str, pods: int, timeout: float = 300) -> None:
    """Let the burst pass before measuring: wait until the simulator has written the pods' metrics (it
    does that after starting them), then a little more. In steady state it still refreshes ~20 PodMetrics
    a second, as a metrics pipeline would."""
    started = time.monotonic()
    count = 0
    while time.monotonic() - started < timeout:
        count = len(await admin.items("PodMetrics", namespace, actor=CONSOLE))
        if count >= pods * 0.95:
            break
        await asyncio.sleep(10)
    log(f"P3: metrics of {count}/{pods} pods written ({time.monotonic() - started:.0f} s); settling 15 s")
    await asyncio.sleep(15)


async def run(bench: Bench) -> list[Figure]:
    services = env_int("BENCH_P3_SERVICES", 1000)
    replicas = env_int("BENCH_P3_REPLICAS", 5)
    iterations = max(10, env_int("BENCH_ITERATIONS", 60) // 2)
    t = await bench.tenancy(operators=1)
    user = t.users[0]
    actor = actor_of(user)
    ns = t.namespace
    log(f"P3: creating {services} Services and Deployments x {replicas} replicas in {ns}")
    started = time.monotonic()
    await populate(bench.admin, ns, services, replicas)
    created = time.monotonic() - started
    took = await wait_ready(bench.admin, ns, services * replicas)
    log(f"P3: {services * replicas} pods running ({created:.0f} s to create, {took:.0f} s more to run)")
    await settle(bench.admin, ns, services * replicas)
    figures: list[Figure] = []
    browser = await bench.browser(user)
    try:
        list_url = f"{t.base}/services"
        detail_name = f"svc-{services // 2:04d}"
        detail_url = f"{t.base}/services/{detail_name}"

        async def console_list() -> float:
            return await bench.served(browser.client.get(list_url))

        async def raw_list() -> None:
            await bench.raw.list("Service", ns, actor=actor)

        a, b = await alternate(console_list, raw_list, iterations=iterations, warmup=2)
        figures.append(
            ratio_figure(
                "P3", f"Services list, first page of {services} / raw list", Stats.of(a), Stats.of(b), TARGET
            )
        )
        log(f"P3 list: {figures[-1].detail}")

        async def console_detail() -> float:
            return await bench.served(browser.client.get(detail_url))

        a, b = await alternate(
            console_detail, detail_calls(bench.raw, ns, detail_name, actor), iterations=iterations, warmup=2
        )
        figures.append(
            ratio_figure(
                "P3",
                f"Service detail ({replicas} pods of {services * replicas}) / its 7 raw calls",
                Stats.of(a),
                Stats.of(b),
                TARGET,
            )
        )
        log(f"P3 detail: {figures[-1].detail}")
        figures.append(await call_costs(bench, ns, detail_name, actor, services))
    finally:
        await browser.aclose()

    figures += await memory(bench, t, list_url, detail_url, iterations)
    log(f"P3: deleting {ns}")
    await bench.delete_namespaces()
    if not await wait_gone(bench.admin, "Namespace", None, ns, timeout=900):
        log(f"P3: {ns} is still being deleted after 900 s")
    return figures


async def call_costs(bench: Bench, ns: str, name: str, actor: object, services: int) -> Figure:
    """Each raw call of the detail page alone (median of 5): where a big project's detail time goes."""
    svc = await bench.raw.get("Service", ns, name, actor=actor)
    selector = ",".join(f"{k}={v}" for k, v in (svc["spec"].get("selector") or {}).items())
    costs = {}
    calls = detail_fanout(bench.raw, ns, name, selector, actor)
    # What the page listed before it asked for its own pods' metrics only (for comparison).
    calls["(before: PodMetrics of the whole namespace)"] = lambda: bench.raw.items(
        "PodMetrics", ns, actor=actor
    )
    for label, call in calls.items():
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            await call()
            samples.append(ms(time.perf_counter() - started))
        costs[label] = Stats.of(samples).median
    slowest = max((k for k in costs if not k.startswith("(")), key=costs.__getitem__)
    return Figure(
        "P3",
        "Detail page's slowest raw call (alone)",
        costs[slowest],
        "ms",
        "",
        None,
        f"{slowest} of {services}; each alone: " + ", ".join(f"{k} {v:.0f} ms" for k, v in costs.items()),
    )


async def memory(bench: Bench, t, list_url: str, detail_url: str, iterations: int) -> list[Figure]:  # type: ignore[no-untyped-def]
    """RSS of a real console process serving the big project's pages."""
    async with console_server(bench, "p3-console") as server:
        browser = await server_browser(server, t.users[0], connections=10)
        try:
            idle = server.rss_mb()
            wall: list[float] = []
            with RssSampler(server) as rss:
                for _ in range(iterations):
                    for url in (list_url, detail_url):
                        started = time.perf_counter()
                        resp = await browser.client.get(url)
                        wall.append(ms(time.perf_counter() - started))
                        if resp.status_code != 200:
                            raise RuntimeError(f"{url}: {resp.status_code}")
                sequential_peak = rss.peak
                for _ in range(3):
                    results = await asyncio.gather(
                        *(browser.client.get(u) for u in [list_url, detail_url] * 5)
                    )
                    bad = [r.status_code for r in results if r.status_code != 200]
                    if bad:
                        raise RuntimeError(f"concurrent pages answered {bad}")
            after = server.rss_mb()
        finally:
            await browser.aclose()
    s = Stats.of(wall)
    log(f"P3 memory: idle {idle:.0f} MB (signed in), peak {rss.peak:.0f} MB, after {after:.0f} MB")
    return [
        Figure(
            "P3",
            "Console RSS while serving it (peak; 10 pages at once)",
            rss.peak,
            "MB",
            "",
            None,
            f"after start and sign-in {idle:.0f} MB, peak one page at a time {sequential_peak:.0f} MB, "
            f"after {after:.0f} MB; over loopback list+detail median {s.median:.0f} ms",
        )
    ]
