"""A Service's edits: Edit Information, Edit YAML, Edit Service and Edit External Access.

URLs (all under `/workspaces/{ws}/projects/{project}/services/{name}`):
  GET|POST /information                   Edit Information (dialog with htmx, page without)
  GET|POST /yaml                          Edit YAML (page); GET /yaml/download
  GET|POST /settings                      Edit Service (page)
  GET|POST /external-access               Edit External Access (dialog / page)

The edit pages answer viewers too, read-only (no buttons, disabled fields): viewers see everything, and
every write is editor-only, audited and made as the user.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import KubeDep, ProjectCtx, ProjectEditor, ProjectViewer
from app.domain import services as svc_domain
from app.domain.errors import Invalid
from app.domain.services import EditConflict, gateway
from app.domain.yaml import MAX_BYTES
from app.i18n import _
from app.routes.common import audited, render, render_page_or_block, see_other
from app.routes.service_pages import (
    BASE,
    check_name,
    dialog_page,
    next_url,
    one,
    page_context,
    project_url,
    read_lists,
)
from app.templating import is_partial

router = APIRouter(tags=["services"])


@router.get(BASE + "/services/{name}/information")
async def edit_information_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep,
                                next: str = "") -> Response:
    svc = svc_domain.ServiceView.of(await svc_domain.get_service(kube, ctx.namespace, check_name(name),
                                                                 actor=ctx.actor))
    return dialog_page(request, "services/edit_information.html", page_context(
        ctx, svc=svc, form={"alias": svc.alias, "description": svc.description}, errors={},
        next=next_url(ctx, next, f"{project_url(ctx)}/services/{name}")))


@router.post(BASE + "/services/{name}/information")
async def edit_information(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """Alias and description (merge patch of two annotations)."""
    check_name(name)
    form = await read_lists(request)
    alias, description = one(form, "alias"), one(form, "description")
    target = next_url(ctx, one(form, "next"), f"{project_url(ctx)}/services/{name}")
    try:
        async with audited(request, ctx.me, "edit-information", "Service", name):
            await svc_domain.edit_information(kube, ctx.namespace, name, actor=ctx.actor, alias=alias,
                                              description=description)
    except Invalid as e:
        svc = svc_domain.ServiceView.of(await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor))
        return dialog_page(request, "services/edit_information.html", page_context(
            ctx, svc=svc, form={"alias": alias, "description": description}, errors=e.errors or {"_": e.message},
            next=target), status=422, in_dialog=one(form, "dialog") == "1")
    return see_other(request, target, done=("information", name))


# -- Edit YAML --------------------------------------------------------------------------------------------

def _yaml_page(request: Request, ctx: ProjectCtx, name: str, *, text: str, resource_version: str, base_text: str,
               errors: dict[str, str] | None = None, conflict: svc_domain.ConflictView | None = None,
               notice: str = "", merge_conflicts: list[str] | None = None, problems: list[object] | None = None,
               status: int = 200) -> Response:
    return render(request, "services/edit_yaml.html", page_context(
        ctx, name=name, text=text, resource_version=resource_version, base_text=base_text, errors=errors or {},
        problems=problems or [],
        conflict=conflict, notice=notice, merge_conflicts=merge_conflicts or [],
        detail_url=f"{project_url(ctx)}/services/{name}",
    ), status_code=status)


@router.get(BASE + "/services/{name}/yaml")
async def edit_yaml_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep) -> Response:
    """The cleaned object in an editor; the version it was loaded from rides along in the form."""
    svc = await svc_domain.get_service(kube, ctx.namespace, check_name(name), actor=ctx.actor)
    text = svc_domain.editable_yaml(svc)
    return _yaml_page(request, ctx, name, text=text, base_text=text,
                      resource_version=svc["metadata"].get("resourceVersion", ""))


@router.get(BASE + "/services/{name}/yaml/download")
async def download_yaml(name: str, ctx: ProjectViewer, kube: KubeDep) -> Response:
    """The cleaned object as a file that `kubectl apply -f` accepts."""
    svc = await svc_domain.get_service(kube, ctx.namespace, check_name(name), actor=ctx.actor)
    return Response(svc_domain.editable_yaml(svc), media_type="application/yaml; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{svc_domain.download_name(svc)}"'})


@router.post(BASE + "/services/{name}/yaml")
async def edit_yaml(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """op=update: replace with the loaded version as precondition (409: show both sides);
    op=merge: apply the user's edit to the latest version, for review; op=upload: a file into the editor."""
    check_name(name)
    raw = await request.form()
    form = {key: [v for v in raw.getlist(key) if isinstance(v, str)] for key in raw.keys()}
    op, text = one(form, "op", "update"), one(form, "yaml")
    version, base_text = one(form, "resource_version"), one(form, "base_yaml")
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
                              errors=e.errors or {"yaml": e.message}, problems=e.problems, status=422)
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
                          errors=e.errors or {"yaml": e.message}, problems=e.problems, status=422)
    except EditConflict as e:
        view = svc_domain.conflict_view(base_text, text, e.latest)
        return _yaml_page(request, ctx, name, text=text, resource_version=version, base_text=base_text,
                          conflict=view, status=409)
    return see_other(request, f"{project_url(ctx)}/services/{name}", done=("yaml", name))


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
    return render_page_or_block(request, "services/edit_service.html", page_context(
        ctx, svc=svc, form=form, errors=errors or {}, latest=latest, next=next,
        protocol_options=lambda current: [(p, p) for p in svc_domain.port_protocol_choices(current)],
    ), block="form", status_code=status)


@router.get(BASE + "/services/{name}/settings")
async def edit_service_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep,
                            next: str = "") -> Response:
    obj = await svc_domain.get_service(kube, ctx.namespace, check_name(name), actor=ctx.actor)
    offered = svc_domain.offered_traffic_fields(obj, await svc_domain.service_spec_fields(kube))
    form = svc_domain.ServiceSettingsForm.of(obj, offered=offered)
    if not form.ports and form.access != svc_domain.EXTERNAL_NAME:
        form.ports.append(svc_domain.PortRow())
    return _settings_page(request, ctx, svc_domain.ServiceView.of(obj), form,
                          next=next_url(ctx, next, f"{project_url(ctx)}/services/{name}"))


@router.post(BASE + "/services/{name}/settings")
async def edit_service(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """op=save replaces selector and ports (or the address) with the loaded version as precondition;
    add-/remove- ops only re-render the rows (the form works without JavaScript)."""
    check_name(name)
    raw = await read_lists(request)
    obj = await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor)
    view = svc_domain.ServiceView.of(obj)
    offered = svc_domain.offered_traffic_fields(obj, await svc_domain.service_spec_fields(kube))
    form = svc_domain.ServiceSettingsForm.from_form(raw, access=view.access, offered=offered)
    target = next_url(ctx, one(raw, "next"), f"{project_url(ctx)}/services/{name}")
    op = one(raw, "op", "save")
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
                   form: svc_domain.ExternalAccessForm, *, choice: gateway.GatewayChoice, next: str,
                   errors: dict[str, str] | None = None, latest: svc_domain.ServiceView | None = None,
                   status: int = 200, in_dialog: bool = False) -> Response:
    return dialog_page(request, "services/edit_external_access.html", page_context(
        ctx, svc=svc, form=form, errors=errors or {}, latest=latest, next=next, modes=svc_domain.ACCESS_MODES,
        mode_labels=svc_domain.MODE_LABELS, mode_help=svc_domain.MODE_HELP,
        min_port=svc_domain.NODE_PORT_MIN, max_port=svc_domain.NODE_PORT_MAX,
        choice=choice, path_types=[(t, gateway.PATH_TYPE_LABELS[t]) for t in gateway.PATH_TYPES],
    ), status=status, in_dialog=in_dialog)


async def _gateway_choice(kube: KubeDep, ctx: ProjectCtx, name: str) -> gateway.GatewayChoice:
    return await gateway.gateway_choice(kube, ctx.namespace, name, actor=ctx.actor, workspace=ctx.workspace.name)


@router.get(BASE + "/services/{name}/external-access")
async def edit_external_access_form(request: Request, name: str, ctx: ProjectViewer, kube: KubeDep,
                                    next: str = "") -> Response:
    obj = await svc_domain.get_service(kube, ctx.namespace, check_name(name), actor=ctx.actor)
    view = svc_domain.ServiceView.of(obj)
    if not view.can_edit_external_access:
        raise Invalid(_("External access can be set only for Services with a virtual IP address."))
    choice = await _gateway_choice(kube, ctx, name)
    return _external_page(request, ctx, view, svc_domain.ExternalAccessForm.of(obj, choice.route), choice=choice,
                          next=next_url(ctx, next, f"{project_url(ctx)}/services/{name}"))


@router.post(BASE + "/services/{name}/external-access")
async def edit_external_access(request: Request, name: str, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """None / NodePort (optional node ports) / LoadBalancer (annotations) / Gateway (an HTTPRoute), with
    the loaded version as precondition; op=switch and the row ops only re-render the form."""
    check_name(name)
    raw = await read_lists(request)
    obj = await svc_domain.get_service(kube, ctx.namespace, name, actor=ctx.actor)
    view = svc_domain.ServiceView.of(obj)
    form = svc_domain.ExternalAccessForm.from_form(raw)
    target = next_url(ctx, one(raw, "next"), f"{project_url(ctx)}/services/{name}")
    in_dialog = one(raw, "dialog") == "1"
    op = one(raw, "op", "save")
    if op != "save":
        choice = await _gateway_choice(kube, ctx, name)
        form.fill_from(obj, choice.route)
        assert form.annotations is not None
        if op == "add-annotation":
            form.annotations.append(svc_domain.KeyValueRow())
        elif op.startswith("remove-annotation:") and op[18:].isdigit() and int(op[18:]) < len(form.annotations):
            form.annotations.pop(int(op[18:]))
        return _external_page(request, ctx, view, form, choice=choice, next=target, in_dialog=in_dialog)
    try:
        async with audited(request, ctx.me, "edit-external-access", "Service", name):
            await svc_domain.edit_external_access(kube, ctx.namespace, name, actor=ctx.actor, form=form,
                                                  workspace=ctx.workspace.name)
    except Invalid as e:
        choice = await _gateway_choice(kube, ctx, name)
        form.fill_from(obj, choice.route)
        return _external_page(request, ctx, view, form, choice=choice, next=target,
                              errors=e.errors or {"_": e.message}, status=422, in_dialog=in_dialog)
    except EditConflict as e:
        latest = svc_domain.ServiceView.of(e.latest)
        form.resource_version = latest.resource_version
        choice = await _gateway_choice(kube, ctx, name)
        form.fill_from(e.latest, choice.route)
        errors = {"_": e.message + " " + _("Your choice is kept below; the server's current setting is shown "
                                           "above it. Choose OK again to apply your choice to the latest version.")}
        return _external_page(request, ctx, latest, form, choice=choice, next=target, errors=errors, latest=latest,
                              status=422 if is_partial(request) else 409, in_dialog=in_dialog)
    return see_other(request, target, done=("external-access", name))


# -- Delete -----------------------------------------------------------------------------------------------

