"""The Create Stateless/Stateful Service wizard over HTTP, against the local control plane: each step's
rules with the message on the field (422), Previous, the lossless Edit Mode, the name check, who may use
it, and a double-submitted Create that creates once.

The pages are driven like a browser without JavaScript: `WizardForm` reads every field of the form as
rendered (text inputs, selects, checked boxes, textareas, hidden fields) and posts them back with the
pressed button's `action`, so the templates' field names are exercised as well as the server.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from app.domain.wizard import Draft
from app.kube.client import CONSOLE, KubeGateway
from app.models.audit import AuditEvent
from tests.cluster import eventually
from tests.conftest import Browser, DemoProject, Tenants
from tests.web.services_fixtures import create, plain_service

pytestmark = pytest.mark.cluster


# ---------------------------------------------------------------------------------------------------
# A browser's view of the wizard form


class _FormParser(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[list[str]] = []
        self.actions: list[str] = []
        self._select: tuple[str, list[str], list[str]] | None = None  # name, option values, selected ones
        self._textarea: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append([name, a.get("value", "on" if kind == "checkbox" else "")])
        elif tag == "button" and name == "action":
            self.actions.append(a.get("value", ""))
        elif tag == "select" and name:
            self._select = (name, [], [])
        elif tag == "option" and self._select is not None:
            self._select[1].append(a.get("value", ""))
            if "selected" in a:
                self._select[2].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select is not None:
            name, options, chosen = self._select
            self.fields.append([name, (chosen or options or [""])[0]])
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea[1]
            self.fields.append([self._textarea[0], text[1:] if text.startswith("\n") else text])
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data


class WizardForm:
    """The fields the wizard form would post, as rendered, and the buttons it offers."""

    def __init__(self, page: str) -> None:
        parser = _FormParser("wizard-form")
        parser.feed(page)
        self.fields = parser.fields
        self.actions = parser.actions
        assert self.fields, "no wizard form in the page"

    def get(self, name: str) -> str:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(key == name for key, _v in self.fields)

    def set(self, name: str, value: str) -> WizardForm:
        for pair in self.fields:
            if pair[0] == name:
                pair[1] = value
                return self
        self.fields.append([name, value])
        return self

    def check(self, name: str, on: bool = True) -> WizardForm:
        self.fields = [p for p in self.fields if p[0] != name]
        if on:
            self.fields.append([name, "on"])
        return self

    @property
    def draft(self) -> Draft:
        return Draft.from_token(self.get("draft"))

    def data(self, action: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.fields if k != "csrf_token"] + [("action", action)]


def multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form pairs as httpx wants them next to a file (multipart): one key, its values in order."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


class Wizard:
    """One user's walk through the wizard: post the current form with a button, keep the new page."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url
        self.page = ""
        self.status = 0
        self.response: httpx.Response | None = None

    async def open(self) -> Wizard:
        resp = await self.browser.get(self.url)
        assert resp.status_code == 200, resp.text[:500]
        self._keep(resp)
        return self

    def _keep(self, resp: httpx.Response) -> None:
        self.response = resp
        self.status = resp.status_code
        if resp.headers.get("content-type", "").startswith("text/html"):
            self.page = resp.text

    @property
    def form(self) -> WizardForm:
        return WizardForm(self.page)

    @property
    def step(self) -> str:
        return self.form.get("step")

    async def press(self, action: str, form: WizardForm | None = None, **kw: Any) -> httpx.Response:
        form = form or self.form
        resp = await self.browser.post(self.url, form.data(action), **kw)
        self._keep(resp)
        return resp

    async def fill(self, action: str = "next", **fields: Any) -> httpx.Response:
        """Set fields (dots as "__") on the current step and press a button."""
        form = self.form
        for key, value in fields.items():
            name = key.replace("__", ".")
            if isinstance(value, bool):
                form.check(name, value)
            else:
                form.set(name, str(value))
        return await self.press(action, form)

    def message(self, name: str) -> str:
        """The message shown on a field (its error element), '' if none."""
        fid = "f-" + name.replace(".", "-")
        found = re.search(rf'id="{re.escape(fid)}-error"[^>]*>(.*?)</div>', self.page, re.S)
        return html_lib.unescape(found.group(1)).strip() if found else ""


async def stateless_basics(w: Wizard, name: str = "web") -> None:
    """Basic Information and a container with one HTTP port, leaving the wizard on Volumes."""
    resp = await w.fill(name=name)
    assert resp.status_code == 200 and w.step == "image", w.page[-3000:]
    resp = await w.press("add-container:worker")
    assert resp.status_code == 200
    resp = await w.fill(containers__0__image="nginx:1.25", containers__0__ports__0__container_port=80,
                        containers__0__ports__0__service_port=80)
    assert resp.status_code == 200 and w.step == "volumes", w.page[-3000:]


# ---------------------------------------------------------------------------------------------------


async def test_the_wizard_opens_on_basic_information(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    w = await Wizard(b, f"{demo.base}/services/-/new/stateless").open()
    assert w.step == "basic"
    assert w.form.get("version") == "v1"
    assert "Create Stateless Service" in w.page
    for label in ("Basic Information", "Container Image", "Volumes", "Advanced Settings"):
        assert label in w.page
    assert "create" not in w.form.actions  # Create only on the last step



def stateless_url(demo: DemoProject) -> str:
    return f"{demo.base}/services/-/new/stateless"


def stateful_url(demo: DemoProject) -> str:
    return f"{demo.base}/services/-/new/stateful"


SERVICE_NAME_RULE = (
    "The name can contain only lowercase letters, numbers, and hyphens (-), must start with a lowercase "
    "letter, and must end with a lowercase letter or number. The maximum length is 63 characters."
)
VERSION_RULE = "The version can contain only lowercase letters and numbers. The maximum length is 16 characters."


# -- Basic Information ------------------------------------------------------------------------------


async def test_basic_information_rejects_a_bad_name_and_a_bad_version(demo: DemoProject, tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    resp = await w.fill(name="Web_1", version="V1")
    assert resp.status_code == 422
    assert w.step == "basic"
    assert w.message("name") == SERVICE_NAME_RULE
    assert w.message("version") == VERSION_RULE
    assert w.form.get("name") == "Web_1"  # what was typed stays in the field


async def test_name_and_version_too_long_together_for_a_statefulset(demo: DemoProject, tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), stateful_url(demo)).open()
    name = "a" + "b" * 49  # 50 characters: a fine Service name, but <name>-<version> must fit 52
    resp = await w.fill(name=name, version="v123")
    assert resp.status_code == 422
    assert w.message("version").startswith(f"The StatefulSet would be named {name}-v123 (55 characters)")


async def test_next_refuses_a_name_that_already_exists(demo: DemoProject, tenants: Tenants,
                                                       admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("taken"))
    b = await tenants.browser(demo.operator)
    w = await Wizard(b, stateless_url(demo)).open()
    resp = await w.fill(name="taken")
    assert resp.status_code == 422
    assert w.message("name") == "The name already exists. Please enter another name."


async def test_the_name_check_reports_an_existing_service_as_you_type(demo: DemoProject, tenants: Tenants,
                                                                      admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("db"))
    b = await tenants.browser(demo.operator)
    check = stateless_url(demo) + "/name-check"
    resp = await b.get(check, params={"name": "db", "version": "v1"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert "The name already exists. Please enter another name." in resp.text
    assert 'id="name-check-name"' in resp.text and 'id="name-check-version"' in resp.text
    resp = await b.get(check, params={"name": "free", "version": "v1"}, headers={"HX-Request": "true"})
    assert "error" not in resp.text
    resp = await b.get(check, params={"name": "free", "version": "V!"}, headers={"HX-Request": "true"})
    assert VERSION_RULE in resp.text


# -- Container Image ---------------------------------------------------------------------------------


async def on_image_step(demo: DemoProject, tenants: Tenants, *, name: str = "web", url: str | None = None) -> Wizard:
    w = await Wizard(await tenants.browser(demo.operator), url or stateless_url(demo)).open()
    resp = await w.fill(name=name)
    assert resp.status_code == 200 and w.step == "image", w.page[-2000:]
    return w


async def on_stateful_volumes_step(demo: DemoProject, tenants: Tenants, *, name: str, image: str,
                                   port: str) -> Wizard:
    """A stateful wizard on Volumes: one worker container with a TCP port that the Service exposes too."""
    w = await on_image_step(demo, tenants, name=name, url=stateful_url(demo))
    await w.press("add-container:worker")
    await w.fill(containers__0__image=image, containers__0__ports__0__protocol="TCP",
                 containers__0__ports__0__name="tcp-0", containers__0__ports__0__container_port=port,
                 containers__0__ports__0__service_port=port)
    assert w.step == "volumes", w.page[-2000:]
    return w


async def test_container_image_needs_a_worker_container(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_image_step(demo, tenants)
    resp = await w.press("next")
    assert resp.status_code == 422
    assert w.message("containers") == "Please add at least one worker container."


@pytest.mark.parametrize("fields,field,message", [
    ({"containers__0__image": "nginx latest"}, "containers.0.image", "Invalid image."),
    ({"containers__0__ports__0__container_port": "70000"}, "containers.0.ports.0.container_port", "Invalid port."),
    ({"containers__0__cpu_request": "2", "containers__0__cpu_limit": "1"}, "containers.0.cpu_request",
     "Resource requests cannot be greater than resource limits."),
    ({"containers__0__memory_request": "1Gi", "containers__0__memory_limit": "512"}, "containers.0.memory_request",
     "Resource requests cannot be greater than resource limits."),
], ids=["bad-image", "bad-port", "cpu-requests-over-limits", "memory-requests-over-limits"])
async def test_container_image_puts_the_message_on_the_field(demo: DemoProject, tenants: Tenants,
                                                             fields: dict[str, str], field: str, message: str) -> None:
    w = await on_image_step(demo, tenants)
    await w.press("add-container:worker")
    good = {"containers__0__image": "nginx:1.25", "containers__0__ports__0__container_port": "80",
            "containers__0__ports__0__service_port": "80"}
    resp = await w.fill(**{**good, **fields})
    assert resp.status_code == 422
    assert w.step == "image"
    assert w.message(field) == message
    for key, value in fields.items():
        assert w.form.get(key.replace("__", ".")) == value


async def test_rows_are_added_and_removed_without_validating(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_image_step(demo, tenants)
    await w.press("add-container:worker")
    await w.press("add-container:init")
    form = w.form
    assert form.get("containers.0.type") == "worker" and form.get("containers.1.type") == "init"
    assert form.get("containers.0.ports.0.name") == "http-0"
    resp = await w.fill("add-port:0", containers__0__image="nginx:1.25")
    assert resp.status_code == 200 and w.message("containers.0.image") == ""
    assert w.form.get("containers.0.ports.1.name") == "http-1"
    assert w.form.get("containers.0.image") == "nginx:1.25"
    await w.press("add-env:0")
    await w.press("remove-container:1")
    assert not w.form.has("containers.1.type")
    assert w.form.has("containers.0.env.0.name")


async def test_add_container_with_htmx_appends_only_the_new_card(demo: DemoProject, tenants: Tenants) -> None:
    """With htmx, Add Container answers with the new card alone, appended to the list: what the user typed in
    the other cards is never re-rendered. Without JavaScript the whole step comes back (the test above)."""
    w = await on_image_step(demo, tenants)
    await w.press("add-container:worker")
    form = w.form.set("containers.0.image", "typed with spaces")
    resp = await w.browser.post(w.url, form.data("add-container:init"), htmx=True)
    assert resp.status_code == 200
    assert resp.headers["HX-Retarget"] == "#containers" and resp.headers["HX-Reswap"] == "beforeend"
    card = resp.text
    assert card.lstrip().startswith('<div class="card ctr" id="container-1">')
    assert 'id="wizard-form"' not in card and "typed with spaces" not in card
    assert 'name="containers.1.image"' in card and 'name="containers.0.image"' not in card
    assert re.search(r'<option value="init" selected>', card)
    assert re.search(r'id="f-containers-1-image"[^>]* autofocus', card)
    # The appended card's fields post with the rest of the form: Next validates both containers.
    fields = form.data("next")[:-1] + WizardForm(f'<form id="wizard-form">{card}</form>').data("next")
    resp = await w.browser.post(w.url, fields)
    assert resp.status_code == 422
    w._keep(resp)
    assert w.message("containers.0.image") == "Invalid image." and w.message("containers.1.image")


async def test_an_htmx_post_reads_every_character_the_user_typed(demo: DemoProject, tenants: Tenants) -> None:
    """htmx sends the CSRF token as a header and the form URL-encoded: the console parses that body itself
    (app/routes/common.py read_form). What was typed comes back exactly, whatever its characters."""
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    typed = "Café + 100% & a=b; 中文 ☃ \"quoted\" <b>"
    form = w.form.set("name", "web").set("alias", typed).set("description", "line one\r\nline two + more")
    body = urlencode(form.data("next"))
    resp = await w.browser.client.post(w.url, content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": w.browser.csrf, "HX-Request": "true"})
    assert resp.status_code == 422, resp.text[:300]  # the alias has characters an alias may not have
    w._keep(resp)
    assert w.form.get("alias") == typed and w.form.get("name") == "web"
    assert w.form.get("description") == "line one\r\nline two + more"
    assert w.message("alias")
    bad = await w.browser.client.post(w.url, content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": "wrong", "HX-Request": "true"})
    assert bad.status_code == 403


async def test_previous_keeps_what_was_typed_even_when_it_is_not_valid_yet(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_image_step(demo, tenants, name="keep")
    await w.press("add-container:worker")
    resp = await w.fill("prev", containers__0__image="nginx with spaces", replicas="3")
    assert resp.status_code == 200 and w.step == "basic"
    assert w.form.get("name") == "keep"
    resp = await w.fill(alias="Keep-Me")
    assert resp.status_code == 200 and w.step == "image"
    assert w.form.get("containers.0.image") == "nginx with spaces"
    assert w.form.get("replicas") == "3"
    resp = await w.press("next")
    assert resp.status_code == 422 and w.message("containers.0.image") == "Invalid image."
    resp = await w.fill("goto:basic", containers__0__image="nginx:1.25", containers__0__ports__0__container_port="80",
                        containers__0__ports__0__service_port="80")
    assert w.step == "basic" and w.form.get("alias") == "Keep-Me"
    containers = w.form.draft.workload["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:1.25"  # valid values went into the draft on the way back
    assert w.form.draft.workload["spec"]["replicas"] == 3


# -- Advanced Settings -------------------------------------------------------------------------------


async def on_advanced_step(demo: DemoProject, tenants: Tenants, name: str = "web") -> Wizard:
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    await stateless_basics(w, name)
    resp = await w.press("next")
    assert resp.status_code == 200 and w.step == "advanced", w.page[-2000:]
    return w


async def test_node_port_out_of_range(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_advanced_step(demo, tenants)
    assert w.form.get("node_ports.0.name") == "http-0"
    resp = await w.fill("review", access="NodePort", node_ports__0__node_port="80")
    assert resp.status_code == 422
    assert w.message("node_ports.0.node_port") == "The node port must be between 30000 and 32767."


async def test_sticky_session_timeout_out_of_range(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_advanced_step(demo, tenants)
    resp = await w.fill("review", sticky_session=True, sticky_timeout="90000")
    assert resp.status_code == 422
    assert w.message("sticky_timeout") == "The value range is 1 to 86400 and the default value is 10800."
    resp = await w.fill("review", sticky_timeout="600")
    assert resp.status_code == 200
    assert "timeoutSeconds: 600" in w.page


async def test_load_balancer_annotation_suggestions_per_provider(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_advanced_step(demo, tenants, "lb")
    resp = await w.fill("lb-provider", access="LoadBalancer", lb_provider="openelb")
    assert resp.status_code == 200 and w.step == "advanced"
    form = w.form
    rows = {form.get(f"service_annotations.{i}.key"): form.get(f"service_annotations.{i}.value") for i in range(3)}
    assert rows == {"lb.kubesphere.io/v1alpha1": "openelb", "protocol.openelb.kubesphere.io/v1alpha1": "layer2",
                    "eip.openelb.kubesphere.io/v1alpha2": ""}
    assert form.get("lb_provider") == "openelb"  # detected from the keys (not QingCloud)
    resp = await w.fill("review", service_annotations__2__value="eip-pool")
    assert resp.status_code == 200, w.page[-2000:]
    assert "eip.openelb.kubesphere.io/v1alpha2: eip-pool" in w.page and "type: LoadBalancer" in w.page
    # without a load balancer, its keys go away with it
    resp = await w.press("goto:advanced")
    resp = await w.fill("review", access="none")
    assert resp.status_code == 200 and "openelb" not in w.page and "type: LoadBalancer" not in w.page


async def test_a_stateful_service_offers_no_external_access_and_says_why(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_stateful_volumes_step(demo, tenants, name="db", image="mysql:8.0", port="3306")
    await w.press("next")
    assert w.step == "advanced"
    assert 'id="headless-note"' in w.page and "headless" in w.page
    assert not w.page.count('name="access" value="NodePort"')
    assert w.form.get("access") == "none"


# -- Edit Mode ---------------------------------------------------------------------------------------


async def test_edit_mode_twice_keeps_fields_the_form_does_not_show(demo: DemoProject, tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    await stateless_basics(w, "edited")
    resp = await w.press("edit-mode-on")
    assert resp.status_code == 200
    text = w.form.get("yaml")
    assert text.startswith("apiVersion: apps/v1\nkind: Deployment\n") and "\n---\n" in text
    assert f"namespace: {demo.namespace}" in text and "kubesphere.io/creator" in text

    # the user edits the YAML: replicas, a toleration and an annotation the form has no field for
    edited = text.replace("  replicas: 1\n", "  replicas: 2\n", 1)
    edited = edited.replace("      terminationGracePeriodSeconds: 30\n",
                            "      terminationGracePeriodSeconds: 30\n      tolerations:\n      - key: dedicated\n"
                            "        operator: Equal\n        value: web\n        effect: NoSchedule\n", 1)
    edited = edited.replace("    kubesphere.io/serviceType: statelessservice\n",
                            "    kubesphere.io/serviceType: statelessservice\n    example.com/team: blue\n", 1)
    assert edited.count("replicas: 2") == 1 and "tolerations" in edited and "example.com/team" in edited
    resp = await w.press("edit-mode-off", w.form.set("yaml", edited))
    assert resp.status_code == 200 and w.form.get("mode") == "form"
    assert w.step == "volumes"  # back where the user was
    resp = await w.press("goto:image")
    assert w.form.get("replicas") == "2"  # the edited value shows in the form

    resp = await w.press("edit-mode-on")  # second round trip: nothing was lost on the way
    again = w.form.get("yaml")
    assert "replicas: 2" in again and "tolerations:" in again and "key: dedicated" in again
    assert "example.com/team: blue" in again
    resp = await w.press("edit-mode-off")
    assert resp.status_code == 200 and w.form.get("replicas") == "2"

    resp = await w.press("goto:advanced")
    assert any(w.form.get(f"service_annotations.{i}.key") == "example.com/team" for i in range(3)
               if w.form.has(f"service_annotations.{i}.key"))
    resp = await w.press("review")
    assert resp.status_code == 200
    assert "tolerations:" in w.page and "replicas: 2" in w.page and "example.com/team: blue" in w.page


async def test_edit_mode_from_the_review_returns_to_the_review(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_advanced_step(demo, tenants, "again")
    await w.press("review")
    await w.press("edit-mode-on")
    text = w.form.get("yaml").replace("  replicas: 1\n", "  replicas: 3\n", 1)
    resp = await w.press("edit-mode-off", w.form.set("yaml", text))
    assert resp.status_code == 200 and w.step == "review"
    assert 'id="review-yaml-deployment"' in w.page and "replicas: 3" in w.page
    assert "create" in w.form.actions


async def test_invalid_yaml_keeps_the_user_in_the_editor_with_line_and_column(demo: DemoProject,
                                                                              tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    await stateless_basics(w, "broken")
    await w.press("edit-mode-on")
    good = w.form.get("yaml")
    broken = good.replace("  replicas: 1\n", "  replicas: [1\n", 1)
    resp = await w.press("edit-mode-off", w.form.set("yaml", broken))
    assert resp.status_code == 422
    assert w.form.get("mode") == "yaml"
    assert w.form.get("yaml") == broken  # the text stays as typed
    problems = re.search(r'id="yaml-problems".*?</div>', w.page, re.S)
    assert problems and re.search(r"line \d+, column \d+", problems.group(0)), w.page[-3000:]
    # a document the wizard does not create is refused with a reason, not dropped
    extra = good + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
    resp = await w.press("edit-mode-off", w.form.set("yaml", extra))
    assert resp.status_code == 422 and "ConfigMap" in w.page
    # the last good state is still there
    resp = await w.press("edit-mode-off", w.form.set("yaml", good))
    assert resp.status_code == 200 and w.step == "volumes"


async def test_upload_and_download_in_edit_mode(demo: DemoProject, tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    await stateless_basics(w, "files")
    await w.press("edit-mode-on")
    text = w.form.get("yaml")
    resp = await w.browser.post(w.url, w.form.data("download"))
    assert resp.status_code == 200
    assert resp.headers["content-disposition"] == f'attachment; filename="files.{demo.namespace}.yaml"'
    assert resp.text == text
    uploaded = text.replace("  replicas: 1\n", "  replicas: 4\n", 1)
    resp = await w.browser.post(w.url, multi(w.form.data("upload")),
                                files={"file": ("svc.yml", uploaded.encode(), "application/yaml")})
    w._keep(resp)
    assert resp.status_code == 200, re.findall(r'class="alert.*?</div>', resp.text, re.S)
    assert w.form.get("yaml") == uploaded
    resp = await w.browser.post(w.url, multi(w.form.data("upload")), files={"file": ("svc.txt", b"x", "text/plain")})
    assert resp.status_code == 422 and "only .yaml or .yml" in resp.text


# -- The project's objects in the pickers --------------------------------------------------------------


async def test_pickers_list_the_projects_configmaps_and_secrets_and_steps_ask_kubernetes_for_secrets_only(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, app, kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    await create(admin_kube, demo.namespace,
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
                  "data": {"LOG_LEVEL": "info", "MODE": "web"}},
                 {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-secret"}, "type": "Opaque",
                  "stringData": {"password": "s3cret"}})
    w = await on_image_step(demo, tenants, name="env")
    await w.press("add-container:worker")
    await w.press("add-env:0")
    assert '<optgroup label="app-config"><option value="app-config/LOG_LEVEL">app-config / LOG_LEVEL</option>' in w.page
    assert 'value="db-secret/password"' in w.page
    assert "s3cret" not in w.page

    calls: list[str] = []
    original = kube._send

    async def counting(method: str, path: str, *args: Any, **kw: Any) -> Any:
        calls.append(f"{method} {path}")
        return await original(method, path, *args, **kw)

    kube._send = counting  # type: ignore[method-assign]
    try:
        resp = await w.fill(containers__0__image="nginx:1.25", containers__0__ports__0__container_port="80",
                            containers__0__ports__0__service_port="80", containers__0__env__0__type="secret",
                            containers__0__env__0__name="DB_PASSWORD", containers__0__env__0__secret_ref="db-secret/password")
        assert resp.status_code == 200 and w.step == "volumes", w.page[-2000:]
        await w.press("add-volume:configmap")
        await w.press("next")
        await w.press("prev")
        await w.press("prev")
        # Steps read ConfigMaps, claims and classes from the watch cache; only Secrets (never held by
        # the console) may be listed again, as the user, when the last list is a few seconds old.
        assert [c for c in calls if not c.endswith("/secrets")] == [], calls
        taken = await w.browser.get(w.url + "/name-check", params={"name": "env", "version": "v1"})
    finally:
        del kube._send
    assert [c for c in calls if not c.endswith("/secrets")] == []  # and the name check from the watch cache
    assert taken.status_code == 200
    env = w.form.draft.workload["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-secret", "key": "password"}}}]


async def test_an_object_made_elsewhere_shows_in_an_open_wizard_and_refresh_lists_secrets_at_once(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    w = await on_image_step(demo, tenants, name="late")
    await w.press("add-container:worker")
    await w.press("add-env:0")
    assert "made-later" not in w.page
    await create(admin_kube, demo.namespace,
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made-later"}, "data": {"K": "v"}},
                 {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "made-later-secret"}, "type": "Opaque",
                  "stringData": {"token": "t0ken"}})

    async def configmap_offered() -> bool:
        # Any step render reads the watch cache: the ConfigMap is there within a watch event.
        resp = await w.fill("refresh-choices", containers__0__image="nginx:1.25")
        assert resp.status_code == 200 and w.step == "image"
        return 'value="made-later/K"' in w.page
    await eventually(configmap_offered, timeout=5)
    # Refresh lists the Secrets at once (as the user), keeps what was typed and checks nothing yet.
    assert 'value="made-later-secret/token"' in w.page and "t0ken" not in w.page
    assert w.form.get("containers.0.image") == "nginx:1.25" and w.message("containers.0.image") == ""
    refresh = re.search(r'<button type="submit" name="action" value="refresh-choices"[^>]*>', w.page)
    assert refresh and 'aria-label="Refresh the list of configmaps"' in refresh.group(0)


async def test_an_operator_picks_a_storage_class_with_the_clusters_default_preselected(
        demo: DemoProject, tenants: Tenants) -> None:
    """An operator may not list StorageClasses; the console lists them itself (nothing secret in them)."""
    w = await on_stateful_volumes_step(demo, tenants, name="files", image="busybox:1.36", port="9000")
    resp = await w.press("add-template")
    assert resp.status_code == 200
    assert w.form.get("volume_templates.0.name") == "data"
    assert w.form.get("volume_templates.0.capacity") == "10Gi"
    picker = re.search(r'<select id="f-volume_templates-0-storage_class".*?</select>', w.page, re.S)
    assert picker and re.search(r'<option value="local" selected>local</option>', picker.group(0))
    assert '<option value="">Cluster default (local)</option>' in picker.group(0)
    # Empty is the cluster's default: accepted, and the claim names no class.
    resp = await w.fill(volume_templates__0__storage_class="", volume_templates__0__mounts__0__mode="rw",
                        volume_templates__0__mounts__0__mount_path="/data")
    assert resp.status_code == 200, w.page[-3000:]
    assert "storageClassName" not in w.form.draft.workload["spec"]["volumeClaimTemplates"][0]["spec"]


# -- Who may use it ----------------------------------------------------------------------------------


async def test_viewers_get_403_and_outsiders_404(demo: DemoProject, tenants: Tenants) -> None:
    viewer = await tenants.browser(demo.viewer)
    outsider = await tenants.browser(await tenants.user("outsider"))
    for url in (stateless_url(demo), stateful_url(demo), stateless_url(demo) + "/name-check?name=x"):
        assert (await viewer.get(url)).status_code == 403
        assert (await outsider.get(url)).status_code == 404
    for url in (stateless_url(demo), stateful_url(demo)):
        assert (await viewer.post(url, {"action": "next", "name": "x"})).status_code == 403
        assert (await outsider.post(url, {"action": "next", "name": "x"})).status_code == 404
    admin = await tenants.browser(demo.admin)
    assert (await admin.get(stateful_url(demo))).status_code == 200


async def test_a_damaged_draft_starts_again_and_says_why(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    resp = await b.post(stateless_url(demo), {"draft": '{"v": 1, "flavor": "stateless"', "step": "image", "action": "next"})
    assert resp.status_code == 422
    assert "The form state is damaged" in resp.text
    assert WizardForm(resp.text).get("step") == "basic"


# -- Create ------------------------------------------------------------------------------------------


async def test_a_double_submitted_create_creates_once(demo: DemoProject, tenants: Tenants, kube: KubeGateway,  # type: ignore[no-untyped-def]
                                                      admin_kube: KubeGateway, app) -> None:
    w = await on_advanced_step(demo, tenants, "twice")
    data = w.form.data("create")
    first, second = await asyncio.gather(w.browser.post(w.url, data), w.browser.post(w.url, data))
    target = f"{demo.base}/services/twice"
    assert (first.status_code, first.headers.get("location")) == (303, target), first.text[-2000:]
    assert (second.status_code, second.headers.get("location")) == (303, target), second.text[-2000:]
    again = await w.browser.post(w.url, data)  # and once more, later
    assert (again.status_code, again.headers.get("location")) == (303, target)
    deployments = await admin_kube.items("Deployment", demo.namespace, actor=CONSOLE, label_selector="app=twice")
    services = await admin_kube.items("Service", demo.namespace, actor=CONSOLE, label_selector="app=twice")
    assert [d["metadata"]["name"] for d in deployments] == ["twice-v1"]
    assert [s["metadata"]["name"] for s in services] == ["twice"]
    creator = services[0]["metadata"]["annotations"]["kubesphere.io/creator"]
    assert creator == demo.operator.username
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(AuditEvent).where(
            AuditEvent.project == demo.namespace, AuditEvent.verb == "create"))).scalars().all()
    assert [(r.object_kind, r.object_name, r.outcome, r.username) for r in rows] == [
        ("Service", "twice", "success", demo.operator.username)]


async def test_create_over_htmx_redirects_with_hx_redirect(demo: DemoProject, tenants: Tenants) -> None:
    w = await on_advanced_step(demo, tenants, "htmx")
    resp = await w.browser.post(w.url, w.form.data("create"), htmx=True)
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"] == f"{demo.base}/services/htmx"


async def test_a_step_over_htmx_returns_the_wizard_alone(demo: DemoProject, tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), stateless_url(demo)).open()
    resp = await w.browser.post(w.url, w.form.set("name", "Bad!").data("next"), htmx=True)
    assert resp.status_code == 422
    assert resp.text.lstrip().startswith('<div id="wizard"')
    assert "<html" not in resp.text
    assert resp.headers["HX-Reswap"].startswith("outerHTML")


async def test_the_dry_run_puts_the_servers_reason_on_the_field(demo: DemoProject, tenants: Tenants,
                                                                admin_kube: KubeGateway) -> None:
    w = await on_advanced_step(demo, tenants, "race")
    await create(admin_kube, demo.namespace, plain_service("race"))  # someone else was quicker
    resp = await w.press("create")
    assert resp.status_code == 422
    assert w.step == "basic"
    assert w.message("name") == "Service race already exists."
    assert not await admin_kube.exists("Deployment", demo.namespace, "race-v1", actor=CONSOLE)


async def test_the_api_server_refuses_an_unknown_field_at_its_line(demo: DemoProject, tenants: Tenants,
                                                                  admin_kube: KubeGateway) -> None:
    """Issue 16: the server checks fields itself (fieldValidation=Strict, 1.27+): a typo written in Edit
    Mode is refused by the dry run, at its line, and nothing is created (older servers: the /openapi/v2
    check and the confirmation, tests/unit/test_field_validation.py)."""
    w = await on_advanced_step(demo, tenants, "dropped")
    await w.press("edit-mode-on")
    text = w.form.get("yaml").replace("          containerPort: 80\n",
                                                 "          containerPort: 80\n          servicePort: 80\n", 1)
    assert "servicePort" in text
    line = text.splitlines().index("          servicePort: 80") + 1
    resp = await w.press("create", w.form.set("yaml", text))
    assert resp.status_code == 422
    assert "Unknown field: the API server does not know it." in w.page
    assert re.search(rf"[Ll]ine {line}\b", w.page), w.page[:3000]
    assert not await admin_kube.exists("Service", demo.namespace, "dropped", actor=CONSOLE)
    assert not await admin_kube.exists("Deployment", demo.namespace, "dropped-v1", actor=CONSOLE)
