"""Delete a Service with the resources created with it, and the HTTPRoutes that send traffic to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.errors import Invalid
from app.domain.k8s.names import DNS1123_SUBDOMAIN
from app.domain.services.gateway import related_routes
from app.domain.services.view import (
    _UID,
    RELATED_KINDS,
    WORKLOAD_KINDS,
    labels_of,
    matches,
    meta_of,
    selector_string,
)
from app.i18n import _, lazy_
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.store import template_labels

Obj = dict[str, Any]


# -- Delete with related resources ---------------------------------------------------------------------

@dataclass(frozen=True)
class Related:
    """A resource the Delete dialog offers to delete with the Service."""

    kind: str
    name: str
    uid: str
    created_with: bool = False  # the workload the console created with the Service
    # Workloads: other Services that send traffic to its pods too. HTTPRoutes: the other Services it
    # sends traffic to.
    shared_with: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        return f"{self.kind}/{self.name}/{self.uid}"

    @property
    def kind_label(self) -> str:
        return str(RELATED_LABELS[self.kind])


RELATED_LABELS = {
    "Deployment": lazy_("Deployment"), "StatefulSet": lazy_("StatefulSet"), "DaemonSet": lazy_("DaemonSet"),
    "Pod": lazy_("Pod"), "PersistentVolumeClaim": lazy_("Persistent Volume Claim"),
    "HTTPRoute": lazy_("HTTPRoute"),
}
# What the dialog may delete with a Service (the pages' related kinds, and the routes to it).
DELETABLE_KINDS = (*RELATED_KINDS, "HTTPRoute")


def created_with(svc: Mapping[str, Any], workload: Mapping[str, Any]) -> bool:
    """`<service>-<version>` labelled app=<service>, version=<version>: what the create wizard makes."""
    name = meta_of(svc).get("name", "")
    labels = labels_of(workload)
    version = labels.get("version")
    return bool(version) and labels.get("app") == name and meta_of(workload).get("name") == f"{name}-{version}"


async def related_resources(kube: KubeGateway, namespace: str, svc: Mapping[str, Any], *,
                            actor: Actor) -> list[Related]:
    """What may go with the Service: the workloads its selector picks (by their pods' labels) and the one
    created with it, each naming the other Services that pick its pods too; their claims; and pods no
    controller owns (a controller's pods come back as soon as they are deleted, so they are not offered);
    and the HTTPRoutes that send traffic to it (where the cluster serves the Gateway API).
    Seven calls, in this namespace only, all served by the watch cache."""
    selector = dict(((svc.get("spec") or {}).get("selector")) or {})
    text = selector_string(selector)

    async def nothing() -> list[Obj]:
        return []

    routes_read = asyncio.ensure_future(related_routes(kube, namespace, svc, actor=actor))
    *workloads, pods, claims, services = await asyncio.gather(
        *(kube.items(kind, namespace, actor=actor) for kind in WORKLOAD_KINDS),
        kube.items("Pod", namespace, actor=actor, label_selector=text) if selector else nothing(),
        kube.items("PersistentVolumeClaim", namespace, actor=actor, label_selector=text) if selector else nothing(),
        kube.items("Service", namespace, actor=actor),
    )
    routes = await routes_read
    others = [(meta_of(o).get("name", ""), dict((o.get("spec") or {}).get("selector") or {}))
              for o in services if meta_of(o).get("uid") != meta_of(svc).get("uid")]
    out: list[Related] = []
    seen: set[str] = set()

    def offer(kind: str, obj: Mapping[str, Any], *, mine: bool = False, shared: tuple[str, ...] = ()) -> None:
        meta = meta_of(obj)
        if meta.get("uid") not in seen:
            seen.add(meta.get("uid", ""))
            out.append(Related(kind=kind, name=meta.get("name", ""), uid=meta.get("uid", ""), created_with=mine,
                               shared_with=shared))

    for kind, items in zip(WORKLOAD_KINDS, workloads, strict=True):
        for obj in items:
            pod_labels = template_labels(obj)
            mine = kind in ("Deployment", "StatefulSet") and created_with(svc, obj)
            if mine or matches(selector, pod_labels) or matches(selector, labels_of(obj)):
                offer(kind, obj, mine=mine,
                      shared=tuple(sorted(n for n, sel in others if matches(sel, pod_labels))))
    for obj in pods:
        if matches(selector, labels_of(obj)) and not any(
                ref.get("controller") for ref in meta_of(obj).get("ownerReferences") or []):
            offer("Pod", obj)
    for obj in claims:
        if matches(selector, labels_of(obj)):
            offer("PersistentVolumeClaim", obj)
    for route in routes:
        out.append(Related(kind="HTTPRoute", name=route.name, uid=route.uid, shared_with=route.others))
    order = {k: i for i, k in enumerate(DELETABLE_KINDS)}
    return sorted(out, key=lambda r: (not r.created_with, order[r.kind], r.name))



def parse_related(values: Iterable[str]) -> list[Related]:
    """The checked boxes, read strictly: a known kind, a valid name and a uid; anything else refused."""
    out: list[Related] = []
    for value in values:
        parts = value.split("/")
        if len(parts) != 3 or parts[0] not in DELETABLE_KINDS or not DNS1123_SUBDOMAIN.fullmatch(parts[1]) \
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
