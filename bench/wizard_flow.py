"""The Create Service wizard (stateless) as a browser drives it: placeholder until its routes exist."""

from __future__ import annotations

from typing import Any

from bench.common import Bench, Figure, Tenancy


def wizard_available(app: Any) -> bool:
    return any(getattr(r, "path", "").endswith("/services/new/{flavor}") or
               getattr(r, "path", "").endswith("/services/new/stateless") for r in app.routes)


async def p1_wizard(bench: Bench, t: Tenancy, browser: Any, *, iterations: int, target: float) -> list[Figure]:
    if not wizard_available(bench.app):
        return [Figure("P1", "wizard steps", float("nan"), "x", f"<= {target:g}", None,
                       "not measured: the wizard's routes do not exist yet")]
    return []
