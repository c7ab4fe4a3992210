"""Route × role matrix, generated from the app's own route table.

Every route must have a rule here; a new route without one fails `test_every_route_has_a_rule`. For each
rule, users whose role does not allow the route get 403 (or 404 when they cannot even see the
project or workspace), and users whose role allows it are never refused (no 401/403, no 5xx).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import pytest_asyncio
from fastapi.routing import APIRoute

from app.kube.client import CONSOLE
from app.models import PlatformRole, ProjectRole, WorkspaceRole
from tests.conftest import Tenants

pytestmark = pytest.mark.cluster

# Who may use a route. Roles of the matrix, from strongest to none.
ROLES = ["platform-admin", "workspace-admin", "project-admin", "operator", "viewer", "workspace-regular", "outsider"]
PUBLIC = set(ROLES)
SIGNED_IN = set(ROLES)
PROJECT_VIEW = {"platform-admin", "workspace-admin", "project-admin", "operator", "viewer"}
PROJECT_EDIT = {"platform-admin", "workspace-admin", "project-admin", "operator"}
PROJECT_ADMIN = {"platform-admin", "workspace-admin", "project-admin"}
WORKSPACE_VIEW = {"platform-admin", "workspace-admin", "project-admin", "operator", "viewer", "workspace-regular"}
WORKSPACE_ADMIN = {"platform-admin", "workspace-admin"}
PLATFORM_ADMIN = {"platform-admin"}


@dataclass(frozen=True)
class Rule:
    allowed: set[str]
    scope: str  # "none" | "workspace" | "project": who cannot see the scope gets 404 instead of 403
    streaming: bool = False  # SSE: only the refusals are checked (an allowed stream never ends)
    hidden: bool = False  # refused as 404 to everyone (not a page of anyone's: /metrics is the scraper's)


P = "/workspaces/{ws}/projects/{project}"
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(PUBLIC, "none"),
    ("GET", "/login"): Rule(PUBLIC, "none"),
    ("POST", "/login"): Rule(PUBLIC, "none"),
    # single sign-on (tests/web/test_sso*.py); without configuration, a 404 page for everyone
    ("GET", "/login/oidc"): Rule(PUBLIC, "none"),
    ("GET", "/login/oidc/callback"): Rule(PUBLIC, "none"),
    ("POST", "/logout"): Rule(SIGNED_IN, "none"),
    ("POST", "/language"): Rule(PUBLIC, "none"),
    ("POST", "/preferences/theme"): Rule(SIGNED_IN, "none"),
    ("GET", "/preferences/shortcuts"): Rule(SIGNED_IN, "none"),
    ("GET", "/healthz"): Rule(PUBLIC, "none"),
    ("GET", "/readyz"): Rule(PUBLIC, "none"),
    # Prometheus only, with its bearer token (tests/web/test_operations.py); no console role reads it.
    ("GET", "/metrics"): Rule(set(), "none", hidden=True),
    ("GET", "/workspaces"): Rule(SIGNED_IN, "none"),
    ("POST", "/workspaces"): Rule(PLATFORM_ADMIN, "none"),
    ("GET", "/workspaces/{ws}"): Rule(WORKSPACE_VIEW, "workspace"),
    ("GET", "/workspaces/{ws}/members"): Rule(WORKSPACE_VIEW, "workspace"),
    ("POST", "/workspaces/{ws}/members"): Rule(WORKSPACE_ADMIN, "workspace"),
    ("GET", "/workspaces/{ws}/members/candidates"): Rule(WORKSPACE_ADMIN, "workspace"),
    ("GET", "/workspaces/{ws}/members/{username}/remove"): Rule(WORKSPACE_ADMIN, "workspace"),
    ("POST", "/workspaces/{ws}/members/{username}/remove"): Rule(WORKSPACE_ADMIN, "workspace"),
    ("GET", "/workspaces/{ws}/projects"): Rule(WORKSPACE_VIEW, "workspace"),
    ("POST", "/workspaces/{ws}/projects"): Rule(WORKSPACE_ADMIN, "workspace"),
    ("GET", P): Rule(PROJECT_VIEW, "project"),
    ("GET", P + "/members"): Rule(PROJECT_VIEW, "project"),
    ("POST", P + "/pod-security"): Rule(WORKSPACE_ADMIN, "project"),
    ("POST", P + "/external-ips"): Rule(PLATFORM_ADMIN, "project"),
    ("POST", P + "/members"): Rule(PROJECT_ADMIN, "project"),
    ("GET", P + "/members/candidates"): Rule(PROJECT_ADMIN, "project"),
    ("GET", P + "/members/{username}/remove"): Rule(PROJECT_ADMIN, "project"),
    ("POST", P + "/members/{username}/remove"): Rule(PROJECT_ADMIN, "project"),
    ("GET", "/admin/users"): Rule(PLATFORM_ADMIN, "none"),
    ("POST", "/admin/users"): Rule(PLATFORM_ADMIN, "none"),
    ("POST", "/admin/users/{username}/disable"): Rule(PLATFORM_ADMIN, "none"),
    ("POST", "/admin/users/{username}/enable"): Rule(PLATFORM_ADMIN, "none"),
    ("POST", "/admin/users/{username}/password"): Rule(PLATFORM_ADMIN, "none"),
    ("GET", "/admin/audit"): Rule(PLATFORM_ADMIN, "none"),
    # the move from KubeSphere (tests/kube/test_kubesphere_import.py)
    ("GET", "/admin/import/kubesphere"): Rule(PLATFORM_ADMIN, "none"),
    ("POST", "/admin/import/kubesphere"): Rule(PLATFORM_ADMIN, "none"),
    ("GET", "/admin/import/kubesphere/result"): Rule(PLATFORM_ADMIN, "none"),
    # a list row's action menu: only editors have one
    ("GET", P + "/services/{name}/menu"): Rule(PROJECT_EDIT, "project"),
}
# Everything under a project's services: reads for every project member, writes for admin/operator.
SERVICES_PREFIX = P + "/services"
PODS_PREFIX = P + "/pods"
STREAM_HINTS = ("/events", "/watch", "/stream", "/follow", "/live")


def rule_for(method: str, path: str) -> Rule | None:
    if (method, path) in RULES:
        return RULES[(method, path)]
    if path.startswith(PODS_PREFIX):
        if method != "GET":
            return None  # no writes on pods yet: a new one needs a rule written here
        return Rule(PROJECT_VIEW, "project", any(h in path for h in STREAM_HINTS))
    if path.startswith(SERVICES_PREFIX):
        streaming = method == "GET" and any(h in path for h in STREAM_HINTS)
        if path.startswith(SERVICES_PREFIX + "/-/new"):
            return Rule(PROJECT_EDIT, "project")
        return Rule(PROJECT_VIEW if method == "GET" else PROJECT_EDIT, "project", streaming)
    return None


def _api_routes(routes):  # type: ignore[no-untyped-def]
    """APIRoutes, also inside included routers (FastAPI keeps those nested; none of ours has a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def app_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    for route in _api_routes(app.routes):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, route.path))
    return out


def test_every_route_has_a_rule(app) -> None:  # type: ignore[no-untyped-def]
    missing = [f"{m} {p}" for m, p in app_routes(app) if rule_for(m, p) is None]
    assert not missing, f"routes without an access rule in tests/web/test_route_matrix.py: {missing}"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def world(app, kube, admin_kube):  # type: ignore[no-untyped-def]
    t = Tenants(app=app, kube=kube)
    users = {r: await t.user(r[:8], PlatformRole.admin if r == "platform-admin" else PlatformRole.regular)
             for r in ROLES}
    ws = await t.workspace(users["workspace-admin"])
    for r in ("project-admin", "operator", "viewer", "workspace-regular"):
        await t.ws_member(ws, users[r], WorkspaceRole.regular)
    project = await t.project(ws, users["project-admin"])
    await t.project_member(project, users["operator"], ProjectRole.operator)
    await t.project_member(project, users["viewer"], ProjectRole.viewer)
    browsers = {r: await t.browser(users[r]) for r in ROLES if r != "outsider"}
    outsider = await t.browser(users["outsider"])
    browsers["outsider"] = outsider
    yield {"ws": ws, "project": project, "users": users, "browsers": browsers}
    for ns in t.created_namespaces:
        try:
            await admin_kube.delete("Namespace", None, ns, actor=CONSOLE)
        except Exception:
            pass


def _fill(path: str, world) -> str:  # type: ignore[no-untyped-def]
    # Other parameters name nothing that exists, so allowed writes change nothing the next case needs.
    values = {"ws": world["ws"].name, "project": world["project"].name}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), f"no-such-{m.group(1)}"), path)


def _cases():  # type: ignore[no-untyped-def]
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"), reconcile=False)
    for method, path in app_routes(app):
        if path in ("/login", "/", "/healthz", "/readyz", "/language") or (method, path) == ("POST", "/logout"):
            continue
        for role in ROLES:
            yield pytest.param(method, path, role, id=f"{method} {path} {role}")


@pytest.mark.parametrize("method,path,role", list(_cases()))
async def test_route_refuses_or_serves_by_role(world, method: str, path: str, role: str) -> None:  # type: ignore[no-untyped-def]
    rule = rule_for(method, path)
    assert rule is not None, f"{method} {path} has no rule"
    browser = world["browsers"][role]
    url = _fill(path, world)
    allowed = role in rule.allowed
    if allowed and rule.streaming:
        return  # an allowed stream stays open; its refusals are what this matrix checks
    if method == "GET":
        resp = await browser.get(url)
    else:
        resp = await browser.post(url, {})
    if allowed:
        assert resp.status_code not in (401, 403), f"{role} was refused {method} {url}: " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.text))[-600:]
        assert resp.status_code < 500, f"{method} {url} as {role}: {resp.status_code}"
    else:
        sees_scope = (
            rule.scope == "none"
            or (rule.scope == "workspace" and role in WORKSPACE_VIEW)
            or (rule.scope == "project" and role in PROJECT_VIEW)
        )
        expected = 403 if sees_scope and not rule.hidden else 404
        assert resp.status_code == expected, f"{role} {method} {url}: {resp.status_code}, expected {expected}"


def test_every_route_is_reached_as_itself_in_the_order_the_app_tries_them() -> None:
    """The routers are registered busiest first (app/routes/__init__.py): no route may shadow another."""
    from starlette.routing import Match

    from app.main import create_app

    app = create_app()
    ordered: list[APIRoute] = []
    for entry in app.router.routes:
        inner = getattr(entry, "original_router", None)
        ordered += [r for r in (inner.routes if inner is not None else [entry]) if isinstance(r, APIRoute)]
    assert len(ordered) > 40
    for route in ordered:
        path = re.sub(r"\{[^}]+\}", "sample-1", route.path)
        for method in route.methods:
            scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
            first = next(r for r in ordered if r.matches(scope)[0] == Match.FULL)
            assert first is route, f"{method} {route.path} is taken by {first.path}"
