"""P8, throughput: the most page requests a second the console holds with p99 <= 250 ms, with one worker
and with two, on a project of 1,000 Services and pods, beside what the API server answers for the same
project's `kubectl get svc`.

The load is P7's (issue 14's mix, think time BENCH_P8_THINK, default 0.5,2) from a growing number of
signed-in sessions, BENCH_P8_STEPS (default 25,50,100,200,300), each step BENCH_P8_STEP_SECONDS (60)
long, against a console of BENCH_P8_WORKERS processes (default 1,2; two need BENCH_DATABASE_URL, a
PostgreSQL database, since several processes share their state through it). The held throughput is the
best step whose p99 stays within the target (and without errors); the ramp stops at the first step
that misses it. Then the load generator lists the project's Services directly from 50 loops at once,
without think time, for 30 s: the API server's own ceiling for `kubectl get svc` on this project.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time

from app.kube.errors import KubeError
from bench.common import Bench, Figure, Stats, actor_of, console_server, env_float, env_int, log, ms
from bench.p4_concurrency import Tally, sign_in_all
from bench.p6_growth import env_str, grow, settle
from bench.p7_team import TeamSession

P99_TARGET = 250.0


async def _kubectl_ceiling(bench: Bench, t, loops: int, seconds: float) -> tuple[float, Stats]:  # type: ignore[no-untyped-def]
    """Raw lists of the project's Services from `loops` loops at once, for `seconds`: lists/s, latency."""
    actor = actor_of(t.users[0])
    samples: list[float] = []
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            with contextlib.suppress(KubeError):
                await bench.raw.list("Service", t.namespace, actor=actor)
                samples.append(ms(time.perf_counter() - began))

    await asyncio.gather(*(loop() for _ in range(loops)))
    return len(samples) / seconds, Stats.of(samples)


async def _ramp(bench: Bench, t, size: int, workers: int, steps: list[int], seconds: float,  # type: ignore[no-untyped-def]
                think: tuple[float, float]) -> list[Figure]:
    names = [f"svc-{i:05d}" for i in range(size)]
    os.environ["BENCH_SERVER_WORKERS"] = str(workers)
    rows: list[str] = []
    best = (0.0, 0)
    async with console_server(bench, f"p8-console-{workers}") as server:
        browsers = await sign_in_all(server, t.users[: max(steps)], f"{t.base}/services")
        try:
            for sessions in steps:
                tally = Tally()
                # Seeded by the step and the number of workers: the same seeds in the next ramp would
                # create Services of the same names in the same project, each refused as existing.
                rng = random.Random(sessions * 1000 + workers)
                deadline = time.monotonic() + seconds
                runners = [TeamSession(b, t.base, names, tally, deadline, think, True, random.Random(rng.random()),
                                       size=size) for b in browsers[:sessions]]
                started = time.monotonic()
                await asyncio.gather(*(r.run() for r in runners))
                elapsed = time.monotonic() - started
                stats = Stats.of(tally.all)
                rate = stats.n / elapsed
                errors = sum(tally.errors.values())
                held = stats.p99 <= P99_TARGET and errors == 0
                if held and rate > best[0]:
                    best = (rate, sessions)
                slowest = sorted(((Stats.of(v).p99, k) for k, v in tally.latencies.items()), reverse=True)[:3]
                rows.append(f"{sessions} sessions: {rate:.1f} req/s, p50 {stats.median:.0f} ms, p99 {stats.p99:.0f} ms, "
                            f"{errors} errors{'' if held else ' (not held)'}; slowest p99: "
                            + ", ".join(f"{k} {p:.0f} ms" for p, k in slowest))
                log(f"P8, {workers} worker(s): {rows[-1]}")
                if not held:
                    break
        finally:
            await asyncio.gather(*(b.aclose() for b in browsers), return_exceptions=True)
    return [Figure("P8", f"Requests/s held with p99 <= {P99_TARGET:g} ms, {workers} worker{'s' if workers > 1 else ''}",
                   best[0], "req/s", "", None, f"at {best[1]} sessions; " + "; ".join(rows))]


async def run(bench: Bench) -> list[Figure]:
    size = env_int("BENCH_P8_SERVICES", 1000)
    steps = sorted({int(s) for s in env_str("BENCH_P8_STEPS", "25,50,100,200,300").split(",") if s.strip()})
    seconds = env_float("BENCH_P8_STEP_SECONDS", 60)
    low, high = (float(x) for x in (os.environ.get("BENCH_P8_THINK") or "0.5,2").split(","))
    worker_counts = [int(w) for w in env_str("BENCH_P8_WORKERS", "1,2").split(",") if w.strip()]
    t = await bench.tenancy(operators=max(steps))
    log(f"P8: growing {t.namespace} to {size} Services and pods")
    await grow(bench.admin, t.namespace, 0, size)
    await settle(bench.admin, t.namespace, size)
    figures: list[Figure] = []
    saved = os.environ.get("BENCH_SERVER_WORKERS")
    try:
        for workers in worker_counts:
            if workers > 1 and bench.database_url.startswith("sqlite"):
                figures.append(Figure("P8", f"Requests/s, {workers} workers", float("nan"), "", "", None,
                                      "not measured: several processes need BENCH_DATABASE_URL (PostgreSQL)"))
                continue
            figures += await _ramp(bench, t, size, workers, steps, seconds, (low, high))
    finally:
        if saved is None:
            os.environ.pop("BENCH_SERVER_WORKERS", None)
        else:
            os.environ["BENCH_SERVER_WORKERS"] = saved
    rate, raw = await _kubectl_ceiling(bench, t, loops=50, seconds=min(seconds, 30))
    figures.append(Figure("P8", "kubectl get svc on the same project, 50 at once", rate, "lists/s", "", None,
                          f"p50 {raw.median:.0f} ms, p99 {raw.p99:.0f} ms: the API server's own ceiling for this "
                          f"read of {size} Services (each list carries all of them; a console page carries 10)"))
    log(f"P8: deleting {t.namespace}")
    await bench.delete_namespaces()
    return figures


__all__ = ["run"]
