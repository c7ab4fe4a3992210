"""Who a cookie is and a user's access to a project are kept a few seconds (app/domain/recent.py): a page
does not ask the database for them each time, yet a change made through the console applies at once, and
one made behind its back (another process) within the documented few seconds."""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from app.models import ProjectMember, ProjectRole
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants

pytestmark = pytest.mark.cluster


class _Statements:
    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.count = 0
        self.engine = app.state.engine.sync_engine
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args) -> None:  # type: ignore[no-untyped-def]
        self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


async def test_a_page_does_not_ask_the_database_who_you_are_each_time(demo: DemoProject, tenants: Tenants, app) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.operator)
    assert (await b.get(f"{demo.base}/services")).status_code == 200
    statements = _Statements(app)
    try:
        assert (await b.get(f"{demo.base}/services")).status_code == 200
    finally:
        statements.close()
    assert statements.count == 0


async def test_sign_out_and_a_removed_membership_apply_at_once(demo: DemoProject, tenants: Tenants) -> None:
    operator = await tenants.browser(demo.operator)
    admin = await tenants.browser(demo.admin)
    assert (await operator.get(f"{demo.base}/services")).status_code == 200
    resp = await admin.post(f"{demo.base}/members/{demo.operator.username}/remove")
    assert resp.status_code in (200, 303), resp.text[:500]
    assert (await operator.get(f"{demo.base}/services")).status_code == 404

    assert (await admin.get(f"{demo.base}/services")).status_code == 200
    assert (await admin.post("/logout")).status_code == 303
    page = await admin.get(f"{demo.base}/services")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_a_change_behind_the_consoles_back_shows_within_seconds(
        demo: DemoProject, tenants: Tenants, app) -> None:  # type: ignore[no-untyped-def]
    """Another process (here: a plain SQL statement, which no session event sees) demotes the operator."""
    recent = app.state.recent_access
    seconds, recent.seconds = recent.seconds, 0.5
    try:
        b = await tenants.browser(demo.operator)
        assert (await b.get(f"{demo.base}/services/-/new")).status_code == 200
        async with app.state.engine.begin() as conn:
            await conn.execute(update(ProjectMember).where(ProjectMember.user_id == demo.operator.id)
                               .values(role=ProjectRole.viewer.value))
        assert (await b.get(f"{demo.base}/services/-/new")).status_code == 200  # still the kept answer

        async def refused() -> bool:
            return (await b.get(f"{demo.base}/services/-/new")).status_code == 403
        await eventually(refused, timeout=5)  # once the kept answer is older than its seconds
    finally:
        recent.seconds = seconds
