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
from app.domain import audit, sso
from app.domain import auth as auth_domain
from app.domain.errors import DomainError
from app.i18n import SUPPORTED, _
from app.settings import Settings
from app.web import urls

router = APIRouter(tags=["auth"])


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would let a link send users elsewhere after sign-in."""
    return urls.local_path(target) or urls.workspaces()


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _login_page(request: Request, *, status: int = 200, error: str = "", username: str = "", next_: str = "") -> Response:
    token = pre_session_csrf(request)
    settings = request.app.state.settings
    sso_name = settings.oidc_display_name if settings.oidc_enabled else ""
    resp = request.app.state.renderer.render(
        request, "auth/login.html", {"error": error, "username": username, "next": next_, "sso_name": sso_name},
        status_code=status,
    )
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
    return _signed_in(settings, signin, _safe_next(next))


def _signed_in(settings: Settings, signin: auth_domain.SignIn, target: str) -> Response:
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        session_cookie_name(settings), signin.token, httponly=True, samesite="lax", secure=settings.secure_cookies,
        path="/", max_age=settings.session_absolute_hours * 3600,
    )
    resp.delete_cookie(PRE_SESSION_CSRF_COOKIE)
    return resp


def _sso_cookie(settings: Settings) -> str:
    return "__Host-dockyard_sso" if settings.secure_cookies else "dockyard_sso"


def _sso_provider(request: Request) -> sso.Provider:
    """The provider's discovery document and keys, kept by this process."""
    provider: sso.Provider | None = getattr(request.app.state, "sso_provider", None)
    if provider is None:
        provider = request.app.state.sso_provider = sso.Provider(request.app.state.settings)
    return provider


def _sso_off(request: Request, signed: object) -> Response:
    if signed:  # already signed in: nothing to sign in to (and no sign-in form, with its own token)
        return RedirectResponse(urls.workspaces(), status_code=303)
    return _login_page(request, status=404, error=_("Single sign-on is not configured."))


@router.get("/login/oidc")
async def start_sso(request: Request, session: SessionDep, settings: SettingsDep, signed: OptionalSigned,
                    next: str = "") -> Response:
    """Sign in with the identity provider: off to its authorization endpoint (a link: the sign-in form's
    Content-Security-Policy lets forms post only to us)."""
    if not settings.oidc_enabled:
        return _sso_off(request, signed)
    if signed:
        return RedirectResponse(_safe_next(next), status_code=303)
    redirect_uri = settings.oidc_redirect_url or str(request.url_for("finish_sso"))
    try:
        started = await sso.start(session, _sso_provider(request), redirect_uri=redirect_uri,
                                  next_url=_safe_next(next), ip=_client_ip(request),
                                  browser_token=request.cookies.get(_sso_cookie(settings)))
    except DomainError as e:
        return _login_page(request, status=e.status, error=e.message, next_=next)
    resp = RedirectResponse(started.url, status_code=303)
    resp.set_cookie(_sso_cookie(settings), started.browser_token, httponly=True, samesite="lax",
                    secure=settings.secure_cookies, path="/", max_age=sso.FLOW_SECONDS)
    return resp


@router.get("/login/oidc/callback")
async def finish_sso(request: Request, session: SessionDep, settings: SettingsDep,
                     signed: OptionalSigned) -> Response:
    """The identity provider sends the browser back here: checked, then signed in as on the sign-in form."""
    if not settings.oidc_enabled:
        return _sso_off(request, signed)
    try:
        done = await sso.finish(
            session, _sso_provider(request), params=dict(request.query_params),
            browser_token=request.cookies.get(_sso_cookie(settings)), ip=_client_ip(request),
            user_agent=request.headers.get("user-agent", ""), kube=request.app.state.kube.get,
        )
    except DomainError as e:
        return _login_page(request, status=e.status, error=e.message)
    await _audit_sso(request, done)
    # The browser's SSO cookie stays until it expires: another tab's sign-in may still need it.
    return _signed_in(settings, done.signin, _safe_next(done.next_url))


async def _audit_sso(request: Request, done: sso.Finished) -> None:
    """A single sign-on may make an account and change its platform role: both are written down."""
    user, account = done.signin.user, done.account
    entries = []
    if account.created:
        entries.append(("create", _audit_detail("made by single sign-on", done, user.platform_role)))
    elif account.linked:
        entries.append(("link-identity", _audit_detail("linked to a single sign-on identity by its verified email",
                                                       done, user.platform_role)))
    if not account.created and account.previous_role != user.platform_role:
        entries.append(("set-platform-role", f"{account.previous_role} -> {user.platform_role} (groups at {done.issuer})"))
    entries.append(("sign-in", f"single sign-on ({done.issuer})"))
    for verb, detail in entries:
        await audit.record(request.app.state.sessionmaker, audit.AuditEntry(
            username=user.username, user_uid=user.uid, verb=verb, outcome="success", object_kind="User",
            object_name=user.username, request_id=getattr(request.state, "request_id", ""), detail=detail,
        ))


def _audit_detail(what: str, done: sso.Finished, role: str) -> str:
    return f"{what} ({done.issuer}); platform role {role}"


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
