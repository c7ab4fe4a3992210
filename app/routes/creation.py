"""Create Service: the entry page and the Edit-by-YAML path (External and Specify Workloads live beside)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response

from app.deps import KubeDep, ProjectEditor
from app.domain import creation as creation_domain
from app.domain import yaml_creation
from app.domain.yaml_gate import MAX_BYTES
from app.i18n import _
from app.routes.common import audited, render, see_other

router = APIRouter(tags=["creation"])
BASE = "/workspaces/{ws}/projects/{project}/services/new"


def service_url(ctx, name: str) -> str:  # type: ignore[no-untyped-def]
    return f"/workspaces/{ctx.workspace.name}/projects/{ctx.project.name}/services/{name}"


@router.get(BASE)
async def new_service(request: Request, ctx: ProjectEditor) -> Response:
    """Choose how to create the Service."""
    return render(request, "creation/choose.html", {"nav": "services"})


def _attachment(text: str, filename: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:200] or "manifest.yaml"
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})


async def _uploaded(form) -> tuple[list[tuple[str, bytes]], str | None]:  # type: ignore[no-untyped-def]
    files: list[tuple[str, bytes]] = []
    for item in form.getlist("files"):
        if isinstance(item, UploadFile) and item.filename:
            name = item.filename
            if not name.lower().endswith((".yaml", ".yml", ".json")):
                return [], _("{name}: only .yaml, .yml or .json files can be uploaded.").format(name=name)
            data = await item.read(MAX_BYTES + 1)
            files.append((name, data))
    return files, None


@router.get(BASE + "/yaml")
async def new_service_yaml(request: Request, ctx: ProjectEditor) -> Response:
    return render(request, "creation/yaml.html", {
        "nav": "services", "text": yaml_creation.template(ctx.namespace), "plan": None, "error": "",
        "submission": __import__("secrets").token_urlsafe(12),
    })


@router.post(BASE + "/yaml")
async def create_service_yaml(request: Request, ctx: ProjectEditor, kube: KubeDep) -> Response:
    """One form, several buttons: upload files into the editor, plan, download, or create."""
    form = await request.form()
    action = str(form.get("action") or "plan")
    text = str(form.get("text") or "")
    submission = str(form.get("submission") or "")
    ctx_vars = {"nav": "services", "text": text, "plan": None, "error": "", "submission": submission}
    if action == "upload":
        files, error = await _uploaded(form)
        if error or not files:
            ctx_vars["error"] = error or _("Choose one or more .yaml or .yml files first.")
            return render(request, "creation/yaml.html", ctx_vars, status_code=422)
        plan = yaml_creation.read(files, namespace=ctx.namespace)
        if plan.problems and not plan.objects:
            # Keep the files' text in the editor so the user can fix it where it broke.
            ctx_vars["text"] = "\n---\n".join(d.decode("utf-8", "replace").rstrip() for _n, d in files) + "\n"
            ctx_vars["plan"] = plan
            return render(request, "creation/yaml.html", ctx_vars, status_code=422)
        from app.domain.yaml_gate import dump_yaml
        ctx_vars["text"] = dump_yaml([m.obj for m in plan.objects])
        ctx_vars["plan"] = plan
        return render(request, "creation/yaml.html", ctx_vars)
    plan = yaml_creation.read([("", text)], namespace=ctx.namespace)
    if action == "download":
        return _attachment(text, yaml_creation.download_name(plan.objects, ctx.namespace))
    if plan.ok:
        plan = await yaml_creation.check(kube, plan, actor=ctx.actor, namespace=ctx.namespace)
    ctx_vars["plan"] = plan
    if not plan.ok:
        return render(request, "creation/yaml.html", ctx_vars, status_code=422)
    if action != "create":
        return render(request, "creation/yaml.html", ctx_vars)
    if plan.dropped and not form.get("accept_dropped"):
        ctx_vars["error"] = _("Some fields would be dropped by Kubernetes. Remove them, or confirm below.")
        return render(request, "creation/yaml.html", ctx_vars, status_code=422)

    async def work():  # type: ignore[no-untyped-def]
        async with audited(request, ctx.me, "create", "Service", plan.service_name or "") as note:
            outcome = await yaml_creation.create(kube, plan, actor=ctx.actor, namespace=ctx.namespace)
            note["detail"] = ", ".join(f"{k}/{n}" for k, n in outcome.created) or "; ".join(map(str, outcome.problems))
            if not outcome.ok:
                raise _CreateFailed(outcome)
            return outcome
    try:
        await creation_domain.guard.once((ctx.me.user.uid, submission), work)
    except _CreateFailed as failed:
        plan.server_problems = failed.outcome.problems
        ctx_vars["rolled_back"] = failed.outcome.rolled_back
        return render(request, "creation/yaml.html", ctx_vars, status_code=422)
    return see_other(request, service_url(ctx, plan.service_name or ""))


class _CreateFailed(Exception):
    def __init__(self, outcome: creation_domain.CreateOutcome) -> None:
        self.outcome = outcome
