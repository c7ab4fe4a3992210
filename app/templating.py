"""Jinja2 with autoescape, gettext (Babel's i18n extension) and htmx fragment rendering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2.lexer import Token, TokenStream
from jinja2_fragments import render_block
from markupsafe import Markup

from app import i18n
from app.controls import CONTROLS
from app.domain.k8s import names, service_traffic
from app.settings import ROOT
from app.web import urls

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


class TranslatedLiterals(jinja2.ext.Extension):
    """`_("literal")` translated when the template is compiled, for the environment's `dockyard_locale`: the
    text becomes part of the compiled template instead of a call on every render (a page has a hundred
    such strings). It stays what `_()` gives at run time, our catalogue's trusted text (Markup): written
    as `("text"|safe)`, which Jinja folds into the template's static output. Calls with arguments
    (`_("...", n=1)`) stay calls."""

    def __init__(self, environment: jinja2.Environment) -> None:
        super().__init__(environment)
        environment.extend(dockyard_locale=None)

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        locale = getattr(self.environment, "dockyard_locale", None)
        if locale is None:
            yield from stream
            return
        translate = i18n.translations(locale).gettext
        window: list[Token] = []  # the tokens of a possible `_ ( "text" )`, not yet passed on
        previous = ""
        for token in stream:
            window.append(token)
            kinds = [t.type for t in window]
            if kinds == ["name"] and token.value in ("_", "gettext") and previous != "dot":
                continue
            if kinds in (["name", "lparen"], ["name", "lparen", "string"]):
                continue
            if kinds == ["name", "lparen", "string", "rparen"]:
                line = window[0].lineno
                yield from (Token(line, "lparen", "("), Token(line, "string", translate(window[2].value)),
                            Token(line, "pipe", "|"), Token(line, "name", "safe"), Token(line, "rparen", ")"))
                window, previous = [], "rparen"
                continue
            yield from window
            window, previous = [], token.type
        yield from window


def new_environment(directory: Path = TEMPLATES_DIR, locale: str | None = None, *,
                    reload: bool = True) -> jinja2.Environment:
    """The templates' environment; with a `locale`, literal `_("...")` are translated at compile time.
    `reload`: notice template files changed on disk (a stat of each template on every render)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        auto_reload=reload,
        autoescape=True,  # every template, whatever its file name
        extensions=["jinja2.ext.i18n", TranslatedLiterals],
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.dockyard_locale = locale  # type: ignore[attr-defined]
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: i18n._(s), ngettext=lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
    )
    # `_()` is called about a hundred times per wizard step: the same result as the newstyle wrapper
    # under autoescape (the translation as Markup, formatted with its keyword arguments), without its
    # two context calls and a format of every string.
    env.globals["_"] = env.globals["gettext"] = _template_gettext
    env.globals.update(CONTROLS)
    env.globals["urls"] = urls
    env.globals["rules"] = names  # the rules as the forms state them (help texts)
    env.globals["traffic"] = service_traffic  # the Service traffic fields' labels and choices
    env.filters["age"] = _age
    env.filters["datetime"] = _datetime
    return env


class Renderer:
    """Render a page, or one of its blocks for an htmx request, from the same template, with the templates
    compiled for the request's locale."""

    def __init__(self, directory: Path = TEMPLATES_DIR, *, reload: bool = False) -> None:
        self.envs = {locale: new_environment(directory, locale, reload=reload) for locale in i18n.SUPPORTED}
        self.env = self.envs[i18n.DEFAULT]

    def render(
        self, request: Request, template: str, context: dict[str, Any] | None = None, *, block: str | None = None,
        status_code: int = 200, headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        ctx = dict(request.state.template_context) if hasattr(request.state, "template_context") else {}
        ctx.update(request=request, **(context or {}))
        env = self.envs.get(i18n.current_locale.get(), self.env)
        if block is not None:
            html = render_block(env, template, block, ctx)
        else:
            html = env.get_template(template).render(ctx)
        resp = HTMLResponse(html, status_code=status_code, headers=headers)
        resp.headers["Vary"] = "HX-Request"
        return resp


def is_partial(request: Request) -> bool:
    """An htmx request that wants a fragment (not a boosted navigation or a history restore)."""
    h = request.headers
    return h.get("hx-request") == "true" and h.get("hx-boosted") != "true" and h.get("hx-history-restore-request") != "true"
