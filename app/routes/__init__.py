"""HTTP layer: parse input, call one domain function, choose template, status and headers."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    from app.routes import admin, auth, creation, health, projects, wizard, workspaces

    # The wizard's and Create Service's pages first: FastAPI tries routers in order, and these are the
    # busiest POSTs (their paths, all under /services/-/new, cannot be taken for another router's).
    for module in (wizard, creation, health, auth, workspaces, projects, admin):
        app.include_router(module.router)
    try:
        from app.routes import services  # noqa: F401
    except ImportError:
        return
    app.include_router(services.router)
