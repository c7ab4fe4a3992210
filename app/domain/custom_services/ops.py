"""Form operations that make no request: add or remove rows, pick a workload, follow a protocol or a provider."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.custom_services.steps import MAX_ROWS, PORT_NAME_MAX
from app.domain.custom_services.workloads import WorkloadInfo, WorkloadPort
from app.domain.k8s.names import DNS1035_LABEL
from app.domain.manifests import (
    LABEL_APP,
    LB_PROVIDERS,
    PROTOCOLS,
    default_port_name,
    detect_provider,
    follow_protocol,
    lb_provider,
    protocol_of_name,
)
from app.domain.service_rules import (
    PortRow,
)

# ---------------------------------------------------------------------------------------------------
# Form operations (add/remove rows, pick a workload, switch protocol or provider): pure on nested values


def _row_list(values: dict[str, Any], key: str) -> list[Any]:
    rows = values.get(key)
    rows = list(rows) if isinstance(rows, list) else []
    values[key] = rows
    return rows


def new_row(key: str, index: int) -> dict[str, Any]:
    if key == "ports":
        return {"protocol": "HTTP", "name": default_port_name("HTTP", index), "container_port": "", "service_port": ""}
    return {"key": "", "value": ""}


ROW_LISTS = frozenset({"selector", "ports", "service_annotations", "labels"})


def apply_op(values: Mapping[str, Any], op: str, *, picked: WorkloadInfo | None = None) -> dict[str, Any]:
    """The form values after a row operation: `add:<list>`, `remove:<list>:<i>`, `pick:<kind>:<name>`
    (with `picked`, the workload fetched by the caller), `protocol:<i>` (the port's protocol changed:
    its name follows when it still has another protocol's prefix), `provider` (the load balancer provider
    changed: its keys with their default values are added). Unknown operations change nothing."""
    out = dict(values)
    kind, _sep, arg = op.partition(":")
    if kind == "add" and arg in ROW_LISTS:
        rows = _row_list(out, arg)
        if len(rows) < MAX_ROWS:
            rows.append(new_row(arg, len(rows)))
    elif kind == "remove":
        key, _sep, index = arg.partition(":")
        if key in ROW_LISTS and index.isdigit():
            rows = _row_list(out, key)
            if int(index) < len(rows):
                del rows[int(index)]
    elif kind == "pick" and picked is not None:
        out["selector"] = [{"key": k, "value": v} for k, v in picked.pod_labels.items()]
        if picked.ports and all(_blank_port(r) for r in _row_list(out, "ports")):
            out["ports"] = [_port_row(p, i) for i, p in enumerate(picked.ports[:MAX_ROWS])]
    elif kind == "protocol" and arg.isdigit():
        rows = _row_list(out, "ports")
        if int(arg) < len(rows) and isinstance(rows[int(arg)], dict):
            rows[int(arg)] = _follow_protocol(dict(rows[int(arg)]), int(arg))
    elif kind == "provider":
        out["service_annotations"] = _provider_rows(out)
    return out


def _blank_port(row: Any) -> bool:
    """A port row nobody has filled in yet (what Add gives): picking a workload may replace it."""
    return not isinstance(row, dict) or not (str(row.get("container_port") or "").strip()
                                             or str(row.get("service_port") or "").strip())


def _port_row(port: WorkloadPort, index: int) -> dict[str, Any]:
    """A port row for a port the picked workload's containers declare: its name when it has a valid one
    (the protocol it announces, else TCP or UDP), the same number on the Service."""
    named = protocol_of_name(port.name) if port.name else None
    protocol = "UDP" if port.protocol == "UDP" else named or "TCP"
    name = port.name if port.name and DNS1035_LABEL.fullmatch(port.name) and len(port.name) <= PORT_NAME_MAX \
        else default_port_name(protocol, index)
    return {"protocol": protocol, "name": name, "container_port": str(port.container_port),
            "service_port": str(port.container_port)}


def _follow_protocol(row: dict[str, Any], index: int) -> dict[str, Any]:
    protocol = str(row.get("protocol")) if row.get("protocol") in PROTOCOLS else "HTTP"
    name = str(row.get("name") or "").strip()
    row["name"] = follow_protocol(name, protocol) if name else default_port_name(protocol, index)
    return row


def _provider_rows(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Annotation rows after the provider changed: other providers' keys left empty or at their default
    are dropped, the new provider's keys with default values are added where missing."""
    chosen = str(values.get("lb_provider") or "")
    rows = [r for r in (values.get("service_annotations") or []) if isinstance(r, dict)]
    defaults: dict[str, str] = {}
    for provider in LB_PROVIDERS:
        if provider.id != chosen:
            for key in provider.keys:
                defaults[key] = provider.defaults.get(key, "")
    kept = [
        r
        for r in rows
        if not (str(r.get("key") or "") in defaults and str(r.get("value") or "") == defaults[str(r.get("key"))])
        and (r.get("key") or r.get("value"))
    ]
    if chosen in {p.id for p in LB_PROVIDERS}:
        present = {str(r.get("key") or "") for r in kept}
        for key, value in lb_provider(chosen).defaults.items():
            if key not in present:
                kept.append({"key": key, "value": value})
    return kept


def provider_keys(provider_id: str) -> tuple[str, ...]:
    """The annotation keys to suggest: the chosen provider's, or every provider's when none is chosen."""
    if provider_id in {p.id for p in LB_PROVIDERS}:
        return lb_provider(provider_id).keys
    return tuple(k for p in LB_PROVIDERS for k in p.keys)


def guess_provider(values: Mapping[str, Any]) -> str:
    keys = [str(r.get("key") or "") for r in (values.get("service_annotations") or []) if isinstance(r, dict)]
    return detect_provider(keys) or ""


def advanced_defaults(values: Mapping[str, Any], name: str, ports: Sequence[PortRow]) -> dict[str, Any]:
    """Values for Advanced Settings the first time it is shown: the label `app: <name>`."""
    out = dict(values)
    if not out.get("labels"):
        out["labels"] = [{"key": LABEL_APP, "value": name}]
    return align_node_ports(out, ports)


def align_node_ports(values: Mapping[str, Any], ports: Sequence[PortRow]) -> dict[str, Any]:
    """One node-port row per Service port, in the ports' order, keeping values by port name."""
    out = dict(values)
    old = {
        str(r.get("name") or ""): r.get("node_port", "")
        for r in (values.get("node_ports") or [])
        if isinstance(r, dict)
    }
    out["node_ports"] = [{"name": p.name, "node_port": old.get(p.name, "") or ""} for p in ports]
    return out


def settings_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for Service Settings the first time it is shown: one empty selector row and one port."""
    out = dict(values)
    if not out.get("selector"):
        out["selector"] = [new_row("selector", 0)]
    if not out.get("ports"):
        out["ports"] = [new_row("ports", 0)]
    return out


def follow_name(values: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """After the name changed from `old` to `new`: the label `app: <old>` becomes `app: <new>`."""
    out = dict(values)
    if old and old != new and isinstance(out.get("labels"), list):
        out["labels"] = [
            {**r, "value": new} if isinstance(r, dict) and r.get("key") == LABEL_APP and r.get("value") == old else r
            for r in out["labels"]
        ]
    return out
