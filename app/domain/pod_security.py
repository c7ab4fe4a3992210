"""Kubernetes Pod Security Standards (privileged, baseline, restricted), checked before anything is sent.

A pure mirror of Pod Security Admission at `enforce-version: latest` (k8s.io/pod-security-admission
`policy/check_*.go`, Kubernetes 1.36, where `latest` is policy version 1.35): the same fields, the same
allowed values, the same exemptions. Where PSA reports one line per check, this module reports one
`Violation` per offending field, with the path of that field inside the whole object, so the YAML
editor can point at it. No I/O, no Kubernetes client.

Decisions where PSA's behaviour and "restricted includes baseline" could differ (see the tests):
* At restricted, a hostPath volume is reported as "HostPath Volumes" (not also as "Volume Types").
* A Windows pod (`spec.os.name: windows`) is exempt from the restricted drop-ALL, privilege-escalation
  and required-seccomp rules, as in PSA; but the baseline capability and seccomp checks still apply to
  it at restricted (PSA skips them there, and the API server refuses such fields on Windows pods anyway).
* `spec.hostUsers: false` (a user-namespaced pod) relaxes runAsNonRoot and runAsUser at restricted and
  the /proc mount type at baseline only, as PSA 1.35 does.
* A volume counts as every source it sets (a volume setting both configMap and nfs is refused for nfs);
  a volume with no known source is what the API server defaults it to, an emptyDir.
* Values of the wrong type are the schema's job: a check only fires on a value of the type it reads
  (`privileged: "true"` is not seen as privileged here; the schema refuses it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.i18n import _


class Level(StrEnum):
    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


DEFAULT_LEVEL = Level.BASELINE

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    path: Path
    control: str
    message: str


BASELINE_CAPABILITIES = tuple(
    """
    AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP
    SETUID SYS_CHROOT
    """.split()
)
RESTRICTED_CAPABILITIES = ("NET_BIND_SERVICE",)
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",  # policy 1.27
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",  # policy 1.29
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",  # policy 1.32
)
SELINUX_TYPES = ("container_t", "container_init_t", "container_kvm_t", "container_engine_t")  # and ""
PROFILE_TYPES = ("RuntimeDefault", "Localhost")  # seccompProfile.type and appArmorProfile.type
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
RESTRICTED_VOLUME_TYPES = tuple(
    """
    configMap csi downwardAPI emptyDir ephemeral image persistentVolumeClaim projected secret
    """.split()
)
# Every other volume source of core/v1 Volume: refused at restricted (hostPath already at baseline).
OTHER_VOLUME_TYPES = tuple(
    """
    hostPath gcePersistentDisk awsElasticBlockStore gitRepo nfs iscsi glusterfs rbd flexVolume
    cinder cephfs flocker fc azureFile vsphereVolume quobyte azureDisk photonPersistentDisk
    portworxVolume scaleIO storageos
    """.split()
)
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HOOKS = ("postStart", "preStop")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job")
_LABEL_PREFIX = "pod-security.kubernetes.io/"


def _level(level: Level | str) -> Level:
    return level if isinstance(level, Level) else Level(level)  # ValueError on an unknown level


def namespace_labels(level: Level | str) -> dict[str, str]:
    value = _level(level).value
    labels: dict[str, str] = {}
    for mode in ("enforce", "warn", "audit"):
        labels[_LABEL_PREFIX + mode] = value
        labels[_LABEL_PREFIX + mode + "-version"] = "latest"
    return labels


def allows_host_path(level: Level | str) -> bool:
    return _level(level) is Level.PRIVILEGED


def pod_template_path(obj: dict[str, Any]) -> tuple[str, ...] | None:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind == "Pod":
        return ()
    if kind in _WORKLOAD_KINDS:
        return ("spec", "template")
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template")
    return None


# --------------------------------------------------------------------------------------------- helpers


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return '""' if value == "" else str(value)


def _deepest(base: dict[str, Any], base_path: Path, keys: tuple[str, ...]) -> Path:
    """The path of base[keys...] if it exists, else of its deepest existing ancestor (a missing field)."""
    path, cur = base_path, base
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            break
        path, cur = path + (key,), cur[key]
    return path


@dataclass
class _Container:
    c: dict[str, Any]
    path: Path
    who: str

    @property
    def sc(self) -> dict[str, Any]:
        return _dict(self.c.get("securityContext"))

    @property
    def sc_path(self) -> Path:
        return self.path + ("securityContext",)


def _who(list_name: str, container: dict[str, Any], index: int) -> str:
    name = container.get("name")
    name = name if isinstance(name, str) and name else f"#{index + 1}"
    if list_name == "initContainers":
        return _("Init container {name}").format(name=name)
    if list_name == "ephemeralContainers":
        return _("Ephemeral container {name}").format(name=name)
    return _("Container {name}").format(name=name)


def _containers(spec: dict[str, Any], spec_path: Path) -> Iterator[_Container]:
    for list_name in CONTAINER_LISTS:
        for i, c in enumerate(_list(spec.get(list_name))):
            if isinstance(c, dict):
                yield _Container(c, spec_path + (list_name, i), _who(list_name, c, i))


@dataclass
class _Pod:
    meta: dict[str, Any]
    meta_path: Path
    spec: dict[str, Any]
    spec_path: Path
    containers: list[_Container]
    level: Level

    @property
    def sc(self) -> dict[str, Any]:
        return _dict(self.spec.get("securityContext"))

    @property
    def sc_path(self) -> Path:
        return self.spec_path + ("securityContext",)

    @property
    def windows(self) -> bool:
        return _dict(self.spec.get("os")).get("name") == "windows"

    @property
    def user_namespace(self) -> bool:
        return self.spec.get("hostUsers") is False

    def contexts(self) -> Iterator[tuple[dict[str, Any], Path, str]]:
        """The pod's security context, then every container's: (context, its path, who sets it)."""
        yield self.sc, self.sc_path, _("The pod")
        for ct in self.containers:
            yield ct.sc, ct.sc_path, ct.who


def _v(out: list[Violation], path: Path, control: str, message: str, **fields: Any) -> None:
    out.append(Violation(tuple(path), control, message.format(**fields)))


# ---------------------------------------------------------------------------------------------- baseline


def _host_process(p: _Pod, out: list[Violation]) -> None:
    for sc, sc_path, who in p.contexts():
        if _dict(sc.get("windowsOptions")).get("hostProcess") is True:
            msg = _("{who} sets windowsOptions.hostProcess to true; the {level} level of this project does "
                    "not allow Windows HostProcess containers.")
            _v(out, sc_path + ("windowsOptions", "hostProcess"), _("HostProcess"), msg, who=who,
                level=p.level)


def _host_namespaces(p: _Pod, out: list[Violation]) -> None:
    for field in HOST_NAMESPACES:
        if p.spec.get(field) is True:
            msg = _("The pod sets {field} to true; the {level} level of this project does not allow sharing "
                    "the node's namespaces (hostNetwork, hostPID and hostIPC must be false or unset).")
            _v(out, p.spec_path + (field,), _("Host Namespaces"), msg, field=field, level=p.level)


def _privileged(p: _Pod, out: list[Violation]) -> None:
    for ct in p.containers:
        if ct.sc.get("privileged") is True:
            msg = _("{who} is privileged; the {level} level of this project does not allow privileged "
                    "containers.")
            _v(out, ct.sc_path + ("privileged",), _("Privileged Containers"), msg, who=ct.who, level=p.level)


def _capabilities_baseline(p: _Pod, out: list[Violation]) -> None:
    for ct in p.containers:
        caps = _dict(ct.sc.get("capabilities"))
        for j, cap in enumerate(_list(caps.get("add"))):
            if isinstance(cap, str) and cap not in BASELINE_CAPABILITIES:
                msg = _("{who} adds the capability {cap}; the {level} level of this project only allows "
                        "adding {allowed}.")
                _v(out, ct.sc_path + ("capabilities", "add", j), _("Capabilities"), msg, who=ct.who,
                    cap=_show(cap), level=p.level, allowed=", ".join(BASELINE_CAPABILITIES))


def _volumes(p: _Pod, out: list[Violation]) -> None:
    """HostPath Volumes (baseline) and, at restricted, Volume Types."""
    for i, vol in enumerate(_list(p.spec.get("volumes"))):
        if not isinstance(vol, dict):
            continue
        name = vol.get("name")
        name = name if isinstance(name, str) and name else f"#{i + 1}"
        path = p.spec_path + ("volumes", i)
        if vol.get("hostPath") is not None:
            msg = _("Volume {volume} mounts a directory of the node (hostPath); the {level} level of this "
                    "project does not allow hostPath volumes.")
            _v(out, path + ("hostPath",), _("HostPath Volumes"), msg, volume=name, level=p.level)
        if p.level is not Level.RESTRICTED:
            continue
        for kind in OTHER_VOLUME_TYPES:
            if kind != "hostPath" and vol.get(kind) is not None:
                msg = _("Volume {volume} is of type {type}; the {level} level of this project only allows "
                        "these volume types: {allowed}.")
                _v(out, path + (kind,), _("Volume Types"), msg, volume=name, type=kind, level=p.level,
                    allowed=", ".join(RESTRICTED_VOLUME_TYPES))


def _host_ports(p: _Pod, out: list[Violation]) -> None:
    for ct in p.containers:
        for j, port in enumerate(_list(ct.c.get("ports"))):
            host_port = _dict(port).get("hostPort")
            if _is_int(host_port) and host_port != 0:
                msg = _("{who} uses host port {port}; the {level} level of this project does not allow host "
                        "ports (hostPort must be 0 or unset).")
                _v(out, ct.path + ("ports", j, "hostPort"), _("Host Ports"), msg, who=ct.who, port=host_port,
                    level=p.level)


def _host_probes(p: _Pod, out: list[Violation]) -> None:
    for ct in p.containers:
        handlers: list[tuple[tuple[str, ...], dict[str, Any]]] = [
            ((probe,), _dict(ct.c.get(probe))) for probe in PROBES
        ]
        lifecycle = _dict(ct.c.get("lifecycle"))
        handlers += [(("lifecycle", hook), _dict(lifecycle.get(hook))) for hook in LIFECYCLE_HOOKS]
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = _dict(handler.get(action)).get("host")
                if isinstance(host, str) and host:
                    msg = _("{who} sends its {handler} to the host {host}; the {level} level of this project "
                            "does not allow probes or lifecycle hooks to set a host (leave host unset).")
                    _v(out, ct.path + where + (action, "host"), _("Host Probes / Lifecycle Hooks"), msg,
                        who=ct.who, handler=".".join(where + (action,)), host=host, level=p.level)


def _apparmor(p: _Pod, out: list[Violation]) -> None:
    annotations = _dict(p.meta.get("annotations"))
    for key, value in annotations.items():
        if not (isinstance(value, str) and str(key).startswith(APPARMOR_ANNOTATION_PREFIX)):
            continue
        if value in ("", "runtime/default") or value.startswith("localhost/"):
            continue
        msg = _("The annotation {key} sets the AppArmor profile {value}; the {level} level of this project "
                "only allows runtime/default or a localhost/ profile.")
        _v(out, p.meta_path + ("annotations", key), _("AppArmor"), msg, key=key, value=value, level=p.level)
    for sc, sc_path, who in p.contexts():
        profile = sc.get("appArmorProfile")
        if profile is None:
            continue
        kind = _dict(profile).get("type")
        if kind not in PROFILE_TYPES:
            msg = _("{who} sets the AppArmor profile type {value}; the {level} level of this project only "
                    "allows RuntimeDefault or Localhost.")
            _v(out, _deepest(sc, sc_path, ("appArmorProfile", "type")), _("AppArmor"), msg, who=who,
                value=_show(kind if kind is not None else ""), level=p.level)


def _selinux(p: _Pod, out: list[Violation]) -> None:
    for sc, sc_path, who in p.contexts():
        opts = _dict(sc.get("seLinuxOptions"))
        path = sc_path + ("seLinuxOptions",)
        kind = opts.get("type")
        if isinstance(kind, str) and kind and kind not in SELINUX_TYPES:
            msg = _("{who} sets the SELinux type {value}; the {level} level of this project only allows "
                    "{allowed} (or no type).")
            _v(out, path + ("type",), _("SELinux"), msg, who=who, value=kind, level=p.level,
                allowed=", ".join(SELINUX_TYPES))
        for field in ("user", "role"):
            value = opts.get(field)
            if isinstance(value, str) and value:
                if field == "user":
                    msg = _("{who} sets the SELinux user {value}; the {level} level of this project does not "
                            "allow setting a SELinux user.")
                else:
                    msg = _("{who} sets the SELinux role {value}; the {level} level of this project does not "
                            "allow setting a SELinux role.")
                _v(out, path + (field,), _("SELinux"), msg, who=who, value=value, level=p.level)


def _proc_mount(p: _Pod, out: list[Violation]) -> None:
    if p.level is Level.BASELINE and p.user_namespace:
        return  # baseline 1.35: a user-namespaced pod may unmask /proc; restricted still may not
    for ct in p.containers:
        value = ct.sc.get("procMount")
        if isinstance(value, str) and value != "Default":
            msg = _("{who} sets procMount to {value}; the {level} level of this project only allows the "
                    "Default /proc mount type.")
            _v(out, ct.sc_path + ("procMount",), _("/proc Mount Type"), msg, who=ct.who, value=_show(value),
                level=p.level)


def _bad_seccomp(p: _Pod, out: list[Violation], sc: dict[str, Any], sc_path: Path, who: str) -> bool:
    """Report a seccompProfile set to a forbidden type; True if one is set at all (good or bad)."""
    profile = sc.get("seccompProfile")
    if profile is None:
        return False
    kind = _dict(profile).get("type")
    if kind not in PROFILE_TYPES:
        msg = _("{who} sets the seccomp profile type {value}; the {level} level of this project only allows "
                "RuntimeDefault or Localhost.")
        _v(out, _deepest(sc, sc_path, ("seccompProfile", "type")), _("Seccomp"), msg, who=who,
            value=_show(kind if kind is not None else ""), level=p.level)
    return True


def _seccomp(p: _Pod, out: list[Violation]) -> None:
    pod_set = _bad_seccomp(p, out, p.sc, p.sc_path, _("The pod"))
    pod_ok = pod_set and _dict(p.sc.get("seccompProfile")).get("type") in PROFILE_TYPES
    for ct in p.containers:
        if _bad_seccomp(p, out, ct.sc, ct.sc_path, ct.who):
            continue
        if p.level is Level.RESTRICTED and not pod_ok and not p.windows:
            msg = _("{who} has no seccomp profile, and the pod has no allowed one either; the {level} level "
                    "of this project requires seccompProfile.type RuntimeDefault or Localhost on the pod or "
                    "on every container.")
            _v(out, _deepest(ct.c, ct.path, ("securityContext",)), _("Seccomp"), msg, who=ct.who,
                level=p.level)


def _sysctls(p: _Pod, out: list[Violation]) -> None:
    for i, sysctl in enumerate(_list(p.sc.get("sysctls"))):
        if not isinstance(sysctl, dict):
            continue
        name = sysctl.get("name")
        if name is None or isinstance(name, str):
            if name not in SAFE_SYSCTLS:
                msg = _("The pod sets the sysctl {name}; the {level} level of this project only allows these "
                        "safe sysctls: {allowed}.")
                _v(out, _deepest(sysctl, p.sc_path + ("sysctls", i), ("name",)), _("Sysctls"), msg,
                    name=_show(name or ""), level=p.level, allowed=", ".join(SAFE_SYSCTLS))


# -------------------------------------------------------------------------------------------- restricted


def _capabilities_restricted(p: _Pod, out: list[Violation]) -> None:
    if p.windows:  # PSA exempts Windows pods; the baseline rule still applies (see the module docstring)
        _capabilities_baseline(p, out)
        return
    for ct in p.containers:
        caps = _dict(ct.sc.get("capabilities"))
        drop = _list(caps.get("drop"))
        if "ALL" not in drop:
            msg = _("{who} does not drop all capabilities; the {level} level of this project requires "
                    "capabilities.drop to include ALL.")
            _v(out, _deepest(ct.c, ct.path, ("securityContext", "capabilities", "drop")), _("Capabilities"),
                msg, who=ct.who, level=p.level)
        for j, cap in enumerate(_list(caps.get("add"))):
            if isinstance(cap, str) and cap not in RESTRICTED_CAPABILITIES:
                msg = _("{who} adds the capability {cap}; the {level} level of this project only allows "
                        "adding NET_BIND_SERVICE.")
                _v(out, ct.sc_path + ("capabilities", "add", j), _("Capabilities"), msg, who=ct.who,
                    cap=_show(cap), level=p.level)


def _privilege_escalation(p: _Pod, out: list[Violation]) -> None:
    if p.windows:
        return
    for ct in p.containers:
        if ct.sc.get("allowPrivilegeEscalation") is not False:
            msg = _("{who} does not set allowPrivilegeEscalation to false; the {level} level of this project "
                    "requires it on every container.")
            _v(out, _deepest(ct.c, ct.path, ("securityContext", "allowPrivilegeEscalation")),
                _("Privilege Escalation"), msg, who=ct.who, level=p.level)


def _run_as_non_root(p: _Pod, out: list[Violation]) -> None:
    if p.user_namespace:
        return
    pod_value = p.sc.get("runAsNonRoot")
    if pod_value is False:
        msg = _("{who} sets runAsNonRoot to false; the {level} level of this project requires containers to "
                "run as a non-root user.")
        _v(out, p.sc_path + ("runAsNonRoot",), _("Running as Non-root"), msg, who=_("The pod"), level=p.level)
    for ct in p.containers:
        value = ct.sc.get("runAsNonRoot")
        if value is False:
            msg = _("{who} sets runAsNonRoot to false; the {level} level of this project requires containers "
                    "to run as a non-root user.")
            _v(out, ct.sc_path + ("runAsNonRoot",), _("Running as Non-root"), msg, who=ct.who, level=p.level)
        elif value is None and pod_value is not True:
            msg = _("{who} does not set runAsNonRoot to true, and neither does the pod; the {level} level of "
                    "this project requires it on the pod or on every container.")
            _v(out, _deepest(ct.c, ct.path, ("securityContext",)), _("Running as Non-root"), msg, who=ct.who,
                level=p.level)


def _run_as_user(p: _Pod, out: list[Violation]) -> None:
    if p.user_namespace:
        return
    for sc, sc_path, who in p.contexts():
        value = sc.get("runAsUser")
        if _is_int(value) and value == 0:
            msg = _("{who} sets runAsUser to 0 (root); the {level} level of this project does not allow "
                    "running as user 0.")
            _v(out, sc_path + ("runAsUser",), _("Running as Non-root user"), msg, who=who, level=p.level)


_BASELINE_CHECKS = (
    _host_process, _host_namespaces, _privileged, _capabilities_baseline, _volumes, _host_ports,
    _host_probes, _apparmor, _selinux, _proc_mount, _seccomp, _sysctls,
)
# At restricted, _volumes, _proc_mount and _seccomp apply their restricted rules themselves, and
# _capabilities_restricted replaces _capabilities_baseline (PSA's OverrideCheckIDs).
_RESTRICTED_CHECKS = tuple(c for c in _BASELINE_CHECKS if c is not _capabilities_baseline) + (
    _capabilities_restricted, _privilege_escalation, _run_as_non_root, _run_as_user,
)


def _order(obj: Any, path: Path) -> tuple[int, ...]:
    """Where a path is in document order (dict keys in insertion order, list items by index)."""
    key: list[int] = []
    cur = obj
    for step in path:
        if isinstance(cur, dict):
            key.append(list(cur).index(step) if step in cur else len(cur))
            cur = cur.get(step)
        elif isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur):
            key.append(step)
            cur = cur[step]
        else:
            break
    return tuple(key)


def violations(obj: dict[str, Any], level: Level | str) -> list[Violation]:
    lvl = _level(level)
    path = pod_template_path(obj)
    if lvl is Level.PRIVILEGED or path is None:
        return []
    template: Any = obj
    for step in path:
        template = template.get(step) if isinstance(template, dict) else None
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return []
    spec, spec_path = template["spec"], path + ("spec",)
    meta, containers = _dict(template.get("metadata")), list(_containers(spec, spec_path))
    pod = _Pod(meta, path + ("metadata",), spec, spec_path, containers, lvl)
    out: list[Violation] = []
    for check in _RESTRICTED_CHECKS if lvl is Level.RESTRICTED else _BASELINE_CHECKS:
        check(pod, out)
    return sorted(out, key=lambda v: _order(obj, v.path))
