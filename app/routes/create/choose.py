"""Create Service: choose one of the five ways (GET `.../services/-/new`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import ProjectEditor
from app.routes.common import render
from app.routes.create.common import (
    BASE,
    FormRoute,
)

router = APIRouter(tags=["creation"], route_class=FormRoute)


@router.get(BASE)
async def new_service(request: Request, ctx: ProjectEditor) -> Response:
    """Choose how to create the Service."""
    return render(request, "creation/choose.html", {"nav": "services"})


