"""KubeSphere 3.4 and 4.x clusters for the import's tests: the CRDs and a realistic tenancy
(tests/data/kubesphere/), put into the local control plane and taken out again, and what the import
must make of them."""

from __future__ import annotations

import secrets
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from app.domain.kubesphere_import import KubeSphere

DATA = Path(__file__).resolve().parent / "data" / "kubesphere"
EDITIONS = ("3.4", "4.x")


def suffix() -> str:
    return f"-{secrets.token_hex(3)}"


def crds(edition: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DATA / f"crds-{edition}.yaml").read_text()) if d]


def tenancy(edition: str, s: str) -> list[dict[str, Any]]:
    text = (DATA / f"tenancy-{edition}.yaml").read_text().replace("${S}", s)
    return [d for d in yaml.safe_load_all(text) if d]


def snapshot(edition: str, docs: list[dict[str, Any]]) -> KubeSphere:
    """What `read` would find in a cluster holding only `docs` (for the pure plan's tests)."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for d in docs:
        by[(d["kind"], d["apiVersion"].split("/")[0])].append(d)
    iam, rbac = "iam.kubesphere.io", "rbac.authorization.k8s.io"
    role_group = iam if edition == "4.x" else rbac
    templates = by[("WorkspaceTemplate", "tenant.kubesphere.io")]
    names = {t["metadata"]["name"] for t in templates}
    services: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for svc in by[("Service", "v1")]:
        services[svc["metadata"]["namespace"]].append(svc)
    workloads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in by[("DaemonSet", "apps")]:
        workloads[w["metadata"]["namespace"]].append(w)
    return KubeSphere(
        edition=edition, users=by[("User", iam)], global_roles=by[("GlobalRole", iam)],
        global_role_bindings=by[("GlobalRoleBinding", iam)], workspace_roles=by[("WorkspaceRole", iam)],
        workspace_role_bindings=by[("WorkspaceRoleBinding", iam)],
        workspaces=templates + [w for w in by[("Workspace", "tenant.kubesphere.io")] if w["metadata"]["name"] not in names],
        groups=by[("Group", iam)], group_bindings=by[("GroupBinding", iam)], namespaces=by[("Namespace", "v1")],
        roles=by[("Role", role_group)], role_bindings=by[("RoleBinding", role_group)], services=dict(services),
        workloads=dict(workloads))


def expected(edition: str, s: str) -> dict[str, dict[str, str]]:
    """category -> name -> status ("create", "exists" or "skip") the dry run must report for the fixture,
    when Dockyard already has a user carol<s> with another email and nothing else of it."""
    four = edition == "4.x"
    rnd = f"research-and-development-analytics-platform-team{s}"
    users = {f"admin{s}": "create", f"alice{s}": "create", f"bob{s}": "create", f"dave{s}": "create",
             f"carol{s}": "skip", **({f"erin{s}": "create"} if four else {})}
    workspaces = {"system-workspace": "skip", f"shop{s}": "create", f"data{s}": "create",
                  **({rnd: "create"} if four else {})}
    ws_members = {f"shop{s}/alice{s}": "create", f"shop{s}/bob{s}": "create", f"shop{s}/dave{s}": "create",
                  f"shop{s}/carol{s}": "skip", f"data{s}/bob{s}": "create", f"data{s}/alice{s}": "create",
                  **({f"data{s}/erin{s}": "create", f"{rnd}/bob{s}": "create", f"{rnd}/alice{s}": "create"}
                     if four else {})}
    projects = {f"shop-web{s}": "create", f"shop-db{s}": "create", f"etl{s}": "create", f"orphan{s}": "skip",
                f"pipelines{s}": "skip", f"scratch{s}": "skip"}
    p_members = {f"shop-web{s}/alice{s}": "create", f"shop-web{s}/bob{s}": "create",
                 f"shop-web{s}/dave{s}": "create", f"shop-web{s}/carol{s}": "skip",
                 f"shop-db{s}/alice{s}": "create", f"shop-db{s}/bob{s}": "create",
                 f"etl{s}/bob{s}": "create", f"etl{s}/alice{s}": "create"}
    roles = {f"bob{s}: users-manager": "skip", f"auditor{s}": "skip", "users-manager": "skip",
             f"shop{s}: shop{s}-auditor": "skip", f"shop{s}/alice{s}: shop{s}-auditor": "skip",
             f"shop-db{s}: dba": "skip", f"shop-db{s}/bob{s}: dba": "skip"}
    groups = {f"devs{s}-q8w4z": "skip", **({} if four else {f"shop{s}: devs{s}-shop{s}-regular-x7k2p": "skip"})}
    identities = {f"bob{s}": "skip", **({f"erin{s}": "skip"} if four else {})}
    return {"users": users, "identities": identities, "workspaces": workspaces, "workspace-members": ws_members,
            "projects": projects, "project-members": p_members, "roles": roles, "groups": groups}
