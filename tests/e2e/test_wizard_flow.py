"""In Chromium, as project-regular (the project's operator): Services -> Create -> Stateless Service,
walk the steps, switch Edit YAML on and off twice with a YAML edit in between, and create.

Screenshots of each step go to test-results/wizard-*.png."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import ARTIFACTS, LiveServer, login


async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"wizard-{name}.png"), full_page=True)


async def test_operator_creates_a_stateless_service_through_the_wizard(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                        demo: DemoProject) -> None:
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services")
    await page.click("#create-service")
    await page.click("#choose-stateless")
    await page.wait_for_selector("#step-basic")
    assert await page.input_value("#f-version") == "v1"

    # Basic Information, with the name checked as it is typed
    await page.type("#f-name", "Web", delay=20)
    await page.locator("#name-check-name .error").wait_for()
    await shot(page, "1-basic-name-check")
    await page.fill("#f-name", "web-e2e")
    await page.locator("#name-check-name .error").wait_for(state="detached")
    await page.fill("#f-alias", "Web-E2E")
    await page.fill("#f-description", "Created by the browser test")
    await shot(page, "1-basic")
    await page.click("#wizard-next")

    # Container Image: a worker container with one port exposed on the Service
    await page.wait_for_selector("#step-image")
    assert await page.locator(".empty-note").is_visible()
    await page.click("#add-container")
    await page.wait_for_selector("#f-containers-0-image")
    # The new card is appended (not the whole step re-rendered): the note is gone, the Image field has focus.
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'f-containers-0-image'")
    assert not await page.locator(".empty-note").is_visible()
    await page.fill("#f-containers-0-image", "nginx:1.25")
    # The port name's prefix follows the protocol (as in the original console); a name of one's own stays.
    assert await page.input_value("#f-containers-0-ports-0-name") == "http-0"
    await page.select_option("#f-containers-0-ports-0-protocol", "GRPC")
    assert await page.input_value("#f-containers-0-ports-0-name") == "grpc-0"
    await page.fill("#f-containers-0-ports-0-name", "web")
    await page.select_option("#f-containers-0-ports-0-protocol", "TCP")
    assert await page.input_value("#f-containers-0-ports-0-name") == "web"
    await page.fill("#f-containers-0-ports-0-name", "grpc-main")
    await page.select_option("#f-containers-0-ports-0-protocol", "HTTP")
    assert await page.input_value("#f-containers-0-ports-0-name") == "http-main"
    await page.fill("#f-containers-0-ports-0-name", "http-0")
    await page.fill("#f-containers-0-ports-0-container_port", "80")
    await page.fill("#f-containers-0-ports-0-service_port", "80")
    await page.click("#container-0 details.probes > summary")
    await page.select_option("#f-containers-0-readiness-type", "http")
    assert await page.locator("#f-containers-0-readiness-path").is_visible()
    assert not await page.locator("#f-containers-0-liveness-path").is_visible()
    await shot(page, "2-image")
    await page.click("#wizard-next")

    # Volumes, then Edit YAML: the exact manifests, edited, and back
    await page.wait_for_selector("#step-volumes")
    await shot(page, "3-volumes")
    await page.click("#edit-mode")
    await page.wait_for_selector("#wizard-yaml-cm .cm-content")  # the YAML editor over the textarea it fills
    text = await page.input_value("#wizard-yaml")
    assert "kind: Deployment" in text and "kind: Service" in text and "  replicas: 1\n" in text
    await shot(page, "4-edit-yaml")
    await page.click("#wizard-yaml-cm .cm-content")
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(text.replace("  replicas: 1\n", "  replicas: 2\n", 1))
    await page.click("#edit-mode")
    await page.wait_for_selector("#step-volumes")
    await page.click("#edit-mode")
    await page.wait_for_selector("#wizard-yaml-cm .cm-content")
    assert "  replicas: 2\n" in await page.input_value("#wizard-yaml")
    await page.click("#edit-mode")
    await page.wait_for_selector("#step-volumes")
    await page.click("#goto-image")
    await page.wait_for_selector("#step-image")
    assert await page.input_value("#f-replicas") == "2"
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-volumes")
    await page.click("#wizard-next")

    # Advanced Settings: NodePort, then Create
    await page.wait_for_selector("#step-advanced")
    await page.select_option("#f-access", "NodePort")
    assert await page.locator("#f-node_ports-0-node_port").is_visible()
    await shot(page, "5-advanced")
    await page.click("#wizard-review")
    await page.wait_for_selector("#review")
    await shot(page, "6-review")
    await page.click("#wizard-create")
    await page.wait_for_url(f"**{demo.base}/services/web-e2e")
    await page.wait_for_selector("text=web-e2e")
    # The page updates itself, its side panel too: the endpoint shows once the pod is ready, no reload.
    await expect(page.locator("#attr-endpoints")).to_contain_text(re.compile(r"\d+\.\d+\.\d+\.\d+:\d+"),
                                                                  timeout=60_000)
    await shot(page, "7-service")


async def test_operator_creates_a_stateful_service_with_its_own_volumes(page, live_server: LiveServer,  # type: ignore[no-untyped-def]
                                                                        demo: DemoProject, admin_kube) -> None:
    from app.kube.client import CONSOLE

    await admin_kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-secret"}, "type": "Opaque",
                             "stringData": {"password": "pw", "user": "app"}}, namespace=demo.namespace, actor=CONSOLE)
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new/stateful")
    await page.fill("#f-name", "db")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-image")
    await page.click("#add-container")
    await page.wait_for_selector("#f-containers-0-image")
    await page.fill("#f-containers-0-image", "mysql:8.0")
    await page.select_option("#f-containers-0-ports-0-protocol", "TCP")
    await page.fill("#f-containers-0-ports-0-name", "tcp-0")
    await page.fill("#f-containers-0-ports-0-container_port", "3306")
    await page.fill("#f-containers-0-ports-0-service_port", "3306")
    await page.click("#add-env-0")
    await page.wait_for_selector("#f-containers-0-env-0-name")
    await page.fill("#f-containers-0-image", "mysql:8.0")  # kept across the row action above
    await page.select_option("#f-containers-0-env-0-type", "secret")
    assert not await page.locator("#f-containers-0-env-0-value").is_visible()
    # A Secret made elsewhere while the wizard is open: Refresh beside the picker lists it at once,
    # and what was typed stays.
    await admin_kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "late-secret"},
                             "type": "Opaque", "stringData": {"token": "t"}}, namespace=demo.namespace, actor=CONSOLE)
    await page.locator("button[value=refresh-choices]:visible").first.click()
    await page.wait_for_selector('#f-containers-0-env-0-secret-ref option[value="late-secret/token"]', state="attached")
    assert await page.input_value("#f-containers-0-image") == "mysql:8.0"
    assert await page.input_value("#f-containers-0-env-0-type") == "secret"
    await page.select_option("#f-containers-0-env-0-secret-ref", "db-secret/password")
    await page.fill("#f-containers-0-env-0-name", "MYSQL_ROOT_PASSWORD")
    await shot(page, "stateful-2-image")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-volumes")
    await page.click("#add-volume-emptydir")
    await page.wait_for_selector("#f-volumes-0-name")
    await page.select_option("#f-volumes-0-mounts-0-mode", "rw")
    await page.fill("#f-volumes-0-mounts-0-mount_path", "/tmp/scratch")
    await page.click("#add-template")
    await page.wait_for_selector("#f-volume_templates-0-name")
    # The operator may not list storage classes; the console offers them, the cluster's default chosen.
    assert await page.input_value("#f-volume_templates-0-storage_class") == "local"
    assert await page.locator('#f-volume_templates-0-storage_class option[value=""]').inner_text() == "Cluster default (local)"
    await page.select_option("#f-volume_templates-0-mounts-0-mode", "rw")
    await page.fill("#f-volume_templates-0-mounts-0-mount_path", "/var/lib/mysql")
    await shot(page, "stateful-3-volumes")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-advanced")
    assert await page.locator("#headless-note").is_visible()
    await shot(page, "stateful-4-advanced")
    await page.click("#wizard-create")
    await page.wait_for_url(f"**{demo.base}/services/db")
