"""Edit Service: a Service's selector and ports (its address for an ExternalName)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.errors import Invalid
from app.domain.forms import Errors
from app.domain.k8s import service_traffic
from app.domain.k8s.names import DNS1123_LABEL, DNS1123_SUBDOMAIN, IANA_SVC_NAME, label_problem
from app.domain.k8s.service_traffic import TrafficFields
from app.domain.manifests import (
    PROTOCOLS,
    STICKY_TIMEOUT_DEFAULT,
    follow_protocol,
    k8s_protocol,
    plain_copy,
    protocol_of_port,
)
from app.domain.service_rules import check_sticky_session, external_name_target_problem
from app.domain.services.detail import get_service
from app.domain.services.edits import EditConflict, write_checked
from app.domain.services.view import EXTERNAL_NAME, HEADLESS, VIRTUAL_IP, access_type, meta_of
from app.i18n import _
from app.kube.client import Actor, KubeGateway

Obj = dict[str, Any]


# -- Edit Service (selector and ports; the address for ExternalName) -----------------------------------

# SCTP is no choice of the forms (as in the original), but a port that has it keeps it.
SCTP = "SCTP"


def port_protocol_choices(current: str) -> tuple[str, ...]:
    """The protocols a port row offers: the wizards' nine, and SCTP for a port that already has it."""
    return (*PROTOCOLS, SCTP) if current == SCTP else PROTOCOLS


@dataclass
class PortRow:
    """One port as the forms show it: `protocol` is the wizards' choice (HTTP, GRPC, ..., TCP, UDP),
    told on the Service by the port name's prefix; Kubernetes gets UDP for UDP, TCP for the rest."""

    name: str = ""
    protocol: str = "HTTP"
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


def offered_traffic_fields(svc: Mapping[str, Any], schema_fields: frozenset[str]) -> frozenset[str]:
    """The traffic fields (spec keys) Edit Service shows for `svc` on a cluster whose ServiceSpec has
    `schema_fields`: those its type can carry (app/domain/k8s/service_traffic.py)."""
    access = access_type(svc)
    if access not in (VIRTUAL_IP, HEADLESS):
        return frozenset()
    return service_traffic.offered(schema_fields, headless=access == HEADLESS,
                                   service_type=str((svc.get("spec") or {}).get("type") or "ClusterIP"))


@dataclass
class ServiceSettingsForm:
    access: str
    selector: list[KeyValueRow]
    ports: list[PortRow]
    external_name: str
    resource_version: str
    traffic: TrafficFields = field(default_factory=TrafficFields)
    offered: frozenset[str] = frozenset()  # the traffic fields shown (spec keys), the only ones a save writes
    posted: frozenset[str] | None = None  # the traffic fields the form sent (None: all)
    sticky_session: bool | None = None  # None: not in the posted form, so left as the object has it
    sticky_timeout: str = ""

    @classmethod
    def of(cls, svc: Mapping[str, Any], *, offered: frozenset[str] = frozenset()) -> ServiceSettingsForm:
        spec = svc.get("spec") or {}
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        return cls(traffic=TrafficFields.model_construct(**TrafficFields.values_of(spec)), offered=offered,
            sticky_session=spec.get("sessionAffinity") == "ClientIP",
            sticky_timeout=str(timeout or STICKY_TIMEOUT_DEFAULT),
            access=access_type(svc),
            selector=[KeyValueRow(k, v) for k, v in (spec.get("selector") or {}).items()],
            ports=[PortRow(name=p.get("name", ""), protocol=_form_protocol(p),
                           target_port=str(p.get("targetPort", "")), port=str(p.get("port", "")))
                   for p in spec.get("ports") or []],
            external_name=spec.get("externalName", ""),
            resource_version=meta_of(svc).get("resourceVersion", ""),
        )

    @classmethod
    def from_form(cls, form: Mapping[str, list[str]], *, access: str,
                  offered: frozenset[str] = frozenset()) -> ServiceSettingsForm:
        def col(name: str) -> list[str]:
            return list(form.get(name, []))

        keys, values = col("selector_key"), col("selector_value")
        selector = [KeyValueRow(k, values[i] if i < len(values) else "") for i, k in enumerate(keys)]
        names, protocols, targets, ports = col("port_name"), col("port_protocol"), col("port_target"), col("port_port")
        rows = [PortRow(name=names[i] if i < len(names) else "", protocol=protocols[i] if i < len(protocols) else "HTTP",
                        target_port=targets[i] if i < len(targets) else "", port=p) for i, p in enumerate(ports)]
        def one(name: str) -> str:
            return (col(name) or [""])[0].strip()

        posted = frozenset(name for name in service_traffic.FIELDS if name in form or (
            name == "publish_not_ready_addresses" and "publish_not_ready_addresses_shown" in form))
        traffic_values: dict[str, Any] = {
            name: (one(name) in ("1", "on", "true")) if name == "publish_not_ready_addresses" else one(name)
            for name in posted}
        traffic = TrafficFields.model_construct(**traffic_values)
        sticky = (one("sticky_session") in ("1", "on", "true")) if "sticky_session_shown" in form else None
        return cls(access=access, selector=[r for r in selector if not r.empty], ports=[r for r in rows if not r.empty],
                   external_name=one("external_name"), resource_version=(col("resource_version") or [""])[0],
                   traffic=traffic, offered=offered, posted=posted, sticky_session=sticky,
                   sticky_timeout=one("sticky_timeout"))


def _form_protocol(port: Mapping[str, Any]) -> str:
    k8s = port.get("protocol") or "TCP"
    return SCTP if k8s == SCTP else protocol_of_port(str(port.get("name") or ""), k8s)


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
        choice = row.protocol.strip().upper() or "HTTP"
        name = row.name.strip()
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
        if choice not in port_protocol_choices(SCTP):
            errors[f"{where}.protocol"] = _("Please select a protocol.")
        else:
            name = follow_protocol(name, choice)
        protocol = SCTP if choice == SCTP else k8s_protocol(choice)
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
    obj: Obj = plain_copy(dict(svc))
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
    _apply_traffic(spec, form, errors)
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


def _apply_traffic(spec: dict[str, Any], form: ServiceSettingsForm, errors: dict[str, str]) -> None:
    """The offered traffic fields and the sticky session from the form; the others as they were."""
    shown = {name for name, key in service_traffic.FIELDS.items() if key in form.offered}
    only = shown if form.posted is None else shown & form.posted
    found = Errors()
    form.traffic.check_traffic(found, spec, only=only)
    if form.sticky_session is not None:
        timeout = int(form.sticky_timeout) if form.sticky_timeout.strip().isdigit() else None
        if form.sticky_session and timeout is None:
            found.add("sticky_timeout", _("Please enter a duration in seconds."))
        else:
            check_sticky_session(found, form.sticky_session, timeout)
        if not found and form.sticky_session:
            spec["sessionAffinity"] = "ClientIP"
            spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})["timeoutSeconds"] = timeout
        elif not found:
            spec["sessionAffinity"] = "None"
            spec.pop("sessionAffinityConfig", None)
    for name, message in found.items():
        key = service_traffic.FIELDS.get(name)
        errors[f"spec.{key}" if key else name] = message
    if not found:
        headless = spec.get("clusterIP") == "None"
        form.traffic.apply_traffic(spec, service_type=str(spec.get("type") or "ClusterIP"), headless=headless,
                                   only=only)


async def edit_service(kube: KubeGateway, namespace: str, name: str, *, actor: Actor,
                       form: ServiceSettingsForm) -> Obj:
    """Replace selector and ports (or the address), on condition the Service is the version loaded."""
    current = await get_service(kube, namespace, name, actor=actor, fresh=True)
    if access_type(current) != form.access:
        raise EditConflict(current)
    updated = apply_service_settings(current, form)
    if meta_of(current).get("resourceVersion") != form.resource_version:
        raise EditConflict(current)
    return await write_checked(kube, namespace, name, kube.replace(updated, namespace=namespace, actor=actor), actor=actor)
