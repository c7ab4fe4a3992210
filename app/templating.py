"""Jinja2 with autoescape, gettext (Babel's i18n extension) and htmx fragment rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2_fragments import render_block

from app import i18n
from app.controls import CONTROLS
from app.settings import ROOT

TEMPLATES_DIR = ROOT / "templates"


def _age(ts: str | datetime | None) -> str:
    if not ts:
        return "-"
    if isinstance(ts, str):
        try:
            ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            return ts
    secs = int((datetime.now(UTC) - ts).total_seconds())
    if secs < 0:
        secs = 0
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def _datetime(ts: str | datetime | None) -> str:
    if not ts:
        return "-"
    if isinstance(ts, str):
        try:
            ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            return ts
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _template_gettext(message: str, **variables: Any) -> Markup:
    translated = Markup(i18n._(message))  # our own catalog: trusted text, as Jinja's wrapper treats it
    return translated % variables if variables else translated


def new_environment(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=True,  # every template, whatever its file name
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: i18n._(s), ngettext=lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
    )
    # `_()` is called about a hundred times per wizard step: the same result as the newstyle wrapper
    # under autoescape (the translation as Markup, formatted with its keyword arguments), without its
    # two context calls and a format of every string.
    env.globals["_"] = env.globals["gettext"] = _template_gettext
    env.globals.update(CONTROLS)
    env.filters["age"] = _age
    env.filters["datetime"] = _datetime
    return env


class Renderer:
    """Render a page, or one of its blocks for an htmx request, from the same template."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env

    def render(
        self, request: Request, template: str, context: dict[str, Any] | None = None, *, block: str | None = None,
        status_code: int = 200, headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        ctx = dict(request.state.template_context) if hasattr(request.state, "template_context") else {}
        ctx.update(request=request, **(context or {}))
        if block is not None:
            html = render_block(self.env, template, block, ctx)
        else:
            html = self.env.get_template(template).render(ctx)
        resp = HTMLResponse(html, status_code=status_code, headers=headers)
        resp.headers["Vary"] = "HX-Request"
        return resp


def is_partial(request: Request) -> bool:
    """An htmx request that wants a fragment (not a boosted navigation or a history restore)."""
    h = request.headers
    return h.get("hx-request") == "true" and h.get("hx-boosted") != "true" and h.get("hx-history-restore-request") != "true"
