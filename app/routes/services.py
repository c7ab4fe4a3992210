"""Services of a project: list, detail, the pod page, container logs, live updates and the actions.

URLs (all under `/workspaces/{ws}/projects/{project}`):
  GET  /services                          list (htmx: block "rows")
  GET  /services/-/watch                  SSE: "changed" when a Service of the project changes
  GET  /services/{name}?tab=...           detail, tabs resource-status | metadata | events (htmx: block "tab")
  GET  /services/{name}/watch             SSE: "changed" when the Service or its pods change
  GET  /services/{name}/menu              a list row's action menu (htmx, loaded when opened)
  GET|POST /services/{name}/information   Edit Information (dialog with htmx, page without)
  GET|POST /services/{name}/yaml          Edit YAML (page); GET /services/{name}/yaml/download
  GET|POST /services/{name}/settings      Edit Service (page)
  GET|POST /services/{name}/external-access   Edit External Access (dialog / page)
  GET|POST /services/{name}/delete        Delete with related resources (dialog / page)
  GET  /pods/{pod}                        pod page (pods belong to the project, not to one Service)
  GET  /pods/{pod}/containers/{container}/logs            logs (tail, previous run)
  GET  /pods/{pod}/containers/{container}/logs/stream     SSE: follow
  GET  /pods/{pod}/containers/{container}/logs/download   the same lines as a text file

"-" is never a Service name (DNS-1035 starts with a letter), so `/services/-/...` cannot hide a Service
(the convention GitLab uses for its own routes among user-named ones). The edit pages answer viewers
too, read-only (no buttons, disabled fields): viewers see everything, and every write is editor-only.
Every write is audited and made as the user; every read too (`actor=ctx.actor`).
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from app.deps import KubeDep, ProjectCtx, ProjectEditor, ProjectViewer, SessionDep
from app.domain import live
from app.domain import services as svc_domain
from app.domain.errors import Invalid, NotFound
from app.domain.k8s.names import is_dns1035_label, is_object_name
from app.domain.services import EditConflict
from app.domain.yaml import MAX_BYTES
from app.i18n import _
from app.kube.errors import KubeError
from app.routes.common import audited, render, render_page_or_block, see_other
from app.templating import is_partial
from app.web import urls

router = APIRouter(tags=["services"])

BASE = "/workspaces/{ws}/projects/{project}"
TABS = ("resource-status", "metadata", "events")
_VERSION = re.compile(r"^[0-9]{1,32}$")


def _base(ctx: ProjectCtx) -> str:
    return urls.project(ctx.workspace.name, ctx.project.name)


def _check_name(name: str, what: str = "Service") -> str:
    if not is_object_name(what, name):
        raise NotFound(_("The page you are looking for does not exist."))
    return name


def _next_url(ctx: ProjectCtx, value: str | None, default: str) -> str:
    """Where to go after an action: a page of this project's Services only (no open redirect)."""
    prefix = _base(ctx) + "/services"
    if value and (value == prefix or value.startswith((prefix + "/", prefix + "?"))) \
            and "//" not in value and "\\" not in value:
        return value
    return default


def _ctx(ctx: ProjectCtx, **extra: Any) -> dict[str, Any]:
    return {"base": _base(ctx), "nav": "services", "can_edit": ctx.can_edit, **extra}


async def _form(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form.keys()}


def _one(form: dict[str, list[str]], key: str, default: str = "") -> str:
    values = form.get(key) or [default]
    return values[0]


# -- SSE -------------------------------------------------------------------------------------------------

def _sse(event: str, data: str) -> bytes:
    lines = data.split("\n")
    return ("event: " + event + "\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def _sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    async def with_preamble() -> AsyncIterator[bytes]:
        yield b"retry: 3000\n: connected\n\n"
        async for chunk in body:
            yield chunk

    return StreamingResponse(with_preamble(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _signals_to_sse(signals: AsyncIterator[live.Signal]) -> AsyncIterator[bytes]:
    async for signal in signals:
        if signal.kind == live.CHANGED:
            yield _sse("changed", "1")
        elif signal.kind == live.PING:
            yield b": ping\n\n"
        elif signal.kind == live.ERROR:
            # The browser reconnects when the stream ends: not every 3 s (each try is a whole request)
            # while the watch is refused, e.g. when the console already watches all it may.
            yield b"retry: 60000\n" + _sse("refused", signal.message)
        elif signal.kind == live.END:
            yield _sse("end", "")
            return


def _version(value: str) -> str:
    return value if _VERSION.match(value or "") else ""


@router.get(BASE + "/services/-/watch")
async def watch_services(request: Request, ctx: ProjectViewer, kube: KubeDep, session: SessionDep,
                         rv: str = "") -> Response:
    """Pushes "changed" when a Service of the project is added, changed or deleted (watched as the user)."""
    await session.close()  # a stream lasts minutes: do not hold a database connection meanwhile
    targets = [live.Target("Service", ctx.namespace, ctx.actor)]
    return _sse_response(_signals_to_sse(live.hub(request.app).changes(kube, targets, resource_version=_version(rv))))


# -- list -------------------------------------------------------------------------------------------------

@router.get(BASE + "/services")
async def list_services(request: Request, ctx: ProjectViewer, kube: KubeDep) -> Response:
    """Services of the project: search by name or app, sort, pages; rows refresh themselves."""
    query = svc_domain.ListQuery.parse(request.query_params)
    page = await svc_domain.list_services(kube, ctx.namespace, actor=ctx.actor, query=query)
    return render_page_or_block(request, "services/list.html", _ctx(
        ctx, page=page, query=query, page_sizes=svc_domain.PAGE_SIZES,
        list_url=_base(ctx) + "/services" + query.params(),
    ), block="rows")


@router.get(BASE + "/services/{name}/menu")
async def service_menu(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep, next: str = "") -> Response:
    """A list row's action menu, loaded when the user opens it."""
    _check_name(name)
    svc = svc_domain.ServiceView.of(await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor))
    return render(request, "services/menu.html", _ctx(
        ctx, svc=svc, next=_next_url(ctx, next, _base(ctx) + "/services")))


# -- detail -----------------------------------------------------------------------------------------------

@router.get(BASE + "/services/{name}")
async def show_service(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep, tab: str = "") -> Response:
    """The side panel and the tab; htmx asks for the tab block alone (tab switch, refresh, live update)."""
    _check_name(name)
    tab = tab if tab in TABS else "resource-status"
    partial = is_partial(request)
    # A tab's refresh (live, or a click) brings the side panel too: its endpoints follow the pods.
    detail = await svc_domain.service_detail(
        kube, ctx.namespace, name, actor=ctx.actor, panel=True,
        status=tab == "resource-status", events=tab == "events",
    )
    return render_page_or_block(request, "services/detail.html", _ctx(
        ctx, detail=detail, svc=detail.service, tab=tab, tabs=TABS, oob=partial,
        detail_url=f"{_base(ctx)}/services/{name}",
    ), block="tab")


@router.get(BASE + "/services/{name}/watch")
async def watch_service(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep, session: SessionDep,
                        rv: str = "") -> Response:
    """Pushes "changed" when the Service, its Endpoints or one of its pods changes (the Endpoints follow
    the pods' readiness a moment later: the side panel's addresses come with that change)."""
    _check_name(name)
    svc = await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor)
    await session.close()
    selector = (svc.get("spec") or {}).get("selector") or {}
    targets = [live.Target("Service", ctx.namespace, ctx.actor, field_selector=f"metadata.name={name}")]
    if svc_domain.access_type(svc) != svc_domain.EXTERNAL_NAME:
        targets.append(live.Target("Endpoints", ctx.namespace, ctx.actor, field_selector=f"metadata.name={name}"))
        if selector:
            targets.append(live.Target("Pod", ctx.namespace, ctx.actor,
                                       label_selector=svc_domain.selector_string(selector)))
    return _sse_response(_signals_to_sse(live.hub(request.app).changes(kube, targets, resource_version=_version(rv))))


# -- Edit Information -------------------------------------------------------------------------------------

def _dialog_page(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
                 in_dialog: bool = False) -> Response:
    """A dialog for htmx (GET: the whole dialog; POST: the form inside it), else the same form as a page."""
    partial = is_partial(request)
    block = None
    if partial:
        block = "dialog" if request.method == "GET" else "form"
    return render(request, template, {**context, "in_dialog": partial or in_dialog}, block=block, status_code=status)


@router.get(BASE + "/services/{name}/information")
async def edit_information_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep,
                                next: str = "") -> Response:
    svc = svc_domain.ServiceView.of(await svc_domain.get_service(kube, ctx.namespace, _check_name(name),
                                                                 actor=ctx.actor))
    return _dialog_page(request, "services/edit_information.html", _ctx(
        ctx, svc=svc, form={"alias": svc.alias, "description": svc.description}, errors={},
        next=_next_url(ctx, next, f"{_base(ctx)}/services/{name}")))


@router.post(BASE + "/services/{name}/information")
async def edit_information(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """Alias and description (merge patch of two annotations)."""
    _check_name(name)
    form = await _form(request)
    alias, description = _one(form, "alias"), _one(form, "description")
    target = _next_url(ctx, _one(form, "next"), f"{_base(ctx)}/services/{name}")
    try:
        async with audited(request, ctx.me, "edit-information", "Service", name):
            await svc_domain.edit_information(kube, ctx.namespace, name, actor=ctx.actor, alias=alias,
                                              description=description)
    except Invalid as e:
        svc = svc_domain.ServiceView.of(await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor))
        return _dialog_page(request, "services/edit_information.html", _ctx(
            ctx, svc=svc, form={"alias": alias, "description": description}, errors=e.errors or {"_": e.message},
            next=target), status=422, in_dialog=_one(form, "dialog") == "1")
    return see_other(request, target, done=("information", name))


# -- Edit YAML --------------------------------------------------------------------------------------------

def _yaml_page(request: Request, ctx: ProjectCtx, name: str, *, text: str, resource_version: str, base_text: str,
               errors: dict[str, str] | None = None, conflict: svc_domain.ConflictView | None = None,
               notice: str = "", merge_conflicts: list[str] | None = None, status: int = 200) -> Response:
    return render(request, "services/edit_yaml.html", _ctx(
        ctx, name=name, text=text, resource_version=resource_version, base_text=base_text, errors=errors or {},
        conflict=conflict, notice=notice, merge_conflicts=merge_conflicts or [],
        detail_url=f"{_base(ctx)}/services/{name}",
    ), status_code=status)


@router.get(BASE + "/services/{name}/yaml")
async def edit_yaml_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep) -> Response:
    """The cleaned object in an editor; the version it was loaded from rides along in the form."""
    svc = await svc_domain.get_service(kube, ctx.namespace, _check_name(name), actor=ctx.actor)
    text = svc_domain.editable_yaml(svc)
    return _yaml_page(request, ctx, name, text=text, base_text=text,
                      resource_version=svc["metadata"].get("resourceVersion", ""))


@router.get(BASE + "/services/{name}/yaml/download")
async def download_yaml(name: str, ctx: ProjectViewer, kube: KubeDep) -> Response:
    """The cleaned object as a file that `kubectl apply -f` accepts."""
    svc = await svc_domain.get_service(kube, ctx.namespace, _check_name(name), actor=ctx.actor)
    return Response(svc_domain.editable_yaml(svc), media_type="application/yaml; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{svc_domain.download_name(svc)}"'})


@router.post(BASE + "/services/{name}/yaml")
async def edit_yaml(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """op=update: replace with the loaded version as precondition (409: show both sides);
    op=merge: apply the user's edit to the latest version, for review; op=upload: a file into the editor."""
    _check_name(name)
    raw = await request.form()
    form = {key: [v for v in raw.getlist(key) if isinstance(v, str)] for key in raw.keys()}
    op, text = _one(form, "op", "update"), _one(form, "yaml")
    version, base_text = _one(form, "resource_version"), _one(form, "base_yaml")
    upload = raw.get("file")
    chosen = upload if upload is not None and not isinstance(upload, str) and upload.filename else None
    if op == "upload" or chosen is not None:
        if chosen is None:
            return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                              errors={"file": _("Choose a YAML file to upload.")}, status=422)
        uploaded, problem = await _read_upload(chosen)
        if uploaded is None:
            return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                              errors={"file": problem}, status=422)
        if op == "upload":
            return _yaml_page(request, ctx, name, text=uploaded, resource_version=version, base_text=base_text,
                              notice=_("{file} is in the editor. Review it, then choose Update.").format(
                                  file=chosen.filename))
        if text.strip() != base_text.strip():  # a file and an edit: which one is meant? Neither is lost.
            return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                              errors={"file": _("You chose {file} and also edited the text. Choose Upload to put the "
                                                "file in the editor, or clear the file to save your edit.").format(
                                                    file=chosen.filename)}, status=422)
        text = uploaded  # Update with a file chosen (without JavaScript): the file is what is saved
    if op == "merge":
        try:
            merged = await svc_domain.apply_edit_to_latest(kube, ctx.namespace, name, actor=ctx.actor,
                                                           base_text=base_text, mine_text=text)
        except Invalid as e:
            return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                              errors=e.errors or {"yaml": e.message}, status=422)
        notice = _("Your edit is applied to the latest version below. Review it, then choose Update.")
        return _yaml_page(request, ctx, name, text=merged.text, resource_version=merged.resource_version,
                          base_text=merged.base_text, notice=notice, merge_conflicts=merged.conflicts)
    try:
        async with audited(request, ctx.me, "edit-yaml", "Service", name):
            await svc_domain.update_from_yaml(kube, ctx.namespace, name, actor=ctx.actor, text=text,
                                              resource_version=version,
                                              external_ips_allowed=ctx.project.allow_external_ips)
    except Invalid as e:
        return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                          errors=e.errors or {"yaml": e.message}, status=422)
    except EditConflict as e:
        view = svc_domain.conflict_view(base_text, text, e.latest)
        return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                          conflict=view, status=409)
    return see_other(request, f"{_base(ctx)}/services/{name}", done=("yaml", name))


async def _read_upload(upload: Any) -> tuple[str | None, str]:
    """A chosen file's text, or None and why it cannot be used."""
    data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return None, _("The file is larger than {size} KiB.").format(size=MAX_BYTES // 1024)
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, _("The file is not UTF-8 text; save it as UTF-8.")


# -- Edit Service -----------------------------------------------------------------------------------------

def _settings_page(request: Request, ctx: ProjectCtx, svc: svc_domain.ServiceView,
                   form: svc_domain.ServiceSettingsForm, *, next: str, errors: dict[str, str] | None = None,
                   latest: svc_domain.ServiceView | None = None, status: int = 200) -> Response:
    return render_page_or_block(request, "services/edit_service.html", _ctx(
        ctx, svc=svc, form=form, errors=errors or {}, latest=latest, next=next,
        protocol_options=lambda current: [(p, p) for p in svc_domain.port_protocol_choices(current)],
    ), block="form", status_code=status)


@router.get(BASE + "/services/{name}/settings")
async def edit_service_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep,
                            next: str = "") -> Response:
    obj = await svc_domain.get_service(kube, ctx.namespace, _check_name(name), actor=ctx.actor)
    form = svc_domain.ServiceSettingsForm.of(obj)
    if not form.ports and form.access != svc_domain.EXTERNAL_NAME:
        form.ports.append(svc_domain.PortRow())
    return _settings_page(request, ctx, svc_domain.ServiceView.of(obj), form,
                          next=_next_url(ctx, next, f"{_base(ctx)}/services/{name}"))


@router.post(BASE + "/services/{name}/settings")
async def edit_service(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """op=save replaces selector and ports (or the address) with the loaded version as precondition;
    add-/remove- ops only re-render the rows (the form works without JavaScript)."""
    _check_name(name)
    raw = await _form(request)
    obj = await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor)
    view = svc_domain.ServiceView.of(obj)
    form = svc_domain.ServiceSettingsForm.from_form(raw, access=view.access)
    target = _next_url(ctx, _one(raw, "next"), f"{_base(ctx)}/services/{name}")
    op = _one(raw, "op", "save")
    if op != "save":
        if op == "add-port":
            form.ports.append(svc_domain.PortRow())
        elif op == "add-selector":
            form.selector.append(svc_domain.KeyValueRow())
        elif op.startswith("remove-port:") and op[12:].isdigit() and int(op[12:]) < len(form.ports):
            form.ports.pop(int(op[12:]))
        elif op.startswith("remove-selector:") and op[16:].isdigit() and int(op[16:]) < len(form.selector):
            form.selector.pop(int(op[16:]))
        return _settings_page(request, ctx, view, form, next=target)
    try:
        async with audited(request, ctx.me, "edit-service", "Service", name):
            await svc_domain.edit_service(kube, ctx.namespace, name, actor=ctx.actor, form=form)
    except Invalid as e:
        return _settings_page(request, ctx, view, form, next=target, errors=e.errors or {"_": e.message},
                              status=422)
    except EditConflict as e:
        latest = svc_domain.ServiceView.of(e.latest)
        form.resource_version = latest.resource_version
        errors = {"_": e.message + " " + _("Your values are kept below; the server's current values are shown "
                                           "beside them. Choose OK again to apply your values to the latest version.")}
        return _settings_page(request, ctx, latest, form, next=target, errors=errors, latest=latest,
                              status=422 if is_partial(request) else 409)
    return see_other(request, target, done=("settings", name))


# -- Edit External Access ---------------------------------------------------------------------------------

def _external_page(request: Request, ctx: ProjectCtx, svc: svc_domain.ServiceView,
                   form: svc_domain.ExternalAccessForm, *, next: str, errors: dict[str, str] | None = None,
                   latest: svc_domain.ServiceView | None = None, status: int = 200, in_dialog: bool = False) -> Response:
    return _dialog_page(request, "services/edit_external_access.html", _ctx(
        ctx, svc=svc, form=form, errors=errors or {}, latest=latest, next=next, modes=svc_domain.ACCESS_MODES,
        mode_labels=svc_domain.MODE_LABELS, mode_help=svc_domain.MODE_HELP,
        min_port=svc_domain.NODE_PORT_MIN, max_port=svc_domain.NODE_PORT_MAX,
    ), status=status, in_dialog=in_dialog)


@router.get(BASE + "/services/{name}/external-access")
async def edit_external_access_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep,
                                    next: str = "") -> Response:
    obj = await svc_domain.get_service(kube, ctx.namespace, _check_name(name), actor=ctx.actor)
    view = svc_domain.ServiceView.of(obj)
    if not view.can_edit_external_access:
        raise Invalid(_("External access can be set only for Services with a virtual IP address."))
    return _external_page(request, ctx, view, svc_domain.ExternalAccessForm.of(obj),
                          next=_next_url(ctx, next, f"{_base(ctx)}/services/{name}"))


@router.post(BASE + "/services/{name}/external-access")
async def edit_external_access(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """None / NodePort (optional node ports) / LoadBalancer (annotations), with the loaded version as
    precondition; op=switch and the row ops only re-render the form."""
    _check_name(name)
    raw = await _form(request)
    obj = await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor)
    view = svc_domain.ServiceView.of(obj)
    form = svc_domain.ExternalAccessForm.from_form(raw)
    target = _next_url(ctx, _one(raw, "next"), f"{_base(ctx)}/services/{name}")
    in_dialog = _one(raw, "dialog") == "1"
    op = _one(raw, "op", "save")
    if op != "save":
        form.fill_from(obj)
        assert form.annotations is not None
        if op == "add-annotation":
            form.annotations.append(svc_domain.KeyValueRow())
        elif op.startswith("remove-annotation:") and op[18:].isdigit() and int(op[18:]) < len(form.annotations):
            form.annotations.pop(int(op[18:]))
        return _external_page(request, ctx, view, form, next=target, in_dialog=in_dialog)
    try:
        async with audited(request, ctx.me, "edit-external-access", "Service", name):
            await svc_domain.edit_external_access(kube, ctx.namespace, name, actor=ctx.actor, form=form)
    except Invalid as e:
        form.fill_from(obj)
        return _external_page(request, ctx, view, form, next=target, errors=e.errors or {"_": e.message},
                              status=422, in_dialog=in_dialog)
    except EditConflict as e:
        latest = svc_domain.ServiceView.of(e.latest)
        form.resource_version = latest.resource_version
        form.fill_from(e.latest)
        errors = {"_": e.message + " " + _("Your choice is kept below; the server's current setting is shown "
                                           "above it. Choose OK again to apply your choice to the latest version.")}
        return _external_page(request, ctx, latest, form, next=target, errors=errors, latest=latest,
                              status=422 if is_partial(request) else 409, in_dialog=in_dialog)
    return see_other(request, target, done=("external-access", name))


# -- Delete -----------------------------------------------------------------------------------------------

@router.get(BASE + "/services/{name}/delete")
async def delete_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep, next: str = "") -> Response:
    """The related resources, each with a checkbox, none checked."""
    obj = await svc_domain.get_service(kube, ctx.namespace, _check_name(name), actor=ctx.actor)
    related = await svc_domain.related_resources(kube, ctx.namespace, obj, actor=ctx.actor)
    return _dialog_page(request, "services/delete.html", _ctx(
        ctx, svc=svc_domain.ServiceView.of(obj), related=related, results=None,
        next=_next_url(ctx, next, f"{_base(ctx)}/services")))


@router.post(BASE + "/services/{name}/delete")
async def delete_service(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """Delete the Service (if it is still the one shown), then exactly the checked resources; report each."""
    _check_name(name)
    form = await _form(request)
    chosen = svc_domain.parse_related(form.get("related", []))
    uid = _one(form, "uid")

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
    target = _next_url(ctx, _one(form, "next"), f"{_base(ctx)}/services")
    if target.startswith(f"{_base(ctx)}/services/{name}"):
        target = f"{_base(ctx)}/services"
    partial = is_partial(request)
    return render(request, "services/delete.html", _ctx(
        ctx, svc=None, name=name, related=[], results=results, next=target, in_dialog=partial,
    ), block="results" if partial else None, status_code=200 if results[0].ok or partial else 409)


class _NotDeleted(Exception):
    """Marks an audited delete as failed without an exception reaching the page."""


# -- pods and logs ----------------------------------------------------------------------------------------

@router.get(BASE + "/pods/{pod}")
async def show_pod(request: Request, pod: str, ctx: ProjectViewer, kube: KubeDep, service: str = "") -> Response:
    """A pod of the project: status, node, addresses, containers with their logs, usage and events."""
    _check_name(pod, "Pod")
    detail = await svc_domain.pod_detail(kube, ctx.namespace, pod, actor=ctx.actor)
    return render_page_or_block(request, "services/pod.html", _ctx(
        ctx, detail=detail, p=detail.pod, service=service if is_dns1035_label(service) else "",
    ), block="pod")


def _check_container(pod: dict[str, Any], container: str) -> None:
    if container not in svc_domain.container_names(pod):
        raise NotFound(_("The pod {pod} has no container {container}.").format(pod=pod["metadata"]["name"],
                                                                                container=container))


async def _pod(kube: KubeDep, ctx: ProjectCtx, pod: str) -> dict[str, Any]:
    try:
        return await kube.get("Pod", ctx.namespace, _check_name(pod, "Pod"), actor=ctx.actor)
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
    return render(request, "services/logs.html", _ctx(
        ctx, p=view, container=container, query=query, text=text, problem=problem, tails=svc_domain.LOG_TAILS,
        service=service if is_dns1035_label(service) else "",
        logs_url=f"{_base(ctx)}/pods/{pod}/containers/{container}/logs",
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
                yield _sse("line", html.escape(text))
        except KubeError as e:
            yield _sse("line", html.escape(f"[{e.message}]\n"))
        yield _sse("eof", "")

    return _sse_response(body())
