"""Expose through a Gateway, in Chromium: the Edit External Access dialog's Gateway choice (the fields
appear when it is chosen), a hostname typo on its field, saving, and the route's conditions appearing on
the Service's page by themselves (the controller answers after the page loaded)."""

from __future__ import annotations

import secrets

from playwright.async_api import expect

from app.kube.client import CONSOLE
from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import LiveServer, login


async def test_expose_through_a_gateway_in_the_dialog(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                      demo: DemoProject, admin_kube) -> None:
    ws, uid = demo.workspace.name, secrets.token_hex(3)
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": f"e2e-{uid}", "namespace": "dockyard-gateways", "annotations": {"dockyard.dev/workspaces": ws}},
        "spec": {"gatewayClassName": "dockyard-dev", "listeners": [{
            "name": "http", "protocol": "HTTP", "port": 80, "hostname": f"*.{uid}.test",
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubesphere.io/workspace": ws}}}}}]},
    }
    await admin_kube.create(gateway, namespace="dockyard-gateways", actor=CONSOLE)
    try:
        await admin_kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"},
                                 "spec": {"selector": {"app": "shop"}, "ports": [{"name": "http", "port": 80}]}},
                                namespace=demo.namespace, actor=CONSOLE)
        url = live_server.url + demo.base
        await login(page, live_server, demo.operator.username, PASSWORD)
        await page.goto(url + "/services/shop")
        await page.click("#more-menu summary")
        await page.click("#more-menu >> text=Edit External Access")
        await page.locator("dialog[open] #external-access-form").wait_for()
        assert await page.locator("dialog[open] #route-hostnames").count() == 0  # only once Gateway is chosen
        await page.check("dialog[open] #mode-gateway")
        await page.locator("dialog[open] #route-hostnames").wait_for()
        await expect(page.locator("dialog[open] #route-gateway")).to_have_value(f"dockyard-gateways/e2e-{uid}")
        await page.fill("dialog[open] #route-hostnames", f"Shop.{uid}.test")
        await page.fill("dialog[open] #route-path", "/shop")
        await page.click("dialog[open] #save-external-access")
        await expect(page.locator("dialog[open] #route-hostnames")).to_have_attribute("aria-invalid", "true")
        await page.screenshot(path="test-results/gateway-dialog-error.png")
        await page.fill("dialog[open] #route-hostnames", f"shop.{uid}.test")
        async with page.expect_navigation(url="**/services/shop**"):
            await page.click("dialog[open] #save-external-access")
        # the controller's answer arrives by itself (live updates), Accepted and ResolvedRefs
        await expect(page.locator(f"#route-shop-e2e-{uid}-accepted")).to_contain_text("True", timeout=20000)
        await expect(page.locator(f"#route-shop-e2e-{uid}-resolvedrefs")).to_contain_text("True")
        await expect(page.locator("#route-shop-hostnames")).to_contain_text(f"shop.{uid}.test")
        # the whole page: the panel itself may be swapped by a live refresh while it is taken
        await page.screenshot(path="test-results/gateway-route-panel.png", full_page=True)
    finally:
        await admin_kube.delete("Gateway", "dockyard-gateways", f"e2e-{uid}", actor=CONSOLE)
