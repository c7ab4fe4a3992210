"""Accessibility (issue 18): axe-core (npm, pinned in package-lock.json) in Chromium on the console's pages
and every step of both wizards, in English and Chinese, in the light and the dark theme, each reached
both ways: the system's preference (prefers-color-scheme, emulated) when the user chose nothing, and
the user's own choice in the header's Theme menu, against the other system preference. No serious or
critical finding (WCAG 2.2 AA and best practice). A screenshot of every page and step in each theme and
language goes to test-results/a11y/<locale>-<theme>-<page>.png.

One page load serves every theme (the emulated preference and the menu switch the stylesheet in place),
axe is injected once per load, and only its colour rules run again per theme, so the sweep stays short."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.kube.client import CONSOLE, KubeGateway
from app.models import PlatformRole
from tests.cluster import eventually
from tests.conftest import PASSWORD, DemoProject, Tenants
from tests.e2e.conftest import ARTIFACTS, LiveServer, login
from tests.web.services_fixtures import create, stateless

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
SHOTS = ARTIFACTS / "a11y"
# The page background of each theme (static/css/app.css --bg): proof the theme asked for is the one shown.
BACKGROUND = {"light": "rgb(239, 244, 249)", "dark": "rgb(13, 17, 23)"}
COLOUR_RULES = ["color-contrast", "link-in-text-block"]  # the rules a theme can pass or fail


async def serious_findings(page, rules: list[str] | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """axe's serious and critical findings: every rule of TAGS, or only `rules`."""
    assert AXE.exists(), "axe-core is installed by make (npm ci)"
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    only = {"type": "rule", "values": rules} if rules else {"type": "tag", "values": TAGS}
    result = await page.evaluate("only => axe.run(document, {runOnly: only})", only)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


class Sweep:
    """The findings of one test, by page and theme, and the screenshots.

    `check` runs every rule once, in the light theme, and the rules that depend on colour in each other
    way of showing the page: the system's dark preference and, in English, the user's choice of dark under
    a light system and of light under a dark one (chosen in the header's menu, in place, then back to
    following the system); the theme changes nothing else."""

    def __init__(self, page, locale: str) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.locale = locale
        self.found: dict[str, list[dict[str, Any]]] = {}

    async def check(self, name: str, *, choices: bool = True) -> None:
        await self._one(name, "light", "light", shot=True)
        await self._one(name, "dark", "dark", rules=COLOUR_RULES, shot=True)
        if choices and self.locale == "en":  # colours do not depend on the language
            for chosen, system in (("dark", "light"), ("light", "dark")):
                await choose_theme(self.page, chosen)
                await self._one(name, system, chosen, rules=COLOUR_RULES, chosen=True)
            await choose_theme(self.page, "system")

    async def _one(self, name: str, system: str, theme: str, *, rules: list[str] | None = None,
                   chosen: bool = False, shot: bool = False) -> None:
        await self.page.emulate_media(color_scheme=system)
        background = await self.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == BACKGROUND[theme], f"{name}: {theme} expected, {background} shown"
        self.found[f"{name} ({theme}{', chosen' if chosen else ''})"] = await serious_findings(self.page, rules)
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            await self.page.screenshot(path=str(SHOTS / f"{self.locale}-{theme}-{slug}.png"), full_page=True)

    def assert_clean(self) -> None:
        problems = {name: items for name, items in self.found.items() if items}
        assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


async def choose_theme(page, choice: str) -> None:  # type: ignore[no-untyped-def]
    """The user's choice in the header's Theme menu: the page switches in place, later pages come with it."""
    await page.click("#theme-menu summary")
    await page.click(f"#theme-menu button[value={choice}]")
    await page.wait_for_function("c => (document.documentElement.dataset.theme || 'system') === c", arg=choice)
    await page.wait_for_selector("#theme-menu:not([open])")


@pytest.fixture
async def page(chromium):  # type: ignore[no-untyped-def]
    # axe is injected into the page: its script is let past the console's CSP here, and only here
    context = await chromium.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15000)
    yield await context.new_page()
    await context.close()


async def _web_and_its_pod(admin_kube: KubeGateway, namespace: str) -> str:
    await create(admin_kube, namespace, *stateless("web"))

    async def pod() -> str:
        pods = await admin_kube.items("Pod", namespace, actor=CONSOLE, label_selector="app=web")
        return str(pods[0]["metadata"]["name"]) if pods else ""
    return await eventually(pod, timeout=30)


@pytest.mark.parametrize("locale", ["en", "zh"])
async def test_the_pages_have_no_serious_accessibility_findings_in_either_theme(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway,
        locale: str) -> None:
    pod = await _web_and_its_pod(admin_kube, demo.namespace)
    await page.context.add_cookies([{"name": "dockyard_lang", "value": locale, "url": live_server.url}])
    sweep = Sweep(page, locale)
    await page.goto(live_server.url + "/login")
    await sweep.check("sign-in", choices=False)

    base = live_server.url + demo.base
    ws = live_server.url + f"/workspaces/{demo.workspace.name}"
    pages = {
        "workspaces": live_server.url + "/workspaces",
        "workspace": ws,
        "projects": ws + "/projects",
        "workspace members": ws + "/members",
        "project": base,
        "members": base + "/members",
        "services": base + "/services",
        "service": base + "/services/web",
        "service events": base + "/services/web?tab=events",
        "edit information": base + "/services/web/information",
        "edit yaml": base + "/services/web/yaml",
        "edit service": base + "/services/web/settings",
        "edit external access": base + "/services/web/external-access",
        "delete": base + "/services/web/delete",
        "pod": base + f"/pods/{pod}",
        "logs": base + f"/pods/{pod}/containers/container-web/logs",
        "create": base + "/services/-/new",
        "stateless": base + "/services/-/new/stateless",
        "stateful": base + "/services/-/new/stateful",
        "external": base + "/services/-/new/external",
        "workloads": base + "/services/-/new/workloads",
        "edit by yaml": base + "/services/-/new/yaml",
        "not found": live_server.url + "/workspaces/no-such-workspace",
    }
    await login(page, live_server, demo.admin.username, PASSWORD)
    for name, url in pages.items():
        await page.goto(url)
        if "yaml" in name:
            await page.wait_for_load_state("networkidle")  # the YAML editor's script comes after the page
        await sweep.check(name)
    # a choice is the user's: the next page is rendered with it, whatever the system prefers
    await choose_theme(page, "dark")
    await page.emulate_media(color_scheme="light")
    await page.goto(pages["services"])
    assert await page.get_attribute("html", "data-theme") == "dark"
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND["dark"]
    await choose_theme(page, "system")

    # the platform administrator's pages
    admin = await tenants.user("admin", PlatformRole.admin)
    await page.context.clear_cookies()
    await page.context.add_cookies([{"name": "dockyard_lang", "value": locale, "url": live_server.url}])
    await login(page, live_server, admin.username, PASSWORD)
    for name, url in {"users": "/admin/users", "audit log": "/admin/audit",
                      "import from kubesphere": "/admin/import/kubesphere"}.items():
        await page.goto(live_server.url + url)
        await sweep.check(name)
    sweep.assert_clean()


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


@pytest.mark.parametrize("locale", ["en", "zh"])
@pytest.mark.parametrize("flavor", ["stateless", "stateful"])
async def test_every_wizard_step_has_no_serious_findings_in_either_theme(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, flavor: str, locale: str) -> None:
    """Each step of both wizards, a container card, a volume, Edit Mode, the Review and a step with its
    problems, through htmx, in every theme."""
    await page.context.add_cookies([{"name": "dockyard_lang", "value": locale, "url": live_server.url}])
    await login(page, live_server, demo.admin.username, PASSWORD)
    sweep = Sweep(page, locale)
    check = sweep.check
    await page.goto(live_server.url + demo.base + f"/services/-/new/{flavor}")
    await page.click("#wizard-next")  # no name: the step's problems
    await page.wait_for_selector("#error-summary")
    await check(f"{flavor} problems")
    await page.fill("#f-name", f"a11y-{flavor[:5]}")
    await check(f"{flavor} basic")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-image")
    await page.click("#add-container")
    await page.wait_for_selector("#f-containers-0-image")
    await page.fill("#f-containers-0-image", "nginx:1.25")
    await page.fill("#f-containers-0-ports-0-container_port", "80")
    await page.fill("#f-containers-0-ports-0-service_port", "80")
    await page.click("#container-0 details.probes > summary")
    await check(f"{flavor} image")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-volumes")
    await page.click("#edit-mode")
    await page.wait_for_selector("#wizard-yaml-cm .cm-content")  # the YAML editor, loaded with the swap
    await check(f"{flavor} edit mode")
    await page.click("#edit-mode")
    await page.wait_for_selector("#step-volumes")
    await page.click("#add-volume-emptydir")
    await page.wait_for_selector("#f-volumes-0-name")
    await check(f"{flavor} volumes")
    await page.click("#remove-volume-0")
    await page.wait_for_selector("#f-volumes-0-name", state="detached")
    await page.click("#wizard-next")
    await page.wait_for_selector("#step-advanced")
    await check(f"{flavor} advanced")
    await page.click("#wizard-review")
    await page.wait_for_selector("#review")
    await check(f"{flavor} review")
    sweep.assert_clean()
