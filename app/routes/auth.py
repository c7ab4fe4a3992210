from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import (
    PRE_SESSION_CSRF_COOKIE,
    CurrentUser,
    OptionalSigned,
    SessionDep,
    SettingsDep,
    pre_session_csrf,
    session_cookie_name,
)
from app.domain import auth as auth_domain
from app.i18n import SUPPORTED, _
from app.web import urls

router = APIRouter(tags=["auth"])


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would let a link send users elsewhere after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return urls.workspaces()


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _login_page(request: Request, *, status: int = 200, error: str = "", username: str = "", next_: str = "") -> Response:
    token = pre_session_csrf(request)
    resp = request.app.state.renderer.render(
        request, "auth/login.html", {"error": error, "username": username, "next": next_}, status_code=status
    )
    settings = request.app.state.settings
    resp.set_cookie(PRE_SESSION_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=settings.secure_cookies,
                    max_age=3600)
    return resp


@router.get("/", include_in_schema=False)
async def index(signed: OptionalSigned) -> RedirectResponse:
    return RedirectResponse(urls.workspaces() if signed else "/login", status_code=303)


@router.get("/login")
async def show_login(request: Request, signed: OptionalSigned, next: str = "") -> Response:
    if signed:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_=next)


@router.post("/login")
async def login(
    request: Request, session: SessionDep, settings: SettingsDep,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:
    try:
        signin = await auth_domain.authenticate(
            session, settings, username=username, password=password, ip=_client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
    except auth_domain.Throttled as t:
        resp = _login_page(request, status=429, username=username, next_=next,
                           error=_("Too many failed sign-ins. Please wait a few minutes and try again."))
        resp.headers["Retry-After"] = str(t.retry_after)
        return resp
    if signin is None:
        return _login_page(request, status=401, username=username, next_=next,
                           error=_("Incorrect username or password."))
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(
        session_cookie_name(settings), signin.token, httponly=True, samesite="lax", secure=settings.secure_cookies,
        path="/", max_age=settings.session_absolute_hours * 3600,
    )
    resp.delete_cookie(PRE_SESSION_CSRF_COOKIE)
    return resp


@router.post("/logout")
async def logout(request: Request, session: SessionDep, settings: SettingsDep, me: CurrentUser) -> Response:
    await auth_domain.sign_out(session, settings, request.cookies.get(session_cookie_name(settings)))
    resp = RedirectResponse("/login", status_code=303)
    if request.headers.get("hx-request") == "true":
        resp = Response(status_code=204, headers={"HX-Redirect": "/login"})
    resp.delete_cookie(session_cookie_name(settings), path="/")
    return resp


@router.post("/language")
async def set_language(request: Request, lang: Annotated[str, Form()] = "en",
                       back: Annotated[str, Form()] = "/") -> Response:
    resp = RedirectResponse(_safe_next(back), status_code=303)
    if lang in SUPPORTED:
        resp.set_cookie("dockyard_lang", lang, samesite="lax", max_age=365 * 86400, httponly=True)
    return resp
