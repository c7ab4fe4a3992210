"""Create Service in Chromium: Specify Workloads with the workload picker and the live selector hint,
and Edit by YAML with two uploaded files of several documents each. Both land on the new Service's page."""

from __future__ import annotations

import secrets
from pathlib import Path

from playwright.async_api import expect

from app.kube.client import CONSOLE, KubeGateway
from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import ARTIFACTS, LiveServer, login
from tests.web.test_creation_pages import TWO_FILES, deployment


async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot mid-test. caret="initial": hiding the caret leaves `style=""` on every input, which
    htmx's settle would then copy onto the swapped-in inputs, and the CSP refuses that."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"creation-{name}.png"), full_page=True, caret="initial")


async def test_specify_workload_picker_fills_the_selector_and_creates(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                     demo: DemoProject, admin_kube: KubeGateway) -> None:
    await admin_kube.create(deployment("nginx-demo-v1", {"app": "nginx-demo", "version": "v1"}),
                            namespace=demo.namespace, actor=CONSOLE)
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new")
    await page.click("#choose-workloads")
    await page.fill("#f-name", "nginx-extra")
    await page.click("#next-button")
    await page.locator("#step-settings-panel").wait_for()
    assert "Please set a workload selector." in await page.locator("#selector-hint").inner_text()

    await page.click("#specify-workload summary")
    await page.locator("#pick-deployment-nginx-demo-v1").wait_for()
    await page.click("#picker-tab-statefulset")  # the tabs fetch the picker's list (htmx)
    await page.get_by_text("This project has no StatefulSet yet.").wait_for()
    await page.click("#picker-tab-deployment")
    await page.locator("#picker-list").wait_for()
    await shot(page, "picker-open")
    await page.click("#pick-deployment-nginx-demo-v1")
    await expect(page.locator("#selector-1-value")).to_have_value("v1")
    rows = {await page.input_value(f"#selector-{i}-key"): await page.input_value(f"#selector-{i}-value") for i in (0, 1)}
    assert rows == {"app": "nginx-demo", "version": "v1"}
    hint = page.locator("#selector-hint")
    assert "nginx-demo-v1 (Deployment)" in await hint.inner_text()
    # the ports its containers declare are filled in
    assert await page.input_value("#port-0-container-port") == "80"
    assert await page.input_value("#port-0-service-port") == "80"

    # the hint follows the rows as they change
    await page.fill("#selector-1-value", "v2")
    await page.locator("#selector-1-value").blur()
    await page.get_by_text("The current selector matches no workload.").wait_for()
    await page.fill("#selector-1-value", "v1")
    await page.locator("#selector-1-value").blur()
    await page.get_by_text("nginx-demo-v1 (Deployment)", exact=False).wait_for()
    await page.fill("#port-0-container-port", "80")
    await page.fill("#port-0-service-port", "8080")
    await shot(page, "settings-filled")
    await page.click("#next-button")
    await page.locator("#step-advanced-panel").wait_for()
    assert await page.input_value("#labels-0-value") == "nginx-extra"
    assert not await page.locator("#node-ports").is_visible()
    await page.select_option("#f-access", "NodePort")
    await expect(page.locator("#node-ports")).to_be_visible()
    node_port = 30100 + secrets.randbelow(2600)  # node ports are cluster-wide: no fixed number
    await page.fill("#node-port-0", str(node_port))
    await shot(page, "advanced")
    await page.click("#create-button")
    await page.wait_for_url(f"**{demo.base}/services/nginx-extra")
    svc = await admin_kube.get("Service", demo.namespace, "nginx-extra", actor=CONSOLE)
    assert svc["spec"]["selector"] == {"app": "nginx-demo", "version": "v1"} and svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == node_port


async def test_two_yaml_files_are_planned_and_created(page, live_server: LiveServer, demo: DemoProject,  # type: ignore[no-untyped-def]
                                                      admin_kube: KubeGateway, tmp_path: Path) -> None:
    paths = []
    for name, text in TWO_FILES:
        path = tmp_path / name
        path.write_text(text)
        paths.append(str(path))
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new")
    await page.click("#choose-yaml")
    await page.set_input_files("#yaml-files", paths)
    await page.click("#yaml-upload")
    plan = page.locator("#yaml-plan-list")
    await plan.wait_for()
    assert "Objects to create (4)" in await plan.inner_text()
    assert await page.locator("#yaml-plan-list tbody tr").count() == 4
    assert "app.yaml" in await page.locator("#yaml-uploaded").inner_text()
    assert (await page.input_value("#yaml-text")).count("kind:") == 4
    await shot(page, "yaml-plan")
    await page.click("#yaml-create")
    await page.wait_for_url(f"**{demo.base}/services/shop")
    for kind, name in (("ConfigMap", "shop-config"), ("Deployment", "shop"), ("Secret", "shop-secret"),
                       ("Service", "shop")):
        assert await admin_kube.exists(kind, demo.namespace, name, actor=CONSOLE)


async def test_external_service_shows_errors_in_place_and_creates(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                  demo: DemoProject, admin_kube: KubeGateway) -> None:
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new")
    await page.click("#choose-external")
    await page.fill("#f-name", "Partner")
    await page.click("#next-button")
    await expect(page.locator("#f-name-error")).to_contain_text("must start with a lowercase letter")
    await shot(page, "external-basic-error")
    await page.fill("#f-name", "partner")
    await page.fill("#f-alias", "Partner-API")
    await page.click("#next-button")
    await page.locator("#step-address-panel").wait_for()
    await page.fill("#f-external_name", "https://api.example.com/v1")
    await page.keyboard.press("Enter")  # Enter in the field means Create on the last step
    await expect(page.locator("#f-external_name-error")).to_contain_text("without a scheme")
    await shot(page, "external-address-error")
    await page.fill("#f-external_name", "api.example.com")
    await page.click("#create-button")
    await page.wait_for_url(f"**{demo.base}/services/partner")
    svc = await admin_kube.get("Service", demo.namespace, "partner", actor=CONSOLE)
    assert svc["spec"]["externalName"] == "api.example.com"
