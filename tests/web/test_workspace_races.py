"""V2: two workspace administrators removing or demoting each other at the same moment must never leave
the workspace without one. Raced on the suite's database (SQLite, then PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.domain import workspaces as workspaces_domain
from app.domain.access import WorkspaceAccess
from app.domain.errors import DomainError
from app.models import WorkspaceMember, WorkspaceRole
from tests.conftest import Tenants

ROUNDS = 50


async def _act(tenants: Tenants, actor, ws, target, how: str) -> str:  # type: ignore[no-untyped-def]
    async with tenants.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        access = WorkspaceAccess(user=actor, role=WorkspaceRole.admin)  # as the page computed it, before the race
        try:
            if how == "remove":
                await workspaces_domain.remove_member(s, access=access, ws=ws, username=target.username)
            else:
                await workspaces_domain.set_member(s, access=access, ws=ws, username=target.username,
                                                   role=WorkspaceRole.viewer.value)
        except DomainError as e:
            return f"refused: {e}"
        return "done"


async def test_admins_removing_each_other_at_once_always_leave_one(tenants: Tenants) -> None:
    a, b = await tenants.user("race-a"), await tenants.user("race-b")
    outcomes: list[tuple[str, str]] = []
    for round_ in range(ROUNDS):
        ws = await tenants.workspace(a)
        await tenants.ws_member(ws, b, WorkspaceRole.admin)
        how_a, how_b = [("remove", "remove"), ("remove", "demote"), ("demote", "demote")][round_ % 3]
        results = await asyncio.gather(_act(tenants, a, ws, b, how_a), _act(tenants, b, ws, a, how_b))
        outcomes.append(results)  # type: ignore[arg-type]
        async with tenants.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
            admins = await s.scalar(select(func.count()).select_from(WorkspaceMember).where(
                WorkspaceMember.workspace_id == ws.id, WorkspaceMember.role == WorkspaceRole.admin))
        assert admins == 1, f"round {round_}: {admins} admins left after {results}"
        assert sorted(r == "done" for r in results) == [False, True], results
