"""The Invite fields' type-ahead (issue 18): whom it offers, how many, how fast (the query plans on a
10,000-user table use the indexes), and the server's answer to a typed name that cannot be invited."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import new_engine, new_sessionmaker
from app.domain import projects as projects_domain
from app.domain import users as users_domain
from app.domain import workspaces as workspaces_domain
from app.models import Project, ProjectMember, ProjectRole, User, Workspace, WorkspaceMember, WorkspaceRole
from tests.conftest import DemoProject, Tenants


@pytest_asyncio.fixture(loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test database without the app (and so without the cluster): the queries alone."""
    eng = new_engine(database_url)
    yield eng
    await eng.dispose()


async def _users(session: AsyncSession, prefix: str, n: int, **extra: Any) -> list[User]:
    rows = [{"username": f"{prefix}-{i:05d}", "email": f"{prefix}-{i:05d}@test.local", "password_hash": "x",
             "uid": secrets.token_hex(16), **extra} for i in range(n)]
    await session.execute(insert(User), rows)
    await session.commit()
    return list(await session.scalars(select(User).where(User.username.startswith(prefix + "-"))
                                      .order_by(User.username)))


async def _workspace(session: AsyncSession, members: list[User], role: WorkspaceRole = WorkspaceRole.regular
                     ) -> Workspace:
    ws = Workspace(name=f"ws-{secrets.token_hex(4)}")
    session.add(ws)
    await session.flush()
    if members:
        await session.execute(insert(WorkspaceMember), [
            {"workspace_id": ws.id, "user_id": u.id, "role": role.value} for u in members])
    await session.commit()
    return ws


async def _project(session: AsyncSession, ws: Workspace, members: list[User]) -> Project:
    project = Project(name=f"p-{secrets.token_hex(4)}", workspace_id=ws.id, pod_security="baseline")
    session.add(project)
    await session.flush()
    for u in members:
        session.add(ProjectMember(project_id=project.id, user_id=u.id, role=ProjectRole.viewer))
    await session.commit()
    return project


def _names(users: list[User]) -> list[str]:
    return [u.username for u in users]


async def test_a_project_offers_workspace_members_not_yet_in_it(engine: AsyncEngine) -> None:
    tag = "c" + secrets.token_hex(3)
    async with new_sessionmaker(engine)() as s:
        ours = await _users(s, f"{tag}-ours", 4)
        theirs = await _users(s, f"{tag}-theirs", 3)  # same prefix, another workspace: never offered
        disabled = await _users(s, f"{tag}-off", 1, disabled=True)
        ws = await _workspace(s, ours + disabled)
        await _workspace(s, theirs)
        actor, in_project = ours[0], ours[1]
        project = await _project(s, ws, [actor, in_project])
        found = await projects_domain.invite_candidates(s, project, actor=actor, query=tag)
        assert _names(found) == _names(ours[2:])
        assert await projects_domain.invite_candidates(s, project, actor=actor, query=f"{tag}-theirs") == []


async def test_a_workspace_offers_platform_users_not_yet_in_it(engine: AsyncEngine) -> None:
    tag = "c" + secrets.token_hex(3)
    async with new_sessionmaker(engine)() as s:
        members = await _users(s, f"{tag}-in", 3)
        others = await _users(s, f"{tag}-out", 2)
        ws = await _workspace(s, members)
        found = await workspaces_domain.invite_candidates(s, ws, actor=members[0], query=tag)
        assert _names(found) == _names(others)


async def test_at_most_ten_and_one_more_to_tell_there_are_more(engine: AsyncEngine) -> None:
    tag = "c" + secrets.token_hex(3)
    async with new_sessionmaker(engine)() as s:
        many = await _users(s, tag, 25)
        ws = await _workspace(s, [])
        found = await workspaces_domain.invite_candidates(s, ws, actor=many[0], query=tag)
        assert len(found) == users_domain.CANDIDATES + 1
        assert _names(found) == _names(many[1:12])  # by username; the actor is never offered


async def test_prefix_of_username_first_then_display_name_or_email_then_substring(engine: AsyncEngine) -> None:
    tag = "c" + secrets.token_hex(3)
    async with new_sessionmaker(engine)() as s:
        rows = [
            {"username": f"zz-{tag}-contains", "email": f"zz-{tag}-contains@test.local", "display_name": ""},
            {"username": f"{tag}-starts", "email": f"{tag}-starts@test.local", "display_name": ""},
            {"username": f"yy-{tag}-display", "email": f"yy-{tag}@test.local", "display_name": f"{tag.upper()} Lee"},
            {"username": f"xx-{tag}", "email": f"{tag}-mail@x.test", "display_name": "Someone"},
        ]
        await s.execute(insert(User), [{**r, "password_hash": "x", "uid": secrets.token_hex(16)} for r in rows])
        await s.commit()
        actor = await _users(s, f"{tag}-actor", 1)
        ws = await _workspace(s, actor)
        found = _names(await workspaces_domain.invite_candidates(s, ws, actor=actor[0], query=tag.upper()))
        assert found == [f"{tag}-starts", f"xx-{tag}", f"yy-{tag}-display", f"zz-{tag}-contains"]
        # by display name alone, in any case; a wildcard is a plain character
        assert f"yy-{tag}-display" in _names(await workspaces_domain.invite_candidates(
            s, ws, actor=actor[0], query=f" {tag} LEE"))
        assert await workspaces_domain.invite_candidates(s, ws, actor=actor[0], query=f"{tag}%starts") == []


# ---------------------------------------------------------------------------------------------------
# 10,000 users: the queries' plans


async def _plans(engine: AsyncEngine, run: Any) -> list[str]:
    """Run `run(session)`, and explain every SELECT of user it made, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if re.match(r'\s*SELECT\b.*\bFROM "?user"?\s', statement, re.S):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with new_sessionmaker(engine)() as s:
            await run(s)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with engine.connect() as conn:
        for statement, parameters in seen:
            if engine.dialect.name == "sqlite":
                rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
                plans.append("\n".join(str(r[-1]) for r in rows))
            else:
                rows = (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).all()
                plans.append("\n".join(str(r[0]) for r in rows))
    return plans


def _scans_users(plan: str) -> bool:
    """A full read of the user table (SQLite: SCAN user; PostgreSQL: Seq Scan on "user")."""
    return bool(re.search(r"^\s*(?:\W*)SCAN (?:TABLE )?user\b(?! USING)|Seq Scan on \"?user\"?", plan, re.M))


@pytest.fixture(scope="module")
def bulk_tag() -> str:
    return "bulk" + secrets.token_hex(3)


@pytest_asyncio.fixture(loop_scope="session")
async def ten_thousand(engine: AsyncEngine, bulk_tag: str) -> AsyncIterator[tuple[list[User], Workspace, Project]]:
    async with new_sessionmaker(engine)() as s:
        users = await _users(s, bulk_tag, 10_000)
        ws = await _workspace(s, users[:3000])
        project = await _project(s, ws, users[:10])
        if engine.dialect.name == "postgresql":
            await s.execute(text('ANALYZE "user"'))
            await s.execute(text("ANALYZE workspace_member"))
            await s.execute(text("ANALYZE project_member"))
            await s.commit()
    yield users, ws, project
    async with new_sessionmaker(engine)() as s:
        await s.execute(delete(Workspace).where(Workspace.id == ws.id))
        await s.execute(delete(User).where(User.username.startswith(bulk_tag + "-")))
        await s.commit()


async def test_typing_the_start_of_a_username_reads_the_username_index(
        engine: AsyncEngine, ten_thousand: tuple[list[User], Workspace, Project], bulk_tag: str) -> None:
    users, ws, project = ten_thousand
    found: list[list[User]] = []

    async def workspace_and_project(s: AsyncSession) -> None:
        found.append(await workspaces_domain.invite_candidates(s, ws, actor=users[0], query=f"{bulk_tag}-09"))
        found.append(await projects_domain.invite_candidates(s, project, actor=users[0], query=f"{bulk_tag}-01"))

    plans = await _plans(engine, workspace_and_project)
    assert [len(f) for f in found] == [11, 11]
    assert _names(found[0])[0] == f"{bulk_tag}-09000" and _names(found[1])[0] == f"{bulk_tag}-01000"
    assert len(plans) == 2, plans  # enough found by the prefix: no second query
    for plan in plans:
        assert not _scans_users(plan), plan
        assert re.search(r"INDEX|Index", plan), plan


async def test_a_substring_is_one_limited_pass(
        engine: AsyncEngine, ten_thousand: tuple[list[User], Workspace, Project]) -> None:
    """A substring ("0042" in bulk-00042) cannot use a B-tree index on the user table: when the prefix finds
    too few, it is one pass over the eligible users, with LIMIT (measured at 10,000 users: 3-5 ms on
    SQLite, 12-28 ms on PostgreSQL, per keystroke after the field's 150 ms pause). On SQLite, what the
    pass asks of each user (a member of the workspace, of the project?) is answered by their indexes."""
    users, ws, project = ten_thousand

    async def search(s: AsyncSession) -> None:
        assert len(await projects_domain.invite_candidates(s, project, actor=users[0], query="0042")) == 11
        assert len(await workspaces_domain.invite_candidates(s, ws, actor=users[0], query="0042")) == 0

    plans = await _plans(engine, search)
    assert len(plans) == 4, plans  # each: the username prefix, then the substring
    for plan in plans:
        if engine.dialect.name == "sqlite":  # SQLite's plans follow the query: the indexes, always
            assert not re.search(r"SCAN (workspace|project)_member", plan), plan
        else:  # PostgreSQL weighs the tables' sizes (a hash of a small one may win): the LIMIT, always
            assert plan.startswith("Limit"), plan


# ---------------------------------------------------------------------------------------------------
# The endpoints and the Invite form's answers


def _options(html: str) -> list[str]:
    return re.findall(r'role="option" id="candidate-[^"]+" data-value="([^"]+)"', html)


@pytest.mark.cluster
async def test_project_candidates_endpoint_offers_and_says_how_many(demo: DemoProject, tenants: Tenants) -> None:
    tag = "pick" + secrets.token_hex(3)
    invitable = [await tenants.user(f"{tag}-a"), await tenants.user(f"{tag}-b")]
    for u in invitable:
        await tenants.ws_member(demo.workspace, u, WorkspaceRole.regular)
    elsewhere = await tenants.user(f"{tag}-z")
    await tenants.ws_member(await tenants.workspace(), elsewhere, WorkspaceRole.regular)
    b = await tenants.browser(demo.admin)
    resp = await b.get(f"{demo.base}/members/candidates", params={"username": tag}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert _options(resp.text) == [u.username for u in invitable]
    assert "2 users match." in resp.text
    resp = await b.get(f"{demo.base}/members/candidates", params={"username": demo.viewer.username})
    assert _options(resp.text) == [] and "No user matches" in resp.text  # already in the project
    page = await b.get(f"{demo.base}/members")
    assert "<datalist" not in page.text and invitable[0].username not in page.text  # nobody listed up front
    assert 'data-combobox="invite-username-candidates"' in page.text and "/static/js/combobox.js" in page.text


@pytest.mark.cluster
async def test_workspace_candidates_endpoint_shows_ten_and_says_there_are_more(tenants: Tenants) -> None:
    tag = "many" + secrets.token_hex(3)
    admin = await tenants.user(f"{tag}-admin")
    ws = await tenants.workspace(admin)
    for i in range(12):
        await tenants.user(f"{tag}-{i:02d}")
    b = await tenants.browser(admin)
    resp = await b.get(f"/workspaces/{ws.name}/members/candidates", params={"username": tag.upper()})
    assert len(_options(resp.text)) == 10 and "More than 10 users match" in resp.text
    assert admin.username not in _options(resp.text)


@pytest.mark.cluster
@pytest.mark.parametrize("who,message", [
    ("nobody", "does not exist"), ("member", "already a member of this project"),
    ("stranger", "not a member of the workspace"), ("disabled", "is disabled"), ("me", "cannot invite yourself"),
])
async def test_project_invite_of_a_name_that_cannot_be_invited_is_422_on_the_field(
        demo: DemoProject, tenants: Tenants, who: str, message: str) -> None:
    from app.domain import users as users_domain

    names = {"nobody": "nobody-" + secrets.token_hex(3), "member": demo.viewer.username,
             "stranger": (await tenants.user("stranger")).username, "me": demo.admin.username}
    if who == "disabled":
        off = await tenants.user("off")
        await tenants.ws_member(demo.workspace, off, WorkspaceRole.regular)
        async with tenants._session() as s:
            row = await users_domain.get_user(s, off.username)
            row.disabled = True
            await s.commit()
        names["disabled"] = off.username
    b = await tenants.browser(demo.admin)
    resp = await b.post(f"{demo.base}/members", {"username": names[who], "role": "viewer", "invite": "1"})
    assert resp.status_code == 422, resp.text[:300]
    error = re.search(r'<div class="error" id="invite-username-error" role="alert">([^<]+)</div>', resp.text)
    assert error and message in error.group(1), resp.text[-3000:]
    assert re.search(r'id="invite-username"[^>]*value="' + re.escape(names[who]) + '"', resp.text)
    assert re.search(r'id="invite-username"[^>]*aria-invalid="true"', resp.text, re.S)


@pytest.mark.cluster
async def test_workspace_invite_by_typed_name_works_and_refuses_a_member(tenants: Tenants) -> None:
    admin = await tenants.user("wsadm")
    newcomer = await tenants.user("newcomer")
    ws = await tenants.workspace(admin)
    b = await tenants.browser(admin)
    form = {"username": newcomer.username, "role": "workspace-viewer", "invite": "1"}
    assert (await b.post(f"/workspaces/{ws.name}/members", form)).status_code == 303
    assert f"member-row-{newcomer.username}" in (await b.get(f"/workspaces/{ws.name}/members")).text
    resp = await b.post(f"/workspaces/{ws.name}/members", form)
    assert resp.status_code == 422 and "already a member of this workspace" in resp.text
    resp = await b.post(f"/workspaces/{ws.name}/members", {**form, "username": admin.username})
    assert resp.status_code == 422 and "You cannot invite yourself." in resp.text
    # the role forms of the list (no invite) still change a member's role
    resp = await b.post(f"/workspaces/{ws.name}/members", {"username": newcomer.username, "role": "workspace-regular"})
    assert resp.status_code == 303


async def test_any_text_is_a_query(engine: AsyncEngine) -> None:
    async with new_sessionmaker(engine)() as s:
        actor = await _users(s, "c" + secrets.token_hex(3), 1)
        ws = await _workspace(s, actor)
        for query in ("张三", "\U0010ffff", "\ud7ff", "%", "_", "'; --", " " * 300):
            assert isinstance(await workspaces_domain.invite_candidates(s, ws, actor=actor[0], query=query), list)
