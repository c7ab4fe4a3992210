"""Accessibility (issue 18): axe-core (npm, pinned in package-lock.json) in Chromium on the console's
pages, in English and Chinese: no serious or critical finding (WCAG 2.2 AA and best practice)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.kube.client import CONSOLE, KubeGateway
from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import LiveServer, login
from tests.web.services_fixtures import create, stateless

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


async def serious_findings(page) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    assert AXE.exists(), "axe-core is installed by make (npm ci)"
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture
async def page(chromium):  # type: ignore[no-untyped-def]
    # axe is injected into the page: its script is let past the console's CSP here, and only here
    context = await chromium.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15000)
    yield await context.new_page()
    await context.close()


@pytest.mark.parametrize("locale", ["en", "zh"])
async def test_the_pages_have_no_serious_accessibility_findings(
        page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway, locale: str) -> None:  # type: ignore[no-untyped-def]
    if not await admin_kube.exists("Service", demo.namespace, "web", actor=CONSOLE):
        await create(admin_kube, demo.namespace, *stateless("web"))
    await page.context.add_cookies([{"name": "dockyard_lang", "value": locale, "url": live_server.url}])
    found: dict[str, list[dict[str, Any]]] = {}
    await page.goto(live_server.url + "/login")
    found["sign-in"] = await serious_findings(page)
    await login(page, live_server, demo.admin.username, PASSWORD)
    base = live_server.url + demo.base
    pages = {
        "workspaces": live_server.url + "/workspaces",
        "workspace": live_server.url + f"/workspaces/{demo.workspace.name}",
        "project": base,
        "members": base + "/members",
        "services": base + "/services",
        "service": base + "/services/web",
        "edit-yaml": base + "/services/web/yaml",
        "edit-service": base + "/services/web/settings",
        "create": base + "/services/-/new",
        "stateless": base + "/services/-/new/stateless",
        "external": base + "/services/-/new/external",
        "workloads": base + "/services/-/new/workloads",
        "edit-by-yaml": base + "/services/-/new/yaml",
    }
    for name, url in pages.items():
        await page.goto(url)
        await page.wait_for_load_state("networkidle")
        found[name] = await serious_findings(page)
    # the wizard's second step, after an htmx Next
    await page.goto(pages["stateless"])
    await page.fill("#f-name", "a11y")
    await page.click("button.primary")
    await page.wait_for_selector("#step-image")
    found["stateless step 2"] = await serious_findings(page)
    problems = {name: items for name, items in found.items() if items}
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


async def test_the_first_tab_offers_to_skip_to_the_content(page, live_server: LiveServer, demo: DemoProject) -> None:  # type: ignore[no-untyped-def]
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(live_server.url + demo.base + "/services")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("[document.activeElement.className, document.activeElement.getAttribute('href')]")
    assert focused == ["skip-link", "#main"]
    assert await page.is_visible(".skip-link")  # shown when it has focus
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"


async def test_after_an_htmx_step_focus_is_on_the_new_step_or_its_error_summary(
        page, live_server: LiveServer, demo: DemoProject) -> None:  # type: ignore[no-untyped-def]
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(live_server.url + demo.base + "/services/-/new/stateless")
    await page.click("button.primary")  # Next with no name: the step comes back with its problems
    await page.wait_for_selector('#f-name[aria-invalid="true"]')
    assert await page.evaluate("document.activeElement.id") == "error-summary"  # told what is wrong first
    await page.click("#error-summary a[data-field=name]")  # ... and each problem leads to its field
    assert await page.evaluate("document.activeElement.id") == "f-name"
    await page.fill("#f-name", "focus")
    await page.keyboard.press("Enter")  # Next, from the keyboard
    await page.wait_for_selector("#step-image")
    assert await page.evaluate("document.activeElement.id") == "step-image-title"


@pytest.mark.parametrize("flavor", ["stateless", "stateful"])
async def test_every_wizard_step_has_no_serious_findings(page, live_server: LiveServer, demo: DemoProject,  # type: ignore[no-untyped-def]
                                                         flavor: str) -> None:
    """Each step of both wizards, a container card, a volume, Edit Mode and the Review, through htmx."""
    await login(page, live_server, demo.admin.username, PASSWORD)
    await page.goto(live_server.url + demo.base + f"/services/-/new/{flavor}")
    found: dict[str, list[dict[str, Any]]] = {"basic": await serious_findings(page)}
    await page.fill("#f-name", f"a11y-{flavor[:5]}")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-image")
    await page.click("#add-container")
    await page.wait_for_selector("#f-containers-0-image")
    await page.fill("#f-containers-0-image", "nginx:1.25")
    await page.fill("#f-containers-0-ports-0-container_port", "80")
    await page.fill("#f-containers-0-ports-0-service_port", "80")
    await page.click("#container-0 details.probes > summary")
    found["image"] = await serious_findings(page)
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-volumes")
    found["volumes"] = await serious_findings(page)
    await page.click("#edit-mode")
    await page.wait_for_selector("#wizard-yaml")
    found["edit mode"] = await serious_findings(page)
    await page.click("#edit-mode")
    await page.wait_for_selector("#step-volumes")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-advanced")
    found["advanced"] = await serious_findings(page)
    await page.click("#wizard-review")
    await page.wait_for_selector("#review")
    found["review"] = await serious_findings(page)
    problems = {name: items for name, items in found.items() if items}
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)
