"""Why no traffic? (issue 20): each check against a Service broken in that way on the real local control
plane, beside tests/web/test_services_pages.py's healthy Service, missed selector, wrong port name and
unresolvable ExternalName. The node simulator plays the kubelet: a `notready` pod with a readiness probe
stays unready and its Unhealthy Event carries the probe's failure, as a kubelet's does."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import pytest

from app.kube.client import CONSOLE, KubeGateway
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, plain_service, running_pods, stateless

pytestmark = pytest.mark.cluster


async def _checks(b: Any, demo: DemoProject, name: str) -> dict[str, str]:
    """check key -> "<verdict> <its text>", as the Service's page shows them."""
    page = await b.get(f"{demo.base}/services/{name}")
    assert page.status_code == 200 and 'id="traffic-checks"' in page.text
    return {m.group(2): m.group(1) + " " + " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", m.group(3))).split())
            for m in re.finditer(r'<li class="check check-(\w+)" id="check-([\w-]+)">(.*?)</li>', page.text, re.S)}


def _not_ready(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Deployment whose pods run but never pass their HTTP readiness probe, and its Service."""
    deployment, service = stateless(name)
    template = deployment["spec"]["template"]
    template["metadata"]["annotations"] = {"dockyard.dev/simulate": "notready"}
    template["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 80}}
    return deployment, service


async def test_unready_pods_say_which_probe_fails_and_leave_the_ports_without_endpoints(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, service = _not_ready("unready")
    service["spec"]["sessionAffinity"] = "ClientIP"
    await create(admin_kube, demo.namespace, deployment, service)
    b = await tenants.browser(demo.viewer)

    async def failing() -> dict[str, str]:
        found = await _checks(b, demo, "unready")
        assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in found.get("ready", ""), found
        return found
    found = await eventually(failing, timeout=60)
    assert found["ready"].startswith("fail") and "1 of 1 pods are not ready" in found["ready"]
    assert found["endpoints"].startswith("fail") and "No ready endpoint for: http-0" in found["endpoints"]
    assert found["affinity"].startswith("warn") and "no ready endpoint to stick to" in found["affinity"]
    assert found["selector"].startswith("pass")


async def test_a_local_policy_and_a_pending_load_balancer_are_pointed_out(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, service = stateless("edge")
    service["spec"].update(type="LoadBalancer", internalTrafficPolicy="Local")
    await create(admin_kube, demo.namespace, deployment, service)
    pods = await running_pods(admin_kube, demo.namespace, "app=edge", 1)
    node = pods[0]["spec"]["nodeName"]
    b = await tenants.browser(demo.viewer)

    async def settled() -> dict[str, str]:
        found = await _checks(b, demo, "edge")
        assert found.get("endpoints", "").startswith("pass"), found
        return found
    found = await eventually(settled, timeout=60)
    # no load balancer controller answers here: the address stays pending, and the page says what to do
    assert found["external"].startswith("warn") and "no address yet" in found["external"]
    assert found["policy"].startswith("warn") and node in found["policy"]
    assert "affinity" not in found  # sticky sessions are off


async def test_an_external_name_that_resolves_passes(demo: DemoProject, tenants: Tenants,
                                                     admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("here", external_name="localhost"))
    b = await tenants.browser(demo.viewer)
    found = await _checks(b, demo, "here")
    assert found["external-name"].startswith("pass") and "localhost" in found["external-name"]
    assert set(found) == {"external-name"}  # nothing else applies to an ExternalName
    svc = await admin_kube.get("Service", demo.namespace, "here", actor=CONSOLE)
    assert svc["spec"]["externalName"] == "localhost"
