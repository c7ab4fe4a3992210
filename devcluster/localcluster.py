"""A real local Kubernetes control plane for development and tests: etcd 3.6, kube-apiserver and
kube-controller-manager 1.37 on loopback, plus the node simulator (`devcluster.nodesim`).

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

from devcluster import K8S_VERSION

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
SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"
# Components in start order; stopped in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "nodesim")
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
    if set(alive) != set(COMPONENTS) or not _apiserver_ready(root, state, timeout=3):
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

def _reuse(root: Path, log: Log) -> ClusterInfo | None:
    state = _read_state(root)
    if not state:
        return None
    pids = state.get("pids", {})
    alive = {name for name, pid in pids.items() if _is_ours(pid, root, name)}
    if not {"etcd", "kube-apiserver"} <= alive or not _apiserver_ready(root, state, timeout=5):
        return None
    for name in ("kube-controller-manager", "nodesim"):
        if name not in alive:
            log(f"local cluster: {name} had stopped; starting it again")
            pids[name] = _start_component(root, name, state)
            state["pids"] = pids
            _write_state(root, state)
    if "nodesim" not in alive:
        _wait_nodes_ready(root, state, 60)
    _run_async(_bootstrap(root / "admin.kubeconfig"))  # the manifests may have changed since it started
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
    ports = {name: _free_port() for name in ("etcd", "etcd-peer", "apiserver", "kubelet")}
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

    log("local cluster: applying RBAC roles, the console identity, the StorageClass and metrics CRDs")
    _run_async(_bootstrap(root / "admin.kubeconfig"))

    log("local cluster: starting kube-controller-manager and the node simulator")
    for name in ("kube-controller-manager", "nodesim"):
        state["pids"][name] = _start_component(root, name, state)
        _write_state(root, state)
    _wait_nodes_ready(root, state, 60)
    _wait_default_service_account(root, state, 60)
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
            f"--kubelet-port={ports['kubelet']}",
        ]
    raise ValueError(name)


def _start_component(root: Path, name: str, state: dict[str, Any]) -> int:
    logs = root / "logs"
    logfile = logs / f"{name}.log"
    if logfile.exists() and logfile.stat().st_size:
        logfile.replace(logs / f"{name}.log.1")
    env = dict(os.environ)
    if name == "nodesim":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            _command(root, name, state), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=REPO if name == "nodesim" else root, env=env, start_new_session=True, close_fds=True,
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
    token = _ensure_tokens(root)["admin"]
    req = urllib.request.Request(state["server"] + path, headers={"Authorization": f"Bearer {token}"})
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


# -- bootstrap objects -----------------------------------------------------------------------------

def load_manifests(path: Path) -> list[dict[str, Any]]:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    return [doc for doc in yaml.load_all(path.read_text()) if doc]


async def _bootstrap(admin_kubeconfig: Path) -> None:
    from app.kube.client import CONSOLE
    from app.kube.config import new_gateway

    gw = await new_gateway(str(admin_kubeconfig), timeout=30)
    try:
        for path in MANIFESTS:
            for obj in load_manifests(path):
                await gw.apply(obj, namespace=obj["metadata"].get("namespace"), actor=CONSOLE,
                               field_manager=FIELD_MANAGER)
        deadline = time.monotonic() + 30
        for name in ("pods.metrics.k8s.io", "nodes.metrics.k8s.io"):
            while True:
                crd = await gw.get("CustomResourceDefinition", None, name, actor=CONSOLE)
                conditions = (crd.get("status") or {}).get("conditions") or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"local cluster: the CRD {name} was not established within 30 s")
                await asyncio.sleep(0.2)
    finally:
        await gw.close()


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
    """A CA, serving certificates for the API server and the fake kubelet, and a service-account key."""
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

    if not (pki / "ca.crt").exists() or not (pki / "ca.key").exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard-local-ca")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(pki / "ca.key", pem_key(ca_key))
        (pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        for stale in ("apiserver", "kubelet"):
            (pki / f"{stale}.crt").unlink(missing_ok=True)
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())

    def serving(stem: str, common_name: str, dns: list[str], ips: list[str]) -> None:
        if (pki / f"{stem}.crt").exists() and (pki / f"{stem}.key").exists():
            return
        key = ec.generate_private_key(ec.SECP256R1())
        san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        _write_private(pki / f"{stem}.key", pem_key(key))
        (pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    serving("apiserver", "kube-apiserver",
            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"], ["127.0.0.1", "10.96.0.1"])
    serving("kubelet", "dockyard-fake-kubelet", ["localhost"], ["127.0.0.1"])
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
             "controller-manager": "controller-manager.kubeconfig", "nodesim": "nodesim.kubeconfig"}
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


def _free_port() -> int:
    """A free port below the kernel's range for outgoing connections (32768 and up on Linux): a port the
    kernel picked for us could be handed to some client's connection while the API server restarts on
    it, and the restart would then find it taken."""
    low, high = _ephemeral_range()
    for _ in range(200):
        port = secrets.randbelow(min(low, 32768) - 20000) + 20000
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded machine: any free port
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    if program in ("etcd", "kube-apiserver", "kube-controller-manager"):
        return program
    if program.startswith("python") and argv[1:3] == ["-m", "devcluster.nodesim"]:
        return "nodesim"
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
