"""The Dockyard application: `create_app()` wires settings, database, gateway, routes and error pages."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import follow_notifications, new_engine, new_sessionmaker
from app.deps import CsrfFailed, NotAuthenticated, session_cookie_name, verify_csrf
from app.domain import project_security, rbac, recent
from app.domain.errors import DomainError
from app.domain.leader import Leadership
from app.domain.passwords import use_fast_hashing
from app.domain.recent import Recent
from app.fairness import FairShare
from app.i18n import _
from app.kube.errors import KubeError
from app.kube.holder import GatewayHolder
from app.middleware import BodyLimit, PageDeadline, WebMiddleware
from app.quiet_log import QuietLog
from app.settings import ROOT, Settings, get_settings
from app.templating import Renderer, is_partial

log = logging.getLogger("dockyard")
anonymous_refusals = QuietLog(log)


async def _reconcile(app: FastAPI) -> None:
    """Repair RoleBindings and the namespaces' Pod Security labels (drift, tampering, missed updates,
    projects made before levels existed): the leader's background work."""
    kube = await app.state.kube.get()
    async with app.state.sessionmaker() as session:
        await rbac.reconcile_all(session, kube)
        await project_security.label_all(session, kube)


def create_app(settings: Settings | None = None, *, kube: GatewayHolder | None = None,
               reconcile: bool = True) -> FastAPI:
    settings = settings or get_settings()
    use_fast_hashing(settings.fast_password_hashing)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = new_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = new_sessionmaker(engine)
        if not hasattr(app.state, "kube"):
            app.state.kube = kube or GatewayHolder(
                settings.kubeconfig, settings.context, timeout=settings.kube_timeout_seconds,
                watch_cache=settings.watch_cache, cache_idle_seconds=settings.watch_cache_idle_seconds,
                access_review_seconds=settings.access_review_seconds,
            )
        tasks = []
        if not settings.embedded_database:
            # Several processes on one PostgreSQL: another's sign-out or membership change must reach
            # what this one keeps (app/domain/recent.py); until it listens, it keeps nothing.
            def listening(ok: bool) -> None:
                app.state.recent_sessions.trust(ok)
                app.state.recent_access.trust(ok)

            listening(False)
            tasks.append(asyncio.create_task(follow_notifications(
                settings.database_url, recent.CHANNEL, on_notify=recent.forget_everything,
                on_listening=listening), name="tenancy notifications"))
        if reconcile and settings.reconcile_interval_seconds > 0:
            # Several console processes: only the holder of the Lease reconciles (app/domain/leader.py).
            app.state.leadership = Leadership(app.state.kube.get)
            tasks.append(asyncio.create_task(app.state.leadership.run(
                lambda: _reconcile(app), settings.reconcile_interval_seconds), name="reconciler leader"))
        # What is loaded by now lives as long as the process (the Kubernetes client alone is ~100k
        # objects): keep it out of the cyclic GC, whose full passes over it stall every request ~90 ms.
        gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            if hasattr(app.state, "leadership"):
                await app.state.leadership.release()
            from app.domain import live
            await live.shutdown(app)
            await app.state.kube.close()
            await engine.dispose()

    docs = None if settings.production else "/docs"
    app = FastAPI(
        title="Dockyard", lifespan=lifespan, docs_url=docs, redoc_url=None,
        openapi_url=None if settings.production else "/openapi.json",
        dependencies=[__import__("fastapi").Depends(verify_csrf)],
    )
    app.state.settings = settings
    # Who a cookie is, and a user's access to a project: asked by every page, kept a few seconds.
    app.state.recent_sessions = Recent()
    app.state.recent_access = Recent()
    if kube is not None:
        app.state.kube = kube
    app.state.renderer = Renderer(reload=settings.template_reload)
    app.add_middleware(FairShare, limit=settings.session_concurrency)  # inside: its 429 gets the headers
    app.add_middleware(PageDeadline, seconds=settings.page_deadline_seconds)
    app.add_middleware(BodyLimit, session_cookies=(session_cookie_name(settings),))  # inside: headers, locale
    app.add_middleware(WebMiddleware, hsts=settings.secure_cookies)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")

    from app.routes import register
    register(app)
    _error_handlers(app)
    return app


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    renderer: Renderer = request.app.state.renderer
    if is_partial(request):
        # htmx swaps only 422 into targets; other errors arrive as an out-of-band toast.
        return renderer.render(request, "partials/toast.html", {"level": "error", "message": message},
                               status_code=status)
    try:
        return renderer.render(request, "errors/error.html", {"status": status, "title": title, "message": message},
                               status_code=status)
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return HTMLResponse(f"<h1>{status}</h1><p>{message}</p>", status_code=status)


async def _audit_refusal(request: Request, reason: str) -> None:
    """A write refused before it reached a use case (role, visibility, CSRF) is audited as denied."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    from app.domain import audit

    signed = getattr(request.state, "signed", None)
    if signed is None:  # nobody to hold to account: anonymous noise must not fill the audit log
        anonymous_refusals.warning("anonymous refusal", "refused an anonymous %s %r: %s", request.method,
                                   request.url.path[:200], reason[:200])
        return
    scope = getattr(request.state, "audit_scope", None) or _scope_from_path(request.url.path)
    try:
        await audit.record(request.app.state.sessionmaker, audit.AuditEntry(
            username=signed.user.username if signed else "", user_uid=signed.user.uid if signed else "",
            verb=request.method.lower(), outcome="denied", workspace=scope[0], project=scope[1],
            object_kind="", object_name=request.url.path, request_id=getattr(request.state, "request_id", ""),
            detail=reason,
        ))
    except Exception:  # auditing must not turn a refusal into a server error
        log.exception("audit of a refused request failed")


def _scope_from_path(path: str) -> tuple[str, str]:
    parts = path.strip("/").split("/")
    ws = parts[1] if len(parts) > 1 and parts[0] == "workspaces" else ""
    project = parts[3] if len(parts) > 3 and parts[2] == "projects" else ""
    return ws, project


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path not in ("/", "/login"):
            from urllib.parse import quote
            target += "?next=" + quote(request.url.path + (("?" + request.url.query) if request.url.query else ""))
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        await _audit_refusal(request, "csrf")
        return _error_page(request, 403, _("Request refused"),
                           _("The form has expired or did not come from this site. Reload the page and try again."))

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if exc.status in (403, 404):
            await _audit_refusal(request, exc.message)
        titles = {403: _("Forbidden"), 404: _("Not found"), 409: _("Conflict"), 422: _("Invalid input"),
                  503: _("Unavailable")}
        return _error_page(request, exc.status, titles.get(exc.status, _("Error")), exc.message)

    @app.exception_handler(KubeError)
    async def _kube(request: Request, exc: KubeError) -> Response:
        status = exc.status if exc.status in (403, 404, 409, 422) else 502
        if exc.status == 0:
            status = 503
        return _error_page(request, status, _("The cluster refused the request") if exc.status else
                           _("The cluster is unavailable"), exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        msg = _("The page you are looking for does not exist.") if exc.status_code == 404 else str(exc.detail)
        return _error_page(request, exc.status_code, _("Not found") if exc.status_code == 404 else _("Error"), msg)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _error_page(request, 422, _("Invalid input"), _("The request is missing fields or has invalid values."))
