"""Form rows and rules shared by the forms that make a Service: the Stateless/Stateful wizard
(`app.domain.wizard`) and External Service / Specify Workloads (`app.domain.custom_services`). Pure.

Only what both forms do alike lives here. Where they differ on purpose, the difference is a parameter:
the message for a headless Service that asks for internet access (each form says how to get there
from where the user is), and the length limit of annotation values (Specify Workloads only).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Self

from app.domain.forms import Errors, OptInt, Row, Text
from app.domain.k8s.names import is_label_key, is_label_value
from app.domain.manifests import (
    DEFAULT_PROTOCOL,
    NODE_PORT_MAX,
    NODE_PORT_MIN,
    STICKY_TIMEOUT_MAX,
    default_port_name,
    is_preserved_annotation,
)
from app.i18n import _, lazy_

__all__ = [
    "LABEL_RULE",
    "KeyValueRow",
    "NodePortRow",
    "PortRow",
    "check_exposure",
    "check_pairs",
    "check_sticky_session",
    "external_name_target_problem",
    "service_abuse",
    "parse_cause",
    "row_dict",
]


# ---------------------------------------------------------------------------------------------------
# Rows


class PortRow(Row):
    """A port: the container's (target) port and, optionally, the Service port that forwards to it."""

    protocol: Literal["GRPC", "HTTP", "HTTP2", "HTTPS", "MONGO", "REDIS", "TCP", "TLS", "UDP"] = "HTTP"
    name: Text = ""
    container_port: OptInt = None
    service_port: OptInt = None

    @classmethod
    def new(cls, protocol: str = DEFAULT_PROTOCOL, index: int = 0) -> Self:
        return cls(protocol=protocol, name=default_port_name(protocol, index))  # type: ignore[arg-type]

    def is_blank(self) -> bool:
        return not self.name and self.container_port is None and self.service_port is None


class KeyValueRow(Row):
    """A label, selector or annotation row. The value is kept as written (the wizard reads it back from
    manifests unchanged); `custom_services.KeyValueRow` strips it."""

    key: Text = ""
    value: str = ""

    def is_blank(self) -> bool:
        return not self.key and not self.value


class NodePortRow(Row):
    """The node port of one Service port, by the port's name."""

    name: Text = ""
    node_port: OptInt = None


def row_dict(rows: Iterable[KeyValueRow]) -> dict[str, str]:
    """The filled rows as a mapping (blank rows dropped)."""
    return {r.key: r.value for r in rows if not r.is_blank()}


# ---------------------------------------------------------------------------------------------------
# Rules

LABEL_RULE = lazy_(
    "The key and value of a label can contain only letters, numbers, hyphens (-), underscores (_), and "
    "dots (.), and must start and end with a letter or number. The maximum length of each key and each "
    "value is 63 characters (if the key contains a domain name, the maximum length is 253 characters)."
)
_ANNOTATION_KEY_RULE = lazy_(
    "The key can contain only letters, numbers, hyphens (-), underscores (_), and dots (.), may start "
    "with a domain name and a slash (/), and must start and end with a letter or number."
)


def check_pairs(
    e: Errors,
    field_name: str,
    rows: Sequence[KeyValueRow],
    *,
    labels: bool,
    annotation_value_max: int | None = None,
) -> None:
    """Label (or annotation) rows: keys valid and unique, label values valid, annotation values at most
    `annotation_value_max` characters when given. Blank rows are skipped."""
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row.is_blank():
            continue
        q = f"{field_name}.{i}"
        if not row.key:
            e.add(f"{q}.key", _("Please set a key."))
        elif not is_label_key(row.key):
            e.add(f"{q}.key", LABEL_RULE if labels else _ANNOTATION_KEY_RULE)
        elif not labels and is_preserved_annotation(row.key):
            e.add(f"{q}.key", _("Annotations starting with kubesphere.io/ are managed by the console."))
        elif row.key in seen:
            e.add(f"{q}.key", _("The key already exists. Please enter another key."))
        seen.add(row.key)
        if labels and not is_label_value(row.value):
            e.add(f"{q}.value", LABEL_RULE)
        elif not labels and annotation_value_max is not None and len(row.value) > annotation_value_max:
            e.add(f"{q}.value", _("The value is too long."))


def check_exposure(
    e: Errors, access: str, node_ports: Sequence[NodePortRow], *, headless: bool, headless_message: str
) -> None:
    """Internet Access (`access`: none, NodePort or LoadBalancer): a headless Service cannot be exposed
    (`headless_message` says what to do instead); node ports set are in range and distinct."""
    if access != "none" and headless:
        e.add("access", headless_message)
    if access != "none":
        seen: set[int] = set()
        for i, row in enumerate(node_ports):
            if row.node_port is None:
                continue
            if not NODE_PORT_MIN <= row.node_port <= NODE_PORT_MAX:
                e.add(
                    f"node_ports.{i}.node_port",
                    _("The node port must be between {min} and {max}.").format(
                        min=NODE_PORT_MIN, max=NODE_PORT_MAX
                    ),
                )
            elif row.node_port in seen:
                e.add(f"node_ports.{i}.node_port", _("Another port already uses this node port."))
            seen.add(row.node_port)


def check_sticky_session(e: Errors, sticky_session: bool, sticky_timeout: int | None) -> None:
    """Sticky Session's duration: set, and 1 to STICKY_TIMEOUT_MAX seconds (the API server refuses 0)."""
    if sticky_session:
        if sticky_timeout is None:
            e.add("sticky_timeout", _("This parameter is required."))
        elif not 1 <= sticky_timeout <= STICKY_TIMEOUT_MAX:
            e.add("sticky_timeout", _("The value range is 1 to 86400 and the default value is 10800."))


# ---------------------------------------------------------------------------------------------------
# Server causes

_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def parse_cause(cause: str) -> list[str | int]:
    """An API server cause's field path as parts: `spec.ports[0].port` -> ["spec", "ports", 0, "port"]."""
    parts: list[str | int] = []
    for plain, bracket in _SEGMENT.findall(cause):
        value = plain or bracket
        parts.append(int(value) if value.isdigit() else value)
    return parts


# ---------------------------------------------------------------------------------------------------
# Services a tenant may not make: they would reach or intercept what is outside the project.

# Names that resolve inside the cluster: `<svc>.<ns>.svc[...]`, `*.cluster.local`, `kubernetes.default...`.
_INTERNAL_NAMES = frozenset({"kubernetes", "kubernetes.default", "kubernetes.default.svc"})
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def external_name_target_problem(value: str) -> str | None:
    """Why an ExternalName Service may not point at `value` (a tenant's alias for another project's
    Service, the API server, the node itself or the cloud's metadata address), or None."""
    host = value.strip().lower().rstrip(".").strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        kind = _("a link-local address") if address.is_link_local else _("an IP address")
        return _("An External Service cannot point at {what} ({host}): enter the domain name of a service "
                 "outside the cluster.").format(what=kind, host=host)
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return _("An External Service cannot point at {host}: it is this machine, not an external service."
                 ).format(host=host)
    labels = host.split(".")
    if (host in _INTERNAL_NAMES or host.startswith("kubernetes.default.") or "svc" in labels[1:]
            or host == "cluster.local" or host.endswith(".cluster.local")):
        return _("An External Service cannot point at {host}: it is a name inside the cluster. To reach a "
                 "Service of this project, use its name directly.").format(host=host)
    return None


def service_abuse(
    obj: dict[str, Any], *, external_ips_allowed: bool = False
) -> list[tuple[tuple[str, ...], str]]:
    """(field path, reason) for each part of a Service a project member may not set. External IPs only
    where a platform admin allowed them for the project."""
    spec = s if isinstance(s := obj.get("spec"), dict) else {}
    found: list[tuple[tuple[str, ...], str]] = []
    if spec.get("externalIPs") and not external_ips_allowed:
        found.append((("spec", "externalIPs"), _(
            "spec.externalIPs cannot be set in this project: a Service with external IPs can take the traffic "
            "of any address in the cluster (CVE-2020-8554). Use a NodePort or LoadBalancer Service instead, or "
            "ask a platform administrator to allow external IPs for the project.")))
    if spec.get("type") == "ExternalName" and isinstance(spec.get("externalName"), str):
        problem = external_name_target_problem(spec["externalName"])
        if problem:
            found.append((("spec", "externalName"), problem))
    return found
