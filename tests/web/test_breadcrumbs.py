"""One breadcrumb shape on every page (issue 21): Workspaces / workspace / project / section / ... / the
page itself, the page marked as current and never a link, every other crumb a link to its page."""

from __future__ import annotations

import html as html_lib
import re

from app.kube.client import KubeGateway
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, running_pods, stateless

NAV = re.compile(r'<nav class="breadcrumbs" aria-label="Breadcrumb"><ol>(.*?)</ol></nav>', re.S)
ITEM = re.compile(r'<li>(?:<a href="([^"]*)">(.*?)</a>|<span aria-current="page">(.*?)</span>|([^<]*))</li>')


def crumbs(page: str) -> list[tuple[str, str | None, bool]]:
    """(label, link, current) for each crumb of the page's one breadcrumb trail."""
    trails = NAV.findall(page)
    assert len(trails) == 1, trails
    return [(html_lib.unescape(a_label or cur or plain).strip(), href or None, bool(cur))
            for href, a_label, cur, plain in ITEM.findall(trails[0])]


async def test_every_page_has_the_same_breadcrumb_shape(demo: DemoProject, tenants: Tenants,
                                                        admin_kube: KubeGateway) -> None:
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    [pod] = await running_pods(admin_kube, demo.namespace, "app=web", 1)
    pod_name = pod["metadata"]["name"]
    ws, base = demo.workspace.name, demo.base
    b = await tenants.browser(demo.admin)
    root = [("Workspaces", "/workspaces"), (ws, f"/workspaces/{ws}")]
    project = [*root, (demo.project.name, base)]
    services = [*project, ("Services", f"{base}/services")]
    create_service = [*services, ("Create Service", f"{base}/services/-/new")]
    web_page = [*services, ("web", f"{base}/services/web")]
    pages = {
        f"/workspaces/{ws}": (root[:1], ws),
        f"/workspaces/{ws}/members": (root, "Members"),
        f"/workspaces/{ws}/projects": (root, "Projects"),
        base: (root, demo.project.name),
        f"{base}/members": (project, "Members"),
        f"{base}/services": (project, "Services"),
        f"{base}/services/web": (services, "web"),
        f"{base}/services/web/information": (web_page, "Edit Information"),
        f"{base}/services/web/yaml": (web_page, "Edit YAML"),
        f"{base}/services/web/settings": (web_page, "Edit Service"),
        f"{base}/services/web/external-access": (web_page, "Edit External Access"),
        f"{base}/services/web/delete": (web_page, "Delete Service"),
        f"{base}/pods/{pod_name}?service=web": (web_page, pod_name),
        f"{base}/services/-/new": (services, "Create Service"),
        f"{base}/services/-/new/stateless": (create_service, "Stateless Service"),
        f"{base}/services/-/new/stateful": (create_service, "Stateful Service"),
        f"{base}/services/-/new/external": (create_service, "External Service"),
        f"{base}/services/-/new/workloads": (create_service, "Specify Workload"),
        f"{base}/services/-/new/yaml": (create_service, "Edit YAML"),
    }
    for path, (ancestors, here) in pages.items():
        page = await b.get(path)
        assert page.status_code == 200, (path, page.status_code)
        found = crumbs(page.text)
        assert found == [(label, link, False) for label, link in ancestors] + [(here, None, True)], path
