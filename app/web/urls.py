"""The console's URLs, in one place: routes redirect to them and templates link to them (`urls.*`).
Names are the URL segments the routes match; nothing here checks them (the routes do)."""

from __future__ import annotations

from urllib.parse import quote


def _seg(name: str) -> str:
    return quote(name, safe="")


def workspaces() -> str:
    return "/workspaces"


def workspace(ws: str) -> str:
    return f"/workspaces/{_seg(ws)}"


def workspace_members(ws: str) -> str:
    return f"{workspace(ws)}/members"


def projects(ws: str) -> str:
    return f"{workspace(ws)}/projects"


def project(ws: str, name: str) -> str:
    return f"{projects(ws)}/{_seg(name)}"


def project_members(ws: str, name: str) -> str:
    return f"{project(ws, name)}/members"


def services(ws: str, project_name: str) -> str:
    return f"{project(ws, project_name)}/services"


def service(ws: str, project_name: str, name: str) -> str:
    return f"{services(ws, project_name)}/{_seg(name)}"


def new_service(ws: str, project_name: str) -> str:
    """The choice of the five ways to create a Service; each way's form is below it."""
    return f"{services(ws, project_name)}/-/new"
