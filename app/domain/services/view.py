"""What a Service is, as every page of them shows it: its kind, how it is reached, its row and attributes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from app.domain.manifests import (
    ANNOTATION_ALIAS,
    ANNOTATION_CREATOR,
    ANNOTATION_DESCRIPTION,
    ANNOTATION_SERVICE_TYPE,
)
from app.i18n import _, lazy_
from app.kube.errors import KubeError

Obj = dict[str, Any]


T = TypeVar("T")

# -- annotations and labels written by the console (kubesphere.md §2.6) ------------------------------
# One home each: app.domain.manifests, under the names the Services pages use.
ALIAS, DESCRIPTION = ANNOTATION_ALIAS, ANNOTATION_DESCRIPTION
CREATOR, SERVICE_TYPE = ANNOTATION_CREATOR, ANNOTATION_SERVICE_TYPE
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
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767
PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 20
MAX_EVENTS = 100
LOG_TAILS = (100, 500, 1000, 5000)

_UID = re.compile(r"^[0-9a-fA-F-]{1,64}$")


# -- small helpers -------------------------------------------------------------------------------------

def meta_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta_of(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta_of(obj).get("annotations") or {})


def selector_string(selector: Mapping[str, str]) -> str:
    """`k=v,k2=v2`, the labelSelector syntax (and how the original shows a selector)."""
    return ",".join(f"{k}={v}" for k, v in selector.items())


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selector (equality only) matches labels; an empty selector matches nothing."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# A page waits this long for its side reads (metrics, events, workloads); a late one is a message on
# its section, so a slow metrics pipeline or a huge event list never stalls the page itself.
SIDE_READ_SECONDS = 1.0


async def soft_read(call: Awaitable[T], problems: dict[str, str], key: str, default: T) -> T:
    """A secondary read: a failure, or no answer within SIDE_READ_SECONDS, becomes a message on its
    section instead of failing (or stalling) the page. A late read is left to finish (within the
    gateway's own timeout): what it brings is kept for the next look (pod metrics are kept briefly)."""
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.wait_for(asyncio.shield(task), SIDE_READ_SECONDS)
    except KubeError as e:
        problems[key] = e.message
        return default
    except TimeoutError:
        task.add_done_callback(_retrieved)
        problems[key] = _("Not available right now: the cluster did not answer in time.")
        return default
    except asyncio.CancelledError:  # the page itself went away: so does its read
        task.cancel()
        raise


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a late read's failure concerns no page any more


# -- what a Service is ---------------------------------------------------------------------------------

def service_kind(svc: Mapping[str, Any]) -> str:
    """The flavour it was created as, from the annotation; Custom when absent or unknown."""
    value = annotations_of(svc).get(SERVICE_TYPE, "")
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
    labels = labels_of(obj)
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
    def of(cls, svc: Mapping[str, Any]) -> ServiceView:
        meta, spec, annotations = meta_of(svc), svc.get("spec") or {}, annotations_of(svc)
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
            ports=ports, labels=labels_of(svc), annotations=annotations,
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
