"""Create Stateless/Stateful Service: the four-step wizard, its Edit Mode, Review and Create.

URLs (under `/workspaces/{ws}/projects/{project}/services/-/new`):
  GET  /stateless | /stateful              step 1 with a fresh draft
  POST /stateless | /stateful              the whole wizard form: `draft` (the state), `step`, `mode`,
                                           `pending`, `reached`, `submission`, the step's fields and
                                           the `action` of the button pressed
  GET  /stateless/name-check | ...         the Name and Version messages, as the user types (htmx)

The wizard keeps no server session: the draft token (both manifests, `Draft.to_token`) travels in the
form. Values typed on a step left with Previous that do not validate yet travel in `pending` (raw, per
step) so that nothing typed is lost; Edit Mode, Review and Create need every step valid.

Actions: next, prev, goto:<step>, review, create, edit-mode-on, edit-mode-off, upload, download, and row
actions that change the current step's rows without validating (add-container:worker|init,
remove-container:<i>, add-port:<i>, remove-port:<i>:<j>, add-env:<i>, remove-env:<i>:<k>,
add-volume:<type>, remove-volume:<i>, add-item:<i>, remove-item:<i>:<k>, add-template,
remove-template:<t>, add-row:<list>, remove-row:<list>:<i>, lb-provider).

Kubernetes is asked only when the wizard opens (the project's ConfigMaps, Secrets, PVCs and
StorageClasses, as the user, kept in a small per-user cache), for the name check, and on Create (the
dry-run, then the objects). Every call is made as the user.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app.deps import KubeDep, ProjectCtx, ProjectEditor
from app.domain import creation as creation_domain
from app.domain import submissions
from app.domain.forms import flatten, unflatten
from app.domain.k8s import service_traffic
from app.domain.manifests import (
    ACCESS_MODES,
    LB_ANNOTATION_KEYS,
    LB_PROVIDERS,
    PROTOCOLS,
    WORKLOAD_KINDS,
    default_port_name,
    detect_provider,
    dig,
)
from app.domain.wizard import (
    DRAFT_ERROR_KEY,
    STEPS,
    Draft,
    check_name_available,
    field_for_cause,
    session,
    step_class,
    submit_values,
    validate_all,
)
from app.domain.wizard.choices import ProjectChoices, load_choices
from app.domain.wizard.session import REVIEW, SLUGS, State
from app.domain.yaml import MAX_BYTES, Problem, dump_yaml
from app.i18n import _, lazy_
from app.kube.client import KubeGateway
from app.kube.errors import KubeError
from app.routes.common import audited, read_form, render, see_other
from app.routes.create.common import BASE, CreateFailed, attachment
from app.templating import is_partial
from app.web import urls

router = APIRouter(tags=["wizard"])

FLAVORS = ("stateless", "stateful")
TITLES = {"stateless": lazy_("Create Stateless Service"), "stateful": lazy_("Create Stateful Service")}
CRUMBS = {"stateless": lazy_("Stateless Service"), "stateful": lazy_("Stateful Service")}  # as the choice names them
REFRESH = "refresh-choices"  # the pickers' Refresh: the same step again, with the project's objects as of now
TOP = "outerHTML show:window:top"  # htmx: a new step (or its messages) starts at the top


async def _choices(ctx: ProjectCtx, kube: KubeGateway, *, refresh: bool = False) -> ProjectChoices:
    """The pickers' choices, as of now (the project's level read from its row on every request)."""
    return await load_choices(kube, ctx.namespace, ctx.actor, user=str(ctx.me.user.uid),
                              pod_security=ctx.pod_security, refresh=refresh)


# ---------------------------------------------------------------------------------------------------
# Steps, Edit Mode, Review, Create


async def _name_errors(kube: KubeGateway, ctx: ProjectCtx, flavor: str, name: str,
                       version: str) -> dict[str, str]:
    async def exists(kind: str, obj_name: str) -> bool:
        try:
            return await kube.exists(kind, ctx.namespace, obj_name, actor=ctx.actor)
        except KubeError:
            return False  # cannot tell now: the dry-run on Create will
    return await check_name_available(name, version, flavor, exists=exists)  # type: ignore[arg-type]


async def _submit(state: State, slug: str, values: dict[str, Any], choices: ProjectChoices,
                  kube: KubeGateway, ctx: ProjectCtx) -> dict[str, str]:
    """Validate a step's values (as posted: nested text) and apply them to the draft; returns the errors
    (draft unchanged then)."""
    result = submit_values(state.draft, slug, values, resources=choices.resources)
    errors = dict(result.errors)
    if not errors and slug == "basic":
        errors = await _name_errors(kube, ctx, state.flavor, str(values.get("name") or ""),
                                    str(values.get("version") or ""))
    if errors:
        state.show(slug, result.form_values, errors)
        return errors
    state.draft = result.draft
    state.pending.pop(slug, None)
    return {}


async def _apply_pending(state: State, choices: ProjectChoices, kube: KubeGateway, ctx: ProjectCtx) -> bool:
    """Validate what was typed on steps left with Previous; shows the first that is not valid."""
    for slug in SLUGS:
        # `pending` came back from the browser as JSON: made text again, as a posted form is.
        if slug in state.pending and await _submit(state, slug, unflatten(flatten(state.pending[slug])), choices,
                                                   kube, ctx):
            return False
    return True


async def _finish(request: Request, state: State, ctx: ProjectCtx, kube: KubeGateway, action: str,
                  accept_dropped: bool, validated: tuple[str, ProjectChoices] | None = None) -> Response:
    """Review or Create a draft whose current step is applied. `validated`: the step this request
    validated and applied, and the project choices it was checked against."""
    in_yaml = state.mode == "yaml"
    choices = await _choices(ctx, kube, refresh=action == "create")
    # A step just checked is not checked again, unless Create loaded newer choices (a deleted ConfigMap...).
    skip = (validated[0],) if validated is not None and validated[1] is choices else ()
    errors = validate_all(state.draft, choices.resources, validated=skip)
    if errors:
        if in_yaml and set(errors) == {DRAFT_ERROR_KEY}:
            state.problems = [Problem("", 0, None, None, errors[DRAFT_ERROR_KEY])]
            return _render(request, ctx, state, choices, status=422)
        session.show_validation(state, errors)
        if in_yaml:
            state.alerts.insert(
                0, _("The YAML is valid, but the values below are not: fix them here or in Edit Mode."))
        return _render(request, ctx, state, choices, status=422)
    objects = state.draft.objects(namespace=ctx.namespace, creator=ctx.me.user.username)
    state.dropped = await creation_domain.dropped_fields(kube, objects)
    state.objects = [(o["kind"], o["metadata"]["name"], dump_yaml(o)) for o in objects]
    if action != "create":
        state.show(REVIEW)
        return _render(request, ctx, state, choices)
    if state.dropped and not accept_dropped:
        state.show(REVIEW)
        state.alerts.append(_("Kubernetes would silently drop the fields listed below. Remove them in Edit "
                              "Mode, or confirm that you want to create the service without them."))
        return _render(request, ctx, state, choices, status=422)

    name = state.draft.name

    async def work() -> creation_domain.CreateOutcome:
        try:
            async with audited(request, ctx.me, "create", "Service", name) as note:
                outcome = await creation_domain.create_all(kube, actor=ctx.actor, namespace=ctx.namespace,
                                                           objects=[dict(o) for o in objects],
                                                           **ctx.rules)
                note["detail"] = ", ".join(f"{k}/{n}" for k, n in outcome.created) or "; ".join(
                    map(str, outcome.problems))
                if not outcome.ok:
                    raise CreateFailed(outcome)
                return outcome
        except CreateFailed as failed:
            return failed.outcome

    outcome = await submissions.guard.once(request.app.state.sessionmaker, (str(ctx.me.user.uid), state.submission), work)
    if outcome is None:  # a simultaneous submit of the same form failed unexpectedly: let it be retried
        state.show(REVIEW)
        state.alerts.append(_("The service was not created. Please try again."))
        return _render(request, ctx, state, choices, status=422)
    if outcome.ok:
        return see_other(request, f"{_services_url(ctx)}/{name}", done=("created", name))
    return _show_create_failure(request, ctx, state, choices, outcome)


def _show_create_failure(request: Request, ctx: ProjectCtx, state: State, choices: ProjectChoices,
                         outcome: creation_domain.CreateOutcome) -> Response:
    """Put the server's causes on the fields they concern; what has no field goes on top (or on the YAML)."""
    state.rolled_back = outcome.rolled_back
    by_step: dict[str, dict[str, str]] = {}
    for problem in outcome.problems:
        target = field_for_cause(state.draft, problem.kind, problem.field) if problem.field else None
        if target is None or state.mode == "yaml":
            state.server_problems.append(problem.located_in(state.yaml_text) if state.mode == "yaml" else problem)
        else:
            by_step.setdefault(target[0], {}).setdefault(target[1], problem.message)
    if state.mode == "yaml":
        return _render(request, ctx, state, choices, status=422)
    state.step_errors = set(by_step)
    for slug in SLUGS:
        if slug in by_step:
            state.show(slug, step_class(slug).read(state.draft).form_values(), by_step[slug])
            break
    else:
        state.show(REVIEW)
    return _render(request, ctx, state, choices, status=422)


async def _upload(form: Any) -> tuple[str | None, str]:
    """The uploaded file's text, or None and why not."""
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        return None, _("Choose a .yaml or .yml file first.")
    if not item.filename.lower().endswith((".yaml", ".yml")):
        return None, _("{name}: only .yaml or .yml files can be uploaded.").format(name=item.filename)
    data = await item.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return None, _("{name} is larger than {size} KiB.").format(name=item.filename, size=MAX_BYTES // 1024)
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, _("{name} is not UTF-8 text.").format(name=item.filename)


async def _post(request: Request, ctx: ProjectCtx, kube: KubeGateway, flavor: str) -> Response:
    form = await read_form(request)
    state = session.read_state(form, flavor)
    action = form.get("action")
    action = action if isinstance(action, str) and action else "next"
    choices = await _choices(ctx, kube, refresh=action == REFRESH)
    if state.alerts:  # a damaged draft token: start again, saying why
        return _render(request, ctx, state, choices, status=422)
    accept_dropped = form.get("accept_dropped") == "1"

    if state.mode == "yaml":
        if action == "download":
            return attachment(state.yaml_text, f"{_yaml_name(state, ctx)}.{ctx.namespace}.yaml", default="service.yaml")
        if action == "upload":
            text, error = await _upload(form)
            if text is None:
                state.alerts.append(error)
                return _render(request, ctx, state, choices, status=422)
            state.yaml_text = text
            ok = _parse_yaml(state, ctx) is not None
            return _render(request, ctx, state, choices, status=200 if ok else 422)
        draft = _parse_yaml(state, ctx)
        if draft is None:
            return _render(request, ctx, state, choices, status=422)
        state.draft = draft
        state.pending = {}
        if action in ("review", "create"):
            return await _finish(request, state, ctx, kube, action, accept_dropped)
        if action == "edit-mode-on":
            return _render(request, ctx, state, choices)
        target = state.step
        if action.startswith("goto:") and action[5:] in SLUGS:
            target = action[5:]
        if target == REVIEW:  # Edit Mode was opened from the Review: back to it, with the edited objects
            return await _finish(request, state, ctx, kube, "review", accept_dropped)
        state.show(target)
        return _render(request, ctx, state, choices)

    if state.step == REVIEW:
        if action == "create":
            return await _finish(request, state, ctx, kube, action, accept_dropped)
        if action == "edit-mode-on":
            session.enter_yaml(state, namespace=ctx.namespace, creator=ctx.me.user.username)
            return _render(request, ctx, state, choices)
        target = SLUGS[-1]
        if action.startswith("goto:") and action[5:] in SLUGS:
            target = action[5:]
        if action == "review":
            return await _finish(request, state, ctx, kube, action, accept_dropped)
        state.show(target)
        return _render(request, ctx, state, choices)

    slug = state.step
    values = session.step_values(form, slug)
    if action == REFRESH:  # nothing is checked: what was typed comes back as it was
        state.show(slug, values)
        return _render(request, ctx, state, choices, swap="outerHTML")
    if session.row_action(state, action, values, choices):
        state.show(slug, values)
        if action.startswith("add-container") and is_partial(request):
            return _render_new_container(request, state, choices)
        return _render(request, ctx, state, choices, swap="outerHTML")

    goto = action[5:] if action.startswith("goto:") and action[5:] in SLUGS else None
    backwards = action == "prev" or (goto is not None and SLUGS.index(goto) < state.index)
    if backwards:
        # Previous never validates, and keeps what was typed: valid values go into the draft,
        # others travel as they are until the user comes back.
        result = submit_values(state.draft, slug, values, resources=choices.resources)
        if result.errors:
            state.pending[slug] = result.form_values
        else:
            state.draft = result.draft
            state.pending.pop(slug, None)
        state.show(goto or SLUGS[max(state.index - 1, 0)])
        return _render(request, ctx, state, choices)

    if await _submit(state, slug, values, choices, kube, ctx):
        return _render(request, ctx, state, choices, status=422)
    if action in ("edit-mode-on", "review", "create"):
        # Only this step was checked against the draft as it now is, if no other step's values were waiting.
        validated = None if state.pending else (slug, choices)
        if not await _apply_pending(state, choices, kube, ctx):
            state.alerts.append(_("Fix the marked fields of this step first."))
            return _render(request, ctx, state, choices, status=422)
        if action == "edit-mode-on":
            session.enter_yaml(state, namespace=ctx.namespace, creator=ctx.me.user.username)
            return _render(request, ctx, state, choices)
        return await _finish(request, state, ctx, kube, action, accept_dropped, validated=validated)
    following = SLUGS[min(state.index + 1, len(SLUGS) - 1)]
    target = goto if goto is not None and SLUGS.index(goto) <= state.reached + 1 else following
    state.show(target)
    return _render(request, ctx, state, choices)


def _parse_yaml(state: State, ctx: ProjectCtx) -> Draft | None:
    return session.parse_yaml(state, namespace=ctx.namespace, external_ips_allowed=ctx.project.allow_external_ips)


def _yaml_name(state: State, ctx: ProjectCtx) -> str:
    draft = _parse_yaml(State(flavor=state.flavor, draft=state.draft, yaml_text=state.yaml_text), ctx)
    return (draft.name if draft else "") or state.draft.name or "service"


# ---------------------------------------------------------------------------------------------------
# Rendering


def _services_url(ctx: ProjectCtx) -> str:
    return urls.services(ctx.workspace.name, ctx.project.name)


def _choices_context(choices: ProjectChoices) -> dict[str, Any]:
    """What the pickers offer (a container card's environment rows, the Volumes step)."""
    resources = choices.resources
    return {
        "configmaps": resources.configmaps,
        "secrets": resources.secrets,
        "offered_secrets": choices.offered_secrets,
        "pvcs": resources.pvcs,
        "storage_classes": resources.storage_classes,
        "default_storage_class": resources.default_storage_class,
        "host_path_refusal": resources.host_path_refusal or "",
        "protocols": PROTOCOLS,
        "default_port_name": default_port_name,
    }


def _render_new_container(request: Request, state: State, choices: ProjectChoices) -> Response:
    """Add Container with htmx: only the new card, appended to the others. The rest of the form stays as
    the user left it (nothing is re-rendered, focus goes to the new card's Image), and the step costs a
    fraction of a full render. Without JavaScript the whole page comes back instead."""
    containers = state.values["containers"]
    i = len(containers) - 1
    context = {**_choices_context(choices), "c": containers[i], "i": i, "p": f"containers.{i}", "errors": {},
               "appended": True}
    return render(request, "wizard/_container.html", context,
                  headers={"HX-Retarget": "#containers", "HX-Reswap": "beforeend"})


def _render(request: Request, ctx: ProjectCtx, state: State, choices: ProjectChoices, *, status: int = 200,
            swap: str = TOP) -> Response:
    base = _services_url(ctx)
    url = f"{base}/-/new/{state.flavor}"
    if state.mode == "form" and state.step == "volumes":
        session.with_mount_rows(state.values, state.draft.container_names())
    provider = None
    if state.step == "advanced" and state.mode == "form":
        keys = [str(r.get("key") or "") for r in session.rows_of(state.values, "service_annotations")]
        provider = detect_provider(keys)
    context = {
        **_choices_context(choices),
        "nav": "services",
        "base": base,
        "url": url,
        "flavor": state.flavor,
        "kind": WORKLOAD_KINDS[state.flavor],
        "crumb": str(CRUMBS[state.flavor]),
        "title": str(TITLES[state.flavor]),  # translated once here, not at each use in the page
        "steps": [(s.step, str(s.title)) for s in STEPS],
        "review": REVIEW,
        "state": state,
        "values": state.values,
        "errors": state.errors,
        "draft_token": state.draft.to_token(),
        "pending_json": json.dumps(state.pending, separators=(",", ":")) if state.pending else "",
        "workload_name": state.draft.workload_name,
        "access_modes": ACCESS_MODES,
        "providers": LB_PROVIDERS,
        "provider": provider,
        "provider_keys": sorted(LB_ANNOTATION_KEYS) if state.step == "advanced" else [],
        "traffic_offered": service_traffic.offered(
            choices.service_fields, headless=state.flavor == "stateful"
            or dig(state.draft.service, "spec", "clusterIP") == "None"),
    }
    headers = {"HX-Reswap": swap} if is_partial(request) else None
    return render(request, "wizard/page.html", context, block="wizard" if is_partial(request) else None,
                  status_code=status, headers=headers)


# ---------------------------------------------------------------------------------------------------
# Routes, one set per flavor (explicit paths: /-/new/yaml, /-/new/external, ... belong to other pages)


def _routes(flavor: str) -> None:
    async def open_wizard(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
        """Step 1 with a fresh draft; the project's objects are loaded (as the user) for the pickers."""
        choices = await _choices(ctx, kube, refresh=True)
        draft = Draft.new(flavor)  # type: ignore[arg-type]
        state = State(flavor=flavor, draft=draft, submission=secrets.token_urlsafe(16))
        state.show("basic")
        return _render(request, ctx, state, choices)

    async def post_wizard(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
        """One form, many buttons: see the module docstring for the actions."""
        return await _post(request, ctx, kube, flavor)

    async def name_check(request: Request, ctx: ProjectEditor, kube: KubeDep, name: str = "",
                         version: str = "") -> Response:
        """The Name and Version messages as the user types (the only per-keystroke cluster call)."""
        errors: dict[str, str] = {}
        if name.strip():
            errors = await _name_errors(kube, ctx, flavor, name[:100], version[:100])
        return render(request, "wizard/_name_check.html", {"errors": errors})

    path = f"{BASE}/{flavor}"
    router.add_api_route(path, open_wizard, methods=["GET"], name=f"wizard_{flavor}")
    router.add_api_route(path, post_wizard, methods=["POST"], name=f"wizard_{flavor}_post")
    router.add_api_route(path + "/name-check", name_check, methods=["GET"],
                         name=f"wizard_{flavor}_name_check")


for _flavor in FLAVORS:
    _routes(_flavor)

__all__ = ["router"]
