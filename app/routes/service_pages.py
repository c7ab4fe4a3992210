"""What the pages of a project's Services and pods share: their URLs, the checks of a name from the
path and of where to go next, the form reader, dialogs and server-sent events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from app import observability
from app.deps import ProjectCtx
from app.domain import live
from app.domain.errors import NotFound
from app.domain.k8s.names import is_object_name
from app.i18n import _
from app.routes.common import render
from app.templating import is_partial
from app.web import urls

BASE = "/workspaces/{ws}/projects/{project}"
TABS = ("resource-status", "metadata", "events")
_VERSION = re.compile(r"^[0-9]{1,32}$")


def project_url(ctx: ProjectCtx) -> str:
    return urls.project(ctx.workspace.name, ctx.project.name)


def check_name(name: str, what: str = "Service") -> str:
    if not is_object_name(what, name):
        raise NotFound(_("The page you are looking for does not exist."))
    return name


def next_url(ctx: ProjectCtx, value: str | None, default: str) -> str:
    """Where to go after an action: a page of this project's Services only (no open redirect)."""
    prefix = project_url(ctx) + "/services"
    if value and (value == prefix or value.startswith((prefix + "/", prefix + "?"))) \
            and "//" not in value and "\\" not in value:
        return value
    return default


def page_context(ctx: ProjectCtx, **extra: Any) -> dict[str, Any]:
    return {"base": project_url(ctx), "nav": "services", "can_edit": ctx.can_edit, **extra}


async def read_lists(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form.keys()}


def one(form: dict[str, list[str]], key: str, default: str = "") -> str:
    values = form.get(key) or [default]
    return values[0]


# -- SSE -------------------------------------------------------------------------------------------------

def sse(event: str, data: str) -> bytes:
    lines = data.split("\n")
    return ("event: " + event + "\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    async def with_preamble() -> AsyncIterator[bytes]:
        observability.EVENT_STREAMS.inc()
        try:
            yield b"retry: 3000\n: connected\n\n"
            async for chunk in body:
                yield chunk
        finally:
            observability.EVENT_STREAMS.dec()

    return StreamingResponse(with_preamble(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def signals_to_sse(signals: AsyncIterator[live.Signal]) -> AsyncIterator[bytes]:
    async for signal in signals:
        if signal.kind == live.CHANGED:
            yield sse("changed", "1")
        elif signal.kind == live.PING:
            yield b": ping\n\n"
        elif signal.kind == live.ERROR:
            # The browser reconnects when the stream ends: not every 3 s (each try is a whole request)
            # while the watch is refused, e.g. when the console already watches all it may.
            yield b"retry: 60000\n" + sse("refused", signal.message)
        elif signal.kind == live.END:
            yield sse("end", "")
            return


def resource_version_of(value: str) -> str:
    return value if _VERSION.match(value or "") else ""


def dialog_page(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
                 in_dialog: bool = False) -> Response:
    """A dialog for htmx (GET: the whole dialog; POST: the form inside it), else the same form as a page."""
    partial = is_partial(request)
    block = None
    if partial:
        block = "dialog" if request.method == "GET" else "form"
    return render(request, template, {**context, "in_dialog": partial or in_dialog}, block=block, status_code=status)


