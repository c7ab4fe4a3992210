"""Expose a Service through a Gateway on the local control plane (Gateway API CRDs installed by the
development cluster, conditions set by its controller, devcluster/gatewayctl.py): the form offers only
the Gateways offered to the workspace, refuses the rest and bad hostnames on their field, writes the
HTTPRoute as the user; the Service's page shows what the controller says (live), the cluster itself
refuses a route the Gateway's listeners do not admit, and Delete offers and removes the route."""

from __future__ import annotations

import html as html_lib
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from app.domain.services.gateway import status as route_status
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, plain_service, read_sse, sse_url, stateless

pytestmark = pytest.mark.cluster

GATEWAYS = "dockyard-gateways"
CONTROLLER = "dockyard.dev/gateway-controller"


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def gateway(name: str, *, offered_to: str, admits: str, hostname: str, klass: str = "dockyard-dev") -> dict[str, Any]:
    """A Gateway offered (annotation) to one workspace whose listener admits another's namespaces."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": GATEWAYS, "annotations": {"dockyard.dev/workspaces": offered_to}},
        "spec": {"gatewayClassName": klass, "listeners": [{
            "name": "http", "protocol": "HTTP", "port": 80, "hostname": hostname,
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
                {"key": "kubesphere.io/workspace", "operator": "In", "values": [admits]}]}}}}]},
    }


@pytest_asyncio.fixture(loop_scope="session")
async def gateways(admin_kube: KubeGateway) -> AsyncIterator[list[dict[str, Any]]]:
    """Gateways made by a test as a platform admin would, removed after it."""
    made: list[dict[str, Any]] = []
    yield made
    for obj in made:
        kind, ns = obj["kind"], obj["metadata"].get("namespace")
        try:
            await admin_kube.delete(kind, ns, obj["metadata"]["name"], actor=CONSOLE)
        except KubeError as e:
            if not e.not_found:
                raise


async def make(admin_kube: KubeGateway, made: list[dict[str, Any]], obj: dict[str, Any]) -> dict[str, Any]:
    created = await admin_kube.create(obj, namespace=obj["metadata"].get("namespace"), actor=CONSOLE)
    made.append(created)
    return created


async def conditions(admin_kube: KubeGateway, namespace: str, name: str, gateway_name: str) -> dict[str, tuple[str, str]]:
    """type -> (status, reason) that the development controller set for one parent, once it has."""
    route = await admin_kube.get("HTTPRoute", namespace, name, actor=CONSOLE, fresh=True)
    generation = route["metadata"]["generation"]
    for parent in (route.get("status") or {}).get("parents") or []:
        if parent["parentRef"]["name"] == gateway_name and parent["controllerName"] == CONTROLLER:
            found = {c["type"]: (c["status"], c["reason"]) for c in parent["conditions"]
                     if c.get("observedGeneration") == generation}
            assert set(found) == {"Accepted", "ResolvedRefs"}, found
            return found
    raise AssertionError("no answer yet")


def route_for(name: str, gateway_name: str, *, backend: str | None = None, backend_ns: str | None = None,
              port: int = 80) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": backend or name, "port": port}
    if backend_ns:
        ref["namespace"] = backend_ns
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [{"namespace": GATEWAYS, "name": gateway_name}],
                     "rules": [{"backendRefs": [ref]}]}}


async def test_the_gateway_api_is_installed_and_the_dev_controller_answers(admin_kube: KubeGateway) -> None:
    for crd in ("httproutes", "gateways", "gatewayclasses", "referencegrants"):
        obj = await admin_kube.get("CustomResourceDefinition", None, f"{crd}.gateway.networking.k8s.io", actor=CONSOLE)
        assert obj["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.6.3"
        assert obj["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"

    async def accepted() -> bool:
        gc = await admin_kube.get("GatewayClass", None, "dockyard-dev", actor=CONSOLE)
        gw = await admin_kube.get("Gateway", GATEWAYS, "public", actor=CONSOLE)
        return any(c["type"] == "Accepted" and c["status"] == "True" for c in (gc.get("status") or {}).get("conditions", [])) \
            and any(c["type"] == "Programmed" and c["status"] == "True" for c in (gw.get("status") or {}).get("conditions", []))

    await eventually(accepted, timeout=30)


async def test_expose_through_a_gateway_from_the_form_to_the_controllers_answer(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, gateways: list[dict[str, Any]], app: Any) -> None:
    ws = demo.workspace.name
    uid = secrets.token_hex(3)
    mine = await make(admin_kube, gateways, gateway(f"gw-{uid}", offered_to=ws, admits=ws, hostname=f"*.{uid}.test"))
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.operator)
    url = f"{demo.base}/services/web/external-access"
    page = await b.get(url)
    assert page.status_code == 200
    assert 'id="mode-gateway"' in page.text and "gateway-unavailable" not in page.text
    options = re.findall(r'<option value="([^"]+)"', page.text)
    assert f"{GATEWAYS}/gw-{uid}" in options and f"{GATEWAYS}/public" not in options  # offered to demo-workspace only

    def fields(**extra: str) -> dict[str, str]:
        return {"mode": "Gateway", "resource_version": hidden(page.text, "resource_version"), "gateway_shown": "1",
                "gateway": f"{GATEWAYS}/gw-{uid}", "hostnames": f"shop.{uid}.test", "path_type": "PathPrefix",
                "path": "/shop", "port": "80", "op": "save", **extra}

    # a hostname typo: 422, on the field, nothing written
    typo = await b.post(url, fields(hostnames=f"shop..{uid}.test"), htmx=True)
    assert typo.status_code == 422
    assert re.search(r'id="route-hostnames"[^>]*aria-invalid="true"', typo.text), typo.text[:3000]
    assert "RFC 1123" in html_lib.unescape(typo.text)
    # a Gateway not offered to this workspace (the dev Gateway is demo-workspace's): refused on its field
    foreign = await b.post(url, fields(gateway=f"{GATEWAYS}/public"), htmx=True)
    assert foreign.status_code == 422 and re.search(r'id="route-gateway"[^>]*aria-invalid="true"', foreign.text)
    assert f"not offered to the workspace {ws}" in html_lib.unescape(foreign.text)
    assert not await admin_kube.exists("HTTPRoute", demo.namespace, "web", actor=CONSOLE)

    saved = await b.post(url, fields())
    assert saved.status_code == 303, saved.text[:3000]
    route = await admin_kube.get("HTTPRoute", demo.namespace, "web", actor=CONSOLE)
    assert route["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "dockyard", "dockyard.dev/service": "web"}
    assert not route["metadata"].get("ownerReferences")
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "namespace": GATEWAYS, "name": f"gw-{uid}"}]
    assert route["spec"]["hostnames"] == [f"shop.{uid}.test"]
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/shop"}}]
    assert route["spec"]["rules"][0]["backendRefs"][0] | {"weight": 1} == {
        "group": "", "kind": "Service", "name": "web", "port": 80, "weight": 1}
    managers = {m["manager"] for m in route["metadata"]["managedFields"]}
    assert f"dockyard/{demo.operator.username}" in managers  # written by the console, as the user
    svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    assert svc["spec"]["type"] == "ClusterIP"

    assert await eventually(lambda: conditions(admin_kube, demo.namespace, "web", f"gw-{uid}"), timeout=30) == {
        "Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
    detail = await b.get(f"{demo.base}/services/web")
    assert 'id="gateway-routes"' in detail.text and f"shop.{uid}.test" in detail.text
    assert re.search(rf'id="route-web-gw-{uid}-accepted">.*?badge ok">True', detail.text, re.S)
    assert re.search(rf'id="route-web-gw-{uid}-resolvedrefs">.*?badge ok">True', detail.text, re.S)
    assert "PathPrefix /shop" in detail.text and CONTROLLER in detail.text
    # the form opens on what was saved
    again = await b.get(url)
    assert 'value="Gateway" checked' in again.text and f"shop.{uid}.test" in again.text

    # Live: the page's stream says "changed" when the route changes (here: the backend's port is gone,
    # and the controller says so)
    async def break_port() -> None:
        current = await admin_kube.get("HTTPRoute", demo.namespace, "web", actor=CONSOLE, fresh=True)
        current["spec"]["rules"][0]["backendRefs"][0]["port"] = 81
        await admin_kube.replace(current, namespace=demo.namespace, actor=CONSOLE)

    await read_sse(app, b, sse_url(detail.text), until="event: changed", after_connect=break_port, timeout=30)
    assert (await eventually(lambda: conditions(admin_kube, demo.namespace, "web", f"gw-{uid}")))["ResolvedRefs"] == (
        "False", "BackendNotFound")
    detail = await b.get(f"{demo.base}/services/web")
    assert "BackendNotFound" in detail.text and "has no port 81" in detail.text

    # choosing NodePort afterwards removes the route
    page = await b.get(url)
    moved = await b.post(url, {"mode": "NodePort", "resource_version": hidden(page.text, "resource_version"),
                               "node_ports_shown": "1", "node_port": "", "op": "save"})
    assert moved.status_code == 303, moved.text[:2000]
    assert not await admin_kube.exists("HTTPRoute", demo.namespace, "web", actor=CONSOLE)
    assert (await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE))["spec"]["type"] == "NodePort"
    assert mine["metadata"]["name"] == f"gw-{uid}"


async def test_the_cluster_refuses_what_the_gateway_does_not_admit(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, gateways: list[dict[str, Any]],
        make_namespace: Any) -> None:
    """Routes made around the console (kubectl, as the project's operator): the Gateway's listeners decide."""
    ws = demo.workspace.name
    uid = secrets.token_hex(3)
    await make(admin_kube, gateways, gateway(f"other-{uid}", offered_to=ws, admits="someone-else", hostname=f"*.{uid}.test"))
    await make(admin_kube, gateways, gateway(f"ok-{uid}", offered_to=ws, admits=ws, hostname=f"*.{uid}.test"))
    await create(admin_kube, demo.namespace, plain_service("api"))
    operator = Actor.user(demo.operator.uid)
    for name, gw_name, extra in (("refused", f"other-{uid}", {}), ("missing", f"ok-{uid}", {"backend": "nothing"})):
        obj = route_for(name, gw_name, port=8080, **extra)  # type: ignore[arg-type]
        await _create_as(admin_kube, tenants, obj, demo.namespace, operator)
    assert (await eventually(lambda: conditions(admin_kube, demo.namespace, "refused", f"other-{uid}")))["Accepted"] == (
        "False", "NotAllowedByListeners")
    assert (await eventually(lambda: conditions(admin_kube, demo.namespace, "missing", f"ok-{uid}")))["ResolvedRefs"] == (
        "False", "BackendNotFound")
    # and the console never offers the one that would refuse it
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/api/external-access")
    assert f"{GATEWAYS}/other-{uid}" not in re.findall(r'<option value="([^"]+)"', page.text)
    assert "gateway-refused" in page.text

    # a backend in another namespace: refused until a ReferenceGrant there allows it
    other_ns = await make_namespace("backend")
    await create(admin_kube, other_ns, plain_service("shared"))
    await _create_as(admin_kube, tenants, route_for("across", f"ok-{uid}", backend="shared", backend_ns=other_ns, port=8080),
                     demo.namespace, operator)
    assert (await eventually(lambda: conditions(admin_kube, demo.namespace, "across", f"ok-{uid}")))["ResolvedRefs"] == (
        "False", "RefNotPermitted")
    await admin_kube.create({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ReferenceGrant", "metadata": {"name": "from-project"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": demo.namespace}],
                 "to": [{"group": "", "kind": "Service"}]}}, namespace=other_ns, actor=CONSOLE)

    async def granted() -> bool:
        return (await conditions(admin_kube, demo.namespace, "across", f"ok-{uid}"))["ResolvedRefs"] == (
            "True", "ResolvedRefs")

    await eventually(granted, timeout=30)


async def _create_as(admin_kube: KubeGateway, tenants: Tenants, obj: dict[str, Any], namespace: str, actor: Actor) -> None:
    """Create as the user, with the user's own token (what kubectl with their credentials does)."""
    await tenants.kube.create(obj, namespace=namespace, actor=actor)


async def test_no_controller_answer_is_said_plainly(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, gateways: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ws = demo.workspace.name
    uid = secrets.token_hex(3)
    await make(admin_kube, gateways, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                                      "metadata": {"name": f"nobody-{uid}"},
                                      "spec": {"controllerName": "example.com/not-running"}})
    await make(admin_kube, gateways, gateway(f"silent-{uid}", offered_to=ws, admits=ws, hostname=f"*.{uid}.test",
                                             klass=f"nobody-{uid}"))
    deployment, web = stateless("quiet")
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.operator)
    url = f"{demo.base}/services/quiet/external-access"
    page = await b.get(url)
    saved = await b.post(url, {"mode": "Gateway", "resource_version": hidden(page.text, "resource_version"),
                               "gateway_shown": "1", "gateway": f"{GATEWAYS}/silent-{uid}", "hostnames": "",
                               "path_type": "Exact", "path": "/", "port": "80", "op": "save"})
    assert saved.status_code == 303, saved.text[:2000]
    detail = await b.get(f"{demo.base}/services/quiet")
    assert 'id="route-quiet-waiting"' in detail.text  # moments after: waiting
    monkeypatch.setattr(route_status, "ANSWER_SECONDS", 0)
    detail = await b.get(f"{demo.base}/services/quiet")
    assert 'id="route-quiet-unanswered"' in detail.text and "No controller has answered" in detail.text
    assert "Every hostname the Gateway serves" in detail.text


async def test_delete_offers_the_route_and_removes_it_when_chosen(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, gateways: list[dict[str, Any]]) -> None:
    ws = demo.workspace.name
    uid = secrets.token_hex(3)
    await make(admin_kube, gateways, gateway(f"gw-{uid}", offered_to=ws, admits=ws, hostname=f"*.{uid}.test"))
    await create(admin_kube, demo.namespace, plain_service("shop"), plain_service("cart"))
    b = await tenants.browser(demo.operator)
    url = f"{demo.base}/services/shop/external-access"
    page = await b.get(url)
    saved = await b.post(url, {"mode": "Gateway", "resource_version": hidden(page.text, "resource_version"),
                               "gateway_shown": "1", "gateway": f"{GATEWAYS}/gw-{uid}", "hostnames": f"a.{uid}.test",
                               "path_type": "PathPrefix", "path": "/", "port": "8080", "op": "save"})
    assert saved.status_code == 303, saved.text[:2000]
    # a second route, made with kubectl, that sends traffic to shop and cart
    both = route_for("split", f"gw-{uid}", backend="shop", port=8080)
    both["spec"]["rules"][0]["backendRefs"].append({"name": "cart", "port": 8080})
    await tenants.kube.create(both, namespace=demo.namespace, actor=Actor.user(demo.operator.uid))
    dialog = await b.get(f"{demo.base}/services/shop/delete", headers={"HX-Request": "true"})
    boxes = re.findall(r'<input type="checkbox" name="related" value="([^"]+)"[^>]*>', dialog.text)
    assert sorted("/".join(v.split("/")[:2]) for v in boxes) == ["HTTPRoute/shop", "HTTPRoute/split"]
    warning = re.search(r'id="shared-httproute-split"[^>]*>(.*?)</', dialog.text, re.S)
    assert warning and "cart" in warning.group(1)
    chosen = next(v for v in boxes if v.startswith("HTTPRoute/shop/"))
    resp = await b.post(f"{demo.base}/services/shop/delete", {
        "uid": hidden(dialog.text, "uid"), "next": f"{demo.base}/services", "related": chosen}, htmx=True)
    assert resp.status_code == 200 and resp.text.count('class="ok"') == 2, resp.text[:2000]
    assert not await admin_kube.exists("HTTPRoute", demo.namespace, "shop", actor=CONSOLE)
    assert await admin_kube.exists("HTTPRoute", demo.namespace, "split", actor=CONSOLE)  # not chosen: kept


async def test_without_the_gateway_api_the_choice_is_explained_never_a_500(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.domain.services import gateway as gateway_domain
    from app.domain.services.gateway import ops

    async def not_served(kube: Any) -> bool:
        return False

    monkeypatch.setattr(ops, "gateway_api_served", not_served)
    monkeypatch.setattr(gateway_domain, "gateway_api_served", not_served)
    await create(admin_kube, demo.namespace, plain_service("plain"))
    b = await tenants.browser(demo.operator)
    url = f"{demo.base}/services/plain/external-access"
    page = await b.get(url)
    assert page.status_code == 200
    assert re.search(r'id="mode-gateway"[^>]*disabled', page.text) and "does not serve the Gateway API" in page.text
    assert 'name="gateway"' not in page.text
    refused = await b.post(url, {"mode": "Gateway", "resource_version": hidden(page.text, "resource_version"),
                                 "gateway_shown": "1", "gateway": f"{GATEWAYS}/public", "op": "save"}, htmx=True)
    assert refused.status_code == 422 and "does not serve the Gateway API" in refused.text
    saved = await b.post(url, {"mode": "NodePort", "resource_version": hidden(page.text, "resource_version"),
                               "node_ports_shown": "1", "node_port": "", "op": "save"})
    assert saved.status_code == 303
    detail = await b.get(f"{demo.base}/services/plain")
    assert detail.status_code == 200 and 'id="gateway-routes"' not in detail.text
    assert (await b.get(f"{demo.base}/services/plain/delete")).status_code == 200
