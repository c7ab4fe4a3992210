"""Pure ASGI middleware: request id, locale, security headers (CSP, no-store), access logging, body caps,
the page's deadline for cluster calls."""

from __future__ import annotations

import logging
import re
import secrets
import time
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n, observability
from app.kube.breaker import page_deadline

log = logging.getLogger("dockyard.http")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _log_request(scope: Scope, status: int, seconds: float, request_id: str) -> None:
    """One line per request (route template, never the query: it may carry a search), and its latency."""
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    method = str(scope.get("method", ""))
    observability.HTTP_SECONDS.labels(route, method, str(status)).observe(seconds)
    signed = (scope.get("state") or {}).get("signed")
    user = getattr(getattr(signed, "user", None), "uid", None)
    if user is not None:
        observability.saw_session(str(user))
    log.info("request", extra={"request_id": request_id, "user_id": str(user) if user is not None else None,
                               "method": method, "route": route, "status": status,
                               "ms": round(seconds * 1000, 1)})


class WebMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = secrets.token_hex(8)
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header must not break the page
            pass
        lang_cookie = cookies["dockyard_lang"].value if "dockyard_lang" in cookies else None
        locale = i18n.pick_locale(headers.get("accept-language"), lang_cookie)
        token = i18n.current_locale.set(locale)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["locale"] = locale
        state["template_context"] = {"locale": locale, "request_id": request_id}
        path = scope.get("path", "")
        started = time.perf_counter()
        status_holder = {"status": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers", []))
                names = {k.lower() for k, _ in raw}
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                    # The console's own time for this answer (browsers' network panels show it; the
                    # benchmarks tell it apart from time spent queueing on a shared machine).
                    (b"server-timing", b"app;dur=%.1f" % ((time.perf_counter() - started) * 1000)),
                ]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", CSP.encode()))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                if not path.startswith("/static/") and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = raw + [h for h in extra if h[0] not in names]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            i18n.current_locale.reset(token)
            if not path.startswith("/static/"):
                _log_request(scope, status_holder["status"], time.perf_counter() - started, request_id)


# Bodies are capped before anything reads them. Without a session cookie only the sign-in form can be
# meant. Signed in: a form at most 1 MiB, except on the pages that take YAML (pasted or uploaded: Edit by
# YAML, the wizard's Edit Mode, Edit YAML), which leave room for the YAML gate to answer an over-large
# text (its own cap is 256 KiB) with its message in the form, not a bare 413.
MAX_BODY = 16 * 1024 * 1024
MAX_FORM_BODY = 1024 * 1024
MAX_ANONYMOUS_BODY = 16 * 1024
YAML_ROUTES = re.compile(r"/workspaces/[^/]+/projects/[^/]+/services/(?:-/new/(?:yaml|stateless|stateful)|[^/]+/yaml)")


class BodyLimit:
    """413 for a body over the cap: at once when Content-Length says so, else as soon as the bytes that
    arrive pass it (a chunked body is never read whole first)."""

    def __init__(self, app: ASGIApp, *, session_cookies: tuple[str, ...]) -> None:
        self.app = app
        self.session_cookies = tuple(f"{name}=" for name in session_cookies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        cookie = headers.get(b"cookie", b"").decode("latin-1")
        if not any(name in cookie for name in self.session_cookies):
            cap = MAX_ANONYMOUS_BODY
        else:
            cap = MAX_BODY if YAML_ROUTES.fullmatch(str(scope.get("path", ""))) else MAX_FORM_BODY
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > cap:
            await _too_large(send, cap)
            return
        seen = 0
        exceeded = False
        answered = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def tracked(message: Message) -> None:
            # Whatever the app made of the cut body (FastAPI answers its own 400), the user gets the 413.
            nonlocal answered
            if exceeded:
                if not answered:
                    answered = True
                    await _too_large(send, cap)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            pass
        if exceeded and not answered:
            await _too_large(send, cap)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, cap: int) -> None:
    body = i18n._("The request is too large (at most {size} KiB).").format(size=cap // 1024).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# Responses that stream for as long as the user watches (live updates, followed logs, downloads).
STREAM_SUFFIXES = ("/watch", "/logs/stream", "/logs/download")


class PageDeadline:
    """One deadline for all the cluster calls a page makes, so a slow API server costs a page at most
    `seconds` however many calls it needs (each call waits only for what is left)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).endswith(STREAM_SUFFIXES):
            await self.app(scope, receive, send)
            return
        with page_deadline(self.seconds):
            await self.app(scope, receive, send)
