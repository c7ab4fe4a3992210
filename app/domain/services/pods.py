"""A pod's page and its containers' logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.errors import Invalid, NotFound
from app.domain.services.detail import EventView, PodView, event_time, get_or_not_found, pod_view
from app.domain.services.listing import int_param
from app.domain.services.view import LOG_TAILS, MAX_EVENTS, annotations_of, labels_of, meta_of, soft_read
from app.i18n import _
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError

Obj = dict[str, Any]


# -- the pod page and logs -----------------------------------------------------------------------------

@dataclass
class PodDetail:
    pod: PodView
    labels: dict[str, str]
    annotations: dict[str, str]
    events: list[EventView]
    problems: dict[str, str]
    resource_version: str


async def pod_detail(kube: KubeGateway, namespace: str, name: str, *, actor: Actor) -> PodDetail:
    """The pod, its usage and its events: three calls."""
    problems: dict[str, str] = {}

    pod, metrics, events = await asyncio.gather(
        get_or_not_found(kube, "Pod", namespace, name, actor=actor,
                          missing=_("The pod {name} does not exist in this project.").format(name=name)),
        soft_read(kube.get("PodMetrics", namespace, name, actor=actor), {}, "metrics", None),
        soft_read(kube.items("Event", namespace, actor=actor,
                         field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}"),
              problems, "events", []),
    )
    views = [EventView(type=e.get("type", "Normal"), reason=e.get("reason", ""), message=e.get("message", ""),
                       count=int(e.get("count") or 1), last_seen=event_time(e), object_kind="Pod",
                       object_name=name) for e in events]
    views.sort(key=lambda v: v.last_seen, reverse=True)
    return PodDetail(pod=pod_view(pod, metrics), labels=labels_of(pod), annotations=annotations_of(pod),
                     events=views[:MAX_EVENTS], problems=problems,
                     resource_version=meta_of(pod).get("resourceVersion", ""))


@dataclass(frozen=True)
class LogQuery:
    tail: int | None  # None: everything the node still has
    previous: bool
    follow: bool

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> LogQuery:
        raw = params.get("tail", "")
        tail: int | None
        if raw == "all":
            tail = None
        else:
            tail = int_param(raw, 500, low=1, high=max(LOG_TAILS))
        return cls(tail=tail, previous=params.get("previous") in ("1", "true", "on"),
                   follow=params.get("follow") in ("1", "true", "on"))

    @property
    def tail_param(self) -> str:
        return "all" if self.tail is None else str(self.tail)


def container_names(pod: Mapping[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [c.get("name", "") for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]


async def container_logs(kube: KubeGateway, namespace: str, pod: str, container: str, *, actor: Actor,
                         query: LogQuery) -> str:
    try:
        return await kube.pod_logs(namespace, pod, container, actor=actor, tail_lines=query.tail,
                                   previous=query.previous)
    except KubeError as e:
        raise _log_error(e, pod) from None


async def container_log_download(kube: KubeGateway, namespace: str, pod: str, container: str, *, actor: Actor,
                                 query: LogQuery) -> AsyncIterator[bytes]:
    """The log for a download, in chunks as the node sends it (a log of any size is never held whole).
    Started here: a refusal (no such pod, container not started, no previous run) is raised before the
    first chunk, so the page can still say why instead of sending an empty file."""
    chunks = kube.pod_log_chunks(namespace, pod, container, actor=actor, tail_lines=query.tail,
                                 previous=query.previous)
    try:
        first = await anext(chunks, b"")
    except KubeError as e:
        raise _log_error(e, pod) from None

    async def rest() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()
    return rest()


def _log_error(e: KubeError, pod: str) -> Exception:
    if e.not_found:
        return NotFound(_("The pod {name} does not exist in this project.").format(name=pod))
    if e.status == 400:  # container not started yet, or no previous run
        return Invalid(e.message)
    return e
