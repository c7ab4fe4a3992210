from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

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
