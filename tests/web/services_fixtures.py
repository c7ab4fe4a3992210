"""Services and workloads made like the create wizard makes them (kubesphere.md §2), for the page tests.

Created with the admin identity directly in the project's namespace, so the pages under test see
objects they did not create themselves.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from app.kube.client import CONSOLE, KubeGateway
from tests.cluster import eventually


def stateless(name: str, *, image: str = "nginx:1.25", replicas: int = 1, node_port: bool = False,
              version: str = "v1") -> tuple[dict[str, Any], dict[str, Any]]:
    """A Deployment `<name>-<version>` and its Service, as the wizard's Stateless Service."""
    labels = {"app": name, "version": version}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"{name}-{version}", "labels": labels,
                     "annotations": {"kubesphere.io/creator": "project-regular"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "container-web", "image": image,
                                                       "ports": [{"name": "http-0", "containerPort": 80, "protocol": "TCP"}]}]}}},
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {"kubesphere.io/serviceType": "statelessservice", "kubesphere.io/alias-name": "",
                                     "kubesphere.io/creator": "project-regular"}},
        "spec": {"sessionAffinity": "None", "selector": {"app": name},
                 "ports": [{"name": "http-0", "protocol": "TCP", "port": 80, "targetPort": 80}],
                 **({"type": "NodePort"} if node_port else {})},
    }
    return deployment, service


def plain_service(name: str, *, labels: dict[str, str] | None = None, headless: bool = False,
                  external_name: str | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any]
    if external_name:
        spec = {"type": "ExternalName", "externalName": external_name}
    else:
        spec = {"selector": {"app": name}, "ports": [{"name": "tcp", "protocol": "TCP", "port": 8080, "targetPort": 8080}]}
        if headless:
            spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": labels or {"app": name}, "annotations": annotations or {}}, "spec": spec}


async def create(kube: KubeGateway, namespace: str, *objs: dict[str, Any]) -> list[dict[str, Any]]:
    if any(o["kind"] == "Pod" for o in objs):
        # a bare pod is refused until the namespace's default ServiceAccount exists
        async def service_account() -> bool:
            return await kube.exists("ServiceAccount", namespace, "default", actor=CONSOLE)
        await eventually(service_account)
    return [await kube.create(o, namespace=namespace, actor=CONSOLE) for o in objs]


async def running_pods(kube: KubeGateway, namespace: str, selector: str, count: int,
                       timeout: float = 60) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        pods = await kube.items("Pod", namespace, actor=CONSOLE, label_selector=selector)
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                   and (p.get("status") or {}).get("podIP")]
        assert len(running) == count, [p["status"].get("phase") for p in pods]
        return running
    return await eventually(check, timeout=timeout)


async def with_metrics(kube: KubeGateway, namespace: str, pods: list[str], timeout: float = 90) -> None:
    async def check() -> bool:
        items = await kube.items("PodMetrics", namespace, actor=CONSOLE)
        return {i["metadata"]["name"] for i in items} >= set(pods)
    await eventually(check, timeout=timeout, interval=1)


def rows(html: str) -> list[str]:
    """Names of the Service rows on a list page, in order."""
    return re.findall(r'id="service-row-([a-z0-9-]+)"', html)


def sse_url(html: str) -> str:
    found = re.search(r'sse-connect="([^"]+)"', html)
    assert found, "no live updates on the page"
    return found.group(1).replace("&amp;", "&")


async def read_sse(app: Any, browser: Any, url: str, *, until: str, timeout: float = 20,
                   after_connect: Any = None) -> str:
    """Call the ASGI app directly (httpx's ASGI transport waits for the whole body, and a stream has
    none): read the stream until `until` appears, then disconnect like a browser tab closing."""
    path, _, query = url.partition("?")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.client.cookies.items())
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode()), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }
    gone = asyncio.Event()
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        received.put_nowait(message)

    task = asyncio.create_task(app(scope, receive, send))
    text = ""
    acted = False
    try:
        async def read() -> str:
            nonlocal text, acted
            while until not in text:
                message = await received.get()
                if message["type"] == "http.response.start":
                    assert message["status"] == 200, message
                    continue
                text += message.get("body", b"").decode()
                if after_connect is not None and not acted and ": connected" in text:
                    acted = True
                    await after_connect()
                if not message.get("more_body", False):
                    break
            return text
        return await asyncio.wait_for(read(), timeout)
    finally:
        gone.set()
        await asyncio.wait_for(task, 10)
