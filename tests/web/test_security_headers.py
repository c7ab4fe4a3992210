"""Web hardening a user's browser relies on: headers, cookies, no inline code, docs off in production."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import ROOT, Settings
from tests.conftest import Tenants


async def test_security_headers_on_pages(tenants: Tenants) -> None:
    user = await tenants.user()
    b = await tenants.browser(user)
    for url in ("/login", "/workspaces"):
        resp = await b.get(url)
        h = resp.headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-frame-options"] == "DENY"
        assert h["cache-control"] == "no-store"
        assert h["x-request-id"]
        # The console's own time for the answer, as browsers' network panels show it.
        assert re.fullmatch(r"app;dur=\d+\.\d", h["server-timing"])


async def test_static_files_are_cacheable(tenants: Tenants) -> None:
    b = await tenants.browser()
    resp = await b.get("/static/css/app.css")
    assert resp.status_code == 200 and resp.headers.get("cache-control") != "no-store"


def test_htmx_is_configured_not_to_evaluate_code() -> None:
    base = (ROOT / "templates" / "base.html").read_text()
    config = re.search(r'name="htmx-config" content=\'([^\']+)\'', base).group(1)  # type: ignore[union-attr]
    assert '"allowEval": false' in config and '"allowScriptTags": false' in config
    assert '"selfRequestsOnly": true' in config and '"historyCacheSize": 0' in config
    assert '"includeIndicatorStyles": false' in config


@pytest.mark.parametrize("template", sorted(p for p in (ROOT / "templates").rglob("*.html")), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_code_or_styles(template: Path) -> None:
    """The CSP blocks them, so they would silently not work: keep them out of the markup."""
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script>"
    assert not re.search(r"\sstyle=\"", text), "inline style attribute"
    assert not re.search(r"\son[a-z]+=\"", text), "inline event handler"
    assert "hx-on" not in text and "js:" not in text
    assert "|safe" not in text, "|safe would bypass autoescaping"


async def test_secure_cookies_behind_https(database_url: str) -> None:
    settings = Settings(database_url=database_url, secure_cookies=True, fast_password_hashing=True,
                        reconcile_interval_seconds=0, kubeconfig="/nonexistent")
    app = create_app(settings, reconcile=False)
    async with app.router.lifespan_context(app):
        from app.domain import users
        async with app.state.sessionmaker() as s:
            name = f"sec-{__import__('secrets').token_hex(3)}"
            await users.create_user(s, username=name, email=f"{name}@x.io", password="long-enough-pw",
                                    platform_role="platform-regular")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
            page = await c.get("/login")
            assert "strict-transport-security" in page.headers
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            resp = await c.post("/login", data={"username": name, "password": "long-enough-pw", "csrf_token": token})
            cookie = [v for k, v in resp.headers.multi_items() if k == "set-cookie" and "dockyard_session" in v][0]
            assert cookie.startswith("__Host-dockyard_session=")
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
            assert "Domain" not in cookie


def test_production_turns_off_api_docs_and_refuses_default_secret() -> None:
    with pytest.raises(ValueError):
        Settings(env="production")
    prod = Settings(env="production", session_secret="x" * 40, database_url="sqlite+aiosqlite:///:memory:",
                    fast_password_hashing=False)
    from app.domain.passwords import use_fast_hashing
    try:
        app = create_app(prod, reconcile=False)
    finally:
        use_fast_hashing(True)  # production hashing is slow; the rest of the suite keeps the test setting
    assert app.docs_url is None and app.openapi_url is None
    dev = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"), reconcile=False)
    assert dev.docs_url == "/docs"
