"""Services of a project: list, detail, live updates, a row's menu and Delete.

URLs (all under `/workspaces/{ws}/projects/{project}`):
  GET  /services                          list (htmx: block "rows")
  GET  /services/-/watch                  SSE: "changed" when a Service of the project changes
  GET  /services/{name}?tab=...           detail, tabs resource-status | metadata | events (htmx: block "tab")
  GET  /services/{name}/watch             SSE: "changed" when the Service or its pods change
  GET  /services/{name}/menu              a list row's action menu (htmx, loaded when opened)
  GET|POST /services/{name}/delete        Delete with related resources (dialog / page)

"-" is never a Service name (DNS-1035 starts with a letter), so `/services/-/...` cannot hide a Service
(the convention GitLab uses for its own routes among user-named ones). Every write is audited and made
as the user; every read too (`actor=ctx.actor`). The edits are in `service_edits.py`, pods in `pods.py`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import KubeDep, ProjectEditor, ProjectViewer, SessionDep
from app.domain import live
from app.domain import services as svc_domain
from app.routes.common import audited, render, render_page_or_block
from app.routes.service_pages import (
    BASE,
    TABS,
    check_name,
    dialog_page,
    next_url,
    one,
    page_context,
    project_url,
    read_lists,
    resource_version_of,
    signals_to_sse,
    sse_response,
)
from app.templating import is_partial

router = APIRouter(tags=["services"])


@router.get(BASE + "/services/-/watch")
async def watch_services(request: Request, ctx: ProjectViewer, kube: KubeDep, session: SessionDep,
                         rv: str = "") -> Response:
    """Pushes "changed" when a Service of the project is added, changed or deleted (watched as the user)."""
    await session.close()  # a stream lasts minutes: do not hold a database connection meanwhile
    targets = [live.Target("Service", ctx.namespace, ctx.actor)]
    return sse_response(signals_to_sse(live.hub(request.app).changes(kube, targets, resource_version=resource_version_of(rv))))


# -- list -------------------------------------------------------------------------------------------------

@router.get(BASE + "/services")
async def list_services(request: Request, ctx: ProjectViewer, kube: KubeDep) -> Response:
    """Services of the project: search by name or app, sort, pages; rows refresh themselves."""
    query = svc_domain.ListQuery.parse(request.query_params)
    page = await svc_domain.list_services(kube, ctx.namespace, actor=ctx.actor, query=query)
    return render_page_or_block(request, "services/list.html", page_context(
        ctx, page=page, query=query, page_sizes=svc_domain.PAGE_SIZES,
        list_url=project_url(ctx) + "/services" + query.params(),
    ), block="rows")


@router.get(BASE + "/services/{name}/menu")
async def service_menu(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep, next: str = "") -> Response:
    """A list row's action menu, loaded when the user opens it."""
    check_name(name)
    svc = svc_domain.ServiceView.of(await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor))
    return render(request, "services/menu.html", page_context(
        ctx, svc=svc, next=next_url(ctx, next, project_url(ctx) + "/services")))


# -- detail -----------------------------------------------------------------------------------------------

@router.get(BASE + "/services/{name}")
async def show_service(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep, tab: str = "") -> Response:
    """The side panel and the tab; htmx asks for the tab block alone (tab switch, refresh, live update)."""
    check_name(name)
    tab = tab if tab in TABS else "resource-status"
    partial = is_partial(request)
    # A tab's refresh (live, or a click) brings the side panel too: its endpoints follow the pods.
    detail = await svc_domain.service_detail(
        kube, ctx.namespace, name, actor=ctx.actor, panel=True,
        status=tab == "resource-status", events=tab == "events",
    )
    return render_page_or_block(request, "services/detail.html", page_context(
        ctx, detail=detail, svc=detail.service, tab=tab, tabs=TABS, oob=partial,
        detail_url=f"{project_url(ctx)}/services/{name}",
    ), block="tab")


@router.get(BASE + "/services/{name}/watch")
async def watch_service(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep, session: SessionDep,
                        rv: str = "") -> Response:
    """Pushes "changed" when the Service, one of its EndpointSlices or one of its pods changes (the slices
    follow the pods' readiness a moment later: the side panel's addresses come with that change)."""
    check_name(name)
    svc = await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor)
    await session.close()
    selector = (svc.get("spec") or {}).get("selector") or {}
    targets = [live.Target("Service", ctx.namespace, ctx.actor, field_selector=f"metadata.name={name}")]
    if svc_domain.access_type(svc) != svc_domain.EXTERNAL_NAME:
        targets.append(live.Target("EndpointSlice", ctx.namespace, ctx.actor,
                                   label_selector=f"{svc_domain.SERVICE_NAME_LABEL}={name}"))
        if selector:
            targets.append(live.Target("Pod", ctx.namespace, ctx.actor,
                                       label_selector=svc_domain.selector_string(selector)))
        if await svc_domain.gateway.gateway_api_served(kube):  # the routes to it, and their status
            targets.append(live.Target("HTTPRoute", ctx.namespace, ctx.actor))
    return sse_response(signals_to_sse(live.hub(request.app).changes(kube, targets, resource_version=resource_version_of(rv))))


# -- Edit Information -------------------------------------------------------------------------------------

@router.get(BASE + "/services/{name}/delete")
async def delete_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep, next: str = "") -> Response:
    """The related resources, each with a checkbox, none checked."""
    obj = await svc_domain.get_service(kube, ctx.namespace, check_name(name), actor=ctx.actor)
    related = await svc_domain.related_resources(kube, ctx.namespace, obj, actor=ctx.actor)
    return dialog_page(request, "services/delete.html", page_context(
        ctx, svc=svc_domain.ServiceView.of(obj), related=related, results=None,
        next=next_url(ctx, next, f"{project_url(ctx)}/services")))


@router.post(BASE + "/services/{name}/delete")
async def delete_service(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """Delete the Service (if it is still the one shown), then exactly the checked resources; report each."""
    check_name(name)
    form = await read_lists(request)
    chosen = svc_domain.parse_related(form.get("related", []))
    uid = one(form, "uid")

    async def delete_one(kind: str, object_name: str, object_uid: str | None) -> svc_domain.DeleteResult:
        """Delete one object, audited; a refusal is reported in the result, not raised."""
        result = svc_domain.DeleteResult(kind, object_name, False, "")
        try:
            async with audited(request, ctx.me, "delete", kind, object_name) as note:
                result = await svc_domain.delete_object(kube, ctx.namespace, kind, object_name, object_uid,
                                                        actor=ctx.actor)
                if not result.ok:
                    note["detail"] = result.message
                    raise _NotDeleted()
        except _NotDeleted:
            pass
        return result

    # The Service first; the checked related resources only once it is gone.
    results = [await delete_one("Service", name, uid)]
    if results[0].ok:
        for item in chosen:
            results.append(await delete_one(item.kind, item.name, item.uid))
    target = next_url(ctx, one(form, "next"), f"{project_url(ctx)}/services")
    if target.startswith(f"{project_url(ctx)}/services/{name}"):
        target = f"{project_url(ctx)}/services"
    partial = is_partial(request)
    return render(request, "services/delete.html", page_context(
        ctx, svc=None, name=name, related=[], results=results, next=target, in_dialog=partial,
    ), block="results" if partial else None, status_code=200 if results[0].ok or partial else 409)


class _NotDeleted(Exception):
    """Marks an audited delete as failed without an exception reaching the page."""


# -- pods and logs ----------------------------------------------------------------------------------------

