"""The KubeSphere import's plan (pure): what maps to Dockyard, what is already there, what does not and
why, for the 3.4 and 4.x fixtures (tests/data/kubesphere/)."""

from __future__ import annotations

import pytest

from app.domain.kubesphere_import import Category, Status, make_plan
from app.domain.kubesphere_import.model import Dockyard, MemberSpec, ProjectSpec, UserSpec, WorkspaceSpec
from app.models import PlatformRole, ProjectRole, WorkspaceRole
from tests.kubesphere_fixtures import EDITIONS, expected, snapshot, tenancy

S = "-ab12cd"
BEFORE = Dockyard(users={f"carol{S}": "carol@dockyard.example"}, emails={"carol@dockyard.example": f"carol{S}"})


def _plan(edition: str, dy: Dockyard = BEFORE):  # type: ignore[no-untyped-def]
    return make_plan(snapshot(edition, tenancy(edition, S)), dy)


@pytest.mark.parametrize("edition", EDITIONS)
def test_the_dry_run_says_exactly_what_maps_and_what_does_not(edition: str) -> None:
    plan = _plan(edition)
    got = {c.value: {i.name: i.status.value for i in plan.of(c)} for c in plan.categories}
    assert got == expected(edition, S)
    assert plan.edition == edition


@pytest.mark.parametrize("edition", EDITIONS)
def test_users_keep_their_email_role_name_and_state_and_say_why_they_do_not_map(edition: str) -> None:
    plan = _plan(edition)
    users = {i.name: i for i in plan.of(Category.users)}
    admin, alice, bob, dave = (users[f"{n}{S}"].spec for n in ("admin", "alice", "bob", "dave"))
    assert admin == UserSpec(f"admin{S}", f"admin{S}@kubesphere.io", "", PlatformRole.admin, False)
    assert isinstance(alice, UserSpec) and alice.email == f"alice{S}@example.com".lower()
    assert alice.display_name == "Alice Liddell" and alice.platform_role == PlatformRole.regular
    assert isinstance(bob, UserSpec) and bob.platform_role == PlatformRole.self_provisioner
    assert "ldap" in users[f"bob{S}"].reason
    assert isinstance(dave, UserSpec) and dave.disabled and "disabled" in users[f"dave{S}"].reason
    assert "another email (carol@dockyard.example)" in users[f"carol{S}"].reason
    roles = {i.name: i.reason for i in plan.of(Category.roles)}
    assert "3.3.1" in roles[f"bob{S}: users-manager"]
    assert "custom" in roles[f"shop{S}/alice{S}: shop{S}-auditor"]
    if edition == "4.x":
        erin = users[f"erin{S}"]
        assert isinstance(erin.spec, UserSpec) and erin.spec.email == f"erin{S}@dockyard.local"
        assert {i.name: i.detail for i in plan.of(Category.identities)}[f"erin{S}"] == f"github (4242{S})"


@pytest.mark.parametrize("edition", EDITIONS)
def test_workspaces_projects_and_members_carry_their_roles_aliases_and_levels(edition: str) -> None:
    plan = _plan(edition)
    assert WorkspaceSpec(f"shop{S}", "Online-Shop", "Storefront and orders") in plan.specs(WorkspaceSpec)
    assert WorkspaceSpec(f"data{S}", "数据平台", "ETL and reports") in plan.specs(WorkspaceSpec)
    ws_members = set(plan.specs(MemberSpec, Category.workspace_members))
    assert MemberSpec(f"shop{S}", f"alice{S}", WorkspaceRole.admin) in ws_members  # the manager
    assert MemberSpec(f"data{S}", f"alice{S}", WorkspaceRole.self_provisioner) in ws_members
    assert MemberSpec(f"shop{S}", f"bob{S}", WorkspaceRole.viewer) in ws_members
    if edition == "4.x":  # <role>.<hash>, the 4.x name of a long workspace's role
        rnd = f"research-and-development-analytics-platform-team{S}"
        assert MemberSpec(rnd, f"alice{S}", WorkspaceRole.self_provisioner) in ws_members
    projects = {p.name: p for p in plan.specs(ProjectSpec)}
    assert projects[f"shop-web{S}"] == ProjectSpec(f"shop-web{S}", f"shop{S}", "Web-Front", "The public storefront",
                                                   f"alice{S}", "baseline")
    assert projects[f"etl{S}"].pod_security == "privileged"  # its log shipper mounts a host path
    shop_web = {i.name: i for i in plan.of(Category.projects)}[f"shop-web{S}"]
    assert "Services: 2 (1 with an alias)" in shop_web.detail
    p_members = set(plan.specs(MemberSpec, Category.project_members))
    assert MemberSpec(f"shop-web{S}", f"bob{S}", ProjectRole.operator) in p_members
    # 4.x: the stale 3.4 core binding (dave operator) and the core mirrors are not memberships
    assert MemberSpec(f"shop-web{S}", f"dave{S}", ProjectRole.viewer) in p_members
    reasons = {i.name: i.reason for i in plan.of(Category.projects)}
    assert f"ghost{S}" in reasons[f"orphan{S}"] and "DevOps" in reasons[f"pipelines{S}"]
    assert "unassigned" in reasons[f"scratch{S}"]
    if edition == "4.x":
        assert projects[f"shop-db{S}"].alias == "" and '"Orders and payments" left out' in reasons[f"shop-db{S}"]


@pytest.mark.parametrize("edition", EDITIONS)
def test_after_the_import_the_same_plan_creates_nothing(edition: str) -> None:
    first = _plan(edition)
    users = {s.username: s.email for s in first.specs(UserSpec)} | BEFORE.users
    after = Dockyard(
        users=users, emails={e: u for u, e in users.items()},
        workspaces=frozenset(s.name for s in first.specs(WorkspaceSpec)),
        projects={p.name: p.workspace for p in first.specs(ProjectSpec)},
        workspace_members={(m.scope, m.username): m.role.value for m in first.specs(MemberSpec, Category.workspace_members)},
        project_members={(m.scope, m.username): m.role.value for m in first.specs(MemberSpec, Category.project_members)})
    again = make_plan(snapshot(edition, tenancy(edition, S)), after)
    assert again.count(Status.create) == 0
    assert again.count(Status.exists) == first.count(Status.create)
    assert again.count(Status.skip) == first.count(Status.skip)
