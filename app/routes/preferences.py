"""The signed-in user's own preferences and help: POST /preferences/theme (the header's Theme menu), GET
/preferences/shortcuts (the keyboard shortcuts' dialog, fetched by static/js/app.js when asked for)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import CurrentUser, SessionDep
from app.domain import preferences
from app.web import urls

router = APIRouter(tags=["preferences"])


def _back(target: str) -> str:
    """The page the menu was on; only a local path (never an open redirect)."""
    return urls.local_path(target) or urls.workspaces()


@router.post("/preferences/theme")
async def update_theme(request: Request, session: SessionDep, me: CurrentUser,
                       theme: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "") -> Response:
    """Light, Dark or Follow the system, remembered for the user: back to the page (303), or 204 for htmx,
    whose page switches in place."""
    await preferences.set_theme(session, user=me.user, choice=theme)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204)
    return RedirectResponse(_back(back), status_code=303)


@router.get("/preferences/shortcuts")
async def show_shortcuts(request: Request, me: CurrentUser) -> Response:
    """The keyboard shortcuts' dialog (a fragment: only the script asks for it, and opens it)."""
    return request.app.state.renderer.render(request, "partials/shortcuts.html")
