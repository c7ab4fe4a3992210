"""The YAML editor's hooks in the pages (issue 18): each YAML textarea asks for the editor, its problems carry
their line and column for it to mark, the editor's script is on those pages only, and without JavaScript
the textarea is what is sent."""

from __future__ import annotations

import re

import pytest

from app.domain.creation import ObjectProblem
from app.domain.yaml_creation import Plan
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, plain_service

pytestmark = pytest.mark.cluster

SCRIPT = '<script src="/static/js/yaml-editor.js" defer></script>'
BAD_PORT = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: hook\nspec:\n  selector:\n    app: hook\n"
            "  ports:\n  - port: 70000\n")


def test_a_server_problem_is_placed_on_its_field_in_the_editors_text() -> None:
    plan = Plan(server_problems=[ObjectProblem("Service", "hook", "bad port", "spec.ports[0].port"),
                                 ObjectProblem("Service", "hook", "no field")])
    located = plan.server_problems_in(BAD_PORT)
    assert (located[0].line, located[0].column) == (9, 11) and "line 9, column 11" in str(located[0])
    assert located[1].line is None


async def test_edit_by_yaml_marks_the_gates_problem_at_its_line(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/-/new/yaml")
    assert SCRIPT in page.text and 'href="/static/css/editor.css"' in page.text
    assert re.search(r'<textarea id="yaml-text"[^>]*data-yaml-editor="Tab indents the line', page.text)
    submission = re.search(r'name="submission" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    resp = await b.client.post(f"{demo.base}/services/-/new/yaml", files={
        "csrf_token": (None, b.csrf), "action": (None, "plan"), "submission": (None, submission),
        "text": (None, BAD_PORT)})
    assert resp.status_code == 422
    assert re.search(r'<li data-line="9" data-column="\d+"><span class="muted">document 1, line 9', resp.text)


async def test_edit_yaml_marks_the_gates_problem_at_its_line(demo: DemoProject, tenants: Tenants, admin_kube) -> None:  # type: ignore[no-untyped-def]
    await create(admin_kube, demo.namespace, plain_service("hooked"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/hooked/yaml")
    assert SCRIPT in page.text and 'data-problems="yaml-error"' in page.text
    resp = await b.post(f"{demo.base}/services/hooked/yaml", {
        "op": "update", "yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: hooked\n  bad: [\n",
        "resource_version": "1", "base_yaml": ""})
    assert resp.status_code == 422
    assert re.search(r'<div class="error" id="yaml-error" role="alert"><ul><li data-line="\d+" data-column="\d+">',
                     resp.text), resp.text[-2500:]
    viewer = await tenants.browser(demo.viewer)
    page = await viewer.get(f"{demo.base}/services/hooked/yaml")
    assert re.search(r'<textarea id="yaml-editor"[^>]*readonly[^>]*data-yaml-editor="Read only', page.text, re.S)


async def test_the_wizard_and_the_members_page_do_not_load_the_editor(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    wizard = await b.get(f"{demo.base}/services/-/new/stateless")
    assert wizard.status_code == 200 and "yaml-editor.js" not in wizard.text and "editor.css" not in wizard.text
    members = await b.get(f"{demo.base}/members")
    assert "yaml-editor.js" not in members.text
