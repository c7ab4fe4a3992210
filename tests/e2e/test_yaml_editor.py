"""The YAML editor (CodeMirror, static/js/yaml-editor.js) in Chromium: line numbers, Tab indents and
Escape then Tab leaves, a problem the YAML gate or the cluster's dry run found is marked on its line
after a failed submit, the edited text is what the form sends; in the wizard it comes with Edit Mode's
htmx swap."""

from __future__ import annotations

import secrets

from playwright.async_api import expect

from app.kube.client import CONSOLE, KubeGateway
from tests.conftest import PASSWORD, DemoProject
from tests.e2e.conftest import ARTIFACTS, LiveServer, login


def service_yaml(name: str, port: int) -> str:
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n"
            f"  ports:\n  - name: http\n    port: {port}\n    targetPort: 80\n")


async def test_yaml_editor_marks_the_problem_on_its_line_and_submits_the_edit(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject, admin_kube: KubeGateway) -> None:
    name = f"ed-{secrets.token_hex(3)}"
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new/yaml")
    content = page.locator("#yaml-text-cm .cm-content")
    await expect(content).to_be_visible()
    assert not await page.locator("#yaml-text").is_visible()  # underneath, and what the form sends
    await expect(page.locator("#yaml-text-editor-hint")).to_contain_text("press Escape and then Tab")

    # Typed with the keyboard: everything replaced, then Tab indents the line (and Shift+Tab takes it back)
    await content.click()
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(service_yaml(name, 70000))
    await expect(page.locator("#yaml-text-cm .cm-lineNumbers .cm-gutterElement", has_text="11")).to_have_count(1)
    assert "port: 70000" in await page.input_value("#yaml-text")
    await page.keyboard.press("Control+Home")
    await page.keyboard.press("Tab")
    assert (await page.input_value("#yaml-text")).startswith("  apiVersion: v1\n")
    await page.keyboard.press("Shift+Tab")
    assert (await page.input_value("#yaml-text")).startswith("apiVersion: v1\n")
    # Escape, then Tab: out of the editor, to the next control
    await page.keyboard.press("Escape")
    await page.keyboard.press("Tab")
    assert await page.evaluate("!document.activeElement.closest('.cm-editor')")
    assert (await page.input_value("#yaml-text")).startswith("apiVersion: v1\n")

    # Check: the YAML gate refuses the port; the problem is listed, and marked on line 10 of the editor
    await page.click("#yaml-plan")
    await page.wait_for_load_state()
    problem = page.locator("#yaml-problems li[data-line]")
    await expect(problem).to_have_count(1)
    assert await problem.get_attribute("data-line") == "10"
    marked = page.locator("#yaml-text-cm .cm-line:has(.cm-lintRange-error)")
    await expect(marked).to_have_text("    port: 70000")
    await expect(page.locator("#yaml-text-cm .cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "yaml-editor-problem.png"), full_page=True)

    # The port fixed, a value only the cluster's dry run refuses: marked on its line (12) too
    await page.locator("#yaml-text-cm .cm-content").click()
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(service_yaml(name, 8080) + "  sessionAffinity: Sticky\n")
    await page.click("#yaml-plan")
    await page.wait_for_load_state()
    problem = page.locator("#server-problems li[data-line]")
    await expect(problem).to_have_count(1)
    assert await problem.get_attribute("data-line") == "12"
    await expect(page.locator("#yaml-text-cm .cm-line:has(.cm-lintRange-error)")).to_have_text("  sessionAffinity: Sticky")

    # The edit is what is created
    await page.locator("#yaml-text-cm .cm-content").click()
    await page.keyboard.press("Control+a")
    await page.keyboard.insert_text(service_yaml(name, 8080))
    await page.click("#yaml-create")
    await page.wait_for_url(f"**{demo.base}/services/{name}")
    svc = await admin_kube.get("Service", demo.namespace, name, actor=CONSOLE)
    assert svc["spec"]["ports"][0]["port"] == 8080


async def test_wizard_edit_mode_brings_the_editor_with_its_swap(  # type: ignore[no-untyped-def]
        page, live_server: LiveServer, demo: DemoProject) -> None:
    await login(page, live_server, demo.operator.username, PASSWORD)
    await page.goto(f"{live_server.url}{demo.base}/services/-/new/stateless")
    assert await page.evaluate("!window.DockyardYamlEditor")  # the first load: no editor, nothing of it loaded
    await page.fill("#f-name", "ed-wizard")
    await page.click("#edit-mode")  # an htmx swap: the editor's script is loaded then
    content = page.locator("#wizard-yaml-cm .cm-content")
    await expect(content).to_be_visible()
    await expect(content).to_contain_text("name: ed-wizard")
    assert await page.locator("#wizard-yaml-cm .cm-lineNumbers .cm-gutterElement").count() > 10
    await expect(page.locator("link[href='/static/css/editor.css']")).to_have_count(1)
    await expect(page.locator("#wizard-yaml-editor-hint")).to_be_visible()
    assert await page.evaluate("window.DockyardYamlEditor.views().length") == 1
    # Swapped out again, the editor goes with its textarea: nothing of it stays alive
    await page.evaluate("htmx.swap('#edit-mode-panel', '<p id=\"swapped\">gone</p>', {swapStyle: 'outerHTML'})")
    await expect(page.locator("#swapped")).to_be_visible()
    assert await page.evaluate("window.DockyardYamlEditor.views().length") == 0
    assert await page.locator(".cm-editor").count() == 0
