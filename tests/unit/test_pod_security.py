"""Pod Security Standards: the pure mirror of Pod Security Admission (enforce-version latest)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain import pod_security
from app.domain.pod_security import (
    DEFAULT_LEVEL,
    Level,
    Violation,
    allows_host_path,
    namespace_labels,
    pod_template_path,
    violations,
)
from tests.hostile_pods import BASELINE_ONLY, CONTROLS, HOSTILE, NOT_PODS, restricted_clean, template_of

LEVELS = (Level.BASELINE, Level.RESTRICTED)


def resolve(obj: Any, path: tuple) -> Any:
    """The value at `path`; fails the test if the path does not exist."""
    cur = obj
    for step in path:
        if isinstance(cur, dict):
            assert step in cur, (path, step)
        else:
            assert isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur), (path, step)
        cur = cur[step]
    return cur


def controls(found: list[Violation]) -> set[str]:
    return {v.control for v in found}


# ---------------------------------------------------------------------------------------------- corpus


def test_corpus_shape():
    assert len(HOSTILE) >= 40 and len(BASELINE_ONLY) >= 10
    ids = [i for i, _ in HOSTILE + BASELINE_ONLY]
    assert len(ids) == len(set(ids))
    kinds = {obj["kind"] for _, obj in HOSTILE}
    assert kinds == {"Deployment", "StatefulSet"}
    for _, obj in HOSTILE + BASELINE_ONLY:
        assert obj["apiVersion"] == "apps/v1"
        name = obj["metadata"]["name"]
        assert len(name) <= 63 and name.replace("-", "").isalnum() and name == name.lower()
        assert obj["spec"]["selector"]["matchLabels"] == obj["spec"]["template"]["metadata"]["labels"]
        for list_name in ("initContainers", "containers"):
            for c in obj["spec"]["template"]["spec"].get(list_name, []):
                assert c["image"] == "nginx:1.25"
    # every baseline control is broken alone somewhere, in containers and in init containers; HostProcess
    # only with the host network, which the API server requires of a hostProcess pod
    alone = {next(iter(CONTROLS[i])) for i, _ in HOSTILE if len(CONTROLS[i]) == 1}
    assert any(CONTROLS[i] == {"HostProcess", "Host Namespaces"} for i, _ in HOSTILE)
    assert alone | {"HostProcess"} == {
        "HostProcess", "Host Namespaces", "Privileged Containers", "Capabilities", "HostPath Volumes",
        "Host Ports", "Host Probes / Lifecycle Hooks", "AppArmor", "SELinux", "/proc Mount Type", "Seccomp",
        "Sysctls",
    }  # fmt: skip
    assert any("initContainers" in template_of(o)["spec"] for _, o in HOSTILE)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("spec_id,obj", HOSTILE, ids=[i for i, _ in HOSTILE])
def test_hostile_refused(spec_id: str, obj: dict, level: Level):
    before = copy.deepcopy(obj)
    found = violations(obj, level)
    assert found, spec_id
    expected = set(CONTROLS[spec_id])
    if level == Level.RESTRICTED and "Privileged Containers" in expected:
        expected.add("Privilege Escalation")  # a privileged container must allow it (the API server's rule)
    assert controls(found) == expected
    for v in found:
        resolve(obj, v.path)
        assert v.path[:2] == ("spec", "template")
        assert v.message and "{" not in v.message and level.value in v.message
    assert obj == before  # never modified


@pytest.mark.parametrize("spec_id,obj", HOSTILE + BASELINE_ONLY, ids=[i for i, _ in HOSTILE + BASELINE_ONLY])
def test_everything_allowed_at_privileged(spec_id: str, obj: dict):
    assert violations(obj, Level.PRIVILEGED) == []
    assert violations(obj, "privileged") == []


@pytest.mark.parametrize("spec_id,obj", BASELINE_ONLY, ids=[i for i, _ in BASELINE_ONLY])
def test_baseline_only(spec_id: str, obj: dict):
    assert violations(obj, Level.BASELINE) == []
    found = violations(obj, Level.RESTRICTED)
    assert controls(found) == CONTROLS[spec_id]
    for v in found:
        resolve(obj, v.path)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "Pod"])
@pytest.mark.parametrize("level", list(Level))
def test_clean_passes(kind: str, level: Level):
    assert violations(restricted_clean("web", kind), level) == []


@pytest.mark.parametrize("spec_id,obj", NOT_PODS, ids=[i for i, _ in NOT_PODS])
def test_not_pods_ignored(spec_id: str, obj: dict):
    assert pod_template_path(obj) is None
    for level in Level:
        assert violations(obj, level) == []


# ------------------------------------------------------------------------------------------ interface


def test_levels_and_labels():
    assert DEFAULT_LEVEL is Level.BASELINE
    assert [lv.value for lv in Level] == ["privileged", "baseline", "restricted"]
    assert namespace_labels("restricted") == {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
    }
    assert all(type(v) is str for v in namespace_labels(Level.BASELINE).values())
    assert allows_host_path("privileged") and allows_host_path(Level.PRIVILEGED)
    assert not allows_host_path("baseline") and not allows_host_path(Level.RESTRICTED)
    with pytest.raises(ValueError):
        violations(restricted_clean("web"), "strict")


@pytest.mark.parametrize(
    "kind,path",
    [
        ("Pod", ()),
        ("Deployment", ("spec", "template")),
        ("StatefulSet", ("spec", "template")),
        ("DaemonSet", ("spec", "template")),
        ("ReplicaSet", ("spec", "template")),
        ("ReplicationController", ("spec", "template")),
        ("Job", ("spec", "template")),
        ("CronJob", ("spec", "jobTemplate", "spec", "template")),
        ("Service", None),
        ("PodTemplate", None),
        (None, None),
    ],
)
def test_pod_template_path(kind, path):
    assert pod_template_path({"kind": kind}) == path


def _wrap(kind: str, pod_spec: dict) -> dict:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": pod_spec}
    if kind == "CronJob":
        return {
            "kind": "CronJob",
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}},
        }
    return {"kind": kind, "spec": {"template": template}}


@pytest.mark.parametrize(
    "kind", ["Pod", "DaemonSet", "Job", "CronJob", "ReplicaSet", "ReplicationController"]
)
def test_other_pod_kinds(kind: str):
    obj = _wrap(
        kind, {"containers": [{"name": "web", "image": "x", "securityContext": {"privileged": True}}]}
    )
    [v] = violations(obj, "baseline")
    base = pod_template_path(obj) + ("spec",)
    assert v.path == base + ("containers", 0, "securityContext", "privileged")
    assert v.control == "Privileged Containers"
    assert v.message == (
        "Container web is privileged; the baseline level of this project does not allow privileged "
        "containers."
    )


def test_ephemeral_containers_and_indexes():
    spec = {
        "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x", "ports": [{"hostPort": 1}]}],
        "ephemeralContainers": [{"name": "debug", "image": "x", "securityContext": {"privileged": True}}],
        "initContainers": [{"image": "x", "securityContext": {"procMount": "Unmasked"}}],
    }
    found = violations(_wrap("Pod", spec), "baseline")
    assert [v.path for v in found] == [  # document order: containers, ephemeralContainers, initContainers
        ("spec", "containers", 1, "ports", 0, "hostPort"),
        ("spec", "ephemeralContainers", 0, "securityContext", "privileged"),
        ("spec", "initContainers", 0, "securityContext", "procMount"),
    ]
    assert found[1].message.startswith("Ephemeral container debug ")
    assert found[2].message.startswith("Init container #1 ")  # no name: its position


# ------------------------------------------------------------------------------------- control details


def pod(**spec: Any) -> dict:
    spec.setdefault("containers", [{"name": "web", "image": "x"}])
    return _wrap("Pod", spec)


def ctr(**fields: Any) -> dict:
    return pod(containers=[{"name": "web", "image": "x", **fields}])


def sc(**fields: Any) -> dict:
    return ctr(securityContext=fields)


def baseline(obj: dict) -> set[str]:
    return controls(violations(obj, "baseline"))


@pytest.mark.parametrize(
    "cap,ok",
    [(c, True) for c in pod_security.BASELINE_CAPABILITIES] + [("NET_RAW", False), ("SYS_ADMIN", False),
                                                               ("ALL", False), ("chown", False)],
)  # fmt: skip
def test_baseline_capabilities(cap: str, ok: bool):
    assert baseline(sc(capabilities={"add": [cap]})) == (set() if ok else {"Capabilities"})


def test_baseline_capabilities_list():
    assert set(pod_security.BASELINE_CAPABILITIES) == set(
        "AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP "
        "SETUID SYS_CHROOT".split()
    )


def test_restricted_capabilities():
    clean = restricted_clean("web", "Pod")
    caps = clean["spec"]["containers"][0]["securityContext"]["capabilities"]
    caps["add"] = ["NET_BIND_SERVICE"]
    assert violations(clean, "restricted") == []
    caps["add"] = ["NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN"]
    found = violations(clean, "restricted")
    assert [v.path[-1] for v in found] == [1, 2] and controls(found) == {"Capabilities"}
    assert [v.path[-1] for v in violations(clean, "baseline")] == [2]  # only SYS_ADMIN
    caps.pop("add")
    caps["drop"] = ["NET_RAW"]
    [v] = violations(clean, "restricted")
    assert v.path == ("spec", "containers", 0, "securityContext", "capabilities", "drop")
    caps["drop"] = ["all"]  # case matters, as in PSA
    assert controls(violations(clean, "restricted")) == {"Capabilities"}


def test_host_namespaces_and_ports():
    assert baseline(pod(hostNetwork=True, hostPID=True, hostIPC=True)) == {"Host Namespaces"}
    assert len(violations(pod(hostNetwork=True, hostPID=True, hostIPC=True), "baseline")) == 3
    assert baseline(pod(hostNetwork=False, hostPID=False, hostIPC=False)) == set()
    assert baseline(ctr(ports=[{"containerPort": 80, "hostPort": 0}, {"containerPort": 81}])) == set()
    assert baseline(ctr(ports=[{"containerPort": 80, "hostPort": 30080}])) == {"Host Ports"}


def test_volumes():
    vols = [
        {"name": "a", "configMap": {"name": "c"}}, {"name": "b", "secret": {"secretName": "s"}},
        {"name": "c", "emptyDir": {}}, {"name": "d", "persistentVolumeClaim": {"claimName": "p"}},
        {"name": "e", "projected": {"sources": []}}, {"name": "f", "downwardAPI": {"items": []}},
        {"name": "g", "csi": {"driver": "x"}}, {"name": "h", "ephemeral": {"volumeClaimTemplate": {}}},
        {"name": "i", "image": {"reference": "nginx:1.25"}}, {"name": "j"},  # no source: an emptyDir
    ]  # fmt: skip
    obj = restricted_clean("web", "Pod")
    obj["spec"]["volumes"] = vols
    assert violations(obj, "restricted") == []
    for kind in pod_security.OTHER_VOLUME_TYPES:
        obj["spec"]["volumes"] = [{"name": "x", kind: {}}]
        [v] = violations(obj, "restricted")
        assert v.path == ("spec", "volumes", 0, kind)
        assert v.control == ("HostPath Volumes" if kind == "hostPath" else "Volume Types")
        assert baseline(obj) == ({"HostPath Volumes"} if kind == "hostPath" else set())
    obj["spec"]["volumes"] = [{"name": "x", "hostPath": None}]  # null is unset
    assert violations(obj, "restricted") == []


def test_host_probes_and_hooks():
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        for action in ("httpGet", "tcpSocket"):
            [v] = violations(ctr(**{probe: {action: {"port": 80, "host": "10.0.0.1"}}}), "baseline")
            assert v.path == ("spec", "containers", 0, probe, action, "host")
            assert v.control == "Host Probes / Lifecycle Hooks" and "10.0.0.1" in v.message
    for hook in ("postStart", "preStop"):
        assert baseline(ctr(lifecycle={hook: {"tcpSocket": {"port": 1, "host": "x"}}})) == {
            "Host Probes / Lifecycle Hooks"
        }
    assert baseline(ctr(livenessProbe={"httpGet": {"port": 80, "host": ""}})) == set()


def test_apparmor():
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    for value, ok in [("runtime/default", True), ("localhost/mine", True), ("", True),
                      ("unconfined", False), ("docker/default", False)]:  # fmt: skip
        obj = pod()
        obj["metadata"]["annotations"] = {prefix + "web": value, "other/annotation": "unconfined"}
        found = violations(obj, "baseline")
        assert controls(found) == (set() if ok else {"AppArmor"})
        if not ok:
            assert found[0].path == ("metadata", "annotations", prefix + "web")
    for where in ("pod", "container"):
        for kind, ok in [("RuntimeDefault", True), ("Localhost", True), ("Unconfined", False), (None, False)]:
            profile = {"type": kind} if kind else {}
            obj = (
                pod(securityContext={"appArmorProfile": profile})
                if where == "pod"
                else sc(appArmorProfile=profile)
            )
            found = violations(obj, "baseline")
            assert controls(found) == (set() if ok else {"AppArmor"})
            for v in found:
                resolve(obj, v.path)


def test_selinux():
    for kind in ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"):
        assert baseline(sc(seLinuxOptions={"type": kind, "level": "s0:c123,c456"})) == set()
    assert baseline(sc(seLinuxOptions={"type": "spc_t"})) == {"SELinux"}
    found = violations(
        pod(securityContext={"seLinuxOptions": {"user": "u", "role": "r", "type": "x"}}), "baseline"
    )
    assert [v.path[-1] for v in found] == ["user", "role", "type"]  # document order


def test_proc_mount_and_user_namespaces():
    assert baseline(sc(procMount="Default")) == set()
    assert baseline(sc(procMount="Unmasked")) == {"/proc Mount Type"}
    userns = pod(hostUsers=False, containers=[{"name": "web", "image": "x", "securityContext": {
        "procMount": "Unmasked", "runAsUser": 0, "runAsNonRoot": False}}])  # fmt: skip
    assert violations(userns, "baseline") == []  # 1.35: relaxed for user-namespaced pods at baseline
    # ... but at restricted /proc stays masked; runAsNonRoot and runAsUser are relaxed
    assert controls(violations(userns, "restricted")) == {"/proc Mount Type", "Seccomp", "Capabilities",
                                                           "Privilege Escalation"}  # fmt: skip


def test_seccomp():
    for kind in ("RuntimeDefault", "Localhost"):
        assert baseline(pod(securityContext={"seccompProfile": {"type": kind}})) == set()
    assert baseline(pod()) == set()  # unset is fine at baseline
    assert baseline(sc(seccompProfile={"type": "Unconfined"})) == {"Seccomp"}
    assert baseline(sc(seccompProfile={})) == {"Seccomp"}  # set, with no type
    clean = restricted_clean("web", "Pod")
    clean["spec"]["securityContext"].pop("seccompProfile")
    [v] = violations(clean, "restricted")
    assert v.path == ("spec", "containers", 0, "securityContext") and v.control == "Seccomp"
    profile = {"type": "Localhost", "localhostProfile": "p.json"}
    clean["spec"]["containers"][0]["securityContext"]["seccompProfile"] = profile
    assert violations(clean, "restricted") == []
    # the seccomp annotations are not read by PSA at policy 1.19+
    obj = restricted_clean("web", "Pod")
    obj["metadata"]["annotations"] = {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    assert violations(obj, "restricted") == []


def test_sysctls():
    safe = [{"name": n, "value": "1"} for n in pod_security.SAFE_SYSCTLS]
    assert baseline(pod(securityContext={"sysctls": safe})) == set()
    unsafe = {"name": "net.ipv4.ip_forward", "value": "1"}
    found = violations(pod(securityContext={"sysctls": safe + [unsafe]}), "baseline")
    assert [v.path for v in found] == [("spec", "securityContext", "sysctls", len(safe), "name")]
    assert "net.ipv4.ip_forward" in found[0].message
    assert "net.ipv4.tcp_rmem" in pod_security.SAFE_SYSCTLS and len(pod_security.SAFE_SYSCTLS) == 12


def test_host_process():
    assert baseline(sc(windowsOptions={"hostProcess": False})) == set()
    [v] = violations(pod(securityContext={"windowsOptions": {"hostProcess": True}}), "baseline")
    assert (
        v.path == ("spec", "securityContext", "windowsOptions", "hostProcess") and v.control == "HostProcess"
    )


def test_run_as_non_root():
    clean = restricted_clean("web", "Pod")
    clean["spec"]["securityContext"]["runAsNonRoot"] = False
    clean["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = True
    [v] = violations(clean, "restricted")
    assert v.path == ("spec", "securityContext", "runAsNonRoot") and v.control == "Running as Non-root"
    clean["spec"]["securityContext"].pop("runAsNonRoot")
    assert violations(clean, "restricted") == []  # every container sets it
    clean["spec"]["initContainers"] = [{"name": "init", "image": "x", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]  # fmt: skip
    [v] = violations(clean, "restricted")
    assert v.path == ("spec", "initContainers", 0, "securityContext")
    assert v.message.startswith("Init container init does not set runAsNonRoot to true")


def test_run_as_user_and_privilege_escalation():
    clean = restricted_clean("web", "Pod")
    csc = clean["spec"]["containers"][0]["securityContext"]
    csc["runAsUser"] = 0
    [v] = violations(clean, "restricted")
    assert v.path[-1] == "runAsUser" and v.control == "Running as Non-root user"
    csc["runAsUser"] = 1000
    csc["allowPrivilegeEscalation"] = True
    [v] = violations(clean, "restricted")
    assert v.path[-1] == "allowPrivilegeEscalation" and v.control == "Privilege Escalation"


def test_windows_pods():
    """PSA 1.25+: a Windows pod need not drop ALL, set allowPrivilegeEscalation or a seccomp profile."""
    obj = _wrap("Pod", {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
                        "containers": [{"name": "web", "image": "x"}]})  # fmt: skip
    assert violations(obj, "restricted") == []
    obj["spec"]["containers"][0]["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]},
                                                       "seccompProfile": {"type": "Unconfined"}}  # fmt: skip
    # restricted still includes baseline (PSA would skip these; the API server refuses them anyway)
    assert controls(violations(obj, "restricted")) == {"Capabilities", "Seccomp"} == baseline(obj)


def test_restricted_includes_baseline():
    for _, obj in HOSTILE:
        b = {(v.path, v.control) for v in violations(obj, "baseline")}
        r = {(v.path, v.control) for v in violations(obj, "restricted")}
        assert {c for _, c in b} <= {c for _, c in r}


def test_document_order():
    obj = restricted_clean("web")
    t = obj["spec"]["template"]
    t["spec"]["containers"][0]["securityContext"]["privileged"] = True
    t["spec"]["hostPID"] = True  # added after containers: comes after them
    t["metadata"]["annotations"] = {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}
    found = violations(obj, "baseline")
    assert [v.control for v in found] == ["AppArmor", "Privileged Containers", "Host Namespaces"]


# ------------------------------------------------------------------------------------ hostile input


MALFORMED: list[Any] = [
    None, 1, "Pod", [], {}, {"kind": "Pod"}, {"kind": "Pod", "spec": None}, {"kind": "Pod", "spec": []},
    {"kind": "Pod", "spec": {"containers": None}}, {"kind": "Pod", "spec": {"containers": "web"}},
    {"kind": "Pod", "spec": {"containers": [None, 1, "x", [], {"securityContext": "x"}]}},
    {"kind": "Pod", "spec": {"containers": [{"securityContext": {"capabilities": "ALL"}}]}},
    {"kind": "Pod", "spec": {"containers": [{"securityContext": {"capabilities": {"add": "SYS_ADMIN",
                                                                                   "drop": {"ALL": 1}}}}]}},
    {"kind": "Pod", "spec": {"containers": [{"ports": "80"}, {"ports": [None, {"hostPort": "80"}]}]}},
    {"kind": "Pod", "spec": {"volumes": {"a": 1}, "securityContext": {"sysctls": [None, {"name": 1}]}}},
    {"kind": "Pod", "metadata": {"annotations": ["x"]}, "spec": {"containers": [{"livenessProbe": []}]}},
    {"kind": "Pod", "metadata": [], "spec": {"securityContext": [], "os": "windows", "hostUsers": "false"}},
    {"kind": "Deployment", "spec": {"template": None}}, {"kind": "Deployment", "spec": []},
    {"kind": "CronJob", "spec": {"jobTemplate": {"spec": "x"}}},
    {"kind": "Pod", "spec": {"containers": [{"name": ["x"], "lifecycle": {"preStop": {"httpGet": "x"}}}]}},
    {"kind": "Pod", "spec": {"containers": [{"securityContext": {"seccompProfile": [], "appArmorProfile": 1,
                                                                  "seLinuxOptions": {"type": ["x"]}}}]}},
]  # fmt: skip


@pytest.mark.parametrize("obj", MALFORMED)
def test_malformed_never_raises(obj: Any):
    for level in Level:
        found = violations(obj, level)
        assert isinstance(found, list)
        for v in found:
            resolve(obj, v.path)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-2, 70000)
    | st.floats(allow_nan=True)
    | st.sampled_from(
        ["", "ALL", "SYS_ADMIN", "Unconfined", "RuntimeDefault", "Unmasked", "windows", "spc_t", "x"]
    )
)
_keys = st.sampled_from(
    ["spec", "template", "jobTemplate", "metadata", "annotations", "containers", "initContainers",
     "ephemeralContainers", "securityContext", "capabilities", "add", "drop", "privileged", "hostNetwork",
     "ports", "hostPort", "volumes", "hostPath", "nfs", "name", "seccompProfile", "type", "sysctls", "os",
     "hostUsers", "livenessProbe", "httpGet", "host", "lifecycle", "preStop", "seLinuxOptions", "user",
     "appArmorProfile", "procMount", "runAsUser", "runAsNonRoot", "windowsOptions", "hostProcess",
     "container.apparmor.security.beta.kubernetes.io/x"]
)  # fmt: skip
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["Pod", "Deployment", "StatefulSet", "CronJob", "Job", "Service"]), body=_json)
def test_random_garbage_never_raises(kind: str, body: Any):
    obj = {"kind": kind, "spec": body, "metadata": body}
    for level in Level:
        for v in violations(obj, level):
            resolve(obj, v.path)
            assert v.message and v.control


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_clean_never_raises(data: st.DataObject):
    obj = restricted_clean("web", data.draw(st.sampled_from(["Deployment", "StatefulSet", "Pod"])))
    # replace one random node of a valid object with garbage
    nodes: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, child in items:
            nodes.append((node, k))
            walk(child)

    walk(obj)
    parent, key = data.draw(st.sampled_from(nodes))
    parent[key] = data.draw(_json)
    for level in Level:
        for v in violations(obj, level):
            resolve(obj, v.path)


# ------------------------------------------------------------------------------------------ messages


def test_translated_strings_are_literals():
    """Every _() gets one literal string (so it can be extracted), and no f-string."""
    source = Path(pod_security.__file__).read_text()
    calls = [n for n in ast.walk(ast.parse(source))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"]  # fmt: skip
    assert len(calls) > 30
    for call in calls:
        assert len(call.args) == 1 and isinstance(call.args[0], ast.Constant), ast.unparse(call)
        assert isinstance(call.args[0].value, str)
    imports = {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    imports |= {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert imports <= {"__future__", "collections.abc", "dataclasses", "enum", "typing", "app.i18n"}


def test_messages_name_the_value():
    found = violations(sc(capabilities={"add": ["SYS_ADMIN"]}, procMount="Unmasked"), "baseline")
    by_control = {v.control: v.message for v in found}
    assert "SYS_ADMIN" in by_control["Capabilities"] and "NET_BIND_SERVICE" in by_control["Capabilities"]
    assert "Unmasked" in by_control["/proc Mount Type"] and "Default" in by_control["/proc Mount Type"]
    assert all(m.startswith("Container web ") for m in by_control.values())
