"""Logs and metrics for operators: JSON log lines (one per request, plus the audit lines) and the
Prometheus metrics served at /metrics (latency by route, Kubernetes calls, watch restarts, cache sizes,
sessions and open event streams). Names follow Prometheus' conventions (`_seconds`, `_total`).

Metrics are per process: run one console process per pod (replicas, not `--workers`) when they are
scraped, or each scrape sees one worker's share."""

from __future__ import annotations

import json
import logging
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_SECONDS = Histogram(
    "dockyard_http_request_duration_seconds", "Time to answer a request, by route template.",
    ["route", "method", "status"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
KUBE_REQUESTS = Counter(
    "dockyard_kube_requests_total", "Calls to the Kubernetes API, by verb, resource and outcome.",
    ["verb", "resource", "outcome"], registry=REGISTRY)
WATCH_RESTARTS = Counter(
    "dockyard_watch_restarts_total", "Watch-cache watches started again (after a drop, a 410 Gone, an error).",
    ["kind", "reason"], registry=REGISTRY)
EVENT_STREAMS = Gauge(
    "dockyard_event_streams_open", "Server-sent event streams (live pages) open now.", registry=REGISTRY)

# Read when scraped: callables set by the parts that own the numbers (the watch caches).
# Weak: a watch cache that is closed and dropped (a new gateway, a test's app) stops being counted.
_CACHE_SIZES: list[weakref.WeakMethod[Callable[[], dict[str, int]]]] = []
CACHE_OBJECTS = Gauge("dockyard_cache_objects", "Objects the watch cache holds, by kind.", ["kind"], registry=REGISTRY)
SESSIONS = Gauge("dockyard_sessions_active", "Signed-in users this process served in the last five minutes.",
                 registry=REGISTRY)


SESSION_WINDOW = 300.0  # a session seen in the last five minutes counts as active
_seen_sessions: dict[str, float] = {}


def saw_session(user: str) -> None:
    now = time.monotonic()
    _seen_sessions[user] = now
    if len(_seen_sessions) > 10_000:  # bounded: forget the oldest
        for key, at in list(_seen_sessions.items()):
            if now - at > SESSION_WINDOW:
                del _seen_sessions[key]


def _active_sessions() -> int:
    now = time.monotonic()
    return sum(1 for at in list(_seen_sessions.values()) if now - at <= SESSION_WINDOW)


def report_cache_sizes(source: Callable[[], dict[str, int]]) -> None:
    """`source`: a bound method of the cache (held weakly)."""
    _CACHE_SIZES[:] = [ref for ref in _CACHE_SIZES if ref() is not None]
    _CACHE_SIZES.append(weakref.WeakMethod(source))


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    sizes: dict[str, int] = {}
    for ref in list(_CACHE_SIZES):
        source = ref()
        if source is None:
            continue
        for kind, count in source().items():
            sizes[kind] = sizes.get(kind, 0) + count
    for kind, count in sizes.items():
        CACHE_OBJECTS.labels(kind).set(count)
    SESSIONS.set(_active_sessions())
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def kube_resource(path: str) -> str:
    """The resource (plural, with subresource) of an API path: /api/v1/namespaces/x/pods/y/log -> pods/log.
    Names never become labels."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return parts[0] if parts else ""
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if len(rest) >= 2 and rest[0] == "namespaces":
        rest = rest[2:] if len(rest) > 2 else ["namespaces"]
    if not rest:
        return ""
    return rest[0] + ("/" + rest[2] if len(rest) > 2 else "")


def kube_outcome(status: int | None, error: str | None = None) -> str:
    if error:
        return error
    if status is None:
        return "error"
    return "ok" if status < 400 else f"{status // 100}xx"


# -- logs ----------------------------------------------------------------------------------------------

# The record's own attributes, and uvicorn's terminal-only copy of its message.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra` fields. A message that is
    itself JSON (the audit lines) is merged in, not quoted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
        }
        message = record.getMessage()
        if message.startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                line.update(parsed)
                message = ""
        if message:
            line["message"] = message
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(*, level: str = "INFO", as_json: bool = True) -> None:
    """The console's log: to stderr, JSON lines (or plain text for a terminal), at `level`; uvicorn's own
    access log is off (the console writes one line per request itself)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


__all__ = [
    "EVENT_STREAMS", "HTTP_SECONDS", "KUBE_REQUESTS", "REGISTRY", "WATCH_RESTARTS", "JsonFormatter",
    "configure_logging", "exposition", "kube_outcome", "kube_resource", "report_cache_sizes",
    "saw_session",
]
