"""Fair share under abuse: one session firing a thousand requests at once must not starve the others.

Each session (by its cookie; signed out, by the client address) may have `limit` ordinary requests in
flight, and as many again of the long-lived streams (live updates, log follow); past that the answer is
429 with Retry-After at once, before any work is done. In-flight counts are about this process's own
event loop, so they live here, not in the database: each replica guards its own share of the load.
"""

from __future__ import annotations

import hashlib
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from app import i18n

SESSION_COOKIES = ("__Host-dockyard_session", "dockyard_session")
RETRY_AFTER_SECONDS = 1


def _is_stream(path: str) -> bool:
    return path.endswith(("/watch", "/stream"))


def client_key(scope: Scope) -> str:
    """Whose request this is: a digest of the session cookie, else the client's address."""
    raw = b""
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            raw = value
            break
    if raw:
        cookies = SimpleCookie()
        try:
            cookies.load(raw.decode("latin-1"))
        except Exception:  # a malformed Cookie header: treated as no session
            cookies = SimpleCookie()
        for name in SESSION_COOKIES:
            if name in cookies:
                return "s:" + hashlib.blake2s(cookies[name].value.encode(), digest_size=12).hexdigest()
    client = scope.get("client") or ("", 0)
    return f"a:{client[0]}"


class FairShare:
    def __init__(self, app: ASGIApp, *, limit: int = 8) -> None:
        self.app = app
        self.limit = limit
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/static/") or path in ("/healthz", "/readyz"):
            await self.app(scope, receive, send)
            return
        key = ("stream " if _is_stream(path) else "") + client_key(scope)
        if self.in_flight.get(key, 0) >= self.limit:
            await _too_many(send)
            return
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight[key] - 1
            if left:
                self.in_flight[key] = left
            else:
                del self.in_flight[key]


async def _too_many(send: Send) -> None:
    body = i18n._("Too many requests at once from this session. Please wait a moment and try again.").encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
