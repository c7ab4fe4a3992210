"""Create Service: External Service and Specify Workloads, the step forms.

URLs (all under `/workspaces/{ws}/projects/{project}/services/-/new`, editors only):
  GET       ""                      choose how to create the Service
  GET|POST  /external               External Service: Basic Information -> External Service Address
  GET|POST  /workloads              Specify Workloads: Basic Information -> Service Settings -> Advanced
  GET       /workloads/picker       the Specify Workload picker (fragment; ?kind=Deployment|StatefulSet|DaemonSet)
  GET       /workloads/hint         the pods and workloads the selector rows pick (fragment; ?selector.0.key=...)
  GET|POST  /yaml                   Edit YAML: editor, upload (several files), check, download, create

The step forms keep their state in the form (hidden fields; see `app.domain.custom_services`) and post
to their own URL with `op` telling what to do (next, prev, goto:<step>, add:<rows>, remove:<rows>:<i>,
pick:<kind>:<name>, picker:<kind>, protocol:<i>, provider, switch, create). They work without
JavaScript; with htmx the form replaces itself. Every create lands on the new Service's page, runs once
per form (`submissions.guard`), is audited, and is made as the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import KubeDep, ProjectCtx, ProjectEditor
from app.domain import creation as creation_domain
from app.domain import custom_services as cs
from app.domain import submissions
from app.domain.forms import flatten, form_items, unflatten
from app.domain.k8s import service_traffic
from app.domain.manifests import LB_PROVIDERS, NODE_PORT_MAX, NODE_PORT_MIN, PROTOCOLS, STICKY_TIMEOUT_MAX
from app.domain.services import service_spec_fields
from app.i18n import _
from app.kube.errors import KubeError
from app.routes.common import audited, render, render_page_or_block, see_other
from app.routes.create.common import (
    BASE,
    CreateFailed,
    FormRoute,
    new_url,
    once_key,
    service_url,
    submission_token,
)

router = APIRouter(tags=["creation"], route_class=FormRoute)


# ---------------------------------------------------------------------------------------------------
# External Service and Specify Workloads: multi-step forms with their state in hidden fields

# Form fields that are not a step's: how the form moves, not what it creates.
_META = frozenset({"step", "op", "submission", "seen", "applied_name", "csrf_token"})


@dataclass
class _Picker:
    kind: str
    open: bool = False
    workloads: list[cs.WorkloadInfo] = field(default_factory=list)
    error: str = ""


@dataclass
class _State:
    flow: cs.Flow
    step: str
    values: dict[str, Any]
    submission: str
    seen: set[str] = field(default_factory=set)
    applied_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    picker_kind: str = "Deployment"
    picker_open: bool = False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _read_state(flow: cs.Flow, form: Any) -> _State:
    raw = unflatten(form_items(form))
    step = raw.get("step")
    step = step if isinstance(step, str) and flow.step(step) else flow.steps[0].slug
    submission = raw.get("submission")
    slugs = {s.slug for s in flow.steps}
    return _State(
        flow=flow,
        step=step,
        values={k: v for k, v in raw.items() if k not in _META},
        submission=submission[:64] if isinstance(submission, str) else "",
        seen={s for s in _as_list(raw.get("seen")) if s in slugs},
        applied_name=raw.get("applied_name") if isinstance(raw.get("applied_name"), str) else "",
    )


def _canonical(state: _State, models: dict[str, cs.Step]) -> None:
    """Replace validated steps' raw values with their canonical ones (trimmed, blank rows dropped)."""
    for model in models.values():
        state.values.update(model.form_values())


def _rows(values: dict[str, Any], key: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows as the template shows them: dicts of text, whatever was posted."""
    return [{k: _text(row, k) for k in keys} for row in _as_list(values.get(key)) if isinstance(row, dict)]


def _text(values: dict[str, Any], key: str, default: str = "") -> str:
    value = values.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else default


async def _render_flow(request: Request, ctx: ProjectCtx, kube: KubeDep, state: _State, *,
                       status: int = 200) -> Response:
    flow, step = state.flow, state.step
    url = f"{new_url(ctx)}/{flow.slug}"
    own = flow.fields(step)
    hidden = flatten({k: v for k, v in state.values.items() if k not in own})
    values = state.values
    context: dict[str, Any] = {
        "nav": "services", "flow": flow, "step": step, "url": url, "base_new": new_url(ctx),
        "steps": cs.step_views(flow, step), "first": flow.index(step) == 0,
        "last": flow.index(step) == len(flow.steps) - 1, "hidden": hidden, "errors": state.errors,
        "submission": state.submission, "seen": sorted(state.seen), "applied_name": state.applied_name,
        "v": {k: _text(values, k) for k in ("name", "alias", "description", "external_name", "access_mode",
                                            "access", "lb_provider", "sticky_timeout")},
        "sticky_session": bool(values.get("sticky_session")),
    }
    if step == "settings":
        workloads, error = await cs.project_workloads(kube, ctx.namespace, actor=ctx.actor)
        kind = state.picker_kind if state.picker_kind in cs.PICKER_KINDS else cs.PICKER_KINDS[0]
        context["picker"] = _Picker(kind, state.picker_open,
                                    [w for w in workloads or [] if w.kind == kind], error)
        context["hint"] = await cs.live_selector_hint(kube, ctx.namespace, actor=ctx.actor, rows=values.get("selector"),
                                                      workloads=workloads)
        context["selector_rows"] = _rows(values, "selector", ("key", "value"))
        context["port_rows"] = _rows(values, "ports", ("protocol", "name", "container_port", "service_port"))
        context["protocols"] = PROTOCOLS
        context["picker_kinds"] = [(k, cs.PICKER_KIND_LABELS[k]) for k in cs.PICKER_KINDS]
    if step == "advanced":
        context["headless"] = values.get("access_mode") == "headless"
        ports = {r["name"]: r for r in _rows(values, "ports", ("protocol", "name", "container_port", "service_port"))}
        context["node_port_rows"] = [
            {**r, "port": ports.get(r["name"], {}).get("service_port", ""),
             "protocol": ports.get(r["name"], {}).get("protocol", "")}
            for r in _rows(values, "node_ports", ("name", "node_port"))
        ]
        provider = _text(values, "lb_provider")
        context["providers"] = [(p.id, p.label) for p in LB_PROVIDERS]
        context["annotation_keys"] = cs.provider_keys(provider)
        context["annotation_rows"] = _rows(values, "service_annotations", ("key", "value"))
        context["label_rows"] = _rows(values, "labels", ("key", "value"))
        context["node_port_min"], context["node_port_max"] = NODE_PORT_MIN, NODE_PORT_MAX
        context["sticky_max"] = STICKY_TIMEOUT_MAX
        context["traffic_offered"] = service_traffic.offered(await service_spec_fields(kube),
                                                             headless=context["headless"])
        context["tv"] = {**service_traffic.DEFAULTS,
                         **{name: values[name] for name in service_traffic.FIELDS if values.get(name)}}
    template = f"creation/{flow.slug}.html"
    return render_page_or_block(request, template, context, "form", status_code=status)


async def _name_problem(kube: KubeDep, ctx: ProjectCtx, name: str) -> str | None:
    async def exists(n: str) -> bool:
        return await kube.exists("Service", ctx.namespace, n, actor=ctx.actor)
    try:
        return await cs.check_name_available(name, exists=exists)
    except KubeError as e:
        return e.message


def _enter(state: _State, target: str, models: dict[str, cs.Step]) -> None:
    """Move to `target`, with its first-visit defaults and what it mirrors of earlier steps."""
    state.step = target
    context = state.flow.context(models)
    if target == "settings" and target not in state.seen:
        state.values = cs.settings_defaults(state.values)
    if target == "advanced":
        if target not in state.seen:
            state.values = cs.advanced_defaults(state.values, context.name, context.ports)
        else:
            state.values = cs.align_node_ports(state.values, context.ports)
        if not state.values.get("lb_provider"):
            state.values["lb_provider"] = cs.guess_provider(state.values)
    state.seen.add(target)


async def _flow_get(request: Request, ctx: ProjectCtx, kube: KubeDep, flow: cs.Flow) -> Response:
    first = flow.steps[0].slug
    state = _State(flow, first, {}, submission_token(), {first})
    return await _render_flow(request, ctx, kube, state)


async def _flow_post(request: Request, ctx: ProjectCtx, kube: KubeDep, flow: cs.Flow) -> Response:
    form = await request.form()
    state = _read_state(flow, form)
    op_value = form.get("op")
    op = op_value if isinstance(op_value, str) else ""
    here = flow.index(state.step)
    last = len(flow.steps) - 1
    verb, _sep, arg = op.partition(":")

    if verb == "prev":
        state.step = flow.steps[max(here - 1, 0)].slug
        return await _render_flow(request, ctx, kube, state)
    if verb == "goto":
        if flow.step(arg) and flow.index(arg) < here:
            state.step = arg
        return await _render_flow(request, ctx, kube, state)
    if verb in ("add", "remove", "protocol", "provider"):
        state.values = cs.apply_op(state.values, op)
        return await _render_flow(request, ctx, kube, state)
    if verb == "switch":
        return await _render_flow(request, ctx, kube, state)
    if verb == "picker":
        state.picker_kind, state.picker_open = arg, True
        return await _render_flow(request, ctx, kube, state)
    if verb == "pick":
        return await _pick(request, ctx, kube, state, arg)

    creating = verb == "create" or (verb == "" and here == last)
    upto = last if creating else here
    models, failed, errors = flow.validate_upto(state.values, upto)
    _canonical(state, models)
    if failed is not None:
        state.step, state.errors = failed, errors
        return await _render_flow(request, ctx, kube, state, status=422)
    basic = models["basic"]
    assert isinstance(basic, cs.BasicInfo)
    if state.applied_name != basic.name:
        state.values = cs.follow_name(state.values, state.applied_name, basic.name)
        state.applied_name = basic.name
    # At Create the dry run finds a taken name (inside the once-only work: see `_create_from_flow`).
    if state.step == "basic" and not creating and (problem := await _name_problem(kube, ctx, basic.name)):
        state.step, state.errors = "basic", {"name": problem}
        return await _render_flow(request, ctx, kube, state, status=422)
    if not creating:
        if here < last:
            _enter(state, flow.steps[here + 1].slug, models)
        return await _render_flow(request, ctx, kube, state)
    if verb != "create":  # Enter on the last step without its button: show, do not create
        return await _render_flow(request, ctx, kube, state)
    return await _create_from_flow(request, ctx, kube, state, models)


async def _pick(request: Request, ctx: ProjectCtx, kube: KubeDep, state: _State, arg: str) -> Response:
    kind, _sep, name = arg.partition(":")
    state.picker_kind = kind if kind in cs.PICKER_KINDS else cs.PICKER_KINDS[0]
    if not cs.valid_workload_ref(kind, name):
        state.errors = {"selector": _("Choose a workload from the list.")}
        return await _render_flow(request, ctx, kube, state, status=422)
    try:
        obj = await kube.get(kind, ctx.namespace, name, actor=ctx.actor)
    except KubeError as e:
        state.errors = {"selector": _("The workload {name} could not be read: {msg}").format(name=name, msg=e.message)}
        state.picker_open = True
        return await _render_flow(request, ctx, kube, state, status=422)
    picked = cs.workload_info(kind, obj)
    if not picked.pod_labels:
        state.errors = {"selector": _("The pods of {name} have no labels to select them by.").format(name=name)}
        return await _render_flow(request, ctx, kube, state, status=422)
    state.values = cs.apply_op(state.values, f"pick:{kind}:{name}", picked=picked)
    return await _render_flow(request, ctx, kube, state)


async def _create_from_flow(request: Request, ctx: ProjectCtx, kube: KubeDep, state: _State,
                            models: dict[str, cs.Step]) -> Response:
    flow = state.flow
    service = flow.build(models, namespace=ctx.namespace, creator=ctx.me.user.username)
    name = service["metadata"]["name"]

    async def work() -> creation_domain.CreateOutcome:
        async with audited(request, ctx.me, "create", "Service", name) as note:
            outcome = await creation_domain.create_all(kube, actor=ctx.actor, namespace=ctx.namespace,
                                                       objects=[service], **ctx.rules)
            note["detail"] = f"{flow.slug}: " + ("; ".join(map(str, outcome.problems)) or "Service/" + name)
            if not outcome.ok:
                raise CreateFailed(outcome)
            return outcome

    try:
        await submissions.guard.once(request.app.state.sessionmaker, once_key(ctx, state.submission, [service]), work)
    except CreateFailed as failed:
        errors: dict[str, str] = {}
        target: str | None = None
        general: list[str] = []
        for p in failed.outcome.problems:
            found = cs.field_for_cause(flow, p.field) if p.field else None
            if found is None:
                general.append(p.message if not p.field else f"{p.field}: {p.message}")
                continue
            slug, key = found
            errors.setdefault(key, p.message)
            if target is None or flow.index(slug) < flow.index(target):
                target = slug
        if general:
            errors["_"] = " ".join(general)
        state.errors = errors
        state.step = target or state.step
        return await _render_flow(request, ctx, kube, state, status=422)
    return see_other(request, service_url(ctx, name), done=("created", name))


@router.get(BASE + "/external")
async def new_external(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    return await _flow_get(request, ctx, kube, cs.EXTERNAL)


@router.post(BASE + "/external")
async def post_external(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    return await _flow_post(request, ctx, kube, cs.EXTERNAL)


@router.get(BASE + "/workloads")
async def new_workloads(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    return await _flow_get(request, ctx, kube, cs.WORKLOADS)


@router.post(BASE + "/workloads")
async def post_workloads(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    return await _flow_post(request, ctx, kube, cs.WORKLOADS)


@router.get(BASE + "/workloads/picker")
async def workload_picker(request: Request, ctx: ProjectEditor, kube: KubeDep, kind: str = "Deployment") -> Response:
    """The picker's list for one kind (its tabs fetch this)."""
    kind = kind if kind in cs.PICKER_KINDS else cs.PICKER_KINDS[0]
    workloads, error = await cs.project_workloads(kube, ctx.namespace, actor=ctx.actor)
    picker = _Picker(kind, True, [w for w in workloads or [] if w.kind == kind], error)
    return render(request, "creation/_workload_picker.html", {
        "picker": picker, "url": f"{new_url(ctx)}/workloads",
        "picker_kinds": [(k, cs.PICKER_KIND_LABELS[k]) for k in cs.PICKER_KINDS]})


@router.get(BASE + "/workloads/hint")
async def selector_hint(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """The selector hint for the rows in the query (`selector.0.key=app&selector.0.value=web`)."""
    raw = unflatten(form_items(request.query_params))
    hint = await cs.live_selector_hint(kube, ctx.namespace, actor=ctx.actor, rows=raw.get("selector"))
    return render(request, "creation/_selector_hint.html", {"hint": hint})


