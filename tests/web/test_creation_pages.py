"""The Create Service paths at the HTTP level, as a browser without JavaScript posts them: External
Service and Specify Workloads (every step's rules and messages, Previous, the picker and the hint, the
Service each creates), Edit by YAML (hostile input as editor text and as files, JSON, several files,
download, a property test), double submits, the audit log, and who may use these pages.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.domain.yaml import CREATABLE_KINDS
from app.kube.client import CONSOLE, KubeGateway
from app.models import ProjectRole, WorkspaceRole
from app.models.audit import AuditEvent
from tests.cluster import eventually
from tests.conftest import Browser, DemoProject, Tenants
from tests.unit.test_yaml_gate import HOSTILE
from tests.web.services_fixtures import running_pods

pytestmark = pytest.mark.cluster


# -- a browser's view of a form ---------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The successful controls of one <form id=...>: what a browser would post (without a button)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: tuple[str, list[tuple[str, bool]]] | None = None
        self.option: dict[str, str] | None = None
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "reset"):
                return
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind in ("radio", "checkbox") else "")))
        elif tag == "select" and a.get("name"):
            self.select = (a["name"], [])
        elif tag == "option" and self.select is not None:
            self.option = a
            self.text = ""
        elif tag == "textarea" and a.get("name"):
            self.textarea = a["name"]
            self.text = ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None or self.option is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        if not self.inside:
            return
        if tag == "option" and self.select is not None and self.option is not None:
            self.select[1].append((self.option.get("value", self.text), "selected" in self.option))
            self.option = None
        elif tag == "select" and self.select is not None:
            name, options = self.select
            chosen = next((v for v, sel in options if sel), options[0][0] if options else "")
            self.fields.append((name, chosen))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text[1:] if self.text.startswith("\n") else self.text))
            self.textarea = None


def form_fields(page: str, form_id: str = "creation-form") -> list[tuple[str, str]]:
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.fields


def field_value(page: str, name: str, form_id: str = "creation-form") -> str | None:
    return next((v for k, v in form_fields(page, form_id) if k == name), None)


async def submit(b: Browser, url: str, page: httpx.Response | str, op: str = "next",
                 **changes: str | None) -> httpx.Response:
    """Post the form of `page` as a browser would after the user changed `changes` (dots in names are
    written as `__`; None unchecks or removes) and clicked the button `op`."""
    text = page if isinstance(page, str) else page.text
    fields = form_fields(text)
    for key, value in changes.items():
        name = key.replace("__", ".")
        fields = [(k, v) for k, v in fields if k != name]
        if value is not None:
            fields.append((name, value))
    return await b.post(url, fields + [("op", op)])


def current_step(page: str) -> str:
    found = re.search(r'<li class="current" aria-current="step" id="step-(\w+)"', page)
    assert found, "no current step"
    return found.group(1)


def error_of(page: str, field_id: str) -> str:
    found = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</div>', page, re.S)
    return html_lib.unescape(found.group(1)).strip() if found else ""


def text_of(page: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


async def audit_entries(app, demo: DemoProject, name: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    """The create entries of the audit log for a Service of the demo project."""
    async with app.state.sessionmaker() as s:
        rows = await s.execute(select(AuditEvent).where(
            AuditEvent.object_name == name, AuditEvent.verb == "create", AuditEvent.project == demo.project.name)
            .order_by(AuditEvent.id))
        return list(rows.scalars())


def deployment(name: str, labels: dict[str, str], *, replicas: int = 1, port: int = 80) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                           "ports": [{"containerPort": port}]}]}}}}


def statefulset(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "db", "image": "mysql:8"}]}}}}


# -- External Service ------------------------------------------------------------------------------------


def urls(demo: DemoProject) -> dict[str, str]:
    new = f"{demo.base}/services/-/new"
    return {"new": new, "external": f"{new}/external", "workloads": f"{new}/workloads",
            "yaml": f"{new}/yaml", "picker": f"{new}/workloads/picker", "hint": f"{new}/workloads/hint"}


async def test_external_basic_information_rules(demo: DemoProject, tenants: Tenants,
                                                admin_kube: KubeGateway) -> None:
    await admin_kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "taken"},
                             "spec": {"type": "ExternalName", "externalName": "a.example.com"}},
                            namespace=demo.namespace, actor=CONSOLE)
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    page = await b.get(url)
    assert page.status_code == 200 and current_step(page.text) == "basic"
    assert "Create External Service" in page.text and "version" not in form_fields(page.text)
    cases = [
        ({"name": ""}, "f-name", "Please set a name."),
        ({"name": "Bad_Name"}, "f-name", "must start with a lowercase letter"),
        ({"name": "1st"}, "f-name", "must start with a lowercase letter"),
        ({"name": "ends-"}, "f-name", "must end with a lowercase letter or number"),
        ({"name": "a" * 64}, "f-name", "at most 63 characters"),
        ({"name": "taken"}, "f-name", "The name already exists. Please enter another name."),
        ({"name": "ok", "alias": "-partner"}, "f-alias", "The alias name can contain only"),
        ({"name": "ok", "alias": "a" * 64}, "f-alias", "The maximum length is 63 characters."),
        ({"name": "ok", "description": "d" * 257}, "f-description", "the maximum length is 256 characters"),
    ]
    for changes, field_id, message in cases:
        resp = await submit(b, url, page, **changes)
        assert resp.status_code == 422, changes
        assert current_step(resp.text) == "basic"
        assert message in error_of(resp.text, field_id), (changes, error_of(resp.text, field_id))
    services = await admin_kube.items("Service", demo.namespace, actor=CONSOLE)
    assert [s["metadata"]["name"] for s in services] == ["taken"]


BAD_ADDRESSES = [
    ("", "Please enter the domain name of an external service."),
    ("http://api.example.com", "without a scheme"),
    ("https://api.example.com/v1", "without a scheme"),
    ("api.example.com/v1", "without a path"),
    ("api.example.com?x=1", "without a path"),
    ("192.168.1.10", "An IP address cannot be used"),
    ("2001:db8::1", "An IP address cannot be used"),
    ("[2001:db8::1]", "An IP address cannot be used"),
    ("api.example.com:8443", "without a port"),
    ("user@api.example.com", "without a user name"),
    ("api example.com", "cannot contain spaces"),
    ("api_1.example.com", "Invalid domain name"),
    ("-api.example.com", "Invalid domain name"),
    ("api..example.com", "Invalid domain name"),
    ("a" * 64 + ".example.com", "at most 63 characters"),
    (".".join(["abcdefghij"] * 24), "at most 253 characters"),
    ("kubernetes.default.svc.cluster.local", "inside the cluster"),  # an alias of the API server
    ("web.other-project.svc", "inside the cluster"),
    ("localhost", "this machine"),
]


async def test_external_service_address_rules(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    basic = await b.get(url)
    page = await submit(b, url, basic, name="partner")
    assert page.status_code == 200 and current_step(page.text) == "address"
    assert 'placeholder="foo.bar.example.com"' in page.text
    for address, message in BAD_ADDRESSES:
        resp = await submit(b, url, page, "create", external_name=address)
        assert resp.status_code == 422, address
        assert current_step(resp.text) == "address"
        assert message in error_of(resp.text, "f-external_name"), (address, error_of(resp.text, "f-external_name"))
        assert field_value(resp.text, "name") == "partner"  # the other step's value travels on
    assert await admin_kube.items("Service", demo.namespace, actor=CONSOLE) == []


async def test_external_previous_keeps_values_and_creates_the_service(demo: DemoProject, tenants: Tenants,
                                                                      admin_kube: KubeGateway, app) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    page = await b.get(url)
    page = await submit(b, url, page, name="ext-api", alias="Partner-API", description="upstream SaaS")
    page = await submit(b, url, page, "prev", external_name="API.Example.com")
    assert current_step(page.text) == "basic"
    assert (field_value(page.text, "name"), field_value(page.text, "alias")) == ("ext-api", "Partner-API")
    assert field_value(page.text, "description") == "upstream SaaS"
    page = await submit(b, url, page)
    assert current_step(page.text) == "address"
    assert field_value(page.text, "external_name") == "API.Example.com"
    done = await submit(b, url, page, "create")
    assert done.status_code == 303, done.text[:2000]
    assert done.headers["location"] == f"{demo.base}/services/ext-api"

    svc = await admin_kube.get("Service", demo.namespace, "ext-api", actor=CONSOLE)
    assert svc["metadata"]["labels"] == {"app": "ext-api"}
    assert svc["metadata"]["annotations"] == {
        "kubesphere.io/serviceType": "externalservice", "kubesphere.io/alias-name": "Partner-API",
        "kubesphere.io/description": "upstream SaaS", "kubesphere.io/creator": demo.operator.username}
    assert svc["spec"]["type"] == "ExternalName"
    assert svc["spec"]["externalName"] == "api.example.com"  # DNS names are case-insensitive
    assert "selector" not in svc["spec"] and "ports" not in svc["spec"]
    [entry] = await audit_entries(app, demo, "ext-api")
    assert (entry.username, entry.outcome, entry.object_kind, entry.project) == (
        demo.operator.username, "success", "Service", demo.project.name)
    landing = await b.get(done.headers["location"])
    assert landing.status_code == 200


async def test_external_without_alias_or_description_writes_no_empty_annotations(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    page = await submit(b, url, await b.get(url), name="plain")
    done = await submit(b, url, page, "create", external_name="db.example.org.")
    assert done.status_code == 303
    svc = await admin_kube.get("Service", demo.namespace, "plain", actor=CONSOLE)
    assert svc["metadata"]["annotations"] == {"kubesphere.io/serviceType": "externalservice",
                                              "kubesphere.io/creator": demo.operator.username}
    assert svc["spec"]["externalName"] == "db.example.org."


async def test_a_double_submit_creates_once(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway,
                                            app) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    page = await submit(b, url, await b.get(url), name="twice")
    page = await submit(b, url, page, "next", external_name="twice.example.com")
    first, second = await asyncio.gather(submit(b, url, page, "create"), submit(b, url, page, "create"))
    assert (first.status_code, second.status_code) == (303, 303), (first.text[:500], second.text[:500])
    assert first.headers["location"] == second.headers["location"] == f"{demo.base}/services/twice"
    again = await submit(b, url, page, "create")  # the back button and Create once more
    assert again.status_code == 303
    assert [e.outcome for e in await audit_entries(app, demo, "twice")] == ["success"]
    names = [s["metadata"]["name"] for s in await admin_kube.items("Service", demo.namespace, actor=CONSOLE)]
    assert names == ["twice"]
    # the same form, changed, is another Service
    other = await submit(b, url, page, "create", name="twice-more")
    assert other.status_code == 303 and other.headers["location"] == f"{demo.base}/services/twice-more"
    assert await admin_kube.exists("Service", demo.namespace, "twice-more", actor=CONSOLE)


async def test_a_conflict_at_create_points_back_at_the_name(demo: DemoProject, tenants: Tenants,
                                                            admin_kube: KubeGateway, app) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.operator)
    url = urls(demo)["external"]
    page = await submit(b, url, await b.get(url), name="late")
    page = await submit(b, url, page, "next", external_name="late.example.com")
    await admin_kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "late"},
                             "spec": {"type": "ExternalName", "externalName": "x.example.com"}},
                            namespace=demo.namespace, actor=CONSOLE)
    resp = await submit(b, url, page, "create")
    assert resp.status_code == 422
    assert current_step(resp.text) == "basic"
    assert "already exists" in error_of(resp.text, "f-name")


# -- Specify Workloads -----------------------------------------------------------------------------------


# Service Settings that pass: a selector and one port (the form's default row, http-0)
GOOD_SETTINGS = {"selector__0__key": "app", "selector__0__value": "web", "ports__0__container_port": "80",
                 "ports__0__service_port": "8080"}


async def to_settings(b: Browser, demo: DemoProject, name: str = "web-extra") -> httpx.Response:
    url = urls(demo)["workloads"]
    page = await submit(b, url, await b.get(url), name=name)
    assert page.status_code == 200 and current_step(page.text) == "settings", page.text[:3000]
    return page


async def test_workloads_service_settings_rules(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_settings(b, demo)
    assert field_value(page.text, "ports.0.name") == "http-0"  # the original's default port row
    assert field_value(page.text, "ports.0.protocol") == "HTTP"
    good = GOOD_SETTINGS
    cases: list[tuple[dict[str, str | None], str, str]] = [
        ({**good, "selector__0__key": "", "selector__0__value": ""}, "selector", "Please set a workload selector."),
        ({**good, "selector__0__key": "bad key!"}, "selector-0-key", "The key and value of a label can contain only"),
        ({**good, "selector__0__value": "v" * 64}, "selector-0-value", "The key and value of a label can contain only"),
        ({**good, "ports__0__name": "", "ports__0__container_port": "", "ports__0__service_port": ""},
         "ports", "Please set at least one port."),
        ({**good, "ports__0__name": "web"}, "port-0-name", "must start with http-"),
        ({**good, "ports__0__protocol": "TCP"}, "port-0-name", "must start with tcp-"),
        ({**good, "ports__0__name": "http-Web"}, "port-0-name", "The port name can contain only lowercase letters"),
        ({**good, "ports__0__name": "http-" + "x" * 60}, "port-0-name", "The maximum length is 63 characters."),
        ({**good, "ports__0__container_port": ""}, "port-0-container-port", "Please enter a port number."),
        ({**good, "ports__0__service_port": "70000"}, "port-0-service-port", "Invalid port."),
        ({**good, "ports__0__service_port": "0"}, "port-0-service-port", "Invalid port."),
        ({**good, "ports__0__container_port": "eighty"}, "port-0-container-port", "Please enter an integer."),
        ({**good, "ports__0__protocol": "SCTP"}, "ports.0.protocol", "Please select a valid option."),
        ({**good, "access_mode": "cluster"}, "access_mode", "Please select a valid option."),
        ({**good, "ports__1__protocol": "HTTP", "ports__1__name": "http-0", "ports__1__container_port": "81",
          "ports__1__service_port": "8081"}, "port-1-name", "The port name already exists."),
        ({**good, "ports__1__protocol": "TCP", "ports__1__name": "tcp-1", "ports__1__container_port": "81",
          "ports__1__service_port": "8080"}, "port-1-service-port", "Another port already uses 8080/TCP."),
    ]
    for changes, field_id, message in cases:
        resp = await submit(b, url, page, **changes)
        assert resp.status_code == 422, changes
        assert current_step(resp.text) == "settings"
        assert message in error_of(resp.text, field_id), (changes, field_id, error_of(resp.text, field_id))
    # a headless Service may have no ports; a Virtual IP one passes with them
    resp = await submit(b, url, page, **{**good, "access_mode": "headless", "ports__0__name": "",
                                         "ports__0__container_port": "", "ports__0__service_port": ""})
    assert resp.status_code == 200 and current_step(resp.text) == "advanced"
    resp = await submit(b, url, page, **good)
    assert resp.status_code == 200 and current_step(resp.text) == "advanced"
    assert await admin_kube.items("Service", demo.namespace, actor=CONSOLE) == []


async def to_advanced(b: Browser, demo: DemoProject, name: str = "web-extra", **settings: str) -> httpx.Response:
    url = urls(demo)["workloads"]
    page = await to_settings(b, demo, name)
    values = {**GOOD_SETTINGS, **settings}
    page = await submit(b, url, page, **values)
    assert page.status_code == 200 and current_step(page.text) == "advanced", page.text[:3000]
    return page


async def test_workloads_advanced_settings_rules(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_advanced(b, demo)
    assert (field_value(page.text, "labels.0.key"), field_value(page.text, "labels.0.value")) == ("app", "web-extra")
    assert field_value(page.text, "sticky_timeout") == "10800"
    assert field_value(page.text, "node_ports.0.name") == "http-0"
    cases: list[tuple[dict[str, str | None], str, str]] = [
        ({"access": "NodePort", "node_ports__0__node_port": "80"}, "node-port-0", "between 30000 and 32767"),
        ({"access": "LoadBalancer", "node_ports__0__node_port": "40000"}, "node-port-0", "between 30000 and 32767"),
        ({"sticky_session": "on", "sticky_timeout": "0"}, "f-sticky_timeout", "The value range is 1 to 86400"),
        ({"sticky_session": "on", "sticky_timeout": "86401"}, "f-sticky_timeout", "The value range is 1 to 86400"),
        ({"sticky_session": "on", "sticky_timeout": ""}, "f-sticky_timeout", "This parameter is required."),
        ({"labels__0__key": "", "labels__0__value": ""}, "labels", "Please add a label."),
        ({"labels__0__key": "-app"}, "labels-0-key", "The key and value of a label can contain only"),
        ({"labels__1__key": "app", "labels__1__value": "x"}, "labels-1-key", "The key already exists."),
        ({"access": "LoadBalancer", "service_annotations__0__key": "kubesphere.io/serviceType",
          "service_annotations__0__value": "x"}, "service_annotations-0-key", "managed by the console"),
        ({"access": "LoadBalancer", "service_annotations__0__key": "bad key"}, "service_annotations-0-key",
         "The key can contain only"),
        ({"access": "ClusterIP"}, "f-access", "Please select a valid option."),
        ({"lb_provider": "acme"}, "lb-provider", "Please select a valid option."),
        ({"internal_traffic_policy": "Nearby"}, "f-internal_traffic_policy", "Please select a valid option."),
        ({"access": "LoadBalancer", "load_balancer_class": "nlb"}, "f-load_balancer_class", "domain-prefixed"),
    ]
    for changes, field_id, message in cases:
        resp = await submit(b, url, page, "create", **changes)
        assert resp.status_code == 422, changes
        assert current_step(resp.text) == "advanced"
        assert message in error_of(resp.text, field_id), (changes, field_id, error_of(resp.text, field_id))
    assert await admin_kube.items("Service", demo.namespace, actor=CONSOLE) == []


async def test_workloads_headless_is_not_offered_internet_access(demo: DemoProject, tenants: Tenants,
                                                                 admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_advanced(b, demo, "db-headless", access_mode="headless")
    assert 'id="headless-no-access"' in page.text and 'id="f-access"' not in page.text
    tampered = await submit(b, url, page, "create", access="NodePort")
    assert tampered.status_code == 422
    assert "cannot be exposed through a node port" in error_of(tampered.text, "access")
    done = await submit(b, url, page, "create")
    assert done.status_code == 303, done.text[:3000]
    svc = await admin_kube.get("Service", demo.namespace, "db-headless", actor=CONSOLE)
    assert svc["spec"]["clusterIP"] == "None"
    assert "kubesphere.io/serviceType" not in svc["metadata"]["annotations"] and svc["spec"]["type"] == "ClusterIP"


async def test_workloads_creates_the_service_of_the_form(demo: DemoProject, tenants: Tenants,
                                                         admin_kube: KubeGateway, app) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_settings(b, demo, "nginx-extra")
    page = await submit(b, url, page, "add:ports", selector__0__key="app", selector__0__value="nginx-demo",
                        ports__0__container_port="80", ports__0__service_port="8080", ports__0__name="http-web")
    assert field_value(page.text, "ports.1.name") == "http-1"
    page = await submit(b, url, page, "next", ports__1__protocol="UDP", ports__1__name="udp-dns",
                        ports__1__container_port="53", ports__1__service_port="53")
    assert current_step(page.text) == "advanced", page.text[:3000]
    assert [field_value(page.text, f"node_ports.{i}.name") for i in (0, 1)] == ["http-web", "udp-dns"]
    node_port = 30100 + secrets.randbelow(2600)  # node ports are cluster-wide: no fixed number
    done = await submit(b, url, page, "create", access="NodePort", node_ports__0__node_port=str(node_port),
                        sticky_session="on", sticky_timeout="600", labels__1__key="tier", labels__1__value="edge",
                        external_traffic_policy="Local", traffic_distribution="PreferSameNode")
    assert done.status_code == 303, done.text[:3000]
    assert done.headers["location"] == f"{demo.base}/services/nginx-extra"
    svc = await admin_kube.get("Service", demo.namespace, "nginx-extra", actor=CONSOLE)
    meta, spec = svc["metadata"], svc["spec"]
    assert meta["labels"] == {"app": "nginx-extra", "tier": "edge"}
    assert meta["annotations"] == {"kubesphere.io/creator": demo.operator.username}  # a Custom Service
    assert spec["selector"] == {"app": "nginx-demo"}
    assert spec["type"] == "NodePort" and spec["clusterIP"] != "None"
    assert spec["sessionAffinity"] == "ClientIP"
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    assert (spec["externalTrafficPolicy"], spec["trafficDistribution"]) == ("Local", "PreferSameNode")  # issue 16
    web, dns = spec["ports"]
    assert (web["name"], web["protocol"], web["port"], web["targetPort"], web["nodePort"]) == (
        "http-web", "TCP", 8080, 80, node_port)
    assert (dns["name"], dns["protocol"], dns["port"], dns["targetPort"]) == ("udp-dns", "UDP", 53, 53)
    assert 30000 <= dns["nodePort"] <= 32767
    assert [e.outcome for e in await audit_entries(app, demo, "nginx-extra")] == ["success"]


async def test_workloads_previous_keeps_values_and_the_name_follows_into_the_app_label(
        demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_advanced(b, demo, "first-name")
    page = await submit(b, url, page, "goto:basic", labels__1__key="team", labels__1__value="blue")
    assert current_step(page.text) == "basic"
    page = await submit(b, url, page, name="second-name")
    assert current_step(page.text) == "settings"
    assert (field_value(page.text, "selector.0.key"), field_value(page.text, "ports.0.service_port")) == ("app", "8080")
    page = await submit(b, url, page)
    assert current_step(page.text) == "advanced"
    labels = {field_value(page.text, f"labels.{i}.key"): field_value(page.text, f"labels.{i}.value") for i in (0, 1)}
    assert labels == {"app": "second-name", "team": "blue"}


async def test_protocol_change_renames_the_port_and_rows_come_and_go(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_settings(b, demo)
    page = await submit(b, url, page, "protocol:0", ports__0__protocol="GRPC", ports__0__name="http-api")
    assert page.status_code == 200 and field_value(page.text, "ports.0.name") == "grpc-api"
    page = await submit(b, url, page, "add:selector")
    assert field_value(page.text, "selector.1.key") == ""
    page = await submit(b, url, page, "remove:selector:0", selector__1__key="tier", selector__1__value="db")
    assert (field_value(page.text, "selector.0.key"), field_value(page.text, "selector.0.value")) == ("tier", "db")
    assert field_value(page.text, "selector.1.key") is None


async def _with(text: Awaitable[str], part: str) -> str:
    found = await text
    assert part in found, found
    return found


async def test_the_picker_copies_pod_labels_and_the_hint_says_what_matches(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    ns = demo.namespace
    await admin_kube.create(deployment("web-v1", {"app": "web", "version": "v1"}), namespace=ns, actor=CONSOLE)
    await admin_kube.create(deployment("web-v2", {"app": "web", "version": "v2"}), namespace=ns, actor=CONSOLE)
    await admin_kube.create(statefulset("db", {"app": "db"}), namespace=ns, actor=CONSOLE)
    b = await tenants.browser(demo.operator)
    u = urls(demo)
    page = await to_settings(b, demo)
    assert 'id="pick-deployment-web-v1"' in page.text and 'id="pick-deployment-web-v2"' in page.text
    assert "Please set a workload selector." in text_of(page.text)

    tab = await b.get(u["picker"], params={"kind": "StatefulSet"})
    assert tab.status_code == 200 and tab.text.lstrip().startswith('<div id="workload-picker"')
    assert 'id="pick-statefulset-db"' in tab.text and "web-v1" not in tab.text
    empty = await b.get(u["picker"], params={"kind": "DaemonSet"})
    assert "This project has no DaemonSet yet." in text_of(empty.text)
    nojs_tab = await submit(b, u["workloads"], page, "picker:StatefulSet")
    assert 'id="pick-statefulset-db"' in nojs_tab.text and '<details id="specify-workload" class="field" open>' in nojs_tab.text

    await running_pods(admin_kube, ns, "app=web", 2)
    picked = await submit(b, u["workloads"], page, "pick:Deployment:web-v1")
    assert picked.status_code == 200 and current_step(picked.text) == "settings"
    rows = {field_value(picked.text, f"selector.{i}.key"): field_value(picked.text, f"selector.{i}.value") for i in (0, 1)}
    assert rows == {"app": "web", "version": "v1"}
    # Picking fills the port rows with the ports its containers declare (the form's blank row goes).
    assert [field_value(picked.text, f"ports.0.{k}") for k in ("protocol", "name", "container_port", "service_port")] \
        == ["TCP", "tcp-0", "80", "80"]
    assert "The current selector (app=web,version=v1) sends traffic to 1 pod (" in text_of(picked.text)

    async def hint_of(**params: str) -> str:
        got = await b.get(u["hint"], params=params)
        assert got.status_code == 200
        return text_of(got.text)

    # The hint counts the pods that will receive traffic, ready ones apart, and names their workloads.
    two = await eventually(lambda: _with(hint_of(**{"selector.0.key": "app", "selector.0.value": "web"}),
                                          "(2 ready)"), timeout=30)
    assert "sends traffic to 2 pods (2 ready) of web-v1 (Deployment), web-v2 (Deployment)." in two
    await admin_kube.create(deployment("idle", {"app": "idle"}, replicas=0), namespace=ns, actor=CONSOLE)
    idle = await eventually(lambda: _with(hint_of(**{"selector.0.key": "app", "selector.0.value": "idle"}),
                                           "idle (Deployment)"), timeout=10)
    assert "The current selector (app=idle) matches idle (Deployment), which has no pods now." in idle
    assert "The current selector matches no workload." in await hint_of(
        **{"selector.0.key": "app", "selector.0.value": "nothing"})
    assert "Fix the selector" in await hint_of(**{"selector.0.key": "bad key!", "selector.0.value": "x"})
    hint = await b.get(u["hint"])
    assert "Please set a workload selector." in text_of(hint.text)

    for bad in ("pick:Deployment:../../../api", "pick:Pod:web-v1", "pick:Deployment:", "pick:Secret:x"):
        resp = await submit(b, u["workloads"], page, bad)
        assert resp.status_code == 422 and "Choose a workload from the list." in text_of(resp.text), bad
    gone = await submit(b, u["workloads"], page, "pick:Deployment:no-such")
    assert gone.status_code == 422 and "could not be read" in text_of(gone.text)


async def test_load_balancer_provider_adds_its_annotations(demo: DemoProject, tenants: Tenants,
                                                          admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_advanced(b, demo, "lb-web")
    assert '<datalist id="lb-annotation-keys">' in page.text
    page = await submit(b, url, page, "provider", access="LoadBalancer", lb_provider="openelb")
    annotations = {field_value(page.text, f"service_annotations.{i}.key"):
                   field_value(page.text, f"service_annotations.{i}.value") for i in range(3)}
    assert annotations == {"lb.kubesphere.io/v1alpha1": "openelb", "protocol.openelb.kubesphere.io/v1alpha1": "layer2",
                           "eip.openelb.kubesphere.io/v1alpha2": ""}
    assert 'option value="eip.openelb.kubesphere.io/v1alpha2"' in page.text
    done = await submit(b, url, page, "create", service_annotations__2__value="eip-pool")
    assert done.status_code == 303, done.text[:3000]
    svc = await admin_kube.get("Service", demo.namespace, "lb-web", actor=CONSOLE)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["eip.openelb.kubesphere.io/v1alpha2"] == "eip-pool"
    assert "kubesphere.io/serviceType" not in svc["metadata"]["annotations"]


async def test_without_internet_access_load_balancer_annotations_are_not_written(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["workloads"]
    page = await to_advanced(b, demo, "quiet")
    page = await submit(b, url, page, "provider", access="LoadBalancer", lb_provider="qingcloud")
    done = await submit(b, url, page, "create", access="none")
    assert done.status_code == 303
    svc = await admin_kube.get("Service", demo.namespace, "quiet", actor=CONSOLE)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["metadata"]["annotations"] == {"kubesphere.io/creator": demo.operator.username}


# -- who may use these pages -----------------------------------------------------------------------------


async def test_viewers_are_refused_and_outsiders_see_nothing(demo: DemoProject, tenants: Tenants,
                                                             admin_kube: KubeGateway) -> None:
    outsider_user = await tenants.user("outsider")
    viewer, outsider = await tenants.browser(demo.viewer), await tenants.browser(outsider_user)
    u = urls(demo)
    gets = [u["new"], u["external"], u["workloads"], u["yaml"], u["picker"], u["hint"] + "?selector.0.key=app"]
    posts = {u["external"]: [("name", "x"), ("op", "next")],
             u["workloads"]: [("name", "x"), ("op", "pick:Deployment:web")],
             u["yaml"]: [("action", "create"), ("text", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")]}
    for url in gets:
        assert (await viewer.get(url)).status_code == 403, url
        assert (await outsider.get(url)).status_code == 404, url
    for url, data in posts.items():
        assert (await viewer.post(url, data)).status_code == 403, url
        assert (await outsider.post(url, data)).status_code == 404, url
    assert await admin_kube.items("Service", demo.namespace, actor=CONSOLE) == []
    # a project admin may, like the operator
    admin = await tenants.browser(demo.admin)
    assert (await admin.get(u["workloads"])).status_code == 200


async def test_the_entry_page_links_every_path(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    page = await b.get(urls(demo)["new"])
    for path in ("external", "workloads", "yaml"):
        assert f'href="{demo.base}/services/-/new/{path}"' in page.text


# -- Edit by YAML: hostile input -------------------------------------------------------------------------

SNAPSHOT_KINDS = ("Service", "Deployment", "StatefulSet", "ConfigMap", "Secret", "PersistentVolumeClaim", "RoleBinding")


async def snapshot(kube: KubeGateway, namespace: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for kind in SNAPSHOT_KINDS:
        out |= {(kind, o["metadata"]["name"]) for o in await kube.items(kind, namespace, actor=CONSOLE)}
    return out


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def yaml_world(app, kube, admin_kube):  # type: ignore[no-untyped-def]
    """One project and its operator for the many hostile-input cases (nothing may change in it)."""
    t = Tenants(app=app, kube=kube)
    operator = await t.user("project-regular")
    admin = await t.user("project-admin")
    ws = await t.workspace(admin)
    await t.ws_member(ws, operator, WorkspaceRole.regular)
    project = await t.project(ws, admin)
    await t.project_member(project, operator, ProjectRole.operator)
    b = await t.browser(operator)
    base = f"/workspaces/{ws.name}/projects/{project.name}"
    page = await b.get(f"{base}/services/-/new/yaml")
    submission = re.search(r'name="submission" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    before = await snapshot(admin_kube, project.name)
    yield {"browser": b, "url": f"{base}/services/-/new/yaml", "base": base, "namespace": project.name,
           "submission": submission, "before": before}
    for ns in t.created_namespaces:
        try:
            await admin_kube.delete("Namespace", None, ns, actor=CONSOLE)
        except Exception:
            pass


def _hostile_bytes(case: Any) -> str | bytes:
    value = case() if callable(case) else case
    return value


async def post_yaml(world: dict[str, Any], *, text: str | bytes | None = None,
                    files: list[tuple[str, str | bytes]] | None = None, action: str = "create",
                    extra: list[tuple[str, str]] | None = None) -> httpx.Response:
    """Post the Edit YAML form as the browser does (multipart: the form has a file input)."""
    b: Browser = world["browser"]
    parts: list[tuple[str, Any]] = [("csrf_token", (None, b.csrf)), ("action", (None, action)),
                                    ("submission", (None, world["submission"]))]
    for key, value in extra or []:
        parts.append((key, (None, value)))
    if text is not None:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        parts.append(("text", (None, data)))
    for name, content in files or []:
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        parts.append(("files", (name, data, "application/yaml")))
    return await b.client.post(world["url"], files=parts)


def problems_shown(page: str) -> str:
    found = re.findall(r'id="(?:yaml-problems|server-problems|yaml-error)".*?</div>', page, re.S)
    found += re.findall(r'class="panel error-page">.*?</div>', page, re.S)
    return text_of(" ".join(found))


@pytest.mark.parametrize("channel", ["editor", "file"])
@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_yaml_is_refused_with_a_message_and_creates_nothing(
        yaml_world: dict[str, Any], admin_kube: KubeGateway, case: str, channel: str) -> None:
    data, fragment, _where = HOSTILE[case]
    content = _hostile_bytes(data)
    if channel == "editor":
        resp = await post_yaml(yaml_world, text=content)
    else:
        resp = await post_yaml(yaml_world, text="", files=[("hostile.yaml", content)])
    assert resp.status_code == 422, (case, resp.status_code, resp.text[:1000])
    shown = problems_shown(resp.text)
    assert shown.strip(), f"{case}: no message shown"
    # The unit cases' messages hold where the input arrives as the unit test gives it: text in the editor,
    # bytes in a file (text with a NUL byte or a lone surrogate becomes a different kind of bad bytes).
    # A lone surrogate cannot travel as text at all: it arrives as bytes that are not UTF-8 either way.
    same_form = (channel == "editor") == isinstance(content, str)
    if case != "lone surrogate" and (same_form or (channel == "file" and case != "NUL byte")):
        expected = fragment.replace("namespace demo", f"namespace {yaml_world['namespace']}")
        if channel == "file":
            expected = expected.replace("(first in document", "(first in hostile.yaml, document")
        assert expected in shown, (case, shown[:600])
    if channel == "file":
        assert "hostile.yaml" in shown or case.startswith("10 MB"), (case, shown[:300])
    assert await snapshot(admin_kube, yaml_world["namespace"]) == yaml_world["before"], case


async def test_there_are_more_than_fifty_hostile_cases() -> None:
    assert len(HOSTILE) >= 50


async def test_nothing_was_created_outside_the_project_either(yaml_world: dict[str, Any],
                                                             admin_kube: KubeGateway) -> None:
    for kind, name in (("Namespace", "x"), ("ClusterRole", "x"), ("ClusterRoleBinding", "x"),
                       ("PersistentVolume", "x"), ("StorageClass", "x")):
        assert not await admin_kube.exists(kind, None, name, actor=CONSOLE), (kind, name)
    for kind in ("Service", "ConfigMap"):
        assert not await admin_kube.exists(kind, "kube-system", "web", actor=CONSOLE)


async def test_a_pasted_text_too_large_for_the_form_is_answered_422(yaml_world: dict[str, Any]) -> None:
    resp = await post_yaml(yaml_world, text="a: " + "x" * 2_000_000)
    assert resp.status_code == 422 and "larger than 256 KiB" in text_of(resp.text)
    b: Browser = yaml_world["browser"]
    resp = await b.post(yaml_world["url"], {"action": "plan", "text": "a: " + "x" * 2_000_000})  # url-encoded
    assert resp.status_code == 422 and "larger than 256 KiB" in text_of(resp.text)


async def test_files_of_other_types_are_refused(yaml_world: dict[str, Any]) -> None:
    resp = await post_yaml(yaml_world, files=[("evil.sh", "#!/bin/sh\n")])
    assert resp.status_code == 422 and "only .yaml, .yml or .json files" in text_of(resp.text)
    resp = await post_yaml(yaml_world, action="upload", text="")
    assert resp.status_code == 422 and "Choose one or more" in text_of(resp.text)


# -- Edit by YAML: what is accepted ----------------------------------------------------------------------

SERVICE_JSON = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "json-web", "labels": {"app": "json-web"}},
                "spec": {"selector": {"app": "json-web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


async def yaml_browser(demo: DemoProject, tenants: Tenants) -> dict[str, Any]:
    b = await tenants.browser(demo.operator)
    url = urls(demo)["yaml"]
    page = await b.get(url)
    assert page.status_code == 200
    submission = re.search(r'name="submission" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    return {"browser": b, "url": url, "submission": submission, "namespace": demo.namespace, "page": page}


async def test_a_manifest_written_as_json_is_accepted_like_yaml(demo: DemoProject, tenants: Tenants,
                                                                admin_kube: KubeGateway) -> None:
    world = await yaml_browser(demo, tenants)
    text = json.dumps(SERVICE_JSON, indent="\t") + "\n---\n" + json.dumps(deployment("json-web", {"app": "json-web"}))
    plan = await post_yaml(world, text=text, action="plan")
    assert plan.status_code == 200, problems_shown(plan.text)
    assert 'id="plan-service-json-web"' in plan.text and 'id="plan-deployment-json-web"' in plan.text
    done = await post_yaml(world, text=text)
    assert done.status_code == 303 and done.headers["location"] == f"{demo.base}/services/json-web"
    svc = await admin_kube.get("Service", demo.namespace, "json-web", actor=CONSOLE)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert await admin_kube.exists("Deployment", demo.namespace, "json-web", actor=CONSOLE)
    # Made through YAML, marked with who made it like the wizard's objects, and its page says so.
    assert svc["metadata"]["annotations"]["kubesphere.io/creator"] == demo.operator.username
    workload = await admin_kube.get("Deployment", demo.namespace, "json-web", actor=CONSOLE)
    assert workload["metadata"]["annotations"]["kubesphere.io/creator"] == demo.operator.username
    page = await world["browser"].get(f"{demo.base}/services/json-web")
    assert f'<span class="sub">Creator</span>{demo.operator.username}</div>' in page.text
    also = await post_yaml(world, files=[("svc.json", json.dumps(SERVICE_JSON).replace("json-web", "json-two"))])
    assert also.status_code == 200 and 'id="plan-service-json-two"' in also.text


async def test_a_creator_written_in_the_yaml_is_replaced_by_who_created_it(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    world = await yaml_browser(demo, tenants)
    spoofed = json.loads(json.dumps(SERVICE_JSON).replace("json-web", "json-spoof"))
    spoofed["metadata"]["annotations"] = {"kubesphere.io/creator": "admin"}
    done = await post_yaml(world, text=json.dumps(spoofed))
    assert done.status_code == 303
    svc = await admin_kube.get("Service", demo.namespace, "json-spoof", actor=CONSOLE)
    assert svc["metadata"]["annotations"]["kubesphere.io/creator"] == demo.operator.username


TWO_FILES = [
    ("app.yaml", """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  mode: production
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: shop
          image: nginx:1.25
          envFrom:
            - configMapRef: {name: shop-config}
"""),
    ("service.yml", """\
# the Service and its credentials
apiVersion: v1
kind: Secret
metadata:
  name: shop-secret
stringData:
  token: "s3cret"
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
    - name: http
      port: 80
"""),
]


async def test_two_files_with_several_documents_are_planned_then_created_together(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, app) -> None:  # type: ignore[no-untyped-def]
    world = await yaml_browser(demo, tenants)
    planned = await post_yaml(world, files=TWO_FILES, action="upload", text="ignored")
    assert planned.status_code == 200, problems_shown(planned.text)
    shown = text_of(planned.text)
    assert "Objects to create (4)" in shown and "accepted every object in a dry run" in shown
    for kind, name in (("configmap", "shop-config"), ("deployment", "shop"), ("secret", "shop-secret"),
                       ("service", "shop")):
        assert f'id="plan-{kind}-{name}"' in planned.text
    assert "app.yaml · document 2" in shown and "service.yml · document 1" in shown
    assert not await admin_kube.exists("Service", demo.namespace, "shop", actor=CONSOLE)  # nothing yet
    assert not await admin_kube.exists("ConfigMap", demo.namespace, "shop-config", actor=CONSOLE)
    editor = field_value(planned.text, "text", "yaml-form") or ""
    assert editor.count("kind:") == 4 and f"namespace: {demo.namespace}" in editor
    # Create with what the editor now holds (what the user saw)
    done = await post_yaml(world, text=editor)
    assert done.status_code == 303, problems_shown(done.text)
    assert done.headers["location"] == f"{demo.base}/services/shop"
    for kind, name in (("ConfigMap", "shop-config"), ("Deployment", "shop"), ("Secret", "shop-secret"), ("Service", "shop")):
        obj = await admin_kube.get(kind, demo.namespace, name, actor=CONSOLE)
        assert obj["metadata"]["namespace"] == demo.namespace
    [entry] = await audit_entries(app, demo, "shop")
    assert entry.outcome == "success" and "ConfigMap/shop-config" in entry.detail


async def test_a_double_submit_of_yaml_creates_once(demo: DemoProject, tenants: Tenants,
                                                    admin_kube: KubeGateway, app) -> None:  # type: ignore[no-untyped-def]
    world = await yaml_browser(demo, tenants)
    objs = json.loads(json.dumps([SERVICE_JSON, deployment("json-web", {"app": "json-web"})]))  # nothing shared
    text = yaml.safe_dump_all(objs, sort_keys=False)
    first, second = await asyncio.gather(post_yaml(world, text=text), post_yaml(world, text=text))
    assert (first.status_code, second.status_code) == (303, 303), (problems_shown(first.text), problems_shown(second.text))
    assert first.headers["location"] == second.headers["location"] == f"{demo.base}/services/json-web"
    assert [e.outcome for e in await audit_entries(app, demo, "json-web")] == ["success"]


async def test_files_sent_with_create_are_shown_not_created(demo: DemoProject, tenants: Tenants,
                                                            admin_kube: KubeGateway) -> None:
    world = await yaml_browser(demo, tenants)
    resp = await post_yaml(world, files=TWO_FILES, action="create", text="")
    assert resp.status_code == 200 and "Objects to create (4)" in text_of(resp.text)
    assert not await admin_kube.exists("Service", demo.namespace, "shop", actor=CONSOLE)


async def test_download_returns_the_editor_text(demo: DemoProject, tenants: Tenants) -> None:
    world = await yaml_browser(demo, tenants)
    text = "# mine\n" + yaml.safe_dump(SERVICE_JSON, sort_keys=False)
    resp = await post_yaml(world, text=text, action="download")
    assert resp.status_code == 200 and resp.text == text
    assert resp.headers["content-disposition"] == f'attachment; filename="json-web.{demo.namespace}.service.yaml"'
    broken = await post_yaml(world, text="not: [valid", action="download")
    assert broken.status_code == 200 and broken.text == "not: [valid"
    template = field_value(world["page"].text, "text", "yaml-form") or ""
    assert "kind: Service" in template and f"namespace: {demo.namespace}" in template


async def test_a_service_is_required_and_unknown_fields_are_refused(demo: DemoProject, tenants: Tenants,
                                                                          admin_kube: KubeGateway) -> None:
    world = await yaml_browser(demo, tenants)
    only_config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lonely}\ndata: {a: b}\n"
    resp = await post_yaml(world, text=only_config)
    assert resp.status_code == 422 and "Add at least one Service" in problems_shown(resp.text)
    # the API server checks fields itself (fieldValidation=Strict): a typo is refused, even when confirmed
    typo = yaml.safe_dump({**SERVICE_JSON, "spec": {**SERVICE_JSON["spec"], "selectr": {"app": "x"}}})
    resp = await post_yaml(world, text=typo)
    assert resp.status_code == 422 and "spec.selectr" in text_of(resp.text)
    assert "Unknown field: the API server does not know it." in text_of(resp.text)
    resp = await post_yaml(world, text=typo, extra=[("accept_dropped", "1")])
    assert resp.status_code == 422
    assert not await admin_kube.exists("Service", demo.namespace, "json-web", actor=CONSOLE)


# -- property: whatever the page accepts lands in the project, with an allowed kind ----------------------

OTHER_NAMESPACES = ("default", "kube-system")
KINDS = ("Service", "ConfigMap", "Secret", "Deployment", "RoleBinding", "ClusterRole", "Namespace", "Pod",
         "ServiceAccount", "DaemonSet", "List")
API = {"Deployment": "apps/v1", "DaemonSet": "apps/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
       "ClusterRole": "rbac.authorization.k8s.io/v1"}


def _body(kind: str, name: str) -> dict[str, Any]:
    if kind == "Service":
        return {"spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
    if kind == "ConfigMap":
        return {"data": {"key": name}}
    if kind == "Secret":
        return {"stringData": {"key": name}}
    if kind in ("Deployment", "DaemonSet"):
        return {"spec": deployment(name, {"app": name})["spec"] | ({"replicas": 1} if kind == "Deployment" else {})}
    if kind == "RoleBinding":
        return {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}]}
    if kind == "Pod":
        return {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    if kind == "List":
        return {"items": []}
    return {}


@st.composite
def manifests(draw: Callable[..., Any], namespace: str) -> tuple[list[dict[str, Any]], str]:
    kinds = ["Service"] + draw(st.lists(st.sampled_from(KINDS), max_size=2))
    objs = []
    for i, kind in enumerate(kinds):
        name = f"p{i}-" + draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True))
        meta: dict[str, Any] = {"name": name}
        ns = draw(st.sampled_from([None, namespace, *OTHER_NAMESPACES]))
        if ns is not None:
            meta["namespace"] = ns
        api = API.get(kind, "v1")
        objs.append({"apiVersion": api, "kind": kind, "metadata": meta, **_body(kind, name)})
    style = draw(st.sampled_from(["yaml", "json"]))
    return objs, style


async def test_whatever_the_page_accepts_lands_in_the_project_with_an_allowed_kind(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    world = await yaml_browser(demo, tenants)
    loop = asyncio.get_running_loop()
    seen = {"accepted": 0, "refused": 0}
    counter = iter(range(10_000))

    def run(coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)  # type: ignore[arg-type]

    @settings(max_examples=8, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(manifests(demo.namespace))
    def accepted_objects_are_in_the_project(drawn: tuple[list[dict[str, Any]], str]) -> None:
        objs, style = drawn
        objs = json.loads(json.dumps(objs))  # no shared sub-objects (PyYAML would write them as aliases)
        n = next(counter)
        for obj in objs:  # unique per example, so each one's objects can be looked for
            obj["metadata"]["name"] = f"{obj['metadata']['name']}-{n}"
        text = ("\n---\n".join(json.dumps(o) for o in objs) if style == "json"
                else yaml.safe_dump_all(objs, sort_keys=False))
        before = run(snapshot(admin_kube, demo.namespace))
        world["submission"] = f"prop-{n}"
        resp = run(post_yaml(world, text=text))
        assert resp.status_code in (303, 422), resp.status_code
        after = run(snapshot(admin_kube, demo.namespace))
        for obj in objs:
            for other in OTHER_NAMESPACES:
                if obj["kind"] in ("Service", "ConfigMap", "Secret", "Deployment", "RoleBinding", "Pod"):
                    assert not run(admin_kube.exists(obj["kind"], other, obj["metadata"]["name"], actor=CONSOLE))
        if resp.status_code == 303:
            seen["accepted"] += 1
            created = after - before
            assert created == {(o["kind"], o["metadata"]["name"]) for o in objs}
            assert all(kind in CREATABLE_KINDS for kind, _name in created)
            for kind, name in created:
                got = run(admin_kube.get(kind, demo.namespace, name, actor=CONSOLE))
                assert got["metadata"]["namespace"] == demo.namespace
        else:
            seen["refused"] += 1
            assert after == before
            assert problems_shown(resp.text).strip()

    await asyncio.to_thread(accepted_objects_are_in_the_project)
    assert seen["accepted"] and seen["refused"], seen
