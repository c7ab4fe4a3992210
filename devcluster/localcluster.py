"""A real local Kubernetes control plane for development and tests: etcd 3.6, kube-apiserver and
kube-controller-manager 1.37 on loopback, plus the node simulator (`devcluster.nodesim`), the real
metrics-server (the aggregated API `v1beta1.metrics.k8s.io`, scraping the simulator's kubelet endpoints),
the Gateway API CRDs (standard channel, pinned) and a development Gateway controller (`devcluster.gatewayctl`).

`ensure_running()` starts it (building the binaries once from Go modules, see
scripts/build-kubernetes.sh) or reuses
the one already running for the same root; `stop()` stops every process it started. Everything lives
under one root folder (default `.dockyard/cluster/`): certificates, tokens, etcd data, kubeconfigs,
logs and `state.json` (pids and ports). Processes run in their own sessions so they outlive the
command that started them.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import fcntl
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from devcluster import K8S_VERSION, MAX_NODES, node_ip

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path(".dockyard/cluster")
BUILD_SCRIPT = REPO / "scripts" / "build-kubernetes.sh"
DEPLOY = REPO / "deploy"
# Applied in order at every start (server-side apply, so a changed manifest updates the cluster).
MANIFESTS = (
    DEPLOY / "rbac" / "project-roles.yaml",
    DEPLOY / "rbac" / "console.yaml",
    DEPLOY / "local" / "console-user.yaml",
    DEPLOY / "local" / "storage.yaml",
    DEPLOY / "local" / "metrics.yaml",
)
METRICS_MANIFEST = DEPLOY / "local" / "metrics.yaml"  # metrics-server's RBAC, Service and APIService
# Applied after the Gateway API CRDs: the dev GatewayClass and a Gateway offered to demo-workspace.
GATEWAY_MANIFEST = DEPLOY / "local" / "gateway.yaml"
GATEWAY_API_VERSION = "v1.6.3"  # sigs.k8s.io/gateway-api, fetched by scripts/fetch-gateway-api.sh
GATEWAY_API_SCRIPT = REPO / "scripts" / "fetch-gateway-api.sh"
SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"
# Components in start order; stopped in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "nodesim", "metrics-server", "gatewayctl")
# What a cluster started before metrics-server was one of its components had (reused as it is, see _reuse).
LEGACY_COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "nodesim")
METRICS_APISERVICE = "v1beta1.metrics.k8s.io"
METRICS_SERVICE = "metrics-server"  # in kube-system, ExternalName localhost
# The metrics.k8s.io CRDs that stood in for metrics-server before: they claim the same group/version.
OLD_METRICS_CRDS = ("pods.metrics.k8s.io", "nodes.metrics.k8s.io")
SIMULATED_NODES = 2  # nodesim's default
ADMIN_USER = "dockyard-admin"
CONSOLE_USER = "dockyard-console"
FIELD_MANAGER = "dockyard-localcluster"

Log = Callable[[str], None]
T = TypeVar("T")


class ClusterError(RuntimeError):
    """Starting or stopping the local control plane failed; the message says what to do."""


class _PortInUse(ClusterError):
    pass


@dataclass(frozen=True)
class ClusterInfo:
    root: Path
    server: str
    admin_kubeconfig: Path
    console_kubeconfig: Path
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    reused: bool = False

    @property
    def ca_file(self) -> Path:
        return self.root / "pki" / "ca.crt"


def gateway_api_dir() -> Path:
    override = os.environ.get("DOCKYARD_GATEWAY_API_CACHE")
    return Path(override) if override else (
        Path.home() / ".cache" / "dockyard" / f"gateway-api-{GATEWAY_API_VERSION.removeprefix('v')}")


def binaries_dir() -> Path:
    override = os.environ.get("DOCKYARD_K8S_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "dockyard" / f"kubernetes-{K8S_VERSION}"


def kubectl() -> str:
    """The kubectl of the cluster's release (built with it), else the one on PATH."""
    built = binaries_dir() / "kubectl"
    return str(built) if os.access(built, os.X_OK) else (shutil.which("kubectl") or "kubectl")


# -- public API ------------------------------------------------------------------------------------

def ensure_running(
    root: Path = DEFAULT_ROOT, log: Log = print, *, ready_timeout: float = 120.0,
) -> ClusterInfo:
    """Start the local control plane under `root`, or reuse the one already running there."""
    root = root.resolve()
    log = _best_effort(log)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    with _locked(root):
        info = _reuse(root, log)
        if info is not None:
            return info
        _stop_locked(root, lambda _m: None)  # leftovers of a half-dead cluster
        binaries = _binaries(root, log)
        _forget_other_versions(root, log)
        _ensure_pki(root)
        tokens = _ensure_tokens(root)
        for attempt in range(3):
            try:
                return _start(root, log, binaries, tokens, ready_timeout)
            except _PortInUse as e:
                _stop_locked(root, lambda _m: None)
                if attempt == 2:
                    raise
                log(f"{e} Retrying with other ports.")
            except BaseException:
                _stop_locked(root, lambda _m: None)
                raise
    raise AssertionError("unreachable")


def stop(root: Path = DEFAULT_ROOT, log: Log = print) -> None:
    """Stop every process of the control plane under `root` and wait until they are gone.

    Keeps etcd's data, certificates, tokens and kubeconfigs: the next start brings back the same objects.
    """
    root = root.resolve()
    log = _best_effort(log)
    if not root.exists():
        log("local cluster: not running")
        return
    with _locked(root):
        _stop_locked(root, log)


def restart_apiserver(root: Path = DEFAULT_ROOT, *, down_seconds: float = 0.0, ready_timeout: float = 60.0) -> None:
    """Stop the API server (every watch and connection breaks), leave it down `down_seconds`, and start it
    again on the same address with the same etcd: what a control-plane upgrade or crash looks like."""
    root = root.resolve()
    with _locked(root):
        state = _read_state(root)
        pid = state["pids"]["kube-apiserver"]
        _signal(pid, signal.SIGKILL)
        if _wait_gone([pid], 10):
            raise ClusterError("local cluster: kube-apiserver did not stop")
        time.sleep(down_seconds)
        # The killed server's connections can hold its port for a moment (more so on a loaded machine):
        # the new one tries again rather than fail the restart.
        deadline = time.monotonic() + 30
        while True:
            state["pids"]["kube-apiserver"] = _start_component(root, "kube-apiserver", state)
            _write_state(root, state)
            try:
                _wait_apiserver(root, state, ready_timeout)
                return
            except _PortInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def status(root: Path = DEFAULT_ROOT) -> ClusterInfo | None:
    """The running cluster under `root`, or None (does not start anything)."""
    root = root.resolve()
    state = _read_state(root)
    if not state:
        return None
    alive = {name: pid for name, pid in state.get("pids", {}).items() if _is_ours(pid, root, name)}
    if set(alive) != set(_components(state)) or not _apiserver_ready(root, state, timeout=3):
        return None
    return _info(root, state, reused=True)


def _best_effort(log: Log) -> Log:
    """Progress messages must not break a start or stop (e.g. stdout piped into `head`)."""

    def safe(message: str) -> None:
        try:
            log(message)
        except (OSError, ValueError):
            pass

    return safe


# -- reuse ---------------------------------------------------------------------------------------

def _components(state: dict[str, Any]) -> tuple[str, ...]:
    """The components of the cluster `state` describes: a cluster started before metrics-server was one
    (no port for it) has the metrics CRDs instead, until it is restarted."""
    return COMPONENTS if "metrics-server" in (state.get("ports") or {}) else LEGACY_COMPONENTS


def _reuse(root: Path, log: Log) -> ClusterInfo | None:
    state = _read_state(root)
    if not state:
        return None
    pids = state.get("pids", {})
    alive = {name for name, pid in pids.items() if _is_ours(pid, root, name)}
    if not {"etcd", "kube-apiserver"} <= alive or not _apiserver_ready(root, state, timeout=5):
        return None
    legacy = _components(state) == LEGACY_COMPONENTS
    if legacy:
        # Started by an earlier checkout (metrics CRDs, no metrics-server, no front proxy): used as it is
        # while it all runs, so that a change of checkout does not pull it from under running tests;
        # `make cluster-down && make cluster` brings metrics-server.
        if set(LEGACY_COMPONENTS) - alive:
            return None
        log("local cluster: this cluster was started before metrics-server was part of it (it serves "
            "metrics from CRDs); restart it (make cluster-down && make cluster) to get metrics-server")
        _bootstrap(root, state, log)
        info = _info(root, state, reused=True)
        log(f"local cluster: already running at {info.server} (admin kubeconfig: {info.admin_kubeconfig})")
        return info
    for name in ("kube-controller-manager", "nodesim", "metrics-server", "gatewayctl"):
        if name not in alive:
            log(f"local cluster: {name} had stopped; starting it again")
            pids[name] = _start_component(root, name, state)
            state["pids"] = pids
            _write_state(root, state)
    if "nodesim" not in alive:
        _wait_nodes_ready(root, state, 60)
    _bootstrap(root, state, log)  # the manifests may have changed since it started
    if "metrics-server" not in alive:
        _wait_metrics_api(root, state, 60)
    info = _info(root, state, reused=True)
    log(f"local cluster: already running at {info.server} (admin kubeconfig: {info.admin_kubeconfig})")
    return info


# -- start ---------------------------------------------------------------------------------------

def _forget_other_versions(root: Path, log: Log) -> None:
    """etcd data written by another release (the 1.20 cluster of earlier checkouts) is not upgraded in
    place: etcd 3.6 only upgrades from 3.5. Certificates, tokens and kubeconfigs are kept."""
    old = (_read_state(root) or {}).get("version")
    if old and old != K8S_VERSION and (root / "etcd").exists():
        log(f"local cluster: {root} holds a Kubernetes {old} cluster; starting {K8S_VERSION} with empty etcd data")
        shutil.rmtree(root / "etcd")


def _start(root: Path, log: Log, binaries: dict[str, Path], tokens: dict[str, str],
           ready_timeout: float) -> ClusterInfo:
    ports = {name: _free_port() for name in ("etcd", "etcd-peer", "apiserver", "metrics-server")}
    # The fake kubelet listens on every node's InternalIP, on the same port.
    ports["kubelet"] = _free_port(tuple(node_ip(i) for i in range(SIMULATED_NODES)))
    state: dict[str, Any] = {
        "version": K8S_VERSION, "ports": ports, "pids": {},
        "server": f"https://127.0.0.1:{ports['apiserver']}",
        "binaries": {name: str(path) for name, path in binaries.items()},
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_state(root, state)
    t0 = time.monotonic()

    log(f"local cluster: starting etcd on 127.0.0.1:{ports['etcd']}")
    state["pids"]["etcd"] = _start_component(root, "etcd", state)
    _write_state(root, state)
    _wait_etcd(root, state, 30)

    log(f"local cluster: starting kube-apiserver {K8S_VERSION} on {state['server']}")
    state["pids"]["kube-apiserver"] = _start_component(root, "kube-apiserver", state)
    _write_state(root, state)
    _wait_apiserver(root, state, ready_timeout)
    _write_kubeconfigs(root, state["server"], tokens)

    log("local cluster: applying RBAC roles, the console identity, the StorageClass, the metrics API and the "
        "Gateway API")
    _bootstrap(root, state, log)

    log("local cluster: starting kube-controller-manager, the node simulator, metrics-server "
        f"on 127.0.0.1:{ports['metrics-server']} and the gateway controller")
    for name in ("kube-controller-manager", "nodesim", "metrics-server", "gatewayctl"):
        state["pids"][name] = _start_component(root, name, state)
        _write_state(root, state)
    _wait_nodes_ready(root, state, 60)
    _wait_default_service_account(root, state, 60)
    _wait_metrics_api(root, state, 60)
    info = _info(root, state, reused=False)
    log(f"local cluster: ready in {time.monotonic() - t0:.0f} s at {info.server}\n"
        f"  admin:   KUBECONFIG={info.admin_kubeconfig}\n"
        f"  console: KUBECONFIG={info.console_kubeconfig}\n"
        f"  logs:    {root / 'logs'}")
    return info


def _command(root: Path, name: str, state: dict[str, Any]) -> list[str]:
    ports = state["ports"]
    pki = root / "pki"
    if name == "etcd":
        peer = f"http://127.0.0.1:{ports['etcd-peer']}"
        client = f"http://127.0.0.1:{ports['etcd']}"
        return [
            state["binaries"]["etcd"], "--name=dockyard", f"--data-dir={root / 'etcd'}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=dockyard={peer}", "--initial-cluster-state=new",
            "--snapshot-count=10000", "--quota-backend-bytes=4294967296", "--log-level=warn",
            "--logger=zap",
        ]
    if name == "kube-apiserver":
        return [
            state["binaries"]["kube-apiserver"],
            f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={ports['apiserver']}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={root / 'tokens.csv'}",
            "--authorization-mode=RBAC", "--anonymous-auth=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer={ISSUER}", f"--api-audiences={ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,"
            "DefaultTolerationSeconds,ResourceQuota,StorageObjectInUseProtection,Priority,"
            "PersistentVolumeClaimResize",
            "--allow-privileged=true",
            # The `kubernetes` Service keeps no endpoints: 127.0.0.1 is not a valid endpoint address
            # and nothing runs inside the cluster that would use it.
            "--endpoint-reconciler-type=none",
            # Logs and exec go to the node simulator's kubelet endpoint, verified against our CA.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-timeout=10s",
            # The aggregation layer (metrics-server): the API server proxies to it with a front-proxy client
            # certificate and the user in request headers.
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--max-requests-inflight=800", "--max-mutating-requests-inflight=400",
            "--event-ttl=2h", "--profiling=false", "--v=0",
        ]
    if name == "kube-controller-manager":
        return [
            state["binaries"]["kube-controller-manager"],
            f"--kubeconfig={root / 'controller-manager.kubeconfig'}",
            "--leader-elect=false", "--secure-port=0",
            # No node IPAM, node lifecycle or attach/detach: the simulated nodes need none of them.
            "--controllers=*,-node-ipam-controller,-node-lifecycle-controller,"
            "-persistentvolume-attach-detach-controller",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Enough client throughput for a few thousand pods on a shared two-core machine.
            "--kube-api-qps=200", "--kube-api-burst=400",
            "--concurrent-replicaset-syncs=10", "--concurrent-deployment-syncs=10",
            "--concurrent-endpoint-syncs=10", "--concurrent-gc-syncs=20",
            "--pvclaimbinder-sync-period=5s", "--v=0",
        ]
    if name == "nodesim":
        return [
            sys.executable, "-m", "devcluster.nodesim",
            f"--kubeconfig={root / 'nodesim.kubeconfig'}", f"--state-dir={root}",
            f"--kubelet-port={ports['kubelet']}", f"--nodes={SIMULATED_NODES}",
        ]
    if name == "gatewayctl":
        # The admin identity (system:masters), as the node simulator's: a new identity in the token file
        # would need an API server restart, and this controller is the development cluster's own.
        return [sys.executable, "-m", "devcluster.gatewayctl", f"--kubeconfig={root / 'admin.kubeconfig'}"]
    if name == "metrics-server":
        kubeconfig = root / "metrics-server.kubeconfig"
        return [
            state["binaries"]["metrics-server"],
            f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['metrics-server']}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'metrics-server.crt'}",
            f"--tls-private-key-file={pki / 'metrics-server.key'}",
            # Scrape each simulated node's kubelet endpoint (its own loopback address, the port in its
            # status), verified against our CA.
            "--kubelet-preferred-address-types=InternalIP", "--kubelet-use-node-status-port",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--metric-resolution=10s",  # the shortest it accepts: new pods have usage within ~20 s
            "--kubelet-request-timeout=5s",  # must be shorter than the resolution
            "--v=0",
        ]
    raise ValueError(name)


def _start_component(root: Path, name: str, state: dict[str, Any]) -> int:
    logs = root / "logs"
    logfile = logs / f"{name}.log"
    if logfile.exists() and logfile.stat().st_size:
        logfile.replace(logs / f"{name}.log.1")
    env = dict(os.environ)
    if name in ("nodesim", "gatewayctl"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            _command(root, name, state), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=REPO if name in ("nodesim", "gatewayctl") else root, env=env, start_new_session=True, close_fds=True,
        )
    _CHILDREN[proc.pid] = proc  # kept so they are reaped (and never reported as leaked) in this process
    return proc.pid


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# -- waiting for readiness -------------------------------------------------------------------------

def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


def _check_alive(root: Path, state: dict[str, Any], name: str) -> None:
    pid = state["pids"][name]
    proc = _CHILDREN.get(pid)
    exited = proc.poll() is not None if proc is not None else not _is_ours(pid, root, name)
    if not exited:
        return
    logfile = root / "logs" / f"{name}.log"
    text = logfile.read_text(errors="replace") if logfile.exists() else ""
    if "address already in use" in text:
        raise _PortInUse(f"local cluster: {name} could not listen: a port was taken by another process.")
    raise ClusterError(
        f"local cluster: {name} exited during start. Last lines of {logfile}:\n{_tail(logfile)}")


def _wait(root: Path, state: dict[str, Any], name: str, timeout: float, check: Callable[[], bool],
          what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(root, state, name)
        try:
            if check():
                return
        except (OSError, ValueError, LookupError, TypeError):
            pass
        if time.monotonic() > deadline:
            logfile = root / "logs" / f"{name}.log"
            raise ClusterError(
                f"local cluster: {what} not ready after {timeout:g} s. "
                f"Last lines of {logfile}:\n{_tail(logfile)}"
            )
        time.sleep(0.25)


def _wait_etcd(root: Path, state: dict[str, Any], timeout: float) -> None:
    url = f"http://127.0.0.1:{state['ports']['etcd']}/health"

    def healthy() -> bool:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(json.loads(r.read()).get("health") in ("true", True))

    _wait(root, state, "etcd", timeout, healthy, "etcd")


def _ssl_context(root: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(root / "pki" / "ca.crt"))


def _api_get(root: Path, state: dict[str, Any], path: str, timeout: float) -> tuple[int, bytes]:
    return _api_request(root, state, "GET", path, timeout=timeout)


def _api_request(root: Path, state: dict[str, Any], method: str, path: str, body: bytes | None = None,
                 content_type: str = "application/json", timeout: float = 10,
                 accept: str = "application/json") -> tuple[int, bytes]:
    token = _ensure_tokens(root)["admin"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": accept}
    req = urllib.request.Request(state["server"] + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_ssl_context(root)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _apiserver_ready(root: Path, state: dict[str, Any], timeout: float) -> bool:
    try:
        return _api_get(root, state, "/readyz", timeout)[0] == 200
    except (OSError, ValueError, KeyError):
        return False


def _wait_apiserver(root: Path, state: dict[str, Any], timeout: float) -> None:
    _wait(root, state, "kube-apiserver", timeout, lambda: _apiserver_ready(root, state, 3), "kube-apiserver")


def _wait_nodes_ready(root: Path, state: dict[str, Any], timeout: float) -> None:
    def ready() -> bool:
        code, body = _api_get(root, state, "/api/v1/nodes?labelSelector=dockyard.dev%2Fsimulated%3Dtrue", 5)
        items = json.loads(body).get("items", []) if code == 200 else []
        def node_ready(n: dict[str, Any]) -> bool:
            conditions = (n.get("status") or {}).get("conditions") or []
            taints = (n.get("spec") or {}).get("taints") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) and not any(
                t.get("key") == "node.kubernetes.io/not-ready" for t in taints)

        ready_nodes = [n for n in items if node_ready(n)]
        return len(ready_nodes) >= 1 and len(ready_nodes) == len(items)

    _wait(root, state, "nodesim", timeout, ready, "the simulated nodes are")


def _wait_default_service_account(root: Path, state: dict[str, Any], timeout: float) -> None:
    # Since 1.24 no token Secret is made for it: the ServiceAccount itself is what pods need.
    def ready() -> bool:
        code, _body = _api_get(root, state, "/api/v1/namespaces/default/serviceaccounts/default", 5)
        return code == 200

    _wait(root, state, "kube-controller-manager", timeout, ready,
          "kube-controller-manager (service accounts)")


def _wait_metrics_api(root: Path, state: dict[str, Any], timeout: float) -> None:
    """Until the API server says the metrics API (metrics-server) is Available, or a clear error."""
    last: list[str] = []

    def available() -> bool:
        code, body = _api_get(root, state, f"/apis/apiregistration.k8s.io/v1/apiservices/{METRICS_APISERVICE}", 5)
        if code != 200:
            last[:] = [f"HTTP {code}"]
            return False
        conditions = (json.loads(body).get("status") or {}).get("conditions") or []
        cond = next((c for c in conditions if c.get("type") == "Available"), {})
        last[:] = [f"{cond.get('reason')}: {cond.get('message')}"] if cond else ["no Available condition yet"]
        return cond.get("status") == "True"

    try:
        _wait(root, state, "metrics-server", timeout, available, "metrics-server (the metrics.k8s.io API)")
    except ClusterError as e:
        raise ClusterError(f"{e}\n  APIService {METRICS_APISERVICE}: {last[0] if last else '?'}; see also "
                           f"{root / 'logs' / 'kube-apiserver.log'}") from None


# -- bootstrap objects -----------------------------------------------------------------------------

def load_manifests(path: Path) -> list[dict[str, Any]]:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    return [doc for doc in yaml.load_all(path.read_text()) if doc]


def _metrics_objects(obj: dict[str, Any], port: int, ca_pem: bytes) -> dict[str, Any]:
    """deploy/local/metrics.yaml's Service and APIService with this cluster's metrics-server port and CA
    (metrics-server serves a certificate of our CA for metrics-server.kube-system.svc)."""
    meta = obj.get("metadata") or {}
    if obj.get("kind") == "Service" and meta.get("name") == METRICS_SERVICE:
        obj = json.loads(json.dumps(obj))
        obj["spec"]["ports"] = [{**obj["spec"]["ports"][0], "port": port, "targetPort": port}]
    elif obj.get("kind") == "APIService" and meta.get("name") == METRICS_APISERVICE:
        obj = json.loads(json.dumps(obj))
        obj["spec"]["service"]["port"] = port
        obj["spec"].pop("insecureSkipTLSVerify", None)
        obj["spec"]["caBundle"] = base64.b64encode(ca_pem).decode()
    return obj


def _bootstrap(root: Path, state: dict[str, Any], log: Log = lambda _m: None) -> None:
    """Apply the manifests; swap the old metrics CRDs for metrics-server's APIService (a cluster started
    before metrics-server was one of its components keeps its CRDs until it is restarted); install the
    Gateway API, then its development objects."""
    if "metrics-server" not in state["ports"]:
        manifests = tuple(path for path in MANIFESTS if path != METRICS_MANIFEST)
        port = 0
    else:
        manifests, port = MANIFESTS, int(state["ports"]["metrics-server"])
    ca_pem = (root / "pki" / "ca.crt").read_bytes()
    objects = [_metrics_objects(obj, port, ca_pem) for path in manifests for obj in load_manifests(path)]
    # The gateway knows no APIService: those go through _api_request, after the CRDs of the group are gone.
    apiservices = [obj for obj in objects if obj.get("kind") == "APIService"]
    _run_async(_apply(root / "admin.kubeconfig", [obj for obj in objects if obj.get("kind") != "APIService"]))
    if port:
        _remove_old_metrics_crds(root, state)
    for obj in apiservices:
        name = obj["metadata"]["name"]
        code, body = _api_request(root, state, "PATCH", f"{_APISERVICES}/{name}?fieldManager={FIELD_MANAGER}&force=true",
                                  json.dumps(obj).encode(), "application/apply-patch+yaml")
        if code not in (200, 201):
            raise ClusterError(f"local cluster: applying the APIService {name} failed: HTTP {code} {body[:300]!r}")
    _install_gateway_api(root, state, log)
    # Just after its CRDs are made, a kind can answer 404 or 429 ("storage is (re)initializing") a moment.
    _run_async(_apply(root / "admin.kubeconfig", load_manifests(GATEWAY_MANIFEST), retry_seconds=60))


async def _apply(admin_kubeconfig: Path, objects: list[dict[str, Any]], retry_seconds: float = 0) -> None:
    """Server-side apply each object; `retry_seconds`: keep trying one the server is not ready to store
    yet (404, 429, 503) that long."""
    from app.kube.client import CONSOLE
    from app.kube.config import new_gateway
    from app.kube.errors import KubeError

    gw = await new_gateway(str(admin_kubeconfig), timeout=30)
    try:
        for obj in objects:
            deadline = time.monotonic() + retry_seconds
            while True:
                try:
                    await gw.apply(obj, namespace=obj["metadata"].get("namespace"), actor=CONSOLE,
                                   field_manager=FIELD_MANAGER)
                    break
                except KubeError as e:
                    if e.status not in (404, 429, 503) or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
    finally:
        await gw.close()


# -- the Gateway API -----------------------------------------------------------------------------------

_BUNDLE = "gateway.networking.k8s.io/bundle-version"


def gateway_api_objects(log: Log = print) -> list[dict[str, Any]]:
    """The standard channel's CRDs and its safe-upgrades admission policy, in the module's install order,
    fetched once (scripts/fetch-gateway-api.sh: the Go module proxy, checksum-verified) into the cache."""
    cache = gateway_api_dir()
    if not (cache / "order.txt").exists():
        log(f"local cluster: fetching the Gateway API CRDs {GATEWAY_API_VERSION} (sigs.k8s.io/gateway-api) into {cache}")
        env = {**os.environ, "DOCKYARD_GATEWAY_API_CACHE": str(cache)}
        proc = subprocess.run(["bash", str(GATEWAY_API_SCRIPT)], capture_output=True, text=True, env=env, cwd=REPO,
                              stdin=subprocess.DEVNULL, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ClusterError(f"local cluster: fetching the Gateway API CRDs failed: {last}")
    return [obj for name in (cache / "order.txt").read_text().split() for obj in load_manifests(cache / name)]


def _install_gateway_api(root: Path, state: dict[str, Any], log: Log) -> None:
    """Apply the Gateway API objects that are missing or of another bundle version, then wait until the
    CRDs are Established. On reuse it costs one list of the CRDs' metadata and one GET per policy."""
    objects = gateway_api_objects(log)
    code, body = _api_request(root, state, "GET", _CRDS, accept=_METADATA_LIST)
    installed = {}
    if code == 200:
        for item in json.loads(body).get("items") or []:
            meta = item.get("metadata") or {}
            installed[meta.get("name")] = (meta.get("annotations") or {}).get(_BUNDLE)
    stale = []
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "CustomResourceDefinition":
            current = installed.get(name)
        else:
            plural = resource_path(obj["kind"], name)
            got, raw = _api_request(root, state, "GET", plural, accept=_METADATA)
            current = ((json.loads(raw).get("metadata") or {}).get("annotations") or {}).get(_BUNDLE) \
                if got == 200 else None
        if current != GATEWAY_API_VERSION:
            stale.append(obj)
    if not stale:
        return
    log(f"local cluster: installing the Gateway API {GATEWAY_API_VERSION} ({len(stale)} objects)")
    _run_async(_apply(root / "admin.kubeconfig", stale))
    crds = [obj["metadata"]["name"] for obj in stale if obj["kind"] == "CustomResourceDefinition"]
    deadline = time.monotonic() + 60
    for name in crds:
        while True:
            got, raw = _api_request(root, state, "GET", f"{_CRDS}/{name}")
            conditions = (json.loads(raw).get("status") or {}).get("conditions") or [] if got == 200 else []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"local cluster: the Gateway API CRD {name} was not Established within 60 s")
            time.sleep(0.2)


def resource_path(kind: str, name: str) -> str:
    from app.kube.resources import resource_for

    return resource_for(kind).path(None, name)


_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
_APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
_CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _remove_old_metrics_crds(root: Path, state: dict[str, Any]) -> None:
    """Delete the metrics.k8s.io CRDs of earlier checkouts and wait until they, and the APIService the API
    server made for them (label kube-aggregator.kubernetes.io/automanaged), are gone."""
    present = [name for name in OLD_METRICS_CRDS if _api_request(root, state, "GET", f"{_CRDS}/{name}")[0] == 200]
    if not present:
        return
    # Right after the API server starts, a CRD's storage may still be initializing: the API server's CRD
    # finalizer then fails to list the instances and can take minutes to try again. Wait until they list.
    deadline = time.monotonic() + 30
    for name in present:
        plural = name.split(".", 1)[0]
        while _api_request(root, state, "GET", f"/apis/metrics.k8s.io/v1beta1/{plural}?limit=1")[0] != 200:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        _api_request(root, state, "DELETE", f"{_CRDS}/{name}")
    deadline = time.monotonic() + 90
    while True:
        left = [name for name in OLD_METRICS_CRDS if _api_request(root, state, "GET", f"{_CRDS}/{name}")[0] != 404]
        code, body = _api_request(root, state, "GET", f"{_APISERVICES}/{METRICS_APISERVICE}")
        labels = (json.loads(body).get("metadata") or {}).get("labels") or {} if code == 200 else {}
        automanaged = labels.get("kube-aggregator.kubernetes.io/automanaged") == "true"
        if not left and not automanaged:
            return
        if not left:  # the CRDs are gone; their APIService goes with them a moment later, or now
            _api_request(root, state, "DELETE", f"{_APISERVICES}/{METRICS_APISERVICE}")
        if time.monotonic() > deadline:
            raise ClusterError(f"local cluster: the old metrics CRDs {left} were not removed within 90 s; "
                               "starting again usually finishes it")
        time.sleep(0.5)


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(e)

    t = threading.Thread(target=runner, name="localcluster-bootstrap")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


# -- binaries ----------------------------------------------------------------------------------------

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "metrics-server")


def _binaries(root: Path, log: Log) -> dict[str, Path]:
    """The control plane's programs, built once (scripts/build-kubernetes.sh) into `binaries_dir()`."""
    cache = binaries_dir()
    paths = {name: cache / name for name in BINARIES}
    if all(os.access(p, os.X_OK) for p in paths.values()):
        return paths
    logfile = root / "logs" / "build.log"
    log(f"local cluster: building Kubernetes {K8S_VERSION} (kube-apiserver, kube-controller-manager), etcd and "
        f"metrics-server from their Go modules into {cache} (once; about 15 minutes on two cores). "
        f"Build log: {logfile}")
    with open(logfile, "w") as out:
        proc = subprocess.Popen(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, cwd=REPO)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            out.flush()
            # Progress: the script's own messages and make's target lines, not compiler chatter.
            if line.startswith(("+++", "installing", "downloading", "building", "kubernetes ", "error")):
                log("  " + line.rstrip())
        code = proc.wait()
    if code != 0:
        missing = [line for line in logfile.read_text(errors="replace").splitlines() if "installing:" in line]
        hint = f" (it needed the Debian packages {missing[-1].split(':', 1)[1].strip()})" if missing else ""
        raise ClusterError(
            f"local cluster: building Kubernetes failed{hint}. See {logfile}; last lines:\n{_tail(logfile)}"
        )
    if not all(os.access(p, os.X_OK) for p in paths.values()):
        raise ClusterError(f"local cluster: the build finished but {cache} has no binaries; see {logfile}")
    return paths


# -- certificates, tokens, kubeconfigs -----------------------------------------------------------

def _write_private(path: Path, data: bytes | str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


def _ensure_pki(root: Path) -> None:
    """A CA, serving certificates for the API server, metrics-server and the fake kubelet, a front-proxy CA
    and client certificate (the aggregation layer) and a service-account key. Creates what is missing (a
    root made by an earlier checkout gets the newer files), and remakes a serving certificate whose
    names no longer cover what it serves."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    pki = root / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    def pem_key(key: Any) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def write_ca(stem: str, common_name: str) -> None:
        """A self-signed CA (10 years), its key and certificate written as pki/<stem>.key|.crt."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(pki / f"{stem}.key", pem_key(key))
        (pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    if not (pki / "ca.crt").exists() or not (pki / "ca.key").exists():
        write_ca("ca", "dockyard-local-ca")
        for stale in ("apiserver", "kubelet", "metrics-server"):
            (pki / f"{stale}.crt").unlink(missing_ok=True)
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())

    def covers(path: Path, san: list[Any]) -> bool:
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (OSError, ValueError, x509.ExtensionNotFound):
            return False
        return set(san) <= set(names)

    def issue(stem: str, common_name: str, usage: Any, san: list[Any] | None, ca: tuple[Any, Any]) -> None:
        signer_key, signer_cert = ca
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(signer_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(signer_key, hashes.SHA256())
        _write_private(pki / f"{stem}.key", pem_key(key))
        (pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def serving(stem: str, common_name: str, dns: list[str], ips: list[str]) -> None:
        san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if (pki / f"{stem}.key").exists() and covers(pki / f"{stem}.crt", san):
            return
        issue(stem, common_name, x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, san, (ca_key, ca_cert))

    serving("apiserver", "kube-apiserver",
            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"], ["127.0.0.1", "10.96.0.1"])
    # The API server and metrics-server reach each simulated node's kubelet endpoint at its InternalIP.
    serving("kubelet", "dockyard-fake-kubelet", ["localhost"],
            ["127.0.0.1"] + [node_ip(i) for i in range(MAX_NODES)])
    # The aggregator dials localhost (the ExternalName Service) and checks the name of the Service.
    serving("metrics-server", "metrics-server",
            ["localhost", "metrics-server.kube-system.svc", "metrics-server.kube-system.svc.cluster.local"],
            ["127.0.0.1"])

    # The front proxy: a CA of its own (the API server's --requestheader-client-ca-file, which
    # metrics-server reads from the extension-apiserver-authentication ConfigMap) and the client
    # certificate the API server presents when it proxies to metrics-server.
    if not (pki / "front-proxy-ca.crt").exists() or not (pki / "front-proxy-ca.key").exists():
        write_ca("front-proxy-ca", "dockyard-front-proxy-ca")
        (pki / "front-proxy-client.crt").unlink(missing_ok=True)
    if not (pki / "front-proxy-client.crt").exists() or not (pki / "front-proxy-client.key").exists():
        fp_ca = (serialization.load_pem_private_key((pki / "front-proxy-ca.key").read_bytes(), password=None),
                 x509.load_pem_x509_certificate((pki / "front-proxy-ca.crt").read_bytes()))
        issue("front-proxy-client", "front-proxy-client", x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH, None, fp_ca)
    if not (pki / "sa.key").exists() or not (pki / "sa.pub").exists():
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(pki / "sa.key", sa.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                                        serialization.NoEncryption()))
        (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


# user name, groups, for each identity in the token file
IDENTITIES: dict[str, tuple[str, str]] = {
    "admin": (ADMIN_USER, "system:masters"),
    "console": (CONSOLE_USER, ""),
    "controller-manager": ("system:kube-controller-manager", "system:masters"),
    "nodesim": ("dockyard:node-simulator", "system:masters"),
    # metrics-server's own identity (deploy/local/metrics.yaml grants it what it needs)
    "metrics-server": ("dockyard:metrics-server", ""),
}


def _ensure_tokens(root: Path) -> dict[str, str]:
    path = root / "tokens.json"
    tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if set(tokens) != set(IDENTITIES):
        tokens = {key: tokens.get(key) or secrets.token_urlsafe(32) for key in IDENTITIES}
        _write_private(path, json.dumps(tokens, indent=2))
    csv = "".join(
        f'{tokens[key]},{user},{user},"{groups}"\n' if groups else f"{tokens[key]},{user},{user}\n"
        for key, (user, groups) in IDENTITIES.items()
    )
    csv_path = root / "tokens.csv"
    if not csv_path.exists() or csv_path.read_text() != csv:
        _write_private(csv_path, csv)
    return tokens


def kubeconfig_text(server: str, ca_pem: bytes, user: str, token: str, context: str) -> str:
    ca = base64.b64encode(ca_pem).decode()
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: dockyard-local\n  cluster:\n    server: {server}\n"
        f"    certificate-authority-data: {ca}\n"
        f"users:\n- name: {user}\n  user:\n    token: {token}\n"
        f"contexts:\n- name: {context}\n  context:\n    cluster: dockyard-local\n    user: {user}\n"
        f"current-context: {context}\n"
    )


def _write_kubeconfigs(root: Path, server: str, tokens: dict[str, str]) -> None:
    ca = (root / "pki" / "ca.crt").read_bytes()
    files = {"admin": "admin.kubeconfig", "console": "console.kubeconfig",
             "controller-manager": "controller-manager.kubeconfig", "nodesim": "nodesim.kubeconfig",
             "metrics-server": "metrics-server.kubeconfig"}
    for key, filename in files.items():
        user = IDENTITIES[key][0]
        text = kubeconfig_text(server, ca, user, tokens[key], f"dockyard-local-{key}")
        _write_private(root / filename, text)


# -- state, processes ------------------------------------------------------------------------------

@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One start or stop at a time per root (e.g. `make cluster` while a test session starts)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_state(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_state(root: Path, state: dict[str, Any]) -> None:
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(root / "state.json")


def _info(root: Path, state: dict[str, Any], *, reused: bool) -> ClusterInfo:
    return ClusterInfo(
        root=root, server=state["server"], admin_kubeconfig=root / "admin.kubeconfig",
        console_kubeconfig=root / "console.kubeconfig", pids=dict(state.get("pids", {})),
        ports=dict(state.get("ports", {})), reused=reused,
    )


def _free_port(hosts: tuple[str, ...] = ("127.0.0.1",)) -> int:
    """A free port (on every one of `hosts`) below the kernel's range for outgoing connections (32768 and
    up on Linux): a port the kernel picked for us could be handed to some client's connection while the
    API server restarts on it, and the restart would then find it taken."""
    low, high = _ephemeral_range()
    for _ in range(200):
        port = secrets.randbelow(min(low, 32768) - 20000) + 20000
        if all(_can_bind(host, port) for host in hosts):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded machine: any free port
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _can_bind(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return (low, high) if low > 21000 else (32768, 60999)


def _argv(pid: int) -> list[str] | None:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.cmdline()
    except (psutil.Error, OSError):
        return None


def _component_of(argv: list[str], root: Path) -> str | None:
    """Which of this root's components a command line is, if any (by its program, not by a substring
    of any argument, so `tail -f .../kube-apiserver.log` is never taken for the API server)."""
    if not argv or not any(str(root) in arg for arg in argv):
        return None
    program = Path(argv[0]).name
    if program in ("etcd", "kube-apiserver", "kube-controller-manager", "metrics-server"):
        return program
    if program.startswith("python") and argv[1:3] == ["-m", "devcluster.nodesim"]:
        return "nodesim"
    if program.startswith("python") and argv[1:3] == ["-m", "devcluster.gatewayctl"]:
        return "gatewayctl"
    return None


def _is_ours(pid: int | None, root: Path, name: str | None = None) -> bool:
    """The process is alive and is one of this root's components (not a recycled pid)."""
    if not pid:
        return False
    argv = _argv(pid)
    component = _component_of(argv, root) if argv else None
    return component is not None and (name is None or component == name)


def _our_processes(root: Path) -> dict[int, str]:
    """pid -> component for every live process of this root: those in state.json, and any orphan
    whose command line names this root (a start that was interrupted before writing its state)."""
    found: dict[int, str] = {}
    for name, pid in _read_state(root).get("pids", {}).items():
        if _is_ours(pid, root, name):
            found[pid] = name
    for proc in psutil.process_iter(["pid", "cmdline"]):
        pid = proc.info["pid"]
        if pid in found or pid == os.getpid() or pid in _zombies():
            continue
        component = _component_of(proc.info["cmdline"] or [], root)
        if component:
            found[pid] = component
    return found


def _zombies() -> set[int]:
    return {pid for pid, child in _CHILDREN.items() if child.poll() is not None}


def _signal(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_locked(root: Path, log: Log) -> None:
    procs = _our_processes(root)
    if not procs:
        (root / "state.json").unlink(missing_ok=True)
        log("local cluster: not running")
        return
    order = {name: i for i, name in enumerate(reversed(COMPONENTS))}
    for pid, name in sorted(procs.items(), key=lambda p: order.get(p[1], 0)):
        _signal(pid, signal.SIGTERM)
        if name == "nodesim":  # let it stop talking to the API server before the server goes
            _wait_gone([pid], 5)
    left = _wait_gone(list(procs), 20)
    for pid in left:
        _signal(pid, signal.SIGKILL)
    left = _wait_gone(left, 10)
    if left:
        raise ClusterError(f"local cluster: processes {left} did not exit; stop them by hand (kill -9)")
    # A Go server's main thread can be a zombie while its other threads still hold the listening socket
    # for a moment: stopped means its ports refuse connections too.
    _wait_ports_closed([int(p) for p in ((_read_state(root) or {}).get("ports") or {}).values()], 10)
    (root / "state.json").unlink(missing_ok=True)
    log(f"local cluster: stopped ({', '.join(sorted(set(procs.values())))})")


def _wait_ports_closed(ports: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for port in ports:
        while time.monotonic() < deadline:
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            time.sleep(0.1)


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left:
        for pid in list(left):
            child = _CHILDREN.get(pid)
            if child is not None and child.poll() is not None:
                _CHILDREN.pop(pid, None)
                left.remove(pid)
                continue
            try:
                proc = psutil.Process(pid)
                if proc.status() == psutil.STATUS_ZOMBIE:
                    left.remove(pid)
            except psutil.NoSuchProcess:
                left.remove(pid)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return left


def main(argv: list[str] | None = None) -> int:
    """`python -m devcluster up|down|status [--root DIR]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devcluster")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            info = ensure_running(args.root)
            print(f"cluster ready at {info.server}; admin kubeconfig: {info.admin_kubeconfig}; "
                  f"console kubeconfig: {info.console_kubeconfig}")
        elif args.command == "down":
            stop(args.root)
            print("cluster stopped")
        else:
            info = status(args.root)
            print(f"running at {info.server}, pids {info.pids}" if info else "not running")
            return 0 if info else 1
    except ClusterError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
