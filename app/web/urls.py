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


def local_path(target: str | None) -> str | None:
    """`target` if it is a path of this console, else None: where to go back to after sign-in or a form,
    never an open redirect. Browsers drop tabs and newlines from a URL, so a slash, a tab and
    `/evil.example` would become `//evil.example`: any control character or space is refused, as are `//` and `\\`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return None
    return target

