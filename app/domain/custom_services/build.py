"""The Service each flow creates, built from its validated steps, and the name check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.domain.custom_services.steps import (
    EXTERNAL_SERVICE_TYPE,
    AdvancedSettings,
    BasicInfo,
    ExternalAddress,
    ServiceSettings,
)
from app.domain.manifests import (
    ANNOTATION_ALIAS,
    ANNOTATION_DESCRIPTION,
    ANNOTATION_SERVICE_TYPE,
    LABEL_APP,
    k8s_protocol,
    stamp,
)
from app.domain.service_rules import (
    row_dict,
)
from app.i18n import _

# ---------------------------------------------------------------------------------------------------
# Building the Service


def _basic_metadata(basic: BasicInfo, labels: Mapping[str, str]) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if basic.alias:
        annotations[ANNOTATION_ALIAS] = basic.alias
    if basic.description:
        annotations[ANNOTATION_DESCRIPTION] = basic.description
    return {"name": basic.name, "labels": dict(labels), "annotations": annotations}


def external_service(basic: BasicInfo, address: ExternalAddress, *, namespace: str, creator: str) -> dict[str, Any]:
    """The ExternalName Service of kubesphere.md §2.3."""
    meta = _basic_metadata(basic, {LABEL_APP: basic.name})
    meta["annotations"] = {ANNOTATION_SERVICE_TYPE: EXTERNAL_SERVICE_TYPE, **meta["annotations"]}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"type": "ExternalName", "externalName": address.external_name},
    }
    return stamp(service, namespace=namespace, creator=creator)


def workloads_service(
    basic: BasicInfo, settings: ServiceSettings, advanced: AdvancedSettings, *, namespace: str, creator: str
) -> dict[str, Any]:
    """The Service of kubesphere.md §2.4 (without the empty alias), headless when asked."""
    meta = _basic_metadata(basic, row_dict(advanced.labels))
    exposed = advanced.access != "none" and not settings.headless
    if exposed and advanced.access == "LoadBalancer":
        meta["annotations"].update(row_dict(advanced.service_annotations))
    node_ports = {r.name: r.node_port for r in advanced.node_ports if r.node_port is not None}
    ports: list[dict[str, Any]] = []
    for p in settings.filled_ports():
        port: dict[str, Any] = {
            "name": p.name,
            "protocol": k8s_protocol(p.protocol),
            "targetPort": p.container_port,
            "port": p.service_port,
        }
        if exposed and p.name in node_ports:
            port["nodePort"] = node_ports[p.name]
        ports.append(port)
    spec: dict[str, Any] = {}
    if exposed:
        spec["type"] = advanced.access
    if settings.headless:
        spec["clusterIP"] = "None"
    if advanced.sticky_session:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": advanced.sticky_timeout}}
    else:
        spec["sessionAffinity"] = "None"
    spec["selector"] = settings.selector_dict()
    if ports:
        spec["ports"] = ports
    advanced.apply_traffic(spec, service_type=str(spec.get("type") or "ClusterIP"), headless=settings.headless)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    if not meta["annotations"]:
        del meta["annotations"]
    return stamp(service, namespace=namespace, creator=creator)


# ---------------------------------------------------------------------------------------------------
# Name availability (needs the cluster: the caller passes `exists`)


async def check_name_available(name: str, *, exists: Callable[[str], Awaitable[bool]]) -> str | None:
    """The message if a Service of this (valid) name already exists in the project, else None."""
    if await exists(name):
        return _("The name already exists. Please enter another name.")
    return None
