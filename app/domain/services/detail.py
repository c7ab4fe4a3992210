"""A Service's page: its workloads, pods (with usage), endpoints and events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.errors import NotFound
from app.domain.k8s.quantities import format_cpu, format_memory, parse_quantity
from app.domain.services.diagnosis import Check, is_ready, probe_failures, resolve, traffic_checks
from app.domain.services.gateway import RouteView, service_routes
from app.domain.services.view import (
    EXTERNAL_NAME,
    MAX_EVENTS,
    WORKLOAD_KINDS,
    ServiceView,
    access_type,
    matches,
    meta_of,
    selector_string,
    soft_read,
)
from app.i18n import _
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.store import involved_object, template_labels

Obj = dict[str, Any]


# -- the detail page -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkloadView:
    kind: str
    name: str
    ready: int
    desired: int
    created: str
    images: list[str]

    @property
    def health(self) -> str:
        if self.desired == 0:
            return "warn"
        return "ok" if self.ready >= self.desired else "warn"


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str
    ports: list[str]
    state: str  # Running | Waiting | Terminated | Unknown
    reason: str
    message: str
    since: str
    ready: bool
    restarts: int
    init: bool
    last_terminated: str  # reason of the previous run, when it restarted

    @property
    def health(self) -> str:
        if self.state == "Running":
            return "ok" if self.ready else "warn"
        if self.state == "Terminated":
            return "ok" if self.reason == "Completed" else "err"
        if self.reason in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                           "InvalidImageName", "RunContainerError"):
            return "err"
        return "warn"


@dataclass(frozen=True)
class PodView:
    name: str
    status: str
    health: str  # ok | warn | err
    ready: str
    node: str
    node_ip: str
    pod_ip: str
    pod_ips: list[str]
    restarts: int
    cpu: str
    memory: str
    created: str
    containers: list[ContainerView]
    owner: str  # "Kind/name" of the controller, or ""
    qos: str

    @property
    def has_usage(self) -> bool:
        return self.cpu != "-" or self.memory != "-"


@dataclass(frozen=True)
class EventView:
    type: str
    reason: str
    message: str
    count: int
    last_seen: str
    object_kind: str
    object_name: str


@dataclass
class ServiceDetail:
    service: ServiceView
    endpoints: list[str] = field(default_factory=list)  # ready ones, "ip:port"
    endpoints_not_ready: int = 0  # neither ready nor on their way out
    endpoints_terminating: int = 0
    workloads: list[WorkloadView] = field(default_factory=list)
    pods: list[PodView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    metrics_available: bool = False
    checks: list[Check] = field(default_factory=list)  # why no traffic? (diagnosis.py)
    problems: dict[str, str] = field(default_factory=dict)  # section -> what failed
    resource_version: str = ""  # of the pods list: where the live watch starts
    routes: list[RouteView] = field(default_factory=list)  # HTTPRoutes to it (services.gateway)


def _containers(pod: Mapping[str, Any]) -> list[ContainerView]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = {s.get("name"): s for s in (status.get("containerStatuses") or [])}
    init_statuses = {s.get("name"): s for s in (status.get("initContainerStatuses") or [])}
    out: list[ContainerView] = []
    for init, containers, known in ((True, spec.get("initContainers") or [], init_statuses),
                                    (False, spec.get("containers") or [], statuses)):
        for c in containers:
            st = known.get(c.get("name")) or {}
            state = st.get("state") or {}
            detail: dict[str, Any]
            name, detail = "Unknown", {}
            for key, label in (("running", "Running"), ("waiting", "Waiting"), ("terminated", "Terminated")):
                if key in state:
                    name, detail = label, state[key] or {}
                    break
            last = ((st.get("lastState") or {}).get("terminated") or {})
            out.append(ContainerView(
                name=c.get("name", ""), image=c.get("image", ""),
                ports=[f"{p.get('name') + ': ' if p.get('name') else ''}{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
                       for p in c.get("ports") or []],
                state=name, reason=detail.get("reason", ""), message=detail.get("message", ""),
                since=detail.get("startedAt") or detail.get("finishedAt") or "",
                ready=bool(st.get("ready")), restarts=int(st.get("restartCount") or 0), init=init,
                last_terminated=(f"{last.get('reason', '')} ({last.get('exitCode')})" if last else ""),
            ))
    return out


def pod_status(pod: Mapping[str, Any]) -> tuple[str, str]:
    """What `kubectl get pods` shows in STATUS, and ok/warn/err."""
    meta, status = meta_of(pod), pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    if meta.get("deletionTimestamp"):
        return "Terminating", "warn"
    for s in status.get("initContainerStatuses") or []:
        state = s.get("state") or {}
        if "waiting" in state and (state["waiting"] or {}).get("reason") not in (None, "PodInitializing"):
            return f"Init:{state['waiting'].get('reason')}", "err" if "BackOff" in str(state["waiting"].get("reason")) else "warn"
        if "terminated" in state and (state["terminated"] or {}).get("exitCode", 0) != 0:
            return f"Init:{state['terminated'].get('reason') or 'Error'}", "err"
    for s in status.get("containerStatuses") or []:
        state = s.get("state") or {}
        if "waiting" in state:
            reason = (state["waiting"] or {}).get("reason") or "Waiting"
            bad = reason in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                             "InvalidImageName", "RunContainerError")
            return reason, "err" if bad else "warn"
        if "terminated" in state:
            term = state["terminated"] or {}
            if term.get("exitCode", 0) != 0:
                return term.get("reason") or "Error", "err"
    if phase == "Running":
        ready = all(s.get("ready") for s in status.get("containerStatuses") or [])
        return phase, "ok" if ready else "warn"
    if phase == "Succeeded":
        return "Completed", "ok"
    if phase == "Failed":
        return status.get("reason") or phase, "err"
    return phase, "warn"


def _pod_usage(metrics: Mapping[str, Any] | None) -> tuple[Decimal | None, Decimal | None]:
    if not metrics:
        return None, None
    cpu, mem = Decimal(0), Decimal(0)
    for c in metrics.get("containers") or []:
        usage = c.get("usage") or {}
        cpu += parse_quantity(usage.get("cpu")) or 0
        mem += parse_quantity(usage.get("memory")) or 0
    return cpu, mem


def pod_view(pod: Mapping[str, Any], metrics: Mapping[str, Any] | None = None) -> PodView:
    meta, spec, status = meta_of(pod), pod.get("spec") or {}, pod.get("status") or {}
    text, health = pod_status(pod)
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len(spec.get("containers") or [])
    cpu, mem = _pod_usage(metrics)
    owner = next((f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or [] if o.get("controller")),
                 "")
    ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")]
    return PodView(
        name=meta.get("name", ""), status=text, health=health, ready=f"{ready}/{total}",
        node=spec.get("nodeName", ""), node_ip=status.get("hostIP", ""), pod_ip=status.get("podIP", ""),
        pod_ips=ips or ([status["podIP"]] if status.get("podIP") else []),
        restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
        cpu=format_cpu(cpu), memory=format_memory(mem), created=meta.get("creationTimestamp", ""),
        containers=_containers(pod), owner=owner, qos=status.get("qosClass", ""),
    )


def workload_view(kind: str, obj: Mapping[str, Any]) -> WorkloadView:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind == "DaemonSet":
        ready, desired = status.get("numberReady", 0), status.get("desiredNumberScheduled", 0)
    else:
        ready, desired = status.get("readyReplicas", 0), spec.get("replicas", 1)
    containers = (((spec.get("template") or {}).get("spec") or {}).get("containers")) or []
    return WorkloadView(kind=kind, name=meta_of(obj).get("name", ""), ready=int(ready or 0), desired=int(desired or 0),
                        created=meta_of(obj).get("creationTimestamp", ""), images=[c.get("image", "") for c in containers])



def workloads_behind(selector: Mapping[str, str], lists: Mapping[str, list[Obj]]) -> list[WorkloadView]:
    """Workloads whose pods the selector picks (their pod template labels match)."""
    out: list[WorkloadView] = []
    for kind in WORKLOAD_KINDS:
        for obj in lists.get(kind, []):
            if matches(selector, template_labels(obj)):
                out.append(workload_view(kind, obj))
    return sorted(out, key=lambda w: (w.kind, w.name))


def event_time(e: Mapping[str, Any]) -> str:
    return (e.get("lastTimestamp") or e.get("eventTime") or (e.get("series") or {}).get("lastObservedTime")
            or e.get("firstTimestamp") or meta_of(e).get("creationTimestamp") or "")


async def events_about(kube: KubeGateway, namespace: str, *, actor: Actor, service: str,
                       workloads: Iterable[WorkloadView], pods: Iterable[str]) -> list[EventView]:
    """Events of the Service, its workloads (and their ReplicaSets) and its pods, newest first.

    Pods are also matched by their workload's name prefix, so the events of a pod that crashed and was
    replaced stay visible. The cache answers from its index of events by the object they are about."""
    objects = {("Service", service)} | {("Pod", p) for p in pods}
    prefixes = []
    for w in workloads:
        objects.add((w.kind, w.name))
        prefixes.append(w.name + "-")
    found = await kube.events_about(namespace, actor=actor, objects=frozenset(objects), prefixes=prefixes)
    out = []
    for e in found:
        kind, name = involved_object(e)
        out.append(EventView(type=e.get("type", "Normal"), reason=e.get("reason", ""), message=e.get("message") or e.get("note", ""),
                             count=int(e.get("count") or (e.get("series") or {}).get("count") or 1),
                             last_seen=event_time(e), object_kind=kind, object_name=name))
    out.sort(key=lambda v: v.last_seen, reverse=True)
    return out[:MAX_EVENTS]


SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # the label that ties an EndpointSlice to its Service


@dataclass(frozen=True)
class EndpointsSummary:
    ready: list[str]  # "ip:port", in the slices' order, each once
    not_ready: int
    terminating: int


def endpoint_summary(slices: Sequence[Mapping[str, Any]] | None) -> EndpointsSummary:
    """A Service's endpoints from its EndpointSlices (discovery.k8s.io/v1), however many there are.

    An endpoint is ready unless `conditions.ready` is false (unset means ready); one that is not ready
    and `terminating` is on its way out (it may still be `serving`); an address in two slices (during a
    move between them) counts once."""
    ready: list[str] = []
    seen: set[str] = set()
    not_ready: set[str] = set()
    terminating: set[str] = set()
    for slice_ in slices or []:
        ports = [p.get("port") for p in slice_.get("ports") or [] if p.get("port")] or [None]
        for endpoint in slice_.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            for address in endpoint.get("addresses") or []:
                if conditions.get("ready") is False:
                    (terminating if conditions.get("terminating") else not_ready).add(str(address))
                    continue
                for port in ports:
                    text = f"{address}:{port}" if port else str(address)
                    if text not in seen:
                        seen.add(text)
                        ready.append(text)
    ready_addresses = {r.rsplit(":", 1)[0] if ":" in r else r for r in ready}
    return EndpointsSummary(ready, len(not_ready - ready_addresses), len(terminating - ready_addresses))


async def _traffic_checks(kube: KubeGateway, namespace: str, svc: Obj, pods: list[Obj], slices: Any,
                          selector: Mapping[str, str], *, actor: Actor) -> list[Check]:
    """Why no traffic? Only when nothing is picked are the project's other workloads read (from the cache),
    for the nearest one; an ExternalName is looked up by the console."""
    if access_type(svc) == EXTERNAL_NAME:
        name = str((svc.get("spec") or {}).get("externalName") or "")
        return traffic_checks(svc, [], [], [], resolved=await resolve(name) if name else None)
    workloads: list[tuple[str, Obj]] = []
    if selector and not pods:
        lists = await asyncio.gather(*(soft_read(kube.items(kind, namespace, actor=actor), {}, "workloads", [])
                                       for kind in WORKLOAD_KINDS))
        workloads = [(kind, obj) for kind, items in zip(WORKLOAD_KINDS, lists, strict=True) for obj in items or []]
    not_ready = [p for p in pods if not is_ready(p)][:5]
    probes: dict[str, str] = {}
    if not_ready:  # why: the failing probes the kubelet reported (from the cache's index of events)
        events = await soft_read(kube.events_about(namespace, actor=actor, prefixes=[], objects=frozenset(
            ("Pod", str(meta_of(p).get("name"))) for p in not_ready)), {}, "events", [])
        probes = probe_failures(events or [])
    return traffic_checks(svc, pods, slices or [], workloads, probes=probes)


async def get_or_not_found(kube: KubeGateway, kind: str, namespace: str, name: str, *, actor: Actor,
                            missing: str, fresh: bool = False) -> Obj:
    """The object; NotFound with the message `missing` when there is none."""
    try:
        return await kube.get(kind, namespace, name, actor=actor, fresh=fresh)
    except KubeError as e:
        if e.not_found:
            raise NotFound(missing) from None
        raise


async def get_service(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, fresh: bool = False) -> Obj:
    """`fresh`: from the API server itself, not the watch cache (after a conflict, the cache may lag)."""
    return await get_or_not_found(
        kube, "Service", namespace, name, actor=actor, fresh=fresh,
        missing=_("The Service {name} does not exist in this project.").format(name=name))


async def service_detail(kube: KubeGateway, namespace: str, name: str, *, actor: Actor,
                         panel: bool = True, status: bool = True, events: bool = False) -> ServiceDetail:
    """The Service and what the page shows of it, in a fixed number of calls made together:
    service, its EndpointSlices (panel), pods by selector, deployments, statefulsets, daemonsets, pod metrics
    by selector (status) and events (events). Secondary reads that fail become messages on their section."""
    svc = await get_service(kube, namespace, name, actor=actor)
    view = ServiceView.of(svc)
    detail = ServiceDetail(service=view)
    problems = detail.problems
    selector = view.selector if view.access != EXTERNAL_NAME else {}
    need_pods = bool(selector) and (status or events)

    async def none() -> Any:
        return None

    async def nothing() -> list[Obj]:
        return []

    calls: dict[str, Awaitable[Any]] = {
        "endpoints": soft_read(kube.items("EndpointSlice", namespace, actor=actor,
                                          label_selector=f"{SERVICE_NAME_LABEL}={name}"), {}, "endpoints", None)
        if panel and view.access != EXTERNAL_NAME else none(),
        "pods": soft_read(kube.list("Pod", namespace, actor=actor, label_selector=selector_string(selector)),
                      problems, "pods", {}) if need_pods else none(),
        # The usage of the Service's pods only (metrics.k8s.io filters by the pods' labels): the whole
        # namespace's metrics would be thousands of objects in a big project.
        "metrics": soft_read(kube.items("PodMetrics", namespace, actor=actor, label_selector=selector_string(selector)),
                         {}, "metrics", None)
        if need_pods and status else none(),
        "routes": soft_read(service_routes(kube, namespace, name, actor=actor), problems, "routes", [])
        if status and view.access != EXTERNAL_NAME else nothing(),
    }
    for kind in WORKLOAD_KINDS:
        calls[kind] = (soft_read(kube.items(kind, namespace, actor=actor, template_selector=selector_string(selector)),
                             problems, "workloads", [])
                       if selector and (status or events) else nothing())
    keys = list(calls)
    results = dict(zip(keys, await asyncio.gather(*calls.values()), strict=True))

    endpoints = endpoint_summary(results["endpoints"])
    detail.endpoints = endpoints.ready
    detail.endpoints_not_ready, detail.endpoints_terminating = endpoints.not_ready, endpoints.terminating
    detail.routes = results["routes"] or []
    detail.workloads = workloads_behind(selector, {k: results[k] for k in WORKLOAD_KINDS})
    pods_list = results["pods"] or {}
    detail.resource_version = (pods_list.get("metadata") or {}).get("resourceVersion", "")
    metrics = results["metrics"]
    detail.metrics_available = metrics is not None
    usage = {meta_of(m).get("name"): m for m in metrics or []}
    pods = sorted(pods_list.get("items") or [], key=lambda p: meta_of(p).get("name", ""))
    detail.pods = [pod_view(p, usage.get(meta_of(p).get("name"))) for p in pods]
    if status:
        detail.checks = await _traffic_checks(kube, namespace, svc, pods, results["endpoints"], selector, actor=actor)
    if events:  # after the rest: which events belong here depends on the workloads and pods found
        detail.events = await soft_read(events_about(kube, namespace, actor=actor, service=name,
                                                 workloads=detail.workloads, pods=[p.name for p in detail.pods]),
                                    problems, "events", [])
    return detail
