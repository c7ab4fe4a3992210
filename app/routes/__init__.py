"""HTTP layer: parse input, call one domain function, choose template, status and headers."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    from app.routes import (
        admin,
        auth,
        health,
        import_kubesphere,
        pods,
        preferences,
        projects,
        service_edits,
        services,
        workspaces,
    )
    from app.routes.create import choose, custom, wizard, yaml

    # The busiest pages first: FastAPI tries the routers in this order, route by route. No router's path
    # can be taken for another's (Create Service pages are all under /services/-/new, which no Service
    # page's path matches): tests/web/test_route_matrix.py checks that every route is reached as itself.
    for module in (wizard, custom, yaml, choose, services, service_edits, pods, health, auth, preferences, workspaces, projects, admin,
                   import_kubesphere):
        app.include_router(module.router)
