"""Each Create Service path on the local control plane, through the console as project-regular (so the
cluster sees the impersonated user): the object the cluster ends up with, and that traffic would flow
(Endpoints filled from running pods). Edit by YAML is all or nothing, also when the cluster refuses an
object only at the real create (after every dry run passed).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from app.kube.client import CONSOLE, KubeGateway
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import running_pods
from tests.web.test_creation_pages import (
    current_step,
    deployment,
    field_value,
    post_yaml,
    submit,
    text_of,
    urls,
)

pytestmark = pytest.mark.cluster


async def endpoint_ips(kube: KubeGateway, namespace: str, name: str) -> set[str]:
    ep = await kube.get("Endpoints", namespace, name, actor=CONSOLE)
    return {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}


async def endpoints_are(kube: KubeGateway, namespace: str, name: str, ips: set[str]) -> None:
    async def check() -> bool:
        found = await endpoint_ips(kube, namespace, name)
        assert found == ips, (found, ips)
        return True
    await eventually(check, timeout=60)


async def test_external_service_maps_to_the_domain_name(demo: DemoProject, tenants: Tenants,
                                                        admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    page = await submit(b, url, await b.get(url), name="partner-api", alias="Partner-API")
    done = await submit(b, url, page, "create", external_name="api.partner.example.com")
    assert done.status_code == 303, text_of(done.text)[:2000]
    svc = await admin_kube.get("Service", demo.namespace, "partner-api", actor=CONSOLE)
    assert svc["spec"]["type"] == "ExternalName"
    assert svc["spec"]["externalName"] == "api.partner.example.com"
    assert svc["metadata"]["annotations"]["kubesphere.io/serviceType"] == "externalservice"
    assert svc["metadata"]["annotations"]["kubesphere.io/creator"] == demo.operator.username


async def _create_over(b, demo: DemoProject, name: str, pick: str, *, headless: bool) -> Any:  # type: ignore[no-untyped-def]
    url = urls(demo)["workloads"]
    page = await submit(b, url, await b.get(url), name=name)
    page = await submit(b, url, page, f"pick:{pick}")
    hint = re.search(r'id="selector-hint"[^>]*>(.*?)</div>', page.text, re.S)
    assert current_step(page.text) == "settings" and hint and f"{pick.split(':')[1]} (" in hint.group(1), \
        text_of(page.text)[:3000]
    page = await submit(b, url, page, access_mode="headless" if headless else "virtual_ip",
                        ports__0__protocol="HTTP", ports__0__name="http-web", ports__0__container_port="80",
                        ports__0__service_port="8080")
    assert current_step(page.text) == "advanced", text_of(page.text)[:3000]
    return await submit(b, url, page, "create")


async def test_specify_workloads_service_gets_endpoints_from_running_pods(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    ns = demo.namespace
    labels = {"app": "nginx-demo", "version": "v1"}
    await admin_kube.create(deployment("nginx-demo-v1", labels, replicas=2), namespace=ns, actor=CONSOLE)
    pods = await running_pods(admin_kube, ns, "app=nginx-demo", 2)
    b = await tenants.browser(demo.operator)
    done = await _create_over(b, demo, "nginx-extra", "Deployment:nginx-demo-v1", headless=False)
    assert done.status_code == 303 and done.headers["location"] == f"{demo.base}/services/nginx-extra"
    svc = await admin_kube.get("Service", ns, "nginx-extra", actor=CONSOLE)
    assert svc["spec"]["selector"] == labels  # the workload's pod labels, verbatim (version included)
    assert svc["spec"]["clusterIP"] not in ("", "None")
    assert svc["spec"]["ports"] == [{"name": "http-web", "protocol": "TCP", "port": 8080, "targetPort": 80}]
    assert "kubesphere.io/serviceType" not in svc["metadata"]["annotations"]
    await endpoints_are(admin_kube, ns, "nginx-extra", {p["status"]["podIP"] for p in pods})
    ep = await admin_kube.get("Endpoints", ns, "nginx-extra", actor=CONSOLE)
    assert ep["subsets"][0]["ports"][0]["port"] == 80


async def test_headless_service_from_the_form_resolves_to_the_pods(demo: DemoProject, tenants: Tenants,
                                                                   admin_kube: KubeGateway) -> None:
    ns = demo.namespace
    await admin_kube.create(
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "mysql"},
         "spec": {"replicas": 2, "serviceName": "mysql-headless", "selector": {"matchLabels": {"app": "mysql"}},
                  "template": {"metadata": {"labels": {"app": "mysql"}},
                               "spec": {"containers": [{"name": "mysql", "image": "mysql:8",
                                                        "ports": [{"containerPort": 80}]}]}}}},
        namespace=ns, actor=CONSOLE)
    pods = await running_pods(admin_kube, ns, "app=mysql", 2, timeout=90)
    b = await tenants.browser(demo.operator)
    done = await _create_over(b, demo, "mysql-headless", "StatefulSet:mysql", headless=True)
    assert done.status_code == 303, text_of(done.text)[:2000]
    svc = await admin_kube.get("Service", ns, "mysql-headless", actor=CONSOLE)
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["selector"] == {"app": "mysql"}
    await endpoints_are(admin_kube, ns, "mysql-headless", {p["status"]["podIP"] for p in pods})


APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-v1
  labels: {app: shop, version: v1}
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop, version: v1}
  template:
    metadata:
      labels: {app: shop, version: v1}
    spec:
      containers:
        - name: shop
          image: nginx:1.25
          ports: [{containerPort: 80, name: http}]
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
    - {name: http, port: 80, targetPort: http}
"""


async def yaml_page(b, demo: DemoProject) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    page = await b.get(urls(demo)["yaml"])
    submission = re.search(r'name="submission" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    return {"browser": b, "url": urls(demo)["yaml"], "submission": submission}


async def test_yaml_deployment_and_service_run_and_fill_endpoints(demo: DemoProject, tenants: Tenants,
                                                                  admin_kube: KubeGateway) -> None:
    ns = demo.namespace
    b = await tenants.browser(demo.operator)
    world = await yaml_page(b, demo)
    done = await post_yaml(world, files=[("shop.yaml", APP)], action="upload")
    assert done.status_code == 200, text_of(done.text)[:2000]
    done = await post_yaml(world, text=field_value(done.text, "text", "yaml-form"))
    assert done.status_code == 303 and done.headers["location"] == f"{demo.base}/services/shop", text_of(done.text)[:2000]
    deployment_obj = await admin_kube.get("Deployment", ns, "shop-v1", actor=CONSOLE)
    assert deployment_obj["metadata"]["namespace"] == ns
    pods = await running_pods(admin_kube, ns, "app=shop", 2)
    await endpoints_are(admin_kube, ns, "shop", {p["status"]["podIP"] for p in pods})


async def _nothing_of(kube: KubeGateway, ns: str, objects: list[tuple[str, str]]) -> bool:
    for kind, name in objects:
        assert not await kube.exists(kind, ns, name, actor=CONSOLE), (kind, name)
    return True


async def test_yaml_refused_by_the_server_creates_nothing(demo: DemoProject, tenants: Tenants,
                                                          admin_kube: KubeGateway) -> None:
    """The second object is valid YAML of an allowed kind, but the API server refuses it: nothing is
    created (the dry run of every object runs before any is created)."""
    ns = demo.namespace
    bad = APP.replace("replicas: 2", "replicas: -1").replace("shop", "bad")
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-config}\ndata: {a: b}\n---\n" + bad
    b = await tenants.browser(demo.operator)
    resp = await post_yaml(await yaml_page(b, demo), text=text)
    assert resp.status_code == 422
    assert "The cluster refused it; nothing was created" in text_of(resp.text)
    assert "spec.replicas" in text_of(resp.text)
    await _nothing_of(admin_kube, ns, [("ConfigMap", "bad-config"), ("Deployment", "bad-v1"), ("Service", "bad")])


async def test_yaml_refused_only_at_the_real_create_is_rolled_back(demo: DemoProject, tenants: Tenants,
                                                                   admin_kube: KubeGateway) -> None:
    """Two Services asking for the same node port: each passes its dry run alone, the second is refused
    when it is created for real. Everything created before it is removed again."""
    ns = demo.namespace
    # A fresh port each run: on Kubernetes 1.20 a Service removed with foreground propagation keeps its
    # node port allocated until the API server's repair loop frees it, minutes later.
    node_port = 30100 + secrets.randbelow(2600)
    services = "".join(
        f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
        f"spec:\n  type: NodePort\n  selector: {{app: shop}}\n  ports: [{{port: 80, nodePort: {node_port}}}]\n"
        for name in ("shop-a", "shop-b"))
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop-config}\ndata: {a: b}\n" + services
    b = await tenants.browser(demo.operator)
    resp = await post_yaml(await yaml_page(b, demo), text=text)
    assert resp.status_code == 422, text_of(resp.text)[:2000]
    shown = text_of(resp.text)
    assert "The cluster refused it; nothing was created" in shown and str(node_port) in shown
    assert "Removed again:" in shown and "ConfigMap shop-config" in shown, shown[shown.find("refused"):][:800]
    await eventually(lambda: _nothing_of(admin_kube, ns, [("ConfigMap", "shop-config"), ("Service", "shop-a"),
                                                          ("Service", "shop-b")]))
