"""Create Stateless and Stateful Services through the wizard's HTTP flow on the local control plane, as
the project's operator, then watch them come up: pods Running, Endpoints filled, and the objects in the
cluster as the Review showed them. A failure after the workload was created rolls it back."""

from __future__ import annotations

import html as html_lib
import random
import re
from typing import Any

import pytest

from app.domain.k8s.quantities import parse_quantity
from app.domain.yaml import parse_manifests
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import plain_service
from tests.web.test_wizard_pages import Wizard

pytestmark = pytest.mark.cluster


def review_objects(page: str, namespace: str) -> dict[str, dict[str, Any]]:
    """The objects the Review page shows, by kind."""
    texts = re.findall(r'<pre class="yaml" id="review-yaml-[a-z]+"[^>]*>(.*?)</pre>', page, re.S)
    assert len(texts) == 2, page[-2000:]
    result = parse_manifests("---\n".join(html_lib.unescape(t) for t in texts), namespace=namespace)
    assert result.ok, result.problems
    return {m.kind: m.obj for m in result.objects}


def assert_contains(expected: Any, actual: Any, path: str = "") -> None:
    """Everything the Review showed is in the live object (the server adds its defaults and status)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for key, value in expected.items():
            if key not in actual and value in (0, "", [], {}):  # 0 == False too
                continue  # Go's omitempty: a zero value is not written back
            assert key in actual, f"{path}.{key} missing in the cluster's object"
            assert_contains(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_contains(e, a, f"{path}[{i}]")
    elif ".resources." in path and isinstance(expected, str):  # quantities come back canonical: 0.1 -> 100m
        assert parse_quantity(expected) == parse_quantity(str(actual)), f"{path}: {expected!r} != {actual!r}"
    else:
        assert expected == actual, f"{path}: {expected!r} != {actual!r}"


async def running_pods(kube: KubeGateway, namespace: str, selector: str, count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        pods = await kube.items("Pod", namespace, actor=CONSOLE, label_selector=selector)
        running = [p for p in pods if p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP")]
        assert len(running) == count, [p.get("status", {}).get("phase") for p in pods]
        return running
    return await eventually(check, timeout=90)


async def endpoint_ips(kube: KubeGateway, namespace: str, name: str, count: int) -> set[str]:
    async def check() -> set[str]:
        ep = await kube.get("Endpoints", namespace, name, actor=CONSOLE)
        ips = {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}
        assert len(ips) == count, ep.get("subsets")
        return ips
    return await eventually(check, timeout=90)


async def test_create_a_stateless_service_with_a_node_port(demo: DemoProject, tenants: Tenants,
                                                           admin_kube: KubeGateway) -> None:
    await tenants.pod_security(demo.project, "privileged")  # it syncs the host's timezone: a hostPath volume
    w = await Wizard(await tenants.browser(demo.operator), f"{demo.base}/services/-/new/stateless").open()
    assert (await w.fill(name="nginx-demo", alias="Nginx-Demo", description="demo")).status_code == 200
    await w.press("add-container:worker")
    resp = await w.fill(replicas="2", containers__0__image="nginx:1.25", containers__0__name="nginx",
                        containers__0__cpu_request="0.1", containers__0__cpu_limit="0.5",
                        containers__0__memory_request="128", containers__0__memory_limit="512",
                        containers__0__ports__0__container_port="80", containers__0__ports__0__service_port="80",
                        containers__0__sync_host_timezone=True,
                        containers__0__readiness__type="http", containers__0__readiness__path="/healthz")
    assert resp.status_code == 200 and w.step == "volumes", w.page[-2000:]
    await w.press("next")
    # today's Service fields (issue 16), offered because the 1.37 schema has them
    resp = await w.fill("review", access="NodePort", sticky_session=True, internal_traffic_policy="Local",
                        traffic_distribution="PreferSameZone", external_traffic_policy="Local",
                        publish_not_ready_addresses=True)
    assert resp.status_code == 200, w.page[-2000:]
    shown = review_objects(w.page, demo.namespace)
    assert shown["Service"]["spec"]["type"] == "NodePort"
    assert (shown["Service"]["spec"]["internalTrafficPolicy"], shown["Service"]["spec"]["externalTrafficPolicy"],
            shown["Service"]["spec"]["trafficDistribution"]) == ("Local", "Local", "PreferSameZone")

    resp = await w.press("create")
    assert resp.status_code == 303, w.page[-3000:]
    assert resp.headers["location"] == f"{demo.base}/services/nginx-demo"
    landing = await w.browser.get(resp.headers["location"])
    assert landing.status_code == 200 and "nginx-demo" in landing.text

    ns = demo.namespace
    pods = await running_pods(admin_kube, ns, "app=nginx-demo,version=v1", 2)
    assert await endpoint_ips(admin_kube, ns, "nginx-demo", 2) == {p["status"]["podIP"] for p in pods}
    deployment = await admin_kube.get("Deployment", ns, "nginx-demo-v1", actor=CONSOLE)
    service = await admin_kube.get("Service", ns, "nginx-demo", actor=CONSOLE)
    assert_contains(shown["Deployment"], deployment, "Deployment")
    assert_contains(shown["Service"], service, "Service")
    assert 30000 <= service["spec"]["ports"][0]["nodePort"] <= 32767
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "servicePort" not in container["ports"][0]  # none of the original's artefacts
    assert deployment["metadata"]["annotations"]["kubesphere.io/creator"] == demo.operator.username
    assert service["spec"]["selector"] == {"app": "nginx-demo"}
    assert service["spec"]["publishNotReadyAddresses"] is True
    # the user's writes carry their name as the field manager: managedFields say who made the Service
    assert {m["manager"] for m in service["metadata"]["managedFields"]} >= {f"dockyard/{demo.operator.username}"}


async def test_create_a_stateful_service_with_a_volume_claim_template(demo: DemoProject, tenants: Tenants,
                                                                      admin_kube: KubeGateway) -> None:
    classes = await admin_kube.items("StorageClass", None, actor=CONSOLE)
    default = next(c["metadata"]["name"] for c in classes
                   if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true")
    await admin_kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mysql-secret"},
                             "type": "Opaque", "stringData": {"password": "pw"}}, namespace=demo.namespace, actor=CONSOLE)

    w = await Wizard(await tenants.browser(demo.operator), f"{demo.base}/services/-/new/stateful").open()
    assert (await w.fill(name="mysql", alias="MySQL")).status_code == 200
    await w.press("add-container:worker")
    await w.press("add-env:0")
    resp = await w.fill(containers__0__image="mysql:8.0", containers__0__ports__0__protocol="TCP",
                        containers__0__ports__0__name="tcp-0", containers__0__ports__0__container_port="3306",
                        containers__0__ports__0__service_port="3306", containers__0__env__0__type="secret",
                        containers__0__env__0__name="MYSQL_ROOT_PASSWORD",
                        containers__0__env__0__secret_ref="mysql-secret/password")
    assert resp.status_code == 200 and w.step == "volumes", w.page[-2000:]
    await w.press("add-template")
    resp = await w.fill(volume_templates__0__storage_class=default, volume_templates__0__capacity="1Gi",
                        volume_templates__0__mounts__0__mode="rw", volume_templates__0__mounts__0__mount_path="/var/lib/mysql")
    assert resp.status_code == 200 and w.step == "advanced", w.page[-2000:]
    resp = await w.press("review")
    assert resp.status_code == 200, w.page[-2000:]
    shown = review_objects(w.page, demo.namespace)
    assert shown["Service"]["spec"]["clusterIP"] == "None"
    assert shown["StatefulSet"]["spec"]["serviceName"] == "mysql"

    resp = await w.press("create")
    assert resp.status_code == 303, w.page[-3000:]
    ns = demo.namespace
    pods = await running_pods(admin_kube, ns, "app=mysql", 1)
    assert pods[0]["metadata"]["name"] == "mysql-v1-0"
    claim = await admin_kube.get("PersistentVolumeClaim", ns, "data-mysql-v1-0", actor=CONSOLE)
    assert claim["spec"]["storageClassName"] == default and claim["status"]["phase"] == "Bound"
    assert await endpoint_ips(admin_kube, ns, "mysql", 1) == {pods[0]["status"]["podIP"]}
    assert_contains(shown["StatefulSet"], await admin_kube.get("StatefulSet", ns, "mysql-v1", actor=CONSOLE), "StatefulSet")
    assert_contains(shown["Service"], await admin_kube.get("Service", ns, "mysql", actor=CONSOLE), "Service")


async def test_a_service_refused_after_the_workload_was_created_rolls_it_back(
        demo: DemoProject, tenants: Tenants, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    """The dry-run passes; between it and the Service's creation another Service takes the node port
    (here: created right after the Deployment, as a concurrent user could)."""
    ns = demo.namespace
    node_port = random.randint(30000, 32767)
    w = await Wizard(await tenants.browser(demo.operator), f"{demo.base}/services/-/new/stateless").open()
    await w.fill(name="late")
    await w.press("add-container:worker")
    await w.fill(containers__0__image="nginx:1.25", containers__0__ports__0__container_port="80",
                 containers__0__ports__0__service_port="80")
    await w.press("next")
    resp = await w.fill("review", access="NodePort", node_ports__0__node_port=str(node_port))
    assert resp.status_code == 200, w.page[-2000:]

    original = kube.create

    async def create_then_race(obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
        created = await original(obj, **kw)
        if obj["kind"] == "Deployment" and not kw.get("dry_run"):
            other = plain_service("squatter")
            other["spec"] = {"type": "NodePort", "selector": {"app": "squatter"},
                             "ports": [{"port": 80, "nodePort": node_port}]}
            await admin_kube.create(other, namespace=ns, actor=CONSOLE)
        return created

    kube.create = create_then_race  # type: ignore[method-assign]
    try:
        resp = await w.press("create")
    finally:
        del kube.create
    assert resp.status_code == 422, w.page[-2000:]
    assert w.step == "advanced"
    assert "already allocated" in w.message("node_ports.0.node_port")
    assert "The Deployment late-v1 had already been created; it was removed again." in w.page

    async def gone() -> bool:
        try:
            await admin_kube.get("Deployment", ns, "late-v1", actor=CONSOLE)
        except KubeError as e:
            return e.not_found
        return False
    assert await eventually(gone, timeout=30)
    assert not await admin_kube.exists("Service", ns, "late", actor=CONSOLE)

    # the user picks another node port and creates it, with the same form
    resp = await w.fill("create", node_ports__0__node_port="")
    assert resp.status_code == 303, w.page[-2000:]
    assert await admin_kube.exists("Deployment", ns, "late-v1", actor=CONSOLE)
