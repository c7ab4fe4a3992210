"""The local control plane behaves like a cluster: workloads run, logs and metrics come through the
API, failures show, and `stop()` leaves nothing behind."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from devcluster import localcluster
from tests.cluster import eventually

pytestmark = pytest.mark.cluster

Obj = dict[str, Any]


def deployment(name: str, replicas: int = 2, image: str = "nginx:1.25", **pod_meta: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}, **pod_meta},
                         "spec": {"containers": [{"name": "web", "image": image,
                                                  "ports": [{"containerPort": 80}]}]}},
        },
    }


def pod(name: str, image: str, annotations: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}, "annotations": annotations or {}},
            "spec": {"containers": [{"name": "main", "image": image}]}}


async def running_pods(kube: KubeGateway, ns: str, selector: str, count: int) -> list[Obj]:
    pods = await kube.items("Pod", ns, actor=CONSOLE, label_selector=selector)
    running = [p for p in pods if p.get("status", {}).get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")
               and all(c.get("ready") for c in p["status"].get("containerStatuses", []))]
    assert len(running) == count, f"{len(running)}/{count} running"
    return running


async def test_deployment_pods_run_with_ips_and_fill_the_service_endpoints(admin_kube: KubeGateway,
                                                                           namespace: str) -> None:
    await admin_kube.create(deployment("web", replicas=3), namespace=namespace, actor=CONSOLE)
    await admin_kube.create({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
    }, namespace=namespace, actor=CONSOLE)

    pods = await eventually(lambda: running_pods(admin_kube, namespace, "app=web", 3), timeout=30)
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3 and all(ip.startswith("10.244.") for ip in ips)
    assert all(p["status"]["hostIP"] == "127.0.0.1" and p["spec"]["nodeName"].startswith("dockyard-node-")
               for p in pods)
    status = pods[0]["status"]["containerStatuses"][0]
    assert status["state"]["running"]["startedAt"] and status["containerID"].startswith("containerd://")

    async def endpoint_ips() -> set[str]:
        ep = await admin_kube.get("Endpoints", namespace, "web", actor=CONSOLE)
        return {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}

    assert await eventually(lambda: _equal(endpoint_ips(), ips), timeout=30)

    async def rolled_out() -> bool:
        d = await admin_kube.get("Deployment", namespace, "web", actor=CONSOLE)
        return d.get("status", {}).get("availableReplicas") == 3 and d["status"].get("updatedReplicas") == 3

    assert await eventually(rolled_out, timeout=30)
    async def pod_events() -> bool:  # events trail the pods: they are queued behind pod work
        events = await admin_kube.items("Event", namespace, actor=CONSOLE)
        reasons = {e["reason"] for e in events if e["involvedObject"]["kind"] == "Pod"}
        return {"Scheduled", "Pulled", "Created", "Started"} <= reasons

    assert await eventually(pod_events, timeout=30)


async def _equal(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_deleting_a_pod_removes_it_and_the_replicaset_replaces_it(admin_kube: KubeGateway,
                                                                        namespace: str) -> None:
    await admin_kube.create(deployment("app", replicas=1), namespace=namespace, actor=CONSOLE)
    [first] = await eventually(lambda: running_pods(admin_kube, namespace, "app=app", 1))
    await admin_kube.delete("Pod", namespace, first["metadata"]["name"], actor=CONSOLE)
    [second] = await eventually(lambda: running_pods(admin_kube, namespace, "app=app", 1))
    assert second["metadata"]["uid"] != first["metadata"]["uid"]

    async def gone() -> bool:  # the simulated kubelet removes it after its replacement may already run
        return not await admin_kube.exists("Pod", namespace, first["metadata"]["name"], actor=CONSOLE)
    assert await eventually(gone, timeout=30)


async def test_statefulset_with_a_volume_claim_template_gets_bound_volumes_and_running_pods(
        admin_kube: KubeGateway, namespace: str) -> None:
    await admin_kube.create({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                "containers": [{"name": "pg", "image": "postgres:15",
                                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        },
    }, namespace=namespace, actor=CONSOLE)

    pods = await eventually(lambda: running_pods(admin_kube, namespace, "app=db", 2), timeout=45)
    assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1"]
    init = pods[0]["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    claims = await admin_kube.items("PersistentVolumeClaim", namespace, actor=CONSOLE)
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert all(c["status"]["phase"] == "Bound" and c["spec"]["storageClassName"] == "local" for c in claims)


async def test_container_logs_are_read_and_followed_through_the_api(admin_kube: KubeGateway,
                                                                     namespace: str) -> None:
    await admin_kube.create(pod("web", "nginx:1.25"), namespace=namespace, actor=CONSOLE)
    await eventually(lambda: running_pods(admin_kube, namespace, "app=web", 1))

    text = await eventually(
        lambda: admin_kube.pod_logs(namespace, "web", "main", actor=CONSOLE, tail_lines=3))
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3
    again = await admin_kube.pod_logs(namespace, "web", "main", actor=CONSOLE, tail_lines=3, timestamps=True)
    assert again.splitlines()[0][:4].isdigit() and "T" in again.splitlines()[0][:20]

    seen: list[str] = []

    async def follow() -> None:
        async for line in admin_kube.follow_pod_logs(namespace, "web", "main", actor=CONSOLE, tail_lines=1):
            seen.append(line)
            if len(seen) >= 3:
                return

    await asyncio.wait_for(follow(), timeout=15)
    assert len(set(seen)) == 3  # the tail line, then new lines as they are written


async def test_a_waiting_container_has_no_logs_and_the_api_says_why(admin_kube: KubeGateway,
                                                                     namespace: str) -> None:
    await admin_kube.create(pod("pull", "registry.example.com/notfound:1"), namespace=namespace,
                            actor=CONSOLE)

    async def waiting() -> bool:
        p = await admin_kube.get("Pod", namespace, "pull", actor=CONSOLE)
        return bool(p.get("status", {}).get("containerStatuses"))

    await eventually(waiting)
    with pytest.raises(KubeError) as err:
        await admin_kube.pod_logs(namespace, "pull", "main", actor=CONSOLE)
    assert err.value.status == 400 and "waiting to start" in err.value.message


async def test_pod_and_node_metrics_are_served_by_the_metrics_api(admin_kube: KubeGateway,
                                                                  namespace: str) -> None:
    """metrics.k8s.io is the real metrics-server (an aggregated API, no CRDs), scraping each simulated node's
    kubelet endpoint: as on a real cluster."""
    apiservice = await admin_kube.raw_get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io",
                                          actor=CONSOLE)
    assert apiservice["spec"]["service"] == {
        "name": "metrics-server", "namespace": "kube-system", "port": apiservice["spec"]["service"]["port"]}
    assert any(c["type"] == "Available" and c["status"] == "True" for c in apiservice["status"]["conditions"])
    crds = await admin_kube.items("CustomResourceDefinition", None, actor=CONSOLE)
    assert not [c["metadata"]["name"] for c in crds if c["spec"]["group"] == "metrics.k8s.io"]
    nodes = await admin_kube.items("Node", None, actor=CONSOLE, label_selector="dockyard.dev/simulated=true")
    internal_ips = [a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
    assert len(set(internal_ips)) == len(nodes) >= 2  # metrics-server tells the nodes apart by address

    await admin_kube.create(deployment("api", replicas=2), namespace=namespace, actor=CONSOLE)
    await eventually(lambda: running_pods(admin_kube, namespace, "app=api", 2))

    async def pod_metrics() -> list[Obj]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
        data = await admin_kube.raw_get(path, actor=CONSOLE)
        assert data["kind"] == "PodMetricsList"
        assert len(data["items"]) == 2
        return list(data["items"])

    # metrics-server scrapes every 10 s and needs two points of a container (or one, 10 s after it started)
    items = await eventually(pod_metrics, timeout=60, interval=1)
    for m in items:
        assert m["timestamp"] and m["window"]
        assert "resourceVersion" not in m["metadata"]  # computed by metrics-server, not stored objects
        [container] = m["containers"]
        assert container["name"] == "web"
        # the simulator's usage for a container without requests: 1-40 millicores, 6-96 MiB
        assert 0.0005 < _quantity(container["usage"]["cpu"]) < 0.06, container
        assert 5 * 2**20 < _quantity(container["usage"]["memory"]) < 100 * 2**20, container
    assert all(m["metadata"]["labels"].get("app") == "api" for m in items)
    # the console's own read (a label selector, as the Service page asks)
    via_kind = await admin_kube.items("PodMetrics", namespace, actor=CONSOLE, label_selector="app=api")
    assert {m["metadata"]["name"] for m in via_kind} == {m["metadata"]["name"] for m in items}

    async def node_metrics() -> list[Obj]:
        data = await admin_kube.raw_get("/apis/metrics.k8s.io/v1beta1/nodes", actor=CONSOLE)
        assert {n["metadata"]["name"] for n in data["items"]} >= {"dockyard-node-1", "dockyard-node-2"}
        return list(data["items"])

    for n in await eventually(node_metrics, timeout=30, interval=1):
        assert _quantity(n["usage"]["cpu"]) >= 0.1  # the node's own processes (0.15 cores) and its pods
        assert _quantity(n["usage"]["memory"]) >= 2**30


def _quantity(text: str) -> float:
    units = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


async def test_a_crashing_image_shows_crash_loop_back_off_with_restarts_and_events(
        admin_kube: KubeGateway, namespace: str) -> None:
    await admin_kube.create(pod("crashy", "nginx:crash"), namespace=namespace, actor=CONSOLE)

    async def crash_looping() -> Obj:
        p = await admin_kube.get("Pod", namespace, "crashy", actor=CONSOLE)
        [status] = p["status"]["containerStatuses"]
        assert status["restartCount"] >= 1
        assert status["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
        return p

    p = await eventually(crash_looping, timeout=30)
    assert p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"

    async def backoff_event() -> bool:
        events = await admin_kube.items("Event", namespace, actor=CONSOLE,
                                        field_selector="involvedObject.name=crashy")
        return any(e["reason"] == "BackOff" and e["type"] == "Warning" for e in events)

    assert await eventually(backoff_event)
    previous = await admin_kube.pod_logs(namespace, "crashy", "main", actor=CONSOLE, previous=True)
    assert "simulated crash" in previous


async def test_the_simulate_annotation_makes_image_pulls_fail(admin_kube: KubeGateway,
                                                              namespace: str) -> None:
    await admin_kube.create(pod("img", "nginx:1.25", {"dockyard.dev/simulate": "imagepullbackoff"}),
                            namespace=namespace, actor=CONSOLE)

    async def pull_failing() -> Obj:
        p = await admin_kube.get("Pod", namespace, "img", actor=CONSOLE)
        [status] = p["status"]["containerStatuses"]
        assert status["state"]["waiting"]["reason"] in ("ErrImagePull", "ImagePullBackOff")
        return p

    p = await eventually(pull_failing)
    assert p["status"]["phase"] == "Pending"

    async def failed_event() -> bool:
        events = await admin_kube.items("Event", namespace, actor=CONSOLE,
                                        field_selector="involvedObject.name=img")
        return any(e["reason"] == "Failed" and "ErrImagePull" in e["message"] for e in events)

    assert await eventually(failed_event)


async def test_a_job_runs_to_completion(admin_kube: KubeGateway, namespace: str) -> None:
    await admin_kube.create({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "task", "image": "busybox:1.36"}]}}},
    }, namespace=namespace, actor=CONSOLE)

    async def succeeded() -> bool:
        job = await admin_kube.get("Job", namespace, "once", actor=CONSOLE)
        return job.get("status", {}).get("succeeded") == 1

    assert await eventually(succeeded, timeout=30)


async def test_ensure_running_reuses_a_running_cluster_and_stop_leaves_no_process(tmp_path: Path) -> None:
    """A second control plane in its own root: started, reused (restarting only what died), stopped."""
    root = tmp_path / "cluster"
    messages: list[str] = []
    info = await asyncio.to_thread(localcluster.ensure_running, root, messages.append)
    try:
        assert not info.reused and set(info.pids) == set(localcluster.COMPONENTS)
        assert (root / "admin.kubeconfig").exists() and (root / "console.kubeconfig").exists()

        for name in ("nodesim", "metrics-server"):
            died = psutil.Process(info.pids[name])
            died.kill()
            died.wait(timeout=10)
        again = await asyncio.to_thread(localcluster.ensure_running, root, messages.append)
        assert again.reused and again.server == info.server
        assert again.pids["kube-apiserver"] == info.pids["kube-apiserver"]
        assert again.pids["nodesim"] != info.pids["nodesim"]
        assert again.pids["metrics-server"] != info.pids["metrics-server"]  # and the metrics API is back
    finally:
        await asyncio.to_thread(localcluster.stop, root, messages.append)

    for pid in again.pids.values():
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                 if any(str(root) in arg for arg in (p.info["cmdline"] or []))]
    assert leftovers == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", info.ports["apiserver"])) != 0
    assert not (root / "state.json").exists()
    assert (root / "etcd").is_dir() and (root / "admin.kubeconfig").exists()  # data and credentials stay


async def test_a_daemonset_runs_one_pod_on_each_node(admin_kube: KubeGateway, namespace: str) -> None:
    await admin_kube.create({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "fluent/fluent-bit:2.1"}]}}},
    }, namespace=namespace, actor=CONSOLE)
    pods = await eventually(lambda: running_pods(admin_kube, namespace, "app=agent", 2))
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["dockyard-node-1", "dockyard-node-2"]
