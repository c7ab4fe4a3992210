"""The API server's refusals mapped back to the form field they concern."""

from __future__ import annotations

from app.domain.k8s import service_traffic
from app.domain.manifests import (
    ANNOTATION_ALIAS,
    ANNOTATION_DESCRIPTION,
    HOST_TIME_VOLUME,
    dig,
)
from app.domain.service_rules import (
    parse_cause,
)
from app.domain.wizard.containers import ContainerImage
from app.domain.wizard.draft import Draft
from app.domain.wizard.probes import PROBE_TIMING
from app.domain.wizard.read import dicts
from app.domain.wizard.volumes import ClaimTemplateRow, VolumeRow, Volumes

# ---------------------------------------------------------------------------------------------------
# Server causes back to form fields

_PROBE_KEYS = {"livenessProbe": "liveness", "readinessProbe": "readiness", "startupProbe": "startup"}
_PROBE_FIELDS = {
    "path": "path",
    "port": "port",
    "scheme": "scheme",
    "command": "command",
    **{key: attr for attr, (key, _d, _m) in PROBE_TIMING.items()},
}


def field_for_cause(draft: Draft, kind: str, cause_field: str) -> tuple[str, str] | None:
    """The (step, form field) a server error cause concerns, e.g. (`image`, `containers.0.image`) for
    `spec.template.spec.containers[0].image` of the workload; None when no form field shows it (the
    caller then points at the YAML). `kind` is the kind of the object the cause came from."""
    path = parse_cause(cause_field)
    if kind == "Service":
        return _service_cause(draft, path)
    if kind == draft.kind:
        return _workload_cause(draft, path)
    return None


def _service_cause(draft: Draft, path: list[str | int]) -> tuple[str, str] | None:
    match path:
        case ["metadata", "name", *_]:
            return ("basic", "name")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_ALIAS:
            return ("basic", "alias")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_DESCRIPTION:
            return ("basic", "description")
        case ["metadata", "annotations", *_]:
            return ("advanced", "service_annotations")
        case ["metadata", "labels", *_] | ["spec", "selector", *_]:
            return ("advanced", "labels")
        case ["spec", "ports", int(i), "nodePort", *_]:
            return ("advanced", f"node_ports.{i}.node_port")
        case ["spec", "ports", int(i), *rest]:
            name = dig(draft.service, "spec", "ports", i, "name")
            for c_index, row in enumerate(ContainerImage.read(draft).containers):
                for p_index, port in enumerate(row.ports):
                    if name and port.name == name and row.type == "worker":
                        attr = {"targetPort": "container_port", "name": "name", "protocol": "protocol"}.get(
                            str(rest[0]) if rest else "", "service_port"
                        )
                        return ("image", f"containers.{c_index}.ports.{p_index}.{attr}")
            return None
        case ["spec", "ports", *_]:
            return ("image", "containers")
        case ["spec", str(), *_] if (field := service_traffic.field_of_cause(path)):
            return ("advanced", field)
        case ["spec", "sessionAffinity", *_]:
            return ("advanced", "sticky_session")
        case ["spec", "sessionAffinityConfig", *_]:
            return ("advanced", "sticky_timeout")
        case ["spec", key, *_] if key in ("type", "clusterIP", "externalTrafficPolicy") or str(
            key
        ).startswith("loadBalancer"):
            return ("advanced", "access")
    return None


def _workload_cause(draft: Draft, path: list[str | int]) -> tuple[str, str] | None:
    match path:
        case ["metadata", "name", *_] | ["spec", "serviceName", *_]:
            return ("basic", "name")
        case (
            ["metadata", "labels", *_]
            | ["spec", "selector", *_]
            | ["spec", "template", "metadata", "labels", *_]
        ):
            return ("advanced", "labels")
        case ["metadata", "annotations", *_]:
            return ("advanced", "annotations")
        case ["spec", "replicas", *_]:
            return ("image", "replicas")
        case ["spec", "strategy" | "updateStrategy", "rollingUpdate", key, *_] if key in (
            "maxUnavailable",
            "maxSurge",
            "partition",
        ):
            return (
                "image",
                {"maxUnavailable": "max_unavailable", "maxSurge": "max_surge"}.get(str(key), "partition"),
            )
        case ["spec", "strategy" | "updateStrategy", *_]:
            return ("image", "strategy")
        case ["spec", "template", "spec", "containers" | "initContainers" as group, int(i), *rest]:
            return _container_cause(draft, str(group), i, rest)
        case ["spec", "template", "spec", "volumes", int(i), *rest]:
            return _volume_cause(draft, i, rest)
        case ["spec", "template", "spec", "nodeSelector", *_]:
            return ("advanced", "node_selector")
        case ["spec", "volumeClaimTemplates", int(i), *rest]:
            attr = {
                ("metadata", "name"): "name",
                ("spec", "storageClassName"): "storage_class",
                ("spec", "accessModes"): "access_modes",
                ("spec", "resources"): "capacity",
            }.get((str(rest[0]), str(rest[1])) if len(rest) >= 2 else ("", ""))
            return ("volumes", f"volume_templates.{i}.{attr}" if attr else f"volume_templates.{i}")
    return None


def _container_cause(draft: Draft, group: str, i: int, rest: list[str | int]) -> tuple[str, str] | None:
    pod = dig(draft.workload, "spec", "template", "spec", default={})
    workers = len(dicts(dig(pod, "containers")))
    row = i if group == "containers" else workers + i
    p = f"containers.{row}"
    container = dig(pod, group, i, default={})
    match rest:
        case []:
            return ("image", p)
        case ["name" | "image" | "imagePullPolicy" | "command" | "args" as key, *_]:
            attr = "image_pull_policy" if key == "imagePullPolicy" else str(key)
            return ("image", f"{p}.{attr}")
        case ["ports", int(j), key, *_]:
            port_attr = {"containerPort": "container_port", "name": "name", "protocol": "protocol"}.get(
                str(key)
            )
            return ("image", f"{p}.ports.{j}.{port_attr}" if port_attr else f"{p}.ports.{j}")
        case ["ports", *_]:
            return ("image", f"{p}.ports")
        case ["env", int(k), "name" | "value" as key, *_]:
            return ("image", f"{p}.env.{k}.{key}")
        case ["env", int(k), "valueFrom", *more]:
            return ("image", f"{p}.env.{k}.{'key' if more and more[-1] == 'key' else 'resource'}")
        case ["env", *_]:
            return ("image", f"{p}.env")
        case ["resources", "requests" | "limits" as section, "cpu" | "memory" as resource, *_]:
            return ("image", f"{p}.{resource}_{'request' if section == 'requests' else 'limit'}")
        case ["resources", *_]:
            return ("image", f"{p}.cpu_request")
        case [probe, *more] if probe in _PROBE_KEYS:
            attr = next((_PROBE_FIELDS[str(x)] for x in reversed(more) if str(x) in _PROBE_FIELDS), "type")
            return ("image", f"{p}.{_PROBE_KEYS[str(probe)]}.{attr}")
        case ["volumeMounts", int(m), *more]:
            mount = dig(container, "volumeMounts", m, default={})
            if mount.get("name") == HOST_TIME_VOLUME:
                return ("image", f"{p}.sync_host_timezone")
            volumes = Volumes.read(draft)
            cname = container.get("name")
            rows: list[tuple[str, int, VolumeRow | ClaimTemplateRow]] = [
                *(("volumes", k, v) for k, v in enumerate(volumes.volumes)),
                *(("volume_templates", k, t) for k, t in enumerate(volumes.volume_templates)),
            ]
            for prefix, v_index, v in rows:
                if v.name != mount.get("name"):
                    continue
                for r, mrow in enumerate(v.mounts):
                    if mrow.container == cname and mrow.mount_path == mount.get("mountPath"):
                        mount_attr = "sub_path" if more and more[0] == "subPath" else "mount_path"
                        return ("volumes", f"{prefix}.{v_index}.mounts.{r}.{mount_attr}")
                return ("volumes", f"{prefix}.{v_index}.mounts")
            return None
    return None


def _volume_cause(draft: Draft, i: int, rest: list[str | int]) -> tuple[str, str] | None:
    name = dig(draft.workload, "spec", "template", "spec", "volumes", i, "name")
    if name == HOST_TIME_VOLUME:
        return ("image", "containers")
    for v_index, row in enumerate(Volumes.read(draft).volumes):
        if row.name != name:
            continue
        p = f"volumes.{v_index}"
        match rest:
            case ["name", *_]:
                return ("volumes", f"{p}.name")
            case ["persistentVolumeClaim", *_]:
                return ("volumes", f"{p}.claim_name")
            case ["hostPath", *_]:
                return ("volumes", f"{p}.host_path")
            case ["configMap" | "secret", "items", int(k), key, *_] if key in ("key", "path"):
                return ("volumes", f"{p}.items.{k}.{key}")
            case ["configMap" | "secret", *_]:
                return ("volumes", f"{p}.resource")
        return ("volumes", p)
    return None
