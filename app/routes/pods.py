"""A project's pods: the pod page and container logs.

URLs (all under `/workspaces/{ws}/projects/{project}`):
  GET  /pods/{pod}                        pod page (pods belong to the project, not to one Service)
  GET  /pods/{pod}/containers/{container}/logs            logs (tail, previous run)
  GET  /pods/{pod}/containers/{container}/logs/stream     SSE: follow
  GET  /pods/{pod}/containers/{container}/logs/download   the same lines as a text file
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from app.deps import KubeDep, ProjectCtx, ProjectViewer, SessionDep
from app.domain import live
from app.domain import services as svc_domain
from app.domain.errors import Invalid, NotFound
from app.domain.k8s.names import is_dns1035_label
from app.i18n import _
from app.kube.errors import KubeError
from app.routes.common import render, render_page_or_block
from app.routes.service_pages import (
    BASE,
    check_name,
    page_context,
    project_url,
    sse,
    sse_response,
)

router = APIRouter(tags=["services"])


@router.get(BASE + "/pods/{pod}")
async def show_pod(request: Request, pod: str, ctx: ProjectViewer, kube: KubeDep, service: str = "") -> Response:
    """A pod of the project: status, node, addresses, containers with their logs, usage and events."""
    check_name(pod, "Pod")
    detail = await svc_domain.pod_detail(kube, ctx.namespace, pod, actor=ctx.actor)
    return render_page_or_block(request, "services/pod.html", page_context(
        ctx, detail=detail, p=detail.pod, service=service if is_dns1035_label(service) else "",
    ), block="pod")


def _check_container(pod: dict[str, Any], container: str) -> None:
    if container not in svc_domain.container_names(pod):
        raise NotFound(_("The pod {pod} has no container {container}.").format(pod=pod["metadata"]["name"],
                                                                                container=container))


async def _pod(kube: KubeDep, ctx: ProjectCtx, pod: str) -> dict[str, Any]:
    try:
        return await kube.get("Pod", ctx.namespace, check_name(pod, "Pod"), actor=ctx.actor)
    except KubeError as e:
        if e.not_found:
            raise NotFound(_("The pod {name} does not exist in this project.").format(name=pod)) from None
        raise


@router.get(BASE + "/pods/{pod}/containers/{container}/logs")
async def container_logs(request: Request, pod: str, container: str, ctx: ProjectViewer, kube: KubeDep,
                         service: str = "") -> Response:
    """The last lines of a container's log (or of its previous run); follow streams new lines."""
    obj = await _pod(kube, ctx, pod)
    _check_container(obj, container)
    query = svc_domain.LogQuery.parse(request.query_params)
    text, problem = "", ""
    if not query.follow:
        try:
            text = await svc_domain.container_logs(kube, ctx.namespace, pod, container, actor=ctx.actor, query=query)
        except Invalid as e:
            problem = e.message
    view = svc_domain.pod_view(obj)
    return render(request, "services/logs.html", page_context(
        ctx, p=view, container=container, query=query, text=text, problem=problem, tails=svc_domain.LOG_TAILS,
        service=service if is_dns1035_label(service) else "",
        logs_url=f"{project_url(ctx)}/pods/{pod}/containers/{container}/logs",
        restarts=next((c.restarts for c in view.containers if c.name == container), 0),
    ))


@router.get(BASE + "/pods/{pod}/containers/{container}/logs/download")
async def download_logs(request: Request, pod: str, container: str, ctx: ProjectViewer, kube: KubeDep) -> Response:
    obj = await _pod(kube, ctx, pod)
    _check_container(obj, container)
    query = svc_domain.LogQuery.parse(request.query_params)
    chunks = await svc_domain.container_log_download(kube, ctx.namespace, pod, container, actor=ctx.actor,
                                                     query=query)
    suffix = "-previous" if query.previous else ""
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{pod}-{container}{suffix}.log"'})


@router.get(BASE + "/pods/{pod}/containers/{container}/logs/stream")
async def follow_logs(request: Request, pod: str, container: str, ctx: ProjectViewer, kube: KubeDep,
                      session: SessionDep) -> Response:
    """SSE: the last N lines, then each new line ("line" events, HTML-escaped), "eof" when it ends."""
    obj = await _pod(kube, ctx, pod)
    _check_container(obj, container)
    query = svc_domain.LogQuery.parse(request.query_params)
    await session.close()
    source = kube.follow_pod_logs(ctx.namespace, pod, container, actor=ctx.actor, tail_lines=query.tail or 5000)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for batch in live.hub(request.app).lines(source):
                if not batch:
                    yield b": ping\n\n"
                    continue
                text = "".join(batch)
                if not text.endswith("\n"):
                    text += "\n"
                yield sse("line", html.escape(text))
        except KubeError as e:
            yield sse("line", html.escape(f"[{e.message}]\n"))
        yield sse("eof", "")

    return sse_response(body())
