"""Simulated nodes for the local control plane (like KWOK): `python -m devcluster.nodesim --kubeconfig K
--state-dir D [--kubelet-port P]`, started and stopped by `devcluster.localcluster`.

What it does, all through the real API (the admin-level `nodesim.kubeconfig`):
- registers the nodes (`dockyard-node-1`, `-2`) with capacity, labels and addresses (each its own
  InternalIP on loopback: 127.0.0.2, 127.0.0.3, ..., see `devcluster.node_ip`), and keeps them Ready (node Lease every 10 s, status heartbeat every 30 s);
- schedules pending pods (no kube-scheduler runs): honours nodeSelector, required node affinity and
  unbound PersistentVolumeClaims, then POSTs the `binding` subresource;
- "runs" them: status Running with a unique pod IP, host IP 127.0.0.1, container statuses and Ready
  conditions, so Endpoints fill and rollouts complete; init containers complete first; pods of Jobs
  complete after a few seconds; deleted pods are removed (grace period 0);
- makes pods fail on request (see `container_mode`): an image tagged `crash` or `fail` crash-loops,
  an image containing `notfound` cannot be pulled; the pod annotation `dockyard.dev/simulate:
  crashloop|imagepullbackoff|notready` does the same for all of a pod's containers;
- emits the kubelet's and scheduler's Events (Scheduled, Pulled, Created, Started, BackOff, Failed);
- provisions a PersistentVolume for each claim of the `dockyard.dev/fake` StorageClass;
- serves container logs and the kubelet's resource metrics (`/metrics/resource`, scraped by the real
  metrics-server, which serves `metrics.k8s.io`) on each node's InternalIP (`devcluster.fakekubelet`).

Watches, not polling; pod work runs on a bounded pool of workers, and Events yield to it
under load (a burst of thousands of pods starts first; Events may then be dropped, as a kubelet's are).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.kube.client import CONSOLE, KubeGateway, Obj
from app.kube.errors import KubeError
from app.kube.resources import ALL_NAMESPACES
from devcluster import K8S_VERSION, node_ip, run_until_signalled
from devcluster.fakekubelet import ContainerLog, ContainerUsage, FakeKubelet, NodeUsage

log = logging.getLogger("dockyard.nodesim")

SIMULATE_ANNOTATION = "dockyard.dev/simulate"
RUN_SECONDS_ANNOTATION = "dockyard.dev/run-seconds"
PROVISIONER = "dockyard.dev/fake"
FIELD_MANAGER = "dockyard-nodesim"
NODE_LABEL = "dockyard.dev/simulated"
HOST_IP = "127.0.0.1"
NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")

# Crash and image-pull loops: a run (or pull attempt) lasts RUN_SECONDS, then the kubelet backs off
# 2 s, 4 s, 8 s ... up to 60 s (a real kubelet starts at 10 s and stops at 5 min; shorter here so
# tests see restarts within seconds).
RUN_SECONDS = 1.0
BACKOFF_BASE = 2.0
BACKOFF_CAP = 60.0
JOB_RUN_SECONDS = 2.0

POD_WORKERS = 24
EVENT_WORKERS = 4
EVENT_QUEUE = 2000
BUSY = 100  # pod work queue length above which Events wait
NODE_OWN_CPU = 0.15  # cores the node's own processes use
NODE_OWN_MEMORY = 1.2 * 2**30


def now_rfc3339(t: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if t is None else t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_rfc3339(t: float | None = None) -> str:
    when = dt.datetime.fromtimestamp(time.time() if t is None else t, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _sha(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


# -- quantities ------------------------------------------------------------------------------------

_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity as a float (`"100m"` -> 0.1, `"1Gi"` -> 1073741824); 0 if unreadable."""
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value or ""))
    if not m or m.group(2) not in _SUFFIX:
        return 0.0
    return float(m.group(1)) * _SUFFIX[m.group(2)]


# -- what a container does ------------------------------------------------------------------------

def image_tag(image: str) -> str:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.partition(":")[2]


def container_mode(pod: Obj, container: Obj, *, init: bool) -> str:
    """`run`, `notready`, `crash` or `pull` (image cannot be pulled).

    By image: a tag of `crash` or `fail` (`nginx:crash`) crash-loops; an image containing `notfound`
    (`example.com/notfound:1`) fails to pull. By the pod annotation `dockyard.dev/simulate`:
    `crashloop`, `imagepullbackoff` or `notready` applies to every (non-init) container.
    """
    image = str(container.get("image") or "")
    if "notfound" in image.lower():
        return "pull"
    if image_tag(image).lower() in ("crash", "fail"):
        return "crash"
    if not init:
        wanted = ((pod.get("metadata") or {}).get("annotations") or {}).get(SIMULATE_ANNOTATION, "").lower()
        if wanted in ("crashloop", "crashloopbackoff", "crash"):
            return "crash"
        if wanted in ("imagepullbackoff", "errimagepull"):
            return "pull"
        if wanted == "notready":
            return "notready"
    return "run"


def loop_position(elapsed: float) -> tuple[int, bool, float, float, float]:
    """Where a crash (or pull) loop is `elapsed` seconds after the pod started:
    (attempt n, running now?, phase start, phase end, back-off of this attempt), times relative."""
    t, n = 0.0, 0
    while True:
        run_end = t + RUN_SECONDS
        backoff = min(BACKOFF_BASE * 2**n, BACKOFF_CAP)
        if elapsed < run_end:
            return n, True, t, run_end, backoff
        nxt = run_end + backoff
        if elapsed < nxt:
            return n, False, run_end, nxt, backoff
        t, n = nxt, n + 1


def attempt_start(k: int) -> float:
    """Seconds after the pod started at which attempt k of a crash loop starts."""
    return sum(RUN_SECONDS + min(BACKOFF_BASE * 2**i, BACKOFF_CAP) for i in range(k))


def normalized_image(image: str) -> str:
    name = image.split("@", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    return f"{normalized_image(image).rsplit(':', 1)[0]}@sha256:{_sha('image', normalized_image(image))}"


@dataclass
class Simulated:
    """The status the simulator computes for a pod at one moment, and when it next changes."""

    status: Obj
    next_change: float | None  # unix time
    logs: dict[str, ContainerLog]
    running: list[str]  # containers running (they get metrics)


def simulate(pod: Obj, started: float, now: float, ip: str, node: str) -> Simulated:
    """A pure function of the pod's spec, when it started and the time: the kubelet's status report."""
    meta, spec = pod["metadata"], pod["spec"]
    ns, name = meta.get("namespace", ""), meta["name"]
    restart_policy = spec.get("restartPolicy") or "Always"
    is_job = any(o.get("kind") == "Job" for o in meta.get("ownerReferences") or [])
    try:
        job_seconds = float((meta.get("annotations") or {}).get(RUN_SECONDS_ANNOTATION, JOB_RUN_SECONDS))
    except ValueError:
        job_seconds = JOB_RUN_SECONDS
    elapsed = max(0.0, now - started)
    changes: list[float] = []
    logs: dict[str, ContainerLog] = {}
    running: list[str] = []
    ts = now_rfc3339

    def base(c: Obj) -> Obj:
        return {"name": c["name"], "image": c.get("image", ""), "imageID": "", "restartCount": 0,
                "ready": False, "started": False}

    def ids(st: Obj, c: Obj, attempt: int) -> None:
        st["imageID"] = image_id(c.get("image", ""))
        st["containerID"] = "containerd://" + _sha(meta.get("uid"), c["name"], attempt)

    def clog(c: Obj, start: float, end: float | None = None, crashed: bool = False, attempt: int = 0,
             previous: ContainerLog | None = None, waiting: str | None = None) -> ContainerLog:
        return ContainerLog(ns, name, c["name"], c.get("image", ""), start, end, crashed, waiting, attempt,
                            previous)

    def loop_status(c: Obj, mode: str) -> tuple[Obj, bool]:
        """A crash- or pull-looping container; returns (status, terminal failure?)."""
        st = base(c)
        n, in_run, _p_start, p_end, backoff = loop_position(elapsed)
        changes.append(started + p_end)
        if mode == "pull":
            image, ref = c.get("image", ""), normalized_image(c.get("image", ""))
            if in_run:
                st["state"] = {"waiting": {"reason": "ErrImagePull", "message": (
                    f"rpc error: code = NotFound desc = failed to pull and unpack image \"{ref}\": "
                    f"failed to resolve reference \"{ref}\": {ref}: not found")}}
            else:
                st["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                           "message": f"Back-off pulling image \"{image}\""}}
            logs[c["name"]] = clog(c, started, waiting="trying and failing to pull image")
            return st, False

        def run_log(k: int, previous: ContainerLog | None = None) -> ContainerLog:
            begin = started + attempt_start(k)
            return clog(c, begin, begin + RUN_SECONDS, crashed=True, attempt=k, previous=previous)

        def terminated(k: int) -> Obj:
            begin = started + attempt_start(k)
            return {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": ts(begin),
                                   "finishedAt": ts(begin + RUN_SECONDS),
                                   "containerID": "containerd://" + _sha(meta.get("uid"), c["name"], k)}}

        ids(st, c, n)
        if restart_policy == "Never":
            if in_run and n == 0:
                st.update(started=True, state={"running": {"startedAt": ts(started)}})
                logs[c["name"]] = clog(c, started)
                return st, False
            st["state"] = terminated(0)
            logs[c["name"]] = run_log(0)
            return st, True
        st["restartCount"] = n
        previous = run_log(n - 1) if n > 0 else None
        if in_run:
            st.update(started=True, state={"running": {"startedAt": ts(started + attempt_start(n))}})
            if n > 0:
                st["lastState"] = terminated(n - 1)
            logs[c["name"]] = clog(c, started + attempt_start(n), attempt=n, previous=previous)
        else:
            st["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": (
                f"back-off {backoff:g}s restarting failed container={c['name']} "
                f"pod={name}_{ns}({meta.get('uid')})")}}
            st["lastState"] = terminated(n)
            logs[c["name"]] = run_log(n, previous)
        return st, False

    # Init containers run one after the other; each one that works completes at once.
    init_statuses: list[Obj] = []
    initialized, init_failed = True, False
    for c in spec.get("initContainers") or []:
        if not initialized:
            st = base(c)
            st["state"] = {"waiting": {"reason": "PodInitializing"}}
            init_statuses.append(st)
            continue
        mode = container_mode(pod, c, init=True)
        if mode in ("crash", "pull"):
            st, init_failed = loop_status(c, mode)
            st["ready"] = False
            initialized = False
        else:
            st = base(c)
            ids(st, c, 0)
            st["ready"] = True
            st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ts(started),
                                          "finishedAt": ts(started), "containerID": st["containerID"]}}
            logs[c["name"]] = clog(c, started, started)
        init_statuses.append(st)

    statuses: list[Obj] = []
    for c in spec.get("containers") or []:
        if not initialized:
            st = base(c)
            st["state"] = {"waiting": {"reason": "PodInitializing"}}
            logs[c["name"]] = clog(c, started, waiting="PodInitializing")
            statuses.append(st)
            continue
        mode = container_mode(pod, c, init=False)
        if mode in ("crash", "pull"):
            st, _terminal = loop_status(c, mode)
        elif is_job and restart_policy != "Always":
            st = base(c)
            ids(st, c, 0)
            if elapsed < job_seconds:
                st.update(ready=True, started=True, state={"running": {"startedAt": ts(started)}})
                changes.append(started + job_seconds)
                logs[c["name"]] = clog(c, started)
            else:
                st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ts(started),
                                              "finishedAt": ts(started + job_seconds),
                                              "containerID": st["containerID"]}}
                logs[c["name"]] = clog(c, started, started + job_seconds)
        else:
            st = base(c)
            ids(st, c, 0)
            st.update(ready=mode != "notready", started=True, state={"running": {"startedAt": ts(started)}})
            logs[c["name"]] = clog(c, started)
        if "running" in st["state"] and mode != "crash":  # a crash loop's short runs get no metrics
            running.append(c["name"])
        statuses.append(st)

    states = [next(iter(s["state"])) for s in statuses]
    pulling = any(s["state"].get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff")
                  for s in statuses)
    if init_failed:
        phase = "Failed"
    elif not initialized:
        phase = "Pending"
    elif states and all(s == "terminated" for s in states):
        failed = any(s["state"]["terminated"]["exitCode"] != 0 for s in statuses)
        phase = "Failed" if failed else "Succeeded"
    elif pulling:
        phase = "Pending"
    else:
        phase = "Running"
    ready = phase == "Running" and all(s["ready"] for s in statuses)
    unready = [s["name"] for s in statuses if not s["ready"]]
    start_ts = ts(started)

    def cond(kind: str, ok: bool, reason: str | None = None, message: str | None = None) -> Obj:
        c: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None,
                  "lastTransitionTime": start_ts}
        if not ok and reason:
            c["reason"] = reason
        if not ok and message:
            c["message"] = message
        return c

    not_ready_reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
    not_ready_msg = (None if phase in ("Succeeded", "Failed")
                     else f"containers with unready status: [{' '.join(unready)}]")
    conditions = [
        cond("Initialized", initialized, "ContainersNotInitialized",
             "containers with incomplete status: [" + " ".join(
                 s["name"] for s in init_statuses if "terminated" not in s["state"]) + "]"),
        cond("Ready", ready, not_ready_reason, not_ready_msg),
        cond("ContainersReady", ready, not_ready_reason, not_ready_msg),
        cond("PodScheduled", True),
    ]
    status: Obj = {
        "phase": phase, "conditions": conditions, "hostIP": HOST_IP, "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": start_ts, "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    future = [t for t in changes if t > now]
    return Simulated(status, min(future) if future else None, logs, running if phase == "Running" else [])


def _short_state(st: Obj | None) -> tuple[str, str, int]:
    if not st:
        return ("", "", -1)
    kind, detail = next(iter((st.get("state") or {"": {}}).items()))
    return kind, (detail or {}).get("reason", ""), int(st.get("restartCount") or 0)


def transition_events(old: Obj | None, new: Obj) -> list[tuple[str, str, str]]:
    """The kubelet's Events (type, reason, message) for a container status change."""
    image, name = new.get("image", ""), new["name"]
    o_kind, o_reason, o_restarts = _short_state(old)
    n_kind, n_reason, n_restarts = _short_state(new)
    out: list[tuple[str, str, str]] = []
    if (o_kind, o_reason, o_restarts) == (n_kind, n_reason, n_restarts):
        return out
    started_now = n_kind == "running" and (o_kind != "running" or o_restarts != n_restarts)
    ran_through = n_kind == "terminated" and o_kind not in ("running", "terminated")
    if started_now or ran_through:
        out += [("Normal", "Pulled", f"Container image \"{image}\" already present on machine"),
                ("Normal", "Created", f"Created container {name}"),
                ("Normal", "Started", f"Started container {name}")]
    if n_kind == "waiting" and n_reason == "CrashLoopBackOff":
        out.append(("Warning", "BackOff", "Back-off restarting failed container"))
    if n_kind == "waiting" and n_reason == "ErrImagePull":
        msg = (new["state"]["waiting"].get("message") or "").strip()
        out += [("Normal", "Pulling", f"Pulling image \"{image}\""),
                ("Warning", "Failed", f"Failed to pull image \"{image}\": {msg}"),
                ("Warning", "Failed", "Error: ErrImagePull")]
    if n_kind == "waiting" and n_reason == "ImagePullBackOff":
        out += [("Normal", "BackOff", f"Back-off pulling image \"{image}\""),
                ("Warning", "Failed", "Error: ImagePullBackOff")]
    return out


def probe_events(old: Obj | None, new: Obj, container: Obj, pod_ip: str | None) -> list[tuple[str, str, str]]:
    """The kubelet's Unhealthy Event when a running container's readiness probe starts failing (a
    `notready` container with a readinessProbe), worded as the kubelet words it for the probe's kind."""
    probe = container.get("readinessProbe") or {}
    running_not_ready = "running" in (new.get("state") or {}) and not new.get("ready")
    was = old is not None and "running" in (old.get("state") or {}) and not old.get("ready")
    if not probe or not running_not_ready or was:
        return []
    if "httpGet" in probe:
        failure = "HTTP probe failed with statuscode: 503"
    elif "tcpSocket" in probe:
        port = (probe["tcpSocket"] or {}).get("port", "")
        failure = f"dial tcp {pod_ip or '127.0.0.1'}:{port}: connect: connection refused"
    elif "grpc" in probe:
        failure = "timeout: failed to connect service within 1s"
    else:
        command = " ".join(str(a) for a in ((probe.get("exec") or {}).get("command") or []))
        failure = f"command \"{command}\" exited with 1"
    return [("Warning", "Unhealthy", f"Readiness probe failed: {failure}")]


# -- scheduling ------------------------------------------------------------------------------------

def _match_expression(labels: dict[str, str], expr: Obj) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            a, b = int(labels.get(key, "")), int(values[0])
        except (ValueError, IndexError):
            return False
        return a > b if op == "Gt" else a < b
    return False


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if (t.get("operator") or "Equal") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def node_fits(pod: Obj, node_name: str, labels: dict[str, str], node_spec: Obj | None = None) -> bool:
    """The scheduler's filters that matter here: cordon, taints, nodeSelector, required node affinity."""
    spec = pod["spec"]
    tolerations = spec.get("tolerations") or []
    node_spec = node_spec or {}
    if node_spec.get("unschedulable") and not tolerates(
            tolerations, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return False
    for taint in node_spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        fields = {"metadata.name": node_name}
        ok = False
        for term in terms:
            exprs = term.get("matchExpressions") or []
            field_exprs = term.get("matchFields") or []
            if all(_match_expression(labels, e) for e in exprs) and all(
                    _match_expression(fields, e) for e in field_exprs):
                ok = True
                break
        if not ok:
            return False
    return True


# -- the simulator -----------------------------------------------------------------------------------

@dataclass
class PodState:
    uid: str
    key: str
    node: str
    ip: str
    started: float
    last_status: Obj | None = None
    timer: asyncio.TimerHandle | None = None
    logs: dict[str, ContainerLog] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    waiting_reported: bool = False


class IPAllocator:
    """Unique pod IPs from each node's range (10.244.0.0/18, 10.244.64.0/18, ...)."""

    def __init__(self, cidr: ipaddress.IPv4Network) -> None:
        self.cidr = cidr
        self.used: set[str] = set()
        self.cursor = 0

    def reserve(self, ip: str) -> None:
        self.used.add(ip)

    def allocate(self) -> str:
        hosts = self.cidr.num_addresses
        for _ in range(hosts):
            self.cursor = (self.cursor + 1) % hosts
            addr = self.cidr.network_address + self.cursor
            if addr.packed[-1] in (0, 1, 255):
                continue
            ip = str(addr)
            if ip not in self.used:
                self.used.add(ip)
                return ip
        raise RuntimeError(f"pod IP range {self.cidr} exhausted")

    def release(self, ip: str) -> None:
        self.used.discard(ip)


class NodeSimulator:
    def __init__(self, gw: KubeGateway, *, nodes: list[str], kubelet_port: int, pki: Path) -> None:
        self.gw = gw
        self.nodes = nodes
        subnets = list(POD_NETWORK.subnets(new_prefix=18))
        self.cidrs = {n: subnets[i % len(subnets)] for i, n in enumerate(nodes)}
        self.ips = {n: IPAllocator(self.cidrs[n]) for n in nodes}
        self.node_labels: dict[str, dict[str, str]] = {}
        self.node_specs: dict[str, Obj] = {}  # kept current by the nodes watch (cordon, taints)
        self.kubelet_port = kubelet_port
        self.node_ips = {n: node_ip(i) for i, n in enumerate(nodes)}
        self.node_by_ip = {ip: n for n, ip in self.node_ips.items()}
        # node -> (cumulative CPU seconds, unix time it was counted up to): a counter that never goes back,
        # also when pods go away
        self.node_cpu = {n: (1.0, time.time()) for n in nodes}
        self.kubelet = FakeKubelet(self.container_log, cert=pki / "kubelet.crt", key=pki / "kubelet.key",
                                   hosts=tuple(self.node_ips.values()), port=kubelet_port,
                                   usage=self.node_usage)
        self.pods: dict[str, Obj] = {}  # "ns/name" -> latest object
        self.states: dict[str, PodState] = {}  # uid -> simulated state
        self.pvcs: dict[str, Obj] = {}  # "ns/name" -> latest claim
        self.waiting_for_claim: dict[str, set[str]] = {}  # claim key -> pod keys
        self.classes: dict[str, str] = {}  # StorageClass -> provisioner
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.events: asyncio.Queue[Obj] = asyncio.Queue(maxsize=EVENT_QUEUE)
        self.event_counts: dict[str, dict[tuple[str, str, str], tuple[str, int]]] = {}
        self.dropped_events = 0
        self.synced = asyncio.Event()
        self.stats = {"bound": 0, "started": 0, "deleted": 0, "status": 0}
        self.processing: set[str] = set()
        self.redo: set[str] = set()
        self._since: dict[str, str] = {}
        self._boot = str(time.time())
        self.node_uids: dict[str, str] = {}
        self.side_tasks: set[asyncio.Future[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.kubelet.start()
        await self.register_nodes()
        tasks = [
            self._forever("nodes", self.watch_nodes),
            self._forever("pods", self.watch_pods),
            self._forever("claims", self.watch_claims),
            self._forever("heartbeat", self.heartbeat),
            self._forever("stats", self.report),
        ]
        tasks += [self._forever("pod worker", self.pod_worker) for _ in range(POD_WORKERS)]
        tasks += [self._forever("event worker", self.event_worker) for _ in range(EVENT_WORKERS)]
        try:
            await asyncio.gather(*tasks)
        finally:
            await self.kubelet.stop()

    async def _forever(self, what: str, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except KubeError as e:
                log.warning("%s: %s", what, e)
                await asyncio.sleep(1)
            except Exception:
                log.exception("%s failed; restarting it", what)
                await asyncio.sleep(1)

    async def report(self) -> None:
        await asyncio.sleep(30)
        running = sum(1 for s in self.states.values()
                      if s.last_status and s.last_status["phase"] == "Running")
        log.info("pods known %d, simulated %d, running %d; queue %d; %s; events dropped %d", len(self.pods),
                 len(self.states), running, self.queue.qsize(), self.stats, self.dropped_events)

    # -- nodes ----------------------------------------------------------------------------------
    def node_object(self, index: int, name: str) -> Obj:
        cidr = str(self.cidrs[name])
        labels = {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
            "node-role.kubernetes.io/worker": "",
            "topology.kubernetes.io/zone": f"dockyard-{'abc'[index % 3]}",
            NODE_LABEL: "true",
        }
        self.node_labels[name] = labels
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "dockyard.dev/simulator": "devcluster.nodesim"}},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        }

    def node_status(self, name: str) -> Obj:
        now = now_rfc3339()
        conditions = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated by Dockyard)"),
        ]
        return {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "7800m", "memory": "31Gi", "pods": "110", "ephemeral-storage": "95Gi"},
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m, "lastHeartbeatTime": now,
                 "lastTransitionTime": self._since.get(name, now)}
                for t, s, r, m in conditions
            ],
            "addresses": [{"type": "InternalIP", "address": self.node_ips[name]},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {
                "machineID": _sha("machine", name)[:32], "systemUUID": _sha("uuid", name)[:32],
                "bootID": _sha("boot", name, self._boot)[:32], "kernelVersion": "6.1.0-dockyard",
                "osImage": "Dockyard simulated node", "containerRuntimeVersion": "containerd://1.6.20",
                "kubeletVersion": f"v{K8S_VERSION}", "kubeProxyVersion": f"v{K8S_VERSION}", "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    async def register_nodes(self) -> None:
        for i, name in enumerate(self.nodes):
            obj = self.node_object(i, name)
            try:
                created = await self.gw.create(obj, namespace=None, actor=CONSOLE,
                                               field_manager=FIELD_MANAGER)
                log.info("registered node %s", name)
            except KubeError as e:
                if not e.conflict:
                    raise
                created = await self.gw.merge_patch(
                    "Node", None, name, {"metadata": {"labels": obj["metadata"]["labels"]},
                                         "spec": {"unschedulable": None}},
                    actor=CONSOLE, field_manager=FIELD_MANAGER)
            self.node_uids[name] = created["metadata"]["uid"]
            self._since[name] = now_rfc3339()
            await self.gw.merge_patch("Node", None, name, {"status": self.node_status(name)}, actor=CONSOLE,
                                      subresource="status", field_manager=FIELD_MANAGER)
            # The node lifecycle controller is off, so lift the taints the API server put on the new
            # node (TaintNodesByCondition) now that it is Ready, as that controller would.
            taints = (created.get("spec") or {}).get("taints") or []
            kept = [t for t in taints if t.get("key") not in NOT_READY_TAINTS]
            if kept != taints:
                created = await self.gw.merge_patch("Node", None, name, {"spec": {"taints": kept or None}},
                                                    actor=CONSOLE, field_manager=FIELD_MANAGER)
            self.node_specs[name] = created.get("spec") or {}

    async def heartbeat(self) -> None:
        beat = 0
        while True:
            for name in self.nodes:
                lease = {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self.node_uids[name]}]},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                             "renewTime": micro_rfc3339()},
                }
                await self.gw.apply(lease, namespace="kube-node-lease", actor=CONSOLE,
                                    field_manager=FIELD_MANAGER)
                if beat % 3 == 0:
                    await self.gw.merge_patch("Node", None, name, {"status": self.node_status(name)},
                                              actor=CONSOLE, subresource="status",
                                              field_manager=FIELD_MANAGER)
            beat += 1
            await asyncio.sleep(10)

    # -- informers --------------------------------------------------------------------------------
    async def _informer(self, kind: str, on_list: Callable[[list[Obj]], None],
                        on_event: Callable[[str, Obj], None]) -> None:
        rv: str | None = None
        while True:
            if rv is None:
                items: list[Obj] = []
                token: str | None = None
                while True:
                    page = await self.gw.list(kind, ALL_NAMESPACES, actor=CONSOLE, limit=500,
                                              continue_token=token)
                    items += page.get("items") or []
                    token = (page.get("metadata") or {}).get("continue")
                    if not token:
                        rv = page["metadata"]["resourceVersion"]
                        break
                on_list(items)
            try:
                async for event in self.gw.watch(kind, ALL_NAMESPACES, actor=CONSOLE, resource_version=rv,
                                                 timeout_seconds=240):
                    kind_of = event.get("type")
                    obj = event.get("object") or {}
                    if kind_of == "ERROR":
                        if obj.get("code") == 410:
                            rv = None
                        else:
                            log.warning("%s watch error: %s", kind, obj.get("message"))
                        break
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    if kind_of != "BOOKMARK":
                        on_event(kind_of, obj)
            except KubeError as e:
                if e.status == 410:
                    rv = None
                else:
                    raise

    async def watch_nodes(self) -> None:
        def update(node: Obj) -> None:
            name = node["metadata"]["name"]
            if name in self.ips:
                was_blocked = self.node_specs.get(name) != (node.get("spec") or {})
                self.node_labels[name] = node["metadata"].get("labels") or {}
                self.node_specs[name] = node.get("spec") or {}
                if was_blocked:  # pods that did not fit may fit now
                    for key, pod in self.pods.items():
                        if not pod["spec"].get("nodeName") and not pod["metadata"].get("deletionTimestamp"):
                            self.enqueue(key)

        def on_list(items: list[Obj]) -> None:
            for node in items:
                update(node)

        def on_event(kind: str, node: Obj) -> None:
            if kind != "DELETED":
                update(node)

        await self._informer("Node", on_list, on_event)

    async def watch_pods(self) -> None:
        def on_list(items: list[Obj]) -> None:
            seen = set()
            for pod in items:
                key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
                seen.add(key)
                self.pods[key] = pod
                self._adopt_ip(pod)
                self.enqueue(key)
            for key in set(self.pods) - seen:
                self._forget(self.pods.pop(key))
            self.synced.set()

        def on_event(kind: str, pod: Obj) -> None:
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            if kind == "DELETED":
                current = self.pods.get(key)
                if current is not None and current["metadata"]["uid"] == pod["metadata"]["uid"]:
                    del self.pods[key]
                self._forget(pod)
                return
            old = self.pods.get(key)
            if old is not None and old["metadata"]["uid"] != pod["metadata"]["uid"]:
                self._forget(old)
            self.pods[key] = pod
            if self._needs_work(pod):
                self.enqueue(key)

        await self._informer("Pod", on_list, on_event)

    def _adopt_ip(self, pod: Obj) -> None:
        node, ip = pod["spec"].get("nodeName"), (pod.get("status") or {}).get("podIP")
        if node in self.ips and ip:
            self.ips[node].reserve(ip)

    def _forget(self, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        state = self.states.pop(uid, None)
        if state is not None:
            if state.timer is not None:
                state.timer.cancel()
            self.ips[state.node].release(state.ip)
            self.stats["deleted"] += 1
        self.event_counts.pop(uid, None)

    def _needs_work(self, pod: Obj) -> bool:
        meta, spec = pod["metadata"], pod["spec"]
        node = spec.get("nodeName")
        if meta.get("deletionTimestamp"):
            return node in self.ips
        if not node:
            return spec.get("schedulerName") in (None, "default-scheduler")
        if node not in self.ips:
            return False
        state = self.states.get(meta["uid"])
        if state is None:
            return True
        # A changed spec (a new image) changes the simulated status.
        return [c.get("image") for c in spec.get("containers") or []] != [
            c.get("image") for c in (state.last_status or {}).get("containerStatuses") or []]

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a side job; keep a reference so the event loop does not drop it half way."""
        task = asyncio.ensure_future(coro)
        self.side_tasks.add(task)
        task.add_done_callback(self.side_tasks.discard)

    def enqueue(self, key: str) -> None:
        if key in self.processing:  # a worker has it: it goes round again when that worker is done
            self.redo.add(key)
            return
        if key not in self.queued:
            self.queued.add(key)
            self.queue.put_nowait(key)

    async def watch_claims(self) -> None:
        def on_list(items: list[Obj]) -> None:
            self.pvcs = {f"{c['metadata']['namespace']}/{c['metadata']['name']}": c for c in items}
            for claim in items:
                self._claim_changed(claim)

        def on_event(kind: str, claim: Obj) -> None:
            key = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
            if kind == "DELETED":
                self.pvcs.pop(key, None)
                self.spawn(self._delete_volume(claim))
                return
            self.pvcs[key] = claim
            self._claim_changed(claim)

        await self._informer("PersistentVolumeClaim", on_list, on_event)

    def _claim_changed(self, claim: Obj) -> None:
        key = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
        phase = (claim.get("status") or {}).get("phase")
        if phase == "Bound":
            for pod_key in self.waiting_for_claim.pop(key, set()):
                self.enqueue(pod_key)
        elif not claim["spec"].get("volumeName") and not claim["metadata"].get("deletionTimestamp"):
            self.spawn(self._provision(claim))

    # -- volumes ----------------------------------------------------------------------------------
    async def _provisioner_of(self, class_name: str | None) -> str | None:
        if not class_name:
            return None
        if class_name not in self.classes:
            try:
                sc = await self.gw.get("StorageClass", None, class_name, actor=CONSOLE)
            except KubeError as e:
                if e.not_found:
                    return None
                raise
            self.classes[class_name] = sc.get("provisioner", "")
        return self.classes[class_name]

    async def _provision(self, claim: Obj) -> None:
        meta, spec = claim["metadata"], claim["spec"]
        try:
            if await self._provisioner_of(spec.get("storageClassName")) != PROVISIONER:
                return
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            pv = {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"pvc-{meta['uid']}", "labels": {NODE_LABEL: "true"},
                             "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": spec.get("storageClassName"),
                    "volumeMode": spec.get("volumeMode") or "Filesystem",
                    "hostPath": {"path": f"/var/lib/dockyard-sim/volumes/pvc-{meta['uid']}",
                                 "type": "DirectoryOrCreate"},
                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                 "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
                },
            }
            await self.gw.create(pv, namespace=None, actor=CONSOLE, field_manager=FIELD_MANAGER)
            volume = pv["metadata"]["name"]
            log.info("provisioned %s for claim %s/%s", volume, meta["namespace"], meta["name"])
            await self.emit(claim, "PersistentVolumeClaim", "Normal", "ProvisioningSucceeded",
                            f"Successfully provisioned volume {volume}", component=PROVISIONER)
        except KubeError as e:
            if not e.conflict:
                log.warning("provisioning %s/%s: %s", meta["namespace"], meta["name"], e)

    async def _delete_volume(self, claim: Obj) -> None:
        try:
            await self.gw.delete("PersistentVolume", None, f"pvc-{claim['metadata']['uid']}", actor=CONSOLE)
        except KubeError as e:
            if not e.not_found:
                log.warning("deleting the volume of %s: %s", claim["metadata"]["name"], e)

    # -- pods -------------------------------------------------------------------------------------
    async def pod_worker(self) -> None:
        while True:
            key = await self.queue.get()
            self.queued.discard(key)
            pod = self.pods.get(key)
            if pod is None:
                continue
            self.processing.add(key)
            try:
                await self.reconcile(pod)
            except KubeError as e:
                if not e.not_found:
                    log.warning("pod %s: %s", key, e)
                    asyncio.get_running_loop().call_later(1.0, self.enqueue, key)
            finally:
                self.processing.discard(key)
                if key in self.redo:
                    self.redo.discard(key)
                    self.enqueue(key)

    async def reconcile(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        node = spec.get("nodeName")
        if meta.get("deletionTimestamp"):
            if node in self.ips:
                try:
                    await self.gw.delete("Pod", ns, name, actor=CONSOLE, grace_period_seconds=0, uid=uid)
                except KubeError as e:
                    if not (e.not_found or e.conflict):
                        raise
            return
        if not node:
            if spec.get("schedulerName") not in (None, "default-scheduler"):
                return
            node = await self.schedule(pod)
            if node is None:
                return
            pod = {**pod, "spec": {**spec, "nodeName": node}}
        if node not in self.ips:
            return
        state = self.states.get(uid)
        if state is None:
            state = self._state_for(pod, node)
            self.states[uid] = state
        await self.advance(pod, state)

    def _state_for(self, pod: Obj, node: str) -> PodState:
        """A new simulated pod, or one this process finds already running (after a restart)."""
        status = pod.get("status") or {}
        uid, key = pod["metadata"]["uid"], f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        started = parse_time(status.get("startTime"))
        if status.get("podIP") and started is not None:
            self.ips[node].reserve(status["podIP"])
            return PodState(uid, key, node, status["podIP"], started, last_status=None)
        return PodState(uid, key, node, self.ips[node].allocate(), time.time())

    async def schedule(self, pod: Obj) -> str | None:
        meta, spec = pod["metadata"], pod["spec"]
        ns, name = meta["namespace"], meta["name"]
        key = f"{ns}/{name}"
        for volume in spec.get("volumes") or []:
            claim_name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim_name:
                continue
            claim_key = f"{ns}/{claim_name}"
            claim = self.pvcs.get(claim_key)
            if claim is None or (claim.get("status") or {}).get("phase") != "Bound":
                self.waiting_for_claim.setdefault(claim_key, set()).add(key)
                if claim is None:
                    # The claim may exist already and the claims watch lag behind: look again soon.
                    asyncio.get_running_loop().call_later(2.0, self.enqueue, key)
                count = len(self.nodes)
                msg = (f"persistentvolumeclaim \"{claim_name}\" not found" if claim is None else
                       f"0/{count} nodes are available: {count} pod has unbound immediate "
                       "PersistentVolumeClaims.")
                await self._unschedulable(pod, msg)
                return None
        fitting = [n for n in self.nodes
                   if node_fits(pod, n, self.node_labels.get(n, {}), self.node_specs.get(n))]
        if not fitting:
            count = len(self.nodes)
            await self._unschedulable(pod, (
                f"0/{count} nodes are available: {count} node(s) didn't match Pod's node "
                "affinity/selector, were unschedulable or had taints that the pod didn't tolerate."))
            return None
        load = dict.fromkeys(fitting, 0)
        for state in self.states.values():
            if state.node in load:
                load[state.node] += 1
        node = min(fitting, key=lambda n: (load[n], n))
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            await self.gw.create_subresource("Pod", ns, name, "binding", binding, actor=CONSOLE)
        except KubeError as e:
            if e.conflict:  # bound meanwhile (e.g. by us before a restart): the watch brings the update
                return None
            raise
        self.stats["bound"] += 1
        await self.emit(pod, "Pod", "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}",
                        component="default-scheduler")
        return node

    async def _unschedulable(self, pod: Obj, message: str) -> None:
        uid = pod["metadata"]["uid"]
        counts = self.event_counts.get(uid, {})
        if any(reason == "FailedScheduling" for (_f, reason, _m) in counts):
            return
        await self.emit(pod, "Pod", "Warning", "FailedScheduling", message, component="default-scheduler")
        await self.gw.merge_patch("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"], {"status": {
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": message, "lastProbeTime": None,
                            "lastTransitionTime": now_rfc3339()}]}},
            actor=CONSOLE, subresource="status", field_manager=FIELD_MANAGER)

    async def advance(self, pod: Obj, state: PodState) -> None:
        """Bring the pod's status to what the simulation says it is now, with the Events of the change."""
        meta = pod["metadata"]
        sim = simulate(pod, state.started, time.time(), state.ip, state.node)
        old = state.last_status if state.last_status is not None else (pod.get("status") or {})
        state.logs, state.running = sim.logs, sim.running
        if _comparable(old) != _comparable(sim.status):
            await self.gw.merge_patch("Pod", meta["namespace"], meta["name"], {"status": sim.status},
                                      actor=CONSOLE, subresource="status", field_manager=FIELD_MANAGER)
            self.stats["status"] += 1
            if not old.get("containerStatuses"):
                self.stats["started"] += 1
            for kind, field_name in (("initContainerStatuses", "initContainers"),
                                     ("containerStatuses", "containers")):
                before = {c["name"]: c for c in old.get(kind) or []}
                specs = {c.get("name"): c for c in (pod.get("spec") or {}).get(field_name) or []}
                for st in sim.status.get(kind) or []:
                    events = transition_events(before.get(st["name"]), st)
                    events += probe_events(before.get(st["name"]), st, specs.get(st["name"]) or {}, state.ip)
                    for etype, reason, message in events:
                        await self.emit(pod, "Pod", etype, reason, message,
                                        field_path=f"spec.{field_name}{{{st['name']}}}", host=state.node)
        state.last_status = sim.status
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if sim.next_change is not None:
            state.timer = asyncio.get_running_loop().call_later(
                max(0.05, sim.next_change - time.time()), self.enqueue, state.key)

    # -- events -----------------------------------------------------------------------------------
    async def emit(self, obj: Obj, kind: str, etype: str, reason: str, message: str, *,
                   field_path: str = "", component: str = "kubelet", host: str | None = None) -> None:
        """Queue a core/v1 Event; repeats of the same one are counted on the first (like the kubelet)."""
        meta = obj["metadata"]
        uid = meta["uid"]
        counts = self.event_counts.setdefault(uid, {})
        agg = (field_path, reason, message)
        now = now_rfc3339()
        if agg in counts:
            name, count = counts[agg]
            counts[agg] = (name, count + 1)
            event = {"_patch": name, "namespace": meta["namespace"], "count": count + 1, "lastTimestamp": now}
        else:
            name = f"{meta['name']}.{time.time_ns():x}"
            counts[agg] = (name, 1)
            involved: Obj = {"apiVersion": "v1", "kind": kind, "name": meta["name"],
                             "namespace": meta["namespace"], "uid": uid,
                             "resourceVersion": meta.get("resourceVersion", "")}
            if field_path:
                involved["fieldPath"] = field_path
            source: Obj = {"component": component}
            if host:
                source["host"] = host
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": meta["namespace"]},
                "involvedObject": involved, "reason": reason, "message": message, "type": etype,
                "source": source, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "reportingComponent": component, "reportingInstance": host or "",
            }
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_events += 1

    async def event_worker(self) -> None:
        while True:
            event = await self.events.get()
            while self.queue.qsize() > BUSY:
                await asyncio.sleep(0.5)
            try:
                if "_patch" in event:
                    await self.gw.merge_patch("Event", event["namespace"], event["_patch"], {
                        "count": event["count"], "lastTimestamp": event["lastTimestamp"]},
                        actor=CONSOLE, field_manager=FIELD_MANAGER)
                else:
                    await self.gw.create(event, namespace=event["metadata"]["namespace"], actor=CONSOLE,
                                         field_manager=None)
            except KubeError as e:
                if not (e.not_found or e.conflict or e.forbidden):  # namespace going away, etc.
                    log.debug("event: %s", e)

    # -- metrics ----------------------------------------------------------------------------------
    @staticmethod
    def _usage_shape(pod: Obj, container: str) -> tuple[float, float, int]:
        """(steady cpu cores, steady memory bytes, seed) of a container."""
        spec = next((c for c in pod["spec"].get("containers") or [] if c["name"] == container), {})
        res = spec.get("resources") or {}
        req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        h = int(_sha(pod["metadata"]["namespace"], pod["metadata"]["name"], container)[:8], 16)
        cpu_req, mem_req = parse_quantity(req.get("cpu")), parse_quantity(req.get("memory"))
        cpu = cpu_req * (0.15 + (h % 40) / 100) if cpu_req else 0.001 + (h % 40) / 1000
        mem = mem_req * (0.3 + (h % 40) / 100) if mem_req else (6 + h % 90) * 2**20
        return cpu, mem, h

    def pod_usage(self, pod: Obj, container: str, now: float) -> tuple[float, float]:
        """(cpu cores, memory bytes): steady per container, with a slow wobble."""
        cpu, mem, h = self._usage_shape(pod, container)
        wobble = 1 + 0.15 * math.sin(now / 45 + h % 7)
        return cpu * wobble, mem * (1 + 0.04 * math.sin(now / 90 + h % 5))

    def cpu_seconds(self, pod: Obj, container: str, started: float, now: float) -> float:
        """The CPU time a container used from `started` to `now`: the integral of `pod_usage`'s cpu (so the
        rate metrics-server computes between two scrapes is that usage), never zero."""
        cpu, _mem, h = self._usage_shape(pod, container)
        phase = h % 7
        elapsed = max(0.0, now - started)
        wobble = -0.15 * 45 * (math.cos(now / 45 + phase) - math.cos(started / 45 + phase))
        return max(1e-6, cpu * (elapsed + wobble))

    def node_usage(self, ip: str, now: float) -> NodeUsage | None:
        """The kubelet's resource metrics of the node at `ip`: its running containers and the node's totals."""
        node = self.node_by_ip.get(ip)
        if node is None:
            return None
        containers: list[ContainerUsage] = []
        cpu_rate, memory = NODE_OWN_CPU, NODE_OWN_MEMORY
        for state in self.states.values():
            pod = self.pods.get(state.key)
            if state.node != node or pod is None or pod["metadata"]["uid"] != state.uid:
                continue
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            for container in state.running:
                clog = state.logs.get(container)
                started = clog.started_at if clog is not None else state.started
                cpu, mem = self.pod_usage(pod, container, now)
                cpu_rate += cpu
                memory += mem
                containers.append(ContainerUsage(ns, name, container, started,
                                                 self.cpu_seconds(pod, container, started, now), mem))
        total, counted_to = self.node_cpu[node]
        total += cpu_rate * max(0.0, now - counted_to)
        self.node_cpu[node] = (total, max(now, counted_to))
        return NodeUsage(total, memory, containers)

    # -- logs ---------------------------------------------------------------------------------------
    def container_log(self, namespace: str, pod: str, container: str) -> ContainerLog | None:
        obj = self.pods.get(f"{namespace}/{pod}")
        if obj is None:
            return None
        state = self.states.get(obj["metadata"]["uid"])
        if state is None:
            return None
        if state.last_status is not None and state.timer is None:
            return state.logs.get(container)
        # Recompute: the status may have moved on since the last write (a crash loop between patches).
        sim = simulate(obj, state.started, time.time(), state.ip, state.node)
        return sim.logs.get(container)


def _comparable(status: Obj) -> Obj:
    """The parts of a pod status the simulator owns (the server may add or reorder others)."""
    keys = ("phase", "hostIP", "podIP", "startTime", "containerStatuses", "initContainerStatuses")
    out = {k: status.get(k) for k in keys}
    out["conditions"] = sorted(
        ((c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []),
        key=lambda c: str(c[0]))
    return out


async def _main(args: argparse.Namespace) -> None:
    from app.kube.config import new_gateway

    gw = await new_gateway(args.kubeconfig, timeout=30, pool_size=96)
    sim = NodeSimulator(gw, nodes=[f"dockyard-node-{i + 1}" for i in range(args.nodes)],
                        kubelet_port=args.kubelet_port, pki=Path(args.state_dir) / "pki")
    await run_until_signalled(sim.run(), gw, log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devcluster.nodesim", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state-dir", required=True, help="the cluster root (certificates in pki/)")
    parser.add_argument("--kubelet-port", type=int, default=10250)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
