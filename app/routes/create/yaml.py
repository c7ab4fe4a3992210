"""Create Service by YAML (GET|POST `.../services/-/new/yaml`): editor, upload (several files), check,
download, create."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app.deps import KubeDep, ProjectEditor
from app.domain import submissions, yaml_creation
from app.domain.yaml import MAX_BYTES, dump_yaml
from app.i18n import _
from app.routes.common import audited, render, see_other
from app.routes.create.common import (
    BASE,
    CreateFailed,
    Done,
    FormRoute,
    attachment,
    once_key,
    service_url,
    submission_token,
)

router = APIRouter(tags=["creation"], route_class=FormRoute)


# ---------------------------------------------------------------------------------------------------
# Edit by YAML


async def _uploaded(form: Any) -> tuple[list[tuple[str, bytes]], str | None]:
    files: list[tuple[str, bytes]] = []
    for item in form.getlist("files"):
        if isinstance(item, UploadFile) and item.filename:
            name = item.filename
            if not name.lower().endswith((".yaml", ".yml", ".json")):
                return [], _("{name}: only .yaml, .yml or .json files can be uploaded.").format(name=name)
            if len(files) >= yaml_creation.MAX_FILES:
                return [], _("At most {n} files at once.").format(n=yaml_creation.MAX_FILES)
            data = await item.read(MAX_BYTES + 1)
            files.append((name, data))
    return files, None


def _yaml_page(request: Request, ctx_vars: dict[str, Any], status: int = 200) -> Response:
    return render(request, "creation/yaml.html", ctx_vars, status_code=status)


@router.get(BASE + "/yaml")
async def new_service_yaml(request: Request, ctx: ProjectEditor) -> Response:
    return _yaml_page(request, {
        "nav": "services", "text": yaml_creation.template(ctx.namespace), "plan": None, "error": "",
        "submission": submission_token(), "namespace": ctx.namespace,
    })


@router.post(BASE + "/yaml")
async def create_service_yaml(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """One form, several buttons: upload files into the editor, check (plan), download, or create.
    Files chosen with any button are read first: their objects are shown, never created unseen."""
    form = await request.form()
    action = str(form.get("action") or "plan")
    text = form.get("text")
    text = text if isinstance(text, str) else ""
    submission = str(form.get("submission") or "")[:64]
    ctx_vars: dict[str, Any] = {"nav": "services", "text": text, "plan": None, "error": "",
                                "submission": submission, "namespace": ctx.namespace}
    files, error = await _uploaded(form)
    if error or (action == "upload" and not files):
        ctx_vars["error"] = error or _("Choose one or more .yaml or .yml files first.")
        return _yaml_page(request, ctx_vars, 422)
    if files:
        plan = yaml_creation.read(files, namespace=ctx.namespace, **ctx.rules)
        ctx_vars["uploaded"] = [n for n, _d in files]
        if plan.problems and not plan.objects:
            # Keep the files' text in the editor so the user can fix it where it broke.
            ctx_vars["text"] = "\n---\n".join(d.decode("utf-8", "replace").rstrip() for _n, d in files) + "\n"
            ctx_vars["plan"] = plan
            return _yaml_page(request, ctx_vars, 422)
        ctx_vars["text"] = dump_yaml([m.obj for m in plan.objects])
        plan = await yaml_creation.check(kube, plan, actor=ctx.actor, namespace=ctx.namespace,
                                         **ctx.rules)
        ctx_vars["plan"] = plan
        return _yaml_page(request, ctx_vars, 200 if plan.ok else 422)

    plan = yaml_creation.read([("", text)], namespace=ctx.namespace, **ctx.rules)
    if action == "download":
        return attachment(text, yaml_creation.download_name(plan.objects, ctx.namespace))
    ctx_vars["plan"] = plan
    if not plan.ok:
        return _yaml_page(request, ctx_vars, 422)
    if action != "create":
        plan = await yaml_creation.check(kube, plan, actor=ctx.actor, namespace=ctx.namespace,
                                         **ctx.rules)
        return _yaml_page(request, ctx_vars, 200 if plan.ok else 422)
    accept_dropped = bool(form.get("accept_dropped"))

    async def work() -> Done:
        # The dry run is part of the one-time work: a second click gets the first's result instead of
        # a dry run that finds the objects the first click created.
        await yaml_creation.check(kube, plan, actor=ctx.actor, namespace=ctx.namespace,
                                         **ctx.rules)
        if not plan.ok or (plan.dropped and not accept_dropped):
            return Done(False)
        async with audited(request, ctx.me, "create", "Service", plan.service_name or "") as note:
            outcome = await yaml_creation.create(kube, plan, actor=ctx.actor, namespace=ctx.namespace,
                                                 creator=ctx.me.user.username, **ctx.rules)
            note["detail"] = "yaml: " + (", ".join(f"{k}/{n}" for k, n in outcome.created)
                                         or "; ".join(map(str, outcome.problems)))
            if not outcome.ok:
                raise CreateFailed(outcome)
        return Done(True)

    try:
        done = await submissions.guard.once(request.app.state.sessionmaker, once_key(ctx, submission, plan.as_dicts()), work)
    except CreateFailed as failed:
        plan.server_problems = failed.outcome.problems
        ctx_vars["rolled_back"] = failed.outcome.rolled_back
        return _yaml_page(request, ctx_vars, 422)
    if not done.ok:
        if plan.ok and plan.dropped:
            ctx_vars["error"] = _("Some fields would be dropped by Kubernetes. Remove them, or confirm below.")
        return _yaml_page(request, ctx_vars, 422)
    return see_other(request, service_url(ctx, plan.service_name or ""), done=("created", plan.service_name or ""))
