"""Helpers every router uses: rendering, reading forms, redirects after success, and audited writes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from app.deps import Signed
from app.domain import audit
from app.domain.errors import DomainError, Forbidden
from app.domain.forms import MAX_FIELDS
from app.domain.k8s.names import is_dns1123_subdomain
from app.i18n import _, lazy_
from app.kube.errors import KubeError
from app.templating import is_partial
from app.web import urls

URLENCODED = "application/x-www-form-urlencoded"


# What the next page says after a write (a short-lived cookie, so the address stays clean and any process
# can show it): a fixed message per kind of write, with the object's name checked as a name, so the cookie
# cannot make a page say anything else. The page that shows it clears it.
DONE_COOKIE = "dockyard_done"
DONE_MESSAGES = {
    "created": lazy_("Service {name} created."),
    "yaml": lazy_("Service {name} updated from its YAML."),
    "information": lazy_("The alias and description of {name} are saved."),
    "settings": lazy_("The selector and ports of {name} are saved."),
    "external-access": lazy_("The external access of {name} is saved."),
}


def done_message(request: Request) -> str:
    what, _sep, name = request.cookies.get(DONE_COOKIE, "").partition(":")
    message = DONE_MESSAGES.get(what)
    return str(message).format(name=name) if message is not None and is_dns1123_subdomain(name) else ""


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, block: str | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    shown = block is None and DONE_COOKIE in request.cookies
    if shown:
        context = {**(context or {}), "done": done_message(request)}
    response = request.app.state.renderer.render(request, template, context, block=block, status_code=status_code,
                                                 headers=headers)
    if shown:
        response.delete_cookie(DONE_COOKIE, path="/")
    return response


def render_page_or_block(request: Request, template: str, context: dict[str, Any], block: str, **kw: Any) -> Response:
    """The full page normally; only `block` when htmx asks for a fragment of the same URL."""
    return render(request, template, context, block=block if is_partial(request) else None, **kw)


async def read_form(request: Request) -> FormData:
    """The posted form. A URL-encoded body (every form but a file upload) is parsed with the standard
    library: the same fields as Starlette's parser gives, at half its cost on the wizard's large forms.
    Multipart bodies, and a form an earlier check already read (CSRF without the htmx header), come from
    Starlette."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != URLENCODED:
        return await request.form()
    try:
        body = await request.body()
    except RuntimeError:  # the body was read as a form already: Starlette keeps that form
        return await request.form()
    try:
        return FormData(parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError:
        raise HTTPException(status_code=400, detail=_("The form has too many fields.")) from None


def remove_member_page(request: Request, *, question: str, consequence: str, members_url: str,
                       crumbs: list[tuple[str, str]], username: str) -> Response:
    """Asks before a member is removed, as Delete does: a dialog over the member list (htmx), or a page
    without JavaScript. `crumbs` lead to the member list, which ends them."""
    return render_page_or_block(request, "partials/remove_member.html", {
        "title": _("Remove Member"), "question": question, "consequence": consequence,
        "action": f"{members_url}/{username}/remove", "back": members_url, "in_dialog": is_partial(request),
        "breadcrumbs": [(_("Workspaces"), urls.workspaces()), *crumbs, (_("Members"), members_url),
                        (_("Remove Member"), None)],
    }, block="dialog")


def see_other(request: Request, url: str, *, done: tuple[str, str] | None = None) -> Response:
    """Redirect after a successful write (303), or tell htmx where to go. `done` (a DONE_MESSAGES key and
    the object's name): what the next page says was done."""
    response: Response
    if request.headers.get("hx-request") == "true":
        response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if done is not None:
        response.set_cookie(DONE_COOKIE, f"{done[0]}:{done[1]}", max_age=60, path="/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


@contextlib.asynccontextmanager
async def audited(request: Request, me: Signed, verb: str, kind: str, name: str = "",
                  *, workspace: str | None = None, project: str | None = None) -> AsyncIterator[dict[str, str]]:
    """Record the write and its outcome, whatever happens inside the block."""
    scope = getattr(request.state, "audit_scope", ("", ""))
    note: dict[str, str] = {"name": name, "detail": ""}
    outcome = "failure"
    try:
        yield note
        outcome = "success"
    except Forbidden as e:
        outcome, note["detail"] = "denied", e.message
        raise
    except KubeError as e:
        outcome = "denied" if e.forbidden else "failure"
        note["detail"] = str(e)
        raise
    except DomainError as e:
        note["detail"] = e.message
        raise
    finally:
        await audit.record(request.app.state.sessionmaker, audit.AuditEntry(
            username=me.user.username, user_uid=me.user.uid, verb=verb, outcome=outcome,
            workspace=workspace if workspace is not None else scope[0],
            project=project if project is not None else scope[1],
            object_kind=kind, object_name=note["name"], request_id=getattr(request.state, "request_id", ""),
            detail=note["detail"],
        ))
