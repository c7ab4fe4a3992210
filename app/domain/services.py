"""Services of a project: the list, the detail page, the pod page, and the actions on a Service.

Reads make a fixed number of Kubernetes calls whatever the number of rows: the list is one call (then
search, sort and pages happen here), the detail page one call per kind it shows. Every call is made as
the user (`actor`), in the project's namespace only.

Edits never overwrite silently: Edit YAML, Edit Service and Edit External Access carry the
resourceVersion the user loaded and send it as the precondition of a PUT; a 409 becomes an
`EditConflict` holding the latest object, for the page to show what changed.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.k8s.names import DNS1123_LABEL, DNS1123_SUBDOMAIN, IANA_SVC_NAME, info_problems, label_problem
from app.domain.k8s.quantities import format_cpu, format_memory, parse_quantity
from app.domain.manifests import plain_copy
from app.domain.service_rules import external_name_target_problem
from app.domain.yaml_gate import dump_yaml, parse_manifests, strip_server_fields
from app.i18n import _, lazy_
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.store import TextMatch, involved_object, page_of

Obj = dict[str, Any]
T = TypeVar("T")

# -- annotations and labels written by the console (kubesphere.md §2.6) ------------------------------
ALIAS = "kubesphere.io/alias-name"
DESCRIPTION = "kubesphere.io/description"
CREATOR = "kubesphere.io/creator"
SERVICE_TYPE = "kubesphere.io/serviceType"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# The flavour the console created a Service as (annotation), or Custom when it did not.
STATELESS, STATEFUL, EXTERNAL, CUSTOM = "statelessservice", "statefulservice", "externalservice", "custom"
KIND_LABELS = {
    STATELESS: lazy_("Stateless Service"),
    STATEFUL: lazy_("Stateful Service"),
    EXTERNAL: lazy_("External Service"),
    CUSTOM: lazy_("Custom Service"),
}
# How the Service is reached, derived from the object itself (never from the annotation).
VIRTUAL_IP, HEADLESS, EXTERNAL_NAME = "VirtualIP", "Headless", "ExternalName"
ACCESS_LABELS = {
    VIRTUAL_IP: lazy_("Virtual IP"),
    HEADLESS: lazy_("Headless"),
    EXTERNAL_NAME: lazy_("ExternalName"),
}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
RELATED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Pod", "PersistentVolumeClaim")
PROTOCOLS = ("TCP", "UDP", "SCTP")
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767
PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 20
MAX_EVENTS = 100
LOG_TAILS = (100, 500, 1000, 5000)

_UID = re.compile(r"^[0-9a-fA-F-]{1,64}$")


# -- small helpers -------------------------------------------------------------------------------------

def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("annotations") or {})


def selector_string(selector: Mapping[str, str]) -> str:
    """`k=v,k2=v2`, the labelSelector syntax (and how the original shows a selector)."""
    return ",".join(f"{k}={v}" for k, v in selector.items())


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selector (equality only) matches labels; an empty selector matches nothing."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# A page waits this long for its side reads (metrics, events, workloads); a late one is a message on
# its section, so a slow metrics pipeline or a huge event list never stalls the page itself.
SIDE_READ_SECONDS = 3.0


async def _soft(call: Awaitable[T], problems: dict[str, str], key: str, default: T) -> T:
    """A secondary read: a failure, or no answer within SIDE_READ_SECONDS, becomes a message on its
    section instead of failing (or stalling) the page."""
    try:
        return await asyncio.wait_for(call, SIDE_READ_SECONDS)
    except KubeError as e:
        problems[key] = e.message
        return default
    except asyncio.TimeoutError:
        problems[key] = _("Not available right now: the cluster did not answer in time.")
        return default


# -- what a Service is ---------------------------------------------------------------------------------

def service_kind(svc: Mapping[str, Any]) -> str:
    """The flavour it was created as, from the annotation; Custom when absent or unknown."""
    value = _annotations(svc).get(SERVICE_TYPE, "")
    return value if value in (STATELESS, STATEFUL, EXTERNAL) else CUSTOM


def access_type(svc: Mapping[str, Any]) -> str:
    """Virtual IP, Headless or ExternalName, from the object: a hand-made `clusterIP: None` Service is
    Headless whatever its annotations say (kubesphere#5094)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return EXTERNAL_NAME
    if spec.get("clusterIP") == "None":
        return HEADLESS
    return VIRTUAL_IP


def app_of(obj: Mapping[str, Any]) -> str:
    labels = _labels(obj)
    return (labels.get("app.kubesphere.io/instance") or labels.get("app.kubernetes.io/name")
            or labels.get("app") or "")


@dataclass(frozen=True)
class PortView:
    name: str
    protocol: str
    port: int | None
    target_port: str
    node_port: int | None


@dataclass(frozen=True)
class ExternalAccess:
    """The External Access column: a title (mode) and what to reach it by."""

    mode: str  # "" | "NodePort" | "LoadBalancer" | "ExternalName" | "ExternalIPs"
    title: str
    values: list[str]


@dataclass(frozen=True)
class ServiceView:
    name: str
    namespace: str
    uid: str
    resource_version: str
    alias: str
    description: str
    creator: str
    created: str
    kind: str
    access: str
    type: str
    app: str
    cluster_ip: str
    external_name: str
    external: ExternalAccess
    selector: dict[str, str]
    session_affinity: bool
    affinity_timeout: int | None
    ports: list[PortView]
    labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def access_label(self) -> str:
        return str(ACCESS_LABELS[self.access])

    @property
    def display_name(self) -> str:
        return self.alias or self.name

    @property
    def subtitle(self) -> str:
        """Under the display name: the name when an alias is shown, and the description."""
        return " · ".join(part for part in (self.name if self.alias else "", self.description) if part) or "-"

    @property
    def selector_text(self) -> str:
        return selector_string(self.selector)

    @property
    def dns(self) -> str:
        return f"{self.name}.{self.namespace}"

    @property
    def internal_title(self) -> str:
        if self.access == EXTERNAL_NAME:
            return self.external_name or "-"
        if self.access == HEADLESS:
            return "None"
        return self.cluster_ip or "-"

    @property
    def can_edit_external_access(self) -> bool:
        return self.access == VIRTUAL_IP

    @classmethod
    def of(cls, svc: Mapping[str, Any]) -> "ServiceView":
        meta, spec, annotations = _meta(svc), svc.get("spec") or {}, _annotations(svc)
        ports = [
            PortView(name=p.get("name", ""), protocol=p.get("protocol", "TCP"), port=p.get("port"),
                     target_port=str(p.get("targetPort", p.get("port", ""))), node_port=p.get("nodePort"))
            for p in spec.get("ports") or []
        ]
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        return cls(
            name=meta.get("name", ""), namespace=meta.get("namespace", ""), uid=meta.get("uid", ""),
            resource_version=meta.get("resourceVersion", ""), alias=annotations.get(ALIAS, ""),
            description=annotations.get(DESCRIPTION, ""), creator=annotations.get(CREATOR, ""),
            created=meta.get("creationTimestamp", ""), kind=service_kind(svc), access=access_type(svc),
            type=spec.get("type", "ClusterIP"), app=app_of(svc), cluster_ip=spec.get("clusterIP", ""),
            external_name=spec.get("externalName", ""), external=_external_access(svc),
            selector=dict(spec.get("selector") or {}),
            session_affinity=spec.get("sessionAffinity") == "ClientIP",
            affinity_timeout=timeout if spec.get("sessionAffinity") == "ClientIP" else None,
            ports=ports, labels=_labels(svc), annotations=annotations,
        )


def _external_access(svc: Mapping[str, Any]) -> ExternalAccess:
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return ExternalAccess("ExternalName", spec.get("externalName", ""), [])
    if kind == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addresses = [i.get("ip") or i.get("hostname") or "" for i in ingress]
        addresses = [a for a in addresses if a] + list(spec.get("externalIPs") or [])
        title = _("Load balancers") if len(addresses) > 1 else _("Load balancer")
        return ExternalAccess("LoadBalancer", title, addresses or [_("Pending")])
    if kind == "NodePort":
        values = [f"{p['nodePort']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [] if p.get("nodePort")]
        return ExternalAccess("NodePort", _("Node ports") if len(values) > 1 else _("Node port"), values)
    if spec.get("externalIPs"):
        return ExternalAccess("ExternalIPs", _("External IP Address"), list(spec["externalIPs"]))
    return ExternalAccess("", "-", [])


# -- the list ------------------------------------------------------------------------------------------

def _int_param(value: str | None, default: int, *, low: int, high: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return min(max(number, low), high)


@dataclass(frozen=True)
class ListQuery:
    """Search, sort and page of the list, read leniently from the URL (a bad value means the default)."""

    name: str = ""
    app: str = ""
    sort: str = "createTime"  # or "name"
    ascending: bool = False
    page: int = 1
    limit: int = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> "ListQuery":
        sort = params.get("sort", "createTime")
        sort = sort if sort in ("createTime", "name") else "createTime"
        order = params.get("order", "")
        ascending = order == "asc" if order in ("asc", "desc") else sort == "name"
        limit = _int_param(params.get("limit"), DEFAULT_PAGE_SIZE, low=1, high=max(PAGE_SIZES))
        return cls(name=(params.get("name") or "").strip()[:253], app=(params.get("app") or "").strip()[:253],
                   sort=sort, ascending=ascending, page=_int_param(params.get("page"), 1, low=1, high=10**6),
                   limit=limit)

    def params(self, **changes: Any) -> str:
        """The query string of this view with some values changed (defaults omitted)."""
        q = {**self.__dict__, **changes}
        out: dict[str, str] = {}
        if q["name"]:
            out["name"] = q["name"]
        if q["app"]:
            out["app"] = q["app"]
        if q["sort"] != "createTime":
            out["sort"] = q["sort"]
        if q["ascending"] != (q["sort"] == "name"):
            out["order"] = "asc" if q["ascending"] else "desc"
        if q["limit"] != DEFAULT_PAGE_SIZE:
            out["limit"] = str(q["limit"])
        if q["page"] != 1:
            out["page"] = str(q["page"])
        return ("?" + urlencode(out)) if out else ""

    def sort_params(self, key: str) -> str:
        """Link of a sortable column header: toggles the order when already sorted by it."""
        if self.sort == key:
            return self.params(ascending=not self.ascending, page=1)
        return self.params(sort=key, ascending=key == "name", page=1)


@dataclass(frozen=True)
class ServicePage:
    rows: list[ServiceView]
    total: int  # matching the search
    page: int
    pages: int
    query: ListQuery
    resource_version: str  # of the list: where the live watch starts


def service_search_text(svc: Mapping[str, Any]) -> str:
    """What the list's name search looks in: the name and the alias, in lower case."""
    return f"{_meta(svc).get('name', '')}\n{_annotations(svc).get(ALIAS, '')}".lower()


def service_matcher(query: ListQuery) -> Callable[[Mapping[str, Any]], bool] | None:
    """The list's search (name: in the name or alias; app: in the app labels), None when there is none.
    The name search is a TextMatch: the watch cache keeps each Service's search text."""
    name, app = query.name.lower(), query.app.lower()
    if not (name or app):
        return None

    def app_match(svc: Mapping[str, Any]) -> bool:
        labels = _labels(svc)
        values = [labels.get(k, "") for k in ("app", "app.kubernetes.io/name", "app.kubesphere.io/instance")]
        return any(app in v.lower() for v in values if v)

    if name:
        return TextMatch(service_search_text, name, app_match if app else None)  # type: ignore[arg-type]
    return app_match


def list_order(query: ListQuery) -> tuple[str, bool]:
    """(the gateway's order, descending) of the list's sort."""
    return ("name" if query.sort == "name" else "created"), not query.ascending


def search_services(items: Iterable[Mapping[str, Any]], query: ListQuery) -> list[Mapping[str, Any]]:
    """Filter and sort a whole list like the original (the list page asks the gateway for one page)."""
    order, descending = list_order(query)
    found = page_of(items, order=order, descending=descending, page=1, limit=10**9,  # type: ignore[arg-type]
                    match=service_matcher(query), resource_version="")
    return found.items


async def list_services(kube: KubeGateway, namespace: str, *, actor: Actor, query: ListQuery) -> ServicePage:
    """One page from the gateway (from the cache: the cost of the page, not of the project's Services);
    only that page's rows are built."""
    order, descending = list_order(query)
    found = await kube.page("Service", namespace, actor=actor, order=order, descending=descending,
                            page=query.page, limit=query.limit, match=service_matcher(query))
    rows = [ServiceView.of(s) for s in found.items]
    return ServicePage(rows=rows, total=found.total, page=found.page, pages=found.pages, query=query,
                       resource_version=found.resource_version)


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
    endpoints: list[str] = field(default_factory=list)
    workloads: list[WorkloadView] = field(default_factory=list)
    pods: list[PodView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    metrics_available: bool = False
    problems: dict[str, str] = field(default_factory=dict)  # section -> what failed
    resource_version: str = ""  # of the pods list: where the live watch starts


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
    meta, status = _meta(pod), pod.get("status") or {}
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
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
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
    return WorkloadView(kind=kind, name=_meta(obj).get("name", ""), ready=int(ready or 0), desired=int(desired or 0),
                        created=_meta(obj).get("creationTimestamp", ""), images=[c.get("image", "") for c in containers])


def _template_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(((((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {})


def workloads_behind(selector: Mapping[str, str], lists: Mapping[str, list[Obj]]) -> list[WorkloadView]:
    """Workloads whose pods the selector picks (their pod template labels match)."""
    out: list[WorkloadView] = []
    for kind in WORKLOAD_KINDS:
        for obj in lists.get(kind, []):
            if matches(selector, _template_labels(obj)):
                out.append(workload_view(kind, obj))
    return sorted(out, key=lambda w: (w.kind, w.name))


def _event_time(e: Mapping[str, Any]) -> str:
    return (e.get("lastTimestamp") or e.get("eventTime") or (e.get("series") or {}).get("lastObservedTime")
            or e.get("firstTimestamp") or _meta(e).get("creationTimestamp") or "")


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
                             last_seen=_event_time(e), object_kind=kind, object_name=name))
    out.sort(key=lambda v: v.last_seen, reverse=True)
    return out[:MAX_EVENTS]


def endpoint_addresses(endpoints: Mapping[str, Any] | None) -> list[str]:
    if not endpoints:
        return []
    out = []
    for subset in endpoints.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                out.append(f"{address.get('ip')}:{port}" if port else str(address.get("ip")))
    return out


async def _get_or_not_found(kube: KubeGateway, kind: str, namespace: str, name: str, *, actor: Actor,
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
    return await _get_or_not_found(
        kube, "Service", namespace, name, actor=actor, fresh=fresh,
        missing=_("The Service {name} does not exist in this project.").format(name=name))


async def service_detail(kube: KubeGateway, namespace: str, name: str, *, actor: Actor,
                         panel: bool = True, status: bool = True, events: bool = False) -> ServiceDetail:
    """The Service and what the page shows of it, in a fixed number of calls made together:
    service, endpoints (panel), pods by selector, deployments, statefulsets, daemonsets, pod metrics
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
        "endpoints": _soft(kube.get("Endpoints", namespace, name, actor=actor), {}, "endpoints", None)
        if panel and view.access != EXTERNAL_NAME else none(),
        "pods": _soft(kube.list("Pod", namespace, actor=actor, label_selector=selector_string(selector)),
                      problems, "pods", {}) if need_pods else none(),
        # The usage of the Service's pods only (metrics.k8s.io filters by the pods' labels): the whole
        # namespace's metrics would be thousands of objects in a big project.
        "metrics": _soft(kube.items("PodMetrics", namespace, actor=actor, label_selector=selector_string(selector)),
                         {}, "metrics", None)
        if need_pods and status else none(),
    }
    for kind in WORKLOAD_KINDS:
        calls[kind] = (_soft(kube.items(kind, namespace, actor=actor, template_selector=selector_string(selector)),
                             problems, "workloads", [])
                       if selector and (status or events) else nothing())
    keys = list(calls)
    results = dict(zip(keys, await asyncio.gather(*calls.values())))

    detail.endpoints = endpoint_addresses(results["endpoints"])
    detail.workloads = workloads_behind(selector, {k: results[k] for k in WORKLOAD_KINDS})
    pods_list = results["pods"] or {}
    detail.resource_version = (pods_list.get("metadata") or {}).get("resourceVersion", "")
    metrics = results["metrics"]
    detail.metrics_available = metrics is not None
    usage = {_meta(m).get("name"): m for m in metrics or []}
    pods = sorted(pods_list.get("items") or [], key=lambda p: _meta(p).get("name", ""))
    detail.pods = [pod_view(p, usage.get(_meta(p).get("name"))) for p in pods]
    if events:  # after the rest: which events belong here depends on the workloads and pods found
        detail.events = await _soft(events_about(kube, namespace, actor=actor, service=name,
                                                 workloads=detail.workloads, pods=[p.name for p in detail.pods]),
                                    problems, "events", [])
    return detail


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
        _get_or_not_found(kube, "Pod", namespace, name, actor=actor,
                          missing=_("The pod {name} does not exist in this project.").format(name=name)),
        _soft(kube.get("PodMetrics", namespace, name, actor=actor), {}, "metrics", None),
        _soft(kube.items("Event", namespace, actor=actor,
                         field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}"),
              problems, "events", []),
    )
    views = [EventView(type=e.get("type", "Normal"), reason=e.get("reason", ""), message=e.get("message", ""),
                       count=int(e.get("count") or 1), last_seen=_event_time(e), object_kind="Pod",
                       object_name=name) for e in events]
    views.sort(key=lambda v: v.last_seen, reverse=True)
    return PodDetail(pod=pod_view(pod, metrics), labels=_labels(pod), annotations=_annotations(pod),
                     events=views[:MAX_EVENTS], problems=problems,
                     resource_version=_meta(pod).get("resourceVersion", ""))


@dataclass(frozen=True)
class LogQuery:
    tail: int | None  # None: everything the node still has
    previous: bool
    follow: bool

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> "LogQuery":
        raw = params.get("tail", "")
        tail: int | None
        if raw == "all":
            tail = None
        else:
            tail = _int_param(raw, 500, low=1, high=max(LOG_TAILS))
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


# -- errors of writes ----------------------------------------------------------------------------------

class EditConflict(Conflict):
    """The object changed since the user loaded it; `latest` is what the server has now."""

    def __init__(self, latest: Obj) -> None:
        super().__init__(_("Someone changed this Service after you opened it. Nothing was saved."))
        self.latest = latest


def invalid_from(e: KubeError) -> Invalid:
    """The API server's 422, with each cause on the field it names (`spec.ports[0].nodePort`)."""
    errors: dict[str, str] = {}
    for cause in e.causes:
        if cause.field:
            errors.setdefault(cause.field, cause.message or e.message)
    errors["_"] = e.message
    return Invalid(e.message, errors=errors)


async def _write(kube: KubeGateway, namespace: str, name: str, call: Awaitable[Obj], *, actor: Actor) -> Obj:
    """Send a write; turn the server's refusals into domain errors the pages show."""
    try:
        return await call
    except KubeError as e:
        if e.not_found:
            raise NotFound(_("The Service {name} does not exist any more.").format(name=name)) from None
        if e.conflict:
            raise EditConflict(await get_service(kube, namespace, name, actor=actor, fresh=True)) from None
        if e.invalid or e.status == 400:
            raise invalid_from(e) from None
        raise


# -- Edit Information ----------------------------------------------------------------------------------

async def edit_information(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, alias: str,
                           description: str) -> Obj:
    """Alias and description as a merge patch of two annotations; an empty value removes one."""
    alias = alias.strip()
    errors: dict[str, str] = {}
    errors.update(info_problems(alias, description))
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    patch = {"metadata": {"annotations": {ALIAS: alias or None, DESCRIPTION: description or None}}}
    return await _write(kube, namespace, name, kube.merge_patch("Service", namespace, name, patch, actor=actor),
                        actor=actor)


# -- Edit YAML -----------------------------------------------------------------------------------------

def editable_yaml(svc: Mapping[str, Any]) -> str:
    """The object as the user edits and downloads it: without status, uid, resourceVersion,
    managedFields and the other fields the server owns."""
    return dump_yaml(strip_server_fields(dict(svc), for_create=False))


def download_name(svc: Mapping[str, Any]) -> str:
    meta = _meta(svc)
    return f"{meta.get('name', 'service')}.{meta.get('namespace', 'default')}.service.yaml"


def parse_service_yaml(text: str, *, namespace: str, name: str, external_ips_allowed: bool = False) -> Obj:
    """Exactly one Service, this one; refusals carry line and column."""
    result = parse_manifests(text, namespace=namespace, allowed_kinds=frozenset({"Service"}),
                             external_ips_allowed=external_ips_allowed)
    if not result.ok:
        problems = [str(p) for p in result.problems]
        raise Invalid(problems[0], errors={"yaml": "\n".join(problems)})
    if len(result.objects) != 1:
        message = _("Edit YAML updates this Service only: keep exactly one document.")
        raise Invalid(message, errors={"yaml": message})
    obj = result.objects[0].obj
    if obj["metadata"]["name"] != name:
        message = _("The name cannot be changed here (it is {name}). To rename, create a new Service.").format(
            name=name)
        raise Invalid(message, errors={"yaml": message})
    return obj


async def update_from_yaml(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, text: str,
                           resource_version: str, external_ips_allowed: bool = False) -> Obj:
    """Replace the Service with the edited YAML, on condition that it is still the version the user
    loaded. Owner references (hidden from the editor) are carried over from the server's copy."""
    obj = parse_service_yaml(text, namespace=namespace, name=name, external_ips_allowed=external_ips_allowed)
    if not resource_version:
        raise Invalid(_("The form is missing the version it was loaded from. Reload the page."))
    current = await get_service(kube, namespace, name, actor=actor, fresh=True)  # a write: the server's copy
    if _meta(current).get("resourceVersion") != resource_version:
        raise EditConflict(current)
    owners = _meta(current).get("ownerReferences")
    if owners:
        obj["metadata"]["ownerReferences"] = owners
    obj["metadata"]["resourceVersion"] = resource_version
    return await _write(kube, namespace, name, kube.replace(obj, namespace=namespace, actor=actor), actor=actor)


_MISSING = object()


def three_way_merge(base: Any, mine: Any, latest: Any, path: str = "") -> tuple[Any, list[str]]:
    """Apply the user's changes (base -> mine) to the latest version. A field both sides changed to
    different values is a conflict: the user's value is kept and its path reported. Lists are values."""
    if mine == base:
        return latest, []
    if latest == base or latest == mine:
        return mine, []
    if isinstance(base, dict) and isinstance(mine, dict) and isinstance(latest, dict):
        merged: dict[str, Any] = {}
        conflicts: list[str] = []
        keys = list(latest) + [k for k in mine if k not in latest] + [k for k in base if k not in latest and k not in mine]
        for key in keys:
            sub = f"{path}.{key}" if path else key
            value, found = three_way_merge(base.get(key, _MISSING), mine.get(key, _MISSING),
                                           latest.get(key, _MISSING), sub)
            conflicts += found
            if value is not _MISSING:
                merged[key] = value
        return merged, conflicts
    return mine, [path or "."]


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add" | "del" | "hunk" | ""
    text: str


def diff_lines(before: str, after: str) -> list[DiffLine]:
    out: list[DiffLine] = []
    for line in list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2))[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
        out.append(DiffLine(kind, line))
    return out


@dataclass(frozen=True)
class ConflictView:
    """What the page shows after a 409: the server's changes since the user's base, and the user's edit."""

    server_changes: list[DiffLine]
    my_changes: list[DiffLine]
    latest_yaml: str
    latest_version: str


def conflict_view(base_text: str, mine_text: str, latest: Mapping[str, Any]) -> ConflictView:
    latest_yaml = editable_yaml(latest)
    return ConflictView(server_changes=diff_lines(base_text, latest_yaml), my_changes=diff_lines(base_text, mine_text),
                        latest_yaml=latest_yaml, latest_version=_meta(latest).get("resourceVersion", ""))


@dataclass(frozen=True)
class MergeResult:
    text: str  # the user's edit applied to the latest version, for review in the editor
    resource_version: str  # of the latest version
    base_text: str  # the latest version, the new base
    conflicts: list[str]


async def apply_edit_to_latest(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, base_text: str,
                               mine_text: str) -> MergeResult:
    """Merge the user's edit (base -> mine) into the server's latest version. Nothing is sent: the
    result goes back into the editor for the user to review and update."""
    mine = parse_service_yaml(mine_text, namespace=namespace, name=name)
    base_result = parse_manifests(base_text, namespace=namespace, allowed_kinds=frozenset({"Service"}))
    base = base_result.objects[0].obj if base_result.ok and len(base_result.objects) == 1 else {}
    latest = await get_service(kube, namespace, name, actor=actor, fresh=True)
    latest_clean = strip_server_fields(latest, for_create=False)
    merged, conflicts = three_way_merge(base, mine, latest_clean)
    return MergeResult(text=dump_yaml(merged), resource_version=_meta(latest).get("resourceVersion", ""),
                       base_text=dump_yaml(latest_clean), conflicts=conflicts)


# -- Edit Service (selector and ports; the address for ExternalName) -----------------------------------

@dataclass
class PortRow:
    name: str = ""
    protocol: str = "TCP"
    target_port: str = ""
    port: str = ""

    @property
    def empty(self) -> bool:
        return not (self.name.strip() or self.target_port.strip() or self.port.strip())


@dataclass
class KeyValueRow:
    key: str = ""
    value: str = ""

    @property
    def empty(self) -> bool:
        return not (self.key.strip() or self.value.strip())


@dataclass
class ServiceSettingsForm:
    access: str
    selector: list[KeyValueRow]
    ports: list[PortRow]
    external_name: str
    resource_version: str

    @classmethod
    def of(cls, svc: Mapping[str, Any]) -> "ServiceSettingsForm":
        spec = svc.get("spec") or {}
        return cls(
            access=access_type(svc),
            selector=[KeyValueRow(k, v) for k, v in (spec.get("selector") or {}).items()],
            ports=[PortRow(name=p.get("name", ""), protocol=p.get("protocol", "TCP"),
                           target_port=str(p.get("targetPort", "")), port=str(p.get("port", "")))
                   for p in spec.get("ports") or []],
            external_name=spec.get("externalName", ""),
            resource_version=_meta(svc).get("resourceVersion", ""),
        )

    @classmethod
    def from_form(cls, form: Mapping[str, list[str]], *, access: str) -> "ServiceSettingsForm":
        def col(name: str) -> list[str]:
            return list(form.get(name, []))

        keys, values = col("selector_key"), col("selector_value")
        selector = [KeyValueRow(k, values[i] if i < len(values) else "") for i, k in enumerate(keys)]
        names, protocols, targets, ports = col("port_name"), col("port_protocol"), col("port_target"), col("port_port")
        rows = [PortRow(name=names[i] if i < len(names) else "", protocol=protocols[i] if i < len(protocols) else "TCP",
                        target_port=targets[i] if i < len(targets) else "", port=p) for i, p in enumerate(ports)]
        return cls(access=access, selector=[r for r in selector if not r.empty], ports=[r for r in rows if not r.empty],
                   external_name=(col("external_name") or [""])[0].strip(),
                   resource_version=(col("resource_version") or [""])[0])


def _port_number(text: str) -> int | None:
    try:
        number = int(text.strip())
    except ValueError:
        return None
    return number if 1 <= number <= 65535 else None


def validate_selector(rows: list[KeyValueRow], errors: dict[str, str], *, required: bool) -> dict[str, str]:
    selector: dict[str, str] = {}
    for i, row in enumerate(rows):
        key, value = row.key.strip(), row.value.strip()
        if problem := label_problem(key, value):
            errors[f"selector[{i}]"] = problem
        elif key in selector:
            errors[f"selector[{i}]"] = _("The key already exists. Please enter another key.")
        else:
            selector[key] = value
    if required and not rows:
        errors["spec.selector"] = _("Please set a workload selector.")
    return selector


def validate_ports(rows: list[PortRow], errors: dict[str, str], *, required: bool) -> list[Obj]:
    ports: list[Obj] = []
    names: set[str] = set()
    seen: set[tuple[int, str]] = set()
    for i, row in enumerate(rows):
        where = f"spec.ports[{i}]"
        name, protocol = row.name.strip(), row.protocol.strip().upper() or "TCP"
        port = _port_number(row.port)
        if not row.port.strip():
            errors[f"{where}.port"] = _("Please enter a port number.")
        elif port is None:
            errors[f"{where}.port"] = _("Invalid port.")
        target_text = row.target_port.strip() or row.port.strip()
        target: int | str | None = _port_number(target_text) if target_text.isdigit() else target_text
        if target is None or (isinstance(target, str) and (len(target) > 15 or not IANA_SVC_NAME.fullmatch(target)
                                                           or "--" in target or not re.search("[a-z]", target))):
            errors[f"{where}.targetPort"] = _("Invalid port.")
        if protocol not in PROTOCOLS:
            errors[f"{where}.protocol"] = _("Choose TCP, UDP or SCTP.")
        if name and (len(name) > 63 or not DNS1123_LABEL.fullmatch(name)):
            errors[f"{where}.name"] = _("The port name can contain only lowercase letters, numbers and hyphens (-), "
                                        "and must start and end with a lowercase letter or number.")
        elif not name and len(rows) > 1:
            errors[f"{where}.name"] = _("Each port needs a name when there are several.")
        elif name in names:
            errors[f"{where}.name"] = _("The port name is duplicated.")
        names.add(name)
        if port is not None:
            if (port, protocol) in seen:
                errors[f"{where}.port"] = _("The port is duplicated.")
            seen.add((port, protocol))
        entry: Obj = {"protocol": protocol, "port": port, "targetPort": target}
        if name:
            entry = {"name": name, **entry}
        ports.append(entry)
    if required and not rows:
        errors["spec.ports"] = _("Please set at least one port.")
    return ports


def apply_service_settings(svc: Mapping[str, Any], form: ServiceSettingsForm) -> Obj:
    """The Service with the form's selector and ports (or address), everything else as it was.

    Node ports are kept for ports that still exist (same name, else same port and protocol), so editing
    the selector of a NodePort Service does not move its node ports."""
    obj = plain_copy(dict(svc))
    spec = obj.setdefault("spec", {})
    errors: dict[str, str] = {}
    if form.access == EXTERNAL_NAME:
        address = form.external_name.strip().rstrip(".")
        if not address:
            errors["spec.externalName"] = _("Please enter the domain name of an external service.")
        elif len(address) > 253 or not DNS1123_SUBDOMAIN.fullmatch(address):
            errors["spec.externalName"] = _("Enter a domain name such as api.example.com (lowercase letters, numbers, "
                                            "hyphens and dots).")
        elif problem := external_name_target_problem(address):
            errors["spec.externalName"] = problem
        if errors:
            raise Invalid(next(iter(errors.values())), errors=errors)
        spec["externalName"] = address
        return obj
    had_selector = bool(spec.get("selector"))
    selector = validate_selector(form.selector, errors, required=had_selector)
    ports = validate_ports(form.ports, errors, required=form.access == VIRTUAL_IP)
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    old = spec.get("ports") or []
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        for p in ports:
            same = next((o for o in old if p.get("name") and o.get("name") == p.get("name")), None) or next(
                (o for o in old if o.get("port") == p["port"] and o.get("protocol", "TCP") == p["protocol"]), None)
            if same and same.get("nodePort"):
                p["nodePort"] = same["nodePort"]
    if selector:
        spec["selector"] = selector
    else:
        spec.pop("selector", None)
    if ports:
        spec["ports"] = ports
    else:
        spec.pop("ports", None)
    return obj


async def edit_service(kube: KubeGateway, namespace: str, name: str, *, actor: Actor,
                       form: ServiceSettingsForm) -> Obj:
    """Replace selector and ports (or the address), on condition the Service is the version loaded."""
    current = await get_service(kube, namespace, name, actor=actor, fresh=True)
    if access_type(current) != form.access:
        raise EditConflict(current)
    updated = apply_service_settings(current, form)
    if _meta(current).get("resourceVersion") != form.resource_version:
        raise EditConflict(current)
    return await _write(kube, namespace, name, kube.replace(updated, namespace=namespace, actor=actor), actor=actor)


# -- Edit External Access (Virtual IP Services) --------------------------------------------------------

ACCESS_MODES = ("None", "NodePort", "LoadBalancer")
MODE_LABELS = {"None": lazy_("None"), "NodePort": lazy_("NodePort"), "LoadBalancer": lazy_("LoadBalancer")}
MODE_HELP = {
    "None": lazy_("Internet access is not supported. The service can be accessed only within the cluster."),
    "NodePort": lazy_("Use a port of the cluster nodes to access the service."),
    "LoadBalancer": lazy_("Use a load balancer to access the service."),
}
# Kept as they are and not shown in the annotation rows (the original hides the same keys).
_HIDDEN_ANNOTATION = re.compile(r"^(kubesphere\.io/|openpitrix_runtime$|kubectl\.kubernetes\.io/)")
# Fields only valid with a load balancer, or with node ports; removed when leaving those types.
_LB_ONLY = ("loadBalancerIP", "loadBalancerSourceRanges", "healthCheckNodePort", "allocateLoadBalancerNodePorts",
            "loadBalancerClass")
_NODE_ONLY = ("externalTrafficPolicy",)


@dataclass
class ExternalAccessForm:
    """`node_ports` and `annotations` are None when the form did not show them: kept as they are."""

    mode: str
    node_ports: list[str] | None  # per port of the Service, "" to let Kubernetes choose
    annotations: list[KeyValueRow] | None
    resource_version: str

    @classmethod
    def of(cls, svc: Mapping[str, Any]) -> "ExternalAccessForm":
        spec = svc.get("spec") or {}
        mode = spec.get("type", "ClusterIP")
        mode = mode if mode in ("NodePort", "LoadBalancer") else "None"
        return cls(mode=mode, node_ports=[str(p.get("nodePort") or "") for p in spec.get("ports") or []],
                   annotations=[KeyValueRow(k, v) for k, v in _annotations(svc).items() if not _HIDDEN_ANNOTATION.match(k)],
                   resource_version=_meta(svc).get("resourceVersion", ""))

    @classmethod
    def from_form(cls, form: Mapping[str, list[str]]) -> "ExternalAccessForm":
        rows: list[KeyValueRow] | None = None
        if form.get("annotations_shown"):
            keys, values = list(form.get("annotation_key", [])), list(form.get("annotation_value", []))
            rows = [r for r in (KeyValueRow(k, values[i] if i < len(values) else "") for i, k in enumerate(keys))
                    if not r.empty]
        node_ports = [v.strip() for v in form.get("node_port", [])] if form.get("node_ports_shown") else None
        return cls(mode=(form.get("mode") or ["None"])[0], node_ports=node_ports, annotations=rows,
                   resource_version=(form.get("resource_version") or [""])[0])

    def fill_from(self, svc: Mapping[str, Any]) -> None:
        """Sections the form did not show take the Service's current values (to show them now)."""
        current = ExternalAccessForm.of(svc)
        if self.node_ports is None:
            self.node_ports = current.node_ports
        if self.annotations is None:
            self.annotations = current.annotations


def apply_external_access(svc: Mapping[str, Any], form: ExternalAccessForm) -> Obj:
    """The Service with the chosen access mode; everything else as it was. None removes node ports."""
    if access_type(svc) != VIRTUAL_IP:
        raise Invalid(_("External access can be set only for Services with a virtual IP address."))
    errors: dict[str, str] = {}
    if form.mode not in ACCESS_MODES:
        errors["mode"] = _("Choose None, NodePort or LoadBalancer.")
        raise Invalid(errors["mode"], errors=errors)
    obj = plain_copy(dict(svc))
    spec = obj.setdefault("spec", {})
    ports = spec.get("ports") or []
    chosen: set[int] = set()
    for i, port in enumerate(ports):
        if form.mode == "None":
            port.pop("nodePort", None)
            continue
        if form.node_ports is None:
            continue  # not shown: as it is
        text = form.node_ports[i] if i < len(form.node_ports) else ""
        if not text:
            port.pop("nodePort", None)
            continue
        try:
            number = int(text)
        except ValueError:
            number = 0
        if not NODE_PORT_MIN <= number <= NODE_PORT_MAX:
            errors[f"spec.ports[{i}].nodePort"] = _("Enter a node port between {low} and {high}, or leave it empty.").format(
                low=NODE_PORT_MIN, high=NODE_PORT_MAX)
        elif number in chosen:
            errors[f"spec.ports[{i}].nodePort"] = _("The port is duplicated.")
        else:
            chosen.add(number)
            port["nodePort"] = number
    if form.mode == "LoadBalancer" and form.annotations is not None:
        annotations = {k: v for k, v in _annotations(svc).items() if _HIDDEN_ANNOTATION.match(k)}
        for i, row in enumerate(form.annotations):
            key = row.key.strip()
            if problem := label_problem(key):
                errors[f"annotations[{i}]"] = problem
            elif _HIDDEN_ANNOTATION.match(key):
                errors[f"annotations[{i}]"] = _("This key is managed by the console.")
            elif key in annotations:
                errors[f"annotations[{i}]"] = _("The key already exists. Please enter another key.")
            else:
                annotations[key] = row.value
        obj.setdefault("metadata", {})["annotations"] = annotations
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    if form.mode == "None":
        spec["type"] = "ClusterIP"
        for key in _LB_ONLY + _NODE_ONLY:
            spec.pop(key, None)
    elif form.mode == "NodePort":
        spec["type"] = "NodePort"
        for key in _LB_ONLY:
            spec.pop(key, None)
    else:
        spec["type"] = "LoadBalancer"
    return obj


async def edit_external_access(kube: KubeGateway, namespace: str, name: str, *, actor: Actor,
                               form: ExternalAccessForm) -> Obj:
    current = await get_service(kube, namespace, name, actor=actor, fresh=True)
    updated = apply_external_access(current, form)
    if _meta(current).get("resourceVersion") != form.resource_version:
        raise EditConflict(current)
    return await _write(kube, namespace, name, kube.replace(updated, namespace=namespace, actor=actor), actor=actor)


# -- Delete with related resources ---------------------------------------------------------------------

@dataclass(frozen=True)
class Related:
    """A resource the Delete dialog offers to delete with the Service."""

    kind: str
    name: str
    uid: str
    created_with: bool = False  # the workload the console created with the Service

    @property
    def value(self) -> str:
        return f"{self.kind}/{self.name}/{self.uid}"

    @property
    def kind_label(self) -> str:
        return str(RELATED_LABELS[self.kind])


RELATED_LABELS = {
    "Deployment": lazy_("Deployment"), "StatefulSet": lazy_("StatefulSet"), "DaemonSet": lazy_("DaemonSet"),
    "Pod": lazy_("Pod"), "PersistentVolumeClaim": lazy_("Persistent Volume Claim"),
}


def created_with(svc: Mapping[str, Any], workload: Mapping[str, Any]) -> bool:
    """`<service>-<version>` labelled app=<service>, version=<version>: what the create wizard makes."""
    name = _meta(svc).get("name", "")
    labels = _labels(workload)
    version = labels.get("version")
    return bool(version) and labels.get("app") == name and _meta(workload).get("name") == f"{name}-{version}"


async def related_resources(kube: KubeGateway, namespace: str, svc: Mapping[str, Any], *,
                            actor: Actor) -> list[Related]:
    """Workloads, pods and PVCs whose labels match the selector, plus the workload created with the
    Service; five calls, in this namespace only."""
    selector = dict(((svc.get("spec") or {}).get("selector")) or {})
    text = selector_string(selector)

    async def nothing() -> list[Obj]:
        return []

    lists = await asyncio.gather(
        *(kube.items(kind, namespace, actor=actor) for kind in WORKLOAD_KINDS),
        kube.items("Pod", namespace, actor=actor, label_selector=text) if selector else nothing(),
        kube.items("PersistentVolumeClaim", namespace, actor=actor, label_selector=text) if selector else nothing(),
    )
    out: list[Related] = []
    seen: set[str] = set()
    for kind, items in zip(RELATED_KINDS, lists):
        for obj in items:
            meta = _meta(obj)
            mine = kind in ("Deployment", "StatefulSet") and created_with(svc, obj)
            if not (mine or matches(selector, _labels(obj))) or meta.get("uid") in seen:
                continue
            seen.add(meta.get("uid", ""))
            out.append(Related(kind=kind, name=meta.get("name", ""), uid=meta.get("uid", ""), created_with=mine))
    order = {k: i for i, k in enumerate(RELATED_KINDS)}
    return sorted(out, key=lambda r: (not r.created_with, order[r.kind], r.name))


def parse_related(values: Iterable[str]) -> list[Related]:
    """The checked boxes, read strictly: a known kind, a valid name and a uid; anything else refused."""
    out: list[Related] = []
    for value in values:
        parts = value.split("/")
        if len(parts) != 3 or parts[0] not in RELATED_KINDS or not DNS1123_SUBDOMAIN.fullmatch(parts[1]) \
                or len(parts[1]) > 253 or not _UID.match(parts[2]):
            raise Invalid(_("The list of resources to delete is not valid. Reload the page and try again."))
        item = Related(kind=parts[0], name=parts[1], uid=parts[2])
        if item not in out:
            out.append(item)
    return out


@dataclass(frozen=True)
class DeleteResult:
    kind: str
    name: str
    ok: bool
    message: str

    @property
    def kind_label(self) -> str:
        return str(RELATED_LABELS.get(self.kind, lazy_("Service")))


async def delete_object(kube: KubeGateway, namespace: str, kind: str, name: str, uid: str, *,
                        actor: Actor) -> DeleteResult:
    """Delete one object of this namespace, on condition it is still the one the user saw (its uid).
    Workloads go with their pods (background propagation)."""
    try:
        await kube.delete(kind, namespace, name, actor=actor, propagation="Background", uid=uid or None)
    except KubeError as e:
        if e.not_found:
            return DeleteResult(kind, name, True, _("Already deleted."))
        if e.conflict:
            return DeleteResult(kind, name, False, _("Not deleted: it was replaced by a new object with the same "
                                                     "name after you opened the dialog."))
        return DeleteResult(kind, name, False, e.message)
    return DeleteResult(kind, name, True, _("Deleted."))
