"""HTTP layer: parse input, call one domain function, choose template, status and headers."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    from app.routes import admin, auth, creation, health, projects, wizard, workspaces

    for module in (health, auth, workspaces, projects, admin, creation, wizard):
        app.include_router(module.router)
    try:
        from app.routes import services  # noqa: F401
    except ImportError:
        return
    app.include_router(services.router)
