"""Keyboard first (issue 18), in Chromium: both wizards completed with the keyboard alone (Tab, Shift+Tab,
Enter, Space, arrow keys and typing; no mouse event and no element.click()), creating real Services on
the local control plane; the focus is visible at every stop, in the light and the dark theme; the
shortcuts ("/", "?", "g" + letter) and the polite, throttled announcement of live updates."""

from __future__ import annotations

import re
from typing import Any

from app.kube.client import CONSOLE, KubeGateway
from tests.cluster import eventually
from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import ARTIFACTS, LiveServer, login
from tests.web.services_fixtures import plain_service

# Where the focus is, and whether it shows: an outline of 2px or more whose colour stands out 3:1 from
# what is behind it (WCAG 2.4.7, 1.4.11): the element's own background for an outline drawn inside it,
# else the nearest opaque background around it.
FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const cs = getComputedStyle(el);
  const rgba = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const f = v => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  let bg = [255, 255, 255];
  for (let n = parseFloat(cs.outlineOffset) < 0 ? el : el.parentElement; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || c[3] > 0.5) { bg = c; break; }
  }
  const a = lum(rgba(cs.outlineColor)), b = lum(bg);
  return {what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " + (el.textContent || el.value || "").trim().slice(0, 30),
          style: cs.outlineStyle, width: parseFloat(cs.outlineWidth),
          contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
}"""


class Keyboard:
    """The keyboard, and only the keyboard; every Tab stop is checked for a visible focus."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.stops: list[dict[str, Any]] = []

    async def focused(self, selector: str) -> bool:
        return bool(await self.page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)",
                                             selector))

    async def press(self, key: str) -> None:
        await self.page.keyboard.press(key)
        if key in ("Tab", "Shift+Tab"):
            stop = await self.page.evaluate(FOCUS)
            if stop:
                self.stops.append(stop)

    async def tab_to(self, selector: str, *, back: bool = False, limit: int = 150) -> None:
        """Tab (or Shift+Tab) until the focus is on `selector`."""
        for _ in range(limit):
            if await self.focused(selector):
                return
            await self.press("Shift+Tab" if back else "Tab")
        raise AssertionError(f"{selector} is not reached with {'Shift+Tab' if back else 'Tab'}")

    async def choose(self, selector: str, value: str, key: str = "ArrowDown") -> None:
        """An option of the focused select, with an arrow key."""
        for _ in range(12):
            if await self.page.input_value(selector) == value:
                return
            await self.press(key)
        raise AssertionError(f"{value} is not an option of {selector} reached with {key}")

    async def type(self, text: str) -> None:
        await self.page.keyboard.type(text)

    async def wait_focus(self, selector: str) -> None:
        await self.page.wait_for_function("s => !!document.activeElement && document.activeElement.matches(s)",
                                          arg=selector)

    def assert_focus_visible(self) -> None:
        hidden = [s for s in self.stops if s["style"] == "none" or s["width"] < 2 or s["contrast"] < 3]
        assert self.stops and not hidden, hidden[:10]


async def choose_theme_by_keyboard(kb: Keyboard, choice: str) -> None:
    """The header's Theme menu, from the keyboard: Enter opens it, Tab to the choice, Enter; the page
    switches in place and the focus comes back to the menu."""
    await kb.tab_to("#theme-menu summary")
    await kb.press("Enter")
    await kb.tab_to(f"#theme-menu button[value={choice}]")
    await kb.press("Enter")
    await kb.page.wait_for_function("c => (document.documentElement.dataset.theme || 'system') === c", arg=choice)
    await kb.wait_focus("#theme-menu summary")
    assert await kb.page.get_attribute("#theme-menu", "open") is None


async def test_a_stateless_service_created_with_the_keyboard_alone(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway) -> None:
    kb = Keyboard(page)
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services")
    await kb.tab_to("#create-service")
    await kb.press("Enter")
    await page.wait_for_url("**/services/-/new")
    await kb.tab_to("#choose-stateless")
    await kb.press("Enter")
    await page.wait_for_selector("#step-basic")

    # Basic Information: type, go back with Shift+Tab, Enter is Next
    await kb.tab_to("#f-name")
    await kb.type("kb-web")
    await kb.tab_to("#f-alias")
    await kb.type("Keyboard")
    await kb.tab_to("#f-name", back=True)
    assert await page.input_value("#f-name") == "kb-web"
    await kb.press("Enter")
    await page.wait_for_selector("#step-image")
    await kb.wait_focus("#step-image-title")  # told where it is

    # Container Image: Space adds a container, whose Image field takes the focus; arrows choose
    await kb.tab_to("#add-container")
    await kb.press("Space")
    await kb.wait_focus("#f-containers-0-image")
    await kb.type("nginx:1.25")
    await kb.tab_to("#f-containers-0-ports-0-protocol")
    before = await page.input_value("#f-containers-0-ports-0-protocol")
    await kb.press("ArrowDown")
    assert await page.input_value("#f-containers-0-ports-0-protocol") != before
    await kb.press("ArrowUp")
    assert await page.input_value("#f-containers-0-ports-0-protocol") == before
    await kb.tab_to("#f-containers-0-ports-0-container_port")
    await kb.type("80")
    await kb.tab_to("#f-containers-0-ports-0-service_port")
    await kb.type("80")
    await kb.press("Enter")  # Next

    # Volumes: nothing to add; Next is a button among the others
    await page.wait_for_selector("#step-volumes")
    await kb.tab_to("#wizard-next")
    await kb.press("Enter")

    # Advanced Settings: NodePort with the arrow keys, then Review and Create
    await page.wait_for_selector("#step-advanced")
    await kb.tab_to("#f-access")
    await kb.choose("#f-access", "NodePort")
    await kb.tab_to("#wizard-review")
    await kb.press("Enter")
    await page.wait_for_selector("#review")
    await kb.tab_to("#wizard-create")
    await kb.press("Enter")
    await page.wait_for_url(f"**{demo.base}/services/kb-web")

    svc = await admin_kube.get("Service", demo.namespace, "kb-web", actor=CONSOLE)
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["port"] == 80
    assert await admin_kube.exists("Deployment", demo.namespace, "kb-web-v1", actor=CONSOLE)
    kb.assert_focus_visible()


async def test_a_stateful_service_created_with_the_keyboard_alone_in_the_dark_theme(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway) -> None:
    kb = Keyboard(page)
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new")
    await choose_theme_by_keyboard(kb, "dark")
    await kb.tab_to("#choose-stateful")
    await kb.press("Enter")
    await page.wait_for_selector("#step-basic")
    assert await page.get_attribute("html", "data-theme") == "dark"  # the choice is kept

    await kb.tab_to("#f-name")
    await kb.type("kb-db")
    await kb.tab_to("#wizard-next")
    await kb.press("Space")
    await page.wait_for_selector("#step-image")

    await kb.tab_to("#add-container")
    await kb.press("Enter")
    await kb.wait_focus("#f-containers-0-image")
    await kb.type("redis:7")
    await kb.tab_to("#f-containers-0-ports-0-protocol")
    await kb.choose("#f-containers-0-ports-0-protocol", "TCP")
    await kb.tab_to("#f-containers-0-ports-0-container_port")
    await kb.type("6379")
    await kb.press("Tab")
    await kb.type("6379")
    await kb.tab_to("#wizard-next")
    await kb.press("Enter")

    # Volumes: a volume claim template, mounted read-write
    await page.wait_for_selector("#step-volumes")
    await kb.tab_to("#add-template")
    await kb.press("Space")
    await page.wait_for_selector("#f-volume_templates-0-name")
    await kb.tab_to("#f-volume_templates-0-name")
    if not await page.input_value("#f-volume_templates-0-name"):
        await kb.type("data")
    await kb.tab_to("#f-volume_templates-0-mounts-0-mode")
    await kb.choose("#f-volume_templates-0-mounts-0-mode", "rw", "ArrowUp")
    await kb.tab_to("#f-volume_templates-0-mounts-0-mount_path")
    await kb.type("/data")
    await kb.tab_to("#wizard-next")
    await kb.press("Enter")

    await page.wait_for_selector("#step-advanced")
    await kb.tab_to("#wizard-review")
    await kb.press("Enter")
    await page.wait_for_selector("#review")
    await kb.tab_to("#wizard-create")
    await kb.press("Enter")
    await page.wait_for_url(f"**{demo.base}/services/kb-db")

    svc = await admin_kube.get("Service", demo.namespace, "kb-db", actor=CONSOLE)
    assert svc["spec"]["clusterIP"] == "None"  # a stateful Service is headless
    sts = await admin_kube.get("StatefulSet", demo.namespace, "kb-db-v1", actor=CONSOLE)
    claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": claim, "mountPath": "/data"}.items() <= mounts[0].items()
    kb.assert_focus_visible()


async def test_every_control_shows_its_focus_in_both_themes(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway) -> None:
    """Tab through the whole of a few pages, in the system's light and dark themes."""
    await admin_kube.create(plain_service("shown"), namespace=demo.namespace, actor=CONSOLE)
    await login(page, live_server, demo.admin.username, PASSWORD)
    kb = Keyboard(page)
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for path in ("/services", "/services/shown", "/services/-/new/stateless", "/members"):
            await page.goto(f"{live_server.url}{demo.base}{path}")
            await page.keyboard.press("Tab")
            first = await page.evaluate(FOCUS)
            for _ in range(200):  # round the page, back to the first stop
                await page.keyboard.press("Tab")
                stop = await page.evaluate(FOCUS)
                if stop == first:
                    break
                if stop:
                    kb.stops.append(stop)
        kb.assert_focus_visible()
        assert len({s["what"] for s in kb.stops}) > 40, "the sweep went through the pages"


async def test_the_shortcuts(page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    await admin_kube.create(plain_service("shortcut"), namespace=demo.namespace, actor=CONSOLE)
    await login(page, live_server, demo.operator.username, PASSWORD)
    kb = Keyboard(page)
    await page.goto(f"{live_server.url}{demo.base}/services")

    # "/" goes to the search field; typed there, "/" and "?" are text
    await kb.press("/")
    await kb.wait_focus("#search-name")
    await kb.type("a/b?")
    assert await page.input_value("#search-name") == "a/b?"
    assert not await page.locator("#shortcuts").is_visible()

    # "?" opens the list of shortcuts: a modal dialog with the focus in it; Escape closes it and gives the
    # focus back to where it was
    await kb.tab_to("#create-service")
    await kb.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await dialog.wait_for()
    assert await page.evaluate("document.getElementById('shortcuts').contains(document.activeElement)")
    assert "Search the list on this page" in await dialog.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "keyboard-shortcuts.png"))
    await kb.press("/")  # no shortcut inside the dialog
    assert await dialog.is_visible()
    await kb.press("Escape")
    await dialog.wait_for(state="hidden")
    assert await kb.focused("#create-service")

    # the header's Shortcuts button opens it too, and its Close button closes it
    await kb.tab_to("#shortcuts-open", back=True)
    await kb.press("Enter")
    await dialog.wait_for()
    await kb.tab_to("#shortcuts button")
    await kb.press("Enter")
    await dialog.wait_for(state="hidden")
    assert await kb.focused("#shortcuts-open")

    # Escape closes an open menu and leaves the focus on it
    await kb.tab_to("#theme-menu summary")
    await kb.press("Enter")
    assert await page.get_attribute("#theme-menu", "open") is not None
    await page.emulate_media(color_scheme="dark")
    await page.screenshot(path=str(ARTIFACTS / "keyboard-theme-menu.png"))
    await kb.press("Escape")
    assert await page.get_attribute("#theme-menu", "open") is None and await kb.focused("#theme-menu summary")

    # "g" then "w": Workspaces; "g" then "s": the project's Services (from a page of the project)
    await kb.press("g")
    await kb.press("w")
    await page.wait_for_url("**/workspaces")
    await page.goto(f"{live_server.url}{demo.base}/members")
    await kb.press("g")
    await kb.press("s")
    await page.wait_for_url(f"**{demo.base}/services")
    # no search field on a page: "/" does nothing
    await page.goto(f"{live_server.url}{demo.base}")
    await kb.press("/")
    assert await page.evaluate("document.activeElement === document.body")


async def test_live_updates_are_announced_politely_at_most_every_few_seconds(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway) -> None:
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services")
    # one polite region says it; the list itself is not a live region (it would read the whole table)
    assert await page.get_attribute("#live-status", "aria-live") == "polite"
    assert await page.locator("#main [aria-live]").count() == 0
    await page.evaluate("""() => { window.said = [];
        new MutationObserver(() => said.push([Date.now(), document.getElementById('live-status').textContent]))
          .observe(document.getElementById('live-status'), {childList: true, characterData: true, subtree: true}); }""")
    await page.wait_for_timeout(500)  # the server-sent stream is open (its first event is only on a change)

    async def told(total: int) -> list[tuple[float, int]]:
        said = await page.evaluate("window.said")
        counts = [(at, int(m.group(1))) for at, text in said if (m := re.match(r"(\d+) Services? changed", text.strip()))]
        assert sum(n for _, n in counts) >= total, said
        return counts

    # one change: said at once
    await admin_kube.create(plain_service("live-0"), namespace=demo.namespace, actor=CONSOLE)
    assert [n for _, n in await eventually(lambda: told(1), timeout=20)] == [1]
    # three more straight after: one summary, a few seconds after the first
    for i in (1, 2, 3):
        await admin_kube.create(plain_service(f"live-{i}"), namespace=demo.namespace, actor=CONSOLE)
    await page.locator("#service-row-live-3").wait_for()
    counts = await eventually(lambda: told(4), timeout=30)
    gaps = [(b - a) / 1000 for (a, _), (b, _) in zip(counts, counts[1:], strict=False)]
    assert len(counts) <= 3 and all(g >= 4.9 for g in gaps), (counts, gaps)  # throttled, summed up
    assert sum(n for _, n in counts) == 4

    # the Service's page: its own words
    await page.goto(f"{live_server.url}{demo.base}/services/live-0?tab=metadata")
    await page.evaluate("""() => { window.said = [];
        new MutationObserver(() => said.push(document.getElementById('live-status').textContent))
          .observe(document.getElementById('live-status'), {childList: true, characterData: true, subtree: true}); }""")
    await page.wait_for_timeout(500)
    await admin_kube.merge_patch("Service", demo.namespace, "live-0", {"metadata": {"labels": {"changed": "yes"}}},
                                 actor=CONSOLE)
    await page.locator("#labels:has-text('changed')").wait_for()
    await page.wait_for_function("window.said.some(t => t.includes('The Service live-0 changed'))")


async def test_without_javascript_the_theme_menu_posts_and_the_page_comes_back_in_the_theme(  # type: ignore[no-untyped-def]
        chromium, live_server: LiveServer, demo: DemoProject) -> None:
    context = await chromium.new_context(viewport={"width": 1400, "height": 900}, java_script_enabled=False,
                                         color_scheme="light")
    page = await context.new_page()
    try:
        await login(page, live_server, demo.operator.username, PASSWORD)
        await page.goto(f"{live_server.url}{demo.base}/services?name=x")
        assert not await page.locator("#shortcuts-open").is_visible()  # it needs the script
        kb = Keyboard(page)
        await kb.tab_to("#theme-menu summary")
        await kb.press("Enter")
        await kb.tab_to("#theme-menu button[value=dark]")
        async with page.expect_navigation():  # the post, then its 303 (the same URL: wait_for_url returns at once)
            await kb.press("Enter")
        assert page.url.endswith(f"{demo.base}/services?name=x")  # back where it was
        assert await page.get_attribute("html", "data-theme") == "dark"
        assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
        assert await page.get_attribute("#theme-menu button[value=dark]", "aria-pressed") == "true"
    finally:
        await context.close()
