"""Edit External Access of a Virtual IP Service: None, NodePort, LoadBalancer, or through a Gateway (an
HTTPRoute the console writes next to the Service, see `app.domain.services.gateway`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.errors import Invalid
from app.domain.k8s.names import label_problem
from app.domain.manifests import plain_copy
from app.domain.services import gateway
from app.domain.services.detail import get_service
from app.domain.services.edits import EditConflict, write_checked
from app.domain.services.settings import KeyValueRow
from app.domain.services.view import (
    NODE_PORT_MAX,
    NODE_PORT_MIN,
    VIRTUAL_IP,
    access_type,
    annotations_of,
    meta_of,
)
from app.i18n import _, lazy_
from app.kube.client import Actor, KubeGateway

Obj = dict[str, Any]


# -- Edit External Access (Virtual IP Services) --------------------------------------------------------

GATEWAY = "Gateway"
ACCESS_MODES = ("None", "NodePort", "LoadBalancer", GATEWAY)
MODE_LABELS = {"None": lazy_("None"), "NodePort": lazy_("NodePort"), "LoadBalancer": lazy_("LoadBalancer"),
               GATEWAY: lazy_("Expose through a Gateway")}
MODE_HELP = {
    "None": lazy_("Internet access is not supported. The service can be accessed only within the cluster."),
    "NodePort": lazy_("Use a port of the cluster nodes to access the service."),
    "LoadBalancer": lazy_("Use a load balancer to access the service."),
    GATEWAY: lazy_("Route HTTP requests for your hostnames and path to the service through a Gateway the platform "
                   "offers to the workspace (an HTTPRoute; the Service itself stays internal)."),
}
# Kept as they are and not shown in the annotation rows (the original hides the same keys).
_HIDDEN_ANNOTATION = re.compile(r"^(kubesphere\.io/|openpitrix_runtime$|kubectl\.kubernetes\.io/)")
# Fields only valid with a load balancer, or with node ports; removed when leaving those types.
_LB_ONLY = ("loadBalancerIP", "loadBalancerSourceRanges", "healthCheckNodePort", "allocateLoadBalancerNodePorts",
            "loadBalancerClass")
_NODE_ONLY = ("externalTrafficPolicy",)


@dataclass
class ExternalAccessForm:
    """`node_ports`, `annotations` and `route` are None when the form did not show them: kept as they are."""

    mode: str
    node_ports: list[str] | None  # per port of the Service, "" to let Kubernetes choose
    annotations: list[KeyValueRow] | None
    resource_version: str
    route: gateway.RouteForm | None = None  # the Gateway mode's fields

    @classmethod
    def of(cls, svc: Mapping[str, Any], route: Mapping[str, Any] | None = None) -> ExternalAccessForm:
        """The form for the Service as it is; `route` is the console's HTTPRoute for it, if any (a
        ClusterIP Service with one is exposed through a Gateway)."""
        spec = svc.get("spec") or {}
        mode = spec.get("type", "ClusterIP")
        mode = mode if mode in ("NodePort", "LoadBalancer") else (GATEWAY if route else "None")
        return cls(mode=mode, node_ports=[str(p.get("nodePort") or "") for p in spec.get("ports") or []],
                   annotations=[KeyValueRow(k, v) for k, v in annotations_of(svc).items() if not _HIDDEN_ANNOTATION.match(k)],
                   resource_version=meta_of(svc).get("resourceVersion", ""),
                   route=gateway.RouteForm.of(route, service_ports(svc)))

    @classmethod
    def from_form(cls, form: Mapping[str, list[str]]) -> ExternalAccessForm:
        rows: list[KeyValueRow] | None = None
        if form.get("annotations_shown"):
            keys, values = list(form.get("annotation_key", [])), list(form.get("annotation_value", []))
            rows = [r for r in (KeyValueRow(k, values[i] if i < len(values) else "") for i, k in enumerate(keys))
                    if not r.empty]
        node_ports = [v.strip() for v in form.get("node_port", [])] if form.get("node_ports_shown") else None
        route = gateway.RouteForm.from_form(form) if form.get("gateway_shown") else None
        return cls(mode=(form.get("mode") or ["None"])[0], node_ports=node_ports, annotations=rows,
                   resource_version=(form.get("resource_version") or [""])[0], route=route)

    def fill_from(self, svc: Mapping[str, Any], route: Mapping[str, Any] | None = None) -> None:
        """Sections the form did not show take the Service's (and its route's) current values."""
        current = ExternalAccessForm.of(svc, route)
        if self.node_ports is None:
            self.node_ports = current.node_ports
        if self.annotations is None:
            self.annotations = current.annotations
        if self.route is None:
            self.route = current.route


def service_ports(svc: Mapping[str, Any]) -> list[int]:
    """The Service's port numbers, in order (what a route may send traffic to)."""
    return [int(p["port"]) for p in (svc.get("spec") or {}).get("ports") or [] if isinstance(p.get("port"), int)]


def apply_external_access(svc: Mapping[str, Any], form: ExternalAccessForm) -> Obj:
    """The Service with the chosen access mode; everything else as it was. None removes node ports."""
    if access_type(svc) != VIRTUAL_IP:
        raise Invalid(_("External access can be set only for Services with a virtual IP address."))
    errors: dict[str, str] = {}
    if form.mode not in ACCESS_MODES:
        errors["mode"] = _("Choose None, NodePort, LoadBalancer or Gateway.")
        raise Invalid(errors["mode"], errors=errors)
    obj: Obj = plain_copy(dict(svc))
    spec = obj.setdefault("spec", {})
    ports = spec.get("ports") or []
    chosen: set[int] = set()
    for i, port in enumerate(ports):
        if form.mode in ("None", GATEWAY):
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
        annotations = {k: v for k, v in annotations_of(svc).items() if _HIDDEN_ANNOTATION.match(k)}
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
    if form.mode in ("None", GATEWAY):  # through a Gateway, the Service itself stays internal
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
                               form: ExternalAccessForm, workspace: str = "") -> Obj:
    """Replace the Service with the chosen mode (the loaded version as precondition). Gateway: its
    HTTPRoute is checked and dry-run first, then written after the Service; any other mode removes the
    console's route. Every problem of both is raised at once, on its field."""
    current = await get_service(kube, namespace, name, actor=actor, fresh=True)
    errors: dict[str, str] = {}
    updated: Obj | None = None
    try:
        updated = apply_external_access(current, form)
    except Invalid as e:
        if not e.errors or form.mode not in ACCESS_MODES:
            raise
        errors.update(e.errors)
    planned: gateway.PlannedRoute | None = None
    if form.mode == GATEWAY:
        try:
            planned = await gateway.plan_route(kube, namespace, name, form.route or gateway.RouteForm(), actor=actor,
                                               workspace=workspace, ports=service_ports(current))
        except Invalid as e:
            errors.update(e.errors or {"_": e.message})
    if errors or updated is None:
        raise Invalid(next(iter(errors.values()), ""), errors=errors)
    if meta_of(current).get("resourceVersion") != form.resource_version:
        raise EditConflict(current)
    written = await write_checked(kube, namespace, name, kube.replace(updated, namespace=namespace, actor=actor),
                                  actor=actor)
    if planned is not None:
        await gateway.write_route(kube, namespace, planned, actor=actor)
    else:
        await gateway.remove_route(kube, namespace, name, actor=actor)
    return written
