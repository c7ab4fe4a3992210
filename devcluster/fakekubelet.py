"""The node simulator's kubelet endpoint: the API server proxies `GET .../pods/{pod}/log` here, and
metrics-server scrapes `GET /metrics/resource` (Prometheus text, see `resource_metrics_text`).

One server listens on every simulated node's InternalIP (same port, the node's `daemonEndpoints`); the
address a request came in on says which node is asked.

It answers `GET /containerLogs/{namespace}/{pod}/{container}` (with `tailLines`, `follow`,
`timestamps`, `previous`, `sinceSeconds`, `sinceTime`, `limitBytes`) over HTTPS with a certificate of
the local CA (the API server verifies it, `--kubelet-certificate-authority`). Log lines are made up
but deterministic: line k of a container is written k seconds after the container started, and its
text depends only on the pod, the container and k, so two reads agree and `follow` sees one new line
a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

log = logging.getLogger("dockyard.fakekubelet")

MAX_LINES = 5000  # like log rotation: older lines are gone


@dataclass(frozen=True)
class ContainerLog:
    """What the simulator knows about one container's output right now."""

    namespace: str
    pod: str
    container: str
    image: str
    started_at: float  # unix time the current (or last) run started
    finished_at: float | None = None  # set when that run has ended
    crashed: bool = False  # the run ends with an error
    waiting_reason: str | None = None  # never ran: the kubelet refuses with 400
    restart: int = 0
    previous: ContainerLog | None = None


LogLookup = Callable[[str, str, str], ContainerLog | None]


@dataclass(frozen=True)
class ContainerUsage:
    """One running container's usage at a moment, as the kubelet's resource metrics report it."""

    namespace: str
    pod: str
    container: str
    started_at: float  # unix time the container started
    cpu_seconds: float  # cumulative CPU time since it started (core-seconds)
    memory_bytes: float  # working set


@dataclass(frozen=True)
class NodeUsage:
    cpu_seconds: float  # cumulative CPU time of the whole node
    memory_bytes: float
    containers: list[ContainerUsage]


# node InternalIP (the address the request came in on) -> the node's usage now, or None (not a node)
UsageLookup = Callable[[str, float], NodeUsage | None]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def resource_metrics_text(usage: NodeUsage, now: float) -> str:
    """The kubelet's `/metrics/resource` (Prometheus text format 0.0.4), with millisecond timestamps."""
    ts = int(now * 1000)
    out = [
        "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in "
        "core-seconds",
        "# TYPE container_cpu_usage_seconds_total counter",
    ]
    labels = {c: f'container="{_label(c.container)}",namespace="{_label(c.namespace)}",pod="{_label(c.pod)}"'
              for c in usage.containers}
    out += [f"container_cpu_usage_seconds_total{{{labels[c]}}} {c.cpu_seconds:.9f} {ts}" for c in usage.containers]
    out += ["# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes",
            "# TYPE container_memory_working_set_bytes gauge"]
    out += [f"container_memory_working_set_bytes{{{labels[c]}}} {int(c.memory_bytes)} {ts}" for c in usage.containers]
    out += ["# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds",
            "# TYPE container_start_time_seconds gauge"]
    out += [f"container_start_time_seconds{{{labels[c]}}} {c.started_at:.9f} {ts}" for c in usage.containers]
    out += ["# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds",
            "# TYPE node_cpu_usage_seconds_total counter",
            f"node_cpu_usage_seconds_total {usage.cpu_seconds:.9f} {ts}",
            "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes",
            "# TYPE node_memory_working_set_bytes gauge",
            f"node_memory_working_set_bytes {int(usage.memory_bytes)} {ts}"]
    pods: dict[tuple[str, str], list[ContainerUsage]] = {}
    for c in usage.containers:
        pods.setdefault((c.namespace, c.pod), []).append(c)
    pod_labels = {key: f'namespace="{_label(key[0])}",pod="{_label(key[1])}"' for key in pods}
    out += ["# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds",
            "# TYPE pod_cpu_usage_seconds_total counter"]
    out += [f"pod_cpu_usage_seconds_total{{{pod_labels[k]}}} {sum(c.cpu_seconds for c in cs):.9f} {ts}"
            for k, cs in pods.items()]
    out += ["# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes",
            "# TYPE pod_memory_working_set_bytes gauge"]
    out += [f"pod_memory_working_set_bytes{{{pod_labels[k]}}} {int(sum(c.memory_bytes for c in cs))} {ts}"
            for k, cs in pods.items()]
    out += ["# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise",
            "# TYPE scrape_error gauge", "scrape_error 0"]
    return "\n".join(out) + "\n"


def _seed(*parts: object) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _family(image: str) -> str:
    name = image.rsplit("/", 1)[-1].split(":")[0].split("@")[0].lower()
    for family in ("nginx", "redis", "postgres", "mysql", "httpd"):
        if family in name:
            return "nginx" if family == "httpd" else family
    return "app"


_PATHS = ["/", "/index.html", "/api/v1/items", "/api/v1/items/42", "/healthz", "/static/app.js",
          "/static/style.css", "/login", "/api/v1/orders", "/favicon.ico"]
_AGENTS = ["kube-probe/1.37", "Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "Go-http-client/1.1"]


def _startup(family: str, c: ContainerLog) -> list[str]:
    if family == "nginx":
        return [
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, "
            "will attempt to perform configuration",
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
        ]
    if family == "redis":
        return ["1:C Redis version=7.0.15, bits=64, commit=00000000, modified=0, pid=1, just started",
                "1:M Server initialized", "1:M Ready to accept connections tcp"]
    if family in ("postgres", "mysql"):
        return [f"{family}: database system is starting up",
                f"{family}: listening on IPv4 address \"0.0.0.0\"",
                f"{family}: database system is ready to accept connections"]
    return [f"level=info msg=\"starting {c.container}\" version=1.0.0",
            "level=info msg=\"listening\" addr=0.0.0.0:8080"]


def _line(family: str, c: ContainerLog, k: int, at: dt.datetime) -> str:
    """The k-th line (0-based) of a container's run, written at `at`."""
    start = _startup(family, c)
    if k < len(start):
        return start[k]
    h = _seed(c.namespace, c.pod, c.container, c.restart, k)
    path = _PATHS[h % len(_PATHS)]
    status = 200 if h % 17 else (404 if h % 2 else 500)
    if family == "nginx":
        stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
        return (f"10.244.{h % 4}.{(h >> 8) % 250 + 2} - - [{stamp}] \"GET {path} HTTP/1.1\" {status} "
                f"{(h >> 4) % 4000 + 200} \"-\" \"{_AGENTS[(h >> 12) % len(_AGENTS)]}\"")
    if family == "redis":
        return f"1:M {at.strftime('%d %b %Y %H:%M:%S.000')} * {(h % 9) + 1} changes in 60 seconds. Saving..."
    if family in ("postgres", "mysql"):
        return f"{family}: statement: SELECT * FROM items WHERE id = {h % 1000} ({(h >> 8) % 40 + 1} ms)"
    level = "info" if status == 200 else "warn"
    return (f"level={level} msg=\"request\" method=GET path={path} status={status} "
            f"duration={(h >> 8) % 90 + 1}ms")


def _crash_lines(c: ContainerLog) -> list[str]:
    return [f"level=error msg=\"fatal: {c.container} cannot start: simulated crash\" image={c.image}",
            "(dockyard.dev: this container crashes on purpose; see docs/cluster.md)"]


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def render(c: ContainerLog, now: float, *, tail: int | None = None, since: float | None = None,
           timestamps: bool = False) -> tuple[list[str], int]:
    """Lines visible at `now` (each ending in a newline) and the index of the next line to come."""
    family = _family(c.image)
    end = c.finished_at if c.finished_at is not None else now
    count = max(0, int(end - c.started_at) + 1)
    if c.crashed:
        count = min(count, len(_startup(family, c)))
    first = max(0, count - MAX_LINES)
    entries: list[tuple[float, str]] = []
    for k in range(first, count):
        at = c.started_at + k
        entries.append((at, _line(family, c, k, dt.datetime.fromtimestamp(at, dt.UTC))))
    if c.crashed and c.finished_at is not None:
        entries += [(c.finished_at, text) for text in _crash_lines(c)]
    if since is not None:
        entries = [e for e in entries if e[0] >= since]
    if tail is not None:
        entries = entries[-tail:] if tail > 0 else []
    lines = [(f"{_stamp(at)} {text}\n" if timestamps else f"{text}\n") for at, text in entries]
    return lines, count


class FakeKubelet:
    def __init__(self, lookup: LogLookup, *, cert: Path, key: Path, hosts: tuple[str, ...] = ("127.0.0.1",),
                 port: int = 10250, usage: UsageLookup | None = None) -> None:
        self.lookup = lookup
        self.usage = usage
        self.hosts, self.port = hosts, port
        self.ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl.load_cert_chain(str(cert), str(key))
        self.app = web.Application()
        self.app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        self.app.router.add_get("/metrics/resource", self.resource_metrics)
        self.app.router.add_get("/healthz", self.healthz)
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        for host in self.hosts:
            await web.TCPSite(self.runner, host, self.port, ssl_context=self.ssl).start()
            log.info("kubelet endpoint on https://%s:%d", host, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def resource_metrics(self, request: web.Request) -> web.Response:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = str(sockname[0]) if sockname else ""
        now = _now()
        usage = self.usage(host, now) if self.usage is not None else None
        if usage is None:
            return web.Response(status=404, text=f"no node at {host}")
        return web.Response(text=resource_metrics_text(usage, now), content_type="text/plain",
                            charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        q = request.query
        c = self.lookup(ns, pod, name)
        if c is None:
            return web.Response(status=404,
                                text=f"pod \"{pod}\" or container \"{name}\" not found on this node")
        if q.get("previous") == "true":
            if c.previous is None:
                return web.Response(status=400, text=(
                    f"previous terminated container \"{name}\" in pod \"{pod}\" not found"))
            c = c.previous
        if c.waiting_reason:
            return web.Response(status=400, text=(
                f"container \"{name}\" in pod \"{pod}\" is waiting to start: {c.waiting_reason}"))
        tail = int(q["tailLines"]) if q.get("tailLines", "").lstrip("-").isdigit() else None
        since: float | None = None
        now = _now()
        if q.get("sinceSeconds", "").isdigit():
            since = now - int(q["sinceSeconds"])
        elif q.get("sinceTime"):
            try:
                since = dt.datetime.fromisoformat(q["sinceTime"].replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
        timestamps = q.get("timestamps") == "true"
        limit = int(q["limitBytes"]) if q.get("limitBytes", "").isdigit() else None
        lines, next_k = render(c, now, tail=tail, since=since, timestamps=timestamps)
        follow = q.get("follow") == "true" and c.finished_at is None and not c.crashed
        if not follow:
            body = "".join(lines).encode()
            return web.Response(body=body[:limit] if limit is not None else body,
                                content_type="text/plain", charset="utf-8")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await resp.prepare(request)
        sent = 0
        try:
            for line in lines:
                sent += await self._write(resp, line, limit, sent)
            family = _family(c.image)
            while limit is None or sent < limit:
                at = c.started_at + next_k
                await asyncio.sleep(max(0.0, at - _now()))
                current = self.lookup(ns, pod, name)
                if current is None or current.restart != c.restart or current.finished_at is not None:
                    break
                text = _line(family, c, next_k, dt.datetime.fromtimestamp(at, dt.UTC))
                sent += await self._write(resp, f"{_stamp(at)} {text}\n" if timestamps else f"{text}\n",
                                          limit, sent)
                next_k += 1
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    @staticmethod
    async def _write(resp: web.StreamResponse, line: str, limit: int | None, sent: int) -> int:
        data = line.encode()
        if limit is not None:
            data = data[: max(0, limit - sent)]
        if data:
            await resp.write(data)
        return len(data)


def _now() -> float:
    return time.time()
