"""Living on a Service's pages, in Chromium: list → search → detail → each tab → logs → Edit External
Access to NodePort → Delete with its workload."""

from __future__ import annotations

import asyncio
import re
import time

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import expect

from app.kube.client import CONSOLE
from tests.cluster import eventually
from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import LiveServer, login


def _deployment(name: str, app: str) -> dict:
    labels = {"app": app, "version": "v1"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}}}


def _service(name: str, app: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {"app": app},
                         "annotations": {"kubesphere.io/serviceType": "statelessservice"}},
            "spec": {"selector": {"app": app}, "ports": [{"name": "http-0", "port": 80, "targetPort": 80}]}}


async def test_list_search_detail_logs_external_access_and_delete(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                  demo: DemoProject, admin_kube) -> None:
    ns = demo.namespace
    for obj in (_deployment("web-v1", "web"), _service("web", "web"), _service("other", "other")):
        await admin_kube.create(obj, namespace=ns, actor=CONSOLE)

    async def running() -> bool:
        pods = await admin_kube.items("Pod", ns, actor=CONSOLE, label_selector="app=web")
        return len(pods) == 2 and all(p.get("status", {}).get("phase") == "Running" for p in pods)
    await eventually(running, timeout=30)

    url = live_server.url + demo.base
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(url + "/services")
    await page.locator("#service-row-other").wait_for()
    await page.fill("#search-name", "web")
    await page.press("#search-name", "Enter")
    await page.locator("#service-row-other").wait_for(state="detached")
    assert await page.locator("#service-row-web").count() == 1

    await page.click("#service-row-web a")
    await page.wait_for_url("**/services/web")
    await page.locator("#pod-table").wait_for()
    await page.screenshot(path="test-results/services-detail.png", full_page=True)
    assert "app=web" in await page.locator("#attr-selector").inner_text()
    await page.click("#tab-metadata")
    await page.locator("#labels").wait_for()
    assert "app=web" in await page.locator("#labels").inner_text()
    await page.click("#tab-events")
    await page.wait_for_url("**tab=events")
    await page.click("#tab-resource-status")
    await page.locator("#pod-table").wait_for()
    rows = page.locator("#pod-table tbody tr[id^=pod-]")
    assert await rows.count() == 2
    assert "Running" in await rows.first.inner_text()

    # the pod page, then a container's logs
    await rows.first.locator("a").first.click()
    await page.wait_for_url("**/pods/**")
    assert (await page.locator("#pod-ip").inner_text()).strip()
    await page.locator("#containers a:has-text('Container Logs')").first.click()
    await page.wait_for_url("**/logs**")
    await page.locator("#log-lines").wait_for()
    assert (await page.locator("#log-lines").inner_text()).strip()
    await page.screenshot(path="test-results/services-logs.png")

    # Edit External Access: NodePort
    await page.goto(url + "/services/web")
    await page.click("#more-menu summary")
    await page.click("#more-menu >> text=Edit External Access")
    await page.locator("dialog[open] #external-access-form").wait_for()
    await page.check("dialog[open] input[name=mode][value=NodePort]")
    # Saved, the console answers HX-Redirect and htmx navigates to the Service's page: wait for that
    # navigation itself (the URL is already the Service's), or the reload below would race it.
    async with page.expect_navigation(url="**/services/web**"):
        await page.click("dialog[open] #save-external-access")

    async def has_node_port() -> bool:
        svc = await admin_kube.get("Service", ns, "web", actor=CONSOLE)
        return svc["spec"]["type"] == "NodePort" and bool(svc["spec"]["ports"][0].get("nodePort"))
    await eventually(has_node_port, timeout=10)
    await page.reload()
    assert "Node" in await page.locator("#attr-external").inner_text()

    # Edit YAML: a chosen file goes into the editor at once; Update saves it and the page says so.
    await page.goto(url + "/services/web/yaml")
    text = await page.input_value("#yaml-editor")
    from_file = text.replace("  labels:\n", "  labels:\n    source: file\n", 1)
    assert from_file != text
    await page.set_input_files("#yaml-file", files=[{"name": "web.yaml", "mimeType": "text/yaml",
                                                     "buffer": from_file.encode()}])
    await expect(page.locator("#yaml-file-status")).to_have_text("web.yaml is in the editor. Review it, then choose Update.")
    assert await page.input_value("#yaml-editor") == from_file
    assert await page.evaluate("document.getElementById('yaml-file').files.length") == 0
    await page.click("#yaml-update")
    await page.wait_for_url("**/services/web")
    await expect(page.locator("#done")).to_have_text("Service web updated from its YAML.")
    svc = await admin_kube.get("Service", ns, "web", actor=CONSOLE)
    assert svc["metadata"]["labels"]["source"] == "file"

    # Delete with its workload
    await page.click("#more-menu summary")
    await page.click("#more-menu >> text=Delete")
    await page.locator("dialog[open] #related-resources").wait_for()
    await page.check("dialog[open] #related-deployment-web-v1")
    # As in the original console, Delete can be pressed only after a three-second countdown.
    assert await page.locator("dialog[open] #confirm-delete").is_disabled()
    assert re.fullmatch(r"Delete \([123]s\)", await page.inner_text("dialog[open] #confirm-delete"))
    await page.locator("dialog[open] #confirm-delete:enabled").wait_for(timeout=6000)
    assert await page.inner_text("dialog[open] #confirm-delete") == "Delete"
    await page.click("dialog[open] #confirm-delete")
    await page.locator("#delete-results").wait_for()
    await page.screenshot(path="test-results/services-delete.png")
    assert not await admin_kube.exists("Service", ns, "web", actor=CONSOLE)

    async def deployment_gone() -> bool:
        return not await admin_kube.exists("Deployment", ns, "web-v1", actor=CONSOLE)
    await eventually(deployment_gone, timeout=15)
    assert await admin_kube.exists("Service", ns, "other", actor=CONSOLE)


async def test_a_rows_menu_loads_when_opened_and_its_actions_work(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                  demo: DemoProject, admin_kube) -> None:
    await admin_kube.create(_service("api", "api"), namespace=demo.namespace, actor=CONSOLE)
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(live_server.url + demo.base + "/services")
    row = page.locator("#service-row-api")
    await row.wait_for()
    assert await row.locator("text=Edit Information").count() == 0  # not in the page until opened
    await row.locator("details.menu summary").click()
    await row.locator("text=Edit Information").wait_for()
    await page.screenshot(path="test-results/services-row-menu.png")
    # the items open as the menu's own list (not swapped over it), like the detail page's More menu
    assert await row.locator("details.menu .items a[role=menuitem]").count() == 5
    await row.locator("text=Edit Information").click()
    await page.locator("dialog[open] #edit-information-form").wait_for()
    await page.fill("dialog[open] #info-alias", "Front-door")
    await page.click("dialog[open] button[type=submit]")
    await page.locator("#service-row-api:has-text('Front-door')").wait_for()
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert svc["metadata"]["annotations"]["kubesphere.io/alias-name"] == "Front-door"


async def test_a_tab_clicked_just_before_a_live_refresh_stays(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                             demo: DemoProject, admin_kube) -> None:
    """A change to the Service makes the tab shown ask for itself again (live update). When that happens
    while the answer to a click on another tab is on its way, the click wins: the refresh must not replace
    the tab the click's answer is for (its answer would then have nowhere to go)."""
    ns = demo.namespace
    await admin_kube.create(_service("race", "race"), namespace=ns, actor=CONSOLE)
    url = live_server.url + demo.base + "/services/race"
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(url)
    await page.locator("#tab[data-tab=resource-status]").wait_for()

    async def change() -> None:
        await admin_kube.merge_patch("Service", ns, "race", {"metadata": {"labels": {"n": str(time.time_ns())}}},
                                     actor=CONSOLE)

    async def refreshed() -> bool:
        try:
            async with page.expect_request("**/services/race?tab=resource-status", timeout=3000):
                await change()
        except PlaywrightTimeout:
            return False  # the page's live stream was not open yet
        return True
    await eventually(refreshed, timeout=20)  # the live stream is open: a change refreshes the tab

    async def held(route) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(2)  # the click's answer takes a while
        await route.continue_()

    await page.route("**/services/race?tab=metadata", held)
    async with page.expect_request("**/services/race?tab=metadata"):
        await page.click("#tab-metadata")
    await change()  # arrives while the click's answer is held
    await page.locator("#labels").wait_for(timeout=10_000)
    await page.wait_for_timeout(1500)  # a refresh, had one been made, would have landed by now
    assert await page.locator("#tab").get_attribute("data-tab") == "metadata"
    assert "tab=metadata" in page.url
