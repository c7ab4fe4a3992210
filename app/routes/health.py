from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text

from app import observability

router = APIRouter(tags=["health"])


@router.get("/healthz", response_class=PlainTextResponse)
async def healthz() -> str:
    """200 while the process runs."""
    return "ok"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 only when the database and the cluster answer; otherwise 503 naming which does not."""
    checks: dict[str, str] = {}
    try:
        async with request.app.state.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:
        checks["database"] = f"failed: {type(e).__name__}"
    try:
        kube = await request.app.state.kube.get()
        version = await kube.version()
        checks["cluster"] = f"ok ({version.get('gitVersion', '?')})"
    except Exception as e:
        checks["cluster"] = f"failed: {getattr(e, 'message', None) or type(e).__name__}"
    ok = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics, for a scraper that sends `Authorization: Bearer <DOCKYARD_METRICS_TOKEN>`;
    without that setting there are none (404), so nothing about the console is public by default."""
    token = request.app.state.settings.metrics_token
    secret = token.get_secret_value() if token is not None else ""
    if not secret:
        return PlainTextResponse("not found", status_code=404)
    sent = request.headers.get("authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {secret}".encode()):
        return PlainTextResponse("unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
    body, content_type = observability.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
