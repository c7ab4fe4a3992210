"""Pure builders for the Create Service wizard's manifests: templates, names, labels, host time, ports.

Everything here works on plain dicts (the Kubernetes objects themselves) and returns new objects; no
I/O, no Kubernetes client, no pydantic. `app.domain.wizard` composes these into the wizard's steps.

Decisions that differ from the original console (KubeSphere 3.4), on purpose:
* No `serviceAccount: default` in the pod spec: the field is deprecated and the API server fills in
  `serviceAccountName: default` by itself.
* No `kubesphere.io/imagepullsecrets` pod annotation and no `imagePullSecrets: null`: the wizard has
  no registry-secret choice, and a user's own `imagePullSecrets` (Edit Mode) is kept untouched.
* No `servicePort` inside container ports, no `totalReplicas`, no `initContainers: []`, no nulls:
  only fields the API schema knows, and no empty lists where Kubernetes means "absent".
* Volume claim templates carry no `metadata.namespace`: the StatefulSet controller creates the claims
  in the StatefulSet's namespace anyway.
* The Alibaba load balancer annotation keys are listed without the trailing TAB the original had.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from app.i18n import LazyString, lazy_

Flavor = Literal["stateless", "stateful"]
FLAVORS: tuple[Flavor, ...] = ("stateless", "stateful")
WORKLOAD_KINDS: dict[str, str] = {"stateless": "Deployment", "stateful": "StatefulSet"}
SERVICE_TYPE_VALUES: dict[str, str] = {"stateless": "statelessservice", "stateful": "statefulservice"}

ANNOTATION_ALIAS = "kubesphere.io/alias-name"
ANNOTATION_DESCRIPTION = "kubesphere.io/description"
ANNOTATION_CREATOR = "kubesphere.io/creator"
ANNOTATION_SERVICE_TYPE = "kubesphere.io/serviceType"
LABEL_APP = "app"
LABEL_VERSION = "version"

# Annotations the console manages itself: hidden from the annotation editors and never dropped.
_PRESERVED_ANNOTATION = re.compile(r"kubesphere\.io/.*|openpitrix_runtime")

SERVICE_NAME_MAX = 63
VERSION_MAX = 16
DESCRIPTION_MAX = 256
ALIAS_MAX = 63
PORT_NAME_MAX = 15
# Deployment: the brief's limit. StatefulSet: pods carry `controller-revision-hash: <name>-<hash>`
# (a label value, <= 63) with a hash of up to 10 characters, hence 52.
WORKLOAD_NAME_MAX: dict[str, int] = {"stateless": 63, "stateful": 52}

HOST_TIME_VOLUME = "host-time"
HOST_TIME_PATH = "/etc/localtime"

NODE_PORT_MIN = 30000
NODE_PORT_MAX = 32767
STICKY_TIMEOUT_DEFAULT = 10800
STICKY_TIMEOUT_MAX = 86400
DEFAULT_CAPACITY = "10Gi"

# Istio-style protocol choices: the protocol is encoded as the port name prefix.
PROTOCOLS: tuple[str, ...] = ("GRPC", "HTTP", "HTTP2", "HTTPS", "MONGO", "REDIS", "TCP", "TLS", "UDP")
DEFAULT_PROTOCOL = "HTTP"
PULL_POLICIES: tuple[str, ...] = ("IfNotPresent", "Always", "Never")
ACCESS_MODES: tuple[str, ...] = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany")

_RANDOM_ALPHABET = string.digits + string.ascii_lowercase


# ---------------------------------------------------------------------------------------------------
# Dict helpers (paths through plain Kubernetes objects)


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """The value at `path`, or `default` if any step is missing or of the wrong type."""
    cur = obj
    for key in path:
        if isinstance(key, int):
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                return default
            cur = cur[key]
        else:
            if not isinstance(cur, dict) or key not in cur:
                return default
            cur = cur[key]
    return cur


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a dict, else a new empty dict (for reading manifests of unknown shape)."""
    return value if isinstance(value, dict) else {}


def as_items(value: Any) -> list[Any]:
    """`value` if it is a list, else a new empty list."""
    return value if isinstance(value, list) else []


def ensure_dict(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    """The dict at `path` inside `obj`, created (or replaced if not a dict) along the way. Mutates `obj`."""
    cur = obj
    for key in path:
        nxt = cur.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[key] = nxt
        cur = nxt
    return cur


def set_or_pop(obj: dict[str, Any], key: str, value: Any) -> None:
    """`obj[key] = value`, or remove the key when value is None, "" or an empty list/dict."""
    if value is None or value == "" or value == [] or value == {}:
        obj.pop(key, None)
    else:
        obj[key] = value


def prune(obj: dict[str, Any], *path: str) -> None:
    """Remove the value at `path` if it is empty ({}, [] or None), then each parent it leaves empty."""
    for depth in range(len(path), 0, -1):
        parent = dig(obj, *path[: depth - 1])
        key = path[depth - 1]
        if not isinstance(parent, dict) or key not in parent or parent[key] not in ({}, [], None):
            return
        del parent[key]


def ordered(obj: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A copy of `obj` with `keys` first (those present, in that order), then the rest as they were."""
    out = {k: obj[k] for k in keys if k in obj}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


# ---------------------------------------------------------------------------------------------------
# Names and labels


def random_suffix(length: int = 6) -> str:
    """`length` random characters from [0-9a-z], as the original console's default names use."""
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(length))


def default_container_name() -> str:
    return f"container-{random_suffix()}"


def default_volume_name() -> str:
    return f"volume-{random_suffix()}"


def workload_name(name: str, version: str) -> str:
    """The Deployment/StatefulSet name of a service: `<name>-<version>`, e.g. `nginx-demo-v1`."""
    return f"{name}-{version}"


def workload_labels(name: str, version: str) -> dict[str, str]:
    """The labels the wizard puts on the workload, its selector, its pods and the Service."""
    return {LABEL_APP: name, LABEL_VERSION: version}


def service_selector(labels: Mapping[str, str]) -> dict[str, str]:
    """The Service selector for pod labels: all of them but `version`, so several versions of a service
    (e.g. a grey release `-v2`) sit behind one Service."""
    return {k: v for k, v in labels.items() if k != LABEL_VERSION}


def is_preserved_annotation(key: str) -> bool:
    """Annotations the console owns (`kubesphere.io/...`, `openpitrix_runtime`): hidden, never dropped."""
    return bool(_PRESERVED_ANNOTATION.fullmatch(key))


def relabel(target: Mapping[str, str], old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """`target` (a selector or label map that mirrors the labels `old`) after the labels became `new`.

    Only the changes travel: a label removed from `old` leaves the target where it had the same value,
    a changed label is updated where it had the old value, an added label is added unless the target
    already has that key. Everything else in the target stays as it is, so `relabel(t, x, x) == t`.
    Order is kept, additions go last.
    """
    out: dict[str, str] = {}
    for key, value in target.items():
        mirrored = key in old and value == old[key]
        if mirrored and key not in new:
            continue
        out[key] = new[key] if mirrored else value
    for key, value in new.items():
        if key not in old:
            out.setdefault(key, value)
    return out


# ---------------------------------------------------------------------------------------------------
# Starting templates


def new_workload(flavor: Flavor) -> dict[str, Any]:
    """The workload a new draft starts with (no name or containers yet)."""
    kind = WORKLOAD_KINDS[flavor]
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {}},
        "template": {
            "metadata": {"labels": {}},
            "spec": {"containers": [], "terminationGracePeriodSeconds": 30},
        },
    }
    if flavor == "stateless":
        spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
        }
    else:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"labels": {}}, "spec": spec}


def new_service(flavor: Flavor) -> dict[str, Any]:
    """The Service a new draft starts with: headless for a stateful service."""
    spec: dict[str, Any] = {}
    if flavor == "stateful":
        spec["clusterIP"] = "None"
    spec["sessionAffinity"] = "None"
    spec["selector"] = {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": {}, "annotations": {ANNOTATION_SERVICE_TYPE: SERVICE_TYPE_VALUES[flavor]}},
        "spec": spec,
    }


# Display order of the keys the wizard writes; unknown keys follow in their own order.
_TOP_KEYS = ("apiVersion", "kind", "metadata", "spec")
_META_KEYS = ("name", "namespace", "labels", "annotations")
_WORKLOAD_SPEC_KEYS = (
    "replicas",
    "serviceName",
    "selector",
    "template",
    "strategy",
    "updateStrategy",
    "volumeClaimTemplates",
)
_POD_SPEC_KEYS = ("containers", "initContainers", "volumes", "nodeSelector", "terminationGracePeriodSeconds")
_CONTAINER_KEYS = (
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "ports",
    "env",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "volumeMounts",
)
_SERVICE_SPEC_KEYS = ("type", "clusterIP", "sessionAffinity", "sessionAffinityConfig", "selector", "ports")


def plain_copy(value: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, scalars): `copy.deepcopy` for manifests, several times faster.
    Shared sub-objects become separate copies, which no caller relies on either way."""
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    return value


def stamp(obj: Mapping[str, Any], *, namespace: str, creator: str) -> dict[str, Any]:
    """A copy of a workload or Service ready to show, download and create: the project's namespace and
    `kubesphere.io/creator` on the object (and on a workload's pod template), keys in display order."""
    out = plain_copy(dict(obj))
    meta = ensure_dict(out, "metadata")
    meta["namespace"] = namespace
    ensure_dict(meta, "annotations")[ANNOTATION_CREATOR] = creator
    spec = out.get("spec")
    if out.get("kind") in WORKLOAD_KINDS.values() and isinstance(spec, dict):
        template = ensure_dict(spec, "template")
        ensure_dict(template, "metadata", "annotations")[ANNOTATION_CREATOR] = creator
        template["metadata"] = ordered(template["metadata"], _META_KEYS)
        pod = template.get("spec")
        if isinstance(pod, dict):
            for key in ("containers", "initContainers"):
                if isinstance(pod.get(key), list):
                    pod[key] = [ordered(c, _CONTAINER_KEYS) if isinstance(c, dict) else c for c in pod[key]]
            template["spec"] = ordered(pod, _POD_SPEC_KEYS)
        out["spec"] = ordered(spec, _WORKLOAD_SPEC_KEYS)
    elif isinstance(spec, dict):
        out["spec"] = ordered(spec, _SERVICE_SPEC_KEYS)
    out["metadata"] = ordered(meta, _META_KEYS)
    return ordered(out, _TOP_KEYS)


# ---------------------------------------------------------------------------------------------------
# Host timezone (owned by the Container Image step)


def host_time_mount() -> dict[str, Any]:
    return {"name": HOST_TIME_VOLUME, "mountPath": HOST_TIME_PATH, "readOnly": True}


def host_time_volume() -> dict[str, Any]:
    return {"name": HOST_TIME_VOLUME, "hostPath": {"path": HOST_TIME_PATH, "type": ""}}


def mounts_host_time(container: Mapping[str, Any]) -> bool:
    mounts = container.get("volumeMounts")
    return isinstance(mounts, list) and any(
        isinstance(m, dict) and m.get("name") == HOST_TIME_VOLUME for m in mounts
    )


def with_host_time_mount(container: Mapping[str, Any], enabled: bool) -> dict[str, Any]:
    """A copy of `container` that mounts the host's /etc/localtime (read-only) or no longer does.
    An existing host-time mount is kept as it is."""
    out: dict[str, Any] = plain_copy(dict(container))
    mounts = as_items(out.get("volumeMounts"))
    if enabled and not mounts_host_time(out):
        mounts = [*mounts, host_time_mount()]
    elif not enabled:
        mounts = [m for m in mounts if not (isinstance(m, dict) and m.get("name") == HOST_TIME_VOLUME)]
    set_or_pop(out, "volumeMounts", mounts)
    return out


def with_host_time_volume(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `pod_spec` with the host-time volume present exactly when some container (worker or
    init) mounts it; added and removed together with the mounts (kubesphere/kubesphere#4350)."""
    out: dict[str, Any] = plain_copy(dict(pod_spec))
    containers = [
        c for key in ("containers", "initContainers") for c in (out.get(key) or []) if isinstance(c, dict)
    ]
    needed = any(mounts_host_time(c) for c in containers)
    volumes = as_items(out.get("volumes"))
    present = any(isinstance(v, dict) and v.get("name") == HOST_TIME_VOLUME for v in volumes)
    if needed and not present:
        volumes = [*volumes, host_time_volume()]
    elif not needed and present:
        volumes = [v for v in volumes if not (isinstance(v, dict) and v.get("name") == HOST_TIME_VOLUME)]
    set_or_pop(out, "volumes", volumes)
    return out


# ---------------------------------------------------------------------------------------------------
# Ports


def k8s_protocol(protocol: str) -> str:
    """The Kubernetes protocol for a wizard protocol choice: UDP for UDP, TCP for everything else."""
    return "UDP" if protocol == "UDP" else "TCP"


def port_name_prefix(protocol: str) -> str:
    return protocol.lower()


def default_port_name(protocol: str, index: int) -> str:
    """The original's default port name: `<protocol lower>-<row index>`, e.g. `http-0`."""
    return f"{port_name_prefix(protocol)}-{index}"


def protocol_of_name(name: str) -> str | None:
    """The non-UDP protocol a port name announces by its Istio prefix (`http-web` -> HTTP), if any."""
    for protocol in PROTOCOLS:
        if protocol == "UDP":
            continue
        prefix = port_name_prefix(protocol)
        if name == prefix or name.startswith(prefix + "-"):
            return protocol
    return None


def follow_protocol(name: str, protocol: str) -> str:
    """The port name with its Istio prefix changed to `protocol`'s (`http-web` -> `grpc-web`); a name
    without a known prefix stays. Only a whole prefix counts: `http2-x` is not `http` + `2-x`."""
    for other in PROTOCOLS:
        old = port_name_prefix(other)
        if old != port_name_prefix(protocol) and (name == old or name.startswith(old + "-")):
            return port_name_prefix(protocol) + name[len(old):]
    return name


def protocol_of_port(name: str, k8s_proto: str | None) -> str:
    """The wizard protocol of a container port read from a manifest."""
    if k8s_proto == "UDP":
        return "UDP"
    return protocol_of_name(name) or "TCP"


class ServicePortSpec(NamedTuple):
    """One Service port the wizard derives from a worker container port."""

    name: str
    protocol: str  # Kubernetes protocol: TCP, UDP (or SCTP kept from a manifest)
    port: int
    target_port: int


def derive_service_ports(
    specs: Sequence[ServicePortSpec],
    existing: Sequence[Any],
    owned: Callable[[Mapping[str, Any]], bool],
) -> list[dict[str, Any]]:
    """The Service's `spec.ports` for `specs`, merged into the existing ports.

    A spec updates the existing port of the same name (so a nodePort, appProtocol, ... survives), or
    an unnamed existing port aimed at the same target port. Existing ports that `owned` says the wizard
    derived (from a container port that no longer has a service port) are dropped; all others, e.g.
    ports added by hand in Edit Mode, are kept after the derived ones.
    """
    pool = [p for p in existing if isinstance(p, dict)]
    used: set[int] = set()
    out: list[dict[str, Any]] = []
    for spec in specs:
        match = next((i for i, p in enumerate(pool) if i not in used and p.get("name") == spec.name), None)
        if match is None:
            match = next(
                (
                    i
                    for i, p in enumerate(pool)
                    if i not in used
                    and not p.get("name")
                    and p.get("targetPort", p.get("port")) == spec.target_port
                ),
                None,
            )
        port: dict[str, Any] = {}
        if match is not None:
            used.add(match)
            port = plain_copy(pool[match])
        port["name"] = spec.name
        port["protocol"] = spec.protocol
        port["port"] = spec.port
        if port.get("targetPort") != spec.name:  # a named target port aimed at the same port is kept
            port["targetPort"] = spec.target_port
        out.append(ordered(port, ("name", "protocol", "port", "targetPort")))
    out.extend(plain_copy(p) for i, p in enumerate(pool) if i not in used and not owned(p))
    return out


# ---------------------------------------------------------------------------------------------------
# Command and argument lists: comma-separated text, as the original console


def split_list(text: str) -> list[str]:
    """Items of comma-separated text. Surrounding whitespace is trimmed and empty items are dropped.
    An item in double quotes keeps commas, whitespace and even emptiness (`""` inside doubles one
    quote); an item in single quotes keeps everything up to the closing quote. Raises ValueError for an
    unclosed quote."""
    items: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] in "\"'":
            quote = text[i]
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise ValueError("unclosed quote")
                if text[i] == quote:
                    if quote == '"' and i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i < n and text[i] != ",":
                raise ValueError("text after a closing quote")
            items.append("".join(buf))
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            item = text[i:end].strip()
            if item:
                items.append(item)
            i = end
        i += 1
    return items


def join_list(items: Iterable[str]) -> str:
    """The text `split_list` reads back as `items`: quoted where an item needs it."""
    parts: list[str] = []
    for item in items:
        text = str(item)
        if text == "" or text != text.strip() or any(ch in text for ch in ",\"'\n\r"):
            parts.append('"' + text.replace('"', '""') + '"')
        else:
            parts.append(text)
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------
# Load balancer providers (Advanced Settings)


@dataclass(frozen=True)
class LoadBalancerProvider:
    """A cloud or bare-metal load balancer and the Service annotation keys it understands.

    `defaults` are suggested values for some keys; `prefixes` recognise the provider's other keys when
    detecting it from existing annotations.
    """

    id: str
    label: LazyString
    keys: tuple[str, ...]
    defaults: Mapping[str, str] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()


def _alibaba(*names: str) -> tuple[str, ...]:
    return tuple(f"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-{n}" for n in names)


def _aws(*names: str) -> tuple[str, ...]:
    return tuple(f"service.beta.kubernetes.io/aws-load-balancer-{n}" for n in names)


LB_PROVIDERS: tuple[LoadBalancerProvider, ...] = (
    LoadBalancerProvider(
        "alibaba",
        lazy_("Alibaba Cloud ACK"),
        _alibaba(
            "address-type",
            "charge-type",
            "id",
            "spec",
            "master-zoneid",
            "slave-zoneid",
            "force-override-listeners",
            "bandwidth",
            "vswitch-id",
            "additional-resource-tags",
            "ip-version",
            "delete-protection",
            "modification-protection",
            "resource-group-id",
            "name",
        ),
        prefixes=("service.beta.kubernetes.io/alibaba-cloud-loadbalancer-",),
    ),
    LoadBalancerProvider(
        "azure",
        lazy_("Azure Kubernetes Service"),
        tuple(
            f"service.beta.kubernetes.io/{n}"
            for n in (
                "azure-load-balancer-internal",
                "azure-load-balancer-internal-subnet",
                "azure-dns-label-name",
                "azure-shared-securityrule",
                "azure-load-balancer-resource-group",
                "azure-allowed-service-tags",
                "azure-load-balancer-tcp-idle-timeout",
                "azure-load-balancer-disable-tcp-reset",
            )
        ),
        prefixes=("service.beta.kubernetes.io/azure-",),
    ),
    LoadBalancerProvider(
        "huawei",
        lazy_("Huawei Cloud CCE"),
        (
            "kubernetes.io/elb.class",
            "kubernetes.io/session-affinity-mode",
            "kubernetes.io/elb.id",
            "kubernetes.io/elb.subnet-id",
        ),
        prefixes=("kubernetes.io/elb.",),
    ),
    LoadBalancerProvider(
        "aws",
        lazy_("Amazon EKS"),
        ("service.beta.kubernetes.io/load-balancer-source-ranges",)
        + _aws(
            "type",
            "nlb-target-type",
            "name",
            "internal",
            "scheme",
            "proxy-protocol",
            "ip-address-type",
            "access-log-enabled",
            "access-log-s3-bucket-name",
            "access-log-s3-bucket-prefix",
            "cross-zone-load-balancing-enabled",
            "ssl-cert",
            "ssl-ports",
            "ssl-negotiation-policy",
            "backend-protocol",
            "additional-resource-tags",
            "healthcheck-healthy-threshold",
            "healthcheck-unhealthy-threshold",
            "healthcheck-timeout",
            "healthcheck-interval",
            "healthcheck-protocol",
            "healthcheck-port",
            "healthcheck-path",
            "eip-allocations",
            "private-ipv4-addresses",
            "target-group-attributes",
            "subnets",
            "alpn-policy",
            "target-node-labels",
        ),
        prefixes=("service.beta.kubernetes.io/aws-load-balancer-",),
    ),
    LoadBalancerProvider(
        "gke",
        lazy_("Google Kubernetes Engine"),
        ("cloud.google.com/network-tier",),
        prefixes=("cloud.google.com/", "networking.gke.io/"),
    ),
    LoadBalancerProvider(
        "qingcloud",
        lazy_("QingCloud Kubernetes Engine"),
        (
            "service.beta.kubernetes.io/qingcloud-load-balancer-eip-ids",
            "service.beta.kubernetes.io/qingcloud-load-balancer-type",
        ),
        defaults={
            "service.beta.kubernetes.io/qingcloud-load-balancer-eip-ids": "",
            "service.beta.kubernetes.io/qingcloud-load-balancer-type": "0",
        },
        prefixes=("service.beta.kubernetes.io/qingcloud-",),
    ),
    LoadBalancerProvider(
        "tencent",
        lazy_("Tencent Kubernetes Engine"),
        (
            "service.kubernetes.io/loadbalance-id",
            "service.kubernetes.io/qcloud-loadbalancer-internal-subnetid",
            "service.kubernetes.io/tke-existed-lbid",
            "service.kubernetes.io/local-svc-only-bind-node-with-pod",
            "service.cloud.tencent.com/local-svc-weighted-balance",
            "service.kubernetes.io/qcloud-loadbalancer-backends-label",
            "service.cloud.tencent.com/direct-access",
            "service.cloud.tencent.com/tke-service-config",
            "service.cloud.tencent.com/tke-service-config-auto",
            "service.kubernetes.io/loadbalance-nat-ipv6",
            "service.kubernetes.io/loadbalance-type",
            "service.cloud.tencent.com/specify-protocol",
            "service.kubernetes.io/service.extensiveParameters",
            "service.cloud.tencent.com/enable-grace-shutdown",
            "kubernetes.io/service.internetChargeType",
            "kubernetes.io/service.internetMaxBandwidthOut",
        ),
        prefixes=(
            "service.cloud.tencent.com/",
            "service.kubernetes.io/qcloud-",
            "service.kubernetes.io/tke-",
        ),
    ),
    LoadBalancerProvider(
        "openelb",
        lazy_("OpenELB"),
        (
            "lb.kubesphere.io/v1alpha1",
            "protocol.openelb.kubesphere.io/v1alpha1",
            "eip.openelb.kubesphere.io/v1alpha2",
        ),
        defaults={
            "lb.kubesphere.io/v1alpha1": "openelb",
            "protocol.openelb.kubesphere.io/v1alpha1": "layer2",
            "eip.openelb.kubesphere.io/v1alpha2": "",
        },
        prefixes=("lb.kubesphere.io/", "openelb.kubesphere.io/"),
    ),
)
DEFAULT_LB_PROVIDER = "qingcloud"
LB_ANNOTATION_KEYS: frozenset[str] = frozenset(k for p in LB_PROVIDERS for k in p.keys)


def lb_provider(provider_id: str) -> LoadBalancerProvider:
    return next(p for p in LB_PROVIDERS if p.id == provider_id)


def detect_provider(annotations: Mapping[str, Any] | Iterable[str]) -> str | None:
    """The id of the load balancer provider the annotation keys belong to, or None if none matches.

    Known keys count twice, keys that only share a provider's prefix once; the best score wins, ties
    go to the earlier provider in LB_PROVIDERS (kubesphere/kubesphere#6105: an OpenELB Service must
    not show up as QingCloud).
    """
    keys = [k.strip() for k in (annotations.keys() if isinstance(annotations, Mapping) else annotations)]
    best: tuple[int, str] | None = None
    for provider in LB_PROVIDERS:
        score = sum(
            2 if key in provider.keys else 1 if any(f".{p}" in f".{key}" for p in provider.prefixes) else 0
            for key in keys
        )
        if score and (best is None or score > best[0]):
            best = (score, provider.id)
    return best[1] if best else None
