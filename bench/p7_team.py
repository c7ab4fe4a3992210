"""P7, a team's load on a big project: 100 signed-in sessions (100 users) for five minutes on a project of
1,000 Services and 1,000 running pods, then of 10,000 and 10,000 (the same project, grown through the API),
against a real console process (`uvicorn`, BENCH_SERVER_WORKERS workers, default 1).

Each session is P4's closed loop (live-update streams kept open while a page is shown, static files
fetched once) with issue 14's mix and think time: the list's first page 25 %, page N 15 %, a name
search 15 %, a Service's page 25 %, the wizard opened and walked to its review 15 %, and a create 5 %
(a Service through Edit by YAML, with its own one-time submission), then a think time drawn uniformly
from BENCH_P7_THINK seconds (default 0.5,2). Beside it, `kubectl get svc` runs as the first user (its own
process), again half a second after each run ends: how the API server itself answers under the load.

Targets: 0 errors; at 1,000 Services p50 <= 30 ms and p99 <= 250 ms; at 10,000 p99 <= 400 ms; RSS <= 300
MB per console process. BENCH_P7_SIZES (1000,10000), BENCH_P7_SECONDS (300), BENCH_P7_SESSIONS (100).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import time

from app.domain.yaml import dump_yaml
from app.kube.errors import KubeError
from bench.common import (
    Bench,
    Figure,
    RssSampler,
    Stats,
    actor_of,
    console_server,
    env_float,
    env_int,
    log,
    ms,
)
from bench.p4_concurrency import Session, Tally, sign_in_all, start_py_spy
from bench.p6_growth import env_str, grow, settle

P50_TARGET = 30.0
P99_TARGETS = {1000: 250.0, 10000: 400.0}
RSS_TARGET = 300.0
_SUBMISSION = re.compile(r'name="submission" value="([^"]*)"')


class TeamSession(Session):
    """A P4 session with issue 14's mix: pages of the list, searches and creates besides."""

    def __init__(self, *args: object, size: int, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.size = size
        self.pages = max(1, size // 10)  # the list shows 10 rows a page by default

    async def create(self) -> None:
        await self.close_stream()
        url = f"{self.base}/services/-/new/yaml"
        page = await self.request("create (page)", "GET", url)
        found = _SUBMISSION.search(page.text) if page is not None else None
        if found is None:
            return
        await self.pause()
        name = f"team-{self.rng.randrange(10**9):09d}"
        text = dump_yaml({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                          "spec": {"selector": {"app": name}, "ports": [{"name": "http-80", "port": 80}]}})
        form = {"csrf_token": (None, self.b.csrf), "action": (None, "create"),
                "submission": (None, found.group(1)), "text": (None, text)}
        await self.request("create", "POST", url, expected=303, files=form,
                           headers={"X-CSRF-Token": self.b.csrf})

    async def run(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.think[1]))
        try:
            while time.monotonic() < self.deadline:
                pick = self.rng.random()
                if pick < 0.25:
                    await self.page("list", f"{self.base}/services")
                elif pick < 0.40:
                    await self.page("list page N", f"{self.base}/services?page={self.rng.randrange(2, self.pages + 1)}")
                elif pick < 0.55:
                    await self.page("search", f"{self.base}/services?name=svc-{self.rng.randrange(self.size):05d}")
                elif pick < 0.80:
                    await self.page("detail", f"{self.base}/services/{self.rng.choice(self.names)}")
                elif pick < 0.95:
                    await self.wizard()
                else:
                    await self.create()
                await self.pause()
        finally:
            await self.close_stream()


async def _load(bench: Bench, t, size: int, seconds: float, think: tuple[float, float]) -> list[Figure]:  # type: ignore[no-untyped-def]
    names = [f"svc-{i:05d}" for i in range(size)]
    tally = Tally()
    workers = env_int("BENCH_SERVER_WORKERS", 1)
    async with console_server(bench, f"p7-console-{size}") as server:
        browsers = await sign_in_all(server, t.users, f"{t.base}/services")
        log(f"P7 at {size}: {len(browsers)} sessions signed in; console RSS {server.rss_mb():.0f} MB")
        rng = random.Random(14)
        started = time.monotonic()
        deadline = started + seconds
        runners = [TeamSession(b, t.base, names, tally, deadline, think, True, random.Random(rng.random()), size=size)
                   for b in browsers]
        kubectl: list[float] = []

        async def probe() -> None:
            # `kubectl get svc` itself, as the first user, in its own process: decoding 10,000 Services
            # here every half second would load the load generator more than its 100 sessions do.
            actor = actor_of(t.users[0])
            program = kubectl()
            while True:
                began = time.perf_counter()
                if program:
                    proc = await asyncio.create_subprocess_exec(
                        program, f"--kubeconfig={bench.cluster.admin_kubeconfig}", f"--as={actor.identity}",
                        "-n", t.namespace, "get", "svc", stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL)
                    if await proc.wait() == 0:
                        kubectl.append(ms(time.perf_counter() - began))
                else:
                    with contextlib.suppress(KubeError):
                        await bench.raw.list("Service", t.namespace, actor=actor)
                        kubectl.append(ms(time.perf_counter() - began))
                await asyncio.sleep(0.5)

        async def progress() -> None:
            while True:
                await asyncio.sleep(30)
                done = sum(len(v) for v in tally.latencies.values())
                log(f"P7 at {size}: {time.monotonic() - started:.0f} s, {done} requests, "
                    f"{sum(tally.errors.values())} errors, RSS {server.rss_mb():.0f} MB")

        lags: list[float] = []

        async def lag() -> None:
            # How late this process's own loop wakes: a session's measured wait includes it.
            while True:
                began = time.perf_counter()
                await asyncio.sleep(0.1)
                lags.append(ms(time.perf_counter() - began - 0.1))

        tasks = [asyncio.get_running_loop().create_task(c()) for c in (probe, progress, lag)]
        spy = await start_py_spy(server.process.pid, seconds, "BENCH_P7_PYSPY")
        try:
            with RssSampler(server, interval=1.0) as rss:
                await asyncio.gather(*(r.run() for r in runners))
        finally:
            for task in tasks:
                task.cancel()
            if spy is not None:
                await spy.wait()
            elapsed = time.monotonic() - started
            await asyncio.gather(*(b.aclose() for b in browsers), return_exceptions=True)
    everything = Stats.of(tally.all)
    errors = sum(tally.errors.values())
    per_kind = "; ".join(f"{k} p50 {Stats.of(v).median:.0f}/p99 {Stats.of(v).p99:.0f} ms (n={len(v)})"
                         for k, v in sorted(tally.latencies.items()))
    p99_target = P99_TARGETS.get(size, 400.0)
    raw = Stats.of(kubectl)
    own = Stats.of(tally.server)
    late = Stats.of(lags)
    where = f"{size} Services, {workers} worker{'s' if workers > 1 else ''}"
    return [
        Figure("P7", f"Errors ({where}, {len(browsers)} sessions, {elapsed:.0f} s)", errors, "", "0", errors == 0,
               (", ".join(f"{k}: {n}" for k, n in tally.errors.items()) + "; " + " | ".join(tally.error_samples))
               if errors else f"{everything.n} requests, {everything.n / elapsed:.1f} req/s"),
        Figure("P7", f"Latency p50 ({where})", everything.median, "ms", f"<= {P50_TARGET:g}",
               everything.median <= P50_TARGET, per_kind),
        Figure("P7", f"Latency p99 ({where})", everything.p99, "ms", f"<= {p99_target:g}",
               everything.p99 <= p99_target, f"p90 {everything.p90:.0f} ms, max {everything.high:.0f} ms"),
        Figure("P7", f"Console's own time per answer, p50 ({where})", own.median, "ms", "", None,
               f"p99 {own.p99:.0f} ms, n={own.n}: its Server-Timing, from the request reaching the console to "
               "its answer; the rest of a session's wait is queueing for the machine's CPUs and the "
               "load generator's own loop"),
        Figure("P7", f"Load generator's loop lag, p50 ({where})", late.median, "ms", "", None,
               f"p99 {late.p99:.0f} ms: how late the generator's own event loop woke, part of every measured wait"),
        Figure("P7", f"Console RSS, peak ({where})", rss.peak, "MB", f"<= {RSS_TARGET:g}", rss.peak <= RSS_TARGET,
               f"at the end {rss.last:.0f} MB"),
        Figure("P7", f"kubectl get svc under the same load, p50 ({where})", raw.median, "ms", "", None,
               f"p99 {raw.p99:.0f} ms, n={raw.n}: `kubectl get svc` as the first user, 0.5 s after the last one ended"),
    ]


async def run(bench: Bench) -> list[Figure]:
    sizes = sorted({int(s) for s in env_str("BENCH_P7_SIZES", "1000,10000").split(",") if s.strip()})
    seconds = env_float("BENCH_P7_SECONDS", 300)
    sessions = env_int("BENCH_P7_SESSIONS", 100)
    low, high = (float(x) for x in (os.environ.get("BENCH_P7_THINK") or "0.5,2").split(","))
    t = await bench.tenancy(operators=sessions)
    figures: list[Figure] = []
    have = 0
    for size in sizes:
        log(f"P7: growing {t.namespace} to {size} Services and pods")
        await grow(bench.admin, t.namespace, have, size)
        have = size
        await settle(bench.admin, t.namespace, size)
        figures += await _load(bench, t, size, seconds, (low, high))
        for f in figures[-7:]:
            log(f"P7 {f.name}: {f.value_text()} {f.detail}")
    log(f"P7: deleting {t.namespace}")
    await bench.delete_namespaces()
    return figures


__all__ = ["run"]
