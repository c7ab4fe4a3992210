"""The Services pages on the local control plane, as the project's members see them: list (types,
search, sort, pages), detail with running pods (node, IP, usage, containers), events, the pod page and
logs, every edit action (with its 409 and 422 paths), delete with related resources, and who sees what.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import re

import httpx
import pytest

from app.domain.manifests import PROTOCOLS
from app.kube.client import CONSOLE, KubeGateway
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, plain_service, rows, running_pods, stateless, with_metrics

pytestmark = pytest.mark.cluster


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Repeated form fields (rows) as httpx wants them: one key, a list of values in order."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def textarea(html: str, name: str) -> str:
    import html as html_lib
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, f"no textarea {name}"
    return html_lib.unescape(found.group(1))


# -- list --------------------------------------------------------------------------------------------------

async def test_list_shows_each_kind_of_service(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web", node_port=True)
    await create(admin_kube, demo.namespace, deployment, web,
                 plain_service("db", headless=True, annotations={"kubesphere.io/serviceType": "statefulservice"}),
                 plain_service("partner", external_name="api.example.com",
                               annotations={"kubesphere.io/serviceType": "externalservice"}),
                 plain_service("handmade", headless=True, labels={"app.kubernetes.io/name": "shop"}))
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/services")
    assert page.status_code == 200
    assert set(rows(page.text)) == {"web", "db", "partner", "handmade"}

    def row(name: str) -> str:
        return page.text.split(f'id="service-row-{name}"')[1].split("</tr>")[0]
    assert "Stateless Service" in row("web") and "Virtual IP" in row("web")
    assert re.search(r"Node port\b.*3\d{4}/TCP", row("web"), re.S)
    assert "Stateful Service" in row("db") and "Headless" in row("db")
    assert "External Service" in row("partner") and "ExternalName" in row("partner") and "api.example.com" in row("partner")
    # kubesphere#5094: a hand-made headless Service is Headless (and Custom, with its app)
    assert "Custom Service" in row("handmade") and "Headless" in row("handmade") and "shop" in row("handmade")
    svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    assert svc["spec"]["clusterIP"] in row("web")


async def test_search_sort_and_pages(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    for i in range(23):
        await admin_kube.create(plain_service(f"svc-{i:02d}", labels={"app": "shop" if i % 2 else "blog"}),
                                namespace=demo.namespace, actor=CONSOLE)
    b = await tenants.browser(demo.operator)
    first = await b.get(f"{demo.base}/services?sort=name")
    assert rows(first.text) == [f"svc-{i:02d}" for i in range(20)]
    assert "Page 1 of 2" in first.text and "Total: 23" in first.text
    second = await b.get(f"{demo.base}/services?sort=name&page=2")
    assert rows(second.text) == ["svc-20", "svc-21", "svc-22"]
    descending = await b.get(f"{demo.base}/services?sort=name&order=desc&limit=10")
    assert rows(descending.text)[:2] == ["svc-22", "svc-21"] and len(rows(descending.text)) == 10
    by_name = await b.get(f"{demo.base}/services?name=svc-1")
    assert sorted(rows(by_name.text)) == [f"svc-{i}" for i in range(10, 20)]
    by_app = await b.get(f"{demo.base}/services?app=shop&limit=50")
    assert sorted(rows(by_app.text)) == [f"svc-{i:02d}" for i in range(23) if i % 2]
    nothing = await b.get(f"{demo.base}/services?name=zzz")
    assert rows(nothing.text) == [] and "No Service matches the search." in nothing.text
    # htmx gets the rows block only, at the same URL
    block = await b.get(f"{demo.base}/services?sort=name&page=2", headers={"HX-Request": "true"})
    assert block.text.lstrip().startswith('<div id="service-list"') and "<html" not in block.text
    assert rows(block.text) == ["svc-20", "svc-21", "svc-22"]


async def test_list_and_detail_make_a_fixed_number_of_api_calls(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kube = await app.state.kube.get()
    calls: list[str] = []
    original = type(kube)._send

    async def counting(self, method, path, **kw):  # type: ignore[no-untyped-def]
        if self is kube:  # the page's own calls, not the watch cache's (app/kube/cache.py)
            calls.append(f"{method} {path}")
        return await original(self, method, path, **kw)
    monkeypatch.setattr(type(kube), "_send", counting)
    b = await tenants.browser(demo.operator)
    deployment, web = stateless("web", replicas=1)
    await create(admin_kube, demo.namespace, deployment, web)
    await running_pods(admin_kube, demo.namespace, "app=web", 1)
    await b.get(f"{demo.base}/services/web")  # what is asked once for minutes: is the Gateway API served?
    counts = {}
    for n in (1, 4):
        if n == 4:
            for i in range(10):
                await admin_kube.create(plain_service(f"more-{i}"), namespace=demo.namespace, actor=CONSOLE)
            await admin_kube.merge_patch("Deployment", demo.namespace, "web-v1", {"spec": {"replicas": 4}}, actor=CONSOLE)
            await running_pods(admin_kube, demo.namespace, "app=web", 4)
        assert (await b.get(f"{demo.base}/services")).status_code == 200  # the cache is warm
        calls.clear()
        assert (await b.get(f"{demo.base}/services")).status_code == 200
        list_calls = len(calls)
        calls.clear()
        page = await b.get(f"{demo.base}/services/web")
        assert page.text.count('class="containers-row"') == n
        counts[n] = (list_calls, len(calls))
        calls.clear()
        await b.get(f"{demo.base}/services/web?tab=events")
        counts[n] += (len(calls),)
    assert counts[1][0] == counts[4][0] == 0, calls  # the list is served from the watch cache
    # at most the pods' metrics (metrics.k8s.io cannot be watched; an answer is kept a few seconds)
    assert counts[1][1] <= 1 and counts[4][1] <= 1, calls
    assert counts[1][2] == counts[4][2]


# -- detail, pods, logs --------------------------------------------------------------------------------------

async def test_detail_shows_running_pods_with_node_ip_and_usage(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web", replicas=2, node_port=True)
    await create(admin_kube, demo.namespace, deployment, web)
    pods = await running_pods(admin_kube, demo.namespace, "app=web", 2)
    names = [p["metadata"]["name"] for p in pods]
    await with_metrics(admin_kube, demo.namespace, names)
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/services/web")
    assert page.status_code == 200
    assert "Stateless Service (Virtual IP)" in page.text and f"web.{demo.namespace}" in page.text
    assert "app=web" in page.text  # selector
    for p in pods:
        row = page.text.split(f'id="pod-{p["metadata"]["name"]}"')[1].split("</tr>")[0]
        assert "Running" in row and p["status"]["podIP"] in row and p["spec"]["nodeName"] in row
        assert "127.0.0.1" in row  # the node's address
        cpu = re.search(r'class="usage-cpu">([^<]+)<', row).group(1)  # type: ignore[union-attr]
        memory = re.search(r'class="usage-memory">([^<]+)<', row).group(1)  # type: ignore[union-attr]
        assert cpu != "-" and memory != "-" and memory.endswith("Mi")
    assert 'id="workload-deployment-web-v1"' in page.text and "2/2 ready" in page.text
    assert "nginx:1.25" in page.text and "80/TCP" in page.text  # containers: image and ports

    endpoints = await eventually(lambda: _endpoints(admin_kube, demo.namespace))
    for address in endpoints:
        assert address in page.text

    events = await eventually(lambda: _events_page(b, demo))
    assert "Scheduled" in events and "Started" in events
    metadata = await b.get(f"{demo.base}/services/web?tab=metadata")
    assert "kubesphere.io/serviceType" in metadata.text and "version=v1" in metadata.text
    block = await b.get(f"{demo.base}/services/web?tab=metadata", headers={"HX-Request": "true"})
    assert block.text.lstrip().startswith('<div id="tab"') and 'data-tab="metadata"' in block.text
    assert 'id="service-attributes" hx-swap-oob="true"' in block.text  # the side panel comes along


async def _endpoints(kube: KubeGateway, namespace: str) -> list[str]:
    ep = await kube.get("Endpoints", namespace, "web", actor=CONSOLE)
    found = [f"{a['ip']}:80" for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
    assert len(found) == 2
    return found


async def _events_page(b, demo: DemoProject) -> str:  # type: ignore[no-untyped-def]
    page = await b.get(f"{demo.base}/services/web?tab=events")
    assert "Scheduled" in page.text and "Started" in page.text
    return page.text


async def test_pod_page_and_container_logs(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    [pod] = await running_pods(admin_kube, demo.namespace, "app=web", 1)
    name = pod["metadata"]["name"]
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/pods/{name}?service=web")
    assert page.status_code == 200
    assert pod["status"]["podIP"] in page.text and pod["spec"]["nodeName"] in page.text
    assert "ReplicaSet/web-v1-" in page.text and "container-web" in page.text
    logs_url = f"{demo.base}/pods/{name}/containers/container-web/logs"
    assert logs_url in page.text

    async def some_lines() -> str:
        resp = await b.get(logs_url + "?tail=100&service=web")
        assert resp.status_code == 200 and "GET /" in resp.text  # nginx-style access lines
        return resp.text
    text = await eventually(some_lines)
    assert "docker-entrypoint" in text or "GET /" in text
    download = await b.get(logs_url + "/download?tail=100")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="{name}-container-web.log"'
    assert download.headers["content-type"].startswith("text/plain") and "GET /" in download.text
    assert "content-length" not in download.headers  # streamed as the node sends it, never held whole
    everything = await b.get(logs_url + "/download?tail=all")
    assert everything.status_code == 200 and everything.text.endswith("\n")
    assert everything.text.count("\n") >= download.text.count("\n")
    # A refusal comes before any byte of a file: the page says why instead of downloading an empty log.
    no_previous = await b.get(logs_url + "/download?previous=1")
    assert 400 <= no_previous.status_code < 500 and "content-disposition" not in no_previous.headers
    assert (await b.get(f"{demo.base}/pods/{name}/containers/nope/logs")).status_code == 404
    assert (await b.get(f"{demo.base}/pods/not-there")).status_code == 404


async def test_crashing_pod_shows_its_state_and_previous_logs(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, svc = stateless("crashy", image="nginx:crash")
    await create(admin_kube, demo.namespace, deployment, svc)
    b = await tenants.browser(demo.operator)

    async def crash_looping() -> str:
        page = await b.get(f"{demo.base}/services/crashy")
        assert "CrashLoopBackOff" in page.text
        return page.text
    page = await eventually(crash_looping, timeout=60)
    name = re.search(r'id="pod-(crashy-v1-[a-z0-9-]+)"', page).group(1)  # type: ignore[union-attr]

    async def previous_run() -> str:
        resp = await b.get(f"{demo.base}/pods/{name}/containers/container-web/logs?previous=1")
        assert "simulated crash" in resp.text
        return resp.text
    await eventually(previous_run, timeout=60)


# -- Edit Information -----------------------------------------------------------------------------------------

async def test_edit_information(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    form = await b.get(f"{demo.base}/services/api/information")
    assert form.status_code == 200 and 'id="edit-information-form"' in form.text
    dialog = await b.get(f"{demo.base}/services/api/information?next={demo.base}/services", headers={"HX-Request": "true"})
    assert dialog.text.lstrip().startswith("<dialog data-autoopen") and 'name="dialog" value="1"' in dialog.text
    resp = await b.post(f"{demo.base}/services/api/information",
                        {"alias": "Partner-API", "description": "upstream SaaS", "next": f"{demo.base}/services"})
    assert resp.status_code == 303 and resp.headers["location"] == f"{demo.base}/services"
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert svc["metadata"]["annotations"]["kubesphere.io/alias-name"] == "Partner-API"
    assert svc["metadata"]["annotations"]["kubesphere.io/description"] == "upstream SaaS"
    page = await b.get(f"{demo.base}/services")
    assert "Partner-API" in page.text and "upstream SaaS" in page.text
    bad = await b.post(f"{demo.base}/services/api/information", {"alias": "-bad alias-", "description": "x" * 300},
                       htmx=True)
    assert bad.status_code == 422 and bad.text.lstrip().startswith('<form id="edit-information-form"')
    assert "The alias name can contain only" in bad.text and "maximum length is 256" in bad.text
    # clearing removes the annotations; an open redirect is refused
    resp = await b.post(f"{demo.base}/services/api/information", {"alias": "", "description": "", "next": "https://evil.example"})
    assert resp.status_code == 303 and resp.headers["location"] == f"{demo.base}/services/api"
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert "kubesphere.io/alias-name" not in svc["metadata"].get("annotations", {})


# -- Edit YAML ------------------------------------------------------------------------------------------------

async def test_downloaded_yaml_passes_kubectl_server_dry_run(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, cluster) -> None:  # type: ignore[no-untyped-def]
    deployment, web = stateless("web", node_port=True)
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.viewer)
    resp = await b.get(f"{demo.base}/services/web/yaml/download")
    assert resp.status_code == 200
    assert resp.headers["content-disposition"] == f'attachment; filename="web.{demo.namespace}.service.yaml"'
    for word in ("status:", "managedFields", "resourceVersion", "uid:"):
        assert word not in resp.text
    proc = await asyncio.create_subprocess_exec(
        "/usr/bin/kubectl", "--kubeconfig", str(cluster.admin_kubeconfig), "apply", "--dry-run=server", "-f", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(resp.content)
    assert proc.returncode == 0, err.decode()
    assert "service/web" in out.decode()


async def test_edit_yaml_updates_with_the_loaded_version(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/api/yaml")
    assert page.status_code == 200
    text = textarea(page.text, "yaml")
    assert "resourceVersion" not in text and "managedFields" not in text and "status" not in text
    edited = text.replace("  labels:\n", "  labels:\n    tier: backend\n")
    resp = await b.post(f"{demo.base}/services/api/yaml", {
        "op": "update", "yaml": edited, "resource_version": hidden(page.text, "resource_version"),
        "base_yaml": textarea(page.text, "base_yaml")})
    assert resp.status_code == 303, resp.text[:2000]
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert svc["metadata"]["labels"]["tier"] == "backend"
    # The page it lands on says what was done, once.
    landed = await b.get(resp.headers["location"])
    assert '<div class="alert alert-success" role="status" id="done">Service api updated from its YAML.</div>' in landed.text
    assert 'id="done"' not in (await b.get(resp.headers["location"])).text
    # problems come back on the editor with line and column, nothing is sent
    for bad, message in ((edited + "  nope: [\n", "line"), (edited.replace("name: api", "name: other"), "cannot be changed")):
        resp = await b.post(f"{demo.base}/services/api/yaml", {"op": "update", "yaml": bad, "resource_version": "1", "base_yaml": ""})
        assert resp.status_code == 422 and message in resp.text
        assert 'aria-invalid="true"' in resp.text


async def test_two_editors_the_second_sees_the_conflict_and_loses_nothing(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("api"))
    first = await tenants.browser(demo.operator)
    second = await tenants.browser(demo.admin)
    page1 = await first.get(f"{demo.base}/services/api/yaml")
    page2 = await second.get(f"{demo.base}/services/api/yaml")
    base = textarea(page2.text, "yaml")
    mine1 = base.replace("  labels:\n", "  labels:\n    owner: first\n")
    resp = await first.post(f"{demo.base}/services/api/yaml", {
        "op": "update", "yaml": mine1, "resource_version": hidden(page1.text, "resource_version"),
        "base_yaml": textarea(page1.text, "base_yaml")})
    assert resp.status_code == 303

    mine2 = base.replace("  labels:\n", "  labels:\n    team: second\n").replace("sessionAffinity: None", "sessionAffinity: ClientIP")
    form2 = {"yaml": mine2, "resource_version": hidden(page2.text, "resource_version"), "base_yaml": base}
    conflict = await second.post(f"{demo.base}/services/api/yaml", {"op": "update", **form2})
    assert conflict.status_code == 409
    assert 'id="conflict"' in conflict.text and "Someone changed this Service" in conflict.text
    server_side = conflict.text.split("Changed on the server since you opened it")[1].split("Your edit")[0]
    assert re.search(r'class="add">\+\s+owner: first', server_side)
    # who did it, from the Service's managedFields: the first editor, by name, and the field
    changed_by = conflict.text.split('id="changed-by"')[1].split("</div>")[0]
    assert f"{demo.operator.username}, in Dockyard" in changed_by and "<code>metadata.labels.owner</code>" in changed_by
    assert textarea(conflict.text, "yaml") == mine2  # the editor still holds the second editor's text
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert "team" not in svc["metadata"]["labels"]  # nothing overwritten

    merged = await second.post(f"{demo.base}/services/api/yaml", {"op": "merge", **form2})
    assert merged.status_code == 200
    text = textarea(merged.text, "yaml")
    assert "owner: first" in text and "team: second" in text and "sessionAffinity: ClientIP" in text
    assert hidden(merged.text, "resource_version") == svc["metadata"]["resourceVersion"]
    done = await second.post(f"{demo.base}/services/api/yaml", {
        "op": "update", "yaml": text, "resource_version": hidden(merged.text, "resource_version"),
        "base_yaml": textarea(merged.text, "base_yaml")})
    assert done.status_code == 303
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert svc["metadata"]["labels"]["owner"] == "first" and svc["metadata"]["labels"]["team"] == "second"
    assert svc["spec"]["sessionAffinity"] == "ClientIP"


async def test_upload_puts_the_file_into_the_editor(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/api/yaml")
    uploaded = textarea(page.text, "yaml").replace("  labels:\n", "  labels:\n    from: file\n")
    resp = await b.client.post(f"{demo.base}/services/api/yaml", data={
        "op": "upload", "yaml": "old text", "resource_version": hidden(page.text, "resource_version"),
        "base_yaml": textarea(page.text, "base_yaml"), "csrf_token": b.csrf}, files={"file": ("api.yaml", uploaded.encode())})
    assert resp.status_code == 200
    assert textarea(resp.text, "yaml") == uploaded and "api.yaml is in the editor" in resp.text
    assert hidden(resp.text, "resource_version") == hidden(page.text, "resource_version")
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert "from" not in svc["metadata"]["labels"]  # nothing sent until Update


async def test_update_with_a_chosen_file_uses_it_and_never_drops_it_silently(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    """Without JavaScript a chosen file is only sent with the form: Update uses it."""
    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/api/yaml")
    loaded = textarea(page.text, "yaml")
    from_file = loaded.replace("  labels:\n", "  labels:\n    from: file\n")
    form = {"op": "update", "resource_version": hidden(page.text, "resource_version"),
            "base_yaml": textarea(page.text, "base_yaml"), "csrf_token": b.csrf}
    # The text was edited too: which one is meant? Neither is lost, and nothing is saved.
    typed = loaded.replace("  labels:\n", "  labels:\n    typed: here\n")
    both = await b.client.post(f"{demo.base}/services/api/yaml", data={**form, "yaml": typed},
                               files={"file": ("api.yaml", from_file.encode())})
    assert both.status_code == 422 and textarea(both.text, "yaml") == typed
    assert "You chose api.yaml and also edited the text." in html_lib.unescape(both.text)
    assert "typed" not in (await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE))["metadata"]["labels"]
    # The text as loaded and a file chosen: Update saves the file.
    done = await b.client.post(f"{demo.base}/services/api/yaml", data={**form, "yaml": loaded},
                               files={"file": ("api.yaml", from_file.encode())})
    assert done.status_code == 303, done.text[:2000]
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    assert svc["metadata"]["labels"]["from"] == "file"


# -- Edit Service -------------------------------------------------------------------------------------------

async def test_edit_service_selector_and_ports(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web", node_port=True)
    await create(admin_kube, demo.namespace, deployment, web)
    before = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    node_port = before["spec"]["ports"][0]["nodePort"]
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/web/settings")
    assert page.status_code == 200 and 'id="port-row-0"' in page.text and 'id="port-row-1"' not in page.text
    version = hidden(page.text, "resource_version")
    # the same protocol choices as the wizards, told by the port name's prefix
    protocol = re.search(r'<select id="port-protocol-0".*?</select>', page.text, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', protocol) == list(PROTOCOLS)
    assert re.search(r'value="HTTP"\s*selected', protocol)
    base_form = [("resource_version", version), ("selector_key", "app"), ("selector_value", "web"),
                 ("port_name", "http-0"), ("port_protocol", "HTTP"), ("port_target", "80"), ("port_port", "80")]
    more = await b.post(f"{demo.base}/services/web/settings", multi(base_form + [("op", "add-port")]))
    assert more.status_code == 200 and 'id="port-row-1"' in more.text  # works without JavaScript
    resp = await b.post(f"{demo.base}/services/web/settings", multi(base_form + [
        ("selector_key", "version"), ("selector_value", "v1"),
        ("port_name", "metrics"), ("port_protocol", "TCP"), ("port_target", "9100"), ("port_port", "9100"), ("op", "save")]))
    assert resp.status_code == 303, resp.text[:3000]
    after = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    assert after["spec"]["selector"] == {"app": "web", "version": "v1"}
    assert [(p["name"], p["port"]) for p in after["spec"]["ports"]] == [("http-0", 80), ("metrics", 9100)]
    assert after["spec"]["ports"][0]["nodePort"] == node_port  # kept
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"] and after["spec"]["type"] == "NodePort"
    # the form's version is now stale: a second save is a conflict that keeps the user's values
    stale = await b.post(f"{demo.base}/services/web/settings", multi(base_form + [("op", "save")]))
    assert stale.status_code == 409 and 'id="latest-values"' in stale.text and "app=web,version=v1" in stale.text
    assert hidden(stale.text, "resource_version") == after["metadata"]["resourceVersion"]
    bad = await b.post(f"{demo.base}/services/web/settings", multi([
        ("resource_version", after["metadata"]["resourceVersion"]), ("selector_key", "app"), ("selector_value", "web"),
        ("port_name", "a"), ("port_protocol", "TCP"), ("port_target", "80"), ("port_port", "70000"), ("op", "save")]), htmx=True)
    assert bad.status_code == 422 and bad.text.lstrip().startswith('<form id="edit-service-form"')
    assert re.search(r'id="port-port-0"[^>]*aria-invalid="true"', bad.text) and "Invalid port." in bad.text


async def test_edit_external_name_address(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("partner", external_name="old.example.com"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/partner/settings")
    assert 'id="external-name"' in page.text and "port-row-0" not in page.text
    resp = await b.post(f"{demo.base}/services/partner/settings", {
        "resource_version": hidden(page.text, "resource_version"), "external_name": "new.example.com", "op": "save"})
    assert resp.status_code == 303
    svc = await admin_kube.get("Service", demo.namespace, "partner", actor=CONSOLE)
    assert svc["spec"]["externalName"] == "new.example.com"
    assert (await b.get(f"{demo.base}/services/partner/external-access")).status_code == 422


# -- Edit External Access -----------------------------------------------------------------------------------

async def test_external_access_none_nodeport_loadbalancer(demo: DemoProject, tenants: Tenants,
                                                         admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web")
    web["spec"]["sessionAffinity"] = "ClientIP"
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.operator)
    url = f"{demo.base}/services/web/external-access"
    page = await b.get(url)
    assert page.status_code == 200 and 'value="None" checked' in page.text

    async def save(mode: str, **fields: str) -> None:
        svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
        form = {"mode": mode, "resource_version": svc["metadata"]["resourceVersion"], "node_ports_shown": "1",
                "annotations_shown": "1", "op": "save", **fields}
        resp = await b.post(url, form)
        assert resp.status_code == 303, resp.text[:3000]

    await save("NodePort", node_port="31234")
    svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 31234
    assert svc["spec"]["sessionAffinity"] == "ClientIP" and svc["spec"]["selector"] == {"app": "web"}
    await save("LoadBalancer", node_port="31234", annotation_key="lb.kubesphere.io/v1alpha1", annotation_value="openelb")
    svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["lb.kubesphere.io/v1alpha1"] == "openelb"
    assert svc["metadata"]["annotations"]["kubesphere.io/serviceType"] == "statelessservice"  # kept
    await save("None", node_port="31234")
    svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    assert svc["spec"]["type"] == "ClusterIP" and "nodePort" not in svc["spec"]["ports"][0]
    assert svc["spec"]["sessionAffinity"] == "ClientIP"
    # a node port another Service holds: the API server's 422 lands on that port's field
    other = plain_service("other")
    other["spec"]["type"] = "NodePort"
    other["spec"]["ports"][0]["nodePort"] = 31999
    await create(admin_kube, demo.namespace, other)
    svc = await admin_kube.get("Service", demo.namespace, "web", actor=CONSOLE)
    resp = await b.post(url, {"mode": "NodePort", "resource_version": svc["metadata"]["resourceVersion"],
                              "node_ports_shown": "1", "node_port": "31999", "op": "save"}, htmx=True)
    assert resp.status_code == 422
    assert re.search(r'id="node-port-0"[^>]*aria-invalid="true"', resp.text) and "already allocated" in resp.text
    # switching the mode only re-renders the form (htmx)
    switched = await b.post(url, {"mode": "LoadBalancer", "resource_version": "1", "op": "switch", "dialog": "1"}, htmx=True)
    assert switched.status_code == 200 and 'value="LoadBalancer" checked' in switched.text
    assert "lb.kubesphere.io/v1alpha1" in switched.text  # the Service's annotations, to edit


async def test_external_access_is_only_for_virtual_ip(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("db", headless=True))
    b = await tenants.browser(demo.operator)
    assert (await b.get(f"{demo.base}/services/db/external-access")).status_code == 422
    page = await b.get(f"{demo.base}/services")
    assert f'hx-get="{demo.base}/services/db/menu?' in page.text  # the row's menu loads when opened
    menu = await b.get(f"{demo.base}/services/db/menu", params={"next": f"{demo.base}/services"},
                       headers={"HX-Request": "true"})
    assert "/services/db/external-access" not in menu.text and "/services/db/settings" in menu.text


# -- Delete ---------------------------------------------------------------------------------------------------

def _pvc(name: str, app: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def _pod(name: str, app: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}


async def test_delete_with_related_resources_leaves_exactly_what_was_not_checked(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web")
    other = plain_service("web-other")
    other["spec"]["selector"] = {"app": "web"}
    await create(admin_kube, demo.namespace, deployment, web, other, _pvc("data-web", "web"), _pod("web-debug", "web"))
    await running_pods(admin_kube, demo.namespace, "app=web", 2)
    b = await tenants.browser(demo.operator)
    dialog = await b.get(f"{demo.base}/services/web/delete", headers={"HX-Request": "true"})
    assert dialog.status_code == 200 and dialog.text.lstrip().startswith("<dialog data-autoopen")
    boxes = re.findall(r'<input type="checkbox" name="related" value="([^"]+)"[^>]*>', dialog.text)
    # The Deployment's own pods are not offered (its ReplicaSet would make them again); the lone pod is.
    assert sorted("/".join(v.split("/")[:2]) for v in boxes) == [
        "Deployment/web-v1", "PersistentVolumeClaim/data-web", "Pod/web-debug"]
    # The workload is also behind another Service, and the dialog says so by name.
    warning = re.search(r'id="shared-deployment-web-v1"[^>]*>(.*?)</', dialog.text, re.S)
    assert warning and "web-other" in warning.group(1), dialog.text
    assert "checked" not in re.sub(r"checkbox", "", "".join(re.findall(r'<input type="checkbox"[^>]*>', dialog.text)))
    assert "created with the Service" in dialog.text
    deployment_box = next(v for v in boxes if v.startswith("Deployment/"))
    resp = await b.post(f"{demo.base}/services/web/delete", {
        "uid": hidden(dialog.text, "uid"), "next": f"{demo.base}/services", "related": deployment_box}, htmx=True)
    assert resp.status_code == 200 and 'id="delete-results"' in resp.text
    assert resp.text.count('class="ok"') == 2 and "failed" not in resp.text
    assert not await admin_kube.exists("Service", demo.namespace, "web", actor=CONSOLE)
    assert not await admin_kube.exists("Deployment", demo.namespace, "web-v1", actor=CONSOLE)
    assert await admin_kube.exists("PersistentVolumeClaim", demo.namespace, "data-web", actor=CONSOLE)
    assert await admin_kube.exists("Pod", demo.namespace, "web-debug", actor=CONSOLE)


async def test_delete_without_related_resources(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.admin)
    page = await b.get(f"{demo.base}/services/web/delete")
    assert page.status_code == 200 and "Deployment/web-v1/" in page.text
    resp = await b.post(f"{demo.base}/services/web/delete", {"uid": hidden(page.text, "uid")})
    assert resp.status_code == 200 and "Deleted." in resp.text
    assert not await admin_kube.exists("Service", demo.namespace, "web", actor=CONSOLE)
    assert await admin_kube.exists("Deployment", demo.namespace, "web-v1", actor=CONSOLE)
    assert "web" not in rows((await b.get(f"{demo.base}/services")).text)


async def test_delete_refuses_a_replaced_service_and_tampered_boxes(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, make_namespace) -> None:  # type: ignore[no-untyped-def]
    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/api/delete")
    old_uid = hidden(page.text, "uid")
    await admin_kube.delete("Service", demo.namespace, "api", actor=CONSOLE)
    await create(admin_kube, demo.namespace, plain_service("api"))
    resp = await b.post(f"{demo.base}/services/api/delete", {"uid": old_uid})
    assert resp.status_code == 409 and "replaced by a new object" in resp.text
    assert await admin_kube.exists("Service", demo.namespace, "api", actor=CONSOLE)
    # a box naming a kind the dialog never offers is refused before anything is deleted
    resp = await b.post(f"{demo.base}/services/api/delete", {"uid": "", "related": "Namespace/default/abc"})
    assert resp.status_code == 422
    assert await admin_kube.exists("Service", demo.namespace, "api", actor=CONSOLE)
    # never another namespace: the same name elsewhere is untouched
    other = await make_namespace("other")
    await admin_kube.create(_pvc("data-api", "api"), namespace=other, actor=CONSOLE)
    created = await admin_kube.get("PersistentVolumeClaim", other, "data-api", actor=CONSOLE)
    resp = await b.post(f"{demo.base}/services/api/delete", {
        "uid": "", "related": f"PersistentVolumeClaim/data-api/{created['metadata']['uid']}"})
    assert resp.status_code == 200
    assert await admin_kube.exists("PersistentVolumeClaim", other, "data-api", actor=CONSOLE)


# -- who sees what ------------------------------------------------------------------------------------------

async def test_viewer_sees_everything_and_no_write_actions(demo: DemoProject, tenants: Tenants,
                                                         admin_kube: KubeGateway) -> None:
    await create(admin_kube, demo.namespace, plain_service("api"))
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    viewer = await tenants.browser(demo.viewer)
    listing = await viewer.get(f"{demo.base}/services")
    detail = await viewer.get(f"{demo.base}/services/api")
    assert listing.status_code == detail.status_code == 200
    for html in (listing.text, detail.text):
        for action in ("/information", "/yaml\"", "/settings", "/external-access", "/delete", "/services/-/new"):
            assert action not in html
    assert "/menu?next=" not in listing.text and 'id="more-menu"' not in detail.text  # no row menus
    version = svc["metadata"]["resourceVersion"]
    for path, form in (("information", {"alias": "x"}), ("yaml", {"yaml": "x", "resource_version": version}),
                       ("settings", {"resource_version": version}), ("external-access", {"mode": "NodePort"}),
                       ("delete", {"uid": svc["metadata"]["uid"]})):
        assert (await viewer.post(f"{demo.base}/services/api/{path}", form)).status_code == 403, path
        page = await viewer.get(f"{demo.base}/services/api/{path}")  # the same page, read-only
        assert page.status_code == 200 and 'id="read-only"' in page.text, path
        main = page.text.split('id="main"', 1)[1]
        assert not re.search(r'<button[^>]*type="submit"', main), path
    assert await admin_kube.exists("Service", demo.namespace, "api", actor=CONSOLE)

    operator = await tenants.browser(demo.operator)
    listing = await operator.get(f"{demo.base}/services")
    detail = await operator.get(f"{demo.base}/services/api")
    assert f'href="{demo.base}/services/-/new"' in listing.text and 'id="service-row-api"' in listing.text
    row_menu = await operator.get(f"{demo.base}/services/api/menu", params={"next": f"{demo.base}/services"})
    for action in ("Edit Information", "Edit YAML", "Edit Service", "Edit External Access", "Delete"):
        assert action in row_menu.text and action in detail.text
    # the menu of a row is for editors only, and never sends anyone elsewhere
    assert (await viewer.get(f"{demo.base}/services/api/menu")).status_code == 403
    away = await operator.get(f"{demo.base}/services/api/menu", params={"next": "https://evil.example/"})
    assert "evil.example" not in away.text and f'delete?next={demo.base}/services"' in away.text


async def test_outsider_gets_404_everywhere(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    [pod] = await running_pods(admin_kube, demo.namespace, "app=web", 1)
    name = pod["metadata"]["name"]
    outsider = await tenants.browser(await tenants.user("outsider"))
    for path in ("/services", "/services/-/watch", "/services/web", "/services/web?tab=events", "/services/web/watch",
                 "/services/web/yaml", "/services/web/yaml/download", "/services/web/information",
                 "/services/web/settings", "/services/web/external-access", "/services/web/delete", f"/pods/{name}",
                 f"/pods/{name}/containers/container-web/logs", f"/pods/{name}/containers/container-web/logs/download",
                 f"/pods/{name}/containers/container-web/logs/stream"):
        assert (await outsider.get(demo.base + path)).status_code == 404, path
    await outsider.get("/workspaces")
    for path in ("information", "yaml", "settings", "external-access", "delete"):
        assert (await outsider.post(f"{demo.base}/services/web/{path}", {})).status_code == 404, path
    assert await admin_kube.exists("Service", demo.namespace, "web", actor=CONSOLE)


async def test_every_write_is_audited(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, app) -> None:  # type: ignore[no-untyped-def]
    from app.domain import audit

    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    await b.post(f"{demo.base}/services/api/information", {"alias": "A"})
    await b.post(f"{demo.base}/services/api/information", {"alias": "-bad-"})
    page = await b.get(f"{demo.base}/services/api/delete")
    await b.post(f"{demo.base}/services/api/delete", {"uid": hidden(page.text, "uid")})
    async with app.state.sessionmaker() as session:
        entries = await audit.search(session, username=demo.operator.username, project=demo.namespace)
    seen = [(e.verb, e.object_name, e.outcome) for e in reversed(entries)]
    assert seen == [("edit-information", "api", "success"), ("edit-information", "api", "failure"),
                    ("delete", "api", "success")]


async def test_a_service_named_new_opens_like_any_other(demo: DemoProject, tenants: Tenants,
                                                         admin_kube: KubeGateway) -> None:
    """Create pages live under /services/-/new ("-" is never a Service name), so "new" is just a name."""
    await create(admin_kube, demo.namespace, plain_service("new"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/new")
    assert page.status_code == 200 and 'id="more-menu"' in page.text and "Create Service" not in page.text
    listing = await b.get(f"{demo.base}/services")
    assert f'href="{demo.base}/services/new"' in listing.text  # the row's link to it
    assert f'href="{demo.base}/services/-/new"' in listing.text  # and the Create button
    assert (await b.get(f"{demo.base}/services/-/new")).status_code == 200


async def test_a_conflict_shows_the_servers_latest_even_while_the_cache_lags(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The watch cache may be a moment behind; what a conflict shows comes from the API server."""
    from app.kube import cache as cache_module

    await create(admin_kube, demo.namespace, plain_service("api"))
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/api/yaml")
    monkeypatch.setattr(cache_module, "_apply", lambda store, event, keep: None)  # the cache stops following
    svc = await admin_kube.get("Service", demo.namespace, "api", actor=CONSOLE)
    svc["metadata"].setdefault("labels", {})["changed-by"] = "someone-else"
    await admin_kube.replace(svc, namespace=demo.namespace, actor=CONSOLE, field_manager="kubectl-edit")
    base = textarea(page.text, "yaml")
    mine = base.replace("sessionAffinity: None", "sessionAffinity: ClientIP")
    form = {"yaml": mine, "resource_version": hidden(page.text, "resource_version"), "base_yaml": base}
    conflict = await b.post(f"{demo.base}/services/api/yaml", {"op": "update", **form})
    assert conflict.status_code == 409 and "changed-by: someone-else" in conflict.text
    changed_by = conflict.text.split('id="changed-by"')[1].split("</div>")[0]
    assert "<strong>kubectl-edit</strong>" in changed_by and "<code>metadata.labels.changed-by</code>" in changed_by
    merged = await b.post(f"{demo.base}/services/api/yaml", {"op": "merge", **form})
    assert "changed-by: someone-else" in textarea(merged.text, "yaml") and "ClientIP" in textarea(merged.text, "yaml")
    done = await b.post(f"{demo.base}/services/api/yaml", {
        "op": "update", "yaml": textarea(merged.text, "yaml"), "resource_version": hidden(merged.text, "resource_version"),
        "base_yaml": textarea(merged.text, "base_yaml")})
    assert done.status_code == 303


async def test_pages_never_change_the_objects_the_cache_shares(demo: DemoProject, tenants: Tenants,
                                                               admin_kube: KubeGateway, kube: KubeGateway) -> None:
    """Lists hand out the cache's own decoded objects (no copy per read): every page that reads them must
    leave them as they were, or the next reader would see another page's changes."""
    import copy
    deployment, web = stateless("web", replicas=2)
    await create(admin_kube, demo.namespace, deployment, web, plain_service("other", labels={"app": "shop"}))
    await running_pods(admin_kube, demo.namespace, "app=web", 2)
    b = await tenants.browser(demo.operator)
    assert kube.cache is not None
    urls = [f"{demo.base}/services", f"{demo.base}/services?name=we", f"{demo.base}/services?sort=name&order=asc",
            f"{demo.base}/services/web", f"{demo.base}/services/web?tab=events", f"{demo.base}/services/web?tab=metadata",
            f"{demo.base}/services/web/settings", f"{demo.base}/services/web/external-access",
            f"{demo.base}/services/web/delete", f"{demo.base}/services/web/yaml",
            f"{demo.base}/services/-/new/workloads", f"{demo.base}/services/-/new/workloads/picker?kind=Deployment"]
    from app.kube.cache import CACHED_KINDS
    for kind in CACHED_KINDS - {"StorageClass", "Event"}:  # fill the stores without any page
        await kube.items(kind, demo.namespace, actor=CONSOLE)
    await kube.events_about(demo.namespace, actor=CONSOLE, objects=frozenset(), prefixes=[])  # the events' index
    stores = {key: store for key, store in kube.cache._stores.items() if key[1] == demo.namespace}
    assert {"Service", "Pod", "Deployment", "Event"} <= {kind for kind, _ in stores}
    before = {key: copy.deepcopy({n: e.obj for n, e in store.objects.items()}) for key, store in stores.items()}
    for url in urls:
        assert (await b.get(url)).status_code == 200, url
    after = {key: {n: e.obj for n, e in store.objects.items()} for key, store in stores.items()}
    assert after == before


async def test_late_side_reads_never_stall_the_service_page(demo: DemoProject, tenants: Tenants,
                                                          admin_kube: KubeGateway, kube: KubeGateway,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Metrics and events that do not answer in time become a message on their section; the page itself
    comes at once. A metrics answer is kept a few seconds, so a reload does not ask again."""
    import time

    from app.domain.services import view as svc_view
    deployment, web = stateless("web", replicas=1)
    await create(admin_kube, demo.namespace, deployment, web)
    await running_pods(admin_kube, demo.namespace, "app=web", 1)
    b = await tenants.browser(demo.operator)
    assert (await b.get(f"{demo.base}/services/web")).status_code == 200

    original = type(kube)._list_live
    asked: list[str] = []

    async def hanging(self, kind, namespace, **kw):  # type: ignore[no-untyped-def]
        asked.append(kind)
        if kind in ("PodMetrics", "Event"):
            await asyncio.sleep(60)  # a metrics pipeline or an event list that does not answer
        return await original(self, kind, namespace, **kw)
    monkeypatch.setattr(type(kube), "_list_live", hanging)
    monkeypatch.setattr(svc_view, "SIDE_READ_SECONDS", 0.5)
    kube._kept.clear()

    started = time.monotonic()
    page = await b.get(f"{demo.base}/services/web")
    assert page.status_code == 200 and time.monotonic() - started < 5
    assert 'id="metrics-unavailable"' in page.text and 'class="containers-row"' in page.text
    events = await b.get(f"{demo.base}/services/web?tab=events")
    assert events.status_code == 200 and "Not available right now" in events.text

    asked.clear()

    async def counting(self, kind, namespace, **kw):  # type: ignore[no-untyped-def]
        asked.append(kind)
        return await original(self, kind, namespace, **kw)
    monkeypatch.setattr(type(kube), "_list_live", counting)
    assert 'id="metrics-unavailable"' not in (await b.get(f"{demo.base}/services/web")).text
    assert 'id="metrics-unavailable"' not in (await b.get(f"{demo.base}/services/web")).text
    assert asked.count("PodMetrics") == 1  # the second load used the kept answer


async def test_edit_service_offers_todays_traffic_fields(demo: DemoProject, tenants: Tenants,
                                                         admin_kube: KubeGateway) -> None:
    """Issue 16: on a cluster whose schema has them (1.37 here), Edit Service offers the internal traffic
    policy, traffic distribution, IP family policy and publishing not-ready addresses; the API server takes them."""
    deployment, web = stateless("traffic")
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services/traffic/settings")
    for control in ("internal-traffic-policy", "traffic-distribution", "ip-family-policy", "publish-not-ready"):
        assert f'id="{control}"' in page.text, control
    resp = await b.post(f"{demo.base}/services/traffic/settings", multi([
        ("resource_version", hidden(page.text, "resource_version")), ("selector_key", "app"),
        ("selector_value", "traffic"), ("port_name", "http-0"), ("port_protocol", "HTTP"), ("port_target", "80"),
        ("port_port", "80"), ("internal_traffic_policy", "Local"), ("traffic_distribution", "PreferSameZone"),
        ("ip_family_policy", "SingleStack"), ("publish_not_ready_addresses_shown", "1"),
        ("publish_not_ready_addresses", "1"), ("op", "save")]))
    assert resp.status_code == 303, resp.text[:2000]
    spec = (await admin_kube.get("Service", demo.namespace, "traffic", actor=CONSOLE, fresh=True))["spec"]
    assert (spec["internalTrafficPolicy"], spec["trafficDistribution"], spec["publishNotReadyAddresses"]) == (
        "Local", "PreferSameZone", True)
    assert spec["sessionAffinity"] == "None"  # the form did not send the sticky session: as it was

    # a NodePort Service also offers the external traffic policy; the sticky session goes with the form
    spec_np = {**web["spec"], "type": "NodePort"}
    await create(admin_kube, demo.namespace, {**web, "metadata": {**web["metadata"], "name": "edge"}, "spec": spec_np})
    async def shown() -> httpx.Response:  # once the console's watch has seen it
        page = await b.get(f"{demo.base}/services/edge/settings")
        assert page.status_code == 200
        return page
    page = await eventually(shown)
    assert 'id="external-traffic-policy"' in page.text and 'id="load-balancer-class"' not in page.text
    form = [("resource_version", hidden(page.text, "resource_version")), ("selector_key", "app"),
            ("selector_value", "traffic"), ("port_name", "http-0"), ("port_protocol", "HTTP"), ("port_target", "80"),
            ("port_port", "80"), ("external_traffic_policy", "Local"), ("sticky_session_shown", "1"),
            ("sticky_session", "1"), ("sticky_timeout", "0"), ("op", "save")]
    refused = await b.post(f"{demo.base}/services/edge/settings", multi(form))
    assert refused.status_code == 422 and 'id="sticky-timeout"' in refused.text and "86400" in refused.text
    form[-2] = ("sticky_timeout", "900")
    resp = await b.post(f"{demo.base}/services/edge/settings", multi(form))
    assert resp.status_code == 303, resp.text[:2000]
    spec = (await admin_kube.get("Service", demo.namespace, "edge", actor=CONSOLE, fresh=True))["spec"]
    assert spec["externalTrafficPolicy"] == "Local" and spec["sessionAffinity"] == "ClientIP"
    assert spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 900


async def test_why_no_traffic_on_the_real_control_plane(demo: DemoProject, tenants: Tenants,
                                                         admin_kube: KubeGateway) -> None:
    """Issue 20: a healthy Service passes every check; one whose selector misses names the nearest
    workload's labels; one aimed at a port name the pods lack says so; an ExternalName that does not
    resolve fails its lookup."""
    deployment, web = stateless("healthy")
    await create(admin_kube, demo.namespace, deployment, web)
    await running_pods(admin_kube, demo.namespace, "app=healthy", 1)
    missed = plain_service("missed")
    missed["spec"]["selector"] = {"app": "helthy"}
    wrong_port = plain_service("wrongport")
    wrong_port["spec"]["selector"] = {"app": "healthy"}
    wrong_port["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": "metrics", "protocol": "TCP"}]
    nowhere = plain_service("nowhere", external_name="nowhere.invalid")
    await create(admin_kube, demo.namespace, missed, wrong_port, nowhere)
    b = await tenants.browser(demo.viewer)

    async def checks(name: str) -> dict[str, str]:
        page = await b.get(f"{demo.base}/services/{name}")
        assert page.status_code == 200 and 'id="traffic-checks"' in page.text
        # check key -> "<verdict> <its text>"
        return {m.group(2): m.group(1) + " " + " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", m.group(3))).split())
                for m in re.finditer(r'<li class="check check-(\w+)" id="check-([\w-]+)">(.*?)</li>', page.text, re.S)}

    async def healthy() -> dict[str, str]:
        found = await checks("healthy")
        assert all(v.startswith("pass") for v in found.values()), found
        return found
    assert set(await eventually(healthy)) >= {"selector", "ready", "endpoints", "target-ports"}
    found = await checks("missed")
    assert found["selector"].startswith("fail") and "Deployment healthy-v1" in found["selector"]
    assert "app=healthy" in found["selector"] and "app=helthy" in found["selector"]
    found = await checks("wrongport")
    assert found["target-ports"].startswith("fail") and "metrics/TCP" in found["target-ports"]
    found = await checks("nowhere")
    assert found["external-name"].startswith("fail") and "nowhere.invalid" in found["external-name"]
