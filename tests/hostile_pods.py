"""A reusable corpus of workloads that break the Pod Security Standards, one control at a time.

`HOSTILE`: (id, object) pairs, each refused at baseline (hence at restricted) and admitted at privileged.
Every one starts from `restricted_clean(...)` and breaks one baseline control (a few break two), so
at both levels the only violations are the ones it was built with: `CONTROLS[id]` names them.
`BASELINE_ONLY`: objects that pass baseline and fail restricted (`CONTROLS[id]` again, for restricted).
`NOT_PODS`: objects of kinds without a pod template, carrying hostile-looking fields: always ignored.

Objects are full apps/v1 Deployments and StatefulSets (metadata.name in DNS-1123 form, selector
matching the template labels, image nginx:1.25), so they can also be sent to a real cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

IMAGE = "nginx:1.25"

Template = dict[str, Any]  # the pod template: {"metadata": ..., "spec": ...}


def _container(name: str) -> dict:
    return {
        "name": name,
        "image": IMAGE,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def restricted_clean(name: str, kind: str = "Deployment") -> dict:
    """A valid object of `kind` (Deployment, StatefulSet or Pod) that passes the restricted level."""
    labels = {"app": name}
    pod_spec = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 101,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container("web")],
    }
    if kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": pod_spec,
        }
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    elif kind != "Deployment":
        raise ValueError(kind)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def template_of(obj: dict) -> Template:
    return obj if obj["kind"] == "Pod" else obj["spec"]["template"]


# ---------------------------------------------------------------------------------------------- mutations
# Each takes the pod template and breaks it; "container" ones get the container to break.


def _in_container(change: Callable[[dict], None]) -> Callable[[Template], None]:
    return lambda t: change(t["spec"]["containers"][0])


def _in_init_container(change: Callable[[dict], None]) -> Callable[[Template], None]:
    def mutate(t: Template) -> None:
        init = _container("init")
        change(init)
        t["spec"]["initContainers"] = [init]

    return mutate


def _sc(**fields: Any) -> Callable[[dict], None]:
    if fields.get("privileged") is True:  # the API server refuses privileged with allowPrivilegeEscalation false
        fields = {"allowPrivilegeEscalation": True, **fields}
    return lambda c: c["securityContext"].update(copy.deepcopy(fields))


def _pod_sc(**fields: Any) -> Callable[[Template], None]:
    return lambda t: t["spec"]["securityContext"].update(copy.deepcopy(fields))


def _pod(**fields: Any) -> Callable[[Template], None]:
    return lambda t: t["spec"].update(copy.deepcopy(fields))


def _add_caps(*caps: str) -> Callable[[dict], None]:
    return lambda c: c["securityContext"]["capabilities"].update(add=list(caps))


def _set(**fields: Any) -> Callable[[dict], None]:
    return lambda c: c.update(copy.deepcopy(fields))


def _host_path(t: Template) -> None:
    t["spec"]["volumes"] = [{"name": "node-root", "hostPath": {"path": "/", "type": "Directory"}}]
    t["spec"]["containers"][0]["volumeMounts"] = [{"name": "node-root", "mountPath": "/host"}]


def _annotation(value: str) -> Callable[[Template], None]:
    key = "container.apparmor.security.beta.kubernetes.io/web"
    return lambda t: t["metadata"].setdefault("annotations", {}).update({key: value})


def _both(*mutations: Callable[[Template], None]) -> Callable[[Template], None]:
    def mutate(t: Template) -> None:
        for m in mutations:
            m(t)

    return mutate


_http_host = {"httpGet": {"path": "/", "port": 80, "host": "169.254.169.254"}}
_tcp_host = {"tcpSocket": {"port": 10250, "host": "10.0.0.1"}}

# An unmasked /proc outside a user namespace (hostUsers: false) is invalid on 1.37 whatever the level: the
# console's gate refuses these at baseline, and the API server as invalid even in a privileged project.
INVALID_ON_THE_SERVER = ("procmount", "cap-procmount-init")

# (id stem, controls broken, mutation of the template)
_BASELINE_BREAKS: list[tuple[str, set[str], Callable[[Template], None]]] = [
    # The API server (1.37) refuses a hostProcess pod that is not on the host network as invalid.
    ("hostprocess-pod", {"HostProcess", "Host Namespaces"},
     _both(_pod(hostNetwork=True), _pod_sc(windowsOptions={"hostProcess": True}))),
    ("hostprocess-ctr", {"HostProcess", "Host Namespaces"},
     _both(_pod(hostNetwork=True), _in_container(_sc(windowsOptions={"hostProcess": True})))),
    ("hostnetwork", {"Host Namespaces"}, _pod(hostNetwork=True)),
    ("hostpid", {"Host Namespaces"}, _pod(hostPID=True)),
    ("hostipc", {"Host Namespaces"}, _pod(hostIPC=True)),
    ("privileged-ctr", {"Privileged Containers"}, _in_container(_sc(privileged=True))),
    ("privileged-init", {"Privileged Containers"}, _in_init_container(_sc(privileged=True))),
    ("cap-sys-admin", {"Capabilities"}, _in_container(_add_caps("SYS_ADMIN"))),
    ("cap-net-raw-init", {"Capabilities"}, _in_init_container(_add_caps("NET_RAW"))),
    ("hostpath", {"HostPath Volumes"}, _host_path),
    ("hostport", {"Host Ports"}, _in_container(_set(ports=[{"containerPort": 80, "hostPort": 8080}]))),
    (
        "hostport-init",
        {"Host Ports"},
        _in_init_container(_set(ports=[{"containerPort": 53, "hostPort": 53}])),
    ),
    ("probe-http-host", {"Host Probes / Lifecycle Hooks"}, _in_container(_set(livenessProbe=_http_host))),
    ("probe-tcp-host", {"Host Probes / Lifecycle Hooks"}, _in_container(_set(readinessProbe=_tcp_host))),
    # A hook, in the main container: the API server refuses hooks on plain init containers anyway.
    ("hook-host", {"Host Probes / Lifecycle Hooks"}, _in_container(_set(lifecycle={"preStop": _http_host}))),
    ("apparmor-annotation", {"AppArmor"}, _annotation("unconfined")),
    ("apparmor-pod", {"AppArmor"}, _pod_sc(appArmorProfile={"type": "Unconfined"})),
    ("apparmor-ctr", {"AppArmor"}, _in_container(_sc(appArmorProfile={"type": "Unconfined"}))),
    ("selinux-type", {"SELinux"}, _in_container(_sc(seLinuxOptions={"type": "spc_t"}))),
    ("selinux-user-pod", {"SELinux"}, _pod_sc(seLinuxOptions={"user": "system_u"})),
    ("selinux-role-init", {"SELinux"}, _in_init_container(_sc(seLinuxOptions={"role": "sysadm_r"}))),
    ("procmount", {"/proc Mount Type"}, _in_container(_sc(procMount="Unmasked"))),
    ("seccomp-pod", {"Seccomp"}, _pod_sc(seccompProfile={"type": "Unconfined"})),
    ("seccomp-init", {"Seccomp"}, _in_init_container(_sc(seccompProfile={"type": "Unconfined"}))),
    ("sysctl", {"Sysctls"}, _pod_sc(sysctls=[{"name": "kernel.msgmax", "value": "65536"}])),
    # pairs
    (
        "privileged-hostnetwork",
        {"Privileged Containers", "Host Namespaces"},
        _both(_in_container(_sc(privileged=True)), _pod(hostNetwork=True)),
    ),  # fmt: skip
    (
        "hostpath-hostport",
        {"HostPath Volumes", "Host Ports"},
        _both(_host_path, _in_container(_set(ports=[{"containerPort": 80, "hostPort": 80}]))),
    ),  # fmt: skip
    (
        "cap-procmount-init",
        {"Capabilities", "/proc Mount Type"},
        _in_init_container(lambda c: (_add_caps("SYS_PTRACE")(c), _sc(procMount="Unmasked")(c))),
    ),  # fmt: skip
]

_RESTRICTED_BREAKS: list[tuple[str, set[str], Callable[[Template], None]]] = [
    (
        "no-run-as-non-root",
        {"Running as Non-root"},
        lambda t: t["spec"]["securityContext"].pop("runAsNonRoot"),
    ),  # fmt: skip
    ("run-as-non-root-false-ctr", {"Running as Non-root"}, _in_container(_sc(runAsNonRoot=False))),
    ("run-as-user-0", {"Running as Non-root user"}, _pod_sc(runAsUser=0)),
    ("run-as-user-0-init", {"Running as Non-root user"}, _in_init_container(_sc(runAsUser=0))),
    ("privesc-true", {"Privilege Escalation"}, _in_container(_sc(allowPrivilegeEscalation=True))),
    (
        "privesc-unset-init",
        {"Privilege Escalation"},
        _in_init_container(lambda c: c["securityContext"].pop("allowPrivilegeEscalation")),
    ),  # fmt: skip
    ("no-drop-all", {"Capabilities"}, _in_container(lambda c: c["securityContext"].pop("capabilities"))),
    ("add-chown", {"Capabilities"}, _in_container(_add_caps("CHOWN"))),
    ("no-seccomp", {"Seccomp"}, lambda t: t["spec"]["securityContext"].pop("seccompProfile")),
    (
        "volume-nfs",
        {"Volume Types"},
        _pod(volumes=[{"name": "share", "nfs": {"server": "nfs.example.com", "path": "/export"}}]),
    ),  # fmt: skip
    (
        "init-bare",
        {"Privilege Escalation", "Capabilities"},
        lambda t: t["spec"].update(initContainers=[{"name": "init", "image": IMAGE}]),
    ),  # fmt: skip
]


def _build(breaks: list[tuple[str, set[str], Callable[[Template], None]]]) -> list[tuple[str, dict]]:
    out = []
    for stem, controls, mutate in breaks:
        for kind, short in (("Deployment", "deploy"), ("StatefulSet", "sts")):
            obj = restricted_clean(f"{stem}-{short}", kind)
            mutate(template_of(obj))
            out.append((f"{stem}-{short}", obj))
            CONTROLS[f"{stem}-{short}"] = frozenset(controls)
    return out


CONTROLS: dict[str, frozenset[str]] = {}
HOSTILE: list[tuple[str, dict]] = _build(_BASELINE_BREAKS)
BASELINE_ONLY: list[tuple[str, dict]] = _build(_RESTRICTED_BREAKS)

_privileged_pod_spec = {
    "hostNetwork": True,
    "containers": [{"name": "web", "image": IMAGE, "securityContext": {"privileged": True}}],
}
NOT_PODS: list[tuple[str, dict]] = [
    (
        "service",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    ),  # fmt: skip
    (
        "configmap",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web"},
            "data": {"pod.yaml": "hostNetwork: true"},
        },
    ),  # fmt: skip
    (
        "podtemplate-like-crd",
        {
            "apiVersion": "example.com/v1",
            "kind": "Workload",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": _privileged_pod_spec}},
        },
    ),  # fmt: skip
    ("no-kind", {"metadata": {"name": "web"}, "spec": _privileged_pod_spec}),
    (
        "secret",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web"}, "spec": _privileged_pod_spec},
    ),
]
