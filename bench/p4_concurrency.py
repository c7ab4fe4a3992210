"""P4, concurrency: 100 signed-in sessions, each its own user, browse the Services list, Service detail
pages and the Create Service wizard for five minutes against a real console process (`uvicorn`, one
worker, on loopback), from a bounded load generator (this process: one httpx client per session, at
most 3 connections each, like a browser's few per host).

Each session is a closed loop: pick an activity (list 40 %, a detail page 40 %, a wizard visit 20 %:
open, then Next, Add Container, Next, Next, Review, without creating), request it, then "read" for a
think time drawn uniformly from BENCH_P4_THINK seconds (default 1,5: a mean of 3 s between clicks),
so 100 sessions offer about 30 page requests a second. Without think time it would be a saturation
test (100 requests always in flight), not 100 people browsing.

As in a browser, a list or detail page keeps its live-update stream (SSE) open while it is shown, and
closes it on leaving; when the console ends a stream (it refuses streams beyond its cap on watches),
the session reconnects after the `retry:` delay the stream gave, as EventSource does
(BENCH_P4_LIVE=0 turns live streams off). Static files are fetched once per session at sign-in (a
browser caches them).

Reported: errors (a status other than the expected one, a timeout or a connection error; target 0),
p50 and p99 of every page request (target p99 <= 250 ms), the console's peak RSS (target <= 200 MB),
throughput, and how many live streams the console refused (its cap on concurrent watches).
Duration: BENCH_P4_SECONDS (300); sessions: BENCH_P4_SESSIONS (100).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from app.kube.errors import KubeError
from bench.common import (
    Bench,
    Browser,
    Figure,
    RssSampler,
    Stats,
    actor_of,
    console_server,
    env_float,
    env_int,
    log,
    ms,
    server_browser,
)
from bench.forms import after_response, encode, parse_form, with_values
from bench.p1_pages import detail_calls, populate, wait_pods_running
from bench.wizard_flow import FORM, steps

SERVICES = 25
_SSE_URL = re.compile(r'sse-connect="([^"]+)"')
_SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
_STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    # The console's own time per answer (its Server-Timing header), beside what the session waited.
    server: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    streams: int = 0
    streams_refused: int = 0

    def ok(self, kind: str, latency: float) -> None:
        self.latencies.setdefault(kind, []).append(latency)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{kind}: {what}")

    @property
    def all(self) -> list[float]:
        return [v for values in self.latencies.values() for v in values]


class Session:
    """One signed-in user browsing."""

    def __init__(
        self,
        browser: Browser,
        base: str,
        names: list[str],
        tally: Tally,
        deadline: float,
        think: tuple[float, float],
        live: bool,
        rng: random.Random,
    ) -> None:
        self.b = browser
        self.base = base
        self.names = names
        self.tally = tally
        self.deadline = deadline
        self.think = think
        self.live = live
        self.rng = rng
        self.stream: asyncio.Task[None] | None = None

    async def request(
        self, kind: str, method: str, url: str, expected: int = 200, **kw: object
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            resp = await self.b.client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as e:
            self.tally.error(kind, f"{type(e).__name__}: {e}")
            return None
        latency = ms(time.perf_counter() - started)
        if resp.status_code != expected:
            self.tally.error(kind, f"{resp.status_code} {url}")
            return None
        self.tally.ok(kind, latency)
        timing = _SERVER_TIMING.match(resp.headers.get("server-timing", ""))
        if timing:
            self.tally.server.append(float(timing.group(1)))
        return resp

    async def pause(self) -> None:
        await asyncio.sleep(self.rng.uniform(*self.think))

    async def close_stream(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
            with contextlib.suppress(BaseException):
                await self.stream
            self.stream = None

    def open_stream(self, page: str) -> None:
        """Keep the page's live-update stream open until the next page, like the browser's EventSource
        under htmx's SSE extension: when the server ends a stream, reconnect after the `retry:` delay it
        gave (3 s unless it said otherwise)."""
        if not self.live:
            return
        m = _SSE_URL.search(page)
        if not m:
            return
        url = m.group(1).replace("&amp;", "&")

        async def follow() -> None:
            retry = 3.0
            while True:
                self.tally.streams += 1
                try:
                    async with self.b.client.stream("GET", url, timeout=httpx.Timeout(30, read=None)) as resp:
                        if resp.status_code != 200:
                            self.tally.error("live stream", f"{resp.status_code} {url}")
                            return  # EventSource gives up on an error status
                        async for line in resp.aiter_lines():
                            if line.startswith("retry:") and line[6:].strip().isdigit():
                                retry = int(line[6:].strip()) / 1000
                            elif line.startswith("event: refused"):
                                self.tally.streams_refused += 1
                except httpx.HTTPError as e:
                    self.tally.error("live stream", f"{type(e).__name__}: {e}")
                    return
                await asyncio.sleep(retry)

        self.stream = asyncio.get_running_loop().create_task(follow())

    async def page(self, kind: str, url: str) -> None:
        await self.close_stream()
        resp = await self.request(kind, "GET", url)
        if resp is not None:
            self.open_stream(resp.text)

    async def wizard(self) -> None:
        await self.close_stream()
        url = f"{self.base}/services/-/new/stateless"
        resp = await self.request("wizard open", "GET", url)
        if resp is None:
            return
        fields, multipart_form = parse_form(resp.text, FORM)
        for s in steps(f"p4-{self.rng.randrange(10**6):06d}"):
            if time.monotonic() > self.deadline:
                return
            await self.pause()
            body, ctype = encode(with_values(fields, {**s.changes, "action": s.action}), multipart_form)
            resp = await self.request(
                "wizard step",
                "POST",
                url,
                content=body,
                headers={"Content-Type": ctype, "X-CSRF-Token": self.b.csrf, "HX-Request": "true"},
            )
            if resp is None:
                return
            fields, multipart_form = after_response(
                fields, multipart_form, resp.text, resp.headers.get("HX-Reswap"), FORM)

    async def run(self) -> None:
        # Start at a random moment of the first think time, so the sessions do not click in step.
        await asyncio.sleep(self.rng.uniform(0, self.think[1]))
        try:
            while time.monotonic() < self.deadline:
                pick = self.rng.random()
                if pick < 0.4:
                    await self.page("list", f"{self.base}/services")
                elif pick < 0.8:
                    await self.page("detail", f"{self.base}/services/{self.rng.choice(self.names)}")
                else:
                    await self.wizard()
                await self.pause()
        finally:
            await self.close_stream()


async def sign_in_all(server, users, first_page: str) -> list[Browser]:  # type: ignore[no-untyped-def]
    """A session per user, signed in four at a time (signed out, one address may have at most
    DOCKYARD_SESSION_CONCURRENCY requests in flight: the load generator is one address), each having
    loaded `first_page` and its static files once (a browser caches them)."""
    sem = asyncio.Semaphore(4)

    async def sign_in(user):  # type: ignore[no-untyped-def]
        async with sem:
            b = await server_browser(server, user, connections=3)
            page = await b.client.get(first_page)
            for asset in sorted(set(_STATIC.findall(page.text))):
                await b.client.get(asset)
            return b

    return list(await asyncio.gather(*(sign_in(u) for u in users)))


async def start_py_spy(pid: int, seconds: float, setting: str = "BENCH_P4_PYSPY") -> asyncio.subprocess.Process | None:
    """With BENCH_P4_PYSPY=<file.txt> (or the given setting), sample the console with py-spy (the `bench`
    extra) during the run and write collapsed stacks there (for flamegraph tools or a quick
    `sort -t' ' -k2 -n`)."""
    target = os.environ.get(setting)
    if not target:
        return None
    exe = Path(sys.executable).with_name("py-spy")
    log(f"{setting.split('_')[1]}: sampling the console with py-spy into {target}")
    return await asyncio.create_subprocess_exec(
        str(exe),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "50",
        "--format",
        "raw",
        "--output",
        target,
        "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def run(bench: Bench) -> list[Figure]:
    seconds = env_float("BENCH_P4_SECONDS", 300)
    sessions = env_int("BENCH_P4_SESSIONS", 100)
    think_text = os.environ.get("BENCH_P4_THINK", "1,5")
    try:
        low, high = (float(x) for x in think_text.split(","))
    except ValueError:
        low, high = 1.0, 5.0
    live = os.environ.get("BENCH_P4_LIVE", "1") != "0"
    t = await bench.tenancy(operators=sessions)
    ns = t.namespace
    names = await populate(bench, ns, SERVICES)
    await wait_pods_running(bench.admin, ns, None, SERVICES)
    log(
        f"P4: {sessions} users, {SERVICES} Services in {ns}; {seconds:g} s, think {low:g}-{high:g} s, "
        f"live streams {'on' if live else 'off'}"
    )
    tally = Tally()
    async with console_server(bench, "p4-console") as server:
        browsers = await sign_in_all(server, t.users, f"{t.base}/services")
        log(f"P4: {len(browsers)} sessions signed in; console RSS {server.rss_mb():.0f} MB")
        proc = server.ps
        watched = {"console": proc, "load generator": psutil.Process()}
        for n, child in enumerate(proc.children(recursive=True)):
            watched[f"console worker {n + 1}"] = child
        for name in ("kube-apiserver", "etcd"):
            with contextlib.suppress(psutil.Error, KeyError):
                watched[name] = psutil.Process(bench.cluster.pids[name])
        for p in watched.values():
            p.cpu_percent(None)
        psutil.cpu_percent(None)
        rng = random.Random(8)
        started = time.monotonic()
        deadline = started + seconds
        runners = [
            Session(b, t.base, names, tally, deadline, (low, high), live, random.Random(rng.random()))
            for b in browsers
        ]

        async def progress() -> None:
            while True:
                await asyncio.sleep(30)
                done = sum(len(v) for v in tally.latencies.values())
                log(
                    f"P4: {time.monotonic() - started:.0f} s, {done} requests, "
                    f"{sum(tally.errors.values())} errors, RSS {server.rss_mb():.0f} MB"
                )

        probe_samples: dict[str, list[float]] = {"list": [], "detail": []}

        async def probe() -> None:
            """The same pages' raw calls, made directly (as one of the users) every half second during
            the run: how the API server itself answers under this load."""
            actor = actor_of(t.users[0])
            while True:
                for kind in ("list", "detail"):
                    started = time.perf_counter()
                    try:
                        if kind == "list":
                            await bench.raw.list("Service", ns, actor=actor)
                        else:
                            await detail_calls(bench.raw, ns, rng.choice(names), actor)()
                        probe_samples[kind].append(ms(time.perf_counter() - started))
                    except KubeError:
                        pass
                    await asyncio.sleep(0.5)

        reporter = asyncio.get_running_loop().create_task(progress())
        prober = asyncio.get_running_loop().create_task(probe())
        spy = await start_py_spy(proc.pid, seconds)
        try:
            with RssSampler(server, interval=1.0) as rss:
                await asyncio.gather(*(r.run() for r in runners))
        finally:
            reporter.cancel()
            prober.cancel()
            if spy is not None:
                await spy.wait()
            elapsed = time.monotonic() - started
            cpus = {}
            for name, p in watched.items():
                with contextlib.suppress(psutil.Error):
                    cpus[name] = p.cpu_percent(None)
            machine = psutil.cpu_percent(None)
            await asyncio.gather(*(b.aclose() for b in browsers), return_exceptions=True)
    everything = Stats.of(tally.all)
    errors = sum(tally.errors.values())
    per_kind = "; ".join(
        f"{k} p50 {Stats.of(v).median:.0f}/p99 {Stats.of(v).p99:.0f} ms (n={len(v)})"
        for k, v in sorted(tally.latencies.items())
    )
    figures = [
        Figure(
            "P4",
            f"Errors ({sessions} sessions, {elapsed:.0f} s)",
            errors,
            "",
            "0",
            errors == 0,
            (", ".join(f"{k}: {n}" for k, n in tally.errors.items()) + "; " + " | ".join(tally.error_samples))
            if errors
            else f"{everything.n} requests, {everything.n / elapsed:.1f} req/s",
        ),
        Figure("P4", "Latency p50", everything.median, "ms", "", None, per_kind),
        Figure(
            "P4",
            "Latency p99",
            everything.p99,
            "ms",
            "<= 250",
            everything.p99 <= 250,
            f"p90 {everything.p90:.0f} ms, max {everything.high:.0f} ms; CPU (% of one core): "
            + ", ".join(f"{k} {v:.0f}" for k, v in cpus.items())
            + f"; machine {machine:.0f} % of all cores",
        ),
        Figure(
            "P4",
            "Console RSS (peak)",
            rss.peak,
            "MB",
            "<= 200",
            rss.peak <= 200,
            f"at the end {rss.last:.0f} MB",
        ),
    ]
    pl, pd = Stats.of(probe_samples["list"]), Stats.of(probe_samples["detail"])
    figures.append(
        Figure(
            "P4",
            "Raw calls under the same load, p99 (information)",
            max(pl.p99, pd.p99),
            "ms",
            "",
            None,
            f"probe from the load generator every 0.5 s: list p50 {pl.median:.0f}/p99 {pl.p99:.0f} ms "
            f"(n={pl.n}), detail's 7 calls p50 {pd.median:.0f}/p99 {pd.p99:.0f} ms (n={pd.n})",
        )
    )
    if live:
        figures.append(
            Figure(
                "P4",
                "Live-update streams refused",
                tally.streams_refused,
                "",
                "",
                None,
                f"of {tally.streams} opened, reconnections included (feeds that follow the watch cache "
                "have no cap; others at most 32 at once)",
            )
        )
    for f in figures:
        log(f"P4 {f.name}: {f.value_text()} {f.detail}")
    return figures
