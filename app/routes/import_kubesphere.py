"""A platform admin's move from KubeSphere: the dry run, the Import button, and what the last import did."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import KubeDep, PlatformAdmin, SessionDep
from app.domain import audit as audit_domain
from app.domain import kubesphere_import
from app.domain.errors import Conflict, DomainError, Unavailable
from app.domain.kubesphere_import import CATEGORY_TITLES, Plan, Status
from app.domain.kubesphere_import.text import counts, status_label
from app.routes.common import audited, render, see_other

router = APIRouter(tags=["admin"])
PAGE = "/admin/import/kubesphere"


def _status(e: DomainError) -> int:
    """The page shows why it has no report: a 200 for a cluster without KubeSphere or a console that may
    not read it (the page is right, the cluster is not ready), 503 when it did not answer."""
    return 503 if isinstance(e, Unavailable) else 409 if isinstance(e, Conflict) else 200


def _context(plan: Plan | None, error: str = "") -> dict[str, object]:
    return {"plan": plan, "error": error, "titles": CATEGORY_TITLES, "status_label": status_label,
            "Status": Status, "counts": counts(plan) if plan else ""}


async def _page(request: Request, session: SessionDep, kube: KubeDep, *, template: str, error: str = "",
                status: int = 200, extra: dict[str, object] | None = None) -> Response:
    try:
        plan: Plan | None = await kubesphere_import.dry_run(session, kube)
    except DomainError as e:  # no KubeSphere, not readable by the console, or the cluster is down
        plan, error, status = None, error or e.message, max(status, _status(e))
    return render(request, template, {**_context(plan, error), **(extra or {})}, status_code=status)


@router.get(PAGE)
async def import_page(request: Request, me: PlatformAdmin, session: SessionDep, kube: KubeDep) -> Response:
    """The dry run: what would be created, what is already there, what does not map and why."""
    return await _page(request, session, kube, template="admin/import_kubesphere.html")


@router.post(PAGE)
async def import_now(request: Request, me: PlatformAdmin, session: SessionDep, kube: KubeDep) -> Response:
    try:
        async with audited(request, me, "import", "KubeSphere", workspace="", project="") as note:
            result = await kubesphere_import.import_from(session, kube)
            note["name"], note["detail"] = result.plan.edition, result.summary()
    except DomainError as e:
        return await _page(request, session, kube, template="admin/import_kubesphere.html", error=e.message,
                           status=_status(e))
    return see_other(request, f"{PAGE}/result")


@router.get(f"{PAGE}/result")
async def import_result(request: Request, me: PlatformAdmin, session: SessionDep, kube: KubeDep) -> Response:
    """What the last import did (from the audit log, so any console process shows it), and the dry run now."""
    found = [e for e in await audit_domain.search(session, verb="import", limit=20) if e.object_kind == "KubeSphere"]
    # Plain values: the dry run that follows ends the session's transaction (which expires loaded rows).
    last = {k: getattr(found[0], k) for k in ("username", "at", "outcome", "detail")} if found else None
    return await _page(request, session, kube, template="admin/import_kubesphere_result.html", extra={"last": last})
