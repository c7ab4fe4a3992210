"""What the Create Service pages share: their URL, a form read before the route (too large: 422), the
double-submit key, and the outcome of one create attempt."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.deps import ProjectCtx
from app.domain import creation as creation_domain
from app.domain.yaml import MAX_BYTES
from app.i18n import _
from app.routes.common import render
from app.web import urls


class FormRoute(APIRoute):
    """Reads a posted form before anything else (the CSRF check included) so that a field too large
    for the form parser (a pasted 10 MB YAML) is answered 422 with a message rather than a bare 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def read_form_first(request: Request) -> Response:
            ctype = request.headers.get("content-type", "")
            if request.method == "POST" and ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
                try:
                    await request.form()  # cached on the request: later reads get the same form
                except StarletteHTTPException as e:
                    if e.status_code == 400 and "maximum size" in str(e.detail):
                        message = (_("The YAML is larger than {limit} KiB; split it or remove what is not needed.")
                                   .format(limit=MAX_BYTES // 1024)
                                   if request.url.path.endswith("/yaml") else _("The form is too large."))
                        return render(request, "errors/error.html",
                                      {"status": 422, "title": _("Invalid input"), "message": message},
                                      status_code=422)
                    raise
            return await handler(request)

        return read_form_first


BASE = "/workspaces/{ws}/projects/{project}/services/-/new"


def service_url(ctx: ProjectCtx, name: str) -> str:
    return urls.service(ctx.workspace.name, ctx.project.name, name)


def new_url(ctx: ProjectCtx) -> str:
    return urls.new_service(ctx.workspace.name, ctx.project.name)


def submission_token() -> str:
    return secrets.token_urlsafe(12)


def once_key(ctx: ProjectCtx, submission: str, objects: list[dict[str, Any]]) -> tuple[str, str]:
    """The double-submit key: the same form sent twice with the same content creates once; the same
    form changed and sent again (back button, new name) is a new creation."""
    if not submission:
        return (ctx.me.user.uid, "")
    digest = hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()[:32]
    return (ctx.me.user.uid, f"{submission}:{digest}")


class CreateFailed(Exception):
    def __init__(self, outcome: creation_domain.CreateOutcome) -> None:
        self.outcome = outcome


@dataclass(frozen=True)
class Done:
    """What one create attempt came to; `submissions.guard` keeps only results that are `ok`."""

    ok: bool


def attachment(text: str, filename: str, default: str = "manifest.yaml") -> Response:
    """A YAML download under a file name made safe."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:200] or default
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})


